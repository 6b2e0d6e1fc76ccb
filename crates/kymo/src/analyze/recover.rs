//! Recovering potentials the threshold missed in a unit's own rhythm. A fixed threshold
//! (`detect.threshold_k` σ) loses the potentials of a regular train whose amplitude wanes
//! below it — the tail of a neuromyotonic or myotonic discharge (brief: "waning" is their
//! hallmark) — and, at low SNR, some beats of a fibrillating fibre, which then breaks a
//! regular train into fragments. Once the unit's template is known, a matched filter
//! finds such a potential far below the detection threshold (its statistic grows with the
//! template's energy, not its peak), and the train says where to look: where one interval
//! is a multiple of its neighbours, or one interval past the end of a run.
//!
//! The potentials already known (every unit's sorted ones) are subtracted from the search
//! window first, each at its own fitted amplitude: a weak unit firing among a larger one
//! (continuous myokymia of two units, brief) otherwise finds the larger unit's potential
//! as its best fit in every gap, which the amplitude range rejects, and its own potential
//! beside it is never looked at.

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

/// Samples around a known potential's peak searched for its best alignment when it is
/// subtracted (the detector's peak and the template's may differ by a sample or two).
const PEEL_ALIGN: i64 = 2;

/// The largest amplitude at which a known potential is subtracted, relative to its
/// template (as the sorter's amplitude range).
const PEEL_MAX_AMPLITUDE: f64 = 4.0;

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
    /// The signal from recording sample `start` for `len` samples (zero outside the
    /// chunk), less the known potentials `known` (peak sample, template) that reach into
    /// it, each at the amplitude that fits it best.
    fn peeled(&self, start: i64, len: usize, known: &[(u64, &Template)]) -> Vec<f32> {
        let at = |i: i64| -> f32 {
            let j = i - self.first as i64;
            if j >= 0 && (j as usize) < self.x.len() {
                self.x[j as usize]
            } else {
                0.0
            }
        };
        let mut buf: Vec<f32> = (0..len as i64).map(|k| at(start + k)).collect();
        let end = start + len as i64;
        for &(peak, tpl) in known {
            let w0 = peak as i64 - self.pre as i64;
            if w0 + tpl.hi as i64 <= start || w0 + tpl.lo as i64 >= end || tpl.norm2 <= 0.0 {
                continue;
            }
            // Amplitude and alignment fitted on the signal itself.
            let fit_at = |d: i64| -> f64 {
                (tpl.lo..tpl.hi)
                    .map(|k| at(w0 + d + k as i64) as f64 * tpl.t[k] as f64)
                    .sum::<f64>()
                    / tpl.norm2
            };
            let (d, a) = (-PEEL_ALIGN..=PEEL_ALIGN)
                .map(|d| (d, fit_at(d)))
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .unwrap_or((0, 0.0));
            let a = a.clamp(0.0, PEEL_MAX_AMPLITUDE) as f32;
            if a == 0.0 {
                continue;
            }
            for k in tpl.lo..tpl.hi {
                let i = w0 + d + k as i64 - start;
                if i >= 0 && (i as usize) < len {
                    buf[i as usize] -= a * tpl.t[k];
                }
            }
        }
        buf
    }

    /// Best fit of `tpl` with its peak in `lo..=hi` (recording samples), the potentials
    /// `known` subtracted first: (peak sample, amplitude, z, explained share). The
    /// window's energy slides along with the peak.
    fn best_fit(
        &self,
        tpl: &Template,
        lo: i64,
        hi: i64,
        known: &[(u64, &Template)],
    ) -> Option<(u64, f64, f64, f64)> {
        let len = tpl.t.len();
        // Window start of a peak: `peak − off`; the window must lie inside the signal.
        let off = self.pre as i64 + self.first as i64;
        let lo = lo.max(off);
        let hi = hi.min(self.x.len() as i64 - len as i64 + off);
        if lo > hi {
            return None;
        }
        let sq = |v: f32| (v as f64) * (v as f64);
        // The signal under every window searched: from the first window's start to the
        // last one's end.
        let seg_start = lo - self.pre as i64;
        let x = self.peeled(seg_start, (hi - lo) as usize + len, known);
        let mut xx: f64 = x[..len].iter().map(|v| sq(*v)).sum();
        let (t0, t1) = (tpl.lo, tpl.hi);
        let mut best: Option<(u64, f64, f64, f64)> = None;
        // Products with the template at two peaks at a time (`dot2` gives each the bits of
        // its own `dot`, with twice the additions in flight), used one peak after the other.
        let t = &tpl.t[t0..t1];
        let at = |peak: i64| &x[(peak - lo) as usize + t0..];
        let mut next: Option<f64> = None;
        for peak in lo..=hi {
            let start = (peak - lo) as usize;
            if start > 0 {
                xx = (xx + sq(x[start + len - 1]) - sq(x[start - 1])).max(0.0);
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

/// The known potentials (peak sample, template) whose window can reach `lo..=hi`.
fn known_near<'t>(
    all: &[(u64, usize)],
    templates: &'t [Template<'t>],
    lo: i64,
    hi: i64,
    reach: i64,
) -> Vec<(u64, &'t Template<'t>)> {
    let from = all.partition_point(|&(s, _)| (s as i64) < lo - reach);
    all[from..]
        .iter()
        .take_while(|&&(s, _)| s as i64 <= hi + reach)
        .filter_map(|&(s, k)| templates.get(k).map(|t| (s, t)))
        .collect()
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
    let templates: Vec<Template> = units.iter().map(|u| Template::new(&u.template)).collect();
    let mut all: Vec<(u64, usize)> = trains
        .iter()
        .enumerate()
        .flat_map(|(k, t)| t.iter().map(move |&s| (s, k)))
        .collect();
    all.sort_unstable();
    // A known potential reaches a window when the two frames overlap.
    let reach = units.iter().map(|u| u.template.len()).max().unwrap_or(0) as i64;
    let fit_near = |tpl: &Template, lo: i64, hi: i64| {
        let known = known_near(&all, &templates, lo, hi, reach);
        sig.best_fit(tpl, lo, hi, &known)
    };
    for (k, (u, train)) in units.iter().zip(trains).enumerate() {
        let tpl = &templates[k];
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
        // A unit that mostly fires slower than `max_interval_s` is not a train with beats
        // to miss: a fasciculating unit's random intervals (brief: well under 1 Hz) are
        // sometimes short, and a search in its gaps finds only what other potentials leave.
        let median_iv = {
            let mut v = iv.clone();
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(u64::MAX)
        };
        if median_iv > max_iv {
            continue;
        }
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
            // Step through the gap, re-dividing what is left of it after each potential
            // found (a waxing and waning rate moves the beats off an even division).
            let (end, mut last) = (train[j + 1] as f64, train[j] as f64);
            let mut left = m;
            while left >= 2 {
                let step = (end - last) / left as f64;
                let half = (cfg.search_fraction * step) as i64;
                let c = (last + step).round() as i64;
                match fit_near(tpl, c - half, c + half) {
                    Some(fit) if accept(fit) && free(fit.0, &found) => {
                        found.push((fit.0, k, (fit.1 * peak_uv as f64) as f32));
                        last = fit.0 as f64;
                        left = ((end - last) / r as f64).round().max(1.0) as u64;
                    }
                    _ => {
                        last += step;
                        left -= 1;
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
                match fit_near(tpl, c - half, c + half) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::{Polarity, WaveformClass};

    /// A three-phase potential of `len` samples, its (negative) peak at `pre`.
    fn shape(len: usize, pre: usize, amp: f32, width: f32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let x = (i as f32 - pre as f32) / width;
                amp * (2.0 * x * x - 1.0) * (-x * x).exp()
            })
            .collect()
    }

    fn unit(id: u32, template: Vec<f32>) -> Unit {
        Unit {
            id,
            template,
            n_spikes: 0,
            n_extra: 0,
            p2p_uv: 0.0,
            duration_ms: 0.0,
            onset_ms: 0.0,
            end_ms: 0.0,
            phases: 3,
            turns: 0,
            first_phase: Polarity::Positive,
            area_uv_ms: 0.0,
            snr_db: 0.0,
            amplitude_spread: 0.0,
            l_ratio: 0.0,
            isolation_distance: None,
            class: WaveformClass::MotorUnit,
            class_reason: String::new(),
        }
    }

    /// A weak unit firing every 30 ms has one beat the threshold missed, 3 ms after a
    /// potential of a unit three times its size: the search must subtract the large
    /// potential to find the weak one beside it (without, its best fit is the large
    /// potential, which the amplitude range rejects).
    #[test]
    fn a_missed_beat_beside_a_larger_units_potential_is_recovered() {
        let (len, pre) = (200usize, 80usize);
        let weak = shape(len, pre, 150.0, 8.0);
        let big = shape(len, pre, 450.0, 10.0);
        let n = 20_000usize;
        let mut x = vec![0.0f32; n];
        // Deterministic small "noise" (±2 µV) so σ is meaningful.
        for (i, v) in x.iter_mut().enumerate() {
            *v = ((i * 7919 % 997) as f32 / 997.0 - 0.5) * 4.0;
        }
        let add = |x: &mut [f32], t: &[f32], peak: usize| {
            for (k, v) in t.iter().enumerate() {
                if let Some(s) = x.get_mut(peak + k - pre) {
                    *s += v;
                }
            }
        };
        let weak_train: Vec<u64> = (0..10).map(|k| 2_000 + 600 * k).collect();
        let missed = weak_train[5];
        for &p in &weak_train {
            add(&mut x, &weak, p as usize);
        }
        let big_at = missed - 60;
        add(&mut x, &big, big_at as usize);
        let units = vec![unit(0, weak), unit(1, big)];
        let detected: Vec<u64> = weak_train
            .iter()
            .copied()
            .filter(|&p| p != missed)
            .collect();
        let trains = vec![detected.clone(), vec![big_at]];
        let mut occupied = detected;
        occupied.push(big_at);
        occupied.sort_unstable();
        let sig = Signal {
            x: &x,
            first: 0,
            sigma: 1.2,
            rate_hz: 20_000.0,
            pre,
            dead: 20,
        };
        let found = recover(&sig, &units, &trains, &occupied, &RecoverConfig::default());
        assert!(
            found
                .iter()
                .any(|&(s, k, _)| k == 0 && s.abs_diff(missed) <= 2),
            "missed beat at {missed} not recovered: {found:?}"
        );
        assert!(
            found.iter().all(|&(s, _, _)| s.abs_diff(missed) <= 2),
            "recovered where nothing was missed: {found:?}"
        );
    }
}
