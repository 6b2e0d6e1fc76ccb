//! Shared helpers for the EDF integration tests: paths to the real files and the
//! pyedflib reference dump (`tests/python/edf_dump.py`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A file under `shared/data/real/` (beside the repository).
pub fn real(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/real")
        .join(rel)
}

/// The Python interpreter with pyedflib: `$KYMO_PYTHON`, else `<repo>/.venv/bin/python`.
/// Panics (the test fails, it does not skip) with a fix when neither exists.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KYMO_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    panic!(
        "the pyedflib cross-check needs Python with pyedflib and numpy: set KYMO_PYTHON, or create {} \
         (python3 -m venv .venv && .venv/bin/pip install pyedflib numpy, at the repository root)",
        venv.display()
    );
}

/// What pyedflib reads from one file.
pub struct Dump {
    pub json: Value,
    /// Physical samples of each pyedflib signal (`None` for annotation signals).
    pub samples: Vec<Option<Vec<f64>>>,
}

impl Dump {
    /// The non-annotation signals, with their samples.
    pub fn signals(&self) -> Vec<(&Value, &Vec<f64>)> {
        self.json["signals"]
            .as_array()
            .expect("signals array")
            .iter()
            .zip(&self.samples)
            .filter(|(s, _)| !s["is_annotation"].as_bool().unwrap_or(false))
            .map(|(s, x)| (s, x.as_ref().expect("samples of a signal")))
            .collect()
    }

    pub fn annotations(&self) -> &Vec<Value> {
        self.json["annotations"]
            .as_array()
            .expect("annotations array")
    }
}

/// Runs `edf_dump.py` on `path`.
pub fn pyedflib_dump(path: &Path) -> Dump {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/edf_dump.py");
    let dir = tempfile::tempdir().expect("temp dir");
    let py = python();
    let out = Command::new(&py)
        .arg(&script)
        .arg(path)
        .arg("--samples-dir")
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
    assert!(
        out.status.success(),
        "{} {} {} failed (is pyedflib installed?): {}",
        py.display(),
        script.display(),
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("edf_dump.py prints JSON");
    let samples = json["signals"]
        .as_array()
        .expect("signals array")
        .iter()
        .map(|s| {
            s["samples_file"].as_str().map(|f| {
                let b = std::fs::read(f).expect("samples file");
                b.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect()
            })
        })
        .collect();
    Dump { json, samples }
}
