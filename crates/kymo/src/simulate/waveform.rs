//! Potential shapes: motor unit potentials as sums of fibre potentials, and the
//! single-fibre potentials (fibrillations, positive sharp waves, endplate spikes, the
//! complex of a complex repetitive discharge).
//!
//! # Model
//!
//! A motor unit potential (MUAP) is the sum of the potentials of the unit's muscle fibres,
//! each seen from the electrode (the classic structure of needle-EMG simulators: S. D.
//! Nandedkar & E. Stålberg, "Simulation of single muscle fibre action potentials", Med.
//! Biol. Eng. Comput. 21:158–165, 1983, and the line-source MUAP simulations that followed).
//! Each fibre's potential is a Hermite–Rodriguez (HR) function, the compact-support basis
//! that L. R. Lo Conte, R. Merletti & G. V. Sandri used for myoelectric signals ("Hermite
//! expansions of compact support waveforms: applications to myoelectric signals", IEEE
//! Trans. Biomed. Eng. 41(12):1147–1159, 1994):
//!
//! ```text
//! HR1(x) = x·exp(−x²)·√(2e)        first order, biphasic, peak 1
//! HR2(x) = (2x² − 1)·exp(−x²)      second order, positive–negative–positive, −1 at 0
//! fibre(t) = a(r) · [c2·HR2(x) + c1·HR1(x)],   x = (t − τ) / λ(r)
//! a(r) = 1 / (1 + (r / r0)²)       amplitude falls with the fibre's distance r
//! λ(r) = λ0 + k·r                  width grows with distance (volume-conductor low-pass; k per unit)
//! τ ~ N(0, σ_d)                    arrival-time dispersion (endplate scatter, conduction)
//! ```
//!
//! A needle sees each fibre as a tripole (`c2 = 1`, a small `c1` for asymmetry); a bipolar
//! surface pair sees a biphasic wave (`c1 = 1`). Fibres are scattered uniformly over the
//! unit's circular territory; the electrode sits at a drawn distance from its centre. A
//! larger `σ_d` desynchronises the fibres and gives a polyphasic unit. The shape is then
//! scaled to a drawn peak-to-peak amplitude, and passed through the recording's band-pass.
//! A drawn unit whose measured duration or phase count falls outside the configured ranges
//! is drawn again, so every template meets them.
//!
//! Single-fibre potentials use one HR combination whose width is calibrated to a drawn
//! duration: fibrillations `HR2 − β·HR1` (β ≥ 0: initially positive, bi- or triphasic),
//! endplate spikes `HR1 − α·HR2` (α ≥ 0, initially negative), positive sharp waves a Gaussian
//! positive spike followed by a slow negative alpha-function phase, and the complex of a
//! complex repetitive discharge a chain of fibrillation-shaped spikes spread over a span.
//!
//! # Templates
//!
//! Each unit's potential is precomputed once at the recording's rate, at
//! [`SUBSAMPLE_PHASES`] sub-sample offsets, so a potential can be placed at a time finer
//! than one sample (a complex repetitive discharge's jitter is far below one sample at
//! 100 Hz) by adding the right phase, scaled, into the output.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::filter::Band;
use super::rng::{log_uniform, normal, uniform, uniform_count};
use super::scenario::{ComplexSpec, FibreShape, MuapParams, PswSpec, Range, SpikeSpec};
use crate::{Error, Result};

/// Sub-sample offsets at which every template is precomputed: potentials are placed on a
/// grid of `1 / (16 · rate)` s (3.1 µs at 20 kHz).
pub const SUBSAMPLE_PHASES: usize = 16;

/// A potential's duration runs from the first to the last sample whose magnitude reaches
/// this fraction of its peak-to-peak amplitude (kymo's convention for noise-free templates:
/// 2 % of a 1 mV MUAP is 20 µV, about where a reader at high gain sees the trace leave the
/// baseline).
pub const DURATION_FRACTION: f64 = 0.02;

/// A phase (a stretch between baseline crossings) counts only when its peak reaches this
/// fraction of the peak-to-peak amplitude, so a sub-visible wiggle is not a phase.
pub const PHASE_FRACTION: f64 = 0.05;

/// A template is cut where every phase's magnitude stays below this fraction of its peak:
/// the band-pass leaves very long, very small tails.
const TRIM_FRACTION: f64 = 1e-3;

/// Draws per unit before giving up on meeting the configured duration and phase ranges.
const MAX_ATTEMPTS: usize = 400;

/// HR functions are evaluated out to this many widths; `exp(−25)` is negligible.
const HR_SUPPORT: f64 = 5.0;

/// √(2e): scales `x·exp(−x²)` to a peak of 1.
const HR1_NORM: f64 = 2.331_643_981_597_124;

/// The kind of waveform a unit fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaveformKind {
    /// A motor unit potential seen by a needle.
    NeedleMuap,
    /// A motor unit potential seen by surface electrodes.
    SurfaceMuap,
    /// A fibrillation potential.
    Fibrillation,
    /// A positive sharp wave.
    PositiveSharpWave,
    /// An endplate spike.
    EndplateSpike,
    /// The time-locked complex of a complex repetitive discharge.
    Complex,
}

/// Sign of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Polarity {
    /// Above the baseline (in physical units; clinical displays draw negative up).
    Positive,
    /// Below the baseline.
    Negative,
}

/// What [`measure`] finds in a potential.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TemplateStats {
    /// Peak-to-peak amplitude, in the samples' unit.
    pub p2p: f64,
    /// Duration in seconds: first to last sample at or above [`DURATION_FRACTION`] × p2p.
    pub duration_s: f64,
    /// Number of phases: runs of one sign whose peak reaches [`PHASE_FRACTION`] × p2p,
    /// neighbouring runs of the same sign merged (smaller opposite runs between them do not
    /// count), i.e. significant baseline crossings + 1.
    pub phases: u32,
    /// Sign of the first phase.
    pub first_phase: Polarity,
    /// Root mean square over the duration.
    pub rms: f64,
    /// Index of the largest magnitude.
    pub peak_index: usize,
    /// Index of the first sample of the duration.
    pub onset_index: usize,
    /// Index of the last sample of the duration.
    pub end_index: usize,
}

/// Measures a potential sampled at `rate_hz`: peak-to-peak, duration, phases, first phase,
/// rms. `None` when the signal is flat (or not finite).
pub fn measure(x: &[f32], rate_hz: f64) -> Option<TemplateStats> {
    let (mut hi, mut lo) = (f64::NEG_INFINITY, f64::INFINITY);
    let (mut peak_index, mut peak) = (0usize, 0.0f64);
    for (i, &v) in x.iter().enumerate() {
        let v = v as f64;
        if !v.is_finite() {
            return None;
        }
        hi = hi.max(v);
        lo = lo.min(v);
        if v.abs() > peak {
            peak = v.abs();
            peak_index = i;
        }
    }
    let p2p = hi - lo;
    if p2p.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let thr_d = DURATION_FRACTION * p2p;
    let onset_index = x.iter().position(|&v| (v as f64).abs() >= thr_d)?;
    let end_index = x.iter().rposition(|&v| (v as f64).abs() >= thr_d)?;
    let span = &x[onset_index..=end_index];
    let rms =
        (span.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / span.len() as f64).sqrt();

    // Runs of one sign (zeros join the current run), each with its peak magnitude.
    let thr_p = PHASE_FRACTION * p2p;
    let mut signs: Vec<bool> = Vec::new(); // true = positive, significant runs only, merged
    let mut run_sign: Option<bool> = None;
    let mut run_peak = 0.0f64;
    let close = |sign: Option<bool>, peak: f64, signs: &mut Vec<bool>| {
        if let Some(s) = sign {
            if peak >= thr_p && signs.last() != Some(&s) {
                signs.push(s);
            }
        }
    };
    for &v in span {
        let v = v as f64;
        if v == 0.0 {
            continue;
        }
        let s = v > 0.0;
        if run_sign != Some(s) {
            close(run_sign, run_peak, &mut signs);
            run_sign = Some(s);
            run_peak = 0.0;
        }
        run_peak = run_peak.max(v.abs());
    }
    close(run_sign, run_peak, &mut signs);
    let first_phase = match signs.first() {
        Some(true) => Polarity::Positive,
        _ => Polarity::Negative,
    };
    Some(TemplateStats {
        p2p,
        duration_s: (end_index - onset_index) as f64 / rate_hz,
        phases: signs.len() as u32,
        first_phase,
        rms,
        peak_index,
        onset_index,
        end_index,
    })
}

#[inline]
fn hr_pair(x: f64) -> (f64, f64) {
    let e = (-x * x).exp();
    (x * e * HR1_NORM, (2.0 * x * x - 1.0) * e)
}

/// One fibre's HR potential.
#[derive(Debug, Clone, Copy)]
struct Component {
    amp: f64,
    center_s: f64,
    lambda_s: f64,
    c1: f64,
    c2: f64,
}

/// A potential as a function of continuous time (s), before sampling and filtering.
#[derive(Debug, Clone)]
enum Shape {
    /// A sum of HR fibre potentials.
    Sum(Vec<Component>),
    /// A positive sharp wave: `exp(−(t/σ)²) − depth · u·exp(1 − u)`, `u = t/τ` for `t > 0`.
    Psw {
        sigma_s: f64,
        tau_s: f64,
        depth: f64,
    },
}

impl Shape {
    fn support(&self) -> (f64, f64) {
        match self {
            Shape::Sum(cs) => cs
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                    (
                        lo.min(c.center_s - HR_SUPPORT * c.lambda_s),
                        hi.max(c.center_s + HR_SUPPORT * c.lambda_s),
                    )
                }),
            // u·e^(1−u) < 1e-6 beyond u ≈ 18.
            Shape::Psw { sigma_s, tau_s, .. } => (-HR_SUPPORT * sigma_s, 18.0 * tau_s),
        }
    }

    /// Adds the shape sampled at `t0 + i·dt` into `out`.
    fn add_to(&self, t0: f64, dt: f64, out: &mut [f64]) {
        let n = out.len();
        match self {
            Shape::Sum(cs) => {
                for c in cs {
                    let lo = ((c.center_s - HR_SUPPORT * c.lambda_s - t0) / dt)
                        .floor()
                        .max(0.0) as usize;
                    let hi = (((c.center_s + HR_SUPPORT * c.lambda_s - t0) / dt).ceil() as usize
                        + 1)
                    .min(n);
                    let inv = 1.0 / c.lambda_s;
                    for (i, o) in out.iter_mut().enumerate().take(hi).skip(lo) {
                        let x = (t0 + i as f64 * dt - c.center_s) * inv;
                        let (h1, h2) = hr_pair(x);
                        *o += c.amp * (c.c2 * h2 + c.c1 * h1);
                    }
                }
            }
            Shape::Psw {
                sigma_s,
                tau_s,
                depth,
            } => {
                for (i, o) in out.iter_mut().enumerate() {
                    let t = t0 + i as f64 * dt;
                    let mut v = (-(t / sigma_s) * (t / sigma_s)).exp();
                    if t > 0.0 {
                        let u = t / tau_s;
                        v -= depth * u * (1.0 - u).exp();
                    }
                    *o += v;
                }
            }
        }
    }
}

/// A unit's potential, precomputed at [`SUBSAMPLE_PHASES`] sub-sample offsets.
///
/// Phase `k`, sample `j` is the potential at time `(j − pre − k/P) / rate` relative to its
/// reference point (its largest magnitude at phase 0). A potential whose reference is at
/// `(n + k/P) / rate` adds `phase(k)[j]` to output sample `n − pre + j`.
#[derive(Debug, Clone)]
pub struct Template {
    phases: Vec<Vec<f32>>,
    pre: usize,
    stats: TemplateStats,
    kind: WaveformKind,
    rate_hz: f64,
}

impl Template {
    /// Samples per phase.
    pub fn len(&self) -> usize {
        self.phases[0].len()
    }

    /// Never true: a template has at least one sample.
    pub fn is_empty(&self) -> bool {
        self.phases[0].is_empty()
    }

    /// Samples before the reference point.
    pub fn pre(&self) -> usize {
        self.pre
    }

    /// The samples at sub-sample offset `k` (0 ≤ k < [`SUBSAMPLE_PHASES`]); phase 0 is the
    /// potential with its reference exactly on a sample. µV at amplitude scale 1.
    pub fn phase(&self, k: usize) -> &[f32] {
        &self.phases[k]
    }

    /// [`measure`] of phase 0.
    pub fn stats(&self) -> &TemplateStats {
        &self.stats
    }

    /// The waveform kind.
    pub fn kind(&self) -> WaveformKind {
        self.kind
    }

    /// Onset of the measured duration relative to the reference point, s (≤ 0).
    pub fn onset_s(&self) -> f64 {
        (self.stats.onset_index as f64 - self.pre as f64) / self.rate_hz
    }

    /// End of the measured duration relative to the reference point, s (≥ 0).
    pub fn end_s(&self) -> f64 {
        (self.stats.end_index as f64 - self.pre as f64) / self.rate_hz
    }
}

/// Samples `shape` at `phases` sub-sample offsets, filters each through `band`, trims the
/// tails, and returns `(phases, pre)`.
fn sample(shape: &Shape, fs: f64, band: &mut Band, phases: usize) -> (Vec<Vec<f64>>, usize) {
    let (lo, hi) = shape.support();
    let core = ((hi - lo) * fs).ceil() as usize + 2;
    let pad = band.pad_samples(fs);
    let n = core + 2 * pad;
    let dt = 1.0 / fs;
    let mut bufs = Vec::with_capacity(phases);
    for k in 0..phases {
        let mut b = vec![0.0f64; n];
        // Sample i is at t = lo + (i − pad − k/P)/fs.
        let t0 = lo - (pad as f64 + k as f64 / SUBSAMPLE_PHASES as f64) * dt;
        shape.add_to(t0, dt, &mut b);
        band.filtfilt(&mut b);
        bufs.push(b);
    }
    let (p0, peak) = bufs[0]
        .iter()
        .enumerate()
        .fold((0usize, 0.0f64), |(bi, bv), (i, &v)| {
            if v.abs() > bv {
                (i, v.abs())
            } else {
                (bi, bv)
            }
        });
    let thr = TRIM_FRACTION * peak;
    let first = bufs
        .iter()
        .filter_map(|b| b.iter().position(|v| v.abs() >= thr))
        .min()
        .unwrap_or(0)
        .min(p0);
    let last = bufs
        .iter()
        .filter_map(|b| b.iter().rposition(|v| v.abs() >= thr))
        .max()
        .unwrap_or(n - 1)
        .max(p0);
    let out = bufs.into_iter().map(|b| b[first..=last].to_vec()).collect();
    (out, p0 - first)
}

fn to_f32(v: &[f64], scale: f64) -> Vec<f32> {
    v.iter().map(|&x| (x * scale) as f32).collect()
}

/// Phase 0 only, as f32, and its stats (for the accept/reject test of a draw).
fn probe(shape: &Shape, fs: f64, band: &mut Band) -> Option<(TemplateStats, f64)> {
    let (p, _) = sample(shape, fs, band, 1);
    let s = measure(&to_f32(&p[0], 1.0), fs)?;
    Some((s, s.p2p))
}

/// Samples every phase and scales so phase 0's peak-to-peak is `p2p` (or keeps the shape's
/// own amplitude when `p2p` is `None`).
fn finish(
    shape: &Shape,
    fs: f64,
    band: &mut Band,
    p2p: Option<f64>,
    kind: WaveformKind,
) -> Result<Template> {
    let (phases, pre) = sample(shape, fs, band, SUBSAMPLE_PHASES);
    let raw = measure(&to_f32(&phases[0], 1.0), fs).ok_or_else(|| {
        Error::config("simulate: a drawn potential came out flat; widen its waveform ranges")
    })?;
    let scale = p2p.map_or(1.0, |t| t / raw.p2p);
    let phases: Vec<Vec<f32>> = phases.iter().map(|p| to_f32(p, scale)).collect();
    let stats = measure(&phases[0], fs).ok_or_else(|| {
        Error::config("simulate: a drawn potential came out flat; widen its waveform ranges")
    })?;
    Ok(Template {
        phases,
        pre,
        stats,
        kind,
        rate_hz: fs,
    })
}

fn in_range(x: f64, r: Range) -> bool {
    x >= r[0] && x <= r[1]
}

fn in_counts(x: u32, r: [u32; 2]) -> bool {
    x >= r[0] && x <= r[1]
}

fn give_up(what: &str, ranges: String) -> Error {
    Error::config(format!(
        "simulate: no {what} met {ranges} in {MAX_ATTEMPTS} draws; widen those ranges or change the waveform model parameters"
    ))
}

/// Draws one motor unit potential (needle or surface, by `params.fibre_shape` and the
/// electrode distance) that meets the configured duration and phase ranges.
pub(crate) fn muap(
    rng: &mut ChaCha8Rng,
    p: &MuapParams,
    fs: f64,
    band: &mut Band,
    surface: bool,
) -> Result<Template> {
    let polyphasic = rng.random::<f64>() < p.polyphasic_fraction;
    let (phase_range, dispersion) = if polyphasic {
        (p.polyphasic_phases, p.polyphasic_dispersion_ms)
    } else {
        (p.phases, p.dispersion_ms)
    };
    for _ in 0..MAX_ATTEMPTS {
        let n = uniform_count(rng, p.fibres);
        let radius = uniform(rng, p.territory_radius_mm);
        let d = uniform(rng, p.electrode_distance_mm);
        let sigma_ms = uniform(rng, dispersion);
        let asym = uniform(rng, p.asymmetry);
        let k = uniform(rng, p.width_per_mm);
        let mut cs = Vec::with_capacity(n as usize);
        for _ in 0..n {
            // Uniform over the disc: radius ∝ √u.
            let rho = radius * rng.random::<f64>().sqrt();
            let th = std::f64::consts::TAU * rng.random::<f64>();
            let (x, y) = (rho * th.cos() - d, rho * th.sin());
            let r = x.hypot(y).max(p.min_distance_mm);
            let amp = 1.0 / (1.0 + (r / p.falloff_mm).powi(2));
            let lambda_s = (p.width_ms + k * r) * 1e-3;
            let center_s = sigma_ms * 1e-3 * normal(rng);
            let (c1, c2) = match p.fibre_shape {
                FibreShape::Tripole => (-asym, 1.0),
                FibreShape::Biphasic => (1.0, asym),
            };
            cs.push(Component {
                amp,
                center_s,
                lambda_s,
                c1,
                c2,
            });
        }
        let shape = Shape::Sum(cs);
        let Some((s, _)) = probe(&shape, fs, band) else {
            continue;
        };
        if in_range(s.duration_s * 1e3, p.duration_ms) && in_counts(s.phases, phase_range) {
            let target = log_uniform(rng, p.p2p_uv);
            let kind = if surface {
                WaveformKind::SurfaceMuap
            } else {
                WaveformKind::NeedleMuap
            };
            return finish(&shape, fs, band, Some(target), kind);
        }
    }
    Err(give_up(
        if polyphasic {
            "polyphasic motor unit potential"
        } else {
            "motor unit potential"
        },
        format!(
            "duration_ms = [{}, {}] and phases = [{}, {}]",
            p.duration_ms[0], p.duration_ms[1], phase_range[0], phase_range[1]
        ),
    ))
}

/// Width λ that gives a single HR combination `c2·HR2 + c1·HR1` the duration `d_s` (no
/// filter), from its duration at λ = 1 measured on a fine grid.
fn hr_lambda(c1: f64, c2: f64, d_s: f64) -> f64 {
    let dx = 1e-3;
    let xs: Vec<f32> = (0..12_001)
        .map(|i| {
            let (h1, h2) = hr_pair(-6.0 + i as f64 * dx);
            (c2 * h2 + c1 * h1) as f32
        })
        .collect();
    let w = measure(&xs, 1.0 / dx).map_or(1.0, |s| s.duration_s);
    d_s / w
}

/// A single-fibre spike: fibrillation (`endplate = false`: `HR2 − β·HR1`, initially
/// positive, 2–3 phases) or endplate spike (`HR1 − α·HR2`, α ≥ 0: initially negative).
pub(crate) fn spike(
    rng: &mut ChaCha8Rng,
    p: &SpikeSpec,
    fs: f64,
    band: &mut Band,
    endplate: bool,
) -> Result<Template> {
    for _ in 0..MAX_ATTEMPTS {
        let d_s = uniform(rng, p.duration_ms) * 1e-3;
        let a = uniform(rng, p.asymmetry);
        let (c1, c2) = if endplate { (1.0, -a) } else { (-a, 1.0) };
        let shape = Shape::Sum(vec![Component {
            amp: 1.0,
            center_s: 0.0,
            lambda_s: hr_lambda(c1, c2, d_s),
            c1,
            c2,
        }]);
        let Some((s, _)) = probe(&shape, fs, band) else {
            continue;
        };
        let want = if endplate {
            Polarity::Negative
        } else {
            Polarity::Positive
        };
        if in_range(s.duration_s * 1e3, p.duration_ms)
            && (2..=3).contains(&s.phases)
            && s.first_phase == want
        {
            let target = log_uniform(rng, p.p2p_uv);
            let kind = if endplate {
                WaveformKind::EndplateSpike
            } else {
                WaveformKind::Fibrillation
            };
            return finish(&shape, fs, band, Some(target), kind);
        }
    }
    Err(give_up(
        if endplate {
            "endplate spike"
        } else {
            "fibrillation potential"
        },
        format!(
            "duration_ms = [{}, {}] with 2–3 phases",
            p.duration_ms[0], p.duration_ms[1]
        ),
    ))
}

/// A positive sharp wave whose filtered duration is the drawn one: the slow phase's time
/// constant is adjusted by a few fixed-point steps on the measured duration.
pub(crate) fn psw(rng: &mut ChaCha8Rng, p: &PswSpec, fs: f64, band: &mut Band) -> Result<Template> {
    for _ in 0..MAX_ATTEMPTS {
        let d_s = uniform(rng, p.duration_ms) * 1e-3;
        let sigma_s = uniform(rng, p.spike_ms) * 1e-3;
        let depth = uniform(rng, p.negative_depth);
        let mut tau_s = d_s / 8.0;
        let mut got = None;
        for _ in 0..8 {
            let shape = Shape::Psw {
                sigma_s,
                tau_s,
                depth,
            };
            let Some((s, _)) = probe(&shape, fs, band) else {
                break;
            };
            got = Some((shape, s));
            let err = d_s / s.duration_s.max(1.0 / fs);
            if (err - 1.0).abs() < 0.01 {
                break;
            }
            // Bounded steps, and a slow phase no longer than the whole wave: a draw whose
            // filtered shape measured a sample or two long once made the step ×1000 and
            // the next probe's buffer 100 GB (seed 15 of a two-PSW scenario).
            tau_s = (tau_s * err.clamp(0.25, 4.0)).min(d_s);
        }
        let Some((shape, s)) = got else { continue };
        if in_range(s.duration_s * 1e3, p.duration_ms)
            && s.phases >= 2
            && s.first_phase == Polarity::Positive
        {
            let target = log_uniform(rng, p.p2p_uv);
            return finish(
                &shape,
                fs,
                band,
                Some(target),
                WaveformKind::PositiveSharpWave,
            );
        }
    }
    Err(give_up(
        "positive sharp wave",
        format!(
            "duration_ms = [{}, {}] with a negative phase",
            p.duration_ms[0], p.duration_ms[1]
        ),
    ))
}

/// The complex of a complex repetitive discharge: fibrillation-shaped spikes of several
/// fibres spread over a span, each at its own amplitude; polyphasic by construction.
pub(crate) fn complex(
    rng: &mut ChaCha8Rng,
    p: &ComplexSpec,
    fs: f64,
    band: &mut Band,
) -> Result<Template> {
    for _ in 0..MAX_ATTEMPTS {
        let n = uniform_count(rng, p.fibres).max(2);
        let span_s = uniform(rng, p.span_ms) * 1e-3;
        let mut delays: Vec<f64> = (0..n)
            .map(|i| {
                if i == 0 {
                    0.0
                } else {
                    rng.random::<f64>() * span_s
                }
            })
            .collect();
        delays[n as usize - 1] = span_s;
        let mut cs = Vec::with_capacity(n as usize);
        for &c in &delays {
            let d_s = uniform(rng, p.fibre.duration_ms) * 1e-3;
            let a = uniform(rng, p.fibre.asymmetry);
            // Amplitude as a fraction of 1: the whole complex is left at its natural scale
            // in µV, with each fibre at its own drawn peak-to-peak (an HR2 − β·HR1 spike
            // has a peak-to-peak between 1.5 and 2.3 at unit amplitude).
            let amp = log_uniform(rng, p.fibre.p2p_uv) / 2.0;
            cs.push(Component {
                amp,
                center_s: c,
                lambda_s: hr_lambda(-a, 1.0, d_s),
                c1: -a,
                c2: 1.0,
            });
        }
        let shape = Shape::Sum(cs);
        let Some((s, _)) = probe(&shape, fs, band) else {
            continue;
        };
        if in_counts(s.phases, p.phases) {
            return finish(&shape, fs, band, None, WaveformKind::Complex);
        }
    }
    Err(give_up(
        "complex",
        format!("phases = [{}, {}]", p.phases[0], p.phases[1]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{stream, Stream};
    use crate::simulate::scenario::{Electrode, MuapSpec};

    const FS: f64 = 20_000.0;

    fn band() -> Band {
        Band::new([10.0, 10_000.0], FS)
    }

    #[test]
    fn measure_a_known_triphasic_shape() {
        // A sampled HR2 at λ = 1 ms: p2p = 1 + 2e^(−1.5) at x = ±√1.5 ... p2p = 1 + 0.4463.
        let xs: Vec<f32> = (0..400)
            .map(|i| hr_pair((i as f64 - 200.0) / 20.0).1 as f32)
            .collect();
        let s = measure(&xs, FS).expect("test input is valid");
        assert!(
            (s.p2p - (1.0 + 2.0 * (-1.5f64).exp())).abs() < 1e-3,
            "{}",
            s.p2p
        );
        assert_eq!(s.phases, 3);
        assert_eq!(s.first_phase, Polarity::Positive);
        assert_eq!(s.peak_index, 200);
        // The tails of (2x²−1)e^(−x²) fall to 2 % of p2p (0.0289) at |x| ≈ 2.45.
        assert!((s.duration_s * 1e3 - 4.9).abs() < 0.15, "{}", s.duration_s);
    }

    #[test]
    fn measure_refuses_flat() {
        assert!(measure(&[0.0; 10], FS).is_none());
        assert!(measure(&[], FS).is_none());
        assert!(measure(&[1.0, f32::NAN], FS).is_none());
    }

    #[test]
    fn small_wiggles_are_not_phases() {
        // A biphasic wave with a 1 % ripple crossing the baseline in its tail.
        let mut xs: Vec<f32> = (0..400)
            .map(|i| hr_pair((i as f64 - 200.0) / 20.0).0 as f32)
            .collect();
        for (i, v) in xs.iter_mut().enumerate().skip(300).take(40) {
            *v += 0.01 * ((i as f32) * 0.8).sin();
        }
        assert_eq!(measure(&xs, FS).expect("test input is valid").phases, 2);
    }

    #[test]
    fn needle_muaps_meet_the_ranges() {
        let p = MuapSpec::default().params(Electrode::Needle);
        let mut b = band();
        for i in 0..12 {
            let mut rng = stream(7, Stream::Unit, i);
            let t = muap(&mut rng, &p, FS, &mut b, false).expect("test input is valid");
            let s = measure(t.phase(0), FS).expect("test input is valid");
            assert!(in_range(s.duration_s * 1e3, p.duration_ms), "{s:?}");
            assert!((s.p2p - 200.0) > -1e-3 && s.p2p < 2000.0 + 1e-3, "{s:?}");
            assert!(s.phases >= 2, "{s:?}");
            assert_eq!(t.pre(), s.peak_index);
        }
    }

    #[test]
    fn subsample_phases_are_shifted_copies() {
        // Phase k is the potential shifted later by k/P of a sample: its peak sits between
        // phase 0's peak sample and the next one, and phase P/2's magnitudes at pre and
        // pre + 1 are nearly equal for a smooth peak.
        let p = MuapSpec::default().params(Electrode::Needle);
        let mut rng = stream(3, Stream::Unit, 0);
        let t = muap(&mut rng, &p, FS, &mut band(), false).expect("test input is valid");
        let pre = t.pre();
        let h = t.phase(SUBSAMPLE_PHASES / 2);
        let p0 = t.phase(0)[pre].abs();
        assert!(h[pre].abs() <= p0 + 1e-3 && h[pre + 1].abs() <= p0 + 1e-3);
    }
}
