//! Hostile inputs aimed at the store rather than at the container (issue 10): category trees
//! too deep to expand, updates over the store's own limits, store names that would forge
//! log lines, links planted at the store's own files, and a chain poisoned by a forged first
//! bundle. Each case asserts the exit code, an unchanged store where the input is refused
//! (the fingerprint of every row and content file), and what the log receives.
//!
//! The bundles are written here with the library's own writer, so that each carries exactly
//! the defect the case is about and passes every check of the format.

use crate::common::*;
use offsync::bundle::{
    BundleKind, BundleMetadata, BundleSpec, EncodedMetadata, ManifestCriteria, RecordState,
    UpdateRecord, write_bundle,
};
use offsync::model::{Category, CategoryKind, FileRef, Guid, Localized, PublicationState, Update};
use offsync::progress::NoProgress;
use offsync::time::Timestamp;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The source store id of every bundle written here.
const SOURCE: &str = "5e1f0000-0000-4000-8000-00000000a77a";

fn guid(prefix: u32, i: usize) -> Guid {
    format!("{prefix:08x}-0000-4000-8000-{i:012x}")
        .parse()
        .unwrap()
}

/// A chain of `n` products, each the child of the one before.
fn category_chain(n: usize) -> Vec<Category> {
    (0..n)
        .map(|i| Category {
            id: guid(0xca7, i),
            revision: 1,
            kind: CategoryKind::Product,
            title: format!("Level {i}"),
            parent: (i > 0).then(|| guid(0xca7, i - 1)),
        })
        .collect()
}

fn update(i: usize, title: &str, files: usize) -> UpdateRecord {
    let mut localized = BTreeMap::new();
    localized.insert(
        "en".to_string(),
        Localized {
            title: title.to_string(),
            description: None,
        },
    );
    UpdateRecord {
        update: Update {
            id: guid(0x0bd, i),
            revision: 100,
            update_type: "Software".into(),
            default_language: Some("en".into()),
            localized,
            kb: Some("5000001".into()),
            severity: None,
            creation_date: None,
            languages: Vec::new(),
            categories: Vec::new(),
            publication_state: PublicationState::Published,
            supersedes: Vec::new(),
            bundled: Vec::new(),
            files: (0..files)
                .map(|f| FileRef {
                    name: format!("f{f}.cab"),
                    size: None,
                    sha1: None,
                    sha256: None,
                    url: None,
                })
                .collect(),
        },
        state: RecordState::Published,
        changed_seq: 1,
    }
}

/// A full bundle from [`SOURCE`] named `name` with sequence `sequence`, written into `out`.
fn bundle(out: &Path, name: &str, sequence: u64, md: BundleMetadata) -> PathBuf {
    fs::create_dir_all(out).unwrap();
    let spec = BundleSpec {
        store_id: SOURCE.into(),
        store_name: name.into(),
        sequence,
        kind: BundleKind::Full,
        base_sequence: None,
        changes_from: 0,
        changes_to: 1,
        criteria: ManifestCriteria::default(),
        created: Timestamp::now(),
        valid_until: None,
        max_volume_size: 1 << 20,
        metadata: EncodedMetadata::from_metadata(&md, &std::env::temp_dir()).unwrap(),
        content: Vec::new(),
        catalog: None,
    };
    fs::create_dir_all(out).unwrap();
    write_bundle(out, &spec, &NoProgress).unwrap().dir
}

fn import(store: &Path, b: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["import", "--store", p(store), p(b)];
    args.extend_from_slice(extra);
    run_any(&args)
}

fn log_lines(store: &Path) -> Vec<String> {
    fs::read_to_string(store.join("offsync.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Asserts that `f` refuses with `code`, leaves the store's fingerprint as it was and adds
/// exactly two lines to its log (the import's start and its refusal); returns stderr.
fn refused(store: &Path, code: i32, f: impl FnOnce() -> (i32, String, String)) -> String {
    let before = fingerprint(store);
    let lines = log_lines(store).len();
    let (got, out, err) = f();
    assert_eq!(got, code, "--- stdout\n{out}\n--- stderr\n{err}");
    assert_eq!(fingerprint(store), before, "the store changed");
    assert_eq!(
        log_lines(store).len(),
        lines + 2,
        "one log line for the start and one for the refusal"
    );
    err
}

// ---------------------------------------------------------------------------------------------
// 10.4: deep category trees

#[test]
fn a_category_tree_deeper_than_the_cap_is_refused_on_import() {
    let tmp = tempfile::tempdir().unwrap();
    let store = init_store(tmp.path(), "isolated");
    let md = |n| BundleMetadata {
        decisions: Vec::new(),
        categories: category_chain(n),
        updates: Vec::new(),
    };
    // 33 levels: one over the documented cap of 32.
    let deep = bundle(&tmp.path().join("deep"), "connected", 1, md(33));
    let err = refused(&store, 16, || import(&store, &deep, &[]));
    assert!(err.contains("limit of 32 levels"), "{err}");
    // The guard station sees it too: verify and import refuse the same bundles.
    let (code, out, err) = run_any(&["verify", p(&deep)]);
    assert_eq!(code, 16, "{out}{err}");
    assert!(out.contains("limit of 32 levels"), "{out}");
    // 100,000 levels (under 1 MB of metadata): refused as fast.
    let deeper = bundle(&tmp.path().join("deeper"), "connected", 1, md(100_000));
    let t = Instant::now();
    refused(&store, 16, || import(&store, &deeper, &[]));
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    // At the cap: imported.
    let edge = bundle(&tmp.path().join("edge"), "connected", 1, md(32));
    let (code, _, err) = import(&store, &edge, &[]);
    assert_eq!(code, 0, "{err}");
    // A cycle is refused too (its members are their own ancestors).
    let mut cats = category_chain(3);
    cats[0].parent = Some(cats[2].id.clone());
    let cyc = bundle(
        &tmp.path().join("cycle"),
        "connected",
        2,
        BundleMetadata {
            decisions: Vec::new(),
            categories: cats,
            updates: Vec::new(),
        },
    );
    let err = refused(&store, 16, || import(&store, &cyc, &[]));
    assert!(err.contains("cycle"), "{err}");
}

/// Writes a chain of `n` categories straight into the database of `store`, as a store
/// damaged (or filled before the cap existed) would hold it.
fn plant_chain(store: &Path, n: usize) {
    let mut conn = rusqlite::Connection::open(store.join("offsync.db")).unwrap();
    let tx = conn.transaction().unwrap();
    for c in category_chain(n) {
        tx.execute(
            "INSERT INTO categories(id, revision, kind, title, parent, changed_seq) VALUES (?1, 1, 'product', ?2, ?3, 1)",
            rusqlite::params![c.id.as_str(), c.title, c.parent.as_ref().map(|g| g.as_str().to_string())],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn a_deep_tree_is_expanded_in_linear_time_and_refused_by_a_syncing_child() {
    let tmp = tempfile::tempdir().unwrap();
    let parent = init_store(tmp.path(), "parent");
    // 30,000 levels: the fixed-point expansion took about a minute here; one pass takes
    // milliseconds.
    plant_chain(&parent, 30_000);
    let root = guid(0xca7, 0).to_string();
    let t = Instant::now();
    run(
        &["updates", "list", "--store", p(&parent), "--product", &root],
        0,
    );
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "updates list took {:?}",
        t.elapsed()
    );
    // A child syncing from it refuses the tree (exit 16) and stays as it was, but for the
    // failed run in its sync history.
    let child = init_store(tmp.path(), "child");
    let mut before = fingerprint(&child);
    let (code, _, err) = run_any(&["sync", "--store", p(&child), "--from", p(&parent)]);
    assert_eq!(code, 16, "{err}");
    assert!(err.contains("limit of 32 levels"), "{err}");
    let mut after = fingerprint(&child);
    let runs = after.remove("sync_runs").unwrap();
    before.remove("sync_runs");
    assert_eq!(after, before, "only the failed run is recorded");
    assert!(
        runs.len() == 1 && runs[0].contains("failed") && runs[0].contains("32 levels"),
        "{runs:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 10.3 (store side): an update over the store's own limits

#[test]
fn an_update_over_the_stores_limits_is_refused_at_the_door() {
    let tmp = tempfile::tempdir().unwrap();
    let store = init_store(tmp.path(), "isolated");
    let with = |name: &str, u: UpdateRecord| {
        bundle(
            &tmp.path().join(name),
            "connected",
            1,
            BundleMetadata {
                decisions: Vec::new(),
                categories: Vec::new(),
                updates: vec![u],
            },
        )
    };
    let many = with("many", update(1, "Many files", 10_001));
    let err = refused(&store, 16, || import(&store, &many, &[]));
    assert!(
        err.contains("limit of 10000 file references per update"),
        "{err}"
    );
    let long = with("long", update(2, &"T".repeat(64 * 1024 + 1), 1));
    let err = refused(&store, 16, || import(&store, &long, &[]));
    assert!(err.contains("limit of 65536 bytes per title"), "{err}");
    // At the limits: imported, and the store still passes its own check.
    let edge = with("edge", update(3, &"T".repeat(64 * 1024), 10_000));
    let (code, _, err) = import(&store, &edge, &[]);
    assert_eq!(code, 0, "{err}");
    run(&["check", "--store", p(&store)], 0);
}

// ---------------------------------------------------------------------------------------------
// 10.1 (log side): one record is one line

#[test]
fn a_store_name_with_line_breaks_adds_one_log_line() {
    let tmp = tempfile::tempdir().unwrap();
    let store = init_store(tmp.path(), "isolated");
    let name = "evil\nOK: every volume and entry matches the manifest\r\x1b[8m\u{2028}x";
    let md = BundleMetadata {
        decisions: Vec::new(),
        categories: category_chain(2),
        updates: vec![update(1, "Title\nwith a break\x1b[2J", 1)],
    };
    let b = bundle(&tmp.path().join("m"), name, 1, md);
    let before = log_lines(&store).len();
    let (code, _, err) = import(&store, &b, &[]);
    assert_eq!(code, 0, "{err}");
    let lines = log_lines(&store);
    // The start, one line for the one new update, and the summary: each record one line,
    // each starting with its time, none carrying a control character.
    let new = &lines[before..];
    assert_eq!(new.len(), 3, "{new:#?}");
    for l in new {
        assert!(l.starts_with("20"), "a record's continuation: {l:?}");
        assert!(!l.contains('\x1b') && !l.contains('\r'), "{l:?}");
    }
    let last = lines.last().unwrap();
    assert!(
        last.contains("evil\\u{000a}OK: every volume") && last.contains("\\u{001b}[8m\\u{2028}x"),
        "{last}"
    );
    // The refusal path (the same bundle again, now with a conflicting sibling) too.
    let mut md = BundleMetadata {
        decisions: Vec::new(),
        categories: category_chain(2),
        updates: vec![update(1, "Another title\n", 1)],
    };
    md.updates[0].update.kb = Some("1".into());
    let other = bundle(&tmp.path().join("o"), name, 1, md);
    let err = refused(&store, 13, || import(&store, &other, &[]));
    assert!(err.contains("conflicting bundle"), "{err}");
    assert!(!log_lines(&store).last().unwrap().contains('\x1b'));
}

// ---------------------------------------------------------------------------------------------
// 10.6: links at the store's own files

#[cfg(unix)]
#[test]
fn links_at_the_stores_own_files_are_not_followed_and_check_reports_them() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let store = init_store(tmp.path(), "isolated");
    let outside = tmp.path().join("outside.txt");
    fs::write(&outside, "outside\n").unwrap();

    // The log replaced by a link: nothing is appended through it, and check says why.
    fs::remove_file(store.join("offsync.log")).unwrap();
    symlink(&outside, store.join("offsync.log")).unwrap();
    let (code, _, err) = run_any(&["criteria", "set", "--store", p(&store), "--language", "en"]);
    assert_eq!(code, 0, "logging never fails a command: {err}");
    let (code, out, err) = run_any(&["check", "--store", p(&store)]);
    assert_eq!(code, 5, "--- stdout\n{out}\n--- stderr\n{err}");
    assert!(
        format!("{out}{err}").contains("offsync.log"),
        "{out}\n{err}"
    );
    // An import is refused as the store is damaged, and writes nothing through the link.
    let b = bundle(
        &tmp.path().join("m"),
        "connected",
        1,
        BundleMetadata::default(),
    );
    let (code, _, err) = import(&store, &b, &[]);
    assert_eq!(code, 5, "{err}");
    assert_eq!(fs::read_to_string(&outside).unwrap(), "outside\n");
    fs::remove_file(store.join("offsync.log")).unwrap();
    run(&["check", "--store", p(&store)], 0);

    // The publish journal and a staged file: check reports each.
    for name in ["staging/publish.journal", "staging/x.partial"] {
        symlink(&outside, store.join(name)).unwrap();
        let (code, out, err) = run_any(&["check", "--store", p(&store)]);
        assert_eq!(code, 5, "{name}: {out}{err}");
        assert!(format!("{out}{err}").contains(name), "{out}\n{err}");
        fs::remove_file(store.join(name)).unwrap();
    }

    // A database side file: SQLite would follow it, so the store is not opened at all.
    for name in ["offsync.db-wal", "offsync.db-journal"] {
        let _ = fs::remove_file(store.join(name));
        symlink(&outside, store.join(name)).unwrap();
        let (code, out, err) = run_any(&["check", "--store", p(&store)]);
        assert_eq!(code, 5, "{name}: {out}{err}");
        assert!(err.contains(name), "{err}");
        fs::remove_file(store.join(name)).unwrap();
    }
    assert_eq!(fs::read_to_string(&outside).unwrap(), "outside\n");
    run(&["check", "--store", p(&store)], 0);
}

// ---------------------------------------------------------------------------------------------
// 10.8: a chain poisoned by a forged first bundle, and its recovery

#[test]
fn a_forged_first_bundle_is_held_to_the_jump_limit_and_a_chain_can_start_again() {
    let tmp = tempfile::tempdir().unwrap();
    let store = init_store(tmp.path(), "isolated");
    let md = || BundleMetadata {
        decisions: Vec::new(),
        categories: category_chain(1),
        updates: vec![update(1, "Genuine", 1)],
    };
    let forged = bundle(&tmp.path().join("f"), "connected", u64::MAX, md());
    let genuine = bundle(&tmp.path().join("g"), "connected", 1, md());

    // A store that trusts no key: the forged first bundle is refused all the same.
    let err = refused(&store, 13, || import(&store, &forged, &[]));
    assert!(err.contains("implausible first bundle"), "{err}");

    // Forced in (as a store without the rule would have taken it), it poisons the chain.
    let (code, _, err) = import(&store, &forged, &["--max-jump", &u64::MAX.to_string()]);
    assert_eq!(code, 0, "{err}");
    let err = refused(&store, 13, || import(&store, &genuine, &[]));
    assert!(err.contains("older bundle"), "{err}");
    let shown = json(&["chain", "show", "--store", p(&store), "--json"]);
    assert_eq!(shown[0]["source_store_id"], SOURCE);
    assert_eq!(shown[0]["last_sequence"], u64::MAX);
    let text = run(&["chain", "show", "--store", p(&store)], 0);
    assert!(
        text.contains(SOURCE) && text.contains("'connected'"),
        "{text}"
    );

    // Unknown source: a usage error, nothing changed.
    let before = fingerprint(&store);
    let (code, _, err) = run_any(&[
        "chain",
        "reset",
        "--store",
        p(&store),
        "--source",
        "no-such-store",
    ]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(fingerprint(&store), before);

    // Refused while another writer (an import) holds the write lock: busy, nothing changed.
    {
        let conn = rusqlite::Connection::open(store.join("offsync.db")).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (code, _, err) = run_any(&["chain", "reset", "--store", p(&store), "--source", SOURCE]);
        assert_eq!(code, 3, "{err}");
        conn.execute_batch("ROLLBACK").unwrap();
    }
    assert_eq!(fingerprint(&store), before);

    // The reset: recorded in the log and the import history; the genuine bundle imports.
    let lines = log_lines(&store).len();
    run(
        &["chain", "reset", "--store", p(&store), "--source", SOURCE],
        0,
    );
    let log = log_lines(&store);
    assert_eq!(log.len(), lines + 1);
    assert!(log.last().unwrap().contains("reset"), "{log:?}");
    let shown = json(&["chain", "show", "--store", p(&store), "--json"]);
    assert_eq!(shown[0]["last_sequence"], serde_json::Value::Null);
    assert_eq!(shown[0]["resets"], 1);
    let (code, _, err) = import(&store, &genuine, &[]);
    assert_eq!(code, 0, "{err}");
    let shown = json(&["chain", "show", "--store", p(&store), "--json"]);
    assert_eq!(shown[0]["last_sequence"], 1);
    // The history keeps all three rows: the forged import, the reset, the genuine import.
    let (_, rows) = table_rows(&store, &[]);
    assert_eq!(rows["imports"].len(), 3, "{:#?}", rows["imports"]);
    assert!(rows["imports"].iter().any(|r| r.contains("chain-reset")));
    // The status still reports the last real import.
    let status = json(&["status", "--store", p(&store), "--json"]);
    assert_eq!(status["last_import"]["sequence"], 1, "{status}");
}
