//! `offsync catalog import`: single updates outside the criteria, by document file, UpdateID
//! or KB number, with their bundled children, categories and checked payloads; kept by later
//! syncs and carried by exports (issue 13, point 4).

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The Windows 11 bundle (KB5034765) of the fixtures and its two children.
const BUNDLE: &str = "4a6dff80-2d3b-4448-9355-3850db95cf32";
const LCU: &str = "5f82e7d6-8f63-4f0a-817f-72d40c32c46a";
const SSU: &str = "b2e9d8c4-517d-4a80-808e-4f3f12079f01";
/// The detectoid the bundle names as a prerequisite: it comes with the bundle.
const DETECTOID: &str = "e603851b-317c-4304-8805-2ce1f4e47f0f";
/// A Windows 10 update (KB5034122) of the fixtures.
const WIN10_JAN: &str = "1d956cd9-8a3f-44d7-8ccb-031ebc0ba36b";
const WIN11_PRODUCT: &str = "72e7624a-5b00-45d2-b92f-e561c0a6a160";
const LCU_PAYLOAD: &str = "windows11.0-kb5034765-x64_86343e77d1ed7165a16263b602549197ab9f94a8.cab";

/// Criteria that leave the Windows 11 bundle out.
const WIN10_ONLY: &[&str] = &[
    "--product",
    "Windows 10",
    "--classification",
    "Security Updates",
];

fn catalog_import(store: &Path, items: &[&str], extra: &[&str]) -> Value {
    let mut args = vec!["catalog", "import", "--store", p(store), "--json"];
    args.extend_from_slice(items);
    args.extend_from_slice(extra);
    json(&args)
}

fn catalog_ids(store: &Path) -> Vec<String> {
    let v = json(&[
        "updates",
        "list",
        "--store",
        p(store),
        "--source",
        "catalog",
        "--json",
    ]);
    let mut ids: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn update(store: &Path, id: &str) -> Option<Value> {
    let v = json(&["updates", "list", "--store", p(store), "--json"]);
    v.as_array()
        .unwrap()
        .iter()
        .find(|u| u["update_id"] == id)
        .cloned()
}

fn sorted(mut v: Vec<&str>) -> Vec<String> {
    v.sort();
    v.into_iter().map(String::from).collect()
}

/// How many upstream documents the store keeps for `id`.
fn documents_of(store: &Path, id: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        store.join("offsync.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row("SELECT count(*) FROM documents WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .unwrap()
}

/// A copy of the fixture upstream that a test may change.
fn upstream_copy(dir: &Path) -> PathBuf {
    let up = dir.join("upstream");
    copy_tree(&upstream_fixtures(), &up);
    up
}

#[test]
fn by_kb_from_a_folder_with_children_categories_and_a_good_payload() {
    let dir = tempfile::tempdir().unwrap();
    // A store that has nothing yet: the categories come with the update.
    let s = init_store(dir.path(), "s");
    let payload = content_fixtures().join(LCU_PAYLOAD);
    let r = catalog_import(
        &s,
        &["KB5034765"],
        &["--from", p(&upstream_fixtures()), "--file", p(&payload)],
    );
    let ups = r["updates"].as_array().unwrap();
    let ids: Vec<&str> = ups
        .iter()
        .map(|u| u["update_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sorted(ids),
        sorted(vec![BUNDLE, LCU, SSU, DETECTOID]),
        "{r:#}"
    );
    assert!(ups.iter().all(|u| u["change"] == "new"), "{r:#}");
    // The KB is on all three: each was asked for; the detectoid came with them.
    assert!(
        ups.iter()
            .all(|u| u["requested"] == (u["update_id"] != DETECTOID)),
        "{r:#}"
    );
    assert!(
        r["categories"].as_u64().unwrap() >= 4,
        "product, family, company, classification: {r:#}"
    );
    assert_eq!(r["documents"], 4);
    assert_eq!(
        r["unknown_categories"].as_array().unwrap().len(),
        0,
        "{r:#}"
    );
    for id in [BUNDLE, LCU, SSU] {
        assert_eq!(
            documents_of(&s, id),
            1,
            "the upstream document of {id} is kept"
        );
    }
    let cats = json(&["categories", "list", "--store", p(&s), "--json"]);
    assert!(
        cats.to_string().contains(WIN11_PRODUCT),
        "the Windows 11 product came with it: {cats}"
    );
    // The payload is in, byte for byte, under its SHA-256.
    let bytes = fs::read(&payload).unwrap();
    let f = &r["files"][0];
    assert_eq!(f["sha256"], sha_hex(&bytes));
    assert_eq!(f["update_id"], LCU);
    assert_eq!(f["added"], true);
    assert_eq!(fs::read(stored_path(&s, &sha_hex(&bytes))).unwrap(), bytes);
    assert_eq!(catalog_ids(&s), sorted(vec![BUNDLE, LCU, SSU, DETECTOID]));
    // The others are not catalog imports.
    let others = json(&[
        "updates",
        "list",
        "--store",
        p(&s),
        "--source",
        "other",
        "--json",
    ]);
    assert_eq!(others.as_array().unwrap().len(), 0);
}

#[test]
fn by_guid_brings_the_bundled_children_and_uses_the_store_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_from(dir.path(), "s", &upstream_fixtures(), WIN10_ONLY);
    assert!(
        update(&s, BUNDLE).is_none(),
        "the criteria leave the bundle out"
    );
    run(
        &["upstream", "set", "--store", p(&s), p(&upstream_fixtures())],
        0,
    );
    let r = catalog_import(&s, &[BUNDLE], &[]);
    let requested = |id: &str| {
        r["updates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["update_id"] == id)
            .map(|u| u["requested"].clone())
    };
    assert_eq!(requested(BUNDLE), Some(Value::Bool(true)), "{r:#}");
    assert_eq!(
        requested(LCU),
        Some(Value::Bool(false)),
        "a bundled child: {r:#}"
    );
    assert_eq!(
        requested(SSU),
        Some(Value::Bool(false)),
        "a bundled child: {r:#}"
    );
    // And the detectoid the bundle names as a prerequisite, as a sync would bring it.
    assert_eq!(
        requested(DETECTOID),
        Some(Value::Bool(false)),
        "a needed detectoid: {r:#}"
    );
    assert_eq!(catalog_ids(&s), sorted(vec![BUNDLE, LCU, SSU, DETECTOID]));
    // The synced ones are not marked.
    assert!(!catalog_ids(&s).contains(&WIN10_JAN.to_string()));
    // Again: nothing changes.
    let again = catalog_import(&s, &[BUNDLE], &[]);
    assert!(
        again["updates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["change"] == "unchanged"),
        "{again:#}"
    );
}

#[test]
fn by_document_file_with_its_payload_and_unknown_categories_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let payload = dir.path().join("hotfix.msu");
    let bytes = b"a payload downloaded from the catalog".repeat(50);
    fs::write(&payload, &bytes).unwrap();
    let d = offsync::hash::hash_reader(&mut &bytes[..]).unwrap();
    let id = "aaaaaaaa-1111-2222-3333-444444444444";
    let doc = dir.path().join("hotfix.xml");
    fs::write(
        &doc,
        update_with_file_xml(
            id,
            5099001,
            "A hotfix",
            "hotfix.msu",
            &d.sha1,
            &d.sha256,
            d.size,
        ),
    )
    .unwrap();
    // No source at all: the categories it cites are reported, not a failure.
    let r = catalog_import(&s, &[p(&doc)], &["--file", p(&payload)]);
    assert_eq!(r["updates"][0]["update_id"], id);
    assert_eq!(r["updates"][0]["kb"], "5099001");
    let unknown: Vec<&str> = r["unknown_categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        sorted(unknown),
        sorted(vec![
            "0fa1201d-4330-4fa8-8ae9-b877473b6441",
            "a3c2375d-0c8a-42f9-bce0-28333e198407"
        ])
    );
    assert!(!r["warnings"].as_array().unwrap().is_empty());
    assert_eq!(
        documents_of(&s, id),
        1,
        "the document file is kept as the upstream document"
    );
    assert_eq!(
        fs::read(stored_path(&s, &hex::encode(d.sha256))).unwrap(),
        bytes
    );
    assert_eq!(catalog_ids(&s), vec![id.to_string()]);
    // An update whose category the source defines nowhere (the fixtures' Defender update).
    let r = catalog_import(&s, &["KB2267602"], &["--from", p(&upstream_fixtures())]);
    assert!(
        r["unknown_categories"]
            .to_string()
            .contains("8c3fcc84-7410-4a95-8b89-a166a0190486"),
        "{r:#}"
    );
}

#[test]
fn a_tampered_or_foreign_payload_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_from(dir.path(), "s", &upstream_fixtures(), WIN10_ONLY);
    let good = content_fixtures().join(LCU_PAYLOAD);
    let mut bytes = fs::read(&good).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = dir.path().join(LCU_PAYLOAD);
    fs::write(&tampered, &bytes).unwrap();
    let longer = dir.path().join("longer.cab");
    let mut more = fs::read(&good).unwrap();
    more.push(0);
    fs::write(&longer, &more).unwrap();
    let before = fingerprint(&s);
    let up = upstream_fixtures();
    for bad in [
        &tampered,
        &longer,
        &content_fixtures().join("unrelated-driver.cab"),
    ] {
        // With a good payload beside it: the good one is not kept either.
        let (code, _, err) = run_any(&[
            "catalog",
            "import",
            "--store",
            p(&s),
            "KB5034765",
            "--from",
            p(&up),
            "--file",
            p(&good),
            "--file",
            p(bad),
        ]);
        assert_eq!(code, 10, "a mismatch is exit 10 (corrupt): {err}");
        assert!(
            err.contains("matches no file") && err.contains("nothing was imported"),
            "{err}"
        );
        assert_eq!(
            fingerprint(&s),
            before,
            "nothing stored for {}",
            bad.display()
        );
    }
    assert!(update(&s, BUNDLE).is_none());
    assert!(
        fs::read_dir(s.join("staging")).map_or(true, |mut d| d.next().is_none()),
        "no staged file is left behind"
    );
}

#[test]
fn an_unknown_kb_guid_or_item_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let up = upstream_fixtures();
    let before = fingerprint(&s);
    let (code, _, err) = run_any(&[
        "catalog",
        "import",
        "--store",
        p(&s),
        "KB9999999",
        "--from",
        p(&up),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no update with KB9999999 in folder"), "{err}");
    let (code, _, err) = run_any(&[
        "catalog",
        "import",
        "--store",
        p(&s),
        "99999999-9999-9999-9999-999999999999",
        "--from",
        p(&up),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no update 99999999-9999-9999-9999-999999999999 in"),
        "{err}"
    );
    let (code, _, err) = run_any(&["catalog", "import", "--store", p(&s), "no-such-thing"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("neither an update document file"), "{err}");
    // A KB with no source to look it up in.
    let (code, _, err) = run_any(&["catalog", "import", "--store", p(&s), "KB5034765"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--from"), "{err}");
    assert_eq!(fingerprint(&s), before);
}

#[test]
fn an_excluded_import_stays_through_syncs_and_takes_a_higher_revision() {
    let dir = tempfile::tempdir().unwrap();
    let up = upstream_copy(dir.path());
    let s = synced_from(dir.path(), "s", &up, WIN10_ONLY);
    catalog_import(&s, &["KB5034765"], &["--from", p(&up)]);
    let r = sync_json(&s, &up, &[]);
    assert_eq!(r["new"], 0, "{r:#}");
    assert_eq!(update(&s, BUNDLE).unwrap()["state"], "published");
    // The upstream no longer lists the bundle: a synced update would become a tombstone, an
    // imported one stays.
    let b0 = up.join("update-b0-win11-bundle-kb5034765.xml");
    let text = fs::read_to_string(&b0).unwrap();
    fs::remove_file(&b0).unwrap();
    let r = sync_json(&s, &up, &[]);
    assert_eq!(r["removed"], 0, "{r:#}");
    assert_eq!(update(&s, BUNDLE).unwrap()["state"], "published");
    // Back with a higher revision: it replaces the stored one although the criteria do not
    // select it.
    let newer = text.replace(
        &format!(r#"UpdateID="{BUNDLE}" RevisionNumber="200""#),
        &format!(r#"UpdateID="{BUNDLE}" RevisionNumber="201""#),
    );
    assert_ne!(newer, text);
    fs::write(&b0, newer).unwrap();
    let r = sync_json(&s, &up, &[]);
    assert_eq!(r["updated"], 1, "{r:#}");
    let u = update(&s, BUNDLE).unwrap();
    assert_eq!(
        (u["revision"].as_u64(), u["state"].as_str()),
        (Some(201), Some("published"))
    );
    assert_eq!(
        catalog_ids(&s),
        sorted(vec![BUNDLE, LCU, SSU, DETECTOID]),
        "still marked"
    );
    // A synced update absent from the upstream is still removed as before.
    fs::remove_file(up.join("update-a1-win10-2024-01-kb5034122.xml")).unwrap();
    let r = sync_json(&s, &up, &[]);
    assert_eq!(r["removed"], 1, "{r:#}");
    assert_eq!(update(&s, WIN10_JAN).unwrap()["state"], "removed");
}

#[test]
fn from_a_parent_store_and_carried_by_an_export() {
    let dir = tempfile::tempdir().unwrap();
    // A parent store that has the bundle (broad criteria), a child whose criteria leave it out.
    let parent = synced_store(dir.path(), "parent");
    let s = synced_from(dir.path(), "s", &upstream_fixtures(), WIN10_ONLY);
    let r = catalog_import(&s, &[BUNDLE], &["--from", p(&parent)]);
    // The bundle, its children and its detectoid (the parent keeps the documents that name it).
    assert_eq!(r["updates"].as_array().unwrap().len(), 4, "{r:#}");
    assert!(r["source"].as_str().unwrap().contains("store"), "{r:#}");
    // Exported and imported on the isolated side like any other update.
    let (_, bundle) = export(&s, &dir.path().join("media"), &[]);
    let iso = init_store(dir.path(), "iso");
    import_json(&iso, &bundle);
    for id in [BUNDLE, LCU, SSU] {
        assert_eq!(update(&iso, id).unwrap()["state"], "published", "{id}");
    }
    // The mark stays on the connected side (docs/CATALOG-IMPORT.md).
    assert!(catalog_ids(&iso).is_empty());
}

#[test]
fn from_an_offline_catalog_with_a_child_that_names_its_bundle() {
    // The test catalog of tests/it/wsusscn2.rs: the February update bundles a child that
    // names it (BundledBy) and carries the payload b"payload".
    const FEB: &str = "e407d852-ae7d-4e0c-bb94-1180bc5b90e7";
    const FEB_CHILD: &str = "5f82e7d6-8f63-4f0a-817f-72d40c32c46a";
    const WIN11_CRIT: &str = "05a7711a-079e-4fbb-8d1a-9015c92a2ae0";
    let dir = tempfile::tempdir().unwrap();
    let cab = dir.path().join("wsusscn2.cab");
    fs::write(&cab, crate::wsusscn2::test_catalog()).unwrap();
    let payload = dir.path().join("windows10.0-kb5034763-x64.msu");
    fs::write(&payload, b"payload").unwrap();
    let s = init_store(dir.path(), "s");
    let r = catalog_import(&s, &[FEB], &["--from", p(&cab), "--file", p(&payload)]);
    let ids: Vec<&str> = r["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["update_id"].as_str().unwrap())
        .collect();
    assert_eq!(sorted(ids), sorted(vec![FEB, FEB_CHILD]), "{r:#}");
    assert_eq!(r["files"][0]["update_id"], FEB_CHILD);
    assert_eq!(
        fs::read(stored_path(&s, &sha_hex(b"payload"))).unwrap(),
        b"payload"
    );
    let r = catalog_import(&s, &["KB5035845"], &["--from", p(&cab)]);
    assert_eq!(r["updates"][0]["update_id"], WIN11_CRIT, "{r:#}");
    assert!(
        r["categories"].as_u64().unwrap() >= 2,
        "Windows 11, Critical Updates: {r:#}"
    );
    assert_eq!(catalog_ids(&s), sorted(vec![FEB, FEB_CHILD, WIN11_CRIT]));
}
