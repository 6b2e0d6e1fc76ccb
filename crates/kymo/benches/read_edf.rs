//! Reading a large 16-bit EDF into f32 physical values, the way the `kymo` command reads
//! multi-channel files: 1 s windows, channel by channel within each window (so the
//! reader's block cache serves every channel of a window from one file read).
//!
//! Setup (once per run, not timed): a 1.09 GB EDF+C of 8 channels × 20 kHz × 3400 s of
//! pseudo-random samples, written with kymo's own `EdfWriter` to a temporary directory
//! (deleted afterwards). Right after writing it, the file is in the OS page cache, so this
//! measures decoding plus the copy out of the page cache, not the disk.
//!
//! Target: ≥ 300 M samples/s on one core. Run: `cargo bench -p kymo --bench read_edf`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use kymo::io::edf::{EdfChannelSpec, EdfReader, EdfSpec, EdfWriter};
use kymo::io::{DateTime, OpenOptions};

const CHANNELS: usize = 8;
const RATE: usize = 20_000;
const SECONDS: usize = 3400;

fn write_file(path: &Path) {
    let channels = (0..CHANNELS)
        .map(|i| EdfChannelSpec {
            label: format!("EMG {i}"),
            unit: "uV".into(),
            rate_hz: RATE as f64,
            physical_range: (-5000.0, 5000.0),
            transducer: String::new(),
            prefilter: String::new(),
        })
        .collect();
    let start = DateTime {
        year: 2026,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
    };
    let mut w = EdfWriter::create(path, &EdfSpec::new(start, channels)).expect("create");
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut block: Vec<Vec<f32>> = vec![vec![0.0; RATE]; CHANNELS];
    for _ in 0..SECONDS {
        for ch in &mut block {
            for x in ch.iter_mut() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                *x = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 9000.0;
            }
        }
        let refs: Vec<&[f32]> = block.iter().map(|c| c.as_slice()).collect();
        w.push(&refs).expect("push");
    }
    w.finish().expect("finish");
}

mod common;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.edf");
    write_file(&path);
    let bytes = std::fs::metadata(&path).expect("metadata").len();
    eprintln!(
        "read_edf: {} ({:.2} GB)",
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
        "read_edf",
        "8ch_20kHz_",
        &mut reader,
        &shape,
        None,
        std::time::Duration::from_secs(25),
    );
    drop(reader);
    drop(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
