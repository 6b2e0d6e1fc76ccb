//! Artefacts: stretches of signal that are not physiology, flagged so that detection skips
//! them and the report can show them.
//!
//! All rules look at the *raw* (unfiltered) signal, where each artefact has its clearest
//! signature; sizes are in units of the filtered signal's noise σ, so that the rules scale
//! with the recording's gain and noise. The band-pass spreads an artefact's sharp edges
//! into ringing on *both* sides (it is zero-phase), and the ringing lasts longer the larger
//! the artefact: the default filter's response to a step stays above 3 % of the step for
//! ±35 ms, so a 150σ step rings above a 5σ threshold for that long. So each interval is
//! widened by a fixed margin and then, by [`extend_over_ringing`], into the filtered signal
//! until a quiet stretch (no sample beyond the spike threshold for `ringing_quiet_ms`).
//!
//! - **Clipping** (amplifier or converter saturation): samples at the channel's physical
//!   minimum or maximum, when the file declares them (EDF physical min/max, WFDB ADC range,
//!   WAV full scale), in runs of at least `clip_min_run` samples; and *flat tops*: runs of
//!   at least `flat_min_ms` of exactly equal samples at the block's extreme value, which is
//!   how saturation looks when the amplifier, not the converter, limits (noise makes equal
//!   consecutive values essentially impossible for that long otherwise).
//! - **Electrode pop** (a sudden change of electrode–tissue contact): a step of at least
//!   `pop_step_sigma`·σ within `pop_rise_ms`, after which the signal *stays* displaced
//!   (the mean 5 ms – `pop_hold_ms` after the step keeps at least half the step), then
//!   relaxes back exponentially as the electrode's double layer recharges. The hold test
//!   is what separates a pop from a large motor unit potential, which is just as steep but
//!   returns to baseline within its 5–15 ms duration. The flagged interval runs from the
//!   step to where the displacement has decayed below a tenth of the step, at most
//!   `pop_max_ms`.
//! - **Movement**: large low-frequency excursions: the raw signal averaged over
//!   `movement_window_ms` windows changes by at least `movement_sigma`·σ within
//!   `movement_lag_ms`. EMG itself averages out over 20 ms (it has no energy below the
//!   band-pass), and baseline wander is slower: a ±40σ drift at 0.3 Hz changes by 7.5σ in
//!   100 ms, far below the default 30σ.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What kind of artefact an interval is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtefactKind {
    /// Amplifier or converter saturation (samples at the range limit or a flat top).
    Clipping,
    /// Electrode pop: a step followed by a slow exponential return.
    Pop,
    /// Movement: a large low-frequency excursion.
    Movement,
}

/// A flagged interval of samples `start..end` (end exclusive), in samples of the channel
/// from the start of the recording, already widened by the margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Artefact {
    /// First flagged sample.
    pub start: u64,
    /// One past the last flagged sample.
    pub end: u64,
    /// The rule that flagged it.
    pub kind: ArtefactKind,
}

impl Artefact {
    /// Whether sample `s` is inside.
    pub fn contains(&self, s: u64) -> bool {
        self.start <= s && s < self.end
    }
}

/// Artefact rules as a user writes them; all defaults documented on the fields. Set a rule's
/// threshold to `0` to turn it off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArtefactConfig {
    /// Clipping: fewest consecutive samples at the physical limit (default 3: one sample at
    /// the limit can be a peak that just touches full scale; three cannot be a physiological
    /// peak at EMG rates). 0 turns the rule off.
    pub clip_min_run: usize,
    /// Clipping: a sample within this fraction of the physical span from a limit counts as
    /// at the limit (default 1e-4, about 7 steps of a 16-bit converter).
    pub clip_tolerance: f64,
    /// Flat top: shortest run of exactly equal samples in ms (default 1 ms, at least 3
    /// samples). 0 turns the rule off.
    pub flat_min_ms: f64,
    /// Flat top: the block's raw range must be at least this many σ, so that a quiet or
    /// coarsely quantised signal is not called clipped (default 10).
    pub flat_min_sigma: f64,
    /// Pop: smallest step in σ (default 30: far above any noise excursion, above most motor
    /// unit potentials; the hold test below separates the rest). 0 turns the rule off.
    pub pop_step_sigma: f64,
    /// Pop: longest rise time of the step in ms (default 1 ms: pops are near-instant).
    pub pop_rise_ms: f64,
    /// Pop: the displacement must persist until this many ms after the step (default
    /// 20 ms, beyond the 5–15 ms of a motor unit potential).
    pub pop_hold_ms: f64,
    /// Pop: longest flagged decay in ms (default 500 ms, a few electrode time constants).
    pub pop_max_ms: f64,
    /// Movement: smallest change of the windowed mean in σ (default 30). 0 turns it off.
    pub movement_sigma: f64,
    /// Movement: averaging window in ms (default 20 ms: averages out EMG, whose band
    /// starts at 20 Hz).
    pub movement_window_ms: f64,
    /// Movement: the change is measured over this many ms (default 100 ms: movement
    /// artefacts rise in tens to hundreds of ms; baseline wander is slower).
    pub movement_lag_ms: f64,
    /// Margin added on each side of every flagged interval, in ms (default 5 ms).
    pub margin_ms: f64,
    /// Ringing: an interval is extended until the filtered signal stays within the spike
    /// threshold for this many ms (default 5 ms, longer than an EMG potential's main spike,
    /// shorter than the gap between ringing lobes of the 20 Hz high-pass).
    pub ringing_quiet_ms: f64,
    /// Ringing: longest extension on each side in ms (default 300 ms; the default filter's
    /// step response is below 0.3 % of the step 90 ms away).
    pub ringing_max_ms: f64,
}

impl Default for ArtefactConfig {
    fn default() -> Self {
        ArtefactConfig {
            clip_min_run: 3,
            clip_tolerance: 1e-4,
            flat_min_ms: 1.0,
            flat_min_sigma: 10.0,
            pop_step_sigma: 30.0,
            pop_rise_ms: 1.0,
            pop_hold_ms: 20.0,
            pop_max_ms: 500.0,
            movement_sigma: 30.0,
            movement_window_ms: 20.0,
            movement_lag_ms: 100.0,
            margin_ms: 5.0,
            ringing_quiet_ms: 5.0,
            ringing_max_ms: 300.0,
        }
    }
}

/// [`ArtefactConfig`] resolved to samples at one rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidArtefactConfig {
    /// Clipping run in samples (0: off).
    pub clip_min_run: usize,
    /// Clipping tolerance as a fraction of the physical span.
    pub clip_tolerance: f64,
    /// Flat-top run in samples (0: off).
    pub flat_min_run: usize,
    /// Flat-top minimum raw range in σ.
    pub flat_min_sigma: f64,
    /// Pop step in σ (0: off).
    pub pop_step_sigma: f64,
    /// Pop rise in samples.
    pub pop_rise: usize,
    /// Pop hold in samples.
    pub pop_hold: usize,
    /// Pop maximum length in samples.
    pub pop_max: usize,
    /// Movement change in σ (0: off).
    pub movement_sigma: f64,
    /// Movement window in samples.
    pub movement_window: usize,
    /// Movement lag in windows.
    pub movement_lag_windows: usize,
    /// Margin in samples.
    pub margin: usize,
    /// Quiet stretch that ends a ringing extension, in samples (≥ 1).
    pub ringing_quiet: usize,
    /// Longest ringing extension, in samples.
    pub ringing_max: usize,
}

fn samples(ms: f64, rate: f64) -> usize {
    (ms * rate / 1000.0).round().max(0.0) as usize
}

impl ArtefactConfig {
    /// Resolves the rules at `rate` Hz; errors name the field and the value.
    pub fn check(&self, rate: f64) -> Result<ValidArtefactConfig> {
        let nonneg = |v: f64, what: &str, unit: &str| -> Result<()> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::config(format!(
                    "detect: artefact {what} {v}{unit} is not a non-negative number"
                )))
            }
        };
        let positive = |v: f64, what: &str, unit: &str| -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::config(format!(
                    "detect: artefact {what} {v}{unit} is not a positive number"
                )))
            }
        };
        if !(self.clip_tolerance.is_finite() && (0.0..0.5).contains(&self.clip_tolerance)) {
            return Err(Error::config(format!(
                "detect: artefact clip tolerance {} is not between 0 and 0.5 of the range",
                self.clip_tolerance
            )));
        }
        nonneg(self.flat_min_ms, "flat-top length", " ms")?;
        nonneg(self.flat_min_sigma, "flat-top range", " σ")?;
        nonneg(self.pop_step_sigma, "pop step", " σ")?;
        positive(self.pop_rise_ms, "pop rise time", " ms")?;
        positive(self.pop_hold_ms, "pop hold time", " ms")?;
        nonneg(self.movement_sigma, "movement size", " σ")?;
        positive(self.movement_window_ms, "movement window", " ms")?;
        positive(self.movement_lag_ms, "movement lag", " ms")?;
        nonneg(self.margin_ms, "margin", " ms")?;
        positive(self.ringing_quiet_ms, "ringing quiet time", " ms")?;
        nonneg(self.ringing_max_ms, "ringing extension", " ms")?;
        if !(self.pop_max_ms.is_finite() && self.pop_max_ms >= self.pop_hold_ms) {
            return Err(Error::config(format!(
                "detect: artefact pop maximum {} ms is not at least the pop hold time {} ms",
                self.pop_max_ms, self.pop_hold_ms
            )));
        }
        const MAX_MS: f64 = 60_000.0;
        for (v, what) in [
            (self.flat_min_ms, "flat-top length"),
            (self.pop_max_ms, "pop maximum"),
            (self.movement_lag_ms, "movement lag"),
            (self.movement_window_ms, "movement window"),
            (self.margin_ms, "margin"),
            (self.ringing_quiet_ms, "ringing quiet time"),
            (self.ringing_max_ms, "ringing extension"),
        ] {
            if v > MAX_MS {
                return Err(Error::config(format!(
                    "detect: artefact {what} {v} ms is above the limit of {MAX_MS} ms"
                )));
            }
        }
        let window = samples(self.movement_window_ms, rate).max(1);
        let flat = if self.flat_min_ms > 0.0 {
            samples(self.flat_min_ms, rate).max(3)
        } else {
            0
        };
        let pop_rise = samples(self.pop_rise_ms, rate).max(1);
        Ok(ValidArtefactConfig {
            clip_min_run: self.clip_min_run,
            clip_tolerance: self.clip_tolerance,
            flat_min_run: flat,
            flat_min_sigma: self.flat_min_sigma,
            pop_step_sigma: self.pop_step_sigma,
            pop_rise,
            pop_hold: samples(self.pop_hold_ms, rate).max(pop_rise + 2),
            pop_max: samples(self.pop_max_ms, rate).max(1),
            movement_sigma: self.movement_sigma,
            movement_window: window,
            movement_lag_windows: (samples(self.movement_lag_ms, rate) / window).max(1),
            margin: samples(self.margin_ms, rate),
            ringing_quiet: samples(self.ringing_quiet_ms, rate).max(1),
            ringing_max: samples(self.ringing_max_ms, rate),
        })
    }
}

/// Finds artefacts in `raw` (samples `first..` of the recording) for noise level `sigma`
/// and the channel's physical range, appending them to `out` sorted by start (intervals
/// already in `out` are left alone). Intervals are widened by the margin, clamped at 0 but
/// not at the end of `raw`. `scratch` is reused between calls.
pub fn find(
    raw: &[f32],
    first: u64,
    sigma: f32,
    physical_range: Option<(f64, f64)>,
    cfg: &ValidArtefactConfig,
    out: &mut Vec<Artefact>,
    scratch: &mut Vec<f64>,
) {
    let from = out.len();
    let sigma = sigma as f64;
    clipping(raw, first, sigma, physical_range, cfg, out);
    if cfg.pop_step_sigma > 0.0 && sigma > 0.0 {
        pops(raw, first, sigma, cfg, from, out);
    }
    if cfg.movement_sigma > 0.0 && sigma > 0.0 {
        movement(raw, first, sigma, cfg, from, out, scratch);
    }
    if out.len() == from {
        return;
    }
    // Widen by the margin and merge overlapping intervals of the same kind.
    for a in &mut out[from..] {
        a.start = a.start.saturating_sub(cfg.margin as u64);
        a.end = a.end.saturating_add(cfg.margin as u64);
    }
    let mut found: Vec<Artefact> = out.drain(from..).collect();
    found.sort_by_key(|a| (a.start, a.kind));
    out.extend(merge(found));
}

/// Widens `a` into the filtered signal `y` (whose first sample is `first`) on both sides
/// while the band-pass rings: up to the last sample beyond `thr` before a run of `quiet`
/// samples within it, at most `max` samples each way, and not past the ends of `y`.
pub fn extend_over_ringing(
    a: &mut Artefact,
    y: &[f32],
    first: u64,
    thr: f32,
    quiet: usize,
    max: usize,
) {
    let end = first + y.len() as u64;
    let loud = |g: u64| y[(g - first) as usize].abs() > thr;
    // Backward from the start.
    let limit = a.start.saturating_sub(max as u64).max(first);
    let (mut g, mut run) = (a.start.min(end), 0);
    while g > limit && run < quiet {
        g -= 1;
        if loud(g) {
            a.start = a.start.min(g);
            run = 0;
        } else {
            run += 1;
        }
    }
    // Forward from the end.
    let limit = a.end.saturating_add(max as u64).min(end);
    let (mut g, mut run) = (a.end.max(first), 0);
    while g < limit && run < quiet {
        if loud(g) {
            a.end = a.end.max(g + 1);
            run = 0;
        } else {
            run += 1;
        }
        g += 1;
    }
}

/// Sorted by start, overlapping or touching intervals of the same kind merged.
pub fn merge(mut v: Vec<Artefact>) -> Vec<Artefact> {
    v.sort_by_key(|a| (a.kind, a.start));
    let mut merged: Vec<Artefact> = Vec::with_capacity(v.len());
    for a in v {
        match merged.last_mut() {
            Some(m) if m.kind == a.kind && a.start <= m.end => m.end = m.end.max(a.end),
            _ => merged.push(a),
        }
    }
    merged.sort_by_key(|a| (a.start, a.kind));
    merged
}

fn clipping(
    raw: &[f32],
    first: u64,
    sigma: f64,
    physical_range: Option<(f64, f64)>,
    cfg: &ValidArtefactConfig,
    out: &mut Vec<Artefact>,
) {
    let mut push_runs = |pred: &dyn Fn(usize) -> bool, min_run: usize| {
        let mut i = 0;
        while i < raw.len() {
            if !pred(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < raw.len() && pred(i) {
                i += 1;
            }
            if i - start >= min_run {
                out.push(Artefact {
                    start: first + start as u64,
                    end: first + i as u64,
                    kind: ArtefactKind::Clipping,
                });
            }
        }
    };
    // At the declared physical limits.
    if let Some((lo, hi)) = physical_range {
        if cfg.clip_min_run > 0 && hi > lo {
            let tol = cfg.clip_tolerance * (hi - lo);
            let (lo_t, hi_t) = ((lo + tol) as f32, (hi - tol) as f32);
            // Quick vectorisable test first: most blocks never come near the limits.
            let any = raw
                .iter()
                .map(|&v| (v >= hi_t || v <= lo_t) as u32)
                .sum::<u32>()
                > 0;
            if any {
                push_runs(&|i| raw[i] >= hi_t || raw[i] <= lo_t, cfg.clip_min_run);
            }
        }
    }
    // Flat tops at the block's extremes.
    if cfg.flat_min_run > 0 && raw.len() >= cfg.flat_min_run {
        let (mn, mx) = min_max(raw);
        let range = (mx - mn) as f64;
        if range.is_finite() && range >= cfg.flat_min_sigma * sigma && range > 0.0 {
            let near = (0.01 * range) as f32;
            let at_extreme = |v: f32| v >= mx - near || v <= mn + near;
            let mut i = 1;
            const CHUNK: usize = 64;
            while i < raw.len() {
                // Skip chunks with no two equal neighbours at an extreme (vectorises).
                let end = (i + CHUNK).min(raw.len());
                let hits = raw[i..end]
                    .iter()
                    .zip(&raw[i - 1..end - 1])
                    .map(|(&a, &b)| (a == b && (a >= mx - near || a <= mn + near)) as u32)
                    .sum::<u32>();
                if hits == 0 {
                    i = end;
                    continue;
                }
                if raw[i] != raw[i - 1] || !at_extreme(raw[i]) {
                    i += 1;
                    continue;
                }
                let start = i - 1;
                while i < raw.len() && raw[i] == raw[start] {
                    i += 1;
                }
                if i - start >= cfg.flat_min_run {
                    out.push(Artefact {
                        start: first + start as u64,
                        end: first + i as u64,
                        kind: ArtefactKind::Clipping,
                    });
                }
            }
        }
    }
}

/// Smallest and largest value (NaNs ignored), written with plain comparisons so that it
/// vectorises (`f32::min` must propagate the non-NaN operand, which blocks SIMD).
fn min_max(x: &[f32]) -> (f32, f32) {
    let mut mn = [f32::INFINITY; 8];
    let mut mx = [f32::NEG_INFINITY; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            mn[k] = if c[k] < mn[k] { c[k] } else { mn[k] };
            mx[k] = if c[k] > mx[k] { c[k] } else { mx[k] };
        }
    }
    let (mut a, mut b) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in mn.iter().chain(chunks.remainder()) {
        a = if v < a { v } else { a };
    }
    for &v in mx.iter().chain(chunks.remainder()) {
        b = if v > b { v } else { b };
    }
    (a, b)
}

/// Mean in f64, with four independent partial sums so that it vectorises.
fn mean(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let mut acc = [0.0f64; 4];
    let mut chunks = x.chunks_exact(4);
    for c in &mut chunks {
        for k in 0..4 {
            acc[k] += c[k] as f64;
        }
    }
    let rest: f64 = chunks.remainder().iter().map(|&v| v as f64).sum();
    (acc[0] + acc[1] + acc[2] + acc[3] + rest) / x.len() as f64
}

/// Largest movement before a pop's step, as a share of the step.
const POP_QUIET_FRACTION: f64 = 0.25;

fn pops(
    raw: &[f32],
    first: u64,
    sigma: f64,
    cfg: &ValidArtefactConfig,
    from: usize,
    out: &mut Vec<Artefact>,
) {
    let r = cfg.pop_rise;
    let thr = (cfg.pop_step_sigma * sigma) as f32;
    let n = raw.len();
    if n <= r {
        return;
    }
    let base_len = cfg.pop_hold.min(r.max(1) * 5).max(2);
    let hold_from = (cfg.pop_hold / 4).max(r + 1);
    let mut i = r;
    const CHUNK: usize = 64;
    while i < n {
        // Skip quickly over chunks without a large step (vectorisable).
        let end = (i + CHUNK).min(n);
        let hits = raw[i..end]
            .iter()
            .zip(&raw[i - r..end - r])
            .map(|(&a, &b)| ((a - b).abs() >= thr) as u32)
            .sum::<u32>();
        if hits == 0 {
            i = end;
            continue;
        }
        while i < end && (raw[i] - raw[i - r]).abs() < thr {
            i += 1;
        }
        if i >= end {
            continue;
        }
        // The step starts at i − r; baseline just before, level just after. Both must be
        // clear of clipping found already (a clipped run's end is a step, not a pop).
        let s0 = i - r;
        let b0 = first + s0.saturating_sub(base_len) as u64;
        let g = first + i as u64;
        if let Some(skip_to) = out[from..]
            .iter()
            .filter(|a| a.start <= g && b0 < a.end)
            .map(|a| a.end)
            .max()
        {
            i = ((skip_to - first) as usize).max(i + 1);
            continue;
        }
        let base = mean(&raw[s0.saturating_sub(base_len)..s0.max(1)]);
        // Where the step peaks within the rise window.
        let top = (i..(i + r).min(n))
            .max_by(|&a, &b| {
                ((raw[a] as f64 - base).abs()).total_cmp(&(raw[b] as f64 - base).abs())
            })
            .unwrap_or(i);
        let h = raw[top] as f64 - base;
        if h.abs() < thr as f64 {
            i += 1;
            continue;
        }
        // A pop steps away from a resting baseline. When the samples just before the step
        // move by more than a quarter of it, the step is the second half of a potential —
        // the fall from a positive sharp wave's spike into its long negative phase, which
        // holds like a pop for 10–100 ms (brief) — not the start of a pop.
        let before = &raw[s0.saturating_sub(base_len)..s0.max(1)];
        if before
            .iter()
            .any(|&v| (v as f64 - base).abs() > POP_QUIET_FRACTION * h.abs())
        {
            i += 1;
            continue;
        }
        let held = &raw[(top + hold_from).min(n)..(top + cfg.pop_hold).min(n)];
        if held.is_empty() || (mean(held) - base) * h.signum() < 0.5 * h.abs() {
            i += 1;
            continue;
        }
        // Decay: follow window means until the displacement is below a tenth of the step.
        let w = (cfg.pop_hold / 4).max(1);
        let mut e = top + cfg.pop_hold;
        let limit = (top + cfg.pop_max).min(n);
        while e < limit {
            let m = mean(&raw[e..(e + w).min(n)]);
            if (m - base) * h.signum() < 0.1 * h.abs() {
                break;
            }
            e += w;
        }
        let e = e.min(limit.max(top + 1));
        out.push(Artefact {
            start: first + s0 as u64,
            end: first + e as u64,
            kind: ArtefactKind::Pop,
        });
        i = e.max(i + 1);
    }
}

fn movement(
    raw: &[f32],
    first: u64,
    sigma: f64,
    cfg: &ValidArtefactConfig,
    from: usize,
    out: &mut Vec<Artefact>,
    means: &mut Vec<f64>,
) {
    let w = cfg.movement_window;
    let lag = cfg.movement_lag_windows;
    let thr = cfg.movement_sigma * sigma;
    means.clear();
    means.extend(raw.chunks_exact(w).map(mean));
    let mut j = lag;
    while j < means.len() {
        if (means[j] - means[j - lag]).abs() < thr {
            j += 1;
            continue;
        }
        // Flag the windows from the excursion's start to where the change stops.
        let start_w = j - lag;
        let mut end_w = j + 1;
        while end_w < means.len() && (means[end_w] - means[end_w - lag]).abs() >= thr {
            end_w += 1;
        }
        let (s, e) = (start_w * w, end_w * w);
        let gs = first + s as u64;
        let ge = first + e as u64;
        // A pop or clipping shifts the windowed mean too; an excursion that overlaps one is
        // that artefact, not movement.
        let covered = out[from..]
            .iter()
            .any(|a| a.kind != ArtefactKind::Movement && a.start < ge && gs < a.end);
        if !covered {
            out.push(Artefact {
                start: gs,
                end: ge,
                kind: ArtefactKind::Movement,
            });
        }
        j = end_w;
    }
}
