//! Filtering: zero-phase Butterworth band-pass and mains-hum removal, for whole signals
//! and block by block.
//!
//! Plan once, run many times: a [`FilterConfig`] (serde, documented defaults) is checked
//! against the recording's rate into a [`ValidFilterConfig`]; [`mains::detect`] looks for
//! 50/60 Hz hum on a stretch of the signal; [`Filter::new`] designs the sections once; then
//! [`Filter::filtfilt`] or [`Filter::filtfilt_range`] run on any number of signals or blocks
//! with a caller-owned [`Scratch`] (nothing is allocated once the scratch has grown to the
//! block size).
//!
//! ```
//! use kymo::dsp::{mains, Filter, FilterConfig, Scratch};
//!
//! let rate = 20_000.0;
//! let x: Vec<f32> = (0..20_000).map(|i| (i as f32 * 0.7).sin()).collect();
//! let cfg = FilterConfig::default().check(rate)?;
//! let hum = mains::detect(&x, rate, cfg.mains_threshold_db);
//! let filter = Filter::new(&cfg, cfg.mains_frequency(&hum));
//! let mut y = vec![0.0f32; x.len()];
//! filter.filtfilt(&x, &mut y, &mut Scratch::default());
//! # Ok::<(), kymo::Error>(())
//! ```
//!
//! # Matching scipy
//!
//! The band-pass is `scipy.signal.butter(order, [hp, lp], 'bandpass', fs=rate,
//! output='sos')` applied with `scipy.signal.sosfiltfilt` (odd padding of
//! `3·(2·n_sections + 1)` samples, initial conditions from `sosfilt_zi`); notch sections, when
//! used, are appended to the same cascade. A comb, when chosen (`hum_removal = "comb"`), is
//! a second zero-phase stage like `scipy.signal.filtfilt(b, a, y)` with its default padding.
//! `tests/dsp_scipy.rs` checks all of this against scipy.
//!
//! # Hum removal
//!
//! When a whole number of samples spans one mains cycle or a few (up to
//! [`mains::MAX_TEMPLATE_MAINS_CYCLES`]: every common EMG rate, e.g. 20, 10 and 4 kHz at
//! 50 Hz (one cycle) and at 60 Hz (three cycles), 48 and 44.1 kHz at both) the default is
//! the hum template ([`mains::HumTemplate`]): the median hum cycle over a second,
//! subtracted after the band-pass. It removes every harmonic and leaves potentials alone,
//! where a comb (also every harmonic) leaves a tenth-size echo of each potential one mains
//! period away, and notches at the first harmonics leave smaller echoes that a large
//! potential's still cross the threshold (see
//! `hum_removal_leaves_no_echo_of_a_large_potential`). At other rates notch sections at the
//! first harmonics are used.
//!
//! # Block-wise filtering
//!
//! Zero-phase filtering looks both ways, so a block's output near its edges depends on
//! samples outside it. [`Filter::blocks`] plans blocks that read [`Filter::overlap`] extra
//! samples on each side; the overlap is long enough for the slowest pole's transient to
//! decay below [`SETTLE_EPS`] (see [`Filter::overlap`]), so the kept part of each block
//! matches whole-signal filtering to that bound, including at the recording's ends (a block
//! touching an end is padded exactly as the whole signal is).

pub mod butter;
mod complex;
pub mod mains;
pub mod sos;

use std::ops::Range;

use serde::{Deserialize, Serialize};

pub use butter::{butter, Band};
pub use complex::C64;
pub use mains::{Comb, HumFilter, HumTemplate, MainsReport};
pub use sos::{Section, Sos};

use crate::{Error, Result};

/// The bound block-wise filtering is designed to: a start-up transient at a block edge must
/// have decayed to this fraction of its initial size (−100 dB) before the kept samples.
/// It is below a 16-bit converter's step relative to full scale (1.5·10⁻⁵).
pub const SETTLE_EPS: f64 = 1e-5;

/// Rates at or above this are taken as needle EMG when the kind is not given: needle EMG
/// is sampled at 4–50 kHz, surface EMG at 1–4 kHz (domain brief).
pub const NEEDLE_MIN_RATE_HZ: f64 = 4000.0;

/// Default low-pass edges are clamped to this fraction of the rate, so the edge stays
/// clear of Nyquist where the bilinear transform compresses the response.
pub const MAX_DEFAULT_EDGE_FRACTION: f64 = 0.45;

/// The kind of recording, which sets the default band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Intramuscular (needle) EMG: band 20 Hz – 10 kHz by default.
    Needle,
    /// Surface EMG: band 20–450 Hz by default.
    Surface,
}

impl Kind {
    /// Needle when `rate ≥ 4 kHz`, surface below ([`NEEDLE_MIN_RATE_HZ`]).
    pub fn from_rate(rate: f64) -> Kind {
        if rate >= NEEDLE_MIN_RATE_HZ {
            Kind::Needle
        } else {
            Kind::Surface
        }
    }

    /// Default high-pass edge in Hz: 20 Hz for both. Needle EMG is usually recorded with a
    /// 10–20 Hz high-pass and surface EMG with 20 Hz (domain brief); 20 Hz also removes
    /// baseline wander and most movement artefact energy, which lies below 20 Hz.
    pub fn default_high_pass_hz(self) -> f64 {
        20.0
    }

    /// Default low-pass edge in Hz before clamping to 0.45·rate: 10 kHz for needle (the
    /// usual recording low-pass), 450 Hz for surface (the usual surface band).
    pub fn default_low_pass_hz(self) -> f64 {
        match self {
            Kind::Needle => 10_000.0,
            Kind::Surface => 450.0,
        }
    }
}

/// Which mains frequency to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MainsSetting {
    /// Detect 50 or 60 Hz from the signal ([`mains::detect`]); remove nothing when neither
    /// stands out.
    #[default]
    Auto,
    /// Remove no hum.
    Off,
    /// Remove 50 Hz and harmonics.
    #[serde(rename = "50")]
    Hz50,
    /// Remove 60 Hz and harmonics.
    #[serde(rename = "60")]
    Hz60,
}

/// How mains hum is removed when a whole number of samples spans one mains cycle or a few
/// (the template, up to [`mains::MAX_TEMPLATE_MAINS_CYCLES`] cycles; the comb, one cycle
/// only); otherwise notch sections are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HumRemoval {
    /// Subtract the median hum cycle ([`mains::HumTemplate`]): every harmonic, no echoes.
    #[default]
    Template,
    /// scipy's `iircomb` notch comb ([`Comb`]): every harmonic, but each potential leaves
    /// echoes of about a tenth of its size one mains period before and after it.
    Comb,
}

/// Filter parameters as a user writes them (unchecked). Every field has a default; see
/// [`FilterConfig::check`] for the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Recording kind; `None` (default) chooses from the rate ([`Kind::from_rate`]).
    pub kind: Option<Kind>,
    /// High-pass edge (−3 dB) in Hz; `None` (default) takes [`Kind::default_high_pass_hz`].
    pub high_pass_hz: Option<f64>,
    /// Low-pass edge (−3 dB) in Hz; `None` (default) takes [`Kind::default_low_pass_hz`]
    /// clamped to 0.45·rate. A value given here must be below Nyquist.
    pub low_pass_hz: Option<f64>,
    /// Butterworth order of the band-pass prototype (the band-pass has twice as many poles,
    /// as in scipy). Default 4: −24 dB per octave on each side before zero-phase doubling,
    /// flat pass band, the usual choice for EMG.
    pub order: usize,
    /// Mains hum removal. Default [`MainsSetting::Auto`].
    pub mains: MainsSetting,
    /// A mains fundamental must exceed its neighbouring bins by this many dB to count as
    /// present (default 10 dB: a tenfold power excess is far outside the spread of noise
    /// bins averaged over several windows; see [`mains`] for the window length).
    pub mains_threshold_db: f64,
    /// −3 dB width of each hum notch in Hz (default 2 Hz: covers grid-frequency drift of
    /// ±0.2 Hz with ≥ 14 dB attenuation per pass, and removes 4 % of each 50 Hz band).
    pub notch_bandwidth_hz: f64,
    /// Most notch sections when a comb cannot be used (rate not a multiple of the mains
    /// frequency). Default 10: each notch costs as much as a band-pass section.
    pub max_notches: usize,
    /// Hum removal when a whole number of samples spans one mains cycle or a few (see
    /// [`HumRemoval`]). Default [`HumRemoval::Template`].
    pub hum_removal: HumRemoval,
    /// Seconds of hum cycles each hum template is the median of (default 1 s: 50 or 60
    /// cycles, whose median adds 3 % to the noise power, while mains amplitude changes
    /// with posture over seconds).
    pub hum_window_s: f64,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            kind: None,
            high_pass_hz: None,
            low_pass_hz: None,
            order: 4,
            mains: MainsSetting::Auto,
            mains_threshold_db: 10.0,
            notch_bandwidth_hz: 2.0,
            max_notches: 10,
            hum_removal: HumRemoval::Template,
            hum_window_s: 1.0,
        }
    }
}

/// Mains frequencies [`Filter::new`] accepts, in Hz (50 and 60 Hz grids, and aircraft
/// 400 Hz supplies).
pub const MAINS_RANGE_HZ: (f64, f64) = (20.0, 1000.0);

/// Highest band-pass prototype order [`FilterConfig::check`] accepts.
pub const MAX_FILTER_ORDER: usize = 12;

/// Most notches [`FilterConfig::check`] accepts.
pub const MAX_NOTCHES: usize = 100;

/// A [`FilterConfig`] checked against a sampling rate, with every default resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidFilterConfig {
    /// Sampling rate in Hz.
    pub rate_hz: f64,
    /// Recording kind (given or chosen from the rate).
    pub kind: Kind,
    /// High-pass edge in Hz.
    pub high_pass_hz: f64,
    /// Low-pass edge in Hz (below Nyquist).
    pub low_pass_hz: f64,
    /// Band-pass prototype order.
    pub order: usize,
    /// Mains setting.
    pub mains: MainsSetting,
    /// Detection threshold in dB.
    pub mains_threshold_db: f64,
    /// Notch width in Hz.
    pub notch_bandwidth_hz: f64,
    /// Most notch sections.
    pub max_notches: usize,
    /// Hum removal at a multiple rate.
    pub hum_removal: HumRemoval,
    /// Seconds per hum template.
    pub hum_window_s: f64,
}

impl FilterConfig {
    /// Resolves defaults for a recording sampled at `rate_hz` and checks every value.
    /// Errors are [`Error::Config`] sentences that give the numbers involved, e.g.
    /// `filter: low-pass 12000 Hz is not below the Nyquist frequency 10000 Hz of a 20000 Hz recording`.
    pub fn check(&self, rate_hz: f64) -> Result<ValidFilterConfig> {
        if !(rate_hz.is_finite() && rate_hz > 0.0) {
            return Err(Error::config(format!(
                "filter: sampling rate {rate_hz} Hz is not a positive number"
            )));
        }
        let nyquist = rate_hz / 2.0;
        let kind = self.kind.unwrap_or(Kind::from_rate(rate_hz));
        let high_pass_hz = self.high_pass_hz.unwrap_or(kind.default_high_pass_hz());
        let low_pass_hz = match self.low_pass_hz {
            Some(f) => f,
            None => kind
                .default_low_pass_hz()
                .min(MAX_DEFAULT_EDGE_FRACTION * rate_hz),
        };
        if !(high_pass_hz.is_finite() && high_pass_hz > 0.0) {
            return Err(Error::config(format!(
                "filter: high-pass {high_pass_hz} Hz is not a positive frequency"
            )));
        }
        if !(low_pass_hz.is_finite() && low_pass_hz > 0.0) {
            return Err(Error::config(format!(
                "filter: low-pass {low_pass_hz} Hz is not a positive frequency"
            )));
        }
        if low_pass_hz >= nyquist {
            return Err(Error::config(format!(
                "filter: low-pass {low_pass_hz} Hz is not below the Nyquist frequency {nyquist} Hz of a {rate_hz} Hz recording"
            )));
        }
        if high_pass_hz >= low_pass_hz {
            let clamped = self.low_pass_hz.is_none() && low_pass_hz < kind.default_low_pass_hz();
            let why = if clamped {
                format!(" ({} × the {rate_hz} Hz rate)", MAX_DEFAULT_EDGE_FRACTION)
            } else {
                String::new()
            };
            return Err(Error::config(format!(
                "filter: high-pass {high_pass_hz} Hz is not below low-pass {low_pass_hz} Hz{why}"
            )));
        }
        if self.order == 0 || self.order > MAX_FILTER_ORDER {
            return Err(Error::config(format!(
                "filter: order {} is not between 1 and {MAX_FILTER_ORDER}",
                self.order
            )));
        }
        if !(self.mains_threshold_db.is_finite() && self.mains_threshold_db > 0.0) {
            return Err(Error::config(format!(
                "filter: mains threshold {} dB is not a positive number",
                self.mains_threshold_db
            )));
        }
        let max_bw = 10.0;
        if !(self.notch_bandwidth_hz > 0.0 && self.notch_bandwidth_hz <= max_bw) {
            return Err(Error::config(format!(
                "filter: notch bandwidth {} Hz is not between 0 and {max_bw} Hz",
                self.notch_bandwidth_hz
            )));
        }
        if !(self.hum_window_s.is_finite() && (0.1..=10.0).contains(&self.hum_window_s)) {
            return Err(Error::config(format!(
                "filter: hum window {} s is not between 0.1 and 10 s",
                self.hum_window_s
            )));
        }
        if self.max_notches > MAX_NOTCHES {
            return Err(Error::config(format!(
                "filter: max notches {} is above the limit of {MAX_NOTCHES}",
                self.max_notches
            )));
        }
        Ok(ValidFilterConfig {
            rate_hz,
            kind,
            high_pass_hz,
            low_pass_hz,
            order: self.order,
            mains: self.mains,
            mains_threshold_db: self.mains_threshold_db,
            notch_bandwidth_hz: self.notch_bandwidth_hz,
            max_notches: self.max_notches,
            hum_removal: self.hum_removal,
            hum_window_s: self.hum_window_s,
        })
    }
}

impl ValidFilterConfig {
    /// The mains frequency to remove: the setting when fixed, the detection result when
    /// [`MainsSetting::Auto`], nothing when [`MainsSetting::Off`].
    pub fn mains_frequency(&self, detected: &MainsReport) -> Option<f64> {
        match self.mains {
            MainsSetting::Auto => detected.frequency_hz,
            MainsSetting::Off => None,
            MainsSetting::Hz50 => Some(50.0),
            MainsSetting::Hz60 => Some(60.0),
        }
    }
}

/// A designed zero-phase filter for one sampling rate: band-pass, optional hum notches
/// (in the same cascade) and optional hum comb or hum template (a second stage). Build
/// once, run many.
#[derive(Debug, Clone, Serialize)]
pub struct Filter {
    rate_hz: f64,
    band_hz: (f64, f64),
    mains_hz: Option<f64>,
    sos: Sos,
    comb: Option<Comb>,
    template: Option<HumTemplate>,
    notches_hz: Vec<f64>,
    overlap: usize,
}

/// Caller-owned working memory for [`Filter`]: grows to the largest signal or block seen,
/// then is reused without allocating.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    /// The signal or block, padded, in f64 (both stages run in place in it).
    ext: Vec<f64>,
    /// The comb's inputs of one period that its in-place run still needs.
    a: Vec<f64>,
    b: Vec<f64>,
    /// The hum template's cycles, as ordered integers.
    keys: Vec<i64>,
}

impl Scratch {
    /// Scratch pre-sized for signals or blocks of up to `n` samples.
    pub fn with_capacity(n: usize) -> Self {
        Scratch {
            ext: Vec::with_capacity(n + 64),
            a: Vec::new(),
            b: Vec::new(),
            keys: Vec::new(),
        }
    }
}

impl Filter {
    /// Designs the filter for `cfg`, removing hum at `mains_hz` (see
    /// [`ValidFilterConfig::mains_frequency`]) or none. A mains frequency outside
    /// [`MAINS_RANGE_HZ`] or not below Nyquist is ignored: far lower ones would need notches
    /// (and block overlaps) longer than a recording.
    pub fn new(cfg: &ValidFilterConfig, mains_hz: Option<f64>) -> Filter {
        let rate = cfg.rate_hz;
        let mains_hz = mains_hz.filter(|f| {
            (MAINS_RANGE_HZ.0..=MAINS_RANGE_HZ.1).contains(f)
                && *f + cfg.notch_bandwidth_hz < rate / 2.0
        });
        let band = butter::design(
            cfg.order,
            Band::BandPass(cfg.high_pass_hz, cfg.low_pass_hz),
            rate,
        );
        let template = match (mains_hz, cfg.hum_removal) {
            (Some(f0), HumRemoval::Template) => HumTemplate::new(f0, cfg.hum_window_s, rate),
            _ => None,
        };
        let (sos, comb, notches_hz) = match mains_hz {
            Some(_) if template.is_some() => (band, None, Vec::new()),
            Some(f0) => {
                match mains::hum_filter(
                    f0,
                    cfg.notch_bandwidth_hz,
                    rate,
                    cfg.low_pass_hz,
                    cfg.max_notches,
                ) {
                    HumFilter::Comb(c) => (band, Some(c), Vec::new()),
                    HumFilter::Notches {
                        frequencies_hz,
                        sos,
                    } => (band.then(&sos), None, frequencies_hz),
                }
            }
            _ => (band, None, Vec::new()),
        };
        let mut f = Filter {
            rate_hz: rate,
            band_hz: (cfg.high_pass_hz, cfg.low_pass_hz),
            mains_hz,
            sos,
            comb,
            template,
            notches_hz,
            overlap: 0,
        };
        f.overlap = f.settle_len(SETTLE_EPS);
        f
    }

    /// Sampling rate in Hz.
    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// Band-pass edges (high-pass, low-pass) in Hz.
    pub fn band_hz(&self) -> (f64, f64) {
        self.band_hz
    }

    /// Mains frequency removed, if any.
    pub fn mains_hz(&self) -> Option<f64> {
        self.mains_hz
    }

    /// The cascade: band-pass sections, then notch sections if any.
    pub fn sos(&self) -> &Sos {
        &self.sos
    }

    /// The hum comb, when the rate is a multiple of the mains frequency.
    pub fn comb(&self) -> Option<&Comb> {
        self.comb.as_ref()
    }

    /// The hum template, when it removes the hum ([`HumRemoval::Template`] at a rate where
    /// a whole number of samples spans one mains cycle or a few).
    pub fn hum_template(&self) -> Option<&HumTemplate> {
        self.template.as_ref()
    }

    /// How hum is removed: `"template"`, `"comb"`, `"notches"`, or `None` (no hum removed).
    pub fn hum_method(&self) -> Option<&'static str> {
        if self.template.is_some() {
            Some("template")
        } else if self.comb.is_some() {
            Some("comb")
        } else if !self.notches_hz.is_empty() {
            Some("notches")
        } else {
            None
        }
    }

    /// Frequencies of notch sections (empty when a comb, a template or nothing removes hum).
    pub fn notches_hz(&self) -> &[f64] {
        &self.notches_hz
    }

    /// Magnitude response of the whole zero-phase filter at `f` Hz (the one-pass response
    /// squared, as the signal goes through forward and backward). The hum template is not a
    /// linear filter and is left out: it removes the harmonics and passes the rest.
    pub fn zero_phase_gain(&self, f: f64) -> f64 {
        let mut g = self.sos.response(f, self.rate_hz).abs();
        if let Some(c) = &self.comb {
            g *= c.gain(f, self.rate_hz);
        }
        g * g
    }

    /// Samples read beyond each side of a block in block-wise filtering: the length after
    /// which a start-up transient has decayed below [`SETTLE_EPS`] of its initial size.
    ///
    /// A transient is a sum of the filter's natural modes `pᵢⁿ`; the slowest pole (largest
    /// radius `r`) sets the rate, `rⁿ`. Poles crowded around it make the modes add up
    /// like a repeated pole, whose response grows polynomially before it decays: `P`
    /// coincident poles of radius `r` give at most `C(n+P−1, P−1)·rⁿ` (the `P`-fold
    /// convolution of `rⁿ`; a pole pair alone gives `(n+1)·rⁿ` since
    /// `|sin((n+1)θ)/sin θ| ≤ n+1`). So the cascade's overlap is the smallest `n` with
    /// `C(n+P−1, P−1)·rⁿ ≤ ε`, `P` counting the poles within `10·(1 − r)` of the slowest
    /// one (farther poles are separated by many decay lengths and add as separate
    /// modes). For a 4th-order 20 Hz–9 kHz band-pass at 20 kHz this is 0.8 s; for 2 Hz
    /// notches, `1/(π·2 Hz)·ln(1/ε)` = 1.8 s. The comb's modes decay as `aᵏ` at
    /// `n = k·D`, adding `D·ln ε / ln a` (1.8 s at 2 Hz width); it is a second stage after the
    /// cascade, whose errors it carries forward, so the two lengths add.
    /// `blockwise_matches_whole_signal` checks the result against whole-signal filtering.
    pub fn overlap(&self) -> usize {
        self.overlap
    }

    fn settle_len(&self, eps: f64) -> usize {
        let mut n = 0usize;
        let poles = self.sos.poles();
        let slowest = poles
            .iter()
            .copied()
            .max_by(|a, b| a.abs().total_cmp(&b.abs()));
        if let Some(p0) = slowest {
            let r = p0.abs();
            if r > 0.0 && r < 1.0 {
                let near = 10.0 * (1.0 - r);
                let cluster = poles.iter().filter(|&&p| (p - p0).abs() <= near).count();
                n += cluster_settle(r, cluster.max(1), eps);
            }
        }
        if let Some(c) = &self.comb {
            if c.a > 0.0 && c.a < 1.0 {
                n += (c.period as f64 * eps.ln() / c.a.ln()).ceil() as usize;
            }
        }
        // The template stage reads the band-pass output around a sample: its reach adds.
        if let Some(t) = &self.template {
            n += t.reach();
        }
        n
    }

    /// Zero-phase filters `x` into `out` (same length; only `min` of the two is written).
    pub fn filtfilt(&self, x: &[f32], out: &mut [f32], scratch: &mut Scratch) {
        self.filtfilt_range(x, 0, 0..x.len(), out, scratch);
    }

    /// Zero-phase filters all of `x`, which starts at sample `start` of the recording, and
    /// writes the samples in `keep` (indices into `x`) to `out[..keep.len()]`. Used for
    /// blocks: `x` is a block's input range and `keep` its output range, both from
    /// [`Filter::blocks`] (the hum template counts mains cycles from the recording's start).
    pub fn filtfilt_range(
        &self,
        x: &[f32],
        start: u64,
        keep: Range<usize>,
        out: &mut [f32],
        scratch: &mut Scratch,
    ) {
        let y = self.run(x, start, scratch);
        let keep = keep.start.min(y.len())..keep.end.min(y.len());
        for (o, &v) in out.iter_mut().zip(&y[keep]) {
            *o = v as f32;
        }
    }

    /// The filtered signal in f64, inside `scratch`: one f64 buffer of the block's length
    /// plus the padding, both stages running in place in it.
    fn run<'s>(&self, x: &[f32], start: u64, scratch: &'s mut Scratch) -> &'s [f64] {
        let n = x.len();
        let Some(c) = &self.comb else {
            let pad = self.sos.filtfilt_f64(x, &mut scratch.ext);
            if let Some(t) = &self.template {
                t.remove(&mut scratch.ext[pad..pad + n], start, &mut scratch.keys);
            }
            return &scratch.ext[pad..pad + n];
        };
        // The band-pass's padded signal sits `room` samples into the buffer, so that the
        // comb's longer padding fits around its output.
        let pad = self.sos.default_padlen().min(n.saturating_sub(1));
        let pc = c.default_padlen().min(n.saturating_sub(1));
        let room = pc.saturating_sub(pad);
        let total = n + 2 * (pad + room);
        let ext = &mut scratch.ext;
        ext.clear();
        if ext.capacity() < total {
            // Free the smaller buffer before allocating (no doubling, no two at once).
            *ext = Vec::new();
            ext.reserve_exact(total);
        }
        ext.resize(room, 0.0);
        sos::odd_extend_onto(x, pad, ext);
        ext.resize(total, 0.0);
        self.sos
            .filtfilt_extended(&mut ext[room..room + n + 2 * pad]);
        // scipy's odd extension of the band-pass output by `pc`, written around it.
        let s0 = room + pad;
        if n > 0 {
            let (first, last) = (ext[s0], ext[s0 + n - 1]);
            for i in 1..=pc {
                ext[s0 - i] = 2.0 * first - ext[s0 + i];
                ext[s0 + n - 1 + i] = 2.0 * last - ext[s0 + n - 1 - i];
            }
        }
        let region = &mut ext[s0 - pc..s0 + n + pc];
        c.run_inplace(region, &mut scratch.a, &mut scratch.b);
        // Backward pass, starting in the steady state for the forward output's last value
        // (scipy's `zi * y[-1]`).
        c.run_backward_inplace(region, &mut scratch.a, &mut scratch.b);
        &scratch.ext[s0..s0 + n]
    }

    /// Plans block-wise filtering of a signal of `n_samples`: blocks own consecutive,
    /// disjoint ranges of `block_len` samples (the last may be shorter); each block's output
    /// range adds `context` samples on each side (for stages that look around a sample,
    /// such as spike alignment); its input range adds [`Filter::overlap`] more.
    pub fn blocks(&self, n_samples: u64, block_len: usize, context: usize) -> Blocks {
        Blocks {
            n: n_samples,
            block_len: block_len.max(1) as u64,
            context: context as u64,
            overlap: self.overlap as u64,
            next: 0,
        }
    }
}

/// Smallest `n` with `C(n+P−1, P−1)·rⁿ ≤ eps` (see [`Filter::overlap`]).
fn cluster_settle(r: f64, poles: usize, eps: f64) -> usize {
    let ln_r = r.ln();
    let log_bound = |n: f64| -> f64 {
        let mut lb = n * ln_r;
        for j in 1..poles {
            lb += ((n + j as f64) / j as f64).ln();
        }
        lb
    };
    // The bound decreases for n beyond its maximum; start from the single-pole estimate
    // and grow geometrically, then bisect.
    let target = eps.ln();
    let mut lo = 0.0f64;
    let mut hi = (target / ln_r).max(1.0);
    while log_bound(hi) > target {
        lo = hi;
        hi *= 1.5;
        if hi > 1e12 {
            return usize::MAX / 4;
        }
    }
    while hi - lo > 1.0 {
        let mid = 0.5 * (lo + hi);
        if log_bound(mid) > target && mid > lo {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi.ceil() as usize
}

/// One block of a block-wise pass; ranges are sample indices in the whole signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Samples to read and filter.
    pub input: Range<u64>,
    /// Samples whose filtered values are valid (match whole-signal filtering): `own` plus
    /// the context on each side, within the signal.
    pub output: Range<u64>,
    /// Samples this block is responsible for; the `own` ranges tile the signal.
    pub own: Range<u64>,
}

impl Block {
    /// `output` as indices into the block's input samples.
    pub fn output_in_input(&self) -> Range<usize> {
        (self.output.start - self.input.start) as usize
            ..(self.output.end - self.input.start) as usize
    }

    /// `own` as indices into the block's output samples.
    pub fn own_in_output(&self) -> Range<usize> {
        (self.own.start - self.output.start) as usize..(self.own.end - self.output.start) as usize
    }
}

/// Iterator over the [`Block`]s of [`Filter::blocks`].
#[derive(Debug, Clone)]
pub struct Blocks {
    n: u64,
    block_len: u64,
    context: u64,
    overlap: u64,
    next: u64,
}

impl Blocks {
    /// Most input samples any block reads (size the read buffer and scratch with this).
    pub fn max_input_len(&self) -> usize {
        let own = self.block_len.min(self.n);
        (own + 2 * (self.context + self.overlap)).min(self.n) as usize
    }

    /// Most output samples any block produces.
    pub fn max_output_len(&self) -> usize {
        let own = self.block_len.min(self.n);
        (own + 2 * self.context).min(self.n) as usize
    }
}

impl Iterator for Blocks {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        if self.next >= self.n {
            return None;
        }
        let own = self.next..(self.next.saturating_add(self.block_len)).min(self.n);
        self.next = own.end;
        let output = own.start.saturating_sub(self.context)
            ..own.end.saturating_add(self.context).min(self.n);
        let input = output.start.saturating_sub(self.overlap)
            ..output.end.saturating_add(self.overlap).min(self.n);
        Some(Block { input, output, own })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests;
