//! Writes the metadata package(s): cabinets of `package.xml` and `metadata.txt` (MSZIP, one
//! folder), split into numbered packages so that none holds more than a limit of
//! uncompressed bytes (`metadata.txt` plus `package.xml`).
//!
//! Records are streamed: `metadata.txt`, the `Files` element and the `Updates` element go to
//! temporary files in the output folder as records come (`Files` comes before `Updates` in
//! `package.xml`); only the digests of the package's files are held, to list each once.

use super::xml::attr;
use crate::error::{Error, Result};
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// What the header of every `package.xml` of a publish says.
pub struct PackageHeader {
    /// Lowercase GUID.
    pub server_id: String,
    pub created: Timestamp,
    /// The whole `Languages` element.
    pub languages: String,
}

/// A package written.
#[derive(Clone, Debug, Serialize)]
pub struct PackageInfo {
    /// File name in the output folder.
    pub name: String,
    pub records: u64,
    pub categories: u64,
    pub detectoids: u64,
    pub updates: u64,
    pub metadata_bytes: u64,
    pub package_xml_bytes: u64,
    /// `metadata_bytes + package_xml_bytes`: what the limit bounds.
    pub uncompressed_bytes: u64,
    /// The cabinet's size.
    pub size: u64,
}

/// What one record adds to a package.
pub struct RecordEntry<'a> {
    /// The `metadata.txt` line, CRLF included.
    pub line: &'a str,
    /// The `<Update>` element of `package.xml`.
    pub update: &'a str,
    /// (SHA-1, top-level `<File>` element) of each of its files.
    pub files: &'a [([u8; 20], String)],
    /// `category`, `detectoid` or `update`.
    pub kind: &'a str,
}

struct Open {
    meta: BufWriter<NamedTempFile>,
    updates: BufWriter<NamedTempFile>,
    /// The top-level `<File>` elements, each distinct file once (by its SHA-1).
    files: BufWriter<NamedTempFile>,
    seen: HashSet<[u8; 20]>,
    info: PackageInfo,
    files_bytes: u64,
    updates_bytes: u64,
}

/// Writes numbered packages `<base>-<n>.cab` into `dir`.
pub struct PackageWriter {
    dir: PathBuf,
    /// Where the parts and the cabinet are written before the rename into `dir`: the run's
    /// temporary folder, which the next run sweeps when this one is interrupted.
    temp: PathBuf,
    base: String,
    limit: u64,
    header: String,
    created: Timestamp,
    open: Option<Open>,
    written: Vec<PackageInfo>,
}

const HEAD_END: &str = "<Files>";
const FILES_END: &str = "</Files><Updates>";
const TAIL: &str = "</Updates></ExportPackage>";

impl PackageWriter {
    /// A writer of packages into `dir`, with temporary files in `temp` (on the same file
    /// system); `limit` is held to [`super::MAX_PACKAGE_BYTES`].
    pub fn new(
        dir: &Path,
        temp: &Path,
        base: &str,
        limit: u64,
        h: &PackageHeader,
    ) -> PackageWriter {
        let header = format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><ExportPackage ServerID=\"{}\" CreationTime=\"{}\" FormatVersion=\"1.0\" ProtocolVersion=\"1.20\">{}",
            attr(&h.server_id),
            h.created.rfc3339(),
            h.languages
        );
        PackageWriter {
            dir: dir.to_path_buf(),
            temp: temp.to_path_buf(),
            base: base.to_string(),
            limit: limit.min(super::MAX_PACKAGE_BYTES),
            header,
            created: h.created,
            open: None,
            written: Vec::new(),
        }
    }

    /// The file name of package `n`.
    pub fn name(base: &str, n: usize) -> String {
        format!("{base}-{n}.cab")
    }

    fn fixed_bytes(&self) -> u64 {
        (self.header.len() + HEAD_END.len() + FILES_END.len() + TAIL.len()) as u64
    }

    fn total(&self, o: &Open) -> u64 {
        self.fixed_bytes() + o.files_bytes + o.updates_bytes + o.info.metadata_bytes
    }

    /// Adds a record, starting the next package first when this one would pass the limit
    /// (a package always takes at least one record, however large); returns the number of
    /// the package that holds it.
    pub fn add(&mut self, r: &RecordEntry<'_>) -> Result<u32> {
        if let Some(o) = &self.open {
            let new_files: u64 = r
                .files
                .iter()
                .filter(|(d, _)| !o.seen.contains(d))
                .map(|(_, e)| e.len() as u64)
                .sum();
            let grows = (r.line.len() + r.update.len()) as u64 + new_files;
            if o.info.records > 0 && self.total(o) + grows > self.limit {
                self.finish_current()?;
            }
        }
        if self.open.is_none() {
            self.open = Some(self.start()?);
        }
        let o = self.open.as_mut().expect("opened above");
        let tmp_err = |e: std::io::Error| Error::io(&self.dir, "write a temporary file in", e);
        o.meta.write_all(r.line.as_bytes()).map_err(tmp_err)?;
        o.updates.write_all(r.update.as_bytes()).map_err(tmp_err)?;
        o.info.metadata_bytes += r.line.len() as u64;
        o.updates_bytes += r.update.len() as u64;
        for (d, e) in r.files {
            if o.seen.insert(*d) {
                o.files_bytes += e.len() as u64;
                o.files.write_all(e.as_bytes()).map_err(tmp_err)?;
            }
        }
        o.info.records += 1;
        match r.kind {
            "category" => o.info.categories += 1,
            "detectoid" => o.info.detectoids += 1,
            _ => o.info.updates += 1,
        }
        Ok((self.written.len() + 1) as u32)
    }

    fn start(&self) -> Result<Open> {
        let tmp = || {
            tempfile::Builder::new()
                .prefix(".offsync-publish-")
                .tempfile_in(&self.temp)
                .map(BufWriter::new)
                .map_err(|e| Error::io(&self.temp, "create a temporary file in", e))
        };
        let n = self.written.len() + 1;
        Ok(Open {
            meta: tmp()?,
            updates: tmp()?,
            files: tmp()?,
            seen: HashSet::new(),
            info: PackageInfo {
                name: PackageWriter::name(&self.base, n),
                records: 0,
                categories: 0,
                detectoids: 0,
                updates: 0,
                metadata_bytes: 0,
                package_xml_bytes: 0,
                uncompressed_bytes: 0,
                size: 0,
            },
            files_bytes: 0,
            updates_bytes: 0,
        })
    }

    /// Writes the open package's cabinet.
    fn finish_current(&mut self) -> Result<()> {
        let Some(o) = self.open.take() else {
            return Ok(());
        };
        let total = self.total(&o);
        let dir = self.dir.clone();
        let io = |e: std::io::Error| Error::io(&dir, "write the package in", e);
        let mut meta = o.meta.into_inner().map_err(|e| io(e.into_error()))?;
        let mut updates = o.updates.into_inner().map_err(|e| io(e.into_error()))?;
        let mut files = o.files.into_inner().map_err(|e| io(e.into_error()))?;
        let mut xml = tempfile::Builder::new()
            .prefix(".offsync-publish-")
            .tempfile_in(&self.temp)
            .map_err(io)?;
        {
            let mut w = BufWriter::new(xml.as_file_mut());
            w.write_all(self.header.as_bytes()).map_err(io)?;
            w.write_all(HEAD_END.as_bytes()).map_err(io)?;
            files.seek(SeekFrom::Start(0)).map_err(io)?;
            std::io::copy(files.as_file_mut(), &mut w).map_err(io)?;
            w.write_all(FILES_END.as_bytes()).map_err(io)?;
            updates.seek(SeekFrom::Start(0)).map_err(io)?;
            std::io::copy(updates.as_file_mut(), &mut w).map_err(io)?;
            w.write_all(TAIL.as_bytes()).map_err(io)?;
            w.flush().map_err(io)?;
        }
        let mut info = o.info;
        info.package_xml_bytes = total - info.metadata_bytes;
        info.uncompressed_bytes = total;
        let dest = self.dir.join(&info.name);
        info.size = self.write_cab(&dest, &mut xml, &mut meta)?;
        self.written.push(info);
        Ok(())
    }

    /// The cabinet: one MSZIP folder, `package.xml` then `metadata.txt` (the order of the
    /// real package; see docs/PUBLISH-WSUS.md), written under a temporary name and renamed.
    fn write_cab(
        &self,
        dest: &Path,
        xml: &mut NamedTempFile,
        meta: &mut NamedTempFile,
    ) -> Result<u64> {
        let io = |e: std::io::Error| Error::io(dest, "write", e);
        let stamp = cab_time(self.created);
        let mut b = cab::CabinetBuilder::new();
        let folder = b.add_folder(cab::CompressionType::MsZip);
        folder.add_file("package.xml").set_datetime(stamp);
        folder.add_file("metadata.txt").set_datetime(stamp);
        let out = tempfile::Builder::new()
            .prefix(".offsync-publish-")
            .tempfile_in(&self.temp)
            .map_err(io)?;
        let mut cw = b.build(BufWriter::new(out)).map_err(io)?;
        while let Some(mut fw) = cw.next_file().map_err(io)? {
            let src: &mut File = if fw.file_name() == "package.xml" {
                xml.as_file_mut()
            } else {
                meta.as_file_mut()
            };
            src.seek(SeekFrom::Start(0)).map_err(io)?;
            std::io::copy(src, &mut fw).map_err(io)?;
        }
        let out = cw.finish().map_err(io)?;
        let out = out.into_inner().map_err(|e| io(e.into_error()))?;
        // A temporary file is private (0600); the package is for the WSUS administrator.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(out.path(), fs::Permissions::from_mode(0o644)).map_err(io)?;
        }
        out.as_file().sync_all().map_err(io)?;
        let size = out.as_file().metadata().map_err(io)?.len();
        out.persist(dest).map_err(|e| io(e.error))?;
        crate::fsutil::sync_dir(Some(&self.dir));
        Ok(size)
    }

    /// Writes the last package and returns every package written.
    pub fn finish(mut self) -> Result<Vec<PackageInfo>> {
        self.finish_current()?;
        Ok(self.written)
    }

    /// Removes the packages written so far (a run that stops keeps none: a package whose
    /// publish is not recorded would be written again by the next run).
    pub fn abandon(self) {
        remove_packages(&self.dir, &self.written);
    }
}

/// Removes the package files `packages` from `dir`, as far as it can (used on the way out of
/// a failed run).
pub fn remove_packages(dir: &Path, packages: &[PackageInfo]) {
    for p in packages {
        let _ = fs::remove_file(dir.join(&p.name));
    }
}

/// The members' date in the cabinet: the package's creation time (so that a publish with
/// `SOURCE_DATE_EPOCH` set writes the same bytes twice). The cabinet format starts in 1980.
fn cab_time(t: Timestamp) -> time::PrimitiveDateTime {
    let c = t.civil();
    let date = time::Month::try_from(c.month as u8)
        .ok()
        .and_then(|m| {
            time::Date::from_calendar_date(c.year.clamp(1980, 2107) as i32, m, c.day as u8).ok()
        })
        .unwrap_or(time::Date::MIN);
    let tod = time::Time::from_hms(c.hour as u8, c.minute as u8, c.second as u8)
        .unwrap_or(time::Time::MIDNIGHT);
    time::PrimitiveDateTime::new(date, tod)
}

/// The `<Update>` element of a record: its files by digest, its products (and other
/// non-classification categories) and its classifications; empty for categories and
/// detectoids.
pub fn update_element(
    id: &str,
    revision: u32,
    digests: &[String],
    categories: &[String],
    classifications: &[String],
) -> String {
    let mut s = format!(
        r#"<Update UpdateId="{}" RevisionNumber="{revision}">"#,
        attr(&id.to_ascii_lowercase())
    );
    let list = |s: &mut String, outer: &str, inner: &str, key: &str, values: &[String]| {
        if values.is_empty() {
            s.push_str(&format!("<{outer} />"));
            return;
        }
        s.push_str(&format!("<{outer}>"));
        for v in values {
            s.push_str(&format!(r#"<{inner} {key}="{}" />"#, attr(v)));
        }
        s.push_str(&format!("</{outer}>"));
    };
    list(&mut s, "Files", "File", "Digest", digests);
    list(&mut s, "Categories", "Category", "Value", categories);
    list(
        &mut s,
        "Classifications",
        "Classification",
        "Value",
        classifications,
    );
    s.push_str("</Update>");
    s
}

/// A top-level `<File>` element: digest, download address when there is one, file name.
pub fn file_element(digest: &str, url: Option<&str>, name: &str) -> String {
    match url {
        Some(u) => format!(
            r#"<File Digest="{}" MUUrl="{}" Name="{}" />"#,
            attr(digest),
            attr(u),
            attr(name)
        ),
        None => format!(
            r#"<File Digest="{}" Name="{}" />"#,
            attr(digest),
            attr(name)
        ),
    }
}
