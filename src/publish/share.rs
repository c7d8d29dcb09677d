//! `publish share`: the payload files of the store's live updates (not removed, not
//! declined) laid out for a network without WSUS, one folder per product and
//! classification, files under their original names, with `index.html`, `index.json` and
//! `index.csv` at the root, and the offline catalog as `wsusscn2.cab` when the store keeps
//! one. Streamed over the updates: one update is in memory at a time; what is held whole is
//! one entry per published path (the name-clash map and the set `--prune` keeps).
//! The layout and naming rules are in docs/PUBLISH.md.

mod html;
mod index;
mod names;
mod prune;

use super::place::{Expected, Placed, Placer};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{CategoryKind, hex_lower};
use crate::progress::{Progress, Unit};
use crate::store::{PublishFile, PublishUpdate, Store, StoredContent};
use index::{IndexRow, Indexes};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The folder inside the share where files are written before they are renamed into place;
/// its leading dot keeps it apart from every folder the share makes (names never start
/// with a dot).
const TEMP_DIR: &str = ".offsync-partial";
/// The format marker at the start of the share's `index.json` (`publish wsus` refuses a
/// folder holding a share).
pub const INDEX_FORMAT: &str = "offsync-share-index";
/// The offline catalog's name at the share's root.
pub const CATALOG_NAME: &str = "wsusscn2.cab";
/// The store setting naming the offline catalog's content file (hex SHA-256).
pub use crate::store::CATALOG_SETTING;
/// Folders for an update without a known product or classification.
const NO_PRODUCT: &str = "Unknown product";
const NO_CLASSIFICATION: &str = "Unclassified";
/// How many missing or damaged files the report names (all are counted).
const MAX_NAMED: usize = 100;

#[derive(Clone, Debug)]
pub struct ShareOptions {
    pub out: PathBuf,
    pub prune: bool,
}

/// A referenced file that is not in the share.
#[derive(Clone, Debug, Serialize)]
pub struct FileProblem {
    pub update_id: String,
    pub name: String,
    pub sha256: Option<String>,
}

/// What `publish share` did. Its JSON is the `--json` output (README, "publish share").
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShareReport {
    pub out: String,
    /// Updates with at least one file in the share.
    pub updates: u64,
    /// Paths in the share (a file published under two folders counts twice).
    pub files: u64,
    pub linked: u64,
    pub copied: u64,
    pub unchanged: u64,
    pub pruned: u64,
    /// References to files the store does not hold (or whose copy is gone).
    pub missing: u64,
    /// References to files whose stored copy does not match its digests: not published.
    pub damaged: u64,
    /// Size of the files in the share.
    pub bytes: u64,
    /// Bytes linked or copied by this run.
    pub bytes_written: u64,
    /// How many of index.html, index.json and index.csv were (re)written.
    pub indexes_written: u64,
    /// `none` (the store keeps no catalog), `linked`, `copied`, `unchanged`, `missing`,
    /// `damaged`.
    pub catalog: String,
    pub missing_files: Vec<FileProblem>,
    pub damaged_files: Vec<FileProblem>,
}

impl ShareReport {
    fn count(&mut self, p: Placed, size: u64) {
        match p {
            Placed::Linked => self.linked += 1,
            Placed::Copied => self.copied += 1,
            Placed::Unchanged => self.unchanged += 1,
            Placed::Missing | Placed::Damaged => return,
        }
        if p != Placed::Unchanged {
            self.bytes_written += size;
        }
        self.bytes += size;
    }

    fn problem(&mut self, p: Placed, u: &PublishUpdate, name: &str, sha256: Option<[u8; 32]>) {
        let named = FileProblem {
            update_id: u.update_id.clone(),
            name: name.to_string(),
            sha256: sha256.map(|h| hex_lower(&h)),
        };
        let (n, list) = match p {
            Placed::Damaged => (&mut self.damaged, &mut self.damaged_files),
            _ => (&mut self.missing, &mut self.missing_files),
        };
        *n += 1;
        if list.len() < MAX_NAMED {
            list.push(named);
        }
    }
}

/// Publishes the share into `opts.out` (created when its parent exists).
pub fn publish_share(
    store: &Store,
    opts: &ShareOptions,
    progress: &dyn Progress,
) -> Result<ShareReport> {
    let out = super::prepare_out(&opts.out, store.root())?;
    refuse_wsus_publish(&out)?;
    // What an interrupted run left there is removed: only this command writes there.
    let temp = super::place::fresh_temp(&out, TEMP_DIR)?;
    // One snapshot: the share's passes (names, files, indexes) see the same updates even
    // when a sync or import commits meanwhile.
    let result = store.read_consistent(|| publish_into(store, &out, &temp, opts, progress));
    let _ = fs::remove_dir_all(&temp);
    result
}

fn publish_into(
    store: &Store,
    out: &Path,
    temp: &Path,
    opts: &ShareOptions,
    progress: &dyn Progress,
) -> Result<ShareReport> {
    let folders = folder_names(store)?;
    progress.start("checking names", None, Unit::Items);
    let mut clash: HashMap<String, Option<[u8; 32]>> = HashMap::new();
    store.for_each_publishable(&mut |u| {
        for (_, pf, _, cf) in places(&u, &folders) {
            for f in &u.files {
                if let Some(s) = f.stored {
                    let key =
                        clash_key(&pf, &cf, &names::component(&f.name, names::MAX_FILE, true));
                    let e = clash.entry(key).or_insert(Some(s.sha256));
                    if *e != Some(s.sha256) {
                        *e = None;
                    }
                }
            }
        }
        progress.advance(1);
        Ok(())
    })?;
    progress.finish();
    let mut run = Run {
        out,
        placer: Placer::new(temp.to_path_buf()),
        indexes: Indexes::create(temp, &format!("Updates of {}", store.name()))?,
        produced: HashSet::new(),
        made_dirs: HashSet::new(),
        damaged: HashSet::new(),
        report: ShareReport {
            out: out.display().to_string(),
            ..Default::default()
        },
        rows: 0,
    };
    progress.start("publishing files", None, Unit::Items);
    store.for_each_publishable(&mut |u| {
        if progress.cancelled() {
            return Err(Error::interrupted(
                "publish share",
                "the files placed so far stay; the indexes were not replaced",
            ));
        }
        run.update(store, &u, &folders, &clash)?;
        progress.advance(1);
        Ok(())
    })?;
    progress.finish();
    drop(clash);
    run.catalog(store)?;
    run.placer.sync_dirs();
    let summary = serde_json::json!({
        "store_id": store.id(),
        "store_name": store.name(),
        "updates": run.report.updates,
        "rows": run.rows,
        "paths": run.report.files,
        "bytes": run.report.bytes,
        "catalog": (run.report.catalog != "none" && run.report.catalog != "missing"
            && run.report.catalog != "damaged").then_some(CATALOG_NAME),
    });
    let Run {
        indexes,
        produced,
        mut report,
        ..
    } = run;
    report.indexes_written = indexes.finish(out, &summary)?;
    if opts.prune {
        let catalog_kept = summary["catalog"].is_string();
        report.pruned = prune::prune(out, TEMP_DIR, &produced, catalog_kept)?;
    }
    store.report_log_failure(progress);
    Ok(report)
}

/// The state of one publish run.
struct Run<'a> {
    out: &'a Path,
    placer: Placer,
    indexes: Indexes,
    /// Every path published, relative to the share's root.
    produced: HashSet<PathBuf>,
    made_dirs: HashSet<PathBuf>,
    /// Content found damaged in this run (not read again).
    damaged: HashSet<[u8; 32]>,
    report: ShareReport,
    rows: u64,
}

impl Run<'_> {
    /// Places the files of one update under each of its folders, and writes its index rows.
    fn update(
        &mut self,
        store: &Store,
        u: &PublishUpdate,
        folders: &Folders,
        clash: &HashMap<String, Option<[u8; 32]>>,
    ) -> Result<()> {
        let places = places(u, folders);
        if places.is_empty() {
            return Ok(());
        }
        let products = distinct(places.iter().map(|p| p.0.clone()));
        let classes = distinct(places.iter().map(|p| p.2.clone()));
        let mut links: Vec<(String, Option<String>, Option<u64>, &str)> = Vec::new();
        for f in &u.files {
            let Some(stored) = f.stored else {
                self.report.problem(Placed::Missing, u, &f.name, f.sha256);
                links.push((f.name.clone(), None, f.size, "not in the store"));
                continue;
            };
            let (outcome, first) = self.file(store, u, f, stored, &places, &products, clash)?;
            match outcome {
                Placed::Missing | Placed::Damaged => {
                    self.report
                        .problem(outcome, u, &f.name, Some(stored.sha256));
                    let note = if outcome == Placed::Missing {
                        "missing from the store's content folder"
                    } else {
                        "damaged in the store: not published"
                    };
                    links.push((f.name.clone(), None, Some(stored.size), note));
                }
                _ => links.push((f.name.clone(), first, Some(stored.size), "")),
            }
        }
        if links.iter().any(|l| l.1.is_some()) {
            self.report.updates += 1;
        }
        let files: Vec<html::FileLink<'_>> = links
            .iter()
            .map(|(name, path, size, note)| html::FileLink {
                name,
                path: path.as_deref(),
                size: *size,
                note,
            })
            .collect();
        let row = html::row(
            &html::RowFacts {
                update_id: &u.update_id,
                title: &u.title,
                kb: u.kb.as_deref(),
                severity: u.severity.as_deref(),
                date: u.creation_date.as_deref(),
                classifications: &classes,
                products: &products,
                superseded: u.superseded,
                state: &u.state,
            },
            &files,
        );
        self.indexes.html(&row)
    }

    /// Places one file of `u` under each of its folders and writes its index rows; returns
    /// the outcome and the first path it has in the share.
    #[allow(clippy::too_many_arguments)]
    fn file(
        &mut self,
        store: &Store,
        u: &PublishUpdate,
        f: &PublishFile,
        stored: StoredContent,
        places: &[Place],
        products: &[String],
        clash: &HashMap<String, Option<[u8; 32]>>,
    ) -> Result<(Placed, Option<String>)> {
        let want = Expected {
            stored,
            sha1: f.sha1,
            size: f.size,
        };
        let safe = names::component(&f.name, names::MAX_FILE, true);
        let mut first: Option<String> = None;
        let mut outcome = Placed::Unchanged;
        for (pt, pf, ct, cf) in places {
            let name = match clash.get(&clash_key(pf, cf, &safe)) {
                Some(None) => names::with_digest(&safe, &stored.sha256),
                _ => safe.clone(),
            };
            let rel: PathBuf = [pf, cf, &name].iter().collect();
            outcome = self.place(store, &rel, &want)?;
            if matches!(outcome, Placed::Missing | Placed::Damaged) {
                break;
            }
            let path = format!("{pf}/{cf}/{name}");
            self.indexes.row(&IndexRow {
                update_id: &u.update_id,
                revision: u.revision,
                kb: u.kb.as_deref(),
                title: &u.title,
                classification: ct,
                product: pt,
                products,
                severity: u.severity.as_deref(),
                creation_date: u.creation_date.as_deref(),
                superseded: u.superseded,
                file_name: &f.name,
                size: stored.size,
                sha1: hex_lower(&stored.sha1),
                sha256: hex_lower(&stored.sha256),
                path: path.clone(),
            })?;
            self.rows += 1;
            first.get_or_insert(path);
        }
        Ok((outcome, first))
    }

    /// Places one stored file at `rel` (once per run: a path already placed is counted once).
    fn place(&mut self, store: &Store, rel: &Path, want: &Expected) -> Result<Placed> {
        if self.produced.contains(rel) {
            return Ok(Placed::Unchanged);
        }
        if self.damaged.contains(&want.stored.sha256) {
            return Ok(Placed::Damaged);
        }
        let dest = self.out.join(rel);
        self.make_dirs(rel.parent().expect("three components"))?;
        let source = store.content_path(&want.stored.sha256);
        let p = self.placer.place(&source, &dest, want)?;
        match p {
            Placed::Damaged => {
                self.damaged.insert(want.stored.sha256);
            }
            Placed::Missing => {}
            _ => {
                self.report.files += 1;
                self.report.count(p, want.stored.size);
                self.produced.insert(rel.to_path_buf());
            }
        }
        Ok(p)
    }

    /// Creates the folders of `rel` under the share, refusing to go through a link or a file
    /// someone put where a folder belongs.
    fn make_dirs(&mut self, rel: &Path) -> Result<()> {
        if self.made_dirs.contains(rel) {
            return Ok(());
        }
        let mut at = self.out.to_path_buf();
        for c in rel.components() {
            at.push(c);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::new(
                        ErrorKind::UnsafeEntry,
                        format!(
                            "{} is a link or a file where the share puts a folder",
                            at.display()
                        ),
                    )
                    .with_hint(
                        "remove it (publish never writes through links), then publish again",
                    ));
                }
                Err(_) => fs::create_dir(&at).map_err(|e| Error::io(&at, "create", e))?,
            }
        }
        self.made_dirs.insert(rel.to_path_buf());
        Ok(())
    }

    /// Puts the offline catalog the store keeps at the share's root.
    fn catalog(&mut self, store: &Store) -> Result<()> {
        let Some(hex) = store.setting(CATALOG_SETTING)? else {
            self.report.catalog = "none".into();
            return Ok(());
        };
        let sha256 = crate::model::parse_hex::<32>(&hex).ok_or_else(|| {
            Error::new(
                ErrorKind::StoreDamaged,
                format!("the store setting {CATALOG_SETTING} is '{hex}', not a SHA-256"),
            )
            .with_hint("run `offsync check`; a sync from the catalog records it again")
        })?;
        let stored = store.stored_content(Some(&sha256), None)?;
        let outcome = match stored {
            None => Placed::Missing,
            Some(stored) => {
                let want = Expected {
                    stored,
                    sha1: None,
                    size: None,
                };
                let p = self.placer.place(
                    &store.content_path(&sha256),
                    &self.out.join(CATALOG_NAME),
                    &want,
                )?;
                self.report.count(p, stored.size);
                p
            }
        };
        self.report.catalog = match outcome {
            Placed::Linked => "linked",
            Placed::Copied => "copied",
            Placed::Unchanged => "unchanged",
            Placed::Missing => "missing",
            Placed::Damaged => "damaged",
        }
        .into();
        Ok(())
    }
}

fn distinct(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for s in it {
        if !v.contains(&s) {
            v.push(s);
        }
    }
    v
}

fn clash_key(product_folder: &str, class_folder: &str, name: &str) -> String {
    names::fold(&format!("{product_folder}/{class_folder}/{name}"))
}

/// (product title, product folder, classification title, classification folder).
type Place = (String, String, String, String);

/// Category id -> folder name.
type Folders = HashMap<String, String>;

/// The folder of every product, product family and classification: its title made safe;
/// titles that end up the same (ignoring case) each get `~` and the first 8 hex digits of
/// their GUID.
fn folder_names(store: &Store) -> Result<Folders> {
    let mut by_name: HashMap<(bool, String), Vec<(String, String)>> = HashMap::new();
    for c in store.categories(None)? {
        let is_class = match CategoryKind::parse(&c.kind) {
            Some(CategoryKind::Classification) => true,
            Some(CategoryKind::Product | CategoryKind::ProductFamily) => false,
            _ => continue,
        };
        let name = names::component(&c.title, names::MAX_FOLDER, false);
        by_name
            .entry((is_class, names::fold(&name)))
            .or_default()
            .push((c.id, name));
    }
    let mut out = Folders::new();
    for (_, group) in by_name {
        let clash = group.len() > 1;
        for (id, name) in group {
            let folder = if clash {
                let short: String = id.chars().filter(|c| *c != '-').take(8).collect();
                names::folder_with_mark(&name, &short)
            } else {
                name
            };
            out.insert(id, folder);
        }
    }
    Ok(out)
}

/// The (product title, product folder, classification title, classification folder) pairs
/// an update's files go under: each product (or product family, when it names no product)
/// with each classification. A bundled child with no category of its own or from a live
/// parent goes nowhere: it is in the store for parents that are declined or removed.
fn places(u: &PublishUpdate, folders: &Folders) -> Vec<Place> {
    if u.bundled && u.categories.is_empty() {
        return Vec::new();
    }
    let of = |kinds: &[CategoryKind], fallback: &str| -> Vec<(String, String)> {
        for k in kinds {
            let v: Vec<(String, String)> = u
                .categories
                .iter()
                .filter(|c| c.kind == *k)
                .filter_map(|c| Some((c.title.clone(), folders.get(&c.id)?.clone())))
                .collect();
            if !v.is_empty() {
                return v;
            }
        }
        vec![(String::new(), fallback.to_string())]
    };
    let products = of(
        &[CategoryKind::Product, CategoryKind::ProductFamily],
        NO_PRODUCT,
    );
    let classes = of(&[CategoryKind::Classification], NO_CLASSIFICATION);
    let mut out = Vec::new();
    for (pt, pf) in &products {
        for (ct, cf) in &classes {
            out.push((pt.clone(), pf.clone(), ct.clone(), cf.clone()));
        }
    }
    out
}

/// Refuses a folder that holds a `publish wsus` (its content folder or its report):
/// `--prune` would remove it, and the two commands' runs would disturb each other.
fn refuse_wsus_publish(out: &Path) -> Result<()> {
    let wsus = [super::wsus::content::CONTENT_DIR, super::wsus::REPORT_FILE]
        .iter()
        .find(|n| fs::symlink_metadata(out.join(n)).is_ok());
    match wsus {
        None => Ok(()),
        Some(n) => Err(Error::usage(format!(
            "{} holds a WSUS publish ({n}); a share cannot share its folder",
            out.display()
        ))
        .with_hint("give `publish share` a folder of its own")),
    }
}

/// Whether `dir` holds a share (its `index.json` starts with the share's format marker).
pub fn holds_share(dir: &Path) -> bool {
    let mut head = [0u8; 64];
    let n =
        crate::fsutil::open_no_follow(&dir.join("index.json"), fs::OpenOptions::new().read(true))
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .unwrap_or(0);
    String::from_utf8_lossy(&head[..n]).contains(INDEX_FORMAT)
}
