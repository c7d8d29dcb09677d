//! `content fetch`, a catalog given by URL and `sync --fetch-content`, against a server the
//! test starts on the loopback address (tests/it/http_server.rs): never the internet. Every
//! download address in these catalogs is on 127.0.0.1 or under `.invalid` (which never
//! resolves) with `--mirror`. After every case the content folder holds only files whose
//! SHA-256 is their name.

use crate::common::*;
use crate::http_server::{Mode, Server};
use base64::Engine;
use serde_json::Value;
use sha1::Digest;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MICROSOFT: &str = "56309036-4c77-4dd9-951a-99ee9c246a94";
const WINDOWS: &str = "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d";
const WIN10: &str = "a3c2375d-0c8a-42f9-bce0-28333e198407";
const SECURITY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";

/// A payload file of the test catalog: what the metadata says (`meta`) and where it is.
struct Payload {
    name: String,
    meta: Vec<u8>,
    url: String,
}

fn payload(name: &str, meta: &[u8], url: &str) -> Payload {
    Payload {
        name: name.into(),
        meta: meta.to_vec(),
        url: url.into(),
    }
}

/// Bytes of a file `n` of `len` bytes (distinct per `n`).
fn bytes_of(n: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(n * 7) as u8)
        .collect()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// An offline catalog with Windows 10 security updates, one payload file each; `package`
/// tells versions apart.
fn catalog(files: &[Payload], package: u32) -> Vec<u8> {
    let cats = [
        (MICROSOFT, 101, "Company", "Microsoft", None),
        (WINDOWS, 102, "ProductFamily", "Windows", Some(MICROSOFT)),
        (WIN10, 103, "Product", "Windows 10", Some(WINDOWS)),
        (
            SECURITY,
            104,
            "UpdateClassification",
            "Security Updates",
            None,
        ),
    ];
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<OfflineSyncPackage xmlns=\"http://schemas.microsoft.com/msus/2004/02/OfflineSync\" PackageId=\"8a5f1e2c-0000-4000-8000-{package:012}\" CreationDate=\"2024-03-{:02}T10:00:00Z\" PackageVersion=\"1.1\"><Updates>",
        package % 28 + 1
    );
    let mut frags: Vec<(String, Vec<u8>)> = Vec::new();
    for (id, rev, kind, title, parent) in cats {
        let pre = parent
            .map(|p| format!("<Prerequisites><UpdateId Id=\"{p}\" /></Prerequisites>"))
            .unwrap_or_default();
        xml += &format!(
            "<Update CreationDate=\"2003-01-01T00:00:00Z\" DefaultLanguage=\"en\" UpdateId=\"{id}\" RevisionNumber=\"1\" RevisionId=\"{rev}\" IsSoftware=\"false\" DeploymentAction=\"Evaluate\">{pre}</Update>"
        );
        let rel = parent.map(|p| format!("<Relationships><Prerequisites><AtLeastOne IsCategory=\"true\"><UpdateIdentity UpdateID=\"{p}\" /></AtLeastOne></Prerequisites></Relationships>")).unwrap_or_default();
        frags.push((format!("c\\{rev}"), format!("<UpdateIdentity UpdateID=\"{id}\" RevisionNumber=\"1\" /><Properties UpdateType=\"Category\" />{rel}").into_bytes()));
        frags.push((format!("x\\{rev}"), format!("<ExtendedProperties DefaultPropertiesLanguage=\"en\" /><HandlerSpecificData type=\"cat:Category\"><CategoryInformation CategoryType=\"{kind}\" /></HandlerSpecificData>").into_bytes()));
        frags.push((format!("l\\en\\{rev}"), format!("<LocalizedProperties><Language>en</Language><Title>{title}</Title></LocalizedProperties>").into_bytes()));
    }
    let mut locations = String::new();
    for (k, f) in files.iter().enumerate() {
        let id = format!("1d956cd9-8a3f-44d7-8ccb-{:012}", k + 1);
        let rev = 300_000 + k as u32;
        let sha1 = b64(&sha1::Sha1::digest(&f.meta));
        let sha256 = b64(&sha2::Sha256::digest(&f.meta));
        xml += &format!(
            "<Update CreationDate=\"2024-02-13T18:00:00Z\" DefaultLanguage=\"en\" UpdateId=\"{id}\" RevisionNumber=\"1\" RevisionId=\"{rev}\" IsLeaf=\"true\"><Categories><Category Type=\"Company\" Id=\"{MICROSOFT}\" /><Category Type=\"ProductFamily\" Id=\"{WINDOWS}\" /><Category Type=\"Product\" Id=\"{WIN10}\" /><Category Type=\"UpdateClassification\" Id=\"{SECURITY}\" /></Categories><PayloadFiles><File Id=\"{sha1}\" /></PayloadFiles></Update>"
        );
        locations += &format!("<FileLocation Id=\"{sha1}\" Url=\"{}\" />", f.url);
        frags.push((format!("c\\{rev}"), format!("<UpdateIdentity UpdateID=\"{id}\" RevisionNumber=\"1\" /><Properties UpdateType=\"Software\" ExplicitlyDeployable=\"true\" />").into_bytes()));
        frags.push((format!("x\\{rev}"), format!("<ExtendedProperties DefaultPropertiesLanguage=\"en\" MsrcSeverity=\"Important\"><KBArticleID>{}</KBArticleID></ExtendedProperties><Files><File Digest=\"{sha1}\" DigestAlgorithm=\"SHA1\" FileName=\"{}\" Size=\"{}\" Modified=\"2024-02-09T10:00:00Z\"><AdditionalDigest Algorithm=\"SHA256\">{sha256}</AdditionalDigest></File></Files>", 5_000_000 + k, f.name, f.meta.len()).into_bytes()));
        frags.push((format!("l\\en\\{rev}"), format!("<LocalizedProperties><Language>en</Language><Title>Update {k} for Windows 10 (KB{})</Title></LocalizedProperties>", 5_000_000 + k).into_bytes()));
    }
    xml += &format!("</Updates><FileLocations>{locations}</FileLocations></OfflineSyncPackage>");
    frags.sort();
    let inner = crate::wsusscn2::cab(&frags);
    let index = "<INDEX VERSION=\"1\"><CABLIST XOR=\"0\"><CAB NAME=\"package.cab\" /><CAB NAME=\"package2.cab\" RANGESTART=\"0\" /></CABLIST></INDEX>";
    crate::wsusscn2::cab(&[
        ("index.xml".into(), index.as_bytes().to_vec()),
        (
            "package.cab".into(),
            crate::wsusscn2::cab(&[("package.xml".into(), xml.into_bytes())]),
        ),
        ("package2.cab".into(), inner),
    ])
}

/// offsync with no proxy from the caller's environment and short waits before retries.
fn cmd() -> Command {
    let mut c = offsync();
    for v in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        c.env_remove(v);
    }
    c.env("OFFSYNC_TEST_MAX_RETRY_WAIT_MS", "20");
    c
}

/// Runs offsync; returns exit code, stdout as JSON (Null when it is not JSON), stderr.
fn go(c: &mut Command, args: &[&str]) -> (i32, Value, String) {
    let out = c.args(args).output().expect("run offsync");
    let stdout = String::from_utf8_lossy(&out.stdout);
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// A store synced from a catalog of these payloads, selecting all of them.
fn store_with(dir: &Path, files: &[Payload]) -> PathBuf {
    let cab = dir.join("wsusscn2.cab");
    std::fs::write(&cab, catalog(files, 1)).unwrap();
    let s = init_store(dir, "s");
    run(&["sync", "--store", p(&s), "--from", p(&cab)], 0);
    set_criteria(
        &s,
        &[
            "--product",
            "Windows 10",
            "--classification",
            "Security Updates",
        ],
    );
    let r = sync_json(&s, &cab, &[]);
    assert_eq!(r["new"], files.len() as u64, "{r}");
    s
}

fn fetch(s: &Path, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["content", "fetch", "--store", p(s), "--json"];
    args.extend_from_slice(extra);
    go(&mut cmd(), &args)
}

/// Every file in the content folder (payloads and the kept catalog) hashes to its name;
/// returns their names.
fn sound_content(s: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for e in walkdir::WalkDir::new(s.join("content")) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert_eq!(
                sha_hex(&std::fs::read(e.path()).unwrap()),
                name,
                "{}",
                e.path().display()
            );
            names.push(name);
        }
    }
    names.sort();
    names
}

fn has(s: &Path, bytes: &[u8]) -> bool {
    sound_content(s).contains(&sha_hex(bytes))
}

fn log(s: &Path) -> String {
    std::fs::read_to_string(s.join("offsync.log")).unwrap()
}

#[test]
fn good_files_are_downloaded_checked_logged_and_then_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let files: Vec<Payload> = (0..3)
        .map(|k| {
            let b = bytes_of(k, 3000 + k as usize * 100);
            srv.route(&format!("/f{k}.cab"), &b, Mode::Normal);
            payload(&format!("f{k}.cab"), &b, &srv.url(&format!("/f{k}.cab")))
        })
        .collect();
    let s = store_with(dir.path(), &files);
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["downloaded"].as_array().unwrap().len(), 3, "{r}");
    assert_eq!(r["bytes"], 3000 + 3100 + 3200);
    assert_eq!(r["skipped"], 0);
    assert_eq!(r["failed"].as_array().unwrap().len(), 0);
    for f in &files {
        assert!(has(&s, &f.meta));
    }
    let l = log(&s);
    assert_eq!(l.matches("Downloaded f").count(), 3, "{l}");
    assert!(l.contains("Content fetch: 3 file(s) downloaded"), "{l}");
    // All present: nothing is asked for again.
    let before = srv.all_seen().len();
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["skipped"], 3);
    assert_eq!(r["downloaded"].as_array().unwrap().len(), 0);
    assert_eq!(srv.all_seen().len(), before);
    // The text form says the same.
    let (code, _, out) = go(&mut cmd(), &["content", "fetch", "--store", p(&s)]);
    assert_eq!(code, 0);
    assert!(
        out.contains("0 downloaded") && out.contains("3 already present"),
        "{out}"
    );
}

#[test]
fn a_file_whose_bytes_differ_from_the_metadata_is_retried_once_then_refused() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let meta = bytes_of(1, 2000);
    let mut served = meta.clone();
    served[1000] ^= 0xff;
    srv.route("/bad.cab", &served, Mode::Normal);
    let good = bytes_of(2, 1500);
    srv.route("/good.cab", &good, Mode::Normal);
    let s = store_with(
        dir.path(),
        &[
            payload("bad.cab", &meta, &srv.url("/bad.cab")),
            payload("good.cab", &good, &srv.url("/good.cab")),
        ],
    );
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 20, "{out}");
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{r}");
    assert_eq!(failed[0]["name"], "bad.cab");
    assert_eq!(failed[0]["url"], srv.url("/bad.cab").as_str());
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("digests"),
        "{r}"
    );
    // Downloaded twice, from zero both times.
    let seen = srv.seen("/bad.cab");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|x| x.range.is_none()));
    assert!(!has(&s, &served) && !has(&s, &meta));
    assert!(has(&s, &good));
    assert!(log(&s).contains("Failed to download bad.cab"));
    assert!(out.contains("could not be downloaded"), "{out}");
}

#[test]
fn a_truncated_response_is_retried_and_never_enters_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(3, 4000);
    srv.route("/t.cab", &b, Mode::Truncated);
    let s = store_with(dir.path(), &[payload("t.cab", &b, &srv.url("/t.cab"))]);
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 20, "{out}");
    let reason = r["failed"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("2000 of 4000"), "{reason}");
    assert_eq!(srv.seen("/t.cab").len(), 6, "the default tries");
    assert!(!has(&s, &b) && !has(&s, &b[..2000]));
}

#[test]
fn a_connection_dropped_half_way_is_resumed_with_range() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(4, 100_000);
    srv.route("/d.cab", &b, Mode::DropOnce { at: 40_000 });
    let s = store_with(dir.path(), &[payload("d.cab", &b, &srv.url("/d.cab"))]);
    let (code, _, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    let seen = srv.seen("/d.cab");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].sent, 40_000);
    assert_eq!(seen[1].range.as_deref(), Some("bytes=40000-"));
    assert_eq!((seen[1].status, seen[1].sent), (206, 60_000));
    assert!(has(&s, &b));
}

/// The partial file of a download, where an earlier run left it.
fn partial(s: &Path, bytes: &[u8]) -> PathBuf {
    let d = s.join("staging").join("downloads");
    std::fs::create_dir_all(&d).unwrap();
    d.join(format!("{}.part", sha_hex(bytes)))
}

#[test]
fn a_partial_left_by_an_earlier_run_is_resumed_and_one_ignoring_range_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let a = bytes_of(5, 50_000);
    let b = bytes_of(6, 50_000);
    srv.route("/a.cab", &a, Mode::Normal);
    srv.route("/b.cab", &b, Mode::IgnoreRange);
    let s = store_with(
        dir.path(),
        &[
            payload("a.cab", &a, &srv.url("/a.cab")),
            payload("b.cab", &b, &srv.url("/b.cab")),
        ],
    );
    std::fs::write(partial(&s, &a), &a[..30_000]).unwrap();
    std::fs::write(partial(&s, &b), &b[..30_000]).unwrap();
    let (code, _, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    let sa = srv.seen("/a.cab");
    assert_eq!(sa.len(), 1);
    assert_eq!(sa[0].range.as_deref(), Some("bytes=30000-"));
    assert_eq!((sa[0].status, sa[0].sent), (206, 20_000));
    let sb = srv.seen("/b.cab");
    assert_eq!(sb.len(), 1);
    assert_eq!(sb[0].range.as_deref(), Some("bytes=30000-"));
    assert_eq!((sb[0].status, sb[0].sent), (200, 50_000));
    assert!(has(&s, &a) && has(&s, &b));
    assert!(!partial(&s, &a).exists() && !partial(&s, &b).exists());
    // A partial of a file no update needs is removed by the next run.
    let stale = partial(&s, b"a file nobody needs");
    std::fs::write(&stale, b"a file").unwrap();
    let (code, _, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(!stale.exists());
}

#[test]
fn redirects_are_followed_within_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(7, 5000);
    srv.route("/r1", &[], Mode::Redirect("/r2".into()));
    srv.route("/r2", &[], Mode::Redirect(srv.url("/r3")));
    srv.route("/r3", &b, Mode::Normal);
    let looped = bytes_of(8, 10);
    srv.route("/l1", &[], Mode::Redirect("/l2".into()));
    srv.route("/l2", &[], Mode::Redirect("/l1".into()));
    let s = store_with(
        dir.path(),
        &[
            payload("r.cab", &b, &srv.url("/r1")),
            payload("l.cab", &looped, &srv.url("/l1")),
        ],
    );
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 20, "{out}");
    assert!(has(&s, &b));
    assert_eq!(srv.seen("/r3").len(), 1);
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("redirect"),
        "{r}"
    );
    // The loop is given up on, not retried.
    let hops = srv.seen("/l1").len() + srv.seen("/l2").len();
    assert!((10..=12).contains(&hops), "{hops} requests");
}

#[test]
fn a_404_is_recorded_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(9, 800);
    srv.route("/ok.cab", &b, Mode::Normal);
    let gone = bytes_of(10, 900);
    let s = store_with(
        dir.path(),
        &[
            payload("gone.cab", &gone, &srv.url("/gone.cab")),
            payload("ok.cab", &b, &srv.url("/ok.cab")),
        ],
    );
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 20, "{out}");
    assert_eq!(r["failed"][0]["reason"], "HTTP 404");
    assert_eq!(srv.seen("/gone.cab").len(), 1, "a 404 is not retried");
    assert_eq!(r["downloaded"][0]["name"], "ok.cab");
    assert!(has(&s, &b) && !has(&s, &gone));
    assert!(log(&s).contains("Failed to download gone.cab"));
}

#[test]
fn a_503_with_retry_after_is_waited_out_then_retried() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(11, 700);
    srv.route("/busy.cab", &b, Mode::RetryAfter { times: 1, secs: 1 });
    let s = store_with(
        dir.path(),
        &[payload("busy.cab", &b, &srv.url("/busy.cab"))],
    );
    // No cap on the wait here: the server's second is obeyed.
    let mut c = cmd();
    c.env_remove("OFFSYNC_TEST_MAX_RETRY_WAIT_MS");
    let (code, _, out) = go(&mut c, &["content", "fetch", "--store", p(&s)]);
    assert_eq!(code, 0, "{out}");
    let seen = srv.seen("/busy.cab");
    assert_eq!(
        seen.iter().map(|x| x.status).collect::<Vec<_>>(),
        [503, 200]
    );
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(900), "waited {gap:?}");
    assert!(has(&s, &b));
}

#[test]
fn limit_rate_caps_the_total_bandwidth() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let files: Vec<Payload> = (0..2)
        .map(|k| {
            let b = bytes_of(20 + k, 5 * 1024);
            srv.route(&format!("/s{k}"), &b, Mode::Normal);
            payload(&format!("s{k}.cab"), &b, &srv.url(&format!("/s{k}")))
        })
        .collect();
    let s = store_with(dir.path(), &files);
    // 10 KiB at 5 KiB/s: the first second's worth at once, the rest in one second.
    let t = Instant::now();
    let (code, _, out) = fetch(&s, &["--limit-rate", "5K", "--parallel", "2"]);
    let took = t.elapsed();
    assert_eq!(code, 0, "{out}");
    assert!(took >= Duration::from_millis(850), "took {took:?}");
    assert!(files.iter().all(|f| has(&s, &f.meta)));
}

#[test]
fn a_slow_server_is_waited_for_and_its_file_arrives_whole() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    // 4 KiB in 256-byte pieces 60 ms apart: about a second of trickle.
    let b = bytes_of(31, 4096);
    srv.route(
        "/slow.cab",
        &b,
        Mode::Slow {
            chunk: 256,
            pause_ms: 60,
        },
    );
    let f = payload("slow.cab", &b, &srv.url("/slow.cab"));
    let s = store_with(dir.path(), std::slice::from_ref(&f));
    let t = Instant::now();
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(t.elapsed() >= Duration::from_millis(900), "not trickled");
    assert_eq!(r["downloaded"].as_array().unwrap().len(), 1, "{r}");
    assert!(has(&s, &f.meta));
    // One request: the slow answer was neither cut short nor retried (the server notes a
    // request once it has sent it all, a moment after the client has it).
    let t = Instant::now();
    while srv.seen("/slow.cab").is_empty() && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(srv.seen("/slow.cab").len(), 1);
}

#[test]
fn mirror_replaces_scheme_and_host() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(12, 1200);
    srv.route("/msdownload/update/m.cab", &b, Mode::Normal);
    // `.invalid` never resolves: without the mirror this cannot be fetched at all.
    let s = store_with(
        dir.path(),
        &[payload(
            "m.cab",
            &b,
            "https://download.invalid/msdownload/update/m.cab",
        )],
    );
    let (code, r, out) = fetch(&s, &["--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        r["planned"][0]["url"],
        "https://download.invalid/msdownload/update/m.cab"
    );
    assert!(srv.all_seen().is_empty(), "a dry run downloads nothing");
    let mirror = format!("http://127.0.0.1:{}", srv.port);
    let (code, r, out) = fetch(&s, &["--mirror", &mirror]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        r["downloaded"][0]["url"],
        format!("{mirror}/msdownload/update/m.cab").as_str()
    );
    assert!(has(&s, &b));
}

#[test]
fn parallel_downloads_many_small_files_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    srv.set_delay(Duration::from_millis(40));
    let files: Vec<Payload> = (0..24)
        .map(|k| {
            let b = bytes_of(100 + k, 300 + k as usize);
            srv.route(&format!("/p{k}"), &b, Mode::Normal);
            payload(&format!("p{k}.cab"), &b, &srv.url(&format!("/p{k}")))
        })
        .collect();
    let s = store_with(dir.path(), &files);
    let (code, r, out) = fetch(&s, &["--parallel", "6"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["downloaded"].as_array().unwrap().len(), 24);
    assert!(files.iter().all(|f| has(&s, &f.meta)));
    assert!(srv.max_active() > 1, "downloads overlapped");
    assert!(srv.max_active() <= 6, "at most --parallel at once");
}

/// Every table but the sync history.
fn state(store: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut f = fingerprint(store);
    f.remove("sync_runs");
    f
}

#[test]
fn a_catalog_by_url_is_fetched_then_not_again_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let one = [payload("x.cab", &bytes_of(30, 10), &srv.url("/x.cab"))];
    srv.route_tagged(
        "/wsusscn2.cab",
        &catalog(&one, 1),
        Mode::Normal,
        Some("\"v1\""),
    );
    let s = init_store(dir.path(), "s");
    let url = srv.url("/wsusscn2.cab");
    let (code, _, out) = go(&mut cmd(), &["upstream", "set", "--store", p(&s), &url]);
    assert_eq!(code, 0, "{out}");
    run(&["sync", "--store", p(&s)], 0);
    set_criteria(
        &s,
        &[
            "--product",
            "Windows 10",
            "--classification",
            "Security Updates",
        ],
    );
    // Unchanged: a conditional request, answered 304; the sync reads the kept copy.
    let (code, r, out) = go(&mut cmd(), &["sync", "--store", p(&s), "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["new"], 1, "{r}");
    assert!(out.contains("unchanged since the last download"), "{out}");
    let seen = srv.seen("/wsusscn2.cab");
    assert_eq!(
        seen.iter().map(|x| x.status).collect::<Vec<_>>(),
        [200, 304]
    );
    assert_eq!(seen[1].if_none_match.as_deref(), Some("\"v1\""));
    // Changed: downloaded and synced.
    let two = [
        payload("x.cab", &bytes_of(30, 10), &srv.url("/x.cab")),
        payload("y.cab", &bytes_of(31, 10), &srv.url("/y.cab")),
    ];
    srv.route_tagged(
        "/wsusscn2.cab",
        &catalog(&two, 2),
        Mode::Normal,
        Some("\"v2\""),
    );
    let (code, r, out) = go(&mut cmd(), &["sync", "--store", p(&s), "--json"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        (r["new"].as_u64(), r["unchanged"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(srv.seen("/wsusscn2.cab").last().unwrap().status, 200);
    // Not a catalog (a proxy's error page, say): nothing changes.
    let before = state(&s);
    srv.route_tagged(
        "/wsusscn2.cab",
        b"<html>blocked</html>",
        Mode::Normal,
        Some("\"v3\""),
    );
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s)]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("did not give an offline catalog"), "{out}");
    assert_eq!(state(&s), before);
    // Cut short every time: nothing changes either.
    srv.route_tagged(
        "/wsusscn2.cab",
        &catalog(&two, 3),
        Mode::Truncated,
        Some("\"v4\""),
    );
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s)]);
    assert_ne!(code, 0, "{out}");
    assert_eq!(state(&s), before);
    sound_content(&s);
}

#[test]
fn sync_fetch_content_downloads_after_the_sync() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(40, 2500);
    srv.route("/z.cab", &b, Mode::Normal);
    let files = [payload("z.cab", &b, &srv.url("/z.cab"))];
    // Tagged: a catalog is resumed only with a strong validator to send as If-Range.
    srv.route_tagged(
        "/cat.cab",
        &catalog(&files, 1),
        Mode::DropOnce { at: 1000 },
        Some("\"c1\""),
    );
    let s = init_store(dir.path(), "s");
    let url = srv.url("/cat.cab");
    run(&["sync", "--store", p(&s), "--from", &url], 0);
    set_criteria(
        &s,
        &[
            "--product",
            "Windows 10",
            "--classification",
            "Security Updates",
        ],
    );
    let (code, r, out) = go(
        &mut cmd(),
        &[
            "sync",
            "--store",
            p(&s),
            "--from",
            &url,
            "--fetch-content",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["new"], 1, "{r}");
    assert_eq!(r["fetch"]["downloaded"][0]["name"], "z.cab", "{r}");
    assert!(has(&s, &b));
    // The catalog's first download broke off and was resumed.
    let seen = srv.seen("/cat.cab");
    assert_eq!(seen[1].range.as_deref(), Some("bytes=1000-"), "{seen:?}");
    assert_eq!(seen[1].if_range.as_deref(), Some("\"c1\""), "{seen:?}");
}

#[test]
fn only_the_named_updates_are_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let files: Vec<Payload> = (0..3)
        .map(|k| {
            let b = bytes_of(50 + k, 400);
            srv.route(&format!("/u{k}"), &b, Mode::Normal);
            payload(&format!("u{k}.cab"), &b, &srv.url(&format!("/u{k}")))
        })
        .collect();
    let s = store_with(dir.path(), &files);
    // The catalog builder gives update k the KB 5000000 + k.
    let (code, r, out) = fetch(&s, &["--update", "KB5000001"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["needed"], 1, "{r}");
    assert_eq!(r["downloaded"][0]["name"], "u1.cab");
    assert!(has(&s, &files[1].meta) && !has(&s, &files[0].meta));
    assert_eq!(srv.all_seen().len(), 1);
    let (code, _, out) = fetch(&s, &["--update", "KB4999999"]);
    assert_eq!(code, 2, "an unknown update is a usage error: {out}");
}

#[test]
fn files_whose_metadata_gives_no_address_are_reported_not_fetched() {
    // Documents from a folder of upd:Update XML carry no download address.
    let dir = tempfile::tempdir().unwrap();
    let s = synced_store(dir.path(), "s");
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 20, "{out}");
    let failed = r["failed"].as_array().unwrap();
    assert!(!failed.is_empty(), "{r}");
    assert!(
        failed.iter().all(|f| f["url"].is_null()
            && f["reason"]
                .as_str()
                .unwrap()
                .contains("no download address")),
        "{r}"
    );
    assert_eq!(r["downloaded"].as_array().unwrap().len(), 0);
}

// ---- Review fixes (issue 14 review) ----

/// A catalog with one payload served at `srv`, tagged `etag`, set as the store's upstream by
/// URL and synced once; returns the store and the catalog's URL.
fn url_synced(dir: &Path, srv: &Server, etag: &str) -> (PathBuf, String) {
    let one = [payload("x.cab", &bytes_of(60, 10), &srv.url("/x.cab"))];
    srv.route_tagged("/wsusscn2.cab", &catalog(&one, 1), Mode::Normal, Some(etag));
    let s = init_store(dir, "s");
    let url = srv.url("/wsusscn2.cab");
    let (code, _, out) = go(&mut cmd(), &["upstream", "set", "--store", p(&s), &url]);
    assert_eq!(code, 0, "{out}");
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s)]);
    assert_eq!(code, 0, "{out}");
    (s, url)
}

fn downloads(s: &Path) -> PathBuf {
    s.join("staging").join("downloads")
}

#[test]
fn a_second_download_run_in_the_same_store_is_refused_as_busy() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(61, 1000);
    srv.route("/a.cab", &b, Mode::Normal);
    let s = store_with(dir.path(), &[payload("a.cab", &b, &srv.url("/a.cab"))]);
    // Another process (here: this test) holds the store's download lock.
    std::fs::create_dir_all(downloads(&s)).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(downloads(&s).join(".lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let (code, _, out) = fetch(&s, &[]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("another download is running"), "{out}");
    assert!(srv.all_seen().is_empty() && !has(&s, &b));
    let url = srv.url("/wsusscn2.cab");
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s), "--from", &url]);
    assert_eq!(code, 3, "{out}");
    drop(lock);
    let (code, _, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(has(&s, &b));
}

fn status(s: &Path) -> Value {
    let (_, v, out) = go(&mut cmd(), &["status", "--store", p(s), "--json"]);
    assert!(!v.is_null(), "{out}");
    v
}

#[test]
fn a_failed_catalog_download_or_an_unreadable_upstream_is_a_failed_sync() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let s = init_store(dir.path(), "s");
    let url = srv.url("/missing.cab");
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s), "--from", &url]);
    assert_ne!(code, 0, "{out}");
    let st = status(&s);
    assert_eq!(st["last_sync"]["outcome"], "failed", "{st}");
    assert!(st["last_error"].to_string().contains("HTTP 404"), "{st}");
    let l = log(&s);
    assert!(
        l.contains(&format!(
            "Synchronization failed: cannot download the offline catalog from {url}"
        )),
        "{l}"
    );
    let (code, _, out) = go(&mut cmd(), &["status", "--store", p(&s), "--check"]);
    assert_eq!(code, 21, "{out}");
    // A parent store that cannot be reached: a failed sync, and still a child.
    let parent = synced_store(dir.path(), "parent");
    let child = init_store(dir.path(), "child");
    run(&["upstream", "set", "--store", p(&child), p(&parent)], 0);
    run(&["sync", "--store", p(&child)], 0);
    assert_eq!(status(&child)["role"], "child");
    let away = dir.path().join("parent-away");
    std::fs::rename(&parent, &away).unwrap();
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&child)]);
    assert_ne!(code, 0, "{out}");
    let st = status(&child);
    assert_eq!(st["last_sync"]["outcome"], "failed", "{st}");
    assert_eq!(st["role"], "child", "{st}");
}

#[test]
fn a_kept_catalog_replaced_by_a_local_sync_is_not_taken_for_the_servers() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let (s, _) = url_synced(dir.path(), &srv, "\"v1\"");
    // Another catalog, synced from a local file, replaces the kept one.
    let other = dir.path().join("other.cab");
    let two = [
        payload("x.cab", &bytes_of(60, 10), &srv.url("/x.cab")),
        payload("y.cab", &bytes_of(62, 10), &srv.url("/y.cab")),
    ];
    std::fs::write(&other, catalog(&two, 7)).unwrap();
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s), "--from", p(&other)]);
    assert_eq!(code, 0, "{out}");
    // The next URL sync must not ask "only if changed" for a catalog it no longer holds.
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s), "--allow-older"]);
    assert_eq!(code, 0, "{out}");
    let last = srv.seen("/wsusscn2.cab").last().cloned().unwrap();
    assert_eq!((last.status, last.if_none_match), (200, None));
    // Now it holds the server's again: the next one is a 304.
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s)]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(srv.seen("/wsusscn2.cab").last().unwrap().status, 304);
    sound_content(&s);
}

/// Leaves the first `n` bytes of `bytes` as the catalog's partial download of `url`, with a
/// sidecar naming these validators.
fn catalog_partial(s: &Path, url: &str, bytes: &[u8], n: usize, etag: Option<&str>) {
    std::fs::create_dir_all(downloads(s)).unwrap();
    std::fs::write(downloads(s).join("catalog.part"), &bytes[..n]).unwrap();
    let side = serde_json::json!({"url": url, "validators": {"etag": etag, "last_modified": null}});
    std::fs::write(downloads(s).join("catalog.part.json"), side.to_string()).unwrap();
}

#[test]
fn a_catalog_is_resumed_only_with_a_strong_validator_never_spliced() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let s = init_store(dir.path(), "s");
    let url = srv.url("/wsusscn2.cab");
    let one = [payload("x.cab", &bytes_of(63, 10), &srv.url("/x.cab"))];
    let two = [payload("y.cab", &bytes_of(64, 10), &srv.url("/y.cab"))];
    let old = catalog(&one, 1);
    // No validator, then a weak one: the partial (of the old version) is dropped.
    for (k, etag) in [None, Some("W/\"v1\"")].into_iter().enumerate() {
        let new = catalog(&two, 2 + k as u32);
        let tag = format!("W/\"v{}\"", 2 + k);
        srv.route_tagged("/wsusscn2.cab", &new, Mode::Normal, Some(&tag));
        catalog_partial(&s, &url, &old, old.len() / 2, etag);
        let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s), "--from", &url]);
        assert_eq!(code, 0, "case {k}: {out}");
        let last = srv.seen("/wsusscn2.cab").last().cloned().unwrap();
        assert_eq!((last.range, last.status), (None, 200), "case {k}");
    }
    // A strong ETag: the server decides (If-Range); a changed file comes whole.
    srv.route_tagged(
        "/wsusscn2.cab",
        &catalog(&two, 5),
        Mode::Normal,
        Some("\"v5\""),
    );
    catalog_partial(&s, &url, &old, old.len() / 2, Some("\"v1\""));
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s), "--from", &url]);
    assert_eq!(code, 0, "{out}");
    let last = srv.seen("/wsusscn2.cab").last().cloned().unwrap();
    assert_eq!(last.if_range.as_deref(), Some("\"v1\""));
    assert_eq!(last.status, 200);
    // The same version is resumed.
    srv.route_tagged("/wsusscn2.cab", &old, Mode::Normal, Some("\"v1\""));
    catalog_partial(&s, &url, &old, 100, Some("\"v1\""));
    let (code, _, out) = go(
        &mut cmd(),
        &["sync", "--store", p(&s), "--from", &url, "--allow-older"],
    );
    assert_eq!(code, 0, "{out}");
    let last = srv.seen("/wsusscn2.cab").last().cloned().unwrap();
    assert_eq!(
        (last.status, last.range.as_deref()),
        (206, Some("bytes=100-"))
    );
    sound_content(&s);
}

#[test]
fn a_304_removes_a_stale_catalog_partial() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let (s, url) = url_synced(dir.path(), &srv, "\"v1\"");
    catalog_partial(&s, &url, &bytes_of(65, 5000), 5000, Some("\"v9\""));
    let (code, _, out) = go(&mut cmd(), &["sync", "--store", p(&s)]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(srv.seen("/wsusscn2.cab").last().unwrap().status, 304);
    assert!(!downloads(&s).join("catalog.part").exists());
    assert!(!downloads(&s).join("catalog.part.json").exists());
}

#[test]
fn a_local_disk_error_stops_the_run_with_a_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let files: Vec<Payload> = (0..4)
        .map(|k| {
            let b = bytes_of(70 + k, 2000);
            srv.route(&format!("/e{k}"), &b, Mode::Normal);
            payload(&format!("e{k}.cab"), &b, &srv.url(&format!("/e{k}")))
        })
        .collect();
    let s = store_with(dir.path(), &files);
    // Every partial file's place is taken by a folder: nothing can be written.
    for f in &files {
        std::fs::create_dir_all(partial(&s, &f.meta)).unwrap();
    }
    let (code, _, out) = fetch(&s, &["--parallel", "1"]);
    assert_eq!(code, 4, "a storage error, not a per-file failure: {out}");
    assert_eq!(srv.all_seen().len(), 1, "the run stopped at the first");
    assert!(out.contains("cannot open"), "{out}");
}

#[test]
fn the_run_gives_up_when_nothing_arrives_from_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let files: Vec<Payload> = (0..10)
        .map(|k| {
            let b = bytes_of(80 + k, 500);
            srv.route(
                &format!("/n{k}"),
                &b,
                Mode::Fail {
                    code: 503,
                    times: 1000,
                },
            );
            payload(&format!("n{k}.cab"), &b, &srv.url(&format!("/n{k}")))
        })
        .collect();
    let s = store_with(dir.path(), &files);
    let (code, r, out) = fetch(&s, &["--parallel", "2"]);
    assert_eq!(code, 20, "{out}");
    let failed = r["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 10, "{r}");
    assert!(
        failed.iter().all(|f| f["reason"]
            .as_str()
            .unwrap()
            .contains("network unreachable")),
        "{r}"
    );
    // Six tries in a row (3 × 2 downloads) and the ones under way: not 10 × 6.
    let tries = srv.all_seen().len();
    assert!(tries <= 8, "{tries} requests");
}

#[test]
fn a_file_that_arrives_a_piece_per_try_gets_there() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    // Ten pieces, each try one more: more tries than the 6 allowed without progress.
    let b = bytes_of(90, 10_000);
    srv.route("/piece.cab", &b, Mode::Dribble { at: 1000 });
    let s = store_with(
        dir.path(),
        &[payload("piece.cab", &b, &srv.url("/piece.cab"))],
    );
    let (code, _, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(srv.seen("/piece.cab").len(), 10);
    assert!(has(&s, &b));
}

#[test]
fn a_wrong_content_range_a_too_long_partial_and_a_429_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let (a, b, c) = (bytes_of(91, 3000), bytes_of(92, 3000), bytes_of(93, 3000));
    srv.route("/wr.cab", &a, Mode::WrongRange);
    srv.route("/long.cab", &b, Mode::Normal);
    srv.route(
        "/many.cab",
        &c,
        Mode::Fail {
            code: 429,
            times: 2,
        },
    );
    let s = store_with(
        dir.path(),
        &[
            payload("wr.cab", &a, &srv.url("/wr.cab")),
            payload("long.cab", &b, &srv.url("/long.cab")),
            payload("many.cab", &c, &srv.url("/many.cab")),
        ],
    );
    std::fs::write(partial(&s, &a), &a[..1000]).unwrap();
    let mut longer = b.clone();
    longer.extend_from_slice(b"and more");
    std::fs::write(partial(&s, &b), &longer).unwrap();
    let (code, r, out) = fetch(&s, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["downloaded"].as_array().unwrap().len(), 3, "{r}");
    // The 206 from elsewhere was not appended: the file started again from zero.
    let wr = srv.seen("/wr.cab");
    assert_eq!((wr.len(), wr[1].range.as_deref()), (2, None), "{wr:?}");
    // The partial longer than the file: 416, then from zero.
    let long = srv.seen("/long.cab");
    assert_eq!(
        long.iter().map(|x| x.status).collect::<Vec<_>>(),
        [416, 200]
    );
    let many = srv.seen("/many.cab");
    assert_eq!(
        many.iter().map(|x| x.status).collect::<Vec<_>>(),
        [429, 429, 200]
    );
    assert!(has(&s, &a) && has(&s, &b) && has(&s, &c));
}

#[test]
fn catalog_import_reads_the_kept_catalog_when_the_upstream_is_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let (s, _) = url_synced(dir.path(), &srv, "\"v1\"");
    let before = srv.all_seen().len();
    let (code, r, out) = go(
        &mut cmd(),
        &["catalog", "import", "--store", p(&s), "KB5000000", "--json"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(r["updates"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(srv.all_seen().len(), before, "read from the kept copy");
    // No kept catalog yet: a usage error that says what to do.
    let fresh = init_store(dir.path(), "fresh");
    let url = srv.url("/wsusscn2.cab");
    run(&["upstream", "set", "--store", p(&fresh), &url], 0);
    let (code, _, out) = go(
        &mut cmd(),
        &["catalog", "import", "--store", p(&fresh), "KB5000000"],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("run `offsync sync` first"), "{out}");
}

#[test]
fn a_socks_proxy_is_refused_as_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let b = bytes_of(95, 100);
    srv.route("/k.cab", &b, Mode::Normal);
    let s = store_with(dir.path(), &[payload("k.cab", &b, &srv.url("/k.cab"))]);
    let mut c = cmd();
    c.env("ALL_PROXY", "socks5://127.0.0.1:9");
    let (code, _, out) = go(&mut c, &["content", "fetch", "--store", p(&s)]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("SOCKS"), "{out}");
    let (code, _, out) = fetch(&s, &["--proxy", "socks5://127.0.0.1:9"]);
    assert_eq!(code, 2, "{out}");
}

#[test]
fn run_takes_the_network_options_for_a_catalog_by_url() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let one = [payload("x.cab", &bytes_of(96, 10), &srv.url("/x.cab"))];
    srv.route("/cab/wsusscn2.cab", &catalog(&one, 1), Mode::Normal);
    let s = init_store(dir.path(), "s");
    // `.invalid` never resolves: only the mirror reaches the catalog.
    let url = "https://catalog.invalid/cab/wsusscn2.cab";
    run(&["upstream", "set", "--store", p(&s), url], 0);
    run(
        &[
            "schedule",
            "set",
            "--store",
            p(&s),
            "daily 03:00",
            "--tz",
            "UTC",
        ],
        0,
    );
    let mirror = format!("http://127.0.0.1:{}", srv.port);
    let out = cmd()
        .args([
            "run",
            "--store",
            p(&s),
            "--json",
            "--max-runs",
            "1",
            "--mirror",
            &mirror,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("\"event\":\"synced\""), "{text}");
    assert_eq!(srv.seen("/cab/wsusscn2.cab").len(), 1);
}
