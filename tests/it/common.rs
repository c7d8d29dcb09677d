//! Helpers shared by the integration tests: running the binary, stores in a known state,
//! their fingerprints, and bundles changed the way someone who controls the media would.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `offsync` binary with a clean environment (no OFFSYNC_STORE from the caller) and no
/// terminal or input on stdin.
pub fn offsync() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_offsync"));
    c.env_remove("OFFSYNC_STORE").stdin(Stdio::null());
    c
}

/// `../shared/real-data/<rel>` (real documents, read and never copied into the project), or
/// `None` when it is absent. With `OFFSYNC_REQUIRE_REAL_DATA=1` (as CI sets it) an absent file
/// fails the test instead, so that a test cannot pass by skipping.
pub fn real_data(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/real-data")
        .join(rel);
    if path.exists() {
        return Some(path);
    }
    let required = std::env::var_os("OFFSYNC_REQUIRE_REAL_DATA").is_some_and(|v| v == "1");
    assert!(
        !required,
        "{} is absent and OFFSYNC_REQUIRE_REAL_DATA=1",
        path.display()
    );
    println!("skipped: {} is absent", path.display());
    None
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
    run_at(None, args)
}

/// [`run_any`] with the test clock `OFFSYNC_TEST_NOW` set to `now` (RFC 3339) when given.
pub fn run_at(now: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut c = offsync();
    if let Some(n) = now {
        c.env("OFFSYNC_TEST_NOW", n);
    }
    let out = c.args(args).output().expect("run offsync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `problem` of each of `status --json`'s warnings.
pub fn warning_problems(status: &serde_json::Value) -> Vec<String> {
    status["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["problem"].as_str().unwrap().to_string())
        .collect()
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

/// Runs `criteria set` on `store` with `criteria` (options such as `--product Windows`).
pub fn set_criteria(store: &Path, criteria: &[&str]) {
    let mut args = vec!["criteria", "set", "--store", p(store)];
    args.extend_from_slice(criteria);
    run(&args, 0);
}

/// Criteria that select every fixture product and classification.
pub const BROAD_CRITERIA: &[&str] = &[
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
];

/// A store synced from the fixtures with broad criteria (every fixture product and
/// classification), content taken in.
pub fn synced_store(dir: &Path, name: &str) -> PathBuf {
    synced_store_with(dir, name, BROAD_CRITERIA)
}

/// A store synced from the fixtures with `criteria`, content taken in.
pub fn synced_store_with(dir: &Path, name: &str, criteria: &[&str]) -> PathBuf {
    let s = synced_from(dir, name, &upstream_fixtures(), criteria);
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

/// A new store `dir/name` synced from `from` twice: once for the categories that `criteria`
/// name, then with `criteria` set for the updates they select.
pub fn synced_from(dir: &Path, name: &str, from: &Path, criteria: &[&str]) -> PathBuf {
    let s = init_store(dir, name);
    run(&["sync", "--store", p(&s), "--from", p(from)], 0);
    set_criteria(&s, criteria);
    run(&["sync", "--store", p(&s), "--from", p(from)], 0);
    s
}

/// The key of [`fingerprint`]'s list of content files.
pub const CONTENT_FILES: &str = "(content files)";

/// A fingerprint of a store: every row of every table (store identity and timestamps
/// included), and every content file with its SHA-256. The database must pass
/// `PRAGMA integrity_check`.
pub fn fingerprint(store: &Path) -> BTreeMap<String, Vec<String>> {
    let (integrity, mut out) = table_rows(store, &[]);
    assert_eq!(integrity, ["ok"], "integrity check of {}", store.display());
    out.insert(CONTENT_FILES.into(), content_digests(store));
    out
}

/// The rows of `PRAGMA integrity_check`, and every row of every table of the store's
/// database (sorted, cells in their debug form, the cells of `masked` (table, column) pairs
/// read as `<clock>`). Opens the database read-only, as a reader such as `status` or a child
/// update point would.
pub fn table_rows(
    store: &Path,
    masked: &[(&str, &str)],
) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let conn = rusqlite::Connection::open_with_flags(
        store.join("offsync.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open store db");
    let strings = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let integrity = strings("PRAGMA integrity_check");
    let mut out = BTreeMap::new();
    for t in strings("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let clock: Vec<bool> = st
            .column_names()
            .map(|c| masked.contains(&(t.as_str(), c)))
            .collect();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                let mut cells = Vec::new();
                for (i, is_clock) in clock.iter().enumerate() {
                    let v: rusqlite::types::Value = r.get(i)?;
                    cells.push(if *is_clock {
                        "<clock>".to_string()
                    } else {
                        format!("{v:?}")
                    });
                }
                Ok(cells.join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.insert(t, rows);
    }
    (integrity, out)
}

/// Every entry below the store's content folder but its folders, in file-name order: a file
/// as its `content/…` path and SHA-256, a symbolic link as its path and target (never
/// followed), so that a link planted or left there changes the fingerprint.
pub fn content_digests(store: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(store.join("content")).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(store).unwrap().display().to_string();
        if e.file_type().is_symlink() {
            let target = fs::read_link(e.path()).unwrap();
            files.push(format!("{rel} -> {}", target.display()));
        } else if !e.file_type().is_dir() {
            files.push(format!("{rel} {}", sha_hex(&fs::read(e.path()).unwrap())));
        }
    }
    files
}

/// Copies a folder tree (a store or a bundle).
pub fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if e.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Exports `store` to `media` (with `extra` options); returns the JSON report and the bundle
/// folder.
pub fn export(store: &Path, media: &Path, extra: &[&str]) -> (Value, PathBuf) {
    // The media is mounted: export never creates it.
    fs::create_dir_all(media).unwrap();
    let mut args = vec!["export", "--store", p(store), "--out", p(media), "--json"];
    args.extend_from_slice(extra);
    let v = json(&args);
    let dir = PathBuf::from(v["bundle_dir"].as_str().unwrap());
    (v, dir)
}

/// The one bundle folder inside `media`.
pub fn bundle_in(media: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = fs::read_dir(media)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 1, "one bundle in {}: {dirs:?}", media.display());
    dirs.pop().unwrap()
}

/// The volumes in a bundle folder, by name.
pub fn volumes(bundle: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(bundle)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    v.sort();
    v
}

pub fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(offsync::hash::sha256(bytes))
}

pub fn manifest(b: &Path) -> Value {
    serde_json::from_slice(&fs::read(b.join("manifest.json")).unwrap()).unwrap()
}

/// Writes the manifest and a matching `SHA256SUMS` (for the volumes the manifest lists).
pub fn write_manifest(b: &Path, m: &Value) {
    let mut text = serde_json::to_vec_pretty(m).unwrap();
    text.push(b'\n');
    fs::write(b.join("manifest.json"), &text).unwrap();
    let mut sums = format!("{}  manifest.json\n", sha_hex(&text));
    for v in m["volumes"].as_array().unwrap() {
        sums.push_str(&format!(
            "{}  {}\n",
            v["sha256"].as_str().unwrap(),
            v["name"].as_str().unwrap()
        ));
    }
    fs::write(b.join("SHA256SUMS"), sums).unwrap();
}

/// Edits the manifest, then vouches for every volume present as it now is: what someone who
/// can change the media does (checksums alone are not authenticity).
pub fn edit_manifest(b: &Path, f: impl FnOnce(&mut Value)) {
    let mut m = manifest(b);
    f(&mut m);
    for v in m["volumes"].as_array_mut().unwrap() {
        if let Ok(bytes) = fs::read(b.join(v["name"].as_str().unwrap())) {
            v["size"] = Value::from(bytes.len() as u64);
            v["sha256"] = Value::from(sha_hex(&bytes));
        }
    }
    write_manifest(b, &m);
}

/// The manifest and `SHA256SUMS` vouch again for the volumes as they are on disk.
pub fn revouch(b: &Path) {
    edit_manifest(b, |_| {});
}

/// A real-format `upd:Update` document of one Windows 10 security update with one payload file
/// (for tests that make their own upstream of payload-carrying updates).
pub fn update_with_file_xml(
    id: &str,
    kb: u64,
    title: &str,
    file_name: &str,
    sha1: &[u8],
    sha256: &[u8],
    size: u64,
) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        r#"<upd:Update xmlns:pub="http://schemas.microsoft.com/msus/2002/12/Publishing" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update">
  <upd:UpdateIdentity UpdateID="{id}" RevisionNumber="100" />
  <upd:Properties DefaultPropertiesLanguage="en" UpdateType="Software" ExplicitlyDeployable="true" AutoSelectOnWebSites="true" MsrcSeverity="Important" IsPublic="false" IsBeta="false" PublicationState="Published" CreationDate="2024-05-14T18:00:00.000Z" PublisherID="395392a0-19c0-48b7-a927-f7c15066d905">
    <upd:KBArticleID>{kb}</upd:KBArticleID>
  </upd:Properties>
  <upd:LocalizedPropertiesCollection>
    <upd:LocalizedProperties>
      <upd:Language>en</upd:Language>
      <upd:Title>{title}</upd:Title>
    </upd:LocalizedProperties>
  </upd:LocalizedPropertiesCollection>
  <upd:Relationships>
    <upd:Prerequisites>
      <upd:AtLeastOne IsCategory="true">
        <upd:UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441" />
      </upd:AtLeastOne>
      <upd:AtLeastOne IsCategory="true">
        <upd:UpdateIdentity UpdateID="a3c2375d-0c8a-42f9-bce0-28333e198407" />
      </upd:AtLeastOne>
    </upd:Prerequisites>
  </upd:Relationships>
  <upd:Files>
    <upd:File Digest="{sha1}" DigestAlgorithm="SHA1" FileName="{file_name}" Size="{size}" Modified="2024-05-10T22:16:41Z">
      <upd:AdditionalDigest Algorithm="SHA256">{sha256}</upd:AdditionalDigest>
    </upd:File>
  </upd:Files>
</upd:Update>
"#,
        sha1 = b64.encode(sha1),
        sha256 = b64.encode(sha256),
    )
}

/// Runs the binary and returns its whole output, whatever the exit code.
pub fn raw(args: &[&str]) -> std::process::Output {
    offsync().args(args).output().expect("run offsync")
}

/// An unencrypted key pair `NAME.key` and `NAME.pub` in `dir`; returns (secret, public).
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let base = dir.join(name);
    run(&["key", "generate", "--out", p(&base), "--unencrypted"], 0);
    (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    )
}

/// A sync of `store` from `from` with `extra` options, its JSON report.
pub fn sync_json(store: &Path, from: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["sync", "--store", p(store), "--from", p(from), "--json"];
    args.extend_from_slice(extra);
    json(&args)
}

/// Where a store keeps the content file whose SHA-256 is `sha256_hex`.
pub fn stored_path(store: &Path, sha256_hex: &str) -> PathBuf {
    store
        .join("content")
        .join(&sha256_hex[..2])
        .join(sha256_hex)
}

/// `import --json` of one bundle into `store`, expecting exit 0.
pub fn import_json(store: &Path, bundle: &Path) -> Value {
    json(&["import", "--store", p(store), "--json", p(bundle)])
}

/// `offsync publish KIND --store S --out DIR --json` with `extra` arguments, as JSON.
pub fn publish_json(kind: &str, store: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "publish",
        kind,
        "--store",
        p(store),
        "--out",
        p(out),
        "--json",
    ];
    args.extend_from_slice(extra);
    json(&args)
}

/// Renders `page` in headless Chromium with every host name unresolvable: the DOM after its
/// scripts ran, and the URLs of the requests the page itself made (the browser's own
/// background requests, whose initiator is "not an origin", are not the page's); with
/// `screenshot`, also writes one there.
pub fn chromium_render(
    page: &Path,
    work: &Path,
    screenshot: Option<&Path>,
) -> (String, Vec<String>) {
    let stem = page.file_stem().unwrap().to_string_lossy().into_owned();
    let chromium = |profile: &str| {
        let mut c = Command::new("chromium");
        c.args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join(format!("profile-{stem}-{profile}")).display()
        ));
        c
    };
    let ok = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let netlog = work.join(format!("{stem}.netlog.json"));
    let out = chromium("dom")
        .arg(format!("--log-net-log={}", netlog.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    ok(&out);
    let log: Value = serde_json::from_slice(&fs::read(&netlog).unwrap()).unwrap();
    let start = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    let requests = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| &e["type"] == start && e["params"]["initiator"] != "not an origin")
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect();
    if let Some(shot) = screenshot {
        let out = chromium("shot")
            .arg(format!("--screenshot={}", shot.display()))
            .arg("--window-size=1200,900")
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium");
        ok(&out);
    }
    (String::from_utf8_lossy(&out.stdout).into_owned(), requests)
}

/// An upstream folder `dir/name` with the fixture categories and `docs` (file name, XML).
pub fn upstream_with(dir: &Path, name: &str, docs: &[(String, String)]) -> PathBuf {
    let up = dir.join(name);
    fs::create_dir_all(&up).unwrap();
    for e in fs::read_dir(upstream_fixtures()).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("category-") {
            fs::copy(e.path(), up.join(e.file_name())).unwrap();
        }
    }
    for (name, xml) in docs {
        fs::write(up.join(name), xml).unwrap();
    }
    up
}
