//! The bundle format: the only thing that crosses the air gap.
//!
//! A bundle is a folder holding `manifest.json` (the root of trust), one or more volumes
//! (standalone ZIP files) and `SHA256SUMS`. The specification is `docs/BUNDLE-FORMAT.md`.
//!
//! This module owns the format: names and path safety (`names`), the manifest (`manifest`),
//! the metadata codec (`metadata`), the ZIP subset (`zipfmt`), per-volume checks (`volume`),
//! the writer (`writer`), verification (`verify`) and the reader (`reader`). It knows nothing
//! of SQLite, the store, the upstream sources or the terminal: it depends only on `model`,
//! `error`, `hash`, `fsutil`, `progress`, `time` and `limits` (the store's limits, applied to the
//! metadata at the door), and exporters and importers drive it.

pub mod manifest;
pub mod metadata;
mod metadata_limits;
pub mod names;
mod pass;
mod pipeline;
pub mod reader;
pub mod records;
pub mod stream;
pub mod verify;
pub mod volume;
pub mod writer;
mod zipfmt;

#[cfg(test)]
mod tests;

pub use manifest::{
    BundleKind, ChangeRange, Counts, EntryInfo, FORMAT_VERSION, Manifest, ManifestCriteria,
    ManifestSource, SUPPORTED_FORMAT_VERSIONS, Sha256Hex, VolumeInfo,
};
pub use metadata::{
    BundleMetadata, Decision, DocumentRecord, MAX_METADATA_BYTES, RecordState, UpdateRecord,
    decode_metadata, decode_metadata_from_reader, encode_metadata,
};
pub use pass::{CheckOnly, MediaCount, PassTarget};
pub use reader::BundleReader;
pub use records::{Collect, Discard, MetadataCheck, RecordSink};
pub use verify::{
    BundleSummary, Finding, Located, VerifyReport, VolumeCheck, find_manifest, locate, verify,
    verify_into,
};
pub use volume::VolumeHeader;
pub use writer::{
    BundleSpec, ContentFile, EncodedMetadata, MetadataSpool, WrittenBundle, check_out_dir,
    parse_size, presets, write_bundle,
};
