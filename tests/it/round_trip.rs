//! The round trip as administrators live it (issue 9, points 1 to 3): only real changes take
//! change numbers, decisions cross without payload, and a child update point gets content.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The criteria of these tests: Windows 10's security updates and updates (five updates, four
/// payload files present in the fixtures, one missing).
const CRITERIA: &[&str] = &[
    "--product",
    "Windows 10",
    "--classification",
    "Security Updates",
    "--classification",
    "Updates",
];

const KB_A1: &str = "KB5034122";
const A1: &str = "1d956cd9-8a3f-44d7-8ccb-031ebc0ba36b";

fn status(store: &Path) -> Value {
    json(&["status", "--store", p(store), "--json"])
}

fn change_seq(store: &Path) -> u64 {
    status(store)["totals"]["change_seq"].as_u64().unwrap()
}

fn media(dir: &Path, name: &str) -> PathBuf {
    let m = dir.join(name);
    fs::create_dir_all(&m).unwrap();
    m
}

/// The state `updates show` gives an update.
fn state_of(store: &Path, id: &str) -> String {
    let v = json(&["updates", "show", "--store", p(store), id, "--json"]);
    v["state"]
        .as_str()
        .expect("updates show gives a state")
        .to_string()
}

fn assert_unchanged(r: &Value, n: u64) {
    assert_eq!(
        (
            r["new"].as_u64(),
            r["updated"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(n)),
        "{r:#}"
    );
}

/// 9.1, a chain: connected → bundle → isolated, then the isolated store synced from the same
/// upstream data: every update unchanged, the change sequence unmoved, and the next export
/// from it carries nothing.
#[test]
fn an_imported_store_resynced_from_the_same_upstream_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store_with(dir.path(), "connected", CRITERIA);
    let m1 = media(dir.path(), "m1");
    let (_, bundle) = export(&connected, &m1, &[]);
    let isolated = init_store(dir.path(), "isolated");
    let r = import_json(&isolated, &bundle);
    assert_eq!(r["new"].as_u64(), Some(5), "{r:#}");
    // The isolated store becomes a connected point of its own (a chain of disconnected
    // points): it takes the same criteria and syncs from the same data.
    set_criteria(&isolated, CRITERIA);
    let seq = change_seq(&isolated);
    let exported = isolated_export_baseline(&isolated, dir.path());
    let r = sync_json(&isolated, &upstream_fixtures(), &[]);
    assert_unchanged(&r, 5);
    assert_eq!(change_seq(&isolated), seq, "the sync took change numbers");
    // The next incremental export from it re-sends nothing: nothing changed, nothing written.
    let m3 = media(dir.path(), "m3");
    std::fs::create_dir_all(&m3).unwrap();
    let v = json(&["export", "--store", p(&isolated), "--out", p(&m3), "--json"]);
    assert_eq!(v["outcome"], "nothing-changed", "{v:#}");
    assert_eq!(std::fs::read_dir(&m3).unwrap().count(), 0);
    assert_eq!(exported["updates"].as_u64(), Some(5));
}

/// A first (full) export of the isolated store, so that the next one is incremental.
fn isolated_export_baseline(store: &Path, dir: &Path) -> Value {
    let m = media(dir, "m2");
    export(store, &m, &[]).0
}

/// 9.1, a parent/child pair: a child filled from its parent's bundle, then synced from the
/// parent itself, takes no change numbers; and re-synced from the parent, neither.
#[test]
fn a_child_resynced_from_its_parent_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let parent = synced_store_with(dir.path(), "parent", CRITERIA);
    let m = media(dir.path(), "m");
    let (_, bundle) = export(&parent, &m, &[]);
    let child = init_store(dir.path(), "child");
    import_json(&child, &bundle);
    set_criteria(&child, CRITERIA);
    let seq = change_seq(&child);
    let r = sync_json(&child, &parent, &["--metadata-only"]);
    assert_unchanged(&r, 5);
    assert_eq!(change_seq(&child), seq);
    let r = sync_json(&child, &parent, &[]);
    assert_unchanged(&r, 5);
    // Content was already imported with the bundle: nothing to take, nothing moved.
    assert_eq!(r["content_files"].as_u64(), Some(0), "{r:#}");
    assert_eq!(change_seq(&child), seq);
}

/// 9.2: a decline takes a change number for the decision alone; the next bundle carries the
/// decision and no content and no update record; a replica store applies it, an autonomous
/// store (the default) keeps its own decision and reports the upstream's.
#[test]
fn a_decline_crosses_without_payload_and_lands_in_a_replica_only() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store_with(dir.path(), "connected", CRITERIA);
    let (replica, autonomous) = (
        init_store(dir.path(), "replica"),
        init_store(dir.path(), "autonomous"),
    );
    let out = run(&["upstream", "mode", "--store", p(&replica), "replica"], 0);
    assert!(out.contains("mode: replica"), "{out}");
    let out = run(&["upstream", "show", "--store", p(&autonomous)], 0);
    assert!(out.contains("mode: autonomous"), "{out}");
    let m1 = media(dir.path(), "m1");
    let (_, b1) = export(&connected, &m1, &[]);
    import_json(&replica, &b1);
    import_json(&autonomous, &b1);

    let before = change_seq(&connected);
    run(&["updates", "decline", "--store", p(&connected), KB_A1], 0);
    assert_eq!(change_seq(&connected), before + 1, "one change number");
    let m2 = media(dir.path(), "m2");
    let (v, b2) = export(&connected, &m2, &[]);
    assert_eq!(
        (
            v["updates"].as_u64(),
            v["content_files"].as_u64(),
            v["decisions"].as_u64()
        ),
        (Some(0), Some(0), Some(1)),
        "{v:#}"
    );
    let mf = manifest(&b2);
    assert_eq!(mf["format_version"].as_u64(), Some(3));
    assert_eq!(mf["counts"]["decisions"].as_u64(), Some(1));
    let content_entries = mf["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("content/"))
        .count();
    assert_eq!(content_entries, 0, "{mf:#}");

    let r = import_json(&replica, &b2);
    assert_eq!(r["decisions"]["mode"], "replica", "{r:#}");
    assert_eq!(r["decisions"]["applied"][0]["update_id"], A1, "{r:#}");
    assert_eq!(state_of(&replica, A1), "declined");

    let r = import_json(&autonomous, &b2);
    assert_eq!(r["decisions"]["mode"], "autonomous", "{r:#}");
    assert_eq!(r["decisions"]["kept_local"][0]["update_id"], A1, "{r:#}");
    assert_eq!(r["decisions"]["kept_local"][0]["declined"], true, "{r:#}");
    assert_eq!(state_of(&autonomous, A1), "published");

    // The undecline crosses the same way and lands in the replica.
    run(
        &["updates", "undecline", "--store", p(&connected), KB_A1],
        0,
    );
    let m3 = media(dir.path(), "m3");
    let (_, b3) = export(&connected, &m3, &[]);
    import_json(&replica, &b3);
    assert_eq!(state_of(&replica, A1), "published");
}

/// 9.2, parent-store syncs: a replica child takes its parent's decline, an autonomous one
/// reports it and keeps its own.
#[test]
fn a_parents_decline_reaches_a_replica_child_only() {
    let dir = tempfile::tempdir().unwrap();
    let parent = synced_store_with(dir.path(), "parent", CRITERIA);
    let replica = synced_from(dir.path(), "replica", &parent, CRITERIA);
    let autonomous = synced_from(dir.path(), "autonomous", &parent, CRITERIA);
    run(&["upstream", "mode", "--store", p(&replica), "replica"], 0);
    run(&["updates", "decline", "--store", p(&parent), KB_A1], 0);
    let r = sync_json(&replica, &parent, &[]);
    assert_eq!(r["decisions"]["applied"][0]["update_id"], A1, "{r:#}");
    assert_eq!(state_of(&replica, A1), "declined");
    let r = sync_json(&autonomous, &parent, &[]);
    assert_eq!(r["decisions"]["kept_local"][0]["update_id"], A1, "{r:#}");
    assert_eq!(state_of(&autonomous, A1), "published");
    // Applied once: the next sync finds nothing to apply and moves nothing.
    let seq = change_seq(&replica);
    let r = sync_json(&replica, &parent, &[]);
    assert_eq!(r["decisions"]["applied"].as_array().map(Vec::len), Some(0));
    assert_eq!(change_seq(&replica), seq);
}

/// 9.2: the committed bundles of format version 1 (written before decisions had records)
/// still import, content included.
#[test]
fn format_v1_fixture_still_imports() {
    let dir = tempfile::tempdir().unwrap();
    let store = init_store(dir.path(), "isolated");
    let fx = fixtures().join("bundle-v1");
    let b1 = fx.join("offsync-v1-fixture-s000001");
    assert_eq!(manifest(&b1)["format_version"].as_u64(), Some(1));
    let out = run(&["verify", p(&b1)], 0);
    assert!(!out.is_empty());
    let r = import_json(&store, &b1);
    assert_eq!(
        (r["new"].as_u64(), r["content_files"].as_u64()),
        (Some(1), Some(1)),
        "{r:#}"
    );
    let r = import_json(&store, &fx.join("offsync-v1-fixture-s000002"));
    assert_eq!(r["outcome"], "imported", "{r:#}");
    run(&["check", "--store", p(&store), "--read-data"], 0);
    let s = status(&store);
    assert_eq!(s["content"]["present"].as_u64(), Some(1), "{s:#}");
}

/// Bundles written by format version 2 (one bincode value for metadata.bin, before the
/// streaming records of version 3) still verify and import: the full bundle brings its
/// updates and content, the incremental one its decline (reported, kept local).
#[test]
fn format_v2_fixture_still_imports() {
    let dir = tempfile::tempdir().unwrap();
    let store = init_store(dir.path(), "isolated");
    let fx = fixtures().join("bundle-v2");
    let b1 = fx.join("offsync-v2-fixture-s000001");
    assert_eq!(manifest(&b1)["format_version"].as_u64(), Some(2));
    run(&["verify", p(&b1)], 0);
    let r = import_json(&store, &b1);
    assert_eq!(
        (r["new"].as_u64(), r["content_files"].as_u64()),
        (Some(13), Some(9)),
        "{r:#}"
    );
    let b2 = fx.join("offsync-v2-fixture-s000002");
    run(&["verify", p(&b2)], 0);
    let r = import_json(&store, &b2);
    assert_eq!(r["outcome"], "imported", "{r:#}");
    // An autonomous store keeps its own decisions; the bundle's decline is read and reported.
    let kept = &r["decisions"]["kept_local"];
    assert_eq!(kept[0]["kb"], "5034203", "{r:#}");
    assert_eq!(kept[0]["declined"], true, "{r:#}");
    run(&["check", "--store", p(&store), "--read-data"], 0);
    let s = status(&store);
    assert_eq!(s["content"]["present"].as_u64(), Some(9), "{s:#}");
}

/// 9.3: a child synced from its parent holds the parent's content for what it selected
/// (checked by reading it), status counts it present and still names what the parent lacks;
/// `--metadata-only` takes none.
#[test]
fn a_child_store_gets_its_parents_content() {
    let dir = tempfile::tempdir().unwrap();
    let parent = synced_store_with(dir.path(), "parent", CRITERIA);
    let lean = init_store(dir.path(), "lean");
    run(
        &[
            "sync",
            "--store",
            p(&lean),
            "--from",
            p(&parent),
            "--metadata-only",
        ],
        0,
    );
    set_criteria(&lean, CRITERIA);
    let r = sync_json(&lean, &parent, &["--metadata-only"]);
    assert_eq!(r["content_files"].as_u64(), Some(0), "{r:#}");
    assert_eq!(status(&lean)["content"]["present"].as_u64(), Some(0));

    let child = init_store(dir.path(), "child");
    run(&["sync", "--store", p(&child), "--from", p(&parent)], 0);
    set_criteria(&child, CRITERIA);
    let r = sync_json(&child, &parent, &[]);
    assert_eq!(r["content_files"].as_u64(), Some(4), "{r:#}");
    run(&["check", "--store", p(&child), "--read-data"], 0);
    let c = status(&child)["content"].clone();
    assert_eq!(
        (
            c["referenced"].as_u64(),
            c["present"].as_u64(),
            c["missing"].as_u64()
        ),
        (Some(5), Some(4), Some(1)),
        "{c:#}"
    );
    // The lean child catches up at its next sync with content.
    let r = sync_json(&lean, &parent, &[]);
    assert_eq!(r["content_files"].as_u64(), Some(4), "{r:#}");
    assert_unchanged(&r, 5);
}

/// 9.3: a parent file whose bytes no longer match its SHA-256 is not taken: the sync says so
/// and the child records it missing.
#[test]
fn a_damaged_parent_file_is_not_taken() {
    let dir = tempfile::tempdir().unwrap();
    let child = child_of_a_spoiled_parent(
        dir.path(),
        |f, _| {
            let mut bytes = fs::read(f).unwrap();
            bytes[100] ^= 0xff;
            fs::write(f, bytes).unwrap();
        },
        SPOILED,
    );
    assert_eq!(status(&child)["content"]["missing"].as_u64(), Some(2));
}

/// A symbolic link planted in the parent's content folder is neither followed nor copied as
/// a link (a hard link to a link is a link): the child warns, leaves it out and stays sound.
#[cfg(unix)]
#[test]
fn a_link_in_the_parents_content_folder_is_not_taken() {
    let dir = tempfile::tempdir().unwrap();
    let child = child_of_a_spoiled_parent(
        dir.path(),
        |f, dir| {
            let outside = dir.join("outside-the-store");
            fs::rename(f, &outside).unwrap();
            std::os::unix::fs::symlink(&outside, f).unwrap();
        },
        "is not a regular file",
    );
    let taken = stored_path(&child, SPOILED);
    assert!(fs::symlink_metadata(&taken).is_err(), "the link was taken");
}

/// The parent content file the two tests above spoil.
const SPOILED: &str = "ba1c7aae34e4379a93e1d2e4c048d04f60962563ad87f247044b1228343e804f";

/// In `dir`, a parent whose content file [`SPOILED`] `spoil` changed (given its path and
/// `dir`), and a child synced from it: the child takes the three sound files, warns with
/// `warning` about the spoiled one, and passes its own `check --read-data`.
fn child_of_a_spoiled_parent(
    dir: &Path,
    spoil: impl FnOnce(&Path, &Path),
    warning: &str,
) -> PathBuf {
    let parent = synced_store_with(dir, "parent", CRITERIA);
    spoil(&stored_path(&parent, SPOILED), dir);
    let child = init_store(dir, "child");
    run(&["sync", "--store", p(&child), "--from", p(&parent)], 0);
    set_criteria(&child, CRITERIA);
    let r = sync_json(&child, &parent, &[]);
    assert_eq!(r["content_files"].as_u64(), Some(3), "{r:#}");
    let warned = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains(warning));
    assert!(warned, "{r:#}");
    run(&["check", "--store", p(&child), "--read-data"], 0);
    child
}
