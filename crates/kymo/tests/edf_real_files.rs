//! The EDF/BDF reader on real files from `shared/data/real/`, checked against what their
//! SOURCE.md documents and, sample by sample, against pyedflib 0.1.42 (`tests/python/edf_dump.py`).

#![allow(clippy::unwrap_used)]

mod edf_common;

use edf_common::{pyedflib_dump, real};
use kymo::io::edf::EdfReader;
use kymo::io::{open, read_channel, Format, OpenOptions, ReadLimits, SignalReader};

/// kymo scales in f32 (`digital · gain + offset`), pyedflib in f64. Each of the multiply
/// and the add rounds once to f32, so the two differ by at most about 2 ulp of the
/// largest magnitude in the physical range; 4 ulp leaves room for the f64 side's rounding.
const F32_ULPS: f32 = 4.0;

/// EDFlib (inside pyedflib) keeps annotation onsets in 100 ns units; kymo parses the
/// decimal text into f64. They agree to within one such unit.
const ONSET_TOL_S: f64 = 1e-7;

fn open_real(rel: &str) -> EdfReader {
    EdfReader::open(&real(rel), &OpenOptions::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every sample of every channel equals pyedflib's `readSignal(i)` within f32 precision,
/// and labels, units, rates, counts, ranges and annotations agree.
fn cross_check(rel: &str, check_annotations: bool) {
    let path = real(rel);
    let mut r = open_real(rel);
    let dump = pyedflib_dump(&path);
    let h = r.header().clone();
    let sigs = dump.signals();
    assert_eq!(h.channels.len(), sigs.len(), "{rel}: channel count");
    let patched = dump.json["patched_header"].as_bool().unwrap_or(false);
    for (i, (ch, (s, want))) in h.channels.iter().zip(&sigs).enumerate() {
        assert_eq!(ch.label, s["label"].as_str().unwrap(), "{rel} ch {i} label");
        if !patched {
            assert_eq!(ch.unit, s["unit"].as_str().unwrap(), "{rel} ch {i} unit");
        }
        let rate = s["rate"].as_f64().unwrap();
        assert!(
            (ch.rate_hz - rate).abs() < 1e-9 * rate,
            "{rel} ch {i}: rate {} vs {rate}",
            ch.rate_hz
        );
        assert_eq!(
            ch.n_samples,
            s["n_samples"].as_u64().unwrap(),
            "{rel} ch {i} n_samples"
        );
        let (pmin, pmax) = ch.physical_range.unwrap();
        assert_eq!(
            pmin,
            s["physical_min"].as_f64().unwrap(),
            "{rel} ch {i} pmin"
        );
        assert_eq!(
            pmax,
            s["physical_max"].as_f64().unwrap(),
            "{rel} ch {i} pmax"
        );
        assert_eq!(
            ch.transducer.clone().unwrap_or_default(),
            s["transducer"].as_str().unwrap()
        );
        assert_eq!(
            ch.prefilter.clone().unwrap_or_default(),
            s["prefilter"].as_str().unwrap()
        );

        let got = read_channel(&mut r, i, &ReadLimits::default()).unwrap();
        assert_eq!(got.len(), want.len(), "{rel} ch {i}: sample count");
        let tol = F32_ULPS * f32::EPSILON * pmin.abs().max(pmax.abs()) as f32;
        let (worst, diff) = got
            .iter()
            .zip(want.iter())
            .map(|(&g, &w)| (f64::from(g) - w).abs())
            .enumerate()
            .fold((0, 0.0), |a, (k, d)| if d > a.1 { (k, d) } else { a });
        assert!(
            diff <= f64::from(tol),
            "{rel} ch {i} ({}): sample {worst} is {} in kymo, {} in pyedflib (|diff| {diff} > {tol})",
            ch.label,
            got[worst],
            want[worst]
        );
    }
    if check_annotations {
        let pa = dump.annotations();
        assert_eq!(h.annotations.len(), pa.len(), "{rel}: annotation count");
        for (k, (a, p)) in h.annotations.iter().zip(pa).enumerate() {
            let onset = p["onset"].as_f64().unwrap();
            assert!(
                (a.onset_s - onset).abs() <= ONSET_TOL_S,
                "{rel} annotation {k}: onset {} vs {onset}",
                a.onset_s
            );
            assert_eq!(
                a.duration_s,
                p["duration"].as_f64(),
                "{rel} annotation {k}: duration"
            );
            assert_eq!(
                a.text,
                p["text"].as_str().unwrap(),
                "{rel} annotation {k}: text"
            );
        }
    }
    let st = h.start.unwrap();
    let ps = &dump.json["start"];
    assert_eq!(
        (st.year, st.month, st.day, st.hour, st.minute, st.second),
        (
            ps["year"].as_i64().unwrap() as i32,
            ps["month"].as_u64().unwrap() as u8,
            ps["day"].as_u64().unwrap() as u8,
            ps["hour"].as_u64().unwrap() as u8,
            ps["minute"].as_u64().unwrap() as u8,
            ps["second"].as_u64().unwrap() as u8
        ),
        "{rel}: start"
    );
}

#[test]
fn pyedflib_agrees_on_every_file() {
    for rel in [
        "pyedflib-testdata/test_generator.edf",
        "pyedflib-testdata/test_subsecond.edf",
        "pyedflib-testdata/test_utf8.edf",
        "pyedflib-testdata/test_generator.bdf",
        "pyedflib-testdata/test_generator_datarec_generator_0_5.bdf",
        "pyedflib-testdata/test_generator_datarec_generator_2.bdf",
        "wfdb-python-sample-data/test_edfann.edf",
        // pyedflib refuses the '°' (0xB0) unit; edf_dump.py reads a copy with it replaced.
        "wfdb-python-sample-data/test_generator_2.edf",
    ] {
        cross_check(rel, true);
    }
    // pyedflib treats the legacy file's annotation signal as a plain signal and reports no
    // annotations; kymo reads them (checked in `legacy_edf_with_annotation_signal`).
    cross_check("pyedflib-testdata/test_legacy.edf", false);
}

#[test]
fn test_generator_edf_matches_source_md() {
    // SOURCE.md: EDF+C, 600 × 1 s records, 11 signals at 200 Hz + "EDF Annotations".
    let r = open_real("pyedflib-testdata/test_generator.edf");
    let h = r.header();
    assert_eq!(h.format, Format::EdfPlusC);
    assert_eq!(h.channels.len(), 11);
    for c in &h.channels {
        assert_eq!(c.rate_hz, 200.0);
        assert_eq!(c.n_samples, 120_000);
        assert_eq!(c.unit, "uV");
        assert_eq!(c.physical_range, Some((-1000.0, 1000.0)));
    }
    let labels: Vec<&str> = h.channels.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels[0], "squarewave");
    assert_eq!(labels[10], "sine 50 Hz");
    assert_eq!(h.channels[0].transducer.as_deref(), Some("trans1"));
    assert_eq!(h.channels[0].prefilter.as_deref(), Some("pre1"));
    assert_eq!(h.channels[1].transducer, None);
    assert_eq!(h.start.unwrap().to_string(), "2011-04-04T12:57:02");
    assert_eq!(
        h.subject.as_deref(),
        Some("abcxyz99 M 30-JUN-1969 Hans_Muller patient")
    );
    assert_eq!(h.annotations.len(), 2);
    assert_eq!(
        (h.annotations[0].onset_s, h.annotations[0].text.as_str()),
        (0.0, "Recording starts")
    );
    assert_eq!(
        (h.annotations[1].onset_s, h.annotations[1].text.as_str()),
        (600.0, "Recording ends")
    );
    assert_eq!(h.segments.len(), 1);
    assert_eq!(h.segments[0].duration_s, 600.0);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    assert_eq!(h.duration_s(), 600.0);
}

#[test]
fn legacy_edf_with_annotation_signal() {
    let r = open_real("pyedflib-testdata/test_legacy.edf");
    let h = r.header();
    assert_eq!(h.format, Format::Edf);
    assert_eq!(
        h.channels.len(),
        11,
        "the annotation signal is not a channel"
    );
    let texts: Vec<&str> = h.annotations.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["Recording starts", "Recording ends"]);
    assert!(
        h.warnings
            .iter()
            .any(|w| w.contains("plain EDF") && w.contains("annotation")),
        "{:?}",
        h.warnings
    );
}

#[test]
fn subsecond_start_from_first_record() {
    // The first record's time-keeping TAL is "+0.3945312": the start is 04:05:56.3945312
    // and annotation onsets count from there (as in EDFbrowser and pyedflib).
    let r = open_real("pyedflib-testdata/test_subsecond.edf");
    let h = r.header();
    let st = h.start.unwrap();
    assert_eq!(st.nanos, 394_531_200);
    assert_eq!(st.to_string(), "2020-01-24T04:05:56.3945312");
    assert_eq!(h.channels.len(), 1);
    assert_eq!(h.channels[0].label, "Fp1");
    assert_eq!(h.channels[0].rate_hz, 128.0);
    assert_eq!(h.channels[0].n_samples, 698 * 128);
    // Physical minimum above maximum (inverted polarity) is kept as written.
    assert_eq!(h.channels[0].physical_range, Some((8711.0, -8711.0)));
    assert_eq!(h.annotations.len(), 4);
    // Stored onset "+2.3457031" minus the 0.3945312 s start offset.
    assert!((h.annotations[0].onset_s - 1.9511719).abs() < ONSET_TOL_S);
    assert_eq!(h.annotations[0].text, "XLSpike");
}

#[test]
fn utf8_annotation_text() {
    let r = open_real("pyedflib-testdata/test_utf8.edf");
    let h = r.header();
    assert_eq!(h.annotations.len(), 5);
    assert_eq!(h.annotations[2].text, "中文测试八个字");
    assert!((h.annotations[2].onset_s - (120.0 - 0.3945312)).abs() < ONSET_TOL_S);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
}

#[test]
fn bdf_rates_including_non_integer() {
    let cases: [(&str, [f64; 5], u64); 3] = [
        (
            "pyedflib-testdata/test_generator.bdf",
            [1000.0, 800.0, 500.0, 975.0, 999.0],
            30,
        ),
        (
            "pyedflib-testdata/test_generator_datarec_generator_0_5.bdf",
            [2000.0, 1600.0, 1000.0, 1950.0, 1998.0],
            30,
        ),
        (
            "pyedflib-testdata/test_generator_datarec_generator_2.bdf",
            [500.0, 400.0, 250.0, 487.5, 499.5],
            30,
        ),
    ];
    for (rel, rates, seconds) in cases {
        let r = open_real(rel);
        let h = r.header();
        assert_eq!(h.format, Format::BdfPlusC, "{rel}");
        let got: Vec<f64> = h.channels.iter().map(|c| c.rate_hz).collect();
        assert_eq!(got, rates, "{rel}");
        for c in &h.channels {
            assert_eq!(
                c.n_samples as f64,
                c.rate_hz * seconds as f64,
                "{rel} {}",
                c.label
            );
        }
        assert_eq!(h.start.unwrap().to_string(), "2000-01-01T00:00:00");
        assert!(h.annotations.is_empty());
    }
}

#[test]
fn annotation_only_file() {
    // test_edfann.edf: EDF+C, one record of duration 0, only "EDF Annotations" (856 TALs).
    let r = open_real("wfdb-python-sample-data/test_edfann.edf");
    let h = r.header();
    assert_eq!(h.format, Format::EdfPlusC);
    assert!(h.channels.is_empty());
    assert_eq!(h.annotations.len(), 856);
    let a = &h.annotations[2];
    assert_eq!(
        (a.onset_s, a.duration_s, a.text.as_str()),
        (33.43, Some(0.0), "Lights off@@EEG F4-A1")
    );
    assert_eq!(h.annotations.last().unwrap().text, "Lights on@@EEG Fpz-Cz");
    // "Startdate X": the year comes from the two-digit field, 01 → 2001.
    assert_eq!(h.start.unwrap().to_string(), "2001-01-01T23:59:30");
}

#[test]
fn latin1_unit_is_read_with_a_warning() {
    let r = open_real("wfdb-python-sample-data/test_generator_2.edf");
    let h = r.header();
    assert_eq!(h.channels.len(), 11);
    assert_eq!(h.channels[8].label, "sine 15 Hz");
    assert_eq!(h.channels[8].unit, "°");
    assert!(
        h.warnings.iter().any(|w| w.contains("Latin-1")),
        "{:?}",
        h.warnings
    );
    assert_eq!(h.start.unwrap().to_string(), "2009-12-10T12:44:02");
}

#[test]
fn any_window_order_gives_the_same_samples() {
    // Reading in windows that cross records and blocks, channel by channel per window
    // (how the kymo command reads), equals reading each channel whole.
    for rel in [
        "pyedflib-testdata/test_generator.bdf",
        "pyedflib-testdata/test_generator_datarec_generator_2.bdf",
        "pyedflib-testdata/test_generator.edf",
    ] {
        let mut r = open_real(rel);
        let chans = r.header().channels.clone();
        let whole: Vec<Vec<f32>> = (0..chans.len())
            .map(|i| read_channel(&mut r, i, &ReadLimits::default()).unwrap())
            .collect();
        for window_s in [0.37, 1.0, 3.3] {
            let mut t = 0.0;
            let dur = r.header().duration_s();
            while t < dur {
                for (i, c) in chans.iter().enumerate() {
                    let a = (t * c.rate_hz) as u64;
                    let b = (((t + window_s) * c.rate_hz) as u64).min(c.n_samples);
                    let mut out = vec![0.0f32; (b - a) as usize];
                    r.read(i, a, &mut out).unwrap();
                    assert_eq!(
                        &out[..],
                        &whole[i][a as usize..b as usize],
                        "{rel} ch {i} {a}..{b}"
                    );
                }
                t += window_s;
            }
        }
    }
}

#[test]
fn opens_through_the_dispatcher() {
    let r = open(
        &real("pyedflib-testdata/test_generator.bdf"),
        &OpenOptions::default(),
    )
    .unwrap();
    assert_eq!(r.header().format, Format::BdfPlusC);
}

#[test]
fn annotation_limit_is_respected() {
    let opts = OpenOptions {
        limits: ReadLimits {
            max_annotations: 100,
            ..ReadLimits::default()
        },
        ..OpenOptions::default()
    };
    let e = EdfReader::open(&real("wfdb-python-sample-data/test_edfann.edf"), &opts).unwrap_err();
    assert!(matches!(e, kymo::Error::Limit { .. }), "{e}");
    assert!(e.to_string().contains("100 annotations"), "{e}");
}
