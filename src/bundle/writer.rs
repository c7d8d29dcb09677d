//! Writing a bundle: plan which entry goes into which volume, stream the content files into
//! the volumes while hashing them, then write the manifest and `SHA256SUMS`.
//!
//! Every file is written under a `.partial` name and renamed when complete; the manifest
//! comes after every volume and `SHA256SUMS` last, so an interrupted export never leaves a
//! file under a final name that is not whole, and a folder without a manifest is recognisably
//! unfinished.

mod plan;
mod spool;
mod volumes;

use super::manifest::{
    BundleKind, ChangeRange, Counts, EntryInfo, FORMAT_VERSION, MAX_VOLUME_BYTES, Manifest,
    ManifestCriteria, ManifestSource, Sha256Hex, VolumeInfo, sha256sums_text,
};
use super::names::{self, MANIFEST_FILE, METADATA_ENTRY, SUMS_FILE};
use super::zipfmt::DosTime;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::progress::{Progress, Unit};
use crate::time::Timestamp;
use plan::plan;
pub use spool::{EncodedMetadata, MetadataSpool};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use volumes::{Volumes, volume_header};

/// Size presets for `--max-volume-size`, in bytes.
pub mod presets {
    /// `cd`: 700 MiB; a 700 MB (80 min) CD-R holds 737,280,000 bytes, leaving 3 MB for the
    /// file system, the manifest and SHA256SUMS.
    pub const CD: u64 = 700 << 20;
    /// `dvd`: a single-layer DVD±R (2,295,104 sectors of 2048 bytes = 4,700,372,992 bytes)
    /// minus 8 MiB for the file system, the manifest and SHA256SUMS; a whole number of sectors.
    pub const DVD: u64 = (2_295_104 - 4096) * 2048;
    /// `bd`: 25 GB (a single-layer BD-R holds 25,025,314,816 bytes, leaving 25 MB).
    pub const BD: u64 = 25_000_000_000;
    /// `fat32`: the largest file FAT32 can hold, 4 GiB - 1.
    pub const FAT32: u64 = (4 << 30) - 1;
}

/// Parses a volume size: a number of bytes with an optional binary unit (`K`, `M`, `G`, `T`,
/// also written `KiB`...; 1K = 1024), or a preset name: `cd`, `dvd`, `bd`, `fat32`.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let usage = |why: &str| {
        Error::usage(format!("invalid size {s:?}: {why}"))
            .with_hint("give bytes with an optional binary unit (700M, 4G, 1K = 1024 bytes) or one of cd, dvd, bd, fat32")
    };
    match t.to_ascii_lowercase().as_str() {
        "cd" => return Ok(presets::CD),
        "dvd" => return Ok(presets::DVD),
        "bd" => return Ok(presets::BD),
        "fat32" => return Ok(presets::FAT32),
        _ => {}
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(usage("no number"));
    }
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        "kb" | "mb" | "gb" | "tb" => {
            return Err(usage(
                "decimal units are ambiguous here; use K, M, G or T (binary)",
            ));
        }
        _ => return Err(usage("unknown unit")),
    };
    let n: u64 = digits.parse().map_err(|_| usage("number too large"))?;
    let bytes = n
        .checked_mul(1u64 << shift)
        .ok_or_else(|| usage("number too large"))?;
    if bytes == 0 {
        return Err(usage("must be more than zero"));
    }
    Ok(bytes)
}

/// A content file to carry. The writer re-hashes it while copying and fails if the bytes do
/// not match `sha256` and `size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentFile {
    pub sha256: [u8; 32],
    pub size: u64,
    pub path: PathBuf,
}

/// Everything a bundle is made from. Time is a parameter (`created`), never read here.
#[derive(Debug)]
pub struct BundleSpec {
    pub store_id: String,
    pub store_name: String,
    pub sequence: u64,
    pub kind: BundleKind,
    pub base_sequence: Option<u64>,
    pub changes_from: u64,
    pub changes_to: u64,
    pub criteria: ManifestCriteria,
    /// Also the timestamp of every ZIP entry.
    pub created: Timestamp,
    pub valid_until: Option<Timestamp>,
    pub max_volume_size: u64,
    /// `metadata.bin`, already encoded (see [`MetadataSpool`]).
    pub metadata: EncodedMetadata,
    pub content: Vec<ContentFile>,
    /// The SHA-256 of the file of `content` that is the offline catalog, if one is.
    pub catalog: Option<[u8; 32]>,
}

/// What [`write_bundle`] produced.
#[derive(Clone, Debug)]
pub struct WrittenBundle {
    /// The bundle folder (inside the `out_dir` given).
    pub dir: PathBuf,
    /// The folder name, `offsync-<store>-s<sequence>`.
    pub name: String,
    pub manifest: Manifest,
    /// SHA-256 of the manifest file's bytes.
    pub manifest_sha256: [u8; 32],
    /// Sum of the volume sizes.
    pub volume_bytes: u64,
    /// Bytes of content read from the store (each byte once).
    pub content_bytes_read: u64,
    /// Bytes of written volumes read back to hash them (entries too large to hold in
    /// memory until their CRC is known).
    pub volume_bytes_read_back: u64,
    /// Size of `metadata.bin` (the encoded stream, before deflating).
    pub metadata_bytes: u64,
}

/// Removes what an unfinished write left, unless disarmed.
struct Cleanup {
    files: Vec<PathBuf>,
    dir: Option<PathBuf>,
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.armed {
            for f in &self.files {
                let _ = fs::remove_file(f);
            }
            if let Some(d) = &self.dir {
                let _ = fs::remove_dir(d);
            }
        }
    }
}

fn check_spec(spec: &BundleSpec) -> Result<()> {
    if spec.store_id.is_empty() {
        return Err(Error::usage("the bundle needs a source store id"));
    }
    if spec.max_volume_size == 0 || spec.max_volume_size > MAX_VOLUME_BYTES {
        return Err(Error::usage(format!(
            "the volume size must be between 1 and {MAX_VOLUME_BYTES} bytes"
        )));
    }
    match (spec.kind, spec.base_sequence) {
        (BundleKind::Full, Some(_)) => {
            return Err(Error::usage("a full bundle has no base sequence"));
        }
        (BundleKind::Incremental, None) => {
            return Err(Error::usage("an incremental bundle needs a base sequence"));
        }
        (BundleKind::Incremental, Some(b)) if b >= spec.sequence => {
            return Err(Error::usage(format!(
                "base sequence {b} is not older than the sequence {}",
                spec.sequence
            )));
        }
        _ => {}
    }
    if spec.changes_from > spec.changes_to {
        return Err(Error::usage(format!(
            "change range {}..{} runs backwards",
            spec.changes_from, spec.changes_to
        )));
    }
    Ok(())
}

fn metadata_listed(md: &EncodedMetadata) -> EntryInfo {
    EntryInfo {
        path: METADATA_ENTRY.to_string(),
        size: md.summary.bytes,
        sha256: Sha256Hex(md.summary.sha256),
        volume: 1,
        file: None,
        offset: None,
    }
}

/// The content files to carry, in SHA-256 order, each once.
fn select_content(content: &[ContentFile]) -> Result<Vec<&ContentFile>> {
    let mut files: Vec<&ContentFile> = content.iter().collect();
    files.sort_by_key(|f| f.sha256);
    files.dedup_by(|b, a| a.sha256 == b.sha256 && a.size == b.size);
    if let Some(w) = files.windows(2).find(|w| w[0].sha256 == w[1].sha256) {
        return Err(Error::other(format!(
            "content file {} is given twice with different sizes ({} and {})",
            hex::encode(w[0].sha256),
            w[0].size,
            w[1].size
        )));
    }
    Ok(files)
}

/// Writes a bundle into a new folder `out_dir/<bundle name>` and returns what was written.
///
/// Refuses when that folder already holds a manifest (a finished bundle is never
/// overwritten); leftovers of an interrupted write of the same bundle are replaced. On
/// failure, every file this call created is removed.
pub fn write_bundle(
    out_dir: &Path,
    spec: &BundleSpec,
    progress: &dyn Progress,
) -> Result<WrittenBundle> {
    check_spec(spec)?;
    let name = names::bundle_name(&spec.store_name, spec.sequence);
    let bundle_id = names::bundle_id(&spec.store_id, spec.sequence);
    let dir = out_dir.join(&name);
    let mut cleanup = Cleanup {
        files: Vec::new(),
        dir: None,
        armed: true,
    };
    prepare_dir(out_dir, &dir, &name, &mut cleanup)?;
    let files = select_content(&spec.content)?;
    let metadata = &spec.metadata;
    let header_max = volume_header(&bundle_id, spec.sequence, u32::MAX, u32::MAX).len() as u64;
    let layout = plan(
        spec.max_volume_size,
        header_max,
        metadata.stored_len,
        &files,
    )?;

    let content_bytes: u64 = files.iter().map(|f| f.size).sum();
    progress.start(
        "writing bundle",
        Some(content_bytes + metadata.summary.bytes),
        Unit::Bytes,
    );
    let mut entries = vec![metadata_listed(metadata)];
    let (volumes, reads) = Volumes {
        dir: &dir,
        name: &name,
        bundle_id: &bundle_id,
        sequence: spec.sequence,
        max_volume_size: spec.max_volume_size,
        time: DosTime::from_timestamp(spec.created),
        files: &files,
        metadata,
        progress,
    }
    .write(&layout, &mut entries, &mut cleanup)?;
    fsutil::sync_dir(Some(&dir));
    progress.finish();

    let counts = Counts {
        categories: metadata.summary.categories,
        updates: metadata.summary.updates,
        removed: metadata.summary.removed,
        content_files: files.len() as u64,
        content_bytes,
        decisions: metadata.summary.decisions,
    };
    let manifest = build_manifest(spec, bundle_id, counts, volumes, entries)?;
    let manifest_sha256 = write_manifest_files(&dir, &manifest, &mut cleanup)?;
    cleanup.armed = false;
    Ok(WrittenBundle {
        dir,
        name,
        volume_bytes: manifest.volumes.iter().map(|v| v.size).sum(),
        content_bytes_read: reads.content,
        volume_bytes_read_back: reads.read_back,
        metadata_bytes: metadata.summary.bytes,
        manifest,
        manifest_sha256,
    })
}

/// The manifest of what was written, checked by the reader's own consistency check.
fn build_manifest(
    spec: &BundleSpec,
    bundle_id: String,
    counts: Counts,
    volumes: Vec<VolumeInfo>,
    entries: Vec<EntryInfo>,
) -> Result<Manifest> {
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        bundle_id,
        source: ManifestSource {
            store_id: spec.store_id.clone(),
            store_name: spec.store_name.clone(),
        },
        sequence: spec.sequence,
        kind: spec.kind,
        base_sequence: spec.base_sequence,
        changes: ChangeRange {
            from: spec.changes_from,
            to: spec.changes_to,
        },
        criteria: spec.criteria.clone(),
        created: spec.created,
        valid_until: spec.valid_until,
        tool_version: format!("offsync {}", env!("CARGO_PKG_VERSION")),
        counts,
        catalog: spec.catalog.map(Sha256Hex),
        volumes,
        entries,
    };
    if let Some(p) = manifest.problems().into_iter().next() {
        return Err(Error::other(format!(
            "internal error: the manifest written fails its check: {}: {}",
            p.subject, p.message
        )));
    }
    Ok(manifest)
}

/// Writes `manifest.json`, then `SHA256SUMS`; returns the SHA-256 of the manifest's bytes.
fn write_manifest_files(
    dir: &Path,
    manifest: &Manifest,
    cleanup: &mut Cleanup,
) -> Result<[u8; 32]> {
    let manifest_bytes = manifest.to_json_bytes();
    let manifest_sha256 = crate::hash::sha256(&manifest_bytes);
    let manifest_path = dir.join(MANIFEST_FILE);
    cleanup.files.push(fsutil::temp_sibling(&manifest_path));
    cleanup.files.push(manifest_path.clone());
    fsutil::atomic_write(&manifest_path, &manifest_bytes)?;
    let sums_path = dir.join(SUMS_FILE);
    cleanup.files.push(fsutil::temp_sibling(&sums_path));
    cleanup.files.push(sums_path.clone());
    fsutil::atomic_write(
        &sums_path,
        sha256sums_text(&manifest_sha256, manifest).as_bytes(),
    )?;
    Ok(manifest_sha256)
}

fn prepare_dir(out_dir: &Path, dir: &Path, name: &str, cleanup: &mut Cleanup) -> Result<()> {
    // Checked again here, not only before the work: media unmounted meanwhile must not turn
    // into a bundle on the machine's own disk.
    check_out_dir(out_dir)?;
    match fs::create_dir(dir) {
        Ok(()) => {
            cleanup.dir = Some(dir.to_path_buf());
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if dir.join(MANIFEST_FILE).exists() {
                return Err(Error::other(format!("bundle folder {} already exists and holds a manifest", dir.display()))
                    .with_hint("a finished bundle is never overwritten: move it away or export into another folder"));
            }
            // The leftovers of an interrupted export of this same bundle: ours to replace.
            let list = fs::read_dir(dir).map_err(|e| Error::io(dir, "list", e))?;
            for entry in list.flatten() {
                let n = entry.file_name().to_string_lossy().into_owned();
                if n.ends_with(".partial")
                    || n == SUMS_FILE
                    || (n.starts_with(name) && n.ends_with(".zip"))
                {
                    fs::remove_file(entry.path())
                        .map_err(|e| Error::io(&entry.path(), "remove leftover", e))?;
                }
            }
            Ok(())
        }
        Err(e) => Err(Error::io(dir, "create folder", e)),
    }
}

/// Checks that `out` (the media: it must exist) can hold a bundle folder; the writer never
/// creates it, so that an unmounted medium is an error, not a bundle on the local disk. It must exist: it is
/// the media, and creating it would write the bundle to the machine's own disk where the
/// media was not mounted.
pub fn check_out_dir(out: &Path) -> Result<()> {
    match std::fs::metadata(out) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::usage(format!("{} is not a folder", out.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::usage(format!(
            "{} does not exist: is the media mounted?",
            out.display()
        ))
        .with_hint(
            "mount the media (or create the folder) and export again; export never creates it",
        )),
        Err(e) => Err(Error::io(out, "read", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("123").unwrap(), 123);
        assert_eq!(parse_size("1K").unwrap(), 1024);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        assert_eq!(parse_size("700M").unwrap(), 700 << 20);
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_size("2T").unwrap(), 2 << 40);
        assert_eq!(parse_size(" 10b ").unwrap(), 10);
        assert_eq!(parse_size("cd").unwrap(), 734_003_200);
        assert_eq!(parse_size("DVD").unwrap(), 4_691_984_384);
        assert_eq!(parse_size("dvd").unwrap() % 2048, 0);
        assert_eq!(parse_size("bd").unwrap(), 25_000_000_000);
        assert_eq!(parse_size("fat32").unwrap(), 4_294_967_295);
        for bad in [
            "",
            "M",
            "0",
            "1.5G",
            "10MB",
            "10X",
            "-1",
            "99999999999999999999",
            "16777216T",
            "dvd2",
        ] {
            let e = parse_size(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Usage, "{bad}");
        }
    }
}
