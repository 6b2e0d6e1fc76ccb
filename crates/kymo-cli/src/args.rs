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
