//! One error type for the whole library.
//!
//! Every variant means *bad input* (the CLI exits with code 1); bugs are panics
//! and never reach this type. Each message is one sentence that starts with the
//! file and says where the problem is and what is wrong, e.g.
//! `rec.edf: edf: header byte 236 (number of data records): "-1" is not a positive integer`.

use std::path::{Path, PathBuf};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a file could not be read or written, or why a parameter was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused a read or write (missing file, permissions, disk full).
    // The cause is part of the message (one sentence), so it is not also exposed as
    // `source()`: printers that walk the chain would say it twice.
    #[error("{}: {what}: {cause}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What kymo was doing, e.g. "cannot open".
        what: String,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The file breaks its format: `what` names the field or byte offset and the problem.
    #[error("{}: {what}", path.display())]
    Malformed {
        /// The file involved.
        path: PathBuf,
        /// Where and what, e.g. `edf: header byte 236 (number of data records): "x" is not a number`.
        what: String,
    },
    /// The file is valid but uses a feature kymo does not read (yet).
    #[error("{}: {what}", path.display())]
    Unsupported {
        /// The file involved.
        path: PathBuf,
        /// What is not supported.
        what: String,
    },
    /// Reading would exceed a [`crate::io::ReadLimits`] bound (protects against hostile headers).
    #[error("{}: {what}", path.display())]
    Limit {
        /// The file involved.
        path: PathBuf,
        /// Which limit and the value asked for.
        what: String,
    },
    /// A caller's parameter is invalid (band edge above Nyquist, channel out of range, …).
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: &Path, what: impl Into<String>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            what: what.into(),
            cause,
        }
    }

    /// An [`Error::Malformed`] for `path`.
    pub fn malformed(path: &Path, what: impl Into<String>) -> Self {
        Error::Malformed {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// An [`Error::Unsupported`] for `path`.
    pub fn unsupported(path: &Path, what: impl Into<String>) -> Self {
        Error::Unsupported {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// An [`Error::Limit`] for `path`.
    pub fn limit(path: &Path, what: impl Into<String>) -> Self {
        Error::Limit {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// An [`Error::Config`].
    pub fn config(what: impl Into<String>) -> Self {
        Error::Config(what.into())
    }
}
