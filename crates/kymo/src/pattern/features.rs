//! Stage 5: the numbers behind each discharge.
//!
//! Per segment (burst, run or single): potentials, duration, mean (intraburst) rate, the
//! spread of the instantaneous rate, interval statistics (CV, robust CV, and the local
//! jitter — the median CV2 of successive intervals, Holt et al. 1996), rate and amplitude
//! trends inside the segment (a line and a parabola fitted against normalised time),
//! onset and offset abruptness, periodic modulation of rate and amplitude (depth,
//! frequency and cycles of the waxing and waning, from the Lomb–Scargle periodogram), and
//! the unit's context: its burst recurrence rate and regularity,
//! its overall rate and irregularity, and how many other units fire sustained trains at
//! the same time. Multi-unit episodes (voluntary activity, cramps) add per-unit rates,
//! local CVs and the spread of the units' onsets.
//!
//! Every field is `None` where it cannot be measured (a single potential has no rate).

use serde::{Deserialize, Serialize};

use super::bursts::Segment;
use super::config::{JitterConfig, PatternConfig, TrendConfig};
use super::stats;
use super::trains::Train;
use super::WaveformClass;

/// The shape of a fitted trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trend {
    /// No change beyond `trend.flat_change`.
    Flat,
    /// Rising throughout.
    Waxing,
    /// Falling throughout.
    Waning,
    /// Rising then falling (a hump inside the discharge).
    WaxingWaning,
    /// Falling then rising.
    WaningWaxing,
}

impl Trend {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Trend::Flat => "flat",
            Trend::Waxing => "waxing",
            Trend::Waning => "waning",
            Trend::WaxingWaning => "waxing-waning",
            Trend::WaningWaxing => "waning-waxing",
        }
    }
}

/// A trend and its size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrendFit {
    /// Shape.
    pub shape: Trend,
    /// Size relative to the mean: for a line, fitted end minus fitted start; for a hump
    /// (or dip), the vertex minus the mean of the fitted ends (signed).
    pub change: f64,
}

/// What a discharge is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SegmentKind {
    /// One potential.
    Single,
    /// A short group of potentials of one unit (up to `myokymic.max_burst_s`).
    Burst,
    /// A longer stretch of firing of one unit.
    Run,
    /// Several units firing together.
    Episode,
}

/// The measured features of one discharge. Rates in Hz, times in s, intervals in ms,
/// amplitudes in µV; ratios and CVs are plain numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Single, burst, run or multi-unit episode.
    pub kind: SegmentKind,
    /// Waveform class of the unit (of the units, for an episode).
    pub waveform: WaveformClass,
    /// Units involved.
    pub n_units: u32,
    /// Potentials.
    pub n_potentials: u32,
    /// First to last potential, s.
    pub duration_s: f64,
    /// Mean rate (intraburst rate for a burst): intervals over their total length, Hz.
    /// For an episode, the median of the units' mean rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_hz: Option<f64>,
    /// 10th and 90th percentiles of the instantaneous rate, Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_p10_hz: Option<f64>,
    /// See `rate_p10_hz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_p90_hz: Option<f64>,
    /// Shortest, median and longest interval, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_min_ms: Option<f64>,
    /// See `interval_min_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_median_ms: Option<f64>,
    /// See `interval_min_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_max_ms: Option<f64>,
    /// Interval coefficient of variation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isi_cv: Option<f64>,
    /// Robust interval CV (1.4826 · MAD / median).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isi_cv_robust: Option<f64>,
    /// Local interval jitter: median CV2 of successive intervals (Holt et al. 1996), on the
    /// train repaired for missed and intruding potentials (`JitterConfig`; about
    /// 0.95 × the CV for steady Gaussian intervals, blind to slow rate changes and single
    /// steps). For an episode, the median over units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
    /// Trend of the instantaneous rate inside the discharge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_trend: Option<TrendFit>,
    /// Trend of the amplitude inside the discharge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplitude_trend: Option<TrendFit>,
    /// Rate over the first intervals relative to the median rate (≈ 1: abrupt onset;
    /// well below 1: gradual).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset_ratio: Option<f64>,
    /// Rate over the last intervals relative to the median rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_ratio: Option<f64>,
    /// Depth of the periodic (waxing and waning) rate modulation: the amplitude of the
    /// sinusoid fitted at the Lomb–Scargle periodogram's significant peak over the mean
    /// rate (a rate `r·(1 + d·sin(2πft))` gives ≈ d), 0 when no peak is significant
    /// (jitter, a single ramp). Trains of at least 1 s and 10 intervals only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_modulation: Option<f64>,
    /// The same for the potentials' amplitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplitude_modulation: Option<f64>,
    /// Waxing/waning cycles: the modulation frequency times the duration (0 without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulation_cycles: Option<f64>,
    /// The modulation frequency (of the rate, else of the amplitude), Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulation_hz: Option<f64>,
    /// Median peak-to-peak amplitude, µV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplitude_uv: Option<f64>,
    /// Share of intervals in the doublet range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doublet_fraction: Option<f64>,
    /// The unit's segment recurrence rate (start to start), Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_hz: Option<f64>,
    /// Robust CV of the unit's start-to-start intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_cv: Option<f64>,
    /// The unit's potentials over the recording's length, Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_rate_hz: Option<f64>,
    /// CV of all the unit's intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_isi_cv: Option<f64>,
    /// Share of the unit's potentials in doublet-like groups (segments of 2 to
    /// `doublet.potentials[1]` potentials whose intervals all lie in `doublet.interval_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_grouped_share: Option<f64>,
    /// Median potentials of the unit's multi-potential segments (its typical burst).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_burst_potentials: Option<f64>,
    /// Median length of the unit's multi-potential segments, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_burst_s: Option<f64>,
    /// Episode: recruitment ratio, the fastest unit's mean rate over the number of units
    /// (brief: about 5 in voluntary activity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recruitment_ratio: Option<f64>,
    /// Other units firing sustained trains during this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coactive_units: Option<u32>,
    /// For a single potential of a bursting unit: whether it falls in the unit's burst
    /// rhythm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_rhythm: Option<bool>,
    /// Episode: median delay of the units' first potentials after the episode's first, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset_spread_s: Option<f64>,
    /// Episode: median over units of the rate of their first interval, Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_rate_hz: Option<f64>,
    /// Episode: share of the units whose trains wax and wane rhythmically (modulation and
    /// cycles as `myokymic_continuous` asks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waxing_waning_share: Option<f64>,
    /// Episode: the lowest and highest per-unit mean rate, Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_rate_range_hz: Option<[f64; 2]>,
}

impl Features {
    pub(crate) fn empty(kind: SegmentKind, waveform: WaveformClass) -> Features {
        Features {
            kind,
            waveform,
            n_units: 1,
            n_potentials: 0,
            duration_s: 0.0,
            rate_hz: None,
            rate_p10_hz: None,
            rate_p90_hz: None,
            interval_min_ms: None,
            interval_median_ms: None,
            interval_max_ms: None,
            isi_cv: None,
            isi_cv_robust: None,
            jitter: None,
            rate_trend: None,
            amplitude_trend: None,
            onset_ratio: None,
            offset_ratio: None,
            rate_modulation: None,
            amplitude_modulation: None,
            modulation_cycles: None,
            modulation_hz: None,
            amplitude_uv: None,
            doublet_fraction: None,
            recurrence_hz: None,
            recurrence_cv: None,
            unit_rate_hz: None,
            unit_isi_cv: None,
            unit_grouped_share: None,
            unit_burst_potentials: None,
            unit_burst_s: None,
            recruitment_ratio: None,
            coactive_units: None,
            in_rhythm: None,
            onset_spread_s: None,
            waxing_waning_share: None,
            first_rate_hz: None,
            unit_rate_range_hz: None,
        }
    }
}

/// Fits a line and a parabola to `y` against `x ∈ [0, 1]` and names the shape.
pub(crate) fn trend(x: &[f64], y: &[f64], cfg: &TrendConfig) -> Option<TrendFit> {
    /// A parabola needs this many points to be told from a line (kymo).
    const MIN_QUADRATIC_POINTS: usize = 5;
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    let m = stats::mean(&y[..n])?;
    if m <= 0.0 {
        return None;
    }
    let (_, b, sse1) = stats::line_fit(&x[..n], &y[..n])?;
    let sst: f64 = y[..n].iter().map(|v| (v - m) * (v - m)).sum();
    if n >= MIN_QUADRATIC_POINTS && sst > 0.0 {
        if let Some((qa, qb, qc, sse2)) = stats::quadratic_fit(&x[..n], &y[..n]) {
            let gain = (sse1 - sse2) / sst;
            if qc != 0.0 && gain >= cfg.min_curvature_gain {
                let xv = -qb / (2.0 * qc);
                if xv >= cfg.vertex[0] && xv <= cfg.vertex[1] {
                    let yv = qa + qb * xv + qc * xv * xv;
                    let ends = (qa + (qa + qb + qc)) / 2.0;
                    let change = (yv - ends) / m;
                    if change.abs() >= cfg.flat_change {
                        let shape = if qc < 0.0 {
                            Trend::WaxingWaning
                        } else {
                            Trend::WaningWaxing
                        };
                        return Some(TrendFit { shape, change });
                    }
                }
            }
        }
    }
    let change = b / m;
    let shape = if change.abs() < cfg.flat_change {
        Trend::Flat
    } else if change > 0.0 {
        Trend::Waxing
    } else {
        Trend::Waning
    };
    Some(TrendFit { shape, change })
}

/// `y` with values beyond `CLIP` robust standard deviations of its median pulled in to
/// that bound, so a few stray or missed potentials (rates far off the firing) neither
/// swamp the variance nor fake a modulation (kymo).
fn winsorized(y: &[f64]) -> Vec<f64> {
    /// Robust standard deviations kept (kymo: a ±50 % waxing and waning stays inside).
    const CLIP: f64 = 4.0;
    let Some(med) = stats::median(y) else {
        return y.to_vec();
    };
    let dev: Vec<f64> = y.iter().map(|v| (v - med).abs()).collect();
    let s = stats::median(&dev).unwrap_or(0.0) * stats::MAD_TO_SD;
    if s <= 0.0 {
        return y.to_vec();
    }
    y.iter()
        .map(|v| v.clamp(med - CLIP * s, med + CLIP * s))
        .collect()
}

/// A periodic modulation found by the Lomb–Scargle periodogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Periodic {
    /// Frequency, Hz.
    pub freq_hz: f64,
    /// Amplitude of the fitted sinusoid over the mean (a series `m·(1 + d·sin)` gives d).
    pub depth: f64,
}

/// Window of the periodogram, s (kymo: at least two cycles of the slowest modulation of
/// the brief's range, 0.1 Hz; longer trains are cut into half-overlapping windows so a
/// drifting modulation rate stays coherent within each).
const PERIODOGRAM_WINDOW_S: f64 = 20.0;
/// Frequency oversampling: the grid step is 1 / (this × window) (kymo; a peak is 1/window
/// wide, so 4 points across it find its top within a few per cent).
const PERIODOGRAM_OVERSAMPLE: f64 = 4.0;
/// False-alarm probability of a window's peak (kymo).
const PERIODOGRAM_ALPHA: f64 = 0.01;

/// The periodic modulation of `y` sampled at times `t` (s), in the band `band` (Hz), if
/// significant: the Lomb–Scargle periodogram (N. R. Lomb, "Least-squares frequency
/// analysis of unequally spaced data", Astrophys. Space Sci. 39:447–462, 1976; J. D.
/// Scargle, "Studies in astronomical time series analysis II", Astrophys. J.
/// 263:835–853, 1982) of each window, after removing its mean and linear trend. Its
/// normalised power is exponential with mean 1 for white jitter, so a window's peak is
/// significant when it exceeds `ln(M / α)` for M independent frequencies (the band's width
/// times the window, α = 0.01). The modulation is found when at least half of the windows
/// have a significant peak; its frequency and depth (the fitted sinusoid's amplitude over
/// the window's mean) are the medians over those windows. Frequencies are limited to those
/// with three cycles in a window and to a third of the sampling rate (the firing rate).
pub(crate) fn periodic(t: &[f64], y: &[f64], band: [f64; 2]) -> Option<Periodic> {
    let n = t.len().min(y.len());
    if n < 10 {
        return None;
    }
    let span = t[n - 1] - t[0];
    let win = PERIODOGRAM_WINDOW_S.min(span);
    if win <= 0.0 {
        return None;
    }
    let mut starts = Vec::new();
    let mut s0 = t[0];
    loop {
        starts.push(s0);
        if s0 + win >= t[n - 1] {
            break;
        }
        s0 = (s0 + win / 2.0).min(t[n - 1] - win);
    }
    let mut found: Vec<(f64, f64)> = Vec::new();
    let mut windows = 0usize;
    for &w0 in &starts {
        let lo = t.partition_point(|&x| x < w0);
        let hi = t.partition_point(|&x| x <= w0 + win);
        if hi - lo < 10 {
            continue;
        }
        windows += 1;
        if let Some(p) = lomb_scargle_peak(&t[lo..hi], &y[lo..hi], band, win) {
            found.push((p.freq_hz, p.depth));
        }
    }
    if windows == 0 || found.is_empty() || 2 * found.len() < windows {
        return None;
    }
    let freqs: Vec<f64> = found.iter().map(|x| x.0).collect();
    let depths: Vec<f64> = found.iter().map(|x| x.1).collect();
    Some(Periodic {
        freq_hz: stats::median(&freqs)?,
        depth: stats::median(&depths)?,
    })
}

/// The significant peak of one window's Lomb–Scargle periodogram (see [`periodic`]).
/// Frequencies step linearly; each sample's `exp(iωt)` is advanced by a fixed rotation
/// per step, so the scan needs no trigonometric call per frequency.
fn lomb_scargle_peak(tw: &[f64], yw: &[f64], band: [f64; 2], win: f64) -> Option<Periodic> {
    let mean = stats::mean(yw).filter(|m| *m > 0.0)?;
    let rate = (tw.len() - 1) as f64 / (tw[tw.len() - 1] - tw[0]).max(1e-9);
    let f_lo = band[0].max(3.0 / win);
    let f_hi = band[1].min(rate / 3.0);
    if f_lo >= f_hi {
        return None;
    }
    let (a, b, _) = stats::line_fit(tw, yw)?;
    let r: Vec<f64> = tw.iter().zip(yw).map(|(x, v)| v - a - b * x).collect();
    let var = r.iter().map(|v| v * v).sum::<f64>() / r.len() as f64;
    if var <= 0.0 {
        return None;
    }
    let df = 1.0 / (PERIODOGRAM_OVERSAMPLE * win);
    let steps = ((f_hi - f_lo) / df).floor() as usize + 1;
    let independent = ((f_hi - f_lo) * win).max(1.0);
    let threshold = (independent / PERIODOGRAM_ALPHA).ln();
    let tau0 = tw[0];
    // z = exp(iωt) per sample (times relative to the window start), and its step.
    let (mut zr, mut zi): (Vec<f64>, Vec<f64>) = tw
        .iter()
        .map(|x| {
            let (s, c) = (std::f64::consts::TAU * f_lo * (x - tau0)).sin_cos();
            (c, s)
        })
        .unzip();
    let (dr, di): (Vec<f64>, Vec<f64>) = tw
        .iter()
        .map(|x| {
            let (s, c) = (std::f64::consts::TAU * df * (x - tau0)).sin_cos();
            (c, s)
        })
        .unzip();
    let mut best: Option<(f64, f64, f64)> = None; // power, freq, relative amplitude
    for k in 0..steps {
        let f = f_lo + k as f64 * df;
        // tan(2ωτ) = Σ sin 2ωt / Σ cos 2ωt, from z² = cos 2ωt + i sin 2ωt.
        let (mut c2, mut s2) = (0.0, 0.0);
        for j in 0..tw.len() {
            c2 += zr[j] * zr[j] - zi[j] * zi[j];
            s2 += 2.0 * zr[j] * zi[j];
        }
        let wt = s2.atan2(c2) / 2.0; // ωτ
        let (sw, cw) = wt.sin_cos();
        let (mut yc, mut ys, mut cc, mut ss) = (0.0, 0.0, 0.0, 0.0);
        for j in 0..tw.len() {
            // cos ω(t−τ) + i sin ω(t−τ) = z · exp(−iωτ)
            let c = zr[j] * cw + zi[j] * sw;
            let s = zi[j] * cw - zr[j] * sw;
            yc += r[j] * c;
            ys += r[j] * s;
            cc += c * c;
            ss += s * s;
        }
        if cc > 0.0 && ss > 0.0 {
            let p = (yc * yc / cc + ys * ys / ss) / (2.0 * var);
            if best.is_none_or(|bst| p > bst.0) {
                let amp = ((yc / cc).powi(2) + (ys / ss).powi(2)).sqrt();
                best = Some((p, f, amp / mean));
            }
        }
        for j in 0..tw.len() {
            let (nr, ni) = (zr[j] * dr[j] - zi[j] * di[j], zr[j] * di[j] + zi[j] * dr[j]);
            zr[j] = nr;
            zi[j] = ni;
        }
    }
    let (p, freq_hz, depth) = best?;
    (p >= threshold).then_some(Periodic { freq_hz, depth })
}

/// Shortest segment (s) and fewest intervals for modulation measures (kymo: a cycle at
/// the lowest modulation rate, 0.1 Hz, is 10 s; below 1 s no slow modulation is visible).
const MODULATION_MIN_S: f64 = 1.0;
/// See [`MODULATION_MIN_S`].
const MODULATION_MIN_ISIS: usize = 10;
/// Onset/offset ratios use this many intervals, and need at least
/// `ABRUPT_ISIS * ABRUPT_MIN_FACTOR` intervals (kymo).
const ABRUPT_ISIS: usize = 3;
/// See [`ABRUPT_ISIS`].
const ABRUPT_MIN_FACTOR: usize = 3;

/// Features of potentials `seg` of `tr` (unit context filled in later).
pub(crate) fn segment_features(
    tr: &Train,
    seg: Segment,
    cfg: &PatternConfig,
    burst_s: f64,
) -> Features {
    let n = seg.len();
    let first = tr.t[seg.a];
    let last = tr.t[seg.b - 1];
    let duration = last - first;
    let kind = if n == 1 {
        SegmentKind::Single
    } else if duration <= burst_s {
        SegmentKind::Burst
    } else {
        SegmentKind::Run
    };
    let mut f = Features::empty(kind, tr.unit.waveform);
    f.n_potentials = n as u32;
    f.duration_s = duration;
    let amps = &tr.amp[seg.a..seg.b];
    f.amplitude_uv = stats::median(amps);
    if n < 2 {
        return f;
    }
    // Instantaneous rates at interval midpoints (uncensored intervals only).
    let mut mid = Vec::with_capacity(n - 1);
    let mut rate = Vec::with_capacity(n - 1);
    let mut isis = Vec::with_capacity(n - 1);
    for i in seg.a..seg.b - 1 {
        if !tr.censored(i) && tr.isi(i) > 0.0 {
            let e = tr.isi(i);
            isis.push(e);
            rate.push(1.0 / e);
            mid.push((tr.t[i] + tr.t[i + 1]) / 2.0);
        }
    }
    if isis.is_empty() {
        return f;
    }
    let total: f64 = isis.iter().sum();
    f.rate_hz = Some(isis.len() as f64 / total);
    let sr = stats::sorted(&rate);
    f.rate_p10_hz = stats::quantile_sorted(&sr, 0.1);
    f.rate_p90_hz = stats::quantile_sorted(&sr, 0.9);
    let si = stats::sorted(&isis);
    f.interval_min_ms = si.first().map(|v| v * 1e3);
    f.interval_median_ms = stats::quantile_sorted(&si, 0.5).map(|v| v * 1e3);
    f.interval_max_ms = si.last().map(|v| v * 1e3);
    f.isi_cv = stats::cv(&isis);
    f.isi_cv_robust = stats::robust_cv(&isis);
    let cv2: Vec<f64> = tr
        .isi_runs(seg.a, seg.b)
        .iter()
        .flat_map(|r| stats::cv2_values(&repaired(r, &cfg.jitter)))
        .collect();
    f.jitter = stats::median(&cv2);
    let d = &cfg.doublet.interval_ms;
    f.doublet_fraction = Some(
        isis.iter()
            .filter(|&&e| e * 1e3 >= d[0] && e * 1e3 <= d[1])
            .count() as f64
            / isis.len() as f64,
    );
    if duration > 0.0 {
        let xr: Vec<f64> = mid.iter().map(|m| (m - first) / duration).collect();
        f.rate_trend = trend(&xr, &rate, &cfg.trend);
        let xa: Vec<f64> = tr.t[seg.a..seg.b]
            .iter()
            .map(|t| (t - first) / duration)
            .collect();
        f.amplitude_trend = trend(&xa, amps, &cfg.trend);
    }
    let med_rate = stats::median(&rate);
    if rate.len() >= ABRUPT_ISIS * ABRUPT_MIN_FACTOR {
        if let Some(m) = med_rate.filter(|m| *m > 0.0) {
            let k = ABRUPT_ISIS;
            // Medians, so one stray or missed potential does not decide.
            let head = stats::median(&rate[..k]).unwrap_or(m);
            let tail = stats::median(&rate[rate.len() - k..]).unwrap_or(m);
            f.onset_ratio = Some(head / m);
            f.offset_ratio = Some(tail / m);
        }
    }
    if duration >= MODULATION_MIN_S && rate.len() >= MODULATION_MIN_ISIS {
        let (mut rt, mut rv) = (Vec::new(), Vec::new());
        for (t0, run) in tr.isi_runs_from(seg.a, seg.b) {
            let mut t = t0;
            for e in run.into_iter().filter(|e| *e > 0.0) {
                rt.push(t + e / 2.0);
                rv.push(1.0 / e);
                t += e;
            }
        }
        let band = cfg.myokymic_continuous.modulation_hz;
        let rate_mod = periodic(&rt, &winsorized(&rv), band);
        let amp_mod = periodic(&tr.t[seg.a..seg.b], &winsorized(amps), band);
        f.rate_modulation = Some(rate_mod.map_or(0.0, |p| p.depth));
        f.amplitude_modulation = Some(amp_mod.map_or(0.0, |p| p.depth));
        let freq = rate_mod.or(amp_mod).map(|p| p.freq_hz);
        f.modulation_hz = freq;
        f.modulation_cycles = Some(freq.map_or(0.0, |x| x * duration));
    }
    f
}

/// `run` repaired as `cfg` says, for the jitter (see `JitterConfig`).
pub(crate) fn repaired(run: &[f64], cfg: &JitterConfig) -> Vec<f64> {
    if cfg.repair {
        stats::repair_intervals(
            run,
            cfg.half_window,
            cfg.missed_tolerance,
            cfg.intruder_fraction,
            cfg.join_tolerance,
        )
    } else {
        run.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xs(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 / (n - 1) as f64).collect()
    }

    #[test]
    fn trend_shapes_from_exact_curves() {
        let cfg = TrendConfig::default();
        let x = xs(11);
        let cases: &[(&dyn Fn(f64) -> f64, Trend)] = &[
            (&|_| 10.0, Trend::Flat),
            (&|x| 10.0 + 0.5 * x, Trend::Flat), // 5 % change: below 10 %
            (&|x| 10.0 + 5.0 * x, Trend::Waxing),
            (&|x| 10.0 - 5.0 * x, Trend::Waning),
            (&|x| 10.0 + 8.0 * x * (1.0 - x), Trend::WaxingWaning),
            (&|x| 10.0 - 8.0 * x * (1.0 - x), Trend::WaningWaxing),
            // A hump whose vertex is outside the middle (x = 0.95): a rise, not a hump.
            (&|x| 10.0 + 4.0 * (1.9 * x - x * x), Trend::Waxing),
        ];
        for (i, (f, want)) in cases.iter().enumerate() {
            let y: Vec<f64> = x.iter().map(|v| f(*v)).collect();
            let got = trend(&x, &y, &cfg).expect("fits").shape;
            assert_eq!(got, *want, "case {i}");
        }
        // Waning by half: the fitted change is −5 / mean 7.5.
        let y: Vec<f64> = x.iter().map(|v| 10.0 - 5.0 * v).collect();
        let t = trend(&x, &y, &cfg).unwrap();
        assert!((t.change + 5.0 / 7.5).abs() < 1e-9);
        assert!(trend(&x[..2], &y[..2], &cfg).is_none());
    }

    #[test]
    fn winsorizing_pulls_in_strays_only() {
        let mut y = vec![10.0, 11.0, 9.0, 10.5, 9.5, 10.0, 10.2, 9.8];
        y.push(100.0);
        let w = winsorized(&y);
        assert_eq!(&w[..8], &y[..8]);
        assert!(w[8] < 15.0, "{w:?}");
    }

    #[test]
    fn periodogram_finds_a_waxing_and_waning_rate_and_not_jitter() {
        // 30 Hz ± 40 % at 2 Hz, sampled every 1/30 s with ± 5 % pseudo-random jitter (a
        // 64-bit linear congruential generator, Knuth's MMIX constants).
        let t: Vec<f64> = (0..900).map(|i| i as f64 / 30.0).collect();
        let jitter: Vec<f64> = (0..900u64)
            .scan(12345u64, |s, _| {
                *s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                Some(0.05 * (((*s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0))
            })
            .collect();
        let jit = |i: usize| jitter[i];
        let y: Vec<f64> = t
            .iter()
            .enumerate()
            .map(|(i, x)| 30.0 * (1.0 + 0.4 * (std::f64::consts::TAU * 2.0 * x).sin() + jit(i)))
            .collect();
        let p = periodic(&t, &y, [0.1, 10.0]).expect("modulated");
        assert!((p.freq_hz - 2.0).abs() < 0.05, "{p:?}");
        assert!((p.depth - 0.4).abs() < 0.03, "{p:?}");
        // The jitter alone has no significant peak.
        let z: Vec<f64> = (0..900).map(|i| 30.0 * (1.0 + jit(i))).collect();
        assert_eq!(periodic(&t, &z, [0.1, 10.0]), None);
        // Nor does a linear ramp (a contraction's rising rate).
        let ramp: Vec<f64> = t.iter().map(|x| 6.0 + 0.3 * x).collect();
        assert_eq!(periodic(&t, &ramp, [0.1, 10.0]), None);
    }
}
