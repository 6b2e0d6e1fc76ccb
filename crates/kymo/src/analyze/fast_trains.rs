//! One fast train sorted into several units. A neuromyotonic discharge (brief: one motor
//! unit at 150–300 Hz for a few seconds, waning) has its 9–10 ms potentials overlapping
//! the next two or three, so each window shows a different mixture of neighbours, and the
//! sorter may cut the unit into pieces by that mixture and by the waning amplitude. Each
//! piece then fires irregularly (it holds every second or third beat), which the pattern
//! stage reads as unclassified activity or, several pieces together, as a cramp.
//!
//! The sorter may also cut a discharge by its waning amplitude: one piece holds the first
//! and last beats of each discharge, the other its middle, the two taking turns for a few
//! beats at each handover.
//!
//! The pieces give themselves away by rhythm: their potentials alternate or take turns,
//! never coincide, and together form one regular fast train. Two motor units that both
//! fire fast (a cramp, brief: many units at up to 150 Hz) do not: the union of two
//! independent trains is irregular, and their potentials coincide now and then. So two motor units (simple or
//! polyphasic) are merged when, over the time both fire, the union of their trains is fast
//! (median interval at most `1 / min_rate_hz`), regular (median CV2 at most
//! `max_union_cv2`) and either more regular than the more irregular piece (alternating
//! pieces) or made of runs of each piece (handing over: two regular units in antiphase
//! change at every beat instead), with hardly any two potentials closer than
//! `min_interval_ms`, and most of each piece's potentials lie inside that fast train.
//!
//! A piece may also hold another unit's potentials: a fasciculating unit of the same shape
//! as the discharge's waned beats, sorted together with them. Then only the piece's
//! potentials inside the train's discharges (fast runs of the union, see
//! `in_discharges`) join the train's unit; the rest, when there are at least
//! `min_left_outside` of them, stay a unit of their own. Whole pieces are merged first, so
//! that the train is complete when a piece's part inside it is judged.

use serde::{Deserialize, Serialize};

use super::complexes::Join;
use super::UnitReport;
use crate::pattern::stats::cv2_values;
use crate::pattern::PotentialInput;
use crate::sort::WaveformClass;
use crate::{Error, Result};

/// Merging the pieces of one fast train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FastTrainConfig {
    /// Look for pieces at all (default true).
    pub enabled: bool,
    /// Slowest union rate that is a fast train, Hz (default 100: neuromyotonic
    /// discharges run at 150–300 Hz, brief; below 100 Hz potentials rarely overlap and
    /// the sorter keeps a unit whole).
    pub min_rate_hz: f64,
    /// Most median CV2 of the union's intervals (default 0.3: a neuromyotonic train is
    /// regular; two independent trains interleave with CV2 near 0.5 and above).
    pub max_union_cv2: f64,
    /// The union's median CV2 must be below this share of the more irregular piece's
    /// (default 0.6: a piece holds beats picked by the mixture in their window, not by
    /// time, so at least one piece fires irregularly; two units firing regularly in
    /// antiphase are not taken for one).
    pub max_cv2_ratio: f64,
    /// Two potentials closer than this are two units firing, not one train, ms (default
    /// 2: the shortest neuromyotonic interval is 3.3 ms, brief).
    pub min_interval_ms: f64,
    /// Most share of the union's intervals below `min_interval_ms` (default 0.05: two
    /// independent trains at 100–160 Hz put 20–50 % of their union's intervals below 2 ms;
    /// the pieces of `mixed` seed 12's neuromyotonic unit, with a few beats detected twice
    /// in the overlapping potentials, 2.4 %, which 0.02 took for two units; kymo).
    pub max_close_share: f64,
    /// Fewest potentials of each piece inside the common span (default 10).
    pub min_potentials: usize,
    /// Least share of each piece's potentials that lie inside the fast union train
    /// (default 0.5, most of them: the pieces of `mixed`'s neuromyotonic unit lie 77–97 %
    /// inside, the stray potentials they also caught elsewhere making up the rest, while a
    /// myokymic unit firing beside the discharge lies 0 % inside; kymo).
    pub min_embedded_share: f64,
    /// Fewest potentials of a piece lying outside the fast train for them to stay a unit of
    /// their own, the piece's potentials inside the train joining the train's unit (default
    /// 5, as the sort's `split_min_rare_spikes`: five alike potentials away from a unit's
    /// firing are not chance; kymo: `mixed` seed 12, where a fasciculating unit of the
    /// discharge's shape also held 177 of its waning beats and kept 22 fasciculations
    /// outside it, and the 300-s `neuromyotonia` seed 12, where a piece of 5479 kept 3
    /// strays as false fasciculations with 3). Fewer go with the piece.
    pub min_left_outside: usize,
    /// Longest gap inside one discharge of the fast train, ms, when telling a piece's
    /// potentials inside the discharges from those elsewhere (default 250: kymo, `mixed`
    /// seed 26, whose pieces left gaps of up to 38 ms in the other's train, and the
    /// 300-s `neuromyotonia` seeds, where beats 90–160 ms apart around a discharge's ends
    /// were kept outside with 50 and read as fasciculations; fasciculations recur seconds
    /// apart, brief, so few fall this close to a discharge).
    pub max_gap_ms: f64,
}

impl Default for FastTrainConfig {
    fn default() -> Self {
        FastTrainConfig {
            enabled: true,
            min_rate_hz: 100.0,
            max_union_cv2: 0.3,
            max_cv2_ratio: 0.6,
            min_interval_ms: 2.0,
            max_close_share: 0.05,
            min_potentials: 10,
            min_embedded_share: 0.5,
            min_left_outside: 5,
            max_gap_ms: 250.0,
        }
    }
}

impl FastTrainConfig {
    pub(crate) fn check(&self) -> Result<()> {
        let ok = self.min_rate_hz.is_finite()
            && self.min_rate_hz > 0.0
            && self.min_rate_hz <= 1000.0
            && (0.0..=2.0).contains(&self.max_union_cv2)
            && (0.0..=1.0).contains(&self.max_cv2_ratio)
            && self.min_interval_ms >= 0.0
            && self.min_interval_ms <= 100.0
            && (0.0..=1.0).contains(&self.max_close_share)
            && (0.0..=1.0).contains(&self.min_embedded_share)
            && self.min_potentials >= 3
            && self.max_gap_ms > 0.0
            && self.max_gap_ms <= 10_000.0;
        if ok {
            Ok(())
        } else {
            Err(Error::config(format!(
                "analyze: fast_trains settings {self:?} are out of range (min_rate_hz in (0, 1000], max_union_cv2 in [0, 2], max_cv2_ratio, max_close_share and min_embedded_share in [0, 1], min_interval_ms in [0, 100], min_potentials ≥ 3, max_gap_ms in (0, 10000])"
            )))
        }
    }
}

/// Median CV2 (`2·|I₂ − I₁| / (I₂ + I₁)` of consecutive intervals) of sorted times, and
/// the median interval; `None` below 3 intervals.
pub(super) fn median_cv2(t: &[f64]) -> Option<(f64, f64)> {
    if t.len() < 4 {
        return None;
    }
    let iv: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let mut cv2 = cv2_values(&iv);
    if cv2.is_empty() {
        return None;
    }
    let mut sorted = iv;
    sorted.sort_by(f64::total_cmp);
    cv2.sort_by(f64::total_cmp);
    Some((cv2[cv2.len() / 2], sorted[sorted.len() / 2]))
}

/// Whether trains `a` and `b` (sorted times, s) are pieces of one fast train, and if so
/// the potentials of `b` that lie inside it (sorted): all of `b` for a plain piece, or a
/// part when `b` also holds potentials of another unit elsewhere (a fasciculating unit of
/// the same shape as the waning discharge's smaller beats, which the sorter put together).
fn pieces_of_one_train(a: &[f64], b: &[f64], cfg: &FastTrainConfig) -> Option<Vec<f64>> {
    let (&a0, &b0, &a1, &b1) = (a.first()?, b.first()?, a.last()?, b.last()?);
    let (from, to) = (a0.max(b0), a1.min(b1));
    if from >= to {
        return None;
    }
    let inside = |t: &[f64]| -> Vec<f64> {
        t.iter()
            .copied()
            .filter(|&x| (from..=to).contains(&x))
            .collect()
    };
    let (whole_a, whole_b) = (a, b);
    let (a, b) = (inside(a), inside(b));
    if a.len() < cfg.min_potentials || b.len() < cfg.min_potentials {
        return None;
    }
    let labelled = labelled_union(&a, &b);
    let union: Vec<f64> = labelled.iter().map(|p| p.0).collect();
    // Pieces that take turns in runs (the waning discharge's first and last beats one
    // piece, its middle the other) rather than beat by beat.
    let switches = labelled.windows(2).filter(|w| w[0].1 != w[1].1).count();
    let handover = (switches as f64) <= MAX_HANDOVER_SWITCHES * a.len().min(b.len()) as f64;
    let close = union
        .windows(2)
        .filter(|w| w[1] - w[0] < cfg.min_interval_ms * 1e-3)
        .count();
    if close as f64 > cfg.max_close_share * (union.len() - 1) as f64 {
        return None;
    }
    let (cu, iu) = median_cv2(&union)?;
    let (ca, _) = median_cv2(&a)?;
    let (cb, _) = median_cv2(&b)?;
    if !(iu * cfg.min_rate_hz <= 1.0
        && cu <= cfg.max_union_cv2
        && (handover || cu <= cfg.max_cv2_ratio * ca.max(cb)))
    {
        return None;
    }
    // Both pieces live inside the fast train: a unit that fires elsewhere and only now and
    // then during it (a myokymic unit beside a neuromyotonic discharge) is no piece.
    let mostly_inside = |piece: &[f64]| {
        let inside = piece
            .iter()
            .filter(|&&x| {
                let k = union.partition_point(|&u| u < x);
                let before = k.checked_sub(1).map(|j| x - union[j]);
                let after = union.get(k + 1).map(|&u| u - x);
                before
                    .into_iter()
                    .chain(after)
                    .all(|d| d <= EMBEDDED_INTERVALS * iu)
            })
            .count();
        inside as f64 >= cfg.min_embedded_share * piece.len() as f64
    };
    (mostly_inside(whole_a) && mostly_inside(whole_b)).then(|| in_discharges(whole_a, whole_b, cfg))
}

/// The potentials of `b` (sorted) that fall in a discharge of the fast train: a run of the
/// union of both trains with no gap longer than `cfg.max_gap_ms`, of at least
/// `cfg.min_potentials` potentials, whose median interval is that of a fast train (at most
/// `1 / cfg.min_rate_hz`). A waning discharge's piece also holds its sparser beats, at its
/// ends and where the pieces hand over (kymo: `mixed` seed 26, a piece's beats up to 38 ms
/// from the other's), which the stricter embedding test leaves out; a piece may also hold
/// whole discharges of its own. Potentials in no such run (a fasciculation seconds away, a
/// complex repetitive discharge below 100 Hz) are not the train's.
fn in_discharges(a: &[f64], b: &[f64], cfg: &FastTrainConfig) -> Vec<f64> {
    let union = labelled_union(a, b);
    let gap = cfg.max_gap_ms * 1e-3;
    let mut moved = Vec::new();
    let mut start = 0;
    for end in 1..=union.len() {
        if end < union.len() && union[end].0 - union[end - 1].0 <= gap {
            continue;
        }
        let run = &union[start..end];
        let fast = run.len() >= cfg.min_potentials && {
            let mut iv: Vec<f64> = run.windows(2).map(|w| w[1].0 - w[0].0).collect();
            iv.sort_by(f64::total_cmp);
            iv[iv.len() / 2] * cfg.min_rate_hz <= 1.0
        };
        if fast {
            moved.extend(run.iter().filter(|p| !p.1).map(|p| p.0));
        }
        start = end;
    }
    moved
}

/// The potentials of `a` and `b` in time order, each marked `true` when it is `a`'s.
fn labelled_union(a: &[f64], b: &[f64]) -> Vec<(f64, bool)> {
    let mut union: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    union.sort_by(|x, y| x.0.total_cmp(&y.0));
    union
}

/// Most changes from one piece to the other along the union train, per potential of the
/// smaller piece, for pieces that hand over in runs rather than alternate beat by beat
/// (kymo: two regular units firing in antiphase change at every beat, two changes per
/// potential of the smaller; a simulated neuromyotonic unit cut by its waning amplitude
/// into a start-and-end piece and a middle piece changed 0.38 per potential, the pieces
/// taking turns for a few beats at each handover).
const MAX_HANDOVER_SWITCHES: f64 = 1.0;

/// A potential lies inside the union train when both its intervals there are at most this
/// many of the union's median interval (one missed beat either side).
const EMBEDDED_INTERVALS: f64 = 2.5;

/// Merges motor units that are pieces of one fast train (see the module docs) into the
/// piece with the most potentials; returns a sentence per merge.
pub(crate) fn merge_pieces(
    units: &mut Vec<UnitReport>,
    potentials: &mut [PotentialInput],
    cfg: &FastTrainConfig,
) -> Vec<String> {
    if !cfg.enabled {
        return Vec::new();
    }
    // Motor unit potentials, simple or polyphasic (a neuromyotonic discharge may come from a
    // polyphasic unit, and its pieces then measure as complex).
    let motor = |u: &UnitReport| {
        matches!(
            u.measured.class,
            WaveformClass::MotorUnit | WaveformClass::Complex
        )
    };
    // Whole pieces first, then pieces that give up only their beats inside the train: a
    // piece's beats lie inside the train's discharges only once the train holds all its
    // other pieces (kymo: `neuromyotonia` seed 7202 at 20 dB, where a piece split first,
    // against a train still missing two pieces, left five of its beats as fasciculations).
    let mut notes = Vec::new();
    for partial in [false, true] {
        notes.extend(super::complexes::merge_pairs(
            units,
            potentials,
            |units, t, a, b| {
                if !(t[a].len() >= t[b].len() && motor(&units[a]) && motor(&units[b])) {
                    return None;
                }
                // A join that moves nothing is none (and would end `merge_pairs` early).
                let inside = pieces_of_one_train(&t[a], &t[b], cfg).filter(|v| !v.is_empty())?;
                // What lies outside the train stays a unit of its own only when it is
                // enough to be one; a few strays go with the piece.
                let outside = t[b].len() - inside.len();
                if outside < cfg.min_left_outside.max(1) {
                    Some(Join::All)
                } else if partial {
                    Some(Join::Only(inside))
                } else {
                    None
                }
            },
            |ida, idb, moved, left| {
                let why = format!(
                    "together fire one regular train faster than {:.0} Hz (pieces of one unit that the sorter told apart by its overlapping or waning potentials)",
                    cfg.min_rate_hz
                );
                if left == 0 {
                    format!("units {ida} and {idb} {why}: reported as unit {ida}")
                } else {
                    format!(
                        "units {ida} and {moved} potentials of unit {idb} {why}: reported as unit {ida}; unit {idb} keeps its {left} potentials outside that train"
                    )
                }
            },
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A regular train at `hz` from `t0` for `n` beats, with a small deterministic jitter.
    fn train(t0: f64, hz: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|k| t0 + k as f64 / hz + 2e-5 * ((k * 7919 % 13) as f64 - 6.0) / 6.0)
            .collect()
    }

    #[test]
    fn alternating_pieces_of_a_fast_train_are_one_train() {
        let whole = train(1.0, 250.0, 300);
        // Beats dealt to two pieces by a pseudo-random rule, as the mixture of neighbours
        // in each window would.
        let to_a = |k: usize| (k * 7919 + 17) % 11 < 4;
        let piece = |want: bool| -> Vec<f64> {
            whole
                .iter()
                .enumerate()
                .filter(|&(k, _)| to_a(k) == want)
                .map(|(_, &x)| x)
                .collect()
        };
        let (a, b) = (piece(true), piece(false));
        let cfg = FastTrainConfig::default();
        assert!(pieces_of_one_train(&b, &a, &cfg).is_some());
        // A unit bursting over ten seconds (pairs 24 ms apart every 200 ms), its potentials
        // halfway between the beats of a 125 Hz train lasting 1.2 s, is not a piece of it:
        // few of its potentials fall inside the fast train.
        let fast = train(1.0, 125.0, 150);
        let slow: Vec<f64> = (0..100)
            .map(|k| 0.004 + (k / 2) as f64 * 0.2 + (k % 2) as f64 * 0.024)
            .collect();
        assert!(pieces_of_one_train(&fast, &slow, &cfg).is_none());
    }

    #[test]
    fn a_piece_gives_up_only_its_beats_inside_the_discharges() {
        // A 250 Hz discharge of 1.2 s cut into two pieces; the smaller piece also holds 20
        // fasciculations of a unit of the same shape, 0.7 s apart after the discharge.
        let whole = train(1.0, 250.0, 300);
        let to_a = |k: usize| (k * 7919 + 17) % 11 < 4;
        let (mut small, mut large) = (Vec::new(), Vec::new());
        for (k, &x) in whole.iter().enumerate() {
            if to_a(k) {
                small.push(x)
            } else {
                large.push(x)
            }
        }
        let beats = small.clone();
        small.extend((0..20).map(|k| 3.0 + 0.7 * k as f64));
        let cfg = FastTrainConfig::default();
        assert_eq!(pieces_of_one_train(&large, &small, &cfg), Some(beats));
        // A fasciculation 0.6 s after the discharge stays outside it too; one 0.1 s after
        // its last beat cannot be told from the discharge by timing and goes with it.
        let mut near = small.clone();
        near.extend([2.3, 2.8]);
        near.sort_by(f64::total_cmp);
        let moved = pieces_of_one_train(&large, &near, &cfg).unwrap();
        assert!(moved.contains(&2.3) && !moved.contains(&2.8));
        assert_eq!(moved.len(), small.len() - 20 + 1);
    }

    #[test]
    fn two_fast_units_firing_together_are_not_one_train() {
        // Two independent regular trains (a cramp's units) at 120 and 155 Hz.
        let a = train(1.0, 120.0, 240);
        let b = train(1.0013, 155.0, 310);
        let cfg = FastTrainConfig::default();
        assert!(pieces_of_one_train(&b, &a, &cfg).is_none());
        // A slow train's pieces are left alone: below 100 Hz the sorter keeps units whole.
        let slow = train(1.0, 40.0, 200);
        let a: Vec<f64> = slow.iter().copied().step_by(2).collect();
        let b: Vec<f64> = slow.iter().copied().skip(1).step_by(2).collect();
        assert!(pieces_of_one_train(&a, &b, &cfg).is_none());
    }
    /// A train at about `hz` from `t0` for `n` beats whose intervals vary by up to ±`jitter`
    /// (relative) from a fixed pseudo-random sequence.
    fn jittered(t0: f64, hz: f64, n: usize, jitter: f64, seed: u64) -> Vec<f64> {
        let mut s = seed;
        let mut x = t0;
        (0..n)
            .map(|_| {
                let at = x;
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                x += (1.0 + jitter * u) / hz;
                at
            })
            .collect()
    }

    #[test]
    fn pieces_that_take_turns_in_each_discharge_are_one_train() {
        // Ten discharges of 1.5 s at 220 Hz (intervals ±5 %), 2 s apart; the sorter cut
        // each by its waning amplitude: the first and last 60 beats are one piece, the
        // middle the other, the two alternating for six beats at each handover. Each piece
        // is as regular as the whole.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for d in 0..10 {
            let beats = jittered(1.0 + 2.0 * d as f64, 220.0, 330, 0.05, d + 1);
            for (k, &x) in beats.iter().enumerate() {
                let edge = !(60..270).contains(&k);
                let handover = (57..63).contains(&k) || (267..273).contains(&k);
                if edge != (handover && k % 2 == 0) {
                    a.push(x);
                } else {
                    b.push(x);
                }
            }
        }
        let cfg = FastTrainConfig::default();
        assert!(pieces_of_one_train(&b, &a, &cfg).is_some());
        // Two regular units at 110 Hz firing in antiphase make a regular 220 Hz union too,
        // but change at every beat: two units, not one train.
        let a = jittered(1.0, 110.0, 300, 0.05, 7);
        let b: Vec<f64> = a.iter().map(|x| x + 0.5 / 110.0).collect();
        assert!(pieces_of_one_train(&a, &b, &cfg).is_none());
    }
}
