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
