//! The EDF+C writer.
//!
//! # What the writer guarantees
//!
//! - The output is EDF+C: 16-bit samples, digital range −32768..32767, one
//!   `"EDF Annotations"` signal (the last signal), a header that is pure printable ASCII
//!   padded with spaces (never NUL), patient and recording fields in EDF+ form
//!   (`"X X X X"` subfields when unknown, `"Startdate dd-MMM-yyyy X X equipment"`).
//! - Every data record starts with its time-keeping TAL `+t\x14\x14\x00`, where `t` is the
//!   record's start in seconds plus the sub-second part of the start time, so readers that
//!   follow EDFbrowser recover [`DateTime::nanos`] to 100 ns. A recording with no samples
//!   has no data record, so its start keeps whole seconds only.
//! - A sample `x` inside the channel's written physical range comes back from any EDF
//!   reader within half a quantisation step, `(pmax − pmin) / 65535 / 2`. The written range
//!   is the requested one rounded *outward* to fit the 8-character header fields, so it
//!   always contains the requested range. Samples outside it are clipped to its ends and
//!   counted ([`EdfWriteSummary::clipped_samples`]); NaN is written as digital 0 and counted too.
//! - Annotation onsets and durations are written to 100 ns (7 decimals); texts byte for
//!   byte (UTF-8). An annotation goes in the data record its onset falls in, or a later one
//!   when that record's annotation space is full; annotations at or after the end of the
//!   signals go in the last record.
//! - Nothing appears at the destination until [`EdfWriter::finish`] succeeds: the file is
//!   written to a temporary file in the same directory ([`AtomicFile`], `.NAME.tmp-PID-N`),
//!   its record count patched, synced and renamed over the destination. On error, or when
//!   the writer is dropped without `finish`, the temporary file is removed and the
//!   destination is untouched. [`EdfWriter::finish_staged`] stops before the rename, for
//!   callers that commit several files together.
//! - The record count is written as −1 ("still recording") until `finish` patches it.
//! - When the signals do not end on a record boundary, the last record is padded with the
//!   digital value nearest physical 0 ([`EdfWriteSummary::padded_samples`]): EDF stores whole
//!   records only, so a reader sees those extra samples at the end.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::header::{days_in_month, month_abbrev};
use super::tal;
use crate::io::atomic::{AtomicFile, Staged};
use crate::io::{Annotation, DateTime};
use crate::{Error, Result};

/// The EDF spec recommends data records of at most 61440 bytes (old readers used 16-bit
/// sizes); the writer picks the record duration to stay under it when the rates allow.
pub const MAX_RECORD_BYTES: usize = 61440;

/// Record durations tried, with their header text, from 1 s down; see [`EdfWriter`] for why.
const DURATIONS_DOWN: [&str; 19] = [
    "1", "0.5", "0.2", "0.1", "0.05", "0.02", "0.01", "0.005", "0.002", "0.001", "0.0005",
    "0.0002", "0.0001", "0.00005", "0.00002", "0.00001", "0.000005", "0.000002", "0.000001",
];
/// Longer record durations, tried (shortest first) only when no duration ≤ 1 s gives every
/// channel a whole number of samples per record (rates like 487.5 Hz or 0.5 Hz).
const DURATIONS_UP: [&str; 9] = ["2", "5", "10", "20", "50", "100", "200", "500", "1000"];

/// Annotation bytes per record are at least this: room for a time-keeping TAL with a
/// 20-digit stamp, and for records to grow longer stamps as the file grows.
const MIN_ANNOTATION_BYTES: usize = 32;
/// Extra room so that an annotation carried to a later record, whose time-keeping stamp
/// has more digits, still fits.
const ANNOTATION_SLACK: usize = 16;

/// Largest value of an 8-character numeric header field.
const MAX_FIELD_8: u64 = 99_999_999;

/// Digital range of 16-bit EDF.
const DIGITAL_MIN: f64 = -32768.0;
const DIGITAL_MAX: f64 = 32767.0;

/// One channel to write.
#[derive(Debug, Clone, PartialEq)]
pub struct EdfChannelSpec {
    /// Label, at most 16 printable ASCII characters (e.g. `"EMG R tibialis"`).
    pub label: String,
    /// Physical unit, at most 8 printable ASCII characters; `µ`/`μ` is written as `u` (`"uV"`).
    pub unit: String,
    /// Sampling rate in Hz.
    pub rate_hz: f64,
    /// Physical range `(min, max)`, `min < max`, that the 16-bit samples will span.
    pub physical_range: (f64, f64),
    /// Transducer type, at most 80 printable ASCII characters (may be empty).
    pub transducer: String,
    /// Prefiltering, at most 80 printable ASCII characters (may be empty).
    pub prefilter: String,
}

/// What to write: channels, start time, identification and annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct EdfSpec {
    /// The signal channels, at least one.
    pub channels: Vec<EdfChannelSpec>,
    /// Recording start (year 1985–2084 in the classic field; later years are written as
    /// EDF+ allows, `yy` plus the full year in the recording field).
    pub start: DateTime,
    /// EDF+ patient code (spaces become `_`); empty → `X`.
    pub patient_code: String,
    /// EDF+ patient name (spaces become `_`); empty → `X`.
    pub patient_name: String,
    /// EDF+ recording equipment (spaces become `_`); empty → `X`.
    pub equipment: String,
    /// Annotations, onsets in seconds from `start`. Written sorted by onset (stable).
    /// Texts must be non-empty and free of the TAL separators 0x00, 0x14 and 0x15.
    pub annotations: Vec<Annotation>,
    /// Data record duration in seconds; `None` lets the writer choose (see [`EdfWriter`]).
    pub record_duration_s: Option<f64>,
}

impl EdfSpec {
    /// A spec with the given start and channels, no annotations, unknown patient (`X`).
    pub fn new(start: DateTime, channels: Vec<EdfChannelSpec>) -> Self {
        EdfSpec {
            channels,
            start,
            patient_code: String::new(),
            patient_name: String::new(),
            equipment: String::new(),
            annotations: Vec::new(),
            record_duration_s: None,
        }
    }
}

/// What [`EdfWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct EdfWriteSummary {
    /// The destination file.
    pub path: PathBuf,
    /// Number of data records.
    pub n_records: u64,
    /// Data record duration in seconds.
    pub record_duration_s: f64,
    /// Samples per record of each channel (annotation signal excluded).
    pub samples_per_record: Vec<u64>,
    /// Physical range written for each channel (the requested one rounded outward).
    pub physical_ranges: Vec<(f64, f64)>,
    /// Samples outside the written physical range (clipped) or NaN, over all channels.
    pub clipped_samples: u64,
    /// Samples added per channel to fill the last record.
    pub padded_samples: Vec<u64>,
}

/// One signal for [`write_edf`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalData<'a> {
    /// Label (at most 16 printable ASCII characters).
    pub label: &'a str,
    /// Physical unit (at most 8 printable ASCII characters; `µ` is written as `u`).
    pub unit: &'a str,
    /// Sampling rate in Hz.
    pub rate_hz: f64,
    /// The samples, in `unit`.
    pub samples: &'a [f32],
}

/// Writes `signals` and `annotations` as an EDF+C file at `path`, in one call.
///
/// Each channel's physical range is taken from its data (finite samples), widened by
/// [`RANGE_PAD`] of its span on each side and rounded outward, so no sample clips; a
/// constant signal `v` gets `v ± max(|v|/100, …)` (`±1` for 0), an all-NaN or empty one
/// `−1..1`. The record duration is chosen as described on [`EdfWriter`]. Signals of
/// different durations are padded to the longest.
pub fn write_edf(
    path: &Path,
    signals: &[SignalData<'_>],
    annotations: &[Annotation],
    start: DateTime,
) -> Result<EdfWriteSummary> {
    let channels = signals
        .iter()
        .map(|s| EdfChannelSpec {
            label: s.label.to_string(),
            unit: s.unit.to_string(),
            rate_hz: s.rate_hz,
            physical_range: data_range(s.samples),
            transducer: String::new(),
            prefilter: String::new(),
        })
        .collect();
    let mut spec = EdfSpec::new(start, channels);
    spec.annotations = annotations.to_vec();
    let lengths: Vec<u64> = signals.iter().map(|s| s.samples.len() as u64).collect();
    let mut w = EdfWriter::create_inner(path, &spec, Some(&lengths))?;
    // Push a bounded number of records at a time so the writer's pending buffers stay small.
    const RECORDS_PER_PUSH: usize = 64;
    let steps: Vec<usize> = w.spr.iter().map(|&s| s * RECORDS_PER_PUSH).collect();
    let mut pos = vec![0usize; signals.len()];
    loop {
        let blocks: Vec<&[f32]> = signals
            .iter()
            .zip(&pos)
            .zip(&steps)
            .map(|((s, &p), &n)| &s.samples[p.min(s.samples.len())..(p + n).min(s.samples.len())])
            .collect();
        if blocks.iter().all(|b| b.is_empty()) {
            break;
        }
        w.push(&blocks)?;
        for (p, n) in pos.iter_mut().zip(&steps) {
            *p += n;
        }
    }
    w.finish()
}

/// Fraction of a signal's span added on each side by [`write_edf`]'s automatic physical
/// range, so that float rounding at the range's ends can never clip a sample.
pub const RANGE_PAD: f64 = 1e-3;

fn data_range(samples: &[f32]) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &x in samples {
        if x.is_finite() {
            lo = lo.min(f64::from(x));
            hi = hi.max(f64::from(x));
        }
    }
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    if hi > lo {
        let pad = (hi - lo) * RANGE_PAD;
        (lo - pad, hi + pad)
    } else {
        let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.01 };
        (lo - half, lo + half)
    }
}

/// Streams an EDF+C file: create with an [`EdfSpec`], [`push`](Self::push) samples in
/// blocks, [`finish`](Self::finish). Memory holds at most the samples not yet in a whole
/// data record plus one record, whatever the recording's length.
///
/// # Record duration
///
/// Unless the spec fixes it, the record duration is the largest of 1 s, 0.5 s, 0.2 s,
/// 0.1 s, 0.05 s, … 1 µs for which every channel has a whole number of samples per record
/// and a record (annotations included) stays within [`MAX_RECORD_BYTES`]. Whole numbers are
/// required because EDF stores samples per record as an integer; 1-2-5 steps give short
/// decimal header text and stamps; long records make fewer, larger reads, and the 61440-byte
/// bound is the EDF spec's recommendation for record size. If no duration ≤ 1 s gives whole
/// numbers (e.g. 487.5 Hz), 2 s, 5 s, … 1000 s are tried; if none meets the size bound, the
/// one with the smallest record is used; if no duration works, [`Error::Config`].
///
/// # Annotation space
///
/// The annotation signal's size per record is fixed at creation from the annotations,
/// binned by the record their onset falls in: large enough for the fullest record (capped
/// so the record stays within the size bound when it can) and for the longest single
/// annotation. Annotations that do not fit in their record carry over to the next one.
pub struct EdfWriter {
    path: PathBuf,
    /// `None` after a write failed (the temporary file is then already removed) or once
    /// finished.
    file: Option<AtomicFile>,
    record_duration: f64,
    sub_second: f64,
    spr: Vec<usize>,
    physical: Vec<(f64, f64)>,
    /// Digital value nearest physical 0, per channel (for padding).
    pad_digital: Vec<i16>,
    annotation_bytes: usize,
    data_bytes: usize,
    annotations: Vec<PreparedAnnotation>,
    next_annotation: usize,
    pending: Vec<Vec<f32>>,
    /// Channel part of the last complete record, held back so that the final record can
    /// take the annotations at or after the end.
    held: Vec<u8>,
    has_held: bool,
    scratch: Vec<u8>,
    ann_buf: Vec<u8>,
    records_written: u64,
    clipped: u64,
    padded: Vec<u64>,
}

impl std::fmt::Debug for EdfWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdfWriter")
            .field("path", &self.path)
            .field("record_duration", &self.record_duration)
            .field("records_written", &self.records_written)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct PreparedAnnotation {
    /// Seconds from the start (sample 0).
    onset: f64,
    /// The encoded TAL (onset includes the sub-second start).
    tal: Vec<u8>,
    text: String,
}

fn cfg(msg: String) -> Error {
    Error::config(format!("edf writer: {msg}"))
}

/// Checks a header text: printable ASCII, at most `max` characters.
fn ascii_field(what: &str, s: &str, max: usize) -> Result<String> {
    if let Some(c) = s.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(cfg(format!(
            "{what} {s:?} contains {c:?}; EDF header fields are printable ASCII only"
        )));
    }
    if s.len() > max {
        return Err(cfg(format!(
            "{what} {s:?} is {} characters long; the EDF field holds {max}",
            s.len()
        )));
    }
    Ok(s.to_string())
}

/// An EDF+ subfield: no spaces (they separate subfields), `X` when unknown.
fn subfield(what: &str, s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok("X".to_string());
    }
    ascii_field(what, &s.replace(' ', "_"), 80)
}

/// `x` as at most 8 characters, rounded toward −∞ (`up == false`) or +∞ (`up == true`),
/// keeping as many decimals as fit. `None` when even the integer part does not fit.
pub(crate) fn fmt_outward(x: f64, up: bool) -> Option<String> {
    if !x.is_finite() {
        return None;
    }
    let outward = |s: &str| -> bool {
        s.parse::<f64>()
            .is_ok_and(|v| if up { v >= x } else { v <= x })
    };
    for decimals in (0..=7usize).rev() {
        let p = 10f64.powi(decimals as i32);
        // Nearest first: exact decimals such as 0.1 must not step a unit outward.
        let mut s = format!("{x:.decimals$}");
        if !outward(&s) {
            let v = if up { (x * p).ceil() } else { (x * p).floor() } / p;
            s = format!("{v:.decimals$}");
            if !outward(&s) {
                let v = v + if up { 1.0 } else { -1.0 } / p;
                s = format!("{v:.decimals$}");
            }
        }
        if s.contains('.') {
            s = s.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        if s == "-0" {
            s = "0".to_string();
        }
        if s.len() <= 8 && outward(&s) {
            return Some(s);
        }
    }
    None
}

/// Samples per record when `rate · d` is a whole number (within float error), else `None`.
fn whole_samples(rate: f64, d: f64) -> Option<usize> {
    let x = rate * d;
    let n = x.round();
    if n >= 1.0 && n <= MAX_FIELD_8 as f64 && (x - n).abs() <= 1e-9 * n.max(1.0) {
        Some(n as usize)
    } else {
        None
    }
}

/// Length of the time-keeping TAL of a record starting at `t` s.
fn timekeeping_len(t: f64) -> usize {
    let mut v = Vec::new();
    tal::encode_timekeeping(&mut v, t);
    v.len()
}

/// Index of the record `onset` falls in (negative onsets → record 0), clamped to the last
/// record when the count is known.
fn bin(onset: f64, d: f64, last: Option<u64>) -> u64 {
    let b = (onset / d).floor();
    let b = if b > 0.0 {
        b.min(u64::MAX as f64) as u64
    } else {
        0
    };
    last.map_or(b, |l| b.min(l))
}

/// Places the annotations in records of `ann_bytes` as the writer will, and says whether
/// all fit in `n` records.
fn all_fit(anns: &[PreparedAnnotation], d: f64, sub: f64, ann_bytes: usize, n: u64) -> bool {
    if anns.is_empty() {
        return true;
    }
    if n == 0 {
        return false;
    }
    let last = n - 1;
    let mut next = 0;
    let mut r = bin(anns[0].onset, d, Some(last));
    loop {
        let mut used = timekeeping_len(r as f64 * d + sub);
        while next < anns.len()
            && (r == last || bin(anns[next].onset, d, Some(last)) <= r)
            && used + anns[next].tal.len() <= ann_bytes
        {
            used += anns[next].tal.len();
            next += 1;
        }
        if next == anns.len() {
            return true;
        }
        if r == last {
            return false;
        }
        r = (r + 1).max(bin(anns[next].onset, d, Some(last)));
    }
}

/// Annotation bytes per record for record duration `d` (see [`EdfWriter`], "Annotation space").
fn annotation_bytes(
    anns: &[PreparedAnnotation],
    d: f64,
    sub: f64,
    data_bytes: usize,
    n_records: Option<u64>,
) -> usize {
    let last = n_records.map(|n| n.saturating_sub(1));
    let mut max_single = timekeeping_len(sub);
    let mut max_bin = max_single;
    let mut i = 0;
    while i < anns.len() {
        let b = bin(anns[i].onset, d, last);
        let tk = timekeeping_len(b as f64 * d + sub);
        let mut sum = tk;
        while i < anns.len() && bin(anns[i].onset, d, last) == b {
            sum += anns[i].tal.len();
            max_single = max_single.max(tk + anns[i].tal.len());
            i += 1;
        }
        max_bin = max_bin.max(sum);
    }
    let cap = MAX_RECORD_BYTES.saturating_sub(data_bytes);
    let mut bytes = MIN_ANNOTATION_BYTES
        .max(max_single + ANNOTATION_SLACK)
        .max(max_bin.min(cap));
    bytes += bytes % 2;
    if let Some(n) = n_records.filter(|&n| n > 0) {
        // Carried annotations could pile up past the end: grow until they all fit (a
        // record of `bytes ≥ everything` always holds them, so this ends).
        while !all_fit(anns, d, sub, bytes, n) {
            bytes *= 2;
        }
    }
    bytes
}

/// Record duration (text and value), samples per record and annotation bytes.
struct Layout {
    duration_text: String,
    duration: f64,
    spr: Vec<usize>,
    annotation_bytes: usize,
}

fn choose_layout(
    rates: &[f64],
    fixed: Option<f64>,
    anns: &[PreparedAnnotation],
    sub: f64,
    lengths: Option<&[u64]>,
) -> Result<Layout> {
    let try_one = |text: &str| -> Option<(Layout, usize)> {
        let d: f64 = text.parse().ok()?;
        let spr: Option<Vec<usize>> = rates.iter().map(|&r| whole_samples(r, d)).collect();
        let spr = spr?;
        let data_bytes: usize = spr.iter().map(|s| s * 2).sum();
        let n_records = lengths.map(|ls| {
            ls.iter()
                .zip(&spr)
                .map(|(&l, &s)| l.div_ceil(s as u64))
                .max()
                .unwrap_or(0)
        });
        let ab = annotation_bytes(anns, d, sub, data_bytes, n_records);
        let total = data_bytes + ab;
        Some((
            Layout {
                duration_text: text.to_string(),
                duration: d,
                spr,
                annotation_bytes: ab,
            },
            total,
        ))
    };
    if let Some(d) = fixed {
        let text = tal::fmt_seconds(d);
        let ok = d.is_finite()
            && d > 0.0
            && text.len() <= 8
            && text
                .parse::<f64>()
                .is_ok_and(|p| (p - d).abs() <= 1e-12 * d);
        if !ok {
            return Err(cfg(format!(
                "record duration {d} s cannot be written exactly in the 8-character header field"
            )));
        }
        return try_one(&text).map(|(l, _)| l).ok_or_else(|| {
            cfg(format!(
                "with records of {text} s, the rates {rates:?} Hz do not all give a whole number of samples per record"
            ))
        });
    }
    let mut smallest: Option<(Layout, usize)> = None;
    for list in [&DURATIONS_DOWN[..], &DURATIONS_UP[..]] {
        for text in list {
            if let Some((l, total)) = try_one(text) {
                if total <= MAX_RECORD_BYTES {
                    return Ok(l);
                }
                if smallest.as_ref().is_none_or(|(_, t)| total < *t) {
                    smallest = Some((l, total));
                }
            }
        }
    }
    smallest.map(|(l, _)| l).ok_or_else(|| {
        cfg(format!(
            "the rates {rates:?} Hz cannot be stored in EDF: no record duration from 1 µs to 1000 s gives every channel a whole number of samples per record"
        ))
    })
}

/// Puts `text` (ASCII, checked) left-aligned in `buf[off..off + width]`, space padded.
fn put(buf: &mut [u8], off: usize, width: usize, text: &str) {
    debug_assert!(text.len() <= width && text.is_ascii());
    buf[off..off + width].fill(b' ');
    buf[off..off + text.len()].copy_from_slice(text.as_bytes());
}

impl EdfWriter {
    /// Checks `spec`, chooses the record layout and writes the header to a temporary file
    /// beside `path`. Fails with [`Error::Config`] for an invalid spec (naming the field)
    /// and [`Error::Io`] when the temporary file cannot be created.
    pub fn create(path: &Path, spec: &EdfSpec) -> Result<EdfWriter> {
        Self::create_inner(path, spec, None)
    }

    /// [`create`](Self::create) for a caller that knows how many samples each channel will
    /// get (`lengths`, one per channel): the annotation space is then sized so that every
    /// annotation fits in the records written, however many share a record or lie past
    /// the end (as [`write_edf`] does). Without the lengths, [`finish`](Self::finish) fails
    /// when dense annotations outrun the records.
    pub fn create_with_lengths(path: &Path, spec: &EdfSpec, lengths: &[u64]) -> Result<EdfWriter> {
        if lengths.len() != spec.channels.len() {
            return Err(cfg(format!(
                "{} lengths given for {} channels",
                lengths.len(),
                spec.channels.len()
            )));
        }
        Self::create_inner(path, spec, Some(lengths))
    }

    fn create_inner(path: &Path, spec: &EdfSpec, lengths: Option<&[u64]>) -> Result<EdfWriter> {
        if spec.channels.is_empty() {
            return Err(cfg("at least one channel is needed".to_string()));
        }
        // The annotation signal is one more; ns has 4 characters.
        if spec.channels.len() + 1 > 9999 {
            return Err(cfg(format!(
                "{} channels are more than an EDF header can describe (9998)",
                spec.channels.len()
            )));
        }
        let st = spec.start;
        if !(1..=12).contains(&st.month)
            || st.day < 1
            || st.day > days_in_month(st.year, st.month)
            || st.hour > 23
            || st.minute > 59
            || st.second > 59
            || st.nanos > 999_999_999
        {
            return Err(cfg(format!("start time {st} is not a valid date and time")));
        }
        if st.year < 1985 {
            return Err(cfg(format!(
                "start year {} is before 1985, which the EDF date field cannot hold",
                st.year
            )));
        }
        if st.year > 9999 {
            return Err(cfg(format!(
                "start year {} has more than 4 digits",
                st.year
            )));
        }
        // Sub-second start, to the 100 ns the TALs carry; rounded half-up in integers,
        // since `nanos / 1e9 * 1e7` in floating point can land just below a half.
        let sub_second = ((u64::from(st.nanos) + 50) / 100) as f64 / 1e7;

        let mut labels = Vec::new();
        let mut units = Vec::new();
        let mut transducers = Vec::new();
        let mut prefilters = Vec::new();
        let mut physical = Vec::new();
        let mut phys_text = Vec::new();
        for (i, c) in spec.channels.iter().enumerate() {
            let what = |f: &str| format!("channel {i} {f}");
            let label = ascii_field(&what("label"), &c.label, 16)?;
            if label.trim() == "EDF Annotations" || label.trim() == "BDF Annotations" {
                return Err(cfg(format!(
                    "channel {i} label {label:?} is reserved for the annotation signal"
                )));
            }
            labels.push(label);
            let unit = c.unit.replace(['µ', 'μ'], "u");
            units.push(ascii_field(&what("unit"), &unit, 8)?);
            transducers.push(ascii_field(&what("transducer"), &c.transducer, 80)?);
            prefilters.push(ascii_field(&what("prefilter"), &c.prefilter, 80)?);
            if !(c.rate_hz.is_finite() && c.rate_hz > 0.0) {
                return Err(cfg(format!(
                    "channel {i} ({:?}) rate {} Hz is not a positive number",
                    c.label, c.rate_hz
                )));
            }
            let (lo, hi) = c.physical_range;
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(cfg(format!(
                    "channel {i} ({:?}) physical range {lo}..{hi} is not an increasing pair of finite numbers",
                    c.label
                )));
            }
            let too_wide = || {
                cfg(format!(
                    "channel {i} ({:?}) physical range {lo}..{hi} does not fit the 8-character EDF fields (−9999999..99999999); use a larger unit",
                    c.label
                ))
            };
            let lo_t = fmt_outward(lo, false).ok_or_else(too_wide)?;
            let hi_t = fmt_outward(hi, true).ok_or_else(too_wide)?;
            // What a reader will see, so that quantisation uses exactly the same numbers.
            let lo_w: f64 = lo_t.parse().map_err(|_| too_wide())?;
            let hi_w: f64 = hi_t.parse().map_err(|_| too_wide())?;
            physical.push((lo_w, hi_w));
            phys_text.push((lo_t, hi_t));
        }

        let mut annotations = Vec::with_capacity(spec.annotations.len());
        for (i, a) in spec.annotations.iter().enumerate() {
            if !a.onset_s.is_finite() || a.onset_s.abs() >= 1e11 {
                return Err(cfg(format!(
                    "annotation {i} onset {} s is not a usable time",
                    a.onset_s
                )));
            }
            if let Some(d) = a.duration_s {
                if !(0.0..1e11).contains(&d) {
                    return Err(cfg(format!(
                        "annotation {i} duration {d} s is not a non-negative time"
                    )));
                }
            }
            if a.text.is_empty() {
                return Err(cfg(format!(
                    "annotation {i} at {} s has an empty text, which EDF+ reserves for time keeping",
                    a.onset_s
                )));
            }
            if a.text.contains(['\0', '\u{14}', '\u{15}']) {
                return Err(cfg(format!(
                    "annotation {i} text {:?} contains 0x00, 0x14 or 0x15, the TAL separators",
                    a.text
                )));
            }
            let mut tal_bytes = Vec::new();
            tal::encode_tal(
                &mut tal_bytes,
                a.onset_s + sub_second,
                a.duration_s,
                &a.text,
            );
            annotations.push(PreparedAnnotation {
                onset: a.onset_s,
                tal: tal_bytes,
                text: a.text.clone(),
            });
        }
        annotations.sort_by(|a, b| a.onset.total_cmp(&b.onset));

        let rates: Vec<f64> = spec.channels.iter().map(|c| c.rate_hz).collect();
        let layout = choose_layout(
            &rates,
            spec.record_duration_s,
            &annotations,
            sub_second,
            lengths,
        )?;
        let data_bytes: usize = layout.spr.iter().map(|s| s * 2).sum();
        let ann_samples = layout.annotation_bytes / 2;
        if ann_samples as u64 > MAX_FIELD_8 {
            return Err(cfg(
                "the annotations need more space per record than EDF can declare".to_string(),
            ));
        }

        // Header.
        let ns = spec.channels.len() + 1;
        let mut h = vec![b' '; 256 * (ns + 1)];
        put(&mut h, 0, 8, "0");
        let patient = format!(
            "{} X X {}",
            subfield("patient code", &spec.patient_code)?,
            subfield("patient name", &spec.patient_name)?
        );
        let patient = ascii_field("patient identification", &patient, 80)?;
        put(&mut h, 8, 80, &patient);
        let recording = format!(
            "Startdate {:02}-{}-{:04} X X {}",
            st.day,
            month_abbrev(st.month),
            st.year,
            subfield("equipment", &spec.equipment)?
        );
        let recording = ascii_field("recording identification", &recording, 80)?;
        put(&mut h, 88, 80, &recording);
        let yy = if st.year <= 2084 {
            format!("{:02}", st.year % 100)
        } else {
            "yy".to_string()
        };
        put(
            &mut h,
            168,
            8,
            &format!("{:02}.{:02}.{yy}", st.day, st.month),
        );
        put(
            &mut h,
            176,
            8,
            &format!("{:02}.{:02}.{:02}", st.hour, st.minute, st.second),
        );
        put(&mut h, 184, 8, &(256 * (ns + 1)).to_string());
        put(&mut h, 192, 44, "EDF+C");
        put(&mut h, 236, 8, "-1");
        put(&mut h, 244, 8, &layout.duration_text);
        put(&mut h, 252, 4, &ns.to_string());
        let mut off = 256;
        let mut column = |width: usize, values: &mut dyn Iterator<Item = String>| {
            for (i, v) in values.enumerate() {
                put(&mut h, off + i * width, width, &v);
            }
            off += width * ns;
        };
        let ann = |s: &str| std::iter::once(s.to_string());
        column(
            16,
            &mut labels.iter().cloned().chain(ann("EDF Annotations")),
        );
        column(80, &mut transducers.iter().cloned().chain(ann("")));
        column(8, &mut units.iter().cloned().chain(ann("")));
        column(
            8,
            &mut phys_text.iter().map(|p| p.0.clone()).chain(ann("-1")),
        );
        column(
            8,
            &mut phys_text.iter().map(|p| p.1.clone()).chain(ann("1")),
        );
        column(8, &mut (0..ns).map(|_| "-32768".to_string()));
        column(8, &mut (0..ns).map(|_| "32767".to_string()));
        column(80, &mut prefilters.iter().cloned().chain(ann("")));
        column(
            8,
            &mut layout
                .spr
                .iter()
                .map(|s| s.to_string())
                .chain(ann(&ann_samples.to_string())),
        );
        column(32, &mut (0..ns).map(|_| String::new()));

        if path.file_name().is_none() {
            return Err(cfg(format!("{} is not a file path", path.display())));
        }
        // Temporary file beside the destination; dropping it removes it on any error.
        let mut file = AtomicFile::create(path)?;
        file.write_all(&h).map_err(|e| file.io_error(e))?;
        Ok(EdfWriter {
            path: path.to_path_buf(),
            file: Some(file),
            record_duration: layout.duration,
            sub_second,
            pad_digital: physical
                .iter()
                .map(|&(lo, hi)| quantize_one(0.0, lo, hi).0)
                .collect(),
            physical,
            annotation_bytes: layout.annotation_bytes,
            data_bytes,
            annotations,
            next_annotation: 0,
            pending: vec![Vec::new(); spec.channels.len()],
            held: vec![0; data_bytes],
            has_held: false,
            scratch: vec![0; data_bytes],
            ann_buf: Vec::with_capacity(layout.annotation_bytes),
            records_written: 0,
            clipped: 0,
            padded: vec![0; spec.channels.len()],
            spr: layout.spr,
        })
    }

    /// The data record duration in seconds.
    pub fn record_duration_s(&self) -> f64 {
        self.record_duration
    }

    /// Samples per data record of each channel.
    pub fn samples_per_record(&self) -> &[usize] {
        &self.spr
    }

    /// The physical range written for channel `ch` (the requested one rounded outward).
    pub fn physical_range(&self, ch: usize) -> Option<(f64, f64)> {
        self.physical.get(ch).copied()
    }

    /// Appends `blocks[i]` to channel `i` (one slice per channel, any lengths) and writes
    /// every data record that all channels now fill. Samples that do not yet fill a record
    /// wait for the next call, so blocks need not be aligned to records; feeding channels
    /// time-aligned blocks keeps that wait (and the memory it takes) under one record.
    pub fn push(&mut self, blocks: &[&[f32]]) -> Result<()> {
        if blocks.len() != self.pending.len() {
            return Err(cfg(format!(
                "push got {} blocks for {} channels",
                blocks.len(),
                self.pending.len()
            )));
        }
        for (p, b) in self.pending.iter_mut().zip(blocks) {
            p.extend_from_slice(b);
        }
        self.write_complete_records()
    }

    fn write_complete_records(&mut self) -> Result<()> {
        let n = self
            .pending
            .iter()
            .zip(&self.spr)
            .map(|(p, &s)| p.len() / s)
            .min()
            .unwrap_or(0);
        for k in 0..n {
            let mut off = 0;
            for (c, p) in self.pending.iter().enumerate() {
                let s = self.spr[c];
                let (lo, hi) = self.physical[c];
                self.clipped += quantize(
                    &p[k * s..(k + 1) * s],
                    &mut self.scratch[off..off + 2 * s],
                    lo,
                    hi,
                );
                off += 2 * s;
            }
            if self.has_held {
                self.write_held(false)?;
            }
            std::mem::swap(&mut self.held, &mut self.scratch);
            self.has_held = true;
        }
        if n > 0 {
            for (p, &s) in self.pending.iter_mut().zip(&self.spr) {
                p.drain(..n * s);
            }
        }
        Ok(())
    }

    /// Writes the held record with its annotation part; `last` takes every remaining annotation.
    fn write_held(&mut self, last: bool) -> Result<()> {
        let r = self.records_written;
        let d = self.record_duration;
        self.ann_buf.clear();
        tal::encode_timekeeping(&mut self.ann_buf, r as f64 * d + self.sub_second);
        if self.ann_buf.len() > self.annotation_bytes {
            return Err(cfg(format!(
                "the time stamp of data record {r} does not fit the annotation space"
            )));
        }
        while let Some(a) = self.annotations.get(self.next_annotation) {
            let due = last || bin(a.onset, d, None) <= r;
            if !due || self.ann_buf.len() + a.tal.len() > self.annotation_bytes {
                break;
            }
            self.ann_buf.extend_from_slice(&a.tal);
            self.next_annotation += 1;
        }
        self.ann_buf.resize(self.annotation_bytes, 0);
        let Some(file) = self.file.as_mut() else {
            return Err(cfg("the writer already failed or finished".to_string()));
        };
        let written = file
            .write_all(&self.held[..self.data_bytes])
            .and_then(|_| file.write_all(&self.ann_buf));
        if let Err(e) = written {
            // A partial record may be on disk: refuse further writes (dropping the file
            // removes it).
            let err = file.io_error(e);
            self.file = None;
            return Err(err);
        }
        self.records_written += 1;
        Ok(())
    }

    /// Pads the last record, writes the annotations still due, patches the record count,
    /// syncs and renames the temporary file to the destination.
    ///
    /// Fails with [`Error::Config`] when annotations remain that no record could take
    /// (only possible when no samples were pushed, or when many annotations lie after the
    /// end of the signals), and [`Error::Io`] on a write failure; the destination is then
    /// untouched and the temporary file removed.
    pub fn finish(self) -> Result<EdfWriteSummary> {
        let (summary, staged) = self.finish_staged()?;
        staged.commit()?;
        Ok(summary)
    }

    /// [`finish`](Self::finish) up to the rename: the file is complete and synced under
    /// its temporary name; [`Staged::commit`] moves it to the destination, dropping the
    /// [`Staged`] removes it.
    pub fn finish_staged(mut self) -> Result<(EdfWriteSummary, Staged)> {
        // Pad the partial last record, if any.
        let need = self
            .pending
            .iter()
            .zip(&self.spr)
            .map(|(p, &s)| p.len().div_ceil(s))
            .max()
            .unwrap_or(0);
        if need > 0 {
            for c in 0..self.pending.len() {
                let (lo, hi) = self.physical[c];
                // Physical value of the pad digital, so quantising gives exactly it.
                let gain = (hi - lo) / (DIGITAL_MAX - DIGITAL_MIN);
                let pad = (f64::from(self.pad_digital[c]) - DIGITAL_MIN) * gain + lo;
                let target = need * self.spr[c];
                let extra = target - self.pending[c].len();
                self.padded[c] += extra as u64;
                self.pending[c].resize(target, pad as f32);
            }
            self.write_complete_records()?;
        }
        if self.has_held {
            self.write_held(true)?;
            self.has_held = false;
        }
        if let Some(a) = self.annotations.get(self.next_annotation) {
            return Err(cfg(format!(
                "{} annotations did not fit in the {} data records written (the first: {:?} at {} s)",
                self.annotations.len() - self.next_annotation,
                self.records_written,
                a.text,
                a.onset
            )));
        }
        let n = self.records_written;
        if n > MAX_FIELD_8 {
            return Err(cfg(format!(
                "{n} data records are more than the 8-character header field can count"
            )));
        }
        let Some(mut file) = self.file.take() else {
            return Err(cfg("the writer already failed or finished".to_string()));
        };
        let mut field = [b' '; 8];
        put(&mut field, 0, 8, &n.to_string());
        file.file()?
            .write_all_at(&field, 236)
            .map_err(|e| file.io_error(e))?;
        let staged = file.finish()?;
        let summary = EdfWriteSummary {
            path: self.path.clone(),
            n_records: n,
            record_duration_s: self.record_duration,
            samples_per_record: self.spr.iter().map(|&s| s as u64).collect(),
            physical_ranges: self.physical.clone(),
            clipped_samples: self.clipped,
            padded_samples: self.padded.clone(),
        };
        Ok((summary, staged))
    }
}

/// Digital value for physical `x` in the range `lo..hi`, and whether it was clipped (or NaN).
fn quantize_one(x: f64, lo: f64, hi: f64) -> (i16, bool) {
    let scale = (DIGITAL_MAX - DIGITAL_MIN) / (hi - lo);
    let v = ((x - lo) * scale).round() + DIGITAL_MIN;
    let inside = (DIGITAL_MIN..=DIGITAL_MAX).contains(&v);
    // NaN stays NaN through clamp, and `as` turns it into 0.
    (v.clamp(DIGITAL_MIN, DIGITAL_MAX) as i16, !inside)
}

/// Quantises `src` into little-endian 16-bit `dst`; returns the number clipped (or NaN).
fn quantize(src: &[f32], dst: &mut [u8], lo: f64, hi: f64) -> u64 {
    let scale = (DIGITAL_MAX - DIGITAL_MIN) / (hi - lo);
    let mut clipped = 0u64;
    for (x, out) in src.iter().zip(dst.chunks_exact_mut(2)) {
        let v = ((f64::from(*x) - lo) * scale).round() + DIGITAL_MIN;
        clipped += u64::from(!(DIGITAL_MIN..=DIGITAL_MAX).contains(&v));
        out.copy_from_slice(&(v.clamp(DIGITAL_MIN, DIGITAL_MAX) as i16).to_le_bytes());
    }
    clipped
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn outward_formatting() {
        assert_eq!(fmt_outward(1000.0, true).unwrap(), "1000");
        assert_eq!(fmt_outward(-1000.0, false).unwrap(), "-1000");
        assert_eq!(fmt_outward(0.1, true).unwrap(), "0.1");
        assert_eq!(fmt_outward(-1234.5678, false).unwrap(), "-1234.57");
        assert_eq!(fmt_outward(-1234.5678, true).unwrap(), "-1234.56");
        assert_eq!(fmt_outward(1.23456789, true).unwrap(), "1.234568");
        assert_eq!(fmt_outward(1.23456789, false).unwrap(), "1.234567");
        assert_eq!(fmt_outward(99_999_999.0, true).unwrap(), "99999999");
        assert_eq!(fmt_outward(99_999_999.5, true), None);
        assert_eq!(fmt_outward(-9_999_999.5, false), None);
        assert_eq!(fmt_outward(1e-9, true).unwrap(), "0.000001");
        assert_eq!(fmt_outward(-1e-9, true).unwrap(), "0");
        assert_eq!(fmt_outward(1e-9, false).unwrap(), "0");
        for x in [0.3, -0.7, 123.456, -9.87654321, 4.5e-5, 12345678.9] {
            let lo: f64 = fmt_outward(x, false).unwrap().parse().unwrap();
            let hi: f64 = fmt_outward(x, true).unwrap().parse().unwrap();
            assert!(lo <= x && x <= hi, "{x}: {lo} {hi}");
        }
    }

    #[test]
    fn durations_follow_the_rule() {
        let pick = |rates: &[f64]| choose_layout(rates, None, &[], 0.0, None).unwrap();
        // 2 channels at 200 Hz: 1 s records of 800 bytes.
        assert_eq!(pick(&[200.0, 200.0]).duration_text, "1");
        // 8 × 20 kHz: 1 s = 320 000 bytes, 0.2 s = 64 000 > 61440, so 0.1 s.
        let l = pick(&[20_000.0; 8]);
        assert_eq!(l.duration_text, "0.1");
        assert_eq!(l.spr, vec![2000; 8]);
        // 487.5 Hz has no whole samples in ≤ 1 s steps of 1-2-5, but 2 s holds 975.
        let l = pick(&[500.0, 487.5, 499.5]);
        assert_eq!(l.duration_text, "2");
        assert_eq!(l.spr, vec![1000, 975, 999]);
        // 2000 Hz and 10 Hz: 0.1 s keeps both whole.
        assert_eq!(pick(&[2000.0, 10.0]).duration_text, "1");
        assert_eq!(pick(&[100_000.0]).duration_text, "0.2");
        // No duration works for an irrational-looking rate.
        let e = choose_layout(&[std::f64::consts::PI], None, &[], 0.0, None)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cannot be stored in EDF"), "{e}");
    }

    #[test]
    fn quantize_rounds_and_clips() {
        let mut out = [0u8; 10];
        let c = quantize(&[-1.0, 1.0, 0.0, 2.0, f32::NAN], &mut out, -1.0, 1.0);
        let d: Vec<i16> = out
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(d, vec![-32768, 32767, 0, 32767, 0]);
        assert_eq!(c, 2);
    }

    fn ann(onset: f64, text: &str) -> PreparedAnnotation {
        let mut tal_bytes = Vec::new();
        tal::encode_tal(&mut tal_bytes, onset, None, text);
        PreparedAnnotation {
            onset,
            tal: tal_bytes,
            text: text.to_string(),
        }
    }

    #[test]
    fn annotation_space_covers_the_fullest_record() {
        let anns: Vec<_> = (0..10)
            .map(|i| ann(5.0 + i as f64 * 0.01, "spike"))
            .collect();
        let b = annotation_bytes(&anns, 1.0, 0.0, 400, Some(10));
        let need = timekeeping_len(5.0) + anns.iter().map(|a| a.tal.len()).sum::<usize>();
        assert!(b >= need && b % 2 == 0, "{b} < {need}");
        // With a cap forcing carry-over, everything still fits in the records.
        let b = annotation_bytes(&anns, 1.0, 0.0, MAX_RECORD_BYTES - 10, Some(10));
        assert!(all_fit(&anns, 1.0, 0.0, b, 10));
        // Annotations piled at the very end grow the space until they fit in the last record.
        let late: Vec<_> = (0..50).map(|i| ann(100.0 + i as f64, "late")).collect();
        let b = annotation_bytes(&late, 1.0, 0.0, MAX_RECORD_BYTES - 10, Some(3));
        assert!(all_fit(&late, 1.0, 0.0, b, 3));
        assert!(!all_fit(&late, 1.0, 0.0, 64, 3));
    }
}
