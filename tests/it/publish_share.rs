//! `publish share`: the layout and names, idempotence, the SHA-1 check of what is written,
//! `--prune`, the indexes, hostile names from update documents, declined and removed updates,
//! the offline catalog, and `index.html` rendered in headless Chromium.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

const A1: &str = "windows10.0-kb5034122-x64_1340b2a8faf7aa1e57607d41af0436dbe3d3d943.msu";
const A1_SHA256: &str = "ba1c7aae34e4379a93e1d2e4c048d04f60962563ad87f247044b1228343e804f";
const F2: &str =
    "microsoft-windows-client-language-pack_x64_fr-fr_fb6ad5f87116afc162a72efacb8aa7666258dbc0.cab";
const D: &str = "windows10.0-kb5034614-x64_9adecb4041f3b4edf762e173a141a568448fe527.cab";

/// The paths (relative, forward slashes) the fixture store publishes.
const FIXTURE_PATHS: [&str; 9] = [
    "Office 2016/Critical Updates/mso2016-kb4011035-fullfile-x86-glb.exe",
    "Windows 10/Critical Updates/windows10.0-kb5034203-x64_c4ccda6dbf887d19a0ac2b1385c1298c5ccf2ed8.cab",
    "Windows 10/Security Updates/windows10.0-kb5034122-x64_1340b2a8faf7aa1e57607d41af0436dbe3d3d943.msu",
    "Windows 10/Security Updates/windows10.0-kb5034763-x64_2a83d5bf55b2a127afa427b2df37b701bc65d8fc.msu",
    "Windows 10/Updates/microsoft-windows-client-language-pack_x64_de-de_ebfe7b5cc9879356dc56d9bcffe9270343b37ede.cab",
    "Windows 10/Updates/microsoft-windows-client-language-pack_x64_fr-fr_fb6ad5f87116afc162a72efacb8aa7666258dbc0.cab",
    // b1 and b2 have no categories: they go where their bundle b0 goes.
    "Windows 11/Security Updates/ssu-22621.3140-x64_c0c763bca8e9a2994fbedc7db391619919a7675e.cab",
    "Windows 11/Security Updates/windows11.0-kb5034765-x64_86343e77d1ed7165a16263b602549197ab9f94a8.cab",
    "Windows Server 2019/Updates/windows10.0-kb5034614-x64_9adecb4041f3b4edf762e173a141a568448fe527.cab",
];

fn publish(store: &Path, out: &Path, extra: &[&str]) -> Value {
    publish_json("share", store, out, extra)
}

/// Every file and link under `dir` (relative, forward slashes), not following links.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if !e.file_type().is_dir() {
            let rel = e.path().strip_prefix(dir).unwrap();
            out.push(rel.to_str().unwrap().replace('\\', "/"));
        }
    }
    out
}

/// The files under the product folders (what is not an index at the root).
fn published(dir: &Path) -> Vec<String> {
    tree(dir).into_iter().filter(|p| p.contains('/')).collect()
}

/// (inode, mtime) of every entry of `tree`.
#[cfg(unix)]
fn stamps(dir: &Path) -> BTreeMap<String, (u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    tree(dir)
        .into_iter()
        .map(|rel| {
            let m = fs::symlink_metadata(dir.join(&rel)).unwrap();
            (rel, (m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

fn index_json(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap()
}

/// Records of an RFC 4180 CSV text (quoted fields, doubled quotes, CRLF).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

#[test]
fn the_share_has_a_folder_per_product_and_classification_with_checked_links_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let out = dir.path().join("share");
    let r = publish(&s, &out, &[]);
    assert_eq!(published(&out), FIXTURE_PATHS, "{r}");
    assert_eq!(
        tree(&out)
            .iter()
            .filter(|p| !p.contains('/'))
            .collect::<Vec<_>>(),
        ["index.csv", "index.html", "index.json"]
    );
    assert_eq!(
        (
            &r["linked"],
            &r["copied"],
            &r["unchanged"],
            &r["files"],
            &r["updates"]
        ),
        (
            &Value::from(9),
            &Value::from(0),
            &Value::from(0),
            &Value::from(9),
            &Value::from(9)
        ),
        "{r}"
    );
    // a3's file is referenced but was never taken in.
    assert_eq!(r["missing"], 1, "{r}");
    assert!(
        r["missing_files"][0]["name"]
            .as_str()
            .unwrap()
            .contains("kb5035845")
    );
    assert_eq!(
        (&r["damaged"], &r["catalog"]),
        (&Value::from(0), &Value::from("none"))
    );
    // Each file is the store's own copy (same bytes; a hard link on this file system).
    let placed = out.join("Windows 10/Security Updates").join(A1);
    assert_eq!(sha_hex(&fs::read(&placed).unwrap()), A1_SHA256);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let stored = fs::metadata(stored_path(&s, A1_SHA256)).unwrap();
        assert_eq!(fs::metadata(&placed).unwrap().ino(), stored.ino());
    }

    let ix = index_json(&out);
    let rows = ix["files"].as_array().unwrap();
    assert_eq!(rows.len(), 9);
    assert_eq!(
        (&ix["updates"], &ix["paths"], &ix["rows"]),
        (&Value::from(9), &Value::from(9), &Value::from(9))
    );
    let a1 = rows.iter().find(|r| r["file_name"] == A1).unwrap();
    for (k, v) in [
        ("update_id", "1d956cd9-8a3f-44d7-8ccb-031ebc0ba36b"),
        ("kb", "5034122"),
        ("classification", "Security Updates"),
        ("product", "Windows 10"),
        ("severity", "Important"),
        ("sha1", "1340b2a8faf7aa1e57607d41af0436dbe3d3d943"),
        ("sha256", A1_SHA256),
        ("path", &format!("Windows 10/Security Updates/{A1}")),
    ] {
        assert_eq!(a1[k], v, "{k} in {a1}");
    }
    assert_eq!(
        (&a1["revision"], &a1["size"], &a1["superseded"]),
        (&Value::from(200), &Value::from(48213), &Value::from(true))
    );
    assert_eq!(a1["products"], serde_json::json!(["Windows 10"]));
    assert!(a1["title"].as_str().unwrap().contains("(KB5034122)"));

    let csv = parse_csv(&fs::read_to_string(out.join("index.csv")).unwrap());
    assert_eq!(csv[0][0], "update_id");
    assert_eq!(csv[0].last().unwrap(), "path");
    assert_eq!(csv.len(), 10);
    let path_col = csv[0].iter().position(|h| h == "path").unwrap();
    let mut csv_paths: Vec<&str> = csv[1..].iter().map(|r| r[path_col].as_str()).collect();
    csv_paths.sort();
    assert_eq!(csv_paths, FIXTURE_PATHS);
    assert!(csv.iter().all(|r| r.len() == csv[0].len()));
}

#[test]
#[cfg(unix)]
fn a_second_run_writes_nothing_and_a_copy_is_checked_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let out = dir.path().join("share");
    publish(&s, &out, &[]);
    // A copy made by other means (another file system's copy) is checked, and kept.
    let copy = out.join("Windows Server 2019/Updates").join(D);
    let bytes = fs::read(&copy).unwrap();
    fs::remove_file(&copy).unwrap();
    fs::write(&copy, &bytes).unwrap();
    let before = stamps(&out);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = publish(&s, &out, &[]);
    assert_eq!(
        (
            &r["linked"],
            &r["copied"],
            &r["unchanged"],
            &r["indexes_written"],
            &r["bytes_written"]
        ),
        (
            &Value::from(0),
            &Value::from(0),
            &Value::from(9),
            &Value::from(0),
            &Value::from(0)
        ),
        "{r}"
    );
    assert_eq!(stamps(&out), before, "nothing was rewritten");
    // A file changed in the share is replaced by the store's copy.
    fs::write(&copy, vec![0u8; bytes.len()]).unwrap();
    let r = publish(&s, &out, &[]);
    assert_eq!(
        (&r["linked"], &r["unchanged"]),
        (&Value::from(1), &Value::from(8)),
        "{r}"
    );
    assert_eq!(fs::read(&copy).unwrap(), bytes);
}

#[test]
fn a_damaged_stored_copy_is_not_published_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let stored = stored_path(&s, A1_SHA256);
    let mut bytes = fs::read(&stored).unwrap();
    bytes[100] ^= 0xff;
    fs::write(&stored, &bytes).unwrap();
    let out = dir.path().join("share");
    let r = publish(&s, &out, &[]);
    assert_eq!(
        (&r["damaged"], &r["linked"]),
        (&Value::from(1), &Value::from(8)),
        "{r}"
    );
    assert_eq!(r["damaged_files"][0]["name"], A1, "{r}");
    assert!(!out.join("Windows 10/Security Updates").join(A1).exists());
    assert!(
        !fs::read_to_string(out.join("index.csv"))
            .unwrap()
            .contains(A1)
    );
    // The page says so instead of linking to it.
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("damaged in the store"), "{html}");
    // Text output warns on stderr.
    let (code, _, err) = run_any(&["publish", "share", "--store", p(&s), "--out", p(&out)]);
    assert_eq!(code, 0);
    assert!(err.contains("does not match its digests"), "{err}");
}

#[test]
fn declined_and_removed_updates_are_left_out_and_prune_removes_only_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    copy_tree(&upstream_fixtures(), &up);
    let s = synced_from(dir.path(), "s", &up, BROAD_CRITERIA);
    run(
        &[
            "content",
            "import",
            "--store",
            p(&s),
            p(&content_fixtures()),
        ],
        0,
    );
    let out = dir.path().join("share");
    publish(&s, &out, &[]);
    assert_eq!(published(&out), FIXTURE_PATHS);

    // What someone else put there, and what no longer belongs.
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("keep.txt"), "outside").unwrap();
    fs::write(out.join("Windows 10/Security Updates/stray.txt"), "x").unwrap();
    fs::create_dir_all(out.join("Old product/Old class/deep")).unwrap();
    fs::write(out.join("Old product/Old class/deep/old.cab"), "x").unwrap();
    fs::write(out.join("notes.txt"), "the admin's own").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&outside, out.join("linked-folder")).unwrap();
        std::os::unix::fs::symlink(outside.join("keep.txt"), out.join("Windows 10/link.txt"))
            .unwrap();
    }
    run(&["updates", "decline", "--store", p(&s), "KB5034614"], 0);
    fs::remove_file(up.join("update-f2-win10-langpack-fr.xml")).unwrap();
    let r = sync_json(&s, &up, &[]);
    assert_eq!(r["removed"], 1, "{r}");

    // Without --prune nothing is deleted, but the indexes no longer list them.
    let r = publish(&s, &out, &[]);
    assert_eq!(
        (&r["pruned"], &r["files"]),
        (&Value::from(0), &Value::from(7)),
        "{r}"
    );
    assert!(out.join("Windows Server 2019/Updates").join(D).exists());
    let csv = fs::read_to_string(out.join("index.csv")).unwrap();
    assert!(!csv.contains(D) && !csv.contains(F2), "{csv}");
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("KB5034614"));

    let r = publish(&s, &out, &["--prune"]);
    let expected: Vec<&str> = FIXTURE_PATHS
        .iter()
        .copied()
        .filter(|p| !p.ends_with(D) && !p.ends_with(F2))
        .collect();
    assert_eq!(published(&out), expected, "{r}");
    let root: Vec<String> = tree(&out)
        .into_iter()
        .filter(|p| !p.contains('/'))
        .collect();
    assert_eq!(root, ["index.csv", "index.html", "index.json", "notes.txt"]);
    assert!(!out.join("Old product").exists() && !out.join("Windows Server 2019").exists());
    assert_eq!(
        fs::read_to_string(outside.join("keep.txt")).unwrap(),
        "outside"
    );
    // 2 published files, stray.txt, old.cab, 3 emptied folders (deep, Old class, Old product),
    // 2 emptied (Windows Server 2019/Updates and itself), and the links (2 on unix).
    let links = if cfg!(unix) { 2 } else { 0 };
    assert_eq!(r["pruned"], 2 + 2 + 3 + 2 + links, "{r}");
    assert_eq!(r["unchanged"], 7, "{r}");
    let again = publish(&s, &out, &["--prune"]);
    assert_eq!(
        (&again["pruned"], &again["unchanged"]),
        (&Value::from(0), &Value::from(7))
    );
}

#[test]
fn hostile_names_stay_inside_the_share_and_csv_quotes_titles() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("payloads");
    fs::create_dir_all(&content).unwrap();
    let hostile = [
        ("..\\evil.exe", "Update, with \"quotes\" <b>&amp;</b>"),
        ("../../escape.cab", "Second"),
        ("a/b", "Third"),
        ("CON", "Fourth"),
        ("dup.cab", "Fifth"),
        ("DUP.cab", "Sixth"),
    ];
    let mut docs = Vec::new();
    for (i, (file, title)) in hostile.iter().enumerate() {
        let bytes = format!("payload {i} of the hostile test").into_bytes();
        fs::write(content.join(format!("p{i}.bin")), &bytes).unwrap();
        let d = offsync::hash::hash_reader(&mut bytes.as_slice()).unwrap();
        let id = format!("00000000-0000-4000-8000-{:012}", i + 1);
        let xml_title = title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;");
        let xml_file = file.replace('&', "&amp;");
        let xml = update_with_file_xml(
            &id,
            1000 + i as u64,
            &xml_title,
            &xml_file,
            &d.sha1,
            &d.sha256,
            d.size,
        );
        docs.push((format!("u{i}.xml"), xml));
    }
    let up = upstream_with(dir.path(), "hostile-up", &docs);
    // The product's title is hostile too: it names the folder.
    let product = up.join("category-product-windows-10.xml");
    let text = fs::read_to_string(&product).unwrap();
    let text = text.replace(
        "<upd:Title>Windows 10</upd:Title>",
        "<upd:Title>../..\\CON</upd:Title>",
    );
    fs::write(&product, text).unwrap();
    let s = synced_from(
        dir.path(),
        "s",
        &up,
        &[
            "--product",
            "a3c2375d-0c8a-42f9-bce0-28333e198407",
            "--classification",
            "Security Updates",
        ],
    );
    run(&["content", "import", "--store", p(&s), p(&content)], 0);
    let share = dir.path().join("inner").join("share");
    fs::create_dir_all(share.parent().unwrap()).unwrap();
    let r = publish(&s, &share, &[]);
    assert_eq!(r["linked"], 6, "{r}");
    let mut got = published(&share);
    got.sort();
    let dup = |i: usize, n: &str| {
        let bytes = format!("payload {i} of the hostile test").into_bytes();
        let h = sha_hex(&bytes);
        let (stem, ext) = n.split_once('.').unwrap();
        format!("_.._CON/Security Updates/{stem}~{}.{ext}", &h[..8])
    };
    let mut want = vec![
        "_.._CON/Security Updates/_.._escape.cab".to_string(),
        "_.._CON/Security Updates/_CON".to_string(),
        "_.._CON/Security Updates/_evil.exe".to_string(),
        "_.._CON/Security Updates/a_b".to_string(),
        dup(4, "dup.cab"),
        dup(5, "DUP.cab"),
    ];
    want.sort();
    assert_eq!(got, want);
    // Nothing was written beside the share.
    assert_eq!(
        fs::read_dir(share.parent().unwrap()).unwrap().count(),
        1,
        "only the share in its parent"
    );

    let ix = index_json(&share);
    let first = ix["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file_name"] == "..\\evil.exe")
        .unwrap();
    assert_eq!(first["title"], hostile[0].1);
    assert_eq!(first["path"], "_.._CON/Security Updates/_evil.exe");
    assert_eq!(first["product"], "../..\\CON");
    let text = fs::read_to_string(share.join("index.csv")).unwrap();
    assert!(
        text.contains("\"Update, with \"\"quotes\"\" <b>&amp;</b>\""),
        "{text}"
    );
    let csv = parse_csv(&text);
    let title_col = csv[0].iter().position(|h| h == "title").unwrap();
    let name_col = csv[0].iter().position(|h| h == "file_name").unwrap();
    let row = csv.iter().find(|r| r[name_col] == "..\\evil.exe").unwrap();
    assert_eq!(row[title_col], hostile[0].1);
    assert!(csv.iter().all(|r| r.len() == csv[0].len()));
    let html = fs::read_to_string(share.join("index.html")).unwrap();
    assert!(html.contains("Update, with &quot;quotes&quot; &lt;b&gt;&amp;amp;&lt;/b&gt;"));
    assert!(!html.contains("<b>&amp;</b>"));
}

#[test]
fn the_offline_catalog_goes_to_the_root_and_prune_takes_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    // The store records a catalog by its content file (a sync from wsusscn2.cab does this;
    // here any stored file stands for it).
    let set = |value: Option<&str>| {
        let conn = rusqlite::Connection::open(s.join("offsync.db")).unwrap();
        conn.execute("DELETE FROM store_info WHERE key = 'catalog_sha256'", [])
            .unwrap();
        if let Some(v) = value {
            conn.execute(
                "INSERT INTO store_info(key, value) VALUES ('catalog_sha256', ?1)",
                [v],
            )
            .unwrap();
        }
    };
    set(Some(A1_SHA256));
    let out = dir.path().join("share");
    let r = publish(&s, &out, &[]);
    assert_eq!(r["catalog"], "linked", "{r}");
    assert_eq!(
        sha_hex(&fs::read(out.join("wsusscn2.cab")).unwrap()),
        A1_SHA256
    );
    assert_eq!(index_json(&out)["catalog"], "wsusscn2.cab");
    assert_eq!(publish(&s, &out, &[])["catalog"], "unchanged");
    set(None);
    let r = publish(&s, &out, &["--prune"]);
    assert_eq!(
        (&r["catalog"], &r["pruned"]),
        (&Value::from("none"), &Value::from(1)),
        "{r}"
    );
    assert!(!out.join("wsusscn2.cab").exists());
    set(Some(&"ab".repeat(32)));
    assert_eq!(publish(&s, &out, &[])["catalog"], "missing");
}

#[test]
fn the_share_folder_is_made_only_where_it_may_be() {
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let (code, _, err) = run_any(&[
        "publish",
        "share",
        "--store",
        p(&s),
        "--out",
        p(&dir.path().join("no/such/share")),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = run_any(&[
        "publish",
        "share",
        "--store",
        p(&s),
        "--out",
        p(&s.join("share")),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("inside one another"), "{err}");
    assert!(!s.join("share").exists());
    let (code, _, err) = run_any(&["publish", "share", "--store", p(&s), "--out", p(dir.path())]);
    assert_eq!(code, 2, "{err}");
    let file = dir.path().join("a-file");
    fs::write(&file, "x").unwrap();
    let (code, _, err) = run_any(&["publish", "share", "--store", p(&s), "--out", p(&file)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a folder"), "{err}");
}

/// Whether `program` is on the PATH; without it the test skips, unless OFFSYNC_REQUIRE_TOOLS
/// is set (CI installs it).
fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("OFFSYNC_REQUIRE_TOOLS").is_none(),
            "{program} is not installed and OFFSYNC_REQUIRE_TOOLS is set (.ci/run must install it)"
        );
        eprintln!("SKIP: {program} is not installed (.ci/run installs it)");
    }
    found
}

/// Renders `page` in headless Chromium with every host name unresolvable; returns the DOM
/// after its scripts ran, and the URLs of the requests the page itself made (the browser's
/// own background requests, whose initiator is "not an origin", are not the page's).
fn render(page: &Path, work: &Path) -> (String, Vec<String>) {
    let netlog = work.join(format!(
        "{}.netlog.json",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join("profile").display()
        ))
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg("--host-resolver-rules=MAP * ~NOTFOUND")
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log: Value = serde_json::from_slice(&fs::read(&netlog).unwrap()).unwrap();
    let kind = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    let mut requests = Vec::new();
    for e in log["events"].as_array().unwrap() {
        let params = &e["params"];
        if e["type"] == kind && params["url"].is_string() && params["initiator"] != "not an origin"
        {
            requests.push(params["url"].as_str().unwrap().to_string());
        }
    }
    (String::from_utf8_lossy(&out.stdout).into_owned(), requests)
}

#[test]
fn index_html_renders_in_chromium_without_a_network_request() {
    if !have("chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let out = dir.path().join("share");
    publish(&s, &out, &[]);
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    for attr in ["src=", "href=", "url("] {
        for (i, _) in html.match_indices(attr) {
            let after = html[i + attr.len()..].trim_start_matches(['"', '\'', ' ']);
            assert!(
                !after.starts_with("http:")
                    && !after.starts_with("https:")
                    && !after.starts_with("//"),
                "an outside address in index.html: {}",
                &html[i..(i + 80).min(html.len())]
            );
        }
    }
    let (dom, requests) = render(&out.join("index.html"), dir.path());
    assert!(requests.is_empty(), "the page made requests: {requests:?}");
    for text in [
        "2024-01 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5034122)",
        "KB5034122",
        "KB4011035",
        "superseded",
        A1,
    ] {
        assert!(dom.contains(text), "{text} not in the rendered page");
    }
    // The script ran: the sortable headers became buttons.
    assert!(dom.contains("data-sortable=\"yes\""), "{dom}");
    assert_eq!(dom.matches("<button").count(), 3);
    // Links are relative and reach the published files.
    assert!(dom.contains(&format!("href=\"Windows%2010/Security%20Updates/{A1}\"")));

    // The check can fail: a page that loads an image from outside is caught.
    let probe = dir.path().join("probe.html");
    fs::write(
        &probe,
        "<html><body><img src=\"http://example.invalid/x.png\">probe</body></html>",
    )
    .unwrap();
    let (_, requests) = render(&probe, dir.path());
    assert!(
        requests.iter().any(|u| u.contains("example.invalid")),
        "{requests:?}"
    );
}

#[test]
#[cfg(unix)]
fn on_another_file_system_files_are_copied_and_checked() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let shm = Path::new("/dev/shm");
    let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).ok();
    if !shm.is_dir() || dev(shm) == dev(dir.path()) {
        println!("skipped: no second file system (/dev/shm) beside the temporary folder");
        return;
    }
    let s = synced_store(dir.path(), "s");
    let mut bytes = fs::read(stored_path(&s, A1_SHA256)).unwrap();
    bytes[7] ^= 1;
    fs::write(stored_path(&s, A1_SHA256), &bytes).unwrap();
    let other = tempfile::tempdir_in(shm).unwrap();
    let out = other.path().join("share");
    let r = publish(&s, &out, &[]);
    assert_eq!(
        (&r["copied"], &r["linked"], &r["damaged"]),
        (&Value::from(8), &Value::from(0), &Value::from(1)),
        "{r}"
    );
    assert!(!out.join("Windows 10/Security Updates").join(A1).exists());
    let d = out.join("Windows Server 2019/Updates").join(D);
    assert_eq!(
        fs::read(&d).unwrap(),
        fs::read(content_fixtures().join(D)).unwrap()
    );
    let r = publish(&s, &out, &[]);
    assert_eq!(
        (&r["copied"], &r["unchanged"]),
        (&Value::from(0), &Value::from(8)),
        "{r}"
    );
}
