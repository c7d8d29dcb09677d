//! Writing a bundle: plan which entry goes into which volume, stream the content files into
//! the volumes while hashing them, then write the manifest and `SHA256SUMS`.
//!
//! Every file is written under a `.partial` name and renamed when complete; the manifest
//! comes after every volume and `SHA256SUMS` last, so an interrupted export never leaves a
//! file under a final name that is not whole, and a folder without a manifest is recognisably
//! unfinished.

use super::manifest::{
    BundleKind, ChangeRange, Counts, EntryInfo, FORMAT_VERSION, MAX_VOLUME_BYTES, Manifest,
    ManifestCriteria, ManifestSource, Sha256Hex, VolumeInfo, sha256sums_text,
};
use super::metadata::{BundleMetadata, encode_metadata};
use super::names::{
    self, EntryName, HEADER_ENTRY, MANIFEST_FILE, MAX_PIECES, METADATA_ENTRY, SUMS_FILE,
};
use super::volume::VolumeHeader;
use super::zipfmt::{
    self, DosTime, END_OVERHEAD_MAX, METHOD_DEFLATED, METHOD_STORED, ZipOut, entry_overhead_max,
};
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil;
use crate::progress::{Progress, Unit};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read};
use std::path::{Path, PathBuf};

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

/// Smallest piece a file is cut into when it must be split: below this a new volume is
/// started instead, so that no piece is absurdly small.
const MIN_PIECE: u64 = 4096;

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
#[derive(Clone, Debug)]
pub struct BundleSpec {
    pub store_id: String,
    pub store_name: String,
    pub sequence: u64,
    pub kind: BundleKind,
    pub base_sequence: Option<u64>,
    pub changes_from: u64,
    pub changes_to: u64,
    pub criteria: ManifestCriteria,
    /// RFC 3339 UTC; also the timestamp of every ZIP entry.
    pub created: String,
    pub valid_until: Option<String>,
    pub max_volume_size: u64,
    pub metadata: BundleMetadata,
    pub content: Vec<ContentFile>,
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
    /// Size of `metadata.bin` (the encoded envelope, before deflating).
    pub metadata_bytes: u64,
}

/// One stretch of a content file placed in a volume.
#[derive(Clone, Debug)]
struct Part {
    file: usize,
    offset: u64,
    len: u64,
    piece: Option<u32>,
}

/// Assigns entries to volumes so that no volume can exceed `cap`, with the ZIP overhead of
/// each entry and the end records counted at their maximum. Content files are taken in
/// SHA-256 order; a file that does not fit in what is left of a volume is cut, filling the
/// volume, unless less than [`MIN_PIECE`] is left.
fn plan(
    cap: u64,
    header_len: u64,
    metadata_len: u64,
    files: &[&ContentFile],
) -> Result<Vec<Vec<Part>>> {
    let base = entry_overhead_max(HEADER_ENTRY.len()) + header_len + END_OVERHEAD_MAX;
    let first = base + entry_overhead_max(METADATA_ENTRY.len()) + metadata_len;
    if first > cap {
        return Err(Error::usage(format!(
            "a volume size of {cap} bytes is too small: volume 1 needs {first} bytes for its header and the metadata"
        ))
        .with_hint(format!("give --max-volume-size {first} or more")));
    }
    let whole_oh = entry_overhead_max(names::CONTENT_PREFIX.len() + 64);
    let piece_oh = entry_overhead_max(names::MAX_ENTRY_NAME);
    let room = |used: u64| cap.saturating_sub(used);
    let mut vols: Vec<Vec<Part>> = vec![Vec::new()];
    let mut used = first;
    for (i, f) in files.iter().enumerate() {
        if f.size.saturating_add(whole_oh) <= room(used) {
            vols.last_mut().expect("a volume").push(Part {
                file: i,
                offset: 0,
                len: f.size,
                piece: None,
            });
            used += whole_oh + f.size;
            continue;
        }
        if room(used) < piece_oh + MIN_PIECE {
            vols.push(Vec::new());
            used = base;
            if f.size.saturating_add(whole_oh) <= room(used) {
                vols.last_mut().expect("a volume").push(Part {
                    file: i,
                    offset: 0,
                    len: f.size,
                    piece: None,
                });
                used += whole_oh + f.size;
                continue;
            }
        }
        if base + piece_oh + MIN_PIECE > cap {
            return Err(Error::usage(format!(
                "a volume size of {cap} bytes is too small to carry content: a volume needs {} bytes to hold a piece of a file",
                base + piece_oh + MIN_PIECE
            )));
        }
        let mut offset = 0;
        let mut piece = 0u32;
        while offset < f.size {
            let r = room(used).saturating_sub(piece_oh);
            if r < MIN_PIECE.min(f.size - offset) {
                vols.push(Vec::new());
                used = base;
                continue;
            }
            let len = r.min(f.size - offset);
            piece += 1;
            if piece > MAX_PIECES {
                return Err(Error::usage(format!(
                    "a volume size of {cap} bytes is too small: a content file of {} bytes would need more than {MAX_PIECES} pieces",
                    f.size
                )));
            }
            vols.last_mut().expect("a volume").push(Part {
                file: i,
                offset,
                len,
                piece: Some(piece),
            });
            used += piece_oh + len;
            offset += len;
        }
    }
    if vols.len() > super::manifest::MAX_VOLUMES {
        return Err(Error::usage(format!(
            "a volume size of {cap} bytes is too small: the bundle would need {} volumes, at most {} are allowed",
            vols.len(),
            super::manifest::MAX_VOLUMES
        )));
    }
    Ok(vols)
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
    if spec.created.is_empty() {
        return Err(Error::usage("the bundle needs a creation time"));
    }
    Ok(())
}

/// Deflates the metadata once, in memory, and returns (method, CRC-32, bytes as stored).
fn deflate(bytes: &[u8]) -> Result<(u16, u32, Vec<u8>)> {
    let raw = zipfmt::deflate(bytes)
        .map_err(|e| Error::other(format!("cannot compress the metadata: {e}")))?;
    Ok((METHOD_DEFLATED, zipfmt::crc32(bytes), raw))
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

    // Content in SHA-256 order, each file once.
    let mut files: Vec<&ContentFile> = spec.content.iter().collect();
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

    let md_bytes = encode_metadata(&spec.metadata)?;
    let (md_method, md_crc, md_stored) = deflate(&md_bytes)?;
    let md_sha = crate::hash::sha256(&md_bytes);

    let header_max = VolumeHeader {
        format_version: FORMAT_VERSION,
        bundle_id: bundle_id.clone(),
        sequence: spec.sequence,
        volume: u32::MAX,
        volume_count: u32::MAX,
    }
    .to_bytes()
    .len() as u64;
    let layout = plan(
        spec.max_volume_size,
        header_max,
        md_stored.len() as u64,
        &files,
    )?;
    let count = layout.len() as u32;
    let time = DosTime::from_rfc3339(&spec.created);

    let content_bytes: u64 = files.iter().map(|f| f.size).sum();
    progress.start(
        "writing bundle",
        Some(content_bytes + md_bytes.len() as u64),
        Unit::Bytes,
    );
    let mut entries: Vec<EntryInfo> = vec![EntryInfo {
        path: METADATA_ENTRY.to_string(),
        size: md_bytes.len() as u64,
        sha256: Sha256Hex(md_sha),
        volume: 1,
        file: None,
        offset: None,
    }];
    let mut sizes = Vec::with_capacity(layout.len());
    let mut source = Source::default();

    // Each finished volume is hashed by a second thread while the next one is written.
    let hashes: Vec<[u8; 32]> = std::thread::scope(|scope| -> Result<Vec<[u8; 32]>> {
        let mut hashes = Vec::with_capacity(layout.len());
        let mut pending: Option<std::thread::ScopedJoinHandle<'_, Result<[u8; 32]>>> = None;
        for (i, parts) in layout.iter().enumerate() {
            let index = i as u32 + 1;
            let final_path = dir.join(names::volume_name(&name, index));
            let partial = fsutil::temp_sibling(&final_path);
            cleanup.files.push(partial.clone());
            cleanup.files.push(final_path.clone());
            let header = VolumeHeader {
                format_version: FORMAT_VERSION,
                bundle_id: bundle_id.clone(),
                sequence: spec.sequence,
                volume: index,
                volume_count: count,
            };
            let mut job = VolumeJob {
                path: &partial,
                index,
                header: header.to_bytes(),
                metadata: (index == 1).then_some((
                    md_method,
                    md_crc,
                    md_bytes.len() as u64,
                    md_stored.as_slice(),
                )),
                parts,
                files: &files,
                time,
                progress,
            };
            let size = job.write(&mut source, &mut entries)?;
            if size > spec.max_volume_size {
                return Err(Error::other(format!(
                    "internal error: volume {index} came out at {size} bytes, over the limit of {}",
                    spec.max_volume_size
                )));
            }
            fs::rename(&partial, &final_path)
                .map_err(|e| Error::io(&final_path, "rename into place", e))?;
            sizes.push(size);
            if let Some(h) = pending.take() {
                hashes.push(join_hash(h)?);
            }
            pending = Some(scope.spawn(move || hash_file(&final_path)));
        }
        if let Some(h) = pending.take() {
            hashes.push(join_hash(h)?);
        }
        Ok(hashes)
    })?;
    fsutil::sync_dir(Some(&dir));
    progress.finish();

    let volumes: Vec<VolumeInfo> = hashes
        .iter()
        .zip(&sizes)
        .enumerate()
        .map(|(i, (h, size))| VolumeInfo {
            name: names::volume_name(&name, i as u32 + 1),
            size: *size,
            sha256: Sha256Hex(*h),
        })
        .collect();
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
        created: spec.created.clone(),
        valid_until: spec.valid_until.clone(),
        tool_version: format!("offsync {}", env!("CARGO_PKG_VERSION")),
        counts: Counts {
            categories: spec.metadata.categories.len() as u64,
            updates: spec.metadata.updates.len() as u64,
            removed: spec.metadata.removed_count(),
            content_files: files.len() as u64,
            content_bytes,
        },
        volumes,
        entries,
    };
    // The reader's own consistency check, applied to what was just produced.
    if let Some(p) = manifest.problems().into_iter().next() {
        return Err(Error::other(format!(
            "internal error: the manifest written fails its check: {}: {}",
            p.subject, p.message
        )));
    }
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
        sha256sums_text(&manifest_sha256, &manifest).as_bytes(),
    )?;
    cleanup.armed = false;
    Ok(WrittenBundle {
        dir,
        name,
        volume_bytes: sizes.iter().sum(),
        metadata_bytes: md_bytes.len() as u64,
        manifest,
        manifest_sha256,
    })
}

fn prepare_dir(out_dir: &Path, dir: &Path, name: &str, cleanup: &mut Cleanup) -> Result<()> {
    fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, "create folder", e))?;
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

fn join_hash(h: std::thread::ScopedJoinHandle<'_, Result<[u8; 32]>>) -> Result<[u8; 32]> {
    h.join()
        .map_err(|_| Error::other("internal error: the hashing thread panicked"))?
}

fn hash_file(path: &Path) -> Result<[u8; 32]> {
    let mut f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let (_, h) = crate::hash::copy_sha256(&mut f, &mut io::sink())
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(h)
}

/// The content file being copied: kept open across volumes when it is cut into pieces.
#[derive(Default)]
struct Source {
    current: Option<(usize, File, Sha256)>,
}

struct VolumeJob<'a> {
    path: &'a Path,
    index: u32,
    header: Vec<u8>,
    /// (method, CRC-32, uncompressed size, bytes as stored)
    metadata: Option<(u16, u32, u64, &'a [u8])>,
    parts: &'a [Part],
    files: &'a [&'a ContentFile],
    time: DosTime,
    progress: &'a dyn Progress,
}

impl VolumeJob<'_> {
    /// Writes the volume under its `.partial` name, synced to disk; returns its size.
    fn write(&mut self, source: &mut Source, entries: &mut Vec<EntryInfo>) -> Result<u64> {
        let io_err = |e: io::Error| Error::io(self.path, "write", e);
        let file = File::create(self.path).map_err(io_err)?;
        let mut zo = ZipOut::new(BufWriter::with_capacity(1 << 20, file), self.time);
        zo.add_raw(
            HEADER_ENTRY,
            METHOD_STORED,
            self.header.len() as u64,
            zipfmt::crc32(&self.header),
            &self.header,
        )
        .map_err(io_err)?;
        if let Some((method, crc, size, stored)) = self.metadata {
            zo.add_raw(METADATA_ENTRY, method, size, crc, stored)
                .map_err(io_err)?;
            self.progress.advance(size);
        }
        let mut buf = vec![0u8; 256 * 1024];
        for part in self.parts {
            let f = self.files[part.file];
            if part.offset == 0 {
                source.current = Some((part.file, open_content(f)?, Sha256::new()));
            }
            let (_, src, whole) = source
                .current
                .as_mut()
                .filter(|c| c.0 == part.file)
                .expect("parts of a file are consecutive");
            let entry_name = match part.piece {
                None => EntryName::Content(f.sha256),
                Some(n) => EntryName::Piece(f.sha256, n),
            }
            .render();
            zo.begin_stored(&entry_name, part.len).map_err(io_err)?;
            let mut piece_sha = Sha256::new();
            let mut left = part.len;
            while left > 0 {
                let want = left.min(buf.len() as u64) as usize;
                let n = match src.read(&mut buf[..want]) {
                    Ok(0) => {
                        return Err(Error::new(
                            ErrorKind::Corrupt,
                            format!(
                                "content file {} ended after {} bytes, {} expected",
                                f.path.display(),
                                part.offset + part.len - left,
                                f.size
                            ),
                        ));
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::io(&f.path, "read", e)),
                };
                piece_sha.update(&buf[..n]);
                if part.piece.is_some() {
                    whole.update(&buf[..n]);
                }
                zo.write_data(&buf[..n]).map_err(io_err)?;
                self.progress.advance(n as u64);
                left -= n as u64;
            }
            zo.end_entry().map_err(io_err)?;
            let piece_digest: [u8; 32] = piece_sha.finalize().into();
            entries.push(EntryInfo {
                path: entry_name,
                size: part.len,
                sha256: Sha256Hex(piece_digest),
                volume: self.index,
                file: part.piece.map(|_| Sha256Hex(f.sha256)),
                offset: part.piece.map(|_| part.offset),
            });
            if part.offset + part.len == f.size {
                let (_, mut src, whole) = source.current.take().expect("the current file");
                let mut probe = [0u8; 1];
                if src
                    .read(&mut probe)
                    .map_err(|e| Error::io(&f.path, "read", e))?
                    > 0
                {
                    return Err(Error::new(
                        ErrorKind::Corrupt,
                        format!(
                            "content file {} is longer than the {} bytes expected",
                            f.path.display(),
                            f.size
                        ),
                    ));
                }
                let digest: [u8; 32] = if part.piece.is_some() {
                    whole.finalize().into()
                } else {
                    piece_digest
                };
                if digest != f.sha256 {
                    return Err(Error::new(
                        ErrorKind::Corrupt,
                        format!(
                            "content file {} has SHA-256 {}, expected {}",
                            f.path.display(),
                            hex::encode(digest),
                            hex::encode(f.sha256)
                        ),
                    )
                    .with_hint("the store's copy of this file is damaged; check the store and take the file in again"));
                }
            }
        }
        let (w, size) = zo.finish().map_err(io_err)?;
        let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        Ok(size)
    }
}

fn open_content(f: &ContentFile) -> Result<File> {
    let file = File::open(&f.path).map_err(|e| Error::io(&f.path, "open content file", e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(&f.path, "stat", e))?
        .len();
    if len != f.size {
        return Err(Error::new(
            ErrorKind::Corrupt,
            format!(
                "content file {} is {len} bytes, expected {}",
                f.path.display(),
                f.size
            ),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn cf(size: u64, tag: u8) -> ContentFile {
        ContentFile {
            sha256: [tag; 32],
            size,
            path: PathBuf::new(),
        }
    }

    #[test]
    fn plan_fills_volumes_and_cuts_large_files() {
        let files = [cf(10_000, 1), cf(100_000, 2), cf(0, 3), cf(30_000, 4)];
        let refs: Vec<&ContentFile> = files.iter().collect();
        let cap = 40_000;
        let vols = plan(cap, 150, 500, &refs).unwrap();
        assert!(vols.len() >= 4, "{vols:?}");
        // Every byte of every file is placed once, in order.
        for (i, f) in files.iter().enumerate() {
            let parts: Vec<&Part> = vols.iter().flatten().filter(|p| p.file == i).collect();
            let mut off = 0;
            for p in &parts {
                assert_eq!(p.offset, off);
                off += p.len;
            }
            assert_eq!(off, f.size);
            assert_eq!(parts.len() > 1, parts.iter().all(|p| p.piece.is_some()));
        }
        assert!(
            plan(1000, 150, 500, &refs)
                .unwrap_err()
                .message
                .contains("too small")
        );
    }
}
