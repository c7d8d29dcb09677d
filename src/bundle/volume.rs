//! One volume: its header entry, the structural checks against the manifest, and reading an
//! entry to its end while checking its CRC, size and SHA-256.
//!
//! Shared by `verify` (which collects every finding) and the reader (which stops at the first),
//! so both apply exactly the same rules.

use super::manifest::{EntryInfo, Layout, Manifest};
use super::names::{self, EntryName, HEADER_ENTRY};
use super::verify::Finding;
use super::zipfmt::{self, CentralEntry, Crc32, LocalHeaderError, METHOD_DEFLATED, METHOD_STORED};
use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Most entries a volume may hold, checked before its central directory is read.
pub const MAX_ENTRIES_PER_VOLUME: u64 = 100_000;
/// Largest header entry accepted.
pub const MAX_HEADER_BYTES: u64 = 4096;
/// Highest ratio of inflated to compressed size accepted for a deflated entry (deflate cannot
/// exceed about 1032:1; anything above is a lie or a bomb).
const MAX_DEFLATE_RATIO: u64 = 1032;
const BUF: usize = 256 * 1024;

/// The small JSON entry that opens each volume, so that a lone volume can be identified.
/// Unknown fields are refused: the header is part of the subset, and a field this reader
/// ignores is one another reader might act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeHeader {
    pub format_version: u32,
    pub bundle_id: String,
    pub sequence: u64,
    /// Index of this volume, from 1.
    pub volume: u32,
    pub volume_count: u32,
}

impl VolumeHeader {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a volume header always serialises")
    }
}

/// Reads the header of a volume file without trusting anything else in it: only the first
/// local header and at most [`MAX_HEADER_BYTES`] of data are read. Tells a volume of another
/// bundle from a damaged one.
pub(crate) fn identify_volume(path: &Path) -> Result<VolumeHeader> {
    let mut f = super::verify::open_media(path)?;
    read_header_at_start(&mut f)
        .map_err(|m| Error::new(ErrorKind::Corrupt, format!("{}: {m}", path.display())))
}

fn read_header_at_start(f: &mut File) -> std::result::Result<VolumeHeader, String> {
    let h = match zipfmt::read_local_header(f) {
        Ok(h) => h,
        Err(LocalHeaderError::Read(e)) => return Err(format!("cannot read a volume header: {e}")),
        Err(LocalHeaderError::Signature) => return Err("not a ZIP file".into()),
    };
    let size = u64::from(h.size32);
    if h.name != HEADER_ENTRY.as_bytes()
        || h.method != METHOD_STORED
        || h.flags & HEADER_FORBIDDEN_FLAGS != 0
        || h.compressed32 != h.size32
        || size > MAX_HEADER_BYTES
    {
        return Err(format!("does not start with a {HEADER_ENTRY} entry"));
    }
    let mut data = vec![0u8; size as usize];
    f.read_exact(&mut data)
        .map_err(|e| format!("cannot read a volume header: {e}"))?;
    parse_header(&data, h.crc32).map_err(|m| format!("{HEADER_ENTRY} {m}"))
}

/// General-purpose flags the header entry must not carry: encrypted (0x01), a data
/// descriptor (0x08), strong encryption (0x40). One mask for both readers of the header.
const HEADER_FORBIDDEN_FLAGS: u16 = 0x0049;

/// The header entry's stored bytes, checked against their CRC, as a [`VolumeHeader`]; the
/// error completes "<entry> ...".
fn parse_header(data: &[u8], crc32: u32) -> std::result::Result<VolumeHeader, String> {
    if zipfmt::crc32(data) != crc32 {
        return Err("fails its CRC check".into());
    }
    serde_json::from_slice(data).map_err(|e| format!("cannot be read: {e}"))
}

/// An entry that passed every structural check and may be read.
#[derive(Clone, Debug)]
pub(crate) struct ScannedEntry {
    pub entry: CentralEntry,
    pub data_offset: u64,
    /// Index into `Manifest::entries`.
    pub index: usize,
}

/// What the structural scan of one volume found.
#[derive(Debug, Default)]
pub(crate) struct VolumeScan {
    /// Entries that may be read, in directory (= file) order.
    pub entries: Vec<ScannedEntry>,
    pub findings: Vec<Finding>,
    /// Manifest entries (indices) found in this volume, where the manifest puts them, whether
    /// or not they passed the checks.
    pub present: Vec<usize>,
    /// The volume turned out to belong to another bundle (or to be another volume): its
    /// entries were not examined further.
    pub foreign: bool,
}

/// Checks a volume's ZIP structure against the manifest. `f` must already have passed the
/// size and SHA-256 comparison with the manifest, so the bytes parsed here are vouched for.
pub(crate) fn scan_volume<R: Read + Seek>(
    f: &mut R,
    len: u64,
    m: &Manifest,
    layout: &Layout,
    vol: u32,
) -> VolumeScan {
    let vname = m.volumes[vol as usize - 1].name.clone();
    let mut scan = VolumeScan::default();
    let structure = zipfmt::read_directory(f, len, &vname, MAX_ENTRIES_PER_VOLUME)
        .and_then(|dir| Ok((dir, zipfmt::read_central(f, &dir, &vname)?)));
    let (dir, central) = match structure {
        Ok(x) => x,
        Err(e) => {
            scan.findings.push(e);
            return scan;
        }
    };
    // The header entry's local header, read once: the loop below needs it again.
    let mut first_local = None;
    if check_first_entry(
        f,
        &central,
        m,
        vol,
        &vname,
        &mut scan.findings,
        &mut first_local,
    ) {
        scan.foreign = true;
        return scan;
    }
    let admit = Admission {
        m,
        layout,
        vol,
        volume_len: len,
        directory_offset: dir.offset,
        seen: HashSet::with_capacity(central.len()),
        present: Vec::new(),
    };
    walk_entries(
        f,
        &central,
        admit,
        first_local,
        &vname,
        &mut scan,
        &|_| false,
        &mut |_, _| {},
    );
    scan
}

/// The entries in directory order, each local header read where the reading stands, the
/// admitted ones handed to `entry` (with the reader standing at their data) and kept in
/// `scan`. `stopped` is asked after each read: a reader that can only go forward says there
/// that it was asked to go back, and the walk ends (the caller falls back to reading the
/// volume in two passes).
#[allow(clippy::too_many_arguments)]
pub(super) fn walk_entries<'a, R: Read + Seek>(
    f: &mut R,
    central: &'a [CentralEntry],
    mut admit: Admission<'a>,
    mut first_local: Option<std::result::Result<u64, Finding>>,
    vname: &str,
    scan: &mut VolumeScan,
    stopped: &dyn Fn(&R) -> bool,
    entry: &mut dyn FnMut(&mut R, &ScannedEntry),
) {
    let directory_offset = admit.directory_offset;
    let mut next_offset = Some(0u64);
    for (i, e) in central.iter().enumerate() {
        // A name that is not one of the format's forms may hold anything: show it escaped.
        let parsed = names::parse_entry_name(&e.name);
        let subject = match &parsed {
            Ok(n) => format!("{vname}: {}", n.render()),
            Err(_) => format!("{vname}: {}", names::show_name(&e.name)),
        };
        // Placement: entries back to back from offset 0; read the local header of every
        // entry, even one refused below, to find where the next one must start.
        let local = match first_local.take().filter(|_| i == 0) {
            Some(known) => known,
            None => zipfmt::read_local(f, e, &subject),
        };
        if stopped(f) {
            return;
        }
        let data_offset = match local {
            Ok(d) => Some(d),
            Err(finding) => {
                scan.findings.push(finding);
                None
            }
        };
        if let Some(finding) = next_offset.and_then(|want| placement_problem(want, e, &subject)) {
            scan.findings.push(finding);
        }
        next_offset = data_offset.and_then(|d| d.checked_add(e.compressed));
        match admit.entry(i, e, parsed, data_offset, &subject) {
            Ok(Some(se)) => {
                entry(f, &se);
                if stopped(f) {
                    return;
                }
                scan.entries.push(se);
            }
            Ok(None) => {}
            Err(finding) => scan.findings.push(finding),
        }
    }
    if let Some(end) = next_offset
        && end != directory_offset
    {
        let (kind, msg) = if end > directory_offset {
            (
                ErrorKind::UnsafeEntry,
                "the last entry overlaps the central directory".to_string(),
            )
        } else {
            (
                ErrorKind::Corrupt,
                format!(
                    "{} unexplained bytes before the central directory",
                    directory_offset - end
                ),
            )
        };
        scan.findings.push(Finding::new(kind, vname, msg));
    }
    scan.present = admit.present;
}

/// The header first: a volume of another bundle is reported as such, not as a list of
/// entries the manifest does not know. True when the volume is foreign (nothing more to
/// examine).
pub(super) fn check_first_entry<R: Read + Seek>(
    f: &mut R,
    central: &[CentralEntry],
    m: &Manifest,
    vol: u32,
    vname: &str,
    findings: &mut Vec<Finding>,
    local: &mut Option<std::result::Result<u64, Finding>>,
) -> bool {
    match central.first() {
        Some(e) if e.name == HEADER_ENTRY.as_bytes() => {
            if let Err(finding) = check_header_entry(f, e, m, vol, vname, local) {
                let foreign = finding.kind == ErrorKind::Incomplete;
                findings.push(finding);
                return foreign;
            }
        }
        _ => findings.push(Finding::new(
            ErrorKind::Corrupt,
            vname,
            format!("the volume does not start with its {HEADER_ENTRY} entry"),
        )),
    }
    false
}

/// An entry that does not start where the one before it ended (`want`).
pub(super) fn placement_problem(want: u64, e: &CentralEntry, subject: &str) -> Option<Finding> {
    if e.header_offset < want {
        Some(Finding::new(
            ErrorKind::UnsafeEntry,
            subject,
            format!(
                "entry at offset {} overlaps the entry before it",
                e.header_offset
            ),
        ))
    } else if e.header_offset > want {
        Some(Finding::new(
            ErrorKind::Corrupt,
            subject,
            format!(
                "{} unexplained bytes before this entry",
                e.header_offset - want
            ),
        ))
    } else {
        None
    }
}

/// What decides whether an entry of one volume may be read.
pub(super) struct Admission<'a> {
    pub m: &'a Manifest,
    pub layout: &'a Layout,
    pub vol: u32,
    pub volume_len: u64,
    /// Where the central directory starts: entry data must end before it.
    pub directory_offset: u64,
    /// Names met so far.
    pub seen: HashSet<&'a [u8]>,
    /// Manifest entries (indices) met where the manifest puts them, readable or not.
    pub present: Vec<usize>,
}

impl<'a> Admission<'a> {
    /// Checks entry `i` of the volume against the manifest: `Ok(Some)` when it may be read,
    /// `Ok(None)` for the volume header (or when its local header failed), or the first
    /// problem.
    pub(super) fn entry(
        &mut self,
        i: usize,
        e: &'a CentralEntry,
        parsed: std::result::Result<EntryName, String>,
        data_offset: Option<u64>,
        subject: &str,
    ) -> std::result::Result<Option<ScannedEntry>, Finding> {
        let unsafe_ = |msg: String| Finding::new(ErrorKind::UnsafeEntry, subject, msg);
        let shown = || names::show_name(&e.name);
        let name = parsed.map_err(unsafe_)?;
        if !self.seen.insert(&e.name) {
            return Err(unsafe_(format!("{} appears twice in the volume", shown())));
        }
        match name {
            EntryName::Header if i != 0 => {
                return Err(unsafe_(format!("a second {HEADER_ENTRY} entry")));
            }
            EntryName::Header => return Ok(None),
            _ => {}
        }
        let Some(&index) = self
            .layout
            .by_path
            .get(std::str::from_utf8(&e.name).unwrap_or_default())
        else {
            return Err(unsafe_(format!(
                "{} is not listed in the manifest",
                shown()
            )));
        };
        let listed = &self.m.entries[index];
        if listed.volume != self.vol {
            return Err(unsafe_(format!(
                "the manifest lists it in volume {}, not in volume {}",
                listed.volume, self.vol
            )));
        }
        self.present.push(index);
        if let Some(problem) = entry_kind_problem(e) {
            return Err(unsafe_(problem));
        }
        if let Some(problem) = method_problem(&name, e) {
            return Err(Finding::new(ErrorKind::Corrupt, subject, problem));
        }
        if let Some(finding) = size_problem(e, listed, self.volume_len, subject) {
            return Err(finding);
        }
        let Some(data_offset) = data_offset else {
            return Ok(None);
        };
        if data_offset
            .checked_add(e.compressed)
            .is_none_or(|end| end > self.directory_offset)
        {
            return Err(Finding::new(
                ErrorKind::Corrupt,
                subject,
                "entry data runs into the central directory".into(),
            ));
        }
        Ok(Some(ScannedEntry {
            entry: e.clone(),
            data_offset,
            index,
        }))
    }
}

/// Encryption, streaming, odd methods, links and folders: things the format never writes and
/// a reader must not have to interpret.
fn entry_kind_problem(e: &CentralEntry) -> Option<String> {
    if e.flags & 0x0001 != 0 || e.flags & 0x0040 != 0 || e.flags & 0x2000 != 0 || e.method == 99 {
        return Some("encrypted entry".into());
    }
    if e.flags & 0x0008 != 0 {
        return Some("streamed entry of unknown size (data descriptor)".into());
    }
    if e.method != METHOD_STORED && e.method != METHOD_DEFLATED {
        return Some(format!(
            "compression method {} (only stored and deflated are allowed)",
            e.method
        ));
    }
    match e.unix_type() {
        Some(0o120_000) => return Some("symbolic link entry".into()),
        Some(0o040_000) => return Some("directory entry".into()),
        Some(t) if t != 0 && t != 0o100_000 => {
            return Some(format!("special file entry (mode {t:o})"));
        }
        _ => {}
    }
    if e.made_by >> 8 == 0 && e.external_attrs & 0x10 != 0 {
        return Some("directory entry".into());
    }
    // Another tool extracting the volume applies what these say: a mode from another system
    // is read another way, and a setuid or executable bit would be kept.
    if e.made_by >> 8 != 3 {
        return Some(format!(
            "made by system {} (bundle volumes are made by Unix, 3)",
            e.made_by >> 8
        ));
    }
    if e.external_attrs != zipfmt::UNIX_FILE_MODE << 16 {
        return Some(format!(
            "file mode {:o} (bundle volumes hold only regular files of mode 100644)",
            e.external_attrs >> 16
        ));
    }
    None
}

/// The method each kind of entry must have: the header and content stored (content is
/// compressed already, and stored entries are what the size budget counts), metadata.bin
/// deflated.
fn method_problem(name: &EntryName, e: &CentralEntry) -> Option<String> {
    let want = match name {
        EntryName::Metadata => METHOD_DEFLATED,
        _ => METHOD_STORED,
    };
    (e.method != want).then(|| {
        let show = |m| {
            if m == METHOD_STORED {
                "stored"
            } else {
                "deflated"
            }
        };
        format!(
            "is {} where the format has it {}",
            show(e.method),
            show(want)
        )
    })
}

/// Declared sizes against the manifest and the caps, before any byte is inflated.
fn size_problem(
    e: &CentralEntry,
    listed: &EntryInfo,
    volume_len: u64,
    subject: &str,
) -> Option<Finding> {
    let f = |kind, msg: String| Some(Finding::new(kind, subject, msg));
    if e.size > super::manifest::MAX_ENTRY_BYTES {
        return f(
            ErrorKind::Limit,
            format!("declares {} bytes, more than the limit", e.size),
        );
    }
    if e.size != listed.size {
        return f(
            ErrorKind::Corrupt,
            format!(
                "declares {} bytes, the manifest says {}",
                e.size, listed.size
            ),
        );
    }
    if e.compressed > volume_len {
        return f(
            ErrorKind::Corrupt,
            format!(
                "declares {} compressed bytes in a volume of {volume_len}",
                e.compressed
            ),
        );
    }
    if e.method == METHOD_STORED && e.compressed != e.size {
        return f(
            ErrorKind::Corrupt,
            format!(
                "stored entry declares {} bytes stored for {} bytes",
                e.compressed, e.size
            ),
        );
    }
    if e.method == METHOD_DEFLATED
        && e.size
            > e.compressed
                .saturating_mul(MAX_DEFLATE_RATIO)
                .saturating_add(1024)
    {
        return f(
            ErrorKind::Limit,
            format!(
                "would inflate {} bytes to {}, beyond what deflate can do",
                e.compressed, e.size
            ),
        );
    }
    None
}

fn check_header_entry<R: Read + Seek>(
    f: &mut R,
    e: &CentralEntry,
    m: &Manifest,
    vol: u32,
    vname: &str,
    local: &mut Option<std::result::Result<u64, Finding>>,
) -> std::result::Result<(), Finding> {
    let subject = format!("{vname}: {HEADER_ENTRY}");
    let corrupt = |msg: String| Finding::new(ErrorKind::Corrupt, &subject, msg);
    if e.method != METHOD_STORED
        || e.flags & HEADER_FORBIDDEN_FLAGS != 0
        || e.size != e.compressed
        || e.size > MAX_HEADER_BYTES
    {
        return Err(corrupt(format!(
            "must be a small stored entry (at most {MAX_HEADER_BYTES} bytes)"
        )));
    }
    if let Some(problem) = entry_kind_problem(e) {
        return Err(Finding::new(ErrorKind::UnsafeEntry, &subject, problem));
    }
    let read = zipfmt::read_local(f, e, &subject);
    *local = Some(read.clone());
    let data_offset = read?;
    let mut data = vec![0u8; e.size as usize];
    f.seek(SeekFrom::Start(data_offset))
        .and_then(|_| f.read_exact(&mut data))
        .map_err(|err| corrupt(format!("cannot be read: {err}")))?;
    let h = parse_header(&data, e.crc32).map_err(corrupt)?;
    compare_header(&h, m, vol).map_err(|(kind, msg)| Finding::new(kind, &subject, msg))
}

fn compare_header(
    h: &VolumeHeader,
    m: &Manifest,
    vol: u32,
) -> std::result::Result<(), (ErrorKind, String)> {
    let count = m.volumes.len() as u32;
    if h.bundle_id != m.bundle_id || h.sequence != m.sequence {
        return Err((
            ErrorKind::Incomplete,
            format!(
                "this is volume {} of another bundle (id {}, sequence {}), not of bundle {} (sequence {})",
                h.volume,
                names::show_name(h.bundle_id.as_bytes()),
                h.sequence,
                m.bundle_id,
                m.sequence
            ),
        ));
    }
    if h.volume != vol || h.volume_count != count {
        return Err((
            ErrorKind::Incomplete,
            format!(
                "this is volume {} of {}, expected volume {vol} of {count}",
                h.volume, h.volume_count
            ),
        ));
    }
    if h.format_version != m.format_version {
        return Err((
            ErrorKind::Corrupt,
            format!(
                "header says format version {}, the manifest {}",
                h.format_version, m.format_version
            ),
        ));
    }
    Ok(())
}

/// For a volume whose bytes differ from the manifest's: a look at its header alone, to tell
/// "a volume of another bundle" (incomplete) from "damaged" (corrupt).
pub(crate) fn foreign_volume(path: &Path, m: &Manifest, vol: u32) -> Option<String> {
    let h = identify_volume(path).ok()?;
    match compare_header(&h, m, vol) {
        Err((ErrorKind::Incomplete, msg)) => Some(msg),
        _ => None,
    }
}

/// Where reading an entry failed: the volume's bytes (corrupt) or the destination (storage).
pub(crate) enum ReadFailure {
    Entry(Finding),
    Sink(io::Error),
}

/// Reads an entry to its end, writing its bytes to `sink`, and checks its CRC, its size and
/// its SHA-256 against the manifest. Reading to the end matters: a partial read would never
/// see a CRC error in the part not read.
pub(crate) fn read_entry<R: Read + Seek>(
    f: &mut R,
    se: &ScannedEntry,
    listed: &EntryInfo,
    subject: &str,
    sink: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> std::result::Result<(), ReadFailure> {
    let mut sink_error = None;
    let mut pump = |r: &mut dyn Read| {
        let mut buf = vec![0u8; BUF];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if let Err(e) = sink.write_all(&buf[..n]) {
                sink_error = Some(e);
                return;
            }
            progress(n as u64);
        }
    };
    let checked = consume_entry(f, se, listed, subject, &mut pump);
    match sink_error {
        Some(e) => Err(ReadFailure::Sink(e)),
        None => checked,
    }
}

/// Reads an entry to its end through `consume`, which reads from the entry's (inflated)
/// bytes as it likes; what it leaves is read here, so that the checks cover every byte. Then
/// checks its CRC, size and SHA-256 against the manifest. The consumer sees bytes before they
/// are checked: it must keep nothing until this returns `Ok`.
pub(crate) fn consume_entry<R: Read + Seek>(
    f: &mut R,
    se: &ScannedEntry,
    listed: &EntryInfo,
    subject: &str,
    consume: &mut dyn FnMut(&mut dyn Read),
) -> std::result::Result<(), ReadFailure> {
    let corrupt = |msg: String| ReadFailure::Entry(Finding::new(ErrorKind::Corrupt, subject, msg));
    f.seek(SeekFrom::Start(se.data_offset))
        .map_err(|e| corrupt(format!("cannot be read: {e}")))?;
    let data = f.take(se.entry.compressed);
    let stored = se.entry.method == METHOD_STORED;
    let mut r = CheckedEntry {
        source: if stored {
            EntrySource::Stored(data)
        } else {
            EntrySource::Deflated(zipfmt::inflate(data))
        },
        // Deflated: one byte more than announced, so that an entry that inflates beyond its
        // size is caught without inflating all of it.
        limit: if stored {
            se.entry.compressed
        } else {
            listed.size.saturating_add(1)
        },
        got: 0,
        crc: Crc32::default(),
        sha: Sha256::new(),
        error: None,
    };
    consume(&mut r);
    io::copy(&mut r, &mut io::sink()).ok();
    if let Some(e) = r.error.take() {
        return Err(corrupt(format!("cannot be read to its end: {e}")));
    }
    let total = r.got;
    match &r.source {
        EntrySource::Stored(_) if total < se.entry.compressed => {
            return Err(corrupt(format!(
                "ends after {total} of {} bytes",
                se.entry.compressed
            )));
        }
        EntrySource::Stored(_) => {}
        EntrySource::Deflated(inflater) => {
            if total > listed.size {
                return Err(corrupt(format!(
                    "inflates to more than its announced {} bytes",
                    listed.size
                )));
            }
            // The deflate stream must fill the compressed size: bytes after its final block
            // are hidden from this reader and could be read by another.
            if inflater.total_in() != se.entry.compressed {
                return Err(corrupt(format!(
                    "its deflate stream ends after {} of its {} compressed bytes",
                    inflater.total_in(),
                    se.entry.compressed
                )));
            }
        }
    }
    if total != listed.size {
        return Err(corrupt(format!(
            "holds {total} bytes, the manifest says {}",
            listed.size
        )));
    }
    if r.crc.value() != se.entry.crc32 {
        return Err(corrupt(format!(
            "CRC-32 is {:08x}, the ZIP directory says {:08x}",
            r.crc.value(),
            se.entry.crc32
        )));
    }
    let digest: [u8; 32] = r.sha.finalize().into();
    if digest != listed.sha256.0 {
        return Err(corrupt(format!(
            "SHA-256 is {}, the manifest says {}",
            hex::encode(digest),
            listed.sha256
        )));
    }
    Ok(())
}

enum EntrySource<R: Read> {
    Stored(io::Take<R>),
    Deflated(flate2::read::DeflateDecoder<io::Take<R>>),
}

/// An entry's bytes as read: counted up to `limit`, fed to its CRC and SHA-256. The first
/// read error is kept (and the entry then reads as ended) so that the checks report it.
struct CheckedEntry<R: Read> {
    source: EntrySource<R>,
    limit: u64,
    got: u64,
    crc: Crc32,
    sha: Sha256,
    error: Option<io::Error>,
}

impl<R: Read> Read for CheckedEntry<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.error.is_some() {
            return Ok(0);
        }
        let want = (self.limit - self.got).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let res = loop {
            let r = match &mut self.source {
                EntrySource::Stored(s) => s.read(&mut buf[..want]),
                EntrySource::Deflated(s) => s.read(&mut buf[..want]),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match res {
            Ok(n) => {
                self.crc.update(&buf[..n]);
                self.sha.update(&buf[..n]);
                self.got += n as u64;
                Ok(n)
            }
            Err(e) => {
                let shown = io::Error::new(e.kind(), e.to_string());
                self.error = Some(e);
                Err(shown)
            }
        }
    }
}
