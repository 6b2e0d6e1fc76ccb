//! `kymo demo` and `kymo analyze --report --audio`: the files a clinician opens.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{kymo, run_ok, text};

/// `kymo demo` must finish well under a minute on 2 cores (issue); release builds take
/// about 5 s, so 45 s leaves room for a loaded machine without hiding a regression.
const DEMO_LIMIT: Duration = Duration::from_secs(45);

fn wavs(dir: &Path) -> Vec<std::path::PathBuf> {
    common::listing(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        .collect()
}

#[test]
fn demo_writes_report_audio_and_events_and_prints_a_five_line_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let started = Instant::now();
    let o = run_ok(tmp.path(), args!("demo", "--out", &out));
    let took = started.elapsed();
    assert!(took < DEMO_LIMIT, "kymo demo took {took:?}");
    let stdout = text(&o.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // The report's path, then five summary lines, then what else was written.
    let report = out.join("report.html");
    assert_eq!(
        lines[0],
        format!("report: {}", report.display()),
        "{stdout}"
    );
    let summary: Vec<&str> = lines[1..]
        .iter()
        .copied()
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(summary.len(), 5, "{stdout}");
    assert!(summary[0].contains("simulated: 60 s"), "{stdout}");
    assert!(summary[1].starts_with("  found: "), "{stdout}");
    assert!(
        summary[3].contains("accuracy against the truth"),
        "{stdout}"
    );
    assert!(summary[4].contains("not a diagnosis"), "{stdout}");

    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("Accuracy against the simulator&#39;s truth"));
    assert!(html.contains("<audio controls"));
    for name in [
        "mixed.edf",
        "mixed.truth.json",
        "mixed.analysis.json",
        "mixed.discharges.csv",
        "mixed_events.tsv",
        "mixed.annotated.edf",
    ] {
        assert!(out.join(name).is_file(), "{name}");
    }
    let w = wavs(&out);
    assert!(w.len() >= 3, "{w:?}");
    for p in &w {
        // Canonical 44-byte header (hound): "RIFF", "WAVE", rate at byte 24 (LE u32).
        let b = std::fs::read(p).unwrap();
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(&b[8..12], b"WAVE");
        assert_eq!(u32::from_le_bytes([b[24], b[25], b[26], b[27]]), 44_100);
    }
    // Every audio link of the report points at a WAV that exists.
    for part in html
        .split("<audio controls preload=\"none\" src=\"")
        .skip(1)
    {
        let src = &part[..part.find('"').unwrap()];
        assert!(out.join(src).is_file(), "{src}");
    }
}

#[test]
fn analyze_report_and_audio_with_clinical_context() {
    let tmp = tempfile::tempdir().unwrap();
    let (edf, _) = common::facial(tmp.path(), 4);
    let out = tmp.path().join("out");
    let o = run_ok(
        tmp.path(),
        args!(
            "analyze",
            &edf,
            "--out",
            &out,
            "--format",
            "json",
            "--report",
            "--audio",
            "--muscle",
            "Orbicularis oculi",
            "--side",
            "left",
            "--history",
            "twitching <3 months>, no radiotherapy"
        ),
    );
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains(&format!("wrote {}", out.join("report.html").display())),
        "{stdout}"
    );
    assert!(stdout.contains("WAV files"), "{stdout}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("orbicularis oculi — facial muscle"),
        "muscle not recognised"
    );
    assert!(html.contains("twitching &lt;3 months&gt;, no radiotherapy"));
    assert!(
        html.contains("data-rule=\"facial-myokymia\""),
        "no facial myokymia statement"
    );
    assert!(html.contains("Not a diagnosis."));
    assert!(!wavs(&out.join("audio")).is_empty());

    // Audio alone: WAVs, no report.
    let out2 = tmp.path().join("out2");
    let o = run_ok(
        tmp.path(),
        args!("analyze", &edf, "--out", &out2, "--format", "json", "--audio"),
    );
    assert!(!out2.join("report.html").exists());
    assert!(!wavs(&out2.join("audio")).is_empty());
    assert!(text(&o.stderr).is_empty(), "{}", text(&o.stderr));

    // Clinical flags without --report: a warning, no report.
    let out3 = tmp.path().join("out3");
    let o = run_ok(
        tmp.path(),
        args!("analyze", &edf, "--out", &out3, "--format", "json", "--muscle", "mentalis"),
    );
    assert!(
        text(&o.stderr).contains("add --report"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out3.join("report.html").exists());
}

#[test]
fn a_bad_side_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let o = kymo()
        .current_dir(tmp.path())
        .args(["demo", "--side", "middle"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("middle"), "{}", text(&o.stderr));
    assert!(common::listing(tmp.path()).is_empty(), "demo wrote files");
    let o = kymo().args(["demo", "--help"]).output().unwrap();
    assert!(text(&o.stdout).contains("--muscle"));
}
