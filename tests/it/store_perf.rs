//! The log kept open across the lines of one command: a sync that writes many lines under a
//! small rotation size still rotates by size, keeps whole lines, and loses none.

use crate::common::*;
use std::fs;

#[test]
fn a_many_line_sync_rotates_its_kept_open_log_by_size() {
    let t = tempfile::tempdir().unwrap();
    let store = t.path().join("s");
    run(&["init", "--store", p(&store)], 0);
    // The categories first, so that the criteria can name them.
    run(
        &[
            "-q",
            "sync",
            "--store",
            p(&store),
            "--from",
            p(&upstream_fixtures()),
        ],
        0,
    );
    fs::remove_file(store.join("offsync.log")).unwrap();
    run(
        &[
            "criteria",
            "set",
            "--store",
            p(&store),
            "--product",
            "Windows",
            "--classification",
            "Security Updates",
        ],
        0,
    );
    let out = offsync()
        .env("OFFSYNC_LOG_MAX_BYTES", "600")
        .args([
            "-q",
            "sync",
            "--store",
            p(&store),
            "--from",
            p(&upstream_fixtures()),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut files = 0;
    for name in [
        "offsync.log",
        "offsync.log.1",
        "offsync.log.2",
        "offsync.log.3",
    ] {
        let Ok(text) = fs::read_to_string(store.join(name)) else {
            continue;
        };
        files += 1;
        // Past the size only when one line alone is longer than it.
        assert!(
            text.len() <= 600 || text.lines().count() == 1,
            "{name}: {text}"
        );
        assert!(text.ends_with('\n'), "{name} ends inside a line: {text}");
        for line in text.lines() {
            assert!(
                line.starts_with("20"),
                "{name}: a line not a record: {line}"
            );
        }
    }
    assert!(files >= 2, "the sync's lines were not rotated at 600 bytes");
    assert!(!store.join("offsync.log.4").exists());
}
