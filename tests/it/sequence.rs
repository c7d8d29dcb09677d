//! Sequence rules, validity and the store check: each refusal has its own message and exit
//! code, and leaves the store as it was.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn export_at(store: &Path, media: &Path, epoch: i64, extra: &[&str]) -> PathBuf {
    fs::create_dir_all(media).unwrap();
    let mut args = vec!["export", "--store", p(store), "--out", p(media), "--json"];
    args.extend_from_slice(extra);
    let o = offsync()
        .args(&args)
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    PathBuf::from(v["bundle_dir"].as_str().unwrap())
}

fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn equivocation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = synced_store(dir.path(), "connected");
    let twin = dir.path().join("twin");
    copy_tree(&a, &twin);
    // The twin has the same identity but decides differently before its first export.
    run(&["updates", "decline", "--store", p(&twin), "KB5034122"], 0);
    set_criteria(&twin, &["--language", "de"]);
    // The same creation time: only the twin's decisions make its bundle differ.
    let t = now_epoch();
    let b1 = export_at(&a, &dir.path().join("ma"), t, &[]);
    let bt = dir.path().join("mt");
    fs::create_dir_all(&bt).unwrap();
    let b1t = export_at(&twin, &bt, t, &[]);
    let iso = init_store(dir.path(), "iso");
    run(&["import", "--store", p(&iso), p(&b1)], 0);
    let before = fingerprint(&iso);
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&b1t)]);
    assert_eq!(code, 13, "{err}");
    assert!(err.contains("conflicting bundle"), "{err}");
    assert_eq!(before, fingerprint(&iso));
}

#[test]
fn implausible_jumps_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let a = synced_store(dir.path(), "connected");
    let t = now_epoch();
    let b1 = export_at(&a, &dir.path().join("m1"), t, &[]);
    let mut last = b1.clone();
    for n in 2..=5 {
        last = export_at(&a, &dir.path().join(format!("m{n}")), t, &["--full"]);
    }
    let iso = init_store(dir.path(), "iso");
    run(&["import", "--store", p(&iso), p(&b1)], 0);
    let before = fingerprint(&iso);
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&last), "--max-jump", "3"]);
    assert_eq!(code, 13, "{err}");
    assert!(
        err.contains("implausible jump") && err.contains("4 ahead"),
        "{err}"
    );
    assert_eq!(before, fingerprint(&iso));
    run(
        &["import", "--store", p(&iso), p(&last), "--max-jump", "4"],
        0,
    );
}

#[test]
fn expired_bundles_need_an_explicit_recorded_override() {
    let dir = tempfile::tempdir().unwrap();
    let a = synced_store(dir.path(), "connected");
    // Made two days ago, valid for one day.
    let b = export_at(
        &a,
        &dir.path().join("m"),
        now_epoch() - 2 * 86_400,
        &["--valid-for", "1d"],
    );
    let manifest: Value =
        serde_json::from_slice(&fs::read(b.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["valid_until"].is_string());
    let iso = init_store(dir.path(), "iso");
    let before = fingerprint(&iso);
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&b)]);
    assert_eq!(code, 14, "{err}");
    assert!(err.contains("expired"), "{err}");
    assert_eq!(before, fingerprint(&iso));
    let r = json(&[
        "import",
        "--store",
        p(&iso),
        p(&b),
        "--allow-expired",
        "--json",
    ]);
    assert_eq!(r["outcome"], "imported");
    let conn = rusqlite::Connection::open(iso.join("offsync.db")).unwrap();
    let note: Option<String> = conn
        .query_row("SELECT note FROM imports", [], |r| r.get(0))
        .unwrap();
    assert!(
        note.unwrap().contains("--allow-expired"),
        "the override is recorded"
    );
    // A bundle still valid imports without any override.
    let b2 = export_at(
        &a,
        &dir.path().join("m2"),
        now_epoch(),
        &["--valid-for", "30d", "--allow-empty"],
    );
    run(&["import", "--store", p(&iso), p(&b2)], 0);
}

#[test]
fn a_clock_earlier_than_the_last_import_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = synced_store(dir.path(), "connected");
    let t = now_epoch();
    let b1 = export_at(&a, &dir.path().join("m1"), t, &[]);
    let b2 = export_at(&a, &dir.path().join("m2"), t, &["--full"]);
    let iso = init_store(dir.path(), "iso");
    run(&["import", "--store", p(&iso), p(&b1)], 0);
    // As if the last import had happened a year from now: this machine's clock is behind it.
    let conn = rusqlite::Connection::open(iso.join("offsync.db")).unwrap();
    conn.execute("UPDATE imports SET imported = '2099-01-01T00:00:00Z'", [])
        .unwrap();
    drop(conn);
    let before = fingerprint(&iso);
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&b2)]);
    assert_eq!(code, 14, "{err}");
    assert!(err.contains("clock"), "{err}");
    assert_eq!(before, fingerprint(&iso));
    run(
        &["import", "--store", p(&iso), p(&b2), "--allow-expired"],
        0,
    );
}

#[test]
fn check_finds_damaged_and_truncated_content() {
    let dir = tempfile::tempdir().unwrap();
    let a = synced_store(dir.path(), "connected");
    let r = json(&["check", "--store", p(&a), "--read-data", "--json"]);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["content_files"], 9);

    // Same size, other bytes: only --read-data sees it.
    let file = walkdir::WalkDir::new(a.join("content"))
        .into_iter()
        .map(|e| e.unwrap())
        .find(|e| e.file_type().is_file())
        .unwrap()
        .into_path();
    let mut bytes = fs::read(&file).unwrap();
    bytes[0] ^= 1;
    fs::write(&file, &bytes).unwrap();
    run(&["check", "--store", p(&a)], 0);
    let (code, out, _) = run_any(&["check", "--store", p(&a), "--read-data"]);
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("damaged"), "{out}");
    fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
    let (code, out, _) = run_any(&["check", "--store", p(&a)]);
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("bytes; the store recorded"), "{out}");
}

#[cfg(unix)]
#[test]
fn a_symlink_planted_in_the_store_stops_import_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let a = synced_store(dir.path(), "connected");
    let b = export_at(&a, &dir.path().join("m"), now_epoch(), &[]);
    let iso = init_store(dir.path(), "iso");
    // Plant content/<xx> -> a folder outside the store for every first byte a file could use.
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    for i in 0..=255u8 {
        std::os::unix::fs::symlink(&outside, iso.join("content").join(format!("{i:02x}"))).unwrap();
    }
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&b)]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(
        fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing was written through the link"
    );
    let (code, _, _) = run_any(&["check", "--store", p(&iso)]);
    assert_eq!(code, 5);
}
