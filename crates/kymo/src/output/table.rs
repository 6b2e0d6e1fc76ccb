//! Discharges as tables: the CSV (`NAME.discharges.csv`) and the BIDS-style events file
//! (`NAME_events.tsv` with its `NAME_events.json` sidecar), one row per discharge.
//!
//! Both share one column table ([`FEATURE_COLUMNS`] and the leading columns of each file),
//! which also writes the sidecar's column descriptions, so the three cannot drift apart.
//! A value that cannot be measured (a single potential has no rate) is an empty field in
//! the CSV and `n/a` in the TSV, as BIDS requires.

use std::io::Write;
use std::path::Path;

use crate::analyze::{Analysis, ChannelAnalysis};
use crate::io::atomic::{AtomicFile, Staged};
use crate::pattern::{Discharge, DischargeClass, TrendFit};
use crate::{Error, Result};

/// One discharge and the channel it was found on.
#[derive(Clone, Copy)]
struct Row<'a> {
    ch: &'a ChannelAnalysis,
    d: &'a Discharge,
}

/// A column: its name, its description and unit for the sidecar, and how to get its value.
struct Column {
    name: &'static str,
    description: &'static str,
    units: Option<&'static str>,
    value: fn(Row<'_>) -> Option<String>,
}

/// `x` with at most `decimals` decimals, trailing zeros removed; `None` when not finite.
fn num(x: f64, decimals: usize) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    Some(if s == "-0" { "0".to_string() } else { s })
}

fn opt(x: Option<f64>, decimals: usize) -> Option<String> {
    x.and_then(|v| num(v, decimals))
}

/// Times in s to 1 µs: finer than any EMG sampling interval (50 µs at 20 kHz).
const TIME_DECIMALS: usize = 6;
/// Rates (Hz) and intervals (ms) to 0.001: well below their measurement error.
const RATE_DECIMALS: usize = 3;
/// Scores, CVs, ratios and shares (dimensionless) to 0.0001.
const RATIO_DECIMALS: usize = 4;
/// Amplitudes in µV to 0.01 µV.
const AMPLITUDE_DECIMALS: usize = 2;

fn trend_shape(t: Option<TrendFit>) -> Option<String> {
    t.map(|t| t.shape.name().to_string())
}

fn trend_change(t: Option<TrendFit>) -> Option<String> {
    t.and_then(|t| num(t.change, RATIO_DECIMALS))
}

fn units_list(d: &Discharge) -> Option<String> {
    (!d.units.is_empty()).then(|| {
        d.units
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// No tab, carriage return or newline inside a field (the TSV has no quoting).
fn one_line(s: &str) -> String {
    s.replace(['\t', '\r', '\n'], " ")
}

macro_rules! col {
    ($name:literal, $units:expr, $desc:literal, $f:expr) => {
        Column {
            name: $name,
            description: $desc,
            units: $units,
            value: $f,
        }
    };
}

/// The call's quality and the units involved (after the class in both files).
const CALL_COLUMNS: &[Column] = &[
    col!(
        "confidence",
        None,
        "Confidence of the class, 0-1: the class's score minus half the runner-up's.",
        |r| num(r.d.confidence, RATIO_DECIMALS)
    ),
    col!(
        "score",
        None,
        "Score of the class, 0-1: how well the discharge meets the class's criteria (geometric mean of memberships).",
        |r| num(r.d.score, RATIO_DECIMALS)
    ),
    col!(
        "runner_up",
        None,
        "The best competing class, if any scored above 0.",
        |r| r.d.runner_up.map(|u| u.class.name().to_string())
    ),
    col!(
        "runner_up_score",
        None,
        "The runner-up's score, 0-1.",
        |r| r.d.runner_up.and_then(|u| num(u.score, RATIO_DECIMALS))
    ),
    col!(
        "units",
        None,
        "Ids of the motor units (or fibres) involved on this channel, separated by spaces, as in the analysis JSON.",
        |r| units_list(r.d)
    ),
];

/// The numbers behind each call (shared by the CSV and the TSV).
const FEATURE_COLUMNS: &[Column] = &[
    col!(
        "kind",
        None,
        "What the discharge is made of: single (one potential), burst (a short group of one unit), run (a longer stretch of one unit) or episode (several units together).",
        |r| Some(kind_name(r.d))
    ),
    col!(
        "waveform",
        None,
        "Waveform class of the unit's template: motor-unit, single-fibre, positive-sharp-wave or complex.",
        |r| Some(r.d.features.waveform.name().to_string())
    ),
    col!(
        "n_units",
        None,
        "Units involved.",
        |r| Some(r.d.features.n_units.to_string())
    ),
    col!(
        "n_potentials",
        None,
        "Potentials in the discharge (for a burst: potentials per burst).",
        |r| Some(r.d.n_potentials.to_string())
    ),
    col!(
        "potentials_span_s",
        Some("s"),
        "First to last potential.",
        |r| num(r.d.features.duration_s, TIME_DECIMALS)
    ),
    col!(
        "rate_hz",
        Some("Hz"),
        "Mean firing rate inside the discharge (for a burst: the intraburst rate): intervals over their total length; for an episode, the median of the units' rates.",
        |r| opt(r.d.features.rate_hz, RATE_DECIMALS)
    ),
    col!(
        "rate_p10_hz",
        Some("Hz"),
        "10th percentile of the instantaneous rate.",
        |r| opt(r.d.features.rate_p10_hz, RATE_DECIMALS)
    ),
    col!(
        "rate_p90_hz",
        Some("Hz"),
        "90th percentile of the instantaneous rate.",
        |r| opt(r.d.features.rate_p90_hz, RATE_DECIMALS)
    ),
    col!(
        "interval_min_ms",
        Some("ms"),
        "Shortest interval between potentials.",
        |r| opt(r.d.features.interval_min_ms, RATE_DECIMALS)
    ),
    col!(
        "interval_median_ms",
        Some("ms"),
        "Median interval between potentials.",
        |r| opt(r.d.features.interval_median_ms, RATE_DECIMALS)
    ),
    col!(
        "interval_max_ms",
        Some("ms"),
        "Longest interval between potentials.",
        |r| opt(r.d.features.interval_max_ms, RATE_DECIMALS)
    ),
    col!(
        "isi_cv",
        None,
        "Coefficient of variation of the intervals.",
        |r| opt(r.d.features.isi_cv, RATIO_DECIMALS)
    ),
    col!(
        "jitter",
        None,
        "Local interval jitter: median CV2 of successive intervals (Holt et al. 1996).",
        |r| opt(r.d.features.jitter, RATIO_DECIMALS)
    ),
    col!(
        "recurrence_hz",
        Some("Hz"),
        "How often the unit's bursts (or runs) recur, start to start.",
        |r| opt(r.d.features.recurrence_hz, RATE_DECIMALS)
    ),
    col!(
        "recurrence_cv",
        None,
        "Regularity of that recurrence: robust CV of the start-to-start intervals (low: rhythmic).",
        |r| opt(r.d.features.recurrence_cv, RATIO_DECIMALS)
    ),
    col!(
        "rate_trend",
        None,
        "Trend of the instantaneous rate inside the discharge: flat, waxing, waning, waxing-waning or waning-waxing.",
        |r| trend_shape(r.d.features.rate_trend)
    ),
    col!(
        "rate_trend_change",
        None,
        "Size of the rate trend relative to the mean rate (signed; e.g. -0.4 is a 40 % fall).",
        |r| trend_change(r.d.features.rate_trend)
    ),
    col!(
        "amplitude_trend",
        None,
        "Trend of the potentials' amplitude inside the discharge (same shapes as rate_trend).",
        |r| trend_shape(r.d.features.amplitude_trend)
    ),
    col!(
        "amplitude_trend_change",
        None,
        "Size of the amplitude trend relative to the mean amplitude (signed).",
        |r| trend_change(r.d.features.amplitude_trend)
    ),
    col!(
        "onset_ratio",
        None,
        "Rate over the first intervals relative to the median rate (about 1: abrupt onset; well below 1: gradual).",
        |r| opt(r.d.features.onset_ratio, RATIO_DECIMALS)
    ),
    col!(
        "offset_ratio",
        None,
        "Rate over the last intervals relative to the median rate.",
        |r| opt(r.d.features.offset_ratio, RATIO_DECIMALS)
    ),
    col!(
        "rate_modulation",
        None,
        "Depth of the periodic (waxing and waning) rate modulation, 0 when none is significant.",
        |r| opt(r.d.features.rate_modulation, RATIO_DECIMALS)
    ),
    col!(
        "modulation_hz",
        Some("Hz"),
        "Frequency of that modulation.",
        |r| opt(r.d.features.modulation_hz, RATE_DECIMALS)
    ),
    col!(
        "modulation_cycles",
        None,
        "Waxing and waning cycles in the discharge.",
        |r| opt(r.d.features.modulation_cycles, RATE_DECIMALS)
    ),
    col!(
        "amplitude_uv",
        Some("uV"),
        "Median peak-to-peak amplitude of the potentials.",
        |r| opt(r.d.features.amplitude_uv, AMPLITUDE_DECIMALS)
    ),
    col!(
        "doublet_fraction",
        None,
        "Share of intervals in the doublet range.",
        |r| opt(r.d.features.doublet_fraction, RATIO_DECIMALS)
    ),
    col!(
        "unit_rate_hz",
        Some("Hz"),
        "The unit's potentials over the whole recording's length.",
        |r| opt(r.d.features.unit_rate_hz, RATE_DECIMALS)
    ),
    col!(
        "recruitment_ratio",
        None,
        "Episodes: the fastest unit's mean rate over the number of units (about 5 in voluntary activity).",
        |r| opt(r.d.features.recruitment_ratio, RATIO_DECIMALS)
    ),
    col!(
        "coactive_units",
        None,
        "Other units firing sustained trains at the same time.",
        |r| r.d.features.coactive_units.map(|n| n.to_string())
    ),
];

const EVIDENCE_COLUMN: Column = col!(
    "evidence",
    None,
    "One sentence with the numbers that decided the class, to check against the trace.",
    |r| Some(one_line(&r.d.evidence))
);

/// The CSV's leading columns.
const CSV_LEAD: &[Column] = &[
    col!(
        "channel",
        None,
        "Channel number in the file, from 1 (as kymo analyze -c takes it).",
        |r| Some((r.ch.channel + 1).to_string())
    ),
    col!("label", None, "Channel label.", |r| Some(
        r.ch.label.clone()
    )),
    col!("class", None, "Discharge class.", |r| Some(
        r.d.class.name().to_string()
    )),
    col!(
        "start_s",
        Some("s"),
        "Start: the first potential's time minus half its unit's duration, from the first sample.",
        |r| num(r.d.start_s, TIME_DECIMALS)
    ),
    col!(
        "end_s",
        Some("s"),
        "End: the last potential's time plus half its unit's duration.",
        |r| num(r.d.end_s, TIME_DECIMALS)
    ),
    col!("duration_s", Some("s"), "end_s - start_s.", |r| num(
        r.d.end_s - r.d.start_s,
        TIME_DECIMALS
    )),
];

/// The events file's leading columns (BIDS: `onset` and `duration` first, in that order).
const TSV_LEAD: &[Column] = &[
    col!(
        "onset",
        Some("s"),
        "Start of the discharge from the first sample of the recording: the first potential's time minus half its unit's duration.",
        |r| num(r.d.start_s, TIME_DECIMALS)
    ),
    col!(
        "duration",
        Some("s"),
        "Length of the discharge, to the last potential's time plus half its unit's duration.",
        |r| num((r.d.end_s - r.d.start_s).max(0.0), TIME_DECIMALS)
    ),
    col!(
        "trial_type",
        None,
        "Discharge class (see Levels).",
        |r| Some(r.d.class.name().to_string())
    ),
    col!(
        "channel",
        None,
        "Label of the channel the discharge was found on.",
        |r| Some(one_line(&r.ch.label))
    ),
];

fn kind_name(d: &Discharge) -> String {
    use crate::pattern::SegmentKind as K;
    match d.features.kind {
        K::Single => "single",
        K::Burst => "burst",
        K::Run => "run",
        K::Episode => "episode",
    }
    .to_string()
}

/// What each class means (the sidecar's `Levels` of `trial_type`).
pub(crate) fn class_description(c: DischargeClass) -> &'static str {
    use DischargeClass as C;
    match c {
        C::Voluntary => "Voluntary motor unit activity: several units recruited in order, rates rising with force.",
        C::Fasciculation => "Fasciculation potential: a single spontaneous discharge of a motor unit, firing irregularly and slowly.",
        C::Doublet => "Doublet or multiplet: 2 (or 3+) potentials of one motor unit 2-20 ms apart, the group firing irregularly.",
        C::Myokymic => "Myokymic discharge (burst form): a burst of potentials of one motor unit, recurring semi-rhythmically.",
        C::MyokymicContinuous => "Myokymic discharge (continuous form): a sustained train of one unit waxing and waning.",
        C::Neuromyotonic => "Neuromyotonic discharge: motor unit potentials at 150-300 Hz for seconds, waning amplitude, abrupt start and stop.",
        C::ComplexRepetitive => "Complex repetitive discharge: the same polyphasic complex repeating perfectly regularly at 5-100 Hz, abrupt onset and offset.",
        C::Fibrillation => "Fibrillation potentials: a regular train (0.5-15 Hz) of brief, initially positive single muscle fibre spikes.",
        C::PositiveSharpWave => "Positive sharp waves: a regular train of positive sharp waves.",
        C::Myotonic => "Myotonic discharge: fibrillation- or PSW-shaped potentials at 20-80 Hz, waxing and waning in rate and amplitude (\"dive bomber\").",
        C::Cramp => "Cramp discharge: many motor units firing involuntarily at high, irregular rates with a painful contraction.",
        C::Regular => "Regular single-unit discharge: one unit firing continuously and very regularly (about 1-18 Hz).",
        C::EndplateSpike => "Endplate spikes (normal): irregular brief spikes up to about 50 Hz, initially negative; not fibrillation.",
        C::Unclassified => "Activity that fits no class well.",
    }
}

fn csv_columns() -> impl Iterator<Item = &'static Column> {
    CSV_LEAD
        .iter()
        .chain(CALL_COLUMNS)
        .chain(FEATURE_COLUMNS)
        .chain(std::iter::once(&EVIDENCE_COLUMN))
}

fn tsv_columns() -> impl Iterator<Item = &'static Column> {
    TSV_LEAD
        .iter()
        .chain(CALL_COLUMNS)
        .chain(FEATURE_COLUMNS)
        .chain(std::iter::once(&EVIDENCE_COLUMN))
}

/// The CSV's header row.
pub fn csv_header() -> Vec<&'static str> {
    csv_columns().map(|c| c.name).collect()
}

/// The events file's header row.
pub fn tsv_header() -> Vec<&'static str> {
    tsv_columns().map(|c| c.name).collect()
}

fn csv_error(f: &AtomicFile, e: csv::Error) -> Error {
    f.io_error(std::io::Error::other(e))
}

/// Writes every discharge of `analysis` as CSV (comma-separated, header row, RFC 4180
/// quoting, `\n` line ends), channel by channel in time order, to a temporary file beside
/// `path`; the caller commits it. Missing values are empty fields.
pub fn write_discharges_csv(path: &Path, analysis: &Analysis) -> Result<Staged> {
    let mut f = AtomicFile::create(path)?;
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut f);
        let cols: Vec<&Column> = csv_columns().collect();
        let header: Vec<&str> = cols.iter().map(|c| c.name).collect();
        let mut failed = w.write_record(&header).err();
        'rows: for ch in &analysis.channels {
            for d in &ch.discharges {
                let row = Row { ch, d };
                let rec = cols.iter().map(|c| (c.value)(row).unwrap_or_default());
                if let Err(e) = w.write_record(rec) {
                    failed = Some(e);
                    break 'rows;
                }
            }
        }
        if failed.is_none() {
            failed = w.flush().map_err(csv::Error::from).err();
        }
        if let Some(e) = failed {
            drop(w);
            return Err(csv_error(&f, e));
        }
    }
    f.finish()
}

/// BIDS marks a missing value so.
const NA: &str = "n/a";

/// Writes the BIDS-style events file `NAME_events.tsv` (every discharge of every channel,
/// sorted by onset) and its sidecar `NAME_events.json` (one entry per column: description,
/// units, and the classes as `Levels` of `trial_type`), to temporary files beside `tsv`
/// and `sidecar`; the caller commits them. Missing values are `n/a`.
pub fn write_events_tsv(tsv: &Path, sidecar: &Path, analysis: &Analysis) -> Result<[Staged; 2]> {
    let mut rows: Vec<Row<'_>> = analysis
        .channels
        .iter()
        .flat_map(|ch| ch.discharges.iter().map(move |d| Row { ch, d }))
        .collect();
    // Stable: equal onsets keep channel order.
    rows.sort_by(|a, b| a.d.start_s.total_cmp(&b.d.start_s));
    let cols: Vec<&Column> = tsv_columns().collect();
    let mut f = AtomicFile::create(tsv)?;
    let mut text = String::new();
    let write = |f: &mut AtomicFile, text: &str| f.write_all(text.as_bytes());
    let mut result = Ok(());
    text.push_str(&cols.iter().map(|c| c.name).collect::<Vec<_>>().join("\t"));
    text.push('\n');
    for r in rows {
        let values: Vec<String> = cols
            .iter()
            .map(|c| match (c.value)(r) {
                Some(v) if !v.is_empty() => v,
                _ => NA.to_string(),
            })
            .collect();
        text.push_str(&values.join("\t"));
        text.push('\n');
        if text.len() >= 1 << 16 {
            result = result.and_then(|_| write(&mut f, &text));
            text.clear();
        }
    }
    result = result.and_then(|_| write(&mut f, &text));
    result.map_err(|e| f.io_error(e))?;
    let tsv_staged = f.finish()?;

    let mut s = AtomicFile::create(sidecar)?;
    super::json::to_writer(&mut s, &sidecar_json()).map_err(|e| s.io_error(e))?;
    Ok([tsv_staged, s.finish()?])
}

/// One column's entry in the events sidecar (BIDS keys, in this order).
#[derive(serde::Serialize)]
struct ColumnDoc {
    #[serde(rename = "LongName", skip_serializing_if = "Option::is_none")]
    long_name: Option<&'static str>,
    #[serde(rename = "Description")]
    description: &'static str,
    #[serde(rename = "Units", skip_serializing_if = "Option::is_none")]
    units: Option<&'static str>,
    #[serde(rename = "Levels", skip_serializing_if = "Option::is_none")]
    levels: Option<Ordered<&'static str>>,
}

/// The events sidecar: one object per column, in column order.
fn sidecar_json() -> Ordered<ColumnDoc> {
    Ordered(
        tsv_columns()
            .map(|c| {
                let class = c.name == "trial_type";
                let doc = ColumnDoc {
                    long_name: class.then_some("Discharge class"),
                    description: c.description,
                    units: c.units,
                    levels: class.then(|| {
                        Ordered(
                            DischargeClass::ALL
                                .iter()
                                .map(|&k| (k.name(), class_description(k)))
                                .collect(),
                        )
                    }),
                };
                (c.name, doc)
            })
            .collect(),
    )
}

/// A JSON object whose keys keep their order (serde_json's own maps sort them).
struct Ordered<V>(Vec<(&'static str, V)>);

impl<V: serde::Serialize> serde::Serialize for Ordered<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_missing_is_none() {
        assert_eq!(num(1.5, 3).unwrap(), "1.5");
        assert_eq!(num(2.0, 3).unwrap(), "2");
        assert_eq!(num(-0.0001, 3).unwrap(), "0");
        assert_eq!(num(12.3456789, 6).unwrap(), "12.345679");
        assert_eq!(num(f64::NAN, 3), None);
        assert_eq!(num(f64::INFINITY, 3), None);
    }

    #[test]
    fn column_names_are_unique_and_bids_starts_with_onset_duration() {
        for header in [csv_header(), tsv_header()] {
            let mut seen = std::collections::HashSet::new();
            for n in &header {
                assert!(seen.insert(*n), "column {n} twice");
                assert!(
                    n.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "{n} is not snake_case"
                );
            }
        }
        assert_eq!(&tsv_header()[..3], &["onset", "duration", "trial_type"]);
        let side = sidecar_json();
        let names: Vec<&str> = side.0.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, tsv_header(), "sidecar entries in column order");
        let side = serde_json::to_value(&side).unwrap();
        for n in tsv_header() {
            assert!(side[n]["Description"].is_string(), "{n} undescribed");
        }
        assert_eq!(
            side["trial_type"]["Levels"].as_object().unwrap().len(),
            DischargeClass::ALL.len()
        );
    }
}
