//! A one-dimensional unimodality test by isotonic regression ("isocut"), the core of the
//! ISO-SPLIT clustering of J. Magland & A. Barnett, "Unimodal clustering using isotonic
//! regression: ISO-SPLIT", arXiv:1508.04841 (2015), used by MountainSort (J. E. Chung et al.,
//! Neuron 95:1381–1394, 2017). Written here from the paper's description.
//!
//! Given samples `x₁ ≤ … ≤ xₙ`, the log density on each gap is estimated as `−ln(xᵢ₊₁ − xᵢ)`;
//! the best *unimodal* (up-then-down) fit to it is found by isotonic regression; the dip
//! score is a Kolmogorov–Smirnov distance between the observed and the fitted cumulative
//! counts on either side of the fitted mode, scaled by `√(n/2)` so that it does not grow with
//! `n` under unimodality. A large score means the samples are not unimodal; the cut point is
//! then placed at the deepest part of the residual (fitted by a down-then-up regression).

use super::linalg::is_pos;

/// Weighted sum of squared errors of the best non-decreasing fit to each prefix
/// `y[..=j]` (pool-adjacent-violators, amortised O(n)).
fn prefix_sse_increasing(y: &[f64], w: &[f64]) -> Vec<f64> {
    // Each block: (weight, Σ w·y, Σ w·y²).
    let mut blocks: Vec<(f64, f64, f64)> = Vec::with_capacity(y.len());
    let sse = |b: &(f64, f64, f64)| (b.2 - b.1 * b.1 / b.0).max(0.0);
    let mut total = 0.0;
    let mut out = Vec::with_capacity(y.len());
    for (&yi, &wi) in y.iter().zip(w) {
        blocks.push((wi, wi * yi, wi * yi * yi));
        while blocks.len() >= 2 {
            let last = blocks[blocks.len() - 1];
            let prev = blocks[blocks.len() - 2];
            if prev.1 / prev.0 < last.1 / last.0 {
                break;
            }
            total -= sse(&prev) + sse(&last);
            let merged = (prev.0 + last.0, prev.1 + last.1, prev.2 + last.2);
            total += sse(&merged);
            blocks.pop();
            if let Some(b) = blocks.last_mut() {
                *b = merged;
            }
        }
        out.push(total);
    }
    out
}

/// The best non-decreasing (weighted least squares) fit to `y`.
pub(crate) fn fit_increasing(y: &[f64], w: &[f64]) -> Vec<f64> {
    // Blocks: (weight, Σ w·y, length).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(y.len());
    for (&yi, &wi) in y.iter().zip(w) {
        blocks.push((wi, wi * yi, 1));
        while blocks.len() >= 2 {
            let last = blocks[blocks.len() - 1];
            let prev = blocks[blocks.len() - 2];
            if prev.1 / prev.0 < last.1 / last.0 {
                break;
            }
            blocks.pop();
            if let Some(b) = blocks.last_mut() {
                *b = (prev.0 + last.0, prev.1 + last.1, prev.2 + last.2);
            }
        }
    }
    let mut out = Vec::with_capacity(y.len());
    for (w, s, len) in blocks {
        out.extend(std::iter::repeat_n(s / w, len));
    }
    out
}

fn reversed(v: &[f64]) -> Vec<f64> {
    v.iter().rev().copied().collect()
}

/// The best unimodal (non-decreasing then non-increasing) fit to `y`.
pub(crate) fn fit_updown(y: &[f64], w: &[f64]) -> Vec<f64> {
    let n = y.len();
    if n == 0 {
        return Vec::new();
    }
    let up = prefix_sse_increasing(y, w);
    // A non-increasing fit of a suffix is a non-decreasing fit of the reversed suffix.
    let rev = reversed(y);
    let down = prefix_sse_increasing(&rev, &reversed(w));
    let mut best = (f64::INFINITY, 0usize);
    for b in 0..n {
        let cost = up[b] + down[n - 1 - b];
        if cost < best.0 {
            best = (cost, b);
        }
    }
    let b = best.1;
    let left = fit_increasing(&y[..=b], &w[..=b]);
    let right_rev = fit_increasing(&rev[..n - b], &reversed(&w[b..]));
    let mut out = left;
    let right = reversed(&right_rev);
    // Both fits contain index b; the mode takes the larger.
    out[b] = out[b].max(right[0]);
    out.extend_from_slice(&right[1..]);
    out
}

/// The best down-then-up fit to `y`.
pub(crate) fn fit_downup(y: &[f64], w: &[f64]) -> Vec<f64> {
    let neg: Vec<f64> = y.iter().map(|v| -v).collect();
    fit_updown(&neg, w).into_iter().map(|v| -v).collect()
}

/// Kolmogorov–Smirnov distance between two count vectors' normalised cumulative sums,
/// scaled by `√((Σa + Σb)/2)`.
fn ks(a: &[f64], b: &[f64]) -> f64 {
    let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    if !(sa > 0.0 && sb > 0.0) {
        return 0.0;
    }
    let (mut ca, mut cb, mut best) = (0.0, 0.0, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        ca += x;
        cb += y;
        best = best.max((ca / sa - cb / sb).abs());
    }
    best * ((sa + sb) / 2.0).sqrt()
}

/// The largest [`ks`] over the prefixes of length `len, len/2, len/4, …` (down to 4), and
/// the prefix length that gave it: a dip near the tail is found even when the rest of the
/// side dilutes it.
fn ks_prefixes(a: &[f64], b: &[f64]) -> (f64, usize) {
    let mut len = a.len();
    let mut best = (f64::NEG_INFINITY, len);
    loop {
        let k = ks(&a[..len], &b[..len]);
        if k > best.0 {
            best = (k, len);
        }
        len /= 2;
        if len < 4 {
            break;
        }
    }
    best
}

/// Dip score and cut point of sorted samples (see the module docs). Fewer than 4 samples
/// give a dip of 0.
pub(crate) fn isocut(sorted: &[f64]) -> (f64, f64) {
    let n = sorted.len();
    if n < 4 {
        let mid = if n == 0 {
            0.0
        } else {
            0.5 * (sorted[0] + sorted[n - 1])
        };
        return (0.0, mid);
    }
    let span = sorted[n - 1] - sorted[0];
    if !is_pos(span) {
        return (0.0, sorted[0]);
    }
    // Subsample: about √(n/2) intervals whose sizes grow from 1 at each end to the middle
    // (fine resolution in the tails, where a small separate mode shows), then densities =
    // points per interval over its length.
    let mut bins = ((n as f64 / 2.0).sqrt().ceil() as usize).max(2);
    let cuts: Vec<usize> = loop {
        let b1 = bins.div_ceil(2);
        let b2 = bins - b1;
        let sizes: Vec<f64> = (1..=b1).chain((1..=b2).rev()).map(|v| v as f64).collect();
        let scale = (n - 1) as f64 / sizes.iter().sum::<f64>();
        if sizes.iter().all(|s| s * scale >= 1.0) || bins <= 2 {
            let mut c = vec![0usize];
            let mut acc = 0.0;
            for s in &sizes {
                acc += s * scale;
                c.push((acc.floor() as usize).min(n - 1));
            }
            c.dedup();
            break c;
        }
        bins -= 1;
    };
    // Ties would give an infinite density; floor the spacings far below any real one.
    let floor = span * 1e-9;
    let spacings: Vec<f64> = cuts
        .windows(2)
        .map(|w| (sorted[w[1]] - sorted[w[0]]).max(floor))
        .collect();
    let counts: Vec<f64> = cuts.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let m = spacings.len();
    let dens: Vec<f64> = counts.iter().zip(&spacings).map(|(c, s)| c / s).collect();
    let fit = fit_updown(&dens, &counts);
    let peak = fit
        .iter()
        .enumerate()
        .fold((0usize, f64::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0;
    let fitted: Vec<f64> = fit.iter().zip(&spacings).map(|(f, s)| f * s).collect();
    let (ks_left, len_left) = ks_prefixes(&counts[..=peak], &fitted[..=peak]);
    let obs_r = reversed(&counts[peak..]);
    let fit_r = reversed(&fitted[peak..]);
    let (ks_right, len_right) = ks_prefixes(&obs_r, &fit_r);
    let (dip, lo, hi) = if ks_left > ks_right {
        (ks_left, 0, len_left)
    } else {
        (ks_right, m - len_right, m)
    };
    let resid: Vec<f64> = (lo..hi).map(|i| dens[i] - fit[i]).collect();
    let resid_fit = fit_downup(&resid, &spacings[lo..hi]);
    let cut_i = lo
        + resid_fit
            .iter()
            .enumerate()
            .fold((0usize, f64::INFINITY), |(bi, bv), (i, &v)| {
                if v < bv {
                    (i, v)
                } else {
                    (bi, bv)
                }
            })
            .0;
    (dip, 0.5 * (sorted[cuts[cut_i]] + sorted[cuts[cut_i + 1]]))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    /// The dip threshold of the default config; these tests show it separates unimodal from
    /// clearly bimodal samples.
    const THRESHOLD: f64 = 1.5;

    fn normals(rng: &mut ChaCha8Rng, n: usize, mean: f64) -> Vec<f64> {
        (0..n)
            .map(|_| mean + rng.sample::<f64, _>(StandardNormal))
            .collect()
    }

    fn dip(mut v: Vec<f64>) -> (f64, f64) {
        v.sort_by(f64::total_cmp);
        isocut(&v)
    }

    #[test]
    fn isotonic_fits_are_monotone_and_optimal_on_small_cases() {
        let y = [1.0, 3.0, 2.0, 4.0, 3.5];
        let w = [1.0; 5];
        let f = fit_increasing(&y, &w);
        assert_eq!(f, vec![1.0, 2.5, 2.5, 3.75, 3.75]);
        let sse = prefix_sse_increasing(&y, &w);
        assert!((sse[4] - (0.5 + 0.125)).abs() < 1e-12, "{sse:?}");
        let ud = fit_updown(&[1.0, 2.0, 5.0, 3.0, 4.0, 1.0], &[1.0; 6]);
        assert_eq!(ud, vec![1.0, 2.0, 5.0, 3.5, 3.5, 1.0]);
        let du = fit_downup(&[3.0, 1.0, 2.0, 0.0, 4.0], &[1.0; 5]);
        for w in du.windows(2).take(2) {
            assert!(w[0] >= w[1], "{du:?}");
        }
    }

    /// Under unimodality (Gaussian, uniform, skewed) the dip stays below the threshold in
    /// at least 97 % of trials for every size.
    #[test]
    fn unimodal_samples_score_low() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for n in [20usize, 60, 300, 2000] {
            let mut over = 0;
            let trials = 60;
            for t in 0..trials {
                let v: Vec<f64> = match t % 3 {
                    0 => normals(&mut rng, n, 0.0),
                    1 => (0..n).map(|_| rng.random::<f64>() * 10.0).collect(),
                    _ => (0..n).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect(),
                };
                if dip(v).0 >= THRESHOLD {
                    over += 1;
                }
            }
            assert!(
                over * 100 <= 3 * trials,
                "n = {n}: {over}/{trials} unimodal samples scored ≥ {THRESHOLD}"
            );
        }
    }

    /// Two Gaussians 6 σ apart (sizes n and n/2) are split, at a cut point between them,
    /// once there are a few hundred points (fewer are judged by their separation first, see
    /// `cluster`).
    #[test]
    fn bimodal_samples_score_high_and_cut_between() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for n in [400usize, 2000] {
            let mut v = normals(&mut rng, n, 0.0);
            v.extend(normals(&mut rng, n / 2, 6.0));
            let (d, cut) = dip(v);
            assert!(d > THRESHOLD, "n = {n}: dip {d}");
            assert!(cut > 1.5 && cut < 4.5, "n = {n}: cut {cut}");
        }
    }

    #[test]
    #[ignore]
    fn print_dip_distribution() {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        for n in [15usize, 30, 60, 150, 500, 2000] {
            let mut uni: Vec<f64> = (0..200).map(|_| dip(normals(&mut rng, n, 0.0)).0).collect();
            let mut unif: Vec<f64> = (0..200)
                .map(|_| dip((0..n).map(|_| rng.random::<f64>()).collect()).0)
                .collect();
            let mut bi: Vec<Vec<f64>> = [4.0, 5.0, 6.0, 8.0]
                .iter()
                .map(|&g| {
                    (0..100)
                        .map(|_| {
                            let mut v = normals(&mut rng, n, 0.0);
                            v.extend(normals(&mut rng, n / 2, g));
                            dip(v).0
                        })
                        .collect()
                })
                .collect();
            uni.sort_by(f64::total_cmp);
            unif.sort_by(f64::total_cmp);
            for b in bi.iter_mut() {
                b.sort_by(f64::total_cmp);
            }
            println!("n {n}: normal q50 {:.2} q95 {:.2} q99 {:.2} max {:.2} | uniform q95 {:.2} q99 {:.2} | bimodal medians g4 {:.2} g5 {:.2} g6 {:.2} g8 {:.2}; q10 g6 {:.2} g8 {:.2}",
                uni[100], uni[190], uni[198], uni[199], unif[190], unif[198], bi[0][50], bi[1][50], bi[2][50], bi[3][50], bi[2][10], bi[3][10]);
        }
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(isocut(&[]).0, 0.0);
        assert_eq!(isocut(&[1.0, 2.0]).0, 0.0);
        assert_eq!(isocut(&[1.0; 50]).0, 0.0);
        let (d, _) = isocut(&[0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0]);
        assert!(d.is_finite());
    }
}
