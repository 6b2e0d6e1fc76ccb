//! Fuzz target for the WFDB reader: the header parser on its own, then the whole reader
//! (signal-file checks, every format's decoder, checksums) on a record written to a temp dir.
//!
//! Input: the bytes of a header, a NUL byte, then the bytes of the signal file `f.dat` (seed
//! corpus: `crates/kymo/tests/fuzz_corpus/wfdb/`, which `cargo test` also replays through
//! `crates/kymo/tests/wfdb_fuzz_corpus.rs`; keep the two `exercise` bodies in step).
//!
//! Run: `cargo fuzz run wfdb crates/kymo/tests/fuzz_corpus/wfdb`.
#![no_main]

use std::path::{Path, PathBuf};

use kymo::io::wfdb::{header, WfdbReader};
use kymo::io::{OpenOptions, ReadLimits, SignalReader};
use libfuzzer_sys::fuzz_target;

/// Samples read from each end of each channel.
const READ_SAMPLES: u64 = 4096;

/// One folder per fuzzing process (libFuzzer workers are processes).
fn work_dir() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("kymo-fuzz-wfdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

fn exercise(data: &[u8], dir: &Path) {
    let (hea, dat) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    // Small limits: a hostile header must hit them, not the fuzzer's memory cap.
    let limits = ReadLimits {
        max_channels: 256,
        max_annotations: 1000,
        max_alloc_bytes: 1 << 20,
    };
    let _ = header::parse(Path::new("f.hea"), hea, &limits);
    let hea_path = dir.join("f.hea");
    if std::fs::write(&hea_path, hea).is_err() || std::fs::write(dir.join("f.dat"), dat).is_err() {
        return;
    }
    let opts = OpenOptions {
        limits,
        rate_hz: None,
    };
    let Ok(mut r) = WfdbReader::open(&hea_path, &opts) else {
        return;
    };
    let mut buf = vec![0f32; READ_SAMPLES as usize];
    let mut total = 0u64;
    for c in 0..r.header().channels.len() {
        let n = r.header().channels[c].n_samples;
        total = total.saturating_add(n);
        let take = n.min(READ_SAMPLES);
        let _ = r.read(c, 0, &mut buf[..take as usize]);
        let _ = r.read(c, n - take, &mut buf[..take as usize]);
    }
    // The checksum pass reads whole files; skip it when a header names a big one.
    if total <= 1 << 20 {
        let _ = r.verify_checksums();
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(dir) = work_dir() {
        exercise(data, &dir);
    }
});
