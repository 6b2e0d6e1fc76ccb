//! Delimited text reader: generated CSV/TSV/whitespace files, the BioSPPy examples,
//! random access, and broken files.

// Tests may panic on a broken fixture; index loops mirror the (row, column) maths.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use std::path::{Path, PathBuf};

use kymo::io::text::TextReader;
use kymo::io::{read_channel, OpenOptions, ReadLimits, SignalReader};
use kymo::Error;

fn real(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real/biosppy-examples"
    ))
    .join(name)
}

fn opts() -> OpenOptions {
    OpenOptions::default()
}

fn with_rate(r: f64) -> OpenOptions {
    OpenOptions {
        rate_hz: Some(r),
        ..OpenOptions::default()
    }
}

fn tmp(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn all(r: &mut TextReader) -> Vec<Vec<f32>> {
    (0..r.header().channels.len())
        .map(|c| read_channel(r, c, &ReadLimits::none()).unwrap())
        .collect()
}

/// The value the generator puts in row `i`, column `c`.
fn val(i: usize, c: usize) -> f64 {
    (((i * 7919 + c * 104_729) % 20_001) as f64 - 10_000.0) / 8.0
}

/// A CSV with a header, a time column at `rate` and `cols` signal columns.
fn gen_csv(
    rows: usize,
    cols: usize,
    rate: f64,
    delim: &str,
    time_label: &str,
    scale: f64,
) -> String {
    let mut s = String::new();
    s.push_str(time_label);
    for c in 0..cols {
        s.push_str(&format!("{delim}EMG{} (uV)", c + 1));
    }
    s.push('\n');
    for i in 0..rows {
        s.push_str(&format!("{:.6}", i as f64 / rate / scale));
        for c in 0..cols {
            s.push_str(&format!("{delim}{}", val(i, c)));
        }
        s.push('\n');
    }
    s
}

#[test]
fn csv_with_header_and_time_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "a.csv", &gen_csv(3000, 2, 1000.0, ",", "time", 1.0));
    let mut r = TextReader::open(&p, &opts()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.format, kymo::io::Format::Csv);
    assert_eq!(h.channels.len(), 2, "the time column is not a channel");
    for (c, ch) in h.channels.iter().enumerate() {
        assert_eq!(ch.label, format!("EMG{}", c + 1));
        assert_eq!(ch.unit, "uV");
        assert_eq!(ch.rate_hz, 1000.0);
        assert_eq!(ch.n_samples, 3000);
    }
    let got = all(&mut r);
    for c in 0..2 {
        for i in 0..3000 {
            assert_eq!(got[c][i], val(i, c) as f32, "row {i} col {c}");
        }
    }
}

#[test]
fn tsv_with_millisecond_time() {
    let dir = tempfile::tempdir().unwrap();
    // 2048 Hz: steps of 0.488281… ms printed with 6 decimals.
    let p = tmp(
        &dir,
        "a.tsv",
        &gen_csv(5000, 3, 2048.0, "\t", "time_ms", 1e-3),
    );
    let mut r = TextReader::open(&p, &opts()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.channels.len(), 3);
    assert_eq!(h.channels[0].rate_hz, 2048.0);
    let got = all(&mut r);
    assert_eq!(got[2][4999], val(4999, 2) as f32);
}

#[test]
fn semicolon_with_decimal_commas_and_seconds_label() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(
        &dir,
        "eu.csv",
        "Time (s);Force [N];EMG\n0,000;1,5;-2\n0,002;2,5;-3\n0,004;3,5;-4\n",
    );
    let mut r = TextReader::open(&p, &opts()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.channels[0].rate_hz, 500.0);
    assert_eq!(
        (h.channels[0].label.as_str(), h.channels[0].unit.as_str()),
        ("Force", "N")
    );
    assert_eq!(
        (h.channels[1].label.as_str(), h.channels[1].unit.as_str()),
        ("EMG", "")
    );
    assert_eq!(
        all(&mut r),
        vec![vec![1.5, 2.5, 3.5], vec![-2.0, -3.0, -4.0]]
    );
}

#[test]
fn whitespace_columns_without_header_need_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let text = "  1.0   2.0\t3\n4 5 6\n\n7  8 9  \n";
    let p = tmp(&dir, "ws.txt", text);
    match TextReader::open(&p, &opts()) {
        Err(Error::Config(m)) => assert!(
            m.contains("no sampling rate") && m.contains("add a time column or pass --rate"),
            "{m}"
        ),
        Err(e) => panic!("expected Config, got {e:?}"),
        Ok(_) => panic!("expected Config, got Ok"),
    }
    let mut r = TextReader::open(&p, &with_rate(250.0)).unwrap();
    let h = r.header().clone();
    assert_eq!(
        h.channels
            .iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>(),
        ["ch1", "ch2", "ch3"]
    );
    assert_eq!(h.channels[0].rate_hz, 250.0);
    assert_eq!(
        all(&mut r),
        vec![
            vec![1.0, 4.0, 7.0],
            vec![2.0, 5.0, 8.0],
            vec![3.0, 6.0, 9.0]
        ]
    );
}

#[test]
fn rate_option_overrides_the_time_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "t.csv", "t,x\n0,1\n0.5,2\n3,3\n");
    // Non-uniform time is an error …
    assert!(matches!(
        TextReader::open(&p, &opts()),
        Err(Error::Malformed { .. })
    ));
    // … unless --rate says to ignore the time column.
    let r = TextReader::open(&p, &with_rate(100.0)).unwrap();
    assert_eq!(r.header().channels.len(), 1);
    assert_eq!(r.header().channels[0].rate_hz, 100.0);
    assert!(r.header().warnings.iter().any(|w| w.contains("--rate")));
    assert!(matches!(
        TextReader::open(&p, &with_rate(-1.0)),
        Err(Error::Config(_))
    ));
}

#[test]
fn comments_give_rate_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(
        &dir,
        "c.txt",
        "# Simple Text Format\n# Sampling Rate (Hz):= 500.00\n# Labels:= A1\tA2\n1\t2\n3\t4\n",
    );
    let mut r = TextReader::open(&p, &opts()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.comments[0], "Simple Text Format");
    assert_eq!(h.channels[0].rate_hz, 500.0);
    assert_eq!(h.channels[1].label, "A2");
    assert_eq!(all(&mut r), vec![vec![1.0, 3.0], vec![2.0, 4.0]]);
}

#[test]
fn empty_cells_and_nan_are_nan() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "n.csv", "a,b\n1,\nNaN,2\nNA,3\n");
    let mut r = TextReader::open(&p, &with_rate(10.0)).unwrap();
    let got = all(&mut r);
    assert_eq!(got[0][0], 1.0);
    assert!(got[0][1].is_nan() && got[0][2].is_nan() && got[1][0].is_nan());
    assert_eq!(got[1][1..], [2.0, 3.0]);
}

#[test]
fn trailing_delimiters_are_not_a_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "t.csv", "time,x,\n0,1,\n0.1,2,\n");
    let mut r = TextReader::open(&p, &opts()).unwrap();
    assert_eq!(r.header().channels.len(), 1);
    assert_eq!(r.header().channels[0].rate_hz, 10.0);
    assert_eq!(all(&mut r), vec![vec![1.0, 2.0]]);
}

#[test]
fn random_access_windows_match_the_whole_read() {
    let dir = tempfile::tempdir().unwrap();
    let rows = 20_000; // several index entries (one per 4096 rows)
    let p = tmp(
        &dir,
        "long.csv",
        &gen_csv(rows, 2, 1000.0, ",", "time", 1.0),
    );
    let mut r = TextReader::open(&p, &opts()).unwrap();
    let whole = all(&mut r);
    let windows = [
        (19_999usize, 1usize),
        (0, 1),
        (4095, 2),
        (4096, 4096),
        (8191, 3000),
        (100, 12_000),
        (12_345, 0),
        (16_384, 3616),
    ];
    for ch in 0..2 {
        for &(start, len) in &windows {
            let mut out = vec![f32::NAN; len];
            r.read(ch, start as u64, &mut out).unwrap();
            assert_eq!(
                out,
                whole[ch][start..start + len],
                "ch {ch} window {start}+{len}"
            );
        }
    }
    // Sequential blocks continue from the cursor.
    let mut got = Vec::new();
    let mut block = vec![0.0f32; 1000];
    for b in 0..20 {
        r.read(1, b * 1000, &mut block).unwrap();
        got.extend_from_slice(&block);
    }
    assert_eq!(got, whole[1]);
    let mut out = vec![0.0; 2];
    assert!(matches!(r.read(0, 19_999, &mut out), Err(Error::Config(_))));
}

fn malformed(p: &Path, o: &OpenOptions) -> String {
    match TextReader::open(p, o) {
        Err(Error::Malformed { what, .. }) => what,
        Err(e) => panic!("expected Malformed, got {e:?}"),
        Ok(_) => panic!("expected Malformed, got Ok"),
    }
}

#[test]
fn bad_files_name_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let r = with_rate(100.0);

    let p = tmp(&dir, "ragged.csv", "a,b\n1,2\n3,4\n5\n");
    let m = malformed(&p, &r);
    assert!(
        m.contains("line 4 (data row 3)") && m.contains("1 fields"),
        "{m}"
    );

    // Blank lines count: the message points at the line an editor shows.
    let p = tmp(&dir, "blank_lines.csv", "a,b\n1,2\n\n\r\n3,x\n");
    let m = malformed(&p, &r);
    assert!(
        m.contains(r#"line 5 (data row 2), column 2: "x" is not a number"#),
        "{m}"
    );
    let p = tmp(
        &dir,
        "blank_then_gap.csv",
        "t,x\n0,1\n\n1,1\n2,1\n\n4,1\n5,1\n",
    );
    let m = malformed(&p, &opts());
    assert!(m.contains("line 7") && m.contains("not uniform"), "{m}");

    let p = tmp(&dir, "header_width.csv", "a,b,c\n1,2\n");
    let m = malformed(&p, &r);
    assert!(m.contains("header row has 3 labels"), "{m}");

    let p = tmp(&dir, "abc.csv", "a,b\n1,2\n3,abc\n");
    let m = malformed(&p, &r);
    assert!(
        m.contains(r#"line 3 (data row 2), column 2: "abc" is not a number"#),
        "{m}"
    );

    let p = tmp(
        &dir,
        "gap.csv",
        "time,x\n0.000,1\n0.001,1\n0.002,1\n0.004,1\n0.005,1\n",
    );
    let m = malformed(&p, &opts());
    assert!(m.contains("line 5") && m.contains("not uniform"), "{m}");

    let p = tmp(&dir, "backwards.csv", "time,x\n0.3,1\n0.2,1\n0.1,1\n");
    let m = malformed(&p, &opts());
    assert!(m.contains("does not increase"), "{m}");

    let p = tmp(&dir, "header_only.csv", "time,x\n");
    assert!(malformed(&p, &r).contains("only a header row"));

    let p = tmp(&dir, "comments_only.txt", "# fs = 100\n# nothing\n");
    assert!(malformed(&p, &r).contains("no data rows"));

    let p = tmp(&dir, "empty.csv", "");
    assert!(malformed(&p, &r).contains("no data rows"));

    let p = tmp(&dir, "long_line.csv", &"1,".repeat(3 << 20));
    let m = malformed(&p, &r);
    assert!(m.contains("longer than"), "{m}");
}

#[test]
fn single_time_row_without_rate_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "one.csv", "time,x\n0,1\n");
    assert!(matches!(
        TextReader::open(&p, &opts()),
        Err(Error::Config(_))
    ));
    assert_eq!(
        TextReader::open(&p, &with_rate(5.0))
            .unwrap()
            .header()
            .channels[0]
            .n_samples,
        1
    );
}

#[test]
fn too_many_columns_for_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let p = tmp(&dir, "wide.csv", "1,2,3,4\n5,6,7,8\n");
    let o = OpenOptions {
        limits: ReadLimits {
            max_channels: 3,
            ..ReadLimits::default()
        },
        rate_hz: Some(1.0),
    };
    assert!(matches!(TextReader::open(&p, &o), Err(Error::Limit { .. })));
}

/// Values of a BioSPPy file parsed the obvious way (the oracle for the reader).
fn oracle(path: &Path) -> Vec<f32> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().parse::<f64>().unwrap() as f32)
        .collect()
}

#[test]
fn biosppy_emg_examples() {
    // SOURCE.md: 1 channel, 1000 Hz, emg.txt about 100 000 samples, emg_1.txt 63 880;
    // counting the non-comment lines gives 100 000 and 63 880.
    for (name, n, first) in [
        (
            "emg.txt",
            100_000u64,
            [2055.0f32, 2056.0, 2055.0, 2057.0, 2051.0],
        ),
        (
            "emg_1.txt",
            63_880,
            [2034.0, 2011.0, 2004.0, 2011.0, 2000.0],
        ),
    ] {
        let p = real(name);
        let mut r = kymo::io::open(&p, &opts()).unwrap();
        let h = r.header().clone();
        assert_eq!(h.format, kymo::io::Format::Csv);
        assert_eq!(h.channels.len(), 1, "{name}");
        let c = &h.channels[0];
        assert_eq!((c.label.as_str(), c.unit.as_str()), ("EMG", ""), "{name}");
        assert_eq!(c.rate_hz, 1000.0, "{name}");
        assert_eq!(c.n_samples, n, "{name}");
        assert!(h.comments.iter().any(|c| c == "Resolution:= 12"), "{name}");
        assert!(h.warnings.is_empty(), "{name}: {:?}", h.warnings);
        let mut head = [0.0f32; 5];
        r.read(0, 0, &mut head).unwrap();
        assert_eq!(head, first, "{name}");
        let whole = read_channel(&mut *r, 0, &ReadLimits::default()).unwrap();
        assert_eq!(whole, oracle(&p), "{name}");
    }
}

/// Every file in the fuzz corpus opens (or fails) without a panic, and every channel reads.
#[test]
fn fuzz_corpus_does_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus/text");
    let mut n = 0;
    for rate in [None, Some(100.0)] {
        let small = OpenOptions {
            limits: ReadLimits {
                max_channels: 64,
                max_annotations: 64,
                max_alloc_bytes: 1 << 20,
            },
            rate_hz: rate,
        };
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            n += 1;
            if let Ok(mut r) = TextReader::open(&p, &small) {
                for c in 0..r.header().channels.len() {
                    let _ = read_channel(&mut r, c, &small.limits);
                }
            }
        }
    }
    assert!(n >= 6, "the corpus at {} has only {n} files", dir.display());
}
