//! Fuzzes the EDF/BDF reader: any bytes must give a header or an error, never a panic, a
//! hang or an allocation beyond the (small) limits. Run with `cargo +nightly fuzz run edf
//! fuzz/../crates/kymo/tests/fuzz_corpus/edf`; copy each crash into that corpus folder so
//! `cargo test` (edf_bad_input.rs, `fuzz_corpus_never_panics`) keeps checking it.
#![no_main]

use kymo::io::edf::EdfReader;
use kymo::io::{read_channel, OpenOptions, ReadLimits, SignalReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("fuzz.edf");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let limits = ReadLimits {
        max_channels: 64,
        max_annotations: 10_000,
        max_alloc_bytes: 16 << 20,
    };
    let opts = OpenOptions {
        limits: limits.clone(),
        ..OpenOptions::default()
    };
    let Ok(mut r) = EdfReader::open(&path, &opts) else {
        return;
    };
    // The header passed every check: reading every channel fully must not panic either.
    for c in 0..r.header().channels.len() {
        let _ = read_channel(&mut r, c, &limits);
    }
    let _ = r.header().duration_s();
});
