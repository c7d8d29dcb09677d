//! `import`: verify a bundle, check it against the chain of what this store imported from the
//! same source, stage its new content straight from the media, and merge its metadata in one
//! transaction. A bundle that is refused leaves the store as it was.

use super::stored_state;
use crate::bundle::{self, BundleKind, BundleReader, Manifest, RecordState};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::Digests;
use crate::model::hex_lower;
use crate::progress::{Progress, Unit};
use crate::store::{ImportRecord, Store, StoredState, encode_doc, publish};
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    /// `imported`, `already-imported`, or `dry-run`.
    pub outcome: String,
    pub bundle_id: String,
    pub source_store_id: String,
    pub source_store_name: String,
    pub sequence: u64,
    pub kind: String,
    pub new: u64,
    pub updated: u64,
    pub expired: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub categories: u64,
    pub content_files: u64,
    pub content_bytes: u64,
    /// Whether a signature was checked (signing comes with the hardening work).
    pub signature_checked: bool,
    pub notes: Vec<String>,
}

/// What the chain says about a bundle.
#[derive(Debug, PartialEq, Eq)]
pub enum ChainDecision {
    Apply,
    AlreadyImported,
}

/// Applies the chain rules: the same bundle again is a no-op; a conflicting bundle, an older
/// one, or a gap is refused (exit 13); the next incremental or a newer full bundle applies.
pub fn check_chain(store: &Store, m: &Manifest, manifest_sha256: &str) -> Result<ChainDecision> {
    let history = store.imports_from(&m.source.store_id)?;
    if let Some(same) = history.iter().find(|r| r.sequence == m.sequence) {
        if same.manifest_sha256 == manifest_sha256 {
            return Ok(ChainDecision::AlreadyImported);
        }
        return Err(Error::new(
            ErrorKind::OutOfSequence,
            format!(
                "conflicting bundle: sequence {} from store '{}' was imported on {} with a different manifest",
                m.sequence, m.source.store_name, same.imported
            ),
        )
        .with_hint("two different bundles carry the same sequence number; ask the connected side which one is genuine"));
    }
    let last = history.iter().map(|r| r.sequence).max();
    if let Some(last) = last
        && m.sequence < last
    {
        return Err(Error::new(
            ErrorKind::OutOfSequence,
            format!(
                "older bundle: sequence {} from store '{}', but sequence {last} is already imported",
                m.sequence, m.source.store_name
            ),
        )
        .with_hint("an older bundle would roll the store back; import the newest bundle instead"));
    }
    match m.kind {
        BundleKind::Full => Ok(ChainDecision::Apply),
        BundleKind::Incremental => {
            let base = m.base_sequence.ok_or_else(|| {
                Error::new(
                    ErrorKind::Corrupt,
                    "the manifest is incremental but names no base sequence",
                )
            })?;
            if Some(base) == last {
                return Ok(ChainDecision::Apply);
            }
            let first_missing = last.map_or(1, |l| l + 1);
            let missing: Vec<String> = (first_missing..m.sequence).map(|s| s.to_string()).collect();
            let what = if missing.is_empty() {
                format!("it builds on sequence {base}, which this store has not imported")
            } else {
                format!("missing sequence(s) {}", missing.join(", "))
            };
            Err(Error::new(
                ErrorKind::OutOfSequence,
                format!(
                    "gap in the chain from store '{}': bundle {} is incremental and {what}",
                    m.source.store_name, m.sequence
                ),
            )
            .with_hint("import the missing bundles first, or ask for a full bundle (`offsync export --full`)"))
        }
    }
}

/// What a record does to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    New,
    Updated,
    Expired,
    Removed,
    Unchanged,
}

pub fn import(
    store: &mut Store,
    paths: &[PathBuf],
    dry_run: bool,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    // 1. Verify everything before anything is decided.
    let report = bundle::verify(paths, progress);
    if let Some(kind) = report.first_error_kind() {
        let lines: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("  {}: {}", f.subject, f.message))
            .collect();
        let msg = format!(
            "the bundle failed verification ({} finding(s)):\n{}",
            report.findings.len(),
            lines.join("\n")
        );
        store.log(
            "IMPORT",
            &format!("Import refused: {}", msg.replace('\n', " ")),
            now,
        );
        return Err(Error::new(kind, msg)
            .with_hint("nothing was changed; get an intact copy of the bundle"));
    }
    let reader = BundleReader::open(paths)?;
    // The manifest read now must be the one verified: the media could change in between.
    if report.manifest_sha256 != Some(reader.manifest_sha256()) {
        return Err(Error::new(
            ErrorKind::Corrupt,
            "manifest.json changed between verification and import",
        )
        .with_hint(
            "nothing was changed; make sure nothing writes to the media during the import",
        ));
    }
    let m = reader.manifest().clone();
    let manifest_sha = hex_lower(&reader.manifest_sha256());
    let mut out = ImportReport {
        bundle_id: m.bundle_id.clone(),
        source_store_id: m.source.store_id.clone(),
        source_store_name: m.source.store_name.clone(),
        sequence: m.sequence,
        kind: super::export::kind_name(m.kind).into(),
        notes: vec!["no signature was checked: signing is not configured".into()],
        ..Default::default()
    };
    if m.source.store_id == store.id() {
        return Err(
            Error::usage("this bundle was exported by this store itself")
                .with_hint("import it on the isolated side"),
        );
    }

    // 2. The chain.
    match check_chain(store, &m, &manifest_sha) {
        Ok(ChainDecision::AlreadyImported) => {
            out.outcome = "already-imported".into();
            store.log(
                "IMPORT",
                &format!(
                    "Bundle {} (sequence {}) is already imported; nothing to do",
                    m.bundle_id, m.sequence
                ),
                now,
            );
            return Ok(out);
        }
        Ok(ChainDecision::Apply) => {}
        Err(e) => {
            store.log(
                "IMPORT",
                &format!("Import of bundle {} refused: {}", m.bundle_id, e.message),
                now,
            );
            return Err(e);
        }
    }

    // 3. Decode and plan: every record's effect, and the content the store lacks.
    let md = reader.read_metadata()?;
    if md.categories.len() as u64 != m.counts.categories
        || md.updates.len() as u64 != m.counts.updates
    {
        return Err(Error::new(
            ErrorKind::Corrupt,
            "the metadata does not hold the number of records the manifest counts",
        ));
    }
    let mut seen = HashSet::new();
    for r in &md.updates {
        if !seen.insert(r.update.id.clone()) {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("the metadata lists update {} twice", r.update.id),
            ));
        }
    }
    let mut plan: Vec<Effect> = Vec::with_capacity(md.updates.len());
    {
        let tx = store.begin()?; // read under the write lock: the plan stays true until commit
        for r in &md.updates {
            plan.push(effect(&tx, r)?);
        }
        drop(tx);
    }
    let mut to_stage: Vec<([u8; 32], u64)> = Vec::new();
    for (h, size) in reader.content_files() {
        if store.content_entry(&h)?.is_none() {
            to_stage.push((h, size));
        }
    }
    for e in &plan {
        match e {
            Effect::New => out.new += 1,
            Effect::Updated => out.updated += 1,
            Effect::Expired => out.expired += 1,
            Effect::Removed => out.removed += 1,
            Effect::Unchanged => out.unchanged += 1,
        }
    }
    out.categories = md.categories.len() as u64;
    out.content_files = to_stage.len() as u64;
    out.content_bytes = to_stage.iter().map(|(_, s)| s).sum();
    if dry_run {
        out.outcome = "dry-run".into();
        return Ok(out);
    }

    // 4. Stage content straight from the media (hash while copying) and publish it by SHA-256.
    let staging = store.staging_dir();
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, "create", e))?;
    progress.start("copying content", Some(out.content_bytes), Unit::Bytes);
    let mut staged: Vec<Digests> = Vec::new();
    for (h, _) in &to_stage {
        let d = stage_one(&reader, &staging, h, progress)?;
        publish(store.root(), &staging.join(staged_name(h)), h)?;
        staged.push(d);
    }
    progress.finish();

    // 5. Merge, and record the import with the data it protects, in one transaction.
    let mut tx = store.begin()?;
    for c in &md.categories {
        tx.put_category(c)?;
    }
    for (r, e) in md.updates.iter().zip(&plan) {
        let state = stored_state(r.state);
        match e {
            Effect::Unchanged => {}
            Effect::New | Effect::Updated => {
                tx.put_update(&r.update, state, None)?;
            }
            Effect::Expired | Effect::Removed => {
                if tx
                    .stored_doc(r.update.id.as_str())?
                    .is_some_and(|s| s.revision < r.update.revision)
                {
                    tx.put_update(&r.update, state, None)?;
                } else {
                    tx.set_state(r.update.id.as_str(), state)?;
                }
            }
        }
    }
    for d in &staged {
        tx.add_content(&d.sha256, &d.sha1, d.size, &now.rfc3339())?;
    }
    tx.record_import(&ImportRecord {
        source_store_id: m.source.store_id.clone(),
        source_store_name: m.source.store_name.clone(),
        sequence: m.sequence,
        bundle_id: m.bundle_id.clone(),
        kind: out.kind.clone(),
        manifest_sha256: manifest_sha,
        imported: now.rfc3339(),
        new: out.new,
        updated: out.updated,
        expired: out.expired,
        removed: out.removed,
        unchanged: out.unchanged,
        content_files: out.content_files,
        content_bytes: out.content_bytes,
        note: None,
    })?;
    tx.commit()?;
    out.outcome = "imported".into();
    store.log(
        "IMPORT",
        &format!(
            "Imported {} bundle {} (sequence {}) from store '{}': {} new, {} updated, {} expired, {} removed, {} unchanged, {} content files ({} bytes)",
            out.kind, out.bundle_id, out.sequence, out.source_store_name, out.new, out.updated, out.expired, out.removed,
            out.unchanged, out.content_files, out.content_bytes
        ),
        now,
    );
    Ok(out)
}

fn effect(tx: &crate::store::Tx<'_>, r: &bundle::UpdateRecord) -> Result<Effect> {
    let state = stored_state(r.state);
    let Some(s) = tx.stored_doc(r.update.id.as_str())? else {
        return Ok(if r.state == RecordState::Removed {
            Effect::Unchanged
        } else {
            Effect::New
        });
    };
    if s.revision > r.update.revision {
        return Ok(Effect::Unchanged);
    }
    if s.revision == r.update.revision {
        let doc = encode_doc(&r.update)?;
        if doc != s.doc && state != StoredState::Removed {
            return Err(Error::new(
                ErrorKind::OutOfSequence,
                format!(
                    "conflict: update {} revision {} in the bundle differs from the same revision in this store",
                    r.update.id, r.update.revision
                ),
            )
            .with_hint("a revision never changes; the bundle or this store holds altered metadata"));
        }
        if s.state == state {
            return Ok(Effect::Unchanged);
        }
    }
    Ok(match state {
        StoredState::Removed if s.state != StoredState::Removed => Effect::Removed,
        StoredState::Expired
            if s.state == StoredState::Published && s.revision == r.update.revision =>
        {
            Effect::Expired
        }
        _ if s.revision == r.update.revision && s.state == state => Effect::Unchanged,
        _ => Effect::Updated,
    })
}

fn staged_name(h: &[u8; 32]) -> String {
    format!("import-{}.partial", hex_lower(h))
}

/// Copies one content file from the volumes into staging, hashing on the way.
fn stage_one(
    reader: &BundleReader,
    staging: &Path,
    h: &[u8; 32],
    progress: &dyn Progress,
) -> Result<Digests> {
    let path = staging.join(staged_name(h));
    let res = (|| -> Result<Digests> {
        let f = File::create(&path).map_err(|e| Error::io(&path, "create", e))?;
        let mut w = HashingWriter::new(BufWriter::new(f), progress);
        reader.copy_content(h, &mut w)?;
        let (inner, d) = w.finish();
        let f = inner
            .into_inner()
            .map_err(|e| Error::io(&path, "write", e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&path, "write", e))?;
        if d.sha256 != *h {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!("content {} read back with another SHA-256", hex_lower(h)),
            ));
        }
        Ok(d)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&path);
    }
    res
}

/// A writer that computes SHA-1 and SHA-256 of what passes through and reports progress.
struct HashingWriter<'a, W: Write> {
    inner: W,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    size: u64,
    progress: &'a dyn Progress,
}

impl<'a, W: Write> HashingWriter<'a, W> {
    fn new(inner: W, progress: &'a dyn Progress) -> Self {
        use sha2::Digest;
        HashingWriter {
            inner,
            sha1: sha1::Sha1::new(),
            sha256: sha2::Sha256::new(),
            size: 0,
            progress,
        }
    }
    fn finish(self) -> (W, Digests) {
        use sha2::Digest;
        let d = Digests {
            size: self.size,
            sha1: self.sha1.finalize().into(),
            sha256: self.sha256.finalize().into(),
        };
        (self.inner, d)
    }
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.sha1.update(&buf[..n]);
        self.sha256.update(&buf[..n]);
        self.size += n as u64;
        self.progress.advance(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
