//! WFDB reader (being written).

use std::path::Path;

use super::{OpenOptions, SignalReader};
use crate::{Error, Result};

/// Opens a WFDB record from its `.hea` header.
pub fn open(path: &Path, _opts: &OpenOptions) -> Result<Box<dyn SignalReader>> {
    Err(Error::unsupported(path, "WFDB reading is not implemented yet"))
}
