//! The WFDB reader against real records in `shared/data/real/`, cross-checked with wfdb-python.
//!
//! Reference: wfdb-python (`wfdb.rdrecord`, version printed by `tests/python/wfdb_dump.py` and
//! asserted below), run through `$KYMO_PYTHON` or `<repo>/.venv/bin/python`. A missing
//! interpreter or package fails the test with a message saying how to install it.
//!
//! Physical values are compared exactly after rounding wfdb-python's float64 to f32: both
//! compute `(adu − baseline) / gain` in f64 (wfdb-python: `d_signal - baseline`, then `/ adc_gain`
//! in float64), so the only rounding is kymo's final cast to f32.
#![allow(clippy::unwrap_used)] // a test: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;

use kymo::io::wfdb::{ChecksumReport, WfdbReader};
use kymo::io::{OpenOptions, SignalReader};
use proptest::prelude::*;
use serde_json::Value;

/// The wfdb-python release these checks were written against (`tests/requirements.txt`).
const WFDB_PYTHON_VERSION: &str = "4.3.1";

fn real(rel: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real"
    ))
    .join(rel)
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KYMO_PYTHON") {
        return PathBuf::from(p);
    }
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.venv/bin/python"
    ))
    .to_path_buf()
}

/// Runs `tests/python/wfdb_dump.py` on a record (path without `.hea`).
fn wfdb_python(record: &Path, from: Option<u64>, to: Option<u64>) -> Value {
    let py = python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/wfdb_dump.py");
    let mut cmd = Command::new(&py);
    cmd.arg(script).arg(record);
    if let Some(f) = from {
        cmd.arg("--from").arg(f.to_string());
    }
    if let Some(t) = to {
        cmd.arg("--to").arg(t.to_string());
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run the Python interpreter {} ({e}); set KYMO_PYTHON or create the venv: \
             python3 -m venv .venv && .venv/bin/pip install wfdb numpy",
            py.display()
        )
    });
    assert!(
        out.status.success(),
        "wfdb_dump.py failed for {} (is wfdb-python installed in {}?):\n{}",
        record.display(),
        py.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("wfdb_dump.py printed JSON");
    assert_eq!(
        v["wfdb_version"].as_str(),
        Some(WFDB_PYTHON_VERSION),
        "the expected values were checked against wfdb-python {WFDB_PYTHON_VERSION}"
    );
    v
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("integer"))
        .collect()
}

/// wfdb-python physical values as f32 bit patterns (`null` = NaN).
fn phys_bits(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| {
            x.as_f64()
                .map_or(f32::NAN.to_bits(), |f| (f as f32).to_bits())
        })
        .collect()
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter()
        .map(|v| {
            if v.is_nan() {
                f32::NAN.to_bits()
            } else {
                v.to_bits()
            }
        })
        .collect()
}

/// Panics with the first differing index.
fn assert_same<T: PartialEq + std::fmt::Debug>(what: &str, got: &[T], want: &[T]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        panic!(
            "{what}: first difference at sample {i}: kymo {:?}, wfdb-python {:?}",
            got[i], want[i]
        );
    }
}

/// Compares samples `from..to` of every channel with wfdb-python (digital and physical).
///
/// wfdb-python is asked for `0..to` and sliced: for format 8 (first differences) it starts
/// integrating at `sampfrom` from the header's initial value, as its source comment says
/// libwfdb does, so its values for `sampfrom > 0` are not the record's samples.
/// `from_zero: false` asks for `from..to` directly (records without format 8).
fn compare_window(r: &mut WfdbReader, record: &Path, from: u64, to: u64, from_zero: bool) {
    let py_from = if from_zero { 0 } else { from };
    let skip = (from - py_from) as usize;
    let py = wfdb_python(record, Some(py_from), Some(to));
    let slice = |v: &Value| Value::Array(v.as_array().expect("array")[skip..].to_vec());
    let n = r.header().channels.len();
    assert_eq!(py["n_sig"].as_u64(), Some(n as u64));
    for c in 0..n {
        let len = (to - from) as usize;
        let mut adu = vec![0i32; len];
        r.read_adu(c, from, &mut adu).unwrap();
        let adu: Vec<i64> = adu.into_iter().map(i64::from).collect();
        let label = r.header().channels[c].label.clone();
        assert_same(
            &format!(
                "{} channel {c} ({label}) digital {from}..{to}",
                record.display()
            ),
            &adu,
            &ints(&slice(&py["digital"][c])),
        );
        let mut phys = vec![0f32; len];
        r.read(c, from, &mut phys).unwrap();
        assert_same(
            &format!(
                "{} channel {c} ({label}) physical {from}..{to}",
                record.display()
            ),
            &bits(&phys),
            &phys_bits(&slice(&py["physical"][c])),
        );
    }
}

fn open(rel: &str) -> WfdbReader {
    WfdbReader::open(&real(rel), &OpenOptions::default())
        .unwrap_or_else(|e| panic!("cannot open {rel}: {e}"))
}

fn assert_checksums_ok(reports: &[ChecksumReport]) {
    for r in reports {
        assert_eq!(r.checksum_ok(), Some(true), "{r:?}");
        assert_eq!(r.initial_value_ok(), Some(true), "{r:?}");
    }
}

#[test]
fn binformats_every_format_matches_wfdb_python() {
    let mut r = open("wfdb-python-sample-data/binformats.hea");
    let h = r.header().clone();
    assert_eq!(h.channels.len(), 10);
    let formats = [8, 16, 61, 80, 160, 212, 310, 311, 24, 32];
    for (c, (ch, fmt)) in h.channels.iter().zip(formats).enumerate() {
        assert_eq!(ch.label, format!("sig {c}, fmt {fmt}"));
        assert_eq!(r.wfdb_header().signals[c].format, fmt);
        assert_eq!(ch.n_samples, 499);
        assert_eq!(ch.rate_hz, 200.0);
        assert_eq!(ch.unit, "mV");
    }
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert!(h.start.is_none());
    let record = real("wfdb-python-sample-data/binformats");
    compare_window(&mut r, &record, 0, 499, true);
    compare_window(&mut r, &record, 17, 250, true);
    compare_window(&mut r, &record, 498, 499, true);
    // The header's checksums and initial values (e.g. -31143 and -2047 for the format 8 signal).
    let rep = r.verify_checksums().unwrap();
    assert_eq!(rep[0].header_checksum, Some(-31143));
    assert_eq!(rep[0].header_initial_value, Some(-2047));
    assert_checksums_ok(&rep);
}

#[test]
fn record_100_format_212_interleaved() {
    let mut r = open("wfdb-python-sample-data/100.hea");
    let h = r.header().clone();
    let labels: Vec<&str> = h.channels.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["MLII", "V5"]);
    for ch in &h.channels {
        assert_eq!(ch.rate_hz, 360.0);
        assert_eq!(ch.n_samples, 650_000);
        assert_eq!(ch.unit, "mV");
        // 11-bit ADC, zero and baseline 1024, gain 200 adu/mV.
        assert_eq!(ch.physical_range, Some((-1024.0 / 200.0, 1023.0 / 200.0)));
    }
    assert_eq!(
        h.comments,
        [
            "unnecessary comment",
            "69 M 1085 1629 x1",
            "Aldomet, Inderal"
        ]
    );
    // Header fields in order: gain 200, resolution 11, zero 1024, initial value 995 / 1011,
    // checksum -22131 / 20052, block size 0.
    let rep = r.verify_checksums().unwrap();
    assert_eq!(rep[0].header_initial_value, Some(995));
    assert_eq!(rep[1].header_initial_value, Some(1011));
    assert_eq!(rep[0].header_checksum, Some(-22131));
    assert_eq!(rep[1].header_checksum, Some(20052));
    assert_eq!(rep[0].checksum, -22131);
    assert_eq!(rep[1].checksum, 20052);
    assert_checksums_ok(&rep);
    // First samples (995 and 1011 adu → (995 − 1024)/200 = −0.145 mV).
    let mut first = [0f32; 2];
    r.read(0, 0, &mut first[..1]).unwrap();
    r.read(1, 0, &mut first[1..]).unwrap();
    assert_eq!(first, [-0.145, -0.065]);
    let record = real("wfdb-python-sample-data/100");
    compare_window(&mut r, &record, 0, 3000, false);
    compare_window(&mut r, &record, 324_999, 327_001, false);
    compare_window(&mut r, &record, 649_001, 650_000, false);
}

#[test]
fn emg_healthy_format_16() {
    let mut r = open("physionet-emgdb/emg_healthy.hea");
    let h = r.header().clone();
    assert_eq!(h.channels.len(), 1);
    let ch = &h.channels[0];
    assert_eq!(ch.label, "EMG");
    assert_eq!(ch.rate_hz, 4000.0);
    assert_eq!(ch.n_samples, 50_860);
    assert_eq!(ch.unit, "mV");
    assert_eq!(h.comments.len(), 3);
    assert!(h.comments[0].contains("<age>: 44"));
    let rep = r.verify_checksums().unwrap();
    assert_eq!(rep[0].header_initial_value, Some(-333));
    assert_eq!(rep[0].first_sample, Some(-333));
    assert_eq!(rep[0].header_checksum, Some(-29438));
    assert_checksums_ok(&rep);
    let mut first = [0f32; 1];
    r.read(0, 0, &mut first).unwrap();
    // -333 adu at 10000 adu/mV.
    assert_eq!(first[0], (-333.0f64 / 10000.0) as f32);
    compare_window(
        &mut r,
        &real("physionet-emgdb/emg_healthy"),
        0,
        50_860,
        false,
    );
}

/// The header names `test_generator_2.dat` (format 16x200), which does not exist; the EDF
/// beside it holds the samples (12 WFDB signal lines, one of them "EDF Annotations").
#[test]
fn test_generator_2_falls_back_to_the_edf() {
    let hea = real("wfdb-python-sample-data/test_generator_2.hea");
    let mut r = kymo::io::wfdb::open(&hea, &OpenOptions::default()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.path, hea);
    assert_eq!(h.channels.len(), 11);
    assert_eq!(h.channels[0].label, "squarewave");
    assert_eq!(h.channels[0].rate_hz, 200.0);
    assert_eq!(h.channels[0].n_samples, 600 * 200);
    assert!(
        h.warnings
            .iter()
            .any(|w| w.contains("test_generator_2.dat") && w.contains("test_generator_2.edf")),
        "{:?}",
        h.warnings
    );
    let mut edf = kymo::io::edf::EdfReader::open(
        &real("wfdb-python-sample-data/test_generator_2.edf"),
        &OpenOptions::default(),
    )
    .unwrap();
    for c in 0..h.channels.len() {
        let mut a = vec![0f32; 1000];
        let mut b = vec![0f32; 1000];
        r.read(c, 5000, &mut a).unwrap();
        edf.read(c, 5000, &mut b).unwrap();
        assert_eq!(bits(&a), bits(&b), "channel {c}");
    }
    let mut w = WfdbReader::open(&hea, &OpenOptions::default()).unwrap();
    assert!(w.is_edf_backed());
    assert!(w.verify_checksums().is_err());
}

/// Whole channels of every real record, read once with the default buffer.
fn whole(rel: &str) -> Vec<Vec<f32>> {
    let mut r = open(rel);
    (0..r.header().channels.len())
        .map(|c| {
            let mut v = vec![0f32; r.header().channels[c].n_samples as usize];
            r.read(c, 0, &mut v).unwrap();
            v
        })
        .collect()
}

const RECORDS: [&str; 3] = [
    "wfdb-python-sample-data/binformats.hea",
    "wfdb-python-sample-data/100.hea",
    "physionet-emgdb/emg_healthy.hea",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Reading any window, with any read-buffer size, equals the same slice of a whole read
    /// (binformats covers every format; 100 interleaves two 212 signals).
    #[test]
    fn any_window_equals_the_whole_read(
        rec in 0..RECORDS.len(),
        chan in 0usize..10,
        start_frac in 0.0f64..1.0,
        len in 0usize..3000,
        chunk in prop_oneof![1usize..64, Just(kymo::io::wfdb::DEFAULT_CHUNK_BYTES)],
    ) {
        thread_local! {
            static WHOLE: Vec<Vec<Vec<f32>>> = RECORDS.iter().map(|r| whole(r)).collect();
        }
        let mut r = open(RECORDS[rec]);
        r.set_read_chunk_bytes(chunk);
        let c = chan % r.header().channels.len();
        let n = r.header().channels[c].n_samples as usize;
        let start = ((n as f64 * start_frac) as usize).min(n);
        let len = len.min(n - start);
        let mut got = vec![0f32; len];
        r.read(c, start as u64, &mut got).unwrap();
        WHOLE.with(|w| {
            let want = &w[rec][c][start..start + len];
            prop_assert_eq!(bits(&got), bits(want), "{} channel {} {}..{}", RECORDS[rec], c, start, start + len);
            Ok(())
        })?;
    }
}

// ---------------------------------------------------------------------------------------------
// Generated records, read by both readers: missing-sample codes in every format, and several
// signals with several samples per frame interleaved in one file. The encoders below are
// written from signal(5) independently of the reader's decoders.

/// Encodes interleaved slot values (differences already taken for format 8).
fn encode(format: u32, slots: &[i32]) -> Vec<u8> {
    let mut out = Vec::new();
    match format {
        8 => out.extend(slots.iter().map(|&v| v as i8 as u8)),
        16 => slots
            .iter()
            .for_each(|&v| out.extend((v as i16).to_le_bytes())),
        61 => slots
            .iter()
            .for_each(|&v| out.extend((v as i16).to_be_bytes())),
        24 => slots
            .iter()
            .for_each(|&v| out.extend(&v.to_le_bytes()[..3])),
        32 => slots.iter().for_each(|&v| out.extend(v.to_le_bytes())),
        80 => out.extend(slots.iter().map(|&v| (v + 128) as u8)),
        160 => slots
            .iter()
            .for_each(|&v| out.extend(((v + 32768) as u16).to_le_bytes())),
        212 => {
            for p in slots.chunks(2) {
                let a = p[0] as u32 & 0xFFF;
                let b = p.get(1).map_or(0, |&v| v as u32 & 0xFFF);
                out.extend([a as u8, ((a >> 8) | ((b >> 8) << 4)) as u8]);
                if p.len() == 2 {
                    out.push(b as u8);
                }
            }
        }
        310 => {
            for t in slots.chunks(3) {
                let s = |i: usize| t.get(i).map_or(0, |&v| v as u32 & 0x3FF);
                let w0 = (s(0) << 1) | ((s(2) & 0x1F) << 11);
                let w1 = (s(1) << 1) | ((s(2) >> 5) << 11);
                out.extend((w0 as u16).to_le_bytes());
                if t.len() >= 2 {
                    out.extend((w1 as u16).to_le_bytes());
                }
            }
        }
        311 => {
            for t in slots.chunks(3) {
                let s = |i: usize| t.get(i).map_or(0, |&v| v as u32 & 0x3FF);
                let w = s(0) | (s(1) << 10) | (s(2) << 20);
                out.extend(&w.to_le_bytes()[..[0, 2, 3, 4][t.len()]]);
            }
        }
        _ => unreachable!(),
    }
    out
}

/// One signal of a generated record: file, format, samples per frame, samples (adu).
struct GenSig {
    file: &'static str,
    format: u32,
    spf: usize,
    values: Vec<i32>,
}

/// Writes `gen.hea` and the signal files of `sigs` (consecutive signals sharing a file form
/// a group) into `dir`, with correct initial values and checksums.
fn write_record(dir: &Path, frames: usize, sigs: &[GenSig]) -> PathBuf {
    let mut hea = format!("gen {} 100 {frames}\n", sigs.len());
    let mut i = 0;
    while i < sigs.len() {
        let file = sigs[i].file;
        let group: Vec<&GenSig> = sigs[i..].iter().take_while(|s| s.file == file).collect();
        let mut prev: Vec<i32> = group.iter().map(|s| s.values[0]).collect();
        let mut slots = Vec::new();
        for f in 0..frames {
            for (gi, s) in group.iter().enumerate() {
                for k in 0..s.spf {
                    let v = s.values[f * s.spf + k];
                    slots.push(if s.format == 8 { v - prev[gi] } else { v });
                    prev[gi] = v;
                }
            }
        }
        std::fs::write(dir.join(file), encode(group[0].format, &slots)).unwrap();
        for s in &group {
            let sum: i64 = s.values.iter().map(|&v| i64::from(v)).sum();
            let spf = if s.spf > 1 {
                format!("x{}", s.spf)
            } else {
                String::new()
            };
            hea += &format!(
                "{file} {}{spf} 10(-3)/uV 0 0 {} {} 0 {} {}\n",
                s.format, s.values[0], sum as u16 as i16, s.format, s.spf
            );
        }
        i += group.len();
    }
    let path = dir.join("gen.hea");
    std::fs::write(&path, hea).unwrap();
    path
}

/// Compares every channel of a generated record with wfdb-python and checks its checksums.
fn compare_generated(hea: &Path, sigs: &[GenSig]) {
    let mut r = WfdbReader::open(hea, &OpenOptions::default()).unwrap();
    let record = hea.with_extension("");
    let py = wfdb_python(&record, None, None);
    for (c, s) in sigs.iter().enumerate() {
        let n = s.values.len();
        assert_eq!(r.header().channels[c].n_samples as usize, n);
        let mut adu = vec![0i32; n];
        r.read_adu(c, 0, &mut adu).unwrap();
        assert_eq!(
            adu, s.values,
            "channel {c} (format {}) against the encoder",
            s.format
        );
        let adu: Vec<i64> = adu.into_iter().map(i64::from).collect();
        assert_same(
            &format!("channel {c} digital"),
            &adu,
            &ints(&py["digital"][c]),
        );
        let mut phys = vec![0f32; n];
        r.read(c, 0, &mut phys).unwrap();
        assert_same(
            &format!("channel {c} (format {}) physical", s.format),
            &bits(&phys),
            &phys_bits(&py["physical"][c]),
        );
        assert_eq!(r.header().channels[c].rate_hz, 100.0 * s.spf as f64);
    }
    assert_checksums_ok(&r.verify_checksums().unwrap());
}

/// The missing-sample code of every format reads as NaN (wfdb-python: `null`), next to the
/// extreme valid values; 7 samples leave a partial packing group in 212, 310 and 311.
#[test]
fn missing_samples_are_nan_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        "f8", "f16", "f61", "f80", "f160", "f212", "f310", "f311", "f24", "f32",
    ];
    let formats = [8u32, 16, 61, 80, 160, 212, 310, 311, 24, 32];
    let sigs: Vec<GenSig> = files
        .iter()
        .zip(formats)
        .map(|(&file, format)| {
            let values = if format == 8 {
                vec![0, -100, -1, 0, 1, 100, 3]
            } else {
                let bits = match format {
                    80 => 8,
                    310 | 311 => 10,
                    212 => 12,
                    24 => 24,
                    32 => 32,
                    _ => 16,
                };
                let invalid = (-(1i64 << (bits - 1))) as i32;
                let max = ((1i64 << (bits - 1)) - 1) as i32;
                vec![invalid, invalid + 1, -1, 0, 1, max, invalid]
            };
            GenSig {
                file,
                format,
                spf: 1,
                values,
            }
        })
        .collect();
    let hea = write_record(dir.path(), 7, &sigs);
    compare_generated(&hea, &sigs);
    let mut r = WfdbReader::open(&hea, &OpenOptions::default()).unwrap();
    for c in 1..sigs.len() {
        let mut v = [0f32; 7];
        r.read(c, 0, &mut v).unwrap();
        assert!(
            v[0].is_nan() && v[6].is_nan() && !v[1].is_nan(),
            "channel {c}: {v:?}"
        );
    }
}

/// Several signals with different samples per frame share each file.
#[test]
fn interleaved_multi_frequency_groups_match_wfdb_python() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 5;
    let gen = |file, format, spf: usize, lo: i32, hi: i32| {
        let n = frames * spf;
        let values = (0..n as i32)
            .map(|i| lo + (i * 7919 + 13).rem_euclid(hi - lo + 1))
            .collect();
        GenSig {
            file,
            format,
            spf,
            values,
        }
    };
    let sigs = vec![
        gen("a.dat", 16, 1, -32768, 32767),
        gen("a.dat", 16, 3, -32768, 32767),
        gen("a.dat", 16, 2, -32768, 32767),
        gen("b.dat", 212, 2, -2048, 2047),
        gen("b.dat", 212, 1, -2048, 2047),
        gen("c.dat", 310, 1, -512, 511),
        gen("c.dat", 310, 1, -512, 511),
        gen("d.dat", 311, 2, -512, 511),
        gen("d.dat", 311, 1, -512, 511),
        gen("e.dat", 8, 1, -60, 60),
        gen("e.dat", 8, 2, -60, 60),
        gen("f.dat", 24, 4, -8_388_608, 8_388_607),
    ];
    let hea = write_record(dir.path(), frames, &sigs);
    compare_generated(&hea, &sigs);
}
