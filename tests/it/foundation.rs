//! The foundation: store, criteria, filtered sync from upd:Update documents, content import,
//! the reading commands, and a child update point syncing from its parent.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

const WIN10: &str = "a3c2375d-0c8a-42f9-bce0-28333e198407";
const WIN11: &str = "72e7624a-5b00-45d2-b92f-e561c0a6a160";
const SECURITY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
const KB_JAN: &str = "5034122";
const KB_FEB: &str = "5034763";
const KB_MAR: &str = "5035845";

fn list(store: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["updates", "list", "--store", p(store), "--json"];
    args.extend_from_slice(extra);
    json(&args).as_array().expect("array").clone()
}

fn by_kb<'a>(rows: &'a [Value], kb: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["kb"] == kb).collect()
}

#[test]
fn a_missing_store_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let (code, _, err) = run_any(&["status", "--store", p(&missing)]);
    assert_eq!(code, 2);
    assert!(
        err.contains("does not exist") && err.contains("offsync init --store"),
        "{err}"
    );
    fs::create_dir_all(dir.path().join("plain")).unwrap();
    let (code, _, err) = run_any(&["updates", "list", "--store", p(&dir.path().join("plain"))]);
    assert_eq!(code, 2);
    assert!(err.contains("is not an offsync store"), "{err}");
    let s = init_store(dir.path(), "s");
    let (code, _, err) = run_any(&["init", "--store", p(&s)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already an offsync store"));
}

#[test]
fn the_store_is_found_through_offsync_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "env");
    let out = offsync()
        .args(["status", "--json"])
        .env("OFFSYNC_STORE", &s)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["store_name"], "env");
    assert!(v["last_sync"].is_null());
}

#[test]
fn first_sync_brings_categories_then_criteria_select_updates() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let sp = p(&s);
    let up = upstream_fixtures();
    run(&["sync", "--store", sp, "--from", p(&up)], 0);
    let cats = json(&["categories", "list", "--store", sp, "--json"]);
    let cats = cats.as_array().unwrap();
    assert_eq!(cats.len(), 12);
    let win10 = cats.iter().find(|c| c["id"] == WIN10).expect("Windows 10");
    assert_eq!(
        (win10["kind"].as_str(), win10["title"].as_str()),
        (Some("product"), Some("Windows 10"))
    );
    assert_eq!(win10["parent"], "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d");
    let classes = json(&[
        "categories",
        "list",
        "--store",
        sp,
        "--kind",
        "classification",
        "--json",
    ]);
    assert_eq!(classes.as_array().unwrap().len(), 4);
    assert!(list(&s, &[]).is_empty(), "no criteria yet: no updates");

    // Unknown and wrong-kind names are errors that help.
    let (code, _, err) = run_any(&["criteria", "set", "--store", sp, "--product", "Windows 1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("Windows 10") && err.contains("Windows 11"),
        "candidates listed: {err}"
    );
    let (code, _, err) = run_any(&[
        "criteria",
        "set",
        "--store",
        sp,
        "--classification",
        "Windows 10",
    ]);
    assert_eq!(code, 2, "{err}");

    set_criteria(
        &s,
        &[
            "--product",
            "Windows 10",
            "--product",
            WIN11,
            "--classification",
            "Security Updates",
        ],
    );
    let c = json(&["criteria", "show", "--store", sp, "--json"]);
    assert_eq!(c["products"].as_array().unwrap().len(), 2);
    assert_eq!(c["classifications"][0]["title"], "Security Updates");

    let r = json(&["sync", "--store", sp, "--from", p(&up), "--json"]);
    // The Windows 10 chain (3), the Windows 11 bundle with its two children, and the
    // detectoid the bundle names as a prerequisite.
    assert_eq!(
        (r["new"].as_u64(), r["selected"].as_u64()),
        (Some(7), Some(7)),
        "{r}"
    );
    let rows = list(&s, &[]);
    assert_eq!(rows.len(), 7);
    let kb5034765 = by_kb(&rows, "5034765");
    assert_eq!(kb5034765.len(), 3, "bundle parent and both children");
    assert!(by_kb(&rows, "4011035").is_empty(), "Office is not chosen");
    assert!(
        r["unresolved_categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "8c3fcc84-7410-4a95-8b89-a166a0190486")
    );

    // Idempotent.
    let before = fingerprint(&s);
    let r = json(&["sync", "--store", sp, "--from", p(&up), "--json"]);
    assert_eq!(
        (
            r["new"].as_u64(),
            r["updated"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(7))
    );
    let after = fingerprint(&s);
    for (table, rows) in &before {
        if table != "sync_runs" {
            assert_eq!(
                rows, &after[table],
                "table {table} changed on a repeated sync"
            );
        }
    }
    let st = json(&["status", "--store", sp, "--json"]);
    assert_eq!(st["last_sync"]["outcome"], "succeeded");
    assert_eq!(st["last_sync"]["unchanged"], 7);
    assert!(st["last_sync"]["started"].is_string() && st["last_sync"]["finished"].is_string());
}

#[test]
fn supersedence_states_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let sp = p(&s);
    let rows = list(&s, &[]);
    // 13 updates and the detectoid one of them needs.
    assert_eq!(rows.len(), 14, "{rows:#?}");
    let superseded: Vec<&str> = list(&s, &["--superseded"])
        .iter()
        .map(|r| r["kb"].as_str().unwrap().to_string())
        .map(|k| {
            if k == KB_JAN {
                KB_JAN
            } else if k == KB_FEB {
                KB_FEB
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(superseded.len(), 2);
    assert!(superseded.contains(&KB_JAN) && superseded.contains(&KB_FEB));
    assert!(
        list(&s, &["--not-superseded"])
            .iter()
            .all(|r| r["kb"] != KB_JAN && r["kb"] != KB_FEB)
    );
    let office = by_kb(&rows, "4011035");
    assert_eq!(office[0]["state"], "expired");
    assert_eq!(list(&s, &["--state", "expired"]).len(), 1);
    assert_eq!(list(&s, &["--product", "Windows Server 2019"]).len(), 1);
    assert_eq!(list(&s, &["--kb", "KB5034122"]).len(), 1);
    let sec = list(&s, &["--classification", SECURITY]);
    assert!(
        sec.iter()
            .all(|r| r["classification"] == "Security Updates")
    );

    let mar = json(&[
        "updates",
        "show",
        "--store",
        sp,
        &format!("KB{KB_MAR}"),
        "--json",
    ]);
    let sup: Vec<&str> = mar["supersedes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kb"].as_str().unwrap())
        .collect();
    assert!(sup.contains(&KB_JAN) && sup.contains(&KB_FEB), "{mar}");
    assert_eq!(mar["revision"], 201);
    assert_eq!(
        mar["files"][0]["present"], false,
        "its payload is not in fixtures/content"
    );
    let jan = json(&["updates", "show", "--store", sp, KB_JAN, "--json"]);
    assert_eq!(jan["superseded_by"].as_array().unwrap().len(), 2);
    assert_eq!(jan["files"][0]["present"], true);
    assert_eq!(jan["files"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(jan["files"][0]["sha1"].as_str().unwrap().len(), 40);
    assert!(jan["severity"].is_string());
    assert_eq!(jan["products"][0], "Windows 10");
    let bundle = list(&s, &["--kb", "5034765"]);
    let parent = bundle
        .iter()
        .find(|r| {
            r["products"]
                .as_array()
                .map(|p| !p.is_empty())
                .unwrap_or(false)
        })
        .unwrap();
    let pj = json(&[
        "updates",
        "show",
        "--store",
        sp,
        parent["update_id"].as_str().unwrap(),
        "--json",
    ]);
    assert_eq!(pj["bundled"].as_array().unwrap().len(), 2);
    // An ambiguous KB lists the candidates.
    let (code, _, err) = run_any(&["updates", "show", "--store", sp, "KB5034765"]);
    assert_eq!(code, 2);
    assert!(err.contains("names 3 updates"), "{err}");
}

#[test]
fn content_import_matches_by_digest_and_reports_missing() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let st = json(&["status", "--store", p(&s), "--json"]);
    assert_eq!(st["content"]["missing"], 1, "{st}");
    assert!(st["content"]["present"].as_u64().unwrap() >= 9);
    // Each present file is in the content folder under its SHA-256, with those bytes.
    let refs = json(&["updates", "show", "--store", p(&s), KB_JAN, "--json"]);
    let sha = refs["files"][0]["sha256"].as_str().unwrap();
    let stored = stored_path(&s, sha);
    let bytes = fs::read(&stored).expect("content file");
    assert_eq!(hex::encode(offsync::hash::sha256(&bytes)), sha);
    // Again: nothing new.
    let r = json(&[
        "content",
        "import",
        "--store",
        p(&s),
        p(&content_fixtures()),
        "--json",
    ]);
    assert_eq!(r["added_files"], 0);
    assert!(
        r["unmatched"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u.as_str().unwrap().ends_with("unrelated-driver.cab"))
    );
    assert_eq!(r["missing"].as_array().unwrap().len(), 1);
    assert!(
        fs::read_dir(s.join("staging")).unwrap().next().is_none(),
        "staging is left empty"
    );
}

#[test]
fn revisions_expiry_and_removal_from_a_changed_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    copy_tree(&upstream_fixtures(), &up);
    let s = synced_from(
        dir.path(),
        "s",
        &up,
        &[
            "--product",
            "Windows",
            "--classification",
            "Security Updates",
            "--classification",
            "Updates",
        ],
    );
    let sp = p(&s);
    let before = list(&s, &[]);

    let jan = up.join("update-a1-win10-2024-01-kb5034122.xml");
    let text = fs::read_to_string(&jan).unwrap();
    assert!(text.contains("RevisionNumber=\"200\""));
    fs::write(
        &jan,
        text.replacen("RevisionNumber=\"200\"", "RevisionNumber=\"300\"", 1),
    )
    .unwrap();
    let feb = up.join("update-a2-win10-2024-02-kb5034763.xml");
    let text = fs::read_to_string(&feb).unwrap();
    fs::write(
        &feb,
        text.replacen(
            "PublicationState=\"Published\"",
            "PublicationState=\"Expired\"",
            1,
        ),
    )
    .unwrap();
    fs::remove_file(up.join("update-g2-ws2012r2-kb3019978.xml")).unwrap();

    let r = json(&["sync", "--store", sp, "--from", p(&up), "--json"]);
    assert_eq!(
        (
            r["updated"].as_u64(),
            r["expired"].as_u64(),
            r["removed"].as_u64(),
            r["new"].as_u64()
        ),
        (Some(1), Some(1), Some(1), Some(0)),
        "{r}"
    );
    let after = list(&s, &[]);
    assert_eq!(
        after.len(),
        before.len(),
        "a removed update stays as a tombstone"
    );
    assert_eq!(by_kb(&after, KB_JAN)[0]["revision"], 300);
    assert_eq!(by_kb(&after, KB_FEB)[0]["state"], "expired");
    assert_eq!(by_kb(&after, "3019978")[0]["state"], "removed");
    let seq_before: u64 = before
        .iter()
        .map(|r| r["changed_seq"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(by_kb(&after, "3019978")[0]["changed_seq"].as_u64().unwrap() > seq_before);
}

#[test]
fn bad_input_names_the_file_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    copy_tree(&upstream_fixtures(), &up);
    let s = synced_store(dir.path(), "s");
    let sp = p(&s);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("zz-malformed.xml", b"<upd:Update xmlns:upd=\"http://schemas.microsoft.com/msus/2002/12/Update\"><upd:UpdateIdentity UpdateID=\"x\"".to_vec(), "zz-malformed.xml"),
        ("zz-latin1.xml", b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><upd:Update/>".to_vec(), "zz-latin1.xml"),
        ("zz-noidentity.xml", b"<upd:Update xmlns:upd=\"http://schemas.microsoft.com/msus/2002/12/Update\"><upd:Properties UpdateType=\"Software\"/></upd:Update>".to_vec(), "zz-noidentity.xml"),
    ];
    for (name, bytes, must_name) in cases {
        let bad_up = dir.path().join(format!("up-{name}"));
        copy_tree(&up, &bad_up);
        fs::write(bad_up.join(name), bytes).unwrap();
        let before = fingerprint(&s);
        let (code, _, err) = run_any(&["sync", "--store", sp, "--from", p(&bad_up)]);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(
            err.contains(must_name),
            "{name}: the error names the file: {err}"
        );
        let after = fingerprint(&s);
        for (table, rows) in &before {
            if table != "sync_runs" {
                assert_eq!(rows, &after[table], "{name}: table {table} changed");
            }
        }
        let st = json(&["status", "--store", sp, "--json"]);
        assert_eq!(st["last_sync"]["outcome"], "failed");
        assert!(
            st["last_sync"]["error"]
                .as_str()
                .unwrap()
                .contains(must_name)
        );
    }
    // A duplicate revision with different content.
    let dup_up = dir.path().join("up-dup");
    copy_tree(&up, &dup_up);
    let text = fs::read_to_string(dup_up.join("update-a1-win10-2024-01-kb5034122.xml")).unwrap();
    fs::write(
        dup_up.join("zz-copy.xml"),
        text.replacen("<upd:KBArticleID>5034122<", "<upd:KBArticleID>5034199<", 1),
    )
    .unwrap();
    let (code, _, err) = run_any(&["sync", "--store", sp, "--from", p(&dup_up)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("appears twice with different content") && err.contains("zz-copy.xml"),
        "{err}"
    );
}

#[test]
fn language_criteria_leave_out_other_language_packs() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_from(
        dir.path(),
        "s",
        &upstream_fixtures(),
        &[
            "--product",
            "Windows 10",
            "--classification",
            "Updates",
            "--classification",
            "Critical Updates",
            "--language",
            "de",
        ],
    );
    let titles: Vec<String> = list(&s, &[])
        .iter()
        .map(|r| r["title"].as_str().unwrap().to_string())
        .collect();
    assert!(titles.iter().any(|t| t.contains("German")), "{titles:?}");
    assert!(!titles.iter().any(|t| t.contains("French")), "{titles:?}");
    assert!(
        titles.iter().any(|t| t.contains("KB5034203")),
        "language-neutral updates stay: {titles:?}"
    );
}

#[test]
fn a_child_update_point_syncs_from_its_parent_with_narrower_criteria() {
    let dir = tempfile::tempdir().unwrap();
    let parent = synced_store(dir.path(), "parent");
    let child = init_store(dir.path(), "child");
    let cp = p(&child);
    run(&["upstream", "set", "--store", cp, p(&parent)], 0);
    run(&["sync", "--store", cp], 0);
    set_criteria(
        &child,
        &[
            "--product",
            "Windows 10",
            "--classification",
            "Security Updates",
        ],
    );
    let r = json(&["sync", "--store", cp, "--json"]);
    assert_eq!(r["new"], 3, "{r}");
    let kbs: Vec<String> = list(&child, &[])
        .iter()
        .map(|r| r["kb"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kbs.len(), 3);
    for kb in [KB_JAN, KB_FEB, KB_MAR] {
        assert!(kbs.iter().any(|k| k == kb), "{kbs:?}");
    }
    let r = json(&["sync", "--store", cp, "--json"]);
    assert_eq!(
        (r["new"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(3))
    );
    // The parent expires an update; the child follows.
    let pconn = rusqlite::Connection::open(parent.join("offsync.db")).unwrap();
    pconn
        .execute(
            "UPDATE updates SET state = 'expired' WHERE kb = ?1",
            [KB_JAN],
        )
        .unwrap();
    drop(pconn);
    let r = json(&["sync", "--store", cp, "--json"]);
    assert_eq!(r["expired"], 1, "{r}");
}

#[test]
fn real_update_documents_sync_when_present() {
    let Some(real) = real_data("upd-update-xml") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "real");
    let sp = p(&s);
    let r = json(&["sync", "--store", sp, "--from", p(&real), "--json"]);
    assert_eq!(r["categories"], 1, "the Exchange 2000 Server category: {r}");
    set_criteria(&s, &["--product", WIN11, "--classification", SECURITY]);
    run(&["sync", "--store", sp, "--from", p(&real)], 0);
    let rows = list(&s, &[]);
    let kbs: Vec<&str> = rows.iter().filter_map(|r| r["kb"].as_str()).collect();
    assert!(
        kbs.contains(&"5013943") && kbs.contains(&"5083769"),
        "{rows:#?}"
    );
    let u = json(&[
        "updates",
        "show",
        "--store",
        sp,
        "7b6d13c6-6401-4a10-a61f-1dab8d93356e",
        "--json",
    ]);
    assert_eq!(u["revision"], 200);
    assert_eq!(u["severity"], "Critical");
    assert_eq!(u["supersedes"].as_array().unwrap().len(), 14);
    // 29 LocalizedProperties, each in its own language.
    assert_eq!(u["titles"].as_object().unwrap().len(), 29);
}

#[test]
fn an_empty_upstream_does_not_tombstone_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let before = fingerprint(&s);
    let (code, _, err) = run_any(&["sync", "--store", p(&s), "--from", p(&empty)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--allow-mass-removal"), "{err}");
    let after = fingerprint(&s);
    for (table, rows) in &before {
        if table != "sync_runs" {
            assert_eq!(rows, &after[table], "table {table} changed");
        }
    }
    let r = json(&[
        "sync",
        "--store",
        p(&s),
        "--from",
        p(&empty),
        "--allow-mass-removal",
        "--json",
    ]);
    assert_eq!(r["removed"], 14);
}

#[test]
fn list_filters_take_families_and_any_kb_spelling_and_decline_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let fam = list(&s, &["--product", "Windows"]);
    // Every update but Office's, the two bundle children and the detectoid, which have no
    // category of their own.
    assert_eq!(fam.len(), list(&s, &[]).len() - 4, "{fam:#?}");
    assert!(
        fam.iter()
            .all(|r| r["products"][0].as_str().unwrap().starts_with("Windows"))
    );
    assert_eq!(list(&s, &["--kb", "kb5034122"]).len(), 1);
    run(&["updates", "decline", "--store", p(&s), "KB5034122"], 0);
    let seq = json(&["status", "--store", p(&s), "--json"])["totals"]["change_seq"].clone();
    run(&["updates", "decline", "--store", p(&s), "KB5034122"], 0);
    assert_eq!(
        json(&["status", "--store", p(&s), "--json"])["totals"]["change_seq"],
        seq
    );
}
