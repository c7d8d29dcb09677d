//! A folder of WSUS update metadata documents (`upd:Update` XML, one per file, `*.xml`),
//! such as the documents an upstream WSUS serves or `wsusutil export` writes.

use super::upd_xml::{Document, parse_document};
use super::{ScanItem, ScanSummary, UpdateHeader, Upstream};
use crate::error::{Error, Result};
use crate::model::Update;
use crate::progress::{Progress, Unit};
use std::fs;
use std::path::{Path, PathBuf};

pub struct FolderSource {
    root: PathBuf,
    files: Vec<PathBuf>,
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
            files: Vec::new(),
        })
    }

    fn read(&self, path: &Path) -> Result<(Vec<u8>, Document)> {
        let bytes = fs::read(path).map_err(|e| Error::io(path, "read", e))?;
        let doc = parse_document(&bytes)
            .map_err(|e| Error::other(format!("{}: {}", path.display(), e.message)))?;
        Ok((bytes, doc))
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
        self.files
            .get(key as usize)
            .map(|p| p.display().to_string())
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
        let mut files = Vec::new();
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
                files.push(entry.into_path());
            } else {
                skipped += 1;
            }
        }
        if skipped > 0 {
            summary.warnings.push(format!(
                "{skipped} file(s) without the .xml extension were ignored"
            ));
        }
        self.files = files;
        progress.start(
            "reading update documents",
            Some(self.files.len() as u64),
            Unit::Items,
        );
        for (key, path) in self.files.iter().enumerate() {
            let (_, doc) = self.read(path)?;
            let item = match doc {
                Document::Category(c) => ScanItem::Category(c),
                Document::Update(u) => {
                    ScanItem::Update(header(&u, super::fingerprint(&u)?, key as u64))
                }
            };
            sink(item)?;
            progress.advance(1);
        }
        progress.finish();
        Ok(summary)
    }

    fn fetch(
        &mut self,
        keys: &[u64],
        sink: &mut dyn FnMut(Update) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<()> {
        progress.start(
            "reading selected updates",
            Some(keys.len() as u64),
            Unit::Items,
        );
        for &k in keys {
            let path = self
                .files
                .get(k as usize)
                .ok_or_else(|| Error::other(format!("internal: no document with key {k}")))?;
            match self.read(path)?.1 {
                Document::Update(u) => sink(u)?,
                Document::Category(_) => {
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
        publication_state: u.publication_state,
        fingerprint,
        key,
    }
}
