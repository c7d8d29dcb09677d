//! `import --repair`: restores, from a bundle, content files whose stored copy is missing or
//! damaged. Only files the store already records are taken, and only when the bundle's copy
//! has the recorded SHA-256 and SHA-1, so the bundle need not be trusted (or even come from
//! the chain this store imported): the store's own record vouches for every byte, and no
//! metadata, chain or import history changes.

use super::import::{ImportOptions, open_verified};
use super::stage::{stage_all, staged_name};
use crate::error::{Error, ErrorKind, Result};
use crate::model::hex_lower;
use crate::progress::{Progress, Unit};
use crate::store::{Publisher, Store, stored_copy_intact};
use serde::Serialize;
use std::fs;
use std::path::PathBuf;

#[derive(Clone, Debug, Default, Serialize)]
pub struct RepairReport {
    pub bundle_id: String,
    pub sequence: u64,
    pub source_store_name: String,
    /// Content files of the bundle that this store records (each stored copy was read).
    pub checked: u64,
    /// Files restored (or, in a dry run, that would be): lowercase hex SHA-256.
    pub restored: Vec<String>,
    pub restored_bytes: u64,
    pub dry_run: bool,
}

/// Verifies the bundle in full, then restores from it every content file this store records
/// whose stored copy is missing or damaged. Nothing else in the store changes. A failure is
/// written to the log.
pub fn repair(
    store: &mut Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<RepairReport> {
    let r = restore(store, paths, opts, progress);
    if let Err(e) = &r {
        store.log(
            "IMPORT",
            &format!("Repair refused: {}", e.message.replace('\n', " ")),
            opts.now,
        );
    }
    store.report_log_failure(progress);
    r
}

fn restore(
    store: &mut Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<RepairReport> {
    let now = opts.now;
    store.quick_check()?;
    let reader = open_verified(store, paths, now, progress)?;
    let m = reader.manifest().clone();
    let mut out = RepairReport {
        bundle_id: m.bundle_id.clone(),
        sequence: m.sequence,
        source_store_name: m.source.store_name.clone(),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    store.log(
        "IMPORT",
        &format!(
            "Repair from bundle {} (sequence {}) of store '{}' started",
            m.bundle_id, m.sequence, m.source.store_name
        ),
        now,
    );
    // Recorded digests never change once written, so the files to restore can be chosen
    // before the write lock is taken; the lock is held while they are published.
    let staging = store.staging_dir();
    let root = store.root().to_path_buf();
    let files = reader.content_files();
    let total: u64 = files.iter().map(|f| f.1).sum();
    progress.start("reading stored content", Some(total), Unit::Bytes);
    let mut damaged = Vec::new();
    for (h, size) in files {
        if let Some(recorded) = store.content_entry(&h)? {
            out.checked += 1;
            if !stored_copy_intact(&root, &h, recorded.0) {
                damaged.push((h, size, recorded));
            }
        }
        progress.advance(size);
    }
    progress.finish();
    out.restored = damaged.iter().map(|(h, _, _)| hex_lower(h)).collect();
    out.restored_bytes = damaged.iter().map(|(_, s, _)| s).sum();
    if opts.dry_run || damaged.is_empty() {
        return Ok(out);
    }
    let tx = store.begin()?;
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, "create", e))?;
    progress.start("copying content", Some(out.restored_bytes), Unit::Bytes);
    let wanted: Vec<([u8; 32], u64)> = damaged.iter().map(|(h, s, _)| (*h, *s)).collect();
    let staged = stage_all(&reader, &staging, &wanted, opts.threads, progress)?;
    progress.finish();
    let mut publisher = Publisher::new(&root);
    for (d, (_, _, recorded)) in staged.iter().zip(&damaged) {
        let path = staging.join(staged_name(&d.sha256));
        if *recorded != (d.size, d.sha1) {
            let _ = fs::remove_file(&path);
            return Err(Error::new(
                ErrorKind::OutOfSequence,
                format!(
                    "conflict: content file {} in the bundle has another SHA-1 or size than this store records",
                    hex_lower(&d.sha256)
                ),
            )
            .with_hint("nothing was restored from it; the bundle or this store holds altered data"));
        }
        publisher.replace(&path, &d.sha256)?;
    }
    if let Err(e) = tx.commit() {
        publisher.commit_failed();
        let _ = store.settle();
        return Err(e);
    }
    publisher.committed();
    store.log(
        "IMPORT",
        &format!(
            "Repair from bundle {} (sequence {}): restored {} content file(s) ({} bytes): {}",
            m.bundle_id,
            m.sequence,
            out.restored.len(),
            out.restored_bytes,
            out.restored.join(" ")
        ),
        now,
    );
    Ok(out)
}
