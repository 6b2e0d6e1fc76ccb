//! `kymo info` as a user runs it: on the real files in `shared/data/real`, and on broken
//! files, where it must exit with 1 and one sentence naming the file and the problem.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn real(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/real")
        .join(rel)
}

fn kymo() -> Command {
    Command::cargo_bin("kymo").expect("the kymo binary is built by cargo test")
}

fn info_json(path: &Path) -> Value {
    let out = kymo()
        .args(["info", "--json"])
        .arg(path)
        .output()
        .expect("kymo runs");
    assert!(
        out.status.success(),
        "kymo info --json {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kymo info --json prints JSON")
}

/// Runs `kymo info` on a bad file and returns its one-line complaint.
fn info_fails(path: &Path) -> String {
    let out = kymo().arg("info").arg(path).output().expect("kymo runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad input must exit with 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout for a failure");
    let err = String::from_utf8(out.stderr).expect("UTF-8 message");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one sentence, one line: {err:?}");
    let line = lines[0];
    assert!(line.starts_with("kymo: "), "{line}");
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(line.contains(&*name), "the message names the file: {line}");
    line.to_string()
}

#[test]
fn json_object_has_the_documented_fields() {
    let v = info_json(&real("physionet-emgdb/emg_healthy.hea"));
    assert_eq!(v["kymo_info_version"], 1);
    assert_eq!(v["format"], "WFDB");
    let ch = &v["channels"][0];
    for key in [
        "index",
        "label",
        "unit",
        "rate_hz",
        "n_samples",
        "duration_s",
        "physical_min",
        "physical_max",
        "transducer",
        "prefilter",
    ] {
        assert!(ch.get(key).is_some(), "channel field {key} missing: {ch}");
    }
    for key in [
        "file",
        "start",
        "duration_s",
        "subject",
        "recording",
        "segments",
        "annotations",
        "comments",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "field {key} missing");
    }
    // The record as PhysioNet documents it: one EMG channel, 4 kHz, 50 860 samples (12.715 s).
    assert_eq!(v["channels"].as_array().unwrap().len(), 1);
    assert_eq!(ch["label"], "EMG");
    assert_eq!(ch["unit"], "mV");
    assert_eq!(ch["rate_hz"], 4000.0);
    assert_eq!(ch["n_samples"], 50860);
    assert!((v["duration_s"].as_f64().unwrap() - 12.715).abs() < 1e-9);
    assert!(v["comments"][1]
        .as_str()
        .unwrap()
        .contains("concentric needle"));
}

#[test]
fn edf_plus_header_and_annotations() {
    let v = info_json(&real("pyedflib-testdata/test_generator.edf"));
    assert_eq!(v["format"], "EDF+C");
    assert_eq!(v["start"], "2011-04-04T12:57:02");
    assert_eq!(v["duration_s"], 600.0);
    let chans = v["channels"].as_array().unwrap();
    assert_eq!(
        chans.len(),
        11,
        "11 signals; the annotation signal is not a channel"
    );
    assert!(chans.iter().all(|c| c["rate_hz"] == 200.0));
    assert!(v["annotations"]["count"].as_u64().unwrap() > 0);
    assert!(v["annotations"]["first"].as_array().unwrap().len() <= 10);
}

#[test]
fn bdf_with_rates_that_are_not_whole_numbers() {
    let v = info_json(&real(
        "pyedflib-testdata/test_generator_datarec_generator_2.bdf",
    ));
    assert_eq!(v["format"], "BDF+C");
    let rates: Vec<f64> = v["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rate_hz"].as_f64().unwrap())
        .collect();
    assert!(
        rates.contains(&487.5) && rates.contains(&499.5),
        "{rates:?}"
    );
}

#[test]
fn every_real_recording_opens() {
    for rel in [
        "biosppy-examples/emg.txt",
        "biosppy-examples/emg_1.txt",
        "openhdemg-otb-testfile/otb_testfile.mat",
        "physionet-emgdb/emg_healthy.hea",
        "pyedflib-testdata/test_generator.bdf",
        "pyedflib-testdata/test_generator.edf",
        "pyedflib-testdata/test_generator_datarec_generator_0_5.bdf",
        "pyedflib-testdata/test_generator_datarec_generator_2.bdf",
        "pyedflib-testdata/test_legacy.edf",
        "pyedflib-testdata/test_subsecond.edf",
        "pyedflib-testdata/test_utf8.edf",
        "wfdb-python-sample-data/100.hea",
        "wfdb-python-sample-data/binformats.hea",
        "wfdb-python-sample-data/test_edfann.edf",
        "wfdb-python-sample-data/test_generator_2.edf",
        "wfdb-python-sample-data/test_generator_2.hea",
    ] {
        let v = info_json(&real(rel));
        assert!(
            v["duration_s"].as_f64().unwrap() >= 0.0,
            "{rel}: duration {}",
            v["duration_s"]
        );
    }
}

#[test]
fn text_output_lists_channels_and_annotations() {
    let out = kymo()
        .arg("info")
        .arg(real("pyedflib-testdata/test_utf8.edf"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("format:      EDF+C"), "{text}");
    assert!(text.contains("Fp1"), "{text}");
    assert!(text.contains("annotations:"), "{text}");
}

#[test]
fn a_record_can_be_named_without_its_extension() {
    let v = info_json(&real("wfdb-python-sample-data/100"));
    assert_eq!(v["format"], "WFDB");
    assert_eq!(v["channels"][1]["label"], "V5");
}

// ---- bad input: exit 1, one sentence naming the file and the problem ----

fn copy_prefix(src: &Path, dst: &Path, n: usize) {
    let bytes = std::fs::read(src).unwrap();
    std::fs::write(dst, &bytes[..n.min(bytes.len())]).unwrap();
}

/// Rewrites an ASCII field of an EDF header in place (space padded to `width`).
fn patch_field(bytes: &mut [u8], offset: usize, width: usize, value: &str) {
    let mut field = value.as_bytes().to_vec();
    field.resize(width, b' ');
    bytes[offset..offset + width].copy_from_slice(&field);
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let msg = info_fails(&dir.path().join("nothing-here.edf"));
    assert!(msg.contains("cannot open"), "{msg}");
}

#[test]
fn directory_instead_of_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("looks-like.edf");
    std::fs::create_dir(&d).unwrap();
    let msg = info_fails(&d);
    assert!(msg.contains("directory"), "{msg}");
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.edf");
    std::fs::write(&p, b"").unwrap();
    let msg = info_fails(&p);
    assert!(msg.contains("empty"), "{msg}");
}

#[test]
fn truncated_edf_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut-header.edf");
    copy_prefix(&real("pyedflib-testdata/test_generator.edf"), &p, 1000);
    info_fails(&p);
}

#[test]
fn truncated_edf_data() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut-data.edf");
    let src = real("pyedflib-testdata/test_generator.edf");
    let len = std::fs::metadata(&src).unwrap().len() as usize;
    copy_prefix(&src, &p, len - 1234);
    let msg = info_fails(&p);
    assert!(msg.contains("bytes") || msg.contains("record"), "{msg}");
}

#[test]
fn edf_with_a_non_numeric_record_count() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nonnumeric.edf");
    let mut b = std::fs::read(real("pyedflib-testdata/test_generator.edf")).unwrap();
    patch_field(&mut b, 236, 8, "abc");
    std::fs::write(&p, &b).unwrap();
    let msg = info_fails(&p);
    assert!(msg.contains("236"), "names the byte offset: {msg}");
    assert!(msg.contains("abc"), "quotes the bad value: {msg}");
}

#[test]
fn edf_with_an_absurd_channel_count() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("absurd.edf");
    let mut b = std::fs::read(real("pyedflib-testdata/test_generator.edf")).unwrap();
    patch_field(&mut b, 252, 4, "9999");
    std::fs::write(&p, &b).unwrap();
    info_fails(&p);
}

#[test]
fn edf_whose_record_count_disagrees_with_the_file_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("toomany.edf");
    let mut b = std::fs::read(real("pyedflib-testdata/test_generator.edf")).unwrap();
    patch_field(&mut b, 236, 8, "99999999");
    std::fs::write(&p, &b).unwrap();
    info_fails(&p);
}

#[test]
fn wfdb_with_a_missing_dat() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("emg_healthy.hea");
    std::fs::copy(real("physionet-emgdb/emg_healthy.hea"), &p).unwrap();
    let msg = info_fails(&p);
    assert!(
        msg.contains("emg_healthy.dat"),
        "names the missing file: {msg}"
    );
}

#[test]
fn wfdb_with_an_unknown_format() {
    let dir = tempfile::tempdir().unwrap();
    let hea = std::fs::read_to_string(real("physionet-emgdb/emg_healthy.hea")).unwrap();
    std::fs::write(
        dir.path().join("odd.hea"),
        hea.replace("emg_healthy", "odd")
            .replace("odd.dat 16 ", "odd.dat 999 "),
    )
    .unwrap();
    std::fs::copy(
        real("physionet-emgdb/emg_healthy.dat"),
        dir.path().join("odd.dat"),
    )
    .unwrap();
    let msg = info_fails(&dir.path().join("odd.hea"));
    assert!(msg.contains("999"), "names the format: {msg}");
}

#[test]
fn unknown_extension() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.docx");
    std::fs::write(&p, b"PK\x03\x04 not a recording").unwrap();
    let msg = info_fails(&p);
    assert!(msg.contains("unknown file type"), "{msg}");
}

#[test]
fn bad_option_is_bad_input() {
    let out = kymo()
        .args(["info", "--no-such-flag", "x.edf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = kymo()
        .args(["info", "--rate=-3"])
        .arg(real("biosppy-examples/emg.txt"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate"));
}

#[test]
fn help_is_not_an_error() {
    let out = kymo().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("info"));
}
