//! `offsync chain show|reset`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{out_json, say};
use crate::ops::chain::reset_chain;
use crate::progress::Progress;
use crate::store::Store;
use crate::text::escape_controls;
use crate::time::Timestamp;
use clap::Subcommand;

/// The chains of bundles this store imported: per source store, the last sequence imported.
///
/// A bundle from a source must continue its chain (see `import --max-jump`).
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List each source store imported from: id, name, last sequence and when it was
    /// imported, and any resets.
    Show {
        #[command(flatten)]
        store: StoreArg,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a source's chain again, so that its next bundle is taken as a first one (after a
    /// forged bundle poisoned the chain, or when the connected store was rebuilt). Recorded in
    /// the import history and the log; waits for a running import, then fails as busy (3).
    Reset {
        #[command(flatten)]
        store: StoreArg,
        /// The source store's id (see `chain show`).
        #[arg(long, value_name = "STORE-ID")]
        source: String,
    },
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::Show { store, json } => {
            let chains = Store::open_readonly(&store.store)?.chains()?;
            if json {
                return out_json(&chains);
            }
            if chains.is_empty() {
                return say("no bundle was imported into this store");
            }
            for c in &chains {
                let last = match (&c.last_sequence, &c.last_imported) {
                    (Some(s), Some(t)) => format!("last sequence {s}, imported {t}"),
                    _ => "no bundle since the reset: the next one is taken as a first one".into(),
                };
                let resets = match &c.last_reset {
                    Some(t) => format!("; reset {} time(s), last {t}", c.resets),
                    None => String::new(),
                };
                say(format!(
                    "{}  '{}'  {last}{resets}",
                    c.source_store_id,
                    escape_controls(&c.source_store_name)
                ))?;
            }
            Ok(())
        }
        Cmd::Reset { store, source } => {
            let mut store = Store::open(&store.store)?;
            let closed = reset_chain(&mut store, &source, Timestamp::now())?;
            store.report_log_failure(progress);
            say(format!(
                "the chain of source store {} ('{}') starts again{}; its next bundle is held to --max-jump counted from sequence 1",
                escape_controls(&closed.source_store_id),
                escape_controls(&closed.source_store_name),
                closed
                    .last_sequence
                    .map(|s| format!(" (it had reached sequence {s})"))
                    .unwrap_or_default()
            ))
        }
    }
}
