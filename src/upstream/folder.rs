//! A folder of WSUS update metadata documents (`upd:Update` XML, one per file, `*.xml`),
//! such as the documents an upstream WSUS serves or `wsusutil export` writes.

use super::upd_xml::{Document, parse_with_prerequisites};
use super::{Fetched, ScanItem, ScanSummary, UpdateHeader, Upstream};
use crate::error::{Error, Result};
use crate::model::Guid;
use crate::model::Update;
use crate::progress::{Progress, Unit};
use std::fs;
use std::path::{Path, PathBuf};

/// A document's key is its folder's index in `dirs` (high 32 bits) and its index among that
/// folder's `*.xml` files sorted by name (low 32 bits): the source keeps one entry per folder,
/// not per document, so that its memory does not grow with the number of documents.
pub struct FolderSource {
    root: PathBuf,
    /// Each folder holding documents, with how many it held when scanned.
    dirs: Vec<(PathBuf, u32)>,
    /// The sorted documents of the folder `fetch` last read from.
    listing: Option<(usize, Vec<PathBuf>)>,
}

impl FolderSource {
    pub fn open(root: &Path) -> Result<FolderSource> {
        if !root.is_dir() {
            let what = if root.exists() {
                "is not a folder"
            } else {
                "does not exist"
            };
            return Err(Error::usage(format!("upstream {} {what}", root.display())).with_hint(
                "give a folder of upd:Update XML documents or an offsync store (the folder holding offsync.db)",
            ));
        }
        Ok(FolderSource {
            root: root.to_path_buf(),
            dirs: Vec::new(),
            listing: None,
        })
    }

    /// The documents of folder `d` as the scan saw them (sorted by name), refused when the
    /// folder no longer holds as many.
    fn list(&self, d: usize) -> Result<Vec<PathBuf>> {
        let (dir, count) = self
            .dirs
            .get(d)
            .ok_or_else(|| Error::other(format!("internal: no folder {d}")))?;
        let mut files = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, "read", e))? {
            let entry = entry.map_err(|e| Error::io(dir, "read", e))?;
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && is_xml(Path::new(&entry.file_name())) {
                files.push(entry.path());
            }
        }
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        if files.len() != *count as usize {
            return Err(Error::other(format!(
                "{} changed while the sync was reading it ({count} documents, now {})",
                dir.display(),
                files.len()
            ))
            .with_hint("run the sync again once the folder is in place"));
        }
        Ok(files)
    }

    /// The path of the document with this key.
    fn path_of(&mut self, key: u64) -> Result<PathBuf> {
        let (d, i) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
        if self.listing.as_ref().is_none_or(|(at, _)| *at != d) {
            self.listing = Some((d, self.list(d)?));
        }
        let files = self
            .listing
            .as_ref()
            .map(|(_, f)| f.as_slice())
            .unwrap_or(&[]);
        files
            .get(i)
            .cloned()
            .ok_or_else(|| Error::other(format!("internal: no document with key {key}")))
    }

    fn read(&self, path: &Path) -> Result<(Vec<u8>, Document)> {
        self.read_with_prerequisites(path)
            .map(|(bytes, doc, _)| (bytes, doc))
    }

    fn read_with_prerequisites(&self, path: &Path) -> Result<(Vec<u8>, Document, Vec<Guid>)> {
        let bytes = fs::read(path).map_err(|e| Error::io(path, "read", e))?;
        let (doc, pre) = parse_with_prerequisites(&bytes)
            .map_err(|e| Error::other(format!("{}: {}", path.display(), e.message)))?;
        Ok((bytes, doc, pre))
    }
}

fn is_xml(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml"))
}

impl Upstream for FolderSource {
    fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }

    fn locate(&self, key: u64) -> String {
        let (d, i) = ((key >> 32) as usize, (key & 0xffff_ffff) as usize);
        self.list(d)
            .ok()
            .and_then(|files| files.get(i).map(|p| p.display().to_string()))
            .unwrap_or_default()
    }

    fn scan(
        &mut self,
        sink: &mut dyn FnMut(ScanItem) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<ScanSummary> {
        let mut summary = ScanSummary {
            complete: true,
            ..Default::default()
        };
        self.listing = None;
        self.dirs.clear();
        // Folder path -> its index in `dirs`: a folder's documents can come in two runs
        // around a subfolder, and keep counting from where they were.
        let mut dir_index: std::collections::HashMap<PathBuf, usize> = Default::default();
        let mut total = 0u64;
        let mut skipped = 0u64;
        // Sorted so that a scan visits documents in the same order every time.
        for entry in walkdir::WalkDir::new(&self.root)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry =
                entry.map_err(|e| Error::other(format!("cannot read upstream folder: {e}")))?;
            if !entry.file_type().is_file() {
                continue;
            }
            if is_xml(entry.path()) {
                let dir = entry.path().parent().unwrap_or(&self.root).to_path_buf();
                let d = *dir_index.entry(dir.clone()).or_insert_with(|| {
                    self.dirs.push((dir, 0));
                    self.dirs.len() - 1
                });
                self.dirs[d].1 += 1;
                total += 1;
            } else {
                skipped += 1;
            }
        }
        if skipped > 0 {
            summary.warnings.push(format!(
                "{skipped} file(s) without the .xml extension were ignored"
            ));
        }
        progress.start("reading update documents", Some(total), Unit::Items);
        // Folder by folder in the scan's order, each listed as `fetch` will list it.
        for d in 0..self.dirs.len() {
            for (i, path) in self.list(d)?.iter().enumerate() {
                let key = ((d as u64) << 32) | i as u64;
                let (bytes, doc, prerequisites) = self.read_with_prerequisites(path)?;
                let item = match doc {
                    Document::Category(c) => ScanItem::Category(c, Some(bytes)),
                    Document::Update(u) => ScanItem::Update(UpdateHeader {
                        prerequisites,
                        ..header(&u, super::fingerprint(&u)?, key)
                    }),
                };
                sink(item)?;
                progress.advance(1);
            }
        }
        progress.finish();
        Ok(summary)
    }

    fn fetch(
        &mut self,
        keys: &[u64],
        sink: &mut dyn FnMut(Fetched) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<()> {
        progress.start(
            "reading selected updates",
            Some(keys.len() as u64),
            Unit::Items,
        );
        for &k in keys {
            let path = self.path_of(k)?;
            match self.read(&path)? {
                (bytes, Document::Update(update)) => sink(Fetched {
                    update,
                    document: Some(bytes),
                })?,
                (_, Document::Category(_)) => {
                    return Err(Error::other(format!(
                        "{} changed while it was being read",
                        path.display()
                    )));
                }
            }
            progress.advance(1);
        }
        progress.finish();
        Ok(())
    }
}

/// The header of a fully read update.
pub fn header(u: &Update, fingerprint: [u8; 32], key: u64) -> UpdateHeader {
    UpdateHeader {
        id: u.id.clone(),
        revision: u.revision,
        update_type: u.update_type.clone(),
        categories: u.categories.clone(),
        languages: u.languages.clone(),
        bundled: u.bundled.iter().map(|b| b.id.clone()).collect(),
        bundled_by: Vec::new(),
        prerequisites: Vec::new(),
        publication_state: u.publication_state,
        fingerprint,
        key,
    }
}
