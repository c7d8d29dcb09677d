//! Writing the volumes of a plan: each one under its `.partial` name, synced and renamed into
//! place, while a second thread hashes the volume finished before it. Content files are
//! re-hashed as they are copied, so a damaged store copy fails the export instead of
//! travelling.

use super::plan::Part;
use super::{Cleanup, ContentFile, MetadataEntry};
use crate::bundle::manifest::{EntryInfo, FORMAT_VERSION, Sha256Hex, VolumeInfo};
use crate::bundle::names::{self, EntryName, HEADER_ENTRY, METADATA_ENTRY};
use crate::bundle::volume::VolumeHeader;
use crate::bundle::zipfmt::{self, DosTime, METHOD_DEFLATED, METHOD_STORED, ZipOut};
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil;
use crate::progress::Progress;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read};
use std::path::Path;
use std::thread::ScopedJoinHandle;

/// What every volume of one bundle shares.
pub(super) struct Volumes<'a> {
    pub dir: &'a Path,
    /// The bundle folder's name, which volume names start with.
    pub name: &'a str,
    pub bundle_id: &'a str,
    pub sequence: u64,
    pub max_volume_size: u64,
    pub time: DosTime,
    pub files: &'a [&'a ContentFile],
    pub metadata: &'a MetadataEntry,
    pub progress: &'a dyn Progress,
}

/// The header entry of volume `volume` of `count`.
pub(super) fn volume_header(bundle_id: &str, sequence: u64, volume: u32, count: u32) -> Vec<u8> {
    VolumeHeader {
        format_version: FORMAT_VERSION,
        bundle_id: bundle_id.to_string(),
        sequence,
        volume,
        volume_count: count,
    }
    .to_bytes()
}

impl Volumes<'_> {
    /// Writes one volume per element of `layout`, appending what each holds to `entries`;
    /// returns the volumes as the manifest lists them.
    pub fn write(
        &self,
        layout: &[Vec<Part>],
        entries: &mut Vec<EntryInfo>,
        cleanup: &mut Cleanup,
    ) -> Result<Vec<VolumeInfo>> {
        let count = layout.len() as u32;
        let mut source = Source::default();
        let mut sizes = Vec::with_capacity(layout.len());
        let hashes = std::thread::scope(|scope| -> Result<Vec<[u8; 32]>> {
            let mut hashes = Vec::with_capacity(layout.len());
            let mut pending: Option<ScopedJoinHandle<'_, Result<[u8; 32]>>> = None;
            for (i, parts) in layout.iter().enumerate() {
                let index = i as u32 + 1;
                let final_path = self.dir.join(names::volume_name(self.name, index));
                let partial = fsutil::temp_sibling(&final_path);
                cleanup.files.push(partial.clone());
                cleanup.files.push(final_path.clone());
                let job = VolumeJob {
                    v: self,
                    path: &partial,
                    index,
                    count,
                    parts,
                };
                let size = job.write(&mut source, entries)?;
                if size > self.max_volume_size {
                    return Err(Error::other(format!(
                        "internal error: volume {index} came out at {size} bytes, over the limit of {}",
                        self.max_volume_size
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
        Ok(hashes
            .iter()
            .zip(&sizes)
            .enumerate()
            .map(|(i, (h, size))| VolumeInfo {
                name: names::volume_name(self.name, i as u32 + 1),
                size: *size,
                sha256: Sha256Hex(*h),
            })
            .collect())
    }
}

fn join_hash(h: ScopedJoinHandle<'_, Result<[u8; 32]>>) -> Result<[u8; 32]> {
    h.join()
        .map_err(|_| Error::other("internal error: the hashing thread panicked"))?
}

fn hash_file(path: &Path) -> Result<[u8; 32]> {
    let mut f = File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let (_, h) = crate::hash::copy_sha256(&mut f, &mut io::sink())
        .map_err(|e| Error::io(path, "read", e))?;
    Ok(h)
}

/// The content file being copied: kept open across volumes when it is cut into pieces, with
/// the hash of the whole file so far.
#[derive(Default)]
struct Source {
    current: Option<(usize, File, Sha256)>,
}

struct VolumeJob<'a> {
    v: &'a Volumes<'a>,
    path: &'a Path,
    index: u32,
    count: u32,
    parts: &'a [Part],
}

type Out = ZipOut<BufWriter<File>>;

impl VolumeJob<'_> {
    fn io_err(&self, e: io::Error) -> Error {
        Error::io(self.path, "write", e)
    }

    /// Writes the volume under its `.partial` name, synced to disk; returns its size.
    fn write(&self, source: &mut Source, entries: &mut Vec<EntryInfo>) -> Result<u64> {
        let file = File::create(self.path).map_err(|e| self.io_err(e))?;
        let mut zo = ZipOut::new(BufWriter::with_capacity(1 << 20, file), self.v.time);
        let header = volume_header(self.v.bundle_id, self.v.sequence, self.index, self.count);
        zo.add_raw(
            HEADER_ENTRY,
            METHOD_STORED,
            header.len() as u64,
            zipfmt::crc32(&header),
            &header,
        )
        .map_err(|e| self.io_err(e))?;
        if self.index == 1 {
            let md = self.v.metadata;
            zo.add_raw(METADATA_ENTRY, METHOD_DEFLATED, md.size, md.crc, &md.stored)
                .map_err(|e| self.io_err(e))?;
            self.v.progress.advance(md.size);
        }
        let mut buf = vec![0u8; 256 * 1024];
        for part in self.parts {
            entries.push(self.write_part(&mut zo, part, source, &mut buf)?);
        }
        let (w, size) = zo.finish().map_err(|e| self.io_err(e))?;
        let file = w.into_inner().map_err(|e| self.io_err(e.into_error()))?;
        file.sync_all().map_err(|e| self.io_err(e))?;
        Ok(size)
    }

    /// Copies one part of a content file into a stored entry; returns the entry as listed.
    fn write_part(
        &self,
        zo: &mut Out,
        part: &Part,
        source: &mut Source,
        buf: &mut [u8],
    ) -> Result<EntryInfo> {
        let f = self.v.files[part.file];
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
        zo.begin_stored(&entry_name, part.len)
            .map_err(|e| self.io_err(e))?;
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
            zo.write_data(&buf[..n]).map_err(|e| self.io_err(e))?;
            self.v.progress.advance(n as u64);
            left -= n as u64;
            if self.v.progress.cancelled() {
                // The caller's cleanup removes every file of this bundle written so far.
                return Err(Error::interrupted(
                    "the bundle write",
                    "its partial files are removed",
                ));
            }
        }
        zo.end_entry().map_err(|e| self.io_err(e))?;
        let piece_digest: [u8; 32] = piece_sha.finalize().into();
        if part.offset + part.len == f.size {
            let (_, src, whole) = source.current.take().expect("the current file");
            let digest = match part.piece {
                Some(_) => whole.finalize().into(),
                None => piece_digest,
            };
            check_source_end(f, src, digest)?;
        }
        Ok(EntryInfo {
            path: entry_name,
            size: part.len,
            sha256: Sha256Hex(piece_digest),
            volume: self.index,
            file: part.piece.map(|_| Sha256Hex(f.sha256)),
            offset: part.piece.map(|_| part.offset),
        })
    }
}

/// A content file copied to its announced size: it must end there and hash to its name.
fn check_source_end(f: &ContentFile, mut src: File, digest: [u8; 32]) -> Result<()> {
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
        .with_hint(
            "the store's copy of this file is damaged; check the store and take the file in again",
        ));
    }
    Ok(())
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
