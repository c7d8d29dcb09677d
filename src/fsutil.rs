//! File-system helpers that keep files whole: write under a temporary name in the same
//! folder, flush to disk, then rename, so that a crash never leaves a half-written file under
//! its final name.

use crate::error::{Error, Result};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically (temporary sibling, fsync, rename).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_sibling(path);
    let res = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, "write", e));
    }
    if let Some(dir) = path.parent() {
        sync_dir_strict(dir).map_err(|e| Error::io(dir, "flush", e))?;
    }
    Ok(())
}

/// `path` with `.partial` appended: the name a file has while it is being written.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

/// Flushes a folder's entries to disk after a rename, as far as it can; for files whose loss
/// would only cost a repeat of the work (a bundle being written, a key file just made).
pub fn sync_dir(dir: Option<&Path>) {
    if let Some(d) = dir {
        let _ = sync_dir_strict(d);
    }
}

/// Flushes a folder's entries to disk and reports failure: for renames that a commit will
/// rely on, where a lost entry would leave the store naming a file that is not there.
/// (Windows has no folder fsync; NTFS journals its metadata, so this is a no-op there.)
pub fn sync_dir_strict(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
