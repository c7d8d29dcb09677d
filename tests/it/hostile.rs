//! The hostile-input catalogue (`../shared/guide/HOSTILE-INPUTS.md`), cases 1–13 and 21: every
//! hostile bundle is built here, in code, from an intact export — raw ZIP bytes where the
//! `zip` crate cannot produce the shape — and then vouched for again (manifest volume sizes
//! and hashes, entry sizes and hashes, `SHA256SUMS`) the way someone who controls the media
//! would, so that the damage reaches the deeper checks instead of stopping at a checksum.
//!
//! Every case asserts the exact exit code of `verify` (when it applies) and of `import`, and
//! after the import: the store's fingerprint is unchanged (every row, every content file's
//! hash, `PRAGMA integrity_check`), nothing was written anywhere else (the whole test folder,
//! bundle and its parent included, lists the same files, and a few absolute sentinel paths do
//! not appear), and `STORE/staging` is empty. Every command runs under an address-space limit
//! ([`MEMORY_LIMIT_KIB`]) in a working directory of its own, so that "memory stays small" is
//! checked for every input and a relative path in an entry name would land somewhere we look.
//!
//! Cases 14–20 (signatures, sequence, expiry) and 22+ (faults) are tested elsewhere.
//!
//! The default run stays fast; `cargo test --test it hostile -- --ignored` adds the slow ones.

use crate::common::*;
use offsync::bundle::{BundleMetadata, decode_metadata, encode_metadata};
use offsync::model::{Category, FileRef, Guid};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

/// Address-space limit for every command, in KiB. Honest imports of these bundles need a
/// few tens of MiB; a decoder that believed a hostile length would need terabytes.
const MEMORY_LIMIT_KIB: u64 = 512 * 1024;

/// Time limit for every command: a hostile input that makes a command hang (a FIFO where a
/// file should be, say) fails its case (exit 137) instead of hanging the test run.
const TIME_LIMIT_SECS: u64 = 120;

/// Paths outside the test folder that an entry name could aim at.
const SENTINELS: &[&str] = &["/etc/x", "/x", "/tmp/x", "/store_evil"];

// ---------------------------------------------------------------------------------------------
// Running offsync

/// Runs the binary under the memory and time limits in `cwd`; returns (exit code, stdout,
/// stderr). A process killed by a signal reports 128 + the signal, as a shell would (an abort
/// is 134, the time limit 137).
fn run_in(cwd: &Path, args: &[OsString]) -> (i32, String, String) {
    run_limited(cwd, args, MEMORY_LIMIT_KIB)
}

/// [`run_in`] with another address-space limit (KiB).
pub(crate) fn run_limited(cwd: &Path, args: &[OsString], kib: u64) -> (i32, String, String) {
    use std::os::unix::process::ExitStatusExt;
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {kib} && exec timeout -s KILL {TIME_LIMIT_SECS} \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_offsync"))
        .args(args)
        .current_dir(cwd)
        .env_remove("OFFSYNC_STORE")
        .env_remove("OFFSYNC_KEY_PASSWORD")
        .output()
        .expect("run offsync");
    let code = out
        .status
        .code()
        .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn os(args: &[&str], paths: &[PathBuf]) -> Vec<OsString> {
    args.iter()
        .map(OsString::from)
        .chain(paths.iter().map(|p| p.clone().into_os_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The world every case starts from

struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    /// Working directory of every command.
    cwd: PathBuf,
    /// The intact bundle (never modified): 4 volumes of at most 64 KiB, metadata deflated in
    /// volume 1, one content file cut into pieces across volumes 2 and 3.
    good: PathBuf,
    /// The isolated store: synced on its own with narrow criteria and two content files, so
    /// that the bundle brings both known and new records and new content.
    store: PathBuf,
    /// A copy of it, to put back when a case changed it (so that one failure does not
    /// change what the next cases start from).
    pristine: PathBuf,
}

fn export_to(store: &Path, media: &Path, extra: &[&str]) -> PathBuf {
    fs::create_dir_all(media).unwrap();
    let mut args = vec![
        "export",
        "--store",
        p(store),
        "--out",
        p(media),
        "--max-volume-size",
        "64K",
    ];
    args.extend_from_slice(extra);
    run(&args, 0);
    bundle_in(media)
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let connected = synced_store(&root, "connected");
    let good = export_to(&connected, &root.join("media"), &[]);
    assert_eq!(volumes(&good).len(), 4, "the cases assume 4 volumes");
    let store = synced_store_with(
        &root,
        "isolated",
        &[
            "--product",
            "Windows 11",
            "--product",
            "Office",
            "--classification",
            "Security Updates",
        ],
    );
    let pristine = root.join("pristine-store");
    copy_tree(&store, &pristine);
    let cwd = root.join("cwd");
    fs::create_dir_all(&cwd).unwrap();
    World {
        _tmp: tmp,
        root,
        cwd,
        good,
        store,
        pristine,
    }
}

/// Another bundle whose folder and volume names equal the intact one's: sequence 1 of
/// another store that is also called "connected" (a second connected site, say).
fn other_bundle(w: &World) -> PathBuf {
    let base = w.root.join("second-site");
    fs::create_dir_all(&base).unwrap();
    let other = synced_store(&base, "connected");
    let b = export_to(&other, &base.join("media"), &[]);
    assert_eq!(b.file_name(), w.good.file_name());
    b
}

/// Volume `i` (from 1) of a bundle, by the manifest's name for it.
fn vol(b: &Path, i: usize) -> PathBuf {
    let m = manifest(b);
    b.join(m["volumes"][i - 1]["name"].as_str().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Checking a case

type Build = Box<dyn Fn(&World, &Path) -> Vec<PathBuf>>;

struct Case {
    id: &'static str,
    what: &'static str,
    /// Exit code of `verify`, when the case concerns verify at all.
    verify: Option<i32>,
    import: i32,
    /// Text the output of the commands must contain (the reason, not just the code).
    says: &'static [&'static str],
    /// Damages the copy of the intact bundle it is given (the bundle folder); returns the
    /// paths to give verify and import (the bundle folder first, then other discs).
    build: Build,
}

/// A case given the bundle folder alone.
fn case(
    id: &'static str,
    what: &'static str,
    verify: Option<i32>,
    import: i32,
    build: impl Fn(&World, &Path) + 'static,
) -> Case {
    case_paths(id, what, verify, import, move |w, b| {
        build(w, b);
        vec![b.to_path_buf()]
    })
}

/// A case that says which paths the commands get.
fn case_paths(
    id: &'static str,
    what: &'static str,
    verify: Option<i32>,
    import: i32,
    build: impl Fn(&World, &Path) -> Vec<PathBuf> + 'static,
) -> Case {
    Case {
        id,
        what,
        verify,
        import,
        says: &[],
        build: Box::new(build),
    }
}

impl Case {
    fn says(mut self, s: &'static [&'static str]) -> Case {
        self.says = s;
        self
    }
}

/// Every file and folder under `root` (links not followed), with its size: what "nothing
/// was written" is checked against. The store's database and log change legitimately (the
/// fingerprint covers the database; the log records the refusal).
fn tree(root: &Path, store: &Path) -> BTreeMap<PathBuf, String> {
    let skip = |p: &Path| {
        p.parent() == Some(store)
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("offsync.db") || n.starts_with("offsync.log"))
    };
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !skip(e.path()))
        .map(|e| {
            let what = if e.path_is_symlink() {
                format!("link -> {}", fs::read_link(e.path()).unwrap().display())
            } else if e.file_type().is_dir() {
                "dir".to_string()
            } else {
                format!("file of {} bytes", e.metadata().unwrap().len())
            };
            (e.path().strip_prefix(root).unwrap().to_path_buf(), what)
        })
        .collect()
}

fn staging_is_empty(store: &Path) -> bool {
    fs::read_dir(store.join("staging"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// At most the first 40 lines of a command's output, for a failure message.
fn short(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 40 {
        return text.to_string();
    }
    format!(
        "{}\n... ({} more lines)",
        lines[..40].join("\n"),
        lines.len() - 40
    )
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Runs one case; returns a line for the summary, or the reasons it failed.
fn check(w: &World, c: &Case) -> Result<String, String> {
    let started = std::time::Instant::now();
    let dir = w.root.join("cases").join(slug(c.id));
    fs::create_dir_all(&dir).unwrap();
    let b = dir.join(w.good.file_name().unwrap());
    copy_tree(&w.good, &b);
    let paths = (c.build)(w, &b);

    // A case whose import must succeed runs on a copy of the store.
    let store = if c.import == 0 {
        let s = dir.join("store-copy");
        copy_tree(&w.store, &s);
        s
    } else {
        w.store.clone()
    };
    let fp = fingerprint(&w.store);
    let before = tree(&w.root, &w.store);
    let sentinels: Vec<bool> = SENTINELS.iter().map(|s| Path::new(s).exists()).collect();

    let mut problems = Vec::new();
    let mut said = String::new();
    let mut got_verify = None;
    if let Some(want) = c.verify {
        let (code, out, err) = run_in(&w.cwd, &os(&["verify"], &paths));
        got_verify = Some(code);
        if code != want {
            problems.push(format!(
                "verify exited {code}, expected {want}\n{}",
                short(&format!("{out}{err}"))
            ));
        }
        said.push_str(&out);
        said.push_str(&err);
    }
    let (code, out, err) = run_in(&w.cwd, &os(&["import", "--store", p(&store)], &paths));
    if code != c.import {
        problems.push(format!(
            "import exited {code}, expected {}\n{}",
            c.import,
            short(&format!("{out}{err}"))
        ));
    }
    said.push_str(&out);
    said.push_str(&err);
    for s in c.says {
        if !said.contains(s) {
            problems.push(format!("the output does not say {s:?}:\n{}", short(&said)));
        }
    }
    if fingerprint(&w.store) != fp {
        problems.push("the store changed".into());
    }
    if c.import == 0 && fingerprint(&store) == fp {
        problems.push("the import succeeded but imported nothing".into());
    }
    if c.import == 0 {
        // The copy was imported into; everything else must be as it was.
        let after = tree(&w.root, &w.store);
        let prefix = store.strip_prefix(&w.root).unwrap();
        let strip = |t: BTreeMap<PathBuf, String>| -> BTreeMap<PathBuf, String> {
            t.into_iter()
                .filter(|(k, _)| !k.starts_with(prefix))
                .collect()
        };
        if strip(after) != strip(before) {
            problems.push("files changed outside the store".into());
        }
    } else {
        let after = tree(&w.root, &w.store);
        if after != before {
            let changed: Vec<String> = after
                .iter()
                .filter(|(k, v)| before.get(*k) != Some(v))
                .map(|(k, v)| format!("+ {} ({v})", k.display()))
                .chain(
                    before
                        .iter()
                        .filter(|(k, _)| !after.contains_key(*k))
                        .map(|(k, _)| format!("- {}", k.display())),
                )
                .collect();
            problems.push(format!(
                "files changed under the test folder:\n  {}",
                changed.join("\n  ")
            ));
        }
    }
    if !staging_is_empty(&store) {
        problems.push("staging files were left behind".into());
    }
    for (s, existed) in SENTINELS.iter().zip(sentinels) {
        if !existed && Path::new(s).exists() {
            problems.push(format!("{s} was created"));
        }
    }
    fs::remove_dir_all(&dir).unwrap();
    if !problems.is_empty() {
        // Whatever the failed case did, the next one starts from the store as it was.
        fs::remove_dir_all(&w.store).unwrap();
        copy_tree(&w.pristine, &w.store);
    }
    if problems.is_empty() {
        Ok(format!(
            "{:<5} {:<62} verify {:<4} import {:<4} {:>6} ms",
            c.id,
            c.what,
            got_verify.map_or("-".to_string(), |v| v.to_string()),
            code,
            started.elapsed().as_millis()
        ))
    } else {
        Err(format!(
            "case {} ({}):\n  {}",
            c.id,
            c.what,
            problems.join("\n  ")
        ))
    }
}

/// Runs every case, then fails with all the failures at once.
fn check_all(w: &World, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in &cases {
        match check(w, c) {
            Ok(line) => eprintln!("{line}"),
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Raw ZIP: parsing our own volumes and writing any shape

#[derive(Clone, Debug)]
struct Ent {
    name: Vec<u8>,
    version: u16,
    flags: u16,
    method: u16,
    crc: u32,
    csize: u64,
    size: u64,
    /// The entry's bytes as stored.
    data: Vec<u8>,
    made_by: u16,
    attrs: u32,
    local_extra: Vec<u8>,
    central_extra: Vec<u8>,
    comment: Vec<u8>,
    /// What the local header says, when it disagrees with the central record.
    local: Option<Box<Ent>>,
    /// Where the central record says the local header is, when that is a lie.
    offset: Option<u64>,
    /// Bytes after the data (a data descriptor).
    trailer: Vec<u8>,
}

const MARK: u64 = 0xFFFF_FFFF;

impl Ent {
    fn stored(name: &[u8], data: &[u8]) -> Ent {
        Ent {
            name: name.to_vec(),
            version: 20,
            flags: 0,
            method: 0,
            crc: crc32(data),
            csize: data.len() as u64,
            size: data.len() as u64,
            data: data.to_vec(),
            made_by: 0x0314,
            attrs: 0o100_644 << 16,
            local_extra: Vec::new(),
            central_extra: Vec::new(),
            comment: Vec::new(),
            local: None,
            offset: None,
            trailer: Vec::new(),
        }
    }

    /// A copy whose local header says something else: `f` edits what the local header says.
    fn local_says(mut self, f: impl FnOnce(&mut Ent)) -> Ent {
        let mut l = self.clone();
        f(&mut l);
        self.local = Some(Box::new(l));
        self
    }
}

/// Bytes that do not compress.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The entries of a well-formed ZIP without ZIP64 (ours, or one the `zip` crate wrote).
fn parse_zip(bytes: &[u8]) -> Vec<Ent> {
    let e = bytes.len() - 22;
    assert_eq!(le32(bytes, e), 0x0605_4b50, "no end record");
    let count = le16(bytes, e + 10) as usize;
    let mut at = le32(bytes, e + 16) as usize;
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(le32(bytes, at), 0x0201_4b50);
        let (n, x, c) = (
            le16(bytes, at + 28) as usize,
            le16(bytes, at + 30) as usize,
            le16(bytes, at + 32) as usize,
        );
        let off = le32(bytes, at + 42) as usize;
        let csize = u64::from(le32(bytes, at + 20));
        let (ln, lx) = (
            le16(bytes, off + 26) as usize,
            le16(bytes, off + 28) as usize,
        );
        let data_at = off + 30 + ln + lx;
        out.push(Ent {
            name: bytes[at + 46..at + 46 + n].to_vec(),
            version: le16(bytes, at + 6),
            flags: le16(bytes, at + 8),
            method: le16(bytes, at + 10),
            crc: le32(bytes, at + 16),
            csize,
            size: u64::from(le32(bytes, at + 24)),
            data: bytes[data_at..data_at + csize as usize].to_vec(),
            made_by: le16(bytes, at + 4),
            attrs: le32(bytes, at + 38),
            local_extra: Vec::new(),
            central_extra: Vec::new(),
            comment: Vec::new(),
            local: None,
            offset: None,
            trailer: Vec::new(),
        });
        at += 46 + n + x + c;
    }
    out
}

/// Local headers and data, then the central directory; returns (bytes, cd offset, cd size).
fn zip_body(ents: &[Ent]) -> (Vec<u8>, u64, u64) {
    let w16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let w32 = |v: &mut Vec<u8>, x: u64| v.extend_from_slice(&(x.min(MARK) as u32).to_le_bytes());
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in ents {
        offsets.push(out.len() as u64);
        let l = e.local.as_deref().unwrap_or(e);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        w16(&mut out, l.version);
        w16(&mut out, l.flags);
        w16(&mut out, l.method);
        w16(&mut out, 0); // time
        w16(&mut out, 0x21); // 1980-01-01
        w32(&mut out, u64::from(l.crc));
        w32(&mut out, l.csize);
        w32(&mut out, l.size);
        w16(&mut out, l.name.len() as u16);
        w16(&mut out, l.local_extra.len() as u16);
        out.extend_from_slice(&l.name);
        out.extend_from_slice(&l.local_extra);
        out.extend_from_slice(&e.data);
        out.extend_from_slice(&e.trailer);
    }
    let cd = out.len() as u64;
    for (e, off) in ents.iter().zip(offsets) {
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        w16(&mut out, e.made_by);
        w16(&mut out, e.version);
        w16(&mut out, e.flags);
        w16(&mut out, e.method);
        w16(&mut out, 0);
        w16(&mut out, 0x21);
        w32(&mut out, u64::from(e.crc));
        w32(&mut out, e.csize);
        w32(&mut out, e.size);
        w16(&mut out, e.name.len() as u16);
        w16(&mut out, e.central_extra.len() as u16);
        w16(&mut out, e.comment.len() as u16);
        w16(&mut out, 0); // disk
        w16(&mut out, 0); // internal attributes
        out.extend_from_slice(&e.attrs.to_le_bytes());
        w32(&mut out, e.offset.unwrap_or(off));
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.central_extra);
        out.extend_from_slice(&e.comment);
    }
    let size = out.len() as u64 - cd;
    (out, cd, size)
}

/// The end record (and, when a value needs it or `force64`, the ZIP64 end record and
/// locator in front of it), for a directory at `cd_offset` that ends at `at`.
fn zip_end(count: u64, cd_size: u64, cd_offset: u64, at: u64, force64: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if force64 || count >= 0xFFFF || cd_size >= MARK || cd_offset >= MARK {
        out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&((3u16 << 8) | 45).to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&cd_size.to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
    }
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    let c16 = count.min(0xFFFF) as u16;
    out.extend_from_slice(&c16.to_le_bytes());
    out.extend_from_slice(&c16.to_le_bytes());
    out.extend_from_slice(&(cd_size.min(MARK) as u32).to_le_bytes());
    out.extend_from_slice(&(cd_offset.min(MARK) as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn build_zip(ents: &[Ent]) -> Vec<u8> {
    let (mut out, cd, size) = zip_body(ents);
    let at = out.len() as u64;
    out.extend(zip_end(ents.len() as u64, size, cd, at, false));
    out
}

/// The ZIP64 extra field holding `values`.
fn z64(values: &[u64]) -> Vec<u8> {
    let mut v = 1u16.to_le_bytes().to_vec();
    v.extend_from_slice(&((values.len() * 8) as u16).to_le_bytes());
    for x in values {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// Rewrites a volume with `f` applied to its entries.
fn edit_volume(path: &Path, f: impl FnOnce(&mut Vec<Ent>)) {
    let mut ents = parse_zip(&fs::read(path).unwrap());
    f(&mut ents);
    fs::write(path, build_zip(&ents)).unwrap();
}

fn edit_bytes(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).unwrap();
    f(&mut bytes);
    fs::write(path, bytes).unwrap();
}

/// The entry called `name` (panics when there is none).
fn named<'a>(ents: &'a mut [Ent], name: &str) -> &'a mut Ent {
    ents.iter_mut()
        .find(|e| e.name == name.as_bytes())
        .unwrap_or_else(|| panic!("no entry {name}"))
}

/// The first content entry of a volume.
fn first_content(ents: &mut [Ent]) -> &mut Ent {
    ents.iter_mut()
        .find(|e| e.name.starts_with(b"content/"))
        .expect("a content entry")
}

/// Raw deflate of `data`, as the `zip` crate writes it.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("x", opts).unwrap();
    w.write_all(data).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    parse_zip(&bytes).remove(0).data
}

// ---------------------------------------------------------------------------------------------
// The manifest and SHA256SUMS, as an attacker rewrites them

/// The manifest's record of entry `path`.
fn entry<'a>(m: &'a mut Value, path: &str) -> &'a mut Value {
    m["entries"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["path"] == path)
        .unwrap_or_else(|| panic!("no manifest entry {path}"))
}

// ---------------------------------------------------------------------------------------------
// metadata.bin

fn metadata_bytes(b: &Path) -> Vec<u8> {
    let mut za = zip::ZipArchive::new(fs::File::open(vol(b, 1)).unwrap()).unwrap();
    let mut f = za.by_name("metadata.bin").unwrap();
    let mut out = Vec::new();
    f.read_to_end(&mut out).unwrap();
    out
}

fn metadata(b: &Path) -> BundleMetadata {
    decode_metadata(&metadata_bytes(b)).unwrap()
}

/// Replaces metadata.bin with `bytes` (deflated, as the writer does), and vouches for it: the
/// entry's size and SHA-256 in the manifest, volume 1, `SHA256SUMS`.
fn put_metadata(b: &Path, bytes: &[u8]) {
    let z = deflate(bytes);
    edit_volume(&vol(b, 1), |ents| {
        let e = named(ents, "metadata.bin");
        e.method = 8;
        e.crc = crc32(bytes);
        e.size = bytes.len() as u64;
        e.csize = z.len() as u64;
        e.data = z;
    });
    edit_manifest(b, |m| {
        let e = entry(m, "metadata.bin");
        e["size"] = Value::from(bytes.len() as u64);
        e["sha256"] = Value::from(sha_hex(bytes));
    });
}

/// Replaces the metadata with `md` and, when `recount`, sets the manifest's counts to match
/// (so that only the defect the case is about remains).
fn put_md(b: &Path, md: &BundleMetadata, recount: bool) {
    put_metadata(b, &encode_metadata(md).unwrap());
    if recount {
        edit_manifest(b, |m| {
            m["counts"]["categories"] = Value::from(md.categories.len() as u64);
            m["counts"]["updates"] = Value::from(md.updates.len() as u64);
            m["counts"]["removed"] = Value::from(md.removed_count());
        });
    }
}

/// An envelope around `payload` announcing `len` bytes.
fn envelope(magic: &[u8; 8], version: u32, len: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = magic.to_vec();
    v.extend_from_slice(&version.to_le_bytes());
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// A bincode payload whose first container (the category list) claims `n` elements,
/// followed by `pad` zero bytes.
fn claiming(n: u64, pad: usize) -> Vec<u8> {
    let mut v = vec![0xfd];
    v.extend_from_slice(&n.to_le_bytes());
    v.resize(v.len() + pad, 0);
    v
}

fn good_envelope(payload: &[u8]) -> Vec<u8> {
    envelope(b"OFFSYNCM", 1, payload.len() as u64, payload)
}

/// The SHA-256 (raw) of a content file the bundle carries whole, and its size.
fn a_whole_content_file(b: &Path) -> ([u8; 32], u64) {
    let m = manifest(b);
    let e = m["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].as_str().unwrap().starts_with("content/") && e["file"].is_null())
        .unwrap()
        .clone();
    let mut h = [0u8; 32];
    hex::decode_to_slice(e["sha256"].as_str().unwrap(), &mut h).unwrap();
    (h, e["size"].as_u64().unwrap())
}

/// A GUID holding any string: bincode (like serde) does not validate what it decodes.
fn guid(s: &str) -> Guid {
    serde_json::from_value(Value::from(s)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Cases 1–3: containers

/// Cuts volume `i` to `keep(len)` bytes; `vouch`: the manifest and SHA256SUMS follow.
fn cut(i: usize, keep: fn(usize) -> usize, vouch: bool) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_bytes(&vol(b, i), |v| v.truncate(keep(v.len())));
        if vouch {
            revouch(b);
        }
    }
}

/// Flips one bit of byte `at(len)` of a file of the bundle.
fn flip(file: fn(&Path) -> PathBuf, at: fn(usize) -> usize, vouch: bool) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_bytes(&file(b), |v| {
            let i = at(v.len());
            v[i] ^= 0x10;
        });
        if vouch {
            revouch(b);
        }
    }
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn containers_damaged_in_any_way_are_corrupt() {
    let w = world();
    let cases = vec![
        case(
            "1a",
            "volume 2 cut by 1 byte",
            Some(10),
            10,
            cut(2, |n| n - 1, false),
        ),
        case(
            "1b",
            "volume 1 cut by 30 bytes",
            Some(10),
            10,
            cut(1, |n| n - 30, false),
        ),
        case(
            "1c",
            "volume 3 cut to half",
            Some(10),
            10,
            cut(3, |n| n / 2, false),
        ),
        case(
            "1d",
            "volume 1 cut down to 10 bytes",
            Some(10),
            10,
            cut(1, |_| 10, false),
        ),
        case(
            "1e",
            "volume 4 cut by 1 byte, manifest and sums vouching",
            Some(10),
            10,
            cut(4, |n| n - 1, true),
        ),
        case(
            "1f",
            "volume 1 cut by 30 bytes, vouched for",
            Some(10),
            10,
            cut(1, |n| n - 30, true),
        ),
        case(
            "1g",
            "volume 1 cut to half, vouched for",
            Some(10),
            10,
            cut(1, |n| n / 2, true),
        ),
        case(
            "1h",
            "volume 2 cut down to 10 bytes, vouched for",
            Some(10),
            10,
            cut(2, |_| 10, true),
        ),
        case(
            "1i",
            "volume 3 empty, vouched for",
            Some(10),
            10,
            cut(3, |_| 0, true),
        ),
        case(
            "2a",
            "a bit flipped in a stored content entry",
            Some(10),
            10,
            flip(|b| vol(b, 2), |n| n / 2, false),
        ),
        case(
            "2b",
            "a bit flipped in a stored content entry, vouched for",
            Some(10),
            10,
            flip(|b| vol(b, 2), |n| n / 2, true),
        )
        .says(&["CRC"]),
        case(
            "2c",
            "a bit flipped in the last byte of the last entry, vouched",
            Some(10),
            10,
            |_, b| {
                edit_volume(&vol(b, 4), |ents| {
                    let d = &mut ents.last_mut().unwrap().data;
                    let n = d.len();
                    d[n - 1] ^= 0x01;
                });
                revouch(b);
            },
        )
        .says(&["CRC"]),
        case(
            "2d",
            "a bit flipped in the deflated metadata, vouched for",
            Some(10),
            10,
            |_, b| {
                edit_volume(&vol(b, 1), |ents| {
                    let d = &mut named(ents, "metadata.bin").data;
                    let n = d.len();
                    d[n / 2] ^= 0x04;
                });
                revouch(b);
            },
        ),
        case(
            "2e",
            "a bit flipped in manifest.json (a volume size)",
            Some(10),
            10,
            |_, b| {
                let text = fs::read_to_string(b.join("manifest.json")).unwrap();
                let size = manifest(b)["volumes"][1]["size"].to_string();
                let at = text.find(&format!("\"size\": {size}")).unwrap() + 8;
                edit_bytes(&b.join("manifest.json"), |v| v[at] ^= 0x01);
            },
        ),
        case(
            "2f",
            "a bit flipped in manifest.json, SHA256SUMS recomputed",
            Some(10),
            10,
            |_, b| {
                let mut m = manifest(b);
                let size = m["volumes"][1]["size"].as_u64().unwrap();
                m["volumes"][1]["size"] = Value::from(size ^ 0x100);
                write_manifest(b, &m);
            },
        ),
        case(
            "2g",
            "a bit flipped in a volume hash, SHA256SUMS deleted",
            Some(10),
            10,
            |_, b| {
                let mut m = manifest(b);
                let mut h = m["volumes"][2]["sha256"]
                    .as_str()
                    .unwrap()
                    .as_bytes()
                    .to_vec();
                h[10] = if h[10] == b'0' { b'1' } else { b'0' };
                m["volumes"][2]["sha256"] = Value::from(String::from_utf8(h).unwrap());
                write_manifest(b, &m);
                fs::remove_file(b.join("SHA256SUMS")).unwrap();
            },
        ),
        case(
            "2h",
            "a bit flipped in SHA256SUMS",
            Some(10),
            10,
            flip(|b| b.join("SHA256SUMS"), |_| 70, false),
        ),
        case(
            "3a",
            "garbage appended to volume 2",
            Some(10),
            10,
            |_, b| {
                edit_bytes(&vol(b, 2), |v| v.extend_from_slice(&[0x55; 100]));
            },
        ),
        case(
            "3b",
            "garbage appended to volume 2, vouched for",
            Some(10),
            10,
            |_, b| {
                edit_bytes(&vol(b, 2), |v| v.extend_from_slice(&[0x55; 100]));
                revouch(b);
            },
        ),
        case(
            "3c",
            "garbage prepended to volume 1",
            Some(10),
            10,
            |_, b| {
                edit_bytes(&vol(b, 1), |v| {
                    v.splice(0..0, [0x55u8; 100]);
                });
            },
        ),
        case(
            "3d",
            "garbage prepended to volume 1, vouched for",
            Some(10),
            10,
            |_, b| {
                edit_bytes(&vol(b, 1), |v| {
                    v.splice(0..0, [0x55u8; 100]);
                });
                revouch(b);
            },
        ),
        case(
            "3e",
            "a whole ZIP appended to volume 3, vouched for",
            Some(10),
            10,
            |_, b| {
                let extra = build_zip(&[Ent::stored(b"content/x", b"appended")]);
                edit_bytes(&vol(b, 3), |v| v.extend_from_slice(&extra));
                revouch(b);
            },
        ),
        case(
            "3f",
            "16 unexplained bytes before the central directory, vouched",
            Some(10),
            10,
            |_, b| {
                edit_volume(&vol(b, 3), |ents| {
                    ents.last_mut().unwrap().trailer = vec![0; 16]
                });
                revouch(b);
            },
        )
        .says(&["unexplained"]),
        case(
            "3g",
            "SHA256SUMS is a FIFO (reading it would block)",
            Some(10),
            10,
            |_, b| {
                fs::remove_file(b.join("SHA256SUMS")).unwrap();
                mkfifo(&b.join("SHA256SUMS"));
            },
        )
        .says(&["not a regular file"]),
        case_paths(
            "3h",
            "manifest.json given directly is a FIFO",
            Some(10),
            10,
            |_, b| {
                let d = b.with_file_name("fifo-bundle");
                fs::create_dir_all(&d).unwrap();
                mkfifo(&d.join("manifest.json"));
                vec![d.join("manifest.json"), b.to_path_buf()]
            },
        )
        .says(&["not a regular file"]),
    ];
    check_all(&w, cases);
}

// ---------------------------------------------------------------------------------------------
// Cases 4–6: entry names, links, duplicates, local and central headers that disagree

/// Adds an entry named `name` to volume 2 and vouches for the volume.
fn add_named(name: Vec<u8>) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_volume(&vol(b, 2), |ents| ents.push(Ent::stored(&name, b"escaped")));
        revouch(b);
    }
}

/// Edits the first content entry of volume 2 (both headers) and vouches for the volume.
fn edit_content(f: fn(&mut Ent)) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_volume(&vol(b, 2), |ents| f(first_content(ents)));
        revouch(b);
    }
}

/// Edits what the local header of the first content entry of volume 2 says.
fn local_differs(f: fn(&mut Ent)) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_volume(&vol(b, 2), |ents| {
            let e = first_content(ents);
            *e = e.clone().local_says(f);
        });
        revouch(b);
    }
}

#[test]
fn unsafe_names_links_and_duplicates_are_refused() {
    let w = world();
    let names: Vec<(&str, &str, Vec<u8>)> = vec![
        ("4a", "entry name ../x", b"../x".to_vec()),
        ("4b", "entry name a/../../x", b"a/../../x".to_vec()),
        ("4c", "entry name ..\\..\\x", b"..\\..\\x".to_vec()),
        ("4d", "entry name /etc/x", b"/etc/x".to_vec()),
        ("4e", "entry name C:\\x", b"C:\\x".to_vec()),
        ("4f", "an empty entry name", b"".to_vec()),
        ("4g", "entry name .", b".".to_vec()),
        ("4h", "a NUL inside an entry name", b"content/\0x".to_vec()),
        ("4i", "a 300-byte entry name", vec![b'a'; 300]),
        ("4j", "a 65,535-byte entry name", vec![b'a'; 65_535]),
        (
            "4k",
            "entry name ../store_evil/x",
            b"../store_evil/x".to_vec(),
        ),
        (
            "4l",
            "entry name content/../../x",
            b"content/../../x".to_vec(),
        ),
        (
            "4m",
            "entry name x (relative to the working folder)",
            b"x".to_vec(),
        ),
    ];
    let mut cases: Vec<Case> = names
        .into_iter()
        .map(|(id, what, name)| case(id, what, Some(15), 15, add_named(name)))
        .collect();
    cases.extend([
        case(
            "4n",
            "the manifest lists ../x and volume 2 holds it",
            Some(15),
            15,
            |_, b| {
                edit_volume(&vol(b, 4), |ents| {
                    ents.push(Ent::stored(b"../x", b"escaped"))
                });
                edit_manifest(b, |m| {
                    m["entries"]
                        .as_array_mut()
                        .unwrap()
                        .push(serde_json::json!({
                            "path": "../x", "size": 7, "sha256": sha_hex(b"escaped"), "volume": 4
                        }));
                });
            },
        ),
        case(
            "5a",
            "a listed content entry that is a symbolic link",
            Some(15),
            15,
            edit_content(|e| e.attrs = 0o120_777 << 16),
        )
        .says(&["symbolic link"]),
        case(
            "5b",
            "an unlisted symbolic link to /etc/passwd",
            Some(15),
            15,
            |_, b| {
                edit_volume(&vol(b, 2), |ents| {
                    let mut e = Ent::stored(b"link", b"/etc/passwd");
                    e.attrs = 0o120_777 << 16;
                    ents.push(e);
                });
                revouch(b);
            },
        ),
        case(
            "5c",
            "a listed entry that is a directory",
            Some(15),
            15,
            edit_content(|e| e.attrs = 0o040_755 << 16),
        ),
        case(
            "5d",
            "a listed entry that is a FIFO",
            Some(15),
            15,
            edit_content(|e| e.attrs = 0o010_644 << 16),
        ),
        case(
            "5e",
            "a listed entry with the MS-DOS directory attribute",
            Some(15),
            15,
            edit_content(|e| {
                e.made_by = 0x0014;
                e.attrs = 0x10;
            }),
        ),
        case(
            "5f",
            "a link hidden in an Info-ZIP Unix extra field",
            Some(15),
            15,
            edit_content(|e| {
                // ASi Unix extra field (0x756e): CRC, mode (a link), size, uid, gid, target.
                let mut x = 0x756eu16.to_le_bytes().to_vec();
                let target = b"/etc/passwd";
                x.extend_from_slice(&((14 + target.len()) as u16).to_le_bytes());
                x.extend_from_slice(&0u32.to_le_bytes());
                x.extend_from_slice(&0o120_777u16.to_le_bytes());
                x.extend_from_slice(&(target.len() as u32).to_le_bytes());
                x.extend_from_slice(&[0; 4]);
                x.extend_from_slice(target);
                e.local_extra = x.clone();
                e.central_extra = x;
            }),
        )
        .says(&["extra field"]),
        case(
            "6a",
            "a content entry twice in its volume",
            Some(15),
            15,
            |_, b| {
                edit_volume(&vol(b, 2), |ents| {
                    let e = first_content(ents).clone();
                    ents.push(e);
                });
                revouch(b);
            },
        )
        .says(&["twice"]),
        case(
            "6b",
            "metadata.bin and METADATA.BIN",
            Some(15),
            15,
            add_named(b"METADATA.BIN".to_vec()),
        ),
        case(
            "6c",
            "a content entry and its upper-case twin",
            Some(15),
            15,
            |_, b| {
                edit_volume(&vol(b, 2), |ents| {
                    let mut e = first_content(ents).clone();
                    e.name = e.name.to_ascii_uppercase();
                    e.name[..8].copy_from_slice(b"content/");
                    ents.push(e);
                });
                revouch(b);
            },
        ),
        case(
            "6d",
            "metadata.bin and a homoglyph (Cyrillic a)",
            Some(15),
            15,
            add_named("met\u{0430}data.bin".as_bytes().to_vec()),
        ),
        case(
            "6e",
            "two names equal after Unicode normalisation (NFC, NFD)",
            Some(15),
            15,
            |_, b| {
                edit_volume(&vol(b, 2), |ents| {
                    ents.push(Ent::stored("m\u{e9}tadata.bin".as_bytes(), b"1"));
                    ents.push(Ent::stored("me\u{301}tadata.bin".as_bytes(), b"2"));
                });
                revouch(b);
            },
        ),
        case(
            "6f",
            "the manifest lists one entry twice",
            Some(15),
            15,
            |_, b| {
                edit_manifest(b, |m| {
                    let e = m["entries"][2].clone();
                    m["entries"].as_array_mut().unwrap().push(e);
                });
            },
        ),
        case(
            "6g",
            "two central records for one local header",
            Some(15),
            15,
            |_, b| {
                let path = vol(b, 2);
                let mut ents = parse_zip(&fs::read(&path).unwrap());
                let (mut body, cd, size) = zip_body(&ents);
                // A second central record for the first content entry, at its offset.
                let i = ents
                    .iter()
                    .position(|e| e.name.starts_with(b"content/"))
                    .unwrap();
                let offset: u64 = ents[..i]
                    .iter()
                    .map(|e| 30 + e.name.len() as u64 + e.data.len() as u64)
                    .sum();
                ents[i].offset = Some(offset);
                let (again, _, _) = zip_body(std::slice::from_ref(&ents[i]));
                let record = &again[again.len() - (46 + ents[i].name.len())..];
                body.extend_from_slice(record);
                let size = size + record.len() as u64;
                let at = body.len() as u64;
                body.extend(zip_end(ents.len() as u64 + 1, size, cd, at, false));
                fs::write(&path, body).unwrap();
                revouch(b);
            },
        ),
        case(
            "6h",
            "the local header names another file (same length)",
            Some(15),
            15,
            local_differs(|l| {
                let n = l.name.len();
                l.name[n - 1] = if l.name[n - 1] == b'0' { b'1' } else { b'0' };
            }),
        )
        .says(&["local header names"]),
        case(
            "6i",
            "the local header declares other sizes",
            Some(15),
            15,
            local_differs(|l| {
                l.size += 1;
                l.csize += 1;
            }),
        ),
        case(
            "6j",
            "the local header has another CRC",
            Some(15),
            15,
            local_differs(|l| l.crc ^= 1),
        ),
        case(
            "6k",
            "the local header says deflated, the directory stored",
            Some(15),
            15,
            local_differs(|l| l.method = 8),
        ),
        case(
            "6l",
            "the local header has other flags",
            Some(15),
            15,
            local_differs(|l| l.flags = 0x0800),
        ),
    ]);
    check_all(&w, cases);
}

// ---------------------------------------------------------------------------------------------
// Cases 7–9: bombs, size lies, counts, ZIP64 overflows; encryption, streaming, other methods;
// entries the manifest does not list, entries it lists that are not there

/// Declares `size` for metadata.bin in both headers, through ZIP64 fields.
fn metadata_declares(size: u64) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_volume(&vol(b, 1), |ents| {
            let e = named(ents, "metadata.bin");
            e.version = 45;
            e.size = size;
            e.central_extra = z64(&[size]);
            e.local_extra = z64(&[size, e.csize]);
        });
        revouch(b);
    }
}

/// Volume 2 with other end records: `end(count, cd_size, cd_offset, at)`.
fn volume2_ends_with(end: fn(u64, u64, u64, u64) -> Vec<u8>) -> impl Fn(&World, &Path) {
    move |_, b| {
        let path = vol(b, 2);
        let ents = parse_zip(&fs::read(&path).unwrap());
        let (mut body, cd, size) = zip_body(&ents);
        let at = body.len() as u64;
        body.extend(end(ents.len() as u64, size, cd, at));
        fs::write(&path, body).unwrap();
        revouch(b);
    }
}

/// Replaces metadata.bin by `inflated` deflated, declaring `said` bytes in both headers and
/// in the manifest (with the SHA-256 of the first `said` bytes, or of all of them).
fn metadata_lies(inflated: Vec<u8>, said: u64) -> impl Fn(&World, &Path) {
    move |_, b| {
        let z = deflate(&inflated);
        let mut vouched = inflated.clone();
        vouched.resize(said as usize, 0);
        edit_volume(&vol(b, 1), |ents| {
            let e = named(ents, "metadata.bin");
            e.crc = crc32(&vouched);
            e.size = said;
            e.csize = z.len() as u64;
            e.data = z.clone();
        });
        edit_manifest(b, |m| {
            let e = entry(m, "metadata.bin");
            e["size"] = Value::from(said);
            e["sha256"] = Value::from(sha_hex(&vouched));
        });
    }
}

#[test]
fn bombs_lies_odd_methods_and_unlisted_entries_are_refused() {
    let w = world();
    let cases = vec![
        case(
            "7a",
            "metadata.bin declares 2 TiB (ZIP64, both headers)",
            Some(16),
            16,
            metadata_declares(2 << 40),
        ),
        case(
            "7b",
            "the manifest and both headers declare a 1 TiB metadata.bin",
            Some(16),
            16,
            |w, b| {
                metadata_declares(1 << 40)(w, b);
                edit_manifest(b, |m| {
                    entry(m, "metadata.bin")["size"] = Value::from(1u64 << 40)
                });
            },
        ),
        case(
            "7c",
            "a 3 KB deflated entry declared to inflate to 30 MB",
            Some(16),
            16,
            |_, b| {
                edit_volume(&vol(b, 1), |ents| {
                    named(ents, "metadata.bin").size = 30_000_000
                });
                edit_manifest(b, |m| {
                    entry(m, "metadata.bin")["size"] = Value::from(30_000_000u64)
                });
            },
        )
        .says(&["beyond what deflate can do"]),
        case(
            "7d",
            "size lie: declared 1,000, inflates to 100,000",
            Some(10),
            10,
            metadata_lies(vec![0; 100_000], 1_000),
        ),
        case(
            "7e",
            "size lie: declared 100,000, inflates to 1,000",
            Some(10),
            10,
            metadata_lies(noise(1_000), 100_000),
        ),
        case(
            "7f",
            "a million empty entries declared by the ZIP64 end record",
            Some(16),
            16,
            volume2_ends_with(|_, size, cd, at| zip_end(1_000_000, size, cd, at, true)),
        ),
        case(
            "7g",
            "ZIP64 end record: 2^64-1 entries",
            Some(16),
            16,
            volume2_ends_with(|_, size, cd, at| zip_end(u64::MAX, size, cd, at, true)),
        ),
        case(
            "7h",
            "ZIP64 end record: directory offset + size overflow",
            Some(10),
            10,
            volume2_ends_with(|n, size, _, at| zip_end(n, size, u64::MAX - 8, at, true)),
        ),
        case(
            "7i",
            "ZIP64 end record: directory size overflows",
            Some(10),
            10,
            volume2_ends_with(|n, _, cd, at| zip_end(n, u64::MAX, cd, at, true)),
        ),
        case(
            "7j",
            "ZIP64 local header offset 2^64-1",
            Some(10),
            10,
            edit_content(|e| {
                e.version = 45;
                e.offset = Some(u64::MAX);
                e.central_extra = z64(&[u64::MAX]);
            }),
        ),
        case(
            "7k",
            "ZIP64 compressed size 2^64-1 (both headers)",
            Some(10),
            10,
            edit_content(|e| {
                e.version = 45;
                e.csize = u64::MAX;
                e.central_extra = z64(&[u64::MAX]);
                e.local_extra = z64(&[e.size, u64::MAX]);
            }),
        ),
        case(
            "7l",
            "ZIP64 size 2^64-1 (both headers)",
            Some(16),
            16,
            edit_content(|e| {
                e.version = 45;
                e.size = u64::MAX;
                e.central_extra = z64(&[u64::MAX]);
                e.local_extra = z64(&[u64::MAX, e.csize]);
            }),
        ),
        case(
            "7m",
            "ZIP64 markers without ZIP64 values",
            Some(10),
            10,
            edit_content(|e| e.size = MARK),
        ),
        case(
            "7n",
            "ZIP64 extra field shorter than the values it must hold",
            Some(10),
            10,
            edit_content(|e| {
                e.size = MARK;
                e.csize = MARK;
                e.central_extra = z64(&[1]);
            }),
        ),
        case(
            "8a",
            "an encrypted entry (flag bit 0)",
            Some(15),
            15,
            edit_content(|e| e.flags |= 0x0001),
        )
        .says(&["encrypted"]),
        case(
            "8b",
            "strong encryption (flag bit 6)",
            Some(15),
            15,
            edit_content(|e| e.flags |= 0x0040),
        ),
        case(
            "8c",
            "encrypted central directory (flag bit 13)",
            Some(15),
            15,
            edit_content(|e| e.flags |= 0x2000),
        ),
        case(
            "8d",
            "AES encryption (method 99)",
            Some(15),
            15,
            edit_content(|e| e.method = 99),
        ),
        case(
            "8e",
            "AES encryption with its 0x9901 extra field",
            Some(15),
            15,
            edit_content(|e| {
                e.method = 99;
                let x = [0x01, 0x99, 7, 0, 2, 0, b'A', b'E', 3, 0, 0];
                e.local_extra = x.to_vec();
                e.central_extra = x.to_vec();
            }),
        ),
        case(
            "8f",
            "a streamed entry (data descriptor, sizes unknown)",
            Some(15),
            15,
            edit_content(|e| {
                e.flags |= 0x0008;
                let mut dd = 0x0807_4b50u32.to_le_bytes().to_vec();
                dd.extend_from_slice(&e.crc.to_le_bytes());
                dd.extend_from_slice(&(e.csize as u32).to_le_bytes());
                dd.extend_from_slice(&(e.size as u32).to_le_bytes());
                e.trailer = dd;
                *e = e.clone().local_says(|l| {
                    l.crc = 0;
                    l.csize = 0;
                    l.size = 0;
                });
            }),
        ),
        case(
            "8g",
            "a streamed entry, sizes given too",
            Some(15),
            15,
            edit_content(|e| e.flags |= 0x0008),
        )
        .says(&["data descriptor"]),
        case(
            "8h",
            "compression method 12 (bzip2)",
            Some(15),
            15,
            edit_content(|e| e.method = 12),
        )
        .says(&["compression method 12"]),
        case(
            "8i",
            "compression method 14 (LZMA)",
            Some(15),
            15,
            edit_content(|e| e.method = 14),
        ),
        case(
            "8j",
            "compression method 93 (Zstandard)",
            Some(15),
            15,
            edit_content(|e| e.method = 93),
        ),
        case(
            "8k",
            "compression method 1 (shrunk)",
            Some(15),
            15,
            edit_content(|e| e.method = 1),
        ),
        case(
            "9a",
            "an entry the manifest does not list",
            Some(15),
            15,
            |w, b| {
                let name = format!("content/{}", sha_hex(b"unlisted"));
                add_named(name.into_bytes())(w, b);
            },
        )
        .says(&["not listed"]),
        case(
            "9b",
            "an entry of volume 2 also in volume 3",
            Some(15),
            15,
            |_, b| {
                let e = first_content(&mut parse_zip(&fs::read(vol(b, 2)).unwrap())).clone();
                edit_volume(&vol(b, 3), |ents| ents.push(e));
                revouch(b);
            },
        ),
        case(
            "9c",
            "metadata.bin listed but absent from volume 1",
            Some(11),
            11,
            |_, b| {
                edit_volume(&vol(b, 1), |ents| {
                    ents.retain(|e| e.name != b"metadata.bin")
                });
                revouch(b);
            },
        )
        .says(&["not found"]),
        case(
            "9d",
            "a content file listed (and counted) but in no volume",
            Some(11),
            11,
            |_, b| {
                edit_manifest(b, |m| {
                    m["entries"]
                        .as_array_mut()
                        .unwrap()
                        .push(serde_json::json!({
                            "path": format!("content/{}", sha_hex(b"hello")),
                            "size": 5, "sha256": sha_hex(b"hello"), "volume": 4
                        }));
                    let c = &mut m["counts"];
                    c["content_files"] = Value::from(c["content_files"].as_u64().unwrap() + 1);
                    c["content_bytes"] = Value::from(c["content_bytes"].as_u64().unwrap() + 5);
                });
            },
        ),
        case(
            "9e",
            "metadata.bin moved from volume 1 to volume 2",
            Some(15),
            15,
            |_, b| {
                let mut v1 = parse_zip(&fs::read(vol(b, 1)).unwrap());
                let md = named(&mut v1, "metadata.bin").clone();
                v1.retain(|e| e.name != b"metadata.bin");
                fs::write(vol(b, 1), build_zip(&v1)).unwrap();
                edit_volume(&vol(b, 2), |ents| ents.insert(1, md));
                revouch(b);
            },
        ),
    ];
    check_all(&w, cases);
}

// ---------------------------------------------------------------------------------------------
// Cases 10–13: the metadata envelope and what it holds

/// Replaces metadata.bin by `bytes` (vouched for everywhere).
fn md_bytes(bytes: Vec<u8>) -> impl Fn(&World, &Path) {
    move |_, b| put_metadata(b, &bytes)
}

/// Edits the decoded metadata and puts it back; `recount`: the manifest's counts follow.
fn md_edit(
    recount: bool,
    f: impl Fn(&mut BundleMetadata, &World, &Path),
) -> impl Fn(&World, &Path) {
    move |w, b| {
        let mut md = metadata(b);
        f(&mut md, w, b);
        put_md(b, &md, recount);
    }
}

/// The ids of the updates a store holds.
fn store_update_ids(store: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(
        store.join("offsync.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = conn.prepare("SELECT update_id FROM updates").unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The index of an update the isolated store does not hold yet (so that changing it is not
/// a revision conflict with what the store has).
fn new_update(md: &BundleMetadata, w: &World) -> usize {
    let have = store_update_ids(&w.pristine);
    md.updates
        .iter()
        .position(|r| !have.iter().any(|h| h == r.update.id.as_str()) && !r.update.files.is_empty())
        .expect("an update the isolated store lacks")
}

#[test]
fn hostile_metadata_is_refused_with_bounded_memory() {
    let w = world();
    // The single-value envelope (version 2) that format 2 bundles carry: every reader still
    // takes it, so its defects are still refused. `stream` is the version 3 stream the writer
    // writes now.
    let stream = metadata_bytes(&w.good);
    let good = encode_metadata(&metadata(&w.good)).unwrap();
    let payload = good[20..].to_vec();
    let cases = vec![
        case(
            "10a",
            "the envelope announces 1 TiB (20 bytes)",
            Some(16),
            16,
            md_bytes(envelope(b"OFFSYNCM", 1, 1 << 40, &[])),
        ),
        case(
            "10b",
            "bincode: the category list claims 2^40 elements (29 bytes)",
            Some(16),
            16,
            md_bytes(good_envelope(&claiming(1 << 40, 0))),
        ),
        case(
            "10c",
            "bincode: a category id claims 2^40 bytes",
            Some(16),
            16,
            md_bytes({
                let mut p = vec![1];
                p.extend(claiming(1 << 40, 0));
                good_envelope(&p)
            }),
        ),
        case(
            "10d",
            "bincode: the update list claims 2^64-1 elements",
            Some(16),
            16,
            md_bytes({
                let mut p = vec![0];
                p.extend(claiming(u64::MAX, 0));
                good_envelope(&p)
            }),
        ),
        case(
            "10e",
            "bincode: a 16 KiB payload claiming 1 GiB of categories",
            Some(16),
            16,
            md_bytes(good_envelope(&claiming(1 << 24, 16 * 1024 - 9))),
        ),
        case(
            "11a",
            "valid metadata followed by 4 trailing bytes",
            Some(10),
            10,
            md_bytes([&good[..], b"junk"].concat()),
        )
        .says(&["trailing"]),
        case(
            "11b",
            "the length covers 3 bytes the decoder does not use",
            Some(10),
            10,
            md_bytes(good_envelope(&[&payload[..], b"abc"].concat())),
        )
        .says(&["trailing"]),
        case(
            "11c",
            "the payload is 5 bytes shorter than announced",
            Some(10),
            10,
            md_bytes(good[..good.len() - 5].to_vec()),
        )
        .says(&["truncated"]),
        case(
            "11e",
            "a version 3 stream with 4 bytes after its end record",
            Some(10),
            10,
            md_bytes([&stream[..], b"junk"].concat()),
        )
        .says(&["trailing"]),
        case(
            "11f",
            "a version 3 stream cut 5 bytes before its end",
            Some(10),
            10,
            md_bytes(stream[..stream.len() - 5].to_vec()),
        )
        .says(&["truncated"]),
        case(
            "11d",
            "10 bytes: not even an envelope header",
            Some(10),
            10,
            md_bytes(good[..10].to_vec()),
        ),
        case(
            "12a",
            "unknown magic (a ZIP signature)",
            Some(10),
            10,
            md_bytes(envelope(
                b"PK\x03\x04xxxx",
                1,
                payload.len() as u64,
                &payload,
            )),
        )
        .says(&["504b0304"]),
        case(
            "12b",
            "a future envelope version (4)",
            Some(10),
            10,
            md_bytes(envelope(b"OFFSYNCM", 4, payload.len() as u64, &payload)),
        )
        .says(&["version 4", "reads version 1, 2, 3"]),
        case(
            "12c",
            "a future manifest format_version (4)",
            Some(10),
            10,
            |_, b| {
                edit_manifest(b, |m| m["format_version"] = Value::from(4));
            },
        )
        .says(&["format_version 4", "reads format version 1, 2, 3"]),
        case(
            "12d",
            "a manifest without format_version",
            Some(10),
            10,
            |_, b| {
                edit_manifest(b, |m| {
                    m.as_object_mut().unwrap().remove("format_version");
                });
            },
        ),
        case(
            "12e",
            "a volume header claiming format version 2 (the manifest's is 3)",
            Some(10),
            10,
            |_, b| {
                edit_volume(&vol(b, 2), |ents| {
                    let h = named(ents, "offsync-volume.json");
                    let text = String::from_utf8(h.data.clone()).unwrap();
                    let was = "\"format_version\":3";
                    assert!(text.contains(was), "{text}");
                    let text = text.replace(was, "\"format_version\":2");
                    *h = Ent::stored(b"offsync-volume.json", text.as_bytes());
                });
                revouch(b);
            },
        )
        .says(&["format version 2"]),
        case(
            "13a",
            "an update listed twice (counts agreeing)",
            Some(10),
            10,
            md_edit(true, |md, _, _| {
                let r = md.updates[0].clone();
                md.updates.push(r);
            }),
        )
        .says(&["twice"]),
        case(
            "13b",
            "a category listed twice (counts agreeing)",
            Some(10),
            10,
            md_edit(true, |md, _, _| {
                let c = md.categories[0].clone();
                md.categories.insert(1, c);
            }),
        )
        .says(&["twice"]),
        case(
            "13c",
            "the manifest counts one update more than the metadata holds",
            Some(10),
            10,
            |_, b| {
                edit_manifest(b, |m| {
                    let n = m["counts"]["updates"].as_u64().unwrap();
                    m["counts"]["updates"] = Value::from(n + 1);
                });
            },
        )
        .says(&["counts"]),
        case(
            "13d",
            "an update dropped from the metadata, counts unchanged",
            Some(10),
            10,
            md_edit(false, |md, _, _| {
                md.updates.pop();
            }),
        ),
        case(
            "13e",
            "an update turned into a tombstone, counts unchanged",
            Some(10),
            10,
            md_edit(false, |md, _, _| {
                md.updates[0].state = offsync::bundle::RecordState::Removed;
            }),
        ),
        case(
            "13f",
            "a file reference of 2^64-1 bytes",
            Some(10),
            10,
            md_edit(true, |md, w, _| {
                let i = new_update(md, w);
                md.updates[i].update.files[0].size = Some(u64::MAX);
            }),
        )
        .says(&["18446744073709551615 bytes"]),
        case(
            "13g",
            "a file reference sized unlike the content the bundle carries",
            Some(10),
            10,
            md_edit(true, |md, w, b| {
                let i = new_update(md, w);
                let (h, size) = a_whole_content_file(b);
                md.updates[i].update.files.push(FileRef {
                    name: "lie.cab".into(),
                    size: Some(size + 1),
                    sha1: None,
                    sha256: Some(h),
                    url: None,
                });
            }),
        ),
        case(
            "13h",
            "an update id that is a path, not a GUID",
            Some(10),
            10,
            md_edit(true, |md, w, _| {
                let i = new_update(md, w);
                md.updates[i].update.id = guid("../../../../etc/passwd");
            }),
        )
        .says(&["GUID"]),
        case(
            "13i",
            "an upper-case GUID (the same update, spelt twice)",
            Some(10),
            10,
            md_edit(true, |md, w, _| {
                let i = new_update(md, w);
                let mut r = md.updates[i].clone();
                r.update.id = guid(&r.update.id.as_str().to_ascii_uppercase());
                md.updates.push(r);
            }),
        )
        .says(&["GUID"]),
        case(
            "13j",
            "a category whose parent is not a GUID",
            Some(10),
            10,
            md_edit(true, |md, _, _| {
                md.categories[0].parent = Some(guid("x"));
            }),
        ),
        // By design, not corrupt: the exporter leaves out content its store lacks (the round
        // trip exports one such file), and the importing store records it as missing.
        case(
            "13k",
            "a file reference with no content entry (imports: missing)",
            Some(0),
            0,
            md_edit(true, |md, w, _| {
                let i = new_update(md, w);
                md.updates[i].update.files.push(FileRef {
                    name: "absent.cab".into(),
                    size: Some(5),
                    sha1: Some([7; 20]),
                    sha256: Some([7; 32]),
                    url: None,
                });
            }),
        ),
    ];
    check_all(&w, cases);
}

// ---------------------------------------------------------------------------------------------
// Case 21: volumes mixed from two bundles, missing, duplicated, shuffled

/// Folders `disc1..disc<n>` next to the bundle copy.
fn discs(b: &Path, n: usize) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let d = b.with_file_name(format!("disc{i}"));
            fs::create_dir_all(&d).unwrap();
            d
        })
        .collect()
}

fn file_name(p: &Path) -> &std::ffi::OsStr {
    p.file_name().unwrap()
}

#[test]
fn volumes_mixed_missing_duplicated_or_shuffled() {
    let w = world();
    let other = other_bundle(&w);
    let o = other.clone();
    let foreign = move |i: usize, vouch: bool| {
        let o = o.clone();
        move |_: &World, b: &Path| {
            fs::copy(vol(&o, i), vol(b, i)).unwrap();
            if vouch {
                revouch(b);
            }
        }
    };
    let o = other.clone();
    let cases = vec![
        case(
            "21a",
            "volume 3 of another bundle with the same names",
            Some(11),
            11,
            foreign(3, false),
        )
        .says(&["another bundle"]),
        case(
            "21b",
            "... with the manifest vouching for it",
            Some(11),
            11,
            foreign(3, true),
        )
        .says(&["another bundle"]),
        case(
            "21c",
            "volume 1 of another bundle, vouched for",
            Some(11),
            11,
            foreign(1, true),
        ),
        case("21d", "volume 4 missing", Some(11), 11, |_, b| {
            fs::remove_file(vol(b, 4)).unwrap()
        })
        .says(&["not found"]),
        case("21e", "volume 1 missing", Some(11), 11, |_, b| {
            fs::remove_file(vol(b, 1)).unwrap()
        }),
        case("21f", "every volume missing", Some(11), 11, |_, b| {
            for v in volumes(b) {
                fs::remove_file(v).unwrap();
            }
        }),
        case(
            "21g",
            "volume 2's file copied over volume 3",
            Some(11),
            11,
            |_, b| {
                fs::copy(vol(b, 2), vol(b, 3)).unwrap();
            },
        ),
        case(
            "21h",
            "volume 2's file copied over volume 3, vouched for",
            Some(11),
            11,
            |_, b| {
                fs::copy(vol(b, 2), vol(b, 3)).unwrap();
                revouch(b);
            },
        ),
        case(
            "21i",
            "volumes 2 and 3 swapped, vouched for",
            Some(11),
            11,
            |_, b| {
                let (v2, v3) = (vol(b, 2), vol(b, 3));
                let tmp = b.join("swap");
                fs::rename(&v2, &tmp).unwrap();
                fs::rename(&v3, &v2).unwrap();
                fs::rename(&tmp, &v3).unwrap();
                revouch(b);
            },
        ),
        case_paths(
            "21j",
            "volume 3 only from another bundle, on a further disc",
            Some(11),
            11,
            move |_, b| {
                let d = discs(b, 1);
                let v3 = vol(b, 3);
                fs::copy(vol(&o, 3), d[0].join(file_name(&v3))).unwrap();
                fs::remove_file(&v3).unwrap();
                vec![b.to_path_buf(), d[0].clone()]
            },
        ),
        case_paths(
            "21k",
            "volume 4 twice: another bundle's first, then the right one",
            Some(0),
            0,
            {
                let o = other.clone();
                move |_, b| {
                    let d = discs(b, 2);
                    let v4 = vol(b, 4);
                    fs::copy(vol(&o, 4), d[0].join(file_name(&v4))).unwrap();
                    fs::rename(&v4, d[1].join(file_name(&v4))).unwrap();
                    vec![b.to_path_buf(), d[0].clone(), d[1].clone()]
                }
            },
        ),
        case_paths(
            "21l",
            "shuffled: volumes on three discs given in reverse order",
            Some(0),
            0,
            |_, b| {
                let d = discs(b, 3);
                for (i, v) in volumes(b).iter().enumerate().skip(1) {
                    fs::rename(v, d[i % 3].join(file_name(v))).unwrap();
                }
                let mut paths = vec![b.to_path_buf()];
                paths.extend(d.into_iter().rev());
                paths
            },
        ),
        case_paths(
            "21m",
            "shuffled: volumes given one by one, out of order",
            Some(0),
            0,
            |_, b| {
                let d = discs(b, 1);
                let mut paths = vec![b.to_path_buf()];
                for v in volumes(b).iter().skip(1).rev() {
                    let to = d[0].join(file_name(v));
                    fs::rename(v, &to).unwrap();
                    paths.push(to);
                }
                paths
            },
        ),
        case_paths(
            "21n",
            "the same volumes reached twice (folder and files again)",
            Some(0),
            0,
            |_, b| {
                let mut paths = vec![b.to_path_buf(), b.to_path_buf()];
                paths.extend(volumes(b));
                paths
            },
        ),
    ];
    check_all(&w, cases);
}

// ---------------------------------------------------------------------------------------------
// Caps at their edges: one at the cap passes that check (and fails a later one, or none), one
// over it is a limit (exit 16). The caps are those of docs/BUNDLE-FORMAT.md, section 6.

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
use offsync::bundle::manifest::MAX_STREAM_METADATA_BYTES;
use offsync::bundle::metadata::MAX_METADATA_BYTES;
const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

/// Volume 4 replaced by its header entry and `n - 1` empty entries with empty names (written
/// directly: a record costs 30 + 46 bytes).
fn real_entries(n: usize) -> impl Fn(&World, &Path) {
    move |_, b| {
        let path = vol(b, 4);
        let header = parse_zip(&fs::read(&path).unwrap()).remove(0);
        let (first, _, _) = zip_body(std::slice::from_ref(&header));
        let local_len = 30 + header.name.len() + header.data.len();
        let (locals, centrals) = first.split_at(local_len);
        let mut out = Vec::with_capacity(n * 76 + first.len() + 98);
        out.extend_from_slice(locals);
        let empty = zip_body(&[Ent::stored(b"", b"")]).0;
        let mut offsets = Vec::with_capacity(n);
        for _ in 1..n {
            offsets.push(out.len() as u32);
            out.extend_from_slice(&empty[..30]);
        }
        let cd = out.len() as u64;
        out.extend_from_slice(centrals);
        for off in offsets {
            let at = out.len();
            out.extend_from_slice(&empty[30..]);
            out[at + 42..at + 46].copy_from_slice(&off.to_le_bytes());
        }
        let size = out.len() as u64 - cd;
        let at = out.len() as u64;
        out.extend(zip_end(n as u64, size, cd, at, false));
        fs::write(&path, out).unwrap();
        revouch(b);
    }
}

/// The manifest lists the first whole content file with `size` bytes.
fn manifest_content_size(size: u64) -> impl Fn(&World, &Path) {
    move |_, b| {
        let (h, _) = a_whole_content_file(b);
        edit_manifest(b, |m| {
            entry(m, &format!("content/{}", hex::encode(h)))["size"] = Value::from(size)
        });
    }
}

/// metadata.bin declared at the deflate ratio cap (1032:1 plus 1 KiB) plus `over` bytes, in
/// both headers and the manifest.
fn ratio(over: u64) -> impl Fn(&World, &Path) {
    move |_, b| {
        let mut size = 0;
        edit_volume(&vol(b, 1), |ents| {
            let e = named(ents, "metadata.bin");
            e.size = e.csize * 1032 + 1024 + over;
            size = e.size;
        });
        edit_manifest(b, |m| entry(m, "metadata.bin")["size"] = Value::from(size));
    }
}

/// The manifest says volume 4 has `size` bytes (SHA256SUMS agrees with the manifest).
fn volume_size(size: u64) -> impl Fn(&World, &Path) {
    move |_, b| {
        let mut m = manifest(b);
        m["volumes"][3]["size"] = Value::from(size);
        write_manifest(b, &m);
    }
}

/// The manifest lists `n` volumes (the 4 real ones, then volumes no disc holds).
fn volume_count(n: u32) -> impl Fn(&World, &Path) {
    move |_, b| {
        let mut m = manifest(b);
        let name = b.file_name().unwrap().to_str().unwrap().to_string();
        let list = m["volumes"].as_array_mut().unwrap();
        for i in 5..=n {
            list.push(serde_json::json!({
                "name": format!("{name}-v{i:03}.zip"), "size": 0, "sha256": "0".repeat(64)
            }));
        }
        write_manifest(b, &m);
    }
}

/// manifest.json padded with `pad` (JSON whitespace, or not) to `len` bytes; no SHA256SUMS.
fn manifest_len(len: u64, pad: u8) -> impl Fn(&World, &Path) {
    move |_, b| {
        let path = b.join("manifest.json");
        if pad == 0 {
            // NUL padding: a sparse file, nothing written.
            fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(len)
                .unwrap();
        } else {
            let mut text = fs::read(&path).unwrap();
            text.resize(len as usize, pad);
            fs::write(&path, text).unwrap();
        }
        fs::remove_file(b.join("SHA256SUMS")).unwrap();
    }
}

/// SHA256SUMS padded with empty lines to `len` bytes.
fn sums_len(len: u64) -> impl Fn(&World, &Path) {
    move |_, b| edit_bytes(&b.join("SHA256SUMS"), |v| v.resize(len as usize, b'\n'))
}

/// Volume 2's header entry padded with spaces (still the same JSON) to `len` bytes.
fn header_len(len: usize) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_volume(&vol(b, 2), |ents| {
            let h = named(ents, "offsync-volume.json");
            let mut text = h.data.clone();
            text.resize(len, b' ');
            *h = Ent::stored(b"offsync-volume.json", &text);
        });
        revouch(b);
    }
}

#[test]
fn caps_hold_at_their_edges() {
    let w = world();
    // bincode's claim for a container is its length times the element size.
    let s = std::mem::size_of::<Category>() as u64;
    let under = |limit: u64| (limit - 64) / s;
    let over = |limit: u64| limit / s + 1;
    let sums_cap = 64 * KIB + 256 * 4;
    let cases = vec![
        // Entries per volume: 100,000, checked before the central directory is read.
        case(
            "c1a",
            "end record declares 100,000 entries (cap): then corrupt",
            Some(10),
            10,
            volume2_ends_with(|_, size, cd, at| zip_end(100_000, size, cd, at, true)),
        ),
        case(
            "c1b",
            "end record declares 100,001 entries",
            Some(16),
            16,
            volume2_ends_with(|_, size, cd, at| zip_end(100_001, size, cd, at, true)),
        ),
        case(
            "c1c",
            "100,000 real entries (cap): read, refused one by one",
            Some(15),
            15,
            real_entries(100_000),
        )
        .says(&["more finding(s) not listed"]),
        case(
            "c1d",
            "100,001 real entries",
            Some(16),
            16,
            real_entries(100_001),
        ),
        // Entry size: 1 TiB, in the headers and in the manifest; then against the manifest.
        case(
            "c2a",
            "headers declare 1 TiB (cap): then unlike the manifest",
            Some(10),
            10,
            metadata_declares(TIB),
        )
        .says(&["the manifest says"]),
        case(
            "c2b",
            "headers declare 1 TiB + 1",
            Some(16),
            16,
            metadata_declares(TIB + 1),
        ),
        case(
            "c2c",
            "manifest lists a 1 TiB content entry (cap): then too big",
            Some(10),
            10,
            manifest_content_size(TIB),
        ),
        case(
            "c2d",
            "manifest lists a 1 TiB + 1 content entry",
            Some(16),
            16,
            manifest_content_size(TIB + 1),
        ),
        case(
            "c2e",
            "deflate ratio at its cap (1032:1 + 1 KiB): then short",
            Some(10),
            10,
            ratio(0),
        ),
        case(
            "c2f",
            "deflate ratio one byte over its cap",
            Some(16),
            16,
            ratio(1),
        ),
        // Metadata size in a format 3 manifest: 16 GiB (the stream is read one record at a
        // time). The 256 MiB cap of formats 1 and 2 is checked by the unit test
        // `manifest_caps_hold_at_their_edges`, and by c3c-c3d on the envelope's own field.
        case(
            "c3a",
            "manifest lists metadata.bin at 16 GiB (cap): then unlike",
            Some(10),
            10,
            |_, b| {
                edit_manifest(b, |m| {
                    entry(m, "metadata.bin")["size"] = Value::from(MAX_STREAM_METADATA_BYTES)
                })
            },
        ),
        case(
            "c3b",
            "manifest lists metadata.bin at 16 GiB + 1",
            Some(16),
            16,
            |_, b| {
                edit_manifest(b, |m| {
                    entry(m, "metadata.bin")["size"] = Value::from(MAX_STREAM_METADATA_BYTES + 1)
                })
            },
        ),
        case(
            "c3c",
            "envelope announces 256 MiB (cap): then truncated",
            Some(10),
            10,
            md_bytes(envelope(b"OFFSYNCM", 1, MAX_METADATA_BYTES, &[])),
        )
        .says(&["truncated"]),
        case(
            "c3d",
            "envelope announces 256 MiB + 1",
            Some(16),
            16,
            md_bytes(envelope(b"OFFSYNCM", 1, MAX_METADATA_BYTES + 1, &[])),
        ),
        // The bincode decode limit: 64 x the payload rounded up to a power of two, at least
        // 1 MiB (payloads up to 16 KiB).
        case(
            "c4a",
            "a 73-byte payload claiming just under 1 MiB: then truncated",
            Some(10),
            10,
            md_bytes(good_envelope(&claiming(under(MIB), 64))),
        )
        .says(&["truncated"]),
        case(
            "c4b",
            "a 73-byte payload claiming just over 1 MiB",
            Some(16),
            16,
            md_bytes(good_envelope(&claiming(over(MIB), 64))),
        ),
        case(
            "c4c",
            "a 16,385-byte payload (2 MiB limit) claiming just over 1 MiB",
            Some(10),
            10,
            md_bytes(good_envelope(&claiming(over(MIB), 16_385 - 9))),
        ),
        case(
            "c4d",
            "a 16,385-byte payload claiming just over 2 MiB",
            Some(16),
            16,
            md_bytes(good_envelope(&claiming(over(2 * MIB), 16_385 - 9))),
        ),
        // Manifest: volume size, volume count, its own size; SHA256SUMS; the volume header.
        case(
            "c5a",
            "manifest says a volume has 1 TiB (cap): then unlike",
            Some(10),
            10,
            volume_size(TIB),
        ),
        case(
            "c5b",
            "manifest says a volume has 1 TiB + 1",
            Some(16),
            16,
            volume_size(TIB + 1),
        ),
        case(
            "c5c",
            "manifest lists 9,999 volumes (cap): then missing",
            Some(11),
            11,
            volume_count(9_999),
        ),
        case(
            "c5d",
            "manifest lists 10,000 volumes",
            Some(16),
            16,
            volume_count(10_000),
        ),
        case(
            "c5f",
            "manifest of 128 MiB + 1",
            Some(16),
            16,
            manifest_len(128 * MIB + 1, 0),
        ),
        case(
            "c5g",
            "SHA256SUMS at its cap (64 KiB + 256 per volume)",
            Some(0),
            0,
            sums_len(sums_cap),
        ),
        case(
            "c5h",
            "SHA256SUMS one byte over its cap",
            Some(16),
            16,
            sums_len(sums_cap + 1),
        ),
        case(
            "c5i",
            "a volume header entry of 4,096 bytes (cap)",
            Some(0),
            0,
            header_len(4096),
        ),
        case(
            "c5j",
            "a volume header entry of 4,097 bytes (corrupt)",
            Some(10),
            10,
            header_len(4097),
        ),
    ];
    check_all(&w, cases);
}

/// The whole 128 MiB manifest is read, hashed and parsed (three times: verify, and import's
/// verify and reader); slow in a debug build.
/// Run with `cargo test --test it hostile::a_manifest_at_its_cap -- --ignored`.
#[test]
#[ignore = "slow: reads a 128 MiB manifest six times"]
fn a_manifest_at_its_cap_is_read() {
    let w = world();
    check_all(
        &w,
        vec![
            case(
                "c5e",
                "manifest of 128 MiB (cap), not JSON after the object",
                Some(10),
                10,
                manifest_len(128 * MIB, 0),
            ),
            case(
                "c5k",
                "manifest of 128 MiB (cap), JSON whitespace after the object",
                Some(0),
                0,
                manifest_len(128 * MIB, b' '),
            ),
        ],
    );
}

/// A million real empty entries in one volume (about 76 MB): refused from the end records,
/// before the directory is read. Run with `cargo test --test it hostile::a_million -- --ignored`.
#[test]
#[ignore = "slow: writes and hashes a 76 MB volume"]
fn a_million_real_empty_entries_are_a_limit() {
    let w = world();
    check_all(
        &w,
        vec![case(
            "7o",
            "a million real empty entries",
            Some(16),
            16,
            real_entries(1_000_000),
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// Case 5, second half: links planted inside the store

#[test]
fn links_planted_inside_the_store_are_not_written_through() {
    let w = world();
    let outside = w.root.join("outside");
    fs::create_dir_all(&outside).unwrap();
    // The prefix folder of a content file the bundle brings and the store lacks.
    let m = manifest(&w.good);
    let prefix = m["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            e["path"]
                .as_str()?
                .strip_prefix("content/")
                .map(|h| h[..2].to_string())
        })
        .find(|p| !w.store.join("content").join(p).exists())
        .expect("a new content prefix");
    let plants: Vec<(&str, PathBuf)> = vec![
        (
            "5g content/<prefix> -> a folder outside",
            w.store.join("content").join(&prefix),
        ),
        ("5h staging -> a folder outside", w.store.join("staging")),
        ("5i content -> a folder outside", w.store.join("content")),
    ];
    let mut failures = Vec::new();
    for (what, link) in plants {
        let store = w.root.join("planted");
        copy_tree(&w.store, &store);
        let link = store.join(link.strip_prefix(&w.store).unwrap());
        if link.exists() {
            // Keep what the real folder held next to it, outside the store's reach.
            copy_tree(&link, &outside);
            fs::remove_dir_all(&link).unwrap();
        }
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        let fp = fingerprint(&store);
        let before = tree(&w.root, &store);
        let (code, out, err) = run_in(
            &w.cwd,
            &os(
                &["import", "--store", p(&store)],
                std::slice::from_ref(&w.good),
            ),
        );
        let mut problems = Vec::new();
        if code != 15 && code != 5 {
            problems.push(format!(
                "import exited {code}, expected 15 or 5\n{out}{err}"
            ));
        }
        if fingerprint(&store) != fp {
            problems.push("the store changed".into());
        }
        if tree(&w.root, &store) != before {
            problems.push("files were written (through the link?)".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{what}:\n  {}", problems.join("\n  ")));
        } else {
            eprintln!("{what:<68} import {code}");
        }
        fs::remove_dir_all(&store).unwrap();
        fs::remove_dir_all(&outside).unwrap();
        fs::create_dir_all(&outside).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue 10's cases on the bundle side, with this suite's world and checks.
#[path = "attack_bundle.rs"]
mod attack_bundle;
