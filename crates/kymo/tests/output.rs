//! The output writers on a real analysis: the annotated EDF+ holds every annotation even
//! when they crowd a short recording (found on the 75-channel openhdemg MAT file, whose
//! long labels and 1400 annotations once overflowed 65 records), labels that EDF's 16
//! characters make alike get the signal's number, and a failed write leaves nothing.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use kymo::analyze::{analyze_file, AnalysisConfig};
use kymo::io::edf::{write_edf, SignalData};
use kymo::io::{open, DateTime, OpenOptions};
use kymo::output::{self, OutputFormat, OutputNames};
use kymo::simulate::{self, truth::Truth, VecSink};

const START: DateTime = DateTime {
    year: 2001,
    month: 2,
    day: 3,
    hour: 4,
    minute: 5,
    second: 6,
    nanos: 0,
};

/// Writes 4 s of the two-channel `mixed` scenario as EDF with the given labels.
fn recording(path: &Path, labels: [&str; 2]) {
    let mut s = simulate::builtin("mixed").unwrap();
    s.seconds = 4.0;
    let mut sink = VecSink::default();
    simulate::run(&s, 21, &mut sink, &mut Truth::default()).unwrap();
    let signals: Vec<SignalData<'_>> = sink
        .channels
        .iter()
        .zip(labels)
        .map(|(x, label)| SignalData {
            label,
            unit: "uV",
            rate_hz: 20_000.0,
            samples: x,
        })
        .collect();
    write_edf(path, &signals, &[], START).unwrap();
}

#[test]
fn crowded_annotations_all_fit_and_alike_labels_are_numbered() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.edf");
    recording(&rec, ["Vastus Lateralis", "Vastus Lateralis"]);
    let mut a = analyze_file(&rec, None, &AnalysisConfig::default(), &|_| {}).unwrap();
    // Crowd the recording: 5000 more discharges per channel in its first 5 s, far more
    // than the annotation space a 61 440-byte record leaves beside 0.5 s of two 20 kHz
    // channels (21 kB each, 168 kB in all).
    let template = a
        .channels
        .iter()
        .find_map(|c| c.discharges.first())
        .cloned()
        .expect("the mixed scenario has discharges");
    for ch in &mut a.channels {
        for k in 0..5000 {
            let mut d = template.clone();
            d.start_s = k as f64 * 1e-3;
            d.end_s = d.start_s + 0.05;
            ch.discharges.push(d);
        }
    }
    let n: usize = a
        .channels
        .iter()
        .map(|c| c.discharges.len() + c.artefacts.len())
        .sum();
    let names = OutputNames::new(dir.path(), "rec");
    let mut source = open(&rec, &OpenOptions::default()).unwrap();
    let written = output::write_outputs(
        &a,
        &names,
        &[OutputFormat::Edf],
        Some(&mut *source),
        &|_| {},
    )
    .unwrap();
    assert_eq!(written.files, vec![names.edf.clone()]);
    let back = open(&names.edf, &OpenOptions::default()).unwrap();
    let h = back.header();
    assert_eq!(h.start, Some(START));
    assert_eq!(h.channels[0].label, "Vastus Lateralis");
    assert_eq!(h.annotations.len(), n, "every annotation is in the file");
    for a in &h.annotations {
        assert!(
            a.text.starts_with("1 Vastus Lateralis: ")
                || a.text.starts_with("2 Vastus Lateralis: "),
            "{}",
            a.text
        );
    }
}

#[test]
fn a_failed_write_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.edf");
    recording(&rec, ["EMG1", "EMG2"]);
    let a = analyze_file(&rec, Some(&[1]), &AnalysisConfig::default(), &|_| {}).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let names = OutputNames::new(&out, "rec");
    // The EDF needs the recording; without it nothing is written, not even the JSON
    // that was complete before.
    let e = output::write_outputs(&a, &names, &OutputFormat::ALL, None, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("rec.annotated.edf"), "{e}");
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "files left behind"
    );
    // With it, all five appear.
    let mut source = open(&rec, &OpenOptions::default()).unwrap();
    let w =
        output::write_outputs(&a, &names, &OutputFormat::ALL, Some(&mut *source), &|_| {}).unwrap();
    assert_eq!(w.files.len(), 5);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5);
    // A single analysed channel: annotations carry no channel prefix.
    let h = open(&names.edf, &OpenOptions::default()).unwrap();
    assert_eq!(h.header().channels.len(), 1);
    assert_eq!(h.header().channels[0].label, "EMG2");
    assert!(h
        .header()
        .annotations
        .iter()
        .all(|x| !x.text.starts_with("EMG")));
}
