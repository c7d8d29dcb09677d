//! Synchronisation: reads an upstream, applies the store's criteria, and merges what changed
//! into the store in one transaction. A sync that fails part way leaves the store as it was
//! and records the failure; the same sync run twice changes nothing the second time.
//!
//! Selection, as in Configuration Manager: an update is taken when one of its categories is a
//! criteria product (or a descendant of one) AND one is a criteria classification, and its
//! languages fit (one of the criteria languages, or language neutral; no language criteria
//! means every language). Bundled children of a selected bundle are taken with it.
//!
//! A run is four steps: `scan` the upstream (categories and one header per update), `plan`
//! what to read (selection against the criteria, comparison with the store), `merge` the
//! updates read in full, and `mark_absent` what a complete upstream no longer lists.

use crate::error::{Error, Result};
use crate::model::{Category, Guid, PublicationState, encode_canonical};
use crate::model::{Changes, SyncOutcome};
use crate::progress::{Progress, Unit};
use crate::store::{
    AdoptOutcome, Criteria, DecisionReport, Publisher, ScanAdd, ScanCandidate, Store, StoredState,
    SyncRunRecord, Tx,
};
use crate::time::Timestamp;
use crate::upstream::{Fetched, ScanItem, ScanSummary, UpdateHeader, Upstream};
use serde::Serialize;
use std::collections::HashMap;

/// What a sync did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncReport {
    pub source: String,
    pub started: String,
    pub finished: String,
    pub outcome: SyncOutcome,
    /// New, updated, expired, removed and unchanged updates (flattened: the JSON keeps its
    /// field names).
    #[serde(flatten)]
    pub changes: Changes,
    /// Categories added or changed.
    pub categories: u64,
    /// Updates in the upstream.
    pub upstream_updates: u64,
    /// Updates the criteria selected (including bundled children).
    pub selected: u64,
    /// Category GUIDs that upstream updates cite but that no category document defines.
    pub unresolved_categories: Vec<String>,
    pub warnings: Vec<String>,
    /// True when no criteria were set, so only categories were taken.
    pub categories_only: bool,
    /// Content files taken from the upstream (a parent store), and their bytes.
    pub content_files: u64,
    pub content_bytes: u64,
    /// Of those, files taken as hard links (the same file system).
    pub content_linked: u64,
    /// The upstream's decisions that differ from this store's: applied or reported.
    pub decisions: DecisionReport,
}

impl SyncReport {
    /// Counts one update under what happened to it: every step counts through here.
    fn count(&mut self, change: Change) {
        self.changes.add(change.counted());
    }
}

/// Choices for one sync run.
#[derive(Clone, Debug, Default)]
pub struct SyncOptions {
    /// Accept a source snapshot older than the one the last successful sync took.
    pub allow_older: bool,
    /// Accept an upstream that would remove (or expire) most of the store, or all of it.
    pub allow_mass_removal: bool,
    /// Take no content files from the upstream (a parent store), only metadata.
    pub metadata_only: bool,
}

/// Runs a sync from `upstream` into `store`. `clock` gives the current time (called at the
/// start and at the end). On failure the store is unchanged except for the failure record.
pub fn sync(
    store: &mut Store,
    upstream: &mut dyn Upstream,
    opts: &SyncOptions,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
) -> Result<SyncReport> {
    let started = clock();
    let source = upstream.describe();
    // Its log lines carry the id its sync_runs row will have (`offsync log --run N`).
    store.begin_sync_run();
    store.log(
        "SYNC",
        &format!("Synchronization started from {source}"),
        started,
    );
    let result = run(store, upstream, opts, clock, progress, started, &source);
    // The scan index is only for this run; its temporary file goes now, whatever happened.
    let _ = store.scan_index_drop();
    let outcome = match result {
        Ok(report) => {
            let now = clock();
            store.log(
                "SYNC",
                &format!(
                    "Synchronization succeeded: {} new, {} updated, {} expired, {} removed, {} unchanged, {} categories changed",
                    report.changes.new, report.changes.updated, report.changes.expired, report.changes.removed, report.changes.unchanged, report.categories
                ),
                now,
            );
            Ok(report)
        }
        Err(err) => {
            record_failure(store, &source, started, clock(), &err);
            Err(err)
        }
    };
    store.end_sync_run();
    outcome
}

/// Records a sync that failed before it could read its upstream (the catalog download failed,
/// the upstream cannot be opened): the same log line and failed run as a sync that failed
/// later, so that `status`, `status --check` and `log --run` see it.
pub fn record_failed_sync(
    store: &mut Store,
    source: &str,
    started: Timestamp,
    now: Timestamp,
    err: &Error,
) {
    store.begin_sync_run();
    store.log(
        "SYNC",
        &format!("Synchronization started from {source}"),
        started,
    );
    record_failure(store, source, started, now, err);
    store.end_sync_run();
}

/// The "Synchronization failed" log line and the failed sync_runs row.
fn record_failure(
    store: &mut Store,
    source: &str,
    started: Timestamp,
    now: Timestamp,
    err: &Error,
) {
    store.log(
        "SYNC",
        &format!("Synchronization failed: {}", err.message),
        now,
    );
    // Recorded in its own transaction after the failed one rolled back. If even this
    // fails (the disk is full, say), the original error is what the operator needs.
    let record = SyncRunRecord {
        started: started.rfc3339(),
        finished: Some(now.rfc3339()),
        source: source.to_string(),
        outcome: SyncOutcome::Failed,
        error: Some(err.message.clone()),
        ..Default::default()
    };
    if let Ok(mut tx) = store.begin()
        && tx.record_sync_run(&record).is_ok()
    {
        let _ = tx.commit();
    }
}

/// What the scan read of the upstream. The headers themselves are in the store's scan index
/// (temporary tables), not in memory: what is kept here does not grow with the upstream.
struct Scanned {
    /// Each category with the upstream's document of it, when the source has one.
    categories: Vec<(Category, Option<Vec<u8>>)>,
    /// Updates the upstream lists (one per GUID).
    updates: u64,
    summary: ScanSummary,
}

/// What the merge is to do; the updates to read are in the scan index.
struct Plan {
    /// How many updates are to be read in full.
    to_fetch: u64,
    /// Category GUIDs that updates cite and no category defines, sorted.
    unresolved: Vec<String>,
    /// The languages the upstream's updates name (sorted, space separated), language
    /// neutral (`all`) left out: what `criteria set` checks language criteria against.
    languages: String,
    /// Stored updates not removed, and how many of them a complete upstream no longer lists
    /// (counted before the merge).
    absent: (u64, u64),
}

fn run(
    store: &mut Store,
    upstream: &mut dyn Upstream,
    opts: &SyncOptions,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
    started: Timestamp,
    source: &str,
) -> Result<SyncReport> {
    let mut report = SyncReport {
        source: source.to_string(),
        started: started.rfc3339(),
        ..Default::default()
    };
    let criteria = store.criteria()?;
    let scanned = scan(store, upstream, &criteria, progress)?;
    report
        .warnings
        .extend(scanned.summary.warnings.iter().cloned());
    check_age(store, &scanned.summary, opts)?;
    report.upstream_updates = scanned.updates;
    let read = format!(
        "Read {} categories and {} updates from {source}",
        scanned.categories.len(),
        scanned.updates
    );
    store.log("SYNC", &read, clock());

    let mode = store.upstream_mode()?;
    let mut tx = store.begin()?;
    for (c, document) in &scanned.categories {
        if tx.put_category(c)? {
            report.categories += 1;
        }
        if let Some(d) = document {
            tx.put_document(&c.id, c.revision, d)?;
        }
    }
    // Selection against the criteria, with the category tree as it is after this sync.
    let parents = tx.category_parents()?;
    // A tree too deep (or with a cycle) is refused before anything commits (exit 16).
    crate::store::check_hierarchy(&parents).map_err(|e| e.context("the upstream's categories"))?;
    let plan = plan(&tx, &scanned, &criteria, &parents, &mut report)?;
    let selected = format!(
        "Selected {} of {} updates; {} new or changed to read, {} unchanged",
        report.selected, scanned.updates, plan.to_fetch, report.changes.unchanged
    );
    store_log_phase(&tx, clock(), &selected);
    merge(&mut tx, upstream, &plan, &mut report, progress, clock())?;
    if scanned.summary.complete {
        mark_absent(&mut tx, &scanned, plan.absent, opts, &mut report, clock())?;
    }
    report.decisions = tx.take_upstream_decisions(&upstream.decisions()?, mode, true)?;
    let mut publisher = Publisher::new(tx.root());
    if !opts.metadata_only {
        take_content(
            &mut tx,
            upstream,
            &mut publisher,
            &mut report,
            clock,
            progress,
        )?;
    }

    if !plan.unresolved.is_empty() {
        report.warnings.push(format!(
            "{} category GUID(s) cited by updates are defined by no category document (kept with the updates): {}",
            plan.unresolved.len(),
            plan.unresolved.join(", ")
        ));
    }
    report.unresolved_categories = plan.unresolved;

    let finished = clock();
    report.finished = finished.rfc3339();
    report.outcome = SyncOutcome::Succeeded;
    record(&mut tx, &report, &scanned.summary)?;
    if let Err(e) = tx.commit() {
        // As every writer that publishes content does: settle the connection before anything
        // else (the failure record) opens a transaction whose recovery could remove files the
        // commit recorded after all.
        publisher.commit_failed();
        let _ = store.settle();
        return Err(e);
    }
    publisher.committed();
    // What `criteria set` checks language criteria against.
    store.set_setting(crate::store::UPSTREAM_LANGUAGES, &plan.languages)?;
    for w in &report.warnings {
        store.log("SYNC", &format!("Warning: {w}"), finished);
    }
    Ok(report)
}

/// Pass 1: every category in full, and a small header per update (the newest revision of
/// each) into the store's scan index. A revision that appears twice with different content
/// is an error.
fn scan(
    store: &Store,
    upstream: &mut dyn Upstream,
    criteria: &Criteria,
    progress: &dyn Progress,
) -> Result<Scanned> {
    let langs: Vec<String> = criteria
        .languages
        .iter()
        .map(|l| l.to_ascii_lowercase())
        .collect();
    // Whether an update's languages fit: one of the criteria languages, or language neutral
    // (none listed, or `all`); no language criteria means every language. Known before the
    // scan, unlike the category tree.
    let lang_ok = |h: &UpdateHeader| {
        langs.is_empty()
            || h.languages.is_empty()
            || h.languages.iter().any(|l| l == "all" || langs.contains(l))
    };
    let mut categories: Vec<(Category, Option<Vec<u8>>)> = Vec::new();
    let mut updates = 0u64;
    let mut dup_error: Option<(Guid, u32, u64, u64)> = None;
    store.scan_index_open()?;
    let result = upstream.scan(
        &mut |item| {
            match item {
                ScanItem::Category(c, document) => categories.push((c, document)),
                ScanItem::Update(h) => match store.scan_index_add(&h, lang_ok(&h))? {
                    ScanAdd::New => updates += 1,
                    ScanAdd::Conflict(old_key) => {
                        dup_error.get_or_insert((h.id.clone(), h.revision, old_key, h.key));
                    }
                    ScanAdd::Replaced | ScanAdd::Ignored => {}
                },
            }
            Ok(())
        },
        progress,
    );
    let closed = store.scan_index_close(result.is_ok() && dup_error.is_none());
    let summary = result?;
    closed?;
    if let Some((id, rev, a, b)) = dup_error {
        return Err(Error::other(format!(
            "update {id} revision {rev} appears twice with different content: {} and {}",
            upstream.locate(a),
            upstream.locate(b)
        ))
        .with_hint("a revision never changes upstream; remove the document that is wrong"));
    }
    Ok(Scanned {
        categories,
        updates,
        summary,
    })
}

/// Applies the criteria and compares with the store: what to fetch (into the scan index),
/// what is unchanged (counted here), and the warnings about the criteria and about revisions
/// older than the stored ones.
fn plan(
    tx: &Tx<'_>,
    scanned: &Scanned,
    criteria: &Criteria,
    parents: &HashMap<String, Option<String>>,
    report: &mut SyncReport,
) -> Result<Plan> {
    report.categories_only = criteria.is_empty();
    if !report.categories_only {
        let products = crate::store::with_descendants(&criteria.products, parents);
        let classes = crate::store::with_descendants(&criteria.classifications, parents);
        report.selected = tx.scan_select(&products, &classes)?;
    }
    if !report.categories_only
        && (criteria.products.is_empty() || criteria.classifications.is_empty())
    {
        report.warnings.push(format!(
            "no {} chosen: an update needs one of each, so none is selected (see `offsync criteria set`)",
            if criteria.products.is_empty() { "products are" } else { "classifications are" }
        ));
    }
    if report.categories_only {
        report
            .warnings
            .push("no products and classifications are chosen yet: only categories were synchronised (see `offsync criteria set`)".into());
    }

    let (cited, mut languages) = tx.scan_cited()?;
    languages.remove("all");
    let absent = if scanned.summary.complete {
        tx.scan_absent_counts()?
    } else {
        (0, 0)
    };
    // What the criteria select, then what the store already holds of this upstream even if
    // the criteria no longer select it: a stored update is kept current, never frozen.
    for selected in [true, false] {
        tx.scan_candidates(selected, &mut |c| {
            let change = classify(&c);
            match change {
                Change::Unchanged => report.count(change),
                Change::Older(stored_rev) => {
                    report.count(change);
                    report.warnings.push(format!(
                        "upstream has revision {} of {}, older than the stored revision {stored_rev}; kept the stored one",
                        c.revision, c.id
                    ));
                }
                _ => tx.scan_plan_fetch(c.key, &c.id, change.code())?,
            }
            Ok(())
        })?;
    }
    Ok(Plan {
        to_fetch: tx.scan_fetch_count()?,
        unresolved: cited
            .into_iter()
            .filter(|c| !parents.contains_key(c))
            .collect(),
        languages: languages.into_iter().collect::<Vec<_>>().join(" "),
        absent,
    })
}

/// Keys handed to one call of [`Upstream::fetch`]: what the merge holds in memory at once.
const FETCH_CHUNK: usize = 1 << 16;

/// Pass 2: reads the planned updates in full and writes them, counting each as planned.
fn merge(
    tx: &mut Tx<'_>,
    upstream: &mut dyn Upstream,
    plan: &Plan,
    report: &mut SyncReport,
    progress: &dyn Progress,
    now: Timestamp,
) -> Result<()> {
    let mut fetch_err: Option<Error> = None;
    progress.start("reading selected updates", Some(plan.to_fetch), Unit::Items);
    let mut after = None;
    while fetch_err.is_none() {
        let keys = tx.scan_fetch_keys(after, FETCH_CHUNK)?;
        let Some(&last) = keys.last() else { break };
        after = Some(last);
        upstream.fetch(
            &keys,
            &mut |fetched| {
                if fetch_err.is_some() {
                    return Ok(());
                }
                let id = fetched.update.id.clone();
                let Some((code, fingerprint)) = tx.scan_planned(id.as_str())? else {
                    fetch_err = Some(Error::other(format!(
                        "update {id} changed while the sync was reading it"
                    )));
                    return Ok(());
                };
                let Some(u) = write_fetched(tx, fetched, Some(&fingerprint))? else {
                    // The stored copy came another way (an import, another reader of the same
                    // data) and is this revision exactly: not a change. Only the upstream's
                    // fingerprint is noted, so that the next sync need not read it again.
                    tx.set_fingerprint(id.as_str(), &fingerprint)?;
                    report.count(Change::Unchanged);
                    return Ok(());
                };
                let change = Change::from_code(code);
                report.count(change);
                let word = change.counted().log_word().unwrap_or("unchanged");
                tx.log("SYNC", &crate::store::update_line(word, &u), now);
                Ok(())
            },
            &Continued(progress),
        )?;
    }
    progress.finish();
    fetch_err.map_or(Ok(()), Err)
}

/// One phase of progress fed by several calls that each start and finish their own.
struct Continued<'a>(&'a dyn Progress);

impl Progress for Continued<'_> {
    fn start(&self, _: &str, _: Option<u64>, _: Unit) {}
    fn advance(&self, n: u64) {
        self.0.advance(n);
    }
    fn finish(&self) {}
    fn note(&self, line: &str) {
        self.0.note(line);
    }
    fn warn(&self, message: &str) {
        self.0.warn(message);
    }
    fn cancelled(&self) -> bool {
        self.0.cancelled()
    }
}

/// Writes an update read in full from an upstream, and keeps the upstream's document of it,
/// unless the store holds exactly this revision already: then returns `None` (the document is
/// kept all the same). The one merge of an upstream's update, for the sync and for
/// `catalog import` (`crate::ops::catalog`).
pub(crate) fn write_fetched(
    tx: &mut Tx<'_>,
    fetched: Fetched,
    fingerprint: Option<&[u8; 32]>,
) -> Result<Option<crate::model::Update>> {
    let Fetched {
        update: mut u,
        document,
    } = fetched;
    if let Some(d) = &document {
        tx.put_document(&u.id, u.revision, d)?;
    }
    u.normalize();
    let state = match u.publication_state {
        PublicationState::Expired => StoredState::Expired,
        PublicationState::Published => StoredState::Published,
    };
    if same_as_stored(tx, &u, state)? {
        return Ok(None);
    }
    tx.put_update(&u, state, fingerprint)?;
    Ok(Some(u))
}

/// Whether the store holds exactly this revision in this state (its fingerprint aside).
fn same_as_stored(tx: &Tx<'_>, u: &crate::model::Update, state: StoredState) -> Result<bool> {
    let Some(s) = tx.stored_doc(u.id.as_str())? else {
        return Ok(false);
    };
    Ok(s.revision == u.revision && s.state == state && s.doc == encode_canonical(u)?)
}

/// Takes from the upstream (a parent store) the content files that the stored updates
/// reference and this store lacks: staged by hard link or copy, hashed in one read, and
/// published before the commit under the store's journal. A file whose bytes do not match its
/// SHA-256 is left out with a warning (the parent's copy is damaged).
fn take_content(
    tx: &mut Tx<'_>,
    upstream: &dyn Upstream,
    publisher: &mut Publisher,
    report: &mut SyncReport,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
) -> Result<()> {
    let mut sources = Vec::new();
    // The SHA-256s in `sources`: a file named by several references is taken once.
    let mut seen = std::collections::HashSet::new();
    tx.missing_references(&mut |r| {
        if let Some(f) = upstream.content_file(r.sha256.as_ref(), r.sha1.as_ref())?
            && !tx.content_recorded(&f.sha256)?
            && seen.insert(f.sha256)
        {
            sources.push(f);
        }
        Ok(())
    })?;
    if sources.is_empty() {
        return Ok(());
    }
    let total = sources.iter().map(|f| f.size).sum();
    progress.start("taking content from the upstream", Some(total), Unit::Bytes);
    let added = clock().rfc3339();
    for f in &sources {
        match crate::store::stage_adopted(tx.root(), &f.path, &f.sha256)? {
            AdoptOutcome::Mismatch { found } => report.warnings.push(format!(
                "{} does not match its SHA-256 (read {}): left out; check the upstream with `offsync check --read-data`",
                f.path.display(),
                crate::model::hex_lower(&found)
            )),
            AdoptOutcome::NotAFile => report.warnings.push(format!(
                "{} is not a regular file: left out; check the upstream with `offsync check`",
                f.path.display()
            )),
            AdoptOutcome::Staged(a) => {
                publisher.publish(&a.staged, &f.sha256)?;
                let d = a.digests;
                tx.add_content(&d.sha256, &d.sha1, d.size, &added)?;
                report.content_files += 1;
                report.content_bytes += d.size;
                report.content_linked += u64::from(a.linked);
            }
        }
        progress.advance(f.size);
    }
    progress.finish();
    Ok(())
}

/// What a complete upstream no longer lists becomes a tombstone (or, for the offline catalog,
/// expired), never a deletion; unless allowed, not when that would take most of the store.
/// `counts`: the stored updates not removed, and how many of them the upstream does not list.
fn mark_absent(
    tx: &mut Tx<'_>,
    scanned: &Scanned,
    counts: (u64, u64),
    opts: &SyncOptions,
    report: &mut SyncReport,
    now: Timestamp,
) -> Result<()> {
    let summary = &scanned.summary;
    let (live, going) = counts;
    // As the README says, at any size: more than half, or all (1 of 1, 2 of 3 are refused).
    if !opts.allow_mass_removal && going > 0 && going * 2 > live {
        return Err(Error::other(format!(
            "the upstream lists {} updates; taking it as complete would mark {going} of the {live} stored updates {}",
            scanned.updates,
            if summary.absent_means_expired { "expired" } else { "removed" }
        ))
        .with_hint("an empty or partly copied upstream folder looks like this; check the source, or pass --allow-mass-removal if it is right"));
    }
    let (absent_state, change) = if summary.absent_means_expired {
        (StoredState::Expired, Change::Expired)
    } else {
        (StoredState::Removed, Change::Removed)
    };
    let word = change.counted().log_word().unwrap_or("unchanged");
    // In pages, in GUID order: what goes is never all in memory at once.
    let mut after = String::new();
    loop {
        let gone = tx.scan_absent(!summary.absent_means_expired, &after, 1024)?;
        let Some(last) = gone.last() else { break };
        after = last.clone();
        for id in &gone {
            if tx.set_state(id, absent_state)? {
                report.count(change);
                // The same line as any other changed update (KB, title, revision), from the
                // stored document: only the updates that go are read.
                let line = match tx.stored_doc(id)? {
                    Some(s) => {
                        crate::store::update_line(word, &crate::store::decode_update_doc(&s.doc)?)
                    }
                    None => format!("Update {id}: {word}"),
                };
                tx.log(
                    "SYNC",
                    &format!("{line} (absent from the complete upstream)"),
                    now,
                );
            }
        }
    }
    Ok(())
}

/// Refuses a source snapshot older than the last one synced, unless allowed.
fn check_age(store: &Store, summary: &ScanSummary, opts: &SyncOptions) -> Result<()> {
    let (Some(created), Some((_, Some(last)))) = (&summary.created, store.last_successful_sync()?)
    else {
        return Ok(());
    };
    let (Some(now_t), Some(last_t)) = (
        Timestamp::parse_rfc3339(created),
        Timestamp::parse_rfc3339(&last),
    ) else {
        return Ok(());
    };
    if now_t < last_t && !opts.allow_older {
        return Err(Error::other(format!(
            "the source was created {created}, before the one the last sync took ({last}): syncing it would roll the store back"
        ))
        .with_hint("use the newer source, or pass --allow-older if rolling back is intended"));
    }
    Ok(())
}

/// Writes a phase line to the store's log while a transaction holds the store.
fn store_log_phase(tx: &Tx<'_>, now: Timestamp, message: &str) {
    tx.log("SYNC", message, now);
}

fn record(tx: &mut Tx<'_>, r: &SyncReport, s: &ScanSummary) -> Result<()> {
    tx.record_sync_run(&SyncRunRecord {
        started: r.started.clone(),
        finished: Some(r.finished.clone()),
        source: r.source.clone(),
        outcome: r.outcome,
        changes: r.changes,
        categories: r.categories,
        package_id: s.package_id.clone(),
        package_created: s.created.clone(),
        error: None,
    })?;
    Ok(())
}

/// What a sync does to one update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    New,
    Updated,
    Expired,
    /// Absent from a complete upstream: a tombstone.
    Removed,
    Unchanged,
    /// The upstream's revision is older than the stored one (which is kept).
    Older(u32),
}

impl Change {
    /// The change as the reports and history count it (an older upstream revision leaves
    /// the stored one unchanged).
    fn counted(self) -> crate::model::Change {
        match self {
            Change::New => crate::model::Change::New,
            Change::Updated => crate::model::Change::Updated,
            Change::Expired => crate::model::Change::Expired,
            Change::Removed => crate::model::Change::Removed,
            Change::Unchanged | Change::Older(_) => crate::model::Change::Unchanged,
        }
    }
}

impl Change {
    /// The code the scan index keeps for a planned read (new, updated or expired).
    fn code(self) -> u8 {
        match self {
            Change::New => 0,
            Change::Expired => 2,
            _ => 1,
        }
    }

    fn from_code(code: u8) -> Change {
        match code {
            0 => Change::New,
            2 => Change::Expired,
            _ => Change::Updated,
        }
    }
}

fn classify(c: &ScanCandidate) -> Change {
    let Some(s) = &c.stored else {
        return Change::New;
    };
    if s.revision > c.revision {
        return Change::Older(s.revision);
    }
    let now_expired = c.expired;
    let same_state = match s.state {
        StoredState::Published => !now_expired,
        StoredState::Expired => now_expired,
        StoredState::Removed => false,
    };
    // The stored state is compared too: an update expired by its absence from a catalog
    // comes back published when it reappears, with the same fingerprint as before.
    if s.revision == c.revision && s.fingerprint == Some(c.fingerprint) && same_state {
        return Change::Unchanged;
    }
    if now_expired && s.state == StoredState::Published {
        return Change::Expired;
    }
    Change::Updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BundledRef, CategoryKind, Localized, Update};
    use crate::progress::NoProgress;
    use crate::upstream::ScanSummary;
    use std::collections::BTreeMap;

    const MICROSOFT: &str = "56309036-4c77-4dd9-951a-99ee9c246a94";
    const WINDOWS: &str = "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d";
    const WIN10: &str = "a3c2375d-0c8a-42f9-bce0-28333e198407";
    const OFFICE2016: &str = "25aed893-7c2d-4a31-ae22-28ff8ac150ed";
    const SECURITY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";

    fn g(s: &str) -> Guid {
        Guid::parse(s).unwrap()
    }

    fn cat(id: &str, kind: CategoryKind, title: &str, parent: Option<&str>) -> Category {
        Category {
            id: g(id),
            revision: 1,
            kind,
            title: title.into(),
            parent: parent.map(g),
        }
    }

    fn upd(n: u32, rev: u32, cats: &[&str]) -> Update {
        let mut localized = BTreeMap::new();
        localized.insert(
            "en".to_string(),
            Localized {
                title: format!("Update {n}"),
                description: None,
            },
        );
        Update {
            id: g(&format!("00000000-0000-0000-0000-{n:012}")),
            revision: rev,
            update_type: "Software".into(),
            default_language: Some("en".into()),
            localized,
            kb: Some(format!("{}", 5_000_000 + n)),
            severity: None,
            creation_date: None,
            languages: vec![],
            categories: cats.iter().map(|c| g(c)).collect(),
            publication_state: PublicationState::Published,
            supersedes: vec![],
            bundled: vec![],
            files: vec![],
        }
    }

    /// An in-memory upstream; `fail_after` makes fetch fail after that many updates.
    struct Fake {
        cats: Vec<Category>,
        updates: Vec<Update>,
        fail_after: Option<usize>,
    }

    impl Upstream for Fake {
        fn describe(&self) -> String {
            "fake".into()
        }
        fn locate(&self, key: u64) -> String {
            format!("item {key}")
        }
        fn scan(
            &mut self,
            sink: &mut dyn FnMut(ScanItem) -> Result<()>,
            _: &dyn Progress,
        ) -> Result<ScanSummary> {
            for c in &self.cats {
                sink(ScanItem::Category(c.clone(), None))?;
            }
            for (i, u) in self.updates.iter().enumerate() {
                let fp = crate::hash::sha256(
                    &bincode::encode_to_vec(u, bincode::config::standard()).unwrap(),
                );
                sink(ScanItem::Update(crate::upstream::folder::header(
                    u, fp, i as u64,
                )))?;
            }
            Ok(ScanSummary {
                complete: true,
                ..Default::default()
            })
        }
        fn fetch(
            &mut self,
            keys: &[u64],
            sink: &mut dyn FnMut(Fetched) -> Result<()>,
            _: &dyn Progress,
        ) -> Result<()> {
            for (n, k) in keys.iter().enumerate() {
                if self.fail_after == Some(n) {
                    return Err(Error::other("upstream went away"));
                }
                sink(Fetched {
                    update: self.updates[*k as usize].clone(),
                    document: None,
                })?;
            }
            Ok(())
        }
    }

    fn fixture() -> Fake {
        let mut bundle = upd(10, 100, &[WIN10, SECURITY]);
        bundle.bundled = vec![BundledRef {
            id: g("00000000-0000-0000-0000-000000000011"),
            revision: Some(100),
        }];
        let child = upd(11, 100, &[]);
        let mut german = upd(12, 100, &[WIN10, SECURITY]);
        german.languages = vec!["de".into()];
        let mut neutral = upd(13, 100, &[WIN10, SECURITY]);
        neutral.languages = vec!["all".into()];
        Fake {
            cats: vec![
                cat(MICROSOFT, CategoryKind::Company, "Microsoft", None),
                cat(
                    WINDOWS,
                    CategoryKind::ProductFamily,
                    "Windows",
                    Some(MICROSOFT),
                ),
                cat(WIN10, CategoryKind::Product, "Windows 10", Some(WINDOWS)),
                cat(OFFICE2016, CategoryKind::Product, "Office 2016", None),
                cat(
                    SECURITY,
                    CategoryKind::Classification,
                    "Security Updates",
                    None,
                ),
            ],
            updates: vec![
                upd(1, 200, &[WIN10, SECURITY]),
                upd(2, 200, &[OFFICE2016, SECURITY]),
                bundle,
                child,
                german,
                neutral,
            ],
            fail_after: None,
        }
    }

    /// A sync with default options, the test clock and no progress.
    fn go(s: &mut Store, up: &mut Fake) -> Result<SyncReport> {
        sync(s, up, &SyncOptions::default(), &clock, &NoProgress)
    }

    fn clock() -> Timestamp {
        Timestamp(1_795_700_000)
    }

    fn store(dir: &std::path::Path, products: &[&str], langs: &[&str]) -> Store {
        let mut s = Store::init(&dir.join("s"), Some("t"), clock()).unwrap();
        let mut tx = s.begin().unwrap();
        tx.set_criteria(
            crate::store::CriteriaKind::Product,
            &products.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        tx.set_criteria(
            crate::store::CriteriaKind::Classification,
            &[SECURITY.to_string()],
        )
        .unwrap();
        tx.set_criteria(
            crate::store::CriteriaKind::Language,
            &langs.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
        )
        .unwrap();
        tx.commit().unwrap();
        s
    }

    fn ids(s: &Store) -> Vec<String> {
        let mut v: Vec<String> = s
            .list_updates(&Default::default())
            .unwrap()
            .into_iter()
            .map(|u| u.update_id[u.update_id.len() - 2..].to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn family_criteria_select_descendant_products_and_bundle_children() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), &[WINDOWS], &[]);
        let r = go(&mut s, &mut fixture()).unwrap();
        assert_eq!(ids(&s), ["01", "10", "11", "12", "13"]);
        assert_eq!(
            (
                r.changes.new,
                r.changes.updated,
                r.changes.unchanged,
                r.selected
            ),
            (5, 0, 0, 5)
        );
    }

    #[test]
    fn language_criteria_keep_neutral_updates() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), &[WIN10], &["fr"]);
        go(&mut s, &mut fixture()).unwrap();
        assert_eq!(
            ids(&s),
            ["01", "10", "11", "13"],
            "the German-only update is left out"
        );
    }

    #[test]
    fn second_identical_sync_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), &[WIN10], &[]);
        go(&mut s, &mut fixture()).unwrap();
        let seq = s.totals().unwrap().change_seq;
        let r = go(&mut s, &mut fixture()).unwrap();
        assert_eq!(
            (
                r.changes.new,
                r.changes.updated,
                r.changes.removed,
                r.changes.unchanged,
                r.categories
            ),
            (0, 0, 0, 5, 0)
        );
        assert_eq!(
            s.totals().unwrap().change_seq,
            seq,
            "no change took a sequence number"
        );
    }

    #[test]
    fn revision_expiry_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), &[WIN10], &[]);
        go(&mut s, &mut fixture()).unwrap();
        let mut next = fixture();
        next.updates[0].revision = 201;
        next.updates[4].publication_state = PublicationState::Expired;
        next.updates.remove(5);
        let r = go(&mut s, &mut next).unwrap();
        assert_eq!(
            (
                r.changes.new,
                r.changes.updated,
                r.changes.expired,
                r.changes.removed
            ),
            (0, 1, 1, 1)
        );
        let all = s.list_updates(&Default::default()).unwrap();
        let state = |n: &str| {
            all.iter()
                .find(|u| u.update_id.ends_with(n))
                .unwrap()
                .state
                .clone()
        };
        assert_eq!(state("01"), "published");
        assert_eq!(state("12"), "expired");
        assert_eq!(state("13"), "removed", "a tombstone, still listed");
        assert_eq!(
            all.iter()
                .find(|u| u.update_id.ends_with("01"))
                .unwrap()
                .revision,
            201
        );
    }

    #[test]
    fn failed_sync_leaves_the_store_unchanged_and_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), &[WIN10], &[]);
        go(&mut s, &mut fixture()).unwrap();
        let before = (ids(&s), s.totals().unwrap().change_seq);
        let mut revisions_before: Vec<(String, u32)> = s
            .list_updates(&Default::default())
            .unwrap()
            .into_iter()
            .map(|u| (u.update_id, u.revision))
            .collect();
        revisions_before.sort();
        let mut next = fixture();
        for u in &mut next.updates {
            u.revision += 1;
        }
        next.fail_after = Some(2);
        let err = go(&mut s, &mut next).unwrap_err();
        assert!(err.message.contains("upstream went away"), "{err}");
        assert_eq!((ids(&s), s.totals().unwrap().change_seq), before);
        let revisions = |s: &Store| -> Vec<(String, u32)> {
            let mut v: Vec<_> = s
                .list_updates(&Default::default())
                .unwrap()
                .into_iter()
                .map(|u| (u.update_id, u.revision))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            revisions(&s),
            revisions_before,
            "no revision of the failed sync stayed"
        );
        let last = s.last_sync().unwrap().unwrap();
        assert_eq!(last.outcome, "failed");
        assert!(last.error.unwrap().contains("upstream went away"));
    }

    #[test]
    fn declined_survives_a_new_revision() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path(), &[WIN10], &[]);
        go(&mut s, &mut fixture()).unwrap();
        let id = "00000000-0000-0000-0000-000000000001";
        let mut tx = s.begin().unwrap();
        assert!(tx.set_declined(id, true).unwrap());
        tx.commit().unwrap();
        let mut next = fixture();
        next.updates[0].revision = 300;
        go(&mut s, &mut next).unwrap();
        let u = s
            .list_updates(&Default::default())
            .unwrap()
            .into_iter()
            .find(|u| u.update_id == id)
            .unwrap();
        assert_eq!((u.revision, u.state.as_str()), (300, "declined"));
    }

    #[test]
    fn no_criteria_means_categories_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::init(&dir.path().join("s"), None, clock()).unwrap();
        let r = go(&mut s, &mut fixture()).unwrap();
        assert!(r.categories_only);
        assert_eq!((r.categories, r.changes.new), (5, 0));
        assert_eq!(s.categories(Some(CategoryKind::Product)).unwrap().len(), 2);
    }
}
