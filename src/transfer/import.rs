//! `import`: verify a bundle, check its signature against the keys this store trusts, check
//! it against the chain of what this store imported from the same source, stage its new
//! content straight from the media, and merge its metadata in one transaction. A bundle that
//! is refused leaves the store as it was: refusals are written to the log, never to the
//! database.

use super::chain::check_time;
pub use super::chain::{ChainDecision, check_chain};
use super::stage::{stage_all, staged_name};
use super::stored_state;
use crate::bundle::{self, BundleReader, Manifest, RecordState};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::Digests;
use crate::model::{Change, Changes, encode_canonical, fingerprint, hex_lower};
use crate::progress::{Progress, Unit};
use crate::store::{DecisionReport, ImportRecord, Publisher, Store, StoredState, Tx};
use crate::time::Timestamp;
use crate::trust::SignatureCheck;
use serde::Serialize;
use std::fmt;
use std::fs;
use std::path::PathBuf;

/// The largest step in sequence numbers accepted by default between two bundles of one
/// source: a bundle much further ahead than the last one is more likely forged or mixed up
/// than genuine, and accepting it would make every real bundle after it look old.
pub const DEFAULT_MAX_JUMP: u64 = 1000;

/// Choices for one import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub dry_run: bool,
    /// Import a bundle past its validity, or with a clock earlier than the last import;
    /// recorded in the import history.
    pub allow_expired: bool,
    /// See [`DEFAULT_MAX_JUMP`].
    pub max_jump: u64,
    pub now: Timestamp,
    /// Most files staged at once (each is hashed as it is copied); at least 1.
    pub threads: usize,
}

impl ImportOptions {
    pub fn new(now: Timestamp) -> ImportOptions {
        ImportOptions {
            dry_run: false,
            allow_expired: false,
            max_jump: DEFAULT_MAX_JUMP,
            now,
            threads: 2,
        }
    }
}

/// How an import ended. Serialised as `imported`, `already-imported` or `dry-run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportOutcome {
    Imported,
    AlreadyImported,
    DryRun,
}

impl ImportOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportOutcome::Imported => "imported",
            ImportOutcome::AlreadyImported => "already-imported",
            ImportOutcome::DryRun => "dry-run",
        }
    }
}

impl fmt::Display for ImportOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    pub outcome: ImportOutcome,
    pub bundle_id: String,
    pub source_store_id: String,
    pub source_store_name: String,
    pub sequence: u64,
    pub kind: String,
    /// New, updated, expired, removed and unchanged updates (flattened: the JSON keeps its
    /// field names).
    #[serde(flatten)]
    pub changes: Changes,
    pub categories: u64,
    pub content_files: u64,
    pub content_bytes: u64,
    /// Whether a signature was checked against a key this store trusts.
    pub signature_checked: bool,
    /// The key that signed the bundle, when one was checked.
    pub signed_by: Option<String>,
    /// The source store's decisions that differ from this store's: applied (replica) or
    /// reported and not taken (autonomous).
    pub decisions: DecisionReport,
    pub notes: Vec<String>,
}

impl ImportReport {
    fn for_manifest(m: &Manifest) -> ImportReport {
        ImportReport {
            outcome: ImportOutcome::Imported,
            bundle_id: m.bundle_id.clone(),
            source_store_id: m.source.store_id.clone(),
            source_store_name: m.source.store_name.clone(),
            sequence: m.sequence,
            kind: m.kind.as_str().into(),
            changes: Changes::default(),
            categories: 0,
            content_files: 0,
            content_bytes: 0,
            signature_checked: false,
            signed_by: None,
            decisions: DecisionReport::default(),
            notes: Vec::new(),
        }
    }
}

/// Refuses with `err`, writing the refusal to the log (and only there).
fn refuse(store: &Store, m: Option<&Manifest>, err: Error, now: Timestamp) -> Error {
    let which = m
        .map(|m| format!("bundle {} (sequence {}) ", m.bundle_id, m.sequence))
        .unwrap_or_default();
    let what = if err.kind == ErrorKind::Interrupted {
        "interrupted"
    } else {
        "refused"
    };
    store.log(
        "IMPORT",
        &std::iter::once(format!("Import of {which}{what}: {}", err.message))
            .chain(err.details.iter().cloned())
            .collect::<Vec<_>>()
            .join("; "),
        now,
    );
    err
}

pub fn import(
    store: &mut Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    let result = verify_and_apply(store, paths, opts, progress);
    if let Err(e) = &result
        && e.kind == ErrorKind::Interrupted
        && let Err(w) = store.record_interrupted("import", &e.message, opts.now)
    {
        progress.warn(&format!("the interruption is not recorded for status: {w}"));
    }
    store.report_log_failure(progress);
    result
}

fn verify_and_apply(
    store: &mut Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    let now = opts.now;
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    store.log(
        "IMPORT",
        &format!("Import started from {}", shown.join(" ")),
        now,
    );
    // 0. Never merge into a store that is already damaged.
    store.quick_check()?;
    // 1. Verify everything before anything is decided.
    let reader = open_verified(store, paths, now, progress)?;
    let m = reader.manifest().clone();
    let manifest_sha = hex_lower(&reader.manifest_sha256());
    let mut out = ImportReport::for_manifest(&m);
    if m.source.store_id == store.id() {
        let err = Error::usage("this bundle was exported by this store itself")
            .with_hint("import it on the isolated side");
        return Err(refuse(store, Some(&m), err, now));
    }
    // 2. Authenticity: once a store trusts any key, only bundles signed by one of them pass.
    check_signature(store, &reader, &mut out).map_err(|e| refuse(store, Some(&m), e, now))?;

    // 3. Under the write lock from here on: the chain, time, plan, content and merge are
    // decided and applied against one state of the store.
    let metadata = reader
        .read_metadata()
        .map_err(|e| refuse(store, Some(&m), e, now))?;
    match apply(
        store,
        &reader,
        &manifest_sha,
        metadata,
        opts,
        &mut out,
        progress,
    ) {
        Ok(outcome) => out.outcome = outcome,
        Err(e) => {
            // Leave the store settled: whatever a failed commit left is resolved now, from
            // what the database really holds, rather than by the next writer.
            let e = match store.settle() {
                Ok(true) => e.context(
                    "the import is recorded in the store, but its commit reported this error",
                ),
                _ => e,
            };
            return Err(refuse(store, Some(&m), e, now));
        }
    }
    store.log("IMPORT", &outcome_line(&out), now);
    Ok(out)
}

/// Verifies the bundle in full and opens it, making sure the manifest opened is the one
/// verified (the media could change in between). Any failure is a refusal.
pub(super) fn open_verified(
    store: &Store,
    paths: &[PathBuf],
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<BundleReader> {
    let report = bundle::verify(paths, progress);
    if progress.cancelled() {
        return Err(refuse(store, None, super::stage::interrupted(), now));
    }
    if let Some(kind) = report.first_error_kind() {
        let details = report
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.subject, f.message))
            .collect();
        let msg = format!(
            "the bundle failed verification ({} finding(s))",
            report.findings.len()
        );
        let err = Error::new(kind, msg)
            .with_details(details)
            .with_hint("nothing was changed; get an intact copy of the bundle");
        return Err(refuse(store, None, err, now));
    }
    let reader = BundleReader::open(paths).map_err(|e| refuse(store, None, e, now))?;
    if report.manifest_sha256 != Some(reader.manifest_sha256()) {
        let err = Error::new(
            ErrorKind::Corrupt,
            "manifest.json changed between verification and import",
        )
        .with_hint("nothing was changed; make sure nothing writes to the media during the import");
        return Err(refuse(store, None, err, now));
    }
    Ok(reader)
}

/// Checks the signature and notes in `out` what was checked.
fn check_signature(store: &Store, reader: &BundleReader, out: &mut ImportReport) -> Result<()> {
    match super::signature::check(store, reader)? {
        SignatureCheck::Verified(by) => {
            out.signature_checked = true;
            out.signed_by = Some(by.key_id);
        }
        SignatureCheck::NotChecked { claimed_key_id } => out.notes.push(format!(
            "no signature was checked: this store trusts no key (see `offsync trust add`){}",
            claimed_key_id
                .map(|k| format!("; the bundle claims to be signed by key {k}"))
                .unwrap_or_default()
        )),
    }
    Ok(())
}

/// The log line of a finished import.
fn outcome_line(out: &ImportReport) -> String {
    match out.outcome {
        ImportOutcome::AlreadyImported => format!(
            "Bundle {} (sequence {}) is already imported; nothing to do",
            out.bundle_id, out.sequence
        ),
        ImportOutcome::DryRun => format!(
            "Dry run of bundle {} (sequence {}): nothing changed",
            out.bundle_id, out.sequence
        ),
        ImportOutcome::Imported => format!(
            "Imported {} bundle {} (sequence {}) from store '{}': {} new, {} updated, {} expired, {} removed, {} unchanged, {} content files ({} bytes){}",
            out.kind,
            out.bundle_id,
            out.sequence,
            out.source_store_name,
            out.changes.new,
            out.changes.updated,
            out.changes.expired,
            out.changes.removed,
            out.changes.unchanged,
            out.content_files,
            out.content_bytes,
            out.signed_by
                .as_ref()
                .map(|k| format!(", signed by key {k}"))
                .unwrap_or_default()
        ),
    }
}

/// What a bundle does to the store, decided before anything is written.
struct Plan {
    /// One change per update record, in the order of the metadata.
    changes: Vec<Change>,
    /// Content files of the bundle that the store does not record yet: (sha256, size).
    to_stage: Vec<([u8; 32], u64)>,
}

/// Decides, under the write lock, what each record does; what the store refuses (a category
/// tree too deep for it) is refused here, before anything is written.
fn plan(tx: &Tx<'_>, reader: &BundleReader, md: &bundle::BundleMetadata) -> Result<Plan> {
    // Counts, duplicate ids and the store's limits were refused by `read_metadata` (the
    // same checks verify runs); what is left depends on the store.
    check_categories(tx, md)?;
    let changes = md
        .updates
        .iter()
        .map(|r| change(tx, r))
        .collect::<Result<Vec<_>>>()?;
    let mut to_stage = Vec::new();
    for (h, size) in reader.content_files() {
        if !tx.content_recorded(&h)? {
            to_stage.push((h, size));
        }
    }
    Ok(Plan { changes, to_stage })
}

/// The category tree as it would be after the merge (the store's, with the bundle's
/// categories laid over it) must stay within the store's depth limit and have no cycle.
fn check_categories(tx: &Tx<'_>, md: &bundle::BundleMetadata) -> Result<()> {
    let mut parents = tx.category_parents()?;
    for c in &md.categories {
        parents.insert(
            c.id.as_str().to_string(),
            c.parent.as_ref().map(|p| p.as_str().to_string()),
        );
    }
    crate::store::check_hierarchy(&parents).map_err(|e| e.context("the bundle's categories"))
}

/// Checks the bundle against the chain and the clock, plans it, and (unless a dry run)
/// publishes its new content and merges it in one transaction. Fills the counts of `out`.
fn apply(
    store: &mut Store,
    reader: &BundleReader,
    manifest_sha: &str,
    md: bundle::BundleMetadata,
    opts: &ImportOptions,
    out: &mut ImportReport,
    progress: &dyn Progress,
) -> Result<ImportOutcome> {
    let m = reader.manifest();
    let staging = store.staging_dir();
    let mode = store.upstream_mode()?;
    let mut tx = store.begin()?;
    let history = tx.imports_from(&m.source.store_id)?;
    if check_chain(&history, m, manifest_sha, opts.max_jump)? == ChainDecision::AlreadyImported {
        return Ok(ImportOutcome::AlreadyImported);
    }
    let time_note = check_time(tx.last_import_time()?, m, opts)?;
    out.notes.extend(time_note.clone());
    let plan = plan(&tx, reader, &md)?;
    let mut changes = Changes::default();
    for c in &plan.changes {
        changes.add(*c);
    }
    out.changes = changes;
    out.categories = md.categories.len() as u64;
    out.content_files = plan.to_stage.len() as u64;
    out.content_bytes = plan.to_stage.iter().map(|(_, s)| s).sum();
    let decisions: Vec<(String, bool)> = md
        .decisions
        .iter()
        .map(|d| (d.update.to_string(), d.declined))
        .collect();
    if opts.dry_run {
        out.decisions = tx.take_upstream_decisions(&decisions, mode, false)?;
        return Ok(ImportOutcome::DryRun);
    }

    // Content straight from the media (hash while copying), published by SHA-256 before the
    // commit under a journal, so that a crash leaves either the old or the new state.
    fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, "create", e))?;
    let mut publisher = Publisher::new(tx.root());
    progress.start("copying content", Some(out.content_bytes), Unit::Bytes);
    let staged = stage_all(reader, &staging, &plan.to_stage, opts.threads, progress)?;
    if progress.cancelled() {
        // The last safe point: once publishing starts, the import runs to its commit.
        for d in &staged {
            let _ = fs::remove_file(staging.join(staged_name(&d.sha256)));
        }
        return Err(super::stage::interrupted());
    }
    for d in &staged {
        publisher.publish(&staging.join(staged_name(&d.sha256)), &d.sha256)?;
    }
    progress.finish();

    merge(&mut tx, &md, &plan.changes, &staged, opts.now)?;
    // After the merge, so that a decision about an update this bundle brings finds it.
    out.decisions = tx.take_upstream_decisions(&decisions, mode, true)?;
    tx.record_import(&ImportRecord {
        source_store_id: m.source.store_id.clone(),
        source_store_name: m.source.store_name.clone(),
        sequence: m.sequence,
        bundle_id: m.bundle_id.clone(),
        kind: out.kind.clone(),
        manifest_sha256: manifest_sha.to_string(),
        imported: opts.now.rfc3339(),
        changes,
        content_files: out.content_files,
        content_bytes: out.content_bytes,
        note: time_note,
    })?;
    if let Err(e) = tx.commit() {
        // Whether SQLite applied the transaction anyway is only known once this connection is
        // closed and the database reopened (a commit record can sit in the log); `settle`
        // in `import` does that and lets recovery decide about the published files.
        publisher.commit_failed();
        return Err(e);
    }
    publisher.committed();
    Ok(ImportOutcome::Imported)
}

fn merge(
    tx: &mut Tx<'_>,
    md: &bundle::BundleMetadata,
    changes: &[Change],
    staged: &[Digests],
    now: Timestamp,
) -> Result<()> {
    for c in &md.categories {
        tx.put_category(c)?;
    }
    for (r, c) in md.updates.iter().zip(changes) {
        let state = stored_state(r.state);
        if let Some(what) = c.log_word() {
            tx.log("IMPORT", &crate::store::update_line(what, &r.update), now);
        }
        match c {
            Change::Unchanged => {}
            // The fingerprint an upstream computes of the same revision (model::fingerprint),
            // so that a later sync from that upstream sees this record as unchanged.
            Change::New | Change::Updated => {
                tx.put_update(&r.update, state, Some(&fingerprint(&r.update)?))?;
            }
            Change::Expired | Change::Removed => {
                if tx
                    .stored_doc(r.update.id.as_str())?
                    .is_some_and(|s| s.revision < r.update.revision)
                {
                    tx.put_update(&r.update, state, Some(&fingerprint(&r.update)?))?;
                } else {
                    tx.set_state(r.update.id.as_str(), state)?;
                }
            }
        }
    }
    for d in staged {
        tx.add_content(&d.sha256, &d.sha1, d.size, &now.rfc3339())?;
    }
    Ok(())
}

/// What one record does to the store.
fn change(tx: &Tx<'_>, r: &bundle::UpdateRecord) -> Result<Change> {
    let state = stored_state(r.state);
    let Some(s) = tx.stored_doc(r.update.id.as_str())? else {
        return Ok(if r.state == RecordState::Removed {
            Change::Unchanged
        } else {
            Change::New
        });
    };
    if s.revision > r.update.revision {
        return Ok(Change::Unchanged);
    }
    if s.revision == r.update.revision {
        let doc = encode_canonical(&r.update)?;
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
            return Ok(Change::Unchanged);
        }
    }
    Ok(match state {
        StoredState::Removed if s.state != StoredState::Removed => Change::Removed,
        StoredState::Expired
            if s.state == StoredState::Published && s.revision == r.update.revision =>
        {
            Change::Expired
        }
        _ if s.revision == r.update.revision && s.state == state => Change::Unchanged,
        _ => Change::Updated,
    })
}
