//! `kymo simulate` as a user runs it: the EDF+ it writes opens in kymo's reader and in
//! pyedflib with the true events as annotations matching the truth file; the same seed gives
//! byte-identical files; bad parameters exit with 1 and one sentence, leaving no file.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use serde_json::Value;

use kymo::io::{open, OpenOptions};
use kymo::simulate::truth::{self, Truth};
use kymo::simulate::{self, VecSink};

const SEED: u64 = 7;

/// EDF+ stores annotation onsets and durations to 100 ns (the writer rounds to 7 decimals).
const ONSET_TOL_S: f64 = 1e-7 + 1e-12;

mod common;
use common::{kymo, simulate};

/// Runs `kymo simulate` with bad arguments: exit 1, one line on stderr, nothing written.
fn simulate_fails(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = kymo()
        .arg("simulate")
        .args(args)
        .arg("--out")
        .arg(dir.path().join("x.edf"))
        .output()
        .expect("kymo runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad input must exit with 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8(out.stderr).expect("UTF-8");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one sentence, one line: {err:?}");
    assert!(lines[0].starts_with("kymo: "), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(left.is_empty(), "a failed run left files behind");
    lines[0].to_string()
}

#[test]
fn list_names_every_built_in_with_one_line() {
    let out = kymo().args(["simulate", "--list"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), simulate::list().len());
    for (name, description) in simulate::list() {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(name) && l.ends_with(&description)),
            "{name} missing from --list"
        );
    }
}

#[test]
fn the_edf_opens_in_kymo_with_the_events_as_annotations_and_the_exact_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (edf, truth_path) = simulate(
        dir.path(),
        "mixed",
        &["--scenario", "mixed", "--seconds", "12", "--seed", "7"],
    );
    let t = truth::read(&truth_path).expect("truth reads");
    let mut rec = open(&edf, &OpenOptions::default()).expect("kymo reads its own EDF");
    let h = rec.header().clone();
    assert_eq!(h.channels.len(), 2);
    for ch in &h.channels {
        assert_eq!(ch.rate_hz, 20_000.0);
        assert_eq!(ch.n_samples, t.recording.n_samples);
        assert_eq!(ch.unit, "uV");
    }
    // Annotations: one per event (plus artefact transients), same onsets and durations.
    let events: Vec<_> = h
        .annotations
        .iter()
        .filter(|a| !a.text.starts_with("artefact"))
        .collect();
    assert_eq!(events.len(), t.events.len());
    for e in &t.events {
        let text = format!("{} e{} u", e.class.name(), e.id);
        let a = events
            .iter()
            .find(|a| a.text.starts_with(&text))
            .unwrap_or_else(|| panic!("no annotation for event {}", e.id));
        assert!((a.onset_s - e.start_s.max(0.0)).abs() <= ONSET_TOL_S);
        let d = a.duration_s.expect("events have durations");
        assert!((d - (e.end_s - e.start_s.max(0.0))).abs() <= 2.0 * ONSET_TOL_S);
    }
    let pops = h
        .annotations
        .iter()
        .filter(|a| a.text == "artefact electrode-pop")
        .count();
    let want = t
        .artefacts
        .iter()
        .filter(|a| a.kind == truth::ArtefactKind::ElectrodePop)
        .count();
    assert_eq!(pops, want);

    // Samples: the library run with the same scenario and seed, within the EDF quantum.
    let mut s = simulate::builtin("mixed").expect("built-in");
    s.seconds = 12.0;
    let mut samples = VecSink::default();
    simulate::run(&s, SEED, &mut samples, &mut Truth::default()).expect("runs");
    for (c, ch) in h.channels.iter().enumerate() {
        let (lo, hi) = ch.physical_range.expect("EDF has a range");
        // Half a quantisation step of the 16-bit range, plus f32 rounding of the values.
        let tol = (hi - lo) / 65535.0 / 2.0 + 1e-3;
        let mut got = vec![0.0f32; ch.n_samples as usize];
        rec.read(c, 0, &mut got).expect("reads");
        for (i, (a, b)) in got.iter().zip(&samples.channels[c]).enumerate() {
            assert!(
                (f64::from(*a) - f64::from(*b)).abs() <= tol,
                "channel {c} sample {i}: EDF {a}, simulator {b}"
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
fn pyedflib_reads_the_simulated_edf_with_the_same_annotations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (edf, truth_path) = simulate(
        dir.path(),
        "facial",
        &["--scenario", "myokymia-facial", "--seconds", "10"],
    );
    let t = truth::read(&truth_path).expect("truth reads");
    let py = python();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../kymo/tests/python/edf_dump.py"
    );
    let out = Process::new(&py)
        .arg(script)
        .arg(&edf)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the reference reader {} ({e}); create the venv (scripts/setup-python) or set KYMO_PYTHON",
                py.display()
            )
        });
    assert!(
        out.status.success(),
        "edf_dump.py failed (is pyedflib installed in {}?): {}",
        py.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["filetype"], 1, "pyedflib sees EDF+C");
    let sig = &v["signals"][0];
    assert_eq!(sig["label"], "EMG1");
    assert_eq!(sig["n_samples"].as_u64(), Some(t.recording.n_samples));
    let anns = v["annotations"].as_array().expect("annotations");
    assert_eq!(anns.len(), t.events.len());
    let mut events = t.events.clone();
    events.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    for (a, e) in anns.iter().zip(&events) {
        let text = a["text"].as_str().expect("text");
        assert!(text.starts_with(&format!("myokymic e{} u", e.id)), "{text}");
        let onset = a["onset"].as_f64().expect("onset");
        assert!(
            (onset - e.start_s.max(0.0)).abs() <= ONSET_TOL_S,
            "{onset} vs {}",
            e.start_s
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "--scenario",
        "fibrillations",
        "--seconds",
        "5",
        "--seed",
        "3",
    ];
    let (a_edf, a_truth) = simulate(dir.path(), "a", &args);
    let (b_edf, b_truth) = simulate(dir.path(), "b", &args);
    let read = |p: &Path| std::fs::read(p).expect("file");
    assert!(read(&a_edf) == read(&b_edf), "EDF bytes differ");
    assert!(read(&a_truth) == read(&b_truth), "truth bytes differ");
    let (c_edf, _) = simulate(
        dir.path(),
        "c",
        &[
            "--scenario",
            "fibrillations",
            "--seconds",
            "5",
            "--seed",
            "4",
        ],
    );
    assert!(read(&a_edf) != read(&c_edf));
}

#[test]
fn overrides_reach_the_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, truth_path) = simulate(
        dir.path(),
        "o",
        &[
            "--scenario",
            "neuromyotonia",
            "--seconds",
            "3",
            "--snr-db",
            "6",
            "--mains",
            "60",
        ],
    );
    let t = truth::read(&truth_path).expect("reads");
    assert_eq!(t.recording.snr_db, Some(6.0));
    assert_eq!(t.scenario.recording.mains.hz, 60.0);
    assert_eq!(t.scenario.seconds, 3.0);
}

#[test]
fn a_scenario_file_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("surface.toml");
    std::fs::write(
        &toml,
        "name = \"surface-fasciculations\"\nseconds = 4\n[recording]\nelectrode = \"surface\"\n[[sources]]\nclass = \"fasciculation\"\ncount = 3\nrate_hz = [1, 2]\n",
    )
    .expect("write");
    let (edf, truth_path) = simulate(
        dir.path(),
        "s",
        &["--scenario-file", toml.to_str().expect("utf-8")],
    );
    let t = truth::read(&truth_path).expect("reads");
    assert_eq!(t.recording.rate_hz, 2048.0);
    assert_eq!(t.scenario.name, "surface-fasciculations");
    let rec = open(&edf, &OpenOptions::default()).expect("opens");
    assert_eq!(rec.header().channels[0].rate_hz, 2048.0);
}

#[test]
fn bad_parameters_exit_1_with_one_sentence() {
    let m = simulate_fails(&["--scenario", "myokimia"]);
    assert!(
        m.contains("unknown scenario") && m.contains("myokymia-facial"),
        "{m}"
    );
    let m = simulate_fails(&["--scenario", "rest", "--snr-db", "10"]);
    assert!(m.contains("snr_db"), "{m}");
    let m = simulate_fails(&["--scenario", "voluntary", "--mains", "55"]);
    assert!(m.contains("50 or 60"), "{m}");
    let m = simulate_fails(&["--scenario", "voluntary", "--seconds", "0"]);
    assert!(m.contains("seconds"), "{m}");
    let m = simulate_fails(&["--scenario", "voluntary", "--seconds", "-2"]);
    assert!(m.contains("seconds"), "{m}");
    let m = simulate_fails(&[]);
    assert!(m.contains("--scenario"), "{m}");
    let m = simulate_fails(&["--scenario-file", "/nonexistent/x.toml"]);
    assert!(m.contains("/nonexistent/x.toml"), "{m}");
}

#[test]
fn the_output_folder_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("new").join("folder");
    let (edf, truth) = simulate(&nested, "rest", &["--scenario", "rest", "--seconds", "1"]);
    assert!(edf.is_file() && truth.is_file());
}
