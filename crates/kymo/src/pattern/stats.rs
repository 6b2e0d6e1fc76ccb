//! Small statistics on intervals and series: medians, robust spread, CV2, polynomial fits.
//!
//! All functions take plain slices, ignore nothing silently (callers filter non-finite
//! values first) and return `None` where a statistic is undefined (too few values, zero
//! mean).

/// Scale that makes the median absolute deviation a consistent estimator of the standard
/// deviation of normal data (1 / Φ⁻¹(3/4)).
pub(crate) const MAD_TO_SD: f64 = 1.482_602_218_505_602;

/// The `q` quantile (0 ≤ q ≤ 1) of `sorted` (ascending), by linear interpolation between
/// order statistics (Hyndman & Fan type 7, as numpy's default).
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// `P(X ≥ k)` for `X ~ Binomial(n, p)`, summed in log space (exact for the counts of one
/// recording's potentials).
pub(crate) fn binomial_upper_tail(n: usize, k: usize, p: f64) -> f64 {
    if k == 0 || p >= 1.0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    // ln P(X = i) from ln P(X = 0) = n ln(1 − p), by the ratio of successive terms:
    // ln P(X = i + 1) − ln P(X = i).
    let (lp, lq) = (p.ln(), (-p).ln_1p());
    let step = |i: usize| ((n - i) as f64).ln() - ((i + 1) as f64).ln() + lp - lq;
    let mut term = n as f64 * lq + (0..k).map(step).sum::<f64>();
    let mut sum = 0.0f64;
    for i in k..=n {
        sum += term.exp();
        if i < n {
            term += step(i);
        }
    }
    sum.min(1.0)
}

/// The time a run of `potentials` firing over `span_s` (first to last potential) takes:
/// `potentials` of its intervals, the last potential's own included. A steady train cut
/// into groups then fills all of its time; the first-to-last span alone would give
/// (n − 1)/n of it (a half for pairs) and make tonic firing look grouped.
pub(crate) fn firing_time(span_s: f64, potentials: f64) -> f64 {
    if potentials > 1.0 {
        span_s * potentials / (potentials - 1.0)
    } else {
        span_s
    }
}

/// The values sorted ascending (total order; callers pass finite values).
pub(crate) fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Median.
pub(crate) fn median(x: &[f64]) -> Option<f64> {
    quantile_sorted(&sorted(x), 0.5)
}

/// Mean.
pub(crate) fn mean(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        None
    } else {
        Some(x.iter().sum::<f64>() / x.len() as f64)
    }
}

/// Coefficient of variation: population standard deviation over the mean (needs 2 values).
pub(crate) fn cv(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    if m <= 0.0 {
        return None;
    }
    let var = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64;
    Some(var.sqrt() / m)
}

/// Robust CV: `1.4826 · MAD / median`, insensitive to a few outliers (a missed or a spurious
/// potential makes one or two wild intervals). Needs 3 values.
pub(crate) fn robust_cv(x: &[f64]) -> Option<f64> {
    if x.len() < 3 {
        return None;
    }
    let med = median(x)?;
    if med <= 0.0 {
        return None;
    }
    let dev: Vec<f64> = x.iter().map(|v| (v - med).abs()).collect();
    Some(MAD_TO_SD * median(&dev)? / med)
}

/// `run` (successive intervals of one unit) repaired for missed and intruding potentials
/// before measuring its jitter (see `JitterConfig`): every interval is compared with the
/// running median of the original intervals within `half_window` on each side; one shorter
/// than `intruder_fraction` of it is joined to the neighbour whose sum comes nearer the
/// median, if that sum lies within `join_tolerance` (relative) of the median; then one within `missed_tolerance` (relative) of k× the median, k = 2…4, is
/// split into k equal intervals. When fewer outliers fit this error model than not (long
/// intervals between the multiples, short ones no join makes ordinary), the train is
/// irregular in itself and returned as it is. Runs shorter than `2·half_window + 1` are returned as they
/// are: their running median would rest on too few intervals.
pub(crate) fn repair_intervals(
    run: &[f64],
    half_window: usize,
    missed_tolerance: f64,
    intruder_fraction: f64,
    join_tolerance: f64,
) -> Vec<f64> {
    let n = run.len();
    if n < 2 * half_window + 1 {
        return run.to_vec();
    }
    let local: Vec<f64> = (0..n)
        .map(|i| {
            let a = i.saturating_sub(half_window);
            let b = (i + half_window + 1).min(n);
            median(&run[a..b]).unwrap_or(run[i])
        })
        .collect();
    // Join intruder fragments: (interval, its running median), walked left to right; a
    // short interval goes back into the previous output or forward into the next input.
    let mut joined: Vec<(f64, f64)> = Vec::with_capacity(n);
    let mut carry = 0.0;
    // Outliers the error model explains (repaired) and those it does not (a short interval
    // no join makes ordinary, a long one between the multiples).
    let (mut explained, mut unexplained) = (0usize, 0usize);
    for i in 0..n {
        let (e, m) = (run[i] + carry, local[i]);
        carry = 0.0;
        if e < intruder_fraction * m {
            // A join must give an ordinary interval, else the short one is left as it is.
            let ordinary = |d: f64| (d <= join_tolerance * m).then_some(d);
            let back = joined
                .last()
                .and_then(|&(p, _)| ordinary((p + e - m).abs()));
            let fwd = run.get(i + 1).and_then(|&nx| ordinary((e + nx - m).abs()));
            let go_back = match (back, fwd) {
                (Some(b), Some(f)) => b <= f,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if go_back {
                if let Some(last) = joined.last_mut() {
                    last.0 += e;
                }
                explained += 1;
            } else if fwd.is_some() {
                carry = e;
                explained += 1;
            } else {
                joined.push((e, m));
                unexplained += 1;
            }
            continue;
        }
        joined.push((e, m));
    }
    let mut out = Vec::with_capacity(joined.len() + 8);
    for (e, m) in joined {
        let k = (e / m).round();
        if (2.0..=4.0).contains(&k) && (e / m - k).abs() <= missed_tolerance * k {
            out.extend(std::iter::repeat_n(e / k, k as usize));
            explained += 1;
        } else {
            out.push(e);
            if (1.5..=4.5).contains(&(e / m)) {
                unexplained += 1;
            }
        }
    }
    // An irregular train (a cramp's CV ~0.45) has long and short intervals of every
    // length, and only some of them happen to look like sorting errors: repairing those
    // would hide its irregularity.
    if explained < unexplained {
        return run.to_vec();
    }
    out
}

/// The local variability `CV2_i = 2·|I_{i+1} − I_i| / (I_{i+1} + I_i)` of each pair of
/// successive intervals (Holt et al. 1996). Its median, unlike the CV, ignores slow rate
/// changes and a single abrupt step, so it measures the interval jitter.
pub(crate) fn cv2_values(isis: &[f64]) -> Vec<f64> {
    isis.windows(2)
        .filter(|w| w[0] + w[1] > 0.0)
        .map(|w| 2.0 * (w[1] - w[0]).abs() / (w[1] + w[0]))
        .collect()
}

/// Least-squares line `y = a + b·x`: `(a, b, sse)`. Needs 2 points with distinct x.
pub(crate) fn line_fit(x: &[f64], y: &[f64]) -> Option<(f64, f64, f64)> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for i in 0..n {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    let sse = (0..n).map(|i| (y[i] - a - b * x[i]).powi(2)).sum();
    Some((a, b, sse))
}

/// Least-squares parabola `y = a + b·x + c·x²`: `(a, b, c, sse)`, by the normal equations
/// (callers pass x normalised to [0, 1], where they are well conditioned). Needs 3 points.
pub(crate) fn quadratic_fit(x: &[f64], y: &[f64]) -> Option<(f64, f64, f64, f64)> {
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    // Sums of x^k (k = 0..4) and x^k·y (k = 0..2).
    let mut s = [0.0f64; 5];
    let mut t = [0.0f64; 3];
    for i in 0..n {
        let mut p = 1.0;
        for (k, sk) in s.iter_mut().enumerate() {
            *sk += p;
            if k < 3 {
                t[k] += p * y[i];
            }
            p *= x[i];
        }
    }
    let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    let [a, b, c] = solve3(m, t)?;
    let sse = (0..n)
        .map(|i| (y[i] - a - b * x[i] - c * x[i] * x[i]).powi(2))
        .sum();
    Some((a, b, c, sse))
}

/// Solves a 3×3 system by Cramer's rule; `None` when it is (nearly) singular.
fn solve3(m: [[f64; 3]; 3], t: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    let scale = m.iter().flatten().map(|v| v.abs()).fold(0.0, f64::max);
    if !(d.is_finite() && d.abs() > 1e-12 * scale.powi(3)) {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut mk = m;
        for r in 0..3 {
            mk[r][k] = t[r];
        }
        *o = det(&mk) / d;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_known_values() {
        // P(X ≥ 2), n = 3, p = 0.5: (3 + 1) / 8.
        assert!((binomial_upper_tail(3, 2, 0.5) - 0.5).abs() < 1e-12);
        // P(X ≥ 29), n = 29, p = 0.57: 0.57^29.
        let all = binomial_upper_tail(29, 29, 0.57);
        assert!((all / 0.57f64.powi(29) - 1.0).abs() < 1e-9, "{all}");
        assert_eq!(binomial_upper_tail(10, 0, 0.3), 1.0);
        assert_eq!(binomial_upper_tail(10, 11, 0.3), 0.0);
        // Large n stays finite: P(X ≥ 600), n = 1000, p = 0.5 is about 1.4e-10.
        let t = binomial_upper_tail(1000, 600, 0.5);
        assert!(t > 1e-11 && t < 1e-9, "{t}");
    }

    /// Float tolerance for results computed by hand to 12 digits.
    const EPS: f64 = 1e-9;

    #[test]
    fn quantiles_match_numpy_type_7() {
        // numpy.quantile([1, 2, 3, 4], [0, 0.25, 0.5, 1]) = [1, 1.75, 2.5, 4]
        let x = [4.0, 1.0, 3.0, 2.0];
        let s = sorted(&x);
        assert_eq!(quantile_sorted(&s, 0.0), Some(1.0));
        assert!((quantile_sorted(&s, 0.25).unwrap() - 1.75).abs() < EPS);
        assert_eq!(median(&x), Some(2.5));
        assert_eq!(quantile_sorted(&s, 1.0), Some(4.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn cv_and_robust_cv_by_hand() {
        // mean 2, population sd sqrt(2/3)
        let x = [1.0, 2.0, 3.0];
        assert!((cv(&x).unwrap() - (2.0f64 / 3.0).sqrt() / 2.0).abs() < EPS);
        // median 2, |dev| = [1, 0, 1] → MAD 1 → 1.4826 / 2
        assert!((robust_cv(&x).unwrap() - MAD_TO_SD / 2.0).abs() < EPS);
        // One wild value does not move the robust CV of a regular series.
        let y = [1.0, 1.0, 1.0, 1.0, 9.0];
        assert_eq!(robust_cv(&y), Some(0.0));
        assert!(cv(&y).unwrap() > 1.0);
    }

    #[test]
    fn cv2_ignores_a_step_but_sees_alternation() {
        // A step from 10 to 20: CV2 pairs are [0, 0, 2/3, 0, 0] → median 0.
        let step = [10.0, 10.0, 10.0, 20.0, 20.0, 20.0];
        assert_eq!(median(&cv2_values(&step)), Some(0.0));
        assert!((cv2_values(&step)[2] - 2.0 / 3.0).abs() < EPS);
        // Alternating 10, 12: each pair 2·2/22.
        let alt = [10.0, 12.0, 10.0, 12.0];
        assert!((median(&cv2_values(&alt)).unwrap() - 4.0 / 22.0).abs() < EPS);
    }

    #[test]
    fn fits_recover_exact_polynomials() {
        let x: Vec<f64> = (0..7).map(|i| i as f64 / 6.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 - 3.0 * v).collect();
        let (a, b, sse) = line_fit(&x, &y).unwrap();
        assert!((a - 2.0).abs() < EPS && (b + 3.0).abs() < EPS && sse < EPS);
        let y: Vec<f64> = x.iter().map(|v| 1.0 + 4.0 * v - 4.0 * v * v).collect();
        let (a, b, c, sse) = quadratic_fit(&x, &y).unwrap();
        assert!((a - 1.0).abs() < 1e-7 && (b - 4.0).abs() < 1e-7 && (c + 4.0).abs() < 1e-7);
        assert!(sse < 1e-12);
        assert!(line_fit(&[1.0, 1.0], &[0.0, 1.0]).is_none());
        assert!(quadratic_fit(&[0.0, 1.0], &[0.0, 1.0]).is_none());
    }

    #[test]
    fn repair_undoes_missed_and_intruding_potentials() {
        // A steady 100 ms train with alternating ±5 ms jitter.
        let steady: Vec<f64> = (0..40)
            .map(|i| if i % 2 == 0 { 0.095 } else { 0.105 })
            .collect();
        let clean = median(&cv2_values(&steady)).unwrap();
        let mut broken = steady.clone();
        // Missed potentials: every fourth pair of intervals merged into one.
        let mut i = 0;
        while i + 1 < broken.len() {
            if i % 4 == 0 {
                let e = broken.remove(i + 1);
                broken[i] += e;
            }
            i += 1;
        }
        // Intruders: two intervals cut by a potential 10 ms after the previous one.
        for at in [3usize, 17] {
            let e = broken[at];
            broken[at] = 0.010;
            broken.insert(at + 1, e - 0.010);
        }
        let raw = median(&cv2_values(&broken)).unwrap();
        let fixed = median(&cv2_values(&repair_intervals(&broken, 7, 0.1, 0.3, 0.2))).unwrap();
        assert!(raw > 0.3, "the damage inflates the jitter: {raw}");
        // A split interval's two halves are equal, so the repaired jitter errs low; what
        // matters is that it is back near the clean train's, far from a cramp's ~0.45.
        assert!(
            fixed > 0.4 * clean && fixed < 1.2 * clean,
            "repaired {fixed} vs clean {clean}"
        );
        // Irregular intervals (no near-multiples, nothing short) are left alone.
        let irregular = [
            0.1, 0.16, 0.07, 0.12, 0.09, 0.15, 0.08, 0.13, 0.1, 0.17, 0.06, 0.11, 0.14, 0.09, 0.12,
            0.1,
        ];
        assert_eq!(
            repair_intervals(&irregular, 7, 0.1, 0.3, 0.2),
            irregular.to_vec()
        );
    }
}
