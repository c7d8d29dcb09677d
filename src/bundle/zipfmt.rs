//! The ZIP subset the bundle format uses, written and checked by hand.
//!
//! Writing by hand gives what the format needs and a general ZIP library does not promise:
//! byte-identical output for identical input (no timestamps of now, no extra fields, fixed
//! permissions), an exact bound on the bytes each entry costs (so a volume never exceeds its
//! size limit), and ZIP64 records only where a value does not fit in 32 bits.
//!
//! Reading checks the structure strictly before a byte is inflated: the end records sit at
//! the very end with no comment, the central directory is where they say, every local header
//! agrees with its central record, and entries lie back to back from offset 0 with no gaps
//! and no overlaps. Deflated data is inflated here too, as a raw deflate stream (flate2), so
//! no general ZIP reader ever parses a volume.

use super::verify::Finding;
use crate::error::ErrorKind;
use crate::time::Timestamp;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};

/// Compression methods the format uses.
pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATED: u16 = 8;

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_ZIP64_EOCD: u32 = 0x0606_4b50;
const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;
const ZIP64_EXTRA: u16 = 0x0001;
/// Values at or above this are stored in ZIP64 fields (0xFFFFFFFF itself is the marker).
const U32_MARK: u64 = 0xFFFF_FFFF;
const U16_MARK: u64 = 0xFFFF;
const LOCAL_LEN: u64 = 30;
const CENTRAL_LEN: u64 = 46;
const EOCD_LEN: u64 = 22;
const ZIP64_EOCD_LEN: u64 = 56;
const ZIP64_LOCATOR_LEN: u64 = 20;
/// Made by Unix (3), spec version 2.0 or 4.5 (ZIP64) in the low byte.
const MADE_BY_UNIX: u16 = 3 << 8;
/// Regular file, rw-r--r--.
pub(crate) const UNIX_FILE_MODE: u32 = 0o100_644;

/// Most bytes one entry can cost besides its data: local header with ZIP64 sizes, central
/// header with all three ZIP64 fields.
pub fn entry_overhead_max(name_len: usize) -> u64 {
    let n = name_len as u64;
    (LOCAL_LEN + n + 4 + 16) + (CENTRAL_LEN + n + 4 + 24)
}

/// Most bytes the end records can cost (ZIP64 end record, locator, end record).
pub const END_OVERHEAD_MAX: u64 = ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN + EOCD_LEN;

// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE), as ZIP requires.

/// A running CRC-32 (the ZIP checksum). crc32fast uses the processor's carry-less multiply
/// where there is one: the table-driven version took a fifth of export, verify and import
/// (bench/TRANSFER-RESULTS.md).
#[derive(Clone, Default)]
pub struct Crc32(crc32fast::Hasher);

impl Crc32 {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn value(&self) -> u32 {
        self.0.clone().finalize()
    }
}

/// CRC-32 of a byte slice.
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::default();
    c.update(data);
    c.value()
}

// ---------------------------------------------------------------------------------------------
// Writing

/// A DOS date and time, the only timestamp the format writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DosTime {
    pub time: u16,
    pub date: u16,
}

impl DosTime {
    /// 1980-01-01 00:00:00, the earliest DOS time.
    pub const EPOCH: DosTime = DosTime {
        time: 0,
        date: (1 << 5) | 1,
    };

    /// The DOS time of a timestamp (UTC), seconds rounded down to even; [`DosTime::EPOCH`]
    /// outside 1980..=2107, the years DOS time can hold.
    pub fn from_timestamp(t: Timestamp) -> DosTime {
        let c = t.civil();
        if !(1980..=2107).contains(&c.year) {
            return DosTime::EPOCH;
        }
        // Every field fits its bit width: the year offset in 7 bits, the rest as the calendar
        // bounds them.
        let (year, month, day) = ((c.year - 1980) as u16, c.month as u16, c.day as u16);
        let (hour, minute, second) = (c.hour as u16, c.minute as u16, c.second as u16);
        DosTime {
            time: (hour << 11) | (minute << 5) | (second / 2),
            date: (year << 9) | (month << 5) | day,
        }
    }
}

struct CentralRecord {
    name: Vec<u8>,
    method: u16,
    crc: u32,
    size: u64,
    csize: u64,
    offset: u64,
}

struct OpenEntry {
    header_offset: u64,
    expected: u64,
    written: u64,
    /// The CRC computed as the data comes, patched into the local header at the end; `None`
    /// for a raw entry, whose CRC was given at its start.
    crc: Option<Crc32>,
}

/// Writes one ZIP file entry by entry. Sizes are given before the data, the CRC is patched
/// into the local header afterwards (hence `Seek`), so there are no data descriptors.
pub struct ZipOut<W: Write + Seek> {
    w: W,
    pos: u64,
    time: DosTime,
    central: Vec<CentralRecord>,
    open: Option<OpenEntry>,
}

impl<W: Write + Seek> ZipOut<W> {
    pub fn new(w: W, time: DosTime) -> ZipOut<W> {
        ZipOut {
            w,
            pos: 0,
            time,
            central: Vec::new(),
            open: None,
        }
    }

    /// The writer underneath (to mark what is final, for a writer that hashes as it goes).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.pos += b.len() as u64;
        Ok(())
    }

    fn local_header(
        &mut self,
        name: &[u8],
        method: u16,
        crc: u32,
        size: u64,
        csize: u64,
    ) -> io::Result<()> {
        let zip64 = size >= U32_MARK || csize >= U32_MARK;
        let needs64 = zip64 || self.pos >= U32_MARK;
        let mut h = Vec::with_capacity(LOCAL_LEN as usize + name.len() + 20);
        h.extend_from_slice(&SIG_LOCAL.to_le_bytes());
        h.extend_from_slice(&(if needs64 { 45u16 } else { 20u16 }).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // flags: none
        h.extend_from_slice(&method.to_le_bytes());
        h.extend_from_slice(&self.time.time.to_le_bytes());
        h.extend_from_slice(&self.time.date.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        let (cs, us) = if zip64 {
            (U32_MARK as u32, U32_MARK as u32)
        } else {
            (csize as u32, size as u32)
        };
        h.extend_from_slice(&cs.to_le_bytes());
        h.extend_from_slice(&us.to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&(if zip64 { 20u16 } else { 0u16 }).to_le_bytes());
        h.extend_from_slice(name);
        if zip64 {
            h.extend_from_slice(&ZIP64_EXTRA.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(&size.to_le_bytes());
            h.extend_from_slice(&csize.to_le_bytes());
        }
        self.put(&h)
    }

    /// Adds an entry whose bytes are at hand: `data` as stored in the ZIP (already deflated
    /// when `method` is Deflated), `size` and `crc` of the uncompressed bytes.
    pub fn add_raw(
        &mut self,
        name: &str,
        method: u16,
        size: u64,
        crc: u32,
        data: &[u8],
    ) -> io::Result<()> {
        self.begin_raw(name, method, size, crc, data.len() as u64)?;
        self.write_data(data)?;
        self.end_entry().map(|_| ())
    }

    /// Starts an entry whose stored bytes (`csize` of them, already deflated when `method` is
    /// Deflated) come in pieces through [`ZipOut::write_data`]; `size` and `crc` are those of
    /// the uncompressed bytes, known beforehand. Close with [`ZipOut::end_entry`].
    pub fn begin_raw(
        &mut self,
        name: &str,
        method: u16,
        size: u64,
        crc: u32,
        csize: u64,
    ) -> io::Result<()> {
        assert!(self.open.is_none(), "an entry is still open");
        let header_offset = self.pos;
        self.local_header(name.as_bytes(), method, crc, size, csize)?;
        self.central.push(CentralRecord {
            name: name.as_bytes().to_vec(),
            method,
            crc,
            size,
            csize,
            offset: header_offset,
        });
        self.open = Some(OpenEntry {
            header_offset,
            expected: csize,
            written: 0,
            crc: None,
        });
        Ok(())
    }

    /// Starts a stored entry of exactly `size` bytes; write them with [`ZipOut::write_data`]
    /// and close with [`ZipOut::end_entry`].
    pub fn begin_stored(&mut self, name: &str, size: u64) -> io::Result<()> {
        assert!(self.open.is_none(), "an entry is still open");
        let header_offset = self.pos;
        self.local_header(name.as_bytes(), METHOD_STORED, 0, size, size)?;
        self.central.push(CentralRecord {
            name: name.as_bytes().to_vec(),
            method: METHOD_STORED,
            crc: 0,
            size,
            csize: size,
            offset: header_offset,
        });
        self.open = Some(OpenEntry {
            header_offset,
            expected: size,
            written: 0,
            crc: Some(Crc32::default()),
        });
        Ok(())
    }

    pub fn write_data(&mut self, buf: &[u8]) -> io::Result<()> {
        let e = self.open.as_mut().expect("no entry is open");
        e.written += buf.len() as u64;
        if e.written > e.expected {
            return Err(io::Error::other(
                "more data than the entry's announced size",
            ));
        }
        if let Some(c) = e.crc.as_mut() {
            c.update(buf);
        }
        self.put(buf)
    }

    /// Closes the open entry: checks its length and (unless it was begun raw, with its CRC)
    /// patches its CRC into the local header. Returns the entry's CRC.
    pub fn end_entry(&mut self) -> io::Result<u32> {
        let e = self.open.take().expect("no entry is open");
        if e.written != e.expected {
            return Err(io::Error::other(format!(
                "entry got {} bytes, {} announced",
                e.written, e.expected
            )));
        }
        let record = self.central.last_mut().expect("the open entry's record");
        let Some(computed) = e.crc else {
            return Ok(record.crc);
        };
        let crc = computed.value();
        record.crc = crc;
        self.w.seek(SeekFrom::Start(e.header_offset + 14))?;
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.seek(SeekFrom::Start(self.pos))?;
        Ok(crc)
    }

    /// Writes the central directory and the end records; returns the writer and the size.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        assert!(self.open.is_none(), "an entry is still open");
        let cd_offset = self.pos;
        let records = std::mem::take(&mut self.central);
        for r in &records {
            let mut extra = Vec::new();
            let usize32 = if r.size >= U32_MARK {
                extra.extend_from_slice(&r.size.to_le_bytes());
                U32_MARK as u32
            } else {
                r.size as u32
            };
            let csize32 = if r.csize >= U32_MARK {
                extra.extend_from_slice(&r.csize.to_le_bytes());
                U32_MARK as u32
            } else {
                r.csize as u32
            };
            let off32 = if r.offset >= U32_MARK {
                extra.extend_from_slice(&r.offset.to_le_bytes());
                U32_MARK as u32
            } else {
                r.offset as u32
            };
            // Same rule as the local header: 4.5 when any value of the entry needs ZIP64.
            let version: u16 = if r.size >= U32_MARK || r.csize >= U32_MARK || r.offset >= U32_MARK
            {
                45
            } else {
                20
            };
            let mut h = Vec::with_capacity(CENTRAL_LEN as usize + r.name.len() + 28);
            h.extend_from_slice(&SIG_CENTRAL.to_le_bytes());
            h.extend_from_slice(&(MADE_BY_UNIX | version).to_le_bytes());
            h.extend_from_slice(&version.to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            h.extend_from_slice(&r.method.to_le_bytes());
            h.extend_from_slice(&self.time.time.to_le_bytes());
            h.extend_from_slice(&self.time.date.to_le_bytes());
            h.extend_from_slice(&r.crc.to_le_bytes());
            h.extend_from_slice(&csize32.to_le_bytes());
            h.extend_from_slice(&usize32.to_le_bytes());
            h.extend_from_slice(&(r.name.len() as u16).to_le_bytes());
            let extra_len = if extra.is_empty() { 0 } else { 4 + extra.len() };
            h.extend_from_slice(&(extra_len as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // comment
            h.extend_from_slice(&0u16.to_le_bytes()); // disk
            h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            h.extend_from_slice(&(UNIX_FILE_MODE << 16).to_le_bytes());
            h.extend_from_slice(&off32.to_le_bytes());
            h.extend_from_slice(&r.name);
            if !extra.is_empty() {
                h.extend_from_slice(&ZIP64_EXTRA.to_le_bytes());
                h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
                h.extend_from_slice(&extra);
            }
            self.put(&h)?;
        }
        let cd_size = self.pos - cd_offset;
        let count = records.len() as u64;
        if count >= U16_MARK || cd_size >= U32_MARK || cd_offset >= U32_MARK {
            let z64 = self.pos;
            let mut h = Vec::with_capacity((ZIP64_EOCD_LEN + ZIP64_LOCATOR_LEN) as usize);
            h.extend_from_slice(&SIG_ZIP64_EOCD.to_le_bytes());
            h.extend_from_slice(&(ZIP64_EOCD_LEN - 12).to_le_bytes());
            h.extend_from_slice(&(MADE_BY_UNIX | 45).to_le_bytes());
            h.extend_from_slice(&45u16.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes());
            h.extend_from_slice(&count.to_le_bytes());
            h.extend_from_slice(&count.to_le_bytes());
            h.extend_from_slice(&cd_size.to_le_bytes());
            h.extend_from_slice(&cd_offset.to_le_bytes());
            h.extend_from_slice(&SIG_ZIP64_LOCATOR.to_le_bytes());
            h.extend_from_slice(&0u32.to_le_bytes());
            h.extend_from_slice(&z64.to_le_bytes());
            h.extend_from_slice(&1u32.to_le_bytes());
            self.put(&h)?;
        }
        let mut h = Vec::with_capacity(EOCD_LEN as usize);
        h.extend_from_slice(&SIG_EOCD.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        let c16 = count.min(U16_MARK) as u16;
        h.extend_from_slice(&c16.to_le_bytes());
        h.extend_from_slice(&c16.to_le_bytes());
        h.extend_from_slice(&(cd_size.min(U32_MARK) as u32).to_le_bytes());
        h.extend_from_slice(&(cd_offset.min(U32_MARK) as u32).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        self.put(&h)?;
        self.w.flush()?;
        Ok((self.w, self.pos))
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// One central directory record, as declared (nothing here is trusted yet).
#[derive(Clone, Debug)]
pub struct CentralEntry {
    pub name: Vec<u8>,
    pub made_by: u16,
    pub version_needed: u16,
    pub flags: u16,
    pub method: u16,
    pub crc32: u32,
    pub compressed: u64,
    pub size: u64,
    pub header_offset: u64,
    pub external_attrs: u32,
    /// Length of the record's file comment (the format writes none).
    pub comment_len: u16,
    /// The first extra field other than ZIP64 (its id), or a malformed extra field (None
    /// inside): the format writes only the ZIP64 one.
    pub foreign_extra: Option<Option<u16>>,
    /// Length of the ZIP64 extra field's body, when there is one.
    pub zip64_len: Option<usize>,
}

impl CentralEntry {
    /// The Unix file type bits, when the entry was made on Unix.
    pub fn unix_type(&self) -> Option<u32> {
        (self.made_by >> 8 == 3).then_some((self.external_attrs >> 16) & 0o170_000)
    }
}

/// Where the central directory is.
#[derive(Clone, Copy, Debug)]
pub struct Directory {
    pub entries: u64,
    pub offset: u64,
    pub size: u64,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn corrupt(subject: &str, message: String) -> Finding {
    Finding {
        kind: ErrorKind::Corrupt,
        subject: subject.to_string(),
        message,
    }
}

fn read_at<R: Read + Seek + ?Sized>(r: &mut R, at: u64, buf: &mut [u8]) -> io::Result<()> {
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(buf)
}

/// Finds the central directory from the end records. `len` is the file's length; the end
/// record must be its last 22 bytes (the format writes no archive comment).
pub fn read_directory<R: Read + Seek + ?Sized>(
    r: &mut R,
    len: u64,
    subject: &str,
    max_entries: u64,
) -> Result<Directory, Finding> {
    let io_err = |e: io::Error| corrupt(subject, format!("cannot read the ZIP end records: {e}"));
    if len < EOCD_LEN {
        return Err(corrupt(
            subject,
            format!("{len} bytes is too short to be a ZIP file"),
        ));
    }
    let mut e = [0u8; EOCD_LEN as usize];
    read_at(r, len - EOCD_LEN, &mut e).map_err(io_err)?;
    if le32(&e, 0) != SIG_EOCD {
        return Err(corrupt(
            subject,
            "no ZIP end record at the end of the file (truncated, or followed by other bytes)"
                .into(),
        ));
    }
    let (disk, cd_disk) = (le16(&e, 4), le16(&e, 6));
    let (on_disk, total) = (u64::from(le16(&e, 8)), u64::from(le16(&e, 10)));
    let (size, offset) = (u64::from(le32(&e, 12)), u64::from(le32(&e, 16)));
    let comment = le16(&e, 20);
    if comment != 0 {
        return Err(corrupt(
            subject,
            "the ZIP end record has a comment; bundle volumes have none".into(),
        ));
    }
    if disk != 0 || cd_disk != 0 || on_disk != total {
        return Err(corrupt(
            subject,
            "the volume claims to be part of a spanned ZIP; bundle volumes are standalone".into(),
        ));
    }
    let mut end = EndRecords {
        entries: total,
        size,
        offset,
        start: len - EOCD_LEN,
    };
    if total == U16_MARK || size == U32_MARK || offset == U32_MARK {
        end = read_zip64_end(r, end, subject)?;
    }
    let EndRecords {
        entries,
        size,
        offset,
        start: end_start,
    } = end;
    if entries > max_entries {
        return Err(Finding {
            kind: ErrorKind::Limit,
            subject: subject.to_string(),
            message: format!(
                "the volume declares {entries} entries, more than the limit of {max_entries}"
            ),
        });
    }
    if offset.checked_add(size) != Some(end_start) {
        return Err(corrupt(
            subject,
            format!(
                "the central directory ({size} bytes at {offset}) does not end where the end records start ({end_start})"
            ),
        ));
    }
    if entries.saturating_mul(CENTRAL_LEN) > size {
        return Err(corrupt(
            subject,
            format!("{entries} entries cannot fit in a central directory of {size} bytes"),
        ));
    }
    Ok(Directory {
        entries,
        offset,
        size,
    })
}

/// What the end records say: entry count, central directory size and offset, and where the
/// end records start.
#[derive(Clone, Copy)]
struct EndRecords {
    entries: u64,
    size: u64,
    offset: u64,
    start: u64,
}

/// Reads the ZIP64 end records that must sit right before the end record at `end.start`
/// when one of its fields holds the ZIP64 marker, and returns what they say instead.
fn read_zip64_end<R: Read + Seek + ?Sized>(
    r: &mut R,
    end: EndRecords,
    subject: &str,
) -> Result<EndRecords, Finding> {
    let io_err = |e: io::Error| corrupt(subject, format!("cannot read the ZIP end records: {e}"));
    // ZIP64: the locator sits right before the end record and points at the ZIP64 end
    // record right before it.
    if end.start < ZIP64_LOCATOR_LEN + ZIP64_EOCD_LEN {
        return Err(corrupt(subject, "ZIP64 end records are missing".into()));
    }
    let mut l = [0u8; ZIP64_LOCATOR_LEN as usize];
    read_at(r, end.start - ZIP64_LOCATOR_LEN, &mut l).map_err(io_err)?;
    let z64_at = end.start - ZIP64_LOCATOR_LEN - ZIP64_EOCD_LEN;
    if le32(&l, 0) != SIG_ZIP64_LOCATOR
        || le32(&l, 4) != 0
        || le64(&l, 8) != z64_at
        || le32(&l, 16) != 1
    {
        return Err(corrupt(
            subject,
            "the ZIP64 end locator is missing or inconsistent".into(),
        ));
    }
    let mut z = [0u8; ZIP64_EOCD_LEN as usize];
    read_at(r, z64_at, &mut z).map_err(io_err)?;
    if le32(&z, 0) != SIG_ZIP64_EOCD
        || le64(&z, 4) != ZIP64_EOCD_LEN - 12
        || le32(&z, 16) != 0
        || le32(&z, 20) != 0
    {
        return Err(corrupt(
            subject,
            "the ZIP64 end record is missing or inconsistent".into(),
        ));
    }
    if le64(&z, 24) != le64(&z, 32) {
        return Err(corrupt(
            subject,
            "the ZIP64 end record claims a spanned ZIP".into(),
        ));
    }
    // A 16- or 32-bit field holds either the marker or the same value as its ZIP64 twin.
    let check = |small: u64, big: u64, mark: u64| small == mark || small == big;
    let z64 = EndRecords {
        entries: le64(&z, 32),
        size: le64(&z, 40),
        offset: le64(&z, 48),
        start: z64_at,
    };
    if !check(end.entries, z64.entries, U16_MARK)
        || !check(end.size, z64.size, U32_MARK)
        || !check(end.offset, z64.offset, U32_MARK)
    {
        return Err(corrupt(
            subject,
            "the ZIP end record and ZIP64 end record disagree".into(),
        ));
    }
    Ok(z64)
}

/// Reads every central directory record. Memory is bounded by the entry cap applied in
/// [`read_directory`] (a record is at most ~200 bytes once the name length is checked).
pub fn read_central<R: Read + Seek>(
    r: &mut R,
    dir: &Directory,
    subject: &str,
) -> Result<Vec<CentralEntry>, Finding> {
    r.seek(SeekFrom::Start(dir.offset))
        .map_err(|e| corrupt(subject, format!("cannot read the central directory: {e}")))?;
    let mut br = BufReader::with_capacity(64 * 1024, r.take(dir.size));
    let mut out = Vec::with_capacity(dir.entries.min(100_000) as usize);
    let mut consumed = 0u64;
    for i in 0..dir.entries {
        let bad = |m: String| corrupt(subject, format!("central directory record {}: {m}", i + 1));
        let mut h = [0u8; CENTRAL_LEN as usize];
        br.read_exact(&mut h)
            .map_err(|e| bad(format!("cannot be read: {e}")))?;
        if le32(&h, 0) != SIG_CENTRAL {
            return Err(bad("bad signature".into()));
        }
        let (n, x, c) = (
            le16(&h, 28) as usize,
            le16(&h, 30) as usize,
            le16(&h, 32) as usize,
        );
        if le16(&h, 34) != 0 {
            return Err(bad("starts on another disk".into()));
        }
        // A name longer than any the format produces is read only to be reported; cap what
        // is kept so that a hostile directory cannot make the list large.
        let mut name = vec![0u8; n];
        br.read_exact(&mut name)
            .map_err(|e| bad(format!("name cannot be read: {e}")))?;
        name.truncate(1024);
        let mut extra = vec![0u8; x];
        br.read_exact(&mut extra)
            .map_err(|e| bad(format!("extra field cannot be read: {e}")))?;
        let got = io::copy(&mut (&mut br).take(c as u64), &mut io::sink())
            .map_err(|e| bad(format!("comment cannot be read: {e}")))?;
        // The reader stops at the directory's end: a comment said to run past it is short
        // (found by fuzzing: the count below then passed the directory's size).
        if got != c as u64 {
            return Err(bad(
                "its comment runs past the end of the central directory".into(),
            ));
        }
        consumed += CENTRAL_LEN + (n + x + c) as u64;
        let mut e = CentralEntry {
            name,
            made_by: le16(&h, 4),
            version_needed: le16(&h, 6),
            flags: le16(&h, 8),
            method: le16(&h, 10),
            crc32: le32(&h, 16),
            compressed: u64::from(le32(&h, 20)),
            size: u64::from(le32(&h, 24)),
            header_offset: u64::from(le32(&h, 42)),
            external_attrs: le32(&h, 38),
            comment_len: c as u16,
            foreign_extra: foreign_extra(&extra),
            zip64_len: find_extra(&extra, ZIP64_EXTRA).map(<[u8]>::len),
        };
        apply_zip64(&mut e, &extra).map_err(|m| bad(m.into()))?;
        out.push(e);
    }
    if consumed != dir.size {
        let msg = match dir.size.checked_sub(consumed) {
            Some(extra) => format!("the central directory holds {extra} bytes after its records"),
            None => format!(
                "the central directory's records take {consumed} bytes, more than its {} bytes",
                dir.size
            ),
        };
        return Err(corrupt(subject, msg));
    }
    Ok(out)
}

/// ZIP64 values replace, in this order, the fields of a central record that hold the marker.
fn apply_zip64(e: &mut CentralEntry, extra: &[u8]) -> Result<(), &'static str> {
    let wants = [
        e.size == U32_MARK,
        e.compressed == U32_MARK,
        e.header_offset == U32_MARK,
    ];
    if !wants.iter().any(|w| *w) {
        return Ok(());
    }
    let z = find_extra(extra, ZIP64_EXTRA).ok_or("ZIP64 values are missing")?;
    let mut values = z.chunks(8);
    let mut next = || -> Result<u64, &'static str> {
        let v = values
            .next()
            .filter(|v| v.len() == 8)
            .ok_or("ZIP64 extra field is too short")?;
        Ok(le64(v, 0))
    };
    if wants[0] {
        e.size = next()?;
    }
    if wants[1] {
        e.compressed = next()?;
    }
    if wants[2] {
        e.header_offset = next()?;
    }
    Ok(())
}

/// The first extra field that is not ZIP64 (`Some(Some(id))`), or `Some(None)` when the
/// extra fields do not parse (a length running past the end); `None` when all is ZIP64.
fn foreign_extra(extra: &[u8]) -> Option<Option<u16>> {
    let mut at = 0;
    while at < extra.len() {
        if at + 4 > extra.len() {
            return Some(None);
        }
        let (tag, len) = (le16(extra, at), le16(extra, at + 2) as usize);
        if at + 4 + len > extra.len() {
            return Some(None);
        }
        if tag != ZIP64_EXTRA {
            return Some(Some(tag));
        }
        at += 4 + len;
    }
    None
}

fn show_extra(f: Option<u16>) -> String {
    match f {
        Some(id) => format!("an extra field of type {id:#06x} (only ZIP64 is allowed)"),
        None => "a malformed extra field".into(),
    }
}

fn find_extra(extra: &[u8], id: u16) -> Option<&[u8]> {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let (tag, len) = (le16(extra, at), le16(extra, at + 2) as usize);
        let body = extra.get(at + 4..at + 4 + len)?;
        if tag == id {
            return Some(body);
        }
        at += 4 + len;
    }
    None
}

/// The highest "version needed to extract" the format writes (4.5, for ZIP64); anything
/// higher asks for features (other compression, encryption, ...) the format never uses.
const MAX_VERSION_NEEDED: u16 = 45;

/// A ZIP64 extra field where the format writes none, or of another length than the values
/// it must hold: the central record holds exactly the values whose 32-bit fields carry the
/// marker, the local header both sizes exactly when its sizes carry the marker. Another
/// reader may take sizes from a ZIP64 field that ours ignores.
fn zip64_problem(e: &CentralEntry, h: &LocalHeader) -> Option<String> {
    // The 32-bit fields as the central record holds them (ZIP64 values replaced them).
    let wanted = [e.size, e.compressed, e.header_offset]
        .iter()
        .filter(|v| **v >= U32_MARK)
        .count();
    match e.zip64_len {
        Some(n) if n != 8 * wanted => {
            return Some(format!(
                "the central record has a ZIP64 extra field of {n} bytes where {} are due",
                8 * wanted
            ));
        }
        None if wanted > 0 => return Some("the central record lacks its ZIP64 values".into()),
        _ => {}
    }
    let marked = u64::from(h.compressed32) == U32_MARK || u64::from(h.size32) == U32_MARK;
    match find_extra(&h.extra, ZIP64_EXTRA).map(<[u8]>::len) {
        Some(n) if !marked || n != 16 => Some(format!(
            "the local header has a ZIP64 extra field of {n} bytes where {} are due",
            if marked { 16 } else { 0 }
        )),
        _ => None,
    }
}

/// A local header as declared: the fixed part, the name and the extra field. The sizes are
/// the 32-bit fields (ZIP64 markers included); [`LocalHeader::sizes`] resolves them.
#[derive(Clone, Debug)]
pub struct LocalHeader {
    pub version_needed: u16,
    pub flags: u16,
    pub method: u16,
    pub crc32: u32,
    pub compressed32: u32,
    pub size32: u32,
    pub name: Vec<u8>,
    pub extra: Vec<u8>,
}

/// Why a local header could not be taken in.
#[derive(Debug)]
pub enum LocalHeaderError {
    /// The bytes ended (or failed) before the header did.
    Read(io::Error),
    /// The bytes there are not a local header.
    Signature,
}

impl LocalHeader {
    /// Bytes the header takes, from its signature to the end of its extra field.
    pub fn len(&self) -> u64 {
        LOCAL_LEN + self.name.len() as u64 + self.extra.len() as u64
    }

    /// (compressed, uncompressed) sizes, from the ZIP64 extra field when a 32-bit field holds
    /// the marker; `None` when that field is missing or short.
    pub fn sizes(&self) -> Option<(u64, u64)> {
        let (cs, us) = (u64::from(self.compressed32), u64::from(self.size32));
        if cs != U32_MARK && us != U32_MARK {
            return Some((cs, us));
        }
        let z = find_extra(&self.extra, ZIP64_EXTRA).filter(|z| z.len() >= 16)?;
        Some((le64(z, 8), le64(z, 0)))
    }
}

/// Reads the local header that starts where `r` stands. Both readers of local headers (the
/// volume checks and the lone-volume identification) go through here.
pub fn read_local_header<R: Read + ?Sized>(r: &mut R) -> Result<LocalHeader, LocalHeaderError> {
    let mut h = [0u8; LOCAL_LEN as usize];
    r.read_exact(&mut h).map_err(LocalHeaderError::Read)?;
    if le32(&h, 0) != SIG_LOCAL {
        return Err(LocalHeaderError::Signature);
    }
    let (n, x) = (le16(&h, 26) as usize, le16(&h, 28) as usize);
    let mut tail = vec![0u8; n + x];
    r.read_exact(&mut tail).map_err(LocalHeaderError::Read)?;
    let extra = tail.split_off(n);
    Ok(LocalHeader {
        version_needed: le16(&h, 4),
        flags: le16(&h, 6),
        method: le16(&h, 8),
        crc32: le32(&h, 14),
        compressed32: le32(&h, 18),
        size32: le32(&h, 22),
        name: tail,
        extra,
    })
}

/// Checks an entry's local header against its central record and returns where its data
/// starts. A disagreement means two readers could see two different files: unsafe. Extra
/// fields other than ZIP64 (in either header) are unsafe too, and a file comment is corrupt.
pub fn read_local<R: Read + Seek + ?Sized>(
    r: &mut R,
    e: &CentralEntry,
    subject: &str,
) -> Result<u64, Finding> {
    let unsafe_ = |m: String| Finding {
        kind: ErrorKind::UnsafeEntry,
        subject: subject.to_string(),
        message: m,
    };
    let unreadable =
        |err: io::Error| corrupt(subject, format!("local header cannot be read: {err}"));
    r.seek(SeekFrom::Start(e.header_offset))
        .map_err(unreadable)?;
    let h = match read_local_header(r) {
        Ok(h) => h,
        Err(LocalHeaderError::Read(err)) => return Err(unreadable(err)),
        Err(LocalHeaderError::Signature) => {
            return Err(corrupt(
                subject,
                format!("no local header at offset {}", e.header_offset),
            ));
        }
    };
    if h.name != e.name {
        return Err(unsafe_(format!(
            "the local header names {}, the central directory {}",
            super::names::show_name(&h.name),
            super::names::show_name(&e.name)
        )));
    }
    // Extra fields can carry what the format never uses and another reader might act on
    // (Unix modes and link targets, NTFS times, AES encryption): only ZIP64 is allowed.
    if let Some(f) = e.foreign_extra.or_else(|| foreign_extra(&h.extra)) {
        return Err(unsafe_(format!("the entry has {}", show_extra(f))));
    }
    if let Some(m) = zip64_problem(e, &h) {
        return Err(unsafe_(m));
    }
    if e.version_needed > MAX_VERSION_NEEDED || h.version_needed > MAX_VERSION_NEEDED {
        return Err(corrupt(
            subject,
            format!(
                "needs ZIP version {}.{} to extract; bundle volumes need at most 4.5",
                e.version_needed.max(h.version_needed) / 10,
                e.version_needed.max(h.version_needed) % 10
            ),
        ));
    }
    if e.comment_len != 0 {
        return Err(corrupt(
            subject,
            "the entry has a file comment; bundle volumes have none".into(),
        ));
    }
    if h.flags != e.flags || h.method != e.method {
        return Err(unsafe_(
            "the local header's flags or compression method differ from the central directory's"
                .into(),
        ));
    }
    let (cs, us) = h
        .sizes()
        .ok_or_else(|| corrupt(subject, "the local header's ZIP64 sizes are missing".into()))?;
    if h.crc32 != e.crc32 || cs != e.compressed || us != e.size {
        return Err(unsafe_(
            "the local header's CRC or sizes differ from the central directory's".into(),
        ));
    }
    Ok(e.header_offset + h.len())
}

// ---------------------------------------------------------------------------------------------
// Deflate

/// The compression level `metadata.bin` is deflated with. Part of what makes bundles
/// byte-identical: changing it changes every volume 1.
/// The deflate level of every deflated entry (`metadata.bin`).
pub const DEFLATE_LEVEL: u32 = 6;

/// Deflates `data` into a raw deflate stream (no zlib or gzip framing), as a ZIP entry of
/// method 8 holds it (tests: the writer deflates as it spools, `writer::MetadataSpool`).
#[cfg(test)]
pub fn deflate(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::new(DEFLATE_LEVEL),
    );
    enc.write_all(data)?;
    enc.finish()
}

/// Inflates the raw deflate stream read from `compressed`. Unbounded by itself: the caller
/// stops reading at the size it expects (plus one byte, to notice an entry that inflates
/// beyond it).
pub fn inflate<R: Read>(compressed: R) -> flate2::read::DeflateDecoder<R> {
    flate2::read::DeflateDecoder::new(compressed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut c = Crc32::default();
        for part in data.chunks(7) {
            c.update(part);
        }
        assert_eq!(c.value(), crc32(&data));
    }

    #[test]
    fn dos_time_from_timestamp() {
        let at = |s: &str| DosTime::from_timestamp(Timestamp::parse_rfc3339(s).unwrap());
        let t = at("2026-03-01T12:34:57Z");
        assert_eq!(t.date, (46 << 9) | (3 << 5) | 1);
        assert_eq!(t.time, (12 << 11) | (34 << 5) | 28);
        assert_eq!(at("1970-01-01T00:00:00Z"), DosTime::EPOCH);
        assert_eq!(at("1980-01-01T00:00:00Z"), DosTime::EPOCH);
        let last = at("2107-12-31T23:59:59Z");
        assert_eq!(last.date, (127 << 9) | (12 << 5) | 31);
        assert_eq!(last.time, (23 << 11) | (59 << 5) | 29);
        assert_eq!(at("2108-01-01T00:00:00Z"), DosTime::EPOCH);
    }

    fn sample(entries: usize) -> Vec<u8> {
        let mut z = ZipOut::new(Cursor::new(Vec::new()), DosTime::EPOCH);
        for i in 0..entries {
            let name = format!("e{i:06}");
            let data = name.as_bytes();
            z.begin_stored(&name, data.len() as u64).unwrap();
            z.write_data(data).unwrap();
            z.end_entry().unwrap();
        }
        let (c, len) = z.finish().unwrap();
        let v = c.into_inner();
        assert_eq!(v.len() as u64, len);
        v
    }

    #[test]
    fn written_zip_reads_back_with_the_zip_crate_and_our_reader() {
        for n in [0usize, 1, 3, 70_000] {
            let bytes = sample(n);
            let len = bytes.len() as u64;
            let mut cur = Cursor::new(bytes.clone());
            let dir = read_directory(&mut cur, len, "t", 100_000).unwrap();
            assert_eq!(dir.entries, n as u64);
            let entries = read_central(&mut cur, &dir, "t").unwrap();
            let mut expect_at = 0;
            for e in &entries {
                assert_eq!(e.header_offset, expect_at);
                let data_at = read_local(&mut cur, e, "t").unwrap();
                expect_at = data_at + e.compressed;
            }
            assert_eq!(expect_at, dir.offset);
            let mut za = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
            assert_eq!(za.len(), n);
            for i in (0..n).step_by(997) {
                let mut f = za.by_index(i).unwrap();
                let mut s = String::new();
                f.read_to_string(&mut s).unwrap();
                assert_eq!(s, format!("e{i:06}"));
                assert_eq!(f.unix_mode(), Some(0o100_644));
            }
        }
    }

    /// What the `zip` crate's writer makes of `data` at level 6: the bytes `metadata.bin`
    /// was deflated into before this module deflated it itself.
    fn zip_crate_deflate(data: &[u8]) -> Vec<u8> {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(6));
        let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zw.start_file("m", opts).unwrap();
        zw.write_all(data).unwrap();
        let mut za = zip::ZipArchive::new(zw.finish().unwrap()).unwrap();
        let mut f = za.by_index_raw(0).unwrap();
        assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
        let mut raw = Vec::new();
        f.read_to_end(&mut raw).unwrap();
        raw
    }

    #[test]
    fn deflate_gives_the_zip_crates_bytes_and_inflates_back() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut noise = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        };
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("update {i} KB{} ", i % 977).into_bytes())
            .collect();
        for data in [
            Vec::new(),
            b"a".to_vec(),
            noise(70_000),
            text,
            [noise(5_000), vec![0; 3 << 20]].concat(),
        ] {
            let raw = deflate(&data).unwrap();
            assert_eq!(raw, zip_crate_deflate(&data), "{} bytes", data.len());
            let mut back = Vec::new();
            inflate(&raw[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn entry_cap_is_applied_before_reading_the_directory() {
        let bytes = sample(20);
        let err =
            read_directory(&mut Cursor::new(&bytes), bytes.len() as u64, "t", 10).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit);
        // At the cap: read on; one over: a limit.
        assert!(read_directory(&mut Cursor::new(&bytes), bytes.len() as u64, "t", 20).is_ok());
        let err =
            read_directory(&mut Cursor::new(&bytes), bytes.len() as u64, "t", 19).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit);
    }
}
