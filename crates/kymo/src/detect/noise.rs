//! Robust noise level of a filtered signal.
//!
//! σ = median(|x|) / 0.6745 (Quiroga, Nadasdy & Ben-Shaul 2004, *Neural Computation*
//! 16:1661–1687): for Gaussian noise the median of |x| is 0.6745·σ, and unlike the standard
//! deviation the median hardly moves when a minority of samples belong to spikes, so the
//! threshold does not rise with the firing rate.
//!
//! [`quiet_sigma`] measures σ on the quietest windows instead, for busy records; when it
//! is switched on the detector takes the smaller of the two (see its docs).
//!
//! The median is taken over a strided subsample of at most `max_samples` points: its
//! relative standard error is about 1.17/√n (0.6 % for the default 32 768), far below
//! the spread of thresholds that matter, and the cost stays fixed however long the block.
//! The stride (block length / n, hundreds of samples for long blocks) also decorrelates
//! the band-limited samples.

use super::Artefact;

/// The Gaussian median-to-σ ratio: the median of |x| for x ~ N(0, σ²) is 0.6745·σ.
pub const MAD_TO_SIGMA: f32 = 0.6745;

/// σ of `x` (samples `first..first + x.len()` of the recording) from at most `max_samples`
/// evenly strided points, skipping samples inside `exclude`. Falls back to the RMS of the
/// subsample when over half the points are exactly zero (a median of 0 would make every
/// non-zero sample a spike), and returns 0 for an empty or all-zero signal. `scratch` is
/// reused between calls.
pub fn sigma(
    x: &[f32],
    first: u64,
    exclude: &[Artefact],
    max_samples: usize,
    scratch: &mut Vec<f32>,
) -> f32 {
    scratch.clear();
    if x.is_empty() {
        return 0.0;
    }
    let stride = x.len().div_ceil(max_samples.max(1)).max(1);
    let mut i = 0usize;
    let mut ex = exclude.iter().peekable();
    while i < x.len() {
        let g = first + i as u64;
        // Artefacts are sorted by start; skip those that ended before this sample.
        while ex.peek().is_some_and(|a| a.end <= g) {
            ex.next();
        }
        match ex.peek() {
            Some(a) if a.start <= g => {
                // Jump past the artefact, keeping the stride phase.
                let skip = (a.end - g) as usize;
                i += skip.div_ceil(stride) * stride;
                continue;
            }
            _ => {}
        }
        if x[i].is_finite() {
            scratch.push(x[i].abs());
        }
        i += stride;
    }
    if scratch.is_empty() {
        return 0.0;
    }
    let mid = scratch.len() / 2;
    let (_, &mut median, _) = scratch.select_nth_unstable_by(mid, f32::total_cmp);
    if median > 0.0 {
        return median / MAD_TO_SIGMA;
    }
    let ms = scratch
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        / scratch.len() as f64;
    ms.sqrt() as f32
}

/// σ from the quietest stretches of `x` (samples `first..` of the recording): the
/// `quantile` of the RMS of windows of `window` samples (mean removed; windows touching
/// `exclude` skipped; at most [`MAX_QUIET_WINDOWS`], evenly spaced), divided by that
/// quantile's value for Gaussian noise, `sqrt(χ²_ν⁻¹(q)/ν)` with ν = `window` − 1. `None`
/// when fewer than [`MIN_QUIET_WINDOWS`] windows are usable.
///
/// The median of |x| counts every sample, and where potentials fill most of the time (a
/// contraction, continuous myokymia, a cramp) it measures them as much as the noise: on
/// simulated records at 10 dB it gave 1.3–2× the true noise σ (voluntary 30 µV for 20, cramp
/// 70 for 36). Between the potentials there are stretches of noise alone, and the
/// quietest windows find them; in quiet records both estimates agree. The threshold is then
/// set against the noise floor, as a reader sets the gain against the baseline. When
/// fewer than `quantile` of the windows are quiet the estimate is that of the busy ones;
/// when only a few times `quantile` are, it is a higher quantile of the quiet windows and
/// overstates σ by up to `1.28/√(2·window)` (6 % for 400 samples at `quantile` 0.1).
pub fn quiet_sigma(
    x: &[f32],
    first: u64,
    exclude: &[Artefact],
    window: usize,
    quantile: f64,
    scratch: &mut Vec<f32>,
) -> Option<f32> {
    scratch.clear();
    if window < 8 || !(quantile > 0.0 && quantile < 1.0) {
        return None;
    }
    let mut ex = exclude.iter().peekable();
    let step = (x.len() / window).div_ceil(MAX_QUIET_WINDOWS).max(1);
    for (w, seg) in x.chunks_exact(window).enumerate().step_by(step) {
        let g0 = first + (w * window) as u64;
        let g1 = g0 + window as u64;
        while ex.peek().is_some_and(|a| a.end <= g0) {
            ex.next();
        }
        if ex.peek().is_some_and(|a| a.start < g1) {
            continue;
        }
        let n = seg.len() as f64;
        let (s, ss) = seg.iter().fold((0.0f64, 0.0f64), |(s, ss), &v| {
            let v = v as f64;
            (s + v, ss + v * v)
        });
        let var = (ss - s * s / n) / (n - 1.0);
        if var.is_finite() {
            scratch.push(var.max(0.0).sqrt() as f32);
        }
    }
    if scratch.len() < MIN_QUIET_WINDOWS {
        return None;
    }
    let k = ((scratch.len() - 1) as f64 * quantile).round() as usize;
    let (_, &mut q, _) = scratch.select_nth_unstable_by(k, f32::total_cmp);
    let expected = rms_quantile_factor(window as f64 - 1.0, quantile);
    (q > 0.0).then(|| (q as f64 / expected) as f32)
}

/// Fewest windows [`quiet_sigma`] takes a quantile of.
pub const MIN_QUIET_WINDOWS: usize = 20;

/// Most windows [`quiet_sigma`] measures (evenly spaced): with 1024 the 10 % quantile is
/// that of about 100 windows, and the cost stays bounded however long the block.
pub const MAX_QUIET_WINDOWS: usize = 1024;

/// The `quantile` of a window's RMS over σ for Gaussian noise of `nu` degrees of freedom:
/// `sqrt(χ²_ν⁻¹(q) / ν)`.
fn rms_quantile_factor(nu: f64, quantile: f64) -> f64 {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    match ChiSquared::new(nu) {
        Ok(chi2) => (chi2.inverse_cdf(quantile) / nu).sqrt(),
        // `nu` ≥ 7 by construction; fall back to no correction.
        Err(_) => 1.0,
    }
}
