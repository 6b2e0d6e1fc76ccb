//! One reference point for every potential of a complex. A complex repetitive discharge's
//! complex is several single-fibre spikes of about one size (brief: time-locked, the same
//! polyphasic waveform every cycle), and the detector marks whichever spike is largest in
//! that cycle's noise. When the complex is longer than the sorting window (needle: 4 ms
//! before the peak, 6 ms after; simulated complexes span 3–15 ms) the sort sees different
//! parts of it from cycle to cycle, its template is a blur of them, and no fit can tell
//! which spike a detection sat on. The reported times then jump between the spikes (a
//! simulated complex repetitive discharge at 20 dB, seed 7201: every potential 4.5 or 8 ms
//! before the truth's reference, the "machine-like" train read as interval CV 0.23 and
//! left unclassified).
//!
//! So each complex unit's potentials are aligned again on a wide window of the filtered
//! signal: their windows are averaged, each potential takes the lag at which its window
//! correlates best with that average (among the lags that put it on another spike of its
//! complex), the average is formed again with the lags, and so on until no lag changes.
//! Every potential is then reported at the average's largest peak, and a second detection
//! of one complex (now at the same time) is dropped. A potential moves only to another
//! peak of about its size at least `min_jump_ms` away, and only when the average explains
//! its window there better than noise could explain the difference.
//!
//! The new times are kept only when they make the unit's firing far more regular (median
//! CV2 at most half of before): a complex repetitive discharge is machine-like, so timing
//! each complex on one spike makes it so. A polyphasic motor unit potential classed as a
//! complex fires as irregularly whichever phase it is timed on, and keeps its times:
//! without this test, continuous myokymia, voluntary and cramp records (seeds 11–40 at
//! 10 dB) lost up to 15 % of their potentials' matches to moved times, and with it none
//! of those 300 records changed, while the record above is timed on the complex's largest
//! spike (potential F1 0.00 → 0.98, its two discharges found).

use serde::{Deserialize, Serialize};

use crate::pattern::stats::{cv2_values, median};
use crate::{Error, Result};

/// How the potentials of complex units are aligned again (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RealignConfig {
    /// Align complex units again. Default true.
    pub enabled: bool,
    /// Half-width of the window compared, ms. Default 10 (kymo: holds a complex of up to
    /// 20 ms around whichever spike was detected; the brief's complexes are 5–30 ms).
    pub half_window_ms: f64,
    /// Longest lag tried, ms; never more than `max_interval_fraction` of the unit's cycle
    /// (the upper quartile of its intervals). Default 15 (as `complex.max_lag_ms`: the span of one complex).
    pub max_lag_ms: f64,
    /// The lag stays below this fraction of the unit's cycle, so that no potential is moved
    /// onto the next cycle. Default 0.4 (kymo).
    pub max_interval_fraction: f64,
    /// Lags tried: those that put the potential on a peak of the signal between this
    /// fraction of the detected one's magnitude and its inverse (another spike of the
    /// complex, of about its size; not a larger unit's spike nearby). Default 0.5 (brief:
    /// the spikes of a complex are within 0.6–1 of each other; noise moves them).
    pub min_peak_fraction: f64,
    /// Fewest potentials of a unit to align. Default 20 (as `complex.min_potentials`).
    pub min_potentials: usize,
    /// Potentials of one unit aligned within this many ms of each other are one complex
    /// detected twice (on two of its spikes); the later is dropped. Default 0.25 (as
    /// `complex.lag_tolerance_ms`).
    pub same_ms: f64,
    /// A potential moves only when the reference explains its window at the new lag better
    /// than at its own by more than `min_gain_z · σ² · √(2m)` (`m` window samples; the χ²
    /// spread of a noise residual). Default 5 (kymo).
    pub min_gain_z: f64,
    /// A unit is aligned again only when at least this fraction of the potentials averaged
    /// moved (its detections jump between spikes); otherwise its times are kept as they
    /// are. Default 0.05 (kymo).
    pub min_moved_fraction: f64,
    /// Shortest jump, ms: another spike of the complex lies at least this far away (nearer
    /// peaks are the same spike's, moved by noise; the fit has already placed it). Default
    /// 0.5 (kymo: a single-fibre spike's main phase lasts about 0.5 ms).
    pub min_jump_ms: f64,
    /// The new times are kept only when they make the unit's firing at least this much
    /// more regular (median CV2 at most this fraction of before): a complex repetitive
    /// discharge is machine-like (brief: jitter far below 1 %), so aligning its complexes
    /// makes it so, while a polyphasic motor unit potential read as a complex fires as
    /// irregularly whichever of its phases it is timed on. Default 0.5 (kymo).
    pub max_jitter_ratio: f64,
}

impl Default for RealignConfig {
    fn default() -> Self {
        RealignConfig {
            enabled: true,
            half_window_ms: 10.0,
            max_lag_ms: 15.0,
            max_interval_fraction: 0.4,
            min_peak_fraction: 0.5,
            min_potentials: 20,
            same_ms: 0.25,
            min_gain_z: 5.0,
            min_moved_fraction: 0.05,
            min_jump_ms: 0.5,
            max_jitter_ratio: 0.5,
        }
    }
}

impl RealignConfig {
    pub(crate) fn check(&self) -> Result<()> {
        let ok = self.half_window_ms.is_finite()
            && self.half_window_ms > 0.0
            && self.half_window_ms <= 100.0
            && self.max_lag_ms.is_finite()
            && self.max_lag_ms >= 0.0
            && self.max_lag_ms <= 100.0
            && (0.0..=1.0).contains(&self.max_interval_fraction)
            && (0.0..=1.0).contains(&self.min_peak_fraction)
            && self.min_potentials >= 3
            && self.same_ms.is_finite()
            && (0.0..=5.0).contains(&self.same_ms)
            && self.min_gain_z.is_finite()
            && self.min_gain_z >= 0.0
            && (0.0..=1.0).contains(&self.min_moved_fraction)
            && self.min_jump_ms.is_finite()
            && self.min_jump_ms >= 0.0
            && self.min_jump_ms <= self.max_lag_ms
            && (0.0..=1.0).contains(&self.max_jitter_ratio);
        if ok {
            Ok(())
        } else {
            Err(Error::config(format!(
                "analyze: realign settings {self:?} are out of range (half_window_ms in (0, 100], max_lag_ms in [0, 100], max_interval_fraction and min_peak_fraction in [0, 1], min_potentials ≥ 3, same_ms in [0, 5], min_gain_z ≥ 0, min_moved_fraction in [0, 1], min_jump_ms in [0, max_lag_ms], max_jitter_ratio in [0, 1])"
            )))
        }
    }
}

/// Most rounds of re-averaging (each round moves fewer potentials; a unit settles in two or
/// three).
const MAX_ROUNDS: usize = 6;

/// Most potentials averaged (evenly spread): the average's noise is then σ/√200.
const MAX_AVERAGED: usize = 200;

/// New positions for the potentials at `at` (indices into the filtered signal `x`,
/// ascending) of one complex unit: each moved by its best lag and then to the average's
/// largest peak. `None` when the unit has too few potentials inside `x`, or fewer than
/// `min_moved_fraction` of those averaged moved (`sigma`: the signal's noise σ).
pub(crate) fn realign(
    x: &[f32],
    at: &[usize],
    rate_hz: f64,
    sigma: f64,
    cfg: &RealignConfig,
) -> Option<Vec<usize>> {
    if !cfg.enabled || at.len() < cfg.min_potentials {
        return None;
    }
    let samples = |ms: f64| (ms * 1e-3 * rate_hz).round() as usize;
    let half = samples(cfg.half_window_ms).max(1);
    // The unit's cycle: the upper quartile of its intervals, since second detections of one
    // complex (a few ms apart) make many of the short ones.
    let mut iv: Vec<usize> = at.windows(2).map(|w| w[1] - w[0]).collect();
    iv.sort_unstable();
    let cycle = iv[iv.len() * 3 / 4];
    let max_lag =
        samples(cfg.max_lag_ms).min((cfg.max_interval_fraction * cycle as f64).floor() as usize);
    if max_lag == 0 {
        return None;
    }
    let min_jump = samples(cfg.min_jump_ms).max(1);
    let reach = half + max_lag;
    let inside = |t: usize| t >= reach && t + reach < x.len();
    // The lags that put potential `t` on another peak of its complex, of about its size, 0
    // first.
    let candidates = |t: usize| -> Vec<i64> {
        let own = x[t].abs();
        let mut lags = vec![0i64];
        for j in t - max_lag + 1..t + max_lag {
            let v = x[j].abs();
            if j.abs_diff(t) >= min_jump
                && v as f64 >= cfg.min_peak_fraction * own as f64
                && v as f64 * cfg.min_peak_fraction <= own as f64
                && v > x[j - 1].abs()
                && v >= x[j + 1].abs()
            {
                lags.push(j as i64 - t as i64);
            }
        }
        lags
    };
    let window = |t: usize, lag: i64| {
        let c = (t as i64 + lag) as usize;
        &x[c - half..=c + half]
    };
    // The lag whose window the reference explains best (least residual after scaling it),
    // kept only when it beats lag 0 by more than noise could: `min_gain_z·σ²·√(2m)` over the
    // window's `m` samples (the χ² spread of a residual of pure noise).
    let m = (2 * half + 1) as f64;
    let bar = cfg.min_gain_z * sigma * sigma * (2.0 * m).sqrt();
    let best_lag = |t: usize, reference: &[f64], rr: f64| -> i64 {
        let residual = |lag: i64| {
            let w = window(t, lag);
            let (mut dot, mut e) = (0.0f64, 0.0f64);
            for (a, b) in w.iter().zip(reference) {
                dot += *a as f64 * b;
                e += (*a as f64).powi(2);
            }
            e - dot.max(0.0).powi(2) / rr
        };
        let at_zero = residual(0);
        let mut best = (at_zero - bar, 0i64);
        for lag in candidates(t).into_iter().skip(1) {
            let r = residual(lag);
            if r < best.0 {
                best = (r, lag);
            }
        }
        best.1
    };
    let usable: Vec<usize> = at.iter().copied().filter(|&t| inside(t)).collect();
    if usable.len() < cfg.min_potentials {
        return None;
    }
    let step = usable.len().div_ceil(MAX_AVERAGED);
    let averaged: Vec<usize> = usable.iter().copied().step_by(step).collect();
    let mut lags = vec![0i64; averaged.len()];
    let mut reference = vec![0.0f64; 2 * half + 1];
    let mut rr = 0.0f64;
    for _ in 0..MAX_ROUNDS {
        reference.iter_mut().for_each(|r| *r = 0.0);
        for (&t, &lag) in averaged.iter().zip(&lags) {
            for (r, v) in reference.iter_mut().zip(window(t, lag)) {
                *r += *v as f64;
            }
        }
        let n = averaged.len() as f64;
        reference.iter_mut().for_each(|r| *r /= n);
        rr = reference.iter().map(|r| r * r).sum();
        if rr <= 0.0 {
            return None;
        }
        let new: Vec<i64> = averaged
            .iter()
            .map(|&t| best_lag(t, &reference, rr))
            .collect();
        if new == lags {
            break;
        }
        lags = new;
    }
    // Detections that already sit on one spike of the complex keep their times.
    let n_moved = lags.iter().filter(|&&l| l != 0).count();
    if (n_moved as f64) < cfg.min_moved_fraction * lags.len() as f64 {
        return None;
    }
    // The average's largest peak, relative to its centre.
    let peak = reference
        .iter()
        .enumerate()
        .fold((half, 0.0f64), |(bi, bv), (i, v)| {
            if v.abs() > bv {
                (i, v.abs())
            } else {
                (bi, bv)
            }
        })
        .0 as i64
        - half as i64;
    let moved: Vec<usize> = at
        .iter()
        .map(|&t| {
            let lag = if inside(t) {
                best_lag(t, &reference, rr)
            } else {
                0
            };
            (t as i64 + lag + peak).clamp(0, x.len() as i64 - 1) as usize
        })
        .collect();
    (moved != at).then_some(moved)
}

/// Median CV2 of successive intervals of ascending times (Holt et al. 1996; the pattern
/// stage's [`cv2_values`]); `None` with fewer than three.
pub(crate) fn jitter(times: &[i64]) -> Option<f64> {
    let iv: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    median(&cv2_values(&iv))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complex of three spikes of about one size spanning 8 ms, repeated every 25 ms, in
    /// noise; the "detections" jump between its first and last spike.
    fn complex_train() -> (Vec<f32>, Vec<usize>, Vec<usize>) {
        let fs = 20_000.0;
        let n = 200_000;
        let mut x = vec![0.0f32; n];
        let spike = |x: &mut [f32], c: usize, a: f32| {
            for k in 0..12 {
                let d = k as f32 - 6.0;
                x[c + k - 6] += a * (-d * d / 4.0).exp() * (1.0 - d * d / 8.0);
            }
        };
        let mut state = 12345u64;
        for v in x.iter_mut() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *v = ((state >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 4.0;
        }
        let period = (0.025 * fs) as usize;
        let (mut detected, mut truth) = (Vec::new(), Vec::new());
        let mut c = 1000;
        let mut k = 0;
        while c + 400 < n {
            spike(&mut x, c, 100.0);
            spike(&mut x, c + 60, 80.0);
            spike(&mut x, c + 160, 95.0);
            truth.push(c);
            detected.push(if k % 3 == 0 { c + 160 } else { c });
            // Every fifth complex detected twice, on its first and its second spike.
            if k % 5 == 1 {
                detected.push(c + 60);
            }
            c += period;
            k += 1;
        }
        (x, detected, truth)
    }

    #[test]
    fn detections_on_different_spikes_of_a_complex_get_one_reference() {
        let (x, detected, truth) = complex_train();
        let cfg = RealignConfig::default();
        let mut moved = realign(&x, &detected, 20_000.0, 1.15, &cfg).expect("the detections jump");
        // The second detections land on their complex's first: one potential per complex.
        moved.dedup();
        assert_eq!(moved.len(), truth.len());
        // Every potential at one fixed offset from its complex: the intervals are constant.
        let offsets: Vec<i64> = moved
            .iter()
            .zip(&truth)
            .map(|(&m, &t)| m as i64 - t as i64)
            .collect();
        assert!(
            offsets.iter().all(|&o| o == offsets[0]),
            "offsets {:?}",
            &offsets[..10]
        );
        // ... on the complex's largest spike (its first).
        assert_eq!(offsets[0], 0);
    }

    #[test]
    fn consistent_detections_keep_their_times() {
        let (x, _, truth) = complex_train();
        assert_eq!(
            realign(&x, &truth, 20_000.0, 1.15, &RealignConfig::default()),
            None
        );
        // Off, or too few potentials: nothing done.
        let off = RealignConfig {
            enabled: false,
            ..RealignConfig::default()
        };
        let (_, detected, _) = complex_train();
        assert_eq!(realign(&x, &detected, 20_000.0, 1.15, &off), None);
        assert_eq!(
            realign(
                &x,
                &detected[..5],
                20_000.0,
                1.15,
                &RealignConfig::default()
            ),
            None
        );
    }
}
