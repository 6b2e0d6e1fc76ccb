//! Command-line arguments, kept as close to the flags as possible; commands build the
//! library's objects from them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// kymo finds, measures and classifies spontaneous EMG activity (myokymia and its look-alikes).
#[derive(Debug, Parser)]
#[command(name = "kymo", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a recording's header: format, channels, rates, duration, start time, annotations.
    Info(InfoArgs),
    /// Simulate EMG with exact ground truth: FILE.edf (EDF+, true events as annotations) and
    /// FILE.truth.json beside it (schema: docs/truth-json.md).
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A built-in scenario (see --list).
    #[arg(long, value_name = "NAME", conflicts_with = "scenario_file")]
    pub scenario: Option<String>,
    /// A scenario from a TOML file holding any of its parameters.
    #[arg(long, value_name = "FILE")]
    pub scenario_file: Option<PathBuf>,
    /// List the built-in scenarios with one line each, and exit.
    #[arg(long)]
    pub list: bool,
    /// Length in seconds (default: the scenario's).
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    pub seconds: Option<f64>,
    /// Random seed: the same seed gives byte-identical files.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,
    /// Background noise as the median unit's signal-to-noise ratio in dB.
    #[arg(long, value_name = "DB", allow_hyphen_values = true)]
    pub snr_db: Option<f64>,
    /// Mains frequency of the hum, 50 or 60 Hz (its amplitude is the scenario's).
    #[arg(long, value_name = "HZ", allow_hyphen_values = true)]
    pub mains: Option<f64>,
    /// The EDF+ file to write; the truth goes to the same name with `.truth.json`.
    #[arg(long, value_name = "FILE.edf")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The recording: EDF/EDF+/BDF/BDF+ (.edf, .bdf), WFDB (.hea or record name), WAV, CSV/TSV/TXT, MAT.
    pub file: PathBuf,
    /// Print a JSON object instead of text (schema: docs/info-json.md).
    #[arg(long)]
    pub json: bool,
    /// How many annotations to list (the count is always given).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub annotations: usize,
    /// Sampling rate in Hz, for text files that have no time column or rate comment.
    #[arg(long, value_name = "HZ")]
    pub rate: Option<f64>,
}
