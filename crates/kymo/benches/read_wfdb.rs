//! Reading a WFDB record in format 212 (two 12-bit samples in three bytes, the commonest
//! PhysioNet format) into f32 physical values, in the two ways kymo reads files:
//!
//! - `1s_windows`: 1 s windows, channel by channel within each window (as in `read_edf`);
//! - `channel_blocks`: each channel from start to end in 2²⁰-sample blocks (as `analyze`
//!   reads: one reader per channel, block after block).
//!
//! The signals of a WFDB record are interleaved sample by sample, so reading one channel
//! reads the bytes of all eight: the reader decodes only the slots it needs, but the file
//! bytes it copies are eight times the channel's share.
//!
//! Setup (once per run, not timed): a 144 MB record of 8 channels × 20 kHz × 600 s of
//! pseudo-random 12-bit samples (`bench.hea` + `bench.dat`), written by hand (kymo writes
//! no WFDB) to a temporary directory (deleted afterwards). Right after writing it, the
//! file is in the OS page cache, so this measures decoding plus the copy out of the page
//! cache, not the disk.
//!
//! Run: `cargo bench -p kymo --bench read_wfdb`. Throughput is in samples per second (all
//! channels; 1.5 bytes each in the file).

use std::io::Write;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use kymo::io::wfdb::WfdbReader;
use kymo::io::OpenOptions;

const CHANNELS: usize = 8;
const RATE: usize = 20_000;
const SECONDS: usize = 600;
/// Samples per read in `channel_blocks` (`kymo::detect::DEFAULT_BLOCK_LEN`).
const BLOCK: usize = kymo::detect::DEFAULT_BLOCK_LEN;

fn write_record(dir: &Path) -> std::path::PathBuf {
    let n = RATE * SECONDS;
    // Record line: name, signals, frequency, samples per signal. Signal lines: file,
    // format, gain/units (200 adu per µV), ADC resolution, ADC zero.
    let mut hea = format!("bench {CHANNELS} {RATE} {n}\n");
    for _ in 0..CHANNELS {
        hea.push_str("bench.dat 212 200/uV 12 0\n");
    }
    let path = dir.join("bench.hea");
    std::fs::write(&path, hea).expect("header");
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("bench.dat")).expect("dat"));
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        // 12-bit two's complement in the low bits; never 0x800 = -2048 (WFDB's missing
        // sample, which would read as NaN).
        match (s >> 52) as u16 & 0x0fff {
            0x800 => 0x801,
            v => v,
        }
    };
    // Format 212, one pair of consecutive slots (samples of the interleaved stream) in three
    // bytes: byte 0 = bits 0-7 of slot 0; byte 1 = bits 8-11 of slot 0 in its low nibble
    // and bits 8-11 of slot 1 in its high nibble; byte 2 = bits 0-7 of slot 1. Eight
    // channels make a frame of four pairs, so pairs never straddle frames.
    let mut frame = [0u8; CHANNELS / 2 * 3];
    for _ in 0..n {
        for pair in frame.chunks_exact_mut(3) {
            let (a, b) = (next(), next());
            pair[0] = (a & 0xff) as u8;
            pair[1] = ((a >> 8) & 0x0f) as u8 | (((b >> 8) & 0x0f) << 4) as u8;
            pair[2] = (b & 0xff) as u8;
        }
        f.write_all(&frame).expect("frame");
    }
    f.flush().expect("flush");
    path
}

mod common;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_record(dir.path());
    let bytes = std::fs::metadata(dir.path().join("bench.dat"))
        .expect("metadata")
        .len();
    eprintln!(
        "read_wfdb: {} ({:.2} GB of samples)",
        path.display(),
        bytes as f64 / 1e9
    );

    let mut reader = WfdbReader::open(&path, &OpenOptions::default()).expect("open");
    let shape = common::Shape {
        channels: CHANNELS,
        rate: RATE,
        seconds: SECONDS,
    };
    common::bench_reader(
        c,
        "read_wfdb",
        "212_8ch_20kHz_",
        &mut reader,
        &shape,
        Some(BLOCK),
        std::time::Duration::from_secs(10),
    );
    drop(reader);
    drop(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
