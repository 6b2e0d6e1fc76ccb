//! Measures potential-level detection on simulated needle recordings: filter + detect only
//! (no sorting), matched one-to-one to the true potentials within 2 ms.
//!
//! `cargo run --release -p kymo --example detect_f1 -- [SNR_DB] [SEED]`

use kymo::detect::{detect_stream, DetectConfig, Detector, DEFAULT_BLOCK_LEN};
use kymo::dsp::{mains, Filter, FilterConfig};
use kymo::simulate::{self, truth::Truth, NoiseLevel, VecSink};

fn main() -> kymo::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let snr: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(9001);
    println!(
        "{:<20} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "scenario", "true", "found", "prec", "recall", "F1"
    );
    for name in [
        "myokymia-facial",
        "myokymia-limb",
        "fasciculations",
        "neuromyotonia",
        "complex-repetitive",
        "fibrillations",
        "myotonia",
        "cramp",
        "voluntary",
        "rest",
        "mixed",
    ] {
        let mut sc = simulate::builtin(name)?;
        sc.seconds = sc.seconds.min(60.0);
        // `rest` has no potentials to set an SNR against; it keeps its own noise level.
        if !sc.sources.is_empty() {
            sc.recording.noise = NoiseLevel::SnrDb(snr);
        }
        let mut sink = VecSink::default();
        let mut truth = Truth::default();
        simulate::run(&sc, seed, &mut sink, &mut truth)?;
        let x = &sink.channels[0];
        let rate = truth.recording.rate_hz;
        let m = mains::detect(x, rate, 10.0);
        let fcfg = FilterConfig::default().check(rate)?;
        let filter = Filter::new(&fcfg, m.frequency_hz);
        let dcfg = DetectConfig::default().check(rate)?;
        let mut det = Detector::new(&dcfg);
        let d = detect_stream(
            x.len() as u64,
            &filter,
            &mut det,
            DEFAULT_BLOCK_LEN,
            None,
            None,
            |s, b| {
                b.copy_from_slice(&x[s as usize..s as usize + b.len()]);
                Ok(())
            },
        )?;
        let mut t: Vec<f64> = truth.potentials.iter().map(|p| p.t).collect();
        t.sort_by(f64::total_cmp);
        let p: Vec<f64> = d.spikes.iter().map(|s| s.time_s).collect();
        // Greedy one-to-one matching in time order within the tolerance.
        let tol = 0.002;
        let (mut i, mut j, mut hit) = (0, 0, 0);
        while i < t.len() && j < p.len() {
            if (t[i] - p[j]).abs() <= tol {
                hit += 1;
                i += 1;
                j += 1;
            } else if t[i] < p[j] {
                i += 1
            } else {
                j += 1
            }
        }
        let prec = if p.is_empty() {
            1.0
        } else {
            hit as f64 / p.len() as f64
        };
        let rec = if t.is_empty() {
            1.0
        } else {
            hit as f64 / t.len() as f64
        };
        let f1 = if prec + rec > 0.0 {
            2.0 * prec * rec / (prec + rec)
        } else {
            0.0
        };
        println!(
            "{name:<20} {:>6} {:>6} {prec:>6.3} {rec:>6.3} {f1:>6.3}   mains {:?}",
            t.len(),
            p.len(),
            m.frequency_hz
        );
    }
    Ok(())
}
