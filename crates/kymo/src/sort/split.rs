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
//! **Rare parts.** A unit that fires a few to a few dozen times a minute (a fasciculating
//! unit, brief: well under 1 Hz) gives the clustering too few points for a mode of its own,
//! and its potentials are fitted by a larger unit. When the clustering finds no split, the
//! members that lie, one by one, farther from the unit's template than noise explains (the
//! χ² bar below, for one potential) and near one another form a part of their own, if there
//! are at least `split_min_rare_spikes` (5); the unit keeps its template. Only members away
//! from the unit's own firing count (its nearest spikes at least twice its median interval
//! away): inside a run, a member far from the unit's shape holds a neighbour the detection
//! missed (in continuous myokymia such members formed groups that were read as
//! fasciculations). On seeds 11–40 at 10 dB this found the absorbed fasciculating units of
//! four `mixed` runs and lost two (see the README).
//!
//! A rare unit of the *same shape* as the unit but another size (a fasciculating unit half
//! the size of a myokymic one) is near the template once divided by its amplitude. When
//! no rare part is found by shape, the members far from the unit's typical size (at least
//! 1.6 times and four robust standard deviations of its log-amplitude away) and alike in
//! size form a part, if there are at least `split_min_rare_spikes` of them, each at least
//! 100 ms from the unit's own potentials (a waning discharge's last, smaller beats are its
//! own). Such a part is kept without the shape test; the refinement and the pruning judge
//! it like any other (see `amplitude_parts`).
//!
//! **Test of a split.** For two parts of `n₁` and `n₂` members with mean shapes `m₁`, `m₂`
//! over the unit's support of `m` samples and pooled per-sample variance `s²` about their
//! means, `D = min_c ‖m₁ − c·m₂‖² / (s²·(1/n₁ + 1/n₂))` is about a χ² with `m` degrees of
//! freedom when the two are one shape. The split needs `D ≥ m + z·√(2m)`; `z` is high
//! because the parts were chosen by the clustering to differ (the test is biased
//! towards passing, so only a clear difference counts).

use rayon::prelude::*;

use super::cluster::{isosplit, ClusterParams};
use super::features::{FeatureKind, FeatureSpace};
use super::fit::{Fit, FitUnit};
use super::measure::{self, WaveformClass};
use super::templates::recentre;
use super::{evenly, peeled, Ctx, Extra, SortConfig};

/// Most members of one unit looked at (evenly spaced in time): enough for the dip test to
/// see a unit of a few percent of them, and the cost stays bounded.
const SPLIT_MAX_SPIKES: usize = 2000;

/// A member may be a rare unit's potential when the unit's own nearest spikes are at least
/// this many times its median interval away.
const RARE_APART: i64 = 2;

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
    // Each unit is looked at on its own (the fits are only read): units in parallel, the
    // splits in unit order.
    let look = |u: usize, unit: &FitUnit| -> Option<Split> {
        let mut x = vec![0.0f32; l];
        let mut scratch = Vec::new();
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
        if members.len() < cfg.split_min_rare_spikes {
            return None;
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
            return None;
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
        let (lo, hi) = (unit.lo, unit.hi.max(unit.lo + 1));
        let mut parts: Vec<Vec<usize>> = Vec::new();
        if members.len() >= 2 * cfg.split_min_spikes {
            let rows: Vec<&[f32]> = shape.chunks_exact(l).collect();
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
            parts = vec![Vec::new(); nparts];
            for (r, &p) in labels.iter().enumerate() {
                parts[p].push(r);
            }
            parts.retain(|p| p.len() >= cfg.split_min_spikes);
            parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        }
        // Too few for the clustering to see as a mode of their own: a rare unit's members
        // (a fasciculating unit's few potentials a minute) fitted by a larger unit, each
        // far from the unit's shape and near one another. The unit keeps its template.
        let rare = parts.len() < 2;
        // The unit's spikes, when it keeps its template beside rare parts.
        let mut n_own = 0;
        // Rare parts told apart by their size alone (see [`amplitude_parts`]).
        let mut by_size = false;
        if rare {
            let amps: Vec<f64> = members
                .iter()
                .map(|&i| fits[i].map_or(1.0, |f| f.a as f64))
                .collect();
            // Only members away from the unit's own firing: a rare unit's potentials fall
            // at random times, mostly outside the unit's runs and bursts, while a member
            // inside a run that is far from the unit's shape holds a neighbour the
            // detection missed (found in continuous myokymia, where such members formed
            // groups that were split off and read as fasciculations).
            let own: Vec<i64> = (0..fits.len())
                .filter(|&i| fits[i].is_some_and(|f| f.unit == u))
                .map(|i| ctx.sample(i))
                .collect();
            let mut iv: Vec<i64> = own.windows(2).map(|w| w[1] - w[0]).collect();
            iv.sort_unstable();
            let apart = RARE_APART * iv.get(iv.len() / 2).copied().unwrap_or(0);
            // Members whose nearest own spikes on both sides are at least `gap` samples away.
            let away = |gap: i64| -> Vec<bool> {
                members
                    .iter()
                    .map(|&i| {
                        let si = ctx.sample(i);
                        let k = own.partition_point(|&t| t < si);
                        let prev = k.checked_sub(1).map(|j| own[j]);
                        let next = own.get(k + 1).copied();
                        prev.is_none_or(|t| si - t >= gap) && next.is_none_or(|t| t - si >= gap)
                    })
                    .collect()
            };
            let eligible = away(apart);
            n_own = own.len();
            parts = rare_parts(&shape, &amps, &eligible, &unit.t, (lo, hi), sigma, cfg);
            if parts.len() < 2 {
                // By size only well away from the unit's firing: a waning discharge's last
                // beats are its own smaller potentials, with gaps of up to some 40 ms.
                let far = (RARE_SIZE_APART_MS * 1e-3 * ctx.input.rate_hz) as i64;
                parts = amplitude_parts(&amps, &away(apart.max(far)), cfg);
                by_size = true;
            }
            if parts.len() < 2 {
                return None;
            }
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
        let mut shape_means: Vec<Vec<f64>> = parts.iter().map(|p| mean_of(&shape, p)).collect();
        // The unit's own part, when rare parts leave it: its template, known from all its
        // spikes (its weight `1/n₁` then negligible).
        let n_of = |p: usize| {
            if rare && p == 0 {
                f64::INFINITY
            } else {
                parts[p].len() as f64
            }
        };
        if rare {
            shape_means[0] = unit.t.iter().map(|&v| v as f64).collect();
        }
        // Pooled per-sample variance about the part means, over the support.
        let (mut ss, mut dof) = (0.0f64, 0usize);
        for (p, m) in parts.iter().zip(&shape_means) {
            for &r in p {
                let row = &shape[r * l..(r + 1) * l];
                ss += (lo..hi)
                    .map(|j| (row[j] as f64 - m[j]).powi(2))
                    .sum::<f64>();
            }
            dof += p.len().saturating_sub(1) * (hi - lo);
        }
        let s2 = ss / dof.max(1) as f64;
        let m = (hi - lo) as f64;
        let bar = m + cfg.split_min_z * (2.0 * m).sqrt();
        let distinct = |a: usize, b: usize| -> f64 {
            let (d, _) = scaled_misfit(&shape_means[a][lo..hi], &shape_means[b][lo..hi]);
            let (na, nb) = (n_of(a), n_of(b));
            d / (s2 * (1.0 / na + 1.0 / nb)).max(f64::MIN_POSITIVE)
        };
        let mut part_templates: Vec<Vec<f32>> = parts
            .iter()
            .map(|p| {
                let mut t: Vec<f32> = mean_of(&aligned, p).into_iter().map(|v| v as f32).collect();
                recentre(&mut t, pre);
                t
            })
            .collect();
        if rare {
            part_templates[0] = unit.t.clone();
        }
        // Keep the largest part and every other part unlike all those kept (parts of
        // another size are alike in shape by construction; their sizes tell them apart).
        let mut kept = vec![0usize];
        for b in 1..parts.len() {
            let scores: Vec<f64> = kept.iter().map(|&a| distinct(a, b)).collect();
            if by_size || scores.iter().all(|&d| d >= bar) {
                kept.push(b);
            }
        }
        if kept.len() < 2 {
            return None;
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
        if rare {
            // The unit keeps its template, and its spikes but the parts'.
            let moved: usize = kept[1..].iter().map(|&p| parts[p].len()).sum();
            split.counts[0] = n_own.saturating_sub(moved).max(1);
        }
        Some(split)
    };
    units
        .par_iter()
        .enumerate()
        .filter_map(|(u, unit)| look(u, unit))
        .collect()
}

/// `‖x − c·y‖²` at the best scale `c`, and `c` (0 when `y` is zero).
fn scaled_misfit<T: Copy + Into<f64>>(x: &[T], y: &[T]) -> (f64, f64) {
    let xy: f64 = x
        .iter()
        .zip(y)
        .map(|(p, q)| (*p).into() * (*q).into())
        .sum();
    let yy: f64 = y.iter().map(|&q| q.into().powi(2)).sum();
    let c = if yy > 0.0 { xy / yy } else { 0.0 };
    let d: f64 = x
        .iter()
        .zip(y)
        .map(|(&p, &q)| (p.into() - c * q.into()).powi(2))
        .sum();
    (d, c)
}

/// The rare parts of one unit's members (see [`split_units`]): all members but the groups
/// first, then each group of at least `split_min_rare_spikes` `eligible` members that lie,
/// one by one, farther from the unit's template than noise explains (the χ² bar of the
/// module docs, for one potential) and near the group's first member. `shape` holds the
/// members' windows divided by their fitted amplitudes `amps`, whose noise is then `σ/a`.
fn rare_parts(
    shape: &[f32],
    amps: &[f64],
    eligible: &[bool],
    template: &[f32],
    (lo, hi): (usize, usize),
    sigma: f64,
    cfg: &SortConfig,
) -> Vec<Vec<usize>> {
    let l = template.len();
    let m = (hi - lo) as f64;
    let bar = m + cfg.split_min_z * (2.0 * m).sqrt();
    let row = |r: usize| &shape[r * l + lo..r * l + hi];
    let var = |r: usize| sigma * sigma / amps[r].max(1e-3).powi(2);
    let far: Vec<usize> = (0..amps.len())
        .filter(|&r| eligible[r] && scaled_misfit(row(r), &template[lo..hi]).0 / var(r) > bar)
        .collect();
    let near = |a: usize, b: usize| {
        let (d, c) = scaled_misfit(row(a), row(b));
        d / (var(a) + c * c * var(b)) <= bar
    };
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &r in &far {
        match groups.iter_mut().find(|g| near(r, g[0])) {
            Some(g) => g.push(r),
            None => groups.push(vec![r]),
        }
    }
    groups.retain(|g| g.len() >= cfg.split_min_rare_spikes);
    if groups.is_empty() {
        return Vec::new();
    }
    let mut taken = vec![false; amps.len()];
    groups.iter().flatten().for_each(|&r| taken[r] = true);
    let mut parts = vec![(0..amps.len()).filter(|&r| !taken[r]).collect::<Vec<_>>()];
    parts.extend(groups);
    parts
}

/// Least ratio between a rare part's typical size and the unit's, for parts told apart by
/// size alone (kymo: `mixed` seeds 14–37 at 10 dB, where fasciculating units of 0.26–0.5
/// and 2.2 times the size of a myokymic, neuromyotonic or complex repetitive unit of the
/// same shape were sorted into it; a unit's own potentials vary by 10–20 %, see
/// `amplitude_prior_sd`).
const RARE_SIZE_RATIO: f64 = 1.6;

/// Least distance of a rare part's members from the unit's typical size, in robust
/// standard deviations of the unit's log-amplitude (a unit that waxes and wanes spreads
/// its sizes, and its extremes are its own; kymo).
const RARE_SIZE_SDS: f64 = 4.0;

/// Least time between a member told apart by size and the unit's own potentials, ms (kymo:
/// the waning ends of simulated neuromyotonic discharges left gaps of up to 38 ms between
/// their beats, and their smallest beats were split off as a rare unit).
const RARE_SIZE_APART_MS: f64 = 100.0;

/// Most spread of one rare part's sizes, as a ratio to its median (kymo: a fasciculating
/// unit's potentials vary by 10–20 % in size, and by noise in the fit).
const RARE_PART_SPREAD: f64 = 1.4;

/// The rare parts of one unit's members told apart by size (see [`split_units`]): a rare
/// unit of the same shape as the unit but a different size (a fasciculating unit half the
/// size of a myokymic unit), whose potentials the unit fits at an amplitude scale far from
/// its own. All members but the groups first, then, on each side of the unit's typical
/// size, the `eligible` members at least [`RARE_SIZE_RATIO`] and [`RARE_SIZE_SDS`] away
/// from it and within [`RARE_PART_SPREAD`] of their group's median, when there are at least
/// `split_min_rare_spikes` of them.
fn amplitude_parts(amps: &[f64], eligible: &[bool], cfg: &SortConfig) -> Vec<Vec<usize>> {
    let logs: Vec<f64> = amps.iter().map(|a| a.max(1e-6).ln()).collect();
    let median = |v: &mut Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    if logs.is_empty() {
        return Vec::new();
    }
    let centre = median(&mut logs.clone());
    // Robust SD: the median absolute deviation over 0.6745.
    let sd = median(&mut logs.iter().map(|x| (x - centre).abs()).collect()) / 0.6745;
    let reach = RARE_SIZE_RATIO.ln().max(RARE_SIZE_SDS * sd);
    let mut parts = vec![Vec::new()];
    for side in [-1.0f64, 1.0] {
        let out: Vec<usize> = (0..logs.len())
            .filter(|&r| eligible[r] && side * (logs[r] - centre) >= reach)
            .collect();
        if out.len() < cfg.split_min_rare_spikes {
            continue;
        }
        let mid = median(&mut out.iter().map(|&r| logs[r]).collect());
        let group: Vec<usize> = out
            .into_iter()
            .filter(|&r| (logs[r] - mid).abs() <= RARE_PART_SPREAD.ln())
            .collect();
        if group.len() >= cfg.split_min_rare_spikes {
            parts.push(group);
        }
    }
    if parts.len() < 2 {
        return Vec::new();
    }
    let mut taken = vec![false; amps.len()];
    parts.iter().flatten().for_each(|&r| taken[r] = true);
    parts[0] = (0..amps.len()).filter(|&r| !taken[r]).collect();
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A three-phase potential of `l` samples peaking at `pre`, `width` samples wide.
    fn potential(l: usize, pre: usize, width: f32) -> Vec<f32> {
        (0..l)
            .map(|i| {
                let x = (i as f32 - pre as f32) / width;
                (1.0 - x * x) * (-0.5 * x * x).exp()
            })
            .collect()
    }

    /// `n_unit` members of a unit and `n_rare` of a rarer, wider potential that the unit
    /// fitted, each divided by its amplitude (noise σ/a), as `split_units` hands them over.
    fn members(n_unit: usize, n_rare: usize) -> (Vec<f32>, Vec<f64>, Vec<f32>) {
        let (l, pre) = (200, 60);
        let unit = potential(l, pre, 6.0);
        let rare = potential(l, pre, 10.0);
        let mut state = 12345u64;
        let mut noise = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 3.46 // σ = 1
        };
        let (mut shape, mut amps) = (Vec::new(), Vec::new());
        for k in 0..n_unit + n_rare {
            let a = 20.0 + (k % 7) as f32; // µV scale, σ = 1 µV
            let t = if k < n_unit { &unit } else { &rare };
            shape.extend(t.iter().map(|v| (a * v + noise()) / a));
            amps.push(a as f64);
        }
        (shape, amps, unit)
    }

    #[test]
    fn a_few_alike_members_far_from_the_unit_are_a_rare_part() {
        let cfg = SortConfig::default();
        let (shape, amps, unit) = members(60, 6);
        let all = vec![true; amps.len()];
        let parts = rare_parts(&shape, &amps, &all, &unit, (20, 140), 1.0, &cfg);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[0], (0..60).collect::<Vec<_>>());
        assert_eq!(parts[1], (60..66).collect::<Vec<_>>());
        // Fewer than `split_min_rare_spikes` of them, or none: nothing to split.
        let (shape, amps, unit) = members(60, cfg.split_min_rare_spikes - 1);
        let all = vec![true; amps.len()];
        assert!(rare_parts(&shape, &amps, &all, &unit, (20, 140), 1.0, &cfg).is_empty());
        let (shape, amps, unit) = members(60, 0);
        assert!(rare_parts(&shape, &amps, &all[..60], &unit, (20, 140), 1.0, &cfg).is_empty());
        // Members inside the unit's runs are not looked at.
        let (shape, amps, unit) = members(60, 6);
        let mut inside = vec![true; 66];
        inside[62] = false;
        inside[63] = false;
        assert!(rare_parts(&shape, &amps, &inside, &unit, (20, 140), 1.0, &cfg).is_empty());
    }

    #[test]
    fn a_few_members_of_another_size_away_from_the_runs_are_a_rare_part() {
        let cfg = SortConfig::default();
        // 60 members at 0.9–1.1 of the template and 7 at about 0.45 of it.
        let mut amps: Vec<f64> = (0..60).map(|k| 0.9 + 0.2 * (k % 5) as f64 / 4.0).collect();
        amps.extend((0..7).map(|k| 0.42 + 0.01 * k as f64));
        let all = vec![true; amps.len()];
        let parts = amplitude_parts(&amps, &all, &cfg);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[1], (60..67).collect::<Vec<_>>());
        // Inside the unit's runs they are its own waning potentials: nothing to split.
        let mut inside = vec![true; 67];
        inside[60..63].iter_mut().for_each(|e| *e = false);
        assert!(amplitude_parts(&amps, &inside, &cfg).is_empty());
        // A unit whose size spreads widely (waxing and waning) keeps its small members.
        let spread: Vec<f64> = (0..67).map(|k| 0.3 + 1.4 * k as f64 / 66.0).collect();
        assert!(amplitude_parts(&spread, &all, &cfg).is_empty());
    }
}
