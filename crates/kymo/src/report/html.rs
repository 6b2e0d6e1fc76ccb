//! The page: skeleton, style sheet (screen and A4 print) and the sections around the plots.

use std::fmt::Write as _;

use super::plots::{class_color, unit_color};
use super::svg::{esc, num};
use super::{ChannelPlots, ReportInput, OPEN_ROWS_MAX};
use crate::analyze::ChannelAnalysis;
use crate::clinical::{class_plural, ClinicalContext};
use crate::pattern::summary::MyokymicPattern;
use crate::pattern::{Discharge, DischargeClass, TrendFit};
use crate::sort;

/// No script, no network: styles inline, images inline, media only from files beside
/// the report.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; media-src 'self' file:";

const STYLE: &str = r#"
:root { --ink:#1b1f24; --muted:#5b6470; --line:#d5dae0; --bg:#ffffff; --panel:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: var(--bg); margin: 0 auto; max-width: 1000px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-top: 8px; border-top: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 14px; margin: 12px 0 4px; }
p.sub, .muted { color: var(--muted); }
nav.toc { background: var(--panel); border: 1px solid var(--line); padding: 8px 12px; margin: 12px 0; }
nav.toc ol { margin: 4px 0; padding-left: 20px; columns: 2; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.discharges td { font-size: 12px; }
.chip { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: baseline; }
.notdx { border: 2px solid #b35c00; background: #fff6e8; padding: 8px 12px; margin: 10px 0; }
.notdx strong { color: #8a4500; }
.statement { border-left: 4px solid #3b6ea5; background: var(--panel); padding: 6px 12px; margin: 10px 0; }
.statement .finding { font-size: 13px; }
.statement ol.src { font-size: 12px; color: var(--muted); margin: 4px 0; }
blockquote.history { margin: 4px 0 8px; padding: 4px 10px; border-left: 3px solid var(--line); white-space: pre-wrap; }
figure { margin: 8px 0 14px; }
figcaption { font-size: 12.5px; color: var(--muted); max-width: 900px; }
.cards { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: flex-start; }
.cards figure { margin: 4px 0; }
figure.sweep { width: 455px; }
figure.template, figure.isi { width: 290px; }
figure.envelope { width: 450px; }
table.discharges { width: 100%; }
table.discharges td.ev { width: 48%; }
svg.plot { display: block; max-width: 100%; height: auto; background: #fff; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #222; }
svg text.al { font-size: 12px; fill: #333; }
svg text.scale { font-size: 12px; font-weight: 600; fill: #333; }
svg .frame { fill: none; stroke: #333; stroke-width: 1; }
svg .grid { stroke: #e3e6ea; stroke-width: 1; }
svg.sweep .grid { stroke: #c9d4df; stroke-dasharray: 2 2; }
svg .tick { stroke: #333; stroke-width: 1; }
svg .trace { fill: none; stroke: #101418; stroke-width: 1; stroke-linejoin: round; }
svg .span { opacity: 0.13; }
svg .pmark { stroke: none; }
svg .ptick { stroke-width: 1; }
svg .dspan { stroke: none; }
svg .ospan { stroke: none; opacity: 0.55; }
svg text.dlabel { font-size: 10.5px; font-weight: 600; fill: #fff; }
svg .omark { stroke: #888; stroke-width: 1.2; }
svg .bar { stroke: none; }
svg .bar.art { fill: #444; opacity: 0.35; }
svg .ticks { stroke-width: 1; fill: none; }
svg .overlay { fill: none; stroke-width: 0.8; opacity: 0.35; }
svg .tmpl { fill: none; stroke-width: 2.2; }
svg .dur { stroke: #666; stroke-width: 1; stroke-dasharray: 3 3; }
svg .hbar { stroke: none; opacity: 0.85; }
svg .env { fill: none; stroke-width: 1.2; opacity: 0.8; }
audio { display: block; width: 320px; height: 32px; margin: 4px 0; }
pre { background: var(--panel); border: 1px solid var(--line); padding: 8px; overflow-x: auto; font-size: 12px; }
details > summary { cursor: pointer; color: #3b6ea5; }
details.dtable, details.sweeps-more { margin: 6px 0; }
details.dtable > summary, details.sweeps-more > summary { color: var(--ink); font-weight: 600; padding: 3px 0; }
details.dtable > summary:hover, details.sweeps-more > summary:hover { color: #3b6ea5; }
.printonly { display: none; }
figcaption .scale { color: #333; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav.toc, audio, .noprint { display: none; }
  h2 { break-before: page; border-top: none; }
  h2.first { break-before: avoid; }
  figure, .statement, tr, .notdx { break-inside: avoid; }
  svg.plot { max-width: 100%; }
  a { color: inherit; text-decoration: none; }
  .printonly { display: inline; font-weight: normal; color: var(--muted); }
  details[open] .printonly { display: none; }
  details > summary { color: var(--ink); }
}
"#;

/// Shown in print only, inside a collapsed section's summary: what is not printed.
const PRINT_NOTE: &str = r#"<span class="printonly"> (collapsed on screen, so not printed: open it before printing to include it)</span>"#;

fn chip(c: DischargeClass) -> String {
    format!(
        r#"<span class="chip" style="background:{}"></span>{}"#,
        class_color(c),
        esc(c.name())
    )
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite())
        .map_or_else(|| "–".into(), |x| format!("{x:.digits$}"))
}

fn trend(t: Option<TrendFit>) -> String {
    t.map_or_else(
        || "–".into(),
        |t| format!("{} ({:+.0} %)", t.shape.name(), t.change * 100.0),
    )
}

fn waveform_name(c: sort::WaveformClass) -> &'static str {
    match c {
        sort::WaveformClass::MotorUnit => "motor unit potential",
        sort::WaveformClass::SingleFibre => "single-fibre spike",
        sort::WaveformClass::PositiveSharpWave => "positive sharp wave",
        sort::WaveformClass::Complex => "complex (time-locked polyphasic)",
    }
}

/// The whole page.
pub(crate) fn page(input: &ReportInput<'_>, plots: &[ChannelPlots]) -> String {
    let a = input.analysis;
    let file_name = std::path::Path::new(&a.file)
        .file_name()
        .map_or_else(|| a.file.clone(), |n| n.to_string_lossy().into_owned());
    let mut h = String::with_capacity(1 << 20);
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kymo {ver}">
<title>kymo report: {title}</title>
<style>{STYLE}</style></head>
<body>
<header><h1>kymo report: {title}</h1>
<p class="sub">Spontaneous EMG activity found, measured and classified by kymo {ver}. Decision support, not a diagnosis.</p></header>
"#,
        ver = esc(a.kymo_version),
        title = esc(&file_name),
    );
    // Contents.
    h.push_str(r#"<nav class="toc"><strong>Contents</strong><ol>"#);
    h.push_str(r##"<li><a href="#summary">Recording and settings</a></li><li><a href="#clinical">Clinical context</a></li>"##);
    for (pos, ch) in a.channels.iter().enumerate() {
        let _ = write!(
            h,
            r##"<li><a href="#ch{pos}">Channel {}: {}</a></li>"##,
            ch.channel + 1,
            esc(&ch.label)
        );
    }
    if input.audio.is_some() {
        h.push_str(r##"<li><a href="#listen">Listen</a></li>"##);
    }
    for (i, ap) in input.appendix.iter().enumerate() {
        let _ = write!(
            h,
            r##"<li><a href="#appendix{i}">{}</a></li>"##,
            esc(&ap.title)
        );
    }
    h.push_str("</ol></nav>\n");

    summary_section(&mut h, input);
    clinical_section(&mut h, input.clinical);
    for (pos, (ch, p)) in a.channels.iter().zip(plots).enumerate() {
        channel_section(&mut h, input, pos, ch, p);
    }
    if let Some(links) = input.audio {
        h.push_str(r#"<section id="listen" data-section="listen"><h2>Listen</h2>"#);
        h.push_str("<p>Each channel as kymo filtered it, resampled to 44.1 kHz. Loudness is set per file from the signal's loud end over the time not flagged as artefact (the 95th percentile of one-second peaks, at −3 dBFS), so one electrode pop does not make the rest quiet; louder moments pass a soft limiter and nothing clips. Each clip beside an example sweep of a classified discharge is set by that discharge's own potentials, as a reader sets the gain for the activity of interest (larger potentials meanwhile pass the limiter), so compare amplitudes on the sweeps, not by ear. Myokymic discharges sound like marching soldiers, neuromyotonic discharges ping, fibrillation potentials sound like rain on a tin roof.</p>");
        for (pos, ch) in a.channels.iter().enumerate() {
            if let Some(rel) = links.channels.get(&pos) {
                let _ = write!(
                    h,
                    r#"<h4>Channel {}: {}</h4><audio controls preload="none" src="{src}"></audio><p class="muted"><a href="{src}">{src}</a></p>"#,
                    ch.channel + 1,
                    esc(&ch.label),
                    src = esc(rel)
                );
            }
        }
        h.push_str("</section>\n");
    }
    for (i, ap) in input.appendix.iter().enumerate() {
        let _ = write!(
            h,
            r#"<section id="appendix{i}" data-section="appendix"><h2>{}</h2><pre>{}</pre></section>"#,
            esc(&ap.title),
            esc(&ap.text)
        );
    }
    let _ = write!(
        h,
        "<footer>Generated by kymo {}. kymo describes discharges and the numbers behind each call; it does not diagnose. Statements in the clinical section are decision support for the physician, who weighs the history, examination and the whole study.</footer>\n</body></html>\n",
        esc(a.kymo_version)
    );
    h
}

fn summary_section(h: &mut String, input: &ReportInput<'_>) {
    let a = input.analysis;
    let _ = write!(
        h,
        r#"<section id="summary" data-section="summary"><h2 class="first">Recording and settings</h2>
<table><tr><th>file</th><td>{}</td></tr><tr><th>format</th><td>{}</td></tr><tr><th>channels analysed</th><td class="n">{}</td></tr><tr><th>analysis</th><td>kymo {} (analysis schema {} v{})</td></tr></table>"#,
        esc(&a.file),
        esc(&a.format),
        a.channels.len(),
        esc(a.kymo_version),
        esc(a.schema),
        a.version
    );
    h.push_str("<table><tr><th>channel</th><th>label</th><th>rate (Hz)</th><th>samples</th><th>duration (s)</th><th>kind</th><th>band-pass (Hz)</th><th>mains removed (Hz, how)</th><th>noise σ (µV)</th><th>threshold (µV)</th><th>units</th><th>potentials detected</th></tr>");
    for ch in &a.channels {
        let st = &ch.settings;
        let _ = write!(
            h,
            r#"<tr><td class="n">{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{:.2}</td><td>{}</td><td class="n">{}–{}</td><td class="n">{}</td><td class="n">{:.1}</td><td class="n">{:.1}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            ch.channel + 1,
            esc(&ch.label),
            num(ch.rate_hz),
            ch.n_samples,
            ch.duration_s,
            match st.kind {
                crate::dsp::Kind::Needle => "needle",
                crate::dsp::Kind::Surface => "surface",
            },
            num(st.band_hz.0),
            num(st.band_hz.1),
            match (st.mains_hz, st.hum_removal) {
                (Some(f), Some(how)) => format!("{} ({how})", num(f)),
                (Some(f), None) => num(f),
                (None, _) => "none".into(),
            },
            st.noise_sigma_uv,
            st.threshold_uv,
            ch.units.len(),
            ch.n_detected
        );
    }
    h.push_str("</table>");
    let config = toml::to_string(&a.config)
        .or_else(|_| serde_json::to_string_pretty(&a.config).map_err(|e| e.to_string()))
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<details><summary>Every analysis setting used (TOML, as <code>--config</code> reads it)</summary><pre>{}</pre></details></section>",
        esc(if config.trim().is_empty() {
            "(all defaults)"
        } else {
            &config
        })
    );
}

fn clinical_section(h: &mut String, c: Option<&ClinicalContext>) {
    h.push_str(r#"<section id="clinical" data-section="clinical"><h2>Clinical context</h2>"#);
    let Some(c) = c else {
        h.push_str(r#"<div class="notdx"><strong>Not a diagnosis.</strong> No clinical context was requested.</div></section>"#);
        return;
    };
    let _ = write!(
        h,
        r#"<div class="notdx" role="note"><strong>Not a diagnosis.</strong> {}</div>"#,
        esc(&c.disclaimer)
    );
    h.push_str("<table>");
    match &c.muscle {
        Some(m) => {
            let known = match &m.known {
                Some(k) => format!(
                    "{} — {} muscle, {}",
                    esc(&k.name),
                    esc(k.region.name()),
                    esc(&k.nerve)
                ),
                None => "not in kymo's muscle table".into(),
            };
            let _ = write!(
                h,
                "<tr><th>muscle</th><td>{} ({known})</td></tr>",
                esc(&m.given)
            );
        }
        None => {
            h.push_str("<tr><th>muscle</th><td>not given (<code>--muscle NAME</code>)</td></tr>")
        }
    }
    let _ = write!(
        h,
        "<tr><th>side</th><td>{}</td></tr><tr><th>discharges counted</th><td>confidence ≥ {:.2}</td></tr></table>",
        c.side.map_or("not given", |s| s.name()),
        c.min_confidence
    );
    if let Some(hist) = &c.history {
        let _ = write!(
            h,
            r#"<h4>History as given</h4><blockquote class="history">{}</blockquote>"#,
            esc(hist)
        );
    }
    for n in &c.notes {
        let _ = write!(h, r#"<p class="muted">Note: {}</p>"#, esc(n));
    }
    if c.statements.is_empty() {
        h.push_str("<p>No rule applies to what was found.</p>");
    }
    for s in &c.statements {
        let _ = write!(
            h,
            r#"<div class="statement" data-rule="{}"><h3>{}</h3><p>{}</p><p class="finding"><strong>Finding:</strong> {}</p><p><strong>Consider:</strong></p><ul>"#,
            esc(&s.rule),
            esc(&s.title),
            esc(&s.text),
            esc(&s.finding)
        );
        for x in &s.consider {
            let _ = write!(h, "<li>{}</li>", esc(x));
        }
        h.push_str(r#"</ul><ol class="src">"#);
        for x in &s.sources {
            let _ = write!(h, "<li>{}</li>", esc(x));
        }
        h.push_str("</ol></div>");
    }
    h.push_str("</section>\n");
}

fn channel_section(
    h: &mut String,
    input: &ReportInput<'_>,
    pos: usize,
    ch: &ChannelAnalysis,
    p: &ChannelPlots,
) {
    let sm = &ch.summary;
    let _ = write!(
        h,
        r#"<section id="ch{pos}" data-section="channel"><h2>Channel {}: {}</h2>"#,
        ch.channel + 1,
        esc(&ch.label)
    );
    // Summary table.
    let _ = write!(
        h,
        r#"<h3 id="ch{pos}-summary">Summary</h3><table class="classes"><tr><th>class</th><th>discharges</th><th>per min</th><th>potentials</th><th>total length (s)</th></tr>"#
    );
    for c in &sm.classes {
        let _ = write!(
            h,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{:.1}</td><td class="n">{}</td><td class="n">{:.1}</td></tr>"#,
            chip(c.class),
            c.discharges,
            c.per_min,
            c.potentials,
            c.seconds + 0.0
        );
    }
    if sm.classes.is_empty() {
        h.push_str(r#"<tr><td colspan="5">no discharges</td></tr>"#);
    }
    h.push_str("</table>");
    let my = &sm.myokymic;
    let pattern = match my.pattern {
        MyokymicPattern::None => "none".to_string(),
        MyokymicPattern::Episodic => format!("episodic: {} bursts, {:.1}/min", my.bursts, my.bursts_per_min),
        MyokymicPattern::Continuous => format!(
            "continuous: {:.1} s, {:.0} % of the recording",
            my.continuous_s.max(0.0),
            my.continuous_fraction.max(0.0) * 100.0
        ),
        MyokymicPattern::EpisodicAndContinuous => format!(
            "episodic and continuous: {} bursts ({:.1}/min) and {:.1} s of continuous trains ({:.0} %)",
            my.bursts,
            my.bursts_per_min,
            my.continuous_s.max(0.0),
            my.continuous_fraction.max(0.0) * 100.0
        ),
    };
    let fg = &sm.fibrillation_grade;
    let art_s = ch
        .artefacts
        .iter()
        .fold(0.0, |acc, a| acc + (a.end_s - a.start_s));
    let _ = write!(
        h,
        r#"<table><tr><th>myokymic activity</th><td>{}</td></tr><tr><th>class with the most potentials</th><td>{}</td></tr><tr><th>fibrillation / PSW grade at this site</th><td>{} ({} persistent trains, at most {} at once, {:.2} potentials/s)</td></tr><tr><th>units</th><td>{} ({} potentials; {} left unsorted; {} found in overlaps; {} single potentials fit no class)</td></tr><tr><th>artefacts</th><td>{} intervals, {:.1} s</td></tr></table>"#,
        esc(&pattern),
        sm.dominant.map_or("none", DischargeClass::name),
        esc(&fg.label),
        fg.persistent_trains,
        fg.concurrent_trains,
        fg.potentials_per_s,
        sm.units,
        sm.potentials,
        ch.n_unsorted,
        ch.n_overlap,
        sm.stray_potentials,
        ch.artefacts.len(),
        art_s
    );
    if !ch.warnings.is_empty() {
        h.push_str("<ul class=\"muted\">");
        for w in &ch.warnings {
            let _ = write!(h, "<li>{}</li>", esc(w));
        }
        h.push_str("</ul>");
    }

    // Timeline.
    let _ = write!(
        h,
        r#"<h3 id="ch{pos}-timeline">Class timeline</h3><figure class="timeline">{}<figcaption>Every discharge over the whole recording, one row per class (bars merged where closer than a pixel); artefacts in grey.</figcaption></figure>"#,
        p.timeline
    );

    // Sweeps: the classes found, then unclassified activity, collapsed.
    let _ = write!(h, r#"<h3 id="ch{pos}-sweeps">Example sweeps</h3>"#);
    if p.sweeps.is_empty() {
        h.push_str("<p>No discharges to show.</p>");
    } else {
        h.push_str("<p class=\"muted\">Each sweep at the speed an EMG reader would use for the class (stated under each). The bar above the screen and the shaded band span the discharge (thin bars: other discharges in the sweep, in their class colour); triangles (or thin ticks where they would merge) mark its potentials (colour: unit); grey ticks at the bottom mark other units' potentials.</p>");
    }
    let mut classes: Vec<DischargeClass> = Vec::new();
    for (ex, _) in &p.sweeps {
        if !classes.contains(&ex.class) {
            classes.push(ex.class);
        }
    }
    for class in classes {
        let n_class = ch.discharges.iter().filter(|d| d.class == class).count();
        let unclassified = class == DischargeClass::Unclassified;
        if unclassified {
            let _ = write!(
                h,
                r#"<details class="sweeps-more"><summary>{} — {n_class} stretches of activity that fit no class well: {} example sweeps{}</summary><div class="cards">"#,
                chip(class),
                p.sweeps.iter().filter(|(e, _)| e.class == class).count(),
                PRINT_NOTE
            );
        } else {
            let _ = write!(
                h,
                r#"<h4>{} — {} ({n_class})</h4><div class="cards">"#,
                chip(class),
                esc(class_plural(class))
            );
        }
        for (ex, svg) in p.sweeps.iter().filter(|(e, _)| e.class == class) {
            sweep_figure(h, input, pos, ch, ex, svg);
        }
        h.push_str("</div>");
        if unclassified {
            h.push_str("</details>");
        }
    }

    // Raster.
    let _ = write!(
        h,
        r#"<h3 id="ch{pos}-raster">Unit firing</h3><figure class="raster">{}<figcaption>Every potential of every unit over time.</figcaption></figure>"#,
        p.raster
    );

    // Templates.
    let _ = write!(
        h,
        r#"<h3 id="ch{pos}-templates">Units: templates</h3><div class="cards">"#
    );
    for (u, svg) in ch.units.iter().zip(&p.templates) {
        let m = &u.measured;
        let _ = write!(
            h,
            r#"<figure class="template">{svg}<figcaption><span class="chip" style="background:{}"></span><strong>unit {}</strong>: {}; {:.0} µV peak-to-peak, {:.1} ms, {} phases, {} turns, first phase {}; {} potentials. Dashed lines: duration.</figcaption></figure>"#,
            unit_color(m.id),
            m.id,
            waveform_name(m.class),
            m.p2p_uv,
            m.duration_ms,
            m.phases,
            m.turns,
            match m.first_phase {
                sort::Polarity::Positive => "positive",
                sort::Polarity::Negative => "negative",
            },
            u.n_potentials
        );
    }
    if ch.units.is_empty() {
        h.push_str("<p>No units.</p>");
    }
    h.push_str("</div><p class=\"muted\">Thin lines: up to 12 of the unit's potentials from the filtered signal, spread over the recording, superimposed on the template (thick).</p>");

    // ISI.
    let _ = write!(
        h,
        r#"<h3 id="ch{pos}-isi">Inter-spike intervals</h3><div class="cards">"#
    );
    for (u, svg) in ch.units.iter().zip(&p.isi) {
        let tr = ch.trains.iter().find(|t| t.unit == u.id());
        let _ = write!(
            h,
            r#"<figure class="isi">{svg}<figcaption><strong>unit {}</strong>: mean rate {} Hz, median interval {} ms, CV {}.</figcaption></figure>"#,
            u.id(),
            opt(tr.map(|t| t.mean_rate_hz), 2),
            opt(tr.and_then(|t| t.median_isi_ms), 1),
            opt(tr.and_then(|t| t.isi_cv), 2)
        );
    }
    h.push_str("</div>");

    // Envelopes.
    if !p.envelopes.is_empty() {
        let _ = write!(
            h,
            r#"<h3 id="ch{pos}-envelopes">Within-discharge envelopes</h3>"#
        );
        for (class, rate, amp) in &p.envelopes {
            let ds: Vec<&Discharge> = ch.discharges.iter().filter(|d| d.class == *class).collect();
            let count = |f: &dyn Fn(&Discharge) -> Option<TrendFit>| {
                let mut m = std::collections::BTreeMap::<&str, usize>::new();
                for d in &ds {
                    if let Some(t) = f(d) {
                        *m.entry(t.shape.name()).or_default() += 1;
                    }
                }
                m.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = write!(
                h,
                r#"<h4>{}</h4><div class="cards"><figure class="envelope">{rate}</figure><figure class="envelope">{amp}</figure></div><p class="muted">Instantaneous rate (between successive potentials) and amplitude of each potential, for up to 12 of the most confident discharges, one line each (colour: unit). Rate trend over all {n} discharges: {}. Amplitude trend: {}.</p>"#,
                chip(*class),
                esc(&count(&|d| d.features.rate_trend)),
                esc(&count(&|d| d.features.amplitude_trend)),
                n = ds.len()
            );
        }
    }

    // Discharge table, grouped by class: the classes found first, each collapsed when
    // long; unclassified activity last, always collapsed.
    let _ = write!(
        h,
        r#"<h3 id="ch{pos}-discharges">Every discharge ({})</h3>"#,
        ch.discharges.len()
    );
    if ch.discharges.is_empty() {
        h.push_str("<p>No discharges.</p>");
    } else {
        h.push_str("<p class=\"muted\">Grouped by class; each row gives the numbers behind the call and its evidence sentence (the same as the analysis JSON and the discharges CSV). Trends give the change over the discharge in % of its mean, so a steep waning can pass −100 %. Click a class to open or close its rows.</p>");
    }
    for class in DischargeClass::ALL {
        let rows: Vec<usize> = (0..ch.discharges.len())
            .filter(|&i| ch.discharges[i].class == class)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut conf: Vec<f64> = rows.iter().map(|&i| ch.discharges[i].confidence).collect();
        conf.sort_by(f64::total_cmp);
        let median = conf[conf.len() / 2];
        let secs: f64 = rows
            .iter()
            .map(|&i| (ch.discharges[i].end_s - ch.discharges[i].start_s).max(0.0))
            .sum();
        let open = class != DischargeClass::Unclassified && rows.len() <= OPEN_ROWS_MAX;
        let _ = write!(
            h,
            r#"<details class="dtable" data-class="{}"{}><summary>{} — {} discharge{}, median confidence {:.2}, {:.1} s in all{}</summary><table class="discharges"><tr><th>#</th><th>conf.</th><th>time (s)</th><th>units</th><th>potentials</th><th>rate (Hz)</th><th title="change over the discharge, in % of its mean">trend: rate / amplitude (change, % of mean)</th><th>evidence</th></tr>"#,
            esc(class.name()),
            if open { " open" } else { "" },
            chip(class),
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            median,
            secs,
            PRINT_NOTE
        );
        for &i in &rows {
            let d = &ch.discharges[i];
            let units: Vec<String> = d.units.iter().map(|u| u.to_string()).collect();
            let _ = write!(
                h,
                r#"<tr id="ch{pos}-d{}"><td class="n">{}</td><td class="n">{:.2}</td><td class="n">{:.3}–{:.3}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td>{} / {}</td><td class="ev">{}</td></tr>"#,
                i + 1,
                i + 1,
                d.confidence,
                d.start_s,
                d.end_s,
                esc(&units.join(", ")),
                d.n_potentials,
                opt(d.features.rate_hz, 1),
                esc(&trend(d.features.rate_trend)),
                esc(&trend(d.features.amplitude_trend)),
                esc(&d.evidence)
            );
        }
        h.push_str("</table></details>");
    }
    h.push_str("</section>\n");
}

/// One example sweep with its caption (and its audio clip, when written).
fn sweep_figure(
    h: &mut String,
    input: &ReportInput<'_>,
    pos: usize,
    ch: &ChannelAnalysis,
    ex: &super::Example,
    svg: &str,
) {
    let d: &Discharge = &ch.discharges[ex.discharge];
    let units: Vec<String> = d.units.iter().map(|u| u.to_string()).collect();
    let _ = write!(
        h,
        r##"<figure class="sweep" data-class="{}">{}<figcaption><strong><a href="#ch{pos}-d{}">#{}</a></strong> {:.3}–{:.3} s, unit {}, {} potentials, confidence {:.2}. {} <span class="scale">Sweep {}.</span>"##,
        esc(ex.class.name()),
        svg,
        ex.discharge + 1,
        ex.discharge + 1,
        d.start_s,
        d.end_s,
        esc(&units.join(", ")),
        d.n_potentials,
        d.confidence,
        esc(&d.evidence),
        esc(ex.sweep_reason)
    );
    if let Some(rel) = input.audio.and_then(|l| l.clips.get(&(pos, ex.discharge))) {
        let _ = write!(
            h,
            r#"<audio controls preload="none" src="{src}" title="{:.1}–{:.1} s"></audio><span class="noprint"><a href="{src}">clip</a> {:.1}–{:.1} s</span>"#,
            ex.clip_s.0,
            ex.clip_s.1,
            ex.clip_s.0,
            ex.clip_s.1,
            src = esc(rel),
        );
    }
    h.push_str("</figcaption></figure>");
}
