//! Interleaved regular trains in one sorted unit. Fibrillation potentials and positive
//! sharp waves of different muscle fibres look alike (brief: brief bi/triphasic spikes of
//! 20–200 µV, or a sharp positive deflection and a slow negative phase), so a sorter that
//! judges by shape alone may put two fibres in one unit. Each fibre fires regularly (brief:
//! "regular, 0.5–15 Hz, may slow gradually"), so the merged unit's train is the
//! superposition of regular trains and looks irregular — which is what the pattern stage
//! would then report. An EMG reader separates them the same way, by rhythm ("two
//! fibrillation potentials firing at different rates").
//!
//! For every single-fibre or positive-sharp-wave unit whose train is not regular itself,
//! this stage extracts chains of potentials that follow one slowly drifting interval
//! (within `tolerance`, allowing `max_missed` missed beats in a row); every chain of at
//! least `min_chain` potentials becomes a unit of its own, with the template of the unit
//! it came from. Potentials in no chain stay with the largest chain. Motor units are left
//! alone: their voluntary or myokymic firing is not regular, and two motor units rarely
//! share a template.

use serde::{Deserialize, Serialize};

use super::complexes::Join;
use super::UnitReport;
use crate::pattern::PotentialInput;
use crate::sort::WaveformClass;
use crate::{Error, Result};

/// Splitting units into interleaved regular trains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InterleaveConfig {
    /// Look for interleaved trains at all (default true).
    pub enabled: bool,
    /// Most relative deviation of an interval in a chain from the chain's running interval
    /// (default 0.05: fibrillation intervals vary by a few per cent — 2.5σ at an interval
    /// CV of 0.02 — and the slowing the brief mentions is gradual, which the running
    /// interval follows; kymo).
    pub tolerance: f64,
    /// Fewest potentials of a chain (default 10: a regular run of 10 at ±10 % does not
    /// arise by chance from other fibres' potentials; kymo).
    pub min_chain: usize,
    /// Most missed beats in a row inside a chain (default 2).
    pub max_missed: usize,
    /// Slowest and fastest chain rate, Hz (default 0.5–20: the brief's fibrillation rates,
    /// 0.5–15 Hz, with a margin).
    pub rate_hz: [f64; 2],
    /// A unit whose own interval CV is below this is regular already and left whole
    /// (default 0.2).
    pub regular_cv: f64,
    /// Least share of the unit's potentials that the chains must hold for a split (default
    /// 0.5: fibres merged into one unit each fire regularly and are sorted with a recall of
    /// about 0.9 at 10 dB, so their chains hold nearly every potential; when most
    /// potentials fall in no chain the unit is not a sum of regular trains — a myotonic
    /// discharge's waxing and waning rate, a dense motor unit — and its few chains are
    /// runs that line up by chance; kymo).
    pub min_chained_share: f64,
    /// Merge into a fibre's unit a smaller unit whose potentials sit on the missing beats
    /// of the fibre's regular train (default true; see [`merge_gap_fillers`]).
    pub fill_gaps: bool,
}

impl Default for InterleaveConfig {
    fn default() -> Self {
        InterleaveConfig {
            enabled: true,
            tolerance: 0.05,
            min_chain: 10,
            max_missed: 2,
            rate_hz: [0.5, 20.0],
            regular_cv: 0.2,
            min_chained_share: 0.5,
            fill_gaps: true,
        }
    }
}

impl InterleaveConfig {
    pub(crate) fn check(&self) -> Result<()> {
        let ok = self.tolerance.is_finite()
            && self.tolerance > 0.0
            && self.tolerance < 0.5
            && self.min_chain >= 3
            && self.max_missed <= 10
            && self.rate_hz[0] > 0.0
            && self.rate_hz[0] < self.rate_hz[1]
            && self.rate_hz[1] <= 1000.0
            && self.regular_cv.is_finite()
            && self.regular_cv >= 0.0
            && (0.0..=1.0).contains(&self.min_chained_share);
        if ok {
            Ok(())
        } else {
            Err(Error::config(format!(
                "analyze: interleave settings {self:?} are out of range (tolerance in (0, 0.5), min_chain ≥ 3, max_missed ≤ 10, 0 < rate_hz[0] < rate_hz[1] ≤ 1000, regular_cv ≥ 0, min_chained_share in [0, 1])"
            )))
        }
    }
}

/// Least share of a chain's beats that hold a potential (kymo: sorting recall of single
/// fibres at 10 dB is about 0.9; random hits among other fibres' potentials, 0.2–0.4).
const MIN_HIT_SHARE: f64 = 0.8;

/// Most potentials a chain's search window (±`tolerance` of the period) may expect by
/// chance from the unit's overall rate (kymo: 0.35 makes a chance hit at most 30 % likely,
/// so 10 hits in 12 beats happen by chance with probability below 10⁻⁴).
const MAX_CHANCE_HITS: f64 = 0.35;

/// Interval CV of sorted times (None below 3 intervals).
fn interval_cv(t: &[f64]) -> Option<f64> {
    if t.len() < 4 {
        return None;
    }
    let iv: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let m = iv.iter().sum::<f64>() / iv.len() as f64;
    if m <= 0.0 {
        return None;
    }
    let v = iv.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / iv.len() as f64;
    Some(v.sqrt() / m)
}

/// The most common interval between any two potentials up to the slowest rate's period,
/// on a log grid of `tolerance / 2` steps; `None` when no bin holds `min_chain` pairs.
fn dominant_period(t: &[f64], cfg: &InterleaveConfig) -> Option<f64> {
    let (lo, hi) = (1.0 / cfg.rate_hz[1], 1.0 / cfg.rate_hz[0]);
    let step = (1.0 + cfg.tolerance / 2.0).ln();
    let bins = ((hi / lo).ln() / step).ceil() as usize + 1;
    let mut hist = vec![0usize; bins];
    for (i, &a) in t.iter().enumerate() {
        for &b in &t[i + 1..] {
            let d = b - a;
            if d > hi {
                break;
            }
            if d >= lo {
                hist[((d / lo).ln() / step) as usize] += 1;
            }
        }
    }
    // Counts over three neighbouring bins, so a period on a bin edge is not split, per
    // second of lag: unrelated potentials give a flat density, while a log bin widens in
    // proportion to its lag.
    let centre = |k: usize| lo * ((k as f64 + 0.5) * step).exp();
    let count = |k: usize| {
        hist[k.saturating_sub(1)..(k + 2).min(bins)]
            .iter()
            .sum::<usize>()
    };
    let score = |k: usize| count(k) as f64 / centre(k);
    let best = (0..bins).max_by(|&a, &b| score(a).total_cmp(&score(b)))?;
    if count(best) < cfg.min_chain {
        return None;
    }
    // A train's multiples (2T, 3T) score nearly as high as T; prefer the shortest period
    // that scores at least half the best.
    let first = (0..=best).find(|&k| 2.0 * score(k) >= score(best) && count(k) >= cfg.min_chain)?;
    Some(centre(first))
}

/// Extracts chains (index lists into `t`) of period about `period`, longest first.
fn chains(t: &[f64], period: f64, cfg: &InterleaveConfig) -> Vec<Vec<usize>> {
    let mut used = vec![false; t.len()];
    let mut out = Vec::new();
    for start in 0..t.len() {
        if used[start] {
            continue;
        }
        let mut chain = vec![start];
        let (mut last, mut iv, mut missed) = (t[start], period, 0usize);
        let mut skipped = 0usize;
        let mut expected = last + iv;
        loop {
            let tol = cfg.tolerance * iv;
            let a = t.partition_point(|&x| x < expected - tol);
            let b = t.partition_point(|&x| x <= expected + tol);
            let hit = (a..b)
                .filter(|&k| !used[k] && k != start)
                .min_by(|&x, &y| (t[x] - expected).abs().total_cmp(&(t[y] - expected).abs()));
            match hit {
                Some(k) => {
                    let beats = missed as f64 + 1.0;
                    // Follow a gradual drift of the interval.
                    iv = 0.8 * iv + 0.2 * (t[k] - last) / beats;
                    last = t[k];
                    expected = last + iv;
                    skipped += missed;
                    missed = 0;
                    chain.push(k);
                }
                None if missed < cfg.max_missed => {
                    missed += 1;
                    expected += iv;
                }
                None => break,
            }
            if a >= t.len() {
                break;
            }
        }
        // Most beats must be hit: a run of lucky hits among missed beats is what other
        // fibres' potentials give by chance.
        let hit_share = chain.len() as f64 / (chain.len() + skipped) as f64;
        if chain.len() >= cfg.min_chain
            && hit_share >= MIN_HIT_SHARE
            && !subharmonic(t, &chain, cfg)
        {
            for &k in &chain {
                used[k] = true;
            }
            out.push(chain);
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.len()));
    out
}

/// Whether a chain steps over a potential of the unit halfway between most of its beats:
/// then it is every other potential of one faster train (a myotonic discharge of one
/// fibre at 20–80 Hz, brief, read at the fibrillation rates' periods), not a fibre of its
/// own.
fn subharmonic(t: &[f64], chain: &[usize], cfg: &InterleaveConfig) -> bool {
    let halves = chain
        .windows(2)
        .filter(|w| {
            let (a, b) = (t[w[0]], t[w[1]]);
            let (mid, tol) = ((a + b) / 2.0, cfg.tolerance * (b - a));
            let k = t.partition_point(|&x| x < mid - tol);
            t.get(k).is_some_and(|&x| x <= mid + tol)
        })
        .count();
    2 * halves >= chain.len() - 1
}

/// Joins chains (index lists into `t`) that follow one another in time: one fibre whose
/// chain broke (a run of missed beats) and started again. A chain joins an earlier group
/// that ended before it starts when both run at about the same interval overall, or when
/// its first intervals match the group's last ones: the brief's fibrillation trains "may
/// slow gradually", and over minutes a slowing train's pieces differ in overall rate (kymo:
/// a simulated positive sharp wave slowing from 6.5 to 1.8 Hz over 300 s broke into seven
/// chains, each reported as a fibre of its own) while each break is a few seconds at one
/// rate.
fn join_sequential(
    mut found: Vec<Vec<usize>>,
    t: &[f64],
    cfg: &InterleaveConfig,
) -> Vec<Vec<usize>> {
    let median = |mut iv: Vec<f64>| {
        iv.sort_by(f64::total_cmp);
        iv[iv.len() / 2]
    };
    let intervals = |c: &[usize]| c.windows(2).map(|w| t[w[1]] - t[w[0]]).collect::<Vec<_>>();
    let median_iv = |c: &[usize]| median(intervals(c));
    // The median of a chain's first (or last) `JUNCTION_INTERVALS` intervals: its rate where
    // it meets the neighbouring piece.
    let first_iv = |c: &[usize]| {
        let iv = intervals(c);
        median(iv[..iv.len().min(JUNCTION_INTERVALS)].to_vec())
    };
    let last_iv = |c: &[usize]| {
        let iv = intervals(c);
        median(iv[iv.len().saturating_sub(JUNCTION_INTERVALS)..].to_vec())
    };
    found.sort_by(|a, b| t[a[0]].total_cmp(&t[b[0]]));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for c in found {
        let (p, p_first) = (median_iv(&c), first_iv(&c));
        let start = t[c[0]];
        let mismatch = |g: &Vec<usize>| {
            let overall = (median_iv(g) - p).abs() / p;
            let junction = (last_iv(g) - p_first).abs() / p_first;
            overall.min(junction)
        };
        let best = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| t[g[g.len() - 1]] < start)
            .map(|(i, g)| (i, mismatch(g)))
            .filter(|&(_, d)| d <= 2.0 * cfg.tolerance)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, _)) => groups[i].extend(c),
            None => groups.push(c),
        }
    }
    groups.sort_by_key(|c| std::cmp::Reverse(c.len()));
    groups
}

/// Intervals at each end of a chain that give its rate where it meets the next piece
/// (kymo: enough for a median robust to one missed beat, few enough to be local).
const JUNCTION_INTERVALS: usize = 5;

/// The regular trains (index lists into `t`, the unit's sorted potential times, largest
/// first) that a unit splits into, and how many potentials fall in none; `None` when it
/// stays whole: regular already, fewer than two trains, or most potentials in no train.
fn interleaved_trains(t: &[f64], cfg: &InterleaveConfig) -> Option<(Vec<Vec<usize>>, usize)> {
    let span = t[t.len() - 1] - t[0];
    if interval_cv(t).is_none_or(|cv| cv < cfg.regular_cv) {
        return None;
    }
    let mut found: Vec<Vec<usize>> = Vec::new();
    let mut left: Vec<usize> = (0..t.len()).collect();
    // Periods one after another: the dominant train first, then what is left.
    while left.len() >= cfg.min_chain {
        let lt: Vec<f64> = left.iter().map(|&k| t[k]).collect();
        let Some(period) = dominant_period(&lt, cfg) else {
            break;
        };
        // A search window that other potentials fill by chance proves nothing.
        if t.len() as f64 / span.max(f64::MIN_POSITIVE) * 2.0 * cfg.tolerance * period
            > MAX_CHANCE_HITS
        {
            break;
        }
        let cs = chains(&lt, period, cfg);
        if cs.is_empty() {
            break;
        }
        let mut taken = vec![false; lt.len()];
        for c in cs {
            for &k in &c {
                taken[k] = true;
            }
            found.push(c.iter().map(|&k| left[k]).collect());
        }
        left = left
            .iter()
            .zip(&taken)
            .filter(|(_, &tk)| !tk)
            .map(|(&k, _)| k)
            .collect();
    }
    let found = join_sequential(found, t, cfg);
    let mostly_chained = left.len() as f64 <= (1.0 - cfg.min_chained_share) * t.len() as f64;
    (found.len() >= 2 && mostly_chained).then_some((found, left.len()))
}

/// Splits single-fibre and positive-sharp-wave units of `units` whose potentials form
/// several interleaved regular trains (see the module docs); new units get ids after the
/// largest existing one. Returns a sentence per split unit.
pub(crate) fn split_interleaved(
    units: &mut Vec<UnitReport>,
    potentials: &mut [PotentialInput],
    cfg: &InterleaveConfig,
) -> Vec<String> {
    let mut notes = Vec::new();
    if !cfg.enabled {
        return notes;
    }
    let mut next_id = units.iter().map(|u| u.id() + 1).max().unwrap_or(0);
    let mut added = Vec::new();
    for u in units.iter_mut() {
        if !matches!(
            u.measured.class,
            WaveformClass::SingleFibre | WaveformClass::PositiveSharpWave
        ) {
            continue;
        }
        let id = u.id();
        let idx: Vec<usize> = (0..potentials.len())
            .filter(|&i| potentials[i].unit == id)
            .collect();
        if idx.len() < 2 * cfg.min_chain {
            continue;
        }
        let t: Vec<f64> = idx.iter().map(|&i| potentials[i].time_s).collect();
        let Some((found, n_left)) = interleaved_trains(&t, cfg) else {
            continue;
        };
        let sizes: Vec<String> = found.iter().map(|c| c.len().to_string()).collect();
        notes.push(format!(
            "unit {id} ({} potentials) held {} interleaved regular trains ({} potentials; {} in none): split into units {id} and {}",
            t.len(),
            found.len(),
            sizes.join(", "),
            n_left,
            (next_id..next_id + found.len() as u32 - 1)
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut first_count = t.len();
        for c in &found[1..] {
            for &k in c {
                potentials[idx[k]].unit = next_id;
            }
            first_count -= c.len();
            let mut nu = u.clone();
            nu.measured.id = next_id;
            nu.n_potentials = c.len();
            added.push(nu);
            next_id += 1;
        }
        u.n_potentials = first_count;
    }
    units.extend(added);
    notes
}

/// Whether the potentials of `b` (sorted times) fill gaps of the regular train `a`: `a`
/// regular (median CV2 at most [`MAX_FILL_TRAIN_CV2`]), and at least
/// [`MIN_FILL_POTENTIALS`] of `b`, nearly all of them, inside `a`'s span and on its beats:
/// in the union of the two trains, each is a whole number of `a`'s periods (one to
/// `max_missed` + 1, within `tolerance` per period) from the potentials before and after it.
fn fills_gaps(a: &[f64], b: &[f64], cfg: &InterleaveConfig) -> bool {
    if b.len() < MIN_FILL_POTENTIALS || a.len() < 2 * b.len() {
        return false;
    }
    if super::fast_trains::median_cv2(a).is_none_or(|(cv2, _)| cv2 > MAX_FILL_TRAIN_CV2) {
        return false;
    }
    let iv: Vec<f64> = a.windows(2).map(|w| w[1] - w[0]).collect();
    let mut union: Vec<f64> = a.iter().chain(b).copied().collect();
    union.sort_by(f64::total_cmp);
    let most_beats = (cfg.max_missed + 1) as f64;
    let on_beats = |d: f64, period: f64| {
        let n = (d / period).round();
        n >= 1.0 && n <= most_beats && (d / period - n).abs() <= cfg.tolerance * n
    };
    let fitting = b
        .iter()
        .filter(|&&x| {
            let k = a.partition_point(|&v| v < x);
            if k == 0 || k >= a.len() {
                return false;
            }
            // `a`'s period around x: a low quantile of its nearby intervals, which the
            // gaps `b` fills lengthen.
            let mut local: Vec<f64> = iv[k.saturating_sub(FILL_PERIOD_INTERVALS)
                ..(k + FILL_PERIOD_INTERVALS).min(iv.len())]
                .to_vec();
            local.sort_by(f64::total_cmp);
            let period = local[local.len() / 4];
            let j = union.partition_point(|&v| v < x);
            let (Some(&before), Some(&after)) =
                (j.checked_sub(1).map(|i| &union[i]), union.get(j + 1))
            else {
                return false;
            };
            on_beats(x - before, period) && on_beats(after - x, period)
        })
        .count();
    fitting as f64 >= MIN_FILL_SHARE * b.len() as f64
}

/// Intervals of the filled train on each side of a potential that give its period there
/// (kymo).
const FILL_PERIOD_INTERVALS: usize = 10;

/// Fewest potentials of a unit that fills another's gaps (kymo: below this a few
/// potentials can sit on the beats of a regular train by chance).
const MIN_FILL_POTENTIALS: usize = 5;

/// Least share of the unit's potentials that must sit on beats missing from the other
/// unit's train (kymo).
const MIN_FILL_SHARE: f64 = 0.9;

/// Most median CV2 of the train whose gaps are filled: a fibre's regular firing (brief:
/// fibrillation trains are regular; the simulator's jitter is 2 %; kymo).
const MAX_FILL_TRAIN_CV2: f64 = 0.1;

/// Merges into a single-fibre or positive-sharp-wave unit any smaller unit whose
/// potentials fill the gaps of its regular train, on the train's beats: the same fibre,
/// some of whose potentials the sorter gave another template (a positive sharp wave cut
/// short and measured as a motor unit potential; kymo: fibrillations seed 33, where such a
/// piece of 27 potentials read as myokymic bursts and fasciculations). Returns a sentence
/// per merge.
pub(crate) fn merge_gap_fillers(
    units: &mut Vec<UnitReport>,
    potentials: &mut [PotentialInput],
    cfg: &InterleaveConfig,
) -> Vec<String> {
    if !(cfg.enabled && cfg.fill_gaps) {
        return Vec::new();
    }
    let fibre = |u: &UnitReport| {
        matches!(
            u.measured.class,
            WaveformClass::SingleFibre | WaveformClass::PositiveSharpWave
        )
    };
    super::complexes::merge_pairs(
        units,
        potentials,
        |units, t, a, b| (fibre(&units[a]) && fills_gaps(&t[a], &t[b], cfg)).then_some(Join::All),
        |ida, idb, n_b, _| {
            format!(
                "unit {idb} ({n_b} potentials) fires on the missing beats of unit {ida}'s regular train: one fibre, reported as unit {ida}"
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regular(start: f64, period: f64, n: usize, wobble: f64) -> Vec<f64> {
        (0..n)
            .map(|i| start + i as f64 * period + wobble * ((i * 7919 % 13) as f64 / 13.0 - 0.5))
            .collect()
    }

    /// Lengths of the chains found in `t` with the default settings.
    fn chain_lengths(t: &[f64]) -> Vec<usize> {
        let cfg = InterleaveConfig::default();
        dominant_period(t, &cfg)
            .map(|p| chains(t, p, &cfg).iter().map(Vec::len).collect())
            .unwrap_or_default()
    }

    #[test]
    fn two_interleaved_fibres_are_two_chains() {
        let mut t = regular(0.013, 0.2, 100, 0.004);
        t.extend(regular(0.07, 0.13, 150, 0.003));
        t.sort_by(f64::total_cmp);
        let cfg = InterleaveConfig::default();
        let p = dominant_period(&t, &cfg).unwrap();
        assert!((p - 0.13).abs() < 0.01 || (p - 0.2).abs() < 0.015, "{p}");
        let cs = chains(&t, p, &cfg);
        assert!(!cs.is_empty());
        assert!(cs[0].len() >= 90, "{}", cs[0].len());
    }

    /// `n` times with Poisson-like intervals of mean `mean_s`, from a fixed pseudo-random
    /// sequence.
    fn irregular(n: usize, mean_s: f64) -> Vec<f64> {
        let mut x = 0.0;
        let mut s = 12345u64;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = ((s >> 11) as f64 / (1u64 << 53) as f64).max(1e-9);
                x += -mean_s * u.ln();
                x
            })
            .collect()
    }

    #[test]
    fn an_irregular_train_has_no_chain() {
        let found = chain_lengths(&irregular(300, 0.1));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn two_fibres_merged_in_one_unit_are_split() {
        let mut t = regular(0.013, 0.2, 250, 0.004);
        t.extend(regular(0.07, 0.13, 380, 0.003));
        t.sort_by(f64::total_cmp);
        let (trains, left) = interleaved_trains(&t, &InterleaveConfig::default()).unwrap();
        let sizes: Vec<usize> = trains.iter().map(Vec::len).collect();
        assert!(
            sizes.len() == 2 && sizes[0] >= 340 && sizes[1] >= 220,
            "{sizes:?}"
        );
        assert!(left <= 70, "{left}");
    }

    #[test]
    fn a_few_regular_runs_do_not_split_an_irregular_unit() {
        // A unit firing irregularly for a minute (a myotonic fibre's waxing and waning
        // discharges, a motor unit) in which two short runs happen to be regular: most of
        // its potentials are in no train, so the runs are no fibres of their own.
        let mut t = irregular(150, 0.4);
        t.extend(regular(10.003, 0.1, 25, 0.002));
        t.extend(regular(40.011, 0.17, 25, 0.003));
        t.sort_by(f64::total_cmp);
        let cfg = InterleaveConfig::default();
        assert!(interleaved_trains(&t, &cfg).is_none());
        // The runs are found: only the share of the unit they hold keeps it whole.
        let lenient = InterleaveConfig {
            min_chained_share: 0.0,
            ..cfg
        };
        let (trains, _) = interleaved_trains(&t, &lenient).unwrap();
        assert!(trains.len() >= 2, "{}", trains.len());
    }

    /// A regular train whose interval grows linearly from `first` to `last` seconds over
    /// `n` beats, with `drop` consecutive beats missing every `every` beats (the sorter's
    /// misses), and a few per cent of jitter.
    fn slowing(first: f64, last: f64, n: usize, every: usize, drop: usize) -> Vec<f64> {
        let mut t = Vec::new();
        let mut x = 0.0;
        for i in 0..n {
            if i % every >= drop {
                t.push(x);
            }
            let iv = first + (last - first) * i as f64 / n as f64;
            x += iv * (1.0 + 0.02 * ((i * 7919 % 13) as f64 / 13.0 - 0.5));
        }
        t
    }

    #[test]
    fn a_slowing_fibre_whose_chains_break_stays_one_train() {
        // A positive sharp wave slowing from 6.5 to 2 Hz over about four minutes, four beats
        // missed every 150: each break ends a chain, and the pieces differ in overall rate.
        let t = slowing(0.154, 0.5, 900, 150, 4);
        assert!(interleaved_trains(&t, &InterleaveConfig::default()).is_none());
        // Interleaved with a second fibre, the unit splits into those two trains, not into
        // the slowing fibre's pieces.
        let mut two = t.clone();
        two.extend(regular(0.05, 0.23, 1100, 0.004));
        two.sort_by(f64::total_cmp);
        let (trains, _) = interleaved_trains(&two, &InterleaveConfig::default()).unwrap();
        let sizes: Vec<usize> = trains.iter().map(Vec::len).collect();
        assert_eq!(sizes.len(), 2, "{sizes:?}");
    }

    #[test]
    fn one_fast_waxing_waning_train_is_not_split() {
        // A myotonic discharge of one fibre: 2 s whose rate swings 30 → 70 → 30 Hz. Read at
        // the fibrillation periods (≥ 50 ms), every other potential forms a regular chain.
        let (mut t, mut x) = (Vec::new(), 0.0);
        while x < 2.0 {
            t.push(x);
            let rate = 50.0 - 20.0 * (std::f64::consts::PI * x).cos();
            x += 1.0 / rate;
        }
        let found = chain_lengths(&t);
        assert!(found.is_empty(), "{found:?}");
    }
    #[test]
    fn a_unit_on_the_missing_beats_of_a_regular_train_is_the_same_fibre() {
        // A positive sharp wave at 10 Hz for 30 s; three runs of its beats (12, 3 and 7)
        // were sorted into another unit.
        let whole = regular(0.05, 0.1, 300, 0.002);
        let taken =
            |k: usize| (90..102).contains(&k) || (150..153).contains(&k) || (250..257).contains(&k);
        let a: Vec<f64> = (0..300).filter(|&k| !taken(k)).map(|k| whole[k]).collect();
        let b: Vec<f64> = (0..300).filter(|&k| taken(k)).map(|k| whole[k]).collect();
        let cfg = InterleaveConfig::default();
        assert!(fills_gaps(&a, &b, &cfg));
        // The same potentials half a period late sit between the beats: another fibre.
        let late: Vec<f64> = b.iter().map(|x| x + 0.05).collect();
        assert!(!fills_gaps(&whole, &late, &cfg));
        // Nor does an irregular unit firing during the train.
        let irregular: Vec<f64> = irregular(20, 1.0).iter().map(|x| x + 2.0).collect();
        assert!(!fills_gaps(&a, &irregular, &cfg));
    }
}
