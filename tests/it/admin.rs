//! An administrator's day: repairing damaged content, inputs a person types, a log one can
//! follow, and the newcomer's path (demo, help).

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn sha_of(path: &Path) -> String {
    sha_hex(&fs::read(path).unwrap())
}

/// The stored path of a fixture payload file.
fn stored(store: &Path, fixture: &str) -> PathBuf {
    let h = sha_of(&content_fixtures().join(fixture));
    stored_path(store, &h)
}

const KB5034122: &str = "windows10.0-kb5034122-x64_1340b2a8faf7aa1e57607d41af0436dbe3d3d943.msu";
const KB5034614: &str = "windows10.0-kb5034614-x64_9adecb4041f3b4edf762e173a141a568448fe527.cab";

/// Damages one content file (same size, other bytes) and deletes another.
fn damage(store: &Path) {
    let a = stored(store, KB5034122);
    let mut bytes = fs::read(&a).unwrap();
    bytes[0] ^= 0xff;
    fs::write(&a, bytes).unwrap();
    fs::remove_file(stored(store, KB5034614)).unwrap();
}

fn content_status(store: &Path) -> Value {
    json(&["status", "--store", p(store), "--json"])["content"].clone()
}

/// `check --read-data` fails (exit 5) naming both files, their updates' KB and titles.
fn assert_check_names_damage(store: &Path) {
    let (code, out, _) = run_any(&["check", "--store", p(store), "--read-data"]);
    assert_eq!(code, 5, "{out}");
    for needle in [KB5034122, KB5034614, "KB5034122", "KB5034614"] {
        assert!(out.contains(needle), "check names {needle}:\n{out}");
    }
    let (code, out, _) = run_any(&["check", "--store", p(store), "--read-data", "--json"]);
    assert_eq!(code, 5);
    let v: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["used_by"].as_array().unwrap())
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&KB5034122) && names.contains(&KB5034614),
        "{v}"
    );
    let kbs: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["used_by"].as_array().unwrap())
        .filter_map(|u| u["kb"].as_str())
        .collect();
    assert!(kbs.contains(&"5034122") && kbs.contains(&"5034614"), "{v}");
}

fn assert_sound(store: &Path, healthy: &Value) {
    run(&["check", "--store", p(store), "--read-data"], 0);
    assert_eq!(&content_status(store), healthy);
    assert_eq!(
        sha_of(&stored(store, KB5034122)),
        sha_of(&content_fixtures().join(KB5034122))
    );
}

#[test]
fn damaged_and_deleted_content_repaired_by_content_import_and_by_import_repair() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (_, bundle) = export(&connected, &dir.path().join("media"), &[]);
    let isolated = init_store(dir.path(), "isolated");
    run(&["import", "--store", p(&isolated), p(&bundle)], 0);
    let healthy = content_status(&isolated);
    assert_eq!(healthy["lost"], 0);

    // 1. Damaged and deleted; status no longer counts the deleted file as present.
    damage(&isolated);
    assert_check_names_damage(&isolated);
    let st = content_status(&isolated);
    assert_eq!(st["lost"], 1, "{st}");
    assert_eq!(
        st["present"].as_u64(),
        Some(healthy["present"].as_u64().unwrap() - 1)
    );
    // A content import that brings nothing lists the deleted file as still missing, as
    // status counts it.
    let empty = dir.path().join("nothing-to-take");
    fs::create_dir_all(&empty).unwrap();
    let r = json(&[
        "content",
        "import",
        "--store",
        p(&isolated),
        p(&empty),
        "--json",
    ]);
    let missing: Vec<&str> = r["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(missing.contains(&KB5034614), "{r}");

    // Repaired by `content import` of good copies.
    let r = json(&[
        "content",
        "import",
        "--store",
        p(&isolated),
        p(&content_fixtures()),
        "--json",
    ]);
    assert_eq!(r["repaired_files"], 2, "{r}");
    assert_eq!(r["added_files"], 0, "{r}");
    assert_sound(&isolated, &healthy);

    // 2. The same accident again; repaired from the bundle already imported.
    damage(&isolated);
    let before = table_rows(&isolated, &[]).1;
    let dry = json(&[
        "import",
        "--store",
        p(&isolated),
        "--repair",
        "--dry-run",
        "--json",
        p(&bundle),
    ]);
    assert_eq!(dry["restored"].as_array().unwrap().len(), 2, "{dry}");
    assert!(
        !stored(&isolated, KB5034614).exists(),
        "a dry run restores nothing"
    );
    let r = json(&[
        "import",
        "--store",
        p(&isolated),
        "--repair",
        "--json",
        p(&bundle),
    ]);
    assert_eq!(r["restored"].as_array().unwrap().len(), 2, "{r}");
    assert_sound(&isolated, &healthy);
    assert_eq!(
        table_rows(&isolated, &[]).1,
        before,
        "a repair changes no metadata"
    );
    // Nothing left to repair: a second run restores nothing.
    let r = json(&[
        "import",
        "--store",
        p(&isolated),
        "--repair",
        "--json",
        p(&bundle),
    ]);
    assert_eq!(r["restored"].as_array().unwrap().len(), 0, "{r}");
}

/// Runs offsync, expects exit 2, returns stderr.
fn usage_error(args: &[&str]) -> String {
    let (code, out, err) = run_any(args);
    assert_eq!(code, 2, "offsync {args:?}\n{out}\n{err}");
    err
}

#[test]
fn typed_inputs_are_checked_with_candidates_and_usage_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let sp = p(&s);
    run(
        &["sync", "--store", sp, "--from", p(&upstream_fixtures())],
        0,
    );
    let before = json(&["criteria", "show", "--store", sp, "--json"]);

    // A language name, or a code the upstream never names: refused with the candidates.
    let err = usage_error(&["criteria", "set", "--store", sp, "--language", "english"]);
    assert!(err.contains("english") && err.contains("de, fr"), "{err}");
    let err = usage_error(&["criteria", "set", "--store", sp, "--language", "xx"]);
    assert!(err.contains("de, fr"), "{err}");
    assert_eq!(json(&["criteria", "show", "--store", sp, "--json"]), before);
    run(&["criteria", "set", "--store", sp, "--language", "DE"], 0);

    // Category names: case and spaces do not count; a near miss gets suggestions.
    set_criteria(
        &s,
        &[
            "--product",
            "windows  10",
            "--classification",
            "SECURITY updates",
        ],
    );
    let c = json(&["criteria", "show", "--store", sp, "--json"]);
    assert_eq!(c["products"][0]["title"], "Windows 10", "{c}");
    assert_eq!(c["classifications"][0]["title"], "Security Updates", "{c}");
    let err = usage_error(&[
        "criteria",
        "set",
        "--store",
        sp,
        "--classification",
        "Securty Update",
    ]);
    assert!(
        err.contains("did you mean") && err.contains("Security Updates"),
        "{err}"
    );

    // KB numbers: digits or KB and digits.
    run(
        &["sync", "--store", sp, "--from", p(&upstream_fixtures())],
        0,
    );
    for kb in ["5034122", "KB5034122", "kb5034122"] {
        let rows = json(&["updates", "list", "--store", sp, "--kb", kb, "--json"]);
        assert_eq!(rows.as_array().unwrap().len(), 1, "--kb {kb}: {rows}");
    }
    for kb in ["12a", "KB", "Q5034122", "5034122x"] {
        usage_error(&["updates", "list", "--store", sp, "--kb", kb]);
    }
    // An unknown update is a usage error, as the README says.
    usage_error(&["updates", "show", "--store", sp, "KB999"]);
    usage_error(&[
        "updates",
        "show",
        "--store",
        sp,
        "00000000-0000-0000-0000-000000000001",
    ]);
}

/// An upstream folder holding the category documents and the given update documents.
fn upstream_with(dir: &Path, updates: &[&str]) -> PathBuf {
    let up = dir.join(format!("up-{}", updates.len()));
    let _ = fs::remove_dir_all(&up);
    fs::create_dir_all(&up).unwrap();
    for e in fs::read_dir(upstream_fixtures()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("category-") || updates.iter().any(|u| name.starts_with(u)) {
            fs::copy(e.path(), up.join(&name)).unwrap();
        }
    }
    up
}

#[test]
fn the_mass_removal_guard_holds_at_any_store_size() {
    let dir = tempfile::tempdir().unwrap();
    let broad = [
        "--product",
        "Windows",
        "--classification",
        "Security Updates",
        "--classification",
        "Updates",
        "--classification",
        "Critical Updates",
    ];
    let none = upstream_with(dir.path(), &[]);
    // 1 of 1: all of them.
    let one = upstream_with(dir.path(), &["update-a1-"]);
    let s = synced_from(dir.path(), "one", &one, &broad);
    assert_eq!(
        json(&["status", "--store", p(&s), "--json"])["totals"]["updates"],
        1
    );
    let (code, _, err) = run_any(&["sync", "--store", p(&s), "--from", p(&none)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--allow-mass-removal"), "{err}");

    // 2 of 3: more than half.
    let three = upstream_with(dir.path(), &["update-a1-", "update-a2-", "update-d-"]);
    let s = synced_from(dir.path(), "three", &three, &broad);
    let one_left = upstream_with(dir.path(), &["update-d-"]);
    let (code, _, err) = run_any(&["sync", "--store", p(&s), "--from", p(&one_left)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("2 of the 3"), "{err}");
    // 1 of 3 is ordinary.
    let two_left = upstream_with(dir.path(), &["update-a1-", "update-d-"]);
    let r = json(&["sync", "--store", p(&s), "--from", p(&two_left), "--json"]);
    assert_eq!(r["removed"], 1, "{r}");
    // Its log line names it as every changed update's does: KB, title, revision.
    let log = fs::read_to_string(s.join("offsync.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("Update KB5034763 '")
            && l.contains(" revision ")
            && l.ends_with("removed (absent from the complete upstream)")),
        "{log}"
    );
}

#[test]
fn an_installed_demo_runs_anywhere_signs_and_prints_commands_that_work() {
    if std::process::Command::new("sh")
        .arg("-c")
        .arg("true")
        .status()
        .is_err()
    {
        println!("skipped: no sh to run the printed commands");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // An installed copy, run from an unrelated folder.
    let bin = dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("offsync");
    fs::copy(env!("CARGO_BIN_EXE_offsync"), &exe).unwrap();
    let work = dir.path().join("elsewhere");
    fs::create_dir_all(&work).unwrap();
    let demo_dir = work.join("demo run");
    let out = std::process::Command::new(&exe)
        .args(["demo", "--dir", p(&demo_dir)])
        .current_dir(&work)
        .env_remove("OFFSYNC_STORE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains(env!("CARGO_MANIFEST_DIR")),
        "the demo reads nothing from the source tree:\n{stdout}"
    );
    assert!(demo_dir.join("sample/upstream").is_dir());
    // It signs, and the isolated side trusts the key and checked the signature.
    assert!(stdout.contains("signature by key"), "{stdout}");
    let trusted = json(&[
        "trust",
        "list",
        "--store",
        p(&demo_dir.join("isolated")),
        "--json",
    ]);
    assert_eq!(trusted.as_array().map(Vec::len), Some(1), "{trusted}");

    // The last lines are commands that work as printed.
    let tail = stdout
        .split("look around")
        .nth(1)
        .expect("the demo's last lines");
    let commands: Vec<&str> = tail
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("  "))
        .collect();
    assert!(commands.len() >= 3, "{tail}");
    for c in commands {
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(c.trim())
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "`{c}` failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn the_log_has_a_line_per_changed_update_and_rotates_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let log = fs::read_to_string(connected.join("offsync.log")).unwrap();
    assert!(
        log.lines().any(|l| l.contains("SYNC")
            && l.contains("KB5034122")
            && l.contains("2024-01 Cumulative Update")
            && l.contains("revision")
            && l.ends_with("added")),
        "{log}"
    );
    let (_, bundle) = export(&connected, &dir.path().join("media"), &[]);
    let isolated = init_store(dir.path(), "isolated");
    run(&["import", "--store", p(&isolated), p(&bundle)], 0);
    let log = fs::read_to_string(isolated.join("offsync.log")).unwrap();
    assert!(log.contains("Import started from"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("IMPORT") && l.contains("KB5034614") && l.ends_with("added")),
        "{log}"
    );
    // A refused import says why.
    let other = synced_store(dir.path(), "other");
    let (_, b2) = export(&other, &dir.path().join("media2"), &[]);
    fs::remove_file(volumes(&b2)[0].clone()).unwrap();
    let (code, _, _) = run_any(&["import", "--store", p(&isolated), p(&b2)]);
    assert_ne!(code, 0);
    let log = fs::read_to_string(isolated.join("offsync.log")).unwrap();
    assert!(log.lines().any(|l| l.contains("refused")), "{log}");

    // Rotation: offsync.log plus offsync.log.1 to .3, none beyond.
    let small_log = |args: &[&str]| {
        let out = offsync()
            .env("OFFSYNC_LOG_MAX_BYTES", "400")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    for _ in 0..12 {
        run(&["status", "--store", p(&isolated)], 0);
        small_log(&["updates", "decline", "--store", p(&isolated), "KB5034614"]);
        small_log(&["updates", "undecline", "--store", p(&isolated), "KB5034614"]);
    }
    for name in [
        "offsync.log",
        "offsync.log.1",
        "offsync.log.2",
        "offsync.log.3",
    ] {
        let len = fs::metadata(isolated.join(name))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 0 && len <= 400, "{name}: {len} bytes");
    }
    assert!(!isolated.join("offsync.log.4").exists());
}
