//! Butterworth design as second-order sections, following `scipy.signal.butter(N, Wn,
//! btype, fs=fs, output='sos')` step by step (scipy 1.17, `scipy/signal/_filter_design.py`):
//!
//! 1. analog prototype `buttap(N)`: no zeros, poles `-exp(iπm/(2N))` for
//!    `m = -N+1, -N+3, …, N-1`, gain 1;
//! 2. pre-warp each band edge `f` to `ω = 4·tan(π·f/fs)` (scipy designs at an internal
//!    rate of 2, so `2·fs_int·tan(π·Wn/fs_int)` with `Wn = 2f/fs`);
//! 3. frequency transform `lp2lp_zpk` / `lp2hp_zpk` / `lp2bp_zpk` / `lp2bs_zpk`;
//! 4. `bilinear_zpk` at the internal rate 2;
//! 5. `zpk2sos` with its default (`'nearest'`) pairing: poles closest to the unit circle go
//!    to the *last* sections, each pole pair takes its nearest zeros, the gain goes into the
//!    first section.
//!
//! The pairing only changes rounding, not the overall response; it is kept close to
//! scipy's so that coefficients can be compared when a test wants to.

use super::complex::C64;
use super::sos::{Section, Sos};
use crate::{Error, Result};

/// Highest order [`butter`] accepts: beyond it the design is numerically poor and no EMG
/// use needs it.
pub const MAX_ORDER: usize = 24;

/// Which band a Butterworth filter keeps; edges in Hz.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Band {
    /// Keep below the edge.
    LowPass(f64),
    /// Keep above the edge.
    HighPass(f64),
    /// Keep between the two edges (low, high).
    BandPass(f64, f64),
    /// Remove between the two edges (low, high).
    BandStop(f64, f64),
}

/// Designs an order-`order` digital Butterworth filter for a signal sampled at `rate` Hz.
///
/// Band-pass and band-stop filters have `2·order` poles, as in scipy. Errors
/// ([`Error::Config`]) name the offending number and the limit it breaks.
pub fn butter(order: usize, band: Band, rate: f64) -> Result<Sos> {
    if order == 0 || order > MAX_ORDER {
        return Err(Error::config(format!(
            "filter: order {order} is not between 1 and {MAX_ORDER}"
        )));
    }
    if !(rate.is_finite() && rate > 0.0) {
        return Err(Error::config(format!(
            "filter: sampling rate {rate} Hz is not a positive number"
        )));
    }
    let nyquist = rate / 2.0;
    let check = |f: f64, what: &str| -> Result<()> {
        if !(f.is_finite() && f > 0.0) {
            return Err(Error::config(format!(
                "filter: {what} {f} Hz is not a positive frequency"
            )));
        }
        if f >= nyquist {
            return Err(Error::config(format!(
                "filter: {what} {f} Hz is not below the Nyquist frequency {nyquist} Hz of a {rate} Hz recording"
            )));
        }
        Ok(())
    };
    match band {
        Band::LowPass(f) => check(f, "low-pass edge")?,
        Band::HighPass(f) => check(f, "high-pass edge")?,
        Band::BandPass(lo, hi) | Band::BandStop(lo, hi) => {
            check(lo, "lower band edge")?;
            check(hi, "upper band edge")?;
            if lo >= hi {
                return Err(Error::config(format!(
                    "filter: lower band edge {lo} Hz is not below the upper band edge {hi} Hz"
                )));
            }
        }
    }

    Ok(design(order, band, rate))
}

/// [`butter`] without the checks: the caller guarantees `1 ≤ order ≤ MAX_ORDER`, a positive
/// rate and edges in `(0, rate/2)` in increasing order (a [`crate::dsp::ValidFilterConfig`]
/// does).
pub(crate) fn design(order: usize, band: Band, rate: f64) -> Sos {
    // 1. Analog prototype.
    let n = order as i64;
    let p: Vec<C64> = (0..n)
        .map(|i| {
            let m = (-n + 1 + 2 * i) as f64;
            -C64::cis(std::f64::consts::PI * m / (2.0 * n as f64))
        })
        .collect();
    let z: Vec<C64> = Vec::new();
    let k = 1.0;

    // 2. Pre-warp at the internal rate fs_int = 2.
    let warp = |f: f64| 4.0 * (std::f64::consts::PI * f / rate).tan();

    // 3. Frequency transformation.
    let (z, p, k) = match band {
        Band::LowPass(f) => lp2lp(&z, &p, k, warp(f)),
        Band::HighPass(f) => lp2hp(&z, &p, k, warp(f)),
        Band::BandPass(lo, hi) => {
            let (w1, w2) = (warp(lo), warp(hi));
            lp2bp(&z, &p, k, (w1 * w2).sqrt(), w2 - w1)
        }
        Band::BandStop(lo, hi) => {
            let (w1, w2) = (warp(lo), warp(hi));
            lp2bs(&z, &p, k, (w1 * w2).sqrt(), w2 - w1)
        }
    };

    // 4. Bilinear transform at the internal rate 2.
    let (z, p, k) = bilinear(&z, &p, k, 2.0);

    // 5. Pair into sections.
    zpk2sos(&z, &p, k)
}

fn prod(v: &[C64]) -> C64 {
    v.iter().fold(C64::real(1.0), |acc, &x| acc * x)
}

fn lp2lp(z: &[C64], p: &[C64], k: f64, wo: f64) -> (Vec<C64>, Vec<C64>, f64) {
    let degree = p.len() - z.len();
    (
        z.iter().map(|&x| x * wo).collect(),
        p.iter().map(|&x| x * wo).collect(),
        k * wo.powi(degree as i32),
    )
}

fn lp2hp(z: &[C64], p: &[C64], k: f64, wo: f64) -> (Vec<C64>, Vec<C64>, f64) {
    let degree = p.len() - z.len();
    let mut zh: Vec<C64> = z.iter().map(|&x| C64::real(wo) / x).collect();
    let ph: Vec<C64> = p.iter().map(|&x| C64::real(wo) / x).collect();
    zh.extend(std::iter::repeat_n(C64::real(0.0), degree));
    let neg_z: Vec<C64> = z.iter().map(|&x| -x).collect();
    let neg_p: Vec<C64> = p.iter().map(|&x| -x).collect();
    let kh = k * (prod(&neg_z) / prod(&neg_p)).re;
    (zh, ph, kh)
}

fn lp2bp(z: &[C64], p: &[C64], k: f64, wo: f64, bw: f64) -> (Vec<C64>, Vec<C64>, f64) {
    let degree = p.len() - z.len();
    let split = |v: &[C64]| -> Vec<C64> {
        let lp: Vec<C64> = v.iter().map(|&x| x * (bw / 2.0)).collect();
        let root = |x: C64| (x * x - C64::real(wo * wo)).sqrt();
        let mut out: Vec<C64> = lp.iter().map(|&x| x + root(x)).collect();
        out.extend(lp.iter().map(|&x| x - root(x)));
        out
    };
    let mut zb = split(z);
    let pb = split(p);
    zb.extend(std::iter::repeat_n(C64::real(0.0), degree));
    (zb, pb, k * bw.powi(degree as i32))
}

fn lp2bs(z: &[C64], p: &[C64], k: f64, wo: f64, bw: f64) -> (Vec<C64>, Vec<C64>, f64) {
    let degree = p.len() - z.len();
    let split = |v: &[C64]| -> Vec<C64> {
        let hp: Vec<C64> = v.iter().map(|&x| C64::real(bw / 2.0) / x).collect();
        let root = |x: C64| (x * x - C64::real(wo * wo)).sqrt();
        let mut out: Vec<C64> = hp.iter().map(|&x| x + root(x)).collect();
        out.extend(hp.iter().map(|&x| x - root(x)));
        out
    };
    let mut zb = split(z);
    let pb = split(p);
    zb.extend(std::iter::repeat_n(C64::new(0.0, wo), degree));
    zb.extend(std::iter::repeat_n(C64::new(0.0, -wo), degree));
    let neg_z: Vec<C64> = z.iter().map(|&x| -x).collect();
    let neg_p: Vec<C64> = p.iter().map(|&x| -x).collect();
    let kb = k * (prod(&neg_z) / prod(&neg_p)).re;
    (zb, pb, kb)
}

fn bilinear(z: &[C64], p: &[C64], k: f64, fs: f64) -> (Vec<C64>, Vec<C64>, f64) {
    let degree = p.len() - z.len();
    let fs2 = C64::real(2.0 * fs);
    let mut zz: Vec<C64> = z.iter().map(|&x| (fs2 + x) / (fs2 - x)).collect();
    let pz: Vec<C64> = p.iter().map(|&x| (fs2 + x) / (fs2 - x)).collect();
    zz.extend(std::iter::repeat_n(C64::real(-1.0), degree));
    let num: Vec<C64> = z.iter().map(|&x| fs2 - x).collect();
    let den: Vec<C64> = p.iter().map(|&x| fs2 - x).collect();
    let kz = k * (prod(&num) / prod(&den)).re;
    (zz, pz, kz)
}

/// scipy's `_cplxreal`: one representative (positive imaginary part) of each conjugate
/// pair, sorted by real part then |imag|, followed by the real values (imag set to 0),
/// sorted. Conjugate partners are assumed present (they are, by construction here).
fn cplxreal(v: &[C64]) -> Vec<C64> {
    let tol = 100.0 * f64::EPSILON;
    let mut complex: Vec<C64> = Vec::new();
    let mut real: Vec<C64> = Vec::new();
    for &x in v {
        if x.im.abs() <= tol * x.abs() {
            real.push(C64::real(x.re));
        } else if x.im > 0.0 {
            complex.push(x);
        }
    }
    complex.sort_by(|a, b| {
        a.re.total_cmp(&b.re)
            .then(a.im.abs().total_cmp(&b.im.abs()))
    });
    real.sort_by(|a, b| a.re.total_cmp(&b.re));
    complex.extend(real);
    complex
}

fn is_real(x: C64) -> bool {
    x.im == 0.0
}

/// Index of the element closest to the unit circle (first one on ties, like `argmin`).
fn idx_worst(v: &[C64]) -> usize {
    let mut best = 0;
    let mut best_d = f64::INFINITY;
    for (i, &x) in v.iter().enumerate() {
        let d = (1.0 - x.abs()).abs();
        if d < best_d {
            best_d = d;
            best = i;
        }
    }
    best
}

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Any,
    Real,
    Complex,
}

/// scipy's `_nearest_real_complex_idx`: the element of `from` nearest to `to` that is
/// real, complex or either.
fn nearest(from: &[C64], to: C64, which: Which) -> usize {
    let mut order: Vec<usize> = (0..from.len()).collect();
    order.sort_by(|&a, &b| (from[a] - to).abs().total_cmp(&(from[b] - to).abs()));
    order
        .into_iter()
        .find(|&i| match which {
            Which::Any => true,
            Which::Real => is_real(from[i]),
            Which::Complex => !is_real(from[i]),
        })
        .unwrap_or(0)
}

/// A section from explicit zeros and poles (a complex entry stands for itself; callers
/// pass both members of a conjugate pair), right-aligned like scipy's `_single_zpksos`.
fn single_section(z: &[C64], p: &[C64]) -> Section {
    fn poly(r: &[C64]) -> Vec<f64> {
        let mut c = vec![C64::real(1.0)];
        for &x in r {
            let mut next = vec![C64::real(0.0); c.len() + 1];
            for (i, &ci) in c.iter().enumerate() {
                next[i] = next[i] + ci;
                next[i + 1] = next[i + 1] - ci * x;
            }
            c = next;
        }
        c.into_iter().map(|x| x.re).collect()
    }
    let (b, a) = (poly(z), poly(p));
    let mut s = Section {
        b: [0.0; 3],
        a: [0.0; 3],
    };
    s.b[3 - b.len()..].copy_from_slice(&b);
    s.a[3 - a.len()..].copy_from_slice(&a);
    s
}

/// scipy's `zpk2sos(z, p, k, pairing='nearest')` for a digital filter with at least as
/// many poles as zeros.
fn zpk2sos(z: &[C64], p: &[C64], k: f64) -> Sos {
    let mut z = z.to_vec();
    let mut p = p.to_vec();
    if z.len() < p.len() {
        z.resize(p.len(), C64::real(0.0));
    }
    if p.len() < z.len() {
        p.resize(z.len(), C64::real(0.0));
    }
    let n_sections = p.len().div_ceil(2);
    if p.len() % 2 == 1 {
        p.push(C64::real(0.0));
        z.push(C64::real(0.0));
    }
    let mut z = cplxreal(&z);
    let mut p = cplxreal(&p);
    let mut sections = vec![
        Section {
            b: [0.0; 3],
            a: [0.0; 3],
        };
        n_sections
    ];
    for si in (0..n_sections).rev() {
        let p1 = p.remove(idx_worst(&p));
        let n_real_p = p.iter().filter(|&&x| is_real(x)).count();
        let n_real_z = z.iter().filter(|&&x| is_real(x)).count();
        if is_real(p1) && n_real_p == 0 {
            // Special case (1): last remaining real pole.
            let z1 = z.remove(nearest(&z, p1, Which::Real));
            sections[si] = single_section(&[z1, C64::real(0.0)], &[p1, C64::real(0.0)]);
        } else if p.len() + 1 == z.len() && !is_real(p1) && n_real_p == 1 && n_real_z == 1 {
            // Special case (2): one real pole and one real zero left; this complex pole
            // must take a complex zero.
            let z1 = z.remove(nearest(&z, p1, Which::Complex));
            sections[si] = single_section(&[z1, z1.conj()], &[p1, p1.conj()]);
        } else {
            let p2 = if is_real(p1) {
                let reals: Vec<usize> = (0..p.len()).filter(|&i| is_real(p[i])).collect();
                let sub: Vec<C64> = reals.iter().map(|&i| p[i]).collect();
                p.remove(reals[idx_worst(&sub)])
            } else {
                p1.conj()
            };
            if z.is_empty() {
                sections[si] = single_section(&[], &[p1, p2]);
            } else {
                let z1 = z.remove(nearest(&z, p1, Which::Any));
                if !is_real(z1) {
                    sections[si] = single_section(&[z1, z1.conj()], &[p1, p2]);
                } else if z.is_empty() {
                    sections[si] = single_section(&[z1], &[p1, p2]);
                } else {
                    let z2 = z.remove(nearest(&z, p1, Which::Real));
                    sections[si] = single_section(&[z1, z2], &[p1, p2]);
                }
            }
        }
    }
    for b in &mut sections[0].b {
        *b *= k;
    }
    Sos::new(sections)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Rounding of a design computed in a different order than scipy's numpy code.
    const COEF_TOL: f64 = 1e-12;

    #[test]
    fn lowpass_order2_matches_closed_form() {
        // Bilinear 2nd-order Butterworth low-pass, with K = tan(π f/fs):
        // b = K²/(1+√2K+K²)·[1,2,1], a = [1, 2(K²-1)/(1+√2K+K²), (1-√2K+K²)/(1+√2K+K²)].
        let (f, fs) = (1000.0, 8000.0);
        let sos = butter(2, Band::LowPass(f), fs).unwrap();
        let kk = (std::f64::consts::PI * f / fs).tan();
        let norm = 1.0 + std::f64::consts::SQRT_2 * kk + kk * kk;
        let s = sos.sections()[0];
        let b0 = kk * kk / norm;
        assert!((s.b[0] - b0).abs() < COEF_TOL);
        assert!((s.b[1] - 2.0 * b0).abs() < COEF_TOL);
        assert!((s.b[2] - b0).abs() < COEF_TOL);
        assert!((s.a[1] - 2.0 * (kk * kk - 1.0) / norm).abs() < COEF_TOL);
        assert!((s.a[2] - (1.0 - std::f64::consts::SQRT_2 * kk + kk * kk) / norm).abs() < COEF_TOL);
    }

    #[test]
    fn gains_at_edges_are_minus_3_db() {
        let fs = 20_000.0;
        for order in 1..=8 {
            for band in [
                Band::LowPass(1000.0),
                Band::HighPass(20.0),
                Band::BandPass(20.0, 9000.0),
                Band::BandStop(45.0, 55.0),
            ] {
                let sos = butter(order, band, fs).unwrap();
                let edges: Vec<f64> = match band {
                    Band::LowPass(f) | Band::HighPass(f) => vec![f],
                    Band::BandPass(a, b) | Band::BandStop(a, b) => vec![a, b],
                };
                for f in edges {
                    let g = sos.response(f, fs).abs();
                    assert!(
                        (g - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9,
                        "order {order} {band:?}: |H({f})| = {g}"
                    );
                }
                let n_expected = match band {
                    Band::LowPass(_) | Band::HighPass(_) => order.div_ceil(2),
                    _ => order,
                };
                assert_eq!(sos.sections().len(), n_expected);
                assert!(sos.max_pole_radius() < 1.0);
            }
        }
    }

    #[test]
    fn passband_and_stopband() {
        let fs = 20_000.0;
        let sos = butter(4, Band::BandPass(20.0, 9000.0), fs).unwrap();
        assert!((sos.response(1000.0, fs).abs() - 1.0).abs() < 1e-6);
        assert!(sos.response(0.0, fs).abs() < 1e-12);
        assert!(sos.response(10_000.0, fs).abs() < 1e-9);
        // The band-stop's zeros sit at the geometric centre of the *pre-warped* edges,
        // which is within a few mHz of 50 Hz here.
        let notch = butter(2, Band::BandStop(49.0, 51.0), fs).unwrap();
        assert!(notch.response(50.0, fs).abs() < 1e-2);
        assert!((notch.response(100.0, fs).abs() - 1.0).abs() < 1e-3);
    }

    #[test]
    fn bad_parameters_name_the_numbers() {
        let e = butter(4, Band::LowPass(12_000.0), 20_000.0).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Config(_)));
        assert!(
            msg.contains("12000 Hz") && msg.contains("10000 Hz"),
            "{msg}"
        );
        let msg = butter(0, Band::LowPass(10.0), 100.0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("order 0"), "{msg}");
        let msg = butter(2, Band::BandPass(300.0, 100.0), 1000.0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("300 Hz") && msg.contains("100 Hz"), "{msg}");
        let msg = butter(2, Band::HighPass(f64::NAN), 1000.0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("NaN"), "{msg}");
    }
}
