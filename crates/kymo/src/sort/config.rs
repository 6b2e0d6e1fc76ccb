//! Every parameter of the sorter, in one serde struct with documented defaults and units.
//!
//! [`SortConfig`] is what a user writes (TOML/JSON, every field optional); [`SortConfig::check`]
//! turns it into a [`ValidSortConfig`], the only form [`super::sort`] accepts, or fails with one
//! [`Error::Config`] sentence naming the field and the allowed values. Where a default comes
//! from is said on each field: **brief** = the project's domain brief
//! (`shared/domain/myokymia.md`, which restates the AANEM glossary and standard
//! electrodiagnosis texts); **kymo** = kymo's own choice, with its reason.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Parameters of [`super::sort`]. Times in ms, amplitudes in µV, noise-relative quantities
/// in units of the noise standard deviation σ given with the input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SortConfig {
    /// Part of each waveform used for the clustering features, ms relative to the aligned
    /// peak, `[start, end]` (start ≤ 0 ≤ end). Default `[-1, 1.5]` (kymo: the main spike of
    /// a motor unit potential, where units differ most, and most of a fibrillation spike;
    /// short enough that at 150–300 Hz (3.3–6.7 ms intervals, brief) the neighbouring
    /// potentials' main spikes stay out). Templates, fits and measurements use the whole
    /// waveform.
    pub feature_window_ms: [f64; 2],
    /// Most feature samples: a longer feature window is averaged in bins of
    /// `ceil(len / max_feature_samples)` samples. Default 128 (kymo: 5 ms at 25 kHz without
    /// binning; keeps PCA at O(128²) per spike).
    pub max_feature_samples: usize,
    /// Principal components kept as clustering features. Default 6 (kymo: a few components
    /// carry the shape differences of up to ~10 units; more adds noise dimensions).
    pub n_components: usize,
    /// Most spikes used to fit the PCA basis and to cluster (evenly spaced in time); every
    /// spike is then assigned.
    /// Default 20 000 (brief), which bounds the memory and time of those stages whatever the
    /// recording's length.
    pub max_cluster_spikes: usize,
    /// Most spikes the refinement rounds assign and re-estimate the templates from (runs of
    /// consecutive spikes spread over the chunk); the final passes then assign every spike.
    /// Default 10 000 (kymo: each round costs in proportion; on three 10-minute `mixed`
    /// recordings, whose 5-minute chunks hold up to 23 000 potentials, 10 000 ran 1.05–1.6×
    /// faster than 20 000 with mean discharge macro-F1 0.63 against 0.57 and potential F1
    /// 0.80 against 0.82, one file losing potentials (0.71 → 0.60), one gaining (0.84 →
    /// 0.95); 5 000 lost more).
    pub max_refine_spikes: usize,
    /// Initial over-partition (k-means++) before unimodality merging. Default 40 (kymo:
    /// several times the number of units a needle sees, as ISO-SPLIT asks).
    pub initial_clusters: usize,
    /// Dip score below which two clusters' projection is called unimodal and they are
    /// merged (ISO-SPLIT, Magland & Barnett 2015). Default 1.5 (kymo: above the 99th
    /// percentile of the score on Gaussian and uniform samples of 15–2000 points, 0.8 and
    /// 1.44; see the `isocut` tests).
    pub isocut_threshold: f64,
    /// Pairs closer than `keep_separation` where one cluster has fewer spikes than this are
    /// merged without the dip test, which needs numbers. Default 12 (kymo).
    pub isocut_min_spikes: usize,
    /// Two clusters whose means along the line that separates them lie at least this many
    /// pooled standard deviations apart (each at least the noise's) are never merged.
    /// Default 5 (kymo: the two halves of one unimodal cloud lie 2.7–3.5 apart).
    pub keep_separation: f64,
    /// A unit needs at least this many spikes; smaller clusters become unsorted. Default 3
    /// (kymo: a fasciculating unit may fire only a handful of times in a minute (brief: well
    /// under 1 Hz), so the bar is low, and every fit is still tested against noise).
    pub min_unit_spikes: usize,
    /// Search range around each candidate alignment when fitting a template to a spike, ms
    /// (± this). Default 0.1 (kymo: a detector's peak is off by a sample or two in noise;
    /// the sub-sample part is fitted by a derivative term).
    pub align_shift_ms: f64,
    /// Other extrema of a template at least this fraction of its largest magnitude are also
    /// tried as alignment points (a detector may have aligned on them). Default 0.5 (kymo).
    pub alt_peak_fraction: f64,
    /// Allowed amplitude scale of a spike relative to its unit's template (median 1),
    /// `[low, high]`. Default `[0.15, 4]` (kymo: neuromyotonic discharges wane to 0.2–0.6 of
    /// their start (brief: waning amplitude), myokymic bursts wax and wane).
    pub amplitude_range: [f64; 2],
    /// Spread (standard deviation of the natural log) below which a unit's amplitude prior
    /// never goes. A fit at amplitude scale `a` scores its explained energy minus
    /// `σ² · (ln a / s)²`, `s` the unit's robust log-amplitude spread (at least this): a
    /// spike five times smaller than a unit's usual ones is unlikely to be that unit.
    /// Default 0.2 (kymo: a unit's potentials vary by some 10–20 % from discharge to
    /// discharge; waning or waxing units widen their own `s`).
    pub amplitude_prior_sd: f64,
    /// A template fit must explain at least `min_fit_snr² · σ²` of the window's energy (a
    /// matched-filter detection at this many σ). Default 6 (kymo: noise windows aligned on
    /// their largest sample reach about 3–4).
    pub min_fit_snr: f64,
    /// A fit's residual may exceed the noise energy `σ²·m` over its `m` samples by
    /// `residual_z · σ² · √(2m)` (a chi-square bound) ... Default 6 (kymo: generous, since
    /// band-limited noise has fewer degrees of freedom than samples).
    pub residual_z: f64,
    /// ... or by this fraction of the explained energy (sub-sample shape changes of large
    /// potentials). Default 0.1 (kymo). A fit beyond both is an overlap candidate.
    pub residual_fraction: f64,
    /// A spike whose overlap cannot be resolved keeps its best unit when that unit explains
    /// at least this fraction of the window's energy over the template; otherwise it is
    /// unsorted. Default 0.6 (kymo).
    pub min_explained_fraction: f64,
    /// Most rounds of assign → weigh units → re-estimate templates → merge; the rounds stop
    /// earlier when the sort has settled (`refine_settled_rounds`). Default 25 (kymo:
    /// isolated potentials settle in 2–3 rounds; the templates of dense 150–300 Hz
    /// discharges, deconvolved from their neighbours, can take 15–20).
    pub refine_iterations: usize,
    /// The refinement stops after this many consecutive settled rounds: rounds that add or
    /// remove no unit, in which at most `refine_moved_fraction` of the spikes change unit
    /// (a spike is unsorted or belongs to one unit; a spike that returns to its unit of two
    /// rounds before does not count: a few borderline spikes flip between two units
    /// forever, moving their templates back and forth) and at most
    /// `refine_verdict_fraction` change only their verdict (clean or not). Default 2 (kymo:
    /// one settled round can be a pause while a dense discharge's template is still being
    /// deconvolved; in the development scenarios no sort changed after two). The templates'
    /// change is not tested: with the labels fixed it is the re-estimation's own noise (a
    /// unit's support grows by a sample, its peak moves by one), which never falls below a
    /// fixed bound.
    pub refine_settled_rounds: usize,
    /// Largest fraction of the refined spikes that may change unit in a settled
    /// round (see `refine_settled_rounds`). Default 0.002 (kymo: 4 spikes of the 2000 a
    /// refinement typically sees).
    pub refine_moved_fraction: f64,
    /// Largest fraction of the refined spikes that may change only their verdict (clean, or
    /// not clean) in a settled round. Default 0.02 (kymo: while a dense discharge's template
    /// is being deconvolved its windows turn clean by the hundreds, and stopping on unit
    /// changes alone left simulated neuromyotonic units at 63–82 % recall (tests/sort.rs);
    /// once it is, a whole unit's windows can still flip between clean and not clean from
    /// round to round (1100–1300 windows of one unit in the 10-minute `mixed` benchmark
    /// file), and with the unit-change bar applied to verdicts too the refinement never
    /// settled there and ran every round).
    pub refine_verdict_fraction: f64,
    /// The refinement also stops when, with the units unchanged, the number of spikes that
    /// change unit between two rounds has not fallen below its lowest for this many rounds:
    /// units trading spikes back and forth without settling (a catch-all unit whose spread of
    /// amplitudes, and so its amplitude prior, grows with what it takes from its
    /// neighbours), where more rounds give another arrangement, not a better one. Default 25,
    /// as `refine_iterations`: off (kymo: at 8 one complex repetitive discharge of the
    /// accuracy table was lost, 0.88 → 0.71 F1 at 10 dB; at 12 the table held (mean 0.549
    /// against 0.545 without), but the `kymo demo` recording lost its complex repetitive
    /// discharge to a merged unit and gained 28 false fasciculations from a residual unit,
    /// macro-F1 0.50 → 0.27; at 5–6 one `rest` recording gained a spurious discharge. Where
    /// such a sort stops is close to arbitrary; by default it runs all its rounds unless it
    /// settles).
    pub refine_patience: usize,
    /// A unit must explain its spikes better than the other units can (singly or as two
    /// overlapping potentials) by more than `unit_penalty · m · σ² · ln N` in total, `m` the
    /// samples of its template's support and `N` the number of spikes: the Bayesian
    /// information criterion's price of `m` template parameters at 1 (Schwarz 1978).
    /// Default 1 (BIC). Clusters of overlapping potentials, and copies of one unit, fail it.
    pub unit_penalty: f64,
    /// Times the settled refinement looks for units that hold several (see the `split`
    /// step in the module docs of [`super`]) and, when it splits one, refines again.
    /// Default 2 (kymo: a split's parts are clustered once more at the next look; 0 turns
    /// the step off).
    pub split_rounds: usize,
    /// Fewest members of each part of a split. Default 8 (kymo: a fasciculating unit fires
    /// a few to a few dozen times a minute (brief: well under 1 Hz), and fewer points give
    /// the dip test no power).
    pub split_min_spikes: usize,
    /// Fewest members of a rare part (a rare unit's potentials fitted by a larger unit, see
    /// the `split` step). Default 5 (kymo: a fasciculating unit fires a few to a few dozen
    /// times a minute, brief: well under 1 Hz; five alike potentials, each far from a
    /// unit's shape and away from its runs, are not chance).
    pub split_min_rare_spikes: usize,
    /// How far apart two parts' mean shapes must be, in standard deviations of the χ²
    /// statistic of one shape (see the `split` step). Default 20 (kymo: the parts were
    /// chosen by the clustering to differ, so only a clear difference counts).
    pub split_min_z: f64,
    /// A unit with fewer than `isocut_min_spikes` spikes whose template is explained, to
    /// this fraction of its energy, by two larger units' templates overlapping (each at
    /// 0.5–2 × its size, lags up to 5 ms) is a cluster of overlaps and is dropped. Default
    /// 0.9 (kymo).
    pub overlap_unit_fraction: f64,
    /// Most spikes per unit in a template's least-squares fit (evenly spaced in time).
    /// Default 300 (kymo: template noise σ/√300 ≈ 0.06 σ).
    pub template_max_spikes: usize,
    /// Conjugate-gradient iterations of each template fit. Default 25 (kymo: enough to
    /// deconvolve potentials overlapping at 300 Hz within the refinement rounds).
    pub template_cg_iterations: usize,
    /// Two templates of the same shape merge when their normalised correlation, at the
    /// best shift within `merge_max_shift_ms`, reaches this ... Default 0.95 (kymo).
    pub merge_min_correlation: f64,
    /// ... and the smaller's norm is at least this fraction of the larger's. Default 0.8
    /// (kymo: two units of one shape within 20 % in size cannot be told apart by their
    /// waveforms; one waning discharge split by size is rejoined by the unit pruning).
    pub merge_min_amplitude_ratio: f64,
    /// Largest shift tried when comparing templates, ms. Default 3 (kymo: the spikes of a
    /// complex may be aligned on different components a few ms apart).
    pub merge_max_shift_ms: f64,
    /// Overlap resolution searches a second potential within ± this of the detected peak,
    /// ms. Default 2 (kymo: a detector with a 1–2 ms dead time misses a second peak this
    /// close; farther ones are detected and peeled as neighbours).
    pub overlap_max_shift_ms: f64,
    /// A resolved second potential closer than this to another detected spike is that
    /// spike, not an extra one, ms. Default 0.5 (kymo).
    pub overlap_dedup_ms: f64,
    /// Most spikes used to compute the isolation metrics. Default 10 000 (kymo).
    pub quality_max_spikes: usize,
    /// Template measurements.
    pub measure: MeasureConfig,
    /// Waveform class criteria.
    pub classes: ClassCriteria,
    /// Seed of the k-means++ initialisation (the only random step), so a result is
    /// reproducible. Default 0.
    pub seed: u64,
}

impl Default for SortConfig {
    fn default() -> Self {
        SortConfig {
            feature_window_ms: [-1.0, 1.5],
            max_feature_samples: 128,
            n_components: 6,
            max_cluster_spikes: 20_000,
            max_refine_spikes: 10_000,
            initial_clusters: 40,
            isocut_threshold: 1.5,
            isocut_min_spikes: 12,
            keep_separation: 5.0,
            min_unit_spikes: 3,
            align_shift_ms: 0.1,
            alt_peak_fraction: 0.5,
            amplitude_range: [0.15, 4.0],
            amplitude_prior_sd: 0.2,
            min_fit_snr: 6.0,
            residual_z: 6.0,
            residual_fraction: 0.1,
            min_explained_fraction: 0.6,
            refine_iterations: 25,
            refine_settled_rounds: 2,
            refine_moved_fraction: 0.002,
            refine_verdict_fraction: 0.02,
            refine_patience: 25,
            split_rounds: 2,
            split_min_spikes: 8,
            split_min_rare_spikes: 5,
            split_min_z: 20.0,
            unit_penalty: 1.0,
            overlap_unit_fraction: 0.9,
            template_max_spikes: 300,
            template_cg_iterations: 25,
            merge_min_correlation: 0.98,
            merge_min_amplitude_ratio: 0.8,
            merge_max_shift_ms: 3.0,
            overlap_max_shift_ms: 2.0,
            overlap_dedup_ms: 0.5,
            quality_max_spikes: 10_000,
            measure: MeasureConfig::default(),
            classes: ClassCriteria::default(),
            seed: 0,
        }
    }
}

/// How a template is measured (see the module docs of [`super`] for the definitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeasureConfig {
    /// The duration runs from the first to the last sample whose magnitude reaches this
    /// fraction of the peak-to-peak amplitude ... Default 0.02 (kymo: the simulator's
    /// convention, 20 µV on a 1 mV potential, about where a reader at 100 µV/division sees
    /// the trace leave the baseline).
    pub duration_fraction: f64,
    /// ... or `noise_k · σ/√n` if larger (σ/√n: the noise left in a template averaged over
    /// n spikes), so noise is never measured as potential. Default 3 (brief).
    pub noise_k: f64,
    /// ... and never less than this, µV. Default 2.5 (kymo: about the width of the trace at
    /// the 50 µV/division a reader uses for single-fibre potentials; a 40 µV fibrillation
    /// potential firing at 40 Hz among others sits on a few µV of their slow tails, which
    /// no reader counts as its duration).
    pub duration_min_uv: f64,
    /// A part of the template separated from the main potential by more than this quiet
    /// gap (a satellite) is not part of the duration, ms. Default 5 (kymo: longer than the
    /// gaps between the spikes of a complex, which belong to it).
    pub max_gap_ms: f64,
    /// For the single-fibre test only: samples above the duration threshold beyond a quiet
    /// stretch longer than this are a separate part, which counts (within `max_gap_ms`)
    /// when its peak reaches the phase threshold or it stays above the duration threshold
    /// for more than half this long; a lone noise excursion does not, ms. Default 0.5
    /// (kymo: in a 103 µV fibrillation template of 219 spikes a 2.8 µV noise sample 3.2 ms
    /// after its end made the duration 7.5 ms instead of 4.0, and the fibre a motor unit;
    /// applied to every duration this also cut motor unit tails and positive sharp waves'
    /// slow phases, see the README).
    pub part_gap_ms: f64,
    /// A phase (run of one sign between baseline crossings) counts when its peak reaches
    /// this fraction of the peak-to-peak amplitude ... Default 0.05 (kymo, as the
    /// simulator).
    pub phase_fraction: f64,
    /// ... and `phase_noise_k · σ/√n`. Default 5 (kymo: a phase's peak is the largest of
    /// many samples, so the noise in a template of few spikes reaches 3 σ/√n in some run;
    /// 5 keeps noise wiggles from counting as phases).
    pub phase_noise_k: f64,
    /// A turn is a change of direction with at least this excursion on both sides, µV.
    /// Default 25 (the convention of automated motor unit potential analysis; Willison's
    /// 1964 turns–amplitude analysis of the interference pattern used 100 µV).
    pub turn_uv: f64,
    /// The template's baseline is the median of its first `baseline_ms` (the window opens
    /// before the potential), and every measurement is taken from it, ms. Default 0.5
    /// (kymo: a reader measures from the baseline before the potential; a unit firing at
    /// 20–80 Hz among others, as in myotonic discharges, sits on the slow tails of the
    /// potentials before it, and measured from zero its duration ran to the window's end).
    /// 0 measures from zero.
    pub baseline_ms: f64,
}

impl Default for MeasureConfig {
    fn default() -> Self {
        MeasureConfig {
            duration_fraction: 0.02,
            noise_k: 3.0,
            duration_min_uv: 2.5,
            max_gap_ms: 5.0,
            part_gap_ms: 0.5,
            phase_fraction: 0.05,
            phase_noise_k: 5.0,
            turn_uv: 25.0,
            baseline_ms: 0.5,
        }
    }
}

/// Criteria of the waveform classes, tried in this order: positive sharp wave, single
/// fibre, complex, else motor unit. Every range is inclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassCriteria {
    /// Positive sharp wave: total duration, ms. Default `[8, 150]` (brief: 10–100 ms, widened
    /// for measurement error).
    pub psw_duration_ms: [f64; 2],
    /// Positive sharp wave: the initial positive spike is at most this wide at half its
    /// height, ms. Default 3 (kymo: "sharp"; the simulator's spike has σ 0.3–1 ms, a
    /// half-height width of 0.5–1.7 ms; the width at half height is used because a
    /// zero-phase high-pass adds a slow positive lead-in to the phase).
    pub psw_max_spike_ms: f64,
    /// Positive sharp wave: the positive spike rises from a tenth of its peak to its peak
    /// within this, ms. Default 2 (brief: an "initial sharp positive deflection"; a
    /// generator close to the needle gives a rise well under 1 ms, the clinical rise-time
    /// bar for a near potential being 0.5 ms (Preston & Shapiro, "Electromyography and
    /// Neuromuscular Disorders", 3rd ed., ch. 15). Measured on averages: kymo's simulator's
    /// positive sharp waves rise in 0.75–1.4 ms, an independent line-source model's
    /// (`scripts/independent_sim.py`) in 0.15–0.3 ms, while the motor unit potentials of
    /// the real EMGDB record whose long averages otherwise read as positive sharp waves
    /// build their positive phase over 3.75–4 ms).
    pub psw_max_rise_ms: f64,
    /// Positive sharp wave: the negative phase that follows lasts at least this, ms.
    /// Default 5 (brief: "a slow negative phase"; longer than a whole fibrillation
    /// potential, 1–5 ms).
    pub psw_min_negative_ms: f64,
    /// Positive sharp wave: largest peak-to-peak, µV. Default 1000 (as single fibres).
    pub psw_max_p2p_uv: f64,
    /// Positive sharp wave: the negative phase's peak is at most this fraction of the
    /// positive spike's. Default 0.5 (a positive spike "followed by a small negative phase":
    /// Dumitru, "Single muscle fiber discharges (insertional activity, end-plate potentials,
    /// positive sharp waves, and fibrillation potentials): a unifying proposal", Muscle &
    /// Nerve 1996; the simulator's positive sharp waves measure 0.14–0.28; a motor unit
    /// potential of the real EMGDB record with a positive main phase, 0.91, had been read
    /// as one).
    pub psw_max_negative_ratio: f64,
    /// Positive sharp wave: most phases. Default 3 (kymo: biphasic, positive then negative,
    /// allowing a small return overshoot).
    pub psw_max_phases: u32,
    /// Single fibre (fibrillation, endplate spike): duration, ms. Default `[0.5, 5.5]`
    /// (brief: 1–5 ms, widened for measurement error).
    pub single_fibre_duration_ms: [f64; 2],
    /// Single fibre: most phases. Default 3 (brief: bi- or triphasic).
    pub single_fibre_max_phases: u32,
    /// Single fibre: largest peak-to-peak, µV. Default 1000 (brief: 20–200 µV, rarely to
    /// 1 mV).
    pub single_fibre_max_p2p_uv: f64,
    /// Single fibre, initially negative (an endplate spike; fibrillation potentials are
    /// initially positive): longest duration, ms. Default 4.5 (endplate spikes are
    /// biphasic, initially negative, 3–4 ms and 100–200 µV: Preston & Shapiro,
    /// "Electromyography and Neuromuscular Disorders", 3rd ed., ch. 34; an initially
    /// negative biphasic potential of 5 ms is a small motor unit potential).
    pub endplate_max_duration_ms: f64,
    /// Complex (of a complex repetitive discharge): fewest phases. Default 4 (brief: a
    /// complex is polyphasic; the simulator's complexes have 4–30).
    pub complex_min_phases: u32,
    /// Complex: range of the mean width of its phases at half height, ms. Default
    /// `[0.25, 0.7]` (kymo: the complex is a chain of single-fibre spikes (brief: 1–5 ms
    /// each, so narrow phases, but not narrower than a 1 ms spike's); measured on simulated
    /// templates, complexes' phases average 0.3–0.65 ms, motor unit potentials' 0.2–2.5 ms,
    /// most above 0.85; narrower phases are wiggles of a noisy template).
    pub complex_phase_ms: [f64; 2],
    /// Complex: the second-largest phase is at least this fraction of the largest (several
    /// spikes of comparable size; a motor unit potential's main spike dominates, its other
    /// phases mostly under half of it). Default 0.6 (kymo, from the same measurements: with
    /// the two rules above, 139 of 150 simulated complexes and 15 of 300 simulated motor
    /// unit potentials qualify).
    pub complex_min_peak_ratio: f64,
    /// Complex: largest peak-to-peak, µV. Default 1000 (kymo: complexes of 50 µV to about
    /// 1 mV are described clinically).
    pub complex_max_p2p_uv: f64,
    /// Typical motor unit potential duration, ms, quoted in the class reason. Default
    /// `[5, 15]` (brief).
    pub motor_unit_duration_ms: [f64; 2],
    /// Typical motor unit potential peak-to-peak, µV, quoted in the class reason. Default
    /// `[200, 2000]` (brief, concentric needle).
    pub motor_unit_p2p_uv: [f64; 2],
    /// Most phases of a motor unit potential that is not called polyphasic. Default 4
    /// (brief).
    pub motor_unit_max_phases: u32,
}

impl Default for ClassCriteria {
    fn default() -> Self {
        ClassCriteria {
            psw_duration_ms: [8.0, 150.0],
            psw_max_spike_ms: 3.0,
            psw_max_rise_ms: 2.0,
            psw_min_negative_ms: 5.0,
            psw_max_p2p_uv: 1000.0,
            psw_max_negative_ratio: 0.5,
            psw_max_phases: 3,
            single_fibre_duration_ms: [0.5, 5.5],
            single_fibre_max_phases: 3,
            single_fibre_max_p2p_uv: 1000.0,
            endplate_max_duration_ms: 4.5,
            complex_min_phases: 4,
            complex_phase_ms: [0.25, 0.7],
            complex_min_peak_ratio: 0.6,
            complex_max_p2p_uv: 1000.0,
            motor_unit_duration_ms: [5.0, 15.0],
            motor_unit_p2p_uv: [200.0, 2000.0],
            motor_unit_max_phases: 4,
        }
    }
}

/// A [`SortConfig`] whose every field has been checked; only [`SortConfig::check`] (or
/// `default()`, the checked defaults) makes one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidSortConfig(SortConfig);

impl ValidSortConfig {
    /// The checked parameters.
    pub fn get(&self) -> &SortConfig {
        &self.0
    }
}

fn err(what: impl AsRef<str>) -> Error {
    Error::config(format!("sort: {}", what.as_ref()))
}

fn positive(name: &str, x: f64) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(err(format!("{name} = {x} must be a positive number")))
    }
}

fn non_negative(name: &str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(err(format!("{name} = {x} must be zero or positive")))
    }
}

fn fraction(name: &str, x: f64) -> Result<()> {
    if x.is_finite() && x > 0.0 && x <= 1.0 {
        Ok(())
    } else {
        Err(err(format!("{name} = {x} must lie in (0, 1]")))
    }
}

fn range(name: &str, r: [f64; 2], min: f64) -> Result<()> {
    if r[0].is_finite() && r[1].is_finite() && r[0] >= min && r[0] <= r[1] {
        Ok(())
    } else {
        Err(err(format!(
            "{name} = [{}, {}] must be a range [low, high] with {min} ≤ low ≤ high",
            r[0], r[1]
        )))
    }
}

fn count(name: &str, x: usize, min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&x) {
        Ok(())
    } else {
        Err(err(format!("{name} = {x} must be between {min} and {max}")))
    }
}

/// Upper bounds that keep every stage's memory and time bounded.
const MAX_FEATURE_SAMPLES: usize = 1024;
const MAX_COMPONENTS: usize = 16;
const MAX_CLUSTER_SPIKES: usize = 1_000_000;
const MAX_INITIAL_CLUSTERS: usize = 200;

impl SortConfig {
    /// Checks every field; the message names the first bad one and the allowed values.
    pub fn check(self) -> Result<ValidSortConfig> {
        let c = &self;
        let w = c.feature_window_ms;
        if !(w[0].is_finite() && w[1].is_finite() && w[0] <= 0.0 && w[1] >= 0.0 && w[1] > w[0]) {
            return Err(err(format!(
                "feature_window_ms = [{}, {}] must be [start, end] with start ≤ 0 ≤ end and start < end",
                w[0], w[1]
            )));
        }
        count(
            "max_feature_samples",
            c.max_feature_samples,
            4,
            MAX_FEATURE_SAMPLES,
        )?;
        count("n_components", c.n_components, 1, MAX_COMPONENTS)?;
        count(
            "max_cluster_spikes",
            c.max_cluster_spikes,
            100,
            MAX_CLUSTER_SPIKES,
        )?;
        count(
            "max_refine_spikes",
            c.max_refine_spikes,
            100,
            MAX_CLUSTER_SPIKES,
        )?;
        count(
            "initial_clusters",
            c.initial_clusters,
            1,
            MAX_INITIAL_CLUSTERS,
        )?;
        positive("isocut_threshold", c.isocut_threshold)?;
        count("isocut_min_spikes", c.isocut_min_spikes, 4, 10_000)?;
        positive("keep_separation", c.keep_separation)?;
        count("min_unit_spikes", c.min_unit_spikes, 1, 1_000_000)?;
        count("split_rounds", c.split_rounds, 0, 100)?;
        count("split_min_spikes", c.split_min_spikes, 2, 1_000_000)?;
        count(
            "split_min_rare_spikes",
            c.split_min_rare_spikes,
            2,
            1_000_000,
        )?;
        non_negative("split_min_z", c.split_min_z)?;
        non_negative("align_shift_ms", c.align_shift_ms)?;
        fraction("alt_peak_fraction", c.alt_peak_fraction)?;
        range("amplitude_range", c.amplitude_range, 0.0)?;
        if c.amplitude_range[0] <= 0.0 || c.amplitude_range[0] > 1.0 || c.amplitude_range[1] < 1.0 {
            return Err(err(format!(
                "amplitude_range = [{}, {}] must contain 1 and have a positive low end",
                c.amplitude_range[0], c.amplitude_range[1]
            )));
        }
        positive("amplitude_prior_sd", c.amplitude_prior_sd)?;
        positive("min_fit_snr", c.min_fit_snr)?;
        positive("residual_z", c.residual_z)?;
        non_negative("residual_fraction", c.residual_fraction)?;
        fraction("min_explained_fraction", c.min_explained_fraction)?;
        count("refine_iterations", c.refine_iterations, 0, 50)?;
        count("refine_settled_rounds", c.refine_settled_rounds, 1, 50)?;
        count("refine_patience", c.refine_patience, 1, 50)?;
        non_negative("refine_moved_fraction", c.refine_moved_fraction)?;
        if c.refine_moved_fraction > 1.0 {
            return Err(err(format!(
                "refine_moved_fraction = {} must lie in [0, 1]",
                c.refine_moved_fraction
            )));
        }
        fraction("refine_verdict_fraction", c.refine_verdict_fraction)?;
        non_negative("unit_penalty", c.unit_penalty)?;
        fraction("overlap_unit_fraction", c.overlap_unit_fraction)?;
        count("template_max_spikes", c.template_max_spikes, 1, 100_000)?;
        count("template_cg_iterations", c.template_cg_iterations, 1, 200)?;
        fraction("merge_min_correlation", c.merge_min_correlation)?;
        fraction("merge_min_amplitude_ratio", c.merge_min_amplitude_ratio)?;
        non_negative("merge_max_shift_ms", c.merge_max_shift_ms)?;
        non_negative("overlap_max_shift_ms", c.overlap_max_shift_ms)?;
        non_negative("overlap_dedup_ms", c.overlap_dedup_ms)?;
        count("quality_max_spikes", c.quality_max_spikes, 10, 1_000_000)?;
        let m = &c.measure;
        fraction("measure.duration_fraction", m.duration_fraction)?;
        non_negative("measure.noise_k", m.noise_k)?;
        non_negative("measure.duration_min_uv", m.duration_min_uv)?;
        non_negative("measure.max_gap_ms", m.max_gap_ms)?;
        non_negative("measure.part_gap_ms", m.part_gap_ms)?;
        fraction("measure.phase_fraction", m.phase_fraction)?;
        non_negative("measure.phase_noise_k", m.phase_noise_k)?;
        positive("measure.turn_uv", m.turn_uv)?;
        non_negative("measure.baseline_ms", m.baseline_ms)?;
        let k = &c.classes;
        range("classes.psw_duration_ms", k.psw_duration_ms, 0.0)?;
        positive("classes.psw_max_spike_ms", k.psw_max_spike_ms)?;
        positive("classes.psw_max_rise_ms", k.psw_max_rise_ms)?;
        positive("classes.psw_min_negative_ms", k.psw_min_negative_ms)?;
        positive("classes.psw_max_p2p_uv", k.psw_max_p2p_uv)?;
        fraction("classes.psw_max_negative_ratio", k.psw_max_negative_ratio)?;
        if k.psw_max_phases < 2 {
            return Err(err(format!(
                "classes.psw_max_phases = {} must be at least 2 (positive, then negative)",
                k.psw_max_phases
            )));
        }
        range(
            "classes.single_fibre_duration_ms",
            k.single_fibre_duration_ms,
            0.0,
        )?;
        if k.single_fibre_max_phases == 0 {
            return Err(err("classes.single_fibre_max_phases must be at least 1"));
        }
        positive("classes.single_fibre_max_p2p_uv", k.single_fibre_max_p2p_uv)?;
        positive(
            "classes.endplate_max_duration_ms",
            k.endplate_max_duration_ms,
        )?;
        if k.complex_min_phases < 2 {
            return Err(err(format!(
                "classes.complex_min_phases = {} must be at least 2",
                k.complex_min_phases
            )));
        }
        range("classes.complex_phase_ms", k.complex_phase_ms, 0.0)?;
        fraction("classes.complex_min_peak_ratio", k.complex_min_peak_ratio)?;
        positive("classes.complex_max_p2p_uv", k.complex_max_p2p_uv)?;
        range(
            "classes.motor_unit_duration_ms",
            k.motor_unit_duration_ms,
            0.0,
        )?;
        range("classes.motor_unit_p2p_uv", k.motor_unit_p2p_uv, 0.0)?;
        Ok(ValidSortConfig(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(c: SortConfig) -> String {
        match c.check() {
            Err(Error::Config(m)) => m,
            Err(e) => panic!("expected a config error, got {e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        assert!(SortConfig::default().check().is_ok());
        assert_eq!(
            ValidSortConfig::default().get(),
            SortConfig::default().check().unwrap().get()
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(SortConfig, &str)> = vec![
            (
                SortConfig {
                    feature_window_ms: [1.0, 3.0],
                    ..Default::default()
                },
                "feature_window_ms",
            ),
            (
                SortConfig {
                    n_components: 0,
                    ..Default::default()
                },
                "n_components",
            ),
            (
                SortConfig {
                    max_cluster_spikes: 5,
                    ..Default::default()
                },
                "max_cluster_spikes",
            ),
            (
                SortConfig {
                    isocut_threshold: f64::NAN,
                    ..Default::default()
                },
                "isocut_threshold",
            ),
            (
                SortConfig {
                    amplitude_range: [2.0, 4.0],
                    ..Default::default()
                },
                "amplitude_range",
            ),
            (
                SortConfig {
                    amplitude_range: [0.5, 0.2],
                    ..Default::default()
                },
                "amplitude_range",
            ),
            (
                SortConfig {
                    merge_min_correlation: 1.5,
                    ..Default::default()
                },
                "merge_min_correlation",
            ),
            (
                SortConfig {
                    min_fit_snr: -1.0,
                    ..Default::default()
                },
                "min_fit_snr",
            ),
            (
                SortConfig {
                    measure: MeasureConfig {
                        turn_uv: 0.0,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "measure.turn_uv",
            ),
            (
                SortConfig {
                    classes: ClassCriteria {
                        single_fibre_duration_ms: [5.0, 1.0],
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "classes.single_fibre_duration_ms",
            ),
        ];
        for (c, field) in cases {
            let m = message(c);
            assert!(m.starts_with("sort: "), "{m}");
            assert!(m.contains(field), "{field} not named in: {m}");
        }
    }

    #[test]
    fn toml_round_trip_and_unknown_fields() {
        let text = toml::to_string(&SortConfig::default()).unwrap();
        let back: SortConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, SortConfig::default());
        let partial: SortConfig = toml::from_str("min_fit_snr = 8.0\n").unwrap();
        assert_eq!(partial.min_fit_snr, 8.0);
        assert_eq!(partial.n_components, 6);
        assert!(toml::from_str::<SortConfig>("min_fit_snrr = 8.0\n").is_err());
    }
}
