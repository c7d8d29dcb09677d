//! Synchronisation: reads an upstream, applies the store's criteria, and merges what changed
//! into the store in one transaction. A sync that fails part way leaves the store as it was
//! and records the failure; the same sync run twice changes nothing the second time.
//!
//! Selection, as in Configuration Manager: an update is taken when one of its categories is a
//! criteria product (or a descendant of one) AND one is a criteria classification, and its
//! languages fit (one of the criteria languages, or language neutral; no language criteria
//! means every language). Bundled children of a selected bundle are taken with it.

use crate::error::{Error, Result};
use crate::model::{Category, Guid, PublicationState};
use crate::progress::Progress;
use crate::store::{Criteria, Store, StoredHeader, StoredState, SyncRunRecord, Tx};
use crate::time::Timestamp;
use crate::upstream::{ScanItem, UpdateHeader, Upstream};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// What a sync did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncReport {
    pub source: String,
    pub started: String,
    pub finished: String,
    pub outcome: String,
    pub new: u64,
    pub updated: u64,
    pub expired: u64,
    pub removed: u64,
    pub unchanged: u64,
    /// Categories added or changed.
    pub categories: u64,
    /// Updates in the upstream.
    pub upstream_updates: u64,
    /// Updates the criteria selected (including bundled children).
    pub selected: u64,
    /// Category GUIDs that selected updates cite but that no category document defines.
    pub unresolved_categories: Vec<String>,
    pub warnings: Vec<String>,
    /// True when no criteria were set, so only categories were taken.
    pub categories_only: bool,
}

/// Runs a sync from `upstream` into `store`. `clock` gives the current time (called at the
/// start and at the end). On failure the store is unchanged except for the failure record.
pub fn sync(
    store: &mut Store,
    upstream: &mut dyn Upstream,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
) -> Result<SyncReport> {
    let started = clock();
    let source = upstream.describe();
    store.log("SYNC", &format!("Synchronization started from {source}"), started);
    let result = run(store, upstream, clock, progress, started, &source);
    match result {
        Ok(report) => {
            let now = clock();
            store.log(
                "SYNC",
                &format!(
                    "Synchronization succeeded: {} new, {} updated, {} expired, {} removed, {} unchanged, {} categories changed",
                    report.new, report.updated, report.expired, report.removed, report.unchanged, report.categories
                ),
                now,
            );
            Ok(report)
        }
        Err(err) => {
            let now = clock();
            store.log("SYNC", &format!("Synchronization failed: {}", err.message), now);
            // Recorded in its own transaction after the failed one rolled back. If even this
            // fails (the disk is full, say), the original error is what the operator needs.
            let record = SyncRunRecord {
                started: started.rfc3339(),
                finished: Some(now.rfc3339()),
                source,
                outcome: "failed".into(),
                error: Some(err.message.clone()),
                ..Default::default()
            };
            if let Ok(mut tx) = store.begin() {
                if tx.record_sync_run(&record).is_ok() {
                    let _ = tx.commit();
                }
            }
            Err(err)
        }
    }
}

fn run(
    store: &mut Store,
    upstream: &mut dyn Upstream,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
    started: Timestamp,
    source: &str,
) -> Result<SyncReport> {
    let mut report = SyncReport { source: source.to_string(), started: started.rfc3339(), ..Default::default() };

    // Pass 1: every category in full, a small header per update.
    let mut categories: Vec<Category> = Vec::new();
    let mut headers: HashMap<Guid, UpdateHeader> = HashMap::new();
    let mut dup_error: Option<Error> = None;
    let summary = upstream.scan(
        &mut |item| {
            match item {
                ScanItem::Category(c) => categories.push(c),
                ScanItem::Update(h) => match headers.get(&h.id) {
                    Some(old) if old.revision == h.revision && old.fingerprint != h.fingerprint => {
                        dup_error.get_or_insert_with(|| {
                            Error::other(format!(
                                "update {} revision {} appears twice with different content",
                                h.id, h.revision
                            ))
                        });
                    }
                    Some(old) if old.revision >= h.revision => {}
                    _ => {
                        headers.insert(h.id.clone(), h);
                    }
                },
            }
            Ok(())
        },
        progress,
    )?;
    if let Some(e) = dup_error {
        return Err(e);
    }
    report.warnings.extend(summary.warnings.iter().cloned());
    report.upstream_updates = headers.len() as u64;
    store.log("SYNC", &format!("Read {} categories and {} updates from {source}", categories.len(), headers.len()), clock());

    let stored = store.stored_headers()?;
    let criteria = store.criteria()?;
    let mut tx = store.begin()?;

    for c in &categories {
        if tx.put_category(c)? {
            report.categories += 1;
        }
    }

    // Selection against the criteria, with the category tree as it is after this sync.
    let parents = crate::store::category_parents_of(&tx)?;
    let selected = select(&headers, &criteria, &parents);
    report.categories_only = criteria.is_empty();
    report.selected = selected.len() as u64;
    if report.categories_only {
        report
            .warnings
            .push("no products and classifications are chosen yet: only categories were synchronised (see `offsync criteria set`)".into());
    }

    let known: HashSet<&str> = parents.keys().map(String::as_str).collect();
    let mut unresolved: HashSet<String> = HashSet::new();

    // Decide what changed; fetch only that.
    let mut to_fetch: Vec<u64> = Vec::new();
    let mut kind_of: HashMap<Guid, Change> = HashMap::new();
    for id in &selected {
        let h = &headers[id];
        for c in &h.categories {
            if !known.contains(c.as_str()) {
                unresolved.insert(c.to_string());
            }
        }
        match classify(h, stored.get(id.as_str())) {
            Change::Unchanged => report.unchanged += 1,
            Change::Older(stored_rev) => {
                report.unchanged += 1;
                report.warnings.push(format!(
                    "upstream has revision {} of {id}, older than the stored revision {stored_rev}; kept the stored one",
                    h.revision
                ));
            }
            change => {
                to_fetch.push(h.key);
                kind_of.insert(id.clone(), change);
            }
        }
    }
    to_fetch.sort_unstable();

    let mut fetch_err: Option<Error> = None;
    upstream.fetch(
        &to_fetch,
        &mut |mut u| {
            if fetch_err.is_some() {
                return Ok(());
            }
            let Some(h) = headers.get(&u.id) else {
                fetch_err = Some(Error::other(format!("update {} changed while the sync was reading it", u.id)));
                return Ok(());
            };
            u.normalize();
            let state = match u.publication_state {
                PublicationState::Expired => StoredState::Expired,
                PublicationState::Published => StoredState::Published,
            };
            tx.put_update(&u, state, Some(&h.fingerprint))?;
            match kind_of.get(&u.id) {
                Some(Change::New) => report.new += 1,
                Some(Change::Expired) => report.expired += 1,
                _ => report.updated += 1,
            }
            Ok(())
        },
        progress,
    )?;
    if let Some(e) = fetch_err {
        return Err(e);
    }

    // Absent from a complete upstream: a tombstone, never a deletion.
    if summary.complete {
        let mut gone: Vec<&String> = stored
            .iter()
            .filter(|(id, h)| h.state != StoredState::Removed && Guid::parse(id).is_none_or(|g| !headers.contains_key(&g)))
            .map(|(id, _)| id)
            .collect();
        gone.sort();
        for id in gone {
            if tx.set_state(id, StoredState::Removed)? {
                report.removed += 1;
            }
        }
    }

    let mut unresolved: Vec<String> = unresolved.into_iter().collect();
    unresolved.sort();
    if !unresolved.is_empty() {
        report.warnings.push(format!(
            "{} category GUID(s) cited by selected updates are not defined upstream: {}",
            unresolved.len(),
            unresolved.join(", ")
        ));
    }
    report.unresolved_categories = unresolved;

    let finished = clock();
    report.finished = finished.rfc3339();
    report.outcome = "succeeded".into();
    record(&mut tx, &report, &summary)?;
    tx.commit()?;
    for w in &report.warnings {
        store.log("SYNC", &format!("Warning: {w}"), finished);
    }
    Ok(report)
}

fn record(tx: &mut Tx<'_>, r: &SyncReport, s: &crate::upstream::ScanSummary) -> Result<()> {
    tx.record_sync_run(&SyncRunRecord {
        started: r.started.clone(),
        finished: Some(r.finished.clone()),
        source: r.source.clone(),
        outcome: r.outcome.clone(),
        new: r.new,
        updated: r.updated,
        expired: r.expired,
        removed: r.removed,
        unchanged: r.unchanged,
        categories: r.categories,
        package_id: s.package_id.clone(),
        package_created: s.created.clone(),
        error: None,
    })?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    New,
    Updated,
    Expired,
    Unchanged,
    Older(u32),
}

fn classify(h: &UpdateHeader, stored: Option<&StoredHeader>) -> Change {
    let Some(s) = stored else { return Change::New };
    if s.revision > h.revision {
        return Change::Older(s.revision);
    }
    let now_expired = h.publication_state == PublicationState::Expired;
    if s.revision == h.revision && s.fingerprint == Some(h.fingerprint) && s.state != StoredState::Removed {
        return Change::Unchanged;
    }
    if now_expired && s.state == StoredState::Published {
        return Change::Expired;
    }
    Change::Updated
}

/// The GUIDs of the updates the criteria select, plus bundled children of selected bundles.
pub fn select(
    headers: &HashMap<Guid, UpdateHeader>,
    criteria: &Criteria,
    parents: &HashMap<String, Option<String>>,
) -> Vec<Guid> {
    if criteria.is_empty() {
        return Vec::new();
    }
    let products = descendants(&criteria.products, parents);
    let classes = descendants(&criteria.classifications, parents);
    let langs: Vec<String> = criteria.languages.iter().map(|l| l.to_ascii_lowercase()).collect();
    let lang_ok = |h: &UpdateHeader| {
        langs.is_empty()
            || h.languages.is_empty()
            || h.languages.iter().any(|l| l == "all" || langs.contains(l))
    };
    let mut chosen: HashSet<Guid> = headers
        .values()
        .filter(|h| {
            h.categories.iter().any(|c| products.contains(c.as_str()))
                && h.categories.iter().any(|c| classes.contains(c.as_str()))
                && lang_ok(h)
        })
        .map(|h| h.id.clone())
        .collect();
    // Children named by their parent (upd:Update) or parents named by their child (the
    // offline catalog's BundledBy); repeat for bundles within bundles.
    let mut by_parent: HashMap<&Guid, Vec<&Guid>> = HashMap::new();
    for h in headers.values() {
        for p in &h.bundled_by {
            by_parent.entry(p).or_default().push(&h.id);
        }
        for c in &h.bundled {
            by_parent.entry(&h.id).or_default().push(c);
        }
    }
    let mut queue: Vec<Guid> = chosen.iter().cloned().collect();
    while let Some(p) = queue.pop() {
        for &c in by_parent.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if headers.contains_key(c) && chosen.insert(c.clone()) {
                queue.push(c.clone());
            }
        }
    }
    let mut out: Vec<Guid> = chosen.into_iter().collect();
    out.sort();
    out
}

/// The chosen categories and every category below them (choosing a product family chooses
/// its products).
fn descendants(chosen: &[Guid], parents: &HashMap<String, Option<String>>) -> HashSet<String> {
    let mut set: HashSet<String> = chosen.iter().map(|g| g.to_string()).collect();
    loop {
        let before = set.len();
        for (id, p) in parents {
            if let Some(p) = p {
                if set.contains(p) && !set.contains(id) {
                    set.insert(id.clone());
                }
            }
        }
        if set.len() == before {
            return set;
        }
    }
}
