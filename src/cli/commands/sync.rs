//! `offsync sync`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out_json, say};
use crate::ops::sync::sync_from;
use crate::progress::Progress;
use crate::store::Store;
use crate::sync::SyncOptions;
use std::path::PathBuf;

/// Synchronise update metadata from the upstream, filtered by the criteria.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// A folder of upd:Update XML documents, Microsoft's offline scan catalog (a .cab file:
    /// wsusscn2.cab), or another offsync store (a parent update point). Default: the
    /// upstream set with `offsync upstream set`.
    #[arg(long, value_name = "SOURCE")]
    from: Option<PathBuf>,
    /// Accept an upstream snapshot (an offline catalog) older than the last one synced.
    #[arg(long)]
    allow_older: bool,
    /// Accept an upstream that would remove (or expire) more than half of the stored
    /// updates, or all of them (otherwise refused: an empty or partly copied folder looks
    /// like that).
    #[arg(long)]
    allow_mass_removal: bool,
    /// From a parent store, take only the metadata: not the payload files the parent holds
    /// for the selected updates (taken by default, as hard links when both stores are on one
    /// file system, else as copies, each checked against its SHA-256).
    #[arg(long)]
    metadata_only: bool,
    /// Sync only when the store's schedule says a sync is due (a slot passed since the last
    /// sync run started, or it never synced); otherwise print "not due until ..." and exit 0.
    /// For cron or a systemd timer; see `offsync schedule`.
    #[arg(long)]
    if_due: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let opts = SyncOptions {
        allow_older: a.allow_older,
        allow_mass_removal: a.allow_mass_removal,
        metadata_only: a.metadata_only,
    };
    let mut store = Store::open(&a.store.store)?;
    if a.if_due
        && let Some(done) = super::schedule::not_due(&store, a.json)?
    {
        return done;
    }
    let r = sync_from(
        &mut store,
        a.from.as_deref(),
        &opts,
        &super::schedule::now,
        progress,
    )?;
    store.report_log_failure(progress);
    if a.json {
        return out_json(&r);
    }
    for w in &r.warnings {
        progress.note(&format!("warning: {w}"));
    }
    say(format!(
        "sync from {} succeeded: {} new, {} updated, {} expired, {} removed, {} unchanged; {} categories changed ({} updates upstream, {} selected)",
        esc(&r.source),
        r.changes.new,
        r.changes.updated,
        r.changes.expired,
        r.changes.removed,
        r.changes.unchanged,
        r.categories,
        r.upstream_updates,
        r.selected
    ))?;
    if r.content_files > 0 {
        say(format!(
            "  took {} content file(s) ({} bytes) from the upstream, {} as hard links",
            r.content_files, r.content_bytes, r.content_linked
        ))?;
    }
    crate::cli::commands::upstream::say_decisions(&r.decisions)
}
