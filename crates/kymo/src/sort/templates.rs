//! Templates: least-squares estimation with overlapping neighbours, and similarity.
//!
//! # Estimation
//!
//! A plain average of a unit's windows is wrong whenever other potentials fall inside them:
//! at 150–300 Hz (neuromyotonic discharges) or in a dense myokymic burst each window holds
//! several neighbours of the same unit, nearly periodic, and their average smears into the
//! template. So the templates of all units are fitted *together*: every selected window `i`
//! is modelled as the sum of its own potential and its labelled neighbours',
//!
//! ```text
//! xᵢ(t) ≈ Σ_c  a_c·T_{u_c}(t − o_c) + b_c·T'_{u_c}(t − o_c)
//! ```
//!
//! (`o_c`: the contributor's offset in the window; `a`, `b`: its fitted amplitude and
//! sub-sample term, held fixed), and the templates minimise `Σᵢ ‖xᵢ − model‖² + λ‖T‖²` — a
//! linear least-squares problem in the template samples, solved by conjugate gradients on
//! the normal equations (CGLS, Hestenes & Stiefel 1952) warm-started from the current
//! templates. For a unit without neighbours it reduces to the amplitude-weighted mean of
//! its windows. A simple "subtract the neighbours and average again" iteration diverges when
//! a window holds more than one neighbour of its own unit; CGLS does not.

use rayon::prelude::*;

use super::fit::derivative;
use super::linalg::{dot, is_pos, sumsq};

/// One potential inside a window: unit, offset of its frame in the window, amplitude and
/// sub-sample term.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Contributor {
    pub unit: usize,
    pub offset: i64,
    pub a: f32,
    pub b: f32,
}

/// A window and the potentials modelled in it.
pub(crate) struct Problem<'a> {
    pub window: &'a [f32],
    pub contributors: Vec<Contributor>,
}

/// Ridge weight, in units of a squared amplitude: like one extra window of zeros per
/// thousand, only to keep never-observed samples finite.
const RIDGE: f64 = 1e-3;

/// `out += A·T` for one window: each contributor adds `a·T + b·∂T` at its offset (over its
/// template's support; the template is zero outside it). `derivs` holds `∂T` of each
/// template ([`derivative`](super::fit::derivative), computed once per product).
fn forward(
    templates: &[Vec<f32>],
    derivs: &[Vec<f32>],
    supports: &[(usize, usize)],
    cs: &[Contributor],
    out: &mut [f32],
) {
    let len = out.len() as i64;
    for c in cs {
        let (t, d) = (&templates[c.unit], &derivs[c.unit]);
        let (lo, hi) = range(supports[c.unit], t.len(), len, c.offset);
        if lo >= hi {
            continue;
        }
        let o = (lo + c.offset) as usize;
        let (lo, hi) = (lo as usize, hi as usize);
        for ((y, tv), dv) in out[o..o + hi - lo]
            .iter_mut()
            .zip(&t[lo..hi])
            .zip(&d[lo..hi])
        {
            *y += c.a * tv + c.b * dv;
        }
    }
}

/// Template samples `[lo, hi)` a contributor at `offset` touches in a window of `len`: its
/// support widened by one sample on each side (∂T is non-zero there), clipped to the frame
/// and the window.
fn range(support: (usize, usize), frame: usize, len: i64, offset: i64) -> (i64, i64) {
    let (s0, s1) = support;
    let lo = (s0 as i64 - 1).max(0).max(-offset);
    let hi = (s1 as i64 + 1).min(frame as i64).min(len - offset);
    (lo, hi)
}

/// `grad += Aᵀ·r` for one window (the exact adjoint of [`forward`] before the support mask,
/// which [`estimate`] applies). Each template sample `j` gathers, in this order, `h(j−1)`,
/// `a·r(j)` and `−h(j+1)` (`h = b·r/2`, the derivative's share), so the sums are the same
/// whatever the loop's form. ([`estimate`] runs it one unit at a time, [`adjoint_one`].)
#[cfg(test)]
fn adjoint(grad: &mut [Vec<f32>], supports: &[(usize, usize)], cs: &[Contributor], r: &[f32]) {
    for c in cs {
        adjoint_one(&mut grad[c.unit], supports[c.unit], c, r);
    }
}

/// [`adjoint`]'s share of one contributor, into its unit's gradient `g`.
fn adjoint_one(g: &mut [f32], support: (usize, usize), c: &Contributor, r: &[f32]) {
    let len = r.len() as i64;
    let (lo, hi) = range(support, g.len(), len, c.offset);
    if lo >= hi {
        return;
    }
    let hb = 0.5 * c.b;
    let v = |tau: i64| r[(tau + c.offset) as usize];
    let inside = |tau: i64| tau >= lo && tau < hi;
    let step = |g: &mut [f32], j: i64| {
        if j < 0 || j >= g.len() as i64 {
            return;
        }
        let x = &mut g[j as usize];
        if inside(j - 1) {
            *x += hb * v(j - 1);
        }
        if inside(j) {
            *x += c.a * v(j);
        }
        if inside(j + 1) {
            *x -= hb * v(j + 1);
        }
    };
    if hi - lo < 3 {
        (lo - 1..=hi).for_each(|j| step(g, j));
        return;
    }
    // Edges one by one, the interior (all three terms present) as one straight loop.
    step(g, lo - 1);
    step(g, lo);
    let o = (lo + c.offset) as usize;
    let n = (hi - lo - 2) as usize;
    let vs = &r[o..o + n + 2];
    for (((x, p), m), q) in g[lo as usize + 1..hi as usize - 1]
        .iter_mut()
        .zip(&vs[..n])
        .zip(&vs[1..n + 1])
        .zip(&vs[2..])
    {
        *x = *x + hb * p + c.a * m - hb * q;
    }
    step(g, hi - 1);
    step(g, hi);
}

fn norm2(v: &[Vec<f32>]) -> f64 {
    v.iter().map(|t| sumsq(t)).sum()
}

/// Zeroes each template outside its support.
fn mask(v: &mut [Vec<f32>], supports: &[(usize, usize)]) {
    for (t, &(s0, s1)) in v.iter_mut().zip(supports) {
        let s1 = s1.min(t.len());
        t[..s0.min(s1)].iter_mut().for_each(|x| *x = 0.0);
        t[s1..].iter_mut().for_each(|x| *x = 0.0);
    }
}

/// Refines `templates` (one frame each) by `iterations` CGLS steps on `problems`; each
/// template is free inside its support `[lo, hi)` and zero outside (which also bounds the
/// cost by the supports, not the window length).
pub(crate) fn estimate(
    templates: &mut [Vec<f32>],
    supports: &[(usize, usize)],
    problems: &[Problem],
    iterations: usize,
) {
    if problems.is_empty() || templates.is_empty() {
        return;
    }
    // Cold start: CGLS from zero converges to the minimum-norm solution, so a component the
    // windows cannot determine (e.g. one that a strictly periodic train of neighbours
    // cancels) is left at zero instead of being inherited from the previous template.
    for t in templates.iter_mut() {
        t.iter_mut().for_each(|v| *v = 0.0);
    }
    let k = templates.len();
    let len = templates[0].len();
    // r = y − A·x = y (x = 0).
    let mut r: Vec<Vec<f32>> = problems.iter().map(|p| p.window.to_vec()).collect();
    // Aᵀ·r, each unit's share in parallel: a unit's sums gather the windows in order, as
    // one loop over the windows would (the same sums on any number of threads).
    let grad = |r: &[Vec<f32>], x: &[Vec<f32>]| -> Vec<Vec<f32>> {
        let mut s: Vec<Vec<f32>> = (0..k)
            .into_par_iter()
            .map(|u| {
                let mut g = vec![0.0f32; len];
                for (p, ri) in problems.iter().zip(r) {
                    for c in p.contributors.iter().filter(|c| c.unit == u) {
                        adjoint_one(&mut g, supports[u], c, ri);
                    }
                }
                g
            })
            .collect();
        for (si, xi) in s.iter_mut().zip(x) {
            for (a, b) in si.iter_mut().zip(xi) {
                *a -= (RIDGE * *b as f64) as f32;
            }
        }
        mask(&mut s, supports);
        s
    };
    let mut s = grad(&r, templates);
    let mut p = s.clone();
    let mut gamma = norm2(&s);
    let gamma0 = gamma;
    let mut q: Vec<Vec<f32>> = problems.iter().map(|p| vec![0.0; p.window.len()]).collect();
    for _ in 0..iterations {
        if !is_pos(gamma - 1e-20 * gamma0.max(1e-30)) {
            break;
        }
        let dp: Vec<Vec<f32>> = p.iter().map(|t| derivative(t)).collect();
        q.par_iter_mut().zip(problems).for_each(|(qi, pr)| {
            qi.iter_mut().for_each(|v| *v = 0.0);
            forward(&p, &dp, supports, &pr.contributors, qi);
        });
        let delta = norm2(&q) + RIDGE * norm2(&p);
        if !is_pos(delta) {
            break;
        }
        let alpha = gamma / delta;
        for (x, pi) in templates.iter_mut().zip(&p) {
            for (a, b) in x.iter_mut().zip(pi) {
                *a += (alpha * *b as f64) as f32;
            }
        }
        for (ri, qi) in r.iter_mut().zip(&q) {
            for (a, b) in ri.iter_mut().zip(qi) {
                *a -= (alpha * *b as f64) as f32;
            }
        }
        s = grad(&r, templates);
        let g2 = norm2(&s);
        let beta = g2 / gamma;
        for (pi, si) in p.iter_mut().zip(&s) {
            for (a, b) in pi.iter_mut().zip(si) {
                *a = b + (beta * *a as f64) as f32;
            }
        }
        gamma = g2;
    }
}

/// Normalised cross-correlation of two frames at the best shift within `±max_shift`
/// (`t2` delayed by the shift), each frame's norm taken over the whole frame (so a shift
/// that pushes part of a template out of the frame lowers the score), and the ratio of the
/// smaller norm to the larger.
pub(crate) fn similarity(t1: &[f32], t2: &[f32], max_shift: usize) -> (f64, i64, f64) {
    let n1 = dot(t1, t1).sqrt();
    let n2 = dot(t2, t2).sqrt();
    if !(n1 > 0.0 && n2 > 0.0) {
        return (0.0, 0, 0.0);
    }
    let len = t1.len().min(t2.len());
    let mut best = (f64::NEG_INFINITY, 0i64);
    let ms = max_shift.min(len.saturating_sub(1)) as i64;
    for s in -ms..=ms {
        // Σ t1[τ] t2[τ − s]
        let c = if s >= 0 {
            let s = s as usize;
            dot(&t1[s..len], &t2[..len - s])
        } else {
            let s = (-s) as usize;
            dot(&t1[..len - s], &t2[s..len])
        };
        if c > best.0 {
            best = (c, s);
        }
    }
    (best.0 / (n1 * n2), best.1, n1.min(n2) / n1.max(n2))
}

/// Shifts that put each extremum of `t` whose magnitude reaches `fraction` of the largest
/// on the alignment point `pre`: `pre − index`, the main extremum first (shift 0 when the
/// template is centred).
pub(crate) fn alignment_offsets(
    t: &[f32],
    pre: usize,
    fraction: f64,
    lo: usize,
    hi: usize,
) -> Vec<i32> {
    let peak = t[lo..hi].iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    let mut out = vec![0i32];
    if !is_pos(peak) {
        return out;
    }
    for i in lo.max(1)..hi.min(t.len().saturating_sub(1)) {
        let v = t[i];
        let is_ext = (v > t[i - 1] && v >= t[i + 1]) || (v < t[i - 1] && v <= t[i + 1]);
        if is_ext && (v.abs() as f64) >= fraction * peak {
            out.push(pre as i32 - i as i32);
        }
    }
    out.sort_unstable_by_key(|o| o.abs());
    out.dedup();
    out
}

/// Moves the content of `t` so that its largest magnitude sits at `pre`; returns the shift
/// applied (content moved later by it), zero-filling what enters the frame.
pub(crate) fn recentre(t: &mut Vec<f32>, pre: usize) -> i64 {
    let (idx, _) = t
        .iter()
        .enumerate()
        .fold((pre, 0.0f32), |(bi, bv), (i, v)| {
            if v.abs() > bv {
                (i, v.abs())
            } else {
                (bi, bv)
            }
        });
    let shift = pre as i64 - idx as i64;
    if shift != 0 {
        let len = t.len() as i64;
        let old = std::mem::take(t);
        *t = (0..len)
            .map(|j| {
                let src = j - shift;
                if src >= 0 && src < len {
                    old[src as usize]
                } else {
                    0.0
                }
            })
            .collect();
    }
    shift
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sort::fit::tests::shape;

    fn adjoint_identity(templates: &[Vec<f32>], cs: &[Contributor], r: &[f32]) -> (f64, f64) {
        let sup = vec![(0, templates[0].len()); templates.len()];
        let mut m = vec![0.0f32; r.len()];
        let derivs: Vec<Vec<f32>> = templates.iter().map(|t| derivative(t)).collect();
        forward(templates, &derivs, &sup, cs, &mut m);
        let lhs = dot(&m, r);
        let mut g = vec![vec![0.0f32; templates[0].len()]; templates.len()];
        adjoint(&mut g, &sup, cs, r);
        let rhs: f64 = g.iter().zip(templates).map(|(a, b)| dot(a, b)).sum();
        (lhs, rhs)
    }

    #[test]
    fn adjoint_is_exact() {
        let len = 30;
        let ts = vec![shape(len, 10, 2.0, 5.0), shape(len, 20, 3.0, -4.0)];
        let r: Vec<f32> = (0..len).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
        let cs = vec![
            Contributor {
                unit: 0,
                offset: 0,
                a: 1.2,
                b: 0.3,
            },
            Contributor {
                unit: 1,
                offset: -7,
                a: 0.8,
                b: -0.2,
            },
            Contributor {
                unit: 0,
                offset: 12,
                a: 0.5,
                b: 0.1,
            },
        ];
        let (l, r) = adjoint_identity(&ts, &cs, &r);
        assert!((l - r).abs() < 1e-3 * l.abs().max(1.0), "{l} vs {r}");
    }

    /// A unit firing every 9 samples in 40-sample windows (four neighbours per window, the
    /// neuromyotonic case): the mean is smeared, the least-squares template is the true one.
    #[test]
    fn periodic_neighbours_are_deconvolved() {
        let len = 40;
        let pre = 20;
        let truth = shape(len, pre, 2.5, -100.0);
        let period = 9i64;
        let n = 60i64;
        // The continuous signal and each spike's window.
        let total = (n * period + 2 * len as i64) as usize;
        let mut sig = vec![0.0f32; total];
        let t0 = len as i64;
        for k in 0..n {
            let c = t0 + k * period;
            for (j, v) in truth.iter().enumerate() {
                sig[(c - pre as i64 + j as i64) as usize] += v;
            }
        }
        let windows: Vec<Vec<f32>> = (0..n)
            .map(|k| {
                let c = t0 + k * period;
                sig[(c - pre as i64) as usize..(c - pre as i64) as usize + len].to_vec()
            })
            .collect();
        let problems: Vec<Problem> = (0..n)
            .map(|k| Problem {
                window: &windows[k as usize],
                contributors: (0..n)
                    .filter(|j| ((j - k) * period).abs() < len as i64)
                    .map(|j| Contributor {
                        unit: 0,
                        offset: (j - k) * period,
                        a: 1.0,
                        b: 0.0,
                    })
                    .collect(),
            })
            .collect();
        let mut mean = vec![0.0f32; len];
        for w in &windows {
            for (m, v) in mean.iter_mut().zip(w) {
                *m += v / n as f32;
            }
        }
        let err = |t: &[f32]| -> f64 {
            t.iter()
                .zip(&truth)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                .sqrt()
                / dot(&truth, &truth).sqrt()
        };
        assert!(
            err(&mean) > 0.3,
            "the mean should be smeared: {}",
            err(&mean)
        );
        let mut ts = vec![mean.clone()];
        estimate(&mut ts, &[(pre - 12, pre + 12)], &problems, 60);
        assert!(err(&ts[0]) < 0.02, "relative error {}", err(&ts[0]));
    }

    #[test]
    fn similarity_finds_the_shift() {
        let a = shape(60, 30, 3.0, 10.0);
        let b = shape(60, 34, 3.0, 5.0);
        let (c, s, r) = similarity(&a, &b, 6);
        assert!(c > 0.999, "{c}");
        assert_eq!(s, -4);
        assert!((r - 0.5).abs() < 1e-3);
        assert_eq!(similarity(&a, &[0.0; 60], 3).0, 0.0);
    }

    #[test]
    fn offsets_and_recentring() {
        let mut t = shape(50, 20, 3.0, -10.0); // main (+10) at 20, side lobes −4.5 at ±3.7
        let offs = alignment_offsets(&t, 25, 0.4, 0, 50);
        assert_eq!(offs[0], 0);
        assert!(offs.contains(&5), "{offs:?}"); // the main extremum at 20: 25 − 20
        assert_eq!(recentre(&mut t, 25), 5);
        assert!(t[25] > 9.9);
    }
}
