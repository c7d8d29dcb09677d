//! `publish wsus`: a store's selected updates as what a WSUS server on the isolated network
//! takes in: metadata packages for `wsusutil import` (FORMATS.md section 5), the content
//! folder `WsusContent` (section 6), `README.txt` and `publish.json`. See docs/PUBLISH-WSUS.md
//! for the choices made where Microsoft's facts leave a question open.

pub mod content;
mod languages;
pub mod package;
mod plan;
mod readme;
pub mod record;
mod xml;

use crate::error::{Error, Result};
use crate::model::Guid;
use crate::progress::Progress;
use crate::store::{Store, WsusPublishRecord};
use crate::time::Timestamp;
use content::ContentReport;
use package::{PackageHeader, PackageInfo, PackageWriter, RecordEntry};
pub use plan::Key;
use plan::{Named, Planned, plan};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

pub use plan::{LeftOut, MissingDocument};

/// The largest package, in uncompressed bytes of `metadata.txt` and `package.xml`: 1 GiB,
/// well under the 2 GB that old WSUS versions failed on.
pub const DEFAULT_MAX_PACKAGE_BYTES: u64 = 1 << 30;

/// The largest `--max-package-size`: 1.5 GiB. The cabinet format stops a member at 0x7fff8000
/// bytes (2 GiB), and FORMATS.md section 5 says to stay well under 2 GB.
pub const MAX_PACKAGE_BYTES: u64 = 3 << 29;

/// The folder in DIR where a run writes before renaming into place (package parts and
/// content files), removed when the run ends and, if it was interrupted, at the next run.
/// Not the share's: a run of one command never removes the other's.
const TEMP_DIR: &str = ".offsync-wsus-partial";

/// The name of the report written into the output folder.
pub const REPORT_FILE: &str = "publish.json";
/// The name of the instructions written into the output folder.
pub const README_FILE: &str = "README.txt";

/// What to publish and where.
pub struct WsusOptions {
    pub out: PathBuf,
    /// Everything selected, even after an earlier publish to the same folder.
    pub full: bool,
    /// Remove content files of the folder that no selected update references.
    pub prune: bool,
    pub max_package_bytes: u64,
    /// `CreationTime` of the packages and the time recorded for the publish.
    pub created: Timestamp,
}

/// A record written into a package (held inline: one per record of a publish of any size).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PublishedRecord {
    pub id: Key,
    pub revision: u32,
    /// `category`, `detectoid` or `update`.
    pub kind: &'static str,
    /// The package's number (n in its name), from 1.
    pub package: u32,
}

/// What a publish wrote: the `--json` output and `publish.json`.
#[derive(Clone, Debug, Serialize)]
pub struct WsusReport {
    pub store_id: String,
    pub store_name: String,
    /// The output folder's canonical path.
    pub out: String,
    /// `full` or `since-last`.
    pub mode: String,
    /// With `since-last`: the change sequence of the previous publish to this folder.
    pub since_sequence: Option<u64>,
    /// The store's change sequence this publish covers.
    pub change_sequence: u64,
    pub created: String,
    pub server_id: String,
    pub packages: Vec<PackageInfo>,
    pub records: u64,
    pub published: Vec<PublishedRecord>,
    /// The first 100 selected updates left out (all are counted in `left_out_count`).
    pub left_out: Vec<LeftOut>,
    pub left_out_count: u64,
    /// Reason -> how many updates were left out for it.
    pub left_out_reasons: BTreeMap<String, u64>,
    /// The first 100 needed records the package cannot hold (all are counted).
    pub missing_documents: Vec<MissingDocument>,
    pub missing_documents_count: u64,
    /// Reason -> how many needed records are missing for it.
    pub missing_document_reasons: BTreeMap<String, u64>,
    /// Criteria languages the `Languages` table does not know (left out of `package.xml`).
    pub languages_unknown: Vec<String>,
    /// Package files of an earlier publish to this folder, numbered past this one's, removed.
    pub stale_packages_removed: Vec<String>,
    pub content: ContentReport,
}

/// Publishes `store` to `opts.out`.
pub fn publish_wsus(
    store: &Store,
    opts: &WsusOptions,
    progress: &dyn Progress,
) -> Result<WsusReport> {
    let out = prepare_out(&opts.out, store.root())?;
    if super::share::holds_share(&out) {
        return Err(Error::usage(format!(
            "{} holds a share written by `publish share`; a WSUS publish cannot share its folder",
            out.display()
        ))
        .with_hint("give `publish wsus` a folder of its own"));
    }
    let out_key = out.to_string_lossy().into_owned();
    let last = store.last_wsus_publish(&out_key)?;
    let since = match (&last, opts.full) {
        (Some(l), false) => Some(l.change_seq),
        _ => None,
    };
    // One snapshot of the store for the plan, the packages and the content: a sync or import
    // committing meanwhile changes none of what this publish reads (the publish is recorded
    // with the change sequence it read).
    let temp = super::place::fresh_temp(&out, TEMP_DIR)?;
    let written =
        store.read_consistent(|| write_publish(store, opts, &out, &temp, since, progress));
    let _ = fs::remove_dir_all(&temp);
    let (report, languages) = written?;
    write_report_files(store, &out, &report, &languages)?;
    let (out_key, change_sequence) = (report.out.clone(), report.change_sequence);
    store.record_wsus_publish(&WsusPublishRecord {
        out_dir: out_key,
        change_seq: change_sequence,
        published: opts.created.rfc3339(),
        packages: report.packages.len() as u64,
        records: report.records,
    })?;
    store.log(
        "PUBLISH",
        &format!(
            "published {} record(s) in {} package(s) and {} new content file(s) to {}",
            report.records,
            report.packages.len(),
            report.content.linked + report.content.copied,
            report.out
        ),
        opts.created,
    );
    Ok(report)
}

/// The packages and the content of one publish, from one snapshot of the store; with the
/// criteria's languages, which the report files name.
fn write_publish(
    store: &Store,
    opts: &WsusOptions,
    out: &Path,
    temp: &Path,
    since: Option<u64>,
    progress: &dyn Progress,
) -> Result<(WsusReport, Vec<String>)> {
    let change_sequence = store.change_seq()?;
    let p = plan(store, since)?;
    let criteria = store.criteria()?;
    let (languages, languages_unknown) = languages::languages_element(&criteria.languages);
    let server_id = server_id(store.id());
    let header = PackageHeader {
        server_id: server_id.clone(),
        created: opts.created,
        languages,
    };
    let base = format!("{}-{change_sequence}", package_base(store.name()));
    let mut missing = p.missing;
    let (packages, published) = write_packages(
        store,
        (out, temp),
        &base,
        opts.max_package_bytes,
        &header,
        &p.records,
        &p.classifications,
        &mut missing,
        progress,
    )?;
    let stale = remove_stale_packages(out, &base, packages.len())?;
    let content = lay_out_content(store, opts, out, temp, since, &p.content, progress)
        .inspect_err(|_| package::remove_packages(out, &packages))?;
    let report = WsusReport {
        store_id: store.id().to_string(),
        store_name: store.name().to_string(),
        out: out.to_string_lossy().into_owned(),
        mode: if since.is_some() {
            "since-last"
        } else {
            "full"
        }
        .into(),
        since_sequence: since,
        change_sequence,
        created: opts.created.rfc3339(),
        server_id,
        records: published.len() as u64,
        packages,
        published,
        left_out: p.left_out.named,
        left_out_count: p.left_out.count,
        left_out_reasons: p.left_out.reasons,
        missing_documents: missing.named,
        missing_documents_count: missing.count,
        missing_document_reasons: missing.reasons,
        languages_unknown,
        stale_packages_removed: stale,
        content,
    };
    Ok((report, criteria.languages))
}

/// Lays out the content of the plan's updates (`planned`: every update that gets a record or
/// is selected, declined bundled children and prerequisites too) and, with `since`, of every
/// other selected update; prunes what none of them references when asked.
fn lay_out_content(
    store: &Store,
    opts: &WsusOptions,
    out: &Path,
    temp: &Path,
    since: Option<u64>,
    planned: &[Key],
    progress: &dyn Progress,
) -> Result<ContentReport> {
    // What pruning keeps: the content of a full plan (with `since`, the plan of this run
    // holds only what changed).
    let full;
    let keys = match (since, opts.prune) {
        (Some(_), true) => {
            full = plan(store, None)?.content;
            &full
        }
        _ => planned,
    };
    // Content is laid out for every selected update, not only the changed ones: a payload
    // taken in after the previous publish belongs there too, and a file already in place
    // costs a look at its size when it is a link to the store's copy.
    let mut layout = content::Layout::new(out, temp.to_path_buf())?;
    progress.start("content", None, crate::progress::Unit::Items);
    let mut done: HashSet<Key> = HashSet::new();
    let mut ids: Vec<String> = planned
        .iter()
        .chain(keys)
        .filter(|k| done.insert(**k))
        .map(|k| k.to_string())
        .collect();
    if since.is_some() && !opts.prune {
        let rest = store.publish_candidates(None)?.into_iter();
        ids.extend(
            rest.filter(|c| Key::of(&c.id).is_none_or(|k| done.insert(k)))
                .map(|c| c.id),
        );
    }
    for id in &ids {
        layout.add(store, &plan::content_jobs(store, id)?, progress)?;
    }
    progress.finish();
    let mut content = layout.finish();
    if opts.prune {
        content.pruned = content::prune(out, &keep_names(store, keys)?)?;
    }
    Ok(content)
}

/// Creates the output folder (and its missing parents) and returns its canonical path;
/// refused inside the store or around it (see [`super::prepare_out`]).
fn prepare_out(out: &Path, store_root: &Path) -> Result<PathBuf> {
    if fs::symlink_metadata(out).is_ok_and(|m| !m.is_dir()) {
        return Err(
            Error::usage(format!("{} exists and is not a folder", out.display()))
                .with_hint("give a folder for --out (it is created when missing)"),
        );
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create", e))?;
    }
    super::prepare_out(out, store_root)
}

/// The packages' `ServerID`: the store id when it is a GUID, else a GUID derived from it
/// (SHA-256 of `offsync-store:` and the id, the first 16 bytes with the RFC 9562 version 8
/// and variant bits set), so the same store always names the same server.
pub fn server_id(store_id: &str) -> String {
    if let Some(g) = Guid::parse(store_id) {
        return g.to_string();
    }
    let h = crate::hash::sha256(format!("offsync-store:{store_id}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    crate::model::guid_text(&b)
}

/// `offsync-<store name>` (a package is `offsync-<store name>-<change sequence>-<n>.cab`): the store name with anything but ASCII letters, digits, `.`, `_`
/// and `-` replaced by `_`.
pub fn package_base(store_name: &str) -> String {
    let clean: String = store_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("offsync-{}", clean.trim_start_matches('.'))
}

#[allow(clippy::too_many_arguments)]
fn write_packages(
    store: &Store,
    (out, temp): (&Path, &Path),
    base: &str,
    limit: u64,
    header: &PackageHeader,
    records: &[Planned],
    classifications: &HashMap<String, bool>,
    missing: &mut Named<MissingDocument>,
    progress: &dyn Progress,
) -> Result<(Vec<PackageInfo>, Vec<PublishedRecord>)> {
    let mut w = PackageWriter::new(out, temp, base, limit, header);
    let mut published = Vec::with_capacity(records.len());
    for r in records {
        if progress.cancelled() {
            w.abandon();
            return Err(content::interrupted());
        }
        let id = r.id.to_string();
        let text = store
            .document(&id, r.revision)?
            .ok_or_else(|| "the store has no document for this revision".to_string())
            .and_then(|d| record::record_text(&d));
        let line = match text.and_then(|t| record::record_line(&id, r.revision, &t)) {
            Ok(l) => l,
            Err(why) => {
                // Published again when a new document comes (it takes a change sequence).
                let reason = format!("its document cannot be published: {why}");
                missing.add(&reason.clone(), || MissingDocument {
                    id,
                    kind: r.kind.to_string(),
                    needed_by: None,
                    reason,
                });
                continue;
            }
        };
        let parts = match (r.kind, store.load_update(&id)?) {
            ("category", _) | (_, None) => None,
            (kind, Some((u, _, _))) => {
                Some(plan::update_parts(&u, kind == "detectoid", classifications))
            }
        };
        let empty: Vec<String> = Vec::new();
        let (digests, cats, classes) = match &parts {
            Some(p) => (&p.digests, &p.categories, &p.classifications),
            None => (&empty, &empty, &empty),
        };
        let update = package::update_element(&id, r.revision, digests, cats, classes);
        let files = parts.as_ref().map(|p| p.files.as_slice()).unwrap_or(&[]);
        let package = w.add(&RecordEntry {
            line: &line,
            update: &update,
            files,
            kind: r.kind,
        })?;
        published.push(PublishedRecord {
            id: r.id,
            revision: r.revision,
            kind: r.kind,
            package,
        });
    }
    Ok((w.finish()?, published))
}

/// Removes `<base>-<m>.cab` for m past this publish's packages: an earlier publish of the
/// same change sequence to the same folder with a larger package limit wrote more packages,
/// which would import the same records twice. With no package written nothing is removed
/// (the earlier packages of this sequence are the ones to import).
fn remove_stale_packages(out: &Path, base: &str, written: usize) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    if written == 0 {
        return Ok(removed);
    }
    let mut n = written + 1;
    loop {
        let name = PackageWriter::name(base, n);
        let path = out.join(&name);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() => {
                fs::remove_file(&path).map_err(|e| Error::io(&path, "remove", e))?;
                removed.push(name);
            }
            _ => return Ok(removed),
        }
        n += 1;
    }
}

/// The WSUS names, folded to one case, of every file of the updates `keys` (what pruning
/// keeps).
fn keep_names(store: &Store, keys: &[Key]) -> Result<BTreeSet<String>> {
    let mut keep = BTreeSet::new();
    for k in keys {
        for j in plan::content_jobs(store, &k.to_string())? {
            if let Ok(n) = content::wsus_name(&j.sha1, &j.name) {
                keep.insert(super::place::fold(&n));
            }
        }
    }
    Ok(keep)
}

fn write_report_files(
    store: &Store,
    out: &Path,
    report: &WsusReport,
    languages: &[String],
) -> Result<()> {
    let json = serde_json::to_vec_pretty(report)
        .map_err(|e| Error::other(format!("cannot encode the publish report: {e}")))?;
    crate::fsutil::atomic_write(&out.join(REPORT_FILE), &json)?;
    let names: Vec<String> = report.packages.iter().map(|p| p.name.clone()).collect();
    let listed = readme::packages_in(out, &package_base(store.name()), &names)
        .map_err(|e| Error::io(out, "read", e))?;
    let text = readme::readme(store.name(), &report.created, &listed, languages);
    crate::fsutil::atomic_write(&out.join(README_FILE), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_id_is_the_store_id_or_a_stable_guid_from_it() {
        assert_eq!(
            server_id("8150E208-234D-E094-0E36-E4C0122811C1"),
            "8150e208-234d-e094-0e36-e4c0122811c1"
        );
        let derived = server_id("my store");
        assert_eq!(derived, server_id("my store"));
        assert_ne!(derived, server_id("my store 2"));
        let g = Guid::parse(&derived).expect("a GUID");
        assert_eq!(g.as_str(), derived);
        assert_eq!(&derived[14..15], "8", "version 8");
    }

    #[test]
    fn package_names_keep_only_safe_characters() {
        assert_eq!(package_base("site A/../b"), "offsync-site_A_.._b");
        assert_eq!(package_base(".hidden"), "offsync-hidden");
    }

    #[test]
    fn languages_start_with_all_and_name_unknown_codes() {
        let (xml, unknown) = languages::languages_element(&[]);
        assert_eq!(
            xml,
            r#"<Languages><Language Id="0" ShortName="all" LongName="all" Enabled="1" /></Languages>"#
        );
        assert!(unknown.is_empty());
        let (xml, unknown) =
            languages::languages_element(&["de".into(), "EN".into(), "xx-yy".into()]);
        assert!(xml.starts_with(
            r#"<Languages><Language Id="0" ShortName="all" LongName="all" Enabled="0" /><Language Id="1031" ShortName="de" LongName="German" Enabled="1" /><Language Id="1033" ShortName="en""#
        ));
        assert_eq!(unknown, ["xx-yy"]);
    }
}
