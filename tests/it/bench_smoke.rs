//! Issue 11, tests: a small version of each benchmark (bench/metadata.sh, bench/transfer.sh,
//! bench/sync.sh) runs in the default suite with the binaries `cargo test` built, so that the
//! benchmark code keeps working as the product changes. Never a timing assertion: each test
//! checks that the script ran, wrote its results, and that the commands it drove did what
//! was asked (the update counts).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary under test and an example `cargo test` built beside it
/// (target/<profile>/examples/NAME), or None with a message when the example is absent
/// (`cargo test --test it` does not build examples; a plain `cargo test` does).
pub(crate) fn binaries(example: &str) -> Option<(PathBuf, PathBuf)> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_offsync"));
    let ex = bin
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("{example}{}", std::env::consts::EXE_SUFFIX));
    if !ex.is_file() {
        eprintln!(
            "SKIP: {} is not built (a plain `cargo test` builds the examples)",
            ex.display()
        );
        return None;
    }
    Some((bin, ex))
}

/// Whether the outside programs a benchmark script needs are there (else a message).
pub(crate) fn have(programs: &[&str]) -> bool {
    for p in programs {
        let found = if p.starts_with('/') {
            Path::new(p).is_file()
        } else {
            Command::new("sh")
                .args(["-c", &format!("command -v {p}")])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !found {
            // CI installs every one of them: there, a skip would hide a missing install step.
            assert!(
                std::env::var_os("OFFSYNC_REQUIRE_TOOLS").is_none(),
                "{p} is not installed and OFFSYNC_REQUIRE_TOOLS is set (.ci/run must install it)"
            );
            eprintln!("SKIP: {p} is not installed (.ci/run installs it)");
            return false;
        }
    }
    true
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bench")
        .join(name)
}

/// Runs a benchmark script with the settings given; panics with its output when it fails.
pub(crate) fn run_script(name: &str, envs: &[(&str, &Path)], vars: &[(&str, &str)]) -> String {
    let mut c = Command::new("bash");
    c.arg(script(name));
    for (k, v) in envs {
        c.env(k, v);
    }
    for (k, v) in vars {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "bench/{name} failed ({}):\n{out}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The table row of `results` that starts with `prefix`.
pub(crate) fn row<'a>(results: &'a str, prefix: &str) -> &'a str {
    results
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no row starting with '{prefix}' in:\n{results}"))
}

/// The table row of `results` that holds `part`.
fn row_with<'a>(results: &'a str, part: &str) -> &'a str {
    results
        .lines()
        .find(|l| l.contains(part))
        .unwrap_or_else(|| panic!("no row with '{part}' in:\n{results}"))
}

#[test]
fn the_metadata_benchmark_runs_and_reports_every_goal() {
    let Some((bin, gen_store)) = binaries("gen_store") else {
        return;
    };
    if !have(&["bash", "/usr/bin/time"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("METADATA-RESULTS.md");
    run_script(
        "metadata.sh",
        &[
            ("OFFSYNC_BIN", &bin),
            ("GEN_STORE_BIN", &gen_store),
            ("BENCH_DIR", &dir.path().join("work")),
            ("BENCH_RESULTS", &results),
        ],
        &[
            ("BENCH_SIZES", "1000 2000"),
            ("BENCH_RUNS", "1"),
            ("BENCH_PERF", "0"),
        ],
    );
    let r = std::fs::read_to_string(&results).unwrap();
    for n in ["1000", "2000"] {
        assert!(
            row(&r, &format!("| {n} | generate the store")).contains(&format!("wrote {n} updates")),
            "{r}"
        );
        assert!(row(&r, &format!("| {n} | full export |")).contains(&format!("| {n} updates")));
        assert!(row(&r, &format!("| {n} | verify |")).ends_with("| ok |"));
        // Every update of the store arrived in the empty one.
        assert!(
            row(&r, &format!("| {n} | import into an empty store |"))
                .ends_with(&format!("| {n} new |")),
            "{r}"
        );
        // The incremental bundle carries the bumped updates, and its import took each one
        // as a new revision of a stored update.
        let bumped: u64 = row(&r, &format!("| {n} | 1% bump"))
            .split("bumped ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .expect("the bump row names its count");
        assert!(bumped > 0 && bumped < 100, "about 1% of {n}: {bumped}");
        assert!(
            row(&r, &format!("| {n} | incremental export |"))
                .contains(&format!("| {bumped} updates |"))
        );
        assert!(
            row(&r, &format!("| {n} | its import |"))
                .contains(&format!("| {bumped} updated, 0 new |")),
            "{r}"
        );
    }
    // The goals of issue 11 point 3: the times at the largest size, peak RSS of every command,
    // and its growth between the sizes.
    for goal in [
        "| full export at 2000 revisions",
        "| import into an empty store at 2000",
        "| verify at 2000",
        "| incremental export + import at 2000",
        "| peak RSS of full export at 2000",
        "| peak RSS of its import at 2000",
        "| peak RSS of import into an empty store: 2000 vs 1000 revisions | within 10% |",
    ] {
        let line = row(&r, goal);
        assert!(
            line.ends_with("| yes |") || line.ends_with("| **no** |"),
            "{line}"
        );
    }
    assert!(r.contains("load average"), "the machine is described: {r}");
}

#[test]
fn the_transfer_benchmark_runs_and_reports_the_content_goals() {
    let Some((bin, gen_updates)) = binaries("gen_updates") else {
        return;
    };
    if !have(&["bash", "/usr/bin/time", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("TRANSFER-RESULTS.md");
    run_script(
        "transfer.sh",
        &[
            ("OFFSYNC_BIN", &bin),
            ("GEN_BIN", &gen_updates),
            ("BENCH_DIR", dir.path()),
            ("BENCH_RESULTS", &results),
        ],
        &[
            ("BENCH_CONTENT_MIB", "8"),
            ("BENCH_META_SIZES", "300"),
            ("BENCH_RUNS", "1"),
            ("BENCH_PERF", "0"),
        ],
    );
    let r = std::fs::read_to_string(&results).unwrap();
    // The read factor of each command, measured (whatever its value).
    for op in ["export", "verify", "import"] {
        let line = row(&r, &format!("| read factor of {op} "));
        assert!(!line.contains("not measured"), "{line}");
    }
    row(&r, "| export / ");
    if have(&["zip", "unzip"]) {
        assert!(!row(&r, "| round trip:").contains("not measured"), "{r}");
    }
    // The metadata case imported what it exported.
    assert!(r.contains("| meta-300 | import |"), "{r}");
}

#[test]
fn the_sync_benchmark_runs() {
    let Some((bin, gen_updates)) = binaries("gen_updates") else {
        return;
    };
    if !have(&["bash", "/usr/bin/time"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    run_script(
        "sync.sh",
        &[
            ("OFFSYNC_BIN", &bin),
            ("GEN_BIN", &gen_updates),
            ("BENCH_DIR", &work),
        ],
        &[("BENCH_SIZES", "500"), ("BENCH_RUNS", "1")],
    );
    let r = std::fs::read_to_string(work.join("results.md")).unwrap();
    // Rows count the documents of the folder: the 500 updates and the categories.
    let full = row_with(&r, "| full sync (new store) |");
    // 500 updates and the generator's detectoids upstream.
    let upstream: u64 = full
        .split("selected of ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{full}"));
    assert!((500..600).contains(&upstream), "{full}");
    assert!(
        !full.contains("new 0,"),
        "the full sync took updates: {full}"
    );
    assert!(row_with(&r, "| resync, unchanged folder |").contains("new 0, updated 0"));
    assert!(!row_with(&r, "| resync, every 10th revision bumped |").contains("updated 0,"));
}
