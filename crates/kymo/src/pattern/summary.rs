//! Stage 7: the channel summary — counts and rates per class, continuous vs episodic
//! myokymic activity, the dominant pattern, and a fibrillation/PSW grade.
//!
//! # Fibrillation / positive sharp wave grade from one site
//!
//! EMG machines grade spontaneous fibrillation/PSW activity 0 to 4+ (brief: 1+ persistent
//! single trains in ≥ 2 areas, 2+ a moderate number in ≥ 3 areas, 3+ many in all areas,
//! 4+ filling the screen; activity counts when it lasts > 3 s outside the endplate zone).
//! The grade is about *spread over needle positions*, which one channel cannot see. kymo
//! therefore grades the *density at this site*: the largest number `k` of persistent
//! (≥ `grading.persistent_s`) fibrillation/PSW trains firing at the same time, and gives
//! grade g when `k` reaches the g-th entry of `grading.concurrent_trains` (default
//! 1, 2, 4, 6). Limits: a single site with one train reads 1+, although 1+ needs two
//! areas; the endplate zone is not known (endplate spikes are told apart by their
//! firing, not their place); and trains shorter than 3 s are not graded (they are
//! counted in the class table).

use serde::{Deserialize, Serialize};

use super::config::PatternConfig;
use super::trains::{InputDiagnostics, Train};
use super::{Discharge, DischargeClass};

/// Counts of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassCount {
    /// The class.
    pub class: DischargeClass,
    /// Discharges.
    pub discharges: u64,
    /// Discharges per minute of recording.
    pub per_min: f64,
    /// Potentials in them.
    pub potentials: u64,
    /// Their total length (start to end), s.
    pub seconds: f64,
}

/// Which form of myokymic activity the channel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MyokymicPattern {
    /// No myokymic discharge.
    None,
    /// Bursts only.
    Episodic,
    /// Continuous trains only.
    Continuous,
    /// Both.
    EpisodicAndContinuous,
}

/// Myokymic activity on the channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MyokymicActivity {
    /// Episodic, continuous, both or none.
    pub pattern: MyokymicPattern,
    /// Myokymic bursts.
    pub bursts: u64,
    /// Bursts per minute.
    pub bursts_per_min: f64,
    /// Total length of continuous myokymic trains, s.
    pub continuous_s: f64,
    /// The same as a fraction of the recording.
    pub continuous_fraction: f64,
    /// Units with myokymic activity of either form.
    pub units: Vec<u32>,
}

/// The fibrillation/PSW grade at this site (see the module docs for its basis and limits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FibrillationGrade {
    /// 0–4.
    pub grade: u8,
    /// `0`, `1+` … `4+`.
    pub label: String,
    /// Fibrillation/PSW trains lasting at least `grading.persistent_s`.
    pub persistent_trains: u64,
    /// The most persistent trains firing at the same time.
    pub concurrent_trains: u64,
    /// Fibrillation and PSW potentials per second over the recording.
    pub potentials_per_s: f64,
}

/// The summary of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSummary {
    /// Length used for rates, s.
    pub recording_s: f64,
    /// Units with at least one potential.
    pub units: u64,
    /// Potentials analysed (after dropping those in artefacts).
    pub potentials: u64,
    /// Discharges reported.
    pub discharges: u64,
    /// One entry per class that occurs, in [`DischargeClass::ALL`] order.
    pub classes: Vec<ClassCount>,
    /// Myokymic activity.
    pub myokymic: MyokymicActivity,
    /// The class with the most potentials in its discharges (`unclassified` excluded).
    pub dominant: Option<DischargeClass>,
    /// Fibrillation / PSW grade at this site.
    pub fibrillation_grade: FibrillationGrade,
    /// Single potentials that fit no class (not reported as discharges).
    pub stray_potentials: u64,
    /// What the input held that could not be used.
    pub diagnostics: InputDiagnostics,
}

/// Builds the channel summary.
pub(crate) fn summarize(
    discharges: &[Discharge],
    trains: &[Train],
    recording_s: f64,
    stray: u64,
    diagnostics: InputDiagnostics,
    cfg: &PatternConfig,
) -> ChannelSummary {
    let minutes = recording_s / 60.0;
    let per_min = |n: u64| {
        if minutes > 0.0 {
            n as f64 / minutes
        } else {
            0.0
        }
    };
    let classes: Vec<ClassCount> = DischargeClass::ALL
        .iter()
        .filter_map(|&c| {
            let ds: Vec<&Discharge> = discharges.iter().filter(|d| d.class == c).collect();
            (!ds.is_empty()).then(|| ClassCount {
                class: c,
                discharges: ds.len() as u64,
                per_min: per_min(ds.len() as u64),
                potentials: ds.iter().map(|d| d.n_potentials as u64).sum(),
                seconds: ds.iter().map(|d| d.end_s - d.start_s).sum(),
            })
        })
        .collect();
    let dominant = classes
        .iter()
        .filter(|c| c.class != DischargeClass::Unclassified)
        .max_by(|a, b| a.potentials.cmp(&b.potentials).then(b.class.cmp(&a.class)))
        .map(|c| c.class);

    let bursts = discharges
        .iter()
        .filter(|d| d.class == DischargeClass::Myokymic)
        .count() as u64;
    let continuous_s: f64 = discharges
        .iter()
        .filter(|d| d.class == DischargeClass::MyokymicContinuous)
        .map(|d| d.end_s - d.start_s)
        .sum();
    let mut units: Vec<u32> = discharges
        .iter()
        .filter(|d| {
            matches!(
                d.class,
                DischargeClass::Myokymic | DischargeClass::MyokymicContinuous
            )
        })
        .flat_map(|d| d.units.iter().copied())
        .collect();
    units.sort_unstable();
    units.dedup();
    let pattern = match (bursts > 0, continuous_s > 0.0) {
        (false, false) => MyokymicPattern::None,
        (true, false) => MyokymicPattern::Episodic,
        (false, true) => MyokymicPattern::Continuous,
        (true, true) => MyokymicPattern::EpisodicAndContinuous,
    };

    ChannelSummary {
        recording_s,
        units: trains.iter().filter(|t| t.len() > 0).count() as u64,
        potentials: trains.iter().map(|t| t.len() as u64).sum(),
        discharges: discharges.len() as u64,
        classes,
        myokymic: MyokymicActivity {
            pattern,
            bursts,
            bursts_per_min: per_min(bursts),
            continuous_s,
            continuous_fraction: if recording_s > 0.0 {
                (continuous_s / recording_s).min(1.0)
            } else {
                0.0
            },
            units,
        },
        dominant,
        fibrillation_grade: grade(discharges, recording_s, cfg),
        stray_potentials: stray,
        diagnostics,
    }
}

/// The fibrillation/PSW grade (module docs).
fn grade(discharges: &[Discharge], recording_s: f64, cfg: &PatternConfig) -> FibrillationGrade {
    let fib: Vec<&Discharge> = discharges
        .iter()
        .filter(|d| {
            matches!(
                d.class,
                DischargeClass::Fibrillation | DischargeClass::PositiveSharpWave
            )
        })
        .collect();
    let persistent: Vec<&&Discharge> = fib
        .iter()
        .filter(|d| d.last_s - d.first_s >= cfg.grading.persistent_s)
        .collect();
    // Sweep over start (+1) and end (−1) events; ends sort before starts at equal times.
    let mut ev: Vec<(f64, i32)> = persistent
        .iter()
        .flat_map(|d| [(d.first_s, 1), (d.last_s, -1)])
        .collect();
    ev.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0i64, 0i64);
    for (_, e) in ev {
        now += e as i64;
        most = most.max(now);
    }
    let k = most.max(0) as f64;
    let g = cfg
        .grading
        .concurrent_trains
        .iter()
        .filter(|&&t| k >= t)
        .count() as u8;
    let potentials: u64 = fib.iter().map(|d| d.n_potentials as u64).sum();
    FibrillationGrade {
        grade: g,
        label: if g == 0 {
            "0".to_string()
        } else {
            format!("{g}+")
        },
        persistent_trains: persistent.len() as u64,
        concurrent_trains: most.max(0) as u64,
        potentials_per_s: if recording_s > 0.0 {
            potentials as f64 / recording_s
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::features::{Features, SegmentKind};
    use crate::pattern::WaveformClass;

    fn d(class: DischargeClass, first: f64, last: f64, n: u32) -> Discharge {
        Discharge {
            class,
            confidence: 0.9,
            score: 0.9,
            runner_up: None,
            start_s: first,
            end_s: last,
            first_s: first,
            last_s: last,
            units: vec![0],
            n_potentials: n,
            features: Features::empty(SegmentKind::Run, WaveformClass::SingleFibre),
            criteria: vec![],
            evidence: String::new(),
        }
    }

    /// Grades by the most concurrent persistent trains: k = 0 → 0, 1 → 1+, 2–3 → 2+,
    /// 4–5 → 3+, ≥ 6 → 4+ (defaults).
    #[test]
    fn grade_from_concurrent_persistent_trains() {
        use DischargeClass::{Fibrillation as F, PositiveSharpWave as P};
        let cfg = PatternConfig::default();
        let cases: Vec<(Vec<Discharge>, u8, u64)> = vec![
            (vec![], 0, 0),
            // Short train (2 s) does not count.
            (vec![d(F, 0.0, 2.0, 10)], 0, 0),
            (vec![d(F, 0.0, 10.0, 40)], 1, 1),
            // Two trains one after the other: never concurrent.
            (vec![d(F, 0.0, 10.0, 40), d(P, 11.0, 20.0, 40)], 1, 1),
            (vec![d(F, 0.0, 10.0, 40), d(P, 5.0, 20.0, 40)], 2, 2),
            ((0..4).map(|i| d(F, i as f64, 20.0, 40)).collect(), 3, 4),
            ((0..6).map(|i| d(F, i as f64, 20.0, 40)).collect(), 4, 6),
        ];
        for (i, (ds, want, k)) in cases.into_iter().enumerate() {
            let g = grade(&ds, 30.0, &cfg);
            assert_eq!((g.grade, g.concurrent_trains), (want, k), "case {i}");
        }
    }

    #[test]
    fn myokymic_pattern_and_dominant_class() {
        let cfg = PatternConfig::default();
        let ds = vec![
            d(DischargeClass::Myokymic, 1.0, 1.2, 5),
            d(DischargeClass::Myokymic, 2.0, 2.2, 5),
            d(DischargeClass::MyokymicContinuous, 5.0, 20.0, 400),
            d(DischargeClass::Unclassified, 25.0, 29.0, 900),
        ];
        let s = summarize(&ds, &[], 60.0, 0, InputDiagnostics::default(), &cfg);
        assert_eq!(s.myokymic.pattern, MyokymicPattern::EpisodicAndContinuous);
        assert_eq!(s.myokymic.bursts, 2);
        assert!((s.myokymic.bursts_per_min - 2.0).abs() < 1e-12);
        assert!((s.myokymic.continuous_s - 15.0).abs() < 1e-12);
        assert_eq!(s.dominant, Some(DischargeClass::MyokymicContinuous));
        assert_eq!(s.classes.len(), 3);
        assert_eq!(s.discharges, 4);
    }
}
