//! `offsync content import`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{bytes, esc, out_json, say};
use crate::content::import_content;
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use clap::Subcommand;
use std::path::PathBuf;

/// Payload files of the updates.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Take in downloaded payload files whose digests match a file of a stored update.
    Import {
        #[command(flatten)]
        store: StoreArg,
        /// The folder to walk (for example a WSUSContent folder).
        dir: PathBuf,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
    /// Download the missing payload files of the stored updates from their addresses
    /// (resumable, digest-checked, retried; see the README).
    Fetch(super::content_fetch::FetchArgs),
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    let (store, dir, json) = match c {
        Cmd::Import { store, dir, json } => (store, dir, json),
        Cmd::Fetch(a) => return super::content_fetch::run(a, progress),
    };
    let mut store = Store::open(&store.store)?;
    let r = import_content(&mut store, &dir, Timestamp::now(), progress)?;
    store.report_log_failure(progress);
    if json {
        return out_json(&r);
    }
    for m in &r.matched {
        say(format!(
            "matched  {}  ->  {}{}",
            esc(&m.path),
            esc(&m.name),
            if m.repaired {
                " (replaced a missing or damaged copy)"
            } else if m.added {
                ""
            } else {
                " (already present)"
            }
        ))?;
    }
    for u in &r.unmatched {
        say(format!("no match {}", esc(u)))?;
    }
    for m in &r.missing {
        say(format!(
            "missing  {} of {} ({})",
            esc(&m.name),
            esc(&m.title),
            m.update_id
        ))?;
    }
    say(format!(
        "{} file(s) scanned, {} matched, {} added ({}), {} repaired, {} unmatched, {} referenced file(s) still missing",
        r.scanned,
        r.matched.len(),
        r.added_files,
        bytes(r.added_bytes),
        r.repaired_files,
        r.unmatched.len(),
        r.missing.len()
    ))
}
