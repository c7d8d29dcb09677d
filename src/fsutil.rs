//! File-system helpers that keep files whole: write under a temporary name in the same
//! folder, flush to disk, then rename, so that a crash never leaves a half-written file under
//! its final name.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
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
        // The parent of a bare file name (`--out r.json`) is the empty path: the current
        // folder.
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Opens `path` with `opts` without following a symbolic link at its last component: for the
/// files the store writes (log, journal, staged files), so that a link planted in the store
/// cannot make it write outside itself. On Unix the kernel refuses (`O_NOFOLLOW`, failing
/// with "too many levels of symbolic links"); elsewhere the path is looked at first.
pub fn open_no_follow(path: &Path, opts: &mut OpenOptions) -> std::io::Result<File> {
    #[cfg(unix)]
    if let Some(flag) = O_NOFOLLOW {
        use std::os::unix::fs::OpenOptionsExt;
        return opts.custom_flags(flag).open(path);
    }
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other(format!(
            "{} is a symbolic link; the store does not write through links",
            path.display()
        )));
    }
    opts.open(path)
}

/// Opens `path` for reading without waiting: opening a FIFO for reading blocks until a
/// writer comes, so on Unix it is opened non-blocking (`O_NONBLOCK`, which changes nothing
/// for the reads of a regular file). The caller checks the type through the handle.
pub fn open_read_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    if let Some(flag) = O_NONBLOCK {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(flag);
    }
    opts.open(path)
}

// std names neither flag and the crate binds no C library: the values of the C library
// headers, for the targets where they are known. A target not listed opens without the flag
// (and `open_no_follow` looks at the path first).

/// The value of `O_NONBLOCK` where it is known.
#[cfg(unix)]
const O_NONBLOCK: Option<i32> = if cfg!(any(target_os = "linux", target_os = "android")) {
    if cfg!(any(target_arch = "mips", target_arch = "mips64")) {
        Some(0x80)
    } else if cfg!(any(target_arch = "sparc", target_arch = "sparc64")) {
        Some(0x4000)
    } else {
        Some(0o4000)
    }
} else if cfg!(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)) {
    Some(0x4)
} else {
    None
};

/// The value of `O_NOFOLLOW` where it is known.
#[cfg(unix)]
const O_NOFOLLOW: Option<i32> = if cfg!(any(target_os = "linux", target_os = "android")) {
    if cfg!(any(
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "m68k"
    )) {
        Some(0x8000)
    } else {
        Some(0x20000)
    }
} else if cfg!(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "openbsd",
    target_os = "netbsd",
    target_os = "dragonfly"
)) {
    Some(0x100)
} else {
    None
};
