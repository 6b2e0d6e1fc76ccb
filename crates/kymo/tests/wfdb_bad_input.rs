//! Broken WFDB records, generated in a temp dir: each must give an `Err` of the right variant
//! (never a panic) whose message names the file and the header line or field.
#![allow(clippy::unwrap_used)] // a test: a panic is the failure report

use std::path::{Path, PathBuf};

use kymo::io::wfdb::WfdbReader;
use kymo::io::{OpenOptions, ReadLimits, SignalReader};
use kymo::Error;

/// Writes `r.hea` (and `r.dat` when given) into a new temp dir.
fn record(hea: &str, dat: Option<&[u8]>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hea");
    std::fs::write(&path, hea).unwrap();
    if let Some(d) = dat {
        std::fs::write(dir.path().join("r.dat"), d).unwrap();
    }
    (dir, path)
}

fn open_err(path: &Path) -> Error {
    match kymo::io::wfdb::open(path, &OpenOptions::default()) {
        Ok(_) => panic!("{} opened, but it is broken", path.display()),
        Err(e) => e,
    }
}

/// Asserts the message names the header file and contains every fragment.
fn assert_msg(e: &Error, path: &Path, fragments: &[&str]) {
    let msg = e.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "no file name in: {msg}"
    );
    for f in fragments {
        assert!(msg.contains(f), "{f:?} missing from: {msg}");
    }
}

/// Ten frames of one format-16 signal.
const DAT_16: [u8; 20] = [1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9, 0, 10, 0];

#[test]
fn a_good_record_opens() {
    let (_d, p) = record("r 1 100 10\nr.dat 16 100/uV 16 0 1 55 0 x\n", Some(&DAT_16));
    let mut r = WfdbReader::open(&p, &OpenOptions::default()).unwrap();
    let mut v = [0f32; 10];
    r.read(0, 0, &mut v).unwrap();
    assert_eq!(v[9], 0.1);
    assert!(r.verify_checksums().unwrap()[0].ok());
    // Through the format-picking `open`, by header and by record name.
    assert!(kymo::io::open(&p, &OpenOptions::default()).is_ok());
    assert!(kymo::io::open(&p.with_extension(""), &OpenOptions::default()).is_ok());
}

#[test]
fn missing_signal_file() {
    let (_d, p) = record("r 1 100 10\n# c\nr.dat 16\n", None);
    let e = open_err(&p);
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert_msg(&e, &p, &["line 3", "r.dat", "cannot open the signal file"]);
}

#[test]
fn truncated_signal_file() {
    let (_d, p) = record("r 1 100 10\nr.dat 16\n", Some(&DAT_16[..15]));
    let e = open_err(&p);
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    assert_msg(
        &e,
        &p,
        &["line 2", "r.dat", "has 15 bytes", "need 20 bytes"],
    );
}

#[test]
fn truncated_212_pair() {
    // 3 samples of format 212 need 3 + 2 bytes.
    let (_d, p) = record("r 1 100 3\nr.dat 212\n", Some(&[0, 0, 0, 0]));
    let e = open_err(&p);
    assert_msg(&e, &p, &["has 4 bytes", "need 5 bytes", "format 212"]);
}

#[test]
fn unknown_format() {
    let (_d, p) = record("r 1 100 10\nr.dat 999\n", Some(&DAT_16));
    let e = open_err(&p);
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert_msg(
        &e,
        &p,
        &[
            "line 2 (format of signal 0)",
            "format 999",
            "8, 16, 24, 32, 61, 80, 160, 212, 310, 311",
        ],
    );
}

#[test]
fn non_numeric_gain() {
    let (_d, p) = record("r 1 100 10\nr.dat 16 abc/mV 12\n", Some(&DAT_16));
    let e = open_err(&p);
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    assert_msg(&e, &p, &["line 2 (ADC gain of signal 0)", "\"abc\""]);
}

#[test]
fn non_numeric_fields_each_named() {
    for (sig_line, field) in [
        ("r.dat 16 200 x12", "ADC resolution of signal 0"),
        ("r.dat 16 200 12 z", "ADC zero of signal 0"),
        ("r.dat 16 200 12 0 1.5", "initial value of signal 0"),
        ("r.dat 16 200 12 0 0 c", "checksum of signal 0"),
        ("r.dat 16 200 12 0 0 0 b", "block size of signal 0"),
        ("r.dat 16 200(x)/mV", "baseline of signal 0"),
        ("r.dat 16 200(5/mV", "baseline of signal 0"),
        ("r.dat 16x", "samples per frame of signal 0"),
        ("r.dat 16+k", "byte offset of signal 0"),
        ("r.dat sixteen", "format of signal 0"),
    ] {
        let (_d, p) = record(&format!("r 1 100 10\n{sig_line}\n"), Some(&DAT_16));
        let e = open_err(&p);
        assert!(matches!(e, Error::Malformed { .. }), "{sig_line}: {e:?}");
        assert_msg(&e, &p, &[&format!("line 2 ({field})")]);
    }
    for (rec_line, field) in [
        ("r one 100 10", "number of signals"),
        ("r 1 fast 10", "sampling frequency"),
        ("r 1 0 10", "sampling frequency"),
        ("r 1 100/x 10", "counter frequency"),
        ("r 1 100/5(y) 10", "base counter value"),
        ("r 1 100 -10", "number of samples per signal"),
        ("r 1 100 10 noon", "base time"),
        ("r 1 100 10 12:00:00 1/2", "base date"),
    ] {
        let (_d, p) = record(&format!("{rec_line}\nr.dat 16\n"), Some(&DAT_16));
        let e = open_err(&p);
        assert!(matches!(e, Error::Malformed { .. }), "{rec_line}: {e:?}");
        assert_msg(&e, &p, &[&format!("line 1 ({field})")]);
    }
}

#[test]
fn absurd_signal_count() {
    let (_d, p) = record("r 1000000000 100 10\nr.dat 16\n", Some(&DAT_16));
    let e = open_err(&p);
    assert!(matches!(e, Error::Limit { .. }), "{e:?}");
    assert_msg(
        &e,
        &p,
        &["line 1 (number of signals)", "1000000000 channels"],
    );
    // Past u64 too.
    let (_d, p) = record("r 99999999999999999999999 100\n", None);
    assert!(matches!(open_err(&p), Error::Malformed { .. }));
    // A tight limit applies to an ordinary count.
    let (_d, p) = record("r 2 100 5\nr.dat 16\nr.dat 16\n", Some(&DAT_16));
    let opts = OpenOptions {
        limits: ReadLimits {
            max_channels: 1,
            ..ReadLimits::default()
        },
        rate_hz: None,
    };
    assert!(matches!(
        WfdbReader::open(&p, &opts),
        Err(Error::Limit { .. })
    ));
}

#[test]
fn empty_header() {
    let (_d, p) = record("", None);
    let e = open_err(&p);
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    assert_msg(&e, &p, &["line 1 (record line)", "no record line"]);
    let (_d, p) = record("# just a comment\n\n   \n", None);
    assert_msg(&open_err(&p), &p, &["no record line"]);
    // The format-picking `open` refuses a 0-byte file before the WFDB reader sees it.
    let (_d, p) = record("", None);
    assert!(kymo::io::open(&p, &OpenOptions::default()).is_err());
}

#[test]
fn fewer_signal_lines_than_declared() {
    let (_d, p) = record("r 3 100 10\nr.dat 16\n# c\nr.dat 16\n", Some(&DAT_16));
    let e = open_err(&p);
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    assert_msg(
        &e,
        &p,
        &[
            "line 1 (number of signals)",
            "declares 3 signals",
            "only 2 signal line(s)",
        ],
    );
}

#[test]
fn multi_segment_header() {
    let (_d, p) = record("r/2 1 360 20\nseg1 10\nseg2 10\n", None);
    let e = open_err(&p);
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert_msg(
        &e,
        &p,
        &["line 1", "multi-segment records are not supported yet"],
    );
}

#[test]
fn skew_and_stdin_are_unsupported() {
    let (_d, p) = record("r 1 100 10\nr.dat 16:3\n", Some(&DAT_16));
    let e = open_err(&p);
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert_msg(&e, &p, &["line 2 (skew of signal 0)", "skew of 3 samples"]);
    let (_d, p) = record("r 1 100 10\n- 16\n", None);
    assert_msg(&open_err(&p), &p, &["line 2", "standard input"]);
}

#[test]
fn inconsistent_groups() {
    let (_d, p) = record("r 2 100 5\nr.dat 16\nr.dat 212\n", Some(&DAT_16));
    let e = open_err(&p);
    assert_msg(
        &e,
        &p,
        &[
            "line 3 (format of signal 1)",
            "format 212 differs from format 16",
        ],
    );
    let (_d, p) = record("r 2 100 5\nr.dat 16+2\nr.dat 16\n", Some(&DAT_16));
    assert_msg(&open_err(&p), &p, &["line 3 (byte offset of signal 1)"]);
    let (d, p) = record("r 3 100 5\nr.dat 16\ns.dat 16\nr.dat 16\n", Some(&DAT_16));
    std::fs::write(d.path().join("s.dat"), DAT_16).unwrap();
    assert_msg(
        &open_err(&p),
        &p,
        &["line 4", "consecutive lines", "line 2"],
    );
}

#[test]
fn sizes_that_overflow_or_point_past_the_file() {
    let (_d, p) = record("r 1 100 18446744073709551615\nr.dat 32\n", Some(&DAT_16));
    assert_msg(
        &open_err(&p),
        &p,
        &["line 1 (number of samples per signal)", "2^64"],
    );
    let (_d, p) = record("r 1 100 10\nr.dat 16x18446744073709551615\n", Some(&DAT_16));
    assert_msg(&open_err(&p), &p, &["2^64"]);
    let (_d, p) = record(
        "r 2 100\nr.dat 16x18446744073709551615\nr.dat 16x2\n",
        Some(&DAT_16),
    );
    assert_msg(
        &open_err(&p),
        &p,
        &["line 3 (samples per frame of signal 1)"],
    );
    let (_d, p) = record("r 1 100\nr.dat 16+21\n", Some(&DAT_16));
    assert_msg(&open_err(&p), &p, &["byte offset", "has 20 bytes"]);
}

#[test]
fn signal_file_is_a_directory() {
    let (d, p) = record("r 1 100 10\nsub 16\n", None);
    std::fs::create_dir(d.path().join("sub")).unwrap();
    let e = open_err(&p);
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    assert_msg(&e, &p, &["line 2", "not a regular file"]);
}

#[test]
fn reads_past_the_end_are_config_errors() {
    let (_d, p) = record("r 1 100 10\nr.dat 16\n", Some(&DAT_16));
    let mut r = WfdbReader::open(&p, &OpenOptions::default()).unwrap();
    let mut v = [0f32; 3];
    assert!(matches!(r.read(0, 8, &mut v), Err(Error::Config(_))));
    assert!(matches!(r.read(1, 0, &mut v), Err(Error::Config(_))));
    assert!(matches!(r.read(0, u64::MAX, &mut v), Err(Error::Config(_))));
    let mut a = [0i32; 3];
    assert!(matches!(r.read_adu(0, 9, &mut a), Err(Error::Config(_))));
}

#[test]
fn signal_file_truncated_after_open() {
    let (d, p) = record("r 1 100 10\nr.dat 16\n", Some(&DAT_16));
    let mut r = WfdbReader::open(&p, &OpenOptions::default()).unwrap();
    std::fs::write(d.path().join("r.dat"), &DAT_16[..4]).unwrap();
    let mut v = [0f32; 10];
    let e = r.read(0, 0, &mut v).unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    assert!(e.to_string().contains("r.dat"), "{e}");
}

#[test]
fn lenient_on_redundant_fields() {
    // Longer file than declared, extra lines, an out-of-range date, no gain: all warnings.
    let (_d, p) = record(
        "r 1 100 5 10:00:00 31/13/2020\nr.dat 16\nextra line\n",
        Some(&DAT_16),
    );
    let r = WfdbReader::open(&p, &OpenOptions::default()).unwrap();
    let w = &r.header().warnings;
    assert_eq!(w.len(), 4, "{w:?}");
    assert!(r.header().start.is_none());
    // A wrong checksum is reported, not refused.
    let (_d, p) = record("r 1 100 10\nr.dat 16 200 16 0 7 123 0 x\n", Some(&DAT_16));
    let mut r = WfdbReader::open(&p, &OpenOptions::default()).unwrap();
    let rep = &r.verify_checksums().unwrap()[0];
    assert_eq!(rep.checksum, 55);
    assert_eq!(rep.checksum_ok(), Some(false));
    assert_eq!(rep.initial_value_ok(), Some(false));
}

#[test]
fn edf_signal_file_that_is_missing_or_mixed() {
    let (_d, p) = record("r 1 100 10\nr.edf 16\n", None);
    let e = open_err(&p);
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert_msg(&e, &p, &["line 2", "r.edf"]);
    let (_d, p) = record("r 2 100 10\nr.edf 16\nr.dat 16\n", Some(&DAT_16));
    let e = open_err(&p);
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
    assert_msg(&e, &p, &["line 3", "EDF file"]);
}
