//! Tests of the filter stage against plain oracles written out again here:
//! - a full-order direct-form filter (polynomials multiplied out) for the SOS cascade, on
//!   designs where the direct form is well conditioned;
//! - scipy's `sosfiltfilt` algorithm transcribed naively (transposed direct form II, one
//!   section at a time, `lfilter_zi` in closed form) for zero-phase filtering.
//!
//! The comparison with scipy itself is in `tests/dsp_scipy.rs`.

use super::*;

// The seeded generator shared with the integration tests and benches (also used by the
// detection unit tests, through this module: a file may be included only once per crate).
#[path = "../../tests/common/rng.rs"]
pub(crate) mod rng;
use rng::Rng;

/// Largest relative difference allowed between the DF-I cascade and the oracles, both in
/// f64: they round differently, and rounding noise is amplified by the poles' noise gain
/// (up to ~10⁶ for a 20 Hz pole pair at 20 kHz), so 1e-16 × 10⁶ with a margin.
const ORACLE_TOL: f64 = 1e-9;

/// Largest difference between block-wise and whole-signal filtering, relative to the
/// signal's peak: [`SETTLE_EPS`] bounds the transient relative to its initial size, which
/// is at most a few times the signal peak (the state of a section holds filtered values).
const BLOCK_TOL: f64 = 10.0 * SETTLE_EPS;

fn worst(a: &[f64], b: &[f64]) -> (usize, f64) {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold((0, 0.0), |acc, (i, d)| if d > acc.1 { (i, d) } else { acc })
}

fn peak<T: Copy + Into<f64>>(x: &[T]) -> f64 {
    x.iter().map(|&v| v.into().abs()).fold(0.0, f64::max)
}

fn poly_mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// Oracle 1: `lfilter(b, a, x)` with zero initial state, straight from the definition.
fn direct_form(b: &[f64], a: &[f64], x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for n in 0..x.len() {
        let mut acc = 0.0;
        for (k, &bk) in b.iter().enumerate() {
            if n >= k {
                acc += bk * x[n - k];
            }
        }
        for (k, &ak) in a.iter().enumerate().skip(1) {
            if n >= k {
                acc -= ak * y[n - k];
            }
        }
        y[n] = acc / a[0];
    }
    y
}

/// Oracle 2: scipy's `sosfilt(sos, x, zi=sosfilt_zi(sos)*x0)`, section by section in
/// transposed direct form II. `lfilter_zi` of a biquad for a unit step in closed form:
/// with steady output g = H(1): z2 = b2 − a2·g, z1 = b1 + b2 − (a1 + a2)·g.
fn naive_sosfilt(sections: &[Section], x: &[f64], x0: f64) -> Vec<f64> {
    let mut y = x.to_vec();
    let mut scale = x0;
    for s in sections {
        let [b0, b1, b2] = s.b;
        let [_, a1, a2] = s.a;
        let g = (b0 + b1 + b2) / (1.0 + a1 + a2);
        let mut z1 = (b1 + b2 - (a1 + a2) * g) * scale;
        let mut z2 = (b2 - a2 * g) * scale;
        for v in y.iter_mut() {
            let xv = *v;
            let out = b0 * xv + z1;
            z1 = b1 * xv - a1 * out + z2;
            z2 = b2 * xv - a2 * out;
            *v = out;
        }
        scale *= g;
    }
    y
}

/// Oracle 2, zero-phase: scipy's `sosfiltfilt` (odd extension, forward, backward, trim).
fn naive_sosfiltfilt(sos: &Sos, x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let pad = sos.default_padlen().min(n - 1);
    let mut ext = Vec::new();
    for i in (1..=pad).rev() {
        ext.push(2.0 * x[0] - x[i]);
    }
    ext.extend_from_slice(x);
    for i in 1..=pad {
        ext.push(2.0 * x[n - 1] - x[n - 1 - i]);
    }
    let fwd = naive_sosfilt(sos.sections(), &ext, ext[0]);
    let rev: Vec<f64> = fwd.iter().rev().copied().collect();
    let bwd = naive_sosfilt(sos.sections(), &rev, rev[0]);
    let y: Vec<f64> = bwd.iter().rev().copied().collect();
    y[pad..pad + n].to_vec()
}

fn designs() -> Vec<(usize, Band, f64)> {
    vec![
        (4, Band::BandPass(20.0, 9000.0), 20_000.0),
        (4, Band::BandPass(20.0, 450.0), 2000.0),
        (2, Band::BandPass(10.0, 3000.0), 8000.0),
        (3, Band::LowPass(500.0), 4000.0),
        (5, Band::HighPass(20.0), 1000.0),
        (4, Band::BandStop(45.0, 55.0), 1000.0),
        (8, Band::BandPass(100.0, 2000.0), 10_000.0),
    ]
}

#[test]
fn cascade_matches_direct_form_polynomial() {
    // Designs whose multiplied-out polynomials are well conditioned in f64 (poles not
    // crowded against z = 1).
    let cases = [
        (2, Band::BandPass(50.0, 200.0), 1000.0),
        (3, Band::LowPass(100.0), 1000.0),
        (4, Band::HighPass(100.0), 1000.0),
        (2, Band::BandStop(40.0, 80.0), 500.0),
    ];
    let mut rng = Rng::new(11);
    let x: Vec<f64> = (0..3000).map(|_| rng.normal()).collect();
    for (order, band, fs) in cases {
        let sos = butter(order, band, fs).unwrap();
        let (mut b, mut a) = (vec![1.0], vec![1.0]);
        for s in sos.sections() {
            b = poly_mul(&b, &s.b);
            a = poly_mul(&a, &s.a);
        }
        let want = direct_form(&b, &a, &x);
        let mut got = x.clone();
        sos.run_inplace(&mut got, 0.0, false);
        let (i, d) = worst(&got, &want);
        assert!(
            d <= ORACLE_TOL * peak(&want),
            "{order} {band:?} at {fs} Hz: worst difference {d:e} at sample {i}"
        );
        // Backward in time equals forward over the reversed signal.
        let mut rev: Vec<f64> = x.iter().rev().copied().collect();
        sos.run_inplace(&mut rev, 0.0, false);
        let mut back = x.clone();
        sos.run_inplace(&mut back, 0.0, true);
        rev.reverse();
        let (i, d) = worst(&back, &rev);
        assert!(d == 0.0, "backward pass differs at {i} by {d:e}");
    }
}

#[test]
fn filtfilt_matches_naive_sosfiltfilt() {
    let mut rng = Rng::new(12);
    for (order, band, fs) in designs() {
        let sos = butter(order, band, fs).unwrap();
        for n in [1usize, 2, 5, 27, 28, 1000, 20_000] {
            // Offset and drift so the padding and initial conditions matter.
            let x: Vec<f64> = (0..n)
                .map(|i| 3.0 + 0.001 * i as f64 + rng.normal())
                .collect();
            let mut ext = Vec::new();
            let pad = sos.filtfilt_f64(&x, &mut ext);
            let got = &ext[pad..pad + n];
            let want = if n > 1 {
                naive_sosfiltfilt(&sos, &x)
            } else {
                // One sample: no padding; forward and backward from steady state give the
                // DC gain squared times the sample.
                let g: f64 = sos.sections().iter().map(Section::dc_gain).product();
                vec![x[0] * g * g]
            };
            let (i, d) = worst(got, &want);
            assert!(
                d <= ORACLE_TOL * peak(&x).max(1.0),
                "{order} {band:?} at {fs} Hz, n = {n}: worst difference {d:e} at sample {i}"
            );
        }
    }
}

/// The filter with a comb, run in place in one buffer, gives to the bit what the two stages
/// give on separate buffers (band-pass `sosfiltfilt`, odd extension, comb forward into a
/// second buffer, backward into a third), for blocks shorter than, around and much longer
/// than the comb's period and padding.
#[test]
fn in_place_comb_stage_equals_separate_buffers() {
    let cfg = FilterConfig {
        hum_removal: HumRemoval::Comb,
        ..Default::default()
    }
    .check(20_000.0)
    .unwrap();
    let f = Filter::new(&cfg, Some(50.0));
    let c = f.comb().expect("a comb at 20 kHz").clone();
    let mut s = Scratch::default();
    for n in [0usize, 1, 2, 3, 17, 399, 400, 401, 1203, 1204, 5000, 60_011] {
        let (x, _) = emg_like(20_000.0, n.max(1), Some(50.0), n as u64);
        let x = &x[..n];
        let mut ext = Vec::new();
        let pad = f.sos().filtfilt_f64(x, &mut ext);
        let pc = c.default_padlen().min(n.saturating_sub(1));
        let mut a = Vec::new();
        sos::odd_extend(&ext[pad..pad + n], pc, &mut a);
        let mut b = vec![0.0; a.len()];
        c.run(&a, &mut b);
        c.run_backward(&b, &mut a);
        let want: Vec<f32> = a[pc..pc + n].iter().map(|&v| v as f32).collect();
        let mut got = vec![0.0f32; n];
        f.filtfilt(x, &mut got, &mut s);
        assert!(
            got.iter()
                .zip(&want)
                .all(|(g, w)| g.to_bits() == w.to_bits()),
            "n = {n}"
        );
    }
}

#[test]
fn empty_and_tiny_inputs_do_not_panic() {
    let cfg = FilterConfig::default().check(20_000.0).unwrap();
    for mains in [None, Some(50.0), Some(60.0)] {
        let f = Filter::new(&cfg, mains);
        let mut s = Scratch::default();
        for n in 0..10 {
            let x = vec![1.0f32; n];
            let mut y = vec![0.0f32; n];
            f.filtfilt(&x, &mut y, &mut s);
            assert!(y.iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn config_defaults_and_kind_from_rate() {
    let c = FilterConfig::default().check(20_000.0).unwrap();
    assert_eq!(c.kind, Kind::Needle);
    assert_eq!((c.high_pass_hz, c.low_pass_hz), (20.0, 9000.0)); // 10 kHz clamped to 0.45·fs
    let c = FilterConfig::default().check(48_000.0).unwrap();
    assert_eq!((c.high_pass_hz, c.low_pass_hz), (20.0, 10_000.0));
    let c = FilterConfig::default().check(2000.0).unwrap();
    assert_eq!(c.kind, Kind::Surface);
    assert_eq!((c.high_pass_hz, c.low_pass_hz), (20.0, 450.0));
    let c = FilterConfig::default().check(1000.0).unwrap();
    assert_eq!(c.low_pass_hz, 450.0);
    let c = FilterConfig {
        kind: Some(Kind::Surface),
        ..FilterConfig::default()
    }
    .check(20_000.0)
    .unwrap();
    assert_eq!(c.low_pass_hz, 450.0);
}

#[test]
fn config_errors_give_both_numbers() {
    let err = |cfg: FilterConfig, rate: f64| -> String {
        let e = cfg.check(rate).unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        e.to_string()
    };
    let m = err(
        FilterConfig {
            low_pass_hz: Some(12_000.0),
            ..Default::default()
        },
        20_000.0,
    );
    assert_eq!(
        m,
        "filter: low-pass 12000 Hz is not below the Nyquist frequency 10000 Hz of a 20000 Hz recording"
    );
    let m = err(
        FilterConfig {
            high_pass_hz: Some(500.0),
            ..Default::default()
        },
        2000.0,
    );
    assert_eq!(m, "filter: high-pass 500 Hz is not below low-pass 450 Hz");
    let m = err(FilterConfig::default(), 40.0);
    assert!(
        m.contains("20 Hz") && m.contains("18 Hz") && m.contains("40 Hz"),
        "{m}"
    );
    let m = err(
        FilterConfig {
            order: 0,
            ..Default::default()
        },
        2000.0,
    );
    assert!(m.contains("order 0") && m.contains("12"), "{m}");
    let m = err(
        FilterConfig {
            high_pass_hz: Some(-1.0),
            ..Default::default()
        },
        2000.0,
    );
    assert!(m.contains("-1 Hz"), "{m}");
    let m = err(FilterConfig::default(), f64::NAN);
    assert!(m.contains("NaN"), "{m}");
    let m = err(
        FilterConfig {
            notch_bandwidth_hz: 0.0,
            ..Default::default()
        },
        2000.0,
    );
    assert!(m.contains("0 Hz") && m.contains("10 Hz"), "{m}");
    let m = err(
        FilterConfig {
            mains_threshold_db: -3.0,
            ..Default::default()
        },
        2000.0,
    );
    assert!(m.contains("-3 dB"), "{m}");
    let m = err(
        FilterConfig {
            max_notches: 1000,
            ..Default::default()
        },
        2000.0,
    );
    assert!(m.contains("1000") && m.contains("100"), "{m}");
}

#[test]
fn config_serde_round_trip_and_unknown_fields() {
    let cfg = FilterConfig {
        kind: Some(Kind::Needle),
        low_pass_hz: Some(5000.0),
        mains: MainsSetting::Hz60,
        ..Default::default()
    };
    let s = serde_json::to_string(&cfg).unwrap();
    assert!(s.contains("\"needle\"") && s.contains("\"60\""), "{s}");
    let back: FilterConfig = serde_json::from_str(&s).unwrap();
    assert_eq!(back, cfg);
    let partial: FilterConfig = serde_json::from_str(r#"{"order": 2}"#).unwrap();
    assert_eq!(
        partial,
        FilterConfig {
            order: 2,
            ..Default::default()
        }
    );
    assert!(serde_json::from_str::<FilterConfig>(r#"{"ordr": 2}"#).is_err());
}

/// Raw-looking EMG: white noise (σ = 1), Ricker spikes of amplitude 12 every ~40 ms, a
/// baseline drifting by ±50 (0.3 Hz sine plus a slow random walk), and mains hum at `hum`
/// Hz of amplitude 5 with a third harmonic of amplitude 2.
fn emg_like(rate: f64, n: usize, hum: Option<f64>, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let mut x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let mut walk = 0.0;
    for (i, v) in x.iter_mut().enumerate() {
        let t = i as f64 / rate;
        walk += 0.02 * rng.normal();
        *v += 40.0 * (2.0 * std::f64::consts::PI * 0.3 * t).sin() + walk;
        if let Some(f) = hum {
            *v += 5.0 * (2.0 * std::f64::consts::PI * f * t + 0.3).sin()
                + 2.0 * (2.0 * std::f64::consts::PI * 3.0 * f * t + 1.1).sin();
        }
    }
    let tau = 0.25e-3 * rate; // samples
    let half = (5.0 * tau) as usize;
    let mut spikes = Vec::new();
    let mut at = half + 10;
    while at + half + 10 < n {
        spikes.push(at);
        for k in 0..=2 * half {
            let t = (k as f64 - half as f64) / tau;
            x[at + k - half] -= 12.0 * (1.0 - t * t) * (-t * t / 2.0).exp();
        }
        at += (0.02 * rate + rng.uniform() * 0.04 * rate) as usize;
    }
    (x.into_iter().map(|v| v as f32).collect(), spikes)
}

fn blockwise(f: &Filter, x: &[f32], block_len: usize, context: usize) -> Vec<f32> {
    let mut out = vec![f32::NAN; x.len()];
    let mut s = Scratch::default();
    let mut buf = vec![0.0f32; 0];
    for b in f.blocks(x.len() as u64, block_len, context) {
        let input = &x[b.input.start as usize..b.input.end as usize];
        buf.resize(b.output.end as usize - b.output.start as usize, 0.0);
        f.filtfilt_range(input, b.input.start, b.output_in_input(), &mut buf, &mut s);
        let own = b.own_in_output();
        out[b.own.start as usize..b.own.end as usize].copy_from_slice(&buf[own]);
    }
    out
}

#[test]
fn blockwise_matches_whole_signal() {
    let (template, comb) = (HumRemoval::Template, HumRemoval::Comb);
    for (rate, hum, kind, hum_removal) in [
        (20_000.0, Some(50.0), None, template), // hum template
        (2000.0, Some(50.0), None, template),   // hum template, 40-sample cycles
        (20_000.0, Some(50.0), None, comb),     // comb
        (20_000.0, None, None, template),       // band-pass only
        (2000.0, Some(60.0), None, template),   // notches
        (25_600.0, Some(60.0), Some(Kind::Needle), template), // notches at a non-multiple rate
    ] {
        let n = (rate * 30.0) as usize;
        let (x, _) = emg_like(rate, n, hum, 5);
        let cfg = FilterConfig {
            kind,
            hum_removal,
            ..Default::default()
        }
        .check(rate)
        .unwrap();
        let f = Filter::new(&cfg, hum);
        let mut whole = vec![0.0f32; n];
        f.filtfilt(&x, &mut whole, &mut Scratch::default());
        // Blocks of 7.3 s: several blocks whose input ranges stop well inside the signal.
        let block_len = (rate * 7.3) as usize;
        assert!(
            block_len + 2 * f.overlap() < n / 2,
            "overlap {}",
            f.overlap()
        );
        let blocks = blockwise(&f, &x, block_len, 100);
        let w: Vec<f64> = whole.iter().map(|&v| v as f64).collect();
        let b: Vec<f64> = blocks.iter().map(|&v| v as f64).collect();
        let (i, d) = worst(&b, &w);
        let tol = BLOCK_TOL * peak(&x);
        assert!(
            d <= tol,
            "{rate} Hz, hum {hum:?} ({hum_removal:?}): block-wise differs by {d:e} (tolerance {tol:e}) at sample {i}; overlap {}",
            f.overlap()
        );
    }
}

#[test]
fn overlap_covers_the_measured_transient() {
    // The overlap is a bound: the cascade's actual response to a start-up state error
    // must have decayed below SETTLE_EPS of its peak by then. Measure that response as
    // the difference between steady-state start and zero start on a constant input, plus
    // the impulse response, and check both are below the bound at the overlap.
    for rate in [1000.0, 2000.0, 4000.0, 20_000.0, 48_000.0] {
        for mains in [None, Some(60.0)] {
            let cfg = FilterConfig::default().check(rate).unwrap();
            let f = Filter::new(&cfg, mains);
            let ov = f.overlap();
            let n = ov + 100;
            let mut imp = vec![0.0f64; n];
            imp[0] = 1.0;
            f.sos().run_inplace(&mut imp, 0.0, false);
            let mut step_err = vec![1.0f64; n];
            f.sos().run_inplace(&mut step_err, 0.0, false); // zero start: transient
            let p_imp = peak(&imp);
            let p_step = peak(&step_err);
            let tail_imp = peak(&imp[ov..]);
            let tail_step = peak(&step_err[ov..]);
            assert!(
                tail_imp <= SETTLE_EPS * p_imp && tail_step <= SETTLE_EPS * p_step.max(1.0),
                "{rate} Hz mains {mains:?}: overlap {ov}, tails {tail_imp:e} / {tail_step:e}"
            );
        }
    }
}

#[test]
fn removes_hum_and_wander_keeps_spikes_in_place() {
    let rate = 20_000.0;
    let n = (rate * 10.0) as usize;
    let (x, spikes) = emg_like(rate, n, Some(50.0), 9);
    let cfg = FilterConfig::default().check(rate).unwrap();
    let report = mains::detect(&x, rate, cfg.mains_threshold_db);
    assert_eq!(report.frequency_hz, Some(50.0), "{report:?}");
    let f = Filter::new(&cfg, cfg.mains_frequency(&report));
    assert!(f.hum_template().is_some());
    let mut y = vec![0.0f32; n];
    f.filtfilt(&x, &mut y, &mut Scratch::default());
    // The hum is gone: no 50/60 Hz line stands out any more (the first and last second,
    // whose templates see only half a window, are left out as before with the comb).
    let settled = rate as usize;
    let after = mains::detect(&y[settled..n - settled], rate, cfg.mains_threshold_db);
    assert_eq!(after.frequency_hz, None, "{after:?}");
    assert!(after.prominence_db_50[0] < 3.0, "{after:?}");
    // The wander is gone: the filtered signal away from spikes is noise of σ ≈ 1.
    let quiet: Vec<f32> = y[..]
        .iter()
        .enumerate()
        .filter(|(i, _)| spikes.iter().all(|&s| i.abs_diff(s) > 60))
        .map(|(_, &v)| v)
        .collect();
    let rms = (quiet.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / quiet.len() as f64).sqrt();
    assert!((rms - 0.95).abs() < 0.1, "residual rms {rms}");
    // Zero phase: each spike's negative peak stays within noise jitter of its sample (±2
    // samples = ±0.1 ms, where noise of σ = 1 can tip the flat top of a 0.25 ms Ricker),
    // with no systematic delay, and keeps most of its amplitude.
    let mut shift_sum = 0i64;
    for &s in &spikes[1..spikes.len() - 1] {
        let w = &y[s - 10..=s + 10];
        let (k, &v) = w
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap();
        assert!(
            k.abs_diff(10) <= 2,
            "spike at {s} moved by {} samples",
            k as i64 - 10
        );
        assert!(v < -9.0, "spike at {s} shrank to {v}");
        shift_sum += k as i64 - 10;
    }
    let mean_shift = shift_sum as f64 / (spikes.len() - 2) as f64;
    assert!(
        mean_shift.abs() < 0.1,
        "mean peak shift {mean_shift} samples"
    );
}

#[test]
fn zero_phase_gain_is_the_squared_response() {
    let cfg = FilterConfig {
        hum_removal: HumRemoval::Comb,
        ..Default::default()
    }
    .check(20_000.0)
    .unwrap();
    let f = Filter::new(&cfg, Some(50.0));
    assert!((f.zero_phase_gain(1025.0) - 1.0).abs() < 1e-3); // half-way between notches
    assert!(f.zero_phase_gain(50.0) < 1e-12);
    assert!(f.zero_phase_gain(150.0) < 1e-12);
    assert!(f.zero_phase_gain(5.0) < 1e-4);
    let g20 = f.zero_phase_gain(20.0);
    assert!(g20 < 0.5, "{g20}"); // −3 dB per pass at the edge, −6 dB both ways

    // At 2048 Hz no whole number of samples spans up to five 60 Hz cycles (2048/60 =
    // 34.13…): no template, notches at the harmonics under the surface low-pass.
    let cfg = FilterConfig::default().check(2048.0).unwrap();
    let f = Filter::new(&cfg, Some(60.0));
    assert_eq!(f.hum_method(), Some("notches"));
    assert_eq!(
        f.notches_hz(),
        &[60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 420.0]
    );
    for &h in f.notches_hz() {
        assert!(f.zero_phase_gain(h) < 1e-12);
    }
}

/// What a clinician checks of hum removal on a needle recording: a large potential keeps
/// its shape and leaves nothing one mains period away (a comb leaves a tenth-size copy of
/// it there, which the detector finds as a potential), and the hum itself is gone.
#[test]
fn hum_removal_leaves_no_echo_of_a_large_potential() {
    hum_removal_leaves_no_echo_at(50.0, 60.0);
}

/// The same at 60 Hz, where 20 kHz is not a whole number of samples per cycle (333⅓): the
/// template spans three cycles, and the notches it replaces leave echoes (a 1.9 mV
/// potential's, 60 µV, read as a complex repetitive discharge at 60 Hz on a generator
/// other than kymo's own, `scripts/independent-check`).
#[test]
fn hum_removal_at_60_hz_and_20_khz_leaves_no_echo() {
    hum_removal_leaves_no_echo_at(60.0, 25.0);
}

/// Checks the template against the other removal (the comb where it exists, else notches)
/// with hum at `mains` Hz: the other's echo exceeds `other_echo` µV.
fn hum_removal_leaves_no_echo_at(mains: f64, other_echo: f32) {
    let rate = 20_000.0;
    let n = (rate * 6.0) as usize;
    let d = (rate / mains).round() as usize; // samples per mains cycle
    let mut rng = Rng::new(17);
    let mut x: Vec<f64> = (0..n).map(|_| 5.0 * rng.normal()).collect();
    let hum = |i: usize| {
        let t = i as f64 / rate;
        let w = 2.0 * std::f64::consts::PI * mains * t;
        30.0 * (w + 0.3).sin() + 10.0 * (3.0 * w + 1.1).sin() + 4.0 * (7.0 * w).sin()
    };
    x.iter_mut().enumerate().for_each(|(i, v)| *v += hum(i));
    // A burst of 1.5 mV triphasic potentials (Ricker, 0.5 ms) every 37 ms for 2 s.
    let tau = 0.5e-3 * rate;
    let half = (5.0 * tau) as usize;
    let spikes: Vec<usize> = (0..54).map(|k| 2 * 20_000 + k * 740).collect();
    for &at in &spikes {
        for k in 0..=2 * half {
            let t = (k as f64 - half as f64) / tau;
            x[at + k - half] -= 1500.0 * (1.0 - t * t) * (-t * t / 2.0).exp();
        }
    }
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let y_of = |removal: HumRemoval| {
        let cfg = FilterConfig {
            hum_removal: removal,
            ..Default::default()
        }
        .check(rate)
        .unwrap();
        let f = Filter::new(&cfg, Some(mains));
        let mut y = vec![0.0f32; n];
        f.filtfilt(&x32, &mut y, &mut Scratch::default());
        (y, f.hum_method())
    };
    let (template, method) = y_of(HumRemoval::Template);
    assert_eq!(method, Some("template"));
    let (comb, _) = y_of(HumRemoval::Comb);
    // Largest excursion one mains period after the last potential and before the first
    // (±0.5 ms around the echo's place), where only noise of σ = 5 should be.
    let echo = |y: &[f32]| {
        let (first, last) = (spikes[0], spikes[spikes.len() - 1]);
        let around = |c: usize| {
            y[c - 10..=c + 10]
                .iter()
                .map(|v| v.abs())
                .fold(0.0f32, f32::max)
        };
        around(first - d).max(around(last + d))
    };
    assert!(echo(&comb) > other_echo, "the comb's echo {}", echo(&comb));
    assert!(echo(&template) < 25.0, "an echo of {} µV", echo(&template));
    // The hum is gone away from the burst: the residual is the noise (σ 5, less the
    // band-pass's share), not 30 µV of hum.
    let quiet = &template[rate as usize / 2..rate as usize * 3 / 2];
    let rms = (quiet.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / quiet.len() as f64).sqrt();
    assert!(rms < 5.5, "residual rms {rms}");
    // The potentials keep their size.
    for &at in &spikes[1..spikes.len() - 1] {
        let v = template[at - 5..=at + 5]
            .iter()
            .copied()
            .fold(0.0f32, f32::min);
        assert!(v < -1350.0, "potential at {at} is {v}");
    }
}
