//! The store's log (`offsync.log`): a line per phase and per notable event, in the spirit of
//! Configuration Manager's wsyncmgr.log. Logging never fails a command: a line that cannot be
//! written is kept as a warning, and the operation that owns a progress reports it there
//! ([`super::Store::report_log_failure`]); the store itself never prints.

use crate::fsutil::open_no_follow;
use crate::text::escape_controls;
use crate::time::Timestamp;
use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(super) const LOG_FILE: &str = "offsync.log";

/// The log of one open store, with the first write that failed since it was last reported.
pub(super) struct Log {
    path: PathBuf,
    failure: RefCell<Option<String>>,
}

impl Log {
    pub(super) fn new(root: &Path) -> Log {
        Log {
            path: root.join(LOG_FILE),
            failure: RefCell::new(None),
        }
    }

    /// Appends a line; a failure is kept (the first one) for [`Log::take_failure`].
    pub(super) fn append(&self, component: &str, message: &str, now: Timestamp) {
        if let Err(e) = append_line(&self.path, component, message, now) {
            self.failure
                .borrow_mut()
                .get_or_insert_with(|| format!("cannot write {}: {e}", self.path.display()));
        }
    }

    pub(super) fn take_failure(&self) -> Option<String> {
        self.failure.borrow_mut().take()
    }
}

pub(super) fn append_line(
    path: &Path,
    component: &str,
    message: &str,
    now: Timestamp,
) -> std::io::Result<()> {
    // One record is one line whatever the message quotes (a store name from a bundle, an
    // error naming a manifest value): control characters are escaped.
    let line = format!(
        "{}  {:<8} {}\n",
        now.rfc3339(),
        escape_controls(component),
        escape_controls(message)
    );
    // Not through a symbolic link: a log replaced by a link must not be appended to.
    open_no_follow(path, OpenOptions::new().create(true).append(true))
        .and_then(|mut f| f.write_all(line.as_bytes()))
}
