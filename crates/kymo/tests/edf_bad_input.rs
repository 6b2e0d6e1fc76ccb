//! The EDF/BDF reader on broken and odd files built byte by byte: each error has the right
//! variant and names the field or byte; lenient departures give warnings; nothing panics.

#![allow(clippy::unwrap_used)]

mod edf_common;

use std::path::{Path, PathBuf};

use edf_common::{set_field, signal_field_offset, temp_file, Raw, Sig};
use kymo::io::edf::EdfReader;
use kymo::io::{Format, OpenOptions, ReadLimits, SignalReader};
use kymo::Error;

/// A valid EDF+C: "EMG" (10 samples/record), "ECG" (5), annotations (60 bytes), 4 records.
fn base() -> Raw {
    Raw::edf(vec![
        Sig::new("EMG", 10),
        Sig::new("ECG", 5),
        Sig::annotations(60),
    ])
}

fn base_records(raw: &Raw, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|r| {
            let tal = format!("+{r}\x14\x14\x00");
            raw.record(|s, i| (r * 100 + s * 10 + i) as i32, tal.as_bytes())
        })
        .collect()
}

fn open_bytes(bytes: &[u8]) -> (tempfile::TempDir, kymo::Result<EdfReader>) {
    open_bytes_with(bytes, &OpenOptions::default())
}

fn open_bytes_with(
    bytes: &[u8],
    opts: &OpenOptions,
) -> (tempfile::TempDir, kymo::Result<EdfReader>) {
    let (dir, p) = temp_file("t.edf", bytes);
    let r = EdfReader::open(&p, opts);
    (dir, r)
}

/// Opens and expects a `Malformed` error containing every one of `needles`.
fn malformed(bytes: &[u8], needles: &[&str]) {
    let (_d, r) = open_bytes(bytes);
    let e = r.expect_err("expected an error");
    assert!(matches!(e, Error::Malformed { .. }), "not Malformed: {e}");
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "{msg:?} lacks {n:?}");
    }
}

fn good() -> Vec<u8> {
    let raw = base();
    raw.build(&base_records(&raw, 4))
}

#[test]
fn the_base_file_is_fine() {
    let (_d, r) = open_bytes(&good());
    let mut r = r.unwrap();
    let h = r.header();
    assert_eq!(h.format, Format::EdfPlusC);
    assert_eq!(h.channels.len(), 2);
    assert_eq!(h.channels[0].n_samples, 40);
    assert_eq!(h.channels[1].rate_hz, 5.0);
    assert!(h.warnings.is_empty(), "{:?}", h.warnings);
    let mut out = vec![0.0f32; 5];
    r.read(1, 8, &mut out).unwrap();
    // Record 1, ECG samples 3, 4 then record 2 samples 0..3: digital r·100 + 10 + i.
    let scale = 2000.0 / 65535.0;
    let want: Vec<f32> = [113, 114, 210, 211, 212]
        .iter()
        .map(|&d| ((d as f64 + 32768.0) * scale - 1000.0) as f32)
        .collect();
    for (g, w) in out.iter().zip(&want) {
        assert!((g - w).abs() < 1e-3, "{out:?} vs {want:?}");
    }
}

#[test]
fn shorter_than_a_header() {
    malformed(&good()[..200], &["edf:", "200 bytes", "256"]);
}

#[test]
fn bad_version() {
    let mut b = good();
    set_field(&mut b, 0, 8, "1");
    malformed(&b, &["header byte 0 (version)"]);
}

#[test]
fn non_numeric_record_count() {
    let mut b = good();
    set_field(&mut b, 236, 8, "abc");
    malformed(
        &b,
        &["edf: header byte 236 (number of data records): \"abc\" is not an integer"],
    );
    set_field(&mut b, 236, 8, "-5");
    malformed(
        &b,
        &["header byte 236 (number of data records): \"-5\" is not a positive integer"],
    );
}

#[test]
fn non_numeric_duration_and_signal_count() {
    let mut b = good();
    set_field(&mut b, 244, 8, "1s");
    malformed(
        &b,
        &[
            "header byte 244 (duration of a data record)",
            "\"1s\" is not a number",
        ],
    );
    let mut b = good();
    set_field(&mut b, 252, 4, "0");
    malformed(&b, &["header byte 252 (number of signals)"]);
    let mut b = good();
    set_field(&mut b, 252, 4, "x");
    malformed(&b, &["header byte 252 (number of signals)"]);
}

#[test]
fn too_many_signals_is_a_limit() {
    let mut b = good();
    set_field(&mut b, 252, 4, "9999");
    let (_d, r) = open_bytes(&b);
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Limit { .. }), "{e}");
    assert!(e.to_string().contains("9999 channels"), "{e}");
}

#[test]
fn header_size_must_match_signal_count() {
    let mut b = good();
    set_field(&mut b, 184, 8, "1280");
    malformed(
        &b,
        &[
            "header byte 184 (number of bytes in header): 1280",
            "3 signals",
            "1024 bytes",
        ],
    );
    // A signal count whose header does not fit in the file.
    let mut b = good();
    set_field(&mut b, 252, 4, "50");
    set_field(&mut b, 184, 8, &(256 * 51).to_string());
    malformed(&b, &["header alone takes 13056"]);
}

#[test]
fn bad_signal_fields_name_signal_and_byte() {
    let raw = base();
    let ns = raw.sigs.len();
    // Samples per record of "ECG" = 0.
    let mut b = good();
    let off = signal_field_offset(ns, 8, 1);
    set_field(&mut b, off, 8, "0");
    malformed(&b, &[&format!("header byte {off} (signal 1 \"ECG\", samples per data record): \"0\" is not a positive integer")]);
    // Physical minimum not a number.
    let mut b = good();
    let off = signal_field_offset(ns, 3, 0);
    set_field(&mut b, off, 8, "lo");
    malformed(
        &b,
        &[&format!(
            "header byte {off} (signal 0 \"EMG\", physical minimum): \"lo\" is not a number"
        )],
    );
    // pmin == pmax.
    let mut b = good();
    set_field(&mut b, signal_field_offset(ns, 4, 1), 8, "-1000");
    malformed(
        &b,
        &[
            "signal 1 \"ECG\", physical maximum",
            "equals the physical minimum",
        ],
    );
    // dmin == dmax.
    let mut b = good();
    set_field(&mut b, signal_field_offset(ns, 6, 0), 8, "-32768");
    malformed(
        &b,
        &[
            "signal 0 \"EMG\", digital maximum",
            "equals the digital minimum",
        ],
    );
}

#[test]
fn absurd_samples_per_record_is_a_limit() {
    let raw = base();
    let mut b = good();
    set_field(
        &mut b,
        signal_field_offset(raw.sigs.len(), 8, 0),
        8,
        "99999999",
    );
    let opts = OpenOptions {
        limits: ReadLimits {
            max_alloc_bytes: 1 << 20,
            ..ReadLimits::default()
        },
        ..OpenOptions::default()
    };
    let (_d, r) = open_bytes_with(&b, &opts);
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Limit { .. }), "{e}");
    assert!(e.to_string().contains("one data record"), "{e}");
    // With default limits the record fits in memory but not in the file: truncated.
    malformed(&b, &["truncated"]);
}

#[test]
fn truncated_data_names_sizes_and_record() {
    let raw = base();
    let rb = raw.record_bytes();
    let mut b = good();
    b.truncate(b.len() - rb / 2 - rb); // records 0, 1 whole, record 2 half
    malformed(
        &b,
        &[
            "truncated",
            "4 data records of 90 bytes (360 bytes after the 1024-byte header)",
            &format!("only {} bytes", 2 * rb + rb / 2),
            "data record 2 (counting from 0) is cut short",
        ],
    );
    let mut b = good();
    b.truncate(b.len() - rb);
    malformed(&b, &["data record 3 (counting from 0) is missing"]);
}

#[test]
fn huge_record_count() {
    let mut b = good();
    set_field(&mut b, 236, 8, "99999999");
    malformed(&b, &["truncated", "99999999 data records"]);
}

#[test]
fn longer_file_is_a_warning() {
    let mut b = good();
    b.extend_from_slice(&[0u8; 7]);
    let (_d, r) = open_bytes(&b);
    let r = r.unwrap();
    assert!(r
        .header()
        .warnings
        .iter()
        .any(|w| w.contains("7 bytes after the 4 data records")));
}

#[test]
fn still_recording() {
    let raw = base();
    let mut b = good();
    set_field(&mut b, 236, 8, "-1");
    b.extend_from_slice(&vec![0u8; raw.record_bytes() / 2]);
    let (_d, r) = open_bytes(&b);
    let r = r.unwrap();
    let h = r.header();
    assert_eq!(h.channels[0].n_samples, 40);
    assert!(
        h.warnings
            .iter()
            .any(|w| w.contains("-1") && w.contains("4 complete records")),
        "{:?}",
        h.warnings
    );
    assert!(
        h.warnings
            .iter()
            .any(|w| w.contains("incomplete data record")),
        "{:?}",
        h.warnings
    );
}

#[test]
fn bdf_header_over_edf_sized_data() {
    // A BDF version field over data whose size fits 16-bit samples exactly.
    let raw = base();
    let b = good();
    let mut bdf = b.clone();
    bdf[..8].copy_from_slice(b"\xffBIOSEMI");
    set_field(&mut bdf, 192, 44, "BDF+C");
    let _ = raw;
    malformed(
        &bdf,
        &[
            "bdf:",
            "truncated",
            "exactly what 16-bit (EDF) samples would take",
        ],
    );
}

#[test]
fn edf_header_over_bdf_sized_data() {
    let mut raw = base();
    raw.bdf = true;
    raw.reserved = "BDF+C".into();
    let mut b = raw.build(&base_records(&raw, 4));
    set_field(&mut b, 0, 8, "0");
    set_field(&mut b, 192, 44, "EDF+C");
    malformed(&b, &["exactly what 24-bit (BDF) samples would take"]);
}

#[test]
fn version_and_reserved_disagree() {
    let mut b = good();
    set_field(&mut b, 192, 44, "BDF+C");
    malformed(
        &b,
        &[
            "header byte 192 (reserved)",
            "BDF+C",
            "EDF (16-bit samples)",
        ],
    );
}

#[test]
fn zero_duration_with_signals() {
    let mut b = good();
    set_field(&mut b, 244, 8, "0");
    malformed(
        &b,
        &["header byte 244 (duration of a data record): 0 is only allowed"],
    );
}

#[test]
fn bad_start_date_and_time() {
    let mut b = good();
    set_field(&mut b, 88, 80, "X");
    set_field(&mut b, 168, 8, "31.02.11");
    malformed(&b, &["header byte 168 (start date)", "31.02.11"]);
    let mut b = good();
    set_field(&mut b, 176, 8, "12h57m02");
    malformed(&b, &["header byte 176 (start time)"]);
}

#[test]
fn lenient_padding_and_decimal_commas() {
    let raw = base();
    let ns = raw.sigs.len();
    let mut b = good();
    // NUL padding in the label and the patient field.
    let off = signal_field_offset(ns, 0, 0);
    b[off + 3..off + 16].fill(0);
    b[8 + 7..88].fill(0);
    // Comma decimal in a physical maximum.
    set_field(&mut b, signal_field_offset(ns, 4, 1), 8, "1000,0");
    let (_d, r) = open_bytes(&b);
    let r = r.unwrap();
    let h = r.header();
    assert_eq!(h.channels[0].label, "EMG");
    assert_eq!(h.subject.as_deref(), Some("X X X X"));
    assert_eq!(h.channels[1].physical_range, Some((-1000.0, 1000.0)));
    let w = h.warnings.join("\n");
    assert!(
        w.contains("NUL") && w.contains("label") && w.contains("patient identification"),
        "{w}"
    );
    assert!(w.contains("comma") && w.contains("physical maximum"), "{w}");
}

#[test]
fn edf_plus_d_without_annotations_signal() {
    let mut raw = Raw::edf(vec![Sig::new("EMG", 4)]);
    raw.reserved = "EDF+D".into();
    let b = raw.build(&[raw.record(|_, i| i as i32, b"")]);
    malformed(&b, &["EDF+D", "no \"EDF Annotations\" signal"]);
}

#[test]
fn edf_plus_d_record_without_time_stamp() {
    let mut raw = base();
    raw.reserved = "EDF+D".into();
    let recs = vec![
        raw.record(|_, _| 0, b"+0\x14\x14\x00"),
        raw.record(|_, _| 0, b"garbage\x00"),
    ];
    let b = raw.build(&recs);
    malformed(&b, &["data record 1", "time-keeping TAL"]);
}

#[test]
fn broken_tals_are_skipped_with_warnings() {
    let raw = base();
    let recs = vec![
        raw.record(
            |_, _| 0,
            b"+0\x14\x14\x00+0.5\x14ok\x14\x00+x\x14bad\x14\x00",
        ),
        raw.record(|_, _| 0, b"+1\x14\x14\x00+1.5\x14caf\xe9\x14\x00"),
    ];
    let (_d, r) = open_bytes(&raw.build(&recs));
    let r = r.unwrap();
    let h = r.header();
    let texts: Vec<&str> = h.annotations.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(texts, ["ok", "caf\u{fffd}"]);
    let w = h.warnings.join("\n");
    assert!(
        w.contains("data record 0, file byte") && w.contains("onset \"+x\""),
        "{w}"
    );
    assert!(w.contains("not valid UTF-8"), "{w}");
}

#[test]
fn read_past_the_end_is_a_config_error() {
    let (_d, r) = open_bytes(&good());
    let mut r = r.unwrap();
    let mut out = vec![0.0f32; 5];
    let e = r.read(0, 38, &mut out).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    let e = r.read(7, 0, &mut out).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    // An empty read at the very end is fine.
    r.read(0, 40, &mut []).unwrap();
}

#[test]
fn file_shrunk_after_open_is_an_error_not_a_panic() {
    let (dir, p) = temp_file("t.edf", &good());
    let mut r = EdfReader::open(&p, &OpenOptions::default()).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(1100).unwrap();
    let mut out = vec![0.0f32; 40];
    let e = r.read(0, 0, &mut out).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    drop(dir);
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus/edf")
}

/// Opens every file of the fuzz corpus (crafted broken files and, later, crashes found
/// by `fuzz/`); errors are fine, panics and hangs are not. Mirrors the fuzz target.
#[test]
fn fuzz_corpus_never_panics() {
    let limits = ReadLimits {
        max_channels: 64,
        max_annotations: 10_000,
        max_alloc_bytes: 16 << 20,
    };
    let opts = OpenOptions {
        limits: limits.clone(),
        ..OpenOptions::default()
    };
    let mut n = 0;
    for entry in std::fs::read_dir(corpus_dir()).expect("fuzz corpus dir") {
        let p = entry.unwrap().path();
        n += 1;
        if let Ok(mut r) = EdfReader::open(&p, &opts) {
            for c in 0..r.header().channels.len() {
                let _ = kymo::io::read_channel(&mut r, c, &limits);
            }
        }
    }
    assert!(n >= 10, "only {n} corpus files");
}

/// Regenerates `tests/fuzz_corpus/edf/` (run with `--ignored` after changing it).
#[test]
#[ignore]
fn regenerate_fuzz_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let raw = base();
    let ns = raw.sigs.len();
    let g = good();
    let mut files: Vec<(&str, Vec<u8>)> = vec![("valid_edfplus_c.edf", g.clone())];
    let mut patch = |name: &'static str, off: usize, w: usize, t: &str| {
        let mut b = g.clone();
        set_field(&mut b, off, w, t);
        files.push((name, b));
    };
    patch("ns_9999.edf", 252, 4, "9999");
    patch("n_records_huge.edf", 236, 8, "99999999");
    patch("n_records_minus1.edf", 236, 8, "-1");
    patch("spr_huge.edf", signal_field_offset(ns, 8, 0), 8, "99999999");
    patch(
        "dmin_eq_dmax.edf",
        signal_field_offset(ns, 6, 0),
        8,
        "-32768",
    );
    patch("duration_zero.edf", 244, 8, "0");
    patch("duration_tiny.edf", 244, 8, "1e-300");
    patch("non_numeric.edf", 236, 8, "abc");
    patch("edf_plus_d.edf", 192, 44, "EDF+D");
    files.push(("header_only_255.edf", g[..255].to_vec()));
    files.push(("truncated.edf", g[..g.len() - 45].to_vec()));
    let mut garbage = raw.header();
    for r in 0..3 {
        garbage.extend(raw.record(
            |_, _| -1,
            &b"\x14\x15+\x00-\x14\x14\xff\xfe+1.2.3\x15\x14"[..],
        ));
        let _ = r;
    }
    set_field(&mut garbage, 236, 8, "3");
    files.push(("garbage_tals.edf", garbage));
    let mut bdf = raw.clone();
    bdf.bdf = true;
    bdf.reserved = "BDF+C".into();
    files.push(("valid_bdfplus_c.bdf", bdf.build(&base_records(&bdf, 2))));
    let mut d = raw.clone();
    d.reserved = "EDF+D".into();
    let recs = [5, 3, 3, 100]
        .iter()
        .map(|t| raw.record(|_, _| 7, format!("+{t}\x14\x14\x00").as_bytes()))
        .collect::<Vec<_>>();
    files.push(("edf_plus_d_out_of_order.edf", d.build(&recs)));
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
