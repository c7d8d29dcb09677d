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
