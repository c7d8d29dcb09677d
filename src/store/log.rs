//! The store's log (`offsync.log`): a line per phase and per notable event, in the spirit of
//! Configuration Manager's wsyncmgr.log. Logging never fails a command: a line that cannot be
//! written is kept as a warning, and the operation that owns a progress reports it there
//! ([`super::Store::report_log_failure`]); the store itself never prints.

use crate::fsutil::open_no_follow;
use crate::text::escape_controls;
use crate::time::Timestamp;
use std::cell::{Cell, RefCell};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) const LOG_FILE: &str = "offsync.log";

/// The log of one open store, with the first write that failed since it was last reported.
pub(super) struct Log {
    path: PathBuf,
    failure: RefCell<Option<String>>,
    /// The log file as last opened, kept across lines: an import writes a line per update,
    /// and opening and measuring the file for each one cost about a tenth of its time.
    open: RefCell<Option<OpenLog>>,
    /// The sync run (its `sync_runs` id) the lines written now belong to.
    run: Cell<Option<i64>>,
}

/// An open log file: its size as this process wrote it, and lines since the path was checked.
struct OpenLog {
    file: File,
    len: u64,
    /// The rotation size, read once per opening.
    max: u64,
    unchecked: u32,
}

/// Lines written to a kept-open log before its path is looked at again: another process may
/// have rotated it, or put a link in its place, since it was opened.
const RECHECK_LINES: u32 = 64;

impl Log {
    pub(super) fn new(root: &Path) -> Log {
        Log {
            path: root.join(LOG_FILE),
            failure: RefCell::new(None),
            open: RefCell::new(None),
            run: Cell::new(None),
        }
    }

    /// Marks the lines written from now on as those of sync run `run` (or of none).
    pub(super) fn set_run(&self, run: Option<i64>) {
        self.run.set(run);
    }

    /// The sync run the lines written now belong to.
    pub(super) fn run(&self) -> Option<i64> {
        self.run.get()
    }

    /// Appends a line; a failure is kept (the first one) for [`Log::take_failure`].
    pub(super) fn append(&self, component: &str, message: &str, now: Timestamp) {
        let line = format_line(component, message, self.run.get(), now);
        if let Err(e) = self.append_kept(&line) {
            // Opened again from the path for the next line.
            self.open.borrow_mut().take();
            self.failure
                .borrow_mut()
                .get_or_insert_with(|| format!("cannot write {}: {e}", self.path.display()));
        }
    }

    fn append_kept(&self, line: &str) -> std::io::Result<()> {
        let mut open = self.open.borrow_mut();
        let extra = line.len() as u64;
        let stale = match open.as_mut() {
            None => true,
            Some(o) if o.len > 0 && o.len + extra > o.max => true,
            Some(o) if o.unchecked >= RECHECK_LINES => {
                o.unchecked = 0;
                !same_file(&self.path, &o.file)
            }
            Some(_) => false,
        };
        if stale {
            *open = None;
            rotate(&self.path, extra)?;
            let file = open_no_follow(&self.path, OpenOptions::new().create(true).append(true))?;
            let len = file.metadata()?.len();
            *open = Some(OpenLog {
                file,
                len,
                max: max_bytes(),
                unchecked: 0,
            });
        }
        let Some(o) = open.as_mut() else {
            return Ok(());
        };
        o.file.write_all(line.as_bytes())?;
        o.len += extra;
        o.unchecked += 1;
        Ok(())
    }

    pub(super) fn take_failure(&self) -> Option<String> {
        self.failure.borrow_mut().take()
    }
}

/// Whether `path` (not followed if a link) is still the file `file` has open.
fn same_file(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::symlink_metadata(path), file.metadata()) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        // Without inode numbers: open again from the path every RECHECK_LINES lines.
        let _ = (path, file);
        false
    }
}

/// One record, one line whatever the message quotes (a store name from a bundle, an error
/// naming a manifest value): control characters are escaped. A line of a sync run starts its
/// message with `[run N] ` (see `logread`, which parses it back).
fn format_line(component: &str, message: &str, run: Option<i64>, now: Timestamp) -> String {
    let run = run.map(|n| format!("[run {n}] ")).unwrap_or_default();
    format!(
        "{}  {:<8} {run}{}\n",
        now.rfc3339(),
        escape_controls(component),
        escape_controls(message)
    )
}

/// The size past which `offsync.log` is rotated, unless `OFFSYNC_LOG_MAX_BYTES` says otherwise
/// (tests set a small one).
pub const LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;

fn max_bytes() -> u64 {
    std::env::var("OFFSYNC_LOG_MAX_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(LOG_MAX_BYTES)
}

/// How many older logs are kept: `offsync.log.1` (the newest) to `offsync.log.3`.
pub const LOG_KEEP: u32 = 3;

/// Rotation by size, as wsyncmgr.log does: when `extra` more bytes would take the log past the
/// limit, `offsync.log.2` becomes `.3`, `.1` becomes `.2`, the log becomes `.1`, and a new log
/// starts; the oldest is dropped.
fn rotate(path: &Path, extra: u64) -> std::io::Result<()> {
    let max = max_bytes();
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
