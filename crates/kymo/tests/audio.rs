//! Audio: the filtered signal as 44.1 kHz WAV (opens with hound, right rate and length,
//! normalised without clipping, timing kept) and excerpts equal to whole-signal filtering.
#![allow(clippy::unwrap_used)]

use kymo::analyze::{analyze_samples, AnalysisConfig, ChannelInfo};
use kymo::audio::{self, FilteredChannel, OUTPUT_RATE_HZ};
use kymo::dsp::{Filter, FilterConfig, Scratch};
use kymo::simulate::{self, truth::Truth, VecSink};

/// The ceiling no sample passes: −1 dB of 16-bit full scale, rounded.
fn ceiling() -> f64 {
    (i16::MAX as f64 * 10f64.powf(-audio::HEADROOM_DB / 20.0)).round()
}

/// Where a file's level sits: −3 dB of 16-bit full scale.
fn level() -> f64 {
    i16::MAX as f64 * 10f64.powf(audio::LEVEL_DBFS / 20.0)
}

fn peak_of(s: &[i16]) -> f64 {
    s.iter().map(|v| (*v as i32).abs()).max().unwrap_or(0) as f64
}

fn read_wav(path: &std::path::Path) -> (hound::WavSpec, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let s: Vec<i16> = r.samples::<i16>().map(|x| x.unwrap()).collect();
    (spec, s)
}

/// A deterministic noise in ±`a` (no RNG dependency in the test).
fn hash_noise(i: usize, a: f32) -> f32 {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    (h as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * a
}

#[test]
fn a_simulated_channel_plays_at_44k1_without_clipping() {
    let mut sc = simulate::builtin("myokymia-facial").unwrap();
    sc.seconds = 6.0;
    let mut sink = VecSink::default();
    let mut truth = Truth::default();
    simulate::run(&sc, 5, &mut sink, &mut truth).unwrap();
    let x = sink.channels.swap_remove(0);
    let rate = truth.recording.rate_hz;
    let info = ChannelInfo {
        index: 0,
        label: "sim".into(),
        unit: "uV".into(),
        rate_hz: rate,
        n_samples: x.len() as u64,
        physical_range: None,
    };
    let cfg = AnalysisConfig::default();
    let ch = analyze_samples(&info, &x, &cfg.clone().check().unwrap()).unwrap();
    let fc = FilteredChannel::new(&cfg, &ch).unwrap();
    let mut read = |_c: usize, s: u64, buf: &mut [f32]| {
        buf.copy_from_slice(&x[s as usize..s as usize + buf.len()]);
        Ok(())
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/whole.wav");
    let w = audio::write_wav(&path, &fc, &mut read, 0..ch.n_samples).unwrap();
    let (spec, s) = read_wav(&path);
    assert_eq!(spec.sample_rate, OUTPUT_RATE_HZ);
    assert_eq!(spec.channels, 1);
    assert_eq!(spec.bits_per_sample, 16);
    // 6 s at 20 kHz → exactly 6 s at 44.1 kHz.
    let expect = (x.len() as f64 * OUTPUT_RATE_HZ as f64 / rate).ceil() as usize;
    assert_eq!(s.len(), expect);
    assert_eq!(w.samples as usize, expect);
    let peak = peak_of(&s);
    // Normalised: the largest sample at least at the level, never above the ceiling;
    // nothing at full scale. Without an outlier the file is linear, its peak the level.
    assert!(peak >= level() - 1.0 && peak <= ceiling(), "peak {peak}");
    if w.limited_samples == 0 {
        assert!((peak - level()).abs() <= 1.0, "peak {peak}");
    }
    assert!(s.iter().all(|v| *v != i16::MAX && *v != i16::MIN));
    // Only the WAV is left in the folder (no temporary file).
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("whole.wav")]);

    // A clip: 2.5 s from 1.0 s, normalised on its own.
    let clip = dir.path().join("clip.wav");
    let c = audio::write_clip(&clip, &fc, &mut read, 1.0, 3.5).unwrap();
    let (_, cs) = read_wav(&clip);
    assert_eq!(cs.len(), (2.5 * OUTPUT_RATE_HZ as f64).round() as usize);
    assert!((c.start_s - 1.0).abs() < 1e-9);
    let cpeak = peak_of(&cs);
    assert!(
        cpeak >= level() - 1.0 && cpeak <= ceiling(),
        "clip peak {cpeak}"
    );
}

/// A pop 100 times larger than the signal (a 50 mV electrode pop in 500 µV potentials)
/// must not make the rest quiet. Flagged as artefact (as the analysis lists it), the
/// signal keeps at least [`FLAGGED_MIN_FS`] of full scale; not flagged, the per-block
/// level still keeps it at [`UNFLAGGED_MIN_FS`] (whole-file peak normalisation put it at
/// 0.9 % of full scale). The pop goes through the soft limiter: no sample
/// passes the ceiling.
#[test]
fn an_electrode_pop_does_not_quieten_the_signal() {
    /// The signal's peak with the pop flagged: the level sits at −3 dBFS (0.71); the
    /// filtered pulses' peaks vary by a few per cent with their position on the sample
    /// grid, so 0.6 (−4.4 dBFS) leaves room.
    const FLAGGED_MIN_FS: f64 = 0.6;
    /// The signal's peak with the pop not flagged: the pop fills one or two of the 30
    /// one-second blocks, above the 95th percentile of block peaks, so the level is a
    /// pulse's peak as when flagged.
    const UNFLAGGED_MIN_FS: f64 = 0.6;
    let rate = 20_000.0;
    let n = 600_000usize; // 30 s
    let pop_s = 15.3;
    let mut x: Vec<f32> = (0..n).map(|i| hash_noise(i, 5.0)).collect();
    // Gaussian pulses (σ 0.3 ms, 500 µV) every 50 ms: a 20 Hz motor unit.
    for k in 0..600 {
        let t = 0.025 + k as f64 * 0.05;
        let c = (t * rate) as usize;
        let lo = c.saturating_sub(40);
        for (i, v) in x.iter_mut().enumerate().take((c + 40).min(n)).skip(lo) {
            let d = (i as f64 / rate - t) / 0.3e-3;
            *v += (500.0 * (-0.5 * d * d).exp()) as f32;
        }
    }
    // The pop: a 50 mV step decaying over 2 ms.
    let p0 = (pop_s * rate) as usize;
    for (k, v) in x[p0..p0 + 200].iter_mut().enumerate() {
        *v += (50_000.0 * (-(k as f64) / 40.0).exp()) as f32;
    }
    let fcfg = FilterConfig::default().check(rate).unwrap();
    let fc = FilteredChannel::with_filter(Filter::new(&fcfg, None), 0, n as u64, 1.0);
    let mut read = |_c: usize, s: u64, buf: &mut [f32]| {
        buf.copy_from_slice(&x[s as usize..s as usize + buf.len()]);
        Ok(())
    };
    let dir = tempfile::tempdir().unwrap();
    let out = OUTPUT_RATE_HZ as f64;
    // The signal's loudness away from the pop (±0.3 s around it left out).
    let away = |s: &[i16]| {
        let (a, b) = (
            ((pop_s - 0.3) * out) as usize,
            ((pop_s + 0.3) * out) as usize,
        );
        peak_of(&s[..a]).max(peak_of(&s[b..])) / i16::MAX as f64
    };
    for (name, flagged, min_fs) in [
        ("flagged", true, FLAGGED_MIN_FS),
        ("unflagged", false, UNFLAGGED_MIN_FS),
    ] {
        let fc = if flagged {
            fc.clone().excluding(&[(pop_s, pop_s + 0.01)])
        } else {
            fc.clone()
        };
        let path = dir.path().join(format!("{name}.wav"));
        let w = audio::write_wav(&path, &fc, &mut read, 0..n as u64).unwrap();
        let (spec, s) = read_wav(&path);
        assert_eq!(spec.sample_rate, OUTPUT_RATE_HZ);
        assert_eq!(s.len() as u64, w.samples);
        let sig = away(&s);
        assert!(
            sig >= min_fs,
            "{name}: the signal peaks at {sig:.3} of full scale, below {min_fs} (level {:.0} µV, peak {:.0} µV)",
            w.level_uv,
            w.peak_uv
        );
        // The pop is limited, never clipped.
        assert!(peak_of(&s) <= ceiling(), "{name}: {}", peak_of(&s));
        assert!(w.limited_samples > 0, "{name}: the pop was not limited");
        assert!(w.peak_uv > 20.0 * w.level_uv, "{name}");
        if flagged {
            assert!((w.excluded_s - (0.01 + 2.0 * audio::ARTEFACT_MARGIN_S)).abs() < 1e-3);
        } else {
            assert_eq!(w.excluded_s, 0.0);
        }
    }
}

#[test]
fn the_soft_limiter_is_linear_below_the_knee_and_never_passes_the_ceiling() {
    let (knee, ceil) = (0.7, 0.89);
    for y in [-0.7, -0.3, 0.0, 0.2, 0.7] {
        assert_eq!(audio::soft_limit(y, knee, ceil), y);
    }
    let mut prev = knee;
    for k in 1..200 {
        let y = knee + k as f64 * 0.05;
        let o = audio::soft_limit(y, knee, ceil);
        assert!(o >= prev && o <= ceil, "{y} → {o}");
        assert_eq!(audio::soft_limit(-y, knee, ceil), -o);
        prev = o;
    }
    // Slope 1 at the knee: continuous and smooth.
    let e = 1e-6;
    assert!(((audio::soft_limit(knee + e, knee, ceil) - knee) / e - 1.0).abs() < 1e-3);
    assert!(audio::soft_limit(1e9, knee, ceil) <= ceil);
}

#[test]
fn a_spike_train_keeps_its_timing_through_filter_and_resampler() {
    // Gaussian pulses (σ 0.2 ms, symmetric, so the zero-phase filter keeps their peaks in
    // place) at irregular known times in a 10 kHz recording (a rate with no simple ratio
    // to 44.1 kHz). Each peak in the WAV lies within one output sample of its time.
    let rate = 10_000.0;
    let n = 30_000usize;
    let times: Vec<f64> = (0..20)
        .map(|k| 0.1 + k as f64 * 0.137 + 0.0011 * (k % 3) as f64)
        .collect();
    let mut x: Vec<f32> = (0..n).map(|i| hash_noise(i, 1.0)).collect();
    for &t in &times {
        for (i, v) in x.iter_mut().enumerate() {
            let d = (i as f64 / rate - t) / 0.2e-3;
            if d.abs() < 8.0 {
                *v += (500.0 * (-0.5 * d * d).exp()) as f32;
            }
        }
    }
    let fcfg = FilterConfig::default().check(rate).unwrap();
    let fc = FilteredChannel::with_filter(Filter::new(&fcfg, None), 0, n as u64, 1.0);
    let mut read = |_c: usize, s: u64, buf: &mut [f32]| {
        buf.copy_from_slice(&x[s as usize..s as usize + buf.len()]);
        Ok(())
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.wav");
    audio::write_wav(&path, &fc, &mut read, 0..n as u64).unwrap();
    let (_, s) = read_wav(&path);
    let out = OUTPUT_RATE_HZ as f64;
    for &t in &times {
        let c = (t * out).round() as usize;
        let (best, _) = (c - 40..=c + 40)
            .map(|i| (i, s[i]))
            .max_by_key(|p| p.1)
            .unwrap();
        let err = (best as f64 / out - t).abs() * out;
        assert!(
            err <= 1.0,
            "pulse at {t} s: peak off by {err:.2} output samples"
        );
    }
}

#[test]
fn excerpts_equal_whole_signal_filtering() {
    let rate = 20_000.0;
    let n = 200_000usize;
    let x: Vec<f32> = (0..n)
        .map(|i| hash_noise(i, 50.0) + 30.0 * (i as f32 * 0.0157).sin())
        .collect();
    let fcfg = FilterConfig::default().check(rate).unwrap();
    let filter = Filter::new(&fcfg, Some(50.0));
    let mut whole = vec![0.0f32; n];
    filter.filtfilt(&x, &mut whole, &mut Scratch::default());
    let fc = FilteredChannel::with_filter(filter, 0, n as u64, 1.0);
    let mut read = |_c: usize, s: u64, buf: &mut [f32]| {
        buf.copy_from_slice(&x[s as usize..s as usize + buf.len()]);
        Ok(())
    };
    let scale = whole.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for r in [
        0..4000u64,
        90_000..94_000,
        196_000..200_000,
        199_990..250_000,
    ] {
        let e = fc.excerpt(&mut read, r.clone()).unwrap();
        let end = (r.end as usize).min(n);
        assert_eq!(e.len(), end - r.start as usize);
        let worst = e
            .iter()
            .zip(&whole[r.start as usize..end])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // The block-wise bound (dsp::SETTLE_EPS) relative to the signal, with f32 slack.
        assert!(worst <= 1e-4 * scale, "{r:?}: {worst} of {scale}");
    }
}

#[test]
fn channel_stems_are_safe_file_names() {
    assert_eq!(audio::channel_stem(0, "EMG 1"), "ch1-EMG_1");
    assert_eq!(audio::channel_stem(2, "../../etc/passwd"), "ch3-etc_passwd");
    assert_eq!(audio::channel_stem(1, "µV"), "ch2-V");
    assert_eq!(audio::channel_stem(4, "<>"), "ch5");
}

/// A clip focused on a small discharge (50 µV potentials at 10 Hz) beside a large unit
/// (1 mV at 3 Hz): the small potentials set the level, so they play at least at
/// [`FOCUS_MIN_FS`] of full scale; the large ones pass the limiter and nothing clips.
#[test]
fn a_focused_clip_is_set_by_the_discharge_it_is_about() {
    /// The level sits at −3 dBFS (0.71); 0.6 allows for the filtered pulses' peaks
    /// varying with their position on the sample grid.
    const FOCUS_MIN_FS: f64 = 0.6;
    let rate = 20_000.0;
    let n = 60_000usize; // 3 s
    let mut x: Vec<f32> = (0..n).map(|i| hash_noise(i, 2.0)).collect();
    let pulse = |x: &mut [f32], t: f64, amp: f64| {
        let c = (t * rate) as usize;
        let lo = c.saturating_sub(40);
        for (i, v) in x.iter_mut().enumerate().take((c + 40).min(n)).skip(lo) {
            let d = (i as f64 / rate - t) / 0.3e-3;
            *v += (amp * (-0.5 * d * d).exp()) as f32;
        }
    };
    let small: Vec<f64> = (0..29).map(|k| 0.05 + k as f64 * 0.1).collect();
    for &t in &small {
        pulse(&mut x, t, 50.0);
    }
    // 50 ms from the nearest small potential.
    let large: Vec<f64> = (0..9).map(|k| 0.1 + k as f64 * 0.3).collect();
    for &t in &large {
        pulse(&mut x, t, 1000.0);
    }
    let fcfg = FilterConfig::default().check(rate).unwrap();
    let fc = FilteredChannel::with_filter(Filter::new(&fcfg, None), 0, n as u64, 1.0);
    let mut read = |_c: usize, s: u64, buf: &mut [f32]| {
        buf.copy_from_slice(&x[s as usize..s as usize + buf.len()]);
        Ok(())
    };
    let focus: Vec<(f64, f64)> = small.iter().map(|t| (t - 0.003, t + 0.003)).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("focus.wav");
    let w = audio::write_clip(&path, &fc.clone().focusing(&focus), &mut read, 0.0, 3.0).unwrap();
    let (_, s) = read_wav(&path);
    let out = OUTPUT_RATE_HZ as f64;
    let near = |t: f64| {
        let c = (t * out) as usize;
        peak_of(&s[c - 60..c + 60]) / i16::MAX as f64
    };
    let quietest = small.iter().map(|&t| near(t)).fold(f64::MAX, f64::min);
    assert!(
        quietest >= FOCUS_MIN_FS,
        "the focused potentials play at {quietest:.3} of full scale (level {:.0} µV)",
        w.level_uv
    );
    assert!(peak_of(&s) <= ceiling());
    assert!(w.limited_samples > 0, "the large unit was not limited");
    // Without the focus, the large unit sets the level and the small one is 20 times
    // quieter.
    let plain = dir.path().join("plain.wav");
    audio::write_clip(&plain, &fc, &mut read, 0.0, 3.0).unwrap();
    let (_, p) = read_wav(&plain);
    let c = (small[5] * out) as usize;
    assert!(peak_of(&p[c - 60..c + 60]) / (i16::MAX as f64) < 0.1);
    // A floor under the level (the report's few noise σ) holds when the focus is quieter.
    let floored = dir.path().join("floored.wav");
    let w = audio::write_clip(
        &floored,
        &fc.clone().focusing(&focus).with_min_level(400.0),
        &mut read,
        0.0,
        3.0,
    )
    .unwrap();
    assert_eq!(w.level_uv, 400.0);
}
