//! `offsync upstream set` and `offsync upstream show`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::say;
use crate::ops::upstream::set_upstream;
use crate::store::Store;
use crate::time::Timestamp;
use clap::Subcommand;
use std::path::PathBuf;

/// The default upstream of `offsync sync`.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Set the upstream: a folder of upd:Update documents, wsusscn2.cab, or a parent store.
    Set {
        #[command(flatten)]
        store: StoreArg,
        /// The folder of documents, the path of a `.cab` catalog, or the parent store's folder.
        #[arg(value_name = "SOURCE")]
        source: PathBuf,
    },
    /// Show the upstream.
    Show {
        #[command(flatten)]
        store: StoreArg,
    },
}

pub fn run(c: Cmd) -> CliResult {
    match c {
        Cmd::Set { store, source } => {
            let mut store = Store::open(&store.store)?;
            let described = set_upstream(&mut store, &source, Timestamp::now())?;
            say(format!("upstream: {described}"))
        }
        Cmd::Show { store } => match Store::open_readonly(&store.store)?.setting("upstream")? {
            Some(u) => say(u),
            None => say("no upstream set (use `offsync upstream set SOURCE`)"),
        },
    }
}
