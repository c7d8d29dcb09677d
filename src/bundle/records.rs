//! The seam between reading `metadata.bin` and whoever consumes its records: the format's
//! checks run on the records, and a [`RecordSink`] receives those that passed, one at a time,
//! in stream order (categories, then updates, then decisions). `verify` passes [`Discard`];
//! `import` and `BundleReader::read_metadata` pass [`Collect`].
//!
//! Envelope versions 1 and 2 are one bincode value: `read_metadata_stream` decodes it whole,
//! checks it, and delivers the records only when every check passed. Version 3 is a stream of
//! bounded records (`bundle::stream`): decoded, checked and delivered one at a time behind the
//! same seam.

use super::manifest::{Layout, Manifest};
use super::metadata::{
    BundleMetadata, Decision, DocumentRecord, STREAM_METADATA_VERSION, UpdateRecord,
    decode_payload_from_reader, metadata_problems, read_header,
};
use super::metadata_limits::limit_problems;
use super::names::METADATA_ENTRY;
use super::verify::Finding;
use crate::error::{Error, Result};
use crate::model::Category;
use std::io::Read;

/// Receives checked records. An error stops the deliveries (the rest of the stream is still
/// read and checked, so that a damaged bundle is reported as damaged, whatever the sink
/// thought of an earlier record).
pub trait RecordSink {
    fn category(&mut self, c: Category) -> Result<()>;
    fn update(&mut self, r: UpdateRecord) -> Result<()>;
    fn decision(&mut self, d: Decision) -> Result<()>;
    /// The upstream's document of the category or update delivered just before (same id and
    /// revision; checked by the reader). Sinks that do not keep documents ignore it.
    fn document(&mut self, _d: DocumentRecord) -> Result<()> {
        Ok(())
    }
}

/// A sink that keeps nothing (verify).
pub struct Discard;

impl RecordSink for Discard {
    fn category(&mut self, _: Category) -> Result<()> {
        Ok(())
    }
    fn update(&mut self, _: UpdateRecord) -> Result<()> {
        Ok(())
    }
    fn decision(&mut self, _: Decision) -> Result<()> {
        Ok(())
    }
}

/// A sink that keeps every record in one [`BundleMetadata`]: for readers that need the whole
/// metadata at once (`BundleReader::read_metadata`, and `import` until its merge streams).
#[derive(Default)]
pub struct Collect {
    pub md: BundleMetadata,
}

impl RecordSink for Collect {
    fn category(&mut self, c: Category) -> Result<()> {
        self.md.categories.push(c);
        Ok(())
    }
    fn update(&mut self, r: UpdateRecord) -> Result<()> {
        self.md.updates.push(r);
        Ok(())
    }
    fn decision(&mut self, d: Decision) -> Result<()> {
        self.md.decisions.push(d);
        Ok(())
    }
}

/// What reading the metadata stream found.
#[derive(Debug, Default)]
pub struct MetadataCheck {
    /// Problems with the metadata itself (corrupt, limit), in the order found.
    pub findings: Vec<Finding>,
    /// The first error the sink returned, if any (deliveries stopped there).
    pub sink_error: Option<Error>,
    /// Records delivered to the sink.
    pub delivered: u64,
}

/// Reads the inflated bytes of `metadata.bin` from `r` (the envelope, from its first byte),
/// checks every record against the format, the store's limits and the manifest, and hands
/// the records to `sink`. The caller drains whatever `r` still holds afterwards (an entry's
/// hash covers all its bytes) and decides, once every check of the bundle has run, whether
/// what the sink did may stand.
pub(crate) fn read_metadata_stream(
    r: &mut dyn Read,
    m: &Manifest,
    layout: &Layout,
    sink: &mut dyn RecordSink,
) -> MetadataCheck {
    let mut out = MetadataCheck::default();
    let decoded = read_header(r).and_then(|(version, len)| {
        if version == STREAM_METADATA_VERSION {
            Ok(None)
        } else {
            decode_payload_from_reader(version, len, r).map(Some)
        }
    });
    let md = match decoded {
        Ok(None) => return super::stream::read_v3(r, m, layout, sink),
        Ok(Some(md)) => md,
        Err(e) => {
            out.findings
                .push(Finding::new(e.kind, METADATA_ENTRY, e.message));
            return out;
        }
    };
    out.findings.extend(limit_problems(&md));
    out.findings.extend(metadata_problems(&md, m, layout));
    if !out.findings.is_empty() {
        return out;
    }
    let result = (|| {
        for c in md.categories {
            sink.category(c)?;
            out.delivered += 1;
        }
        for u in md.updates {
            sink.update(u)?;
            out.delivered += 1;
        }
        for d in md.decisions {
            sink.decision(d)?;
            out.delivered += 1;
        }
        Ok(())
    })();
    out.sink_error = result.err();
    out
}
