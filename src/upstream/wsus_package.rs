//! A WSUS export package as an upstream: the cabinet that `wsusutil export` (or offsync's
//! `publish wsus`) writes, holding `package.xml` and `metadata.txt` (format facts:
//! docs/WSUS-PACKAGE.md).
//!
//! - [`Upstream::scan`] opens the cabinet's directory (with the offline catalog's reader,
//!   [`super::wsusscn2::cab`]), then decompresses the two members in one pass in the order of
//!   their data (the real package has `package.xml` first, Microsoft's exporter the other
//!   order; LZX and MSZIP both). `metadata.txt` is read one record at a time
//!   ([`records`]): each record's XML is parsed with [`parse_document`] and checked against
//!   its record's UpdateID and revision; categories go to the sync with their document, and
//!   the XML of every other record is appended to an anonymous temporary file (the spool),
//!   whose offset is the key the update's header carries.
//! - [`Upstream::fetch`] reads the selected records back from the spool, in key order: one
//!   sequential read, never a second decompression of the cabinet.
//!
//! Memory holds one record, the spool's index (16 bytes per update record), and per record
//! its id, revision and digest (to compare `package.xml`'s list and to find duplicates).
//!
//! A package is a subset of a WSUS server's updates: the summary says it is not complete, so
//! that absence from it means nothing. One UpdateID may appear at several revisions; every
//! record is handed to the sync, and the store keeps the highest revision of each id.

mod package_xml;
mod records;
#[cfg(test)]
mod tests;

use self::records::{Head, guid_text, read_records};
use super::upd_xml::{Document, parse_document, parse_with_prerequisites};
use super::wsusscn2::cab::{CabDir, read_error, stream_members};
use super::{Fetched, ScanItem, ScanSummary, UpdateHeader, Upstream};
use crate::error::{Error, ErrorKind, Result};
use crate::progress::{Progress, Unit};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const PACKAGE_XML: &str = "package.xml";
const METADATA_TXT: &str = "metadata.txt";

const HINT: &str = "the package is damaged or was not written by `wsusutil export` or `offsync publish wsus`: export it again";

/// What a file given as upstream is, judged by its first bytes and, for a cabinet, by its
/// members (only the cabinet's directory is read).
#[derive(Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `package.xml` and `metadata.txt` (or one of them: the other is then reported missing).
    Package,
    /// Anything else that the offline catalog's reader should judge (it has `index.xml`, or
    /// its directory cannot be read, which the catalog's reader reports as it always has).
    Catalog,
    /// Not a cabinet and no `.cab` name: not a file this module judges.
    NotCabinet,
}

/// Judges the file at `path`; refuses a gzip export, a `.cab` that is no cabinet, and a
/// cabinet that is neither a package nor a catalog.
pub fn judge(path: &Path) -> Result<FileKind> {
    let is_cab_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("cab"));
    let opened = File::open(path).ok().filter(|_| path.is_file());
    let Some(mut file) = opened else {
        // The reader chosen by the name says what is wrong with it.
        return Ok(if is_cab_name {
            FileKind::Catalog
        } else {
            FileKind::NotCabinet
        });
    };
    let mut magic = [0u8; 4];
    let got = file.read(&mut magic).unwrap_or(0);
    if got >= 2 && magic[..2] == [0x1f, 0x8b] {
        return Err(Error::usage(format!(
            "{} is gzip-compressed (a `.xml.gz` WSUS export?): only the cabinet form of a WSUS export package is read",
            path.display()
        ))
        .with_hint("export the package as a .cab (`wsusutil export PACKAGE.cab LOGFILE`) and give that"));
    }
    if &magic[..got] != b"MSCF" {
        if !is_cab_name {
            return Ok(FileKind::NotCabinet);
        }
        return Err(Error::other(format!(
            "{} is not a cabinet (it does not start with MSCF): neither a WSUS export package nor Microsoft's offline scan catalog",
            path.display()
        ))
        .with_hint("give wsusscn2.cab as downloaded from Microsoft, or a package written by `wsusutil export`"));
    }
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A truncated cabinet still shows its members when its directory is whole: read as if
    // it were as long as it says, so that a cut package is reported as a package.
    let name = display_name(path);
    let dir =
        CabDir::read(&mut file, len, &name).or_else(|_| CabDir::read(&mut file, u64::MAX, &name));
    let Ok(dir) = dir else {
        return Ok(FileKind::Catalog);
    };
    if dir.find(PACKAGE_XML).is_some() || dir.find(METADATA_TXT).is_some() {
        return Ok(FileKind::Package);
    }
    if dir.find("index.xml").is_some() {
        return Ok(FileKind::Catalog);
    }
    let names: Vec<String> = dir
        .members
        .iter()
        .take(10)
        .map(|m| super::wsusscn2::cab::shown(&m.name))
        .collect();
    let more = dir.members.len().saturating_sub(names.len());
    Err(Error::usage(format!(
        "{} is a cabinet but neither a WSUS export package (package.xml and metadata.txt) nor Microsoft's offline scan catalog (index.xml and package*.cab): it holds {}{}",
        path.display(),
        if names.is_empty() { "no members".to_string() } else { names.join(", ") },
        if more > 0 { format!(" and {more} more") } else { String::new() }
    ))
    .with_hint("give a package written by `wsusutil export` or `offsync publish wsus`, or wsusscn2.cab"))
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A WSUS export package at a path.
pub struct WsusPackageSource {
    path: PathBuf,
    /// The file name, for messages.
    name: String,
    /// The non-category records of the last scan, for `fetch`.
    spool: Option<Spool>,
}

/// Where a scan put the XML of the update records: an anonymous temporary file (deleted by
/// the system when closed) and, per key, where each record's XML lies in it.
struct Spool {
    file: File,
    entries: Vec<Entry>,
    /// Where `file` is positioned, to save a seek per record when keys come in order.
    pos: Option<u64>,
}

struct Entry {
    at: u64,
    len: u32,
    record: u32,
}

/// What the reading of `metadata.txt` collects besides what goes to the sink.
#[derive(Default)]
struct Collected {
    /// (UpdateID, revision) of each record, in order.
    listed: Vec<([u8; 16], u32)>,
    /// (UpdateID, revision) -> (record number, SHA-256 of the XML).
    seen: HashMap<([u8; 16], u32), (u32, [u8; 32])>,
    duplicates: Vec<String>,
    /// Set when the sink (the store) failed: that error is passed on as it is.
    sink_failed: bool,
    /// Records read whole so far, and whether `metadata.txt` is being read: a damaged or
    /// cut cabinet is reported with the record it was reading.
    records: u32,
    in_metadata: bool,
}

impl WsusPackageSource {
    pub fn open(path: &Path) -> Result<WsusPackageSource> {
        if !path.is_file() {
            return Err(Error::usage(format!(
                "upstream {} is not a file",
                path.display()
            )));
        }
        Ok(WsusPackageSource {
            path: path.to_path_buf(),
            name: display_name(path),
            spool: None,
        })
    }

    /// An error about the package's structure: names the package, says what to do.
    fn malformed(&self, e: Error) -> Error {
        // The cabinet reader names the file already.
        let mut e = if e.message.starts_with(&format!("{}:", self.name)) {
            e
        } else {
            e.context(&self.name)
        };
        if e.kind == ErrorKind::Other || e.kind == ErrorKind::Limit {
            e.hint = Some(HINT.into());
        }
        e
    }

    /// Checks one record and hands it on: categories to `sink`, updates to the spool first.
    fn take_record(
        &self,
        head: &Head,
        xml: &[u8],
        spool: &mut (BufWriter<File>, u64, Vec<Entry>),
        got: &mut Collected,
        sink: &mut dyn FnMut(ScanItem) -> Result<()>,
    ) -> Result<()> {
        let n = head.number;
        got.records = n;
        got.listed.push((head.id, head.revision));
        let digest = crate::hash::sha256(xml);
        match got.seen.get(&(head.id, head.revision)) {
            Some((first, d)) if *d == digest => {
                got.duplicates.push(format!(
                    "metadata.txt record {n} repeats record {first} (update {} revision {}) byte for byte; read once",
                    guid_text(&head.id),
                    head.revision
                ));
                return Ok(());
            }
            Some((first, _)) => {
                return Err(records::bad(
                    n,
                    format!(
                        "update {} revision {} appears again with different content (first in record {first})",
                        guid_text(&head.id),
                        head.revision
                    ),
                ));
            }
            None => {
                got.seen.insert((head.id, head.revision), (n, digest));
            }
        }
        let (doc, prerequisites) =
            parse_with_prerequisites(xml).map_err(|e| records::bad(n, e.message))?;
        let (id, revision) = match &doc {
            Document::Category(c) => (c.id.as_str(), c.revision),
            Document::Update(u) => (u.id.as_str(), u.revision),
        };
        // The UpdateID inside keeps its own case (parse_document folds it); the record's
        // field is lowercase by format.
        let text = guid_text(&head.id);
        if id != text || revision != head.revision {
            return Err(records::bad(
                n,
                format!(
                    "the record is update {text} revision {}, but its document's UpdateIdentity says {id} revision {revision}",
                    head.revision
                ),
            ));
        }
        let item = match doc {
            Document::Category(c) => ScanItem::Category(c, Some(xml.to_vec())),
            Document::Update(u) => {
                let (w, at, entries) = spool;
                w.write_all(xml)
                    .map_err(|e| storage("write the spool", e))?;
                let key = entries.len() as u64;
                entries.push(Entry {
                    at: *at,
                    len: xml.len() as u32,
                    record: n,
                });
                *at += xml.len() as u64;
                ScanItem::Update(UpdateHeader {
                    prerequisites,
                    ..super::folder::header(&u, super::fingerprint(&u)?, key)
                })
            }
        };
        sink(item).inspect_err(|_| got.sink_failed = true)
    }

    /// Reads both members (in the order of their data) and checks them against each other.
    fn read_package(
        &mut self,
        sink: &mut dyn FnMut(ScanItem) -> Result<()>,
        progress: &dyn Progress,
        got: &mut Collected,
    ) -> Result<package_xml::PackageXml> {
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, "open", e))?;
        let len = file
            .metadata()
            .map_err(|e| Error::io(&self.path, "read", e))?
            .len();
        let dir = CabDir::read(&mut file, len, &self.name)?;
        let missing = |m: &str| {
            let found: Vec<&str> = dir.members.iter().map(|m| m.name.as_str()).collect();
            Error::other(format!(
                "the member {m} is missing (the cabinet holds {})",
                super::wsusscn2::cab::shown(&found.join(", "))
            ))
        };
        let pkg_i = dir.find(PACKAGE_XML).ok_or_else(|| missing(PACKAGE_XML))?;
        let meta_i = dir
            .find(METADATA_TXT)
            .ok_or_else(|| missing(METADATA_TXT))?;
        let spool_file = tempfile::tempfile().map_err(|e| storage("create a temporary file", e))?;
        let mut spool = (
            BufWriter::with_capacity(256 * 1024, spool_file),
            0u64,
            Vec::new(),
        );
        let mut pkg = None;
        let part = format!("{METADATA_TXT} in {}", self.name);
        progress.start("reading the WSUS package", None, Unit::Items);
        stream_members(&mut file, &dir, &[pkg_i, meta_i], &mut |i, r| {
            if i == pkg_i {
                pkg = Some(package_xml::parse(BufReader::with_capacity(64 * 1024, r))?);
                return Ok(());
            }
            got.in_metadata = true;
            let mut br = BufReader::with_capacity(256 * 1024, r);
            let io = |e: io::Error| read_error(&part, e);
            read_records(&mut br, &io, &mut |head, xml| {
                if progress.cancelled() {
                    return Err(Error::interrupted("the sync", "nothing was changed"));
                }
                self.take_record(head, xml, &mut spool, got, sink)?;
                progress.advance(1);
                Ok(())
            })?;
            got.in_metadata = false;
            Ok(())
        })?;
        progress.finish();
        let (w, _, entries) = spool;
        let file = w
            .into_inner()
            .map_err(|e| storage("write the spool", e.into_error()))?;
        self.spool = Some(Spool {
            file,
            entries,
            pos: None,
        });
        let pkg = pkg.ok_or_else(|| Error::other("internal: package.xml was not read"))?;
        check_agreement(&pkg, &got.listed)?;
        Ok(pkg)
    }
}

fn storage(what: &str, e: io::Error) -> Error {
    Error::new(ErrorKind::Storage, format!("cannot {what}: {e}"))
}

/// `package.xml`'s `Updates` must list the records of `metadata.txt`, in the same order:
/// Microsoft's exporter writes both from one list, so a difference means a damaged or mixed
/// package.
fn check_agreement(pkg: &package_xml::PackageXml, listed: &[([u8; 16], u32)]) -> Result<()> {
    if !pkg.has_updates {
        return Err(Error::other("package.xml has no Updates list"));
    }
    for (k, (a, b)) in pkg.updates.iter().zip(listed).enumerate() {
        if a != b {
            return Err(Error::other(format!(
                "package.xml and metadata.txt disagree at record {}: package.xml lists update {} revision {}, metadata.txt holds update {} revision {}",
                k + 1,
                guid_text(&a.0),
                a.1,
                guid_text(&b.0),
                b.1
            )));
        }
    }
    if pkg.updates.len() != listed.len() {
        return Err(Error::other(format!(
            "package.xml lists {} updates, metadata.txt holds {} records (they differ from record {} on)",
            pkg.updates.len(),
            listed.len(),
            pkg.updates.len().min(listed.len()) + 1
        )));
    }
    Ok(())
}

impl Upstream for WsusPackageSource {
    fn describe(&self) -> String {
        format!("WSUS export package {}", self.path.display())
    }

    fn locate(&self, key: u64) -> String {
        match self
            .spool
            .as_ref()
            .and_then(|s| s.entries.get(key as usize))
        {
            Some(e) => format!("metadata.txt record {} in {}", e.record, self.name),
            None => self.name.clone(),
        }
    }

    fn scan(
        &mut self,
        sink: &mut dyn FnMut(ScanItem) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<ScanSummary> {
        self.spool = None;
        let mut got = Collected::default();
        let pkg = match self.read_package(sink, progress, &mut got) {
            Ok(pkg) => pkg,
            Err(e) if got.sink_failed || e.kind == ErrorKind::Interrupted => return Err(e),
            Err(mut e) => {
                if got.in_metadata && !e.message.contains("metadata.txt record") {
                    e.message +=
                        &format!(" (while reading metadata.txt record {})", got.records + 1);
                }
                return Err(self.malformed(e));
            }
        };
        let mut warnings: Vec<String> = pkg.warnings;
        if !got.duplicates.is_empty() {
            warnings.push(format!(
                "{}: {} record(s) repeat an earlier one byte for byte and were read once: {}",
                self.name,
                got.duplicates.len(),
                got.duplicates
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        Ok(ScanSummary {
            package_id: pkg.server_id,
            created: pkg.created,
            warnings,
            // A package holds what its exporter chose: absence from it means nothing.
            complete: false,
            absent_means_expired: false,
        })
    }

    fn fetch(
        &mut self,
        keys: &[u64],
        sink: &mut dyn FnMut(Fetched) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<()> {
        let name = self.name.clone();
        let spool = self
            .spool
            .as_mut()
            .ok_or_else(|| Error::other("internal: the package was fetched before a scan"))?;
        progress.start(
            "reading selected updates",
            Some(keys.len() as u64),
            Unit::Items,
        );
        let mut xml = Vec::new();
        for &k in keys {
            let e = spool
                .entries
                .get(k as usize)
                .ok_or_else(|| Error::other(format!("internal: no record with key {k}")))?;
            if spool.pos != Some(e.at) {
                spool
                    .file
                    .seek(SeekFrom::Start(e.at))
                    .map_err(|err| storage("read the spool", err))?;
            }
            xml.resize(e.len as usize, 0);
            spool
                .file
                .read_exact(&mut xml)
                .map_err(|err| storage("read the spool", err))?;
            spool.pos = Some(e.at + e.len as u64);
            let update = match parse_document(&xml) {
                Ok(Document::Update(u)) => u,
                _ => {
                    return Err(Error::other(format!(
                        "{name}: metadata.txt record {} changed while it was being read",
                        e.record
                    )));
                }
            };
            sink(Fetched {
                update,
                document: Some(xml.clone()),
            })?;
            progress.advance(1);
        }
        progress.finish();
        Ok(())
    }
}
