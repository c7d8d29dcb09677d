//! `catalog import`: takes single updates that the criteria do not select, as Configuration
//! Manager's "import updates from the catalog" does. An update comes from its own
//! `upd:Update` document file, or is looked up by UpdateID or KB number in a source (any
//! upstream kind); it brings its bundled children and the categories it needs. Payload files
//! given with it are checked against the update's digests first: one that matches none of
//! its files refuses the whole import, and nothing is stored.
//!
//! The merge is the sync's own ([`crate::sync::write_fetched`]); what is new here is finding
//! the updates, the check of the payloads, and the mark (`catalog_imports`) that makes later
//! syncs keep them. Design notes: docs/CATALOG-IMPORT.md.

use crate::content::stage_copy;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::Digests;
use crate::model::{Category, FileRef, Guid, Update, hex_lower};
use crate::progress::{Progress, Unit};
use crate::store::{Publisher, Store, Tx, stored_copy_intact};
use crate::time::Timestamp;
use crate::upstream::upd_xml::{Document, parse_document, parse_with_prerequisites};
use crate::upstream::{Fetched, ScanItem, Upstream};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What to import.
#[derive(Clone, Debug, Default)]
pub struct CatalogImport<'a> {
    /// Each an `upd:Update` document file, an UpdateID, or a KB number (`KBnnnnnnn`).
    pub items: &'a [String],
    /// Where to look up UpdateIDs and KB numbers, bundled children and categories; default
    /// the store's upstream.
    pub from: Option<&'a Path>,
    /// Payload files of the imported updates, each checked against their digests.
    pub files: &'a [PathBuf],
}

/// What `catalog import` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CatalogImportReport {
    /// The source the updates were looked up in, when one was used.
    pub source: Option<String>,
    pub updates: Vec<ImportedUpdate>,
    /// Categories added or changed.
    pub categories: u64,
    /// Category GUIDs the updates cite that neither the source nor the store defines (the
    /// updates are kept with them, as a sync keeps them).
    pub unknown_categories: Vec<String>,
    /// Upstream documents kept.
    pub documents: u64,
    pub files: Vec<ImportedFile>,
    pub warnings: Vec<String>,
}

/// One update of a catalog import.
#[derive(Clone, Debug, Serialize)]
pub struct ImportedUpdate {
    pub update_id: String,
    pub revision: u32,
    pub kb: Option<String>,
    pub title: String,
    /// True when named on the command line; false for a bundled child or a needed detectoid taken with it.
    pub requested: bool,
    /// `new`, `updated`, `unchanged`, or `kept` (the store holds a newer revision).
    pub change: &'static str,
}

/// One payload file taken in.
#[derive(Clone, Debug, Serialize)]
pub struct ImportedFile {
    pub path: String,
    pub update_id: String,
    /// The file name the update gives it.
    pub name: String,
    pub sha256: String,
    pub size: u64,
    /// False when the store had it already.
    pub added: bool,
}

/// An ITEM of the command line.
enum Item {
    File(PathBuf),
    Id(Guid),
    Kb(String),
}

fn parse_item(s: &str) -> Result<Item> {
    let path = Path::new(s);
    if path.is_file() {
        return Ok(Item::File(path.to_path_buf()));
    }
    if let Some(g) = Guid::parse(s) {
        return Ok(Item::Id(g));
    }
    match crate::model::kb_digits(s) {
        Ok(d) => Ok(Item::Kb(d)),
        Err(_) => Err(Error::usage(format!(
            "'{s}' is neither an update document file, an UpdateID nor a KB number"
        ))
        .with_hint("give the path of an upd:Update XML file, a GUID, or KBnnnnnnn")),
    }
}

/// An update found, with the upstream's document of it when there is one.
struct Taken {
    update: Update,
    document: Option<Vec<u8>>,
    requested: bool,
}

/// A category with the source's document of it, when it has one.
type CategoryDoc = (Category, Option<Vec<u8>>);

/// What the scan of the source found: its categories in full, per update the newest
/// revision's key and the bundle edges (as the parent names them, or the child), and which
/// updates are detectoids.
#[derive(Default)]
struct SourceIndex {
    categories: HashMap<String, CategoryDoc>,
    newest: HashMap<String, (u32, u64)>,
    children: HashMap<String, BTreeSet<String>>,
    detectoids: HashSet<String>,
}

fn index_source(up: &mut dyn Upstream, progress: &dyn Progress) -> Result<SourceIndex> {
    let mut ix = SourceIndex::default();
    up.scan(
        &mut |item| {
            match item {
                ScanItem::Category(c, doc) => {
                    let newer = ix
                        .categories
                        .get(c.id.as_str())
                        .is_none_or(|(old, _)| old.revision < c.revision);
                    if newer {
                        ix.categories.insert(c.id.as_str().to_string(), (c, doc));
                    }
                }
                ScanItem::Update(h) => {
                    let id = h.id.as_str().to_string();
                    for child in &h.bundled {
                        let kids = ix.children.entry(id.clone()).or_default();
                        kids.insert(child.as_str().to_string());
                    }
                    for parent in &h.bundled_by {
                        let kids = ix.children.entry(parent.as_str().to_string()).or_default();
                        kids.insert(id.clone());
                    }
                    if h.update_type.eq_ignore_ascii_case("Detectoid") {
                        ix.detectoids.insert(id.clone());
                    }
                    let newer = ix.newest.get(&id).is_none_or(|(r, _)| *r < h.revision);
                    if newer {
                        ix.newest.insert(id, (h.revision, h.key));
                    }
                }
            }
            Ok(())
        },
        progress,
    )?;
    Ok(ix)
}

/// The source opened and scanned, with its description.
struct Source {
    up: Box<dyn Upstream>,
    index: SourceIndex,
    describe: String,
}

/// Opens the source: `from`, else the store's upstream. Needed (an error without one) when
/// an item is looked up; otherwise only used for children and categories, and a configured
/// upstream that cannot be opened is a warning.
fn open_source(
    store: &Store,
    from: Option<&Path>,
    needed: bool,
    warnings: &mut Vec<String>,
    progress: &dyn Progress,
) -> Result<Option<Source>> {
    let configured = store.setting("upstream")?.map(PathBuf::from);
    let Some(path) = from.map(Path::to_path_buf).or(configured) else {
        if needed {
            return Err(Error::usage(
                "an UpdateID or KB number is looked up in a source: none given and no upstream set for this store",
            )
            .with_hint("pass --from SOURCE, or `offsync upstream set SOURCE` once"));
        }
        return Ok(None);
    };
    // An upstream given by URL is read from the catalog the last sync downloaded and kept.
    let path = match crate::fetch::is_url(&path.to_string_lossy()) {
        true => kept_catalog_of(store, &path)?,
        false => Ok(path),
    };
    let opened = path
        .and_then(|path| crate::upstream::open(&path))
        .and_then(|mut up| {
            let index = index_source(up.as_mut(), progress)?;
            let describe = up.describe();
            Ok(Source {
                up,
                index,
                describe,
            })
        });
    match opened {
        Ok(s) => Ok(Some(s)),
        Err(e) if !needed && from.is_none() => {
            warnings.push(format!(
                "the store's upstream could not be read ({}): bundled children and categories were looked for in the given documents and the store only",
                e.message
            ));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The store's kept offline catalog, standing for an upstream given by URL; an error (for
/// the caller to report or warn about) when the store keeps none.
fn kept_catalog_of(store: &Store, url: &Path) -> Result<Result<PathBuf>> {
    Ok(match store.catalog()? {
        Some((h, _)) => Ok(store.content_path(&h)),
        None => Err(Error::usage(format!(
            "{} is an address and this store keeps no offline catalog downloaded from it",
            url.display()
        ))
        .with_hint("run `offsync sync` first: it downloads the catalog and keeps it")),
    })
}

/// Keys handed to one call of [`Upstream::fetch`].
const FETCH_CHUNK: usize = 4096;

/// Reads the updates with these keys in full, in chunks, giving each to `keep`.
fn fetch(
    up: &mut dyn Upstream,
    keys: &[u64],
    keep: &mut dyn FnMut(Fetched),
    progress: &dyn Progress,
) -> Result<()> {
    for chunk in keys.chunks(FETCH_CHUNK) {
        up.fetch(
            chunk,
            &mut |f| {
                keep(f);
                Ok(())
            },
            progress,
        )?;
    }
    Ok(())
}

/// Finds every item and the bundled children of what is found (to any depth).
fn resolve(
    items: &[Item],
    source: Option<&mut Source>,
    progress: &dyn Progress,
) -> Result<BTreeMap<String, Taken>> {
    let mut taken: BTreeMap<String, Taken> = BTreeMap::new();
    for item in items {
        if let Item::File(path) = item {
            let bytes = fs::read(path).map_err(|e| Error::io(path, "read", e))?;
            let update = match parse_document(&bytes) {
                Ok(Document::Update(u)) => u,
                Ok(Document::Category(_)) => {
                    return Err(Error::usage(format!(
                        "{} is a category document, not an update",
                        path.display()
                    ))
                    .with_hint("give the upd:Update document of the update to import"));
                }
                Err(e) => {
                    return Err(Error::usage(format!("{}: {}", path.display(), e.message))
                        .with_hint("give an upd:Update XML document, as WSUS serves it"));
                }
            };
            let id = update.id.as_str().to_string();
            taken.entry(id).or_insert(Taken {
                update,
                document: Some(bytes),
                requested: true,
            });
        }
    }
    let Some(src) = source else {
        return close_bundles(taken, None, progress);
    };
    let mut keys = Vec::new();
    for item in items {
        if let Item::Id(g) = item
            && !taken.contains_key(g.as_str())
        {
            let (_, key) = src.index.newest.get(g.as_str()).ok_or_else(|| {
                Error::usage(format!("no update {g} in {}", src.describe))
                    .with_hint("check the UpdateID, or give the source that has it with --from")
            })?;
            keys.push(*key);
        }
    }
    let kbs: BTreeSet<&str> = items
        .iter()
        .filter_map(|i| match i {
            Item::Kb(k) => Some(k.as_str()),
            _ => None,
        })
        .collect();
    let mut found = Vec::new();
    fetch(src.up.as_mut(), &keys, &mut |f| found.push(f), progress)?;
    if !kbs.is_empty() {
        found.extend(find_kbs(src, &kbs, progress)?);
    }
    for f in found {
        let id = f.update.id.as_str().to_string();
        taken.entry(id).or_insert(Taken {
            update: f.update,
            document: f.document,
            requested: true,
        });
    }
    close_bundles(taken, Some(src), progress)
}

/// The updates (newest revisions) whose KB number is one of `kbs`: a header carries no KB
/// number, so every update of the source is read (in chunks; only the matches are kept).
fn find_kbs(
    src: &mut Source,
    kbs: &BTreeSet<&str>,
    progress: &dyn Progress,
) -> Result<Vec<Fetched>> {
    let mut keys: Vec<u64> = src.index.newest.values().map(|(_, k)| *k).collect();
    keys.sort_unstable();
    let mut found = Vec::new();
    fetch(
        src.up.as_mut(),
        &keys,
        &mut |f| {
            if f.update.kb.as_deref().is_some_and(|k| kbs.contains(k)) {
                found.push(f);
            }
        },
        progress,
    )?;
    for kb in kbs {
        if !found.iter().any(|f| f.update.kb.as_deref() == Some(*kb)) {
            return Err(
                Error::usage(format!("no update with KB{kb} in {}", src.describe)).with_hint(
                    "check the KB number, or give the source that has it with --from (or the update's document file)",
                ),
            );
        }
    }
    Ok(found)
}

/// Adds the bundled children of what is taken, level by level, from the source; a child
/// neither given nor in the source refuses the import (a bundle installs through them).
fn close_bundles(
    mut taken: BTreeMap<String, Taken>,
    mut source: Option<&mut Source>,
    progress: &dyn Progress,
) -> Result<BTreeMap<String, Taken>> {
    loop {
        let mut wanted: BTreeMap<String, String> = BTreeMap::new();
        for (id, t) in &taken {
            let named = t.update.bundled.iter().map(|b| b.id.as_str().to_string());
            let recorded = source
                .as_ref()
                .and_then(|s| s.index.children.get(id))
                .into_iter()
                .flatten()
                .cloned();
            for child in named.chain(recorded) {
                if !taken.contains_key(&child) {
                    wanted.insert(child, id.clone());
                }
            }
        }
        // The detectoids a taken update's document names as prerequisites come too, as a
        // sync brings them, when the source has them (a missing one is not an error: the
        // update installs without it; a published package lists it as missing).
        if let Some(src) = source.as_deref() {
            for (id, t) in &taken {
                for pre in prerequisite_detectoids(t, &src.index) {
                    if !taken.contains_key(&pre) {
                        wanted.entry(pre).or_insert_with(|| id.clone());
                    }
                }
            }
        }
        if wanted.is_empty() {
            return Ok(taken);
        }
        let mut keys = Vec::new();
        for (child, parent) in &wanted {
            let key = source
                .as_ref()
                .and_then(|s| s.index.newest.get(child))
                .map(|(_, k)| *k);
            let Some(key) = key else {
                let where_ = source
                    .as_ref()
                    .map_or("no source".to_string(), |s| s.describe.clone());
                return Err(Error::usage(format!(
                    "update {parent} bundles {child}, which is not in {where_}"
                ))
                .with_hint("give the child's document file as another ITEM, or --from a source that has it"));
            };
            keys.push(key);
        }
        let Some(src) = source.as_deref_mut() else {
            return Err(Error::other(
                "internal: a bundled child found without a source",
            ));
        };
        let mut found = Vec::new();
        fetch(src.up.as_mut(), &keys, &mut |f| found.push(f), progress)?;
        for f in found {
            let id = f.update.id.as_str().to_string();
            taken.entry(id).or_insert(Taken {
                update: f.update,
                document: f.document,
                requested: false,
            });
        }
    }
}

/// The plain prerequisites named by the document of `t` that are detectoids in the source.
fn prerequisite_detectoids(t: &Taken, index: &SourceIndex) -> Vec<String> {
    let Some(doc) = &t.document else {
        return Vec::new();
    };
    // The document was read once already: it parses.
    let Ok((_, pre)) = parse_with_prerequisites(doc) else {
        return Vec::new();
    };
    pre.into_iter()
        .map(|g| g.as_str().to_string())
        .filter(|g| index.detectoids.contains(g))
        .collect()
}

/// The categories the updates need that the source has (with their parents), and the ones
/// neither the source nor the store (`known`) defines.
fn needed_categories(
    taken: &BTreeMap<String, Taken>,
    source: Option<&Source>,
    known: &HashMap<String, Option<String>>,
) -> (Vec<CategoryDoc>, Vec<String>) {
    let mut add: BTreeMap<String, CategoryDoc> = BTreeMap::new();
    let mut unknown = BTreeSet::new();
    let mut todo: Vec<String> = taken
        .values()
        .flat_map(|t| t.update.categories.iter().map(|c| c.as_str().to_string()))
        .collect();
    while let Some(id) = todo.pop() {
        if add.contains_key(&id) || unknown.contains(&id) {
            continue;
        }
        match source.and_then(|s| s.index.categories.get(&id)) {
            Some((c, doc)) => {
                if let Some(p) = &c.parent {
                    todo.push(p.as_str().to_string());
                }
                add.insert(id, (c.clone(), doc.clone()));
            }
            None if known.contains_key(&id) => {}
            None => {
                unknown.insert(id);
            }
        }
    }
    (add.into_values().collect(), unknown.into_iter().collect())
}

/// A payload file staged and matched to a file of an imported update.
struct Staged {
    path: PathBuf,
    staged: PathBuf,
    digests: Digests,
    update_id: String,
    name: String,
}

/// The file of the imported updates that `d` is: the same SHA-256 (or, for a reference
/// without one, SHA-1), the same SHA-1 when the reference gives both, and the same size.
fn find_ref<'a>(refs: &[(&'a str, &'a FileRef)], d: &Digests) -> Option<(&'a str, &'a FileRef)> {
    refs.iter().copied().find(|(_, f)| {
        let by_256 = f.sha256.is_some_and(|h| h == d.sha256);
        let by_1 = f.sha256.is_none() && f.sha1.is_some_and(|h| h == d.sha1);
        (by_256 || by_1) && f.sha1.is_none_or(|h| h == d.sha1) && f.size.is_none_or(|s| s == d.size)
    })
}

/// Copies every payload into staging, hashing it, and matches it to a file of the imported
/// updates. One that matches none refuses the import: every staged copy is removed.
fn stage_payloads(
    files: &[PathBuf],
    taken: &BTreeMap<String, Taken>,
    staging: &Path,
    progress: &dyn Progress,
) -> Result<Vec<Staged>> {
    let refs: Vec<(&str, &FileRef)> = taken
        .iter()
        .flat_map(|(id, t)| t.update.files.iter().map(move |f| (id.as_str(), f)))
        .collect();
    let total = files
        .iter()
        .map(|f| fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    progress.start("checking payload files", Some(total), Unit::Bytes);
    let mut out: Vec<Staged> = Vec::new();
    let result = (|| -> Result<()> {
        fs::create_dir_all(staging).map_err(|e| Error::io(staging, "create", e))?;
        for (n, path) in files.iter().enumerate() {
            let staged = staging.join(format!("catalog-{}-{n}.partial", std::process::id()));
            let d = stage_copy(path, &staged)?;
            progress.advance(d.size);
            let Some((update_id, f)) = find_ref(&refs, &d) else {
                let _ = fs::remove_file(&staged);
                return Err(mismatch(path, &d));
            };
            out.push(Staged {
                path: path.clone(),
                staged,
                digests: d,
                update_id: update_id.to_string(),
                name: f.name.clone(),
            });
        }
        Ok(())
    })();
    progress.finish();
    if let Err(e) = result {
        for s in &out {
            let _ = fs::remove_file(&s.staged);
        }
        return Err(e);
    }
    Ok(out)
}

fn mismatch(path: &Path, d: &Digests) -> Error {
    Error::new(
        ErrorKind::Corrupt,
        format!(
            "{} matches no file of the updates imported (SHA-256 {}, SHA-1 {}, {} bytes): nothing was imported",
            path.display(),
            hex_lower(&d.sha256),
            hex_lower(&d.sha1),
            d.size
        ),
    )
    .with_hint("download the payload again from the catalog, and give it with the update it belongs to")
}

/// Imports the updates `req` names into `store`, all or nothing. The log says what was
/// imported only once it is committed, and says why when nothing was.
pub fn catalog_import(
    store: &mut Store,
    req: &CatalogImport<'_>,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<CatalogImportReport> {
    let result = import_logged_after_commit(store, req, now, progress);
    if let Err(e) = &result {
        let what = if e.kind == crate::error::ErrorKind::Interrupted {
            "interrupted"
        } else {
            "refused"
        };
        let line = std::iter::once(format!(
            "Catalog import {what}: {}; nothing was stored",
            e.message
        ))
        .chain(e.details.iter().cloned())
        .collect::<Vec<_>>()
        .join("; ");
        store.log("CATALOG", &line, now);
    }
    result
}

fn import_logged_after_commit(
    store: &mut Store,
    req: &CatalogImport<'_>,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<CatalogImportReport> {
    if req.items.is_empty() {
        return Err(Error::usage("no update to import")
            .with_hint("give update document files, UpdateIDs or KB numbers"));
    }
    let items = req
        .items
        .iter()
        .map(|s| parse_item(s))
        .collect::<Result<Vec<_>>>()?;
    let mut report = CatalogImportReport::default();
    let lookup = items.iter().any(|i| !matches!(i, Item::File(_)));
    let mut source = open_source(store, req.from, lookup, &mut report.warnings, progress)?;
    report.source = source.as_ref().map(|s| s.describe.clone());
    let taken = resolve(&items, source.as_mut(), progress)?;

    let staging = store.staging_dir();
    // The write lock first (it settles what an interrupted writer left in staging), then the
    // payloads: a mismatch drops the transaction and every staged copy, so nothing is kept.
    let mut tx = store.begin()?;
    let staged = stage_payloads(req.files, &taken, &staging, progress)?;
    let mut publisher = Publisher::new(tx.root());
    let mut lines = Vec::new();
    let written = write_all(
        &mut tx,
        &taken,
        source.as_ref(),
        &mut report,
        &mut lines,
        now,
    )
    .and_then(|()| take_payloads(&mut tx, &mut publisher, &staged, &mut report, now));
    if let Err(e) = written {
        for s in &staged {
            let _ = fs::remove_file(&s.staged);
        }
        return Err(e);
    }
    if let Err(e) = tx.commit() {
        publisher.commit_failed();
        let _ = store.settle();
        return Err(e);
    }
    publisher.committed();
    for l in &lines {
        store.log("CATALOG", l, now);
    }
    for w in &report.warnings {
        store.log("CATALOG", &format!("Warning: {w}"), now);
    }
    Ok(report)
}

/// Writes the categories, the updates (through the sync's merge), their documents and marks;
/// the log lines go to `lines`, for the caller to write once the transaction is committed
/// (a log line written at once would claim an update that a failed commit never stored).
fn write_all(
    tx: &mut Tx<'_>,
    taken: &BTreeMap<String, Taken>,
    source: Option<&Source>,
    report: &mut CatalogImportReport,
    lines: &mut Vec<String>,
    now: Timestamp,
) -> Result<()> {
    let (categories, unknown) = needed_categories(taken, source, &tx.category_parents()?);
    for (c, doc) in &categories {
        if tx.put_category(c)? {
            report.categories += 1;
        }
        if let Some(d) = doc {
            tx.put_document(&c.id, c.revision, d)?;
        }
    }
    crate::store::check_hierarchy(&tx.category_parents()?)
        .map_err(|e| e.context("the source's categories"))?;
    if !unknown.is_empty() {
        report.warnings.push(format!(
            "{} category GUID(s) cited by the imported updates are defined by neither the source nor the store (kept with the updates; a sync that brings them fills them in): {}",
            unknown.len(),
            unknown.join(", ")
        ));
    }
    report.unknown_categories = unknown;
    let from = report
        .source
        .clone()
        .unwrap_or_else(|| "update documents".into());
    for (id, t) in taken {
        let change = write_one(tx, t, report)?;
        if t.document.is_some() {
            report.documents += 1;
        }
        tx.mark_catalog_import(id, &now.rfc3339(), &from, t.requested)?;
        let line = crate::store::update_line(change, &t.update);
        lines.push(format!("{line} (imported from the catalog)"));
        report.updates.push(ImportedUpdate {
            update_id: id.clone(),
            revision: t.update.revision,
            kb: t.update.kb.clone(),
            title: t.update.title("en").to_string(),
            requested: t.requested,
            change,
        });
    }
    Ok(())
}

/// Merges one update as a sync would, unless the store holds a newer revision.
fn write_one(tx: &mut Tx<'_>, t: &Taken, report: &mut CatalogImportReport) -> Result<&'static str> {
    let u = &t.update;
    let stored = tx.stored_doc(u.id.as_str())?;
    if let Some(s) = &stored
        && s.revision > u.revision
    {
        report.warnings.push(format!(
            "the store holds revision {} of {}, newer than the imported revision {}: kept the stored one",
            s.revision, u.id, u.revision
        ));
        return Ok("kept");
    }
    let fetched = Fetched {
        update: u.clone(),
        document: t.document.clone(),
    };
    Ok(match crate::sync::write_fetched(tx, fetched, None)? {
        None => "unchanged",
        Some(_) if stored.is_some() => "updated",
        Some(_) => "new",
    })
}

/// Publishes the staged payloads and records them (as `content import` does: a recorded
/// file with an intact copy is not written again; a damaged copy is replaced).
fn take_payloads(
    tx: &mut Tx<'_>,
    publisher: &mut Publisher,
    staged: &[Staged],
    report: &mut CatalogImportReport,
    now: Timestamp,
) -> Result<()> {
    for s in staged {
        let d = &s.digests;
        let recorded = tx.content_recorded(&d.sha256)?;
        if !recorded {
            publisher.publish(&s.staged, &d.sha256)?;
            tx.add_content(&d.sha256, &d.sha1, d.size, &now.rfc3339())?;
        } else if !stored_copy_intact(tx.root(), &d.sha256, d.size) {
            publisher.replace(&s.staged, &d.sha256)?;
        } else {
            let _ = fs::remove_file(&s.staged);
        }
        report.files.push(ImportedFile {
            path: s.path.display().to_string(),
            update_id: s.update_id.clone(),
            name: s.name.clone(),
            sha256: hex_lower(&d.sha256),
            size: d.size,
            added: !recorded,
        });
    }
    Ok(())
}
