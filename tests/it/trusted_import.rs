//! Signed bundles on a store that trusts keys: HOSTILE-INPUTS cases 14 and 15, and the guard
//! station's `verify --pubkey`.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

/// What someone who can write to the media can do without the secret key: change what the
/// manifest says and recompute SHA256SUMS. (Changing content means changing the digests the
/// manifest lists, so it always comes down to a changed manifest.) Checksums agree again; the
/// signature does not.
fn rewrite_manifest_and_checksums(bundle: &Path) {
    edit_manifest(bundle, |m| {
        m["criteria"]["languages"] = Value::from(vec!["xx"])
    });
}

#[test]
fn a_store_that_trusts_a_key_takes_only_bundles_signed_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ours_key, ours_pub) = keypair(dir.path(), "ours");
    let (other_key, other_pub) = keypair(dir.path(), "other");
    let a = synced_store(dir.path(), "connected");
    let (_, unsigned) = export(&a, &dir.path().join("m1"), &[]);
    let (_, signed) = export(
        &a,
        &dir.path().join("m2"),
        &["--full", "--sign", p(&ours_key)],
    );
    assert!(signed.join("manifest.json.minisig").is_file());
    let (_, by_other) = export(
        &a,
        &dir.path().join("m3"),
        &["--full", "--sign", p(&other_key)],
    );

    // The guard station.
    run(&["verify", p(&signed), "--pubkey", p(&ours_pub)], 0);
    let (code, out, _) = run_any(&["verify", p(&signed), "--pubkey", p(&other_pub)]);
    assert_eq!(code, 12, "{out}");
    let (code, _, _) = run_any(&["verify", p(&unsigned), "--pubkey", p(&ours_pub)]);
    assert_eq!(code, 12);

    let iso = init_store(dir.path(), "iso");
    run(&["trust", "add", "--store", p(&iso), p(&ours_pub)], 0);
    let before = fingerprint(&iso);
    for (what, b) in [
        ("unsigned", &unsigned),
        ("signed by another key", &by_other),
    ] {
        let (code, _, err) = run_any(&["import", "--store", p(&iso), p(b)]);
        assert_eq!(code, 12, "{what}: {err}");
        assert_eq!(before, fingerprint(&iso), "{what}");
    }
    // Case 14: the manifest changed and every checksum recomputed: verify alone passes, the
    // signature does not.
    let tampered = dir.path().join("tampered");
    copy_tree(&signed, &tampered);
    rewrite_manifest_and_checksums(&tampered);
    run(&["verify", p(&tampered)], 0);
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&tampered)]);
    assert_eq!(code, 12, "{err}");
    assert_eq!(before, fingerprint(&iso));

    let r = json(&["import", "--store", p(&iso), p(&signed), "--json"]);
    assert_eq!(r["outcome"], "imported");
    assert_eq!(r["signature_checked"], true);
    assert!(r["signed_by"].is_string());

    // Case 15: a key removed from the store no longer counts.
    let (_, b4) = export(
        &a,
        &dir.path().join("m4"),
        &["--sign", p(&ours_key), "--allow-empty"],
    );
    run(&["trust", "remove", "--store", p(&iso), p(&ours_pub)], 0);
    run(&["trust", "add", "--store", p(&iso), p(&other_pub)], 0);
    let before = fingerprint(&iso);
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&b4)]);
    assert_eq!(code, 12, "{err}");
    assert_eq!(before, fingerprint(&iso));
}

#[test]
fn a_store_that_trusts_no_key_says_nothing_was_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = keypair(dir.path(), "k");
    let a = synced_store(dir.path(), "connected");
    let (_, signed) = export(&a, &dir.path().join("m"), &["--sign", p(&k)]);
    let iso = init_store(dir.path(), "iso");
    let r = json(&["import", "--store", p(&iso), p(&signed), "--json"]);
    assert_eq!(r["signature_checked"], false);
    let notes = r["notes"].to_string();
    assert!(notes.contains("no signature was checked"), "{notes}");
}
