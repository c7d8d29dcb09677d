//! Writing the volumes of a plan: each one under its `.partial` name, synced and renamed into
//! place, its SHA-256 computed as it is written, on a second thread (see [`Hashed`]). Content files are re-hashed
//! as they are copied, so a damaged store copy fails the export instead of travelling; each
//! byte of them is read from the store once.

use super::plan::Part;
use super::{Cleanup, ContentFile, EncodedMetadata};
use crate::bundle::manifest::{EntryInfo, FORMAT_VERSION, Sha256Hex, VolumeInfo};
use crate::bundle::names::{self, EntryName, HEADER_ENTRY, METADATA_ENTRY};
use crate::bundle::pipeline::{CHUNK, Sha256Behind};
use crate::bundle::volume::VolumeHeader;
use crate::bundle::zipfmt::{self, DosTime, METHOD_DEFLATED, METHOD_STORED, ZipOut};
use crate::error::{Error, ErrorKind, Result};
use crate::fsutil;
use crate::progress::Progress;
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

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
    pub metadata: &'a EncodedMetadata,
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
    ) -> Result<(Vec<VolumeInfo>, Reads)> {
        let count = layout.len() as u32;
        let mut source = Source::default();
        let mut volumes = Vec::with_capacity(layout.len());
        let mut reads = Reads::default();
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
            let (size, sha256) = job.write(&mut source, entries, &mut reads)?;
            if size > self.max_volume_size {
                return Err(Error::other(format!(
                    "internal error: volume {index} came out at {size} bytes, over the limit of {}",
                    self.max_volume_size
                )));
            }
            fs::rename(&partial, &final_path)
                .map_err(|e| Error::io(&final_path, "rename into place", e))?;
            volumes.push(VolumeInfo {
                name: names::volume_name(self.name, index),
                size,
                sha256: Sha256Hex(sha256),
            });
        }
        reads.content = source.read;
        Ok((volumes, reads))
    }
}

/// What writing the volumes read: content from the store, and volume bytes read back to
/// hash them (entries larger than [`HOLD_BYTES`]).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Reads {
    pub content: u64,
    pub read_back: u64,
}

/// Bytes of a volume held in memory until they are final: a content entry's local header gets
/// its CRC only once the entry's data is written, and the volume's SHA-256 must see the final
/// header before the data. An entry larger than this is read back from the written file
/// (from the page cache, normally) when its header is final.
const HOLD_BYTES: usize = 64 << 20;

/// The volume file being written, hashed on the way: bytes are hashed once final (see
/// [`Hashed::settle`]), from memory up to [`HOLD_BYTES`], beyond that read back. The hashing
/// runs on a thread of its own (the writing thread reads the store and hashes each content
/// file): what is settled is handed over in blocks, which come back for reuse.
struct Hashed {
    w: BufWriter<File>,
    path: std::path::PathBuf,
    sha: Sha256Behind,
    /// Bytes [0, hashed) are final and hashed.
    hashed: u64,
    /// Bytes [hashed, hashed + held_len) as written (and patched) so far, in blocks of
    /// [`CHUNK`] bytes (the last one maybe less).
    held: Vec<Vec<u8>>,
    held_len: u64,
    /// Bytes written beyond what `held` holds (read back when settled).
    spilled: bool,
    /// Where the next write goes, and the file's length.
    pos: u64,
    end: u64,
    /// Most bytes held ([`HOLD_BYTES`]; less in tests, to read back).
    hold: usize,
    read_back: u64,
}

impl Hashed {
    fn new(file: File, path: &Path) -> Hashed {
        Hashed {
            w: BufWriter::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            // Room for a whole held entry and a few blocks on their way: the writer waits for
            // the hashing thread only when it falls that far behind.
            sha: Sha256Behind::new(HOLD_BYTES / CHUNK + 4),
            hashed: 0,
            held: Vec::new(),
            held_len: 0,
            spilled: false,
            pos: 0,
            end: 0,
            hold: HOLD_BYTES,
            read_back: 0,
        }
    }

    /// Everything written so far is final: hash it.
    fn settle(&mut self) -> io::Result<()> {
        for block in self.held.drain(..) {
            self.sha.send(block);
        }
        let from = self.hashed + self.held_len;
        self.held_len = 0;
        if self.spilled {
            self.w.flush()?;
            let mut f = File::open(&self.path)?;
            f.seek(SeekFrom::Start(from))?;
            let mut rest = f.take(self.end - from);
            loop {
                let mut block = self.sha.block();
                block.resize(CHUNK, 0);
                let n = rest.read(&mut block)?;
                block.truncate(n);
                if n == 0 {
                    self.sha.give_back(block);
                    break;
                }
                self.sha.send(block);
                self.read_back += n as u64;
            }
            self.spilled = false;
        }
        self.hashed = self.end;
        Ok(())
    }

    /// Appends written bytes to what is held.
    fn hold_more(&mut self, mut bytes: &[u8]) {
        self.held_len += bytes.len() as u64;
        while !bytes.is_empty() {
            if self.held.last().is_none_or(|b| b.len() == CHUNK) {
                let block = self.sha.block();
                self.held.push(block);
            }
            let last = self.held.last_mut().expect("a held block");
            let (now, rest) = bytes.split_at((CHUNK - last.len()).min(bytes.len()));
            last.extend_from_slice(now);
            bytes = rest;
        }
    }

    /// Rewrites held bytes from offset `at` of what is held.
    fn patch_held(&mut self, mut at: usize, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let block = &mut self.held[at / CHUNK];
            let start = at % CHUNK;
            let n = (CHUNK - start).min(bytes.len());
            block[start..start + n].copy_from_slice(&bytes[..n]);
            at += n;
            bytes = &bytes[n..];
        }
    }

    /// Settles and returns the file, the volume's SHA-256 and the bytes read back.
    fn finish(mut self) -> io::Result<(File, [u8; 32], u64)> {
        self.settle()?;
        let file = self.w.into_inner().map_err(|e| e.into_error())?;
        Ok((file, self.sha.finalize(), self.read_back))
    }
}

impl io::Write for Hashed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        let written = &buf[..n];
        let held_end = self.hashed + self.held_len;
        if self.pos == self.end {
            if !self.spilled && self.held_len + n as u64 <= self.hold as u64 {
                self.hold_more(written);
            } else {
                self.spilled = true;
            }
            self.end += n as u64;
        } else if self.pos >= self.hashed && self.pos + n as u64 <= held_end {
            // A patch of what is held (a patch beyond it is read back from the file).
            self.patch_held((self.pos - self.hashed) as usize, written);
        } else if self.pos < self.hashed {
            return Err(io::Error::other(
                "internal error: a settled volume byte rewritten",
            ));
        }
        self.pos += n as u64;
        self.end = self.end.max(self.pos);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl Seek for Hashed {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = self.w.seek(to)?;
        Ok(self.pos)
    }
}

/// The content file being copied: kept open across volumes when it is cut into pieces, with
/// the hash of the whole file so far.
#[derive(Default)]
struct Source {
    current: Option<(usize, File, Sha256)>,
    /// Bytes read from content files so far.
    read: u64,
}

struct VolumeJob<'a> {
    v: &'a Volumes<'a>,
    path: &'a Path,
    index: u32,
    count: u32,
    parts: &'a [Part],
}

type Out = ZipOut<Hashed>;

impl VolumeJob<'_> {
    fn io_err(&self, e: io::Error) -> Error {
        Error::io(self.path, "write", e)
    }

    /// Writes the volume under its `.partial` name, synced to disk; returns its size and
    /// SHA-256.
    fn write(
        &self,
        source: &mut Source,
        entries: &mut Vec<EntryInfo>,
        reads: &mut Reads,
    ) -> Result<(u64, [u8; 32])> {
        let file = File::create(self.path).map_err(|e| self.io_err(e))?;
        let mut zo = ZipOut::new(Hashed::new(file, self.path), self.v.time);
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
            let s = &md.summary;
            zo.begin_raw(
                METADATA_ENTRY,
                METHOD_DEFLATED,
                s.bytes,
                s.crc32,
                md.stored_len,
            )
            .map_err(|e| self.io_err(e))?;
            // In blocks, each settled at once: nothing of the metadata is held.
            md.copy_stored(CHUNK, &mut |b| {
                zo.write_data(b)
                    .and_then(|()| zo.get_mut().settle())
                    .map_err(|e| self.io_err(e))
            })?;
            zo.end_entry().map_err(|e| self.io_err(e))?;
            self.v.progress.advance(s.bytes);
        }
        let mut buf = vec![0u8; 256 * 1024];
        for part in self.parts {
            entries.push(self.write_part(&mut zo, part, source, &mut buf)?);
        }
        let (w, size) = zo.finish().map_err(|e| self.io_err(e))?;
        let (file, sha256, read_back) = w.finish().map_err(|e| self.io_err(e))?;
        reads.read_back += read_back;
        file.sync_all().map_err(|e| self.io_err(e))?;
        Ok((size, sha256))
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
            source.read += n as u64;
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
        // The entry's header holds its CRC now: everything written is final.
        zo.get_mut().settle().map_err(|e| self.io_err(e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash computed while writing equals the hash of the file written, whether an
    /// entry was held in memory or read back.
    #[test]
    fn a_volume_hashed_while_written_hashes_as_the_file() {
        for hold in [usize::MAX, 100, 0] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("v.zip");
            let mut h = Hashed::new(File::create(&path).unwrap(), &path);
            h.hold = hold;
            let mut zo = ZipOut::new(h, DosTime::EPOCH);
            zo.add_raw("a", METHOD_STORED, 3, zipfmt::crc32(b"abc"), b"abc")
                .unwrap();
            zo.get_mut().settle().unwrap();
            for (name, len) in [("b", 1000usize), ("c", 50), ("d", 300_000)] {
                let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
                zo.begin_stored(name, len as u64).unwrap();
                zo.write_data(&data).unwrap();
                zo.end_entry().unwrap();
                zo.get_mut().settle().unwrap();
            }
            // Two entries held at once, the second one's header (its CRC, patched last)
            // across the boundary between two held blocks, then one larger than a block.
            let first = CHUNK - 30 - 1 - 16;
            for (name, len) in [("e", first), ("f", 10), ("g", 2 * CHUNK + 3)] {
                let data: Vec<u8> = (0..len).map(|i| (i * 13 % 241) as u8).collect();
                zo.begin_stored(name, len as u64).unwrap();
                zo.write_data(&data).unwrap();
                zo.end_entry().unwrap();
            }
            zo.get_mut().settle().unwrap();
            let (w, _) = zo.finish().unwrap();
            let (_, digest, _) = w.finish().unwrap();
            assert_eq!(
                digest,
                crate::hash::sha256(&fs::read(&path).unwrap()),
                "hold {hold}"
            );
        }
    }
}
