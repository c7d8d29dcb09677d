//! Takes downloaded payload files into a store's content folder: walks a folder (an existing
//! WSUSContent folder, or what an administrator downloaded from the catalog), hashes each
//! candidate while copying it into staging (one read), and publishes the ones whose SHA-256
//! or SHA-1 matches a file reference of an update in the store.

use crate::error::{Error, Result};
use crate::hash::copy_hashing;
use crate::model::hex_lower;
use crate::progress::{Progress, Unit};
use crate::store::{Publisher, ReferencedFile, Store, content_recorded};
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
}

#[derive(Clone, Debug, Serialize)]
pub struct MissingFile {
    pub update_id: String,
    pub title: String,
    pub name: String,
    pub size: Option<u64>,
}

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
    let by_sha256: HashMap<[u8; 32], &ReferencedFile> =
        refs.iter().filter_map(|r| Some((r.sha256?, r))).collect();
    let by_sha1: HashMap<[u8; 20], &ReferencedFile> =
        refs.iter().filter_map(|r| Some((r.sha1?, r))).collect();
    // When every reference has a size, a file of another size cannot match and is not read.
    let sizes: Option<HashSet<u64>> = refs.iter().map(|r| r.size).collect();

    let mut files: Vec<(PathBuf, u64)> = Vec::new();
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
    let mut found: Vec<([u8; 32], [u8; 20], u64)> = Vec::new();
    for (n, (path, len)) in files.iter().enumerate() {
        if sizes.as_ref().is_some_and(|s| !s.contains(len)) {
            report.unmatched.push(path.display().to_string());
            progress.advance(*len);
            continue;
        }
        let staged = staging.join(format!("content-{}-{n}.partial", std::process::id()));
        let digests = (|| -> std::io::Result<_> {
            let mut src = File::open(path)?;
            let mut out = BufWriter::new(File::create(&staged)?);
            let d = copy_hashing(&mut src, &mut out)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            Ok(d)
        })();
        let d = match digests {
            Ok(d) => d,
            Err(e) => {
                let _ = fs::remove_file(&staged);
                return Err(Error::io(path, "read", e));
            }
        };
        progress.advance(*len);
        let hit = by_sha256.get(&d.sha256).copied().or_else(|| {
            by_sha1
                .get(&d.sha1)
                .copied()
                .filter(|r| r.sha256.is_none_or(|h| h == d.sha256))
        });
        let hit = hit.filter(|r| r.size.is_none_or(|s| s == d.size));
        let Some(r) = hit else {
            let _ = fs::remove_file(&staged);
            report.unmatched.push(path.display().to_string());
            continue;
        };
        let recorded = content_recorded(&tx, &d.sha256)?;
        let added = publisher.publish(&staged, &d.sha256, recorded)?;
        found.push((d.sha256, d.sha1, d.size));
        report.matched.push(MatchedFile {
            path: path.display().to_string(),
            name: r.name.clone(),
            sha256: hex_lower(&d.sha256),
            size: d.size,
            added,
        });
    }
    progress.finish();

    for (sha256, sha1, size) in &found {
        if tx.add_content(sha256, sha1, *size, &now.rfc3339())? {
            report.added_files += 1;
            report.added_bytes += size;
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
    let mut seen = HashSet::new();
    for r in store.referenced_files()? {
        if !r.present && seen.insert((r.update_id.clone(), r.name.clone())) {
            report.missing.push(MissingFile {
                update_id: r.update_id,
                title: r.title,
                name: r.name,
                size: r.size,
            });
        }
    }
    store.log(
        "CONTENT",
        &format!(
            "Content import from {}: {} file(s) scanned, {} matched, {} added ({} bytes), {} referenced file(s) missing",
            dir.display(),
            report.scanned,
            report.matched.len(),
            report.added_files,
            report.added_bytes,
            report.missing.len()
        ),
        now,
    );
    Ok(report)
}
