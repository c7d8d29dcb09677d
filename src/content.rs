//! Takes downloaded payload files into a store's content folder: walks a folder (an existing
//! WSUSContent folder, or what an administrator downloaded from the catalog), hashes each
//! candidate while copying it into staging (one read), and publishes the ones whose SHA-256
//! or SHA-1 matches a file reference of an update in the store.

use crate::error::{Error, Result};
use crate::hash::{Digests, copy_hashing};
use crate::model::hex_lower;
use crate::progress::{Progress, Unit};
use crate::store::{Publisher, ReferencedFile, Store, stored_copy_intact};
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Serialize)]
pub struct ContentImportReport {
    pub scanned: u64,
    pub matched: Vec<MatchedFile>,
    /// Files that match no file reference of the store's updates.
    pub unmatched: Vec<String>,
    pub added_files: u64,
    pub added_bytes: u64,
    /// Recorded files whose stored copy was missing or damaged, replaced by a matching one.
    pub repaired_files: u64,
    /// Referenced files still absent from the store after this import.
    pub missing: Vec<MissingFile>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MatchedFile {
    pub path: String,
    /// The file name the update gives it.
    pub name: String,
    pub sha256: String,
    pub size: u64,
    /// False when the store had it already.
    pub added: bool,
    /// True when it replaced a missing or damaged stored copy of a recorded file.
    pub repaired: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct MissingFile {
    pub update_id: String,
    pub title: String,
    pub name: String,
    pub size: Option<u64>,
}

/// Walks `dir` and takes into `store` every file whose digests match a file reference of a
/// stored update, all or nothing.
pub fn import_content(
    store: &mut Store,
    dir: &Path,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<ContentImportReport> {
    if !dir.is_dir() {
        return Err(Error::usage(format!("{} is not a folder", dir.display()))
            .with_hint("give the folder that holds the downloaded payload files"));
    }
    let refs = store.referenced_files()?;
    let index = RefIndex::new(&refs);
    let files = walk_files(dir)?;
    let mut report = ContentImportReport {
        scanned: files.len() as u64,
        ..Default::default()
    };
    let total: u64 = files.iter().map(|f| f.1).sum();
    progress.start("hashing payload files", Some(total), Unit::Bytes);

    // The write lock is held for the whole walk: the files are published as they are found
    // and recorded when the walk ends, all or nothing (see `Publisher`).
    let staging = store.staging_dir();
    let mut tx = store.begin()?;
    let mut publisher = Publisher::new(tx.root());
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, "create", e))?;
    let mut found: Vec<Digests> = Vec::new();
    for (n, (path, len)) in files.iter().enumerate() {
        if !index.may_match(*len) {
            report.unmatched.push(path.display().to_string());
            progress.advance(*len);
            continue;
        }
        let staged = staging.join(format!("content-{}-{n}.partial", std::process::id()));
        let d = stage_copy(path, &staged)?;
        progress.advance(*len);
        let Some(r) = index.find(&d) else {
            let _ = fs::remove_file(&staged);
            report.unmatched.push(path.display().to_string());
            continue;
        };
        let recorded = tx.content_recorded(&d.sha256)?;
        // A recorded file is re-read only when a copy matching it comes in: that is the moment
        // a damaged or lost copy can be put right.
        let repaired = recorded && !stored_copy_intact(tx.root(), &d.sha256, d.size);
        if repaired {
            publisher.replace(&staged, &d.sha256)?;
            report.repaired_files += 1;
        } else if recorded {
            // Its stored copy is intact: this one is not needed.
            let _ = fs::remove_file(&staged);
        } else {
            publisher.publish(&staged, &d.sha256)?;
        }
        let added = !recorded;
        report.matched.push(MatchedFile {
            path: path.display().to_string(),
            name: r.name.clone(),
            sha256: hex_lower(&d.sha256),
            size: d.size,
            added,
            repaired,
        });
        found.push(d);
    }
    progress.finish();

    for d in &found {
        if tx.add_content(&d.sha256, &d.sha1, d.size, &now.rfc3339())? {
            report.added_files += 1;
            report.added_bytes += d.size;
        }
    }
    if let Err(e) = tx.commit() {
        // Which files a failed commit left recorded is for the next writer's recovery to
        // decide; nothing here can tell.
        publisher.commit_failed();
        let _ = store.settle();
        return Err(e);
    }
    publisher.committed();
    report.missing = missing_files(store)?;
    store.log(
        "CONTENT",
        &format!(
            "Content import from {}: {} file(s) scanned, {} matched, {} added ({} bytes), {} repaired, {} referenced file(s) missing",
            dir.display(),
            report.scanned,
            report.matched.len(),
            report.added_files,
            report.added_bytes,
            report.repaired_files,
            report.missing.len()
        ),
        now,
    );
    Ok(report)
}

/// The store's file references by digest, to find the one a file matches.
struct RefIndex<'a> {
    by_sha256: HashMap<[u8; 32], &'a ReferencedFile>,
    by_sha1: HashMap<[u8; 20], &'a ReferencedFile>,
    /// Every reference's size, when every reference has one: a file of another size cannot
    /// match and is not read.
    sizes: Option<HashSet<u64>>,
}

impl<'a> RefIndex<'a> {
    fn new(refs: &'a [ReferencedFile]) -> RefIndex<'a> {
        RefIndex {
            by_sha256: refs.iter().filter_map(|r| Some((r.sha256?, r))).collect(),
            by_sha1: refs.iter().filter_map(|r| Some((r.sha1?, r))).collect(),
            sizes: refs.iter().map(|r| r.size).collect(),
        }
    }

    fn may_match(&self, len: u64) -> bool {
        self.sizes.as_ref().is_none_or(|s| s.contains(&len))
    }

    /// The reference a file with digests `d` is: by SHA-256, else by SHA-1 when the reference
    /// has no other SHA-256; and of the same size when the reference gives one.
    fn find(&self, d: &Digests) -> Option<&'a ReferencedFile> {
        let hit = self.by_sha256.get(&d.sha256).copied().or_else(|| {
            self.by_sha1
                .get(&d.sha1)
                .copied()
                .filter(|r| r.sha256.is_none_or(|h| h == d.sha256))
        });
        hit.filter(|r| r.size.is_none_or(|s| s == d.size))
    }
}

/// Every regular file under `dir`, with its length, in file-name order; links are not
/// followed.
fn walk_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry =
            entry.map_err(|e| Error::other(format!("cannot read {}: {e}", dir.display())))?;
        if entry.file_type().is_file() {
            let len = entry
                .metadata()
                .map_err(|e| Error::other(format!("{}: {e}", entry.path().display())))?
                .len();
            files.push((entry.into_path(), len));
        }
    }
    Ok(files)
}

/// Copies `path` to `staged`, synced, hashing it on the way (one read). A failed copy leaves
/// no staged file.
pub(crate) fn stage_copy(path: &Path, staged: &Path) -> Result<Digests> {
    let digests = (|| -> std::io::Result<_> {
        let mut src = File::open(path)?;
        let mut out = BufWriter::new(crate::fsutil::open_no_follow(
            staged,
            File::options().write(true).create(true).truncate(true),
        )?);
        let d = copy_hashing(&mut src, &mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(d)
    })();
    digests.map_err(|e| {
        let _ = fs::remove_file(staged);
        Error::io(path, "read", e)
    })
}

/// The referenced files still absent from the store, once per update and name.
fn missing_files(store: &Store) -> Result<Vec<MissingFile>> {
    let mut seen = HashSet::new();
    let mut missing = Vec::new();
    for r in store.referenced_files()? {
        // Absent as `status` counts it: no row, or a row whose copy is gone or cut short.
        if !store.stored_copy_present(&r)? && seen.insert((r.update_id.clone(), r.name.clone())) {
            missing.push(MissingFile {
                update_id: r.update_id,
                title: r.title,
                name: r.name,
                size: r.size,
            });
        }
    }
    Ok(missing)
}

/// The store setting that says which catalog file (size and modification time) was last
/// kept, so that a sync from the same unchanged file does not read a gigabyte again.
const CATALOG_STAMP_SETTING: &str = "catalog_source_stamp";

/// Keeps Microsoft's offline catalog `cab` (the file a sync just read) in the content store,
/// by SHA-256, and names it the store's catalog ([`crate::store::CATALOG_SETTING`]), so that
/// `publish share` hands it to clients and bundles carry it. One read and one write of the
/// file, none when the same file (size and modification time) was kept before and its copy is
/// in place; each catalog version is stored once. Returns whether the file was read.
pub fn keep_catalog(store: &mut Store, cab: &Path, now: Timestamp) -> Result<bool> {
    let meta = fs::metadata(cab).map_err(|e| Error::io(cab, "read", e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let stamp = format!("{}:{modified}", meta.len());
    if let Some((h, size)) = store.catalog()?
        && size == meta.len()
        && store.setting(CATALOG_STAMP_SETTING)?.as_deref() == Some(stamp.as_str())
        && fs::metadata(store.content_path(&h)).is_ok_and(|m| m.is_file() && m.len() == size)
    {
        return Ok(false);
    }
    // The write lock first: taking it settles what an interrupted writer left in staging.
    let staging = store.staging_dir();
    let mut tx = store.begin()?;
    let mut publisher = Publisher::new(tx.root());
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, "create", e))?;
    let staged = staging.join(format!("catalog-{}.partial", std::process::id()));
    let d = stage_copy(cab, &staged)?;
    let recorded = tx.content_recorded(&d.sha256)?;
    if !recorded {
        publisher.publish(&staged, &d.sha256)?;
        tx.add_content(&d.sha256, &d.sha1, d.size, &now.rfc3339())?;
    } else if !stored_copy_intact(tx.root(), &d.sha256, d.size) {
        publisher.replace(&staged, &d.sha256)?;
    } else {
        let _ = fs::remove_file(&staged);
    }
    let hex = hex_lower(&d.sha256);
    tx.set_setting(crate::store::CATALOG_SETTING, &hex)?;
    tx.set_setting(CATALOG_STAMP_SETTING, &stamp)?;
    tx.log(
        "CONTENT",
        &format!(
            "Kept the offline catalog {} ({} bytes, SHA-256 {hex}) for offline scans and bundles",
            cab.display(),
            d.size
        ),
        now,
    );
    if let Err(e) = tx.commit() {
        publisher.commit_failed();
        let _ = store.settle();
        return Err(e);
    }
    publisher.committed();
    Ok(true)
}
