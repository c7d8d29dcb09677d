//! Which failures are worth another try, and how long to wait before it: exponential
//! back-off from one second, or the server's own `Retry-After` when it gives one.

use std::time::Duration;

/// How often and how patiently a download is retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Tries of one file after transient failures (the first one included).
    pub attempts: u32,
    /// The first wait; each further one doubles it.
    pub base: Duration,
    /// The longest wait between two tries, the server's `Retry-After` included (a server
    /// asking for an hour is waited on for this long, then tried again).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_secs(1),
            max_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `next` (2 for the first retry): the server's wish when it gave one,
    /// else 1 s, 2 s, 4 s... both capped at `max_wait`.
    pub fn wait(&self, next: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self
            .base
            .saturating_mul(1u32 << next.saturating_sub(2).min(16));
        retry_after.unwrap_or(backoff).min(self.max_wait)
    }
}

/// Why one try failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try (a reset connection, a timeout, 429, 5xx), after the server's
    /// `Retry-After` when it gave one.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Not worth another try (404, a refused certificate, too many redirects...).
    Permanent(String),
    /// The operator asked the run to stop; the partial file stays, to be resumed.
    Cancelled,
    /// The local disk failed (full, read-only...): every other file would fail alike, so the
    /// run stops with a storage error instead of trying them all.
    Local(String),
}

impl Failure {
    /// The storage error a [`Failure::Local`] stops the run with.
    pub fn local_error(reason: &str) -> crate::error::Error {
        crate::error::Error::new(crate::error::ErrorKind::Storage, reason.to_string()).with_hint(
            "free space or fix the store's staging folder, then run again (what arrived is kept)",
        )
    }

    pub fn transient(reason: impl Into<String>) -> Failure {
        Failure::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            Failure::Transient { reason, .. }
            | Failure::Permanent(reason)
            | Failure::Local(reason) => reason,
            Failure::Cancelled => "interrupted",
        }
    }
}

/// The failure an HTTP status that is not a success means.
pub fn status_failure(code: u16, retry_after: Option<&str>) -> Failure {
    let reason = format!("HTTP {code}");
    match code {
        408 | 425 | 429 | 500..=599 => Failure::Transient {
            reason,
            retry_after: retry_after.and_then(parse_retry_after),
        },
        _ => Failure::Permanent(reason),
    }
}

/// `Retry-After` in seconds. The HTTP-date form is not read (it would need the wall clock):
/// the back-off applies then.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The failure a client error means: the network's troubles are transient, a bad address,
/// a refused certificate or a redirect loop are not.
pub fn client_failure(e: &ureq::Error) -> Failure {
    use ureq::Error as E;
    match e {
        E::Io(_) | E::Timeout(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_) => {
            Failure::transient(e.to_string())
        }
        _ => Failure::Permanent(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_and_obey_retry_after_within_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.wait(2, None), Duration::from_secs(1));
        assert_eq!(p.wait(3, None), Duration::from_secs(2));
        assert_eq!(p.wait(5, None), Duration::from_secs(8));
        assert_eq!(p.wait(30, None), Duration::from_secs(300));
        assert_eq!(
            p.wait(2, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.wait(2, Some(Duration::from_secs(7200))),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn statuses_are_transient_or_permanent() {
        assert_eq!(
            status_failure(503, Some("3")),
            Failure::Transient {
                reason: "HTTP 503".into(),
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert!(matches!(
            status_failure(429, None),
            Failure::Transient { .. }
        ));
        assert_eq!(
            status_failure(404, None),
            Failure::Permanent("HTTP 404".into())
        );
        assert_eq!(
            status_failure(403, None),
            Failure::Permanent("HTTP 403".into())
        );
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
