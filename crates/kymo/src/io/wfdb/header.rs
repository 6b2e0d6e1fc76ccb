//! Parsing of WFDB header (`.hea`) files (PhysioNet `header(5)`).
//!
//! The parser only reads text: it does not look at signal files. Values are kept as written
//! (`None` when a field is absent); the spec's defaults are applied by the accessor methods
//! of [`SignalSpec`] and by the reader.
//!
//! # Grammar
//!
//! Lines end with `\n`, optionally preceded by `\r`. Fields are separated by spaces or tabs.
//! Empty lines are skipped. A line whose first printing character is `#` is a comment and may
//! appear anywhere; its text (after the `#`, trimmed) goes to [`WfdbHeader::comments`].
//! Lines that are not valid UTF-8 are read as Latin-1 (with a warning). `[...]` marks an
//! optional field; an optional field may only be present when the one before it is.
//!
//! ```text
//! record line (the first non-comment line):
//!   NAME[/SEGMENTS] NSIG [FREQ[/COUNTERFREQ[(BASECOUNTER)]] [NSAMP [TIME [DATE]]]]
//!     NAME         record name
//!     SEGMENTS     number of segments: present only in multi-segment records (unsupported)
//!     NSIG         number of signals, integer >= 0
//!     FREQ         frames per second, floating point > 0; default 250
//!     COUNTERFREQ  counter ticks per second (parsed, not used)
//!     BASECOUNTER  counter value at sample 0 (parsed, not used)
//!     NSAMP        number of frames, integer; 0 or absent = unknown (derived from the file size)
//!     TIME         base time of day, [[HH:]MM:]SS[.fff]
//!     DATE         base date, DD/MM/YYYY
//!
//! signal specification line (one per signal, in signal order, after the record line):
//!   FILE FORMAT[xSPF][:SKEW][+OFFSET] [GAIN[(BASELINE)][/UNITS] [RES [ZERO [INIT [CHECKSUM [BLOCK [DESCRIPTION...]]]]]]]
//!     FILE         signal file name, relative to the header's folder ('-' = standard input)
//!     FORMAT       storage format code (see formats.rs)
//!     SPF          samples of this signal per frame, integer >= 1; default 1
//!     SKEW         samples of this signal stored before sample 0; default 0
//!     OFFSET       bytes before sample 0 in the signal file (preamble); default 0
//!     GAIN         ADC units per physical unit, floating point; 0 or absent = 200 (uncalibrated)
//!     BASELINE     ADC value of physical zero, integer; default ADC zero
//!     UNITS        physical unit, no whitespace; default "mV"
//!     RES          ADC resolution in bits; 0 or absent = 12 (10 for format 8), capped at the
//!                  format's width
//!     ZERO         ADC value at the middle of the ADC range, integer; default 0
//!     INIT         value of sample 0 (the start of the integration for format 8); default ZERO
//!     CHECKSUM     16-bit signed sum of all samples of the signal
//!     BLOCK        block size in bytes (for tape devices; parsed, not used); default 0
//!     DESCRIPTION  rest of the line, trimmed: the signal's label; default "record NAME, signal I"
//! ```
//!
//! Lines after the last signal line that are not comments are ignored (with a warning), as
//! libwfdb does.

use std::path::Path;

use crate::io::ReadLimits;
use crate::{Error, Result};

/// The record line.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordLine {
    /// Line number in the header file (1-based).
    pub line: usize,
    /// Record name.
    pub name: String,
    /// Number of signals.
    pub n_signals: usize,
    /// Frames per second (the sampling frequency of a signal with one sample per frame);
    /// 250 when the field is absent.
    pub frame_rate_hz: f64,
    /// Counter frequency, when given.
    pub counter_freq_hz: Option<f64>,
    /// Base counter value, when given.
    pub base_counter: Option<f64>,
    /// Number of frames; `None` when absent or zero (unknown).
    pub n_frames: Option<u64>,
    /// Base time of day: hour, minute, second, nanoseconds.
    pub base_time: Option<(u8, u8, u8, u32)>,
    /// Base date: day, month, year.
    pub base_date: Option<(u8, u8, i32)>,
}

/// One signal specification line, fields as written.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSpec {
    /// Line number in the header file (1-based).
    pub line: usize,
    /// Signal file name as written.
    pub file_name: String,
    /// Format code as written (may be one the reader does not support).
    pub format: u32,
    /// Samples per frame (1 when absent).
    pub samples_per_frame: u64,
    /// Skew in samples (0 when absent).
    pub skew: u64,
    /// Byte offset of sample 0 in the signal file (0 when absent).
    pub byte_offset: u64,
    /// ADC gain as written (may be 0).
    pub adc_gain: Option<f64>,
    /// Baseline as written.
    pub baseline: Option<i64>,
    /// Units as written (`None` when absent or empty).
    pub units: Option<String>,
    /// ADC resolution in bits as written (may be 0).
    pub adc_resolution: Option<u32>,
    /// ADC zero as written.
    pub adc_zero: Option<i64>,
    /// Initial value as written.
    pub initial_value: Option<i64>,
    /// Checksum as written.
    pub checksum: Option<i64>,
    /// Block size as written.
    pub block_size: Option<i64>,
    /// Description as written (`None` when absent).
    pub description: Option<String>,
}

/// The default ADC gain (`DEFGAIN`, adu per physical unit) for a gain of 0 or none.
pub const DEFAULT_GAIN: f64 = 200.0;
/// The default sampling frequency (`DEFREQ`, Hz) when the record line has none.
pub const DEFAULT_FREQ_HZ: f64 = 250.0;
/// The default physical unit.
pub const DEFAULT_UNITS: &str = "mV";

impl SignalSpec {
    /// ADC gain with the default applied: 0 or absent means 200 adu per unit.
    pub fn gain(&self) -> f64 {
        match self.adc_gain {
            Some(g) if g != 0.0 => g,
            _ => DEFAULT_GAIN,
        }
    }

    /// True when the gain field is absent or 0 (an uncalibrated signal).
    pub fn is_uncalibrated(&self) -> bool {
        !matches!(self.adc_gain, Some(g) if g != 0.0)
    }

    /// ADC zero, 0 when absent.
    pub fn zero(&self) -> i64 {
        self.adc_zero.unwrap_or(0)
    }

    /// Baseline with the default applied: the ADC zero when absent.
    pub fn baseline(&self) -> i64 {
        self.baseline.unwrap_or_else(|| self.zero())
    }

    /// Units with the default applied ("mV").
    pub fn units(&self) -> &str {
        self.units.as_deref().unwrap_or(DEFAULT_UNITS)
    }

    /// Initial value with the default applied: the ADC zero when absent.
    pub fn initial(&self) -> i64 {
        self.initial_value.unwrap_or_else(|| self.zero())
    }
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq)]
pub struct WfdbHeader {
    /// The record line.
    pub record: RecordLine,
    /// One entry per signal, in signal order.
    pub signals: Vec<SignalSpec>,
    /// Text of every comment line, in file order.
    pub comments: Vec<String>,
    /// Departures from the spec that were tolerated, one sentence each.
    pub warnings: Vec<String>,
}

/// Longest quoted field text in an error message (fuzzed lines can be long).
const MAX_QUOTE: usize = 40;

fn quote(s: &str) -> String {
    if s.chars().count() <= MAX_QUOTE {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX_QUOTE).collect();
        format!("{head:?}…")
    }
}

fn bad(path: &Path, line: usize, field: &str, text: &str, what: &str) -> Error {
    Error::malformed(
        path,
        format!("wfdb: line {line} ({field}): {} is not {what}", quote(text)),
    )
}

/// Splits a line into fields separated by spaces or tabs, with their byte ranges.
fn fields(line: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        let sep = c == ' ' || c == '\t';
        match (sep, start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

fn parse_u64(path: &Path, line: usize, field: &str, s: &str) -> Result<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(path, line, field, s, "a non-negative integer"));
    }
    s.parse::<u64>()
        .map_err(|_| bad(path, line, field, s, "an integer below 2^64"))
}

fn parse_i64(path: &Path, line: usize, field: &str, s: &str) -> Result<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(path, line, field, s, "an integer"));
    }
    s.parse::<i64>()
        .map_err(|_| bad(path, line, field, s, "an integer in the 64-bit range"))
}

fn parse_f64(path: &Path, line: usize, field: &str, s: &str) -> Result<f64> {
    // Rust's parser also takes "inf" and "nan"; scanf would too, but neither is a usable value.
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    match s.parse::<f64>() {
        Ok(v) if ok_chars && v.is_finite() => Ok(v),
        _ => Err(bad(path, line, field, s, "a finite number")),
    }
}

/// Decodes one line: UTF-8 when valid, else Latin-1 (every byte is a character).
fn decode_line(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), true),
        Err(_) => (bytes.iter().map(|&b| char::from(b)).collect(), false),
    }
}

/// Parses a header file's bytes. `path` is used in messages only.
///
/// Fails with [`Error::Malformed`] (naming the line and field) on a field that is not a number
/// where one is needed or a missing signal line, [`Error::Unsupported`] for multi-segment
/// records, and [`Error::Limit`] when the signal count exceeds `limits.max_channels`.
pub fn parse(path: &Path, bytes: &[u8], limits: &ReadLimits) -> Result<WfdbHeader> {
    let mut comments = Vec::new();
    let mut warnings = Vec::new();
    let mut record: Option<RecordLine> = None;
    let mut signals: Vec<SignalSpec> = Vec::new();
    let mut latin1_warned = false;
    // Non-comment lines after the last signal line: (count, first line number).
    let mut extra_lines = (0usize, 0usize);

    for (idx, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = idx + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let (text, utf8) = decode_line(raw);
        if !utf8 && !latin1_warned {
            warnings.push(format!(
                "wfdb: line {line_no} is not valid UTF-8; it was read as Latin-1"
            ));
            latin1_warned = true;
        }
        let trimmed = text.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r');
        if trimmed.is_empty() {
            continue;
        }
        if let Some(c) = trimmed.strip_prefix('#') {
            comments.push(c.trim().to_string());
            continue;
        }
        match &record {
            None => {
                record = Some(parse_record_line(
                    path,
                    line_no,
                    trimmed,
                    limits,
                    &mut warnings,
                )?)
            }
            Some(r) if signals.len() < r.n_signals => {
                signals.push(parse_signal_line(path, line_no, trimmed, signals.len())?)
            }
            Some(_) => {
                if extra_lines.0 == 0 {
                    extra_lines.1 = line_no;
                }
                extra_lines.0 += 1;
            }
        }
    }

    let Some(record) = record else {
        return Err(Error::malformed(
            path,
            "wfdb: line 1 (record line): the header has no record line (it is empty or holds only comments)",
        ));
    };
    if signals.len() < record.n_signals {
        return Err(Error::malformed(
            path,
            format!(
                "wfdb: line {} (number of signals): the record line declares {} signals but the header has only {} signal line(s)",
                record.line,
                record.n_signals,
                signals.len()
            ),
        ));
    }
    if extra_lines.0 > 0 {
        warnings.push(format!(
            "wfdb: {} line(s) after the last signal line (from line {}) were ignored",
            extra_lines.0, extra_lines.1
        ));
    }
    Ok(WfdbHeader {
        record,
        signals,
        comments,
        warnings,
    })
}

fn parse_record_line(
    path: &Path,
    line: usize,
    text: &str,
    limits: &ReadLimits,
    warnings: &mut Vec<String>,
) -> Result<RecordLine> {
    let spans = fields(text);
    let field = |i: usize| spans.get(i).map(|&(a, b)| &text[a..b]);

    // NAME[/SEGMENTS]
    let first = field(0).unwrap_or_default();
    let (name, segments) = match first.split_once('/') {
        Some((n, s)) => (n, Some(s)),
        None => (first, None),
    };
    if let Some(s) = segments {
        let n = parse_u64(path, line, "number of segments", s)?;
        return Err(Error::unsupported(
            path,
            format!(
                "wfdb: line {line} (record line): multi-segment records are not supported yet (this one has {n} segments)"
            ),
        ));
    }

    // NSIG
    let Some(nsig) = field(1) else {
        return Err(Error::malformed(
            path,
            format!(
                "wfdb: line {line} (number of signals): the record line has no number of signals"
            ),
        ));
    };
    let n_signals = parse_u64(path, line, "number of signals", nsig)?;
    limits
        .check_channels(path, n_signals)
        .map_err(|e| match e {
            Error::Limit { path, what } => Error::limit(
                &path,
                format!("wfdb: line {line} (number of signals): {what}"),
            ),
            e => e,
        })?;
    let n_signals = usize::try_from(n_signals).map_err(|_| {
        Error::limit(
            path,
            format!(
                "wfdb: line {line} (number of signals): {n_signals} signals do not fit in memory"
            ),
        )
    })?;
    limits.reserve(
        path,
        "the signal table",
        n_signals as u64,
        std::mem::size_of::<SignalSpec>() as u64,
    )?;

    // FREQ[/COUNTERFREQ[(BASECOUNTER)]]
    let mut frame_rate_hz = DEFAULT_FREQ_HZ;
    let mut counter_freq_hz = None;
    let mut base_counter = None;
    if let Some(f) = field(2) {
        let (freq, counter) = match f.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (f, None),
        };
        frame_rate_hz = parse_f64(path, line, "sampling frequency", freq)?;
        if frame_rate_hz <= 0.0 {
            return Err(bad(
                path,
                line,
                "sampling frequency",
                freq,
                "a positive number",
            ));
        }
        if let Some(c) = counter {
            let (cf, base) = match c.split_once('(') {
                Some((a, b)) => {
                    let Some(b) = b.strip_suffix(')') else {
                        return Err(bad(
                            path,
                            line,
                            "base counter value",
                            c,
                            "a number in parentheses",
                        ));
                    };
                    (a, Some(b))
                }
                None => (c, None),
            };
            counter_freq_hz = Some(parse_f64(path, line, "counter frequency", cf)?);
            if let Some(b) = base {
                base_counter = Some(parse_f64(path, line, "base counter value", b)?);
            }
        }
    }

    // NSAMP
    let mut n_frames = None;
    if let Some(n) = field(3) {
        let n = parse_u64(path, line, "number of samples per signal", n)?;
        n_frames = (n > 0).then_some(n);
    }

    // TIME [DATE]
    let mut base_time = None;
    if let Some(t) = field(4) {
        base_time = parse_time(path, line, t, warnings)?;
    }
    let mut base_date = None;
    if let Some(d) = field(5) {
        base_date = parse_date(path, line, d, warnings)?;
    }
    if spans.len() > 6 {
        warnings.push(format!(
            "wfdb: line {line} (record line): {} fields after the base date were ignored",
            spans.len() - 6
        ));
    }

    Ok(RecordLine {
        line,
        name: name.to_string(),
        n_signals,
        frame_rate_hz,
        counter_freq_hz,
        base_counter,
        n_frames,
        base_time,
        base_date,
    })
}

/// `[[HH:]MM:]SS[.fff]`. Non-numeric parts are errors; out-of-range values are warnings
/// (the time is then dropped), since the samples do not depend on it.
fn parse_time(
    path: &Path,
    line: usize,
    t: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<(u8, u8, u8, u32)>> {
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() > 3 {
        return Err(bad(path, line, "base time", t, "a time HH:MM:SS"));
    }
    let (h, m, s) = match parts.as_slice() {
        [s] => ("0", "0", *s),
        [m, s] => ("0", *m, *s),
        [h, m, s] => (*h, *m, *s),
        _ => return Err(bad(path, line, "base time", t, "a time HH:MM:SS")),
    };
    let (sec, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let not_time = || bad(path, line, "base time", t, "a time HH:MM:SS");
    let hour = parse_u64(path, line, "base time", h).map_err(|_| not_time())?;
    let minute = parse_u64(path, line, "base time", m).map_err(|_| not_time())?;
    let second = parse_u64(path, line, "base time", sec).map_err(|_| not_time())?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_time());
    }
    // Nanoseconds from up to 9 fraction digits (more are truncated).
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let d = frac.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
        nanos = nanos * 10 + d;
    }
    if hour > 23 || minute > 59 || second > 60 {
        warnings.push(format!(
            "wfdb: line {line} (base time): {} is out of range; the start time was dropped",
            quote(t)
        ));
        return Ok(None);
    }
    Ok(Some((hour as u8, minute as u8, second as u8, nanos)))
}

/// `DD/MM/YYYY`; same policy as [`parse_time`].
fn parse_date(
    path: &Path,
    line: usize,
    d: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<(u8, u8, i32)>> {
    let not_date = || bad(path, line, "base date", d, "a date DD/MM/YYYY");
    let parts: Vec<&str> = d.split('/').collect();
    let [dd, mm, yy] = parts.as_slice() else {
        return Err(not_date());
    };
    let day = parse_u64(path, line, "base date", dd).map_err(|_| not_date())?;
    let month = parse_u64(path, line, "base date", mm).map_err(|_| not_date())?;
    let year = parse_u64(path, line, "base date", yy).map_err(|_| not_date())?;
    if !(1..=31).contains(&day) || !(1..=12).contains(&month) || year > 9999 {
        warnings.push(format!(
            "wfdb: line {line} (base date): {} is out of range; the start date was dropped",
            quote(d)
        ));
        return Ok(None);
    }
    Ok(Some((day as u8, month as u8, year as i32)))
}

fn parse_signal_line(path: &Path, line: usize, text: &str, index: usize) -> Result<SignalSpec> {
    let spans = fields(text);
    let field = |i: usize| spans.get(i).map(|&(a, b)| &text[a..b]);
    let field_name = |name: &str| format!("{name} of signal {index}");

    let file_name = field(0).unwrap_or_default().to_string();

    // FORMAT[xSPF][:SKEW][+OFFSET]
    let Some(fmt) = field(1) else {
        return Err(Error::malformed(
            path,
            format!(
                "wfdb: line {line} (format of signal {index}): the signal line has no format field"
            ),
        ));
    };
    let (format, samples_per_frame, skew, byte_offset) =
        parse_format_field(path, line, index, fmt)?;

    let mut spec = SignalSpec {
        line,
        file_name,
        format,
        samples_per_frame,
        skew,
        byte_offset,
        adc_gain: None,
        baseline: None,
        units: None,
        adc_resolution: None,
        adc_zero: None,
        initial_value: None,
        checksum: None,
        block_size: None,
        description: None,
    };

    // GAIN[(BASELINE)][/UNITS]
    if let Some(g) = field(2) {
        let (gain_part, units) = match g.split_once('/') {
            Some((a, u)) => (a, Some(u)),
            None => (g, None),
        };
        let (gain_text, baseline) = match gain_part.split_once('(') {
            Some((a, b)) => {
                let Some(b) = b.strip_suffix(')') else {
                    return Err(bad(
                        path,
                        line,
                        &field_name("baseline"),
                        gain_part,
                        "a gain followed by a baseline in parentheses",
                    ));
                };
                (a, Some(b))
            }
            None => (gain_part, None),
        };
        spec.adc_gain = Some(parse_f64(path, line, &field_name("ADC gain"), gain_text)?);
        if let Some(b) = baseline {
            spec.baseline = Some(parse_i64(path, line, &field_name("baseline"), b)?);
        }
        spec.units = units.filter(|u| !u.is_empty()).map(str::to_string);
    }
    if let Some(r) = field(3) {
        let r = parse_u64(path, line, &field_name("ADC resolution"), r)?;
        let r = u32::try_from(r).map_err(|_| {
            bad(
                path,
                line,
                &field_name("ADC resolution"),
                &r.to_string(),
                "a bit count",
            )
        })?;
        spec.adc_resolution = Some(r);
    }
    if let Some(z) = field(4) {
        spec.adc_zero = Some(parse_i64(path, line, &field_name("ADC zero"), z)?);
    }
    if let Some(v) = field(5) {
        spec.initial_value = Some(parse_i64(path, line, &field_name("initial value"), v)?);
    }
    if let Some(c) = field(6) {
        spec.checksum = Some(parse_i64(path, line, &field_name("checksum"), c)?);
    }
    if let Some(b) = field(7) {
        spec.block_size = Some(parse_i64(path, line, &field_name("block size"), b)?);
    }
    if let Some(&(start, _)) = spans.get(8) {
        spec.description = Some(text[start..].trim().to_string());
    }
    Ok(spec)
}

/// `FORMAT[xSPF][:SKEW][+OFFSET]`, modifiers in this order.
fn parse_format_field(
    path: &Path,
    line: usize,
    index: usize,
    s: &str,
) -> Result<(u32, u64, u64, u64)> {
    let digits_end = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());

    let n = digits_end(s);
    let code = &s[..n];
    let format = parse_u64(path, line, &format!("format of signal {index}"), code)?;
    let format = u32::try_from(format).map_err(|_| {
        bad(
            path,
            line,
            &format!("format of signal {index}"),
            code,
            "a format code",
        )
    })?;
    let mut rest = &s[n..];

    let mut spf = 1;
    if let Some(r) = rest.strip_prefix('x') {
        let n = digits_end(r);
        let field = format!("samples per frame of signal {index}");
        spf = parse_u64(path, line, &field, &r[..n])?;
        if spf == 0 {
            return Err(bad(path, line, &field, &r[..n], "a positive integer"));
        }
        rest = &r[n..];
    }
    let mut skew = 0;
    if let Some(r) = rest.strip_prefix(':') {
        let n = digits_end(r);
        skew = parse_u64(path, line, &format!("skew of signal {index}"), &r[..n])?;
        rest = &r[n..];
    }
    let mut offset = 0;
    if let Some(r) = rest.strip_prefix('+') {
        let n = digits_end(r);
        offset = parse_u64(
            path,
            line,
            &format!("byte offset of signal {index}"),
            &r[..n],
        )?;
        rest = &r[n..];
    }
    if !rest.is_empty() {
        return Err(bad(
            path,
            line,
            &format!("format of signal {index}"),
            s,
            "a format code with optional xSAMPLES, :SKEW and +OFFSET",
        ));
    }
    Ok((format, spf, skew, offset))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<WfdbHeader> {
        parse(Path::new("t.hea"), s.as_bytes(), &ReadLimits::default())
    }

    #[test]
    fn record_100_fields_in_order() {
        let h = p("# unnecessary comment\n100 2 360 650000\r\n100.dat 212 200 11 1024 995 -22131 0 MLII\n\r\n100.dat 212 200 11 1024 1011 20052 0 V5\r\n# 69 M 1085 1629 x1\r\n").unwrap();
        assert_eq!(h.record.name, "100");
        assert_eq!(h.record.n_signals, 2);
        assert_eq!(h.record.frame_rate_hz, 360.0);
        assert_eq!(h.record.n_frames, Some(650000));
        let s = &h.signals[0];
        assert_eq!(s.line, 3);
        assert_eq!(s.format, 212);
        assert_eq!(s.adc_gain, Some(200.0));
        assert_eq!(s.units(), "mV");
        assert_eq!(s.adc_resolution, Some(11));
        assert_eq!(s.adc_zero, Some(1024));
        assert_eq!(s.baseline(), 1024);
        assert_eq!(s.initial_value, Some(995));
        assert_eq!(s.checksum, Some(-22131));
        assert_eq!(s.block_size, Some(0));
        assert_eq!(s.description.as_deref(), Some("MLII"));
        assert_eq!(h.signals[1].line, 5);
        assert_eq!(h.signals[1].description.as_deref(), Some("V5"));
        assert_eq!(h.comments, vec!["unnecessary comment", "69 M 1085 1629 x1"]);
        assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    }

    #[test]
    fn all_modifiers() {
        let h = p("r 1 500/100(3.5) 10 12:04:05.25 30/01/1989\nsig.dat 16x2:0+512 200(500)/uV 12 2048 7 9 0 Channel  A \n").unwrap();
        assert_eq!(h.record.counter_freq_hz, Some(100.0));
        assert_eq!(h.record.base_counter, Some(3.5));
        assert_eq!(h.record.base_time, Some((12, 4, 5, 250_000_000)));
        assert_eq!(h.record.base_date, Some((30, 1, 1989)));
        let s = &h.signals[0];
        assert_eq!(
            (s.format, s.samples_per_frame, s.skew, s.byte_offset),
            (16, 2, 0, 512)
        );
        assert_eq!(s.baseline, Some(500));
        assert_eq!(s.units(), "uV");
        assert_eq!(s.description.as_deref(), Some("Channel  A"));
    }

    #[test]
    fn defaults() {
        let h = p("r 1\nr.dat 16\n").unwrap();
        assert_eq!(h.record.frame_rate_hz, DEFAULT_FREQ_HZ);
        assert_eq!(h.record.n_frames, None);
        let s = &h.signals[0];
        assert_eq!(s.gain(), DEFAULT_GAIN);
        assert!(s.is_uncalibrated());
        assert_eq!(s.units(), "mV");
        assert_eq!(s.baseline(), 0);
        assert_eq!(s.initial(), 0);
        assert_eq!(s.description, None);
        let h = p("r 1 250 0\nr.dat 16 0/uV 12 5\n").unwrap();
        assert_eq!(h.record.n_frames, None);
        assert_eq!(h.signals[0].gain(), DEFAULT_GAIN);
        assert_eq!(h.signals[0].baseline(), 5);
        assert_eq!(h.signals[0].initial(), 5);
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = p("r 1 250\nr.dat 16 abc\n").unwrap_err().to_string();
        assert!(e.contains("line 2 (ADC gain of signal 0)"), "{e}");
        let e = p("r x 250\n").unwrap_err().to_string();
        assert!(e.contains("line 1 (number of signals)"), "{e}");
        let e = p("r 1 -5\nr.dat 16\n").unwrap_err().to_string();
        assert!(e.contains("line 1 (sampling frequency)"), "{e}");
        let e = p("r 1 nan\nr.dat 16\n").unwrap_err().to_string();
        assert!(e.contains("sampling frequency"), "{e}");
        let e = p("r 1\nr.dat 16y\n").unwrap_err().to_string();
        assert!(e.contains("line 2 (format of signal 0)"), "{e}");
        let e = p("r 1\nr.dat 16x0\n").unwrap_err().to_string();
        assert!(e.contains("samples per frame"), "{e}");
        let e = p("r 2\nr.dat 16\n").unwrap_err().to_string();
        assert!(
            e.contains("declares 2 signals but the header has only 1"),
            "{e}"
        );
        let e = p("# c\n\n").unwrap_err().to_string();
        assert!(e.contains("no record line"), "{e}");
        assert!(matches!(p("r/3 2 250\n"), Err(Error::Unsupported { .. })));
        assert!(matches!(p("r 1000000000 250\n"), Err(Error::Limit { .. })));
        let e = p("r 1 250 1 25:00:00\nr.dat 16\n").unwrap();
        assert_eq!(e.record.base_time, None);
        assert_eq!(e.warnings.len(), 1);
    }

    #[test]
    fn latin1_units() {
        let h = parse(
            Path::new("t.hea"),
            b"r 1 1 600\nr.dat 16x200 32.7675/\xb0 15 0 1487 0 0 sine 15 Hz\r\n",
            &ReadLimits::default(),
        )
        .unwrap();
        assert_eq!(h.signals[0].units(), "°");
        assert_eq!(h.signals[0].samples_per_frame, 200);
        assert_eq!(h.warnings.len(), 1);
    }
}
