//! Splitting a unit that holds several, once the refinement has settled (or has run out of
//! rounds without settling).
//!
//! The clustering's features are the slopes of the main spike (see [`super::features`]):
//! they keep overlapping neighbours out, but two motor unit potentials whose main spikes
//! are alike and whose slow phases differ (a 12 ms and an 8 ms three-phase potential of
//! similar size, two fasciculating units of one muscle) share a cluster, and the
//! refinement only merges and prunes. So when the labels have settled, each unit's
//! members are looked at again in the whole shape: their windows with the fitted
//! neighbours peeled, aligned by their fits (sub-sample shift included) and divided by
//! their fitted amplitudes (a unit whose size waxes and wanes is one shape), projected on
//! their own principal components and clustered by ISO-SPLIT. Parts that are bimodal
//! there, each with at least `split_min_spikes` members, and whose mean shapes differ by
//! more than noise can explain (`split_min_z`, below) become units; the next rounds
//! re-assign every spike, and the unit pruning and merging judge the new units like any
//! other. The sort then undoes a split that ends with fewer units than before it (the
//! new unit took over an existing one's spikes instead of adding one).
//!
//! Only members alone in their window are looked at (no detected neighbour within the
//! template's support), and only units whose template is a motor unit potential or a
//! complex: elsewhere the windows hold neighbours that were not detected or the slow tails
//! of earlier potentials, and clusters of where those fell are not units (found on
//! simulated neuromyotonic discharges and positive sharp waves of myotonic discharges,
//! which such splits broke up). A template that does not end inside the window may run on
//! into a slow tail (a positive sharp wave's slow phase lasts 10–100 ms, brief); then its
//! members need 100 ms without a detection before them, so that no earlier tail lies in
//! their windows. When the window is shorter than the longest motor unit potential (15 ms,
//! brief; the needle default is 10 ms), a template that runs past it is first of all a long
//! potential (11–15 ms), and the 100 ms, which no unit of a busy recording has, kept units
//! that merged two long potentials from ever being split: there only the template's
//! support is asked for (on seeds 11–40 at 10 dB, continuous myokymia 0.65 → 0.77,
//! fibrillations 0.63 → 0.70, mean macro-F1 0.723 → 0.743).
//!
//! **Test of a split.** For two parts of `n₁` and `n₂` members with mean shapes `m₁`, `m₂`
//! over the unit's support of `m` samples and pooled per-sample variance `s²` about their
//! means, `D = min_c ‖m₁ − c·m₂‖² / (s²·(1/n₁ + 1/n₂))` is about a χ² with `m` degrees of
//! freedom when the two are one shape. The split needs `D ≥ m + z·√(2m)`; `z` is high
//! because the parts were chosen by the clustering to differ (the test is biased
//! towards passing, so only a clear difference counts).

use super::cluster::{isosplit, ClusterParams};
use super::features::{FeatureKind, FeatureSpace};
use super::fit::{Fit, FitUnit};
use super::measure::{self, WaveformClass};
use super::templates::recentre;
use super::{evenly, peeled, Ctx, Extra, SortConfig};

/// Most members of one unit looked at (evenly spaced in time): enough for the dip test to
/// see a unit of a few percent of them, and the cost stays bounded.
const SPLIT_MAX_SPIKES: usize = 2000;

/// The longest slow phase of a positive sharp wave, ms (brief: 10–100 ms).
const TAIL_MS: f64 = 100.0;

/// The longest motor unit potential, ms (brief: 5–15 ms).
const MUAP_MAX_MS: f64 = 15.0;

/// A unit found to hold several: the new templates (full frames, peak re-centred, the
/// largest part first) and the members each averages.
#[derive(Debug, Clone)]
pub(super) struct Split {
    pub unit: usize,
    pub templates: Vec<Vec<f32>>,
    pub counts: Vec<usize>,
}

/// Looks for units to split among the fitted spikes `which` (see the module docs).
pub(super) fn split_units(
    ctx: &Ctx,
    units: &[FitUnit],
    which: &[usize],
    fits: &[Option<Fit>],
    extras: &[Extra],
    cfg: &SortConfig,
    params: &ClusterParams,
) -> Vec<Split> {
    let l = ctx.len();
    let pre = ctx.input.pre_samples;
    let sigma = ctx.input.noise_sigma_uv as f64;
    let mut out = Vec::new();
    let mut x = vec![0.0f32; l];
    let mut scratch = Vec::new();
    for (u, unit) in units.iter().enumerate() {
        // Members alone in their window: where potentials follow each other within a
        // template's length (a discharge at 150–300 Hz), the windows also hold the
        // neighbours that were not detected, and their clusters are of where those fell.
        // A template cut off by a window that could hold any motor unit potential runs on
        // into a slow tail (see the module docs).
        let span = (unit.hi - unit.lo) as i64;
        let before = if unit.hi >= l && l as f64 >= MUAP_MAX_MS * 1e-3 * ctx.input.rate_hz {
            (TAIL_MS * 1e-3 * ctx.input.rate_hz).round() as i64
        } else {
            span
        };
        let n = fits.len();
        let alone = |i: usize| {
            let si = ctx.sample(i);
            (i == 0 || si - ctx.sample(i - 1) >= before)
                && (i + 1 >= n || ctx.sample(i + 1) - si >= span)
        };
        let members: Vec<usize> = which
            .iter()
            .copied()
            .filter(|&i| fits[i].is_some_and(|f| f.unit == u && f.a > 0.0) && alone(i))
            .collect();
        if members.len() < 2 * cfg.split_min_spikes {
            continue;
        }
        // Motor unit potentials and complexes only: single-fibre spikes differ in size
        // and width, which the clustering's slopes see.
        let sigma_t = sigma / (members.len() as f64).sqrt();
        let class = measure::measure(&unit.t, ctx.input.rate_hz, sigma_t, &cfg.measure)
            .map(|m| measure::classify(&m, ctx.input.rate_hz, &cfg.classes).0);
        if !matches!(
            class,
            Some(WaveformClass::MotorUnit | WaveformClass::Complex)
        ) {
            continue;
        }
        let members = evenly(&members, SPLIT_MAX_SPIKES);
        // Aligned windows (µV) and the same divided by the fitted amplitude.
        let mut aligned = vec![0.0f32; members.len() * l];
        let mut shape = vec![0.0f32; members.len() * l];
        for (r, &i) in members.iter().enumerate() {
            let Some(f) = fits[i] else { continue };
            peeled(ctx, i, units, fits, extras, &mut x);
            let s = f.shift as i64;
            let row = &mut aligned[r * l..(r + 1) * l];
            for (k, v) in row.iter_mut().enumerate() {
                let j = k as i64 + s;
                if j >= 0 && j < l as i64 {
                    *v = x[j as usize];
                }
            }
            // Less the fitted sub-sample shift (`b·T'`), so that a sharp spike's jitter
            // between samples is not read as another shape.
            for ((d, v), dt) in shape[r * l..(r + 1) * l]
                .iter_mut()
                .zip(row.iter())
                .zip(&unit.d)
            {
                *d = (v - f.b * dt) / f.a;
            }
        }
        let rows: Vec<&[f32]> = shape.chunks_exact(l).collect();
        let (lo, hi) = (unit.lo, unit.hi.max(unit.lo + 1));
        let space = FeatureSpace::fit(
            FeatureKind::Level,
            &rows,
            (lo, hi),
            cfg.max_feature_samples,
            cfg.n_components,
            sigma,
        );
        let k = space.k();
        let mut pts = vec![0.0f64; rows.len() * k];
        for (r, row) in rows.iter().enumerate() {
            space.project(row, &mut scratch, &mut pts[r * k..(r + 1) * k]);
        }
        let labels = isosplit(&pts, k, params);
        let nparts = labels.iter().max().map_or(0, |m| m + 1);
        if nparts < 2 {
            continue;
        }
        let mut parts: Vec<Vec<usize>> = vec![Vec::new(); nparts];
        for (r, &p) in labels.iter().enumerate() {
            parts[p].push(r);
        }
        parts.retain(|p| p.len() >= cfg.split_min_spikes);
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        if parts.len() < 2 {
            continue;
        }
        let mean_of = |rows: &[f32], part: &[usize]| -> Vec<f64> {
            let mut m = vec![0.0f64; l];
            for &r in part {
                for (a, v) in m.iter_mut().zip(&rows[r * l..(r + 1) * l]) {
                    *a += *v as f64;
                }
            }
            m.iter_mut().for_each(|a| *a /= part.len() as f64);
            m
        };
        let shape_means: Vec<Vec<f64>> = parts.iter().map(|p| mean_of(&shape, p)).collect();
        // Pooled per-sample variance about the part means, over the support.
        let (mut ss, mut dof) = (0.0f64, 0usize);
        for (p, m) in parts.iter().zip(&shape_means) {
            for &r in p {
                let row = &shape[r * l..(r + 1) * l];
                ss += (lo..hi)
                    .map(|j| (row[j] as f64 - m[j]).powi(2))
                    .sum::<f64>();
            }
            dof += (p.len() - 1) * (hi - lo);
        }
        let s2 = ss / dof.max(1) as f64;
        let m = (hi - lo) as f64;
        let bar = m + cfg.split_min_z * (2.0 * m).sqrt();
        let distinct = |a: usize, b: usize| -> f64 {
            let (ma, mb) = (&shape_means[a][lo..hi], &shape_means[b][lo..hi]);
            let ab: f64 = ma.iter().zip(mb).map(|(x, y)| x * y).sum();
            let bb: f64 = mb.iter().map(|y| y * y).sum();
            let c = if bb > 0.0 { ab / bb } else { 0.0 };
            let d: f64 = ma.iter().zip(mb).map(|(x, y)| (x - c * y).powi(2)).sum();
            let na = parts[a].len() as f64;
            let nb = parts[b].len() as f64;
            d / (s2 * (1.0 / na + 1.0 / nb)).max(f64::MIN_POSITIVE)
        };
        let part_templates: Vec<Vec<f32>> = parts
            .iter()
            .map(|p| {
                let mut t: Vec<f32> = mean_of(&aligned, p).into_iter().map(|v| v as f32).collect();
                recentre(&mut t, pre);
                t
            })
            .collect();
        // Keep the largest part and every other part unlike all those kept.
        let mut kept = vec![0usize];
        for b in 1..parts.len() {
            let scores: Vec<f64> = kept.iter().map(|&a| distinct(a, b)).collect();
            if scores.iter().all(|&d| d >= bar) {
                kept.push(b);
            }
        }
        if kept.len() < 2 {
            continue;
        }
        let mut split = Split {
            unit: u,
            templates: Vec::new(),
            counts: Vec::new(),
        };
        for &p in &kept {
            split.templates.push(part_templates[p].clone());
            split.counts.push(parts[p].len());
        }
        out.push(split);
    }
    out
}
