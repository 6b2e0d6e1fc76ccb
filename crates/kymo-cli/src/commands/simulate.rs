//! `kymo simulate`: a simulated recording as EDF+ (true events as annotations) plus its
//! ground truth as JSON (`docs/truth-json.md`).
//!
//! The EDF+ header holds the annotations, which must be known before the first sample is
//! written, so the events are computed first by a quiet run of the same scenario and seed
//! (`kymo::simulate::annotations`; every random stream is per purpose, so they are the full
//! run's events exactly), then the full run streams samples into the EDF writer and the
//! truth into its file. The EDF start time is fixed (2000-01-01 00:00:00), so the same seed
//! gives byte-identical files.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use kymo::io::edf::{EdfChannelSpec, EdfSpec, EdfWriteSummary, EdfWriter};
use kymo::io::DateTime;
use kymo::simulate::truth::TruthWriter;
use kymo::simulate::{self, NoiseLevel, RecordingInfo, SampleSink, Scenario, Simulation};

use crate::args::SimulateArgs;

/// The start time written into every simulated EDF+ header (fixed, for reproducible bytes).
const START: DateTime = DateTime {
    year: 2000,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
    nanos: 0,
};

pub fn run(args: &SimulateArgs) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.list {
        let list = simulate::list();
        let width = list.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, description) in list {
            writeln!(out, "{name:width$}  {description}")?;
        }
        out.flush()?;
        return Ok(());
    }
    let scenario = scenario(args)?;
    let Some(edf_path) = &args.out else {
        return Err(config("--out FILE.edf is required (or --list)"));
    };
    let rec = write_recording(&scenario, args.seed, edf_path)?;
    let info = &rec.info;
    writeln!(
        out,
        "wrote {}: {} channel(s) at {} Hz, {} samples each ({} s), {} annotations",
        edf_path.display(),
        info.channels.len(),
        info.rate_hz,
        info.n_samples,
        scenario.seconds,
        rec.annotations
    )?;
    writeln!(
        out,
        "wrote {}: {} potentials, {} events, {} artefacts",
        rec.truth_path.display(),
        rec.summary.potentials,
        rec.summary.events,
        rec.summary.artefacts
    )?;
    out.flush()?;
    if rec.clipped_samples > 0 {
        eprintln!(
            "kymo: warning: {} samples lay outside the EDF physical range ±{} µV and were clipped in {} (the truth file is exact)",
            rec.clipped_samples,
            info.range_uv,
            edf_path.display()
        );
    }
    Ok(())
}

/// What [`write_recording`] wrote.
pub struct Recorded {
    /// The recording's description.
    pub info: RecordingInfo,
    /// The truth file beside the EDF.
    pub truth_path: PathBuf,
    /// Annotations in the EDF+ header.
    pub annotations: usize,
    /// Potentials, events and artefacts of the truth.
    pub summary: simulate::truth::TruthSummary,
    /// Samples clipped to the EDF physical range.
    pub clipped_samples: u64,
}

/// Simulates `scenario` with `seed` into `edf_path` (EDF+, true events as annotations)
/// and its truth beside it (`truth_path`); makes the folder if needed.
pub fn write_recording(scenario: &Scenario, seed: u64, edf_path: &Path) -> Result<Recorded> {
    let truth_path = truth_path(edf_path);
    // `--out results/x.edf` in a fresh folder is the usual first run: make the folder.
    if let Some(dir) = edf_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| kymo::Error::io(dir, "cannot create the output folder", e))?;
    }

    let sim = Simulation::new(scenario, seed)?;
    let info = sim.info().clone();
    let annotations = simulate::annotations(scenario, seed)?;
    let n_annotations = annotations.len();
    let transducer = format!("simulated {} electrode", info.electrode.name());
    let prefilter = format!("HP:{}Hz LP:{}Hz", info.band_hz[0], info.band_hz[1]);
    let channels = info
        .channels
        .iter()
        .map(|label| EdfChannelSpec {
            label: label.clone(),
            unit: info.unit.clone(),
            rate_hz: info.rate_hz,
            physical_range: (-info.range_uv, info.range_uv),
            transducer: transducer.clone(),
            prefilter: prefilter.clone(),
        })
        .collect();
    let mut spec = EdfSpec::new(START, channels);
    spec.equipment = format!("kymo simulate {} seed {}", scenario.name, seed);
    spec.annotations = annotations;
    let mut sink = EdfSink {
        writer: Some(EdfWriter::create(edf_path, &spec)?),
        summary: None,
    };
    let mut truth = TruthWriter::create(&truth_path)?;
    let summary = sim.run(&mut sink, &mut truth)?;
    Ok(Recorded {
        info,
        truth_path,
        annotations: n_annotations,
        summary,
        clipped_samples: sink.summary.map_or(0, |s| s.clipped_samples),
    })
}

/// The scenario from `--scenario` or `--scenario-file`, with the command-line overrides.
fn scenario(args: &SimulateArgs) -> Result<Scenario> {
    let mut s = match (&args.scenario, &args.scenario_file) {
        (Some(name), None) => simulate::builtin(name)?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| kymo::Error::io(path, "cannot read the scenario file", e))?;
            Scenario::from_toml_str(&text)
                .map_err(|e| kymo::Error::config(format!("{}: {e}", path.display())))?
        }
        _ => {
            return Err(config(
                "give --scenario NAME or --scenario-file FILE.toml (see --list)",
            ))
        }
    };
    if let Some(x) = args.seconds {
        s.seconds = x;
    }
    if let Some(x) = args.snr_db {
        s.recording.noise = NoiseLevel::SnrDb(x);
    }
    if let Some(x) = args.mains {
        s.recording.mains.hz = x;
    }
    Ok(s)
}

/// `rec.edf` → `rec.truth.json`.
pub fn truth_path(edf: &Path) -> PathBuf {
    edf.with_extension("truth.json")
}

fn config(what: &str) -> anyhow::Error {
    kymo::Error::config(format!("simulate: {what}")).into()
}

/// Streams the simulator's blocks into the EDF writer and finishes it at the end.
struct EdfSink {
    writer: Option<EdfWriter>,
    summary: Option<EdfWriteSummary>,
}

impl SampleSink for EdfSink {
    fn push(&mut self, channels: &[&[f32]]) -> kymo::Result<()> {
        match &mut self.writer {
            Some(w) => w.push(channels),
            None => Err(kymo::Error::config(
                "simulate: the EDF file was already finished",
            )),
        }
    }

    fn finish(&mut self) -> kymo::Result<()> {
        if let Some(w) = self.writer.take() {
            self.summary = Some(w.finish()?);
        }
        Ok(())
    }
}
