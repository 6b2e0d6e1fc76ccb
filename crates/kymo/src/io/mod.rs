//! Reading and writing recordings.
//!
//! Every reader turns a file into a [`Header`] (channels, rates, units, start time,
//! annotations) plus random access to any sample range of any channel, in physical
//! units, through the [`SignalReader`] trait. [`open`] picks the reader from the
//! file's content and name.
//!
//! # For implementations
//!
//! A reader is handed untrusted bytes. Every reader must:
//! 1. check the file is a regular, non-empty file before parsing (done by [`open`]);
//! 2. parse the header with every count and size checked (`checked_mul`/`checked_add`,
//!    or subtraction from a known-good total) before it is used;
//! 3. compare what the header implies with the real file size and say which field disagrees;
//! 4. call [`ReadLimits::check_channels`] and [`ReadLimits::reserve`] before any allocation
//!    whose size comes from the file, so a hostile header gives [`Error::Limit`], not an
//!    out-of-memory abort;
//! 5. never read the whole signal into memory: `read` touches only the bytes it needs
//!    (bounded buffers), so peak memory does not depend on the file's length;
//! 6. return errors, never panic, on any input; a redundant field that is merely
//!    inconsistent is a warning in [`Header::warnings`], a field that would corrupt the
//!    samples is an error.
//!
//! `header()` may be called any time; `read` may be called in any order, any number of times.

pub mod atomic;
pub mod edf;
pub mod mat;
pub mod text;
pub mod wav;
pub mod wfdb;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{Error, Result};

/// The file format a [`Header`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Format {
    /// European Data Format (1992), 16-bit, no annotations.
    #[serde(rename = "EDF")]
    Edf,
    /// EDF+ continuous.
    #[serde(rename = "EDF+C")]
    EdfPlusC,
    /// EDF+ discontinuous (records carry their own onsets; see [`Header::segments`]).
    #[serde(rename = "EDF+D")]
    EdfPlusD,
    /// BioSemi Data Format, 24-bit.
    #[serde(rename = "BDF")]
    Bdf,
    /// BDF+ continuous.
    #[serde(rename = "BDF+C")]
    BdfPlusC,
    /// BDF+ discontinuous.
    #[serde(rename = "BDF+D")]
    BdfPlusD,
    /// PhysioNet WFDB record (`.hea` header and signal files).
    #[serde(rename = "WFDB")]
    Wfdb,
    /// RIFF WAVE audio.
    #[serde(rename = "WAV")]
    Wav,
    /// Delimited text (CSV, TSV, whitespace) with one column per channel.
    #[serde(rename = "CSV")]
    Csv,
    /// MATLAB level-5 MAT-file holding a numeric matrix of channels.
    #[serde(rename = "MAT")]
    Mat,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Format::Edf => "EDF",
            Format::EdfPlusC => "EDF+C",
            Format::EdfPlusD => "EDF+D",
            Format::Bdf => "BDF",
            Format::BdfPlusC => "BDF+C",
            Format::BdfPlusD => "BDF+D",
            Format::Wfdb => "WFDB",
            Format::Wav => "WAV",
            Format::Csv => "CSV",
            Format::Mat => "MAT",
        };
        f.write_str(s)
    }
}

/// One signal channel as the file describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Channel {
    /// Label as written in the file, trimmed (e.g. `"EMG"`, `"Fp1"`).
    pub label: String,
    /// Physical unit as written in the file (e.g. `"uV"`, `"mV"`); empty when the format has none.
    pub unit: String,
    /// Sampling rate in Hz (samples per second of this channel).
    pub rate_hz: f64,
    /// Number of samples of this channel in the file.
    pub n_samples: u64,
    /// Physical range `(min, max)` in `unit` that the stored values can represent, where the
    /// format declares one (EDF physical min/max, WFDB ADC range through the gain, WAV full scale).
    pub physical_range: Option<(f64, f64)>,
    /// Transducer type (EDF) or other sensor description, where the format has it.
    pub transducer: Option<String>,
    /// Prefiltering text (EDF, e.g. `"HP:0.1Hz LP:75Hz"`), where the format has it.
    pub prefilter: Option<String>,
}

/// A calendar date and time of day, as written in the file (no time zone: EDF and WFDB have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Four-digit year.
    pub year: i32,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–60 (a leap second is allowed).
    pub second: u8,
    /// Sub-second part, 0–999 999 999 ns (EDF+ keeps it in the first record's time stamp).
    pub nanos: u32,
}

impl fmt::Display for DateTime {
    /// ISO 8601 without zone, e.g. `2011-04-04T12:57:02` or `2011-04-04T12:57:02.500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.nanos != 0 {
            let s = format!("{:09}", self.nanos);
            write!(f, ".{}", s.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

impl Serialize for DateTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A time-stamped note in the file (EDF+ TAL, WFDB annotation, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    /// Seconds from the recording start ([`Header::start`]).
    pub onset_s: f64,
    /// Seconds, when the file gives a duration.
    pub duration_s: Option<f64>,
    /// The text, UTF-8.
    pub text: String,
}

/// A stretch of samples stored contiguously in the file and recorded without a gap.
///
/// Samples are addressed by their index in the file (as [`SignalReader::read`] does);
/// the segment maps the stored time `i / rate` to the true time since the recording start.
/// Continuous formats have exactly one segment; EDF+D and BDF+D can have many.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Stored time of the segment's first sample, in seconds (`first index / rate`).
    pub stored_start_s: f64,
    /// True onset of the segment's first sample, seconds from the recording start.
    pub onset_s: f64,
    /// Length in seconds.
    pub duration_s: f64,
}

/// Everything a reader knows about a recording except the samples themselves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// The format it was read as.
    pub format: Format,
    /// The file that was opened.
    pub path: PathBuf,
    /// Signal channels (EDF+ annotation signals are not channels; their content is in `annotations`).
    pub channels: Vec<Channel>,
    /// Recording start, where the format has it.
    pub start: Option<DateTime>,
    /// Patient / subject identification text, where the format has it.
    pub subject: Option<String>,
    /// Recording identification text, where the format has it.
    pub recording: Option<String>,
    /// Time-stamped notes, in file order.
    pub annotations: Vec<Annotation>,
    /// Contiguous stretches of recording (one for continuous formats).
    pub segments: Vec<Segment>,
    /// Free-text comments (WFDB `#` lines, CSV `#` lines).
    pub comments: Vec<String>,
    /// Small departures from the format that kymo tolerated, one sentence each.
    pub warnings: Vec<String>,
}

impl Header {
    /// The header of a continuous recording from a format without start time, subject,
    /// recording fields or annotations (WAV, delimited text, MAT): one segment of
    /// `duration_s` seconds.
    pub fn continuous(
        format: Format,
        path: &Path,
        channels: Vec<Channel>,
        duration_s: f64,
        comments: Vec<String>,
        warnings: Vec<String>,
    ) -> Header {
        Header {
            format,
            path: path.to_path_buf(),
            channels,
            start: None,
            subject: None,
            recording: None,
            annotations: Vec::new(),
            segments: vec![Segment {
                stored_start_s: 0.0,
                onset_s: 0.0,
                duration_s,
            }],
            comments,
            warnings,
        }
    }

    /// Length in seconds of the longest channel (stored time, gaps excluded).
    pub fn duration_s(&self) -> f64 {
        self.channels
            .iter()
            .filter(|c| c.rate_hz > 0.0)
            .map(|c| c.n_samples as f64 / c.rate_hz)
            .fold(0.0, f64::max)
    }

    /// Index of the channel whose label is `label` (exact match after trimming).
    pub fn channel_index(&self, label: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.label == label.trim())
    }
}

/// Random access to the samples of a recording, in physical units.
pub trait SignalReader: Send {
    /// The header, read when the file was opened.
    fn header(&self) -> &Header;

    /// Reads samples `start .. start + out.len()` of channel `channel` (file order, see
    /// [`Segment`]) into `out`, in the channel's physical unit.
    ///
    /// Fails with [`Error::Config`] when the channel does not exist or the range goes past
    /// the channel's end, and with [`Error::Malformed`]/[`Error::Io`] when the file turns out
    /// to be broken there.
    fn read(&mut self, channel: usize, start: u64, out: &mut [f32]) -> Result<()>;
}

impl SignalReader for Box<dyn SignalReader> {
    fn header(&self) -> &Header {
        (**self).header()
    }
    fn read(&mut self, channel: usize, start: u64, out: &mut [f32]) -> Result<()> {
        (**self).read(channel, start, out)
    }
}

/// Checks the arguments of [`SignalReader::read`] against a header; readers call it first.
pub fn check_read_range(header: &Header, channel: usize, start: u64, len: usize) -> Result<()> {
    let Some(ch) = header.channels.get(channel) else {
        return Err(Error::config(format!(
            "{}: channel {} does not exist (the file has {} channels)",
            header.path.display(),
            channel,
            header.channels.len()
        )));
    };
    let end = start.checked_add(len as u64);
    if end.is_none_or(|e| e > ch.n_samples) {
        return Err(Error::config(format!(
            "{}: samples {}..{} of channel {} ({}) are past its end ({} samples)",
            header.path.display(),
            start,
            start.saturating_add(len as u64),
            channel,
            ch.label,
            ch.n_samples
        )));
    }
    Ok(())
}

/// Bounds on what a reader may allocate from numbers found in a file.
///
/// The defaults admit any real recording kymo has met (thousands of channels, millions of
/// annotations) while keeping a hostile header from asking for more memory than a laptop has.
/// They may change between versions.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadLimits {
    /// Most channels a file may declare (default 4096: high-density grids have a few hundred).
    pub max_channels: usize,
    /// Most annotations kept (default 1 000 000).
    pub max_annotations: usize,
    /// Most bytes one allocation sized by the file may take (default 512 MiB).
    pub max_alloc_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_channels: 4096,
            max_annotations: 1_000_000,
            max_alloc_bytes: 512 << 20,
        }
    }
}

impl ReadLimits {
    /// No limits at all (trusted input only).
    pub fn none() -> Self {
        ReadLimits {
            max_channels: usize::MAX,
            max_annotations: usize::MAX,
            max_alloc_bytes: u64::MAX,
        }
    }

    /// Fails when `n` channels exceed `max_channels`.
    pub fn check_channels(&self, path: &Path, n: u64) -> Result<()> {
        if n > self.max_channels as u64 {
            return Err(Error::limit(
                path,
                format!(
                    "the file declares {n} channels, more than the limit of {}",
                    self.max_channels
                ),
            ));
        }
        Ok(())
    }

    /// Fails when `count` items of `item_bytes` each exceed `max_alloc_bytes`; `what` names them.
    pub fn reserve(&self, path: &Path, what: &str, count: u64, item_bytes: u64) -> Result<()> {
        match count.checked_mul(item_bytes) {
            Some(b) if b <= self.max_alloc_bytes => Ok(()),
            _ => Err(Error::limit(
                path,
                format!(
                    "{what} would need {count} × {item_bytes} bytes, more than the limit of {} bytes",
                    self.max_alloc_bytes
                ),
            )),
        }
    }

    /// Fails when `n` annotations exceed `max_annotations`.
    pub fn check_annotations(&self, path: &Path, n: usize) -> Result<()> {
        if n > self.max_annotations {
            return Err(Error::limit(
                path,
                format!(
                    "the file holds more than {} annotations (the limit)",
                    self.max_annotations
                ),
            ));
        }
        Ok(())
    }
}

/// How to open a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenOptions {
    /// Allocation bounds.
    pub limits: ReadLimits,
    /// Sampling rate in Hz for formats that may lack one (CSV without a time column).
    pub rate_hz: Option<f64>,
}

/// Opens a recording, choosing the reader from the file's first bytes and its name.
///
/// A WFDB record may be named by its `.hea` file, or by the record name without extension
/// when `NAME.hea` exists.
pub fn open(path: &Path, opts: &OpenOptions) -> Result<Box<dyn SignalReader>> {
    let path = resolve_record_path(path);
    let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, "cannot open", e))?;
    if meta.is_dir() {
        return Err(Error::malformed(
            &path,
            "is a directory, not a recording file",
        ));
    }
    if meta.len() == 0 {
        return Err(Error::malformed(&path, "the file is empty (0 bytes)"));
    }
    let mut magic = [0u8; 16];
    let n = read_prefix(&path, &mut magic)?;
    let magic = &magic[..n];
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();

    if magic.starts_with(b"RIFF") || magic.starts_with(b"RF64") {
        return Ok(Box::new(wav::WavReader::open(&path, opts)?));
    }
    if magic.starts_with(b"MATLAB 5.0") {
        return Ok(Box::new(mat::MatReader::open(&path, opts)?));
    }
    if magic.starts_with(b"\xffBIOSEMI") || magic.starts_with(b"0       ") {
        return Ok(Box::new(edf::EdfReader::open(&path, opts)?));
    }
    match ext.as_str() {
        "edf" | "bdf" | "rec" => Ok(Box::new(edf::EdfReader::open(&path, opts)?)),
        "hea" => wfdb::open(&path, opts),
        "wav" => Ok(Box::new(wav::WavReader::open(&path, opts)?)),
        "mat" => Ok(Box::new(mat::MatReader::open(&path, opts)?)),
        "csv" | "tsv" | "txt" | "dat" | "asc" => Ok(Box::new(text::TextReader::open(&path, opts)?)),
        _ => Err(Error::unsupported(
            &path,
            "unknown file type: expected EDF/BDF (.edf, .bdf), WFDB (.hea), WAV (.wav), MAT (.mat) or delimited text (.csv, .tsv, .txt)",
        )),
    }
}

/// `rec` → `rec.hea` when `rec` itself does not exist but the WFDB header does.
fn resolve_record_path(path: &Path) -> PathBuf {
    if !path.exists() {
        let mut hea = path.as_os_str().to_owned();
        hea.push(".hea");
        let hea = PathBuf::from(hea);
        if hea.is_file() {
            return hea;
        }
    }
    path.to_path_buf()
}

fn read_prefix(path: &Path, buf: &mut [u8]) -> Result<usize> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, "cannot read", e)),
        }
    }
    Ok(n)
}

/// Reads a whole channel into memory (bounded by `limits.max_alloc_bytes`).
pub fn read_channel(
    reader: &mut dyn SignalReader,
    channel: usize,
    limits: &ReadLimits,
) -> Result<Vec<f32>> {
    let header = reader.header();
    check_read_range(header, channel, 0, 0)?;
    let n = header.channels[channel].n_samples;
    limits.reserve(&header.path, "reading the whole channel", n, 4)?;
    let mut out = vec![0.0f32; n as usize];
    reader.read(channel, 0, &mut out)?;
    Ok(out)
}
