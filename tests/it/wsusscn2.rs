//! Sync from Microsoft's offline scan catalog (`wsusscn2.cab`): a small catalog written here
//! with the `cab` crate in the real nesting (namespace on the root, MSZIP-compressed inner
//! CABs, several fragment CABs chosen by RANGESTART), and the real structure sample when the
//! shared real-data folder is there (it must be under `OFFSYNC_REQUIRE_REAL_DATA=1`).

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

const MICROSOFT: &str = "56309036-4c77-4dd9-951a-99ee9c246a94";
const WINDOWS: &str = "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d";
const WIN10: &str = "a3c2375d-0c8a-42f9-bce0-28333e198407";
const WIN11: &str = "72e7624a-5b00-45d2-b92f-e561c0a6a160";
const OFFICE2016: &str = "25aed893-7c2d-4a31-ae22-28ff8ac150ed";
const SECURITY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
const CRITICAL: &str = "e6cf1350-c01b-414d-a61f-263d14d133b4";

/// Updates of the test catalog.
const JAN: &str = "1d956cd9-8a3f-44d7-8ccb-031ebc0ba36b";
const FEB: &str = "e407d852-ae7d-4e0c-bb94-1180bc5b90e7";
const FEB_CHILD: &str = "5f82e7d6-8f63-4f0a-817f-72d40c32c46a";
const WIN11_CRIT: &str = "05a7711a-079e-4fbb-8d1a-9015c92a2ae0";
const OFFICE: &str = "0a51549b-4e86-4a26-97d4-9e3567f24ea1";

/// The payload of FEB_CHILD: SHA-1 and SHA-256 of b"payload".
const SHA1_B64: &str = "8H5agVYTxavt3EtoIkekxC2Kld8=";
const SHA1_HEX: &str = "f07e5a815613c5abeddc4b682247a4c42d8a95df";
const SHA256_B64: &str = "I59Z7VXnN8dxR89VrQwbAwttfudIp0JpUvm4UtWpNeU=";
const SHA256_HEX: &str = "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5";
const URL: &str = "http://download.windowsupdate.com/c/msdownload/update/software/secu/2024/02/windows10.0-kb5034763-x64.msu";

/// How to spoil a catalog.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Spoil {
    None,
    /// index.xml lists package4.cab but the outer CAB lacks it.
    MissingInnerCab,
    /// The extended fragment of WIN11_CRIT is left out.
    MissingFragment,
    /// package.xml is cut in the middle of an element.
    MalformedPackageXml,
    /// The English fragment of WIN11_CRIT is not XML.
    MalformedFragment,
    /// The fragment CAB of WIN11_CRIT holds a member called `..\..\evil`.
    DotDotName,
    /// The outer CAB holds a member called `..\evil.cab`.
    DotDotOuter,
}

struct Options<'a> {
    created: Option<&'a str>,
    package_id: Option<&'a str>,
    /// Updates left out (a newer catalog where they expired).
    without: &'a [&'a str],
    spoil: Spoil,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            created: Some("2024-03-12T10:00:00Z"),
            package_id: Some("8a5f1e2c-0000-4000-8000-000000000001"),
            without: &[],
            spoil: Spoil::None,
        }
    }
}

/// Writes a cabinet of one MSZIP folder.
pub(crate) fn cab(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = cab::CabinetBuilder::new();
    let folder = b.add_folder(cab::CompressionType::MsZip);
    for (name, _) in files {
        folder.add_file(name.as_str());
    }
    let mut w = b.build(Cursor::new(Vec::new())).unwrap();
    let mut k = 0;
    while let Some(mut f) = w.next_file().unwrap() {
        f.write_all(&files[k].1).unwrap();
        k += 1;
    }
    w.finish().unwrap().into_inner()
}

struct Cat {
    id: &'static str,
    revid: u32,
    kind: &'static str,
    title: &'static str,
    parent: Option<&'static str>,
}

struct Upd {
    id: &'static str,
    revid: u32,
    revision: u32,
    kb: &'static str,
    severity: &'static str,
    title: &'static str,
    /// (type, id) as `Categories/Category`.
    cats: &'static [(&'static str, &'static str)],
    superseded_by: &'static [u32],
    bundled_by: Option<u32>,
    file: bool,
}

const CATS: [Cat; 7] = [
    Cat {
        id: MICROSOFT,
        revid: 101,
        kind: "Company",
        title: "Microsoft",
        parent: None,
    },
    Cat {
        id: WINDOWS,
        revid: 102,
        kind: "ProductFamily",
        title: "Windows",
        parent: Some(MICROSOFT),
    },
    Cat {
        id: WIN10,
        revid: 103,
        kind: "Product",
        title: "Windows 10",
        parent: Some(WINDOWS),
    },
    Cat {
        id: WIN11,
        revid: 104,
        kind: "Product",
        title: "Windows 11",
        parent: Some(WINDOWS),
    },
    Cat {
        id: OFFICE2016,
        revid: 105,
        kind: "Product",
        title: "Office 2016",
        parent: Some(MICROSOFT),
    },
    Cat {
        id: SECURITY,
        revid: 106,
        kind: "UpdateClassification",
        title: "Security Updates",
        parent: None,
    },
    Cat {
        id: CRITICAL,
        revid: 107,
        kind: "UpdateClassification",
        title: "Critical Updates",
        parent: None,
    },
];

const WIN10_SEC: &[(&str, &str)] = &[
    ("Company", MICROSOFT),
    ("ProductFamily", WINDOWS),
    ("Product", WIN10),
    ("UpdateClassification", SECURITY),
];

const UPDS: [Upd; 5] = [
    Upd {
        id: JAN,
        revid: 300_100,
        revision: 200,
        kb: "5034122",
        severity: "Important",
        title: "2024-01 Cumulative Update for Windows 10 (KB5034122)",
        cats: WIN10_SEC,
        superseded_by: &[300_200],
        bundled_by: None,
        file: false,
    },
    Upd {
        id: FEB,
        revid: 300_200,
        revision: 200,
        kb: "5034763",
        severity: "Critical",
        title: "2024-02 Cumulative Update for Windows 10 (KB5034763)",
        cats: WIN10_SEC,
        superseded_by: &[],
        bundled_by: None,
        file: false,
    },
    Upd {
        id: FEB_CHILD,
        revid: 300_201,
        revision: 200,
        kb: "5034763",
        severity: "",
        title: "2024-02 Cumulative Update for Windows 10 (KB5034763) - component",
        cats: &[],
        superseded_by: &[],
        bundled_by: Some(300_200),
        file: true,
    },
    Upd {
        id: WIN11_CRIT,
        revid: 400_500,
        revision: 201,
        kb: "5035845",
        severity: "Critical",
        title: "2024-03 Update for Windows 11 (KB5035845)",
        cats: &[("Product", WIN11), ("UpdateClassification", CRITICAL)],
        superseded_by: &[],
        bundled_by: None,
        file: false,
    },
    Upd {
        id: OFFICE,
        revid: 400_600,
        revision: 100,
        kb: "5002537",
        severity: "Important",
        title: "Security Update for Office 2016 (KB5002537)",
        cats: &[("Product", OFFICE2016), ("UpdateClassification", SECURITY)],
        superseded_by: &[],
        bundled_by: None,
        file: false,
    },
];

/// The catalog as bytes.
fn catalog(o: &Options<'_>) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<OfflineSyncPackage xmlns=\"http://schemas.microsoft.com/msus/2004/02/OfflineSync\"",
    );
    if let Some(p) = o.package_id {
        xml += &format!(" PackageId=\"{p}\"");
    }
    if let Some(c) = o.created {
        xml += &format!(" CreationDate=\"{c}\"");
    }
    xml += " PackageVersion=\"1.1\">\n  <Updates>\n";
    // RevisionId → fragments.
    let mut frags: BTreeMap<u32, Vec<(String, String)>> = BTreeMap::new();
    for c in &CATS {
        let pre = c
            .parent
            .map(|p| format!("<Prerequisites><UpdateId Id=\"{p}\" /></Prerequisites>"))
            .unwrap_or_default();
        xml += &format!(
            "    <Update CreationDate=\"2003-01-01T00:00:00Z\" DefaultLanguage=\"en\" UpdateId=\"{}\" RevisionNumber=\"1\" RevisionId=\"{}\" IsSoftware=\"false\" DeploymentAction=\"Evaluate\">{pre}</Update>\n",
            c.id, c.revid
        );
        let rel = c
            .parent
            .map(|p| format!("<Relationships><Prerequisites><AtLeastOne IsCategory=\"true\"><UpdateIdentity UpdateID=\"{p}\" /></AtLeastOne></Prerequisites></Relationships>"))
            .unwrap_or_default();
        frags.insert(
            c.revid,
            vec![
                (format!("c\\{}", c.revid), format!("<UpdateIdentity UpdateID=\"{}\" RevisionNumber=\"1\" /><Properties UpdateType=\"Category\" />{rel}", c.id)),
                (format!("x\\{}", c.revid), format!("<ExtendedProperties DefaultPropertiesLanguage=\"en\" /><HandlerSpecificData type=\"cat:Category\"><CategoryInformation CategoryType=\"{}\" /></HandlerSpecificData>", c.kind)),
                (format!("l\\en\\{}", c.revid), format!("<LocalizedProperties><Language>en</Language><Title>{}</Title></LocalizedProperties>", c.title)),
            ],
        );
    }
    for u in UPDS.iter().filter(|u| !o.without.contains(&u.id)) {
        xml += &format!(
            "    <Update CreationDate=\"2024-02-13T18:00:00Z\" DefaultLanguage=\"en\" UpdateId=\"{}\" RevisionNumber=\"{}\" RevisionId=\"{}\"{}>\n",
            u.id,
            u.revision,
            u.revid,
            if u.bundled_by.is_some() {
                " IsLeaf=\"true\""
            } else {
                " IsBundle=\"true\""
            }
        );
        xml += "      <Prerequisites><UpdateId Id=\"59653007-e2e9-4f71-8525-2ff588527978\" /></Prerequisites>\n";
        if !u.cats.is_empty() {
            xml += "      <Categories>";
            for (t, id) in u.cats {
                xml += &format!("<Category Type=\"{t}\" Id=\"{id}\" />");
            }
            xml += "</Categories>\n";
        }
        if u.file {
            xml += &format!("      <PayloadFiles><File Id=\"{SHA1_B64}\" /></PayloadFiles>\n");
        }
        if let Some(p) = u.bundled_by {
            xml += &format!("      <BundledBy><Revision Id=\"{p}\" /></BundledBy>\n");
        }
        let newer: Vec<&u32> = u
            .superseded_by
            .iter()
            .filter(|r| {
                UPDS.iter()
                    .any(|x| x.revid == **r && !o.without.contains(&x.id))
            })
            .collect();
        if !newer.is_empty() {
            xml += "      <SupersededBy>";
            for r in newer {
                xml += &format!("<Revision Id=\"{r}\" />");
            }
            xml += "</SupersededBy>\n";
        }
        xml += "    </Update>\n";
        let sev = if u.severity.is_empty() {
            String::new()
        } else {
            format!(" MsrcSeverity=\"{}\"", u.severity)
        };
        let files = if u.file {
            format!(
                "<Files><File Digest=\"{SHA1_B64}\" DigestAlgorithm=\"SHA1\" FileName=\"windows10.0-kb5034763-x64.msu\" Size=\"7\" Modified=\"2024-02-09T10:00:00Z\"><AdditionalDigest Algorithm=\"SHA256\">{SHA256_B64}</AdditionalDigest></File></Files>"
            )
        } else {
            String::new()
        };
        let mut f = vec![
            (
                format!("c\\{}", u.revid),
                format!(
                    "<UpdateIdentity UpdateID=\"{}\" RevisionNumber=\"{}\" /><Properties UpdateType=\"Software\" ExplicitlyDeployable=\"true\" />",
                    u.id, u.revision
                ),
            ),
            (
                format!("x\\{}", u.revid),
                format!(
                    "<ExtendedProperties DefaultPropertiesLanguage=\"en\"{sev}><KBArticleID>{}</KBArticleID></ExtendedProperties>{files}",
                    u.kb
                ),
            ),
            (
                format!("l\\en\\{}", u.revid),
                format!(
                    "<LocalizedProperties><Language>en</Language><Title>{}</Title><Description>Install this update &amp; restart.</Description></LocalizedProperties>",
                    u.title
                ),
            ),
            (
                format!("l\\de\\{}", u.revid),
                format!(
                    "<LocalizedProperties><Language>de</Language><Title>DE: {}</Title></LocalizedProperties>",
                    u.title
                ),
            ),
        ];
        if u.id == WIN11_CRIT && o.spoil == Spoil::MissingFragment {
            f.retain(|(n, _)| !n.starts_with("x\\"));
        }
        if u.id == WIN11_CRIT && o.spoil == Spoil::MalformedFragment {
            f[2].1 = "<LocalizedProperties><Language>en</Language><Title>broken</Titel></LocalizedProperties>".into();
        }
        frags.insert(u.revid, f);
    }
    xml += &format!(
        "  </Updates>\n  <FileLocations>\n    <FileLocation Id=\"{SHA1_B64}\" Url=\"{URL}\" />\n  </FileLocations>\n</OfflineSyncPackage>\n"
    );
    if o.spoil == Spoil::MalformedPackageXml {
        let cut = xml.find("<FileLocations>").unwrap();
        xml = format!(
            "{}<FileLocations><FileLocation Id=\"x\" Url=\"y\"></Updates></OfflineSyncPackage>",
            &xml[..cut]
        );
    }

    // Fragment CABs by RANGESTART: categories and January; February; March.
    let ranges = [
        (0u32, "package2.cab"),
        (300_150, "package3.cab"),
        (400_000, "package4.cab"),
    ];
    let mut outer = vec![
        ("index.xml".to_string(), Vec::new()),
        (
            "package.cab".to_string(),
            cab(&[("package.xml".to_string(), xml.into_bytes())]),
        ),
    ];
    let mut index =
        String::from("<INDEX VERSION=\"1\"><CABLIST XOR=\"0\"><CAB NAME=\"package.cab\" />");
    for (k, (start, name)) in ranges.iter().enumerate() {
        index += &format!("<CAB NAME=\"{name}\" RANGESTART=\"{start}\" />");
        let end = ranges.get(k + 1).map_or(u32::MAX, |r| r.0);
        let mut members: Vec<(String, Vec<u8>)> = frags
            .range(start..&end)
            .flat_map(|(_, f)| f.iter().map(|(n, c)| (n.clone(), c.clone().into_bytes())))
            .collect();
        if k == 2 && o.spoil == Spoil::DotDotName {
            members.push(("..\\..\\evil".into(), b"<x/>".to_vec()));
        }
        members.sort();
        if !(o.spoil == Spoil::MissingInnerCab && *name == "package4.cab") {
            outer.push((name.to_string(), cab(&members)));
        }
    }
    index += "</CABLIST></INDEX>";
    outer[0].1 = index.into_bytes();
    if o.spoil == Spoil::DotDotOuter {
        outer.push(("..\\evil.cab".into(), b"MSCF".to_vec()));
    }
    cab(&outer)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn counts(r: &Value) -> [u64; 4] {
    ["new", "updated", "expired", "unchanged"]
        .map(|k| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}")))
}

/// The criteria of [`synced_n`]'s stores: Windows, security and critical updates.
const BROAD: &[&str] = &[
    "--product",
    "Windows",
    "--classification",
    "Security Updates",
    "--classification",
    "Critical Updates",
];

/// A store with broad criteria, synced once from `cab_path`, which has `n` updates to take.
fn synced_n(dir: &Path, cab_path: &Path, n: u64) -> PathBuf {
    let s = init_store(dir, "s");
    run(&["sync", "--store", p(&s), "--from", p(cab_path)], 0);
    set_criteria(&s, BROAD);
    let r = sync_json(&s, cab_path, &[]);
    assert_eq!(counts(&r), [n, 0, 0, 0], "{r}");
    s
}

fn synced(dir: &Path, cab_path: &Path) -> PathBuf {
    synced_n(dir, cab_path, 4)
}

/// Every table but the sync history (a failed sync is recorded there, on purpose).
fn state(store: &Path) -> BTreeMap<String, Vec<String>> {
    let mut f = fingerprint(store);
    f.remove("sync_runs");
    f
}

#[test]
fn a_catalog_syncs_with_titles_relations_files_and_urls() {
    let dir = tempfile::tempdir().unwrap();
    let c = write(dir.path(), "wsusscn2.cab", &catalog(&Options::default()));
    let s = init_store(dir.path(), "s");
    let sp = p(&s);

    let r = sync_json(&s, &c, &[]);
    assert_eq!(r["categories"], 7, "{r}");
    assert_eq!(r["upstream_updates"], 5);
    let cats = json(&["categories", "list", "--store", sp, "--json"]);
    let cat = |id: &str| {
        cats.as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {cats}"))
            .clone()
    };
    assert_eq!(
        (cat(WIN10)["title"].as_str(), cat(WIN10)["kind"].as_str()),
        (Some("Windows 10"), Some("product"))
    );
    assert_eq!(cat(WIN10)["parent"], WINDOWS);
    assert_eq!(
        (
            cat(WINDOWS)["kind"].as_str(),
            cat(WINDOWS)["parent"].as_str()
        ),
        (Some("product_family"), Some(MICROSOFT))
    );
    assert_eq!(cat(CRITICAL)["kind"], "classification");

    set_criteria(&s, BROAD);
    let r = sync_json(&s, &c, &[]);
    assert_eq!(counts(&r), [4, 0, 0, 0], "{r}");
    assert_eq!(
        r["selected"], 4,
        "the Office update is not selected; the bundled child is"
    );

    let show = |id: &str| json(&["updates", "show", "--store", sp, id, "--json"]);
    let feb = show(FEB);
    assert_eq!(
        feb["title"],
        "2024-02 Cumulative Update for Windows 10 (KB5034763)"
    );
    assert_eq!(
        feb["titles"]["de"],
        "DE: 2024-02 Cumulative Update for Windows 10 (KB5034763)"
    );
    assert_eq!(feb["description"], "Install this update & restart.");
    assert_eq!(
        (feb["kb"].as_str(), feb["severity"].as_str()),
        (Some("5034763"), Some("Critical"))
    );
    assert_eq!(
        feb["supersedes"][0]["update_id"], JAN,
        "SupersededBy of January, inverted"
    );
    assert_eq!(
        feb["bundled"][0]["update_id"], FEB_CHILD,
        "BundledBy of the child, inverted"
    );
    let cats: Vec<&str> = feb["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        cats.contains(&WIN10) && cats.contains(&SECURITY),
        "{cats:?}"
    );
    // The catalog can be the store's upstream, like any source.
    let out = run(&["upstream", "set", "--store", sp, p(&c)], 0);
    assert!(
        out.contains("wsusscn2") && out.contains("wsusscn2.cab"),
        "{out}"
    );
    let r = json(&["sync", "--store", sp, "--json"]);
    assert_eq!(counts(&r), [0, 0, 0, 4], "{r}");
    let jan = show(JAN);
    assert_eq!(jan["superseded"], true);
    assert_eq!(jan["superseded_by"][0]["update_id"], FEB);
    let child = show(FEB_CHILD);
    assert_eq!(child["bundled_by"][0]["update_id"], FEB);
    let f = &child["files"][0];
    assert_eq!(
        (f["name"].as_str(), f["size"].as_u64()),
        (Some("windows10.0-kb5034763-x64.msu"), Some(7))
    );
    assert_eq!(
        (f["sha1"].as_str(), f["sha256"].as_str()),
        (Some(SHA1_HEX), Some(SHA256_HEX))
    );
    if let Some(url) = f.get("url") {
        assert_eq!(url, URL);
    }
    // The download address is kept with the file reference (the store's document).
    let store = offsync::store::Store::open_readonly(&s).unwrap();
    let (u, _, _) = store.load_update(FEB_CHILD).unwrap().unwrap();
    assert_eq!(u.files[0].url.as_deref(), Some(URL));
    let w11 = show(WIN11_CRIT);
    assert_eq!(
        (w11["kb"].as_str(), w11["revision"].as_u64()),
        (Some("5035845"), Some(201))
    );

    // The catalog's identity is recorded with the run.
    let last = store.last_sync().unwrap().unwrap();
    assert_eq!(
        last.package_id.as_deref(),
        Some("8a5f1e2c-0000-4000-8000-000000000001")
    );
    assert_eq!(
        last.package_created.as_deref(),
        Some("2024-03-12T10:00:00Z")
    );
    assert!(last.source.contains("wsusscn2.cab"), "{}", last.source);
}

#[test]
fn an_unchanged_catalog_resyncs_without_fetching() {
    let dir = tempfile::tempdir().unwrap();
    let c = write(dir.path(), "wsusscn2.cab", &catalog(&Options::default()));
    let s = synced(dir.path(), &c);
    let before = state(&s);
    let r = sync_json(&s, &c, &[]);
    assert_eq!(counts(&r), [0, 0, 0, 4], "{r}");
    assert_eq!(r["categories"], 0);
    assert_eq!(state(&s), before);
}

#[test]
fn a_newer_catalog_without_an_update_expires_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = write(dir.path(), "a.cab", &catalog(&Options::default()));
    let s = synced(dir.path(), &c);
    let newer = Options {
        created: Some("2024-04-09T10:00:00Z"),
        without: &[WIN11_CRIT],
        ..Default::default()
    };
    let c2 = write(dir.path(), "b.cab", &catalog(&newer));
    let r = sync_json(&s, &c2, &[]);
    assert_eq!(counts(&r), [0, 0, 1, 3], "{r}");
    let rows = json(&["updates", "list", "--store", p(&s), "--json"]);
    let state_of = |id: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["update_id"] == id)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state_of(WIN11_CRIT), "expired");
    assert_eq!(state_of(FEB), "published");
    let last = offsync::store::Store::open_readonly(&s)
        .unwrap()
        .last_sync()
        .unwrap()
        .unwrap();
    assert_eq!(
        last.package_created.as_deref(),
        Some("2024-04-09T10:00:00Z")
    );
}

#[test]
fn an_older_catalog_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let c = write(dir.path(), "new.cab", &catalog(&Options::default()));
    let s = synced(dir.path(), &c);
    let before = state(&s);
    let older = Options {
        created: Some("2024-02-13T10:00:00Z"),
        without: &[WIN11_CRIT],
        ..Default::default()
    };
    let old = write(dir.path(), "old.cab", &catalog(&older));
    let (code, _, err) = run_any(&["sync", "--store", p(&s), "--from", p(&old)]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("2024-02-13T10:00:00Z") && err.contains("--allow-older"),
        "{err}"
    );
    assert_eq!(state(&s), before, "a refused catalog changes nothing");
    let r = sync_json(&s, &old, &["--allow-older"]);
    assert_eq!(counts(&r), [0, 0, 1, 3], "{r}");
}

#[test]
fn a_catalog_without_identity_syncs_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        created: None,
        package_id: None,
        ..Default::default()
    };
    let c = write(dir.path(), "anon.cab", &catalog(&o));
    let s = init_store(dir.path(), "s");
    let r = sync_json(&s, &c, &[]);
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("no PackageId and no CreationDate")
            && warnings.contains("could not be checked"),
        "{r}"
    );
}

#[test]
fn bad_catalogs_fail_naming_the_part_and_leave_the_store_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    // The store lacks WIN11_CRIT, so that a sync must read its fragments.
    let first = catalog(&Options {
        without: &[WIN11_CRIT],
        ..Default::default()
    });
    let s = synced_n(dir.path(), &write(dir.path(), "first.cab", &first), 3);
    let before = state(&s);
    let good = catalog(&Options {
        created: Some("2024-04-01T00:00:00Z"),
        ..Default::default()
    });
    let c = write(dir.path(), "good.cab", &good);
    // Newer than the synced one, so that the age check does not answer first.
    let spoiled = |spoil| {
        catalog(&Options {
            created: Some("2024-05-01T00:00:00Z"),
            spoil,
            ..Default::default()
        })
    };
    let cases: Vec<(&str, Vec<u8>, i32, &[&str])> = vec![
        (
            "truncated.cab",
            good[..good.len() / 2].to_vec(),
            1,
            &["truncated.cab", "truncated"],
        ),
        (
            "header-only.cab",
            good[..30].to_vec(),
            1,
            &["header-only.cab", "truncated"],
        ),
        (
            "missing-cab.cab",
            spoiled(Spoil::MissingInnerCab),
            1,
            &["package4.cab", "missing"],
        ),
        (
            "missing-fragment.cab",
            spoiled(Spoil::MissingFragment),
            1,
            &["package4.cab", "x\\400500", WIN11_CRIT],
        ),
        (
            "bad-package.cab",
            spoiled(Spoil::MalformedPackageXml),
            1,
            &[
                "package.xml in package.cab in bad-package.cab",
                "malformed XML",
            ],
        ),
        (
            "bad-fragment.cab",
            spoiled(Spoil::MalformedFragment),
            1,
            &[
                "l\\en\\400500 in package4.cab in bad-fragment.cab",
                "malformed XML",
            ],
        ),
        (
            "dotdot.cab",
            spoiled(Spoil::DotDotName),
            15,
            &[
                "package4.cab in dotdot.cab",
                "unsafe member name",
                "..\\..\\evil",
            ],
        ),
        (
            "dotdot-outer.cab",
            spoiled(Spoil::DotDotOuter),
            15,
            &["dotdot-outer.cab: unsafe member name", "..\\evil.cab"],
        ),
    ];
    for (name, bytes, want, needles) in cases {
        let path = write(dir.path(), name, &bytes);
        let (code, out, err) = run_any(&["sync", "--store", p(&s), "--from", p(&path)]);
        assert_eq!(code, want, "{name}: {out}{err}");
        for n in needles {
            assert!(err.contains(n), "{name}: '{n}' not in: {err}");
        }
        assert_eq!(state(&s), before, "{name}: the store changed");
        let last = offsync::store::Store::open_readonly(&s)
            .unwrap()
            .last_sync()
            .unwrap()
            .unwrap();
        assert_eq!(last.outcome, "failed", "{name}");
    }
    // And the good catalog still syncs.
    assert_eq!(counts(&sync_json(&s, &c, &[])), [1, 0, 0, 3]);
}

#[test]
fn the_real_structure_sample_syncs_as_far_as_it_goes() {
    let Some(sample) = real_data("wsusscn2/wsusscn2-structure-sample.cab") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = init_store(dir.path(), "s");
    // No namespace, stored inner CABs, renumbered RevisionIds, no category entries, no
    // PackageId or CreationDate.
    let r = sync_json(&s, &sample, &[]);
    assert_eq!(
        (r["upstream_updates"].as_u64(), r["categories"].as_u64()),
        (Some(4), Some(0)),
        "{r}"
    );
    // Its update cites a company, a family, a product and a classification; as in upd:Update,
    // the product and the classification are the update's categories.
    assert_eq!(
        r["unresolved_categories"].as_array().unwrap().len(),
        2,
        "{r}"
    );
    assert!(
        r["warnings"]
            .to_string()
            .contains("no PackageId and no CreationDate"),
        "{r}"
    );
    let last = offsync::store::Store::open_readonly(&s)
        .unwrap()
        .last_sync()
        .unwrap()
        .unwrap();
    assert_eq!(
        (last.outcome.as_str(), last.package_id, last.package_created),
        ("succeeded", None, None)
    );

    // Its only categorised update (RevisionId 456789) has no fragments in the sample: a
    // clear error, and nothing stored.
    set_criteria(
        &s,
        &[
            "--product",
            "12c24e87-bd40-451b-9477-2c2bf501e0d7",
            "--classification",
            SECURITY,
        ],
    );
    let before = state(&s);
    let (code, _, err) = run_any(&["sync", "--store", p(&s), "--from", p(&sample)]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("package3.cab in wsusscn2-structure-sample.cab has no fragment c\\456789"),
        "{err}"
    );
    assert_eq!(state(&s), before);
}

/// The store's catalog: its SHA-256 (hex), and the bytes of its stored copy.
fn kept_catalog(store: &Path) -> Option<(String, Vec<u8>)> {
    let s = offsync::store::Store::open(store).unwrap();
    let (h, _) = s.catalog().unwrap()?;
    Some((hex::encode(h), std::fs::read(s.content_path(&h)).unwrap()))
}

/// Issue 12 point 3: the catalog a store syncs from is kept in its content store (once per
/// version), travels in bundles, and `publish share` puts it at the share's root, so that
/// clients can scan offline against Microsoft's own file.
#[test]
fn the_catalog_is_kept_carried_to_the_isolated_side_and_published() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = catalog(&Options::default());
    let c = write(dir.path(), "wsusscn2.cab", &bytes);
    let s = synced(dir.path(), &c);
    let (hex1, kept) = kept_catalog(&s).expect("the catalog is kept");
    assert!(kept == bytes, "the stored copy is the file");
    assert_eq!(hex1, sha_hex(&bytes));
    let stored = offsync::store::Store::open(&s)
        .unwrap()
        .content_path(&hex::decode(&hex1).unwrap().try_into().unwrap());
    let written = std::fs::metadata(&stored).unwrap().modified().unwrap();
    // The same file again: not read, not rewritten.
    sync_json(&s, &c, &[]);
    assert_eq!(
        std::fs::metadata(&stored).unwrap().modified().unwrap(),
        written
    );

    // A full bundle carries it; the isolated store keeps it as its catalog and publishes it.
    let (e, bundle) = export(&s, &dir.path().join("m1"), &[]);
    assert_eq!(
        manifest(&bundle)["catalog"].as_str(),
        Some(hex1.as_str()),
        "{e}"
    );
    let iso = init_store(dir.path(), "iso");
    import_json(&iso, &bundle);
    assert_eq!(kept_catalog(&iso).map(|k| k.0), Some(hex1.clone()));
    let share = dir.path().join("share");
    run(
        &["publish", "share", "--store", p(&iso), "--out", p(&share)],
        0,
    );
    assert!(std::fs::read(share.join("wsusscn2.cab")).unwrap() == bytes);

    // A newer catalog replaces it, and the next incremental bundle carries the new one only.
    let newer = catalog(&Options {
        created: Some("2024-04-09T10:00:00Z"),
        ..Default::default()
    });
    let c2 = write(dir.path(), "b.cab", &newer);
    sync_json(&s, &c2, &[]);
    let (hex2, _) = kept_catalog(&s).unwrap();
    assert_ne!(hex2, hex1);
    let (_, b2) = export(&s, &dir.path().join("m2"), &[]);
    assert_eq!(manifest(&b2)["catalog"].as_str(), Some(hex2.as_str()));
    import_json(&iso, &b2);
    assert_eq!(kept_catalog(&iso).map(|k| k.0), Some(hex2));
    // Nothing new since: the next bundle carries no catalog.
    run(&["updates", "decline", "--store", p(&s), "KB5034122"], 0);
    let (_, b3) = export(&s, &dir.path().join("m3"), &[]);
    assert!(manifest(&b3).get("catalog").is_none());
}

/// The bytes of this module's test catalog (for other modules' tests of catalog-synced stores).
pub(crate) fn test_catalog() -> Vec<u8> {
    catalog(&Options::default())
}
