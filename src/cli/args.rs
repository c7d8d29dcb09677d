//! Arguments more than one verb takes.

use clap::Args;
use std::path::PathBuf;

/// The store a command works on.
#[derive(Args, Debug, Clone)]
pub struct StoreArg {
    /// The store folder (created by `offsync init`).
    #[arg(long, env = "OFFSYNC_STORE", value_name = "DIR")]
    pub store: PathBuf,
}
