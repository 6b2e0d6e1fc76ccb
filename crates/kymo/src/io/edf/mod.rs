//! European Data Format: the EDF/EDF+/BDF/BDF+ reader and the EDF+C writer.
//!
//! - [`EdfReader`] reads EDF (1992), EDF+C, EDF+D, BDF (BioSemi, 24-bit), BDF+C and BDF+D.
//!   Annotation signals become [`Header::annotations`](crate::io::Header::annotations); the
//!   first record's time-keeping TAL gives the sub-second start
//!   ([`DateTime::nanos`](crate::io::DateTime::nanos)); in EDF+D/BDF+D the time-keeping TALs
//!   give [`Header::segments`](crate::io::Header::segments) (contiguous records merged).
//! - [`EdfWriter`] streams EDF+C with an annotation signal; [`write_edf`] writes in-memory
//!   signals in one call. The guarantees are listed in the [`writer`] module docs.
//!
//! Modules: `header` walks the ASCII header for both sample widths, `tal` parses and
//! encodes annotation lists, `reader` and [`writer`] build on them.
//!
//! Times: an annotation's `onset_s` is seconds from [`Header::start`](crate::io::Header::start),
//! which includes the sub-second part. A segment's `stored_start_s` is `first record ·
//! record duration` (the time of its first sample in the stored samples) and `onset_s` its
//! time-keeping stamp, also from `Header::start`.

pub(crate) mod header;
mod reader;
pub(crate) mod tal;
pub mod writer;

pub use reader::EdfReader;
pub use writer::{
    write_edf, EdfChannelSpec, EdfSpec, EdfWriteSummary, EdfWriter, SignalData, MAX_RECORD_BYTES,
    RANGE_PAD,
};
