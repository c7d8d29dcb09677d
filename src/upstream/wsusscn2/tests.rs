use super::cab::tests::build;
use super::package::{bits_guid, guid_bits};
use super::*;
use crate::progress::NoProgress;
use crate::upstream::upd_xml::tests::real_data;
use ::cab::CompressionType::{MsZip, None as Stored};
use std::path::Path;

fn g(s: &str) -> Guid {
    Guid::parse(s).unwrap()
}

/// Writes a catalog: `package.xml` and fragment CABs (RANGESTART, members), MSZIP inside.
fn catalog(dir: &Path, package_xml: &str, cabs: &[(u32, Vec<(String, String)>)]) -> PathBuf {
    let package = build(&[(
        MsZip,
        vec![("package.xml", package_xml.as_bytes().to_vec())],
    )]);
    let mut index = String::from("<INDEX><CABLIST><CAB NAME=\"package.cab\"/>");
    let mut outer = vec![
        ("index.xml".to_string(), Vec::new()),
        ("package.cab".to_string(), package),
    ];
    for (k, (start, members)) in cabs.iter().enumerate() {
        let name = format!("package{}.cab", k + 2);
        index.push_str(&format!("<CAB NAME=\"{name}\" RANGESTART=\"{start}\"/>"));
        let files = members
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_bytes().to_vec()))
            .collect();
        outer.push((name, build(&[(MsZip, files)])));
    }
    index.push_str("</CABLIST></INDEX>");
    outer[0].1 = index.into_bytes();
    let files = outer.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let path = dir.join("t.cab");
    std::fs::write(&path, build(&[(Stored, files)])).unwrap();
    path
}

fn scan(src: &mut Wsusscn2Source) -> Result<(ScanSummary, Vec<Category>, Vec<UpdateHeader>)> {
    let (mut cats, mut heads) = (Vec::new(), Vec::new());
    let summary = src.scan(
        &mut |item| {
            match item {
                ScanItem::Category(c, doc) => {
                    assert!(doc.is_none(), "the catalog has no documents");
                    cats.push(c)
                }
                ScanItem::Update(h) => heads.push(h),
            }
            Ok(())
        },
        &NoProgress,
    )?;
    Ok((summary, cats, heads))
}

fn fetch(src: &mut Wsusscn2Source, keys: &[u64]) -> Result<Vec<Update>> {
    let mut out = Vec::new();
    src.fetch(
        keys,
        &mut |f| {
            assert!(f.document.is_none(), "the catalog has no documents");
            out.push(f.update);
            Ok(())
        },
        &NoProgress,
    )?;
    Ok(out)
}

#[test]
fn names_dates_and_ids() {
    assert_eq!(fragment_name("c\\123"), Some((b'c', None, 123)));
    assert_eq!(fragment_name("x\\000001"), Some((b'x', None, 1)));
    assert_eq!(
        fragment_name("l\\pt-br\\77"),
        Some((b'l', Some("pt-br"), 77))
    );
    for n in ["c\\", "c\\12a", "l\\en", "q\\1", "c\\1\\2", "package.xml"] {
        assert_eq!(fragment_name(n), None, "{n}");
    }
    assert_eq!(
        rfc3339_of("2024-05-08T22:41:37Z").as_deref(),
        Some("2024-05-08T22:41:37Z")
    );
    assert_eq!(
        rfc3339_of("2024-05-08T22:41:37.123+02:00").as_deref(),
        Some("2024-05-08T20:41:37Z")
    );
    assert_eq!(
        rfc3339_of("2024-05-08T22:41:37").as_deref(),
        Some("2024-05-08T22:41:37Z")
    );
    assert_eq!(
        rfc3339_of("5/8/2024 10:41:37 PM").as_deref(),
        Some("2024-05-08T22:41:37Z")
    );
    assert_eq!(
        rfc3339_of("5/8/2024 12:01:00 AM").as_deref(),
        Some("2024-05-08T00:01:00Z")
    );
    assert_eq!(rfc3339_of("yesterday"), None);
    let id = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
    assert_eq!(
        bits_guid(guid_bits(&id.to_uppercase()).unwrap()).as_str(),
        id
    );
    let c = Csr::build(3, vec![(2, 0), (0, 1), (2, 1), (2, 0)]);
    assert_eq!(
        (c.get(0), c.get(1), c.get(2)),
        (&[1][..], &[][..], &[0, 1][..])
    );
}

const WIN10: &str = "a3c2375d-0c8a-42f9-bce0-28333e198407";
const WINDOWS: &str = "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d";
const MICROSOFT: &str = "56309036-4c77-4dd9-951a-99ee9c246a94";
const SECURITY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
const OLD: &str = "0a51549b-4e86-4a26-97d4-9e3567f24ea1";
const NEW: &str = "05a7711a-079e-4fbb-8d1a-9015c92a2ae0";
const CHILD: &str = "daad7390-d95c-4fd5-99a0-790dc6a2dc2a";
const SHA1: &str = "mTQZsbAqDuTchNIJkUhQX3op3X4=";
const DRIVERS: &str = "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0";
const DETECTOID: &str = "3a8f327a-48da-4804-817c-85a7159893ae";

fn cat_entry(id: &str, rev: u32, parent: Option<&str>) -> String {
    let pre = parent
        .map(|p| format!("<Prerequisites><UpdateId Id=\"{p}\"/></Prerequisites>"))
        .unwrap_or_default();
    format!(
        "<Update UpdateId=\"{id}\" RevisionNumber=\"1\" RevisionId=\"{rev}\" IsSoftware=\"false\" DeploymentAction=\"Evaluate\">{pre}</Update>"
    )
}

fn cat_frags(rev: u32, kind: &str, title: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("x\\{rev}"),
            format!(
                "<ExtendedProperties/><HandlerSpecificData><CategoryInformation CategoryType=\"{kind}\"/></HandlerSpecificData>"
            ),
        ),
        (
            format!("l\\en\\{rev}"),
            format!(
                "<LocalizedProperties><Language>en</Language><Title>{title}</Title></LocalizedProperties>"
            ),
        ),
    ]
}

fn upd_frags(rev: u32, id: &str, n: u32, kb: &str, files: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("c\\{rev}"),
            format!(
                "<UpdateIdentity UpdateID=\"{id}\" RevisionNumber=\"{n}\"/><Properties UpdateType=\"Software\"/>"
            ),
        ),
        (
            format!("x\\{rev}"),
            format!(
                "<ExtendedProperties MsrcSeverity=\"Critical\"><KBArticleID>{kb}</KBArticleID></ExtendedProperties>{files}"
            ),
        ),
        (
            format!("l\\en\\{rev}"),
            format!(
                "<LocalizedProperties><Language>en</Language><Title>KB{kb}</Title></LocalizedProperties>"
            ),
        ),
        (
            format!("l\\de\\{rev}"),
            format!(
                "<LocalizedProperties><Language>de</Language><Title>DE KB{kb}</Title></LocalizedProperties>"
            ),
        ),
    ]
}

fn small(dir: &Path) -> PathBuf {
    let pkg = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<OfflineSyncPackage xmlns="http://schemas.microsoft.com/msus/2004/02/OfflineSync" PackageId="p-1" CreationDate="2024-05-08T22:41:37Z">
<Updates>
{}{}{}
<Update UpdateId="{OLD}" RevisionNumber="201" RevisionId="100" CreationDate="2017-06-27T00:03:52Z" DefaultLanguage="en" IsBundle="true">
  <Categories><Category Type="Company" Id="{MICROSOFT}"/><Category Type="ProductFamily" Id="{WINDOWS}"/><Category Type="Product" Id="{WIN10}"/><Category Type="UpdateClassification" Id="{SECURITY}"/></Categories>
  <SupersededBy><Revision Id="200"/></SupersededBy>
</Update>
<Update UpdateId="{NEW}" RevisionNumber="200" RevisionId="200" IsBundle="true">
  <Categories><Category Type="Product" Id="{WIN10}"/><Category Type="UpdateClassification" Id="{SECURITY}"/></Categories>
  <Languages><Language Name="EN"/></Languages>
</Update>
<Update UpdateId="{CHILD}" RevisionNumber="201" RevisionId="201" IsLeaf="true">
  <BundledBy><Revision Id="200"/></BundledBy>
  <PayloadFiles><File Id="{SHA1}"/></PayloadFiles>
</Update>
</Updates>
<FileLocations><FileLocation Id="{SHA1}" Url="http://download.windowsupdate.com/a.cab"/></FileLocations>
</OfflineSyncPackage>"#,
        cat_entry(MICROSOFT, 1, None),
        cat_entry(WINDOWS, 2, Some(MICROSOFT)),
        cat_entry(WIN10, 3, Some(WINDOWS))
            + &cat_entry(SECURITY, 4, None)
            + &cat_entry(DRIVERS, 5, None)
            + &cat_entry(DETECTOID, 6, Some(WIN10)),
    );
    let file = format!(r#"<Files><File Digest="{SHA1}" FileName="a.cab" Size="10"/></Files>"#);
    let mut low = Vec::new();
    for (rev, kind, title) in [
        (1, "Company", "Microsoft"),
        (2, "ProductFamily", "Windows"),
        (3, "Product", "Windows 10"),
        (4, "UpdateClassification", "Security Updates"),
    ] {
        low.extend(cat_frags(rev, kind, title));
    }
    // A classification no update cites, and a detectoid that looks like a category in
    // package.xml: their core fragments tell.
    low.extend(cat_frags(5, "UpdateClassification", "Drivers"));
    low.push((
        "c\\5".into(),
        format!("<UpdateIdentity UpdateID=\"{DRIVERS}\" RevisionNumber=\"1\"/><Properties UpdateType=\"Category\"/>"),
    ));
    low.push((
        "c\\6".into(),
        format!("<UpdateIdentity UpdateID=\"{DETECTOID}\" RevisionNumber=\"1\"/><Properties UpdateType=\"Detectoid\"/>"),
    ));
    low.push((
        "l\\en\\6".into(),
        "<LocalizedProperties><Language>en</Language><Title>Is Windows 10</Title></LocalizedProperties>".into(),
    ));
    low.sort();
    low.extend(upd_frags(100, OLD, 201, "1000", ""));
    let mut high = upd_frags(200, NEW, 200, "2000", "");
    high.extend(upd_frags(201, CHILD, 201, "2001", &file));
    catalog(dir, &pkg, &[(0, low), (150, high)])
}

#[test]
fn a_small_catalog_scans_and_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let mut src = Wsusscn2Source::open(&small(dir.path())).unwrap();
    let (summary, cats, heads) = scan(&mut src).unwrap();
    assert_eq!(
        (summary.package_id.as_deref(), summary.created.as_deref()),
        (Some("p-1"), Some("2024-05-08T22:41:37Z"))
    );
    assert!(summary.complete && summary.absent_means_expired);
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    let titles: Vec<(&str, CategoryKind, Option<String>)> = cats
        .iter()
        .map(|c| {
            (
                c.title.as_str(),
                c.kind,
                c.parent.as_ref().map(|p| p.to_string()),
            )
        })
        .collect();
    assert_eq!(
        titles,
        [
            ("Security Updates", CategoryKind::Classification, None),
            ("Microsoft", CategoryKind::Company, None),
            (
                "Windows",
                CategoryKind::ProductFamily,
                Some(MICROSOFT.to_string())
            ),
            (
                "Windows 10",
                CategoryKind::Product,
                Some(WINDOWS.to_string())
            ),
            ("Drivers", CategoryKind::Classification, None),
        ]
    );
    assert_eq!(heads.len(), 4);
    let det = heads.iter().find(|h| h.id == g(DETECTOID)).unwrap();
    assert_eq!(
        (det.update_type.as_str(), det.categories.len()),
        ("Detectoid", 0)
    );
    let old = heads.iter().find(|h| h.id == g(OLD)).unwrap();
    assert_eq!(
        old.categories,
        [g(WIN10), g(SECURITY)],
        "company and family dropped when a product is named"
    );
    let new = heads.iter().find(|h| h.id == g(NEW)).unwrap();
    assert_eq!(
        (new.bundled.clone(), new.languages.clone()),
        (vec![g(CHILD)], vec!["en".to_string()])
    );
    let child = heads.iter().find(|h| h.id == g(CHILD)).unwrap();
    assert_eq!(child.bundled_by, [g(NEW)]);

    let keys: Vec<u64> = heads
        .iter()
        .filter(|h| h.update_type != "Detectoid")
        .map(|h| h.key)
        .collect();
    let mut ups = fetch(&mut src, &keys).unwrap();
    ups.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(ups.len(), 3);
    let new = ups.iter().find(|u| u.id == g(NEW)).unwrap();
    assert_eq!(new.supersedes, [g(OLD)]);
    assert_eq!(
        new.bundled,
        [BundledRef {
            id: g(CHILD),
            revision: Some(201)
        }]
    );
    assert_eq!(
        (new.title("en"), new.title("de"), new.kb.as_deref()),
        ("KB2000", "DE KB2000", Some("2000"))
    );
    let old = ups.iter().find(|u| u.id == g(OLD)).unwrap();
    assert_eq!(old.creation_date.as_deref(), Some("2017-06-27T00:03:52Z"));
    assert_eq!(old.severity.as_deref(), Some("Critical"));
    let child = ups.iter().find(|u| u.id == g(CHILD)).unwrap();
    assert_eq!(
        child.files[0].url.as_deref(),
        Some("http://download.windowsupdate.com/a.cab")
    );

    // A second scan of the same file gives the same fingerprints.
    let (_, _, again) = scan(&mut src).unwrap();
    assert_eq!(heads, again);
}

#[test]
fn the_real_structure_sample() {
    let Some(path) = real_data("wsusscn2/wsusscn2-structure-sample.cab") else {
        return;
    };
    let mut src = Wsusscn2Source::open(&path).unwrap();
    let (summary, cats, heads) = scan(&mut src).unwrap();
    assert!(cats.is_empty());
    assert_eq!(heads.len(), 4);
    assert_eq!(
        (summary.package_id.clone(), summary.created.clone()),
        (None, None)
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("no PackageId and no CreationDate")),
        "{:?}",
        summary.warnings
    );
    let key = |id: &str| heads.iter().find(|h| h.id == g(id)).unwrap().key;
    let ups = fetch(
        &mut src,
        &[
            key(OLD),
            key(NEW),
            key("1c560bb8-276c-41ca-b597-35ae23bf424c"),
        ],
    )
    .unwrap();
    assert_eq!(ups.len(), 3);
    for u in &ups {
        assert!(
            !u.title("en").is_empty() && u.kb.is_some() && u.severity.is_some(),
            "{u:?}"
        );
    }
    let new = ups.iter().find(|u| u.id == g(NEW)).unwrap();
    assert!(
        new.supersedes.contains(&g(OLD)),
        "inverted from the old update's SupersededBy"
    );
    // The sample has no fragments for its fourth revision.
    let e = fetch(&mut src, &[key("913aa7a4-75d8-4abc-9d66-8ddc163be471")]).unwrap_err();
    assert!(
        e.message
            .contains("package3.cab in wsusscn2-structure-sample.cab has no fragment c\\456789"),
        "{e}"
    );
}
