//! WAV (RIFF WAVE) reader: PCM integer 8/16/24/32-bit and IEEE float 32-bit, any
//! number of channels, `WAVE_FORMAT_PCM`, `WAVE_FORMAT_IEEE_FLOAT` or
//! `WAVE_FORMAT_EXTENSIBLE`.
//!
//! Samples are scaled to full scale 1.0: integers land in [-1, 1), floats are passed
//! through. Channels are named `ch1`, `ch2`, … with an empty unit.
//!
//! # How the file is read, and why not with `hound::WavReader::seek`
//!
//! kymo walks the RIFF chunks itself with positioned reads, hands hound a small
//! in-memory copy of the `fmt ` chunk to parse and validate, and then decodes the
//! frames it needs straight from the data chunk with `read_at`, through one bounded
//! buffer. hound's own streaming reader is not used for the samples because:
//! - `WavReader::seek` computes byte offsets as `bits_per_sample / 8` and with `u32`
//!   arithmetic, which is wrong for samples in wider containers and overflows (a panic
//!   in debug builds) for `frame × channels ≥ 2³²`;
//! - hound skips unknown chunks without their RIFF pad byte (odd-length chunks break
//!   it) and does not notice a data chunk that declares more bytes than the file holds;
//! - reading one channel through hound means iterating every interleaved sample one
//!   call at a time; a positioned block read does the same work with one syscall per
//!   64 KiB and needs no reader state, so `read` is random access at constant memory.

use std::fs::File;
use std::io::Cursor;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::{check_read_range, Channel, Format, Header, OpenOptions, SignalReader};
use crate::{Error, Result};

/// Bytes read from the data chunk per positioned read (rounded down to whole frames,
/// at least one frame): large enough that syscalls do not dominate, small enough to
/// be irrelevant next to the caller's output buffer.
const READ_BLOCK_BYTES: usize = 64 * 1024;

/// Most chunks walked before the data chunk. Real files have a handful (`fmt `,
/// `fact`, `LIST`, `bext`, `JUNK`); the bound keeps a file made of millions of empty
/// chunks from turning the walk into a long loop.
const MAX_CHUNKS: u32 = 10_000;

/// Most bytes of the `fmt ` chunk that are looked at (WAVEFORMATEXTENSIBLE is 40).
const FMT_KEEP_MAX: usize = 64;

const TAG_PCM: u16 = 0x0001;
const TAG_IEEE_FLOAT: u16 = 0x0003;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// How one stored sample is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SampleKind {
    /// 8-bit unsigned, offset 128.
    U8,
    /// 16-bit signed little-endian.
    I16,
    /// 24-bit signed little-endian, 3 bytes.
    I24,
    /// 32-bit signed little-endian.
    I32,
    /// 32-bit IEEE float little-endian.
    F32,
}

impl SampleKind {
    fn bytes(self) -> usize {
        match self {
            SampleKind::U8 => 1,
            SampleKind::I16 => 2,
            SampleKind::I24 => 3,
            SampleKind::I32 | SampleKind::F32 => 4,
        }
    }

    /// Decodes one sample from the first `self.bytes()` bytes of `b` to full scale 1.0.
    fn decode(self, b: &[u8]) -> f32 {
        match self {
            SampleKind::U8 => (f32::from(b[0]) - 128.0) / 128.0,
            SampleKind::I16 => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
            SampleKind::I24 => {
                // Put the 24 bits in the top of an i32, then shift back to sign-extend.
                let v = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                (f64::from(v) / 8_388_608.0) as f32
            }
            SampleKind::I32 => {
                (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0) as f32
            }
            SampleKind::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        }
    }
}

/// Reads WAV recordings.
pub struct WavReader {
    header: Header,
    file: File,
    /// File offset of the first byte of the data chunk's body.
    data_offset: u64,
    /// Whole frames present (one sample of every channel per frame).
    frames: u64,
    /// Bytes per frame (`nBlockAlign`).
    block_align: usize,
    kind: SampleKind,
    /// Reused read buffer, at most `READ_BLOCK_BYTES` (or one frame if that is larger).
    buf: Vec<u8>,
}

/// Where the chunk walk found the parts kymo needs.
struct Chunks {
    /// File offset of the `fmt ` body and its first bytes (at most `FMT_KEEP_MAX`).
    fmt_offset: u64,
    fmt_len: u32,
    fmt: Vec<u8>,
    /// File offset of the data body and its declared length.
    data_offset: u64,
    data_len: u32,
}

impl WavReader {
    /// Opens `path`.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        let file_len = file
            .metadata()
            .map_err(|e| Error::io(path, "cannot read the size of", e))?
            .len();
        let mut warnings = Vec::new();
        let chunks = walk_chunks(path, &file, file_len, &mut warnings)?;
        let fmt = parse_fmt(path, &chunks, &mut warnings)?;
        opts.limits.check_channels(path, u64::from(fmt.channels))?;

        // Data chunk: the declared length against what the file really holds.
        let available = file_len - chunks.data_offset; // data_offset <= file_len (walk)
        let declared = u64::from(chunks.data_len);
        let used = if declared == u64::from(u32::MAX) || (declared == 0 && available > 0) {
            warnings.push(format!(
                "wav: the data chunk at byte {} declares {} bytes, a placeholder left by a recorder that did not finish; using the {} bytes to the end of the file",
                chunks.data_offset - 8,
                declared,
                available
            ));
            available
        } else if declared > available {
            warnings.push(format!(
                "wav: the data chunk at byte {} declares {} bytes but the file holds only {} after its header (truncated); reading the {} whole frames present",
                chunks.data_offset - 8,
                declared,
                available,
                available / fmt.block_align as u64
            ));
            available
        } else {
            declared
        };
        let frames = used / fmt.block_align as u64;
        let partial = used % fmt.block_align as u64;
        if partial != 0 {
            warnings.push(format!(
                "wav: the data chunk ends with {partial} bytes of an incomplete frame ({} bytes per frame); they are ignored",
                fmt.block_align
            ));
        }

        let rate = f64::from(fmt.rate);
        let channels = (1..=fmt.channels)
            .map(|i| Channel {
                label: format!("ch{i}"),
                unit: String::new(),
                rate_hz: rate,
                n_samples: frames,
                physical_range: Some((-1.0, 1.0)),
                transducer: None,
                prefilter: None,
            })
            .collect();
        let header = Header::continuous(
            Format::Wav,
            path,
            channels,
            frames as f64 / rate,
            Vec::new(),
            warnings,
        );
        Ok(WavReader {
            header,
            file,
            data_offset: chunks.data_offset,
            frames,
            block_align: fmt.block_align,
            kind: fmt.kind,
            buf: Vec::new(),
        })
    }
}

impl SignalReader for WavReader {
    fn header(&self) -> &Header {
        &self.header
    }

    fn read(&mut self, channel: usize, start: u64, out: &mut [f32]) -> Result<()> {
        check_read_range(&self.header, channel, start, out.len())?;
        if out.is_empty() {
            return Ok(());
        }
        let ba = self.block_align;
        let frames_per_block = (READ_BLOCK_BYTES / ba).max(1);
        let block_bytes = frames_per_block * ba;
        if self.buf.len() < block_bytes {
            self.buf.resize(block_bytes, 0);
        }
        let sample_offset = channel * self.kind.bytes();
        let mut frame = start;
        for chunk in out.chunks_mut(frames_per_block) {
            let nbytes = chunk.len() * ba;
            // frame + chunk.len() <= self.frames (checked above), and
            // self.frames * ba <= the data length, so neither product overflows.
            let offset = self.data_offset + frame * ba as u64;
            let buf = &mut self.buf[..nbytes];
            self.file.read_exact_at(buf, offset).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    Error::malformed(
                        &self.header.path,
                        format!(
                            "wav: the data chunk ends before byte {} (frame {} of {}); the file got shorter since it was opened",
                            offset + nbytes as u64,
                            frame + chunk.len() as u64,
                            self.frames
                        ),
                    )
                } else {
                    Error::io(&self.header.path, "cannot read", e)
                }
            })?;
            for (o, f) in chunk.iter_mut().zip(buf.chunks_exact(ba)) {
                *o = self.kind.decode(&f[sample_offset..]);
            }
            frame += chunk.len() as u64;
        }
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes at `offset`; a short file is `Malformed` naming `what`.
fn read_at(path: &Path, file: &File, buf: &mut [u8], offset: u64, what: &str) -> Result<()> {
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::malformed(
                path,
                format!("wav: the file ends inside {what} at byte {offset}"),
            )
        } else {
            Error::io(path, "cannot read", e)
        }
    })
}

// RIFF layout (all integers little-endian):
//
// | offset | size | field                                              |
// |--------|------|----------------------------------------------------|
// | 0      | 4    | "RIFF" ("RF64" for the 64-bit variant: refused)    |
// | 4      | 4    | RIFF size = file length − 8 (redundant: a warning) |
// | 8      | 4    | "WAVE"                                             |
// | 12     | …    | chunks                                             |
//
// Each chunk: 4-byte id, u32 body length, the body, and one pad byte when the length
// is odd. `fmt ` must come before `data`; chunks after `data` are not looked at.
fn walk_chunks(
    path: &Path,
    file: &File,
    file_len: u64,
    warnings: &mut Vec<String>,
) -> Result<Chunks> {
    if file_len < 12 {
        return Err(Error::malformed(
            path,
            format!("wav: the file is {file_len} bytes, too short for the 12-byte RIFF header"),
        ));
    }
    let mut riff = [0u8; 12];
    read_at(path, file, &mut riff, 0, "the RIFF header")?;
    if &riff[0..4] == b"RF64" {
        return Err(Error::unsupported(
            path,
            "wav: RF64 (64-bit RIFF) files are not supported; convert to a plain WAV or EDF",
        ));
    }
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Err(Error::malformed(
            path,
            format!(
                "wav: bytes 0..12 are not a RIFF WAVE header (found {:?} … {:?})",
                String::from_utf8_lossy(&riff[0..4]),
                String::from_utf8_lossy(&riff[8..12])
            ),
        ));
    }
    let riff_size = u64::from(le_u32(&riff[4..8]));
    if riff_size != file_len - 8 {
        warnings.push(format!(
            "wav: header byte 4 (RIFF size) says {riff_size} bytes but the file has {} after it",
            file_len - 8
        ));
    }

    let mut pos: u64 = 12;
    let mut fmt: Option<(u64, u32, Vec<u8>)> = None;
    let mut n_chunks = 0u32;
    loop {
        // Compare with what is left, never add an untrusted length to an offset first.
        if file_len - pos < 8 {
            let what = if fmt.is_some() {
                "no data chunk"
            } else {
                "no fmt chunk"
            };
            return Err(Error::malformed(
                path,
                format!(
                    "wav: {what}: the chunks end at byte {pos} of {file_len} (the header is truncated or the file is not a WAV recording)"
                ),
            ));
        }
        n_chunks += 1;
        if n_chunks > MAX_CHUNKS {
            return Err(Error::malformed(
                path,
                format!("wav: more than {MAX_CHUNKS} chunks before the data chunk (at byte {pos})"),
            ));
        }
        let mut tag = [0u8; 8];
        read_at(path, file, &mut tag, pos, "a chunk header")?;
        let id = [tag[0], tag[1], tag[2], tag[3]];
        let len = le_u32(&tag[4..8]);
        let body = pos + 8;
        match &id {
            b"fmt " => {
                if fmt.is_some() {
                    warnings.push(format!("wav: a second fmt chunk at byte {pos} is ignored"));
                } else {
                    if u64::from(len) > file_len - body {
                        return Err(Error::malformed(
                            path,
                            format!(
                                "wav: the fmt chunk at byte {pos} declares {len} bytes but the file ends {} bytes after its header",
                                file_len - body
                            ),
                        ));
                    }
                    let keep = (len as usize).min(FMT_KEEP_MAX);
                    let mut bytes = vec![0u8; keep];
                    read_at(path, file, &mut bytes, body, "the fmt chunk")?;
                    fmt = Some((body, len, bytes));
                }
            }
            b"data" => {
                let Some((fmt_offset, fmt_len, fmt)) = fmt else {
                    return Err(Error::malformed(
                        path,
                        format!("wav: the data chunk at byte {pos} comes before any fmt chunk"),
                    ));
                };
                return Ok(Chunks {
                    fmt_offset,
                    fmt_len,
                    fmt,
                    data_offset: body,
                    data_len: len,
                });
            }
            _ => {}
        }
        let skip = u64::from(len) + u64::from(len & 1);
        if skip > file_len - body {
            let what = if fmt.is_some() {
                "no data chunk"
            } else {
                "no fmt chunk"
            };
            return Err(Error::malformed(
                path,
                format!(
                    "wav: {what}: chunk {:?} at byte {pos} declares {len} bytes, past the end of the file ({file_len} bytes)",
                    String::from_utf8_lossy(&id)
                ),
            ));
        }
        pos = body + skip;
    }
}

/// What kymo needs from the `fmt ` chunk.
struct Fmt {
    channels: u16,
    rate: u32,
    block_align: usize,
    kind: SampleKind,
}

// fmt chunk body (WAVEFORMATEX, extended by WAVEFORMATEXTENSIBLE), little-endian:
//
// | offset | size | field                                                        |
// |--------|------|--------------------------------------------------------------|
// | 0      | 2    | wFormatTag: 1 PCM, 3 IEEE float, 0xFFFE extensible           |
// | 2      | 2    | nChannels                                                    |
// | 4      | 4    | nSamplesPerSec                                               |
// | 8      | 4    | nAvgBytesPerSec = rate × block align (redundant: a warning)   |
// | 12     | 2    | nBlockAlign: bytes per frame                                 |
// | 14     | 2    | wBitsPerSample: container bits per sample                    |
// | 16     | 2    | cbSize: bytes of extension that follow (WAVEFORMATEX only)    |
// | 18     | 2    | wValidBitsPerSample (extensible)                             |
// | 20     | 4    | dwChannelMask (extensible; speaker positions, ignored)       |
// | 24     | 16   | SubFormat GUID (extensible); its first 2 bytes are the tag   |
//
// hound parses this chunk (it is the reference parser kymo depends on); it is given
// a normalized copy: the redundant nAvgBytesPerSec is recomputed (hound refuses a
// wrong one, kymo warns), and for PCM and float only the 16 bytes that matter are
// passed (hound refuses cbSize values and lengths that carry no information for them).
fn parse_fmt(path: &Path, chunks: &Chunks, warnings: &mut Vec<String>) -> Result<Fmt> {
    let b = &chunks.fmt;
    let off = chunks.fmt_offset;
    if b.len() < 16 {
        return Err(Error::malformed(
            path,
            format!(
                "wav: the fmt chunk at byte {} is {} bytes, fewer than the 16 of PCMWAVEFORMAT",
                off - 8,
                chunks.fmt_len
            ),
        ));
    }
    let tag = le_u16(&b[0..2]);
    let channels = le_u16(&b[2..4]);
    let rate = le_u32(&b[4..8]);
    let avg = le_u32(&b[8..12]);
    let block_align = le_u16(&b[12..14]);
    let bits = le_u16(&b[14..16]);

    if channels == 0 {
        return Err(Error::malformed(
            path,
            format!("wav: fmt byte {} (number of channels) is 0", off + 2),
        ));
    }
    if rate == 0 {
        return Err(Error::malformed(
            path,
            format!("wav: fmt byte {} (sample rate) is 0 Hz", off + 4),
        ));
    }
    let (is_float, valid_bits) = match tag {
        TAG_PCM => (false, bits),
        TAG_IEEE_FLOAT => (true, bits),
        TAG_EXTENSIBLE => {
            if b.len() < 40 {
                return Err(Error::malformed(
                    path,
                    format!(
                        "wav: the fmt chunk at byte {} is WAVE_FORMAT_EXTENSIBLE but {} bytes long, fewer than 40",
                        off - 8,
                        chunks.fmt_len
                    ),
                ));
            }
            let sub = le_u16(&b[24..26]);
            let valid = match le_u16(&b[18..20]) {
                0 => bits, // some writers leave it 0; the container size is then the truth
                v => v,
            };
            match sub {
                TAG_PCM => (false, valid),
                TAG_IEEE_FLOAT => (true, valid),
                other => {
                    return Err(Error::unsupported(
                        path,
                        format!(
                            "wav: fmt byte {} (extensible sub-format) 0x{other:04x} is not supported: PCM (1) or IEEE float (3)",
                            off + 24
                        ),
                    ))
                }
            }
        }
        other => {
            return Err(Error::unsupported(
                path,
                format!(
                    "wav: fmt byte {off} (format tag) 0x{other:04x} ({}) is not supported: PCM (1), IEEE float (3) or WAVE_FORMAT_EXTENSIBLE (0xfffe)",
                    tag_name(other)
                ),
            ))
        }
    };
    let kind = match (is_float, bits) {
        (false, 8) => SampleKind::U8,
        (false, 16) => SampleKind::I16,
        (false, 24) => SampleKind::I24,
        (false, 32) => SampleKind::I32,
        (true, 32) => SampleKind::F32,
        (f, b) => {
            return Err(Error::unsupported(
                path,
                format!(
                    "wav: bits per sample {b} ({}) is not supported: 8, 16, 24 or 32 (integer) or 32 (float)",
                    if f { "float" } else { "integer" }
                ),
            ))
        }
    };
    if valid_bits != bits {
        // The spec left-justifies fewer valid bits in the container but writers
        // disagree (hound itself right-justifies 24 bits in 4 bytes); a guess could
        // scale every sample by 256, so refuse rather than guess.
        return Err(Error::unsupported(
            path,
            format!(
                "wav: fmt byte {} (valid bits per sample) {valid_bits} in a {bits}-bit container is not supported: only full containers",
                off + 18
            ),
        ));
    }
    let expected_align = u32::from(channels) * kind.bytes() as u32;
    if u32::from(block_align) != expected_align {
        return Err(Error::malformed(
            path,
            format!(
                "wav: fmt byte {} (block align) is {block_align} but {channels} channels of {bits} bits need {expected_align} bytes per frame",
                off + 12
            ),
        ));
    }
    let avg_expected = u32::from(block_align).checked_mul(rate);
    if avg_expected != Some(avg) {
        warnings.push(format!(
            "wav: fmt byte {} (bytes per second) is {avg}, not sample rate × block align",
            off + 8
        ));
    }

    // The normalized copy hound parses.
    let keep = if tag == TAG_EXTENSIBLE { 40 } else { 16 };
    let mut body = b[..keep].to_vec();
    body[8..12].copy_from_slice(&avg_expected.unwrap_or(avg).to_le_bytes());
    let mut riff = Vec::with_capacity(keep + 28);
    riff.extend_from_slice(b"RIFF");
    riff.extend_from_slice(&((keep + 20) as u32).to_le_bytes());
    riff.extend_from_slice(b"WAVE");
    riff.extend_from_slice(b"fmt ");
    riff.extend_from_slice(&(keep as u32).to_le_bytes());
    riff.extend_from_slice(&body);
    riff.extend_from_slice(b"data");
    riff.extend_from_slice(&0u32.to_le_bytes());
    let spec = match hound::WavReader::new(Cursor::new(riff)) {
        Ok(r) => r.spec(),
        Err(hound::Error::Unsupported) => {
            return Err(Error::unsupported(
                path,
                format!("wav: the fmt chunk at byte {} describes a format hound does not read (tag 0x{tag:04x}, {bits} bits)", off - 8),
            ))
        }
        Err(e) => {
            return Err(Error::malformed(
                path,
                format!("wav: the fmt chunk at byte {} is invalid: {e}", off - 8),
            ))
        }
    };
    // kymo's own reading of the fields must agree with hound's.
    let hound_float = spec.sample_format == hound::SampleFormat::Float;
    if spec.channels != channels
        || spec.sample_rate != rate
        || spec.bits_per_sample != bits
        || hound_float != is_float
    {
        return Err(Error::malformed(
            path,
            format!(
                "wav: the fmt chunk at byte {} is ambiguous: hound reads {} channels, {} Hz, {} bits, kymo {channels}, {rate}, {bits}",
                off - 8,
                spec.channels,
                spec.sample_rate,
                spec.bits_per_sample
            ),
        ));
    }
    Ok(Fmt {
        channels,
        rate,
        block_align: usize::from(block_align),
        kind,
    })
}

fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x0002 => "Microsoft ADPCM",
        0x0006 => "A-law",
        0x0007 => "µ-law",
        0x0011 => "IMA ADPCM",
        0x0055 => "MPEG layer 3",
        _ => "unknown",
    }
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_extremes() {
        assert_eq!(SampleKind::U8.decode(&[0]), -1.0);
        assert_eq!(SampleKind::U8.decode(&[128]), 0.0);
        assert_eq!(SampleKind::U8.decode(&[255]), 127.0 / 128.0);
        assert_eq!(SampleKind::I16.decode(&i16::MIN.to_le_bytes()), -1.0);
        assert_eq!(SampleKind::I16.decode(&16384i16.to_le_bytes()), 0.5);
        assert_eq!(SampleKind::I24.decode(&[0x00, 0x00, 0x80]), -1.0);
        assert_eq!(
            SampleKind::I24.decode(&[0xff, 0xff, 0xff]),
            -1.0 / 8_388_608.0
        );
        assert_eq!(SampleKind::I24.decode(&[0x00, 0x00, 0x40]), 0.5);
        assert_eq!(SampleKind::I32.decode(&i32::MIN.to_le_bytes()), -1.0);
        assert_eq!(SampleKind::I32.decode(&(1i32 << 29).to_le_bytes()), 0.25);
        assert_eq!(SampleKind::F32.decode(&1.5f32.to_le_bytes()), 1.5);
    }

    #[test]
    fn tag_names_known_codecs() {
        assert_eq!(tag_name(2), "Microsoft ADPCM");
        assert_eq!(tag_name(0x1234), "unknown");
    }
}
