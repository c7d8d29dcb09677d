//! Putting one stored file at its place in what is published (the share's folders, a WSUS
//! content folder): hard-linked from the content folder when both are on one file system,
//! copied otherwise, checked against the digests the update gives as it is written (a linked
//! content file read once per run), through a temporary file opened without following links,
//! and left alone when the right file is already there.

use crate::error::{Error, ErrorKind, Result};
use crate::hash::Digests;
use crate::store::StoredContent;
use std::fs::{self, File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// What the digests of a written or found file must be: those of the file reference (the
/// update's own), and the store's record of its copy.
#[derive(Clone, Copy, Debug)]
pub struct Expected {
    pub stored: StoredContent,
    pub sha1: Option<[u8; 20]>,
    pub size: Option<u64>,
}

impl Expected {
    fn matches(&self, d: &Digests) -> bool {
        d.sha256 == self.stored.sha256
            && d.sha1 == self.stored.sha1
            && d.size == self.stored.size
            && self.sha1.is_none_or(|h| h == d.sha1)
            && self.size.is_none_or(|s| s == d.size)
    }
}

/// What happened to one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placed {
    Linked,
    Copied,
    Unchanged,
    /// The stored copy is missing from the content folder.
    Missing,
    /// The stored copy does not match its digests: nothing was published.
    Damaged,
}

/// Places files; remembers which content files this run has already read and found whole
/// (a file published under several folders is read once).
pub struct Placer {
    /// Where files are written before they are renamed into place (inside the share, so
    /// the rename stays on one file system).
    pub temp: PathBuf,
    verified: std::collections::HashSet<[u8; 32]>,
    counter: u64,
    /// The folders a file was renamed into (synced once each, at the end).
    renamed_in: std::collections::HashSet<PathBuf>,
}

/// Makes `out/<name>` an empty folder for a run's temporary files (in the output folder, so
/// that renames into place stay on one file system), removing what an interrupted run left
/// there. Only the command that owns `name` writes in it.
pub fn fresh_temp(out: &Path, name: &str) -> Result<PathBuf> {
    let temp = out.join(name);
    if fs::symlink_metadata(&temp).is_ok() {
        fs::remove_dir_all(&temp).map_err(|e| Error::io(&temp, "remove", e))?;
    }
    fs::create_dir(&temp).map_err(|e| Error::io(&temp, "create", e))?;
    Ok(temp)
}

/// The key under which two names are one file on Windows (and on the default file systems
/// of macOS): compared without regard to case.
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}

impl Placer {
    pub fn new(temp: PathBuf) -> Placer {
        Placer {
            temp,
            verified: Default::default(),
            counter: 0,
            renamed_in: Default::default(),
        }
    }

    /// Makes the names placed by this run durable: syncs each folder a file was renamed into
    /// once (a sync per file would cost a disk round trip per file of a large publish).
    pub fn sync_dirs(&mut self) {
        for d in self.renamed_in.drain() {
            crate::fsutil::sync_dir(Some(&d));
        }
    }

    /// Puts the content file `source` (the store's copy) at `dest`.
    pub fn place(&mut self, source: &Path, dest: &Path, want: &Expected) -> Result<Placed> {
        let src_meta = match fs::symlink_metadata(source) {
            Ok(m) if m.is_file() => m,
            _ => return Ok(Placed::Missing),
        };
        if self.already_there(&src_meta, dest, want)? {
            return Ok(Placed::Unchanged);
        }
        self.counter += 1;
        let tmp = self.temp.join(format!("{}.partial", self.counter));
        let _ = fs::remove_file(&tmp);
        let placed = match fs::hard_link(source, &tmp) {
            Ok(()) => {
                // The link is the content file itself: read it once per run to check it.
                if !self.verified.contains(&want.stored.sha256) {
                    let ok = read_digests(&tmp).is_ok_and(|d| want.matches(&d));
                    if !ok {
                        let _ = fs::remove_file(&tmp);
                        return Ok(Placed::Damaged);
                    }
                    self.verified.insert(want.stored.sha256);
                }
                Placed::Linked
            }
            // Another file system (or links refused): copy, hashing on the way.
            Err(_) => {
                let d = copy_to(source, &tmp)?;
                if !want.matches(&d) {
                    let _ = fs::remove_file(&tmp);
                    return Ok(Placed::Damaged);
                }
                Placed::Copied
            }
        };
        fs::rename(&tmp, dest).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io(dest, "publish", e)
        })?;
        // The data was synced before the rename, so a crash never leaves the name on a
        // half-written file; the folder is synced once at the end of the run (see `sync_dirs`).
        if let Some(dir) = dest.parent()
            && !self.renamed_in.contains(dir)
        {
            self.renamed_in.insert(dir.to_path_buf());
        }
        Ok(placed)
    }

    /// Whether `dest` already holds the right file: the content file itself (same inode, a
    /// link made by an earlier run, whose size still matches), or a regular file whose
    /// digests match (read once). A link or anything else at `dest` is replaced.
    fn already_there(&self, src: &fs::Metadata, dest: &Path, want: &Expected) -> Result<bool> {
        let m = match fs::symlink_metadata(dest) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(dest, "examine", e)),
        };
        if m.is_dir() {
            return Err(Error::new(
                ErrorKind::Usage,
                format!("{} is a folder where the share puts a file", dest.display()),
            )
            .with_hint("move it away (or run again with --prune once it is empty)"));
        }
        if !m.is_file() || m.len() != want.stored.size {
            return Ok(false);
        }
        if same_file(src, &m) {
            return Ok(true);
        }
        Ok(read_digests(dest).is_ok_and(|d| want.matches(&d)))
    }
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    false
}

fn read_digests(path: &Path) -> std::io::Result<Digests> {
    let mut f = crate::fsutil::open_no_follow(path, OpenOptions::new().read(true))?;
    crate::hash::hash_reader(&mut f)
}

/// Copies `source` to `tmp` (a new file) and returns the digests of what was written.
fn copy_to(source: &Path, tmp: &Path) -> Result<Digests> {
    let mut r = crate::fsutil::open_no_follow(source, OpenOptions::new().read(true))
        .map_err(|e| Error::io(source, "read", e))?;
    let f = crate::fsutil::open_no_follow(tmp, OpenOptions::new().write(true).create_new(true))
        .map_err(|e| Error::io(tmp, "create", e))?;
    let mut w = BufWriter::new(f);
    let d = crate::hash::copy_hashing(&mut r, &mut w).map_err(|e| Error::io(tmp, "write", e))?;
    let f: File = w
        .into_inner()
        .map_err(|e| Error::io(tmp, "write", e.into_error()))?;
    // On disk before the rename makes it visible: a later run that finds a file of the right
    // size at its place may trust only what it reads, but what it reads must not be a hole.
    f.sync_all().map_err(|e| Error::io(tmp, "write", e))?;
    Ok(d)
}
