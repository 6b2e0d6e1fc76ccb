//! Stages 4–7 of the analysis: firing trains → bursts → features → classified discharges →
//! channel summary.
//!
//! The input is what spike sorting gives for one channel: a unit table ([`UnitInput`]:
//! waveform class, amplitude, duration, phases, first phase) and every potential
//! ([`PotentialInput`]: time, unit, amplitude). [`analyze_channel`] returns the discharges
//! a reader would mark, each with its class, a confidence, the numbers behind the call and
//! a sentence a clinician can check, plus a [`ChannelSummary`].
//!
//! ```
//! use kymo::pattern::{analyze_channel, PatternConfig, PotentialInput, UnitInput, WaveformClass};
//!
//! // One motor unit firing bursts of 5 potentials at 30 Hz, every 0.5 s, for 20 s.
//! let units = [UnitInput { id: 3, waveform: WaveformClass::MotorUnit, p2p_uv: 800.0,
//!                          duration_ms: 9.0, phases: 3, first_phase_positive: false }];
//! let mut potentials = Vec::new();
//! for burst in 0..40 {
//!     for k in 0..5 {
//!         let time_s = 0.2 + burst as f64 * 0.5 + k as f64 / 30.0 + 0.003 * ((burst * 7 + k) % 5) as f64;
//!         potentials.push(PotentialInput { time_s, unit: 3, amplitude_uv: 800.0 });
//!     }
//! }
//! let cfg = PatternConfig::default().check()?;
//! let result = analyze_channel(&units, &potentials, 20.0, &[], &cfg);
//! assert_eq!(result.discharges.len(), 40);
//! assert!(result.discharges.iter().all(|d| d.class.name() == "myokymic"));
//! println!("{}", result.discharges[0].evidence);
//! # Ok::<(), kymo::Error>(())
//! ```
//!
//! # Stages
//!
//! 1. [`trains`]: per-unit trains and intervals; artefacts drop potentials and censor
//!    the intervals they cut.
//! 2. [`bursts`]: each train is cut into segments (bursts, runs, singles) with a threshold
//!    adapted to the train (the logISI valley of Pasquale et al. 2010, with checks and a
//!    fallback).
//! 3. [`features`]: the numbers behind each segment, with its unit's context (burst
//!    recurrence and its regularity, overall rate and irregularity, co-active units).
//! 4. [`classify`]: every single-unit class is scored on each segment; sustained segments
//!    of several motor units that overlap in time form a multi-unit episode, scored as
//!    voluntary activity or a cramp, and kept when it scores at least as well as its
//!    members' own calls.
//! 5. [`summary`]: counts and rates per class, continuous vs episodic myokymia, the
//!    dominant pattern, and a fibrillation/PSW grade.
//!
//! # Granularity
//!
//! Discharges are cut as the simulator's events are (`docs/truth-json.md`) and as a
//! reader would mark them: each myokymic burst, doublet group, neuromyotonic, complex
//! repetitive or myotonic discharge is one discharge; each fasciculation potential is
//! one; a train (fibrillations, positive sharp waves, regular discharges, continuous
//! myokymia, endplate spikes) is one per unit and uninterrupted stretch; a voluntary
//! contraction or a cramp is one over all the units that take part. Single potentials
//! that fit no class are not reported as discharges; they are counted in
//! [`ChannelSummary::stray_potentials`].

pub mod bursts;
pub mod classify;
pub mod config;
mod evidence;
pub mod features;
pub(crate) mod stats;
pub mod summary;
pub mod trains;

use serde::{Deserialize, Serialize};

pub use classify::{ClassScore, Criterion};
pub use config::{PatternConfig, ValidPatternConfig};
pub use features::{Features, SegmentKind, Trend, TrendFit};
pub use summary::ChannelSummary;
pub use trains::{InputDiagnostics, TrainSummary};

use bursts::Segment;
use trains::Train;

/// The kind of potential a unit fires, as spike sorting classifies its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaveformClass {
    /// A motor unit potential (needle or surface).
    MotorUnit,
    /// A single muscle fibre spike: a fibrillation potential (initially positive) or an
    /// endplate spike (initially negative).
    SingleFibre,
    /// A positive sharp wave.
    PositiveSharpWave,
    /// A time-locked polyphasic complex (complex repetitive discharge).
    Complex,
}

impl WaveformClass {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            WaveformClass::MotorUnit => "motor-unit",
            WaveformClass::SingleFibre => "single-fibre",
            WaveformClass::PositiveSharpWave => "positive-sharp-wave",
            WaveformClass::Complex => "complex",
        }
    }
}

/// One unit as spike sorting reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitInput {
    /// Unit id (the id potentials refer to).
    pub id: u32,
    /// Waveform class of its template.
    pub waveform: WaveformClass,
    /// Peak-to-peak amplitude of the template, µV.
    pub p2p_uv: f32,
    /// Duration of the template, ms. A potential is taken to span ± half of it around its
    /// time.
    pub duration_ms: f32,
    /// Phases of the template.
    pub phases: u32,
    /// Whether the first phase is positive (physical sign).
    pub first_phase_positive: bool,
}

/// One potential on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PotentialInput {
    /// Time of the potential (its template's reference point), s from the first sample.
    pub time_s: f64,
    /// Unit id.
    pub unit: u32,
    /// Peak-to-peak amplitude of this potential, µV.
    pub amplitude_uv: f32,
}

/// The classes of the domain brief, with the simulator's names, plus `unclassified`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DischargeClass {
    /// Voluntary motor unit activity.
    Voluntary,
    /// Fasciculation potential.
    Fasciculation,
    /// Doublet or multiplet.
    Doublet,
    /// Myokymic discharge, burst form.
    Myokymic,
    /// Myokymic discharge, continuous form.
    MyokymicContinuous,
    /// Neuromyotonic discharge.
    Neuromyotonic,
    /// Complex repetitive discharge.
    ComplexRepetitive,
    /// Fibrillation potentials.
    Fibrillation,
    /// Positive sharp waves.
    PositiveSharpWave,
    /// Myotonic discharge.
    Myotonic,
    /// Cramp discharge.
    Cramp,
    /// Regular single-unit discharges.
    Regular,
    /// Endplate spikes (normal).
    EndplateSpike,
    /// Activity that fits no class well.
    Unclassified,
}

impl DischargeClass {
    /// Every class, in a fixed order (`unclassified` last).
    pub const ALL: [DischargeClass; 14] = [
        DischargeClass::Voluntary,
        DischargeClass::Fasciculation,
        DischargeClass::Doublet,
        DischargeClass::Myokymic,
        DischargeClass::MyokymicContinuous,
        DischargeClass::Neuromyotonic,
        DischargeClass::ComplexRepetitive,
        DischargeClass::Fibrillation,
        DischargeClass::PositiveSharpWave,
        DischargeClass::Myotonic,
        DischargeClass::Cramp,
        DischargeClass::Regular,
        DischargeClass::EndplateSpike,
        DischargeClass::Unclassified,
    ];

    /// The kebab-case name (as in the simulator's truth files).
    pub fn name(self) -> &'static str {
        match self {
            DischargeClass::Voluntary => "voluntary",
            DischargeClass::Fasciculation => "fasciculation",
            DischargeClass::Doublet => "doublet",
            DischargeClass::Myokymic => "myokymic",
            DischargeClass::MyokymicContinuous => "myokymic-continuous",
            DischargeClass::Neuromyotonic => "neuromyotonic",
            DischargeClass::ComplexRepetitive => "complex-repetitive",
            DischargeClass::Fibrillation => "fibrillation",
            DischargeClass::PositiveSharpWave => "positive-sharp-wave",
            DischargeClass::Myotonic => "myotonic",
            DischargeClass::Cramp => "cramp",
            DischargeClass::Regular => "regular",
            DischargeClass::EndplateSpike => "endplate-spike",
            DischargeClass::Unclassified => "unclassified",
        }
    }
}

impl From<crate::simulate::Class> for DischargeClass {
    fn from(c: crate::simulate::Class) -> Self {
        use crate::simulate::Class as S;
        match c {
            S::Voluntary => DischargeClass::Voluntary,
            S::Fasciculation => DischargeClass::Fasciculation,
            S::Doublet => DischargeClass::Doublet,
            S::Myokymic => DischargeClass::Myokymic,
            S::MyokymicContinuous => DischargeClass::MyokymicContinuous,
            S::Neuromyotonic => DischargeClass::Neuromyotonic,
            S::ComplexRepetitive => DischargeClass::ComplexRepetitive,
            S::Fibrillation => DischargeClass::Fibrillation,
            S::PositiveSharpWave => DischargeClass::PositiveSharpWave,
            S::Myotonic => DischargeClass::Myotonic,
            S::Cramp => DischargeClass::Cramp,
            S::Regular => DischargeClass::Regular,
            S::EndplateSpike => DischargeClass::EndplateSpike,
        }
    }
}

/// The best competing class of a call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunnerUp {
    /// Its class.
    pub class: DischargeClass,
    /// Its score.
    pub score: f64,
}

/// One discharge: what a reader would mark on the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discharge {
    /// Class.
    pub class: DischargeClass,
    /// Confidence 0–1: the class's score minus half the runner-up's (`classify`).
    pub confidence: f64,
    /// The class's score 0–1.
    pub score: f64,
    /// The best competing class, if any scored above 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_up: Option<RunnerUp>,
    /// Start: the first potential's time minus half its unit's duration, s.
    pub start_s: f64,
    /// End: the last potential's time plus half its unit's duration, s.
    pub end_s: f64,
    /// Time of the first potential, s.
    pub first_s: f64,
    /// Time of the last potential, s.
    pub last_s: f64,
    /// Units involved, ascending.
    pub units: Vec<u32>,
    /// Potentials.
    pub n_potentials: u32,
    /// The numbers behind the call.
    pub features: Features,
    /// The criteria of the class and how this discharge met them.
    pub criteria: Vec<Criterion>,
    /// One sentence a clinician can check against the trace.
    pub evidence: String,
}

/// The result for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPattern {
    /// Discharges, by start time.
    pub discharges: Vec<Discharge>,
    /// One entry per unit of the input, in its order.
    pub trains: Vec<TrainSummary>,
    /// Counts, rates, myokymic activity, dominant pattern, fibrillation grade.
    pub summary: ChannelSummary,
}

/// A unit's context for its segments.
#[derive(Debug, Clone, Default)]
pub(crate) struct UnitContext {
    pub recurrence_hz: Option<f64>,
    pub recurrence_cv: Option<f64>,
    pub rate_hz: Option<f64>,
    pub isi_cv: Option<f64>,
    /// P10–P90 of the potentials per multi-potential segment.
    pub burst_sizes: Option<[u32; 2]>,
    /// Median potentials and median length (s) of the multi-potential segments.
    pub typical_size: Option<f64>,
    /// See `typical_size`.
    pub typical_s: Option<f64>,
    /// Median intraburst rate of the multi-potential short segments, Hz.
    pub burst_rate_hz: Option<f64>,
    /// Share of potentials in doublet-like groups (segments of 2 to `doublet.potentials`
    /// potentials whose intervals all lie in `doublet.interval_ms`).
    pub grouped_share: Option<f64>,
    /// The unit fires in bursts: its logISI valley was kept and most of its potentials lie
    /// in short multi-potential segments.
    pub bursting: bool,
}

/// One segment during the analysis.
#[derive(Debug, Clone)]
struct Seg {
    tr: usize,
    seg: Segment,
    first: f64,
    last: f64,
    f: Features,
    scores: Vec<ClassScore>,
    sustained: bool,
    episode: bool,
}

/// The best class with its criteria and the runner-up's class and score, all that is read
/// of a segment's scores: the criteria of every class for every segment of a long
/// recording would hold hundreds of MB.
fn best_two(mut scores: Vec<ClassScore>) -> Vec<ClassScore> {
    scores.truncate(2);
    if let Some(best) = scores.get_mut(0) {
        best.criteria.shrink_to_fit();
    }
    if let Some(runner) = scores.get_mut(1) {
        runner.criteria = Vec::new();
    }
    scores.shrink_to_fit();
    scores
}

fn half_duration_s(u: &UnitInput) -> f64 {
    let d = u.duration_ms as f64;
    if d.is_finite() && d > 0.0 {
        d * 0.5e-3
    } else {
        0.0
    }
}

/// Unit context from its segments (start-to-start recurrence, overall rate and CV).
fn unit_context(
    tr: &Train,
    split: &bursts::Split,
    segs: &[Segment],
    recording_s: f64,
    cfg: &PatternConfig,
) -> UnitContext {
    let burst_s = cfg.myokymic.max_burst_s;
    let d = cfg.doublet.interval_ms;
    let n = tr.len();
    let grouped: usize = segs
        .iter()
        .filter(|s| s.len() >= 2 && s.len() as f64 <= cfg.doublet.potentials[1])
        .filter(|s| {
            tr.isis(s.a, s.b)
                .iter()
                .all(|e| (d[0]..=d[1]).contains(&(e * 1e3)))
        })
        .map(|s| s.len())
        .sum();
    let starts: Vec<f64> = segs.iter().map(|s| tr.t[s.a]).collect();
    let rec: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    let rec_med = stats::median(&rec);
    let recurrence_cv = stats::robust_cv(&rec).or_else(|| {
        if rec.len() == 2 {
            stats::cv(&rec)
        } else {
            None
        }
    });
    let isis = tr.isis(0, tr.len());
    let mut sizes: Vec<f64> = segs
        .iter()
        .filter(|s| s.len() > 1)
        .map(|s| s.len() as f64)
        .collect();
    sizes.sort_by(|a, b| a.total_cmp(b));
    let burst_sizes = (!sizes.is_empty()).then(|| {
        [
            stats::quantile_sorted(&sizes, 0.1).unwrap_or(0.0).round() as u32,
            stats::quantile_sorted(&sizes, 0.9).unwrap_or(0.0).round() as u32,
        ]
    });
    let in_bursts: usize = segs
        .iter()
        .filter(|s| s.len() > 1 && tr.t[s.b - 1] - tr.t[s.a] <= burst_s)
        .map(|s| s.len())
        .sum();
    let burst_rates: Vec<f64> = segs
        .iter()
        .filter(|s| s.len() > 1 && tr.t[s.b - 1] - tr.t[s.a] <= burst_s)
        .filter_map(|s| {
            let v = tr.isis(s.a, s.b);
            (!v.is_empty()).then(|| v.len() as f64 / v.iter().sum::<f64>())
        })
        .collect();
    UnitContext {
        recurrence_hz: rec_med.filter(|m| *m > 0.0).map(|m| 1.0 / m),
        recurrence_cv,
        rate_hz: (recording_s > 0.0).then(|| tr.len() as f64 / recording_s),
        isi_cv: stats::cv(&isis),
        burst_sizes,
        typical_size: stats::median(&sizes),
        typical_s: stats::median(
            &segs
                .iter()
                .filter(|s| s.len() > 1)
                .map(|s| tr.t[s.b - 1] - tr.t[s.a])
                .collect::<Vec<_>>(),
        ),
        burst_rate_hz: stats::median(&burst_rates),
        grouped_share: (n > 0).then(|| grouped as f64 / n as f64),
        bursting: split.threshold_ms.is_some() && 2 * in_bursts >= n,
    }
}

/// Classes that are one train per unit (or one discharge): two segments of the same unit
/// with the same such class on either side of an artefact are one.
fn is_train_class(c: DischargeClass) -> bool {
    use DischargeClass as C;
    matches!(
        c,
        C::Fibrillation
            | C::PositiveSharpWave
            | C::Regular
            | C::MyokymicContinuous
            | C::EndplateSpike
            | C::ComplexRepetitive
            | C::Neuromyotonic
            | C::Myotonic
    )
}

/// The best class of each segment of `tr` (or `unclassified`), with the unit's context.
fn preliminary_classes(
    tr: &Train,
    split: &bursts::Split,
    ss: &[Segment],
    recording_s: f64,
    cfg: &PatternConfig,
) -> Vec<DischargeClass> {
    let ctx = unit_context(tr, split, ss, recording_s, cfg);
    ss.iter()
        .enumerate()
        .map(|(i, s)| {
            let mut f = features::segment_features(tr, *s, cfg, cfg.myokymic.max_burst_s);
            let prev = (i > 0).then(|| tr.t[s.a] - tr.t[ss[i - 1].a]);
            let next = ss.get(i + 1).map(|n| tr.t[n.a] - tr.t[s.a]);
            apply_context(&mut f, &ctx, prev, next, cfg.myokymic.single_rhythm_factor);
            let best = &classify::score_segment(&f, &tr.unit, cfg)[0];
            if best.score < cfg.scoring.min_score {
                DischargeClass::Unclassified
            } else {
                best.class
            }
        })
        .collect()
}

/// A train resumes across an artefact when the silence left outside the artefact is at
/// most this many median intervals (kymo: one interval lost on each side of it, plus
/// jitter).
const RESUME_FACTOR: f64 = 2.5;

/// Joins consecutive segments cut by an artefact when both are the same train and it
/// resumes after the artefact at its rhythm.
fn join_across_artefacts(tr: &Train, ss: Vec<Segment>, classes: &[DischargeClass]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::with_capacity(ss.len());
    let mut last_class: Option<DischargeClass> = None;
    for (s, &c) in ss.into_iter().zip(classes) {
        if let (Some(prev), Some(pc)) = (out.last_mut(), last_class) {
            let resumes = || {
                let mut v = tr.isis(prev.a, prev.b);
                v.extend(tr.isis(s.a, s.b));
                stats::median(&v).is_some_and(|m| tr.isi(prev.b - 1) <= RESUME_FACTOR * m)
            };
            if prev.b == s.a && tr.censored(prev.b - 1) && pc == c && is_train_class(c) && resumes()
            {
                prev.b = s.b;
                continue;
            }
        }
        out.push(s);
        last_class = Some(c);
    }
    out
}

/// Joins a neuromyotonic segment with the fragments of its waning tail: the unit's
/// following segments that are unclassified and fast (median rate at least
/// `bridge_min_rate_hz`) or single potentials, or neuromyotonic themselves, each after a
/// silence of at most `tail_join_s` and not across an artefact.
fn join_neuromyotonic_tails(
    tr: &Train,
    ss: Vec<Segment>,
    classes: &[DischargeClass],
    cfg: &config::SegmentationConfig,
) -> Vec<Segment> {
    let fast = |s: &Segment| {
        s.len() == 1
            || stats::median(&tr.isis(s.a, s.b)).is_some_and(|m| m * cfg.bridge_min_rate_hz <= 1.0)
    };
    let mut out: Vec<Segment> = Vec::with_capacity(ss.len());
    let mut open = false;
    for (s, &c) in ss.into_iter().zip(classes) {
        if let Some(prev) = out.last_mut() {
            let joins = open
                && prev.b == s.a
                && !tr.censored(prev.b - 1)
                && tr.isi(prev.b - 1) <= cfg.tail_join_s
                && (c == DischargeClass::Neuromyotonic
                    || (c == DischargeClass::Unclassified && fast(&s)));
            if joins {
                prev.b = s.b;
                continue;
            }
        }
        open = c == DischargeClass::Neuromyotonic;
        out.push(s);
    }
    out
}

/// Joins the runs of a tonically firing unit across short pauses (see
/// `SegmentationConfig::tonic_max_pause_intervals`); never across an artefact.
fn join_tonic_pauses(tr: &Train, ss: Vec<Segment>, cfg: &PatternConfig) -> Vec<Segment> {
    let (Some(&first), Some(&last)) = (tr.t.first(), tr.t.last()) else {
        return ss;
    };
    let span = last - first;
    let runs: Vec<&Segment> = ss.iter().filter(|s| s.len() >= 2).collect();
    let firing: f64 = runs.iter().map(|s| tr.t[s.b - 1] - tr.t[s.a]).sum();
    if ss.len() < 2 || span <= 0.0 || firing < cfg.myokymic.max_duty_cycle * span {
        return ss;
    }
    let inside: Vec<f64> = runs.iter().flat_map(|s| tr.isis(s.a, s.b)).collect();
    let Some(median) = stats::median(&inside) else {
        return ss;
    };
    let longest = cfg.segmentation.tonic_max_pause_intervals * median;
    let mut out: Vec<Segment> = Vec::with_capacity(ss.len());
    for s in ss {
        if let Some(prev) = out.last_mut() {
            if prev.b == s.a && !tr.censored(prev.b - 1) && tr.isi(prev.b - 1) <= longest {
                prev.b = s.b;
                continue;
            }
        }
        out.push(s);
    }
    out
}

/// Calls unclassified the fasciculations that come with others of several units at once
/// (see `FasciculationRule::together_potentials`); `discharges` is sorted by start.
fn units_together_are_not_fasciculating(
    discharges: &mut [Discharge],
    c: &config::FasciculationRule,
) {
    let fasc: Vec<usize> = (0..discharges.len())
        .filter(|&i| discharges[i].class == DischargeClass::Fasciculation)
        .collect();
    let mut together = vec![false; fasc.len()];
    let mut a = 0;
    for b in 0..fasc.len() {
        while discharges[fasc[b]].first_s - discharges[fasc[a]].first_s > c.together_s {
            a += 1;
        }
        let mut units: Vec<u32> = fasc[a..=b]
            .iter()
            .flat_map(|&i| discharges[i].units.iter().copied())
            .collect();
        units.sort_unstable();
        units.dedup();
        if b + 1 - a >= c.together_potentials && units.len() >= c.together_units {
            together[a..=b].iter_mut().for_each(|t| *t = true);
        }
    }
    for (k, &i) in fasc.iter().enumerate() {
        if !together[k] {
            continue;
        }
        let d = &mut discharges[i];
        d.runner_up = Some(RunnerUp {
            class: DischargeClass::Fasciculation,
            score: d.score,
        });
        d.class = DischargeClass::Unclassified;
        d.confidence = 0.0;
        d.evidence = format!(
            "{}; but {} or more single discharges of {} or more units came within {} s of each other: a contraction starting, not fasciculations",
            d.evidence, c.together_potentials, c.together_units, c.together_s
        );
    }
}

/// Copies the unit context into a segment's features; `in_rhythm` for singles.
fn apply_context(
    f: &mut Features,
    ctx: &UnitContext,
    prev: Option<f64>,
    next: Option<f64>,
    factor: f64,
) {
    f.recurrence_hz = ctx.recurrence_hz;
    f.recurrence_cv = ctx.recurrence_cv;
    f.unit_rate_hz = ctx.rate_hz;
    f.unit_isi_cv = ctx.isi_cv;
    f.unit_grouped_share = ctx.grouped_share;
    f.unit_burst_potentials = ctx.typical_size;
    f.unit_burst_s = ctx.typical_s;
    if f.n_potentials == 1 {
        if let Some(r) = ctx.recurrence_hz {
            let p = 1.0 / r;
            let ok = |d: f64| d >= p / factor && d <= p * factor;
            f.in_rhythm = Some(
                (prev.is_some() || next.is_some())
                    && prev.is_none_or(ok)
                    && next.is_none_or(ok)
                    && ctx.bursting,
            );
        }
    }
}

/// Finds, analyses and classifies the discharges of one channel.
///
/// `units` is the unit table, `potentials` every potential on the channel (sorted by time;
/// unsorted input is sorted and counted in the diagnostics), `recording_s` the channel's
/// length (for rates), `artefacts` the `(start, end)` times (s) of stretches that are not
/// trustworthy (potentials inside are dropped; intervals across them are censored). Bad
/// input (unknown unit ids, non-finite times) is skipped and counted in
/// [`ChannelSummary::diagnostics`]; this function never fails.
pub fn analyze_channel(
    units: &[UnitInput],
    potentials: &[PotentialInput],
    recording_s: f64,
    artefacts: &[(f64, f64)],
    cfg: &ValidPatternConfig,
) -> ChannelPattern {
    let cfg = cfg.get();
    let mut diag = InputDiagnostics::default();
    let arts = trains::merge_artefacts(artefacts, &mut diag);
    let trains = trains::build(units, potentials, &arts, &mut diag);
    let recording_s = if recording_s.is_finite() && recording_s > 0.0 {
        recording_s
    } else {
        trains
            .iter()
            .filter_map(|t| t.t.last().copied())
            .fold(0.0, f64::max)
    };
    let burst_s = cfg.myokymic.max_burst_s;

    // Segments, features and unit context.
    let mut segs: Vec<Seg> = Vec::new();
    let mut summaries = Vec::with_capacity(trains.len());
    let mut contexts = Vec::with_capacity(trains.len());
    for (k, tr) in trains.iter().enumerate() {
        let (split, ss) = bursts::segment(tr, &cfg.segmentation);
        let ss = if ss.windows(2).any(|w| tr.censored(w[0].b - 1)) {
            let prelim = preliminary_classes(tr, &split, &ss, recording_s, cfg);
            join_across_artefacts(tr, ss, &prelim)
        } else {
            ss
        };
        // Only a train with fast runs can hold a neuromyotonic discharge.
        let has_fast = (0..tr.len().saturating_sub(1))
            .any(|i| tr.isi(i) * cfg.segmentation.bridge_min_rate_hz <= 1.0);
        let ss = if has_fast && ss.len() > 1 {
            let prelim = preliminary_classes(tr, &split, &ss, recording_s, cfg);
            join_neuromyotonic_tails(tr, ss, &prelim, &cfg.segmentation)
        } else {
            ss
        };
        let ss = join_tonic_pauses(tr, ss, cfg);
        let ctx = unit_context(tr, &split, &ss, recording_s, cfg);
        summaries.push(TrainSummary::new(tr, split, ss.len(), recording_s));
        for (i, s) in ss.iter().enumerate() {
            let mut f = features::segment_features(tr, *s, cfg, burst_s);
            let prev = (i > 0).then(|| tr.t[s.a] - tr.t[ss[i - 1].a]);
            let next = ss.get(i + 1).map(|n| tr.t[n.a] - tr.t[s.a]);
            apply_context(&mut f, &ctx, prev, next, cfg.myokymic.single_rhythm_factor);
            let sustained = tr.unit.waveform == WaveformClass::MotorUnit
                && s.len() >= cfg.segmentation.sustained_potentials
                && f.duration_s >= cfg.segmentation.sustained_s
                && f.rate_hz
                    .is_some_and(|r| r >= cfg.segmentation.sustained_min_rate_hz);
            segs.push(Seg {
                tr: k,
                seg: *s,
                first: tr.t[s.a],
                last: tr.t[s.b - 1],
                f,
                scores: Vec::new(),
                sustained,
                episode: false,
            });
        }
        contexts.push(ctx);
    }
    // Long recordings have tens of thousands of segments per channel: no spare capacity.
    segs.shrink_to_fit();
    segs.sort_by(|a, b| a.first.total_cmp(&b.first).then(a.tr.cmp(&b.tr)));

    // Co-active units of sustained segments.
    // Co-active units: other units' sustained segments overlapping each segment. Sustained
    // segments are sorted by first potential; a running maximum of their last potentials
    // tells how far back an overlap can still be.
    let sustained: Vec<usize> = (0..segs.len()).filter(|&i| segs[i].sustained).collect();
    let mut reach = Vec::with_capacity(sustained.len());
    let mut m = f64::NEG_INFINITY;
    for &j in &sustained {
        m = m.max(segs[j].last);
        reach.push(m);
    }
    for i in 0..segs.len() {
        let end = sustained.partition_point(|&j| segs[j].first <= segs[i].last);
        let mut others: Vec<usize> = Vec::new();
        for x in (0..end).rev() {
            if reach[x] < segs[i].first {
                break;
            }
            let j = sustained[x];
            if segs[j].tr != segs[i].tr && segs[j].last >= segs[i].first {
                others.push(segs[j].tr);
            }
        }
        others.sort_unstable();
        others.dedup();
        segs[i].f.coactive_units = Some(others.len() as u32);
    }

    for s in &mut segs {
        s.scores = best_two(classify::score_segment(&s.f, &trains[s.tr].unit, cfg));
    }

    let mut discharges = Vec::with_capacity(segs.len());
    // Fasciculations are judged at rest: a unit that takes part in voluntary or cramp
    // activity in this recording (fires a sustained segment in it) is not called
    // fasciculating. A unit whose only potentials in an episode's span are single ones
    // belongs to the episode there, but it has not shown voluntary firing.
    let mut in_episode: Vec<u32> = Vec::new();
    episodes(
        &mut segs,
        &trains,
        &arts,
        cfg,
        &mut discharges,
        &mut in_episode,
    );
    // Unclassified sustained firing of a motor unit at voluntary rates is a contraction
    // the episodes missed (a poorly sorted unit's train reads as irregular).
    let unexplained: Vec<(f64, f64)> = segs
        .iter()
        .filter(|s| {
            s.sustained
                && !s.episode
                && s.f
                    .rate_hz
                    .is_some_and(|r| r <= cfg.voluntary.unit_rate_hz[1])
                && s.scores
                    .first()
                    .is_none_or(|b| b.score < cfg.scoring.min_score)
        })
        .map(|s| (s.first, s.last))
        .collect();
    tied_to_contractions(
        &trains,
        &discharges,
        &unexplained,
        recording_s,
        cfg,
        &mut in_episode,
    );
    in_episode.sort_unstable();
    in_episode.dedup();

    let mut stray = 0u64;
    // The segments are consumed: each discharge takes its segment's features and criteria.
    for s in segs.into_iter().filter(|s| !s.episode) {
        let tr = &trains[s.tr];
        let mut scores = s.scores.into_iter();
        let Some(best) = scores.next() else {
            continue;
        };
        let runner = scores.next().filter(|r| r.score > 0.0).map(|r| RunnerUp {
            class: r.class,
            score: r.score,
        });
        let unclassified = best.score < cfg.scoring.min_score
            || (best.class == DischargeClass::Fasciculation
                && in_episode.binary_search(&tr.unit.id).is_ok());
        if unclassified && s.seg.len() < 2 {
            stray += 1;
            continue;
        }
        let ctx = &contexts[s.tr];
        if !unclassified && best.class == DischargeClass::Fasciculation {
            for i in s.seg.a..s.seg.b {
                let one = Segment { a: i, b: i + 1 };
                let mut f = features::segment_features(tr, one, cfg, burst_s);
                apply_context(&mut f, ctx, None, None, cfg.myokymic.single_rhythm_factor);
                let evidence = evidence::single_unit(DischargeClass::Fasciculation, &f, tr, ctx);
                discharges.push(single_unit_discharge(
                    DischargeClass::Fasciculation,
                    best.clone(),
                    runner,
                    tr,
                    one,
                    f,
                    evidence,
                ));
            }
            continue;
        }
        let class = if unclassified {
            DischargeClass::Unclassified
        } else {
            best.class
        };
        let runner = if unclassified {
            Some(RunnerUp {
                class: best.class,
                score: best.score,
            })
        } else {
            runner
        };
        let evidence = evidence::single_unit(class, &s.f, tr, ctx);
        discharges.push(single_unit_discharge(
            class, best, runner, tr, s.seg, s.f, evidence,
        ));
    }
    discharges.shrink_to_fit();
    discharges.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.units.cmp(&b.units)));
    units_together_are_not_fasciculating(&mut discharges, &cfg.fasciculation);
    let summary = summary::summarize(&discharges, &trains, recording_s, stray, diag, cfg);
    ChannelPattern {
        discharges,
        trains: summaries,
        summary,
    }
}

/// A discharge of one unit's segment, taking the best class's criteria.
fn single_unit_discharge(
    class: DischargeClass,
    best: ClassScore,
    runner: Option<RunnerUp>,
    tr: &Train,
    seg: Segment,
    features: Features,
    evidence: String,
) -> Discharge {
    let h = half_duration_s(&tr.unit);
    let (first, last) = (tr.t[seg.a], tr.t[seg.b - 1]);
    let score = if class == DischargeClass::Unclassified {
        0.0
    } else {
        best.score
    };
    Discharge {
        class,
        confidence: if class == DischargeClass::Unclassified {
            0.0
        } else {
            classify::confidence(best.score, runner.map_or(0.0, |r| r.score))
        },
        score,
        runner_up: runner,
        start_s: first - h,
        end_s: last + h,
        first_s: first,
        last_s: last,
        units: vec![tr.unit.id],
        n_potentials: seg.len() as u32,
        features,
        criteria: best.criteria,
        evidence,
    }
}

/// Multi-unit episodes: sustained segments of different motor units that overlap in time
/// are scored together as voluntary activity or a cramp; an episode that scores at least
/// as well as its members' own calls replaces them (it also takes in every motor-unit
/// segment inside its span, e.g. units recruited for a few potentials only). `engaged`
/// receives the units that fire a sustained segment in an episode.
fn episodes(
    segs: &mut [Seg],
    trains: &[Train],
    arts: &[(f64, f64)],
    cfg: &PatternConfig,
    out: &mut Vec<Discharge>,
    engaged: &mut Vec<u32>,
) {
    use DischargeClass as C;
    let join = cfg.segmentation.join_s;
    let cands: Vec<usize> = (0..segs.len())
        .filter(|&i| {
            // Discharges with a firm identity of their own do not seed an episode.
            let best = &segs[i].scores[0];
            segs[i].sustained
                && !(matches!(
                    best.class,
                    C::Neuromyotonic
                        | C::ComplexRepetitive
                        | C::Myokymic
                        | C::MyokymicContinuous
                        | C::Doublet
                ) && best.score >= cfg.scoring.min_score)
        })
        .collect();
    // Clusters of overlapping candidates (segs are sorted by first).
    let mut clusters: Vec<(f64, f64, Vec<usize>)> = Vec::new();
    for &i in &cands {
        match clusters.last_mut() {
            Some(c) if segs[i].first - trains::blanked(arts, c.1, segs[i].first) <= c.1 + join => {
                c.1 = c.1.max(segs[i].last);
                c.2.push(i);
            }
            _ => clusters.push((segs[i].first, segs[i].last, vec![i])),
        }
    }
    for (first, last, members) in clusters {
        let mut units: Vec<usize> = members.iter().map(|&i| segs[i].tr).collect();
        units.sort_unstable();
        units.dedup();
        if units.len() < 2 {
            continue;
        }
        // Every motor-unit segment inside the span.
        let lo = segs.partition_point(|s| s.first < first - join);
        let inside: Vec<usize> = (lo..segs.len())
            .take_while(|&j| segs[j].first <= last + join)
            .filter(|&j| {
                !segs[j].episode
                    && segs[j].last <= last + join
                    && trains[segs[j].tr].unit.waveform == WaveformClass::MotorUnit
            })
            .collect();
        let (f, stats) = episode_features(segs, &inside, trains, cfg);
        let scores = classify::score_episode(&f, stats, cfg);
        let best = &scores[0];
        let member_mean = members
            .iter()
            .map(|&i| segs[i].scores[0].score)
            .sum::<f64>()
            / members.len() as f64;
        if best.score < cfg.scoring.min_score || best.score < member_mean {
            continue;
        }
        // The runner-up: the other episode class or the members' commonest own call.
        let mut calls: Vec<C> = members.iter().map(|&i| segs[i].scores[0].class).collect();
        calls.sort();
        let commonest = calls
            .chunk_by(|a, b| a == b)
            .max_by_key(|c| c.len())
            .map(|c| c[0])
            .unwrap_or(C::Unclassified);
        let other = scores.get(1).map_or(0.0, |s| s.score);
        let runner = if member_mean >= other {
            RunnerUp {
                class: commonest,
                score: member_mean,
            }
        } else {
            RunnerUp {
                class: scores[1].class,
                score: other,
            }
        };
        let mut ids: Vec<u32> = inside.iter().map(|&j| trains[segs[j].tr].unit.id).collect();
        ids.sort_unstable();
        ids.dedup();
        let start = inside
            .iter()
            .map(|&j| segs[j].first - half_duration_s(&trains[segs[j].tr].unit))
            .fold(f64::INFINITY, f64::min);
        let end = inside
            .iter()
            .map(|&j| segs[j].last + half_duration_s(&trains[segs[j].tr].unit))
            .fold(f64::NEG_INFINITY, f64::max);
        let first_s = inside
            .iter()
            .map(|&j| segs[j].first)
            .fold(f64::INFINITY, f64::min);
        let last_s = inside
            .iter()
            .map(|&j| segs[j].last)
            .fold(f64::NEG_INFINITY, f64::max);
        let evidence =
            evidence::episode(best.class, &f, ids.len(), cfg.jitter.episode_unit_quantile);
        out.push(Discharge {
            class: best.class,
            confidence: classify::confidence(best.score, runner.score),
            score: best.score,
            runner_up: Some(runner),
            start_s: start,
            end_s: end,
            first_s,
            last_s,
            units: ids,
            n_potentials: f.n_potentials,
            features: f,
            criteria: best.criteria.clone(),
            evidence,
        });
        for &j in &inside {
            segs[j].episode = true;
        }
        engaged.extend(members.iter().map(|&i| trains[segs[i].tr].unit.id));
    }
}

/// In an episode, an interval in the doublet range counts as a doublet only below this
/// fraction of the unit's median interval (kymo).
const DOUBLET_OF_MEDIAN: f64 = 0.5;

/// Adds to `engaged` every unit whose potentials fall inside the voluntary and cramp
/// episodes in `discharges`, or the spans `unexplained` (other units' unclassified
/// sustained firing at voluntary rates), more often than chance would put them there
/// (`fasciculation.contraction_tie_p`): it fires with the contractions (a unit the sorter
/// took only a few potentials of), so its single discharges are not fasciculations.
fn tied_to_contractions(
    units: &[Train],
    discharges: &[Discharge],
    unexplained: &[(f64, f64)],
    recording_s: f64,
    cfg: &PatternConfig,
    engaged: &mut Vec<u32>,
) {
    let spans = trains::merge_spans(
        discharges
            .iter()
            .filter(|d| matches!(d.class, DischargeClass::Voluntary | DischargeClass::Cramp))
            .map(|d| (d.start_s, d.end_s))
            .chain(unexplained.iter().copied())
            .collect(),
    );
    if spans.is_empty() || recording_s <= 0.0 {
        return;
    }
    let covered: f64 = spans.iter().map(|(a, b)| b - a).sum::<f64>() / recording_s;
    for tr in units {
        let k = tr.t.iter().filter(|&&t| trains::inside(&spans, t)).count();
        let p = stats::binomial_upper_tail(tr.t.len(), k, covered.min(1.0));
        if p < cfg.fasciculation.contraction_tie_p {
            engaged.push(tr.unit.id);
        }
    }
}

/// The episode's jitter from its units' `(jitter, number of CV2 values)`: the configured
/// quantile over the units with enough values (all units when none has).
fn episode_jitter(units: &[(f64, usize)], cfg: &config::JitterConfig) -> Option<f64> {
    let mut well: Vec<f64> = units
        .iter()
        .filter(|u| u.1 >= cfg.episode_min_values)
        .map(|u| u.0)
        .collect();
    if well.is_empty() {
        well = units.iter().map(|u| u.0).collect();
    }
    stats::quantile_sorted(&stats::sorted(&well), cfg.episode_unit_quantile)
}

/// Features of an episode made of `members` (indices into `segs`).
fn episode_features(
    segs: &[Seg],
    members: &[usize],
    trains: &[Train],
    cfg: &PatternConfig,
) -> (Features, classify::EpisodeStats) {
    let dmax = cfg.doublet.interval_ms[1] * 1e-3;
    let mut f = Features::empty(SegmentKind::Episode, WaveformClass::MotorUnit);
    let first = members
        .iter()
        .map(|&j| segs[j].first)
        .fold(f64::INFINITY, f64::min);
    let last = members
        .iter()
        .map(|&j| segs[j].last)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut by_unit: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for &j in members {
        by_unit.entry(segs[j].tr).or_default().push(j);
    }
    let (mut rates, mut onsets, mut first_rates) = (vec![], vec![], vec![]);
    // Each unit's jitter with its number of CV2 values.
    let mut jitters: Vec<(f64, usize)> = vec![];
    let (mut n, mut all, mut doublets) = (0u32, 0usize, 0usize);
    for (&k, js) in &by_unit {
        let tr = &trains[k];
        let mut isis = Vec::new();
        let mut cv2 = Vec::new();
        let mut unit_first = f64::INFINITY;
        let mut first_isi = None;
        for &j in js {
            let s = segs[j].seg;
            n += s.len() as u32;
            if segs[j].first < unit_first {
                unit_first = segs[j].first;
                first_isi = tr.isis(s.a, s.b).first().copied();
            }
            for run in tr.isi_runs(s.a, s.b) {
                all += run.len();
                // A doublet interval: in the doublet range and well below the unit's own
                // interval (a fast unit's ordinary intervals are not doublets).
                let unit_med = stats::median(&run).unwrap_or(0.0);
                let is_doublet = |e: f64| e <= dmax && e < DOUBLET_OF_MEDIAN * unit_med;
                doublets += run.iter().filter(|&&e| is_doublet(e)).count();
                // The jitter is the base rhythm's: the repair joins a doublet's short
                // interval to the next like an intruder's (dropping it alone would leave
                // the shortened interval after it).
                cv2.extend(stats::cv2_values(&features::repaired(&run, &cfg.jitter)));
                isis.extend(run.into_iter().filter(|&e| !is_doublet(e)));
            }
        }
        onsets.push(unit_first - first);
        // The rate at recruitment, unless the unit may have been firing before the
        // recording began (its first potential within two of its intervals of the start).
        if let Some(e) = first_isi.filter(|e| *e > dmax && unit_first > 2.0 * e) {
            first_rates.push(1.0 / e);
        }
        if !isis.is_empty() {
            rates.push(isis.len() as f64 / isis.iter().sum::<f64>());
        }
        if cv2.len() >= 2 {
            jitters.extend(stats::median(&cv2).map(|j| (j, cv2.len())));
        }
    }
    // Units whose trains wax and wane rhythmically (as continuous myokymia does).
    let mc = &cfg.myokymic_continuous;
    let mut waxing: Vec<(usize, bool)> = members
        .iter()
        .filter_map(|&j| {
            let g = &segs[j].f;
            let depth = match (g.rate_modulation, g.amplitude_modulation) {
                (Some(a), Some(b)) => a.max(b),
                (a, b) => a.or(b)?,
            };
            let cycles = g.modulation_cycles?;
            Some((
                segs[j].tr,
                depth >= mc.min_modulation && cycles >= mc.min_cycles,
            ))
        })
        .collect();
    waxing.sort_unstable();
    waxing.dedup_by(|a, b| {
        a.0 == b.0 && {
            b.1 |= a.1;
            true
        }
    });
    if !waxing.is_empty() {
        f.waxing_waning_share =
            Some(waxing.iter().filter(|w| w.1).count() as f64 / waxing.len() as f64);
    }
    f.n_units = by_unit.len() as u32;
    f.n_potentials = n;
    f.duration_s = last - first;
    f.rate_hz = stats::median(&rates);
    f.jitter = episode_jitter(&jitters, &cfg.jitter);
    f.onset_spread_s = stats::median(&onsets);
    f.first_rate_hz = stats::median(&first_rates);
    if !rates.is_empty() {
        let lo = rates.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        f.unit_rate_range_hz = Some([lo, hi]);
        f.recruitment_ratio = Some(hi / by_unit.len() as f64);
    }
    if all > 0 {
        f.doublet_fraction = Some(doublets as f64 / all as f64);
    }
    (
        f,
        classify::EpisodeStats {
            units: by_unit.len(),
        },
    )
}
