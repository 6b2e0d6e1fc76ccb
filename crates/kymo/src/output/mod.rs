//! The files an analysis is written to (what `kymo analyze` writes).
//!
//! | format | file (in the output folder) | what |
//! |---|---|---|
//! | `json` | `NAME.analysis.json` | the whole [`Analysis`]: settings, units, potentials, trains, discharges with features and evidence, channel summaries (schema `kymo-analysis` v1, `docs/analysis-json.md`); `kymo eval --events` reads it |
//! | `csv` | `NAME.discharges.csv` | one row per discharge: channel, class, times, confidence, runner-up, units, features, evidence |
//! | `tsv` | `NAME_events.tsv`, `NAME_events.json` | BIDS-style events (onset, duration, trial_type = class, channel, confidence, features; `n/a` where missing) and the sidecar describing every column |
//! | `edf` | `NAME.annotated.edf` | the analysed channels as EDF+ with every discharge and artefact as an annotation, for EDFbrowser |
//!
//! `NAME` is the recording's file name without its extension ([`stem`]).
//!
//! Every file is written to a temporary file beside its destination and renamed only when
//! complete ([`crate::io::atomic`]); [`write_outputs`] finishes all of them before renaming
//! any, so a failure leaves none of them behind (and never a half-written one).
//!
//! ```no_run
//! use kymo::analyze::{analyze_file, AnalysisConfig};
//! use kymo::output::{write_outputs, OutputFormat, OutputNames};
//!
//! let input = std::path::Path::new("rec.edf");
//! let analysis = analyze_file(input, None, &AnalysisConfig::default(), &|_| {})?;
//! let names = OutputNames::new("results".as_ref(), &kymo::output::stem(input));
//! let mut source = kymo::io::open(input, &Default::default())?;
//! std::fs::create_dir_all("results").ok();
//! let written = write_outputs(&analysis, &names, &OutputFormat::ALL, Some(&mut *source), &|_| {})?;
//! for f in &written.files {
//!     println!("wrote {}", f.display());
//! }
//! # Ok::<(), kymo::Error>(())
//! ```

mod edf;
mod json;
mod table;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::analyze::{Analysis, Progress};
use crate::io::atomic::{self, Staged};
use crate::io::SignalReader;
use crate::{Error, Result};

pub use edf::{annotations as edf_annotations, discharge_text, write_annotated_edf, EdfOutput};
pub use json::{to_writer as json_to_writer, write_json};
pub use table::{csv_header, tsv_header, write_discharges_csv, write_events_tsv};

/// One kind of output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// The analysis JSON.
    Json,
    /// The discharges CSV.
    Csv,
    /// The BIDS-style events TSV and its JSON sidecar.
    Tsv,
    /// The annotated EDF+.
    Edf,
}

impl OutputFormat {
    /// Every format, in the order they are written.
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Json,
        OutputFormat::Csv,
        OutputFormat::Tsv,
        OutputFormat::Edf,
    ];

    /// The name as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Csv => "csv",
            OutputFormat::Tsv => "tsv",
            OutputFormat::Edf => "edf",
        }
    }

    /// A comma-separated list (`json,csv`), duplicates removed, in the order given.
    pub fn parse_list(s: &str) -> Result<Vec<OutputFormat>> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim) {
            let f: OutputFormat = part.parse()?;
            if !out.contains(&f) {
                out.push(f);
            }
        }
        Ok(out)
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OutputFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = OutputFormat::ALL.iter().map(|f| f.name()).collect();
                Error::config(format!(
                    "output format \"{s}\" is not one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// The recording's name without folder and extension (`data/rec.edf` → `rec`), the stem
/// of every output file name; `recording` when the path has no file name.
pub fn stem(input: &Path) -> String {
    input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && s != "." && s != "..")
        .unwrap_or_else(|| "recording".to_string())
}

/// The default output folder of `kymo analyze INPUT`: `STEM-kymo` in the current folder
/// (beside the recording is not used: recordings often sit in read-only archives).
pub fn default_dir(input: &Path) -> PathBuf {
    PathBuf::from(format!("{}-kymo", stem(input)))
}

/// The output file paths for one recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputNames {
    /// `DIR/STEM.analysis.json`.
    pub json: PathBuf,
    /// `DIR/STEM.discharges.csv`.
    pub csv: PathBuf,
    /// `DIR/STEM_events.tsv` (BIDS names end in `_events`).
    pub tsv: PathBuf,
    /// `DIR/STEM_events.json`, the events sidecar.
    pub tsv_sidecar: PathBuf,
    /// `DIR/STEM.annotated.edf`.
    pub edf: PathBuf,
}

impl OutputNames {
    /// The names in `dir` for a recording whose [`stem`] is `stem`.
    pub fn new(dir: &Path, stem: &str) -> Self {
        OutputNames {
            json: dir.join(format!("{stem}.analysis.json")),
            csv: dir.join(format!("{stem}.discharges.csv")),
            tsv: dir.join(format!("{stem}_events.tsv")),
            tsv_sidecar: dir.join(format!("{stem}_events.json")),
            edf: dir.join(format!("{stem}.annotated.edf")),
        }
    }

    /// The files format `f` writes.
    pub fn files(&self, f: OutputFormat) -> Vec<&Path> {
        match f {
            OutputFormat::Json => vec![&self.json],
            OutputFormat::Csv => vec![&self.csv],
            OutputFormat::Tsv => vec![&self.tsv, &self.tsv_sidecar],
            OutputFormat::Edf => vec![&self.edf],
        }
    }
}

/// What [`write_outputs`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The files, in the order of the formats asked for.
    pub files: Vec<PathBuf>,
    /// Things the user should know about them, one sentence each.
    pub warnings: Vec<String>,
}

/// Writes `formats` of `analysis` to the paths in `names` (their folder must exist):
/// every file is completed under a temporary name first, then all are renamed into
/// place, so an error leaves none of them. The EDF+ needs `source`, the recording
/// analysed (opened anew: it is read from the start); `progress` gets the samples written
/// to it.
pub fn write_outputs(
    analysis: &Analysis,
    names: &OutputNames,
    formats: &[OutputFormat],
    mut source: Option<&mut dyn SignalReader>,
    progress: Progress<'_>,
) -> Result<Written> {
    let mut staged: Vec<Staged> = Vec::new();
    let mut warnings = Vec::new();
    for &f in formats {
        match f {
            OutputFormat::Json => staged.push(write_json(&names.json, analysis)?),
            OutputFormat::Csv => staged.push(write_discharges_csv(&names.csv, analysis)?),
            OutputFormat::Tsv => {
                staged.extend(write_events_tsv(&names.tsv, &names.tsv_sidecar, analysis)?)
            }
            OutputFormat::Edf => {
                let Some(reader) = source.as_deref_mut() else {
                    return Err(Error::config(format!(
                        "{}: the annotated EDF needs the recording to read the signal from",
                        names.edf.display()
                    )));
                };
                let out = write_annotated_edf(&names.edf, analysis, reader, progress)?;
                warnings.extend(out.warnings);
                staged.push(out.staged);
            }
        }
    }
    Ok(Written {
        files: atomic::commit_all(staged)?,
        warnings,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_from_the_command_line() {
        assert_eq!(
            OutputFormat::parse_list("json, CSV,json").unwrap(),
            vec![OutputFormat::Json, OutputFormat::Csv]
        );
        let e = OutputFormat::parse_list("json,pdf")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"pdf\"") && e.contains("json, csv, tsv, edf"),
            "{e}"
        );
    }

    #[test]
    fn names_derive_from_the_stem() {
        assert_eq!(stem("data/rec.edf".as_ref()), "rec");
        assert_eq!(stem("100".as_ref()), "100");
        assert_eq!(stem("a/emg_healthy.hea".as_ref()), "emg_healthy");
        assert_eq!(stem("/".as_ref()), "recording");
        assert_eq!(default_dir("x/rec.edf".as_ref()), PathBuf::from("rec-kymo"));
        let n = OutputNames::new("out".as_ref(), "rec");
        assert_eq!(n.json, PathBuf::from("out/rec.analysis.json"));
        assert_eq!(n.tsv, PathBuf::from("out/rec_events.tsv"));
        assert_eq!(n.tsv_sidecar, PathBuf::from("out/rec_events.json"));
        assert_eq!(n.files(OutputFormat::Tsv).len(), 2);
    }
}
