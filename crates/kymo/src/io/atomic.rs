//! Output files that appear whole or not at all.
//!
//! Every file kymo writes goes through [`AtomicFile`]: the bytes go to a temporary file
//! in the destination's folder (`.NAME.tmp-PID-N`, hidden, unique per process and call),
//! which is flushed, synced and renamed over the destination only when complete. A rename
//! within one folder is atomic on POSIX file systems, so a reader of the destination sees
//! either the old file or the whole new one, never half of it. On any error, or when the
//! writer is dropped unfinished, the temporary file is removed and the destination is
//! untouched.
//!
//! A group of files that belong together (the outputs of one analysis) can be finished
//! first ([`AtomicFile::finish`] gives a [`Staged`] file: complete, synced, still under
//! its temporary name) and renamed together once all of them are ready, so that a
//! failure in the last one leaves none of them behind.
//!
//! ```no_run
//! use std::io::Write;
//! use kymo::io::atomic::AtomicFile;
//!
//! let mut f = AtomicFile::create("out/result.json".as_ref())?;
//! f.write_all(b"{}\n").map_err(|e| f.io_error(e))?;
//! f.commit()?; // out/result.json appears now
//! # Ok::<(), kymo::Error>(())
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Numbers the temporary files of one process, so parallel writers never collide.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Size of the write buffer: large enough that writes reach the kernel in big pieces.
const BUFFER_BYTES: usize = 1 << 20;

/// The temporary name used for `dest`: `DIR/.NAME.tmp-PID-N`.
fn temporary_path(dest: &Path) -> Result<PathBuf> {
    let name = dest.file_name().ok_or_else(|| {
        Error::config(format!(
            "{}: is not a file path (it has no file name)",
            dest.display()
        ))
    })?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    )))
}

/// A file being written under a temporary name beside its destination (see the module
/// docs). Write through [`std::io::Write`]; map its errors with [`AtomicFile::io_error`].
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    /// `None` once finished, or after a failed flush (the file is then unusable).
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file for `dest` (which is not touched). Fails with
    /// [`Error::Io`] naming the temporary file when the folder is missing or not writable.
    pub fn create(dest: &Path) -> Result<AtomicFile> {
        let tmp = temporary_path(dest)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, "cannot create the temporary output file", e))?;
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            tmp,
            out: Some(BufWriter::with_capacity(BUFFER_BYTES, f)),
        })
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// The temporary file being written.
    pub fn temporary_path(&self) -> &Path {
        &self.tmp
    }

    /// An [`Error::Io`] "cannot write" for the temporary file.
    pub fn io_error(&self, cause: std::io::Error) -> Error {
        Error::io(&self.tmp, "cannot write", cause)
    }

    fn closed(&self) -> std::io::Error {
        std::io::Error::other(format!(
            "{} was already finished or failed",
            self.tmp.display()
        ))
    }

    /// Flushes the buffer and gives the underlying file, for positional writes
    /// ([`std::os::unix::fs::FileExt::write_all_at`]) that patch bytes already written.
    pub fn file(&mut self) -> Result<&File> {
        let flushed = match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Err(self.closed()),
        };
        if let Err(e) = flushed {
            self.out = None;
            return Err(self.io_error(e));
        }
        match self.out.as_ref() {
            Some(out) => Ok(out.get_ref()),
            None => Err(self.io_error(self.closed())),
        }
    }

    /// Flushes, syncs and closes the temporary file: it is complete but not yet at its
    /// destination. [`Staged::commit`] moves it there; dropping the [`Staged`] removes it.
    pub fn finish(mut self) -> Result<Staged> {
        let Some(out) = self.out.take() else {
            return Err(self.io_error(self.closed()));
        };
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&self.tmp, "cannot write", e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io(&self.tmp, "cannot write", e))?;
        drop(file);
        Ok(Staged {
            dest: std::mem::take(&mut self.dest),
            tmp: std::mem::take(&mut self.tmp),
            committed: false,
        })
    }

    /// [`finish`](Self::finish) and [`Staged::commit`]: the destination appears now.
    pub fn commit(self) -> Result<PathBuf> {
        self.finish()?.commit()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.out.as_mut() {
            Some(out) => out.write(buf),
            None => Err(self.closed()),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.write_all(buf),
            None => Err(self.closed()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Err(self.closed()),
        }
    }
}

impl Drop for AtomicFile {
    /// Removes the temporary file unless it was finished. Errors are ignored: a drop
    /// cannot report them, and the destination was never touched.
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            self.out = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A complete output file still under its temporary name (from [`AtomicFile::finish`]).
/// Dropping it without [`commit`](Self::commit) removes it.
#[derive(Debug)]
pub struct Staged {
    dest: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl Staged {
    /// The destination.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// Renames the file to its destination (replacing any file there) and returns the
    /// destination.
    pub fn commit(mut self) -> Result<PathBuf> {
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| {
            Error::io(
                &self.dest,
                format!("cannot rename {} to", self.tmp.display()),
                e,
            )
        })?;
        self.committed = true;
        Ok(std::mem::take(&mut self.dest))
    }
}

impl Drop for Staged {
    /// Removes the temporary file unless it was committed (errors ignored, as for
    /// [`AtomicFile`]).
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Renames every staged file to its destination, in order; returns the destinations.
/// Stops at the first failure (files already renamed stay; the rest are removed).
pub fn commit_all(staged: Vec<Staged>) -> Result<Vec<PathBuf>> {
    staged.into_iter().map(Staged::commit).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.txt");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(!dest.exists());
        let tmp_name = f
            .temporary_path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(tmp_name.starts_with(".a.txt.tmp-"), "{tmp_name}");
        let staged = f.finish().unwrap();
        assert!(!dest.exists());
        assert_eq!(names(dir.path()), vec![tmp_name]);
        assert_eq!(staged.commit().unwrap(), dest);
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        assert_eq!(names(dir.path()), vec!["a.txt".to_string()]);
    }

    #[test]
    fn dropping_removes_the_temporary_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("b.txt");
        std::fs::write(&dest, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.write_all(b"new").unwrap();
        }
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.write_all(b"new").unwrap();
            let _staged = f.finish().unwrap();
        }
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert_eq!(names(dir.path()), vec!["b.txt".to_string()]);
    }

    #[test]
    fn positional_patches_land() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("c.bin");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"xxxx----").unwrap();
        use std::os::unix::fs::FileExt;
        f.file().unwrap().write_all_at(b"ok", 1).unwrap();
        f.write_all(b"!").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"xokx----!");
    }

    #[test]
    fn a_missing_folder_names_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("nope").join("d.txt");
        let e = AtomicFile::create(&dest).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        let m = e.to_string();
        assert!(m.contains("nope") && m.contains("cannot create"), "{m}");
        assert!(AtomicFile::create("/".as_ref()).is_err());
    }
}
