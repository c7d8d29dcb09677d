//! Helpers shared by the integration tests.

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `offsync` binary with a clean environment (no OFFSYNC_STORE from the caller).
pub fn offsync() -> Command {
    let mut c = Command::cargo_bin("offsync").expect("binary built");
    c.env_remove("OFFSYNC_STORE");
    c
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

pub fn upstream_fixtures() -> PathBuf {
    fixtures().join("upstream")
}

pub fn content_fixtures() -> PathBuf {
    fixtures().join("content")
}

/// Runs offsync with `args`, expects exit code `code`, returns stdout.
pub fn run(args: &[&str], code: i32) -> String {
    let out = offsync().args(args).output().expect("run offsync");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "offsync {args:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

/// Runs offsync and returns (exit code, stdout, stderr).
pub fn run_any(args: &[&str]) -> (i32, String, String) {
    let out = offsync().args(args).output().expect("run offsync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn json(args: &[&str]) -> serde_json::Value {
    let s = run(args, 0);
    serde_json::from_str(&s)
        .unwrap_or_else(|e| panic!("offsync {args:?} printed no JSON ({e}):\n{s}"))
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// A new store in `dir/name`.
pub fn init_store(dir: &Path, name: &str) -> PathBuf {
    let s = dir.join(name);
    run(&["init", "--store", p(&s), "--name", name], 0);
    s
}

/// A store synced from the fixtures with broad criteria (every fixture product and
/// classification), content taken in.
pub fn synced_store(dir: &Path, name: &str) -> PathBuf {
    let s = init_store(dir, name);
    let sp = p(&s).to_string();
    run(
        &["sync", "--store", &sp, "--from", p(&upstream_fixtures())],
        0,
    );
    run(
        &[
            "criteria",
            "set",
            "--store",
            &sp,
            "--product",
            "Windows",
            "--product",
            "Office",
            "--classification",
            "Security Updates",
            "--classification",
            "Critical Updates",
            "--classification",
            "Updates",
            "--classification",
            "Definition Updates",
        ],
        0,
    );
    run(
        &["sync", "--store", &sp, "--from", p(&upstream_fixtures())],
        0,
    );
    run(
        &["content", "import", "--store", &sp, p(&content_fixtures())],
        0,
    );
    s
}

/// A fingerprint of a store: every row of every table, and every content file with its
/// SHA-256. Two stores in the same logical state have equal fingerprints, apart from the
/// store identity and timestamps, which `identity` keeps or drops.
pub fn fingerprint(store: &Path) -> BTreeMap<String, Vec<String>> {
    let conn = rusqlite::Connection::open_with_flags(
        store.join("offsync.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open store db");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "integrity check of {}", store.display());
    let mut out = BTreeMap::new();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                let mut cells = Vec::new();
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i)?;
                    cells.push(format!("{v:?}"));
                }
                Ok(cells.join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.insert(t, rows);
    }
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(store.join("content")).sort_by_file_name() {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let bytes = std::fs::read(e.path()).unwrap();
            files.push(format!(
                "{} {}",
                e.path().strip_prefix(store).unwrap().display(),
                hex::encode(offsync::hash::sha256(&bytes))
            ));
        }
    }
    out.insert("(content files)".into(), files);
    out
}

/// Copies a folder tree (a store or a bundle).
pub fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
