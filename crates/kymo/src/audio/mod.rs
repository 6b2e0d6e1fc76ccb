//! Listening to EMG: the filtered signal as 44.1 kHz WAV, whole channels and short clips.
//!
//! EMG readers judge spontaneous activity by its sound as much as by its look: myokymic
//! discharges march ("marching soldiers"), neuromyotonic discharges ping, fibrillation
//! potentials sound like rain on a tin roof. [`write_wav`] writes the signal exactly as
//! the analysis filtered it ([`FilteredChannel`]: the same band-pass and hum removal,
//! block by block), resampled to 44.1 kHz with a band-limited windowed-sinc resampler
//! ([`resample`]) so any recording rate plays on any sound card, as 16-bit mono PCM.
//!
//! Loudness: the file is normalised so that its largest sample sits at
//! [`HEADROOM_DB`] below full scale, and nothing clips. That takes two passes over the
//! range (the first only finds the peak of the resampled signal, which can exceed the
//! input's peak slightly, the second writes), each streamed through bounded buffers, so
//! memory stays flat whatever the length. The file is written under a temporary name
//! in the same folder and renamed when complete, so a failed run leaves no partial WAV.
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
/// Peak level of a normalised file below full scale, dB (kymo: 1 dB keeps clear of
/// inter-sample overs in players that resample again).
pub const HEADROOM_DB: f64 = 1.0;
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
}

impl FilteredChannel {
    /// The filter the analysis used on `ch` under `config` (its band, its kind, the mains
    /// frequency it removed).
    pub fn new(config: &AnalysisConfig, ch: &ChannelAnalysis) -> Result<FilteredChannel> {
        let mut f = config.filter.clone();
        f.kind = f.kind.or(config.kind);
        let valid = f.check(ch.rate_hz)?;
        Ok(FilteredChannel {
            filter: Filter::new(&valid, ch.settings.mains_hz),
            channel: ch.channel,
            n_samples: ch.n_samples,
            rate_hz: ch.rate_hz,
            to_uv: ch.settings.to_uv as f32,
        })
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
    /// Largest |value| of the resampled signal, µV (0: silence).
    pub peak_uv: f64,
    /// Full-scale fraction per µV (`peak_uv` maps to −[`HEADROOM_DB`] dBFS).
    pub gain_per_uv: f64,
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
    // Pass 1: the peak.
    let mut peak = 0.0f64;
    let mut n_out = 0u64;
    stream_resampled(fc, read, range.clone(), |b| {
        n_out += b.len() as u64;
        for &v in b {
            if v.is_finite() {
                peak = peak.max(v.abs() as f64);
            }
        }
        Ok(())
    })?;
    let full = i16::MAX as f64;
    let target = 10f64.powf(-HEADROOM_DB / 20.0);
    let gain_per_uv = if peak > 0.0 { target / peak } else { 0.0 };

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
        let scale = gain_per_uv * full;
        stream_resampled(fc, read, range.clone(), |b| {
            for &v in b {
                let s = if v.is_finite() {
                    (v as f64 * scale).round().clamp(-full, full) as i16
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
        start_s: range.start as f64 / fc.rate_hz,
        peak_uv: peak,
        gain_per_uv,
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
