//! Issue 10, point 1 (the terminal): text from a bundle or an upstream reaches the terminal
//! with its control and invisible characters escaped, while `--json` keeps it exact.

use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::Output;

const FORGED: &str = "OK: every volume and entry matches the manifest";

/// A store name that would end the summary line, hide what follows and forge the OK line.
fn hostile_store_name() -> String {
    format!("cover\n\x1b[8m{FORGED}\r\n")
}

/// No ESC (nor any other C0 control but the line ends, nor C1, nor a bidi override) in what
/// was printed.
fn assert_no_controls(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for c in text.chars() {
        let bad = (c.is_control() && c != '\n')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        assert!(!bad, "{what} printed {c:?}:\n{text}");
    }
}

/// No controls, and no line of what was printed begins with the forged text.
fn assert_clean(what: &str, bytes: &[u8]) {
    assert_no_controls(what, bytes);
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text.lines().any(|l| l.starts_with(FORGED)),
        "{what} shows a forged line:\n{text}"
    );
}

fn assert_output_clean(what: &str, o: &Output) {
    assert_clean(&format!("{what} (stdout)"), &o.stdout);
    assert_clean(&format!("{what} (stderr)"), &o.stderr);
}

/// A store named with the hostile name, synced from the fixtures, content taken in.
fn hostile_store(dir: &Path) -> std::path::PathBuf {
    let s = dir.join("evil");
    run(
        &["init", "--store", p(&s), "--name", &hostile_store_name()],
        0,
    );
    run(
        &["sync", "--store", p(&s), "--from", p(&upstream_fixtures())],
        0,
    );
    set_criteria(
        &s,
        &[
            "--product",
            "Windows 10",
            "--classification",
            "Security Updates",
        ],
    );
    run(
        &["sync", "--store", p(&s), "--from", p(&upstream_fixtures())],
        0,
    );
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
    s
}

#[test]
fn a_store_name_cannot_forge_or_hide_lines_of_a_failing_verify() {
    let dir = tempfile::tempdir().unwrap();
    let s = hostile_store(dir.path());
    let (_, b) = export(&s, &dir.path().join("media"), &[]);
    // Someone flips a byte of the volume: verify must fail, visibly.
    let vol = volumes(&b).remove(0);
    let mut bytes = fs::read(&vol).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    fs::write(&vol, bytes).unwrap();

    let o = raw(&["verify", p(&b)]);
    assert_eq!(o.status.code(), Some(10), "{o:?}");
    assert_output_clean("verify", &o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.lines().any(|l| l.starts_with("FAIL ")),
        "the real failure is shown:\n{out}"
    );
    assert!(
        out.contains("\\u{001b}[8m"),
        "the hostile name is shown escaped:\n{out}"
    );
    // JSON keeps the name exact, and says the bundle failed.
    let o = raw(&["verify", p(&b), "--json"]);
    assert_eq!(o.status.code(), Some(10));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["bundle"]["store_name"], hostile_store_name().as_str());
    assert_eq!(v["ok"], false);
    assert_clean("verify --json (stderr)", &o.stderr);

    // Import of the same bundle: refused, and its error printed clean.
    let iso = init_store(dir.path(), "iso");
    let o = raw(&["import", "--store", p(&iso), p(&b)]);
    assert_eq!(o.status.code(), Some(10), "{o:?}");
    assert_output_clean("import", &o);
}

#[test]
fn a_hostile_source_store_name_is_escaped_by_import_status_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = hostile_store(dir.path());
    let (_, b1) = export(&s, &dir.path().join("m1"), &[]);
    let (_, b2) = export(&s, &dir.path().join("m2"), &["--full"]);
    let iso = init_store(dir.path(), "iso");

    let o = raw(&["verify", p(&b1)]);
    assert_eq!(o.status.code(), Some(0));
    assert_no_controls("verify of a sound bundle (stdout)", &o.stdout);
    assert_clean("verify of a sound bundle (stderr)", &o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    let oks: Vec<&str> = out.lines().filter(|l| l.contains(FORGED)).collect();
    assert_eq!(oks.len(), 2, "the summary and the real OK line:\n{out}");
    assert!(oks[0].starts_with("bundle "), "{out}");
    assert_eq!(out.lines().last(), Some(FORGED), "{out}");

    let o = raw(&["import", "--store", p(&iso), p(&b2)]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_output_clean("import", &o);

    let o = raw(&["status", "--store", p(&iso)]);
    assert_eq!(o.status.code(), Some(0));
    assert_output_clean("status", &o);
    let v = json(&["status", "--store", p(&iso), "--json"]);
    assert_eq!(
        v["last_import"]["source_store_name"],
        hostile_store_name().as_str()
    );

    // An older bundle: the refusal quotes the store name from the manifest.
    let o = raw(&["import", "--store", p(&iso), p(&b1)]);
    assert_eq!(o.status.code(), Some(13), "{o:?}");
    assert_output_clean("refused import", &o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("older bundle"), "{err}");
    assert!(err.contains("\\u{000a}"), "the line break is shown: {err}");
    // With --json the error object quotes it exactly.
    let o = raw(&["import", "--store", p(&iso), p(&b1), "--json"]);
    assert_eq!(o.status.code(), Some(13));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(&hostile_store_name()), "{msg}");
    assert_clean("refused import --json (stderr)", &o.stderr);
}

/// The fixture upstream, with an update title and a classification title carrying terminal
/// escapes (clear screen, set window title, a right-to-left override).
fn hostile_upstream(dir: &Path) -> std::path::PathBuf {
    let up = dir.join("upstream");
    copy_tree(&upstream_fixtures(), &up);
    let edit = |name: &str, from: &str, to: &str| {
        let path = up.join(name);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{name} holds {from}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit(
        "update-a1-win10-2024-01-kb5034122.xml",
        "<upd:Title>2024-01 Cumulative",
        "<upd:Title>\x1b[2J\x1b]0;owned\x07\u{202e}2024-01 Cumulative",
    );
    edit(
        "update-a1-win10-2024-01-kb5034122.xml",
        "<upd:Description>Install this update",
        "<upd:Description>\x1b[2JInstall\r\nthis update",
    );
    edit(
        "category-class-security-updates.xml",
        "<upd:Title>Security Updates</upd:Title>",
        "<upd:Title>Security\x1b[2J Updates</upd:Title>",
    );
    up
}

#[test]
fn a_hostile_upstream_title_is_escaped_and_json_stays_exact() {
    let dir = tempfile::tempdir().unwrap();
    let up = hostile_upstream(dir.path());
    let s = init_store(dir.path(), "s");
    run(&["sync", "--store", p(&s), "--from", p(&up)], 0);
    // The classification by its GUID: its title is the hostile one.
    set_criteria(
        &s,
        &[
            "--product",
            "Windows 10",
            "--classification",
            "0fa1201d-4330-4fa8-8ae9-b877473b6441",
        ],
    );
    let o = raw(&["sync", "--store", p(&s), "--from", p(&up)]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_output_clean("sync", &o);

    let store = p(&s);
    for args in [
        vec!["updates", "list", "--store", store],
        vec!["updates", "show", "--store", store, "KB5034122"],
        vec!["categories", "list", "--store", store],
        vec!["criteria", "show", "--store", store],
        vec!["status", "--store", store],
    ] {
        let o = raw(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {o:?}");
        assert_output_clean(&args.join(" "), &o);
    }
    let shown = run(&["updates", "show", "--store", store, "KB5034122"], 0);
    assert!(shown.contains("\\u{001b}[2J\\u{001b}]0;owned\\u{0007}\\u{202e}2024-01"));

    let title = "\x1b[2J\x1b]0;owned\x07\u{202e}2024-01 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5034122)";
    let list = json(&[
        "updates", "list", "--store", store, "--kb", "5034122", "--json",
    ]);
    assert_eq!(list[0]["title"], title);
    assert_eq!(list[0]["classification"], "Security\x1b[2J Updates");
    let show = json(&["updates", "show", "--store", store, "KB5034122", "--json"]);
    assert_eq!(show["title"], title);
    // (XML turns the CR LF into LF.)
    assert!(
        show["description"]
            .as_str()
            .unwrap()
            .starts_with("\x1b[2JInstall\nthis update"),
        "{show}"
    );
    let cats = json(&["categories", "list", "--store", store, "--json"]);
    assert!(
        cats.as_array()
            .unwrap()
            .iter()
            .any(|c| c["title"] == "Security\x1b[2J Updates")
    );
}
