//! Cabinet (CAB) files as the offline catalog uses them: the directory (folders and members)
//! read by this module, the data decompressed by the `cab` crate, and every member that is
//! wanted read in one sequential pass over its folder.
//!
//! Why not `cab::Cabinet::read_file` for each member: a folder is one compressed stream (MSZIP
//! and LZX blocks depend on the blocks before them), and `read_file` starts again from the
//! folder's first block every time, so reading the thousands of fragments of an inner CAB one
//! by one costs time quadratic in the folder's size. The crate reads a whole folder in one
//! pass only as a single file spanning it, so [`stream_members`] shows the crate a small
//! cabinet header of its own, naming one file that spans the folder up to the last wanted
//! member, in front of the original bytes (whose data blocks it then reads unchanged,
//! checksums included). The directory is parsed here because the crate does not expose
//! where a member starts in its folder.
//!
//! Member names are only ever compared, never used as paths; names that would be unsafe as
//! paths (`..`, absolute, drive letters, control characters) are refused all the same,
//! because a catalog that carries them is not one Microsoft wrote.

use crate::error::{Error, ErrorKind, Result};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

const SIGNATURE: &[u8; 4] = b"MSCF";
const FLAG_PREV_CABINET: u16 = 0x1;
const FLAG_NEXT_CABINET: u16 = 0x2;
const FLAG_RESERVE_PRESENT: u16 = 0x4;
const ATTR_NAME_IS_UTF: u16 = 0x80;
/// `iFolder` values that mean "continued from/to another cabinet of a set".
const IFOLD_CONTINUED: u16 = 0xFFFD;

/// One member (file) of a cabinet.
#[derive(Clone, Debug)]
pub struct Member {
    pub name: String,
    pub size: u32,
    folder: u16,
    offset: u32,
}

#[derive(Clone, Debug)]
struct Folder {
    data_offset: u32,
    blocks: u16,
    compression: u16,
}

/// The directory of a cabinet: its folders and members, checked.
#[derive(Clone, Debug)]
pub struct CabDir {
    /// What the cabinet is, for messages (`wsusscn2.cab`, `package3.cab in wsusscn2.cab`).
    pub part: String,
    pub members: Vec<Member>,
    folders: Vec<Folder>,
    data_reserve: u8,
}

/// A clear error about the catalog's structure, naming the part.
pub fn corrupt(part: &str, what: impl std::fmt::Display) -> Error {
    Error::other(format!("{part}: {what}"))
        .with_hint("the catalog is damaged or not a Microsoft offline scan catalog: download wsusscn2.cab again")
}

/// Turns an I/O error met while reading `part` into an error that names it: the end of
/// the data and undecodable data mean a damaged catalog, anything else is trouble reading
/// the medium.
pub fn read_error(part: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => corrupt(part, "truncated: the data ends early"),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::Other => {
            corrupt(part, format!("damaged CAB data: {e}"))
        }
        _ => Error::new(ErrorKind::Storage, format!("cannot read {part}: {e}")),
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl CabDir {
    /// Reads and checks the directory of the cabinet in `r`, which is `len` bytes long.
    pub fn read<R: Read + Seek + ?Sized>(r: &mut R, len: u64, part: &str) -> Result<CabDir> {
        r.seek(SeekFrom::Start(0))
            .map_err(|e| read_error(part, e))?;
        let mut br = BufReader::with_capacity(64 * 1024, &mut *r);
        let mut head = [0u8; 36];
        read_exact(&mut br, &mut head, part, "the CAB header")?;
        if &head[0..4] != SIGNATURE {
            return Err(corrupt(part, "not a CAB file (no MSCF signature)"));
        }
        let declared = le32(&head, 8) as u64;
        if declared > len {
            return Err(corrupt(
                part,
                format!("truncated: the CAB header says {declared} bytes, there are {len}"),
            ));
        }
        let files_at = le32(&head, 16) as u64;
        let (minor, major) = (head[24], head[25]);
        if major != 1 {
            return Err(corrupt(
                part,
                format!("CAB version {major}.{minor} is not supported (1.x is)"),
            ));
        }
        let n_folders = le16(&head, 26) as usize;
        let n_files = le16(&head, 28) as usize;
        let flags = le16(&head, 30);
        let mut pos = 36u64;
        let (mut folder_reserve, mut data_reserve) = (0usize, 0u8);
        if flags & FLAG_RESERVE_PRESENT != 0 {
            let mut r4 = [0u8; 4];
            read_exact(&mut br, &mut r4, part, "the CAB header")?;
            let header_reserve = le16(&r4, 0) as u64;
            folder_reserve = r4[2] as usize;
            data_reserve = r4[3];
            skip(&mut br, header_reserve, part)?;
            pos += 4 + header_reserve;
        }
        if flags & (FLAG_PREV_CABINET | FLAG_NEXT_CABINET) != 0 {
            return Err(corrupt(
                part,
                "the CAB is one volume of a multi-cabinet set, which the catalog never is",
            ));
        }
        let mut folders = Vec::with_capacity(n_folders);
        let mut entry = vec![0u8; 8 + folder_reserve];
        for _ in 0..n_folders {
            read_exact(&mut br, &mut entry, part, "the CAB folder table")?;
            let f = Folder {
                data_offset: le32(&entry, 0),
                blocks: le16(&entry, 4),
                compression: le16(&entry, 6),
            };
            if f.blocks > 0 && f.data_offset as u64 >= len {
                return Err(corrupt(
                    part,
                    "truncated: a folder's data lies beyond the end of the file",
                ));
            }
            folders.push(f);
            pos += entry.len() as u64;
        }
        if files_at < pos || files_at >= len.max(1) {
            return Err(corrupt(
                part,
                format!("the file table offset {files_at} is outside the CAB"),
            ));
        }
        skip(&mut br, files_at - pos, part)?;
        let mut members = Vec::with_capacity(n_files);
        for _ in 0..n_files {
            members.push(read_member(&mut br, folders.len(), part)?);
        }
        check_unique(&members, part)?;
        Ok(CabDir {
            part: part.to_string(),
            members,
            folders,
            data_reserve,
        })
    }

    /// The index of the member called `name` (ASCII case-insensitive, as on Windows).
    pub fn find(&self, name: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.name.eq_ignore_ascii_case(name))
    }
}

/// One entry of the file table, checked: a safe name, a folder of this cabinet (which has
/// `n_folders`), an extent within a folder's size limit.
fn read_member<R: BufRead>(br: &mut R, n_folders: usize, part: &str) -> Result<Member> {
    let mut fixed = [0u8; 16];
    read_exact(br, &mut fixed, part, "the CAB file table")?;
    let mut raw = Vec::with_capacity(32);
    let n = br
        .read_until(0, &mut raw)
        .map_err(|e| read_error(part, e))?;
    if n == 0 || raw.last() != Some(&0) {
        return Err(corrupt(
            part,
            "truncated: the CAB file table ends inside a name",
        ));
    }
    raw.pop();
    let attrs = le16(&fixed, 14);
    let name = String::from_utf8(raw).map_err(|e| {
        let utf = if attrs & ATTR_NAME_IS_UTF != 0 {
            "UTF-8"
        } else {
            "ASCII"
        };
        Error::new(
            ErrorKind::UnsafeEntry,
            format!(
                "{part}: a member name is not {utf}: {:?}",
                String::from_utf8_lossy(e.as_bytes())
            ),
        )
    })?;
    check_name(&name).map_err(|why| {
        Error::new(
            ErrorKind::UnsafeEntry,
            format!("{part}: unsafe member name '{}': {why}", shown(&name)),
        )
        .with_hint("the catalog was altered; use a wsusscn2.cab downloaded from Microsoft")
    })?;
    let folder = le16(&fixed, 8);
    if folder >= IFOLD_CONTINUED {
        return Err(corrupt(
            part,
            format!("member {name} continues in another cabinet of a set"),
        ));
    }
    if folder as usize >= n_folders {
        return Err(corrupt(
            part,
            format!(
                "member {name} names folder {folder}, the CAB has {}",
                n_folders
            ),
        ));
    }
    let m = Member {
        name,
        size: le32(&fixed, 0),
        folder,
        offset: le32(&fixed, 4),
    };
    if m.offset as u64 + m.size as u64 > u32::MAX as u64 {
        return Err(corrupt(
            part,
            format!("member {} lies beyond the largest folder size", m.name),
        ));
    }
    Ok(m)
}

/// Refuses two members whose names are equal but for ASCII case: the same file on Windows.
fn check_unique(members: &[Member], part: &str) -> Result<()> {
    // Sorted rather than hashed: an inner CAB has tens of thousands of members, and this
    // needs no copies.
    let mut order: Vec<u32> = (0..members.len() as u32).collect();
    let folded = |i: &u32| {
        members[*i as usize]
            .name
            .bytes()
            .map(|b| b.to_ascii_lowercase())
    };
    order.sort_unstable_by(|a, b| folded(a).cmp(folded(b)));
    for w in order.windows(2) {
        if folded(&w[0]).eq(folded(&w[1])) {
            return Err(Error::new(
                ErrorKind::UnsafeEntry,
                format!(
                    "{part}: the member name '{}' appears twice",
                    shown(&members[w[1] as usize].name)
                ),
            ));
        }
    }
    Ok(())
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], part: &str, what: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            corrupt(part, format!("truncated: the file ends inside {what}"))
        }
        _ => read_error(part, e),
    })
}

fn skip<R: Read>(r: &mut R, n: u64, part: &str) -> Result<()> {
    let got = io::copy(&mut r.take(n), &mut io::sink()).map_err(|e| read_error(part, e))?;
    if got < n {
        return Err(corrupt(
            part,
            "truncated: the file ends inside the CAB header",
        ));
    }
    Ok(())
}

/// A name as it can be shown in a message: control characters escaped, nothing else.
pub fn shown(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Why a member name is unsafe, if it is. Names use `\` (sometimes `/`) between parts.
pub fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("control character in the name");
    }
    if name.starts_with(['\\', '/']) {
        return Err("absolute path");
    }
    if name.contains(':') {
        return Err("drive letter or stream name");
    }
    for part in name.split(['\\', '/']) {
        match part {
            "" => return Err("empty path component"),
            "." | ".." => return Err("'.' or '..' path component"),
            _ => {}
        }
    }
    Ok(())
}

/// Reads the members `wanted` (indexes into `dir.members`) and calls `f` with each one's
/// index and a reader of exactly its bytes, folder by folder, in the order of their data.
/// Each folder is decompressed once, up to its last wanted member. `f` need not read the
/// whole member: the rest is read (and so checked) before the next one.
pub fn stream_members<R: Read + Seek + ?Sized>(
    src: &mut R,
    dir: &CabDir,
    wanted: &[usize],
    f: &mut dyn FnMut(usize, &mut dyn Read) -> Result<()>,
) -> Result<()> {
    let part = dir.part.as_str();
    let mut order: Vec<usize> = wanted.to_vec();
    order.sort_unstable_by_key(|&i| (dir.members[i].folder, dir.members[i].offset, i));
    order.dedup();
    for group in order.chunk_by(|&a, &b| dir.members[a].folder == dir.members[b].folder) {
        let folder = &dir.folders[dir.members[group[0]].folder as usize];
        let extent = group
            .iter()
            .map(|&i| dir.members[i].offset as u64 + dir.members[i].size as u64)
            .max()
            .unwrap_or(0);
        let head = synthetic_header(folder, dir.data_reserve, extent as u32);
        let spliced = Spliced {
            head,
            inner: &mut *src,
            pos: 0,
            inner_pos: None,
        };
        let mut cabinet = cab::Cabinet::new(spliced).map_err(|e| read_error(part, e))?;
        let mut data = cabinet.read_file("f").map_err(|e| read_error(part, e))?;
        let mut at = 0u64;
        for &i in group {
            let m = &dir.members[i];
            let start = m.offset as u64;
            if start < at {
                return Err(corrupt(
                    part,
                    format!("member {} overlaps the member before it", m.name),
                ));
            }
            let skipped = io::copy(&mut (&mut data).take(start - at), &mut io::sink())
                .map_err(|e| read_error(part, e))?;
            if skipped < start - at {
                return Err(corrupt(
                    part,
                    format!("truncated: the folder ends before member {}", m.name),
                ));
            }
            let mut member = Counted {
                inner: (&mut data).take(m.size as u64),
                error: None,
            };
            let result = f(i, &mut member);
            if let Some(e) = member.error.take() {
                return Err(read_error(&format!("{part}: {}", m.name), e));
            }
            result?;
            io::copy(&mut member.inner, &mut io::sink())
                .map_err(|e| read_error(&format!("{part}: {}", m.name), e))?;
            if member.inner.limit() > 0 {
                return Err(corrupt(
                    part,
                    format!("truncated: member {} ends early", m.name),
                ));
            }
            at = start + m.size as u64;
        }
    }
    Ok(())
}

/// A member's reader that keeps the first I/O error, so that the caller can tell a damaged
/// CAB (reported as such) from what `f` made of the bytes.
struct Counted<R> {
    inner: io::Take<R>,
    error: Option<io::Error>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                // A member that ends before its declared size is truncated, not short.
                if n == 0 && !buf.is_empty() && self.inner.limit() > 0 {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the folder's data ends early",
                    );
                    self.error
                        .get_or_insert(io::Error::new(e.kind(), e.to_string()));
                    return Err(e);
                }
                Ok(n)
            }
            Err(e) => {
                self.error
                    .get_or_insert(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// A cabinet header with one folder (the original's, its data offset moved by the header's
/// length) and one file `f` spanning the folder from 0 to `extent`.
fn synthetic_header(folder: &Folder, data_reserve: u8, extent: u32) -> Vec<u8> {
    let reserve = data_reserve > 0;
    let folder_at = 36 + if reserve { 4 } else { 0 };
    let files_at = folder_at + 8;
    let total = files_at + 16 + 2;
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(SIGNATURE);
    h.extend_from_slice(&0u32.to_le_bytes());
    // The crate checks only that the total size is below 2 GiB; it never reads up to it.
    h.extend_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&(files_at as u32).to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&[3, 1]);
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&(if reserve { FLAG_RESERVE_PRESENT } else { 0 }).to_le_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    if reserve {
        h.extend_from_slice(&[0, 0, 0, data_reserve]);
    }
    h.extend_from_slice(&(folder.data_offset.saturating_add(total as u32)).to_le_bytes());
    h.extend_from_slice(&folder.blocks.to_le_bytes());
    h.extend_from_slice(&folder.compression.to_le_bytes());
    h.extend_from_slice(&extent.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    // 1980-01-01 00:00:00.
    h.extend_from_slice(&0x21u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(b"f\0");
    debug_assert_eq!(h.len(), total);
    h
}

/// `head` followed by all of `inner`, as one seekable stream.
struct Spliced<'a, R: ?Sized> {
    head: Vec<u8>,
    inner: &'a mut R,
    pos: u64,
    /// Where `inner` is, when known (to save a seek per read).
    inner_pos: Option<u64>,
}

impl<R: Read + Seek + ?Sized> Read for Spliced<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let h = self.head.len() as u64;
        if self.pos < h {
            let from = &self.head[self.pos as usize..];
            let n = from.len().min(buf.len());
            buf[..n].copy_from_slice(&from[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        let want = self.pos - h;
        if self.inner_pos != Some(want) {
            self.inner.seek(SeekFrom::Start(want))?;
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.pos += n as u64;
                self.inner_pos = Some(want + n as u64);
                Ok(n)
            }
            Err(e) => {
                self.inner_pos = None;
                Err(e)
            }
        }
    }
}

impl<R: Read + Seek + ?Sized> Seek for Spliced<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => {
                let end = self.head.len() as u64 + self.inner.seek(SeekFrom::End(0))?;
                self.inner_pos = None;
                end.checked_add_signed(d)
            }
        };
        self.pos = new
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    /// The members of one folder: (name, bytes).
    pub type Members<'a> = Vec<(&'a str, Vec<u8>)>;

    /// Writes a cabinet with one folder per entry of `folders`.
    pub fn build(folders: &[(cab::CompressionType, Members<'_>)]) -> Vec<u8> {
        let mut b = cab::CabinetBuilder::new();
        for (ct, files) in folders {
            let f = b.add_folder(*ct);
            for (name, _) in files {
                f.add_file(*name);
            }
        }
        let mut w = b.build(Cursor::new(Vec::new())).unwrap();
        let all: Vec<&Vec<u8>> = folders
            .iter()
            .flat_map(|(_, fs)| fs.iter().map(|(_, d)| d))
            .collect();
        let mut i = 0;
        while let Some(mut fw) = w.next_file().unwrap() {
            fw.write_all(all[i]).unwrap();
            i += 1;
        }
        w.finish().unwrap().into_inner()
    }

    fn read_all(bytes: &[u8], wanted: &[&str]) -> Result<Vec<(String, Vec<u8>)>> {
        let mut c = Cursor::new(bytes);
        let dir = CabDir::read(&mut c, bytes.len() as u64, "t.cab")?;
        let idx: Vec<usize> = wanted.iter().map(|n| dir.find(n).unwrap()).collect();
        let mut out = Vec::new();
        stream_members(&mut c, &dir, &idx, &mut |i, r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).map_err(|e| read_error("x", e))?;
            out.push((dir.members[i].name.clone(), v));
            Ok(())
        })?;
        Ok(out)
    }

    fn data(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) % 64 + b' ')
            .collect()
    }

    #[test]
    fn members_are_read_in_one_pass_per_folder() {
        let big = data(200_000, 1);
        let bytes = build(&[
            (
                cab::CompressionType::MsZip,
                vec![
                    ("a\\1", data(10, 2)),
                    ("b", big.clone()),
                    ("c\\3", data(70_000, 3)),
                    ("empty", vec![]),
                ],
            ),
            (
                cab::CompressionType::None,
                vec![("d", data(40_000, 4)), ("e", data(5, 5))],
            ),
        ]);
        let got = read_all(&bytes, &["e", "c\\3", "B", "empty", "a\\1"]).unwrap();
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a\\1", "b", "c\\3", "empty", "e"]);
        assert_eq!(got[1].1, big);
        assert_eq!(got[2].1, data(70_000, 3));
        assert_eq!(got[4].1, data(5, 5));
        // The same through the crate's own reader, for comparison.
        let mut c = cab::Cabinet::new(Cursor::new(&bytes)).unwrap();
        let mut v = Vec::new();
        c.read_file("c\\3").unwrap().read_to_end(&mut v).unwrap();
        assert_eq!(v, got[2].1);
    }

    #[test]
    fn truncated_and_damaged_cabinets_are_named() {
        let bytes = build(&[(
            cab::CompressionType::MsZip,
            vec![("a", data(100_000, 1)), ("b", data(100, 2))],
        )]);
        for cut in [10, 40, 60, bytes.len() / 2, bytes.len() - 1] {
            let e = read_all(&bytes[..cut], &["b"]).map(|_| ()).unwrap_err();
            assert!(e.message.starts_with("t.cab: truncated"), "cut {cut}: {e}");
        }
        // A flipped bit in the compressed data: the block checksum catches it.
        let mut bad = bytes.clone();
        let n = bad.len();
        bad[n - 40] ^= 0x10;
        let e = read_all(&bad, &["b"]).map(|_| ()).unwrap_err();
        assert!(
            e.message.contains("t.cab") && e.message.contains("damaged"),
            "{e}"
        );
        assert!(
            read_all(b"PK\x03\x04 not a cab at all, no no no no no", &[])
                .unwrap_err()
                .message
                .contains("not a CAB")
        );
    }

    #[test]
    fn unsafe_names_are_refused() {
        for name in [
            "..\\x",
            "a\\..\\..\\x",
            "/etc/x",
            "\\x",
            "C:\\x",
            "a\\\\b",
            ".",
            "a\u{1}b",
        ] {
            assert!(check_name(name).is_err(), "{name}");
            let bytes = build(&[(
                cab::CompressionType::None,
                vec![("ok", vec![1]), (name, vec![2])],
            )]);
            let e =
                CabDir::read(&mut Cursor::new(&bytes), bytes.len() as u64, "t.cab").unwrap_err();
            assert_eq!(e.kind, ErrorKind::UnsafeEntry, "{name}: {e}");
            assert!(e.message.contains("t.cab: unsafe member name"), "{e}");
        }
        for name in ["c\\123", "l\\en\\000123", "package2.cab", "x/9"] {
            assert!(check_name(name).is_ok(), "{name}");
        }
        let bytes = build(&[(
            cab::CompressionType::None,
            vec![("A", vec![1]), ("a", vec![2])],
        )]);
        let e = CabDir::read(&mut Cursor::new(&bytes), bytes.len() as u64, "t.cab").unwrap_err();
        assert!(e.message.contains("appears twice"), "{e}");
    }
}
