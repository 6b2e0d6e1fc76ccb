//! Opens every input of `tests/fuzz_corpus/wfdb/` the way the `wfdb` fuzz target does: none
//! may panic (errors are fine). See the README in that folder for the input layout.
#![allow(clippy::unwrap_used)] // a test: a panic is the failure report

use std::path::Path;

use kymo::io::wfdb::{header, WfdbReader};
use kymo::io::{OpenOptions, ReadLimits, SignalReader};

/// Samples read from each end of each channel (as in the fuzz target).
const READ_SAMPLES: u64 = 4096;

/// Same steps as `fuzz/fuzz_targets/wfdb.rs`.
fn exercise(data: &[u8], dir: &Path) {
    let (hea, dat) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let limits = ReadLimits {
        max_channels: 256,
        max_annotations: 1000,
        max_alloc_bytes: 1 << 20,
    };
    let _ = header::parse(Path::new("f.hea"), hea, &limits);
    let hea_path = dir.join("f.hea");
    std::fs::write(&hea_path, hea).unwrap();
    std::fs::write(dir.join("f.dat"), dat).unwrap();
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
    if total <= 1 << 20 {
        let _ = r.verify_checksums();
    }
}

#[test]
fn fuzz_corpus_inputs_do_not_panic() {
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fuzz_corpus/wfdb"
    ));
    let mut n = 0;
    for entry in std::fs::read_dir(corpus).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "bin") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let result = std::panic::catch_unwind(|| exercise(&data, dir.path()));
        assert!(result.is_ok(), "{} panicked", path.display());
        n += 1;
    }
    assert!(
        n >= 15,
        "only {n} corpus inputs found in {}",
        corpus.display()
    );
}
