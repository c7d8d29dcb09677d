//! The content folder: payload files named by their SHA-256 (`content/ab/<sha256>`), and what
//! the updates of the store reference from it. A file is published by renaming it from the
//! staging folder, so it appears whole or not at all.

use super::{STAGING_DIR, Store, content_path};
use crate::error::{Error, Result};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `status` shows of content.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ContentStats {
    /// Distinct files referenced by updates that are not removed.
    pub referenced: u64,
    pub present: u64,
    pub missing: u64,
    pub present_bytes: u64,
    /// Bytes still to fetch, where sizes are known.
    pub missing_bytes: u64,
    /// Of `missing`: files the store records whose copy is absent from the content folder or
    /// not of its recorded size (lost or damaged; `check --read-data` names them).
    pub lost: u64,
    /// Files in the content folder, referenced or not.
    pub stored_files: u64,
    pub stored_bytes: u64,
}

/// A file reference of a stored update.
#[derive(Clone, Debug, Serialize)]
pub struct ReferencedFile {
    pub update_id: String,
    pub title: String,
    pub name: String,
    pub size: Option<u64>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    pub present: bool,
}

impl Store {
    /// Every file referenced by an update that is not removed, with whether it is present.
    pub fn referenced_files(&self) -> Result<Vec<ReferencedFile>> {
        let mut st = self.conn.prepare(
            "SELECT f.update_id, u.title, f.name, f.size, f.sha1, f.sha256,
                    EXISTS(SELECT 1 FROM content c WHERE c.sha256 = f.sha256 OR (f.sha256 IS NULL AND c.sha1 = f.sha1))
             FROM files f JOIN updates u ON u.update_id = f.update_id
             WHERE u.state != 'removed' ORDER BY u.title, f.update_id, f.name",
        )?;
        let rows = st.query_map([], |r| {
            Ok(ReferencedFile {
                update_id: r.get(0)?,
                title: r.get(1)?,
                name: r.get(2)?,
                size: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                sha1: r
                    .get::<_, Option<Vec<u8>>>(4)?
                    .and_then(|v| v.try_into().ok()),
                sha256: r
                    .get::<_, Option<Vec<u8>>>(5)?
                    .and_then(|v| v.try_into().ok()),
                present: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn content_stats(&self) -> Result<ContentStats> {
        let mut s = ContentStats::default();
        let mut seen = std::collections::HashSet::new();
        for f in self.referenced_files()? {
            let key = (f.sha256, f.sha1);
            if !seen.insert(key) {
                continue;
            }
            s.referenced += 1;
            if f.present && !self.stored_copy_present(&f)? {
                s.lost += 1;
                s.missing += 1;
                s.missing_bytes += f.size.unwrap_or(0);
            } else if f.present {
                s.present += 1;
                s.present_bytes += f.size.unwrap_or(0);
            } else {
                s.missing += 1;
                s.missing_bytes += f.size.unwrap_or(0);
            }
        }
        let (n, b): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM content",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        s.stored_files = n as u64;
        s.stored_bytes = b as u64;
        Ok(s)
    }

    /// Whether the recorded copy of a referenced file is in the content folder with its
    /// recorded size (a look at the folder, no read: `check --read-data` reads).
    pub(crate) fn stored_copy_present(&self, f: &ReferencedFile) -> Result<bool> {
        let h = match (f.sha256, f.sha1) {
            (Some(h), _) => h,
            (None, Some(h1)) => match self.content_by_sha1(&h1)? {
                Some(h) => h,
                None => return Ok(false),
            },
            (None, None) => return Ok(false),
        };
        let Some((size, _)) = self.content_entry(&h)? else {
            return Ok(false);
        };
        Ok(fs::symlink_metadata(content_path(&self.root, &h))
            .is_ok_and(|m| m.is_file() && m.len() == size))
    }

    /// The recorded size and SHA-1 of a content file, if the store has it.
    pub fn content_entry(&self, sha256: &[u8; 32]) -> Result<Option<(u64, [u8; 20])>> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT size, sha1 FROM content WHERE sha256 = ?1")?
            .query_row(params![sha256.as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(s, h)| Some((s as u64, h.try_into().ok()?))))
    }

    /// Whether the content file `sha256` arrived after change sequence `from`.
    pub fn content_added_since(&self, sha256: &[u8; 32], from: u64) -> Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM content WHERE sha256 = ?1 AND added_seq > ?2",
            params![sha256.as_slice(), from as i64],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// The SHA-256 of the stored file with this SHA-1, if any.
    pub fn content_by_sha1(&self, sha1: &[u8; 20]) -> Result<Option<[u8; 32]>> {
        let row: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT sha256 FROM content WHERE sha1 = ?1",
                params![sha1.as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(row.and_then(|v| v.try_into().ok()))
    }
}

/// Whether the stored copy of recorded content is whole: a regular file of `size` bytes whose
/// SHA-256 is `sha256` (it is read to the end). Missing, unreadable or different: false.
pub fn stored_copy_intact(root: &Path, sha256: &[u8; 32], size: u64) -> bool {
    let path = content_path(root, sha256);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() && m.len() == size => File::open(&path)
            .and_then(|mut f| crate::hash::hash_reader(&mut f))
            .is_ok_and(|d| d.sha256 == *sha256 && d.size == size),
        _ => false,
    }
}

/// The journal of content files published by a transaction that has not committed yet.
pub(super) const JOURNAL: &str = "publish.journal";

/// Publishes staged content files into the content folder for one write transaction.
///
/// Content is published before the transaction that records it commits, so that the
/// database never names a file that is not there. Each digest is written to a journal (and
/// flushed) before its file is renamed into place; the journal is removed after the commit.
/// If the process dies in between, the next writer finds the journal and removes the files it
/// lists that no committed row records ([`recover`]), so a crash leaves the content folder as
/// it was before or as it is after, never in between.
pub struct Publisher {
    root: PathBuf,
    journal: Option<File>,
    /// Files that replaced a missing or damaged copy of recorded content: their rows are
    /// already committed, so the verified copy stays even when this transaction does not.
    repaired: std::collections::HashSet<[u8; 32]>,
}

impl Publisher {
    /// Starts publishing for a transaction of the store in `root`. Only one writer at a time
    /// holds the store's write lock, so one journal is enough.
    pub fn new(root: &Path) -> Publisher {
        Publisher {
            root: root.to_path_buf(),
            journal: None,
            repaired: Default::default(),
        }
    }

    /// Moves a fully written and hashed staged file of content the store does not record yet
    /// to its place. A file found at the place (with no row) is not trusted, as it could hold
    /// anything: the verified staged copy replaces it.
    pub fn publish(&mut self, staged: &Path, sha256: &[u8; 32]) -> Result<()> {
        self.put(staged, sha256)
    }

    /// Moves a fully written and verified staged copy of content the store already records
    /// over its missing or damaged copy, through the same journal as a new file (a crash
    /// keeps it: its row is committed, so recovery leaves it in place).
    pub fn replace(&mut self, staged: &Path, sha256: &[u8; 32]) -> Result<()> {
        self.put(staged, sha256)?;
        self.repaired.insert(*sha256);
        Ok(())
    }

    fn put(&mut self, staged: &Path, sha256: &[u8; 32]) -> Result<()> {
        let dest = content_path(&self.root, sha256);
        let jpath = self.root.join(STAGING_DIR).join(JOURNAL);
        if self.journal.is_none() {
            let f =
                crate::fsutil::open_no_follow(&jpath, OpenOptions::new().create(true).append(true))
                    .map_err(|e| Error::io(&jpath, "create", e))?;
            self.journal = Some(f);
        }
        let j = self.journal.as_mut().expect("opened above");
        j.write_all(format!("{}\n", hex::encode(sha256)).as_bytes())
            .and_then(|_| j.sync_data())
            .map_err(|e| Error::io(&jpath, "write", e))?;
        let dir = dest.parent().expect("content paths have a parent");
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
            let content = dir.parent().expect("content subfolders have a parent");
            crate::fsutil::sync_dir_strict(content).map_err(|e| Error::io(content, "flush", e))?;
        }
        fs::rename(staged, &dest).map_err(|e| Error::io(&dest, "publish", e))?;
        crate::fsutil::sync_dir_strict(dir).map_err(|e| Error::io(dir, "flush", e))?;
        Ok(())
    }

    /// Call after the transaction committed: the published files are now recorded.
    pub fn committed(mut self) {
        if self.journal.take().is_some() {
            let _ = fs::remove_file(self.root.join(STAGING_DIR).join(JOURNAL));
        }
    }

    /// Call when the commit itself failed: SQLite may still apply the transaction from its
    /// log when the database is next opened, so whether the files belong is not known here.
    /// The journal stays; recovery decides from what was committed ([`Store::settle`], or the
    /// next writer).
    pub fn commit_failed(mut self) {
        self.journal.take();
    }
}

impl Drop for Publisher {
    /// Not committed (an error, or a dry run): take back what was published.
    fn drop(&mut self) {
        if self.journal.take().is_some() {
            let _ = recover_files(&self.root, &|h| self.repaired.contains(h));
        }
    }
}

/// Undoes what an interrupted writer left: files published under a journal whose rows never
/// committed, and staged `.partial` files. Runs with the write lock held (inside a write
/// transaction), so no live writer can be interrupted by it. `recorded` says whether the
/// content table has a row for a digest.
pub(crate) fn recover_files(root: &Path, recorded: &dyn Fn(&[u8; 32]) -> bool) -> Result<u64> {
    let staging = root.join(STAGING_DIR);
    let jpath = staging.join(JOURNAL);
    let mut removed = 0;
    if let Ok(text) = fs::read_to_string(&jpath) {
        for line in text.lines() {
            let Some(h) = crate::model::parse_hex::<32>(line) else {
                continue;
            };
            if !recorded(&h) {
                let p = content_path(root, &h);
                if fs::remove_file(&p).is_ok() {
                    removed += 1;
                }
            }
        }
        fs::remove_file(&jpath).map_err(|e| Error::io(&jpath, "remove", e))?;
    }
    if let Ok(entries) = fs::read_dir(&staging) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with(".partial") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(removed)
}
