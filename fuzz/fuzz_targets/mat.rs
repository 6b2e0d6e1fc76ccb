//! Fuzz the MAT-file reader (see `common`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::exercise(data, "mat", "mat", kymo::io::mat::MatReader::open);
});
