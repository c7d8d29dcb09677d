//! Metadata envelope version 3: `metadata.bin` as a stream of bounded records, so that the
//! writer, `verify` and `import` hold one record at a time instead of the whole metadata.
//!
//! After the 20-byte envelope header (magic, version 3, a reserved u64 that is 0) come
//! records: a tag byte, a u32 little-endian length, then exactly that many bytes of bincode.
//! Categories come first, then updates (tombstones included), then decisions, each section by
//! strictly increasing id, so that a duplicate is caught by comparing with the previous id
//! alone. An end record carries the counts and the SHA-256 of every byte before it, so that a
//! stream cut between two records is refused. The specification is `docs/BUNDLE-FORMAT.md`
//! section 4, "Envelope version 3". Bundles of format 3 and later carry it; the writer
//! spools it (`writer::MetadataSpool`).

use super::manifest::{Layout, Manifest};
use super::metadata::{
    BundleMetadata, Decision, DocumentRecord, ENVELOPE_HEADER_LEN, METADATA_MAGIC, RecordState,
    STREAM_METADATA_VERSION, UpdateRecord, category_record_problems, corrupt,
    decision_record_problems, decode_bounded, decode_error, read_full, update_record_problems,
};
use super::metadata_limits::{
    MAX_LISTED, category_limit_problem, hierarchy_problem, update_limit_problem,
};
use super::names::{METADATA_ENTRY, show_name};
use super::records::{Collect, MetadataCheck, RecordSink};
use super::verify::Finding;
use super::zipfmt::Crc32;
use crate::error::{Error, ErrorKind, Result};
use crate::limits::MAX_DOCUMENT_BYTES;
use crate::model::{Category, Guid};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::Path;

/// Largest record (64 MiB): far above any honest record (an update is a few KiB; the store's
/// limits keep one under about 20 MiB), and the most memory one record can make a reader
/// hold. A larger length is refused before a byte of the record is read.
pub const MAX_RECORD_BYTES: u32 = 64 << 20;
/// Record tags.
pub const TAG_CATEGORY: u8 = 1;
pub const TAG_UPDATE: u8 = 2;
pub const TAG_DECISION: u8 = 3;
pub const TAG_DOCUMENT: u8 = 4;
pub const TAG_END: u8 = 255;
/// Bytes before a record's value: tag and length.
const RECORD_HEAD_LEN: usize = 5;

/// The end record's value: what the stream held, and the SHA-256 of every byte before the
/// end record's tag (header included).
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct StreamEnd {
    pub categories: u64,
    pub updates: u64,
    pub removed: u64,
    pub decisions: u64,
    pub documents: u64,
    pub sha256: [u8; 32],
}

/// What a [`StreamWriter`] wrote: the counts the manifest needs, and the size, SHA-256 and
/// CRC-32 of all its bytes (end record included), which the ZIP entry and the manifest need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    pub categories: u64,
    pub updates: u64,
    pub removed: u64,
    pub decisions: u64,
    pub documents: u64,
    pub bytes: u64,
    pub sha256: [u8; 32],
    pub crc32: u32,
}

/// The version 3 envelope header (the reserved field is 0).
fn header() -> [u8; ENVELOPE_HEADER_LEN] {
    let mut h = [0u8; ENVELOPE_HEADER_LEN];
    h[..8].copy_from_slice(&METADATA_MAGIC);
    h[8..12].copy_from_slice(&STREAM_METADATA_VERSION.to_le_bytes());
    h
}

/// The sections of a stream, in their order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    #[default]
    Categories,
    Updates,
    Decisions,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Categories => "category",
            Section::Updates => "update",
            Section::Decisions => "decision",
        }
    }
}

/// The order of a stream so far: its section and the last id of that section. Ids are
/// compared as canonical GUID strings (bytes), which is also the order of the store's keys.
#[derive(Default)]
struct Order {
    section: Section,
    last: Option<String>,
}

impl Order {
    /// Checks that a record of section `s` with id `id` may come next, and records it; else
    /// says why not (and the order stays where it was).
    fn next(&mut self, s: Section, id: &Guid) -> Option<String> {
        if s < self.section {
            return Some(format!(
                "a {} record follows the {} records (the order is categories, updates, decisions)",
                s.name(),
                self.section.name()
            ));
        }
        if s > self.section {
            self.section = s;
            self.last = None;
        }
        match &mut self.last {
            Some(prev) if id.as_str() <= prev.as_str() => Some(format!(
                "{} record {} is out of order or listed twice (it follows {})",
                s.name(),
                show_name(id.as_str().as_bytes()),
                show_name(prev.as_bytes())
            )),
            Some(prev) => {
                // Reuse the buffer: one allocation per section, not per record.
                prev.clear();
                prev.push_str(id.as_str());
                None
            }
            None => {
                self.last = Some(id.as_str().to_string());
                None
            }
        }
    }
}

/// Records of each kind seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Tally {
    categories: u64,
    updates: u64,
    removed: u64,
    decisions: u64,
    documents: u64,
}

impl Tally {
    fn count_update(&mut self, r: &UpdateRecord) {
        self.updates += 1;
        if r.state == RecordState::Removed {
            self.removed += 1;
        }
    }

    /// (what, this tally's count, the other's), for the messages of a mismatch.
    fn against(
        &self,
        categories: u64,
        updates: u64,
        removed: u64,
        decisions: u64,
    ) -> [(&'static str, u64, u64); 4] {
        [
            ("categories", self.categories, categories),
            ("updates", self.updates, updates),
            ("removed updates", self.removed, removed),
            ("decisions", self.decisions, decisions),
        ]
    }
}

/// Writes a version 3 stream to `W` as records arrive (the exporter reads them from its
/// store in id order and hands them over one at a time).
pub struct StreamWriter<W: Write> {
    w: W,
    sha: Sha256,
    crc: Crc32,
    bytes: u64,
    tally: Tally,
    order: Order,
    /// The id and revision of the last category or update written, until its document is.
    owner: Option<(Guid, u32)>,
    /// One record's encoding, reused.
    buf: Vec<u8>,
}

impl<W: Write> StreamWriter<W> {
    /// Starts a stream: writes the envelope header.
    pub fn new(w: W) -> Result<Self> {
        let mut s = StreamWriter {
            w,
            sha: Sha256::new(),
            crc: Crc32::default(),
            bytes: 0,
            tally: Tally::default(),
            order: Order::default(),
            owner: None,
            buf: Vec::with_capacity(4096),
        };
        s.put(&header())?;
        Ok(s)
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.w
            .write_all(b)
            .map_err(|e| Error::io(Path::new(METADATA_ENTRY), "write", e))?;
        self.sha.update(b);
        self.crc.update(b);
        self.bytes += b.len() as u64;
        Ok(())
    }

    fn record<T: bincode::Encode>(&mut self, tag: u8, value: &T) -> Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        bincode::encode_into_std_write(value, &mut buf, bincode::config::standard())
            .map_err(|e| Error::other(format!("cannot encode a metadata record: {e}")))?;
        if buf.len() > MAX_RECORD_BYTES as usize {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "a metadata record encodes to {} bytes, more than the format's limit of {MAX_RECORD_BYTES}",
                    buf.len()
                ),
            ));
        }
        let mut head = [tag, 0, 0, 0, 0];
        head[1..].copy_from_slice(&(buf.len() as u32).to_le_bytes());
        self.put(&head)?;
        self.put(&buf)?;
        self.buf = buf;
        Ok(())
    }

    /// Out-of-order input is the caller's bug (the exporter sorts): written, it would be a
    /// bundle every reader refuses.
    fn ordered(&mut self, s: Section, id: &Guid) -> Result<()> {
        match self.order.next(s, id) {
            Some(p) => Err(Error::other(format!(
                "internal error: the metadata stream writer was given records out of order: {p}"
            ))),
            None => Ok(()),
        }
    }

    pub fn write_category(&mut self, c: &Category) -> Result<()> {
        self.ordered(Section::Categories, &c.id)?;
        self.record(TAG_CATEGORY, c)?;
        self.tally.categories += 1;
        self.owner = Some((c.id.clone(), c.revision));
        Ok(())
    }

    pub fn write_update(&mut self, r: &UpdateRecord) -> Result<()> {
        self.ordered(Section::Updates, &r.update.id)?;
        self.record(TAG_UPDATE, r)?;
        self.tally.count_update(r);
        self.owner = Some((r.update.id.clone(), r.update.revision));
        Ok(())
    }

    pub fn write_decision(&mut self, d: &Decision) -> Result<()> {
        self.ordered(Section::Decisions, &d.update)?;
        self.record(TAG_DECISION, d)?;
        self.tally.decisions += 1;
        self.owner = None;
        Ok(())
    }

    /// The upstream's document of the category or update just written (same id and
    /// revision), at most one.
    pub fn write_document(&mut self, d: &DocumentRecord) -> Result<()> {
        let Some((id, revision)) = self.owner.take() else {
            return Err(Error::other(format!(
                "internal error: the document of {} is not written right after its record",
                d.id
            )));
        };
        if id != d.id || revision != d.revision {
            return Err(Error::other(format!(
                "internal error: the document of {} revision {} follows the record of {id} revision {revision}",
                d.id, d.revision
            )));
        }
        self.record(TAG_DOCUMENT, d)?;
        self.tally.documents += 1;
        Ok(())
    }

    /// Writes the end record and returns the writer and what was written.
    pub fn finish(mut self) -> Result<(W, StreamSummary)> {
        let t = self.tally;
        let end = StreamEnd {
            categories: t.categories,
            updates: t.updates,
            removed: t.removed,
            decisions: t.decisions,
            documents: t.documents,
            sha256: self.sha.clone().finalize().into(),
        };
        self.record(TAG_END, &end)?;
        self.w
            .flush()
            .map_err(|e| Error::io(Path::new(METADATA_ENTRY), "write", e))?;
        let summary = StreamSummary {
            categories: t.categories,
            updates: t.updates,
            removed: t.removed,
            decisions: t.decisions,
            documents: t.documents,
            bytes: self.bytes,
            sha256: self.sha.finalize().into(),
            crc32: self.crc.value(),
        };
        Ok((self.w, summary))
    }
}

impl<W: Write> RecordSink for StreamWriter<W> {
    fn category(&mut self, c: Category) -> Result<()> {
        self.write_category(&c)
    }
    fn update(&mut self, r: UpdateRecord) -> Result<()> {
        self.write_update(&r)
    }
    fn decision(&mut self, d: Decision) -> Result<()> {
        self.write_decision(&d)
    }
    fn document(&mut self, d: DocumentRecord) -> Result<()> {
        self.write_document(&d)
    }
}

/// Encodes metadata (sorted as the format requires) as a version 3 stream in memory.
pub fn encode_stream(md: &BundleMetadata) -> Result<Vec<u8>> {
    let mut w = StreamWriter::new(Vec::with_capacity(4096))?;
    for c in &md.categories {
        w.write_category(c)?;
    }
    for r in &md.updates {
        w.write_update(r)?;
    }
    for d in &md.decisions {
        w.write_decision(d)?;
    }
    Ok(w.finish()?.0)
}

/// Reads a version 3 stream whose header was read from `r`, checks each record against the
/// format, the store's limits and the manifest, and delivers those that passed to `sink`
/// while no problem has been found. Memory: one record, and the categories' tree.
pub(crate) fn read_v3(
    r: &mut dyn Read,
    m: &Manifest,
    layout: &Layout,
    sink: &mut dyn RecordSink,
) -> MetadataCheck {
    read_records(r, Some(m), layout, sink)
}

/// Decodes a version 3 stream whose header was read into one [`BundleMetadata`], with every
/// check that needs no manifest; the first problem is the error.
pub(super) fn decode_stream(r: &mut dyn Read) -> Result<BundleMetadata> {
    let layout = empty_layout();
    let mut sink = Collect::default();
    let check = read_records(r, None, &layout, &mut sink);
    if let Some(f) = check.findings.into_iter().next() {
        return Err(f.into_error());
    }
    if let Some(e) = check.sink_error {
        return Err(e);
    }
    Ok(sink.md)
}

/// The layout of a bundle that carries no content (no file size to compare with).
fn empty_layout() -> Layout {
    Layout {
        by_path: HashMap::new(),
        files: BTreeMap::new(),
    }
}

fn read_records(
    r: &mut dyn Read,
    m: Option<&Manifest>,
    layout: &Layout,
    sink: &mut dyn RecordSink,
) -> MetadataCheck {
    let mut st = ReadState {
        m,
        layout,
        sink,
        out: MetadataCheck::default(),
        corrupt: 0,
        limit: 0,
        sha: Sha256::new(),
        buf: Vec::new(),
        order: Order::default(),
        tally: Tally::default(),
        owner: None,
        parents: Some(HashMap::new()),
    };
    // The header was checked by the caller: it is exactly this.
    st.sha.update(header());
    loop {
        match st.step(r) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // The stream cannot be followed past this point (no resynchronisation).
                st.out
                    .findings
                    .push(Finding::new(e.kind, METADATA_ENTRY, e.message));
                break;
            }
        }
        // Enough to show what is wrong; the rest of a hostile stream is not worth reading.
        let full = if st.corrupt >= MAX_LISTED {
            Some(ErrorKind::Corrupt)
        } else if st.limit >= MAX_LISTED {
            Some(ErrorKind::Limit)
        } else {
            None
        };
        if let Some(kind) = full {
            st.out.findings.push(Finding::new(
                kind,
                METADATA_ENTRY,
                format!("stopped checking after {MAX_LISTED} problems of this kind"),
            ));
            break;
        }
    }
    st.out
}

/// A reader's state between records.
struct ReadState<'a> {
    m: Option<&'a Manifest>,
    layout: &'a Layout,
    sink: &'a mut dyn RecordSink,
    out: MetadataCheck,
    /// Findings of each kind so far.
    corrupt: usize,
    limit: usize,
    /// Every byte read so far (what the end record's digest covers).
    sha: Sha256,
    /// One record's bytes, reused.
    buf: Vec<u8>,
    order: Order,
    tally: Tally,
    /// The id and revision of the last category or update read, until its document is.
    owner: Option<(Guid, u32)>,
    /// Category id -> parent while the categories are read (few); checked as a tree and
    /// dropped when they end.
    parents: Option<HashMap<String, Option<String>>>,
}

impl ReadState<'_> {
    fn finding(&mut self, kind: ErrorKind, message: String) {
        match kind {
            ErrorKind::Limit => self.limit += 1,
            _ => self.corrupt += 1,
        }
        self.out
            .findings
            .push(Finding::new(kind, METADATA_ENTRY, message));
    }

    /// Hands a checked record to the sink, unless a problem was found (the bundle will be
    /// refused) or the sink already failed.
    fn deliver(&mut self, f: impl FnOnce(&mut dyn RecordSink) -> Result<()>) {
        if !self.out.findings.is_empty() || self.out.sink_error.is_some() {
            return;
        }
        match f(self.sink) {
            Ok(()) => self.out.delivered += 1,
            Err(e) => self.out.sink_error = Some(e),
        }
    }

    /// Reads one record; false when it was the end record (and the stream was checked).
    fn step(&mut self, r: &mut dyn Read) -> Result<bool> {
        let mut head = [0u8; RECORD_HEAD_LEN];
        match read_full(r, &mut head)? {
            0 => {
                return Err(corrupt(
                    "metadata is truncated: the stream ends without its end record",
                ));
            }
            RECORD_HEAD_LEN => {}
            _ => {
                return Err(corrupt(
                    "metadata is truncated: the stream ends inside a record header",
                ));
            }
        }
        let tag = head[0];
        let len = u32::from_le_bytes(head[1..].try_into().expect("4 bytes"));
        let digest: [u8; 32] = self.sha.clone().finalize().into();
        self.sha.update(head);
        if !matches!(
            tag,
            TAG_CATEGORY | TAG_UPDATE | TAG_DECISION | TAG_DOCUMENT | TAG_END
        ) {
            return Err(corrupt(format!(
                "metadata has a record with the unknown tag {tag}"
            )));
        }
        if len > MAX_RECORD_BYTES {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "a metadata record announces {len} bytes, more than the limit of {MAX_RECORD_BYTES}"
                ),
            ));
        }
        // Read what arrives rather than reserving `len` at once: a short stream claiming a
        // large record costs what it sent.
        self.buf.clear();
        let got = r
            .take(u64::from(len))
            .read_to_end(&mut self.buf)
            .map_err(|e| corrupt(format!("cannot read the metadata: {e}")))?;
        if got < len as usize {
            return Err(corrupt(format!(
                "metadata is truncated: the stream ends inside a record of {len} bytes ({got} follow)"
            )));
        }
        self.sha.update(&self.buf);
        match tag {
            TAG_CATEGORY => self.category()?,
            TAG_UPDATE => self.update()?,
            TAG_DECISION => self.decision()?,
            TAG_DOCUMENT => self.document()?,
            _ => {
                self.end(digest, r)?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Decodes the record in `buf`, which its value must use entirely.
    fn decode<T: bincode::Decode<()>>(&self) -> Result<T> {
        let (v, used) = decode_bounded::<T>(&self.buf).map_err(decode_error)?;
        if used != self.buf.len() {
            return Err(corrupt(format!(
                "a metadata record has {} trailing bytes that the decoder did not use",
                self.buf.len() - used
            )));
        }
        Ok(v)
    }

    fn in_order(&mut self, s: Section, id: &Guid) {
        if let Some(p) = self.order.next(s, id) {
            self.finding(ErrorKind::Corrupt, p);
        }
    }

    /// Runs the tree check once the categories are all read.
    fn close_categories(&mut self) {
        if let Some(parents) = self.parents.take()
            && let Some(p) = hierarchy_problem(&parents)
        {
            self.finding(ErrorKind::Limit, p);
        }
    }

    fn category(&mut self) -> Result<()> {
        let c: Category = self.decode()?;
        self.in_order(Section::Categories, &c.id);
        let mut bad = Vec::new();
        category_record_problems(&c, &mut |m| bad.push(m));
        for m in bad {
            self.finding(ErrorKind::Corrupt, m);
        }
        if let Some(p) = category_limit_problem(&c) {
            self.finding(ErrorKind::Limit, p);
        }
        // None once the categories ended: a late category is already a finding.
        if let Some(parents) = &mut self.parents {
            parents.insert(c.id.to_string(), c.parent.as_ref().map(|p| p.to_string()));
        }
        self.tally.categories += 1;
        self.owner = Some((c.id.clone(), c.revision));
        self.deliver(|s| s.category(c));
        Ok(())
    }

    fn update(&mut self) -> Result<()> {
        let r: UpdateRecord = self.decode()?;
        self.close_categories();
        self.in_order(Section::Updates, &r.update.id);
        let mut bad = Vec::new();
        update_record_problems(&r, self.layout, &mut |m| bad.push(m));
        for m in bad {
            self.finding(ErrorKind::Corrupt, m);
        }
        if let Some(p) = update_limit_problem(&r) {
            self.finding(ErrorKind::Limit, p);
        }
        self.tally.count_update(&r);
        self.owner = Some((r.update.id.clone(), r.update.revision));
        self.deliver(|s| s.update(r));
        Ok(())
    }

    fn decision(&mut self) -> Result<()> {
        let d: Decision = self.decode()?;
        self.close_categories();
        self.in_order(Section::Decisions, &d.update);
        let mut bad = Vec::new();
        decision_record_problems(&d, &mut |m| bad.push(m));
        for m in bad {
            self.finding(ErrorKind::Corrupt, m);
        }
        self.tally.decisions += 1;
        self.owner = None;
        self.deliver(|s| s.decision(d));
        Ok(())
    }

    /// A document: right after the record of its id and revision, once, within the limit.
    fn document(&mut self) -> Result<()> {
        let d: DocumentRecord = self.decode()?;
        match self.owner.take() {
            Some((id, revision)) if id == d.id && revision == d.revision => {}
            _ => self.finding(
                ErrorKind::Corrupt,
                format!(
                    "the document of {} revision {} does not follow the record of that id and revision (or is listed twice)",
                    show_name(d.id.as_str().as_bytes()),
                    d.revision
                ),
            ),
        }
        if d.xml.len() > MAX_DOCUMENT_BYTES {
            self.finding(
                ErrorKind::Limit,
                format!(
                    "the document of {} revision {} has {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}",
                    d.id,
                    d.revision,
                    d.xml.len()
                ),
            );
        }
        self.tally.documents += 1;
        self.deliver(|s| s.document(d));
        Ok(())
    }

    /// The end record: counts and digest as read, the manifest's counts, nothing after it.
    fn end(&mut self, digest: [u8; 32], r: &mut dyn Read) -> Result<()> {
        let e: StreamEnd = self.decode()?;
        self.close_categories();
        let t = self.tally;
        let counted = t
            .against(e.categories, e.updates, e.removed, e.decisions)
            .into_iter()
            .chain([("documents", t.documents, e.documents)]);
        for (what, have, said) in counted {
            if have != said {
                self.finding(
                    ErrorKind::Corrupt,
                    format!("holds {have} {what}, its end record counts {said}"),
                );
            }
        }
        if e.sha256 != digest {
            self.finding(
                ErrorKind::Corrupt,
                format!(
                    "the metadata stream's SHA-256 is {}, its end record says {}",
                    hex::encode(digest),
                    hex::encode(e.sha256)
                ),
            );
        }
        if let Some(m) = self.m {
            let c = &m.counts;
            for (what, have, said) in t.against(c.categories, c.updates, c.removed, c.decisions) {
                if have != said {
                    self.finding(
                        ErrorKind::Corrupt,
                        format!("holds {have} {what}, the manifest counts {said}"),
                    );
                }
            }
        }
        let mut probe = [0u8; 1];
        if read_full(r, &mut probe)? > 0 {
            return Err(corrupt("metadata has trailing bytes after its end record"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
