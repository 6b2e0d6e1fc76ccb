//! Stage 6: rules that turn features into a class, a score, a confidence and evidence.
//!
//! # How a class is scored
//!
//! Each class is a list of criteria, each a feature and a range from [`PatternConfig`]
//! (sourced there), or a waveform compatibility (table below). A criterion's
//! *membership* is:
//!
//! - 1 when the value lies well inside its range (at least `scoring.depth` of the range's
//!   log-width, or one `scoring.margin`, from the nearer end);
//! - `scoring.edge` (0.8) at the range's end, rising linearly (log scale) towards the
//!   inside;
//! - falling linearly (log scale) from `edge` at the end to 0 at `margin` (1.5×) beyond it;
//! - `scoring.unknown` (0.5) when the feature cannot be measured.
//!
//! The class's score is its weakest *required* membership (so one feature well outside
//! its range vetoes the class) times the geometric mean of its *supporting* memberships,
//! each floored at `scoring.support_floor` (a supporting feature can lower a score but
//! never veto it). The call is the best-scoring class (`unclassified` below
//! `scoring.min_score`), and its **confidence** is `best − runner_up / 2`: 1 when every
//! feature lies well inside the class's ranges and no other class fits at all, about 0.5
//! when two classes fit equally well.
//!
//! # Waveform compatibility (membership of the waveform criterion)
//!
//! | class | motor unit | single fibre (+ first) | single fibre (− first) | PSW | complex |
//! |---|---|---|---|---|---|
//! | myokymic, continuous, neuromyotonic (a polyphasic motor unit may be "complex") | 1 | 0 | 0 | 0 | 0.5 |
//! | doublet, regular, voluntary, cramp | 1 | 0 | 0 | 0 | 0.3 |
//! | fasciculation ("may be complex") | 1 | 0 | 0 | 0 | 0.8 |
//! | complex repetitive (supporting) | 0.5 (0.8 if ≥ 5 phases) | 0.4 | 0.4 | 0.3 | 1 |
//! | fibrillation | 0 | 1 | 0.3 | 0.2 | 0 |
//! | positive sharp wave | 0 | 0.2 | 0.2 | 1 | 0 |
//! | endplate spike | 0 | 0.3 | 1 | 0 | 0 |
//! | myotonic | 0 | 1 | 1 | 1 | 0.2 |
//!
//! The brief's look-alikes and what separates them here: myokymic vs voluntary — grouped
//! bursts of one unit with a semi-rhythmic recurrence vs several units recruited together
//! at 5–25 Hz (multi-unit episodes are scored against their members' single-unit calls);
//! myokymic vs doublet — intraburst rate 5–60 Hz and a regular recurrence vs intervals of
//! 2–20 ms in irregularly recurring groups; continuous myokymia vs regular vs voluntary —
//! repeated waxing and waning of rate or amplitude vs a steady rate with CV ≤ 0.1 vs
//! jitter 0.1–0.3 in several units; voluntary vs cramp — regular units recruited at 5–7 Hz
//! vs irregular units firing faster from the start (the cramp rule requires a median first
//! interval above `cramp.min_first_rate_hz`); myotonic vs myokymic — single-fibre vs motor
//! unit waveform; neuromyotonic vs cramp vs complex repetitive — 150–300 Hz in one unit vs
//! many irregular units vs jitter below 1 %; fibrillation vs endplate spike — regular and
//! initially positive vs irregular and initially negative.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::config::{PatternConfig, ScoringConfig};
use super::features::{Features, Trend};
use super::{stats, DischargeClass, UnitInput, WaveformClass};

/// One criterion of a class and how the discharge met it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// What is measured, e.g. `intraburst rate (Hz)` (borrowed from the rule's text: a long
    /// recording scores tens of thousands of segments against every class).
    pub name: Cow<'static, str>,
    /// The measured value (`None` when it could not be measured, or for a waveform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The range's low end (`None`: unbounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    /// The range's high end (`None`: unbounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    /// A word for non-numeric criteria (the waveform class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether the criterion can veto the class.
    pub required: bool,
    /// Membership, 0–1.
    pub membership: f64,
}

/// A class and its score for one discharge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    /// The class.
    pub class: DischargeClass,
    /// Score, 0–1 (geometric mean of memberships).
    pub score: f64,
    /// The criteria behind it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<Criterion>,
}

/// Membership of `x` in `[lo, hi]` (`lo = 0`: no low end; `hi = ∞`: no high end).
pub(crate) fn membership(x: f64, lo: f64, hi: f64, sc: &ScoringConfig) -> f64 {
    if x.is_nan() {
        return 0.0;
    }
    let lm = sc.margin.ln();
    if lo > 0.0 && x < lo {
        if x <= 0.0 {
            return 0.0;
        }
        return sc.edge * (1.0 - (lo / x).ln() / lm).max(0.0);
    }
    if hi.is_finite() && x > hi {
        return sc.edge * (1.0 - (x / hi).ln() / lm).max(0.0);
    }
    let mut depth = f64::INFINITY;
    if lo > 0.0 {
        depth = depth.min((x / lo).ln());
    }
    if hi.is_finite() {
        depth = if x > 0.0 {
            depth.min((hi / x).ln())
        } else {
            depth
        };
    }
    let width = if lo > 0.0 && hi.is_finite() {
        (hi / lo).ln()
    } else {
        f64::INFINITY
    };
    let reference = (sc.depth * width).min(lm);
    if reference <= 0.0 || depth.is_infinite() {
        return 1.0;
    }
    sc.edge + (1.0 - sc.edge) * (depth / reference).min(1.0)
}

/// Builds one class's criteria and score.
pub(crate) struct Rule<'a> {
    sc: &'a ScoringConfig,
    crit: Vec<Criterion>,
}

impl<'a> Rule<'a> {
    pub fn new(sc: &'a ScoringConfig) -> Self {
        Rule {
            sc,
            crit: Vec::new(),
        }
    }

    /// `value` should lie in `[lo, hi]` (`lo = 0`, `hi = ∞` for open ends).
    pub fn range(
        &mut self,
        name: &'static str,
        value: Option<f64>,
        lo: f64,
        hi: f64,
        required: bool,
    ) {
        let m = match value {
            Some(v) => membership(v, lo, hi, self.sc),
            None => self.sc.unknown,
        };
        self.crit.push(Criterion {
            name: Cow::Borrowed(name),
            value,
            low: (lo > 0.0).then_some(lo),
            high: hi.is_finite().then_some(hi),
            note: None,
            required,
            membership: m,
        });
    }

    /// `value` should be at least `lo`.
    pub fn at_least(&mut self, name: &'static str, value: Option<f64>, lo: f64, required: bool) {
        self.range(name, value, lo, f64::INFINITY, required);
    }

    /// `value` should be at most `hi`.
    pub fn at_most(&mut self, name: &'static str, value: Option<f64>, hi: f64, required: bool) {
        self.range(name, value, 0.0, hi, required);
    }

    /// A non-numeric criterion with a fixed membership.
    pub fn table(&mut self, name: &'static str, note: &str, m: f64, required: bool) {
        self.crit.push(Criterion {
            name: Cow::Borrowed(name),
            value: None,
            low: None,
            high: None,
            note: Some(note.to_string()),
            required,
            membership: m,
        });
    }

    /// The weakest required membership times the geometric mean of the supporting ones
    /// (each floored at `support_floor`).
    pub fn finish(self, class: DischargeClass) -> ClassScore {
        let required = self
            .crit
            .iter()
            .filter(|c| c.required)
            .map(|c| c.membership)
            .fold(1.0f64, f64::min);
        let support: Vec<f64> = self
            .crit
            .iter()
            .filter(|c| !c.required)
            .map(|c| c.membership.max(self.sc.support_floor).ln())
            .collect();
        let support = if support.is_empty() {
            1.0
        } else {
            (support.iter().sum::<f64>() / support.len() as f64).exp()
        };
        let score = if self.crit.is_empty() {
            0.0
        } else {
            (required * support).clamp(0.0, 1.0)
        };
        ClassScore {
            class,
            score,
            criteria: self.crit,
        }
    }
}

/// The waveform class as a word, with the first phase for single fibres.
pub(crate) fn waveform_note(u: &UnitInput) -> String {
    match u.waveform {
        WaveformClass::SingleFibre => format!(
            "single-fibre, initially {}",
            if u.first_phase_positive {
                "positive"
            } else {
                "negative"
            }
        ),
        w => w.name().to_string(),
    }
}

/// Waveform compatibility of `u` with `class` (table in the module docs).
pub(crate) fn waveform_membership(class: DischargeClass, u: &UnitInput) -> f64 {
    use DischargeClass as C;
    use WaveformClass as W;
    let sf_pos = u.waveform == W::SingleFibre && u.first_phase_positive;
    match (class, u.waveform) {
        (C::Fasciculation, W::MotorUnit) => 1.0,
        (C::Fasciculation, W::Complex) => 0.8,
        (
            C::Myokymic
            | C::MyokymicContinuous
            | C::Doublet
            | C::Neuromyotonic
            | C::Regular
            | C::Voluntary
            | C::Cramp,
            W::MotorUnit,
        ) => 1.0,
        // A polyphasic motor unit potential of brief spikes (reinnervation, as in the
        // radiation plexopathies that bring limb myokymia, brief) is what the waveform
        // classes call a complex; in grouped, semi-rhythmic bursts its firing says more
        // than its shape (the complex repetitive rule asks for machine-like regularity).
        // The same holds for neuromyotonic discharges (brief: neuromyotonia comes with
        // neuropathies and radiation plexopathy too), whose 150–300 Hz no complex
        // repetitive discharge (5–100 Hz) or myotonic discharge (20–80 Hz) reaches.
        (C::Myokymic | C::MyokymicContinuous | C::Neuromyotonic, W::Complex) => 0.5,
        (C::Doublet | C::Regular | C::Voluntary | C::Cramp, W::Complex) => 0.3,
        (C::ComplexRepetitive, W::Complex) => 1.0,
        (C::ComplexRepetitive, W::MotorUnit) => {
            if u.phases >= 5 {
                0.8
            } else {
                0.5
            }
        }
        (C::ComplexRepetitive, W::SingleFibre) => 0.4,
        (C::ComplexRepetitive, W::PositiveSharpWave) => 0.3,
        (C::Fibrillation, W::SingleFibre) => {
            if sf_pos {
                1.0
            } else {
                0.3
            }
        }
        (C::Fibrillation, W::PositiveSharpWave) => 0.2,
        (C::PositiveSharpWave, W::PositiveSharpWave) => 1.0,
        (C::PositiveSharpWave, W::SingleFibre) => 0.2,
        (C::EndplateSpike, W::SingleFibre) => {
            if sf_pos {
                0.3
            } else {
                1.0
            }
        }
        (C::Myotonic, W::SingleFibre | W::PositiveSharpWave) => 1.0,
        (C::Myotonic, W::Complex) => 0.2,
        _ => 0.0,
    }
}

fn waveform(r: &mut Rule, class: DischargeClass, u: &UnitInput, required: bool) {
    r.table(
        "waveform",
        &waveform_note(u),
        waveform_membership(class, u),
        required,
    );
}

/// Membership of an amplitude trend for "waning" (neuromyotonic discharges).
fn waning_membership(t: Option<Trend>, sc: &ScoringConfig) -> f64 {
    match t {
        Some(Trend::Waning) => 1.0,
        Some(Trend::WaxingWaning | Trend::WaningWaxing) => 0.7,
        Some(Trend::Flat) => 0.6,
        Some(Trend::Waxing) => 0.3,
        None => sc.unknown,
    }
}

/// The size of the rate's fitted trend per second of the segment, as a fraction of the
/// mean rate; `None` without a trend or a duration.
fn rate_change_per_s(f: &Features) -> Option<f64> {
    let t = f.rate_trend?;
    (f.duration_s > 0.0).then(|| t.change.abs() / f.duration_s)
}

/// The smaller of the onset and offset ratios (how abrupt the discharge starts and stops).
fn abruptness(f: &Features) -> Option<f64> {
    match (f.onset_ratio, f.offset_ratio) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Smallest onset/offset ratio of an abrupt discharge (kymo: it starts at ≥ 70 % of its
/// steady rate).
const ABRUPT_RATIO: f64 = 0.7;

/// Scores one single-unit segment against every single-unit class, best first.
pub(crate) fn score_segment(f: &Features, u: &UnitInput, cfg: &PatternConfig) -> Vec<ClassScore> {
    use DischargeClass as C;
    let sc = &cfg.scoring;
    let n = f.n_potentials as f64;
    let mut out = Vec::with_capacity(12);

    // Myokymic bursts.
    {
        let c = &cfg.myokymic;
        let mut r = Rule::new(sc);
        waveform(&mut r, C::Myokymic, u, true);
        if f.n_potentials == 1 && f.in_rhythm == Some(true) {
            r.table(
                "potentials per burst",
                "single potential in the unit's burst rhythm",
                sc.edge * 0.75,
                true,
            );
        } else {
            r.range(
                "potentials per burst",
                Some(n),
                c.potentials[0],
                c.potentials[1],
                true,
            );
        }
        r.range(
            "intraburst rate (Hz)",
            f.rate_hz,
            c.intraburst_rate_hz[0],
            c.intraburst_rate_hz[1],
            true,
        );
        r.range(
            "burst recurrence (Hz)",
            f.recurrence_hz,
            c.recurrence_hz[0],
            c.recurrence_hz[1],
            true,
        );
        r.at_most("recurrence CV", f.recurrence_cv, c.max_recurrence_cv, true);
        r.range(
            "unit's typical burst (potentials)",
            f.unit_burst_potentials,
            c.potentials[0],
            c.potentials[1],
            true,
        );
        r.at_most(
            "burst duration (s)",
            Some(f.duration_s),
            c.max_burst_s,
            false,
        );
        r.at_most(
            "unit's typical burst duration (s)",
            f.unit_burst_s,
            c.max_burst_s,
            true,
        );
        r.at_most(
            "co-active units",
            f.coactive_units.map(|k| k as f64),
            c.max_coactive_units,
            false,
        );
        r.at_most(
            "burst share of the recurrence period",
            f.unit_burst_s
                .zip(f.unit_burst_potentials)
                .zip(f.recurrence_hz)
                .map(|((d, n), r)| stats::firing_time(d, n) * r),
            c.max_duty_cycle,
            true,
        );
        out.push(r.finish(C::Myokymic));
    }

    // Continuous myokymia.
    {
        let c = &cfg.myokymic_continuous;
        let mut r = Rule::new(sc);
        waveform(&mut r, C::MyokymicContinuous, u, true);
        r.at_least("duration (s)", Some(f.duration_s), c.min_duration_s, true);
        r.range("rate (Hz)", f.rate_hz, c.rate_hz[0], c.rate_hz[1], true);
        let modulation = match (f.rate_modulation, f.amplitude_modulation) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        r.at_least("modulation depth", modulation, c.min_modulation, true);
        r.at_least(
            "waxing/waning cycles",
            f.modulation_cycles,
            c.min_cycles,
            true,
        );
        r.range(
            "modulation rate (Hz)",
            f.modulation_hz,
            c.modulation_hz[0],
            c.modulation_hz[1],
            false,
        );
        r.at_most("interval jitter", f.jitter, c.max_jitter, true);
        out.push(r.finish(C::MyokymicContinuous));
    }

    // Regular single-unit discharges.
    {
        let c = &cfg.regular;
        let mut r = Rule::new(sc);
        waveform(&mut r, C::Regular, u, true);
        r.at_least("duration (s)", Some(f.duration_s), c.min_duration_s, true);
        r.range("rate (Hz)", f.rate_hz, c.rate_hz[0], c.rate_hz[1], true);
        r.at_least("potentials", Some(n), c.min_potentials, true);
        r.at_most("robust interval CV", f.isi_cv_robust, c.max_cv, true);
        let modulation = match (f.rate_modulation, f.amplitude_modulation) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        r.at_most("modulation depth", modulation, c.max_modulation, false);
        out.push(r.finish(C::Regular));
    }

    // Fasciculations (each potential of the segment is one).
    {
        let c = &cfg.fasciculation;
        let mut r = Rule::new(sc);
        waveform(&mut r, C::Fasciculation, u, true);
        r.at_most("unit rate (Hz)", f.unit_rate_hz, c.max_rate_hz, true);
        r.range("unit interval CV", f.unit_isi_cv, c.min_cv, c.max_cv, true);
        r.at_most(
            "unit's share in doublet groups",
            f.unit_grouped_share,
            c.max_grouped_share,
            true,
        );
        out.push(r.finish(C::Fasciculation));
    }

    // Doublets and multiplets.
    {
        let c = &cfg.doublet;
        let mut r = Rule::new(sc);
        waveform(&mut r, C::Doublet, u, true);
        r.range(
            "potentials",
            Some(n),
            c.potentials[0],
            c.potentials[1],
            true,
        );
        r.range(
            "longest interval (ms)",
            f.interval_max_ms,
            c.interval_ms[0],
            c.interval_ms[1],
            true,
        );
        r.range(
            "shortest interval (ms)",
            f.interval_min_ms,
            c.interval_ms[0],
            c.interval_ms[1],
            true,
        );
        r.at_least("group recurrence CV", f.recurrence_cv, c.min_group_cv, true);
        r.at_least(
            "unit's share in doublet groups",
            f.unit_grouped_share,
            c.min_grouped_share,
            true,
        );
        out.push(r.finish(C::Doublet));
    }

    // Neuromyotonic discharges.
    {
        let c = &cfg.neuromyotonic;
        let mut r = Rule::new(sc);
        waveform(&mut r, C::Neuromyotonic, u, true);
        // The rate where it fires: the median interval's, so potentials lost in the waning
        // tail (silences inside the discharge) do not lower it as they lower the mean.
        let median_rate = f.interval_median_ms.filter(|m| *m > 0.0).map(|m| 1e3 / m);
        r.range(
            "median rate (Hz)",
            median_rate,
            c.rate_hz[0],
            c.rate_hz[1],
            true,
        );
        r.at_least("potentials", Some(n), c.min_potentials, true);
        r.table(
            "amplitude waning",
            f.amplitude_trend.map_or("unknown", |t| t.shape.name()),
            waning_membership(f.amplitude_trend.map(|t| t.shape), sc),
            false,
        );
        r.at_least(
            "onset/offset abruptness",
            abruptness(f),
            ABRUPT_RATIO,
            false,
        );
        out.push(r.finish(C::Neuromyotonic));
    }

    // Complex repetitive discharges.
    {
        let c = &cfg.complex_repetitive;
        let mut r = Rule::new(sc);
        r.at_most("interval jitter", f.jitter, c.max_jitter, true);
        r.range("rate (Hz)", f.rate_hz, c.rate_hz[0], c.rate_hz[1], true);
        r.at_least("potentials", Some(n), c.min_potentials, true);
        waveform(&mut r, C::ComplexRepetitive, u, false);
        r.at_least(
            "onset/offset abruptness",
            abruptness(f),
            ABRUPT_RATIO,
            false,
        );
        out.push(r.finish(C::ComplexRepetitive));
    }

    // Fibrillation potentials and positive sharp waves.
    for (class, dur) in [
        (C::Fibrillation, cfg.fibrillation.fibrillation_duration_ms),
        (C::PositiveSharpWave, cfg.fibrillation.psw_duration_ms),
    ] {
        let c = &cfg.fibrillation;
        let mut r = Rule::new(sc);
        waveform(&mut r, class, u, true);
        r.range("rate (Hz)", f.rate_hz, c.rate_hz[0], c.rate_hz[1], true);
        r.at_most("interval jitter", f.jitter, c.max_jitter, true);
        r.at_least("potentials", Some(n), c.min_potentials, true);
        // A rate that changes within seconds is not a train that slows gradually (the
        // slow end of a myotonic discharge); without a fitted trend there is no evidence.
        if let Some(v) = rate_change_per_s(f) {
            r.at_most(
                "rate change per second",
                Some(v),
                c.max_rate_change_per_s,
                true,
            );
        }
        r.range(
            "potential duration (ms)",
            Some(u.duration_ms as f64),
            dur[0],
            dur[1],
            false,
        );
        out.push(r.finish(class));
    }

    // Endplate spikes.
    {
        let c = &cfg.endplate_spike;
        let mut r = Rule::new(sc);
        waveform(&mut r, C::EndplateSpike, u, true);
        r.range("rate (Hz)", f.rate_hz, c.rate_hz[0], c.rate_hz[1], true);
        r.at_least("interval CV", f.isi_cv, c.min_cv, true);
        r.at_least("potentials", Some(n), c.min_potentials, true);
        out.push(r.finish(C::EndplateSpike));
    }

    // Myotonic discharges.
    {
        let c = &cfg.myotonic;
        let mut r = Rule::new(sc);
        waveform(&mut r, C::Myotonic, u, true);
        r.range("rate (Hz)", f.rate_hz, c.rate_hz[0], c.rate_hz[1], true);
        r.at_least("potentials", Some(n), c.min_potentials, true);
        let change = [f.rate_trend, f.amplitude_trend]
            .iter()
            .flatten()
            .map(|t| t.change.abs())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        r.at_least("rate or amplitude change", change, c.min_change, false);
        r.at_most("interval jitter", f.jitter, c.max_jitter, true);
        out.push(r.finish(C::Myotonic));
    }

    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// Features of a multi-unit episode that only episodes have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EpisodeStats {
    /// Distinct units.
    pub units: usize,
}

/// Scores a multi-unit episode as voluntary activity and as a cramp, best first.
pub(crate) fn score_episode(f: &Features, e: EpisodeStats, cfg: &PatternConfig) -> Vec<ClassScore> {
    use DischargeClass as C;
    let sc = &cfg.scoring;
    let k = e.units as f64;
    let mut out = Vec::with_capacity(2);
    {
        let c = &cfg.voluntary;
        let mut r = Rule::new(sc);
        r.range(
            "median unit rate (Hz)",
            f.rate_hz,
            c.unit_rate_hz[0],
            c.unit_rate_hz[1],
            true,
        );
        r.range(
            "unit jitter (jitter.episode_unit_quantile of the units)",
            f.jitter,
            c.unit_cv[0],
            c.unit_cv[1],
            true,
        );
        r.at_least("units", Some(k), c.min_units, false);
        r.at_most(
            "recruitment ratio (Hz per unit)",
            f.recruitment_ratio,
            c.max_recruitment_ratio,
            false,
        );
        r.at_most(
            "share of units waxing and waning",
            f.waxing_waning_share,
            c.max_waxing_waning_share,
            false,
        );
        out.push(r.finish(C::Voluntary));
    }
    {
        let c = &cfg.cramp;
        let mut r = Rule::new(sc);
        r.at_least("units", Some(k), c.min_units, true);
        r.range(
            "median unit rate (Hz)",
            f.rate_hz,
            c.unit_rate_hz[0],
            c.unit_rate_hz[1],
            true,
        );
        r.range(
            "unit jitter (jitter.episode_unit_quantile of the units)",
            f.jitter,
            c.unit_cv[0],
            c.unit_cv[1],
            true,
        );
        if c.min_first_rate_hz > 0.0 {
            r.at_least(
                "units' rate at recruitment (median first interval, Hz)",
                f.first_rate_hz,
                c.min_first_rate_hz,
                true,
            );
        }
        r.at_most(
            "share of units waxing and waning",
            f.waxing_waning_share,
            cfg.voluntary.max_waxing_waning_share,
            false,
        );
        out.push(r.finish(C::Cramp));
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// Confidence of a call: the best score minus half the runner-up's.
pub(crate) fn confidence(best: f64, runner_up: f64) -> f64 {
    (best - 0.5 * runner_up).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-9;

    #[test]
    fn membership_table() {
        let sc = ScoringConfig::default();
        let lm = 1.5f64.ln();
        // (x, lo, hi, expected)
        let cases: &[(f64, f64, f64, f64)] = &[
            // well inside [5, 60]: full credit
            (20.0, 5.0, 60.0, 1.0),
            // at an end: the edge value
            (5.0, 5.0, 60.0, 0.8),
            (60.0, 5.0, 60.0, 0.8),
            // 1.5× beyond: nothing
            (90.0, 5.0, 60.0, 0.0),
            (5.0 / 1.5, 5.0, 60.0, 0.0),
            // halfway (log) beyond: half the edge
            (60.0 * 1.5f64.sqrt(), 5.0, 60.0, 0.4),
            // one-sided ranges: at most 0.01
            (0.0, 0.0, 0.01, 1.0),
            (0.01, 0.0, 0.01, 0.8),
            (0.02, 0.0, 0.01, 0.0),
            // at least 3 s: 3 × 1.5 inside is full credit
            (4.5, 3.0, f64::INFINITY, 1.0),
            (0.0, 3.0, f64::INFINITY, 0.0),
            (f64::NAN, 1.0, 2.0, 0.0),
        ];
        for &(x, lo, hi, want) in cases {
            let got = membership(x, lo, hi, &sc);
            assert!(
                (got - want).abs() < 1e-9,
                "m({x}; {lo}, {hi}) = {got}, want {want}"
            );
        }
        // Inside, part way: [150, 300] has log-width ln 2; the reference depth is
        // min(0.25 · ln 2, ln 1.5) = 0.1733; at 160 Hz the depth is ln(160/150).
        let d = (160.0f64 / 150.0).ln();
        let want = 0.8 + 0.2 * d / (0.25 * 2f64.ln()).min(lm);
        assert!((membership(160.0, 150.0, 300.0, &sc) - want).abs() < EPS);
    }

    #[test]
    fn required_zero_vetoes_supporting_zero_is_floored() {
        let sc = ScoringConfig::default();
        let mut r = Rule::new(&sc);
        r.range("a", Some(100.0), 1.0, 2.0, false); // 0 → floored to 0.5
        r.range("c", Some(1.5), 1.0, 2.0, false); // inside
        r.range("b", Some(1.5), 1.0, 2.0, true); // inside
        r.range("d", Some(2.0), 1.0, 2.0, true); // at the edge: 0.8
        let s = r.finish(DischargeClass::Regular);
        let m_c = membership(1.5, 1.0, 2.0, &sc);
        // min(required) = 0.8; supporting: geometric mean of 0.5 and m_c.
        assert!((s.score - 0.8 * (0.5 * m_c).sqrt()).abs() < EPS);
        let mut r = Rule::new(&sc);
        r.range("a", Some(100.0), 1.0, 2.0, true);
        r.range("b", Some(1.5), 1.0, 2.0, true);
        assert_eq!(r.finish(DischargeClass::Regular).score, 0.0);
        let mut r = Rule::new(&sc);
        r.range("unknown", None, 1.0, 2.0, true);
        assert!((r.finish(DischargeClass::Regular).score - 0.5).abs() < EPS);
    }

    #[test]
    fn confidence_is_best_minus_half_the_runner_up() {
        assert!((confidence(0.9, 0.2) - 0.8).abs() < EPS);
        assert!((confidence(0.6, 0.6) - 0.3).abs() < EPS);
        assert_eq!(confidence(0.1, 0.9), 0.0);
    }

    fn unit(w: WaveformClass, positive: bool) -> UnitInput {
        UnitInput {
            id: 0,
            waveform: w,
            p2p_uv: 100.0,
            duration_ms: 3.0,
            phases: 3,
            first_phase_positive: positive,
        }
    }

    #[test]
    fn waveform_table_separates_fibrillation_from_endplate_spikes() {
        use DischargeClass as C;
        use WaveformClass as W;
        let pos = unit(W::SingleFibre, true);
        let neg = unit(W::SingleFibre, false);
        assert_eq!(waveform_membership(C::Fibrillation, &pos), 1.0);
        assert_eq!(waveform_membership(C::EndplateSpike, &neg), 1.0);
        assert!(waveform_membership(C::Fibrillation, &neg) < 0.5);
        assert!(waveform_membership(C::EndplateSpike, &pos) < 0.5);
        assert_eq!(waveform_membership(C::Myokymic, &pos), 0.0);
        assert_eq!(
            waveform_membership(C::Myotonic, &unit(W::MotorUnit, true)),
            0.0
        );
        assert_eq!(
            waveform_membership(C::Myotonic, &unit(W::PositiveSharpWave, true)),
            1.0
        );
    }

    /// Table-driven: hand-made feature sets and the class each must get.
    #[test]
    fn hand_made_features_get_their_class() {
        use DischargeClass as C;
        use WaveformClass as W;
        let cfg = PatternConfig::default();
        let base = |kind, w| Features::empty(kind, w);
        use super::super::features::{SegmentKind as K, TrendFit};
        let mut cases: Vec<(&str, Features, UnitInput, C)> = Vec::new();

        let mut f = base(K::Burst, W::MotorUnit);
        f.n_potentials = 5;
        f.duration_s = 0.13;
        f.rate_hz = Some(31.0);
        f.recurrence_hz = Some(2.0);
        f.recurrence_cv = Some(0.2);
        f.coactive_units = Some(0);
        f.unit_burst_potentials = Some(5.0);
        f.unit_burst_s = Some(0.15);
        cases.push((
            "myokymic burst",
            f.clone(),
            unit(W::MotorUnit, false),
            C::Myokymic,
        ));

        let mut g = f.clone();
        g.n_potentials = 2;
        g.duration_s = 0.008;
        g.rate_hz = Some(125.0);
        g.interval_min_ms = Some(8.0);
        g.interval_max_ms = Some(8.0);
        g.recurrence_hz = Some(0.3);
        g.recurrence_cv = Some(1.0);
        g.unit_rate_hz = Some(0.6);
        g.unit_isi_cv = Some(2.0);
        g.unit_grouped_share = Some(0.95);
        cases.push(("doublet", g, unit(W::MotorUnit, false), C::Doublet));

        let mut h = base(K::Single, W::MotorUnit);
        h.n_potentials = 1;
        h.unit_rate_hz = Some(0.3);
        h.unit_isi_cv = Some(0.9);
        h.unit_grouped_share = Some(0.02);
        cases.push((
            "fasciculation",
            h.clone(),
            unit(W::MotorUnit, false),
            C::Fasciculation,
        ));
        // The same single in a unit that fires 8 potentials a second is nothing.
        let mut h2 = h.clone();
        h2.unit_rate_hz = Some(8.0);
        h2.unit_isi_cv = Some(0.2);
        cases.push((
            "stray single",
            h2,
            unit(W::MotorUnit, false),
            C::Unclassified,
        ));

        let mut run = base(K::Run, W::MotorUnit);
        run.n_potentials = 500;
        run.duration_s = 2.0;
        run.rate_hz = Some(250.0);
        run.jitter = Some(0.04);
        run.amplitude_trend = Some(TrendFit {
            shape: Trend::Waning,
            change: -0.5,
        });
        run.onset_ratio = Some(1.0);
        run.offset_ratio = Some(0.95);
        run.unit_rate_hz = Some(60.0);
        run.unit_isi_cv = Some(3.0);
        run.unit_grouped_share = Some(0.0);
        cases.push((
            "neuromyotonic",
            run.clone(),
            unit(W::MotorUnit, false),
            C::Neuromyotonic,
        ));

        let mut crd = run.clone();
        crd.rate_hz = Some(40.0);
        crd.jitter = Some(0.0008);
        crd.n_potentials = 200;
        crd.amplitude_trend = Some(TrendFit {
            shape: Trend::Flat,
            change: 0.0,
        });
        cases.push((
            "complex repetitive",
            crd.clone(),
            unit(W::Complex, false),
            C::ComplexRepetitive,
        ));
        // Extreme regularity decides even with a motor-unit waveform.
        cases.push((
            "CRD with MUP",
            crd,
            unit(W::MotorUnit, false),
            C::ComplexRepetitive,
        ));

        let mut fib = base(K::Run, W::SingleFibre);
        fib.n_potentials = 120;
        fib.duration_s = 29.0;
        fib.rate_hz = Some(4.0);
        fib.jitter = Some(0.02);
        fib.isi_cv = Some(0.03);
        fib.isi_cv_robust = Some(0.03);
        cases.push((
            "fibrillation",
            fib.clone(),
            unit(W::SingleFibre, true),
            C::Fibrillation,
        ));
        let mut psw = unit(W::PositiveSharpWave, true);
        psw.duration_ms = 40.0;
        cases.push(("PSW", fib.clone(), psw, C::PositiveSharpWave));
        // Initially negative and irregular: endplate spikes.
        let mut ep = fib.clone();
        ep.rate_hz = Some(25.0);
        ep.jitter = Some(0.8);
        ep.isi_cv = Some(0.95);
        cases.push((
            "endplate",
            ep,
            unit(W::SingleFibre, false),
            C::EndplateSpike,
        ));

        let mut myo = fib.clone();
        myo.duration_s = 1.5;
        myo.rate_hz = Some(45.0);
        myo.jitter = Some(0.02);
        myo.amplitude_trend = Some(TrendFit {
            shape: Trend::WaxingWaning,
            change: 0.5,
        });
        cases.push((
            "myotonic",
            myo.clone(),
            unit(W::SingleFibre, true),
            C::Myotonic,
        ));
        // The same firing from a motor unit is not myotonic.
        let mut mk = myo.clone();
        mk.recurrence_hz = None;
        let got = score_segment(&mk, &unit(W::MotorUnit, false), &cfg);
        assert_ne!(got[0].class, C::Myotonic);

        let mut cont = base(K::Run, W::MotorUnit);
        cont.n_potentials = 900;
        cont.duration_s = 30.0;
        cont.rate_hz = Some(30.0);
        cont.jitter = Some(0.05);
        cont.isi_cv_robust = Some(0.3);
        cont.rate_modulation = Some(0.4);
        cont.amplitude_modulation = Some(0.25);
        cont.modulation_cycles = Some(60.0);
        cont.modulation_hz = Some(2.0);
        cases.push((
            "continuous myokymia",
            cont.clone(),
            unit(W::MotorUnit, false),
            C::MyokymicContinuous,
        ));

        let mut reg = cont.clone();
        reg.rate_hz = Some(8.0);
        reg.jitter = Some(0.035);
        reg.isi_cv_robust = Some(0.035);
        reg.rate_modulation = Some(0.03);
        reg.amplitude_modulation = Some(0.0);
        reg.modulation_cycles = Some(0.0);
        cases.push(("regular", reg, unit(W::MotorUnit, false), C::Regular));

        for (name, f, u, want) in cases {
            let s = score_segment(&f, &u, &cfg);
            let got = if s[0].score < cfg.scoring.min_score {
                C::Unclassified
            } else {
                s[0].class
            };
            assert_eq!(
                got,
                want,
                "{name}: scores {:?}",
                s.iter().map(|c| (c.class, c.score)).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn episodes_split_voluntary_from_cramp_by_irregularity() {
        use super::super::features::SegmentKind as K;
        let cfg = PatternConfig::default();
        let mut f = Features::empty(K::Episode, WaveformClass::MotorUnit);
        f.rate_hz = Some(11.0);
        f.jitter = Some(0.14);
        let s = score_episode(&f, EpisodeStats { units: 7 }, &cfg);
        assert_eq!(s[0].class, DischargeClass::Voluntary);
        f.jitter = Some(0.42);
        f.rate_hz = Some(15.0);
        let s = score_episode(&f, EpisodeStats { units: 10 }, &cfg);
        assert_eq!(s[0].class, DischargeClass::Cramp);
        // Two irregular units are not "many": no cramp.
        let s = score_episode(&f, EpisodeStats { units: 2 }, &cfg);
        assert!(s
            .iter()
            .all(|c| c.class != DischargeClass::Cramp || c.score == 0.0));
    }

    /// A contraction sorted badly enough to look irregular (jitter 0.42, a cramp's) still
    /// recruits its units at 5–7 Hz; a cramp's units fire faster from its start (Ross &
    /// Thomas 1995). Without the recruitment rate the cramp keeps a reduced score.
    #[test]
    fn irregular_units_recruited_at_voluntary_rates_are_no_cramp() {
        use super::super::features::SegmentKind as K;
        let cfg = PatternConfig::default();
        let mut f = Features::empty(K::Episode, WaveformClass::MotorUnit);
        f.rate_hz = Some(14.0);
        f.jitter = Some(0.42);
        f.waxing_waning_share = Some(0.0);
        let cramp = |f: &Features| {
            score_episode(f, EpisodeStats { units: 5 }, &cfg)
                .into_iter()
                .find(|c| c.class == DischargeClass::Cramp)
                .map_or(0.0, |c| c.score)
        };
        f.first_rate_hz = Some(15.0);
        assert!(cramp(&f) > 0.9, "{}", cramp(&f));
        f.first_rate_hz = Some(5.5);
        assert!(cramp(&f) < cfg.scoring.min_score, "{}", cramp(&f));
        f.first_rate_hz = None;
        let unknown = cramp(&f);
        assert!(unknown >= cfg.scoring.min_score && unknown <= cfg.scoring.unknown);
        // Off: the recruitment rate does not count.
        let mut off = cfg.clone();
        off.cramp.min_first_rate_hz = 0.0;
        f.first_rate_hz = Some(5.5);
        let s = score_episode(&f, EpisodeStats { units: 5 }, &off);
        assert_eq!(s[0].class, DischargeClass::Cramp);
    }

    #[test]
    fn a_train_whose_rate_falls_within_a_second_is_no_fibrillation() {
        use super::super::features::SegmentKind as K;
        let cfg = PatternConfig::default();
        // The slow end of a myotonic discharge (myotonia seed 25): 16 regular potentials of
        // one fibre at 14 Hz over 1.1 s, the rate falling by 93 % of its mean.
        let mut f = Features::empty(K::Run, WaveformClass::SingleFibre);
        f.n_potentials = 16;
        f.duration_s = 1.1;
        f.rate_hz = Some(13.7);
        f.jitter = Some(0.03);
        f.isi_cv = Some(0.3);
        f.isi_cv_robust = Some(0.05);
        f.rate_trend = Some(super::super::features::TrendFit {
            shape: super::super::features::Trend::Waning,
            change: -0.93,
        });
        let u = unit(WaveformClass::SingleFibre, true);
        let top = |f: &Features| score_segment(f, &u, &cfg)[0].clone();
        assert_ne!(top(&f).class, DischargeClass::Fibrillation);
        // The same change over 30 s is a fibrillating fibre slowing gradually.
        f.n_potentials = 300;
        f.duration_s = 30.0;
        f.rate_hz = Some(10.0);
        let t = top(&f);
        assert_eq!(t.class, DischargeClass::Fibrillation);
        // Without a fitted trend (a short train) the rule says nothing.
        f.rate_trend = None;
        f.n_potentials = 4;
        f.duration_s = 0.3;
        assert_eq!(top(&f).class, DischargeClass::Fibrillation);
    }
}
