//! Downloads over HTTP(S): the payload files of the stored updates (`content fetch`) and
//! Microsoft's offline catalog when an upstream is given by URL. Knows nothing of clap or the
//! terminal; the passing of time (waits between retries, the rate limit) goes through a
//! [`Pace`] the caller gives, so tests run without real waits.
//!
//! - `http`: the HTTP client (ureq) as configured for offsync: redirects, proxies, TLS.
//! - `rate`: one token bucket shared by every download of a run (`--limit-rate`).
//! - `retry`: which failures are worth another try, and how long to wait before it.
//! - `download`: one file to a partial file, resumed with a Range request, hashed on the way.
//! - `content`: the missing payload files of the store, downloaded in parallel and taken
//!   into the content folder.
//! - `catalog`: the offline catalog over HTTP, fetched only when it changed.

pub mod catalog;
pub mod content;
pub mod download;
pub mod http;
pub mod rate;
pub mod retry;

pub use content::{FetchOptions, FetchReport, fetch_content};
pub use http::{Net, NetOptions};

use std::time::Duration;

/// The passing of time as downloads see it: a monotonic reading and a way to wait. The
/// command line gives the real one; tests give one that only counts.
pub trait Pace: Send + Sync {
    /// Time since an arbitrary fixed start (monotonic).
    fn elapsed(&self) -> Duration;
    /// Waits `d` (the rate limit's waits).
    fn sleep(&self, d: Duration);
    /// Waits `d` before a retry; may wait less (the command line caps it for tests).
    fn sleep_before_retry(&self, d: Duration) {
        self.sleep(d)
    }
}

/// Whether `spec` names an HTTP(S) address rather than a local path.
pub fn is_url(spec: &str) -> bool {
    let s = spec.trim_start();
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The folder under the store's staging folder that holds partial downloads. A folder of its
/// own: the store's recovery removes the staging folder's own `.partial` files, and a partial
/// download must survive to be resumed.
pub const DOWNLOADS_DIR: &str = "downloads";

/// The lock file in [`DOWNLOADS_DIR`]: one download run at a time per store. Two runs (a
/// scheduled `sync --fetch-content` beside a manual `content fetch`) would otherwise write the
/// same partial files, and one could cut the catalog the other is syncing from.
const LOCK_FILE: &str = ".lock";

/// Held while a run downloads into the store's staging folder; released when dropped.
#[derive(Debug)]
pub struct DownloadLock {
    _file: std::fs::File,
}

/// Takes the store's download lock (creating the downloads folder), or fails at once with a
/// busy error when another process holds it.
pub fn lock_downloads(store: &crate::store::Store) -> crate::error::Result<DownloadLock> {
    use crate::error::{Error, ErrorKind};
    let dir = store.staging_dir().join(DOWNLOADS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, "open", e))?;
    match file.try_lock() {
        Ok(()) => Ok(DownloadLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::new(
            ErrorKind::Busy,
            format!(
                "another download is running in this store ({} is locked)",
                path.display()
            ),
        )
        .with_hint("wait for the other `content fetch` or `sync` to finish, then run again")),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, "lock", e)),
    }
}
