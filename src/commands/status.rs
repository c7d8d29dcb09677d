use super::{bytes, say};
use crate::Result;
use crate::cli::out_json;
use crate::store::{ContentStats, ExportRecord, ImportRecord, LastSync, Store, StoreTotals};
use serde::Serialize;
use std::path::Path;

/// `status --json`.
#[derive(Serialize)]
pub struct StatusOut {
    pub store_id: String,
    pub store_name: String,
    pub upstream: Option<String>,
    pub last_sync: Option<LastSync>,
    pub totals: StoreTotals,
    pub content: ContentStats,
    pub last_export: Option<ExportRecord>,
    pub last_import: Option<ImportRecord>,
}

pub fn collect(store: &Store) -> Result<StatusOut> {
    Ok(StatusOut {
        store_id: store.id().to_string(),
        store_name: store.name().to_string(),
        upstream: store.setting("upstream")?,
        last_sync: store.last_sync()?,
        totals: store.totals()?,
        content: store.content_stats()?,
        last_export: store.last_export()?,
        last_import: store.last_import()?,
    })
}

pub fn run(dir: &Path, json: bool) -> Result<()> {
    let store = Store::open_readonly(dir)?;
    let s = collect(&store)?;
    if json {
        return out_json(&s);
    }
    say(format!("store      {} ({})", s.store_name, s.store_id));
    say(format!(
        "upstream   {}",
        s.upstream.as_deref().unwrap_or("(none set)")
    ));
    match &s.last_sync {
        None => say("last sync  never"),
        Some(l) => {
            say(format!(
                "last sync  {} at {} from {}",
                l.outcome,
                l.finished.as_deref().unwrap_or(&l.started),
                l.source
            ));
            say(format!(
                "           {} new, {} updated, {} expired, {} removed, {} unchanged",
                l.new, l.updated, l.expired, l.removed, l.unchanged
            ));
            if let Some(e) = &l.error {
                say(format!("           error: {e}"));
            }
        }
    }
    let t = &s.totals;
    say(format!(
        "updates    {} ({} published, {} expired, {} declined, {} superseded); {} removed upstream; {} categories",
        t.updates, t.published, t.expired, t.declined, t.superseded, t.removed, t.categories
    ));
    let c = &s.content;
    say(format!(
        "content    {} of {} referenced file(s) present ({}), {} missing ({})",
        c.present,
        c.referenced,
        bytes(c.present_bytes),
        c.missing,
        bytes(c.missing_bytes)
    ));
    match &s.last_export {
        None => say("last export never"),
        Some(e) => say(format!(
            "last export {} bundle, sequence {}, at {}: {} updates, {} content files ({}) to {}",
            e.kind,
            e.sequence,
            e.finished,
            e.updates,
            e.content_files,
            bytes(e.content_bytes),
            e.path
        )),
    }
    match &s.last_import {
        None => say("last import never"),
        Some(i) => say(format!(
            "last import {} bundle, sequence {} from store '{}', at {}: {} new, {} updated, {} expired, {} removed",
            i.kind,
            i.sequence,
            i.source_store_name,
            i.imported,
            i.new,
            i.updated,
            i.expired,
            i.removed
        )),
    }
    Ok(())
}
