//! What the electrode adds besides the potentials: background noise, mains hum, baseline
//! wander, movement artefacts and electrode pops.
//!
//! - **Noise**: white Gaussian noise from the channel's own random stream, passed through
//!   the recording's band-pass and scaled so its rms after the filter is the target (the
//!   filter's power gain is computed from its impulse response). The SNR that sets the
//!   target is defined on [`super::scenario::NoiseLevel`].
//! - **Mains hum**: harmonics `k·f` (f = 50 or 60 Hz) of configured relative amplitude with
//!   random phases, the same on every channel (common-mode residue).
//! - **Baseline wander**: three slow sinusoids of random frequency and phase, every channel.
//! - **Movement artefacts**: at Poisson times, `A·sin(2πu + φ)·sin²(πu)` over `u ∈ [0, 1]`
//!   (a smooth one- or two-lobed excursion), on every channel at a drawn fraction 0.5–1 of
//!   `A`.
//! - **Electrode pops**: at Poisson times per channel, a step of height `A` decaying as
//!   `exp(−t/τ)`, cut after `8τ`.
//!
//! Artefacts are written into the truth file as artefacts, never as potentials or events.
//! Continuous components use oscillators resynchronised to the exact phase every
//! [`RESYNC`] samples of absolute time, so their samples do not depend on the block size.

use std::collections::BTreeMap;
use std::f64::consts::TAU;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::filter::Band;
use super::rng::{exponential, stream, uniform, Stream};
use super::scenario::{MainsSpec, MovementSpec, PopSpec, WanderSpec};
use super::truth::{ArtefactKind, ArtefactRecord};

/// Oscillators are reset to the exact phase at absolute sample indices that are multiples
/// of this, which bounds the rounding drift of the recursion and keeps it block-independent.
pub(crate) const RESYNC: u64 = 1024;

/// Background noise of one channel.
pub(crate) struct Noise {
    rng: ChaCha8Rng,
    band: Band,
    /// Standard deviation of the white noise before the filter.
    sigma_white: f64,
}

impl Noise {
    /// Noise whose rms after `band` is `rms` µV.
    pub(crate) fn new(seed: u64, channel: usize, band: &Band, fs: f64, rms: f64) -> Noise {
        let gain = band.power_gain(fs);
        Noise {
            rng: stream(seed, Stream::Noise, channel as u64),
            band: band.clone(),
            sigma_white: if gain > 0.0 { rms / gain.sqrt() } else { 0.0 },
        }
    }

    /// Adds the next `out.len()` noise samples into `out`.
    pub(crate) fn add(&mut self, out: &mut [f32]) {
        if self.sigma_white == 0.0 {
            return;
        }
        for o in out.iter_mut() {
            let w: f64 = self.rng.sample(StandardNormal);
            *o += self.band.step(self.sigma_white * w) as f32;
        }
    }
}

/// A sinusoid `amp·sin(ω n + φ)` at absolute sample `n`, by recursion with resync.
#[derive(Debug, Clone)]
struct Sine {
    omega: f64,
    phase: f64,
    amp: f64,
    rot: (f64, f64),
    state: (f64, f64),
}

impl Sine {
    fn new(freq_hz: f64, fs: f64, phase: f64, amp: f64) -> Sine {
        let omega = TAU * freq_hz / fs;
        Sine {
            omega,
            phase,
            amp,
            rot: (omega.cos(), omega.sin()),
            state: (phase.cos(), phase.sin()),
        }
    }

    /// Adds samples `n0 .. n0 + out.len()`; calls must be contiguous in `n`.
    fn add(&mut self, n0: u64, out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            let n = n0 + i as u64;
            if n % RESYNC == 0 {
                let th = self.omega * n as f64 + self.phase;
                self.state = (th.cos(), th.sin());
            }
            *o += self.amp * self.state.1;
            let (c, s) = self.state;
            self.state = (
                c * self.rot.0 - s * self.rot.1,
                s * self.rot.0 + c * self.rot.1,
            );
        }
    }
}

/// The continuous components common to every channel: mains hum and baseline wander.
pub(crate) struct Continuous {
    sines: Vec<Sine>,
    scratch: Vec<f64>,
}

impl Continuous {
    /// Builds hum and wander; returns the artefact records describing them.
    pub(crate) fn new(
        seed: u64,
        mains: &MainsSpec,
        wander: &WanderSpec,
        fs: f64,
        seconds: f64,
        channels: usize,
    ) -> (Continuous, Vec<ArtefactRecord>) {
        let mut sines = Vec::new();
        let mut records = Vec::new();
        let all: Vec<usize> = (0..channels).collect();
        if mains.amplitude_uv > 0.0 {
            let mut rng = stream(seed, Stream::Mains, 0);
            let mut params = BTreeMap::new();
            params.insert("hz".to_string(), mains.hz);
            for (k, &rel) in mains.harmonics.iter().enumerate() {
                let phase = uniform(&mut rng, [0.0, TAU]);
                if rel > 0.0 {
                    sines.push(Sine::new(
                        mains.hz * (k + 1) as f64,
                        fs,
                        phase,
                        mains.amplitude_uv * rel,
                    ));
                    params.insert(format!("harmonic_{}", k + 1), rel);
                }
            }
            records.push(ArtefactRecord {
                kind: ArtefactKind::Mains,
                start_s: 0.0,
                end_s: seconds,
                channels: all.clone(),
                amplitude_uv: mains.amplitude_uv,
                params,
            });
        }
        if wander.amplitude_uv > 0.0 {
            let mut rng = stream(seed, Stream::Wander, 0);
            let mut params = BTreeMap::new();
            for k in 0..3 {
                let f = uniform(&mut rng, wander.freq_hz);
                let phase = uniform(&mut rng, [0.0, TAU]);
                sines.push(Sine::new(f, fs, phase, wander.amplitude_uv));
                params.insert(format!("freq_{}_hz", k + 1), f);
            }
            records.push(ArtefactRecord {
                kind: ArtefactKind::BaselineWander,
                start_s: 0.0,
                end_s: seconds,
                channels: all,
                amplitude_uv: wander.amplitude_uv,
                params,
            });
        }
        (
            Continuous {
                sines,
                scratch: Vec::new(),
            },
            records,
        )
    }

    /// Whether there is anything to add.
    pub(crate) fn is_empty(&self) -> bool {
        self.sines.is_empty()
    }

    /// Computes samples `n0 .. n0 + len` into an internal buffer and returns it.
    pub(crate) fn block(&mut self, n0: u64, len: usize) -> &[f64] {
        self.scratch.clear();
        self.scratch.resize(len, 0.0);
        for s in &mut self.sines {
            s.add(n0, &mut self.scratch);
        }
        &self.scratch
    }

    /// Largest possible magnitude, µV.
    pub(crate) fn bound(&self) -> f64 {
        self.sines.iter().map(|s| s.amp).sum()
    }
}

/// A finite artefact waveform placed at a sample.
pub(crate) struct Transient {
    /// First sample.
    pub start: u64,
    /// Channels it appears on, with the factor applied there.
    pub channels: Vec<(usize, f32)>,
    /// The waveform, µV.
    pub wave: Vec<f32>,
    /// Its truth record.
    pub record: ArtefactRecord,
}

/// A stream of transients in order of start.
pub(crate) trait TransientSource: Send {
    fn next(&mut self) -> Option<Transient>;
    /// Largest magnitude it can produce, µV.
    fn bound(&self) -> f64;
}

/// Movement artefacts.
pub(crate) struct Movement {
    rng: ChaCha8Rng,
    spec: MovementSpec,
    fs: f64,
    seconds: f64,
    channels: usize,
    t: f64,
}

impl Movement {
    pub(crate) fn new(
        seed: u64,
        spec: &MovementSpec,
        fs: f64,
        seconds: f64,
        channels: usize,
    ) -> Movement {
        Movement {
            rng: stream(seed, Stream::Movement, 0),
            spec: spec.clone(),
            fs,
            seconds,
            channels,
            t: 0.0,
        }
    }
}

impl TransientSource for Movement {
    fn next(&mut self) -> Option<Transient> {
        self.t += exponential(&mut self.rng, 60.0 / self.spec.rate_per_min);
        let d = uniform(&mut self.rng, self.spec.duration_s);
        let amp = uniform(&mut self.rng, self.spec.amplitude_uv);
        let sign = if self.rng.random::<bool>() { 1.0 } else { -1.0 };
        let phi = uniform(&mut self.rng, [0.0, TAU]);
        let factors: Vec<(usize, f32)> = (0..self.channels)
            .map(|c| {
                (
                    c,
                    if c == 0 {
                        1.0
                    } else {
                        uniform(&mut self.rng, [0.5, 1.0]) as f32
                    },
                )
            })
            .collect();
        // Artefacts, like events, are only started when they end inside the recording.
        if self.t + d >= self.seconds {
            return None;
        }
        let start = (self.t * self.fs).round() as u64;
        let len = ((d * self.fs).round() as usize).max(2);
        let a = sign * amp;
        let wave = (0..len)
            .map(|i| {
                let u = i as f64 / (len - 1) as f64;
                (a * (TAU * u + phi).sin() * (std::f64::consts::PI * u).sin().powi(2)) as f32
            })
            .collect();
        let mut params = BTreeMap::new();
        params.insert("duration_s".to_string(), d);
        params.insert("signed_amplitude_uv".to_string(), a);
        Some(Transient {
            start,
            channels: factors,
            wave,
            record: ArtefactRecord {
                kind: ArtefactKind::Movement,
                start_s: start as f64 / self.fs,
                end_s: (start + len as u64) as f64 / self.fs,
                channels: (0..self.channels).collect(),
                amplitude_uv: amp,
                params,
            },
        })
    }

    fn bound(&self) -> f64 {
        if self.spec.rate_per_min > 0.0 {
            self.spec.amplitude_uv[1]
        } else {
            0.0
        }
    }
}

/// Decay lengths kept after a pop's step.
const POP_DECAYS: f64 = 8.0;

/// Electrode pops on one channel.
pub(crate) struct Pops {
    rng: ChaCha8Rng,
    spec: PopSpec,
    fs: f64,
    seconds: f64,
    channel: usize,
    t: f64,
}

impl Pops {
    pub(crate) fn new(seed: u64, spec: &PopSpec, fs: f64, seconds: f64, channel: usize) -> Pops {
        Pops {
            rng: stream(seed, Stream::Pops, channel as u64),
            spec: spec.clone(),
            fs,
            seconds,
            channel,
            t: 0.0,
        }
    }
}

impl TransientSource for Pops {
    fn next(&mut self) -> Option<Transient> {
        self.t += exponential(&mut self.rng, 60.0 / self.spec.rate_per_min);
        let tau = uniform(&mut self.rng, self.spec.decay_ms) * 1e-3;
        let amp = uniform(&mut self.rng, self.spec.amplitude_uv);
        let sign = if self.rng.random::<bool>() { 1.0 } else { -1.0 };
        let d = POP_DECAYS * tau;
        if self.t + d >= self.seconds {
            return None;
        }
        let start = (self.t * self.fs).round() as u64;
        let len = ((d * self.fs).round() as usize).max(2);
        let a = sign * amp;
        let wave = (0..len)
            .map(|i| (a * (-(i as f64) / (tau * self.fs)).exp()) as f32)
            .collect();
        let mut params = BTreeMap::new();
        params.insert("decay_ms".to_string(), tau * 1e3);
        params.insert("signed_amplitude_uv".to_string(), a);
        Some(Transient {
            start,
            channels: vec![(self.channel, 1.0)],
            wave,
            record: ArtefactRecord {
                kind: ArtefactKind::ElectrodePop,
                start_s: start as f64 / self.fs,
                end_s: (start + len as u64) as f64 / self.fs,
                channels: vec![self.channel],
                amplitude_uv: amp,
                params,
            },
        })
    }

    fn bound(&self) -> f64 {
        if self.spec.rate_per_min > 0.0 {
            self.spec.amplitude_uv[1]
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_is_block_independent_and_accurate() {
        let fs = 20_000.0;
        let mut a = Sine::new(50.0, fs, 0.3, 2.0);
        let mut b = Sine::new(50.0, fs, 0.3, 2.0);
        let n = 10_000;
        let mut whole = vec![0.0; n];
        a.add(0, &mut whole);
        let mut parts = vec![0.0; n];
        let mut i = 0;
        for len in [1usize, 7, 1000, 3, 4096].iter().cycle() {
            if i >= n {
                break;
            }
            let l = (*len).min(n - i);
            b.add(i as u64, &mut parts[i..i + l]);
            i += l;
        }
        assert_eq!(whole, parts);
        for (k, v) in whole.iter().enumerate() {
            let exact = 2.0 * (TAU * 50.0 * k as f64 / fs + 0.3).sin();
            // Recursion over at most RESYNC steps drifts by a few ulps per step.
            assert!((v - exact).abs() < 1e-9, "{k}: {v} vs {exact}");
        }
    }

    #[test]
    fn noise_rms_after_the_band_is_the_target() {
        let fs = 2048.0;
        let band = Band::new([20.0, 450.0], fs);
        let mut n = Noise::new(1, 0, &band, fs, 10.0);
        let mut x = vec![0.0f32; 400_000];
        n.add(&mut x);
        let rms = (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
        // 400 000 samples of band-limited noise (≈ 170 000 independent): the rms estimate's
        // relative standard error is ≈ 1/√(2·170 000) ≈ 0.2 %; allow 1 %.
        assert!((rms - 10.0).abs() < 0.1, "{rms}");
    }
}
