//! Bundle tests across modules: the round trip, determinism, `unzip -t`, volume discovery,
//! and the first hostile cases (each must end in the right error category).

use super::manifest::{Manifest, sha256sums_text};
use super::metadata::tests::sample as sample_metadata;
use super::names::{self, MANIFEST_FILE, SUMS_FILE};
use super::zipfmt::{self, DosTime, ZipOut};
use super::*;
use crate::error::ErrorKind;
use crate::model::Guid;
use crate::progress::NoProgress;
use crate::time::Timestamp;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Deterministic pseudo-random bytes (content must not compress or repeat).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

const SIZES: &[usize] = &[0, 1, 5_000, 50_000, 150_000, 300_000, 20_000, 61_000];
const SMALL_VOLUME: u64 = 64 * 1024;

fn make_content(dir: &Path, sizes: &[usize]) -> Vec<ContentFile> {
    fs::create_dir_all(dir).unwrap();
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let data = noise(i as u64 + 1, n);
            let path = dir.join(format!("file{i}"));
            fs::write(&path, &data).unwrap();
            ContentFile {
                sha256: crate::hash::sha256(&data),
                size: n as u64,
                path,
            }
        })
        .collect()
}

fn spec(store_id: &str, sequence: u64, content: Vec<ContentFile>, max: u64) -> BundleSpec {
    BundleSpec {
        store_id: store_id.into(),
        store_name: "main store".into(),
        sequence,
        kind: BundleKind::Full,
        base_sequence: None,
        changes_from: 0,
        changes_to: 42,
        criteria: ManifestCriteria {
            products: vec![Guid::parse("a3c2375d-0c8a-42f9-bce0-28333e198407").unwrap()],
            classifications: vec![Guid::parse("0fa1201d-4330-4fa8-8ae9-b877473b6441").unwrap()],
            languages: vec!["en".into()],
        },
        created: Timestamp::parse_rfc3339("2026-03-01T12:00:00Z").unwrap(),
        valid_until: None,
        max_volume_size: max,
        metadata: EncodedMetadata::from_metadata(&sample_metadata(), &std::env::temp_dir())
            .unwrap(),
        content,
        catalog: None,
    }
}

/// [`super::write_bundle`] into `out`, made first as a mounted medium would be (the writer
/// never creates it).
fn write_bundle(out: &Path, s: &BundleSpec, p: &NoProgress) -> crate::Result<WrittenBundle> {
    fs::create_dir_all(out).unwrap();
    super::write_bundle(out, s, p)
}

#[test]
fn the_writer_never_creates_the_media_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("unmounted");
    let err =
        super::write_bundle(&out, &spec("store-1", 7, vec![], 1 << 20), &NoProgress).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
    assert!(err.message.contains("is the media mounted?"), "{err}");
    assert!(!out.exists());
}

/// A bundle written into `root/out` from content in `root/src`.
pub(super) fn written(root: &Path, max: u64) -> (WrittenBundle, Vec<ContentFile>) {
    let content = make_content(&root.join("src"), SIZES);
    let w = write_bundle(
        &root.join("out"),
        &spec("store-1", 7, content.clone(), max),
        &NoProgress,
    )
    .unwrap();
    (w, content)
}

fn kinds(r: &VerifyReport) -> Vec<ErrorKind> {
    r.findings.iter().map(|f| f.kind).collect()
}

fn show(r: &VerifyReport) -> String {
    r.findings.iter().map(|f| format!("\n  {f}")).collect()
}

fn vol_path(w: &WrittenBundle, index: usize) -> PathBuf {
    w.dir.join(&w.manifest.volumes[index - 1].name)
}

/// Rewrites the manifest's record of every volume to match the files on disk, and
/// `SHA256SUMS` to match: what an attacker who can edit the whole folder would do.
fn revouch(dir: &Path) {
    let mpath = dir.join(MANIFEST_FILE);
    let mut m = Manifest::parse(&fs::read(&mpath).unwrap()).unwrap();
    for v in &mut m.volumes {
        let bytes = fs::read(dir.join(&v.name)).unwrap();
        v.size = bytes.len() as u64;
        v.sha256 = Sha256Hex(crate::hash::sha256(&bytes));
    }
    let bytes = m.to_json_bytes();
    fs::write(&mpath, &bytes).unwrap();
    fs::write(
        dir.join(SUMS_FILE),
        sha256sums_text(&crate::hash::sha256(&bytes), &m),
    )
    .unwrap();
}

/// One entry of a volume as it lies there.
#[derive(Clone, Debug)]
struct RawEntry {
    name: String,
    method: u16,
    /// Uncompressed size.
    size: u64,
    crc: u32,
    /// The bytes as stored (deflated for a deflated entry).
    data: Vec<u8>,
}

impl RawEntry {
    fn stored(name: &str, data: &[u8]) -> RawEntry {
        RawEntry {
            name: name.to_string(),
            method: zipfmt::METHOD_STORED,
            size: data.len() as u64,
            crc: zipfmt::crc32(data),
            data: data.to_vec(),
        }
    }

    fn deflated(name: &str, data: &[u8]) -> RawEntry {
        RawEntry {
            method: zipfmt::METHOD_DEFLATED,
            data: zipfmt::deflate(data).unwrap(),
            ..RawEntry::stored(name, data)
        }
    }

    fn is_content(&self) -> bool {
        self.name.starts_with("content/")
    }
}

/// The entries of a volume, in order.
fn raw_entries(path: &Path) -> Vec<RawEntry> {
    let bytes = fs::read(path).unwrap();
    let mut cur = Cursor::new(bytes.clone());
    let dir = zipfmt::read_directory(&mut cur, bytes.len() as u64, "t", 100_000).unwrap();
    zipfmt::read_central(&mut cur, &dir, "t")
        .unwrap()
        .iter()
        .map(|e| {
            let at = zipfmt::read_local(&mut cur, e, "t").unwrap() as usize;
            RawEntry {
                name: String::from_utf8(e.name.clone()).unwrap(),
                method: e.method,
                size: e.size,
                crc: e.crc32,
                data: bytes[at..at + e.compressed as usize].to_vec(),
            }
        })
        .collect()
}

/// Rewrites a volume with `edit` applied to its entry list.
fn rewrite_volume(path: &Path, edit: impl FnOnce(&mut Vec<RawEntry>)) {
    let mut entries = raw_entries(path);
    edit(&mut entries);
    let mut z = ZipOut::new(Cursor::new(Vec::new()), DosTime::EPOCH);
    for e in &entries {
        z.add_raw(&e.name, e.method, e.size, e.crc, &e.data)
            .unwrap();
    }
    let (cur, _) = z.finish().unwrap();
    fs::write(path, cur.into_inner()).unwrap();
}

#[test]
fn round_trip_across_volumes() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, content) = written(tmp.path(), SMALL_VOLUME);
    let m = &w.manifest;
    assert!(m.volumes.len() >= 3, "{} volumes", m.volumes.len());
    assert!(w.name.starts_with("offsync-main_store-s000007"));
    assert_eq!(m.volumes[0].name, "offsync-main_store-s000007-v001.zip");
    for v in &m.volumes {
        assert!(v.size <= SMALL_VOLUME, "{} is {} bytes", v.name, v.size);
        assert_eq!(fs::metadata(w.dir.join(&v.name)).unwrap().len(), v.size);
    }
    // The 300 kB file is cut into pieces spread over at least 3 volumes.
    let big = content.iter().find(|c| c.size == 300_000).unwrap();
    let piece_volumes: std::collections::BTreeSet<u32> = m
        .entries
        .iter()
        .filter(|e| e.file == Some(Sha256Hex(big.sha256)))
        .map(|e| e.volume)
        .collect();
    assert!(piece_volumes.len() >= 3, "{piece_volumes:?}");
    assert_eq!(m.counts.content_files, SIZES.len() as u64);
    assert_eq!(m.counts.content_bytes, SIZES.iter().sum::<usize>() as u64);
    assert_eq!(
        (m.counts.categories, m.counts.updates, m.counts.removed),
        (3, 5, 1)
    );
    // Nothing is left under a temporary name.
    let leftovers: Vec<_> = fs::read_dir(&w.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert!(report.ok(), "{}", show(&report));
    assert_eq!(report.entries_checked, m.entries.len() as u64);
    assert_eq!(report.manifest_sha256, Some(w.manifest_sha256));
    assert!(report.volumes.iter().all(|v| v.ok));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["exit_code"], 0);

    let reader = BundleReader::open(&[w.dir.join(MANIFEST_FILE)]).unwrap();
    assert_eq!(reader.manifest(), m);
    assert_eq!(reader.manifest_sha256(), w.manifest_sha256);
    assert_eq!(reader.read_metadata().unwrap(), sample_metadata());
    assert_eq!(reader.content_files().len(), content.len());
    for c in &content {
        let mut out = Vec::new();
        assert_eq!(reader.copy_content(&c.sha256, &mut out).unwrap(), c.size);
        assert_eq!(out, fs::read(&c.path).unwrap());
    }
    assert!(reader.copy_content(&[9; 32], &mut Vec::new()).is_err());

    // Every volume is a standalone ZIP that the zip crate reads, CRCs included.
    for v in &m.volumes {
        let mut za = zip::ZipArchive::new(fs::File::open(w.dir.join(&v.name)).unwrap()).unwrap();
        assert_eq!(za.by_index(0).unwrap().name().unwrap(), names::HEADER_ENTRY);
        for i in 0..za.len() {
            let mut f = za.by_index(i).unwrap();
            std::io::copy(&mut f, &mut std::io::sink()).unwrap();
        }
    }
    // And a lone volume says what it is.
    let h = volume::identify_volume(&vol_path(&w, 2)).unwrap();
    assert_eq!(
        (h.volume, h.volume_count, h.sequence),
        (2, m.volumes.len() as u32, 7)
    );
    assert_eq!(h.bundle_id, m.bundle_id);

    // `sha256sum -c SHA256SUMS` accepts the folder.
    if let Ok(out) = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg(SUMS_FILE)
        .current_dir(&w.dir)
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn manifest_reads_as_specified() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let text = fs::read_to_string(w.dir.join(MANIFEST_FILE)).unwrap();
    assert!(
        text.starts_with("{\n  \"format_version\": 3,\n  \"bundle_id\": "),
        "{}",
        &text[..80]
    );
    assert!(!text.contains("valid_until"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["kind"], "full");
    assert_eq!(v["base_sequence"], serde_json::Value::Null);
    assert_eq!(v["changes"]["to"], 42);
    assert_eq!(v["entries"][0]["path"], "metadata.bin");
    let piece = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e.get("offset").is_some())
        .unwrap();
    assert!(piece["path"].as_str().unwrap().ends_with(".p0001"));
    let sums = fs::read_to_string(w.dir.join(SUMS_FILE)).unwrap();
    assert_eq!(sums.lines().count(), 1 + w.manifest.volumes.len());
    assert!(sums.lines().next().unwrap().ends_with("  manifest.json"));
}

#[test]
fn bundle_kinds_read_and_write_as_their_names() {
    for k in [BundleKind::Full, BundleKind::Incremental] {
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, format!("\"{}\"", k.as_str()));
        assert_eq!(k.to_string(), k.as_str());
        assert_eq!(serde_json::from_str::<BundleKind>(&json).unwrap(), k);
    }
    assert!(serde_json::from_str::<BundleKind>("\"Full\"").is_err());
}

#[test]
fn same_inputs_give_identical_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), SIZES);
    let a = write_bundle(
        &tmp.path().join("a"),
        &spec("s", 3, content.clone(), SMALL_VOLUME),
        &NoProgress,
    )
    .unwrap();
    // Same content given in another order, from copies elsewhere.
    let mut copies = make_content(&tmp.path().join("src2"), SIZES);
    copies.reverse();
    let b = write_bundle(
        &tmp.path().join("b"),
        &spec("s", 3, copies, SMALL_VOLUME),
        &NoProgress,
    )
    .unwrap();
    let list = |d: &Path| {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(list(&a.dir), list(&b.dir));
    for name in list(&a.dir) {
        assert!(
            fs::read(a.dir.join(&name)).unwrap() == fs::read(b.dir.join(&name)).unwrap(),
            "{name} differs"
        );
    }
    assert_eq!(a.manifest.bundle_id, b.manifest.bundle_id);
    // Another sequence gives another id.
    let c = write_bundle(
        &tmp.path().join("c"),
        &spec("s", 4, content, SMALL_VOLUME),
        &NoProgress,
    )
    .unwrap();
    assert_ne!(a.manifest.bundle_id, c.manifest.bundle_id);
}

#[test]
fn unzip_accepts_every_volume() {
    if std::process::Command::new("unzip")
        .arg("-v")
        .output()
        .is_err()
    {
        println!("skipped: unzip not found");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    for v in &w.manifest.volumes {
        let out = std::process::Command::new("unzip")
            .arg("-t")
            .arg(w.dir.join(&v.name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "unzip -t {}: {}{}",
            v.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn volumes_are_found_in_further_paths_in_any_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, content) = written(tmp.path(), SMALL_VOLUME);
    let n = w.manifest.volumes.len();
    let disc_a = tmp.path().join("disc-a");
    let disc_b = tmp.path().join("disc-b");
    fs::create_dir_all(&disc_a).unwrap();
    fs::create_dir_all(&disc_b).unwrap();
    for i in 2..=n {
        let target = if i % 2 == 0 { &disc_a } else { &disc_b };
        fs::rename(
            vol_path(&w, i),
            target.join(&w.manifest.volumes[i - 1].name),
        )
        .unwrap();
    }
    let alone = disc_b.join(&w.manifest.volumes[2].name);
    let paths = vec![
        w.dir.clone(),
        alone,
        disc_b.clone(),
        disc_a.clone(),
        w.dir.clone(),
    ];
    let report = verify(&paths, &NoProgress);
    assert!(report.ok(), "{}", show(&report));
    let reader = BundleReader::open(&paths).unwrap();
    let mut out = Vec::new();
    reader.copy_content(&content[5].sha256, &mut out).unwrap();
    assert_eq!(out.len(), SIZES[5]);

    // Without the discs, the volumes are missing.
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(report.first_error_kind(), Some(ErrorKind::Incomplete));
    assert_eq!(report.findings.len(), n - 1, "{}", show(&report));
    assert_eq!(
        BundleReader::open(std::slice::from_ref(&w.dir))
            .unwrap_err()
            .kind,
        ErrorKind::Incomplete
    );
}

#[test]
fn a_flipped_bit_in_a_content_entry_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, content) = written(tmp.path(), SMALL_VOLUME);
    let path = vol_path(&w, 2);
    let mut bytes = fs::read(&path).unwrap();
    let entries = raw_entries(&path);
    let hit_entry = entries
        .iter()
        .find(|e| e.is_content() && e.size > 100)
        .unwrap();
    let (name, needle) = (&hit_entry.name, &hit_entry.data[..64]);
    let at = bytes.windows(64).position(|w| w == needle).unwrap() + 10;
    bytes[at] ^= 0x08;
    fs::write(&path, &bytes).unwrap();

    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        kinds(&report),
        vec![ErrorKind::Corrupt],
        "{}",
        show(&report)
    );
    assert!(report.findings[0].message.contains("SHA-256"));

    // A reader that skipped verify still refuses the damaged bytes.
    let reader = BundleReader::open(std::slice::from_ref(&w.dir)).unwrap();
    let hit = &w.manifest.entries.iter().find(|e| &e.path == name).unwrap();
    let file = hit.file.map(|f| f.0).unwrap_or(hit.sha256.0);
    let err = reader.copy_content(&file, &mut Vec::new()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");
    // The other files are unaffected.
    let other = content
        .iter()
        .find(|c| c.sha256 != file && c.size > 0)
        .unwrap();
    let mut out = Vec::new();
    let in_damaged_volume = w
        .manifest
        .entries
        .iter()
        .any(|e| e.volume == 2 && e.path.contains(&hex::encode(other.sha256)));
    if !in_damaged_volume {
        reader.copy_content(&other.sha256, &mut out).unwrap();
    }
}

#[test]
fn a_truncated_volume_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let path = vol_path(&w, 1);
    let original = fs::read(&path).unwrap();
    for keep in [
        original.len() - 1,
        original.len() - 30,
        original.len() / 2,
        10,
        0,
    ] {
        fs::write(&path, &original[..keep]).unwrap();
        let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
        assert_eq!(
            kinds(&report),
            vec![ErrorKind::Corrupt],
            "cut to {keep}: {}",
            show(&report)
        );
        assert_eq!(
            BundleReader::open(std::slice::from_ref(&w.dir))
                .unwrap_err()
                .kind,
            ErrorKind::Corrupt
        );
    }
    // Garbage appended or prepended is caught by the size and hash, before any ZIP parsing.
    for bytes in [
        [&original[..], b"garbage"].concat(),
        [&b"garbage"[..], &original[..]].concat(),
    ] {
        fs::write(&path, &bytes).unwrap();
        assert_eq!(
            kinds(&verify(std::slice::from_ref(&w.dir), &NoProgress)),
            vec![ErrorKind::Corrupt]
        );
    }
}

#[test]
fn a_missing_volume_is_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    fs::remove_file(vol_path(&w, 2)).unwrap();
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        kinds(&report),
        vec![ErrorKind::Incomplete],
        "{}",
        show(&report)
    );
    assert!(report.findings[0].message.contains("not found"));
    // A missing manifest is incomplete too.
    fs::remove_file(w.dir.join(MANIFEST_FILE)).unwrap();
    assert_eq!(
        verify(std::slice::from_ref(&w.dir), &NoProgress).first_error_kind(),
        Some(ErrorKind::Incomplete)
    );
}

#[test]
fn a_volume_of_another_bundle_is_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    // Another store with the same name and sequence: same file names, other bundle id.
    let content = make_content(&tmp.path().join("src"), SIZES);
    let other = write_bundle(
        &tmp.path().join("other"),
        &spec("store-2", 7, content, SMALL_VOLUME),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(other.name, w.name);
    fs::copy(vol_path(&other, 2), vol_path(&w, 2)).unwrap();
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        kinds(&report),
        vec![ErrorKind::Incomplete],
        "{}",
        show(&report)
    );
    assert!(
        report.findings[0].message.contains("another bundle"),
        "{}",
        show(&report)
    );
    assert_eq!(
        BundleReader::open(std::slice::from_ref(&w.dir))
            .unwrap_err()
            .kind,
        ErrorKind::Incomplete
    );
}

#[test]
fn an_entry_the_manifest_does_not_list_is_unsafe() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let extra = format!("content/{}", "0".repeat(64));
    rewrite_volume(&vol_path(&w, 2), |e| {
        e.push(RawEntry::stored(&extra, b"surprise"))
    });
    revouch(&w.dir);
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        kinds(&report),
        vec![ErrorKind::UnsafeEntry],
        "{}",
        show(&report)
    );
    assert!(report.findings[0].message.contains("not listed"));
    assert!(
        BundleReader::open(std::slice::from_ref(&w.dir))
            .unwrap()
            .read_metadata()
            .is_ok()
    );
}

#[test]
fn a_path_traversal_entry_is_unsafe() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, content) = written(tmp.path(), SMALL_VOLUME);
    for name in [
        "../x",
        "/etc/x",
        "..\\..\\x",
        "C:\\x",
        "content/../../x",
        "a\0b",
    ] {
        let path = vol_path(&w, 2);
        let original = fs::read(&path).unwrap();
        rewrite_volume(&path, |e| e.push(RawEntry::stored(name, b"x")));
        revouch(&w.dir);
        let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
        assert_eq!(
            kinds(&report),
            vec![ErrorKind::UnsafeEntry],
            "{name:?}: {}",
            show(&report)
        );
        // The reader refuses the volume as soon as it opens it.
        let reader = BundleReader::open(std::slice::from_ref(&w.dir)).unwrap();
        let in_v2 = content.iter().find(|c| {
            let hex = hex::encode(c.sha256);
            w.manifest
                .entries
                .iter()
                .any(|e| e.volume == 2 && e.path.contains(&hex))
        });
        if let Some(c) = in_v2 {
            assert_eq!(
                reader
                    .copy_content(&c.sha256, &mut Vec::new())
                    .unwrap_err()
                    .kind,
                ErrorKind::UnsafeEntry
            );
        }
        fs::write(&path, original).unwrap();
    }
    revouch(&w.dir);
    assert!(verify(std::slice::from_ref(&w.dir), &NoProgress).ok());
}

#[test]
fn duplicates_symlinks_encryption_and_odd_methods_are_unsafe() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let path = vol_path(&w, 2);
    let original = fs::read(&path).unwrap();
    let first_content = raw_entries(&path)
        .into_iter()
        .find(RawEntry::is_content)
        .unwrap();

    // A duplicate of a listed entry.
    rewrite_volume(&path, |e| e.push(first_content.clone()));
    revouch(&w.dir);
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        report.first_error_kind(),
        Some(ErrorKind::UnsafeEntry),
        "{}",
        show(&report)
    );
    assert!(
        report.findings.iter().any(|f| f.message.contains("twice")),
        "{}",
        show(&report)
    );

    // Patches to the central record (and the local header) of the first content entry.
    type Patch = fn(&mut [u8], &mut [u8]);
    let cases: [(&str, Patch); 3] = [
        ("symbolic link", |central, _| {
            central[38..42].copy_from_slice(&(0o120_777u32 << 16).to_le_bytes())
        }),
        ("encrypted", |central, local| {
            central[8] |= 1;
            local[6] |= 1;
        }),
        ("compression method 12", |central, local| {
            central[10] = 12;
            local[8] = 12;
        }),
    ];
    for (why, patch) in cases {
        let mut bytes = original.clone();
        let name = first_content.name.as_bytes();
        let central_at = bytes.windows(4 + 42).enumerate().position(|(i, _)| {
            bytes[i..i + 4] == [0x50, 0x4b, 0x01, 0x02]
                && bytes.get(i + 46..i + 46 + name.len()) == Some(name)
        });
        let central_at = central_at.unwrap();
        let local_at = bytes.windows(4).enumerate().position(|(i, _)| {
            bytes[i..i + 4] == [0x50, 0x4b, 0x03, 0x04]
                && bytes.get(i + 30..i + 30 + name.len()) == Some(name)
        });
        let local_at = local_at.unwrap();
        let (head, tail) = bytes.split_at_mut(central_at);
        patch(&mut tail[..46], &mut head[local_at..local_at + 30]);
        fs::write(&path, &bytes).unwrap();
        revouch(&w.dir);
        let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
        assert_eq!(
            report.first_error_kind(),
            Some(ErrorKind::UnsafeEntry),
            "{why}: {}",
            show(&report)
        );
        assert!(
            report.findings[0].message.contains(why),
            "{why}: {}",
            show(&report)
        );
    }
}

#[test]
fn a_changed_manifest_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let mpath = w.dir.join(MANIFEST_FILE);
    let original = fs::read_to_string(&mpath).unwrap();

    // Edited without updating SHA256SUMS.
    fs::write(
        &mpath,
        original.replace(
            "\"languages\": [\n      \"en\"",
            "\"languages\": [\n      \"de\"",
        ),
    )
    .unwrap();
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        kinds(&report),
        vec![ErrorKind::Corrupt],
        "{}",
        show(&report)
    );
    assert_eq!(report.findings[0].subject, SUMS_FILE);

    // A future format version is named, with what is supported.
    fs::write(
        &mpath,
        original.replace("\"format_version\": 3", "\"format_version\": 4"),
    )
    .unwrap();
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(kinds(&report), vec![ErrorKind::Corrupt]);
    let msg = &report.findings[0].message;
    assert!(
        msg.contains("format_version 4") && msg.contains("format version 1, 2, 3"),
        "{msg}"
    );

    // A creation or expiry time that is not a time.
    let created = "\"created\": \"2026-03-01T12:00:00Z\"";
    for (field, bad) in [
        ("created", "\"created\": \"soon\"".to_string()),
        (
            "valid_until",
            format!("{created},\n  \"valid_until\": \"never\""),
        ),
    ] {
        let edited = original.replacen(created, &bad, 1);
        assert_ne!(edited, original);
        fs::write(&mpath, edited).unwrap();
        let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
        assert_eq!(kinds(&report), vec![ErrorKind::Corrupt], "{field}");
        assert!(
            report.findings[0].message.contains("not an RFC 3339 time"),
            "{}",
            show(&report)
        );
    }

    // Not JSON at all.
    fs::write(&mpath, "PK\u{3}\u{4}").unwrap();
    assert_eq!(
        kinds(&verify(std::slice::from_ref(&w.dir), &NoProgress)),
        vec![ErrorKind::Corrupt]
    );

    // A manifest that lists an unsafe entry name.
    let evil = original.replacen(
        "\"path\": \"metadata.bin\"",
        "\"path\": \"../metadata.bin\"",
        1,
    );
    fs::write(&mpath, evil).unwrap();
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        report.first_error_kind(),
        Some(ErrorKind::UnsafeEntry),
        "{}",
        show(&report)
    );
}

#[test]
fn writing_refuses_bad_inputs_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, mut content) = written(tmp.path(), SMALL_VOLUME);
    // A finished bundle is never overwritten.
    let err = write_bundle(
        &tmp.path().join("out"),
        &spec("store-1", 7, content.clone(), SMALL_VOLUME),
        &NoProgress,
    )
    .unwrap_err();
    assert!(err.message.contains("already exists"), "{err}");
    assert!(verify(std::slice::from_ref(&w.dir), &NoProgress).ok());

    // A content file whose bytes do not match its hash: Corrupt, naming the file; the
    // folder is removed again.
    let out = tmp.path().join("out2");
    let damaged = content[5].path.clone();
    let mut bytes = fs::read(&damaged).unwrap();
    bytes[200_000] ^= 1;
    fs::write(&damaged, &bytes).unwrap();
    let err = write_bundle(
        &out,
        &spec("store-1", 8, content.clone(), SMALL_VOLUME),
        &NoProgress,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(
        err.message.contains(&damaged.display().to_string()),
        "{err}"
    );
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);

    // A size that does not match.
    content[5].size += 1;
    let err = write_bundle(
        &out,
        &spec("store-1", 8, content.clone(), SMALL_VOLUME),
        &NoProgress,
    )
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);

    // A volume size too small for the header and metadata.
    let err = write_bundle(&out, &spec("store-1", 8, vec![], 500), &NoProgress).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
    assert!(err.message.contains("too small"), "{err}");
}

#[test]
fn metadata_only_and_one_volume_bundles() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = spec("store-1", 2, vec![], presets::CD);
    s.kind = BundleKind::Incremental;
    s.base_sequence = Some(1);
    s.valid_until = Timestamp::parse_rfc3339("2026-04-01T00:00:00Z");
    let w = write_bundle(tmp.path(), &s, &NoProgress).unwrap();
    assert_eq!(w.manifest.volumes.len(), 1);
    assert_eq!(w.manifest.entries.len(), 1);
    let report = verify(&[w.dir.join(MANIFEST_FILE)], &NoProgress);
    assert!(report.ok(), "{}", show(&report));
    let reader = BundleReader::open(std::slice::from_ref(&w.dir)).unwrap();
    assert_eq!(reader.manifest().base_sequence, Some(1));
    assert_eq!(reader.manifest().valid_until, s.valid_until);
    let text = fs::read_to_string(w.dir.join(MANIFEST_FILE)).unwrap();
    assert!(
        text.contains("\"valid_until\": \"2026-04-01T00:00:00Z\""),
        "{text}"
    );
    assert_eq!(reader.read_metadata().unwrap(), sample_metadata());
    assert!(reader.content_files().is_empty());
}

#[test]
fn metadata_read_from_the_volume_checks_its_hash_before_decoding() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let path = vol_path(&w, 1);
    // Replace metadata.bin with a hostile envelope and have the manifest vouch for the
    // volume but not for the entry: the entry's hash is compared before bincode sees it.
    let mut evil = super::metadata::METADATA_MAGIC.to_vec();
    evil.extend_from_slice(&1u32.to_le_bytes());
    evil.extend_from_slice(&9u64.to_le_bytes());
    evil.push(0xfd);
    evil.extend_from_slice(&(1u64 << 40).to_le_bytes());
    rewrite_volume(&path, |e| {
        let m = e
            .iter_mut()
            .find(|x| x.name == names::METADATA_ENTRY)
            .unwrap();
        *m = RawEntry::deflated(names::METADATA_ENTRY, &evil);
    });
    revouch(&w.dir);
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        report.first_error_kind(),
        Some(ErrorKind::Corrupt),
        "{}",
        show(&report)
    );
    let err = BundleReader::open(std::slice::from_ref(&w.dir))
        .unwrap()
        .read_metadata()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt, "{err}");

    // With the manifest vouching for the entry too, the envelope decoder gives Limit.
    let mpath = w.dir.join(MANIFEST_FILE);
    let mut m = Manifest::parse(&fs::read(&mpath).unwrap()).unwrap();
    m.entries[0].size = evil.len() as u64;
    m.entries[0].sha256 = Sha256Hex(crate::hash::sha256(&evil));
    fs::write(&mpath, m.to_json_bytes()).unwrap();
    revouch(&w.dir);
    let reader = BundleReader::open(std::slice::from_ref(&w.dir)).unwrap();
    assert_eq!(reader.read_metadata().unwrap_err().kind, ErrorKind::Limit);
}

#[test]
fn verify_reads_entries_to_their_end() {
    // A volume whose bytes the manifest vouches for, but whose stored entry disagrees with
    // its CRC: only a read to the end notices.
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let path = vol_path(&w, 2);
    rewrite_volume(&path, |e| {
        let c = e
            .iter_mut()
            .rev()
            .find(|x| x.is_content() && x.size > 10)
            .unwrap();
        let n = c.data.len();
        c.data[n - 1] ^= 0x40;
    });
    revouch(&w.dir);
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        kinds(&report),
        vec![ErrorKind::Corrupt],
        "{}",
        show(&report)
    );
    assert!(
        report.findings[0].message.contains("CRC"),
        "{}",
        show(&report)
    );
}

#[test]
fn a_listed_entry_absent_from_its_volume_is_incomplete() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    // The empty file: removing it leaves the manifest's sizes consistent with the volume.
    let empty = w.manifest.entries.iter().find(|e| e.size == 0).unwrap();
    let removed = empty.path.clone();
    rewrite_volume(&vol_path(&w, empty.volume as usize), |e| {
        e.retain(|x| x.name != removed)
    });
    revouch(&w.dir);
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        kinds(&report),
        vec![ErrorKind::Incomplete],
        "{}",
        show(&report)
    );
    assert_eq!(report.findings[0].subject, removed);
    let reader = BundleReader::open(std::slice::from_ref(&w.dir)).unwrap();
    let Ok(names::EntryName::Content(hash)) = names::parse_entry_name(removed.as_bytes()) else {
        panic!("{removed} is not a whole content file");
    };
    assert_eq!(
        reader
            .copy_content(&hash, &mut Vec::new())
            .unwrap_err()
            .kind,
        ErrorKind::Incomplete
    );
}

#[test]
fn the_reader_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<BundleReader>();
    shareable::<VerifyReport>();
}

#[test]
fn manifest_caps_hold_at_their_edges() {
    use super::manifest::Limits;
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let m = &w.manifest;
    assert!(m.problems().is_empty());
    let limit_findings = |l: Limits| -> usize {
        m.problems_within(&l)
            .iter()
            .filter(|f| f.kind == ErrorKind::Limit)
            .count()
    };
    let f = Limits::FORMAT;
    let biggest_entry = m
        .entries
        .iter()
        .filter(|e| e.path != names::METADATA_ENTRY)
        .map(|e| e.size)
        .max()
        .unwrap();
    let biggest_volume = m.volumes.iter().map(|v| v.size).max().unwrap();
    let metadata = m.entries[0].size;
    // (limits at the manifest's own values: no finding; one less: a limit)
    let edges = [
        (
            Limits {
                entries: m.entries.len(),
                ..f
            },
            Limits {
                entries: m.entries.len() - 1,
                ..f
            },
        ),
        (
            Limits {
                volumes: m.volumes.len(),
                ..f
            },
            Limits {
                volumes: m.volumes.len() - 1,
                ..f
            },
        ),
        (
            Limits {
                entry_bytes: biggest_entry,
                ..f
            },
            Limits {
                entry_bytes: biggest_entry - 1,
                ..f
            },
        ),
        (
            Limits {
                volume_bytes: biggest_volume,
                ..f
            },
            Limits {
                volume_bytes: biggest_volume - 1,
                ..f
            },
        ),
        (
            Limits {
                stream_metadata_bytes: metadata,
                ..f
            },
            Limits {
                stream_metadata_bytes: metadata - 1,
                ..f
            },
        ),
    ];
    for (at, over) in edges {
        assert_eq!(limit_findings(at), 0, "{at:?}");
        assert!(limit_findings(over) >= 1, "{over:?}");
    }
    // A manifest of format 2 (metadata held whole) is held to the smaller cap.
    let mut m2 = m.clone();
    m2.format_version = 2;
    let v2_findings = |l: Limits| -> usize {
        m2.problems_within(&l)
            .iter()
            .filter(|f| f.kind == ErrorKind::Limit)
            .count()
    };
    let at = Limits {
        metadata_bytes: metadata,
        stream_metadata_bytes: metadata - 1,
        ..f
    };
    assert_eq!(v2_findings(at), 0, "{at:?}");
    let over = Limits {
        metadata_bytes: metadata - 1,
        ..at
    };
    assert_eq!(v2_findings(over), 1, "{over:?}");
    // The format's own values.
    assert_eq!(f.entries, 1_000_000);
    assert_eq!(f.volumes, 9_999);
    assert_eq!(f.entry_bytes, 1 << 40);
    assert_eq!(f.volume_bytes, 1 << 40);
    assert_eq!(f.metadata_bytes, (256 << 20) + 20);
    assert_eq!(f.stream_metadata_bytes, 16 << 30);
}

#[test]
fn metadata_that_disagrees_with_the_manifest_or_itself_is_corrupt() {
    use super::manifest::Layout;
    use super::metadata::metadata_problems;
    let tmp = tempfile::tempdir().unwrap();
    let (w, content) = written(tmp.path(), SMALL_VOLUME);
    let layout = Layout::new(&w.manifest);
    let good = sample_metadata();
    assert!(metadata_problems(&good, &w.manifest, &layout).is_empty());
    let guid = |s: &str| -> Guid { serde_json::from_value(serde_json::Value::from(s)).unwrap() };
    type Edit = Box<dyn Fn(&mut BundleMetadata)>;
    let carried = content.iter().find(|c| c.size > 0).unwrap().clone();
    let cases: Vec<(&str, Edit)> = vec![
        (
            "holds 2 categories",
            Box::new(|md| {
                md.categories.pop();
            }),
        ),
        (
            "holds 6 updates",
            Box::new(|md| md.updates.push(md.updates[0].clone())),
        ),
        (
            "removed updates",
            Box::new(|md| md.updates[0].state = RecordState::Removed),
        ),
        (
            "twice",
            Box::new(|md| {
                md.updates[1].update.id = md.updates[0].update.id.clone();
            }),
        ),
        (
            "twice",
            Box::new(|md| md.categories[1].id = md.categories[0].id.clone()),
        ),
        (
            "canonical",
            Box::new(move |md| md.updates[0].update.id = guid("../x")),
        ),
        (
            "canonical",
            Box::new(move |md| md.categories[2].id = guid(&format!("{{{}}}", md.categories[2].id))),
        ),
        (
            "canonical",
            Box::new(move |md| md.updates[0].update.supersedes.push(guid(""))),
        ),
        (
            "canonical",
            Box::new(move |md| md.categories[0].parent = Some(guid("{x}"))),
        ),
        (
            "more than the limit",
            Box::new(|md| {
                md.updates[0].update.files[0].size = Some((1 << 40) + 1);
            }),
        ),
        (
            "carries it with",
            Box::new(move |md| {
                let f = &mut md.updates[0].update.files[0];
                f.sha256 = Some(carried.sha256);
                f.size = Some(carried.size + 1);
            }),
        ),
    ];
    for (says, edit) in cases {
        let mut md = good.clone();
        edit(&mut md);
        let found = metadata_problems(&md, &w.manifest, &layout);
        assert!(!found.is_empty(), "{says}: nothing found");
        assert!(found.iter().all(|f| f.kind == ErrorKind::Corrupt));
        assert!(
            found.iter().any(|f| f.message.contains(says)),
            "{says}: {found:?}"
        );
    }
    // Allowed: a file at its limit, a reference to content the bundle does not carry, and a
    // carried file referred to with its right size or with no size.
    let mut md = good.clone();
    md.updates[0].update.files[0].size = Some(1 << 40);
    md.updates[1].update.files[0].sha256 = Some(content[3].sha256);
    md.updates[1].update.files[0].size = Some(content[3].size);
    md.updates[2].update.files[0].sha256 = Some(content[4].sha256);
    md.updates[2].update.files[0].size = None;
    assert!(metadata_problems(&md, &w.manifest, &layout).is_empty());
    // Many problems are listed with a count, not one by one.
    let mut md = good.clone();
    for r in &mut md.updates {
        r.update.categories = vec![guid("bad"); 100];
    }
    let found = metadata_problems(&md, &w.manifest, &layout);
    assert_eq!(found.len(), 51, "{found:?}");
    assert!(found[50].message.contains("450 more"), "{:?}", found[50]);
}

#[test]
fn verify_and_the_reader_refuse_metadata_the_manifest_does_not_count() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let content = make_content(&root.join("src"), SIZES);
    let mut s = spec("store-1", 7, content, SMALL_VOLUME);
    // The stream writer refuses a duplicate: an older envelope carries it.
    let mut md = sample_metadata();
    md.updates.push(md.updates[0].clone());
    let bytes = super::metadata::encode_metadata(&md).unwrap();
    s.metadata = EncodedMetadata::from_envelope(&bytes, &md, root).unwrap();
    let w = write_bundle(&root.join("out"), &s, &NoProgress).unwrap();
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(
        kinds(&report),
        vec![ErrorKind::Corrupt],
        "{}",
        show(&report)
    );
    assert!(
        report.findings[0].message.contains("twice"),
        "{}",
        show(&report)
    );
    let err = BundleReader::open(std::slice::from_ref(&w.dir))
        .unwrap()
        .read_metadata()
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Corrupt);
    assert!(err.message.contains("twice"), "{err}");
}

#[test]
fn only_regular_files_are_read_and_within_their_cap() {
    use super::verify::read_capped;
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("f");
    fs::write(&f, [7u8; 100]).unwrap();
    assert_eq!(read_capped(&f, 100).unwrap().len(), 100);
    assert_eq!(read_capped(&f, 99).unwrap_err().kind, ErrorKind::Limit);
    // A FIFO would block the open; a folder is no file either.
    let fifo = tmp.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        assert_eq!(
            read_capped(&fifo, 100).unwrap_err().kind,
            ErrorKind::Corrupt
        );
    } else {
        eprintln!("skipped the FIFO: mkfifo is not available");
    }
    assert_eq!(
        read_capped(tmp.path(), 100).unwrap_err().kind,
        ErrorKind::Corrupt
    );
}

#[test]
fn extra_fields_other_than_zip64_and_comments_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let path = vol_path(&w, 2);
    let bytes = fs::read(&path).unwrap();
    // The second entry's central record: add a file comment, then (instead) an extra field.
    let mut cur = Cursor::new(bytes.clone());
    let dir = zipfmt::read_directory(&mut cur, bytes.len() as u64, "t", 100_000).unwrap();
    let entries = zipfmt::read_central(&mut cur, &dir, "t").unwrap();
    let mut e = entries[1].clone();
    assert!(zipfmt::read_local(&mut cur, &e, "t").is_ok());
    e.comment_len = 3;
    assert_eq!(
        zipfmt::read_local(&mut cur, &e, "t").unwrap_err().kind,
        ErrorKind::Corrupt
    );
    e.comment_len = 0;
    e.foreign_extra = Some(Some(0x5455));
    let err = zipfmt::read_local(&mut cur, &e, "t").unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnsafeEntry);
    assert!(err.message.contains("0x5455"), "{}", err.message);
    e.foreign_extra = Some(None);
    assert_eq!(
        zipfmt::read_local(&mut cur, &e, "t").unwrap_err().kind,
        ErrorKind::UnsafeEntry
    );
}

#[test]
fn a_central_comment_running_past_the_directory_is_corrupt_not_a_panic() {
    // Found by fuzzing: the comment was read short without an error, and the byte count of
    // the records then passed the directory's size (an overflow in debug builds).
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = written(tmp.path(), SMALL_VOLUME);
    let path = vol_path(&w, 1);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes
        .windows(4)
        .rposition(|x| x == [0x50, 0x4b, 0x01, 0x02])
        .expect("a central directory record");
    bytes[last + 32] = 1;
    fs::write(&path, &bytes).unwrap();
    revouch(&w.dir);
    let report = verify(std::slice::from_ref(&w.dir), &NoProgress);
    assert_eq!(kinds(&report)[0], ErrorKind::Corrupt, "{}", show(&report));
    assert!(
        show(&report).contains("comment runs past"),
        "{}",
        show(&report)
    );
}
