//! `kymo analyze` as a user runs it: a simulated recording in, every output file out and
//! readable (the JSON by its documented schema and by `kymo eval`'s reader, the CSV and
//! BIDS TSV by their headers, the EDF+ by kymo and by pyedflib with the discharges as
//! annotations); bad input exits with 1 and one sentence, leaving nothing behind; piped
//! runs show no progress bar; the analysis is the same on one thread and on two.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use serde_json::Value;

use common::{fails_cleanly, listing, python, run_ok, simulate, text};
use kymo::eval::Prediction;
use kymo::io::{open, OpenOptions};

/// EDF+ stores annotation onsets and durations to 100 ns (the writer rounds to 7 decimals).
const EDF_TIME_TOL_S: f64 = 1e-7 + 1e-12;
/// The CSV and TSV write times to 1 µs (6 decimals).
const TABLE_TIME_TOL_S: f64 = 0.5e-6 + 1e-12;

/// A 20 s recording of facial myokymia (one channel, 20 kHz needle): bursts of one or two
/// units, the main pattern kymo is for.
fn facial(dir: &Path) -> (PathBuf, PathBuf) {
    common::facial(dir, 3)
}

/// Runs `kymo analyze EDF --out OUT` (plus `extra`) and returns stdout and stderr.
fn analyze(edf: &Path, out: &Path, extra: &[&str]) -> (String, String) {
    let cwd = edf.parent().unwrap();
    let mut a: Vec<&std::ffi::OsStr> = vec!["analyze".as_ref(), edf.as_os_str()];
    a.extend([std::ffi::OsStr::new("--out"), out.as_os_str()]);
    a.extend(extra.iter().map(std::ffi::OsStr::new));
    let o = run_ok(cwd, &a);
    (text(&o.stdout), text(&o.stderr))
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// Every word inside a backtick span of the document (field names, also in `{a, b}` lists).
fn documented_words(doc: &str) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for (i, span) in doc.split('`').enumerate() {
        if i % 2 == 1 {
            for w in span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !w.is_empty() {
                    words.insert(w.to_string());
                }
            }
        }
    }
    words
}

/// Every object key in `v`, skipping the subtree under `skip`.
fn keys(v: &Value, skip: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                if k != skip {
                    keys(x, skip, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, skip, out)),
        _ => {}
    }
}

#[test]
fn every_output_is_written_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let (edf, _) = facial(dir.path());
    let out = dir.path().join("results");
    let (stdout, stderr) = analyze(&edf, &out, &[]);

    // Exactly the five files, no temporary file left.
    let names: Vec<String> = listing(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "facial.analysis.json",
            "facial.annotated.edf",
            "facial.discharges.csv",
            "facial_events.json",
            "facial_events.tsv",
        ]
    );
    for n in &names {
        assert!(
            stdout.contains(&format!("wrote {}", out.join(n).display())),
            "{stdout}"
        );
    }
    // The summary table: header, one row for the channel, its classes.
    assert!(
        stdout.contains("units") && stdout.contains("potentials") && stdout.contains("dominant"),
        "{stdout}"
    );
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("1  EMG1"))
        .unwrap_or_else(|| panic!("no row for channel 1: {stdout}"));
    assert!(
        row.contains("myokymic") && row.contains("episodic"),
        "{row}"
    );
    // Piped: no progress bar (no carriage returns, no escape sequences, no bar text).
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b') && !stderr.contains("analysing"),
        "progress output on a pipe: {stderr:?}"
    );

    // JSON: the documented schema.
    let json = read_json(&out.join("facial.analysis.json"));
    assert_eq!(json["schema"], "kymo-analysis");
    assert_eq!(json["version"], 1);
    assert_eq!(json["kymo_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["format"], "EDF+C");
    assert!(json["config"]["filter"].is_object() && json["config"]["pattern"].is_object());
    let channels = json["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1);
    let ch = &channels[0];
    assert_eq!(ch["channel"], 0);
    assert_eq!(ch["label"], "EMG1");
    assert_eq!(ch["rate_hz"], 20000.0);
    assert_eq!(ch["n_samples"], 400_000);
    assert_eq!(ch["settings"]["kind"], "needle");
    let units = ch["units"].as_array().unwrap();
    assert!(!units.is_empty());
    let pre = ch["settings"]["template_pre_samples"].as_u64().unwrap() as usize;
    for u in units {
        let t = u["template"].as_array().unwrap();
        let peak = t
            .iter()
            .map(|x| x.as_f64().unwrap().abs())
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap()
            .0;
        assert_eq!(peak, pre, "template peak at template_pre_samples");
        assert!(u["class"].is_string() && u["p2p_uv"].is_number());
    }
    let potentials = ch["potentials"].as_array().unwrap();
    assert!(potentials.len() > 100);
    assert!(potentials
        .windows(2)
        .all(|w| w[0]["time_s"].as_f64() <= w[1]["time_s"].as_f64()));
    let discharges = ch["discharges"].as_array().unwrap();
    assert!(discharges.len() > 50, "{} discharges", discharges.len());
    for d in discharges {
        for k in [
            "class",
            "confidence",
            "start_s",
            "end_s",
            "units",
            "n_potentials",
            "features",
            "criteria",
            "evidence",
        ] {
            assert!(!d[k].is_null(), "discharge without {k}: {d}");
        }
    }
    assert_eq!(ch["summary"]["dominant"], "myokymic");
    assert_eq!(ch["summary"]["myokymic"]["pattern"], "episodic");
    // Every key the file holds is documented (the config's parameters are documented on
    // their Rust types, which the document points to).
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/analysis-json.md"
    ))
    .unwrap();
    let documented = documented_words(&doc);
    let mut found = BTreeSet::new();
    keys(&json, "config", &mut found);
    let missing: Vec<&String> = found.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "fields not in docs/analysis-json.md: {missing:?}"
    );
    // kymo eval's reader takes the file as it is.
    let pred = Prediction::read(&out.join("facial.analysis.json")).unwrap();
    assert_eq!(pred.channels.len(), 1);
    assert_eq!(pred.channels[0].discharges.len(), discharges.len());
    assert_eq!(pred.channels[0].potentials.len(), potentials.len());

    // CSV: the header, one row per discharge in the JSON's order.
    let mut r = csv::Reader::from_path(out.join("facial.discharges.csv")).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, kymo::output::csv_header());
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), discharges.len());
    for (row, d) in rows.iter().zip(discharges) {
        assert_eq!(&row[col("channel")], "1");
        assert_eq!(&row[col("label")], "EMG1");
        assert_eq!(&row[col("class")], d["class"].as_str().unwrap());
        let start: f64 = row[col("start_s")].parse().unwrap();
        assert!((start - d["start_s"].as_f64().unwrap()).abs() <= TABLE_TIME_TOL_S);
        assert_eq!(
            row[col("n_potentials")].parse::<u64>().unwrap(),
            d["n_potentials"].as_u64().unwrap()
        );
        assert_eq!(&row[col("evidence")], d["evidence"].as_str().unwrap());
    }
    // Missing values are empty in the CSV: a burst of 2 has no interval CV... at least one
    // optional feature is empty somewhere.
    assert!(rows.iter().any(|r| r.iter().any(str::is_empty)));

    // TSV: BIDS columns, n/a for missing, sorted by onset; the sidecar describes each column.
    let tsv = std::fs::read_to_string(out.join("facial_events.tsv")).unwrap();
    let mut lines = tsv.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(head, kymo::output::tsv_header());
    assert_eq!(&head[..4], &["onset", "duration", "trial_type", "channel"]);
    let body: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert_eq!(body.len(), discharges.len());
    let mut last = f64::NEG_INFINITY;
    for row in &body {
        assert_eq!(row.len(), head.len(), "ragged row {row:?}");
        assert!(row.iter().all(|v| !v.is_empty()), "empty field in {row:?}");
        let onset: f64 = row[0].parse().unwrap();
        let duration: f64 = row[1].parse().unwrap();
        assert!(onset >= last && duration >= 0.0);
        last = onset;
        assert_eq!(row[3], "EMG1");
        let confidence: f64 = row[head.iter().position(|h| *h == "confidence").unwrap()]
            .parse()
            .unwrap();
        assert!((0.0..=1.0).contains(&confidence));
    }
    assert!(body.iter().any(|r| r.contains(&"n/a")), "no n/a anywhere");
    let sidecar = read_json(&out.join("facial_events.json"));
    let described: Vec<&str> = sidecar
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut want: Vec<&str> = head.clone();
    want.sort_unstable();
    assert_eq!(described, want, "the sidecar describes exactly the columns");
    assert_eq!(sidecar["onset"]["Units"], "s");
    assert!(sidecar["trial_type"]["Levels"]["myokymic"].is_string());

    // EDF+: the same signal, the discharges as annotations.
    check_annotated_edf(&edf, &out.join("facial.annotated.edf"), &json);
}

/// The annotated EDF+ holds the analysed channel with the input's samples (within the
/// 16-bit quantum) and one annotation per discharge and artefact, in kymo's reader.
fn check_annotated_edf(input: &Path, edf: &Path, json: &Value) {
    let mut a = open(input, &OpenOptions::default()).unwrap();
    let mut b = open(edf, &OpenOptions::default()).unwrap();
    let hb = b.header().clone();
    assert_eq!(hb.format.to_string(), "EDF+C");
    assert_eq!(hb.channels.len(), 1);
    let (ca, cb) = (&a.header().channels[0].clone(), &hb.channels[0]);
    assert_eq!(cb.label, "EMG1");
    assert_eq!(cb.unit, "uV");
    assert_eq!(cb.rate_hz, ca.rate_hz);
    assert_eq!(cb.n_samples, ca.n_samples);
    let (lo, hi) = cb.physical_range.unwrap();
    // Half a 16-bit quantisation step of the written range, plus f32 rounding.
    let tol = (hi - lo) / 65535.0 / 2.0 + 1e-3;
    let n = ca.n_samples as usize;
    let (mut xa, mut xb) = (vec![0.0f32; n], vec![0.0f32; n]);
    a.read(0, 0, &mut xa).unwrap();
    b.read(0, 0, &mut xb).unwrap();
    let worst = xa
        .iter()
        .zip(&xb)
        .map(|(p, q)| (f64::from(*p) - f64::from(*q)).abs())
        .enumerate()
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .unwrap();
    assert!(worst.1 <= tol, "sample {} differs by {}", worst.0, worst.1);

    let ch = &json["channels"][0];
    let discharges = ch["discharges"].as_array().unwrap();
    let artefacts = ch["artefacts"].as_array().unwrap();
    assert_eq!(hb.annotations.len(), discharges.len() + artefacts.len());
    for d in discharges {
        let onset = d["start_s"].as_f64().unwrap().max(0.0);
        let units: Vec<String> = d["units"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.to_string())
            .collect();
        let text = format!(
            "{} u{} {:.2}",
            d["class"].as_str().unwrap(),
            units.join(","),
            d["confidence"].as_f64().unwrap()
        );
        assert!(
            hb.annotations
                .iter()
                .any(|x| x.text == text && (x.onset_s - onset).abs() <= EDF_TIME_TOL_S),
            "no annotation {text:?} at {onset} s"
        );
    }
}

#[test]
fn pyedflib_opens_the_annotated_edf_with_the_discharges() {
    let dir = tempfile::tempdir().unwrap();
    let (edf, _) = facial(dir.path());
    let out = dir.path().join("o");
    analyze(&edf, &out, &["--format", "json,edf"]);
    let json = read_json(&out.join("facial.analysis.json"));
    let py = python();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../kymo/tests/python/edf_dump.py"
    );
    let o = Process::new(&py)
        .arg(script)
        .arg(out.join("facial.annotated.edf"))
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the reference reader {} ({e}); create the venv (scripts/setup-python) or set KYMO_PYTHON",
                py.display()
            )
        });
    assert!(
        o.status.success(),
        "edf_dump.py failed (is pyedflib installed in {}?): {}",
        py.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["filetype"], 1, "pyedflib sees EDF+C");
    assert_eq!(v["signals"][0]["label"], "EMG1");
    assert_eq!(v["signals"][0]["n_samples"], 400_000);
    let anns = v["annotations"].as_array().unwrap();
    let ch = &json["channels"][0];
    let mut discharges: Vec<&Value> = ch["discharges"].as_array().unwrap().iter().collect();
    assert_eq!(
        anns.len(),
        discharges.len() + ch["artefacts"].as_array().unwrap().len()
    );
    discharges.sort_by(|a, b| {
        a["start_s"]
            .as_f64()
            .unwrap()
            .total_cmp(&b["start_s"].as_f64().unwrap())
    });
    let found: Vec<&Value> = anns
        .iter()
        .filter(|a| !a["text"].as_str().unwrap().starts_with("artefact"))
        .collect();
    assert_eq!(found.len(), discharges.len());
    for (a, d) in found.iter().zip(&discharges) {
        let t = a["text"].as_str().unwrap();
        assert!(t.starts_with(d["class"].as_str().unwrap()), "{t}");
        let onset = a["onset"].as_f64().unwrap();
        assert!((onset - d["start_s"].as_f64().unwrap().max(0.0)).abs() <= EDF_TIME_TOL_S);
        let dur = a["duration"].as_f64().unwrap();
        let want = d["end_s"].as_f64().unwrap() - d["start_s"].as_f64().unwrap().max(0.0);
        assert!(
            (dur - want).abs() <= 2.0 * EDF_TIME_TOL_S,
            "{dur} vs {want}"
        );
    }
}

#[test]
fn channels_by_number_and_label_and_default_names() {
    let dir = tempfile::tempdir().unwrap();
    let (edf, _) = simulate(
        dir.path(),
        "mixed",
        &["--scenario", "mixed", "--seconds", "8", "--seed", "4"],
    );
    // No --out: NAME-kymo in the working folder; channels in the order asked for.
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    run_ok(
        &work,
        args!["analyze", &edf, "-c", "EMG2", "-c", "1", "--format", "json,edf"],
    );
    let out = work.join("mixed-kymo");
    let json = read_json(&out.join("mixed.analysis.json"));
    let labels: Vec<&str> = json["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["EMG2", "EMG1"]);
    assert_eq!(json["channels"][0]["channel"], 1);
    assert!(
        !out.join("mixed.discharges.csv").exists(),
        "only json,edf asked for"
    );
    // With two channels, each annotation names its channel.
    let rec = open(&out.join("mixed.annotated.edf"), &OpenOptions::default()).unwrap();
    let h = rec.header();
    assert_eq!(h.channels.len(), 2);
    assert_eq!(h.channels[0].label, "EMG2");
    assert!(!h.annotations.is_empty());
    assert!(
        h.annotations
            .iter()
            .all(|a| a.text.starts_with("EMG1: ") || a.text.starts_with("EMG2: ")),
        "{:?}",
        h.annotations.first()
    );
    // A second run replaces the files.
    run_ok(&work, args!["analyze", &edf, "-c", "2", "--format", "json"]);
    let json = read_json(&out.join("mixed.analysis.json"));
    assert_eq!(json["channels"].as_array().unwrap().len(), 1);
}

#[test]
fn a_config_file_and_kind_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let (edf, _) = facial(dir.path());
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, "[filter]\nhigh_pass_hz = 40\nmains = \"off\"\n").unwrap();
    let out = dir.path().join("o");
    analyze(
        &edf,
        &out,
        &["--config", cfg.to_str().unwrap(), "--format", "json"],
    );
    let json = read_json(&out.join("facial.analysis.json"));
    assert_eq!(json["config"]["filter"]["high_pass_hz"], 40.0);
    assert_eq!(json["channels"][0]["settings"]["band_hz"][0], 40.0);
    assert!(json["channels"][0]["settings"]["mains_hz"].is_null());
    analyze(&edf, &out, &["--kind", "surface", "--format", "json"]);
    let json = read_json(&out.join("facial.analysis.json"));
    assert_eq!(json["config"]["kind"], "surface");
    assert_eq!(json["channels"][0]["settings"]["kind"], "surface");
}

#[test]
fn bad_input_exits_1_with_one_sentence_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (edf, _) = facial(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let e = edf.as_path();

    let m = fails_cleanly(&work, args!["analyze", "missing.edf"]);
    assert!(
        m.contains("missing.edf") && m.contains("cannot open"),
        "{m}"
    );

    let m = fails_cleanly(&work, args!["analyze", e, "-c", "3"]);
    assert!(
        m.contains("channel 3 does not exist") && m.contains("1 EMG1"),
        "{m}"
    );
    let m = fails_cleanly(&work, args!["analyze", e, "-c", "EMG9"]);
    assert!(m.contains("\"EMG9\""), "{m}");
    let m = fails_cleanly(&work, args!["analyze", e, "-c", "0"]);
    assert!(m.contains("numbered from 1"), "{m}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[detect]\nthreshold_k = 5\nbogus_key = 1\n").unwrap();
    let m = fails_cleanly(&work, args!["analyze", e, "--config", &bad]);
    assert!(
        m.contains("bad.toml") && m.contains("bogus_key") && m.contains("line 3"),
        "{m}"
    );
    std::fs::write(&bad, "[chunk]\nmax_seconds = 0\n").unwrap();
    let m = fails_cleanly(&work, args!["analyze", e, "--config", &bad]);
    assert!(
        m.contains("bad.toml") && m.contains("chunk.max_seconds"),
        "{m}"
    );
    let m = fails_cleanly(&work, args!["analyze", e, "--config", "nope.toml"]);
    assert!(m.contains("nope.toml"), "{m}");

    let m = fails_cleanly(&work, args!["analyze", e, "--format", "json,pdf"]);
    assert!(m.contains("\"pdf\""), "{m}");

    // An output folder that cannot be made: under a file.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let target = file.join("sub");
    let m = fails_cleanly(&work, args!["analyze", e, "--out", &target]);
    assert!(
        m.contains("plain-file/sub") && m.contains("output folder"),
        "{m}"
    );
    let m = fails_cleanly(&work, args!["analyze", e, "--out", &file]);
    assert!(
        m.contains("plain-file") && m.contains("not a folder"),
        "{m}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn a_failure_while_writing_leaves_no_output_at_all() {
    // A text recording at 1/0.0003183 s ≈ 3141.7 Hz: analysable, but no EDF record duration holds a whole
    // number of its samples, so the EDF+ (written last) fails after the JSON, CSV and TSV
    // are complete. None of them may appear, nor the output folder the run created.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("odd.csv");
    let mut s = String::from("time,EMG\n");
    for i in 0..30000u32 {
        // A deterministic pseudo-noise, so the file is the same every run.
        let x = ((i.wrapping_mul(2_654_435_761) >> 16) % 200) as f64 - 100.0;
        s.push_str(&format!("{:.7},{x}\n", f64::from(i) * 0.0003183));
    }
    std::fs::write(&csv, s).unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let m = fails_cleanly(&work, args!["analyze", &csv]);
    assert!(
        m.contains("odd.annotated.edf") && m.contains("cannot be stored in EDF"),
        "{m}"
    );
    // Without the EDF it works.
    run_ok(&work, args!["analyze", &csv, "--format", "json,csv,tsv"]);
    assert_eq!(listing(&work.join("odd-kymo")).len(), 4);
}

/// A user re-running an analysis on another machine gets the same result: the sort runs
/// on every thread (channels, and spans of spikes within a channel), and the analysis is
/// the same byte for byte on one thread and on two. Two minutes of `mixed` give each
/// channel enough spikes that one thread and two cut them into different spans.
#[test]
fn the_analysis_is_the_same_on_one_thread_and_on_two() {
    let dir = tempfile::tempdir().unwrap();
    let (edf, _) = simulate(
        dir.path(),
        "mixed",
        &["--scenario", "mixed", "--seconds", "120", "--seed", "5"],
    );
    let run = |threads: &str| {
        let out = dir.path().join(format!("out-{threads}"));
        let o = common::kymo()
            .env("RAYON_NUM_THREADS", threads)
            .arg("analyze")
            .arg(&edf)
            .arg("--out")
            .arg(&out)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        let json = std::fs::read(out.join("mixed.analysis.json")).unwrap();
        let v: Value = serde_json::from_slice(&json).unwrap();
        let detected: Vec<u64> = v["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["n_detected"].as_u64().unwrap())
            .collect();
        (json, detected)
    };
    let (one, detected) = run("1");
    let (two, _) = run("2");
    // Spans hold at least max(n / (4 · threads), 512) spikes: over 2048 a channel, one
    // thread and two cut a channel's spikes differently.
    assert!(detected.iter().all(|&n| n > 2048), "{detected:?} detected");
    assert!(
        one == two,
        "the analysis differs between one thread and two"
    );
}
