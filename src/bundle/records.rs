//! The seam between reading `metadata.bin` and whoever consumes its records: the checks of
//! the format run on each record as it is decoded, and a [`RecordSink`] receives the records
//! that passed, one at a time, in stream order (categories, then updates, then decisions).
//! `verify` passes [`Discard`]; `import` passes a merger that writes into its open store
//! transaction, which it commits only once every check of the bundle has passed.

use super::manifest::{Layout, Manifest};
use super::metadata::{Decision, UpdateRecord, decode_metadata_from_reader, metadata_problems};
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
    let md = match decode_metadata_from_reader(r) {
        Ok(md) => md,
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
