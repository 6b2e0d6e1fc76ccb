//! Recovering potentials the threshold missed in a unit's own rhythm. A fixed threshold
//! (`detect.threshold_k` σ) loses the potentials of a regular train whose amplitude wanes
//! below it — the tail of a neuromyotonic or myotonic discharge (brief: "waning" is their
//! hallmark) — and, at low SNR, some beats of a fibrillating fibre, which then breaks a
//! regular train into fragments. Once the unit's template is known, a matched filter
//! finds such a potential far below the detection threshold (its statistic grows with the
//! template's energy, not its peak), and the train says where to look: where one interval
//! is a multiple of its neighbours, or one interval past the end of a run.

use serde::{Deserialize, Serialize};

use crate::sort::linalg::{dot, dot2};
use crate::sort::Unit;
use crate::{Error, Result};

/// Gap filling in a unit's rhythm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoverConfig {
    /// Search for missed potentials at all (default true).
    pub enabled: bool,
    /// Least matched-filter statistic `a·‖t‖/σ` of a recovered potential (default 8: far
    /// above what noise reaches in the few hundred positions of one search window).
    pub min_z: f64,
    /// Least share of the window's energy over the template's support that the fitted
    /// template explains (default 0.6).
    pub min_explained: f64,
    /// Amplitude range relative to the unit's template (default 0.25–1.5: a waning train
    /// falls to a quarter of its first potentials, brief on neuromyotonic/myotonic waning).
    pub amplitude_range: [f64; 2],
    /// Only trains whose local interval is at most this, s (default 1.0: fibrillation
    /// potentials fire at 0.5–15 Hz, brief).
    pub max_interval_s: f64,
    /// An interval this many times its neighbours' is a gap with missed potentials
    /// (default 1.6).
    pub gap_factor: f64,
    /// Most potentials recovered in one gap or past one run's end (default 50).
    pub max_per_gap: usize,
    /// Search half-width around an expected position, as a share of the local interval
    /// (default 0.25).
    pub search_fraction: f64,
}

impl Default for RecoverConfig {
    fn default() -> Self {
        RecoverConfig {
            enabled: true,
            min_z: 8.0,
            min_explained: 0.6,
            amplitude_range: [0.25, 1.5],
            max_interval_s: 1.0,
            gap_factor: 1.6,
            max_per_gap: 50,
            search_fraction: 0.25,
        }
    }
}

impl RecoverConfig {
    pub(crate) fn check(&self) -> Result<()> {
        let ok = self.min_z.is_finite()
            && self.min_z > 0.0
            && (0.0..1.0).contains(&self.min_explained)
            && self.amplitude_range[0] > 0.0
            && self.amplitude_range[0] < self.amplitude_range[1]
            && self.max_interval_s > 0.0
            && self.max_interval_s <= 10.0
            && self.gap_factor > 1.0
            && self.search_fraction > 0.0
            && self.search_fraction < 0.5;
        if ok {
            Ok(())
        } else {
            Err(Error::config(format!(
                "analyze: recover settings {self:?} are out of range (min_z > 0, min_explained in [0, 1), 0 < amplitude_range[0] < amplitude_range[1], max_interval_s in (0, 10], gap_factor > 1, search_fraction in (0, 0.5))"
            )))
        }
    }
}

/// The filtered samples of one sorting chunk.
pub(crate) struct Signal<'a> {
    pub x: &'a [f32],
    /// Recording sample of `x[0]`.
    pub first: u64,
    pub sigma: f32,
    pub rate_hz: f64,
    /// Template index of the peak.
    pub pre: usize,
    /// No recovered potential closer than this (samples) to any detected one.
    pub dead: u64,
}

struct Template<'a> {
    t: &'a [f32],
    norm2: f64,
    /// `[lo, hi)`: the template's samples outside are exactly zero (the sorter's templates
    /// are zero outside their support), so the correlation skips them.
    lo: usize,
    hi: usize,
}

impl<'a> Template<'a> {
    fn new(t: &'a [f32]) -> Template<'a> {
        let norm2 = t.iter().map(|v| (*v as f64).powi(2)).sum();
        let lo = t.iter().position(|v| *v != 0.0).unwrap_or(0);
        let hi = t.iter().rposition(|v| *v != 0.0).map_or(lo, |i| i + 1);
        Template { t, norm2, lo, hi }
    }
}

impl Signal<'_> {
    /// Best fit of `tpl` with its peak in `lo..=hi` (recording samples): (peak sample,
    /// amplitude, z, explained share). The window's energy slides along with the peak.
    fn best_fit(&self, tpl: &Template, lo: i64, hi: i64) -> Option<(u64, f64, f64, f64)> {
        let len = tpl.t.len();
        // Window start of a peak: `peak − off`; the window must lie inside the signal.
        let off = self.pre as i64 + self.first as i64;
        let lo = lo.max(off);
        let hi = hi.min(self.x.len() as i64 - len as i64 + off);
        if lo > hi {
            return None;
        }
        let sq = |v: f32| (v as f64) * (v as f64);
        let first = (lo - off) as usize;
        let mut xx: f64 = self.x[first..first + len].iter().map(|v| sq(*v)).sum();
        let (t0, t1) = (tpl.lo, tpl.hi);
        let mut best: Option<(u64, f64, f64, f64)> = None;
        // Products with the template at two peaks at a time (`dot2` gives each the bits of
        // its own `dot`, with twice the additions in flight), used one peak after the other.
        let t = &tpl.t[t0..t1];
        let at = |peak: i64| &self.x[(peak - off) as usize + t0..];
        let mut next: Option<f64> = None;
        for peak in lo..=hi {
            let start = (peak - off) as usize;
            if start > first {
                xx = (xx + sq(self.x[start + len - 1]) - sq(self.x[start - 1])).max(0.0);
            }
            let xt = match next.take() {
                Some(xt) => xt,
                None if peak < hi => {
                    let (xt, xt1) = dot2(t, at(peak), at(peak + 1));
                    next = Some(xt1);
                    xt
                }
                None => dot(at(peak), t),
            };
            let a = xt / tpl.norm2;
            if a <= 0.0 {
                continue;
            }
            let z = a * tpl.norm2.sqrt() / self.sigma as f64;
            let explained = if xx > 0.0 { a * xt / xx } else { 0.0 };
            if best.is_none_or(|b| z > b.2) {
                best = Some((peak as u64, a, z, explained));
            }
        }
        best
    }
}

/// Recovers missed potentials of each unit of one chunk. `trains[k]` holds the sorted
/// peak samples of chunk unit `k`; `occupied` every detected peak of the chunk (sorted).
/// Returns `(peak sample, chunk unit index, amplitude µV)` of each recovered potential.
pub(crate) fn recover(
    sig: &Signal,
    units: &[Unit],
    trains: &[Vec<u64>],
    occupied: &[u64],
    cfg: &RecoverConfig,
) -> Vec<(u64, usize, f32)> {
    let mut out: Vec<(u64, usize, f32)> = Vec::new();
    if !cfg.enabled || sig.sigma.is_nan() || sig.sigma <= 0.0 {
        return out;
    }
    let max_iv = (cfg.max_interval_s * sig.rate_hz) as u64;
    let free = |s: u64, extra: &[(u64, usize, f32)]| {
        let i = occupied.partition_point(|&o| o + sig.dead < s);
        let near_detected = occupied.get(i).is_some_and(|&o| o <= s + sig.dead);
        !near_detected && !extra.iter().any(|e| e.0.abs_diff(s) <= sig.dead)
    };
    for (k, (u, train)) in units.iter().zip(trains).enumerate() {
        let tpl = Template::new(&u.template);
        if train.len() < 3 || tpl.norm2 <= 0.0 {
            continue;
        }
        let peak_uv = u.template.get(sig.pre).map_or(0.0, |v| v.abs());
        let accept = |fit: (u64, f64, f64, f64)| {
            fit.2 >= cfg.min_z
                && fit.3 >= cfg.min_explained
                && fit.1 >= cfg.amplitude_range[0]
                && fit.1 <= cfg.amplitude_range[1]
        };
        let mut found: Vec<(u64, usize, f32)> = Vec::new();
        let iv: Vec<u64> = train.windows(2).map(|w| w[1] - w[0]).collect();
        // The local interval around interval `j`: the shorter of its neighbours.
        let local = |j: usize| -> Option<u64> {
            let p = j.checked_sub(1).and_then(|i| iv.get(i)).copied();
            let n = iv.get(j + 1).copied();
            match (p, n) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        // Gaps inside a run.
        for j in 0..iv.len() {
            let Some(r) = local(j) else { continue };
            if r == 0 || r > max_iv || (iv[j] as f64) < cfg.gap_factor * r as f64 {
                continue;
            }
            let m = (iv[j] as f64 / r as f64).round().max(2.0) as u64;
            if m - 1 > cfg.max_per_gap as u64 {
                continue;
            }
            let step = iv[j] as f64 / m as f64;
            let half = (cfg.search_fraction * step) as i64;
            for q in 1..m {
                let c = train[j] as i64 + (q as f64 * step).round() as i64;
                if let Some(fit) = sig.best_fit(&tpl, c - half, c + half) {
                    if accept(fit) && free(fit.0, &found) {
                        found.push((fit.0, k, (fit.1 * peak_uv as f64) as f32));
                    }
                }
            }
        }
        // Past the end of each run: keep stepping at the last interval while potentials
        // are found.
        let mut ends: Vec<usize> = (0..iv.len())
            .filter(|&j| {
                j >= 1 && iv[j - 1] <= max_iv && iv[j] as f64 >= cfg.gap_factor * iv[j - 1] as f64
            })
            .collect();
        if iv.len() >= 2 && iv[iv.len() - 1] <= max_iv {
            ends.push(iv.len());
        }
        for e in ends {
            let (mut last, mut r) = (train[e], iv[e - 1]);
            let limit = train.get(e + 1).copied().unwrap_or(u64::MAX);
            for _ in 0..cfg.max_per_gap {
                let c = (last + r) as i64;
                if c as u64 + r / 2 >= limit {
                    break;
                }
                let half = (cfg.search_fraction * r as f64) as i64;
                match sig.best_fit(&tpl, c - half, c + half) {
                    Some(fit) if accept(fit) && free(fit.0, &found) => {
                        found.push((fit.0, k, (fit.1 * peak_uv as f64) as f32));
                        r = fit.0.saturating_sub(last).max(1);
                        last = fit.0;
                    }
                    _ => break,
                }
            }
        }
        out.extend(found);
    }
    out
}
