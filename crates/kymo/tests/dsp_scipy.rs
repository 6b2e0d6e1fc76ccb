//! kymo's filters against scipy (the reference implementation they follow).
//!
//! Signals are built here with a fixed seed, written as raw f64 into a temporary folder,
//! filtered by `tests/python/dsp_oracle.py` with `scipy.signal` (butter, iirnotch,
//! iircomb, sosfiltfilt, filtfilt), read back and compared sample by sample with kymo's
//! [`Filter`] and [`Sos::filtfilt_f64`]. The interpreter is `$KYMO_PYTHON`, else the
//! repository's `.venv/bin/python`; if it or scipy is missing the test fails and says so.
//! Checked with scipy 1.17.1 and numpy 2.4.6 (`tests/requirements.txt`); the versions used
//! are printed on failure.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use kymo::dsp::{butter, Band, Filter, FilterConfig, HumRemoval, Kind, Scratch};
use serde_json::{json, Value};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

/// kymo's [`Filter`] output is f32: rounding the f64 result costs up to half an f32 ulp,
/// 2⁻²⁴ of the value.
const F32_OUTPUT_REL: f64 = 1.0 / (1u64 << 24) as f64;

/// Both sides compute in f64 but with different section forms (kymo: direct form I;
/// scipy: transposed direct form II), so rounding differs; the poles' noise gain (up to
/// ~10⁶ for a 20 Hz pole pair at 20 kHz) amplifies f64 rounding (1e-16) to ~1e-10 of the
/// signal's peak. Allowed: 1e-9 of the input's peak.
const F64_FORM_REL: f64 = 1e-9;

/// The frequency responses are evaluated from the same design by two formulas; they agree
/// to rounding, except where a response is ~0 (stop band), hence an absolute bound.
const RESPONSE_ABS: f64 = 1e-9;

fn python() -> PathBuf {
    match std::env::var_os("KYMO_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    }
}

fn write_f64(path: &Path, x: &[f64]) {
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f64(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Noise, drifting baseline, hum at `hum` Hz with a harmonic, and spikes; as f32 values.
fn test_signal(rate: f64, n: usize, hum: f64, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut walk = 0.0;
    let mut x: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            walk += 0.05 * rng.normal();
            rng.normal()
                + 30.0
                + 20.0 * (2.0 * std::f64::consts::PI * 0.5 * t).sin()
                + walk
                + 4.0 * (2.0 * std::f64::consts::PI * hum * t).sin()
                + 1.5 * (2.0 * std::f64::consts::PI * 3.0 * hum * t + 0.4).sin()
        })
        .collect();
    let mut at = 50;
    while at + 50 < n {
        for k in 0..20 {
            let t = (k as f64 - 10.0) / 3.0;
            x[at + k] -= 15.0 * (1.0 - t * t) * (-t * t / 2.0).exp();
        }
        at += 200 + (rng.uniform() * 400.0) as usize;
    }
    x.into_iter().map(|v| v as f32).collect()
}

struct Case {
    name: String,
    rate: f64,
    order: usize,
    btype: &'static str,
    wn: Vec<f64>,
    notches: Vec<(f64, f64)>,
    comb: Option<(f64, f64)>,
    x: Vec<f32>,
    /// kymo's output for this case, in f64, and whether it went through f32.
    got: Vec<f64>,
    through_f32: bool,
    response: Vec<(f64, f64)>,
    comb_gain: Vec<f64>,
}

const FREQS: [f64; 9] = [1.0, 10.0, 20.0, 50.0, 60.0, 100.0, 440.0, 900.0, 1234.5];

fn filter_case(name: &str, rate: f64, kind: Option<Kind>, hum: Option<f64>, n: usize) -> Case {
    // The comb is the hum stage scipy has (`iircomb`); the default hum template is tested
    // in the library's own tests.
    let cfg = FilterConfig {
        kind,
        hum_removal: HumRemoval::Comb,
        ..Default::default()
    }
    .check(rate)
    .unwrap();
    let f = Filter::new(&cfg, hum);
    let x = test_signal(rate, n, hum.unwrap_or(50.0), n as u64 ^ rate as u64);
    let mut y = vec![0.0f32; n];
    f.filtfilt(&x, &mut y, &mut Scratch::default());
    let freqs: Vec<f64> = FREQS.iter().copied().filter(|&v| v < rate / 2.0).collect();
    Case {
        name: name.to_string(),
        rate,
        order: cfg.order,
        btype: "bandpass",
        wn: vec![cfg.high_pass_hz, cfg.low_pass_hz],
        notches: f
            .notches_hz()
            .iter()
            .map(|&h| (h, cfg.notch_bandwidth_hz))
            .collect(),
        comb: f
            .comb()
            .map(|_| (hum.unwrap_or(0.0), cfg.notch_bandwidth_hz)),
        x,
        got: y.iter().map(|&v| v as f64).collect(),
        through_f32: true,
        response: freqs
            .iter()
            .map(|&fr| {
                let h = f.sos().response(fr, rate);
                (h.re, h.im)
            })
            .collect(),
        comb_gain: freqs
            .iter()
            .map(|&fr| f.comb().map_or(1.0, |c| c.gain(fr, rate)))
            .collect(),
    }
}

fn butter_case(name: &str, rate: f64, order: usize, band: Band, n: usize) -> Case {
    let sos = butter(order, band, rate).unwrap();
    let x = test_signal(rate, n, 50.0, order as u64 * 7 + n as u64);
    let mut ext = Vec::new();
    let pad = sos.filtfilt_f64(&x, &mut ext);
    let (btype, wn) = match band {
        Band::LowPass(f) => ("lowpass", vec![f]),
        Band::HighPass(f) => ("highpass", vec![f]),
        Band::BandPass(a, b) => ("bandpass", vec![a, b]),
        Band::BandStop(a, b) => ("bandstop", vec![a, b]),
    };
    let freqs: Vec<f64> = FREQS.iter().copied().filter(|&v| v < rate / 2.0).collect();
    Case {
        name: name.to_string(),
        rate,
        order,
        btype,
        wn,
        notches: Vec::new(),
        comb: None,
        x,
        got: ext[pad..pad + n].to_vec(),
        through_f32: false,
        response: freqs
            .iter()
            .map(|&fr| {
                let h = sos.response(fr, rate);
                (h.re, h.im)
            })
            .collect(),
        comb_gain: vec![1.0; freqs.len()],
    }
}

#[test]
fn filters_match_scipy() {
    let cases = vec![
        // The Filter as the pipeline uses it.
        filter_case("needle_20k", 20_000.0, None, None, 40_000),
        filter_case("needle_20k_comb50", 20_000.0, None, Some(50.0), 100_000),
        filter_case("surface_2k_notch60", 2000.0, None, Some(60.0), 20_000),
        filter_case("needle_25k6_notch60", 25_600.0, None, Some(60.0), 60_000),
        filter_case(
            "surface_1k_comb50",
            1000.0,
            Some(Kind::Surface),
            Some(50.0),
            10_000,
        ),
        filter_case("short_30", 20_000.0, None, None, 30),
        // Bare Butterworth designs, zero-phase, f64 output.
        butter_case("lp3", 4000.0, 3, Band::LowPass(500.0), 5000),
        butter_case("hp5", 1000.0, 5, Band::HighPass(20.0), 5000),
        butter_case("bp1", 8000.0, 1, Band::BandPass(10.0, 3000.0), 5000),
        butter_case("bp6", 10_000.0, 6, Band::BandPass(100.0, 2000.0), 5000),
        butter_case("bs2", 1000.0, 2, Band::BandStop(45.0, 55.0), 5000),
        butter_case("bs3", 2000.0, 3, Band::BandStop(100.0, 300.0), 5000),
        butter_case("lp8_20k", 20_000.0, 8, Band::LowPass(9000.0), 5000),
    ];

    let dir = tempfile::tempdir().unwrap();
    let mut spec = Vec::new();
    for c in &cases {
        let input = format!("{}.f64", c.name);
        let x: Vec<f64> = c.x.iter().map(|&v| v as f64).collect();
        write_f64(&dir.path().join(&input), &x);
        let freqs: Vec<f64> = FREQS
            .iter()
            .copied()
            .filter(|&v| v < c.rate / 2.0)
            .collect();
        spec.push(json!({
            "name": c.name, "input": input, "rate": c.rate, "order": c.order,
            "btype": c.btype, "wn": c.wn,
            "notches": c.notches.iter().map(|&(f, b)| json!([f, b])).collect::<Vec<_>>(),
            "comb": c.comb.map(|(f, b)| json!([f, b])),
            "freqs": freqs,
        }));
    }
    std::fs::write(
        dir.path().join("cases.json"),
        serde_json::to_string(&spec).unwrap(),
    )
    .unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/dsp_oracle.py");
    let py = python();
    let out = Command::new(&py)
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the Python reference {} ({e}); set KYMO_PYTHON or run scripts/setup-python",
                py.display()
            )
        });
    assert!(
        out.status.success(),
        "{} {} failed (is scipy installed? scripts/setup-python installs it):\n{}",
        py.display(),
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let versions = format!(
        "scipy {}, numpy {}",
        results["scipy"].as_str().unwrap_or("?"),
        results["numpy"].as_str().unwrap_or("?")
    );

    for c in &cases {
        let r = &results["cases"][&c.name];
        // Frequency response of the cascade (and comb), at each test frequency.
        let re = r["response_re"].as_array().unwrap();
        let im = r["response_im"].as_array().unwrap();
        for (k, &(gr, gi)) in c.response.iter().enumerate() {
            let (wr, wi) = (re[k].as_f64().unwrap(), im[k].as_f64().unwrap());
            let d = ((gr - wr).powi(2) + (gi - wi).powi(2)).sqrt();
            let scale = (wr * wr + wi * wi).sqrt().max(1.0);
            assert!(
                d <= RESPONSE_ABS * scale,
                "{}: response at {} Hz is {gr:+e}{gi:+e}i, scipy {wr:+e}{wi:+e}i ({versions})",
                c.name,
                FREQS[k]
            );
        }
        if let Some(cg) = r["comb_gain"].as_array() {
            for (k, g) in cg.iter().enumerate() {
                let w = g.as_f64().unwrap();
                assert!(
                    (c.comb_gain[k] - w).abs() <= RESPONSE_ABS,
                    "{}: comb gain at {} Hz is {}, scipy {w} ({versions})",
                    c.name,
                    FREQS[k],
                    c.comb_gain[k]
                );
            }
        }
        // The filtered signal, sample by sample.
        let want = read_f64(&dir.path().join(format!("{}.out.f64", c.name)));
        assert_eq!(want.len(), c.got.len(), "{}: length", c.name);
        let peak = c.x.iter().map(|&v| (v as f64).abs()).fold(0.0, f64::max);
        let mut worst = (0usize, 0.0f64, 0.0f64); // index, excess over tolerance ratio, diff
        for (i, (&g, &w)) in c.got.iter().zip(&want).enumerate() {
            let tol = F64_FORM_REL * peak
                + if c.through_f32 {
                    F32_OUTPUT_REL * w.abs()
                } else {
                    0.0
                };
            let d = (g - w).abs();
            if d / tol > worst.1 {
                worst = (i, d / tol, d);
            }
        }
        assert!(
            worst.1 <= 1.0,
            "{}: worst sample {} differs from scipy by {:e} ({:.2}× the tolerance): kymo {}, scipy {} ({versions})",
            c.name,
            worst.0,
            worst.2,
            worst.1,
            c.got[worst.0],
            want[worst.0]
        );
    }
}
