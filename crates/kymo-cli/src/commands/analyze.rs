//! `kymo analyze FILE`: the whole analysis of a recording, written as JSON, CSV, BIDS
//! events and annotated EDF+ (`kymo::output`), with a short summary per channel on stdout.
//!
//! Order of work, so that a mistake costs nothing: arguments, configuration and channels
//! are checked and the output folder made writable before the (long) analysis; every
//! output is then completed under a temporary name and all are renamed together. A failed
//! run leaves no output file and removes an output folder it created. The progress bar
//! goes to stderr, and only when stderr is a terminal.
//!
//! `--report` adds `report.html` (`kymo::report`, with the clinical context of
//! `--muscle`, `--side` and `--history`), `--audio` the WAVs under `audio/`; they are
//! written before the other outputs and removed again if those fail.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

use kymo::analyze::{analyze_file, Analysis, AnalysisConfig, ChannelAnalysis};
use kymo::clinical::{Patient, Rules, Side};
use kymo::dsp::Kind;
use kymo::io::{open, Header, OpenOptions};
use kymo::output::{self, OutputFormat, OutputNames};
use kymo::pattern::summary::MyokymicPattern;
use kymo::report::{self, ReportOptions};

use crate::args::{AnalyzeArgs, ClinicalArgs, InputArgs, KindArg, SideArg};

pub fn run(args: &AnalyzeArgs) -> Result<()> {
    let formats = OutputFormat::parse_list(&args.format)
        .map_err(|e| kymo::Error::config(format!("--format: {e}")))?;
    let cfg = analysis_config(&args.input)?;
    let path = &args.input.file;
    let mut source = open(path, &OpenOptions::default())?;
    let header = source.header().clone();
    let channels = resolve_channels(&header, &args.input.channels)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| output::default_dir(path));
    let names = OutputNames::new(&dir, &output::stem(path));
    let mut folder = OutputFolder::prepare(&dir)?;

    // Without -c every channel is offered and the library leaves out the ones too slow
    // for EMG; with -c such a channel is an error.
    let explicit = !args.input.channels.is_empty();
    let analysed: u64 = channels
        .iter()
        .map(|&c| &header.channels[c])
        .filter(|c| explicit || c.rate_hz >= kymo::analyze::MIN_RATE_HZ)
        .map(|c| c.n_samples)
        .sum();
    let bar = progress_bar(analysed, "analysing");
    let analysis = analyze_file(path, explicit.then_some(&channels[..]), &cfg, &|n| {
        bar.inc(n)
    })?;
    let reported = if args.report || args.audio {
        bar.set_message("writing report");
        Some(write_report(
            &dir,
            path,
            &analysis,
            &args.clinical,
            args.report,
            args.audio,
        )?)
    } else {
        None
    };
    if formats.contains(&OutputFormat::Edf) {
        bar.reset();
        bar.set_length(analysed);
        bar.set_message("writing EDF");
    }
    let written =
        match output::write_outputs(&analysis, &names, &formats, Some(&mut *source), &|n| {
            bar.inc(n)
        }) {
            Ok(w) => w,
            Err(e) => {
                if let Some(r) = &reported {
                    remove_report(&dir, r);
                }
                return Err(e.into());
            }
        };
    folder.keep();
    bar.finish_and_clear();

    let mut out = std::io::stdout().lock();
    write_summary(&mut out, &analysis)?;
    for f in &written.files {
        writeln!(out, "wrote {}", f.display())?;
    }
    if let Some(r) = &reported {
        if args.report {
            writeln!(out, "wrote {}", r.report.display())?;
        }
        if !r.audio.is_empty() {
            writeln!(
                out,
                "wrote {} WAV files (each channel, and {} example clips) under {}",
                r.audio.len() + r.clips.len(),
                r.clips.len(),
                dir.join("audio").display()
            )?;
        }
    }
    out.flush()?;
    let mut err = std::io::stderr().lock();
    let c = &args.clinical;
    if !args.report && (c.muscle.is_some() || c.side.is_some() || c.history.is_some()) {
        writeln!(
            err,
            "kymo: warning: --muscle, --side and --history only shape the report's clinical context; add --report"
        )?;
    }
    let mut seen = std::collections::HashSet::new();
    for ch in &analysis.channels {
        for w in &ch.warnings {
            let line = format!("channel {} ({}): {w}", ch.channel + 1, ch.label);
            if seen.insert(line.clone()) {
                writeln!(err, "kymo: warning: {line}")?;
            }
        }
    }
    for w in &written.warnings {
        writeln!(err, "kymo: warning: {w}")?;
    }
    Ok(())
}

/// What the clinical context knows of the site and the patient.
pub fn patient(c: &ClinicalArgs) -> Patient {
    Patient {
        muscle: c.muscle.clone(),
        side: c.side.map(|s| match s {
            SideArg::Left => Side::Left,
            SideArg::Right => Side::Right,
        }),
        history: c.history.clone(),
    }
}

/// Writes `report.html` (when `html`) and the audio (when `audio`) into `dir`, reading
/// `recording` again for sweeps, overlays and sound.
pub fn write_report(
    dir: &Path,
    recording: &Path,
    analysis: &Analysis,
    clinical: &ClinicalArgs,
    html: bool,
    audio: bool,
) -> Result<report::Written> {
    write_report_with(dir, recording, analysis, clinical, html, audio, &[])
}

/// [`write_report`] with extra blocks at the end of the report.
pub fn write_report_with(
    dir: &Path,
    recording: &Path,
    analysis: &Analysis,
    clinical: &ClinicalArgs,
    html: bool,
    audio: bool,
    appendix: &[report::Appendix],
) -> Result<report::Written> {
    let mut reader = open(recording, &OpenOptions::default())?;
    let mut read = |c: usize, s: u64, b: &mut [f32]| reader.read(c, s, b);
    if !html {
        return Ok(report::write_audio(
            dir,
            analysis,
            report::EXAMPLES_PER_CLASS,
            &mut read,
        )?);
    }
    let context = Rules::builtin()?.context(analysis, &patient(clinical));
    Ok(report::write_dir(
        dir,
        analysis,
        Some(&context),
        appendix,
        &mut read,
        &ReportOptions {
            audio,
            ..ReportOptions::default()
        },
    )?)
}

/// Removes what [`write_report`] wrote (after a later output failed).
fn remove_report(dir: &Path, r: &report::Written) {
    for f in std::iter::once(&r.report)
        .filter(|p| !p.as_os_str().is_empty())
        .chain(r.audio.iter().chain(&r.clips).map(|w| &w.path))
    {
        let _ = std::fs::remove_file(f);
    }
    for d in [dir.join("audio/clips"), dir.join("audio")] {
        let _ = std::fs::remove_dir(d);
    }
}

/// The configuration from `--config` (defaults without), with `--kind` on top; checked
/// here so that a bad value names the file before any work is done.
pub fn analysis_config(input: &InputArgs) -> Result<AnalysisConfig> {
    let mut cfg = match &input.config {
        Some(p) => AnalysisConfig::read(p)?,
        None => AnalysisConfig::default(),
    };
    if let Some(k) = input.kind {
        cfg.kind = Some(match k {
            KindArg::Needle => Kind::Needle,
            KindArg::Surface => Kind::Surface,
        });
    }
    if let Err(e) = cfg.check() {
        return Err(match (&input.config, e) {
            (Some(p), kymo::Error::Config(m)) => {
                kymo::Error::config(format!("{}: {m}", p.display())).into()
            }
            (_, e) => e.into(),
        });
    }
    Ok(cfg)
}

/// Most channels listed in an error message about a channel that does not exist.
const LISTED_CHANNELS: usize = 12;

/// The 0-based channel indices that `-c` names (every channel when none), in the order
/// given, each once. A number is a channel number from 1; anything else is a label
/// (exact, or the one label equal to it ignoring case).
pub fn resolve_channels(header: &Header, specs: &[String]) -> Result<Vec<usize>> {
    let file = header.path.display();
    let n = header.channels.len();
    if specs.is_empty() {
        if n == 0 {
            return Err(kymo::Error::config(format!("{file}: the file has no channel")).into());
        }
        return Ok((0..n).collect());
    }
    let listing = || {
        let mut s: Vec<String> = header
            .channels
            .iter()
            .take(LISTED_CHANNELS)
            .enumerate()
            .map(|(i, c)| format!("{} {}", i + 1, c.label))
            .collect();
        if n > LISTED_CHANNELS {
            s.push("…".to_string());
        }
        s.join(", ")
    };
    let mut out = Vec::new();
    for spec in specs {
        let s = spec.trim();
        let index = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            match s.parse::<usize>() {
                Ok(k) if (1..=n).contains(&k) => k - 1,
                Ok(0) => {
                    return Err(kymo::Error::config(format!(
                        "-c 0: channels are numbered from 1 ({file} has {n}: {})",
                        listing()
                    ))
                    .into())
                }
                _ => {
                    return Err(kymo::Error::config(format!(
                        "{file}: channel {s} does not exist (the file has {n}: {})",
                        listing()
                    ))
                    .into())
                }
            }
        } else {
            let folded: Vec<usize> = (0..n)
                .filter(|&i| header.channels[i].label.eq_ignore_ascii_case(s))
                .collect();
            match (header.channel_index(s), folded.as_slice()) {
                (Some(i), _) if !s.is_empty() => i,
                (None, [i]) => *i,
                _ => {
                    return Err(kymo::Error::config(format!(
                        "{file}: no channel is labelled \"{s}\" (channels: {})",
                        listing()
                    ))
                    .into())
                }
            }
        };
        if !out.contains(&index) {
            out.push(index);
        }
    }
    Ok(out)
}

/// The output folder: created (with any missing parents) and checked writable before the
/// analysis; removed again on failure if this run created it.
struct OutputFolder {
    /// Folders this run created, deepest first.
    created: Vec<PathBuf>,
    keep: bool,
}

impl OutputFolder {
    fn prepare(dir: &Path) -> Result<OutputFolder> {
        let mut missing = Vec::new();
        let mut p = Some(dir);
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            missing.push(d.to_path_buf());
            p = d.parent();
        }
        let mut folder = OutputFolder {
            created: Vec::new(),
            keep: false,
        };
        if !missing.is_empty() {
            let made = std::fs::create_dir_all(dir);
            folder.created = missing;
            made.map_err(|e| kymo::Error::io(dir, "cannot create the output folder", e))?;
        } else if !dir.as_os_str().is_empty() && !dir.is_dir() {
            return Err(kymo::Error::io(
                dir,
                "cannot use as the output folder",
                std::io::Error::other("it is not a folder"),
            )
            .into());
        }
        // Probe: the outputs are written beside their destinations, so the folder must
        // take new files; find out now rather than after the analysis.
        let probe = dir.join(format!(".kymo-probe-{}", std::process::id()));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .map_err(|e| kymo::Error::io(dir, "cannot write to the output folder", e))?;
        let _ = std::fs::remove_file(&probe);
        Ok(folder)
    }

    fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for OutputFolder {
    fn drop(&mut self) {
        if !self.keep {
            // Only empty folders go (remove_dir refuses others), deepest first.
            for d in &self.created {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

/// A progress bar on stderr when it is a terminal, else a hidden one (piped runs stay quiet).
pub fn progress_bar(total: u64, message: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    // Cleared when dropped too, so an error message starts on a clean line.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        .with_finish(ProgressFinish::AndClear);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:12} [{bar:32}] {percent:>3}%  {elapsed} (eta {eta})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

/// The short per-channel summary table.
fn write_summary(out: &mut impl Write, a: &Analysis) -> std::io::Result<()> {
    let secs: Vec<f64> = a.channels.iter().map(|c| c.duration_s).collect();
    let same = secs.windows(2).all(|w| w[0] == w[1]);
    let dur = match (same, secs.first()) {
        (true, Some(s)) => format!(", {} s each", trim(*s, 3)),
        _ => String::new(),
    };
    writeln!(
        out,
        "{}: {} channel{} analysed{dur}",
        a.file,
        a.channels.len(),
        if a.channels.len() == 1 { "" } else { "s" }
    )?;
    for s in &a.skipped {
        writeln!(out, "  skipped: {s}")?;
    }
    let lw = a
        .channels
        .iter()
        .map(|c| c.label.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "  {:>3}  {:<lw$}  {:>5}  {:>10}  {:>10}  {:<20}  {:<7}  myokymia",
        "#", "label", "units", "potentials", "discharges", "dominant", "fib/PSW"
    )?;
    for c in &a.channels {
        let s = &c.summary;
        writeln!(
            out,
            "  {:>3}  {:<lw$}  {:>5}  {:>10}  {:>10}  {:<20}  {:<7}  {}",
            c.channel + 1,
            c.label,
            c.units.len(),
            c.potentials.len(),
            c.discharges.len(),
            s.dominant.map_or("-", |d| d.name()),
            s.fibrillation_grade.label,
            myokymia(c)
        )?;
        if !s.classes.is_empty() {
            let classes: Vec<String> = s
                .classes
                .iter()
                .map(|k| format!("{} {}", k.class.name(), k.discharges))
                .collect();
            writeln!(out, "  {:>3}  {:<lw$}  {}", "", "", classes.join(", "))?;
        }
    }
    Ok(())
}

/// Continuous vs episodic myokymic activity, in words.
fn myokymia(c: &ChannelAnalysis) -> String {
    let m = &c.summary.myokymic;
    let bursts = || format!("{} bursts ({}/min)", m.bursts, trim(m.bursts_per_min, 1));
    let cont = || {
        format!(
            "{} s continuous ({} %)",
            trim(m.continuous_s, 1),
            trim(m.continuous_fraction * 100.0, 0)
        )
    };
    match m.pattern {
        MyokymicPattern::None => "none".to_string(),
        MyokymicPattern::Episodic => format!("episodic: {}", bursts()),
        MyokymicPattern::Continuous => format!("continuous: {}", cont()),
        MyokymicPattern::EpisodicAndContinuous => {
            format!("episodic and continuous: {}, {}", bursts(), cont())
        }
    }
}

/// `x` with at most `decimals` decimals, trailing zeros removed.
fn trim(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kymo::io::{Channel, Format};

    fn header(labels: &[&str]) -> Header {
        let channels = labels
            .iter()
            .map(|l| Channel {
                label: l.to_string(),
                unit: "uV".into(),
                rate_hz: 1000.0,
                n_samples: 10,
                physical_range: None,
                transducer: None,
                prefilter: None,
            })
            .collect();
        Header::continuous(
            Format::Csv,
            Path::new("rec.csv"),
            channels,
            0.01,
            vec![],
            vec![],
        )
    }

    fn ch(h: &Header, specs: &[&str]) -> std::result::Result<Vec<usize>, String> {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        resolve_channels(h, &specs).map_err(|e| e.to_string())
    }

    #[test]
    fn channels_by_number_or_label() {
        let h = header(&["EMG1", "EMG2", "emg3"]);
        assert_eq!(ch(&h, &[]).unwrap(), vec![0, 1, 2]);
        assert_eq!(ch(&h, &["2", "1", "2"]).unwrap(), vec![1, 0]);
        assert_eq!(ch(&h, &["EMG2"]).unwrap(), vec![1]);
        assert_eq!(ch(&h, &["EMG3"]).unwrap(), vec![2]);
        let e = ch(&h, &["4"]).unwrap_err();
        assert!(
            e.contains("channel 4 does not exist") && e.contains("1 EMG1"),
            "{e}"
        );
        let e = ch(&h, &["0"]).unwrap_err();
        assert!(e.contains("numbered from 1"), "{e}");
        let e = ch(&h, &["EMG9"]).unwrap_err();
        assert!(e.contains("\"EMG9\""), "{e}");
        let e = ch(&h, &[""]).unwrap_err();
        assert!(e.contains("no channel is labelled"), "{e}");
    }

    #[test]
    fn numbers_are_trimmed() {
        assert_eq!(trim(76.0, 1), "76");
        assert_eq!(trim(2.25, 1), "2.2");
        assert_eq!(trim(30.0, 3), "30");
    }
}
