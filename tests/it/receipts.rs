//! Receipts, the way back across the gap (issue 13, point 3): a child leaves its receipt in
//! its parent's receipts folder, an isolated point sends one across; the store above
//! registers them, exports exactly what a point lacks (`export --for`), and refuses forged,
//! unsigned, older and impostor receipts without changing anything.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn store_id(store: &Path) -> String {
    json(&["status", "--store", p(store), "--json"])["store_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `receipt export` of `store` into `out`, with `extra` options and SOURCE_DATE_EPOCH set to
/// `created` (the receipt's creation time) when given.
fn receipt_export(store: &Path, out: &Path, extra: &[&str], created: Option<i64>) -> Value {
    let mut args = vec![
        "receipt",
        "export",
        "--store",
        p(store),
        "--out",
        p(out),
        "--json",
    ];
    args.extend_from_slice(extra);
    let mut c = offsync();
    c.args(&args);
    if let Some(t) = created {
        c.env("SOURCE_DATE_EPOCH", t.to_string());
    }
    let o = c.output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `receipt import --json` of `files` into `store`: (exit code, report).
fn receipt_import(store: &Path, files: &[&Path]) -> (i32, Value) {
    let mut args = vec!["receipt", "import", "--store", p(store), "--json"];
    args.extend(files.iter().map(|f| p(f)));
    let (code, out, err) = run_any(&args);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, v)
}

fn points(store: &Path) -> Vec<Value> {
    json(&["receipt", "list", "--store", p(store), "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn point(store: &Path, name: &str) -> Value {
    points(store)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no point '{name}' in {:?}", points(store)))
}

/// `export --for POINT` of `store` into a new media folder: its JSON report and bundle.
fn export_for(store: &Path, media: &Path, point: &str) -> (Value, PathBuf) {
    export(store, media, &["--for", point])
}

#[test]
fn a_child_leaves_its_receipt_and_an_isolated_point_sends_one_back() {
    let dir = tempfile::tempdir().unwrap();
    let top = synced_store(dir.path(), "top");
    let child = synced_from(dir.path(), "child", &top, BROAD_CRITERIA);
    let child_id = store_id(&child);
    let left = top.join("receipts").join(format!("{child_id}.json"));
    assert!(
        left.is_file(),
        "the child's receipt is in the parent's folder"
    );
    let r: Value = serde_json::from_slice(&fs::read(&left).unwrap()).unwrap();
    assert_eq!(r["format"], "offsync-receipt");
    assert_eq!(r["store_name"], "child");
    assert_eq!(r["sources"][0]["store_id"], store_id(&top));

    // The parent registers the receipts its children left.
    let (code, v) = receipt_import(&top, &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["accepted"], 1, "{v}");
    let c = point(&top, "child");
    let top_seq = json(&["status", "--store", p(&top), "--json"])["totals"]["change_seq"].clone();
    assert_eq!(c["kind"], "child");
    assert_eq!(c["id"], child_id.as_str());
    assert_eq!(c["acknowledged_change_seq"], top_seq, "{c}");
    assert_eq!(c["changes_behind"], 0, "{c}");
    assert_eq!(c["last_outcome"], "succeeded", "{c}");
    // The same receipt again changes nothing.
    let (_, v) = receipt_import(&top, &[]);
    assert_eq!(v["files"][0]["registered"], "unchanged", "{v}");

    // An isolated point imports a bundle and sends its receipt back across the gap.
    let iso = init_store(dir.path(), "iso");
    let (b, bundle) = export(&top, &dir.path().join("m1"), &[]);
    import_json(&iso, &bundle);
    let carried = dir.path().join("carry").join("iso.json");
    fs::create_dir_all(carried.parent().unwrap()).unwrap();
    receipt_export(&iso, &carried, &[], None);
    let (code, v) = receipt_import(&top, &[&carried]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["files"][0]["registered"], "new", "{v}");
    let i = point(&top, "iso");
    assert_eq!(i["kind"], "disconnected");
    assert_eq!(i["acknowledged_sequence"], b["sequence"]);
    assert_eq!(i["acknowledged_bundle_id"], b["bundle_id"]);
    assert_eq!(i["acknowledged_known"], true);
    assert_eq!(i["bundles_behind"], 0);
    assert_eq!(i["changes_behind"], 0);
    assert!(i["acknowledged_time"].is_string(), "{i}");
    assert_eq!(points(&top).len(), 2);
}

#[test]
fn a_child_that_cannot_write_to_its_parent_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let top = synced_store(dir.path(), "top");
    // A file where the receipts folder would be: the receipt cannot be left (as on a
    // read-only parent), whoever runs the test.
    fs::write(top.join("receipts"), b"not a folder").unwrap();
    let child = init_store(dir.path(), "child");
    let r = sync_json(&child, &top, &[]);
    assert_eq!(r["outcome"], "succeeded", "{r}");
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("no receipt left for the parent store"),
        "{r}"
    );
}

#[test]
fn export_for_brings_a_point_exactly_level() {
    let dir = tempfile::tempdir().unwrap();
    let top = synced_store(dir.path(), "top");
    let iso = init_store(dir.path(), "iso");
    let receipt = dir.path().join("iso.json");

    // Acknowledging nothing: a full bundle.
    receipt_export(&iso, &receipt, &[], None);
    assert_eq!(receipt_import(&top, &[&receipt]).0, 0);
    let (r1, b1) = export_for(&top, &dir.path().join("m1"), "iso");
    assert_eq!(r1["kind"], "full", "{r1}");
    import_json(&iso, &b1);

    // A bundle the point never gets, then more changes: `export --for` builds on what the
    // point acknowledged (sequence 1), not on the last export (2).
    receipt_export(&iso, &receipt, &[], None);
    assert_eq!(receipt_import(&top, &[&receipt]).0, 0);
    run(&["updates", "decline", "--store", p(&top), "KB5034122"], 0);
    let (r2, _) = export(&top, &dir.path().join("m2"), &[]);
    assert_eq!(r2["sequence"], 2);
    assert_eq!(point(&top, "iso")["bundles_behind"], 1);
    run(&["updates", "decline", "--store", p(&top), "KB5034763"], 0);
    assert_eq!(point(&top, "iso")["changes_behind"], 2);
    let (r3, b3) = export_for(&top, &dir.path().join("m3"), &store_id(&iso));
    assert_eq!(r3["kind"], "incremental", "{r3}");
    assert_eq!(r3["sequence"], 3);
    assert_eq!(r3["base_sequence"], 1, "{r3}");
    assert_eq!(r3["changes_from"], r1["changes_to"], "{r3}");
    let imported = import_json(&iso, &b3);
    assert_eq!(imported["outcome"], "imported", "{imported}");

    // Its next receipt acknowledges the head: nothing behind.
    receipt_export(&iso, &receipt, &[], None);
    assert_eq!(receipt_import(&top, &[&receipt]).0, 0);
    let i = point(&top, "iso");
    assert_eq!(i["acknowledged_sequence"], 3, "{i}");
    assert_eq!(i["bundles_behind"], 0, "{i}");
    assert_eq!(i["changes_behind"], 0, "{i}");
    let ids = |s: &Path| -> Vec<Value> {
        let mut v: Vec<Value> = json(&["updates", "list", "--store", p(s), "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["update_id"].clone())
            .collect();
        v.sort_by_key(|x| x.to_string());
        v
    };
    assert_eq!(ids(&iso), ids(&top), "the point holds what the top holds");

    // Level and unchanged: nothing to write.
    let m4 = dir.path().join("m4");
    fs::create_dir_all(&m4).unwrap();
    let r4 = json(&[
        "export",
        "--store",
        p(&top),
        "--out",
        p(&m4),
        "--for",
        "iso",
        "--json",
    ]);
    assert_eq!(r4["outcome"], "nothing-changed", "{r4}");

    // The point starts its chain of the top again: it acknowledges nothing the top has, so
    // the next bundle for it is a full one, which it takes.
    run(
        &[
            "chain",
            "reset",
            "--store",
            p(&iso),
            "--source",
            &store_id(&top),
        ],
        0,
    );
    receipt_export(&iso, &receipt, &[], None);
    assert_eq!(receipt_import(&top, &[&receipt]).0, 0);
    let i = point(&top, "iso");
    assert_eq!(i["acknowledged_sequence"], Value::Null, "{i}");
    assert_eq!(i["bundles_behind"], 3, "{i}");
    let (r5, b5) = export_for(&top, &dir.path().join("m5"), "iso");
    assert_eq!(r5["kind"], "full", "{r5}");
    assert_eq!(import_json(&iso, &b5)["outcome"], "imported");

    // An unknown point is a usage error.
    let (code, _, err) = run_any(&[
        "export",
        "--store",
        p(&top),
        "--out",
        p(&m4),
        "--for",
        "nobody",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no downstream point 'nobody'"), "{err}");
}

/// Imports `file` into `store` and expects a refusal with `code`, the store unchanged.
fn refused(store: &Path, file: &Path, code: i32, says: &str) {
    let before = fingerprint(store);
    let (got, v) = receipt_import(store, &[file]);
    assert_eq!(got, code, "{v}");
    assert_eq!(v["files"][0]["result"], "refused", "{v}");
    let msg = v["files"][0]["error"]["message"].as_str().unwrap();
    assert!(msg.contains(says), "{msg}");
    assert_eq!(
        fingerprint(store),
        before,
        "a refused receipt changes nothing"
    );
}

#[test]
fn forged_unsigned_older_and_impostor_receipts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let top = synced_store(dir.path(), "top");
    let (key, public) = keypair(dir.path(), "site");
    let (other_key, _) = keypair(dir.path(), "other");
    run(&["trust", "add", "--store", p(&top), p(&public)], 0);
    let iso = init_store(dir.path(), "iso");
    let signed = ["--sign", p(&key)];

    // Unsigned, while the store trusts a key: 12.
    let unsigned = dir.path().join("unsigned.json");
    receipt_export(&iso, &unsigned, &[], None);
    refused(&top, &unsigned, 12, "not signed");

    // Signed by a key the store does not trust: 12.
    let foreign = dir.path().join("foreign.json");
    receipt_export(&iso, &foreign, &["--sign", p(&other_key)], None);
    refused(&top, &foreign, 12, "signature does not check out");

    // Tampered after signing: 12.
    let tampered = dir.path().join("tampered.json");
    receipt_export(&iso, &tampered, &signed, None);
    let text = fs::read_to_string(&tampered).unwrap();
    let forged = text.replacen("\"change_seq\": 0", "\"change_seq\": 99", 1);
    assert_ne!(text, forged);
    fs::write(&tampered, forged).unwrap();
    refused(&top, &tampered, 12, "signature does not check out");

    // Malformed (10) and oversized (16), refused before anything else.
    let junk = dir.path().join("junk.json");
    fs::write(&junk, b"{\"format\": \"offsync-receipt\"").unwrap();
    refused(&top, &junk, 10, "malformed receipt");
    let huge = dir.path().join("huge.json");
    fs::write(&huge, vec![b' '; 1024 * 1024 + 1]).unwrap();
    refused(&top, &huge, 16, "more than the limit");

    // Two bundles imported, a signed receipt after each (the same second: the later one is
    // newer by what it acknowledges; in the past, as one more than a day ahead is refused).
    let b1 = export(&top, &dir.path().join("m1"), &[]).1;
    import_json(&iso, &b1);
    let first = dir.path().join("first.json");
    receipt_export(&iso, &first, &signed, Some(1_700_000_000));
    run(&["updates", "decline", "--store", p(&top), "KB5034122"], 0);
    let b2 = export(&top, &dir.path().join("m2"), &[]).1;
    import_json(&iso, &b2);
    let second = dir.path().join("second.json");
    receipt_export(&iso, &second, &signed, Some(1_700_000_000));
    let later = dir.path().join("later.json");
    receipt_export(&iso, &later, &signed, Some(1_700_000_100));

    // Several files, each judged alone: the good one is taken, the bad one named.
    let (code, v) = receipt_import(&top, &[&second, &unsigned]);
    assert_eq!(code, 12, "{v}");
    assert_eq!(v["accepted"], 1, "{v}");
    assert_eq!(v["refused"], 1, "{v}");
    assert_eq!(v["files"][0]["result"], "accepted");
    assert_eq!(v["files"][0]["signed_by"].as_str().map(str::len), Some(16));
    assert_eq!(point(&top, "iso")["acknowledged_sequence"], 2);

    // Older: acknowledging less than the registered one, though written at the same time
    // (13); then, once a later one is registered, written before it (13).
    refused(&top, &first, 13, "acknowledges bundle sequence 1");
    assert_eq!(receipt_import(&top, &[&later]).0, 0);
    refused(&top, &second, 13, "written at");

    // An unknown store claiming a registered name: 12.
    let impostor = init_store(&dir.path().join("elsewhere"), "iso");
    let claim = dir.path().join("claim.json");
    receipt_export(&impostor, &claim, &signed, None);
    refused(&top, &claim, 12, "claims the name 'iso'");
}

/// A bare file name for `--out` (or `--html`) is a file in the current folder: writing it must
/// not fail on flushing its folder (the parent of `r.json` is the empty path).
#[test]
fn a_file_name_without_a_folder_is_written_in_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    for args in [
        vec!["receipt", "export", "--store", p(&s), "--out", "r.json"],
        vec!["status", "--store", p(&s), "--html", "page.html"],
    ] {
        let out = offsync()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("r.json").is_file());
    assert!(dir.path().join("page.html").is_file());
}

/// `content` of `status --json`: (present, missing).
fn content_of(store: &Path) -> (u64, u64) {
    let st = json(&["status", "--store", p(store), "--json"]);
    (
        st["content"]["present"].as_u64().unwrap(),
        st["content"]["missing"].as_u64().unwrap(),
    )
}

/// A catch-up bundle made `--for` one point stays out of the shared chain: the next plain
/// export still builds on the last plain one, so another point that follows the plain chain
/// takes it (and the content added meanwhile), and the caught-up point takes it too.
#[test]
fn a_bundle_for_one_point_does_not_break_the_chain_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    // hq without its payloads yet.
    let hq = synced_from(dir.path(), "hq", &upstream_fixtures(), BROAD_CRITERIA);
    let (a, b) = (
        init_store(dir.path(), "site-a"),
        init_store(dir.path(), "site-b"),
    );
    let churn = || {
        run(&["updates", "decline", "--store", p(&hq), "KB5034122"], 0);
        run(&["updates", "undecline", "--store", p(&hq), "KB5034122"], 0);
    };
    // 1 to both; 2 (plain) to site-b only.
    let (_, b1) = export(&hq, &dir.path().join("m1"), &[]);
    import_json(&a, &b1);
    import_json(&b, &b1);
    churn();
    let (_, b2) = export(&hq, &dir.path().join("m2"), &[]);
    import_json(&b, &b2);
    // site-a says it holds 1; payloads arrive at hq; hq catches site-a up with bundle 3.
    let ra = dir.path().join("a.json");
    receipt_export(&a, &ra, &[], None);
    assert_eq!(receipt_import(&hq, &[&ra]).0, 0);
    run(
        &[
            "content",
            "import",
            "--store",
            p(&hq),
            p(&content_fixtures()),
        ],
        0,
    );
    let (r3, b3) = export_for(&hq, &dir.path().join("m3"), "site-a");
    assert_eq!(
        (r3["sequence"].as_u64(), r3["base_sequence"].as_u64()),
        (Some(3), Some(1)),
        "{r3}"
    );
    assert!(r3["content_files"].as_u64().unwrap() > 0, "{r3}");
    import_json(&a, &b3);
    // site-b is not behind because of site-a's own bundle.
    let rb = dir.path().join("b.json");
    receipt_export(&b, &rb, &[], None);
    assert_eq!(receipt_import(&hq, &[&rb]).0, 0);
    assert_eq!(point(&hq, "site-b")["bundles_behind"], 0);

    // The next plain bundle builds on 2, the last plain one, and carries the payloads that
    // went to site-a only.
    churn();
    let (r4, b4) = export(&hq, &dir.path().join("m4"), &[]);
    assert_eq!(
        (r4["sequence"].as_u64(), r4["base_sequence"].as_u64()),
        (Some(4), Some(2)),
        "{r4}"
    );
    assert_eq!(r4["content_files"], r3["content_files"], "{r4}");
    let ib = import_json(&b, &b4);
    assert_eq!(ib["outcome"], "imported", "{ib}");
    // site-a, at 3, takes 4 as well (its base 2 is before 3).
    let ia = import_json(&a, &b4);
    assert_eq!(ia["outcome"], "imported", "{ia}");
    assert_eq!(content_of(&a), content_of(&hq));
    assert_eq!(content_of(&b), content_of(&hq));
}
