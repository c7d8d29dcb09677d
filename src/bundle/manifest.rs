//! `manifest.json`: the root of trust of a bundle (the hardening issue signs its bytes).
//!
//! Human-readable JSON with `format_version` first. The reader checks the version before it
//! looks at any other field, and then checks that the manifest agrees with itself (ids,
//! names, entry layout, counts) before any volume is opened, because every later check
//! compares volume bytes with what the manifest says.

use super::names::{self, EntryName};
use super::verify::Finding;
use crate::error::{Error, ErrorKind, Result};
use crate::model::Guid;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};

/// The format version this code writes.
pub const FORMAT_VERSION: u32 = 1;
/// Every format version this code reads.
pub const SUPPORTED_FORMAT_VERSIONS: &[u32] = &[1];
/// Largest manifest accepted, checked before it is read.
pub const MAX_MANIFEST_BYTES: u64 = 128 << 20;
/// Most entries one bundle may list.
pub const MAX_ENTRIES: usize = 1_000_000;
/// Most volumes one bundle may have.
pub const MAX_VOLUMES: usize = 9_999;
/// Largest size of a single entry (content piece or whole file): 1 TiB.
pub const MAX_ENTRY_BYTES: u64 = 1 << 40;
/// Largest size of a volume: 1 TiB.
pub const MAX_VOLUME_BYTES: u64 = 1 << 40;

/// The caps a manifest is checked against ([`Limits::FORMAT`]: those of the format).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub volumes: usize,
    pub volume_bytes: u64,
    pub entries: usize,
    pub entry_bytes: u64,
    /// Largest `metadata.bin` entry: the payload cap plus the envelope header.
    pub metadata_bytes: u64,
}

impl Limits {
    pub const FORMAT: Limits = Limits {
        volumes: MAX_VOLUMES,
        volume_bytes: MAX_VOLUME_BYTES,
        entries: MAX_ENTRIES,
        entry_bytes: MAX_ENTRY_BYTES,
        metadata_bytes: super::metadata::MAX_METADATA_BYTES
            + super::metadata::ENVELOPE_HEADER_LEN as u64,
    };
}

/// A SHA-256 digest that reads and writes as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex(pub [u8; 32]);

impl std::fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sha256Hex({})", hex::encode(self.0))
    }
}

impl std::fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        names::parse_lower_hex64(&s).map(Sha256Hex).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not 64 lowercase hex digits"))
        })
    }
}

/// Full or incremental.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundleKind {
    /// Everything the criteria select; applies on any older state and closes any gap.
    Full,
    /// The changes after `base_sequence`; applies only on top of it.
    Incremental,
}

/// Which store exported the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSource {
    pub store_id: String,
    pub store_name: String,
}

/// The store change sequences the bundle covers: after `from`, up to and including `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRange {
    pub from: u64,
    pub to: u64,
}

/// The selection the exporting store applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCriteria {
    pub products: Vec<Guid>,
    pub classifications: Vec<Guid>,
    pub languages: Vec<String>,
}

/// Totals, for people and for a cheap consistency check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub categories: u64,
    pub updates: u64,
    pub removed: u64,
    pub content_files: u64,
    pub content_bytes: u64,
}

/// One volume file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeInfo {
    pub name: String,
    pub size: u64,
    pub sha256: Sha256Hex,
}

/// One entry inside a volume (every entry except the volume headers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryInfo {
    pub path: String,
    pub size: u64,
    pub sha256: Sha256Hex,
    /// Volume index, from 1.
    pub volume: u32,
    /// For a piece: the SHA-256 of the whole content file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<Sha256Hex>,
    /// For a piece: where it starts in the whole content file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// The manifest. Field order is the JSON order; `format_version` is first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub bundle_id: String,
    pub source: ManifestSource,
    pub sequence: u64,
    pub kind: BundleKind,
    pub base_sequence: Option<u64>,
    pub changes: ChangeRange,
    pub criteria: ManifestCriteria,
    /// RFC 3339 UTC.
    pub created: String,
    /// RFC 3339 UTC; reserved for the hardening issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    pub tool_version: String,
    pub counts: Counts,
    pub volumes: Vec<VolumeInfo>,
    pub entries: Vec<EntryInfo>,
}

/// Just the version, read first so that a manifest of another version is named as such
/// instead of failing on whichever field changed.
#[derive(Deserialize)]
struct VersionProbe {
    format_version: Option<serde_json::Value>,
}

impl Manifest {
    /// Parses manifest bytes: JSON, then the format version, then the full structure. Does
    /// not check consistency: see [`Manifest::problems`].
    pub fn parse(bytes: &[u8]) -> Result<Manifest> {
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "manifest of {} bytes exceeds the limit of {MAX_MANIFEST_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let probe: VersionProbe = serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                ErrorKind::Corrupt,
                format!("manifest.json is not valid JSON: {e}"),
            )
        })?;
        let supported = SUPPORTED_FORMAT_VERSIONS
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        match probe.format_version {
            None => {
                return Err(Error::new(
                    ErrorKind::Corrupt,
                    format!(
                        "manifest.json has no format_version (this offsync reads format version {supported})"
                    ),
                ));
            }
            Some(v) => {
                let known = v
                    .as_u64()
                    .is_some_and(|n| SUPPORTED_FORMAT_VERSIONS.iter().any(|s| u64::from(*s) == n));
                if !known {
                    return Err(Error::new(
                        ErrorKind::Corrupt,
                        format!("manifest.json has format_version {v}; this offsync reads format version {supported}"),
                    )
                    .with_hint("use an offsync release that supports this bundle format"));
                }
            }
        }
        serde_json::from_slice(bytes).map_err(|e| {
            Error::new(
                ErrorKind::Corrupt,
                format!("manifest.json does not match format version 1: {e}"),
            )
        })
    }

    /// The manifest as written to disk: pretty JSON and a final newline.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        v.push(b'\n');
        v
    }

    /// The bundle folder name this manifest implies.
    pub fn bundle_name(&self) -> String {
        names::bundle_name(&self.source.store_name, self.sequence)
    }

    /// Every way the manifest disagrees with itself or with the format's limits, in the order
    /// checked. An empty list means the layout can be trusted to drive the volume checks.
    pub fn problems(&self) -> Vec<Finding> {
        self.problems_within(&Limits::FORMAT)
    }

    /// [`Manifest::problems`] against other limits (tests reach a cap of a million entries
    /// with a handful).
    pub(crate) fn problems_within(&self, limits: &Limits) -> Vec<Finding> {
        let Limits {
            volumes: max_volumes,
            volume_bytes: max_volume_bytes,
            entries: max_entries,
            entry_bytes: max_entry_bytes,
            metadata_bytes: max_metadata_bytes,
        } = *limits;
        let mut out = Vec::new();
        let mut bad = |kind: ErrorKind, subject: &str, message: String| {
            out.push(Finding {
                kind,
                subject: subject.to_string(),
                message,
            })
        };
        const M: &str = "manifest.json";
        let c = ErrorKind::Corrupt;
        if self.source.store_id.is_empty() {
            bad(c, M, "source.store_id is empty".into());
        }
        let expected_id = names::bundle_id(&self.source.store_id, self.sequence);
        if self.bundle_id != expected_id {
            bad(
                c,
                M,
                format!(
                    "bundle_id {} does not match its source store and sequence (expected {expected_id})",
                    names::show_name(self.bundle_id.as_bytes())
                ),
            );
        }
        match (self.kind, self.base_sequence) {
            (BundleKind::Full, Some(b)) => bad(
                c,
                M,
                format!("a full bundle has base_sequence {b}; it must be null"),
            ),
            (BundleKind::Incremental, None) => {
                bad(c, M, "an incremental bundle has no base_sequence".into())
            }
            (BundleKind::Incremental, Some(b)) if b >= self.sequence => bad(
                c,
                M,
                format!(
                    "base_sequence {b} is not older than the bundle's sequence {}",
                    self.sequence
                ),
            ),
            _ => {}
        }
        if self.changes.from > self.changes.to {
            bad(
                c,
                M,
                format!(
                    "change range {}..{} runs backwards",
                    self.changes.from, self.changes.to
                ),
            );
        }
        if self.created.is_empty() {
            bad(c, M, "created is empty".into());
        }

        // Volumes: count, names (exactly the names this bundle's volumes must have, which also
        // keeps path separators out of them), sizes.
        let nvol = self.volumes.len();
        if nvol == 0 {
            bad(c, M, "the manifest lists no volumes".into());
        }
        if nvol > max_volumes {
            bad(
                ErrorKind::Limit,
                M,
                format!("{nvol} volumes exceed the limit of {max_volumes}"),
            );
            return out;
        }
        let bname = self.bundle_name();
        for (i, v) in self.volumes.iter().enumerate() {
            let want = names::volume_name(&bname, i as u32 + 1);
            if v.name != want {
                bad(
                    c,
                    M,
                    format!(
                        "volume {} is named {}, expected {want}",
                        i + 1,
                        names::show_name(v.name.as_bytes())
                    ),
                );
            }
            if v.size > max_volume_bytes {
                bad(
                    ErrorKind::Limit,
                    &v.name,
                    format!(
                        "volume size {} exceeds the limit of {max_volume_bytes}",
                        v.size
                    ),
                );
            }
        }

        // Entries.
        if self.entries.len() > max_entries {
            bad(
                ErrorKind::Limit,
                M,
                format!(
                    "{} entries exceed the limit of {max_entries}",
                    self.entries.len()
                ),
            );
            return out;
        }
        let mut seen: HashMap<&str, ()> = HashMap::with_capacity(self.entries.len());
        let mut metadata_seen = false;
        let mut whole: BTreeMap<[u8; 32], u64> = BTreeMap::new();
        let mut pieces: BTreeMap<[u8; 32], Vec<(u32, &EntryInfo)>> = BTreeMap::new();
        let mut per_volume = vec![0u64; nvol];
        for e in &self.entries {
            // Names that fail the checks below are shown escaped: they may hold anything.
            let parsed = names::parse_entry_name(e.path.as_bytes());
            let shown;
            let subject = match parsed {
                Ok(_) => e.path.as_str(),
                Err(_) => {
                    shown = names::show_name(e.path.as_bytes());
                    shown.as_str()
                }
            };
            if seen.insert(e.path.as_str(), ()).is_some() {
                bad(
                    ErrorKind::UnsafeEntry,
                    subject,
                    "the manifest lists this entry twice".into(),
                );
                continue;
            }
            if e.volume == 0 || e.volume as usize > nvol {
                bad(
                    c,
                    subject,
                    format!(
                        "entry is listed in volume {}, the bundle has {nvol}",
                        e.volume
                    ),
                );
                continue;
            }
            // Content is stored, so its bytes are in the volume as they are; metadata.bin is
            // deflated and may be listed larger than the volume that holds it.
            if e.path != names::METADATA_ENTRY {
                per_volume[e.volume as usize - 1] =
                    per_volume[e.volume as usize - 1].saturating_add(e.size);
            }
            if e.size > max_entry_bytes {
                bad(
                    ErrorKind::Limit,
                    subject,
                    format!(
                        "entry size {} exceeds the limit of {max_entry_bytes}",
                        e.size
                    ),
                );
            }
            let name = match parsed {
                Ok(n) => n,
                Err(why) => {
                    bad(
                        ErrorKind::UnsafeEntry,
                        subject,
                        format!("the manifest lists an unusable entry: {why}"),
                    );
                    continue;
                }
            };
            let piece_fields = e.file.is_some() || e.offset.is_some();
            match name {
                EntryName::Header => bad(
                    c,
                    subject,
                    "volume headers are not listed as entries".into(),
                ),
                EntryName::Metadata => {
                    metadata_seen = true;
                    if e.volume != 1 {
                        bad(
                            c,
                            subject,
                            format!(
                                "metadata.bin is listed in volume {}, it belongs in volume 1",
                                e.volume
                            ),
                        );
                    }
                    if e.size > max_metadata_bytes {
                        bad(
                            ErrorKind::Limit,
                            subject,
                            format!(
                                "metadata of {} bytes exceeds the limit of {max_metadata_bytes}",
                                e.size
                            ),
                        );
                    }
                    if piece_fields {
                        bad(
                            c,
                            subject,
                            "metadata.bin has piece fields (file, offset)".into(),
                        );
                    }
                }
                EntryName::Content(h) => {
                    if e.sha256.0 != h {
                        bad(
                            c,
                            subject,
                            format!("entry's sha256 {} differs from its name", e.sha256),
                        );
                    }
                    if piece_fields {
                        bad(
                            c,
                            subject,
                            "a whole content file has piece fields (file, offset)".into(),
                        );
                    }
                    whole.insert(h, e.size);
                }
                EntryName::Piece(h, n) => {
                    match (e.file, e.offset) {
                        (Some(f), Some(_)) if f.0 == h => {}
                        (Some(f), Some(_)) => bad(
                            c,
                            subject,
                            format!("piece names file {f}, which differs from its name"),
                        ),
                        _ => bad(c, subject, "a piece lacks its file or offset field".into()),
                    }
                    pieces.entry(h).or_default().push((n, e));
                }
            }
        }
        if !metadata_seen {
            bad(c, M, "the manifest lists no metadata.bin entry".into());
        }
        let mut files = whole.len() as u64;
        let mut bytes: u64 = whole.values().fold(0u64, |a, b| a.saturating_add(*b));
        for (h, mut list) in pieces {
            let subject = format!("content/{}", hex::encode(h));
            if whole.contains_key(&h) {
                bad(
                    c,
                    &subject,
                    "the file is listed both whole and in pieces".into(),
                );
                continue;
            }
            list.sort_by_key(|(n, _)| *n);
            if list.len() < 2 {
                bad(
                    c,
                    &subject,
                    "a file cut into pieces has only one piece".into(),
                );
            }
            let mut offset = 0u64;
            let mut volume = 0u32;
            for (i, (n, e)) in list.iter().enumerate() {
                if *n as usize != i + 1 {
                    bad(
                        c,
                        &subject,
                        format!(
                            "pieces are not numbered 1..{} (found .p{n:04} at position {})",
                            list.len(),
                            i + 1
                        ),
                    );
                    break;
                }
                if e.offset != Some(offset) {
                    bad(
                        c,
                        &e.path,
                        format!(
                            "piece starts at {:?}, expected {offset}",
                            e.offset.unwrap_or(0)
                        ),
                    );
                    break;
                }
                if e.volume < volume {
                    bad(c, &e.path, "pieces go back to an earlier volume".into());
                    break;
                }
                volume = e.volume;
                offset = offset.saturating_add(e.size);
            }
            files += 1;
            bytes = bytes.saturating_add(offset);
        }
        if self.counts.content_files != files || self.counts.content_bytes != bytes {
            bad(
                c,
                M,
                format!(
                    "counts say {} content files of {} bytes, the entries list {files} files of {bytes} bytes",
                    self.counts.content_files, self.counts.content_bytes
                ),
            );
        }
        for (i, (v, used)) in self.volumes.iter().zip(&per_volume).enumerate() {
            if *used > v.size {
                bad(
                    c,
                    &v.name,
                    format!(
                        "entries of volume {} add up to {used} bytes, more than its size {}",
                        i + 1,
                        v.size
                    ),
                );
            }
        }
        for g in self
            .criteria
            .products
            .iter()
            .chain(&self.criteria.classifications)
        {
            if Guid::parse(g.as_str()).as_ref() != Some(g) {
                bad(
                    c,
                    M,
                    format!(
                        "criteria list {} which is not a lowercase GUID",
                        names::show_name(g.as_str().as_bytes())
                    ),
                );
            }
        }
        out
    }

    /// Checks the manifest and fails with its first problem.
    pub fn check(&self) -> Result<()> {
        match self.problems().into_iter().next() {
            None => Ok(()),
            Some(p) => Err(Error::new(p.kind, format!("{}: {}", p.subject, p.message))),
        }
    }
}

/// Where a content file's bytes are: its entries (one, or its pieces in order).
#[derive(Clone, Debug)]
pub(crate) struct FileLayout {
    pub size: u64,
    /// Indices into `Manifest::entries`, in file order.
    pub parts: Vec<usize>,
}

/// Lookups over a manifest that passed [`Manifest::problems`].
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// Entry path -> index into `Manifest::entries`.
    pub by_path: HashMap<String, usize>,
    /// Content SHA-256 -> where its bytes are.
    pub files: BTreeMap<[u8; 32], FileLayout>,
}

impl Layout {
    pub fn new(m: &Manifest) -> Layout {
        let mut by_path = HashMap::with_capacity(m.entries.len());
        let mut files: BTreeMap<[u8; 32], FileLayout> = BTreeMap::new();
        for (i, e) in m.entries.iter().enumerate() {
            by_path.insert(e.path.clone(), i);
            match names::parse_entry_name(e.path.as_bytes()) {
                Ok(EntryName::Content(h)) => {
                    files.insert(
                        h,
                        FileLayout {
                            size: e.size,
                            parts: vec![i],
                        },
                    );
                }
                Ok(EntryName::Piece(h, _)) => {
                    let f = files.entry(h).or_insert(FileLayout {
                        size: 0,
                        parts: Vec::new(),
                    });
                    f.size += e.size;
                    f.parts.push(i);
                }
                _ => {}
            }
        }
        for f in files.values_mut() {
            f.parts.sort_by_key(|i| m.entries[*i].offset.unwrap_or(0));
        }
        Layout { by_path, files }
    }
}

/// The `SHA256SUMS` text for a manifest and its volumes, in `sha256sum` format.
pub fn sha256sums_text(manifest_sha256: &[u8; 32], m: &Manifest) -> String {
    let mut s = format!(
        "{}  {}\n",
        hex::encode(manifest_sha256),
        names::MANIFEST_FILE
    );
    for v in &m.volumes {
        s.push_str(&format!("{}  {}\n", v.sha256, v.name));
    }
    s
}

/// Compares a `SHA256SUMS` text with the manifest bytes' hash and the manifest's volumes.
pub fn check_sha256sums(text: &str, manifest_sha256: &[u8; 32], m: &Manifest) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut listed: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    let subject = names::SUMS_FILE;
    for (no, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // `sha256sum` writes "<hex>  <name>" (text mode) or "<hex> *<name>" (binary mode).
        let parsed = line.get(..64).and_then(names::parse_lower_hex64).zip(
            line.get(64..)
                .and_then(|r| r.strip_prefix("  ").or_else(|| r.strip_prefix(" *"))),
        );
        let Some((h, name)) = parsed else {
            out.push(Finding {
                kind: ErrorKind::Corrupt,
                subject: subject.into(),
                message: format!("line {} is not in sha256sum format", no + 1),
            });
            continue;
        };
        if listed.insert(name.to_string(), h).is_some() {
            out.push(Finding {
                kind: ErrorKind::Corrupt,
                subject: subject.into(),
                message: format!("{} is listed twice", names::show_name(name.as_bytes())),
            });
        }
    }
    let mut expect: Vec<(&str, [u8; 32])> = vec![(names::MANIFEST_FILE, *manifest_sha256)];
    expect.extend(m.volumes.iter().map(|v| (v.name.as_str(), v.sha256.0)));
    for (name, want) in &expect {
        match listed.remove(*name) {
            None => out.push(Finding {
                kind: ErrorKind::Corrupt,
                subject: subject.into(),
                message: format!("{name} is not listed"),
            }),
            Some(h) if h != *want => out.push(Finding {
                kind: ErrorKind::Corrupt,
                subject: subject.into(),
                message: format!(
                    "lists {name} with SHA-256 {}, but {} {}",
                    hex::encode(h),
                    if *name == names::MANIFEST_FILE {
                        "the manifest's bytes hash to"
                    } else {
                        "the manifest says"
                    },
                    hex::encode(want)
                ),
            }),
            Some(_) => {}
        }
    }
    for name in listed.keys() {
        out.push(Finding {
            kind: ErrorKind::Corrupt,
            subject: subject.into(),
            message: format!(
                "lists {}, which is not part of this bundle",
                names::show_name(name.as_bytes())
            ),
        });
    }
    out
}
