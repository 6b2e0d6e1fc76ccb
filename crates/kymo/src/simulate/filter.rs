//! The recording's band-pass: second-order Butterworth sections.
//!
//! Coefficients from R. Bristow-Johnson's "Cookbook formulae for audio EQ biquad filter
//! coefficients" (bilinear transform, Q = 1/√2 for a Butterworth section). The simulator
//! applies the band to each template (forward and backward, so the potential's peak does not
//! move) and to the background noise (forward only, as hardware would; only its spectrum
//! matters). Kept private: the analysis has its own filter module.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// One biquad section in direct form I with its state.
#[derive(Debug, Clone)]
pub(crate) struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    x1: f64,
    x2: f64,
    y1: f64,
    y2: f64,
}

impl Biquad {
    fn new(b: [f64; 3], a0: f64, a1: f64, a2: f64) -> Biquad {
        Biquad {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [a1 / a0, a2 / a0],
            x1: 0.0,
            x2: 0.0,
            y1: 0.0,
            y2: 0.0,
        }
    }

    /// Butterworth high-pass at `f0` Hz (cookbook HPF, Q = 1/√2).
    pub(crate) fn highpass(f0: f64, fs: f64) -> Biquad {
        let w0 = 2.0 * PI * f0 / fs;
        let (s, c) = w0.sin_cos();
        let alpha = s / (2.0 * FRAC_1_SQRT_2);
        let b0 = (1.0 + c) / 2.0;
        Biquad::new([b0, -(1.0 + c), b0], 1.0 + alpha, -2.0 * c, 1.0 - alpha)
    }

    /// Butterworth low-pass at `f0` Hz (cookbook LPF, Q = 1/√2).
    pub(crate) fn lowpass(f0: f64, fs: f64) -> Biquad {
        let w0 = 2.0 * PI * f0 / fs;
        let (s, c) = w0.sin_cos();
        let alpha = s / (2.0 * FRAC_1_SQRT_2);
        let b0 = (1.0 - c) / 2.0;
        Biquad::new([b0, 1.0 - c, b0], 1.0 + alpha, -2.0 * c, 1.0 - alpha)
    }

    #[inline]
    pub(crate) fn step(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.b[1] * self.x1 + self.b[2] * self.x2
            - self.a[0] * self.y1
            - self.a[1] * self.y2;
        self.x2 = self.x1;
        self.x1 = x;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }

    fn reset(&mut self) {
        self.x1 = 0.0;
        self.x2 = 0.0;
        self.y1 = 0.0;
        self.y2 = 0.0;
    }
}

/// Low-pass edges at or above this fraction of the rate are left out: the section would sit
/// on the Nyquist frequency and do nothing useful (needle: 10 kHz at 20 kHz).
pub(crate) const LOWPASS_OMIT_FRACTION: f64 = 0.45;

/// The recording's band-pass: a high-pass section and, where useful, a low-pass one.
#[derive(Debug, Clone)]
pub(crate) struct Band {
    sections: Vec<Biquad>,
    /// Slowest decay time constant of the sections, s (for padding).
    tau_s: f64,
}

impl Band {
    pub(crate) fn new(band_hz: [f64; 2], fs: f64) -> Band {
        let mut sections = vec![Biquad::highpass(band_hz[0], fs)];
        // A 2nd-order Butterworth section's impulse response decays as exp(−ω0 t / √2).
        let mut tau_s = std::f64::consts::SQRT_2 / (2.0 * PI * band_hz[0]);
        if band_hz[1] < LOWPASS_OMIT_FRACTION * fs {
            sections.push(Biquad::lowpass(band_hz[1], fs));
            tau_s = tau_s.max(std::f64::consts::SQRT_2 / (2.0 * PI * band_hz[1]));
        }
        Band { sections, tau_s }
    }

    /// Samples after which the impulse response has fallen below e⁻¹², about 6e-6 of its
    /// start: the zero padding put around a template before it is filtered.
    pub(crate) fn pad_samples(&self, fs: f64) -> usize {
        (12.0 * self.tau_s * fs).ceil() as usize + 8
    }

    /// Filters one sample through every section (streaming; state kept).
    #[inline]
    pub(crate) fn step(&mut self, x: f64) -> f64 {
        let mut y = x;
        for s in &mut self.sections {
            y = s.step(y);
        }
        y
    }

    /// Zero-phase filtering of a finite signal (forward, then backward), state reset first
    /// and after. The caller pads with zeros.
    pub(crate) fn filtfilt(&mut self, x: &mut [f64]) {
        for s in &mut self.sections {
            s.reset();
        }
        for v in x.iter_mut() {
            *v = self.step(*v);
        }
        for s in &mut self.sections {
            s.reset();
        }
        for v in x.iter_mut().rev() {
            *v = self.step(*v);
        }
        for s in &mut self.sections {
            s.reset();
        }
    }

    /// Sum of the squared impulse response (the noise power gain of the causal filter),
    /// computed by running an impulse until it has decayed.
    pub(crate) fn power_gain(&self, fs: f64) -> f64 {
        let mut f = self.clone();
        for s in &mut f.sections {
            s.reset();
        }
        let n = self.pad_samples(fs) * 2;
        let mut sum = 0.0;
        for i in 0..n {
            let y = f.step(if i == 0 { 1.0 } else { 0.0 });
            sum += y * y;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gain of a Butterworth section at its corner is 1/√2 (−3 dB); far in the pass
    /// band it is 1. Measured as √2 × the rms of a long filtered sine.
    #[test]
    fn butterworth_gains() {
        let fs = 20_000.0;
        let gain = |mut b: Biquad, f: f64| {
            let n = 200_000;
            let mut sum = 0.0;
            for i in 0..n {
                let y = b.step((2.0 * PI * f * i as f64 / fs).sin());
                if i >= n / 2 {
                    sum += y * y;
                }
            }
            (2.0 * sum / (n / 2) as f64).sqrt()
        };
        // Tolerance: 100 000 samples hold whole periods of these frequencies, so the rms of
        // the sampled sine is exact up to the filter's start-up transient, long gone.
        let tol = 1e-3;
        assert!((gain(Biquad::highpass(100.0, fs), 100.0) - FRAC_1_SQRT_2).abs() < tol);
        assert!((gain(Biquad::highpass(100.0, fs), 2000.0) - 1.0).abs() < tol);
        assert!((gain(Biquad::lowpass(1000.0, fs), 1000.0) - FRAC_1_SQRT_2).abs() < tol);
        assert!((gain(Biquad::lowpass(1000.0, fs), 50.0) - 1.0).abs() < tol);
    }

    #[test]
    fn power_gain_of_white_noise_band() {
        // A band-pass 20–450 Hz at 2048 Hz passes roughly (450 − 20) / 1024 of white power.
        let b = Band::new([20.0, 450.0], 2048.0);
        let g = b.power_gain(2048.0);
        assert!(g > 0.3 && g < 0.5, "{g}");
    }
}
