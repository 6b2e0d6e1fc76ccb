//! End-to-end accuracy of `analyze` against the simulator's truth: simulate each scenario at
//! each SNR and seed, analyse every channel, score potentials and discharges.
//!
//! `cargo run --release -p kymo --example accuracy -- [--snr 0,5,10,20] [--seeds 1,2]
//! [--scenarios myokymia-facial,...] [--seconds 60] [--verbose]`
//!
//! Prints one row per run and, with several SNRs, the table of discharge F1 per class and
//! SNR (mean over seeds) that the README shows.

use std::collections::BTreeMap;

use kymo::analyze::{analyze_samples, AnalysisConfig, ChannelInfo};
use kymo::eval::{score, ChannelPrediction, EvalConfig, Prediction};
use kymo::simulate::{self, truth::Truth, NoiseLevel, VecSink};

const SCENARIOS: [&str; 11] = [
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
];

fn list<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

fn main() -> kymo::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut snrs = vec![10.0f64];
    let mut seeds = vec![9001u64];
    let mut scenarios: Vec<String> = SCENARIOS.iter().map(|s| s.to_string()).collect();
    let mut seconds: Option<f64> = None;
    let mut verbose = false;
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--snr" => snrs = list(&v),
            "--seeds" => seeds = list(&v),
            "--scenarios" => scenarios = v.split(',').map(str::to_string).collect(),
            "--seconds" => seconds = v.parse().ok(),
            "--verbose" => {
                verbose = true;
                i += 1;
                continue;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(1);
            }
        }
        i += 2;
    }
    // KYMO_CONFIG=file.toml: analyse with that configuration instead of the defaults.
    let cfg = match std::env::var_os("KYMO_CONFIG") {
        Some(p) => AnalysisConfig::read(p.as_ref())?,
        None => AnalysisConfig::default(),
    }
    .check()?;
    let eval_cfg = EvalConfig::default().check()?;
    // (scenario, class) → snr → F1 values over seeds
    let mut table: BTreeMap<(String, String), BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    println!(
        "{:<19} {:>4} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6}  per-class discharge F1 (true/pred)",
        "scenario", "snr", "seed", "p.prec", "p.rec", "p.F1", "units", "macro"
    );
    for name in &scenarios {
        for &snr in &snrs {
            for &seed in &seeds {
                let mut sc = simulate::builtin(name)?;
                if let Some(s) = seconds {
                    sc.seconds = s;
                }
                if !sc.sources.is_empty() {
                    sc.recording.noise = NoiseLevel::SnrDb(snr);
                }
                let mut sink = VecSink::default();
                let mut truth = Truth::default();
                simulate::run(&sc, seed, &mut sink, &mut truth)?;
                let mut pred = Prediction::default();
                for (c, x) in sink.channels.iter().enumerate() {
                    let info = ChannelInfo {
                        index: c,
                        label: format!("ch{c}"),
                        unit: "uV".into(),
                        rate_hz: truth.recording.rate_hz,
                        n_samples: x.len() as u64,
                        physical_range: None,
                    };
                    let a = analyze_samples(&info, x, &cfg)?;
                    if verbose {
                        for d in &a.discharges {
                            println!(
                                "    ch{c} {:>8.3}-{:>8.3} {:<22} {:.2} {}",
                                d.start_s,
                                d.end_s,
                                d.class.name(),
                                d.confidence,
                                d.evidence
                            );
                        }
                        println!(
                            "    ch{c}: detected {}, unsorted {}, overlap {}, recovered {}, weak {}, σ {:.1} µV, units {}, artefacts {} ({:.1} s: {:?})",
                            a.n_detected, a.n_unsorted, a.n_overlap, a.n_recovered, a.n_weak, a.settings.noise_sigma_uv, a.units.len(),
                            a.artefacts.len(), a.artefacts.iter().map(|x| x.end_s - x.start_s).sum::<f64>(),
                            a.artefacts.iter().map(|x| x.kind.as_str()).collect::<std::collections::BTreeSet<_>>()
                        );
                        for w in &a.warnings {
                            println!("    warning: {w}");
                        }
                        for u in &a.units {
                            println!(
                                "    unit {} n={} p2p={:.0} dur={:.1} phases={} first={:?} class={:?} ({})",
                                u.id(),
                                u.n_potentials,
                                u.measured.p2p_uv,
                                u.measured.duration_ms,
                                u.measured.phases, u.measured.first_phase, u.measured.class, u.measured.class_reason
                            );
                        }
                    }
                    let mut cp = ChannelPrediction {
                        channel: c,
                        ..Default::default()
                    };
                    cp.potentials = a
                        .potentials
                        .iter()
                        .map(|p| kymo::eval::PredictedPotential {
                            time_s: p.time_s,
                            unit: p.unit,
                        })
                        .collect();
                    cp.discharges = a
                        .discharges
                        .iter()
                        .map(|d| kymo::eval::PredictedDischarge {
                            class: d.class,
                            start_s: d.start_s,
                            end_s: d.end_s,
                            confidence: d.confidence,
                            units: d.units.clone(),
                        })
                        .collect();
                    pred.channels.push(cp);
                }
                let r = score(&truth, &pred, &eval_cfg);
                if verbose {
                    for ua in &r.units {
                        for m in &ua.units {
                            let tu = &truth.units[m.true_unit];
                            println!(
                                "    ch{} true unit {} {:?} snr {:?} dB: n {} -> unit {:?} (n {}), shared {}, recall {}",
                                ua.channel, m.true_unit, tu.waveform, tu.snr_db.get(ua.channel).copied().flatten().map(|v| (v * 10.0).round() / 10.0), m.n_true, m.pred_unit, m.n_pred, m.shared,
                                m.recall.map_or("-".into(), |v| format!("{v:.2}"))
                            );
                        }
                    }
                    for e in &truth.events {
                        println!(
                            "    true event {:>8.3}-{:>8.3} {:?} units {:?} n {}",
                            e.start_s, e.end_s, e.class, e.units, e.n_potentials
                        );
                    }
                }
                let p0 = kymo::eval::PotentialScores {
                    channel: 0,
                    n_true: 0,
                    n_pred: 0,
                    matched: 0,
                    precision: None,
                    recall: None,
                    f1: None,
                    mean_offset_ms: None,
                };
                let p = r.potentials.first().unwrap_or(&p0);
                let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
                let mut classes = String::new();
                for c in &r.discharges.per_class {
                    classes.push_str(&format!(
                        " {}={}({}/{})",
                        c.class.name(),
                        f(c.f1),
                        c.n_true,
                        c.n_pred
                    ));
                    if c.n_true > 0 {
                        table
                            .entry((name.clone(), c.class.name().to_string()))
                            .or_default()
                            .entry(format!("{snr}"))
                            .or_default()
                            .push(c.f1.unwrap_or(0.0));
                    }
                }
                if name == "rest" {
                    let n: usize = pred.channels.iter().map(|c| c.discharges.len()).sum();
                    classes.push_str(&format!(" discharges reported: {n}"));
                }
                println!(
                    "{name:<19} {snr:>4} {seed:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {classes}",
                    f(p.precision),
                    f(p.recall),
                    f(p.f1),
                    f(r.units.first().and_then(|u| u.agreement)),
                    f(r.discharges.macro_f1),
                );
            }
        }
    }
    if snrs.len() > 1 {
        println!("\nDischarge F1 by class and SNR (mean over seeds {seeds:?})\n");
        let mut head = "| scenario | class |".to_string();
        let mut rule = "|---|---|".to_string();
        for s in &snrs {
            head.push_str(&format!(" {s} dB |"));
            rule.push_str("---:|");
        }
        println!("{head}\n{rule}");
        for ((sc, class), by_snr) in &table {
            let mut row = format!("| {sc} | {class} |");
            for s in &snrs {
                let v = by_snr
                    .get(&format!("{s}"))
                    .map_or(f64::NAN, |v| v.iter().sum::<f64>() / v.len() as f64);
                row.push_str(&format!(" {v:.2} |"));
            }
            println!("{row}");
        }
    }
    Ok(())
}
