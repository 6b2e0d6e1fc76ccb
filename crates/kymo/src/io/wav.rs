//! WAV reader (being written).

use std::path::Path;

use super::{Header, OpenOptions, SignalReader};
use crate::{Error, Result};

/// Reads WAV recordings.
pub struct WavReader {
    header: Header,
}

impl WavReader {
    /// Opens `path`.
    pub fn open(path: &Path, _opts: &OpenOptions) -> Result<Self> {
        Err(Error::unsupported(path, "WAV reading is not implemented yet"))
    }
}

impl SignalReader for WavReader {
    fn header(&self) -> &Header {
        &self.header
    }
    fn read(&mut self, _channel: usize, _start: u64, _out: &mut [f32]) -> Result<()> {
        Err(Error::unsupported(&self.header.path, "WAV reading is not implemented yet"))
    }
}
