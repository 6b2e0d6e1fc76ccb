//! What every reader's fuzz target does: write the bytes to a scratch file, open it with
//! small limits (with and without a rate option: text and MAT need one when the file has
//! none), and read every channel of a file that opens. Any bytes must give `Ok` or `Err`,
//! never a panic, a hang or an allocation past the limits.

use std::path::{Path, PathBuf};

use kymo::io::{read_channel, OpenOptions, ReadLimits, SignalReader};

/// One scratch file per fuzzing process (libFuzzer runs inputs one after another).
fn scratch(name: &str, ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!("kymo-fuzz-{name}-{}.{ext}", std::process::id()))
}

pub fn exercise<R: SignalReader>(
    data: &[u8],
    name: &str,
    ext: &str,
    open: impl Fn(&Path, &OpenOptions) -> kymo::Result<R>,
) {
    let path = scratch(name, ext);
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let limits = ReadLimits {
        max_channels: 64,
        max_annotations: 1024,
        max_alloc_bytes: 1 << 20,
    };
    for rate_hz in [None, Some(1000.0)] {
        let opts = OpenOptions {
            limits: limits.clone(),
            rate_hz,
        };
        if let Ok(mut r) = open(&path, &opts) {
            for c in 0..r.header().channels.len() {
                let _ = read_channel(&mut r, c, &limits);
            }
        }
    }
}
