//! Fitting templates to spikes: the nearest-template assignment and the overlap resolution.
//!
//! # The fit of one template
//!
//! A spike's window `x` is modelled, over the template's support `[lo, hi)` placed at an
//! integer shift `s` (window sample `j` ↔ template sample `j − s`), as
//!
//! ```text
//! x ≈ a·T + b·T'        T' the central-difference derivative of T
//! ```
//!
//! `a` is the amplitude scale (limited to `amplitude_range`) and `b/a` a sub-sample time
//! shift (first-order Taylor term, limited to ±[`MAX_SUBSAMPLE`] samples), so potentials
//! placed anywhere between samples fit as well as those on a sample. The fit's *explained
//! energy* is `E = ‖x‖² − ‖x − a·T − b·T'‖²` over the support; since the model is zero outside
//! the support, this is also the reduction of the residual over the whole window, so fits of
//! units with different supports compare fairly.
//!
//! # Nearest template
//!
//! [`best_fit`] returns the unit and shift of largest `E` over every unit and every candidate
//! shift: the aligned position `0` and the other large extrema of the template (where a
//! detector may have aligned), each ± `align_shift_ms`. It is the least-squares nearest
//! template with amplitude and sub-sample time free. Its fast path precomputes the Gram
//! matrices of `(T, T')` per shift and uses chunked dot products over the supports only; the
//! tests check it against a brute-force search that forms every residual in full.
//!
//! # Judging a fit
//!
//! With noise σ and `m` samples in the support, [`judge`] calls a fit
//! - *noise* when `E < min_fit_snr²·σ²` (the matched filter does not detect the template);
//! - *clean* when the residual's excess over the noise, `‖r‖² − σ²m`, is below
//!   `max(residual_z·σ²·√(2m), residual_fraction·E)`: a chi-square bound, or a fraction of the
//!   potential for the small shape changes of large potentials;
//! - an *overlap candidate* otherwise: something else is in the window.
//!
//! # Overlaps
//!
//! [`resolve_overlap`] is a two-step matching pursuit on the window (whose detected
//! neighbours have already been subtracted): the best unit at any shift within
//! ± `overlap_max_shift_ms`, then the best unit on the residual, then a joint least-squares
//! refit of both amplitudes and sub-sample shifts. The pair is kept when its residual is
//! clean by the rule above; the component that makes the detected peak labels the spike and
//! the other is an extra potential.

use super::linalg::{cholesky_solve, dot, dot2, is_pos};

/// Rounds of backfitting in the two-template pursuit.
const BACKFIT_ROUNDS: usize = 1;

/// First units tried by the two-template pursuit (the best-fitting ones): greedy pursuit
/// picks a wrong first potential when two overlap closely.
const PAIR_STARTS: usize = 2;

/// Largest sub-sample shift fitted by the derivative term, samples: integer shifts cover the
/// rest (the Taylor term is accurate to about half a sample for smooth potentials).
pub(crate) const MAX_SUBSAMPLE: f64 = 0.6;

/// Gram matrix of `(T, T')` over the part of the support inside the window at one shift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Gram {
    tt: f64,
    td: f64,
    dd: f64,
    /// Window range `[lo_w, hi_w)` of the fit (the support shifted, clipped to the window).
    lo_w: usize,
    hi_w: usize,
    /// `tt·dd − td²`, computed once for every fit at this shift.
    det: f64,
    /// Whether `det > 1e-6·tt·dd` (the free optimum's bounds are trusted: [`cannot_beat`],
    /// [`reaches`]).
    conditioned: bool,
    /// Whether `det > 1e-12·tt·dd` and `dd > 0` ([`solve`] fits `a` and `b` jointly).
    joint: bool,
}

impl Gram {
    fn new(tt: f64, td: f64, dd: f64, lo_w: usize, hi_w: usize) -> Gram {
        let det = tt * dd - td * td;
        Gram {
            tt,
            td,
            dd,
            lo_w,
            hi_w,
            det,
            conditioned: det > 1e-6 * tt * dd,
            joint: det > 1e-12 * tt * dd && dd > 0.0,
        }
    }
}

/// A unit ready to be fitted.
#[derive(Debug, Clone)]
pub(crate) struct FitUnit {
    /// Template, one full window frame (peak at the window's `pre`).
    pub t: Vec<f32>,
    /// Central-difference derivative of `t` (zero outside the frame).
    pub d: Vec<f32>,
    /// Support `[lo, hi)` inside the frame.
    pub lo: usize,
    pub hi: usize,
    /// Candidate shifts, ascending, and the Gram matrix of each.
    shifts: Vec<i32>,
    grams: Vec<Gram>,
    /// Weight `w` of the amplitude prior: a fit scores `E − w·(ln a)²`.
    pub prior: f64,
    /// Gram matrix of the whole support (valid at every shift that keeps it inside the
    /// window).
    full: Option<(f64, f64, f64)>,
    /// Index range of the shifts around the first offset (the main alignment), tried first.
    main: (usize, usize),
    /// [`best_fit`]'s search over the shifts, main alignments (`[0]`) then the others.
    plans: [Plan; 2],
    /// Gram matrices at shifts `first..first + len` in a window of the frame's length, see
    /// [`FitUnit::cache_grams`].
    cache: (i64, Vec<Option<Gram>>),
}

/// The order of [`best_fit`]'s search over one group of a unit's shifts (indices into
/// `shifts`): the coarse shifts, then each other shift with the coarse neighbours whose
/// promise decides whether it is fitted.
#[derive(Debug, Clone, Default)]
struct Plan {
    coarse: Vec<usize>,
    fine: Vec<(usize, [Option<usize>; 2])>,
}

/// The fit of one unit to one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fit {
    /// Index of the unit in the slice given.
    pub unit: usize,
    pub shift: i32,
    pub a: f32,
    pub b: f32,
    /// Explained energy, µV².
    pub explained: f64,
    /// `explained` minus the amplitude prior's penalty: what fits are compared by.
    pub score: f64,
    /// Window range of the fit.
    pub lo_w: usize,
    pub hi_w: usize,
}

/// Parameters of the fits, in samples and µV.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FitParams {
    pub amp: [f64; 2],
    pub sigma2: f64,
    pub min_fit_snr: f64,
    pub residual_z: f64,
    pub residual_fraction: f64,
}

/// Central difference `(t[i+1] − t[i−1]) / 2`, zero outside the frame.
pub(crate) fn derivative(t: &[f32]) -> Vec<f32> {
    let n = t.len();
    (0..n)
        .map(|i| {
            let next = if i + 1 < n { t[i + 1] } else { 0.0 };
            let prev = if i > 0 { t[i - 1] } else { 0.0 };
            0.5 * (next - prev)
        })
        .collect()
}

/// Window range of the support `[lo, hi)` at shift `s` in a window of `len`, if not empty.
fn placed(lo: usize, hi: usize, s: i64, len: usize) -> Option<(usize, usize)> {
    let a = (lo as i64 + s).max(0);
    let b = (hi as i64 + s).min(len as i64);
    (a < b).then_some((a as usize, b as usize))
}

impl FitUnit {
    /// Prepares `t` (one frame of `len` samples) with support `[lo, hi)` and the candidate
    /// shifts `offsets ± search` (offsets: shifts that put an extremum of the template on the
    /// window's alignment point).
    pub(crate) fn new(
        t: Vec<f32>,
        lo: usize,
        hi: usize,
        offsets: &[i32],
        search: i32,
        prior: f64,
    ) -> FitUnit {
        let d = derivative(&t);
        let len = t.len();
        let mut shifts: Vec<i32> = offsets
            .iter()
            .flat_map(|&o| (o - search)..=(o + search))
            .collect();
        shifts.sort_unstable();
        shifts.dedup();
        let mut u = FitUnit {
            t,
            d,
            lo,
            hi,
            shifts: Vec::new(),
            grams: Vec::new(),
            prior,
            full: None,
            main: (0, 0),
            plans: Default::default(),
            cache: (0, Vec::new()),
        };
        if lo < hi && hi <= u.t.len() {
            let (t, d) = (&u.t[lo..hi], &u.d[lo..hi]);
            u.full = Some((dot(t, t), dot(t, d), dot(d, d)));
        }
        for s in shifts {
            if let Some(g) = u.gram_at(s as i64, len) {
                u.shifts.push(s);
                u.grams.push(g);
            }
        }
        if let Some(&o) = offsets.first() {
            let a = u.shifts.partition_point(|&s| s < o - search);
            let b = u.shifts.partition_point(|&s| s <= o + search);
            u.main = (a, b);
        }
        let coarse: Vec<bool> = (0..u.shifts.len()).map(|si| u.is_coarse(si)).collect();
        u.plans = [true, false].map(|main| u.plan(main, &coarse));
        u
    }

    /// The search over the shifts of one group (main alignment or not): its coarse shifts,
    /// and its other shifts with their coarse neighbours (one sample away, same group).
    fn plan(&self, main: bool, coarse: &[bool]) -> Plan {
        let n = self.shifts.len();
        let mine = |j: usize| j < n && ((j >= self.main.0 && j < self.main.1) == main);
        let mut p = Plan::default();
        for si in (0..n).filter(|&si| mine(si)) {
            if coarse[si] {
                p.coarse.push(si);
                continue;
            }
            let near = |j: Option<usize>| {
                j.filter(|&j| mine(j) && coarse[j] && (self.shifts[j] - self.shifts[si]).abs() == 1)
            };
            p.fine
                .push((si, [near(si.checked_sub(1)), near(Some(si + 1))]));
        }
        p
    }

    /// Whether shift `si` is on the coarse grid of [`best_fit`]'s search: a multiple of
    /// [`ALT_GRID`], or a shift with no neighbour (one sample away, in the same group: main
    /// alignment or not) that is one (the ends of runs the grid misses).
    fn is_coarse(&self, si: usize) -> bool {
        let in_main = |j: usize| j >= self.main.0 && j < self.main.1;
        let on_grid = |s: i32| s.rem_euclid(ALT_GRID) == 0;
        let s = self.shifts[si];
        let neighbour_on_grid = |j: Option<usize>| {
            j.is_some_and(|j| {
                j < self.shifts.len()
                    && in_main(j) == in_main(si)
                    && (self.shifts[j] - s).abs() == 1
                    && on_grid(self.shifts[j])
            })
        };
        on_grid(s) || !(neighbour_on_grid(si.checked_sub(1)) || neighbour_on_grid(Some(si + 1)))
    }

    /// Computes once the Gram matrices of every shift in `±w` for windows of the frame's
    /// length (the overlap search tries them all, for every spike it resolves).
    pub(crate) fn cache_grams(&mut self, w: i32) {
        let len = self.t.len();
        let w = w.max(0) as i64;
        self.cache = (0, Vec::new());
        let grams = (-w..=w).map(|s| self.gram_at(s, len)).collect();
        self.cache = (-w, grams);
    }

    /// The Gram matrix at shift `s` in a window of `len` samples; `None` when the support
    /// falls outside or the template is zero there.
    pub(crate) fn gram_at(&self, s: i64, len: usize) -> Option<Gram> {
        let (first, grams) = &self.cache;
        if len == self.t.len() && s >= *first && s - first < grams.len() as i64 {
            return grams[(s - first) as usize];
        }
        let (lo_w, hi_w) = placed(self.lo, self.hi, s, len)?;
        let (a, b) = ((lo_w as i64 - s) as usize, (hi_w as i64 - s) as usize);
        if let (Some((tt, td, dd)), true) = (self.full, a == self.lo && b == self.hi) {
            return (tt > 0.0).then_some(Gram::new(tt, td, dd, lo_w, hi_w));
        }
        let (t, d) = (&self.t[a..b], &self.d[a..b]);
        let tt = dot(t, t);
        if !is_pos(tt) {
            return None;
        }
        Some(Gram::new(tt, dot(t, d), dot(d, d), lo_w, hi_w))
    }

    /// The amplitude prior's penalty at scale `a`.
    pub(crate) fn penalty(&self, a: f64) -> f64 {
        let l = a.max(f64::MIN_POSITIVE).ln();
        self.prior * l * l
    }

    /// Adds `sign · (a·T + b·T')` placed at window offset `o` into `w` (support only).
    pub(crate) fn add_model(&self, w: &mut [f32], o: i64, a: f32, b: f32, sign: f32) {
        if let Some((lo_w, hi_w)) = placed(self.lo, self.hi, o, w.len()) {
            let base = (lo_w as i64 - o) as usize;
            let n = hi_w - lo_w;
            let (t, d) = (&self.t[base..base + n], &self.d[base..base + n]);
            for ((x, tv), dv) in w[lo_w..hi_w].iter_mut().zip(t).zip(d) {
                *x += sign * (a * tv + b * dv);
            }
        }
    }
}

/// The least-squares `(a, b)` for projections `xt = ⟨x,T⟩`, `xd = ⟨x,T'⟩` under the limits on
/// `a` and `|b| ≤ MAX_SUBSAMPLE·a`, and the explained energy. When the free optimum breaks a
/// limit, `a` (with `b = 0`) is clamped, `b` fitted given `a` and clamped, then `a` refitted
/// given `b` and clamped: a fixed, deterministic rule.
pub(crate) fn solve(g: &Gram, xt: f64, xd: f64, amp: [f64; 2]) -> (f64, f64, f64) {
    if !(xt.is_finite() && xd.is_finite()) {
        return (amp[0], 0.0, f64::NEG_INFINITY);
    }
    let det = g.det;
    let (mut a, mut b) = if g.joint {
        ((g.dd * xt - g.td * xd) / det, (g.tt * xd - g.td * xt) / det)
    } else {
        (xt / g.tt, 0.0)
    };
    if !(a >= amp[0] && a <= amp[1] && b.abs() <= MAX_SUBSAMPLE * a) {
        a = (xt / g.tt).clamp(amp[0], amp[1]);
        b = if g.dd > 0.0 {
            ((xd - a * g.td) / g.dd).clamp(-MAX_SUBSAMPLE * a, MAX_SUBSAMPLE * a)
        } else {
            0.0
        };
        a = ((xt - b * g.td) / g.tt).clamp(amp[0], amp[1]);
        b = b.clamp(-MAX_SUBSAMPLE * a, MAX_SUBSAMPLE * a);
    }
    let e = 2.0 * (a * xt + b * xd) - (a * a * g.tt + 2.0 * a * b * g.td + b * b * g.dd);
    (a, b, e)
}

/// Relative margin of [`cannot_beat`], far above the rounding of its sums (~1e-15), so that a
/// fit it skips is below the best score by more than any rounding of [`solve`].
const BOUND_MARGIN: f64 = 1e-9;

/// Whether the free least-squares optimum of `(T, T')` explains at most `score`: `E* =
/// (dd·xt² − 2·td·xt·xd + tt·xd²) / det` compared without its division, with a margin, and
/// only when the Gram matrix is well conditioned (else `false`: the fit is computed).
fn cannot_beat(g: &Gram, xt: f64, xd: f64, score: f64) -> bool {
    if !(score > 0.0 && xt.is_finite() && xd.is_finite()) {
        return false;
    }
    let det = g.det;
    if !g.conditioned {
        return false;
    }
    let (p, q, r) = (g.dd * xt * xt, g.tt * xd * xd, 2.0 * g.td * xt * xd);
    p + q - r + BOUND_MARGIN * (p + q + r.abs()) < score * det * (1.0 - BOUND_MARGIN)
}

/// The fit of unit `u` at shift `s`; `None` when it cannot score above `floor` (checked
/// before the limits and the penalty, as in [`best_fit`]).
#[allow(clippy::too_many_arguments)]
fn fit_above(
    x: &[f32],
    u: &FitUnit,
    unit: usize,
    s: i32,
    g: &Gram,
    amp: [f64; 2],
    floor: Option<f64>,
) -> Option<Fit> {
    let (xt, xd) = window_dots(x, u, s, g);
    if floor.is_some_and(|f| cannot_beat(g, xt, xd, f)) {
        return None;
    }
    let (a, b, e) = solve(g, xt, xd, amp);
    if floor.is_some_and(|f| {
        let above = e > f;
        !above
    }) {
        return None;
    }
    Some(Fit {
        unit,
        shift: s,
        a: a as f32,
        b: b as f32,
        explained: e,
        score: e - u.penalty(a),
        lo_w: g.lo_w,
        hi_w: g.hi_w,
    })
}

/// `(x·T, x·T')` over the fit window of `g`, the unit's template and derivative placed at
/// shift `s`.
fn window_dots(x: &[f32], u: &FitUnit, s: i32, g: &Gram) -> (f64, f64) {
    let base = (g.lo_w as i64 - s as i64) as usize;
    let n = g.hi_w - g.lo_w;
    dot2(
        &x[g.lo_w..g.hi_w],
        &u.t[base..base + n],
        &u.d[base..base + n],
    )
}

/// The fit of largest explained energy over every unit and candidate shift (the nearest
/// template); `None` when there is no unit or no shift fits inside the window.
pub(crate) fn best_fit(x: &[f32], units: &[FitUnit], amp: [f64; 2]) -> Option<Fit> {
    // The fit of largest score, ties going to the first unit and shift in order. The main
    // alignments are tried first (they usually win, and a good score early lets the bound
    // skip the limits and penalty of most other fits, and the coarse search their
    // neighbours).
    let mut best: Option<(Fit, (usize, usize))> = None;
    // Fits unit `ui` at its shift `si`; with `grid`, returns whether its free optimum
    // reaches `ALT_REFINE` of the best score (then its neighbouring shifts are worth
    // fitting).
    let try_fit = |ui: usize, si: usize, grid: bool, best: &mut Option<(Fit, (usize, usize))>| {
        let u = &units[ui];
        let (s, g) = (u.shifts[si], &u.grams[si]);
        let (xt, xd) = window_dots(x, u, s, g);
        let promising = |best: &Option<(Fit, (usize, usize))>| {
            grid && best.is_none_or(|(f, _)| reaches(g, xt, xd, ALT_REFINE * f.score))
        };
        // A fit cannot explain more than the free least-squares optimum, nor score more
        // than it explains (the amplitude penalty is never negative): skip the limits, the
        // penalty (a logarithm) and the divisions of every fit whose optimum does not reach
        // the best score.
        if let Some((b, _)) = best {
            if cannot_beat(g, xt, xd, b.score) {
                return promising(best);
            }
        }
        let (a, b, e) = solve(g, xt, xd, amp);
        if best.is_some_and(|(f, _)| e < f.score) {
            return promising(best);
        }
        let score = e - u.penalty(a);
        let wins =
            best.is_none_or(|(f, at)| score > f.score || (score == f.score && (ui, si) < at));
        if wins {
            let f = Fit {
                unit: ui,
                shift: s,
                a: a as f32,
                b: b as f32,
                explained: e,
                score,
                lo_w: g.lo_w,
                hi_w: g.hi_w,
            };
            *best = Some((f, (ui, si)));
        }
        promising(best)
    };
    // Each unit's shifts coarse to fine, the main alignments of every unit first: the
    // shifts on a grid of `ALT_GRID` samples (and the ends of runs the grid misses), then
    // their neighbours, but only next to a grid shift whose free optimum reaches
    // `ALT_REFINE` of the best score so far (the derivative term fits ±0.6 sample, so the
    // optimum varies smoothly with the shift).
    // `promising[j]` is read only for the coarse shifts of the group being searched, all
    // written just before.
    let most = units.iter().map(|u| u.shifts.len()).max().unwrap_or(0);
    let mut promising = vec![false; most];
    for group in 0..2 {
        for (ui, u) in units.iter().enumerate() {
            let plan = &u.plans[group];
            for &si in &plan.coarse {
                promising[si] = try_fit(ui, si, true, &mut best);
            }
            for &(si, nb) in &plan.fine {
                if nb.iter().flatten().any(|&j| promising[j]) {
                    try_fit(ui, si, false, &mut best);
                }
            }
        }
    }
    best.map(|(f, _)| f)
}

/// Grid of the coarse search over alternative alignments, samples: every shift is within
/// one sample of a grid shift.
const ALT_GRID: i32 = 3;

/// Share of the best score that a grid shift's free optimum must reach for its neighbours
/// to be fitted (a shift one sample off the optimum keeps far more than this).
const ALT_REFINE: f64 = 0.5;

/// Whether the free least-squares optimum `(dd·xt² − 2·td·xt·xd + tt·xd²) / det` reaches
/// `level` (compared without the division; `true` when the Gram matrix is ill-conditioned:
/// no conclusion).
fn reaches(g: &Gram, xt: f64, xd: f64, level: f64) -> bool {
    let below = g.dd * xt * xt - 2.0 * g.td * xt * xd + g.tt * xd * xd < level * g.det;
    !(g.conditioned && below)
}

/// Best fit of one unit over every shift in `range` (inclusive), computing each shift's
/// Gram matrix (overlap search: shifts far from the alignment).
fn best_over_shifts(x: &[f32], units: &[FitUnit], range: (i32, i32), amp: [f64; 2]) -> Option<Fit> {
    let mut best: Option<Fit> = None;
    for (ui, u) in units.iter().enumerate() {
        // Coarse to fine: every other shift (the derivative term covers ±0.6 sample, so the
        // score varies smoothly), then the neighbours of the best.
        let step = if range.1 - range.0 > 8 { 2 } else { 1 };
        let mut unit_best: Option<Fit> = None;
        let eval = |s: i32, unit_best: &mut Option<Fit>| {
            if let Some(g) = u.gram_at(s as i64, x.len()) {
                let floor = unit_best.map(|b| b.score);
                if let Some(f) = fit_above(x, u, ui, s, &g, amp, floor) {
                    if unit_best.is_none_or(|b| f.score > b.score) {
                        *unit_best = Some(f);
                    }
                }
            }
        };
        let mut s = range.0;
        while s <= range.1 {
            eval(s, &mut unit_best);
            s += step;
        }
        if step > 1 {
            if let Some(b) = unit_best {
                for s in [b.shift - 1, b.shift + 1] {
                    if s >= range.0 && s <= range.1 {
                        eval(s, &mut unit_best);
                    }
                }
            }
        }
        if let Some(f) = unit_best {
            if best.is_none_or(|b| f.score > b.score) {
                best = Some(f);
            }
        }
    }
    best
}

/// How a fit is judged (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Noise,
    Clean,
    Overlap,
}

/// Energy of `x[lo..hi]`, as the difference of the running sums of squares from `x[0]` to
/// `lo` and to `hi` (the prefix sums' rounding; the sum is kept in a register, with no
/// table of prefix sums to write).
pub(crate) fn energy(x: &[f32], lo: usize, hi: usize) -> f64 {
    let square = |v: &f32| (*v as f64) * (*v as f64);
    let to_lo = x[..lo].iter().fold(0.0f64, |s, v| s + square(v));
    let to_hi = x[lo..hi].iter().fold(to_lo, |s, v| s + square(v));
    (to_hi - to_lo).max(0.0)
}

/// Whether a residual energy over `m` samples is clean given the explained energy.
fn residual_ok(residual: f64, m: usize, explained: f64, p: &FitParams) -> bool {
    let excess = residual - p.sigma2 * m as f64;
    let bound =
        (p.residual_z * p.sigma2 * (2.0 * m as f64).sqrt()).max(p.residual_fraction * explained);
    excess <= bound
}

/// Judges a fit to the window `x`.
pub(crate) fn judge(f: &Fit, x: &[f32], p: &FitParams) -> Verdict {
    if f.score < p.min_fit_snr * p.min_fit_snr * p.sigma2 {
        return Verdict::Noise;
    }
    let residual = energy(x, f.lo_w, f.hi_w) - f.explained;
    if residual_ok(residual, f.hi_w - f.lo_w, f.explained, p) {
        Verdict::Clean
    } else {
        Verdict::Overlap
    }
}

/// Two potentials explaining one window: `primary` makes the detected peak (at window index
/// `pre`), `secondary` is the other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pair {
    pub primary: Fit,
    pub secondary: Fit,
}

/// The two-template matching pursuit on `x`: the best unit at any shift in `±w`, the best
/// unit on the residual, each searched again with the other removed (backfitting, up to
/// [`BACKFIT_ROUNDS`] rounds), then a joint least-squares refit of both amplitudes and sub-sample
/// terms over the union of their supports. Returns both fits (each `explained` is its part
/// alone), the joint explained energy, the joint score (energy minus both amplitude
/// penalties) and the union range; `None` when a step finds nothing
/// or the joint amplitudes leave `amp`.
pub(crate) fn pursue_pair(
    x: &[f32],
    units: &[FitUnit],
    w: i32,
    amp: [f64; 2],
) -> Option<(Fit, Fit, f64, f64, usize, usize)> {
    pursue_pair_from(x, units, units, w, amp)
}

/// [`pursue_pair`] with the first potential taken from `first` and the second from
/// `second` (each fit's `unit` indexes its own set).
pub(crate) fn pursue_pair_from(
    x: &[f32],
    first: &[FitUnit],
    second: &[FitUnit],
    w: i32,
    amp: [f64; 2],
) -> Option<(Fit, Fit, f64, f64, usize, usize)> {
    // Several starts: the best fit of each of the `PAIR_STARTS` best-fitting first units.
    let mut starts: Vec<Fit> = (0..first.len())
        .filter_map(|u| best_over_shifts(x, std::slice::from_ref(&first[u]), (-w, w), amp))
        .enumerate()
        .map(|(u, f)| Fit { unit: u, ..f })
        .collect();
    starts.sort_by(|a, b| b.score.total_cmp(&a.score));
    starts.truncate(PAIR_STARTS);
    let mut best: Option<(Fit, Fit, f64, f64, usize, usize)> = None;
    for f1 in starts {
        if let Some(p) = pursue_pair_at(x, first, second, w, amp, f1) {
            if best.as_ref().is_none_or(|b| p.3 > b.3) {
                best = Some(p);
            }
        }
    }
    best
}

/// [`pursue_pair_from`] from one first fit.
fn pursue_pair_at(
    x: &[f32],
    first: &[FitUnit],
    second: &[FitUnit],
    w: i32,
    amp: [f64; 2],
    f1: Fit,
) -> Option<(Fit, Fit, f64, f64, usize, usize)> {
    let len = x.len();
    let mut f1 = f1;
    let mut r = x.to_vec();
    first[f1.unit].add_model(&mut r, f1.shift as i64, f1.a, f1.b, -1.0);
    let mut f2 = best_over_shifts(&r, second, (-w, w), amp)?;
    // Backfitting: the greedy first step is biased when the potentials overlap closely
    // (the sum's peak is neither's), so each is searched again with the other removed.
    for _ in 0..BACKFIT_ROUNDS {
        r.copy_from_slice(x);
        second[f2.unit].add_model(&mut r, f2.shift as i64, f2.a, f2.b, -1.0);
        let Some(g1) = best_over_shifts(&r, first, (-w, w), amp) else {
            break;
        };
        r.copy_from_slice(x);
        first[g1.unit].add_model(&mut r, g1.shift as i64, g1.a, g1.b, -1.0);
        let Some(g2) = best_over_shifts(&r, second, (-w, w), amp) else {
            break;
        };
        let same = (g1.unit, g1.shift, g2.unit, g2.shift) == (f1.unit, f1.shift, f2.unit, f2.shift);
        (f1, f2) = (g1, g2);
        if same {
            break;
        }
    }
    let unit_of = |k: usize| {
        if k == 0 {
            &first[f1.unit]
        } else {
            &second[f2.unit]
        }
    };
    let lo = f1.lo_w.min(f2.lo_w);
    let hi = f1.hi_w.max(f2.hi_w);
    let basis = |f: &Fit, u: &FitUnit| -> [Vec<f32>; 2] {
        let mut t = vec![0.0f32; len];
        let mut d = vec![0.0f32; len];
        u.add_model(&mut t, f.shift as i64, 1.0, 0.0, 1.0);
        u.add_model(&mut d, f.shift as i64, 0.0, 1.0, 1.0);
        [t, d]
    };
    let [t1, d1] = basis(&f1, unit_of(0));
    let [t2, d2] = basis(&f2, unit_of(1));
    let cols: [&[f32]; 4] = [&t1[lo..hi], &d1[lo..hi], &t2[lo..hi], &d2[lo..hi]];
    let xs = &x[lo..hi];
    let mut g = [0.0f64; 16];
    let mut rhs = [0.0f64; 4];
    for i in 0..4 {
        rhs[i] = dot(xs, cols[i]);
        for j in 0..4 {
            g[i * 4 + j] = dot(cols[i], cols[j]);
        }
    }
    // A tiny ridge keeps the system solvable when a derivative column is degenerate.
    let mut gr = g;
    for i in 0..4 {
        gr[i * 4 + i] *= 1.0 + 1e-9;
        gr[i * 4 + i] += 1e-12;
    }
    // Coefficients: the joint optimum when it respects the limits; else the joint optimum
    // of the two amplitudes with the sub-sample terms of the separate fits; else the
    // separate fits themselves (close overlaps make the four columns nearly collinear).
    let ok = |c: &[f64]| {
        c[0] >= amp[0]
            && c[0] <= amp[1]
            && c[2] >= amp[0]
            && c[2] <= amp[1]
            && c[1].abs() <= MAX_SUBSAMPLE * c[0]
            && c[3].abs() <= MAX_SUBSAMPLE * c[2]
    };
    let greedy = [f1.a as f64, f1.b as f64, f2.a as f64, f2.b as f64];
    let joint = cholesky_solve(&gr, &rhs, 4).filter(|c| ok(c));
    let amps_only = || -> Option<Vec<f64>> {
        // Solve for (a1, a2) with b_k = a_k · (greedy b_k / greedy a_k).
        let r1 = greedy[1] / greedy[0].max(f64::MIN_POSITIVE);
        let r2 = greedy[3] / greedy[2].max(f64::MIN_POSITIVE);
        let v1 = [1.0, r1, 0.0, 0.0];
        let v2 = [0.0, 0.0, 1.0, r2];
        let gv = |u: &[f64; 4], v: &[f64; 4]| -> f64 {
            (0..4)
                .flat_map(|i| (0..4).map(move |j| (i, j)))
                .map(|(i, j)| u[i] * v[j] * g[i * 4 + j])
                .sum()
        };
        let rv = |v: &[f64; 4]| -> f64 { (0..4).map(|i| v[i] * rhs[i]).sum() };
        let m = [
            gv(&v1, &v1) * (1.0 + 1e-9),
            gv(&v1, &v2),
            gv(&v2, &v1),
            gv(&v2, &v2) * (1.0 + 1e-9),
        ];
        let a = cholesky_solve(&m, &[rv(&v1), rv(&v2)], 2)?;
        let c = vec![a[0], a[0] * r1, a[1], a[1] * r2];
        ok(&c).then_some(c)
    };
    let c = joint.or_else(amps_only).unwrap_or_else(|| greedy.to_vec());
    let (a1, b1, a2, b2) = (c[0], c[1], c[2], c[3]);
    let quad = |v: &[f64]| -> f64 {
        (0..v.len())
            .flat_map(|i| (0..v.len()).map(move |j| (i, j)))
            .map(|(i, j)| v[i] * v[j] * g[i * 4 + j])
            .sum()
    };
    let e = 2.0 * c.iter().zip(&rhs).map(|(c, r)| c * r).sum::<f64>() - quad(&c);
    let part = |f: &Fit, a: f64, b: f64, k: usize| -> Fit {
        // The energy this component explains alone: 2⟨x, m⟩ − ‖m‖².
        let ek = 2.0 * (a * rhs[k] + b * rhs[k + 1])
            - (a * a * g[k * 5] + 2.0 * a * b * g[k * 4 + k + 1] + b * b * g[(k + 1) * 5]);
        Fit {
            a: a as f32,
            b: b as f32,
            explained: ek,
            score: ek - unit_of(k / 2).penalty(a),
            ..*f
        }
    };
    let (p1, p2) = (part(&f1, a1, b1, 0), part(&f2, a2, b2, 2));
    // The pair's score: its joint energy minus both amplitude penalties.
    let score = e - unit_of(0).penalty(a1) - unit_of(1).penalty(a2);
    Some((p1, p2, e, score, lo, hi))
}

/// Matching pursuit with two templates on `x` (see the module docs), one of them unit
/// `best` (the best single fit), judged: both parts above noise, the joint residual clean.
/// `pre` is the window's alignment point, `w` the search half-range in samples.
pub(crate) fn resolve_overlap(
    x: &[f32],
    units: &[FitUnit],
    best: usize,
    pre: usize,
    w: i32,
    p: &FitParams,
) -> Option<Pair> {
    let min_e = p.min_fit_snr * p.min_fit_snr * p.sigma2;
    // One of the two is the unit that fits the window best alone: a pair of other units
    // (one of them shrunk to a fraction of its size) must not take a spike from a unit
    // whose template simply fits it less cleanly.
    let (mut g1, g2, e, _, lo, hi) =
        pursue_pair_from(x, std::slice::from_ref(units.get(best)?), units, w, p.amp)?;
    g1.unit = best;
    if g1.score < min_e || g2.score < min_e {
        return None;
    }
    let xs = &x[lo..hi];
    if !residual_ok(dot(xs, xs) - e, hi - lo, e, p) {
        return None;
    }
    let at_peak = |f: &Fit| {
        let u = &units[f.unit];
        let tau = pre as i64 - f.shift as i64;
        if tau >= u.lo as i64 && tau < u.hi as i64 {
            (f.a * u.t[tau as usize] + f.b * u.d[tau as usize]).abs()
        } else {
            0.0
        }
    };
    let (primary, secondary) = if at_peak(&g1) >= at_peak(&g2) {
        (g1, g2)
    } else {
        (g2, g1)
    };
    Some(Pair { primary, secondary })
}

/// The largest fraction of `t`'s energy that one other template (shifted within `±w`,
/// scaled within `amp`) or two overlapping ones explain: near 1 when `t` is another unit
/// or the overlap of two others.
pub(crate) fn explained_by(t: &[f32], others: &[FitUnit], w: i32, amp: [f64; 2]) -> f64 {
    let total = dot(t, t);
    if !is_pos(total) || others.is_empty() {
        return 0.0;
    }
    let single = best_over_shifts(t, others, (-w, w), amp).map_or(0.0, |f| f.explained);
    let pair = pursue_pair(t, others, w, amp).map_or(0.0, |p| p.2);
    single.max(pair) / total
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A smooth triphasic test template of `len` samples peaking (negatively) at `at`.
    pub(crate) fn shape(len: usize, at: usize, width: f32, amp: f32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let x = (i as f32 - at as f32) / width;
                amp * (2.0 * x * x - 1.0) * (-x * x).exp()
            })
            .collect()
    }

    fn noise(len: usize, seed: u64, sd: f32) -> Vec<f32> {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let d = Normal::new(0.0f32, sd).unwrap();
        (0..len).map(|_| d.sample(&mut rng)).collect()
    }

    /// The brute-force oracle: for every unit and candidate shift, form the model with the
    /// same (a, b) rule from naive sums, and the residual in full, over the whole window;
    /// the score subtracts the same amplitude prior.
    fn oracle(x: &[f32], units: &[FitUnit], amp: [f64; 2]) -> Option<(usize, i32, f64, f64)> {
        let mut best: Option<(usize, i32, f64, f64)> = None;
        for (ui, u) in units.iter().enumerate() {
            for &s in &u.shifts {
                let mut tt = 0.0;
                let mut td = 0.0;
                let mut dd = 0.0;
                let mut xt = 0.0;
                let mut xd = 0.0;
                let mut any = false;
                for (j, &xj) in x.iter().enumerate() {
                    let tau = j as i64 - s as i64;
                    if tau < u.lo as i64 || tau >= u.hi as i64 {
                        continue;
                    }
                    let (t, d) = (u.t[tau as usize] as f64, u.d[tau as usize] as f64);
                    any = true;
                    tt += t * t;
                    td += t * d;
                    dd += d * d;
                    xt += xj as f64 * t;
                    xd += xj as f64 * d;
                }
                if !any || tt <= 0.0 {
                    continue;
                }
                let g = Gram::new(tt, td, dd, 0, 0);
                let (a, b, _) = solve(&g, xt, xd, amp);
                // Explained energy as the difference of full-window residuals.
                let mut before = 0.0;
                let mut after = 0.0;
                for (j, &xj) in x.iter().enumerate() {
                    let tau = j as i64 - s as i64;
                    let m = if tau >= u.lo as i64 && tau < u.hi as i64 {
                        a * u.t[tau as usize] as f64 + b * u.d[tau as usize] as f64
                    } else {
                        0.0
                    };
                    before += (xj as f64).powi(2);
                    after += (xj as f64 - m).powi(2);
                }
                let e = before - after;
                let score = e - u.prior * a.ln() * a.ln();
                if best.is_none_or(|b| score > b.3) {
                    best = Some((ui, s, e, score));
                }
            }
        }
        best
    }

    fn units(len: usize) -> Vec<FitUnit> {
        let pre = len / 2;
        let mut a = shape(len, pre, 3.0, -100.0);
        // Unit b: biphasic with a strong second extremum (alternative alignment point).
        let b: Vec<f32> = (0..len)
            .map(|i| {
                let x = (i as f32 - pre as f32) / 4.0;
                -90.0 * x * (-x * x).exp() * 2.33
            })
            .collect();
        let c = shape(len, pre, 8.0, 60.0);
        a[0] = 0.0;
        vec![
            FitUnit::new(a, pre - 15, pre + 15, &[0], 2, 25.0 / 0.04),
            FitUnit::new(b, pre - 20, pre + 20, &[0, 6], 2, 25.0 / 0.04),
            FitUnit::new(c, 0, len, &[0], 3, 0.0),
        ]
    }

    /// The fast nearest template equals the brute-force one on many windows: clean spikes of
    /// each unit at random shifts and amplitudes, mixtures, and pure noise.
    #[test]
    fn nearest_template_matches_brute_force() {
        let len = 80;
        let us = units(len);
        let amp = [0.2, 4.0];
        let mut cases = 0;
        for seed in 0..300u64 {
            let mut x = noise(len, seed, 5.0 + (seed % 4) as f32 * 10.0);
            let which = (seed % 4) as usize;
            if which < 3 {
                let s = (seed % 7) as i64 - 3;
                let a = 0.3 + (seed % 5) as f32 * 0.4;
                us[which].add_model(&mut x, s, a, 0.3 * ((seed % 3) as f32 - 1.0), 1.0);
            }
            if seed % 5 == 0 {
                us[(which + 1) % 3].add_model(&mut x, 9, 0.7, 0.0, 1.0);
            }
            let fast = best_fit(&x, &us, amp).expect("units fit");
            let slow = oracle(&x, &us, amp).expect("units fit");
            assert_eq!(
                (fast.unit, fast.shift),
                (slow.0, slow.1),
                "seed {seed}: fast {fast:?} slow {slow:?}"
            );
            // f32 dot products against f64 sums: relative error ~1e-6 of the window energy.
            let scale: f64 = x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().max(1.0);
            assert!(
                (fast.explained - slow.2).abs() <= 1e-4 * scale
                    && (fast.score - slow.3).abs() <= 1e-4 * scale,
                "seed {seed}: {} vs {}",
                fast.explained,
                slow.2
            );
            cases += 1;
        }
        assert_eq!(cases, 300);
    }

    #[test]
    fn sub_sample_shift_is_fitted_by_the_derivative() {
        let len = 64;
        let pre = 32;
        let t = shape(len, pre, 3.0, -200.0);
        let u = FitUnit::new(t, 10, 54, &[0], 1, 0.0);
        // The same shape delayed by 0.4 samples.
        let x: Vec<f32> = (0..len)
            .map(|i| {
                let xx = (i as f32 - pre as f32 - 0.4) / 3.0;
                -200.0 * (2.0 * xx * xx - 1.0) * (-xx * xx).exp()
            })
            .collect();
        let f = best_fit(&x, std::slice::from_ref(&u), [0.2, 4.0]).unwrap();
        assert_eq!(f.shift, 0);
        let tau = -(f.b / f.a);
        // The first-order Taylor term overestimates the delay of a sharp shape (σ = 3
        // samples) a little: 0.47 for 0.4.
        assert!((tau - 0.4).abs() < 0.1, "fitted delay {tau}");
        let total: f64 = x.iter().map(|v| (*v as f64).powi(2)).sum();
        // What the first-order term leaves: 0.1 % of the energy at 0.4 samples.
        assert!(f.explained > 0.998 * total, "{} of {total}", f.explained);
    }

    #[test]
    fn judge_separates_noise_clean_and_overlap() {
        let len = 80;
        let us = units(len);
        let p = FitParams {
            amp: [0.2, 4.0],
            sigma2: 25.0,
            min_fit_snr: 6.0,
            residual_z: 6.0,
            residual_fraction: 0.1,
        };
        let x = noise(len, 1, 5.0);
        let f = best_fit(&x, &us, p.amp).unwrap();
        assert_eq!(judge(&f, &x, &p), Verdict::Noise);
        let mut x = noise(len, 2, 5.0);
        us[0].add_model(&mut x, 0, 1.0, 0.0, 1.0);
        let f = best_fit(&x, &us, p.amp).unwrap();
        assert_eq!((f.unit, judge(&f, &x, &p)), (0, Verdict::Clean));
        us[1].add_model(&mut x, 8, 1.0, 0.0, 1.0);
        let f = best_fit(&x, &us, p.amp).unwrap();
        assert_eq!(judge(&f, &x, &p), Verdict::Overlap);
        let pair = resolve_overlap(&x, &us, f.unit, len / 2, 12, &p).expect("resolved");
        assert_eq!(pair.primary.unit, 0);
        assert_eq!((pair.secondary.unit, pair.secondary.shift), (1, 8));
        assert!((pair.primary.a - 1.0).abs() < 0.1 && (pair.secondary.a - 1.0).abs() < 0.1);
    }

    #[test]
    fn windows_shorter_than_the_support_and_empty_units() {
        let u = FitUnit::new(shape(40, 20, 3.0, 50.0), 0, 40, &[0], 2, 0.0);
        assert!(best_fit(&[1.0; 40], &[], [0.5, 2.0]).is_none());
        let x = vec![0.0f32; 40];
        let f = best_fit(&x, std::slice::from_ref(&u), [0.5, 2.0]).unwrap();
        assert!(f.explained <= 0.0);
        // A support entirely outside the window at every shift gives no candidate.
        let far = FitUnit::new(shape(40, 20, 3.0, 50.0), 0, 40, &[100], 1, 0.0);
        assert!(best_fit(&x, std::slice::from_ref(&far), [0.5, 2.0]).is_none());
    }
}
