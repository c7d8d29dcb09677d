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

/// Test hook, not for use: `OFFSYNC_TEST_NOW` (an RFC 3339 time) makes the clock of the
/// commands that judge time (`schedule`, `sync`, `run`, `status`, `log --since`) start at that
/// time and run on from there, so that tests through the binary stand before or after a slot,
/// or days later, without waiting. Read here and nowhere else.
const TEST_NOW: &str = "OFFSYNC_TEST_NOW";

/// The current time (see [`TEST_NOW`]).
pub fn now() -> crate::time::Timestamp {
    use crate::time::Timestamp;
    static START: std::sync::OnceLock<Option<(Timestamp, std::time::Instant)>> =
        std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        let t = std::env::var(TEST_NOW).ok()?;
        Some((Timestamp::parse_rfc3339(&t)?, std::time::Instant::now()))
    });
    match start {
        Some((t, at)) => Timestamp(t.0 + at.elapsed().as_secs() as i64),
        None => Timestamp::now(),
    }
}
