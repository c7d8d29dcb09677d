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
    rotate(path, line.len() as u64)?;
    // Not through a symbolic link: a log replaced by a link must not be appended to.
    open_no_follow(path, OpenOptions::new().create(true).append(true))
        .and_then(|mut f| f.write_all(line.as_bytes()))
}

/// The size past which `offsync.log` is rotated, unless `OFFSYNC_LOG_MAX_BYTES` says otherwise
/// (tests set a small one).
pub const LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// How many older logs are kept: `offsync.log.1` (the newest) to `offsync.log.3`.
pub const LOG_KEEP: u32 = 3;

/// Rotation by size, as wsyncmgr.log does: when `extra` more bytes would take the log past the
/// limit, `offsync.log.2` becomes `.3`, `.1` becomes `.2`, the log becomes `.1`, and a new log
/// starts; the oldest is dropped.
fn rotate(path: &Path, extra: u64) -> std::io::Result<()> {
    let max = std::env::var("OFFSYNC_LOG_MAX_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(LOG_MAX_BYTES);
    let len = match std::fs::symlink_metadata(path) {
        Ok(m) => m.len(),
        Err(_) => return Ok(()),
    };
    if len == 0 || len + extra <= max {
        return Ok(());
    }
    let old = |n: u32| {
        let mut s = path.as_os_str().to_owned();
        s.push(format!(".{n}"));
        PathBuf::from(s)
    };
    for n in (1..LOG_KEEP).rev() {
        if old(n).exists() {
            std::fs::rename(old(n), old(n + 1))?;
        }
    }
    std::fs::rename(path, old(1))
}

/// The log line of one update a sync or an import changed: what happened, its KB, title,
/// revision and UpdateID.
pub fn update_line(what: &str, u: &crate::model::Update) -> String {
    format!(
        "Update {} '{}' revision {} ({}): {what}",
        u.kb.as_deref()
            .map_or("-".to_string(), |k| format!("KB{k}")),
        u.title("en"),
        u.revision,
        u.id
    )
}
