//! Fuzz the WAV reader (see `common`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::exercise(data, "wav", "wav", kymo::io::wav::WavReader::open);
});
