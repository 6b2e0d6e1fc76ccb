//! Stage 3 of the analysis: spike sorting. Aligned waveforms of detected potentials go in;
//! units (templates with their measurements, class and isolation) and a unit per spike come
//! out, plus the potentials found hidden in overlaps.
//!
//! ```
//! use kymo::sort::{sort, SortConfig, SortInput, Waveforms};
//!
//! // Two detected spikes of 8 samples each, peak at index 3 (real inputs come from the
//! // detector: µV, aligned on the detected peak, spike times increasing).
//! let waveforms = [0.0f32, 10.0, -40.0, -90.0, 30.0, 12.0, 1.0, 0.0,
//!                  0.0, 11.0, -42.0, -88.0, 31.0, 10.0, 0.0, 0.0];
//! let input = SortInput {
//!     rate_hz: 20_000.0,
//!     waveforms: Waveforms::Matrix(&waveforms),
//!     wave_len: 8,
//!     pre_samples: 3,
//!     spike_samples: &[1_000, 5_000],
//!     noise_sigma_uv: 3.0,
//! };
//! let cfg = SortConfig { min_unit_spikes: 2, ..SortConfig::default() }.check()?;
//! let s = sort(&input, &cfg)?;
//! assert_eq!(s.labels.len(), 2);
//! # Ok::<(), kymo::Error>(())
//! ```
//!
//! # Method
//!
//! 1. **Features** (`features`): the first differences of each waveform's feature window
//!    (default −1…+1.5 ms around the peak, binned to ≤ 128 samples) — differences keep the
//!    sharp main spike, where units differ most, and suppress the slow phases of neighbours
//!    that a 150–300 Hz discharge puts a few ms away — projected on the leading principal
//!    components of at most `max_cluster_spikes` (20 000) spikes evenly spaced in time, in
//!    units of the noise per component.
//! 2. **Clustering** chooses the number of units from the data: ISO-SPLIT (Magland &
//!    Barnett 2015; `cluster`, `isocut`) — an over-partition by k-means++ whose
//!    neighbouring clusters merge while their projection on the line that separates them is
//!    unimodal (an isotonic-regression dip test), pairs far apart (≥ `keep_separation` noise
//!    σ) never merging so that a unit of a handful of spikes (a fasciculating unit) survives;
//!    then every cluster is clustered again in its own principal components (ISO-SPLIT's
//!    refinement, MountainSort's branching: the first components follow the largest units,
//!    small units that differ elsewhere share a cluster until it is looked at alone).
//!    Density-based methods need one density scale for a unit firing at 300 Hz and one
//!    firing twice a minute; a Gaussian mixture with BIC splits a unit whose amplitude wanes
//!    into several; the unimodality criterion has neither problem.
//! 3. **Refinement**, on at most `max_refine_spikes` spikes taken as runs of consecutive
//!    ones (so their neighbours are there), until the labels have settled: two rounds
//!    (`refine_settled_rounds`) without a unit added or removed in which almost no spike
//!    changes unit (`refine_moved_fraction`, spikes flipping back to their unit of two
//!    rounds before not counted) and few change only their verdict, clean or not
//!    (`refine_verdict_fraction`), or `refine_patience` rounds in which the number of
//!    spikes changing unit stops falling (units trading spikes without settling); at most
//!    `refine_iterations` rounds:
//!    - assign each spike to its nearest template (least squares with a free amplitude and
//!      sub-sample shift, over each template's support and its candidate alignments; `fit`),
//!      in time order, after subtracting the fitted potentials of its detected neighbours
//!      from its window ("peeling"). Fits are scored by explained energy minus an amplitude
//!      prior, `σ²·(ln a / s)²` with `s` the unit's own spread of log-amplitudes (at least
//!      `amplitude_prior_sd`): a spike five times smaller than a unit's usual ones is
//!      unlikely to be that unit;
//!    - weigh each unit (Occam's razor, `prune_units`): its spikes must be explained
//!      better with it (alone, or overlapped by another unit) than by the other units (one,
//!      or two overlapping, the neighbours of the unit re-expressed by its most similar
//!      unit) by more than a BIC price for its template (`unit_penalty · m · σ² · ln N`);
//!      a small unit whose template is itself the overlap of two larger units' templates
//!      (`overlap_unit_fraction`) goes too. This removes clusters of overlapping potentials
//!      and copies of one unit;
//!    - re-estimate all templates together by least squares with the neighbours modelled
//!      (`templates`), so potentials overlapping at 150–300 Hz do not smear into them;
//!    - merge units whose templates correlate ≥ `merge_min_correlation` at the best shift
//!      within `merge_max_shift_ms` with sizes within `merge_min_amplitude_ratio`; drop units
//!      with fewer than `min_unit_spikes` spikes;
//!    - once settled, split units that hold several (`split`, up to `split_rounds` times):
//!      the clustering's slope features see the main spike, so motor units whose main
//!      spikes are alike and whose slow phases differ share a cluster; their members are
//!      clustered again on their whole shape, and the refinement goes on with the parts.
//!      A unit none of whose parts is a mode of its own may still hold a rare unit's few
//!      potentials: alike, each far from its template, away from its own runs.
//!      A refinement that reaches `refine_iterations` without settling (units trading
//!      spikes in a crowded recording, such as a contraction with ten units) looks once
//!      too, in its last round.
//! 4. **Final passes over every spike** (a lenient one first when the refinement saw only a
//!    subset), judging each fit: a spike whose best fit is not above noise (`min_fit_snr`)
//!    is unsorted (`None`). A spike whose residual is too large for noise is tried as its
//!    best unit plus a second shifted template (matching pursuit with backfitting, joint
//!    refit); if that explains it, the spike takes the unit that makes its peak and the
//!    other potential is reported in [`Sorting::extra_spikes`], unless a detected spike sits
//!    there. Otherwise it keeps its best unit only if that unit explains ≥
//!    `min_explained_fraction` of the window's energy under the template.
//!
//! Time and memory: the clustering and the refinement run on bounded subsets, the final
//! passes are linear in the number of spikes (neighbour searches walk the sorted spike
//! times, no step is quadratic in spikes). The benchmark (`benches/sort.rs`) sorts 10⁵
//! spikes in a few seconds.
//!
//! Threads (rayon): a pass runs in parallel over spans of spikes separated by quiet gaps of
//! three windows, which no peeling reaches across, so its fits are those of one pass in
//! time order, bit for bit; clusters are split again, and each template's share of the
//! re-estimation's gradient summed (over the windows in order), in parallel. The sort is
//! the same on any number of threads, and the same as on one before it ran in parallel.
//!
//! # Accuracy
//!
//! Measured against the simulator's truth in `tests/sort.rs` (seeds never used while
//! developing; run `cargo test --release -p kymo --test sort accuracy_report -- --ignored
//! --nocapture` for the table): with one to five units (fasciculations, myokymic bursts,
//! fibrillations and positive sharp waves, complex repetitive and neuromyotonic discharges)
//! the unit count within ± 1 and typically ≥ 90 % of the potentials of units above 10 dB in
//! the right unit; ten units recruited together in a voluntary contraction, with a tenth of
//! the potentials hidden in overlaps, are much harder: about 60 % (small units lose
//! potentials to large ones they overlap).
//!
//! # Sign convention
//!
//! kymo stores true voltage: a positive sample is a positive potential at the active
//! electrode relative to the reference. Clinical EMG displays draw negative up, so what the
//! clinical literature calls an "initially positive" fibrillation potential or positive
//! sharp wave is drawn *downward* first on an EMG machine, and is a first phase of
//! **positive** values in kymo's data ([`Polarity::Positive`]). A file recorded with the
//! inputs swapped, or exported negative-up, inverts every polarity below.
//!
//! # Template measurements
//!
//! Measured on the unit's template (µV, the least-squares average of its spikes, amplitude
//! scale 1 = the median spike), with `σ_T = σ/√n` the noise left in a template of `n`
//! spikes:
//! - **baseline**: every measurement is taken from the median of the template's first
//!   `baseline_ms` (0.5 ms) when that stretch and twice as long after it are flat (within
//!   the duration threshold below, without its noise term), else from zero. A fibre firing at 20–80 Hz among others sits
//!   on a few µV of their slow tails, which a reader does not count as its potential.
//! - **peak-to-peak** amplitude, µV.
//! - **duration**: from the first to the last sample whose magnitude reaches
//!   `max(duration_fraction · p2p, noise_k · σ_T, duration_min_uv)` (default 2 % of p2p,
//!   3 σ_T and 2.5 µV), walking out
//!   from the peak and stopping at a quiet gap longer than `max_gap_ms`. This follows the
//!   clinical definition, "from the initial deflection from baseline to the final return to
//!   baseline" (Stålberg et al., "Quantitative analysis of individual motor unit potentials:
//!   a proposition for standardized terminology and criteria for measurement", J. Clin.
//!   Neurophysiol. 3:313–348, 1986), with an amplitude criterion for "baseline" (as automated
//!   MUP programs use), and excludes satellites separated by an isoelectric gap, as that
//!   paper does. The 2 % matches the simulator's truth; the noise term keeps noise in a
//!   template of few spikes from lengthening it. The single-fibre test reads the duration
//!   without parts beyond a quiet gap of `part_gap_ms` that are neither a phase nor a
//!   component longer than half that gap (a lone noise sample near a small fibre's end).
//! - **phases**: runs of one sign between baseline crossings inside the duration whose peak
//!   reaches `max(phase_fraction · p2p, phase_noise_k · σ_T)` (5 % of p2p, 5 σ_T),
//!   neighbouring runs of the same sign merged: significant baseline crossings + 1.
//! - **turns**: changes of direction with an excursion of at least `turn_uv` (default 25 µV)
//!   on both sides, inside the duration.
//! - **first-phase polarity**: the sign of the first phase (see the sign convention).
//! - **area**: the integral of the rectified template over the duration, µV·ms.
//! - **SNR**: `20·log10(rms over the duration / σ)`, as the simulator defines it.
//!
//! # Waveform class
//!
//! Decided from the template alone by [`ClassCriteria`] (every range configurable), tried
//! in this order:
//! 1. [`WaveformClass::PositiveSharpWave`]: the first phase is positive, its spike at most
//!    `psw_max_spike_ms` wide at half height, larger than the negative phase that follows,
//!    which lasts at least `psw_min_negative_ms`; at most `psw_max_phases` phases and
//!    `psw_max_p2p_uv`; total duration in `psw_duration_ms` (brief: "initial sharp positive
//!    deflection then a slow negative phase, 10–100 ms"). The width at half height, not
//!    the phase's length, measures "sharp": a zero-phase high-pass filter (the simulator's,
//!    and kymo's filter stage) adds a slow positive lead-in before the spike.
//! 2. [`WaveformClass::SingleFibre`]: duration in `single_fibre_duration_ms`, at most
//!    `single_fibre_max_phases`, peak-to-peak at most `single_fibre_max_p2p_uv` (brief:
//!    fibrillation potentials 1–5 ms, bi/triphasic, 20–200 µV, rarely to 1 mV). Fibrillation
//!    potentials are initially positive, endplate spikes initially negative: both are single
//!    fibres; [`Unit::first_phase`] tells them apart for the pattern stage. An initially
//!    negative one lasts at most `endplate_max_duration_ms` (endplate spikes: 3–4 ms).
//! 3. [`WaveformClass::Complex`]: at least `complex_min_phases` phases whose mean width
//!    at half height lies in `complex_phase_ms`, the second-largest at least
//!    `complex_min_peak_ratio` of the largest, peak-to-peak at most `complex_max_p2p_uv`:
//!    the complex of a complex repetitive discharge is a chain of single-fibre spikes
//!    (narrow, of comparable size), while a motor unit potential, polyphasic or not, has one
//!    dominant main spike and broader phases. The decisive feature of a CRD — identical
//!    repetition at a perfectly regular rate — is a firing pattern, judged by the pattern
//!    stage, not here.
//! 4. [`WaveformClass::MotorUnit`] otherwise (brief: 5–15 ms, 200 µV–2 mV, up to 4 phases;
//!    the class reason says whether the template is within these typical ranges and
//!    whether it is polyphasic).
//!
//! # Isolation
//!
//! Each unit carries the L-ratio and, when defined, the isolation distance
//! (Schmitzer-Torbert et al. 2005) in the clustering features; see `quality`. L-ratio is
//! the primary metric because it is defined for every unit, including one that holds most
//! of the spikes.

mod cluster;
mod config;
mod features;
mod fit;
mod isocut;
pub(crate) mod linalg;
mod measure;
mod quality;
mod split;
pub(crate) mod templates;

pub use config::{ClassCriteria, MeasureConfig, SortConfig, ValidSortConfig};
pub(crate) use measure::main_half_width_ms;
pub use measure::{Polarity, WaveformClass};

use rayon::prelude::*;
use serde::Serialize;

use crate::{Error, Result};
use cluster::{isosplit, ClusterParams};
use features::{FeatureKind, FeatureSpace};
use fit::{best_fit, energy, judge, resolve_overlap, Fit, FitParams, FitUnit, Verdict};
use linalg::is_pos;
use templates::{alignment_offsets, estimate, recentre, similarity, Contributor, Problem};

/// Most window samples the joint template fit holds at once (its residual and search
/// direction, two f32 arrays of this size: 64 MiB); the per-unit window count is lowered to
/// stay under it for long windows or many units.
const MAX_TEMPLATE_FIT_SAMPLES: usize = 1 << 23;

/// Largest sample magnitude taken as a potential, µV (1 kV: far beyond any biosignal; a
/// waveform beyond it is a corrupt input and left unsorted, which also keeps every sum of
/// squares finite in f32).
const MAX_ABS_UV: f32 = 1e9;

/// Margin added on each side of a template's measured extent to make its fit support, ms:
/// the tails below the duration threshold still carry a little of the potential.
const SUPPORT_MARGIN_MS: f64 = 0.5;

/// Detected spikes and their waveforms, the input of [`sort`].
#[derive(Debug, Clone, Copy)]
pub struct SortInput<'a> {
    /// Sampling rate of the waveforms, Hz.
    pub rate_hz: f64,
    /// Each spike's `wave_len` samples, µV (true voltage), aligned on the detected peak; the
    /// detector's filtering applies (no baseline offset).
    pub waveforms: Waveforms<'a>,
    /// Samples per waveform.
    pub wave_len: usize,
    /// Index of the detected peak inside each row.
    pub pre_samples: usize,
    /// Sample index of each detected peak in the recording, strictly increasing; its length
    /// is the number of spikes.
    pub spike_samples: &'a [u64],
    /// Standard deviation of the background noise, µV (e.g. the detector's MAD/0.6745).
    pub noise_sigma_uv: f32,
}

/// Where each spike's waveform is ([`SortInput::row`]).
#[derive(Debug, Clone, Copy)]
pub enum Waveforms<'a> {
    /// `n_spikes × wave_len` samples, row-major.
    Matrix(&'a [f32]),
    /// Windows of a filtered signal: spike `i`'s row is the `wave_len` samples of `signal`
    /// from recording sample `spike_samples[i] − pre_samples` on (`signal[0]` being recording
    /// sample `first`), except where `side_index[i]` is not `u32::MAX`: then it is that row
    /// of `side` (`wave_len` samples per row). The analysis keeps a sorting chunk's signal
    /// anyway (for the recovery), so its waveforms need no copy but the few that cross the
    /// edge of a filtering block (whose samples there came from another block's filtering).
    Windows {
        /// The signal.
        signal: &'a [f32],
        /// Recording sample of `signal[0]`.
        first: u64,
        /// Rows kept apart, row-major.
        side: &'a [f32],
        /// One per spike: its row in `side`, or `u32::MAX` for a window of `signal`.
        side_index: &'a [u32],
    },
}

impl<'a> Waveforms<'a> {
    /// Spike `i`'s waveform of `wave_len` samples, the spike being at recording sample
    /// `sample` and `pre_samples` into its row. Panics where [`sort`]'s input checks fail.
    pub fn row(&self, i: usize, sample: u64, wave_len: usize, pre_samples: usize) -> &'a [f32] {
        let l = wave_len;
        match *self {
            Waveforms::Matrix(w) => &w[i * l..(i + 1) * l],
            Waveforms::Windows {
                signal,
                first,
                side,
                side_index,
            } => match side_index[i] {
                u32::MAX => {
                    let start = (sample - pre_samples as u64 - first) as usize;
                    &signal[start..start + l]
                }
                k => &side[k as usize * l..(k as usize + 1) * l],
            },
        }
    }
}

impl<'a> SortInput<'a> {
    /// Spike `i`'s waveform (`wave_len` samples). Panics if `i` is out of range or the input
    /// does not pass [`sort`]'s checks.
    pub fn row(&self, i: usize) -> &'a [f32] {
        self.waveforms
            .row(i, self.spike_samples[i], self.wave_len, self.pre_samples)
    }
}

/// One sorted unit: its template, measurements, class and isolation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unit {
    /// Unit id, 0-based, in order of each unit's first spike.
    pub id: u32,
    /// Template, µV, `wave_len` samples with its largest magnitude at `pre_samples`: the
    /// least-squares average of the unit's spikes at their median amplitude.
    pub template: Vec<f32>,
    /// Spikes of the unit: detected spikes labelled with it plus its extra spikes.
    pub n_spikes: usize,
    /// Of which found inside overlaps ([`Sorting::extra_spikes`]).
    pub n_extra: usize,
    /// Peak-to-peak amplitude of the template, µV.
    pub p2p_uv: f64,
    /// Duration, ms (see the module docs).
    pub duration_ms: f64,
    /// Start and end of the duration relative to the template's peak, ms.
    pub onset_ms: f64,
    /// End of the duration relative to the peak, ms.
    pub end_ms: f64,
    /// Number of phases.
    pub phases: u32,
    /// Number of turns of at least `measure.turn_uv`.
    pub turns: u32,
    /// Sign of the first phase (true voltage; see the sign convention).
    pub first_phase: Polarity,
    /// Area of the rectified template over its duration, µV·ms.
    pub area_uv_ms: f64,
    /// `20·log10(rms over the duration / σ)`, dB.
    pub snr_db: f64,
    /// Interquartile range of the spikes' amplitude scales over their median (0 for a unit
    /// of constant amplitude; large for waning or waxing discharges).
    pub amplitude_spread: f64,
    /// L-ratio (Schmitzer-Torbert et al. 2005), lower is better; NaN when the unit has too
    /// few spikes in the metric's sample.
    pub l_ratio: f64,
    /// Isolation distance, larger is better; `None` when the unit holds more spikes than the
    /// rest of the sample.
    pub isolation_distance: Option<f64>,
    /// Waveform class.
    pub class: WaveformClass,
    /// One sentence with the numbers that decided the class.
    pub class_reason: String,
}

/// The result of [`sort`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sorting {
    /// The units, by id.
    pub units: Vec<Unit>,
    /// Per input spike: its unit id, or `None` for noise, artefacts and spikes that no
    /// template (or pair of templates) explains.
    pub labels: Vec<Option<u32>>,
    /// Per input spike: where its unit's template sits against the detection, samples
    /// (the template's reference point is at the spike's sample plus this; 0 when
    /// unlabelled). A detector marks the largest peak, which in a complex of several
    /// spikes of about one size moves from one spike to another; the template fit does
    /// not.
    pub shifts: Vec<i32>,
    /// Potentials found by resolving overlaps, not detected themselves: `(sample index of
    /// the potential's peak, unit id)`, in time order.
    pub extra_spikes: Vec<(u64, u32)>,
    /// Sentences about the input (e.g. waveforms with non-finite samples, left unsorted).
    pub warnings: Vec<String>,
}

fn input_error(what: impl AsRef<str>) -> Error {
    Error::config(format!("sort: input {}", what.as_ref()))
}

/// Checks the input's shape; returns the number of spikes.
fn check_input(x: &SortInput) -> Result<usize> {
    if !(x.rate_hz.is_finite() && x.rate_hz > 0.0) {
        return Err(input_error(format!(
            "rate_hz = {} must be a positive number of Hz",
            x.rate_hz
        )));
    }
    if !(x.noise_sigma_uv.is_finite() && x.noise_sigma_uv > 0.0) {
        return Err(input_error(format!(
            "noise_sigma_uv = {} must be a positive number of µV",
            x.noise_sigma_uv
        )));
    }
    let n = x.spike_samples.len();
    if x.wave_len < 4 {
        return Err(input_error(format!(
            "wave_len = {} must be at least 4 samples",
            x.wave_len
        )));
    }
    if x.pre_samples >= x.wave_len {
        return Err(input_error(format!(
            "pre_samples = {} must index a sample inside the waveform (wave_len = {})",
            x.pre_samples, x.wave_len
        )));
    }
    match x.waveforms {
        Waveforms::Matrix(w) => {
            let want = n.checked_mul(x.wave_len);
            if want != Some(w.len()) {
                return Err(input_error(format!(
                    "waveforms holds {} samples, not n_spikes × wave_len = {} × {}",
                    w.len(),
                    n,
                    x.wave_len
                )));
            }
        }
        Waveforms::Windows {
            signal,
            first,
            side,
            side_index,
        } => {
            if side_index.len() != n {
                return Err(input_error(format!(
                    "side_index holds {} entries, not one per spike ({n})",
                    side_index.len()
                )));
            }
            if side.len() % x.wave_len != 0 {
                return Err(input_error(format!(
                    "side holds {} samples, not a whole number of rows of wave_len = {}",
                    side.len(),
                    x.wave_len
                )));
            }
            let side_rows = side.len() / x.wave_len;
            let end = first.saturating_add(signal.len() as u64);
            for (i, (&k, &s)) in side_index.iter().zip(x.spike_samples).enumerate() {
                let fits = if k == u32::MAX {
                    s.checked_sub(x.pre_samples as u64)
                        .is_some_and(|lo| lo >= first && lo + x.wave_len as u64 <= end)
                } else {
                    (k as usize) < side_rows
                };
                if !fits {
                    return Err(input_error(format!(
                        "spike {i}'s waveform (sample {s}, side row {k}) lies outside the signal (samples {first}..{end}) and the {side_rows} side rows"
                    )));
                }
            }
        }
    }
    if let Some(i) = x.spike_samples.windows(2).position(|w| w[1] <= w[0]) {
        return Err(input_error(format!(
            "spike_samples[{}] = {} is not after spike_samples[{}] = {} (spike times must increase)",
            i + 1,
            x.spike_samples[i + 1],
            i,
            x.spike_samples[i]
        )));
    }
    Ok(n)
}

/// `k` indices spread evenly over `idx` (all of them when there are at most `k`).
fn evenly(idx: &[usize], k: usize) -> Vec<usize> {
    if idx.len() <= k {
        return idx.to_vec();
    }
    (0..k).map(|j| idx[j * idx.len() / k]).collect()
}

/// How a spike ended up in the last assignment pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Unsorted,
    /// The template explains it up to noise: used to estimate templates.
    Clean,
    /// Resolved as the detected member of an overlapping pair.
    Pair,
    /// Not clean, not resolved, but its unit explains most of it.
    Dominant,
}

/// Everything the passes share.
struct Ctx<'a> {
    input: &'a SortInput<'a>,
    valid: Vec<bool>,
    fp: FitParams,
    align_search: i32,
    alt_fraction: f64,
    margin: usize,
    overlap_w: i32,
    dedup: u64,
    min_explained: f64,
    /// The independent spans of the spikes (see [`independent_spans`]).
    spans: Vec<(usize, usize)>,
}

impl<'a> Ctx<'a> {
    fn new(input: &'a SortInput<'a>, valid: Vec<bool>, c: &SortConfig) -> Ctx<'a> {
        let l = input.wave_len;
        let sigma = input.noise_sigma_uv as f64;
        let samples_of = |ms: f64| (ms * 1e-3 * input.rate_hz).round();
        let n = input.spike_samples.len();
        Ctx {
            input,
            valid,
            fp: FitParams {
                amp: c.amplitude_range,
                sigma2: sigma * sigma,
                min_fit_snr: c.min_fit_snr,
                residual_z: c.residual_z,
                residual_fraction: c.residual_fraction,
            },
            align_search: samples_of(c.align_shift_ms).min(l as f64) as i32,
            alt_fraction: c.alt_peak_fraction,
            margin: samples_of(SUPPORT_MARGIN_MS) as usize,
            overlap_w: samples_of(c.overlap_max_shift_ms).min(l as f64) as i32,
            dedup: samples_of(c.overlap_dedup_ms) as u64,
            min_explained: c.min_explained_fraction,
            spans: independent_spans(
                input.spike_samples,
                3 * l as u64,
                (n / (SPANS_PER_THREAD * rayon::current_num_threads())).max(MIN_SPAN_SPIKES),
            ),
        }
    }

    fn row(&self, i: usize) -> &[f32] {
        self.input.row(i)
    }
    fn len(&self) -> usize {
        self.input.wave_len
    }
    fn sample(&self, i: usize) -> i64 {
        self.input.spike_samples[i] as i64
    }
}

/// A potential found inside an overlap: its frame's position (the sample at the frame's
/// `pre`) and its fit.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Extra {
    at: i64,
    fit: Fit,
}

/// A template's support: from the first to the last sample whose magnitude reaches
/// `max(duration_fraction · p2p, SUPPORT_NOISE_K · σ_T)`, with no gap rule (a complex's
/// components are all part of it), widened by `margin` samples; the whole frame when the
/// template is flat.
fn support(t: &[f32], sigma_t: f64, margin: usize, m: &MeasureConfig) -> (usize, usize) {
    let (hi, lo) = t
        .iter()
        .fold((f32::NEG_INFINITY, f32::INFINITY), |(h, l), &v| {
            (h.max(v), l.min(v))
        });
    let p2p = (hi - lo) as f64;
    if !is_pos(p2p) {
        return (0, t.len());
    }
    let thr = (m.duration_fraction * p2p).max(SUPPORT_NOISE_K * sigma_t);
    let first = t.iter().position(|v| (*v as f64).abs() >= thr);
    let last = t.iter().rposition(|v| (*v as f64).abs() >= thr);
    match (first, last) {
        (Some(a), Some(b)) => (a.saturating_sub(margin), (b + 1 + margin).min(t.len())),
        _ => (0, t.len()),
    }
}

/// Noise multiple of a template's support threshold: 5 σ_T, so that noise left in the
/// template (σ/√n per sample) does not reach it anywhere in a frame of thousands of samples.
const SUPPORT_NOISE_K: f64 = 5.0;

/// Builds the fit units of `templates`; `counts` is the number of spikes each template
/// averages (for its noise floor).
fn prepare(
    ctx: &Ctx,
    templates: &[Vec<f32>],
    counts: &[usize],
    log_sd: &[f64],
    cfg: &SortConfig,
) -> Vec<FitUnit> {
    let pre = ctx.input.pre_samples;
    let sigma = ctx.input.noise_sigma_uv as f64;
    templates
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(u, (t, &n))| {
            let sigma_t = sigma / (n.max(1) as f64).sqrt();
            let (lo, hi) = support(t, sigma_t, ctx.margin, &cfg.measure);
            let offsets = alignment_offsets(t, pre, ctx.alt_fraction, lo, hi);
            let sd = log_sd
                .get(u)
                .copied()
                .unwrap_or(0.0)
                .max(cfg.amplitude_prior_sd);
            let mut fu = FitUnit::new(
                t.clone(),
                lo,
                hi,
                &offsets,
                ctx.align_search,
                ctx.fp.sigma2 / (sd * sd),
            );
            fu.cache_grams(ctx.overlap_w);
            fu
        })
        .collect()
}

/// Spike `i`'s window into `x` with the fitted potentials of its detected neighbours (and of
/// extra potentials already found) subtracted.
fn peeled(
    ctx: &Ctx,
    i: usize,
    units: &[FitUnit],
    fits: &[Option<Fit>],
    extras: &[Extra],
    x: &mut [f32],
) {
    peeled_as(ctx, i, units, (0, fits), extras, None, x)
}

/// A substitution for [`peeled_as`]: neighbours of unit `from` are peeled as unit `to`
/// shifted by `shift` and scaled by `1/gain` (`T_to(τ) ≈ gain · T_from(τ − shift)`).
#[derive(Debug, Clone, Copy)]
struct Substitute {
    from: usize,
    to: usize,
    shift: i64,
    gain: f32,
}

/// [`peeled`], with the neighbours of one unit modelled by another (see [`Substitute`]);
/// `fits` holds the fits of the spikes from `base` on (neighbours outside are not peeled).
fn peeled_as(
    ctx: &Ctx,
    i: usize,
    units: &[FitUnit],
    (base, fits): (usize, &[Option<Fit>]),
    extras: &[Extra],
    sub: Option<Substitute>,
    x: &mut [f32],
) {
    let n = base + fits.len();
    let reach = 2 * ctx.len() as i64;
    x.copy_from_slice(ctx.row(i));
    let si = ctx.sample(i);
    let peel = |j: usize, x: &mut [f32]| {
        if let Some(f) = fits[j - base] {
            let o = ctx.sample(j) - si + f.shift as i64;
            match sub {
                Some(s) if s.from == f.unit => {
                    units[s.to].add_model(x, o - s.shift, f.a / s.gain, f.b / s.gain, -1.0)
                }
                _ => {
                    if let Some(u) = units.get(f.unit) {
                        u.add_model(x, o, f.a, f.b, -1.0);
                    }
                }
            }
        }
    };
    let mut j = i;
    while j > base && si - ctx.sample(j - 1) < reach {
        j -= 1;
        peel(j, x);
    }
    let mut j = i + 1;
    while j < n && ctx.sample(j) - si < reach {
        peel(j, x);
        j += 1;
    }
    for e in extras.iter().rev() {
        if si - e.at >= reach {
            break;
        }
        if (e.at - si).abs() < reach {
            if let Some(u) = units.get(e.fit.unit) {
                u.add_model(x, e.at - si, e.fit.a, e.fit.b, -1.0);
            }
        }
    }
}

/// Spans `[a, b)` of consecutive spikes that no peeling reaches across: between two spans
/// the signal is quiet for at least `gap` samples (a peel reaches `2·len` samples, an extra
/// potential lies within `len` of its spike: `gap = 3·len`), so a pass in time order reads
/// inside each span only fits and extras of that span. The spans are then passed in
/// parallel with the same fits, bit for bit, as one pass in time order. Each span closes at
/// the first quiet gap after `target` spikes.
fn independent_spans(samples: &[u64], gap: u64, target: usize) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut a = 0;
    for i in 1..samples.len() {
        if i - a >= target.max(1) && samples[i] - samples[i - 1] >= gap {
            spans.push((a, i));
            a = i;
        }
    }
    if a < samples.len() {
        spans.push((a, samples.len()));
    }
    spans
}

/// Fewest spikes in a span of [`independent_spans`] (below it, handing the span to another
/// thread costs more than the pass over it).
const MIN_SPAN_SPIKES: usize = 512;

/// Spans per thread (several, so that a thread whose spans are dense does not hold the
/// others up).
const SPANS_PER_THREAD: usize = 4;

/// One assignment pass over the spikes `which` (ascending) in time order (see the module
/// docs); `fits` holds the previous pass's fits on entry (used for neighbours not yet
/// refitted). The independent spans of [`Ctx::spans`] run in parallel.
fn assign_pass(
    ctx: &Ctx,
    units: &[FitUnit],
    which: &[usize],
    fits: &mut [Option<Fit>],
    status: &mut [Status],
    extras: &mut Vec<Extra>,
    overlaps: bool,
) {
    let mut jobs = Vec::with_capacity(ctx.spans.len());
    let (mut fits_rest, mut status_rest) = (fits, status);
    for &(a, b) in &ctx.spans {
        let (f, fr) = std::mem::take(&mut fits_rest).split_at_mut(b - a);
        let (s, sr) = std::mem::take(&mut status_rest).split_at_mut(b - a);
        (fits_rest, status_rest) = (fr, sr);
        let mine = &which[which.partition_point(|&i| i < a)..which.partition_point(|&i| i < b)];
        if !mine.is_empty() {
            jobs.push((a, mine, f, s));
        }
    }
    let found: Vec<Vec<Extra>> = jobs
        .into_par_iter()
        .map(|(a, mine, f, s)| assign_span(ctx, units, a, mine, f, s, overlaps))
        .collect();
    extras.clear();
    extras.extend(found.into_iter().flatten());
    extras.sort_by_key(|e| e.at);
}

/// [`assign_pass`] over the spikes `which` of one span, whose fits and statuses from spike
/// `base` on are `fits` and `status`; returns the extra potentials found.
fn assign_span(
    ctx: &Ctx,
    units: &[FitUnit],
    base: usize,
    which: &[usize],
    fits: &mut [Option<Fit>],
    status: &mut [Status],
    overlaps: bool,
) -> Vec<Extra> {
    let pre = ctx.input.pre_samples;
    let mut x = vec![0.0f32; ctx.len()];
    let mut extras = Vec::new();
    for &i in which {
        let k = i - base;
        if !ctx.valid[i] {
            fits[k] = None;
            status[k] = Status::Unsorted;
            continue;
        }
        peeled_as(ctx, i, units, (base, fits), &extras, None, &mut x);
        let Some(f) = best_fit(&x, units, ctx.fp.amp) else {
            fits[k] = None;
            status[k] = Status::Unsorted;
            continue;
        };
        let (fit, st) = match judge(&f, &x, &ctx.fp) {
            Verdict::Noise => (None, Status::Unsorted),
            Verdict::Clean => (Some(f), Status::Clean),
            Verdict::Overlap => {
                let pair = if overlaps {
                    resolve_overlap(&x, units, f.unit, pre, ctx.overlap_w, &ctx.fp)
                } else {
                    None
                };
                if let Some(p) = pair {
                    let at = ctx.sample(i) + p.secondary.shift as i64;
                    let detected = nearest_detected(ctx.input.spike_samples, at, ctx.dedup);
                    if !detected {
                        extras.push(Extra {
                            at,
                            fit: p.secondary,
                        });
                    }
                    (Some(p.primary), Status::Pair)
                } else if !overlaps || f.explained >= ctx.min_explained * energy(&x, f.lo_w, f.hi_w)
                {
                    // Before the last pass every spike above noise keeps its best unit, so
                    // that its potential is peeled from its neighbours' windows and modelled
                    // in the template fit: in a dense discharge no window is clean until
                    // the neighbours are accounted for.
                    (Some(f), Status::Dominant)
                } else {
                    (None, Status::Unsorted)
                }
            }
        };
        fits[k] = fit;
        status[k] = st;
    }
    extras
}

/// Whether a detected spike lies within `tol` samples of `at`.
fn nearest_detected(samples: &[u64], at: i64, tol: u64) -> bool {
    if at < 0 {
        let d = at.unsigned_abs();
        return d <= tol && samples.first().is_some_and(|&s| s <= tol - d);
    }
    let at = at as u64;
    let k = samples.partition_point(|&s| s < at);
    let near = |s: u64| s.abs_diff(at) <= tol;
    (k < samples.len() && near(samples[k])) || (k > 0 && near(samples[k - 1]))
}

/// Rescales each unit so its members' median amplitude is 1; returns the spread of each
/// unit's amplitudes (interquartile range over the median) and the robust standard
/// deviation of their logarithm (interquartile range of ln a / 1.349).
fn normalise(templates: &mut [Vec<f32>], fits: &mut [Option<Fit>]) -> (Vec<f64>, Vec<f64>) {
    let k = templates.len();
    let mut amps: Vec<Vec<f64>> = vec![Vec::new(); k];
    for f in fits.iter().flatten() {
        amps[f.unit].push(f.a as f64);
    }
    let mut spread = vec![0.0; k];
    let mut log_sd = vec![0.0; k];
    let mut scale = vec![1.0f64; k];
    for u in 0..k {
        let a = &mut amps[u];
        if a.is_empty() {
            continue;
        }
        a.sort_by(f64::total_cmp);
        let q = |p: f64| a[((a.len() - 1) as f64 * p).round() as usize];
        let med = q(0.5);
        if med > 0.0 {
            scale[u] = med;
            spread[u] = (q(0.75) - q(0.25)) / med;
            log_sd[u] =
                (q(0.75).max(f64::MIN_POSITIVE).ln() - q(0.25).max(f64::MIN_POSITIVE).ln()) / 1.349;
        }
    }
    for (t, &s) in templates.iter_mut().zip(&scale) {
        t.iter_mut().for_each(|v| *v = (*v as f64 * s) as f32);
    }
    for f in fits.iter_mut().flatten() {
        let s = scale[f.unit];
        f.a = (f.a as f64 / s) as f32;
        f.b = (f.b as f64 / s) as f32;
    }
    (spread, log_sd)
}

/// Re-estimates the templates from the clean members and their neighbours.
fn refit_templates(
    ctx: &Ctx,
    templates: &mut [Vec<f32>],
    fits: &[Option<Fit>],
    status: &[Status],
    cfg: &SortConfig,
) -> Vec<usize> {
    let k = templates.len();
    let n = fits.len();
    let l = ctx.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    // Clean members first; the others (pairs, dominant fits) only when a unit has too few
    // clean ones (in a dense discharge few windows are clean before the templates are).
    let mut others: Vec<Vec<usize>> = vec![Vec::new(); k];
    for i in 0..n {
        if let Some(f) = fits[i] {
            if status[i] == Status::Clean {
                members[f.unit].push(i);
            } else {
                others[f.unit].push(i);
            }
        }
    }
    for (m, o) in members.iter_mut().zip(&others) {
        if m.len() < cfg.template_max_spikes {
            let need = cfg.template_max_spikes - m.len();
            m.extend(evenly(o, need));
            m.sort_unstable();
        }
    }
    let per_unit = cfg
        .template_max_spikes
        .min(MAX_TEMPLATE_FIT_SAMPLES / (l * k.max(1)))
        .max(1);
    let chosen: Vec<usize> = {
        let mut c: Vec<usize> = members.iter().flat_map(|m| evenly(m, per_unit)).collect();
        c.sort_unstable();
        c
    };
    let reach = l as i64;
    let problems: Vec<Problem> = chosen
        .iter()
        .map(|&i| {
            let si = ctx.sample(i);
            let mut cs = Vec::new();
            let mut add = |j: usize| {
                if let Some(f) = fits[j] {
                    let o = ctx.sample(j) - si + f.shift as i64;
                    if o.abs() < reach {
                        cs.push(Contributor {
                            unit: f.unit,
                            offset: o,
                            a: f.a,
                            b: f.b,
                        });
                    }
                }
            };
            let mut j = i;
            while j > 0 && si - ctx.sample(j - 1) < 2 * reach {
                j -= 1;
                add(j);
            }
            add(i);
            let mut j = i + 1;
            while j < n && ctx.sample(j) - si < 2 * reach {
                add(j);
                j += 1;
            }
            Problem {
                window: ctx.row(i),
                contributors: cs,
            }
        })
        .collect();
    // Each template is free over its measured extent plus a margin (so it can grow a
    // little each round), zero outside.
    let pre = ctx.input.pre_samples;
    let sigma = ctx.input.noise_sigma_uv as f64;
    let margin = 2 * ctx.margin;
    let supports: Vec<(usize, usize)> = templates
        .iter()
        .zip(&members)
        .map(|(t, m)| {
            let sigma_t = sigma / (m.len().max(1) as f64).sqrt();
            let (lo, hi) = support(t, sigma_t, margin, &cfg.measure);
            (lo.min(pre), hi.max(pre + 1))
        })
        .collect();
    estimate(templates, &supports, &problems, cfg.template_cg_iterations);
    members.iter().map(|m| m.len().min(per_unit)).collect()
}

/// Merges similar units (see the module docs); returns, for each old unit, its new index
/// or `None` when it was folded into another (its spikes are reassigned next pass).
fn merge_similar(
    templates: &[Vec<f32>],
    fits: &[Option<Fit>],
    cfg: &SortConfig,
    max_shift: usize,
) -> Vec<Option<usize>> {
    let k = templates.len();
    let mut amps: Vec<Vec<f64>> = vec![Vec::new(); k];
    for f in fits.iter().flatten() {
        amps[f.unit].push(f.a as f64);
    }
    let mut parent: Vec<usize> = (0..k).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }

    for u in 0..k {
        for v in u + 1..k {
            let (corr, _shift, ratio) = similarity(&templates[u], &templates[v], max_shift);
            if corr < cfg.merge_min_correlation {
                continue;
            }
            let (nu, nv) = (amps[u].len(), amps[v].len());
            if nu == 0 || nv == 0 {
                continue;
            }
            // Same shape and similar size: one unit. (Same shape, different sizes: two units,
            // or one waning discharge; the unit pruning, which weighs the spikes, decides.)
            let merge = ratio >= cfg.merge_min_amplitude_ratio;
            if merge {
                let (ru, rv) = (find(&mut parent, u), find(&mut parent, v));
                if ru != rv {
                    // The root is the unit with more spikes.
                    let (keep, drop) = if amps[ru].len() >= amps[rv].len() {
                        (ru, rv)
                    } else {
                        (rv, ru)
                    };
                    parent[drop] = keep;
                }
            }
        }
    }
    let mut map = vec![None; k];
    let mut next = 0;
    for (u, m) in map.iter_mut().enumerate() {
        if find(&mut parent, u) == u {
            *m = Some(next);
            next += 1;
        }
    }
    map
}

/// The entries of `v` whose unit `map` keeps, in the new order.
fn keep_mapped(v: &[f64], map: &[Option<usize>]) -> Vec<f64> {
    v.iter()
        .zip(map)
        .filter(|(_, m)| m.is_some())
        .map(|(x, _)| *x)
        .collect()
}

/// Keeps the units `map` sends somewhere, renumbering fits; fits of dropped units become
/// `None`.
fn remap(
    templates: &mut Vec<Vec<f32>>,
    counts: &mut Vec<usize>,
    fits: &mut [Option<Fit>],
    map: &[Option<usize>],
) {
    let old_t = std::mem::take(templates);
    let old_c = std::mem::take(counts);
    for (u, (t, c)) in old_t.into_iter().zip(old_c).enumerate() {
        if map[u].is_some() {
            templates.push(t);
            counts.push(c);
        }
    }
    for f in fits.iter_mut() {
        if let Some(ff) = f {
            match map[ff.unit] {
                Some(nu) => ff.unit = nu,
                None => *f = None,
            }
        }
    }
}

/// Rounds of re-clustering each cluster in its own principal components.
const REFINE_DEPTH: usize = 2;

/// Lag range, ms, within which a small cluster's template is tested as the overlap of two
/// others (myokymic bursts of two units often overlap by a few ms).
const OVERLAP_TEMPLATE_LAG_MS: f64 = 5.0;

/// Amplitude range of the two templates that may explain a small cluster's template.
const PRUNE_AMPLITUDE: [f64; 2] = [0.5, 2.0];

/// Least template correlation for a unit to stand in for a pruned one's neighbours.
const SUBSTITUTE_CORRELATION: f64 = 0.8;

/// Members per unit on which [`prune_units`] weighs the unit's evidence (evenly spaced).
const PRUNE_SAMPLE: usize = 16;

/// After this many members, a unit whose extrapolated advantage exceeds `PRUNE_CLEAR` times
/// its penalty is kept without weighing the rest (saves time on clear units).
const PRUNE_EARLY: usize = 4;
const PRUNE_CLEAR: f64 = 20.0;

/// Drops units with fewer than `min` spikes (their spikes become unsorted and are
/// reassigned next pass); returns whether any was dropped.
fn drop_small(
    templates: &mut Vec<Vec<f32>>,
    counts: &mut Vec<usize>,
    fits: &mut [Option<Fit>],
    status: &mut [Status],
    extras: &mut Vec<Extra>,
    min: usize,
) -> bool {
    let mut n_of = vec![0usize; templates.len()];
    for f in fits.iter().flatten() {
        n_of[f.unit] += 1;
    }
    for e in extras.iter() {
        n_of[e.fit.unit] += 1;
    }
    let mut next = 0;
    let keep: Vec<Option<usize>> = n_of
        .iter()
        .map(|&m| {
            (m >= min).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect();
    if keep.iter().all(|x| x.is_some()) {
        return false;
    }
    remap(templates, counts, fits, &keep);
    extras.retain_mut(|e| match keep[e.fit.unit] {
        Some(u) => {
            e.fit.unit = u;
            true
        }
        None => false,
    });
    for (f, s) in fits.iter().zip(status.iter_mut()) {
        if f.is_none() {
            *s = Status::Unsorted;
        }
    }
    true
}

/// Occam's razor on units (see the module docs): a unit is kept only if its spikes are
/// explained better by it than by the other units — singly or as two overlapping
/// potentials — by more than a BIC penalty for its template, `unit_penalty · m · σ² · ln N`
/// (`m` samples in its support, `N` spikes). Units are weighed from the smallest, each
/// against the units still kept. Returns the map of kept units.
fn prune_units(
    ctx: &Ctx,
    units: &[FitUnit],
    fits: &[Option<Fit>],
    cfg: &SortConfig,
    w: i32,
    merge_shift: usize,
) -> Vec<Option<usize>> {
    let k = units.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, f) in fits.iter().enumerate() {
        if let Some(f) = f {
            members[f.unit].push(i);
        }
    }
    let n_valid = ctx.valid.iter().filter(|v| **v).count().max(2) as f64;
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by_key(|&u| (members[u].len(), u));
    let mut dropped = vec![false; k];
    let mut x = vec![0.0f32; ctx.len()];
    // Small clusters whose template is itself the overlap of two kept units' templates
    // (each at 0.5–2 × its size) are clusters of overlapping potentials; a handful of
    // spikes cannot weigh that reliably, so the template decides.
    let lag = (OVERLAP_TEMPLATE_LAG_MS * 1e-3 * ctx.input.rate_hz).round() as i32;
    for &u in &order {
        if members[u].len() >= cfg.isocut_min_spikes {
            continue;
        }
        let others: Vec<FitUnit> = (0..k)
            .filter(|&v| v != u && !dropped[v] && members[v].len() > members[u].len())
            .map(|v| units[v].clone())
            .collect();
        let frac = fit::explained_by(&units[u].t, &others, lag, PRUNE_AMPLITUDE);
        if frac >= cfg.overlap_unit_fraction {
            dropped[u] = true;
        }
    }
    for &u in &order {
        if dropped[u] {
            continue;
        }
        let others: Vec<FitUnit> = (0..k)
            .filter(|&v| v != u && !dropped[v])
            .map(|v| units[v].clone())
            .collect();
        if others.is_empty() || members[u].is_empty() {
            continue;
        }
        // Without u, its spikes' neighbours that are u are modelled by the most similar kept
        // unit (a strictly periodic train can fit two different templates equally well when
        // each template's neighbours are modelled by itself).
        let sub = (0..k)
            .filter(|&v| v != u && !dropped[v])
            .map(|v| (v, similarity(&units[v].t, &units[u].t, merge_shift)))
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
            .filter(|(_, (corr, _, _))| *corr >= SUBSTITUTE_CORRELATION)
            .map(|(v, (corr, shift, _))| {
                let nu = linalg::dot(&units[u].t, &units[u].t).sqrt();
                let nv = linalg::dot(&units[v].t, &units[v].t).sqrt();
                Substitute {
                    from: u,
                    to: v,
                    shift,
                    gain: (corr * nv / nu.max(f64::MIN_POSITIVE)) as f32,
                }
            });
        let sample = evenly(&members[u], PRUNE_SAMPLE);
        let m = (units[u].hi - units[u].lo) as f64;
        let penalty = cfg.unit_penalty * m * ctx.fp.sigma2 * n_valid.ln();
        let scale = members[u].len() as f64;
        let mut advantage = 0.0;
        for (k, &i) in sample.iter().enumerate() {
            // A unit far above its penalty after a few spikes is kept without the rest.
            if k >= PRUNE_EARLY && advantage * scale / k as f64 > PRUNE_CLEAR * penalty {
                break;
            }
            peeled(ctx, i, units, fits, &[], &mut x);
            // The best explanation that uses u (alone, or with another unit overlapping)
            // against the best that does not (one or two of the others).
            let own = std::slice::from_ref(&units[u]);
            let with_u = best_fit(&x, own, ctx.fp.amp)
                .map_or(0.0, |f| f.score)
                .max(fit::pursue_pair_from(&x, own, &others, w, ctx.fp.amp).map_or(0.0, |p| p.3));
            if sub.is_some() {
                peeled_as(ctx, i, units, (0, fits), &[], sub, &mut x);
            }
            let single = best_fit(&x, &others, ctx.fp.amp).map_or(0.0, |f| f.score);
            let pair = fit::pursue_pair(&x, &others, w, ctx.fp.amp).map_or(0.0, |p| p.3);
            advantage += with_u - single.max(pair);
        }
        advantage *= scale / sample.len() as f64;
        if advantage < penalty {
            dropped[u] = true;
        }
    }
    let mut next = 0;
    dropped
        .iter()
        .map(|&d| {
            (!d).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// Refinement rounds allowed after a split, whatever is left of `refine_iterations`: the
/// new units need a few rounds to settle before they are judged.
const SPLIT_ROUNDS_AFTER: usize = 10;

/// The refinement's state before a split.
struct Snapshot {
    templates: Vec<Vec<f32>>,
    counts: Vec<usize>,
    log_sd: Vec<f64>,
    fits: Vec<Option<Fit>>,
    status: Vec<Status>,
}

impl Snapshot {
    fn restore(
        self,
        templates: &mut Vec<Vec<f32>>,
        counts: &mut Vec<usize>,
        log_sd: &mut Vec<f64>,
        fits: &mut [Option<Fit>],
        status: &mut [Status],
    ) {
        *templates = self.templates;
        *counts = self.counts;
        *log_sd = self.log_sd;
        fits.copy_from_slice(&self.fits);
        status.copy_from_slice(&self.status);
    }
}

/// At most `max` of the spikes `idx`, as runs of consecutive spikes spread evenly over the
/// recording ([`REFINE_RUNS`] runs), so that each chosen spike's neighbours are chosen too.
fn refine_set(idx: &[usize], max: usize) -> Vec<usize> {
    if idx.len() <= max {
        return idx.to_vec();
    }
    let runs = REFINE_RUNS.min(max).max(1);
    let per = max / runs;
    let mut out = Vec::with_capacity(per * runs);
    for r in 0..runs {
        let start = r * (idx.len() - per) / runs.max(2).saturating_sub(1).max(1);
        let start = start.min(idx.len() - per);
        out.extend_from_slice(&idx[start..start + per]);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Runs of consecutive spikes in the refinement subset of a long recording.
const REFINE_RUNS: usize = 20;

/// Sorts detected spikes into units. See the module docs for the method; `cfg` comes from
/// [`SortConfig::check`].
///
/// Fails with [`Error::Config`] when the input's shape is inconsistent (waveform count,
/// `pre_samples` outside the waveform, spike times not increasing, non-positive rate or
/// noise). Waveforms with non-finite samples are left unsorted and counted in
/// [`Sorting::warnings`]. Zero or one spike gives no unit.
pub fn sort(input: &SortInput, cfg: &ValidSortConfig) -> Result<Sorting> {
    let c = cfg.get();
    let n = check_input(input)?;
    let mut out = Sorting {
        units: Vec::new(),
        labels: vec![None; n],
        shifts: vec![0; n],
        extra_spikes: Vec::new(),
        warnings: Vec::new(),
    };
    let l = input.wave_len;
    let pre = input.pre_samples;
    let fs = input.rate_hz;
    let sigma = input.noise_sigma_uv as f64;
    let samples_of = |ms: f64| (ms * 1e-3 * fs).round();
    let valid: Vec<bool> = (0..n)
        .map(|i| {
            input
                .row(i)
                .iter()
                .all(|v| v.is_finite() && v.abs() <= MAX_ABS_UV)
        })
        .collect();
    let n_bad = valid.iter().filter(|v| !**v).count();
    if n_bad > 0 {
        out.warnings.push(format!(
            "sort: {n_bad} of {n} waveforms hold non-finite samples or samples beyond ±1 kV and were left unsorted"
        ));
    }
    let valid_idx: Vec<usize> = (0..n).filter(|&i| valid[i]).collect();
    if valid_idx.len() < c.min_unit_spikes.max(2) {
        return Ok(out);
    }
    let ctx = Ctx::new(input, valid, c);
    let row = |i: usize| input.row(i);

    // 1. Features of a bounded subsample.
    let fw_lo =
        (pre as f64 + samples_of(c.feature_window_ms[0])).clamp(0.0, (l - 1) as f64) as usize;
    let fw_hi =
        (pre as f64 + samples_of(c.feature_window_ms[1]) + 1.0).clamp(1.0, l as f64) as usize;
    // Slope features of `rows` in their own principal components: the points (row-major)
    // and their dimension.
    let slope_points = |rows: &[&[f32]]| -> (Vec<f64>, usize) {
        let space = FeatureSpace::fit(
            FeatureKind::Slope,
            rows,
            (fw_lo, fw_hi.max(fw_lo + 1)),
            c.max_feature_samples,
            c.n_components,
            sigma,
        );
        let k = space.k();
        let mut points = vec![0.0f64; rows.len() * k];
        let mut scratch = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            space.project(row, &mut scratch, &mut points[r * k..(r + 1) * k]);
        }
        (points, k)
    };
    let sub = evenly(&valid_idx, c.max_cluster_spikes);
    let sub_rows: Vec<&[f32]> = sub.iter().map(|&i| row(i)).collect();
    let (points, k) = slope_points(&sub_rows);

    // 2. Clusters → initial templates (means of their members, re-centred).
    let params = ClusterParams {
        initial_clusters: c.initial_clusters,
        isocut_threshold: c.isocut_threshold,
        isocut_min_spikes: c.isocut_min_spikes,
        keep_separation: c.keep_separation,
        seed: c.seed,
    };
    let mut cl = isosplit(&points, k, &params);
    // Each cluster again in its own principal components (ISO-SPLIT's refinement,
    // MountainSort's branching): the first components follow the largest units, so small
    // units that differ in other directions share a cluster until it is looked at alone.
    for _depth in 0..REFINE_DEPTH {
        let ncl = cl.iter().max().map_or(0, |m| m + 1);
        // Each cluster's own split, in parallel; the new labels handed out in order.
        let splits: Vec<(Vec<usize>, Vec<usize>)> = (0..ncl)
            .into_par_iter()
            .map(|u| {
                let members: Vec<usize> = (0..sub.len()).filter(|&r| cl[r] == u).collect();
                if members.len() < 2 * c.isocut_min_spikes {
                    return (members, Vec::new());
                }
                let rows: Vec<&[f32]> = members.iter().map(|&r| row(sub[r])).collect();
                let (pts, kl) = slope_points(&rows);
                (members, isosplit(&pts, kl, &params))
            })
            .collect();
        let mut next = cl.clone();
        let mut label = ncl;
        for (members, sub_cl) in splits {
            let parts = sub_cl.iter().max().map_or(0, |m| m + 1);
            if parts > 1 {
                for (j, &r) in members.iter().enumerate() {
                    if sub_cl[j] > 0 {
                        next[r] = label + sub_cl[j] - 1;
                    }
                }
                label += parts - 1;
            }
        }
        if label == ncl {
            break;
        }
        cl = next;
    }
    let ncl = cl.iter().max().map_or(0, |m| m + 1);
    let mut templates: Vec<Vec<f32>> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for u in 0..ncl {
        let members: Vec<usize> = (0..sub.len()).filter(|&r| cl[r] == u).collect();
        if members.len() < c.min_unit_spikes {
            continue;
        }
        let mut t = vec![0.0f32; l];
        for &r in &members {
            for (a, v) in t.iter_mut().zip(row(sub[r])) {
                *a += v;
            }
        }
        t.iter_mut().for_each(|a| *a /= members.len() as f32);
        recentre(&mut t, pre);
        templates.push(t);
        counts.push(members.len());
    }

    // 3. Assign ↔ re-estimate ↔ merge.
    let mut fits: Vec<Option<Fit>> = vec![None; n];
    let mut status = vec![Status::Unsorted; n];
    let mut extras: Vec<Extra> = Vec::new();
    let merge_shift = samples_of(c.merge_max_shift_ms) as usize;
    let prune_w = samples_of(c.overlap_max_shift_ms).min(l as f64) as i32;
    let mut spread = Vec::new();
    let mut log_sd: Vec<f64> = Vec::new();
    // Labels of the refined spikes after the previous two rounds (`None` across a change of
    // the units, whose indices then mean something else).
    let mut prev: Option<Vec<(Option<usize>, Status)>> = None;
    let mut prev2: Option<Vec<(Option<usize>, Status)>> = None;
    let mut settled_rounds = 0;
    // Fewest spikes that changed unit between two rounds since the units last changed, and
    // the rounds since.
    let (mut least_moved, mut stalled_rounds) = (usize::MAX, 0);
    let mut changed_before = false;
    let mut splits_left = c.split_rounds;
    // The refinement runs on at most `max_refine_spikes` spikes in runs of consecutive ones
    // (so that their neighbours are there to be peeled); the last two passes cover all.
    let refine = refine_set(&valid_idx, c.max_refine_spikes);
    let everything = refine.len() == valid_idx.len();
    // The sort before the last split, restored if the split ends with fewer units than
    // there were (see below), and the rounds allowed.
    let mut before_split: Option<Snapshot> = None;
    let mut limit = c.refine_iterations;
    let mut round = 0;
    while round < limit {
        let iter = round;
        round += 1;
        let units = prepare(&ctx, &templates, &counts, &log_sd, c);
        assign_pass(
            &ctx,
            &units,
            &refine,
            &mut fits,
            &mut status,
            &mut extras,
            false,
        );
        let mut changed = drop_small(
            &mut templates,
            &mut counts,
            &mut fits,
            &mut status,
            &mut extras,
            c.min_unit_spikes,
        );
        (spread, log_sd) = normalise(&mut templates, &mut fits);
        if templates.is_empty() {
            break;
        }
        // Occam: drop units that do not explain their spikes better than the others do.
        // Weighed from the second pass (the first templates are plain cluster means) to the
        // third, and again after any change of the units.
        if iter > 0 && (iter <= 2 || changed_before) {
            let units = prepare(&ctx, &templates, &counts, &log_sd, c);
            let map = prune_units(&ctx, &units, &fits, c, prune_w, merge_shift);
            if map.iter().any(|m| m.is_none()) {
                remap(&mut templates, &mut counts, &mut fits, &map);
                log_sd = keep_mapped(&log_sd, &map);
                for (f, s) in fits.iter().zip(status.iter_mut()) {
                    if f.is_none() {
                        *s = Status::Unsorted;
                    }
                }
                changed = true;
            }
        }
        // Settled: no unit added or removed since the previous pass, almost no spike
        // changed unit (not counting those back to their unit of two rounds before:
        // oscillating) and few changed only their verdict; converged after
        // `refine_settled_rounds` settled rounds. Verdicts have their own, looser bar: in
        // dense discharges a whole unit's windows flip between clean and not clean from
        // round to round long after its template has settled.
        let labels: Vec<(Option<usize>, Status)> = refine
            .iter()
            .map(|&i| (fits[i].map(|f| f.unit), status[i]))
            .collect();
        let settled = !changed
            && prev.as_ref().is_some_and(|p| {
                let back = |j: usize| prev2.as_ref().is_some_and(|q| q[j].0 == labels[j].0);
                let moved = (0..labels.len())
                    .filter(|&j| p[j].0 != labels[j].0 && !back(j))
                    .count();
                let judged = (0..labels.len())
                    .filter(|&j| p[j].0 == labels[j].0 && p[j].1 != labels[j].1)
                    .count();
                moved as f64 <= c.refine_moved_fraction * labels.len() as f64
                    && judged as f64 <= c.refine_verdict_fraction * labels.len() as f64
            });
        settled_rounds = if settled { settled_rounds + 1 } else { 0 };
        // Stalled: the units unchanged, and the number of spikes changing unit not below its
        // lowest for `refine_patience` rounds (units trading spikes without settling).
        if changed {
            (least_moved, stalled_rounds) = (usize::MAX, 0);
        } else if let Some(p) = &prev {
            let moved = (0..labels.len()).filter(|&j| p[j].0 != labels[j].0).count();
            if moved < least_moved {
                (least_moved, stalled_rounds) = (moved, 0);
            } else {
                stalled_rounds += 1;
            }
        }
        // The last round of a refinement that never settled (units trading spikes in a
        // crowded recording) also gets its look for units that hold several, once.
        let unsettled_end = round == limit && splits_left == c.split_rounds;
        let converged =
            settled_rounds >= c.refine_settled_rounds || stalled_rounds >= c.refine_patience;
        if converged || unsettled_end {
            // A split that ends with fewer units than before it took spikes from a unit
            // that was there, rather than finding one: undone after the loop.
            if before_split
                .as_ref()
                .is_some_and(|b| templates.len() <= b.templates.len())
            {
                break;
            }
            before_split = None;
            // Settled: a unit may still hold several whose main spikes are alike.
            let found = if splits_left > 0 {
                let units = prepare(&ctx, &templates, &counts, &log_sd, c);
                split::split_units(&ctx, &units, &refine, &fits, &extras, c, &params)
            } else {
                Vec::new()
            };
            if !found.is_empty() {
                splits_left -= 1;
                before_split = Some(Snapshot {
                    templates: templates.clone(),
                    counts: counts.clone(),
                    log_sd: log_sd.clone(),
                    fits: fits.clone(),
                    status: status.clone(),
                });
                limit = limit.max(round + SPLIT_ROUNDS_AFTER);
                for sp in found {
                    let mut parts = sp.templates.into_iter().zip(sp.counts);
                    if let Some((t, n)) = parts.next() {
                        templates[sp.unit] = t;
                        counts[sp.unit] = n;
                    }
                    for (t, n) in parts {
                        templates.push(t);
                        counts.push(n);
                        log_sd.push(0.0);
                    }
                }
                (prev, prev2) = (None, None);
                (least_moved, stalled_rounds, settled_rounds) = (usize::MAX, 0, 0);
                changed_before = true;
                continue;
            }
            if converged {
                break;
            }
            // An unsettled refinement with nothing to split ends as it did without the
            // look: with its last round's re-estimation below.
        }
        // Re-estimate the templates, re-centre them, merge copies of one unit.
        counts = refit_templates(&ctx, &mut templates, &fits, &status, c);
        for (u, t) in templates.iter_mut().enumerate() {
            let moved = recentre(t, pre);
            if moved != 0 {
                for f in fits.iter_mut().flatten() {
                    if f.unit == u {
                        f.shift -= moved as i32;
                    }
                }
            }
        }
        let map = merge_similar(&templates, &fits, c, merge_shift);
        if map.iter().any(|m| m.is_none()) {
            remap(&mut templates, &mut counts, &mut fits, &map);
            log_sd = keep_mapped(&log_sd, &map);
            changed = true;
        }
        changed_before = changed;
        if changed {
            (prev, prev2) = (None, None);
        } else {
            prev2 = prev.replace(labels);
        }
    }
    // A split whose refinement ended with fewer units than before it is undone.
    if let Some(b) = before_split.take() {
        if templates.len() <= b.templates.len() {
            b.restore(
                &mut templates,
                &mut counts,
                &mut log_sd,
                &mut fits,
                &mut status,
            );
        }
    }
    // Final passes over every spike: a lenient one when the refinement saw only a subset
    // (so that every spike's neighbours have fits to peel), then the strict one that
    // resolves overlaps.
    if !templates.is_empty() {
        let units = prepare(&ctx, &templates, &counts, &log_sd, c);
        if !everything {
            assign_pass(
                &ctx,
                &units,
                &valid_idx,
                &mut fits,
                &mut status,
                &mut extras,
                false,
            );
        }
        assign_pass(
            &ctx,
            &units,
            &valid_idx,
            &mut fits,
            &mut status,
            &mut extras,
            true,
        );
        drop_small(
            &mut templates,
            &mut counts,
            &mut fits,
            &mut status,
            &mut extras,
            c.min_unit_spikes,
        );
        (spread, _) = normalise(&mut templates, &mut fits);
    }

    // 4. Units: order by first spike, measure, classify, isolate.
    let ku = templates.len();
    let mut first = vec![u64::MAX; ku];
    let mut n_det = vec![0usize; ku];
    let mut n_ext = vec![0usize; ku];
    for (i, f) in fits.iter().enumerate() {
        if let Some(f) = f {
            first[f.unit] = first[f.unit].min(input.spike_samples[i]);
            n_det[f.unit] += 1;
        }
    }
    for e in &extras {
        first[e.fit.unit] = first[e.fit.unit].min(e.at.max(0) as u64);
        n_ext[e.fit.unit] += 1;
    }
    let qsub = evenly(&(0..sub.len()).collect::<Vec<_>>(), c.quality_max_spikes);
    let qpoints: Vec<f64> = qsub
        .iter()
        .flat_map(|&r| points[r * k..(r + 1) * k].iter().copied())
        .collect();
    let qlabels: Vec<Option<usize>> = qsub.iter().map(|&r| fits[sub[r]].map(|f| f.unit)).collect();
    let iso = quality::isolation(&qpoints, k, &qlabels, ku);
    let mut order: Vec<usize> = (0..ku).filter(|&u| n_det[u] + n_ext[u] > 0).collect();
    order.sort_by_key(|&u| (first[u], u));
    let mut id_of = vec![None; ku];
    for u in order {
        let t = &templates[u];
        let sigma_t = sigma / (counts.get(u).copied().unwrap_or(1).max(1) as f64).sqrt();
        let Some(m) = measure::measure(t, fs, sigma_t, &c.measure) else {
            continue;
        };
        let (class, class_reason) = measure::classify(&m, fs, &c.classes);
        let id = out.units.len() as u32;
        id_of[u] = Some(id);
        let mut unit = Unit {
            id,
            template: t.clone(),
            n_spikes: n_det[u] + n_ext[u],
            n_extra: n_ext[u],
            p2p_uv: 0.0,
            duration_ms: 0.0,
            onset_ms: 0.0,
            end_ms: 0.0,
            phases: 0,
            turns: 0,
            first_phase: Polarity::Positive,
            area_uv_ms: 0.0,
            snr_db: 0.0,
            amplitude_spread: spread.get(u).copied().unwrap_or(0.0),
            l_ratio: iso[u].0,
            isolation_distance: iso[u].1,
            class,
            class_reason,
        };
        set_measured(&mut unit, &m, pre, fs, sigma);
        out.units.push(unit);
    }
    for ((lab, shift), f) in out.labels.iter_mut().zip(&mut out.shifts).zip(&fits) {
        *lab = f.and_then(|f| id_of[f.unit]);
        *shift = match (*lab, f) {
            (Some(_), Some(f)) => f.shift,
            _ => 0,
        };
    }
    out.extra_spikes = extras
        .iter()
        .filter(|e| e.at >= 0)
        .filter_map(|e| id_of[e.fit.unit].map(|id| (e.at as u64, id)))
        .collect();
    Ok(out)
}

/// Sets `unit`'s measurements from `m`, the measurement of its template (peak at `pre`);
/// `sigma` is the noise σ.
fn set_measured(unit: &mut Unit, m: &measure::Measured, pre: usize, fs: f64, sigma: f64) {
    let t = &unit.template;
    let to_ms = |i: usize| (i as f64 - pre as f64) * 1e3 / fs;
    unit.first_phase = match m.phases.first() {
        Some(p) if !p.positive => Polarity::Negative,
        Some(_) => Polarity::Positive,
        None => {
            if t[m.peak_index] >= 0.0 {
                Polarity::Positive
            } else {
                Polarity::Negative
            }
        }
    };
    unit.p2p_uv = m.p2p;
    unit.duration_ms = m.duration_ms(fs);
    unit.onset_ms = to_ms(m.onset);
    unit.end_ms = to_ms(m.end);
    unit.phases = m.phases.len() as u32;
    unit.turns = m.turns;
    unit.area_uv_ms = m.area_uv_ms;
    unit.snr_db = 20.0 * (m.rms / sigma).log10();
}

/// Gives `unit` the template `t` (peak at `pre`), the average of `n` of its potentials,
/// and measures and classifies it again; false (the unit unchanged) when the template
/// has nothing to measure.
pub(crate) fn remeasure(
    unit: &mut Unit,
    t: Vec<f32>,
    pre: usize,
    n: usize,
    fs: f64,
    sigma: f64,
    cfg: &ValidSortConfig,
) -> bool {
    let c = cfg.get();
    let sigma_t = sigma / (n.max(1) as f64).sqrt();
    let Some(m) = measure::measure(&t, fs, sigma_t, &c.measure) else {
        return false;
    };
    (unit.class, unit.class_reason) = measure::classify(&m, fs, &c.classes);
    unit.template = t;
    set_measured(unit, &m, pre, fs, sigma);
    true
}

/// Re-measures `unit` on `long`, a longer average of its potentials (peak at index `pre`,
/// `n` potentials averaged), for the one class whose waveform outlasts the sorting window:
/// a positive sharp wave's slow negative phase lasts 10–100 ms (brief) while the window
/// holds a few ms after the peak. When the long average classifies as a positive sharp
/// wave, the unit takes that class, its reason and the long average's duration, phases
/// and area (the template stays the window's); returns whether it did.
pub(crate) fn remeasure_long(
    unit: &mut Unit,
    long: &[f32],
    pre: usize,
    n: usize,
    rate_hz: f64,
    sigma: f64,
    cfg: &ValidSortConfig,
) -> bool {
    let c = cfg.get();
    let sigma_t = sigma / (n.max(1) as f64).sqrt();
    let Some(m) = measure::measure(long, rate_hz, sigma_t, &c.measure) else {
        return false;
    };
    let (class, reason) = measure::classify(&m, rate_hz, &c.classes);
    if class == WaveformClass::PositiveSharpWave {
        apply_long(unit, &m, class, reason, long.len(), pre, n, rate_hz);
        return true;
    }
    // In a train of positive sharp waves at 20–80 Hz (a myotonic discharge, brief) the
    // average's first samples sit on the previous wave's slow negative phase, at the level
    // the next one returns to, so measured from them the negative phase vanishes. Measured
    // again from the filtered signal's zero, from `PSW_LEAD_MS` before the peak (a
    // positive sharp wave rises within it) so that the previous wave's tail is not taken
    // for a first phase.
    let lead = ((PSW_LEAD_MS * 1e-3 * rate_hz).round() as usize).min(pre);
    let from_zero = MeasureConfig {
        baseline_ms: 0.0,
        ..c.measure.clone()
    };
    let cropped = &long[pre - lead..];
    let Some(m) = measure::measure(cropped, rate_hz, sigma_t, &from_zero) else {
        return false;
    };
    let (class, reason) = measure::classify(&m, rate_hz, &c.classes);
    // Two phases, the spike and its slow return: measured from zero, anything more is
    // the level of other activity, not this wave's.
    if class != WaveformClass::PositiveSharpWave || m.phases.len() != 2 {
        return false;
    }
    apply_long(unit, &m, class, reason, cropped.len(), lead, n, rate_hz);
    true
}

/// Time before a positive sharp wave's peak kept when it is measured from zero, ms (its
/// positive spike rises within about 1 ms; kymo).
const PSW_LEAD_MS: f64 = 1.0;

/// Gives `unit` the class, reason and measurements of its long average `m` (`len`
/// samples, peak at `pre`, `n` potentials averaged).
#[allow(clippy::too_many_arguments)]
fn apply_long(
    unit: &mut Unit,
    m: &measure::Measured,
    class: WaveformClass,
    reason: String,
    len: usize,
    pre: usize,
    n: usize,
    rate_hz: f64,
) {
    let long_len = len;
    let to_ms = |i: usize| (i as f64 - pre as f64) * 1e3 / rate_hz;
    unit.class = class;
    unit.class_reason = format!(
        "{reason} (measured on the average of {n} potentials over {:.0} ms)",
        long_len as f64 * 1e3 / rate_hz
    );
    unit.duration_ms = m.duration_ms(rate_hz);
    unit.onset_ms = to_ms(m.onset);
    unit.end_ms = to_ms(m.end);
    unit.phases = m.phases.len() as u32;
    unit.area_uv_ms = m.area_uv_ms;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(w: &'a [f32], len: usize, pre: usize, s: &'a [u64]) -> SortInput<'a> {
        SortInput {
            rate_hz: 20_000.0,
            waveforms: Waveforms::Matrix(w),
            wave_len: len,
            pre_samples: pre,
            spike_samples: s,
            noise_sigma_uv: 5.0,
        }
    }

    fn config_message(r: Result<Sorting>) -> String {
        match r {
            Err(Error::Config(m)) => m,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn bad_shapes_are_config_errors_naming_the_field() {
        let cfg = ValidSortConfig::default();
        let w = vec![0.0f32; 20];
        let m = config_message(sort(&input(&w, 10, 3, &[1, 2, 3]), &cfg));
        assert!(m.contains("waveforms holds 20 samples"), "{m}");
        let m = config_message(sort(&input(&w, 10, 10, &[1, 2]), &cfg));
        assert!(m.contains("pre_samples = 10"), "{m}");
        let m = config_message(sort(&input(&w, 10, 3, &[5, 5]), &cfg));
        assert!(m.contains("spike_samples[1] = 5"), "{m}");
        let mut bad = input(&w, 10, 3, &[1, 2]);
        bad.noise_sigma_uv = 0.0;
        assert!(config_message(sort(&bad, &cfg)).contains("noise_sigma_uv"));
        bad.noise_sigma_uv = 1.0;
        bad.rate_hz = f64::NAN;
        assert!(config_message(sort(&bad, &cfg)).contains("rate_hz"));
        let m = config_message(sort(&input(&w[..2], 2, 0, &[1]), &cfg));
        assert!(m.contains("wave_len = 2"), "{m}");
    }

    #[test]
    fn empty_and_tiny_inputs_give_no_unit() {
        let cfg = ValidSortConfig::default();
        let s = sort(&input(&[], 10, 3, &[]), &cfg).unwrap();
        assert!(s.units.is_empty() && s.labels.is_empty() && s.extra_spikes.is_empty());
        let w: Vec<f32> = (0..10).map(|i| if i == 3 { -100.0 } else { 0.0 }).collect();
        let s = sort(&input(&w, 10, 3, &[7]), &cfg).unwrap();
        assert_eq!(s.labels, vec![None]);
        assert!(s.units.is_empty());
    }

    /// The long average of a train of positive sharp waves at 40 Hz: each wave's sharp
    /// positive spike rises from the previous one's slow negative phase (−4 µV), and its own
    /// slow phase holds that level until the next. Measured from its first samples the
    /// negative phase vanishes; from zero it is the wave's second phase.
    #[test]
    fn a_positive_sharp_wave_train_is_measured_from_zero() {
        let fs = 20_000.0;
        let pre = 80usize;
        let len = pre + 480;
        let long: Vec<f32> = (0..len)
            .map(|i| {
                let t = (i as f32 - pre as f32) / 20.0; // ms
                let spike = 64.0 * (-(t / 0.5).powi(2)).exp();
                spike
                    - 4.0 * (1.0 - (-(t + 1.0).max(0.0) / 0.3).exp()).min(1.0)
                    - 4.0 * (t < -1.0) as u8 as f32
            })
            .collect();
        let mut u = Unit {
            id: 0,
            template: long[..pre + 120].to_vec(),
            n_spikes: 200,
            n_extra: 0,
            p2p_uv: 64.0,
            duration_ms: 2.0,
            onset_ms: -0.5,
            end_ms: 0.5,
            phases: 1,
            turns: 0,
            first_phase: Polarity::Positive,
            area_uv_ms: 0.0,
            snr_db: 10.0,
            amplitude_spread: 0.0,
            l_ratio: 0.0,
            isolation_distance: None,
            class: WaveformClass::SingleFibre,
            class_reason: String::new(),
        };
        let cfg = SortConfig::default().check().unwrap();
        assert!(
            remeasure_long(&mut u, &long, pre, 200, fs, 3.0, &cfg),
            "{}",
            u.class_reason
        );
        assert_eq!(u.class, WaveformClass::PositiveSharpWave);
        assert_eq!(u.phases, 2, "{}", u.class_reason);
    }

    #[test]
    fn spans_close_only_at_quiet_gaps_and_cover_every_spike() {
        let s = [0u64, 10, 20, 100, 110, 300, 305, 310, 600];
        let spans = independent_spans(&s, 50, 2);
        assert_eq!(spans, vec![(0, 3), (3, 5), (5, 8), (8, 9)]);
        // Fewer spans when each must hold more spikes; one when no gap is quiet enough.
        assert_eq!(independent_spans(&s, 50, 4), vec![(0, 5), (5, 9)]);
        assert_eq!(independent_spans(&s, 1000, 1), vec![(0, 9)]);
        assert!(independent_spans(&[], 50, 2).is_empty());
    }

    /// Three units firing at random over a noisy signal, their potentials often
    /// overlapping: windows cut at the detected peaks, as the analysis gives them.
    fn overlapping_recording(n_spikes: usize) -> (Vec<f32>, Vec<u64>, usize, usize) {
        let (x, times, len, pre) = overlapping_signal(n_spikes);
        let waves: Vec<f32> = times
            .iter()
            .flat_map(|&at| {
                x[at as usize - pre..at as usize - pre + len]
                    .iter()
                    .copied()
            })
            .collect();
        (waves, times, len, pre)
    }

    /// A noisy signal of three units' potentials, often overlapping: (signal, spike samples,
    /// window length, samples before the spike).
    fn overlapping_signal(n_spikes: usize) -> (Vec<f32>, Vec<u64>, usize, usize) {
        let (pre, len) = (60usize, 200usize);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let shapes: Vec<Vec<f32>> = [(120.0f32, 6.0f32), (-80.0, 9.0), (60.0, 4.0)]
            .iter()
            .map(|&(amp, width)| {
                (0..len)
                    .map(|i| {
                        let x = (i as f32 - pre as f32) / width;
                        amp * (1.0 - x * x) * (-0.5 * x * x).exp()
                    })
                    .collect()
            })
            .collect();
        let mut times = Vec::with_capacity(n_spikes);
        let mut t = 1000.0f64;
        for _ in 0..n_spikes {
            // Mostly 2–20 ms apart (windows overlap), now and then a quiet 50–100 ms.
            t += if uniform() < 0.1 {
                1000.0 + 1000.0 * uniform()
            } else {
                40.0 + 360.0 * uniform()
            };
            times.push(t.round() as u64);
        }
        let total = *times.last().unwrap() as usize + 2 * len;
        let mut x: Vec<f32> = (0..total)
            .map(|_| 10.0 * (uniform() as f32 - 0.5))
            .collect();
        for (k, &at) in times.iter().enumerate() {
            for (i, v) in shapes[k % 3].iter().enumerate() {
                x[at as usize - pre + i] += v;
            }
        }
        (x, times, len, pre)
    }

    /// The analysis hands the sorter windows of a chunk's signal, a few rows kept apart:
    /// sorted exactly as the same rows copied into a matrix; and the rows kept apart are
    /// the ones read (zeroing them changes the result), the signal being read from `first`.
    #[test]
    fn windows_of_a_signal_sort_as_the_same_rows_copied() {
        let (x, times, len, pre) = overlapping_signal(1500);
        let (waves, ..) = overlapping_recording(1500);
        let cfg = ValidSortConfig::default();
        let copied = sort(&input(&waves, len, pre, &times), &cfg).unwrap();
        assert!(copied.units.len() >= 2, "{} units", copied.units.len());
        let first = 300u64;
        let signal = &x[first as usize..];
        let mut side = Vec::new();
        let side_index: Vec<u32> = (0..times.len())
            .map(|i| {
                if i % 7 == 3 {
                    side.extend_from_slice(&waves[i * len..(i + 1) * len]);
                    (side.len() / len - 1) as u32
                } else {
                    u32::MAX
                }
            })
            .collect();
        let windows = |side: &[f32]| -> Sorting {
            let w = Waveforms::Windows {
                signal,
                first,
                side,
                side_index: &side_index,
            };
            let x = SortInput {
                waveforms: w,
                ..input(&waves, len, pre, &times)
            };
            sort(&x, &cfg).unwrap()
        };
        assert_eq!(windows(&side), copied);
        let zeroed = vec![0.0f32; side.len()];
        assert_ne!(windows(&zeroed).labels, copied.labels);
        // A window reaching past the signal is refused, not read out of bounds.
        let short = Waveforms::Windows {
            signal: &signal[..signal.len() - 2 * len],
            first,
            side: &side,
            side_index: &side_index,
        };
        let bad = SortInput {
            waveforms: short,
            ..input(&waves, len, pre, &times)
        };
        let m = config_message(sort(&bad, &cfg));
        assert!(m.contains("lies outside the signal"), "{m}");
    }

    /// One pass from no fits (each spike peels the fits its earlier neighbours just got):
    /// the same over the independent spans as in one span, and not the same over spans
    /// cut where potentials overlap (so the comparison can fail).
    #[test]
    fn a_pass_over_independent_spans_is_a_pass_in_time_order() {
        let (waves, times, len, pre) = overlapping_recording(3000);
        let x = input(&waves, len, pre, &times);
        let c = SortConfig::default();
        let mut ctx = Ctx::new(&x, vec![true; times.len()], &c);
        let all: Vec<usize> = (0..times.len()).collect();
        let templates: Vec<Vec<f32>> = [0, 1, 2]
            .iter()
            .map(|&k| {
                let mut t = vec![0.0f32; len];
                let mine: Vec<usize> = all.iter().copied().filter(|i| i % 3 == k).collect();
                for &i in &mine {
                    t.iter_mut().zip(ctx.row(i)).for_each(|(a, v)| *a += v);
                }
                t.iter_mut().for_each(|a| *a /= mine.len() as f32);
                t
            })
            .collect();
        let units = prepare(&ctx, &templates, &[1000; 3], &[], &c);
        let mut pass = |spans: Vec<(usize, usize)>| {
            ctx.spans = spans;
            let mut fits = vec![None; times.len()];
            let mut status = vec![Status::Unsorted; times.len()];
            let mut extras = Vec::new();
            assign_pass(
                &ctx,
                &units,
                &all,
                &mut fits,
                &mut status,
                &mut extras,
                true,
            );
            (fits, status, extras)
        };
        let whole = pass(vec![(0, times.len())]);
        let spans = independent_spans(&times, 3 * len as u64, 200);
        assert!(spans.len() > 5, "{} spans", spans.len());
        let spanned = pass(spans);
        assert!(whole.0.iter().flatten().count() > 2500);
        assert_eq!(whole.0, spanned.0);
        assert_eq!(whole.1, spanned.1);
        assert_eq!(whole.2, spanned.2);
        let cut_anywhere = pass(independent_spans(&times, 1, 200));
        assert_ne!(whole.0, cut_anywhere.0);
    }

    #[test]
    fn nearest_detected_window() {
        let s = [10u64, 20, 30];
        assert!(nearest_detected(&s, 21, 1));
        assert!(!nearest_detected(&s, 25, 2));
        assert!(nearest_detected(&s, 31, 1));
        assert!(!nearest_detected(&s, 40, 5));
        assert!(nearest_detected(&s, -2, 12));
        assert!(!nearest_detected(&s, -2, 5));
    }
}
