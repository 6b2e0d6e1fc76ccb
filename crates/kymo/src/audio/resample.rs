//! Band-limited resampling by any ratio: windowed-sinc interpolation, streamed.
//!
//! Each output sample `k` sits at input position `x = k · in/out`; its value is the sum of
//! the input samples within the kernel's reach of `x`, weighted by a Kaiser-windowed sinc
//! whose cut-off is [`ROLLOFF`] × the lower of the two Nyquist frequencies (so
//! downsampling removes what the new rate cannot hold instead of folding it back).
//!
//! The weights depend only on the fractional part of `x`, so they are computed once for
//! a bank of phases: exactly the ratio's denominator when the ratio is a fraction with a
//! small one (20 kHz → 44.1 kHz is 200/441: 441 phases, exact), else [`MAX_PHASES`]
//! phases with the nearest one used (a timing error of at most 1/(2·[`MAX_PHASES`]) of an
//! input sample). Each output sample is then one dot product. Input may arrive in blocks
//! of any size: the output does not depend on how it was cut. Samples before the first
//! and after the last are zero.
//!
//! Kernel: `h(t) = 2f · sinc(2f·t) · I0(β·√(1 − (t/T)²)) / I0(β)` for `|t| < T`, with `f`
//! the cut-off in cycles per input sample and `T = ZERO_CROSSINGS / (2f)` (J. F. Kaiser,
//! "Nonrecursive digital filter design using the I0-sinh window function", Proc. IEEE
//! ISCAS 1974; the design of libsamplerate's and rubato's sinc interpolators).

/// Zero crossings of the sinc on each side (kymo: 32 gives a transition band of about
/// 0.05 × Nyquist at β = 8.6).
pub const ZERO_CROSSINGS: usize = 32;
/// Kaiser β (8.6: side lobes below −85 dB).
pub const KAISER_BETA: f64 = 8.6;
/// Cut-off as a fraction of the lower Nyquist frequency (kymo: leaves the window's
/// transition band room below Nyquist).
pub const ROLLOFF: f64 = 0.95;
/// Most phases in the bank (kymo: a timing error below 1/8192 of an input sample, an
/// error below −65 dB even at the top of the band).
pub const MAX_PHASES: usize = 4096;
/// Most weights in the bank (kymo: 8 MB of f32; extreme downsampling ratios, whose kernel
/// is long, get fewer phases).
pub const MAX_BANK: usize = 2 << 20;

/// A streaming resampler from `in_rate` to `out_rate` Hz.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Kernel reach on each side, input samples: output at `x` uses inputs
    /// `floor(x) − reach + 1 ..= floor(x) + reach`.
    reach: usize,
    /// Phases in the bank.
    phases: usize,
    /// `phases` rows of `2·reach` weights; row `p` is for fractional position `p/phases`.
    bank: Vec<f32>,
    /// Pending input; `buf[0]` is input sample `buf_start`.
    buf: Vec<f32>,
    buf_start: u64,
    /// Input samples seen.
    n_in: u64,
    /// Next output sample.
    next: u64,
}

/// The modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// The denominator `q ≤ max` of `ratio` when it is a fraction `p/q`, else `None`.
fn denominator(ratio: f64, max: usize) -> Option<usize> {
    (1..=max).find(|&q| {
        let p = ratio * q as f64;
        (p - p.round()).abs() < 1e-9 * p.max(1.0)
    })
}

impl Resampler {
    /// A resampler from `in_rate` to `out_rate` Hz (both positive and finite; the caller
    /// checks).
    pub fn new(in_rate: f64, out_rate: f64) -> Resampler {
        let step = in_rate / out_rate;
        // Cut-off in cycles per input sample, and the kernel's half-width.
        let fc = 0.5 * ROLLOFF * (out_rate / in_rate).min(1.0);
        let half = ZERO_CROSSINGS as f64 / (2.0 * fc);
        let reach = half.ceil() as usize + 1;
        let taps = 2 * reach;
        let cap = (MAX_BANK / taps).clamp(1, MAX_PHASES);
        let phases = denominator(step, cap).unwrap_or(cap);
        let i0b = bessel_i0(KAISER_BETA);
        let kernel = |t: f64| -> f64 {
            let t = t.abs();
            if t >= half {
                return 0.0;
            }
            let arg = 2.0 * fc * t;
            let sinc = if arg == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
            };
            let r = t / half;
            2.0 * fc * sinc * bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0b
        };
        let mut bank = Vec::with_capacity(phases * taps);
        for p in 0..phases {
            let frac = p as f64 / phases as f64;
            // Tap j is input floor(x) − reach + 1 + j, at distance x − i.
            for j in 0..taps {
                let i = j as f64 - reach as f64 + 1.0;
                bank.push(kernel(frac - i) as f32);
            }
        }
        Resampler {
            step,
            reach,
            phases,
            bank,
            buf: Vec::new(),
            buf_start: 0,
            n_in: 0,
            next: 0,
        }
    }

    /// Output samples for `n_in` input samples: `ceil(n_in · out/in)`.
    pub fn output_len(&self, n_in: u64) -> u64 {
        (n_in as f64 / self.step - 1e-9).ceil().max(0.0) as u64
    }

    /// Integer part and phase of output `k`'s input position.
    fn position(&self, k: u64) -> (u64, usize) {
        let x = k as f64 * self.step;
        let mut base = x.floor();
        let mut p = ((x - base) * self.phases as f64).round() as usize;
        if p >= self.phases {
            p -= self.phases;
            base += 1.0;
        }
        (base as u64, p)
    }

    /// Output sample `k` from the buffer (zeros outside the input).
    fn sample(&self, base: u64, phase: usize) -> f32 {
        let taps = 2 * self.reach;
        let w = &self.bank[phase * taps..(phase + 1) * taps];
        // Tap j reads input base − reach + 1 + j.
        let first = base as i64 - self.reach as i64 + 1;
        let lo = (self.buf_start as i64 - first).max(0) as usize;
        let hi = ((self.n_in as i64 - first).max(0) as usize).min(taps);
        if lo >= hi {
            return 0.0;
        }
        let start = (first + lo as i64 - self.buf_start as i64) as usize;
        let x = &self.buf[start..start + (hi - lo)];
        dot(x, &w[lo..hi])
    }

    /// Feeds `input` and appends every output sample that no longer depends on later
    /// input to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.buf.extend_from_slice(input);
        self.n_in += input.len() as u64;
        self.emit(out, false);
    }

    /// Ends the input: appends the remaining output samples (up to
    /// [`Resampler::output_len`] of all the input).
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        self.emit(out, true);
    }

    fn emit(&mut self, out: &mut Vec<f32>, last: bool) {
        let total = self.output_len(self.n_in);
        while self.next < total {
            let (base, phase) = self.position(self.next);
            if !last && base + self.reach as u64 >= self.n_in {
                break;
            }
            out.push(self.sample(base, phase));
            self.next += 1;
        }
        // Drop input no later output needs.
        let (base, _) = self.position(self.next);
        let keep_from = (base + 1).saturating_sub(self.reach as u64);
        if keep_from > self.buf_start {
            let drop = ((keep_from - self.buf_start) as usize).min(self.buf.len());
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
        }
    }
}

/// Dot product in eight lanes (vectorises), summed in f64 at the end.
fn dot(x: &[f32], w: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut xc = x.chunks_exact(8);
    let mut wc = w.chunks_exact(8);
    for (a, b) in (&mut xc).zip(&mut wc) {
        for l in 0..8 {
            acc[l] += a[l] * b[l];
        }
    }
    let mut s: f64 = acc.iter().map(|v| *v as f64).sum();
    for (a, b) in xc.remainder().iter().zip(wc.remainder()) {
        s += (*a as f64) * (*b as f64);
    }
    s as f32
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn resample(x: &[f32], from: f64, to: f64, block: usize) -> Vec<f32> {
        let mut r = Resampler::new(from, to);
        let mut out = Vec::new();
        for c in x.chunks(block.max(1)) {
            r.push(c, &mut out);
        }
        r.finish(&mut out);
        out
    }

    fn tone(f: f64, rate: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (std::f64::consts::TAU * f * i as f64 / rate).sin() as f32)
            .collect()
    }

    /// Amplitude of the component at `f` (least squares on sine and cosine), ignoring
    /// `skip` samples at each end (the kernel's reach into the zero padding).
    fn amplitude(y: &[f32], f: f64, rate: f64, skip: usize) -> f64 {
        let (mut s, mut c) = (0.0, 0.0);
        let part = &y[skip..y.len() - skip];
        for (i, &v) in part.iter().enumerate() {
            let ph = std::f64::consts::TAU * f * (i + skip) as f64 / rate;
            s += v as f64 * ph.sin();
            c += v as f64 * ph.cos();
        }
        2.0 * (s * s + c * c).sqrt() / part.len() as f64
    }

    #[test]
    fn a_tone_keeps_its_frequency_and_amplitude() {
        // 1 kHz at 20 kHz → 44.1 kHz: the same sinusoid (amplitude within 0.01 dB, the
        // pass band's ripple at β = 8.6).
        let x = tone(1000.0, 20_000.0, 20_000);
        let y = resample(&x, 20_000.0, 44_100.0, 4096);
        assert_eq!(y.len(), 44_100);
        let a = amplitude(&y, 1000.0, 44_100.0, 200);
        assert!((a - 1.0).abs() < 1e-3, "{a}");
        // Sample by sample, against the exact sinusoid.
        let exact = tone(1000.0, 44_100.0, y.len());
        let err = y[200..y.len() - 200]
            .iter()
            .zip(&exact[200..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 2e-3, "max error {err}");
    }

    #[test]
    fn an_awkward_ratio_uses_the_nearest_phase_accurately() {
        // 20 011 Hz → 44.1 kHz has no small denominator: 4096 quantised phases. A 3 kHz
        // tone still matches the exact sinusoid within 10⁻³ of full scale.
        let rate = 20_011.0;
        let r = Resampler::new(rate, 44_100.0);
        assert_eq!(r.phases, MAX_PHASES);
        assert_eq!(Resampler::new(20_000.0, 44_100.0).phases, 441);
        let x = tone(3000.0, rate, 20_011);
        let y = resample(&x, rate, 44_100.0, 3000);
        let exact = tone(3000.0, 44_100.0, y.len());
        let err = y[200..y.len() - 200]
            .iter()
            .zip(&exact[200..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-3, "max error {err}");
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let x: Vec<f32> = (0..5000)
            .map(|i| ((i * 7919) % 101) as f32 - 50.0)
            .collect();
        let a = resample(&x, 20_000.0, 44_100.0, 5000);
        for b in [1, 7, 333, 4096] {
            assert_eq!(a, resample(&x, 20_000.0, 44_100.0, b), "block {b}");
        }
    }

    #[test]
    fn downsampling_removes_what_the_new_rate_cannot_hold() {
        // A 30 kHz tone at 96 kHz is above 44.1 kHz's Nyquist (22.05 kHz): it must not
        // fold back to 14.1 kHz (at least 80 dB down), while a 10 kHz tone passes.
        let rate = 96_000.0;
        let high = resample(&tone(30_000.0, rate, 96_000), rate, 44_100.0, 8192);
        let alias = amplitude(&high, 44_100.0 - 30_000.0, 44_100.0, 500);
        assert!(alias < 1e-4, "alias {alias}");
        let pass = resample(&tone(10_000.0, rate, 96_000), rate, 44_100.0, 8192);
        let a = amplitude(&pass, 10_000.0, 44_100.0, 500);
        assert!((a - 1.0).abs() < 2e-3, "{a}");
    }

    #[test]
    fn a_spike_train_keeps_its_timing() {
        // Impulses every 37.3 ms at 20 kHz: each output peak lies within half an output
        // sample of its true time.
        let rate = 20_000.0;
        let times: Vec<f64> = (1..40).map(|k| k as f64 * 0.0373).collect();
        let mut x = vec![0.0f32; 32_000];
        for t in &times {
            x[(t * rate).round() as usize] = 1.0;
        }
        let y = resample(&x, rate, 44_100.0, 1000);
        for t in &times {
            let exact = (t * rate).round() / rate * 44_100.0;
            let c = exact.round() as usize;
            let (best, _) = (c - 3..=c + 3)
                .map(|i| (i, y[i]))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            assert!(
                (best as f64 - exact).abs() <= 0.5 + 1e-9,
                "{t}: {best} vs {exact}"
            );
        }
    }

    #[test]
    fn lengths() {
        let r = Resampler::new(20_000.0, 44_100.0);
        assert_eq!(r.output_len(20_000), 44_100);
        assert_eq!(r.output_len(1), 3);
        assert_eq!(r.output_len(0), 0);
        let r = Resampler::new(48_000.0, 44_100.0);
        assert_eq!(r.output_len(48_000), 44_100);
        assert!(resample(&[], 20_000.0, 44_100.0, 10).is_empty());
    }
}
