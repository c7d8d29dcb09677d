//! `offsync content fetch`: its options, the real passing of time for the downloads, and the
//! rendering of what a fetch did (shared with `sync --fetch-content`).

use crate::cli::args::StoreArg;
use crate::cli::exit::{CliError, CliResult};
use crate::cli::output::{bytes, esc, out_json, say};
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::rate::parse_rate;
use crate::fetch::{FetchOptions, FetchReport, Net, NetOptions, Pace, fetch_content};
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Download the missing payload files of the stored updates from the addresses the metadata
/// gives (the offline catalog's FileLocations).
#[derive(clap::Args, Debug)]
pub struct FetchArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Only this update (UpdateID or KBnnnnnnn; repeatable). Default: every update that is
    /// not declined.
    #[arg(long = "update", value_name = "ID|KB")]
    updates: Vec<String>,
    #[command(flatten)]
    net: NetArgs,
    /// List what would be downloaded; download nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the result as JSON (fields: see the README).
    #[arg(long)]
    json: bool,
}

/// The network options of a fetch (also `sync --fetch-content`'s).
#[derive(clap::Args, Debug, Clone)]
pub struct NetArgs {
    /// Files downloaded at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Cap on the total bandwidth, in bytes per second: 20M, 512K, 100000 (K, M, G: powers of
    /// 1024).
    #[arg(long, value_name = "RATE", value_parser = rate_arg)]
    limit_rate: Option<u64>,
    /// Replace the scheme and host of every download address with this one
    /// (http://HOST[:PORT][/PREFIX]): an internal mirror or cache that serves the same paths.
    #[arg(long, value_name = "URL")]
    mirror: Option<String>,
    /// The HTTP proxy for every request (http://HOST:PORT). Default: HTTPS_PROXY, HTTP_PROXY or
    /// ALL_PROXY, with NO_PROXY.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
}

fn rate_arg(s: &str) -> std::result::Result<u64, String> {
    parse_rate(s).ok_or_else(|| format!("'{s}' is not a rate (give 20M, 512K or 100000)"))
}

impl NetArgs {
    pub(crate) fn parallel(&self) -> usize {
        usize::from(self.parallel)
    }

    /// The client and limits these options ask for.
    pub(crate) fn net(&self) -> Result<Net> {
        net(NetOptions {
            proxy: self.proxy.clone(),
            limit_rate: self.limit_rate,
            mirror: self.mirror.clone(),
            retry: Default::default(),
        })
    }
}

/// The client with the real passing of time.
pub(crate) fn net(opts: NetOptions) -> Result<Net> {
    Net::new(&opts, Arc::new(RealPace::new()))
}

/// Real time. `OFFSYNC_TEST_MAX_RETRY_WAIT_MS` (for tests only: undocumented for operators)
/// caps each wait before a retry, so that tests of `Retry-After` and back-off run fast; the
/// rate limit's waits are never capped.
struct RealPace {
    start: Instant,
    retry_cap: Option<Duration>,
}

impl RealPace {
    fn new() -> RealPace {
        RealPace {
            start: Instant::now(),
            retry_cap: std::env::var("OFFSYNC_TEST_MAX_RETRY_WAIT_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis),
        }
    }
}

impl Pace for RealPace {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
    fn sleep_before_retry(&self, d: Duration) {
        // In short steps: a wait of minutes (Retry-After) must not hold up Ctrl-C.
        let until = Instant::now() + self.retry_cap.map_or(d, |c| d.min(c));
        while !crate::cli::interrupt::requested() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(250)));
        }
    }
}

pub fn run(a: FetchArgs, progress: &dyn Progress) -> CliResult {
    let net = a.net.net()?;
    let mut store = Store::open(&a.store.store)?;
    // Ctrl-C stops at the next chunk: finished files are kept, partial ones resumed later.
    crate::cli::interrupt::install()?;
    let opts = FetchOptions {
        updates: a.updates,
        parallel: a.net.parallel(),
        dry_run: a.dry_run,
    };
    let r = fetch_content(&mut store, &net, &opts, &Timestamp::now, progress)?;
    store.report_log_failure(progress);
    if a.json {
        out_json(&r)?;
    } else {
        render(&r)?;
    }
    match incomplete(&r) {
        Some(e) if a.json => Err(CliError::Reported(e)),
        Some(e) => Err(CliError::Failed(e)),
        None => Ok(()),
    }
}

/// The error that sets the exit code when some files failed.
pub(crate) fn incomplete(r: &FetchReport) -> Option<Error> {
    (!r.failed.is_empty() && !r.dry_run).then(|| {
        Error::new(
            ErrorKind::FetchIncomplete,
            format!(
                "{} payload file(s) could not be downloaded",
                r.failed.len()
            ),
        )
        .with_hint("see the reasons above (and the store's log); run `offsync content fetch` again to retry them")
    })
}

/// The text report.
pub(crate) fn render(r: &FetchReport) -> CliResult {
    for p in &r.planned {
        say(format!(
            "would download  {} of {} ({}) from {}",
            esc(&p.name),
            p.update_id,
            p.size.map_or("size unknown".into(), bytes),
            esc(p.url.as_deref().unwrap_or("(no address)"))
        ))?;
    }
    for d in &r.downloaded {
        say(format!(
            "downloaded  {} of {} ({})",
            esc(&d.name),
            d.update_id,
            bytes(d.size)
        ))?;
    }
    for f in &r.failed {
        say(format!(
            "failed      {} of {} from {}: {}",
            esc(&f.name),
            f.update_id,
            esc(f.url.as_deref().unwrap_or("(no address)")),
            esc(&f.reason)
        ))?;
    }
    say(format!(
        "{} file(s) needed ({}): {} downloaded ({}), {} already present, {} failed{}",
        r.needed,
        bytes(r.needed_bytes),
        r.downloaded.len(),
        bytes(r.bytes),
        r.skipped,
        r.failed.len(),
        if r.dry_run {
            " (dry run: nothing downloaded)"
        } else {
            ""
        }
    ))
}
