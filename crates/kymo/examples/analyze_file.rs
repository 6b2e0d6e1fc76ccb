//! Analyses a file with the default configuration and prints each channel's units and
//! discharges: `cargo run --release -p kymo --example analyze_file -- FILE [CHANNEL…]`.
use kymo::analyze::{analyze_file, AnalysisConfig};

fn main() -> kymo::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: analyze_file FILE [CHANNEL…]");
        std::process::exit(1);
    };
    let chans: Vec<usize> = args[1..].iter().filter_map(|s| s.parse().ok()).collect();
    let a = analyze_file(
        path.as_ref(),
        (!chans.is_empty()).then_some(&chans[..]),
        &AnalysisConfig::default(),
        &|_| {},
    )?;
    for c in &a.channels {
        println!(
            "{} ({}, {:.1} s, {} Hz, band {:?}, mains {:?}, σ {:.1} µV): {} detected, {} units, {} discharges",
            c.label, c.channel, c.duration_s, c.rate_hz, c.settings.band_hz, c.settings.mains_hz,
            c.settings.noise_sigma_uv, c.n_detected, c.units.len(), c.discharges.len()
        );
        let mut counts = std::collections::BTreeMap::new();
        for d in &c.discharges {
            *counts.entry(d.class.name()).or_insert(0) += 1;
        }
        println!("  classes: {counts:?}");
        for u in &c.units {
            println!(
                "  unit {}: {} potentials, {:.0} µV, {:.1} ms, {} phases, {}",
                u.id(),
                u.n_potentials,
                u.measured.p2p_uv,
                u.measured.duration_ms,
                u.measured.phases,
                u.measured.class_reason
            );
        }
        for d in c.discharges.iter().take(8) {
            println!(
                "  {:.3}-{:.3} {} {:.2}: {}",
                d.start_s,
                d.end_s,
                d.class.name(),
                d.confidence,
                d.evidence
            );
        }
        for w in &c.warnings {
            println!("  warning: {w}");
        }
    }
    Ok(())
}
