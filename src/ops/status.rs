//! The state of an update point in one value: what `status` shows and monitoring reads.

use crate::error::Result;
use crate::store::{
    ContentStats, ExportRecord, ImportRecord, InterruptedRun, LastSync, Store, StoreTotals,
};
use serde::Serialize;

/// `status --json`.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub store_id: String,
    pub store_name: String,
    pub upstream: Option<String>,
    pub last_sync: Option<LastSync>,
    pub totals: StoreTotals,
    pub content: ContentStats,
    pub last_export: Option<ExportRecord>,
    pub last_import: Option<ImportRecord>,
    /// The last export or import stopped by SIGINT or SIGTERM.
    pub last_interrupted: Option<InterruptedRun>,
}

pub fn status(store: &Store) -> Result<Status> {
    Ok(Status {
        store_id: store.id().to_string(),
        store_name: store.name().to_string(),
        upstream: store.setting("upstream")?,
        last_sync: store.last_sync()?,
        totals: store.totals()?,
        content: store.content_stats()?,
        last_export: store.last_export()?,
        last_import: store.last_import()?,
        last_interrupted: store.last_interrupted()?,
    })
}
