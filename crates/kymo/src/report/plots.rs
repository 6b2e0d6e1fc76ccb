//! The report's plots, each a function from analysis data to one SVG string.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::svg::{decimate, esc, nice_ticks, num, Frame, Svg};
use super::{Example, GAIN_DIVISIONS, GAIN_UV_PER_DIV, SWEEP_DIVISIONS};
use crate::analyze::{ChannelAnalysis, UnitReport};
use crate::audio::{FilteredChannel, RawRead};
use crate::pattern::{DischargeClass, PotentialInput};
use crate::Result;

/// Colour of a class in every plot and table.
pub(crate) fn class_color(c: DischargeClass) -> &'static str {
    match c {
        DischargeClass::Voluntary => "#7f7f7f",
        DischargeClass::Fasciculation => "#1f77b4",
        DischargeClass::Doublet => "#17becf",
        DischargeClass::Myokymic => "#d62728",
        DischargeClass::MyokymicContinuous => "#ff7f0e",
        DischargeClass::Neuromyotonic => "#9467bd",
        DischargeClass::ComplexRepetitive => "#8c564b",
        DischargeClass::Fibrillation => "#2ca02c",
        DischargeClass::PositiveSharpWave => "#a6a61d",
        DischargeClass::Myotonic => "#e377c2",
        DischargeClass::Cramp => "#393b79",
        DischargeClass::Regular => "#637939",
        DischargeClass::EndplateSpike => "#7b4173",
        DischargeClass::Unclassified => "#b0b0b0",
    }
}

const UNIT_COLORS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#393b79",
];

/// Colour of a unit.
pub(crate) fn unit_color(id: u32) -> &'static str {
    UNIT_COLORS[id as usize % UNIT_COLORS.len()]
}

/// Potentials of `unit` (all units when `None`) between `a` and `b` s, in time order.
fn potentials_in(
    ch: &ChannelAnalysis,
    a: f64,
    b: f64,
) -> impl Iterator<Item = &PotentialInput> + '_ {
    let lo = ch.potentials.partition_point(|p| p.time_s < a);
    ch.potentials[lo..]
        .iter()
        .take_while(move |p| p.time_s <= b)
}

/// Half-width of the window around each of the discharge's potentials whose largest
/// |value| sets a sweep's gain, ms (kymo: 3, the main phases of a motor unit potential).
const GAIN_WINDOW_MS: f64 = 3.0;

/// Closest two triangles may come before the discharge's potentials are drawn as thin
/// ticks instead, px (kymo: a triangle is 8 px wide).
const MARK_MIN_GAP_PX: f64 = 6.0;

/// An example sweep: the filtered trace on a 10 × 8 division screen, the discharge
/// shaded and spanned by a bar in its class colour above the screen, its potentials
/// marked with their unit's colour above the trace (thin ticks when closer than
/// [`MARK_MIN_GAP_PX`]), other potentials as grey ticks below.
pub(crate) fn sweep(ch: &ChannelAnalysis, ex: &Example, s0: u64, samples: &[f32]) -> String {
    let d = &ch.discharges[ex.discharge];
    let rate = ch.rate_hz;
    let t0 = s0 as f64 / rate;
    let w_ms = ex.ms_per_div * SWEEP_DIVISIONS;
    // Gain: the smallest that keeps the discharge's own potentials within ±4 divisions
    // (10 % margin), as a reader sets it for the activity of interest; a larger unit
    // firing meanwhile runs off the screen (clipped).
    let half_win = (GAIN_WINDOW_MS * 1e-3 * rate).round() as i64;
    let mut peak = 0.0f64;
    for p in potentials_in(ch, t0, t0 + samples.len() as f64 / rate) {
        if !(d.units.contains(&p.unit)
            && p.time_s >= d.first_s - 1e-9
            && p.time_s <= d.last_s + 1e-9)
        {
            continue;
        }
        let c = ((p.time_s - t0) * rate).round() as i64;
        let a = (c - half_win).clamp(0, samples.len() as i64) as usize;
        let b = (c + half_win + 1).clamp(0, samples.len() as i64) as usize;
        peak = samples[a..b]
            .iter()
            .map(|v| v.abs() as f64)
            .fold(peak, f64::max);
    }
    let in_d = |i: usize| {
        let t = t0 + i as f64 / rate;
        t >= d.start_s && t <= d.end_s
    };
    if peak == 0.0 {
        peak = samples
            .iter()
            .enumerate()
            .filter(|(i, _)| in_d(*i))
            .map(|(_, v)| v.abs() as f64)
            .fold(0.0, f64::max);
    }
    if peak == 0.0 {
        peak = samples.iter().map(|v| v.abs() as f64).fold(0.0, f64::max);
    }
    let half_divs = GAIN_DIVISIONS / 2.0;
    let gain = GAIN_UV_PER_DIV
        .iter()
        .copied()
        .find(|g| g * half_divs >= peak * 1.1)
        .unwrap_or(GAIN_UV_PER_DIV[GAIN_UV_PER_DIV.len() - 1]);
    let f = Frame {
        left: 62.0,
        top: 24.0,
        width: 520.0,
        height: 240.0,
        x: (0.0, w_ms),
        y: (-half_divs * gain, half_divs * gain),
        log_x: false,
    };
    let title = format!(
        "{} example {}: {:.3}–{:.3} s, {} ms/div, {} µV/div",
        d.class.name(),
        ex.number,
        d.start_s,
        d.end_s,
        num(ex.ms_per_div),
        num(gain)
    );
    let mut s = Svg::new(600.0, 304.0, &title, "plot sweep");
    let clip_id = format!("c{}-{}", ex.channel, ex.discharge);
    s.clip_to(&f, &clip_id);
    // Discharge span.
    let (a, b) = ((d.start_s - t0) * 1e3, (d.end_s - t0) * 1e3);
    s.rect(
        f.px(a),
        f.top,
        f.px(b) - f.px(a),
        f.height,
        "span",
        Some(class_color(d.class)),
    );
    let xt: Vec<f64> = (0..=SWEEP_DIVISIONS as usize)
        .map(|k| k as f64 * ex.ms_per_div)
        .collect();
    let yt: Vec<f64> = (0..=GAIN_DIVISIONS as usize)
        .map(|k| (k as f64 - half_divs) * gain)
        .collect();
    s.axes(
        &f,
        &xt,
        &yt,
        &format!("time (ms) from {t0:.3} s"),
        "µV",
        true,
        &|v| num(v),
        &|v| num(v),
    );
    let pts: Vec<(f64, f64)> = samples
        .iter()
        .enumerate()
        .map(|(i, v)| (f.px(i as f64 / rate * 1e3), f.py(*v as f64)))
        .collect();
    s.polyline(&decimate(&pts, f.width), "trace", None, true);
    // The discharge's span: a bar in the class colour above the screen, with an arrow
    // where it runs on beyond the sweep.
    // Other discharges in the sweep: thin bars in their class colour on the same row.
    let t1 = t0 + w_ms / 1e3;
    for (k, o) in ch.discharges.iter().enumerate() {
        if k == ex.discharge || o.end_s < t0 || o.start_s > t1 {
            continue;
        }
        let (oa, ob) = (
            f.px((o.start_s - t0) * 1e3).max(f.left),
            f.px((o.end_s - t0) * 1e3).min(f.right()),
        );
        s.rect(
            oa,
            6.0,
            (ob - oa).max(1.5),
            4.0,
            "ospan",
            Some(class_color(o.class)),
        );
    }
    let (xa, xb) = (f.px(a).max(f.left), f.px(b).min(f.right()));
    if xb > xa {
        let color = class_color(d.class);
        let w = (xb - xa).max(2.0);
        s.rect(xa, 3.0, w, 10.0, "dspan", Some(color));
        let (yc, tip) = (8.0, 6.0);
        if f.px(a) < f.left {
            s.raw(&format!(
                r#"<path d="M{:.1},{yc}l{tip},-6v12z" fill="{color}" class="dspan"/>"#,
                xa - tip
            ));
        }
        if f.px(b) > f.right() {
            s.raw(&format!(
                r#"<path d="M{:.1},{yc}l-{tip},-6v12z" fill="{color}" class="dspan"/>"#,
                xb + tip
            ));
        }
        let label = if f.px(b) > f.right() {
            format!("discharge #{} (to {:.2} s)", ex.discharge + 1, d.end_s)
        } else {
            format!("discharge #{}", ex.discharge + 1)
        };
        // About 6 px per character at 11 px.
        let need = label.chars().count() as f64 * 6.0 + 8.0;
        if w >= need {
            s.text(xa + w / 2.0, 12.0, &label, "middle", "dlabel");
        } else if f.right() - xb >= need {
            s.text(xb + 4.0, 12.0, &label, "start", "tl");
        } else {
            s.text(xa - 4.0, 12.0, &label, "end", "tl");
        }
    }
    // Potentials: triangles above the trace, or thin ticks where they would merge.
    let own_x: Vec<f64> = potentials_in(ch, t0, t0 + w_ms / 1e3)
        .filter(|p| {
            d.units.contains(&p.unit) && p.time_s >= d.first_s - 1e-9 && p.time_s <= d.last_s + 1e-9
        })
        .map(|p| f.px((p.time_s - t0) * 1e3))
        .collect();
    let crowded = own_x.windows(2).any(|w| w[1] - w[0] < MARK_MIN_GAP_PX);
    let mut marks = String::new();
    for p in potentials_in(ch, t0, t0 + w_ms / 1e3) {
        let x = f.px((p.time_s - t0) * 1e3);
        let own = d.units.contains(&p.unit)
            && p.time_s >= d.first_s - 1e-9
            && p.time_s <= d.last_s + 1e-9;
        if own && crowded {
            let _ = write!(
                marks,
                r#"<path d="M{:.1},{:.1} v-6" stroke="{}" class="ptick"/>"#,
                x,
                f.top - 2.0,
                unit_color(p.unit)
            );
        } else if own {
            let _ = write!(
                marks,
                r#"<path d="M{:.1},{:.1} l-4,-7 h8 z" fill="{}" class="pmark"/>"#,
                x,
                f.top - 2.0,
                unit_color(p.unit)
            );
        } else {
            let _ = write!(
                marks,
                r#"<path d="M{:.1},{:.1} v6" class="omark"/>"#,
                x,
                f.bottom() - 6.0
            );
        }
    }
    s.raw(&marks);
    s.text(
        f.right(),
        f.bottom() + 31.0,
        &format!("{} ms/div · {} µV/div", num(ex.ms_per_div), num(gain)),
        "end",
        "scale",
    );
    s.finish()
}

/// Merges pixel intervals closer than half a pixel (bounded output per row).
fn merge_px(mut v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 + 0.5 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The class timeline: one row per class found (and artefacts), each discharge a bar.
pub(crate) fn timeline(ch: &ChannelAnalysis) -> String {
    let classes: Vec<DischargeClass> = DischargeClass::ALL
        .iter()
        .copied()
        .filter(|c| ch.discharges.iter().any(|d| d.class == *c))
        .collect();
    let rows = classes.len() + usize::from(!ch.artefacts.is_empty());
    let row_h = 20.0;
    let h = 24.0 + rows.max(1) as f64 * row_h + 44.0;
    let f = Frame {
        left: 170.0,
        top: 14.0,
        width: 760.0,
        height: rows.max(1) as f64 * row_h,
        x: (0.0, ch.duration_s.max(1e-3)),
        y: (0.0, rows.max(1) as f64),
        log_x: false,
    };
    let mut s = Svg::new(
        950.0,
        h,
        &format!("Class timeline of {}", ch.label),
        "plot timeline",
    );
    let xt = nice_ticks(0.0, ch.duration_s, 10);
    s.axes(&f, &xt, &[], "time (s)", "", true, &|v| num(v), &|v| num(v));
    for (r, c) in classes.iter().enumerate() {
        let y = f.top + r as f64 * row_h;
        s.text(f.left - 8.0, y + row_h * 0.68, c.name(), "end", "tl");
        let bars = merge_px(
            ch.discharges
                .iter()
                .filter(|d| d.class == *c)
                .map(|d| (f.px(d.start_s), f.px(d.end_s).max(f.px(d.start_s) + 1.5)))
                .collect(),
        );
        for (a, b) in bars {
            s.rect(a, y + 3.0, b - a, row_h - 6.0, "bar", Some(class_color(*c)));
        }
    }
    if !ch.artefacts.is_empty() {
        let y = f.top + classes.len() as f64 * row_h;
        s.text(f.left - 8.0, y + row_h * 0.68, "artefact", "end", "tl");
        let bars = merge_px(
            ch.artefacts
                .iter()
                .map(|a| (f.px(a.start_s), f.px(a.end_s).max(f.px(a.start_s) + 1.5)))
                .collect(),
        );
        for (a, b) in bars {
            s.rect(a, y + 3.0, b - a, row_h - 6.0, "bar art", None);
        }
    }
    if rows == 0 {
        s.text(
            f.left + f.width / 2.0,
            f.top + 14.0,
            "no discharges",
            "middle",
            "tl",
        );
    }
    s.finish()
}

/// The raster: one row per unit, a tick per potential (merged per pixel column).
pub(crate) fn raster(ch: &ChannelAnalysis) -> String {
    let units: Vec<u32> = ch.units.iter().map(UnitReport::id).collect();
    let row_h = 16.0;
    let rows = units.len().max(1) as f64;
    let f = Frame {
        left: 170.0,
        top: 10.0,
        width: 760.0,
        height: rows * row_h,
        x: (0.0, ch.duration_s.max(1e-3)),
        y: (0.0, rows),
        log_x: false,
    };
    let mut s = Svg::new(
        950.0,
        f.height + 56.0,
        &format!("Raster of unit firing on {}", ch.label),
        "plot raster",
    );
    let xt = nice_ticks(0.0, ch.duration_s, 10);
    s.axes(&f, &xt, &[], "time (s)", "", true, &|v| num(v), &|v| num(v));
    let row_of: BTreeMap<u32, usize> = units.iter().enumerate().map(|(i, u)| (*u, i)).collect();
    let mut cols: Vec<Vec<i64>> = vec![Vec::new(); units.len()];
    for p in &ch.potentials {
        if let Some(&r) = row_of.get(&p.unit) {
            cols[r].push(f.px(p.time_s).round() as i64);
        }
    }
    for (r, u) in units.iter().enumerate() {
        let y = f.top + r as f64 * row_h;
        s.text(
            f.left - 8.0,
            y + row_h * 0.72,
            &format!("unit {u}"),
            "end",
            "tl",
        );
        let c = &mut cols[r];
        c.dedup();
        let mut d = String::new();
        for x in c.iter() {
            let _ = write!(d, "M{}.5,{:.1}v{:.1}", x, y + 2.0, row_h - 4.0);
        }
        if !d.is_empty() {
            s.raw(&format!(
                r#"<path d="{d}" stroke="{}" class="ticks"/>"#,
                unit_color(*u)
            ));
        }
    }
    if units.is_empty() {
        s.text(
            f.left + f.width / 2.0,
            f.top + 12.0,
            "no units",
            "middle",
            "tl",
        );
    }
    s.finish()
}

/// Most potentials superimposed on a unit's template.
const OVERLAY_MAX: usize = 12;

/// Most an overlaid potential is shifted to line up with its template, ms (kymo: 1.5: a
/// potential's time may be taken on another phase than the template's peak; as a trigger
/// on an EMG machine aligns superimposed potentials, each is aligned on the template).
const OVERLAY_ALIGN_MS: f64 = 1.5;

/// Up to [`OVERLAY_MAX`] potentials per unit, evenly spread over its firing, read from
/// the filtered signal around each potential's time (the template's window), each shifted
/// by up to [`OVERLAY_ALIGN_MS`] to match the template best. Nearby potentials share one
/// read.
pub(crate) fn overlay_waveforms(
    ch: &ChannelAnalysis,
    fc: &FilteredChannel,
    read: &mut RawRead<'_>,
) -> Result<BTreeMap<u32, Vec<Vec<f32>>>> {
    let m = (OVERLAY_ALIGN_MS * 1e-3 * ch.rate_hz).round() as i64;
    // (sample of the window start, unit, length) per chosen potential; windows include
    // the alignment margin on both sides.
    let mut wanted: Vec<(u64, u32, usize)> = Vec::new();
    for u in &ch.units {
        let len = u.measured.template.len();
        if len == 0 {
            continue;
        }
        let peak = peak_index(&u.measured.template);
        let times: Vec<f64> = ch
            .potentials
            .iter()
            .filter(|p| p.unit == u.id())
            .map(|p| p.time_s)
            .collect();
        let k = times.len().min(OVERLAY_MAX);
        for j in 0..k {
            let t = times[j * times.len() / k];
            let s = (t * ch.rate_hz).round() as i64 - peak as i64 - m;
            let n = len + 2 * m as usize;
            if s >= 0 && (s as u64 + n as u64) <= ch.n_samples {
                wanted.push((s as u64, u.id(), n));
            }
        }
    }
    wanted.sort();
    let templates: BTreeMap<u32, &[f32]> = ch
        .units
        .iter()
        .map(|u| (u.id(), u.measured.template.as_slice()))
        .collect();
    let mut out: BTreeMap<u32, Vec<Vec<f32>>> = BTreeMap::new();
    // Group windows within one second of each other into one read.
    let gap = ch.rate_hz as u64;
    let mut i = 0;
    while i < wanted.len() {
        let start = wanted[i].0;
        let mut end = start + wanted[i].2 as u64;
        let mut j = i + 1;
        while j < wanted.len() && wanted[j].0 <= end + gap {
            end = end.max(wanted[j].0 + wanted[j].2 as u64);
            j += 1;
        }
        let x = fc.excerpt(read, start..end)?;
        for &(s, u, n) in &wanted[i..j] {
            let a = (s - start) as usize;
            let Some(t) = templates.get(&u) else { continue };
            if let Some(w) = x.get(a..a + n) {
                out.entry(u).or_default().push(align(w, t).to_vec());
            }
        }
        i = j;
    }
    Ok(out)
}

/// The template-long part of `w` (template plus a margin on both sides) that matches `t`
/// best (largest dot product).
fn align<'a>(w: &'a [f32], t: &[f32]) -> &'a [f32] {
    let len = t.len();
    if w.len() < len {
        return w;
    }
    let best = (0..=w.len() - len)
        .map(|k| {
            let dot: f64 = w[k..k + len]
                .iter()
                .zip(t)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum();
            (k, dot)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |(k, _)| k);
    &w[best..best + len]
}

fn peak_index(t: &[f32]) -> usize {
    t.iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .map_or(0, |(i, _)| i)
}

/// One unit's template with its potentials superimposed, the duration marked.
pub(crate) fn template(
    ch: &ChannelAnalysis,
    u: &UnitReport,
    overlays: Option<&[Vec<f32>]>,
) -> String {
    let m = &u.measured;
    let t = &m.template;
    let peak = peak_index(t);
    let ms = |i: usize| (i as f64 - peak as f64) / ch.rate_hz * 1e3;
    let span = t
        .iter()
        .map(|v| v.abs() as f64)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.5;
    let (x0, x1) = (ms(0), ms(t.len().saturating_sub(1)));
    let f = Frame {
        left: 56.0,
        top: 10.0,
        width: 200.0,
        height: 130.0,
        x: (x0, x1.max(x0 + 1e-3)),
        y: (-span, span),
        log_x: false,
    };
    let title = format!(
        "Unit {}: {} µV, {} ms, {} phases",
        m.id,
        num(m.p2p_uv.round()),
        num((m.duration_ms * 10.0).round() / 10.0),
        m.phases
    );
    let mut s = Svg::new(270.0, 182.0, &title, "plot template");
    s.clip_to(&f, &format!("t{}-{}", ch.channel, m.id));
    let xt = nice_ticks(x0, x1, 4);
    let yt = nice_ticks(-span, span, 4);
    s.axes(
        &f,
        &xt,
        &yt,
        "time from peak (ms)",
        "µV",
        true,
        &|v| num(v),
        &|v| num(v),
    );
    // Duration.
    for v in [m.onset_ms, m.end_ms] {
        let x = f.px(v);
        s.line(x, f.top, x, f.bottom(), "dur");
    }
    let color = unit_color(m.id);
    for w in overlays.unwrap_or(&[]) {
        let pts: Vec<(f64, f64)> = w
            .iter()
            .enumerate()
            .map(|(i, v)| (f.px(ms(i)), f.py(*v as f64)))
            .collect();
        s.polyline(&pts, "overlay", Some(color), true);
    }
    let pts: Vec<(f64, f64)> = t
        .iter()
        .enumerate()
        .map(|(i, v)| (f.px(ms(i)), f.py(*v as f64)))
        .collect();
    s.polyline(&pts, "tmpl", Some(color), true);
    s.finish()
}

/// Inter-spike-interval histogram of one unit, log-spaced bins from 1 ms to 10 s.
pub(crate) fn isi(ch: &ChannelAnalysis, unit: u32) -> String {
    /// Bins per decade.
    const PER_DECADE: f64 = 10.0;
    const LO_MS: f64 = 1.0;
    const HI_MS: f64 = 10_000.0;
    let n_bins = (PER_DECADE * (HI_MS / LO_MS).log10()).round() as usize;
    let mut counts = vec![0u64; n_bins];
    let mut prev: Option<f64> = None;
    let mut outside = 0u64;
    for p in ch.potentials.iter().filter(|p| p.unit == unit) {
        if let Some(q) = prev {
            let ms = (p.time_s - q) * 1e3;
            let k = ((ms / LO_MS).log10() * PER_DECADE).floor();
            if k >= 0.0 && (k as usize) < n_bins {
                counts[k as usize] += 1;
            } else {
                outside += 1;
            }
        }
        prev = Some(p.time_s);
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let f = Frame {
        left: 56.0,
        top: 10.0,
        width: 196.0,
        height: 130.0,
        x: (LO_MS, HI_MS),
        y: (0.0, top * 1.05),
        log_x: true,
    };
    let total: u64 = counts.iter().sum();
    let mut s = Svg::new(
        280.0,
        182.0,
        &format!("Interval histogram of unit {unit}: {total} intervals"),
        "plot isi",
    );
    let yt = nice_ticks(0.0, top, 4);
    s.axes(
        &f,
        &[1.0, 10.0, 100.0, 1000.0, 10000.0],
        &yt,
        "interval (ms)",
        "count",
        true,
        &|v| num(v),
        &|v| num(v),
    );
    let color = unit_color(unit);
    for (k, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let a = LO_MS * 10f64.powf(k as f64 / PER_DECADE);
        let b = LO_MS * 10f64.powf((k + 1) as f64 / PER_DECADE);
        let (xa, xb) = (f.px(a), f.px(b));
        let y = f.py(c as f64);
        s.rect(
            xa + 0.5,
            y,
            xb - xa - 1.0,
            f.bottom() - y,
            "hbar",
            Some(color),
        );
    }
    if outside > 0 {
        s.text(
            f.right() - 2.0,
            f.top + 12.0,
            &format!("{outside} outside 1 ms–10 s"),
            "end",
            "tl",
        );
    }
    if total + outside == 0 {
        s.text(
            f.left + f.width / 2.0,
            f.top + f.height / 2.0,
            "fewer than two potentials: no interval",
            "middle",
            "tl",
        );
    }
    s.finish()
}

/// Most discharges overlaid in an envelope plot.
const ENVELOPE_MAX: usize = 12;
/// Quantile of an envelope's values that sets its y scale, and how far above it the
/// scale reaches (kymo: 0.98 and 1.5: waning from the start and waxing by half stay on
/// the plot; the rare far-off rate of a missed or doubled potential goes off scale).
const ENVELOPE_BULK: f64 = 0.98;
const ENVELOPE_HEADROOM: f64 = 1.5;

/// For myokymic and neuromyotonic discharges: the instantaneous rate and the amplitude
/// of each potential against time from the discharge's first potential, the most
/// confident discharges overlaid. Returns (class, rate plot, amplitude plot).
pub(crate) fn envelopes(ch: &ChannelAnalysis) -> Vec<(DischargeClass, String, String)> {
    let mut out = Vec::new();
    for class in [
        DischargeClass::Myokymic,
        DischargeClass::MyokymicContinuous,
        DischargeClass::Neuromyotonic,
    ] {
        let mut ds: Vec<usize> = (0..ch.discharges.len())
            .filter(|&i| ch.discharges[i].class == class && ch.discharges[i].n_potentials >= 3)
            .collect();
        if ds.is_empty() {
            continue;
        }
        ds.sort_by(|&a, &b| {
            ch.discharges[b]
                .confidence
                .total_cmp(&ch.discharges[a].confidence)
        });
        ds.truncate(ENVELOPE_MAX);
        ds.sort_unstable();
        // Series per discharge: (t, rate) and (t, amplitude).
        let mut rate: Vec<(u32, Vec<(f64, f64)>)> = Vec::new();
        let mut amp: Vec<(u32, Vec<(f64, f64)>)> = Vec::new();
        let mut t_max = 0.0f64;
        for &i in &ds {
            let d = &ch.discharges[i];
            let ps: Vec<&PotentialInput> = potentials_in(ch, d.first_s - 1e-9, d.last_s + 1e-9)
                .filter(|p| d.units.contains(&p.unit))
                .collect();
            if ps.len() < 2 {
                continue;
            }
            let t0 = ps[0].time_s;
            t_max = t_max.max(ps[ps.len() - 1].time_s - t0);
            let unit = d.units.first().copied().unwrap_or(0);
            amp.push((
                unit,
                ps.iter()
                    .map(|p| (p.time_s - t0, p.amplitude_uv as f64))
                    .collect(),
            ));
            rate.push((
                unit,
                ps.windows(2)
                    .filter(|w| w[1].time_s > w[0].time_s)
                    .map(|w| {
                        (
                            (w[0].time_s + w[1].time_s) / 2.0 - t0,
                            1.0 / (w[1].time_s - w[0].time_s),
                        )
                    })
                    .collect(),
            ));
        }
        if rate.is_empty() {
            continue;
        }
        let in_s = t_max > 2.0;
        let (scale, unit_label) = if in_s { (1.0, "s") } else { (1e3, "ms") };
        let xlabel = format!("time from first potential ({unit_label})");
        let r = series_plot(
            &format!("{} rate envelope on {}", class.name(), ch.label),
            &rate,
            scale,
            t_max,
            &xlabel,
            "rate (Hz)",
        );
        let a = series_plot(
            &format!("{} amplitude envelope on {}", class.name(), ch.label),
            &amp,
            scale,
            t_max,
            &xlabel,
            "amplitude (µV)",
        );
        out.push((class, r, a));
    }
    out
}

fn series_plot(
    title: &str,
    series: &[(u32, Vec<(f64, f64)>)],
    x_scale: f64,
    t_max: f64,
    xlabel: &str,
    ylabel: &str,
) -> String {
    // The y scale follows the bulk of the values: a few outliers (a potential missed or
    // found twice makes one interval, so one rate, far off) would flatten everything else.
    let mut ys: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    ys.sort_by(f64::total_cmp);
    let all_max = ys.last().copied().unwrap_or(0.0);
    let bulk = ys
        .get(((ys.len() as f64 * ENVELOPE_BULK) as usize).min(ys.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    let y_max = all_max.min(ENVELOPE_HEADROOM * bulk).max(1e-6);
    let off_scale = ys.iter().filter(|&&v| v > y_max * 1.1).count();
    let x1 = (t_max * x_scale).max(1e-3);
    let f = Frame {
        left: 64.0,
        top: 10.0,
        width: 370.0,
        height: 170.0,
        x: (0.0, x1),
        y: (0.0, y_max * 1.1),
        log_x: false,
    };
    let mut s = Svg::new(450.0, 224.0, title, "plot envelope");
    s.clip_to(&f, &format!("e{:x}", fxhash(title)));
    let xt = nice_ticks(0.0, x1, 6);
    let yt = nice_ticks(0.0, y_max * 1.1, 5);
    s.axes(&f, &xt, &yt, xlabel, ylabel, true, &|v| num(v), &|v| num(v));
    for (unit, v) in series {
        let pts: Vec<(f64, f64)> = v
            .iter()
            .map(|(t, y)| (f.px(t * x_scale), f.py(*y)))
            .collect();
        s.polyline(&pts, "env", Some(unit_color(*unit)), true);
        let mut dots = String::new();
        for (x, y) in &pts {
            // Off-scale points sit on the top edge.
            let y = y.max(f.top);
            let _ = write!(dots, r#"<circle cx="{x:.1}" cy="{y:.1}" r="1.8"/>"#);
        }
        s.raw(&format!(
            r#"<g fill="{}" class="dots">{dots}</g>"#,
            esc(unit_color(*unit))
        ));
    }
    if off_scale > 0 {
        s.text(
            f.right() - 2.0,
            f.top + 12.0,
            &format!("{off_scale} off scale (up to {})", num(all_max.round())),
            "end",
            "tl",
        );
    }
    s.finish()
}

/// A short stable hash of a string, for SVG ids.
fn fxhash(s: &str) -> u32 {
    s.bytes().fold(2_166_136_261u32, |h, b| {
        (h ^ b as u32).wrapping_mul(16_777_619)
    })
}
