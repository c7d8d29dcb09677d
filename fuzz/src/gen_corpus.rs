//! Generates the seed corpora of every fuzz target, and the template bundles of the volume
//! target, from the project's own fixtures and a real export. Nothing it writes is committed:
//! run it again after a format change.
//!
//!     cargo run --release --example gen-corpus [-- --fixtures DIR --out DIR --templates DIR]
//!
//! Defaults: fixtures `../fixtures`, seeds `seeds/<target>/`, templates `templates/` (all
//! relative to the fuzz folder). Those folders are emptied first; the corpora that the fuzzer
//! grows live apart from them, in `corpus/<target>/`, and are left alone.
//!
//! What it does: runs `offsync demo` (the library call, with a fixed clock so the output is
//! the same every time) in a temporary folder, which syncs the fixtures into a store, imports
//! their content and exports a bundle of several 96 KiB volumes; then exports the same store
//! again as one full single-volume bundle and as a metadata-only bundle. Those three bundles
//! are the volume target's templates and the source of the manifest, metadata and volume
//! seeds.

use offsync::bundle::metadata::{ENVELOPE_HEADER_LEN, METADATA_MAGIC, METADATA_VERSION};
use offsync::bundle::names::METADATA_ENTRY;
use offsync::bundle::{BundleReader, encode_metadata};
use offsync::progress::NoProgress;
use offsync::store::Store;
use offsync::time::Timestamp;
use offsync::transfer::export::{ExportOptions, export};
use offsync_fuzz::{
    CatalogHarness, SECTION_SEP, Template, VolumeHarness, build_catalog, catalog_sections,
    default_templates_dir,
};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// 2026-01-01T00:00:00Z; the clock advances one second per call.
const START: i64 = 1_767_225_600;

fn main() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut fixtures = here.join("../fixtures");
    let mut out = here.join("seeds");
    let mut templates = default_templates_dir();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().map(PathBuf::from);
        match (a.as_str(), v) {
            ("--fixtures", Some(v)) => fixtures = v,
            ("--out", Some(v)) => out = v,
            ("--templates", Some(v)) => templates = v,
            _ => {
                eprintln!("usage: gen-corpus [--fixtures DIR] [--out DIR] [--templates DIR]");
                std::process::exit(2);
            }
        }
    }

    let work = tempfile::Builder::new()
        .prefix("offsync-gen-corpus-")
        .tempdir()
        .expect("a temporary folder");
    let t = Cell::new(START);
    let clock = || {
        let now = t.get();
        t.set(now + 1);
        Timestamp(now)
    };

    // 1. A real export: the demo's multi-volume bundle, then a single-volume full one.
    offsync::cli::demo(Some(work.path()), &fixtures, &clock, &NoProgress)
        .unwrap_or_else(|e| panic!("offsync demo failed: {}", e.message));
    let demo_bundle = only_subdir(&work.path().join("media"));
    let store = Store::open(&work.path().join("connected")).expect("open the demo store");
    let single_out = work.path().join("single");
    let opts = ExportOptions {
        out: single_out.clone(),
        full: true,
        metadata_only: false,
        max_volume_size: 64 << 20,
        created: clock(),
        valid_until: None,
        signer: None,
        allow_empty: true,
    };
    std::fs::create_dir_all(&opts.out).expect("create the export folder");
    let r = export(&store, &opts, clock(), &NoProgress)
        .expect("single-volume export")
        .expect("a full export writes a bundle");
    let single_bundle = PathBuf::from(r.bundle_dir);
    // And a metadata-only bundle: one small volume, so the volume target also has a fast seed.
    let opts = ExportOptions {
        out: work.path().join("metadata-only"),
        full: true,
        metadata_only: true,
        max_volume_size: 64 << 20,
        created: clock(),
        valid_until: None,
        signer: None,
        allow_empty: true,
    };
    std::fs::create_dir_all(&opts.out).expect("create the export folder");
    let r = export(&store, &opts, clock(), &NoProgress)
        .expect("metadata-only export")
        .expect("a full export writes a bundle");
    let metadata_bundle = PathBuf::from(r.bundle_dir);
    drop(store);

    // 2. Templates for the volume target (sorted by folder name when loaded: a-, b-).
    reset(&templates);
    let template_dirs = [
        (demo_bundle.as_path(), templates.join("a-multi-volume")),
        (single_bundle.as_path(), templates.join("b-single-volume")),
        (metadata_bundle.as_path(), templates.join("c-metadata-only")),
    ];
    for (from, to) in &template_dirs {
        copy_dir(from, to);
    }
    let loaded = Template::load_all(&templates).expect("load the templates");

    // 3. Seeds.
    let dir = |name: &str| {
        let d = out.join(name);
        reset(&d);
        d
    };

    // manifest: the real manifests, and a few edits of them.
    let d = dir("manifest");
    for (i, (from, _)) in template_dirs.iter().enumerate() {
        let bytes = fs::read(from.join("manifest.json")).expect("read manifest.json");
        put(&d, &format!("real-{i}"), &bytes);
        let text = String::from_utf8(bytes).expect("manifest.json is UTF-8");
        put(
            &d,
            &format!("version-2-{i}"),
            text.replacen("\"format_version\": 1", "\"format_version\": 2", 1)
                .as_bytes(),
        );
        put(
            &d,
            &format!("compact-{i}"),
            &serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(&text).unwrap())
                .unwrap(),
        );
    }
    put(&d, "tiny", b"{\"format_version\":1}");

    // metadata: metadata.bin of each template, read back through the importer's reader and
    // re-encoded (checked byte for byte against the manifest's SHA-256 of the entry), in
    // both input modes; plus hostile envelopes and payloads.
    let d = dir("metadata");
    for (i, (from, _)) in template_dirs.iter().enumerate() {
        let reader = BundleReader::open(&[from.to_path_buf()]).expect("open the bundle");
        let md = reader.read_metadata().expect("read metadata.bin");
        let bytes = encode_metadata(&md).expect("encode");
        let listed = reader
            .manifest()
            .entries
            .iter()
            .find(|e| e.path == METADATA_ENTRY)
            .expect("metadata.bin listed");
        assert_eq!(
            offsync::hash::sha256(&bytes),
            listed.sha256.0,
            "re-encoded metadata differs from the exported metadata.bin"
        );
        put(
            &d,
            &format!("real-{i}-envelope"),
            &[&[0u8][..], &bytes].concat(),
        );
        put(
            &d,
            &format!("real-{i}-payload"),
            &[&[1u8][..], &bytes[ENVELOPE_HEADER_LEN..]].concat(),
        );
    }
    let empty = encode_metadata(&Default::default()).unwrap();
    put(&d, "empty-envelope", &[&[0u8][..], &empty].concat());
    let mut head = Vec::new();
    head.extend_from_slice(&METADATA_MAGIC);
    head.extend_from_slice(&METADATA_VERSION.to_le_bytes());
    put(
        &d,
        "terabyte-length",
        &[&[0u8][..], &head, &(1u64 << 40).to_le_bytes()].concat(),
    );
    // A vector of categories claiming 2^40 elements (bincode varint: 0xfd then a u64).
    let mut huge = vec![1u8, 0xfd];
    huge.extend_from_slice(&(1u64 << 40).to_le_bytes());
    put(&d, "payload-huge-vec", &huge);
    put(&d, "payload-empty-vecs", &[1, 0, 0]);

    // volume: every volume of every template, with its selector byte.
    let d = dir("volume");
    let mut slot = 0u8;
    for (ti, t) in loaded.iter().enumerate() {
        for (vi, v) in t.volumes.iter().enumerate() {
            put(
                &d,
                &format!("t{ti}-v{:03}", vi + 1),
                &[&[slot][..], v].concat(),
            );
            slot += 1;
        }
    }
    // Check that the harness reaches deep with the seeds: an unchanged volume passes verify.
    let h = VolumeHarness::with_templates(Template::load_all(&templates).unwrap());
    for s in 0..slot {
        let (ti, vi) = slot_of(&loaded, s as usize);
        let input = [&[s][..], &loaded[ti].volumes[vi]].concat();
        let o = h.run(&input).unwrap();
        assert!(o.manifest_consistent);
        assert!(
            o.verify.volumes[vi].ok,
            "seed t{ti}-v{} does not pass verify: {:?}",
            vi + 1,
            o.verify.findings
        );
        assert!(
            o.reader.is_ok(),
            "seed t{ti}-v{}: the reader fails: {:?}",
            vi + 1,
            o.reader
        );
    }

    // upd_xml: every fixture document.
    let d = dir("upd_xml");
    let mut xml: Vec<PathBuf> = fs::read_dir(fixtures.join("upstream"))
        .expect("read the fixtures")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    xml.sort();
    for p in &xml {
        put(
            &d,
            p.file_name().unwrap().to_str().unwrap(),
            &fs::read(p).unwrap(),
        );
    }

    // The shared real-data samples, when that folder is beside the project: read in place as
    // extra seeds, never copied into the repository (the corpora are not committed).
    let real = here.join("../../shared/real-data");
    let real_docs = real.join("upd-update-xml");
    if real_docs.is_dir() {
        for e in fs::read_dir(&real_docs).unwrap() {
            let p = e.unwrap().path();
            put(
                &d,
                &format!("real-data-{}", p.file_name().unwrap().to_str().unwrap()),
                &fs::read(&p).unwrap(),
            );
        }
    } else {
        println!(
            "note: {} absent, no real-data seeds for upd_xml",
            real_docs.display()
        );
    }

    // wsusscn2 and upd_fragments: a small catalog in the real nesting (written here, in the
    // shape of the real catalog), raw (stored and MSZIP inside) and structured.
    let (pkg, frags) = small_catalog();
    let d = dir("wsusscn2");
    for (mode, compress) in [(0u8, false), (2u8, true)] {
        let raw = build_catalog(pkg.as_bytes(), &frags, compress).expect("build the catalog");
        put(
            &d,
            &format!("catalog-{}", if compress { "mszip" } else { "stored" }),
            &[&[mode][..], &raw].concat(),
        );
    }
    let sections = catalog_sections(pkg.as_bytes(), &frags);
    put(&d, "sections-stored", &[&[1u8][..], &sections].concat());
    put(&d, "sections-mszip", &[&[3u8][..], &sections].concat());
    let sample = real.join("wsusscn2/wsusscn2-structure-sample.cab");
    if sample.is_file() {
        put(
            &d,
            "real-data-structure-sample",
            &[&[0u8][..], &fs::read(&sample).unwrap()].concat(),
        );
    } else {
        println!(
            "note: {} absent, no real-data seed for wsusscn2",
            sample.display()
        );
    }
    // Check that our seeds reach the end: the catalog scans and every update is fetched (the
    // real-data sample lacks the fragments of one revision, so its fetch fails by design).
    let h = CatalogHarness::new();
    for e in fs::read_dir(&d).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("real-data")
        {
            continue;
        }
        let o = h.run(&fs::read(&p).unwrap()).unwrap();
        match o {
            Ok(o) if o.updates > 0 && o.fetched == o.updates => {}
            other => panic!("seed {} does not read in full: {other:?}", p.display()),
        }
    }
    let d = dir("upd_fragments");
    let mut by_rev: BTreeMap<String, Vec<&(String, Vec<u8>)>> = BTreeMap::new();
    for f in &frags {
        let rev = f.0.rsplit('\\').next().unwrap().to_string();
        by_rev.entry(rev).or_default().push(f);
    }
    for (rev, list) in by_rev {
        let mut v = Vec::new();
        for (i, (_, bytes)) in list.iter().enumerate() {
            if i > 0 {
                v.extend_from_slice(SECTION_SEP);
            }
            v.extend_from_slice(bytes);
        }
        put(&d, &format!("rev-{rev}"), &v);
    }

    for name in [
        "manifest",
        "metadata",
        "volume",
        "upd_xml",
        "wsusscn2",
        "upd_fragments",
    ] {
        let n = fs::read_dir(out.join(name)).unwrap().count();
        println!("seeds/{name}: {n} seeds");
    }
    println!(
        "templates: {} bundles, {} volumes in all",
        loaded.len(),
        slot
    );
}

/// `package.xml` and the fragments of a small catalog: four categories (company, family,
/// product, classification) and three updates (an old one superseded by a bundle, and the
/// bundle's child with a payload file).
fn small_catalog() -> (String, Vec<(String, Vec<u8>)>) {
    const MICROSOFT: &str = "56309036-4c77-4dd9-951a-99ee9c246a94";
    const WINDOWS: &str = "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d";
    const WIN10: &str = "a3c2375d-0c8a-42f9-bce0-28333e198407";
    const SECURITY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
    const OLD: &str = "0a51549b-4e86-4a26-97d4-9e3567f24ea1";
    const NEW: &str = "05a7711a-079e-4fbb-8d1a-9015c92a2ae0";
    const CHILD: &str = "daad7390-d95c-4fd5-99a0-790dc6a2dc2a";
    const SHA1: &str = "mTQZsbAqDuTchNIJkUhQX3op3X4=";
    let cat = |id: &str, rev: u32, parent: Option<&str>| {
        let pre = parent
            .map(|p| format!("<Prerequisites><UpdateId Id=\"{p}\"/></Prerequisites>"))
            .unwrap_or_default();
        format!(
            "<Update UpdateId=\"{id}\" RevisionNumber=\"1\" RevisionId=\"{rev}\" IsSoftware=\"false\" DeploymentAction=\"Evaluate\">{pre}</Update>\n"
        )
    };
    let pkg = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<OfflineSyncPackage xmlns="http://schemas.microsoft.com/msus/2004/02/OfflineSync" PackageId="fuzz-seed-1" CreationDate="2026-01-01T00:00:00Z" PackageVersion="1.1" ProtocolVersion="1.0">
<Updates>
{}{}{}{}<Update UpdateId="{OLD}" RevisionNumber="201" RevisionId="100" CreationDate="2024-01-09T18:00:00Z" DefaultLanguage="en" IsBundle="true">
  <Categories><Category Type="Company" Id="{MICROSOFT}"/><Category Type="ProductFamily" Id="{WINDOWS}"/><Category Type="Product" Id="{WIN10}"/><Category Type="UpdateClassification" Id="{SECURITY}"/></Categories>
  <Prerequisites><Or><UpdateId Id="{WIN10}"/></Or></Prerequisites>
  <SupersededBy><Revision Id="200"/></SupersededBy>
</Update>
<Update UpdateId="{NEW}" RevisionNumber="200" RevisionId="200" IsBundle="true">
  <Categories><Category Type="Product" Id="{WIN10}"/><Category Type="UpdateClassification" Id="{SECURITY}"/></Categories>
  <Languages><Language Name="en"/><Language Name="de"/></Languages>
</Update>
<Update UpdateId="{CHILD}" RevisionNumber="201" RevisionId="201" IsLeaf="true">
  <BundledBy><Revision Id="200"/></BundledBy>
  <PayloadFiles><File Id="{SHA1}"/></PayloadFiles>
</Update>
</Updates>
<FileLocations><FileLocation Id="{SHA1}" Url="http://download.windowsupdate.com/c/msdownload/update/software/secu/2024/02/windows10.0-kb5034763-x64.msu"/></FileLocations>
</OfflineSyncPackage>
"#,
        cat(MICROSOFT, 1, None),
        cat(WINDOWS, 2, Some(MICROSOFT)),
        cat(WIN10, 3, Some(WINDOWS)),
        cat(SECURITY, 4, None),
    );
    let mut frags: Vec<(String, String)> = Vec::new();
    for (rev, kind, title) in [
        (1, "Company", "Microsoft"),
        (2, "ProductFamily", "Windows"),
        (3, "Product", "Windows 10"),
        (4, "UpdateClassification", "Security Updates"),
    ] {
        frags.push((format!("x\\{rev}"), format!("<ExtendedProperties/><HandlerSpecificData><CategoryInformation CategoryType=\"{kind}\"/></HandlerSpecificData>")));
        frags.push((format!("l\\en\\{rev}"), format!("<LocalizedProperties><Language>en</Language><Title>{title}</Title></LocalizedProperties>")));
    }
    let file = format!(
        r#"<Files><File Digest="{SHA1}" FileName="windows10.0-kb5034763-x64.msu" Size="20480" Modified="2024-02-13T18:00:00Z"><AdditionalDigest Algorithm="SHA256">dGhpcyBpcyBub3QgYSByZWFsIGRpZ2VzdCEhISEhISE=</AdditionalDigest></File></Files>"#
    );
    for (rev, id, n, kb, files) in [
        (100, OLD, 201, "5034122", ""),
        (200, NEW, 200, "5034763", ""),
        (201, CHILD, 201, "5034763", file.as_str()),
    ] {
        frags.push((format!("c\\{rev}"), format!("<UpdateIdentity UpdateID=\"{id}\" RevisionNumber=\"{n}\"/><Properties UpdateType=\"Software\" PublicationState=\"Published\"/><Relationships/>")));
        frags.push((format!("x\\{rev}"), format!("<ExtendedProperties MsrcSeverity=\"Critical\"><KBArticleID>{kb}</KBArticleID></ExtendedProperties>{files}")));
        frags.push((format!("l\\en\\{rev}"), format!("<LocalizedProperties><Language>en</Language><Title>2024 Cumulative Update (KB{kb})</Title><Description>Install this update.</Description></LocalizedProperties>")));
        frags.push((format!("l\\de\\{rev}"), format!("<LocalizedProperties><Language>de</Language><Title>Kumulatives Update (KB{kb})</Title></LocalizedProperties>")));
    }
    (
        pkg,
        frags
            .into_iter()
            .map(|(n, t)| (n, t.into_bytes()))
            .collect(),
    )
}

fn slot_of(t: &[Template], mut s: usize) -> (usize, usize) {
    for (i, tpl) in t.iter().enumerate() {
        if s < tpl.volumes.len() {
            return (i, s);
        }
        s -= tpl.volumes.len();
    }
    unreachable!()
}

fn only_subdir(dir: &Path) -> PathBuf {
    let mut d: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read the media folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(d.len(), 1, "expected one bundle in {}", dir.display());
    d.pop().unwrap()
}

fn reset(d: &Path) {
    let _ = fs::remove_dir_all(d);
    fs::create_dir_all(d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

fn put(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("write {name}: {e}"));
}
