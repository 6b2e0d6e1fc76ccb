//! The HTML report: what a clinician sees (and, with audio, hears) of an analysis.
//!
//! One self-contained HTML file: inline SVG plots, inline CSS with an A4 print
//! stylesheet, no script, no network access, no external asset (a Content-Security-Policy
//! forbids any); audio clips, when written, are WAV files beside it, linked by relative
//! paths. Sections:
//!
//! 1. recording summary: file, format, channels, rates, durations, the settings used;
//! 2. clinical context ([`crate::clinical`]): statements with the findings behind them,
//!    the workup to consider, sources, and the not-a-diagnosis note;
//! 3. per channel: a summary table (counts and rates per class, continuous vs episodic
//!    myokymia, fibrillation grade); a class timeline over the whole recording; for each
//!    class found, up to three example sweeps at the usual EMG sweep speeds and gains
//!    (1–200 ms/div, 10 µV–10 mV/div) with the discharge shaded and its potentials
//!    marked, each with its audio clip; a raster of every unit's firing; template
//!    overlays per unit (potentials superimposed on the template, with amplitude,
//!    duration and phases); inter-spike-interval histograms; within-discharge rate and
//!    amplitude envelopes of myokymic and neuromyotonic discharges; a table of every
//!    discharge with its evidence sentence;
//! 4. listening: the whole filtered channel as WAV.
//!
//! Every text that comes from a file or a user (labels, file names, history) is escaped.
//! Plots are hand-written SVG ([`svg`]) with units on every axis (ms, µV, Hz, s).
//!
//! ```no_run
//! use kymo::analyze::{analyze_file, AnalysisConfig};
//! use kymo::clinical::{Patient, Rules};
//! use kymo::io::{open, OpenOptions};
//! use kymo::report::{self, ReportOptions};
//!
//! let path = std::path::Path::new("rec.edf");
//! let a = analyze_file(path, None, &AnalysisConfig::default(), &|_| {})?;
//! let clinical = Rules::builtin()?.context(&a, &Patient::default());
//! let mut reader = open(path, &OpenOptions::default())?;
//! let mut read = |c: usize, s: u64, b: &mut [f32]| reader.read(c, s, b);
//! let out = report::write_dir("out".as_ref(), &a, Some(&clinical), &[], &mut read,
//!                             &ReportOptions { audio: true, ..ReportOptions::default() })?;
//! println!("{}", out.report.display());
//! # Ok::<(), kymo::Error>(())
//! ```

mod html;
mod plots;
pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analyze::{Analysis, ChannelAnalysis};
use crate::audio::{self, FilteredChannel, RawRead, WavFile};
use crate::clinical::ClinicalContext;
#[cfg(test)]
use crate::pattern::Discharge;
use crate::pattern::DischargeClass;
use crate::{Error, Result};

/// Sweep speeds offered, ms per division (the usual EMG screen settings).
pub const SWEEP_MS_PER_DIV: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0];
/// Fastest sweep speed used for examples of unclassified activity, fitted to their length
/// (a longer discharge shows its first 2 s); classified discharges use [`class_sweep`].
pub const MIN_SWEEP_MS_PER_DIV: f64 = 10.0;
/// Horizontal divisions of a sweep.
pub const SWEEP_DIVISIONS: f64 = 10.0;
/// Vertical divisions of a sweep (±4 around the baseline).
pub const GAIN_DIVISIONS: f64 = 8.0;
/// Gains offered, µV per division.
pub const GAIN_UV_PER_DIV: [f64; 10] = [
    10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0,
];
/// Example sweeps per class and channel by default (kymo: two fill one row of the page;
/// the issue asks for 1–3, and [`ReportOptions::examples_per_class`] takes up to 3).
pub const EXAMPLES_PER_CLASS: usize = 2;
/// Half-width of the window around each of an example's potentials whose loudness sets
/// its clip's level, ms (kymo: 3, the main phases of a motor unit potential, as for the
/// sweep's gain).
pub const CLIP_FOCUS_MS: f64 = 3.0;
/// Lowest level of a clip, in noise σ of its channel (kymo: 8: the noise then stays
/// about 25 dB under the level, and potentials at a 5σ detection threshold still play at
/// −7 dBFS; focusing on potentials barely above the noise no longer turns it up to a roar).
pub const CLIP_MIN_LEVEL_SIGMA: f64 = 8.0;
/// Discharge-table groups (one per class) with at most this many rows start open (kymo:
/// about a screen; longer ones, and unclassified activity, start collapsed with their
/// counts shown).
pub const OPEN_ROWS_MAX: usize = 25;
/// Shortest and longest audio clip around an example, s (kymo: long enough to hear the
/// rhythm of bursts recurring at 1–5 Hz, short enough to compare clips).
pub const CLIP_SECONDS: (f64, f64) = (2.0, 5.0);

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Also write WAV audio (whole channels and one clip per example).
    pub audio: bool,
    /// Example sweeps per class and channel (1–3; default [`EXAMPLES_PER_CLASS`]).
    pub examples_per_class: usize,
    /// Name of the HTML file in the output folder.
    pub file_name: String,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            audio: false,
            examples_per_class: EXAMPLES_PER_CLASS,
            file_name: "report.html".into(),
        }
    }
}

/// An extra block of preformatted text at the end of the report (e.g. the accuracy
/// against a simulator's truth in `kymo demo`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Appendix {
    /// Heading.
    pub title: String,
    /// Text shown as is (escaped).
    pub text: String,
}

/// An example sweep: one discharge shown on an EMG screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    /// Position of the channel in [`Analysis::channels`].
    pub channel: usize,
    /// Index of the discharge in the channel's discharges.
    pub discharge: usize,
    /// Its class.
    pub class: DischargeClass,
    /// 1-based number among the channel's examples of this class.
    pub number: usize,
    /// Sweep speed, ms/div.
    pub ms_per_div: f64,
    /// Why this speed, as an EMG reader would choose it for the class.
    pub sweep_reason: &'static str,
    /// Sweep start, s.
    pub sweep_start_s: f64,
    /// Audio clip start and end, s.
    pub clip_s: (f64, f64),
    /// Clip file, relative to the report.
    pub clip_file: String,
}

impl Example {
    /// Sweep length, s.
    pub fn sweep_len_s(&self) -> f64 {
        self.ms_per_div * SWEEP_DIVISIONS / 1000.0
    }
}

/// Most example sweeps of unclassified activity per channel (kymo: it fits no class, so
/// two show what it looks like; the report keeps them collapsed, after the classes).
pub const UNCLASSIFIED_EXAMPLES: usize = 2;

/// The examples of one channel: for each class found (in [`DischargeClass::ALL`] order,
/// unclassified last), up to `per_class` discharges (unclassified: at most
/// [`UNCLASSIFIED_EXAMPLES`]), those clear of artefacts first, then the most confident,
/// whose sweeps do not overlap.
pub fn examples(a: &Analysis, channel: usize, per_class: usize) -> Vec<Example> {
    let Some(ch) = a.channels.get(channel) else {
        return Vec::new();
    };
    let stem = audio::channel_stem(ch.channel, &ch.label);
    let mut out = Vec::new();
    for class in DischargeClass::ALL {
        let mut idx: Vec<usize> = (0..ch.discharges.len())
            .filter(|&i| ch.discharges[i].class == class)
            .collect();
        let near_artefact = |i: usize| {
            let d = &ch.discharges[i];
            ch.artefacts
                .iter()
                .any(|a| a.start_s < d.end_s + 0.1 && d.start_s - 0.1 < a.end_s)
        };
        idx.sort_by(|&i, &j| {
            near_artefact(i)
                .cmp(&near_artefact(j))
                .then(
                    ch.discharges[j]
                        .confidence
                        .total_cmp(&ch.discharges[i].confidence),
                )
                .then(i.cmp(&j))
        });
        let limit = if class == DischargeClass::Unclassified {
            per_class.min(UNCLASSIFIED_EXAMPLES)
        } else {
            per_class
        };
        let mut taken: Vec<(f64, f64)> = Vec::new();
        for i in idx {
            if taken.len() >= limit {
                break;
            }
            let d = &ch.discharges[i];
            let (ms_per_div, sweep_reason) = class_sweep(d);
            let start = sweep_start(ms_per_div, d.start_s, d.end_s, ch.duration_s);
            let end = start + ms_per_div * SWEEP_DIVISIONS / 1000.0;
            if taken.iter().any(|&(a, b)| start < b && a < end) {
                continue;
            }
            taken.push((start, end));
            let number = taken.len();
            out.push(Example {
                channel,
                discharge: i,
                class,
                number,
                ms_per_div,
                sweep_reason,
                sweep_start_s: start,
                clip_s: clip_for(d.start_s, d.end_s, ch.duration_s),
                clip_file: format!("audio/clips/{stem}-{}-{number}.wav", class.name()),
            });
        }
    }
    out
}

/// The sweep speed (ms/div) an EMG reader would use to show a discharge of this class,
/// and why: fast sweeps where the potentials' shape or close spacing matters (at 200
/// ms/div a 250 Hz neuromyotonic train is a solid bar), slow ones where the grouping
/// does (myokymic bursts and their recurrence). Unclassified activity gets the fastest
/// speed that shows it whole ([`fit_sweep`]).
pub fn class_sweep(d: &crate::pattern::Discharge) -> (f64, &'static str) {
    use DischargeClass as C;
    let rate = d.features.rate_hz.filter(|r| r.is_finite() && *r > 0.0);
    match d.class {
        C::Neuromyotonic => (
            10.0,
            "10 ms/div: at 150–300 Hz the potentials, 3–7 ms apart, stay apart",
        ),
        C::Fibrillation => (
            10.0,
            "10 ms/div: the brief (1–5 ms), initially positive spike's shape",
        ),
        C::EndplateSpike => (10.0, "10 ms/div: the brief, initially negative spikes"),
        C::Fasciculation => (10.0, "10 ms/div: the single motor unit potential's shape"),
        C::Doublet => (10.0, "10 ms/div: potentials of one unit 2–20 ms apart"),
        C::PositiveSharpWave => (
            20.0,
            "20 ms/div: the sharp positive onset and the slow negative phase (10–100 ms)",
        ),
        C::ComplexRepetitive => match rate {
            // At least 4 cycles of the complex on the screen.
            Some(r) if r >= 20.0 => (20.0, "20 ms/div: several cycles of the same complex"),
            _ => (50.0, "50 ms/div: several cycles of the same complex"),
        },
        C::Myotonic => (
            100.0,
            "100 ms/div: the waxing and waning of rate and amplitude (20–80 Hz)",
        ),
        C::Myokymic | C::MyokymicContinuous => match rate {
            Some(r) if r > 40.0 => (
                100.0,
                "100 ms/div: the grouping of potentials into bursts (fast bursts: 100 ms/div keeps them apart)",
            ),
            _ => (200.0, "200 ms/div: the bursts and how they recur"),
        },
        C::Cramp | C::Voluntary => (50.0, "50 ms/div: the firing of several units"),
        C::Regular => (100.0, "100 ms/div: the regularity over several firings"),
        C::Unclassified => (
            fit_sweep(d.start_s, d.end_s),
            "the fastest speed that shows the activity whole",
        ),
    }
}

/// The fastest speed that shows `start`–`end` whole with some margin (at least
/// [`MIN_SWEEP_MS_PER_DIV`]; longer ones show their first 2 s).
fn fit_sweep(start: f64, end: f64) -> f64 {
    let d = (end - start).max(0.0);
    SWEEP_MS_PER_DIV
        .iter()
        .copied()
        .filter(|&m| m >= MIN_SWEEP_MS_PER_DIV)
        .find(|&m| m * SWEEP_DIVISIONS / 1000.0 >= d * 1.25)
        .unwrap_or(SWEEP_MS_PER_DIV[SWEEP_MS_PER_DIV.len() - 1])
}

/// Where a sweep of `ms` ms/div starts: a discharge that fits is centred (a burst shows
/// its neighbours); a longer one starts one division before its onset (the abrupt onset
/// of neuromyotonic and complex repetitive discharges shows). Kept within the recording.
fn sweep_start(ms: f64, start: f64, end: f64, duration: f64) -> f64 {
    let d = (end - start).max(0.0);
    let w = ms * SWEEP_DIVISIONS / 1000.0;
    let s = if d <= 0.8 * w {
        (start + end) / 2.0 - w / 2.0
    } else {
        start - w / SWEEP_DIVISIONS
    };
    s.min(duration - w).max(0.0)
}

/// The clip around a discharge: [`CLIP_SECONDS`] long at least and at most, centred on
/// short discharges, from just before the start for long ones.
fn clip_for(start: f64, end: f64, duration: f64) -> (f64, f64) {
    let d = (end - start).max(0.0);
    let (lo, hi) = CLIP_SECONDS;
    let (s, len) = if d + 0.5 <= lo {
        ((start + end) / 2.0 - lo / 2.0, lo)
    } else if d + 0.5 <= hi {
        (start - 0.25, d + 0.5)
    } else {
        (start - 0.25, hi)
    };
    let s = s.min(duration - len).max(0.0);
    (s, (s + len).min(duration))
}

/// Audio files the report links to, relative to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AudioLinks {
    /// Whole channel, by position in [`Analysis::channels`].
    pub channels: BTreeMap<usize, String>,
    /// Clips, by (channel position, discharge index).
    pub clips: BTreeMap<(usize, usize), String>,
}

/// What [`write_dir`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Written {
    /// The HTML report.
    pub report: PathBuf,
    /// Whole-channel WAVs.
    pub audio: Vec<WavFile>,
    /// Clips.
    pub clips: Vec<WavFile>,
    /// Example sweeps shown.
    pub examples: usize,
}

/// Everything [`render`] shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The analysis.
    pub analysis: &'a Analysis,
    /// Clinical context, if computed.
    pub clinical: Option<&'a ClinicalContext>,
    /// Audio links, if written.
    pub audio: Option<&'a AudioLinks>,
    /// Extra blocks at the end.
    pub appendix: &'a [Appendix],
}

/// Writes the report (and, with `opts.audio`, the WAVs under `audio/`) into `dir`,
/// reading raw samples through `read` for sweeps, overlays and audio. On failure, every
/// file this call wrote is removed again (and the `audio/` folders it created, if empty).
pub fn write_dir(
    dir: &Path,
    analysis: &Analysis,
    clinical: Option<&ClinicalContext>,
    appendix: &[Appendix],
    read: &mut RawRead<'_>,
    opts: &ReportOptions,
) -> Result<Written> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(dir, "cannot create the output folder", e))?;
    let mut done = Written {
        report: dir.join(&opts.file_name),
        audio: Vec::new(),
        clips: Vec::new(),
        examples: 0,
    };
    let r = write_dir_inner(dir, analysis, clinical, appendix, read, opts, &mut done);
    if r.is_err() {
        remove_written(dir, &done);
    }
    r.map(|()| done)
}

fn write_dir_inner(
    dir: &Path,
    analysis: &Analysis,
    clinical: Option<&ClinicalContext>,
    appendix: &[Appendix],
    read: &mut RawRead<'_>,
    opts: &ReportOptions,
    done: &mut Written,
) -> Result<()> {
    let per = opts.examples_per_class.clamp(1, 3);
    let examples: Vec<Example> = (0..analysis.channels.len())
        .flat_map(|c| examples(analysis, c, per))
        .collect();
    done.examples = examples.len();
    let mut links = AudioLinks::default();
    if opts.audio {
        links = write_audio_into(dir, analysis, &examples, read, done)?;
    }
    let input = ReportInput {
        analysis,
        clinical,
        audio: opts.audio.then_some(&links),
        appendix,
    };
    let page = render_with(&input, &examples, read)?;
    write_atomic(&done.report, page.as_bytes())
}

/// Writes only the audio into `dir` (`audio/` and `audio/clips/`, the clips of the
/// examples a report would show, up to `per_class` per class and channel), for
/// `kymo analyze --audio` without `--report`. On failure, removes what it wrote.
pub fn write_audio(
    dir: &Path,
    analysis: &Analysis,
    per_class: usize,
    read: &mut RawRead<'_>,
) -> Result<Written> {
    let mut done = Written {
        report: PathBuf::new(),
        audio: Vec::new(),
        clips: Vec::new(),
        examples: 0,
    };
    let examples: Vec<Example> = (0..analysis.channels.len())
        .flat_map(|c| examples(analysis, c, per_class.clamp(1, 3)))
        .collect();
    done.examples = examples.len();
    let r = write_audio_into(dir, analysis, &examples, read, &mut done);
    if r.is_err() {
        remove_written(dir, &done);
    }
    r.map(|_| done)
}

/// Whole channels and example clips as WAV; records each file in `done`.
fn write_audio_into(
    dir: &Path,
    analysis: &Analysis,
    examples: &[Example],
    read: &mut RawRead<'_>,
    done: &mut Written,
) -> Result<AudioLinks> {
    let mut links = AudioLinks::default();
    for (pos, ch) in analysis.channels.iter().enumerate() {
        let fc = FilteredChannel::new(&analysis.config, ch)?;
        let rel = format!("audio/{}.wav", audio::channel_stem(ch.channel, &ch.label));
        done.audio.push(audio::write_wav(
            &dir.join(&rel),
            &fc,
            read,
            0..ch.n_samples,
        )?);
        links.channels.insert(pos, rel);
        for ex in examples.iter().filter(|e| e.channel == pos) {
            // The clip's level is set by the discharge's own potentials, as a reader sets
            // the gain for the activity of interest: a small complex repetitive discharge
            // stays audible beside a large motor unit (which then passes the limiter).
            // Unclassified activity (often potentials barely above the noise) is not
            // the activity of interest: its clips are set like the whole channel.
            let d = &ch.discharges[ex.discharge];
            let focused = d.class != DischargeClass::Unclassified;
            let w = CLIP_FOCUS_MS / 1e3;
            let focus: Vec<(f64, f64)> = ch
                .potentials
                .iter()
                .filter(|p| {
                    focused
                        && p.time_s >= d.first_s - 1e-9
                        && p.time_s <= d.last_s + 1e-9
                        && p.time_s >= ex.clip_s.0
                        && p.time_s <= ex.clip_s.1
                        && d.units.contains(&p.unit)
                })
                .map(|p| (p.time_s - w, p.time_s + w))
                .collect();
            done.clips.push(audio::write_clip(
                &dir.join(&ex.clip_file),
                &fc.clone()
                    .focusing(&focus)
                    .with_min_level(CLIP_MIN_LEVEL_SIGMA * ch.settings.noise_sigma_uv),
                read,
                ex.clip_s.0,
                ex.clip_s.1,
            )?);
            links
                .clips
                .insert((pos, ex.discharge), ex.clip_file.clone());
        }
    }
    Ok(links)
}

/// Removes the WAVs in `done` and the audio folders, when empty.
fn remove_written(dir: &Path, done: &Written) {
    for w in done.audio.iter().chain(&done.clips) {
        let _ = std::fs::remove_file(&w.path);
    }
    for d in [dir.join("audio/clips"), dir.join("audio")] {
        // remove_dir refuses a folder that still holds anything.
        let _ = std::fs::remove_dir(d);
    }
}

/// The report as one HTML string (examples chosen with up to [`EXAMPLES_PER_CLASS`] per
/// class).
pub fn render(input: &ReportInput<'_>, read: &mut RawRead<'_>) -> Result<String> {
    let examples: Vec<Example> = (0..input.analysis.channels.len())
        .flat_map(|c| examples(input.analysis, c, EXAMPLES_PER_CLASS))
        .collect();
    render_with(input, &examples, read)
}

fn render_with(
    input: &ReportInput<'_>,
    examples: &[Example],
    read: &mut RawRead<'_>,
) -> Result<String> {
    let mut channels = Vec::with_capacity(input.analysis.channels.len());
    for (pos, ch) in input.analysis.channels.iter().enumerate() {
        channels.push(channel_plots(input, pos, ch, examples, read)?);
    }
    Ok(html::page(input, &channels))
}

/// The plots of one channel, rendered (signal excerpts read here).
pub(crate) struct ChannelPlots {
    pub sweeps: Vec<(Example, String)>,
    pub timeline: String,
    pub raster: String,
    pub templates: Vec<String>,
    pub isi: Vec<String>,
    pub envelopes: Vec<(DischargeClass, String, String)>,
}

fn channel_plots(
    input: &ReportInput<'_>,
    pos: usize,
    ch: &ChannelAnalysis,
    examples: &[Example],
    read: &mut RawRead<'_>,
) -> Result<ChannelPlots> {
    let fc = FilteredChannel::new(&input.analysis.config, ch)?;
    let mut sweeps = Vec::new();
    for ex in examples.iter().filter(|e| e.channel == pos) {
        let s0 = (ex.sweep_start_s * ch.rate_hz).round() as u64;
        let n = (ex.sweep_len_s() * ch.rate_hz).round() as u64;
        let samples = fc.excerpt(read, s0..s0 + n)?;
        sweeps.push((ex.clone(), plots::sweep(ch, ex, s0, &samples)));
    }
    let overlays = plots::overlay_waveforms(ch, &fc, read)?;
    Ok(ChannelPlots {
        sweeps,
        timeline: plots::timeline(ch),
        raster: plots::raster(ch),
        templates: ch
            .units
            .iter()
            .map(|u| plots::template(ch, u, overlays.get(&u.id()).map(Vec::as_slice)))
            .collect(),
        isi: ch.units.iter().map(|u| plots::isi(ch, u.id())).collect(),
        envelopes: plots::envelopes(ch),
    })
}

/// Writes `bytes` to `path` through a temporary file in the same folder.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let r = std::fs::write(&tmp, bytes)
        .map_err(|e| Error::io(&tmp, "cannot write", e))
        .and_then(|_| {
            std::fs::rename(&tmp, path).map_err(|e| Error::io(path, "cannot rename the report", e))
        });
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclassified_sweeps_fit_the_activity() {
        // A 10 ms potential: 10 ms/div (the fastest speed allowed), centred.
        assert_eq!(fit_sweep(5.0, 5.01), 10.0);
        assert!((sweep_start(10.0, 5.0, 5.01, 60.0) - (5.005 - 0.05)).abs() < 1e-9);
        // A 180 ms burst: 50 ms/div (500 ms) — 20 ms/div (200 ms) leaves no margin.
        assert_eq!(fit_sweep(5.0, 5.18), 50.0);
        // A 20 s train: its first 2 s at 200 ms/div, starting one division before it.
        assert_eq!(fit_sweep(10.0, 30.0), 200.0);
        assert!((sweep_start(200.0, 10.0, 30.0, 60.0) - 9.8).abs() < 1e-9);
        // Kept inside the recording.
        assert_eq!(sweep_start(10.0, 0.0, 0.01, 60.0), 0.0);
        assert!((sweep_start(10.0, 59.99, 60.0, 60.0) - 59.9).abs() < 1e-9);
    }

    fn discharge(class: DischargeClass, start: f64, end: f64, rate: Option<f64>) -> Discharge {
        Discharge {
            class,
            confidence: 0.9,
            score: 0.9,
            runner_up: None,
            start_s: start,
            end_s: end,
            first_s: start,
            last_s: end,
            units: vec![0],
            n_potentials: 10,
            features: crate::pattern::Features {
                rate_hz: rate,
                ..crate::pattern::Features::empty(
                    crate::pattern::SegmentKind::Run,
                    crate::pattern::WaveformClass::MotorUnit,
                )
            },
            criteria: Vec::new(),
            evidence: String::new(),
        }
    }

    /// Each class at the speed an EMG reader uses (table-driven).
    #[test]
    fn sweep_speeds_follow_the_class() {
        use DischargeClass as C;
        for (class, dur, rate, ms) in [
            // A 2.3 s neuromyotonic train at 250 Hz: 10 ms/div, potentials 4 ms apart.
            (C::Neuromyotonic, 2.3, Some(250.0), 10.0),
            (C::Fibrillation, 5.0, Some(5.0), 10.0),
            (C::Fasciculation, 0.01, None, 10.0),
            (C::Doublet, 0.02, None, 10.0),
            (C::EndplateSpike, 1.0, Some(30.0), 10.0),
            (C::PositiveSharpWave, 3.0, Some(4.0), 20.0),
            (C::ComplexRepetitive, 4.0, Some(40.0), 20.0),
            (C::ComplexRepetitive, 4.0, Some(8.8), 50.0),
            (C::Myotonic, 3.0, Some(50.0), 100.0),
            (C::Myokymic, 0.18, Some(23.0), 200.0),
            (C::Myokymic, 0.1, Some(55.0), 100.0),
            (C::MyokymicContinuous, 20.0, Some(20.0), 200.0),
            (C::Cramp, 5.0, Some(30.0), 50.0),
            (C::Regular, 10.0, Some(8.0), 100.0),
            (C::Unclassified, 0.18, Some(8.0), 50.0),
        ] {
            let d = discharge(class, 10.0, 10.0 + dur, rate);
            let (got, why) = class_sweep(&d);
            assert_eq!(got, ms, "{class:?}");
            assert!(SWEEP_MS_PER_DIV.contains(&got));
            assert!(
                why.starts_with(&format!("{} ms/div", num_ms(got))) || class == C::Unclassified,
                "{why}"
            );
        }
        // A long neuromyotonic train starts one division (10 ms) before its onset.
        assert!((sweep_start(10.0, 49.664, 51.973, 60.0) - 49.654).abs() < 1e-9);
    }

    fn num_ms(v: f64) -> String {
        format!("{v:.0}")
    }

    #[test]
    fn clips_are_two_to_five_seconds() {
        let (a, b) = clip_for(10.0, 10.2, 60.0);
        assert!((b - a - 2.0).abs() < 1e-9 && a < 10.0 && b > 10.2);
        let (a, b) = clip_for(10.0, 13.0, 60.0);
        assert!((b - a - 3.5).abs() < 1e-9 && (a - 9.75).abs() < 1e-9);
        let (a, b) = clip_for(10.0, 40.0, 60.0);
        assert!((b - a - 5.0).abs() < 1e-9);
        let (a, b) = clip_for(59.5, 59.9, 60.0);
        assert!((b - 60.0).abs() < 1e-9 && (b - a - 2.0).abs() < 1e-9);
        // A recording shorter than a clip: the whole recording.
        assert_eq!(clip_for(0.2, 0.3, 1.0), (0.0, 1.0));
    }
}
