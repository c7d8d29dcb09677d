//! Fixes from the review of issue 13's code: refused imports reach the store above in
//! receipts, a failed run is retried before the next slot, times in the future, point names,
//! the catalog import's log, and receipts judged and written in one transaction.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

fn receipt_of(store: &Path, out: &Path, now: Option<&str>) -> Value {
    let (code, o, e) = run_at(
        now,
        &[
            "receipt",
            "export",
            "--store",
            p(store),
            "--out",
            p(out),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{e}");
    serde_json::from_str::<Value>(&o).unwrap()["receipt"].clone()
}

/// `receipt import --json`: (exit code, report, stderr).
fn receipt_import(store: &Path, files: &[&Path], now: Option<&str>) -> (i32, Value, String) {
    let mut args = vec!["receipt", "import", "--store", p(store), "--json"];
    args.extend(files.iter().map(|f| p(f)));
    let (code, out, err) = run_at(now, &args);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, v, err)
}

fn point(store: &Path, name: &str) -> Value {
    let all = json(&["receipt", "list", "--store", p(store), "--json"]);
    all.as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no point '{name}' in {all}"))
        .clone()
}

/// Review item 2: an isolated point whose last import was refused says so in its receipt,
/// and the store above warns of it (`status --check` fails).
#[test]
fn a_refused_import_reaches_the_store_above_in_the_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let hq = synced_store(dir.path(), "hq");
    let iso = init_store(dir.path(), "iso");
    let (_, bundle) = export(&hq, &dir.path().join("m1"), &[]);
    import_json(&iso, &bundle);
    let (_, damaged) = export(&hq, &dir.path().join("m2"), &["--full"]);
    fs::remove_file(volumes(&damaged)[0].clone()).unwrap();
    let (code, _, _) = run_any(&["import", "--store", p(&iso), p(&damaged)]);
    assert_ne!(code, 0, "the damaged bundle is refused");

    let file = dir.path().join("iso.json");
    let r = receipt_of(&iso, &file, None);
    assert_eq!(r["recent"][0]["operation"], "import", "{r}");
    assert_eq!(r["recent"][0]["outcome"], "refused", "{r}");
    assert!(r["recent"][0]["error"].is_string(), "{r}");
    assert!(r["recent"][0]["source"].is_string(), "{r}");
    assert_eq!(r["recent"][1]["outcome"], "imported", "{r}");

    let (code, v, e) = receipt_import(&hq, &[&file], None);
    assert_eq!(code, 0, "{v} {e}");
    assert_eq!(point(&hq, "iso")["last_outcome"], "refused");
    let s = json(&["status", "--store", p(&hq), "--json"]);
    assert!(
        warning_problems(&s).contains(&"downstream-failed".to_string()),
        "{s}"
    );
    let (code, out, _) = run_at(None, &["status", "--store", p(&hq), "--check"]);
    assert_eq!(code, 21, "{out}");
    assert!(out.contains("downstream-failed iso"), "{out}");
}

/// A store whose upstream folder holds a malformed document (so its syncs fail, recorded as
/// failed runs), scheduled `spec` in UTC; returns the store and the folder.
fn failing_scheduled_store(dir: &Path, spec: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let s = init_store(dir, "s");
    let gone = dir.join("upstream");
    fs::create_dir(&gone).unwrap();
    fs::write(gone.join("bad.xml"), "<notxml").unwrap();
    run(&["upstream", "set", "--store", p(&s), p(&gone)], 0);
    run(
        &["schedule", "set", "--store", p(&s), spec, "--tz", "UTC"],
        0,
    );
    (s, gone)
}

/// Seconds from the start of the day of an RFC 3339 time (tests stay within one day).
fn secs(t: &str) -> i64 {
    let c: Vec<i64> = t[11..19].split(':').map(|x| x.parse().unwrap()).collect();
    c[0] * 3600 + c[1] * 60 + c[2]
}

/// Review item 6: after a failed sync, `sync --if-due` retries with the back-off of `run`
/// (1 minute, then 2, ...), not at the next slot a week later; `status` says when.
#[test]
fn sync_if_due_retries_a_failed_sync_with_back_off_not_a_week_later() {
    let dir = tempfile::tempdir().unwrap();
    let (s, up) = failing_scheduled_store(dir.path(), "weekly sun 02:00");
    let if_due = ["sync", "--store", p(&s), "--if-due", "--json"];
    // 2026-12-07 is a Monday: the next slot is six days away.
    let (code, _, _) = run_at(Some("2026-12-07T10:00:00Z"), &if_due);
    assert_ne!(code, 0, "the sync fails");
    let (code, out, e) = run_at(Some("2026-12-07T10:00:30Z"), &if_due);
    assert_eq!(code, 0, "{e}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "not-due", "{v}");
    let next = v["next_run"].as_str().unwrap();
    assert!(
        next.starts_with("2026-12-07T10:01:0"),
        "a minute later: {v}"
    );
    let (_, out, _) = run_at(
        Some("2026-12-07T10:00:30Z"),
        &["status", "--store", p(&s), "--json"],
    );
    let st: Value = serde_json::from_str(&out).unwrap();
    assert!(
        st["next_sync"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-07T10:01:0"),
        "{st}"
    );
    // Due again after the minute: it tries (and fails again), then waits two minutes.
    let (code, _, _) = run_at(Some("2026-12-07T10:01:30Z"), &if_due);
    assert_ne!(code, 0, "it was due, and failed again");
    let (code, out, _) = run_at(Some("2026-12-07T10:02:00Z"), &if_due);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let d = secs(v["next_run"].as_str().unwrap()) - secs("2026-12-07T10:01:30Z");
    assert!(
        (120..=125).contains(&d),
        "two minutes after the second failure: {v}"
    );
    // The back-off never goes past the next slot: an hour's wait at most.
    for m in 0..6 {
        let (code, _, _) = run_at(Some(&format!("2026-12-07T1{}:00:00Z", m + 1)), &if_due);
        assert_ne!(code, 0);
    }
    let (_, out, _) = run_at(Some("2026-12-07T16:00:30Z"), &if_due);
    let v: Value = serde_json::from_str(&out).unwrap();
    let d = secs(v["next_run"].as_str().unwrap()) - secs("2026-12-07T16:00:00Z");
    assert!((3600..=3605).contains(&d), "at most an hour: {v}");
    // Once a retry succeeds, the schedule's slots again.
    fs::remove_file(up.join("bad.xml")).unwrap();
    let (code, _, e) = run_at(Some("2026-12-07T17:01:00Z"), &if_due);
    assert_eq!(code, 0, "{e}");
    let (_, out, _) = run_at(Some("2026-12-07T17:02:00Z"), &if_due);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["next_run"], "2026-12-13T02:00:00Z", "{v}");
}

/// `receipt export` of `store` into `out` with the receipt written at `created` (seconds).
fn receipt_at(store: &Path, out: &Path, created: i64) {
    let o = offsync()
        .env("SOURCE_DATE_EPOCH", created.to_string())
        .args(["receipt", "export", "--store", p(store), "--out", p(out)])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Review item 4: a sync made while the clock was years ahead neither silences the schedule
/// nor hides staleness; a receipt from a clock ahead is refused, and a point registered from
/// one can be forgotten.
#[test]
fn a_time_in_the_future_silences_neither_the_schedule_nor_the_checks() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    run(
        &["upstream", "set", "--store", p(&s), p(&upstream_fixtures())],
        0,
    );
    run(
        &[
            "schedule",
            "set",
            "--store",
            p(&s),
            "weekly sun 02:00",
            "--tz",
            "UTC",
        ],
        0,
    );
    let if_due = ["sync", "--store", p(&s), "--if-due", "--json"];
    let (code, out, e) = run_at(Some("2031-01-01T00:00:00Z"), &if_due);
    assert_eq!(code, 0, "{e}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["outcome"],
        "succeeded"
    );
    // Back to the right time: the point says its clock was wrong, and a sync is due.
    let now = "2026-12-07T10:00:00Z";
    let (_, out, _) = run_at(Some(now), &["status", "--store", p(&s), "--json"]);
    let st: Value = serde_json::from_str(&out).unwrap();
    assert!(
        warning_problems(&st).contains(&"sync-in-future".to_string()),
        "{st}"
    );
    let (code, out, _) = run_at(Some(now), &["status", "--store", p(&s), "--check"]);
    assert_eq!(code, 21, "{out}");
    assert!(out.contains("sync-in-future s: "), "{out}");
    let (code, out, e) = run_at(Some(now), &if_due);
    assert_eq!(code, 0, "{e}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["outcome"], "succeeded", "due, not silent until 2031: {v}");

    // A receipt written more than a day ahead of the store above: refused (14), nothing
    // registered.
    let hq = init_store(dir.path(), "hq");
    let iso = init_store(dir.path(), "iso");
    let ahead = dir.path().join("ahead.json");
    receipt_at(&iso, &ahead, 1_924_992_000); // 2031-01-01
    let before = fingerprint(&hq);
    let (code, v, _) = receipt_import(&hq, &[&ahead], Some(now));
    assert_eq!(code, 14, "{v}");
    assert!(
        v["files"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("clock"),
        "{v}"
    );
    assert_eq!(
        fingerprint(&hq),
        before,
        "a refused receipt changes nothing"
    );
    // Registered while both clocks were ahead, that receipt makes every later one "older":
    // `receipt forget` drops the point, and its next receipt registers it anew.
    let (code, v, _) = receipt_import(&hq, &[&ahead], Some("2031-01-01T00:00:00Z"));
    assert_eq!(code, 0, "{v}");
    let right = dir.path().join("right.json");
    receipt_at(&iso, &right, 1_796_637_600); // 2026-12-07T10:00:00Z
    let (code, v, _) = receipt_import(&hq, &[&right], Some(now));
    assert_eq!(code, 13, "{v}");
    let (code, out, e) = run_at(
        Some(now),
        &["receipt", "forget", "--store", p(&hq), "iso", "--json"],
    );
    assert_eq!(code, 0, "{e}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["name"], "iso");
    let (code, v, _) = receipt_import(&hq, &[&right], Some(now));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["files"][0]["registered"], "new", "{v}");
    let (code, _, e) = run_at(
        Some(now),
        &["receipt", "forget", "--store", p(&hq), "nobody"],
    );
    assert_eq!(code, 2, "{e}");
}

/// Review item 5: a known point cannot take another registered point's name (so that
/// `export --for NAME` cannot pick the wrong one).
#[test]
fn a_known_point_cannot_take_another_points_name() {
    let dir = tempfile::tempdir().unwrap();
    let hq = init_store(dir.path(), "hq");
    let a = init_store(dir.path(), "a");
    let b = init_store(dir.path(), "b");
    let (ra, rb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    receipt_at(&a, &ra, 1_796_464_800);
    receipt_at(&b, &rb, 1_796_464_800);
    assert_eq!(receipt_import(&hq, &[&ra, &rb], None).0, 0);
    // b's next receipt calls it 'a'.
    let renamed = dir.path().join("b-renamed.json");
    receipt_at(&b, &renamed, 1_796_464_900);
    let text = fs::read_to_string(&renamed).unwrap();
    let claimed = text.replacen("\"store_name\": \"b\"", "\"store_name\": \"a\"", 1);
    assert_ne!(text, claimed);
    fs::write(&renamed, claimed).unwrap();
    let before = fingerprint(&hq);
    let (code, v, _) = receipt_import(&hq, &[&renamed], None);
    assert_eq!(code, 12, "{v}");
    let msg = v["files"][0]["error"]["message"].as_str().unwrap();
    assert!(msg.contains("claims the name 'a'"), "{msg}");
    assert!(msg.contains("registered as 'b'"), "{msg}");
    assert_eq!(fingerprint(&hq), before);
    assert_eq!(point(&hq, "b")["name"], "b");
}

/// Review item 10: a disconnected point's receipt that turns up in the receipts folder does
/// not turn it into a child.
#[test]
fn a_point_keeps_the_kind_it_was_first_registered_as() {
    let dir = tempfile::tempdir().unwrap();
    let hq = init_store(dir.path(), "hq");
    let iso = init_store(dir.path(), "iso");
    let carried = dir.path().join("iso.json");
    receipt_at(&iso, &carried, 1_796_464_800);
    assert_eq!(receipt_import(&hq, &[&carried], None).0, 0);
    assert_eq!(point(&hq, "iso")["kind"], "disconnected");
    let id = point(&hq, "iso")["id"].as_str().unwrap().to_string();
    let folder = hq.join("receipts");
    fs::create_dir_all(&folder).unwrap();
    receipt_at(&iso, &folder.join(format!("{id}.json")), 1_796_464_900);
    let (code, v, _) = receipt_import(&hq, &[], None);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["files"][0]["registered"], "updated", "{v}");
    assert_eq!(point(&hq, "iso")["kind"], "disconnected");
}

/// Review item 8: a catalog import that fails after its updates were written (here: the
/// payload cannot be put in place) logs no update as imported, and logs the refusal.
#[test]
fn a_failed_catalog_import_logs_no_update_as_imported() {
    const PAYLOAD: &str = "windows11.0-kb5034765-x64_86343e77d1ed7165a16263b602549197ab9f94a8.cab";
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let payload = content_fixtures().join(PAYLOAD);
    // A folder where the payload's content file goes: putting it in place fails.
    let blocker = stored_path(&s, &sha_hex(&fs::read(&payload).unwrap()));
    fs::create_dir_all(blocker.join("x")).unwrap();
    let up = upstream_fixtures();
    let args = [
        "catalog",
        "import",
        "--store",
        p(&s),
        "KB5034765",
        "--from",
        p(&up),
        "--file",
        p(&payload),
    ];
    let (code, _, err) = run_any(&args);
    assert_ne!(code, 0, "{err}");
    let log = fs::read_to_string(s.join("offsync.log")).unwrap();
    assert!(
        !log.contains("(imported from the catalog)"),
        "the log claims what was not stored:\n{log}"
    );
    assert!(log.contains("Catalog import refused: "), "{log}");
    assert!(
        json(&["updates", "list", "--store", p(&s), "--json"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Once it can be stored, the lines come, after the commit.
    fs::remove_dir_all(&blocker).unwrap();
    run(&args, 0);
    let log = fs::read_to_string(s.join("offsync.log")).unwrap();
    assert!(log.contains("(imported from the catalog)"), "{log}");
}

/// Review item 9: `receipt import`, `catalog import` and `export` run on the test clock, as
/// every other command does.
#[test]
fn receipt_import_catalog_import_and_export_take_the_test_clock() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let when = Some("2030-01-01T00:00:00Z");
    let media = dir.path().join("m");
    fs::create_dir_all(&media).unwrap();
    let (code, _, e) = run_at(when, &["export", "--store", p(&s), "--out", p(&media)]);
    assert_eq!(code, 0, "{e}");
    let up = upstream_fixtures();
    let (code, _, e) = run_at(
        when,
        &[
            "catalog",
            "import",
            "--store",
            p(&s),
            "KB5034765",
            "--from",
            p(&up),
        ],
    );
    assert_eq!(code, 0, "{e}");
    let iso = init_store(dir.path(), "iso");
    let r = dir.path().join("iso.json");
    receipt_at(&iso, &r, 1_796_464_800);
    assert_eq!(receipt_import(&s, &[&r], when).0, 0);
    let log = fs::read_to_string(s.join("offsync.log")).unwrap();
    for component in ["EXPORT", "CATALOG", "RECEIPT"] {
        assert!(
            log.lines()
                .any(|l| l.starts_with("2030-01-01T00:00:0") && l.contains(component)),
            "no {component} line at the test time:\n{log}"
        );
    }
    assert_eq!(
        point(&s, "iso")["received"].as_str().unwrap()[..10],
        *"2030-01-01"
    );
}
