//! One sentence per discharge that a clinician can check against the trace, e.g.
//! "burst of 5 potentials of unit 3 at 38 Hz; unit 3 fires bursts of 4–7 potentials
//! recurring at 2.1 Hz (CV 0.18)".

use super::features::{Features, TrendFit};
use super::trains::Train;
use super::{DischargeClass, UnitContext, WaveformClass};

/// A rate or frequency with sensible digits.
fn hz(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0} Hz")
    } else if x >= 1.0 {
        format!("{x:.1} Hz")
    } else {
        format!("{x:.2} Hz")
    }
}

fn secs(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0} s")
    } else if x >= 1.0 {
        format!("{x:.1} s")
    } else {
        format!("{:.0} ms", x * 1e3)
    }
}

fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p.abs() >= 1.0 {
        format!("{p:.0} %")
    } else {
        format!("{p:.2} %")
    }
}

fn opt<T>(x: Option<T>, f: impl Fn(T) -> String) -> String {
    x.map_or_else(|| "?".to_string(), f)
}

fn trend(t: Option<TrendFit>) -> String {
    match t {
        Some(t) => format!("{} ({:+.0} %)", t.shape.name(), t.change * 100.0),
        None => "not measurable".to_string(),
    }
}

fn recurrence(ctx: &UnitContext) -> String {
    match (ctx.recurrence_hz, ctx.recurrence_cv) {
        (Some(r), Some(cv)) => format!("recurring at {} (CV {cv:.2})", hz(r)),
        (Some(r), None) => format!("recurring at {}", hz(r)),
        _ => "too few to measure a recurrence".to_string(),
    }
}

fn waveform(tr: &Train) -> String {
    let u = &tr.unit;
    match u.waveform {
        WaveformClass::MotorUnit => format!(
            "motor unit potential {:.0} µV, {:.1} ms, {} phases",
            u.p2p_uv, u.duration_ms, u.phases
        ),
        WaveformClass::SingleFibre => format!(
            "single-fibre spike {:.0} µV, {:.1} ms, initially {}",
            u.p2p_uv,
            u.duration_ms,
            if u.first_phase_positive {
                "positive"
            } else {
                "negative"
            }
        ),
        WaveformClass::PositiveSharpWave => format!(
            "positive sharp wave {:.0} µV, {:.0} ms",
            u.p2p_uv, u.duration_ms
        ),
        WaveformClass::Complex => format!(
            "complex {:.0} µV, {:.1} ms, {} phases",
            u.p2p_uv, u.duration_ms, u.phases
        ),
    }
}

/// The evidence sentence of a single-unit discharge.
pub(crate) fn single_unit(
    c: DischargeClass,
    f: &Features,
    tr: &Train,
    ctx: &UnitContext,
) -> String {
    use DischargeClass as C;
    let u = tr.unit.id;
    let n = f.n_potentials;
    let d = f.duration_s;
    match c {
        C::Myokymic => {
            let sizes = match ctx.burst_sizes {
                Some([a, b]) if a == b => format!("{a}"),
                Some([a, b]) => format!("{a}–{b}"),
                None => "?".to_string(),
            };
            let head = if n == 1 {
                format!("single potential of unit {u} in the rhythm of its bursts")
            } else {
                format!(
                    "burst of {n} potentials of unit {u} at {} lasting {}",
                    opt(f.rate_hz, hz),
                    secs(d)
                )
            };
            format!(
                "{head}; unit {u} fires bursts of {sizes} potentials at {}, {}; rate {}, amplitude {}; {}",
                opt(ctx.burst_rate_hz, hz),
                recurrence(ctx),
                trend(f.rate_trend),
                trend(f.amplitude_trend),
                waveform(tr)
            )
        }
        C::MyokymicContinuous => format!(
            "unit {u} fired continuously for {} at {} ({}–{}), waxing and waning {} times ({}; rate depth ±{}, amplitude ±{}); interval jitter {}; {}",
            secs(d),
            opt(f.rate_hz, hz),
            opt(f.rate_p10_hz, hz),
            opt(f.rate_p90_hz, hz),
            opt(f.modulation_cycles, |x| format!("{x:.0}")),
            opt(f.modulation_hz, hz),
            opt(f.rate_modulation, pct),
            opt(f.amplitude_modulation, pct),
            opt(f.jitter, pct),
            waveform(tr)
        ),
        C::Fasciculation => format!(
            "single potential of unit {u}; the unit fires {} potentials at {} overall, irregularly (interval CV {}); {}",
            tr.len(),
            opt(ctx.rate_hz, hz),
            opt(ctx.isi_cv, |x| format!("{x:.2}")),
            waveform(tr)
        ),
        C::Doublet => format!(
            "{} of unit {u}, {}–{} ms apart; the unit's groups recur at {}; {}",
            if n == 2 {
                "doublet".to_string()
            } else {
                format!("multiplet of {n} potentials")
            },
            opt(f.interval_min_ms, |x| format!("{x:.1}")),
            opt(f.interval_max_ms, |x| format!("{x:.1}")),
            match (ctx.recurrence_hz, ctx.recurrence_cv) {
                (Some(r), Some(cv)) => format!("{} (CV {cv:.2})", hz(r)),
                (Some(r), None) => hz(r),
                _ => "an unmeasurable rate".to_string(),
            },
            waveform(tr)
        ),
        C::Neuromyotonic => format!(
            "unit {u} fired {n} potentials at {} for {}; amplitude {}; onset at {}× and offset at {}× the median rate; {}",
            opt(f.rate_hz, hz),
            secs(d),
            trend(f.amplitude_trend),
            opt(f.onset_ratio, |x| format!("{x:.2}")),
            opt(f.offset_ratio, |x| format!("{x:.2}")),
            waveform(tr)
        ),
        C::ComplexRepetitive => format!(
            "unit {u} repeated {n} times at {} ({}–{}) for {} with interval jitter {}; onset at {}× and offset at {}× the median rate; {}",
            opt(f.rate_hz, hz),
            opt(f.rate_p10_hz, hz),
            opt(f.rate_p90_hz, hz),
            secs(d),
            opt(f.jitter, pct),
            opt(f.onset_ratio, |x| format!("{x:.2}")),
            opt(f.offset_ratio, |x| format!("{x:.2}")),
            waveform(tr)
        ),
        C::Fibrillation | C::PositiveSharpWave => format!(
            "unit {u} fired {n} potentials regularly at {} (interval jitter {}, rate {}) for {}; {}",
            opt(f.rate_hz, hz),
            opt(f.jitter, pct),
            trend(f.rate_trend),
            secs(d),
            waveform(tr)
        ),
        C::EndplateSpike => format!(
            "unit {u} fired {n} potentials irregularly at {} (interval CV {}) for {}; {}",
            opt(f.rate_hz, hz),
            opt(f.isi_cv, |x| format!("{x:.2}")),
            secs(d),
            waveform(tr)
        ),
        C::Myotonic => format!(
            "unit {u} fired {n} potentials at {}–{} (mean {}) for {}; rate {}, amplitude {}; {}",
            opt(f.rate_p10_hz, hz),
            opt(f.rate_p90_hz, hz),
            opt(f.rate_hz, hz),
            secs(d),
            trend(f.rate_trend),
            trend(f.amplitude_trend),
            waveform(tr)
        ),
        C::Regular => format!(
            "unit {u} fired {n} potentials steadily at {} for {} (robust interval CV {}, modulation depth {}); {}",
            opt(f.rate_hz, hz),
            secs(d),
            opt(f.isi_cv_robust, |x| format!("{x:.3}")),
            opt(f.rate_modulation, pct),
            waveform(tr)
        ),
        C::Voluntary | C::Cramp | C::Unclassified => format!(
            "{n} potentials of unit {u} at {} over {} (interval CV {}) fit no class well; {}",
            opt(f.rate_hz, hz),
            secs(d),
            opt(f.isi_cv, |x| format!("{x:.2}")),
            waveform(tr)
        ),
    }
}

/// Which of an episode's units its jitter is, in words (`jitter.episode_unit_quantile`).
pub(crate) fn units_quantile(q: f64) -> String {
    match q {
        0.0 => "the most regular unit's".to_string(),
        0.5 => "the median unit's".to_string(),
        1.0 => "the least regular unit's".to_string(),
        _ => format!("the {:.0}th-percentile unit's", q * 100.0),
    }
}

/// The evidence sentence of a multi-unit episode.
pub(crate) fn episode(c: DischargeClass, f: &Features, units: usize, jitter_q: f64) -> String {
    let which = units_quantile(jitter_q);
    let range = match f.unit_rate_range_hz {
        Some([a, b]) => format!("{}–{}", hz(a), hz(b)),
        None => "?".to_string(),
    };
    match c {
        DischargeClass::Cramp => format!(
            "{units} motor units fired together for {}, irregularly ({which} local interval CV {}) at {range} each (median {}); {} of intervals were doublets",
            secs(f.duration_s),
            opt(f.jitter, |x| format!("{x:.2}")),
            opt(f.rate_hz, hz),
            opt(f.doublet_fraction, pct)
        ),
        _ => format!(
            "{units} motor units fired together for {} at {range} each (median {}, {which} local interval CV {}); units joined a median {} after the first, {}",
            secs(f.duration_s),
            opt(f.rate_hz, hz),
            opt(f.jitter, |x| format!("{x:.2}")),
            opt(f.onset_spread_s, secs),
            match f.first_rate_hz {
                Some(r) => format!("starting at a median {}", hz(r)),
                None => "their recruitment rate unseen (firing from the recording's start)"
                    .to_string(),
            }
        ),
    }
}
