//! Stage 5: the numbers behind each discharge.
//!
//! Per segment (burst, run or single): potentials, duration, mean (intraburst) rate, the
//! spread of the instantaneous rate, interval statistics (CV, robust CV, and the local
//! jitter — the median CV2 of successive intervals, Holt et al. 1996), rate and amplitude
//! trends inside the segment (a line and a parabola fitted against normalised time),
//! onset and offset abruptness, slow modulation (depth, frequency and cycles of the
//! waxing and waning), and the unit's context: its burst recurrence rate and regularity,
//! its overall rate and irregularity, and how many other units fire sustained trains at
//! the same time. Multi-unit episodes (voluntary activity, cramps) add per-unit rates,
//! local CVs and the spread of the units' onsets.
//!
//! Every field is `None` where it cannot be measured (a single potential has no rate).

use serde::{Deserialize, Serialize};

use super::bursts::Segment;
use super::config::{PatternConfig, TrendConfig};
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
    /// Local interval jitter: median CV2 of successive intervals (Holt et al. 1996; about
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
    /// Depth of the slow rate modulation: (P90 − P10) / (P90 + P10) of the 3-point
    /// smoothed instantaneous rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_modulation: Option<f64>,
    /// The same for the amplitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amplitude_modulation: Option<f64>,
    /// Waxing/waning cycles of the smoothed rate (from its hysteresis crossings of the mean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulation_cycles: Option<f64>,
    /// Cycles per second, Hz.
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

/// 3-point centred moving average (ends kept).
fn smooth3(y: &[f64]) -> Vec<f64> {
    (0..y.len())
        .map(|i| {
            if i == 0 || i + 1 == y.len() {
                y[i]
            } else {
                (y[i - 1] + y[i] + y[i + 1]) / 3.0
            }
        })
        .collect()
}

/// The instantaneous rates without outliers: a rate more than `OUTLIER` times off the
/// median of its 5-point neighbourhood (a stray potential splitting an interval, or a
/// missed one doubling it) is left out, so modulation is measured on the steady firing.
fn steady_rates(rate: &[f64]) -> Vec<f64> {
    /// Factor beyond which a rate is an outlier (kymo: a waxing and waning rate never
    /// changes by 1.6× within two intervals).
    const OUTLIER: f64 = 1.6;
    (0..rate.len())
        .filter(|&i| {
            let lo = i.saturating_sub(2);
            let hi = (i + 3).min(rate.len());
            stats::median(&rate[lo..hi])
                .is_none_or(|m| rate[i] <= OUTLIER * m && rate[i] * OUTLIER >= m)
        })
        .map(|i| rate[i])
        .collect()
}

/// `(P90 − P10) / (P90 + P10)`.
fn depth(y: &[f64]) -> Option<f64> {
    let s = stats::sorted(y);
    let (p10, p90) = (
        stats::quantile_sorted(&s, 0.1)?,
        stats::quantile_sorted(&s, 0.9)?,
    );
    (p10 + p90 > 0.0).then(|| (p90 - p10) / (p90 + p10))
}

/// Waxing/waning cycles of `y`: crossings between the bands above and below its mean
/// (± `h` × mean); k cycles cross 2k − 1 times.
fn cycles(y: &[f64], h: f64) -> Option<f64> {
    let m = stats::mean(y)?;
    let (up, down) = (m * (1.0 + h), m * (1.0 - h));
    let mut state = 0i8;
    let mut crossings = 0usize;
    for &v in y {
        let s = if v > up {
            1
        } else if v < down {
            -1
        } else {
            0
        };
        if s != 0 && s != state {
            if state != 0 {
                crossings += 1;
            }
            state = s;
        }
    }
    // A train that starts near its mean: k full cycles cross 2k − 1 times.
    Some(if crossings == 0 {
        0.0
    } else {
        (crossings + 1) as f64 / 2.0
    })
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
        .flat_map(|r| stats::cv2_values(r))
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
        let steady = steady_rates(&rate);
        let sm = smooth3(&steady);
        f.rate_modulation = depth(&sm);
        f.modulation_cycles = cycles(&sm, cfg.trend.hysteresis);
        f.modulation_hz = f.modulation_cycles.map(|c| c / duration);
        f.amplitude_modulation = depth(&smooth3(amps));
    }
    f
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
    fn cycles_count_hysteresis_crossings() {
        // Two full sine cycles from the mean → 3 crossings → 2 cycles; jitter inside the
        // band adds none.
        let y: Vec<f64> = (0..200)
            .map(|i| 10.0 + 3.0 * (std::f64::consts::TAU * 2.0 * i as f64 / 200.0).sin())
            .collect();
        assert_eq!(cycles(&y, 0.08), Some(2.0));
        let flat: Vec<f64> = (0..200)
            .map(|i| 10.0 + 0.5 * ((i % 2) as f64 - 0.5))
            .collect();
        assert_eq!(cycles(&flat, 0.08), Some(0.0));
    }

    #[test]
    fn depth_of_a_square_wave() {
        // Half the values 5, half 15: P10 = 5, P90 = 15 → 10 / 20.
        let y: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 5.0 } else { 15.0 })
            .collect();
        assert_eq!(depth(&y), Some(0.5));
    }
}
