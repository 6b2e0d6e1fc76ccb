//! delimited text reader (being written).

use std::path::Path;

use super::{Header, OpenOptions, SignalReader};
use crate::{Error, Result};

/// Reads delimited text recordings.
pub struct TextReader {
    header: Header,
}

impl TextReader {
    /// Opens `path`.
    pub fn open(path: &Path, _opts: &OpenOptions) -> Result<Self> {
        Err(Error::unsupported(path, "delimited text reading is not implemented yet"))
    }
}

impl SignalReader for TextReader {
    fn header(&self) -> &Header {
        &self.header
    }
    fn read(&mut self, _channel: usize, _start: u64, _out: &mut [f32]) -> Result<()> {
        Err(Error::unsupported(&self.header.path, "delimited text reading is not implemented yet"))
    }
}
