//! Issue 12: the store keeps the upstream's own `upd:Update` document of every update and
//! category it stores, byte for byte (BOMs, UTF-16, line ends), so that publishing can hand a
//! WSUS server the documents the upstream gave; a child that syncs from a parent store gets
//! them too.

use crate::common::*;
use offsync::store::Store;
use offsync::upstream::upd_xml::{Document, parse_document};
use std::fs;

/// (id, revision, bytes) of every fixture document.
fn fixture_documents() -> Vec<(String, u32, Vec<u8>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(upstream_fixtures()).unwrap() {
        let path = e.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        let (id, rev) = match parse_document(&bytes).unwrap() {
            Document::Category(c) => (c.id.to_string(), c.revision),
            Document::Update(u) => (u.id.to_string(), u.revision),
        };
        out.push((id, rev, bytes));
    }
    out
}

/// How many of the fixture documents `store` gives back byte for byte; panics on one that
/// comes back different.
fn kept_exactly(store: &std::path::Path) -> usize {
    let s = Store::open(store).unwrap();
    let mut kept = 0;
    for (id, rev, bytes) in fixture_documents() {
        if let Some(doc) = s.document(&id, rev).unwrap() {
            assert!(doc == bytes, "the document of {id} revision {rev} changed");
            kept += 1;
        }
        // Another revision is never handed out.
        assert_eq!(s.document(&id, rev + 1).unwrap(), None);
    }
    kept
}

#[test]
fn a_synced_store_keeps_each_upstream_document_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let parent = synced_store(dir.path(), "parent");
    let st = json(&["status", "--store", p(&parent), "--json"]);
    let kept = kept_exactly(&parent);
    // Every category and every stored update of the fixtures (UTF-8 with and without BOM,
    // UTF-16LE with and without BOM among them).
    let categories = fixture_documents()
        .iter()
        .filter(|(_, _, b)| matches!(parse_document(b).unwrap(), Document::Category(_)))
        .count();
    assert!(kept > categories, "kept {kept}, {categories} categories");
    assert_eq!(
        Store::open(&parent).unwrap().document_count().unwrap() as usize,
        kept,
        "{st}"
    );

    // A child synced from the parent store keeps the same documents.
    let child = synced_from(dir.path(), "child", &parent, BROAD_CRITERIA);
    assert_eq!(kept_exactly(&child), kept);

    // A bundle carries them across the gap: the isolated store keeps the same bytes.
    let (_, bundle) = export(&parent, &dir.path().join("media"), &[]);
    let isolated = init_store(dir.path(), "isolated");
    import_json(&isolated, &bundle);
    assert_eq!(kept_exactly(&isolated), kept);
    // And a bundle from the isolated store (a further hop) still carries them.
    let (_, again) = export(&isolated, &dir.path().join("media2"), &[]);
    let further = init_store(dir.path(), "further");
    import_json(&further, &again);
    assert_eq!(kept_exactly(&further), kept);
}

/// The fixture detectoid ("Windows 11 23H2 x64 is installed") that the Windows 11 bundle
/// names as a plain prerequisite.
const DETECTOID: &str = "e603851b-317c-4304-8805-2ce1f4e47f0f";

/// The ids `updates list` shows.
fn listed(store: &std::path::Path) -> Vec<String> {
    let rows = json(&["updates", "list", "--store", p(store), "--json"]);
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["update_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_detectoid_comes_with_the_updates_that_need_it_and_only_with_them() {
    let dir = tempfile::tempdir().unwrap();
    let up = upstream_fixtures();
    // Windows 10 only: nothing selected needs the detectoid.
    let win10 = synced_from(
        dir.path(),
        "win10",
        &up,
        &[
            "--product",
            "Windows 10",
            "--classification",
            "Security Updates",
        ],
    );
    assert!(!listed(&win10).contains(&DETECTOID.to_string()));
    // Windows 11: the bundle brings its detectoid and the detectoid's document.
    let win11 = synced_from(
        dir.path(),
        "win11",
        &up,
        &[
            "--product",
            "Windows 11",
            "--classification",
            "Security Updates",
        ],
    );
    assert!(listed(&win11).contains(&DETECTOID.to_string()));
    let s = Store::open(&win11).unwrap();
    assert!(s.document(DETECTOID, 101).unwrap().is_some());
    drop(s);
    // A child of that store with the same criteria gets it through the parent's documents.
    let child = synced_from(
        dir.path(),
        "child",
        &win11,
        &[
            "--product",
            "Windows 11",
            "--classification",
            "Security Updates",
        ],
    );
    assert!(listed(&child).contains(&DETECTOID.to_string()));
    assert_eq!(listed(&child).len(), listed(&win11).len());
}

/// A document that arrives for a revision the store already holds (first synced from the
/// offline catalog, which has none, then from documents) crosses in the next incremental
/// bundle, without the update's content again, and the isolated store keeps it.
#[test]
fn a_document_that_came_later_crosses_in_the_next_incremental_bundle() {
    const LCU: &str = "5f82e7d6-8f63-4f0a-817f-72d40c32c46a";
    let dir = tempfile::tempdir().unwrap();
    let hq = synced_store(dir.path(), "hq");
    {
        let c = rusqlite::Connection::open(hq.join("offsync.db")).unwrap();
        c.execute("DELETE FROM documents WHERE id = ?1", [LCU])
            .unwrap();
        // The folder is read again in full next time.
        c.execute("UPDATE updates SET fingerprint = NULL", [])
            .unwrap();
    }
    let (_, first) = export(&hq, &dir.path().join("m1"), &[]);
    let iso = init_store(dir.path(), "iso");
    import_json(&iso, &first);
    assert!(
        Store::open(&iso)
            .unwrap()
            .document(LCU, 200)
            .unwrap()
            .is_none()
    );

    // The same revision again, now with its document.
    run(
        &["sync", "--store", p(&hq), "--from", p(&upstream_fixtures())],
        0,
    );
    let (r, second) = export(&hq, &dir.path().join("m2"), &[]);
    assert_eq!(r["kind"], "incremental", "{r}");
    assert_eq!(r["updates"], 1, "only the update whose document came: {r}");
    assert_eq!(r["content_files"], 0, "its content crossed before: {r}");
    let i = import_json(&iso, &second);
    assert_eq!(i["unchanged"], 1, "{i}");
    let kept = Store::open(&iso).unwrap().document(LCU, 200).unwrap();
    let hq_doc = Store::open(&hq).unwrap().document(LCU, 200).unwrap();
    assert!(kept.is_some() && kept == hq_doc);
}
