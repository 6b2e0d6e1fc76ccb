//! Scoring an analysis against the simulator's ground truth (`docs/truth-json.md`).
//!
//! [`score`] compares a [`Prediction`] (kymo's analysis, or any tool's, in the shape below)
//! with a [`Truth`] at three levels:
//!
//! - **Potentials**, per channel: a predicted potential matches a true one when their
//!   times differ by at most `tolerance_ms` (default 2 ms); matching is one-to-one,
//!   greedy by time difference (closest pairs first). Precision, recall, F1 and the mean
//!   absolute time offset of the matches.
//! - **Units**, per channel: from the matched potentials, a table of predicted × true
//!   units; pairs are assigned one-to-one, greedy by shared potentials (the majority
//!   match). Per true unit: its predicted unit, precision (shared / predicted unit's
//!   potentials), recall (shared / true unit's potentials), F1. `agreement` is the share
//!   of matched potentials whose units form an assigned pair.
//! - **Discharges**: a predicted discharge matches a true event of the same class when
//!   their intervals `[start_s, end_s]` overlap enough: by default their intersection over
//!   union (IoU) is at least 0.3 (`overlap = "iou"`, `min_overlap = 0.3`); the alternative
//!   `overlap = "of-shorter"` divides the intersection by the shorter interval instead.
//!   IoU is the default because it also penalises a prediction far longer than the
//!   event (a train reported as one discharge when it was many bursts matches at most one
//!   of them, and only if it is not much longer). Matching is one-to-one, greedy by
//!   overlap. Per class: precision, recall, F1; macro-F1 is the mean F1 over the classes
//!   present in the truth or the prediction, `unclassified` excluded (it is an honest
//!   "don't know", reported in the confusion matrix); micro precision/recall/F1 count
//!   every prediction, `unclassified` ones included. The confusion matrix keeps the
//!   same-class matches on its diagonal, then matches the rest across classes by overlap;
//!   what remains is *missed* (true events) or *spurious* (predictions).
//!
//! Truth events carry no channel. Predicted discharges from all channels are pooled
//! unless `channel` selects one; when pooling, a discharge reported on several channels
//! (same class, overlap as above) counts once, the most confident copy kept.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::pattern::{ChannelPattern, DischargeClass, PotentialInput, UnitInput, WaveformClass};
use crate::simulate::truth::Truth;
use crate::{Error, Result};

/// A predicted potential (kymo's `PotentialInput` objects deserialize into it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PredictedPotential {
    /// Time, s.
    pub time_s: f64,
    /// Predicted unit.
    pub unit: u32,
}

/// A predicted discharge (kymo's `Discharge` objects deserialize into it; other fields are
/// ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictedDischarge {
    /// Class.
    pub class: DischargeClass,
    /// Start, s.
    pub start_s: f64,
    /// End, s.
    pub end_s: f64,
    /// Confidence (used to keep the best copy of a discharge seen on several channels).
    #[serde(default)]
    pub confidence: f64,
    /// Units.
    #[serde(default)]
    pub units: Vec<u32>,
}

/// What was predicted on one channel.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChannelPrediction {
    /// Channel index (0-based, as in the truth's `recording.channels`).
    pub channel: usize,
    /// Potentials (optional: without them only discharges are scored).
    #[serde(default)]
    pub potentials: Vec<PredictedPotential>,
    /// Discharges.
    #[serde(default)]
    pub discharges: Vec<PredictedDischarge>,
}

/// A whole prediction: `{"channels": [{"channel": 0, "potentials": […], "discharges":
/// […]}, …]}`. kymo's analysis JSON has this shape at its top level (more fields are
/// ignored), so `kymo eval --events result.json` reads it directly.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Prediction {
    /// One entry per analysed channel.
    pub channels: Vec<ChannelPrediction>,
}

impl Prediction {
    /// Reads a prediction (or a kymo analysis) JSON file.
    pub fn read(path: &Path) -> Result<Prediction> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        serde_json::from_reader(std::io::BufReader::new(f))
            .map_err(|e| Error::malformed(path, format!("events: {e}")))
    }
}

impl ChannelPrediction {
    /// The prediction of one analysed channel: its potentials and discharges.
    pub fn from_pattern(channel: usize, potentials: &[PotentialInput], p: &ChannelPattern) -> Self {
        ChannelPrediction {
            channel,
            potentials: potentials
                .iter()
                .map(|x| PredictedPotential {
                    time_s: x.time_s,
                    unit: x.unit,
                })
                .collect(),
            discharges: p
                .discharges
                .iter()
                .map(|d| PredictedDischarge {
                    class: d.class,
                    start_s: d.start_s,
                    end_s: d.end_s,
                    confidence: d.confidence,
                    units: d.units.clone(),
                })
                .collect(),
        }
    }
}

/// Perfect spike sorting taken from a truth: the unit table, every potential as seen on
/// `channel` (amplitude times the unit's gain there) and the transient artefacts on that
/// channel, ready for [`crate::pattern::analyze_channel`]. Waveform kinds map to classes:
/// needle and surface MUAPs → motor unit, fibrillation and endplate spikes → single fibre,
/// positive sharp waves → PSW, complexes → complex. Used to measure the pattern stages
/// alone, free of detection and sorting errors.
pub fn perfect_input(
    truth: &Truth,
    channel: usize,
) -> (Vec<UnitInput>, Vec<PotentialInput>, Vec<(f64, f64)>) {
    use crate::simulate::truth::ArtefactKind;
    use crate::simulate::waveform::{Polarity, WaveformKind};
    let units = truth
        .units
        .iter()
        .map(|u| {
            let gain = u.gains.get(channel).copied().unwrap_or(1.0);
            UnitInput {
                id: u.id as u32,
                waveform: match u.waveform {
                    WaveformKind::NeedleMuap | WaveformKind::SurfaceMuap => {
                        WaveformClass::MotorUnit
                    }
                    WaveformKind::Fibrillation | WaveformKind::EndplateSpike => {
                        WaveformClass::SingleFibre
                    }
                    WaveformKind::PositiveSharpWave => WaveformClass::PositiveSharpWave,
                    WaveformKind::Complex => WaveformClass::Complex,
                },
                p2p_uv: (u.p2p_uv * gain) as f32,
                duration_ms: u.duration_ms as f32,
                phases: u.phases,
                first_phase_positive: u.first_phase == Polarity::Positive,
            }
        })
        .collect();
    let potentials = truth
        .potentials
        .iter()
        .map(|p| PotentialInput {
            time_s: p.t,
            unit: p.unit as u32,
            amplitude_uv: p.amplitude_uv.get(channel).copied().unwrap_or(0.0) as f32,
        })
        .collect();
    let artefacts = truth
        .artefacts
        .iter()
        .filter(|a| matches!(a.kind, ArtefactKind::Movement | ArtefactKind::ElectrodePop))
        .filter(|a| a.channels.contains(&channel))
        .map(|a| (a.start_s, a.end_s))
        .collect();
    (units, potentials, artefacts)
}

/// How two intervals' overlap is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverlapRule {
    /// Intersection over union.
    #[default]
    Iou,
    /// Intersection over the shorter interval.
    OfShorter,
}

/// Scoring parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// Largest time difference of matching potentials, ms. Default 2 (kymo: a potential's
    /// reference point moves by well under 1 ms between sorters; 2 ms stays below the
    /// shortest doublet interval, so neighbours are not confused).
    pub tolerance_ms: f64,
    /// How overlap is measured. Default `iou`.
    pub overlap: OverlapRule,
    /// Smallest overlap of a discharge match. Default 0.3.
    pub min_overlap: f64,
    /// Score only this channel's discharges (`None`: pool all channels).
    pub channel: Option<usize>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            tolerance_ms: 2.0,
            overlap: OverlapRule::Iou,
            min_overlap: 0.3,
            channel: None,
        }
    }
}

/// An [`EvalConfig`] that passed [`EvalConfig::check`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidEvalConfig(EvalConfig);

impl ValidEvalConfig {
    /// The checked parameters.
    pub fn get(&self) -> &EvalConfig {
        &self.0
    }
}

impl EvalConfig {
    /// Checks the parameters.
    pub fn check(self) -> Result<ValidEvalConfig> {
        if !(self.tolerance_ms.is_finite() && self.tolerance_ms >= 0.0) {
            return Err(Error::config(format!(
                "eval: tolerance_ms = {} must be zero or a positive number of milliseconds",
                self.tolerance_ms
            )));
        }
        if !(self.min_overlap.is_finite() && self.min_overlap > 0.0 && self.min_overlap <= 1.0) {
            return Err(Error::config(format!(
                "eval: min_overlap = {} must lie within (0, 1]",
                self.min_overlap
            )));
        }
        Ok(ValidEvalConfig(self))
    }
}

/// Potential-level scores of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PotentialScores {
    /// Channel.
    pub channel: usize,
    /// True potentials.
    pub n_true: u64,
    /// Predicted potentials.
    pub n_pred: u64,
    /// Matched pairs.
    pub matched: u64,
    /// matched / n_pred (`None` without predictions).
    pub precision: Option<f64>,
    /// matched / n_true (`None` without true potentials).
    pub recall: Option<f64>,
    /// 2·matched / (n_true + n_pred) (`None` when both are 0).
    pub f1: Option<f64>,
    /// Mean |t_pred − t_true| of the matches, ms.
    pub mean_offset_ms: Option<f64>,
}

/// One true unit and its majority-matched predicted unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitMatch {
    /// True unit id.
    pub true_unit: usize,
    /// Its class in the truth.
    pub class: DischargeClass,
    /// Its potentials.
    pub n_true: u64,
    /// The predicted unit assigned to it, if any.
    pub pred_unit: Option<u32>,
    /// That unit's predicted potentials.
    pub n_pred: u64,
    /// Potentials they share (matched pairs).
    pub shared: u64,
    /// shared / n_pred.
    pub precision: Option<f64>,
    /// shared / n_true.
    pub recall: Option<f64>,
    /// 2·shared / (n_true + n_pred).
    pub f1: Option<f64>,
}

/// Unit-level agreement on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitAgreement {
    /// Channel.
    pub channel: usize,
    /// One entry per true unit, by id.
    pub units: Vec<UnitMatch>,
    /// Predicted units assigned to no true unit.
    pub unmatched_pred_units: Vec<u32>,
    /// Share of matched potentials whose (predicted, true) units are an assigned pair.
    pub agreement: Option<f64>,
}

/// Discharge-level scores of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Class.
    pub class: DischargeClass,
    /// True events.
    pub n_true: u64,
    /// Predicted discharges.
    pub n_pred: u64,
    /// Same-class matches.
    pub matched: u64,
    /// matched / n_pred.
    pub precision: Option<f64>,
    /// matched / n_true.
    pub recall: Option<f64>,
    /// 2·matched / (n_true + n_pred).
    pub f1: Option<f64>,
}

/// True class × predicted class counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// The classes present in the truth or the prediction, in [`DischargeClass::ALL`] order.
    pub classes: Vec<DischargeClass>,
    /// `counts[i][j]`: true events of `classes[i]` matched to predictions of `classes[j]`.
    pub counts: Vec<Vec<u64>>,
    /// `missed[i]`: true events of `classes[i]` matched to nothing.
    pub missed: Vec<u64>,
    /// `spurious[j]`: predictions of `classes[j]` matched to nothing.
    pub spurious: Vec<u64>,
}

/// Overall precision, recall, F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prf {
    /// Precision.
    pub precision: Option<f64>,
    /// Recall.
    pub recall: Option<f64>,
    /// F1.
    pub f1: Option<f64>,
}

/// Discharge-level scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DischargeScores {
    /// One entry per class present in the truth or the prediction.
    pub per_class: Vec<ClassScores>,
    /// Mean F1 over those classes, `unclassified` excluded (`None` when there are none).
    pub macro_f1: Option<f64>,
    /// Over all discharges (`unclassified` predictions included).
    pub micro: Prf,
    /// The confusion matrix.
    pub confusion: Confusion,
}

/// Everything [`score`] measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The parameters used.
    pub config: EvalConfig,
    /// Potential-level scores, per predicted channel that has potentials.
    pub potentials: Vec<PotentialScores>,
    /// Unit-level agreement, per predicted channel that has potentials.
    pub units: Vec<UnitAgreement>,
    /// Discharge-level scores.
    pub discharges: DischargeScores,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn f1(matched: u64, n_true: u64, n_pred: u64) -> Option<f64> {
    (n_true + n_pred > 0).then(|| 2.0 * matched as f64 / (n_true + n_pred) as f64)
}

/// One-to-one greedy matching of pairs `(a, b, key)`: ascending `key` first.
fn greedy(mut pairs: Vec<(usize, usize, f64)>, na: usize, nb: usize) -> Vec<(usize, usize, f64)> {
    pairs.sort_by(|x, y| x.2.total_cmp(&y.2).then(x.0.cmp(&y.0)).then(x.1.cmp(&y.1)));
    let (mut ua, mut ub) = (vec![false; na], vec![false; nb]);
    let mut out = Vec::new();
    for (a, b, k) in pairs {
        if !ua[a] && !ub[b] {
            ua[a] = true;
            ub[b] = true;
            out.push((a, b, k));
        }
    }
    out
}

/// Matches sorted times `t` (truth) and `p` (prediction) within `tol` s: (truth index,
/// prediction index, |Δt|).
fn match_times(t: &[f64], p: &[f64], tol: f64) -> Vec<(usize, usize, f64)> {
    let mut pairs = Vec::new();
    let mut lo = 0;
    for (i, &ti) in t.iter().enumerate() {
        while lo < p.len() && p[lo] < ti - tol {
            lo += 1;
        }
        let mut j = lo;
        while j < p.len() && p[j] <= ti + tol {
            pairs.push((i, j, (p[j] - ti).abs()));
            j += 1;
        }
    }
    greedy(pairs, t.len(), p.len())
}

/// Overlap of two intervals under `rule` (intervals shorter than 1 µs count as 1 µs long).
pub fn overlap(a: (f64, f64), b: (f64, f64), rule: OverlapRule) -> f64 {
    /// Shortest interval length used, s (a point event still overlaps itself).
    const MIN_LEN_S: f64 = 1e-6;
    let (a0, a1) = (a.0, a.1.max(a.0 + MIN_LEN_S));
    let (b0, b1) = (b.0, b.1.max(b.0 + MIN_LEN_S));
    let inter = (a1.min(b1) - a0.max(b0)).max(0.0);
    match rule {
        OverlapRule::Iou => inter / (a1.max(b1) - a0.min(b0)),
        OverlapRule::OfShorter => inter / (a1 - a0).min(b1 - b0),
    }
}

/// Scores `pred` against `truth`.
pub fn score(truth: &Truth, pred: &Prediction, cfg: &ValidEvalConfig) -> EvalReport {
    let cfg = cfg.get();
    let tol = cfg.tolerance_ms * 1e-3;
    let mut potentials = Vec::new();
    let mut units = Vec::new();
    // Truth potentials sorted by time (they are, by the schema; sort defensively).
    let mut tp: Vec<usize> = (0..truth.potentials.len()).collect();
    tp.sort_by(|&a, &b| truth.potentials[a].t.total_cmp(&truth.potentials[b].t));
    let t_times: Vec<f64> = tp.iter().map(|&i| truth.potentials[i].t).collect();
    for ch in pred
        .channels
        .iter()
        .filter(|c| !c.potentials.is_empty() && cfg.channel.is_none_or(|k| k == c.channel))
    {
        let mut pp: Vec<usize> = (0..ch.potentials.len()).collect();
        pp.sort_by(|&a, &b| ch.potentials[a].time_s.total_cmp(&ch.potentials[b].time_s));
        let p_times: Vec<f64> = pp.iter().map(|&i| ch.potentials[i].time_s).collect();
        let m = match_times(&t_times, &p_times, tol);
        let (nt, np, k) = (t_times.len() as u64, p_times.len() as u64, m.len() as u64);
        potentials.push(PotentialScores {
            channel: ch.channel,
            n_true: nt,
            n_pred: np,
            matched: k,
            precision: ratio(k, np),
            recall: ratio(k, nt),
            f1: f1(k, nt, np),
            mean_offset_ms: (k > 0).then(|| m.iter().map(|x| x.2).sum::<f64>() / k as f64 * 1e3),
        });
        // Units.
        let mut table: BTreeMap<(u32, usize), u64> = BTreeMap::new();
        for &(i, j, _) in &m {
            let tu = truth.potentials[tp[i]].unit;
            let pu = ch.potentials[pp[j]].unit;
            *table.entry((pu, tu)).or_default() += 1;
        }
        let mut pairs: Vec<((u32, usize), u64)> = table.iter().map(|(k, v)| (*k, *v)).collect();
        pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut assigned: BTreeMap<usize, (u32, u64)> = BTreeMap::new();
        let mut used: Vec<u32> = Vec::new();
        for ((pu, tu), c) in pairs {
            if !assigned.contains_key(&tu) && !used.contains(&pu) {
                assigned.insert(tu, (pu, c));
                used.push(pu);
            }
        }
        let mut n_true_u: BTreeMap<usize, u64> = BTreeMap::new();
        for p in &truth.potentials {
            *n_true_u.entry(p.unit).or_default() += 1;
        }
        let mut n_pred_u: BTreeMap<u32, u64> = BTreeMap::new();
        for p in &ch.potentials {
            *n_pred_u.entry(p.unit).or_default() += 1;
        }
        let list: Vec<UnitMatch> = truth
            .units
            .iter()
            .map(|u| {
                let nt = n_true_u.get(&u.id).copied().unwrap_or(0);
                let (pred_unit, shared) = match assigned.get(&u.id) {
                    Some(&(pu, c)) => (Some(pu), c),
                    None => (None, 0),
                };
                let np = pred_unit
                    .and_then(|pu| n_pred_u.get(&pu).copied())
                    .unwrap_or(0);
                UnitMatch {
                    true_unit: u.id,
                    class: u.class.into(),
                    n_true: nt,
                    pred_unit,
                    n_pred: np,
                    shared,
                    precision: ratio(shared, np),
                    recall: ratio(shared, nt),
                    f1: f1(shared, nt, np),
                }
            })
            .collect();
        let unmatched_pred_units = n_pred_u
            .keys()
            .copied()
            .filter(|u| !used.contains(u))
            .collect();
        let agreed: u64 = assigned.values().map(|v| v.1).sum();
        units.push(UnitAgreement {
            channel: ch.channel,
            units: list,
            unmatched_pred_units,
            agreement: ratio(agreed, k),
        });
    }
    EvalReport {
        config: cfg.clone(),
        potentials,
        units,
        discharges: score_discharges(truth, pred, cfg),
    }
}

/// The predicted discharges to score: one channel's, or all channels' with copies of the
/// same discharge on several channels counted once.
fn pooled(pred: &Prediction, cfg: &EvalConfig) -> Vec<PredictedDischarge> {
    let mut all: Vec<(usize, &PredictedDischarge)> = pred
        .channels
        .iter()
        .filter(|c| cfg.channel.is_none_or(|k| k == c.channel))
        .flat_map(|c| c.discharges.iter().map(move |d| (c.channel, d)))
        .collect();
    if cfg.channel.is_some() || pred.channels.len() < 2 {
        return all.into_iter().map(|(_, d)| d.clone()).collect();
    }
    all.sort_by(|a, b| {
        b.1.confidence
            .total_cmp(&a.1.confidence)
            .then(a.0.cmp(&b.0))
    });
    let mut kept: Vec<(usize, &PredictedDischarge)> = Vec::new();
    for (c, d) in all {
        let dup = kept.iter().any(|(kc, k)| {
            *kc != c
                && k.class == d.class
                && overlap((k.start_s, k.end_s), (d.start_s, d.end_s), cfg.overlap)
                    >= cfg.min_overlap
        });
        if !dup {
            kept.push((c, d));
        }
    }
    let mut out: Vec<PredictedDischarge> = kept.into_iter().map(|(_, d)| d.clone()).collect();
    out.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    out
}

fn score_discharges(truth: &Truth, pred: &Prediction, cfg: &EvalConfig) -> DischargeScores {
    let preds = pooled(pred, cfg);
    let events: Vec<(DischargeClass, f64, f64)> = truth
        .events
        .iter()
        .map(|e| (DischargeClass::from(e.class), e.start_s, e.end_s))
        .collect();
    // Candidate pairs (event, prediction) with enough overlap; key = −overlap so the
    // largest overlaps match first.
    let mut same = Vec::new();
    let mut cross = Vec::new();
    for (i, e) in events.iter().enumerate() {
        for (j, d) in preds.iter().enumerate() {
            let o = overlap((e.1, e.2), (d.start_s, d.end_s), cfg.overlap);
            if o >= cfg.min_overlap {
                if e.0 == d.class {
                    same.push((i, j, -o));
                } else {
                    cross.push((i, j, -o));
                }
            }
        }
    }
    let diag = greedy(same, events.len(), preds.len());
    let mut used_e = vec![false; events.len()];
    let mut used_p = vec![false; preds.len()];
    for &(i, j, _) in &diag {
        used_e[i] = true;
        used_p[j] = true;
    }
    let cross: Vec<(usize, usize, f64)> = cross
        .into_iter()
        .filter(|&(i, j, _)| !used_e[i] && !used_p[j])
        .collect();
    let off = greedy(cross, events.len(), preds.len());
    for &(i, j, _) in &off {
        used_e[i] = true;
        used_p[j] = true;
    }

    let classes: Vec<DischargeClass> = DischargeClass::ALL
        .iter()
        .copied()
        .filter(|c| events.iter().any(|e| e.0 == *c) || preds.iter().any(|d| d.class == *c))
        .collect();
    let idx = |c: DischargeClass| classes.iter().position(|x| *x == c).unwrap_or(0);
    let n = classes.len();
    let mut counts = vec![vec![0u64; n]; n];
    let mut missed = vec![0u64; n];
    let mut spurious = vec![0u64; n];
    for &(i, j, _) in diag.iter().chain(off.iter()) {
        counts[idx(events[i].0)][idx(preds[j].class)] += 1;
    }
    for (i, e) in events.iter().enumerate() {
        if !used_e[i] {
            missed[idx(e.0)] += 1;
        }
    }
    for (j, d) in preds.iter().enumerate() {
        if !used_p[j] {
            spurious[idx(d.class)] += 1;
        }
    }
    let per_class: Vec<ClassScores> = classes
        .iter()
        .map(|&c| {
            let nt = events.iter().filter(|e| e.0 == c).count() as u64;
            let np = preds.iter().filter(|d| d.class == c).count() as u64;
            let k = diag.iter().filter(|&&(i, _, _)| events[i].0 == c).count() as u64;
            ClassScores {
                class: c,
                n_true: nt,
                n_pred: np,
                matched: k,
                precision: ratio(k, np),
                recall: ratio(k, nt),
                f1: f1(k, nt, np),
            }
        })
        .collect();
    let f1s: Vec<f64> = per_class
        .iter()
        .filter(|c| c.class != DischargeClass::Unclassified)
        .filter_map(|c| c.f1)
        .collect();
    let macro_f1 = (!f1s.is_empty()).then(|| f1s.iter().sum::<f64>() / f1s.len() as f64);
    let (k, nt, np) = (diag.len() as u64, events.len() as u64, preds.len() as u64);
    DischargeScores {
        per_class,
        macro_f1,
        micro: Prf {
            precision: ratio(k, np),
            recall: ratio(k, nt),
            f1: f1(k, nt, np),
        },
        confusion: Confusion {
            classes,
            counts,
            missed,
            spurious,
        },
    }
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// The report as plain-text tables (potentials, units, discharges per class, confusion).
/// Channels are numbered from 1 there, as on the command line (the JSON keeps indices).
pub fn format_table(r: &EvalReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let c = &r.config;
    for p in &r.potentials {
        let _ = writeln!(
            s,
            "potentials, channel {} (tolerance {} ms): true {}, predicted {}, matched {}, precision {}, recall {}, F1 {}, mean offset {} ms",
            p.channel + 1,
            c.tolerance_ms,
            p.n_true,
            p.n_pred,
            p.matched,
            num(p.precision),
            num(p.recall),
            num(p.f1),
            num(p.mean_offset_ms)
        );
    }
    for u in &r.units {
        let _ = writeln!(
            s,
            "\nunits, channel {}: agreement {}",
            u.channel + 1,
            num(u.agreement)
        );
        let _ = writeln!(
            s,
            "{:>9}  {:<20} {:>9} {:>7} {:>7} {:>7} {:>9} {:>7} {:>7}",
            "true unit",
            "class",
            "pred unit",
            "true",
            "pred",
            "shared",
            "precision",
            "recall",
            "F1"
        );
        for m in &u.units {
            let _ = writeln!(
                s,
                "{:>9}  {:<20} {:>9} {:>7} {:>7} {:>7} {:>9} {:>7} {:>7}",
                m.true_unit,
                m.class.name(),
                m.pred_unit.map_or("-".to_string(), |p| p.to_string()),
                m.n_true,
                m.n_pred,
                m.shared,
                num(m.precision),
                num(m.recall),
                num(m.f1)
            );
        }
        if !u.unmatched_pred_units.is_empty() {
            let _ = writeln!(
                s,
                "predicted units matched to no true unit: {:?}",
                u.unmatched_pred_units
            );
        }
    }
    let rule = match c.overlap {
        OverlapRule::Iou => "IoU",
        OverlapRule::OfShorter => "overlap of the shorter",
    };
    let d = &r.discharges;
    let _ = writeln!(s, "\ndischarges ({rule} >= {})", c.min_overlap);
    let w = d
        .confusion
        .classes
        .iter()
        .map(|c| c.name().len())
        .max()
        .unwrap_or(5)
        .max(8);
    let _ = writeln!(
        s,
        "{:<w$} {:>6} {:>6} {:>7} {:>9} {:>7} {:>7}",
        "class", "true", "pred", "matched", "precision", "recall", "F1"
    );
    for k in &d.per_class {
        let _ = writeln!(
            s,
            "{:<w$} {:>6} {:>6} {:>7} {:>9} {:>7} {:>7}",
            k.class.name(),
            k.n_true,
            k.n_pred,
            k.matched,
            num(k.precision),
            num(k.recall),
            num(k.f1)
        );
    }
    let _ = writeln!(
        s,
        "macro-F1 {}; all discharges: precision {}, recall {}, F1 {}",
        num(d.macro_f1),
        num(d.micro.precision),
        num(d.micro.recall),
        num(d.micro.f1)
    );
    let cf = &d.confusion;
    if !cf.classes.is_empty() {
        let _ = writeln!(s, "\nconfusion (rows: truth, columns: prediction)");
        let cols: Vec<String> = cf.classes.iter().map(|c| c.name().to_string()).collect();
        let cw: Vec<usize> = cols.iter().map(|c| c.len().max(6)).collect();
        let mut head = format!("{:<w$}", "");
        for (c, k) in cols.iter().zip(&cw) {
            let _ = write!(head, " {c:>k$}");
        }
        let _ = writeln!(s, "{head} {:>6}", "missed");
        for (i, row) in cf.counts.iter().enumerate() {
            let mut line = format!("{:<w$}", cols[i]);
            for (v, k) in row.iter().zip(&cw) {
                let _ = write!(line, " {v:>k$}");
            }
            let _ = writeln!(s, "{line} {:>6}", cf.missed[i]);
        }
        let mut line = format!("{:<w$}", "spurious");
        for (v, k) in cf.spurious.iter().zip(&cw) {
            let _ = write!(line, " {v:>k$}");
        }
        let _ = writeln!(s, "{line}");
    }
    s
}
