//! The whole analysis of a recording: filter → detect → sort → trains, bursts, features,
//! classification and summary, channel by channel, in memory bounded by the chunks in
//! flight and the result.
//!
//! ```no_run
//! use kymo::analyze::{analyze_file, AnalysisConfig};
//!
//! let cfg = AnalysisConfig::default();
//! let a = analyze_file("rec.edf".as_ref(), None, &cfg, &|_| {})?;
//! for ch in &a.channels {
//!     println!("{}: {} discharges", ch.label, ch.discharges.len());
//! }
//! # Ok::<(), kymo::Error>(())
//! ```
//!
//! # How a long recording stays in bounded memory
//!
//! Each channel is read, filtered and searched for potentials block by block
//! ([`crate::dsp::Filter::blocks`], overlapping by the filter's settling length, so the
//! filtered samples equal whole-signal filtering). The filtered signal and the detected
//! potentials are kept only for the current **sorting chunk**: once it holds
//! `chunk.max_seconds` of signal or `chunk.max_spikes` potentials it is sorted, its units
//! are linked to the units of earlier chunks by template similarity ([`link`]), and its
//! buffers are emptied. The sorter reads each potential's aligned waveform as a window of
//! the chunk's signal, which the recovery keeps anyway; only a waveform reaching past its
//! filtering block's own samples is copied (its samples there came from the block's
//! context), or every one when neither the recovery nor the weak stage keeps the signal. What stays for the whole recording is one small record per
//! potential (time, unit, amplitude: 16 bytes) for the pattern stages, which need whole
//! trains; that grows with the number of potentials (a few MB per channel-hour), never with
//! the number of samples. So does the result, which is kept until the outputs are written:
//! each discharge holds its features, its class's criteria and its evidence sentence (about
//! 2 kB), and while classifying, a segment keeps only its best class's criteria and the
//! runner-up's score (see `bench/peak-memory`). Channels run in parallel with rayon, each
//! with its own reader. When there are fewer channels than threads, a closed chunk is
//! sorted by another thread while the next one is read, filtered and searched (at most
//! two chunks per channel are held then), and is linked once the chunk before it is: the
//! result is the same as sorting the chunks in turn.
//!
//! # Between sorting and the pattern stages
//!
//! Per chunk: one detection per potential (the largest within a few ms), sorting, units
//! whose initially positive template runs off the end of the window measured again on an
//! average of up to 100 ms, stopping before the unit's next potential (a positive sharp
//! wave's slow phase outlasts the window), on a surface recording every unit a motor unit,
//! linking, each potential of a complex timed at the complex's main peak (the detector
//! marks whichever of its spikes is largest), and potentials recovered in each unit's
//! rhythm ([`RecoverConfig`]); optionally (`weak.enabled`, off by default), units under
//! the detection threshold found by their templates in what the known potentials leave
//! ([`WeakConfig`]). Over the whole channel:
//! runs faster than any unit fires become artefacts, one-phase templates are dropped,
//! time-locked units become one complex ([`ComplexConfig`]), motor units that together
//! fire one regular fast train (alternating, or taking turns) become one unit
//! ([`FastTrainConfig`]), a unit firing on the missing beats of a fibre's regular train
//! joins the fibre, and single-fibre units holding several interleaved regular trains are
//! split by rhythm ([`InterleaveConfig`]).

mod complexes;
mod fast_trains;
mod interleaved;
mod link;
mod realign;
mod recover;
mod weak;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::detect::{stream_blocks, ArtefactKind, DetectConfig, Detector, ValidDetectConfig};
use crate::dsp::{mains, FilterConfig, Kind, MainsSetting};
use crate::io::{self, Header, OpenOptions, SignalReader};
use crate::pattern::{
    self, ChannelPattern, ChannelSummary, Discharge, PatternConfig, PotentialInput, TrainSummary,
    UnitInput, ValidPatternConfig,
};
use crate::sort::{self, SortConfig, SortInput, ValidSortConfig};
use crate::{Error, Result};

pub use complexes::{ComplexConfig, PlausibilityConfig};
pub use fast_trains::FastTrainConfig;
pub use interleaved::InterleaveConfig;
pub use link::LinkConfig;
pub use realign::RealignConfig;
pub use recover::RecoverConfig;
pub use weak::WeakConfig;

/// Name of the analysis JSON schema (`docs/analysis-json.md`).
pub const SCHEMA: &str = "kymo-analysis";
/// Version of the analysis JSON schema; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// When a sorting chunk is closed and sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunkConfig {
    /// Longest stretch of signal sorted at once, s (default 300: a fasciculating unit
    /// firing every few seconds still gives the sorter dozens of potentials).
    pub max_seconds: f64,
    /// Most potentials sorted at once (default 40 000: with 10 ms needle windows at 20 kHz,
    /// 32 MB of waveforms where they are copied, with the recovery off).
    pub max_spikes: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_seconds: 300.0,
            max_spikes: 40_000,
        }
    }
}

/// Which detections are sorted: one per potential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeaksConfig {
    /// Needle: a detection within this many ms of a larger one is a further phase of the
    /// same potential, or a potential overlapping it, and is not sorted on its own (the
    /// sorter's overlap resolution finds a second potential inside the larger one's
    /// window). Default 3 (kymo: the main phases of a needle motor unit potential lie
    /// within about ±3 ms of its largest peak, the rise time being under 0.5 ms and the
    /// spike component 1–3 ms; a neuromyotonic train at 300 Hz, brief, still gives one
    /// detection per potential at 3.3 ms).
    pub window_ms_needle: f64,
    /// Surface: the same, default 10 (surface potentials are 3–4 times broader).
    pub window_ms_surface: f64,
    /// A detection sorted into the same unit as a larger detection that lies within the
    /// unit's duration of it, and under this fraction of that one's size, is a component
    /// of that potential found on its own (a fibre group arriving early or late, beyond
    /// `window_ms_*`), not a second firing: it is dropped. Default 0.3 (brief: a doublet's
    /// potentials are the same unit's, so of one size, and a neuromyotonic train wanes
    /// gradually; a motor unit potential with a 150 µV spike 3.9 ms before its 1.9 mV main
    /// phase, from a generator other than kymo's own (`scripts/independent-check`), was
    /// read as doublets of one unit). 0 keeps every detection.
    pub piece_max_fraction: f64,
}

impl Default for PeaksConfig {
    fn default() -> Self {
        PeaksConfig {
            window_ms_needle: 3.0,
            window_ms_surface: 10.0,
            piece_max_fraction: 0.3,
        }
    }
}

/// Every parameter of the analysis, as a user writes it in `--config FILE.toml` (each
/// section optional; unknown keys are an error). The resolved values are written into the
/// result so that a result always says how it was made.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Recording kind, overriding the choice from the rate (`--kind needle|surface`);
    /// applies to filter and detection unless those set their own.
    pub kind: Option<Kind>,
    /// Stage 1: band-pass and mains removal.
    pub filter: FilterConfig,
    /// Stage 2: detection.
    pub detect: DetectConfig,
    /// Stage 3: sorting.
    pub sort: SortConfig,
    /// One detection per potential for sorting.
    pub peaks: PeaksConfig,
    /// Sorting chunks of long recordings.
    pub chunk: ChunkConfig,
    /// Linking units across sorting chunks.
    pub link: LinkConfig,
    /// Time-locked units merged into complexes.
    pub complex: ComplexConfig,
    /// The potentials of complex units aligned on one point of their complex.
    pub realign: RealignConfig,
    /// Firing no unit can produce, dropped as artefact.
    pub plausibility: PlausibilityConfig,
    /// Missed potentials recovered in a unit's rhythm by template matching.
    pub recover: RecoverConfig,
    /// Units under the detection threshold, found in what the known potentials leave.
    pub weak: WeakConfig,
    /// Single-fibre units split into the interleaved regular trains of several fibres.
    pub interleave: InterleaveConfig,
    /// Motor units that alternate in one regular fast train merged into one.
    pub fast_trains: FastTrainConfig,
    /// Stages 4–7: trains, bursts, features, classification, summary.
    pub pattern: PatternConfig,
}

impl AnalysisConfig {
    /// Reads a TOML configuration file; errors name the file and the key.
    pub fn read(path: &Path) -> Result<AnalysisConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, "cannot read", e))?;
        toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| {
                    let before = &text.as_bytes()[..s.start.min(text.len())];
                    format!(
                        "line {}: ",
                        before.iter().filter(|&&b| b == b'\n').count() + 1
                    )
                })
                .unwrap_or_default();
            Error::malformed(
                path,
                format!("config: {line}{}", e.message().trim_end_matches('.')),
            )
        })
    }

    /// Checks the rate-independent parts (sorting, pattern, chunking).
    pub fn check(&self) -> Result<ValidAnalysisConfig> {
        if !(self.chunk.max_seconds.is_finite() && self.chunk.max_seconds >= 1.0) {
            return Err(Error::config(format!(
                "analyze: chunk.max_seconds {} is not at least 1 s",
                self.chunk.max_seconds
            )));
        }
        if self.chunk.max_spikes < 100 {
            return Err(Error::config(format!(
                "analyze: chunk.max_spikes {} is below the minimum of 100",
                self.chunk.max_spikes
            )));
        }
        for (what, v) in [
            ("peaks.window_ms_needle", self.peaks.window_ms_needle),
            ("peaks.window_ms_surface", self.peaks.window_ms_surface),
        ] {
            if !(v.is_finite() && (0.0..=50.0).contains(&v)) {
                return Err(Error::config(format!(
                    "analyze: {what} {v} is not between 0 and 50 ms"
                )));
            }
        }
        let f = self.peaks.piece_max_fraction;
        if !(f.is_finite() && (0.0..1.0).contains(&f)) {
            return Err(Error::config(format!(
                "analyze: peaks.piece_max_fraction {f} is not at least 0 and below 1"
            )));
        }
        self.link.check()?;
        self.complex.check()?;
        self.realign.check()?;
        self.recover.check()?;
        self.weak.check()?;
        self.interleave.check()?;
        self.fast_trains.check()?;
        self.plausibility.check()?;
        Ok(ValidAnalysisConfig {
            user: self.clone(),
            sort: self.sort.clone().check()?,
            pattern: self.pattern.clone().check()?,
        })
    }

    fn filter_config(&self) -> FilterConfig {
        let mut f = self.filter.clone();
        f.kind = f.kind.or(self.kind);
        f
    }

    fn detect_config(&self) -> DetectConfig {
        let mut d = self.detect.clone();
        d.kind = d.kind.or(self.kind);
        d
    }
}

/// An [`AnalysisConfig`] whose rate-independent parts are checked.
#[derive(Debug, Clone)]
pub struct ValidAnalysisConfig {
    user: AnalysisConfig,
    sort: ValidSortConfig,
    pattern: ValidPatternConfig,
}

impl ValidAnalysisConfig {
    /// The configuration as written.
    pub fn get(&self) -> &AnalysisConfig {
        &self.user
    }
}

/// A flagged artefact interval, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtefactInterval {
    /// Start, s.
    pub start_s: f64,
    /// End, s.
    pub end_s: f64,
    /// Rule that flagged it: `clipping`, `pop`, `movement`, or `impossible-rate` (a run of
    /// one unit's potentials faster than [`PlausibilityConfig::max_rate_hz`]).
    pub kind: String,
}

/// A sorted unit as reported: [`sort::Unit`]'s measurements, with the id used in every
/// potential and discharge of the channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitReport {
    /// Potentials assigned to the unit over the whole recording.
    pub n_potentials: usize,
    /// Sorting chunks the unit was found in.
    pub n_chunks: usize,
    /// Id (as in every potential and discharge of the channel), measurements, template and
    /// class, from the chunk where the unit had most spikes.
    #[serde(flatten)]
    pub measured: sort::Unit,
}

impl UnitReport {
    /// Unit id on this channel.
    pub fn id(&self) -> u32 {
        self.measured.id
    }
}

/// Filtering and detection settings as resolved for one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelSettings {
    /// Recording kind used.
    pub kind: Kind,
    /// Band-pass edges, Hz.
    pub band_hz: (f64, f64),
    /// Mains frequency removed, if any.
    pub mains_hz: Option<f64>,
    /// How the hum was removed: `template` (the median hum cycle subtracted), `comb` or
    /// `notches`; `None` when no hum was removed.
    pub hum_removal: Option<&'static str>,
    /// Noise σ of the filtered signal (median over blocks; the smaller of the median-based
    /// and the quiet-window estimates, [`crate::detect`]), µV.
    pub noise_sigma_uv: f64,
    /// Background σ: the median-based σ over all samples, which also counts the potentials
    /// (median over blocks), µV. The sort judges template fits against it.
    pub background_sigma_uv: f64,
    /// Detection threshold (median over blocks), µV.
    pub threshold_uv: f64,
    /// Scale from the file's unit to µV.
    pub to_uv: f64,
    /// Samples of each unit's template before its peak: the template's largest magnitude
    /// is at this index (samples at `rate_hz`).
    pub template_pre_samples: usize,
}

/// The analysis of one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelAnalysis {
    /// Channel index in the file (0-based).
    pub channel: usize,
    /// Label from the file.
    pub label: String,
    /// Sampling rate, Hz.
    pub rate_hz: f64,
    /// Samples analysed.
    pub n_samples: u64,
    /// Length, s.
    pub duration_s: f64,
    /// Resolved settings.
    pub settings: ChannelSettings,
    /// Potentials detected.
    pub n_detected: usize,
    /// Detected potentials the sorter left without a unit (noise or unexplained shapes).
    pub n_unsorted: usize,
    /// Potentials found hidden in overlaps by the sorter.
    pub n_overlap: usize,
    /// Potentials found below the detection threshold in a unit's rhythm
    /// ([`RecoverConfig`]).
    pub n_recovered: usize,
    /// Potentials of units under the detection threshold, found by their templates in
    /// what the known potentials leave ([`WeakConfig`]).
    pub n_weak: usize,
    /// Sorting chunks.
    pub n_chunks: usize,
    /// Artefacts, merged and sorted.
    pub artefacts: Vec<ArtefactInterval>,
    /// Units.
    pub units: Vec<UnitReport>,
    /// Every potential given a unit, in time order (µV).
    pub potentials: Vec<PotentialInput>,
    /// Per-unit trains.
    pub trains: Vec<TrainSummary>,
    /// Classified discharges in time order.
    pub discharges: Vec<Discharge>,
    /// Channel summary.
    pub summary: ChannelSummary,
    /// Things a reader should know (sorting warnings, unit conversions).
    pub warnings: Vec<String>,
}

/// The analysis of a recording (the analysis JSON, `docs/analysis-json.md`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// [`SCHEMA_VERSION`].
    pub version: u32,
    /// kymo version that made it.
    pub kymo_version: &'static str,
    /// The file analysed, as given.
    pub file: String,
    /// File format.
    pub format: String,
    /// Configuration used.
    pub config: AnalysisConfig,
    /// Analysed channels, in the order asked for.
    pub channels: Vec<ChannelAnalysis>,
    /// Channels left out, one sentence each (for instance a rate too low for EMG).
    pub skipped: Vec<String>,
}

/// What the analysis needs to know about a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelInfo {
    /// Index in the file.
    pub index: usize,
    /// Label.
    pub label: String,
    /// Physical unit as the file spells it.
    pub unit: String,
    /// Rate, Hz.
    pub rate_hz: f64,
    /// Samples.
    pub n_samples: u64,
    /// Declared physical range (for the clipping rule).
    pub physical_range: Option<(f64, f64)>,
}

impl ChannelInfo {
    /// The description of channel `index` of `header`.
    pub fn from_header(header: &Header, index: usize) -> Option<ChannelInfo> {
        let c = header.channels.get(index)?;
        Some(ChannelInfo {
            index,
            label: c.label.clone(),
            unit: c.unit.clone(),
            rate_hz: c.rate_hz,
            n_samples: c.n_samples,
            physical_range: c.physical_range,
        })
    }
}

/// Scale from a physical unit to µV, and a warning when the unit is not a voltage (then the
/// values are taken as µV).
pub fn microvolt_scale(unit: &str) -> (f64, Option<String>) {
    let u = unit.trim();
    let scale = match u {
        "uV" | "µV" | "μV" | "microV" | "microvolt" | "microvolts" => Some(1.0),
        "mV" | "millivolt" | "millivolts" => Some(1e3),
        "V" | "volt" | "volts" => Some(1e6),
        "nV" => Some(1e-3),
        _ => None,
    };
    match scale {
        Some(s) => (s, None),
        None => (
            1.0,
            Some(format!(
                "unit \"{u}\" is not a voltage kymo knows (uV, mV, V); values are taken as µV"
            )),
        ),
    }
}

/// Lowest sampling rate analysed, Hz: surface EMG carries energy up to about 450 Hz
/// (SENIAM recommendations, Hermens et al. 2000: band 10/20–500 Hz), so its Nyquist rate is
/// about 1 kHz; needle EMG needs far more. Slower channels in a file (ECG, temperature,
/// annotations) are left out when no channel is asked for, and refused when one is.
pub const MIN_RATE_HZ: f64 = 1000.0;

/// Progress reports: called with the number of samples just processed (on any thread).
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Analyses channels `channels` (all when `None`) of the file at `path`. Each channel is
/// read by its own reader, in parallel (rayon's global pool).
pub fn analyze_file(
    path: &Path,
    channels: Option<&[usize]>,
    cfg: &AnalysisConfig,
    progress: Progress<'_>,
) -> Result<Analysis> {
    let valid = cfg.check()?;
    let opts = OpenOptions::default();
    let first = io::open(path, &opts)?;
    let header = first.header().clone();
    let explicit = channels.is_some();
    let requested: Vec<usize> = match channels {
        Some(c) => c.to_vec(),
        None => (0..header.channels.len()).collect(),
    };
    let mut list = Vec::with_capacity(requested.len());
    let mut skipped = Vec::new();
    for &c in &requested {
        let Some(ch) = header.channels.get(c) else {
            return Err(Error::config(format!(
                "{}: channel {} does not exist (the file has {})",
                path.display(),
                c + 1,
                header.channels.len()
            )));
        };
        if ch.rate_hz >= MIN_RATE_HZ && ch.n_samples > 0 {
            list.push(c);
            continue;
        }
        let why = if ch.n_samples == 0 {
            "has no samples".to_string()
        } else {
            format!(
                "is sampled at {} Hz, below the {MIN_RATE_HZ} Hz that EMG needs",
                ch.rate_hz
            )
        };
        if explicit {
            return Err(Error::config(format!(
                "{}: channel {} ({}) {why}",
                path.display(),
                c + 1,
                ch.label
            )));
        }
        skipped.push(format!(
            "channel {} ({}) {why}: not analysed",
            c + 1,
            ch.label
        ));
    }
    if list.is_empty() {
        return Err(Error::config(format!(
            "{}: no channel can be analysed: {}",
            path.display(),
            skipped.join("; ")
        )));
    }
    let mut spare = Some(first);
    let readers: Vec<Box<dyn SignalReader>> = list
        .iter()
        .map(|_| match spare.take() {
            Some(r) => Ok(r),
            None => io::open(path, &opts),
        })
        .collect::<Result<_>>()?;
    // Fewer channels than threads: each channel also sorts in the background.
    let pipeline = list.len() < rayon::current_num_threads();
    let results: Vec<Result<ChannelAnalysis>> = readers
        .into_par_iter()
        .zip(list.par_iter())
        .map(|(mut reader, &c)| {
            let info = ChannelInfo::from_header(&header, c).ok_or_else(|| {
                Error::config(format!("{}: channel {} does not exist", path.display(), c))
            })?;
            analyze_channel_with(&info, &valid, progress, pipeline, |start, buf| {
                reader.read(c, start, buf)
            })
        })
        .collect();
    let channels = results.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Analysis {
        schema: SCHEMA,
        version: SCHEMA_VERSION,
        kymo_version: env!("CARGO_PKG_VERSION"),
        file: path.display().to_string(),
        format: header.format.to_string(),
        config: cfg.clone(),
        channels,
        skipped,
    })
}

/// Analyses one channel held in memory (physical values in `info.unit`).
pub fn analyze_samples(
    info: &ChannelInfo,
    samples: &[f32],
    cfg: &ValidAnalysisConfig,
) -> Result<ChannelAnalysis> {
    if samples.len() as u64 != info.n_samples {
        return Err(Error::config(format!(
            "analyze: channel {} declares {} samples but {} were given",
            info.label,
            info.n_samples,
            samples.len()
        )));
    }
    analyze_channel(info, cfg, &|_| {}, |start, buf| {
        let s = start as usize;
        buf.copy_from_slice(&samples[s..s + buf.len()]);
        Ok(())
    })
}

/// The waveforms of the current sorting chunk.
struct Chunk {
    /// Filtered samples from `first_sample` on (kept when the recovery or the weak stage
    /// needs them).
    filtered: Vec<f32>,
    /// Waveforms that are not a window of `filtered` (row-major): those reaching past their
    /// filtering block's own samples, whose values there came from the block's context, or
    /// all of them when `filtered` is not kept.
    side: Vec<f32>,
    /// Per detection: its row in `side`, or `u32::MAX` for a window of `filtered`.
    side_index: Vec<u32>,
    samples: Vec<u64>,
    first_sample: u64,
    sigmas: Vec<f32>,
}

impl Chunk {
    fn starting_at(first_sample: u64) -> Chunk {
        Chunk {
            filtered: Vec::new(),
            side: Vec::new(),
            side_index: Vec::new(),
            samples: Vec::new(),
            first_sample,
            sigmas: Vec::new(),
        }
    }

    /// The detections' waveforms, as the sorter takes them.
    fn waveforms(&self) -> sort::Waveforms<'_> {
        sort::Waveforms::Windows {
            signal: &self.filtered,
            first: self.first_sample,
            side: &self.side,
            side_index: &self.side_index,
        }
    }

    /// Detection `i`'s waveform.
    fn row(&self, i: usize, width: usize, pre: usize) -> &[f32] {
        self.waveforms().row(i, self.samples[i], width, pre)
    }
}

/// A chunk being sorted by another thread of the pool.
struct Background {
    done: Arc<Mutex<Option<std::thread::Result<Result<SortedChunk>>>>>,
}

impl Background {
    /// Hands `chunk` to the pool; its buffers are dropped as soon as it is sorted.
    fn start(mut chunk: Chunk, cfg: &Arc<(ValidDetectConfig, ValidAnalysisConfig)>) -> Self {
        let done = Arc::new(Mutex::new(None));
        let (out, cfg) = (Arc::clone(&done), Arc::clone(cfg));
        rayon::spawn(move || {
            // A panic is carried to the thread that waits, as if it had sorted the chunk.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                sort_chunk(&mut chunk, &cfg.0, &cfg.1)
            }));
            drop(chunk);
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        });
        Background { done }
    }

    /// Waits for the sort, meanwhile running other work of the pool (the sort's own
    /// parallel passes among it), so that a pool of one thread cannot wait on itself.
    fn finish(self) -> Result<SortedChunk> {
        loop {
            let r = self.done.lock().unwrap_or_else(|e| e.into_inner()).take();
            match r {
                Some(Ok(sorted)) => return sorted,
                Some(Err(panic)) => std::panic::resume_unwind(panic),
                None => match rayon::yield_now() {
                    Some(rayon::Yield::Executed) => {}
                    _ => std::thread::sleep(std::time::Duration::from_micros(100)),
                },
            }
        }
    }
}

/// Analyses one channel streamed through `read(start, buf)` (physical values in
/// `info.unit`, samples `start..start + buf.len()`).
pub fn analyze_channel(
    info: &ChannelInfo,
    cfg: &ValidAnalysisConfig,
    progress: Progress<'_>,
    read: impl FnMut(u64, &mut [f32]) -> Result<()>,
) -> Result<ChannelAnalysis> {
    analyze_channel_with(info, cfg, progress, rayon::current_num_threads() > 1, read)
}

/// [`analyze_channel`], sorting each chunk in the background while the next is read when
/// `pipeline` is set (worth it when the channels do not keep every thread busy).
fn analyze_channel_with(
    info: &ChannelInfo,
    cfg: &ValidAnalysisConfig,
    progress: Progress<'_>,
    pipeline: bool,
    mut read: impl FnMut(u64, &mut [f32]) -> Result<()>,
) -> Result<ChannelAnalysis> {
    let rate = info.rate_hz;
    let n = info.n_samples;
    let user = cfg.get();
    let fcfg = user.filter_config().check(rate)?;
    let dcfg: ValidDetectConfig = user.detect_config().check(rate)?;
    let (to_uv, unit_warning) = microvolt_scale(&info.unit);
    let to_uv_f32 = to_uv as f32;
    let physical_range = info.physical_range.map(|(lo, hi)| (lo * to_uv, hi * to_uv));
    let mut warnings: Vec<String> = unit_warning.into_iter().collect();

    let mains_hz = match fcfg.mains {
        MainsSetting::Auto => {
            let sample = mains_sample(n, rate, &mut read, to_uv_f32)?;
            mains::detect(&sample, rate, fcfg.mains_threshold_db).frequency_hz
        }
        MainsSetting::Off => None,
        MainsSetting::Hz50 => Some(50.0),
        MainsSetting::Hz60 => Some(60.0),
    };
    let filter = crate::dsp::Filter::new(&fcfg, mains_hz);

    let chunk_samples = (user.chunk.max_seconds * rate).round() as u64;
    // A chunk closes at a block's end, so blocks are no longer than a chunk.
    let block_len = chunk_samples.clamp(4096, crate::detect::DEFAULT_BLOCK_LEN as u64) as usize;
    let mut detector = Detector::new(&dcfg);
    let width = dcfg.waveform_pre + dcfg.waveform_post;
    // The chunk's signal is kept for the recovery and the weak stage; the waveforms are
    // then windows of it.
    let keep_signal = user.recover.enabled || user.weak.enabled;
    let mut chunk = Chunk::starting_at(0);
    // With threads to spare (fewer channels than threads), each closed chunk is sorted in
    // the background while the next one is read, filtered and searched: at most two
    // chunks are held at once, and the result is the same as sorting in turn.
    let background_cfg = pipeline.then(|| Arc::new((dcfg.clone(), cfg.clone())));
    // The chunk in the background and the samples of its last block (see below).
    let mut in_background: Option<(Background, u64)> = None;
    let mut linker = link::Linker::new(&user.link, rate);
    let mut potentials: Vec<PotentialInput> = Vec::new();
    let mut all_sigmas: Vec<f32> = Vec::new();
    let mut all_backgrounds: Vec<f32> = Vec::new();
    let mut all_thresholds: Vec<f32> = Vec::new();
    let mut n_detected = 0usize;
    let mut n_unsorted = 0usize;
    let mut n_overlap = 0usize;
    let mut n_recovered = 0usize;
    let mut n_weak = 0usize;
    let mut n_chunks = 0usize;
    // Links a sorted chunk (chunks in recording order), counts it, and reports its last
    // block's `read` samples as progress.
    let mut settle = |sorted: SortedChunk, read: u64| {
        let stats = link_chunk(sorted, dcfg.waveform_pre, &mut linker, &mut potentials);
        n_unsorted += stats.unsorted;
        n_overlap += stats.overlap;
        n_recovered += stats.recovered;
        n_weak += stats.weak;
        warnings.extend(stats.warnings);
        progress(read);
    };

    let artefacts = stream_blocks(
        n,
        &filter,
        &mut detector,
        block_len,
        physical_range,
        |start, buf| {
            read(start, buf)?;
            if to_uv_f32 != 1.0 {
                buf.iter_mut().for_each(|v| *v *= to_uv_f32);
            }
            Ok(())
        },
        |sb| {
            let b = sb.block;
            for e in sb.noise {
                chunk.sigmas.push(e.background_sigma);
                all_sigmas.push(e.sigma);
                all_backgrounds.push(e.background_sigma);
                all_thresholds.push(e.threshold);
            }
            for spike in sb.spikes {
                // A window inside the block's own samples is a window of `chunk.filtered`
                // with the same values; any other is copied (see `Chunk::side`).
                let inside = keep_signal
                    && spike.sample >= b.own.start + dcfg.waveform_pre as u64
                    && spike.sample + dcfg.waveform_post as u64 <= b.own.end;
                if inside {
                    chunk.side_index.push(u32::MAX);
                    continue;
                }
                let at = chunk.side.len();
                let row = u32::try_from(at / width)
                    .ok()
                    .filter(|&r| r != u32::MAX)
                    .ok_or_else(|| {
                        Error::config(format!(
                            "analyze: a sorting chunk holds more than {} waveforms; lower chunk.max_spikes",
                            u32::MAX - 1
                        ))
                    })?;
                if chunk.side.capacity() - at < width {
                    // Grow by a quarter, not by doubling: at most a quarter of the buffer
                    // (tens of MB in a dense chunk) is reserved and never used.
                    chunk
                        .side
                        .reserve_exact((sb.spikes.len() * width).max(at / 4));
                }
                chunk.side.resize(at + width, 0.0);
                crate::detect::extract_waveforms(
                    sb.filtered,
                    b.output.start,
                    std::slice::from_ref(spike),
                    dcfg.waveform_pre,
                    dcfg.waveform_post,
                    &mut chunk.side[at..],
                )?;
                chunk.side_index.push(row);
            }
            chunk.samples.extend(sb.spikes.iter().map(|s| s.sample));
            if keep_signal {
                let own =
                    (b.own.start - b.output.start) as usize..(b.own.end - b.output.start) as usize;
                if chunk.filtered.capacity() == 0 {
                    // The chunk's whole signal, once: it closes at the first block end at
                    // least `chunk_samples` after its start.
                    let most = (chunk_samples + block_len as u64).min(n - b.own.start);
                    chunk.filtered.reserve_exact(most as usize);
                }
                chunk.filtered.extend_from_slice(&sb.filtered[own]);
            }
            n_detected += sb.spikes.len();
            if b.own.end >= n
                || chunk.samples.len() >= user.chunk.max_spikes
                || b.own.end - chunk.first_sample >= chunk_samples
            {
                let mut sorted = None;
                if let Some(shared) = &background_cfg {
                    // Sorted on another thread while the next chunk is read; the chunk
                    // sorted before it is linked first (chunks link in recording order).
                    // The chunk's last block counts as progress once the chunk is linked,
                    // so the bar reaches its end only when every chunk is sorted.
                    let next = Chunk::starting_at(b.own.end);
                    let new = Background::start(std::mem::replace(&mut chunk, next), shared);
                    let read = b.own.end - b.own.start;
                    if let Some((previous, its_read)) = in_background.replace((new, read)) {
                        sorted = Some((previous.finish()?, its_read));
                    }
                } else {
                    let s = sort_chunk(&mut chunk, &dcfg, cfg)?;
                    sorted = Some((s, b.own.end - b.own.start));
                    chunk.first_sample = b.own.end;
                }
                if let Some((sorted, read)) = sorted {
                    settle(sorted, read);
                }
                n_chunks += 1;
            } else {
                progress(b.own.end - b.own.start);
            }
            Ok(())
        },
    )?;
    if let Some((last, read)) = in_background.take() {
        settle(last.finish()?, read);
    }

    // Held until the outputs are written: no spare capacity.
    potentials.shrink_to_fit();
    potentials.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    let mut units = linker.finish(&potentials);
    let plaus = &user.plausibility;
    let min_phases = plaus.min_phases;
    let sharp_ms = match dcfg.kind {
        Kind::Needle => plaus.max_main_half_width_ms_needle,
        Kind::Surface => plaus.max_main_half_width_ms_surface,
    };
    let width_ms = |u: &UnitReport| sort::main_half_width_ms(&u.measured.template, rate);
    let (kept, slow): (Vec<UnitReport>, Vec<UnitReport>) = units
        .into_iter()
        .partition(|u| u.measured.phases >= min_phases && width_ms(u) <= sharp_ms);
    units = kept;
    for u in &slow {
        let why = if u.measured.phases < min_phases {
            format!(
                "has a {}-phase template, below the {min_phases} phases of any action potential",
                u.measured.phases
            )
        } else {
            format!(
                "has no sharp phase (its largest is {:.1} ms wide at half height, above the {sharp_ms} ms of an action potential's main spike)",
                width_ms(u)
            )
        };
        warnings.push(format!(
            "unit {} ({} potentials, {:.0} µV) {why}: left out as a slow wave or artefact",
            u.id(),
            u.n_potentials,
            u.measured.p2p_uv,
        ));
        potentials.retain(|p| p.unit != u.id());
    }
    // Runs at impossible rates are looked for among the action potentials only: a slow
    // wave's "unit" (a positive sharp wave's long negative phase crossing the threshold
    // again and again) is already left out, and its runs would cut the trains around them.
    let impossible = complexes::drop_impossible_runs(&mut potentials, &user.plausibility);
    if !impossible.is_empty() {
        let n = units.iter().map(|u| u.id() as usize + 1).max().unwrap_or(0);
        let counts = link::potentials_per_unit(&potentials, n);
        units.retain_mut(|u| {
            u.n_potentials = counts[u.id() as usize];
            u.n_potentials > 0
        });
    }
    warnings.extend(complexes::merge_locked(
        &mut units,
        &mut potentials,
        &user.complex,
    ));
    warnings.extend(fast_trains::merge_pieces(
        &mut units,
        &mut potentials,
        &user.fast_trains,
    ));
    warnings.extend(interleaved::merge_gap_fillers(
        &mut units,
        &mut potentials,
        &user.interleave,
    ));
    warnings.extend(interleaved::split_interleaved(
        &mut units,
        &mut potentials,
        &user.interleave,
    ));
    let unit_inputs: Vec<UnitInput> = units.iter().map(unit_input).collect();
    // Runs at impossible rates become artefact intervals, widened by a waveform on each
    // side so that the potentials around them are not read as part of a train.
    let margin = (dcfg.waveform_pre + dcfg.waveform_post) as f64 / rate;
    let mut artefact_list: Vec<ArtefactInterval> = artefacts
        .iter()
        .map(|a| ArtefactInterval {
            start_s: a.start as f64 / rate,
            end_s: a.end as f64 / rate,
            kind: artefact_name(a.kind).to_string(),
        })
        .collect();
    artefact_list.extend(impossible.iter().map(|&(a, b)| ArtefactInterval {
        start_s: (a - margin).max(0.0),
        end_s: b + margin,
        kind: "impossible-rate".to_string(),
    }));
    artefact_list.sort_by(|x, y| x.start_s.total_cmp(&y.start_s));
    let art_s: Vec<(f64, f64)> = artefact_list.iter().map(|a| (a.start_s, a.end_s)).collect();
    let duration_s = n as f64 / rate;
    let ChannelPattern {
        discharges,
        trains,
        summary,
    } = pattern::analyze_channel(&unit_inputs, &potentials, duration_s, &art_s, &cfg.pattern);
    Ok(ChannelAnalysis {
        channel: info.index,
        label: info.label.clone(),
        rate_hz: rate,
        n_samples: n,
        duration_s,
        settings: ChannelSettings {
            kind: fcfg.kind,
            band_hz: filter.band_hz(),
            mains_hz: filter.mains_hz(),
            hum_removal: filter.hum_method(),
            noise_sigma_uv: median(&mut all_sigmas),
            background_sigma_uv: median(&mut all_backgrounds),
            threshold_uv: median(&mut all_thresholds),
            to_uv,
            template_pre_samples: dcfg.waveform_pre,
        },
        n_detected,
        n_unsorted,
        n_overlap,
        n_recovered,
        n_weak,
        n_chunks,
        artefacts: artefact_list,
        units,
        potentials,
        trains,
        discharges,
        summary,
        warnings,
    })
}

fn artefact_name(k: ArtefactKind) -> &'static str {
    match k {
        ArtefactKind::Clipping => "clipping",
        ArtefactKind::Pop => "pop",
        ArtefactKind::Movement => "movement",
    }
}

fn median(v: &mut [f32]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2] as f64
}

/// Up to [`mains::MAX_WINDOWS`] windows of [`mains::WINDOW_S`] spread evenly over the
/// channel, end to end (so that detection's windows are these, each continuous).
fn mains_sample(
    n: u64,
    rate: f64,
    read: &mut impl FnMut(u64, &mut [f32]) -> Result<()>,
    to_uv: f32,
) -> Result<Vec<f32>> {
    let win = ((rate * mains::WINDOW_S).round() as u64).max(16);
    if n <= win * mains::MAX_WINDOWS as u64 {
        let mut x = vec![0.0f32; n as usize];
        read(0, &mut x)?;
        x.iter_mut().for_each(|v| *v *= to_uv);
        return Ok(x);
    }
    let k = mains::MAX_WINDOWS as u64;
    let stride = (n - win) / (k - 1);
    let mut x = vec![0.0f32; (win * k) as usize];
    for (i, w) in x.chunks_exact_mut(win as usize).enumerate() {
        read(i as u64 * stride, w)?;
    }
    x.iter_mut().for_each(|v| *v *= to_uv);
    Ok(x)
}

struct ChunkStats {
    unsorted: usize,
    recovered: usize,
    weak: usize,
    overlap: usize,
    warnings: Vec<String>,
}

/// How a potential of a sorted chunk was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// A detection, sorted (`unit` set) or left unsorted.
    Detected,
    /// A second potential resolved inside an overlap.
    Overlap,
    /// Found again in its unit's rhythm ([`recover`]).
    Recovered,
    /// Found under the threshold by a template in what the known potentials leave
    /// ([`weak`]).
    Weak,
}

/// A potential of a sorted chunk, its unit the chunk's own id.
#[derive(Debug, Clone)]
struct ChunkPotential {
    time_s: f64,
    unit: Option<u32>,
    amplitude_uv: f32,
    found: Found,
}

/// A chunk sorted but not yet linked to the channel's units (see [`link_chunk`]).
struct SortedChunk {
    units: Vec<sort::Unit>,
    /// In the order the potentials were found: detections, overlaps, recovered, weak.
    potentials: Vec<ChunkPotential>,
    warnings: Vec<String>,
}

/// Sorts the chunk's waveforms and finds its potentials (nothing here depends on other
/// chunks, so a chunk can be sorted while the next one is read); empties the chunk.
fn sort_chunk(
    chunk: &mut Chunk,
    dcfg: &ValidDetectConfig,
    cfg: &ValidAnalysisConfig,
) -> Result<SortedChunk> {
    let sigma = median(&mut chunk.sigmas) as f32;
    let width = dcfg.waveform_pre + dcfg.waveform_post;
    let window_ms = match dcfg.kind {
        Kind::Needle => cfg.user.peaks.window_ms_needle,
        Kind::Surface => cfg.user.peaks.window_ms_surface,
    };
    keep_largest_peaks(
        chunk,
        width,
        dcfg.waveform_pre,
        (window_ms * 1e-3 * dcfg.rate_hz).round() as u64,
    );
    let mut out = SortedChunk {
        units: Vec::new(),
        potentials: Vec::new(),
        warnings: Vec::new(),
    };
    if !chunk.samples.is_empty() && sigma > 0.0 {
        let input = SortInput {
            rate_hz: dcfg.rate_hz,
            waveforms: chunk.waveforms(),
            wave_len: width,
            pre_samples: dcfg.waveform_pre,
            spike_samples: &chunk.samples,
            noise_sigma_uv: sigma,
        };
        let mut s = sort::sort(&input, &cfg.sort)?;
        lengthen_truncated(&mut s, chunk, dcfg, sigma, &cfg.sort);
        if dcfg.kind == Kind::Surface {
            surface_units_are_motor_units(&mut s);
        }
        let rate = dcfg.rate_hz;
        let peak = |i: usize| chunk.row(i, width, dcfg.waveform_pre)[dcfg.waveform_pre];
        let mut at: Vec<i64> = (0..s.labels.len())
            .map(|i| chunk.samples[i] as i64 + peak_jump(&s, i, dcfg.waveform_pre, rate) as i64)
            .collect();
        let twice = realign_complexes(&s, chunk, &mut at, rate, sigma as f64, &cfg.user.realign);
        for (i, label) in s.labels.iter().enumerate() {
            if !twice[i] {
                out.potentials.push(ChunkPotential {
                    time_s: at[i] as f64 / rate,
                    unit: *label,
                    amplitude_uv: peak(i).abs(),
                    found: Found::Detected,
                });
            }
        }
        // A chunk unit's index from its id.
        let pos = |unit: u32| s.units.iter().position(|u| u.id == unit);
        let duration_s = |id: u32| pos(id).map_or(0.0, |k| s.units[k].duration_ms * 1e-3);
        drop_pieces(
            &mut out.potentials,
            duration_s,
            cfg.user.peaks.piece_max_fraction as f32,
        );
        for &(sample, unit) in &s.extra_spikes {
            let p2p = s.units.get(unit as usize).map_or(0.0, |u| u.p2p_uv / 2.0);
            out.potentials.push(ChunkPotential {
                time_s: sample as f64 / rate,
                unit: Some(unit),
                amplitude_uv: p2p as f32,
                found: Found::Overlap,
            });
        }
        // The chunk's filtered signal, for the searches under the threshold.
        let sig = recover::Signal {
            x: &chunk.filtered,
            first: chunk.first_sample,
            sigma,
            rate_hz: rate,
            pre: dcfg.waveform_pre,
            dead: dcfg.refractory as u64,
        };
        if cfg.user.recover.enabled {
            let mut trains: Vec<Vec<u64>> = vec![Vec::new(); s.units.len()];
            for (i, label) in s.labels.iter().enumerate() {
                if let Some(k) = label.and_then(pos) {
                    trains[k].push(chunk.samples[i]);
                }
            }
            // Nothing is recovered beside a potential already sorted; a detection the sort
            // left unsorted may be claimed (in a train faster than its potentials are long,
            // the sort leaves the beats whose neighbours it could not peel).
            let mut occupied: Vec<u64> = s
                .labels
                .iter()
                .zip(&chunk.samples)
                .filter(|(label, _)| label.is_some())
                .map(|(_, &sample)| sample)
                .collect();
            for &(sample, unit) in &s.extra_spikes {
                occupied.push(sample);
                if let Some(k) = pos(unit) {
                    trains[k].push(sample);
                }
            }
            occupied.sort_unstable();
            trains.iter_mut().for_each(|t| t.sort_unstable());
            for (sample, k, amp) in
                recover::recover(&sig, &s.units, &trains, &occupied, &cfg.user.recover)
            {
                out.potentials.push(ChunkPotential {
                    time_s: sample as f64 / rate,
                    unit: Some(s.units[k].id),
                    amplitude_uv: amp,
                    found: Found::Recovered,
                });
            }
        }
        if cfg.user.weak.enabled {
            let mut known: Vec<(u64, usize)> = out
                .potentials
                .iter()
                .filter_map(|p| {
                    let k = p.unit.and_then(pos)?;
                    Some(((p.time_s * rate).round() as u64, k))
                })
                .collect();
            known.sort_unstable();
            let first_id = s.units.iter().map(|u| u.id + 1).max().unwrap_or(0);
            let found = weak::find(
                &sig,
                &s.units,
                &known,
                width,
                &cfg.sort,
                &cfg.user.weak,
                first_id,
                dcfg.threshold_k,
            )?;
            for (sample, unit, amp) in found.potentials {
                out.potentials.push(ChunkPotential {
                    time_s: sample as f64 / rate,
                    unit: Some(unit),
                    amplitude_uv: amp,
                    found: Found::Weak,
                });
            }
            s.units.extend(found.units);
        }
        out.warnings = s.warnings;
        out.units = s.units;
    }
    chunk.filtered.clear();
    chunk.side.clear();
    chunk.side_index.clear();
    chunk.samples.clear();
    chunk.sigmas.clear();
    Ok(out)
}

/// Links a sorted chunk's units to the channel's units (chunks in recording order) and
/// appends its potentials with the channel's unit ids; a potential of a unit the linker
/// refused is dropped (a detection among them counts as unsorted).
fn link_chunk(
    sorted: SortedChunk,
    pre: usize,
    linker: &mut link::Linker,
    potentials: &mut Vec<PotentialInput>,
) -> ChunkStats {
    let mut stats = ChunkStats {
        unsorted: 0,
        recovered: 0,
        weak: 0,
        overlap: 0,
        warnings: sorted.warnings,
    };
    if sorted.units.is_empty() && sorted.potentials.is_empty() {
        return stats;
    }
    let ids = linker.add_chunk(&sorted.units, pre);
    for p in sorted.potentials {
        let id = p
            .unit
            .and_then(|u| ids.get(u as usize))
            .filter(|&&id| id != u32::MAX);
        match (id, p.found) {
            (Some(&unit), found) => {
                potentials.push(PotentialInput {
                    time_s: p.time_s,
                    unit,
                    amplitude_uv: p.amplitude_uv,
                });
                match found {
                    Found::Detected => {}
                    Found::Overlap => stats.overlap += 1,
                    Found::Recovered => stats.recovered += 1,
                    Found::Weak => stats.weak += 1,
                }
            }
            (None, Found::Detected) => stats.unsorted += 1,
            (None, _) => {}
        }
    }
    stats
}

/// The potentials of complex units aligned again on the whole complex ([`realign`]):
/// `at` holds each spike's sample (absolute) and is updated in place. Returns, per spike,
/// whether it is a second detection of a complex already reported (aligned within
/// `same_ms` of the unit's previous potential).
fn realign_complexes(
    s: &sort::Sorting,
    chunk: &Chunk,
    at: &mut [i64],
    rate_hz: f64,
    sigma: f64,
    cfg: &realign::RealignConfig,
) -> Vec<bool> {
    let mut twice = vec![false; at.len()];
    let same = (cfg.same_ms * 1e-3 * rate_hz).round() as i64;
    let first = chunk.first_sample as i64;
    let len = chunk.filtered.len() as i64;
    for u in s
        .units
        .iter()
        .filter(|u| u.class == sort::WaveformClass::Complex)
    {
        let mut members: Vec<usize> = (0..s.labels.len())
            .filter(|&i| s.labels[i] == Some(u.id) && (0..len).contains(&(at[i] - first)))
            .collect();
        members.sort_by_key(|&i| at[i]);
        let idx: Vec<usize> = members.iter().map(|&i| (at[i] - first) as usize).collect();
        let Some(moved) = realign::realign(&chunk.filtered, &idx, rate_hz, sigma, cfg) else {
            continue;
        };
        // The new times, one per complex (a second detection aligned onto the first's
        // reference dropped).
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|&k| moved[k]);
        let mut kept: Vec<i64> = Vec::with_capacity(order.len());
        let mut again = vec![false; members.len()];
        for &k in &order {
            let t = moved[k] as i64;
            if kept.last().is_some_and(|&l| t - l <= same) {
                again[k] = true;
            } else {
                kept.push(t);
            }
        }
        let before: Vec<i64> = members.iter().map(|&i| at[i]).collect();
        let better = match (realign::jitter(&before), realign::jitter(&kept)) {
            (Some(b), Some(a)) => a <= cfg.max_jitter_ratio * b,
            _ => false,
        };
        if better {
            for (k, &i) in members.iter().enumerate() {
                at[i] = moved[k] as i64 + first;
                twice[i] = again[k];
            }
        }
    }
    twice
}

/// How far after the peak a unit's long average reaches, ms: the brief's positive sharp
/// waves last 10–100 ms.
const LONG_AVERAGE_POST_MS: f64 = 100.0;

/// Most potentials in a long average (evenly spread over the chunk): the noise left is
/// σ/√200, 7 % of σ.
const LONG_AVERAGE_MAX: usize = 200;

/// The long average stops before the unit's next potential: at this quantile of its
/// intervals, less the window's lead (kymo: a myotonic train of positive sharp waves at
/// 20–80 Hz, brief, brings the next potential 12–50 ms later; averaged over 100 ms those
/// smear into a slow positive wave that hides the negative phase).
const LONG_AVERAGE_INTERVAL_QUANTILE: f64 = 0.1;

/// Units whose template is cut off by the end of the sorting window while it is initially
/// positive — a positive sharp wave's slow negative phase outlasts the window — or is a
/// one-phase positive spike (that phase too shallow to count inside the window) are
/// measured again on an average of the filtered signal over `LONG_AVERAGE_POST_MS` after
/// the peak ([`sort::remeasure_long`]).
fn lengthen_truncated(
    s: &mut sort::Sorting,
    chunk: &Chunk,
    dcfg: &ValidDetectConfig,
    sigma: f32,
    scfg: &sort::ValidSortConfig,
) {
    let pre = dcfg.waveform_pre;
    let rate = dcfg.rate_hz;
    let window_end_ms = (dcfg.waveform_post as f64 - 1.0) * 1e3 / rate;
    let longest_post = (LONG_AVERAGE_POST_MS * 1e-3 * rate).round() as usize;
    for u in s.units.iter_mut() {
        // Only in the single-fibre amplitude range: a motor unit potential as long as the
        // window also reaches its end, and its average over 100 ms of a contraction can
        // look like a slow negative phase (the real EMGDB record's did).
        // A template of one phase is a sharp positive spike whose slow negative phase,
        // spread over tens of ms, stays under the phase threshold inside the window.
        let truncated = u.first_phase == sort::Polarity::Positive
            && u.class != sort::WaveformClass::PositiveSharpWave
            && (u.end_ms >= window_end_ms - 1.0 || u.phases < 2)
            && u.p2p_uv <= scfg.get().classes.psw_max_p2p_uv;
        if !truncated {
            continue;
        }
        let rows: Vec<usize> = s
            .labels
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == Some(u.id))
            .map(|(i, _)| i)
            .collect();
        let mut intervals: Vec<u64> = rows
            .windows(2)
            .map(|w| chunk.samples[w[1]].saturating_sub(chunk.samples[w[0]]))
            .collect();
        // Intervals shorter than the window are not the train's rhythm (a wave outlasts
        // them): a wave detected twice, or another unit's potential taken into the train.
        intervals.retain(|&i| i as usize > pre + dcfg.waveform_post);
        intervals.sort_unstable();
        let before_next = intervals
            .get((intervals.len() as f64 * LONG_AVERAGE_INTERVAL_QUANTILE) as usize)
            .map_or(usize::MAX, |&i| (i as usize).saturating_sub(pre));
        let post = longest_post.min(before_next);
        if post <= dcfg.waveform_post {
            continue;
        }
        let len = pre + post;
        let step = rows.len().div_ceil(LONG_AVERAGE_MAX).max(1);
        let mut sum = vec![0.0f64; len];
        let mut n = 0usize;
        for &i in rows.iter().step_by(step) {
            let Some(start) = chunk.samples[i]
                .checked_sub(chunk.first_sample)
                .and_then(|r| r.checked_sub(pre as u64))
            else {
                continue;
            };
            let Some(w) = chunk.filtered.get(start as usize..start as usize + len) else {
                continue;
            };
            sum.iter_mut().zip(w).for_each(|(a, &b)| *a += b as f64);
            n += 1;
        }
        if n < 3 {
            continue;
        }
        let long: Vec<f32> = sum.iter().map(|v| (v / n as f64) as f32).collect();
        let before = (u.phases < 2).then(|| u.clone());
        if sort::remeasure_long(u, &long, pre, n, rate, sigma as f64, scfg) && u.phases != 2 {
            // A one-phase spike is a positive sharp wave only when its average shows the
            // wave's two phases, the spike and its slow return; anything else is left
            // out as one phase (a handful of noise detections around an artefact).
            if let Some(b) = before {
                *u = b;
            }
        }
    }
}

/// On a surface recording every unit is a motor unit (or a group of them): surface EMG
/// cannot resolve single-fibre potentials (brief), so a brief, small surface waveform is
/// not a fibrillation potential, a positive sharp wave or the complex of a complex
/// repetitive discharge.
fn surface_units_are_motor_units(s: &mut sort::Sorting) {
    for u in s.units.iter_mut() {
        if u.class != sort::WaveformClass::MotorUnit {
            u.class_reason = format!(
                "motor unit: a surface recording does not resolve single-fibre potentials (the template alone would say {})",
                u.class_reason
            );
            u.class = sort::WaveformClass::MotorUnit;
        }
    }
}

/// How large another extremum of a template must be, relative to its main peak, for a
/// detection on it to be moved to the main peak (kymo: the phases of a complex are of about
/// one size, its second phase 0.6–1 of the largest (sort's complex criterion); a motor
/// unit potential's main spike dominates).
const PEAK_JUMP_FRACTION: f32 = 0.5;

/// How far the detection may sit from the template's extremum, ms (kymo: noise moves a
/// detected peak by a sample or two at 20 kHz).
const PEAK_JUMP_SLACK_MS: f64 = 0.1;

/// The correction, samples, from spike `i`'s detection to its unit's reference point, for
/// the units whose waveform is a complex: the template fit's shift when the detection
/// sits on (within `PEAK_JUMP_SLACK_MS` of) a
/// large extremum of the template — the main peak, or another one: the detector marks the
/// largest peak, which in a complex of spikes of about one size moves from spike to spike,
/// so a perfectly regular discharge would look jittery — else 0 (a shift that puts the
/// detection on a small part of the template is a fit pulled by an overlapping potential,
/// not a moved peak). Other units keep their detections: in a neuromyotonic train of
/// overlapping polyphasic potentials the fitted shifts moved good detections away from the
/// truth (simulated `mixed`, 20 dB: potential precision 0.99 → 0.96).
fn peak_jump(s: &sort::Sorting, i: usize, pre: usize, rate_hz: f64) -> i32 {
    let shift = s.shifts[i];
    let Some(u) = s.labels[i].and_then(|id| s.units.iter().find(|u| u.id == id)) else {
        return 0;
    };
    if u.class != sort::WaveformClass::Complex {
        return 0;
    }
    let t = &u.template;
    let slack = (PEAK_JUMP_SLACK_MS * 1e-3 * rate_hz).round() as i64;
    let at = pre as i64 - shift as i64;
    let (lo, hi) = (
        (at - slack).max(0) as usize,
        (at + slack + 1).max(0) as usize,
    );
    let (Some(near), Some(main)) = (t.get(lo..hi.min(t.len())), t.get(pre)) else {
        return 0;
    };
    let largest = near.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if shift != 0 && largest >= PEAK_JUMP_FRACTION * main.abs() {
        shift
    } else {
        0
    }
}

/// Drops the detections that are components of a larger detection of the same unit (see
/// `PeaksConfig::piece_max_fraction`): within the unit's duration of it and under
/// `fraction` of its size; `duration_s` gives a unit's duration from its id.
/// `potentials` holds the chunk's detections only.
fn drop_pieces(
    potentials: &mut Vec<ChunkPotential>,
    duration_s: impl Fn(u32) -> f64,
    fraction: f32,
) {
    if fraction <= 0.0 {
        return;
    }
    let mut order: Vec<usize> = (0..potentials.len())
        .filter(|&i| potentials[i].unit.is_some())
        .collect();
    order.sort_by(|&a, &b| {
        let (pa, pb) = (&potentials[a], &potentials[b]);
        pa.unit.cmp(&pb.unit).then(pa.time_s.total_cmp(&pb.time_s))
    });
    let mut piece = vec![false; potentials.len()];
    for w in order.windows(2) {
        let (a, b) = (&potentials[w[0]], &potentials[w[1]]);
        let Some(id) = a.unit.filter(|&id| b.unit == Some(id)) else {
            continue;
        };
        if b.time_s - a.time_s > duration_s(id) {
            continue;
        }
        if a.amplitude_uv < fraction * b.amplitude_uv {
            piece[w[0]] = true;
        } else if b.amplitude_uv < fraction * a.amplitude_uv {
            piece[w[1]] = true;
        }
    }
    let mut i = 0;
    potentials.retain(|_| {
        i += 1;
        !piece[i - 1]
    });
}

/// Keeps only detections that are the largest within `window` samples on either side
/// (ties: the earlier), compacting the chunk's samples and waveform indices in place (rows
/// of `side` left without a detection stay until the chunk is emptied).
fn keep_largest_peaks(chunk: &mut Chunk, width: usize, pre: usize, window: u64) {
    let n = chunk.samples.len();
    if window == 0 || n < 2 {
        return;
    }
    let amp: Vec<f32> = (0..n)
        .map(|i| chunk.row(i, width, pre)[pre].abs())
        .collect();
    let s = &chunk.samples;
    let mut keep = vec![true; n];
    let mut lo = 0;
    for i in 0..n {
        while s[lo] + window < s[i] {
            lo += 1;
        }
        let mut j = lo;
        while j < n && s[j] <= s[i] + window {
            if j != i && (amp[j] > amp[i] || (amp[j] == amp[i] && j < i)) {
                keep[i] = false;
                break;
            }
            j += 1;
        }
    }
    let mut w = 0;
    for (i, &k) in keep.iter().enumerate() {
        if k {
            if w != i {
                chunk.samples[w] = chunk.samples[i];
                chunk.side_index[w] = chunk.side_index[i];
            }
            w += 1;
        }
    }
    chunk.samples.truncate(w);
    chunk.side_index.truncate(w);
}

fn unit_input(u: &UnitReport) -> UnitInput {
    let m = &u.measured;
    UnitInput {
        id: m.id,
        waveform: match m.class {
            sort::WaveformClass::MotorUnit => pattern::WaveformClass::MotorUnit,
            sort::WaveformClass::SingleFibre => pattern::WaveformClass::SingleFibre,
            sort::WaveformClass::PositiveSharpWave => pattern::WaveformClass::PositiveSharpWave,
            sort::WaveformClass::Complex => pattern::WaveformClass::Complex,
        },
        p2p_uv: m.p2p_uv as f32,
        duration_ms: m.duration_ms as f32,
        phases: m.phases,
        first_phase_positive: m.first_phase == sort::Polarity::Positive,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
