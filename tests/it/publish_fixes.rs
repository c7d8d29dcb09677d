//! Fixes from the review of the publish code (`publish wsus`, `publish share`): each test
//! reproduces one finding through the binary and fails without its fix.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

const B1: &str = "5f82e7d6-8f63-4f0a-817f-72d40c32c46a";
/// B1's payload (a bundled child of B0) in the WSUS layout.
const B1_FILE: &str = "A8/86343E77D1ED7165A16263B602549197AB9F94A8.cab";

fn wsus(store: &Path, out: &Path, extra: &[&str]) -> Value {
    publish_json("wsus", store, out, extra)
}

fn db(store: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(store.join("offsync.db")).unwrap()
}

fn published_ids(r: &Value) -> Vec<String> {
    r["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

/// Review item 2: a right-sized file at a content place that is not the store's copy (a
/// crash left it half written, or someone changed it) is read and replaced, not trusted.
#[test]
fn a_right_sized_wrong_file_in_wsus_content_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(dir.path(), "s");
    let out = dir.path().join("pub");
    wsus(&store, &out, &[]);
    let placed = out.join("WsusContent").join(B1_FILE);
    let good = fs::read(&placed).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0xff;
    fs::remove_file(&placed).unwrap(); // a file of its own, not the store's copy
    fs::write(&placed, &bad).unwrap();
    let r = wsus(&store, &out, &["--full"]);
    let c = &r["content"];
    assert_eq!(
        c["linked"].as_u64().unwrap() + c["copied"].as_u64().unwrap(),
        1,
        "{c}"
    );
    assert_eq!(
        fs::read(&placed).unwrap(),
        good,
        "replaced by the right bytes"
    );
    // A link to the store's copy is left alone without a read.
    let r = wsus(&store, &out, &["--full"]);
    assert_eq!(r["content"]["bytes_written"], 0, "{r}");
}

/// Review item 3: a document that arrives after its revision (the store first had the
/// revision without it, as from wsusscn2.cab) is published by the next `--since-last`.
#[test]
fn since_last_publishes_an_update_whose_document_came_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(dir.path(), "s");
    // The store holds B1's revision without its document (as a sync from the offline
    // catalog leaves it); the folder source is read again in full next time.
    {
        let c = db(&store);
        c.execute("DELETE FROM documents WHERE id = ?1", [B1])
            .unwrap();
        c.execute("UPDATE updates SET fingerprint = NULL", [])
            .unwrap();
    }
    let out = dir.path().join("pub");
    let r1 = wsus(&store, &out, &[]);
    assert!(!published_ids(&r1).contains(&B1.to_string()), "{r1}");
    assert!(r1["missing_documents"].to_string().contains(B1), "{r1}");
    // The same revision again, now with its document.
    let s = sync_json(&store, &upstream_fixtures(), &[]);
    assert!(
        db(&store)
            .query_row("SELECT COUNT(*) FROM documents WHERE id = ?1", [B1], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
            == 1,
        "the sync kept the document: {s}"
    );
    let r2 = wsus(&store, &out, &["--since-last"]);
    assert_eq!(r2["mode"], "since-last");
    assert!(published_ids(&r2).contains(&B1.to_string()), "{r2}");
    // And only once: the next run has nothing new.
    let r3 = wsus(&store, &out, &["--since-last"]);
    assert_eq!(r3["records"], 0, "{r3}");
}

/// Review item 4: a declined bundled child goes into the package with its parent, so its
/// payload is laid out, and `--prune` keeps it (also in `--since-last` mode).
#[test]
fn a_declined_bundled_childs_content_is_laid_out_and_kept_by_prune() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(dir.path(), "s");
    run(&["updates", "decline", "--store", p(&store), B1], 0);
    let out = dir.path().join("pub");
    let r = wsus(&store, &out, &["--prune"]);
    assert!(published_ids(&r).contains(&B1.to_string()), "{r}");
    let placed = out.join("WsusContent").join(B1_FILE);
    assert!(placed.is_file(), "the declined child's payload: {r}");
    let r = wsus(&store, &out, &["--since-last", "--prune"]);
    assert_eq!(r["content"]["pruned"], 0, "{r}");
    assert!(placed.is_file());
    let r = wsus(&store, &out, &["--full", "--prune"]);
    assert_eq!(r["content"]["pruned"], 0, "{r}");
    assert!(placed.is_file());
}

/// Review item 5: two updates naming one file (one SHA-1) with different extensions: WSUS
/// asks for each name, so both are laid out.
#[test]
fn one_sha1_under_two_extensions_is_laid_out_under_both() {
    let dir = tempfile::tempdir().unwrap();
    let payloads = dir.path().join("payloads");
    fs::create_dir_all(&payloads).unwrap();
    let bytes = b"one payload, two names".to_vec();
    fs::write(payloads.join("p.bin"), &bytes).unwrap();
    let d = offsync::hash::hash_reader(&mut bytes.as_slice()).unwrap();
    let docs: Vec<(String, String)> = [("1", "x-kb1.cab"), ("2", "x-kb2.msu")]
        .iter()
        .map(|(i, name)| {
            let id = format!("00000000-0000-4000-8000-00000000000{i}");
            let xml = update_with_file_xml(&id, 7000 + 1, name, name, &d.sha1, &d.sha256, d.size);
            (format!("u{i}.xml"), xml)
        })
        .collect();
    let up = upstream_with(dir.path(), "up", &docs);
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
    run(&["content", "import", "--store", p(&s), p(&payloads)], 0);
    let out = dir.path().join("pub");
    let r = wsus(&s, &out, &["--prune"]);
    let hex = hex_upper(&d.sha1);
    let bucket = out.join("WsusContent").join(&hex[38..]);
    for ext in ["cab", "msu"] {
        let f = bucket.join(format!("{hex}.{ext}"));
        assert_eq!(
            fs::read(&f).ok(),
            Some(bytes.clone()),
            "{}: {r}",
            f.display()
        );
    }
    assert_eq!(r["content"]["files"], 2, "{r}");
    assert_eq!(r["content"]["pruned"], 0, "{r}");
}

fn hex_upper(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Review item 6: `publish share` and `publish wsus` refuse each other's folder (a share's
/// `--prune` removed a WSUS publish kept there).
#[test]
fn share_and_wsus_publishes_refuse_each_others_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(dir.path(), "s");
    let w = dir.path().join("wsus");
    wsus(&store, &w, &[]);
    let (code, _, err) = run_any(&[
        "publish",
        "share",
        "--store",
        p(&store),
        "--out",
        p(&w),
        "--prune",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("WSUS publish"), "{err}");
    assert!(
        w.join("WsusContent").join(B1_FILE).is_file(),
        "nothing removed"
    );
    let sh = dir.path().join("share");
    publish_json("share", &store, &sh, &[]);
    let (code, _, err) = run_any(&["publish", "wsus", "--store", p(&store), "--out", p(&sh)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("share"), "{err}");
    assert!(!sh.join("WsusContent").exists());
}

/// Review item 8: a package limit a cabinet cannot hold is refused before anything runs.
#[test]
fn a_package_limit_over_the_ceiling_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = init_store(dir.path(), "s");
    let out = dir.path().join("pub");
    for size in ["3G", "1537M"] {
        let (code, _, err) = run_any(&[
            "publish",
            "wsus",
            "--store",
            p(&store),
            "--out",
            p(&out),
            "--max-package-size",
            size,
        ]);
        assert_eq!(code, 2, "{size}: {err}");
        assert!(err.contains("1536M"), "{err}");
    }
    assert!(!out.exists(), "nothing written");
    wsus(&store, &out, &["--max-package-size", "1536M"]);
}

/// Review item 9: README.txt names every package in the folder, earlier ones too, in the
/// order of their numbers (sequence 9 before 10).
#[test]
fn the_readme_lists_earlier_packages_in_numeric_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(dir.path(), "s");
    let out = dir.path().join("pub");
    let r1 = wsus(&store, &out, &[]);
    let first = r1["packages"][0]["name"].as_str().unwrap().to_string();
    let seq = r1["change_sequence"].as_u64().unwrap();
    assert!(seq > 10, "the fake older packages come before: {seq}");
    for n in [
        "offsync-s-10-1.cab",
        "offsync-s-9-2.cab",
        "offsync-s-9-1.cab",
    ] {
        fs::write(out.join(n), b"an earlier package").unwrap();
    }
    // Nothing changed: this run writes no package.
    let r2 = wsus(&store, &out, &["--since-last"]);
    assert_eq!(r2["packages"].as_array().unwrap().len(), 0, "{r2}");
    let readme = fs::read_to_string(out.join("README.txt")).unwrap();
    let at = |n: &str| {
        readme
            .find(&format!("import <this folder>\\{n} "))
            .unwrap_or_else(|| panic!("{n} not named:\n{readme}"))
    };
    assert!(at("offsync-s-9-1.cab") < at("offsync-s-9-2.cab"));
    assert!(at("offsync-s-9-2.cab") < at("offsync-s-10-1.cab"));
    assert!(at("offsync-s-10-1.cab") < at(&first));
    assert!(readme.contains("older packages first"), "{readme}");
    assert!(readme.contains("nothing new to import"), "{readme}");
}

/// Review item 10: categories come parent first even where the kinds alone would not order
/// them (a product under a product).
#[test]
fn a_nested_product_comes_after_its_parent_product() {
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    copy_tree(&upstream_fixtures(), &up);
    const WIN11: &str = "72e7624a-5b00-45d2-b92f-e561c0a6a160";
    // Sorts before its parent by id.
    const CHILD: &str = "00000000-0000-4000-8000-0000000000aa";
    let text = fs::read_to_string(up.join("category-product-windows-11.xml")).unwrap();
    let child = text
        .replace(
            &format!("UpdateID=\"{WIN11}\""),
            &format!("UpdateID=\"{CHILD}\""),
        )
        .replace(
            "UpdateID=\"6964aab4-c5b5-43bd-a17d-ffb4346a8e1d\"",
            &format!("UpdateID=\"{WIN11}\""),
        )
        .replace("Windows 11<", "Windows 11 edition<");
    fs::write(up.join("category-product-windows-11-edition.xml"), child).unwrap();
    let store = synced_from(dir.path(), "s", &up, BROAD_CRITERIA);
    let r = wsus(&store, &dir.path().join("pub"), &[]);
    let ids = published_ids(&r);
    let at = |id: &str| {
        ids.iter()
            .position(|x| x == id)
            .unwrap_or_else(|| panic!("{id} not published: {r}"))
    };
    assert!(at(WIN11) < at(CHILD), "{ids:?}");
}

/// Review item 13: a store whose updates have no documents (as from wsusscn2.cab) gives one
/// warning per reason, and the report names at most 100 of each list while counting all.
#[test]
fn left_out_updates_are_counted_and_named_at_most_a_hundred() {
    let dir = tempfile::tempdir().unwrap();
    let n = 120;
    let docs: Vec<(String, String)> = (0..n)
        .map(|i| {
            let id = format!("00000000-0000-4000-8000-{:012}", i + 1);
            let name = format!("p{i}.cab");
            let bytes = format!("payload {i}").into_bytes();
            let d = offsync::hash::hash_reader(&mut bytes.as_slice()).unwrap();
            let xml = update_with_file_xml(&id, 8000 + i, &name, &name, &d.sha1, &d.sha256, d.size);
            (format!("u{i}.xml"), xml)
        })
        .collect();
    let up = upstream_with(dir.path(), "up", &docs);
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
    db(&s)
        .execute(
            "DELETE FROM documents WHERE id LIKE '00000000-0000-4000-8000-%'",
            [],
        )
        .unwrap();
    let out = dir.path().join("pub");
    let (code, stdout, stderr) = run_any(&[
        "publish",
        "wsus",
        "--store",
        p(&s),
        "--out",
        p(&out),
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["left_out_count"], n, "{r}");
    assert_eq!(r["left_out"].as_array().unwrap().len(), 100);
    let reasons = r["left_out_reasons"].as_object().unwrap();
    assert_eq!(reasons.len(), 1, "{r}");
    assert_eq!(reasons.values().next().unwrap(), n);
    assert_eq!(r["content"]["missing"], n);
    assert_eq!(r["content"]["missing_files"].as_array().unwrap().len(), 100);
    let lines = stderr.lines().filter(|l| l.contains("left out")).count();
    assert_eq!(lines, 1, "one warning for the reason:\n{stderr}");
    assert!(
        stderr.contains(&format!("left out {n} update(s)")),
        "{stderr}"
    );
}

/// Review item 14: `publish wsus` shares the share's check of the output folder: not inside
/// the store, nor around it.
#[test]
fn publish_wsus_refuses_a_folder_inside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = init_store(dir.path(), "s");
    for out in [store.join("pub"), store.clone(), dir.path().to_path_buf()] {
        let (code, _, err) = run_any(&["publish", "wsus", "--store", p(&store), "--out", p(&out)]);
        assert_eq!(code, 2, "{}: {err}", out.display());
        assert!(err.contains("inside one another"), "{err}");
    }
    assert!(!store.join("pub").exists() && !store.join("WsusContent").exists());
    // Missing parents are still created.
    wsus(&store, &dir.path().join("a").join("b"), &[]);
}

/// A progress whose `cancelled` turns true after `after` items advanced (a Ctrl-C arriving
/// in the middle of the content step, without a race against a real signal).
struct CancelAfter {
    after: u64,
    done: std::sync::atomic::AtomicU64,
}

impl offsync::progress::Progress for CancelAfter {
    fn start(&self, _: &str, _: Option<u64>, _: offsync::progress::Unit) {}
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    }
    fn finish(&self) {}
    fn note(&self, _: &str) {}
    fn cancelled(&self) -> bool {
        self.done.load(std::sync::atomic::Ordering::SeqCst) >= self.after
    }
}

fn dot_entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.ends_with(".cab") || n == "publish.json")
        .collect()
}

/// Review item 7: a cancelled `publish wsus` (what Ctrl-C does: the command installs the
/// handler, the library checks `cancelled`) stops with the interrupted error (exit 130),
/// leaves no temporary file nor package of the run in DIR, and records no publish; the next
/// run starts clean.
#[test]
fn a_cancelled_wsus_publish_stops_and_leaves_no_temporary_files() {
    use offsync::publish::wsus::{DEFAULT_MAX_PACKAGE_BYTES, WsusOptions, publish_wsus};
    let dir = tempfile::tempdir().unwrap();
    let store_dir = synced_store(dir.path(), "s");
    let out = dir.path().join("pub");
    let opts = WsusOptions {
        out: out.clone(),
        full: false,
        prune: false,
        max_package_bytes: DEFAULT_MAX_PACKAGE_BYTES,
        created: offsync::time::Timestamp::now(),
    };
    let store = offsync::store::Store::open(&store_dir).unwrap();
    let cancel = CancelAfter {
        after: 2,
        done: Default::default(),
    };
    let e = publish_wsus(&store, &opts, &cancel).unwrap_err();
    assert_eq!(e.kind, offsync::error::ErrorKind::Interrupted, "{e:?}");
    assert_eq!(dot_entries(&out), Vec::<String>::new(), "left in DIR");
    drop(store);
    // Not recorded: the next run is a full one and writes the package.
    let r = wsus(&store_dir, &out, &[]);
    assert_eq!(r["mode"], "full", "{r}");
    assert_eq!(r["packages"].as_array().unwrap().len(), 1);
}
