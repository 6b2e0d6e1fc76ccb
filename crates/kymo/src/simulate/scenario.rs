//! Scenarios: every parameter of a simulated recording, in one serde struct.
//!
//! A [`Scenario`] says how long the recording is, how it is recorded ([`RecordingSpec`]:
//! needle or surface, rate, channels, noise, artefacts), how the potentials look
//! ([`WaveformSpec`]) and which discharges fire ([`SourceSpec`], one per generator). It loads
//! from TOML ([`Scenario::from_toml_str`]); the built-in scenarios ([`super::builtin`]) are
//! TOML files shipped inside the crate (`src/simulate/scenarios/`), so each doubles as an
//! example.
//!
//! # Where the numbers come from
//!
//! Every default is a range, not one number, and every one is a field. Each field's doc
//! says where its default comes from:
//! - **brief**: the project's domain brief (`shared/domain/myokymia.md`), which restates the
//!   AANEM glossary and standard electrodiagnosis texts;
//! - **Fuglevand 1993**: A. J. Fuglevand, D. A. Winter, A. E. Patla, "Models of recruitment
//!   and rate coding organization in motor-unit pools", J. Neurophysiol. 70(6):2470–2488, 1993;
//! - **kymo**: no published figure was found; the value is kymo's choice, stated as such, and
//!   chosen only so that the result stays inside the brief's ranges.
//!
//! # Validation
//!
//! [`Scenario::validate`] checks every field and fails with one [`Error::Config`] sentence
//! that names the scenario, the field and the allowed values (negative rate, rate above the
//! Nyquist frequency, empty range, zero seconds, single-fibre potentials on a surface
//! recording, bursts longer than their recurrence interval, …). The simulator only runs
//! validated scenarios.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A closed range `[low, high]` of a real quantity; a value is drawn uniformly inside it
/// (per unit or per event, as each field says). `low == high` fixes the value.
pub type Range = [f64; 2];

/// A closed range `[low, high]` of a count.
pub type CountRange = [u32; 2];

/// Longest recording the simulator accepts, in seconds (24 h): a guard against a typo such as
/// `seconds = 3600000`, since the truth file grows with the number of potentials.
pub const MAX_SECONDS: f64 = 86_400.0;

/// Most channels a scenario may ask for (a high-density surface grid has 64–256).
pub const MAX_CHANNELS: usize = 256;

/// Most motor units (or fibres) a scenario may hold in total.
pub const MAX_UNITS: usize = 2_000;

/// Everything that defines a simulated recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (`myokymia-facial`, or anything for a file-based scenario).
    #[serde(default = "default_name")]
    pub name: String,
    /// One line saying what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Length of the recording in seconds (> 0, at most [`MAX_SECONDS`]).
    #[serde(default = "default_seconds")]
    pub seconds: f64,
    /// Electrode, rate, channels, noise and artefacts.
    #[serde(default)]
    pub recording: RecordingSpec,
    /// How the potentials of each kind look.
    #[serde(default)]
    pub waveforms: WaveformSpec,
    /// The discharge generators, in order (unit ids are given in this order).
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
}

impl Default for Scenario {
    /// An empty scenario: 30 s of needle recording with no source (add sources or give the
    /// noise as `rms_uv` before running it).
    fn default() -> Self {
        Scenario {
            name: default_name(),
            description: String::new(),
            seconds: default_seconds(),
            recording: RecordingSpec::default(),
            waveforms: WaveformSpec::default(),
            sources: Vec::new(),
        }
    }
}

fn default_name() -> String {
    "custom".to_string()
}

fn default_seconds() -> f64 {
    30.0
}

impl Scenario {
    /// Parses a scenario from TOML text (every field optional except what makes it useful:
    /// at least noise or one source). Unknown fields are refused, so a typo is an error,
    /// not a silently ignored parameter. The result is not yet validated.
    pub fn from_toml_str(text: &str) -> Result<Scenario> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|sp| text[..sp.start.min(text.len())].matches('\n').count() + 1);
            let at = line.map_or(String::new(), |l| format!(" line {l}"));
            Error::config(format!(
                "simulate: scenario TOML{at}: {}",
                one_line(e.message())
            ))
        })
    }

    /// The scenario as TOML text (all fields, including defaults).
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| {
            Error::config(format!(
                "simulate: scenario {}: cannot write as TOML: {e}",
                self.name
            ))
        })
    }

    /// The same scenario with every electrode-dependent default filled in (rate, band,
    /// waveform ranges), as written into the truth file.
    pub fn effective(&self) -> Scenario {
        let mut s = self.clone();
        let e = s.recording.electrode;
        s.recording.rate_hz = Some(s.recording.rate());
        s.recording.band_hz = Some(s.recording.band());
        s.waveforms.muap = s.waveforms.muap.resolved(e);
        s
    }

    /// Checks every parameter; the message of the first problem found names the field.
    pub fn validate(&self) -> Result<()> {
        let v = Validator {
            scenario: &self.name,
        };
        if !(self.seconds.is_finite() && self.seconds > 0.0) {
            return Err(v.err(format!(
                "seconds must be a positive number of seconds, not {}",
                self.seconds
            )));
        }
        if self.seconds > MAX_SECONDS {
            return Err(v.err(format!(
                "seconds = {} is longer than the simulator's limit of {} s (24 h)",
                self.seconds, MAX_SECONDS
            )));
        }
        self.recording.validate(&v, self.seconds)?;
        let fs = self.recording.rate();
        let mut units = 0usize;
        for (i, src) in self.sources.iter().enumerate() {
            let at = format!("sources[{i}] ({})", src.class().name());
            src.validate(&v, &at, self.recording.electrode, fs)?;
            let per = src.max_units_per_source() as usize;
            units = units.saturating_add(per.saturating_mul(src.count() as usize));
        }
        self.waveforms
            .validate(&v, self.recording.electrode, fs, &self.sources)?;
        if units > MAX_UNITS {
            return Err(v.err(format!(
                "the sources hold up to {units} motor units or fibres, more than the simulator's limit of {MAX_UNITS}"
            )));
        }
        if units == 0 {
            if let NoiseLevel::SnrDb(_) = self.recording.noise {
                return Err(v.err(
                    "recording.noise is given as snr_db, but the scenario has no sources, so there is no potential to measure a signal-to-noise ratio against; give noise = { rms_uv = … } instead",
                ));
            }
        }
        Ok(())
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Builds config errors that start with the scenario's name.
pub(crate) struct Validator<'a> {
    pub(crate) scenario: &'a str,
}

impl Validator<'_> {
    pub(crate) fn err(&self, what: impl AsRef<str>) -> Error {
        Error::config(format!(
            "simulate: scenario {}: {}",
            self.scenario,
            what.as_ref()
        ))
    }

    /// `r` is a non-empty finite range with `low >= min`.
    pub(crate) fn range(
        &self,
        at: &str,
        field: &str,
        r: Range,
        min: f64,
        unit: &str,
    ) -> Result<()> {
        if !(r[0].is_finite() && r[1].is_finite()) {
            return Err(self.err(format!(
                "{at}: {field} = [{}, {}] must be finite numbers",
                r[0], r[1]
            )));
        }
        if r[0] < min {
            let what = if min == 0.0 {
                "negative".to_string()
            } else {
                format!("below {min}{unit}")
            };
            return Err(self.err(format!(
                "{at}: {field} = [{}, {}]: {}{unit} is {what}",
                r[0], r[1], r[0]
            )));
        }
        if r[0] > r[1] {
            return Err(self.err(format!(
                "{at}: {field} = [{}, {}] is empty: the low end is above the high end",
                r[0], r[1]
            )));
        }
        Ok(())
    }

    /// A range of rates: positive, and below the Nyquist frequency `fs / 2`.
    pub(crate) fn rate(&self, at: &str, field: &str, r: Range, fs: f64) -> Result<()> {
        if r[0].is_finite() && r[0] <= 0.0 {
            return Err(self.err(format!(
                "{at}: {field} = [{}, {}]: a rate must be positive, {} Hz is not",
                r[0], r[1], r[0]
            )));
        }
        self.range(at, field, r, 0.0, " Hz")?;
        if r[1] >= fs / 2.0 {
            return Err(self.err(format!(
                "{at}: {field} = [{}, {}]: {} Hz is at or above the Nyquist frequency {} Hz of the recording (rate {} Hz)",
                r[0],
                r[1],
                r[1],
                fs / 2.0,
                fs
            )));
        }
        Ok(())
    }

    pub(crate) fn counts(
        &self,
        at: &str,
        field: &str,
        r: CountRange,
        min: u32,
        max: u32,
    ) -> Result<()> {
        if r[0] > r[1] {
            return Err(self.err(format!(
                "{at}: {field} = [{}, {}] is empty: the low end is above the high end",
                r[0], r[1]
            )));
        }
        if r[0] < min || r[1] > max {
            return Err(self.err(format!(
                "{at}: {field} = [{}, {}] must lie within [{min}, {max}]",
                r[0], r[1]
            )));
        }
        Ok(())
    }

    pub(crate) fn fraction(&self, at: &str, field: &str, x: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&x) {
            return Err(self.err(format!(
                "{at}: {field} = {x} must be a fraction between 0 and 1"
            )));
        }
        Ok(())
    }

    pub(crate) fn fraction_range(&self, at: &str, field: &str, r: Range) -> Result<()> {
        self.range(at, field, r, 0.0, "")?;
        if r[1] > 1.0 {
            return Err(self.err(format!(
                "{at}: {field} = [{}, {}] must lie within [0, 1]",
                r[0], r[1]
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------------------------

/// The kind of electrode; it sets the default rate, band and waveform model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Electrode {
    /// A concentric (or monopolar) needle in the muscle: sees single fibres and sharp MUAPs.
    #[default]
    Needle,
    /// Skin electrodes over the muscle: wider, band-limited MUAPs, no single-fibre potentials
    /// (brief: "surface EMG … cannot resolve single fibre potentials").
    Surface,
}

impl Electrode {
    /// `needle` or `surface`.
    pub fn name(self) -> &'static str {
        match self {
            Electrode::Needle => "needle",
            Electrode::Surface => "surface",
        }
    }
}

/// How loud the background noise is.
///
/// **Definition of SNR.** For one unit on one channel, its SNR is
/// `20·log10(rms_u / σ)`, where `rms_u` is the root mean square of the unit's clean potential
/// (its template at amplitude scale 1, times the unit's gain on that channel) taken over the
/// potential's measured duration (see [`super::waveform::measure`]), and `σ` is the rms of
/// the channel's background noise (after the recording's band-pass). A configured
/// `snr_db = X` sets, on every channel, `σ = median over the recording's units of rms_u /
/// 10^(X/20)`, so the median unit has SNR X dB. Mains hum, baseline wander and other
/// artefacts are not noise in this sense: they are separate components with their own
/// amplitudes. Per-unit SNRs are written into the truth file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum NoiseLevel {
    /// The median unit's SNR in dB (definition above).
    SnrDb(f64),
    /// The noise rms in µV, whatever the potentials (for scenarios without units).
    RmsUv(f64),
}

impl Default for NoiseLevel {
    /// 20 dB (kymo; a clearly visible potential, well above the EMGLAB reliability bar of
    /// peak-to-peak > 2.5 × rms quoted in the brief).
    fn default() -> Self {
        NoiseLevel::SnrDb(20.0)
    }
}

/// Mains interference: a sum of harmonics of 50 or 60 Hz.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MainsSpec {
    /// Mains frequency: 50 or 60 Hz.
    pub hz: f64,
    /// Amplitude (peak) of the fundamental in µV; 0 turns hum off. Default 0 (kymo).
    pub amplitude_uv: f64,
    /// Relative amplitudes of harmonics 1, 2, 3, … (harmonic k is at k·hz). Default
    /// `[1.0, 0.1, 0.3]` (kymo: odd harmonics dominate the hum of rectified power supplies).
    pub harmonics: Vec<f64>,
}

impl Default for MainsSpec {
    fn default() -> Self {
        MainsSpec {
            hz: 50.0,
            amplitude_uv: 0.0,
            harmonics: vec![1.0, 0.1, 0.3],
        }
    }
}

/// Slow baseline wander: a sum of three sinusoids of random frequency and phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WanderSpec {
    /// Peak amplitude of each of the three components in µV; 0 turns wander off. Default 0.
    pub amplitude_uv: f64,
    /// Frequencies are drawn in this range, Hz. Default `[0.05, 0.5]` (kymo: breathing and
    /// electrode drift are below 1 Hz).
    pub freq_hz: Range,
}

impl Default for WanderSpec {
    fn default() -> Self {
        WanderSpec {
            amplitude_uv: 0.0,
            freq_hz: [0.05, 0.5],
        }
    }
}

/// Movement artefacts: smooth, large, slow transients on every channel, at random times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MovementSpec {
    /// Mean number per minute (Poisson); 0 turns them off. Default 0.
    pub rate_per_min: f64,
    /// Peak amplitude, µV. Default `[100, 500]` (kymo).
    pub amplitude_uv: Range,
    /// Length, s. Default `[0.2, 1.0]` (kymo).
    pub duration_s: Range,
}

impl Default for MovementSpec {
    fn default() -> Self {
        MovementSpec {
            rate_per_min: 0.0,
            amplitude_uv: [100.0, 500.0],
            duration_s: [0.2, 1.0],
        }
    }
}

/// Electrode pops: an abrupt step on one channel decaying exponentially back to baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PopSpec {
    /// Mean number per minute per channel (Poisson); 0 turns them off. Default 0.
    pub rate_per_min: f64,
    /// Step height, µV (sign random). Default `[200, 2000]` (kymo).
    pub amplitude_uv: Range,
    /// Decay time constant, ms. Default `[10, 100]` (kymo).
    pub decay_ms: Range,
}

impl Default for PopSpec {
    fn default() -> Self {
        PopSpec {
            rate_per_min: 0.0,
            amplitude_uv: [200.0, 2000.0],
            decay_ms: [10.0, 100.0],
        }
    }
}

/// How the signal is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingSpec {
    /// Needle or surface.
    pub electrode: Electrode,
    /// Sampling rate in Hz. Default: needle 20 000 (brief: needle EMG is sampled at 20–50 kHz,
    /// older data 4–10 kHz), surface 2048 (brief: 1–4 kHz).
    pub rate_hz: Option<f64>,
    /// Recording band-pass `[high-pass, low-pass]` in Hz, applied to every potential and to
    /// the noise (2nd-order Butterworth sections; the low-pass is left out when it is at or
    /// above 0.45 × rate). Default: needle `[10, 10000]` (brief: 10–20 Hz high-pass, 10 kHz
    /// low-pass), surface `[20, 450]` (brief); a default low-pass above the Nyquist
    /// frequency of `rate_hz` is lowered to it.
    pub band_hz: Option<Range>,
    /// Number of channels (≥ 1). Channel 0 sees every unit at gain 1; the others see each
    /// unit at its own gain drawn from `channel_gain`.
    pub channels: usize,
    /// Gain range of channels 1, 2, … relative to channel 0, drawn per unit and channel
    /// (log-uniform). Default `[0.1, 1.0]` (kymo).
    pub channel_gain: Range,
    /// Background noise level.
    pub noise: NoiseLevel,
    /// Mains hum.
    pub mains: MainsSpec,
    /// Baseline wander.
    pub wander: WanderSpec,
    /// Movement artefacts.
    pub movement: MovementSpec,
    /// Electrode pops.
    pub pops: PopSpec,
}

impl Default for RecordingSpec {
    fn default() -> Self {
        RecordingSpec {
            electrode: Electrode::Needle,
            rate_hz: None,
            band_hz: None,
            channels: 1,
            channel_gain: [0.1, 1.0],
            noise: NoiseLevel::default(),
            mains: MainsSpec::default(),
            wander: WanderSpec::default(),
            movement: MovementSpec::default(),
            pops: PopSpec::default(),
        }
    }
}

impl RecordingSpec {
    /// The sampling rate in Hz (the electrode's default when not given).
    pub fn rate(&self) -> f64 {
        self.rate_hz.unwrap_or(match self.electrode {
            Electrode::Needle => 20_000.0,
            Electrode::Surface => 2048.0,
        })
    }

    /// The band-pass `[high-pass, low-pass]` in Hz (the electrode's default when not
    /// given, its low-pass capped at the Nyquist frequency of the rate).
    pub fn band(&self) -> Range {
        self.band_hz.unwrap_or(match self.electrode {
            Electrode::Needle => [10.0, 10_000.0f64.min(self.rate() / 2.0)],
            Electrode::Surface => [20.0, 450.0f64.min(self.rate() / 2.0)],
        })
    }

    fn validate(&self, v: &Validator, seconds: f64) -> Result<()> {
        let at = "recording";
        let fs = self.rate();
        if !(fs.is_finite() && (100.0..=1_000_000.0).contains(&fs)) {
            return Err(v.err(format!(
                "{at}: rate_hz = {fs} must be between 100 Hz and 1 MHz"
            )));
        }
        let n = (seconds * fs).ceil();
        if n < 1.0 {
            return Err(v.err(format!(
                "seconds = {seconds} at {fs} Hz is less than one sample"
            )));
        }
        let band = self.band();
        v.range(at, "band_hz", band, 0.0, " Hz")?;
        if band[0] <= 0.0 || band[0] >= band[1] {
            return Err(v.err(format!(
                "{at}: band_hz = [{}, {}] must have 0 < high-pass < low-pass",
                band[0], band[1]
            )));
        }
        if band[1] > fs / 2.0 {
            return Err(v.err(format!(
                "{at}: band_hz = [{}, {}]: the low-pass {} Hz is above the Nyquist frequency {} Hz (rate {} Hz)",
                band[0],
                band[1],
                band[1],
                fs / 2.0,
                fs
            )));
        }
        if self.channels == 0 || self.channels > MAX_CHANNELS {
            return Err(v.err(format!(
                "{at}: channels = {} must be between 1 and {MAX_CHANNELS}",
                self.channels
            )));
        }
        v.range(at, "channel_gain", self.channel_gain, 0.0, "")?;
        if self.channel_gain[0] <= 0.0 {
            return Err(v.err(format!(
                "{at}: channel_gain = [{}, {}] must be positive",
                self.channel_gain[0], self.channel_gain[1]
            )));
        }
        match self.noise {
            NoiseLevel::SnrDb(x) if !x.is_finite() || !(-40.0..=120.0).contains(&x) => {
                return Err(v.err(format!(
                    "{at}: noise snr_db = {x} must be between -40 and 120 dB"
                )));
            }
            NoiseLevel::RmsUv(x) if !x.is_finite() || x < 0.0 => {
                return Err(v.err(format!(
                    "{at}: noise rms_uv = {x} must be zero or a positive number of µV"
                )));
            }
            _ => {}
        }
        let m = &self.mains;
        if m.hz != 50.0 && m.hz != 60.0 {
            return Err(v.err(format!("{at}: mains hz = {} must be 50 or 60", m.hz)));
        }
        if !(m.amplitude_uv.is_finite() && m.amplitude_uv >= 0.0) {
            return Err(v.err(format!(
                "{at}: mains amplitude_uv = {} must be zero or positive",
                m.amplitude_uv
            )));
        }
        if m.amplitude_uv > 0.0 {
            for (k, a) in m.harmonics.iter().enumerate() {
                if !a.is_finite() || *a < 0.0 {
                    return Err(v.err(format!(
                        "{at}: mains harmonics[{k}] = {a} must be zero or positive"
                    )));
                }
                let f = m.hz * (k + 1) as f64;
                if *a > 0.0 && f >= fs / 2.0 {
                    return Err(v.err(format!(
                        "{at}: mains harmonic {} ({} Hz) is at or above the Nyquist frequency {} Hz; set its amplitude to 0 or raise rate_hz",
                        k + 1,
                        f,
                        fs / 2.0
                    )));
                }
            }
        }
        if !(self.wander.amplitude_uv.is_finite() && self.wander.amplitude_uv >= 0.0) {
            return Err(v.err(format!(
                "{at}: wander amplitude_uv = {} must be zero or positive",
                self.wander.amplitude_uv
            )));
        }
        v.rate(at, "wander freq_hz", self.wander.freq_hz, fs)?;
        let mv = &self.movement;
        if !(mv.rate_per_min.is_finite() && mv.rate_per_min >= 0.0) {
            return Err(v.err(format!(
                "{at}: movement rate_per_min = {} must be zero or positive",
                mv.rate_per_min
            )));
        }
        v.range(at, "movement amplitude_uv", mv.amplitude_uv, 0.0, " µV")?;
        v.range(at, "movement duration_s", mv.duration_s, 0.0, " s")?;
        if mv.duration_s[0] * fs < 2.0 || mv.duration_s[1] > 60.0 {
            return Err(v.err(format!(
                "{at}: movement duration_s = [{}, {}] must lie between two samples and 60 s",
                mv.duration_s[0], mv.duration_s[1]
            )));
        }
        let p = &self.pops;
        if !(p.rate_per_min.is_finite() && p.rate_per_min >= 0.0) {
            return Err(v.err(format!(
                "{at}: pops rate_per_min = {} must be zero or positive",
                p.rate_per_min
            )));
        }
        v.range(at, "pops amplitude_uv", p.amplitude_uv, 0.0, " µV")?;
        v.range(at, "pops decay_ms", p.decay_ms, 0.0, " ms")?;
        if p.decay_ms[0] * 1e-3 * fs < 1.0 || p.decay_ms[1] > 10_000.0 {
            return Err(v.err(format!(
                "{at}: pops decay_ms = [{}, {}] must lie between one sample and 10 s",
                p.decay_ms[0], p.decay_ms[1]
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Waveforms
// ---------------------------------------------------------------------------------------------

/// How each kind of potential is made (see [`super::waveform`] for the models).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WaveformSpec {
    /// Motor unit potentials (needle or surface, by the recording's electrode).
    pub muap: MuapSpec,
    /// Fibrillation potentials (single fibre, needle only).
    pub fibrillation: SpikeSpec,
    /// Endplate spikes (single fibre near its endplate, needle only).
    pub endplate_spike: SpikeSpec,
    /// Positive sharp waves (single fibre, needle only).
    pub positive_sharp_wave: PswSpec,
    /// The time-locked multi-fibre complex of complex repetitive discharges (needle only).
    pub complex: ComplexSpec,
}

impl WaveformSpec {
    /// Checks the parameters of the waveform kinds that `sources` use (an unused kind's
    /// defaults may not suit the rate, e.g. a 1 ms spike at 2048 Hz, and need not).
    fn validate(&self, v: &Validator, e: Electrode, fs: f64, sources: &[SourceSpec]) -> Result<()> {
        let uses = |f: fn(&SourceSpec) -> bool| sources.iter().any(f);
        if uses(|s| !s.single_fibre()) {
            self.muap.resolved(e).validate_resolved(v, fs)?;
        }
        if uses(|s| {
            matches!(s, SourceSpec::Fibrillation(_))
                || matches!(s, SourceSpec::Myotonic(m) if m.waveform == MyotonicWaveform::Fibrillation)
        }) {
            self.fibrillation
                .validate(v, "waveforms.fibrillation", fs)?;
        }
        if uses(|s| matches!(s, SourceSpec::EndplateSpike(_))) {
            self.endplate_spike
                .validate(v, "waveforms.endplate_spike", fs)?;
        }
        if uses(|s| {
            matches!(s, SourceSpec::PositiveSharpWave(_))
                || matches!(s, SourceSpec::Myotonic(m) if m.waveform == MyotonicWaveform::PositiveSharpWave)
        }) {
            self.positive_sharp_wave.validate(v, fs)?;
        }
        if uses(|s| matches!(s, SourceSpec::ComplexRepetitive(_))) {
            self.complex.validate(v, fs)?;
        }
        Ok(())
    }
}

/// The shape of one fibre's potential in the MUAP model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FibreShape {
    /// Second-order Hermite–Rodriguez function (positive–negative–positive): the tripole
    /// shape a needle sees from a fibre away from its endplate and tendon.
    Tripole,
    /// First-order Hermite–Rodriguez function (biphasic), the MUAP shape of Lo Conte et al.
    /// 1994; a bipolar surface electrode sees roughly the derivative of a monophasic wave.
    Biphasic,
}

/// Motor unit potential model parameters. Every field is optional in the scenario; a
/// missing field takes the default of the recording's electrode, listed as needle / surface.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MuapSpec {
    /// Peak-to-peak amplitude on channel 0, µV, drawn log-uniformly per unit: the fibre
    /// model sets the shape and the unit is scaled to this amplitude. Needle `[200, 2000]`
    /// (brief: 200 µV–2 mV, concentric needle); surface `[50, 500]` (kymo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p2p_uv: Option<Range>,
    /// Accepted duration, ms (measured as in [`super::waveform::measure`]); a unit outside is
    /// drawn again. Needle `[5, 15]` (brief); surface `[8, 30]` (kymo: wider than needle
    /// potentials, as the brief asks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<Range>,
    /// Accepted phase count of an ordinary unit. Needle `[2, 4]` (brief: up to 4 phases);
    /// surface `[2, 4]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phases: Option<CountRange>,
    /// Fraction of units made polyphasic by a larger temporal dispersion of their fibres.
    /// Needle 0.1 (kymo: "some polyphasic units", brief); surface 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polyphasic_fraction: Option<f64>,
    /// Accepted phase count of a polyphasic unit. Default `[5, 8]` (kymo: more than the 4
    /// phases of an ordinary unit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polyphasic_phases: Option<CountRange>,
    /// Muscle fibres of the unit inside the modelled cross-section. Needle and surface
    /// `[150, 400]` (kymo: a mid-sized limb motor unit has a few hundred fibres).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fibres: Option<CountRange>,
    /// Radius of the unit's territory, mm. Default `[2.5, 5]` (kymo, after the 5–10 mm
    /// territory diameters of scanning-EMG studies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub territory_radius_mm: Option<Range>,
    /// Distance from the territory's centre to the electrode, mm. Needle `[0, 2]` (inside the
    /// territory); surface `[5, 15]` (below the skin and fat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub electrode_distance_mm: Option<Range>,
    /// Closest a fibre can be to the electrode, mm. Needle 0.05; surface 0.05.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_distance_mm: Option<f64>,
    /// Amplitude fall-off distance `r0`, mm: a fibre at distance `r` contributes
    /// `1 / (1 + (r / r0)²)` of a touching fibre. Default 0.1 (kymo: the spike of a concentric
    /// needle comes from fibres within a few hundred µm, after Nandedkar & Stålberg's
    /// line-source simulations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub falloff_mm: Option<f64>,
    /// Hermite–Rodriguez width λ of a touching fibre, ms. Default 0.1 (kymo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width_ms: Option<f64>,
    /// Growth of λ with distance, ms per mm (volume-conductor low-pass: far fibres look
    /// wider), drawn per unit (the temporal width of a fibre's potential also scales with
    /// its depolarised zone over its conduction velocity, which differ between units).
    /// Default `[0.4, 1.0]` (kymo: with the other defaults this spreads needle MUAP
    /// durations over the brief's 5–15 ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width_per_mm: Option<Range>,
    /// Standard deviation of the fibres' arrival times (endplate scatter, terminal branches,
    /// conduction from the endplate zone), ms, drawn per unit. Default `[0.2, 0.6]` (kymo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispersion_ms: Option<Range>,
    /// The same for polyphasic units. Default `[1.0, 2.5]` (kymo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polyphasic_dispersion_ms: Option<Range>,
    /// Fibre shape. Needle `tripole`; surface `biphasic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fibre_shape: Option<FibreShape>,
    /// Asymmetry of the fibre shape, drawn per unit: the weight of the other
    /// Hermite–Rodriguez order mixed in. Default `[-0.4, 0.4]` (kymo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asymmetry: Option<Range>,
}

/// [`MuapSpec`] with every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MuapParams {
    pub p2p_uv: Range,
    pub duration_ms: Range,
    pub phases: CountRange,
    pub polyphasic_fraction: f64,
    pub polyphasic_phases: CountRange,
    pub fibres: CountRange,
    pub territory_radius_mm: Range,
    pub electrode_distance_mm: Range,
    pub min_distance_mm: f64,
    pub falloff_mm: f64,
    pub width_ms: f64,
    pub width_per_mm: Range,
    pub dispersion_ms: Range,
    pub polyphasic_dispersion_ms: Range,
    pub fibre_shape: FibreShape,
    pub asymmetry: Range,
}

impl MuapSpec {
    /// Every field filled with the electrode's default where missing.
    pub fn resolved(&self, e: Electrode) -> MuapSpec {
        let p = self.params(e);
        MuapSpec {
            p2p_uv: Some(p.p2p_uv),
            duration_ms: Some(p.duration_ms),
            phases: Some(p.phases),
            polyphasic_fraction: Some(p.polyphasic_fraction),
            polyphasic_phases: Some(p.polyphasic_phases),
            fibres: Some(p.fibres),
            territory_radius_mm: Some(p.territory_radius_mm),
            electrode_distance_mm: Some(p.electrode_distance_mm),
            min_distance_mm: Some(p.min_distance_mm),
            falloff_mm: Some(p.falloff_mm),
            width_ms: Some(p.width_ms),
            width_per_mm: Some(p.width_per_mm),
            dispersion_ms: Some(p.dispersion_ms),
            polyphasic_dispersion_ms: Some(p.polyphasic_dispersion_ms),
            fibre_shape: Some(p.fibre_shape),
            asymmetry: Some(p.asymmetry),
        }
    }

    pub(crate) fn params(&self, e: Electrode) -> MuapParams {
        let needle = e == Electrode::Needle;
        MuapParams {
            p2p_uv: self.p2p_uv.unwrap_or(if needle {
                [200.0, 2000.0]
            } else {
                [50.0, 500.0]
            }),
            duration_ms: self
                .duration_ms
                .unwrap_or(if needle { [5.0, 15.0] } else { [8.0, 30.0] }),
            phases: self.phases.unwrap_or([2, 4]),
            polyphasic_fraction: self
                .polyphasic_fraction
                .unwrap_or(if needle { 0.1 } else { 0.0 }),
            polyphasic_phases: self.polyphasic_phases.unwrap_or([5, 8]),
            fibres: self.fibres.unwrap_or([150, 400]),
            territory_radius_mm: self.territory_radius_mm.unwrap_or([2.5, 5.0]),
            electrode_distance_mm: self.electrode_distance_mm.unwrap_or(if needle {
                [0.0, 2.0]
            } else {
                [5.0, 15.0]
            }),
            min_distance_mm: self.min_distance_mm.unwrap_or(0.05),
            falloff_mm: self.falloff_mm.unwrap_or(0.1),
            width_ms: self.width_ms.unwrap_or(0.1),
            width_per_mm: self.width_per_mm.unwrap_or([0.4, 1.0]),
            dispersion_ms: self.dispersion_ms.unwrap_or([0.2, 0.6]),
            polyphasic_dispersion_ms: self.polyphasic_dispersion_ms.unwrap_or([1.0, 2.5]),
            fibre_shape: self.fibre_shape.unwrap_or(if needle {
                FibreShape::Tripole
            } else {
                FibreShape::Biphasic
            }),
            asymmetry: self.asymmetry.unwrap_or([-0.4, 0.4]),
        }
    }
}

impl MuapSpec {
    fn validate_resolved(&self, v: &Validator, fs: f64) -> Result<()> {
        let at = "waveforms.muap";
        // `resolved` filled every field; read them back through `params` (any electrode).
        let p = self.params(Electrode::Needle);
        v.range(at, "p2p_uv", p.p2p_uv, 0.0, " µV")?;
        if p.p2p_uv[0] <= 0.0 {
            return Err(v.err(format!("{at}: p2p_uv must be positive")));
        }
        v.range(at, "duration_ms", p.duration_ms, 0.0, " ms")?;
        if p.duration_ms[0] * 1e-3 * fs < 4.0 {
            return Err(v.err(format!(
                "{at}: duration_ms low end {} ms is shorter than 4 samples at {fs} Hz",
                p.duration_ms[0]
            )));
        }
        v.counts(at, "phases", p.phases, 1, 30)?;
        v.fraction(at, "polyphasic_fraction", p.polyphasic_fraction)?;
        v.counts(at, "polyphasic_phases", p.polyphasic_phases, 1, 30)?;
        v.counts(at, "fibres", p.fibres, 1, 5000)?;
        v.range(at, "territory_radius_mm", p.territory_radius_mm, 0.0, " mm")?;
        if p.territory_radius_mm[0] <= 0.0 {
            return Err(v.err(format!("{at}: territory_radius_mm must be positive")));
        }
        v.range(
            at,
            "electrode_distance_mm",
            p.electrode_distance_mm,
            0.0,
            " mm",
        )?;
        for (name, x) in [
            ("min_distance_mm", p.min_distance_mm),
            ("falloff_mm", p.falloff_mm),
            ("width_ms", p.width_ms),
        ] {
            if !(x.is_finite() && x > 0.0) {
                return Err(v.err(format!("{at}: {name} = {x} must be positive")));
            }
        }
        v.range(at, "width_per_mm", p.width_per_mm, 0.0, " ms/mm")?;
        v.range(at, "dispersion_ms", p.dispersion_ms, 0.0, " ms")?;
        v.range(
            at,
            "polyphasic_dispersion_ms",
            p.polyphasic_dispersion_ms,
            0.0,
            " ms",
        )?;
        v.range(at, "asymmetry", p.asymmetry, -10.0, "")?;
        if p.asymmetry[1] > 10.0 {
            return Err(v.err(format!("{at}: asymmetry must lie within [-10, 10]")));
        }
        Ok(())
    }
}

/// A single-fibre spike (fibrillation potential or endplate spike).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpikeSpec {
    /// Duration, ms, drawn per fibre. Default `[1, 5]` (brief: fibrillations 1–5 ms; kymo
    /// uses the same single-fibre range for endplate spikes).
    pub duration_ms: Range,
    /// Peak-to-peak amplitude, µV, log-uniform per fibre. Default `[20, 200]` (brief:
    /// fibrillations 20–200 µV; the same for endplate spikes).
    pub p2p_uv: Range,
    /// Shape asymmetry drawn per fibre: the weight of the first-order Hermite–Rodriguez
    /// function mixed into the second-order one (fibrillation: 0 gives a symmetric
    /// positive–negative–positive spike, larger values a biphasic positive–negative one), or
    /// of the second-order function subtracted from the first-order one (endplate spike: 0
    /// gives a negative–positive spike, larger values a negative–positive–negative one). Default
    /// `[0, 1.2]` for fibrillations (kymo).
    pub asymmetry: Range,
}

impl Default for SpikeSpec {
    fn default() -> Self {
        SpikeSpec {
            duration_ms: [1.0, 5.0],
            p2p_uv: [20.0, 200.0],
            asymmetry: [0.0, 1.2],
        }
    }
}

impl SpikeSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.range(at, "duration_ms", self.duration_ms, 0.0, " ms")?;
        if self.duration_ms[0] * 1e-3 * fs < 3.0 {
            return Err(v.err(format!(
                "{at}: duration_ms low end {} ms is shorter than 3 samples at {fs} Hz",
                self.duration_ms[0]
            )));
        }
        v.range(at, "p2p_uv", self.p2p_uv, 0.0, " µV")?;
        if self.p2p_uv[0] <= 0.0 {
            return Err(v.err(format!("{at}: p2p_uv must be positive")));
        }
        v.range(at, "asymmetry", self.asymmetry, 0.0, "")?;
        if self.asymmetry[1] > 3.0 {
            return Err(v.err(format!("{at}: asymmetry must lie within [0, 3]")));
        }
        Ok(())
    }
}

/// A positive sharp wave: a sharp positive deflection, then a slow negative phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PswSpec {
    /// Total duration, ms, drawn per fibre. Default `[10, 100]` (brief).
    pub duration_ms: Range,
    /// Peak-to-peak amplitude, µV, log-uniform per fibre. Default `[20, 200]` (brief gives
    /// the fibrillation range; positive sharp waves come from the same single fibres).
    pub p2p_uv: Range,
    /// Width (Gaussian σ) of the sharp positive deflection, ms. Default `[0.3, 1.0]` (kymo).
    pub spike_ms: Range,
    /// Depth of the slow negative phase relative to the positive peak. Default `[0.2, 0.5]`
    /// (kymo).
    pub negative_depth: Range,
}

impl Default for PswSpec {
    fn default() -> Self {
        PswSpec {
            duration_ms: [10.0, 100.0],
            p2p_uv: [20.0, 200.0],
            spike_ms: [0.3, 1.0],
            negative_depth: [0.2, 0.5],
        }
    }
}

impl PswSpec {
    fn validate(&self, v: &Validator, fs: f64) -> Result<()> {
        let at = "waveforms.positive_sharp_wave";
        v.range(at, "duration_ms", self.duration_ms, 0.0, " ms")?;
        v.range(at, "p2p_uv", self.p2p_uv, 0.0, " µV")?;
        v.range(at, "spike_ms", self.spike_ms, 0.0, " ms")?;
        v.range(at, "negative_depth", self.negative_depth, 0.0, "")?;
        if self.p2p_uv[0] <= 0.0
            || self.spike_ms[0] * 1e-3 * fs < 1.0
            || self.negative_depth[0] <= 0.0
        {
            return Err(v.err(format!(
                "{at}: p2p_uv and negative_depth must be positive and spike_ms at least one sample"
            )));
        }
        if self.duration_ms[0] < 8.0 * self.spike_ms[1] {
            return Err(v.err(format!(
                "{at}: duration_ms low end {} ms must be at least 8 × the spike width high end {} ms, so the slow phase follows the spike",
                self.duration_ms[0], self.spike_ms[1]
            )));
        }
        Ok(())
    }
}

/// The complex of a complex repetitive discharge: a chain of single-fibre spikes, each
/// fibre driving the next ephaptically, so the whole complex repeats time-locked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplexSpec {
    /// Fibres in the chain. Default `[3, 8]` (kymo).
    pub fibres: CountRange,
    /// Time from the first to the last fibre's spike, ms. Default `[3, 15]` (kymo).
    pub span_ms: Range,
    /// Each fibre's spike: duration and amplitude as for fibrillations (brief ranges).
    pub fibre: SpikeSpec,
    /// Accepted phase count (the complex is polyphasic). Default `[4, 30]` (kymo: more than
    /// an ordinary MUAP's 4).
    pub phases: CountRange,
}

impl Default for ComplexSpec {
    fn default() -> Self {
        ComplexSpec {
            fibres: [3, 8],
            span_ms: [3.0, 15.0],
            fibre: SpikeSpec {
                duration_ms: [1.0, 3.0],
                ..SpikeSpec::default()
            },
            phases: [4, 30],
        }
    }
}

impl ComplexSpec {
    fn validate(&self, v: &Validator, fs: f64) -> Result<()> {
        let at = "waveforms.complex";
        v.counts(at, "fibres", self.fibres, 2, 50)?;
        v.range(at, "span_ms", self.span_ms, 0.0, " ms")?;
        v.counts(at, "phases", self.phases, 1, 200)?;
        self.fibre.validate(v, "waveforms.complex.fibre", fs)
    }
}

// ---------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------

/// The discharge classes the simulator makes (the domain brief's table). The same names
/// are used in the truth file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Voluntary motor unit potentials (rate coding and recruitment).
    Voluntary,
    /// Fasciculation potentials: single, irregular discharges of one unit.
    Fasciculation,
    /// Doublets and multiplets: 2+ potentials of one unit 2–20 ms apart.
    Doublet,
    /// Myokymic discharges: recurring bursts of one unit.
    Myokymic,
    /// Myokymic discharge as a continuous train with waxing and waning rate and amplitude.
    MyokymicContinuous,
    /// Neuromyotonic discharges: 150–300 Hz, waning amplitude, abrupt start and stop.
    Neuromyotonic,
    /// Complex repetitive discharges: a time-locked complex, perfectly regular.
    ComplexRepetitive,
    /// Fibrillation potentials.
    Fibrillation,
    /// Positive sharp waves.
    PositiveSharpWave,
    /// Myotonic discharges: 20–80 Hz, waxing and waning rate and amplitude.
    Myotonic,
    /// Cramp discharges: many units, high irregular rates.
    Cramp,
    /// Regular single-unit discharges (1–18 Hz, CV ~3.5 %).
    Regular,
    /// Endplate spikes (normal).
    EndplateSpike,
}

impl Class {
    /// The kebab-case name used in TOML and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Class::Voluntary => "voluntary",
            Class::Fasciculation => "fasciculation",
            Class::Doublet => "doublet",
            Class::Myokymic => "myokymic",
            Class::MyokymicContinuous => "myokymic-continuous",
            Class::Neuromyotonic => "neuromyotonic",
            Class::ComplexRepetitive => "complex-repetitive",
            Class::Fibrillation => "fibrillation",
            Class::PositiveSharpWave => "positive-sharp-wave",
            Class::Myotonic => "myotonic",
            Class::Cramp => "cramp",
            Class::Regular => "regular",
            Class::EndplateSpike => "endplate-spike",
        }
    }
}

/// A time window as fractions of the recording, `[start, end]` within `[0, 1]`: the source
/// is active only there. Fractions (not seconds) so a scenario keeps its layout when
/// `--seconds` changes.
pub type Window = Range;

/// One discharge generator. `class` selects the kind; the other fields are that kind's
/// parameters. Every kind has `count` (how many independent copies, each with its own
/// unit(s) and random stream; default 1) and `window` (active part of the recording;
/// default the whole recording).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "kebab-case")]
pub enum SourceSpec {
    /// See [`VoluntarySpec`].
    Voluntary(VoluntarySpec),
    /// See [`FasciculationSpec`].
    Fasciculation(FasciculationSpec),
    /// See [`DoubletSpec`].
    Doublet(DoubletSpec),
    /// See [`MyokymicSpec`].
    Myokymic(MyokymicSpec),
    /// See [`MyokymicContinuousSpec`].
    MyokymicContinuous(MyokymicContinuousSpec),
    /// See [`NeuromyotonicSpec`].
    Neuromyotonic(NeuromyotonicSpec),
    /// See [`ComplexRepetitiveSpec`].
    ComplexRepetitive(ComplexRepetitiveSpec),
    /// See [`TrainSpec`] (fibrillation potentials).
    Fibrillation(TrainSpec),
    /// See [`TrainSpec`] (positive sharp waves).
    PositiveSharpWave(TrainSpec),
    /// See [`MyotonicSpec`].
    Myotonic(MyotonicSpec),
    /// See [`CrampSpec`].
    Cramp(CrampSpec),
    /// See [`RegularSpec`].
    Regular(RegularSpec),
    /// See [`EndplateSpec`].
    EndplateSpike(EndplateSpec),
}

macro_rules! for_each_spec {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            SourceSpec::Voluntary($s) => $body,
            SourceSpec::Fasciculation($s) => $body,
            SourceSpec::Doublet($s) => $body,
            SourceSpec::Myokymic($s) => $body,
            SourceSpec::MyokymicContinuous($s) => $body,
            SourceSpec::Neuromyotonic($s) => $body,
            SourceSpec::ComplexRepetitive($s) => $body,
            SourceSpec::Fibrillation($s) => $body,
            SourceSpec::PositiveSharpWave($s) => $body,
            SourceSpec::Myotonic($s) => $body,
            SourceSpec::Cramp($s) => $body,
            SourceSpec::Regular($s) => $body,
            SourceSpec::EndplateSpike($s) => $body,
        }
    };
}

impl SourceSpec {
    /// The discharge class this source makes.
    pub fn class(&self) -> Class {
        match self {
            SourceSpec::Voluntary(_) => Class::Voluntary,
            SourceSpec::Fasciculation(_) => Class::Fasciculation,
            SourceSpec::Doublet(_) => Class::Doublet,
            SourceSpec::Myokymic(_) => Class::Myokymic,
            SourceSpec::MyokymicContinuous(_) => Class::MyokymicContinuous,
            SourceSpec::Neuromyotonic(_) => Class::Neuromyotonic,
            SourceSpec::ComplexRepetitive(_) => Class::ComplexRepetitive,
            SourceSpec::Fibrillation(_) => Class::Fibrillation,
            SourceSpec::PositiveSharpWave(_) => Class::PositiveSharpWave,
            SourceSpec::Myotonic(_) => Class::Myotonic,
            SourceSpec::Cramp(_) => Class::Cramp,
            SourceSpec::Regular(_) => Class::Regular,
            SourceSpec::EndplateSpike(_) => Class::EndplateSpike,
        }
    }

    /// How many independent copies of this source the scenario holds.
    pub fn count(&self) -> u32 {
        for_each_spec!(self, s => s.count)
    }

    /// The active window, fractions of the recording.
    pub fn window(&self) -> Window {
        for_each_spec!(self, s => s.window)
    }

    /// Most units one copy can hold.
    pub(crate) fn max_units_per_source(&self) -> u32 {
        match self {
            SourceSpec::Voluntary(s) => s.units,
            SourceSpec::Cramp(s) => s.units[1],
            _ => 1,
        }
    }

    /// Whether the potentials are single-fibre ones (invisible to surface electrodes).
    pub(crate) fn single_fibre(&self) -> bool {
        matches!(
            self,
            SourceSpec::ComplexRepetitive(_)
                | SourceSpec::Fibrillation(_)
                | SourceSpec::PositiveSharpWave(_)
                | SourceSpec::Myotonic(_)
                | SourceSpec::EndplateSpike(_)
        )
    }

    fn validate(&self, v: &Validator, at: &str, e: Electrode, fs: f64) -> Result<()> {
        if self.count() > MAX_UNITS as u32 {
            return Err(v.err(format!(
                "{at}: count = {} is more than {MAX_UNITS}",
                self.count()
            )));
        }
        v.fraction_range(at, "window", self.window())?;
        let w = self.window();
        if w[0] >= w[1] {
            return Err(v.err(format!(
                "{at}: window = [{}, {}] is empty: the start must be before the end",
                w[0], w[1]
            )));
        }
        if e == Electrode::Surface && self.single_fibre() {
            return Err(v.err(format!(
                "{at}: {} potentials come from single muscle fibres, which a surface electrode cannot resolve (brief); use a needle recording",
                self.class().name()
            )));
        }
        match self {
            SourceSpec::Voluntary(s) => s.validate(v, at, fs),
            SourceSpec::Fasciculation(s) => s.validate(v, at, fs),
            SourceSpec::Doublet(s) => s.validate(v, at, fs),
            SourceSpec::Myokymic(s) => s.validate(v, at, fs),
            SourceSpec::MyokymicContinuous(s) => s.validate(v, at, fs),
            SourceSpec::Neuromyotonic(s) => s.validate(v, at, fs),
            SourceSpec::ComplexRepetitive(s) => s.validate(v, at, fs),
            SourceSpec::Fibrillation(s) | SourceSpec::PositiveSharpWave(s) => s.validate(v, at, fs),
            SourceSpec::Myotonic(s) => s.validate(v, at, fs),
            SourceSpec::Cramp(s) => s.validate(v, at, fs),
            SourceSpec::Regular(s) => s.validate(v, at, fs),
            SourceSpec::EndplateSpike(s) => s.validate(v, at, fs),
        }
    }
}

fn one() -> u32 {
    1
}

fn whole() -> Window {
    [0.0, 1.0]
}

/// Checks an interval coefficient of variation.
fn check_cv(v: &Validator, at: &str, field: &str, cv: f64, max: f64) -> Result<()> {
    if !(cv.is_finite() && (0.0..=max).contains(&cv)) {
        return Err(v.err(format!("{at}: {field} = {cv} must lie within [0, {max}]")));
    }
    Ok(())
}

fn positive_range(v: &Validator, at: &str, field: &str, r: Range, unit: &str) -> Result<()> {
    v.range(at, field, r, 0.0, unit)?;
    if r[0] <= 0.0 {
        return Err(v.err(format!(
            "{at}: {field} = [{}, {}] must be positive",
            r[0], r[1]
        )));
    }
    Ok(())
}

/// Voluntary activity: a pool of units recruited and rate-coded by a common excitation,
/// after Fuglevand, Winter & Patla 1993. The excitation follows a repeating trapezoid
/// (rest, ramp up, hold, ramp down); one event per contraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoluntarySpec {
    /// Independent pools.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Units in the pool that the electrode sees. Default 10 (kymo: a needle sees a few to a
    /// few tens of units).
    pub units: u32,
    /// Recruitment range: threshold of the last unit over the first. Default 30
    /// (Fuglevand 1993).
    pub recruitment_range: f64,
    /// Rate at recruitment, Hz. Default 6 (brief: voluntary units start at about 5–7 Hz).
    pub min_rate_hz: f64,
    /// Peak rate, Hz. Default 20 (brief: they rise to 10–20 Hz and more with force).
    pub peak_rate_hz: f64,
    /// Rate gain, Hz per unit of excitation above threshold. Default 1 (Fuglevand 1993).
    pub gain_hz: f64,
    /// Coefficient of variation of inter-discharge intervals. Default 0.15 (brief 0.1–0.2;
    /// Fuglevand 1993 used 0.2).
    pub interval_cv: f64,
    /// Target excitation of each contraction, as a fraction of the excitation that drives
    /// every unit at its peak rate, drawn per contraction. Default `[0.2, 0.6]` (kymo).
    pub level: Range,
    /// Ramp-up and ramp-down time, s. Default 1 (kymo).
    pub ramp_s: f64,
    /// Hold time, s, per contraction. Default `[2, 4]` (kymo).
    pub hold_s: Range,
    /// Rest before each contraction, s. Default `[1, 3]` (kymo).
    pub rest_s: Range,
}

impl Default for VoluntarySpec {
    fn default() -> Self {
        VoluntarySpec {
            count: 1,
            window: whole(),
            units: 10,
            recruitment_range: 30.0,
            min_rate_hz: 6.0,
            peak_rate_hz: 20.0,
            gain_hz: 1.0,
            interval_cv: 0.15,
            level: [0.2, 0.6],
            ramp_s: 1.0,
            hold_s: [2.0, 4.0],
            rest_s: [1.0, 3.0],
        }
    }
}

impl VoluntarySpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        if self.units == 0 || self.units as usize > MAX_UNITS {
            return Err(v.err(format!(
                "{at}: units = {} must be between 1 and {MAX_UNITS}",
                self.units
            )));
        }
        if !(self.recruitment_range.is_finite() && self.recruitment_range >= 1.0) {
            return Err(v.err(format!(
                "{at}: recruitment_range = {} must be at least 1",
                self.recruitment_range
            )));
        }
        v.rate(at, "min_rate_hz", [self.min_rate_hz, self.min_rate_hz], fs)?;
        v.rate(
            at,
            "peak_rate_hz",
            [self.peak_rate_hz, self.peak_rate_hz],
            fs,
        )?;
        if self.peak_rate_hz < self.min_rate_hz {
            return Err(v.err(format!(
                "{at}: peak_rate_hz = {} is below min_rate_hz = {}",
                self.peak_rate_hz, self.min_rate_hz
            )));
        }
        if !(self.gain_hz.is_finite() && self.gain_hz > 0.0) {
            return Err(v.err(format!("{at}: gain_hz = {} must be positive", self.gain_hz)));
        }
        check_cv(v, at, "interval_cv", self.interval_cv, 0.5)?;
        v.fraction_range(at, "level", self.level)?;
        if !(self.ramp_s.is_finite() && self.ramp_s >= 0.0) {
            return Err(v.err(format!(
                "{at}: ramp_s = {} must be zero or positive",
                self.ramp_s
            )));
        }
        v.range(at, "hold_s", self.hold_s, 0.0, " s")?;
        v.range(at, "rest_s", self.rest_s, 0.0, " s")?;
        if self.ramp_s * 2.0 + self.hold_s[0] + self.rest_s[0] <= 0.0 {
            return Err(v.err(format!(
                "{at}: a contraction cycle (rest + 2 × ramp + hold) must last more than 0 s"
            )));
        }
        Ok(())
    }
}

/// Fasciculation potentials: single discharges of one unit, a Poisson process (brief:
/// irregular, Poisson-like, mean rate well under 1 Hz per unit). One event per potential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FasciculationSpec {
    /// Independent units.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Mean rate of each unit, Hz, drawn per unit. Default `[0.1, 0.5]` (brief: well under
    /// 1 Hz, intervals of seconds).
    pub rate_hz: Range,
}

impl Default for FasciculationSpec {
    fn default() -> Self {
        FasciculationSpec {
            count: 1,
            window: whole(),
            rate_hz: [0.1, 0.5],
        }
    }
}

impl FasciculationSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.rate(at, "rate_hz", self.rate_hz, fs)
    }
}

/// Doublets and multiplets: groups of potentials of one unit 2–20 ms apart; the groups
/// themselves come irregularly (Poisson). One event per group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DoubletSpec {
    /// Independent units.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Potentials per group, drawn per group. Default `[2, 3]` (brief: 2, or 3+).
    pub potentials: CountRange,
    /// Interval inside the group, ms, drawn per interval. Default `[2, 20]` (brief).
    pub interval_ms: Range,
    /// Mean group rate of each unit, Hz (Poisson), drawn per unit. Default `[0.1, 0.5]`
    /// (kymo: the brief says only "irregularly"; the fasciculation rate is borrowed).
    pub group_rate_hz: Range,
}

impl Default for DoubletSpec {
    fn default() -> Self {
        DoubletSpec {
            count: 1,
            window: whole(),
            potentials: [2, 3],
            interval_ms: [2.0, 20.0],
            group_rate_hz: [0.1, 0.5],
        }
    }
}

impl DoubletSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.counts(at, "potentials", self.potentials, 2, 20)?;
        positive_range(v, at, "interval_ms", self.interval_ms, " ms")?;
        v.rate(
            at,
            "1 / interval_ms",
            [1e3 / self.interval_ms[1], 1e3 / self.interval_ms[0]],
            fs,
        )?;
        v.rate(at, "group_rate_hz", self.group_rate_hz, fs)?;
        let group_s = (self.potentials[1] - 1) as f64 * self.interval_ms[1] * 1e-3;
        if group_s * self.group_rate_hz[1] > 0.5 {
            return Err(v.err(format!(
                "{at}: groups of up to {} potentials {} ms apart last {group_s} s, too long for a group rate of {} Hz (they would overlap)",
                self.potentials[1], self.interval_ms[1], self.group_rate_hz[1]
            )));
        }
        Ok(())
    }
}

/// Myokymic discharges, burst form: bursts of one unit recurring semi-rhythmically. One
/// event per burst.
///
/// Per unit: a recurrence rate and a centre intraburst rate. Per burst: the number of
/// potentials, the burst's mean intraburst rate (the centre rate varied by
/// `burst_rate_cv`, kept inside `intraburst_rate_hz`), an amplitude trend and a rate trend.
/// The burst's intervals follow the rate trend, are jittered by `interval_cv`, then scaled
/// so the burst's mean rate, `(n − 1) / (last − first)`, is exactly the drawn one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MyokymicSpec {
    /// Independent units.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Potentials per burst. Default `[2, 10]` (brief: 2–10, up to ~60).
    pub potentials_per_burst: CountRange,
    /// Mean rate inside a burst, Hz. Default `[20, 40]` (brief: 5–60 Hz, often 20–40).
    pub intraburst_rate_hz: Range,
    /// Burst recurrence rate (start to start), Hz, drawn per unit. Default `[1, 5]` (brief:
    /// 0.1–10 Hz, often 1–5).
    pub recurrence_hz: Range,
    /// Coefficient of variation of the burst-to-burst interval ("semi-rhythmic"). Default
    /// 0.2 (kymo).
    pub recurrence_cv: f64,
    /// Burst-to-burst variation of the intraburst rate around the unit's centre rate (CV).
    /// Default 0.1 (kymo).
    pub burst_rate_cv: f64,
    /// Interval jitter inside a burst (CV). Default 0.05 (kymo).
    pub interval_cv: f64,
    /// Amplitude change from the first to the last potential of a burst, as a fraction of
    /// the unit's amplitude (amplitude goes linearly from `1 − t/2` to `1 + t/2`). Default
    /// `[-0.3, 0.3]` (kymo; the brief asks for an amplitude trend inside the burst).
    pub amplitude_trend: Range,
    /// Instantaneous-rate change from the first to the last interval, as a fraction
    /// (`r_last / r_first − 1`). Default `[-0.3, 0.3]` (kymo).
    pub rate_trend: Range,
    /// Longest a burst may be, as a fraction of the recurrence interval: the number of
    /// potentials is capped so bursts stay separate. Default 0.5 (kymo).
    pub max_duty: f64,
}

impl Default for MyokymicSpec {
    fn default() -> Self {
        MyokymicSpec {
            count: 1,
            window: whole(),
            potentials_per_burst: [2, 10],
            intraburst_rate_hz: [20.0, 40.0],
            recurrence_hz: [1.0, 5.0],
            recurrence_cv: 0.2,
            burst_rate_cv: 0.1,
            interval_cv: 0.05,
            amplitude_trend: [-0.3, 0.3],
            rate_trend: [-0.3, 0.3],
            max_duty: 0.5,
        }
    }
}

impl MyokymicSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.counts(
            at,
            "potentials_per_burst",
            self.potentials_per_burst,
            1,
            1000,
        )?;
        v.rate(at, "intraburst_rate_hz", self.intraburst_rate_hz, fs)?;
        v.rate(at, "recurrence_hz", self.recurrence_hz, fs)?;
        check_cv(v, at, "recurrence_cv", self.recurrence_cv, 0.5)?;
        check_cv(v, at, "burst_rate_cv", self.burst_rate_cv, 0.5)?;
        check_cv(v, at, "interval_cv", self.interval_cv, 0.3)?;
        v.range(at, "amplitude_trend", self.amplitude_trend, -1.5, "")?;
        if self.amplitude_trend[1] > 1.5 {
            return Err(v.err(format!("{at}: amplitude_trend must lie within [-1.5, 1.5]")));
        }
        v.range(at, "rate_trend", self.rate_trend, -0.9, "")?;
        if self.rate_trend[1] > 9.0 {
            return Err(v.err(format!("{at}: rate_trend must lie within [-0.9, 9]")));
        }
        if !(self.max_duty > 0.0 && self.max_duty < 1.0) {
            return Err(v.err(format!(
                "{at}: max_duty = {} must lie strictly between 0 and 1",
                self.max_duty
            )));
        }
        // The shortest allowed burst (n_min potentials at the lowest rate) must fit in the
        // duty cycle of the fastest recurrence, or the cap could not be met.
        let n_min = self.potentials_per_burst[0].max(1);
        let shortest = (n_min - 1) as f64 / self.intraburst_rate_hz[0];
        let room = self.max_duty / self.recurrence_hz[1];
        if shortest > room {
            return Err(v.err(format!(
                "{at}: a burst of {n_min} potentials at {} Hz lasts {shortest:.3} s, longer than max_duty {} of the shortest recurrence interval (1 / {} Hz); lower recurrence_hz or potentials_per_burst, or raise intraburst_rate_hz",
                self.intraburst_rate_hz[0], self.max_duty, self.recurrence_hz[1]
            )));
        }
        Ok(())
    }
}

/// Myokymic discharge, continuous form (limb myokymia, e.g. after radiation plexopathy):
/// one unit fires throughout the window with its rate and amplitude waxing and waning
/// sinusoidally. One event per train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MyokymicContinuousSpec {
    /// Independent units.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Mean rate, Hz, per unit. Default `[20, 40]` (brief's usual intraburst rate; kymo
    /// reading of "continuous train").
    pub rate_hz: Range,
    /// Waxing/waning cycle frequency, Hz, per unit. Default `[1, 5]` (brief's usual burst
    /// recurrence rate).
    pub modulation_hz: Range,
    /// Rate modulation depth: the rate swings by ± this fraction. Default 0.5 (kymo).
    pub rate_depth: f64,
    /// Amplitude modulation depth (± fraction). Default 0.3 (kymo).
    pub amplitude_depth: f64,
    /// Interval jitter (CV). Default 0.05 (kymo).
    pub interval_cv: f64,
}

impl Default for MyokymicContinuousSpec {
    fn default() -> Self {
        MyokymicContinuousSpec {
            count: 1,
            window: whole(),
            rate_hz: [20.0, 40.0],
            modulation_hz: [1.0, 5.0],
            rate_depth: 0.5,
            amplitude_depth: 0.3,
            interval_cv: 0.05,
        }
    }
}

impl MyokymicContinuousSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.rate(at, "rate_hz", self.rate_hz, fs)?;
        v.rate(
            at,
            "rate_hz × (1 + rate_depth)",
            [
                self.rate_hz[0],
                self.rate_hz[1] * (1.0 + self.rate_depth.max(0.0)),
            ],
            fs,
        )?;
        v.rate(at, "modulation_hz", self.modulation_hz, fs)?;
        if !(0.0..0.95).contains(&self.rate_depth) {
            return Err(v.err(format!(
                "{at}: rate_depth = {} must lie within [0, 0.95)",
                self.rate_depth
            )));
        }
        if !(0.0..1.0).contains(&self.amplitude_depth) {
            return Err(v.err(format!(
                "{at}: amplitude_depth = {} must lie within [0, 1)",
                self.amplitude_depth
            )));
        }
        check_cv(v, at, "interval_cv", self.interval_cv, 0.3)
    }
}

/// Neuromyotonic discharges: one unit at 150–300 Hz for a few seconds, amplitude waning,
/// abrupt onset and offset, separated by silences. One event per discharge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuromyotonicSpec {
    /// Independent units.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Discharge rate, Hz, per discharge. Default `[150, 300]` (brief).
    pub rate_hz: Range,
    /// Discharge length, s. Default `[1, 4]` (brief: "a few seconds").
    pub duration_s: Range,
    /// Amplitude at the end of the discharge relative to its start (exponential waning).
    /// Default `[0.2, 0.6]` (kymo; brief: waning amplitude).
    pub end_amplitude: Range,
    /// Interval jitter (CV). Default 0.05 (kymo).
    pub interval_cv: f64,
    /// Silence between discharges, s. Default `[2, 8]` (kymo).
    pub gap_s: Range,
}

impl Default for NeuromyotonicSpec {
    fn default() -> Self {
        NeuromyotonicSpec {
            count: 1,
            window: whole(),
            rate_hz: [150.0, 300.0],
            duration_s: [1.0, 4.0],
            end_amplitude: [0.2, 0.6],
            interval_cv: 0.05,
            gap_s: [2.0, 8.0],
        }
    }
}

impl NeuromyotonicSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.rate(at, "rate_hz", self.rate_hz, fs)?;
        positive_range(v, at, "duration_s", self.duration_s, " s")?;
        v.fraction_range(at, "end_amplitude", self.end_amplitude)?;
        if self.end_amplitude[0] <= 0.0 {
            return Err(v.err(format!("{at}: end_amplitude must be positive")));
        }
        check_cv(v, at, "interval_cv", self.interval_cv, 0.3)?;
        v.range(at, "gap_s", self.gap_s, 0.0, " s")
    }
}

/// Complex repetitive discharges: the same complex at a perfectly regular rate, abrupt
/// onset and offset, sometimes an abrupt change of rate. One event per discharge.
///
/// Each interval is `T · (1 + u)` with `u` uniform in `[−jitter, +jitter]`, so every
/// interval lies within ± `jitter` of the period: `jitter` is a hard bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplexRepetitiveSpec {
    /// Independent complexes.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Rate, Hz, per discharge (and for the rate after a change). Default `[5, 100]` (brief).
    pub rate_hz: Range,
    /// Bound on the relative interval deviation. Default 0.001 (brief: jitter far below
    /// 1 %); must be below 0.01.
    pub jitter: f64,
    /// Discharge length, s. Default `[2, 10]` (kymo).
    pub duration_s: Range,
    /// Probability that a discharge changes rate abruptly once, somewhere in its middle
    /// (30–70 % of its length). Default 0.5 (kymo; brief: "often abrupt change of rate").
    pub rate_change_probability: f64,
    /// Smallest relative rate change when one happens. Default 0.2 (kymo: visible).
    pub min_rate_change: f64,
    /// Silence between discharges, s. Default `[1, 5]` (kymo).
    pub gap_s: Range,
}

impl Default for ComplexRepetitiveSpec {
    fn default() -> Self {
        ComplexRepetitiveSpec {
            count: 1,
            window: whole(),
            rate_hz: [5.0, 100.0],
            jitter: 0.001,
            duration_s: [2.0, 10.0],
            rate_change_probability: 0.5,
            min_rate_change: 0.2,
            gap_s: [1.0, 5.0],
        }
    }
}

impl ComplexRepetitiveSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.rate(at, "rate_hz", self.rate_hz, fs)?;
        if !(self.jitter.is_finite() && (0.0..0.01).contains(&self.jitter)) {
            return Err(v.err(format!(
                "{at}: jitter = {} must lie within [0, 0.01): a complex repetitive discharge's interval jitter is far below 1 % (brief)",
                self.jitter
            )));
        }
        positive_range(v, at, "duration_s", self.duration_s, " s")?;
        v.fraction(at, "rate_change_probability", self.rate_change_probability)?;
        if !(self.min_rate_change.is_finite() && (0.0..=1.0).contains(&self.min_rate_change)) {
            return Err(v.err(format!(
                "{at}: min_rate_change = {} must lie within [0, 1]",
                self.min_rate_change
            )));
        }
        v.range(at, "gap_s", self.gap_s, 0.0, " s")
    }
}

/// A regular single-fibre train: fibrillation potentials or positive sharp waves (brief:
/// regular, 0.5–15 Hz, usually 1–10, may slow gradually). One event per train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSpec {
    /// Independent fibres.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Initial rate, Hz, per fibre. Default `[1, 10]` (brief: usually 1–10 Hz).
    pub rate_hz: Range,
    /// Relative rate change per minute, per fibre (negative: slowing). Default `[-0.2, 0]`
    /// (kymo; brief: "may slow gradually").
    pub drift_per_min: Range,
    /// Interval jitter (CV). Default 0.02 (kymo: "regular").
    pub interval_cv: f64,
}

impl Default for TrainSpec {
    fn default() -> Self {
        TrainSpec {
            count: 1,
            window: whole(),
            rate_hz: [1.0, 10.0],
            drift_per_min: [-0.2, 0.0],
            interval_cv: 0.02,
        }
    }
}

impl TrainSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.rate(at, "rate_hz", self.rate_hz, fs)?;
        v.range(at, "drift_per_min", self.drift_per_min, -0.9, "")?;
        if self.drift_per_min[1] > 1.0 {
            return Err(v.err(format!("{at}: drift_per_min must lie within [-0.9, 1]")));
        }
        check_cv(v, at, "interval_cv", self.interval_cv, 0.3)
    }
}

/// The single-fibre waveform of myotonic potentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MyotonicWaveform {
    /// Fibrillation-shaped spikes.
    Fibrillation,
    /// Positive-sharp-wave shapes.
    PositiveSharpWave,
}

/// Myotonic discharges: single-fibre potentials at 20–80 Hz whose rate and amplitude wax
/// and wane together ("dive bomber"). One event per discharge.
///
/// Within a discharge of length `D` a hump `h(x)` (x = time / D) rises as a quarter sine to
/// 1 at `x = p` and falls as a quarter cosine to 0 at `x = 1`; rate = `r_lo + (r_hi − r_lo)·h`,
/// amplitude = `a_min + (1 − a_min)·h`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MyotonicSpec {
    /// Independent fibres.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Rates are drawn (two per discharge, `r_lo < r_hi`) in this range, Hz. Default
    /// `[20, 80]` (brief).
    pub rate_hz: Range,
    /// Lowest amplitude relative to the peak, per discharge. Default `[0.2, 0.5]` (kymo).
    pub min_amplitude: Range,
    /// Where the hump peaks, fraction of the discharge. Default `[0.1, 0.9]` (kymo).
    pub peak_at: Range,
    /// Discharge length, s. Default `[0.5, 3]` (kymo).
    pub duration_s: Range,
    /// Silence between discharges, s. Default `[1, 5]` (kymo).
    pub gap_s: Range,
    /// Fibrillation- or PSW-shaped potentials (brief: either). Default fibrillation.
    pub waveform: MyotonicWaveform,
}

impl Default for MyotonicSpec {
    fn default() -> Self {
        MyotonicSpec {
            count: 1,
            window: whole(),
            rate_hz: [20.0, 80.0],
            min_amplitude: [0.2, 0.5],
            peak_at: [0.1, 0.9],
            duration_s: [0.5, 3.0],
            gap_s: [1.0, 5.0],
            waveform: MyotonicWaveform::Fibrillation,
        }
    }
}

impl MyotonicSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.rate(at, "rate_hz", self.rate_hz, fs)?;
        v.fraction_range(at, "min_amplitude", self.min_amplitude)?;
        if self.min_amplitude[0] <= 0.0 {
            return Err(v.err(format!("{at}: min_amplitude must be positive")));
        }
        v.fraction_range(at, "peak_at", self.peak_at)?;
        if self.peak_at[0] <= 0.0 || self.peak_at[1] >= 1.0 {
            return Err(v.err(format!("{at}: peak_at must lie strictly between 0 and 1")));
        }
        positive_range(v, at, "duration_s", self.duration_s, " s")?;
        v.range(at, "gap_s", self.gap_s, 0.0, " s")
    }
}

/// Cramp discharges: many units firing at high, irregular rates during a cramp. One event
/// per cramp, naming all its units.
///
/// Each unit's intervals are gamma-distributed with mean `1 / rate` and the given CV; with
/// probability `doublet_probability` a discharge is followed by a second one
/// `doublet_interval_ms` later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrampSpec {
    /// Independent cramping muscles.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Units taking part, drawn per source. Default `[5, 15]` (kymo; brief: "many units").
    pub units: CountRange,
    /// Mean rate per unit, Hz, drawn per unit and cramp. Default `[6, 25]` (brief: the
    /// measured series; the glossary's 40–60 Hz, up to 150 Hz, is the composite).
    pub rate_hz: Range,
    /// Interval CV per unit. Default 0.45 (brief: the measured series).
    pub interval_cv: f64,
    /// Probability that a discharge is a doublet. Default 0.05 (kymo; brief: "some doublets").
    pub doublet_probability: f64,
    /// Doublet interval, ms. Default `[2, 20]` (brief, doublets).
    pub doublet_interval_ms: Range,
    /// Cramp length, s. Default `[5, 20]` (kymo).
    pub duration_s: Range,
    /// Rest between cramps, s. Default `[3, 10]` (kymo).
    pub gap_s: Range,
}

impl Default for CrampSpec {
    fn default() -> Self {
        CrampSpec {
            count: 1,
            window: whole(),
            units: [5, 15],
            rate_hz: [6.0, 25.0],
            interval_cv: 0.45,
            doublet_probability: 0.05,
            doublet_interval_ms: [2.0, 20.0],
            duration_s: [5.0, 20.0],
            gap_s: [3.0, 10.0],
        }
    }
}

impl CrampSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.counts(at, "units", self.units, 1, MAX_UNITS as u32)?;
        v.rate(at, "rate_hz", self.rate_hz, fs)?;
        check_cv(v, at, "interval_cv", self.interval_cv, 2.0)?;
        if self.interval_cv <= 0.0 {
            return Err(v.err(format!(
                "{at}: interval_cv must be positive (gamma intervals)"
            )));
        }
        v.fraction(at, "doublet_probability", self.doublet_probability)?;
        positive_range(
            v,
            at,
            "doublet_interval_ms",
            self.doublet_interval_ms,
            " ms",
        )?;
        v.rate(
            at,
            "1 / doublet_interval_ms",
            [
                1e3 / self.doublet_interval_ms[1],
                1e3 / self.doublet_interval_ms[0],
            ],
            fs,
        )?;
        positive_range(v, at, "duration_s", self.duration_s, " s")?;
        v.range(at, "gap_s", self.gap_s, 0.0, " s")
    }
}

/// Regular single-unit discharges: one unit firing steadily (brief: continuous single
/// discharges ~1–18 Hz, very regular, CV ~3.5 %). One event per train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegularSpec {
    /// Independent units.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Rate, Hz, per unit. Default `[1, 18]` (brief).
    pub rate_hz: Range,
    /// Interval CV. Default 0.035 (brief).
    pub interval_cv: f64,
}

impl Default for RegularSpec {
    fn default() -> Self {
        RegularSpec {
            count: 1,
            window: whole(),
            rate_hz: [1.0, 18.0],
            interval_cv: 0.035,
        }
    }
}

impl RegularSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.rate(at, "rate_hz", self.rate_hz, fs)?;
        check_cv(v, at, "interval_cv", self.interval_cv, 0.3)
    }
}

/// Endplate spikes: irregular single-fibre spikes, initially negative, up to ~50 Hz (brief).
/// A Poisson process with a dead time. One event per train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndplateSpec {
    /// Independent terminals.
    #[serde(default = "one")]
    pub count: u32,
    /// Active window.
    #[serde(default = "whole")]
    pub window: Window,
    /// Mean rate, Hz, per terminal. Default `[10, 50]` (brief: irregular, up to ~50 Hz).
    pub rate_hz: Range,
    /// Shortest interval, ms. Default 3 (kymo: a refractory period, so spikes do not merge).
    pub dead_time_ms: f64,
}

impl Default for EndplateSpec {
    fn default() -> Self {
        EndplateSpec {
            count: 1,
            window: whole(),
            rate_hz: [10.0, 50.0],
            dead_time_ms: 3.0,
        }
    }
}

impl EndplateSpec {
    fn validate(&self, v: &Validator, at: &str, fs: f64) -> Result<()> {
        v.rate(at, "rate_hz", self.rate_hz, fs)?;
        if !(self.dead_time_ms.is_finite() && self.dead_time_ms >= 0.0) {
            return Err(v.err(format!(
                "{at}: dead_time_ms = {} must be zero or positive",
                self.dead_time_ms
            )));
        }
        if self.dead_time_ms * 1e-3 * self.rate_hz[1] >= 0.5 {
            return Err(v.err(format!(
                "{at}: dead_time_ms = {} is too long for rates up to {} Hz",
                self.dead_time_ms, self.rate_hz[1]
            )));
        }
        Ok(())
    }
}
