//! Random streams: one seed, one independent ChaCha8 stream per purpose and index.
//!
//! ChaCha has a 64-bit stream number beside its 256-bit key; `ChaCha8Rng::seed_from_u64(seed)`
//! sets the key and [`stream`] picks the stream `purpose << 56 | index`. So each unit's
//! shape, each source's firing, each channel's noise and each artefact process draws from
//! its own sequence: adding a source or changing the block size never changes what another
//! draws, and the same seed gives the same numbers.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// What a stream is for (its top 8 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Stream {
    /// A unit's waveform and channel gains (index: unit id).
    Unit = 1,
    /// A source's firing (index: source number).
    Source = 2,
    /// One unit's firing inside a multi-unit source (index: unit id).
    UnitFiring = 3,
    /// A channel's background noise (index: channel).
    Noise = 4,
    /// Mains hum phases.
    Mains = 5,
    /// Baseline wander.
    Wander = 6,
    /// Movement artefacts.
    Movement = 7,
    /// Electrode pops (index: channel).
    Pops = 8,
}

/// The stream for `purpose` and `index` under `seed`.
pub(crate) fn stream(seed: u64, purpose: Stream, index: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(((purpose as u64) << 56) | (index & ((1 << 56) - 1)));
    r
}

/// Uniform in `[r[0], r[1]]` (exactly `r[0]` when the range is a point).
pub(crate) fn uniform(rng: &mut ChaCha8Rng, r: [f64; 2]) -> f64 {
    r[0] + (r[1] - r[0]) * rng.random::<f64>()
}

/// Log-uniform in `[r[0], r[1]]` (both positive).
pub(crate) fn log_uniform(rng: &mut ChaCha8Rng, r: [f64; 2]) -> f64 {
    (r[0].ln() + (r[1].ln() - r[0].ln()) * rng.random::<f64>()).exp()
}

/// Uniform integer in `[r[0], r[1]]`.
pub(crate) fn uniform_count(rng: &mut ChaCha8Rng, r: [u32; 2]) -> u32 {
    let span = (r[1] - r[0]) as u64 + 1;
    r[0] + (rng.random::<u64>() % span) as u32
}

/// Standard normal.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample::<f64, _>(StandardNormal)
}

/// Exponential with mean `mean` (inverse CDF of one uniform, so the draw count is fixed).
pub(crate) fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    // 1 − u lies in (0, 1], so the log is finite.
    -(1.0 - rng.random::<f64>()).ln() * mean
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_differ_and_repeat() {
        let a = stream(1, Stream::Unit, 0).next_u64();
        assert_eq!(a, stream(1, Stream::Unit, 0).next_u64());
        assert_ne!(a, stream(1, Stream::Unit, 1).next_u64());
        assert_ne!(a, stream(1, Stream::Source, 0).next_u64());
        assert_ne!(a, stream(2, Stream::Unit, 0).next_u64());
    }
}
