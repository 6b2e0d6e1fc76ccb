//! Unit tests of the detection rules on small hand-made signals; the accuracy tests on
//! synthetic recordings are in `tests/detect.rs`.

use super::*;

use crate::dsp::tests::rng::Rng;

fn cfg(rate: f64) -> ValidDetectConfig {
    DetectConfig::default().check(rate).unwrap()
}

#[test]
fn defaults_follow_the_kind() {
    let c = cfg(20_000.0);
    assert_eq!(c.kind, Kind::Needle);
    assert_eq!((c.refractory, c.align), (20, 20)); // 1 ms
    assert_eq!((c.waveform_pre, c.waveform_post), (80, 120)); // 4 ms, 6 ms
    let c = cfg(2000.0);
    assert_eq!(c.kind, Kind::Surface);
    assert_eq!((c.refractory, c.align), (10, 10)); // 5 ms
    assert_eq!((c.waveform_pre, c.waveform_post), (20, 30));
    assert_eq!(c.threshold_k, 5.0);
    assert_eq!(c.polarity, Polarities::Both);
}

#[test]
fn config_errors_name_field_and_value() {
    let err = |c: DetectConfig| c.check(20_000.0).unwrap_err().to_string();
    let m = err(DetectConfig {
        threshold_k: 0.0,
        ..Default::default()
    });
    assert_eq!(m, "detect: threshold 0 σ is not between 0 and 100");
    let m = err(DetectConfig {
        refractory_ms: Some(-1.0),
        ..Default::default()
    });
    assert_eq!(m, "detect: dead time -1 ms is not between 0 and 1000 ms");
    let m = err(DetectConfig {
        waveform_post_ms: Some(f64::INFINITY),
        ..Default::default()
    });
    assert!(m.contains("after the peak inf ms"), "{m}");
    let m = err(DetectConfig {
        sigma_samples: 10,
        ..Default::default()
    });
    assert!(m.contains("10") && m.contains("100"), "{m}");
    let m = err(DetectConfig {
        artefacts: ArtefactConfig {
            pop_max_ms: 5.0,
            ..Default::default()
        },
        ..Default::default()
    });
    assert!(m.contains("5 ms") && m.contains("20 ms"), "{m}");
    let m = err(DetectConfig {
        artefacts: ArtefactConfig {
            clip_tolerance: 0.7,
            ..Default::default()
        },
        ..Default::default()
    });
    assert!(m.contains("0.7"), "{m}");
    let m = err(DetectConfig {
        artefacts: ArtefactConfig {
            margin_ms: f64::NAN,
            ..Default::default()
        },
        ..Default::default()
    });
    assert!(m.contains("margin NaN ms"), "{m}");
    let m = DetectConfig::default().check(0.0).unwrap_err().to_string();
    assert!(m.contains("0 Hz"), "{m}");
}

#[test]
fn config_serde() {
    let c: DetectConfig = serde_json::from_str(
        r#"{"threshold_k": 4, "polarity": "negative", "artefacts": {"pop_step_sigma": 0}}"#,
    )
    .unwrap();
    assert_eq!(c.threshold_k, 4.0);
    assert_eq!(c.polarity, Polarities::Negative);
    assert_eq!(c.artefacts.pop_step_sigma, 0.0);
    assert_eq!(c.artefacts.margin_ms, 5.0);
    assert!(serde_json::from_str::<DetectConfig>(r#"{"treshold_k": 4}"#).is_err());
    let back: DetectConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn sigma_is_mad_over_0_6745_and_skips_artefacts() {
    let mut rng = Rng::new(3);
    let mut x = rng.noise(200_000, 2.0);
    let mut s = Vec::new();
    let sig = noise::sigma(&x, 0, &[], 32_768, &mut s);
    assert!((sig - 2.0).abs() < 0.05, "{sig}");
    // A huge artefact over a third of the signal: excluded, σ unchanged.
    for v in &mut x[50_000..120_000] {
        *v *= 100.0;
    }
    let art = [Artefact {
        start: 50_000,
        end: 120_000,
        kind: ArtefactKind::Movement,
    }];
    let sig = noise::sigma(&x, 0, &art, 32_768, &mut s);
    assert!((sig - 2.0).abs() < 0.06, "{sig}");
    // Offsets: the same artefact at recording sample 1_050_000 for a block starting at 1 M.
    let art = [Artefact {
        start: 1_050_000,
        end: 1_120_000,
        kind: ArtefactKind::Movement,
    }];
    let sig = noise::sigma(&x, 1_000_000, &art, 32_768, &mut s);
    assert!((sig - 2.0).abs() < 0.06, "{sig}");
    // Mostly exact zeros: the RMS fallback instead of σ = 0.
    let mut z = vec![0.0f32; 1000];
    z[10] = 3.0;
    let sig = noise::sigma(&z, 0, &[], 32_768, &mut s);
    assert!(sig > 0.0);
    assert_eq!(noise::sigma(&[], 0, &[], 100, &mut s), 0.0);
    assert_eq!(noise::sigma(&[0.0; 50], 0, &[], 100, &mut s), 0.0);
}

#[test]
fn quiet_windows_find_the_noise_under_dense_potentials() {
    let mut rng = Rng::new(8);
    let (n, window) = (400_000, 400);
    let mut x = rng.noise(n, 2.0);
    let mut s = Vec::new();
    // Noise alone: the quiet windows' σ agrees with the median's.
    let quiet = noise::quiet_sigma(&x, 0, &[], window, 0.1, &mut s).unwrap();
    assert!((quiet - 2.0).abs() < 0.06, "{quiet}");
    // Potentials (±40, 1 ms) every 2.5 ms over the first 80 % of the signal: the median
    // counts them, the quiet windows of the last 20 % do not.
    for start in (0..n * 4 / 5).step_by(50) {
        for (k, v) in x[start..start + 20].iter_mut().enumerate() {
            *v += 40.0 * (std::f32::consts::PI * k as f32 / 10.0).sin();
        }
    }
    let median = noise::sigma(&x, 0, &[], 32_768, &mut s);
    assert!(median > 3.0, "{median}");
    // With a fifth of the windows quiet, the 10 % quantile is their median, which the
    // correction for a 10 % quantile of noise overstates by about 1.28/√(2·399) = 6 %.
    let quiet = noise::quiet_sigma(&x, 0, &[], window, 0.1, &mut s).unwrap();
    assert!((1.97..2.2).contains(&quiet), "{quiet}");
    // Windows touching an artefact are skipped: with the quiet part flagged, no window
    // is quiet, and σ is that of the busy part.
    let art = [Artefact {
        start: (n * 4 / 5) as u64,
        end: n as u64,
        kind: ArtefactKind::Movement,
    }];
    let busy = noise::quiet_sigma(&x, 0, &art, window, 0.1, &mut s).unwrap();
    assert!(busy > 5.0, "{busy}");
    // Too few windows, or the estimate switched off: none.
    assert_eq!(
        noise::quiet_sigma(&x[..window * 10], 0, &[], window, 0.1, &mut s),
        None
    );
    assert_eq!(noise::quiet_sigma(&x, 0, &[], window, 0.0, &mut s), None);
}

#[test]
fn extremum_by_polarity() {
    let w = [1.0, -3.0, 4.0, -4.0, 2.0];
    assert_eq!(extremum::<NEG>(&w), 1 + 2);
    assert_eq!(extremum::<POS>(&w), 2);
    assert_eq!(extremum::<BOTH>(&w), 2); // first of equal magnitudes
}

fn spike_block(y: &[f32]) -> Detection {
    let c = DetectConfig {
        artefacts: ArtefactConfig {
            pop_step_sigma: 0.0,
            movement_sigma: 0.0,
            flat_min_ms: 0.0,
            ..Default::default()
        },
        ..Default::default()
    }
    .check(20_000.0)
    .unwrap();
    detect(y, y, None, &c)
}

#[test]
fn crossing_alignment_and_dead_time() {
    let mut rng = Rng::new(5);
    let mut y = rng.noise(20_000, 1.0);
    // Biphasic: small positive phase crossing first, larger negative 10 samples later.
    y[1000] = 6.0;
    y[1010] = -9.0;
    // Two spikes 15 samples (0.75 ms) apart: the second falls in the 1 ms dead time.
    y[3000] = -8.0;
    y[3015] = -8.0;
    // Two spikes 30 samples (1.5 ms) apart: both found.
    y[5000] = 8.0;
    y[5030] = 8.0;
    let d = spike_block(&y);
    let at: Vec<u64> = d.spikes.iter().map(|s| s.sample).collect();
    assert_eq!(at, vec![1010, 3000, 5000, 5030], "{:?}", d.spikes);
    assert_eq!(d.spikes[0].polarity, Polarity::Negative);
    assert_eq!(d.spikes[0].amplitude, -9.0);
    assert_eq!(d.spikes[2].polarity, Polarity::Positive);
    assert!((d.spikes[3].time_s - 5030.0 / 20_000.0).abs() < 1e-12);
}

#[test]
fn one_polarity_only() {
    let mut y = vec![0.1f32; 4000];
    for (i, v) in y.iter_mut().enumerate() {
        *v = if i % 2 == 0 { 0.1 } else { -0.1 };
    }
    y[1000] = -5.0;
    y[2000] = 5.0;
    for (pol, want) in [
        (Polarities::Negative, vec![1000]),
        (Polarities::Positive, vec![2000]),
        (Polarities::Both, vec![1000, 2000]),
    ] {
        let c = DetectConfig {
            polarity: pol,
            ..Default::default()
        }
        .check(20_000.0)
        .unwrap();
        let d = detect(&y, &y, None, &c);
        let at: Vec<u64> = d.spikes.iter().map(|s| s.sample).collect();
        assert_eq!(at, want, "{pol:?}");
    }
}

#[test]
fn dead_time_carries_across_blocks() {
    let mut y = vec![0.0f32; 2000];
    for (i, v) in y.iter_mut().enumerate() {
        *v = if i % 2 == 0 { 0.1 } else { -0.1 };
    }
    y[999] = -5.0; // last sample of block 1
    y[1005] = -5.0; // 6 samples later, in block 2: inside the dead time
    y[1500] = -5.0;
    let c = cfg(20_000.0);
    let mut d = Detector::new(&c);
    let mut out = Detection::default();
    for own in [(0u64, 1000u64), (1000, 2000)] {
        d.process(
            &BlockData {
                raw: &y,
                raw_first: 0,
                filtered: &y,
                filtered_first: 0,
                own,
            },
            None,
            &[],
            &mut out,
        );
    }
    let at: Vec<u64> = out.spikes.iter().map(|s| s.sample).collect();
    assert_eq!(at, vec![999, 1500]);
    assert_eq!(out.noise.len(), 2);
}

#[test]
fn waveforms_are_aligned_rows() {
    let y: Vec<f32> = (0..100).map(|i| i as f32).collect();
    let sp = |s: u64| Spike {
        sample: s,
        time_s: 0.0,
        amplitude: 0.0,
        polarity: Polarity::Positive,
    };
    let spikes = [sp(1010), sp(1050), sp(1098)];
    let mut out = vec![f32::NAN; 3 * 5];
    // `y` holds recording samples 1000..1100; pre 2, post 3.
    let bad = extract_waveforms(&y, 1000, &spikes, 2, 3, &mut out).unwrap();
    assert_eq!(&out[0..5], &[8.0, 9.0, 10.0, 11.0, 12.0]);
    assert_eq!(&out[5..10], &[48.0, 49.0, 50.0, 51.0, 52.0]);
    assert_eq!(&out[10..15], &[96.0, 97.0, 98.0, 99.0, 0.0]);
    assert_eq!(bad, 1);
    let e = extract_waveforms(&y, 1000, &spikes, 2, 3, &mut out[..14]).unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    assert!(
        e.to_string().contains("14") && e.to_string().contains("15"),
        "{e}"
    );
    // A spike entirely outside the slice.
    let bad = extract_waveforms(&y, 1000, &[sp(5)], 2, 3, &mut out).unwrap();
    assert_eq!((bad, &out[..5]), (1, &[0.0f32; 5][..]));
}

#[test]
fn clipping_at_physical_limits_and_flat_tops() {
    let rate = 20_000.0;
    let c = cfg(rate);
    let mut rng = Rng::new(8);
    let mut raw = rng.noise(40_000, 1.0);
    for v in &mut raw[10_000..10_050] {
        *v = 200.0; // at the declared maximum
    }
    for v in &mut raw[30_000..30_100] {
        *v = -150.0; // flat at the block minimum, not a declared limit
    }
    let d = detect(&raw, &raw, Some((-1000.0, 200.0)), &c);
    let clips: Vec<(u64, u64)> = d
        .artefacts
        .iter()
        .filter(|a| a.kind == ArtefactKind::Clipping)
        .map(|a| (a.start, a.end))
        .collect();
    let m = c.artefacts.margin as u64;
    assert_eq!(
        clips,
        vec![(10_000 - m, 10_050 + m), (30_000 - m, 30_100 + m)]
    );
    assert!(d
        .spikes
        .iter()
        .all(|s| !(10_000 - m..10_050 + m).contains(&s.sample)
            && !(30_000 - m..30_100 + m).contains(&s.sample)));
    // Without a declared range, the first run is still a flat top at the block maximum.
    let d = detect(&raw, &raw, None, &c);
    assert_eq!(
        d.artefacts
            .iter()
            .filter(|a| a.kind == ArtefactKind::Clipping)
            .count(),
        2
    );
}

/// A large potential whose slow first phase crosses the threshold 3.3 ms ahead of its main
/// spike, and swings from beyond +5σ to beyond −5σ between two samples (so the main spike
/// has no crossing of its own), is detected once, on its main spike; without the move to
/// a much larger peak it was detected on its ramp and its late phase only.
#[test]
fn a_slow_first_phase_does_not_hide_the_main_spike() {
    let mut rng = Rng::new(11);
    let mut y = rng.noise(20_000, 1.0);
    let main = 10_000usize;
    // σ = 1, threshold 5: the ramp rises from 0 at −4 ms to 30 at −0.75 ms (crossing 5 at
    // about −3.3 ms), the main spike is −100, the late phase +10 from +1.5 to +2.5 ms.
    for k in 0..80 {
        let t = k as f32 / 65.0;
        y[main - 80 + k] += 30.0 * t.min(1.0) * t.min(1.0);
    }
    y[main - 1] = 20.0;
    y[main] = -100.0;
    y[main + 1] = -40.0;
    for v in &mut y[main + 30..main + 50] {
        *v += 10.0;
    }
    let at = |snap_ms: Option<f64>| -> Vec<u64> {
        let c = DetectConfig {
            snap_ms,
            artefacts: ArtefactConfig {
                flat_min_ms: 0.0,
                ..Default::default()
            },
            ..Default::default()
        }
        .check(20_000.0)
        .unwrap();
        let d = detect(&y, &y, None, &c);
        d.spikes
            .iter()
            .map(|s| s.sample)
            .filter(|s| s.abs_diff(main as u64) < 200)
            .collect()
    };
    assert_eq!(at(None), vec![main as u64]);
    let without = at(Some(0.0));
    assert!(
        !without.contains(&(main as u64)),
        "without the move: {without:?}"
    );
}
