//! WAV reader: every sample format written by hound (and by hand where hound writes
//! only one fmt variant), random access, and broken files.

// Tests may panic on a broken fixture; index loops mirror the (row, column) maths.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use std::path::{Path, PathBuf};

use kymo::io::wav::WavReader;
use kymo::io::{read_channel, OpenOptions, ReadLimits, SignalReader};
use kymo::Error;

fn opts() -> OpenOptions {
    OpenOptions::default()
}

/// Writes interleaved integer samples with hound.
fn write_int(path: &Path, channels: u16, bits: u16, samples: &[i32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: 4000,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        if bits == 8 {
            w.write_sample(s as i8).unwrap();
        } else {
            w.write_sample(s).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn write_float(path: &Path, channels: u16, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: 4000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// A WAV built by hand: RIFF header, fmt body as given, optional extra chunks, data.
fn wav_bytes(fmt: &[u8], before_data: &[(&[u8; 4], &[u8])], data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(b"WAVE");
    body.extend_from_slice(b"fmt ");
    body.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    body.extend_from_slice(fmt);
    if fmt.len() % 2 == 1 {
        body.push(0);
    }
    for (id, b) in before_data {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(b.len() as u32).to_le_bytes());
        body.extend_from_slice(b);
        if b.len() % 2 == 1 {
            body.push(0);
        }
    }
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A 16-byte PCMWAVEFORMAT body.
fn fmt16(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
    let align = channels * bits.div_ceil(8);
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    f.extend_from_slice(&align.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f
}

fn tmp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn read_all(r: &mut WavReader) -> Vec<Vec<f32>> {
    let n = r.header().channels.len();
    (0..n)
        .map(|c| read_channel(r, c, &ReadLimits::default()).unwrap())
        .collect()
}

/// Integer test values at the extremes and in between, for `bits` bits.
fn int_values(bits: u16, n: usize) -> Vec<i32> {
    let max = (1i64 << (bits - 1)) - 1;
    let min = -(1i64 << (bits - 1));
    let mut v = vec![
        min as i32,
        max as i32,
        0,
        -1,
        1,
        (max / 2) as i32,
        (min / 3) as i32,
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let span = (max - min + 1) as u64;
        v.push((min + (x % span) as i64) as i32);
    }
    v.truncate(n);
    v
}

#[test]
fn every_integer_format_one_and_three_channels() {
    let dir = tempfile::tempdir().unwrap();
    for bits in [8u16, 16, 24, 32] {
        for channels in [1u16, 3] {
            let frames = 11;
            let samples = int_values(bits, frames * channels as usize);
            let p = dir.path().join(format!("int{bits}_{channels}ch.wav"));
            write_int(&p, channels, bits, &samples);
            let mut r = WavReader::open(&p, &opts()).unwrap();
            let h = r.header().clone();
            assert_eq!(h.channels.len(), channels as usize, "{bits} bits");
            assert!(h.warnings.is_empty(), "{:?}", h.warnings);
            for (i, c) in h.channels.iter().enumerate() {
                assert_eq!(c.label, format!("ch{}", i + 1));
                assert_eq!(c.unit, "");
                assert_eq!(c.rate_hz, 4000.0);
                assert_eq!(c.n_samples, frames as u64);
                assert_eq!(c.physical_range, Some((-1.0, 1.0)));
            }
            let scale = f64::from(1u32 << (bits - 1));
            let got = read_all(&mut r);
            for (i, &s) in samples.iter().enumerate() {
                let ch = i % channels as usize;
                let frame = i / channels as usize;
                let want = (f64::from(s) / scale) as f32;
                assert_eq!(
                    got[ch][frame], want,
                    "{bits} bits, {channels} ch, frame {frame}, ch {ch}"
                );
            }
            // Full scale: the most negative code is exactly -1.
            assert_eq!(got[0][0], -1.0);
        }
    }
}

#[test]
fn float_one_and_three_channels() {
    let dir = tempfile::tempdir().unwrap();
    for channels in [1u16, 3] {
        let samples: Vec<f32> = (0..30 * channels as usize)
            .map(|i| (i as f32 * 0.37).sin() * 1.25 - 0.1)
            .collect();
        let p = dir.path().join(format!("f32_{channels}.wav"));
        write_float(&p, channels, &samples);
        let mut r = WavReader::open(&p, &opts()).unwrap();
        let got = read_all(&mut r);
        for (i, &s) in samples.iter().enumerate() {
            assert_eq!(got[i % channels as usize][i / channels as usize], s);
        }
    }
}

#[test]
fn plain_ieee_float_tag_and_odd_chunks_are_read() {
    // hound writes float as WAVE_FORMAT_EXTENSIBLE; this is the plain tag 3, with an
    // odd-length LIST chunk (pad byte) before the data and a chunk after it.
    let dir = tempfile::tempdir().unwrap();
    let vals = [0.5f32, -0.25, 3.0, -1.0];
    let data: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut bytes = wav_bytes(&fmt16(3, 2, 500, 32), &[(b"LIST", b"odd")], &data);
    bytes.extend_from_slice(b"JUNK\x02\x00\x00\x00ab");
    let p = tmp(&dir, "float3.wav", &bytes);
    let mut r = WavReader::open(&p, &opts()).unwrap();
    assert_eq!(r.header().channels[0].rate_hz, 500.0);
    let got = read_all(&mut r);
    assert_eq!(got, vec![vec![0.5, 3.0], vec![-0.25, -1.0]]);
    // The chunk appended after the data makes the RIFF size disagree: a warning only.
    let w = &r.header().warnings;
    assert!(w.len() == 1 && w[0].contains("RIFF size"), "{w:?}");
}

#[test]
fn random_access_windows_match_the_whole_read() {
    let dir = tempfile::tempdir().unwrap();
    let channels = 3u16;
    let frames = 50_000;
    let samples = int_values(16, frames * channels as usize);
    let p = dir.path().join("long.wav");
    write_int(&p, channels, 16, &samples);
    let mut r = WavReader::open(&p, &opts()).unwrap();
    let whole = read_all(&mut r);
    // Windows crossing the 64 KiB read blocks (10922 frames of 6 bytes), read backwards too.
    let windows = [
        (0usize, 1usize),
        (49_999, 1),
        (10_920, 5),
        (123, 30_000),
        (40_000, 10_000),
        (7, 0),
        (21_844, 21_845),
    ];
    for ch in 0..channels as usize {
        for &(start, len) in windows.iter().rev() {
            let mut out = vec![f32::NAN; len];
            r.read(ch, start as u64, &mut out).unwrap();
            assert_eq!(
                out,
                whole[ch][start..start + len],
                "ch {ch} window {start}+{len}"
            );
        }
    }
    let mut out = vec![0.0; 2];
    let e = r.read(0, 49_999, &mut out).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    let e = r.read(3, 0, &mut out).unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
}

#[test]
fn open_dispatches_to_wav() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.bin");
    write_int(&p, 1, 16, &[1, 2, 3]);
    let r = kymo::io::open(&p, &opts()).unwrap();
    assert_eq!(r.header().format, kymo::io::Format::Wav);
}

fn valid_16bit_stereo() -> Vec<u8> {
    let data: Vec<u8> = (0..40i16).flat_map(|v| (v * 100).to_le_bytes()).collect();
    wav_bytes(&fmt16(1, 2, 1000, 16), &[], &data)
}

#[test]
fn truncated_data_reads_what_is_there_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = valid_16bit_stereo();
    b.truncate(b.len() - 5); // 80 data bytes declared, 75 present: 18 whole frames
    let p = tmp(&dir, "trunc.wav", &b);
    let mut r = WavReader::open(&p, &opts()).unwrap();
    let h = r.header().clone();
    assert_eq!(h.channels[0].n_samples, 18);
    let w = h.warnings.join(" | ");
    assert!(
        w.contains("declares 80 bytes") && w.contains("only 75"),
        "{w}"
    );
    let got = read_channel(&mut r, 1, &ReadLimits::default()).unwrap();
    assert_eq!(got.len(), 18);
    assert_eq!(got[17], 3500.0 / 32768.0);
}

#[test]
fn placeholder_data_length_uses_the_rest_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = valid_16bit_stereo();
    let at = b.len() - 80 - 4;
    b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = tmp(&dir, "stream.wav", &b);
    let r = WavReader::open(&p, &opts()).unwrap();
    assert_eq!(r.header().channels[0].n_samples, 20);
    assert!(r
        .header()
        .warnings
        .iter()
        .any(|w| w.contains("placeholder")));
}

fn malformed(p: &Path) -> String {
    match WavReader::open(p, &opts()) {
        Err(Error::Malformed { what, .. }) => what,
        Err(e) => panic!("expected Malformed, got {e:?}"),
        Ok(_) => panic!("expected Malformed, got Ok"),
    }
}

fn unsupported(p: &Path) -> String {
    match WavReader::open(p, &opts()) {
        Err(Error::Unsupported { what, .. }) => what,
        Err(e) => panic!("expected Unsupported, got {e:?}"),
        Ok(_) => panic!("expected Unsupported, got Ok"),
    }
}

#[test]
fn broken_headers_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();

    let p = tmp(&dir, "empty.wav", b"");
    assert!(malformed(&p).contains("0 bytes"));
    // Through `open` the empty file is refused before the reader runs.
    assert!(matches!(
        kymo::io::open(&p, &opts()),
        Err(Error::Malformed { .. })
    ));

    let full = valid_16bit_stereo();
    let p = tmp(&dir, "cut_in_fmt.wav", &full[..30]);
    let m = malformed(&p);
    assert!(
        m.contains("fmt chunk") && m.contains("declares 16 bytes"),
        "{m}"
    );

    let p = tmp(&dir, "cut_before_data.wav", &full[..40]);
    let m = malformed(&p);
    assert!(m.contains("no data chunk"), "{m}");

    let p = tmp(&dir, "not_wave.wav", b"RIFF\x04\x00\x00\x00AVI LIST");
    assert!(malformed(&p).contains("not a RIFF WAVE header"));

    let p = tmp(
        &dir,
        "zero_ch.wav",
        &wav_bytes(&fmt16(1, 0, 1000, 16), &[], &[]),
    );
    let m = malformed(&p);
    assert!(
        m.contains("number of channels") && m.contains("is 0"),
        "{m}"
    );

    let p = tmp(
        &dir,
        "zero_rate.wav",
        &wav_bytes(&fmt16(1, 1, 0, 16), &[], &[]),
    );
    assert!(malformed(&p).contains("sample rate"));

    let p = tmp(
        &dir,
        "bits12.wav",
        &wav_bytes(&fmt16(1, 1, 1000, 12), &[], &[0; 4]),
    );
    let m = unsupported(&p);
    assert!(
        m.contains("bits per sample 12") && m.contains("8, 16, 24 or 32 (integer) or 32 (float)"),
        "{m}"
    );

    let p = tmp(
        &dir,
        "float64.wav",
        &wav_bytes(&fmt16(3, 1, 1000, 64), &[], &[0; 8]),
    );
    assert!(unsupported(&p).contains("bits per sample 64 (float)"));

    let p = tmp(
        &dir,
        "adpcm.wav",
        &wav_bytes(&fmt16(2, 1, 1000, 4), &[], &[0; 4]),
    );
    let m = unsupported(&p);
    assert!(m.contains("format tag") && m.contains("ADPCM"), "{m}");

    let mut f = fmt16(1, 2, 1000, 16);
    f[12] = 3; // block align 3 for 2 × 16 bits
    let p = tmp(&dir, "align.wav", &wav_bytes(&f, &[], &[0; 12]));
    assert!(malformed(&p).contains("block align"));

    let p = tmp(
        &dir,
        "short_fmt.wav",
        &wav_bytes(&fmt16(1, 1, 1000, 16)[..14], &[], &[]),
    );
    assert!(malformed(&p).contains("fewer than the 16"));

    let mut b = full.clone();
    b[..4].copy_from_slice(b"RF64");
    let p = tmp(&dir, "rf64.wav", &b);
    assert!(unsupported(&p).contains("RF64"));
}

#[test]
fn redundant_bytes_per_second_is_only_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = fmt16(1, 1, 1000, 16);
    f[8..12].copy_from_slice(&7u32.to_le_bytes());
    let p = tmp(&dir, "avg.wav", &wav_bytes(&f, &[], &[0, 0x40]));
    let r = WavReader::open(&p, &opts()).unwrap();
    assert!(r
        .header()
        .warnings
        .iter()
        .any(|w| w.contains("bytes per second")));
}

#[test]
fn wider_container_than_valid_bits_is_refused() {
    // WAVE_FORMAT_EXTENSIBLE, 24 valid bits in a 32-bit container.
    let dir = tempfile::tempdir().unwrap();
    let mut f = fmt16(0xfffe, 1, 1000, 32);
    f.extend_from_slice(&22u16.to_le_bytes());
    f.extend_from_slice(&24u16.to_le_bytes());
    f.extend_from_slice(&4u32.to_le_bytes());
    f.extend_from_slice(&[
        1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
    ]);
    let p = tmp(&dir, "valid24.wav", &wav_bytes(&f, &[], &[0; 8]));
    assert!(unsupported(&p).contains("valid bits per sample"));
}

#[test]
fn too_many_channels_for_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("3ch.wav");
    write_int(&p, 3, 16, &[0; 6]);
    let o = OpenOptions {
        limits: ReadLimits {
            max_channels: 2,
            ..ReadLimits::default()
        },
        ..OpenOptions::default()
    };
    assert!(matches!(WavReader::open(&p, &o), Err(Error::Limit { .. })));
}

/// Every file in the fuzz corpus opens (or fails) without a panic, and every channel reads.
#[test]
fn fuzz_corpus_does_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus/wav");
    let small = OpenOptions {
        limits: ReadLimits {
            max_channels: 64,
            max_annotations: 64,
            max_alloc_bytes: 1 << 20,
        },
        rate_hz: None,
    };
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        n += 1;
        if let Ok(mut r) = WavReader::open(&p, &small) {
            for c in 0..r.header().channels.len() {
                let _ = read_channel(&mut r, c, &small.limits);
            }
        }
    }
    assert!(n >= 3, "the corpus at {} has only {n} files", dir.display());
}
