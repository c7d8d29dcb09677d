//! Monitoring (issue 13, points 2 and 5): `status` with roles, last errors, thresholds and
//! warnings, `status --check`, `offsync log`, and the `status --html` page.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// A time far after any sync a test makes: every point is stale then.
const FAR_FUTURE: &str = "2099-01-01T00:00:00Z";

fn status_at(store: &Path, now: Option<&str>) -> Value {
    let (code, out, err) = run_at(now, &["status", "--store", p(store), "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// `status --check`: (exit code, stdout lines).
fn check(store: &Path, now: Option<&str>) -> (i32, Vec<String>) {
    let (code, out, _) = run_at(now, &["status", "--store", p(store), "--check"]);
    (code, out.lines().map(str::to_string).collect())
}

#[test]
fn status_shows_the_role_of_a_top_level_a_child_and_a_disconnected_point() {
    let dir = tempfile::tempdir().unwrap();
    let hq = synced_store(dir.path(), "hq");
    let s = status_at(&hq, None);
    assert_eq!(s["role"], "top-level", "{s}");
    assert_eq!(s["last_sync_run"], 2, "{s}");
    assert!(s["last_sync_seconds"].as_i64().unwrap() >= 0, "{s}");
    assert_eq!(s["last_sync"]["outcome"], "succeeded");
    assert!(s["last_successful_sync"].is_string(), "{s}");
    assert!(s["last_error"].is_null() && s["next_sync"].is_null(), "{s}");
    assert_eq!(s["downstream"], Value::Array(vec![]));
    assert_eq!(
        (&s["ok"], warning_problems(&s).len()),
        (&Value::Bool(true), 0)
    );
    assert_eq!(s["thresholds"]["sync_days"], 8);
    assert_eq!(s["thresholds"]["downstream_bundles"], 3);
    // The fields from before stay.
    assert!(s["totals"]["change_seq"].as_u64().unwrap() > 0);
    assert!(s["content"]["missing"].is_u64());
    // With the upstream set, its kind is known.
    run(
        &[
            "upstream",
            "set",
            "--store",
            p(&hq),
            p(&upstream_fixtures()),
        ],
        0,
    );
    let s = status_at(&hq, None);
    assert_eq!(
        (&s["role"], &s["upstream_kind"]),
        (&"top-level".into(), &"folder".into())
    );
    let (code, lines) = check(&hq, None);
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("OK hq (top-level)"), "{lines:?}");

    // A child syncing from hq, first with --from, then from its set upstream.
    let child = init_store(dir.path(), "branch");
    sync_json(&child, &hq, &[]);
    set_criteria(&child, BROAD_CRITERIA);
    sync_json(&child, &hq, &[]);
    assert_eq!(status_at(&child, None)["role"], "child");
    run(&["upstream", "set", "--store", p(&child), p(&hq)], 0);
    let s = status_at(&child, None);
    assert_eq!(
        (&s["role"], &s["upstream_kind"]),
        (&"child".into(), &"store".into())
    );

    // A disconnected point: no upstream, bundles imported.
    let isolated = init_store(dir.path(), "isolated");
    let (_, bundle) = export(&hq, &dir.path().join("media"), &[]);
    import_json(&isolated, &bundle);
    let s = status_at(&isolated, None);
    assert_eq!(s["role"], "disconnected", "{s}");
    assert!(s["last_sync"].is_null() && s["upstream"].is_null());
    assert_eq!(s["ok"], true, "{s}");
    assert_eq!(check(&isolated, None).0, 0);
    // The text form names the role and the warnings.
    let text = run(&["status", "--store", p(&isolated)], 0);
    assert!(text.contains("role       disconnected"), "{text}");
    assert!(text.contains("warnings   none"), "{text}");
}

#[test]
fn stale_and_failing_points_make_the_check_fail() {
    let dir = tempfile::tempdir().unwrap();
    let hq = synced_store(dir.path(), "hq");
    // Stale: no successful sync for more than 8 days (time injected).
    let s = status_at(&hq, Some(FAR_FUTURE));
    assert_eq!(warning_problems(&s), ["sync-stale"], "{s}");
    assert_eq!(
        (&s["ok"], &s["warnings"][0]["point"]),
        (&false.into(), &"hq".into())
    );
    let (code, lines) = check(&hq, Some(FAR_FUTURE));
    assert_eq!(code, 21, "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("sync-stale hq: no successful sync for "),
        "{lines:?}"
    );
    // --check --json: the status on stdout, the same exit code.
    let (code, out, _) = run_at(
        Some(FAR_FUTURE),
        &["status", "--store", p(&hq), "--check", "--json"],
    );
    assert_eq!(code, 21);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["ok"], false);

    // Thresholds are the store's own.
    run(
        &[
            "status",
            "--store",
            p(&hq),
            "--set-stale-sync-days",
            "100000",
        ],
        0,
    );
    let s = status_at(&hq, Some(FAR_FUTURE));
    assert_eq!(
        (s["thresholds"]["sync_days"].as_u64(), s["ok"].as_bool()),
        (Some(100000), Some(true))
    );
    assert_eq!(check(&hq, Some(FAR_FUTURE)).0, 0);
    let (code, _, err) = run_any(&["status", "--store", p(&hq), "--set-stale-sync-days", "0"]);
    assert_eq!(code, 2, "{err}");

    // Failing: the last sync failed (an upstream that is not there).
    let gone = dir.path().join("gone");
    fs::create_dir(&gone).unwrap();
    let (code, _, _) = run_any(&["sync", "--store", p(&hq), "--from", p(&gone)]);
    assert_ne!(code, 0);
    let s = status_at(&hq, None);
    assert_eq!(warning_problems(&s), ["sync-failed"], "{s}");
    assert_eq!(s["last_error"]["operation"], "sync", "{s}");
    let (code, lines) = check(&hq, None);
    assert_eq!(code, 21);
    assert!(
        lines[0].starts_with("sync-failed hq: the last sync failed at "),
        "{lines:?}"
    );
    // A later successful sync clears the error but keeps it as the last error.
    run(
        &["sync", "--store", p(&hq), "--from", p(&upstream_fixtures())],
        0,
    );
    let s = status_at(&hq, None);
    assert_eq!(
        (s["ok"].as_bool(), &s["last_error"]["operation"]),
        (Some(true), &"sync".into())
    );

    // A disconnected point: stale after 35 days without an import; in error after a
    // refused import.
    let isolated = init_store(dir.path(), "isolated");
    assert_eq!(
        warning_problems(&status_at(&isolated, None)),
        ["import-stale"]
    );
    let (_, bundle) = export(&hq, &dir.path().join("media"), &[]);
    import_json(&isolated, &bundle);
    assert_eq!(check(&isolated, None).0, 0);
    let (code, lines) = check(&isolated, Some(FAR_FUTURE));
    assert_eq!(code, 21);
    assert!(
        lines[0].starts_with("import-stale isolated: no successful import for "),
        "{lines:?}"
    );
    let other = synced_store(dir.path(), "other");
    let (_, damaged) = export(&other, &dir.path().join("media2"), &[]);
    fs::remove_file(volumes(&damaged)[0].clone()).unwrap();
    let (code, _, _) = run_any(&["import", "--store", p(&isolated), p(&damaged)]);
    assert_ne!(code, 0);
    let s = status_at(&isolated, None);
    assert_eq!(warning_problems(&s), ["import-failed"], "{s}");
    assert_eq!(s["last_error"]["operation"], "import");
    assert_eq!(check(&isolated, None).0, 21);
}

fn log_json(store: &Path, now: Option<&str>, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["log", "--store", p(store), "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = run_at(now, &args);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn log_selects_lines_by_run_and_time_across_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    // A small log size: the runs' lines spread over rotated files.
    let sync = || {
        let out = offsync()
            .env("OFFSYNC_LOG_MAX_BYTES", "3000")
            .args(["sync", "--store", p(&s), "--from", p(&upstream_fixtures())])
            .output()
            .unwrap();
        assert!(out.status.success());
    };
    sync();
    set_criteria(&s, BROAD_CRITERIA);
    sync();
    assert!(s.join("offsync.log.1").exists(), "the log rotated");
    let all = log_json(&s, None, &[]);
    for l in &all {
        assert!(
            l["time"].is_string() && l["component"].is_string() && l["message"].is_string(),
            "{l}"
        );
    }
    let run1 = log_json(&s, None, &["--run", "1"]);
    let run2 = log_json(&s, None, &["--run", "2"]);
    for (lines, n) in [(&run1, 1), (&run2, 2)] {
        assert!(
            lines
                .iter()
                .all(|l| l["run"] == n && l["component"] == "SYNC")
        );
        let first = lines.first().unwrap()["message"].as_str().unwrap();
        let last = lines.last().unwrap()["message"].as_str().unwrap();
        assert!(first.starts_with("Synchronization started from"), "{first}");
        assert!(last.starts_with("Synchronization succeeded"), "{last}");
    }
    // Run 2 added updates: a line per update, run 1 (categories only) none.
    assert!(
        run2.iter()
            .any(|l| l["message"].as_str().unwrap().contains("KB5034122"))
    );
    assert!(
        !run1
            .iter()
            .any(|l| l["message"].as_str().unwrap().starts_with("Update "))
    );
    // Lines outside sync runs (criteria set) carry none.
    assert!(all.iter().any(|l| l["run"].is_null()), "{all:?}");
    assert_eq!(status_at(&s, None)["last_sync_run"], 2);
    assert!(log_json(&s, None, &["--run", "3"]).is_empty());

    // --since: ages from the (injected) now, dates, RFC 3339.
    assert_eq!(log_json(&s, None, &["--since", "1h"]).len(), all.len());
    assert_eq!(
        log_json(&s, None, &["--since", "2000-01-01"]).len(),
        all.len()
    );
    assert!(log_json(&s, Some(FAR_FUTURE), &["--since", "1h"]).is_empty());
    assert!(log_json(&s, None, &["--since", FAR_FUTURE]).is_empty());
    let (code, _, err) = run_any(&["log", "--store", p(&s), "--since", "yesterday"]);
    assert_eq!(code, 2, "{err}");
    // The text form is the log's own.
    let text = run(&["log", "--store", p(&s), "--run", "2"], 0);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("SYNC     [run 2] Synchronization started"),
        "{text}"
    );
}

/// A process the test started, killed if the test ends before it does.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[cfg(unix)]
fn log_follow_shows_new_lines_until_sigint() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let sync = || {
        run(
            &["sync", "--store", p(&s), "--from", p(&upstream_fixtures())],
            0,
        )
    };
    sync();
    let mut child = Reaped(
        offsync()
            .args([
                "log",
                "--store",
                p(&s),
                "--follow",
                "--json",
                "--poll-ms",
                "20",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen: Vec<Value> = Vec::new();
    let wait_for = |run: i64, seen: &mut Vec<Value>| {
        while !seen.iter().any(|l| {
            l["run"] == run
                && l["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Synchronization succeeded")
        }) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => seen.push(serde_json::from_str(&l).unwrap()),
                Err(_) => panic!("no end of run {run} in the followed log: {seen:?}"),
            }
        }
    };
    // The lines already there, then those of a sync that runs while it follows.
    wait_for(1, &mut seen);
    let before = seen.len();
    sync();
    wait_for(2, &mut seen);
    let new = &seen[before..];
    assert!(
        new[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Synchronization started"),
        "{new:?}"
    );
    assert!(new.iter().all(|l| l["run"] == 2), "{new:?}");
    let killed = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.0.wait().unwrap().code(), Some(0));
}

#[test]
fn the_status_page_is_self_contained_escaped_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    let name = "hq <b>&\"x\"</b>";
    let s = dir.path().join("hq");
    run(&["init", "--store", p(&s), "--name", name], 0);
    run(
        &["sync", "--store", p(&s), "--from", p(&upstream_fixtures())],
        0,
    );
    set_criteria(&s, BROAD_CRITERIA);
    run(
        &["sync", "--store", p(&s), "--from", p(&upstream_fixtures())],
        0,
    );
    let gone = dir.path().join("<gone>");
    fs::create_dir(&gone).unwrap();
    assert_ne!(
        run_any(&["sync", "--store", p(&s), "--from", p(&gone)]).0,
        0
    );
    let page = dir.path().join("status.html");
    let out = run(&["status", "--store", p(&s), "--html", p(&page)], 0);
    assert!(out.contains("status page written to"), "{out}");
    let html = fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("hq &lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>"), "outside text not escaped");
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("<img"));
    for attr in ["src=", "href=", "url("] {
        assert!(!html.contains(attr), "{attr} in the page");
    }
    // Three bars per run, three runs.
    assert_eq!(html.matches("<rect class=\"new\" x=").count(), 3, "{html}");
    assert!(html.contains("<title>run 2 ("), "{html}");
    if !crate::bench_smoke::have(&["chromium"]) {
        return;
    }
    let shot = dir.path().join("status.png");
    let (dom, requests) = chromium_render(&page, dir.path(), Some(&shot));
    assert!(requests.is_empty(), "the page made requests: {requests:?}");
    for text in [
        "offsync status: hq <b>&amp;\"x\"</b>",
        "Hierarchy",
        "top-level",
        "Warnings",
        "sync-failed",
        "Sync history",
        "run 1 (",
        "3 run(s) shown",
    ] {
        let shown = dom.replace("&lt;", "<").replace("&gt;", ">");
        assert!(
            shown.contains(text),
            "{text} not in the rendered page:\n{dom}"
        );
    }
    assert!(fs::metadata(&shot).unwrap().len() > 1000, "no screenshot");
}

/// Issue 13's hierarchy: a top-level point, a child that syncs from it and a disconnected point
/// that imports its bundles; after the receipts come back, the top-level `status` shows all
/// three, with how far behind each downstream point is, and the next scheduled sync.
#[test]
fn the_top_level_status_shows_its_child_and_its_disconnected_point_after_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let hq = synced_store(dir.path(), "hq");
    run(
        &[
            "schedule",
            "set",
            "--store",
            p(&hq),
            "daily 03:30",
            "--tz",
            "UTC",
        ],
        0,
    );
    // The child leaves its receipt in hq's receipts folder when it syncs.
    let child = init_store(dir.path(), "branch");
    sync_json(&child, &hq, &[]);
    set_criteria(&child, BROAD_CRITERIA);
    sync_json(&child, &hq, &[]);
    // The disconnected point imports hq's first bundle and sends its receipt back.
    let isolated = init_store(dir.path(), "ship");
    let (_, bundle) = export(&hq, &dir.path().join("m1"), &[]);
    import_json(&isolated, &bundle);
    let receipt = dir.path().join("ship-receipt.json");
    run(
        &[
            "receipt",
            "export",
            "--store",
            p(&isolated),
            "--out",
            p(&receipt),
        ],
        0,
    );
    run(&["receipt", "import", "--store", p(&hq)], 0);
    run(&["receipt", "import", "--store", p(&hq), p(&receipt)], 0);

    let s = status_at(&hq, None);
    assert_eq!(s["role"], "top-level", "{s}");
    assert!(s["next_sync"].is_string(), "a schedule is set: {s}");
    assert!(
        s["next_sync_local"].as_str().unwrap().contains("T03:30:00"),
        "{s}"
    );
    let down = s["downstream"].as_array().unwrap();
    let by_name = |n: &str| {
        down.iter()
            .find(|d| d["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing: {s}"))
    };
    assert_eq!(down.len(), 2, "{s}");
    assert_eq!(by_name("branch")["kind"], "child");
    assert_eq!(by_name("ship")["kind"], "disconnected");
    assert_eq!(by_name("ship")["acknowledged_sequence"], 1);
    assert_eq!(by_name("ship")["bundles_behind"], 0);
    assert_eq!(s["ok"], true, "{s}");
    assert_eq!(check(&hq, None).0, 0);

    // Three more bundles the ship has not acknowledged: it is stale, and the check fails.
    for i in 2..=4 {
        run(&["updates", "decline", "--store", p(&hq), "KB5034122"], 0);
        run(&["updates", "undecline", "--store", p(&hq), "KB5034122"], 0);
        export(&hq, &dir.path().join(format!("m{i}")), &[]);
    }
    let s = status_at(&hq, None);
    let ship = s["downstream"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "ship")
        .unwrap()
        .clone();
    assert_eq!(ship["bundles_behind"], 3, "{s}");
    assert!(
        warning_problems(&s).contains(&"downstream-bundles-behind".to_string()),
        "{s}"
    );
    let (code, lines) = check(&hq, None);
    assert_eq!(code, 21, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("ship")), "{lines:?}");
    // The page shows the three points.
    let page = dir.path().join("status.html");
    run(&["status", "--store", p(&hq), "--html", p(&page)], 0);
    let html = fs::read_to_string(&page).unwrap();
    for name in ["hq", "branch", "ship"] {
        assert!(html.contains(name), "{name} not on the page");
    }
}

/// Issue 14 point 3: `status` says how many files and bytes `content fetch` would still
/// download; a declined update's files are not among them.
#[test]
fn status_counts_what_is_still_to_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let hq = synced_store(dir.path(), "hq");
    let s = status_at(&hq, None);
    let files = s["to_fetch"]["files"].as_u64().unwrap();
    assert!(files > 0, "the fixtures lack some payloads: {s}");
    assert!(s["to_fetch"]["bytes"].as_u64().unwrap() > 0, "{s}");
    let dry = json(&["content", "fetch", "--store", p(&hq), "--dry-run", "--json"]);
    assert_eq!(dry["needed"].as_u64(), Some(files), "{dry}");
    let text = run(&["status", "--store", p(&hq)], 0);
    assert!(
        text.contains(&format!("{files} file(s) (")) && text.contains("still to fetch"),
        "{text}"
    );
    // KB5035845's payload is one of the missing files: declined, it is no longer to fetch.
    run(&["updates", "decline", "--store", p(&hq), "KB5035845"], 0);
    let after = status_at(&hq, None);
    assert!(
        after["to_fetch"]["files"].as_u64().unwrap() < files,
        "{after}"
    );
}
