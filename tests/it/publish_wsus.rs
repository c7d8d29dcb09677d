//! Issue 12, point 1: `publish wsus` writes metadata packages that follow FORMATS.md section 5
//! and the content folder of section 6. The package is read back with the `cab` crate and
//! checked rule by rule against the documents the store was synced from.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

const B0: &str = "4a6dff80-2d3b-4448-9355-3850db95cf32";
const B1: &str = "5f82e7d6-8f63-4f0a-817f-72d40c32c46a";
const B2: &str = "b2e9d8c4-517d-4a80-808e-4f3f12079f01";
const A3: &str = "0d77d490-70ab-455d-ac1c-75887e0993ff";
const D_UTF16: &str = "2845bbc6-2c9e-41fd-ae6e-15d1f8a41e09";

fn publish(store: &Path, out: &Path, extra: &[&str]) -> Value {
    publish_json("wsus", store, out, extra)
}

/// The members of a cabinet, in order, with their bytes.
fn members(cab_path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut c = cab::Cabinet::new(fs::File::open(cab_path).unwrap()).unwrap();
    let names: Vec<String> = c
        .folder_entries()
        .flat_map(|f| {
            f.file_entries()
                .map(|e| e.name().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    names
        .into_iter()
        .map(|n| {
            let mut b = Vec::new();
            c.read_file(&n).unwrap().read_to_end(&mut b).unwrap();
            (n, b)
        })
        .collect()
}

/// One record of metadata.txt as a plain reader of FORMATS.md section 5 reads it.
struct Rec {
    id: String,
    rev_field: String,
    len_field: String,
    xml: String,
}

fn records(meta: &[u8]) -> Vec<Rec> {
    assert_ne!(&meta[..3], b"\xEF\xBB\xBF", "metadata.txt has no BOM");
    let text = std::str::from_utf8(meta).expect("metadata.txt is UTF-8");
    let mut rest = text;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let mut f = rest.splitn(4, ',');
        let (id, rev, len, tail) = (
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
        );
        let units = usize::from_str_radix(len, 16).unwrap();
        let mut taken = 0;
        let mut end = 0;
        for c in tail.chars() {
            if taken == units {
                break;
            }
            taken += c.len_utf16();
            end += c.len_utf8();
        }
        assert_eq!(taken, units, "record {id}: the length runs past the end");
        assert!(
            tail[end..].starts_with("\r\n"),
            "record {id} is not followed by CRLF"
        );
        out.push(Rec {
            id: id.into(),
            rev_field: rev.into(),
            len_field: len.into(),
            xml: tail[..end].to_string(),
        });
        rest = &tail[end + 2..];
    }
    out
}

/// A fixture document as the record must hold it: decoded, BOM and declaration dropped.
pub(crate) fn expected_text(bytes: &[u8]) -> String {
    let text = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.get(1) == Some(&0) {
        let b = bytes.strip_prefix(&[0xFF, 0xFE]).unwrap_or(bytes);
        let units: Vec<u16> = b
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).unwrap()
    } else {
        String::from_utf8(
            bytes
                .strip_prefix(b"\xEF\xBB\xBF")
                .unwrap_or(bytes)
                .to_vec(),
        )
        .unwrap()
    };
    match text.strip_prefix("<?xml") {
        Some(r) => r[r.find("?>").unwrap() + 2..].trim_start().to_string(),
        None => text,
    }
}

/// Fixture documents by lowercase UpdateID.
fn fixture_texts() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(upstream_fixtures()).unwrap() {
        let text = expected_text(&fs::read(e.unwrap().path()).unwrap());
        let at = text.find("UpdateID=\"").unwrap() + 10;
        out.insert(text[at..at + 36].to_ascii_lowercase(), text);
    }
    out
}

fn attr_names(tag: &str) -> Vec<String> {
    tag.split('"')
        .step_by(2)
        .filter_map(|s| {
            s.trim()
                .strip_suffix('=')
                .map(|n| n.rsplit(' ').next().unwrap().to_string())
        })
        .collect()
}

fn cab_in(out: &Path, r: &Value, i: usize) -> PathBuf {
    out.join(r["packages"][i]["name"].as_str().unwrap())
}

#[test]
fn the_package_follows_every_rule_of_formats_section_5() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(dir.path(), "s");
    let out = dir.path().join("pub");
    let r = publish(&store, &out, &[]);
    assert_eq!(r["packages"].as_array().unwrap().len(), 1, "{r}");
    let m = members(&cab_in(&out, &r, 0));
    let names: Vec<&str> = m.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["package.xml", "metadata.txt"]);
    let (pkg, meta) = (&m[0].1, &m[1].1);

    // package.xml: BOM, declaration, one line, root attributes in order, Languages first.
    assert_eq!(&pkg[..3], b"\xEF\xBB\xBF");
    let xml = std::str::from_utf8(&pkg[3..]).unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><ExportPackage "),
        "{xml}"
    );
    assert!(!xml.contains('\n') && !xml.contains("xmlns"));
    let root = &xml[xml.find("<ExportPackage").unwrap()..];
    let root = &root[..root.find('>').unwrap()];
    assert_eq!(
        attr_names(root),
        [
            "ServerID",
            "CreationTime",
            "FormatVersion",
            "ProtocolVersion"
        ]
    );
    assert!(root.contains("FormatVersion=\"1.0\" ProtocolVersion=\"1.20\""));
    let created = root.split("CreationTime=\"").nth(1).unwrap();
    assert_eq!(
        created.find('"'),
        Some(20),
        "yyyy-MM-ddTHH:mm:ssZ: {created}"
    );
    assert!(xml.contains(
        "><Languages><Language Id=\"0\" ShortName=\"all\" LongName=\"all\" Enabled=\"1\" />"
    ));
    let (langs, files, updates) = (
        xml.find("<Languages>").unwrap(),
        xml.find("<Files>").unwrap(),
        xml.find("<Updates>").unwrap(),
    );
    assert!(langs < files && files < updates);

    // metadata.txt: widths, UTF-16 lengths, CRLF, the stored documents, one Update per record.
    let recs = records(meta);
    let fixtures = fixture_texts();
    let mut non_ascii = 0;
    for rec in &recs {
        assert_eq!(rec.id, rec.id.to_ascii_lowercase());
        for f in [&rec.rev_field, &rec.len_field] {
            assert!(
                f.len() == 8
                    && f.chars()
                        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
                "{f}"
            );
        }
        assert_eq!(
            &fixtures[&rec.id], &rec.xml,
            "record {} differs from its document",
            rec.id
        );
        if rec.xml.len() != rec.xml.encode_utf16().count() {
            non_ascii += 1;
        }
        assert!(!rec.xml.starts_with("<?xml"));
    }
    assert!(non_ascii >= 3, "non-ASCII records: {non_ascii}");
    assert!(
        recs.iter().any(|r| r.id == D_UTF16),
        "the UTF-16 document with a declaration is published"
    );
    let update_ids: Vec<String> = xml
        .split("<Update UpdateId=\"")
        .skip(1)
        .map(|s| s[..36].to_string())
        .collect();
    let rec_ids: Vec<String> = recs.iter().map(|r| r.id.clone()).collect();
    assert_eq!(update_ids, rec_ids);
    let rev_of = |s: &str| {
        s.split("RevisionNumber=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    for (seg, rec) in xml.split("<Update UpdateId=\"").skip(1).zip(&recs) {
        assert_eq!(
            rev_of(seg),
            u32::from_str_radix(&rec.rev_field, 16).unwrap()
        );
    }

    // Order: the 12 categories first (companies, families, products, classifications), then
    // updates, each bundle's children before it.
    assert_eq!(r["packages"][0]["categories"], 12);
    let pos = |id: &str| rec_ids.iter().position(|x| x == id).unwrap();
    assert_eq!(
        &rec_ids[0], "56309036-4c77-4dd9-951a-99ee9c246a94",
        "the company first"
    );
    assert!(pos(B1) < pos(B0) && pos(B2) < pos(B0));
    let seg_of = |id: &str| {
        xml.split(&format!("<Update UpdateId=\"{id}\""))
            .nth(1)
            .unwrap()
            .split("</Update>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(seg_of(&rec_ids[0]).contains("<Files /><Categories /><Classifications />"));
    let b1 = seg_of(B1);
    assert!(
        b1.contains("<Files><File Digest=\"hjQ+d9HtcWWhYmO2AlSRl6uflKg=\" /></Files>"),
        "{b1}"
    );
    let b0 = seg_of(B0);
    assert!(
        b0.contains("<Files /><Categories><Category Value=\"72e7624a-5b00-45d2-b92f-e561c0a6a160\" /></Categories><Classifications><Classification Value=\"0fa1201d-4330-4fa8-8ae9-b877473b6441\" /></Classifications>"),
        "{b0}"
    );
    assert!(xml.contains("<File Digest=\"hjQ+d9HtcWWhYmO2AlSRl6uflKg=\" Name=\"windows11.0-kb5034765-x64_86343e77d1ed7165a16263b602549197ab9f94a8.cab\" />"));
    // A file whose payload the store lacks is still listed.
    assert!(xml.contains("windows10.0-kb5035845-x64_19ecf7a1440c3bf7c2786edae61ccb19fe8c60c6.msu"));
    // The detectoid the bundle needs was selected with it by the sync: published as a
    // detectoid after the categories and before the bundle; the detectoid it needs in turn is
    // not in the upstream, so it is listed as missing.
    const DETECTOID: &str = "e603851b-317c-4304-8805-2ce1f4e47f0f";
    assert_eq!(r["packages"][0]["detectoids"], 1, "{r}");
    assert!(pos(DETECTOID) > 11 && pos(DETECTOID) < pos(B0));
    let missing = r["missing_documents"].to_string();
    assert!(!missing.contains(DETECTOID), "{missing}");
    assert!(
        missing.contains("59653007-e2e9-4f71-8525-2ff588527978"),
        "{missing}"
    );
    assert_eq!(
        fs::read(out.join("publish.json"))
            .map(|b| serde_json::from_slice::<Value>(&b).unwrap())
            .unwrap(),
        r
    );
    let readme = fs::read_to_string(out.join("README.txt")).unwrap();
    assert!(
        readme.contains(&format!(
            "wsusutil.exe import <this folder>\\offsync-s-{}-1.cab",
            r["change_sequence"]
        )),
        "{readme}"
    );
    assert!(
        readme.contains("not been tried against every WSUS version")
            && readme.contains("wsusutil.exe reset")
    );
}

/// (relative path, SHA-1 hex) of every file under WsusContent.
fn content_tree(out: &Path) -> BTreeMap<String, (String, u64)> {
    let mut m = BTreeMap::new();
    for b in fs::read_dir(out.join("WsusContent")).unwrap() {
        let b = b.unwrap();
        for f in fs::read_dir(b.path()).unwrap() {
            let f = f.unwrap();
            let bytes = fs::read(f.path()).unwrap();
            let sha1 = {
                use sha1::Digest;
                hex::encode_upper(sha1::Sha1::digest(&bytes))
            };
            let mtime = f
                .metadata()
                .unwrap()
                .modified()
                .unwrap()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64;
            m.insert(
                format!(
                    "{}/{}",
                    b.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                ),
                (sha1, mtime),
            );
        }
    }
    m
}

#[test]
fn content_is_laid_out_checked_idempotent_pruned_and_damage_is_not_published() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_store(dir.path(), "s");
    let out = dir.path().join("pub");
    let r = publish(&store, &out, &[]);
    assert_eq!(
        r["content"]["linked"].as_u64().unwrap() + r["content"]["copied"].as_u64().unwrap(),
        9,
        "{r}"
    );
    assert_eq!(r["content"]["missing"], 1);
    let tree = content_tree(&out);
    assert_eq!(tree.len(), 9);
    for (rel, (sha1, _)) in &tree {
        let (bucket, name) = rel.split_once('/').unwrap();
        let (hex, ext) = name.split_once('.').unwrap();
        assert_eq!(hex, sha1, "the name is the SHA-1 in uppercase");
        assert_eq!(bucket, &hex[38..], "the folder is the last two digits");
        assert!(["cab", "msu", "exe"].contains(&ext), "{rel}");
    }
    assert!(tree.contains_key("A8/86343E77D1ED7165A16263B602549197AB9F94A8.cab"));

    // A second run rewrites nothing.
    let r2 = publish(&store, &out, &["--full"]);
    assert_eq!(r2["content"]["unchanged"], 9, "{r2}");
    assert_eq!(r2["content"]["bytes_written"], 0);
    assert_eq!(content_tree(&out), tree);

    // --prune removes only content-named files no selected update references.
    let stray = out
        .join("WsusContent/AB")
        .join(format!("{}.cab", "AB".repeat(20)));
    fs::create_dir_all(stray.parent().unwrap()).unwrap();
    fs::write(&stray, b"x").unwrap();
    let other = out.join("WsusContent/AB/notes.txt");
    fs::write(&other, b"keep").unwrap();
    let r3 = publish(&store, &out, &["--full"]);
    assert_eq!(r3["content"]["pruned"], 0);
    assert!(stray.exists());
    let r4 = publish(&store, &out, &["--full", "--prune"]);
    assert_eq!(r4["content"]["pruned"], 1, "{r4}");
    assert!(!stray.exists() && other.exists());
    assert_eq!(content_tree(&out).len(), 10); // the 9 files and notes.txt
    // A linked bucket is not followed: the file it leads to stays.
    #[cfg(unix)]
    {
        let outside = dir.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        let victim = outside.join(format!("{}.cab", "CD".repeat(20)));
        fs::write(&victim, b"not ours").unwrap();
        std::os::unix::fs::symlink(&outside, out.join("WsusContent/CD")).unwrap();
        let r = publish(&store, &out, &["--full", "--prune"]);
        assert_eq!(r["content"]["pruned"], 0, "{r}");
        assert!(victim.exists());
        fs::remove_file(out.join("WsusContent/CD")).unwrap();
    }

    // A damaged store copy (same size, other bytes) is not published.
    let name = "A8/86343E77D1ED7165A16263B602549197AB9F94A8.cab";
    let published = out.join("WsusContent").join(name);
    let src = stored_source(
        &store,
        "windows11.0-kb5034765-x64_86343e77d1ed7165a16263b602549197ab9f94a8.cab",
    );
    fs::remove_file(&published).unwrap();
    let mut bytes = fs::read(&src).unwrap();
    bytes[100] ^= 0xff;
    fs::remove_file(&src).unwrap();
    fs::write(&src, &bytes).unwrap();
    let r5 = publish(&store, &out, &["--full"]);
    assert_eq!(r5["content"]["damaged"], 1, "{r5}");
    assert!(!published.exists());
    assert!(
        r5["content"]["damaged_files"]
            .to_string()
            .contains("kb5034765")
    );
}

/// The store's copy of the fixture content file `name`.
fn stored_source(store: &Path, name: &str) -> PathBuf {
    let bytes = fs::read(content_fixtures().join(name)).unwrap();
    stored_path(store, &sha_hex(&bytes))
}

#[test]
fn since_last_publishes_only_what_changed_and_a_small_limit_splits() {
    let dir = tempfile::tempdir().unwrap();
    let up = dir.path().join("up");
    copy_tree(&upstream_fixtures(), &up);
    let store = synced_from(
        dir.path(),
        "s",
        &up,
        &[
            "--product",
            "Windows",
            "--classification",
            "Security Updates",
            "--classification",
            "Updates",
            "--classification",
            "Critical Updates",
        ],
    );
    let out = dir.path().join("pub");
    let first = publish(&store, &out, &[]);
    assert_eq!(first["mode"], "full");

    // A new revision of a3 upstream.
    let a3 = up.join("update-a3-win10-2024-03-kb5035845.xml");
    let text = fs::read_to_string(&a3)
        .unwrap()
        .replace("RevisionNumber=\"201\"", "RevisionNumber=\"202\"");
    fs::write(&a3, text).unwrap();
    run(&["sync", "--store", p(&store), "--from", p(&up)], 0);
    let second = publish(&store, &out, &[]);
    assert_eq!(second["mode"], "since-last", "{second}");
    let published: Vec<(String, String)> = second["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let updates: Vec<&str> = published
        .iter()
        .filter(|(_, k)| k == "update")
        .map(|(i, _)| i.as_str())
        .collect();
    assert_eq!(updates, [A3], "{second}");
    // Complete for it: its product, classification and their parents.
    let cats: Vec<&str> = published
        .iter()
        .filter(|(_, k)| k == "category")
        .map(|(i, _)| i.as_str())
        .collect();
    for c in [
        "a3c2375d-0c8a-42f9-bce0-28333e198407",
        "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d",
        "56309036-4c77-4dd9-951a-99ee9c246a94",
    ] {
        assert!(cats.contains(&c), "{c} in {cats:?}");
    }
    let recs = records(&members(&cab_in(&out, &second, 0))[1].1);
    assert_eq!(recs.last().unwrap().rev_field, "000000ca");
    // Nothing changed: no package; content taken in since then is laid out all the same.
    run(
        &[
            "content",
            "import",
            "--store",
            p(&store),
            p(&content_fixtures()),
        ],
        0,
    );
    let third = publish(&store, &out, &[]);
    assert_eq!(third["records"], 0, "{third}");
    assert_eq!(third["packages"], serde_json::json!([]));
    // Each publish's packages keep their own names: none is overwritten or removed.
    assert_ne!(first["packages"][0]["name"], second["packages"][0]["name"]);
    assert!(cab_in(&out, &first, 0).is_file() && cab_in(&out, &second, 0).is_file());
    assert!(
        third["content"]["linked"].as_u64().unwrap() + third["content"]["copied"].as_u64().unwrap()
            > 0,
        "{third}"
    );
    assert_eq!(third["content"]["unchanged"], 0, "{third}");

    // A small limit splits into numbered packages, each under it unless one record alone.
    let split = dir.path().join("split");
    let r = publish(&store, &split, &["--max-package-size", "20K"]);
    let pk = r["packages"].as_array().unwrap();
    assert!(pk.len() >= 3, "{r}");
    let mut total = 0;
    for (i, p) in pk.iter().enumerate() {
        assert_eq!(
            p["name"],
            format!("offsync-s-{}-{}.cab", r["change_sequence"], i + 1)
        );
        assert!(
            p["uncompressed_bytes"].as_u64().unwrap() <= 20 * 1024 || p["records"] == 1,
            "{p}"
        );
        let m = members(&split.join(p["name"].as_str().unwrap()));
        assert_eq!(
            m[1].1.len() as u64 + m[0].1.len() as u64,
            p["uncompressed_bytes"].as_u64().unwrap()
        );
        total += records(&m[1].1).len();
    }
    assert_eq!(total as u64, r["records"].as_u64().unwrap());
    assert_eq!(total as u64, first["records"].as_u64().unwrap());
}

#[test]
fn updates_from_the_offline_catalog_are_left_out_with_their_content_laid_out() {
    let dir = tempfile::tempdir().unwrap();
    let cab_path = dir.path().join("wsusscn2.cab");
    fs::write(&cab_path, crate::wsusscn2::test_catalog()).unwrap();
    let store = init_store(dir.path(), "c");
    run(&["sync", "--store", p(&store), "--from", p(&cab_path)], 0);
    set_criteria(
        &store,
        &[
            "--product",
            "Windows",
            "--classification",
            "Security Updates",
            "--classification",
            "Critical Updates",
        ],
    );
    run(&["sync", "--store", p(&store), "--from", p(&cab_path)], 0);
    let payload = dir.path().join("payload");
    fs::create_dir_all(&payload).unwrap();
    fs::write(payload.join("windows10.0-kb5034763-x64.msu"), b"payload").unwrap();
    run(&["content", "import", "--store", p(&store), p(&payload)], 0);
    let out = dir.path().join("pub");
    let r = publish(&store, &out, &[]);
    let left = r["left_out"].as_array().unwrap();
    assert_eq!(left.len(), 4, "{r}");
    assert!(
        left.iter()
            .all(|l| l["reason"].as_str().unwrap().contains("wsusscn2.cab"))
    );
    // Its categories have no documents either: no package at all, and they are listed.
    assert_eq!(r["packages"], serde_json::json!([]), "{r}");
    assert_eq!(r["missing_documents"].as_array().unwrap().len(), 7, "{r}");
    assert!(
        out.join("WsusContent/DF/F07E5A815613C5ABEDDC4B682247A4C42D8A95DF.msu")
            .is_file(),
        "{r}"
    );
}

#[test]
fn with_source_date_epoch_the_same_store_publishes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = synced_from(
        dir.path(),
        "s",
        &upstream_fixtures(),
        &[
            "--product",
            "Windows 11",
            "--classification",
            "Security Updates",
        ],
    );
    let mut cabs = Vec::new();
    for name in ["one", "two"] {
        let out = dir.path().join(name);
        let o = offsync()
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args([
                "publish",
                "wsus",
                "--store",
                p(&store),
                "--out",
                p(&out),
                "--json",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["created"], "2023-11-14T22:13:20Z");
        cabs.push(fs::read(cab_in(&out, &r, 0)).unwrap());
    }
    assert!(cabs[0] == cabs[1], "two publishes at one time differ");
    let pkg = String::from_utf8(members_of(&cabs[0])).unwrap();
    assert!(
        pkg.contains("CreationTime=\"2023-11-14T22:13:20Z\""),
        "{pkg}"
    );
}

/// package.xml of a cabinet held in memory.
fn members_of(cab_bytes: &[u8]) -> Vec<u8> {
    let mut c = cab::Cabinet::new(std::io::Cursor::new(cab_bytes)).unwrap();
    let mut b = Vec::new();
    c.read_file("package.xml")
        .unwrap()
        .read_to_end(&mut b)
        .unwrap();
    b
}
