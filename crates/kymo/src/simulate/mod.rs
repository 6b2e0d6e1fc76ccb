//! EMG simulator with exact ground truth.
//!
//! No public data set labels myokymic discharges and their look-alikes, so kymo makes its
//! own: a physiologically grounded simulator whose every potential is known. It produces
//! every discharge class of the domain brief (`shared/domain/myokymia.md`), with the
//! brief's ranges as parameters.
//!
//! # Overview
//!
//! - A [`Scenario`] holds every parameter (TOML-loadable); [`builtin`] and [`list`] give the
//!   named ones.
//! - [`waveform`]: each unit's potential, from a fibre-sum Hermite–Rodriguez model (cited
//!   there), measured by [`waveform::measure`].
//! - `firing`: one streaming generator per discharge class (Fuglevand et al. 1993
//!   recruitment for voluntary activity; Poisson fasciculations; myokymic bursts; …).
//! - `recording`: noise at a defined SNR, mains hum, baseline wander, movement artefacts,
//!   electrode pops.
//! - [`truth`]: the versioned ground-truth JSON (`docs/truth-json.md`), streamed.
//!
//! [`run`] (or [`Simulation`]) generates the recording block by block into a
//! [`SampleSink`] and the truth into a [`truth::TruthSink`]; memory stays flat whatever the
//! duration, and the same scenario and seed give bit-identical samples and truth whatever
//! the block size.
//!
//! ```
//! use kymo::simulate::{self, truth::Truth, VecSink};
//!
//! let mut scenario = simulate::builtin("myokymia-facial")?;
//! scenario.seconds = 2.0;
//! let mut samples = VecSink::default();
//! let mut truth = Truth::default();
//! simulate::run(&scenario, 42, &mut samples, &mut truth)?;
//! assert_eq!(samples.channels[0].len(), 40_000); // 2 s at 20 kHz
//! for p in truth.potentials.iter().take(3) {
//!     println!("{:.4} s  unit {}  event {}  {:.0} µV", p.t, p.unit, p.event, p.amplitude_uv[0]);
//! }
//! # Ok::<(), kymo::Error>(())
//! ```

mod engine;
mod filter;
mod firing;
mod recording;
mod rng;
pub mod scenario;
pub mod truth;
pub mod waveform;

pub use engine::{
    run, NullSink, RecordingInfo, SampleSink, Simulation, VecSink, DEFAULT_BLOCK_LEN,
};
pub use scenario::{Class, Electrode, NoiseLevel, Scenario, SourceSpec};

use crate::io::Annotation;
use crate::{Error, Result};
use truth::{ArtefactKind, EventRecord};

/// The built-in scenarios: name and TOML text (each file is also an example of the format).
const BUILTINS: &[(&str, &str)] = &[
    (
        "myokymia-facial",
        include_str!("scenarios/myokymia-facial.toml"),
    ),
    (
        "myokymia-limb",
        include_str!("scenarios/myokymia-limb.toml"),
    ),
    (
        "fasciculations",
        include_str!("scenarios/fasciculations.toml"),
    ),
    (
        "neuromyotonia",
        include_str!("scenarios/neuromyotonia.toml"),
    ),
    (
        "complex-repetitive",
        include_str!("scenarios/complex-repetitive.toml"),
    ),
    (
        "fibrillations",
        include_str!("scenarios/fibrillations.toml"),
    ),
    ("myotonia", include_str!("scenarios/myotonia.toml")),
    ("cramp", include_str!("scenarios/cramp.toml")),
    ("voluntary", include_str!("scenarios/voluntary.toml")),
    ("rest", include_str!("scenarios/rest.toml")),
    ("mixed", include_str!("scenarios/mixed.toml")),
];

/// The built-in scenario called `name`.
///
/// Fails with [`Error::Config`] naming the known scenarios when there is none by that name.
pub fn builtin(name: &str) -> Result<Scenario> {
    match BUILTINS.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => Scenario::from_toml_str(text),
        None => Err(Error::config(format!(
            "simulate: unknown scenario \"{name}\"; the built-in scenarios are: {}",
            BUILTINS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Every built-in scenario's name and one-line description, in a fixed order.
pub fn list() -> Vec<(&'static str, String)> {
    BUILTINS
        .iter()
        .map(|(n, text)| {
            let d = Scenario::from_toml_str(text)
                .map(|s| s.description)
                .unwrap_or_default();
            (*n, d)
        })
        .collect()
}

/// The events and transient artefacts of `scenario` with `seed`, in the order of their
/// start, as EDF+ annotations: onset = event `start_s`, duration = `end_s − start_s`, text
/// `"<class> e<id> u<unit>[,<unit>…]"` for events (e.g. `myokymic e3 u0`) and
/// `"artefact <kind>"` for movement artefacts and electrode pops (continuous hum and wander
/// are not annotated).
///
/// An EDF+ header needs its annotations before the first sample is written, and events
/// are only known as the simulation runs, so this runs the scenario once without noise,
/// hum or wander into a [`NullSink`]: every random stream is per purpose, so the
/// discharges and artefacts are exactly those of the full run with the same seed. Memory
/// grows with the number of events (the annotations), not with the potentials.
pub fn annotations(scenario: &Scenario, seed: u64) -> Result<Vec<Annotation>> {
    let mut quiet = scenario.clone();
    quiet.recording.noise = NoiseLevel::RmsUv(0.0);
    quiet.recording.mains.amplitude_uv = 0.0;
    quiet.recording.wander.amplitude_uv = 0.0;
    let mut t = AnnotationsOnly::default();
    Simulation::new(&quiet, seed)?.run(&mut NullSink, &mut t)?;
    let mut out = t.0;
    out.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));
    Ok(out)
}

/// Turns events and artefacts into annotations as they come, drops potentials (memory
/// grows with the number of annotations only).
#[derive(Default)]
struct AnnotationsOnly(Vec<Annotation>);

impl truth::TruthSink for AnnotationsOnly {
    fn begin(&mut self, _: &truth::TruthHeader) -> Result<()> {
        Ok(())
    }
    fn potential(&mut self, _: &truth::PotentialRecord) -> Result<()> {
        Ok(())
    }
    fn event(&mut self, e: &EventRecord) -> Result<()> {
        self.0.push(event_annotation(e));
        Ok(())
    }
    fn artefact(&mut self, a: &truth::ArtefactRecord) -> Result<()> {
        self.0.extend(artefact_annotation(a));
        Ok(())
    }
    fn finish(&mut self, _: &truth::TruthSummary) -> Result<()> {
        Ok(())
    }
}

fn event_annotation(e: &EventRecord) -> Annotation {
    Annotation {
        onset_s: e.start_s.max(0.0),
        duration_s: Some(e.end_s - e.start_s.max(0.0)),
        text: format!(
            "{} e{} u{}",
            e.class.name(),
            e.id,
            e.units
                .iter()
                .map(|u| u.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn artefact_annotation(a: &truth::ArtefactRecord) -> Option<Annotation> {
    let kind = match a.kind {
        ArtefactKind::Movement => "movement",
        ArtefactKind::ElectrodePop => "electrode-pop",
        ArtefactKind::Mains | ArtefactKind::BaselineWander => return None,
    };
    Some(Annotation {
        onset_s: a.start_s,
        duration_s: Some(a.end_s - a.start_s),
        text: format!("artefact {kind}"),
    })
}

/// EDF+ annotations for `events` and the transient `artefacts` (see [`annotations`]),
/// sorted by onset.
pub fn annotations_of(
    events: &[EventRecord],
    artefacts: &[truth::ArtefactRecord],
) -> Vec<Annotation> {
    let mut out: Vec<Annotation> = events.iter().map(event_annotation).collect();
    out.extend(artefacts.iter().filter_map(artefact_annotation));
    out.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));
    out
}
