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

/// One signal of a hand-built EDF/BDF file (header texts as written).
#[derive(Clone)]
pub struct Sig {
    pub label: String,
    pub spr: usize,
    pub pmin: String,
    pub pmax: String,
    pub dmin: String,
    pub dmax: String,
}

impl Sig {
    /// An ordinary 16-bit signal: physical −1000..1000 over the full digital range.
    pub fn new(label: &str, spr: usize) -> Sig {
        Sig {
            label: label.into(),
            spr,
            pmin: "-1000".into(),
            pmax: "1000".into(),
            dmin: "-32768".into(),
            dmax: "32767".into(),
        }
    }

    /// An "EDF Annotations" signal of `bytes` bytes (EDF: spr = bytes / 2).
    pub fn annotations(bytes: usize) -> Sig {
        Sig {
            label: "EDF Annotations".into(),
            spr: bytes / 2,
            pmin: "-1".into(),
            pmax: "1".into(),
            ..Sig::new("", 0)
        }
    }
}

/// A hand-built EDF/BDF file, for tests that need exact control over every header byte.
#[derive(Clone)]
pub struct Raw {
    pub bdf: bool,
    pub patient: String,
    pub recording: String,
    pub date: String,
    pub time: String,
    pub reserved: String,
    pub n_records: String,
    pub duration: String,
    pub sigs: Vec<Sig>,
}

/// Writes `text` left-aligned and space-padded into `buf[off..off + width]`.
pub fn set_field(buf: &mut [u8], off: usize, width: usize, text: &str) {
    assert!(text.len() <= width, "{text:?} wider than {width}");
    buf[off..off + width].fill(b' ');
    buf[off..off + text.len()].copy_from_slice(text.as_bytes());
}

/// Widths of the per-signal header fields, in order.
pub const SIGNAL_FIELD_WIDTHS: [usize; 10] = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32];

/// File offset of per-signal field `field` (0 label … 8 samples per record) of signal `i`.
pub fn signal_field_offset(ns: usize, field: usize, i: usize) -> usize {
    256 + SIGNAL_FIELD_WIDTHS[..field].iter().sum::<usize>() * ns + SIGNAL_FIELD_WIDTHS[field] * i
}

impl Raw {
    pub fn edf(sigs: Vec<Sig>) -> Raw {
        Raw {
            bdf: false,
            patient: "X X X X".into(),
            recording: "Startdate 04-APR-2011 X X X".into(),
            date: "04.04.11".into(),
            time: "12.57.02".into(),
            reserved: "EDF+C".into(),
            n_records: "0".into(),
            duration: "1".into(),
            sigs,
        }
    }

    pub fn width(&self) -> usize {
        if self.bdf {
            3
        } else {
            2
        }
    }

    pub fn record_bytes(&self) -> usize {
        self.sigs.iter().map(|s| s.spr).sum::<usize>() * self.width()
    }

    pub fn header(&self) -> Vec<u8> {
        let ns = self.sigs.len();
        let mut h = vec![b' '; 256 * (ns + 1)];
        if self.bdf {
            h[..8].copy_from_slice(b"\xffBIOSEMI");
        } else {
            set_field(&mut h, 0, 8, "0");
        }
        set_field(&mut h, 8, 80, &self.patient);
        set_field(&mut h, 88, 80, &self.recording);
        set_field(&mut h, 168, 8, &self.date);
        set_field(&mut h, 176, 8, &self.time);
        set_field(&mut h, 184, 8, &(256 * (ns + 1)).to_string());
        set_field(&mut h, 192, 44, &self.reserved);
        set_field(&mut h, 236, 8, &self.n_records);
        set_field(&mut h, 244, 8, &self.duration);
        set_field(&mut h, 252, 4, &ns.to_string());
        for (i, s) in self.sigs.iter().enumerate() {
            let vals = [
                s.label.clone(),
                String::new(),
                if s.label.ends_with("Annotations") {
                    String::new()
                } else {
                    "uV".into()
                },
                s.pmin.clone(),
                s.pmax.clone(),
                s.dmin.clone(),
                s.dmax.clone(),
                String::new(),
                s.spr.to_string(),
                String::new(),
            ];
            for (f, v) in vals.iter().enumerate() {
                set_field(
                    &mut h,
                    signal_field_offset(ns, f, i),
                    SIGNAL_FIELD_WIDTHS[f],
                    v,
                );
            }
        }
        h
    }

    /// One data record: ordinary signal `s` gets digital values `value(s, i)`; annotation
    /// signals get `tals` (zero padded).
    pub fn record(&self, value: impl Fn(usize, usize) -> i32, tals: &[u8]) -> Vec<u8> {
        let w = self.width();
        let mut out = Vec::with_capacity(self.record_bytes());
        for (k, s) in self.sigs.iter().enumerate() {
            if s.label.ends_with("Annotations") {
                let mut a = tals.to_vec();
                assert!(
                    a.len() <= s.spr * w,
                    "TALs longer than the annotation signal"
                );
                a.resize(s.spr * w, 0);
                out.extend_from_slice(&a);
            } else {
                for i in 0..s.spr {
                    out.extend_from_slice(&value(k, i).to_le_bytes()[..w]);
                }
            }
        }
        out
    }

    /// Header (with the record count set to `records.len()` unless already changed from
    /// "0") followed by the records.
    pub fn build(&self, records: &[Vec<u8>]) -> Vec<u8> {
        let mut me = self.clone();
        if me.n_records == "0" {
            me.n_records = records.len().to_string();
        }
        let mut b = me.header();
        for r in records {
            b.extend_from_slice(r);
        }
        b
    }
}

/// Writes `bytes` to a file in a fresh temp dir; returns the dir (keep it alive) and path.
pub fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).expect("write temp file");
    (dir, p)
}
