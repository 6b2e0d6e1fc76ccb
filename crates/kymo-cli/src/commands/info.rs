//! `kymo info FILE [--json]`: what is in a recording, without reading its samples.
//!
//! The JSON form is a stable, versioned object documented in `docs/info-json.md`.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use kymo::io::{open, Annotation, Header, OpenOptions, Segment};

use crate::args::InfoArgs;

/// Version of the `kymo info --json` object; bumped on any incompatible change.
pub const INFO_JSON_VERSION: u32 = 1;

pub fn run(args: &InfoArgs) -> Result<()> {
    let opts = open_options(args.rate)?;
    let reader = open(&args.file, &opts)?;
    let header = reader.header();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &InfoJson::new(header, args.annotations))?;
        writeln!(out)?;
    } else {
        write_text(&mut out, header, args.annotations)?;
    }
    out.flush()?;
    Ok(())
}

/// Builds the library's open options from `--rate`, refusing a rate that is not a positive number.
pub fn open_options(rate: Option<f64>) -> Result<OpenOptions> {
    if let Some(r) = rate {
        if !(r.is_finite() && r > 0.0) {
            return Err(kymo::Error::config(format!(
                "--rate {r}: the sampling rate must be a positive number of Hz"
            ))
            .into());
        }
    }
    Ok(OpenOptions {
        rate_hz: rate,
        ..OpenOptions::default()
    })
}

#[derive(Serialize)]
struct InfoJson<'a> {
    kymo_info_version: u32,
    file: String,
    format: String,
    start: Option<String>,
    duration_s: f64,
    subject: Option<&'a str>,
    recording: Option<&'a str>,
    channels: Vec<ChannelJson<'a>>,
    segments: &'a [Segment],
    annotations: AnnotationsJson<'a>,
    comments: &'a [String],
    warnings: &'a [String],
}

#[derive(Serialize)]
struct ChannelJson<'a> {
    index: usize,
    label: &'a str,
    unit: &'a str,
    rate_hz: f64,
    n_samples: u64,
    duration_s: f64,
    physical_min: Option<f64>,
    physical_max: Option<f64>,
    transducer: Option<&'a str>,
    prefilter: Option<&'a str>,
}

#[derive(Serialize)]
struct AnnotationsJson<'a> {
    count: usize,
    first: &'a [Annotation],
}

impl<'a> InfoJson<'a> {
    fn new(h: &'a Header, n_annotations: usize) -> Self {
        InfoJson {
            kymo_info_version: INFO_JSON_VERSION,
            file: h.path.display().to_string(),
            format: h.format.to_string(),
            start: h.start.map(|s| s.to_string()),
            duration_s: h.duration_s(),
            subject: h.subject.as_deref(),
            recording: h.recording.as_deref(),
            channels: h
                .channels
                .iter()
                .enumerate()
                .map(|(index, c)| ChannelJson {
                    index,
                    label: &c.label,
                    unit: &c.unit,
                    rate_hz: c.rate_hz,
                    n_samples: c.n_samples,
                    duration_s: if c.rate_hz > 0.0 {
                        c.n_samples as f64 / c.rate_hz
                    } else {
                        0.0
                    },
                    physical_min: c.physical_range.map(|r| r.0),
                    physical_max: c.physical_range.map(|r| r.1),
                    transducer: c.transducer.as_deref(),
                    prefilter: c.prefilter.as_deref(),
                })
                .collect(),
            segments: &h.segments,
            annotations: AnnotationsJson {
                count: h.annotations.len(),
                first: &h.annotations[..h.annotations.len().min(n_annotations)],
            },
            comments: &h.comments,
            warnings: &h.warnings,
        }
    }
}

fn write_text(out: &mut impl Write, h: &Header, n_annotations: usize) -> std::io::Result<()> {
    writeln!(out, "file:        {}", h.path.display())?;
    writeln!(out, "format:      {}", h.format)?;
    match h.start {
        Some(s) => writeln!(out, "start:       {s}")?,
        None => writeln!(out, "start:       (not in the file)")?,
    }
    writeln!(out, "duration:    {}", format_duration(h.duration_s()))?;
    if let Some(s) = h.subject.as_deref().filter(|s| !s.is_empty()) {
        writeln!(out, "subject:     {s}")?;
    }
    if let Some(r) = h.recording.as_deref().filter(|s| !s.is_empty()) {
        writeln!(out, "recording:   {r}")?;
    }
    if h.segments.len() > 1 {
        writeln!(
            out,
            "segments:    {} (discontinuous recording)",
            h.segments.len()
        )?;
    }
    writeln!(out, "channels:    {}", h.channels.len())?;
    let label_w = h
        .channels
        .iter()
        .map(|c| c.label.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    writeln!(
        out,
        "  {:>3}  {:<label_w$}  {:<6}  {:>10}  {:>10}  {:>23}  transducer / prefilter",
        "#", "label", "unit", "rate (Hz)", "samples", "physical range"
    )?;
    for (i, c) in h.channels.iter().enumerate() {
        let range = match c.physical_range {
            Some((lo, hi)) => format!("{} .. {}", trim_number(lo), trim_number(hi)),
            None => "-".to_string(),
        };
        let extra: Vec<&str> = [c.transducer.as_deref(), c.prefilter.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect();
        writeln!(
            out,
            "  {:>3}  {:<label_w$}  {:<6}  {:>10}  {:>10}  {:>23}  {}",
            i + 1,
            c.label,
            c.unit,
            trim_number(c.rate_hz),
            c.n_samples,
            range,
            extra.join(" / ")
        )?;
    }
    writeln!(out, "annotations: {}", h.annotations.len())?;
    for a in h.annotations.iter().take(n_annotations) {
        match a.duration_s {
            Some(d) => writeln!(
                out,
                "  {:>12.4} s  ({} s)  {}",
                a.onset_s,
                trim_number(d),
                a.text
            )?,
            None => writeln!(out, "  {:>12.4} s  {}", a.onset_s, a.text)?,
        }
    }
    if h.annotations.len() > n_annotations {
        writeln!(
            out,
            "  … {} more (--annotations N to list more)",
            h.annotations.len() - n_annotations
        )?;
    }
    for c in &h.comments {
        writeln!(out, "comment:     {c}")?;
    }
    for w in &h.warnings {
        writeln!(out, "warning:     {w}")?;
    }
    Ok(())
}

/// `1234.5` → `20 min 34.5 s (1234.5 s)`.
fn format_duration(s: f64) -> String {
    if s >= 60.0 {
        let h = (s / 3600.0).floor();
        let m = ((s - h * 3600.0) / 60.0).floor();
        let rest = s - h * 3600.0 - m * 60.0;
        let hm = if h > 0.0 {
            format!("{h} h {m} min")
        } else {
            format!("{m} min")
        };
        format!("{hm} {} s ({} s)", trim_number(rest), trim_number(s))
    } else {
        format!("{} s", trim_number(s))
    }
}

/// Shortest decimal form with at most 6 decimals: `200`, `487.5`, `0.001`.
fn trim_number(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_trimmed() {
        assert_eq!(trim_number(200.0), "200");
        assert_eq!(trim_number(487.5), "487.5");
        assert_eq!(trim_number(-0.0), "0");
        assert_eq!(trim_number(1e-3), "0.001");
    }

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(format_duration(12.715), "12.715 s");
        assert_eq!(format_duration(600.0), "10 min 0 s (600 s)");
        assert_eq!(format_duration(3725.5), "1 h 2 min 5.5 s (3725.5 s)");
    }

    #[test]
    fn rate_must_be_positive() {
        assert!(open_options(Some(0.0)).is_err());
        assert!(open_options(Some(f64::NAN)).is_err());
        assert!(open_options(Some(-5.0)).is_err());
        assert!(open_options(Some(1000.0)).is_ok());
    }
}
