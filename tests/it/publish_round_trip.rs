//! Issue 12 point 4, the proof: a WSUS package published from a store syncs a new store with
//! the same updates, revisions, categories, relations and file digests, and with each
//! document byte for byte as the first store took it from its upstream.

use crate::common::*;
use crate::publish_wsus::expected_text;
use offsync::store::Store;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Every update of `store` as `updates show` gives it, by id, without what is local to a
/// store (change numbers, whether a payload is present).
fn updates(store: &Path) -> BTreeMap<String, Value> {
    let list = json(&["updates", "list", "--store", p(store), "--json"]);
    let mut out = BTreeMap::new();
    for u in list.as_array().unwrap() {
        let id = u["update_id"].as_str().unwrap();
        let mut shown = json(&["updates", "show", "--store", p(store), id, "--json"]);
        shown.as_object_mut().unwrap().remove("changed_seq");
        // Whether this store holds the payload: the package carries metadata only.
        for f in shown["files"].as_array_mut().unwrap() {
            f.as_object_mut().unwrap().remove("present");
        }
        out.insert(id.to_string(), shown);
    }
    out
}

fn categories(store: &Path) -> Value {
    json(&["categories", "list", "--store", p(store), "--json"])
}

#[test]
fn a_published_package_syncs_a_store_with_the_same_updates_and_documents() {
    let dir = tempfile::tempdir().unwrap();
    let first = synced_store(dir.path(), "first");
    let out = dir.path().join("wsus");
    std::fs::create_dir_all(&out).unwrap();
    let r = publish_json("wsus", &first, &out, &["--full"]);
    let packages = r["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1, "{r}");
    let cab = out.join(packages[0]["name"].as_str().unwrap());

    let second = synced_from(dir.path(), "second", &cab, BROAD_CRITERIA);
    let (a, b) = (updates(&first), updates(&second));
    assert!(!a.is_empty());
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same updates"
    );
    for (id, ua) in &a {
        // Revisions, titles, categories, supersedence, bundles and file digests alike.
        assert_eq!(ua, &b[id], "update {id}");
    }
    assert_eq!(categories(&first), categories(&second));

    // Each document the second store holds is the first store's, byte for byte.
    let (sa, sb) = (Store::open(&first).unwrap(), Store::open(&second).unwrap());
    let mut compared = 0;
    for u in a.values() {
        let (id, rev) = (
            u["update_id"].as_str().unwrap(),
            u["revision"].as_u64().unwrap() as u32,
        );
        let original = sa
            .document(id, rev)
            .unwrap()
            .expect("the first store has it");
        let published = sb
            .document(id, rev)
            .unwrap()
            .expect("the package carried it");
        compared += 1;
        // The record format is UTF-8 text without a declaration: a UTF-8 document without
        // one (as WSUS holds them) comes back byte for byte, others as that conversion of it.
        assert_eq!(
            String::from_utf8(published.clone()).unwrap(),
            expected_text(&original),
            "document of {id}"
        );
        if !original.starts_with(b"\xEF\xBB\xBF")
            && !original.starts_with(b"<?xml")
            && !original.contains(&0)
            && std::str::from_utf8(&original).is_ok()
        {
            assert_eq!(published, original, "document of {id}");
        }
    }
    assert_eq!(compared, a.len());
}
