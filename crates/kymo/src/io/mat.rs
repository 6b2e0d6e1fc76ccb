//! MATLAB level-5 MAT-file reader (MATLAB `-v6` and `-v7` files, compressed or not).
//!
//! kymo reads enough of the format to find one signal matrix and its metadata:
//! - the signal is the largest 2-D real numeric matrix (double, single, int8…uint64),
//!   also when it sits inside a cell (OTBioLab+ exports `Data` as a 1×1 cell); its longer
//!   dimension is time, the shorter one channels (a samples×channels matrix is
//!   column-major, so each channel is contiguous);
//! - the rate comes from a scalar named like `SamplingFrequency`, `fs`, `Fs`,
//!   `samplingRate`, `srate` or `rate`, else from the step of a `Time` vector, else from
//!   [`OpenOptions::rate_hz`] (which also overrides the file);
//! - labels come from a cell array of strings (or a char matrix) with one entry per
//!   channel (`Description`), a trailing `[uV]` giving the unit.
//!
//! MAT v7.3 files are HDF5 and are refused with [`Error::Unsupported`]; so are MAT v4 files.
//!
//! # Memory and cost
//!
//! `open` decompresses only the beginning of each variable (its header, and the few
//! values of scalars, labels and the first 1025 time stamps); the signal matrix is never
//! held in memory. `read` streams the zlib data through a 64 KiB buffer and discards
//! bytes up to the requested samples: reading a late column of a compressed matrix costs
//! time proportional to its position in the matrix (zlib has no random access), memory
//! stays constant. Consecutive reads that move forward continue the same decompressor,
//! so reading a channel block by block costs one pass. Uncompressed (`-v6`) matrices are
//! read with positioned reads. Every dimension product is checked arithmetic, and the
//! only allocations sized by the file (labels, names, time stamps) go through
//! [`crate::io::ReadLimits`].

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use flate2::bufread::ZlibDecoder;

use super::text::split_label_unit;
use super::{check_read_range, Channel, Format, Header, OpenOptions, SignalReader};
use crate::{Error, Result};

// Data types (the `type` of a data element tag).
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

// Array classes (low byte of the array flags).
const MX_CELL: u8 = 1;
const MX_CHAR: u8 = 4;
const MX_DOUBLE: u8 = 6;
const MX_UINT64: u8 = 15;

/// Buffer for streaming and for positioned reads.
const BLOCK_BYTES: usize = 64 * 1024;

/// Most top-level elements walked (a MAT-file with more variables is not a recording).
const MAX_VARIABLES: u32 = 100_000;

/// Deepest nesting of cells inside cells that is parsed (deeper ones are skipped).
const MAX_DEPTH: u32 = 8;

/// Most dimensions of an array (MATLAB allows more, nothing real uses them).
const MAX_DIMS: u32 = 32;

/// Longest variable name accepted (MATLAB's own limit is 63).
const MAX_NAME_BYTES: u32 = 4096;

/// Longest char array read as text (labels and short notes).
const MAX_TEXT_BYTES: u32 = 1 << 20;

/// Most cell elements looked at in one cell array.
const MAX_CELL_ELEMENTS: u64 = 100_000;

/// Time stamps read from a `Time` vector to measure its step.
const TIME_HEAD: u64 = 1025;

/// Decompressed bytes `open` may go through in one compressed variable (reading its
/// headers, or discarding a large matrix to reach later cell elements). Beyond it the
/// rest of that variable is not inspected (a warning), or, when even its header is out of
/// reach, open fails with [`Error::Limit`]: a decompression bomb costs bounded time.
const OPEN_SKIP_BUDGET: u64 = 256 << 20;

/// A rate from time stamps within this relative distance of an integer is that integer.
const RATE_SNAP_REL: f64 = 1e-6;

/// Two rates closer than this, relatively, agree.
const RATE_AGREE_REL: f64 = 1e-3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }
    fn u64(self, b: &[u8]) -> u64 {
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        }
    }

    /// Decodes one element of numeric data type `ty` (see `elem_size`) to f64.
    fn value(self, ty: u32, b: &[u8]) -> f64 {
        match ty {
            MI_INT8 => f64::from(b[0] as i8),
            MI_UINT8 => f64::from(b[0]),
            MI_INT16 => f64::from(self.u16(b) as i16),
            MI_UINT16 => f64::from(self.u16(b)),
            MI_INT32 => f64::from(self.u32(b) as i32),
            MI_UINT32 => f64::from(self.u32(b)),
            MI_SINGLE => f64::from(f32::from_bits(self.u32(b))),
            MI_DOUBLE => f64::from_bits(self.u64(b)),
            MI_INT64 => self.u64(b) as i64 as f64,
            MI_UINT64 => self.u64(b) as f64,
            _ => f64::NAN,
        }
    }
}

/// Bytes per element of a numeric data type, `None` for other types.
fn elem_size(ty: u32) -> Option<usize> {
    match ty {
        MI_INT8 | MI_UINT8 => Some(1),
        MI_INT16 | MI_UINT16 => Some(2),
        MI_INT32 | MI_UINT32 | MI_SINGLE => Some(4),
        MI_DOUBLE | MI_INT64 | MI_UINT64 => Some(8),
        _ => None,
    }
}

fn class_name(class: u8) -> &'static str {
    match class {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        _ => "unknown class",
    }
}

/// Where a top-level element's bytes are.
#[derive(Debug, Clone, Copy)]
enum Loc {
    /// An uncompressed miMATRIX whose content starts at this file offset (after its tag).
    Raw { offset: u64, len: u64 },
    /// A miCOMPRESSED element: zlib data at this file offset; the decompressed stream
    /// starts with the miMATRIX tag.
    Zlib { offset: u64, len: u64 },
}

/// A byte reader over `[pos, end)` of a file with positioned reads (no shared cursor).
struct PosReader {
    file: File,
    pos: u64,
    end: u64,
}

impl Read for PosReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for PosReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.end.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad seek"))?;
        Ok(self.pos)
    }
}

enum Inner {
    Raw(BufReader<PosReader>),
    Zlib(Box<ZlibDecoder<BufReader<PosReader>>>),
}

/// The byte stream of one top-level element: the file bytes of an uncompressed
/// miMATRIX (position 0 = after its tag), or the decompressed bytes of a miCOMPRESSED
/// element (position 0 = the inner miMATRIX tag).
struct Stream {
    inner: Inner,
    pos: u64,
    /// Bytes that may still be decompressed (see `OPEN_SKIP_BUDGET`; unlimited for reads).
    budget: u64,
    over_budget: bool,
}

impl Stream {
    fn open(file: &File, loc: Loc, budget: u64) -> io::Result<Stream> {
        let file = file.try_clone()?;
        let inner = match loc {
            Loc::Raw { offset, len } => Inner::Raw(BufReader::with_capacity(
                BLOCK_BYTES,
                PosReader {
                    file,
                    pos: offset,
                    end: offset + len,
                },
            )),
            Loc::Zlib { offset, len } => {
                Inner::Zlib(Box::new(ZlibDecoder::new(BufReader::with_capacity(
                    BLOCK_BYTES,
                    PosReader {
                        file,
                        pos: offset,
                        end: offset + len,
                    },
                ))))
            }
        };
        Ok(Stream {
            inner,
            pos: 0,
            budget,
            over_budget: false,
        })
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match &mut self.inner {
            Inner::Raw(r) => r.read_exact(buf)?,
            Inner::Zlib(z) => {
                if buf.len() as u64 > self.budget {
                    self.over_budget = true;
                    return Err(io::Error::other("decompression budget exhausted"));
                }
                self.budget -= buf.len() as u64;
                z.read_exact(buf)?;
            }
        }
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        match &mut self.inner {
            Inner::Raw(r) => {
                let d = i64::try_from(n)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "skip too long"))?;
                r.seek_relative(d)?;
            }
            Inner::Zlib(z) => {
                if n > self.budget {
                    self.over_budget = true;
                    return Err(io::Error::other("decompression budget exhausted"));
                }
                self.budget -= n;
                let copied = io::copy(&mut z.by_ref().take(n), &mut io::sink())?;
                if copied != n {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                }
            }
        }
        self.pos += n;
        Ok(())
    }
}

/// A data element tag.
#[derive(Debug, Clone, Copy)]
struct Tag {
    ty: u32,
    len: u32,
    /// Data of a small data element (at most 4 bytes, kept in the tag itself).
    small: Option<[u8; 4]>,
}

impl Tag {
    /// Bytes the element's data takes in the stream after the tag, padding included.
    fn stored_len(&self) -> u64 {
        match self.small {
            Some(_) => 0,
            None => u64::from(self.len).div_ceil(8) * 8,
        }
    }
}

/// What `open` learns while walking the file.
#[derive(Default)]
struct Found {
    candidates: Vec<Candidate>,
    /// (key name, value) of numeric 1×1 arrays.
    scalars: Vec<(String, f64)>,
    /// (key name, first values) of numeric vectors whose name is time-like.
    times: Vec<(String, Vec<f64>)>,
    /// (display name, strings) of cell arrays of strings and char matrices.
    string_lists: Vec<(String, Vec<String>)>,
    /// (display name, text) of single-row char arrays.
    texts: Vec<(String, String)>,
    warnings: Vec<String>,
}

/// A numeric matrix that could be the signal.
#[derive(Debug, Clone)]
struct Candidate {
    name: String,
    key: String,
    class: u8,
    rows: u64,
    cols: u64,
    /// Data type of the stored elements (may be narrower than the class).
    ty: u32,
    loc: Loc,
    /// Stream position of the first data byte.
    data_pos: u64,
    small: Option<[u8; 4]>,
}

/// Context for messages about one top-level element.
struct Ctx<'a> {
    path: &'a Path,
    endian: Endian,
    /// File offset of the element's tag.
    at: u64,
    compressed: bool,
    limits: &'a super::ReadLimits,
}

impl Ctx<'_> {
    fn where_(&self, pos: u64) -> String {
        if self.compressed {
            format!(
                "mat: compressed element at byte {}, decompressed byte {pos}",
                self.at
            )
        } else {
            format!("mat: element at byte {}, byte {pos} of its data", self.at)
        }
    }

    fn malformed(&self, pos: u64, what: impl std::fmt::Display) -> Error {
        Error::malformed(self.path, format!("{}: {what}", self.where_(pos)))
    }

    fn io(&self, s: &Stream, e: io::Error) -> Error {
        if s.over_budget {
            return Error::limit(
                self.path,
                format!(
                    "{}: reading the variable's header would decompress more than {} MiB",
                    self.where_(s.pos),
                    OPEN_SKIP_BUDGET >> 20
                ),
            );
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof => self.malformed(
                s.pos,
                "the element ends before its content does (truncated or corrupt)",
            ),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                self.malformed(s.pos, format_args!("the zlib stream is corrupt ({e})"))
            }
            _ => Error::io(self.path, "cannot read", e),
        }
    }

    fn read(&self, s: &mut Stream, buf: &mut [u8]) -> Result<()> {
        s.read_exact(buf).map_err(|e| self.io(s, e))
    }

    // Data element tag (8 bytes, in the file's byte order):
    //
    // | bytes | normal element        | small data element (data ≤ 4 bytes)        |
    // |-------|-----------------------|--------------------------------------------|
    // | 0..4  | u32 data type         | u16 data type + u16 byte count, read as one |
    // |       |                       | u32: count in the upper 16 bits (non-zero)  |
    // | 4..8  | u32 byte count        | the data, zero-padded                       |
    //
    // A normal element's data is followed by padding to a multiple of 8 bytes.
    fn tag(&self, s: &mut Stream) -> Result<Tag> {
        let mut b = [0u8; 8];
        self.read(s, &mut b)?;
        let first = self.endian.u32(&b[0..4]);
        if first >> 16 != 0 {
            let len = first >> 16;
            if len > 4 {
                return Err(self.malformed(
                    s.pos - 8,
                    format_args!("a small data element declares {len} bytes (at most 4)"),
                ));
            }
            return Ok(Tag {
                ty: first & 0xffff,
                len,
                small: Some([b[4], b[5], b[6], b[7]]),
            });
        }
        Ok(Tag {
            ty: first,
            len: self.endian.u32(&b[4..8]),
            small: None,
        })
    }

    /// Reads the data of `tag` (at most `max` bytes) and its padding.
    fn data(&self, s: &mut Stream, tag: Tag, end: u64, max: u32, what: &str) -> Result<Vec<u8>> {
        if let Some(small) = tag.small {
            return Ok(small[..tag.len as usize].to_vec());
        }
        if tag.len > max {
            return Err(self.malformed(
                s.pos,
                format_args!(
                    "{what} declares {} bytes, more than the {max} accepted",
                    tag.len
                ),
            ));
        }
        self.fits(s, tag, end, what)?;
        self.limits
            .reserve(self.path, what, u64::from(tag.len), 1)?;
        let mut v = vec![0u8; tag.len as usize];
        self.read(s, &mut v)?;
        let pad = tag.stored_len() - u64::from(tag.len);
        s.skip(pad).map_err(|e| self.io(s, e))?;
        Ok(v)
    }

    /// Checks that the data of `tag` (starting at the stream position) ends by `end`.
    fn fits(&self, s: &Stream, tag: Tag, end: u64, what: &str) -> Result<()> {
        if tag.stored_len() > end.saturating_sub(s.pos) {
            return Err(self.malformed(
                s.pos,
                format_args!(
                    "{what} declares {} bytes, past the end of its matrix (byte {end})",
                    tag.len
                ),
            ));
        }
        Ok(())
    }
}

/// Lower-case alphanumerics of a name, for matching (`Sampling_Frequency` → `samplingfrequency`).
fn norm(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn is_rate_name(key: &str) -> bool {
    matches!(
        norm(key).as_str(),
        "samplingfrequency"
            | "samplingrate"
            | "samplerate"
            | "samplefrequency"
            | "fs"
            | "srate"
            | "rate"
            | "fsamp"
            | "fsample"
            | "sf"
            | "sr"
    )
}

fn is_time_name(key: &str) -> bool {
    matches!(
        norm(key).as_str(),
        "time" | "t" | "times" | "timestamps" | "timevector"
    )
}

// miMATRIX content, each part a data element (see `Ctx::tag`):
//
// | # | part           | type                | content                                         |
// |---|----------------|---------------------|-------------------------------------------------|
// | 1 | array flags    | miUINT32, 8 bytes   | u32: class in bits 0–7, 0x0800 complex,         |
// |   |                |                     | 0x0400 global, 0x0200 logical; u32 nzmax         |
// | 2 | dimensions     | miINT32, 4 × n      | n ≥ 2 sizes, column-major                        |
// | 3 | array name     | miINT8              | ASCII name (empty inside cells)                  |
// | 4 | real part      | any numeric type    | numeric classes: prod(dims) elements, possibly   |
// |   |                |                     | stored in a narrower type than the class         |
// | 5 | imaginary part | any numeric type    | only when complex                                |
//
// Char arrays hold one data element of characters (miUINT16, miUTF8, miUTF16, …);
// cell arrays hold prod(dims) miMATRIX elements, column-major; struct, object and
// sparse arrays are skipped.
struct MatrixHead {
    class: u8,
    complex: bool,
    logical: bool,
    dims: Vec<u64>,
    count: u64,
    name: String,
}

fn parse_head(ctx: &Ctx, s: &mut Stream, end: u64) -> Result<MatrixHead> {
    let flags_at = s.pos;
    let t = ctx.tag(s)?;
    if t.ty != MI_UINT32 || t.len != 8 {
        return Err(ctx.malformed(
            flags_at,
            format_args!(
                "array flags: expected a miUINT32 element of 8 bytes, found type {} with {} bytes",
                t.ty, t.len
            ),
        ));
    }
    let f = ctx.data(s, t, end, 8, "array flags")?;
    let flags = ctx.endian.u32(&f[0..4]);
    let class = (flags & 0xff) as u8;

    let dims_at = s.pos;
    let t = ctx.tag(s)?;
    if t.ty != MI_INT32 || t.len % 4 != 0 || t.len < 8 || t.len > MAX_DIMS * 4 {
        return Err(ctx.malformed(
            dims_at,
            format_args!(
                "dimensions: expected a miINT32 element of 2 to {MAX_DIMS} sizes, found type {} with {} bytes",
                t.ty, t.len
            ),
        ));
    }
    let d = ctx.data(s, t, end, MAX_DIMS * 4, "dimensions")?;
    let mut dims = Vec::with_capacity(d.len() / 4);
    for c in d.chunks_exact(4) {
        let v = ctx.endian.u32(c) as i32;
        if v < 0 {
            return Err(ctx.malformed(
                dims_at,
                format_args!("dimensions: a size is negative ({v})"),
            ));
        }
        dims.push(v as u64);
    }
    let count = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            ctx.malformed(
                dims_at,
                format_args!(
                    "dimensions {} overflow a 64-bit element count",
                    dims_text(&dims)
                ),
            )
        })?;

    let name_at = s.pos;
    let t = ctx.tag(s)?;
    if !matches!(t.ty, MI_INT8 | MI_UINT8 | MI_UTF8) {
        return Err(ctx.malformed(
            name_at,
            format_args!("array name: expected a miINT8 element, found type {}", t.ty),
        ));
    }
    let n = ctx.data(s, t, end, MAX_NAME_BYTES, "array name")?;
    let name = String::from_utf8_lossy(&n)
        .trim_end_matches('\0')
        .to_string();
    Ok(MatrixHead {
        class,
        complex: flags & 0x0800 != 0,
        logical: flags & 0x0200 != 0,
        dims,
        count,
        name,
    })
}

fn dims_text(dims: &[u64]) -> String {
    dims.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("×")
}

/// Parses the miMATRIX whose content starts at the stream position and ends at `end`,
/// recording what it finds. `name` is the display name given by the parent (`Data{1}`
/// for a cell element), `key` the top-level name used to recognise rate and time.
/// Returns the text of a single-row char array (for cells of strings).
#[allow(clippy::too_many_arguments)]
fn parse_matrix(
    ctx: &Ctx,
    s: &mut Stream,
    loc: Loc,
    end: u64,
    name: Option<&str>,
    key: Option<&str>,
    depth: u32,
    found: &mut Found,
) -> Result<Option<String>> {
    let head = parse_head(ctx, s, end)?;
    let name = name.map_or_else(|| head.name.clone(), str::to_string);
    let key = key.map_or_else(|| head.name.clone(), str::to_string);
    match head.class {
        MX_DOUBLE..=MX_UINT64 => {
            if head.count == 0 {
                return Ok(None);
            }
            let at = s.pos;
            let t = ctx.tag(s)?;
            let Some(es) = elem_size(t.ty) else {
                return Err(ctx.malformed(
                    at,
                    format_args!(
                        "variable '{name}': real part has data type {}, not a numeric type",
                        t.ty
                    ),
                ));
            };
            let need = head.count.checked_mul(es as u64);
            if need != Some(u64::from(t.len)) {
                return Err(ctx.malformed(
                    at,
                    format_args!(
                        "variable '{name}' ({} {}): the real part holds {} bytes but the dimensions need {} elements of {es} bytes",
                        dims_text(&head.dims),
                        class_name(head.class),
                        t.len,
                        head.count
                    ),
                ));
            }
            ctx.fits(s, t, end, "the real part")?;
            let data_pos = s.pos;
            if head.complex {
                found
                    .warnings
                    .push(format!("mat: variable '{name}' is complex; it is not used"));
                return Ok(None);
            }
            if head.count == 1 {
                let b = match t.small {
                    Some(b) => b.to_vec(),
                    None => ctx.data(s, t, end, 8, "a scalar")?,
                };
                found.scalars.push((key, ctx.endian.value(t.ty, &b)));
                return Ok(None);
            }
            let is_vector = head.dims.len() == 2 && head.dims.contains(&1);
            if is_time_name(&key) && is_vector {
                let n = head.count.min(TIME_HEAD);
                let mut vals = Vec::with_capacity(n as usize);
                let mut b = [0u8; 8];
                for i in 0..n {
                    match t.small {
                        Some(sm) => {
                            let o = i as usize * es;
                            vals.push(ctx.endian.value(t.ty, &sm[o..o + es]));
                        }
                        None => {
                            ctx.read(s, &mut b[..es])?;
                            vals.push(ctx.endian.value(t.ty, &b[..es]));
                        }
                    }
                }
                found.times.push((key, vals));
                return Ok(None);
            }
            if head.dims.len() == 2 && !head.logical {
                found.candidates.push(Candidate {
                    name,
                    key,
                    class: head.class,
                    rows: head.dims[0],
                    cols: head.dims[1],
                    ty: t.ty,
                    loc,
                    data_pos,
                    small: t.small,
                });
            }
            Ok(None)
        }
        MX_CHAR => {
            if head.count == 0 {
                return Ok(Some(String::new()));
            }
            let t = ctx.tag(s)?;
            let unit = match t.ty {
                MI_UINT16 | MI_UTF16 | MI_INT16 => 2,
                MI_UTF32 | MI_UINT32 | MI_INT32 => 4,
                MI_UTF8 | MI_UINT8 | MI_INT8 => 1,
                other => {
                    return Err(ctx.malformed(
                        s.pos,
                        format_args!(
                            "char array '{name}': data type {other} is not a character type"
                        ),
                    ))
                }
            };
            if t.len > MAX_TEXT_BYTES {
                found.warnings.push(format!(
                    "mat: char array '{name}' ({} bytes) is too long to be read as text",
                    t.len
                ));
                return Ok(None);
            }
            let n_rows = head.dims.first().copied().unwrap_or(1);
            if n_rows > 1 && n_rows > ctx.limits.max_channels as u64 {
                return Ok(None); // more rows than any label list could need
            }
            let bytes = ctx.data(s, t, end, MAX_TEXT_BYTES, "a char array")?;
            let rows = decode_chars(ctx.endian, t.ty, unit, &bytes, &head.dims);
            if rows.len() == 1 {
                let text = rows.into_iter().next().unwrap_or_default();
                if depth == 0 {
                    found.texts.push((name, text.clone()));
                }
                Ok(Some(text))
            } else {
                found.string_lists.push((name, rows));
                Ok(None)
            }
        }
        MX_CELL => {
            if depth >= MAX_DEPTH {
                found.warnings.push(format!(
                    "mat: cell '{name}' is nested more than {MAX_DEPTH} deep; it is not inspected"
                ));
                return Ok(None);
            }
            let n = head.count.min(MAX_CELL_ELEMENTS);
            ctx.limits
                .reserve(ctx.path, "the strings of a cell", n, 24)?;
            let mut strings: Vec<String> = Vec::new();
            let mut all_strings = true;
            for i in 0..n {
                let at = s.pos;
                let t = ctx.tag(s)?;
                if t.ty != MI_MATRIX || t.small.is_some() {
                    return Err(ctx.malformed(
                        at,
                        format_args!(
                            "cell '{name}', element {}: type {} is not miMATRIX",
                            i + 1,
                            t.ty
                        ),
                    ));
                }
                ctx.fits(s, t, end, "a cell element")?;
                let sub_end = s.pos + u64::from(t.len);
                let label = if head.count == 1 {
                    format!("{name}{{1}}")
                } else {
                    format!("{name}{{{}}}", i + 1)
                };
                let text = if t.len == 0 {
                    Some(String::new())
                } else {
                    parse_matrix(
                        ctx,
                        s,
                        loc,
                        sub_end,
                        Some(&label),
                        Some(&key),
                        depth + 1,
                        found,
                    )?
                };
                match text {
                    Some(t) if all_strings => strings.push(t),
                    _ => all_strings = false,
                }
                if i + 1 < n {
                    // Get to the next element (decompressing through this one if needed).
                    let skip = sub_end.checked_sub(s.pos).ok_or_else(|| {
                        ctx.malformed(
                            s.pos,
                            format_args!(
                                "cell '{name}', element {}: content overruns the element",
                                i + 1
                            ),
                        )
                    })?;
                    if let Err(e) = s.skip(skip) {
                        if s.over_budget {
                            found.warnings.push(format!(
                                "mat: cell '{name}': elements after {} were not inspected (more than {} MiB to decompress)",
                                i + 1,
                                OPEN_SKIP_BUDGET >> 20
                            ));
                            return Ok(None);
                        }
                        return Err(ctx.io(s, e));
                    }
                }
            }
            if all_strings && head.count > 1 && head.count == n {
                found.string_lists.push((name, strings));
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Rows of a char array (column-major `dims[0]` × rest), trailing spaces and NULs trimmed.
fn decode_chars(endian: Endian, ty: u32, unit: usize, bytes: &[u8], dims: &[u64]) -> Vec<String> {
    let n_units = bytes.len() / unit;
    let rows = dims.first().copied().unwrap_or(1).max(1) as usize;
    let clean = |s: String| s.trim_end_matches([' ', '\0']).to_string();
    if rows == 1 || n_units % rows != 0 {
        // One string; UTF-8 counts characters in dims but bytes in the data.
        return vec![clean(units_to_string(endian, ty, unit, bytes))];
    }
    let cols = n_units / rows;
    (0..rows)
        .map(|r| {
            let mut row = Vec::with_capacity(cols * unit);
            for c in 0..cols {
                let o = (c * rows + r) * unit;
                row.extend_from_slice(&bytes[o..o + unit]);
            }
            clean(units_to_string(endian, ty, unit, &row))
        })
        .collect()
}

fn units_to_string(endian: Endian, ty: u32, unit: usize, bytes: &[u8]) -> String {
    match unit {
        2 => {
            let u: Vec<u16> = bytes.chunks_exact(2).map(|c| endian.u16(c)).collect();
            String::from_utf16_lossy(&u)
        }
        4 => bytes
            .chunks_exact(4)
            .map(|c| char::from_u32(endian.u32(c)).unwrap_or('\u{fffd}'))
            .collect(),
        _ if ty == MI_UTF8 => String::from_utf8_lossy(bytes).into_owned(),
        _ => bytes.iter().map(|&b| char::from(b)).collect(), // Latin-1
    }
}

/// Reads MAT-file recordings.
pub struct MatReader {
    header: Header,
    file: File,
    endian: Endian,
    signal: Candidate,
    es: usize,
    /// Channels are the columns (samples × channels) rather than the rows.
    channels_are_cols: bool,
    /// A live decompressor kept between reads (compressed matrices only).
    stream: Option<Stream>,
    buf: Vec<u8>,
}

impl MatReader {
    /// Opens `path`.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io(path, "cannot read the size of", e))?
            .len();
        let (endian, text) = read_file_header(path, &file, file_len)?;
        let mut found = Found::default();
        walk(path, &file, file_len, endian, opts, &mut found)?;
        let mut warnings = std::mem::take(&mut found.warnings);

        // The signal: the largest 2-D numeric matrix that is not a time vector.
        // (The first of equally large matrices wins.)
        let signal = found
            .candidates
            .iter()
            .filter(|c| !is_time_name(&c.key))
            .fold(None::<&Candidate>, |best, c| match best {
                Some(b) if b.rows * b.cols >= c.rows * c.cols => Some(b),
                _ => Some(c),
            })
            .cloned()
            .ok_or_else(|| {
                Error::malformed(
                    path,
                    format!(
                        "mat: no 2-D numeric matrix with at least 2 elements in the file (variables: {})",
                        variable_summary(&found)
                    ),
                )
            })?;
        let channels_are_cols = signal.rows >= signal.cols;
        let (n_ch, n_samples) = if channels_are_cols {
            (signal.cols, signal.rows)
        } else {
            (signal.rows, signal.cols)
        };
        opts.limits.check_channels(path, n_ch)?;

        // Rate: --rate, else a rate scalar, else the Time vector.
        let scalar_rate = found
            .scalars
            .iter()
            .find(|(k, v)| is_rate_name(k) && v.is_finite() && *v > 0.0)
            .map(|(k, v)| (k.clone(), *v));
        let time = found.times.iter().find_map(|(k, t)| {
            let n = t.len();
            if n < 2 {
                return None;
            }
            let span = t[n - 1] - t[0];
            let r = (n - 1) as f64 / span;
            (r.is_finite() && r > 0.0).then(|| (k.clone(), snap(r), t[0]))
        });
        let rate = match (opts.rate_hz, &scalar_rate, &time) {
            (Some(r), _, _) if !(r.is_finite() && r > 0.0) => {
                return Err(Error::config(format!(
                    "{}: the sampling rate {r} Hz given with --rate is not a positive number",
                    path.display()
                )))
            }
            (Some(r), file_rate, _) => {
                if let Some((k, v)) = file_rate {
                    if !agree(*v, r) {
                        warnings.push(format!(
                            "mat: the rate {r} Hz given with --rate overrides '{k}' = {v} Hz"
                        ));
                    }
                }
                r
            }
            (None, Some((k, v)), t) => {
                if let Some((tk, tr, _)) = t {
                    if !agree(*v, *tr) {
                        warnings.push(format!(
                            "mat: '{k}' = {v} Hz but the steps of '{tk}' give {tr} Hz; using '{k}'"
                        ));
                    }
                }
                *v
            }
            (None, None, Some((_, r, _))) => *r,
            (None, None, None) => {
                return Err(Error::config(format!(
                    "{}: mat: no sampling rate: add a SamplingFrequency (or fs) variable or a Time vector, or pass --rate",
                    path.display()
                )))
            }
        };

        // Labels: a list of strings with one entry per channel.
        let labels = found
            .string_lists
            .iter()
            .filter(|(_, l)| l.len() as u64 == n_ch)
            .max_by_key(|(name, _)| {
                let n = norm(name);
                ["desc", "label", "chan", "name"]
                    .iter()
                    .any(|k| n.contains(k))
            })
            .map(|(_, l)| l.clone());
        let channels = (0..n_ch as usize)
            .map(|i| {
                let (label, unit) = match labels.as_ref().and_then(|l| l.get(i)) {
                    Some(l) => split_label_unit(l),
                    None => (String::new(), String::new()),
                };
                Channel {
                    label: if label.is_empty() {
                        format!("ch{}", i + 1)
                    } else {
                        label
                    },
                    unit,
                    rate_hz: rate,
                    n_samples,
                    physical_range: None,
                    transducer: None,
                    prefilter: None,
                }
            })
            .collect();

        let mut comments = vec![text];
        comments.push(format!(
            "signal: '{}' ({}×{} {}, channels are {})",
            signal.name,
            signal.rows,
            signal.cols,
            class_name(signal.class),
            if channels_are_cols { "columns" } else { "rows" }
        ));
        for (k, v) in &found.scalars {
            comments.push(format!("{k} = {v}"));
        }
        if let Some((k, _, t0)) = &time {
            comments.push(format!("'{k}' starts at {t0} s"));
        }
        for (k, v) in found.texts.iter().take(32) {
            if v.chars().count() <= 256 {
                comments.push(format!("{k} = '{v}'"));
            }
        }
        let es = elem_size(signal.ty).unwrap_or(1);
        let header = Header::continuous(
            Format::Mat,
            path,
            channels,
            n_samples as f64 / rate,
            comments,
            warnings,
        );
        Ok(MatReader {
            header,
            file,
            endian,
            signal,
            es,
            channels_are_cols,
            stream: None,
            buf: Vec::new(),
        })
    }

    /// Fills `buf` with the stream bytes starting at `pos` (stream position).
    fn fetch(&mut self, pos: u64, len: usize) -> Result<()> {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        let path = &self.header.path;
        let eof = |e: io::Error, at: u64| {
            match e.kind() {
            io::ErrorKind::UnexpectedEof => Error::malformed(
                path,
                format!(
                    "mat: variable '{}': the data ends before stream byte {} (truncated or corrupt)",
                    self.signal.name,
                    at + len as u64
                ),
            ),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => Error::malformed(
                path,
                format!(
                    "mat: variable '{}': the zlib stream is corrupt before decompressed byte {} ({e})",
                    self.signal.name,
                    at + len as u64
                ),
            ),
            _ => Error::io(path, "cannot read", e),
        }
        };
        match self.signal.loc {
            Loc::Raw { offset, .. } => self
                .file
                .read_exact_at(&mut self.buf[..len], offset + pos)
                .map_err(|e| eof(e, pos)),
            Loc::Zlib { .. } => {
                let reuse = matches!(&self.stream, Some(s) if s.pos <= pos);
                if !reuse {
                    self.stream = None;
                    let s = Stream::open(&self.file, self.signal.loc, u64::MAX)
                        .map_err(|e| Error::io(path, "cannot open", e))?;
                    self.stream = Some(s);
                }
                let Some(s) = self.stream.as_mut() else {
                    return Ok(());
                };
                let r = s
                    .skip(pos - s.pos)
                    .and_then(|_| s.read_exact(&mut self.buf[..len]));
                if let Err(e) = r {
                    self.stream = None;
                    return Err(eof(e, pos));
                }
                Ok(())
            }
        }
    }
}

impl SignalReader for MatReader {
    fn header(&self) -> &Header {
        &self.header
    }

    fn read(&mut self, channel: usize, start: u64, out: &mut [f32]) -> Result<()> {
        check_read_range(&self.header, channel, start, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        let es = self.es;
        let ty = self.signal.ty;
        let rows = self.signal.rows;
        let ch = channel as u64;
        // Element index of the first sample, and elements between consecutive samples.
        // Both are below rows × cols, whose byte size was checked against the file.
        let (first, stride) = if self.channels_are_cols {
            (ch * rows + start, 1u64)
        } else {
            (start * rows + ch, rows)
        };
        if let Some(small) = self.signal.small {
            for (i, o) in out.iter_mut().enumerate() {
                let e = (first + i as u64 * stride) as usize * es;
                *o = self.endian.value(ty, &small[e..e + es]) as f32;
            }
            return Ok(());
        }
        let stride_bytes = stride as usize * es;
        let per_block = (BLOCK_BYTES / stride_bytes).max(1);
        let mut elem = first;
        for chunk in out.chunks_mut(per_block) {
            let len = (chunk.len() - 1) * stride_bytes + es;
            let pos = self.signal.data_pos + elem * es as u64;
            self.fetch(pos, len)?;
            for (i, o) in chunk.iter_mut().enumerate() {
                let b = i * stride_bytes;
                *o = self.endian.value(ty, &self.buf[b..b + es]) as f32;
            }
            elem += chunk.len() as u64 * stride;
        }
        Ok(())
    }
}

// MAT-file level 5 header (128 bytes):
//
// | offset | size | field                                                        |
// |--------|------|--------------------------------------------------------------|
// | 0      | 116  | descriptive text, starts "MATLAB 5.0 MAT-file" ("MATLAB 7.3" |
// |        |      | for HDF5-based files)                                        |
// | 116    | 8    | subsystem data offset (ignored)                              |
// | 124    | 2    | version, 0x0100 (0x0200 for v7.3)                            |
// | 126    | 2    | endian indicator: "IM" little-endian, "MI" big-endian        |
//
// Data elements follow from byte 128.
fn read_file_header(path: &Path, file: &File, file_len: u64) -> Result<(Endian, String)> {
    let hdf5 = || {
        Error::unsupported(
            path,
            "mat: MAT v7.3 (HDF5) files are not supported; save with -v7 or export to EDF",
        )
    };
    let mut h = [0u8; 128];
    let n = (file_len.min(128)) as usize;
    file.read_exact_at(&mut h[..n], 0)
        .map_err(|e| Error::io(path, "cannot read", e))?;
    if h.starts_with(b"\x89HDF\r\n\x1a\n") || h.starts_with(b"MATLAB 7.3") {
        return Err(hdf5());
    }
    if !h.starts_with(b"MATLAB 5.0") {
        return Err(Error::unsupported(
            path,
            "mat: bytes 0..10 are not \"MATLAB 5.0\": not a level-5 MAT-file (MAT v4 files are not supported)",
        ));
    }
    if file_len < 128 {
        return Err(Error::malformed(
            path,
            format!("mat: the file is {file_len} bytes, shorter than the 128-byte MAT-file header"),
        ));
    }
    let endian = match &h[126..128] {
        b"IM" => Endian::Little,
        b"MI" => Endian::Big,
        other => {
            return Err(Error::malformed(
                path,
                format!(
                    "mat: header bytes 126..128 (endian indicator) are {:?}, not \"IM\" or \"MI\"",
                    String::from_utf8_lossy(other)
                ),
            ))
        }
    };
    match endian.u16(&h[124..126]) {
        0x0100 => {}
        0x0200 => return Err(hdf5()),
        v => {
            return Err(Error::unsupported(
                path,
                format!("mat: header bytes 124..126 (version) are 0x{v:04x}, not 0x0100 (level 5)"),
            ))
        }
    }
    let text = String::from_utf8_lossy(&h[..116])
        .trim_end_matches([' ', '\0'])
        .to_string();
    Ok((endian, text))
}

/// Walks the top-level data elements from byte 128.
fn walk(
    path: &Path,
    file: &File,
    file_len: u64,
    endian: Endian,
    opts: &OpenOptions,
    found: &mut Found,
) -> Result<()> {
    let mut pos: u64 = 128;
    let mut n = 0u32;
    while pos < file_len {
        if file_len - pos < 8 {
            found.warnings.push(format!(
                "mat: {} bytes after the last element (byte {pos}) are ignored",
                file_len - pos
            ));
            break;
        }
        n += 1;
        if n > MAX_VARIABLES {
            return Err(Error::malformed(
                path,
                format!("mat: more than {MAX_VARIABLES} top-level elements (at byte {pos})"),
            ));
        }
        let mut b = [0u8; 8];
        file.read_exact_at(&mut b, pos)
            .map_err(|e| Error::io(path, "cannot read", e))?;
        let ty = endian.u32(&b[0..4]);
        let len = u64::from(endian.u32(&b[4..8]));
        let body = pos + 8;
        if ty >> 16 != 0 {
            return Err(Error::malformed(
                path,
                format!(
                    "mat: byte {pos}: a small data element at the top level (type word 0x{ty:08x})"
                ),
            ));
        }
        if len > file_len - body {
            return Err(Error::malformed(
                path,
                format!(
                    "mat: the element at byte {pos} declares {len} bytes but the file ends {} bytes after its tag (truncated file)",
                    file_len - body
                ),
            ));
        }
        let next = if ty == MI_COMPRESSED {
            body + len
        } else {
            (body + len.div_ceil(8) * 8).min(file_len)
        };
        let ctx = Ctx {
            path,
            endian,
            at: pos,
            compressed: ty == MI_COMPRESSED,
            limits: &opts.limits,
        };
        match ty {
            MI_MATRIX => {
                let loc = Loc::Raw { offset: body, len };
                let mut s = Stream::open(file, loc, OPEN_SKIP_BUDGET)
                    .map_err(|e| Error::io(path, "cannot open", e))?;
                if len > 0 {
                    parse_matrix(&ctx, &mut s, loc, len, None, None, 0, found)?;
                }
            }
            MI_COMPRESSED => {
                let loc = Loc::Zlib { offset: body, len };
                let mut s = Stream::open(file, loc, OPEN_SKIP_BUDGET)
                    .map_err(|e| Error::io(path, "cannot open", e))?;
                let t = ctx.tag(&mut s)?;
                if t.ty != MI_MATRIX || t.small.is_some() {
                    found.warnings.push(format!(
                        "mat: the compressed element at byte {pos} holds data type {}, not a variable; skipped",
                        t.ty
                    ));
                } else if t.len > 0 {
                    parse_matrix(
                        &ctx,
                        &mut s,
                        loc,
                        8 + u64::from(t.len),
                        None,
                        None,
                        0,
                        found,
                    )?;
                }
            }
            other => found.warnings.push(format!(
                "mat: the element at byte {pos} has data type {other}, not a variable; skipped"
            )),
        }
        pos = next;
    }
    Ok(())
}

fn variable_summary(found: &Found) -> String {
    let mut v: Vec<String> = Vec::new();
    v.extend(found.scalars.iter().map(|(k, _)| format!("{k} (scalar)")));
    v.extend(found.times.iter().map(|(k, _)| format!("{k} (time)")));
    v.extend(found.texts.iter().map(|(k, _)| format!("{k} (text)")));
    v.extend(
        found
            .string_lists
            .iter()
            .map(|(k, _)| format!("{k} (strings)")),
    );
    if v.is_empty() {
        "none readable".to_string()
    } else {
        v.join(", ")
    }
}

fn snap(rate: f64) -> f64 {
    let r = rate.round();
    if (rate - r).abs() <= RATE_SNAP_REL * rate {
        r
    } else {
        rate
    }
}

fn agree(a: f64, b: f64) -> bool {
    (a - b).abs() <= RATE_AGREE_REL * a.abs().max(b.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endian_values() {
        let le = Endian::Little;
        let be = Endian::Big;
        assert_eq!(le.value(MI_INT16, &[0xfe, 0xff]), -2.0);
        assert_eq!(be.value(MI_INT16, &[0xff, 0xfe]), -2.0);
        assert_eq!(le.value(MI_SINGLE, &1.5f32.to_le_bytes()), 1.5);
        assert_eq!(be.value(MI_DOUBLE, &(-0.25f64).to_be_bytes()), -0.25);
        assert_eq!(le.value(MI_UINT8, &[200]), 200.0);
        assert_eq!(le.value(MI_INT8, &[200]), -56.0);
        assert_eq!(le.value(MI_INT64, &(-5i64).to_le_bytes()), -5.0);
    }

    #[test]
    fn char_matrix_rows() {
        // 2×3 char matrix "abc" / "de " stored column-major as miUTF8 bytes.
        let rows = decode_chars(Endian::Little, MI_UTF8, 1, b"adbecx", &[2, 3]);
        assert_eq!(rows, vec!["abc".to_string(), "dex".to_string()]);
        let one = decode_chars(
            Endian::Big,
            MI_UINT16,
            2,
            &[0, b'h', 0, b'i', 0, b' '],
            &[1, 3],
        );
        assert_eq!(one, vec!["hi".to_string()]);
    }

    #[test]
    fn names() {
        assert!(is_rate_name("SamplingFrequency"));
        assert!(is_rate_name("Fs"));
        assert!(is_rate_name("sampling_rate"));
        assert!(!is_rate_name("Data"));
        assert!(is_time_name("Time"));
        assert_eq!(snap(2047.9999999), 2048.0);
        assert_eq!(snap(1000.5), 1000.5);
    }
}
