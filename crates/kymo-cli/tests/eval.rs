//! `kymo eval` as a user runs it: simulate, analyse, score. The table names precision,
//! recall and F1 at every level, `--json` prints the `EvalReport` object, the options
//! reach the scores, and bad input exits with 1 and one sentence.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use common::{fails_cleanly, run_ok, text};

/// Simulates 20 s of facial myokymia and analyses it (JSON only); returns the truth and
/// the analysis.
fn simulated_and_analysed(dir: &Path) -> (PathBuf, PathBuf) {
    let (edf, truth) = common::facial(dir, 9);
    let out = dir.join("out");
    run_ok(
        dir,
        args!["analyze", &edf, "--out", &out, "--format", "json"],
    );
    (truth, out.join("facial.analysis.json"))
}

#[test]
fn the_table_gives_precision_recall_and_f1() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, events) = simulated_and_analysed(dir.path());
    let o = run_ok(
        dir.path(),
        args!["eval", "--truth", &truth, "--events", &events],
    );
    let t = text(&o.stdout);
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
    assert!(
        t.contains("potentials, channel 1 (tolerance 2 ms)") && t.contains("precision"),
        "{t}"
    );
    assert!(t.contains("units, channel 1: agreement"), "{t}");
    assert!(t.contains("discharges (IoU >= 0.3)"), "{t}");
    let myokymic = t
        .lines()
        .find(|l| l.starts_with("myokymic "))
        .unwrap_or_else(|| panic!("no myokymic row: {t}"));
    // class, true, pred, matched, precision, recall, F1
    let cols: Vec<&str> = myokymic.split_whitespace().collect();
    assert_eq!(cols.len(), 7, "{myokymic}");
    for v in &cols[4..] {
        let x: f64 = v.parse().unwrap_or_else(|_| panic!("{v} in {myokymic}"));
        assert!((0.0..=1.0).contains(&x));
    }
    assert!(t.contains("macro-F1") && t.contains("confusion"), "{t}");
}

#[test]
fn json_is_the_eval_report() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, events) = simulated_and_analysed(dir.path());
    let o = run_ok(
        dir.path(),
        args![
            "eval",
            "--truth",
            &truth,
            "--events",
            &events,
            "--json",
            "--tolerance-ms",
            "1.5",
            "--channel",
            "EMG1"
        ],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["config"]["tolerance_ms"], 1.5);
    assert_eq!(v["config"]["channel"], 0);
    let p = &v["potentials"][0];
    assert_eq!(p["channel"], 0);
    let truth_json: Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    assert_eq!(
        p["n_true"].as_u64().unwrap(),
        truth_json["potentials"].as_array().unwrap().len() as u64
    );
    for k in ["precision", "recall", "f1"] {
        assert!(
            p[k].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)),
            "{k}: {p}"
        );
    }
    assert!(v["units"][0]["agreement"].is_number());
    let classes = v["discharges"]["per_class"].as_array().unwrap();
    let m = classes.iter().find(|c| c["class"] == "myokymic").unwrap();
    assert_eq!(
        m["n_true"].as_u64().unwrap(),
        truth_json["events"].as_array().unwrap().len() as u64
    );
    assert!(m["f1"].is_number());
    assert!(v["discharges"]["confusion"]["counts"].is_array());
    // The report deserializes into the library's type.
    let _: kymo::eval::EvalReport = serde_json::from_value(v).unwrap();
}

#[test]
fn bad_input_exits_1_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let (truth, events) = simulated_and_analysed(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let m = fails_cleanly(
        &work,
        args!["eval", "--truth", "nope.truth.json", "--events", &events],
    );
    assert!(m.contains("nope.truth.json"), "{m}");
    let m = fails_cleanly(
        &work,
        args!["eval", "--truth", &truth, "--events", "nope.json"],
    );
    assert!(m.contains("nope.json"), "{m}");
    // The truth is not an analysis.
    let m = fails_cleanly(&work, args!["eval", "--truth", &truth, "--events", &truth]);
    assert!(m.contains("events") && m.contains("channels"), "{m}");
    let m = fails_cleanly(
        &work,
        args![
            "eval",
            "--truth",
            &truth,
            "--events",
            &events,
            "--channel",
            "2"
        ],
    );
    assert!(m.contains("--channel 2") && m.contains("1 EMG1"), "{m}");
    let m = fails_cleanly(
        &work,
        args![
            "eval",
            "--truth",
            &truth,
            "--events",
            &events,
            "--tolerance-ms",
            "-1"
        ],
    );
    assert!(m.contains("tolerance"), "{m}");
}
