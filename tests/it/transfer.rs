//! Across the air gap: export, verify, import, the chain of bundles, and the first hostile
//! bundles. Each refused bundle must leave the isolated store exactly as it was.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

fn import(store: &Path, paths: &[&Path], code: i32) -> (String, String) {
    let mut args = vec!["import", "--store", p(store)];
    args.extend(paths.iter().map(|x| p(x)));
    let (c, out, err) = run_any(&args);
    assert_eq!(c, code, "import {paths:?}\n{out}\n{err}");
    (out, err)
}

fn import_json(store: &Path, paths: &[&Path]) -> Value {
    let mut args = vec!["import", "--store", p(store), "--json"];
    args.extend(paths.iter().map(|x| p(x)));
    json(&args)
}

fn summary(store: &Path) -> Vec<(String, u64, String, String)> {
    let v = json(&["updates", "list", "--store", p(store), "--json"]);
    let mut rows: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["update_id"].as_str().unwrap().to_string(),
                r["revision"].as_u64().unwrap(),
                r["state"].as_str().unwrap().to_string(),
                r["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn round_trip_to_an_empty_isolated_store() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let media = dir.path().join("media");
    let (r, bundle) = export(&connected, &media, &[]);
    assert_eq!(
        (r["kind"].as_str(), r["sequence"].as_u64()),
        (Some("full"), Some(1))
    );
    assert_eq!(r["updates"], 14);
    assert_eq!(
        r["missing"].as_array().unwrap().len(),
        1,
        "the 2024-03 payload is not in the store"
    );
    assert!(!fs::read_dir(&bundle).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")
    }));
    run(&["verify", p(&bundle)], 0);
    run(&["verify", p(&bundle.join("manifest.json"))], 0);

    let isolated = init_store(dir.path(), "isolated");
    let r = import_json(&isolated, &[&bundle]);
    assert_eq!(r["outcome"], "imported");
    assert_eq!(
        (r["new"].as_u64(), r["updated"].as_u64()),
        (Some(14), Some(0))
    );
    assert_eq!(summary(&connected), summary(&isolated));
    // Content byte-identical, and the same set of files.
    let files = |s: &Path| -> Vec<String> { fingerprint(s)["(content files)"].clone() };
    assert_eq!(files(&connected), files(&isolated));
    assert_eq!(files(&isolated).len(), 9);
    let st = json(&["status", "--store", p(&isolated), "--json"]);
    assert_eq!(st["last_import"]["sequence"], 1);
    assert_eq!(st["content"]["missing"], 1);
    let st = json(&["status", "--store", p(&connected), "--json"]);
    assert_eq!(st["last_export"]["sequence"], 1);

    // The isolated store is a normal store: a child can sync from it.
    let child = init_store(dir.path(), "child");
    run(&["sync", "--store", p(&child), "--from", p(&isolated)], 0);
    set_criteria(
        &child,
        &[
            "--product",
            "Windows 11",
            "--classification",
            "Security Updates",
        ],
    );
    let r = json(&[
        "sync",
        "--store",
        p(&child),
        "--from",
        p(&isolated),
        "--json",
    ]);
    // The bundle's parent and children, and the detectoid it needs.
    assert_eq!(r["new"], 4);
}

#[test]
fn incremental_chain_gaps_replays_and_full_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    copy_tree(&upstream_fixtures(), &up);
    let connected = synced_from(
        dir.path(),
        "connected",
        &up,
        &[
            "--product",
            "Windows",
            "--classification",
            "Security Updates",
        ],
    );
    let cs = p(&connected).to_string();
    let (r1, b1) = export(&connected, &dir.path().join("m1"), &[]);
    assert_eq!(r1["kind"], "full");

    // A new revision upstream, then an incremental bundle with just that.
    let jan = up.join("update-a1-win10-2024-01-kb5034122.xml");
    let text = fs::read_to_string(&jan).unwrap();
    fs::write(
        &jan,
        text.replacen("RevisionNumber=\"200\"", "RevisionNumber=\"300\"", 1),
    )
    .unwrap();
    run(&["sync", "--store", &cs, "--from", p(&up)], 0);
    let (r2, b2) = export(&connected, &dir.path().join("m2"), &[]);
    assert_eq!(
        (
            r2["kind"].as_str(),
            r2["sequence"].as_u64(),
            r2["base_sequence"].as_u64()
        ),
        (Some("incremental"), Some(2), Some(1))
    );
    assert_eq!(r2["updates"], 1);

    let iso = init_store(dir.path(), "isolated");
    let before = fingerprint(&iso);
    let (_, err) = import(&iso, &[&b2], 13);
    assert!(
        err.contains("gap") && err.contains("missing sequence(s) 1"),
        "{err}"
    );
    assert_eq!(
        before,
        fingerprint(&iso),
        "a refused bundle changes nothing"
    );

    assert_eq!(import_json(&iso, &[&b1])["outcome"], "imported");
    let once = fingerprint(&iso);
    let again = import_json(&iso, &[&b1]);
    assert_eq!(again["outcome"], "already-imported");
    assert_eq!(once, fingerprint(&iso), "a replay writes nothing");
    let r = import_json(&iso, &[&b2]);
    assert_eq!(
        (r["outcome"].as_str(), r["updated"].as_u64()),
        (Some("imported"), Some(1))
    );
    assert_eq!(summary(&connected), summary(&iso));

    // Bundle 3 (incremental) is lost; bundle 4 is full and closes the gap; 3 is then older.
    fs::remove_file(up.join("update-g2-ws2012r2-kb3019978.xml")).unwrap();
    run(&["sync", "--store", &cs, "--from", p(&up)], 0);
    let (_, b3) = export(&connected, &dir.path().join("m3"), &[]);
    let (r4, b4) = export(&connected, &dir.path().join("m4"), &["--full"]);
    assert_eq!(
        (r4["kind"].as_str(), r4["sequence"].as_u64()),
        (Some("full"), Some(4))
    );
    let r = import_json(&iso, &[&b4]);
    assert_eq!(
        (r["outcome"].as_str(), r["removed"].as_u64()),
        (Some("imported"), Some(1))
    );
    assert_eq!(summary(&connected), summary(&iso));
    let before = fingerprint(&iso);
    let (_, err) = import(&iso, &[&b3], 13);
    assert!(err.contains("older bundle"), "{err}");
    assert_eq!(before, fingerprint(&iso));
    // Another export with nothing changed, when asked for, is a valid, empty incremental
    // bundle.
    let (r5, _) = export(&connected, &dir.path().join("m5"), &["--allow-empty"]);
    assert_eq!(
        (
            r5["kind"].as_str(),
            r5["updates"].as_u64(),
            r5["base_sequence"].as_u64()
        ),
        (Some("incremental"), Some(0), Some(4))
    );
}

#[test]
fn small_volumes_spread_over_discs_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (r, bundle) = export(
        &connected,
        &dir.path().join("media"),
        &["--max-volume-size", "48K"],
    );
    let vols = volumes(&bundle);
    assert!(vols.len() >= 4, "{} volumes: {r}", vols.len());
    for v in &vols {
        assert!(
            fs::metadata(v).unwrap().len() <= 48 * 1024,
            "{} is over the volume size",
            v.display()
        );
    }
    // Disc 1 has the manifest and the first volume; the rest are spread over two more discs,
    // and the discs are given in reverse order.
    let disc = |n: usize| {
        let d = dir.path().join(format!("disc{n}"));
        fs::create_dir_all(&d).unwrap();
        d
    };
    let (d1, d2, d3) = (disc(1), disc(2), disc(3));
    let b1 = d1.join(bundle.file_name().unwrap());
    fs::create_dir_all(&b1).unwrap();
    for name in ["manifest.json", "SHA256SUMS"] {
        fs::copy(bundle.join(name), b1.join(name)).unwrap();
    }
    for (i, v) in vols.iter().enumerate() {
        let target = match i {
            0 => b1.join(v.file_name().unwrap()),
            i if i % 2 == 1 => d2.join(v.file_name().unwrap()),
            _ => d3.join(v.file_name().unwrap()),
        };
        fs::copy(v, target).unwrap();
    }
    run(&["verify", p(&b1), p(&d3), p(&d2)], 0);
    let (code, out, _) = run_any(&["verify", p(&b1), p(&d2)]);
    assert_eq!(code, 11, "a volume on the missing disc: {out}");
    let iso = init_store(dir.path(), "isolated");
    let r = import_json(&iso, &[&b1, &d3, &d2]);
    assert_eq!(r["outcome"], "imported");
    assert_eq!(
        fingerprint(&connected)["(content files)"],
        fingerprint(&iso)["(content files)"]
    );
}

#[test]
fn dry_run_says_what_would_change_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (_, bundle) = export(&connected, &dir.path().join("media"), &[]);
    let iso = init_store(dir.path(), "isolated");
    let before = fingerprint(&iso);
    let r = json(&[
        "import",
        "--store",
        p(&iso),
        p(&bundle),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(r["outcome"], "dry-run");
    assert_eq!(r["new"], 14);
    assert_eq!(r["content_files"], 9);
    assert!(r["content_bytes"].as_u64().unwrap() > 100_000);
    assert_eq!(before, fingerprint(&iso));
    let text = run(&["import", "--store", p(&iso), p(&bundle), "--dry-run"], 0);
    assert!(
        text.contains("would import") && text.contains("14 new"),
        "{text}"
    );
}

#[test]
fn two_copies_of_one_store_export_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let a = synced_store(dir.path(), "connected");
    let b = dir.path().join("copy");
    copy_tree(&a, &b);
    let out = |store: &Path, media: &Path| {
        fs::create_dir_all(media).unwrap();
        let o = offsync()
            .args([
                "export",
                "--store",
                p(store),
                "--out",
                p(media),
                "--max-volume-size",
                "100K",
            ])
            .env("SOURCE_DATE_EPOCH", "1790000000")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        bundle_in(media)
    };
    let ba = out(&a, &dir.path().join("ma"));
    let bb = out(&b, &dir.path().join("mb"));
    let listing = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = fs::read_dir(d)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let (la, lb) = (listing(&ba), listing(&bb));
    assert!(la.len() >= 4);
    assert_eq!(
        la.iter().map(|x| &x.0).collect::<Vec<_>>(),
        lb.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
    for (x, y) in la.iter().zip(&lb) {
        assert!(x.1 == y.1, "{} differs between the two exports", x.0);
    }
    let manifest: Value =
        serde_json::from_slice(&fs::read(ba.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["created"], "2026-09-21T14:13:20Z");
    let text = fs::read_to_string(ba.join("manifest.json")).unwrap();
    assert!(
        text.trim_start()
            .trim_start_matches('{')
            .trim_start()
            .starts_with("\"format_version\""),
        "{text}"
    );
}

#[test]
fn standard_tools_accept_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (_, bundle) = export(
        &connected,
        &dir.path().join("media"),
        &["--max-volume-size", "64K"],
    );
    match std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&bundle)
        .output()
    {
        Ok(o) => assert!(
            o.status.success(),
            "sha256sum -c: {}",
            String::from_utf8_lossy(&o.stdout)
        ),
        Err(_) => eprintln!("skipped sha256sum: not found"),
    }
    for v in volumes(&bundle) {
        match std::process::Command::new("unzip")
            .arg("-tq")
            .arg(&v)
            .output()
        {
            Ok(o) => assert!(
                o.status.success(),
                "unzip -t {}: {}",
                v.display(),
                String::from_utf8_lossy(&o.stdout)
            ),
            Err(_) => {
                eprintln!("skipped unzip -t: unzip not found");
                return;
            }
        }
    }
}

/// Appends an entry to a volume with the zip crate, keeping the others.
fn add_entry(volume: &Path, name: &str, data: &[u8]) {
    let bytes = fs::read(volume).unwrap();
    let mut w = zip::ZipWriter::new_append(std::io::Cursor::new(bytes)).unwrap();
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file(name, opts).unwrap();
    std::io::Write::write_all(&mut w, data).unwrap();
    let out = w.finish().unwrap().into_inner();
    fs::write(volume, out).unwrap();
}

#[test]
fn hostile_bundles_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (_, good) = export(
        &connected,
        &dir.path().join("media"),
        &["--max-volume-size", "64K"],
    );
    let iso = init_store(dir.path(), "isolated");
    let before = fingerprint(&iso);
    let outside = dir.path().join("outside-marker");

    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage, i32)> = vec![
        (
            "flipped bit in a content entry",
            Box::new(|b: &Path| {
                let v = &volumes(b)[1];
                let mut bytes = fs::read(v).unwrap();
                let at = bytes.len() / 2;
                bytes[at] ^= 0x10;
                fs::write(v, bytes).unwrap();
            }),
            10,
        ),
        (
            "truncated volume",
            Box::new(|b: &Path| {
                let v = &volumes(b)[0];
                let bytes = fs::read(v).unwrap();
                fs::write(v, &bytes[..bytes.len() - 30]).unwrap();
            }),
            10,
        ),
        (
            "missing volume",
            Box::new(|b: &Path| fs::remove_file(volumes(b).last().unwrap()).unwrap()),
            11,
        ),
        (
            "an entry the manifest does not list",
            Box::new(|b: &Path| {
                add_entry(&volumes(b)[0], "content/extra", b"not listed");
                revouch(b);
            }),
            15,
        ),
        (
            "a path-traversal name",
            Box::new(|b: &Path| {
                add_entry(&volumes(b)[0], "../outside-marker", b"escaped");
                revouch(b);
            }),
            15,
        ),
    ];
    for (what, damage, code) in cases {
        let b = dir.path().join(format!("case-{}", what.replace(' ', "-")));
        copy_tree(&good, &b);
        damage(&b);
        let (c, out, err) = run_any(&["verify", p(&b)]);
        assert_eq!(c, code, "verify, {what}: {out}{err}");
        let (c, _, err) = run_any(&["import", "--store", p(&iso), p(&b)]);
        assert_eq!(c, code, "import, {what}: {err}");
        assert_eq!(before, fingerprint(&iso), "{what}: the store changed");
        assert!(!outside.exists(), "{what}: a file was written outside");
        assert!(
            fs::read_dir(iso.join("staging")).unwrap().next().is_none(),
            "{what}: staging left behind"
        );
    }
    // The intact bundle still imports.
    assert_eq!(import_json(&iso, &[&good])["outcome"], "imported");
}

#[test]
fn a_metadata_only_export_does_not_make_the_next_one_forget_content() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (r1, b1) = export(&connected, &dir.path().join("m1"), &["--metadata-only"]);
    assert_eq!(
        (r1["content_files"].as_u64(), r1["updates"].as_u64()),
        (Some(0), Some(14))
    );
    let (r2, b2) = export(&connected, &dir.path().join("m2"), &[]);
    assert_eq!(r2["updates"], 0, "no metadata changed");
    assert_eq!(
        r2["content_files"], 9,
        "the content the first bundle left out: {r2}"
    );
    let iso = init_store(dir.path(), "isolated");
    import(&iso, &[&b1], 0);
    import(&iso, &[&b2], 0);
    assert_eq!(
        fingerprint(&connected)["(content files)"],
        fingerprint(&iso)["(content files)"]
    );
    // Everything has travelled now: the next export has nothing to carry and writes nothing.
    let m3 = dir.path().join("m3");
    fs::create_dir_all(&m3).unwrap();
    let r3 = json(&[
        "export",
        "--store",
        p(&connected),
        "--out",
        p(&m3),
        "--json",
    ]);
    assert_eq!(r3["outcome"], "nothing-changed", "{r3}");
    assert_eq!(fs::read_dir(&m3).unwrap().count(), 0);
}

#[test]
fn import_merge_rules_keep_local_decisions_and_refuse_altered_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (_, b1) = export(&connected, &dir.path().join("m1"), &[]);
    let iso = init_store(dir.path(), "isolated");
    import(&iso, &[&b1], 0);
    run(&["updates", "decline", "--store", p(&iso), "KB5034122"], 0);
    // Upstream declares KB5034122 expired: the next bundle carries the new state; the local
    // decline stays.
    change_by_hand(&connected, "state = 'expired'", "5034122");
    let (_, b2) = export(&connected, &dir.path().join("m2"), &[]);
    let r = import_json(&iso, &[&b2]);
    assert_eq!(r["expired"], 1, "{r}");
    let rows = json(&[
        "updates",
        "list",
        "--store",
        p(&iso),
        "--kb",
        "kb5034122",
        "--json",
    ]);
    assert_eq!(rows[0]["state"], "declined", "the local decision is kept");

    // The same revision with other content on the isolated side is a conflict (exit 13).
    let iso2 = init_store(dir.path(), "isolated2");
    import(&iso2, &[&b1], 0);
    let conn = rusqlite::Connection::open(iso2.join("offsync.db")).unwrap();
    let doc: Vec<u8> = conn
        .query_row("SELECT doc FROM updates WHERE kb = '5034763'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut u = offsync::store::decode_update_doc(&doc).unwrap();
    u.severity = Some("Low".into());
    let altered = offsync::store::encode_doc(&u).unwrap();
    conn.execute(
        "UPDATE updates SET doc = ?1 WHERE kb = '5034763'",
        [altered],
    )
    .unwrap();
    drop(conn);
    change_by_hand(&connected, "update_type = update_type", "5034763");
    let (_, b3) = export(&connected, &dir.path().join("m3"), &["--full"]);
    let (_, err) = import(&iso2, &[&b3], 13);
    assert!(err.contains("conflict"), "{err}");
}

/// Changes the update with `kb` on the connected side as a sync would: `set` applied and the
/// row given the next change sequence value, so that the next export carries it.
fn change_by_hand(store: &Path, set: &str, kb: &str) {
    let conn = rusqlite::Connection::open(store.join("offsync.db")).unwrap();
    let seq: i64 = conn
        .query_row(
            "SELECT value FROM store_info WHERE key = 'change_seq'",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap()
        .parse()
        .unwrap();
    let n = conn
        .execute(
            &format!("UPDATE updates SET {set}, changed_seq = ?1 WHERE kb = ?2"),
            rusqlite::params![seq + 1, kb],
        )
        .unwrap();
    assert_eq!(n, 1, "KB{kb} is in {}", store.display());
    conn.execute(
        "UPDATE store_info SET value = ?1 WHERE key = 'change_seq'",
        [(seq + 1).to_string()],
    )
    .unwrap();
}
