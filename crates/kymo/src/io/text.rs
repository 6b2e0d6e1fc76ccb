//! Delimited text reader: one column per channel, one row per sample.
//!
//! Accepted layouts:
//! - delimiter: comma, tab, semicolon or runs of whitespace, sniffed from the first data
//!   lines (`.tsv` files are always tab-separated); with `;` a decimal comma is accepted;
//! - leading lines starting with `#` are comments ([`Header::comments`]); a sampling rate
//!   (`# Sampling Rate (Hz):= 1000.00`, `# fs = 2 kHz`) and channel labels
//!   (`# Labels:= EMG`) are recognised in them (BioSPPy "Simple Text Format"); `#` lines
//!   between data rows are skipped and not kept;
//! - an optional header row (a first row that is not all numbers) gives labels; a label
//!   ending in `(uV)` or `[uV]` gives the unit;
//! - a time column (header `time`, `t`, `time (s)`, `time_ms`, `seconds`, …) gives the rate
//!   and is not a channel; its steps must be uniform;
//! - empty cells, `NaN` and `NA` are NaN.
//!
//! The rate is, in order: [`OpenOptions::rate_hz`] (the `--rate` option), the time column,
//! a rate in the comments; with none of them `open` fails.
//!
//! # Memory and random access
//!
//! Text has no fixed record size, so `open` makes one streaming pass that validates every
//! row (same number of fields, every field a number, uniform time) and keeps the byte
//! offset of every [`INDEX_EVERY`]-th row. The index takes 24 bytes per 4096 rows (under
//! 6 KiB per million rows), so memory grows only as rows / 4096.
//! `read` seeks to the indexed row at or before `start` and parses forward, at most
//! 4095 rows more than asked; reading the next block of the same channel continues
//! from where the previous read stopped. Lines longer than [`MAX_LINE_BYTES`] are refused,
//! so a file without newlines cannot make the parser buffer all of it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::Path;

use csv::{ByteRecord, Position};

use super::{check_read_range, Channel, Format, Header, OpenOptions, SignalReader};
use crate::{Error, Result};

/// One index entry per this many data rows (see the module docs for the memory cost).
pub const INDEX_EVERY: u64 = 4096;

/// Longest line accepted, in bytes: 4096 channels of 20-character numbers need 84 KiB;
/// 4 MiB leaves room for anything real while bounding the parser's record buffer.
pub const MAX_LINE_BYTES: u64 = 4 << 20;

/// Bytes looked at to sniff the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

/// Data lines looked at to sniff the delimiter.
const SNIFF_LINES: usize = 20;

/// Most comment lines kept in [`Header::comments`] (the rest are counted in a warning).
const MAX_COMMENTS: usize = 1000;

/// Steps of the time column whose median is the reference step.
const MEDIAN_STEPS: usize = 1000;

/// Largest departure of one time step from the reference step, relative to it, beyond
/// the printing precision of the two values: samples of a fixed-rate ADC are exactly
/// uniform, so a larger departure means a gap, a repeated row or a clock jump.
const STEP_REL_TOL: f64 = 0.01;

/// A rate computed from time stamps within this relative distance of an integer is
/// taken as that integer (999.9999999 Hz from times printed with 7 digits → 1000 Hz).
const RATE_SNAP_REL: f64 = 1e-6;

/// Two rates (time column, comment, `--rate`) closer than this, relatively, agree.
const RATE_AGREE_REL: f64 = 1e-3;

/// How rows split into fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dialect {
    /// csv delimiter byte (b' ' for whitespace mode).
    delimiter: u8,
    /// Runs of spaces and tabs separate fields; empty fields are dropped.
    whitespace: bool,
    /// `1,5` means 1.5 (only with `;`).
    decimal_comma: bool,
    /// Every row ends with a delimiter: the empty last field is not a column.
    drop_trailing_empty: bool,
}

impl Dialect {
    fn name(&self) -> &'static str {
        if self.whitespace {
            return "whitespace";
        }
        match self.delimiter {
            b'\t' => "tab",
            b';' => "semicolon",
            _ => "comma",
        }
    }
}

/// Reads delimited text recordings.
pub struct TextReader {
    header: Header,
    rdr: csv::Reader<LineLimit>,
    dialect: Dialect,
    /// Column of each channel.
    columns: Vec<usize>,
    /// Position of data row `k * INDEX_EVERY`.
    index: Vec<Position>,
    /// The data row the csv reader returns next, when it is known.
    cursor: Option<u64>,
    rec: ByteRecord,
    ranges: Vec<Range<usize>>,
}

impl TextReader {
    /// Opens `path`: reads the comments, sniffs the delimiter and validates every row.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        let max_line = MAX_LINE_BYTES.min(opts.limits.max_alloc_bytes);
        let pre = read_preamble(path, &file, max_line)?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        let mut dialect = sniff(&pre.sample, ext == "tsv");
        let mut warnings = pre.warnings;

        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .delimiter(dialect.delimiter)
            .from_reader(LineLimit::new(file, max_line));
        // No header handling by csv (and no read on seek); then start after the comments.
        rdr.set_byte_headers(ByteRecord::new());
        let mut start = Position::new();
        start.set_byte(pre.body_offset).set_line(pre.body_line);
        // (seek_raw always moves the file: the preamble pass left its cursor elsewhere.)
        rdr.seek_raw(SeekFrom::Start(pre.body_offset), start)
            .map_err(|e| csv_error(path, e, pre.body_line))?;

        let mut rec = ByteRecord::new();
        let mut ranges = Vec::new();
        let mut labels: Option<Vec<String>> = None;
        let mut ncols: Option<usize> = None;
        let mut index: Vec<Position> = Vec::new();
        let mut rows: u64 = 0;
        let mut time_col: Option<(usize, f64)> = None; // (column, seconds per unit)
        let mut time_check: Option<TimeCheck> = None;
        let mut first_record = true;
        let rate_override = match opts.rate_hz {
            Some(r) if !(r.is_finite() && r > 0.0) => {
                return Err(Error::config(format!(
                    "{}: the sampling rate {r} Hz given with --rate is not a positive number",
                    path.display()
                )))
            }
            r => r,
        };

        while let Some(pos) = next_row(path, &mut rdr, &mut rec, dialect, &mut ranges)? {
            // The csv crate does not count blank lines, so its line number can be early;
            // errors resolve the true line from the byte offset (see `line_at`).
            let at = pos.byte();
            if first_record {
                first_record = false;
                // A trailing delimiter on the first row means every row has one.
                if ranges.len() > 1 && ranges.last().is_some_and(|r| r.is_empty()) {
                    dialect.drop_trailing_empty = true;
                    ranges.pop();
                }
                let is_header = ranges
                    .iter()
                    .any(|r| parse_num(&rec.as_slice()[r.clone()], dialect).is_none());
                opts.limits.check_channels(path, ranges.len() as u64)?;
                if is_header {
                    let l: Vec<String> = ranges
                        .iter()
                        .map(|r| String::from_utf8_lossy(&rec.as_slice()[r.clone()]).into_owned())
                        .collect();
                    time_col = l
                        .iter()
                        .enumerate()
                        .find_map(|(i, s)| time_unit(s).map(|u| (i, u)));
                    ncols = Some(l.len());
                    labels = Some(l);
                    continue;
                }
            }
            let n = match ncols {
                Some(n) => n,
                None => {
                    ncols = Some(ranges.len());
                    ranges.len()
                }
            };
            if ranges.len() != n {
                let what = if labels.is_some() && rows == 0 {
                    format!("the header row has {n} labels")
                } else {
                    format!("the first data row has {n}")
                };
                return Err(Error::malformed(
                    path,
                    format!(
                        "csv: line {} (data row {}): {} fields, but {what} ({} delimiter)",
                        line_at(path, at),
                        rows + 1,
                        ranges.len(),
                        dialect.name()
                    ),
                ));
            }
            for (c, r) in ranges.iter().enumerate() {
                let field = &rec.as_slice()[r.clone()];
                let Some(v) = parse_num(field, dialect) else {
                    return Err(not_a_number(path, line_at(path, at), rows + 1, c, field));
                };
                if let (Some((tc, _)), None) = (time_col, rate_override) {
                    if tc == c {
                        let tc = time_check.get_or_insert_with(TimeCheck::default);
                        tc.push(path, v, precision(field), at)?;
                    }
                }
            }
            if rows % INDEX_EVERY == 0 {
                if index.len() % 1024 == 0 {
                    opts.limits.reserve(
                        path,
                        "the row index",
                        index.len() as u64 + 1024,
                        std::mem::size_of::<Position>() as u64,
                    )?;
                }
                index.push(pos);
            }
            rows += 1;
        }

        let Some(ncols) = ncols else {
            return Err(Error::malformed(
                path,
                format!(
                    "csv: no data rows: the file holds {} comment lines and nothing else",
                    pre.comments.len()
                ),
            ));
        };
        if rows == 0 {
            return Err(Error::malformed(
                path,
                "csv: no data rows: the file holds only a header row",
            ));
        }

        // Rate: --rate, then the time column, then the comments.
        let mut comments = pre.comments;
        let comment_rate = comments.iter().find_map(|c| comment_rate(c));
        let time_rate = match time_check {
            Some(mut tc) => tc.finish(path, time_col.map_or(1.0, |t| t.1))?,
            None => None,
        };
        let rate = if let Some(r) = rate_override {
            if time_col.is_some() {
                warnings.push(format!(
                    "csv: the time column is not used (neither checked nor a channel): the rate {r} Hz was given with --rate"
                ));
            }
            if let Some(o) = comment_rate {
                if !agree(o, r) {
                    warnings.push(format!(
                        "csv: the rate {r} Hz given with --rate overrides {o} Hz from the comments"
                    ));
                }
            }
            r
        } else if let Some((r, t0)) = time_rate {
            if let Some(o) = comment_rate {
                if !agree(o, r) {
                    warnings.push(format!(
                        "csv: the comments give {o} Hz but the time column gives {r} Hz; using the time column"
                    ));
                }
            }
            if t0 != 0.0 {
                comments.push(format!("time column starts at {t0} s"));
            }
            r
        } else if let Some(r) = comment_rate {
            r
        } else {
            let why = if time_col.is_some() {
                "the time column has a single row"
            } else {
                "no time column and no rate in the comments"
            };
            return Err(Error::config(format!(
                "{}: csv: no sampling rate ({why}): add a time column or pass --rate",
                path.display()
            )));
        };

        // Labels and units: header row, else a `Labels:=` comment, else ch1, ch2, …
        let columns: Vec<usize> = (0..ncols)
            .filter(|&c| time_col.is_none_or(|(t, _)| t != c))
            .collect();
        let labels: Vec<String> = match labels {
            Some(l) => columns.iter().map(|&c| l[c].clone()).collect(),
            None => match comments
                .iter()
                .find_map(|c| comment_labels(c, columns.len()))
            {
                Some(l) => l,
                None => (1..=columns.len()).map(|i| format!("ch{i}")).collect(),
            },
        };
        let channels = labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (label, unit) = split_label_unit(l);
                Channel {
                    label: if label.is_empty() {
                        format!("ch{}", i + 1)
                    } else {
                        label
                    },
                    unit,
                    rate_hz: rate,
                    n_samples: rows,
                    physical_range: None,
                    transducer: None,
                    prefilter: None,
                }
            })
            .collect();
        let header = Header::continuous(
            Format::Csv,
            path,
            channels,
            rows as f64 / rate,
            comments,
            warnings,
        );
        Ok(TextReader {
            header,
            rdr,
            dialect,
            columns,
            index,
            cursor: None,
            rec,
            ranges,
        })
    }
}

impl SignalReader for TextReader {
    fn header(&self) -> &Header {
        &self.header
    }

    fn read(&mut self, channel: usize, start: u64, out: &mut [f32]) -> Result<()> {
        check_read_range(&self.header, channel, start, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        let path = self.header.path.clone();
        let col = self.columns[channel];
        let k = start / INDEX_EVERY;
        let mut row = match self.cursor {
            Some(c) if c <= start && c >= k * INDEX_EVERY => c,
            _ => {
                let Some(pos) = self.index.get(k as usize) else {
                    return Err(Error::malformed(
                        &path,
                        format!("csv: row {start} is not in the row index"),
                    ));
                };
                self.cursor = None;
                self.rdr
                    .seek(pos.clone())
                    .map_err(|e| csv_error(&path, e, pos.line()))?;
                k * INDEX_EVERY
            }
        };
        self.cursor = None; // unknown until this read succeeds
        let shrunk = |row: u64| {
            Error::malformed(
                &path,
                format!(
                    "csv: the file ends before data row {} (it changed since it was opened)",
                    row + 1
                ),
            )
        };
        while row < start {
            next_row(
                &path,
                &mut self.rdr,
                &mut self.rec,
                self.dialect,
                &mut self.ranges,
            )?
            .ok_or_else(|| shrunk(row))?;
            row += 1;
        }
        for o in out.iter_mut() {
            let pos = next_row(
                &path,
                &mut self.rdr,
                &mut self.rec,
                self.dialect,
                &mut self.ranges,
            )?
            .ok_or_else(|| shrunk(row))?;
            let Some(r) = self.ranges.get(col) else {
                return Err(Error::malformed(
                    &path,
                    format!(
                        "csv: line {} has no column {} (the file changed since it was opened)",
                        pos.line(),
                        col + 1
                    ),
                ));
            };
            let field = &self.rec.as_slice()[r.clone()];
            let v = parse_num(field, self.dialect)
                .ok_or_else(|| not_a_number(&path, pos.line(), row + 1, col, field))?;
            *o = v as f32;
            row += 1;
        }
        self.cursor = Some(row);
        Ok(())
    }
}

/// Reads the next non-blank record and splits it into field ranges of `rec.as_slice()`.
fn next_row(
    path: &Path,
    rdr: &mut csv::Reader<LineLimit>,
    rec: &mut ByteRecord,
    dialect: Dialect,
    ranges: &mut Vec<Range<usize>>,
) -> Result<Option<Position>> {
    loop {
        let line = rdr.position().line();
        let more = rdr
            .read_byte_record(rec)
            .map_err(|e| csv_error(path, e, line))?;
        if !more {
            return Ok(None);
        }
        split_fields(rec, dialect, ranges);
        let blank = ranges.is_empty() || (ranges.len() == 1 && ranges[0].is_empty());
        if !blank {
            let pos = rec
                .position()
                .cloned()
                .unwrap_or_else(|| rdr.position().clone());
            return Ok(Some(pos));
        }
    }
}

/// Field ranges of one record: trimmed, tabs also split and empty fields dropped in
/// whitespace mode, the trailing empty field dropped when every row has one.
fn split_fields(rec: &ByteRecord, dialect: Dialect, out: &mut Vec<Range<usize>>) {
    out.clear();
    let all = rec.as_slice();
    for i in 0..rec.len() {
        let Some(r) = rec.range(i) else { continue };
        if dialect.whitespace {
            let mut s = r.start;
            for j in r.start..=r.end {
                if j == r.end || all[j] == b'\t' {
                    let t = trim_range(all, s..j);
                    if !t.is_empty() {
                        out.push(t);
                    }
                    s = j + 1;
                }
            }
        } else {
            out.push(trim_range(all, r));
        }
    }
    if dialect.drop_trailing_empty && out.len() > 1 && out.last().is_some_and(|r| r.is_empty()) {
        out.pop();
    }
}

fn trim_range(all: &[u8], mut r: Range<usize>) -> Range<usize> {
    while r.start < r.end && all[r.start].is_ascii_whitespace() {
        r.start += 1;
    }
    while r.end > r.start && all[r.end - 1].is_ascii_whitespace() {
        r.end -= 1;
    }
    r
}

/// A number, or NaN for an empty cell, `NaN` or `NA`; `None` when it is not a number.
fn parse_num(field: &[u8], dialect: Dialect) -> Option<f64> {
    let s = std::str::from_utf8(field).ok()?.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("na") {
        return Some(f64::NAN);
    }
    if let Ok(v) = s.parse::<f64>() {
        return Some(v);
    }
    if dialect.decimal_comma && s.contains(',') && !s.contains('.') {
        return s.replacen(',', ".", 1).parse::<f64>().ok();
    }
    None
}

/// Half-width of the rounding interval of a printed number in its own unit: `0.001` →
/// 0.0005, `1.5e-3` → 0.00005, `12` → 0.5.
fn precision(field: &[u8]) -> f64 {
    let s = std::str::from_utf8(field).unwrap_or("").trim();
    let (mant, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let frac = mant.find(['.', ',']).map_or(0, |i| mant.len() - i - 1) as i32;
    0.5 * 10f64.powi(exp.saturating_sub(frac))
}

/// 1-based line number of the record that starts at byte `offset`, counted from the file
/// itself (error path only: it reads the file through a small buffer). The csv crate counts
/// neither blank lines in its line numbers nor, in its byte offsets, the empty lines it
/// skips before a record, so both are resolved here: newlines before `offset`, plus the
/// empty lines right after it.
fn line_at(path: &Path, offset: u64) -> u64 {
    let Ok(mut f) = File::open(path) else {
        return 0;
    };
    let mut buf = [0u8; 64 * 1024];
    let mut line = 1;
    let mut pos = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) | Err(_) => return line,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if pos >= offset && b != b'\n' && b != b'\r' {
                return line;
            }
            if b == b'\n' {
                line += 1;
            }
            pos += 1;
        }
    }
}

fn not_a_number(path: &Path, line: u64, row: u64, col: usize, field: &[u8]) -> Error {
    Error::malformed(
        path,
        format!(
            "csv: line {line} (data row {row}), column {}: {:?} is not a number",
            col + 1,
            String::from_utf8_lossy(field)
        ),
    )
}

fn csv_error(path: &Path, e: csv::Error, line: u64) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::InvalidData => {
            Error::malformed(path, format!("csv: line {line} or the next: {io}"))
        }
        csv::ErrorKind::Io(io) => Error::io(path, "cannot read", io),
        other => Error::malformed(path, format!("csv: line {line}: {other:?}")),
    }
}

fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= RATE_AGREE_REL * a.abs().max(b.abs())
}

/// Checks that the time column is uniform and measures its rate.
#[derive(Default)]
struct TimeCheck {
    /// The first rows (value, precision, byte offset) until the reference step is known.
    pending: Vec<(f64, f64, u64)>,
    /// The median of the first steps.
    step: Option<f64>,
    prev: Option<(f64, f64)>,
    first: f64,
    last: f64,
    n: u64,
}

impl TimeCheck {
    fn push(&mut self, path: &Path, t: f64, prec: f64, at: u64) -> Result<()> {
        if !t.is_finite() {
            return Err(Error::malformed(
                path,
                format!(
                    "csv: line {}: the time column is empty or not finite",
                    line_at(path, at)
                ),
            ));
        }
        if self.n == 0 {
            self.first = t;
        }
        self.n += 1;
        self.last = t;
        match self.step {
            None => {
                self.pending.push((t, prec, at));
                if self.pending.len() > MEDIAN_STEPS {
                    self.settle(path)?;
                }
                Ok(())
            }
            Some(step) => self.check(path, step, t, prec, at),
        }
    }

    /// Fixes the reference step from the pending rows and checks them.
    fn settle(&mut self, path: &Path) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let mut steps: Vec<f64> = pending.windows(2).map(|w| w[1].0 - w[0].0).collect();
        if steps.is_empty() {
            return Ok(());
        }
        steps.sort_by(f64::total_cmp);
        let step = steps[steps.len() / 2];
        if step.is_nan() || step <= 0.0 {
            return Err(Error::malformed(
                path,
                format!(
                    "csv: lines {}..{}: the time column does not increase (median step {step})",
                    line_at(path, pending[0].2),
                    line_at(path, pending[pending.len() - 1].2)
                ),
            ));
        }
        self.step = Some(step);
        self.prev = None;
        for (t, p, at) in pending {
            self.check(path, step, t, p, at)?;
        }
        Ok(())
    }

    fn check(&mut self, path: &Path, step: f64, t: f64, prec: f64, at: u64) -> Result<()> {
        if let Some((prev, prev_prec)) = self.prev {
            let d = t - prev;
            // Rounding of the two printed values may move a step by up to their
            // precisions; capped at half a step so that a missing or repeated sample
            // (a whole step off) is always caught.
            let tol = STEP_REL_TOL * step + (prec + prev_prec).min(0.5 * step);
            let uniform = (d - step).abs() <= tol; // false for NaN too
            if !uniform {
                return Err(Error::malformed(
                    path,
                    format!(
                        "csv: line {}: the time column is not uniform: step {d} (from {prev} to {t}) differs from the median step {step} by more than {tol} ({}% plus the printing precision); pass --rate to ignore the time column",
                        line_at(path, at),
                        STEP_REL_TOL * 100.0
                    ),
                ));
            }
        }
        self.prev = Some((t, prec));
        Ok(())
    }

    /// Rate in Hz and first time in seconds, from the first and last time stamps
    /// (`None` with fewer than two rows).
    fn finish(&mut self, path: &Path, unit_s: f64) -> Result<Option<(f64, f64)>> {
        if self.step.is_none() {
            self.settle(path)?;
        }
        if self.n < 2 {
            return Ok(None);
        }
        let span = (self.last - self.first) * unit_s;
        let rate = (self.n - 1) as f64 / span;
        let snapped = rate.round();
        let rate = if (rate - snapped).abs() <= RATE_SNAP_REL * rate {
            snapped
        } else {
            rate
        };
        Ok(Some((rate, self.first * unit_s)))
    }
}

/// Seconds per unit when `label` names a time column (`time`, `t`, `Time (s)`, `time_ms`, …).
fn time_unit(label: &str) -> Option<f64> {
    let (base, unit) = split_label_unit(label);
    let base = base.to_ascii_lowercase();
    let (base, suffix_unit) = match base.rsplit_once('_') {
        Some((b, u @ ("s" | "ms" | "us" | "sec"))) => (b.to_string(), u.to_string()),
        _ => (base, String::new()),
    };
    let named_unit = match base.as_str() {
        "time" | "t" | "times" | "timestamp" | "elapsed" | "elapsed time" => "",
        "seconds" | "secs" | "sec" => "s",
        "ms" | "milliseconds" => "ms",
        _ => return None,
    };
    let unit = [unit.as_str(), suffix_unit.as_str(), named_unit]
        .into_iter()
        .find(|u| !u.is_empty())
        .unwrap_or("s")
        .to_ascii_lowercase();
    match unit.as_str() {
        "s" | "sec" | "secs" | "seconds" => Some(1.0),
        "ms" | "msec" | "milliseconds" => Some(1e-3),
        "us" | "µs" | "μs" => Some(1e-6),
        _ => None,
    }
}

/// Splits a trailing unit off a label: `EMG (uV)` and `EMG [uV]` → (`EMG`, `uV`).
///
/// Square brackets always hold a unit (up to 16 characters); parentheses only a short
/// word without spaces (`Deltoid (1)` keeps its number: an all-digit text is no unit).
pub(crate) fn split_label_unit(label: &str) -> (String, String) {
    let label = label.trim();
    let (open, close) = match label.chars().last() {
        Some(']') => ('[', ']'),
        Some(')') => ('(', ')'),
        _ => return (label.to_string(), String::new()),
    };
    // Find the bracket that opens the last group, allowing nesting: `[ %(MVC)]`.
    let mut depth = 0i32;
    let mut start = None;
    for (i, ch) in label.char_indices().rev() {
        if ch == close {
            depth += 1;
        } else if ch == open {
            depth -= 1;
            if depth == 0 {
                start = Some(i);
                break;
            }
        }
    }
    let Some(start) = start else {
        return (label.to_string(), String::new());
    };
    let inner = label[start + 1..label.len() - 1].trim();
    let ok = !inner.is_empty()
        && !inner
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        && match open {
            '[' => inner.chars().count() <= 16,
            _ => inner.chars().count() <= 8 && !inner.contains(char::is_whitespace),
        };
    if !ok {
        return (label.to_string(), String::new());
    }
    (label[..start].trim().to_string(), inner.to_string())
}

/// `key:= value`, `key: value` or `key = value` in a comment line.
fn comment_kv(c: &str) -> Option<(String, &str)> {
    let i = c.find([':', '='])?;
    let key = c[..i].trim();
    let value = c[i..].trim_start_matches([':', '=']).trim();
    let key: String = key
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    Some((key, value))
}

/// A sampling rate in a comment: `Sampling Rate (Hz):= 1000.00`, `fs = 2 kHz`, `srate: 512`.
fn comment_rate(c: &str) -> Option<f64> {
    let (key, value) = comment_kv(c)?;
    let key_ok = [
        "samplingrate",
        "samplerate",
        "samplingfrequency",
        "samplefrequency",
        "samplingfreq",
    ]
    .iter()
    .any(|k| key.starts_with(k))
        || matches!(
            key.as_str(),
            "fs" | "sr" | "srate" | "rate" | "fshz" | "fskhz" | "ratehz"
        );
    if !key_ok {
        return None;
    }
    let num: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        .collect();
    let v: f64 = num.parse().ok()?;
    let khz = key.ends_with("khz") || value.to_ascii_lowercase().contains("khz");
    let v = if khz { v * 1000.0 } else { v };
    (v.is_finite() && v > 0.0).then_some(v)
}

/// Channel labels in a comment (`Labels:= EMG` or `Labels: a, b, c`) when their number
/// matches the channel count.
fn comment_labels(c: &str, n: usize) -> Option<Vec<String>> {
    let (key, value) = comment_kv(c)?;
    if !matches!(
        key.as_str(),
        "labels" | "label" | "channels" | "channellabels"
    ) {
        return None;
    }
    if n == 1 && !value.is_empty() {
        return Some(vec![value.to_string()]);
    }
    for sep in ['\t', ',', ';'] {
        let parts: Vec<String> = value.split(sep).map(|s| s.trim().to_string()).collect();
        if parts.len() == n {
            return Some(parts);
        }
    }
    let parts: Vec<String> = value.split_whitespace().map(str::to_string).collect();
    (parts.len() == n).then_some(parts)
}

/// The comment block at the top of the file and a sample of the first data lines.
struct Preamble {
    comments: Vec<String>,
    warnings: Vec<String>,
    /// Byte offset and 1-based line number of the first line that is not a comment.
    body_offset: u64,
    body_line: u64,
    /// Up to `SNIFF_LINES` data lines (no comments, no blank lines).
    sample: Vec<Vec<u8>>,
}

fn read_preamble(path: &Path, file: &File, max_line: u64) -> Result<Preamble> {
    let mut comments = Vec::new();
    let mut warnings = Vec::new();
    let mut dropped = 0usize;
    let mut offset: u64 = 0;
    let mut line_no: u64 = 1;
    let mut f = file;
    f.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, "cannot read", e))?;
    let mut rd = io::BufReader::new(f);
    let mut line = Vec::new();
    let mut body: Option<(u64, u64)> = None;
    let mut sample = Vec::new();
    let mut sampled_bytes = 0usize;
    loop {
        line.clear();
        let n = read_line(path, &mut rd, &mut line, line_no, max_line)?;
        if n == 0 {
            break;
        }
        let mut content: &[u8] = &line;
        if offset == 0 && content.starts_with(b"\xEF\xBB\xBF") {
            content = &content[3..]; // UTF-8 byte-order mark
        }
        let text = content.trim_ascii();
        if body.is_none() {
            if text.is_empty() || text.starts_with(b"#") {
                if let Some(c) = text.strip_prefix(b"#") {
                    if comments.len() < MAX_COMMENTS {
                        comments.push(String::from_utf8_lossy(c.trim_ascii()).into_owned());
                    } else {
                        dropped += 1;
                    }
                }
                offset += n as u64;
                line_no += 1;
                continue;
            }
            let skip_bom = (line.len() - content.len()) as u64;
            body = Some((offset + skip_bom, line_no));
        }
        if !text.is_empty() && !text.starts_with(b"#") {
            sample.push(text.to_vec());
            sampled_bytes += text.len();
        }
        if sample.len() >= SNIFF_LINES || sampled_bytes >= SNIFF_BYTES {
            break;
        }
        offset += n as u64;
        line_no += 1;
    }
    if dropped > 0 {
        warnings.push(format!(
            "csv: {dropped} comment lines after the first {MAX_COMMENTS} are not kept"
        ));
    }
    let (body_offset, body_line) = body.unwrap_or((offset, line_no));
    Ok(Preamble {
        comments,
        warnings,
        body_offset,
        body_line,
        sample,
    })
}

/// Reads one line (with its `\n`) into `buf`, refusing lines over `max` bytes.
fn read_line(
    path: &Path,
    rd: &mut impl io::BufRead,
    buf: &mut Vec<u8>,
    line_no: u64,
    max: u64,
) -> Result<usize> {
    let mut limited = rd.take(max + 1);
    let n = io::BufRead::read_until(&mut limited, b'\n', buf)
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if n as u64 > max {
        return Err(Error::malformed(
            path,
            format!("csv: line {line_no} is longer than {max} bytes"),
        ));
    }
    Ok(n)
}

/// Picks the delimiter from the first data lines: a delimiter that appears the same
/// number of times on every line wins (tab, then semicolon, then comma: a semicolon file
/// may use decimal commas); else one that appears on every line; else whitespace when
/// lines hold several whitespace-separated words; else a single column.
fn sniff(sample: &[Vec<u8>], tsv: bool) -> Dialect {
    let mk = |delimiter: u8, whitespace: bool| Dialect {
        delimiter,
        whitespace,
        decimal_comma: delimiter == b';',
        drop_trailing_empty: false,
    };
    if tsv {
        return mk(b'\t', false);
    }
    let count = |l: &[u8], d: u8| {
        let mut quoted = false;
        l.iter()
            .filter(|&&b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                !quoted && b == d
            })
            .count()
    };
    let cands = [b'\t', b';', b','];
    if !sample.is_empty() {
        for d in cands {
            let first = count(&sample[0], d);
            if first > 0 && sample.iter().all(|l| count(l, d) == first) {
                return mk(d, false);
            }
        }
        for d in cands {
            if sample.iter().all(|l| count(l, d) > 0) {
                return mk(d, false);
            }
        }
        if sample.iter().any(|l| {
            l.split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .count()
                > 1
        }) {
            return mk(b' ', true);
        }
    }
    mk(b',', false)
}

/// A reader that refuses a line longer than a bound, so the csv parser's record buffer
/// (which holds a whole record) cannot grow with the file.
struct LineLimit {
    inner: File,
    run: u64,
    max: u64,
}

impl LineLimit {
    fn new(inner: File, max: u64) -> Self {
        LineLimit { inner, run: 0, max }
    }
}

impl Read for LineLimit {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.run = 0;
            } else {
                self.run += 1;
            }
            if self.run > self.max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a line is longer than {} bytes", self.max),
                ));
            }
        }
        Ok(n)
    }
}

impl Seek for LineLimit {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.run = 0;
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_from_labels() {
        let s = |l: &str| split_label_unit(l);
        assert_eq!(s("EMG (uV)"), ("EMG".into(), "uV".into()));
        assert_eq!(s("EMG [uV]"), ("EMG".into(), "uV".into()));
        assert_eq!(s("Deltoid (1)"), ("Deltoid (1)".into(), "".into()));
        assert_eq!(
            s("acquired data[ %(MVC)]"),
            ("acquired data".into(), "%(MVC)".into())
        );
        assert_eq!(s("GR08 (1)[uV]"), ("GR08 (1)".into(), "uV".into()));
        assert_eq!(
            s("left leg (not a unit)"),
            ("left leg (not a unit)".into(), "".into())
        );
        assert_eq!(s("EMG"), ("EMG".into(), "".into()));
        assert_eq!(s("x)"), ("x)".into(), "".into()));
    }

    #[test]
    fn time_columns() {
        assert_eq!(time_unit("time"), Some(1.0));
        assert_eq!(time_unit("Time (s)"), Some(1.0));
        assert_eq!(time_unit("time_ms"), Some(1e-3));
        assert_eq!(time_unit("t [ms]"), Some(1e-3));
        assert_eq!(time_unit("seconds"), Some(1.0));
        assert_eq!(time_unit("time_s"), Some(1.0));
        assert_eq!(time_unit("EMG"), None);
        assert_eq!(time_unit("time (h)"), None);
    }

    #[test]
    fn comment_rates_and_labels() {
        assert_eq!(comment_rate("Sampling Rate (Hz):= 1000.00"), Some(1000.0));
        assert_eq!(comment_rate("fs = 2 kHz"), Some(2000.0));
        assert_eq!(comment_rate("Resolution:= 12"), None);
        assert_eq!(comment_rate("Sampling rate: fast"), None);
        assert_eq!(
            comment_labels("Labels:= EMG", 1),
            Some(vec!["EMG".to_string()])
        );
        assert_eq!(
            comment_labels("Labels:= A1\tA2", 2),
            Some(vec!["A1".to_string(), "A2".to_string()])
        );
        assert_eq!(comment_labels("Labels:= A1 A2", 3), None);
    }

    #[test]
    fn sniffing() {
        let s = |lines: &[&str]| {
            let v: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
            sniff(&v, false).name()
        };
        assert_eq!(s(&["a,b", "1,2"]), "comma");
        assert_eq!(s(&["1\t2", "3\t4"]), "tab");
        assert_eq!(s(&["1,5;2,5", "3,1;4,0"]), "semicolon");
        assert_eq!(s(&["1  2", " 3 4"]), "whitespace");
        assert_eq!(s(&["2055.0", "2051.0"]), "comma");
        assert_eq!(s(&["\"a,b\",c", "1,2"]), "comma");
    }

    #[test]
    fn precision_of_printed_numbers() {
        assert_eq!(precision(b"0.001"), 0.0005);
        assert!((precision(b"1.5e-3") - 0.00005).abs() < 1e-18);
        assert_eq!(precision(b"12"), 0.5);
    }

    #[test]
    fn numbers() {
        let d = Dialect {
            delimiter: b';',
            whitespace: false,
            decimal_comma: true,
            drop_trailing_empty: false,
        };
        assert_eq!(parse_num(b"1,5", d), Some(1.5));
        assert!(parse_num(b"", d).is_some_and(f64::is_nan));
        assert!(parse_num(b"NaN", d).is_some_and(f64::is_nan));
        assert!(parse_num(b"NA", d).is_some_and(f64::is_nan));
        assert_eq!(parse_num(b"abc", d), None);
    }
}
