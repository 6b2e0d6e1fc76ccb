//! Listening to EMG: the filtered signal as 44.1 kHz WAV, whole channels and short clips.
//!
//! EMG readers judge spontaneous activity by its sound as much as by its look: myokymic
//! discharges march ("marching soldiers"), neuromyotonic discharges ping, fibrillation
//! potentials sound like rain on a tin roof. [`write_wav`] writes the signal exactly as
//! the analysis filtered it ([`FilteredChannel`]: the same band-pass and hum removal,
//! block by block), resampled to 44.1 kHz with a band-limited windowed-sinc resampler
//! ([`resample`]) so any recording rate plays on any sound card, as 16-bit mono PCM.
//!
//! Loudness: one electrode pop must not make everything else quiet. The file's **level**
//! is a robust estimate of the signal's loud end, taken over the time the analysis did not
//! flag as artefact ([`FilteredChannel::new`] takes the channel's artefact intervals, each
//! widened by [`ARTEFACT_MARGIN_S`] for the filter's ringing): the signal is cut into
//! [`LEVEL_BLOCK_S`] blocks and the level is the [`LEVEL_PERCENTILE`] percentile of their
//! peaks, so that a rare unflagged pop cannot set it either (per-block loudness). The level
//! maps to [`LEVEL_DBFS`] ([`FilteredChannel::focusing`] narrows the level to chosen
//! intervals: the report sets each clip by its discharge's own potentials); anything louder
//! passes a soft limiter (a tanh knee from the level up to the ceiling at −[`HEADROOM_DB`]
//! dBFS) so no sample ever reaches full scale and nothing clips. A file with no artefact
//! and no outlier stays linear, its largest sample at [`LEVEL_DBFS`].
//!
//! That takes two passes over the range (the first finds the level of the resampled
//! signal with a log-spaced histogram of bounded size, the second writes), each streamed
//! through bounded buffers, so memory stays flat whatever the length. The file is written
//! under a temporary name in the same folder and renamed when complete, so a failed run
//! leaves no partial WAV.
//!
//! ```no_run
//! use kymo::analyze::{analyze_file, AnalysisConfig};
//! use kymo::audio::{self, FilteredChannel};
//! use kymo::io::{open, OpenOptions};
//!
//! let path = std::path::Path::new("rec.edf");
//! let cfg = AnalysisConfig::default();
//! let a = analyze_file(path, None, &cfg, &|_| {})?;
//! let mut reader = open(path, &OpenOptions::default())?;
//! let mut read = |c: usize, s: u64, buf: &mut [f32]| reader.read(c, s, buf);
//! let ch = &a.channels[0];
//! let fc = FilteredChannel::new(&a.config, ch)?;
//! let wav = audio::write_wav("rec-ch1.wav".as_ref(), &fc, &mut read, 0..ch.n_samples)?;
//! println!("{} s at {} Hz", wav.seconds, wav.rate_hz);
//! # Ok::<(), kymo::Error>(())
//! ```

pub mod resample;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analyze::{AnalysisConfig, ChannelAnalysis};
use crate::dsp::{Filter, Scratch};
use crate::{Error, Result};

pub use resample::Resampler;

/// Output rate of every WAV kymo writes, Hz (CD audio: plays everywhere).
pub const OUTPUT_RATE_HZ: u32 = 44_100;
/// Ceiling of every file below full scale, dB: the soft limiter never goes above it
/// (kymo: 1 dB keeps clear of inter-sample overs in players that resample again).
pub const HEADROOM_DB: f64 = 1.0;
/// Where a file's level (module docs) sits, dBFS (kymo: 2 dB under the ceiling leaves the
/// limiter a knee for louder samples, and costs a linear file only 2 dB of loudness).
pub const LEVEL_DBFS: f64 = -3.0;
/// Length of the blocks whose peaks make the level, s (kymo: 1 s holds at least one
/// potential of any train firing at 1 Hz or faster).
pub const LEVEL_BLOCK_S: f64 = 1.0;
/// Percentile of the block peaks (non-artefact time only) that is the level, % (kymo: 95:
/// activity present in at least one second in twenty, such as myokymic bursts recurring
/// every 10–20 s, sets the level; a rarer event, such as one unflagged pop, does not and
/// goes through the limiter). A range of fewer than 20 blocks is set by its largest.
pub const LEVEL_PERCENTILE: f64 = 95.0;
/// Margin added on each side of an artefact interval left out of the level, s (kymo: the
/// 10–20 Hz high-pass rings for some tens of ms after a pop or a step).
pub const ARTEFACT_MARGIN_S: f64 = 0.05;
/// Bins per decade of the level histogram (kymo: 200, 1.2 % wide: the level is known to
/// 0.1 dB; 10 decades from 1 nV to 10 V take 2000 bins).
const HIST_PER_DECADE: f64 = 200.0;
/// Lowest |value| the level histogram resolves, µV.
const HIST_LO_UV: f64 = 1e-3;
/// Decades of the level histogram.
const HIST_DECADES: f64 = 10.0;
/// Input samples filtered per block (kymo: 1 Mi samples, 4 MB of f32, plus the filter's
/// settling overlap on each side).
pub const BLOCK_LEN: usize = 1 << 20;

/// Reads raw samples of a recording: `(file channel, first sample, buffer)`, physical
/// values in the channel's unit (as [`crate::io::SignalReader::read`]).
pub type RawRead<'a> = dyn FnMut(usize, u64, &mut [f32]) -> Result<()> + 'a;

/// A channel filtered exactly as the analysis filtered it, readable by range.
#[derive(Debug, Clone)]
pub struct FilteredChannel {
    filter: Filter,
    channel: usize,
    n_samples: u64,
    rate_hz: f64,
    to_uv: f32,
    /// Intervals (s, sorted, merged) left out of the loudness level.
    excluded: Vec<(f64, f64)>,
    /// When set, only these intervals (s, sorted, merged) count for the level.
    focus: Option<Vec<(f64, f64)>>,
    /// Lowest level, µV (0: none).
    min_level_uv: f64,
}

impl FilteredChannel {
    /// The filter the analysis used on `ch` under `config` (its band, its kind, the mains
    /// frequency it removed); the channel's artefact intervals, widened by
    /// [`ARTEFACT_MARGIN_S`], are left out of the loudness level of any WAV written.
    pub fn new(config: &AnalysisConfig, ch: &ChannelAnalysis) -> Result<FilteredChannel> {
        let mut f = config.filter.clone();
        f.kind = f.kind.or(config.kind);
        let valid = f.check(ch.rate_hz)?;
        let spans: Vec<(f64, f64)> = ch.artefacts.iter().map(|a| (a.start_s, a.end_s)).collect();
        Ok(FilteredChannel {
            filter: Filter::new(&valid, ch.settings.mains_hz),
            channel: ch.channel,
            n_samples: ch.n_samples,
            rate_hz: ch.rate_hz,
            to_uv: ch.settings.to_uv as f32,
            excluded: Vec::new(),
            focus: None,
            min_level_uv: 0.0,
        }
        .excluding(&spans))
    }

    /// The same channel with the intervals `spans` (start, end in s), each widened by
    /// [`ARTEFACT_MARGIN_S`], left out of the loudness level (added to any already left
    /// out). Non-finite or empty intervals are ignored.
    pub fn excluding(mut self, spans: &[(f64, f64)]) -> FilteredChannel {
        let mut v = std::mem::take(&mut self.excluded);
        v.extend(
            spans
                .iter()
                .filter(|(a, b)| a.is_finite() && b.is_finite() && b >= a)
                .map(|&(a, b)| (a - ARTEFACT_MARGIN_S, b + ARTEFACT_MARGIN_S)),
        );
        self.excluded = merge_spans(v);
        self
    }

    /// The same channel whose loudness level counts only the intervals `spans` (start,
    /// end in s; still without the excluded ones), for instance the potentials of the
    /// discharge a clip is about, as a reader sets the gain for the activity of interest
    /// (louder activity then passes the limiter). An empty list clears the focus.
    pub fn focusing(mut self, spans: &[(f64, f64)]) -> FilteredChannel {
        let v: Vec<(f64, f64)> = spans
            .iter()
            .filter(|(a, b)| a.is_finite() && b.is_finite() && b >= a)
            .copied()
            .collect();
        self.focus = (!v.is_empty()).then(|| merge_spans(v));
        self
    }

    /// The same channel whose loudness level is at least `uv` µV (for a focused clip: a
    /// few noise σ, so that focusing on potentials barely above the noise does not turn
    /// the noise up to a roar). Non-finite or negative values mean no floor.
    pub fn with_min_level(mut self, uv: f64) -> FilteredChannel {
        self.min_level_uv = if uv.is_finite() && uv > 0.0 { uv } else { 0.0 };
        self
    }

    /// Intervals (s, widened, merged, sorted) left out of the loudness level.
    pub fn excluded(&self) -> &[(f64, f64)] {
        &self.excluded
    }

    /// A designed `filter` for file channel `channel` of `n_samples`, whose raw values
    /// times `to_uv` are µV.
    pub fn with_filter(filter: Filter, channel: usize, n_samples: u64, to_uv: f64) -> Self {
        FilteredChannel {
            rate_hz: filter.rate_hz(),
            filter,
            channel,
            n_samples,
            to_uv: to_uv as f32,
            excluded: Vec::new(),
            focus: None,
            min_level_uv: 0.0,
        }
    }

    /// Sampling rate, Hz.
    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// Samples in the channel.
    pub fn n_samples(&self) -> u64 {
        self.n_samples
    }

    /// Calls `f` with consecutive filtered blocks (µV) covering `range` (clamped to the
    /// channel), each at most [`BLOCK_LEN`] samples. The values equal whole-signal
    /// filtering (within [`crate::dsp::SETTLE_EPS`]): each block reads the filter's
    /// settling overlap on both sides.
    pub fn for_each(
        &self,
        read: &mut RawRead<'_>,
        range: Range<u64>,
        mut f: impl FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        let end = range.end.min(self.n_samples);
        let mut s = range.start.min(end);
        let ov = self.filter.overlap() as u64;
        let mut raw = Vec::new();
        let mut out = Vec::new();
        let mut scratch = Scratch::default();
        while s < end {
            let e = (s + BLOCK_LEN as u64).min(end);
            let i0 = s.saturating_sub(ov);
            let i1 = e.saturating_add(ov).min(self.n_samples);
            raw.resize((i1 - i0) as usize, 0.0);
            read(self.channel, i0, &mut raw)?;
            if self.to_uv != 1.0 {
                raw.iter_mut().for_each(|v| *v *= self.to_uv);
            }
            out.resize((e - s) as usize, 0.0);
            self.filter.filtfilt_range(
                &raw,
                i0,
                (s - i0) as usize..(e - i0) as usize,
                &mut out,
                &mut scratch,
            );
            f(&out)?;
            s = e;
        }
        Ok(())
    }

    /// The filtered samples (µV) of `range`, clamped to the channel.
    pub fn excerpt(&self, read: &mut RawRead<'_>, range: Range<u64>) -> Result<Vec<f32>> {
        let mut v = Vec::new();
        self.for_each(read, range, |b| {
            v.extend_from_slice(b);
            Ok(())
        })?;
        Ok(v)
    }
}

/// `v` sorted by start with overlapping intervals merged.
fn merge_spans(mut v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// Walks sorted, merged intervals along increasing times: is `t` inside one?
struct SpanCursor<'a> {
    spans: &'a [(f64, f64)],
    j: usize,
}

impl SpanCursor<'_> {
    fn contains(&mut self, t: f64) -> bool {
        while self.j < self.spans.len() && self.spans[self.j].1 < t {
            self.j += 1;
        }
        self.j < self.spans.len() && self.spans[self.j].0 <= t
    }
}

/// A WAV file written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WavFile {
    /// Where.
    pub path: PathBuf,
    /// Sample rate, Hz.
    pub rate_hz: u32,
    /// Samples.
    pub samples: u64,
    /// Length, s.
    pub seconds: f64,
    /// Start of the range in the recording, s.
    pub start_s: f64,
    /// Largest |value| of the resampled signal, artefacts included, µV (0: silence).
    pub peak_uv: f64,
    /// The level (module docs), µV: it maps to [`LEVEL_DBFS`] (0: silence).
    pub level_uv: f64,
    /// Full-scale fraction per µV below the level (`level_uv` maps to [`LEVEL_DBFS`]).
    pub gain_per_uv: f64,
    /// Time of the range left out of the level (artefacts, and outside the focus when
    /// one is set: [`FilteredChannel::focusing`]), s.
    pub excluded_s: f64,
    /// Samples above the level, softened by the limiter.
    pub limited_samples: u64,
}

/// |value| statistics of the samples kept for the level: the largest value, and a
/// log-spaced histogram of block peaks (bounded size whatever the length).
struct LevelStats {
    peak_all: f64,
    peak_kept: f64,
    excluded: u64,
    /// Block peaks counted.
    blocks: u64,
    /// The current block's index and peak over kept samples (None: none kept yet).
    block: (u64, Option<f64>),
    hist: Vec<u64>,
}

impl LevelStats {
    fn new() -> LevelStats {
        LevelStats {
            peak_all: 0.0,
            peak_kept: 0.0,
            excluded: 0,
            blocks: 0,
            block: (0, None),
            hist: vec![0; (HIST_PER_DECADE * HIST_DECADES) as usize],
        }
    }

    /// Sample `v` of block `block`, kept for the level or not.
    fn push(&mut self, v: f64, block: u64, keep: bool) {
        if block != self.block.0 {
            self.close_block();
            self.block = (block, None);
        }
        if !v.is_finite() {
            return;
        }
        let a = v.abs();
        self.peak_all = self.peak_all.max(a);
        if !keep {
            self.excluded += 1;
            return;
        }
        self.peak_kept = self.peak_kept.max(a);
        self.block.1 = Some(self.block.1.map_or(a, |p| p.max(a)));
    }

    /// Counts the current block's peak, if it kept any sample.
    fn close_block(&mut self) {
        if let Some(a) = self.block.1.take() {
            let k = ((a / HIST_LO_UV).log10() * HIST_PER_DECADE).floor();
            let k = if k.is_finite() && k > 0.0 {
                k as usize
            } else {
                0
            };
            let last = self.hist.len() - 1;
            self.hist[k.min(last)] += 1;
            self.blocks += 1;
        }
    }

    /// Upper edge of the bin holding the `p` percentile of the block peaks, µV (at most
    /// the largest kept value).
    fn percentile(&self, p: f64) -> f64 {
        let rank = ((self.blocks as f64) * p / 100.0).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (k, &c) in self.hist.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let edge = HIST_LO_UV * 10f64.powf((k + 1) as f64 / HIST_PER_DECADE);
                return edge.min(self.peak_kept);
            }
        }
        self.peak_kept
    }

    /// The level (module docs), µV, once every sample is pushed; when everything was
    /// left out, the largest value of all.
    fn level(&mut self) -> f64 {
        self.close_block();
        if self.blocks == 0 {
            return self.peak_all;
        }
        self.percentile(LEVEL_PERCENTILE)
    }
}

/// The soft limiter: linear up to `knee`, then a tanh curve that approaches `ceiling`
/// with slope 1 at the knee (fractions of full scale).
pub fn soft_limit(y: f64, knee: f64, ceiling: f64) -> f64 {
    let a = y.abs();
    if a <= knee {
        return y;
    }
    let room = ceiling - knee;
    let out = knee + room * ((a - knee) / room).tanh();
    out.copysign(y)
}

/// Streams `range` of `fc` resampled to [`OUTPUT_RATE_HZ`] into `sink`.
fn stream_resampled(
    fc: &FilteredChannel,
    read: &mut RawRead<'_>,
    range: Range<u64>,
    mut sink: impl FnMut(&[f32]) -> Result<()>,
) -> Result<()> {
    let mut r = Resampler::new(fc.rate_hz, OUTPUT_RATE_HZ as f64);
    let mut out = Vec::new();
    fc.for_each(read, range, |block| {
        for piece in block.chunks(1 << 16) {
            out.clear();
            r.push(piece, &mut out);
            sink(&out)?;
        }
        Ok(())
    })?;
    out.clear();
    r.finish(&mut out);
    sink(&out)
}

/// Writes samples `range` of `fc` (clamped to the channel) as a normalised 16-bit mono
/// WAV at [`OUTPUT_RATE_HZ`] (module docs). Creates the parent folder if needed.
pub fn write_wav(
    path: &Path,
    fc: &FilteredChannel,
    read: &mut RawRead<'_>,
    range: Range<u64>,
) -> Result<WavFile> {
    let end = range.end.min(fc.n_samples);
    let range = range.start.min(end)..end;
    let start_s = range.start as f64 / fc.rate_hz;
    // Pass 1: the level, over the time not flagged as artefact.
    let mut stats = LevelStats::new();
    let mut n_out = 0u64;
    let mut excluded = SpanCursor {
        spans: &fc.excluded,
        j: 0,
    };
    let mut focus = fc.focus.as_deref().map(|spans| SpanCursor { spans, j: 0 });
    let block_len = (LEVEL_BLOCK_S * OUTPUT_RATE_HZ as f64) as u64;
    stream_resampled(fc, read, range.clone(), |b| {
        for &v in b {
            let t = start_s + n_out as f64 / OUTPUT_RATE_HZ as f64;
            let keep = !excluded.contains(t) && focus.as_mut().is_none_or(|f| f.contains(t));
            stats.push(v as f64, n_out / block_len, keep);
            n_out += 1;
        }
        Ok(())
    })?;
    let full = i16::MAX as f64;
    let knee = 10f64.powf(LEVEL_DBFS / 20.0);
    let ceiling = 10f64.powf(-HEADROOM_DB / 20.0);
    let level = match stats.level() {
        l if l > 0.0 => l.max(fc.min_level_uv),
        l => l,
    };
    let gain_per_uv = if level > 0.0 { knee / level } else { 0.0 };
    let mut limited = 0u64;

    // Pass 2: the samples, into a temporary file renamed at the end.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(dir, "cannot create the audio folder", e))?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: OUTPUT_RATE_HZ,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, "cannot create", e))?;
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(file), spec)
            .map_err(|e| wav_error(&tmp, e))?;
        stream_resampled(fc, read, range.clone(), |b| {
            for &v in b {
                let s = if v.is_finite() {
                    let y = v as f64 * gain_per_uv;
                    if y.abs() > knee {
                        limited += 1;
                    }
                    // The limiter keeps |y| below the ceiling; the clamp only guards the
                    // conversion.
                    (soft_limit(y, knee, ceiling) * full)
                        .round()
                        .clamp(-full, full) as i16
                } else {
                    0
                };
                w.write_sample(s).map_err(|e| wav_error(&tmp, e))?;
            }
            Ok(())
        })?;
        w.finalize().map_err(|e| wav_error(&tmp, e))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| Error::io(path, "cannot rename the finished WAV", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    Ok(WavFile {
        path: path.to_path_buf(),
        rate_hz: OUTPUT_RATE_HZ,
        samples: n_out,
        seconds: n_out as f64 / OUTPUT_RATE_HZ as f64,
        start_s,
        peak_uv: stats.peak_all,
        level_uv: level,
        gain_per_uv,
        excluded_s: stats.excluded as f64 / OUTPUT_RATE_HZ as f64,
        limited_samples: limited,
    })
}

/// Writes the clip from `start_s` to `end_s` (seconds, clamped to the channel).
pub fn write_clip(
    path: &Path,
    fc: &FilteredChannel,
    read: &mut RawRead<'_>,
    start_s: f64,
    end_s: f64,
) -> Result<WavFile> {
    let to_sample = |t: f64| (t.max(0.0) * fc.rate_hz).round().min(fc.n_samples as f64) as u64;
    write_wav(path, fc, read, to_sample(start_s)..to_sample(end_s))
}

/// `dir/name.wav` → `dir/.name.wav.<pid>.tmp`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audio.wav".into());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn wav_error(path: &Path, e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(io) => Error::io(path, "cannot write the WAV", io),
        other => Error::config(format!("{}: wav: {other}", path.display())),
    }
}

/// A file name made of a channel's label: letters, digits, `-` and `_` kept, anything
/// else turned into `_`, prefixed with the 1-based channel number (`ch1-EMG_1`).
pub fn channel_stem(channel: usize, label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let clean = clean.trim_matches('_');
    if clean.is_empty() {
        format!("ch{}", channel + 1)
    } else {
        format!("ch{}-{clean}", channel + 1)
    }
}
