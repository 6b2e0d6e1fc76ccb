//! Every parameter of the pattern stages (trains → bursts → features → classify → summary),
//! in one serde struct with documented defaults.
//!
//! [`PatternConfig`] deserializes from TOML or JSON (every field optional, unknown fields
//! refused so a typo is an error); [`PatternConfig::check`] validates it into a
//! [`ValidPatternConfig`], the only form the stages accept (STYLE.md §4).
//!
//! # Where the numbers come from
//!
//! - **brief**: the project's domain brief (`shared/domain/myokymia.md`), which restates the
//!   AANEM glossary and standard electrodiagnosis texts;
//! - **Pasquale 2010**: V. Pasquale, S. Martinoia, M. Chiappalone, "A self-adapting approach
//!   for the detection of bursts and network bursts in neuronal cultures", J. Comput.
//!   Neurosci. 29:213–229, 2010 (the logISI burst method);
//! - **Holt 1996**: G. R. Holt, W. R. Softky, C. Koch, R. J. Douglas, "Comparison of discharge
//!   variability in vitro and in vivo in cat visual cortex neurons", J. Neurophysiol.
//!   75(5):1806–1814, 1996 (CV2, the local interval variability);
//! - **kymo**: no published figure was found; the value is kymo's choice, stated as such,
//!   chosen from the brief's ranges and never from one simulated seed.
//!
//! Every range is `[low, high]`; a value inside scores fully, a value outside loses credit
//! on a log scale until it is [`ScoringConfig::margin`] times beyond the end (see
//! `classify`).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A closed range `[low, high]` of a positive quantity.
pub type Range = [f64; 2];

/// Every parameter of the pattern stages.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatternConfig {
    /// How a unit's train is cut into bursts, runs and singles.
    pub segmentation: SegmentationConfig,
    /// How rules turn features into scores and confidences.
    pub scoring: ScoringConfig,
    /// Trend shapes (waning, waxing–waning, flat).
    pub trend: TrendConfig,
    /// How the interval jitter discounts sorting errors (missed and intruding potentials).
    pub jitter: JitterConfig,
    /// Myokymic discharges, burst form.
    pub myokymic: MyokymicRule,
    /// Myokymic discharges, continuous form.
    pub myokymic_continuous: ContinuousMyokymicRule,
    /// Fasciculation potentials.
    pub fasciculation: FasciculationRule,
    /// Doublets and multiplets.
    pub doublet: DoubletRule,
    /// Neuromyotonic discharges.
    pub neuromyotonic: NeuromyotonicRule,
    /// Complex repetitive discharges.
    pub complex_repetitive: ComplexRepetitiveRule,
    /// Fibrillation potentials and positive sharp waves (the same firing rule).
    pub fibrillation: FibrillationRule,
    /// Myotonic discharges.
    pub myotonic: MyotonicRule,
    /// Endplate spikes.
    pub endplate_spike: EndplateRule,
    /// Cramp discharges (multi-unit).
    pub cramp: CrampRule,
    /// Voluntary motor unit activity (multi-unit).
    pub voluntary: VoluntaryRule,
    /// Regular single-unit discharges.
    pub regular: RegularRule,
    /// Fibrillation / positive-sharp-wave grading.
    pub grading: GradingConfig,
}

/// Cutting a unit's train into segments (bursts, runs, singles).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SegmentationConfig {
    /// Bin width of the log-ISI histogram, decades. Default 0.1 (Pasquale 2010).
    pub bin_decades: f64,
    /// Smallest void parameter `1 − h_min / √(h_intra · h_inter)` that makes a valley
    /// between the intra- and inter-burst modes. Default 0.7 (Pasquale 2010).
    pub min_void: f64,
    /// The intra-burst mode must lie at or below this interval, ms. Default 250 (kymo: the
    /// slowest within-discharge rate of the brief is 5 Hz, 200 ms, plus 25 %; Pasquale 2010
    /// used 100 ms for cultured neurons).
    pub max_intra_isi_ms: f64,
    /// Fewest intervals in each mode of the histogram. Default 3 (kymo).
    pub min_mode_isis: usize,
    /// Smallest share of all intervals in the intra-burst mode. Default 0.2 (kymo: bursts
    /// of 2 potentials give 50 %; a handful of stray short intervals in a slow train must
    /// not make a mode).
    pub min_intra_fraction: f64,
    /// A valley is accepted only when bursts end abruptly: the median ratio of the first
    /// interval above the threshold to the interval before it must reach this. Default 1.8
    /// (kymo: a burst's silence is clearly longer than its intervals, while a smoothly
    /// waxing and waning rate changes by far less from one interval to the next).
    pub min_jump_ratio: f64,
    /// Long intervals within this relative distance of 2× or 3× the intra-burst interval
    /// are missed potentials of a regular train, not burst gaps. Default 0.12 (kymo).
    pub missed_tolerance: f64,
    /// Without a valley, an interval this many times the train's median interval still
    /// ends a segment. Default 10 (kymo: in a Poisson train 2⁻¹⁰ of intervals exceed 10×
    /// the median).
    pub gap_factor: f64,
    /// An irregular train (robust interval CV ≥ 0.5) breaks only where its exponential
    /// interval tail makes a break this unlikely over the whole train. Default 0.01 (kymo).
    pub irregular_false_split: f64,
    /// In a bursting train, segments up to this long and with at most
    /// `contrast_max_potentials` are also cut at an interval `min_jump_ratio` times both
    /// its neighbours (two bursts whose gap fell below the threshold), s. Default 1 (kymo:
    /// two bursts of the brief's usual 2–10 potentials at 20–40 Hz; longer runs are left
    /// whole, since a missed potential in a regular train makes the same pattern).
    pub contrast_max_s: f64,
    /// See `contrast_max_s`. Default 20 (kymo).
    pub contrast_max_potentials: usize,
    /// Any interval longer than this ends a segment, s. Default 5 (kymo: the slowest
    /// within-train rate of the brief is 0.5 Hz for fibrillations, 2 s; one missed
    /// potential doubles that, plus 25 % for slowing and jitter).
    pub max_isi_s: f64,
    /// A would-be break is part of slower steady firing, not a break, when the median of
    /// the `slow_window` intervals on one side of it reaches the threshold and the
    /// interval lies within `slow_tolerance` of it (e.g. after an abrupt rate change of a
    /// complex repetitive discharge). Default 5 (kymo).
    pub slow_window: usize,
    /// See `slow_window`. Default 0.2 (kymo).
    pub slow_tolerance: f64,
    /// A segment is sustained (a candidate for multi-unit activity) with at least this
    /// many potentials. Default 4 (kymo).
    pub sustained_potentials: usize,
    /// …and at least this length, s. Default 0.3 (kymo: longer than myokymic bursts of
    /// 2–10 potentials at 20–40 Hz, 25–450 ms, mostly).
    pub sustained_s: f64,
    /// …at a mean rate of at least this, Hz. Default 4 (brief: voluntary units start
    /// firing at about 5–7 Hz, cramp units fire at ~6–25 Hz; a unit firing a handful of
    /// potentials a second apart — fasciculating — is not taking part in a contraction).
    pub sustained_min_rate_hz: f64,
    /// Sustained segments of different units closer than this join one multi-unit
    /// episode, s. Default 0.25 (kymo).
    pub join_s: f64,
    /// A fast train is bridged over a short gap: a break whose sides both fire at least
    /// this fast, Hz, ... Default 120 (kymo: above the brief's complex repetitive
    /// (5–100 Hz) and myotonic (20–80 Hz) rates, below neuromyotonic 150–300 Hz, whose
    /// potentials overlap each other and are the ones a sorter leaves unsorted in runs).
    pub bridge_min_rate_hz: f64,
    /// ... with rates within this relative distance of each other, ... Default 0.2 (kymo).
    pub bridge_rate_tolerance: f64,
    /// ... each side a run of at least this many potentials (multiplets have fewer) ...
    /// Default 6 (kymo; brief: multiplets are 3+ potentials, rarely more than a handful).
    pub bridge_min_side: usize,
    /// ... is no break when the gap is at most this many of the sides' intervals.
    /// Default 12 (kymo: a neuromyotonic discharge lasts seconds and its silences too, so
    /// tens of ms without sorted potentials inside it are missed potentials).
    pub bridge_max_intervals: f64,
    /// A neuromyotonic discharge takes in the unit's fast fragments (unclassified runs at
    /// `bridge_min_rate_hz` or more, and single potentials) that follow it with silences of
    /// at most this, s. Default 0.5 (brief: the discharge wanes and then stops abruptly;
    /// its waning potentials fall below the detection threshold one by one, so its tail
    /// reaches the detector as fragments of the same unit at the same rate, each
    /// unclassifiable alone; kymo).
    pub tail_join_s: f64,
    /// A unit firing tonically — its runs of two or more potentials fill at least
    /// `myokymic.max_duty_cycle` of the time from its first potential to its last — is
    /// not cut at a pause of at most this many of its median intervals: the pause holds
    /// potentials the detector missed (a continuous myokymic unit loses its weaker beats
    /// where its amplitude wanes, and fires slowest there). Default 8 (kymo: three missed
    /// beats where a rate waxing and waning by ±50 % has slowed to half, 4 intervals of
    /// twice the median; grouped myokymic bursts fill under `max_duty_cycle` of their
    /// recurrence and are never joined).
    pub tonic_max_pause_intervals: f64,
}

impl Default for SegmentationConfig {
    fn default() -> Self {
        SegmentationConfig {
            bin_decades: 0.1,
            min_void: 0.7,
            max_intra_isi_ms: 250.0,
            min_mode_isis: 3,
            min_intra_fraction: 0.2,
            min_jump_ratio: 1.8,
            missed_tolerance: 0.12,
            gap_factor: 10.0,
            irregular_false_split: 0.01,
            contrast_max_s: 1.0,
            contrast_max_potentials: 20,
            max_isi_s: 5.0,
            slow_window: 5,
            slow_tolerance: 0.2,
            sustained_potentials: 4,
            sustained_s: 0.3,
            sustained_min_rate_hz: 4.0,
            join_s: 0.25,
            bridge_min_rate_hz: 120.0,
            bridge_rate_tolerance: 0.2,
            bridge_min_side: 6,
            bridge_max_intervals: 12.0,
            tail_join_s: 0.5,
            tonic_max_pause_intervals: 8.0,
        }
    }
}

/// How memberships combine into scores and confidences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    /// A value this factor beyond a range's end gets no credit (log scale). Default 1.5
    /// (kymo).
    pub margin: f64,
    /// Membership at a range's edge. Default 0.8 (kymo).
    pub edge: f64,
    /// A value reaches full membership this far inside its range, as a fraction of the
    /// range's log-width (or one margin for one-sided ranges, whichever is less).
    /// Default 0.25 (kymo).
    pub depth: f64,
    /// A supporting (not required) criterion counts at least this membership, so on its
    /// own it can halve a score but not veto it. Default 0.5 (kymo).
    pub support_floor: f64,
    /// Membership of a criterion whose feature cannot be measured (e.g. the recurrence of
    /// a unit with two bursts). Default 0.5 (kymo: neither for nor against).
    pub unknown: f64,
    /// Best scores below this give `unclassified`. Default 0.35 (kymo).
    pub min_score: f64,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            margin: 1.5,
            edge: 0.8,
            depth: 0.25,
            support_floor: 0.5,
            unknown: 0.5,
            min_score: 0.35,
        }
    }
}

/// Trend shapes inside a discharge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrendConfig {
    /// A fitted change smaller than this fraction of the mean is flat. Default 0.1 (kymo).
    pub flat_change: f64,
    /// A quadratic fit is preferred to a line (waxing–waning) when it explains at least
    /// this much more of the variance. Default 0.1 (kymo).
    pub min_curvature_gain: f64,
    /// …and its vertex lies inside this part of the discharge. Default [0.15, 0.85] (kymo).
    pub vertex: Range,
}

impl Default for TrendConfig {
    fn default() -> Self {
        TrendConfig {
            flat_change: 0.1,
            min_curvature_gain: 0.1,
            vertex: [0.15, 0.85],
        }
    }
}

/// Myokymic discharges, burst form (brief: bursts of 2–10, up to ~60, potentials of the
/// same unit at 5–60 Hz, recurring semi-rhythmically at 0.1–10 Hz).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MyokymicRule {
    /// Potentials per burst. Default [2, 60] (brief).
    pub potentials: Range,
    /// Mean rate inside the burst, Hz. Default [5, 60] (brief).
    pub intraburst_rate_hz: Range,
    /// Burst recurrence rate (start to start), Hz. Default [0.1, 10] (brief).
    pub recurrence_hz: Range,
    /// Highest robust CV of the burst-to-burst interval ("semi-rhythmic"). Default 0.5
    /// (kymo: clearly below the CV ≈ 1 of a Poisson process).
    pub max_recurrence_cv: f64,
    /// Longest burst, s: required of the unit's typical (median) burst, supporting for
    /// each burst. Default 2 (kymo: 60 potentials at 30 Hz).
    pub max_burst_s: f64,
    /// Most units firing sustained trains at the same time (supporting; brief: "one or a
    /// few motor units"). Default 2.
    pub max_coactive_units: f64,
    /// A single potential of a bursting unit counts as a burst when its start-to-start
    /// intervals to both neighbouring bursts are within this factor of the unit's median
    /// recurrence interval. Default 1.5 (kymo).
    pub single_rhythm_factor: f64,
    /// Largest share of the recurrence period that the unit's typical burst fills
    /// (required; a burst of n potentials fills n of its intervals, the last potential's
    /// own included, so a steady train cut into groups fills all of it). Default 0.6
    /// (kymo: "grouped" firing (brief) means bursts set apart by silences; a unit that
    /// fires most of the time with short pauses is firing tonically, as in a gentle
    /// voluntary contraction).
    pub max_duty_cycle: f64,
}

impl Default for MyokymicRule {
    fn default() -> Self {
        MyokymicRule {
            potentials: [2.0, 60.0],
            intraburst_rate_hz: [5.0, 60.0],
            recurrence_hz: [0.1, 10.0],
            max_recurrence_cv: 0.5,
            max_burst_s: 2.0,
            max_coactive_units: 2.0,
            single_rhythm_factor: 1.5,
            max_duty_cycle: 0.6,
        }
    }
}

/// Myokymic discharges, continuous form (brief: "a continuous train with waxing and waning
/// amplitude/rate").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContinuousMyokymicRule {
    /// Mean rate, Hz. Default [5, 60] (brief: the intraburst range).
    pub rate_hz: Range,
    /// Shortest continuous train, s. Default 3 (kymo, after the brief's "activity counts
    /// when it lasts > 3 s").
    pub min_duration_s: f64,
    /// Smallest depth of the periodic modulation of rate or amplitude (the fitted
    /// sinusoid's amplitude over the mean, from the Lomb–Scargle periodogram; see
    /// `Features::rate_modulation`). Default 0.15 (kymo).
    pub min_modulation: f64,
    /// Waxing/waning frequency, Hz. Default [0.5, 10] (brief: bursts recur at 0.1–10 Hz,
    /// often 1–5 Hz; for a continuous train kymo starts at 0.5 Hz, since a train that
    /// rises and falls more slowly is what repeated voluntary contractions give — the real
    /// openhdemg recording of isometric contractions cycles at 0.2 Hz).
    pub modulation_hz: Range,
    /// Fewest waxing/waning cycles in the train. Default 3 (kymo: one rise and fall is a
    /// contraction, not an undulation).
    pub min_cycles: f64,
    /// Highest local interval jitter (median CV2, which here also holds the interval
    /// changes of a fast waxing and waning). Default 0.3 (kymo: cramp firing, interval CV
    /// ~0.45 in the brief, is not a myokymic train).
    pub max_jitter: f64,
}

impl Default for ContinuousMyokymicRule {
    fn default() -> Self {
        ContinuousMyokymicRule {
            rate_hz: [5.0, 60.0],
            min_duration_s: 3.0,
            min_modulation: 0.15,
            modulation_hz: [0.5, 10.0],
            min_cycles: 3.0,
            max_jitter: 0.3,
        }
    }
}

/// Fasciculation potentials (brief: single discharges, irregular, Poisson-like, mean rate
/// well under 1 Hz per unit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FasciculationRule {
    /// Highest mean rate of the unit over the recording, Hz. Default 1 (brief).
    pub max_rate_hz: f64,
    /// Lowest interval CV of the unit. Default 0.3 (kymo: Poisson firing gives 1, but a
    /// unit with ten intervals shows a CV below 0.5 in 2 % of cases and below 0.3 in
    /// 0.03 %; regular and voluntary firing stay at or below 0.1–0.2).
    pub min_cv: f64,
    /// Highest interval CV of the unit. Default 2 (brief: fasciculations fire
    /// "Poisson-like", CV 1; a unit whose potentials come in clusters — the few potentials
    /// above threshold during each contraction of a surface recording, CV 2.7–4.2 on the
    /// real BioSPPy recording — is not fasciculating; the CV of 10–20 Poisson intervals
    /// exceeds 2 in 0.01–0.03 % of cases).
    pub max_cv: f64,
    /// Highest share of the unit's potentials in doublet-like groups (kymo: a unit that
    /// fires groups much of the time is a doublet unit; a fasciculating unit whose
    /// discharges sometimes fall close together by chance is not). Default 0.3.
    pub max_grouped_share: f64,
    /// Single discharges are not fasciculations when at least `together_potentials` of
    /// them, from at least `together_units` units, fall within `together_s` seconds:
    /// several units discharging at once are a contraction starting (voluntary
    /// recruitment, a cramp's onset), while fasciculations are single, spontaneous and
    /// independent (brief). Defaults 5 potentials, 3 units, 0.5 s (kymo: the real BioSPPy
    /// surface recording `emg_1.txt` starts each activation with 7–14 potentials of 3–4
    /// units within 0.2–0.35 s; independent fasciculations at the 1.4/s of the simulated
    /// scenario put 5 in 0.5 s about once an hour).
    pub together_potentials: usize,
    /// See `together_potentials`.
    pub together_units: usize,
    /// See `together_potentials`, s.
    pub together_s: f64,
    /// A unit whose potentials fall inside this channel's voluntary or cramp episodes, or
    /// inside other motor units' unclassified sustained firing at voluntary rates (at most
    /// `voluntary.unit_rate_hz`'s upper end: a contraction sorted too poorly to form an
    /// episode), more often than chance would put them there (binomial upper tail below
    /// this, given the share of the recording those spans cover) fires with the
    /// contractions, and its
    /// single discharges are not called fasciculations: fasciculations are spontaneous,
    /// independent of voluntary activity (brief). Default 0.001 (kymo: a poorly sorted
    /// voluntary unit with all 29 of its potentials inside contractions spanning 57 % of a
    /// simulated record has a tail of 1e-7; a fasciculating unit firing at random times
    /// stays far above).
    pub contraction_tie_p: f64,
}

impl Default for FasciculationRule {
    fn default() -> Self {
        FasciculationRule {
            max_rate_hz: 1.0,
            min_cv: 0.3,
            max_cv: 2.0,
            max_grouped_share: 0.3,
            together_potentials: 5,
            together_units: 3,
            together_s: 0.5,
            contraction_tie_p: 0.001,
        }
    }
}

/// The interval jitter (median CV2) is measured on a train repaired for the two sorting
/// errors that inflate it most: a **missed potential** turns two intervals into one of
/// about twice the local interval, an **intruding potential** (another unit's, or noise,
/// sorted into this unit) cuts one interval into two short ones. Either adds two or three
/// large CV2 values, and with a recall of 70–80 % (typical for one needle and several
/// co-active units) they move the median: a steady voluntary unit (CV 0.1–0.2, brief) then
/// looks as irregular as a cramp's (CV ~0.45). This is the editing a human reviewer applies
/// to a decomposed train before measuring its variability (e.g. Holobar et al. 2014, "Accurate
/// identification of motor unit discharge patterns from high-density surface EMG and
/// validation with a novel signal-based performance metric", J. Neural Eng. 11:016008,
/// manual inspection of missed and false discharges). Only the jitter uses the repaired
/// train; rates, doublets and bursts use the intervals as sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JitterConfig {
    /// Repair the intervals before measuring the jitter. Default true.
    pub repair: bool,
    /// Intervals on each side of the running median that the repair compares an interval
    /// with. Default 7 (kymo: long enough that two errors in a row do not move it, short
    /// enough to follow a rate that changes with force within a second or two).
    pub half_window: usize,
    /// An interval within this relative distance of k× the running median (k = 2, 3, 4)
    /// counts as k intervals with k − 1 missed potentials. Default 0.1 (kymo: 1.4σ of a
    /// doubled interval at the brief's voluntary CV 0.1; wider tolerances also split the
    /// long intervals of a cramp's irregular firing, CV ~0.45, and hide its irregularity).
    pub missed_tolerance: f64,
    /// An interval shorter than this fraction of the running median is part of an interval
    /// cut by an intruding potential, and is joined to a neighbour (see `join_tolerance`).
    /// Default 0.3 (kymo: in steady firing at CV ≤ 0.2 an interval of 0.3× the median lies
    /// 3.5σ below it; doublets, 2–20 ms, are excluded before this).
    pub intruder_fraction: f64,
    /// A short interval is joined to the neighbour whose sum comes nearer the running
    /// median, and only if that sum lies within this relative distance of it (the two
    /// fragments of one interval add up to an ordinary interval). Default 0.2 (kymo: 2σ at
    /// the brief's voluntary CV 0.1).
    pub join_tolerance: f64,
    /// A multi-unit episode's jitter is this quantile of its units' jitters (each the
    /// median CV2 of the unit's repaired intervals): 0 is the most regular unit, 0.5 the
    /// median unit. Sorting errors (missed potentials, another unit's potentials in the
    /// train) only ever add irregularity, so a low quantile reads the firing itself rather
    /// than the worst-sorted unit; a cramp's units are irregular to a degree that varies
    /// from unit to unit (brief: CV ~45 %), so the quantile stays above its most regular
    /// few. Default 0.3 (kymo: the median unit's jitter called 52 discharges of the
    /// simulated voluntary records at 10 dB, seeds 11–40, cramps; see the README).
    pub episode_unit_quantile: f64,
    /// Fewest CV2 values a unit needs for its jitter to count towards the episode's (a
    /// median of a handful of values is too noisy for a low quantile); when no unit has
    /// as many, every unit with two or more counts. Default 10 (kymo).
    pub episode_min_values: usize,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            repair: true,
            half_window: 7,
            missed_tolerance: 0.1,
            intruder_fraction: 0.3,
            join_tolerance: 0.2,
            episode_unit_quantile: 0.3,
            episode_min_values: 10,
        }
    }
}

/// Doublets and multiplets (brief: 2, or 3+, potentials of the same unit 2–20 ms apart,
/// the group firing irregularly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DoubletRule {
    /// Potentials per group. Default [2, 20] (brief: 2 or 3+; kymo upper end).
    pub potentials: Range,
    /// Every interval inside the group, ms. Default [2, 20] (brief).
    pub interval_ms: Range,
    /// Lowest robust CV of the group-to-group interval (brief: "the group itself firing
    /// irregularly"; groups that recur semi-rhythmically are myokymic bursts). Default 0.5
    /// (kymo: a Poisson process gives ≈ 1).
    pub min_group_cv: f64,
    /// Lowest share of the unit's potentials in doublet-like groups (see
    /// `fasciculation.max_grouped_share`; two close potentials of a unit that otherwise
    /// fires singly, or of a fast train, are not a doublet). Default 0.3 (kymo).
    pub min_grouped_share: f64,
}

impl Default for DoubletRule {
    fn default() -> Self {
        DoubletRule {
            potentials: [2.0, 20.0],
            interval_ms: [2.0, 20.0],
            min_group_cv: 0.5,
            min_grouped_share: 0.3,
        }
    }
}

/// Neuromyotonic discharges (brief: 150–300 Hz for a few seconds, waning amplitude,
/// abrupt start and stop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuromyotonicRule {
    /// Rate at the median interval, Hz. Default [150, 300] (brief).
    pub rate_hz: Range,
    /// Fewest potentials. Default 10 (kymo).
    pub min_potentials: f64,
}

impl Default for NeuromyotonicRule {
    fn default() -> Self {
        NeuromyotonicRule {
            rate_hz: [150.0, 300.0],
            min_potentials: 10.0,
        }
    }
}

/// Complex repetitive discharges (brief: perfectly regular 5–100 Hz, interval jitter far
/// below 1 %, abrupt onset and offset, a time-locked polyphasic complex).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplexRepetitiveRule {
    /// Rate, Hz. Default [5, 100] (brief).
    pub rate_hz: Range,
    /// Highest local jitter (median CV2 of successive intervals). Default 0.01 (brief).
    pub max_jitter: f64,
    /// Fewest potentials. Default 10 (kymo).
    pub min_potentials: f64,
}

impl Default for ComplexRepetitiveRule {
    fn default() -> Self {
        ComplexRepetitiveRule {
            rate_hz: [5.0, 100.0],
            max_jitter: 0.01,
            min_potentials: 10.0,
        }
    }
}

/// Fibrillation potentials and positive sharp waves (brief: regular, 0.5–15 Hz, usually
/// 1–10, may slow gradually; fibrillations 1–5 ms initially positive, PSWs 10–100 ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FibrillationRule {
    /// Rate, Hz. Default [0.5, 15] (brief).
    pub rate_hz: Range,
    /// Highest local jitter (median CV2; "regular"). Default 0.08 (kymo: below the
    /// brief's voluntary interval CV of 0.1–0.2, so that a steady voluntary unit is not
    /// read as a fibrillating fibre; the simulator's fibrillation trains have CV 0.02).
    pub max_jitter: f64,
    /// Fewest potentials in a train. Default 3 (kymo: a rate and a regularity need two
    /// intervals).
    pub min_potentials: f64,
    /// Fibrillation potential duration, ms (supporting). Default [1, 5] (brief).
    pub fibrillation_duration_ms: Range,
    /// Positive sharp wave duration, ms (supporting). Default [10, 100] (brief).
    pub psw_duration_ms: Range,
    /// Largest change of the rate per second of the train, as a fraction of its mean rate
    /// (the fitted rate trend's size over the train's duration; applied when a trend was
    /// fitted). Default 0.3 (brief: fibrillation trains are regular and "may slow
    /// gradually", while a myotonic discharge's rate waxes and wanes within seconds; kymo:
    /// the simulated fibrillation and positive sharp wave trains correctly called in seeds
    /// 11–40 changed by at most 0.11 per second, the slow ends of myotonic discharges called
    /// fibrillation by 0.70–0.85).
    pub max_rate_change_per_s: f64,
}

impl Default for FibrillationRule {
    fn default() -> Self {
        FibrillationRule {
            rate_hz: [0.5, 15.0],
            max_jitter: 0.08,
            min_potentials: 3.0,
            fibrillation_duration_ms: [1.0, 5.0],
            psw_duration_ms: [10.0, 100.0],
            max_rate_change_per_s: 0.3,
        }
    }
}

/// Myotonic discharges (brief: single-fibre potentials at 20–80 Hz whose amplitude and
/// rate wax and wane).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MyotonicRule {
    /// Mean rate, Hz. Default [20, 80] (brief).
    pub rate_hz: Range,
    /// Fewest potentials. Default 5 (kymo).
    pub min_potentials: f64,
    /// Smallest relative change of rate or amplitude that counts as waxing or waning
    /// (supporting). Default 0.2 (kymo).
    pub min_change: f64,
    /// Highest local jitter (median CV2): the rate changes smoothly, unlike the irregular
    /// firing of endplate spikes. Default 0.3 (kymo).
    pub max_jitter: f64,
}

impl Default for MyotonicRule {
    fn default() -> Self {
        MyotonicRule {
            rate_hz: [20.0, 80.0],
            min_potentials: 5.0,
            min_change: 0.2,
            max_jitter: 0.3,
        }
    }
}

/// Endplate spikes (brief: irregular, up to ~50 Hz, initially negative).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndplateRule {
    /// Mean rate, Hz. Default [1, 50] (brief: up to ~50; kymo lower end).
    pub rate_hz: Range,
    /// Lowest interval CV (irregular). Default 0.4 (kymo: Poisson gives 1).
    pub min_cv: f64,
    /// Fewest potentials. Default 5 (kymo).
    pub min_potentials: f64,
}

impl Default for EndplateRule {
    fn default() -> Self {
        EndplateRule {
            rate_hz: [1.0, 50.0],
            min_cv: 0.4,
            min_potentials: 5.0,
        }
    }
}

/// Cramp discharges (brief: many units, high rate, irregular; per unit ~6–25 Hz, interval
/// CV ~45 %, some doublets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrampRule {
    /// Fewest units. Default 3 (kymo: "many units").
    pub min_units: f64,
    /// Median per-unit rate, Hz. Default [5, 30] (brief: the measured series 6–25 Hz,
    /// widened by kymo).
    pub unit_rate_hz: Range,
    /// Median per-unit local interval jitter (median CV2, doublet intervals excluded).
    /// Default [0.3, 0.8] (brief: interval CV ~45 %).
    pub unit_cv: Range,
    /// Lowest median rate of the units' first interval in the episode, Hz (required; an
    /// episode whose units were all firing before it began has no such rate and gets the
    /// `scoring.unknown` credit; 0 turns the criterion off). Default 8 (Ross & Thomas 1995, "Human motor unit activity
    /// during induced muscle cramp", Brain 118:983–993: motor units fire faster during
    /// cramp than in voluntary contraction from its start; voluntary units are recruited
    /// at about 5–7 Hz, brief. kymo: a contraction sorted badly enough to look irregular
    /// still starts its units at 5–7 Hz; see the README).
    pub min_first_rate_hz: f64,
}

impl Default for CrampRule {
    fn default() -> Self {
        CrampRule {
            min_units: 3.0,
            unit_rate_hz: [5.0, 30.0],
            unit_cv: [0.3, 0.8],
            min_first_rate_hz: 8.0,
        }
    }
}

/// Voluntary motor unit activity (brief: start at about 5–7 Hz, rise to 10–20 Hz+ with
/// force, more units recruited as force rises; interval CV 0.1–0.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoluntaryRule {
    /// Median per-unit rate, Hz. Default [5, 25] (brief: 5–7 Hz at recruitment, 10–20 Hz
    /// and more with force).
    pub unit_rate_hz: Range,
    /// Median per-unit local interval jitter (median CV2, ≈ 0.95 × the CV of steady
    /// firing). Default [0.05, 0.3] (brief: CV 0.1–0.2, widened by kymo: decomposed units of
    /// a real gentle contraction, the openhdemg test file, have a median CV2 of 0.09).
    pub unit_cv: Range,
    /// Fewest units (supporting). Default 2 (brief: units are recruited as force rises).
    pub min_units: f64,
    /// Highest recruitment ratio, the fastest unit's rate over the number of units, Hz
    /// (supporting). Default 10 (brief: about 5 normally; kymo allows twice that, since
    /// one needle sees only some of the recruited units).
    pub max_recruitment_ratio: f64,
    /// Highest share of the units whose trains wax and wane rhythmically, as
    /// `myokymic_continuous` defines it (`min_modulation`, `min_cycles`) (supporting, for
    /// voluntary activity and cramps alike: their rates follow the force or fire
    /// irregularly, they do not undulate; brief). Default 0.5 (kymo).
    pub max_waxing_waning_share: f64,
}

impl Default for VoluntaryRule {
    fn default() -> Self {
        VoluntaryRule {
            unit_rate_hz: [5.0, 25.0],
            unit_cv: [0.05, 0.3],
            min_units: 2.0,
            max_recruitment_ratio: 10.0,
            max_waxing_waning_share: 0.5,
        }
    }
}

/// Regular single-unit discharges (brief: continuous single discharges ~1–18 Hz, very
/// regular, CV ~3.5 %).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegularRule {
    /// Rate, Hz. Default [1, 18] (brief).
    pub rate_hz: Range,
    /// Highest robust interval CV. Default 0.1 (kymo: ~3× the brief's 3.5 %).
    pub max_cv: f64,
    /// Shortest train, s. Default 3 (kymo, as for continuous myokymia).
    pub min_duration_s: f64,
    /// Highest modulation depth (supporting: no waxing and waning). Default 0.15 (kymo).
    pub max_modulation: f64,
    /// Fewest potentials. Default 5 (kymo: a regularity needs a few intervals).
    pub min_potentials: f64,
}

impl Default for RegularRule {
    fn default() -> Self {
        RegularRule {
            rate_hz: [1.0, 18.0],
            max_cv: 0.1,
            min_duration_s: 3.0,
            max_modulation: 0.15,
            min_potentials: 5.0,
        }
    }
}

/// Fibrillation / positive-sharp-wave grade from one recording site.
///
/// EMG machines grade 0 to 4+ over several needle positions (brief: 1+ persistent single
/// trains in ≥ 2 areas … 4+ filling the screen; activity counts when it lasts > 3 s). One
/// channel is one site, so kymo grades the density there: the largest number of
/// persistent fibrillation/PSW trains firing at the same time. Grade g is the number of
/// entries of `concurrent_trains` that this count reaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradingConfig {
    /// A train counts when it lasts at least this long, s. Default 3 (brief).
    pub persistent_s: f64,
    /// Concurrent persistent trains for grades 1+, 2+, 3+, 4+. Default [1, 2, 4, 6] (kymo:
    /// one train is the least that is graded; "filling the screen" is taken as six or
    /// more fibres at once, which at 1–10 Hz each leaves little baseline in a 100 ms
    /// sweep).
    pub concurrent_trains: [f64; 4],
}

impl Default for GradingConfig {
    fn default() -> Self {
        GradingConfig {
            persistent_s: 3.0,
            concurrent_trains: [1.0, 2.0, 4.0, 6.0],
        }
    }
}

/// A [`PatternConfig`] that passed [`PatternConfig::check`]; the stages take only this.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPatternConfig(PatternConfig);

impl ValidPatternConfig {
    /// The checked parameters.
    pub fn get(&self) -> &PatternConfig {
        &self.0
    }
}

impl std::ops::Deref for ValidPatternConfig {
    type Target = PatternConfig;
    fn deref(&self) -> &PatternConfig {
        &self.0
    }
}

impl Default for ValidPatternConfig {
    /// The defaults (which always pass the check).
    fn default() -> Self {
        ValidPatternConfig(PatternConfig::default())
    }
}

/// Collects the checks; every message starts with `pattern:` and names the field.
struct Check;

impl Check {
    fn err(field: &str, what: impl AsRef<str>) -> Error {
        Error::config(format!("pattern: {field} {}", what.as_ref()))
    }

    fn positive(field: &str, x: f64) -> Result<()> {
        if !(x.is_finite() && x > 0.0) {
            return Err(Self::err(field, format!("= {x} must be a positive number")));
        }
        Ok(())
    }

    fn non_negative(field: &str, x: f64) -> Result<()> {
        if !(x.is_finite() && x >= 0.0) {
            return Err(Self::err(field, format!("= {x} must be zero or positive")));
        }
        Ok(())
    }

    fn fraction(field: &str, x: f64) -> Result<()> {
        if !(x.is_finite() && (0.0..=1.0).contains(&x)) {
            return Err(Self::err(field, format!("= {x} must lie within [0, 1]")));
        }
        Ok(())
    }

    fn above_one(field: &str, x: f64) -> Result<()> {
        if !(x.is_finite() && x > 1.0) {
            return Err(Self::err(field, format!("= {x} must be greater than 1")));
        }
        Ok(())
    }

    /// A range of a positive quantity: finite, `0 < low <= high`.
    fn range(field: &str, r: Range) -> Result<()> {
        if !(r[0].is_finite() && r[1].is_finite()) {
            return Err(Self::err(
                field,
                format!("= [{}, {}] must be finite numbers", r[0], r[1]),
            ));
        }
        if r[0] <= 0.0 {
            return Err(Self::err(
                field,
                format!("= [{}, {}]: the low end must be positive", r[0], r[1]),
            ));
        }
        if r[0] > r[1] {
            return Err(Self::err(
                field,
                format!(
                    "= [{}, {}] is empty: the low end is above the high end",
                    r[0], r[1]
                ),
            ));
        }
        Ok(())
    }
}

impl PatternConfig {
    /// Parses a configuration from TOML text (every field optional).
    pub fn from_toml_str(text: &str) -> Result<PatternConfig> {
        toml::from_str(text).map_err(|e| {
            Error::config(format!(
                "pattern: configuration TOML: {}",
                e.message().split_whitespace().collect::<Vec<_>>().join(" ")
            ))
        })
    }

    /// Checks every parameter; the first problem found is one [`Error::Config`] sentence
    /// that names the field and the allowed values.
    pub fn check(self) -> Result<ValidPatternConfig> {
        let s = &self.segmentation;
        Check::positive("segmentation.bin_decades", s.bin_decades)?;
        if s.bin_decades > 1.0 {
            return Err(Check::err(
                "segmentation.bin_decades",
                format!(
                    "= {} is wider than one decade; the histogram could not show two modes",
                    s.bin_decades
                ),
            ));
        }
        Check::fraction("segmentation.min_void", s.min_void)?;
        let j = &self.jitter;
        if j.half_window == 0 {
            return Err(Check::err("jitter.half_window", "= 0 must be at least 1"));
        }
        if !(j.missed_tolerance.is_finite() && (0.0..0.5).contains(&j.missed_tolerance)) {
            return Err(Check::err(
                "jitter.missed_tolerance",
                format!("= {} must lie within [0, 0.5)", j.missed_tolerance),
            ));
        }
        if !(j.intruder_fraction.is_finite() && (0.0..1.0).contains(&j.intruder_fraction)) {
            return Err(Check::err(
                "jitter.intruder_fraction",
                format!("= {} must lie within [0, 1)", j.intruder_fraction),
            ));
        }
        if !(j.join_tolerance.is_finite() && (0.0..1.0).contains(&j.join_tolerance)) {
            return Err(Check::err(
                "jitter.join_tolerance",
                format!("= {} must lie within [0, 1)", j.join_tolerance),
            ));
        }
        Check::fraction("jitter.episode_unit_quantile", j.episode_unit_quantile)?;
        Check::positive("segmentation.max_intra_isi_ms", s.max_intra_isi_ms)?;
        if s.min_mode_isis == 0 {
            return Err(Check::err(
                "segmentation.min_mode_isis",
                "= 0 must be at least 1",
            ));
        }
        Check::fraction("segmentation.min_intra_fraction", s.min_intra_fraction)?;
        Check::above_one("segmentation.min_jump_ratio", s.min_jump_ratio)?;
        if !(s.missed_tolerance.is_finite() && (0.0..0.5).contains(&s.missed_tolerance)) {
            return Err(Check::err(
                "segmentation.missed_tolerance",
                format!("= {} must lie within [0, 0.5)", s.missed_tolerance),
            ));
        }
        Check::above_one("segmentation.gap_factor", s.gap_factor)?;
        Check::positive("segmentation.max_isi_s", s.max_isi_s)?;
        if !(s.irregular_false_split > 0.0 && s.irregular_false_split < 1.0) {
            return Err(Check::err(
                "segmentation.irregular_false_split",
                format!(
                    "= {} must lie strictly between 0 and 1",
                    s.irregular_false_split
                ),
            ));
        }
        Check::non_negative("segmentation.contrast_max_s", s.contrast_max_s)?;
        if s.slow_window < 3 {
            return Err(Check::err(
                "segmentation.slow_window",
                format!(
                    "= {} must be at least 3 (a median needs three intervals)",
                    s.slow_window
                ),
            ));
        }
        Check::fraction("segmentation.slow_tolerance", s.slow_tolerance)?;
        if s.sustained_potentials < 2 {
            return Err(Check::err(
                "segmentation.sustained_potentials",
                format!("= {} must be at least 2", s.sustained_potentials),
            ));
        }
        Check::non_negative("segmentation.sustained_s", s.sustained_s)?;
        Check::non_negative("segmentation.join_s", s.join_s)?;
        Check::positive("segmentation.bridge_min_rate_hz", s.bridge_min_rate_hz)?;
        Check::fraction(
            "segmentation.bridge_rate_tolerance",
            s.bridge_rate_tolerance,
        )?;
        Check::non_negative("segmentation.bridge_max_intervals", s.bridge_max_intervals)?;
        Check::non_negative("segmentation.tail_join_s", s.tail_join_s)?;
        Check::non_negative(
            "segmentation.tonic_max_pause_intervals",
            s.tonic_max_pause_intervals,
        )?;
        Check::non_negative(
            "segmentation.sustained_min_rate_hz",
            s.sustained_min_rate_hz,
        )?;

        let c = &self.scoring;
        Check::above_one("scoring.margin", c.margin)?;
        Check::fraction("scoring.edge", c.edge)?;
        if c.edge == 0.0 {
            return Err(Check::err("scoring.edge", "= 0 must be positive"));
        }
        Check::fraction("scoring.depth", c.depth)?;
        Check::fraction("scoring.support_floor", c.support_floor)?;
        Check::fraction("scoring.unknown", c.unknown)?;
        Check::fraction("scoring.min_score", c.min_score)?;

        let t = &self.trend;
        Check::positive("trend.flat_change", t.flat_change)?;
        Check::fraction("trend.min_curvature_gain", t.min_curvature_gain)?;
        if !(t.vertex[0].is_finite()
            && t.vertex[1].is_finite()
            && 0.0 <= t.vertex[0]
            && t.vertex[0] < t.vertex[1]
            && t.vertex[1] <= 1.0)
        {
            return Err(Check::err(
                "trend.vertex",
                format!(
                    "= [{}, {}] must satisfy 0 <= low < high <= 1",
                    t.vertex[0], t.vertex[1]
                ),
            ));
        }

        let m = &self.myokymic;
        Check::range("myokymic.potentials", m.potentials)?;
        Check::range("myokymic.intraburst_rate_hz", m.intraburst_rate_hz)?;
        Check::range("myokymic.recurrence_hz", m.recurrence_hz)?;
        Check::positive("myokymic.max_recurrence_cv", m.max_recurrence_cv)?;
        Check::positive("myokymic.max_burst_s", m.max_burst_s)?;
        Check::positive("myokymic.max_coactive_units", m.max_coactive_units)?;
        Check::above_one("myokymic.single_rhythm_factor", m.single_rhythm_factor)?;

        let m = &self.myokymic_continuous;
        Check::range("myokymic_continuous.rate_hz", m.rate_hz)?;
        Check::positive("myokymic_continuous.min_duration_s", m.min_duration_s)?;
        Check::positive("myokymic_continuous.min_modulation", m.min_modulation)?;
        Check::range("myokymic_continuous.modulation_hz", m.modulation_hz)?;
        Check::positive("myokymic_continuous.min_cycles", m.min_cycles)?;
        Check::positive("myokymic_continuous.max_jitter", m.max_jitter)?;

        Check::positive("fasciculation.max_rate_hz", self.fasciculation.max_rate_hz)?;
        Check::positive("fasciculation.together_s", self.fasciculation.together_s)?;
        Check::fraction(
            "fasciculation.contraction_tie_p",
            self.fasciculation.contraction_tie_p,
        )?;
        Check::positive("fasciculation.min_cv", self.fasciculation.min_cv)?;
        let f = &self.fasciculation;
        if f.max_cv.is_nan() || f.max_cv <= f.min_cv {
            return Err(Check::err(
                "fasciculation.max_cv",
                format!(
                    "= {} must exceed fasciculation.min_cv ({})",
                    self.fasciculation.max_cv, self.fasciculation.min_cv
                ),
            ));
        }
        Check::fraction(
            "fasciculation.max_grouped_share",
            self.fasciculation.max_grouped_share,
        )?;
        Check::fraction("doublet.min_grouped_share", self.doublet.min_grouped_share)?;

        Check::range("doublet.potentials", self.doublet.potentials)?;
        if self.doublet.potentials[0] < 2.0 {
            return Err(Check::err(
                "doublet.potentials",
                format!(
                    "= [{}, {}]: a group has at least 2 potentials",
                    self.doublet.potentials[0], self.doublet.potentials[1]
                ),
            ));
        }
        Check::range("doublet.interval_ms", self.doublet.interval_ms)?;
        Check::positive("doublet.min_group_cv", self.doublet.min_group_cv)?;

        Check::range("neuromyotonic.rate_hz", self.neuromyotonic.rate_hz)?;
        Check::positive(
            "neuromyotonic.min_potentials",
            self.neuromyotonic.min_potentials,
        )?;

        let r = &self.complex_repetitive;
        Check::range("complex_repetitive.rate_hz", r.rate_hz)?;
        Check::positive("complex_repetitive.max_jitter", r.max_jitter)?;
        Check::positive("complex_repetitive.min_potentials", r.min_potentials)?;

        let f = &self.fibrillation;
        Check::range("fibrillation.rate_hz", f.rate_hz)?;
        Check::positive("fibrillation.max_jitter", f.max_jitter)?;
        Check::positive("fibrillation.min_potentials", f.min_potentials)?;
        Check::range(
            "fibrillation.fibrillation_duration_ms",
            f.fibrillation_duration_ms,
        )?;
        Check::range("fibrillation.psw_duration_ms", f.psw_duration_ms)?;
        Check::positive(
            "fibrillation.max_rate_change_per_s",
            f.max_rate_change_per_s,
        )?;

        let m = &self.myotonic;
        Check::range("myotonic.rate_hz", m.rate_hz)?;
        Check::positive("myotonic.min_potentials", m.min_potentials)?;
        Check::positive("myotonic.min_change", m.min_change)?;
        Check::positive("myotonic.max_jitter", m.max_jitter)?;

        let e = &self.endplate_spike;
        Check::range("endplate_spike.rate_hz", e.rate_hz)?;
        Check::positive("endplate_spike.min_cv", e.min_cv)?;
        Check::positive("endplate_spike.min_potentials", e.min_potentials)?;

        let c = &self.cramp;
        Check::positive("cramp.min_units", c.min_units)?;
        Check::range("cramp.unit_rate_hz", c.unit_rate_hz)?;
        Check::range("cramp.unit_cv", c.unit_cv)?;
        Check::non_negative("cramp.min_first_rate_hz", c.min_first_rate_hz)?;

        let v = &self.voluntary;
        Check::range("voluntary.unit_rate_hz", v.unit_rate_hz)?;
        Check::range("voluntary.unit_cv", v.unit_cv)?;
        Check::positive("voluntary.min_units", v.min_units)?;
        Check::positive("voluntary.max_recruitment_ratio", v.max_recruitment_ratio)?;
        Check::fraction(
            "voluntary.max_waxing_waning_share",
            v.max_waxing_waning_share,
        )?;
        if v.max_waxing_waning_share == 0.0 {
            return Err(Check::err(
                "voluntary.max_waxing_waning_share",
                "= 0 must be positive",
            ));
        }

        let r = &self.regular;
        Check::range("regular.rate_hz", r.rate_hz)?;
        Check::positive("regular.max_cv", r.max_cv)?;
        Check::positive("regular.min_duration_s", r.min_duration_s)?;
        Check::positive("regular.max_modulation", r.max_modulation)?;
        Check::positive("regular.min_potentials", r.min_potentials)?;

        let g = &self.grading;
        Check::non_negative("grading.persistent_s", g.persistent_s)?;
        let k = g.concurrent_trains;
        if !(k.iter().all(|x| x.is_finite() && *x > 0.0) && k.windows(2).all(|w| w[0] <= w[1])) {
            return Err(Check::err(
                "grading.concurrent_trains",
                format!(
                    "= [{}, {}, {}, {}] must be positive and non-decreasing",
                    k[0], k[1], k[2], k[3]
                ),
            ));
        }
        Ok(ValidPatternConfig(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_the_check() {
        assert!(PatternConfig::default().check().is_ok());
    }

    #[test]
    fn toml_with_a_typo_is_refused() {
        let e = PatternConfig::from_toml_str("[myokymic]\nintraburst_rate = [5, 60]\n")
            .expect_err("unknown field");
        assert!(e.to_string().contains("intraburst_rate"), "{e}");
    }

    #[test]
    fn toml_overrides_one_range() {
        let c = PatternConfig::from_toml_str("[neuromyotonic]\nrate_hz = [120, 300]\n")
            .expect("valid TOML");
        assert_eq!(c.neuromyotonic.rate_hz, [120.0, 300.0]);
        assert_eq!(c.myokymic, MyokymicRule::default());
        assert!(c.check().is_ok());
    }

    /// Each bad value gives a config error naming its field.
    #[test]
    fn bad_values_name_their_field() {
        type Edit = fn(&mut PatternConfig);
        let cases: &[(&str, Edit)] = &[
            ("myokymic.intraburst_rate_hz", |c| {
                c.myokymic.intraburst_rate_hz = [60.0, 5.0]
            }),
            ("myokymic.potentials", |c| {
                c.myokymic.potentials = [0.0, 5.0]
            }),
            ("neuromyotonic.rate_hz", |c| {
                c.neuromyotonic.rate_hz = [f64::NAN, 300.0]
            }),
            ("segmentation.min_void", |c| c.segmentation.min_void = 1.5),
            ("segmentation.min_jump_ratio", |c| {
                c.segmentation.min_jump_ratio = 1.0
            }),
            ("segmentation.bin_decades", |c| {
                c.segmentation.bin_decades = 2.0
            }),
            ("segmentation.slow_window", |c| {
                c.segmentation.slow_window = 1
            }),
            ("scoring.margin", |c| c.scoring.margin = 0.5),
            ("scoring.edge", |c| c.scoring.edge = 0.0),
            ("trend.vertex", |c| c.trend.vertex = [0.9, 0.1]),
            ("doublet.potentials", |c| c.doublet.potentials = [1.0, 3.0]),
            ("complex_repetitive.max_jitter", |c| {
                c.complex_repetitive.max_jitter = -0.01
            }),
            ("grading.concurrent_trains", |c| {
                c.grading.concurrent_trains = [1.0, 4.0, 2.0, 6.0]
            }),
            ("cramp.unit_cv", |c| c.cramp.unit_cv = [0.8, 0.3]),
        ];
        for (field, edit) in cases {
            let mut c = PatternConfig::default();
            edit(&mut c);
            match c.check() {
                Err(Error::Config(msg)) => {
                    assert!(msg.starts_with("pattern: "), "{msg}");
                    assert!(msg.contains(field), "{field}: {msg}");
                }
                other => panic!("{field}: expected a config error, got {other:?}"),
            }
        }
    }
}
