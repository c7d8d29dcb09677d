//! Issue 12, point 2: a WSUS export package (the cabinet `wsusutil export` writes, with
//! `package.xml` and `metadata.txt`) read as an upstream: both member orders and
//! compressions, documents kept byte for byte, the highest revision of an id taken, and
//! every malformed package refused naming the record, with the store unchanged. The real
//! package in ../shared/real-data is read completely.
//!
//! The packages are written here with the `cab` crate's `CabinetBuilder` (MSZIP or no
//! compression), as `publish wsus` writes them.

use crate::common::*;
use cab::CompressionType;
use offsync::store::Store;
use offsync::upstream::upd_xml::{Document, decode_text, parse_document};
use offsync::upstream::{ScanItem, open};
use std::collections::{BTreeMap, HashSet};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

/// One record of `metadata.txt`: id, revision, XML text (UTF-8, no declaration).
#[derive(Clone)]
struct Rec {
    id: String,
    rev: u32,
    xml: String,
}

/// Every fixture document as a record: decoded to UTF-8 and without a BOM, as `wsusutil
/// export` writes documents. A German title (ü) is already in one; an emoji (a surrogate
/// pair in UTF-16) is added to another.
fn fixture_records() -> Vec<Rec> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(upstream_fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    // Categories first, as the exporter orders them.
    names.sort_by_key(|p| {
        !p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("category")
    });
    names
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).unwrap();
            let mut xml = decode_text(&bytes)
                .unwrap()
                .trim_start_matches('\u{feff}')
                .to_string();
            if xml.starts_with("<?xml") {
                xml = xml[xml.find("?>").unwrap() + 2..].trim_start().to_string();
            }
            if path.to_str().unwrap().contains("update-a2") {
                xml = xml.replacen("</upd:Title>", " \u{1F600}</upd:Title>", 1);
            }
            let (id, rev) = match parse_document(xml.as_bytes()).unwrap() {
                Document::Category(c) => (c.id.to_string(), c.revision),
                Document::Update(u) => (u.id.to_string(), u.revision),
            };
            Rec { id, rev, xml }
        })
        .collect()
}

fn record_bytes(r: &Rec) -> Vec<u8> {
    format!(
        "{},{:08x},{:08x},{}\r\n",
        r.id,
        r.rev,
        r.xml.encode_utf16().count(),
        r.xml
    )
    .into_bytes()
}

fn metadata_txt(recs: &[Rec]) -> Vec<u8> {
    recs.iter().flat_map(record_bytes).collect()
}

fn package_xml(recs: &[Rec]) -> Vec<u8> {
    let mut s = String::from(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><ExportPackage ServerID=\"5fd0d2e4-7d5c-4a0e-9c8e-2d1b0f7c1a11\" CreationTime=\"2025-06-01T10:00:00Z\" FormatVersion=\"1.0\" ProtocolVersion=\"1.20\"><Languages><Language Id=\"0\" ShortName=\"all\" LongName=\"all\" Enabled=\"1\" /></Languages><Files /><Updates>",
    );
    for r in recs {
        s += &format!(
            "<Update UpdateId=\"{}\" RevisionNumber=\"{}\"><Files /><Categories /><Classifications /></Update>",
            r.id, r.rev
        );
    }
    s += "</Updates></ExportPackage>";
    s.into_bytes()
}

/// A cabinet of one folder holding `members` in this order.
fn cabinet(members: &[(&str, Vec<u8>)], ct: CompressionType) -> Vec<u8> {
    let mut b = cab::CabinetBuilder::new();
    let f = b.add_folder(ct);
    for (name, _) in members {
        f.add_file(*name);
    }
    let mut w = b.build(Cursor::new(Vec::new())).unwrap();
    let mut i = 0;
    while let Some(mut fw) = w.next_file().unwrap() {
        fw.write_all(&members[i].1).unwrap();
        i += 1;
    }
    w.finish().unwrap().into_inner()
}

/// A package with Microsoft's exporter's layout (MSZIP, `metadata.txt` first) or the real
/// package's order (`package.xml` first).
fn package(recs: &[Rec], package_first: bool, ct: CompressionType) -> Vec<u8> {
    package_from(&package_xml(recs), &metadata_txt(recs), package_first, ct)
}

fn package_from(pkg: &[u8], meta: &[u8], package_first: bool, ct: CompressionType) -> Vec<u8> {
    let (p, m) = (
        ("package.xml", pkg.to_vec()),
        ("metadata.txt", meta.to_vec()),
    );
    if package_first {
        cabinet(&[p, m], ct)
    } else {
        cabinet(&[m, p], ct)
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The store's state, but for its record of sync runs (a failed run is recorded).
fn state(store: &Path) -> BTreeMap<String, Vec<String>> {
    let mut f = fingerprint(store);
    f.remove("sync_runs");
    f
}

#[test]
fn a_package_syncs_in_either_member_order_and_keeps_each_document_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = fixture_records();
    // A second revision of an update, before the first: the sync takes the highest.
    let a1 = recs
        .iter()
        .position(|r| r.xml.contains("KB5034122"))
        .unwrap();
    let old = recs[a1].clone();
    let mut newer = old.clone();
    newer.rev = old.rev + 1;
    newer.xml = old.xml.replacen(
        &format!("RevisionNumber=\"{}\"", old.rev),
        &format!("RevisionNumber=\"{}\"", newer.rev),
        1,
    );
    recs.insert(a1, newer.clone());
    // The UpdateID inside a document keeps its own case: an uppercase one is the same id.
    let w11 = recs
        .iter()
        .position(|r| r.xml.contains("Windows 11"))
        .unwrap();
    let id = recs[w11].id.clone();
    recs[w11].xml = recs[w11].xml.replacen(&id, &id.to_uppercase(), 1);
    assert!(recs[w11].xml.contains(&id.to_uppercase()));
    let n_updates: HashSet<&str> = recs
        .iter()
        .filter(|r| !r.xml.contains("UpdateType=\"Category\""))
        .map(|r| r.id.as_str())
        .collect();
    for (k, (package_first, ct)) in [
        (false, CompressionType::MsZip),
        (true, CompressionType::None),
    ]
    .into_iter()
    .enumerate()
    {
        let cab = write(
            dir.path(),
            &format!("export{k}.cab"),
            &package(&recs, package_first, ct),
        );
        let s = init_store(dir.path(), &format!("s{k}"));
        let r = sync_json(&s, &cab, &[]);
        assert_eq!(r["categories"], 12, "{r}");
        assert_eq!(r["upstream_updates"], n_updates.len() as u64, "{r}");
        set_criteria(&s, BROAD_CRITERIA);
        let r = sync_json(&s, &cab, &[]);
        assert!(r["new"].as_u64().unwrap() >= 8, "{r}");
        let store = Store::open(&s).unwrap();
        let mut kept = 0;
        for rec in &recs {
            if let Some(doc) = store.document(&rec.id, rec.rev).unwrap() {
                assert!(
                    doc == rec.xml.as_bytes(),
                    "{} revision {} changed",
                    rec.id,
                    rec.rev
                );
                kept += 1;
            }
        }
        // The older revision is not what the store holds.
        assert_eq!(store.document(&old.id, old.rev).unwrap(), None);
        assert!(store.document(&newer.id, newer.rev).unwrap().is_some());
        assert_eq!(kept as u64, store.document_count().unwrap());
        assert!(kept > 12 + 8, "kept {kept}");
        // The ü and the emoji came through.
        let a2 = recs.iter().find(|r| r.xml.contains('\u{1F600}')).unwrap();
        assert!(store.document(&a2.id, a2.rev).unwrap().is_some());
        let list = run(&["updates", "list", "--store", p(&s), "--json"], 0);
        assert!(list.contains(&newer.id), "{list}");
        // The sync history names the package.
        let last = Store::open_readonly(&s)
            .unwrap()
            .last_sync()
            .unwrap()
            .unwrap();
        assert_eq!(last.outcome, "succeeded");
        // Set as the store's upstream, it is described as a package.
        let out = run(&["upstream", "set", "--store", p(&s), p(&cab)], 0);
        assert!(out.contains("WSUS export package"), "{out}");
        let again = json(&["sync", "--store", p(&s), "--json"]);
        assert_eq!(again["new"], 0, "{again}");
    }
}

/// Runs a sync of `store` from the package `bytes` (written as `name`), expects `code` and
/// each of `needles` in stderr, and that the store is as it was.
fn refused(dir: &Path, store: &Path, name: &str, bytes: &[u8], code: i32, needles: &[&str]) {
    let before = state(store);
    let path = write(dir, name, bytes);
    let (got, out, err) = run_any(&["sync", "--store", p(store), "--from", p(&path)]);
    assert_eq!(got, code, "{name}: {out}{err}");
    for n in needles {
        assert!(err.contains(n), "{name}: '{n}' not in: {err}");
    }
    assert_eq!(state(store), before, "{name}: the store changed");
}

#[test]
fn malformed_packages_are_refused_naming_the_record_and_leave_the_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let recs = fixture_records();
    let good = package(&recs, false, CompressionType::MsZip);
    let s = init_store(dir.path(), "s");
    run(
        &[
            "sync",
            "--store",
            p(&s),
            "--from",
            p(&write(dir.path(), "good.cab", &good)),
        ],
        0,
    );
    set_criteria(&s, BROAD_CRITERIA);
    // Records 1..3 as they are, then record 4 spoiled by `f`, then the rest.
    let spoil = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut meta = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            let mut b = record_bytes(r);
            if i == 3 {
                f(&mut b);
            }
            meta.extend_from_slice(&b);
        }
        package_from(&package_xml(&recs), &meta, false, CompressionType::MsZip)
    };
    let set = |b: &mut Vec<u8>, at: usize, with: &[u8]| {
        b.splice(at..at + with.len(), with.iter().copied())
            .for_each(drop)
    };
    let n4 = recs[3].xml.encode_utf16().count();
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "length-past-end.cab",
            {
                let mut meta = metadata_txt(&recs);
                let last = record_bytes(recs.last().unwrap());
                let at = meta.len() - last.len() + 46;
                set(&mut meta, at, format!("{:08x}", last.len() * 2).as_bytes());
                package_from(&package_xml(&recs), &meta, false, CompressionType::MsZip)
            },
            &["metadata.txt record 27", "runs past the end"],
        ),
        (
            "length-short.cab",
            spoil(&|b| set(b, 46, format!("{:08x}", n4 - 5).as_bytes())),
            &["metadata.txt record 4", "does not land on the record's end"],
        ),
        (
            "length-long.cab",
            spoil(&|b| set(b, 46, format!("{:08x}", n4 + 3).as_bytes())),
            &["metadata.txt record 4", "does not land on the record's end"],
        ),
        (
            "no-crlf.cab",
            spoil(&|b| {
                b.truncate(b.len() - 2);
            }),
            &["metadata.txt record 4", "CRLF that ends it is missing"],
        ),
        (
            "lf-only.cab",
            spoil(&|b| {
                b.remove(b.len() - 2);
            }),
            &["metadata.txt record 4", "not CRLF"],
        ),
        (
            "truncated.cab",
            {
                let meta = metadata_txt(&recs);
                package_from(
                    &package_xml(&recs),
                    &meta[..meta.len() - 100],
                    false,
                    CompressionType::MsZip,
                )
            },
            &["metadata.txt record 27", "truncated or its length is wrong"],
        ),
        (
            "truncated-head.cab",
            {
                let meta = metadata_txt(&recs);
                let cut = meta.len() - record_bytes(recs.last().unwrap()).len() + 30;
                package_from(
                    &package_xml(&recs),
                    &meta[..cut],
                    false,
                    CompressionType::MsZip,
                )
            },
            &[
                "metadata.txt record 27",
                "truncated: the file ends inside the record's header",
            ],
        ),
        (
            "revision-7.cab",
            spoil(&|b| {
                b.remove(37);
            }),
            &[
                "metadata.txt record 4",
                "the revision field",
                "not 8 lowercase hex digits",
            ],
        ),
        (
            "revision-upper.cab",
            spoil(&|b| set(b, 44, b"A")),
            &[
                "metadata.txt record 4",
                "the revision field",
                "not 8 lowercase hex digits",
            ],
        ),
        (
            "length-x.cab",
            spoil(&|b| set(b, 46, b"0000x")),
            &[
                "metadata.txt record 4",
                "the length field '0000x",
                "not 8 lowercase hex digits",
            ],
        ),
        (
            "id-upper.cab",
            spoil(&|b| set(b, 0, b"ABCDEF")),
            &["metadata.txt record 4", "is not a lowercase GUID"],
        ),
        (
            "id-mismatch.cab",
            spoil(&|b| set(b, 0, b"00000000")),
            &[
                "metadata.txt record 4",
                "but its document's UpdateIdentity says",
            ],
        ),
        (
            "bad-xml.cab",
            spoil(&|b| {
                let at = b.len() - 6;
                set(b, at, b"<");
            }),
            &["metadata.txt record 4"],
        ),
        (
            "not-utf8.cab",
            spoil(&|b| set(b, 60, b"\xff")),
            &["metadata.txt record 4", "not UTF-8"],
        ),
        (
            "duplicate-differs.cab",
            {
                let mut twice = recs.clone();
                let mut other = recs[2].clone();
                other.xml = other.xml.replacen("<upd:Title>", "<upd:Title>X", 1);
                twice.insert(5, other);
                package(&twice, false, CompressionType::MsZip)
            },
            &[
                "metadata.txt record 6",
                "appears again with different content (first in record 3)",
            ],
        ),
        (
            "list-disagrees.cab",
            {
                let mut listed = recs.clone();
                listed.swap(7, 8);
                package_from(
                    &package_xml(&listed),
                    &metadata_txt(&recs),
                    true,
                    CompressionType::MsZip,
                )
            },
            &["package.xml and metadata.txt disagree at record 8"],
        ),
        (
            "list-short.cab",
            package_from(
                &package_xml(&recs[..26]),
                &metadata_txt(&recs),
                true,
                CompressionType::MsZip,
            ),
            &["package.xml lists 26 updates, metadata.txt holds 27 records"],
        ),
        (
            "no-metadata.cab",
            cabinet(
                &[("package.xml", package_xml(&recs))],
                CompressionType::MsZip,
            ),
            &["the member metadata.txt is missing", "package.xml"],
        ),
        (
            "no-package.cab",
            cabinet(
                &[("metadata.txt", metadata_txt(&recs))],
                CompressionType::MsZip,
            ),
            &["the member package.xml is missing"],
        ),
        (
            "damaged.cab",
            {
                let mut b = good.clone();
                let n = b.len();
                b[n - 50] ^= 0x55;
                b
            },
            &[
                "damaged.cab: metadata.txt: damaged CAB data",
                "(while reading metadata.txt record ",
            ],
        ),
        (
            "cut.cab",
            good[..good.len() * 2 / 3].to_vec(),
            &["cut.cab", "truncated"],
        ),
    ];
    for (name, bytes, needles) in cases {
        refused(dir.path(), &s, name, &bytes, 1, needles);
    }
    // An identical duplicate is read once, with a warning naming both records.
    let mut twice = recs.clone();
    twice.insert(5, recs[2].clone());
    let ok = write(
        dir.path(),
        "dup.cab",
        &package(&twice, false, CompressionType::MsZip),
    );
    let r = sync_json(&s, &ok, &[]);
    assert!(
        r["warnings"]
            .to_string()
            .contains("record 6 repeats record 3"),
        "{r}"
    );
}

#[test]
fn gzip_exports_and_foreign_cabinets_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let before = fingerprint(&s);
    let gz = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3];
    for name in ["export.xml.gz", "export.cab"] {
        let path = write(dir.path(), name, &gz);
        let (code, _, err) = run_any(&["sync", "--store", p(&s), "--from", p(&path)]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("only the cabinet form of a WSUS export package is read"),
            "{err}"
        );
        let (code, _, err) = run_any(&["upstream", "set", "--store", p(&s), p(&path)]);
        assert_eq!(code, 2, "{err}");
    }
    let other = write(
        dir.path(),
        "other.cab",
        &cabinet(
            &[
                ("readme.txt", b"hi".to_vec()),
                ("setup.exe", b"MZ".to_vec()),
            ],
            CompressionType::MsZip,
        ),
    );
    let (code, _, err) = run_any(&["sync", "--store", p(&s), "--from", p(&other)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("neither a WSUS export package") && err.contains("readme.txt, setup.exe"),
        "{err}"
    );
    let junk = write(dir.path(), "junk.cab", b"PK\x03\x04 this is a zip file");
    let (code, _, err) = run_any(&["sync", "--store", p(&s), "--from", p(&junk)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not a cabinet"), "{err}");
    // Refused before the sync began: not even a failed run is recorded.
    assert_eq!(fingerprint(&s), before);
}

#[test]
fn the_real_package_reads_completely() {
    let Some(real) = real_data("wsus-export/WSUS.cab") else {
        return;
    };
    let mut up = open(&real).unwrap();
    assert!(
        up.describe().contains("WSUS export package"),
        "{}",
        up.describe()
    );
    let mut records = 0usize;
    let mut ids = HashSet::new();
    let mut non_ascii = 0usize;
    let mut keys = Vec::new();
    let mut documents: Vec<(String, u32, Vec<u8>)> = Vec::new();
    let summary = up
        .scan(
            &mut |item| {
                records += 1;
                match item {
                    ScanItem::Category(c, doc) => {
                        let doc = doc.expect("a package's category has its document");
                        non_ascii += usize::from(!doc.is_ascii());
                        ids.insert(c.id.to_string());
                        documents.push((c.id.to_string(), c.revision, doc));
                    }
                    ScanItem::Update(h) => {
                        ids.insert(h.id.to_string());
                        keys.push(h.key);
                    }
                }
                Ok(())
            },
            &offsync::progress::NoProgress,
        )
        .unwrap();
    up.fetch(
        &keys,
        &mut |f| {
            let doc = f.document.expect("a package's update has its document");
            non_ascii += usize::from(!doc.is_ascii());
            Ok(())
        },
        &offsync::progress::NoProgress,
    )
    .unwrap();
    assert_eq!((records, ids.len(), non_ascii), (4125, 4087, 114));
    assert!(!summary.complete);
    assert!(
        summary.package_id.is_some() && summary.created.is_some(),
        "{summary:?}"
    );

    // A new store synced from it holds its categories, each document byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    let r = sync_json(&s, &real, &[]);
    assert_eq!(r["outcome"], "succeeded", "{r}");
    let store = Store::open(&s).unwrap();
    let cats = json(&["categories", "list", "--store", p(&s), "--json"]);
    let n_cats = cats.as_array().unwrap().len();
    assert!(n_cats > 100, "{n_cats} categories");
    assert_eq!(
        r["upstream_updates"].as_u64().unwrap() as usize + n_cats,
        4087,
        "{r}"
    );
    let mut checked = 0;
    for (id, rev, doc) in &documents {
        if let Some(kept) = store.document(id, *rev).unwrap() {
            assert!(&kept == doc, "{id} revision {rev} changed");
            checked += 1;
        }
    }
    assert_eq!(checked, n_cats);
}
