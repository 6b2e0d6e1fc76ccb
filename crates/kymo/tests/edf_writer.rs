//! The EDF+C writer: header bytes, round trips through kymo's reader (examples and
//! proptest) and through pyedflib, record-duration choice, annotation placement, the
//! temporary-file discipline and every configuration error.

#![allow(clippy::unwrap_used)]

mod edf_common;

use std::path::Path;

use edf_common::pyedflib_dump;
use kymo::io::edf::{
    write_edf, EdfChannelSpec, EdfReader, EdfSpec, EdfWriteSummary, EdfWriter, SignalData,
    MAX_RECORD_BYTES,
};
use kymo::io::{read_channel, Annotation, DateTime, Format, OpenOptions, ReadLimits, SignalReader};
use kymo::Error;
use proptest::prelude::*;

/// A written sample comes back within half a quantisation step, `(pmax − pmin) / 65535 / 2`
/// of the written range, plus the reader's f32 rounding (a few ulp of the range's largest
/// magnitude; see `F32_ULPS` in edf_real_files.rs).
fn tolerance(range: (f64, f64)) -> f64 {
    const F32_ULPS: f64 = 4.0;
    let half_step = (range.1 - range.0) / 65535.0 / 2.0;
    half_step + F32_ULPS * f64::from(f32::EPSILON) * range.0.abs().max(range.1.abs())
}

/// Onsets are written with 7 decimals (100 ns), the start's sub-second part too; the two
/// roundings add up to at most 100 ns, plus float noise.
const ONSET_TOL_S: f64 = 1.5e-7;

fn start() -> DateTime {
    DateTime {
        year: 2011,
        month: 4,
        day: 4,
        hour: 12,
        minute: 57,
        second: 2,
        nanos: 0,
    }
}

/// Deterministic pseudo-random samples in `-amp..amp` (a seeded LCG, so failures reproduce).
fn noise(seed: u64, n: usize, amp: f64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0) as f32 * amp as f32
        })
        .collect()
}

fn ann(onset: f64, duration: Option<f64>, text: &str) -> Annotation {
    Annotation {
        onset_s: onset,
        duration_s: duration,
        text: text.to_string(),
    }
}

/// Reads `path` back and checks every sample, the annotations (sorted by onset) and the start.
fn check_round_trip(
    path: &Path,
    signals: &[SignalData<'_>],
    annotations: &[Annotation],
    start: DateTime,
    summary: &EdfWriteSummary,
) {
    let mut r = EdfReader::open(path, &OpenOptions::default()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.format, Format::EdfPlusC);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert_eq!(h.channels.len(), signals.len());
    for (i, (c, s)) in h.channels.iter().zip(signals).enumerate() {
        assert_eq!(c.label, s.label.trim());
        assert!(
            (c.rate_hz - s.rate_hz).abs() <= 1e-9 * s.rate_hz,
            "ch {i}: {} vs {}",
            c.rate_hz,
            s.rate_hz
        );
        assert_eq!(c.physical_range, Some(summary.physical_ranges[i]));
        assert_eq!(
            c.n_samples,
            s.samples.len() as u64 + summary.padded_samples[i]
        );
        let x = read_channel(&mut r, i, &ReadLimits::default()).unwrap();
        let tol = tolerance(summary.physical_ranges[i]);
        for (k, (&got, &want)) in x.iter().zip(s.samples).enumerate() {
            assert!(
                (f64::from(got) - f64::from(want)).abs() <= tol,
                "ch {i} sample {k}: wrote {want}, read {got} (tolerance {tol})"
            );
        }
    }
    let mut want: Vec<&Annotation> = annotations.iter().collect();
    want.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));
    assert_eq!(h.annotations.len(), want.len(), "annotation count");
    for (k, (a, w)) in h.annotations.iter().zip(&want).enumerate() {
        assert_eq!(a.text, w.text, "annotation {k}");
        assert!(
            (a.onset_s - w.onset_s).abs() <= ONSET_TOL_S,
            "annotation {k}: onset {} vs {}",
            a.onset_s,
            w.onset_s
        );
        match (a.duration_s, w.duration_s) {
            (None, None) => {}
            (Some(x), Some(y)) => assert!(
                (x - y).abs() <= ONSET_TOL_S,
                "annotation {k}: duration {x} vs {y}"
            ),
            other => panic!("annotation {k}: durations {other:?}"),
        }
    }
    let got = h.start.unwrap();
    // The sub-second part lives in the data records' time-keeping TALs: a file with no
    // data record keeps whole seconds only.
    let want_nanos = if summary.n_records == 0 {
        0
    } else {
        ((f64::from(start.nanos) / 100.0).round() * 100.0) as u32
    };
    assert_eq!(
        got,
        DateTime {
            nanos: want_nanos,
            ..start
        }
    );
}

#[test]
fn round_trip_two_rates_with_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.edf");
    let emg = noise(1, 4096 * 3 + 17, 850.0);
    let slow: Vec<f32> = (0..300)
        .map(|i| (i as f32 * 0.1).sin() * 3.5 + 12.0)
        .collect();
    let signals = [
        SignalData {
            label: "EMG",
            unit: "µV",
            rate_hz: 4096.0,
            samples: &emg,
        },
        SignalData {
            label: "Force",
            unit: "N",
            rate_hz: 100.0,
            samples: &slow,
        },
    ];
    let anns = [
        ann(0.5, Some(1.25), "myokymic burst"),
        ann(0.1, None, "début — 中文"),
        ann(2.999, Some(0.0), "last"),
    ];
    let st = DateTime {
        nanos: 123_456_789,
        ..start()
    };
    let s = write_edf(&path, &signals, &anns, st).unwrap();
    assert_eq!(s.record_duration_s, 1.0);
    assert_eq!(s.samples_per_record, vec![4096, 100]);
    assert_eq!(s.n_records, 4);
    assert_eq!(s.padded_samples, vec![4096 - 17, 100]);
    assert_eq!(s.clipped_samples, 0);
    check_round_trip(&path, &signals, &anns, st, &s);
    let h = EdfReader::open(&path, &OpenOptions::default())
        .unwrap()
        .header()
        .clone();
    assert_eq!(h.channels[0].unit, "uV");
    assert_eq!(h.start.unwrap().nanos, 123_456_800);
}

/// Found by the round-trip proptest: 179 870 450 ns is exactly half-way between two 100 ns
/// steps, and `nanos / 1e9 * 1e7` in floating point fell just below the half.
#[test]
fn sub_second_start_rounds_half_up_to_100_ns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.edf");
    let x = vec![1.0f32; 200];
    let signals = [SignalData {
        label: "EMG",
        unit: "uV",
        rate_hz: 200.0,
        samples: &x,
    }];
    let st = DateTime {
        nanos: 179_870_450,
        ..start()
    };
    write_edf(&path, &signals, &[], st).unwrap();
    let r = EdfReader::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(r.header().start.unwrap().nanos, 179_870_500);
}

#[test]
fn header_is_ascii_space_padded_edf_plus() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.edf");
    let x = noise(2, 1000, 1.0);
    let mut spec = EdfSpec::new(
        start(),
        vec![EdfChannelSpec {
            label: "EMG".into(),
            unit: "mV".into(),
            rate_hz: 1000.0,
            physical_range: (-1.0, 1.0),
            transducer: "needle".into(),
            prefilter: "HP:10Hz".into(),
        }],
    );
    spec.patient_code = "P 07".into();
    spec.equipment = "kymo simulate".into();
    let mut w = EdfWriter::create(&path, &spec).unwrap();
    w.push(&[&x]).unwrap();
    w.finish().unwrap();
    let b = std::fs::read(&path).unwrap();
    let header = &b[..768];
    assert!(
        header.iter().all(|&c| (b' '..=b'~').contains(&c)),
        "non-printable byte in the header"
    );
    let field = |off: usize, len: usize| std::str::from_utf8(&header[off..off + len]).unwrap();
    assert_eq!(field(0, 8), "0       ");
    assert_eq!(field(8, 80).trim_end(), "P_07 X X X");
    assert_eq!(
        field(88, 80).trim_end(),
        "Startdate 04-APR-2011 X X kymo_simulate"
    );
    assert_eq!(field(168, 16), "04.04.1112.57.02");
    assert_eq!(field(184, 8), "768     ");
    assert_eq!(field(192, 44).trim_end(), "EDF+C");
    assert_eq!(field(236, 8), "1       ");
    assert_eq!(field(244, 8), "1       ");
    assert_eq!(field(252, 4), "2   ");
    assert_eq!(field(256, 32), "EMG             EDF Annotations ");
    assert_eq!(field(256 + 32 + 160, 16), "mV              ");
    // Physical min/max, digital min/max of both signals.
    assert_eq!(
        field(256 + 2 * 104, 64),
        "-1      -1      1       1       -32768  -32768  32767   32767   "
    );
    assert_eq!(b.len(), 768 + (1000 * 2 + 32));
}

#[test]
fn record_duration_choice() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[f64], f64); 4] = [
        (&[20_000.0; 8], 0.1),         // 1 s would be 320 000 bytes
        (&[500.0, 487.5, 499.5], 2.0), // 487.5 Hz needs 2 s records
        (&[2048.0, 128.0], 1.0),
        (&[64_000.0], 0.2),
    ];
    for (rates, want) in cases {
        let data: Vec<Vec<f32>> = rates
            .iter()
            .map(|&r| noise(3, (r * 4.0) as usize, 10.0))
            .collect();
        let signals: Vec<SignalData> = data
            .iter()
            .zip(rates)
            .map(|(d, &r)| SignalData {
                label: "x",
                unit: "uV",
                rate_hz: r,
                samples: d,
            })
            .collect();
        let path = dir.path().join("d.edf");
        let s = write_edf(&path, &signals, &[], start()).unwrap();
        assert_eq!(s.record_duration_s, want, "{rates:?}");
        let record: u64 = s.samples_per_record.iter().sum::<u64>() * 2;
        assert!(
            record as usize <= MAX_RECORD_BYTES,
            "{rates:?}: {record} bytes"
        );
        check_round_trip(&path, &signals, &[], start(), &s);
    }
}

#[test]
fn unrepresentable_rate_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pi.edf");
    let x = [0.0f32; 10];
    let e = write_edf(
        &path,
        &[SignalData {
            label: "x",
            unit: "",
            rate_hz: std::f64::consts::PI,
            samples: &x,
        }],
        &[],
        start(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    assert!(e.to_string().contains("cannot be stored in EDF"), "{e}");
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file left"
    );
}

#[test]
fn dense_annotations_carry_over_and_late_ones_go_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dense.edf");
    let x = noise(4, 20_000 * 3, 100.0);
    let signals = [SignalData {
        label: "EMG",
        unit: "uV",
        rate_hz: 20_000.0,
        samples: &x,
    }];
    // 3000 annotations within the first 0.1 s record: far more than one record should take.
    let mut anns: Vec<Annotation> = (0..3000)
        .map(|i| ann(i as f64 * 3e-5, Some(0.001), &format!("spike {i} ✓")))
        .collect();
    anns.push(ann(3.0, None, "Recording ends"));
    anns.push(ann(99.0, None, "after the end"));
    let s = write_edf(&path, &signals, &anns, start()).unwrap();
    // 1 s records (40 000 data bytes) leave too little room for the 84 kB of TALs in
    // 3 records within 61440 bytes; 0.5 s records do.
    assert_eq!(s.record_duration_s, 0.5);
    let len = std::fs::metadata(&path).unwrap().len();
    assert!((len - 768) / s.n_records <= MAX_RECORD_BYTES as u64);
    check_round_trip(&path, &signals, &anns, start(), &s);
}

#[test]
fn streaming_with_odd_blocks_equals_one_shot() {
    let dir = tempfile::tempdir().unwrap();
    let a = noise(5, 10_000, 500.0);
    let b = noise(6, 2_500, 2.0);
    let spec = EdfSpec::new(
        start(),
        vec![
            EdfChannelSpec {
                label: "A".into(),
                unit: "uV".into(),
                rate_hz: 2000.0,
                physical_range: (-500.0, 500.0),
                transducer: String::new(),
                prefilter: String::new(),
            },
            EdfChannelSpec {
                label: "B".into(),
                unit: "mV".into(),
                rate_hz: 500.0,
                physical_range: (-2.0, 2.0),
                transducer: String::new(),
                prefilter: String::new(),
            },
        ],
    );
    let path = dir.path().join("s.edf");
    let mut w = EdfWriter::create(&path, &spec).unwrap();
    assert!(!path.exists(), "nothing at the destination before finish");
    let (mut i, mut j) = (0, 0);
    let mut step = 1;
    while i < a.len() || j < b.len() {
        let ni = (i + step * 4).min(a.len());
        let nj = (j + step).min(b.len());
        w.push(&[&a[i..ni], &b[j..nj]]).unwrap();
        i = ni;
        j = nj;
        step = step * 3 % 997 + 1;
    }
    let s = w.finish().unwrap();
    assert_eq!(s.n_records, 5);
    assert_eq!(s.padded_samples, vec![0, 0]);
    let signals = [
        SignalData {
            label: "A",
            unit: "uV",
            rate_hz: 2000.0,
            samples: &a,
        },
        SignalData {
            label: "B",
            unit: "mV",
            rate_hz: 500.0,
            samples: &b,
        },
    ];
    check_round_trip(&path, &signals, &[], start(), &s);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn clipping_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.edf");
    let spec = EdfSpec::new(
        start(),
        vec![EdfChannelSpec {
            label: "x".into(),
            unit: "uV".into(),
            rate_hz: 10.0,
            physical_range: (-1.0, 1.0),
            transducer: String::new(),
            prefilter: String::new(),
        }],
    );
    let mut w = EdfWriter::create(&path, &spec).unwrap();
    w.push(&[&[0.0, 2.0, -3.0, f32::NAN, 1.0, -1.0, 0.5, 0.25, 0.0, 0.0]])
        .unwrap();
    let s = w.finish().unwrap();
    assert_eq!(s.clipped_samples, 3);
    let mut r = EdfReader::open(&path, &OpenOptions::default()).unwrap();
    let x = read_channel(&mut r, 0, &ReadLimits::default()).unwrap();
    assert_eq!(x[1], 1.0);
    assert_eq!(x[2], -1.0);
}

#[test]
fn dropped_writer_leaves_destination_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.edf");
    std::fs::write(&path, b"old content").unwrap();
    let x = noise(7, 100, 1.0);
    let spec = EdfSpec::new(
        start(),
        vec![EdfChannelSpec {
            label: "x".into(),
            unit: "".into(),
            rate_hz: 100.0,
            physical_range: (-1.0, 1.0),
            transducer: String::new(),
            prefilter: String::new(),
        }],
    );
    {
        let mut w = EdfWriter::create(&path, &spec).unwrap();
        w.push(&[&x]).unwrap();
        // Wrong number of blocks: a Config error, the writer stays usable.
        let e = w.push(&[&x, &x]).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "destination + temporary"
        );
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"old content");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "temporary file removed"
    );
    // A finished writer replaces it.
    let mut w = EdfWriter::create(&path, &spec).unwrap();
    w.push(&[&x]).unwrap();
    w.finish().unwrap();
    assert!(std::fs::read(&path).unwrap().starts_with(b"0       "));
}

#[test]
fn annotations_without_samples_fail_at_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.edf");
    let e = write_edf(
        &path,
        &[SignalData {
            label: "x",
            unit: "",
            rate_hz: 10.0,
            samples: &[],
        }],
        &[ann(1.0, None, "lonely")],
        start(),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Config(_)) && e.to_string().contains("lonely"),
        "{e}"
    );
    assert!(!path.exists());
    // Without annotations an empty recording is a valid file with 0 records.
    let s = write_edf(
        &path,
        &[SignalData {
            label: "x",
            unit: "",
            rate_hz: 10.0,
            samples: &[],
        }],
        &[],
        start(),
    )
    .unwrap();
    assert_eq!(s.n_records, 0);
    let r = EdfReader::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(r.header().channels[0].n_samples, 0);
}

#[test]
fn constant_and_extreme_signals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.edf");
    let zeros = vec![0.0f32; 50];
    let consts = vec![-42.5f32; 50];
    let tiny = noise(8, 50, 1e-6);
    let big = noise(9, 50, 9.0e6);
    let nan = vec![f32::NAN; 50];
    let signals = [
        SignalData {
            label: "zeros",
            unit: "",
            rate_hz: 50.0,
            samples: &zeros,
        },
        SignalData {
            label: "const",
            unit: "",
            rate_hz: 50.0,
            samples: &consts,
        },
        SignalData {
            label: "tiny",
            unit: "V",
            rate_hz: 50.0,
            samples: &tiny,
        },
        SignalData {
            label: "big",
            unit: "nV",
            rate_hz: 50.0,
            samples: &big,
        },
    ];
    let s = write_edf(&path, &signals, &[], start()).unwrap();
    assert_eq!(s.clipped_samples, 0);
    check_round_trip(&path, &signals, &[], start(), &s);
    let too_big = vec![1e9f32; 3];
    let e = write_edf(
        &path,
        &[SignalData {
            label: "x",
            unit: "",
            rate_hz: 1.0,
            samples: &too_big,
        }],
        &[],
        start(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("does not fit the 8-character"),
        "{e}"
    );
    let s = write_edf(
        &path,
        &[SignalData {
            label: "nan",
            unit: "",
            rate_hz: 1.0,
            samples: &nan,
        }],
        &[],
        start(),
    )
    .unwrap();
    assert_eq!(s.physical_ranges, vec![(-1.0, 1.0)]);
    assert_eq!(s.clipped_samples, 50);
}

#[test]
fn config_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.edf");
    let ch = || EdfChannelSpec {
        label: "EMG".into(),
        unit: "uV".into(),
        rate_hz: 100.0,
        physical_range: (-1.0, 1.0),
        transducer: String::new(),
        prefilter: String::new(),
    };
    let check = |spec: EdfSpec, needle: &str| {
        let e = EdfWriter::create(&path, &spec).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        assert!(e.to_string().contains(needle), "{e:?} lacks {needle:?}");
    };
    check(EdfSpec::new(start(), vec![]), "at least one channel");
    check(
        EdfSpec::new(
            start(),
            vec![EdfChannelSpec {
                label: "a label of 17 chars".into(),
                ..ch()
            }],
        ),
        "channel 0 label",
    );
    check(
        EdfSpec::new(
            start(),
            vec![EdfChannelSpec {
                label: "Émg".into(),
                ..ch()
            }],
        ),
        "printable ASCII",
    );
    check(
        EdfSpec::new(
            start(),
            vec![EdfChannelSpec {
                label: "EDF Annotations".into(),
                ..ch()
            }],
        ),
        "reserved",
    );
    check(
        EdfSpec::new(
            start(),
            vec![EdfChannelSpec {
                unit: "microvolt".into(),
                ..ch()
            }],
        ),
        "channel 0 unit",
    );
    check(
        EdfSpec::new(
            start(),
            vec![EdfChannelSpec {
                rate_hz: 0.0,
                ..ch()
            }],
        ),
        "rate 0 Hz",
    );
    check(
        EdfSpec::new(
            start(),
            vec![EdfChannelSpec {
                physical_range: (1.0, 1.0),
                ..ch()
            }],
        ),
        "physical range",
    );
    check(
        EdfSpec::new(
            DateTime {
                year: 1980,
                ..start()
            },
            vec![ch()],
        ),
        "before 1985",
    );
    check(
        EdfSpec::new(
            DateTime {
                month: 2,
                day: 30,
                ..start()
            },
            vec![ch()],
        ),
        "not a valid date",
    );
    let with_ann = |a: Annotation| EdfSpec {
        annotations: vec![a],
        ..EdfSpec::new(start(), vec![ch()])
    };
    check(with_ann(ann(1.0, None, "")), "empty text");
    check(with_ann(ann(1.0, None, "a\u{14}b")), "TAL separators");
    check(with_ann(ann(f64::NAN, None, "x")), "onset");
    check(with_ann(ann(1.0, Some(-1.0), "x")), "duration");
    check(
        EdfSpec {
            record_duration_s: Some(0.3),
            ..EdfSpec::new(
                start(),
                vec![EdfChannelSpec {
                    rate_hz: 256.0,
                    ..ch()
                }],
            )
        },
        "whole number",
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn year_after_2084_uses_yy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("y.edf");
    let x = [0.0f32; 4];
    let st = DateTime {
        year: 2090,
        ..start()
    };
    write_edf(
        &path,
        &[SignalData {
            label: "x",
            unit: "",
            rate_hz: 4.0,
            samples: &x,
        }],
        &[],
        st,
    )
    .unwrap();
    let b = std::fs::read(&path).unwrap();
    assert_eq!(&b[168..176], b"04.04.yy");
    let r = EdfReader::open(&path, &OpenOptions::default()).unwrap();
    assert_eq!(r.header().start.unwrap().year, 2090);
}

/// pyedflib, an independent reader, opens what kymo writes and sees the same signals
/// (within quantisation), annotations, labels, units, rates and start.
#[test]
fn pyedflib_reads_what_kymo_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("for_pyedflib.edf");
    let emg = noise(10, 2000 * 5 + 3, 1200.0);
    let ecg = noise(11, 250 * 5, 3.0);
    let ramp: Vec<f32> = (0..975 * 3).map(|i| i as f32 * 0.01 - 10.0).collect();
    let signals = [
        SignalData {
            label: "EMG R",
            unit: "uV",
            rate_hz: 2000.0,
            samples: &emg,
        },
        SignalData {
            label: "ECG",
            unit: "mV",
            rate_hz: 250.0,
            samples: &ecg,
        },
        SignalData {
            label: "ramp",
            unit: "",
            rate_hz: 487.5,
            samples: &ramp,
        },
    ];
    let anns = [
        ann(0.25, Some(0.5), "fasciculation"),
        ann(1.0, None, "myokymia — 中文"),
        ann(4.5, Some(0.125), "doublet"),
    ];
    let st = DateTime {
        nanos: 250_000_000,
        ..start()
    };
    let s = write_edf(&path, &signals, &anns, st).unwrap();
    assert_eq!(s.record_duration_s, 2.0);
    let d = pyedflib_dump(&path);
    assert_eq!(d.json["filetype"].as_i64(), Some(1), "pyedflib sees EDF+C");
    let sigs = d.signals();
    assert_eq!(sigs.len(), 3);
    for (i, ((js, py), sd)) in sigs.iter().zip(&signals).enumerate() {
        assert_eq!(js["label"].as_str().unwrap(), sd.label);
        assert_eq!(js["unit"].as_str().unwrap(), sd.unit);
        assert!((js["rate"].as_f64().unwrap() - sd.rate_hz).abs() < 1e-9);
        let tol = tolerance(s.physical_ranges[i]);
        assert_eq!(
            py.len() as u64,
            sd.samples.len() as u64 + s.padded_samples[i]
        );
        for (k, (&p, &x)) in py.iter().zip(sd.samples).enumerate() {
            assert!(
                (p - f64::from(x)).abs() <= tol,
                "ch {i} sample {k}: wrote {x}, pyedflib read {p}"
            );
        }
    }
    let pa = d.annotations();
    assert_eq!(pa.len(), anns.len());
    for (p, a) in pa.iter().zip(&anns) {
        assert_eq!(p["text"].as_str().unwrap(), a.text);
        assert!((p["onset"].as_f64().unwrap() - a.onset_s).abs() <= ONSET_TOL_S);
        assert_eq!(p["duration"].as_f64(), a.duration_s);
    }
    let ps = &d.json["start"];
    assert_eq!(
        (
            ps["year"].as_i64(),
            ps["month"].as_i64(),
            ps["day"].as_i64(),
            ps["second"].as_i64()
        ),
        (Some(2011), Some(4), Some(4), Some(2))
    );
}

/// Rates that the writer can place in records together (so any mix is representable).
const RATES: [f64; 9] = [
    1.0, 10.0, 128.0, 200.0, 256.0, 487.5, 1000.0, 2048.0, 4000.0,
];

fn arb_signal() -> impl Strategy<Value = (f64, usize, u64, f64, f64)> {
    (
        prop::sample::select(&RATES[..]),
        0usize..3000,
        any::<u64>(),
        prop::sample::select(vec![1e-3, 1.0, 250.0, 5e4]),
        -2.0f64..2.0,
    )
}

fn arb_annotation() -> impl Strategy<Value = (f64, Option<f64>, String)> {
    (
        -0.5f64..1.2,
        prop::option::of(0.0f64..10.0),
        "[^\u{0}\u{14}\u{15}]{1,24}",
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn write_read_round_trip(
        sigs in prop::collection::vec(arb_signal(), 1..4),
        anns in prop::collection::vec(arb_annotation(), 0..12),
        nanos in 0u32..1_000_000_000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.edf");
        let data: Vec<Vec<f32>> = sigs
            .iter()
            .map(|&(_, n, seed, amp, off)| noise(seed, n, amp).into_iter().map(|x| x + (off * amp) as f32).collect())
            .collect();
        let labels: Vec<String> = (0..sigs.len()).map(|i| format!("ch{i}")).collect();
        let signals: Vec<SignalData> = sigs
            .iter()
            .zip(&data)
            .zip(&labels)
            .map(|((&(rate, ..), d), l)| SignalData { label: l, unit: "uV", rate_hz: rate, samples: d })
            .collect();
        let dur = signals.iter().map(|s| s.samples.len() as f64 / s.rate_hz).fold(0.0, f64::max);
        let annotations: Vec<Annotation> = anns
            .iter()
            .map(|(f, d, t)| ann(f * dur.max(1.0), *d, t))
            .collect();
        let st = DateTime { nanos, ..start() };
        match write_edf(&path, &signals, &annotations, st) {
            Ok(s) => check_round_trip(&path, &signals, &annotations, st, &s),
            // Only an empty recording cannot take annotations.
            Err(e) => prop_assert!(dur == 0.0 && !annotations.is_empty(), "{e}"),
        }
    }
}
