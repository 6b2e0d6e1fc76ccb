//! `kymo demo [--out DIR]`: the first thing a new user runs. Simulates the `mixed`
//! scenario (a two-channel needle recording with myokymic bursts, fibrillation potentials,
//! complex repetitive and neuromyotonic discharges, each in its own quarter, and
//! fasciculations throughout) with exact ground truth, analyses it as `kymo analyze` would,
//! writes the events, the HTML report and the audio, scores the analysis against the
//! truth, and prints where the report is and a five-line summary. No input file, no
//! network.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use kymo::analyze::{analyze_file, Analysis, AnalysisConfig};
use kymo::clinical::{ClinicalContext, Rules};
use kymo::eval::{format_table, score, EvalConfig, EvalReport, Prediction};
use kymo::io::{open, OpenOptions};
use kymo::output::{self, OutputFormat, OutputNames};
use kymo::pattern::summary::MyokymicPattern;
use kymo::pattern::DischargeClass;
use kymo::report::Appendix;
use kymo::simulate::{self, truth};

use crate::args::DemoArgs;
use crate::commands::{analyze, simulate as sim_cmd};

/// The scenario the demo simulates.
const SCENARIO: &str = "mixed";

pub fn run(args: &DemoArgs) -> Result<()> {
    let started = Instant::now();
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("kymo-demo"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| kymo::Error::io(&dir, "cannot create the output folder", e))?;
    let patient = analyze::patient(&args.clinical);

    // 1. A recording with known truth.
    let scenario = simulate::builtin(SCENARIO)?;
    let edf = dir.join(format!("{SCENARIO}.edf"));
    let recorded = sim_cmd::write_recording(&scenario, args.seed, &edf)?;
    let truth_path = sim_cmd::truth_path(&edf);

    // 2. The analysis, as `kymo analyze` does it.
    let cfg = AnalysisConfig::default();
    let total = recorded.info.n_samples * recorded.info.channels.len() as u64;
    let bar = analyze::progress_bar(total, "analysing");
    let analysis = analyze_file(&edf, None, &cfg, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    let names = OutputNames::new(&dir, &output::stem(&edf));
    let formats = [
        OutputFormat::Json,
        OutputFormat::Csv,
        OutputFormat::Tsv,
        OutputFormat::Edf,
    ];
    let mut source = open(&edf, &OpenOptions::default())?;
    let written = output::write_outputs(&analysis, &names, &formats, Some(&mut *source), &|_| {})?;

    // 3. Accuracy against the truth, read back from the files as `kymo eval` does.
    let truth = truth::read(&truth_path)?;
    let json = names
        .files(OutputFormat::Json)
        .first()
        .map(|p| p.to_path_buf())
        .ok_or_else(|| kymo::Error::config("demo: no JSON output name"))?;
    let scores = score(
        &truth,
        &Prediction::read(&json)?,
        &EvalConfig::default().check()?,
    );

    // 4. Clinical context, report and audio.
    let clinical = Rules::builtin()?.context(&analysis, &patient);
    let appendix = [Appendix {
        title: "Accuracy against the simulator's truth".into(),
        text: format!(
            "The recording was simulated (scenario \"{SCENARIO}\", seed {}), so every potential and discharge is known.\nkymo's analysis scored against it (as kymo eval does):\n\n{}",
            args.seed,
            format_table(&scores)
        ),
    }];
    let rep =
        analyze::write_report_with(&dir, &edf, &analysis, &args.clinical, true, true, &appendix)?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "report: {}", rep.report.display())?;
    for line in summary(
        &analysis,
        &scores,
        &clinical,
        recorded.info.rate_hz,
        scenario.seconds,
    ) {
        writeln!(out, "  {line}")?;
    }
    let mut files: Vec<String> = vec![edf.display().to_string(), truth_path.display().to_string()];
    files.extend(written.files.iter().map(|f| f.display().to_string()));
    writeln!(
        out,
        "also wrote: {} and {} WAV files under {} ({:.1} s in all)",
        files.join(", "),
        rep.audio.len() + rep.clips.len(),
        dir.join("audio").display(),
        started.elapsed().as_secs_f64()
    )?;
    out.flush()?;
    Ok(())
}

/// Five lines: what was simulated, what was found, myokymia per channel, accuracy, and the
/// clinical context.
fn summary(
    a: &Analysis,
    scores: &EvalReport,
    clinical: &ClinicalContext,
    rate_hz: f64,
    seconds: f64,
) -> Vec<String> {
    let mut lines = Vec::with_capacity(5);
    lines.push(format!(
        "simulated: {seconds:.0} s of needle EMG, {} channels at {:.0} kHz (scenario \"{SCENARIO}\": myokymic, fibrillation, complex repetitive and neuromyotonic discharges in turn, fasciculations throughout)",
        a.channels.len(),
        rate_hz / 1000.0
    ));
    let found: Vec<String> = DischargeClass::ALL
        .iter()
        .filter_map(|&c| {
            let n: usize = a
                .channels
                .iter()
                .map(|ch| ch.discharges.iter().filter(|d| d.class == c).count())
                .sum();
            (n > 0).then(|| format!("{} {n}", c.name()))
        })
        .collect();
    lines.push(format!(
        "found: {}",
        if found.is_empty() {
            "no discharges".into()
        } else {
            found.join(", ")
        }
    ));
    let my: Vec<String> = a
        .channels
        .iter()
        .map(|ch| {
            let m = &ch.summary.myokymic;
            let what = match m.pattern {
                MyokymicPattern::None => "none".to_string(),
                MyokymicPattern::Episodic => {
                    format!("episodic, {:.0} bursts/min", m.bursts_per_min)
                }
                MyokymicPattern::Continuous => {
                    format!(
                        "continuous, {:.0} % of the time",
                        m.continuous_fraction * 100.0
                    )
                }
                MyokymicPattern::EpisodicAndContinuous => format!(
                    "episodic and continuous, {:.0} bursts/min",
                    m.bursts_per_min
                ),
            };
            format!("{} {what}", ch.label)
        })
        .collect();
    lines.push(format!("myokymic activity: {}", my.join("; ")));
    let pf1: Vec<String> = scores
        .potentials
        .iter()
        .filter_map(|p| p.f1.map(|f| format!("{f:.2}")))
        .collect();
    let per_class: Vec<String> = scores
        .discharges
        .per_class
        .iter()
        .filter(|c| c.n_true > 0)
        .map(|c| {
            format!(
                "{} {}",
                c.class.name(),
                c.f1.map_or("–".into(), |f| format!("{f:.2}"))
            )
        })
        .collect();
    lines.push(format!(
        "accuracy against the truth: potentials F1 {}; discharges macro-F1 {} ({})",
        pf1.join(" / "),
        scores
            .discharges
            .macro_f1
            .map_or("–".into(), |f| format!("{f:.2}")),
        per_class.join(", ")
    ));
    let titles: Vec<&str> = clinical
        .statements
        .iter()
        .map(|s| s.title.as_str())
        .collect();
    lines.push(format!(
        "clinical context ({} statements, decision support, not a diagnosis): {}",
        titles.len(),
        if titles.is_empty() {
            "none".to_string()
        } else {
            titles.join("; ")
        }
    ));
    lines
}
