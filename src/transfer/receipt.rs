//! Receipts, the way back across the gap: a small JSON document in which a downstream point
//! (an isolated point, or a child store) says what it holds of each store above it, so that
//! the connected side knows how far behind it is and can export exactly what it lacks
//! (`export --for`). The format is in docs/RECEIPTS.md.
//!
//! A receipt is judged as a bundle is: malformed, too large, unsigned or badly signed when
//! the store trusts keys, from an unknown store claiming a registered name, or older than the
//! point's last receipt, it is refused and the store is left as it was. This module prints
//! nothing and reads no clock.

use crate::error::{Error, ErrorKind, Result};
use crate::model::Guid;
use crate::store::{
    DownstreamPoint, DownstreamRecord, ImportedBundle, KIND_CHILD, RecentRun, Store, Tx,
};
use crate::time::Timestamp;
use crate::trust::{self, SignatureCheck, SigningKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `format` field of every receipt.
pub const FORMAT: &str = "offsync-receipt";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;
/// A receipt larger than this is refused before it is parsed (a genuine one is a few KiB).
pub const MAX_RECEIPT_BYTES: u64 = 1024 * 1024;
/// How many recent imports and syncs a receipt lists.
pub const RECENT_RUNS: usize = 20;
/// The folder of a store into which its children leave their receipts.
pub const RECEIPTS_DIR: &str = "receipts";
/// Caps on what a receipt may list (far above anything genuine).
const MAX_SOURCES: usize = 1000;
const MAX_RECENT: usize = 100;
const MAX_NAME: usize = 256;

/// The store setting recording this store's last successful sync from a parent store.
const PARENT_SYNC_SETTING: &str = "receipt_parent_sync";

/// The receipt document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Receipt {
    pub format: String,
    pub version: u32,
    pub store_id: String,
    pub store_name: String,
    pub created: Timestamp,
    /// The point's own change sequence.
    pub change_seq: u64,
    /// What it holds of each store above it.
    pub sources: Vec<SourceAck>,
    pub counts: ReceiptCounts,
    pub content: ReceiptContent,
    /// Its most recent imports and syncs, newest first (at most [`RECENT_RUNS`]).
    pub recent: Vec<RecentRun>,
}

/// What a point holds of one store above it: the last bundle imported from it (in the
/// point's current chain of that source), and the last sync from it when it is the parent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceAck {
    pub store_id: String,
    pub store_name: String,
    /// The point's chain number of this source (it grows with each `chain reset`).
    pub chain: u64,
    /// None when nothing was imported since the chain last started.
    pub last_bundle: Option<ImportedBundle>,
    pub synced: Option<SyncAck>,
}

/// A sync from a parent store: the parent's change sequence when the sync started.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncAck {
    pub change_seq: u64,
    pub synced: Timestamp,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReceiptCounts {
    pub categories: u64,
    pub updates: u64,
    pub published: u64,
    pub expired: u64,
    pub declined: u64,
    pub removed: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReceiptContent {
    pub referenced: u64,
    pub present: u64,
    pub missing: u64,
    pub missing_bytes: u64,
}

/// The parent a child synced from, as the sync saw it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParentSync {
    pub store_id: String,
    pub store_name: String,
    pub change_seq: u64,
    pub synced: Timestamp,
}

/// Records a successful sync from a parent store, for this store's receipts.
pub fn record_parent_sync(store: &mut Store, parent: &ParentSync) -> Result<()> {
    let v = serde_json::to_string(parent)
        .map_err(|e| Error::other(format!("cannot encode the parent sync: {e}")))?;
    store.set_setting(PARENT_SYNC_SETTING, &v)
}

/// The receipt of `store` as it stands.
pub fn build(store: &Store, now: Timestamp) -> Result<Receipt> {
    let mut sources: Vec<SourceAck> = store
        .imported_sources()?
        .into_iter()
        .map(|s| SourceAck {
            store_id: s.store_id,
            store_name: s.store_name,
            chain: s.chain,
            last_bundle: s.last,
            synced: None,
        })
        .collect();
    let parent: Option<ParentSync> = store
        .setting(PARENT_SYNC_SETTING)?
        .and_then(|v| serde_json::from_str(&v).ok());
    if let Some(p) = parent {
        let synced = Some(SyncAck {
            change_seq: p.change_seq,
            synced: p.synced,
        });
        match sources.iter_mut().find(|s| s.store_id == p.store_id) {
            Some(s) => s.synced = synced,
            None => sources.push(SourceAck {
                store_id: p.store_id,
                store_name: p.store_name,
                chain: 0,
                last_bundle: None,
                synced,
            }),
        }
    }
    let t = store.totals()?;
    let c = store.content_stats()?;
    Ok(Receipt {
        format: FORMAT.into(),
        version: VERSION,
        store_id: store.id().to_string(),
        store_name: store.name().to_string(),
        created: now,
        change_seq: t.change_seq,
        sources,
        counts: ReceiptCounts {
            categories: t.categories,
            updates: t.updates,
            published: t.published,
            expired: t.expired,
            declined: t.declined,
            removed: t.removed,
        },
        content: ReceiptContent {
            referenced: c.referenced,
            present: c.present,
            missing: c.missing,
            missing_bytes: c.missing_bytes,
        },
        recent: recent_with_refusal(store)?,
    })
}

/// The store's recent imports and syncs, with its last refused import when no import was
/// applied after it: a refused bundle (out of sequence, badly signed) is how an isolated
/// point usually fails, and the refusal is kept in the log only (a refused import leaves
/// the database as it was), so the store above would otherwise never hear of it.
fn recent_with_refusal(store: &Store) -> Result<Vec<RecentRun>> {
    let mut recent = store.recent_runs(RECENT_RUNS)?;
    let last_import = store
        .last_import()?
        .and_then(|i| Timestamp::parse_rfc3339(&i.imported));
    let Some(refusal) = store.last_refused_import(last_import)? else {
        return Ok(recent);
    };
    let Some(at) = Timestamp::parse_rfc3339(&refusal.at) else {
        return Ok(recent);
    };
    if last_import.is_some_and(|i| i > at) {
        return Ok(recent);
    }
    let run = RecentRun {
        operation: "import".into(),
        at: at.rfc3339(),
        outcome: "refused".into(),
        source: refusal.bundle.unwrap_or_else(|| "a bundle".into()),
        error: Some(refusal.message),
    };
    // Newest first: before the first run that is not later than the refusal.
    let pos = recent
        .iter()
        .position(|r| Timestamp::parse_rfc3339(&r.at).is_none_or(|t| t <= at))
        .unwrap_or(recent.len());
    recent.insert(pos, run);
    recent.truncate(RECENT_RUNS);
    Ok(recent)
}

/// The bytes of a receipt file: pretty JSON and a final line break.
pub fn encode(r: &Receipt) -> Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(r)
        .map_err(|e| Error::other(format!("cannot encode the receipt: {e}")))?;
    v.push(b'\n');
    Ok(v)
}

/// What `receipt export` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Written {
    pub file: PathBuf,
    /// The detached signature beside it (`FILE.minisig`), when signed.
    pub signature: Option<PathBuf>,
    pub signed_by: Option<String>,
    pub receipt: Receipt,
}

/// Writes the receipt of `store` to `out` (atomically), signed beside it as `out.minisig`
/// when a key is given. An older signature beside `out` is removed when writing unsigned: it
/// would no longer match.
pub fn write(
    store: &Store,
    out: &Path,
    signer: Option<&SigningKey>,
    now: Timestamp,
) -> Result<Written> {
    let receipt = build(store, now)?;
    let bytes = encode(&receipt)?;
    let sig_path = trust::signature_path(out);
    crate::fsutil::atomic_write(out, &bytes)?;
    let (signature, signed_by) = match signer {
        Some(k) => {
            let comment = format!(
                "offsync receipt store {} created {}",
                receipt.store_id,
                receipt.created.rfc3339()
            );
            crate::fsutil::atomic_write(&sig_path, &k.sign(&bytes, &comment)?)?;
            (Some(sig_path), Some(k.key_id().to_string()))
        }
        None => {
            match std::fs::remove_file(&sig_path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&sig_path, "remove", e)),
            }
            (None, None)
        }
    };
    store.log(
        "RECEIPT",
        &format!(
            "Receipt written to {}{}",
            out.display(),
            signed_by
                .as_deref()
                .map(|k| format!(", signed by key {k}"))
                .unwrap_or_default()
        ),
        now,
    );
    Ok(Written {
        file: out.to_path_buf(),
        signature,
        signed_by,
        receipt,
    })
}

/// Parses and checks a receipt's bytes: the size cap first, then the JSON, then its fields.
pub fn parse(bytes: &[u8]) -> Result<Receipt> {
    let bad = |why: String| {
        Error::new(ErrorKind::Corrupt, format!("malformed receipt: {why}"))
            .with_hint("write the receipt again with `offsync receipt export` on the point")
    };
    if bytes.len() as u64 > MAX_RECEIPT_BYTES {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "the receipt is {} bytes, more than the limit of {MAX_RECEIPT_BYTES}",
                bytes.len()
            ),
        ));
    }
    let r: Receipt = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if r.format != FORMAT {
        return Err(bad(format!("its format is '{}', not '{FORMAT}'", r.format)));
    }
    if r.version != VERSION {
        return Err(bad(format!(
            "it is version {}; this offsync reads version {VERSION}",
            r.version
        )));
    }
    if Guid::parse(&r.store_id).is_none_or(|g| g.as_str() != r.store_id) {
        return Err(bad(format!("store id '{}' is not a store id", r.store_id)));
    }
    let name_ok = |n: &str| !n.trim().is_empty() && n.len() <= MAX_NAME;
    if !name_ok(&r.store_name) || !r.sources.iter().all(|s| name_ok(&s.store_name)) {
        return Err(bad(format!(
            "a store name is empty or longer than {MAX_NAME} bytes"
        )));
    }
    if r.sources.len() > MAX_SOURCES || r.recent.len() > MAX_RECENT {
        return Err(bad(format!(
            "it lists {} sources and {} recent runs; at most {MAX_SOURCES} and {MAX_RECENT}",
            r.sources.len(),
            r.recent.len()
        )));
    }
    Ok(r)
}

/// How a receipt was registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Registered {
    /// A point seen for the first time.
    New,
    /// A newer receipt of a known point.
    Updated,
    /// The very receipt registered already: nothing changed.
    Unchanged,
}

/// One receipt file judged: accepted (registered) or refused, with why.
#[derive(Debug, Serialize)]
pub struct FileOutcome {
    pub file: PathBuf,
    pub point_id: Option<String>,
    pub point_name: Option<String>,
    pub kind: &'static str,
    /// Set when accepted.
    pub registered: Option<Registered>,
    pub signed_by: Option<String>,
    /// Set when refused.
    #[serde(skip)]
    pub error: Option<Error>,
}

/// Judges and registers one receipt file; the store changes only when it is accepted.
pub fn import_file(
    store: &mut Store,
    file: &Path,
    kind: &'static str,
    now: Timestamp,
) -> FileOutcome {
    let mut out = FileOutcome {
        file: file.to_path_buf(),
        point_id: None,
        point_name: None,
        kind,
        registered: None,
        signed_by: None,
        error: None,
    };
    match judge_and_register(store, file, kind, now, &mut out) {
        Ok(r) => {
            out.registered = Some(r);
            store.log(
                "RECEIPT",
                &format!(
                    "Receipt {} of {} point '{}' ({}) from {}",
                    match r {
                        Registered::New => "registered",
                        Registered::Updated => "updated",
                        Registered::Unchanged => "unchanged",
                    },
                    kind,
                    out.point_name.as_deref().unwrap_or_default(),
                    out.point_id.as_deref().unwrap_or_default(),
                    file.display()
                ),
                now,
            );
        }
        Err(e) => {
            store.log(
                "RECEIPT",
                &format!("Receipt {} refused: {}", file.display(), e.message),
                now,
            );
            out.error = Some(e);
        }
    }
    out
}

fn judge_and_register(
    store: &mut Store,
    file: &Path,
    kind: &'static str,
    now: Timestamp,
    out: &mut FileOutcome,
) -> Result<Registered> {
    let bytes = crate::bundle::verify::read_capped(file, MAX_RECEIPT_BYTES)?;
    let receipt = parse(&bytes)?;
    out.point_id = Some(receipt.store_id.clone());
    out.point_name = Some(receipt.store_name.clone());
    out.signed_by = check_signature(store, file, &bytes)?;
    if receipt.store_id == store.id() {
        return Err(Error::usage(format!(
            "the receipt is this store's own ('{}', {})",
            receipt.store_name, receipt.store_id
        ))
        .with_hint("import the receipt on the store above the point that wrote it"));
    }
    if receipt.created.0 > now.0.saturating_add(crate::ops::status::CLOCK_SKEW_SECS) {
        return Err(Error::new(
            ErrorKind::Expired,
            format!(
                "the receipt of point '{}' ({}) was written at {}, more than a day after this store's time now ({now}): the point's clock (or this one's) is wrong",
                receipt.store_name,
                receipt.store_id,
                receipt.created.rfc3339()
            ),
        )
        .with_hint("set the point's clock right and write its receipt again (`offsync receipt export`); a point registered from a wrong clock is dropped with `offsync receipt forget POINT`"));
    }
    let mut record = record_of(store, &receipt, kind, &bytes, out.signed_by.clone(), now)?;
    // The check and the write in one transaction: two imports at once cannot let an older
    // receipt replace a newer one.
    let tx = store.begin()?;
    let registered = compare_with_previous(&tx, &receipt, &mut record)?;
    if registered != Registered::Unchanged {
        tx.put_downstream(&record)?;
        tx.commit()?;
    }
    Ok(registered)
}

/// A store that trusts keys takes only a receipt signed by one of them (`FILE.minisig`
/// beside it); one that trusts none checks nothing. Returns the signing key when checked.
fn check_signature(store: &Store, file: &Path, bytes: &[u8]) -> Result<Option<String>> {
    let trusted = trust::trusted_public_keys(&store.trusted_keys()?)?;
    if trusted.is_empty() {
        return Ok(None);
    }
    let sig = trust::read_signature(file)?;
    let Some(sig) = sig else {
        return Err(Error::new(
            ErrorKind::Untrusted,
            format!(
                "the receipt is not signed (no {} beside it), and this store trusts keys",
                trust::signature_path(file).display()
            ),
        )
        .with_hint(
            "write it with `offsync receipt export --sign KEY` and carry FILE.minisig with it",
        ));
    };
    match trust::check_signature(&trusted, bytes, Some(&sig)) {
        Ok(SignatureCheck::Verified(by)) => Ok(Some(by.key_id)),
        Ok(SignatureCheck::NotChecked { .. }) => Ok(None),
        Err(e) => Err(Error::new(
            ErrorKind::Untrusted,
            "the receipt's signature does not check out against the keys this store trusts: it was changed after signing, or signed by another key",
        )
        .with_details(vec![e.message])
        .with_hint("ask the point for a new signed receipt (`offsync receipt export --sign KEY`)")),
    }
}

/// The row to register for `receipt`: what it acknowledges of this store, and its facts.
fn record_of(
    store: &Store,
    receipt: &Receipt,
    kind: &str,
    bytes: &[u8],
    signed_by: Option<String>,
    now: Timestamp,
) -> Result<DownstreamRecord> {
    let mine = receipt.sources.iter().find(|s| s.store_id == store.id());
    let bundle = mine.and_then(|s| s.last_bundle.as_ref());
    let synced = mine.and_then(|s| s.synced.as_ref());
    let last = receipt.recent.first();
    Ok(DownstreamRecord {
        id: receipt.store_id.clone(),
        name: receipt.store_name.clone(),
        kind: kind.to_string(),
        received: now.rfc3339(),
        receipt_created: receipt.created.rfc3339(),
        ack_sequence: bundle.map(|b| b.sequence),
        ack_bundle_id: bundle.map(|b| b.bundle_id.clone()),
        ack_manifest_sha256: bundle.map(|b| b.manifest_sha256.clone()),
        ack_change_seq: synced.map(|s| s.change_seq),
        ack_time: bundle
            .map(|b| b.imported.clone())
            .or_else(|| synced.map(|s| s.synced.rfc3339())),
        change_seq: receipt.change_seq,
        updates: receipt.counts.updates,
        content_missing: receipt.content.missing,
        last_outcome: last.map(|r| r.outcome.clone()),
        last_outcome_time: last.map(|r| r.at.clone()),
        last_error: last.and_then(|r| r.error.clone()),
        signed_by,
        receipt: String::from_utf8_lossy(bytes).into_owned(),
    })
}

/// The rules against the point's previous receipt, and against another point's name. A known
/// point keeps the kind it was first registered as (a disconnected point's receipt that turns
/// up in the receipts folder does not make it a child).
fn compare_with_previous(
    tx: &Tx<'_>,
    receipt: &Receipt,
    record: &mut DownstreamRecord,
) -> Result<Registered> {
    let prev = tx.previous_receipt(&receipt.store_id)?;
    if let Some(other) = tx.downstream_id_named(&receipt.store_name, &receipt.store_id)? {
        let who = match &prev {
            None => format!("store {}, unknown here,", receipt.store_id),
            Some(p) => format!("point {} (registered as '{}')", receipt.store_id, p.name),
        };
        return Err(Error::new(
            ErrorKind::Untrusted,
            format!(
                "the receipt comes from {who} but claims the name '{}', which point {other} has",
                receipt.store_name
            ),
        )
        .with_hint("if that point was rebuilt, give the new store another name (`offsync init --name`), or drop the old point (`offsync receipt forget ID`); otherwise find out who wrote this receipt"));
    }
    let Some(prev) = prev else {
        return Ok(Registered::New);
    };
    record.kind = prev.kind.clone();
    let older = |what: String| {
        Err(Error::new(
            ErrorKind::OutOfSequence,
            format!(
                "older receipt from point '{}' ({}): {what}",
                receipt.store_name, receipt.store_id
            ),
        )
        .with_hint(
            "import the point's newest receipt (write a new one with `offsync receipt export`)",
        ))
    };
    let prev_created = Timestamp::parse_rfc3339(&prev.receipt_created);
    if prev_created.is_some_and(|p| receipt.created < p) {
        return older(format!(
            "it was written at {}, before the one registered ({})",
            receipt.created.rfc3339(),
            prev.receipt_created
        ));
    }
    if let (Some(new), Some(old)) = (record.ack_sequence, prev.ack_sequence)
        && new < old
    {
        return older(format!(
            "it acknowledges bundle sequence {new}, the one registered {old}"
        ));
    }
    if let (Some(new), Some(old)) = (record.ack_change_seq, prev.ack_change_seq)
        && new < old
    {
        return older(format!(
            "it acknowledges change sequence {new}, the one registered {old}"
        ));
    }
    if prev.receipt == record.receipt {
        return Ok(Registered::Unchanged);
    }
    Ok(Registered::Updated)
}

/// The receipt files in `store`'s receipts folder (`*.json`, regular files), by name.
pub fn folder_receipts(store: &Store) -> Result<(PathBuf, Vec<PathBuf>)> {
    let dir = store.root().join(RECEIPTS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((dir, Vec::new())),
        Err(e) => return Err(Error::io(&dir, "read", e)),
    };
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(&dir, "read", e))?;
        let path = e.path();
        let regular = e.file_type().is_ok_and(|t| t.is_file());
        if regular && path.extension().is_some_and(|x| x == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok((dir, files))
}

/// Judges each receipt file alone: `kind` is `disconnected` for files carried across
/// the gap, [`KIND_CHILD`] for the receipts folder's.
pub fn import_files(
    store: &mut Store,
    files: &[PathBuf],
    kind: &'static str,
    now: Timestamp,
) -> Vec<FileOutcome> {
    files
        .iter()
        .map(|f| import_file(store, f, kind, now))
        .collect()
}

/// Registers the receipts children left in `store`'s receipts folder.
pub fn import_folder(store: &mut Store, now: Timestamp) -> Result<(PathBuf, Vec<FileOutcome>)> {
    let (dir, files) = folder_receipts(store)?;
    Ok((dir, import_files(store, &files, KIND_CHILD, now)))
}

/// After a successful sync from a parent store: records what the child now holds of it, and
/// leaves the child's receipt in the parent's receipts folder; returns the file written.
pub fn leave_for_parent(
    child: &mut Store,
    parent: &crate::upstream::parent::ParentInfo,
    now: Timestamp,
) -> Result<PathBuf> {
    record_parent_sync(
        child,
        &ParentSync {
            store_id: parent.store_id.clone(),
            store_name: parent.store_name.clone(),
            change_seq: parent.change_seq,
            synced: now,
        },
    )?;
    deliver_to_parent(child, &parent.path, now)
}

/// Leaves `child`'s receipt in its parent's receipts folder
/// (`<parent>/receipts/<child store id>.json`); returns the file written.
pub fn deliver_to_parent(child: &Store, parent_root: &Path, now: Timestamp) -> Result<PathBuf> {
    // The file name comes from this store's own id, checked to be a GUID: nothing from
    // outside names a path here.
    let id = Guid::parse(child.id()).ok_or_else(|| {
        Error::new(
            ErrorKind::StoreDamaged,
            format!("this store's id '{}' is not a GUID", child.id()),
        )
    })?;
    let dir = parent_root.join(RECEIPTS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
    let file = dir.join(format!("{}.json", id.as_str()));
    write(child, &file, None, now)?;
    Ok(file)
}

/// Drops the downstream point `spec` (store id or name): a point registered from a receipt
/// written by a wrong clock would otherwise make every later receipt of it "older". Its next
/// receipt registers it anew. Returns the point as it was.
pub fn forget(store: &mut Store, spec: &str, now: Timestamp) -> Result<DownstreamPoint> {
    let point = store.downstream_point(spec)?.ok_or_else(|| {
        Error::usage(format!(
            "no downstream point '{spec}' is registered in this store"
        ))
        .with_hint("`offsync receipt list` lists them")
    })?;
    store.forget_downstream(&point.id)?;
    store.log(
        "RECEIPT",
        &format!(
            "Point '{}' ({}) forgotten; its next receipt registers it anew",
            point.name, point.id
        ),
        now,
    );
    Ok(point)
}

/// The bundle `export --for POINT` makes: for the downstream point `spec` (store id or name),
/// built on the export of this store it acknowledged, or a full one when it acknowledged
/// nothing this store still has.
pub fn export_target(store: &Store, spec: &str) -> Result<crate::transfer::export::ExportTarget> {
    let point = store.downstream_point(spec)?.ok_or_else(|| {
        Error::usage(format!("no downstream point '{spec}' is registered in this store"))
            .with_hint("`offsync receipt list` lists them; `offsync receipt import` registers a point's receipt")
    })?;
    Ok(crate::transfer::export::ExportTarget {
        acknowledged: point
            .acknowledged_sequence
            .filter(|_| point.acknowledged_known),
        point_id: point.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Receipt {
        Receipt {
            format: FORMAT.into(),
            version: VERSION,
            store_id: "0f0e0d0c-0b0a-0908-0706-050403020100".into(),
            store_name: "site-b".into(),
            created: Timestamp(1_800_000_000),
            change_seq: 7,
            sources: vec![],
            counts: ReceiptCounts::default(),
            content: ReceiptContent::default(),
            recent: vec![],
        }
    }

    #[test]
    fn a_receipt_round_trips_and_malformed_ones_are_refused() {
        let r = sample();
        let bytes = encode(&r).unwrap();
        assert_eq!(parse(&bytes).unwrap(), r);
        let kind = |b: &[u8]| parse(b).unwrap_err().kind;
        assert_eq!(kind(b"{not json"), ErrorKind::Corrupt);
        let mut bad = sample();
        bad.format = "other".into();
        assert_eq!(kind(&encode(&bad).unwrap()), ErrorKind::Corrupt);
        let mut bad = sample();
        bad.store_id = "../../etc".into();
        assert_eq!(kind(&encode(&bad).unwrap()), ErrorKind::Corrupt);
        let mut bad = sample();
        bad.version = 2;
        assert_eq!(kind(&encode(&bad).unwrap()), ErrorKind::Corrupt);
        let huge = vec![b' '; MAX_RECEIPT_BYTES as usize + 1];
        assert_eq!(kind(&huge), ErrorKind::Limit);
    }
}
