//! Time-locked units are one complex. The spikes of a complex repetitive discharge's
//! complex are single fibres that always fire in the same order at the same lags
//! (ephaptic transmission; jitter of a few µs: Stålberg & Trontelj, "Single Fiber
//! Electromyography", 1994; domain brief: "complex repetitive discharges … time-locked").
//! A detector sees several peaks per complex and the sorter may give the parts different
//! units. When nearly every potential of a unit B sits at one fixed lag from a potential
//! of a unit A, B is part of A's complex: its potentials are dropped, A becomes a
//! complex, and A's own repeated detections inside one complex are removed.
//! Independent motor units never fire at a fixed lag with sub-millisecond jitter (their
//! synchronisation, when present, spreads over several ms), so they are left alone.

use serde::{Deserialize, Serialize};

use super::UnitReport;
use crate::pattern::PotentialInput;
use crate::sort::WaveformClass;
use crate::{Error, Result};

/// When two units are one time-locked complex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplexConfig {
    /// Longest lag between parts of one complex, ms (default 15: complexes last up to
    /// 10–20 ms; the brief's CRD complexes are 5–30 ms long, kymo takes the lower half).
    pub max_lag_ms: f64,
    /// Largest spread of the lag around its median, ms (default 0.25: a few times the
    /// single-fibre jitter, allowing for sampling and alignment error).
    pub lag_tolerance_ms: f64,
    /// Least share of B's potentials at the locked lag (default 0.8).
    pub min_locked_fraction: f64,
    /// Fewest potentials of B to judge (default 20).
    pub min_potentials: usize,
    /// Largest ratio of the two units' peak-to-peak amplitudes that can be parts of one
    /// complex (default 3: a complex's single-fibre spikes are of about one size, within
    /// 0.6–1 of each other, as `realign.min_peak_fraction` takes them). When B is larger
    /// than this many times A, A's potentials at the locked lag are B's own early or late
    /// component sorted with A (a motor unit potential's fibre group beyond the detector's
    /// merging window): they are dropped, and B stays as it is.
    pub max_size_ratio: f64,
}

impl Default for ComplexConfig {
    fn default() -> Self {
        ComplexConfig {
            max_lag_ms: 15.0,
            lag_tolerance_ms: 0.25,
            min_locked_fraction: 0.8,
            min_potentials: 20,
            max_size_ratio: 3.0,
        }
    }
}

impl ComplexConfig {
    pub(crate) fn check(&self) -> Result<()> {
        let ok = self.max_lag_ms.is_finite()
            && self.max_lag_ms > 0.0
            && self.max_lag_ms <= 100.0
            && self.lag_tolerance_ms.is_finite()
            && self.lag_tolerance_ms > 0.0
            && self.lag_tolerance_ms < self.max_lag_ms
            && (0.5..=1.0).contains(&self.min_locked_fraction)
            && self.min_potentials >= 3
            && self.max_size_ratio >= 1.0;
        if ok {
            Ok(())
        } else {
            Err(Error::config(format!(
                "analyze: complex settings {self:?} are out of range (max_lag_ms in (0, 100], lag_tolerance_ms in (0, max_lag_ms), min_locked_fraction in [0.5, 1], min_potentials ≥ 3, max_size_ratio ≥ 1)"
            )))
        }
    }
}

/// Times of each unit's potentials (sorted), indexed by position in `units`.
pub(super) fn trains(units: &[UnitReport], potentials: &[PotentialInput]) -> Vec<Vec<f64>> {
    let mut t = vec![Vec::new(); units.len()];
    for p in potentials {
        if let Some(k) = units.iter().position(|u| u.id() == p.unit) {
            t[k].push(p.time_s);
        }
    }
    t
}

/// What a pair of units found to belong together gives up: all of `b`, or only some of
/// its potentials (by time), the rest staying `b`.
pub(super) enum Join {
    /// `b` is a piece of `a`: all its potentials move.
    All,
    /// These potentials of `b` (times, sorted) move to `a`; the others stay with `b`.
    Only(Vec<f64>),
}

/// Merges pairs of units until none is left to merge: each time the first ordered pair
/// `(a, b)` of indices into `units` (by `a`, then `b`) that `joins(units, trains, a, b)`
/// accepts, on the units' current [`trains`]. The potentials of `b` that move take `a`'s
/// id and both units are recounted; `b` is removed when none is left;
/// `note(a's id, b's id, potentials moved, potentials left with b)` gives the sentence.
pub(super) fn merge_pairs(
    units: &mut Vec<UnitReport>,
    potentials: &mut [PotentialInput],
    joins: impl Fn(&[UnitReport], &[Vec<f64>], usize, usize) -> Option<Join>,
    note: impl Fn(u32, u32, usize, usize) -> String,
) -> Vec<String> {
    let mut notes = Vec::new();
    loop {
        let t = trains(units, potentials);
        let n = units.len();
        let pair = (0..n)
            .flat_map(|a| (0..n).map(move |b| (a, b)))
            .filter(|&(a, b)| a != b)
            .find_map(|(a, b)| joins(units, &t, a, b).map(|j| (a, b, j)));
        let Some((a, b, join)) = pair else {
            break;
        };
        let (ida, idb) = (units[a].id(), units[b].id());
        let mut moved = 0;
        for p in potentials.iter_mut().filter(|p| p.unit == idb) {
            let moves = match &join {
                Join::All => true,
                Join::Only(times) => times.binary_search_by(|x| x.total_cmp(&p.time_s)).is_ok(),
            };
            if moves {
                p.unit = ida;
                moved += 1;
            }
        }
        // A join that moves nothing would be found again forever.
        if moved == 0 {
            break;
        }
        let left = t[b].len() - moved;
        let together = t[a].len() + moved;
        units[a].n_potentials = together;
        units[a].measured.n_spikes = together;
        if left == 0 {
            units.remove(b);
        } else {
            units[b].n_potentials = left;
            units[b].measured.n_spikes = left;
        }
        notes.push(note(ida, idb, moved, left));
    }
    notes
}

/// The lag at which `b`'s potentials sit from `a`'s, and the share of `b` within `tol` of
/// it: the densest lag (the window of `2·tol` holding the most lags, its median) over every
/// pair within `max_lag`, not only each `b`'s nearest `a`. In a complex repetitive
/// discharge faster than `1 / max_lag` a part of the complex lies within `max_lag` of two
/// complexes (at 89 Hz, 2.65 ms after one and 8.6 ms before the next), so the nearest `a`
/// splits one lock between two lags.
fn locked(a: &[f64], b: &[f64], max_lag: f64, tol: f64) -> Option<(f64, f64)> {
    let mut lags = Vec::with_capacity(2 * b.len());
    let mut lo = 0;
    for &tb in b {
        while lo < a.len() && a[lo] < tb - max_lag {
            lo += 1;
        }
        lags.extend(
            a[lo..]
                .iter()
                .take_while(|&&ta| ta <= tb + max_lag)
                .map(|&ta| tb - ta),
        );
    }
    if lags.is_empty() {
        return None;
    }
    lags.sort_by(f64::total_cmp);
    // The window [lags[i], lags[i] + 2·tol] holding the most lags.
    let (mut best, mut j) = ((0, 0), 0);
    for i in 0..lags.len() {
        while j < lags.len() && lags[j] <= lags[i] + 2.0 * tol {
            j += 1;
        }
        if j - i > best.1 - best.0 {
            best = (i, j);
        }
    }
    let m = lags[(best.0 + best.1 - 1) / 2];
    // Each `b` counts once, whichever of its neighbours lies at the lag.
    let mut lo = 0;
    let n_in = b
        .iter()
        .filter(|&&tb| {
            while lo < a.len() && a[lo] < tb - m - tol {
                lo += 1;
            }
            a.get(lo).is_some_and(|&ta| (tb - ta - m).abs() <= tol)
        })
        .count();
    Some((m, n_in as f64 / b.len() as f64))
}

/// Merges time-locked units into complexes; returns a sentence per merge.
pub(crate) fn merge_locked(
    units: &mut Vec<UnitReport>,
    potentials: &mut Vec<PotentialInput>,
    cfg: &ComplexConfig,
) -> Vec<String> {
    let mut notes = Vec::new();
    let (max_lag, tol) = (cfg.max_lag_ms * 1e-3, cfg.lag_tolerance_ms * 1e-3);
    loop {
        let t = trains(units, potentials);
        // The best (A, B): B locked to A, A the larger unit.
        let mut best: Option<(usize, usize, f64, f64)> = None;
        for b in 0..units.len() {
            if t[b].len() < cfg.min_potentials {
                continue;
            }
            for a in 0..units.len() {
                if a == b || t[a].len() < t[b].len() {
                    continue;
                }
                if let Some((lag, frac)) = locked(&t[a], &t[b], max_lag, tol) {
                    if frac >= cfg.min_locked_fraction && best.is_none_or(|x| frac > x.3) {
                        best = Some((a, b, lag, frac));
                    }
                }
            }
        }
        let Some((a, b, lag, frac)) = best else {
            break;
        };
        let (ida, idb) = (units[a].id(), units[b].id());
        let (p2p_a, p2p_b) = (units[a].measured.p2p_uv, units[b].measured.p2p_uv);
        if p2p_b > cfg.max_size_ratio * p2p_a {
            // A's potentials at the lag are B's component: A gives them up.
            let tb = &t[b];
            let before = potentials.len();
            potentials.retain(|p| {
                // Kept unless a B potential lies at `p.time_s + lag` (± tol).
                let want = p.time_s + lag;
                let at = tb.partition_point(|&x| x < want - tol);
                p.unit != ida || !tb.get(at).is_some_and(|&x| x <= want + tol)
            });
            let dropped = before - potentials.len();
            let n_a = potentials.iter().filter(|p| p.unit == ida).count();
            notes.push(format!(
                "unit {idb} ({p2p_b:.0} µV) fires time-locked with unit {ida} ({p2p_a:.0} µV) ({:.0} % of unit {idb}'s potentials at {:.2} ms from unit {ida}'s): too different in size to be one complex, so {dropped} potentials of unit {ida} at that lag are taken as unit {idb}'s own component and dropped",
                frac * 100.0,
                lag * 1e3,
            ));
            if n_a == 0 {
                units.remove(a);
            } else {
                units[a].n_potentials = n_a;
                units[a].measured.n_spikes = n_a;
            }
            if dropped == 0 {
                break;
            }
            continue;
        }
        potentials.retain(|p| p.unit != idb);
        // A's repeated detections inside one complex: a potential of A closer than the
        // complex's span to the previous one is a second peak of the same complex.
        let span = lag.abs() + tol;
        let mut last: Option<f64> = None;
        potentials.retain(|p| {
            if p.unit != ida {
                return true;
            }
            let keep = last.is_none_or(|l| p.time_s - l > span);
            if keep {
                last = Some(p.time_s);
            }
            keep
        });
        let n_a = potentials.iter().filter(|p| p.unit == ida).count();
        let note = format!(
            "units {ida} and {idb} fire time-locked ({:.0} % of unit {idb}'s potentials at {:.2} ms from unit {ida}'s, within ±{:.2} ms): one complex, reported as unit {ida}",
            frac * 100.0,
            lag * 1e3,
            tol * 1e3
        );
        let ua = &mut units[a];
        ua.n_potentials = n_a;
        ua.measured.n_spikes = n_a;
        // B's peak inside A's own waveform is a second peak of one potential, detected
        // twice; outside it, a further spike: a complex.
        let lag_ms = lag * 1e3;
        if !(ua.measured.onset_ms..=ua.measured.end_ms).contains(&lag_ms) {
            ua.measured.class = WaveformClass::Complex;
            ua.measured.class_reason = format!("complex: {note}");
        }
        units.remove(b);
        notes.push(note);
    }
    notes
}

/// Firing no motor unit or fibre can produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlausibilityConfig {
    /// Highest sustained firing rate of one unit, Hz (default 400: above the fastest
    /// physiological discharge, neuromyotonic at 150–300 Hz (brief); doublets' 2 ms
    /// intervals occur in pairs, not runs).
    pub max_rate_hz: f64,
    /// Shortest run of potentials of one unit above that rate that is dropped as an
    /// artefact (default 3: a run of three is no doublet).
    pub min_run: usize,
    /// Fewest phases of a unit's template (default 2: an extracellularly recorded action
    /// potential, of a motor unit or a single fibre, is at least biphasic — positive then
    /// negative as the wave approaches and passes the electrode, Dumitru, "Electrodiagnostic
    /// Medicine", 2nd ed., ch. 2; a one-phase "template" is a slow wave, such as the
    /// filter's ringing after a transient).
    pub min_phases: u32,
    /// Widest largest phase of a unit's template at half its height, ms, needle recordings
    /// (default 3: an action potential has a sharp main spike — a needle motor unit
    /// potential's rises in under 0.5 ms when the needle is near the unit, Preston & Shapiro,
    /// "Electromyography and Neuromuscular Disorders" — and 3 ms is the sorter's bound for
    /// "sharp", `classes.psw_max_spike_ms`; every unit of the simulated scenarios stays
    /// under 2 ms, while a slow wave, such as a positive sharp wave's slow phase detected
    /// on its own, lasts many ms). A broader template is left out as a slow wave.
    pub max_main_half_width_ms_needle: f64,
    /// The same for surface recordings (default 10: surface potentials are 3–4 times
    /// broader, as for `peaks.window_ms_surface`).
    pub max_main_half_width_ms_surface: f64,
}

impl Default for PlausibilityConfig {
    fn default() -> Self {
        PlausibilityConfig {
            max_rate_hz: 400.0,
            min_run: 3,
            min_phases: 2,
            max_main_half_width_ms_needle: 3.0,
            max_main_half_width_ms_surface: 10.0,
        }
    }
}

impl PlausibilityConfig {
    pub(crate) fn check(&self) -> Result<()> {
        for (name, v) in [
            (
                "max_main_half_width_ms_needle",
                self.max_main_half_width_ms_needle,
            ),
            (
                "max_main_half_width_ms_surface",
                self.max_main_half_width_ms_surface,
            ),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::config(format!(
                    "analyze: plausibility.{name} {v} must be a positive number of ms"
                )));
            }
        }
        if self.max_rate_hz.is_finite() && self.max_rate_hz >= 100.0 && self.min_run >= 3 {
            Ok(())
        } else {
            Err(Error::config(format!(
                "analyze: plausibility.max_rate_hz {} must be at least 100 Hz and plausibility.min_run {} at least 3",
                self.max_rate_hz, self.min_run
            )))
        }
    }
}

/// Drops runs of ≥ `min_run` potentials of one unit closer together than `1/max_rate_hz`
/// (filter ringing after a transient, detected and sorted as a "unit"); returns the
/// `(start, end)` times of the dropped runs, to be treated as artefacts.
pub(crate) fn drop_impossible_runs(
    potentials: &mut Vec<PotentialInput>,
    cfg: &PlausibilityConfig,
) -> Vec<(f64, f64)> {
    let min_iv = 1.0 / cfg.max_rate_hz;
    let mut by_unit: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, p) in potentials.iter().enumerate() {
        by_unit.entry(p.unit).or_default().push(i);
    }
    let mut drop = vec![false; potentials.len()];
    let mut runs = Vec::new();
    for idx in by_unit.values() {
        let mut a = 0;
        while a < idx.len() {
            let mut b = a + 1;
            while b < idx.len()
                && potentials[idx[b]].time_s - potentials[idx[b - 1]].time_s < min_iv
            {
                b += 1;
            }
            if b - a >= cfg.min_run {
                idx[a..b].iter().for_each(|&i| drop[i] = true);
                runs.push((potentials[idx[a]].time_s, potentials[idx[b - 1]].time_s));
            }
            a = b;
        }
    }
    let mut i = 0;
    potentials.retain(|_| {
        i += 1;
        !drop[i - 1]
    });
    runs.sort_by(|x, y| x.0.total_cmp(&y.0));
    runs
}

#[cfg(test)]
mod tests {
    use super::{locked, merge_locked, ComplexConfig};
    use crate::analyze::UnitReport;
    use crate::pattern::PotentialInput;
    use crate::sort::{Polarity, Unit, WaveformClass};

    fn report(id: u32, p2p_uv: f64, n: usize) -> UnitReport {
        UnitReport {
            n_potentials: n,
            n_chunks: 1,
            measured: Unit {
                id,
                template: Vec::new(),
                n_spikes: n,
                n_extra: 0,
                p2p_uv,
                duration_ms: 8.0,
                onset_ms: -3.0,
                end_ms: 5.0,
                phases: 3,
                turns: 3,
                first_phase: Polarity::Positive,
                area_uv_ms: 0.0,
                snr_db: 20.0,
                amplitude_spread: 0.1,
                l_ratio: 0.0,
                isolation_distance: None,
                class: WaveformClass::MotorUnit,
                class_reason: String::new(),
            },
        }
    }

    /// Unit 0 (160 µV) fires its own irregular train and also holds the early component of
    /// unit 1 (1.1 mV), 4.55 ms before each of unit 1's potentials: unit 1 is locked to
    /// unit 0, but far larger, so they are no complex. Unit 0 gives up its potentials at
    /// the lag and keeps its own; unit 1 keeps all its potentials and its class. Of one
    /// size, the same pair is one complex, as before.
    #[test]
    fn a_large_unit_locked_to_a_small_one_keeps_its_potentials() {
        let own: Vec<f64> = (0..60).map(|k| 0.37 + k as f64 * 0.613).collect();
        let big: Vec<f64> = (0..40).map(|k| 0.2 + k as f64 * 0.917).collect();
        let lag = 4.55e-3;
        let potentials = || {
            let mut p: Vec<PotentialInput> = own
                .iter()
                .map(|&t| (t, 0))
                .chain(big.iter().map(|&t| (t - lag, 0)))
                .chain(big.iter().map(|&t| (t, 1)))
                .map(|(time_s, unit)| PotentialInput {
                    time_s,
                    unit,
                    amplitude_uv: 100.0,
                })
                .collect();
            p.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
            p
        };
        let cfg = ComplexConfig::default();
        let mut units = vec![report(0, 160.0, 100), report(1, 1100.0, 40)];
        let mut p = potentials();
        let notes = merge_locked(&mut units, &mut p, &cfg);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let of = |p: &[PotentialInput], u: u32| p.iter().filter(|x| x.unit == u).count();
        assert_eq!((of(&p, 0), of(&p, 1)), (60, 40), "{notes:?}");
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].n_potentials, 60);
        assert_eq!(units[1].measured.class, WaveformClass::MotorUnit);
        // Of one size: one complex, unit 1's potentials dropped.
        let mut units = vec![report(0, 700.0, 100), report(1, 1100.0, 40)];
        let mut p = potentials();
        merge_locked(&mut units, &mut p, &cfg);
        assert_eq!(units.len(), 1);
        assert_eq!(of(&p, 1), 0);
    }

    /// A part 8.6 ms after the start of each complex, in a discharge at 43 Hz and then at
    /// 89 Hz: at 89 Hz the part is also 2.65 ms before the next complex, its nearest. One
    /// lock, at +8.6 ms, for every potential (the nearest complex alone gave 8.6 ms for
    /// the slow half and −2.65 ms for the fast one, and no lock).
    #[test]
    fn a_complex_that_speeds_up_is_locked_at_one_lag() {
        let mut a: Vec<f64> = (0..150).map(|k| 1.0 + k as f64 / 43.0).collect();
        let t0 = a[a.len() - 1] + 0.5;
        a.extend((0..150).map(|k| t0 + k as f64 / 89.0));
        let b: Vec<f64> = a
            .iter()
            .enumerate()
            .map(|(k, t)| t + 8.6e-3 + if k % 2 == 0 { 0.05e-3 } else { -0.05e-3 })
            .collect();
        let (lag, frac) = locked(&a, &b, 15e-3, 0.25e-3).unwrap();
        assert!((lag - 8.6e-3).abs() < 0.1e-3, "lag {lag}");
        assert!(frac > 0.99, "share {frac}");
    }

    /// Two independent trains are not locked at any lag.
    #[test]
    fn independent_trains_are_not_locked() {
        let a: Vec<f64> = (0..200).map(|k| k as f64 * 0.0731).collect();
        let b: Vec<f64> = (0..200).map(|k| 0.013 + k as f64 * 0.0517).collect();
        let (_, frac) = locked(&a, &b, 15e-3, 0.25e-3).unwrap();
        assert!(frac < 0.3, "share {frac}");
    }
}
