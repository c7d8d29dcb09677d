//! `offsync run`: the scheduled loop in the foreground, with the real clock and a sleep that
//! wakes on SIGTERM or SIGINT.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out, say};
use crate::error::Error;
use crate::ops::run::{Clock, RunEvent, RunOptions, StopReason, Wake, run as run_loop};
use crate::progress::Progress;
use crate::schedule;
use crate::store::Store;
use crate::sync::SyncOptions;
use crate::time::Timestamp;
use std::path::PathBuf;
use std::time::Duration;

/// Sync on the store's schedule, in the foreground, until stopped.
///
/// SIGTERM or SIGINT stops it between steps (exit 0). A run missed while the machine was off happens once at start; a failed
/// run is retried after 1 minute, doubling up to 1 hour (or at the next slot). Each run is
/// logged in the store's log. For a systemd service or a console; see the README.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// After each sync that changed something, write an incremental bundle (the changes
    /// since the last export) into this drop folder, which must exist.
    #[arg(long, value_name = "DIR")]
    export_to: Option<PathBuf>,
    /// Largest bundle volume written into the drop folder (as for `export`).
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "fat32",
        requires = "export_to"
    )]
    max_volume_size: String,
    /// Print each event as one JSON object per line (fields: see the README).
    #[arg(long)]
    json: bool,
    /// Test hook, not for use: stop after this many runs.
    #[arg(long, hide = true, value_name = "N")]
    max_runs: Option<u64>,
    /// For a catalog given by URL: --limit-rate, --mirror, --proxy as for `sync`.
    #[command(flatten)]
    net: crate::cli::commands::content_fetch::NetArgs,
}

/// The real clock: the time (with the test hook of `schedule`), and a sleep that looks at the
/// interrupt flag and the wall clock every quarter second, so that a stop is quick and a
/// machine that slept through the time wakes at once.
struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Timestamp {
        super::schedule::now()
    }
    fn sleep_until(&self, t: Timestamp) -> Wake {
        loop {
            if crate::cli::interrupt::requested() {
                return Wake::Stop;
            }
            if self.now() >= t {
                return Wake::Continue;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    fn stop_requested(&self) -> bool {
        crate::cli::interrupt::requested()
    }
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let mut store = Store::open(&a.store.store)?;
    let sched = schedule::load(&store)?.ok_or_else(|| {
        Error::usage("this store has no schedule to run").with_hint(
            "set one with `offsync schedule set --store S SPEC` (e.g. \"weekly sun 02:00\")",
        )
    })?;
    if store.setting("upstream")?.is_none() {
        return Err(Error::usage("this store has no upstream to sync from")
            .with_hint("set one with `offsync upstream set --store S SOURCE`")
            .into());
    }
    if let Some(d) = &a.export_to {
        crate::bundle::check_out_dir(d)?;
    }
    let opts = RunOptions {
        export_to: a.export_to,
        max_volume_size: crate::bundle::parse_size(&a.max_volume_size)?,
        sync: SyncOptions::default(),
        max_runs: a.max_runs,
        net: a.net.net()?,
    };
    // SIGINT and SIGTERM now end a sleep at once, and a sync at its next safe point.
    crate::cli::interrupt::install()?;
    let mut failed_output: Option<crate::cli::exit::CliError> = None;
    let mut on_event = |e: &RunEvent| {
        if failed_output.is_none()
            && let Err(err) = show(e, a.json)
        {
            failed_output = Some(err);
        }
    };
    let summary = run_loop(
        &mut store,
        &sched,
        &opts,
        &RealClock,
        progress,
        &mut on_event,
    )?;
    store.report_log_failure(progress);
    if let Some(e) = failed_output {
        return Err(e);
    }
    if !a.json && summary.stopped == StopReason::Signal {
        progress.note(&format!(
            "stopped: {} run(s), {} failed",
            summary.runs, summary.failures
        ));
    }
    Ok(())
}

/// One event as a line of text or of JSON.
fn show(e: &RunEvent, json: bool) -> CliResult {
    if json {
        let s = serde_json::to_string(e).map_err(|e| Error::other(format!("JSON: {e}")))?;
        return out(&format!("{s}\n"));
    }
    say(text(e))
}

fn text(e: &RunEvent) -> String {
    match e {
        RunEvent::Sleeping {
            until,
            local,
            retry,
        } => format!(
            "{} at {local} ({until})",
            if *retry { "retrying" } else { "next run" }
        ),
        RunEvent::Synced {
            started,
            new,
            updated,
            expired,
            removed,
            categories,
            content_files,
        } => format!(
            "{started} synced: {new} new, {updated} updated, {expired} expired, {removed} removed; {categories} categories changed; {content_files} content file(s) taken"
        ),
        RunEvent::Exported {
            bundle_dir,
            sequence,
            kind,
        } => format!(
            "  exported {kind} bundle (sequence {sequence}) to {}",
            esc(bundle_dir)
        ),
        RunEvent::NothingToExport => "  nothing new to export".to_string(),
        RunEvent::Receipts { accepted, refused } => format!(
            "  receipts of child points: {accepted} registered, {refused} refused (`offsync receipt import --store S` says why)"
        ),
        RunEvent::Failed {
            started,
            error,
            retry_at,
        } => format!(
            "{started} run failed: {}; next try at {retry_at}",
            esc(error)
        ),
        RunEvent::Stopped { reason } => match reason {
            StopReason::Signal => "stopped (SIGTERM or SIGINT)".to_string(),
            StopReason::MaxRuns => "stopped after the runs asked for".to_string(),
        },
    }
}
