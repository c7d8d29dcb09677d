//! The interim record sink of `import`: collects the records of metadata.bin, as the single
//! pass over the media checks them, into one [`BundleMetadata`], so that the plan and merge
//! run on it after the pass as before. A streaming merger replaces it; it is kept apart for
//! that.

use crate::bundle::{BundleMetadata, Decision, RecordSink, UpdateRecord};
use crate::error::Result;
use crate::model::Category;

#[derive(Default)]
pub(super) struct Collect {
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
