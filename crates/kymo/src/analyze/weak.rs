//! Units under the detection threshold. The threshold (`detect.threshold_k` σ, 5 by
//! default) sees a potential by its peak; a unit whose peak stays near the noise — a
//! deep or distant motor unit, the small units recruited beside large ones in a cramp
//! or a voluntary contraction, the second unit of a continuous myokymia — fires unseen,
//! although its potential's energy, spread over its 5–15 ms, stands far above the noise
//! for a matched filter (a potential whose rms equals σ over 8 ms at 20 kHz holds 160 σ²:
//! a matched-filter statistic near 13). Once the known potentials are subtracted, such a
//! unit is found in what is left:
//!
//! 1. the **residual**: the chunk's filtered signal less every known potential at the
//!    amplitude that fits it best; where a known potential's template reaches (above
//!    `known_k` σ, 0 by default) the residual holds its misfit and is not searched;
//! 2. **candidates**: the residual's peaks above a lower threshold (`threshold_k`, 3.5 σ
//!    by default), one per dead time;
//! 3. **clusters**: the candidates sorted as the detections are ([`sort::sort`]); most
//!    are noise peaks, which share no shape beyond the noise's own correlation;
//! 4. **matched filter**: each cluster's template slid over the whole residual; the
//!    statistic is scaled by its own robust spread over the chunk (the noise is coloured,
//!    so `‖t‖·σ` does not give it), and a potential is a local maximum at least `min_z`
//!    of that spread, at an amplitude in `amplitude_range` of the template, explaining
//!    `min_explained` of its window's energy above the noise floor. A noise cluster's
//!    template finds nothing there (its statistic is the noise's, whose tail above 7
//!    spreads is empty in the millions of positions of a chunk); a unit finds its
//!    potentials, those that crossed the low threshold and those that did not.
//!
//! Clusters are taken in order of their finds; a find within the dead time of an earlier
//! cluster's belongs to that one, and a cluster keeps its finds when at least
//! `min_potentials` remain, most of them its own, and they average to its shape. Finds
//! shaped like a known motor unit that lie in its train's gaps are that unit's missed
//! potentials; otherwise they make a new unit when their average is a motor unit
//! potential peaking between `min_peak_k` σ and the detection threshold.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::recover::{Signal, Template};
use crate::sort::templates::similarity;
use crate::sort::{self, SortInput, Unit, ValidSortConfig, WaveformClass};
use crate::{Error, Result};
use realfft::RealFftPlanner;

/// The search for units under the detection threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeakConfig {
    /// Search at all (default false: see the README's accuracy section; the classification
    /// rules downstream were made on the units the threshold finds, and more units
    /// visible in a voluntary contraction or a continuous myokymia turn some of their
    /// calls).
    pub enabled: bool,
    /// Candidate threshold on the residual, multiples of σ (default 3.5).
    pub threshold_k: f64,
    /// The residual is not searched where the known potentials stand above this many σ
    /// (there it holds their misfit, and a complex's spikes beyond its template), nor
    /// within `guard_ms` of such a sample (default 0.5 ms). Default 0: nowhere a known
    /// potential's template reaches (kymo: at 5 σ, a complex repetitive discharge's
    /// later spikes became a unit of their own beside it, `complex-repetitive` seed 37
    /// 0.50 → 0.00; at 1 σ the same).
    pub known_k: f64,
    /// See `known_k`.
    pub guard_ms: f64,
    /// Least matched-filter statistic of a potential, in robust spreads of the statistic
    /// over the chunk (default 7).
    pub min_z: f64,
    /// Amplitude range of a potential relative to its template (default 0.5–2).
    pub amplitude_range: [f64; 2],
    /// Least share of the window's energy above the noise floor the fit explains
    /// (default 0.6).
    pub min_explained: f64,
    /// Least potentials of a unit found this way (default 20: the average of fewer is
    /// too noisy to measure).
    pub min_potentials: usize,
    /// Least correlation of the finds' average with the template that found them
    /// (default 0.9), and least ratio of their sizes (default 0.5).
    pub min_consistency: f64,
    /// See `min_consistency`.
    pub min_consistency_ratio: f64,
    /// Most candidates clustered per chunk, taken evenly (default 20 000).
    pub max_candidates: usize,
    /// Finds whose average correlates at least this well with a known motor unit's
    /// template (at the best shift) are that unit's (default 0.92; in the simulator's
    /// recordings one unit's potentials at a smaller size — a waning neuromyotonic tail,
    /// the trough of a continuous myokymia — correlate 0.925–0.998 with its template,
    /// different units 0.92–0.96: kymo, seeds 11–40, the tail's pieces counted as a unit
    /// of their own cost more).
    pub same_unit_correlation: f64,
    /// Most share of such finds within a quarter of the known unit's median interval of
    /// one of its potentials (default 0.2): a unit's missed potentials lie in its gaps,
    /// another unit's anywhere (half of them that close); above it they are a unit of
    /// their own.
    pub max_beside_share: f64,
    /// Least peak of a new unit's template, multiples of σ (default 1.5).
    pub min_peak_k: f64,
}

impl Default for WeakConfig {
    fn default() -> Self {
        WeakConfig {
            enabled: false,
            threshold_k: 3.5,
            known_k: 0.0,
            guard_ms: 0.5,
            min_z: 7.0,
            amplitude_range: [0.5, 2.0],
            min_explained: 0.6,
            min_potentials: 20,
            min_consistency: 0.9,
            min_consistency_ratio: 0.5,
            max_candidates: 20_000,
            same_unit_correlation: 0.92,
            max_beside_share: 0.2,
            min_peak_k: 1.5,
        }
    }
}

impl WeakConfig {
    pub(crate) fn check(&self) -> Result<()> {
        let ok = self.threshold_k.is_finite()
            && self.threshold_k > 0.0
            && self.known_k.is_finite()
            && self.known_k >= 0.0
            && self.guard_ms.is_finite()
            && (0.0..=20.0).contains(&self.guard_ms)
            && self.min_z.is_finite()
            && self.min_z > 0.0
            && self.amplitude_range[0] > 0.0
            && self.amplitude_range[0] < self.amplitude_range[1]
            && self.amplitude_range[1].is_finite()
            && (0.0..1.0).contains(&self.min_explained)
            && self.min_potentials >= 2
            && self.max_candidates >= 100
            && (0.0..=1.0).contains(&self.min_consistency)
            && (0.0..=1.0).contains(&self.min_consistency_ratio)
            && (0.0..=1.0).contains(&self.same_unit_correlation)
            && (0.0..=1.0).contains(&self.max_beside_share)
            && self.min_peak_k.is_finite()
            && self.min_peak_k >= 0.0;
        if ok {
            Ok(())
        } else {
            Err(Error::config(format!(
                "analyze: weak settings {self:?} are out of range (threshold_k, min_z > 0; known_k, min_peak_k ≥ 0; same_unit_correlation, max_beside_share, min_consistency, min_consistency_ratio in [0, 1]; guard_ms in [0, 20]; 0 < amplitude_range[0] < amplitude_range[1]; min_explained in [0, 1); min_potentials at least 2; max_candidates at least 100)"
            )))
        }
    }
}

/// Units found under the threshold: the new units (ids from `first_id` on, in order) and
/// the potentials found (peak sample, unit id, amplitude µV), a known unit's when their
/// average has its shape.
pub(crate) struct WeakUnits {
    pub units: Vec<Unit>,
    pub potentials: Vec<(u64, u32, f32)>,
}

/// Peaks of `|r|` over `thr` at `free` samples: from each crossing, the largest `|r|`
/// within `align` samples, then none for `dead` samples.
fn local_peaks(r: &[f32], free: &[bool], thr: f32, align: usize, dead: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < r.len() {
        if free[i] && r[i].abs() > thr {
            let end = (i + align).min(r.len());
            let p = (i..end)
                .max_by(|&a, &b| r[a].abs().total_cmp(&r[b].abs()))
                .unwrap_or(i);
            if free[p] {
                out.push(p);
            }
            i = p + dead.max(1);
        } else {
            i += 1;
        }
    }
    out
}

/// Finds units under the detection threshold in one chunk. `known` holds the chunk's
/// potentials (peak sample, index into `units`); `first_id` the id of the first new unit;
/// `detect_k` the detection threshold, multiples of σ.
#[allow(clippy::too_many_arguments)]
pub(crate) fn find(
    sig: &Signal,
    units: &[Unit],
    known: &[(u64, usize)],
    wave_len: usize,
    sort_cfg: &ValidSortConfig,
    cfg: &WeakConfig,
    first_id: u32,
    detect_k: f32,
) -> Result<WeakUnits> {
    let mut out = WeakUnits {
        units: Vec::new(),
        potentials: Vec::new(),
    };
    let n = sig.x.len();
    let sigma = sig.sigma;
    if !cfg.enabled || sigma.is_nan() || sigma <= 0.0 || n < 4 * wave_len {
        return Ok(out);
    }
    let residual = sig.residual(units, known);
    // Where the known potentials stand above `known_k` σ, the residual is their misfit.
    let guard = (cfg.guard_ms * 1e-3 * sig.rate_hz).round() as usize;
    let mut free = vec![true; n];
    let known_thr = (cfg.known_k * sigma as f64) as f32;
    for (j, (x, r)) in sig.x.iter().zip(&residual).enumerate() {
        if (x - r).abs() > known_thr {
            let lo = j.saturating_sub(guard);
            let hi = (j + guard + 1).min(n);
            free[lo..hi].iter_mut().for_each(|f| *f = false);
        }
    }
    // Candidates: peaks of the residual over the lower threshold, each with a whole window.
    let pre = sig.pre;
    let dead = sig.dead as usize;
    let thr = (cfg.threshold_k * sigma as f64) as f32;
    let cands: Vec<usize> = local_peaks(&residual, &free, thr, dead, dead)
        .into_iter()
        .filter(|&p| p >= pre && p - pre + wave_len <= n)
        .collect();
    if cands.len() < cfg.min_potentials {
        return Ok(out);
    }
    // The clusters need only their templates (the finds come from the matched filter),
    // so a long chunk's candidates are thinned evenly: memory stays bounded.
    let step = cands.len().div_ceil(cfg.max_candidates.max(1));
    let cands: Vec<usize> = cands.into_iter().step_by(step).collect();
    let mut waveforms = Vec::with_capacity(cands.len() * wave_len);
    for &p in &cands {
        waveforms.extend_from_slice(&residual[p - pre..p - pre + wave_len]);
    }
    let samples: Vec<u64> = cands.iter().map(|&p| sig.first + p as u64).collect();
    let input = SortInput {
        rate_hz: sig.rate_hz,
        waveforms: sort::Waveforms::Matrix(&waveforms),
        wave_len,
        pre_samples: pre,
        spike_samples: &samples,
        noise_sigma_uv: sigma,
    };
    let sorted = sort::sort(&input, sort_cfg)?;
    let shift = (sort_cfg.get().merge_max_shift_ms * 1e-3 * sig.rate_hz).round() as usize;
    // Each cluster's template over the whole residual.
    let finds: Vec<Vec<(usize, f32)>> = sorted
        .units
        .par_iter()
        .map(|u| scan(&residual, &free, &u.template, sig, cfg))
        .collect();
    let mut order: Vec<usize> = (0..sorted.units.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(finds[k].len()));
    let mut taken: Vec<usize> = Vec::new();
    for k in order {
        let all = &finds[k];
        if all.len() < cfg.min_potentials {
            continue;
        }
        let own: Vec<&(usize, f32)> = all
            .iter()
            .filter(|(p, _)| {
                let i = taken.partition_point(|&t| t + dead < *p);
                taken.get(i).is_none_or(|&t| t > p + dead)
            })
            .collect();
        if own.len() < cfg.min_potentials || 2 * own.len() < all.len() {
            continue;
        }
        // The cluster's template averages candidates picked by their peaks over the low
        // threshold (their noise adds to the peak); the average over all finds is the
        // unit's, with the noise of many more potentials averaged away. Finds that are a
        // unit's potentials average to the cluster's shape; finds in the tails of
        // something else (potentials no unit explains) average to little.
        let mut t = vec![0.0f64; wave_len];
        for &&(p, _) in &own {
            t.iter_mut()
                .zip(&residual[p - pre..p - pre + wave_len])
                .for_each(|(a, &b)| *a += b as f64);
        }
        let t: Vec<f32> = t.iter().map(|v| (v / own.len() as f64) as f32).collect();
        let (c, _, ratio) = similarity(&t, &sorted.units[k].template, shift);
        if c < cfg.min_consistency || ratio < cfg.min_consistency_ratio {
            continue;
        }
        // A known motor unit's shape: its own potentials, missed. Single fibres,
        // positive sharp waves and complexes have their own search in their rhythm
        // ([`super::recover`]); finds of their shape are dropped.
        let (best_known, best_c) = units
            .iter()
            .enumerate()
            .map(|(k, u)| (Some((k, u)), similarity(&t, &u.template, shift).0))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((None, 0.0));
        let known_unit = match best_known {
            Some((k, u)) if best_c >= cfg.same_unit_correlation => {
                if u.class != WaveformClass::MotorUnit {
                    continue;
                }
                // A unit's own missed potentials fall in the gaps of its train; another
                // unit of a like shape (in a voluntary contraction, several) fires beside
                // its potentials as often as not, and is a unit of its own.
                let train: Vec<u64> = known
                    .iter()
                    .filter(|&&(_, j)| j == k)
                    .map(|&(s, _)| s)
                    .collect();
                let beside = beside_share(&train, own.iter().map(|f| sig.first + f.0 as u64));
                (beside <= cfg.max_beside_share).then_some(u.id)
            }
            _ => None,
        };
        let peak = t.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let id = match known_unit {
            Some(id) => id,
            // A new unit stands under the detection threshold, or the threshold would have
            // found it: a larger shape is made of potentials the sort missed or misfit
            // (overlaps of the known units), which average to a noisy copy of them.
            None if peak >= detect_k * sigma => continue,
            None => {
                let mut unit = sorted.units[k].clone();
                unit.id = first_id + out.units.len() as u32;
                unit.n_spikes = own.len();
                unit.n_extra = 0;
                sort::remeasure(
                    &mut unit,
                    t.clone(),
                    pre,
                    own.len(),
                    sig.rate_hz,
                    sigma as f64,
                    sort_cfg,
                );
                // Only motor units: a fibre's or a positive sharp wave's average over the
                // window is measured apart (their slow phases outlast it), and shapes that
                // do not rise to `min_peak_k` σ are no potential anyone sees on the trace.
                if unit.class != WaveformClass::MotorUnit
                    || unit.turns == 0
                    || (peak as f64) < cfg.min_peak_k * sigma as f64
                {
                    continue;
                }
                let id = unit.id;
                out.units.push(unit);
                id
            }
        };
        for &&(p, amp) in &own {
            out.potentials.push((sig.first + p as u64, id, amp));
            taken.push(p);
        }
        taken.sort_unstable();
    }
    Ok(out)
}

/// Share of `finds` (samples) closer to a potential of `train` (sorted samples) than a
/// quarter of the train's median interval; 1 when the train has no interval.
fn beside_share(train: &[u64], finds: impl Iterator<Item = u64>) -> f64 {
    let mut iv: Vec<u64> = train.windows(2).map(|w| w[1] - w[0]).collect();
    if iv.is_empty() {
        return 1.0;
    }
    let mid = iv.len() / 2;
    let near = *iv.select_nth_unstable(mid).1 / 4;
    let (mut n, mut close) = (0usize, 0usize);
    for f in finds {
        n += 1;
        let i = train.partition_point(|&t| t < f);
        let d_next = train.get(i).map_or(u64::MAX, |&t| t - f);
        let d_prev = i.checked_sub(1).map_or(u64::MAX, |j| f - train[j]);
        if d_next.min(d_prev) < near {
            close += 1;
        }
    }
    if n == 0 {
        return 1.0;
    }
    close as f64 / n as f64
}

/// The template's matched filter over the residual: its finds (index into the residual
/// of the peak, amplitude µV), one per dead time.
fn scan(
    r: &[f32],
    free: &[bool],
    template: &[f32],
    sig: &Signal,
    cfg: &WeakConfig,
) -> Vec<(usize, f32)> {
    let Template {
        norm2: tt, lo, hi, ..
    } = Template::new(template);
    let t = &template[lo..hi];
    let pre = sig.pre;
    if tt <= 0.0 || r.len() < template.len() + pre {
        return Vec::new();
    }
    // Peak positions p whose window r[p − pre ..][lo..hi] lies inside the residual.
    let first = pre;
    let last = r.len() + pre - template.len();
    // c[j]: the statistic at peak first + j, whose window starts at j + lo.
    let mut c = correlate(r, t);
    c.truncate(lo + (last - first));
    c.drain(..lo.min(c.len()));
    // The statistic's spread over the free positions (median absolute deviation).
    let mut abs: Vec<f64> = c
        .iter()
        .enumerate()
        .filter(|(j, _)| free[first + j])
        .step_by(3)
        .map(|(_, v)| v.abs() as f64)
        .collect();
    if abs.len() < 100 {
        return Vec::new();
    }
    let mid = abs.len() / 2;
    let spread = *abs.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1 * 1.4826;
    if spread <= 0.0 {
        return Vec::new();
    }
    let dead = sig.dead as usize;
    let peak_uv = template.get(pre).map_or(0.0, |v| v.abs()) as f64;
    let floor = (hi - lo) as f64 * (sig.sigma as f64).powi(2);
    let mut out: Vec<(usize, f32)> = Vec::new();
    let mut j = 0;
    while j < c.len() {
        let z = c[j] as f64 / spread;
        if z < cfg.min_z {
            j += 1;
            continue;
        }
        // The local maximum within the dead time ahead.
        let end = (j + dead + 1).min(c.len());
        let m = (j..end).max_by(|&a, &b| c[a].total_cmp(&c[b])).unwrap_or(j);
        if m != j && c[m] > c[j] {
            j = m;
            continue;
        }
        let p = first + j;
        let a = c[j] as f64 / tt;
        let w = &r[p - pre + lo..p - pre + hi];
        let xx: f64 = w.iter().map(|v| (*v as f64).powi(2)).sum();
        let excess = xx - floor;
        let model = a * c[j] as f64;
        let explained = if excess > model { model / excess } else { 1.0 };
        if free[p]
            && a >= cfg.amplitude_range[0]
            && a <= cfg.amplitude_range[1]
            && explained >= cfg.min_explained
        {
            out.push((p, (a * peak_uv) as f32));
        }
        j += dead.max(1);
    }
    out
}

/// Least FFT length of [`correlate`]'s blocks.
const FFT_MIN: usize = 4096;

/// `c[j] = Σ_i r[j + i]·t[i]` for `j` in `0..=r.len() − t.len()`, in blocks by FFT
/// (overlap-save): a template of `L` samples costs `L` multiply-adds per position
/// directly, and a few dozen operations per position this way.
fn correlate(r: &[f32], t: &[f32]) -> Vec<f32> {
    let l = t.len();
    if l == 0 || r.len() < l {
        return Vec::new();
    }
    let n_out = r.len() - l + 1;
    let n = (4 * l).next_power_of_two().max(FFT_MIN);
    let step = n - l + 1;
    let mut planner = RealFftPlanner::<f32>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let mut buf = fwd.make_input_vec();
    let mut h = fwd.make_output_vec();
    buf[..l].copy_from_slice(t);
    if fwd.process(&mut buf, &mut h).is_err() {
        return Vec::new();
    }
    // Correlation is the product with the conjugate; the inverse is unnormalised.
    let scale = 1.0 / n as f32;
    h.iter_mut().for_each(|z| *z = z.conj() * scale);
    let mut spec = fwd.make_output_vec();
    let mut y = inv.make_output_vec();
    let mut out = vec![0.0f32; n_out];
    let mut s = 0;
    while s < n_out {
        let end = (s + n).min(r.len());
        buf[..end - s].copy_from_slice(&r[s..end]);
        buf[end - s..].fill(0.0);
        if fwd.process(&mut buf, &mut spec).is_err() {
            return Vec::new();
        }
        spec.iter_mut().zip(&h).for_each(|(a, b)| *a *= b);
        // A real signal's spectrum has real end bins; rounding must not say otherwise.
        if let Some(z) = spec.first_mut() {
            z.im = 0.0;
        }
        if let Some(z) = spec.last_mut() {
            z.im = 0.0;
        }
        if inv.process(&mut spec, &mut y).is_err() {
            return Vec::new();
        }
        let m = step.min(n_out - s);
        out[s..s + m].copy_from_slice(&y[..m]);
        s += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::SortConfig;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    const RATE: f64 = 20_000.0;
    const PRE: usize = 80;
    const LEN: usize = 200;
    const SIGMA: f32 = 10.0;

    /// `seconds` of Gaussian noise (σ 10 µV) with a three-phase potential of peak `amp`
    /// (a motor unit potential's shape, about 7 ms) added at `times` (samples).
    fn recording(seconds: f64, amp: f32, times: &[usize], seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = (seconds * RATE) as usize;
        let mut x: Vec<f32> = (0..n)
            .map(|_| SIGMA * rng.sample::<f32, _>(StandardNormal))
            .collect();
        for &t in times {
            for k in 0..LEN {
                let u = (k as f32 - PRE as f32) / 30.0;
                if let Some(v) = x.get_mut(t + k - PRE) {
                    *v += amp * (1.0 - 2.0 * u * u) * (-u * u).exp();
                }
            }
        }
        x
    }

    fn find_in(x: &[f32]) -> WeakUnits {
        let sig = Signal {
            x,
            first: 0,
            sigma: SIGMA,
            rate_hz: RATE,
            pre: PRE,
            dead: 20,
        };
        let cfg = SortConfig::default().check().unwrap();
        let weak = WeakConfig {
            enabled: true,
            ..WeakConfig::default()
        };
        find(&sig, &[], &[], LEN, &cfg, &weak, 0, 5.0).unwrap()
    }

    /// A unit whose peak (3 σ) never reaches the detection threshold (5 σ), firing
    /// irregularly at about 8 Hz for 20 s, is found with most of its potentials, and
    /// nothing else is.
    #[test]
    fn a_unit_under_the_threshold_is_found_in_noise() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut times = Vec::new();
        let mut t = 2_000usize;
        while t < 19 * RATE as usize {
            times.push(t);
            t += 1_500 + rng.random_range(0..2_000usize);
        }
        let x = recording(20.0, 3.0 * SIGMA, &times, 4);
        let w = find_in(&x);
        assert_eq!(w.units.len(), 1, "{} units", w.units.len());
        let found: Vec<u64> = w.potentials.iter().map(|p| p.0).collect();
        let hit = |a: u64| found.iter().any(|&b| b.abs_diff(a) <= 20);
        let recalled = times.iter().filter(|&&t| hit(t as u64)).count();
        let true_ones = found
            .iter()
            .filter(|&&b| times.iter().any(|&a| b.abs_diff(a as u64) <= 20))
            .count();
        assert!(
            recalled as f64 >= 0.8 * times.len() as f64,
            "{recalled} of {}",
            times.len()
        );
        assert!(
            true_ones as f64 >= 0.95 * found.len() as f64,
            "{true_ones} of {}",
            found.len()
        );
        assert_eq!(w.units[0].class, WaveformClass::MotorUnit);
    }

    /// Finds in a train's gaps are its own missed beats; finds beside its potentials are
    /// another unit's.
    #[test]
    fn finds_beside_a_trains_potentials_are_counted_and_those_in_its_gaps_are_not() {
        let train: Vec<u64> = (0..20).map(|k| 1_000 + 1_000 * k).collect();
        // One gap-filling find per interval (500 samples from both neighbours).
        assert_eq!(
            beside_share(&train, (0..19).map(|k| 1_500 + 1_000 * k)),
            0.0
        );
        // Within a quarter interval (250 samples) of a potential, on either side.
        let mixed = [1_100u64, 2_900, 4_500, 6_500];
        assert_eq!(beside_share(&train, mixed.into_iter()), 0.5);
        assert_eq!(beside_share(&[5], [7u64].into_iter()), 1.0);
    }

    /// Noise alone has no unit in it.
    #[test]
    fn noise_alone_has_no_unit() {
        let x = recording(20.0, 0.0, &[], 5);
        let w = find_in(&x);
        assert!(
            w.units.is_empty() && w.potentials.is_empty(),
            "{} units",
            w.units.len()
        );
    }

    #[test]
    fn correlation_by_blocks_is_the_direct_sum() {
        // Long enough for several blocks, with a template of an odd length.
        let r: Vec<f32> = (0..10_000)
            .map(|i| ((i * 7919) % 97) as f32 - 48.0)
            .collect();
        let t: Vec<f32> = (0..37).map(|i| (i as f32 * 0.3).sin()).collect();
        let c = correlate(&r, &t);
        assert_eq!(c.len(), r.len() - t.len() + 1);
        for j in [0, 1, 4000, 4059, 4060, 4061, 8000, c.len() - 1] {
            let direct: f64 = t.iter().zip(&r[j..]).map(|(a, b)| (*a * *b) as f64).sum();
            assert!(
                (c[j] as f64 - direct).abs() < 1e-2 * (1.0 + direct.abs()),
                "{j}: {} vs {direct}",
                c[j]
            );
        }
    }
}
