//! `kymo eval --truth T.truth.json --events E.json`: how well an analysis matches the
//! simulator's ground truth (`kymo::eval`): potentials, units, discharges per class and the
//! confusion matrix, as tables or `--json` (the `EvalReport` object).

use std::io::Write;

use anyhow::Result;

use kymo::eval::{format_table, score, EvalConfig, Prediction};
use kymo::simulate::truth::{self, Truth};

use crate::args::EvalArgs;

pub fn run(args: &EvalArgs) -> Result<()> {
    let truth = truth::read(&args.truth)?;
    let pred = Prediction::read(&args.events)?;
    let channel = match &args.channel {
        Some(c) => Some(truth_channel(&truth, &args.truth, c)?),
        None => None,
    };
    let cfg = EvalConfig {
        tolerance_ms: args.tolerance_ms,
        channel,
        ..EvalConfig::default()
    }
    .check()
    .map_err(|e| kymo::Error::config(format!("--tolerance-ms: {e}")))?;
    let report = score(&truth, &pred, &cfg);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", format_table(&report))?;
    }
    out.flush()?;
    Ok(())
}

/// The 0-based index of `--channel CH` among the truth's channels: a number from 1 or a
/// label.
fn truth_channel(truth: &Truth, path: &std::path::Path, spec: &str) -> Result<usize> {
    let labels = &truth.recording.channels;
    let s = spec.trim();
    let found = match s.parse::<usize>() {
        Ok(k) if (1..=labels.len()).contains(&k) => Some(k - 1),
        Ok(_) => None,
        Err(_) => labels.iter().position(|l| l == s),
    };
    found.ok_or_else(|| {
        let list: Vec<String> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{} {l}", i + 1))
            .collect();
        kymo::Error::config(format!(
            "--channel {s}: {} has no such channel (channels: {})",
            path.display(),
            list.join(", ")
        ))
        .into()
    })
}
