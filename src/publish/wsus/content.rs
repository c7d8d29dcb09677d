//! The content folder as WSUS keeps it (FORMATS.md section 6):
//! `WsusContent/<XX>/<SHA-1, 40 uppercase hex>.<ext>`, `XX` the SHA-1's last two hex digits.
//!
//! Each file is hard-linked from the store's content folder when both are on one file system
//! (and read once to check it), copied otherwise (checked while it is copied, and synced to
//! disk before it is renamed into place); a file whose SHA-1 is not its name is not
//! published. A file already at its place is left alone when it is the store's copy itself
//! (a link: not read) or when it reads back with its digests (a copy: read once per run);
//! anything else there is replaced. Nothing
//! is deleted unless pruning, and pruning removes only regular files with content names in
//! the two-hex-digit folders, never following a symbolic link.

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::publish::place::{Expected, Placed, Placer, fold};
use crate::store::{Store, StoredContent};
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The folder under the output folder.
pub const CONTENT_DIR: &str = "WsusContent";

/// A payload file of a published update.
#[derive(Clone, Debug)]
pub struct ContentJob {
    pub update_id: String,
    pub name: String,
    pub sha1: [u8; 20],
    pub sha256: Option<[u8; 32]>,
}

/// A file that was not laid out, and why.
#[derive(Clone, Debug, Serialize)]
pub struct ContentProblem {
    pub update_id: String,
    pub name: String,
    pub sha1: String,
    pub reason: String,
}

/// What the content step did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ContentReport {
    /// Distinct files of the published updates.
    pub files: u64,
    pub linked: u64,
    pub copied: u64,
    pub unchanged: u64,
    pub pruned: u64,
    pub missing: u64,
    pub damaged: u64,
    pub refused: u64,
    /// Bytes of the files linked or copied by this run.
    pub bytes_written: u64,
    /// Bytes of every file of the published updates now in place.
    pub bytes_present: u64,
    /// The first 100 of each kind of problem (all are counted above).
    pub missing_files: Vec<ContentProblem>,
    pub damaged_files: Vec<ContentProblem>,
    pub refused_files: Vec<ContentProblem>,
}

/// The WSUS name of a payload file: the SHA-1 in uppercase hex, and the extension of its file
/// name as the document gives it. An extension that is not 1 to 16 ASCII letters and digits
/// is refused (it would make a path WSUS does not ask for, or an unsafe one).
pub fn wsus_name(sha1: &[u8; 20], file_name: &str) -> std::result::Result<String, String> {
    let hex = hex::encode_upper(sha1);
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    match base.rsplit_once('.') {
        None => Ok(hex),
        Some((_, ext))
            if !ext.is_empty()
                && ext.len() <= 16
                && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Ok(format!("{hex}.{ext}"))
        }
        Some((_, ext)) => Err(format!(
            "its extension '{}' is not plain letters and digits",
            crate::text::escape_controls(ext)
        )),
    }
}

/// Whether a name looks like a WSUS content file (what pruning may remove).
fn is_content_name(name: &str) -> bool {
    let (hex, ext) = name.split_once('.').unwrap_or((name, ""));
    hex.len() == 40
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
        && ext.chars().all(|c| c.is_ascii_alphanumeric())
        && ext.is_empty() != name.contains('.')
}

fn is_bucket_name(name: &str) -> bool {
    name.len() == 2
        && name
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
}

/// The place of a WSUS content name: `<XX>/<name>`.
pub fn relative_path(name: &str) -> PathBuf {
    Path::new(&name[38..40]).join(name)
}

fn refuse_link(path: &Path) -> Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::usage(format!(
            "{} is a symbolic link; publish does not write through links",
            path.display()
        ))
        .with_hint("replace it by a plain folder, or publish to another folder"));
    }
    Ok(())
}

/// Lays out content files under `out/WsusContent`, one update's files at a time; each
/// distinct file once.
pub struct Layout {
    root: PathBuf,
    placer: Placer,
    /// The WSUS names laid out by this run, folded to one case: one SHA-1 may be published
    /// under two extensions (two updates naming one file differently), and WSUS asks for each.
    seen: HashSet<String>,
    report: ContentReport,
}

impl Layout {
    /// A layout under `out`, writing through the run's temporary folder `temp` (in `out`).
    pub fn new(out: &Path, temp: PathBuf) -> Result<Layout> {
        let root = out.join(CONTENT_DIR);
        refuse_link(&root)?;
        fs::create_dir_all(&root).map_err(|e| Error::io(&root, "create", e))?;
        Ok(Layout {
            root,
            placer: Placer::new(temp),
            seen: HashSet::new(),
            report: ContentReport::default(),
        })
    }

    /// Lays out the files of `jobs` not laid out yet by this run.
    pub fn add(
        &mut self,
        store: &Store,
        jobs: &[ContentJob],
        progress: &dyn Progress,
    ) -> Result<()> {
        for j in jobs {
            if progress.cancelled() {
                return Err(interrupted());
            }
            let name = wsus_name(&j.sha1, &j.name);
            let key = match &name {
                Ok(n) => fold(n),
                // Not a content name: refused once per file.
                Err(_) => format!("!{}", hex::encode(j.sha1)),
            };
            if !self.seen.insert(key) {
                continue;
            }
            self.report.files += 1;
            match name {
                Ok(n) => lay_out_one(store, &self.root, &mut self.placer, j, &n, &mut self.report)?,
                Err(why) => {
                    self.report.refused += 1;
                    named(&mut self.report.refused_files, problem(j, why));
                }
            }
            progress.advance(1);
        }
        Ok(())
    }

    pub fn finish(mut self) -> ContentReport {
        self.placer.sync_dirs();
        self.report
    }
}

/// The error of a publish stopped by a signal.
pub fn interrupted() -> Error {
    Error::interrupted(
        "publish wsus",
        "the files placed so far stay; no package of this run was kept and the publish was not recorded",
    )
}

/// Keeps `p` in `list` while it names fewer than [`super::plan::MAX_NAMED`] (all are counted).
fn named(list: &mut Vec<ContentProblem>, p: ContentProblem) {
    if list.len() < super::plan::MAX_NAMED {
        list.push(p);
    }
}

fn problem(j: &ContentJob, reason: String) -> ContentProblem {
    ContentProblem {
        update_id: j.update_id.clone(),
        name: j.name.clone(),
        sha1: hex::encode(j.sha1),
        reason,
    }
}

/// The store's copy of `j`: (SHA-256, SHA-1, size) and its path, or why there is none.
fn source(
    store: &Store,
    j: &ContentJob,
) -> Result<std::result::Result<(StoredContent, PathBuf), String>> {
    let sha256 = match j.sha256 {
        Some(h) => Some(h),
        None => store.content_by_sha1(&j.sha1)?,
    };
    let entry = match sha256 {
        Some(h) => store.content_entry(&h)?.map(|(size, sha1)| StoredContent {
            sha256: h,
            sha1,
            size,
        }),
        None => None,
    };
    let Some(stored) = entry else {
        return Ok(Err("the store does not hold it".into()));
    };
    let src = store.content_path(&stored.sha256);
    if !fs::symlink_metadata(&src).is_ok_and(|m| m.is_file() && m.len() == stored.size) {
        return Ok(Err(
            "the store's copy is lost or not of its recorded size (see `offsync check`)".into(),
        ));
    }
    Ok(Ok((stored, src)))
}

/// Lays out one file under its WSUS name `name`. A file already at its place is left alone
/// when it is the store's copy itself (a link an earlier run made: its size is looked at, it
/// is not read) or when it is read and matches its digests; anything else there is replaced.
fn lay_out_one(
    store: &Store,
    root: &Path,
    placer: &mut Placer,
    j: &ContentJob,
    name: &str,
    r: &mut ContentReport,
) -> Result<()> {
    let (stored, src) = match source(store, j)? {
        Ok(s) => s,
        Err(why) => {
            r.missing += 1;
            named(&mut r.missing_files, problem(j, why));
            return Ok(());
        }
    };
    let dest = root.join(relative_path(name));
    let bucket = dest.parent().expect("content paths have a bucket");
    refuse_link(bucket)?;
    if fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
        return Err(Error::usage(format!(
            "{} is a folder where a content file belongs",
            dest.display()
        ))
        .with_hint("remove it, then publish again"));
    }
    fs::create_dir_all(bucket).map_err(|e| Error::io(bucket, "create", e))?;
    let want = Expected {
        stored,
        sha1: Some(j.sha1),
        size: None,
    };
    let size = stored.size;
    match placer.place(&src, &dest, &want)? {
        Placed::Linked => r.linked += 1,
        Placed::Copied => r.copied += 1,
        Placed::Unchanged => {
            r.unchanged += 1;
            r.bytes_present += size;
            return Ok(());
        }
        Placed::Missing => {
            r.missing += 1;
            named(
                &mut r.missing_files,
                problem(j, "the store's copy is lost (see `offsync check`)".into()),
            );
            return Ok(());
        }
        Placed::Damaged => {
            r.damaged += 1;
            named(
                &mut r.damaged_files,
                problem(
                    j,
                    format!(
                        "the store's copy {} does not match its digests: damaged, run `offsync check --read-data`",
                        src.display()
                    ),
                ),
            );
            return Ok(());
        }
    }
    r.bytes_written += size;
    r.bytes_present += size;
    Ok(())
}

/// Removes the content files under `out/WsusContent` that `keep` (WSUS names, folded with
/// [`fold`]) does not hold.
pub fn prune(out: &Path, keep: &BTreeSet<String>) -> Result<u64> {
    let root = out.join(CONTENT_DIR);
    refuse_link(&root)?;
    let Ok(buckets) = fs::read_dir(&root) else {
        return Ok(0);
    };
    let mut removed = 0;
    for b in buckets {
        let b = b.map_err(|e| Error::io(&root, "read", e))?;
        let bname = b.file_name().to_string_lossy().into_owned();
        // DirEntry::file_type does not follow a link.
        let is_dir = b.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || !is_bucket_name(&bname) {
            continue;
        }
        let bpath = b.path();
        for f in fs::read_dir(&bpath).map_err(|e| Error::io(&bpath, "read", e))? {
            let f = f.map_err(|e| Error::io(&bpath, "read", e))?;
            let name = f.file_name().to_string_lossy().into_owned();
            let is_file = f.file_type().is_ok_and(|t| t.is_file());
            // `keep` is folded: a file whose name differs only in case is the kept one on a
            // file system that ignores case (where the run found it and left it).
            if is_file
                && is_content_name(&name)
                && name[38..40] == bname
                && !keep.contains(&fold(&name))
            {
                let path = f.path();
                fs::remove_file(&path).map_err(|e| Error::io(&path, "remove", e))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_wsus_layout() {
        let sha1 = [0xabu8; 20];
        let n = wsus_name(&sha1, "windows10.0-kb1-x64.MSU").unwrap();
        assert_eq!(n, format!("{}.MSU", "AB".repeat(20)));
        assert_eq!(relative_path(&n), Path::new("AB").join(&n));
        assert!(wsus_name(&sha1, "a.c/b").is_ok_and(|n| !n.contains('/')));
        assert!(wsus_name(&sha1, "evil.ex e").is_err());
        assert!(wsus_name(&sha1, "trailing.").is_err());
        assert_eq!(wsus_name(&sha1, "noext").unwrap(), "AB".repeat(20));
        assert!(is_content_name(&n));
        assert!(!is_content_name("readme.txt"));
        assert!(!is_content_name(&format!("{}.", "AB".repeat(20))));
    }
}

#[cfg(test)]
mod prune_tests {
    use super::*;

    #[test]
    fn pruning_keeps_a_file_whose_extension_changed_only_in_case() {
        let dir = tempfile::tempdir().unwrap();
        let hex = "AB".repeat(20);
        let bucket = dir.path().join(CONTENT_DIR).join("AB");
        fs::create_dir_all(&bucket).unwrap();
        fs::write(bucket.join(format!("{hex}.CAB")), b"x").unwrap();
        fs::write(bucket.join(format!("{}.cab", "CD".repeat(19) + "AB")), b"x").unwrap();
        let keep: BTreeSet<String> = [fold(&format!("{hex}.cab"))].into_iter().collect();
        assert_eq!(prune(dir.path(), &keep).unwrap(), 1);
        assert!(bucket.join(format!("{hex}.CAB")).exists());
    }
}
