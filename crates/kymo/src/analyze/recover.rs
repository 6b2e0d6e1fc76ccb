//! Recovering potentials the threshold missed in a unit's own rhythm. A fixed threshold
//! (`detect.threshold_k` σ) loses the potentials of a regular train whose amplitude wanes
//! below it — the tail of a neuromyotonic or myotonic discharge (brief: "waning" is their
//! hallmark) — and, at low SNR, some beats of a fibrillating fibre, which then breaks a
//! regular train into fragments. Once the unit's template is known, a matched filter
//! finds such a potential far below the detection threshold (its statistic grows with the
//! template's energy, not its peak), and the train says where to look: in an interval
//! well longer than its neighbours (the whole of it: a waxing and waning rate moves the
//! missed beats far from an even division), or past the end of a run, one interval after
//! another (over a couple of empty positions) for as long as potentials are found. A fit
//! is kept when it explains most of the window's energy above the noise floor (for a unit
//! firing faster than its potentials are long, of the support within half an interval of
//! the peak: the neighbouring beats, themselves missed, fill the rest); two units' fits
//! within the dead time of each other keep the better. A detection the sort left unsorted
//! may be recovered; nothing is recovered beside a sorted one.
//!
//! The potentials already known (every unit's sorted ones) are subtracted from the search
//! window first, each at its own fitted amplitude: a weak unit firing among a larger one
//! (continuous myokymia of two units, brief) otherwise finds the larger unit's potential
//! as its best fit in every gap, which the amplitude range rejects, and its own potential
//! beside it is never looked at.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::sort::linalg::{dot, dot2};
use crate::sort::{Unit, WaveformClass};
use crate::{Error, Result};

/// Gap filling in a unit's rhythm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoverConfig {
    /// Search for missed potentials at all (default true).
    pub enabled: bool,
    /// Least matched-filter statistic `a·‖t‖/σ` of a recovered potential (default 8: far
    /// above what noise reaches in the thousands of positions of one gap).
    pub min_z: f64,
    /// Least share of the window's energy above the noise floor (`σ²` per sample) that
    /// the fitted template explains (default 0.8).
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
    /// Least interval between a recovered potential and its neighbours in the train, as a
    /// share of the local interval (default 0.5: a rate waxing and waning by up to ±50 %,
    /// as the simulator's continuous myokymia, brings beats no closer than that).
    pub min_interval_fraction: f64,
    /// Least amplitude of a recovered potential, as a share of the smaller of the two
    /// potentials beside it in a gap, or of the one before it past a run's end (default
    /// 0.5: a unit's potential changes size gradually; a neuromyotonic or myotonic train
    /// wanes to a quarter over many beats, brief).
    pub min_neighbour_fraction: f64,
    /// Most potentials recovered in one gap (default 50; a longer gap is searched only
    /// by stepping on from its start, see `max_per_run_end`).
    pub max_per_gap: usize,
    /// Most potentials recovered past one run's end (default 2000: a neuromyotonic
    /// discharge runs at 150–300 Hz for a few seconds, brief, and its waning tail may all
    /// lie under the threshold; each step searches only around the next expected beat).
    pub max_per_run_end: usize,
    /// Expected beats past a run's end that may be stepped over without a potential
    /// before the search stops (default 2: a beat lost in noise or under another unit's
    /// potential does not end a neuromyotonic discharge's waning tail).
    pub run_end_skips: usize,
    /// Search half-width around the next expected position past the end of a run, as a
    /// share of the last interval (default 0.25).
    pub search_fraction: f64,
}

impl Default for RecoverConfig {
    fn default() -> Self {
        RecoverConfig {
            enabled: true,
            min_z: 8.0,
            min_explained: 0.8,
            amplitude_range: [0.25, 1.5],
            max_interval_s: 1.0,
            gap_factor: 1.6,
            min_interval_fraction: 0.5,
            min_neighbour_fraction: 0.5,
            max_per_gap: 50,
            max_per_run_end: 2000,
            run_end_skips: 2,
            search_fraction: 0.25,
        }
    }
}

/// Upper bound of `max_per_gap` and `max_per_run_end`: a minute of a 300 Hz train.
const MAX_RECOVERED_PER_RUN: usize = 20_000;

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
            && (0.0..=1.0).contains(&self.min_neighbour_fraction)
            && self.min_interval_fraction > 0.0
            && self.min_interval_fraction < 1.0
            && self.search_fraction > 0.0
            && self.search_fraction < 0.5
            && self.max_per_gap <= MAX_RECOVERED_PER_RUN
            && self.max_per_run_end <= MAX_RECOVERED_PER_RUN
            && self.run_end_skips <= 100;
        if ok {
            Ok(())
        } else {
            Err(Error::config(format!(
                "analyze: recover settings {self:?} are out of range (min_z > 0, min_explained in [0, 1), 0 < amplitude_range[0] < amplitude_range[1], max_interval_s in (0, 10], gap_factor > 1, min_interval_fraction in (0, 1), min_neighbour_fraction in [0, 1], search_fraction in (0, 0.5), max_per_gap and max_per_run_end at most {MAX_RECOVERED_PER_RUN}, run_end_skips at most 100)"
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

/// A fit of a template: (peak sample, amplitude relative to the template, matched-filter
/// statistic z, share of the window's energy explained).
type Fit = (u64, f64, f64, f64);

/// A recovered potential: (peak sample, chunk unit index, amplitude µV, z).
type Recovered = (u64, usize, f32, f64);

pub(crate) struct Template<'a> {
    pub t: &'a [f32],
    pub norm2: f64,
    /// `[lo, hi)`: the template's samples outside are exactly zero (the sorter's templates
    /// are zero outside their support), so the correlation skips them.
    pub lo: usize,
    pub hi: usize,
}

impl<'a> Template<'a> {
    pub(crate) fn new(t: &'a [f32]) -> Template<'a> {
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

    /// The whole chunk less the known potentials `known` (peak sample, index into
    /// `units`), each at the amplitude that fits it best.
    pub(crate) fn residual(&self, units: &[Unit], known: &[(u64, usize)]) -> Vec<f32> {
        let templates: Vec<Template> = units.iter().map(|u| Template::new(&u.template)).collect();
        let known: Vec<(u64, &Template)> = known
            .iter()
            .filter_map(|&(s, k)| templates.get(k).map(|t| (s, t)))
            .collect();
        self.peeled(self.first as i64, self.x.len(), &known)
    }

    /// Best fit of `tpl` with its peak in `lo..=hi` (recording samples) among those `ok`
    /// accepts, the potentials `known` subtracted first: (peak sample, amplitude, z,
    /// explained share). `interval` is the train's local interval, samples: when it is
    /// shorter than the template's support (neuromyotonic, 150–300 Hz, brief), the beats
    /// beside a missed one, themselves missed, reach into its window and are no sign of
    /// another unit, so the explained share is taken over the support within half an
    /// interval of the peak. The window's energy slides along with the peak.
    fn best_fit(
        &self,
        tpl: &Template,
        lo: i64,
        hi: i64,
        known: &[(u64, &Template)],
        interval: usize,
        ok: impl Fn(Fit) -> bool,
    ) -> Option<Fit> {
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
        let (t0, t1) = (tpl.lo, tpl.hi);
        // The region judged: the whole frame, or in a train faster than its potentials are
        // long, the support within half an interval of the peak.
        let (r0, r1) = if interval >= t1 - t0 {
            (0, len)
        } else {
            let half = interval / 2;
            let r0 = t0.max(self.pre.saturating_sub(half));
            (r0, t1.min(self.pre + half + 1).max(r0))
        };
        let whole = (r0, r1) == (0, len);
        let region_t = &tpl.t[r0..r1];
        let region_tt: f64 = region_t.iter().map(|v| sq(*v)).sum();
        let mut xx: f64 = x[r0..r1].iter().map(|v| sq(*v)).sum();
        let mut best: Option<Fit> = None;
        let floor = (r1 - r0) as f64 * (self.sigma as f64).powi(2);
        // Products with the template at two peaks at a time (`dot2` gives each the bits of
        // its own `dot`, with twice the additions in flight), used one peak after the other.
        let t = &tpl.t[t0..t1];
        let at = |peak: i64| &x[(peak - lo) as usize + t0..];
        let mut next: Option<f64> = None;
        for peak in lo..=hi {
            let start = (peak - lo) as usize;
            if start > 0 {
                xx = (xx + sq(x[start + r1 - 1]) - sq(x[start + r0 - 1])).max(0.0);
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
            // Share of the window's energy above the noise floor that the fit explains:
            // a weak potential alone in noise explains all of it, whatever its z, while
            // another unit's potential is explained only as far as the shapes correlate.
            let excess = xx - floor;
            let model = if whole {
                a * xt
            } else {
                let xr = dot(&x[start + r0..start + r1], region_t);
                2.0 * a * xr - a * a * region_tt
            };
            let explained = if excess > model { model / excess } else { 1.0 };
            let fit = (peak as u64, a, z, explained);
            if best.is_none_or(|b| z > b.2) && ok(fit) {
                best = Some(fit);
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
/// peak samples of chunk unit `k`; `occupied` the potentials already placed (sorted
/// detections and resolved overlaps, in order): nothing is recovered within the dead time
/// of those, nor of another recovered potential. A detection the sort left unsorted may be
/// recovered as a unit's potential.
/// Returns `(peak sample, chunk unit index, amplitude µV)` of each recovered potential.
pub(crate) fn recover(
    sig: &Signal,
    units: &[Unit],
    trains: &[Vec<u64>],
    occupied: &[u64],
    cfg: &RecoverConfig,
) -> Vec<(u64, usize, f32)> {
    let mut out: Vec<Recovered> = Vec::new();
    if !cfg.enabled || sig.sigma.is_nan() || sig.sigma <= 0.0 {
        return Vec::new();
    }
    let max_iv = (cfg.max_interval_s * sig.rate_hz) as u64;
    let free = |s: u64, extra: &[Recovered]| {
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
    let fit_near = |tpl: &Template, lo: i64, hi: i64, interval: u64, ok: &dyn Fn(Fit) -> bool| {
        let known = known_near(&all, &templates, lo, hi, reach);
        sig.best_fit(tpl, lo, hi, &known, interval as usize, ok)
    };
    // The fitted amplitude of a known potential of the unit at `s` (the others subtracted).
    let amplitude_at = |tpl: &Template, s: u64| -> f64 {
        let (lo, hi) = (s as i64 - PEEL_ALIGN, s as i64 + PEEL_ALIGN);
        let mut known = known_near(&all, &templates, lo, hi, reach);
        known.retain(|&(p, _)| p != s);
        sig.best_fit(tpl, lo, hi, &known, usize::MAX, |_| true)
            .map_or(0.0, |f| f.1)
    };
    // Each unit's search is its own (it looks only at its own finds): units in parallel,
    // their finds gathered in unit order.
    let per_unit = |k: usize, u: &Unit, train: &Vec<u64>| -> Vec<Recovered> {
        let tpl = &templates[k];
        // A complex is not searched: its spikes fit one another's templates at several
        // lags, and where a complex of another unit was subtracted its misfit is left, so
        // fits are found at the wrong lags (a complex repetitive discharge is large and
        // machine-regular, brief: the threshold keeps its beats).
        if train.len() < 3 || tpl.norm2 <= 0.0 || u.class == WaveformClass::Complex {
            return Vec::new();
        }
        let peak_uv = u.template.get(sig.pre).map_or(0.0, |v| v.abs());
        let accept = |fit: (u64, f64, f64, f64)| {
            fit.2 >= cfg.min_z
                && fit.3 >= cfg.min_explained
                && fit.1 >= cfg.amplitude_range[0]
                && fit.1 <= cfg.amplitude_range[1]
        };
        let mut found: Vec<Recovered> = Vec::new();
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
            return Vec::new();
        }
        // A unit firing faster than its potentials are long (neuromyotonic, 150–300 Hz,
        // brief) has its missed beats side by side, so each fit is judged near its own
        // peak; any other unit's fits over the whole window.
        let dense = median_iv < (tpl.hi - tpl.lo) as u64;
        let judged = |r: u64| if dense { r } else { u64::MAX };
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
            // The whole gap is searched, not only where an even division puts the beats: the missed potentials are those at the trough of a waxing and
            // waning amplitude, where the rate is slowest too (continuous myokymia,
            // brief), so they lie well past the evenly spaced positions. The best
            // acceptable fit splits the gap in two, and each part long enough to hold
            // another beat is searched again.
            let sep = (cfg.min_interval_fraction * r as f64).round().max(1.0) as u64;
            // A unit's potential changes size gradually (waning, waxing and waning), so a
            // missed beat is at least `min_neighbour_fraction` of the smaller of the two
            // beats beside it; a much smaller potential of that shape is another unit's.
            let (amp_a, amp_b) = (amplitude_at(tpl, train[j]), amplitude_at(tpl, train[j + 1]));
            let mut parts = vec![((train[j], amp_a), (train[j + 1], amp_b))];
            let mut in_gap = 0usize;
            while let Some(((a, amp_a), (b, amp_b))) = parts.pop() {
                if in_gap >= cfg.max_per_gap || ((b - a) as f64) < cfg.gap_factor * r as f64 {
                    continue;
                }
                let least = cfg.min_neighbour_fraction * amp_a.min(amp_b);
                let ok = |f: Fit| accept(f) && f.1 >= least && free(f.0, &found);
                if let Some(fit) = fit_near(tpl, (a + sep) as i64, (b - sep) as i64, judged(r), &ok)
                {
                    found.push((fit.0, k, (fit.1 * peak_uv as f64) as f32, fit.2));
                    in_gap += 1;
                    parts.push(((a, amp_a), (fit.0, fit.1)));
                    parts.push(((fit.0, fit.1), (b, amp_b)));
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
            let mut last_amp = amplitude_at(tpl, last);
            let limit = train.get(e + 1).copied().unwrap_or(u64::MAX);
            // Beats stepped over since the last one found: one beat lost in noise or under
            // another unit's potential does not end the run.
            let mut skipped = 0u64;
            for _ in 0..cfg.max_per_run_end {
                let c = (last + (skipped + 1) * r) as i64;
                if c as u64 + r / 2 >= limit {
                    break;
                }
                let half = (cfg.search_fraction * r as f64) as i64;
                match fit_near(tpl, c - half, c + half, judged(r), &|_| true) {
                    Some(fit)
                        if accept(fit)
                            && fit.1 >= cfg.min_neighbour_fraction * last_amp
                            && free(fit.0, &found) =>
                    {
                        found.push((fit.0, k, (fit.1 * peak_uv as f64) as f32, fit.2));
                        r = (fit.0.saturating_sub(last) / (skipped + 1)).max(1);
                        last = fit.0;
                        last_amp = fit.1;
                        skipped = 0;
                    }
                    _ if skipped < cfg.run_end_skips as u64 => skipped += 1,
                    _ => break,
                }
            }
        }
        found
    };
    let found: Vec<Vec<Recovered>> = units
        .par_iter()
        .zip(trains)
        .enumerate()
        .map(|(k, (u, train))| per_unit(k, u, train))
        .collect();
    out.extend(found.into_iter().flatten());
    // Two units may recover the same potential (one unit's missed beat where another's
    // rhythm also expects one): within the dead time only the better fit stays.
    out.sort_by_key(|f| f.0);
    let mut kept: Vec<Recovered> = Vec::with_capacity(out.len());
    for f in out {
        match kept.last_mut() {
            Some(last) if f.0 - last.0 <= sig.dead => {
                if f.3 > last.3 {
                    *last = f;
                }
            }
            _ => kept.push(f),
        }
    }
    kept.into_iter().map(|(s, k, a, _)| (s, k, a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::Polarity;

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

    /// Gaussian noise of rms `sigma` (xorshift and Box–Muller: deterministic).
    fn noise(n: usize, sigma: f32, seed: u64) -> Vec<f32> {
        let mut state = seed.max(1);
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (uniform(), uniform());
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32 * sigma
            })
            .collect()
    }

    fn add(x: &mut [f32], t: &[f32], peak: u64, pre: usize, scale: f32) {
        for (k, v) in t.iter().enumerate() {
            if let Some(s) = x.get_mut(peak as usize + k - pre) {
                *s += scale * v;
            }
        }
    }

    /// Recovery with the default settings for one unit of template `t` whose train (all
    /// of it detected) is `train`, in `x` at 20 kHz.
    fn recover_one_unit(
        x: &[f32],
        t: Vec<f32>,
        train: &[u64],
        sigma: f32,
        pre: usize,
    ) -> Vec<(u64, usize, f32)> {
        let sig = Signal {
            x,
            first: 0,
            sigma,
            rate_hz: 20_000.0,
            pre,
            dead: 20,
        };
        recover(
            &sig,
            &[unit(0, t)],
            &[train.to_vec()],
            train,
            &RecoverConfig::default(),
        )
    }

    /// A unit at 30 ms whose rate slows where its amplitude wanes (continuous myokymia):
    /// its one missed beat lies 850 of the gap's 1200 samples in, far from the even
    /// division, and is weak (matched-filter z about 12, well under half the window's
    /// energy with the noise; 0.44 of the template, 0.63 of the beats beside it): it is
    /// recovered, and nothing else is.
    #[test]
    fn a_weak_beat_off_the_even_division_of_its_gap_is_recovered() {
        let (len, pre, sigma) = (200usize, 80usize, 10.0f32);
        let t = shape(len, pre, 100.0, 8.0);
        let norm = t.iter().map(|v| v * v).sum::<f32>().sqrt();
        let mut x = noise(12_000, sigma, 7);
        let train: Vec<u64> = vec![2000, 2600, 3200, 4400, 5000, 5600, 6200];
        // The amplitude wanes towards the gap: the beats beside it are at 0.7.
        for &p in &train {
            let scale = if p == 3200 || p == 4400 { 0.7 } else { 1.0 };
            add(&mut x, &t, p, pre, scale);
        }
        let missed = 4050u64;
        let scale = 12.0 * sigma / norm;
        add(&mut x, &t, missed, pre, scale);
        let found = recover_one_unit(&x, t, &train, sigma, pre);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].0.abs_diff(missed) <= 2, "{found:?}");
    }

    /// A potential of the unit's shape but a third of the size of the beats on either side
    /// of its gap is another unit's, not a missed beat (a unit's potential changes size
    /// gradually): it is left alone, though it is far above the noise.
    #[test]
    fn a_much_smaller_potential_of_the_same_shape_is_not_a_missed_beat() {
        let (len, pre, sigma) = (200usize, 80usize, 10.0f32);
        let t = shape(len, pre, 300.0, 8.0);
        let mut x = noise(12_000, sigma, 5);
        let train: Vec<u64> = vec![2000, 2600, 3200, 4400, 5000, 5600, 6200];
        for &p in &train {
            add(&mut x, &t, p, pre, 1.0);
        }
        add(&mut x, &t, 3800, pre, 0.33);
        let found = recover_one_unit(&x, t, &train, sigma, pre);
        assert!(found.is_empty(), "{found:?}");
    }

    /// A neuromyotonic train, 285 Hz, its 10 ms potentials overlapping the next beats,
    /// wanes from 1 to 0.35 of its size; the detector kept the first 60 beats. The tail is
    /// recovered beat by beat past the run's end, over one missing beat; nothing is found
    /// after the train stops.
    #[test]
    fn a_dense_waning_tail_is_recovered_past_the_run_end() {
        let (len, pre, sigma) = (200usize, 80usize, 10.0f32);
        let t = shape(len, pre, 150.0, 25.0);
        let beats: Vec<u64> = (0..200).map(|k| 2_000 + 70 * k).collect();
        let mut x = noise(20_000, sigma, 11);
        let hidden = beats[120];
        for (k, &b) in beats.iter().enumerate() {
            if b != hidden {
                add(&mut x, &t, b, pre, 1.0 - 0.65 * k as f32 / 199.0);
            }
        }
        let train = &beats[..60];
        let found = recover_one_unit(&x, t, train, sigma, pre);
        let tail: Vec<u64> = beats[60..]
            .iter()
            .copied()
            .filter(|&b| b != hidden)
            .collect();
        let hit = |b: u64| found.iter().any(|&(s, _, _)| s.abs_diff(b) <= 2);
        let recovered = tail.iter().filter(|&&b| hit(b)).count();
        assert!(
            recovered as f64 >= 0.95 * tail.len() as f64,
            "{recovered} of {} tail beats recovered: {found:?}",
            tail.len()
        );
        assert!(!hit(hidden), "a beat recovered where there is none");
        let last = *beats.last().unwrap();
        assert!(
            found.iter().all(|&(s, _, _)| s <= last + 2),
            "recovered after the train stopped: {found:?}"
        );
    }
}
