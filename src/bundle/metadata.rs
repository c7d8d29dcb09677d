//! The metadata a bundle carries (`metadata.bin`): categories, update records and (from
//! envelope version 2) local decisions, encoded with bincode inside an envelope.
//!
//! bincode is not self-describing, so the bytes are wrapped: 8 magic bytes, a little-endian
//! u32 envelope version and a little-endian u64 payload length, then the payload. Decoding
//! checks each of these before bincode sees a byte, and bincode always runs with a size limit
//! derived from the payload length: without a limit, 13 hostile bytes are enough to make
//! bincode 2 ask the allocator for a terabyte and abort the process.

use super::manifest::{Layout, Manifest};
use super::names::{METADATA_ENTRY, show_name};
use super::verify::Finding;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Category, Guid, Update};
use bincode::config;
use bincode::error::DecodeError;
use std::collections::HashSet;
use std::io::{BufReader, Read};

/// The envelope's magic bytes.
pub const METADATA_MAGIC: [u8; 8] = *b"OFFSYNCM";
/// The single-value envelope version [`encode_metadata`] writes (that of format 2 bundles,
/// kept for tests and tools that build them); the bundle writer writes version 3, the record
/// stream ([`STREAM_METADATA_VERSION`]).
pub const METADATA_VERSION: u32 = 2;
/// The envelope versions this code reads: 1 has no decisions, 2 adds them, 3 is the stream of
/// bounded records (`bundle::stream`).
pub const SUPPORTED_METADATA_VERSIONS: &[u32] = &[1, 2, 3];
/// The envelope version whose header is followed by a stream of records instead of one
/// payload (its length field is reserved and 0).
pub const STREAM_METADATA_VERSION: u32 = 3;
/// Bytes before the payload: magic, version, length.
pub const ENVELOPE_HEADER_LEN: usize = 8 + 4 + 8;
/// Largest payload accepted (256 MiB: about 2.8 times the 91 MiB of 105,000 updates measured
/// in bench/TRANSFER-RESULTS.md). A larger length field is refused before any read, and the
/// manifest may not list a larger entry, so a small volume cannot inflate into a gigabyte
/// that verify and import would hold and decode.
pub const MAX_METADATA_BYTES: u64 = 256 << 20;

/// What happened to an update, as the exporting store last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub enum RecordState {
    /// Current and offered to clients.
    Published,
    /// Upstream expired it: kept for history, no longer offered.
    Expired,
    /// Upstream removed it: a tombstone the importing store applies.
    Removed,
}

/// One update revision with its state and the change sequence at which the source store last
/// changed it.
#[derive(Clone, Debug, PartialEq, bincode::Encode, bincode::Decode)]
pub struct UpdateRecord {
    pub update: Update,
    pub state: RecordState,
    pub changed_seq: u64,
}

/// A local decision of the exporting store about one update, carried apart from the update
/// (which the bundle carries only when it changed): declined, or a decline taken back.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Decision {
    pub update: Guid,
    pub declined: bool,
    /// The change sequence at which the source store made the decision.
    pub decided_seq: u64,
}

/// The upstream's own document of a category or update revision the bundle carries (the
/// `upd:Update` XML exactly as the upstream gave it), so that the importing store can publish
/// it to a WSUS server byte for byte. Version 3 streams only; it follows the record of its id
/// and revision.
#[derive(Clone, Debug, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct DocumentRecord {
    pub id: Guid,
    pub revision: u32,
    pub xml: Vec<u8>,
}

/// Everything `metadata.bin` holds. Encoded in the order given: the exporter sorts (categories
/// by id, updates by id and revision, decisions by update id) so that equal stores give equal
/// bytes.
#[derive(Clone, Debug, Default, PartialEq, bincode::Encode, bincode::Decode)]
pub struct BundleMetadata {
    pub categories: Vec<Category>,
    pub updates: Vec<UpdateRecord>,
    /// Envelope version 2 and later; empty when read from version 1.
    pub decisions: Vec<Decision>,
}

/// Envelope version 1's payload: no decisions.
#[derive(bincode::Decode)]
struct BundleMetadataV1 {
    categories: Vec<Category>,
    updates: Vec<UpdateRecord>,
}

impl From<BundleMetadataV1> for BundleMetadata {
    fn from(v1: BundleMetadataV1) -> BundleMetadata {
        BundleMetadata {
            categories: v1.categories,
            updates: v1.updates,
            decisions: Vec::new(),
        }
    }
}

impl BundleMetadata {
    /// Number of records that are tombstones.
    pub fn removed_count(&self) -> u64 {
        self.updates
            .iter()
            .filter(|r| r.state == RecordState::Removed)
            .count() as u64
    }
}

/// Encodes metadata into its envelope.
pub fn encode_metadata(md: &BundleMetadata) -> Result<Vec<u8>> {
    encode_metadata_capped(md, MAX_METADATA_BYTES)
}

/// [`encode_metadata`] with the payload cap as a parameter (so that a test can reach it
/// without encoding a gigabyte).
fn encode_metadata_capped(md: &BundleMetadata, cap: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(&METADATA_MAGIC);
    out.extend_from_slice(&METADATA_VERSION.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    bincode::encode_into_std_write(md, &mut out, config::standard())
        .map_err(|e| Error::other(format!("cannot encode the bundle metadata: {e}")))?;
    let len = (out.len() - ENVELOPE_HEADER_LEN) as u64;
    if len > cap {
        return Err(Error::new(
            ErrorKind::Limit,
            format!("the metadata encodes to {len} bytes, more than the format's limit of {cap}"),
        ));
    }
    out[12..20].copy_from_slice(&len.to_le_bytes());
    Ok(out)
}

/// Checks the envelope header and returns its version and the payload length it announces.
pub(super) fn check_header(h: &[u8; ENVELOPE_HEADER_LEN]) -> Result<(u32, u64)> {
    if h[..8] != METADATA_MAGIC {
        return Err(corrupt(format!(
            "metadata envelope has magic bytes {} ({}), expected {} (OFFSYNCM)",
            hex::encode(&h[..8]),
            crate::bundle::names::show_name(&h[..8]),
            hex::encode(METADATA_MAGIC)
        )));
    }
    let version = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    if !SUPPORTED_METADATA_VERSIONS.contains(&version) {
        let supported: Vec<String> = SUPPORTED_METADATA_VERSIONS
            .iter()
            .map(u32::to_string)
            .collect();
        return Err(corrupt(format!(
            "metadata envelope version {version} is not supported (this offsync reads version {})",
            supported.join(", ")
        ))
        .with_hint("import this bundle with the offsync version that wrote it, or a newer one"));
    }
    let len = u64::from_le_bytes(h[12..20].try_into().expect("8 bytes"));
    if version == STREAM_METADATA_VERSION {
        // A stream has no length up front (its writer does not know it yet); the field is
        // reserved so that a later version can give it a meaning.
        if len != 0 {
            return Err(corrupt(format!(
                "metadata envelope version 3 has {len} in its reserved field, which must be 0"
            )));
        }
        return Ok((version, 0));
    }
    if len > MAX_METADATA_BYTES {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "metadata envelope announces {len} bytes, more than the limit of {MAX_METADATA_BYTES}"
            ),
        ));
    }
    Ok((version, len))
}

/// bincode's limit counts the memory it is about to claim (a container's length times its
/// element size, and the in-memory width of every integer), which for honest metadata stays
/// well under 64 times the encoded length (an empty string claims 8 bytes for its 1-byte
/// length, a small varint up to 8 for 1 byte, and a container's claim is given back element
/// by element as they are decoded).
pub const CLAIM_FACTOR: u64 = 64;
/// Smallest claim limit: 1 MiB (every payload up to 16 KiB gets it).
pub const MIN_CLAIM_LIMIT: u64 = 1 << 20;
/// Largest claim limit, whatever the payload: 1 GiB. A claim is reserved at once (a
/// container's capacity), so the limit must stay below what any machine running import can
/// allocate, or a hostile length field aborts the process instead of failing cleanly (found
/// by fuzzing: 64 GiB for a 600 MiB payload aborted). Claims are given back as elements are
/// decoded, so 1 GiB outstanding still decodes millions of update records.
pub const MAX_CLAIM_LIMIT: u64 = 1 << 30;

/// The claim limit bincode decodes a payload of `len` bytes with: the smallest power of two
/// that is at least `len * CLAIM_FACTOR` and at least [`MIN_CLAIM_LIMIT`]. bincode takes the
/// limit as a const parameter, hence powers of two; they keep the limit below
/// `2 * CLAIM_FACTOR * len` (for payloads over 16 KiB), so the largest allocation a hostile
/// length field can obtain is proportional to the bytes that were actually sent.
pub fn claim_limit(len: u64) -> u64 {
    len.saturating_mul(CLAIM_FACTOR)
        .max(MIN_CLAIM_LIMIT)
        .checked_next_power_of_two()
        .unwrap_or(u64::MAX)
        .min(MAX_CLAIM_LIMIT)
}

/// Runs `$body` with `$cfg` bound to bincode's standard configuration limited to
/// [`claim_limit`]`($len)`: one arm per power of two from [`MIN_CLAIM_LIMIT`] (2^20) up to
/// [`MAX_CLAIM_LIMIT`] (2^30, the last arm: no limit is larger).
macro_rules! with_claim_limit {
    ($len:expr, |$cfg:ident| $body:expr) => {
        with_claim_limit!(@arms claim_limit($len), $cfg, $body;
            20, 21, 22, 23, 24, 25, 26, 27, 28, 29)
    };
    (@arms $limit:expr, $cfg:ident, $body:expr; $($bits:literal),+) => {{
        let limit: u64 = $limit;
        $(
            if limit <= 1u64 << $bits {
                let $cfg = config::standard().with_limit::<{ 1usize << $bits }>();
                $body
            } else
        )+
        {
            let $cfg = config::standard().with_limit::<{ MAX_CLAIM_LIMIT as usize }>();
            $body
        }
    }};
}

// The arms above stop at 2^29 and the last one is MAX_CLAIM_LIMIT: it must be the next power.
const _: () = assert!(MAX_CLAIM_LIMIT == 1 << 30 && MIN_CLAIM_LIMIT == 1 << 20);

/// Decodes one `T` from the start of `bytes` with the claim limit of `bytes.len()`, returning
/// it and the bytes used: a stream record is decoded with the limit its own length justifies.
pub(super) fn decode_bounded<T: bincode::Decode<()>>(
    bytes: &[u8],
) -> std::result::Result<(T, usize), DecodeError> {
    with_claim_limit!(bytes.len() as u64, |c| bincode::decode_from_slice::<T, _>(
        bytes, c
    ))
}

/// Decodes metadata from its envelope held in memory. Trailing bytes after the payload, or a
/// payload that bincode does not consume entirely, are corruption.
pub fn decode_metadata(bytes: &[u8]) -> Result<BundleMetadata> {
    let Some(head) = bytes.first_chunk::<ENVELOPE_HEADER_LEN>() else {
        return Err(corrupt(format!(
            "metadata envelope is truncated: {} bytes, the header alone needs {ENVELOPE_HEADER_LEN}",
            bytes.len()
        )));
    };
    let (version, len) = check_header(head)?;
    if version == STREAM_METADATA_VERSION {
        return super::stream::decode_stream(&mut &bytes[ENVELOPE_HEADER_LEN..]);
    }
    let payload = &bytes[ENVELOPE_HEADER_LEN..];
    let have = payload.len() as u64;
    if have < len {
        return Err(corrupt(format!(
            "metadata is truncated: the envelope announces {len} bytes, {have} follow"
        )));
    }
    if have > len {
        return Err(corrupt(format!(
            "metadata has {} trailing bytes after the {len} bytes its envelope announces",
            have - len
        )));
    }
    let (md, used) = if version == 1 {
        with_claim_limit!(len, |c| bincode::decode_from_slice::<BundleMetadataV1, _>(
            payload, c
        ))
        .map(|(md, used)| (md.into(), used))
    } else {
        with_claim_limit!(len, |c| bincode::decode_from_slice::<BundleMetadata, _>(
            payload, c
        ))
    }
    .map_err(decode_error)?;
    if used != payload.len() {
        return Err(corrupt(format!(
            "metadata payload has {} trailing bytes that the decoder did not use",
            payload.len() - used
        )));
    }
    Ok(md)
}

/// Decodes metadata from a stream (for instance straight out of a ZIP entry), with the same
/// checks as [`decode_metadata`] and without holding the encoded bytes: the stream must end
/// exactly where the payload ends.
pub fn decode_metadata_from_reader(r: &mut dyn Read) -> Result<BundleMetadata> {
    let (version, len) = read_header(r)?;
    if version == STREAM_METADATA_VERSION {
        return super::stream::decode_stream(r);
    }
    decode_payload_from_reader(version, len, r)
}

/// Reads and checks the envelope header: the version and the payload length it announces.
pub(super) fn read_header(r: &mut dyn Read) -> Result<(u32, u64)> {
    let mut head = [0u8; ENVELOPE_HEADER_LEN];
    let n = read_full(r, &mut head)?;
    if n < ENVELOPE_HEADER_LEN {
        return Err(corrupt(format!(
            "metadata envelope is truncated: {n} bytes, the header alone needs {ENVELOPE_HEADER_LEN}"
        )));
    }
    check_header(&head)
}

/// Decodes a version 1 or 2 payload of `len` bytes whose header was read, and checks that
/// the stream ends with it.
pub(super) fn decode_payload_from_reader(
    version: u32,
    len: u64,
    r: &mut dyn Read,
) -> Result<BundleMetadata> {
    let mut payload = BufReader::with_capacity(64 * 1024, (&mut *r).take(len));
    let md = if version == 1 {
        with_claim_limit!(len, |c| bincode::decode_from_std_read::<
            BundleMetadataV1,
            _,
            _,
        >(&mut payload, c))
        .map(BundleMetadata::from)
    } else {
        with_claim_limit!(
            len,
            |c| bincode::decode_from_std_read::<BundleMetadata, _, _>(&mut payload, c)
        )
    }
    .map_err(decode_error)?;
    // Whatever bincode left in the payload is corruption, and so is whatever follows it.
    let left = payload.buffer().len() as u64 + payload.get_ref().limit();
    if left > 0 {
        return Err(corrupt(format!(
            "metadata payload has {left} trailing bytes that the decoder did not use"
        )));
    }
    drop(payload);
    let mut probe = [0u8; 1];
    if read_full(r, &mut probe)? > 0 {
        return Err(corrupt(format!(
            "metadata has trailing bytes after the {len} bytes its envelope announces"
        )));
    }
    Ok(md)
}

/// Largest size a file reference in the metadata may declare: 1 TiB, the size cap of one
/// entry. Update payloads are far smaller; a larger size is a lie that would only confuse
/// clients and the store's own checks.
pub const MAX_FILE_REF_BYTES: u64 = 1 << 40;
/// Most findings [`metadata_problems`] lists; one more says how many were left out.
const MAX_METADATA_FINDINGS: usize = 50;

/// Well-formed but wrong: metadata that decodes but disagrees with the manifest or with
/// itself. Checked by `verify` and again by the reader, before any store sees a record.
///
/// - the manifest's `counts` (categories, updates, removed) equal what the metadata holds;
/// - no category id and no update id appears twice (the store keys both by id);
/// - every GUID is in canonical form (36 characters, lowercase hex): bincode does not run
///   [`Guid::parse`], so without this check a GUID could be any string;
/// - no file reference declares more than [`MAX_FILE_REF_BYTES`], and a file reference
///   whose SHA-256 names a content file the bundle carries declares that file's size.
///
/// A file reference whose content the bundle does not carry is not a problem: the exporter
/// leaves out content its store lacks, and the importing store records it as missing.
pub(crate) fn metadata_problems(
    md: &BundleMetadata,
    m: &Manifest,
    layout: &Layout,
) -> Vec<Finding> {
    const SUBJECT: &str = METADATA_ENTRY;
    let mut out: Vec<Finding> = Vec::new();
    let mut left_out = 0usize;
    let mut bad = |message: String| {
        if out.len() < MAX_METADATA_FINDINGS {
            out.push(Finding::new(ErrorKind::Corrupt, SUBJECT, message));
        } else {
            left_out += 1;
        }
    };
    let counted = [
        (
            "categories",
            md.categories.len() as u64,
            m.counts.categories,
        ),
        ("updates", md.updates.len() as u64, m.counts.updates),
        ("removed updates", md.removed_count(), m.counts.removed),
        ("decisions", md.decisions.len() as u64, m.counts.decisions),
    ];
    for (what, have, said) in counted {
        if have != said {
            bad(format!("holds {have} {what}, the manifest counts {said}"));
        }
    }
    let mut seen: HashSet<&Guid> = HashSet::with_capacity(md.categories.len());
    for c in &md.categories {
        category_record_problems(c, &mut bad);
        if !seen.insert(&c.id) {
            bad(format!(
                "lists category {} twice",
                show_name(c.id.as_str().as_bytes())
            ));
        }
    }
    let mut seen: HashSet<&Guid> = HashSet::with_capacity(md.updates.len());
    for r in &md.updates {
        update_record_problems(r, layout, &mut bad);
        if !seen.insert(&r.update.id) {
            bad(format!(
                "lists update {} twice",
                show_name(r.update.id.as_str().as_bytes())
            ));
        }
    }
    let mut seen: HashSet<&Guid> = HashSet::with_capacity(md.decisions.len());
    for d in &md.decisions {
        decision_record_problems(d, &mut bad);
        if !seen.insert(&d.update) {
            bad(format!(
                "lists a decision about update {} twice",
                show_name(d.update.as_str().as_bytes())
            ));
        }
    }
    if left_out > 0 {
        out.push(Finding::new(
            ErrorKind::Corrupt,
            SUBJECT,
            format!("and {left_out} more problem(s) of this kind"),
        ));
    }
    out
}

// The per-record checks below are shared by the whole-value path (`metadata_problems`) and
// the record stream (`bundle::stream`), so that both refuse the same records.

fn bad_guid(what: &str, g: &Guid, bad: &mut dyn FnMut(String)) {
    if Guid::parse(g.as_str()).as_ref() != Some(g) {
        bad(format!(
            "{what} {} is not a GUID in canonical form",
            show_name(g.as_str().as_bytes())
        ));
    }
}

/// A category's id and parent are canonical GUIDs.
pub(super) fn category_record_problems(c: &Category, bad: &mut dyn FnMut(String)) {
    bad_guid("category id", &c.id, bad);
    if let Some(p) = &c.parent {
        bad_guid("parent of a category", p, bad);
    }
}

/// An update record's GUIDs are canonical and its file references declare believable sizes
/// (at most [`MAX_FILE_REF_BYTES`], and the size of the content file the bundle carries).
pub(super) fn update_record_problems(
    r: &UpdateRecord,
    layout: &Layout,
    bad: &mut dyn FnMut(String),
) {
    let u = &r.update;
    let id = show_name(u.id.as_str().as_bytes());
    bad_guid("update id", &u.id, bad);
    for g in u.categories.iter().chain(&u.supersedes) {
        bad_guid(&format!("a GUID cited by update {id}"), g, bad);
    }
    for b in &u.bundled {
        bad_guid(&format!("a bundled update of {id}"), &b.id, bad);
    }
    for f in &u.files {
        let Some(size) = f.size else { continue };
        let name = show_name(f.name.as_bytes());
        if size > MAX_FILE_REF_BYTES {
            bad(format!(
                "update {id} declares file {name} of {size} bytes, more than the limit of {MAX_FILE_REF_BYTES}"
            ));
        } else if let Some(carried) = f.sha256.and_then(|h| layout.files.get(&h))
            && carried.size != size
        {
            bad(format!(
                "update {id} declares file {name} of {size} bytes, the bundle carries it with {} bytes",
                carried.size
            ));
        }
    }
}

/// A decision names its update by a canonical GUID.
pub(super) fn decision_record_problems(d: &Decision, bad: &mut dyn FnMut(String)) {
    if Guid::parse(d.update.as_str()).as_ref() != Some(&d.update) {
        bad(format!(
            "the update {} of a decision is not a GUID in canonical form",
            show_name(d.update.as_str().as_bytes())
        ));
    }
}

pub(super) fn decode_error(e: DecodeError) -> Error {
    match e {
        DecodeError::LimitExceeded => Error::new(
            ErrorKind::Limit,
            "metadata asks for more memory than its size can justify (a length field is out of bounds)",
        ),
        DecodeError::UnexpectedEnd { .. } => {
            corrupt("metadata is truncated: the payload ends inside a record")
        }
        DecodeError::Io { inner, .. } if inner.kind() == std::io::ErrorKind::UnexpectedEof => {
            corrupt("metadata is truncated: the payload ends inside a record")
        }
        other => corrupt(format!("metadata cannot be decoded: {other}")),
    }
}

/// Reads until `buf` is full or the stream ends; returns how many bytes were read.
pub(super) fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(corrupt(format!("cannot read the metadata: {e}"))),
        }
    }
    Ok(n)
}

pub(super) fn corrupt(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Corrupt, msg)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{CategoryKind, FileRef, Guid, Localized, PublicationState};
    use std::collections::BTreeMap;

    pub(crate) fn sample() -> BundleMetadata {
        let g = |i: u32| Guid::parse(&format!("{i:08x}-0000-4000-8000-000000000000")).unwrap();
        let categories = (0..3)
            .map(|i| Category {
                id: g(i),
                revision: 1,
                kind: CategoryKind::Product,
                title: format!("Product {i}"),
                parent: None,
            })
            .collect();
        let updates = (0..5)
            .map(|i| {
                let mut localized = BTreeMap::new();
                localized.insert(
                    "en".to_string(),
                    Localized {
                        title: format!("Update {i}"),
                        description: None,
                    },
                );
                UpdateRecord {
                    update: Update {
                        id: g(100 + i),
                        revision: 200 + i,
                        update_type: "Software".into(),
                        default_language: Some("en".into()),
                        localized,
                        kb: Some(format!("50{i}")),
                        severity: None,
                        creation_date: Some("2024-01-01T00:00:00Z".into()),
                        languages: vec![],
                        categories: vec![g(0)],
                        publication_state: PublicationState::Published,
                        supersedes: vec![],
                        bundled: vec![],
                        files: vec![FileRef {
                            name: format!("f{i}.cab"),
                            size: Some(10),
                            sha1: Some([1; 20]),
                            sha256: Some([2; 32]),
                            url: None,
                        }],
                    },
                    state: if i == 4 {
                        RecordState::Removed
                    } else {
                        RecordState::Published
                    },
                    changed_seq: u64::from(i) + 1,
                }
            })
            .collect();
        BundleMetadata {
            categories,
            updates,
            decisions: vec![Decision {
                update: g(100),
                declined: true,
                decided_seq: 9,
            }],
        }
    }

    /// A small value that uses every field of the metadata once.
    pub(crate) fn golden_value() -> BundleMetadata {
        let g = |s: &str| Guid::parse(s).unwrap();
        let mut localized = BTreeMap::new();
        localized.insert(
            "en".to_string(),
            Localized {
                title: "T".into(),
                description: Some("D".into()),
            },
        );
        BundleMetadata {
            categories: vec![Category {
                id: g("00000000-0000-4000-8000-000000000001"),
                revision: 7,
                kind: CategoryKind::Product,
                title: "P".into(),
                parent: Some(g("00000000-0000-4000-8000-000000000002")),
            }],
            updates: vec![UpdateRecord {
                update: Update {
                    id: g("00000000-0000-4000-8000-000000000003"),
                    revision: 300,
                    update_type: "Software".into(),
                    default_language: Some("en".into()),
                    localized,
                    kb: Some("5001".into()),
                    severity: Some("Critical".into()),
                    creation_date: Some("2024-01-01T00:00:00Z".into()),
                    languages: vec!["de".into()],
                    categories: vec![g("00000000-0000-4000-8000-000000000001")],
                    publication_state: PublicationState::Expired,
                    supersedes: vec![g("00000000-0000-4000-8000-000000000004")],
                    bundled: vec![crate::model::BundledRef {
                        id: g("00000000-0000-4000-8000-000000000005"),
                        revision: Some(2),
                    }],
                    files: vec![FileRef {
                        name: "f.cab".into(),
                        size: Some(70_000),
                        sha1: Some([0x11; 20]),
                        sha256: Some([0x22; 32]),
                        url: Some("http://x/f.cab".into()),
                    }],
                },
                state: RecordState::Removed,
                changed_seq: 1_000,
            }],
            decisions: vec![Decision {
                update: g("00000000-0000-4000-8000-000000000006"),
                declined: true,
                decided_seq: 1_001,
            }],
        }
    }

    /// The golden value's envelope, byte for byte. A change here is a change of the bundle
    /// format (a bincode update, a field added to the model): it needs a new envelope version,
    /// not a new constant.
    const GOLDEN_ENVELOPE: &str = concat!(
        "4f464653594e434d02000000af01000000000000012430303030303030302d303030302d34303030",
        "2d383030302d30303030303030303030303107020150012430303030303030302d303030302d3430",
        "30302d383030302d303030303030303030303032012430303030303030302d303030302d34303030",
        "2d383030302d303030303030303030303033fb2c0108536f6674776172650102656e0102656e0154",
        "0101440104353030310108437269746963616c0114323032342d30312d30315430303a30303a3030",
        "5a01026465012430303030303030302d303030302d343030302d383030302d303030303030303030",
        "30303101012430303030303030302d303030302d343030302d383030302d30303030303030303030",
        "3034012430303030303030302d303030302d343030302d383030302d303030303030303030303035",
        "01020105662e63616201fc7011010001111111111111111111111111111111111111111101222222",
        "2222222222222222222222222222222222222222222222222222222222010e687474703a2f2f782f",
        "662e63616202fbe803012430303030303030302d303030302d343030302d383030302d3030303030",
        "3030303030303601fbe903",
    );

    /// The same value as envelope version 1 wrote it (without the decision): a newer reader
    /// still reads it, with no decisions.
    const GOLDEN_ENVELOPE_V1: &str = concat!(
        "4f464653594e434d010000008501000000000000012430303030303030302d303030302d34303030",
        "2d383030302d30303030303030303030303107020150012430303030303030302d303030302d3430",
        "30302d383030302d303030303030303030303032012430303030303030302d303030302d34303030",
        "2d383030302d303030303030303030303033fb2c0108536f6674776172650102656e0102656e0154",
        "0101440104353030310108437269746963616c0114323032342d30312d30315430303a30303a3030",
        "5a01026465012430303030303030302d303030302d343030302d383030302d303030303030303030",
        "30303101012430303030303030302d303030302d343030302d383030302d30303030303030303030",
        "3034012430303030303030302d303030302d343030302d383030302d303030303030303030303035",
        "01020105662e63616201fc7011010001111111111111111111111111111111111111111101222222",
        "2222222222222222222222222222222222222222222222222222222222010e687474703a2f2f782f",
        "662e63616202fbe803",
    );

    /// The golden envelope deflated as `metadata.bin` is stored: a flate2 or zlib-rs update
    /// that changes these bytes makes equal stores give different bundles.
    const GOLDEN_DEFLATED: &str = concat!(
        "f377730b8ef473f66562606058cfc800068c2a0650a00b264c4084058c0b0586ec4c8c0144a93422",
        "4a95f16f1d468ee0fcb492f2c4a25446a6d43c300e61647461643135303064e4702eca2cc94c4ecc",
        "611431323032d13530d435300c3130b002a32846a69454e21cce48943213a25499323231b2a6e925",
        "272631fe291064646014c4021895080046be8c9292022b7dfd0a7db0594cbf5f301365bd19e3ef97",
        "cc00",
    );

    #[test]
    fn the_metadata_encoding_is_pinned_to_golden_bytes() {
        let md = golden_value();
        let bytes = encode_metadata(&md).unwrap();
        let deflated = crate::bundle::zipfmt::deflate(&bytes).unwrap();
        assert_eq!(hex::encode(&bytes), GOLDEN_ENVELOPE);
        assert_eq!(
            decode_metadata(&hex::decode(GOLDEN_ENVELOPE).unwrap()).unwrap(),
            md
        );
        assert_eq!(hex::encode(&deflated), GOLDEN_DEFLATED);
    }

    #[test]
    fn envelope_version_1_still_decodes_without_decisions() {
        let mut md = golden_value();
        md.decisions.clear();
        let v1 = hex::decode(GOLDEN_ENVELOPE_V1).unwrap();
        let (a, b) = both(&v1);
        assert_eq!(a.unwrap(), md);
        assert_eq!(b.unwrap(), md);
        let mut v4 = v1.clone();
        v4[8] = 4;
        let err = decode_metadata(&v4).unwrap_err();
        assert!(err.message.contains("version 4") && err.message.contains("1, 2, 3"));
    }

    fn envelope(version: u32, len: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = METADATA_MAGIC.to_vec();
        v.extend_from_slice(&version.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn both(bytes: &[u8]) -> (Result<BundleMetadata>, Result<BundleMetadata>) {
        (
            decode_metadata(bytes),
            decode_metadata_from_reader(&mut &bytes[..]),
        )
    }

    #[test]
    fn round_trip_in_memory_and_streaming() {
        let md = sample();
        let bytes = encode_metadata(&md).unwrap();
        assert_eq!(&bytes[..8], b"OFFSYNCM");
        let (a, b) = both(&bytes);
        assert_eq!(a.unwrap(), md);
        assert_eq!(b.unwrap(), md);
        assert_eq!(md.removed_count(), 1);
        let empty = encode_metadata(&BundleMetadata::default()).unwrap();
        assert_eq!(decode_metadata(&empty).unwrap(), BundleMetadata::default());
    }

    #[test]
    fn envelope_problems_are_corrupt_and_say_what_they_found() {
        let good = encode_metadata(&sample()).unwrap();

        let mut bad_magic = good.clone();
        bad_magic[..8].copy_from_slice(b"PK\x03\x04xxxx");
        for r in [both(&bad_magic).0, both(&bad_magic).1] {
            let e = r.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Corrupt);
            assert!(
                e.message.contains("magic") && e.message.contains("504b0304"),
                "{}",
                e.message
            );
        }

        let mut future = good.clone();
        future[8..12].copy_from_slice(&7u32.to_le_bytes());
        for r in [both(&future).0, both(&future).1] {
            let e = r.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Corrupt);
            assert!(
                e.message.contains("version 7") && e.message.contains("version 1"),
                "{}",
                e.message
            );
        }

        let mut trailing = good.clone();
        trailing.extend_from_slice(b"junk");
        for r in [both(&trailing).0, both(&trailing).1] {
            let e = r.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Corrupt);
            assert!(e.message.contains("trailing"), "{}", e.message);
        }

        // Trailing bytes inside the announced payload (the length covers them).
        let payload_len = good.len() - ENVELOPE_HEADER_LEN;
        let inner = envelope(
            1,
            payload_len as u64 + 3,
            &[&good[ENVELOPE_HEADER_LEN..], &b"abc"[..]].concat(),
        );
        for r in [both(&inner).0, both(&inner).1] {
            let e = r.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Corrupt);
            assert!(e.message.contains("trailing"), "{}", e.message);
        }

        let truncated = &good[..good.len() - 5];
        for r in [both(truncated).0, both(truncated).1] {
            assert_eq!(r.unwrap_err().kind, ErrorKind::Corrupt);
        }
        for r in [both(&good[..10]).0, both(&good[..10]).1] {
            assert_eq!(r.unwrap_err().kind, ErrorKind::Corrupt);
        }
    }

    #[test]
    fn a_terabyte_length_prefix_is_a_limit_error_quickly() {
        let started = std::time::Instant::now();
        // The envelope itself announces 1 TiB.
        let e = decode_metadata(&envelope(1, 1 << 40, &[])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
        let e = decode_metadata_from_reader(&mut &envelope(1, 1 << 40, &[])[..]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);

        // A 9-byte payload whose bincode varint says the category list has 2^40 elements.
        let mut payload = vec![0xfd];
        payload.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let bytes = envelope(1, payload.len() as u64, &payload);
        assert_eq!(bytes.len(), 29);
        for r in [both(&bytes).0, both(&bytes).1] {
            let e = r.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Limit, "{}", e.message);
        }

        // One category whose id string claims 2^40 bytes.
        let mut payload = vec![1, 0xfd];
        payload.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let bytes = envelope(1, payload.len() as u64, &payload);
        for r in [both(&bytes).0, both(&bytes).1] {
            assert_eq!(r.unwrap_err().kind, ErrorKind::Limit);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn the_claim_limit_leaves_room_for_honest_metadata() {
        // Sparse records (empty strings and lists) claim the most memory per encoded byte.
        let sparse = |n: u32| {
            let mut md = sample();
            let mut u = md.updates[0].clone();
            u.update.localized.clear();
            u.update.files = vec![
                FileRef {
                    name: String::new(),
                    size: None,
                    sha1: None,
                    sha256: None,
                    url: None
                };
                50
            ];
            u.update.categories.clear();
            u.update.kb = None;
            u.update.creation_date = None;
            md.updates = vec![u; n as usize];
            md
        };
        for n in [1, 100, 5000] {
            let md = sparse(n);
            let bytes = encode_metadata(&md).unwrap();
            assert_eq!(
                decode_metadata(&bytes).unwrap(),
                md,
                "{n} records, {} bytes",
                bytes.len()
            );
        }
        // The worst shape for the claim: one update with many empty file references (a
        // container claims its length times 120-odd bytes for 5 bytes per element).
        let mut md = sparse(1);
        md.updates[0].update.files = vec![md.updates[0].update.files[0].clone(); 100_000];
        let bytes = encode_metadata(&md).unwrap();
        assert_eq!(decode_metadata(&bytes).unwrap(), md);
    }

    #[test]
    fn claim_limits_are_powers_of_two_between_64_and_128_times_the_payload() {
        assert_eq!(claim_limit(0), MIN_CLAIM_LIMIT);
        assert_eq!(claim_limit(13), 1 << 20);
        assert_eq!(claim_limit(16_384), 1 << 20);
        assert_eq!(claim_limit(16_385), 2 << 20);
        assert_eq!(claim_limit(MAX_METADATA_BYTES), MAX_CLAIM_LIMIT);
        assert_eq!(claim_limit(u64::MAX), MAX_CLAIM_LIMIT);
        assert_eq!(MAX_CLAIM_LIMIT, 1 << 30);
        for len in [16_385u64, 100_000, 1 << 22, (1 << 22) + 1] {
            let l = claim_limit(len);
            assert!(l.is_power_of_two(), "{len}");
            assert!(
                l >= len * CLAIM_FACTOR && l < 2 * len * CLAIM_FACTOR,
                "{len}: {l}"
            );
        }
    }

    /// A payload whose category list claims `n` elements, then `pad` zero bytes (each 5 zero
    /// bytes decode as one empty category).
    fn claiming(n: u64, pad: usize) -> Vec<u8> {
        let mut p = vec![0xfd];
        p.extend_from_slice(&n.to_le_bytes());
        p.resize(p.len() + pad, 0);
        envelope(1, p.len() as u64, &p)
    }

    #[test]
    fn the_claim_limit_holds_at_its_edges() {
        let s = std::mem::size_of::<Category>() as u64;
        // Just under the 1 MiB limit (the length itself claims 8 bytes): decoded on, then
        // truncated. Just over: a limit error, before any allocation.
        for (n, pad, kind) in [
            (((1 << 20) - 64) / s, 64, ErrorKind::Corrupt),
            ((1 << 20) / s + 1, 64, ErrorKind::Limit),
            // 16,385 bytes of payload get the next power of two, 2 MiB.
            ((1 << 20) / s + 1, 16_385 - 9, ErrorKind::Corrupt),
            ((2 << 20) / s + 1, 16_385 - 9, ErrorKind::Limit),
        ] {
            let bytes = claiming(n, pad);
            for r in [both(&bytes).0, both(&bytes).1] {
                assert_eq!(r.unwrap_err().kind, kind, "{n} elements, {pad} padding");
            }
        }
    }

    #[test]
    fn the_payload_cap_holds_at_its_edges() {
        // At the cap the envelope is fine and the payload missing; one more is a limit.
        for (len, kind) in [
            (MAX_METADATA_BYTES, ErrorKind::Corrupt),
            (MAX_METADATA_BYTES + 1, ErrorKind::Limit),
        ] {
            let bytes = envelope(1, len, &[]);
            for r in [both(&bytes).0, both(&bytes).1] {
                assert_eq!(r.unwrap_err().kind, kind, "{len}");
            }
        }
        // Encoding: the same comparison, with a cap small enough to reach.
        let md = sample();
        let len = (encode_metadata(&md).unwrap().len() - ENVELOPE_HEADER_LEN) as u64;
        assert!(encode_metadata_capped(&md, len).is_ok());
        let e = encode_metadata_capped(&md, len - 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit);
    }
}
