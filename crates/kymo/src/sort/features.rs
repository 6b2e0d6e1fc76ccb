//! Clustering features: the feature window of each waveform, averaged in bins when long,
//! projected on the leading principal components and scaled by the noise.
//!
//! The basis is fitted on at most `max_cluster_spikes` spikes (evenly spaced in time), so
//! its cost, `O(m·d² + d³)` for `m` spikes and `d ≤ max_feature_samples` dimensions, does
//! not grow with the recording; projecting a spike costs `O(d·k)`.
//!
//! **Noise scale.** The features are divided by `σ_f`, the noise standard deviation per
//! feature direction, taken as the median eigenvalue's square root: with a few units in
//! `d` dimensions, most directions hold noise only (and, in busy recordings, the parts of
//! overlapping potentials, which are noise to the clustering as well). It is floored at a
//! quarter of the white-noise value `σ/√bin` so that a degenerate input cannot make it zero.
//! In these units a cluster of one unit has a spread of about 1 in every direction except
//! along its amplitude variation.

use super::linalg::{median, sym_eigen};

/// What a feature bin averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FeatureKind {
    /// First differences `x[i+1] − x[i]` (the clustering's features, see [`FeatureSpace::binned`]).
    Slope,
    /// The samples themselves: the whole shape, slow phases included (the split test,
    /// where neighbours are already peeled from the windows).
    Level,
}

/// A fitted feature map.
#[derive(Debug, Clone)]
pub(crate) struct FeatureSpace {
    /// What a bin averages.
    kind: FeatureKind,
    /// First sample of the feature window inside a waveform.
    lo: usize,
    /// Samples per bin.
    bin: usize,
    /// Number of bins (feature dimensions before PCA).
    dims: usize,
    /// Mean feature vector.
    mean: Vec<f64>,
    /// `k` principal axes, one per row of `dims` values.
    axes: Vec<f64>,
    /// Components kept.
    k: usize,
    /// Noise standard deviation per feature direction (see the module docs).
    noise_sd: f64,
}

impl FeatureSpace {
    /// Fits the map on the waveforms `rows` (each `wave_len` samples). `window` is the
    /// feature window `[lo, hi)` in samples, `max_dims` the most bins, `k` the components
    /// wanted, `sigma` the noise standard deviation of the samples.
    pub(crate) fn fit(
        kind: FeatureKind,
        rows: &[&[f32]],
        window: (usize, usize),
        max_dims: usize,
        k: usize,
        sigma: f64,
    ) -> FeatureSpace {
        let (lo, hi) = window;
        let len = hi.saturating_sub(lo).max(1);
        let bin = len.div_ceil(max_dims.max(1));
        let dims = len.div_ceil(bin);
        let mut fs = FeatureSpace {
            kind,
            lo,
            bin,
            dims,
            mean: vec![0.0; dims],
            axes: Vec::new(),
            k: 0,
            noise_sd: 1.0,
        };
        let m = rows.len();
        let mut feats = vec![0.0f64; m * dims];
        for (r, row) in rows.iter().enumerate() {
            fs.binned(row, &mut feats[r * dims..(r + 1) * dims]);
        }
        if m > 0 {
            for f in feats.chunks_exact(dims) {
                for (a, b) in fs.mean.iter_mut().zip(f) {
                    *a += b;
                }
            }
            for a in &mut fs.mean {
                *a /= m as f64;
            }
        }
        let mut cov = vec![0.0f64; dims * dims];
        let mut c = vec![0.0f64; dims];
        for f in feats.chunks_exact(dims) {
            for (ci, (fi, mi)) in c.iter_mut().zip(f.iter().zip(&fs.mean)) {
                *ci = fi - mi;
            }
            for i in 0..dims {
                let ci = c[i];
                let row = &mut cov[i * dims..i * dims + i + 1];
                for (v, cj) in row.iter_mut().zip(&c[..=i]) {
                    *v += ci * cj;
                }
            }
        }
        let denom = (m.max(2) - 1) as f64;
        for i in 0..dims {
            for j in 0..=i {
                let v = cov[i * dims + j] / denom;
                cov[i * dims + j] = v;
                cov[j * dims + i] = v;
            }
        }
        let (vals, vecs) = sym_eigen(&cov, dims);
        fs.k = k.min(dims);
        fs.axes = vecs[..fs.k * dims].to_vec();
        let white = sigma / (bin as f64).sqrt();
        let med = if dims >= 8 && m > dims {
            median(&vals).max(0.0).sqrt()
        } else {
            white
        };
        fs.noise_sd = med.max(0.25 * white).max(f64::MIN_POSITIVE);
        fs
    }

    /// Number of feature components.
    pub(crate) fn k(&self) -> usize {
        self.k
    }

    /// Averages the feature window of `row` into `out` (`dims` values); samples past the end
    /// of the row count as missing.
    fn binned(&self, row: &[f32], out: &mut [f64]) {
        // First differences `x[i+1] − x[i]`: they keep the sharp spike of a potential, where
        // units differ most, and suppress the slow phases of neighbours overlapping the
        // window's edges (a 150–300 Hz train puts them a few ms away).
        let diff = |i: usize| -> f64 {
            match (self.kind, row.get(i), row.get(i + 1)) {
                (FeatureKind::Slope, Some(&a), Some(&b)) => (b - a) as f64,
                (FeatureKind::Level, Some(&a), _) => a as f64,
                _ => 0.0,
            }
        };
        for (d, o) in out.iter_mut().enumerate() {
            let a = self.lo + d * self.bin;
            let b = (a + self.bin).min(row.len());
            *o = if a < b {
                (a..b).map(diff).sum::<f64>() / (b - a) as f64
            } else {
                0.0
            };
        }
    }

    /// The noise-scaled principal components of `row` into `out` (`k` values); `scratch`
    /// holds `dims` values.
    pub(crate) fn project(&self, row: &[f32], scratch: &mut Vec<f64>, out: &mut [f64]) {
        scratch.resize(self.dims, 0.0);
        self.binned(row, scratch);
        for (s, m) in scratch.iter_mut().zip(&self.mean) {
            *s -= m;
        }
        for (c, o) in out.iter_mut().enumerate().take(self.k) {
            let axis = &self.axes[c * self.dims..(c + 1) * self.dims];
            *o = axis
                .iter()
                .zip(scratch.iter())
                .map(|(a, s)| a * s)
                .sum::<f64>()
                / self.noise_sd;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_shapes_separate_on_the_first_component() {
        // Two shapes plus a deterministic "noise" pattern: the first component separates them.
        let len = 40;
        let a: Vec<f32> = (0..len)
            .map(|i| ((i as f32 - 20.0) / 3.0).tanh() * 50.0)
            .collect();
        let b: Vec<f32> = (0..len)
            .map(|i| -((i as f32 - 20.0) / 4.0).powi(2) * 2.0)
            .collect();
        let mut rows = Vec::new();
        for r in 0..60 {
            let src = if r % 2 == 0 { &a } else { &b };
            let row: Vec<f32> = src
                .iter()
                .enumerate()
                .map(|(i, v)| v + ((i * 7 + r * 13) % 11) as f32 * 0.3 - 1.5)
                .collect();
            rows.push(row);
        }
        let refs: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
        let fs = FeatureSpace::fit(FeatureKind::Slope, &refs, (0, len), 16, 3, 1.0);
        assert_eq!(fs.k(), 3);
        assert_eq!(fs.bin, 3);
        let mut s = Vec::new();
        let mut pa = [0.0; 3];
        let mut pb = [0.0; 3];
        fs.project(&rows[0], &mut s, &mut pa);
        fs.project(&rows[1], &mut s, &mut pb);
        assert!((pa[0] - pb[0]).abs() > 10.0, "{pa:?} {pb:?}");
    }

    #[test]
    fn empty_and_single_inputs_do_not_panic() {
        let fs = FeatureSpace::fit(FeatureKind::Slope, &[], (0, 10), 8, 4, 1.0);
        let mut s = Vec::new();
        let mut out = [0.0; 4];
        fs.project(&[1.0; 10], &mut s, &mut out);
        let one = [vec![3.0f32; 10]];
        let refs: Vec<&[f32]> = one.iter().map(|r| r.as_slice()).collect();
        let fs = FeatureSpace::fit(FeatureKind::Slope, &refs, (2, 8), 8, 4, 1.0);
        fs.project(&one[0], &mut s, &mut out);
        assert!(out.iter().all(|v| v.is_finite()));
    }
}
