//! `offsync init`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, say};
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;

/// Create a store: a folder with the database, the content folder and the log.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// A name for this update point (default: the folder's name).
    #[arg(long)]
    name: Option<String>,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let dir = &a.store.store;
    let store = Store::init(dir, a.name.as_deref(), Timestamp::now())?;
    store.report_log_failure(progress);
    say(format!(
        "created store '{}' (id {}) in {}",
        esc(store.name()),
        store.id(),
        dir.display()
    ))?;
    say(
        "next: `offsync sync --from SOURCE` brings the categories; then `offsync criteria set`, and sync again",
    )
}
