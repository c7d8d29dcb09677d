//! `import`: verify a bundle, check its signature against the keys this store trusts, check
//! it against the chain of what this store imported from the same source, stage its new
//! content straight from the media, and merge its metadata in one transaction. A bundle that
//! is refused leaves the store as it was: refusals are written to the log, never to the
//! database.

use super::chain::check_time;
pub use super::chain::{ChainDecision, check_chain};
use super::spill::{Spill, Spilled};
use super::stage::{PassStager, stage_all, staged_name};
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
    /// Bytes read from the bundle's volumes: each volume byte once, plus the end records
    /// and central directory of each volume (read first, from its end).
    pub media_bytes_read: u64,
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
            media_bytes_read: 0,
        }
    }
}

/// Refuses with `err`, writing the refusal to the log (and only there).
fn refuse(store: &Store, m: Option<&Manifest>, err: Error, now: Timestamp) -> Error {
    store.log("IMPORT", &refusal_line(m, &err), now);
    err
}

/// The log line of a refusal (or an interruption).
fn refusal_line(m: Option<&Manifest>, err: &Error) -> String {
    let which = m
        .map(|m| format!("bundle {} (sequence {}) ", m.bundle_id, m.sequence))
        .unwrap_or_default();
    let what = if err.kind == ErrorKind::Interrupted {
        "interrupted"
    } else {
        "refused"
    };
    std::iter::once(format!("Import of {which}{what}: {}", err.message))
        .chain(err.details.iter().cloned())
        .collect::<Vec<_>>()
        .join("; ")
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
    // 0. Never merge into a store whose folders were tampered with (SQLite refuses a damaged
    // page the import touches; `offsync check` checks the whole database).
    store.layout_check()?;
    // What the steps before the merge need of the store, read before the write lock is
    // taken (their errors are reported where they were before).
    let own = Own {
        id: store.id().to_string(),
        trusted: store.trusted_keys(),
        mode: store.upstream_mode(),
        staging: store.staging_dir(),
    };
    // The write lock before the media is read: what the single pass stages is then safe from
    // another writer's recovery, and the plan decides against the state the pass saw.
    let locked = match store.begin() {
        Ok(tx) => under_lock(tx, own, paths, opts, progress),
        Err(e) => Err(Failed::LockedOut(e, Box::new(own))),
    };
    let out = match locked {
        Ok(out) => out,
        Err(Failed::Refused(e)) => return Err(e),
        Err(Failed::LockedOut(e, own)) => {
            return Err(locked_out(store, paths, opts, progress, *own, e));
        }
        Err(Failed::Applying(e, m)) => {
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
    };
    store.log("IMPORT", &outcome_line(&out), now);
    Ok(out)
}

/// How an import under the write lock failed.
enum Failed {
    /// Refused before anything was written (logged already).
    Refused(Error),
    /// The write lock could not be taken.
    LockedOut(Error, Box<Own>),
    /// Failed while applying the bundle: the store is settled, then the refusal logged.
    Applying(Error, Box<Manifest>),
}

/// The import with the write lock held: the single pass, the source checks, then the chain,
/// plan, content and merge, all against one state of the store.
fn under_lock(
    tx: Tx<'_>,
    own: Own,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> std::result::Result<ImportReport, Failed> {
    let now = opts.now;
    // 1. Verify everything before anything is decided: one read of the media, which also
    // stages the content this store lacks and collects the metadata; nothing of it counts
    // unless every check passed.
    let Checked {
        reader,
        metadata,
        mut staged,
        media_bytes_read,
    } = read_once(&tx, &own.staging, paths, opts, progress)
        .map_err(|e| Failed::Refused(refuse_in(&tx, None, e, now)))?;
    let m = reader.manifest().clone();
    let manifest_sha = hex_lower(&reader.manifest_sha256());
    let mut out = ImportReport::for_manifest(&m);
    out.media_bytes_read = media_bytes_read;
    // 2. This store's own bundle, or (once it trusts a key) one not signed by a trusted key.
    if let Err(e) = check_source(&own.id, own.trusted, &reader, &mut out) {
        return Err(Failed::Refused(refuse_in(&tx, Some(&m), e, now)));
    }
    // 3. The chain, time, plan, content and merge.
    let result = own.mode.and_then(|mode| {
        let parts = Parts {
            reader: &reader,
            manifest_sha: &manifest_sha,
            mode,
            staging: &own.staging,
        };
        apply(tx, &parts, metadata, &mut staged, opts, &mut out, progress)
    });
    match result {
        Ok(outcome) => {
            out.outcome = outcome;
            Ok(out)
        }
        Err(e) => Err(Failed::Applying(e, Box::new(m))),
    }
}

/// What the import needs of the store before it takes the write lock.
struct Own {
    id: String,
    trusted: Result<Vec<crate::store::TrustedKey>>,
    mode: Result<crate::store::UpstreamMode>,
    staging: PathBuf,
}

/// What `apply` works from besides the metadata.
struct Parts<'a> {
    reader: &'a BundleReader,
    manifest_sha: &'a str,
    mode: crate::store::UpstreamMode,
    staging: &'a std::path::Path,
}

/// Not this store's own bundle, and (once the store trusts a key) signed by a trusted key.
fn check_source(
    own_id: &str,
    trusted: Result<Vec<crate::store::TrustedKey>>,
    reader: &BundleReader,
    out: &mut ImportReport,
) -> Result<()> {
    if reader.manifest().source.store_id == own_id {
        return Err(
            Error::usage("this bundle was exported by this store itself")
                .with_hint("import it on the isolated side"),
        );
    }
    // Authenticity: once a store trusts any key, only bundles signed by one of them pass.
    let trusted = crate::trust::trusted_public_keys(&trusted?)?;
    let sig = crate::trust::read_signature(reader.manifest_path())?;
    let check = crate::trust::check_signature(&trusted, reader.manifest_bytes(), sig.as_deref())?;
    note_signature(check, out);
    Ok(())
}

/// The write lock could not be taken: the bundle is still checked first (a damaged bundle
/// is refused as damaged, without staging anything), then refused with the lock's error.
fn locked_out(
    store: &mut Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
    own: Own,
    begin: Error,
) -> Error {
    let now = opts.now;
    let reader = match open_verified(store, paths, now, progress) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let m = reader.manifest().clone();
    let mut out = ImportReport::for_manifest(&m);
    let e = check_source(&own.id, own.trusted, &reader, &mut out)
        .and(own.mode.map(|_| ()))
        .err()
        .unwrap_or(begin);
    let e = match store.settle() {
        Ok(true) => {
            e.context("the import is recorded in the store, but its commit reported this error")
        }
        _ => e,
    };
    refuse(store, Some(&m), e, now)
}

/// [`refuse`] from inside the write transaction.
fn refuse_in(tx: &Tx<'_>, m: Option<&Manifest>, err: Error, now: Timestamp) -> Error {
    tx.log("IMPORT", &refusal_line(m, &err), now);
    err
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
    if let Some(err) = verification_failure(&report) {
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

/// The refusal of a bundle whose verification found anything: the first finding decides the
/// exit code.
fn verification_failure(report: &bundle::VerifyReport) -> Option<Error> {
    let kind = report.first_error_kind()?;
    let details = report
        .findings
        .iter()
        .map(|f| format!("{}: {}", f.subject, f.message))
        .collect();
    let msg = format!(
        "the bundle failed verification ({} finding(s))",
        report.findings.len()
    );
    Some(
        Error::new(kind, msg)
            .with_details(details)
            .with_hint("nothing was changed; get an intact copy of the bundle"),
    )
}

/// A bundle read once and found intact.
struct Checked {
    reader: BundleReader,
    metadata: Spilled,
    staged: Staged,
    media_bytes_read: u64,
}

/// Content files staged by the pass (removed when dropped: publishing moves the ones kept),
/// and the first error met writing them, reported where staging is decided.
pub(super) struct Staged {
    dir: PathBuf,
    files: Vec<Digests>,
    error: Option<Error>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        for d in &self.files {
            let _ = fs::remove_file(self.dir.join(staged_name(&d.sha256)));
        }
    }
}

/// Verifies the bundle in one read of the media: the checks of `verify`, while the content
/// files this store does not hold yet are copied into staging and the metadata records are
/// collected. Any finding is a refusal, and what was staged is removed.
fn read_once(
    tx: &Tx<'_>,
    staging: &std::path::Path,
    paths: &[PathBuf],
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Checked> {
    let dry_run = opts.dry_run;
    let wants = move |h: &[u8; 32]| !dry_run && !matches!(tx.content_recorded(h), Ok(true));
    let mut stager = PassStager::new(staging.to_path_buf(), Box::new(wants));
    let report = bundle::verify_into(paths, progress, &mut stager);
    let failed = if progress.cancelled() {
        Some(super::stage::interrupted())
    } else {
        verification_failure(&report)
    };
    if let Some(err) = failed {
        stager.discard();
        return Err(err);
    }
    let media_bytes_read = report.media_bytes_read;
    let listed = report.manifest.as_ref().is_some_and(|m| {
        m.entries
            .iter()
            .any(|e| e.path == bundle::names::METADATA_ENTRY)
    });
    let Some(reader) = BundleReader::from_verified(report) else {
        stager.discard();
        return Err(Error::other(
            "internal error: a bundle verified without finding cannot be opened",
        ));
    };
    if !listed {
        stager.discard();
        return Err(Error::new(
            ErrorKind::Incomplete,
            "the manifest lists no metadata.bin",
        ));
    }
    stager.close_unfinished();
    let staged = Staged {
        dir: staging.to_path_buf(),
        files: std::mem::take(&mut stager.done),
        error: stager.error.take(),
    };
    let records = std::mem::replace(&mut stager.records, Spill::new(staging.to_path_buf()));
    Ok(Checked {
        reader,
        metadata: records.finish()?,
        staged,
        media_bytes_read,
    })
}

/// Notes in `out` what the signature check found.
fn note_signature(check: SignatureCheck, out: &mut ImportReport) {
    match check {
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
fn plan(tx: &Tx<'_>, reader: &BundleReader, md: &Spilled) -> Result<Plan> {
    // Counts, duplicate ids and the store's limits were refused by the pass over the media
    // (the checks verify runs, in `bundle::records`); what is left depends on the store.
    check_categories(tx, &md.categories)?;
    let mut changes = Vec::with_capacity(usize::try_from(md.updates).unwrap_or(0));
    md.for_each_update(&mut |r, _| {
        changes.push(change(tx, &r)?);
        Ok(())
    })?;
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
fn check_categories(tx: &Tx<'_>, categories: &[crate::model::Category]) -> Result<()> {
    let mut parents = tx.category_parents()?;
    for c in categories {
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
    mut tx: Tx<'_>,
    parts: &Parts<'_>,
    md: Spilled,
    staged: &mut Staged,
    opts: &ImportOptions,
    out: &mut ImportReport,
    progress: &dyn Progress,
) -> Result<ImportOutcome> {
    let (reader, manifest_sha, mode) = (parts.reader, parts.manifest_sha, parts.mode);
    let m = reader.manifest();
    let staging = parts.staging;
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

    // Content staged from the media by the pass (hashed while copied), published by SHA-256
    // before the commit under a journal, so that a crash leaves either the old or the new
    // state.
    fs::create_dir_all(staging).map_err(|e| Error::io(staging, "create", e))?;
    let mut publisher = Publisher::new(tx.root());
    let staged = take_staged(
        reader,
        staged,
        staging,
        &plan.to_stage,
        opts.threads,
        progress,
    )?;
    if progress.cancelled() {
        // The last safe point: once publishing starts, the import runs to its commit.
        return Err(super::stage::interrupted());
    }
    for d in &staged {
        publisher.publish(&staging.join(staged_name(&d.sha256)), &d.sha256)?;
    }
    progress.finish();

    merge(&mut tx, &md, &plan.changes, &staged, opts.now)?;
    // The source's offline catalog (a content file of this bundle, now in the store) becomes
    // this store's, for `publish share` and the next hop.
    if let Some(c) = &m.catalog {
        tx.set_setting(crate::store::CATALOG_SETTING, &c.to_string())?;
    }
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

/// The staged files of the plan, in its order: those the pass staged, and (rarely: the store
/// changed since the pass asked) those it did not, copied from the media now. What the pass
/// staged and the plan does not need stays in `staged`, removed when it is dropped.
fn take_staged(
    reader: &BundleReader,
    staged: &mut Staged,
    staging: &std::path::Path,
    to_stage: &[([u8; 32], u64)],
    threads: usize,
    progress: &dyn Progress,
) -> Result<Vec<Digests>> {
    if let Some(e) = staged.error.take() {
        return Err(e);
    }
    let have: std::collections::HashSet<[u8; 32]> = staged.files.iter().map(|d| d.sha256).collect();
    let missing: Vec<([u8; 32], u64)> = to_stage
        .iter()
        .filter(|(h, _)| !have.contains(h))
        .copied()
        .collect();
    if !missing.is_empty() {
        let bytes = missing.iter().map(|(_, s)| s).sum();
        progress.start("copying content", Some(bytes), Unit::Bytes);
        let more = stage_all(reader, staging, &missing, threads, progress)?;
        staged.files.extend(more);
        progress.finish();
    }
    let by_hash: std::collections::HashMap<[u8; 32], Digests> =
        staged.files.iter().map(|d| (d.sha256, *d)).collect();
    Ok(to_stage
        .iter()
        .filter_map(|(h, _)| by_hash.get(h).copied())
        .collect())
}

/// Merges the records in the order of the bundle, each as the plan decided (`changes` has one
/// entry per update record).
fn merge(
    tx: &mut Tx<'_>,
    md: &Spilled,
    changes: &[Change],
    staged: &[Digests],
    now: Timestamp,
) -> Result<()> {
    for c in &md.categories {
        tx.put_category(c)?;
    }
    for d in &md.category_documents {
        tx.put_document(&d.id, d.revision, &d.xml)?;
    }
    let mut planned = changes.iter();
    md.for_each_update(&mut |r, document| {
        let c = planned.next().ok_or_else(|| {
            Error::other("internal error: the metadata holds more records than were planned")
        })?;
        merge_one(tx, &r, *c, now)?;
        // Kept whatever the record did (the store may hold this revision without its
        // document); never over a newer revision's (see `put_document`).
        match document {
            Some(xml) => tx.put_document(&r.update.id, r.update.revision, &xml),
            None => Ok(()),
        }
    })?;
    for d in staged {
        tx.add_content(&d.sha256, &d.sha1, d.size, &now.rfc3339())?;
    }
    Ok(())
}

/// Merges one update record as the plan decided.
fn merge_one(tx: &mut Tx<'_>, r: &bundle::UpdateRecord, c: Change, now: Timestamp) -> Result<()> {
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
