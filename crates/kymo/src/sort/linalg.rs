//! The small dense linear algebra the sorter needs: dot products over f32 slices (the hot
//! loop), a symmetric eigen-decomposition (cyclic Jacobi, for PCA on at most a few hundred
//! dimensions), and a Cholesky solve of small symmetric positive definite systems.

/// Lanes of the chunked dot products: eight independent accumulators let the compiler
/// vectorise the loop (one AVX register of f32) without `unsafe` or intrinsics.
const LANES: usize = 8;

/// One chunk of `chunks_exact(LANES)` as an array (always exactly `LANES` long).
#[inline(always)]
fn lanes(c: &[f32]) -> &[f32; LANES] {
    const ZERO: [f32; LANES] = [0.0; LANES];
    c.try_into().unwrap_or(&ZERO)
}

/// `Σ a[i]·b[i]` over the common length, accumulated in eight f32 lanes and summed in f64.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y) = (lanes(x), lanes(y));
        for k in 0..LANES {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s: f64 = acc.iter().map(|&v| v as f64).sum();
    for (x, y) in ra.iter().zip(rb) {
        s += (*x as f64) * (*y as f64);
    }
    s
}

/// [`dot`]`(a, a)`, bit for bit, out of line: inlined, the sum of the lanes in f64 leads the
/// vectoriser to split the eight lanes (two, four and two scalar ones: 15 instructions a
/// chunk instead of 8); the lanes' total out of line keeps them two vector registers.
#[inline(never)]
pub(crate) fn sumsq(a: &[f32]) -> f64 {
    let mut acc = [0.0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let ra = ca.remainder();
    for x in ca {
        let x = lanes(x);
        for k in 0..LANES {
            acc[k] += x[k] * x[k];
        }
    }
    lanes_total(&acc, ra, ra)
}

/// `(Σ x·t, Σ x·d)`: the same sums as two [`dot`]s, bit for bit (each lane adds the same
/// products in the same order), in one loop whose two independent sets of lanes keep twice
/// as many additions in flight (each lane's sum is a chain of dependent additions). Not
/// inlined: inlined into the fits, the compiler left this loop scalar (16 accumulators
/// spilled to the stack, twice as slow as two [`dot`]s); on its own it is four vector
/// registers. The test `dot2_is_two_dots_bit_for_bit` holds the sums equal; a profile shows
/// whether the loop stays vectorised.
#[inline(never)]
pub(crate) fn dot2(x: &[f32], t: &[f32], d: &[f32]) -> (f64, f64) {
    let n = x.len().min(t.len()).min(d.len());
    let (x, t, d) = (&x[..n], &t[..n], &d[..n]);
    let (cx, ct, cd) = (
        x.chunks_exact(LANES),
        t.chunks_exact(LANES),
        d.chunks_exact(LANES),
    );
    let (rx, rt, rd) = (cx.remainder(), ct.remainder(), cd.remainder());
    let mut at = [0.0f32; LANES];
    let mut ad = [0.0f32; LANES];
    for ((x, t), d) in cx.zip(ct).zip(cd) {
        let (x, t, d) = (lanes(x), lanes(t), lanes(d));
        for k in 0..LANES {
            at[k] += x[k] * t[k];
        }
        for k in 0..LANES {
            ad[k] += x[k] * d[k];
        }
    }
    lanes_totals(&at, &ad, rx, rt, rd)
}

/// [`lanes_total`] of both sets of lanes of [`dot2`] in one call (one call instead of two,
/// each remainder sample of `x` converted once): the same sums in the same order, the two
/// independent chains of additions side by side in vector registers. Not inlined, for the
/// reason given at [`lanes_total`].
#[inline(never)]
fn lanes_totals(
    at: &[f32; LANES],
    ad: &[f32; LANES],
    rx: &[f32],
    rt: &[f32],
    rd: &[f32],
) -> (f64, f64) {
    let mut st: f64 = at.iter().map(|&v| v as f64).sum();
    let mut sd: f64 = ad.iter().map(|&v| v as f64).sum();
    for ((x, t), d) in rx.iter().zip(rt).zip(rd) {
        let x = *x as f64;
        st += x * (*t as f64);
        sd += x * (*d as f64);
    }
    (st, sd)
}

/// [`dot`]'s last steps: the lanes summed in f64, then the products of the remainders.
/// Not inlined on purpose: inlined into [`dot2`] (or its two-set form [`lanes_totals`]),
/// the compiler's vectoriser pairs the two
/// sets of lanes (`t` and `d` lane k in one register, with shuffles) and the loop runs
/// slower than two [`dot`]s; kept apart, each set is two plain vector registers.
#[inline(never)]
fn lanes_total(acc: &[f32; LANES], ra: &[f32], rb: &[f32]) -> f64 {
    let mut s: f64 = acc.iter().map(|&v| v as f64).sum();
    for (x, y) in ra.iter().zip(rb) {
        s += (*x as f64) * (*y as f64);
    }
    s
}

/// Eigen-decomposition of the symmetric `n × n` matrix `a` (row-major) by cyclic Jacobi
/// rotations. Returns the eigenvalues in decreasing order and the matching unit
/// eigenvectors, one per row (`vectors[k·n..(k+1)·n]`).
pub(crate) fn sym_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    debug_assert_eq!(a.len(), n * n);
    let mut m = a.to_vec();
    // The eigenvectors accumulate as rows (`vt[k·n + i]` is component `i` of vector `k`), so
    // that each rotation updates two contiguous rows, in vector registers.
    let mut vt = vec![0.0f64; n * n];
    for i in 0..n {
        vt[i * n + i] = 1.0;
    }
    let scale: f64 = m.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n > 1 && scale > 0.0 {
        for _sweep in 0..64 {
            let off: f64 = (0..n)
                .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
                .map(|(i, j)| m[i * n + j] * m[i * n + j])
                .sum::<f64>()
                .sqrt();
            if off <= 1e-13 * scale {
                break;
            }
            for p in 0..n - 1 {
                for q in p + 1..n {
                    let apq = m[p * n + q];
                    if apq.abs() <= 1e-300 {
                        continue;
                    }
                    let (app, aqq) = (m[p * n + p], m[q * n + q]);
                    // Rotation angle that zeroes m[p][q] (Golub & Van Loan, sym.schur2).
                    let tau = (aqq - app) / (2.0 * apq);
                    let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
                    let t = if tau == 0.0 { 1.0 } else { t };
                    let c = 1.0 / (1.0 + t * t).sqrt();
                    let s = t * c;
                    // M ← M·J (columns p and q), then M ← Jᵀ·M (rows p and q), V ← V·J.
                    for row in m.chunks_exact_mut(n) {
                        let (mkp, mkq) = (row[p], row[q]);
                        row[p] = c * mkp - s * mkq;
                        row[q] = s * mkp + c * mkq;
                    }
                    rotate_rows(&mut m, n, p, q, c, s);
                    rotate_rows(&mut vt, n, p, q, c, s);
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[j * n + j].total_cmp(&m[i * n + i]));
    let values = order.iter().map(|&i| m[i * n + i]).collect();
    let mut vectors = Vec::with_capacity(n * n);
    for &i in &order {
        vectors.extend_from_slice(&vt[i * n..(i + 1) * n]);
    }
    (values, vectors)
}

/// Rows `p < q` of the row-major `n`-column matrix `m` become `c·m_p − s·m_q` and
/// `s·m_p + c·m_q`.
fn rotate_rows(m: &mut [f64], n: usize, p: usize, q: usize, c: f64, s: f64) {
    let (head, tail) = m.split_at_mut(q * n);
    let rp = &mut head[p * n..(p + 1) * n];
    let rq = &mut tail[..n];
    for (x, y) in rp.iter_mut().zip(rq.iter_mut()) {
        let (a, b) = (*x, *y);
        *x = c * a - s * b;
        *y = s * a + c * b;
    }
}

/// Solves `a·x = b` for a symmetric positive definite `n × n` matrix (row-major) by
/// Cholesky; `None` when `a` is not positive definite (numerically).
pub(crate) fn cholesky_solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if !is_pos(s) || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0f64; n];
    for i in 0..n {
        let mut s = b[i];
        for k in 0..i {
            s -= l[i * n + k] * y[k];
        }
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0.0f64; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    Some(x)
}

/// `x > 0`, false for NaN (reads better than `!(x > 0.0)` where NaN must fail a check).
#[inline]
pub(crate) fn is_pos(x: f64) -> bool {
    x > 0.0
}

/// Median of a slice (NaN-free), by sorting a copy; 0 for an empty slice.
pub(crate) fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_match_naive_sums() {
        for n in [0usize, 1, 7, 8, 9, 31, 100] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let c: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 0.3).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n = {n}");
            let (s1, s2) = dot2(&a, &b, &c);
            let n2: f64 = a.iter().zip(&c).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!(
                (s1 - naive).abs() < 1e-4 && (s2 - n2).abs() < 1e-4,
                "n = {n}"
            );
        }
    }

    /// `sumsq` is `dot(a, a)` bit for bit.
    #[test]
    fn sumsq_is_dot_bit_for_bit() {
        let x: Vec<f32> = (0..300).map(|i| (i as f32 * 0.731).sin() * 93.0).collect();
        for n in 0..300 {
            for off in [0usize, 1, 3] {
                let a = &x[off.min(n)..n];
                assert_eq!(sumsq(a).to_bits(), dot(a, a).to_bits(), "n {n} off {off}");
            }
        }
    }

    /// The fused loop of `dot2` must give exactly `dot`'s sums (the fits compare scores, so
    /// a last-bit difference could change a label): every length, unequal lengths, and
    /// unaligned starts.
    #[test]
    fn dot2_is_two_dots_bit_for_bit() {
        let x: Vec<f32> = (0..700).map(|i| (i as f32 * 0.731).sin() * 93.0).collect();
        let t: Vec<f32> = (0..700).map(|i| (i as f32 * 0.173).cos() * 41.0).collect();
        let d: Vec<f32> = (0..700).map(|i| (i as f32 * 0.057).sin() - 0.3).collect();
        for n in 0..300 {
            for off in [0usize, 1, 3, 5] {
                let (xs, ts, ds) = (&x[off..off + n + 2], &t[7..7 + n], &d[..n + 1]);
                let (st, sd) = dot2(xs, ts, ds);
                let m = xs.len().min(ts.len()).min(ds.len());
                assert_eq!(st.to_bits(), dot(&xs[..m], &ts[..m]).to_bits(), "n {n}");
                assert_eq!(sd.to_bits(), dot(&xs[..m], &ds[..m]).to_bits(), "n {n}");
            }
        }
    }

    #[test]
    fn jacobi_reconstructs_the_matrix() {
        let n = 6;
        let mut a = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] =
                    1.0 / (1.0 + (i as f64 - j as f64).abs()) + if i == j { i as f64 } else { 0.0 };
            }
        }
        let (vals, vecs) = sym_eigen(&a, n);
        for w in vals.windows(2) {
            assert!(w[0] >= w[1]);
        }
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n)
                    .map(|k| vals[k] * vecs[k * n + i] * vecs[k * n + j])
                    .sum();
                assert!(
                    (r - a[i * n + j]).abs() < 1e-9,
                    "({i},{j}): {r} vs {}",
                    a[i * n + j]
                );
            }
        }
        // Orthonormal rows.
        for p in 0..n {
            for q in 0..n {
                let d: f64 = (0..n).map(|k| vecs[p * n + k] * vecs[q * n + k]).sum();
                assert!((d - if p == q { 1.0 } else { 0.0 }).abs() < 1e-9);
            }
        }
    }

    /// The rotation loops as first written (column, row and eigenvector updates one
    /// element at a time), kept whole as the oracle: `sym_eigen` must give the same bits.
    fn sym_eigen_reference(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
        debug_assert_eq!(a.len(), n * n);
        let mut m = a.to_vec();
        let mut v = vec![0.0f64; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        let scale: f64 = m.iter().map(|x| x * x).sum::<f64>().sqrt();
        if n > 1 && scale > 0.0 {
            for _sweep in 0..64 {
                let off: f64 = (0..n)
                    .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
                    .map(|(i, j)| m[i * n + j] * m[i * n + j])
                    .sum::<f64>()
                    .sqrt();
                if off <= 1e-13 * scale {
                    break;
                }
                for p in 0..n - 1 {
                    for q in p + 1..n {
                        let apq = m[p * n + q];
                        if apq.abs() <= 1e-300 {
                            continue;
                        }
                        let (app, aqq) = (m[p * n + p], m[q * n + q]);
                        // Rotation angle that zeroes m[p][q] (Golub & Van Loan, sym.schur2).
                        let tau = (aqq - app) / (2.0 * apq);
                        let t = tau.signum() / (tau.abs() + (1.0 + tau * tau).sqrt());
                        let t = if tau == 0.0 { 1.0 } else { t };
                        let c = 1.0 / (1.0 + t * t).sqrt();
                        let s = t * c;
                        for k in 0..n {
                            let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
                            m[k * n + p] = c * mkp - s * mkq;
                            m[k * n + q] = s * mkp + c * mkq;
                        }
                        for k in 0..n {
                            let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
                            m[p * n + k] = c * mpk - s * mqk;
                            m[q * n + k] = s * mpk + c * mqk;
                        }
                        for k in 0..n {
                            let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                            v[k * n + p] = c * vkp - s * vkq;
                            v[k * n + q] = s * vkp + c * vkq;
                        }
                    }
                }
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| m[j * n + j].total_cmp(&m[i * n + i]));
        let values = order.iter().map(|&i| m[i * n + i]).collect();
        let mut vectors = vec![0.0f64; n * n];
        for (r, &i) in order.iter().enumerate() {
            for k in 0..n {
                vectors[r * n + k] = v[k * n + i];
            }
        }
        (values, vectors)
    }

    #[test]
    fn sym_eigen_matches_the_reference_bit_for_bit() {
        for n in [1usize, 2, 3, 5, 8, 17, 40] {
            let b: Vec<f64> = (0..n * n)
                .map(|i| ((i * 7919 % 1013) as f64 * 0.37).sin())
                .collect();
            // a = b·bᵀ + diagonal: symmetric positive definite, with structure.
            let mut a = vec![0.0f64; n * n];
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum::<f64>();
                }
                a[i * n + i] += (i % 3) as f64;
            }
            let (v1, e1) = sym_eigen(&a, n);
            let (v2, e2) = sym_eigen_reference(&a, n);
            let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&v1), bits(&v2), "n = {n}");
            assert_eq!(bits(&e1), bits(&e2), "n = {n}");
        }
    }

    #[test]
    fn cholesky_solves_and_refuses_indefinite() {
        let a = [4.0, 1.0, 1.0, 3.0];
        let x = cholesky_solve(&a, &[1.0, 2.0], 2).unwrap();
        assert!((4.0 * x[0] + x[1] - 1.0).abs() < 1e-12);
        assert!((x[0] + 3.0 * x[1] - 2.0).abs() < 1e-12);
        assert!(cholesky_solve(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0], 2).is_none());
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
