//! MAT-file reader: the OTBioLab+ export from openhdemg (cross-checked with scipy),
//! MAT-files written by a small writer below (compressed or not, both byte orders),
//! and broken files.

// Tests may panic on a broken fixture; index loops mirror the (row, column) maths.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use kymo::io::mat::MatReader;
use kymo::io::{read_channel, OpenOptions, ReadLimits, SignalReader};
use kymo::Error;

fn otb() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real/openhdemg-otb-testfile/otb_testfile.mat"
    ))
}

fn opts() -> OpenOptions {
    OpenOptions::default()
}

// ---------------------------------------------------------------- a small MAT writer

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

const MX_CELL: u32 = 1;
const MX_CHAR: u32 = 4;
const MX_DOUBLE: u32 = 6;
const MX_SINGLE: u32 = 7;

#[derive(Clone, Copy)]
struct W {
    be: bool,
}

impl W {
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn el(&self, ty: u32, data: &[u8]) -> Vec<u8> {
        let mut v = self.u32(ty).to_vec();
        v.extend_from_slice(&self.u32(data.len() as u32));
        v.extend_from_slice(data);
        v.resize(v.len().div_ceil(8) * 8, 0);
        v
    }

    fn small(&self, ty: u32, data: &[u8]) -> Vec<u8> {
        assert!(data.len() <= 4);
        let mut v = self.u32(((data.len() as u32) << 16) | ty).to_vec();
        let mut d = data.to_vec();
        d.resize(4, 0);
        v.extend_from_slice(&d);
        v
    }

    fn encode(&self, ty: u32, values: &[f64]) -> Vec<u8> {
        let mut out = Vec::new();
        for &x in values {
            let b: Vec<u8> = match (ty, self.be) {
                (MI_INT8, _) => vec![x as i8 as u8],
                (MI_UINT8, _) => vec![x as u8],
                (MI_INT16, false) => (x as i16).to_le_bytes().to_vec(),
                (MI_INT16, true) => (x as i16).to_be_bytes().to_vec(),
                (MI_UINT16, false) => (x as u16).to_le_bytes().to_vec(),
                (MI_UINT16, true) => (x as u16).to_be_bytes().to_vec(),
                (MI_INT32, false) => (x as i32).to_le_bytes().to_vec(),
                (MI_INT32, true) => (x as i32).to_be_bytes().to_vec(),
                (MI_SINGLE, false) => (x as f32).to_le_bytes().to_vec(),
                (MI_SINGLE, true) => (x as f32).to_be_bytes().to_vec(),
                (MI_DOUBLE, false) => x.to_le_bytes().to_vec(),
                (MI_DOUBLE, true) => x.to_be_bytes().to_vec(),
                _ => panic!("type {ty}"),
            };
            out.extend_from_slice(&b);
        }
        out
    }

    /// miMATRIX element: flags, dims, name, then `parts` (already encoded elements).
    fn matrix(&self, class: u32, dims: &[i32], name: &str, parts: &[Vec<u8>]) -> Vec<u8> {
        let mut c = self.el(MI_UINT32, &[self.u32(class), self.u32(0)].concat());
        let d: Vec<u8> = dims.iter().flat_map(|&x| self.u32(x as u32)).collect();
        c.extend(self.el(MI_INT32, &d));
        if !name.is_empty() && name.len() <= 4 {
            c.extend(self.small(MI_INT8, name.as_bytes()));
        } else {
            c.extend(self.el(MI_INT8, name.as_bytes()));
        }
        for p in parts {
            c.extend_from_slice(p);
        }
        self.el(MI_MATRIX, &c)
    }

    fn numeric(&self, class: u32, dims: &[i32], name: &str, ty: u32, values: &[f64]) -> Vec<u8> {
        let data = self.encode(ty, values);
        let real = if data.len() <= 4 {
            self.small(ty, &data)
        } else {
            self.el(ty, &data)
        };
        self.matrix(class, dims, name, &[real])
    }

    fn chars(&self, name: &str, s: &str) -> Vec<u8> {
        let units: Vec<u16> = s.encode_utf16().collect();
        let data: Vec<u8> = units
            .iter()
            .flat_map(|&u| {
                if self.be {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect();
        self.matrix(
            MX_CHAR,
            &[1, units.len() as i32],
            name,
            &[self.el(MI_UINT16, &data)],
        )
    }

    fn cell(&self, dims: &[i32], name: &str, elems: &[Vec<u8>]) -> Vec<u8> {
        self.matrix(MX_CELL, dims, name, elems)
    }

    fn file(&self, vars: &[Vec<u8>], compress: bool) -> Vec<u8> {
        let mut out = b"MATLAB 5.0 MAT-file, written by kymo tests".to_vec();
        out.resize(116, b' ');
        out.extend_from_slice(&[0; 8]);
        if self.be {
            out.extend_from_slice(&0x0100u16.to_be_bytes());
            out.extend_from_slice(b"MI");
        } else {
            out.extend_from_slice(&0x0100u16.to_le_bytes());
            out.extend_from_slice(b"IM");
        }
        for v in vars {
            if compress {
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                z.write_all(v).unwrap();
                let z = z.finish().unwrap();
                out.extend_from_slice(&self.u32(MI_COMPRESSED));
                out.extend_from_slice(&self.u32(z.len() as u32));
                out.extend_from_slice(&z);
            } else {
                out.extend_from_slice(v);
            }
        }
        out
    }
}

/// The generator's value for sample `i` of channel `c` (exact in int16 and single).
fn val(i: usize, c: usize) -> f64 {
    ((i * 31 + c * 1017) % 2001) as f64 - 1000.0
}

/// Column-major values of a samples × channels matrix.
fn samples_by_channels(n: usize, ch: usize) -> Vec<f64> {
    (0..ch)
        .flat_map(|c| (0..n).map(move |i| val(i, c)))
        .collect()
}

/// An OTBioLab+-like file: `Data` and `Time` in 1×1 cells, `Description`, `SamplingFrequency`.
fn otb_like(w: W, n: usize, ch: usize, rate_var: bool) -> Vec<Vec<u8>> {
    let data = w.numeric(
        MX_SINGLE,
        &[n as i32, ch as i32],
        "",
        MI_SINGLE,
        &samples_by_channels(n, ch),
    );
    let time: Vec<f64> = (0..n).map(|i| 3.0 + i as f64 / 512.0).collect();
    let time = w.numeric(MX_DOUBLE, &[n as i32, 1], "", MI_DOUBLE, &time);
    let labels: Vec<Vec<u8>> = (0..ch)
        .map(|c| w.chars("", &format!("Biceps µ {}[uV]", c + 1)))
        .collect();
    let mut vars = vec![
        w.cell(&[1, 1], "Data", &[data]),
        w.cell(&[ch as i32, 1], "Description", &labels),
    ];
    if rate_var {
        // A uint16 scalar stored as a small element, as OTBioLab+ does.
        vars.push(w.numeric(11, &[1, 1], "SamplingFrequency", MI_UINT16, &[512.0]));
    }
    vars.push(w.cell(&[1, 1], "Time", &[time]));
    vars.push(w.chars("OTBFile", "unknown"));
    vars
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn all(r: &mut dyn SignalReader) -> Vec<Vec<f32>> {
    (0..r.header().channels.len())
        .map(|c| read_channel(r, c, &ReadLimits::default()).unwrap())
        .collect()
}

fn check_windows(r: &mut dyn SignalReader, whole: &[Vec<f32>], windows: &[(usize, usize)]) {
    for (ch, w) in whole.iter().enumerate() {
        for &(start, len) in windows.iter().rev() {
            let mut out = vec![f32::NAN; len];
            r.read(ch, start as u64, &mut out).unwrap();
            assert_eq!(out, w[start..start + len], "ch {ch} window {start}+{len}");
        }
    }
}

// ---------------------------------------------------------------- synthetic files

#[test]
fn otb_like_file_compressed_and_plain_both_byte_orders() {
    let dir = tempfile::tempdir().unwrap();
    let (n, ch) = (40_000, 3); // a channel is 160 000 bytes: several 64 KiB blocks
    for be in [false, true] {
        for compress in [true, false] {
            let w = W { be };
            let p = write(
                &dir,
                &format!("otb_{be}_{compress}.mat"),
                &w.file(&otb_like(w, n, ch, true), compress),
            );
            let mut r = MatReader::open(&p, &opts()).unwrap();
            let h = r.header().clone();
            assert_eq!(h.format, kymo::io::Format::Mat);
            assert_eq!(h.channels.len(), ch, "be {be} z {compress}");
            for (c, chan) in h.channels.iter().enumerate() {
                assert_eq!(chan.label, format!("Biceps µ {}", c + 1));
                assert_eq!(chan.unit, "uV");
                assert_eq!(chan.rate_hz, 512.0);
                assert_eq!(chan.n_samples, n as u64);
            }
            assert!(h.warnings.is_empty(), "{:?}", h.warnings);
            assert!(
                h.comments.iter().any(|c| c == "OTBFile = 'unknown'"),
                "{:?}",
                h.comments
            );
            assert!(
                h.comments
                    .iter()
                    .any(|c| c.contains("'Time' starts at 3 s")),
                "{:?}",
                h.comments
            );
            let whole = all(&mut r);
            for c in 0..ch {
                for i in (0..n).step_by(97) {
                    assert_eq!(
                        whole[c][i],
                        val(i, c) as f32,
                        "be {be} z {compress} ch {c} i {i}"
                    );
                }
            }
            check_windows(
                &mut r,
                &whole,
                &[(0, 1), (39_999, 1), (16_383, 3), (100, 30_000), (5, 0)],
            );
        }
    }
}

#[test]
fn channels_as_rows_and_narrow_storage_type() {
    // A 4 × 5000 double matrix stored as int16 (MATLAB stores integers compactly):
    // channels are the rows, samples interleaved in column-major order.
    let dir = tempfile::tempdir().unwrap();
    let (ch, n) = (4usize, 5000usize);
    let values: Vec<f64> = (0..n)
        .flat_map(|i| (0..ch).map(move |c| val(i, c)))
        .collect();
    for compress in [true, false] {
        let w = W { be: false };
        let vars = vec![
            w.numeric(MX_DOUBLE, &[ch as i32, n as i32], "emg", MI_INT16, &values),
            w.numeric(MX_DOUBLE, &[1, 1], "fs", MI_DOUBLE, &[1000.0]),
        ];
        let p = write(
            &dir,
            &format!("rows_{compress}.mat"),
            &w.file(&vars, compress),
        );
        let mut r = MatReader::open(&p, &opts()).unwrap();
        assert_eq!(r.header().channels.len(), ch);
        assert_eq!(r.header().channels[0].n_samples, n as u64);
        assert_eq!(r.header().channels[0].label, "ch1");
        let whole = all(&mut r);
        for c in 0..ch {
            for i in 0..n {
                assert_eq!(whole[c][i], val(i, c) as f32);
            }
        }
        check_windows(&mut r, &whole, &[(0, 5000), (4999, 1), (1234, 2000)]);
    }
}

#[test]
fn tiny_matrix_in_a_small_element() {
    let dir = tempfile::tempdir().unwrap();
    let w = W { be: false };
    let vars = vec![
        w.numeric(MX_DOUBLE, &[1, 1], "fs", MI_DOUBLE, &[10.0]),
        w.numeric(MX_DOUBLE, &[4, 1], "x", MI_INT8, &[1.0, -2.0, 3.0, -4.0]),
    ];
    let p = write(&dir, "tiny.mat", &w.file(&vars, false));
    let mut r = MatReader::open(&p, &opts()).unwrap();
    assert_eq!(all(&mut r), vec![vec![1.0, -2.0, 3.0, -4.0]]);
}

#[test]
fn rate_from_time_vector_and_from_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let w = W { be: false };
    let p = write(
        &dir,
        "time.mat",
        &w.file(&otb_like(w, 3000, 2, false), true),
    );
    let r = MatReader::open(&p, &opts()).unwrap();
    assert_eq!(r.header().channels[0].rate_hz, 512.0);

    let o = OpenOptions {
        rate_hz: Some(500.0),
        ..OpenOptions::default()
    };
    let p = write(&dir, "both.mat", &w.file(&otb_like(w, 3000, 2, true), true));
    let r = MatReader::open(&p, &o).unwrap();
    assert_eq!(r.header().channels[0].rate_hz, 500.0);
    assert!(r.header().warnings.iter().any(|w| w.contains("overrides")));

    let vars = vec![w.numeric(
        MX_SINGLE,
        &[100, 2],
        "Data",
        MI_SINGLE,
        &samples_by_channels(100, 2),
    )];
    let p = write(&dir, "norate.mat", &w.file(&vars, true));
    match MatReader::open(&p, &opts()) {
        Err(Error::Config(m)) => assert!(
            m.contains("no sampling rate") && m.contains("--rate"),
            "{m}"
        ),
        other => panic!("expected Config, got {:?}", other.err()),
    }
}

fn malformed(p: &Path) -> String {
    match MatReader::open(p, &opts()) {
        Err(Error::Malformed { what, .. }) => what,
        Err(e) => panic!("expected Malformed, got {e:?}"),
        Ok(_) => panic!("expected Malformed, got Ok"),
    }
}

fn unsupported(p: &Path) -> String {
    match MatReader::open(p, &opts()) {
        Err(Error::Unsupported { what, .. }) => what,
        Err(e) => panic!("expected Unsupported, got {e:?}"),
        Ok(_) => panic!("expected Unsupported, got Ok"),
    }
}

#[test]
fn broken_files_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let w = W { be: false };
    let good = w.file(&otb_like(w, 2000, 2, true), true);

    let p = write(&dir, "cut.mat", &good[..good.len() / 2]);
    let m = malformed(&p);
    assert!(m.contains("truncated") && m.contains("declares"), "{m}");

    let p = write(&dir, "header_only.mat", &good[..100]);
    assert!(malformed(&p).contains("shorter than the 128-byte"));

    // The first variable's zlib data replaced by garbage.
    let mut bad = good.clone();
    for b in &mut bad[136..150] {
        *b = 0xff;
    }
    let p = write(&dir, "garbage_zlib.mat", &bad);
    let m = malformed(&p);
    assert!(
        m.contains("compressed element at byte 128") && m.contains("zlib stream is corrupt"),
        "{m}"
    );

    // A zlib stream cut short (the element length agrees with the file): open reads the
    // head, the read of a late sample finds the end.
    let data = w.numeric(
        MX_SINGLE,
        &[20_000, 2],
        "Data",
        MI_SINGLE,
        &samples_by_channels(20_000, 2),
    );
    let fs = w.numeric(MX_DOUBLE, &[1, 1], "fs", MI_DOUBLE, &[100.0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&data).unwrap();
    let z = z.finish().unwrap();
    let cut = &z[..z.len() / 2];
    let mut f = w.file(std::slice::from_ref(&fs), false);
    f.extend_from_slice(&w.u32(MI_COMPRESSED));
    f.extend_from_slice(&w.u32(cut.len() as u32));
    f.extend_from_slice(cut);
    let p = write(&dir, "short_zlib.mat", &f);
    let mut r = MatReader::open(&p, &opts()).unwrap();
    let mut out = vec![0.0f32; 10];
    let e = r.read(1, 19_990, &mut out).unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { what, .. } if what.contains("'Data'") && what.contains("ends before")),
        "{e}"
    );

    // Dimensions that do not match the data, and that overflow.
    let absurd = w.matrix(
        MX_DOUBLE,
        &[i32::MAX, i32::MAX],
        "Data",
        &[w.el(MI_DOUBLE, &[0; 16])],
    );
    let p = write(&dir, "absurd.mat", &w.file(&[absurd, fs.clone()], true));
    let m = malformed(&p);
    assert!(
        m.contains("the real part holds 16 bytes") && m.contains("2147483647×2147483647"),
        "{m}"
    );
    let overflow = w.matrix(
        MX_DOUBLE,
        &[i32::MAX; 4],
        "Data",
        &[w.el(MI_DOUBLE, &[0; 16])],
    );
    let p = write(
        &dir,
        "overflow.mat",
        &w.file(&[overflow, fs.clone()], false),
    );
    assert!(malformed(&p).contains("overflow a 64-bit element count"));

    let p = write(
        &dir,
        "no_matrix.mat",
        &w.file(&[w.chars("note", "hello"), fs.clone()], true),
    );
    let m = malformed(&p);
    assert!(
        m.contains("no 2-D numeric matrix") && m.contains("note (text)"),
        "{m}"
    );

    let mut v73 = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00".to_vec();
    v73.resize(512, b' ');
    v73.extend_from_slice(b"\x89HDF\r\n\x1a\n");
    let p = write(&dir, "v73.mat", &v73);
    let m = unsupported(&p);
    assert!(
        m.contains("MAT v7.3 (HDF5) files are not supported; save with -v7 or export to EDF"),
        "{m}"
    );

    let p = write(&dir, "v4.mat", &[0u8; 200]);
    assert!(unsupported(&p).contains("not a level-5 MAT-file"));

    let mut endian = good.clone();
    endian[126..128].copy_from_slice(b"XX");
    let p = write(&dir, "endian.mat", &endian);
    assert!(malformed(&p).contains("endian indicator"));
}

#[test]
fn too_many_channels_for_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let w = W { be: false };
    let p = write(&dir, "l.mat", &w.file(&otb_like(w, 100, 3, true), true));
    let o = OpenOptions {
        limits: ReadLimits {
            max_channels: 2,
            ..ReadLimits::default()
        },
        ..OpenOptions::default()
    };
    assert!(matches!(MatReader::open(&p, &o), Err(Error::Limit { .. })));
}

// ---------------------------------------------------------------- the real file

/// Values of `Data` (row, column) from scipy 1.17.1 `loadmat` (also re-checked live below).
const KNOWN: [(u64, usize, f32); 6] = [
    (0, 0, 10.172526),
    (1, 0, 14.750163),
    (0, 17, -104.268394),
    (0, 74, 1.6405337),
    (66_559, 74, 1.4818423),
    (2, 72, -0.0003787974),
];

#[test]
fn otb_testfile_header_and_samples() {
    // SOURCE.md: Data 66560 × 75 single, SamplingFrequency 2048, Description 75 × 1;
    // columns 1–64 are the HD-sEMG grid in µV, 65–74 decomposition outputs, 75 force.
    let mut r = kymo::io::open(&otb(), &opts()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.format, kymo::io::Format::Mat);
    assert_eq!(h.channels.len(), 75);
    for c in &h.channels {
        assert_eq!(c.rate_hz, 2048.0);
        assert_eq!(c.n_samples, 66_560);
    }
    assert!((h.duration_s() - 32.5).abs() < 1e-9);
    assert_eq!(
        h.channels[0].label,
        "Vastus Lateralis - AUX 3 (Channel 1->1) - GR08MM1305 (1)"
    );
    assert_eq!(
        h.channels[63].label,
        "Vastus Lateralis - AUX 3 (Channel 1->1) - GR08MM1305 (64)"
    );
    assert!(h.channels[..64].iter().all(|c| c.unit == "uV"));
    assert!(h.channels[64]
        .label
        .starts_with("1 - 4 - Decomposition of Vastus Lateralis"));
    assert!(h.channels[64..74].iter().all(|c| c.unit == "a.u"));
    assert_eq!(
        (h.channels[74].label.as_str(), h.channels[74].unit.as_str()),
        ("acquired data", "%(MVC)")
    );
    assert!(h
        .comments
        .iter()
        .any(|c| c.contains("Created on: Wed May 10 14:49:19 2023")));
    assert!(h
        .comments
        .iter()
        .any(|c| c.contains("'Time' starts at 7 s")));
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    for (row, col, want) in KNOWN {
        let mut v = [0.0f32];
        r.read(col, row, &mut v).unwrap();
        assert_eq!(v[0], want, "Data[{row}, {col}]");
    }
    // Random access against whole reads, late channel first (the costly direction).
    let whole: Vec<Vec<f32>> = [74usize, 0, 40]
        .iter()
        .map(|&c| read_channel(&mut *r, c, &ReadLimits::default()).unwrap())
        .collect();
    for (k, &c) in [74usize, 0, 40].iter().enumerate() {
        for &(start, len) in &[(66_000usize, 560usize), (0, 10), (30_000, 20_000), (1, 1)] {
            let mut out = vec![0.0f32; len];
            r.read(c, start as u64, &mut out).unwrap();
            assert_eq!(
                out,
                whole[k][start..start + len],
                "ch {c} window {start}+{len}"
            );
        }
    }
}

fn python() -> PathBuf {
    match std::env::var_os("KYMO_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.venv/bin/python"
        )),
    }
}

#[test]
fn otb_testfile_matches_scipy_loadmat() {
    let py = python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/mat_dump.py");
    let positions = [
        (0u64, 0usize),
        (12_345, 5),
        (66_559, 63),
        (33_000, 64),
        (40_000, 69),
        (66_559, 74),
        (7, 74),
    ];
    let mut cmd = Command::new(&py);
    cmd.arg(script).arg(otb());
    for (r, c) in positions {
        cmd.arg(format!("{r}:{c}"));
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run the Python interpreter {} ({e}); create the venv (python3 -m venv .venv && .venv/bin/pip install numpy scipy) or set KYMO_PYTHON",
            py.display()
        )
    });
    assert!(
        out.status.success(),
        "mat_dump.py failed (is scipy installed in {}?): {}",
        py.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["shape"], serde_json::json!([66560, 75]));
    assert_eq!(j["dtype"], "float32");
    assert_eq!(j["fs"], 2048.0);
    let mut r = MatReader::open(&otb(), &opts()).unwrap();
    let labels = j["labels"].as_array().unwrap();
    assert_eq!(labels.len(), 75);
    for (c, l) in labels.iter().enumerate() {
        let ch = &r.header().channels[c];
        let joined = format!("{}[{}]", ch.label, ch.unit);
        let scipy = l.as_str().unwrap().replace("[ ", "[");
        assert_eq!(joined, scipy, "label {c}");
    }
    for s in j["samples"].as_array().unwrap() {
        let (row, col, want) = (
            s[0].as_u64().unwrap(),
            s[1].as_u64().unwrap() as usize,
            s[2].as_f64().unwrap(),
        );
        let mut v = [0.0f32];
        r.read(col, row, &mut v).unwrap();
        // scipy prints the float32 widened to f64 with 17 digits; serde_json may parse it
        // one f64 ulp off, far below half an f32 ulp, so narrowing gives the exact float32.
        assert_eq!(
            v[0], want as f32,
            "Data[{row}, {col}] (scipy {})",
            j["scipy"]
        );
    }
}

/// Every file in the fuzz corpus opens (or fails) without a panic, and every channel reads.
#[test]
fn fuzz_corpus_does_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus/mat");
    let mut n = 0;
    for rate in [None, Some(100.0)] {
        let small = OpenOptions {
            limits: ReadLimits {
                max_channels: 64,
                max_annotations: 64,
                max_alloc_bytes: 1 << 20,
            },
            rate_hz: rate,
        };
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            n += 1;
            if let Ok(mut r) = MatReader::open(&p, &small) {
                for c in 0..r.header().channels.len() {
                    let _ = read_channel(&mut r, c, &small.limits);
                }
            }
        }
    }
    assert!(n >= 6, "the corpus at {} has only {n} files", dir.display());
}
