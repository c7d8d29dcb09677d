//! Media accidents (issue 9, point 4): an unmounted media folder, a media root holding several
//! bundles, a bundle that went out unsigned, an export or import stopped by a signal, an export
//! with nothing to carry, and a bundle spread over discs checked with standard tools.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The entries of a folder, by name (empty when it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn log_text(store: &Path) -> String {
    fs::read_to_string(store.join("offsync.log")).unwrap()
}

#[test]
fn export_refuses_an_unmounted_media_folder_and_an_export_with_nothing_changed() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let absent = dir.path().join("usb");
    let (code, out, err) = run_any(&["export", "--store", p(&connected), "--out", p(&absent)]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains(p(&absent)), "names the folder: {err}");
    assert!(err.contains("is the media mounted?"), "{err}");
    assert!(!absent.exists(), "export never creates the media root");
    assert!(json(&["status", "--store", p(&connected), "--json"])["last_export"].is_null());

    let (r1, _) = export(&connected, &dir.path().join("m1"), &[]);
    assert_eq!(r1["sequence"], 1);
    // Nothing changed since bundle 1: said so, nothing written, exit 0.
    let m2 = dir.path().join("m2");
    fs::create_dir_all(&m2).unwrap();
    let out = run(&["export", "--store", p(&connected), "--out", p(&m2)], 0);
    assert!(
        out.contains("nothing changed since bundle sequence 1"),
        "{out}"
    );
    assert!(names_in(&m2).is_empty(), "{:?}", names_in(&m2));
    let v = json(&[
        "export",
        "--store",
        p(&connected),
        "--out",
        p(&m2),
        "--json",
    ]);
    assert_eq!(v["outcome"], "nothing-changed", "{v}");
    assert_eq!(v["last_sequence"], 1, "{v}");
    assert!(names_in(&m2).is_empty());
    let status = json(&["status", "--store", p(&connected), "--json"]);
    assert_eq!(
        status["last_export"]["sequence"], 1,
        "no sequence was taken"
    );
    assert!(log_text(&connected).contains("Nothing changed since bundle sequence 1"));
    // Asked for, the empty incremental bundle is written.
    let (r2, b2) = export(&connected, &m2, &["--allow-empty"]);
    assert_eq!(
        (r2["sequence"].as_u64(), r2["updates"].as_u64()),
        (Some(2), Some(0))
    );
    assert!(b2.join("manifest.json").is_file());
    // A change makes the next export a real one again.
    run(
        &["updates", "decline", "--store", p(&connected), "KB5034122"],
        0,
    );
    let (r3, _) = export(&connected, &dir.path().join("m3"), &[]);
    assert_eq!(r3["sequence"], 3, "{r3}");
}

/// A connected store and three bundles of its chain in one media root, their folders renamed
/// so that name order is not sequence order. Returns (root, bundle folders by sequence).
fn media_root_with_three_bundles(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let up = dir.join("upstream");
    copy_tree(&upstream_fixtures(), &up);
    let connected = synced_store(dir, "connected");
    let cs = p(&connected).to_string();
    let root = dir.join("media");
    let (_, b1) = export(&connected, &root, &[]);
    run(&["updates", "decline", "--store", &cs, "KB5034122"], 0);
    let (_, b2) = export(&connected, &root, &[]);
    fs::remove_file(up.join("update-g2-ws2012r2-kb3019978.xml")).unwrap();
    run(&["sync", "--store", &cs, "--from", p(&up)], 0);
    let (_, b3) = export(&connected, &root, &[]);
    let renamed: Vec<PathBuf> = [(b1, "z-first"), (b2, "m-second"), (b3, "a-third")]
        .into_iter()
        .map(|(b, to)| {
            let t = root.join(to);
            fs::rename(&b, &t).unwrap();
            t
        })
        .collect();
    (root, renamed)
}

#[test]
fn a_media_root_is_verified_per_bundle_and_imported_in_sequence_order() {
    let dir = tempfile::tempdir().unwrap();
    let (root, b) = media_root_with_three_bundles(dir.path());
    // A stray file and folder on the media are not bundles.
    fs::write(root.join("README.txt"), "carried on 2026-12-05\n").unwrap();
    fs::create_dir_all(root.join("System Volume Information")).unwrap();

    let out = run(&["verify", p(&root)], 0);
    for f in &b {
        assert!(out.contains(&format!("== {}", f.display())), "{out}");
    }
    assert_eq!(out.matches("OK: every volume").count(), 3, "{out}");
    // Reported in sequence order.
    let at = |f: &PathBuf| out.find(&format!("== {}", f.display())).unwrap();
    assert!(at(&b[0]) < at(&b[1]) && at(&b[1]) < at(&b[2]), "{out}");

    // The third bundle damaged: verify reports each bundle, the exit code is its finding's.
    let intact = dir.path().join("intact-copy-of-3");
    copy_tree(&b[2], &intact);
    let vol3 = volumes(&b[2]).pop().unwrap();
    let mut bytes = fs::read(&vol3).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    fs::write(&vol3, &bytes).unwrap();
    let (code, out, err) = run_any(&["verify", p(&root), "--json"]);
    assert_eq!(code, 10, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    let oks: Vec<bool> = v["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ok"].as_bool().unwrap())
        .collect();
    assert_eq!(oks, [true, true, false], "{v}");
    assert_eq!(v["bundles"][2]["path"], p(&b[2]));
    assert!(err.contains("a-third"), "names the failed bundle: {err}");

    // A dry run shows the next bundle only: the ones after it build on it.
    let iso = init_store(dir.path(), "isolated");
    let out = run(&["import", "--store", p(&iso), p(&root), "--dry-run"], 0);
    assert_eq!(out.matches("would import").count(), 1, "{out}");
    assert!(out.contains("2 later bundle folder(s) not tried"), "{out}");
    assert!(json(&["status", "--store", p(&iso), "--json"])["last_import"].is_null());

    // Import applies 1 and 2, each in its own transaction, and stops at 3.
    let (code, out, err) = run_any(&["import", "--store", p(&iso), p(&root)]);
    assert_eq!(code, 10, "that refusal's exit code: {out}{err}");
    assert!(
        out.contains("(sequence 1)") && out.contains("(sequence 2)"),
        "{out}"
    );
    assert!(
        err.contains(&format!(
            "bundle folder {} was not imported",
            b[2].display()
        )),
        "{err}"
    );
    // Each item behind the refusal on its own line (escaped, not flattened into one).
    assert!(
        err.lines()
            .any(|l| l
                .starts_with("  applied before it: sequence 1 (imported), sequence 2 (imported)")),
        "{err}"
    );
    assert!(!err.contains("\\u{000a}"), "{err}");
    let status = json(&["status", "--store", p(&iso), "--json"]);
    assert_eq!(status["last_import"]["sequence"], 2, "{status}");

    // The damaged bundle replaced by an intact copy: 1 and 2 are already there, 3 applies.
    fs::remove_dir_all(&b[2]).unwrap();
    copy_tree(&intact, &b[2]);
    let v = json(&["import", "--store", p(&iso), p(&root), "--json"]);
    let outcomes: Vec<&str> = v["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["already-imported", "already-imported", "imported"],
        "{v}"
    );
    let status = json(&["status", "--store", p(&iso), "--json"]);
    assert_eq!(status["last_import"]["sequence"], 3, "{status}");
}

#[test]
fn a_media_root_import_stops_at_a_gap_and_applies_nothing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (root, b) = media_root_with_three_bundles(dir.path());
    // Bundle 2 did not make it onto the media.
    fs::remove_dir_all(&b[1]).unwrap();
    let iso = init_store(dir.path(), "isolated");
    let (code, out, err) = run_any(&["import", "--store", p(&iso), p(&root), "--json"]);
    assert_eq!(code, 13, "{err}");
    assert!(
        err.contains("applied before it: sequence 1 (imported)"),
        "{err}"
    );
    // The JSON keeps what was applied, with the refusal as its `error`.
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["bundles"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["bundles"][0]["sequence"], 1, "{v}");
    assert_eq!(v["error"]["kind"], "out-of-sequence", "{v}");
    assert_eq!(
        json(&["status", "--store", p(&iso), "--json"])["last_import"]["sequence"],
        1
    );
}

#[test]
fn files_and_missing_paths_where_a_bundle_is_expected_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let iso = init_store(dir.path(), "isolated");
    let file = dir.path().join("notes.txt");
    fs::write(&file, "not a bundle\n").unwrap();
    let missing = dir.path().join("no-such-disc");
    for path in [&file, &missing] {
        for args in [
            vec!["verify", p(path)],
            vec!["import", "--store", p(&iso), p(path)],
        ] {
            let (code, out, err) = run_any(&args);
            assert_eq!(code, 2, "{args:?}: {out}{err}");
            assert!(err.contains(p(path)), "{args:?} names the path: {err}");
        }
    }
}

#[test]
fn a_bundle_over_several_discs_checks_with_sha256sum_per_disc_then_verify_over_all() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (_, bundle) = export(
        &connected,
        &dir.path().join("out"),
        &["--max-volume-size", "64K"],
    );
    let vols = volumes(&bundle);
    assert!(vols.len() >= 3, "{vols:?}");
    // As the README says: each disc holds the bundle folder with manifest.json and
    // SHA256SUMS, and some of the volumes.
    let name = bundle.file_name().unwrap();
    let discs: Vec<PathBuf> = (1..=2)
        .map(|n| dir.path().join(format!("disc{n}")))
        .collect();
    for (n, d) in discs.iter().enumerate() {
        let b = d.join(name);
        fs::create_dir_all(&b).unwrap();
        for f in ["manifest.json", "SHA256SUMS"] {
            fs::copy(bundle.join(f), b.join(f)).unwrap();
        }
        for v in vols.iter().skip(n).step_by(2) {
            fs::copy(v, b.join(v.file_name().unwrap())).unwrap();
        }
    }
    let sha256sum = |d: &Path| {
        Command::new("sha256sum")
            .args(["-c", "--ignore-missing", "SHA256SUMS"])
            .current_dir(d.join(name))
            .output()
    };
    // sha256sum is coreutils, as much part of the machine as the shell: not skipped.
    for d in &discs {
        let o = sha256sum(d).expect("sha256sum (coreutils)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
    // The bundle folder of disc 1 first, then the other discs' folders; or disc 1's media
    // root first, then the other discs.
    run(
        &["verify", p(&discs[0].join(name)), p(&discs[1].join(name))],
        0,
    );
    run(&["verify", p(&discs[0]), p(&discs[1].join(name))], 0);
    let iso = init_store(dir.path(), "isolated");
    let v = json(&[
        "import",
        "--store",
        p(&iso),
        p(&discs[0]),
        p(&discs[1].join(name)),
        "--json",
    ]);
    assert_eq!(v["bundles"][0]["outcome"], "imported", "{v}");
}

#[test]
fn sign_signs_an_existing_bundle_that_a_trusting_store_then_imports() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("site");
    run(&["key", "generate", "--out", p(&base), "--unencrypted"], 0);
    let (key, public) = (dir.path().join("site.key"), dir.path().join("site.pub"));
    let connected = synced_store(dir.path(), "connected");
    let (_, bundle) = export(&connected, &dir.path().join("media"), &[]);
    let iso = init_store(dir.path(), "isolated");
    run(&["trust", "add", "--store", p(&iso), p(&public)], 0);

    // Unsigned: refused, and the hint names the command that fixes it.
    let (code, _, err) = run_any(&["import", "--store", p(&iso), p(&bundle)]);
    assert_eq!(code, 12, "{err}");
    assert!(err.contains("offsync sign BUNDLE --key NAME.key"), "{err}");

    // A damaged bundle is not signed.
    let damaged = dir.path().join("damaged");
    copy_tree(&bundle, &damaged);
    let vol = volumes(&damaged).pop().unwrap();
    let mut bytes = fs::read(&vol).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 1;
    fs::write(&vol, &bytes).unwrap();
    let (code, _, err) = run_any(&["sign", p(&damaged), "--key", p(&key)]);
    assert_eq!(code, 10, "{err}");
    assert!(!damaged.join("manifest.json.minisig").exists());

    let manifest_before = fs::read(bundle.join("manifest.json")).unwrap();
    let out = run(&["sign", p(&bundle), "--key", p(&key)], 0);
    assert!(out.contains("signed bundle"), "{out}");
    assert!(bundle.join("manifest.json.minisig").is_file());
    assert_eq!(
        fs::read(bundle.join("manifest.json")).unwrap(),
        manifest_before,
        "the manifest is not touched"
    );
    run(&["verify", p(&bundle), "--pubkey", p(&public)], 0);
    // Signed already: refused unless --force.
    let sig = fs::read(bundle.join("manifest.json.minisig")).unwrap();
    let (code, _, err) = run_any(&["sign", p(&bundle), "--key", p(&key)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already signed"), "{err}");
    assert_eq!(fs::read(bundle.join("manifest.json.minisig")).unwrap(), sig);
    let v = json(&["sign", p(&bundle), "--key", p(&key), "--force", "--json"]);
    assert_eq!(v["replaced"], true, "{v}");

    let r = json(&["import", "--store", p(&iso), p(&bundle), "--json"]);
    assert_eq!(r["outcome"], "imported", "{r}");
    assert_eq!(r["signature_checked"], true, "{r}");
}

#[cfg(unix)]
mod interrupted {
    use super::*;
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};

    /// Payload files of `size` bytes each, and a copy of the upstream fixtures with one
    /// Windows 10 security update per file (modelled on update-a1) that references it.
    fn big_upstream(root: &Path, n: usize, size: usize) -> (PathBuf, PathBuf) {
        let up = root.join("upstream");
        let payloads = root.join("payloads");
        fs::create_dir_all(&payloads).unwrap();
        copy_tree(&upstream_fixtures(), &up);
        for i in 0..n {
            // Distinct bytes per file (a file of one byte repeated would be the same file).
            let mut bytes = vec![i as u8; size];
            bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let d = offsync::hash::hash_reader(&mut bytes.as_slice()).unwrap();
            let kb = 9_200_000 + i;
            let name = format!("windows10.0-kb{kb}-x64_media{i:03}.cab");
            fs::write(payloads.join(&name), &bytes).unwrap();
            let id = format!("6d1a0000-0000-4000-8000-{i:012x}");
            let title = format!(
                "Large update {i} for Windows 10 Version 22H2 for x64-based Systems (KB{kb})"
            );
            let doc =
                update_with_file_xml(&id, kb as u64, &title, &name, &d.sha1, &d.sha256, d.size);
            fs::write(up.join(format!("update-media-{i:03}.xml")), doc).unwrap();
        }
        (up, payloads)
    }

    fn spawn(args: &[&str]) -> Child {
        offsync()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start offsync")
    }

    /// Files whose name ends in `.partial` anywhere below `dir`.
    fn partial_files(dir: &Path) -> Vec<PathBuf> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .map(|e| e.into_path())
            .collect()
    }

    /// Waits until a `.partial` file appears below `watch`, sends `signal` with `kill`, and
    /// returns the process's output. `None` when `kill` is not installed.
    fn interrupt(child: Child, watch: &Path, signal: &str) -> std::process::Output {
        let mut child = child;
        let start = Instant::now();
        while partial_files(watch).is_empty() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "finished before any partial file appeared: make the data larger"
            );
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no partial file"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        // The shell's own `kill`: no program to be missing, so nothing to skip.
        let sent = Command::new("sh")
            .args(["-c", "kill \"$0\" \"$1\"", signal, &child.id().to_string()])
            .status()
            .expect("sh");
        assert!(sent.success(), "kill {signal}");
        child.wait_with_output().unwrap()
    }

    /// Every table of the store but `store_info`'s record of the interrupted run.
    fn fingerprint_but_interruption(
        store: &Path,
    ) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut f = fingerprint(store);
        for rows in f.values_mut() {
            rows.retain(|r| !r.contains("last_interrupted"));
        }
        f
    }

    #[test]
    fn sigint_and_sigterm_stop_export_and_import_leaving_nothing_partial() {
        let dir = tempfile::tempdir().unwrap();
        // About 50 MB in four files: a second or more of hashing in a debug build, so the
        // signal lands while a file is being written.
        let (up, payloads) = big_upstream(dir.path(), 4, 12 << 20);
        let connected = synced_store(dir.path(), "connected");
        let cs = p(&connected).to_string();
        run(&["sync", "--store", &cs, "--from", p(&up)], 0);
        run(&["content", "import", "--store", &cs, p(&payloads)], 0);
        let _ = fs::remove_dir_all(&payloads);

        // Export, SIGINT once its first volume is being written.
        let media = dir.path().join("media");
        fs::create_dir_all(&media).unwrap();
        let before = fingerprint_but_interruption(&connected);
        let child = spawn(&["export", "--store", &cs, "--out", p(&media)]);
        let o = interrupt(child, &media, "-INT");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{err}");
        assert!(err.contains("interrupted"), "says so: {err}");
        assert!(err.contains("partial files are removed"), "{err}");
        assert!(names_in(&media).is_empty(), "left {:?}", names_in(&media));
        assert_eq!(
            before,
            fingerprint_but_interruption(&connected),
            "the store is unchanged"
        );
        let status = json(&["status", "--store", &cs, "--json"]);
        assert!(status["last_export"].is_null(), "{status}");
        assert_eq!(
            status["last_interrupted"]["operation"], "export",
            "{status}"
        );
        let text = run(&["status", "--store", &cs], 0);
        assert!(text.contains("interrupted export"), "{text}");
        assert!(log_text(&connected).contains("Export interrupted"));

        // The same export run to its end, then an import stopped by SIGTERM while staging.
        let (_, bundle) = export(&connected, &media, &[]);
        let iso = init_store(dir.path(), "isolated");
        let before = fingerprint_but_interruption(&iso);
        let child = spawn(&["import", "--store", p(&iso), p(&bundle)]);
        let o = interrupt(child, &iso.join("staging"), "-TERM");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{err}");
        assert!(err.contains("staged files were removed"), "{err}");
        assert!(
            names_in(&iso.join("staging")).is_empty(),
            "{:?}",
            names_in(&iso.join("staging"))
        );
        assert_eq!(
            before,
            fingerprint_but_interruption(&iso),
            "the store is unchanged"
        );
        let status = json(&["status", "--store", p(&iso), "--json"]);
        assert!(status["last_import"].is_null(), "{status}");
        assert_eq!(
            status["last_interrupted"]["operation"], "import",
            "{status}"
        );
        assert!(log_text(&iso).contains("interrupted"), "{}", log_text(&iso));
        // Nothing left behind stands in the way of the next run.
        let r = json(&["import", "--store", p(&iso), p(&bundle), "--json"]);
        assert_eq!(r["outcome"], "imported", "{r}");
    }
}

/// `--list` and `--repair` read one bundle: given a media root, they say so (exit 2) rather
/// than list nothing or fail as an incomplete bundle.
#[test]
fn list_and_repair_want_one_bundle_not_a_media_root() {
    let dir = tempfile::tempdir().unwrap();
    let (root, _) = media_root_with_three_bundles(dir.path());
    let (code, out, err) = run_any(&["verify", p(&root), "--list"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("--list lists one bundle"), "{err}");
    let iso = init_store(dir.path(), "isolated");
    let (code, out, err) = run_any(&["import", "--store", p(&iso), p(&root), "--repair"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("--repair reads one bundle"), "{err}");
}
