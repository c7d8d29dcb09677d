//! The HTTP client as offsync configures it: redirects followed up to a limit (Microsoft's
//! download hosts redirect), HTTPS checked against the platform's certificate store, a proxy
//! from `--proxy` (for every address) or else the first set of `ALL_PROXY`, `HTTPS_PROXY`,
//! `HTTP_PROXY` (ureq's order, for every scheme; with `NO_PROXY`), every body byte through
//! the run's rate limit.

use super::Pace;
use super::rate::RateLimiter;
use super::retry::{Failure, RetryPolicy, client_failure};
use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Redirects followed for one request; more is a failure (a loop, or a misconfigured mirror).
pub const MAX_REDIRECTS: u32 = 10;

/// What the operator chose for the network.
#[derive(Clone, Debug, Default)]
pub struct NetOptions {
    /// A proxy for every request (`http://host:port`); else the environment's.
    pub proxy: Option<String>,
    /// Bytes per second for all downloads together.
    pub limit_rate: Option<u64>,
    /// Scheme and host (and an optional path prefix) that replace those of every URL.
    pub mirror: Option<String>,
    pub retry: RetryPolicy,
}

/// The client and the run's shared limits; shared by the download threads.
pub struct Net {
    agent: ureq::Agent,
    pub(crate) pace: Arc<dyn Pace>,
    limiter: Option<RateLimiter>,
    /// The mirror's `scheme://authority` and path prefix (without a trailing `/`).
    mirror: Option<(String, String)>,
    pub(crate) retry: RetryPolicy,
    /// Body bytes received by the run, all downloads together.
    received: AtomicU64,
    /// Transient failures in a row, across all downloads, while no byte arrived anywhere.
    dry: AtomicU32,
    /// After this many such failures the run gives up on the network.
    give_up_after: AtomicU32,
}

impl Net {
    pub fn new(opts: &NetOptions, pace: Arc<dyn Pace>) -> Result<Net> {
        let proxy = match &opts.proxy {
            Some(p) => Some(ureq::Proxy::new(p).map_err(|e| {
                Error::usage(format!("--proxy {p}: {e}"))
                    .with_hint("give the proxy as http://HOST:PORT")
            })?),
            None => ureq::Proxy::try_from_env(),
        };
        // ureq is built without SOCKS: such a proxy would fail every download one by one.
        if let Some(p) = &proxy
            && !matches!(
                p.protocol(),
                ureq::ProxyProtocol::Http | ureq::ProxyProtocol::Https
            )
        {
            return Err(Error::usage(format!(
                "the proxy {}:{} is a SOCKS proxy, which offsync does not support",
                p.host(),
                p.port()
            ))
            .with_hint("use an HTTP proxy: --proxy http://HOST:PORT, or HTTPS_PROXY/HTTP_PROXY with ALL_PROXY unset"));
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            // Statuses are judged here (retry or not), not turned into errors.
            .http_status_as_error(false)
            .max_redirects(MAX_REDIRECTS)
            .proxy(proxy)
            .tls_config(tls)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            // A stalled transfer fails after this long without a byte, and is resumed.
            .timeout_per_read(Some(Duration::from_secs(120)))
            .user_agent(concat!("offsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mirror = match &opts.mirror {
            Some(m) => Some(mirror_parts(m).ok_or_else(|| {
                Error::usage(format!(
                    "--mirror {m} is not an http:// or https:// address"
                ))
                .with_hint("give the mirror as http://HOST[:PORT][/PREFIX]")
            })?),
            None => None,
        };
        let limiter = opts.limit_rate.map(|r| RateLimiter::new(r, pace.as_ref()));
        Ok(Net {
            agent,
            pace,
            limiter,
            mirror,
            retry: opts.retry.clone(),
            received: AtomicU64::new(0),
            dry: AtomicU32::new(0),
            give_up_after: AtomicU32::new(3 * 4),
        })
    }

    /// Sets how many downloads run at once: the run gives up on the network after three
    /// failures per download in a row with nothing received anywhere.
    pub fn set_parallel(&self, n: usize) {
        let n = u32::try_from(n.max(1)).unwrap_or(u32::MAX / 3);
        self.give_up_after
            .store(n.saturating_mul(3), Ordering::Relaxed);
    }

    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Counts a transient failure of a try that received nothing while nothing arrived
    /// elsewhere either; past the limit, why the run gives up (each file left then fails at
    /// once instead of costing minutes of retries).
    pub(crate) fn dry_failure(&self, reason: &str) -> Option<String> {
        let n = self.dry.fetch_add(1, Ordering::Relaxed) + 1;
        (n >= self.give_up_after.load(Ordering::Relaxed)).then(|| {
            format!("network unreachable: {n} tries in a row failed with nothing received (last: {reason})")
        })
    }

    /// Why the run has given up on the network, once it has.
    pub(crate) fn given_up(&self) -> Option<String> {
        let n = self.dry.load(Ordering::Relaxed);
        (n >= self.give_up_after.load(Ordering::Relaxed)).then(|| {
            format!("network unreachable: not tried after {n} tries in a row failed with nothing received")
        })
    }

    /// The address to request for `url`: the mirror's scheme and host in place of the URL's
    /// when a mirror is set, with its path prefix before the URL's path.
    pub fn address(&self, url: &str) -> String {
        match (&self.mirror, split_url(url)) {
            (Some((origin, prefix)), Some((_, rest))) => format!("{origin}{prefix}{rest}"),
            _ => url.to_string(),
        }
    }

    /// Sends a GET with these headers. Redirects are followed inside.
    pub(crate) fn get(
        &self,
        url: &str,
        headers: &[(&str, String)],
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, Failure> {
        let mut req = self.agent.get(url);
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        req.call().map_err(|e| client_failure(&e))
    }

    /// Counts `n` body bytes against the rate limit, waiting when the run is ahead of it.
    pub(crate) fn throttle(&self, n: u64) {
        // Bytes arrive: the network works, whatever failed before.
        self.received.fetch_add(n, Ordering::Relaxed);
        self.dry.store(0, Ordering::Relaxed);
        if let Some(l) = &self.limiter {
            l.take(n, self.pace.as_ref());
        }
    }
}

/// `scheme://authority` and the rest (path, query) of an http(s) URL.
fn split_url(url: &str) -> Option<(&str, &str)> {
    if !super::is_url(url) {
        return None;
    }
    let after = url.find("://")? + 3;
    let end = url[after..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after + i);
    Some((&url[..end], &url[end..]))
}

fn mirror_parts(m: &str) -> Option<(String, String)> {
    let (origin, rest) = split_url(m.trim())?;
    if origin.len() <= "https://".len() || rest.contains(['?', '#']) {
        return None;
    }
    Some((origin.to_string(), rest.trim_end_matches('/').to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_replaces_scheme_and_host_and_keeps_the_path() {
        let pace: Arc<dyn Pace> = Arc::new(crate::fetch::rate::tests::FakePace::default());
        let net = |m: &str| {
            Net::new(
                &NetOptions {
                    mirror: Some(m.into()),
                    ..Default::default()
                },
                pace.clone(),
            )
            .unwrap()
        };
        let u = "http://download.windowsupdate.com/d/msdownload/a.cab?x=1";
        assert_eq!(
            net("https://mirror.lan:8080").address(u),
            "https://mirror.lan:8080/d/msdownload/a.cab?x=1"
        );
        assert_eq!(
            net("http://cache/wu/").address(u),
            "http://cache/wu/d/msdownload/a.cab?x=1"
        );
        assert!(
            Net::new(
                &NetOptions {
                    mirror: Some("ftp://x".into()),
                    ..Default::default()
                },
                pace.clone()
            )
            .is_err()
        );
    }
}
