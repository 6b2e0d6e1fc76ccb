//! The EDF/EDF+/BDF/BDF+ reader.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::header::{self, Notes, SignalHeader, Width, BLOCK};
use super::tal;
use crate::io::{
    check_read_range, Annotation, Channel, Format, Header, OpenOptions, ReadLimits, Segment,
    SignalReader,
};
use crate::{Error, Result};

/// Target size of one block of whole data records read by [`SignalReader::read`].
///
/// 8 MiB amortises the system call and keeps the decode loop in a warm buffer, while a
/// reader's memory stays the same whatever the file's length. A block always holds at
/// least one record, so a file whose records are larger gets one-record blocks (the record
/// size itself was checked against [`ReadLimits::max_alloc_bytes`] at open).
const BLOCK_BYTES: u64 = 8 << 20;

/// Buffer for the annotation scan at open (whole records when records are small).
const ANNOTATION_SCAN_BYTES: u64 = 1 << 20;

/// Records of at most this size are scanned whole for annotations: reading a few KiB
/// costs about as much as one system call, so one large read of many records wins.
const SMALL_RECORD_BYTES: u64 = 8 << 10;

/// Detailed warnings about broken TALs before they are only counted.
const MAX_TAL_WARNINGS: usize = 10;

/// Smallest gap (seconds) between data records that still counts as contiguous.
///
/// Time-keeping TALs are decimal text (EDFbrowser writes 100 ns steps) and record
/// durations like 1/3 s are rounded in the header, so stamps never match `k · duration`
/// exactly. A gap shorter than half a sample of the fastest channel cannot be represented
/// in the samples anyway, so that is the tolerance, but never below 1 µs.
fn contiguous_tolerance(max_rate: f64) -> f64 {
    if max_rate > 0.0 {
        (0.5 / max_rate).max(1e-6)
    } else {
        1e-6
    }
}

/// Where one channel's samples sit in a data record, and how to scale them.
#[derive(Debug, Clone, Copy)]
struct ChannelLayout {
    /// Byte offset of the channel's first sample within a record.
    byte_off: usize,
    /// Samples of this channel per record.
    spr: u64,
    /// `(pmax − pmin) / (dmax − dmin)`.
    gain: f32,
    /// `pmin − dmin · gain`, so that `physical = digital · gain + offset`.
    offset: f32,
}

/// Reads EDF, EDF+C, EDF+D, BDF, BDF+C and BDF+D recordings.
///
/// At open the header is parsed and checked against the file size, and the annotation
/// signals of every data record are scanned (bounded buffers) for annotations, the
/// sub-second start time and, in EDF+D/BDF+D, the [`Segment`]s. Samples are read on demand
/// in blocks of whole records (at most 8 MiB, at least one record); the last block stays
/// cached, so reading the same time window of each channel in turn reads the file once.
pub struct EdfReader {
    header: Header,
    file: File,
    width: Width,
    /// File offset of the first data record.
    data_start: u64,
    record_bytes: u64,
    n_records: u64,
    chans: Vec<ChannelLayout>,
    /// Most records one block holds.
    block_records: u64,
    buf: Vec<u8>,
    /// First record in `buf`, and how many records it holds (0: nothing cached).
    buf_first: u64,
    buf_len: u64,
    /// Blocks read from the file so far (for tests of the cache).
    loads: u64,
}

impl std::fmt::Debug for EdfReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdfReader")
            .field("path", &self.header.path)
            .field("format", &self.header.format)
            .field("n_records", &self.n_records)
            .field("record_bytes", &self.record_bytes)
            .finish_non_exhaustive()
    }
}

fn read_exact_at(file: &File, path: &Path, buf: &mut [u8], off: u64, what: &str) -> Result<()> {
    file.read_exact_at(buf, off)
        .map_err(|e| Error::io(path, format!("cannot read {what} at byte {off}"), e))
}

fn non_empty(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_string())
    }
}

impl EdfReader {
    /// Opens `path`, parsing and checking the header and scanning the annotations.
    ///
    /// Errors: [`Error::Malformed`] naming the header byte and field (or data record) that
    /// breaks the format, [`Error::Limit`] when the header asks for more than `opts.limits`
    /// allows, [`Error::Io`] when the file cannot be read.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let limits = &opts.limits;
        let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io(path, "cannot read the size of", e))?
            .len();
        if file_len < BLOCK as u64 {
            return Err(Error::malformed(
                path,
                format!(
                    "edf: the file has {file_len} bytes, fewer than the 256 bytes of an EDF/BDF header"
                ),
            ));
        }
        let mut fixed = [0u8; BLOCK];
        read_exact_at(&file, path, &mut fixed, 0, "the header")?;
        let mut notes = Notes::default();
        let fh = header::parse_fixed(path, &fixed, limits, &mut notes)?;
        let width = fh.width;
        let tag = width.tag();
        if file_len < fh.header_bytes {
            return Err(Error::malformed(
                path,
                format!(
                    "{tag}: the file has {file_len} bytes, but its header alone takes {} (256 · ({} signals + 1), byte 184)",
                    fh.header_bytes, fh.ns
                ),
            ));
        }
        limits.reserve(path, "the signal headers", fh.ns as u64, BLOCK as u64)?;
        let mut sbuf = vec![0u8; fh.ns * BLOCK];
        read_exact_at(&file, path, &mut sbuf, BLOCK as u64, "the signal headers")?;
        let signals = header::parse_signals(path, width, fh.ns, &sbuf, &mut notes)?;
        drop(sbuf);
        let mut warnings = notes.into_warnings(tag);

        // Record layout: each signal's byte offset within a record, and the record size.
        let w = width.bytes() as u64;
        let mut offsets = Vec::with_capacity(signals.len());
        let mut record_bytes: u64 = 0;
        for s in &signals {
            offsets.push(record_bytes);
            record_bytes = s
                .samples_per_record
                .checked_mul(w)
                .and_then(|b| record_bytes.checked_add(b))
                .ok_or_else(|| {
                    Error::malformed(path, format!("{tag}: the data record size overflows"))
                })?;
        }
        // The read buffer holds at least one record: refuse absurd records before anything else.
        limits.reserve(path, "one data record", 1, record_bytes)?;

        let data_len = file_len - fh.header_bytes;
        let n_records = record_count(
            path,
            width,
            &fh,
            &signals,
            record_bytes,
            data_len,
            &mut warnings,
        )?;

        let has_signals = signals.iter().any(|s| !s.is_annotation);
        if fh.record_duration == 0.0 && has_signals {
            return Err(Error::malformed(
                path,
                format!(
                    "{tag}: header byte 244 (duration of a data record): 0 is only allowed when the file holds nothing but annotations"
                ),
            ));
        }

        // Channels (annotation signals are not channels).
        let mut channels = Vec::new();
        let mut chans = Vec::new();
        let mut ann_signals = Vec::new();
        for (i, s) in signals.iter().enumerate() {
            if s.is_annotation {
                ann_signals.push(i);
                continue;
            }
            let n_samples = s.samples_per_record.checked_mul(n_records).ok_or_else(|| {
                Error::malformed(
                    path,
                    format!("{tag}: signal {i}: the sample count overflows"),
                )
            })?;
            let rate_hz = s.samples_per_record as f64 / fh.record_duration;
            if !rate_hz.is_finite() {
                return Err(Error::malformed(
                    path,
                    format!(
                        "{tag}: header byte 244 (duration of a data record): {} s gives signal {i} {:?} an infinite sampling rate",
                        fh.record_duration, s.label
                    ),
                ));
            }
            let gain = (s.physical_max - s.physical_min) / (s.digital_max - s.digital_min);
            let offset = s.physical_min - s.digital_min * gain;
            if !((gain as f32).is_finite() && (offset as f32).is_finite()) {
                return Err(Error::malformed(
                    path,
                    format!(
                        "{tag}: signal {i} {:?}: physical range {}..{} over digital {}..{} gives a scale outside 32-bit float range",
                        s.label, s.physical_min, s.physical_max, s.digital_min, s.digital_max
                    ),
                ));
            }
            channels.push(Channel {
                label: s.label.clone(),
                unit: s.unit.clone(),
                rate_hz,
                n_samples,
                physical_range: Some((s.physical_min, s.physical_max)),
                transducer: non_empty(&s.transducer),
                prefilter: non_empty(&s.prefilter),
            });
            chans.push(ChannelLayout {
                byte_off: offsets[i] as usize,
                spr: s.samples_per_record,
                gain: gain as f32,
                offset: offset as f32,
            });
        }

        let format = fh.format;
        let discontinuous = matches!(format, Format::EdfPlusD | Format::BdfPlusD);
        if ann_signals.is_empty() {
            if discontinuous {
                return Err(Error::malformed(
                    path,
                    format!(
                        "{tag}: the file is {format} (header byte 192) but has no \"{} Annotations\" signal, so its data records cannot be placed in time",
                        if width == Width::Bdf { "BDF" } else { "EDF" }
                    ),
                ));
            }
            if matches!(format, Format::EdfPlusC | Format::BdfPlusC) {
                warnings.push(format!(
                    "{tag}: the file is {format} (header byte 192) but has no annotation signal, which EDF+ requires"
                ));
            }
        } else if matches!(format, Format::Edf | Format::Bdf) {
            warnings.push(format!(
                "{tag}: the file is plain {format} (no EDF+ marker at header byte 192) but has an annotation signal ({:?}); its annotations were read as EDF+ TALs",
                signals[ann_signals[0]].label
            ));
        }

        let max_rate = channels.iter().map(|c| c.rate_hz).fold(0.0, f64::max);
        let timing = Timing {
            record_duration: fh.record_duration,
            n_records,
            discontinuous,
            tolerance: contiguous_tolerance(max_rate),
        };
        let scan = if ann_signals.is_empty() || n_records == 0 {
            ScanResult {
                annotations: Vec::new(),
                segments: vec![Segment {
                    stored_start_s: 0.0,
                    onset_s: 0.0,
                    duration_s: n_records as f64 * fh.record_duration,
                }],
                sub_second: 0.0,
                warnings: Vec::new(),
            }
        } else {
            let layout = AnnLayout {
                data_start: fh.header_bytes,
                record_bytes,
                signals: ann_signals
                    .iter()
                    .map(|&i| (offsets[i], signals[i].samples_per_record * w))
                    .collect(),
            };
            scan_annotations(&file, path, tag, &layout, &timing, limits)?
        };
        warnings.extend(scan.warnings);

        let mut start = fh.start;
        // sub_second is in [0, 1); the clamp only guards the rounding at the top end.
        start.nanos = ((scan.sub_second * 1e9).round() as u32).min(999_999_999);

        let block_records = (BLOCK_BYTES / record_bytes).max(1);
        let header = Header {
            format,
            path: path.to_path_buf(),
            channels,
            start: Some(start),
            subject: non_empty(&fh.patient),
            recording: non_empty(&fh.recording),
            annotations: scan.annotations,
            segments: scan.segments,
            comments: Vec::new(),
            warnings,
        };
        Ok(EdfReader {
            header,
            file,
            width,
            data_start: fh.header_bytes,
            record_bytes,
            n_records,
            chans,
            block_records,
            buf: Vec::new(),
            buf_first: 0,
            buf_len: 0,
            loads: 0,
        })
    }

    fn cached(&self, record: u64) -> bool {
        record >= self.buf_first && record - self.buf_first < self.buf_len
    }

    /// Loads the block of records starting at `first` into the buffer.
    fn load_from(&mut self, first: u64) -> Result<()> {
        let n = self.block_records.min(self.n_records - first);
        // n · record_bytes ≤ max(BLOCK_BYTES, record_bytes), and record_bytes passed
        // `ReadLimits::reserve` at open, so this fits in memory and in usize.
        let bytes = (n * self.record_bytes) as usize;
        if self.buf.len() < bytes {
            self.buf.resize(bytes, 0);
        }
        self.buf_len = 0;
        let off = self.data_start + first * self.record_bytes;
        let path = self.header.path.clone();
        read_exact_at(
            &self.file,
            &path,
            &mut self.buf[..bytes],
            off,
            "data records",
        )?;
        self.buf_first = first;
        self.buf_len = n;
        self.loads += 1;
        Ok(())
    }
}

/// The number of data records, checked against the file size.
fn record_count(
    path: &Path,
    width: Width,
    fh: &header::FixedHeader,
    signals: &[SignalHeader],
    record_bytes: u64,
    data_len: u64,
    warnings: &mut Vec<String>,
) -> Result<u64> {
    let tag = width.tag();
    if fh.n_records == -1 {
        let n = data_len / record_bytes;
        warnings.push(format!(
            "{tag}: header byte 236 (number of data records) is -1 (the file was still being recorded); using the {n} complete records the file holds"
        ));
        let rest = data_len % record_bytes;
        if rest != 0 {
            warnings.push(format!(
                "{tag}: the last {rest} bytes of the file are an incomplete data record and were ignored"
            ));
        }
        return Ok(n);
    }
    let n = fh.n_records as u64; // ≥ 0: parse_fixed refused other negatives
    let Some(need) = n.checked_mul(record_bytes) else {
        return Err(Error::malformed(
            path,
            format!(
                "{tag}: header byte 236 (number of data records): {n} records of {record_bytes} bytes are more than any file can hold"
            ),
        ));
    };
    // The sample width that the data size would fit instead, if any: catches EDF data
    // under a BDF header and the other way round.
    let other_width_fits = || {
        let samples: u64 = signals.iter().map(|s| s.samples_per_record).sum();
        let other = match width {
            Width::Edf => 3,
            Width::Bdf => 2,
        };
        samples
            .checked_mul(other)
            .and_then(|b| b.checked_mul(n))
            .is_some_and(|b| b == data_len && b != need)
    };
    let hint = |w: Width| {
        match w {
        Width::Edf => "; its size is exactly what 24-bit (BDF) samples would take, so the version field (byte 0) is probably wrong",
        Width::Bdf => "; its size is exactly what 16-bit (EDF) samples would take, so the version field (byte 0) is probably wrong",
    }
    };
    if data_len < need {
        let complete = data_len / record_bytes;
        let detail = if n > 0 && other_width_fits() {
            hint(width)
        } else {
            ""
        };
        return Err(Error::malformed(
            path,
            format!(
                "{tag}: the file is truncated: the header declares {n} data records of {record_bytes} bytes ({need} bytes after the {}-byte header) but only {data_len} bytes follow the header, so data record {complete} (counting from 0) is {}{detail}",
                fh.header_bytes,
                if data_len % record_bytes == 0 { "missing" } else { "cut short" }
            ),
        ));
    }
    if data_len > need {
        if n > 0 && other_width_fits() {
            return Err(Error::malformed(
                path,
                format!(
                    "{tag}: the header declares {n} data records of {record_bytes} bytes ({need} bytes) but {data_len} bytes follow the header{}",
                    hint(width)
                ),
            ));
        }
        warnings.push(format!(
            "{tag}: the file has {} bytes after the {n} data records the header declares (byte 236); they were ignored",
            data_len - need
        ));
    }
    Ok(n)
}

/// Where the annotation signals sit in a data record.
struct AnnLayout {
    data_start: u64,
    record_bytes: u64,
    /// (byte offset within the record, byte length) of each annotation signal, in header order.
    signals: Vec<(u64, u64)>,
}

struct Timing {
    record_duration: f64,
    n_records: u64,
    discontinuous: bool,
    tolerance: f64,
}

struct ScanResult {
    annotations: Vec<Annotation>,
    segments: Vec<Segment>,
    /// Onset of the first data record (its time-keeping TAL) when in [0, 1) s.
    sub_second: f64,
    warnings: Vec<String>,
}

/// Reads the annotation signals of every data record, one bounded block at a time, and
/// builds the annotations, segments and sub-second start time.
fn scan_annotations(
    file: &File,
    path: &Path,
    tag: &str,
    layout: &AnnLayout,
    timing: &Timing,
    limits: &ReadLimits,
) -> Result<ScanResult> {
    // Bytes from the first annotation signal to the end of the last one, in a record.
    let span_start = layout.signals.first().map_or(0, |s| s.0);
    let span_end = layout.signals.iter().map(|s| s.0 + s.1).max().unwrap_or(0);
    let span = span_end - span_start;
    let rb = layout.record_bytes;
    // Whole records when they are small or mostly annotations; otherwise only the span.
    let whole = rb <= SMALL_RECORD_BYTES || span.saturating_mul(8) >= rb;
    let per_read = if whole {
        (ANNOTATION_SCAN_BYTES / rb).max(1).min(timing.n_records)
    } else {
        1
    };
    let buf_bytes = if whole { per_read * rb } else { span };
    limits.reserve(path, "the annotation scan buffer", 1, buf_bytes)?;
    let mut buf = vec![0u8; buf_bytes as usize];

    let mut st = ScanState::new(path, tag, timing, limits, layout.data_start, rb);
    let mut r = 0u64;
    while r < timing.n_records {
        let n = per_read.min(timing.n_records - r);
        if whole {
            let bytes = (n * rb) as usize;
            read_exact_at(
                file,
                path,
                &mut buf[..bytes],
                layout.data_start + r * rb,
                "data records",
            )?;
        } else {
            read_exact_at(
                file,
                path,
                &mut buf,
                layout.data_start + r * rb + span_start,
                "the annotation signal",
            )?;
        }
        for k in 0..n {
            let rec_base = if whole { k * rb } else { 0 };
            let mut pieces = Vec::with_capacity(layout.signals.len());
            for &(off, len) in &layout.signals {
                let from = (rec_base + if whole { off } else { off - span_start }) as usize;
                pieces.push((off, &buf[from..from + len as usize]));
            }
            st.record(r + k, &pieces)?;
        }
        r += n;
    }
    st.finish()
}

/// Running state of the annotation scan.
struct ScanState<'a> {
    path: &'a Path,
    tag: &'a str,
    timing: &'a Timing,
    limits: &'a ReadLimits,
    data_start: u64,
    record_bytes: u64,
    annotations: Vec<Annotation>,
    text_bytes: u64,
    segments: Vec<Segment>,
    sub_second: f64,
    /// Stamp of record 0 (continuous files measure continuity from it).
    first_stamp: Option<f64>,
    /// Current segment (discontinuous files): first record and its stamp.
    seg_first: u64,
    seg_stamp: f64,
    prev_end: f64,
    tal_errors: usize,
    tal_warnings: Vec<String>,
    missing_stamps: u64,
    not_continuous: Option<(u64, f64, f64)>,
    not_continuous_count: u64,
    out_of_order: Option<u64>,
    bad_utf8: u64,
    bad_utf8_first: u64,
}

impl<'a> ScanState<'a> {
    fn new(
        path: &'a Path,
        tag: &'a str,
        timing: &'a Timing,
        limits: &'a ReadLimits,
        data_start: u64,
        record_bytes: u64,
    ) -> Self {
        ScanState {
            path,
            tag,
            timing,
            limits,
            data_start,
            record_bytes,
            annotations: Vec::new(),
            text_bytes: 0,
            segments: Vec::new(),
            sub_second: 0.0,
            first_stamp: None,
            seg_first: 0,
            seg_stamp: 0.0,
            prev_end: f64::NEG_INFINITY,
            tal_errors: 0,
            tal_warnings: Vec::new(),
            missing_stamps: 0,
            not_continuous: None,
            not_continuous_count: 0,
            out_of_order: None,
            bad_utf8: 0,
            bad_utf8_first: 0,
        }
    }

    /// Handles one data record: `pieces` holds each annotation signal's (offset in the
    /// record, bytes).
    fn record(&mut self, r: u64, pieces: &[(u64, &[u8])]) -> Result<()> {
        let dur = self.timing.record_duration;
        let mut stamp = None;
        for (k, &(off, bytes)) in pieces.iter().enumerate() {
            for (j, item) in tal::tals(bytes).enumerate() {
                let t = match item {
                    Ok(t) => t,
                    Err(e) => {
                        self.tal_errors += 1;
                        if self.tal_warnings.len() < MAX_TAL_WARNINGS {
                            let at =
                                self.data_start + r * self.record_bytes + off + e.offset as u64;
                            self.tal_warnings.push(format!(
                                "{}: data record {r}, file byte {at}: {}; skipped",
                                self.tag, e.what
                            ));
                        }
                        continue;
                    }
                };
                if k == 0 && j == 0 {
                    stamp = Some(t.onset);
                    if r == 0 && (0.0..1.0).contains(&t.onset) {
                        self.sub_second = t.onset;
                    }
                }
                for text in t.texts {
                    if text.is_empty() {
                        continue;
                    }
                    let text = match std::str::from_utf8(text) {
                        Ok(s) => s.to_string(),
                        Err(_) => {
                            if self.bad_utf8 == 0 {
                                self.bad_utf8_first = r;
                            }
                            self.bad_utf8 += 1;
                            String::from_utf8_lossy(text).into_owned()
                        }
                    };
                    self.limits
                        .check_annotations(self.path, self.annotations.len() + 1)?;
                    self.text_bytes += text.len() as u64;
                    self.limits
                        .reserve(self.path, "the annotation texts", self.text_bytes, 1)?;
                    self.annotations.push(Annotation {
                        onset_s: t.onset - self.sub_second,
                        duration_s: t.duration,
                        text,
                    });
                }
            }
        }

        if r == 0 {
            self.first_stamp = stamp;
        }
        let tol = self.timing.tolerance;
        if self.timing.discontinuous {
            let Some(t) = stamp else {
                let at =
                    self.data_start + r * self.record_bytes + pieces.first().map_or(0, |p| p.0);
                return Err(Error::malformed(
                    self.path,
                    format!(
                        "{}: data record {r} (file byte {at}) has no valid time-keeping TAL, which a discontinuous file needs to place the record in time",
                        self.tag
                    ),
                ));
            };
            if r == 0 {
                self.seg_first = 0;
                self.seg_stamp = t;
            } else {
                let expected = self.seg_stamp + (r - self.seg_first) as f64 * dur;
                if (t - expected).abs() > tol {
                    self.close_segment(r)?;
                    self.seg_first = r;
                    self.seg_stamp = t;
                }
                if t < self.prev_end - tol && self.out_of_order.is_none() {
                    self.out_of_order = Some(r);
                }
            }
            self.prev_end = t + dur;
        } else {
            match (stamp, self.first_stamp) {
                (Some(t), Some(t0)) => {
                    let expected = t0 + r as f64 * dur;
                    if (t - expected).abs() > tol {
                        if self.not_continuous.is_none() {
                            self.not_continuous = Some((r, t, expected));
                        }
                        self.not_continuous_count += 1;
                    }
                }
                _ => self.missing_stamps += 1,
            }
        }
        Ok(())
    }

    fn close_segment(&mut self, end_record: u64) -> Result<()> {
        let dur = self.timing.record_duration;
        self.limits.reserve(
            self.path,
            "the segments",
            self.segments.len() as u64 + 1,
            std::mem::size_of::<Segment>() as u64,
        )?;
        self.segments.push(Segment {
            stored_start_s: self.seg_first as f64 * dur,
            onset_s: self.seg_stamp - self.sub_second,
            duration_s: (end_record - self.seg_first) as f64 * dur,
        });
        Ok(())
    }

    fn finish(mut self) -> Result<ScanResult> {
        let tag = self.tag;
        let n = self.timing.n_records;
        let dur = self.timing.record_duration;
        let mut warnings = std::mem::take(&mut self.tal_warnings);
        if self.tal_errors > MAX_TAL_WARNINGS {
            warnings.push(format!(
                "{tag}: {} malformed TALs in all were skipped (only the first {MAX_TAL_WARNINGS} are listed)",
                self.tal_errors
            ));
        }
        if self.bad_utf8 > 0 {
            warnings.push(format!(
                "{tag}: {} annotation texts are not valid UTF-8 (the first in data record {}); invalid bytes were replaced by U+FFFD",
                self.bad_utf8, self.bad_utf8_first
            ));
        }
        if self.timing.discontinuous {
            self.close_segment(n)?;
            if let Some(r) = self.out_of_order {
                warnings.push(format!(
                    "{tag}: data record {r} starts before the previous record ends (time-keeping TALs out of order or overlapping)"
                ));
            }
        } else {
            if self.missing_stamps > 0 {
                warnings.push(format!(
                    "{tag}: {} data records have no valid time-keeping TAL",
                    self.missing_stamps
                ));
            }
            if let Some((r, t, e)) = self.not_continuous {
                warnings.push(format!(
                    "{tag}: the file claims to be continuous but {} data records have time-keeping TALs off the expected times (the first, record {r}, says {t} s, expected {e} s); samples were read as continuous",
                    self.not_continuous_count
                ));
            }
            let onset = self.first_stamp.unwrap_or(0.0) - self.sub_second;
            self.segments.push(Segment {
                stored_start_s: 0.0,
                onset_s: onset,
                duration_s: n as f64 * dur,
            });
        }
        Ok(ScanResult {
            annotations: self.annotations,
            segments: self.segments,
            sub_second: self.sub_second,
            warnings,
        })
    }
}

// Sample decoding. Both loops are branch-free over `chunks_exact` so that the compiler
// vectorises them; the scaling is one multiply-add with a gain and offset precomputed at open.

/// EDF: 16-bit little-endian two's complement → physical.
#[inline]
fn decode_16(src: &[u8], dst: &mut [f32], gain: f32, offset: f32) {
    for (d, c) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *d = f32::from(i16::from_le_bytes([c[0], c[1]])) * gain + offset;
    }
}

/// BDF: 24-bit little-endian two's complement → physical. The three bytes go into the top
/// of an i32 and an arithmetic shift right by 8 sign-extends them.
#[inline]
fn decode_24(src: &[u8], dst: &mut [f32], gain: f32, offset: f32) {
    for (d, c) in dst.iter_mut().zip(src.chunks_exact(3)) {
        let v = i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8;
        *d = v as f32 * gain + offset;
    }
}

impl SignalReader for EdfReader {
    fn header(&self) -> &Header {
        &self.header
    }

    fn read(&mut self, channel: usize, start: u64, out: &mut [f32]) -> Result<()> {
        check_read_range(&self.header, channel, start, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        let ch = self.chans[channel];
        let w = self.width.bytes();
        let end = start + out.len() as u64;
        let r_first = start / ch.spr;
        let r_last = (end - 1) / ch.spr;
        // When the whole window fits in one block, load it as one block starting at the
        // window, so that the next channel's read of the same window hits the cache.
        if r_last - r_first < self.block_records && !(self.cached(r_first) && self.cached(r_last)) {
            self.load_from(r_first)?;
        }
        let mut pos = start;
        let mut done = 0usize;
        while pos < end {
            let r = pos / ch.spr;
            if !self.cached(r) {
                self.load_from(r)?;
            }
            let upto = (self.buf_first + self.buf_len).min(r_last + 1);
            for rec in r..upto {
                let rec_sample = rec * ch.spr;
                let i0 = (pos - rec_sample) as usize;
                let i1 = ch.spr.min(end - rec_sample) as usize;
                let base = ((rec - self.buf_first) * self.record_bytes) as usize + ch.byte_off;
                let src = &self.buf[base + i0 * w..base + i1 * w];
                let dst = &mut out[done..done + (i1 - i0)];
                match self.width {
                    Width::Edf => decode_16(src, dst, ch.gain, ch.offset),
                    Width::Bdf => decode_24(src, dst, ch.gain, ch.offset),
                }
                done += i1 - i0;
                pos += (i1 - i0) as u64;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decode_16_scales() {
        let src: Vec<u8> = [-32768i16, -1, 0, 1, 32767]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut out = [0.0f32; 5];
        decode_16(&src, &mut out, 2.0, 1.0);
        assert_eq!(out, [-65535.0, -1.0, 1.0, 3.0, 65535.0]);
    }

    #[test]
    fn decode_24_sign_extends() {
        let vals = [-8_388_608i32, -1, 0, 1, 8_388_607, -2];
        let src: Vec<u8> = vals
            .iter()
            .flat_map(|v| v.to_le_bytes()[..3].to_vec())
            .collect();
        let mut out = [0.0f32; 6];
        decode_24(&src, &mut out, 1.0, 0.0);
        let want: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
        assert_eq!(&out[..], &want[..]);
    }

    #[test]
    fn same_window_of_every_channel_reads_the_file_once() {
        use crate::io::edf::{EdfChannelSpec, EdfSpec, EdfWriter};
        use crate::io::DateTime;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.edf");
        let ch = |rate: f64| EdfChannelSpec {
            label: "x".into(),
            unit: "uV".into(),
            rate_hz: rate,
            physical_range: (-1.0, 1.0),
            transducer: String::new(),
            prefilter: String::new(),
        };
        let start = DateTime {
            year: 2020,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            nanos: 0,
        };
        let mut w =
            EdfWriter::create(&path, &EdfSpec::new(start, vec![ch(1000.0), ch(250.0)])).unwrap();
        let (a, b) = (vec![0.5f32; 1000], vec![0.25f32; 250]);
        for _ in 0..60 {
            w.push(&[&a, &b]).unwrap();
        }
        w.finish().unwrap();
        let mut r = EdfReader::open(&path, &OpenOptions::default()).unwrap();
        // Small blocks so that windows cross block boundaries: 7 records per block.
        r.block_records = 7;
        let mut x = vec![0.0f32; 1000];
        let mut y = vec![0.0f32; 250];
        for sec in 0..60u64 {
            r.read(0, sec * 1000, &mut x).unwrap();
            r.read(1, sec * 250, &mut y).unwrap();
            assert!(x.iter().all(|&v| (v - 0.5).abs() < 1e-4));
            assert!(y.iter().all(|&v| (v - 0.25).abs() < 1e-4));
        }
        // One load per 7 one-second windows, never one per channel.
        assert_eq!(r.loads, 60u64.div_ceil(7));
        // A window larger than a block streams through blocks.
        let mut big = vec![0.0f32; 20_000];
        r.read(0, 500, &mut big).unwrap();
        assert!(big.iter().all(|&v| (v - 0.5).abs() < 1e-4));
    }

    #[test]
    fn tolerance_is_half_a_sample() {
        assert_eq!(contiguous_tolerance(1000.0), 5e-4);
        assert_eq!(contiguous_tolerance(0.0), 1e-6);
        assert_eq!(contiguous_tolerance(1e9), 1e-6);
    }
}
