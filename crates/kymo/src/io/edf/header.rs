//! The EDF/BDF header walker, shared by EDF (2-byte samples) and BDF (3-byte samples).
//!
//! The two formats have the same ASCII header and differ only in the version field,
//! the sample width and the annotation signal's label, so one walker takes the width
//! as a parameter ([`Width`]) instead of there being two readers.

use std::path::Path;

use crate::io::{DateTime, Format, ReadLimits};
use crate::{Error, Result};

/// Size of the fixed part of the header, and of each signal's part.
pub(crate) const BLOCK: usize = 256;

/// Bytes per sample: the only difference between EDF and BDF data records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// EDF: 16-bit little-endian two's complement.
    Edf,
    /// BDF: 24-bit little-endian two's complement.
    Bdf,
}

impl Width {
    /// Bytes per stored sample.
    pub(crate) fn bytes(self) -> usize {
        match self {
            Width::Edf => 2,
            Width::Bdf => 3,
        }
    }

    /// Tag that starts every message about this file.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Width::Edf => "edf",
            Width::Bdf => "bdf",
        }
    }

    /// Digital range the sample width can hold.
    fn digital_limits(self) -> (f64, f64) {
        match self {
            Width::Edf => (-32768.0, 32767.0),
            Width::Bdf => (-8_388_608.0, 8_388_607.0),
        }
    }
}

/// The fixed 256-byte part of the header, decoded.
#[derive(Debug, Clone)]
pub(crate) struct FixedHeader {
    pub width: Width,
    /// EDF/EDF+C/EDF+D/BDF/BDF+C/BDF+D, from the version and reserved fields.
    pub format: Format,
    pub patient: String,
    pub recording: String,
    /// Start date and time (nanos 0: the sub-second part lives in the first data record).
    pub start: DateTime,
    pub header_bytes: u64,
    /// As written: -1 means "still recording" (EDF+ allows it while a file is being written).
    pub n_records: i64,
    pub record_duration: f64,
    pub ns: usize,
}

/// One signal's part of the header, decoded.
#[derive(Debug, Clone)]
pub(crate) struct SignalHeader {
    pub label: String,
    pub transducer: String,
    pub unit: String,
    pub physical_min: f64,
    pub physical_max: f64,
    pub digital_min: f64,
    pub digital_max: f64,
    pub prefilter: String,
    pub samples_per_record: u64,
    /// `"EDF Annotations"` / `"BDF Annotations"`: TALs, not samples.
    pub is_annotation: bool,
}

/// Collects lenient-parse notes so that a file with 200 NUL-padded fields gives one
/// warning naming the fields, not 200 warnings.
#[derive(Default)]
pub(crate) struct Notes {
    nul_padded: Vec<&'static str>,
    comma_decimal: Vec<&'static str>,
    latin1: Vec<&'static str>,
    non_ascii_utf8: Vec<&'static str>,
    pub other: Vec<String>,
}

impl Notes {
    fn add(list: &mut Vec<&'static str>, name: &'static str) {
        if !list.contains(&name) {
            list.push(name);
        }
    }

    /// Turns the notes into warning sentences.
    pub(crate) fn into_warnings(self, tag: &str) -> Vec<String> {
        let mut w = Vec::new();
        if !self.nul_padded.is_empty() {
            w.push(format!(
                "{tag}: header fields padded with NUL bytes instead of spaces ({}); read as spaces",
                self.nul_padded.join(", ")
            ));
        }
        if !self.comma_decimal.is_empty() {
            w.push(format!(
                "{tag}: header numbers with a comma as decimal separator ({}); read as a point",
                self.comma_decimal.join(", ")
            ));
        }
        if !self.latin1.is_empty() {
            w.push(format!(
                "{tag}: header text that is not ASCII nor UTF-8 ({}); read as Latin-1",
                self.latin1.join(", ")
            ));
        }
        if !self.non_ascii_utf8.is_empty() {
            w.push(format!(
                "{tag}: header text that is not ASCII ({}); read as UTF-8",
                self.non_ascii_utf8.join(", ")
            ));
        }
        w.extend(self.other);
        w
    }
}

/// Reads fields out of a slice of the header, knowing the slice's byte offset in the
/// file so that every message can name the exact byte.
struct Fields<'a> {
    buf: &'a [u8],
    /// File offset of `buf[0]`.
    base: usize,
    tag: &'static str,
    path: &'a Path,
    notes: &'a mut Notes,
    /// Prefix naming the signal in messages about per-signal fields, e.g. `signal 3 "EMG", `.
    ctx: String,
}

impl Fields<'_> {
    /// Raw bytes of a field with trailing spaces and NULs removed (NULs noted).
    fn raw(&mut self, off: usize, len: usize, name: &'static str) -> &[u8] {
        let b = &self.buf[off..off + len];
        if b.contains(&0) {
            Notes::add(&mut self.notes.nul_padded, name);
        }
        let end = b
            .iter()
            .rposition(|&c| c != b' ' && c != 0)
            .map_or(0, |p| p + 1);
        &b[..end]
    }

    /// A text field: trimmed; NUL bytes read as spaces; non-ASCII read as UTF-8, else Latin-1.
    fn text(&mut self, off: usize, len: usize, name: &'static str) -> String {
        let raw = self.raw(off, len, name).to_vec();
        let raw: Vec<u8> = raw
            .into_iter()
            .map(|c| if c == 0 { b' ' } else { c })
            .collect();
        let s = if raw.is_ascii() {
            String::from_utf8_lossy(&raw).into_owned()
        } else {
            match String::from_utf8(raw) {
                Ok(s) => {
                    Notes::add(&mut self.notes.non_ascii_utf8, name);
                    s
                }
                Err(e) => {
                    Notes::add(&mut self.notes.latin1, name);
                    e.into_bytes().iter().map(|&c| char::from(c)).collect()
                }
            }
        };
        s.trim().to_string()
    }

    /// The field as a number string: trimmed both sides, comma read as a point (noted).
    fn number_str(&mut self, off: usize, len: usize, name: &'static str) -> String {
        let raw = self.raw(off, len, name);
        let s: String = String::from_utf8_lossy(raw)
            .trim_matches(|c: char| c == ' ' || c == '\0')
            .to_string();
        if s.contains(',') && !s.contains('.') && s.matches(',').count() == 1 {
            Notes::add(&mut self.notes.comma_decimal, name);
            return s.replace(',', ".");
        }
        s
    }

    fn err(&self, off: usize, name: &str, raw: &str, what: &str) -> Error {
        Error::malformed(
            self.path,
            format!(
                "{}: header byte {} ({}{}): {:?} {}",
                self.tag,
                self.base + off,
                self.ctx,
                name,
                raw,
                what
            ),
        )
    }

    /// An integer field.
    fn int(&mut self, off: usize, len: usize, name: &'static str) -> Result<i64> {
        let s = self.number_str(off, len, name);
        let digits = s.strip_prefix(['+', '-']).unwrap_or(&s);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(self.err(off, name, &s, "is not an integer"));
        }
        s.parse::<i64>()
            .map_err(|_| self.err(off, name, &s, "is not an integer in range"))
    }

    /// A finite decimal number field.
    fn float(&mut self, off: usize, len: usize, name: &'static str) -> Result<f64> {
        let s = self.number_str(off, len, name);
        let ok_chars = !s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'));
        match s.parse::<f64>() {
            Ok(v) if ok_chars && v.is_finite() => Ok(v),
            _ => Err(self.err(off, name, &s, "is not a number")),
        }
    }
}

// The fixed part of the header (EDF spec, "The EDF header"; EDF+ and BDF use the same layout):
//
// | offset | bytes | field                                                           |
// |--------|-------|-----------------------------------------------------------------|
// |      0 |     8 | version: "0" + 7 spaces (EDF), 0xFF "BIOSEMI" (BDF)             |
// |      8 |    80 | local patient identification (EDF+: code sex birthdate name)    |
// |     88 |    80 | local recording identification (EDF+: "Startdate dd-MMM-yyyy …") |
// |    168 |     8 | start date dd.mm.yy (85–99 → 19yy, 00–84 → 20yy; "yy" after 2084) |
// |    176 |     8 | start time hh.mm.ss                                             |
// |    184 |     8 | number of bytes in the header = 256 · (ns + 1)                  |
// |    192 |    44 | reserved: "EDF+C"/"EDF+D" (EDF+), "BDF+C"/"BDF+D"/"24BIT" (BDF) |
// |    236 |     8 | number of data records (-1 while still recording)               |
// |    244 |     8 | duration of a data record in seconds (0 for annotation-only)    |
// |    252 |     4 | ns, the number of signals in each data record                   |
//
// Then, for each field in turn, that field for all ns signals (so the labels of all
// signals come first, then all transducer types, and so on):
//
// | bytes per signal | field                                   |
// |------------------|-----------------------------------------|
// |               16 | label ("EDF Annotations" for TALs)      |
// |               80 | transducer type                         |
// |                8 | physical dimension (unit)               |
// |                8 | physical minimum                        |
// |                8 | physical maximum                        |
// |                8 | digital minimum                         |
// |                8 | digital maximum                         |
// |               80 | prefiltering                            |
// |                8 | number of samples in each data record   |
// |               32 | reserved                                |
//
// A data record then holds, for each signal in header order, its samples-per-record
// samples (2 bytes each in EDF, 3 in BDF, little-endian two's complement).

/// Per-signal field widths, in header order, with their names.
const SIGNAL_FIELDS: [(usize, &str); 10] = [
    (16, "label"),
    (80, "transducer type"),
    (8, "physical dimension"),
    (8, "physical minimum"),
    (8, "physical maximum"),
    (8, "digital minimum"),
    (8, "digital maximum"),
    (80, "prefiltering"),
    (8, "samples per data record"),
    (32, "reserved"),
];

/// Decodes the fixed 256-byte header. `fixed` must be exactly [`BLOCK`] bytes.
pub(crate) fn parse_fixed(
    path: &Path,
    fixed: &[u8],
    limits: &ReadLimits,
    notes: &mut Notes,
) -> Result<FixedHeader> {
    debug_assert_eq!(fixed.len(), BLOCK);
    let width = if fixed.starts_with(b"\xffBIOSEMI") {
        Width::Bdf
    } else if fixed[0] == b'0' && fixed[1..8].iter().all(|&c| c == b' ' || c == 0) {
        if fixed[1..8].contains(&0) {
            notes.nul_padded.push("version");
        }
        Width::Edf
    } else {
        return Err(Error::malformed(
            path,
            format!(
                "edf: header byte 0 (version): {:?} is neither \"0\" (EDF) nor \"\\xffBIOSEMI\" (BDF)",
                String::from_utf8_lossy(&fixed[..8])
            ),
        ));
    };
    let tag = width.tag();
    let mut f = Fields {
        buf: fixed,
        base: 0,
        tag,
        path,
        notes,
        ctx: String::new(),
    };

    let patient = f.text(8, 80, "patient identification");
    let recording = f.text(88, 80, "recording identification");
    let reserved = f.text(192, 44, "reserved");
    let format = format_from_reserved(path, width, &reserved, &mut f.notes.other)?;

    let date = f.number_str(168, 8, "start date");
    let time = f.number_str(176, 8, "start time");
    let start = parse_start(path, tag, &date, &time, &recording, &mut f.notes.other)?;

    let header_bytes = f.int(184, 8, "number of bytes in header")?;
    let n_records = f.int(236, 8, "number of data records")?;
    let record_duration = f.float(244, 8, "duration of a data record")?;
    let ns = f.int(252, 4, "number of signals")?;

    if n_records < -1 {
        let s = f.number_str(236, 8, "number of data records");
        return Err(f.err(
            236,
            "number of data records",
            &s,
            "is not a positive integer (or -1 while recording)",
        ));
    }
    if record_duration < 0.0 {
        let s = f.number_str(244, 8, "duration of a data record");
        return Err(f.err(244, "duration of a data record", &s, "is negative"));
    }
    if ns <= 0 {
        let s = f.number_str(252, 4, "number of signals");
        return Err(f.err(252, "number of signals", &s, "is not a positive integer"));
    }
    // ns < 10^4 (4 ASCII digits), so the casts and the product below cannot overflow.
    limits.check_channels(path, ns as u64)?;
    let ns = ns as usize;
    let expected = (ns as u64 + 1) * BLOCK as u64;
    if header_bytes < 0 || header_bytes as u64 != expected {
        return Err(Error::malformed(
            path,
            format!(
                "{tag}: header byte 184 (number of bytes in header): {header_bytes} does not match the {ns} signals declared at byte 252, which need 256 · ({ns} + 1) = {expected} bytes"
            ),
        ));
    }
    Ok(FixedHeader {
        width,
        format,
        patient,
        recording,
        start,
        header_bytes: expected,
        n_records,
        record_duration,
        ns,
    })
}

/// EDF/EDF+C/EDF+D/BDF/BDF+C/BDF+D from the version (sample width) and the reserved field.
///
/// A reserved field that contradicts the version is an error, because the sample width
/// (2 or 3 bytes) would be wrong and every sample with it.
fn format_from_reserved(
    path: &Path,
    width: Width,
    reserved: &str,
    warnings: &mut Vec<String>,
) -> Result<Format> {
    let tag = width.tag();
    let mismatch = |found: &str, version: &str| {
        Error::malformed(
            path,
            format!(
                "{tag}: header byte 192 (reserved): {found:?} contradicts the version field (byte 0), which says {version}"
            ),
        )
    };
    match width {
        Width::Edf => {
            if reserved.starts_with("EDF+C") {
                Ok(Format::EdfPlusC)
            } else if reserved.starts_with("EDF+D") {
                Ok(Format::EdfPlusD)
            } else if reserved.starts_with("BDF+") || reserved.starts_with("24BIT") {
                Err(mismatch(reserved, "EDF (16-bit samples)"))
            } else {
                if reserved.starts_with("EDF+") {
                    warnings.push(format!(
                        "{tag}: header byte 192 (reserved): {reserved:?} is not \"EDF+C\" or \"EDF+D\"; read as plain EDF"
                    ));
                }
                Ok(Format::Edf)
            }
        }
        Width::Bdf => {
            if reserved.starts_with("BDF+C") {
                Ok(Format::BdfPlusC)
            } else if reserved.starts_with("BDF+D") {
                Ok(Format::BdfPlusD)
            } else if reserved.starts_with("EDF+") {
                Err(mismatch(reserved, "BDF (24-bit samples)"))
            } else {
                if reserved.starts_with("BDF+") {
                    warnings.push(format!(
                        "{tag}: header byte 192 (reserved): {reserved:?} is not \"BDF+C\" or \"BDF+D\"; read as plain BDF"
                    ));
                }
                Ok(Format::Bdf)
            }
        }
    }
}

/// Two ASCII digits at `s[i..i+2]`.
fn two_digits(s: &[u8], i: usize) -> Option<u8> {
    match (s.get(i), s.get(i + 1)) {
        (Some(a), Some(b)) if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some((a - b'0') * 10 + (b - b'0'))
        }
        _ => None,
    }
}

/// Days in `month` of `year` (Gregorian).
pub(crate) fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// English three-letter month abbreviation (upper case), 1-based.
pub(crate) fn month_abbrev(month: u8) -> &'static str {
    MONTHS
        .get(usize::from(month).wrapping_sub(1))
        .copied()
        .unwrap_or("XXX")
}

/// `dd-MMM-yyyy` from an EDF+ "Startdate" subfield.
fn parse_edfplus_date(s: &str) -> Option<(i32, u8, u8)> {
    let mut it = s.split('-');
    let (d, m, y) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || d.len() != 2 || y.len() != 4 {
        return None;
    }
    let day: u8 = d.parse().ok()?;
    let month = MONTHS
        .iter()
        .position(|&n| n.eq_ignore_ascii_case(m))
        .and_then(|p| u8::try_from(p + 1).ok())?;
    let year: i32 = y.parse().ok()?;
    Some((year, month, day))
}

/// Start date and time from the header fields, with the full year from the EDF+
/// recording field ("Startdate dd-MMM-yyyy") when it is there.
fn parse_start(
    path: &Path,
    tag: &str,
    date: &str,
    time: &str,
    recording: &str,
    warnings: &mut Vec<String>,
) -> Result<DateTime> {
    let bad = |off: usize, name: &str, raw: &str, rule: &str| {
        Error::malformed(
            path,
            format!("{tag}: header byte {off} ({name}): {raw:?} is not a valid {rule}"),
        )
    };
    let d = date.as_bytes();
    let t = time.as_bytes();
    // Some writers use ':' or '-' instead of '.'; the positions are what matter.
    let sep_ok = |s: &[u8]| s.len() == 8 && matches!(s[2], b'.' | b':' | b'-') && s[2] == s[5];
    if !sep_ok(d) {
        return Err(bad(168, "start date", date, "date dd.mm.yy"));
    }
    if !sep_ok(t) {
        return Err(bad(176, "start time", time, "time hh.mm.ss"));
    }
    if d[2] != b'.' || t[2] != b'.' {
        warnings.push(format!(
            "{tag}: header bytes 168–183 (start date and time): {date:?} {time:?} use a separator other than '.'"
        ));
    }
    let (Some(day), Some(month)) = (two_digits(d, 0), two_digits(d, 3)) else {
        return Err(bad(168, "start date", date, "date dd.mm.yy"));
    };
    let yy = two_digits(d, 6);
    let (Some(hour), Some(minute), Some(second)) =
        (two_digits(t, 0), two_digits(t, 3), two_digits(t, 6))
    else {
        return Err(bad(176, "start time", time, "time hh.mm.ss"));
    };

    // EDF+: "Startdate dd-MMM-yyyy ..." carries the four-digit year.
    let plus = recording
        .strip_prefix("Startdate ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|tok| if tok == "X" { None } else { Some(tok) });
    let plus_date = plus.and_then(parse_edfplus_date);
    if let (Some(tok), None) = (plus, plus_date) {
        warnings.push(format!(
            "{tag}: header byte 88 (recording identification): Startdate {tok:?} is not dd-MMM-yyyy; the year comes from the start date field"
        ));
    }

    let year = match (yy, plus_date) {
        (Some(yy), Some((py, pm, pd))) => {
            if py.rem_euclid(100) == i32::from(yy) && pm == month && pd == day {
                py
            } else {
                let y = y2k(yy);
                warnings.push(format!(
                    "{tag}: the start date field (byte 168) {date:?} and the recording field's Startdate {:?} disagree; using the start date field ({y})",
                    plus.unwrap_or_default()
                ));
                y
            }
        }
        (Some(yy), None) => y2k(yy),
        // After 2084 EDF+ writes "yy" and keeps the year in the recording field only.
        (None, Some((py, _, _))) if &d[6..8] == b"yy" => py,
        _ => return Err(bad(168, "start date", date, "date dd.mm.yy")),
    };

    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad(168, "start date", date, "calendar date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad(176, "start time", time, "time of day"));
    }
    Ok(DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos: 0,
    })
}

/// The EDF spec's clipping date: 85–99 are 1985–1999, 00–84 are 2000–2084.
pub(crate) fn y2k(yy: u8) -> i32 {
    if yy >= 85 {
        1900 + i32::from(yy)
    } else {
        2000 + i32::from(yy)
    }
}

/// Decodes the `ns` signal headers that follow the fixed header. `buf` is `256 · ns` bytes.
pub(crate) fn parse_signals(
    path: &Path,
    width: Width,
    ns: usize,
    buf: &[u8],
    notes: &mut Notes,
) -> Result<Vec<SignalHeader>> {
    debug_assert_eq!(buf.len(), ns * BLOCK);
    let tag = width.tag();
    let mut f = Fields {
        buf,
        base: BLOCK,
        tag,
        path,
        notes,
        ctx: String::new(),
    };
    // Start offset (within `buf`) of each field's column.
    let mut col = [0usize; SIGNAL_FIELDS.len()];
    let mut acc = 0;
    for (k, (w, _)) in SIGNAL_FIELDS.iter().enumerate() {
        col[k] = acc;
        acc += w * ns;
    }
    let at = |k: usize, i: usize| col[k] + i * SIGNAL_FIELDS[k].0;
    let w = |k: usize| SIGNAL_FIELDS[k].0;

    let mut out = Vec::with_capacity(ns);
    for i in 0..ns {
        f.ctx = String::new();
        let label = f.text(at(0, i), w(0), "label");
        f.ctx = format!("signal {i} {label:?}, ");
        let is_annotation = label == "EDF Annotations" || label == "BDF Annotations";
        let transducer = f.text(at(1, i), w(1), "transducer type");
        let unit = f.text(at(2, i), w(2), "physical dimension");
        let physical_min = f.float(at(3, i), w(3), "physical minimum")?;
        let physical_max = f.float(at(4, i), w(4), "physical maximum")?;
        let digital_min = f.float(at(5, i), w(5), "digital minimum")?;
        let digital_max = f.float(at(6, i), w(6), "digital maximum")?;
        let prefilter = f.text(at(7, i), w(7), "prefiltering");
        let spr = f.int(at(8, i), w(8), "samples per data record")?;
        if spr <= 0 {
            let s = f.number_str(at(8, i), w(8), "samples per data record");
            return Err(f.err(
                at(8, i),
                "samples per data record",
                &s,
                "is not a positive integer",
            ));
        }
        if !is_annotation {
            if digital_max == digital_min {
                return Err(Error::malformed(
                    path,
                    format!(
                        "{tag}: header byte {} (signal {i} {label:?}, digital maximum): {digital_max} equals the digital minimum, so samples cannot be scaled",
                        BLOCK + at(6, i)
                    ),
                ));
            }
            if physical_max == physical_min {
                return Err(Error::malformed(
                    path,
                    format!(
                        "{tag}: header byte {} (signal {i} {label:?}, physical maximum): {physical_max} equals the physical minimum, so samples cannot be scaled",
                        BLOCK + at(4, i)
                    ),
                ));
            }
            let (lo, hi) = width.digital_limits();
            if digital_min < lo || digital_max > hi || digital_max < lo || digital_min > hi {
                f.notes.other.push(format!(
                    "{tag}: signal {i} {label:?}: digital range {digital_min}..{digital_max} goes beyond what {}-bit samples hold ({lo}..{hi})",
                    width.bytes() * 8
                ));
            }
            if digital_max < digital_min {
                f.notes.other.push(format!(
                    "{tag}: signal {i} {label:?}: digital maximum {digital_max} is below the digital minimum {digital_min}; scaled as written"
                ));
            }
            if digital_min.fract() != 0.0 || digital_max.fract() != 0.0 {
                f.notes.other.push(format!(
                    "{tag}: signal {i} {label:?}: digital minimum/maximum {digital_min}/{digital_max} are not integers; scaled as written"
                ));
            }
        }
        out.push(SignalHeader {
            label,
            transducer,
            unit,
            physical_min,
            physical_max,
            digital_min,
            digital_max,
            prefilter,
            samples_per_record: spr as u64,
            is_annotation,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fixed(fields: &[(usize, &str)]) -> Vec<u8> {
        let mut b = vec![b' '; BLOCK];
        let base: [(usize, &str); 10] = [
            (0, "0"),
            (8, "X X X X"),
            (88, "Startdate 04-APR-2011 X X X"),
            (168, "04.04.11"),
            (176, "12.57.02"),
            (184, "512"),
            (192, "EDF+C"),
            (236, "10"),
            (244, "1"),
            (252, "1"),
        ];
        for (off, s) in base.iter().chain(fields) {
            let end = match off {
                0 | 168 | 176 | 184 | 236 | 244 => off + 8,
                8 | 88 => off + 80,
                192 => off + 44,
                _ => off + 4,
            };
            b[*off..end].fill(b' ');
            b[*off..off + s.len()].copy_from_slice(s.as_bytes());
        }
        b
    }

    fn parse(b: &[u8]) -> Result<FixedHeader> {
        let mut notes = Notes::default();
        parse_fixed(Path::new("t.edf"), b, &ReadLimits::default(), &mut notes)
    }

    #[test]
    fn y2k_rule() {
        assert_eq!(y2k(85), 1985);
        assert_eq!(y2k(99), 1999);
        assert_eq!(y2k(0), 2000);
        assert_eq!(y2k(84), 2084);
    }

    #[test]
    fn fixed_header_fields() {
        let h = parse(&fixed(&[])).unwrap();
        assert_eq!(h.width, Width::Edf);
        assert_eq!(h.format, Format::EdfPlusC);
        assert_eq!(h.start.year, 2011);
        assert_eq!((h.start.hour, h.start.minute, h.start.second), (12, 57, 2));
        assert_eq!(h.n_records, 10);
        assert_eq!(h.ns, 1);
    }

    #[test]
    fn full_year_from_recording_field() {
        // 1950 cannot be told from 2050 by the two-digit field; EDF+ gives it in full.
        let h = parse(&fixed(&[
            (88, "Startdate 01-JAN-1950 X X X"),
            (168, "01.01.50"),
        ]))
        .unwrap();
        assert_eq!(h.start.year, 1950);
        let h = parse(&fixed(&[
            (88, "Startdate 01-JAN-2090 X X X"),
            (168, "01.01.yy"),
        ]))
        .unwrap();
        assert_eq!(h.start.year, 2090);
    }

    #[test]
    fn non_numeric_field_names_byte_and_field() {
        let e = parse(&fixed(&[(236, "abc")])).unwrap_err().to_string();
        assert!(
            e.contains("edf: header byte 236 (number of data records): \"abc\" is not an integer"),
            "{e}"
        );
    }

    #[test]
    fn comma_decimal_is_a_note() {
        let mut notes = Notes::default();
        let h = parse_fixed(
            Path::new("t.edf"),
            &fixed(&[(244, "0,5")]),
            &ReadLimits::default(),
            &mut notes,
        )
        .unwrap();
        assert_eq!(h.record_duration, 0.5);
        let w = notes.into_warnings("edf");
        assert!(w[0].contains("duration of a data record"), "{w:?}");
    }

    #[test]
    fn header_bytes_must_match_ns() {
        let e = parse(&fixed(&[(184, "768")])).unwrap_err().to_string();
        assert!(e.contains("header byte 184"), "{e}");
    }

    #[test]
    fn bdf_reserved_in_edf_is_an_error() {
        let e = parse(&fixed(&[(192, "BDF+C")])).unwrap_err().to_string();
        assert!(e.contains("header byte 192 (reserved)"), "{e}");
    }

    #[test]
    fn bad_dates() {
        for (d, t) in [
            ("32.01.11", "00.00.00"),
            ("29.02.11", "00.00.00"),
            ("01.01.11", "24.00.00"),
            ("1.1.2011", "00.00.00"),
        ] {
            let e = parse(&fixed(&[(168, d), (176, t), (88, "X")]))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("header byte 168") || e.contains("header byte 176"),
                "{e}"
            );
        }
        // 29 February of a leap year is fine.
        parse(&fixed(&[(168, "29.02.12"), (88, "X")])).unwrap();
    }
}
