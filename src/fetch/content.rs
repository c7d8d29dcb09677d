//! `content fetch`: the payload files the store's updates reference and lacks, downloaded from
//! the addresses the metadata gives (the offline catalog's `FileLocations`), N at a time, and
//! taken into the content folder once their size and digests match.
//!
//! Threads: the downloads run on worker threads; every store write (taking a file in, the
//! log) happens on the calling thread, which receives the finished downloads over a channel:
//! the SQLite connection is used from one thread only.

use super::DOWNLOADS_DIR;
use super::Net;
use super::download::{Ask, Expect, Got, fetch_file};
use super::retry::Failure;
use crate::error::{Error, Result};
use crate::hash::Digests;
use crate::model::hex_lower;
use crate::progress::{Progress, Unit};
use crate::store::{Publisher, ReferencedFile, Store, stored_copy_intact};
use crate::time::Timestamp;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

/// What to fetch and how.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Only these updates (UpdateID or KB); empty: every update that is not declined.
    pub updates: Vec<String>,
    /// Downloads at once.
    pub parallel: usize,
    /// List what would be downloaded; download nothing.
    pub dry_run: bool,
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            updates: Vec::new(),
            parallel: 4,
            dry_run: false,
        }
    }
}

/// What a fetch did (`--json` prints it).
#[derive(Clone, Debug, Default, Serialize)]
pub struct FetchReport {
    pub dry_run: bool,
    /// Files the chosen updates need that the store lacked when the run started.
    pub needed: u64,
    /// Their bytes, where the metadata gives sizes.
    pub needed_bytes: u64,
    pub downloaded: Vec<FetchedFile>,
    /// Files the chosen updates need that the store already held.
    pub skipped: u64,
    pub failed: Vec<FailedFile>,
    /// Bytes of the files downloaded and taken in.
    pub bytes: u64,
    /// With `dry_run`: what would be downloaded.
    pub planned: Vec<PlannedFile>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FetchedFile {
    pub update_id: String,
    pub name: String,
    pub url: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct FailedFile {
    pub update_id: String,
    pub name: String,
    /// The address requested (after `--mirror`), when the metadata gives one.
    pub url: Option<String>,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedFile {
    pub update_id: String,
    pub name: String,
    pub url: Option<String>,
    pub size: Option<u64>,
}

/// One file to download.
struct Job {
    update_id: String,
    name: String,
    /// As the metadata gives it (before `--mirror`).
    url: Option<String>,
    expect: Expect,
    /// Hex digest that names the partial file: ties a partial to one file across runs.
    key: Option<String>,
}

/// Downloads the missing payload files of the chosen updates and takes them into the store.
/// Files that fail are reported (and logged) and the run goes on; only a store failure or an
/// interruption ends it early (files already taken in stay).
pub fn fetch_content(
    store: &mut Store,
    net: &Net,
    opts: &FetchOptions,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
) -> Result<FetchReport> {
    let (jobs, skipped) = plan(store, &opts.updates)?;
    let mut report = FetchReport {
        dry_run: opts.dry_run,
        needed: jobs.len() as u64,
        needed_bytes: jobs.iter().filter_map(|j| j.expect.size).sum(),
        skipped,
        ..Default::default()
    };
    if opts.dry_run {
        report.planned = jobs
            .iter()
            .map(|j| PlannedFile {
                update_id: j.update_id.clone(),
                name: j.name.clone(),
                url: j.url.as_deref().map(|u| net.address(u)),
                size: j.expect.size,
            })
            .collect();
        return Ok(report);
    }
    // Held until the run ends: the partial files are this run's alone.
    let _lock = super::lock_downloads(store)?;
    let dir = store.staging_dir().join(DOWNLOADS_DIR);
    net.set_parallel(opts.parallel);
    let mut runnable = VecDeque::new();
    for (i, j) in jobs.iter().enumerate() {
        match (&j.url, &j.key) {
            (Some(_), Some(_)) => runnable.push_back(i),
            (None, _) => report.failed.push(failed(j, None, "the metadata gives no download address for it (take it in with `offsync content import`)")),
            (Some(u), None) => report.failed.push(failed(j, Some(net.address(u)), "the metadata gives no digest to check it against")),
        }
    }
    for f in &report.failed {
        log_failed(store, f, clock());
    }
    let total: u64 = runnable.iter().filter_map(|&i| jobs[i].expect.size).sum();
    let files = runnable.len();
    progress.start(
        &format!("downloading {files} payload file(s)"),
        Some(total),
        Unit::Bytes,
    );
    let interrupted = run_jobs(
        store,
        net,
        &jobs,
        runnable,
        &dir,
        opts.parallel,
        clock,
        progress,
        &mut report,
    )?;
    progress.finish();
    if opts.updates.is_empty() && !interrupted {
        remove_stale_partials(&dir, &jobs);
    }
    store.log(
        "FETCH",
        &format!(
            "Content fetch: {} file(s) downloaded ({} bytes), {} already present, {} failed{}",
            report.downloaded.len(),
            report.bytes,
            report.skipped,
            report.failed.len(),
            if interrupted { ", interrupted" } else { "" }
        ),
        clock(),
    );
    if interrupted {
        return Err(Error::interrupted(
            "content fetch",
            "the files downloaded so far are kept, and the partial ones are resumed by the next run",
        )
        .with_hint("run `offsync content fetch` again to go on"));
    }
    Ok(report)
}

/// Removes the partial payload downloads no update needs any more (its update was declined or
/// removed since, or the file arrived another way), so that they do not pile up. The
/// catalog's files in the same folder are not payload partials and stay.
fn remove_stale_partials(dir: &Path, jobs: &[Job]) {
    let wanted: HashSet<&str> = jobs.iter().filter_map(|j| j.key.as_deref()).collect();
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".part")) else {
            continue;
        };
        let digest = matches!(stem.len(), 40 | 64) && stem.bytes().all(|b| b.is_ascii_hexdigit());
        if digest && !wanted.contains(stem) {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn failed(j: &Job, url: Option<String>, reason: &str) -> FailedFile {
    FailedFile {
        update_id: j.update_id.clone(),
        name: j.name.clone(),
        url,
        reason: reason.to_string(),
    }
}

fn log_failed(store: &Store, f: &FailedFile, now: Timestamp) {
    store.log(
        "FETCH",
        &format!(
            "Failed to download {} of update {} from {}: {}",
            f.name,
            f.update_id,
            f.url.as_deref().unwrap_or("(no address)"),
            f.reason
        ),
        now,
    );
}

/// The worker threads and the taking in, on this thread, of what they finish. Returns whether
/// the run was interrupted.
#[allow(clippy::too_many_arguments)]
fn run_jobs(
    store: &mut Store,
    net: &Net,
    jobs: &[Job],
    runnable: VecDeque<usize>,
    dir: &Path,
    parallel: usize,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
    report: &mut FetchReport,
) -> Result<bool> {
    let workers = parallel.max(1).min(runnable.len());
    let queue = Mutex::new(runnable);
    let (tx, rx) = mpsc::channel::<(
        usize,
        String,
        PathBuf,
        std::result::Result<Digests, Failure>,
    )>();
    let mut interrupted = false;
    let mut fatal: Option<Error> = None;
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let queue = &queue;
            s.spawn(move || {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(i) = next else { break };
                    if progress.cancelled() {
                        break;
                    }
                    let j = &jobs[i];
                    let url = net.address(j.url.as_deref().unwrap_or_default());
                    let part = dir.join(format!("{}.part", j.key.as_deref().unwrap_or_default()));
                    let r = fetch_file(net, &url, &part, &j.expect, &Ask::default(), progress)
                        .and_then(|g| match g {
                            Got::Body(_, d) => Ok(d),
                            Got::NotModified => {
                                Err(Failure::Permanent("HTTP 304 to a plain request".into()))
                            }
                        });
                    // The disk failed: this worker takes nothing more either.
                    let local = matches!(r, Err(Failure::Local(_)));
                    if tx.send((i, url, part, r)).is_err() || local {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, url, part, r) in rx {
            let j = &jobs[i];
            match r {
                Ok(d) if fatal.is_none() => match take_in(store, &part, &d, clock()) {
                    Ok(()) => {
                        store.log(
                            "FETCH",
                            &format!(
                                "Downloaded {} of update {} ({} bytes) from {url}",
                                j.name, j.update_id, d.size
                            ),
                            clock(),
                        );
                        report.bytes += d.size;
                        report.downloaded.push(FetchedFile {
                            update_id: j.update_id.clone(),
                            name: j.name.clone(),
                            url,
                            size: d.size,
                            sha256: hex_lower(&d.sha256),
                        });
                    }
                    // The store cannot take files in: the rest would fail alike. The workers
                    // finish what they hold (kept as partials), and the run ends.
                    Err(e) => {
                        queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
                        fatal = Some(e);
                    }
                },
                Ok(_) => {}
                Err(Failure::Cancelled) => interrupted = true,
                // The disk failed: as when the store cannot take files in.
                Err(Failure::Local(why)) => {
                    queue.lock().unwrap_or_else(|e| e.into_inner()).clear();
                    fatal.get_or_insert(Failure::local_error(&why));
                }
                Err(f) => {
                    let f = failed(j, Some(url), f.reason());
                    log_failed(store, &f, clock());
                    report.failed.push(f);
                }
            }
        }
    });
    if let Some(e) = fatal {
        return Err(e);
    }
    Ok(interrupted || progress.cancelled())
}

/// Takes a downloaded, checked file into the content folder and records it, in one write
/// transaction (the same publishing path as `content import`).
fn take_in(store: &mut Store, staged: &Path, d: &Digests, now: Timestamp) -> Result<()> {
    let mut tx = store.begin()?;
    let mut publisher = Publisher::new(tx.root());
    if !tx.content_recorded(&d.sha256)? {
        publisher.publish(staged, &d.sha256)?;
        tx.add_content(&d.sha256, &d.sha1, d.size, &now.rfc3339())?;
    } else if !stored_copy_intact(tx.root(), &d.sha256, d.size) {
        publisher.replace(staged, &d.sha256)?;
    } else {
        let _ = fs::remove_file(staged);
    }
    if let Err(e) = tx.commit() {
        publisher.commit_failed();
        let _ = store.settle();
        return Err(e);
    }
    publisher.committed();
    Ok(())
}

/// The files to download (absent from the store, referenced by the chosen updates; each
/// once), and how many needed files the store already holds.
fn plan(store: &Store, only: &[String]) -> Result<(Vec<Job>, u64)> {
    let named: Option<HashSet<String>> = if only.is_empty() {
        None
    } else {
        Some(
            only.iter()
                .map(|s| store.find_update(s))
                .collect::<Result<_>>()?,
        )
    };
    let mut by_update: BTreeMap<String, Vec<ReferencedFile>> = BTreeMap::new();
    for r in store.referenced_files()? {
        if named.as_ref().is_none_or(|n| n.contains(&r.update_id)) {
            by_update.entry(r.update_id.clone()).or_default().push(r);
        }
    }
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    let mut skipped = 0;
    for (id, refs) in by_update {
        let Some((u, _, declined)) = store.load_update(&id)? else {
            continue;
        };
        // Named updates are fetched even when declined: the operator asked for them.
        if declined && named.is_none() {
            continue;
        }
        for r in refs {
            let key = r
                .sha256
                .map(|h| hex_lower(&h))
                .or(r.sha1.map(|h| hex_lower(&h)));
            // Once per digest: two downloads of one file would share its partial file.
            if !seen.insert(key.clone().unwrap_or_else(|| format!("{id}/{}", r.name))) {
                continue;
            }
            if store.stored_copy_present(&r)? {
                skipped += 1;
                continue;
            }
            let url = u
                .files
                .iter()
                .find(|f| f.name == r.name && f.sha1 == r.sha1 && f.sha256 == r.sha256)
                .and_then(|f| f.url.clone());
            jobs.push(Job {
                update_id: id.clone(),
                name: r.name.clone(),
                url,
                key,
                expect: Expect {
                    size: r.size,
                    sha1: r.sha1,
                    sha256: r.sha256,
                },
            });
        }
    }
    Ok((jobs, skipped))
}

/// Files and bytes the store's updates (not declined) still need, without reading more than
/// the metadata: for `status`.
pub fn to_fetch(store: &Store) -> Result<(u64, u64)> {
    let (jobs, _) = plan(store, &[])?;
    Ok((
        jobs.len() as u64,
        jobs.iter().filter_map(|j| j.expect.size).sum(),
    ))
}
