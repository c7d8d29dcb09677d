//! SIGINT and SIGTERM (Ctrl-C, `kill`, a service manager stopping a job) during a long export or
//! import: the handler only records the request; the library sees it through
//! [`crate::progress::Progress::cancelled`] and stops at its next safe point, removing what it
//! had half written, so the process exits 130 with nothing partial left behind.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once per process; the commands that take it run once).
pub fn install() -> Result<()> {
    ctrlc::set_handler(|| REQUESTED.store(true, Ordering::SeqCst))
        .map_err(|e| Error::other(format!("cannot install the SIGINT/SIGTERM handler: {e}")))
}

/// Whether a SIGINT or SIGTERM arrived since [`install`].
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
