//! Ground truth of a simulated recording: every potential, event and artefact, as a
//! versioned JSON document (`truth_version: 1`), written as the simulation runs.
//!
//! The schema is documented field by field in `docs/truth-json.md`; the record types here
//! are its Rust form (they serialize to exactly those objects). Within a version fields are
//! only ever added; a rename, removal or change of meaning bumps [`TRUTH_VERSION`].
//!
//! Order of the document: `truth_version`, `generator`, `seed`, `scenario` (every
//! parameter, defaults filled in), `recording`, `units`, `potentials` (in time order),
//! `events` (in the order they close; ids are chronological by first potential), `artefacts`
//! (continuous ones first, then transients by start), `summary`.
//!
//! [`TruthWriter`] streams the document to a file with flat memory: potentials go straight
//! into a temporary file beside the target, events and artefacts into two side files that
//! are appended at the end; the result is renamed into place only when complete
//! ([`crate::io::atomic`]), so a failed run never leaves a partial truth file. [`Truth`] is the same document in memory:
//! it collects a run (tests, demos) and is what [`read`] returns.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::scenario::{Class, Electrode, Range, Scenario};
use super::waveform::{Polarity, WaveformKind};
use crate::io::atomic::AtomicFile;
use crate::{Error, Result};

/// The schema version written in `truth_version`.
pub const TRUTH_VERSION: u32 = 1;

/// How the signal was recorded.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecordingRecord {
    /// `needle` or `surface`.
    pub electrode: Electrode,
    /// Sampling rate, Hz (every channel).
    pub rate_hz: f64,
    /// Length, s (as configured).
    pub seconds: f64,
    /// Samples per channel: `ceil(seconds · rate_hz)`.
    pub n_samples: u64,
    /// Channel labels, in order.
    pub channels: Vec<String>,
    /// Physical unit of the samples: `uV`.
    pub unit: String,
    /// The band-pass applied to potentials and noise, `[high-pass, low-pass]` Hz.
    pub band_hz: Range,
    /// Grid on which potential times lie, s: `1 / (16 · rate_hz)`.
    pub time_resolution_s: f64,
    /// Background noise rms per channel, µV (after the band-pass).
    pub noise_rms_uv: Vec<f64>,
    /// The configured median-unit SNR in dB, when the noise was given that way.
    pub snr_db: Option<f64>,
}

/// One motor unit (or fibre, or complex) and its template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Unit id (0-based, in scenario order).
    pub id: usize,
    /// The source (0-based expanded copy number) that fires it.
    pub source: usize,
    /// The discharge class its source makes.
    pub class: Class,
    /// The waveform kind.
    pub waveform: WaveformKind,
    /// Peak-to-peak amplitude on channel 0 at scale 1, µV.
    pub p2p_uv: f64,
    /// Measured duration, ms.
    pub duration_ms: f64,
    /// Measured phase count.
    pub phases: u32,
    /// Sign of the first phase.
    pub first_phase: Polarity,
    /// rms over the duration on channel 0 at scale 1, µV (the SNR's numerator).
    pub rms_uv: f64,
    /// Start of the duration relative to the potential's time, ms (≤ 0).
    pub onset_ms: f64,
    /// End of the duration relative to the potential's time, ms (≥ 0).
    pub end_ms: f64,
    /// Gain on each channel (channel 0 is 1).
    pub gains: Vec<f64>,
    /// SNR on each channel, dB (`null` without noise).
    pub snr_db: Vec<Option<f64>>,
}

/// One potential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PotentialRecord {
    /// Time of the potential's reference point (the template's largest magnitude), s from
    /// the start, on the grid of `time_resolution_s`; the first sample is at 0.
    pub t: f64,
    /// The sample nearest to `t`: `round(t · rate_hz)`.
    pub sample: u64,
    /// Unit id.
    pub unit: usize,
    /// Discharge class.
    pub class: Class,
    /// Event id.
    pub event: u64,
    /// Amplitude scale relative to the unit's template.
    pub scale: f64,
    /// Peak-to-peak amplitude on each channel, µV: `p2p_uv · scale · gain`.
    pub amplitude_uv: Vec<f64>,
}

/// One event: a burst, a discharge, a train, a contraction, a fasciculation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Event id (0-based, in order of first potential).
    pub id: u64,
    /// Discharge class.
    pub class: Class,
    /// The source that made it.
    pub source: usize,
    /// Start of the first potential's duration, s.
    pub start_s: f64,
    /// End of the last potential's duration, s.
    pub end_s: f64,
    /// Time of the first potential, s.
    pub first_s: f64,
    /// Time of the last potential, s.
    pub last_s: f64,
    /// Units that fired in it, ascending.
    pub units: Vec<usize>,
    /// Potentials in it.
    pub n_potentials: u64,
    /// The parameters that made it (names per class in `docs/truth-json.md`).
    pub params: BTreeMap<String, f64>,
}

/// The kind of an artefact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtefactKind {
    /// Mains hum (continuous).
    Mains,
    /// Baseline wander (continuous).
    BaselineWander,
    /// A movement artefact.
    Movement,
    /// An electrode pop.
    ElectrodePop,
}

/// One artefact: never a discharge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtefactRecord {
    /// Kind.
    pub kind: ArtefactKind,
    /// Start, s.
    pub start_s: f64,
    /// End, s.
    pub end_s: f64,
    /// Channels it is on.
    pub channels: Vec<usize>,
    /// Peak amplitude on the most affected channel, µV.
    pub amplitude_uv: f64,
    /// Kind-specific parameters.
    pub params: BTreeMap<String, f64>,
}

/// Counts, written last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TruthSummary {
    /// Potentials written.
    pub potentials: u64,
    /// Events written.
    pub events: u64,
    /// Artefacts written.
    pub artefacts: u64,
}

/// Everything known before the first sample: written at the top of the document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthHeader {
    /// [`TRUTH_VERSION`].
    pub truth_version: u32,
    /// `kymo <version>`.
    pub generator: String,
    /// The seed.
    pub seed: u64,
    /// The scenario with every default filled in.
    pub scenario: Scenario,
    /// Recording settings.
    pub recording: RecordingRecord,
    /// Units.
    pub units: Vec<UnitRecord>,
}

/// A whole truth document in memory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Truth {
    /// [`TRUTH_VERSION`].
    pub truth_version: u32,
    /// `kymo <version>`.
    pub generator: String,
    /// The seed.
    pub seed: u64,
    /// The scenario with every default filled in.
    pub scenario: Scenario,
    /// Recording settings.
    pub recording: RecordingRecord,
    /// Units.
    pub units: Vec<UnitRecord>,
    /// Potentials, in time order.
    pub potentials: Vec<PotentialRecord>,
    /// Events.
    pub events: Vec<EventRecord>,
    /// Artefacts.
    pub artefacts: Vec<ArtefactRecord>,
    /// Counts.
    pub summary: TruthSummary,
}

/// Where the simulator sends the truth, item by item.
pub trait TruthSink {
    /// Called once, first.
    fn begin(&mut self, header: &TruthHeader) -> Result<()>;
    /// Every potential, in time order.
    fn potential(&mut self, p: &PotentialRecord) -> Result<()>;
    /// Every event, once its last potential has been sent.
    fn event(&mut self, e: &EventRecord) -> Result<()>;
    /// Every artefact.
    fn artefact(&mut self, a: &ArtefactRecord) -> Result<()>;
    /// Called once, last; a file sink completes its file here.
    fn finish(&mut self, summary: &TruthSummary) -> Result<()>;
}

impl TruthSink for Truth {
    fn begin(&mut self, h: &TruthHeader) -> Result<()> {
        self.truth_version = h.truth_version;
        self.generator = h.generator.clone();
        self.seed = h.seed;
        self.scenario = h.scenario.clone();
        self.recording = h.recording.clone();
        self.units = h.units.clone();
        Ok(())
    }
    fn potential(&mut self, p: &PotentialRecord) -> Result<()> {
        self.potentials.push(p.clone());
        Ok(())
    }
    fn event(&mut self, e: &EventRecord) -> Result<()> {
        self.events.push(e.clone());
        Ok(())
    }
    fn artefact(&mut self, a: &ArtefactRecord) -> Result<()> {
        self.artefacts.push(a.clone());
        Ok(())
    }
    fn finish(&mut self, s: &TruthSummary) -> Result<()> {
        self.summary = *s;
        Ok(())
    }
}

/// A sink that drops everything (for benchmarks).
#[derive(Debug, Clone, Copy, Default)]
pub struct NullTruth;

impl TruthSink for NullTruth {
    fn begin(&mut self, _: &TruthHeader) -> Result<()> {
        Ok(())
    }
    fn potential(&mut self, _: &PotentialRecord) -> Result<()> {
        Ok(())
    }
    fn event(&mut self, _: &EventRecord) -> Result<()> {
        Ok(())
    }
    fn artefact(&mut self, _: &ArtefactRecord) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self, _: &TruthSummary) -> Result<()> {
        Ok(())
    }
}

/// Reads a truth file written by [`TruthWriter`].
pub fn read(path: &Path) -> Result<Truth> {
    let f = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
    let t: Truth = serde_json::from_reader(BufReader::new(f))
        .map_err(|e| Error::malformed(path, format!("truth: {e}")))?;
    if t.truth_version != TRUTH_VERSION {
        return Err(Error::unsupported(
            path,
            format!(
                "truth: truth_version {} is not the version this kymo reads ({TRUTH_VERSION})",
                t.truth_version
            ),
        ));
    }
    Ok(t)
}

/// One streamed JSON array in its own temporary file ([`AtomicFile`]: removed when
/// dropped unless committed).
struct Part {
    out: AtomicFile,
    n: u64,
}

impl Part {
    fn create(path: &Path) -> Result<Part> {
        Ok(Part {
            out: AtomicFile::create(path)?,
            n: 0,
        })
    }

    fn path(&self) -> &Path {
        self.out.temporary_path()
    }

    fn item<T: Serialize>(&mut self, x: &T) -> Result<()> {
        let sep: &[u8] = if self.n == 0 { b"\n" } else { b",\n" };
        let out = &mut self.out;
        out.write_all(sep)
            .and_then(|_| serde_json::to_writer(&mut *out, x).map_err(std::io::Error::other))
            .map_err(|e| out.io_error(e))?;
        self.n += 1;
        Ok(())
    }

    fn raw(&mut self, s: &[u8]) -> Result<()> {
        self.out.write_all(s).map_err(|e| self.out.io_error(e))
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| self.out.io_error(e))
    }
}

/// Streams a truth document to a file (temporary name, renamed when complete).
pub struct TruthWriter {
    target: PathBuf,
    main: Option<Part>,
    events: Option<Part>,
    artefacts: Option<Part>,
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl TruthWriter {
    /// Prepares to write `path`; nothing appears at `path` until [`TruthSink::finish`].
    /// The temporary files are hidden files beside it ([`AtomicFile`]); the events and
    /// artefacts are collected in two more, appended at the end and removed.
    pub fn create(path: &Path) -> Result<TruthWriter> {
        let main = Part::create(path)?;
        let events = Part::create(&with_suffix(path, ".events"))?;
        let artefacts = Part::create(&with_suffix(path, ".artefacts"))?;
        Ok(TruthWriter {
            target: path.to_path_buf(),
            main: Some(main),
            events: Some(events),
            artefacts: Some(artefacts),
        })
    }

    fn parts(&mut self) -> Result<(&mut Part, &mut Part, &mut Part)> {
        match (&mut self.main, &mut self.events, &mut self.artefacts) {
            (Some(m), Some(e), Some(a)) => Ok((m, e, a)),
            _ => Err(Error::config(format!(
                "{}: truth: the writer was already finished",
                self.target.display()
            ))),
        }
    }

    fn field<T: Serialize>(m: &mut Part, name: &str, x: &T, last: bool) -> Result<()> {
        let v = serde_json::to_string(x).map_err(|e| m.out.io_error(std::io::Error::other(e)))?;
        m.raw(format!("\"{name}\": {v}{}\n", if last { "" } else { "," }).as_bytes())
    }
}

impl TruthSink for TruthWriter {
    fn begin(&mut self, h: &TruthHeader) -> Result<()> {
        let (m, _, _) = self.parts()?;
        m.raw(b"{\n")?;
        Self::field(m, "truth_version", &h.truth_version, false)?;
        Self::field(m, "generator", &h.generator, false)?;
        Self::field(m, "seed", &h.seed, false)?;
        Self::field(m, "scenario", &h.scenario, false)?;
        Self::field(m, "recording", &h.recording, false)?;
        m.raw(b"\"units\": [")?;
        for u in &h.units {
            m.item(u)?;
        }
        m.raw(b"\n],\n\"potentials\": [")?;
        m.n = 0;
        Ok(())
    }

    fn potential(&mut self, p: &PotentialRecord) -> Result<()> {
        self.parts()?.0.item(p)
    }

    fn event(&mut self, e: &EventRecord) -> Result<()> {
        self.parts()?.1.item(e)
    }

    fn artefact(&mut self, a: &ArtefactRecord) -> Result<()> {
        self.parts()?.2.item(a)
    }

    fn finish(&mut self, s: &TruthSummary) -> Result<()> {
        let (m, e, a) = self.parts()?;
        e.flush()?;
        a.flush()?;
        m.raw(b"\n],\n\"events\": [")?;
        append(m, e.path())?;
        m.raw(b"\n],\n\"artefacts\": [")?;
        append(m, a.path())?;
        m.raw(b"\n],\n")?;
        Self::field(m, "summary", s, true)?;
        m.raw(b"}\n")?;
        // The side files are dropped (removed); the main file moves into place.
        self.events = None;
        self.artefacts = None;
        if let Some(m) = self.main.take() {
            m.out.commit()?;
        }
        Ok(())
    }
}

fn append(m: &mut Part, from: &Path) -> Result<()> {
    let mut f = File::open(from).map_err(|e| Error::io(from, "cannot reopen", e))?;
    std::io::copy(&mut f, &mut m.out).map_err(|e| m.out.io_error(e))?;
    Ok(())
}
