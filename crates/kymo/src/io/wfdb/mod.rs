//! WFDB reader: PhysioNet records made of a `.hea` header and one or more signal files.
//!
//! The header grammar is in [`header`], the bit layout of every signal format in [`formats`].
//! [`WfdbReader::open`] parses the header, checks every signal file against it, and then reads
//! any sample range of any channel on demand:
//!
//! - **Physical values** are `(adu − baseline) / gain` (gain 0 or absent means 200 adu per unit,
//!   baseline absent means the ADC zero, units absent mean `mV`, as `header(5)` says).
//! - **Missing samples**: the value WFDB writes for a missing sample (the most negative value of
//!   the format's width: −32768 for formats 16, 61 and 160, −2048 for 212, −512 for 310 and 311,
//!   −128 for 80, −2^23 for 24, −2^31 for 32) is read as `NaN`, as libwfdb and wfdb-python do.
//!   Format 8 has no such value.
//! - **Memory**: `read` computes which slots of the interleaved sample stream hold the requested
//!   samples and reads only the bytes that cover them, aligned to the packing group of formats
//!   212, 310 and 311, through one buffer of at most [`DEFAULT_CHUNK_BYTES`] (adjustable with
//!   [`WfdbReader::set_read_chunk_bytes`]). Peak memory does not depend on the record length.
//! - **Format 8** (first differences) cannot be entered in the middle: the value of sample *n*
//!   is the initial value plus the first *n* + 1 differences. `read` therefore scans the signal
//!   file from the start (in bounded chunks) up to the requested range, which costs time
//!   proportional to `start`. The reader remembers where the last read of each channel ended,
//!   so reading a channel block after block in order scans the file only once. (wfdb-python,
//!   and libwfdb according to wfdb-python's comments, instead restart the integration from the
//!   header's initial value at `sampfrom`; kymo returns the record's true values.)
//! - **Checksums**: the header's 16-bit checksum and initial value of each signal need the whole
//!   signal, so they are not checked at open time; [`WfdbReader::verify_checksums`] streams
//!   through the signal files (bounded memory) and reports both for every channel.
//! - **Number of samples** absent or 0 in the header: derived from the size of the signal files
//!   (the shortest group wins, with a warning when the groups disagree). A signal file shorter
//!   than the header's number of samples is an error; a longer one is a warning.
//! - **EDF signal files**: a header whose signal file name ends in `.edf` (the libwfdb
//!   convention) is read through [`EdfReader`], with the WFDB comments and warnings added to the
//!   EDF header, after checking that the signal counts agree (`EDF Annotations` lines excluded).
//!   When the named signal files do not exist but `<record>.edf` lies beside the header (as in
//!   wfdb-python's `test_generator_2`), that EDF file is read, with a warning.
//! - **Not supported** (clear [`Error::Unsupported`]): multi-segment records, non-zero skew,
//!   signal files read from standard input (`-`), and formats other than
//!   8, 16, 24, 32, 61, 80, 160, 212, 310, 311 (e.g. the FLAC formats 508, 516, 524).
//! - **Start time**: [`Header::start`] is set when the record line has both a base time and a
//!   base date; a base time without a date is not kept (there is no field for a time of day
//!   alone). The counter frequency and base counter value are parsed but not used.
//! - Annotation files (`.atr`, …) are not read.

pub mod formats;
pub mod header;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

pub use formats::SignalFormat;
pub use header::{RecordLine, SignalSpec, WfdbHeader};

use super::edf::EdfReader;
use super::{
    check_read_range, Channel, DateTime, Format, Header, OpenOptions, Segment, SignalReader,
};
use crate::{Error, Result};

/// Default bound on the buffer one `read` step fills from a signal file (8 MiB).
pub const DEFAULT_CHUNK_BYTES: usize = 8 << 20;

/// The description of a WFDB signal line that stands for an EDF+ annotation signal (which the
/// EDF reader does not count as a channel).
const EDF_ANNOTATIONS: &str = "EDF Annotations";

/// Opens a WFDB record from its `.hea` header.
pub fn open(path: &Path, opts: &OpenOptions) -> Result<Box<dyn SignalReader>> {
    Ok(Box::new(WfdbReader::open(path, opts)?))
}

/// The header checksum and initial value of one channel compared with its samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumReport {
    /// Channel index.
    pub channel: usize,
    /// Channel label.
    pub label: String,
    /// The header's checksum field; `None` when absent, or when the header gives no number of
    /// samples (the spec then disables checksum verification).
    pub header_checksum: Option<i64>,
    /// The 16-bit signed sum of all samples of the channel (ADC units, missing-sample codes
    /// included as stored).
    pub checksum: i16,
    /// The header's initial value field, when present.
    pub header_initial_value: Option<i64>,
    /// The channel's first sample in ADC units; `None` for an empty channel.
    pub first_sample: Option<i32>,
}

impl ChecksumReport {
    /// Whether the header checksum matches (modulo 2^16); `None` when there is nothing to check.
    pub fn checksum_ok(&self) -> Option<bool> {
        self.header_checksum
            .map(|h| h as u16 == self.checksum as u16)
    }

    /// Whether the header's initial value equals the first sample; `None` when there is nothing
    /// to check.
    pub fn initial_value_ok(&self) -> Option<bool> {
        self.header_initial_value
            .zip(self.first_sample)
            .map(|(h, f)| h == i64::from(f))
    }

    /// True unless a check that could be made failed.
    pub fn ok(&self) -> bool {
        self.checksum_ok() != Some(false) && self.initial_value_ok() != Some(false)
    }
}

/// Reads WFDB records (see the [module docs](self)).
pub struct WfdbReader {
    wfdb: WfdbHeader,
    inner: Inner,
}

enum Inner {
    Native(Native),
    Edf {
        reader: Box<EdfReader>,
        header: Header,
    },
}

/// A record whose signal files are WFDB signal files.
struct Native {
    header: Header,
    groups: Vec<Group>,
    sigs: Vec<Sig>,
    buf: Vec<u8>,
    chunk_bytes: usize,
}

/// One signal file and the consecutive signals stored in it.
struct Group {
    path: PathBuf,
    /// Header line of the group's first signal.
    line: usize,
    file: Option<File>,
    format: SignalFormat,
    byte_offset: u64,
    /// Samples per frame, all signals of the group together.
    frame_slots: u64,
    /// Samples in the file (frames × frame_slots).
    n_slots: u64,
    file_len: u64,
    signals: Vec<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Sig {
    group: usize,
    /// Position of the signal's first sample within a frame.
    frame_offset: u64,
    spf: u64,
    gain: f64,
    baseline: f64,
    /// Format 8 only: the value before sample 0.
    initial: i32,
    invalid: Option<i32>,
    header_initial: Option<i64>,
    header_checksum: Option<i64>,
    /// Format 8 only: after the last read, (samples integrated, value of the last one).
    diff_state: Option<(u64, i32)>,
}

impl Sig {
    /// Index of sample `j` in the group's interleaved sample stream.
    fn slot(&self, frame_slots: u64, j: u64) -> u64 {
        (j / self.spf) * frame_slots + self.frame_offset + j % self.spf
    }

    fn physical(&self, raw: i32) -> f32 {
        if Some(raw) == self.invalid {
            f32::NAN
        } else {
            ((f64::from(raw) - self.baseline) / self.gain) as f32
        }
    }
}

impl WfdbReader {
    /// Opens the record whose header is `path`.
    ///
    /// Errors: [`Error::Io`] when the header or a signal file cannot be opened (the message
    /// names the signal file and the header line naming it); [`Error::Malformed`] for a field
    /// that is not a number, missing signal lines, or a signal file shorter than the header
    /// says; [`Error::Unsupported`] for the features listed in the module docs;
    /// [`Error::Limit`] for a signal count above `opts.limits`.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let bytes = read_header_file(path, opts)?;
        let wfdb = header::parse(path, &bytes, &opts.limits)?;
        let dir = path.parent().unwrap_or(Path::new(""));

        if let Some(first) = wfdb
            .signals
            .iter()
            .find(|s| s.file_name.to_ascii_lowercase().ends_with(".edf"))
        {
            if let Some((i, other)) = wfdb
                .signals
                .iter()
                .enumerate()
                .find(|(_, s)| s.file_name != first.file_name)
            {
                return Err(Error::unsupported(
                    path,
                    format!(
                        "wfdb: line {} (file name of signal {i}): the record mixes the EDF file {:?} with the signal file {:?}; only records stored in one EDF file are supported",
                        other.line, first.file_name, other.file_name
                    ),
                ));
            }
            let edf = dir.join(&first.file_name);
            if let Err(e) = std::fs::metadata(&edf) {
                return Err(Error::io(
                    path,
                    format!(
                        "wfdb: line {} (file name of signal 0): cannot open the EDF signal file {}",
                        first.line,
                        edf.display()
                    ),
                    e,
                ));
            }
            return Self::open_edf(path, wfdb, &edf, opts, None);
        }

        // wfdb-python's test_generator_2.hea names a missing .dat beside the EDF it came from.
        if let Some(missing) = wfdb
            .signals
            .iter()
            .find(|s| s.file_name != "-" && !dir.join(&s.file_name).exists())
        {
            let edf = dir.join(format!("{}.edf", wfdb.record.name));
            if !wfdb.record.name.is_empty() && edf.is_file() {
                let note = format!(
                    "wfdb: line {} (file name): the signal file {:?} does not exist; the samples were read from {} instead",
                    missing.line,
                    missing.file_name,
                    edf.display()
                );
                return Self::open_edf(path, wfdb, &edf, opts, Some(note));
            }
        }

        let native = Native::open(path, dir, &wfdb)?;
        Ok(WfdbReader {
            wfdb,
            inner: Inner::Native(native),
        })
    }

    fn open_edf(
        path: &Path,
        wfdb: WfdbHeader,
        edf: &Path,
        opts: &OpenOptions,
        note: Option<String>,
    ) -> Result<Self> {
        let reader = EdfReader::open(edf, opts)?;
        let n_wfdb = wfdb
            .signals
            .iter()
            .filter(|s| s.description.as_deref() != Some(EDF_ANNOTATIONS))
            .count();
        let n_edf = reader.header().channels.len();
        if n_wfdb != n_edf {
            return Err(Error::malformed(
                path,
                format!(
                    "wfdb: line {} (number of signals): the header describes {n_wfdb} signals (not counting \"{EDF_ANNOTATIONS}\") but {} has {n_edf}",
                    wfdb.record.line,
                    edf.display()
                ),
            ));
        }
        let mut header = reader.header().clone();
        header.path = path.to_path_buf();
        let mut comments = wfdb.comments.clone();
        comments.append(&mut header.comments);
        header.comments = comments;
        let mut warnings = wfdb.warnings.clone();
        warnings.extend(note);
        warnings.append(&mut header.warnings);
        header.warnings = warnings;
        if header.start.is_none() {
            header.start = start_of(&wfdb.record);
        }
        Ok(WfdbReader {
            wfdb,
            inner: Inner::Edf {
                reader: Box::new(reader),
                header,
            },
        })
    }

    /// The header as parsed, fields as written (before defaults).
    pub fn wfdb_header(&self) -> &WfdbHeader {
        &self.wfdb
    }

    /// True when the samples come from an EDF file (see the module docs).
    pub fn is_edf_backed(&self) -> bool {
        matches!(self.inner, Inner::Edf { .. })
    }

    /// Sets the bound on the buffer one read step fills (default [`DEFAULT_CHUNK_BYTES`]);
    /// values below one packing group are raised to it. Smaller values trade speed for memory.
    pub fn set_read_chunk_bytes(&mut self, bytes: usize) {
        if let Inner::Native(n) = &mut self.inner {
            n.chunk_bytes = bytes.max(1);
            n.buf = Vec::new();
        }
    }

    /// Reads samples `start .. start + out.len()` of a channel as stored, in ADC units (format 8
    /// differences integrated; missing samples keep their code, e.g. −32768 in format 16).
    ///
    /// Fails like [`SignalReader::read`], and with [`Error::Unsupported`] for an EDF-backed
    /// record.
    pub fn read_adu(&mut self, channel: usize, start: u64, out: &mut [i32]) -> Result<()> {
        match &mut self.inner {
            Inner::Native(n) => n.read_adu(channel, start, out),
            Inner::Edf { header, .. } => Err(Error::unsupported(
                &header.path,
                "wfdb: ADC values of a record stored in an EDF file are not available",
            )),
        }
    }

    /// Streams through every signal file once and compares each channel's samples with the
    /// header's checksum and initial value (bounded memory: one read buffer).
    ///
    /// Fails with [`Error::Unsupported`] for an EDF-backed record (the EDF reader gives
    /// physical values only, not the ADC values the checksums are over).
    pub fn verify_checksums(&mut self) -> Result<Vec<ChecksumReport>> {
        match &mut self.inner {
            Inner::Native(n) => n.verify_checksums(),
            Inner::Edf { header, .. } => Err(Error::unsupported(
                &header.path,
                "wfdb: the checksums of a record stored in an EDF file are not verified",
            )),
        }
    }
}

impl SignalReader for WfdbReader {
    fn header(&self) -> &Header {
        match &self.inner {
            Inner::Native(n) => &n.header,
            Inner::Edf { header, .. } => header,
        }
    }

    fn read(&mut self, channel: usize, start: u64, out: &mut [f32]) -> Result<()> {
        match &mut self.inner {
            Inner::Native(n) => n.read(channel, start, out),
            Inner::Edf { reader, .. } => reader.read(channel, start, out),
        }
    }
}

fn read_header_file(path: &Path, opts: &OpenOptions) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).map_err(|e| Error::io(path, "wfdb: cannot open the header", e))?;
    if !meta.is_file() {
        return Err(Error::malformed(
            path,
            "wfdb: the header is not a regular file",
        ));
    }
    opts.limits
        .reserve(path, "the header file", meta.len(), 1)?;
    std::fs::read(path).map_err(|e| Error::io(path, "wfdb: cannot read the header", e))
}

/// The record start when the record line has both a base time and a base date.
fn start_of(r: &RecordLine) -> Option<DateTime> {
    let (hour, minute, second, nanos) = r.base_time?;
    let (day, month, year) = r.base_date?;
    Some(DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        nanos,
    })
}

impl Native {
    fn open(path: &Path, dir: &Path, wfdb: &WfdbHeader) -> Result<Self> {
        let rec = &wfdb.record;
        let mut warnings = wfdb.warnings.clone();

        // Formats and modifiers first: nothing else makes sense without them.
        let mut formats = Vec::new();
        for (i, s) in wfdb.signals.iter().enumerate() {
            let Some(f) = SignalFormat::from_code(s.format) else {
                return Err(Error::unsupported(
                    path,
                    format!(
                        "wfdb: line {} (format of signal {i}): format {} is not supported (supported formats: {})",
                        s.line,
                        s.format,
                        formats::SUPPORTED_LIST
                    ),
                ));
            };
            if s.skew != 0 {
                return Err(Error::unsupported(
                    path,
                    format!(
                        "wfdb: line {} (skew of signal {i}): a skew of {} samples is not supported yet (only 0)",
                        s.line, s.skew
                    ),
                ));
            }
            if s.file_name == "-" {
                return Err(Error::unsupported(
                    path,
                    format!(
                        "wfdb: line {} (file name of signal {i}): signal files read from standard input (\"-\") are not supported",
                        s.line
                    ),
                ));
            }
            formats.push(f);
        }

        // Signal groups: consecutive lines naming the same file.
        let mut uncalibrated = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut sigs = Vec::new();
        for (i, (s, &fmt)) in wfdb.signals.iter().zip(&formats).enumerate() {
            let same = groups
                .last()
                .is_some_and(|g| wfdb.signals[g.signals[0]].file_name == s.file_name);
            if !same {
                if let Some(g) = groups
                    .iter()
                    .find(|g| wfdb.signals[g.signals[0]].file_name == s.file_name)
                {
                    return Err(Error::malformed(
                        path,
                        format!(
                            "wfdb: line {} (file name of signal {i}): the signals stored in {:?} must be on consecutive lines (it is also named on line {})",
                            s.line, s.file_name, g.line
                        ),
                    ));
                }
                groups.push(Group {
                    path: dir.join(&s.file_name),
                    line: s.line,
                    file: None,
                    format: fmt,
                    byte_offset: s.byte_offset,
                    frame_slots: 0,
                    n_slots: 0,
                    file_len: 0,
                    signals: Vec::new(),
                });
            }
            let gi = groups.len() - 1;
            let g = &mut groups[gi];
            if g.format != fmt {
                return Err(Error::malformed(
                    path,
                    format!(
                        "wfdb: line {} (format of signal {i}): format {} differs from format {} of the other signals in {:?}; a signal file has one format",
                        s.line,
                        fmt.code(),
                        g.format.code(),
                        s.file_name
                    ),
                ));
            }
            if g.byte_offset != s.byte_offset {
                return Err(Error::malformed(
                    path,
                    format!(
                        "wfdb: line {} (byte offset of signal {i}): byte offset {} differs from byte offset {} of the other signals in {:?}",
                        s.line, s.byte_offset, g.byte_offset, s.file_name
                    ),
                ));
            }
            let frame_offset = g.frame_slots;
            g.frame_slots = g.frame_slots.checked_add(s.samples_per_frame).ok_or_else(|| {
                Error::malformed(
                    path,
                    format!(
                        "wfdb: line {} (samples per frame of signal {i}): the samples per frame of {:?} add up past 2^64",
                        s.line, s.file_name
                    ),
                )
            })?;
            g.signals.push(i);

            let initial = if fmt.is_difference() {
                i32::try_from(s.initial()).map_err(|_| {
                    Error::malformed(
                        path,
                        format!(
                            "wfdb: line {} (initial value of signal {i}): {} does not fit in 32 bits",
                            s.line,
                            s.initial()
                        ),
                    )
                })?
            } else {
                0
            };
            if s.is_uncalibrated() {
                uncalibrated.push(i);
            }
            sigs.push(Sig {
                group: gi,
                frame_offset,
                spf: s.samples_per_frame,
                gain: s.gain(),
                baseline: s.baseline() as f64,
                initial,
                invalid: fmt.invalid_value(),
                header_initial: s.initial_value,
                header_checksum: if rec.n_frames.is_some() {
                    s.checksum
                } else {
                    None
                },
                diff_state: None,
            });
        }

        if let Some(&first) = uncalibrated.first() {
            warnings.push(format!(
                "wfdb: line {} (ADC gain of signal {first}): {} signal(s) have a gain of 0 or none (uncalibrated); {} adu per unit is assumed",
                wfdb.signals[first].line,
                uncalibrated.len(),
                header::DEFAULT_GAIN
            ));
        }

        // Signal files: present, regular, and as long as the header says.
        for g in &mut groups {
            let i = g.signals[0];
            let meta = std::fs::metadata(&g.path).map_err(|e| {
                Error::io(
                    path,
                    format!(
                        "wfdb: line {} (file name of signal {i}): cannot open the signal file {}",
                        g.line,
                        g.path.display()
                    ),
                    e,
                )
            })?;
            if !meta.is_file() {
                return Err(Error::malformed(
                    path,
                    format!(
                        "wfdb: line {} (file name of signal {i}): the signal file {} is not a regular file",
                        g.line,
                        g.path.display()
                    ),
                ));
            }
            g.file_len = meta.len();
            if g.file_len < g.byte_offset {
                return Err(Error::malformed(
                    path,
                    format!(
                        "wfdb: line {} (byte offset of signal {i}): the signal file {} has {} bytes, fewer than the byte offset {}",
                        g.line,
                        g.path.display(),
                        g.file_len,
                        g.byte_offset
                    ),
                ));
            }
        }

        let n_frames = match rec.n_frames {
            Some(n) => {
                for g in &mut groups {
                    let i = g.signals[0];
                    let need = n
                        .checked_mul(g.frame_slots)
                        .and_then(|slots| {
                            g.n_slots = slots;
                            g.format.bytes_for_samples(slots)
                        })
                        .and_then(|b| b.checked_add(g.byte_offset))
                        .ok_or_else(|| {
                            Error::malformed(
                                path,
                                format!(
                                    "wfdb: line {} (number of samples per signal): {n} frames of {} samples in {:?} need more than 2^64 bytes",
                                    rec.line, g.frame_slots, wfdb.signals[i].file_name
                                ),
                            )
                        })?;
                    if g.file_len < need {
                        let what = if g.frame_slots == 1 {
                            format!("{n} samples")
                        } else {
                            format!("{n} frames of {} samples", g.frame_slots)
                        };
                        let offset = if g.byte_offset > 0 {
                            format!(" after a {}-byte preamble", g.byte_offset)
                        } else {
                            String::new()
                        };
                        return Err(Error::malformed(
                            path,
                            format!(
                                "wfdb: line {} (file name of signal {i}): the signal file {} has {} bytes but the header's {what} in format {}{offset} need {need} bytes",
                                g.line,
                                g.path.display(),
                                g.file_len,
                                g.format.code()
                            ),
                        ));
                    }
                    if g.file_len > need {
                        warnings.push(format!(
                            "wfdb: line {}: the signal file {} has {} bytes, more than the {need} bytes the header's {n} frames need; the rest was ignored",
                            g.line,
                            g.path.display(),
                            g.file_len
                        ));
                    }
                }
                n
            }
            None => {
                let per_group: Vec<u64> = groups
                    .iter()
                    .map(|g| {
                        g.format.samples_in_bytes(g.file_len - g.byte_offset) / g.frame_slots.max(1)
                    })
                    .collect();
                let n = per_group.iter().copied().min().unwrap_or(0);
                if per_group.iter().any(|&m| m != n) {
                    warnings.push(format!(
                        "wfdb: line {} (number of samples per signal): the header gives no number of samples and the signal files hold different numbers of frames ({per_group:?}); the shortest, {n}, was used",
                        rec.line
                    ));
                }
                for g in &mut groups {
                    // n frames fit in every file, so this cannot overflow.
                    g.n_slots = n.saturating_mul(g.frame_slots);
                }
                n
            }
        };

        let mut channels = Vec::new();
        for (i, (s, sig)) in wfdb.signals.iter().zip(&sigs).enumerate() {
            let fmt = groups[sig.group].format;
            channels.push(Channel {
                label: s
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("record {}, signal {i}", rec.name)),
                unit: s.units().to_string(),
                rate_hz: rec.frame_rate_hz * sig.spf as f64,
                // ≤ n_slots of the group, so no overflow.
                n_samples: n_frames.saturating_mul(sig.spf),
                physical_range: physical_range(s, fmt),
                transducer: None,
                prefilter: None,
            });
        }

        let header = Header {
            format: Format::Wfdb,
            path: path.to_path_buf(),
            channels,
            start: start_of(rec),
            subject: None,
            recording: None,
            annotations: Vec::new(),
            segments: vec![Segment {
                stored_start_s: 0.0,
                onset_s: 0.0,
                duration_s: n_frames as f64 / rec.frame_rate_hz,
            }],
            comments: wfdb.comments.clone(),
            warnings,
        };
        Ok(Native {
            header,
            groups,
            sigs,
            buf: Vec::new(),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
        })
    }

    fn read(&mut self, channel: usize, start: u64, out: &mut [f32]) -> Result<()> {
        check_read_range(&self.header, channel, start, out.len())?;
        let sig = self.sigs[channel];
        self.read_adu_with(channel, start, out.len(), |i, v| out[i] = sig.physical(v))
    }

    fn read_adu(&mut self, channel: usize, start: u64, out: &mut [i32]) -> Result<()> {
        check_read_range(&self.header, channel, start, out.len())?;
        self.read_adu_with(channel, start, out.len(), |i, v| out[i] = v)
    }

    /// Calls `f(i, adu)` for samples `start + i`, `i < len`, of a channel (range checked by
    /// the caller); format 8 differences are integrated.
    fn read_adu_with(
        &mut self,
        channel: usize,
        start: u64,
        len: usize,
        mut f: impl FnMut(usize, i32),
    ) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        let sig = self.sigs[channel];
        let end = start + len as u64;
        let group = &mut self.groups[sig.group];
        if group.format.is_difference() {
            // Resume from the end of the last read when it is at or before `start`.
            let (from, mut value) = match sig.diff_state {
                Some((n, v)) if n <= start => (n, v),
                _ => (0, sig.initial),
            };
            scan(
                group,
                &mut self.buf,
                self.chunk_bytes,
                &sig,
                from,
                end,
                |j, d| {
                    value = value.wrapping_add(d);
                    if j >= start {
                        f((j - start) as usize, value);
                    }
                },
            )?;
            self.sigs[channel].diff_state = Some((end, value));
        } else {
            scan(
                group,
                &mut self.buf,
                self.chunk_bytes,
                &sig,
                start,
                end,
                |j, raw| {
                    f((j - start) as usize, raw);
                },
            )?;
        }
        Ok(())
    }

    fn verify_checksums(&mut self) -> Result<Vec<ChecksumReport>> {
        let n = self.sigs.len();
        let mut sums = vec![0i64; n];
        let mut first: Vec<Option<i32>> = vec![None; n];
        let mut values: Vec<i32> = self.sigs.iter().map(|s| s.initial).collect();
        for g in &mut self.groups {
            let fmt = g.format;
            let gs = fmt.group_samples();
            let chunk_slots = (self.chunk_bytes as u64 / fmt.group_bytes()).max(1) * gs;
            // Walk the frame layout: (index into g.signals, sample within the frame).
            let (mut pos, mut k) = (0usize, 0u64);
            let mut cs = 0;
            while cs < g.n_slots {
                let ce = cs.saturating_add(chunk_slots).min(g.n_slots);
                read_slot_bytes(g, &mut self.buf, cs, ce)?;
                for idx in 0..(ce - cs) as usize {
                    let Some(&si) = g.signals.get(pos) else {
                        break;
                    };
                    let raw = fmt.decode(&self.buf, idx);
                    let v = if fmt.is_difference() {
                        values[si] = values[si].wrapping_add(raw);
                        values[si]
                    } else {
                        raw
                    };
                    sums[si] = sums[si].wrapping_add(i64::from(v));
                    if first[si].is_none() {
                        first[si] = Some(v);
                    }
                    k += 1;
                    if k == self.sigs[si].spf {
                        k = 0;
                        pos += 1;
                        if pos == g.signals.len() {
                            pos = 0;
                        }
                    }
                }
                cs = ce;
            }
        }
        Ok((0..n)
            .map(|i| ChecksumReport {
                channel: i,
                label: self.header.channels[i].label.clone(),
                header_checksum: self.sigs[i].header_checksum,
                checksum: sums[i] as u16 as i16,
                header_initial_value: self.sigs[i].header_initial,
                first_sample: first[i],
            })
            .collect())
    }
}

/// Calls `f(j, raw)` for samples `from..to` of one signal, in order, reading its group's file
/// in chunks of at most about `chunk_bytes` bytes. Each chunk starts at the packing group that
/// holds the next wanted sample, so bytes between far-apart samples are skipped.
fn scan(
    g: &mut Group,
    buf: &mut Vec<u8>,
    chunk_bytes: usize,
    sig: &Sig,
    from: u64,
    to: u64,
    mut f: impl FnMut(u64, i32),
) -> Result<()> {
    if from >= to {
        return Ok(());
    }
    let fmt = g.format;
    let gs = fmt.group_samples();
    let chunk_slots = (chunk_bytes as u64 / fmt.group_bytes()).max(1) * gs;
    let fs = g.frame_slots;
    // One past the last wanted slot, rounded up to a packing group but not past the file's end.
    let end_slot = (sig.slot(fs, to - 1) / gs + 1)
        .saturating_mul(gs)
        .min(g.n_slots);
    let mut j = from;
    while j < to {
        let cs = sig.slot(fs, j) / gs * gs;
        let ce = cs.saturating_add(chunk_slots).min(end_slot);
        read_slot_bytes(g, buf, cs, ce)?;
        while j < to {
            let s = sig.slot(fs, j);
            if s >= ce {
                break;
            }
            f(j, fmt.decode(buf, (s - cs) as usize));
            j += 1;
        }
    }
    Ok(())
}

/// Fills `buf` with the bytes holding slots `s0..s1` of the group (`s0` at a packing-group
/// boundary). Bytes past the end of the file (the unused end of a last partial group) are 0.
fn read_slot_bytes(g: &mut Group, buf: &mut Vec<u8>, s0: u64, s1: u64) -> Result<()> {
    let fmt = g.format;
    // Slots up to n_slots were checked at open to fit in the file, so these cannot overflow.
    let b0 = fmt
        .bytes_for_samples(s0)
        .unwrap_or(u64::MAX)
        .saturating_add(g.byte_offset);
    let b1 = fmt
        .bytes_for_samples(s1)
        .unwrap_or(u64::MAX)
        .saturating_add(g.byte_offset);
    let len = usize::try_from(b1.saturating_sub(b0)).unwrap_or(usize::MAX);
    buf.clear();
    buf.resize(len, 0);
    let avail = usize::try_from(g.file_len.saturating_sub(b0))
        .unwrap_or(usize::MAX)
        .min(len);
    let file = match &g.file {
        Some(f) => f,
        None => {
            let f = File::open(&g.path)
                .map_err(|e| Error::io(&g.path, "wfdb: cannot open the signal file", e))?;
            g.file.insert(f)
        }
    };
    file.read_exact_at(&mut buf[..avail], b0).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::malformed(
                &g.path,
                format!(
                    "wfdb: the signal file ended before byte {} (it was {} bytes when the record was opened)",
                    b0.saturating_add(avail as u64),
                    g.file_len
                ),
            )
        } else {
            Error::io(
                &g.path,
                format!("wfdb: cannot read bytes {b0}..{}", b0.saturating_add(avail as u64)),
                e,
            )
        }
    })
}

/// The physical range the ADC can produce, when the header gives the ADC resolution.
///
/// Resolution 0 means the default: 12 bits (10 for format 8), but not more than the format
/// holds. The ADC range is `zero − 2^(res−1) ..= zero + 2^(res−1) − 1`.
fn physical_range(s: &SignalSpec, fmt: SignalFormat) -> Option<(f64, f64)> {
    let res = match s.adc_resolution? {
        0 if fmt.is_difference() => 10,
        0 => fmt.bits().min(12),
        r => r,
    };
    if !(1..=63).contains(&res) {
        return None;
    }
    let half = (1u64 << (res - 1)) as f64;
    let zero = s.zero() as f64;
    let (gain, base) = (s.gain(), s.baseline() as f64);
    let a = (zero - half - base) / gain;
    let b = (zero + half - 1.0 - base) / gain;
    Some((a.min(b), a.max(b)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::io::ReadLimits;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn opts() -> OpenOptions {
        OpenOptions {
            limits: ReadLimits::default(),
            rate_hz: None,
        }
    }

    /// Two signals interleaved in format 212, x2 and x1 samples per frame, with an odd total
    /// sample count, read with tiny chunks: every window equals the whole read.
    #[test]
    fn interleaved_212_tiny_chunks() {
        let dir = tempfile::tempdir().unwrap();
        // Frames: [a0 a1 b0] ... 7 frames = 21 slots.
        let frames = 7u64;
        let mut slots = Vec::new();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for f in 0..frames as i32 {
            for k in 0..2 {
                let v = (f * 2 + k) * 37 - 600;
                a.push(v);
                slots.push(v);
            }
            let v = 2047 - f * 101;
            b.push(v);
            slots.push(v);
        }
        let mut bytes = Vec::new();
        for pair in slots.chunks(2) {
            let s0 = pair[0] as u32 & 0xFFF;
            let s1 = pair.get(1).map_or(0, |&v| v as u32 & 0xFFF);
            bytes.push((s0 & 0xFF) as u8);
            bytes.push(((s0 >> 8) | ((s1 >> 8) << 4)) as u8);
            if pair.len() == 2 {
                bytes.push((s1 & 0xFF) as u8);
            }
        }
        write(dir.path(), "r.dat", &bytes);
        let hea = write(
            dir.path(),
            "r.hea",
            format!(
                "r 2 10 {frames}\nr.dat 212x2 100 12 0 {} 0 0 A\nr.dat 212 100 12 0 {} 0 0 B\n",
                a[0], b[0]
            )
            .as_bytes(),
        );
        let mut r = WfdbReader::open(&hea, &opts()).unwrap();
        assert_eq!(r.header().channels[0].rate_hz, 20.0);
        assert_eq!(r.header().channels[0].n_samples, 14);
        assert_eq!(r.header().channels[1].n_samples, 7);
        for chunk in [1usize, 3, 4, 7, 1 << 20] {
            r.set_read_chunk_bytes(chunk);
            for (c, want) in [(0usize, &a), (1, &b)] {
                let n = want.len();
                for s in 0..n {
                    for e in s + 1..=n {
                        let mut out = vec![0f32; e - s];
                        r.read(c, s as u64, &mut out).unwrap();
                        let exp: Vec<f32> = want[s..e].iter().map(|&v| v as f32 / 100.0).collect();
                        assert_eq!(out, exp, "chunk {chunk} channel {c} {s}..{e}");
                    }
                }
            }
        }
        let rep = r.verify_checksums().unwrap();
        assert!(
            rep.iter().all(|x| x.initial_value_ok() == Some(true)),
            "{rep:?}"
        );
    }

    /// Format 8 with two interleaved signals: reads in any order agree with the integration.
    #[test]
    fn format_8_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let n = 300usize;
        let a: Vec<i32> = (0..n as i32).map(|i| (i * 37) % 101 - 50).collect();
        let b: Vec<i32> = (0..n as i32).map(|i| 50 - (i * 3) % 90).collect();
        let mut bytes = Vec::new();
        let (mut pa, mut pb) = (a[0], b[0]);
        for i in 0..n {
            bytes.push((a[i] - pa) as i8 as u8);
            bytes.push((b[i] - pb) as i8 as u8);
            pa = a[i];
            pb = b[i];
        }
        let sum = |v: &[i32]| v.iter().map(|&x| i64::from(x)).sum::<i64>() as u16 as i16;
        write(dir.path(), "d.dat", &bytes);
        let hea = write(
            dir.path(),
            "d.hea",
            format!(
                "d 2 100 {n}\nd.dat 8 1 10 0 {} {} 0 a\nd.dat 8 1 10 0 {} {} 0 b\n",
                a[0],
                sum(&a),
                b[0],
                sum(&b)
            )
            .as_bytes(),
        );
        let mut r = WfdbReader::open(&hea, &opts()).unwrap();
        r.set_read_chunk_bytes(5);
        for &(s, e) in &[
            (250usize, 300usize),
            (0, 10),
            (10, 20),
            (20, 299),
            (5, 6),
            (299, 300),
        ] {
            for (c, want) in [(0, &a), (1, &b)] {
                let mut out = vec![0f32; e - s];
                r.read(c, s as u64, &mut out).unwrap();
                let exp: Vec<f32> = want[s..e].iter().map(|&v| v as f32).collect();
                assert_eq!(out, exp, "channel {c} {s}..{e}");
            }
        }
        let rep = r.verify_checksums().unwrap();
        assert!(rep.iter().all(ChecksumReport::ok), "{rep:?}");
        assert!(rep.iter().all(|x| x.checksum_ok() == Some(true)), "{rep:?}");
    }

    #[test]
    fn derived_length_byte_offset_and_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = vec![0xAAu8; 6]; // preamble
        for v in [1i16, -32768, 3, 4, 5] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.push(0); // odd trailing byte: not a whole sample
        write(dir.path(), "x.dat", &bytes);
        let hea = write(
            dir.path(),
            "x.hea",
            b"x 1 1000\nx.dat 16+6 2(1)/uV 16 0 1 0 0 emg\n",
        );
        let mut r = WfdbReader::open(&hea, &opts()).unwrap();
        let ch = &r.header().channels[0];
        assert_eq!(ch.n_samples, 5);
        assert_eq!(ch.unit, "uV");
        assert_eq!(
            ch.physical_range,
            Some(((-32768.0 - 1.0) / 2.0, (32767.0 - 1.0) / 2.0))
        );
        let mut out = [0f32; 5];
        r.read(0, 0, &mut out).unwrap();
        assert_eq!(out[0], 0.0);
        assert!(out[1].is_nan());
        assert_eq!(&out[2..], &[1.0, 1.5, 2.0]);
        // The checksum cannot be checked without a number of samples in the header.
        let rep = r.verify_checksums().unwrap();
        assert_eq!(rep[0].checksum_ok(), None);
        assert_eq!(rep[0].initial_value_ok(), Some(true));
    }
}
