//! The manifest's consistency check: every way a manifest disagrees with itself or with the
//! format's limits, found by one check per part (identity, volumes, entries, pieces, totals,
//! criteria) feeding one collector, in a fixed order.

use super::{BundleKind, EntryInfo, Limits, Manifest, STREAM_FORMAT_VERSION};
use crate::bundle::names::{self, EntryName};
use crate::bundle::verify::Finding;
use crate::error::ErrorKind;
use crate::model::Guid;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

/// The subject of findings about the manifest as a whole.
const M: &str = "manifest.json";

/// The findings of one check run, in the order found.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, kind: ErrorKind, subject: &str, message: String) {
        self.0.push(Finding::new(kind, subject, message));
    }

    fn corrupt(&mut self, subject: &str, message: String) {
        self.push(ErrorKind::Corrupt, subject, message);
    }
}

/// What the entry list adds up to, for the checks that compare totals.
struct Tally<'a> {
    metadata_seen: bool,
    /// Whole content files: SHA-256 -> size.
    whole: BTreeMap<[u8; 32], u64>,
    /// Files cut into pieces: SHA-256 -> (piece number, entry), in listing order.
    pieces: BTreeMap<[u8; 32], Vec<(u32, &'a EntryInfo)>>,
    /// Bytes of stored entries per volume (index 0 = volume 1).
    per_volume: Vec<u64>,
}

impl Manifest {
    /// [`Manifest::problems`] against other limits (tests reach a cap of a million entries
    /// with a handful).
    pub(crate) fn problems_within(&self, limits: &Limits) -> Vec<Finding> {
        let mut f = Findings::default();
        self.check_identity(&mut f);
        // Past a count cap, the per-item checks are not run: they would cost what the cap
        // is there to refuse.
        if !self.check_volumes(limits, &mut f) {
            return f.0;
        }
        let Some(tally) = self.check_entries(limits, &mut f) else {
            return f.0;
        };
        let Tally {
            whole,
            pieces,
            per_volume,
            ..
        } = tally;
        if let Some(c) = &self.catalog
            && !whole.contains_key(&c.0)
            && !pieces.contains_key(&c.0)
        {
            f.corrupt(
                M,
                format!("catalog names {c}, which is not a content file of the bundle"),
            );
        }
        let (files, bytes) = check_pieces(&whole, pieces, &mut f);
        if self.counts.content_files != files || self.counts.content_bytes != bytes {
            f.corrupt(
                M,
                format!(
                    "counts say {} content files of {} bytes, the entries list {files} files of {bytes} bytes",
                    self.counts.content_files, self.counts.content_bytes
                ),
            );
        }
        self.check_volume_fill(&per_volume, &mut f);
        self.check_criteria(&mut f);
        f.0
    }

    /// The bundle's id, kind and ranges.
    fn check_identity(&self, f: &mut Findings) {
        if self.source.store_id.is_empty() {
            f.corrupt(M, "source.store_id is empty".into());
        }
        let expected_id = names::bundle_id(&self.source.store_id, self.sequence);
        if self.bundle_id != expected_id {
            f.corrupt(
                M,
                format!(
                    "bundle_id {} does not match its source store and sequence (expected {expected_id})",
                    names::show_name(self.bundle_id.as_bytes())
                ),
            );
        }
        match (self.kind, self.base_sequence) {
            (BundleKind::Full, Some(b)) => f.corrupt(
                M,
                format!("a full bundle has base_sequence {b}; it must be null"),
            ),
            (BundleKind::Incremental, None) => {
                f.corrupt(M, "an incremental bundle has no base_sequence".into())
            }
            (BundleKind::Incremental, Some(b)) if b >= self.sequence => f.corrupt(
                M,
                format!(
                    "base_sequence {b} is not older than the bundle's sequence {}",
                    self.sequence
                ),
            ),
            _ => {}
        }
        if self.changes.from > self.changes.to {
            f.corrupt(
                M,
                format!(
                    "change range {}..{} runs backwards",
                    self.changes.from, self.changes.to
                ),
            );
        }
    }

    /// Count, names (exactly the names this bundle's volumes must have, which also keeps
    /// path separators out of them) and sizes. False when the count is over its cap.
    fn check_volumes(&self, limits: &Limits, f: &mut Findings) -> bool {
        let nvol = self.volumes.len();
        if nvol == 0 {
            f.corrupt(M, "the manifest lists no volumes".into());
        }
        if nvol > limits.volumes {
            f.push(
                ErrorKind::Limit,
                M,
                format!("{nvol} volumes exceed the limit of {}", limits.volumes),
            );
            return false;
        }
        let bname = self.bundle_name();
        for (i, v) in self.volumes.iter().enumerate() {
            let want = names::volume_name(&bname, i as u32 + 1);
            if v.name != want {
                f.corrupt(
                    M,
                    format!(
                        "volume {} is named {}, expected {want}",
                        i + 1,
                        names::show_name(v.name.as_bytes())
                    ),
                );
            }
            if v.size > limits.volume_bytes {
                f.push(
                    ErrorKind::Limit,
                    &v.name,
                    format!(
                        "volume size {} exceeds the limit of {}",
                        v.size, limits.volume_bytes
                    ),
                );
            }
        }
        true
    }

    /// Every entry on its own, and what they add up to; `None` when their count is over its
    /// cap.
    fn check_entries(&self, limits: &Limits, f: &mut Findings) -> Option<Tally<'_>> {
        if self.entries.len() > limits.entries {
            f.push(
                ErrorKind::Limit,
                M,
                format!(
                    "{} entries exceed the limit of {}",
                    self.entries.len(),
                    limits.entries
                ),
            );
            return None;
        }
        let mut tally = Tally {
            metadata_seen: false,
            whole: BTreeMap::new(),
            pieces: BTreeMap::new(),
            per_volume: vec![0; self.volumes.len()],
        };
        let mut seen: HashSet<&str> = HashSet::with_capacity(self.entries.len());
        for e in &self.entries {
            // Names that fail the checks below are shown escaped: they may hold anything.
            let parsed = names::parse_entry_name(e.path.as_bytes());
            let subject = match parsed {
                Ok(_) => Cow::Borrowed(e.path.as_str()),
                Err(_) => Cow::Owned(names::show_name(e.path.as_bytes())),
            };
            if !seen.insert(e.path.as_str()) {
                f.push(
                    ErrorKind::UnsafeEntry,
                    &subject,
                    "the manifest lists this entry twice".into(),
                );
                continue;
            }
            self.check_entry(e, parsed, &subject, limits, &mut tally, f);
        }
        if !tally.metadata_seen {
            f.corrupt(M, "the manifest lists no metadata.bin entry".into());
        }
        Some(tally)
    }

    /// One entry: its volume, its size, its name and the fields its kind needs.
    fn check_entry<'a>(
        &self,
        e: &'a EntryInfo,
        parsed: Result<EntryName, String>,
        subject: &str,
        limits: &Limits,
        tally: &mut Tally<'a>,
        f: &mut Findings,
    ) {
        let nvol = self.volumes.len();
        if e.volume == 0 || e.volume as usize > nvol {
            f.corrupt(
                subject,
                format!(
                    "entry is listed in volume {}, the bundle has {nvol}",
                    e.volume
                ),
            );
            return;
        }
        // Content is stored, so its bytes are in the volume as they are; metadata.bin is
        // deflated and may be listed larger than the volume that holds it.
        if e.path != names::METADATA_ENTRY {
            let used = &mut tally.per_volume[e.volume as usize - 1];
            *used = used.saturating_add(e.size);
        }
        if e.size > limits.entry_bytes {
            f.push(
                ErrorKind::Limit,
                subject,
                format!(
                    "entry size {} exceeds the limit of {}",
                    e.size, limits.entry_bytes
                ),
            );
        }
        let name = match parsed {
            Ok(n) => n,
            Err(why) => {
                f.push(
                    ErrorKind::UnsafeEntry,
                    subject,
                    format!("the manifest lists an unusable entry: {why}"),
                );
                return;
            }
        };
        let piece_fields = e.file.is_some() || e.offset.is_some();
        match name {
            EntryName::Header => {
                f.corrupt(subject, "volume headers are not listed as entries".into())
            }
            EntryName::Metadata => {
                tally.metadata_seen = true;
                let cap = if self.format_version >= STREAM_FORMAT_VERSION {
                    limits.stream_metadata_bytes
                } else {
                    limits.metadata_bytes
                };
                check_metadata_entry(e, subject, cap, f);
            }
            EntryName::Content(h) => {
                if e.sha256.0 != h {
                    f.corrupt(
                        subject,
                        format!("entry's sha256 {} differs from its name", e.sha256),
                    );
                }
                if piece_fields {
                    f.corrupt(
                        subject,
                        "a whole content file has piece fields (file, offset)".into(),
                    );
                }
                tally.whole.insert(h, e.size);
            }
            EntryName::Piece(h, n) => {
                match (e.file, e.offset) {
                    (Some(file), Some(_)) if file.0 == h => {}
                    (Some(file), Some(_)) => f.corrupt(
                        subject,
                        format!("piece names file {file}, which differs from its name"),
                    ),
                    _ => f.corrupt(subject, "a piece lacks its file or offset field".into()),
                }
                tally.pieces.entry(h).or_default().push((n, e));
            }
        }
    }

    /// No volume holds more bytes of stored entries than its size.
    fn check_volume_fill(&self, per_volume: &[u64], f: &mut Findings) {
        for (i, (v, used)) in self.volumes.iter().zip(per_volume).enumerate() {
            if *used > v.size {
                f.corrupt(
                    &v.name,
                    format!(
                        "entries of volume {} add up to {used} bytes, more than its size {}",
                        i + 1,
                        v.size
                    ),
                );
            }
        }
    }

    fn check_criteria(&self, f: &mut Findings) {
        let criteria = &self.criteria;
        for g in criteria.products.iter().chain(&criteria.classifications) {
            if Guid::parse(g.as_str()).as_ref() != Some(g) {
                f.corrupt(
                    M,
                    format!(
                        "criteria list {} which is not a lowercase GUID",
                        names::show_name(g.as_str().as_bytes())
                    ),
                );
            }
        }
    }
}

fn check_metadata_entry(e: &EntryInfo, subject: &str, cap: u64, f: &mut Findings) {
    if e.volume != 1 {
        f.corrupt(
            subject,
            format!(
                "metadata.bin is listed in volume {}, it belongs in volume 1",
                e.volume
            ),
        );
    }
    if e.size > cap {
        f.push(
            ErrorKind::Limit,
            subject,
            format!("metadata of {} bytes exceeds the limit of {cap}", e.size),
        );
    }
    if e.file.is_some() || e.offset.is_some() {
        f.corrupt(
            subject,
            "metadata.bin has piece fields (file, offset)".into(),
        );
    }
}

/// Each file cut into pieces: numbered from 1, back to back, never going back a volume.
/// Returns the number of content files and their total size, whole and pieced.
fn check_pieces(
    whole: &BTreeMap<[u8; 32], u64>,
    pieces: BTreeMap<[u8; 32], Vec<(u32, &EntryInfo)>>,
    f: &mut Findings,
) -> (u64, u64) {
    let mut files = whole.len() as u64;
    let mut bytes: u64 = whole.values().fold(0u64, |a, b| a.saturating_add(*b));
    for (h, mut list) in pieces {
        let subject = format!("content/{}", hex::encode(h));
        if whole.contains_key(&h) {
            f.corrupt(
                &subject,
                "the file is listed both whole and in pieces".into(),
            );
            continue;
        }
        list.sort_by_key(|(n, _)| *n);
        if list.len() < 2 {
            f.corrupt(&subject, "a file cut into pieces has only one piece".into());
        }
        files += 1;
        bytes = bytes.saturating_add(piece_run(&list, &subject, f));
    }
    (files, bytes)
}

/// Walks one file's pieces in number order and returns where the run of well-placed pieces
/// ends (the file's size when all are well placed); reports the first misplaced one.
fn piece_run(list: &[(u32, &EntryInfo)], subject: &str, f: &mut Findings) -> u64 {
    let mut offset = 0u64;
    let mut volume = 0u32;
    for (i, (n, e)) in list.iter().enumerate() {
        if *n as usize != i + 1 {
            f.corrupt(
                subject,
                format!(
                    "pieces are not numbered 1..{} (found .p{n:04} at position {})",
                    list.len(),
                    i + 1
                ),
            );
            break;
        }
        if e.offset != Some(offset) {
            f.corrupt(
                &e.path,
                format!(
                    "piece starts at {:?}, expected {offset}",
                    e.offset.unwrap_or(0)
                ),
            );
            break;
        }
        if e.volume < volume {
            f.corrupt(&e.path, "pieces go back to an earlier volume".into());
            break;
        }
        volume = e.volume;
        offset = offset.saturating_add(e.size);
    }
    offset
}
