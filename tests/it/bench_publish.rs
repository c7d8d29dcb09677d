//! Issue 12, Scale: a small run of bench/publish.sh in the default suite, so that the
//! benchmark keeps working as `publish` changes. Never a timing assertion: the test checks
//! that the script wrote its results with every row, that the commands it drove did what was
//! asked (files linked, then nothing written), and that the share it published holds what its
//! index says, byte for byte.

use crate::bench_smoke::{binaries, have, row, run_script};
use serde_json::Value;
use sha1::Digest as _;
use std::path::Path;

/// The number after `key ` in a results row ("linked 12, copied 0, ...").
fn count(line: &str, key: &str) -> u64 {
    line.split(&format!("{key} "))
        .nth(1)
        .and_then(|s| s.split([',', ' ', '|']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no '{key} N' in: {line}"))
}

/// Every file the share's index.json lists is at its path with its size and SHA-1, as a hard
/// link to the store's copy; returns how many.
fn check_share(share: &Path) -> u64 {
    let index: Value =
        serde_json::from_slice(&std::fs::read(share.join("index.json")).unwrap()).unwrap();
    let files = index["files"].as_array().expect("index.json lists files");
    for f in files {
        let rel = f["path"].as_str().unwrap();
        let path = rel.split('/').fold(share.to_path_buf(), |p, c| p.join(c));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(bytes.len() as u64, f["size"].as_u64().unwrap(), "{rel}");
        assert_eq!(
            hex(&sha1::Sha1::digest(&bytes)),
            f["sha1"].as_str().unwrap().to_ascii_lowercase(),
            "{rel}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            assert!(
                std::fs::metadata(&path).unwrap().nlink() >= 2,
                "{rel} is a hard link to the store's copy"
            );
        }
    }
    files.len() as u64
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn the_publish_benchmark_runs_and_reports_the_scale_goals() {
    let Some((bin, gen_updates)) = binaries("gen_updates") else {
        return;
    };
    if !have(&["bash", "/usr/bin/time", "python3"]) {
        return;
    }
    let has_wsus = std::process::Command::new(&bin)
        .args(["publish", "wsus", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let results = dir.path().join("PUBLISH-RESULTS.md");
    run_script(
        "publish.sh",
        &[
            ("OFFSYNC_BIN", &bin),
            ("GEN_BIN", &gen_updates),
            ("BENCH_DIR", &work),
            ("BENCH_RESULTS", &results),
        ],
        &[
            ("BENCH_SIZES", "300"),
            ("BENCH_RUNS", "1"),
            ("BENCH_PAYLOAD_PERCENT", "50"),
            ("BENCH_PAYLOAD_MAX", "4096"),
            ("BENCH_BUMP", "10"),
            ("BENCH_KEEP", "1"),
        ],
    );
    let r = std::fs::read_to_string(&results).unwrap();

    // Every update was selected, and payloads were taken in for some of them.
    // (The generator's updates name detectoids as prerequisites, which are selected too.)
    let sync = row(&r, "| 300 | sync (not a goal) |");
    let selected = count(sync, "selected");
    assert!(selected > 300, "{r}");
    assert_eq!(
        (count(sync, "new"), count(sync, "upstream_updates")),
        (selected, selected),
        "{r}"
    );
    let added = count(row(&r, "| 300 | content import"), "added_files");
    assert!(added > 0, "{r}");
    // The baseline had no content; the first run linked files, the second wrote nothing.
    let base = row(&r, "| 300 | baseline: publish share");
    assert_eq!(count(base, "linked"), 0, "{base}");
    let first = row(&r, "| 300 | publish share, first run");
    let linked = count(first, "linked");
    assert!(
        linked >= added,
        "each payload at one path at least: {first}"
    );
    assert_eq!(count(first, "copied"), 0, "{first}");
    let second = row(&r, "| 300 | publish share, second run");
    assert_eq!(count(second, "unchanged"), linked, "{second}");
    assert_eq!(count(second, "bytes_written"), 0, "{second}");
    assert_eq!(count(second, "indexes_written"), 0, "{second}");
    if Path::new("/dev/shm").is_dir() {
        let copy = row(
            &r,
            "| 300 | publish share to another file system, first run",
        );
        assert_eq!(count(copy, "copied"), linked, "{copy}");
        let again = row(
            &r,
            "| 300 | publish share to another file system, second run",
        );
        assert_eq!(count(again, "bytes_written"), 0, "{again}");
    }
    // The share holds what its index says, as links to the store's copies.
    assert_eq!(check_share(&work.join("share-300")), linked);

    // The goals: a measured value and a verdict on each row.
    for goal in [
        "| peak RSS of `publish share`",
        "| content read by the first `publish share` (links)",
        "| content read by its second run",
    ] {
        let line = row(&r, goal);
        assert!(
            line.ends_with("| yes |") || line.ends_with("| **no** |"),
            "{line}"
        );
    }
    if has_wsus {
        for goal in [
            "| peak RSS of `publish wsus --full` |",
            "| wall time of `publish wsus --full`",
            "| content read by the first `publish wsus --full`",
            "| content read by the second run (all published)",
        ] {
            let line = row(&r, goal);
            assert!(
                line.ends_with("| yes |") || line.ends_with("| **no** |"),
                "{line}"
            );
        }
        row(&r, "| 300 | publish wsus --full, first run");
        row(&r, "| 300 | publish wsus --since-last");
    } else {
        assert!(r.contains("this offsync has no `publish wsus`"), "{r}");
    }
    assert!(r.contains("load average"), "the machine is described: {r}");
}
