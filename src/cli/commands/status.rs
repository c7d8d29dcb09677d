//! `offsync status`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{bytes, esc, out_json, say};
use crate::ops::status::{Status, status};
use crate::store::Store;

/// The state of the update point: last sync, totals, content present and missing.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Print the result as JSON (fields: see the README).
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> CliResult {
    let store = Store::open_readonly(&a.store.store)?;
    let s = status(&store)?;
    if a.json {
        return out_json(&s);
    }
    say(format!(
        "store      {} ({})",
        esc(&s.store_name),
        esc(&s.store_id)
    ))?;
    say(format!(
        "upstream   {}",
        esc(s.upstream.as_deref().unwrap_or("(none set)"))
    ))?;
    last_sync(&s)?;
    let t = &s.totals;
    say(format!(
        "updates    {} ({} published, {} expired, {} declined, {} superseded); {} removed upstream; {} categories",
        t.updates, t.published, t.expired, t.declined, t.superseded, t.removed, t.categories
    ))?;
    let c = &s.content;
    say(format!(
        "content    {} of {} referenced file(s) present ({}), {} missing ({})",
        c.present,
        c.referenced,
        bytes(c.present_bytes),
        c.missing,
        bytes(c.missing_bytes)
    ))?;
    if c.lost > 0 {
        say(format!(
            "           {} of the missing file(s) recorded but lost or damaged in the content folder: `offsync check --read-data` names them",
            c.lost
        ))?;
    }
    last_exchanges(&s)
}

fn last_sync(s: &Status) -> CliResult {
    let Some(l) = &s.last_sync else {
        return say("last sync  never");
    };
    say(format!(
        "last sync  {} at {} from {}",
        l.outcome,
        esc(l.finished.as_deref().unwrap_or(&l.started)),
        esc(&l.source)
    ))?;
    say(format!(
        "           {} new, {} updated, {} expired, {} removed, {} unchanged",
        l.changes.new, l.changes.updated, l.changes.expired, l.changes.removed, l.changes.unchanged
    ))?;
    if let Some(e) = &l.error {
        say(format!("           error: {}", esc(e)))?;
    }
    Ok(())
}

fn last_exchanges(s: &Status) -> CliResult {
    match &s.last_export {
        None => say("last export never")?,
        Some(e) => say(format!(
            "last export {} bundle, sequence {}, at {}: {} updates, {} content files ({}) to {}",
            e.kind,
            e.sequence,
            esc(&e.finished),
            e.updates,
            e.content_files,
            bytes(e.content_bytes),
            esc(&e.path)
        ))?,
    }
    if let Some(r) = &s.last_interrupted {
        say(format!(
            "interrupted {} at {}: {}",
            r.operation, r.at, r.message
        ))?;
    }
    match &s.last_import {
        None => say("last import never"),
        Some(i) => say(format!(
            "last import {} bundle, sequence {} from store '{}', at {}: {} new, {} updated, {} expired, {} removed",
            i.kind,
            i.sequence,
            esc(&i.source_store_name),
            esc(&i.imported),
            i.changes.new,
            i.changes.updated,
            i.changes.expired,
            i.changes.removed
        )),
    }
}
