//! `export`: the changes of a store since its last export (or everything), with the content
//! files the store has for them, written as a bundle.

use crate::bundle::{
    self, BundleKind, BundleSpec, ContentFile, Decision, DocumentRecord, EncodedMetadata,
    ManifestCriteria, MetadataSpool, UpdateRecord, WrittenBundle,
};
use crate::error::{ErrorKind, Result};
use crate::model::{Guid, hex_lower};
use crate::progress::Progress;
use crate::store::{ExportRecord, Store};
use crate::time::Timestamp;
use crate::trust::SigningKey;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct ExportOptions {
    /// The folder in which the bundle folder is created.
    pub out: PathBuf,
    pub full: bool,
    pub metadata_only: bool,
    pub max_volume_size: u64,
    /// The bundle's creation time (SOURCE_DATE_EPOCH or now, chosen by the caller).
    pub created: Timestamp,
    pub valid_until: Option<Timestamp>,
    /// Signs `manifest.json` (written beside it as `manifest.json.minisig`).
    pub signer: Option<SigningKey>,
    /// Write an incremental bundle even when nothing changed since the last one.
    pub allow_empty: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExportReport {
    pub bundle_dir: String,
    pub bundle_id: String,
    pub sequence: u64,
    pub kind: String,
    pub base_sequence: Option<u64>,
    pub changes_from: u64,
    pub changes_to: u64,
    pub categories: u64,
    pub updates: u64,
    pub removed: u64,
    /// Local decisions (declines, undeclines) carried as their own records.
    pub decisions: u64,
    pub content_files: u64,
    pub content_bytes: u64,
    pub volumes: Vec<VolumeOut>,
    /// Referenced files of exported updates that the store does not have: the first
    /// [`MISSING_LISTED`] of them (`missing_files` counts them all).
    pub missing: Vec<MissingOut>,
    pub missing_files: u64,
    /// The id of the key that signed the manifest, when signed.
    pub signed_by: Option<String>,
    /// Bytes of content read from the store (each byte once) and of written volumes read
    /// back to hash them.
    pub content_bytes_read: u64,
    pub volume_bytes_read_back: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct VolumeOut {
    pub name: String,
    pub size: u64,
}

/// Most missing files an export report lists by name (a metadata-only store of a million
/// revisions lacks millions).
pub const MISSING_LISTED: usize = 1000;

#[derive(Clone, Debug, Serialize)]
pub struct MissingOut {
    pub update_id: String,
    pub name: String,
}

/// Writes the bundle; `None` when nothing changed since the last bundle (an incremental one
/// would carry nothing) and `allow_empty` is not set: then nothing is written.
pub fn export(
    store: &Store,
    opts: &ExportOptions,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Option<ExportReport>> {
    export_after(store, opts, None, now, progress)
}

/// The downstream point an `export --for` bundle is made for.
#[derive(Clone, Debug)]
pub struct ExportTarget {
    /// Its store id.
    pub point_id: String,
    /// The export of this store it acknowledged, when this store still has it (else the
    /// bundle is a full one).
    pub acknowledged: Option<u64>,
}

/// [`export`], or with `target` the bundle for one downstream point (`export --for`): built
/// on the export it acknowledged, so that it takes that point from there to now. It takes
/// the next sequence number but stays out of the shared chain: the next plain export still
/// builds on the last plain one, and the point imports it too (an incremental bundle whose
/// base is at or before the point's last applies; see `transfer::chain`).
pub fn export_after(
    store: &Store,
    opts: &ExportOptions,
    target: Option<&ExportTarget>,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Option<ExportReport>> {
    let result = crate::bundle::check_out_dir(&opts.out)
        .and_then(|()| export_locked(store, opts, target, now, progress));
    if let Err(e) = &result
        && e.kind == ErrorKind::Interrupted
    {
        store.log("EXPORT", &format!("Export interrupted: {}", e.message), now);
        if let Err(w) = store.record_interrupted("export", &e.message, now) {
            progress.warn(&format!("the interruption is not recorded for status: {w}"));
        }
    }
    store.report_log_failure(progress);
    result
}

fn export_locked(
    store: &Store,
    opts: &ExportOptions,
    target: Option<&ExportTarget>,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Option<ExportReport>> {
    // The store's write lock, held from choosing the sequence number to recording the export:
    // every read below sees one state of the store (a sync cannot slip in between), and two
    // exports can never take the same sequence number.
    let lock = store.write_lock()?;
    let mut sel = select(store, opts, target)?;
    if sel.is_empty() && !opts.allow_empty {
        let base = sel.base_sequence.unwrap_or_default();
        store.log(
            "EXPORT",
            &format!("Nothing changed since bundle sequence {base} (changes up to {}); no bundle written", sel.to),
            now,
        );
        return Ok(None);
    }
    let missing = std::mem::take(&mut sel.content.missing);
    let missing_files = sel.content.missing_files;
    let (sequence, kind, base_sequence, from, to) =
        (sel.sequence, sel.kind, sel.base_sequence, sel.from, sel.to);
    let s = &sel.metadata.summary;
    let counts = (s.categories, s.updates, s.removed);
    let written = bundle::write_bundle(&opts.out, &bundle_spec(store, opts, sel)?, progress)?;
    // The signature comes after the complete bundle: an export interrupted before it leaves
    // an unsigned bundle, which a store that trusts a key refuses.
    let signed_by = match &opts.signer {
        Some(signer) => Some(sign(signer, &written)?),
        None => None,
    };
    let m = &written.manifest;
    let report = ExportReport {
        bundle_dir: written.dir.display().to_string(),
        bundle_id: m.bundle_id.clone(),
        sequence,
        kind: kind.as_str().into(),
        base_sequence,
        changes_from: from,
        changes_to: to,
        categories: counts.0,
        updates: counts.1,
        removed: counts.2,
        decisions: m.counts.decisions,
        content_files: m.counts.content_files,
        content_bytes: m.counts.content_bytes,
        volumes: m
            .volumes
            .iter()
            .map(|v| VolumeOut {
                name: v.name.clone(),
                size: v.size,
            })
            .collect(),
        missing,
        missing_files,
        signed_by,
        content_bytes_read: written.content_bytes_read,
        volume_bytes_read_back: written.volume_bytes_read_back,
    };
    lock.record_export(&ExportRecord {
        sequence,
        bundle_id: report.bundle_id.clone(),
        kind: report.kind.clone(),
        base_sequence,
        changes_from: from,
        changes_to: to,
        created: m.created.rfc3339(),
        finished: now.rfc3339(),
        path: report.bundle_dir.clone(),
        manifest_sha256: hex_lower(&written.manifest_sha256),
        categories: report.categories,
        updates: report.updates,
        removed: report.removed,
        content_files: report.content_files,
        content_bytes: report.content_bytes,
        missing_files: report.missing_files,
        metadata_only: opts.metadata_only,
        for_point: target.map(|t| t.point_id.clone()),
    })?;
    lock.commit()?;
    store.log("EXPORT", &log_line(&report), now);
    Ok(Some(report))
}

/// What an export takes from the store: its place in the chain, the changed metadata
/// (encoded as it was read), and the content files to carry.
struct Selection {
    sequence: u64,
    kind: BundleKind,
    base_sequence: Option<u64>,
    /// The change range `from..=to` (exclusive of `from`).
    from: u64,
    to: u64,
    metadata: EncodedMetadata,
    content: ContentPick,
}

impl Selection {
    /// An incremental bundle that would carry no record (category, update, tombstone or
    /// decision) and no file.
    fn is_empty(&self) -> bool {
        let s = &self.metadata.summary;
        self.kind == BundleKind::Incremental
            && s.categories == 0
            && s.updates == 0
            && s.decisions == 0
            && self.content.files.is_empty()
    }
}

/// The update records changed after `from` (and those whose document did), each with its
/// upstream document, into `spool`; their files into `content`.
fn add_updates(
    store: &Store,
    opts: &ExportOptions,
    from: u64,
    spool: &mut MetadataSpool,
    content: &mut ContentPick,
) -> Result<()> {
    store.for_each_update_changed_since(from, &mut |u, state, seq| {
        let r = UpdateRecord {
            update: u,
            state: super::record_state(state),
            changed_seq: seq,
        };
        // An update sent again only for its document (its row unchanged since `from`) carries
        // no content: its files crossed with it before.
        if !opts.metadata_only && r.state != bundle::RecordState::Removed && seq > from {
            content.add_files_of(store, &r)?;
        }
        spool.update(&r)?;
        // The upstream's own document travels with the record, so that the isolated side
        // can publish it to WSUS byte for byte.
        let (id, revision) = (&r.update.id, r.update.revision);
        match store.document(id.as_str(), revision)? {
            Some(xml) => spool.document(&DocumentRecord {
                id: id.clone(),
                revision,
                xml,
            }),
            None => Ok(()),
        }
    })?;
    Ok(())
}

/// Chooses the sequence number and the change range, and takes what changed in it: each
/// update record goes into `metadata.bin` as the store yields it, its files into the content
/// selection, so that the records are never held together.
fn select(store: &Store, opts: &ExportOptions, target: Option<&ExportTarget>) -> Result<Selection> {
    // Sequence numbers are unique across the shared chain and the points' own bundles.
    let last = store.last_export()?;
    let sequence = last.as_ref().map_or(1, |l| l.sequence + 1);
    let base = match target {
        Some(t) => match t.acknowledged {
            Some(seq) => store.export_at(seq)?,
            None => None,
        },
        None => store.last_shared_export()?,
    };
    let full = opts.full || base.is_none();
    let (kind, base_sequence, from) = match (&base, full) {
        (Some(l), false) => (BundleKind::Incremental, Some(l.sequence), l.changes_to),
        _ => (BundleKind::Full, None, 0),
    };
    let to = store.change_seq()?;
    // The store yields each section in the order the stream requires: by id.
    let mut spool = MetadataSpool::new(&store.staging_dir())?;
    for c in store.categories_changed_since(from)? {
        spool.category(&c)?;
        if let Some(xml) = store.document(c.id.as_str(), c.revision)? {
            spool.document(&DocumentRecord {
                id: c.id.clone(),
                revision: c.revision,
                xml,
            })?;
        }
    }
    let mut content = ContentPick::default();
    add_updates(store, opts, from, &mut spool, &mut content)?;
    // Decisions travel as their own records: a decline re-sends neither the update nor its
    // content.
    for d in store.decisions_changed_since(from)? {
        if let Some(update) = Guid::parse(&d.update_id) {
            spool.decision(&Decision {
                update,
                declined: d.declined,
                decided_seq: d.decided_seq,
            })?;
        }
    }
    // Content is carried from the last export that carried content: a metadata-only export
    // in between must not make the next one forget the files it left out.
    let content_from = match (full, target) {
        (true, _) => 0,
        (false, Some(t)) => {
            let seq = base.as_ref().map_or(0, |b| b.sequence);
            store.content_export_seq_upto(seq, Some(&t.point_id))?
        }
        (false, None) => store.last_content_export_seq()?,
    };
    if !opts.metadata_only && !full {
        for (h, size) in store.referenced_content_added_since(content_from)? {
            content.carry(store, h, size);
        }
    }
    // The offline catalog goes with a full bundle, and with the first bundle after a new
    // catalog version arrived.
    if !opts.metadata_only
        && let Some((h, size)) = store.catalog()?
        && (full || store.content_added_since(&h, content_from)?)
    {
        content.carry(store, h, size);
        content.catalog = Some(h);
    }
    Ok(Selection {
        sequence,
        kind,
        base_sequence,
        from,
        to,
        metadata: spool.finish()?,
        content,
    })
}

/// The content files an export carries (by SHA-256, each once), and the referenced files the
/// store lacks.
#[derive(Default)]
struct ContentPick {
    files: BTreeMap<[u8; 32], ContentFile>,
    /// The first [`MISSING_LISTED`] missing files.
    missing: Vec<MissingOut>,
    missing_files: u64,
    /// The carried file that is the offline catalog.
    catalog: Option<[u8; 32]>,
}

impl ContentPick {
    fn carry(&mut self, store: &Store, h: [u8; 32], size: u64) {
        self.files.entry(h).or_insert_with(|| ContentFile {
            sha256: h,
            size,
            path: store.content_path(&h),
        });
    }

    /// The files of an exported update: those the store has are carried, the others counted
    /// as missing.
    fn add_files_of(&mut self, store: &Store, r: &UpdateRecord) -> Result<()> {
        for f in &r.update.files {
            let sha = match (f.sha256, f.sha1) {
                (Some(h), _) if store.content_entry(&h)?.is_some() => Some(h),
                (None, Some(h1)) => store.content_by_sha1(&h1)?,
                _ => None,
            };
            match sha {
                Some(h) => {
                    let (size, _) = store.content_entry(&h)?.expect("checked above");
                    self.carry(store, h, size);
                }
                None => {
                    self.missing_files += 1;
                    if self.missing.len() < MISSING_LISTED {
                        self.missing.push(MissingOut {
                            update_id: r.update.id.to_string(),
                            name: f.name.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// What the bundle writer needs: the selection, the store's identity and criteria, and the
/// options.
fn bundle_spec(store: &Store, opts: &ExportOptions, sel: Selection) -> Result<BundleSpec> {
    let crit = store.criteria()?;
    Ok(BundleSpec {
        store_id: store.id().to_string(),
        store_name: store.name().to_string(),
        sequence: sel.sequence,
        kind: sel.kind,
        base_sequence: sel.base_sequence,
        changes_from: sel.from,
        changes_to: sel.to,
        criteria: ManifestCriteria {
            products: crit.products,
            classifications: crit.classifications,
            languages: crit.languages,
        },
        created: opts.created,
        valid_until: opts.valid_until,
        max_volume_size: opts.max_volume_size,
        metadata: sel.metadata,
        content: sel.content.files.into_values().collect(),
        catalog: sel.content.catalog,
    })
}

/// Signs the written `manifest.json` (after checking it is the one written) beside it as
/// `manifest.json.minisig`; returns the signing key's id.
fn sign(signer: &SigningKey, written: &WrittenBundle) -> Result<String> {
    super::signature::sign_manifest_file(
        signer,
        &written.dir.join("manifest.json"),
        &written.manifest_sha256,
        &written.manifest,
    )
}

/// The log line of a finished export.
fn log_line(r: &ExportReport) -> String {
    format!(
        "Exported {} bundle {} (sequence {}, changes {}..{}) to {}: {} categories, {} updates ({} removed), {} content files ({} bytes), {} referenced files missing",
        r.kind,
        r.bundle_id,
        r.sequence,
        r.changes_from,
        r.changes_to,
        r.bundle_dir,
        r.categories,
        r.updates,
        r.removed,
        r.content_files,
        r.content_bytes,
        r.missing_files
    )
}
