//! Template measurements (duration, phases, turns, area, first-phase polarity) and the
//! waveform class decided from them. Definitions are in the docs of [`super`].

use super::linalg::is_pos;
use serde::{Deserialize, Serialize};

use super::config::{ClassCriteria, MeasureConfig};

/// Sign of a phase, in true voltage (positive = positive voltage; clinical displays draw
/// negative up, so a "positive" phase is drawn downwards there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Polarity {
    /// Above the baseline.
    Positive,
    /// Below the baseline.
    Negative,
}

/// The waveform class of a unit, decided from its template alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaveformClass {
    /// A motor unit potential (including polyphasic ones).
    MotorUnit,
    /// A single muscle fibre's spike: fibrillation potential (initially positive) or
    /// endplate spike (initially negative); see [`super::Unit::first_phase`].
    SingleFibre,
    /// A positive sharp wave.
    PositiveSharpWave,
    /// The polyphasic complex of a complex repetitive discharge.
    Complex,
}

/// One phase: a run of one sign between baseline crossings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Phase {
    pub positive: bool,
    /// First and last sample index (inclusive).
    pub start: usize,
    pub end: usize,
    /// Largest magnitude.
    pub peak: f64,
}

/// What [`measure`] finds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measured {
    pub p2p: f64,
    pub peak_index: usize,
    pub onset: usize,
    pub end: usize,
    /// `onset..=end` without the parts beyond a quiet gap that are neither a phase nor a
    /// slow component (see [`extent`]): what the single-fibre test measures.
    pub core: (usize, usize),
    /// Significant phases, same-sign neighbours merged, in time order.
    pub phases: Vec<Phase>,
    pub turns: u32,
    pub area_uv_ms: f64,
    pub rms: f64,
    /// The measured samples.
    pub samples: Vec<f32>,
}

impl Measured {
    pub(crate) fn duration_ms(&self, rate_hz: f64) -> f64 {
        (self.end - self.onset) as f64 * 1e3 / rate_hz
    }

    /// The duration of [`Measured::core`], ms.
    pub(crate) fn core_duration_ms(&self, rate_hz: f64) -> f64 {
        (self.core.1 - self.core.0) as f64 * 1e3 / rate_hz
    }

    /// Width, ms, of the stretch around a phase's peak where it stays above half its peak.
    pub(crate) fn half_width_ms(&self, p: &Phase, rate_hz: f64) -> f64 {
        let Some(k) = self.peak_of(p) else {
            return 0.0;
        };
        half_height_samples(&self.samples[p.start..=p.end], k - p.start) as f64 * 1e3 / rate_hz
    }

    /// Time, ms, for a phase to rise from [`RISE_FROM`] of its peak to its peak (the
    /// samples before the peak that keep its sign and reach that level).
    pub(crate) fn rise_ms(&self, p: &Phase, rate_hz: f64) -> f64 {
        let Some(k) = self.peak_of(p) else {
            return 0.0;
        };
        let sign = if p.positive { 1.0 } else { -1.0 };
        let level = RISE_FROM * p.peak;
        let before = self.samples[..k]
            .iter()
            .rev()
            .take_while(|v| sign * **v as f64 >= level)
            .count();
        before as f64 * 1e3 / rate_hz
    }

    /// Index in `samples` of phase `p`'s first sample at its peak magnitude.
    fn peak_of(&self, p: &Phase) -> Option<usize> {
        let sign = if p.positive { 1.0 } else { -1.0 };
        self.samples[p.start..=p.end]
            .iter()
            .position(|v| sign * *v as f64 >= p.peak)
            .map(|k| p.start + k)
    }
}

/// Fraction of a phase's peak from which its rise is timed ([`Measured::rise_ms`]).
const RISE_FROM: f64 = 0.1;

/// Samples around `x[k]` (counted with it) that keep its sign and at least half its size.
fn half_height_samples(x: &[f32], k: usize) -> usize {
    let (sign, half) = (x[k].signum() as f64, 0.5 * (x[k] as f64).abs());
    let above = |v: &&f32| sign * **v as f64 >= half;
    let left = x[..=k].iter().rev().take_while(above).count();
    let right = x[k..].iter().take_while(above).count();
    (left + right).saturating_sub(1)
}

/// Width, ms, of a waveform's largest excursion at half its height (0 for an empty or
/// all-zero waveform): a spike's main phase lasts well under a millisecond, a slow wave's
/// many milliseconds.
pub(crate) fn main_half_width_ms(x: &[f32], rate_hz: f64) -> f64 {
    let k = (0..x.len()).max_by(|&a, &b| x[a].abs().total_cmp(&x[b].abs()));
    match k {
        Some(k) if x[k] != 0.0 => half_height_samples(x, k) as f64 * 1e3 / rate_hz,
        _ => 0.0,
    }
}

/// Measures a template sampled at `rate_hz`; `sigma_t` is the noise left in it (σ/√n).
/// `None` when it is flat or not finite.
pub(crate) fn measure(
    t: &[f32],
    rate_hz: f64,
    sigma_t: f64,
    cfg: &MeasureConfig,
) -> Option<Measured> {
    if t.iter().any(|v| !v.is_finite()) {
        return None;
    }
    // The baseline: the head of the window when it is flat (within the duration
    // threshold without the noise term, over three times `baseline_ms`: a noisy head is not
    // trusted); a head that moves is part of the potential (the end of a complex's
    // previous cycle, say), and then the measurement starts from zero. Exact zeros at the
    // ends are the padding of a re-centred template, at the baseline by definition.
    let lead = t.iter().take_while(|v| **v == 0.0).count();
    let trail = t[lead..].iter().rev().take_while(|v| **v == 0.0).count();
    let body = lead..t.len() - trail;
    let base_n = ((cfg.baseline_ms * 1e-3 * rate_hz).round() as usize).min(body.len() / 6);
    let baseline = if base_n == 0 {
        0.0
    } else {
        let (hi, lo) = t
            .iter()
            .fold((f32::MIN, f32::MAX), |(h, l), &v| (h.max(v), l.min(v)));
        let mut head = t[lead..lead + base_n].to_vec();
        head.sort_by(f32::total_cmp);
        let level = head[base_n / 2];
        // Flat over the baseline stretch and twice as long again after it: a slow lead-in
        // into the potential (a ramp) is not a baseline, however flat its first samples.
        let flat_within = (cfg.duration_fraction * (hi - lo) as f64).max(cfg.duration_min_uv);
        let flat = t[lead..lead + 3 * base_n]
            .iter()
            .all(|v| ((v - level).abs() as f64) <= flat_within);
        if flat {
            level
        } else {
            0.0
        }
    };
    let t: Vec<f32> = t
        .iter()
        .enumerate()
        .map(|(i, &v)| if body.contains(&i) { v - baseline } else { 0.0 })
        .collect();
    let t = t.as_slice();
    let (mut hi, mut lo) = (f64::NEG_INFINITY, f64::INFINITY);
    let (mut peak_index, mut peak) = (0usize, 0.0f64);
    for (i, &v) in t.iter().enumerate() {
        let v = v as f64;
        hi = hi.max(v);
        lo = lo.min(v);
        if v.abs() > peak {
            peak = v.abs();
            peak_index = i;
        }
    }
    let p2p = hi - lo;
    if !is_pos(p2p) || !is_pos(peak) {
        return None;
    }
    let noise = cfg.noise_k * sigma_t.max(0.0);
    let thr_d = (cfg.duration_fraction * p2p)
        .max(noise)
        .max(cfg.duration_min_uv);
    let max_gap = (cfg.max_gap_ms * 1e-3 * rate_hz).round() as usize;
    // Walk outward from the peak; a quiet stretch longer than the gap ends the potential.
    // The core takes the same walk, but a part beyond a quiet gap of `part_gap_ms` joins
    // only when it is a phase or a slow component: a lone noise excursion of a small fibre's
    // template, within `max_gap_ms` of its end, otherwise doubles its duration.
    let thr_p = (cfg.phase_fraction * p2p).max(cfg.phase_noise_k * sigma_t.max(0.0));
    let reach = |j: usize| (t[j] as f64).abs();
    let walk = |part_gap: usize| {
        let before = extent(
            &mut (0..peak_index).rev(),
            peak_index,
            reach,
            (thr_d, thr_p),
            (part_gap, max_gap),
        );
        let after = extent(
            &mut (peak_index + 1..t.len()),
            peak_index,
            reach,
            (thr_d, thr_p),
            (part_gap, max_gap),
        );
        (before, after)
    };
    let (onset, end) = walk(usize::MAX);
    let core = walk((cfg.part_gap_ms * 1e-3 * rate_hz).round() as usize);
    let seg = &t[onset..=end];
    // Phases: runs of one sign (zeros join the current run); significant when their peak
    // reaches the phase threshold; consecutive significant runs of one sign merge (a small
    // opposite wiggle between them is not a phase).
    let mut phases: Vec<Phase> = Vec::new();
    let mut run: Option<Phase> = None;
    let close = |r: Option<Phase>, phases: &mut Vec<Phase>| {
        if let Some(r) = r {
            if r.peak >= thr_p {
                match phases.last_mut() {
                    Some(last) if last.positive == r.positive => {
                        last.end = r.end;
                        last.peak = last.peak.max(r.peak);
                    }
                    _ => phases.push(r),
                }
            }
        }
    };
    for (k, &v) in seg.iter().enumerate() {
        let i = onset + k;
        let v = v as f64;
        if v == 0.0 {
            if let Some(r) = run.as_mut() {
                r.end = i;
            }
            continue;
        }
        let pos = v > 0.0;
        match run.as_mut() {
            Some(r) if r.positive == pos => {
                r.end = i;
                r.peak = r.peak.max(v.abs());
            }
            _ => {
                close(run.take(), &mut phases);
                run = Some(Phase {
                    positive: pos,
                    start: i,
                    end: i,
                    peak: v.abs(),
                });
            }
        }
    }
    close(run, &mut phases);
    // Turns: reversals of at least `turn_uv` after a move of at least `turn_uv`.
    let theta = cfg.turn_uv;
    let mut turns = 0u32;
    let start = seg[0] as f64;
    let mut dir = 0i8;
    let mut ext = start;
    for &v in seg {
        let v = v as f64;
        match dir {
            0 => {
                if v - start >= theta {
                    dir = 1;
                    ext = v;
                } else if start - v >= theta {
                    dir = -1;
                    ext = v;
                }
            }
            1 => {
                if v > ext {
                    ext = v;
                } else if ext - v >= theta {
                    turns += 1;
                    dir = -1;
                    ext = v;
                }
            }
            _ => {
                if v < ext {
                    ext = v;
                } else if v - ext >= theta {
                    turns += 1;
                    dir = 1;
                    ext = v;
                }
            }
        }
    }
    let dt_ms = 1e3 / rate_hz;
    let area_uv_ms = seg.iter().map(|v| (*v as f64).abs()).sum::<f64>() * dt_ms;
    let rms = (seg.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / seg.len() as f64).sqrt();
    Some(Measured {
        p2p,
        peak_index,
        onset,
        end,
        core,
        phases,
        turns,
        area_uv_ms,
        rms,
        samples: t.to_vec(),
    })
}

/// The last sample of the potential walking out from `peak` through `walk` (indices moving
/// away from it): samples whose `reach` is at least `thr_d` within `part_gap` quiet samples
/// of the potential belong to it; beyond such a gap they make a separate part (a satellite,
/// the next spike of a complex, a slow phase, or noise), which joins when it reaches
/// `thr_p` (the level of a phase) or holds more than `part_gap / 2` samples at or above
/// `thr_d` (noise crosses the threshold for a sample or two); the walk ends at a quiet
/// sample more than `max_gap` samples after the potential's last sample. With `part_gap`
/// at `usize::MAX` every sample at or above `thr_d` before that end belongs to it.
fn extent(
    walk: &mut dyn Iterator<Item = usize>,
    peak: usize,
    reach: impl Fn(usize) -> f64,
    (thr_d, thr_p): (f64, f64),
    (part_gap, max_gap): (usize, usize),
) -> usize {
    let mut last = peak;
    // Quiet samples since the last sample at or above `thr_d` (in the potential or in a part
    // not yet joined), and the peak and the samples at or above `thr_d` of that part.
    let mut quiet = 0usize;
    let mut part: Option<(f64, usize)> = None;
    for j in walk {
        let v = reach(j);
        if v < thr_d {
            if j.abs_diff(last) > max_gap {
                break;
            }
            quiet += 1;
            continue;
        }
        if part.is_none() && quiet <= part_gap {
            last = j;
        } else {
            let (p, n) = match part {
                Some((p, n)) if quiet <= part_gap => (p.max(v), n + 1),
                _ => (v, 1),
            };
            if p >= thr_p || n > part_gap / 2 {
                last = j;
                part = None;
            } else {
                part = Some((p, n));
            }
        }
        quiet = 0;
    }
    last
}

fn within(x: f64, r: [f64; 2]) -> bool {
    x >= r[0] && x <= r[1]
}

/// The waveform class and a sentence giving the numbers that decided it.
pub(crate) fn classify(m: &Measured, rate_hz: f64, c: &ClassCriteria) -> (WaveformClass, String) {
    let ms = |a: usize, b: usize| (b + 1 - a) as f64 * 1e3 / rate_hz;
    let dur = m.duration_ms(rate_hz);
    let nph = m.phases.len() as u32;
    let first = m.phases.first().map(|p| p.positive);
    let polarity = match first {
        Some(true) => "initially positive",
        Some(false) => "initially negative",
        None => "no phase above the threshold",
    };
    // Positive sharp wave: a sharp positive spike first (its width at half height is short;
    // a zero-phase filter may add a slow positive lead-in, so the phase's whole length is
    // not used), followed by a small negative phase (`psw_max_negative_ratio`) that is long.
    if let [p0, p1, ..] = m.phases.as_slice() {
        let (half_ms, rise_ms, neg_ms) = (
            m.half_width_ms(p0, rate_hz),
            m.rise_ms(p0, rate_hz),
            ms(p1.start, m.end.max(p1.end)),
        );
        if p0.positive
            && !p1.positive
            && p1.peak <= c.psw_max_negative_ratio * p0.peak
            && nph <= c.psw_max_phases
            && half_ms <= c.psw_max_spike_ms
            && rise_ms <= c.psw_max_rise_ms
            && neg_ms >= c.psw_min_negative_ms
            && m.p2p <= c.psw_max_p2p_uv
            && within(dur, c.psw_duration_ms)
        {
            return (
                WaveformClass::PositiveSharpWave,
                format!(
                    "positive sharp wave: positive spike {half_ms:.1} ms wide at half height (≤ {}) rising in {rise_ms:.1} ms (≤ {}), then a negative phase of {neg_ms:.1} ms (≥ {}), duration {dur:.1} ms ({}–{}), {:.0} µV",
                    c.psw_max_spike_ms, c.psw_max_rise_ms, c.psw_min_negative_ms, c.psw_duration_ms[0], c.psw_duration_ms[1], m.p2p
                ),
            );
        }
    }
    // A lone noise excursion near a small fibre's end is not part of it (see `core`).
    let dur_sf = m.core_duration_ms(rate_hz);
    if within(dur_sf, c.single_fibre_duration_ms)
        && nph <= c.single_fibre_max_phases
        && m.p2p <= c.single_fibre_max_p2p_uv
        && (first != Some(false) || dur <= c.endplate_max_duration_ms)
    {
        return (
            WaveformClass::SingleFibre,
            format!(
                "single fibre: duration {dur_sf:.1} ms ({}–{}), {nph} phases (≤ {}), {:.0} µV (≤ {}), {polarity}",
                c.single_fibre_duration_ms[0],
                c.single_fibre_duration_ms[1],
                c.single_fibre_max_phases,
                m.p2p,
                c.single_fibre_max_p2p_uv
            ),
        );
    }
    // Complex: a chain of single-fibre spikes, so several narrow phases of comparable size;
    // a motor unit potential has one dominant phase (its main spike) and broader ones.
    let widths: Vec<f64> = m
        .phases
        .iter()
        .map(|p| m.half_width_ms(p, rate_hz))
        .collect();
    let mean_width = widths.iter().sum::<f64>() / widths.len().max(1) as f64;
    let mut peaks: Vec<f64> = m.phases.iter().map(|p| p.peak).collect();
    peaks.sort_by(|a, b| b.total_cmp(a));
    let second = match peaks.as_slice() {
        [a, b, ..] if *a > 0.0 => b / a,
        _ => 0.0,
    };
    if nph >= c.complex_min_phases
        && within(mean_width, c.complex_phase_ms)
        && second >= c.complex_min_peak_ratio
        && m.p2p <= c.complex_max_p2p_uv
    {
        return (
            WaveformClass::Complex,
            format!(
                "complex: {nph} phases (≥ {}), {mean_width:.2} ms mean half-height width ({}–{}), second phase {second:.2} of the largest (≥ {}), {:.0} µV, duration {dur:.1} ms",
                c.complex_min_phases, c.complex_phase_ms[0], c.complex_phase_ms[1], c.complex_min_peak_ratio, m.p2p
            ),
        );
    }
    let typical = within(dur, c.motor_unit_duration_ms) && within(m.p2p, c.motor_unit_p2p_uv);
    let shape = if nph > c.motor_unit_max_phases {
        "polyphasic"
    } else {
        "not polyphasic"
    };
    (
        WaveformClass::MotorUnit,
        format!(
            "motor unit: duration {dur:.1} ms, {:.0} µV ({} the typical {}–{} ms, {}–{} µV), {nph} phases ({shape}), {} turns",
            m.p2p,
            if typical { "within" } else { "outside" },
            c.motor_unit_duration_ms[0],
            c.motor_unit_duration_ms[1],
            c.motor_unit_p2p_uv[0],
            c.motor_unit_p2p_uv[1],
            m.turns
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: f64 = 20_000.0;

    fn cfg() -> MeasureConfig {
        MeasureConfig::default()
    }

    /// A piecewise-linear waveform through (ms, µV) points, zero before and after.
    fn pwl(points: &[(f64, f64)], total_ms: f64) -> Vec<f32> {
        let n = (total_ms * 1e-3 * FS) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 * 1e3 / FS;
                for w in points.windows(2) {
                    let ((t0, v0), (t1, v1)) = (w[0], w[1]);
                    if t >= t0 && t <= t1 {
                        return (v0 + (v1 - v0) * (t - t0) / (t1 - t0)) as f32;
                    }
                }
                0.0
            })
            .collect()
    }

    #[test]
    fn main_half_width_of_a_spike_and_of_a_slow_wave() {
        // A triangle's width at half height is half its base: a spike whose main phase
        // spans 7.5–8.5 ms (−600 µV at 8 ms) is 0.5 ms wide, flanks or none.
        let spike = pwl(
            &[
                (5.0, 0.0),
                (7.5, 20.0),
                (8.0, -600.0),
                (8.5, 25.0),
                (12.0, 0.0),
            ],
            20.0,
        );
        assert!((main_half_width_ms(&spike, FS) - 0.5).abs() <= 0.1);
        // A slow negative wave of 8 ms after a small positive one: 4 ms.
        let slow = pwl(
            &[
                (2.0, 0.0),
                (3.0, 5.0),
                (4.0, 0.0),
                (8.0, -13.0),
                (12.0, 0.0),
            ],
            20.0,
        );
        assert!((main_half_width_ms(&slow, FS) - 4.0).abs() <= 0.1);
        assert_eq!(main_half_width_ms(&[0.0; 10], FS), 0.0);
        assert_eq!(main_half_width_ms(&[], FS), 0.0);
    }

    #[test]
    fn triangle_triphasic_known_numbers() {
        // 0 at 5 ms, +200 at 6, −600 at 8, +300 at 10, 0 at 12 ms: duration 7 ms at the 2 %
        // threshold (2 % of 900 = 18 µV is reached 0.09 ms after 5 and before 12 ms).
        let t = pwl(
            &[
                (5.0, 0.0),
                (6.0, 200.0),
                (8.0, -600.0),
                (10.0, 300.0),
                (12.0, 0.0),
            ],
            20.0,
        );
        let m = measure(&t, FS, 0.0, &cfg()).unwrap();
        assert!((m.p2p - 900.0).abs() < 1.0);
        let d = m.duration_ms(FS);
        assert!((d - (7.0 - 0.09 - 0.12)).abs() < 0.11, "duration {d}");
        assert_eq!(m.phases.len(), 3);
        assert!(m.phases[0].positive);
        assert_eq!(m.turns, 3);
        // Area: three triangles between the zero crossings at 6.5 and 9.33 ms.
        let exact =
            0.5 * 200.0 * 1.5 + 0.5 * 600.0 * (1.5 + 4.0 / 3.0) + 0.5 * 300.0 * (2.0 / 3.0 + 2.0);
        assert!(
            (m.area_uv_ms - exact).abs() < 0.02 * exact,
            "{} vs {exact}",
            m.area_uv_ms
        );
    }

    #[test]
    fn turns_need_the_threshold_on_both_sides() {
        // A 20 µV wiggle on top of a 500 µV wave adds no turn at 25 µV, two at 10 µV.
        let points = vec![
            (2.0, 0.0),
            (4.0, -500.0),
            (5.0, -480.0),
            (5.5, -500.0),
            (8.0, 0.0),
        ];
        let t = pwl(&points, 12.0);
        assert_eq!(measure(&t, FS, 0.0, &cfg()).unwrap().turns, 1);
        let c = MeasureConfig {
            turn_uv: 10.0,
            ..cfg()
        };
        assert_eq!(measure(&t, FS, 0.0, &c).unwrap().turns, 3);
    }

    /// A 100 µV triphasic fibre potential of 4 ms with one 3 µV noise sample 3 ms after its
    /// end (within the 5-ms gap, above the 2.5 µV floor): its duration runs to the sample,
    /// but the single-fibre test measures the potential alone. A slow tail of 1 ms at that
    /// level is a component and counts.
    #[test]
    fn a_lone_noise_sample_does_not_make_a_fibre_a_motor_unit() {
        let mut t = pwl(
            &[
                (2.0, 0.0),
                (3.0, 40.0),
                (4.0, -60.0),
                (5.5, 20.0),
                (6.0, 0.0),
            ],
            20.0,
        );
        let at = (9.0e-3 * FS) as usize;
        t[at] = -3.0;
        let m = measure(&t, FS, 0.0, &cfg()).unwrap();
        assert!(m.duration_ms(FS) > 6.5, "{}", m.duration_ms(FS));
        assert!(m.core_duration_ms(FS) < 4.5, "{}", m.core_duration_ms(FS));
        let c = ClassCriteria::default();
        assert_eq!(classify(&m, FS, &c).0, WaveformClass::SingleFibre);
        let (lone, _) = classify(
            &measure(
                &t,
                FS,
                0.0,
                &MeasureConfig {
                    part_gap_ms: cfg().max_gap_ms,
                    ..cfg()
                },
            )
            .unwrap(),
            FS,
            &c,
        );
        assert_eq!(lone, WaveformClass::MotorUnit, "without the rule");
        for v in &mut t[at..at + (1.0e-3 * FS) as usize] {
            *v = -3.0;
        }
        let m = measure(&t, FS, 0.0, &cfg()).unwrap();
        assert!(m.core_duration_ms(FS) > 6.5, "{}", m.core_duration_ms(FS));
    }

    #[test]
    fn satellites_beyond_the_gap_are_not_duration() {
        let t = pwl(
            &[
                (2.0, 0.0),
                (3.0, -400.0),
                (4.0, 300.0),
                (5.0, 0.0),
                (10.0, 0.0),
                (10.5, -60.0),
                (11.0, 0.0),
            ],
            15.0,
        );
        let m = measure(&t, FS, 0.0, &cfg()).unwrap();
        assert!(m.duration_ms(FS) < 3.5, "{}", m.duration_ms(FS));
        let c = MeasureConfig {
            max_gap_ms: 6.0,
            ..cfg()
        };
        assert!(measure(&t, FS, 0.0, &c).unwrap().duration_ms(FS) > 8.5);
    }

    #[test]
    fn measured_from_the_baseline_before_the_potential() {
        // A 42 µV fibrillation spike firing among slow waves of other fibres: it sits on
        // −3 µV and its tail on −4 µV. Measured from zero it would run to the window's end
        // and start with a negative "phase".
        let spike = pwl(&[(4.0, 0.0), (4.5, 16.0), (5.0, -26.0), (5.8, 0.0)], 10.0);
        let t: Vec<f32> = spike
            .iter()
            .enumerate()
            .map(|(i, v)| v - if i < 110 { 3.0 } else { 4.0 })
            .collect();
        let m = measure(&t, FS, 0.0, &cfg()).unwrap();
        assert!(m.duration_ms(FS) < 2.5, "{}", m.duration_ms(FS));
        assert!(m.phases[0].positive);
        let (k, why) = classify(&m, FS, &ClassCriteria::default());
        assert_eq!(k, WaveformClass::SingleFibre, "{why}");
        // A head that moves is part of the potential, not a baseline.
        let ramp = pwl(
            &[
                (0.0, -100.0),
                (2.0, 0.0),
                (3.0, 300.0),
                (4.0, -200.0),
                (5.0, 0.0),
            ],
            10.0,
        );
        let from_zero = MeasureConfig {
            baseline_ms: 0.0,
            ..cfg()
        };
        assert_eq!(
            measure(&ramp, FS, 0.0, &cfg()),
            measure(&ramp, FS, 0.0, &from_zero)
        );
        // A slow lead-in whose first 0.5 ms move less than the threshold (a 1 mV motor
        // unit potential of a facial myokymic burst riding on the one before) is not a
        // baseline either: the potential keeps its two phases.
        let lead_in = pwl(
            &[
                (0.0, 60.0),
                (2.0, 108.0),
                (3.0, -890.0),
                (4.0, 40.0),
                (8.0, 30.0),
            ],
            10.0,
        );
        assert_eq!(
            measure(&lead_in, FS, 0.0, &cfg()),
            measure(&lead_in, FS, 0.0, &from_zero)
        );
    }

    #[test]
    fn noise_floor_shortens_the_duration() {
        let t = pwl(&[(2.0, 0.0), (4.0, -100.0), (6.0, 0.0)], 10.0);
        let quiet = measure(&t, FS, 0.0, &cfg()).unwrap().duration_ms(FS);
        let noisy = measure(&t, FS, 10.0, &cfg()).unwrap().duration_ms(FS);
        assert!((quiet - 3.92).abs() < 0.1, "{quiet}");
        assert!((noisy - 2.8).abs() < 0.1, "{noisy}"); // above 30 µV: 2.6 to 5.4 ms
    }

    #[test]
    fn classes_of_synthetic_shapes() {
        let c = ClassCriteria::default();
        let class = |t: &[f32]| classify(&measure(t, FS, 0.0, &cfg()).unwrap(), FS, &c);
        // Fibrillation: 2.5 ms, positive–negative, 100 µV.
        let fib = pwl(&[(1.0, 0.0), (1.5, 60.0), (2.5, -40.0), (3.5, 0.0)], 8.0);
        let (k, why) = class(&fib);
        assert_eq!(k, WaveformClass::SingleFibre, "{why}");
        assert!(why.contains("initially positive"), "{why}");
        // Positive sharp wave: 1 ms positive spike, 30 ms slow negative; also with a slow
        // positive lead-in such as a zero-phase high-pass adds.
        let psw = pwl(
            &[
                (1.0, 0.0),
                (1.5, 150.0),
                (2.0, 0.0),
                (6.0, -50.0),
                (32.0, 0.0),
            ],
            40.0,
        );
        assert_eq!(
            class(&psw).0,
            WaveformClass::PositiveSharpWave,
            "{}",
            class(&psw).1
        );
        let lead = pwl(
            &[
                (1.0, 0.0),
                (9.0, 8.0),
                (10.5, 150.0),
                (11.0, 0.0),
                (15.0, -50.0),
                (41.0, 0.0),
            ],
            50.0,
        );
        assert_eq!(
            class(&lead).0,
            WaveformClass::PositiveSharpWave,
            "{}",
            class(&lead).1
        );
        // The same spike followed by a negative phase nearly as large (0.9 of it), as a
        // motor unit potential with a positive main phase recorded at 4 kHz: no positive
        // sharp wave, whose negative phase is small.
        let large_negative = pwl(
            &[
                (1.0, 0.0),
                (1.5, 150.0),
                (2.0, 0.0),
                (3.0, -135.0),
                (14.0, 0.0),
            ],
            40.0,
        );
        let (k, why) = class(&large_negative);
        assert_ne!(k, WaveformClass::PositiveSharpWave, "{why}");
        // ... and it is the bound on the negative phase that decides.
        let lenient = ClassCriteria {
            psw_max_negative_ratio: 1.0,
            ..ClassCriteria::default()
        };
        let m = measure(&large_negative, FS, 0.0, &cfg()).unwrap();
        assert_eq!(
            classify(&m, FS, &lenient).0,
            WaveformClass::PositiveSharpWave
        );
        // A positive phase that builds over 4 ms before its peak (a motor unit potential's
        // positive phases, as the real EMGDB record's long averages show), followed by the
        // same slow negative phase: no sharp deflection, no positive sharp wave; it is the
        // rise that decides.
        let slow_rise = pwl(
            &[
                (1.0, 0.0),
                (1.5, 30.0),
                (3.5, 80.0),
                (5.5, 150.0),
                (6.0, 0.0),
                (10.0, -50.0),
                (36.0, 0.0),
            ],
            44.0,
        );
        let m = measure(&slow_rise, FS, 0.0, &cfg()).unwrap();
        let (k, why) = classify(&m, FS, &c);
        assert_ne!(k, WaveformClass::PositiveSharpWave, "{why}");
        let any_rise = ClassCriteria {
            psw_max_rise_ms: 10.0,
            ..ClassCriteria::default()
        };
        assert_eq!(
            classify(&m, FS, &any_rise).0,
            WaveformClass::PositiveSharpWave,
            "{}",
            classify(&m, FS, &any_rise).1
        );
        // Motor unit: 8 ms triphasic 900 µV.
        let mu = pwl(
            &[
                (2.0, 0.0),
                (4.0, 200.0),
                (6.0, -700.0),
                (8.0, 200.0),
                (10.0, 0.0),
            ],
            14.0,
        );
        assert_eq!(class(&mu).0, WaveformClass::MotorUnit);
        // Complex: six alternating 80 µV spikes over 10 ms.
        let pts: Vec<(f64, f64)> = (0..=12)
            .map(|i| {
                (
                    2.0 + i as f64 * 0.8,
                    if i == 0 || i == 12 {
                        0.0
                    } else if i % 2 == 0 {
                        80.0
                    } else {
                        -80.0
                    },
                )
            })
            .collect();
        let cx = pwl(&pts, 16.0);
        assert_eq!(class(&cx).0, WaveformClass::Complex, "{}", class(&cx).1);
        // The same polyphasic shape at 1 mV is a polyphasic motor unit.
        let big: Vec<f32> = cx.iter().map(|v| v * 12.0).collect();
        let (k, why) = class(&big);
        assert_eq!(k, WaveformClass::MotorUnit);
        assert!(
            why.contains("polyphasic") && !why.contains("not polyphasic"),
            "{why}"
        );
    }

    #[test]
    fn flat_or_nan_is_not_measured() {
        assert!(measure(&[0.0; 10], FS, 0.0, &cfg()).is_none());
        assert!(measure(&[1.0, f32::NAN], FS, 0.0, &cfg()).is_none());
    }
}
