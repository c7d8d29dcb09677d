//! `manifest.json`: the root of trust of a bundle (a signature, when there is one, covers its
//! bytes as written).
//!
//! Human-readable JSON with `format_version` first. The reader checks the version before it
//! looks at any other field, and then checks that the manifest agrees with itself (ids,
//! names, entry layout, counts) before any volume is opened, because every later check
//! compares volume bytes with what the manifest says.

mod check;

use super::names::{self, EntryName};
use super::verify::Finding;
use crate::error::{Error, ErrorKind, Result};
use crate::model::Guid;
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};

/// The format version this code writes.
pub const FORMAT_VERSION: u32 = 3;
/// Every format version this code reads.
pub const SUPPORTED_FORMAT_VERSIONS: &[u32] = &[1, 2, 3];
/// The first format version whose `metadata.bin` is a record stream (envelope version 3),
/// read one record at a time, so that its size is no longer bounded by memory.
pub const STREAM_FORMAT_VERSION: u32 = 3;
/// Largest `metadata.bin` of a streamed format (16 GiB, about 17 times the 0.94 GiB of a
/// million revisions): a cap is still needed, so that a deflate bomb cannot keep a reader
/// inflating for hours.
pub const MAX_STREAM_METADATA_BYTES: u64 = 16 << 30;
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
    /// Largest `metadata.bin` entry of formats 1 and 2 (held whole): the payload cap plus
    /// the envelope header.
    pub metadata_bytes: u64,
    /// Largest `metadata.bin` entry of a streamed format (3 and later).
    pub stream_metadata_bytes: u64,
}

impl Limits {
    pub const FORMAT: Limits = Limits {
        volumes: MAX_VOLUMES,
        volume_bytes: MAX_VOLUME_BYTES,
        entries: MAX_ENTRIES,
        entry_bytes: MAX_ENTRY_BYTES,
        metadata_bytes: super::metadata::MAX_METADATA_BYTES
            + super::metadata::ENVELOPE_HEADER_LEN as u64,
        stream_metadata_bytes: MAX_STREAM_METADATA_BYTES,
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

impl BundleKind {
    /// The name the manifest and the reports use: `full` or `incremental`.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleKind::Full => "full",
            BundleKind::Incremental => "incremental",
        }
    }
}

impl std::fmt::Display for BundleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// Decision records in the metadata (format version 2; 0 when absent, as in version 1).
    #[serde(default)]
    pub decisions: u64,
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
    /// Written as RFC 3339 UTC.
    pub created: Timestamp,
    /// Import refuses the bundle after this time unless the operator allows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
    pub tool_version: String,
    pub counts: Counts,
    /// The content file of the bundle that is Microsoft's offline catalog (wsusscn2.cab) the
    /// source store synced from: the importing store keeps it as its catalog. Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<Sha256Hex>,
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
                format!("manifest.json does not match its format version: {e}"),
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
