//! One read of a volume: its end records and central directory first (small, read from the
//! end of the file), then the whole volume once from its first byte to its last, feeding the
//! volume's SHA-256 and, on the way, each entry's checks (and whatever the caller does with
//! an entry's bytes). The volume's SHA-256 is only known at its end, so everything found on
//! the way is kept aside until the caller has compared it with the manifest.
//!
//! The ZIP code therefore sees bytes before they are vouched for. It must be safe on hostile
//! bytes anyway (whoever writes the manifest can make any volume "match"); only what it
//! reports waits for the volume's hash.

use super::manifest::{Layout, Manifest};
use super::pipeline::Sha256Behind;
use super::volume::{self, Admission, MAX_ENTRIES_PER_VOLUME, ScannedEntry, VolumeScan};
use super::zipfmt;
use crate::error::Result;
use crate::progress::Progress;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

const BUF: usize = 256 * 1024;
/// Blocks of the volume's SHA-256 on its way to the hashing thread (of
/// [`super::pipeline::CHUNK`] bytes each): a few MiB, enough to keep both threads busy.
const HASH_BLOCKS: usize = 4;

/// Bytes read from the media (volume files), by every reader of one command.
#[derive(Debug, Default)]
pub struct MediaCount(AtomicU64);

impl MediaCount {
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A volume file read only forward: every byte passed, read or skipped, goes into the
/// volume's SHA-256, computed on a thread of its own (the caller's thread checks the entries). A seek backwards is refused (and remembered): the caller then falls back
/// to reading the volume twice.
pub(crate) struct Forward<'a> {
    file: File,
    /// Where the next read starts for the caller (beyond `hashed` only past the file's end).
    pos: u64,
    /// Bytes read from the file and hashed.
    hashed: u64,
    sha: Sha256Behind,
    went_back: bool,
    /// The first read error, as the volume hash would report it.
    pub error: Option<io::Error>,
    count: &'a MediaCount,
    progress: &'a dyn Progress,
}

impl<'a> Forward<'a> {
    pub fn new(file: File, count: &'a MediaCount, progress: &'a dyn Progress) -> Forward<'a> {
        Forward {
            file,
            pos: 0,
            hashed: 0,
            sha: Sha256Behind::new(HASH_BLOCKS),
            went_back: false,
            error: None,
            count,
            progress,
        }
    }

    /// Reads from the file at `hashed`, hashing; 0 at its end.
    fn pull(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.error {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        if self.progress.cancelled() {
            return Err(io::Error::other("stopped by a signal"));
        }
        loop {
            match self.file.read(buf) {
                Ok(n) => {
                    self.sha.update(&buf[..n]);
                    self.hashed += n as u64;
                    self.count.add(n as u64);
                    self.progress.advance(n as u64);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let shown = io::Error::new(e.kind(), e.to_string());
                    self.error = Some(e);
                    return Err(shown);
                }
            }
        }
    }

    /// Reads and hashes up to `to` (or the file's end).
    fn skip_to(&mut self, to: u64) -> io::Result<()> {
        let mut buf = vec![0u8; BUF];
        while self.hashed < to {
            let want = (to - self.hashed).min(BUF as u64) as usize;
            if self.pull(&mut buf[..want])? == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Reads the rest of the file; returns (bytes hashed, SHA-256), or the read error.
    pub fn finish(mut self) -> std::result::Result<(u64, [u8; 32]), io::Error> {
        self.skip_to(u64::MAX)?;
        Ok((self.hashed, self.sha.finalize()))
    }
}

impl Read for Forward<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.went_back {
            return Err(io::Error::other("the volume is not read in order"));
        }
        if self.pos > self.hashed {
            return Ok(0);
        }
        let n = self.pull(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Forward<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(t) => Some(t),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(_) => None,
        };
        let Some(target) = target.filter(|&t| t >= self.hashed || t == self.pos) else {
            self.went_back = true;
            return Err(io::Error::other("the volume is not read in order"));
        };
        self.skip_to(target)?;
        self.pos = target;
        Ok(target)
    }
}

/// A volume file read where its structure is (the end records and the central directory),
/// counted.
pub(crate) struct Counted<'a> {
    pub file: File,
    pub count: &'a MediaCount,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.count.add(n as u64);
        Ok(n)
    }
}

impl Seek for Counted<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.file.seek(to)
    }
}

/// What one pass over a volume came to.
pub(crate) enum Pass {
    /// The volume's bytes were read once. `hash` is its length and SHA-256 (or the read
    /// error): compare it with the manifest before using anything else.
    Read {
        hash: std::result::Result<(u64, [u8; 32]), io::Error>,
        scan: VolumeScan,
    },
    /// The structure asks to read the volume out of order (entries overlapping or listed
    /// out of place): nothing found on the way counts; read it the slow way.
    OutOfOrder,
}

/// Reads volume `vol` at `path` once (see the module's description), handing each entry that
/// passed the structural checks to `entry` as soon as its local header was read, positioned
/// nowhere in particular (`entry` seeks to the entry's data, which lies ahead).
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_volume(
    path: &Path,
    len: u64,
    m: &Manifest,
    layout: &Layout,
    vol: u32,
    count: &MediaCount,
    progress: &dyn Progress,
    entry: &mut dyn FnMut(&mut Forward<'_>, &ScannedEntry),
) -> Result<Pass> {
    let vname = m.volumes[vol as usize - 1].name.clone();
    let open = || super::verify::open_media(path);
    let mut tail = Counted {
        file: open()?,
        count,
    };
    let mut f = Forward::new(open()?, count, progress);
    let mut scan = VolumeScan::default();
    let structure = zipfmt::read_directory(&mut tail, len, &vname, MAX_ENTRIES_PER_VOLUME)
        .and_then(|dir| Ok((dir, zipfmt::read_central(&mut tail, &dir, &vname)?)));
    drop(tail);
    let (dir, central) = match structure {
        Ok(x) => x,
        Err(e) => {
            scan.findings.push(e);
            return Ok(Pass::Read {
                hash: f.finish(),
                scan,
            });
        }
    };
    let mut first_local = None;
    let foreign = volume::check_first_entry(
        &mut f,
        &central,
        m,
        vol,
        &vname,
        &mut scan.findings,
        &mut first_local,
    );
    if foreign {
        scan.foreign = true;
    } else {
        let admit = Admission {
            m,
            layout,
            vol,
            volume_len: len,
            directory_offset: dir.offset,
            seen: HashSet::with_capacity(central.len()),
            present: Vec::new(),
        };
        volume::walk_entries(
            &mut f,
            &central,
            admit,
            first_local,
            &vname,
            &mut scan,
            &|f| f.went_back,
            entry,
        );
    }
    if f.went_back {
        return Ok(Pass::OutOfOrder);
    }
    Ok(Pass::Read {
        hash: f.finish(),
        scan,
    })
}

/// What a checking pass does with the bytes it checks, beyond checking them: `verify` keeps
/// nothing; `import` copies the content files its store lacks into staging and takes the
/// metadata records. Whatever the target received stands only once the whole bundle passed
/// every check (the caller decides; a target must be able to throw it all away).
pub trait PassTarget {
    /// Where the records of metadata.bin go, as they are decoded and checked.
    fn records(&mut self) -> &mut dyn super::records::RecordSink;
    /// A content entry is about to be read: the whole file `file` (of `size` bytes), or its
    /// piece starting at `offset`. Whether its bytes are wanted (then handed to
    /// [`PassTarget::content_bytes`]).
    fn begin_content(&mut self, file: &[u8; 32], offset: u64, size: u64) -> bool;
    /// Bytes of the entry begun, in order, not yet checked.
    fn content_bytes(&mut self, buf: &[u8]);
    /// The entry begun was read to its end: `ok` when every check of it passed.
    fn end_content(&mut self, ok: bool);
}

/// The target of a plain verify: keeps nothing.
pub struct CheckOnly(pub super::records::Discard);

impl PassTarget for CheckOnly {
    fn records(&mut self) -> &mut dyn super::records::RecordSink {
        &mut self.0
    }
    fn begin_content(&mut self, _: &[u8; 32], _: u64, _: u64) -> bool {
        false
    }
    fn content_bytes(&mut self, _: &[u8]) {}
    fn end_content(&mut self, _: bool) {}
}
