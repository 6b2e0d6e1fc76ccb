//! Reading a 24-bit BDF into f32 physical values, in the two ways kymo reads files:
//!
//! - `1s_windows`: 1 s windows, channel by channel within each window (as in `read_edf`;
//!   the reader's block cache serves every channel of a window from one file read);
//! - `channel_blocks`: each channel from start to end in 2²⁰-sample blocks (as `analyze`
//!   reads: one reader per channel, block after block).
//!
//! Setup (once per run, not timed): a 288 MB BDF (BioSemi: 0xFF"BIOSEMI", reserved field
//! "24BIT") of 8 channels × 20 kHz × 600 s of pseudo-random 24-bit samples in 1 s data
//! records, written by hand (kymo's writer writes 16-bit EDF only) to a temporary directory
//! (deleted afterwards). Right after writing it, the file is in the OS page cache, so this
//! measures decoding plus the copy out of the page cache, not the disk.
//!
//! Run: `cargo bench -p kymo --bench read_bdf`. Throughput is in samples per second (all
//! channels; 3 bytes each in the file).

use std::io::Write;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use kymo::io::edf::EdfReader;
use kymo::io::OpenOptions;

const CHANNELS: usize = 8;
const RATE: usize = 20_000;
const SECONDS: usize = 600;
/// Samples per read in `channel_blocks` (`kymo::detect::DEFAULT_BLOCK_LEN`).
const BLOCK: usize = kymo::detect::DEFAULT_BLOCK_LEN;

/// Writes `text` left-aligned into the space-filled field `h[off..off + width]`.
fn field(h: &mut [u8], off: usize, width: usize, text: &str) {
    assert!(text.len() <= width, "{text:?} is wider than {width}");
    h[off..off + text.len()].copy_from_slice(text.as_bytes());
}

fn write_file(path: &Path) {
    // EDF/BDF header: 256 bytes, then 256 bytes per signal, each per-signal field stored for
    // every signal in turn (label ×ns, transducer ×ns, …).
    //   0  8 version (0xFF "BIOSEMI")   8 80 patient   88 80 recording  168 8 start date
    // 176  8 start time  184 8 header bytes  192 44 reserved ("24BIT")  236 8 records
    // 244  8 record duration (s)  252 4 signals
    // per signal: label 16, transducer 80, unit 8, phys min 8, phys max 8, dig min 8,
    //             dig max 8, prefilter 80, samples per record 8, reserved 32
    let ns = CHANNELS;
    let mut h = vec![b' '; 256 * (ns + 1)];
    h[..8].copy_from_slice(b"\xffBIOSEMI");
    field(&mut h, 8, 80, "X X X X");
    field(&mut h, 88, 80, "Startdate 01-JAN-2026 X X X");
    field(&mut h, 168, 8, "01.01.26");
    field(&mut h, 176, 8, "00.00.00");
    field(&mut h, 184, 8, &(256 * (ns + 1)).to_string());
    field(&mut h, 192, 44, "24BIT");
    field(&mut h, 236, 8, &SECONDS.to_string());
    field(&mut h, 244, 8, "1");
    field(&mut h, 252, 4, &ns.to_string());
    let widths = [16usize, 80, 8, 8, 8, 8, 8, 80, 8, 32];
    for i in 0..ns {
        let label = format!("EMG {i}");
        let spr = RATE.to_string();
        let values = [
            label.as_str(),
            "",
            "uV",
            "-5000",
            "5000",
            "-8388608",
            "8388607",
            "",
            spr.as_str(),
            "",
        ];
        let mut off = 256;
        for (w, v) in widths.iter().zip(values) {
            field(&mut h, off + w * i, *w, v);
            off += w * ns;
        }
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    f.write_all(&h).expect("header");
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut record = vec![0u8; ns * RATE * 3];
    for _ in 0..SECONDS {
        for b in record.chunks_exact_mut(3) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // 24-bit two's complement, little-endian: the top 24 bits of the state.
            b.copy_from_slice(&(s >> 40).to_le_bytes()[..3]);
        }
        f.write_all(&record).expect("record");
    }
    f.flush().expect("flush");
}

mod common;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.bdf");
    write_file(&path);
    let bytes = std::fs::metadata(&path).expect("metadata").len();
    eprintln!(
        "read_bdf: {} ({:.2} GB)",
        path.display(),
        bytes as f64 / 1e9
    );

    let mut reader = EdfReader::open(&path, &OpenOptions::default()).expect("open");
    let shape = common::Shape {
        channels: CHANNELS,
        rate: RATE,
        seconds: SECONDS,
    };
    common::bench_reader(
        c,
        "read_bdf",
        "8ch_20kHz_",
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
