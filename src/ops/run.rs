//! `offsync run`: the foreground loop that syncs a store on its schedule. It sleeps until a
//! sync is due, syncs from the configured upstream, writes an incremental bundle into a drop
//! folder after a sync that changed something, and logs each run. The clock and the sleeping
//! are injected ([`Clock`]), so tests drive the loop with a fake clock and never sleep.
//!
//! When a run is due is [`crate::schedule::due`]'s rule, the one `sync --if-due` follows too:
//! a run missed while the machine was off happens once at start; a failed run is retried after
//! 1 minute, then 2, 4, ... (at most 1 hour), or at the next slot when that comes first, never
//! in a tight loop.

use crate::error::{ErrorKind, Result};
use crate::progress::Progress;
use crate::schedule::{Due, LastRun, Schedule, due, last_run, next_due};
use crate::store::Store;
use crate::sync::SyncOptions;
use crate::time::Timestamp;
use crate::transfer::export::{ExportOptions, export};
use serde::Serialize;
use std::path::PathBuf;

/// What a sleep ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The time came.
    Continue,
    /// A stop was asked for (SIGTERM, SIGINT): the loop ends.
    Stop,
}

/// The time, and waiting for it.
pub trait Clock {
    fn now(&self) -> Timestamp;
    /// Returns once `now() >= t`, or earlier with [`Wake::Stop`] when a stop is asked for.
    fn sleep_until(&self, t: Timestamp) -> Wake;
    /// Whether a stop was asked for; checked between steps.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// The retry delays after failed runs live with the rule for "due".
pub use crate::schedule::{RETRY_FIRST_SECS, RETRY_MAX_SECS, backoff};

pub struct RunOptions {
    /// The drop folder for an incremental bundle after each sync that changed something.
    pub export_to: Option<PathBuf>,
    /// Largest bundle volume, in bytes.
    pub max_volume_size: u64,
    pub sync: SyncOptions,
    /// Stop after this many runs (tests; `None` in service).
    pub max_runs: Option<u64>,
    /// The HTTP client, for an upstream that is a catalog given by URL.
    pub net: crate::fetch::Net,
}

/// What the loop did, one event at a time, for the caller to show.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum RunEvent {
    /// Waiting until `until` (`local` in the schedule's time zone); `retry` after a failure.
    Sleeping {
        until: Timestamp,
        local: String,
        retry: bool,
    },
    Synced {
        started: Timestamp,
        new: u64,
        updated: u64,
        expired: u64,
        removed: u64,
        categories: u64,
        content_files: u64,
    },
    Exported {
        bundle_dir: String,
        sequence: u64,
        kind: String,
    },
    /// The sync changed something, but the store had nothing a new bundle would carry.
    NothingToExport,
    /// Receipts its children left in the store's receipts folder, registered (accepted) or
    /// refused (each one is judged as `receipt import` judges it).
    Receipts {
        accepted: u64,
        refused: u64,
    },
    Failed {
        started: Timestamp,
        error: String,
        retry_at: Timestamp,
    },
    Stopped {
        reason: StopReason,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// SIGTERM or SIGINT.
    Signal,
    /// `max_runs` reached.
    MaxRuns,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub runs: u64,
    pub failures: u64,
    pub stopped: StopReason,
}

/// One run: what it did, as events; an error fails the run (retried with back-off).
pub type Step<'a> = dyn FnMut(&mut Store, Timestamp) -> Result<Vec<RunEvent>> + 'a;

/// Runs the loop with the real step: sync from the configured upstream, then the export.
pub fn run(
    store: &mut Store,
    schedule: &Schedule,
    opts: &RunOptions,
    clock: &dyn Clock,
    progress: &dyn Progress,
    on_event: &mut dyn FnMut(&RunEvent),
) -> Result<RunSummary> {
    // An export that failed after its sync is owed: the next run exports even if its own
    // sync changed nothing (the bundle is incremental since the last one, so it catches up).
    let mut export_owed = false;
    let mut step = |store: &mut Store, now: Timestamp| {
        sync_and_export(
            store,
            opts,
            &|| clock.now(),
            now,
            progress,
            &mut export_owed,
        )
    };
    run_with(store, schedule, opts.max_runs, clock, on_event, &mut step)
}

/// The loop, with the step given (tests give one that fails on purpose).
pub fn run_with(
    store: &mut Store,
    schedule: &Schedule,
    max_runs: Option<u64>,
    clock: &dyn Clock,
    on_event: &mut dyn FnMut(&RunEvent),
    step: &mut Step<'_>,
) -> Result<RunSummary> {
    // Started from the store's history: a restarted `run` retries a failed sync with the
    // same back-off rather than waiting for the next slot.
    let mut last: LastRun = last_run(store)?;
    let (mut runs, mut failures) = (0u64, 0u64);
    let stopped = loop {
        if clock.stop_requested() {
            break StopReason::Signal;
        }
        if max_runs.is_some_and(|m| runs >= m) {
            break StopReason::MaxRuns;
        }
        let now = clock.now();
        if let Due::NotDue(wake) = due(schedule, &last, now)? {
            let retry = next_due(schedule, &last)?.is_some_and(|(_, r)| r);
            on_event(&RunEvent::Sleeping {
                until: wake,
                local: schedule.local(wake),
                retry,
            });
            if clock.sleep_until(wake) == Wake::Stop {
                break StopReason::Signal;
            }
            continue;
        }
        let started = clock.now();
        runs += 1;
        let failures_in_row = last.failed.map_or(0, |(_, n)| n);
        last = LastRun {
            started: Some(started),
            failed: None,
        };
        store.log("RUN", "Scheduled run started", started);
        match step(store, started) {
            Ok(events) => {
                events.iter().for_each(&mut *on_event);
                store.log("RUN", "Scheduled run succeeded", clock.now());
            }
            Err(e) if e.kind == ErrorKind::Interrupted => break StopReason::Signal,
            Err(e) => {
                failures += 1;
                let finished = clock.now();
                last.failed = Some((finished, failures_in_row.saturating_add(1)));
                let at = next_due(schedule, &last)?.map_or(finished, |(t, _)| t);
                store.log(
                    "RUN",
                    &format!("Scheduled run failed: {}; next try at {at}", e.message),
                    finished,
                );
                on_event(&RunEvent::Failed {
                    started,
                    error: e.message,
                    retry_at: at,
                });
            }
        }
    };
    store.log("RUN", &format!("Stopped ({stopped:?})"), clock.now());
    on_event(&RunEvent::Stopped { reason: stopped });
    Ok(RunSummary {
        runs,
        failures,
        stopped,
    })
}

fn sync_and_export(
    store: &mut Store,
    opts: &RunOptions,
    clock: &dyn Fn() -> Timestamp,
    started: Timestamp,
    progress: &dyn Progress,
    export_owed: &mut bool,
) -> Result<Vec<RunEvent>> {
    // As `sync` does: a catalog given by URL is downloaded (when it changed) first.
    let (r, _) = crate::fetch::catalog::sync_from_source(
        store, None, &opts.sync, clock, &opts.net, progress,
    )?;
    store.report_log_failure(progress);
    let c = &r.changes;
    let changed = c.new + c.updated + c.expired + c.removed + r.categories + r.content_files > 0;
    let mut events = vec![RunEvent::Synced {
        started,
        new: c.new,
        updated: c.updated,
        expired: c.expired,
        removed: c.removed,
        categories: r.categories,
        content_files: r.content_files,
    }];
    // A parent's own scheduled job keeps `status` current about its children: the receipts
    // they left since the last run are registered. A folder that cannot be read is not a
    // failed run (the sync succeeded); `receipt import` says why.
    if let Ok((_, outcomes)) = crate::transfer::receipt::import_folder(store, started) {
        use crate::transfer::receipt::Registered;
        let count = |f: &dyn Fn(&crate::transfer::receipt::FileOutcome) -> bool| {
            outcomes.iter().filter(|o| f(o)).count() as u64
        };
        // A receipt registered already (the child has not synced since) is not news.
        let accepted =
            count(&|o| matches!(o.registered, Some(Registered::New | Registered::Updated)));
        let refused = count(&|o| o.error.is_some());
        if accepted + refused > 0 {
            events.push(RunEvent::Receipts { accepted, refused });
        }
    }
    let Some(dir) = &opts.export_to else {
        return Ok(events);
    };
    if !changed && !*export_owed {
        return Ok(events);
    }
    *export_owed = true;
    let eo = ExportOptions {
        out: dir.clone(),
        full: false,
        metadata_only: false,
        max_volume_size: opts.max_volume_size,
        created: clock(),
        valid_until: None,
        signer: None,
        allow_empty: false,
    };
    let written = export(store, &eo, clock(), progress).map_err(|e| {
        e.context(format_args!(
            "the sync succeeded; exporting to {}",
            dir.display()
        ))
    })?;
    *export_owed = false;
    events.push(match written {
        Some(x) => RunEvent::Exported {
            bundle_dir: x.bundle_dir,
            sequence: x.sequence,
            kind: x.kind,
        },
        None => RunEvent::NothingToExport,
    });
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::cell::{Cell, RefCell};

    /// A clock that jumps to each time the loop sleeps until, and records those times; it
    /// asks for a stop after `stop_after` sleeps.
    struct FakeClock {
        now: Cell<i64>,
        sleeps: RefCell<Vec<Timestamp>>,
        stop_after: usize,
    }

    impl Clock for FakeClock {
        fn now(&self) -> Timestamp {
            Timestamp(self.now.get())
        }
        fn sleep_until(&self, t: Timestamp) -> Wake {
            if self.sleeps.borrow().len() >= self.stop_after {
                return Wake::Stop;
            }
            self.sleeps.borrow_mut().push(t);
            self.now.set(t.0.max(self.now.get()));
            Wake::Continue
        }
    }

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn store(dir: &std::path::Path, now: Timestamp) -> Store {
        Store::init(&dir.join("s"), Some("t"), now).unwrap()
    }

    #[test]
    fn failed_runs_back_off_then_follow_the_schedule() {
        let dir = tempfile::tempdir().unwrap();
        let start = ts("2026-12-06T01:00:00Z");
        let mut s = store(dir.path(), start);
        let sched = Schedule::parse("daily 02:00", "UTC").unwrap();
        let clock = FakeClock {
            now: Cell::new(start.0),
            sleeps: RefCell::new(Vec::new()),
            stop_after: 100,
        };
        let ran = RefCell::new(Vec::new());
        // Fails 8 times, then succeeds.
        let mut step = |_: &mut Store, t: Timestamp| {
            ran.borrow_mut().push(t);
            if ran.borrow().len() <= 8 {
                Err(Error::other("upstream unreachable"))
            } else {
                Ok(vec![])
            }
        };
        let mut events = Vec::new();
        let summary = run_with(
            &mut s,
            &sched,
            Some(10),
            &clock,
            &mut |e| events.push(e.clone()),
            &mut step,
        )
        .unwrap();
        assert_eq!((summary.runs, summary.failures), (10, 8));
        assert_eq!(summary.stopped, StopReason::MaxRuns);
        let slot = ts("2026-12-06T02:00:00Z").0;
        let mins = |m: i64| Timestamp(slot + m * 60);
        // Never synced: due at once (01:00). Then 1, 2, 4, 8, 16, 32, 60, 60 minutes after
        // each failure, unless the 02:00 slot comes first.
        assert_eq!(
            *ran.borrow(),
            [
                start,
                Timestamp(start.0 + 60),    // 01:01
                Timestamp(start.0 + 180),   // 01:03
                Timestamp(start.0 + 420),   // 01:07
                Timestamp(start.0 + 900),   // 01:15
                Timestamp(start.0 + 1860),  // 01:31
                mins(0),                    // 02:00: the slot before the 32-minute retry
                mins(60),                   // 03:00: 64 minutes is capped to 60
                mins(120),                  // 04:00: succeeded
                ts("2026-12-07T02:00:00Z"), // next day's slot; back to the schedule
            ]
        );
        let retries: Vec<bool> = events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Sleeping { retry, .. } => Some(*retry),
                _ => None,
            })
            .collect();
        assert_eq!(
            retries,
            [true, true, true, true, true, false, true, true, false]
        );
    }

    #[test]
    fn a_missed_run_happens_once_and_a_stop_ends_the_loop_between_steps() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = ts("2026-11-30T02:00:00Z");
        let mut s = store(dir.path(), t0);
        // An earlier sync run, a week before "now": seven daily slots were missed.
        {
            let mut tx = s.begin().unwrap();
            tx.record_sync_run(&crate::store::SyncRunRecord {
                started: t0.rfc3339(),
                source: "x".into(),
                ..Default::default()
            })
            .unwrap();
            tx.commit().unwrap();
        }
        let now = ts("2026-12-07T09:00:00Z");
        let sched = Schedule::parse("daily 02:00", "UTC").unwrap();
        let clock = FakeClock {
            now: Cell::new(now.0),
            sleeps: RefCell::new(Vec::new()),
            stop_after: 1,
        };
        let ran = RefCell::new(Vec::new());
        let mut step = |_: &mut Store, t: Timestamp| {
            ran.borrow_mut().push(t);
            Ok(vec![])
        };
        let summary = run_with(&mut s, &sched, None, &clock, &mut |_| {}, &mut step).unwrap();
        // One catch-up run, not seven; then the next slot; then stopped in the next sleep.
        assert_eq!(*ran.borrow(), [now, ts("2026-12-08T02:00:00Z")]);
        assert_eq!(*clock.sleeps.borrow(), [ts("2026-12-08T02:00:00Z")]);
        assert_eq!((summary.runs, summary.stopped), (2, StopReason::Signal));
        let log =
            std::fs::read_to_string(dir.path().join("s").join("offsync.log")).unwrap_or_default();
        assert!(log.contains("Scheduled run started"), "{log}");
        assert!(log.contains("Stopped (Signal)"), "{log}");
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        let d: Vec<i64> = (1..=9).map(backoff).collect();
        assert_eq!(d, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(u32::MAX), 3600);
    }
}
