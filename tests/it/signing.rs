//! Signing keys and trust: `offsync key generate`, `offsync trust add|list|remove`, and
//! interoperability with Debian's `minisign` in both directions (skipped, saying so, when
//! `minisign` is not installed; CI installs it).

use crate::common::*;
use offsync::ErrorKind;
use offsync::trust;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const MANIFEST: &[u8] =
    b"{\n  \"format_version\": 1,\n  \"bundle_id\": \"test\",\n  \"volumes\": [],\n  \"entries\": []\n}\n";

/// `key generate --unencrypted --json` in `dir`; returns (key id, NAME.key, NAME.pub).
fn new_key(dir: &Path, name: &str) -> (String, PathBuf, PathBuf) {
    let v = json(&[
        "key",
        "generate",
        "--out",
        p(&dir.join(name)),
        "--unencrypted",
        "--json",
    ]);
    (
        v["key_id"].as_str().unwrap().to_string(),
        PathBuf::from(v["secret_key"].as_str().unwrap()),
        PathBuf::from(v["public_key"].as_str().unwrap()),
    )
}

fn minisign_installed() -> bool {
    let found = Command::new("minisign")
        .arg("-v")
        .stdin(Stdio::null())
        .output()
        .is_ok();
    if !found {
        println!("skipped: minisign not installed");
    }
    found
}

/// Runs `minisign` in `cwd` with no stdin (so it can never wait for a password).
fn minisign(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new("minisign")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run minisign")
}

fn trusted(store: &Path) -> Vec<Value> {
    json(&["trust", "list", "--store", p(store), "--json"])
        .as_array()
        .expect("array")
        .clone()
}

#[test]
fn key_generate_unencrypted_writes_a_minisign_pair_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let (id, key, public) = new_key(dir.path(), "site");
    assert_eq!(key, dir.path().join("site.key"));
    assert_eq!(public, dir.path().join("site.pub"));
    assert_eq!(id.len(), 16);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
        "{id}"
    );
    let pub_text = fs::read_to_string(&public).unwrap();
    let lines: Vec<&str> = pub_text.lines().collect();
    assert_eq!(lines.len(), 2, "{pub_text}");
    assert!(lines[0].starts_with("untrusted comment: ") && lines[0].contains(&id));
    assert!(lines[1].starts_with("RW"), "base64 of 'Ed' + key id + key");
    assert!(!trust::secret_key_is_encrypted(&key).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the secret key is readable by its owner only"
        );
    }

    // Never overwritten: both names are reported, both files stay as they were.
    let before = (fs::read(&key).unwrap(), fs::read(&public).unwrap());
    let (code, _, err) = run_any(&[
        "key",
        "generate",
        "--out",
        p(&dir.path().join("site")),
        "--unencrypted",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("site.key") && err.contains("site.pub") && err.contains("overwritten"),
        "{err}"
    );
    assert_eq!(
        before,
        (fs::read(&key).unwrap(), fs::read(&public).unwrap())
    );
    // Only the public half left over: still refused, naming it.
    fs::remove_file(&key).unwrap();
    let (code, _, err) = run_any(&[
        "key",
        "generate",
        "--out",
        p(&dir.path().join("site")),
        "--unencrypted",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("site.pub") && !err.contains("site.key"),
        "{err}"
    );
    assert!(!key.exists());

    // The text output says what to do next.
    let out = run(
        &[
            "key",
            "generate",
            "--out",
            p(&dir.path().join("other")),
            "--unencrypted",
        ],
        0,
    );
    assert!(
        out.contains("key id:") && out.contains("other.pub") && out.contains("other.key"),
        "{out}"
    );
    assert!(
        out.contains("offsync trust add") && out.contains("NOT encrypted"),
        "{out}"
    );

    // A folder that does not exist is a usage error, not a half-written pair.
    let (code, _, err) = run_any(&[
        "key",
        "generate",
        "--out",
        p(&dir.path().join("no/such/folder/k")),
        "--unencrypted",
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn key_generate_encrypts_with_a_password_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    // From a file: its first line only.
    let pw = dir.path().join("password.txt");
    fs::write(&pw, "s3cret words\nnot part of it\n").unwrap();
    let v = json(&[
        "key",
        "generate",
        "--out",
        p(&dir.path().join("file")),
        "--password-file",
        p(&pw),
        "--json",
    ]);
    assert_eq!(v["encrypted"], true);
    let key = dir.path().join("file.key");
    assert!(trust::secret_key_is_encrypted(&key).unwrap());
    let sig = trust::sign_manifest(&key, Some("s3cret words"), MANIFEST, "c").unwrap();
    let pk = trust::load_public_key(&dir.path().join("file.pub")).unwrap();
    assert_eq!(pk.key_id(), v["key_id"].as_str().unwrap());
    trust::verify_manifest(&[pk], MANIFEST, Some(&sig)).unwrap();
    let e = trust::sign_manifest(&key, Some("not part of it"), MANIFEST, "c").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Usage);
    assert!(e.message.contains("wrong password"), "{}", e.message);
    let e = trust::sign_manifest(&key, None, MANIFEST, "c").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Usage);
    assert!(e.message.contains("encrypted"), "{}", e.message);

    // From the environment.
    let out = offsync()
        .args(["key", "generate", "--out"])
        .arg(dir.path().join("env"))
        .arg("--json")
        .env("OFFSYNC_KEY_PASSWORD", "from the environment")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["encrypted"], true);
    trust::sign_manifest(
        &dir.path().join("env.key"),
        Some("from the environment"),
        MANIFEST,
        "c",
    )
    .unwrap();

    // No password anywhere and no terminal (stdin is not one here): a usage error saying how
    // to give it, and nothing written.
    let out = offsync()
        .args(["key", "generate", "--out"])
        .arg(dir.path().join("none"))
        .env_remove("OFFSYNC_KEY_PASSWORD")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--password-file") && err.contains("OFFSYNC_KEY_PASSWORD"),
        "{err}"
    );
    assert!(!dir.path().join("none.key").exists() && !dir.path().join("none.pub").exists());

    // An empty password is refused (--unencrypted says so explicitly instead).
    let empty = dir.path().join("empty.txt");
    fs::write(&empty, "\n").unwrap();
    let (code, _, err) = run_any(&[
        "key",
        "generate",
        "--out",
        p(&dir.path().join("e")),
        "--password-file",
        p(&empty),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("empty") && err.contains("--unencrypted"),
        "{err}"
    );
    assert!(!dir.path().join("e.key").exists());

    // A missing password file, and both --unencrypted and --password-file: usage errors.
    let (code, _, err) = run_any(&[
        "key",
        "generate",
        "--out",
        p(&dir.path().join("m")),
        "--password-file",
        p(&dir.path().join("missing.txt")),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing.txt"), "{err}");
    let (code, _, _) = run_any(&[
        "key",
        "generate",
        "--out",
        p(&dir.path().join("m")),
        "--unencrypted",
        "--password-file",
        p(&pw),
    ]);
    assert_eq!(code, 2);
}

#[test]
fn trust_add_list_remove_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = init_store(dir.path(), "isolated");
    let s = p(&store).to_string();
    assert!(trusted(&store).is_empty());
    let out = run(&["trust", "list", "--store", &s], 0);
    assert!(out.contains("no key is trusted"), "{out}");

    let (id_a, key_a, pub_a) = new_key(dir.path(), "a");
    let (id_b, _, pub_b) = new_key(dir.path(), "b");

    let out = run(&["trust", "add", "--store", &s, p(&pub_a)], 0);
    assert!(out.contains(&format!("trusted key {id_a}")), "{out}");
    assert!(out.contains("refuses bundles that are unsigned"), "{out}");
    let out = run(&["trust", "add", "--store", &s, p(&pub_a)], 0);
    assert!(out.contains("already trusted"), "{out}");
    run(&["trust", "add", "--store", &s, p(&pub_b)], 0);

    let keys = trusted(&store);
    let mut ids = vec![id_a.clone(), id_b.clone()];
    ids.sort();
    let listed: Vec<&str> = keys.iter().map(|k| k["key_id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids);
    let a = keys.iter().find(|k| k["key_id"] == id_a.as_str()).unwrap();
    assert_eq!(
        a["public_key"],
        fs::read_to_string(&pub_a).unwrap().as_str()
    );
    assert_eq!(a["comment"], format!("offsync public key {id_a}").as_str());
    assert!(a["added"].as_str().unwrap().ends_with('Z'));
    let out = run(&["trust", "list", "--store", &s], 0);
    assert!(out.contains(&id_a) && out.contains(&id_b), "{out}");

    // What the store keeps verifies what the key signs.
    let sig = trust::sign_manifest(&key_a, None, MANIFEST, "c").unwrap();
    let store_keys = offsync::store::Store::open(&store)
        .unwrap()
        .trusted_keys()
        .unwrap();
    let pks = trust::trusted_public_keys(&store_keys).unwrap();
    assert_eq!(
        trust::verify_manifest(&pks, MANIFEST, Some(&sig))
            .unwrap()
            .key_id,
        id_a
    );

    // Not keys: refused with the reason.
    let (code, _, err) = run_any(&["trust", "add", "--store", &s, p(&key_a)]);
    assert_eq!(code, 2);
    assert!(err.contains("secret key"), "{err}");
    let (code, _, err) = run_any(&[
        "trust",
        "add",
        "--store",
        &s,
        p(&dir.path().join("nothing.pub")),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(trusted(&store).len(), 2);

    // Remove by id (any case) and by public key file.
    let out = run(&["trust", "remove", "--store", &s, &id_a.to_lowercase()], 0);
    assert!(
        out.contains(&format!("key {id_a} is no longer trusted")),
        "{out}"
    );
    // Unknown: a usage error listing what is trusted.
    let (code, _, err) = run_any(&["trust", "remove", "--store", &s, &id_a]);
    assert_eq!(code, 2);
    assert!(err.contains("not trusted") && err.contains(&id_b), "{err}");
    let (code, _, err) = run_any(&["trust", "remove", "--store", &s, "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("neither a key id"), "{err}");
    let out = run(&["trust", "remove", "--store", &s, p(&pub_b)], 0);
    assert!(
        out.contains("import accepts unsigned bundles again"),
        "{out}"
    );
    assert!(trusted(&store).is_empty());
    let (code, _, err) = run_any(&["trust", "remove", "--store", &s, &id_b]);
    assert_eq!(code, 2);
    assert!(err.contains("trusts no key"), "{err}");

    let log = fs::read_to_string(store.join("offsync.log")).unwrap();
    let trust_lines: Vec<&str> = log.lines().filter(|l| l.contains("TRUST")).collect();
    assert_eq!(trust_lines.len(), 4, "{log}");
    assert!(trust_lines[0].contains(&id_a) && trust_lines[0].contains("trusted"));
    assert!(trust_lines[3].contains(&id_b) && trust_lines[3].contains("no longer trusted"));
}

#[test]
fn minisign_verifies_our_signature_of_a_manifest() {
    if !minisign_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, key, public) = new_key(dir.path(), "site");
    let bundle = dir.path().join("bundle");
    fs::create_dir(&bundle).unwrap();
    let manifest = bundle.join("manifest.json");
    fs::write(&manifest, MANIFEST).unwrap();
    let sig =
        trust::sign_manifest(&key, None, MANIFEST, "offsync bundle test, sequence 1").unwrap();
    fs::write(trust::signature_path(&manifest), &sig).unwrap();
    assert!(bundle.join("manifest.json.minisig").is_file());

    // Exactly the command the README gives, run in the bundle folder.
    let out = minisign(&bundle, &["-Vm", "manifest.json", "-p", p(&public)]);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "minisign -V refused our signature:\n{text}"
    );
    assert!(
        text.contains("Trusted comment: offsync bundle test, sequence 1"),
        "{text}"
    );
    // Our signatures are prehashed: accepted even where legacy ones are refused (-H).
    let out = minisign(&bundle, &["-H", "-Vm", "manifest.json", "-p", p(&public)]);
    assert!(out.status.success(), "{out:?}");

    // And minisign really checks: a changed manifest is refused.
    let mut changed = MANIFEST.to_vec();
    changed[20] ^= 1;
    fs::write(&manifest, &changed).unwrap();
    let out = minisign(&bundle, &["-Vm", "manifest.json", "-p", p(&public)]);
    assert!(!out.status.success(), "{out:?}");
}

#[test]
fn we_verify_minisigns_signatures_and_sign_with_its_keys() {
    if !minisign_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = minisign(d, &["-G", "-W", "-p", "mk.pub", "-s", "mk.key"]);
    assert!(out.status.success(), "{out:?}");
    let pub_text = fs::read_to_string(d.join("mk.pub")).unwrap();
    // minisign writes its key id in the comment: ours must be the same.
    let their_id = pub_text
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .unwrap();
    // minisign prints the 8-byte id without leading zeros (about one key in 16 starts with
    // one); offsync always shows its 16 hex digits.
    let their_comment = format!("minisign public key {their_id}");
    let their_id = format!("{their_id:0>16}");
    let pk = trust::load_public_key(&d.join("mk.pub")).unwrap();
    assert_eq!(pk.key_id(), their_id);

    let manifest = d.join("manifest.json");
    fs::write(&manifest, MANIFEST).unwrap();
    let out = minisign(
        d,
        &[
            "-S",
            "-s",
            "mk.key",
            "-m",
            "manifest.json",
            "-t",
            "signed by minisign",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let sig = trust::read_signature(&manifest).unwrap().expect("minisig");
    let v = trust::verify_manifest(std::slice::from_ref(&pk), MANIFEST, Some(&sig)).unwrap();
    assert_eq!(v.key_id, their_id);
    assert_eq!(v.trusted_comment, "signed by minisign");

    // Legacy (non-prehashed) signatures, which `minisign -V` accepts by default: so do we.
    let out = minisign(
        d,
        &[
            "-S",
            "-l",
            "-s",
            "mk.key",
            "-m",
            "manifest.json",
            "-x",
            "legacy.minisig",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let legacy = fs::read(d.join("legacy.minisig")).unwrap();
    trust::verify_manifest(std::slice::from_ref(&pk), MANIFEST, Some(&legacy)).unwrap();

    // Tampering and other keys are refused as untrusted.
    let e = trust::verify_manifest(std::slice::from_ref(&pk), b"{}", Some(&sig)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted);
    let (_, _, ours) = new_key(d, "ours");
    let ours = trust::load_public_key(&ours).unwrap();
    let e = trust::verify_manifest(&[ours], MANIFEST, Some(&sig)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Untrusted);
    assert!(e.message.contains(&their_id), "{}", e.message);

    // minisign's unencrypted secret key signs through our code, and minisign checks it.
    let ours_sig = trust::sign_manifest(&d.join("mk.key"), None, MANIFEST, "ours").unwrap();
    fs::write(trust::signature_path(&manifest), &ours_sig).unwrap();
    let out = minisign(d, &["-Vm", "manifest.json", "-p", "mk.pub"]);
    assert!(out.status.success(), "{out:?}");

    // A store trusts minisign's public key file as it is.
    let store = init_store(d, "isolated");
    let out = run(
        &["trust", "add", "--store", p(&store), p(&d.join("mk.pub"))],
        0,
    );
    assert!(out.contains(&their_id), "{out}");
    let keys = trusted(&store);
    assert_eq!(keys[0]["comment"], their_comment.as_str());
}
