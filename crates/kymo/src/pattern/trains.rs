//! Stage 4a: per-unit firing trains and their inter-spike intervals.
//!
//! Potentials inside artefacts are dropped (they cannot be trusted), and an interval that
//! spans an artefact is *censored*: the artefact's time is subtracted from it before it is
//! compared with any threshold, and it is left out of rate and regularity statistics, so
//! an artefact neither splits a train nor makes it look irregular.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stats;
use super::{PotentialInput, UnitInput};

/// One unit's firing train on one channel.
#[derive(Debug, Clone)]
pub(crate) struct Train {
    /// The unit.
    pub unit: UnitInput,
    /// Potential times, s, ascending.
    pub t: Vec<f64>,
    /// Peak-to-peak amplitudes, µV.
    pub amp: Vec<f64>,
    /// Artefact time inside each interval `(t[i], t[i+1])`, s (0 for most).
    pub blanked: Vec<f64>,
}

impl Train {
    /// Number of potentials.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Interval `i` (from potential `i` to `i + 1`) with artefact time removed, s.
    pub fn isi(&self, i: usize) -> f64 {
        self.t[i + 1] - self.t[i] - self.blanked[i]
    }

    /// Whether interval `i` spans an artefact.
    pub fn censored(&self, i: usize) -> bool {
        self.blanked[i] > 0.0
    }

    /// The uncensored intervals between potentials `a..b` (`b` exclusive), s.
    pub fn isis(&self, a: usize, b: usize) -> Vec<f64> {
        (a..b.saturating_sub(1))
            .filter(|&i| !self.censored(i))
            .map(|i| self.isi(i))
            .collect()
    }

    /// Like [`Train::isi_runs`], each run with the time of its first potential.
    pub fn isi_runs_from(&self, a: usize, b: usize) -> Vec<(f64, Vec<f64>)> {
        let mut out: Vec<(f64, Vec<f64>)> = Vec::new();
        let mut open = false;
        for i in a..b.saturating_sub(1) {
            if self.censored(i) {
                open = false;
            } else {
                if !open {
                    out.push((self.t[i], Vec::new()));
                    open = true;
                }
                if let Some(last) = out.last_mut() {
                    last.1.push(self.isi(i));
                }
            }
        }
        out
    }

    /// Runs of uncensored intervals between potentials `a..b`, for statistics on
    /// successive intervals (CV2) that must not pair intervals across an artefact.
    pub fn isi_runs(&self, a: usize, b: usize) -> Vec<Vec<f64>> {
        let mut out = vec![Vec::new()];
        for i in a..b.saturating_sub(1) {
            if self.censored(i) {
                out.push(Vec::new());
            } else if let Some(last) = out.last_mut() {
                last.push(self.isi(i));
            }
        }
        out.retain(|r| !r.is_empty());
        out
    }
}

/// What the train builder dropped, for the channel summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDiagnostics {
    /// Potentials whose unit id is not in the unit table.
    pub unknown_unit: u64,
    /// Potentials with a time or amplitude that is not a finite number.
    pub not_finite: u64,
    /// Potentials inside an artefact.
    pub in_artefact: u64,
    /// Potentials that were out of time order in the input (they are sorted, not dropped).
    pub out_of_order: u64,
    /// Artefact intervals that were not `start < end` finite numbers (ignored).
    pub bad_artefacts: u64,
}

/// Sorted, merged, valid artefact intervals.
pub(crate) fn merge_artefacts(
    artefacts: &[(f64, f64)],
    diag: &mut InputDiagnostics,
) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = Vec::with_capacity(artefacts.len());
    for &(a, b) in artefacts {
        if a.is_finite() && b.is_finite() && a < b {
            v.push((a, b));
        } else {
            diag.bad_artefacts += 1;
        }
    }
    merge_spans(v)
}

/// `v` sorted by start with overlapping intervals merged.
pub(crate) fn merge_spans(mut v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Whether `t` lies inside one of the merged `arts` (closed intervals).
pub(crate) fn inside(arts: &[(f64, f64)], t: f64) -> bool {
    let k = arts.partition_point(|&(a, _)| a <= t);
    k > 0 && t <= arts[k - 1].1
}

/// Total artefact time inside `(a, b)`.
pub(crate) fn blanked(arts: &[(f64, f64)], a: f64, b: f64) -> f64 {
    let mut k = arts.partition_point(|&(_, e)| e <= a);
    let mut sum = 0.0;
    while k < arts.len() && arts[k].0 < b {
        sum += arts[k].1.min(b) - arts[k].0.max(a);
        k += 1;
    }
    sum.max(0.0)
}

/// Builds one train per unit of `units` (units without potentials give empty trains), in
/// the order of `units`.
pub(crate) fn build(
    units: &[UnitInput],
    potentials: &[PotentialInput],
    arts: &[(f64, f64)],
    diag: &mut InputDiagnostics,
) -> Vec<Train> {
    let index: BTreeMap<u32, usize> = units.iter().enumerate().map(|(i, u)| (u.id, i)).collect();
    let mut trains: Vec<Train> = units
        .iter()
        .map(|u| Train {
            unit: u.clone(),
            t: Vec::new(),
            amp: Vec::new(),
            blanked: Vec::new(),
        })
        .collect();
    let mut last = f64::NEG_INFINITY;
    for p in potentials {
        if !(p.time_s.is_finite() && p.amplitude_uv.is_finite()) {
            diag.not_finite += 1;
            continue;
        }
        if p.time_s < last {
            diag.out_of_order += 1;
        }
        last = last.max(p.time_s);
        let Some(&k) = index.get(&p.unit) else {
            diag.unknown_unit += 1;
            continue;
        };
        if inside(arts, p.time_s) {
            diag.in_artefact += 1;
            continue;
        }
        trains[k].t.push(p.time_s);
        trains[k].amp.push(p.amplitude_uv as f64);
    }
    for tr in &mut trains {
        tr.t.shrink_to_fit();
        tr.amp.shrink_to_fit();
        if tr.t.windows(2).any(|w| w[1] < w[0]) {
            let mut idx: Vec<usize> = (0..tr.t.len()).collect();
            idx.sort_by(|&a, &b| tr.t[a].total_cmp(&tr.t[b]));
            tr.t = idx.iter().map(|&i| tr.t[i]).collect();
            tr.amp = idx.iter().map(|&i| tr.amp[i]).collect();
        }
        tr.blanked = tr.t.windows(2).map(|w| blanked(arts, w[0], w[1])).collect();
    }
    trains
}

/// A unit's train as the result reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Unit id.
    pub unit: u32,
    /// Potentials kept (outside artefacts).
    pub potentials: u64,
    /// First and last potential, s (0 when there is none).
    pub first_s: f64,
    /// See `first_s`.
    pub last_s: f64,
    /// Mean rate over the recording, Hz.
    pub mean_rate_hz: f64,
    /// Median inter-spike interval, ms.
    pub median_isi_ms: Option<f64>,
    /// Interval coefficient of variation.
    pub isi_cv: Option<f64>,
    /// How the train was cut into segments.
    pub split: super::bursts::Split,
    /// Segments (bursts, runs, singles) found.
    pub segments: u64,
}

impl TrainSummary {
    pub(crate) fn new(
        tr: &Train,
        split: super::bursts::Split,
        segments: usize,
        recording_s: f64,
    ) -> Self {
        let isis = tr.isis(0, tr.len());
        TrainSummary {
            unit: tr.unit.id,
            potentials: tr.len() as u64,
            first_s: tr.t.first().copied().unwrap_or(0.0),
            last_s: tr.t.last().copied().unwrap_or(0.0),
            mean_rate_hz: if recording_s > 0.0 {
                tr.len() as f64 / recording_s
            } else {
                0.0
            },
            median_isi_ms: stats::median(&isis).map(|v| v * 1e3),
            isi_cv: stats::cv(&isis),
            split,
            segments: segments as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::WaveformClass;

    fn unit(id: u32) -> UnitInput {
        UnitInput {
            id,
            waveform: WaveformClass::MotorUnit,
            p2p_uv: 500.0,
            duration_ms: 8.0,
            phases: 3,
            first_phase_positive: false,
        }
    }

    fn p(t: f64, u: u32) -> PotentialInput {
        PotentialInput {
            time_s: t,
            unit: u,
            amplitude_uv: 500.0,
        }
    }

    #[test]
    fn artefacts_drop_potentials_and_censor_intervals() {
        let mut d = InputDiagnostics::default();
        let arts = merge_artefacts(
            &[(1.5, 2.5), (2.0, 3.0), (f64::NAN, 1.0), (5.0, 4.0)],
            &mut d,
        );
        assert_eq!(arts, vec![(1.5, 3.0)]);
        assert_eq!(d.bad_artefacts, 2);
        let pots = [
            p(1.0, 7),
            p(2.0, 7),
            p(3.5, 7),
            p(4.0, 7),
            p(4.5, 9),
            p(f64::NAN, 7),
        ];
        let tr = build(&[unit(7)], &pots, &arts, &mut d);
        assert_eq!(tr[0].t, vec![1.0, 3.5, 4.0]);
        assert_eq!(d.in_artefact, 1);
        assert_eq!(d.unknown_unit, 1);
        assert_eq!(d.not_finite, 1);
        // (1.0, 3.5) holds 1.5 s of artefact: effective interval 1.0 s, censored.
        assert!(tr[0].censored(0));
        assert!((tr[0].isi(0) - 1.0).abs() < 1e-12);
        assert!(!tr[0].censored(1));
        assert_eq!(tr[0].isis(0, 3), vec![0.5]);
        assert_eq!(tr[0].isi_runs(0, 3), vec![vec![0.5]]);
    }

    #[test]
    fn unsorted_input_is_sorted_and_counted() {
        let mut d = InputDiagnostics::default();
        let pots = [p(2.0, 1), p(1.0, 1), p(3.0, 1)];
        let tr = build(&[unit(1)], &pots, &[], &mut d);
        assert_eq!(tr[0].t, vec![1.0, 2.0, 3.0]);
        assert_eq!(d.out_of_order, 1);
    }
}
