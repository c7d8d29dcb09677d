//! Reading a bundle after it was verified: the metadata, and content files streamed from their
//! volumes straight into a writer (no extraction to a temporary folder, so read-only media
//! work and no extra disk is needed).
//!
//! The reader trusts nothing it has not re-checked itself: it re-reads and re-checks the
//! manifest, re-runs the structural checks on each volume it opens, and checks the CRC, size
//! and SHA-256 of every entry it reads, and the SHA-256 of every whole content file.

use super::manifest::{self, Layout, Manifest};
use super::metadata::BundleMetadata;
use super::names::{METADATA_ENTRY, SUMS_FILE};
use super::verify::{
    find_manifest, locate, open_media, read_capped, read_manifest_bytes, sums_cap,
};
use super::volume::{self, ReadFailure, ScannedEntry};
use crate::error::{Error, ErrorKind, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The entries of one volume that passed the structural checks, by manifest entry index.
struct VolumeIndex {
    entries: HashMap<usize, ScannedEntry>,
}

/// An open bundle. Open it from the same paths as `verify`, after a successful verify.
pub struct BundleReader {
    manifest_path: PathBuf,
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    manifest_sha256: [u8; 32],
    layout: Layout,
    /// The file chosen for each volume (index 0 = volume 1).
    volumes: Vec<PathBuf>,
    scanned: Mutex<HashMap<u32, Arc<VolumeIndex>>>,
}

impl std::fmt::Debug for BundleReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleReader")
            .field("manifest_path", &self.manifest_path)
            .field("bundle_id", &self.manifest.bundle_id)
            .field("volumes", &self.volumes)
            .finish()
    }
}

impl BundleReader {
    /// Opens a bundle: reads and checks the manifest (and `SHA256SUMS` when present), and
    /// finds each volume, choosing among several files of one name the one whose size and
    /// header match. Volume contents are checked as they are read.
    pub fn open(paths: &[PathBuf]) -> Result<BundleReader> {
        let first = paths
            .first()
            .ok_or_else(|| Error::usage("no bundle path given"))?;
        let (manifest_path, dir) = find_manifest(first)?;
        let manifest_bytes = read_manifest_bytes(&manifest_path)?;
        let manifest_sha256 = crate::hash::sha256(&manifest_bytes);
        let manifest =
            Manifest::parse(&manifest_bytes).map_err(|e| e.context(manifest_path.display()))?;
        manifest.check()?;
        let sums = dir.join(SUMS_FILE);
        if sums.exists() {
            let text = read_capped(&sums, sums_cap(&manifest))?;
            let text = String::from_utf8_lossy(&text);
            if let Some(p) = manifest::check_sha256sums(&text, &manifest_sha256, &manifest)
                .into_iter()
                .next()
            {
                return Err(p.into_error());
            }
        }
        let located = locate(paths, &manifest)?;
        let mut volumes = Vec::with_capacity(manifest.volumes.len());
        for (i, v) in manifest.volumes.iter().enumerate() {
            let vol = i as u32 + 1;
            let mut reasons = Vec::new();
            let mut foreign_only = true;
            let mut chosen = None;
            for c in located.candidates(&v.name) {
                let len = fs::metadata(c).map(|m| m.len()).unwrap_or(u64::MAX);
                if let Some(why) = volume::foreign_volume(c, &manifest, vol) {
                    reasons.push(format!("{}: {why}", c.display()));
                } else if len != v.size {
                    foreign_only = false;
                    reasons.push(format!(
                        "{}: {len} bytes, the manifest says {}",
                        c.display(),
                        v.size
                    ));
                } else {
                    chosen = Some(c.clone());
                    break;
                }
            }
            match chosen {
                Some(p) => volumes.push(p),
                None if reasons.is_empty() => {
                    return Err(Error::new(
                        ErrorKind::Incomplete,
                        format!("volume {vol} of {} ({}) was not found", manifest.volumes.len(), v.name),
                    )
                    .with_hint("give the folders or discs that hold the other volumes after the bundle folder"));
                }
                None => {
                    let kind = if foreign_only {
                        ErrorKind::Incomplete
                    } else {
                        ErrorKind::Corrupt
                    };
                    return Err(Error::new(
                        kind,
                        format!("{}: {}", v.name, reasons.join("; ")),
                    ));
                }
            }
        }
        let layout = Layout::new(&manifest);
        Ok(BundleReader {
            manifest_path,
            manifest,
            manifest_bytes,
            manifest_sha256,
            layout,
            volumes,
            scanned: Mutex::new(HashMap::new()),
        })
    }

    /// The reader of a bundle that `verify` (or [`super::verify_into`]) just checked without
    /// any finding: its manifest as verify read it and the volume files it chose, without
    /// reading anything again. None when the report is not clean.
    pub fn from_verified(report: super::VerifyReport) -> Option<BundleReader> {
        if !report.ok() {
            return None;
        }
        let volumes = report
            .volumes
            .iter()
            .map(|v| v.path.clone())
            .collect::<Option<Vec<_>>>()?;
        let manifest = report.manifest?;
        let layout = Layout::new(&manifest);
        Some(BundleReader {
            manifest_path: report.manifest_path?,
            manifest,
            manifest_bytes: report.manifest_bytes?,
            manifest_sha256: report.manifest_sha256?,
            layout,
            volumes,
            scanned: Mutex::new(HashMap::new()),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest exactly as read from disk (what a signature covers).
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// SHA-256 of [`BundleReader::manifest_bytes`].
    pub fn manifest_sha256(&self) -> [u8; 32] {
        self.manifest_sha256
    }

    pub fn manifest_path(&self) -> &Path {
        &self.manifest_path
    }

    /// Every content file the bundle carries: (SHA-256, size), in SHA-256 order.
    pub fn content_files(&self) -> Vec<([u8; 32], u64)> {
        self.layout
            .files
            .iter()
            .map(|(h, f)| (*h, f.size))
            .collect()
    }

    /// The structural scan of a volume, done once and kept.
    fn volume(&self, vol: u32) -> Result<Arc<VolumeIndex>> {
        if let Some(v) = self.scanned.lock().expect("volume cache").get(&vol) {
            return Ok(v.clone());
        }
        let path = &self.volumes[vol as usize - 1];
        let listed = &self.manifest.volumes[vol as usize - 1];
        let mut f = open_media(path)?;
        let len = f.metadata().map_err(|e| Error::io(path, "stat", e))?.len();
        if len != listed.size {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "{}: {len} bytes, the manifest says {}",
                    listed.name, listed.size
                ),
            ));
        }
        let scan = volume::scan_volume(&mut f, len, &self.manifest, &self.layout, vol);
        if let Some(first) = scan.findings.into_iter().next() {
            return Err(first.into_error());
        }
        let index = Arc::new(VolumeIndex {
            entries: scan.entries.into_iter().map(|e| (e.index, e)).collect(),
        });
        self.scanned
            .lock()
            .expect("volume cache")
            .insert(vol, index.clone());
        Ok(index)
    }

    /// The volume file and scanned entry of manifest entry `index`, and its subject name.
    fn locate_listed(&self, index: usize) -> Result<(fs::File, ScannedEntry, String)> {
        let listed = &self.manifest.entries[index];
        let vol = listed.volume;
        let vi = self.volume(vol)?;
        let vname = &self.manifest.volumes[vol as usize - 1].name;
        let Some(se) = vi.entries.get(&index) else {
            return Err(Error::new(
                ErrorKind::Incomplete,
                format!(
                    "{vname}: entry {} is listed in this volume but not found in it",
                    listed.path
                ),
            ));
        };
        let path = &self.volumes[vol as usize - 1];
        let file = open_media(path)?;
        Ok((file, se.clone(), format!("{vname}: {}", listed.path)))
    }

    /// Reads one manifest entry to its end into `sink`, with every check.
    fn read_listed(&self, index: usize, sink: &mut dyn Write) -> Result<()> {
        let listed = &self.manifest.entries[index];
        let (mut file, se, subject) = self.locate_listed(index)?;
        volume::read_entry(&mut file, &se, listed, &subject, sink, &mut |_| {}).map_err(|e| match e
        {
            ReadFailure::Entry(finding) => finding.into_error(),
            ReadFailure::Sink(err) => Error::new(
                ErrorKind::Storage,
                format!("cannot write {}: {err}", listed.path),
            ),
        })
    }

    /// Reads and decodes `metadata.bin` whole (for small bundles and tests: a million
    /// revisions take gigabytes this way; [`BundleReader::read_records`] holds one record).
    pub fn read_metadata(&self) -> Result<BundleMetadata> {
        let mut sink = super::records::Collect::default();
        self.read_records(&mut sink)?;
        Ok(sink.md)
    }

    /// Reads `metadata.bin` one record at a time, with every check verify runs (so that an
    /// importer never depends on having run verify first), handing each record to `sink`.
    ///
    /// Records reach the sink before the entry's CRC and SHA-256 are known (they are checked
    /// at its end): act on them only once this returned `Ok`.
    pub fn read_records(&self, sink: &mut dyn super::records::RecordSink) -> Result<()> {
        let index = *self.layout.by_path.get(METADATA_ENTRY).ok_or_else(|| {
            Error::new(ErrorKind::Incomplete, "the manifest lists no metadata.bin")
        })?;
        let listed = &self.manifest.entries[index];
        let (mut file, se, subject) = self.locate_listed(index)?;
        let (m, layout) = (&self.manifest, &self.layout);
        let mut check = None;
        volume::consume_entry(&mut file, &se, listed, &subject, &mut |r| {
            check = Some(super::records::read_metadata_stream(r, m, layout, sink));
        })
        .map_err(|e| match e {
            ReadFailure::Entry(finding) => finding.into_error(),
            ReadFailure::Sink(err) => Error::other(format!("cannot read {}: {err}", listed.path)),
        })?;
        let check = check.expect("the entry was consumed");
        if let Some(p) = check.findings.into_iter().next() {
            return Err(p.into_error());
        }
        match check.sink_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Streams a content file into `w`, piece after piece, checking each piece's CRC, size
    /// and SHA-256 and the whole file's SHA-256. Returns the bytes written.
    ///
    /// Bytes reach `w` before the final hash is known: on an error, throw away what was
    /// written (stage into a temporary file and publish only on success).
    pub fn copy_content(&self, sha256: &[u8; 32], w: &mut dyn Write) -> Result<u64> {
        let file = self.layout.files.get(sha256).ok_or_else(|| {
            Error::other(format!(
                "content file {} is not part of this bundle",
                hex::encode(sha256)
            ))
        })?;
        if file.parts.len() == 1 {
            // A whole entry: its SHA-256 is the file's (the manifest check guarantees it).
            self.read_listed(file.parts[0], w)?;
            return Ok(file.size);
        }
        let mut tee = Tee {
            w,
            sha: Sha256::new(),
            n: 0,
        };
        for &part in &file.parts {
            self.read_listed(part, &mut tee)?;
        }
        let digest: [u8; 32] = tee.sha.finalize().into();
        if digest != *sha256 || tee.n != file.size {
            return Err(Error::new(
                ErrorKind::Corrupt,
                format!(
                    "content/{}: its pieces join into {} bytes with SHA-256 {}",
                    hex::encode(sha256),
                    tee.n,
                    hex::encode(digest)
                ),
            ));
        }
        Ok(tee.n)
    }
}

/// Writes through to `w` while hashing.
struct Tee<'a> {
    w: &'a mut dyn Write,
    sha: Sha256,
    n: u64,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.sha.update(&buf[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}
