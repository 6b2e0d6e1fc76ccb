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
    /// Find, sort and classify the discharges of a recording; write them as JSON, CSV,
    /// BIDS events.tsv and annotated EDF+, and print a summary per channel.
    Analyze(AnalyzeArgs),
    /// Score an analysis against a simulator truth: potentials, units, discharges per
    /// class, confusion matrix.
    Eval(EvalArgs),
}

/// The recording kind, overriding the choice from the sampling rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// Intramuscular (needle) EMG: band 20 Hz – 10 kHz.
    Needle,
    /// Surface EMG: band 20–450 Hz.
    Surface,
}

/// Which recording, which channels and how to analyse them (shared by every command that
/// analyses a recording).
#[derive(Debug, Args)]
pub struct InputArgs {
    /// The recording: EDF/EDF+/BDF/BDF+ (.edf, .bdf), WFDB (.hea or record name), WAV, CSV/TSV/TXT, MAT.
    pub file: PathBuf,
    /// Channels to analyse, by number from 1 or by label; repeat or separate with commas
    /// (`-c 1,3` or `-c EMG1 -c EMG2`). Default: every channel.
    #[arg(
        short = 'c',
        long = "channel",
        value_name = "CH",
        value_delimiter = ','
    )]
    pub channels: Vec<String>,
    /// Analysis parameters from a TOML file (any section of the analysis configuration;
    /// unknown keys are an error).
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Recording kind (default: needle at 4 kHz and above, surface below); overrides the
    /// config file.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output folder (created if missing). Default: NAME-kymo in the current folder, NAME
    /// being the recording's file name without extension.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Which files to write, comma-separated: json (NAME.analysis.json), csv
    /// (NAME.discharges.csv), tsv (NAME_events.tsv + NAME_events.json), edf
    /// (NAME.annotated.edf).
    #[arg(long, value_name = "LIST", default_value = "json,csv,tsv,edf")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The simulator's ground truth (FILE.truth.json from `kymo simulate`).
    #[arg(long, value_name = "T.truth.json")]
    pub truth: PathBuf,
    /// The analysis to score: NAME.analysis.json from `kymo analyze` (or any JSON of the
    /// same shape: `{"channels": [{"channel", "potentials", "discharges"}]}`).
    #[arg(long, value_name = "E.json")]
    pub events: PathBuf,
    /// Largest time difference of matching potentials, ms.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 2.0,
        allow_hyphen_values = true
    )]
    pub tolerance_ms: f64,
    /// Score only this channel (number from 1 or label); default: all channels pooled.
    #[arg(long, value_name = "CH")]
    pub channel: Option<String>,
    /// Print the scores as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
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
