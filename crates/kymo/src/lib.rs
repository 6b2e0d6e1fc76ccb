//! kymo: find, measure and classify spontaneous EMG activity, centred on myokymia.
//!
//! This crate is the library behind the `kymo` command. Today it holds the file
//! readers and the EDF+ writer ([`io`]), the EMG simulator with exact ground truth
//! ([`simulate`]), the pattern stages that turn sorted potentials into classified
//! discharges ([`pattern`]: trains → bursts → features → classify → summary) and the
//! scorer that measures a result against a simulator truth ([`eval`]); the signal stages
//! follow the pipeline in the repository README (filter → detect → sort), [`analyze`] runs
//! them all on a recording and [`output`] writes the result (JSON, CSV, BIDS events,
//! annotated EDF+).
//!
//! ```no_run
//! use kymo::io::{open, OpenOptions};
//!
//! let mut rec = open("emg_healthy.hea".as_ref(), &OpenOptions::default())?;
//! let ch = &rec.header().channels[0];
//! println!("{}: {} samples at {} Hz in {}", ch.label, ch.n_samples, ch.rate_hz, ch.unit);
//! let mut first_second = vec![0.0f32; ch.rate_hz as usize];
//! rec.read(0, 0, &mut first_second)?;
//! # Ok::<(), kymo::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analyze;
pub mod detect;
pub mod dsp;
pub mod error;
pub mod eval;
pub mod io;
pub mod output;
pub mod pattern;
pub mod simulate;
pub mod sort;

pub use error::{Error, Result};
