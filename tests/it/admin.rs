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
    store.join("content").join(&h[..2]).join(h)
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
