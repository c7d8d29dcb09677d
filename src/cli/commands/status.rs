//! `offsync status`.

use crate::cli::args::StoreArg;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::output::{bytes, esc, out_json, say};
use crate::error::{Error, ErrorKind};
use crate::ops::status::{DownstreamInput, Status, StatusInputs, Thresholds, status};
use crate::ops::status_page::{CHART_RUNS, status_page};
use crate::store::Store;
use crate::time::Timestamp;
use std::path::PathBuf;

/// The state of this update point and of the points below it.
///
/// Role, upstream, last sync, last error, totals, content present and missing, the downstream points, and the warnings the
/// staleness thresholds give.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Print the result as JSON (fields: see the README).
    #[arg(long)]
    json: bool,
    /// For monitoring systems: one line per problem (a point in error or stale) and exit 21,
    /// or one "OK" line and exit 0. With --json, the status JSON instead of the lines.
    #[arg(long)]
    check: bool,
    /// Also write the status as one self-contained HTML page (the hierarchy, the warnings,
    /// a chart of the last sync runs) to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Keep this store's threshold: a point with an upstream is stale after this many days
    /// without a successful sync (default 8).
    #[arg(long, value_name = "DAYS")]
    set_stale_sync_days: Option<u32>,
    /// Keep this store's threshold: a disconnected point is stale after this many days
    /// without an import (default 35).
    #[arg(long, value_name = "DAYS")]
    set_stale_import_days: Option<u32>,
    /// Keep this store's threshold: a downstream point this many bundles behind is stale
    /// (default 3).
    #[arg(long, value_name = "N")]
    set_stale_downstream_bundles: Option<u64>,
    /// Keep this store's threshold: a downstream point this many days behind is stale
    /// (default 35).
    #[arg(long, value_name = "DAYS")]
    set_stale_downstream_days: Option<u32>,
}

/// The points registered from receipts, as `status` judges them.
fn downstream_inputs(store: &Store) -> crate::Result<Vec<DownstreamInput>> {
    let time = |s: &str| Timestamp::parse_rfc3339(s);
    Ok(store
        .downstream_points()?
        .into_iter()
        .map(|p| DownstreamInput {
            acknowledged_at: p.acknowledged_time.as_deref().and_then(time),
            received: time(&p.received).unwrap_or(Timestamp(0)),
            // Its error only when its last import (or sync) failed.
            last_error: p.last_error.filter(|_| {
                p.last_outcome
                    .as_deref()
                    .is_some_and(|o| o != "imported" && o != "succeeded")
            }),
            last_import_outcome: p.last_outcome,
            acknowledged_sequence: p.acknowledged_sequence.or(p.acknowledged_change_seq),
            bundles_behind: p.bundles_behind,
            changes_behind: p.changes_behind,
            id: p.id,
            name: p.name,
            kind: p.kind,
        })
        .collect())
}

pub fn run(a: Args) -> CliResult {
    let now = crate::cli::args::now();
    set_thresholds(&a, now)?;
    let store = Store::open_readonly(&a.store.store)?;
    let next = crate::schedule::next_sync(&store, now)?;
    let inputs = StatusInputs {
        now,
        thresholds: Thresholds::load(&store)?,
        next_sync: next.as_ref().map(|n| n.at),
        next_sync_local: next.map(|n| n.local),
        downstream: downstream_inputs(&store)?,
    };
    let s = status(&store, &inputs)?;
    if let Some(file) = &a.html {
        let page = status_page(&s, &store.sync_history(CHART_RUNS)?);
        crate::fsutil::atomic_write(file, page.as_bytes())?;
        if !a.json && !a.check {
            say(format!(
                "status page written to {}",
                esc(&file.display().to_string())
            ))?;
        }
    }
    if a.json {
        out_json(&s)?;
    } else if a.check {
        check_lines(&s)?;
    } else if a.html.is_none() {
        text(&s)?;
    }
    if a.check && !s.ok {
        return Err(CliError::Reported(
            Error::new(
                ErrorKind::Stale,
                format!(
                    "{} problem(s) in the hierarchy of '{}'",
                    s.warnings.len(),
                    s.store_name
                ),
            )
            .with_hint("`offsync status` shows them; `offsync log` the runs behind them"),
        ));
    }
    Ok(())
}

/// `--set-stale-*`: kept in the store before the status is taken with them.
fn set_thresholds(a: &Args, now: crate::time::Timestamp) -> CliResult {
    let given = a.set_stale_sync_days.is_some()
        || a.set_stale_import_days.is_some()
        || a.set_stale_downstream_bundles.is_some()
        || a.set_stale_downstream_days.is_some();
    if !given {
        return Ok(());
    }
    let mut store = Store::open(&a.store.store)?;
    let mut t = Thresholds::load(&store)?;
    t.sync_days = a.set_stale_sync_days.unwrap_or(t.sync_days);
    t.import_days = a.set_stale_import_days.unwrap_or(t.import_days);
    t.downstream_bundles = a
        .set_stale_downstream_bundles
        .unwrap_or(t.downstream_bundles);
    t.downstream_days = a.set_stale_downstream_days.unwrap_or(t.downstream_days);
    Thresholds::save(&mut store, &t, now)?;
    Ok(())
}

/// One line per problem, or one OK line: what a Nagios-like check shows.
fn check_lines(s: &Status) -> CliResult {
    if s.ok {
        return say(format!(
            "OK {} ({}): {} downstream point(s), no problem",
            esc(&s.store_name),
            s.role.as_str(),
            s.downstream.len()
        ));
    }
    for w in &s.warnings {
        say(format!(
            "{} {}: {}",
            w.problem,
            esc(&w.point),
            esc(&w.message)
        ))?;
    }
    Ok(())
}

fn text(s: &Status) -> CliResult {
    say(format!(
        "store      {} ({})",
        esc(&s.store_name),
        esc(&s.store_id)
    ))?;
    say(format!("role       {}", s.role.as_str()))?;
    say(format!(
        "upstream   {}",
        esc(s.upstream.as_deref().unwrap_or("(none set)"))
    ))?;
    last_sync(s)?;
    if let Some(e) = &s.last_error {
        say(format!(
            "last error {} at {}: {}",
            e.operation,
            esc(&e.at),
            esc(&e.message)
        ))?;
    }
    if let Some(n) = s.next_sync {
        match &s.next_sync_local {
            Some(local) => say(format!("next sync  {local} ({n})"))?,
            None => say(format!("next sync  {n}"))?,
        }
    }
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
    if s.to_fetch.files > 0 {
        say(format!(
            "           {} file(s) ({}) still to fetch for the updates not declined: `offsync content fetch`",
            s.to_fetch.files,
            bytes(s.to_fetch.bytes)
        ))?;
    }
    if c.lost > 0 {
        say(format!(
            "           {} of the missing file(s) recorded but lost or damaged in the content folder: `offsync check --read-data` names them",
            c.lost
        ))?;
    }
    last_exchanges(s)?;
    downstream(s)?;
    warnings(s)
}

fn downstream(s: &Status) -> CliResult {
    for d in &s.downstream {
        say(format!(
            "downstream {} ({}, {}): acknowledged {}, {} bundle(s) and {} day(s) behind, last import {}, receipt {}",
            esc(&d.name),
            esc(&d.kind),
            esc(&d.id),
            d.acknowledged_sequence
                .map_or("nothing".to_string(), |n| format!("sequence {n}")),
            d.bundles_behind,
            d.days_behind.map_or("?".to_string(), |n| n.to_string()),
            esc(d.last_import_outcome.as_deref().unwrap_or("unknown")),
            d.received
        ))?;
    }
    Ok(())
}

fn warnings(s: &Status) -> CliResult {
    if s.warnings.is_empty() {
        return say("warnings   none");
    }
    for w in &s.warnings {
        say(format!(
            "warning    {} {}: {}",
            w.problem,
            esc(&w.point),
            esc(&w.message)
        ))?;
    }
    Ok(())
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
        "           {} new, {} updated, {} expired, {} removed, {} unchanged{}{}",
        l.changes.new,
        l.changes.updated,
        l.changes.expired,
        l.changes.removed,
        l.changes.unchanged,
        s.last_sync_seconds
            .map_or(String::new(), |n| format!(", in {n} s")),
        s.last_sync_run
            .map_or(String::new(), |n| format!(" (run {n})"))
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
