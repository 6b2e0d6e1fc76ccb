//! The analysed signal as EDF+ with kymo's findings as annotations (`NAME.annotated.edf`),
//! for reviewing the calls next to the trace in EDFbrowser or any EDF+ reader.
//!
//! - Signals: the analysed channels, unfiltered, in their physical unit, at their own
//!   rates, streamed block by block from the recording ([`EdfWriter`]; memory does not
//!   grow with the recording's length). EDF stores 16-bit samples: the physical range is
//!   the file's own where it declares one (EDF, BDF, WFDB, WAV), else the data's range
//!   from a first pass; the quantisation step is that range over 65535. 24-bit BDF input
//!   loses its lowest 8 bits.
//! - Time: sample `i` is at `i / rate` s, as in the analysis. A discontinuous (EDF+D)
//!   input is written continuous, its segments back to back, as kymo analysed it.
//! - Annotations, one per discharge: `CLASS uUNITS CONFIDENCE`, e.g. `myokymic u3 0.92`
//!   (units joined by `,`), with the discharge's start and duration; one per artefact:
//!   `artefact KIND`. With more than one channel each text starts with the channel's
//!   label as the EDF signal header has it and a colon (`EMG2: myokymic u3 0.92`), since
//!   EDF+ annotations belong to no channel; when labels cut to EDF's 16 characters are
//!   alike, the signal's number in the file (from 1) comes first (`3 Vastus Lateralis: …`). The recording's own annotations are not copied (they stay in the original).
//! - Start time: the recording's, or 1 January 1985 00:00:00 (EDF's "unknown") when the
//!   file has none or one EDF cannot hold.

use std::path::Path;

use crate::analyze::{Analysis, Progress};
use crate::io::atomic::Staged;
use crate::io::edf::{EdfChannelSpec, EdfSpec, EdfWriteSummary, EdfWriter, RANGE_PAD};
use crate::io::{Annotation, DateTime, SignalReader};
use crate::pattern::Discharge;
use crate::{Error, Result};

/// EDF's start date for an unknown start (the EDF+ spec's convention, `01.01.85`).
const UNKNOWN_START: DateTime = DateTime {
    year: 1985,
    month: 1,
    day: 1,
    hour: 0,
    minute: 0,
    second: 0,
    nanos: 0,
};

/// Samples read per channel and step, at most (4 MiB of f32 per channel).
const MAX_BLOCK_SAMPLES: usize = 1 << 20;

/// What [`write_annotated_edf`] produced.
#[derive(Debug)]
pub struct EdfOutput {
    /// The complete file under its temporary name; commit it.
    pub staged: Staged,
    /// What the writer wrote.
    pub summary: EdfWriteSummary,
    /// Things the user should know (start time replaced, samples clipped), one sentence each.
    pub warnings: Vec<String>,
}

/// The annotation text of a discharge: `myokymic u3 0.92`.
pub fn discharge_text(d: &Discharge) -> String {
    let units: Vec<String> = d.units.iter().map(|u| u.to_string()).collect();
    let mut s = d.class.name().to_string();
    if !units.is_empty() {
        s.push_str(" u");
        s.push_str(&units.join(","));
    }
    s.push_str(&format!(" {:.2}", d.confidence));
    s
}

/// `s` as printable ASCII of at most `max` characters (`µ` → `u`, others → `_`).
fn ascii(s: &str, max: usize) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            ' '..='~' => c,
            'µ' | 'μ' => 'u',
            _ => '_',
        })
        .take(max)
        .collect()
}

/// The annotations of `analysis`: discharges and artefacts, channel-prefixed when several.
pub fn annotations(analysis: &Analysis) -> Vec<Annotation> {
    let prefix = analysis.channels.len() > 1;
    // The labels as the EDF's signal header has them (printable ASCII, 16 characters);
    // when that makes two alike, the signal's number in the EDF (from 1) tells them apart.
    let labels: Vec<String> = analysis
        .channels
        .iter()
        .map(|c| ascii(&c.label, 16))
        .collect();
    let unique = labels
        .iter()
        .all(|l| labels.iter().filter(|m| *m == l).count() == 1);
    let mut out = Vec::new();
    for (i, ch) in analysis.channels.iter().enumerate() {
        let head = match (prefix, unique) {
            (false, _) => String::new(),
            (true, true) => format!("{}: ", labels[i]),
            (true, false) => format!("{} {}: ", i + 1, labels[i]),
        };
        let clean = |t: String| t.replace(['\0', '\u{14}', '\u{15}'], " ");
        for d in &ch.discharges {
            let onset = d.start_s.max(0.0);
            out.push(Annotation {
                onset_s: onset,
                duration_s: Some((d.end_s - onset).max(0.0)),
                text: clean(format!("{head}{}", discharge_text(d))),
            });
        }
        for a in &ch.artefacts {
            let onset = a.start_s.max(0.0);
            out.push(Annotation {
                onset_s: onset,
                duration_s: Some((a.end_s - onset).max(0.0)),
                text: clean(format!("{head}artefact {}", a.kind)),
            });
        }
    }
    out.retain(|a| a.onset_s.is_finite() && a.duration_s.is_some_and(f64::is_finite));
    out
}

/// Smallest and largest finite sample of channel `c`, in one streaming pass.
fn scan_range(reader: &mut dyn SignalReader, c: usize, n: u64) -> Result<Option<(f64, f64)>> {
    let mut buf = vec![0.0f32; (n.min(MAX_BLOCK_SAMPLES as u64)) as usize];
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut pos = 0u64;
    while pos < n {
        let len = (n - pos).min(buf.len() as u64) as usize;
        let b = &mut buf[..len];
        reader.read(c, pos, b)?;
        for &x in b.iter().filter(|x| x.is_finite()) {
            lo = lo.min(f64::from(x));
            hi = hi.max(f64::from(x));
        }
        pos += len as u64;
    }
    Ok(lo.is_finite().then_some((lo, hi)))
}

/// A physical range for the writer: padded so that float rounding never clips, and
/// never empty.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if hi > lo {
        let pad = (hi - lo) * RANGE_PAD;
        (lo - pad, hi + pad)
    } else {
        let half = if lo == 0.0 { 1.0 } else { lo.abs() * 0.01 };
        (lo - half, lo + half)
    }
}

/// Writes the channels of `analysis` read from `reader` (the recording analysed), with
/// the discharges and artefacts as annotations, as EDF+C to a temporary file beside
/// `path`; the caller commits it. `progress` gets the samples written.
pub fn write_annotated_edf(
    path: &Path,
    analysis: &Analysis,
    reader: &mut dyn SignalReader,
    progress: Progress<'_>,
) -> Result<EdfOutput> {
    let header = reader.header().clone();
    let mut warnings = Vec::new();
    if analysis.channels.is_empty() {
        return Err(Error::config(format!(
            "{}: edf: the analysis has no channel to write",
            path.display()
        )));
    }
    let mut specs = Vec::new();
    let mut lengths = Vec::new();
    for ch in &analysis.channels {
        let Some(hc) = header.channels.get(ch.channel) else {
            return Err(Error::config(format!(
                "{}: channel {} of the analysis is not in the recording",
                header.path.display(),
                ch.channel + 1
            )));
        };
        let declared = hc
            .physical_range
            .filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo < hi);
        let range = match declared {
            Some(r) => r,
            None => match scan_range(reader, ch.channel, hc.n_samples)? {
                Some((lo, hi)) => padded(lo, hi),
                None => (-1.0, 1.0),
            },
        };
        specs.push(EdfChannelSpec {
            label: ascii(&hc.label, 16),
            unit: ascii(&hc.unit, 8),
            rate_hz: hc.rate_hz,
            physical_range: range,
            transducer: ascii(hc.transducer.as_deref().unwrap_or(""), 80),
            prefilter: ascii(hc.prefilter.as_deref().unwrap_or(""), 80),
        });
        lengths.push(hc.n_samples);
    }
    let start = match header.start {
        Some(s) if (1985..=9999).contains(&s.year) => s,
        Some(s) => {
            warnings.push(format!(
                "the start time {s} cannot be written in EDF; {} has 01-JAN-1985 00:00:00 instead",
                path.display()
            ));
            UNKNOWN_START
        }
        None => UNKNOWN_START,
    };
    let mut spec = EdfSpec::new(start, specs);
    spec.equipment = format!("kymo {}", env!("CARGO_PKG_VERSION"));
    spec.annotations = annotations(analysis);
    let mut w = EdfWriter::create_with_lengths(path, &spec, &lengths)
        .map_err(|e| with_path(e, path, "cannot write the annotated EDF"))?;

    // Push whole records of every channel at a time, so the writer holds no leftovers.
    let spr: Vec<usize> = w.samples_per_record().to_vec();
    let widest = spr.iter().copied().max().unwrap_or(1).max(1);
    let records = (MAX_BLOCK_SAMPLES / widest).max(1);
    let mut bufs: Vec<Vec<f32>> = spr.iter().map(|&s| vec![0.0; s * records]).collect();
    let total_records = lengths
        .iter()
        .zip(&spr)
        .map(|(&n, &s)| n.div_ceil(s as u64))
        .max()
        .unwrap_or(0);
    let mut record = 0u64;
    while record < total_records {
        let k = (total_records - record).min(records as u64) as usize;
        for (i, ch) in analysis.channels.iter().enumerate() {
            let want = spr[i] * k;
            let start = record * spr[i] as u64;
            let avail = lengths[i].saturating_sub(start).min(want as u64) as usize;
            let b = &mut bufs[i][..want];
            if avail > 0 {
                reader.read(ch.channel, start, &mut b[..avail])?;
            }
            // A channel shorter than the others is padded with physical 0 (clamped into
            // its range) so that every push fills whole records.
            let (lo, hi) = spec.channels[i].physical_range;
            b[avail..].fill(0.0f64.clamp(lo, hi) as f32);
            progress(avail as u64);
        }
        let blocks: Vec<&[f32]> = bufs.iter().zip(&spr).map(|(b, &s)| &b[..s * k]).collect();
        w.push(&blocks)?;
        record += k as u64;
    }
    let (summary, staged) = w
        .finish_staged()
        .map_err(|e| with_path(e, path, "cannot write the annotated EDF"))?;
    if summary.clipped_samples > 0 {
        warnings.push(format!(
            "{} samples outside the channels' physical range (or not a number) were clipped in {}",
            summary.clipped_samples,
            path.display()
        ));
    }
    Ok(EdfOutput {
        staged,
        summary,
        warnings,
    })
}

/// The EDF writer's configuration errors name no file; give them the output's.
fn with_path(e: Error, path: &Path, what: &str) -> Error {
    match e {
        Error::Config(m) => Error::config(format!("{}: {what}: {m}", path.display())),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_text_is_printable_ascii() {
        assert_eq!(ascii("µV", 8), "uV");
        assert_eq!(
            ascii(" EMG ä right tibialis anterior ", 16),
            "EMG _ right tibi"
        );
    }

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(padded(0.0, 0.0), (-1.0, 1.0));
        let (lo, hi) = padded(5.0, 5.0);
        assert!(lo < 5.0 && hi > 5.0);
        let (lo, hi) = padded(-2.0, 2.0);
        assert!(lo < -2.0 && hi > 2.0);
    }
}
