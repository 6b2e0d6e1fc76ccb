//! EDF/BDF reader (being written).

use std::path::Path;

use super::{Header, OpenOptions, SignalReader};
use crate::{Error, Result};

/// Reads EDF/BDF recordings.
pub struct EdfReader {
    header: Header,
}

impl EdfReader {
    /// Opens `path`.
    pub fn open(path: &Path, _opts: &OpenOptions) -> Result<Self> {
        Err(Error::unsupported(path, "EDF/BDF reading is not implemented yet"))
    }
}

impl SignalReader for EdfReader {
    fn header(&self) -> &Header {
        &self.header
    }
    fn read(&mut self, _channel: usize, _start: u64, _out: &mut [f32]) -> Result<()> {
        Err(Error::unsupported(&self.header.path, "EDF/BDF reading is not implemented yet"))
    }
}
