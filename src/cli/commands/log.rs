//! `offsync log`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, say};
use crate::error::Error;
use crate::store::{LogFilter, LogLine, Store, parse_since, read_log};
use std::time::Duration;

/// Show the store's log (offsync.log and its rotated predecessors), oldest first: each sync
/// and import phase, each changed update, each refusal.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Only lines at or after TIME: RFC 3339 (2026-11-26T13:45:00Z), a date (2026-11-26,
    /// midnight UTC) or an age (30m, 2h, 3d, 1w).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only the lines of sync run N (the run `status` names; lines written before offsync
    /// marked runs carry none).
    #[arg(long, value_name = "N")]
    run: Option<i64>,
    /// Keep showing lines as they are written, until SIGINT or SIGTERM.
    #[arg(long)]
    follow: bool,
    /// One JSON object per line: time, component, run, message.
    #[arg(long)]
    json: bool,
    /// How often --follow looks for new lines, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500, hide = true)]
    poll_ms: u64,
}

pub fn run(a: Args) -> CliResult {
    let now = crate::cli::args::now();
    let filter = LogFilter {
        since: a
            .since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()?,
        run: a.run,
    };
    // Opened to refuse a folder that is not a store with the usual error.
    let store = Store::open_readonly(&a.store.store)?;
    let root = store.root().to_path_buf();
    drop(store);
    let (lines, mut reader) = read_log(&root, &filter)?;
    for l in &lines {
        show(l, a.json)?;
    }
    if !a.follow {
        return Ok(());
    }
    crate::cli::interrupt::install()?;
    while !crate::cli::interrupt::requested() {
        std::thread::sleep(Duration::from_millis(a.poll_ms.max(1)));
        for l in reader.poll()? {
            if filter.keeps(&l) {
                show(&l, a.json)?;
            }
        }
    }
    Ok(())
}

/// A line as the log holds it (escaped again: the file may have been edited), or as JSON.
fn show(l: &LogLine, json: bool) -> CliResult {
    if json {
        let s = serde_json::to_string(l)
            .map_err(|e| Error::other(format!("cannot write JSON: {e}")))?;
        return say(s);
    }
    let Some(time) = &l.time else {
        return say(esc(&l.message));
    };
    let run = l.run.map(|n| format!("[run {n}] ")).unwrap_or_default();
    say(format!(
        "{}  {:<8} {run}{}",
        esc(time),
        esc(&l.component),
        esc(&l.message)
    ))
}
