//! Stage 4b: cutting a unit's train into segments — bursts, runs and singles — with a
//! threshold adapted to the train.
//!
//! # Method
//!
//! 1. **logISI valley** (Pasquale et al. 2010). The histogram of log10(interval) in bins of
//!    0.1 decade, smoothed with a [1, 2, 1] kernel, shows one mode for a train that fires
//!    steadily (fibrillations, regular discharges, continuous myokymia) and two for a
//!    bursting train (intra- and inter-burst intervals). The intra-burst mode is the
//!    largest peak at or below `max_intra_isi_ms`; the threshold is the minimum between it
//!    and the first later peak whose void parameter `1 − h_min / √(h_intra · h_peak)`
//!    reaches `min_void` (0.7). Each mode must hold `min_mode_isis` intervals and the
//!    intra mode `min_intra_fraction` of them.
//! 2. **Checks on the valley** (kymo). A valley is kept only if bursts end abruptly: the
//!    median ratio of the first above-threshold interval to the interval before it reaches
//!    `min_jump_ratio` (a smoothly waxing and waning rate crosses any threshold gradually).
//!    It is dropped when the long intervals are 2× or 3× a regular short interval (missed
//!    potentials in a regular train, not burst gaps); and when nearly all would-be breaks
//!    inside steady firing are 2× or 3× the intervals around them, they are bridged.
//! 3. **Fallbacks** when there is no valley: a two-means split of the log intervals, kept
//!    only for two well-separated groups whose short one is regular (close modes that the
//!    smoothed histogram merges); failing that (a unimodal histogram, or too few
//!    intervals), an interval breaks the train only if it is `gap_factor` (10) times the
//!    median interval (for an irregular, Poisson-like train: beyond its exponential tail).
//! 4. **Always**: an interval above `max_isi_s` (5 s) breaks, and so does an interval
//!    that spans an artefact (what happened inside is unknown; the classifier joins the
//!    two sides again when they are the same train). A would-be break as long as the
//!    steady firing on one side of it (that side's median over `slow_window` intervals
//!    reaches the threshold, within `slow_tolerance`) is a slower stretch — the second
//!    rate of a complex repetitive discharge, say — and does not break. When nearly all
//!    would-be breaks inside steady firing are 2× or 3× its intervals, they are missed
//!    potentials and do not break either.
//! 5. **Bursting trains** (a valley was kept): a short segment (`contrast_max_s`,
//!    `contrast_max_potentials`) is
//!    also cut at an interval `min_jump_ratio` times both its neighbours (and not 2× or
//!    3× them, a missed potential) — two bursts whose gap happened to fall below the
//!    threshold.
//!
//! A segment is a maximal stretch of potentials without a break: a single (one
//! potential), a burst or a run. What it is clinically is decided by the classifier, with
//! the whole unit's pattern in view.

use serde::{Deserialize, Serialize};

use super::config::SegmentationConfig;
use super::stats;
use super::trains::Train;

/// How a bimodal interval distribution was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitMethod {
    /// The valley of the logISI histogram (Pasquale et al. 2010).
    LogIsi,
    /// Two-means split of the log intervals (the fallback for close modes).
    TwoMeans,
}

/// How a train was split.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Split {
    /// How the threshold was found, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<SplitMethod>,
    /// Threshold between intra- and inter-burst intervals, ms, when one was found and
    /// kept.
    pub threshold_ms: Option<f64>,
    /// The separation of the two modes: the void parameter (log-ISI) or Ashman's D
    /// (two-means).
    pub void: Option<f64>,
    /// Where the intra-burst mode peaks, ms.
    pub intra_mode_ms: Option<f64>,
    /// Why a valley was found but not used, if it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

/// Potentials `a..b` (`b` exclusive) of one train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub a: usize,
    pub b: usize,
}

impl Segment {
    pub fn len(&self) -> usize {
        self.b - self.a
    }
}

/// A valley found in the logISI histogram (or by the two-means fallback).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Valley {
    pub threshold_s: f64,
    pub void: f64,
    pub intra_mode_s: f64,
    pub method: SplitMethod,
}

/// Most histogram bins (a guard: intervals from 1 µs to 10⁶ s span 12 decades, 120 bins at
/// the default width).
const MAX_BINS: usize = 4096;

/// The logISI valley of `isis` (seconds), if the histogram has one (Pasquale et al. 2010).
pub(crate) fn log_isi_valley(isis: &[f64], cfg: &SegmentationConfig) -> Option<Valley> {
    let x: Vec<f64> = isis
        .iter()
        .filter(|v| v.is_finite() && **v > 0.0)
        .map(|v| (v * 1e3).log10())
        .collect();
    if x.len() < 2 * cfg.min_mode_isis {
        return None;
    }
    let w = cfg.bin_decades;
    let lo = (x.iter().copied().fold(f64::INFINITY, f64::min) / w).floor() * w;
    let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let nb = (((hi - lo) / w).floor() as usize + 1).min(MAX_BINS);
    let mut raw = vec![0.0f64; nb];
    for v in &x {
        let k = (((v - lo) / w).floor() as usize).min(nb - 1);
        raw[k] += 1.0;
    }
    let g: Vec<f64> = (0..nb)
        .map(|k| {
            let l = if k > 0 { raw[k - 1] } else { 0.0 };
            let r = if k + 1 < nb { raw[k + 1] } else { 0.0 };
            (l + 2.0 * raw[k] + r) / 4.0
        })
        .collect();
    let count = |k: usize| {
        raw[k.saturating_sub(1)..(k + 2).min(nb)]
            .iter()
            .sum::<f64>()
    };
    let centre = |k: usize| lo + (k as f64 + 0.5) * w;
    let peaks: Vec<usize> = (0..nb)
        .filter(|&k| {
            g[k] > 0.0
                && (k == 0 || g[k] > g[k - 1])
                && (k + 1 == nb || g[k] >= g[k + 1])
                && count(k) >= cfg.min_mode_isis as f64
        })
        .collect();
    let max_intra = cfg.max_intra_isi_ms.log10();
    let intra = peaks
        .iter()
        .copied()
        .filter(|&k| centre(k) <= max_intra)
        .max_by(|&a, &b| g[a].total_cmp(&g[b]).then(b.cmp(&a)))?;
    for &j in peaks.iter().filter(|&&j| j > intra) {
        let gmin = g[intra..=j].iter().copied().fold(f64::INFINITY, f64::min);
        let void = 1.0 - gmin / (g[intra] * g[j]).sqrt();
        if void >= cfg.min_void {
            let k1 = (intra..=j).find(|&k| g[k] == gmin)?;
            let k2 = (intra..=j).rev().find(|&k| g[k] == gmin)?;
            let thr_log = lo + (k1 + k2 + 1) as f64 / 2.0 * w;
            let threshold_s = 10f64.powf(thr_log) * 1e-3;
            let below = x.iter().filter(|v| **v < thr_log).count();
            if (below as f64) < cfg.min_intra_fraction * x.len() as f64 {
                return None;
            }
            return Some(Valley {
                threshold_s,
                void,
                intra_mode_s: 10f64.powf(centre(intra)) * 1e-3,
                method: SplitMethod::LogIsi,
            });
        }
    }
    None
}

/// The fallback when the histogram shows no valley (two modes close together, or blurred
/// by stray and missed potentials): the two-means split of the log intervals (the split
/// that maximises the between-group variance, as Otsu's threshold), kept when the groups
/// are well separated (Ashman's D ≥ `MIN_ASHMAN_D` = 3; K. M. Ashman, C. M. Bird, S. E. Zepf,
/// "Detecting bimodality in astronomical datasets", Astron. J. 108:2348, 1994), each holds
/// `min_mode_isis` intervals, the short group lies at or below `max_intra_isi_ms`, holds
/// `min_intra_fraction` of the intervals and is regular (robust CV ≤ `MAX_INTRA_CV`, so a
/// Poisson train, whose short intervals spread over decades, is not cut).
pub(crate) fn two_means(isis: &[f64], cfg: &SegmentationConfig) -> Option<Valley> {
    /// Ashman's D for a clear separation of two modes (Ashman et al. 1994 ask D > 2 for a
    /// clean separation; kymo asks 3, since the histogram has already found no valley and
    /// two discharges at different rates give D ≈ 2).
    const MIN_ASHMAN_D: f64 = 3.0;
    /// Highest robust CV of the short group (kymo: intraburst intervals are regular; a
    /// Poisson train's short half has ≈ 0.6).
    const MAX_INTRA_CV: f64 = 0.25;
    let mut x: Vec<f64> = isis
        .iter()
        .filter(|v| v.is_finite() && **v > 0.0)
        .map(|v| (v * 1e3).log10())
        .collect();
    let n = x.len();
    let k_min = cfg.min_mode_isis.max(2);
    if n < 2 * k_min {
        return None;
    }
    x.sort_by(|a, b| a.total_cmp(b));
    let mut pre = vec![0.0; n + 1];
    let mut pre2 = vec![0.0; n + 1];
    for i in 0..n {
        pre[i + 1] = pre[i] + x[i];
        pre2[i + 1] = pre2[i] + x[i] * x[i];
    }
    let stats_of = |a: usize, b: usize| {
        let m = (b - a) as f64;
        let mu = (pre[b] - pre[a]) / m;
        let var = ((pre2[b] - pre2[a]) / m - mu * mu).max(0.0);
        (mu, var)
    };
    let mut best: Option<(usize, f64)> = None;
    for k in k_min..=n - k_min {
        let (m0, _) = stats_of(0, k);
        let (m1, _) = stats_of(k, n);
        let w0 = k as f64 / n as f64;
        let between = w0 * (1.0 - w0) * (m1 - m0) * (m1 - m0);
        if best.is_none_or(|(_, b)| between > b) {
            best = Some((k, between));
        }
    }
    let (k, _) = best?;
    let (m0, v0) = stats_of(0, k);
    let (m1, v1) = stats_of(k, n);
    let d = std::f64::consts::SQRT_2 * (m1 - m0) / (v0 + v1).sqrt().max(1e-12);
    let short: Vec<f64> = x[..k].iter().map(|v| 10f64.powf(*v)).collect();
    let intra = stats::median(&short)?;
    if d < MIN_ASHMAN_D
        || intra > cfg.max_intra_isi_ms
        || (k as f64) < cfg.min_intra_fraction * n as f64
        || stats::robust_cv(&short).is_none_or(|cv| cv > MAX_INTRA_CV)
    {
        return None;
    }
    Some(Valley {
        threshold_s: 10f64.powf((x[k - 1] + x[k]) / 2.0) * 1e-3,
        void: d,
        intra_mode_s: intra * 1e-3,
        method: SplitMethod::TwoMeans,
    })
}

/// Whether the long intervals look like potentials missing from a regular train: few,
/// and each within `tol` of 2× or 3× the (regular) short interval.
fn missed_potentials(short: &[f64], long: &[f64], tol: f64) -> bool {
    /// At most this share of intervals may be long (kymo: a train missing a quarter of its
    /// potentials is not "regular with gaps" any more).
    const MAX_LONG_SHARE: f64 = 0.25;
    /// The short intervals must be this regular (robust CV; kymo).
    const MAX_SHORT_CV: f64 = 0.15;
    /// …and this share of the long ones near a multiple (kymo).
    const MIN_NEAR_MULTIPLE: f64 = 0.75;
    let total = (short.len() + long.len()) as f64;
    if long.is_empty() || long.len() as f64 > MAX_LONG_SHARE * total {
        return false;
    }
    let (Some(t), Some(cv)) = (stats::median(short), stats::robust_cv(short)) else {
        return false;
    };
    if cv > MAX_SHORT_CV || t <= 0.0 {
        return false;
    }
    let near = long
        .iter()
        .filter(|&&l| [2.0, 3.0].iter().any(|k| (l / (k * t) - 1.0).abs() <= tol))
        .count();
    near as f64 >= MIN_NEAR_MULTIPLE * long.len() as f64
}

/// Like [`missed_potentials`], with each long interval compared with the firing around it
/// (a drifting rate, as a slowing fibrillation's, moves the global interval): few long
/// intervals, and nearly all of them inside steady firing and 2× or 3× it.
fn locally_missed(tr: &Train, th: f64, total: usize, tol: f64) -> bool {
    /// As in [`missed_potentials`].
    const MAX_LONG_SHARE: f64 = 0.25;
    let long: Vec<usize> = (0..tr.len().saturating_sub(1))
        .filter(|&i| !tr.censored(i) && tr.isi(i) >= th)
        .collect();
    if long.is_empty() || long.len() as f64 > MAX_LONG_SHARE * total as f64 {
        return false;
    }
    let near = long
        .iter()
        .filter_map(|&i| missed_ratio(tr, i))
        .filter(|&r| [2.0, 3.0].iter().any(|k| (r / k - 1.0).abs() <= tol))
        .count();
    near as f64 >= MIN_NEAR_MULTIPLE * long.len() as f64
}

/// Cuts `tr` into segments; returns how it split and the segments in time order.
pub(crate) fn segment(tr: &Train, cfg: &SegmentationConfig) -> (Split, Vec<Segment>) {
    let n = tr.len();
    let mut split = Split::default();
    if n == 0 {
        return (split, Vec::new());
    }
    if n == 1 {
        return (split, vec![Segment { a: 0, b: 1 }]);
    }
    let all = tr.isis(0, n);
    let mut th = None;
    if let Some(v) = log_isi_valley(&all, cfg).or_else(|| two_means(&all, cfg)) {
        split.method = Some(v.method);
        split.void = Some(v.void);
        split.intra_mode_ms = Some(v.intra_mode_s * 1e3);
        // Burst ends: the first interval above the threshold over the one before it.
        // Transitions made by a stray potential (the interval before is a split one, much
        // shorter than its predecessor) or by a missed one (2× or 3× the firing around it)
        // are left out: they say nothing about how the train's own firing stops.
        let near_multiple = |i: usize| {
            missed_ratio(tr, i).is_some_and(|r| {
                [2.0, 3.0]
                    .iter()
                    .any(|k| (r / k - 1.0).abs() <= cfg.missed_tolerance)
            })
        };
        let ratios: Vec<f64> = (1..n - 1)
            .filter(|&i| !tr.censored(i) && !tr.censored(i - 1))
            .filter(|&i| tr.isi(i - 1) < v.threshold_s && tr.isi(i) >= v.threshold_s)
            .filter(|&i| {
                i < 2 || tr.censored(i - 2) || tr.isi(i - 1) >= SPLIT_FACTOR * tr.isi(i - 2)
            })
            .filter(|&i| !near_multiple(i))
            .map(|i| tr.isi(i) / tr.isi(i - 1))
            .collect();
        let (short, long): (Vec<f64>, Vec<f64>) = all.iter().partition(|&&x| x < v.threshold_s);
        let jump = stats::median(&ratios);
        if jump.is_none_or(|j| j < cfg.min_jump_ratio) {
            split.rejected = Some(format!(
                "valley at {:.0} ms rejected: bursts do not end abruptly (median jump {:.2}×, needs {}×)",
                v.threshold_s * 1e3,
                jump.unwrap_or(0.0),
                cfg.min_jump_ratio
            ));
        } else if missed_potentials(&short, &long, cfg.missed_tolerance)
            || locally_missed(tr, v.threshold_s, all.len(), cfg.missed_tolerance)
        {
            split.rejected = Some(format!(
                "valley at {:.0} ms rejected: the long intervals are 2× or 3× the regular interval (missed potentials)",
                v.threshold_s * 1e3
            ));
        } else {
            split.threshold_ms = Some(v.threshold_s * 1e3);
            th = Some(v.threshold_s);
        }
    }
    let gap = gap_threshold(&all, cfg);
    let hard: Vec<bool> = (0..n - 1)
        .map(|i| tr.censored(i) || tr.isi(i) > cfg.max_isi_s)
        .collect();
    let mut soft: Vec<bool> = (0..n - 1)
        .map(|i| {
            let e = tr.isi(i);
            !hard[i] && (th.is_some_and(|th| e >= th) || gap.is_some_and(|g| e >= g))
        })
        .collect();
    // Slow steady firing: a would-be break that is as long as the firing on one side of
    // it (that side's median interval reaches the threshold that flagged it), alone or
    // with a neighbour (split by a stray potential), is part of a slower stretch — the
    // second rate of a complex repetitive discharge, say — and does not break.
    let slow: Vec<usize> = (0..n - 1)
        .filter(|&i| soft[i])
        .filter(|&i| {
            let e = tr.isi(i);
            let flag = match th {
                Some(t) if e >= t => t,
                _ => gap.unwrap_or(e),
            };
            let tol = 1.0 + cfg.slow_tolerance;
            let side = |it: &mut dyn Iterator<Item = usize>| {
                let v: Vec<f64> = it
                    .take(cfg.slow_window)
                    .filter(|&j| !hard[j])
                    .map(|j| tr.isi(j))
                    .collect();
                let Some(m) = (v.len() >= SLOW_MIN_SIDE)
                    .then(|| stats::median(&v))
                    .flatten()
                else {
                    return false;
                };
                let steady = v.iter().filter(|&&x| x <= m * tol && x * tol >= m).count();
                // The interval itself, or with a neighbour (a stray potential split one
                // interval in two), is one interval of that firing.
                let like = |x: f64| x <= m * tol && x * tol >= m;
                let split = (i > 0 && !hard[i - 1] && like(e + tr.isi(i - 1)))
                    || (i + 2 < n && !hard[i + 1] && like(e + tr.isi(i + 1)));
                steady >= SLOW_MIN_SIDE && m * tol >= flag && (like(e) || split)
            };
            side(&mut (0..i).rev()) || side(&mut (i + 1..n - 1))
        })
        .collect();
    for i in slow {
        soft[i] = false;
    }
    // Missed potentials: when nearly all would-be breaks inside steady firing are 2 or 3
    // intervals long, the train is regular and lost potentials; those breaks are bridged.
    // (In a bursting train the gaps vary with the burst rhythm and only some fall near a
    // multiple, so none is bridged.)
    let ratios: Vec<(usize, f64)> = (0..n - 1)
        .filter(|&i| soft[i])
        .filter_map(|i| missed_ratio(tr, i).map(|r| (i, r)))
        .filter(|&(_, r)| (MULTIPLE_RANGE[0]..=MULTIPLE_RANGE[1]).contains(&r))
        .collect();
    let near: Vec<usize> = ratios
        .iter()
        .filter(|&&(_, r)| {
            [2.0, 3.0]
                .iter()
                .any(|k| (r / k - 1.0).abs() <= cfg.missed_tolerance)
        })
        .map(|&(i, _)| i)
        .collect();
    if !near.is_empty() && near.len() as f64 >= MIN_NEAR_MULTIPLE * ratios.len() as f64 {
        for i in near {
            soft[i] = false;
        }
    }
    let mut brk: Vec<bool> = (0..n - 1).map(|i| hard[i] || soft[i]).collect();
    // In a bursting train, a short segment is also cut where one interval is clearly longer
    // than both its neighbours (two bursts whose gap fell below the threshold).
    if th.is_some() {
        let mut a = 0;
        for i in 0..n - 1 {
            if brk[i] || i == n - 2 {
                let b = if brk[i] { i + 1 } else { n };
                contrast_cuts(tr, a, b, cfg, &mut brk);
                a = i + 1;
            }
        }
    }
    bridge_fast_gaps(tr, &hard, &mut brk, cfg);
    let mut out = Vec::new();
    let mut a = 0;
    for (i, &b) in brk.iter().enumerate() {
        if b {
            out.push(Segment { a, b: i + 1 });
            a = i + 1;
        }
    }
    out.push(Segment { a, b: n });
    (split, out)
}

/// Removes the soft breaks (`brk` but not `hard`) of a fast train that are short gaps
/// between runs at the same rate (see `SegmentationConfig::bridge_min_rate_hz`): in a
/// neuromyotonic discharge the sorter leaves runs of overlapping potentials unsorted, and
/// the discharge must not fall apart into fragments.
fn bridge_fast_gaps(tr: &Train, hard: &[bool], brk: &mut [bool], cfg: &SegmentationConfig) {
    let k = cfg.bridge_min_side;
    if k < 2 {
        return;
    }
    // Median rate of the `k − 1` fast intervals nearest to a break on one side, walking
    // over shorter gaps and small fragments (a run broken twice around a fragment of a
    // few potentials) but not over a censored interval or a gap no bridge could span.
    let longest = cfg.bridge_max_intervals / cfg.bridge_min_rate_hz;
    let side = |order: &mut dyn Iterator<Item = usize>| -> Option<f64> {
        let mut iv = Vec::with_capacity(k);
        for j in order.take(4 * k) {
            if tr.censored(j) || tr.isi(j) > longest {
                break;
            }
            if tr.isi(j) * cfg.bridge_min_rate_hz <= 1.0 {
                iv.push(tr.isi(j));
                if iv.len() + 1 == k {
                    break;
                }
            }
        }
        if iv.len() + 1 < k {
            return None;
        }
        stats::median(&iv).filter(|m| *m > 0.0).map(|m| 1.0 / m)
    };
    for i in 0..brk.len() {
        if !brk[i] || hard[i] {
            continue;
        }
        let before = side(&mut (0..i).rev());
        let after = side(&mut (i + 1..brk.len()));
        let (Some(before), Some(after)) = (before, after) else {
            continue;
        };
        let slow = before.min(after);
        let close = (before - after).abs() <= cfg.bridge_rate_tolerance * slow;
        let short = tr.isi(i) * slow <= cfg.bridge_max_intervals;
        if slow >= cfg.bridge_min_rate_hz && close && short {
            brk[i] = false;
        }
    }
}

/// Intervals of a side's window that must lie within `slow_tolerance` of the window's
/// median to call the firing there slow and steady (kymo: three of five allows a stray
/// and a missed potential nearby; five Poisson intervals pass only 1 % of the time).
const SLOW_MIN_SIDE: usize = 3;

/// An interval shorter than this fraction of the one before it is taken for one split by
/// a stray potential when judging burst ends (kymo: intraburst intervals change far less
/// from one to the next).
const SPLIT_FACTOR: f64 = 0.6;

/// Would-be breaks whose ratio to the steady intervals around them lies in this range
/// take part in the missed-potential vote (kymo: 1.5–4 covers 2 and 3 lost intervals;
/// longer silences are real gaps).
const MULTIPLE_RANGE: [f64; 2] = [1.5, 4.0];
/// Share of the voters that must be near 2× or 3× (kymo).
const MIN_NEAR_MULTIPLE: f64 = 0.75;

/// The ratio of interval `i` to the steady firing around it, if it lies inside steady
/// firing:
///
/// - of the `WINDOW` intervals on each side (uncensored), at least `MIN_STEADY` in all,
///   and one on each side, are within `STEADY_SPREAD` of their median (so the gap between
///   two discharges, or two sparse bursts, has no ratio);
/// - its nearest steady neighbours on each side agree within `LOCAL_SPREAD`;
/// - the ratio is to their mean (a smoothly changing rate keeps the missing intervals
///   between their neighbours, so 2× and 3× hold in waxing and waning trains too).
fn missed_ratio(tr: &Train, i: usize) -> Option<f64> {
    /// Intervals looked at on each side (kymo).
    const WINDOW: usize = 5;
    /// Steady intervals needed in the window (kymo: most of it).
    const MIN_STEADY: usize = 6;
    /// An interval is steady within this factor of the window's median (kymo: allows a
    /// waxing and waning rate).
    const STEADY_SPREAD: f64 = 1.35;
    /// Largest ratio of the two neighbouring steady intervals (kymo).
    const LOCAL_SPREAD: f64 = 2.0;
    let m = tr.len().saturating_sub(1);
    let side = |it: &mut dyn Iterator<Item = usize>| -> Option<Vec<f64>> {
        let mut v = Vec::with_capacity(WINDOW);
        for j in it.take(WINDOW) {
            if tr.censored(j) {
                return None;
            }
            v.push(tr.isi(j));
        }
        Some(v)
    };
    let left = side(&mut (0..i).rev())?;
    let right = side(&mut (i + 1..m))?;
    let all: Vec<f64> = left.iter().chain(right.iter()).copied().collect();
    let med = stats::median(&all)?;
    let steady = |x: &&f64| **x <= STEADY_SPREAD * med && **x * STEADY_SPREAD >= med;
    let (sl, sr) = (
        left.iter().filter(steady).count(),
        right.iter().filter(steady).count(),
    );
    if sl == 0 || sr == 0 || sl + sr < MIN_STEADY {
        return None;
    }
    let l = *left.iter().find(steady)?;
    let r = *right.iter().find(steady)?;
    if l.max(r) > LOCAL_SPREAD * l.min(r) {
        return None;
    }
    Some(tr.isi(i) / ((l + r) / 2.0))
}

/// Marks in `brk` the intervals of segment `a..b` that are at least `min_jump_ratio`
/// times both neighbouring intervals, if the segment is short (`contrast_max_s`,
/// `contrast_max_potentials`): longer runs are left whole, since a missed potential or
/// irregular firing makes such intervals by chance.
fn contrast_cuts(tr: &Train, a: usize, b: usize, cfg: &SegmentationConfig, brk: &mut [bool]) {
    if b < a + 4
        || b - a > cfg.contrast_max_potentials
        || tr.t[b - 1] - tr.t[a] > cfg.contrast_max_s
    {
        return;
    }
    for (i, cut) in brk.iter_mut().enumerate().take(b - 2).skip(a + 1) {
        if tr.censored(i - 1) || tr.censored(i) || tr.censored(i + 1) {
            continue;
        }
        let (l, m, r) = (tr.isi(i - 1), tr.isi(i), tr.isi(i + 1));
        // 2× or 3× the intervals around it is a missed potential, not a gap.
        let ratio = m / ((l + r) / 2.0);
        let missed = [2.0, 3.0]
            .iter()
            .any(|k| (ratio / k - 1.0).abs() <= cfg.missed_tolerance);
        if m >= cfg.min_jump_ratio * l.max(r) && !missed {
            *cut = true;
        }
    }
}

/// Without a valley, the interval above which a train breaks: `gap_factor` × the median
/// for a regular or bursting train; for an irregular (Poisson-like) train, whose long
/// intervals are expected, the point beyond which its exponential tail leaves less than
/// `irregular_false_split` chance of any break in the whole train.
fn gap_threshold(all: &[f64], cfg: &SegmentationConfig) -> Option<f64> {
    /// Robust CV from which a train is irregular (kymo: a Poisson train has ≈ 1, a
    /// voluntary or cramp unit 0.15–0.45).
    const IRREGULAR_ROBUST_CV: f64 = 0.5;
    let med = stats::median(all)?;
    let base = cfg.gap_factor * med;
    match stats::robust_cv(all) {
        Some(cv) if cv >= IRREGULAR_ROBUST_CV => {
            let tail: Vec<f64> = all.iter().filter(|&&e| e > med).map(|&e| e - med).collect();
            let mu = stats::mean(&tail)?;
            let t = med + mu * (all.len() as f64 / cfg.irregular_false_split).ln();
            Some(base.max(t))
        }
        _ => Some(base),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{UnitInput, WaveformClass};

    fn train(t: Vec<f64>) -> Train {
        let n = t.len();
        Train {
            unit: UnitInput {
                id: 0,
                waveform: WaveformClass::MotorUnit,
                p2p_uv: 500.0,
                duration_ms: 8.0,
                phases: 3,
                first_phase_positive: false,
            },
            amp: vec![500.0; n],
            blanked: vec![0.0; n.saturating_sub(1)],
            t,
        }
    }

    fn lens(s: &[Segment]) -> Vec<usize> {
        s.iter().map(Segment::len).collect()
    }

    /// Bursts of `k` potentials 30 ms apart, starting every `period` s.
    fn bursts(k: usize, count: usize, period: f64) -> Vec<f64> {
        (0..count)
            .flat_map(|b| (0..k).map(move |i| b as f64 * period + i as f64 * 0.030))
            .collect()
    }

    #[test]
    fn two_modes_give_a_valley_between_them() {
        // 60 intervals of 30 ms, 20 of 500 ms: the valley lies between (log midpoint ~122 ms).
        let mut isis = vec![0.030; 60];
        isis.extend(vec![0.5; 20]);
        let v = log_isi_valley(&isis, &SegmentationConfig::default()).expect("bimodal");
        assert!(v.threshold_s > 0.05 && v.threshold_s < 0.4, "{v:?}");
        assert_eq!(v.void, 1.0);
        assert!((v.intra_mode_s - 0.030).abs() < 0.008);
    }

    #[test]
    fn one_mode_gives_no_valley() {
        let isis: Vec<f64> = (0..200)
            .map(|i| 0.1 * (1.0 + 0.02 * ((i % 7) as f64 - 3.0)))
            .collect();
        assert_eq!(log_isi_valley(&isis, &SegmentationConfig::default()), None);
    }

    #[test]
    fn bursts_are_cut_at_their_gaps() {
        let (split, segs) = segment(&train(bursts(4, 10, 0.5)), &SegmentationConfig::default());
        assert!(split.threshold_ms.is_some(), "{split:?}");
        assert_eq!(lens(&segs), vec![4; 10]);
    }

    #[test]
    fn a_steady_train_is_one_segment() {
        let t: Vec<f64> = (0..100).map(|i| i as f64 * 0.2).collect();
        let (_, segs) = segment(&train(t), &SegmentationConfig::default());
        assert_eq!(lens(&segs), vec![100]);
    }

    #[test]
    fn a_regular_train_missing_potentials_stays_one_segment() {
        // 10 Hz, every 12th potential missing: long intervals are exactly 2× the short.
        let t: Vec<f64> = (0..300)
            .filter(|i| i % 12 != 5)
            .map(|i| i as f64 * 0.1)
            .collect();
        let n = t.len();
        let (split, segs) = segment(&train(t), &SegmentationConfig::default());
        assert_eq!(lens(&segs), vec![n], "{split:?}");
    }

    #[test]
    fn a_rate_step_inside_a_discharge_does_not_cut_it() {
        // 50 Hz for 2 s, then 5 Hz for 2 s, then silence, then 50 Hz again.
        let mut t: Vec<f64> = (0..100).map(|i| i as f64 * 0.02).collect();
        t.extend((1..=10).map(|i| 1.98 + i as f64 * 0.2));
        t.extend((0..100).map(|i| 8.0 + i as f64 * 0.02));
        let (_, segs) = segment(&train(t), &SegmentationConfig::default());
        assert_eq!(lens(&segs), vec![110, 100]);
    }

    #[test]
    fn long_silences_always_cut() {
        let t = vec![0.0, 0.1, 0.2, 5.0, 5.1, 5.2];
        let (_, segs) = segment(&train(t), &SegmentationConfig::default());
        assert_eq!(lens(&segs), vec![3, 3]);
    }

    #[test]
    fn a_smoothly_modulated_rate_is_not_cut() {
        // Rate 25 Hz ± 60 % at 2 Hz: intervals change gradually.
        let mut t = vec![0.0];
        while *t.last().unwrap() < 20.0 {
            let x = *t.last().unwrap();
            let r = 25.0 * (1.0 + 0.6 * (std::f64::consts::TAU * 2.0 * x).sin());
            t.push(x + 1.0 / r);
        }
        let n = t.len();
        let (_, segs) = segment(&train(t), &SegmentationConfig::default());
        assert_eq!(lens(&segs), vec![n]);
    }

    #[test]
    fn empty_and_single_trains() {
        assert!(segment(&train(vec![]), &SegmentationConfig::default())
            .1
            .is_empty());
        assert_eq!(
            lens(&segment(&train(vec![1.0]), &SegmentationConfig::default()).1),
            vec![1]
        );
    }

    #[test]
    fn a_fast_train_is_bridged_over_missed_runs_but_separate_discharges_are_not() {
        // Two 250 Hz discharges of 1 s, 3 s apart; inside each, three runs of 6–10
        // potentials are lost (24–40 ms gaps), as a sorter loses overlapping potentials.
        let mut t = Vec::new();
        for start in [1.0, 5.0] {
            for i in 0..250 {
                let lost =
                    (60..66).contains(&i) || (120..130).contains(&i) || (200..208).contains(&i);
                if !lost {
                    t.push(start + i as f64 * 0.004 + if i % 2 == 0 { 0.0001 } else { 0.0 });
                }
            }
        }
        let (_, segs) = segment(&train(t.clone()), &SegmentationConfig::default());
        assert_eq!(lens(&segs), vec![226, 226]);
        // Without the bridge the gaps cut the discharges apart.
        let off = SegmentationConfig {
            bridge_max_intervals: 0.0,
            ..SegmentationConfig::default()
        };
        let (_, segs) = segment(&train(t), &off);
        assert!(segs.len() > 2, "{:?}", lens(&segs));
        // Slow bursts (30 ms intervals, 33 Hz) keep their gaps.
        let (_, segs) = segment(&train(bursts(8, 6, 0.5)), &SegmentationConfig::default());
        assert_eq!(segs.len(), 6);
    }
}
