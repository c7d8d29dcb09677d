//! `offsync sync`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out_json, say};
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
    /// After a successful sync, download the missing payload files of the updates that are
    /// not declined (as `offsync content fetch`; exit code 20 when some could not be).
    #[arg(long)]
    fetch_content: bool,
    /// Network options: for a catalog given by URL, and for `--fetch-content`.
    #[command(flatten)]
    net: crate::cli::commands::content_fetch::NetArgs,
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
    let net = a.net.net()?;
    let mut store = Store::open(&a.store.store)?;
    if a.if_due
        && let Some(done) = super::schedule::not_due(&store, a.json)?
    {
        return done;
    }
    let (r, catalog) = crate::fetch::catalog::sync_from_source(
        &mut store,
        a.from.as_deref(),
        &opts,
        &super::schedule::now,
        &net,
        progress,
    )?;
    if let Some(c) = catalog.filter(|c| !c.downloaded) {
        progress.note(&format!(
            "the catalog at {} is unchanged since the last download: synced from the kept copy",
            esc(&c.url)
        ));
    }
    let fetched = match a.fetch_content {
        true => Some(crate::fetch::fetch_content(
            &mut store,
            &net,
            &crate::fetch::FetchOptions {
                parallel: a.net.parallel(),
                ..Default::default()
            },
            &super::schedule::now,
            progress,
        )?),
        false => None,
    };
    store.report_log_failure(progress);
    let incomplete = fetched
        .as_ref()
        .and_then(crate::cli::commands::content_fetch::incomplete);
    if a.json {
        out_json(&WithFetch {
            sync: &r,
            fetch: fetched.as_ref(),
        })?;
        return incomplete.map_or(Ok(()), |e| Err(crate::cli::exit::CliError::Reported(e)));
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
    crate::cli::commands::upstream::say_decisions(&r.decisions)?;
    if let Some(f) = &fetched {
        crate::cli::commands::content_fetch::render(f)?;
    }
    incomplete.map_or(Ok(()), |e| Err(e.into()))
}

/// The sync's report, with `fetch` added after `--fetch-content`.
#[derive(serde::Serialize)]
struct WithFetch<'a> {
    #[serde(flatten)]
    sync: &'a crate::sync::SyncReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    fetch: Option<&'a crate::fetch::FetchReport>,
}
