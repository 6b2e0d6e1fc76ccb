//! Fuzz the delimited text reader: any bytes must give `Ok` or `Err`, never a panic, a hang
//! or an allocation past the limits; every channel of a file that opens is read.
#![no_main]

use std::path::PathBuf;

use kymo::io::{read_channel, OpenOptions, ReadLimits, SignalReader};
use libfuzzer_sys::fuzz_target;

/// One scratch file per fuzzing process (libFuzzer runs inputs one after another).
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("kymo-fuzz-text-{}.csv", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let limits = ReadLimits {
        max_channels: 64,
        max_annotations: 1024,
        max_alloc_bytes: 1 << 20,
    };
    // Without and with a rate option (text and MAT need one when the file has none).
    for rate_hz in [None, Some(1000.0)] {
        let opts = OpenOptions {
            limits: limits.clone(),
            rate_hz,
        };
        if let Ok(mut r) = kymo::io::text::TextReader::open(&path, &opts) {
            for c in 0..r.header().channels.len() {
                let _ = read_channel(&mut r, c, &limits);
            }
        }
    }
});
