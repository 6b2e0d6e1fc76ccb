//! Clustering that chooses the number of units from the data: ISO-SPLIT (Magland & Barnett,
//! arXiv:1508.04841, 2015), written from the paper.
//!
//! 1. Over-partition the points with k-means++ (Arthur & Vassilvitskii 2007) into
//!    `initial_clusters` parcels, more than there are units.
//! 2. Repeatedly take the pairs of clusters that are each other's nearest (by centroid) and
//!    have not been compared since either changed, project both onto the line that best
//!    separates them (the Fisher direction `(Σ₁+Σ₂)⁻¹(μ₂−μ₁)`), and test the 1-D projection
//!    for unimodality ([`super::isocut`]). Unimodal: merge. Not: redistribute the two
//!    clusters' points at the cut point.
//! 3. Stop when a pass changes nothing.
//!
//! So the number of clusters is whatever leaves every neighbouring pair bimodal: no `k` to
//! choose, no Gaussian shape assumed (a unit whose amplitude wanes forms an elongated,
//! unimodal cloud and stays one cluster), and very unequal sizes are fine.
//!
//! **Separation first.** Before the dip test, two clusters whose means along the separating
//! line lie `keep_separation` (default 5) pooled standard deviations apart or more, the
//! variances floored at the noise (1 in the noise-scaled features), are kept apart: the dip
//! test has little power with few points, and a pair that far apart is not one unit (the
//! halves of one Gaussian cloud are 2.7 apart, of one uniform, elongated cloud 3.5). Closer
//! pairs where one cluster has fewer than `isocut_min_spikes` points merge; ISO-SPLIT merges
//! small clusters unconditionally, which would lose rare but distinct units (a fasciculating
//! unit may fire a handful of times a minute).

use std::collections::HashSet;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::isocut::isocut;
use super::linalg::{cholesky_solve, is_pos};

/// Passes and iterations are capped so that a pathological input (redistributions that
/// cycle) still ends.
const MAX_PASSES: usize = 50;
const MAX_ITERATIONS: usize = 500;
const LLOYD_ITERATIONS: usize = 30;

/// Parameters of [`isosplit`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClusterParams {
    pub initial_clusters: usize,
    pub isocut_threshold: f64,
    pub isocut_min_spikes: usize,
    pub keep_separation: f64,
    pub seed: u64,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The centres of k-means, dimension-major (`[d · nc + c]`), for the nearest-centre search.
struct Centres {
    by_dim: Vec<f64>,
    nc: usize,
}

impl Centres {
    /// From `nc` rows of `k` values.
    fn new(centers: &[f64], k: usize) -> Centres {
        let nc = centers.len().checked_div(k).unwrap_or(0);
        let mut by_dim = vec![0.0f64; nc * k];
        for c in 0..nc {
            for d in 0..k {
                by_dim[d * nc + c] = centers[c * k + d];
            }
        }
        Centres { by_dim, nc }
    }

    /// Index of the centre nearest to `p`, the first of equals (as a scan keeping the first
    /// `c` of least [`dist2`], NaN never winning, 0 when none is below infinity). `dists`
    /// is scratch. Each centre's squared distance is [`dist2`]'s sum, term by term in the
    /// same order, but the centres are summed side by side, one dimension at a time (a loop
    /// the compiler vectorises across centres).
    fn nearest(&self, p: &[f64], dists: &mut Vec<f64>) -> usize {
        dists.clear();
        dists.resize(self.nc, 0.0);
        for (x, row) in p.iter().zip(self.by_dim.chunks_exact(self.nc.max(1))) {
            for (s, y) in dists.iter_mut().zip(row) {
                *s += (x - y) * (x - y);
            }
        }
        let mut best = (f64::INFINITY, 0usize);
        for (c, &d) in dists.iter().enumerate() {
            if d < best.0 {
                best = (d, c);
            }
        }
        best.1
    }
}

/// k-means++ seeding and Lloyd iterations; returns a label per point (0..K, dense).
/// Fewest points per parallel task of the k-means assignment (fewer cost more to hand
/// out than to assign).
const PARALLEL_MIN_POINTS: usize = 2048;

pub(crate) fn kmeans(points: &[f64], k: usize, clusters: usize, seed: u64) -> Vec<usize> {
    let n = points.len().checked_div(k).unwrap_or(0);
    if n == 0 {
        return Vec::new();
    }
    let pt = |i: usize| &points[i * k..(i + 1) * k];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let want = clusters.clamp(1, n);
    let mut centers: Vec<f64> = Vec::with_capacity(want * k);
    let first = (rng.random::<u64>() % n as u64) as usize;
    centers.extend_from_slice(pt(first));
    let mut d2: Vec<f64> = (0..n).map(|i| dist2(pt(i), pt(first))).collect();
    while centers.len() / k < want {
        let total: f64 = d2.iter().sum();
        if !is_pos(total) {
            break;
        }
        let mut r = rng.random::<f64>() * total;
        let mut pick = n - 1;
        for (i, &d) in d2.iter().enumerate() {
            if r < d {
                pick = i;
                break;
            }
            r -= d;
        }
        centers.extend_from_slice(pt(pick));
        let c = centers.len() / k - 1;
        for (i, d) in d2.iter_mut().enumerate() {
            *d = d.min(dist2(pt(i), &centers[c * k..(c + 1) * k]));
        }
    }
    let nc = centers.len() / k;
    let mut labels = vec![0usize; n];
    for it in 0..LLOYD_ITERATIONS {
        let by_dim = Centres::new(&centers, k);
        // Each point's nearest centre on its own: in parallel, the same labels.
        let changed = labels
            .par_iter_mut()
            .enumerate()
            .with_min_len(PARALLEL_MIN_POINTS)
            .map_init(
                || Vec::with_capacity(nc),
                |dists, (i, l)| {
                    let best = by_dim.nearest(pt(i), dists);
                    let moved = *l != best;
                    *l = best;
                    moved
                },
            )
            .reduce(|| false, |a, b| a || b);
        if !changed && it > 0 {
            break;
        }
        let mut sums = vec![0.0f64; nc * k];
        let mut counts = vec![0usize; nc];
        for (i, &l) in labels.iter().enumerate() {
            counts[l] += 1;
            for (s, v) in sums[l * k..(l + 1) * k].iter_mut().zip(pt(i)) {
                *s += v;
            }
        }
        for c in 0..nc {
            if counts[c] > 0 {
                for (cv, s) in centers[c * k..(c + 1) * k]
                    .iter_mut()
                    .zip(&sums[c * k..(c + 1) * k])
                {
                    *cv = s / counts[c] as f64;
                }
            }
        }
    }
    densify(&mut labels);
    labels
}

/// Renumbers labels 0..K in order of first appearance.
fn densify(labels: &mut [usize]) -> usize {
    let mut map: Vec<Option<usize>> = Vec::new();
    let mut next = 0;
    for l in labels.iter_mut() {
        if *l >= map.len() {
            map.resize(*l + 1, None);
        }
        let v = *map[*l].get_or_insert_with(|| {
            next += 1;
            next - 1
        });
        *l = v;
    }
    next
}

enum Decision {
    Merge,
    Keep,
    /// New side of each point of `a ++ b`: `true` = second cluster.
    Split(Vec<bool>),
}

/// Mean of the points `idx` (summed in the order given).
fn mean(points: &[f64], k: usize, idx: &[usize]) -> Vec<f64> {
    let mut mu = vec![0.0f64; k];
    for &i in idx {
        for (m, v) in mu.iter_mut().zip(&points[i * k..(i + 1) * k]) {
            *m += v;
        }
    }
    let n = idx.len().max(1) as f64;
    for m in &mut mu {
        *m /= n;
    }
    mu
}

/// Covariance (divided by the count) of the points `idx` about their mean `mu`.
fn covariance(points: &[f64], k: usize, idx: &[usize], mu: &[f64]) -> Vec<f64> {
    // The upper triangle, then mirrored: a product is the same either way round, so the
    // matrix is exactly symmetric and each entry the same sum in the same order.
    let mut cov = vec![0.0f64; k * k];
    let mut d = vec![0.0f64; k];
    for &i in idx {
        for ((dv, p), m) in d.iter_mut().zip(&points[i * k..(i + 1) * k]).zip(mu) {
            *dv = p - m;
        }
        for r in 0..k {
            for c in r..k {
                cov[r * k + c] += d[r] * d[c];
            }
        }
    }
    let n = idx.len().max(1) as f64;
    for r in 0..k {
        for c in r..k {
            let v = cov[r * k + c] / n;
            cov[r * k + c] = v;
            cov[c * k + r] = v;
        }
    }
    cov
}

/// Mean and covariance of each cluster (by label), computed when first needed and kept
/// until its members change: the members are listed in index order, so the same members
/// give the same sums, and most clusters are compared with several neighbours in turn.
#[derive(Default)]
struct Moments {
    means: Vec<Option<Vec<f64>>>,
    covs: Vec<Option<Vec<f64>>>,
}

impl Moments {
    /// Forgets every cluster at or beyond `labels` labels.
    fn resize(&mut self, labels: usize) {
        self.means.resize(labels, None);
        self.covs.resize(labels, None);
    }

    /// Forgets cluster `c` (its members changed).
    fn forget(&mut self, c: usize) {
        self.means[c] = None;
        self.covs[c] = None;
    }

    fn mean(&mut self, points: &[f64], k: usize, c: usize, members: &[usize]) -> &[f64] {
        self.means[c].get_or_insert_with(|| mean(points, k, members))
    }

    /// `(mean, covariance)` of cluster `c`.
    fn both(&mut self, points: &[f64], k: usize, c: usize, members: &[usize]) -> (&[f64], &[f64]) {
        let mu = self.means[c].get_or_insert_with(|| mean(points, k, members));
        let cov = self.covs[c].get_or_insert_with(|| covariance(points, k, members, mu));
        (mu, cov)
    }
}

/// Merge, keep or split clusters `a` and `b` (member indices), given the mean and covariance
/// of each.
fn merge_test(
    points: &[f64],
    k: usize,
    (a, ma, ca): (&[usize], &[f64], &[f64]),
    (b, mb, cb): (&[usize], &[f64], &[f64]),
    p: &ClusterParams,
) -> Decision {
    let diff: Vec<f64> = mb.iter().zip(ma).map(|(x, y)| x - y).collect();
    let dn = diff.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !is_pos(dn) {
        return Decision::Merge;
    }
    let project = |dir: &[f64], idx: &[usize]| -> Vec<f64> {
        idx.iter()
            .map(|&i| {
                points[i * k..(i + 1) * k]
                    .iter()
                    .zip(dir)
                    .map(|(x, d)| x * d)
                    .sum()
            })
            .collect()
    };
    // The separating direction: Fisher's when both clusters can estimate a covariance
    // (ridge 0.1: a tenth of the noise variance), else the line between the means.
    let mut dir = diff.clone();
    if a.len().min(b.len()) > 2 * k + 1 {
        let avg: Vec<f64> = ca
            .iter()
            .zip(cb)
            .enumerate()
            .map(|(i, (x, y))| (x + y) / 2.0 + if i % (k + 1) == 0 { 0.1 } else { 0.0 })
            .collect();
        if let Some(d) = cholesky_solve(&avg, &diff, k) {
            if d.iter().all(|v| v.is_finite()) && d.iter().any(|v| *v != 0.0) {
                dir = d;
            }
        }
    }
    let norm = dir.iter().map(|v| v * v).sum::<f64>().sqrt();
    for d in &mut dir {
        *d /= norm;
    }
    let (pa, pb) = (project(&dir, a), project(&dir, b));
    let mean_var = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
        (m, var.max(1.0))
    };
    let ((m1, v1), (m2, v2)) = (mean_var(&pa), mean_var(&pb));
    let separation = (m2 - m1).abs() / ((v1 + v2) / 2.0).sqrt();
    if separation >= p.keep_separation {
        return Decision::Keep;
    }
    if a.len().min(b.len()) < p.isocut_min_spikes {
        return Decision::Merge;
    }
    let mut proj = pa;
    proj.extend(pb);
    let mut sorted = proj.clone();
    sorted.sort_by(f64::total_cmp);
    let (dip, cut) = isocut(&sorted);
    if dip < p.isocut_threshold {
        return Decision::Merge;
    }
    let side: Vec<bool> = proj.iter().map(|&v| v > cut).collect();
    if side.iter().all(|&s| s) || side.iter().all(|&s| !s) {
        return Decision::Merge;
    }
    Decision::Split(side)
}

/// Clusters `n` points of `k` dimensions (row-major); returns a dense label per point.
pub(crate) fn isosplit(points: &[f64], k: usize, p: &ClusterParams) -> Vec<usize> {
    let mut labels = kmeans(points, k, p.initial_clusters, p.seed);
    let n = labels.len();
    if n == 0 {
        return labels;
    }
    let mut compared: HashSet<(usize, usize)> = HashSet::new();
    let mut moments = Moments::default();
    for _pass in 0..MAX_PASSES {
        let mut changed: HashSet<usize> = HashSet::new();
        for _it in 0..MAX_ITERATIONS {
            let nl = labels.iter().max().map_or(0, |m| m + 1);
            let mut members: Vec<Vec<usize>> = vec![Vec::new(); nl];
            for (i, &l) in labels.iter().enumerate() {
                members[l].push(i);
            }
            let active: Vec<usize> = (0..nl).filter(|&c| !members[c].is_empty()).collect();
            moments.resize(nl);
            let centroids: Vec<Vec<f64>> = (0..nl)
                .map(|c| moments.mean(points, k, c, &members[c]).to_vec())
                .collect();
            // Each active cluster's nearest uncompared active cluster.
            let nearest: Vec<Option<usize>> = active
                .iter()
                .map(|&c| {
                    active
                        .iter()
                        .filter(|&&o| o != c && !compared.contains(&(c.min(o), c.max(o))))
                        .map(|&o| (dist2(&centroids[c], &centroids[o]), o))
                        .min_by(|x, y| x.0.total_cmp(&y.0))
                        .map(|x| x.1)
                })
                .collect();
            let pos = |c: usize| active.iter().position(|&x| x == c);
            let mut pairs = Vec::new();
            for (ai, &c) in active.iter().enumerate() {
                if let Some(o) = nearest[ai] {
                    if c < o && pos(o).and_then(|oi| nearest[oi]) == Some(c) {
                        pairs.push((c, o));
                    }
                }
            }
            if pairs.is_empty() {
                break;
            }
            for (a, b) in pairs {
                compared.insert((a, b));
                let (ma, ca) = moments.both(points, k, a, &members[a]);
                let (ma, ca) = (ma.to_vec(), ca.to_vec());
                let (mb, cb) = moments.both(points, k, b, &members[b]);
                let sides = (
                    (&members[a][..], &ma[..], &ca[..]),
                    (&members[b][..], mb, cb),
                );
                match merge_test(points, k, sides.0, sides.1, p) {
                    Decision::Merge => {
                        for &i in &members[b] {
                            labels[i] = a;
                        }
                        changed.insert(a);
                        changed.insert(b);
                        moments.forget(a);
                        moments.forget(b);
                    }
                    Decision::Keep => {}
                    Decision::Split(side) => {
                        let mut any = false;
                        for (j, &i) in members[a].iter().chain(&members[b]).enumerate() {
                            let new = if side[j] { b } else { a };
                            if labels[i] != new {
                                labels[i] = new;
                                any = true;
                            }
                        }
                        if any {
                            changed.insert(a);
                            changed.insert(b);
                            moments.forget(a);
                            moments.forget(b);
                        }
                    }
                }
            }
        }
        if changed.is_empty() {
            break;
        }
        compared.retain(|(x, y)| !changed.contains(x) && !changed.contains(y));
    }
    densify(&mut labels);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;
    use rand_distr::StandardNormal;

    /// `Centres::nearest` (centres summed side by side) gives the plain first-of-least scan's
    /// answer, with exact ties (duplicated centres, points on a grid) and non-finite
    /// distances.
    #[test]
    fn nearest_centre_is_the_plain_scans() {
        let plain = |p: &[f64], centers: &[f64], k: usize| {
            let mut best = (f64::INFINITY, 0usize);
            for c in 0..centers.len() / k {
                let d = dist2(p, &centers[c * k..(c + 1) * k]);
                if d < best.0 {
                    best = (d, c);
                }
            }
            best.1
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let k = 3;
        for case in 0..400 {
            let nc = 1 + case % 9;
            // Small integers: many exact ties.
            let mut centers: Vec<f64> = (0..nc * k)
                .map(|_| (rng.random::<u32>() % 4) as f64)
                .collect();
            if case % 7 == 0 && nc > 1 {
                let (a, b) = centers.split_at_mut(k);
                b[..k].copy_from_slice(a);
            }
            if case % 50 == 1 {
                centers[0] = f64::NAN;
            }
            if case % 50 == 2 {
                centers[k - 1] = f64::INFINITY;
            }
            let p: Vec<f64> = (0..k).map(|_| (rng.random::<u32>() % 4) as f64).collect();
            let mut dists = Vec::new();
            assert_eq!(
                Centres::new(&centers, k).nearest(&p, &mut dists),
                plain(&p, &centers, k),
                "case {case}"
            );
        }
    }

    fn params() -> ClusterParams {
        ClusterParams {
            initial_clusters: 30,
            isocut_threshold: 2.0,
            isocut_min_spikes: 12,
            keep_separation: 5.0,
            seed: 0,
        }
    }

    /// Blobs of unit variance at the given centres and sizes, 3-D.
    fn blobs(centres: &[([f64; 3], usize)], seed: u64) -> (Vec<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut pts = Vec::new();
        let mut truth = Vec::new();
        for (c, (m, n)) in centres.iter().enumerate() {
            for _ in 0..*n {
                for d in m {
                    pts.push(d + rng.sample::<f64, _>(StandardNormal));
                }
                truth.push(c);
            }
        }
        (pts, truth)
    }

    /// Each true blob maps to one found cluster holding ≥ `frac` of it, and the number of
    /// clusters equals the number of blobs.
    fn check(labels: &[usize], truth: &[usize], blobs: usize, frac: f64) {
        let nl = labels.iter().max().map_or(0, |m| m + 1);
        assert_eq!(nl, blobs, "clusters found");
        for b in 0..blobs {
            let mut counts = vec![0usize; nl];
            let mut total = 0;
            for (l, t) in labels.iter().zip(truth) {
                if *t == b {
                    counts[*l] += 1;
                    total += 1;
                }
            }
            let best = *counts.iter().max().unwrap();
            assert!(best as f64 >= frac * total as f64, "blob {b}: {counts:?}");
        }
    }

    #[test]
    fn separated_blobs_of_unequal_size() {
        let (pts, truth) = blobs(
            &[
                ([0.0; 3], 2000),
                ([12.0, 0.0, 0.0], 300),
                ([0.0, 12.0, 3.0], 40),
            ],
            1,
        );
        check(&isosplit(&pts, 3, &params()), &truth, 3, 0.99);
    }

    #[test]
    fn a_handful_of_far_points_stays_a_cluster() {
        let (pts, truth) = blobs(&[([0.0; 3], 800), ([15.0, 5.0, 0.0], 6)], 2);
        check(&isosplit(&pts, 3, &params()), &truth, 2, 1.0);
    }

    #[test]
    fn an_elongated_unimodal_cloud_stays_one() {
        // A unit whose amplitude wanes from 1 to 0.3: points spread uniformly along a line of
        // length 30 noise units, plus unit noise.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut pts = Vec::new();
        for _ in 0..3000 {
            let s = 0.3 + 0.7 * rng.random::<f64>();
            for d in [40.0 * s, 10.0 * s, 0.0] {
                pts.push(d + rng.sample::<f64, _>(StandardNormal));
            }
        }
        let labels = isosplit(&pts, 3, &params());
        assert_eq!(labels.iter().max(), Some(&0));
    }

    #[test]
    fn degenerate_inputs() {
        assert!(isosplit(&[], 3, &params()).is_empty());
        assert_eq!(isosplit(&[1.0, 2.0, 3.0], 3, &params()), vec![0]);
        let same = vec![1.0; 3 * 50];
        assert_eq!(isosplit(&same, 3, &params()), vec![0; 50]);
    }
}
