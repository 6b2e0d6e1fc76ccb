//! Cluster isolation: L-ratio and isolation distance (N. Schmitzer-Torbert, J. Jackson,
//! D. Henze, K. Harris, A. D. Redish, "Quantitative measures of cluster quality for use in
//! extracellular recordings", Neuroscience 131(1):1–11, 2005), in the sorter's feature space.
//!
//! For a unit with `n` member spikes, mean `μ` and covariance `Σ` in the `k` features, each
//! other spike's squared Mahalanobis distance is `D² = (x−μ)ᵀΣ⁻¹(x−μ)`.
//! - **L-ratio** `= Σ_{non-members} (1 − F_χ²ₖ(D²)) / n`: how much of the members' own
//!   χ² distribution other spikes intrude on; 0 is perfect, and it is defined for every unit.
//! - **Isolation distance** = the `n`-th smallest `D²` among non-members: the radius of the
//!   ellipsoid holding as many other spikes as the unit has; larger is better, and it is
//!   undefined (`None`) when there are fewer non-members than members — common in EMG, where
//!   one unit often dominates a recording, which is why the L-ratio is the primary metric.
//!
//! Both are computed on at most `quality_max_spikes` spikes (evenly spaced), noise-labelled
//! spikes counting as non-members.

use super::linalg::{cholesky_solve, is_pos};

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative error < 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised lower incomplete gamma `P(a, x)`: series below `a + 1`, continued fraction
/// (modified Lentz) above.
fn gamma_p(a: f64, x: f64) -> f64 {
    if !is_pos(x) {
        return 0.0;
    }
    if !x.is_finite() {
        return 1.0;
    }
    let lead = (a * x.ln() - x - ln_gamma(a)).exp();
    if x < a + 1.0 {
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut n = a;
        for _ in 0..1000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (sum * lead).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (1.0 - lead * h).clamp(0.0, 1.0)
    }
}

/// CDF of the χ² distribution with `k` degrees of freedom at `x`.
pub(crate) fn chi2_cdf(x: f64, k: usize) -> f64 {
    gamma_p(k as f64 / 2.0, x / 2.0)
}

/// L-ratio and isolation distance of each unit `0..n_units` from `points` (`k` features
/// each, row-major) and their labels. A unit with fewer than `k + 1` members in the sample
/// gets `(NaN, None)`.
pub(crate) fn isolation(
    points: &[f64],
    k: usize,
    labels: &[Option<usize>],
    n_units: usize,
) -> Vec<(f64, Option<f64>)> {
    let n = labels.len();
    let pt = |i: usize| &points[i * k..(i + 1) * k];
    (0..n_units)
        .map(|u| {
            let members: Vec<usize> = (0..n).filter(|&i| labels[i] == Some(u)).collect();
            let m = members.len();
            if m < k + 1 {
                return (f64::NAN, None);
            }
            let mut mu = vec![0.0; k];
            for &i in &members {
                for (a, v) in mu.iter_mut().zip(pt(i)) {
                    *a += v;
                }
            }
            mu.iter_mut().for_each(|a| *a /= m as f64);
            let mut cov = vec![0.0; k * k];
            for &i in &members {
                let p = pt(i);
                for r in 0..k {
                    for c in 0..k {
                        cov[r * k + c] += (p[r] - mu[r]) * (p[c] - mu[c]);
                    }
                }
            }
            // Floor the covariance at a small fraction of the noise (features are in noise
            // units), so a unit of identical spikes still has a finite metric.
            for r in 0..k {
                for c in 0..k {
                    cov[r * k + c] /= (m - 1) as f64;
                }
                cov[r * k + r] += 1e-3;
            }
            let mut d2: Vec<f64> = Vec::with_capacity(n - m);
            let mut diff = vec![0.0; k];
            for i in (0..n).filter(|&i| labels[i] != Some(u)) {
                for (d, (x, m)) in diff.iter_mut().zip(pt(i).iter().zip(&mu)) {
                    *d = x - m;
                }
                let Some(sol) = cholesky_solve(&cov, &diff, k) else {
                    return (f64::NAN, None);
                };
                d2.push(diff.iter().zip(&sol).map(|(a, b)| a * b).sum());
            }
            let l: f64 = d2.iter().map(|&d| 1.0 - chi2_cdf(d, k)).sum();
            let iso = if d2.len() >= m {
                let (_, nth, _) = d2.select_nth_unstable_by(m - 1, f64::total_cmp);
                Some(*nth)
            } else {
                None
            };
            (l / m as f64, iso)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_cdf_known_values() {
        for &x in &[0.1, 1.0, 3.0, 10.0, 40.0] {
            // k = 2: 1 − e^(−x/2); k = 4: 1 − e^(−x/2)(1 + x/2).
            assert!(
                (chi2_cdf(x, 2) - (1.0 - (-x / 2.0f64).exp())).abs() < 1e-12,
                "{x}"
            );
            let k4 = 1.0 - (-x / 2.0f64).exp() * (1.0 + x / 2.0);
            assert!((chi2_cdf(x, 4) - k4).abs() < 1e-12, "{x}");
        }
        // k = 1 at x = 3.841458820694124: the 95 % point.
        assert!((chi2_cdf(3.841_458_820_694_124, 1) - 0.95).abs() < 1e-9);
        // k = 6 at 12.591587243743977: 95 %.
        assert!((chi2_cdf(12.591_587_243_743_977, 6) - 0.95).abs() < 1e-9);
        assert_eq!(chi2_cdf(0.0, 3), 0.0);
        assert!((ln_gamma(5.0) - 24.0f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn separated_units_are_isolated_and_close_ones_are_not() {
        // Two 2-D clusters of a deterministic spread, far apart and then close.
        let spread: Vec<(f64, f64)> = (0..50)
            .map(|i| {
                (
                    ((i * 7) % 13) as f64 / 6.0 - 1.0,
                    ((i * 5) % 11) as f64 / 5.0 - 1.0,
                )
            })
            .collect();
        for (gap, good) in [(30.0, true), (0.5, false)] {
            let mut pts = Vec::new();
            let mut labels = Vec::new();
            for (u, off) in [(0usize, 0.0), (1, gap)] {
                for &(x, y) in &spread {
                    pts.extend([x + off, y]);
                    labels.push(Some(u));
                }
            }
            let q = isolation(&pts, 2, &labels, 2);
            if good {
                assert!(q[0].0 < 1e-6, "{q:?}");
                assert!(q[0].1.unwrap() > 100.0, "{q:?}");
            } else {
                assert!(q[0].0 > 0.1, "{q:?}");
            }
        }
    }

    #[test]
    fn tiny_units_get_nan_and_dominant_units_no_distance() {
        let pts = vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0];
        let q = isolation(&pts, 2, &[Some(0), Some(0), None], 1);
        assert!(q[0].0.is_nan() && q[0].1.is_none());
        let pts: Vec<f64> = (0..20)
            .flat_map(|i| [i as f64 * 0.1, (i % 3) as f64])
            .collect();
        let mut labels = vec![Some(0); 20];
        labels[19] = None;
        let q = isolation(&pts, 2, &labels, 1);
        assert!(q[0].0.is_finite() && q[0].1.is_none());
    }
}
