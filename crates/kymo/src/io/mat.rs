//! MAT-file reader (being written).

use std::path::Path;

use super::{Header, OpenOptions, SignalReader};
use crate::{Error, Result};

/// Reads MAT-file recordings.
pub struct MatReader {
    header: Header,
}

impl MatReader {
    /// Opens `path`.
    pub fn open(path: &Path, _opts: &OpenOptions) -> Result<Self> {
        Err(Error::unsupported(path, "MAT-file reading is not implemented yet"))
    }
}

impl SignalReader for MatReader {
    fn header(&self) -> &Header {
        &self.header
    }
    fn read(&mut self, _channel: usize, _start: u64, _out: &mut [f32]) -> Result<()> {
        Err(Error::unsupported(&self.header.path, "MAT-file reading is not implemented yet"))
    }
}
