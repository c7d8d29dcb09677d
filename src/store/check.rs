//! `check`: is the store sound? SQLite's own integrity check, the shape of the store folder
//! (no symbolic links where content is written), every recorded content file present with
//! its size and, on request, its digests, and every stored update document readable.
//!
//! Import runs the quick form first and refuses to work on a damaged store: merging into a
//! store that is already wrong would only bury the damage.

use super::{CONTENT_DIR, STAGING_DIR, Store, content_path};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::hash_reader;
use crate::progress::{Progress, Unit};
use rusqlite::params;
use serde::Serialize;
use std::collections::HashSet;
use std::fs::{self, File};
use std::path::Path;

/// One problem found.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    /// `database`, `layout`, `content`, or `metadata`.
    pub area: String,
    pub subject: String,
    pub message: String,
    /// For a missing or damaged content file: the updates that reference it and the name each
    /// gives it, so that the administrator knows what to fetch again (empty otherwise).
    pub used_by: Vec<ContentUse>,
}

/// One reference of an update to a content file.
#[derive(Clone, Debug, Serialize)]
pub struct ContentUse {
    /// The file name the update gives the content.
    pub name: String,
    pub update_id: String,
    /// Digits, or null.
    pub kb: Option<String>,
    pub title: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    pub ok: bool,
    pub problems: Vec<Problem>,
    /// Files in the content folder that no row records (left by an interrupted command
    /// before recovery, or put there by hand): harmless, reported for information.
    pub unrecorded_files: Vec<String>,
    pub content_files: u64,
    pub updates: u64,
    /// Bytes read to compare digests (with `read_data`).
    pub bytes_read: u64,
}

fn problem(area: &str, subject: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        area: area.into(),
        subject: subject.into(),
        message: message.into(),
        used_by: Vec::new(),
    }
}

/// Folders the store writes into must be real folders: a symbolic link there would make
/// the store write outside itself.
fn layout_problems(root: &Path, all_subdirs: bool) -> Vec<Problem> {
    let mut out: Vec<Problem> = super::linked_own_files(root)
        .into_iter()
        .map(|name| {
            problem(
                "layout",
                name,
                "is a symbolic link; the store must not write through it",
            )
        })
        .collect();
    for name in [CONTENT_DIR, STAGING_DIR] {
        let p = root.join(name);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => out.push(problem(
                "layout",
                name,
                "is a symbolic link; the store must not write through it",
            )),
            Ok(m) if !m.is_dir() => out.push(problem("layout", name, "is not a folder")),
            Ok(_) => {}
            Err(e) => out.push(problem("layout", name, format!("cannot be read: {e}"))),
        }
    }
    let content = root.join(CONTENT_DIR);
    if let Ok(entries) = fs::read_dir(&content) {
        for e in entries.flatten() {
            let name = format!("{CONTENT_DIR}/{}", e.file_name().to_string_lossy());
            match e.file_type() {
                Ok(t) if t.is_symlink() => out.push(problem(
                    "layout",
                    name,
                    "is a symbolic link; the store must not write through it",
                )),
                Ok(t) if t.is_dir() && all_subdirs => {
                    if let Ok(inner) = fs::read_dir(e.path()) {
                        for f in inner.flatten() {
                            if f.file_type().is_ok_and(|t| t.is_symlink()) {
                                out.push(problem(
                                    "layout",
                                    format!("{name}/{}", f.file_name().to_string_lossy()),
                                    "is a symbolic link",
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

impl Store {
    /// SQLite's quick check of the whole database and the folder layout (before a repair).
    /// Fails with exit 5 (store damaged), listing what is wrong.
    pub fn quick_check(&self) -> Result<()> {
        let mut problems = self.sqlite_check("quick_check")?;
        problems.extend(layout_problems(&self.root, false));
        self.fail_on(problems)
    }

    /// The check before every import: the folder layout (no symbolic link where the store
    /// writes). SQLite's whole-database check is not run here: it reads every page, which
    /// took longer than the import itself for an incremental bundle into a store of a
    /// million revisions (seconds), while SQLite still refuses a malformed page the import
    /// touches (and the import then changes nothing). `offsync check` runs the whole check.
    pub fn layout_check(&self) -> Result<()> {
        self.fail_on(layout_problems(&self.root, false))
    }

    fn fail_on(&self, problems: Vec<Problem>) -> Result<()> {
        if problems.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("  {}: {}", p.subject, p.message))
            .collect();
        Err(Error::new(
            ErrorKind::StoreDamaged,
            format!(
                "the store {} failed its checks:\n{}",
                self.root.display(),
                lines.join("\n")
            ),
        )
        .with_hint(format!(
            "run `offsync check --store {} --read-data` for the full picture; nothing was changed",
            self.root.display()
        )))
    }

    /// The full check. With `read_data`, every content file is read and its digests compared.
    pub fn check(&self, read_data: bool, progress: &dyn Progress) -> Result<CheckReport> {
        let mut r = CheckReport::default();
        r.problems.extend(self.sqlite_check("integrity_check")?);
        r.problems.extend(layout_problems(&self.root, true));
        self.check_documents(&mut r)?;
        let known = self.check_content(read_data, progress, &mut r)?;
        r.unrecorded_files = self.unrecorded_files(&known);
        r.ok = r.problems.is_empty();
        Ok(r)
    }

    /// SQLite's own check (`quick_check` or `integrity_check`): one problem per line it
    /// reports, none when it says `ok`.
    fn sqlite_check(&self, pragma: &str) -> Result<Vec<Problem>> {
        let mut st = self.conn.prepare(&format!("PRAGMA {pragma}"))?;
        let rows: Vec<String> = st
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if rows == ["ok"] {
            return Ok(Vec::new());
        }
        Ok(rows
            .into_iter()
            .map(|x| problem("database", "offsync.db", x))
            .collect())
    }

    /// Every stored document must decode.
    fn check_documents(&self, r: &mut CheckReport) -> Result<()> {
        let mut st = self.conn.prepare("SELECT update_id, doc FROM updates")?;
        let mut rows = st.query([])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let doc: Vec<u8> = row.get(1)?;
            r.updates += 1;
            if let Err(e) = super::write::decode_doc(&doc) {
                r.problems.push(problem("metadata", id, e.message));
            }
        }
        Ok(())
    }

    /// Every recorded content file: present, of its size and (with `read_data`) its digests.
    /// Returns the hex digests of the recorded files.
    fn check_content(
        &self,
        read_data: bool,
        progress: &dyn Progress,
        r: &mut CheckReport,
    ) -> Result<HashSet<String>> {
        let mut st = self
            .conn
            .prepare("SELECT sha256, sha1, size FROM content ORDER BY sha256")?;
        let recorded: Vec<(Vec<u8>, Vec<u8>, i64)> = st
            .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let total: u64 = recorded.iter().map(|x| x.2.max(0) as u64).sum();
        progress.start(
            if read_data {
                "reading content"
            } else {
                "checking content"
            },
            Some(total),
            Unit::Bytes,
        );
        let mut known = HashSet::new();
        for (h, h1, size) in &recorded {
            r.content_files += 1;
            let Ok(h) = <[u8; 32]>::try_from(h.as_slice()) else {
                r.problems.push(problem(
                    "database",
                    hex::encode(h),
                    "a content row has a malformed digest",
                ));
                continue;
            };
            let hex = hex::encode(h);
            known.insert(hex.clone());
            let path = content_path(&self.root, &h);
            if let Some(mut p) = check_content_file(&path, &hex, &h, h1, *size, read_data, r) {
                p.used_by = self.content_uses(&h, h1)?;
                r.problems.push(p);
            }
            progress.advance(*size as u64);
        }
        progress.finish();
        Ok(known)
    }

    /// The updates that reference the content file with these digests (by SHA-256, or by SHA-1
    /// where the reference gives no SHA-256), each with the file name it uses.
    fn content_uses(&self, sha256: &[u8; 32], sha1: &[u8]) -> Result<Vec<ContentUse>> {
        let mut st = self.conn.prepare_cached(
            "SELECT f.name, f.update_id, u.kb, u.title FROM files f
             JOIN updates u ON u.update_id = f.update_id
             WHERE f.sha256 = ?1 OR (f.sha256 IS NULL AND f.sha1 = ?2)
             ORDER BY u.title, f.update_id, f.name",
        )?;
        let rows = st.query_map(params![sha256.as_slice(), sha1], |r| {
            Ok(ContentUse {
                name: r.get(0)?,
                update_id: r.get(1)?,
                kb: r.get(2)?,
                title: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Files in the content folder that no row records (their hex digests not in `known`).
    fn unrecorded_files(&self, known: &HashSet<String>) -> Vec<String> {
        let mut out = Vec::new();
        for e in walkdir::WalkDir::new(self.root.join(CONTENT_DIR))
            .follow_links(false)
            .min_depth(2)
            .max_depth(2)
        {
            let Ok(e) = e else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_file() && !known.contains(&name) {
                out.push(format!(
                    "{CONTENT_DIR}/{}/{name}",
                    name.get(..2).unwrap_or("")
                ));
            }
        }
        out
    }
}

/// What is wrong with one recorded content file, if anything. Reading it (with `read_data`)
/// adds to `r.bytes_read`.
fn check_content_file(
    path: &Path,
    hex: &str,
    sha256: &[u8; 32],
    sha1: &[u8],
    size: i64,
    read_data: bool,
    r: &mut CheckReport,
) -> Option<Problem> {
    match fs::symlink_metadata(path) {
        Err(_) => Some(problem(
            "content",
            hex,
            "recorded but missing from the content folder",
        )),
        Ok(m) if !m.is_file() => Some(problem("content", hex, "is not a regular file")),
        Ok(m) if m.len() != size as u64 => Some(problem(
            "content",
            hex,
            format!("is {} bytes; the store recorded {size}", m.len()),
        )),
        Ok(_) if read_data => match File::open(path).and_then(|mut f| hash_reader(&mut f)) {
            Err(e) => Some(problem("content", hex, format!("cannot be read: {e}"))),
            Ok(d) => {
                r.bytes_read += d.size;
                (d.sha256 != *sha256 || d.sha1.as_slice() != sha1).then(|| {
                    problem(
                        "content",
                        hex,
                        format!(
                            "its bytes have SHA-256 {}: the file is damaged",
                            hex::encode(d.sha256)
                        ),
                    )
                })
            }
        },
        Ok(_) => None,
    }
}
