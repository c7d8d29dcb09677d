//! Issue 9, point 7: scripts and guard stations. A failure with `--json` is one JSON object on
//! stdout; `verify` reports the signature and the validity, fails an expired bundle, and
//! lists what crosses.

use crate::common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;

/// Stdout as exactly one JSON value (trailing text or a second object fails the parse).
fn one_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// The `error` object of a failed command, checked against the process's exit code.
fn assert_error_object(o: &Output, v: &Value, kind: &str) {
    let code = o.status.code().unwrap();
    let e = &v["error"];
    assert_eq!(e["kind"], kind, "{v}");
    assert_eq!(e["exit_code"].as_i64(), Some(i64::from(code)), "{v}");
    assert!(!e["message"].as_str().unwrap().is_empty(), "{v}");
    assert!(e["hint"].is_null() || e["hint"].is_string(), "{v}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: "),
        "the text stays on stderr: {err}"
    );
}

#[test]
fn a_failure_with_json_prints_one_error_object_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let missing = dir.path().join("no-such-upstream");

    // A failing sync: monitored from its JSON alone.
    let o = raw(&["sync", "--store", p(&s), "--from", p(&missing), "--json"]);
    assert_ne!(o.status.code(), Some(0));
    let v = one_json(&o);
    assert_error_object(&o, &v, "usage");
    assert_eq!(v.as_object().unwrap().len(), 1, "only `error`: {v}");
    // Without --json, nothing on stdout.
    let o = raw(&["sync", "--store", p(&s), "--from", p(&missing)]);
    assert_ne!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());

    // A sub-verb's --json, and a usage error (no store there).
    let nowhere = dir.path().join("not-a-store");
    let o = raw(&["updates", "list", "--store", p(&nowhere), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert_error_object(&o, &one_json(&o), "usage");
    let o = raw(&["categories", "list", "--store", p(&nowhere), "--json"]);
    assert_error_object(&o, &one_json(&o), "usage");
    // A value the command line itself refuses: the same object, clap's text on stderr.
    let o = raw(&[
        "updates",
        "list",
        "--store",
        p(&s),
        "--state",
        "bogus",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_error_object(&o, &one_json(&o), "usage");

    // A path that is not there is refused before any report exists: still one object.
    let o = raw(&["verify", p(&missing), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = one_json(&o);
    assert_error_object(&o, &v, "usage");
}

#[test]
fn verify_reports_the_signature_and_the_validity() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "connected");
    let (key, public) = keypair(dir.path(), "ours");
    let (_, other_public) = keypair(dir.path(), "other");
    let (_, unsigned) = export(&s, &dir.path().join("m1"), &[]);
    let (_, signed) = export(
        &s,
        &dir.path().join("m2"),
        &["--full", "--sign", p(&key), "--valid-for", "30d"],
    );
    let key_id =
        json(&["verify", p(&signed), "--pubkey", p(&public), "--json"])["signature"]["key_id"]
            .as_str()
            .unwrap()
            .to_string();
    assert_eq!(key_id.len(), 16, "a minisign key id: {key_id}");

    let v = json(&["verify", p(&unsigned), "--json"]);
    assert_eq!(v["signature"]["state"], "absent");
    assert_eq!(v["validity"]["valid_until"], Value::Null);
    assert_eq!(v["validity"]["expired"], false);
    assert_eq!(v["bundle"]["sequence"], 1, "the summary is `bundle`");
    let text = run(&["verify", p(&unsigned)], 0);
    assert!(text.contains("signature: absent"), "{text}");
    assert!(text.contains("validity: no expiry"), "{text}");

    let v = json(&["verify", p(&signed), "--json"]);
    assert_eq!(v["signature"]["state"], "not-checked");
    assert_eq!(v["signature"]["key_id"], key_id.as_str());
    assert!(v["validity"]["valid_until"].is_string());
    assert_eq!(v["validity"]["expired"], false);
    let text = run(&["verify", p(&signed)], 0);
    assert!(
        text.contains(&format!(
            "signature: present (names key {key_id}), not checked"
        )),
        "{text}"
    );
    assert!(text.contains("validity: valid until 20"), "{text}");

    let text = run(&["verify", p(&signed), "--pubkey", p(&public)], 0);
    assert!(
        text.contains(&format!("signature: good, by key {key_id}")),
        "{text}"
    );

    let o = raw(&["verify", p(&signed), "--pubkey", p(&other_public), "--json"]);
    assert_eq!(o.status.code(), Some(12));
    let v = one_json(&o);
    assert_eq!(v["signature"]["state"], "bad");
    assert_eq!(v["error"]["exit_code"], 12);
    let o = raw(&["verify", p(&unsigned), "--pubkey", p(&public), "--json"]);
    assert_eq!(o.status.code(), Some(12));
    assert_eq!(one_json(&o)["signature"]["state"], "absent");
}

#[test]
fn an_expired_bundle_fails_verify_with_exit_14_as_import_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "connected");
    let two_days_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 2 * 86_400;
    let o = offsync()
        .args(["export", "--store", p(&s), "--json", "--valid-for", "1d"])
        .arg("--out")
        .arg(dir.path())
        .env("SOURCE_DATE_EPOCH", two_days_ago.to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let b = PathBuf::from(one_json(&o)["bundle_dir"].as_str().unwrap());

    let o = raw(&["verify", p(&b)]);
    assert_eq!(o.status.code(), Some(14), "{o:?}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("validity: EXPIRED at"), "{text}");
    assert!(
        text.contains("FAIL manifest.json: the bundle expired"),
        "{text}"
    );
    assert!(!text.contains("OK:"), "{text}");
    let o = raw(&["verify", p(&b), "--json"]);
    assert_eq!(o.status.code(), Some(14));
    let v = one_json(&o);
    assert_eq!(v["validity"]["expired"], true);
    assert_eq!(v["exit_code"], 14);
    assert_eq!(v["findings"][0]["kind"], "expired");
    assert_eq!(v["error"]["kind"], "expired");

    let iso = init_store(dir.path(), "iso");
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&b)]);
    assert_eq!(code, 14, "import agrees: {err}");
}

#[test]
fn verify_list_shows_what_crosses() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "connected");
    let (_, b) = export(&s, &dir.path().join("m"), &[]);
    let v = json(&["verify", p(&b), "--list", "--json"]);
    let list = &v["list"];
    let updates = list["updates"].as_array().unwrap();
    let u = updates
        .iter()
        .find(|u| u["kb"] == "5034122")
        .expect("KB5034122 crosses");
    assert_eq!(
        u["title"],
        "2024-01 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5034122)"
    );
    assert_eq!(u["classification"], "Security Updates");
    assert_eq!(u["revision"], 200);
    assert_eq!(u["state"], "published");
    assert_eq!(u["update_id"], "1d956cd9-8a3f-44d7-8ccb-031ebc0ba36b");
    assert!(updates.iter().any(|u| u["state"] == "expired"));

    let name = "windows10.0-kb5034122-x64_1340b2a8faf7aa1e57607d41af0436dbe3d3d943.msu";
    let bytes = std::fs::read(content_fixtures().join(name)).unwrap();
    let files = list["content_files"].as_array().unwrap();
    let f = files
        .iter()
        .find(|f| f["name"] == name)
        .expect("its file crosses");
    assert_eq!(f["size"], bytes.len() as u64);
    assert_eq!(f["sha256"], sha_hex(&bytes).as_str());
    assert_eq!(
        files.len() as u64,
        manifest(&b)["counts"]["content_files"].as_u64().unwrap()
    );

    let text = run(&["verify", p(&b), "--list"], 0);
    assert!(
        text.lines().any(|l| l.contains("KB5034122")
            && l.contains("rev 200")
            && l.contains("published")
            && l.contains("Security Updates")
            && l.contains("2024-01 Cumulative Update for Windows 10")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(&sha_hex(&bytes)) && l.contains(name)),
        "{text}"
    );
    // Without --list, no listing.
    assert!(json(&["verify", p(&b), "--json"]).get("list").is_none());

    // A bundle that fails is not listed.
    let vol = volumes(&b).remove(0);
    let mut bytes = std::fs::read(&vol).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&vol, bytes).unwrap();
    let o = raw(&["verify", p(&b), "--list", "--json"]);
    assert_eq!(o.status.code(), Some(10));
    assert!(one_json(&o).get("list").is_none());
}
