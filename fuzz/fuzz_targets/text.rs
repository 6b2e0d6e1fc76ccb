//! Fuzz the delimited text reader (see `common`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::exercise(data, "text", "csv", kymo::io::text::TextReader::open);
});
