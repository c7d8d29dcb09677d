//! Issue 13, point 1: `schedule set|show|clear`, `sync --if-due` and `run`, through the
//! binary. The time is injected with the test-only `OFFSYNC_TEST_NOW` (the clock starts at
//! that time and runs on), so no test waits for a slot.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Runs offsync at the time `now`.
fn at(now: &str, args: &[&str]) -> Output {
    offsync()
        .env("OFFSYNC_TEST_NOW", now)
        .args(args)
        .output()
        .expect("run offsync")
}

fn ok_at(now: &str, args: &[&str]) -> String {
    let o = at(now, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "offsync {args:?}\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn json_at(now: &str, args: &[&str]) -> Value {
    let s = ok_at(now, args);
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{args:?}: no JSON ({e}): {s}"))
}

/// A store with the fixture upstream set, never synced (so no criteria yet: its syncs take
/// the categories), scheduled `spec` in UTC.
fn scheduled_store(dir: &Path, spec: &str) -> PathBuf {
    let s = init_store(dir, "sched");
    run(
        &["upstream", "set", "--store", p(&s), p(&upstream_fixtures())],
        0,
    );
    run(
        &["schedule", "set", "--store", p(&s), spec, "--tz", "UTC"],
        0,
    );
    s
}

fn last_sync_started(store: &Path) -> String {
    let st = json(&["status", "--store", p(store), "--json"]);
    st["last_sync"]["started"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn utc_runs(v: &Value) -> Vec<String> {
    v["next_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["utc"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn schedule_show_follows_both_dst_changes_and_clear_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let sp = p(&s);
    run(
        &[
            "schedule",
            "set",
            "--store",
            sp,
            "daily 02:30",
            "--tz",
            "Europe/Rome",
        ],
        0,
    );
    // Spring forward in Rome on 2026-03-29: 02:30 does not exist; it runs once at 03:00 CEST.
    let v = json_at(
        "2026-03-27T12:00:00Z",
        &["schedule", "show", "--store", sp, "--json"],
    );
    assert_eq!(v["schedule"], "daily 02:30");
    assert_eq!(v["cron"], "30 2 * * *");
    assert_eq!(v["zone"], "Europe/Rome");
    assert_eq!(
        utc_runs(&v),
        [
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z",
            "2026-04-01T00:30:00Z"
        ]
    );
    assert_eq!(v["next_runs"][1]["local"], "2026-03-29T03:00:00+02:00");
    // Fall back on 2026-10-25: 02:30 happens twice; it runs once.
    let v = json_at(
        "2026-10-23T12:00:00Z",
        &["schedule", "show", "--store", sp, "--json"],
    );
    assert_eq!(
        utc_runs(&v),
        [
            "2026-10-24T00:30:00Z",
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
            "2026-10-27T01:30:00Z",
            "2026-10-28T01:30:00Z"
        ]
    );
    // The text form shows local time and UTC.
    let text = ok_at("2026-10-23T12:00:00Z", &["schedule", "show", "--store", sp]);
    assert!(
        text.contains("2026-10-25 02:30:00 CEST (+02:00)  (2026-10-25T00:30:00Z)"),
        "{text}"
    );
    // An invalid spec is refused naming it, and the schedule stays.
    let (code, _, err) = run_any(&["schedule", "set", "--store", sp, "every 7h"]);
    assert_eq!(code, 2);
    assert!(err.contains("'every 7h'"), "{err}");
    let (code, _, err) = run_any(&[
        "schedule",
        "set",
        "--store",
        sp,
        "daily",
        "--tz",
        "Mars/Base",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("'Mars/Base'"), "{err}");
    let v = json(&["schedule", "show", "--store", sp, "--json"]);
    assert_eq!(v["schedule"], "daily 02:30");
    // Without --tz, TZ names the zone.
    let o = offsync()
        .env("TZ", "America/New_York")
        .args(["schedule", "set", "--store", sp, "0 2 * * SUN", "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["zone"], "America/New_York");
    assert!(run(&["schedule", "clear", "--store", sp], 0).contains("cleared"));
    let v = json(&["schedule", "show", "--store", sp, "--json"]);
    assert!(v["schedule"].is_null(), "{v}");
}

#[test]
fn sync_if_due_syncs_only_when_a_slot_passed() {
    let dir = tempfile::tempdir().unwrap();
    let s = scheduled_store(dir.path(), "daily 03:30");
    let sp = p(&s);
    let if_due = ["sync", "--store", sp, "--if-due", "--json"];
    // Never synced: due.
    let v = json_at("2026-12-06T10:00:00Z", &if_due);
    assert_eq!(v["outcome"], "succeeded", "{v}");
    let first = last_sync_started(&s);
    assert!(first.starts_with("2026-12-06T10:00:0"), "{first}");
    // Before the next slot: not due; nothing runs.
    let v = json_at("2026-12-07T03:29:00Z", &if_due);
    assert_eq!(v["outcome"], "not-due");
    assert_eq!(v["due"], false);
    assert_eq!(v["next_run"], "2026-12-07T03:30:00Z");
    let text = ok_at("2026-12-07T03:29:00Z", &["sync", "--store", sp, "--if-due"]);
    assert_eq!(
        text.trim(),
        "not due until 2026-12-07 03:30:00 UTC (+00:00) (2026-12-07T03:30:00Z)"
    );
    assert_eq!(last_sync_started(&s), first, "a not-due sync ran");
    // Three slots missed: one sync, and then not due until the next slot.
    let v = json_at("2026-12-09T12:00:00Z", &if_due);
    assert_eq!(v["outcome"], "succeeded", "{v}");
    assert!(last_sync_started(&s).starts_with("2026-12-09T12:00:0"));
    let v = json_at("2026-12-09T12:05:00Z", &if_due);
    assert_eq!(v["next_run"], "2026-12-10T03:30:00Z");
    // Without a schedule, --if-due is a usage error with a hint.
    run(&["schedule", "clear", "--store", sp], 0);
    let (code, _, err) = run_any(&["sync", "--store", sp, "--if-due"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("schedule set"), "{err}");
}

fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn kinds(ev: &[Value]) -> Vec<&str> {
    ev.iter().map(|e| e["event"].as_str().unwrap()).collect()
}

#[test]
fn run_does_a_missed_run_once_and_exports_only_after_changes() {
    let dir = tempfile::tempdir().unwrap();
    let s = scheduled_store(dir.path(), "weekly sun 02:00");
    let drop = dir.path().join("drop");
    std::fs::create_dir(&drop).unwrap();
    let args = [
        "run",
        "--store",
        p(&s),
        "--export-to",
        p(&drop),
        "--json",
        "--max-runs",
        "1",
    ];
    // Never synced: a run at once, which changes the store and so writes a bundle.
    let o = at("2026-12-06T10:00:00Z", &args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ev = events(&o.stdout);
    assert_eq!(kinds(&ev), ["synced", "exported", "stopped"], "{ev:?}");
    assert!(ev[0]["categories"].as_u64().unwrap() > 0, "{ev:?}");
    assert_eq!(ev[2]["reason"], "max-runs");
    assert_eq!(std::fs::read_dir(&drop).unwrap().count(), 1);
    // Weeks later: the missed slots make one run; nothing changed, so no bundle.
    let o = at("2027-01-05T10:00:00Z", &args);
    let ev = events(&o.stdout);
    assert_eq!(kinds(&ev), ["synced", "stopped"], "{ev:?}");
    assert_eq!(
        (&ev[0]["new"], &ev[0]["categories"]),
        (&0.into(), &0.into())
    );
    assert_eq!(std::fs::read_dir(&drop).unwrap().count(), 1);
    let log = std::fs::read_to_string(s.join("offsync.log")).unwrap();
    assert_eq!(log.matches("Scheduled run started").count(), 2, "{log}");
}

#[test]
fn run_retries_a_failed_sync_after_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let gone = dir.path().join("upstream");
    std::fs::create_dir(&gone).unwrap();
    run(&["upstream", "set", "--store", p(&s), p(&gone)], 0);
    std::fs::remove_dir(&gone).unwrap();
    run(
        &[
            "schedule",
            "set",
            "--store",
            p(&s),
            "daily 03:30",
            "--tz",
            "UTC",
        ],
        0,
    );
    let o = at(
        "2026-12-06T10:00:00Z",
        &["run", "--store", p(&s), "--json", "--max-runs", "1"],
    );
    assert_eq!(o.status.code(), Some(0));
    let ev = events(&o.stdout);
    assert_eq!(kinds(&ev), ["failed", "stopped"], "{ev:?}");
    let started = ev[0]["started"].as_str().unwrap();
    let retry = ev[0]["retry_at"].as_str().unwrap();
    // One minute after the failure (the clock runs on in real time: allow a few seconds).
    let secs = |t: &str| -> i64 {
        let c: Vec<i64> = t[11..19].split(':').map(|x| x.parse().unwrap()).collect();
        c[0] * 3600 + c[1] * 60 + c[2]
    };
    let d = secs(retry) - secs(started);
    assert!((60..=65).contains(&d), "{started} -> {retry}");
    let log = std::fs::read_to_string(s.join("offsync.log")).unwrap();
    assert!(log.contains("Scheduled run failed"), "{log}");
}

/// `run` sleeping until its next slot stops at once on SIGTERM (and SIGINT), exit 0.
#[cfg(unix)]
#[test]
fn run_stops_on_a_signal_between_steps() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let s = scheduled_store(dir.path(), "weekly sun 02:00");
    for signal in ["TERM", "INT"] {
        let mut child = offsync()
            .env("OFFSYNC_TEST_NOW", "2026-12-07T10:00:00Z")
            .args(["run", "--store", p(&s), "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // First pass: the never-synced store syncs, then sleeps; later passes sleep at once.
        let mut seen = Vec::new();
        for l in lines.by_ref() {
            let v: Value = serde_json::from_str(&l.unwrap()).unwrap();
            let sleeping = v["event"] == "sleeping";
            seen.push(v);
            if sleeping {
                break;
            }
        }
        let last = seen.last().expect("no event");
        assert_eq!(last["event"], "sleeping", "{seen:?}");
        assert_eq!(last["until"], "2026-12-13T02:00:00Z");
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let t0 = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "still running");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(0), "SIG{signal}");
        let rest: Vec<Value> = lines
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect();
        assert_eq!(rest.len(), 1, "{rest:?}");
        assert_eq!(rest[0]["event"], "stopped");
        assert_eq!(rest[0]["reason"], "signal");
    }
    let log = std::fs::read_to_string(s.join("offsync.log")).unwrap();
    assert_eq!(log.matches("Stopped (Signal)").count(), 2, "{log}");
    // One sync only: the second start found it not due.
    assert_eq!(log.matches("Scheduled run started").count(), 1, "{log}");
}

/// A parent's scheduled run registers the receipts its children left in its receipts folder,
/// so that its `status` shows them without another command; a receipt already registered is
/// not reported again.
#[test]
fn run_registers_the_receipts_children_left() {
    let dir = tempfile::tempdir().unwrap();
    let s = scheduled_store(dir.path(), "weekly sun 02:00");
    run(&["sync", "--store", p(&s)], 0);
    set_criteria(&s, BROAD_CRITERIA);
    run(&["sync", "--store", p(&s)], 0);
    let child = init_store(dir.path(), "branch");
    run(&["sync", "--store", p(&child), "--from", p(&s)], 0);
    let args = ["run", "--store", p(&s), "--json", "--max-runs", "1"];
    let o = at("2027-01-05T10:00:00Z", &args);
    let ev = events(&o.stdout);
    assert_eq!(kinds(&ev), ["synced", "receipts", "stopped"], "{ev:?}");
    assert_eq!(
        (&ev[1]["accepted"], &ev[1]["refused"]),
        (&1.into(), &0.into())
    );
    let st = json(&["status", "--store", p(&s), "--json"]);
    assert_eq!(st["downstream"][0]["name"], "branch", "{st}");
    assert_eq!(st["downstream"][0]["kind"], "child", "{st}");
    // The next run finds nothing new.
    let o = at("2027-01-12T10:00:00Z", &args);
    assert_eq!(kinds(&events(&o.stdout)), ["synced", "stopped"]);
}
