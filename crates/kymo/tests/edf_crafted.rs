//! The EDF/BDF reader on small valid files built byte by byte, for the variants the real
//! files do not cover: EDF+D segments, BDF sign extension, several annotation signals.

#![allow(clippy::unwrap_used)]

mod edf_common;

use edf_common::{temp_file, Raw, Sig};
use kymo::io::edf::EdfReader;
use kymo::io::{read_channel, Format, OpenOptions, ReadLimits, Segment, SignalReader};

fn open(bytes: &[u8]) -> (tempfile::TempDir, EdfReader) {
    let (d, p) = temp_file("t.edf", bytes);
    let r = EdfReader::open(&p, &OpenOptions::default()).unwrap();
    (d, r)
}

#[test]
fn edf_plus_d_segments_merge_contiguous_records() {
    // Records of 0.5 s stamped 0, 0.5, 3, 3.5, 4, 10: three stretches.
    let mut raw = Raw::edf(vec![Sig::new("EMG", 4), Sig::annotations(40)]);
    raw.reserved = "EDF+D".into();
    raw.duration = "0.5".into();
    let stamps = ["0", "0.5", "3", "3.5", "4", "10"];
    let recs: Vec<_> = stamps
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let tal = if k == 3 {
                format!("+{t}\x14\x14\x00+3.6\x150.2\x14burst\x14\x00")
            } else {
                format!("+{t}\x14\x14\x00")
            };
            raw.record(|_, i| (k * 4 + i) as i32, tal.as_bytes())
        })
        .collect();
    let (_d, mut r) = open(&raw.build(&recs));
    let h = r.header().clone();
    assert_eq!(h.format, Format::EdfPlusD);
    let seg = |s, o, d| Segment {
        stored_start_s: s,
        onset_s: o,
        duration_s: d,
    };
    assert_eq!(
        h.segments,
        vec![seg(0.0, 0.0, 1.0), seg(1.0, 3.0, 1.5), seg(2.5, 10.0, 0.5)]
    );
    assert_eq!(h.annotations.len(), 1);
    assert_eq!(
        (h.annotations[0].onset_s, h.annotations[0].duration_s),
        (3.6, Some(0.2))
    );
    // Samples are addressed in file order regardless of the gaps.
    assert_eq!(h.channels[0].n_samples, 24);
    let x = read_channel(&mut r, 0, &ReadLimits::default()).unwrap();
    let gain = 2000.0 / 65535.0;
    for (k, v) in x.iter().enumerate() {
        let want = ((k as f64 + 32768.0) * gain - 1000.0) as f32;
        assert!((v - want).abs() < 1e-3, "sample {k}: {v} vs {want}");
    }
}

#[test]
fn edf_plus_c_subsecond_start_and_onsets() {
    let raw = Raw::edf(vec![Sig::new("EMG", 2), Sig::annotations(40)]);
    let recs = vec![
        raw.record(|_, _| 0, b"+0.25\x14\x14\x00+0.75\x14a\x14\x00"),
        raw.record(|_, _| 0, b"+1.25\x14\x14\x00"),
    ];
    let (_d, r) = open(&raw.build(&recs));
    let h = r.header();
    assert_eq!(h.start.unwrap().nanos, 250_000_000);
    assert_eq!(h.start.unwrap().to_string(), "2011-04-04T12:57:02.25");
    assert_eq!(h.annotations[0].onset_s, 0.5);
    assert_eq!(h.segments[0].onset_s, 0.0);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
}

#[test]
fn edf_plus_c_that_is_not_continuous_warns() {
    let raw = Raw::edf(vec![Sig::new("EMG", 2), Sig::annotations(20)]);
    let recs = vec![
        raw.record(|_, _| 0, b"+0\x14\x14\x00"),
        raw.record(|_, _| 0, b"+7\x14\x14\x00"),
    ];
    let (_d, r) = open(&raw.build(&recs));
    let w = r.header().warnings.join("\n");
    assert!(
        w.contains("claims to be continuous") && w.contains("record 1, says 7 s, expected 1 s"),
        "{w}"
    );
}

#[test]
fn bdf_negative_values_and_scaling() {
    let mut raw = Raw::edf(vec![
        Sig {
            pmin: "-8388608".into(),
            pmax: "8388607".into(),
            dmin: "-8388608".into(),
            dmax: "8388607".into(),
            ..Sig::new("EEG", 3)
        },
        Sig {
            label: "BDF Annotations".into(),
            ..Sig::annotations(30)
        },
    ]);
    raw.bdf = true;
    raw.reserved = "BDF+C".into();
    // Annotation bytes per record are spr · 3 in BDF: 15 samples → 45 bytes.
    let vals = [-8_388_608, -1, 8_388_607];
    let recs = vec![raw.record(|_, i| vals[i], b"+0\x14\x14\x00+0\x14start\x14\x00")];
    let (_d, mut r) = open(&raw.build(&recs));
    let h = r.header().clone();
    assert_eq!(h.format, Format::BdfPlusC);
    assert_eq!(h.annotations[0].text, "start");
    let mut out = [0.0f32; 3];
    r.read(0, 0, &mut out).unwrap();
    assert_eq!(out, [-8_388_608.0, -1.0, 8_388_607.0]);
}

#[test]
fn plain_bdf_24bit_marker() {
    let mut raw = Raw::edf(vec![Sig {
        dmin: "-8388608".into(),
        dmax: "8388607".into(),
        ..Sig::new("EEG", 2)
    }]);
    raw.bdf = true;
    raw.reserved = "24BIT".into();
    raw.recording = "Startdate X".into();
    let (_d, r) = open(&raw.build(&[raw.record(|_, i| i as i32, b"")]));
    assert_eq!(r.header().format, Format::Bdf);
    assert!(r.header().annotations.is_empty());
    assert!(r.header().warnings.is_empty(), "{:?}", r.header().warnings);
}

#[test]
fn two_annotation_signals() {
    // The first annotation signal holds the time-keeping TAL; both hold annotations.
    let raw = Raw::edf(vec![
        Sig::annotations(30),
        Sig::new("EMG", 2),
        Sig::annotations(30),
    ]);
    let rec = {
        let mut b = Vec::new();
        let mut a1 = b"+0\x14\x14\x00+0.1\x14one\x14\x00".to_vec();
        a1.resize(30, 0);
        b.extend(a1);
        b.extend([0u8; 4]);
        let mut a2 = b"+0.2\x14two\x14\x00".to_vec();
        a2.resize(30, 0);
        b.extend(a2);
        b
    };
    let (_d, r) = open(&raw.build(&[rec]));
    let h = r.header();
    let texts: Vec<&str> = h.annotations.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["one", "two"]);
    assert_eq!(h.channels.len(), 1);
}

#[test]
fn year_rules() {
    let raw = Raw::edf(vec![Sig::new("EMG", 2)]);
    let cases = [
        ("X", "01.01.85", 1985),
        ("X", "01.01.84", 2084),
        ("Startdate 01-JAN-1984 X X X", "01.01.84", 1984),
        ("Startdate 01-JAN-2101 X X X", "01.01.yy", 2101),
    ];
    for (rec, date, year) in cases {
        let mut r2 = raw.clone();
        r2.reserved = String::new();
        r2.recording = rec.into();
        r2.date = date.into();
        let (_d, r) = open(&r2.build(&[r2.record(|_, _| 0, b"")]));
        assert_eq!(r.header().start.unwrap().year, year, "{rec} {date}");
    }
}
