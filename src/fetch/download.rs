//! One file to a partial file on disk: resumed with a Range request from what the partial
//! holds, started again from zero when the server ignores Range, hashed (SHA-1 and SHA-256)
//! on the way, and retried after transient failures.

use super::Net;
use super::retry::{Failure, status_failure};
use crate::hash::Digests;
use crate::progress::Progress;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

/// What the metadata says the file is.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub size: Option<u64>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
}

impl Expect {
    /// Why `d` is not this file, if it is not.
    fn mismatch(&self, d: &Digests) -> Option<String> {
        if self.size.is_some_and(|s| s != d.size) {
            return Some(format!(
                "{} bytes arrived where the metadata says {}",
                d.size,
                self.size.unwrap_or(0)
            ));
        }
        if self.sha256.is_some_and(|h| h != d.sha256) || self.sha1.is_some_and(|h| h != d.sha1) {
            return Some("the digests of what arrived do not match the metadata".into());
        }
        None
    }
}

/// A response's cache validators: sent back to ask "only if changed" and to resume only the
/// same version (`If-Range`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a successful try brought.
#[derive(Debug)]
pub enum Got {
    /// The whole body is in the partial file.
    Body(Validators, Digests),
    /// 304: the copy the request named as current is still current.
    NotModified,
}

/// A request beyond the plain GET.
#[derive(Default)]
pub struct Ask<'a> {
    /// Ask for the body only when it changed from this version.
    pub unless: Option<&'a Validators>,
    /// Resume only if the server's version is still this one (`If-Range`); the partial is
    /// then of this version.
    pub resume_of: Option<&'a dyn Fn() -> Option<Validators>>,
    /// Called when a new body starts from zero, with its validators (to keep beside the
    /// partial, for `resume_of` after a restart).
    pub on_fresh: Option<&'a dyn Fn(&Validators)>,
}

/// Downloads `url` into `part` (resuming what it holds), retrying transient failures per the
/// run's policy. The result is the whole file, whose digests are returned; a file whose size
/// or digests differ from `expect` is removed and downloaded once more from zero before it is
/// a failure.
pub fn fetch_file(
    net: &Net,
    url: &str,
    part: &Path,
    expect: &Expect,
    ask: &Ask<'_>,
    progress: &dyn Progress,
) -> Result<Got, Failure> {
    let mut attempt = 1;
    let mut restarted = false;
    // The longest the partial has been: a try that makes it longer is progress, and the
    // count of tries starts again (a flaky link that delivers a piece each time gets there).
    let mut longest = partial_len(part);
    // Bytes of this file the progress bar has been given: it shows each file's furthest
    // point, so a resume or a restart from zero never counts bytes twice.
    let mut counted = 0u64;
    loop {
        if let Some(why) = net.given_up() {
            return Err(Failure::Permanent(why));
        }
        let received = net.received();
        let r = match already_whole(part, expect) {
            Some(d) => Ok(Got::Body(Validators::default(), d)),
            None => try_once(net, url, part, ask, progress, &mut counted),
        };
        let failure = match r {
            Ok(Got::Body(v, d)) => {
                if expect.size.is_some_and(|s| d.size < s) {
                    // Cut short: the next try resumes where it stopped.
                    Failure::transient(format!(
                        "the response ended after {} of {} bytes",
                        d.size,
                        expect.size.unwrap_or(0)
                    ))
                } else if let Some(why) = expect.mismatch(&d) {
                    let _ = fs::remove_file(part);
                    if restarted {
                        return Err(Failure::Permanent(why));
                    }
                    restarted = true;
                    continue;
                } else {
                    return Ok(Got::Body(v, d));
                }
            }
            Ok(Got::NotModified) => return Ok(Got::NotModified),
            Err(f) => f,
        };
        match failure {
            Failure::Transient {
                reason,
                retry_after,
            } => {
                if net.received() == received
                    && let Some(why) = net.dry_failure(&reason)
                {
                    return Err(Failure::Permanent(why));
                }
                let now = partial_len(part);
                if now > longest {
                    longest = now;
                    attempt = 1;
                }
                attempt += 1;
                if attempt > net.retry.attempts {
                    return Err(Failure::Permanent(format!(
                        "{reason} (gave up after {} tries)",
                        net.retry.attempts
                    )));
                }
                if progress.cancelled() {
                    return Err(Failure::Cancelled);
                }
                net.pace
                    .sleep_before_retry(net.retry.wait(attempt, retry_after));
            }
            other => return Err(other),
        }
    }
}

fn partial_len(part: &Path) -> u64 {
    fs::symlink_metadata(part)
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len())
}

/// The partial's digests when it already holds the whole expected file (a run that ended
/// between the last byte and taking the file in).
fn already_whole(part: &Path, expect: &Expect) -> Option<Digests> {
    let size = expect.size?;
    let len = fs::symlink_metadata(part)
        .ok()
        .filter(|m| m.is_file())?
        .len();
    if len != size {
        return None;
    }
    let d = File::open(part)
        .and_then(|mut f| crate::hash::hash_reader(&mut f))
        .ok()?;
    expect.mismatch(&d).is_none().then_some(d)
}

/// One request: a Range request for the rest when the partial holds a beginning.
fn try_once(
    net: &Net,
    url: &str,
    part: &Path,
    ask: &Ask<'_>,
    progress: &dyn Progress,
    counted: &mut u64,
) -> Result<Got, Failure> {
    let mut have = partial_len(part);
    let mut headers: Vec<(&str, String)> = Vec::new();
    // A file with no digest to check (the catalog) is resumed only when the server can be
    // asked to send the rest of the same version: a strong ETag (a weak one never matches
    // If-Range) or else Last-Modified. Without either, a changed file would be spliced.
    let if_range = ask
        .resume_of
        .map(|f| f().and_then(|v| v.etag.filter(|e| !e.starts_with("W/")).or(v.last_modified)));
    if have > 0 && matches!(if_range, Some(None)) {
        let _ = fs::remove_file(part);
        have = 0;
    }
    if have > 0 {
        headers.push(("Range", format!("bytes={have}-")));
        if let Some(Some(tag)) = if_range {
            headers.push(("If-Range", tag));
        }
    }
    if let Some(v) = ask.unless {
        if let Some(e) = &v.etag {
            headers.push(("If-None-Match", e.clone()));
        }
        if let Some(m) = &v.last_modified {
            headers.push(("If-Modified-Since", m.clone()));
        }
    }
    let resp = net.get(url, &headers)?;
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let validators = Validators {
        etag: header("etag"),
        last_modified: header("last-modified"),
    };
    let resume = match status {
        304 if ask.unless.is_some() => return Ok(Got::NotModified),
        206 if have > 0 => {
            let start = header("content-range").and_then(|v| range_start(&v));
            if start != Some(have) {
                // Not the rest of what is here: start again from zero.
                let _ = fs::remove_file(part);
                return Err(Failure::transient("the server sent another range"));
            }
            true
        }
        // A whole body: the server ignored Range, or the file changed (If-Range).
        200 => false,
        416 => {
            let _ = fs::remove_file(part);
            return Err(Failure::transient(
                "HTTP 416: the partial file is longer than the file",
            ));
        }
        _ => return Err(status_failure(status, header("retry-after").as_deref())),
    };
    if let Some(f) = ask.on_fresh.filter(|_| !resume) {
        f(&validators);
    }
    let body = resp.into_body().into_reader();
    let d = receive(net, body, part, resume, progress, counted)?;
    Ok(Got::Body(validators, d))
}

/// The first byte's offset in a `Content-Range: bytes START-END/TOTAL`.
fn range_start(v: &str) -> Option<u64> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    rest.split('-').next()?.trim().parse().ok()
}

/// Writes the body into the partial (after what it holds when `resume`), hashing the whole
/// file: the part already there is read once first.
fn receive(
    net: &Net,
    mut body: impl Read,
    part: &Path,
    resume: bool,
    progress: &dyn Progress,
    counted: &mut u64,
) -> Result<Digests, Failure> {
    let mut shown = |size: u64| {
        if size > *counted {
            progress.advance(size - *counted);
            *counted = size;
        }
    };
    let io = |what: &str, e: std::io::Error| {
        Failure::Local(format!("cannot {what} {}: {e}", part.display()))
    };
    let mut s1 = Sha1::new();
    let mut s256 = Sha256::new();
    let mut size = 0u64;
    let mut opts = OpenOptions::new();
    opts.create(true);
    if resume {
        opts.read(true).append(true);
    } else {
        opts.write(true).truncate(true);
    }
    let mut file = crate::fsutil::open_no_follow(part, &mut opts).map_err(|e| io("open", e))?;
    let mut buf = vec![0u8; 64 * 1024];
    if resume {
        loop {
            let n = file.read(&mut buf).map_err(|e| io("read", e))?;
            if n == 0 {
                break;
            }
            s1.update(&buf[..n]);
            s256.update(&buf[..n]);
            size += n as u64;
        }
        // What an earlier run left is part of the work done.
        shown(size);
    }
    loop {
        if progress.cancelled() {
            let _ = file.sync_data();
            return Err(Failure::Cancelled);
        }
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // What arrived stays in the partial: the next try resumes after it.
                let _ = file.sync_data();
                return Err(Failure::transient(format!(
                    "the transfer broke off after {size} bytes: {e}"
                )));
            }
        };
        file.write_all(&buf[..n]).map_err(|e| io("write", e))?;
        s1.update(&buf[..n]);
        s256.update(&buf[..n]);
        size += n as u64;
        shown(size);
        net.throttle(n as u64);
    }
    file.sync_all().map_err(|e| io("flush", e))?;
    Ok(Digests {
        size,
        sha1: s1.finalize().into(),
        sha256: s256.finalize().into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the bytes the bar is given.
    #[derive(Default)]
    struct Counting(std::sync::atomic::AtomicU64);

    impl Progress for Counting {
        fn start(&self, _: &str, _: Option<u64>, _: crate::progress::Unit) {}
        fn advance(&self, n: u64) {
            self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
        fn finish(&self) {}
        fn note(&self, _: &str) {}
    }

    #[test]
    fn progress_counts_a_resumed_partial_once_and_a_restart_not_twice() {
        let pace = std::sync::Arc::new(crate::fetch::rate::tests::FakePace::default());
        let net = Net::new(&Default::default(), pace).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("f.part");
        let bar = Counting::default();
        let got = |b: &Counting| b.0.load(std::sync::atomic::Ordering::Relaxed);
        // An earlier run left 300 bytes; 200 more arrive.
        std::fs::write(&part, [1u8; 300]).unwrap();
        let mut counted = 0;
        let d = receive(&net, &[2u8; 200][..], &part, true, &bar, &mut counted).unwrap();
        assert_eq!((d.size, got(&bar)), (500, 500));
        // The server then ignores Range: 500 bytes from zero add nothing already counted.
        receive(&net, &[3u8; 500][..], &part, false, &bar, &mut counted).unwrap();
        assert_eq!(got(&bar), 500);
        // A resume within the run counts only the new bytes.
        receive(&net, &[4u8; 100][..], &part, true, &bar, &mut counted).unwrap();
        assert_eq!(got(&bar), 600);
    }

    #[test]
    fn content_range_start() {
        assert_eq!(range_start("bytes 100-199/200"), Some(100));
        assert_eq!(range_start("bytes 0-0/1"), Some(0));
        assert_eq!(range_start("items 1-2/3"), None);
    }
}
