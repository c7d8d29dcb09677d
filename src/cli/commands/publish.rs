//! `offsync publish`: turns the store into what the isolated network runs.

use super::publish_wsus;
use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{bytes, esc, out_json, say};
use crate::progress::Progress;
use crate::publish::share::{ShareOptions, publish_share};
use crate::store::Store;
use std::path::PathBuf;

/// Hand the store's updates to the isolated network in a form it uses.
#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Lay out the payload files of the live updates (not declined, not removed) as a share
    /// for networks without WSUS: one folder per product and classification, files under
    /// their original names, index.html, index.json and index.csv at the root, and the
    /// offline catalog as wsusscn2.cab when the store keeps one. A second run writes only
    /// what changed.
    Share {
        #[command(flatten)]
        store: StoreArg,
        /// The share's folder (created when its parent exists).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Remove from DIR's subfolders every file and empty folder this publish did not
        /// produce (and a wsusscn2.cab no longer published); other files at DIR's root stay.
        #[arg(long)]
        prune: bool,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
    /// Write the WSUS metadata package(s) for `wsusutil import`, the WsusContent folder,
    /// README.txt and publish.json from the store's upstream documents and payloads.
    Wsus(publish_wsus::WsusArgs),
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::Share {
            store,
            out,
            prune,
            json,
        } => {
            let store = Store::open(&store.store)?;
            crate::cli::interrupt::install()?;
            let r = publish_share(&store, &ShareOptions { out, prune }, progress)?;
            if json {
                return out_json(&r);
            }
            for m in &r.damaged_files {
                progress.note(&format!(
                    "warning: the store's copy of {} (update {}) does not match its digests: not published (`offsync check --read-data` finds such files)",
                    esc(&m.name),
                    esc(&m.update_id)
                ));
            }
            say(format!("published the share {}", esc(&r.out)))?;
            say(format!(
                "  {} updates, {} files ({}): {} linked, {} copied, {} unchanged; {} pruned",
                r.updates,
                r.files,
                bytes(r.bytes),
                r.linked,
                r.copied,
                r.unchanged,
                r.pruned
            ))?;
            say(format!(
                "  {} referenced file(s) missing from the store, {} damaged; offline catalog: {}; {} index file(s) written",
                r.missing,
                r.damaged,
                esc(&r.catalog),
                r.indexes_written
            ))
        }
        Cmd::Wsus(a) => publish_wsus::run(a, progress),
    }
}
