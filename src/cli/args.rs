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

/// The current time for the commands that judge it (`status`, `log --since`): the clock, or
/// `OFFSYNC_NOW` (RFC 3339) when set. OFFSYNC_NOW is for tests only (they pin "now" instead of
/// waiting days); it is read here and nowhere else.
pub fn now() -> crate::Result<crate::time::Timestamp> {
    match std::env::var("OFFSYNC_NOW") {
        Ok(v) => crate::time::Timestamp::parse_rfc3339(&v).ok_or_else(|| {
            crate::Error::usage(format!("OFFSYNC_NOW '{v}' is not an RFC 3339 time")).with_hint(
                "unset it (it is for tests), or give a time such as 2026-11-26T13:45:00Z",
            )
        }),
        Err(_) => Ok(crate::time::Timestamp::now()),
    }
}
