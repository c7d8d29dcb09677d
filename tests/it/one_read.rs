//! One read of the media: `verify` and `import` read each volume byte once, `export` reads
//! each content byte from the store once, counted by the reader's own counters (the
//! `--json` fields `bytes_read`, `media_bytes_read`, `content_bytes_read`).
//!
//! The only bytes read twice are each volume's end record (22 bytes) and central directory:
//! they are read first, from the end of the volume, to know where the entries are, and again
//! when the single pass reaches them (the volume's SHA-256 covers them). The tolerance is
//! exactly that, computed from each volume's own end record; nothing else may be read again.

use crate::common::*;
use std::fs;
use std::path::Path;

/// Sum of the sizes of `vols`, and of their end records plus central directories.
fn sizes_and_tails(vols: &[std::path::PathBuf]) -> (u64, u64) {
    let (mut total, mut tails) = (0u64, 0u64);
    for v in vols {
        let bytes = fs::read(v).unwrap();
        let eocd = &bytes[bytes.len() - 22..];
        assert_eq!(
            &eocd[..4],
            b"PK\x05\x06",
            "{} ends with its end record",
            v.display()
        );
        let cd_size = u32::from_le_bytes(eocd[12..16].try_into().unwrap());
        total += bytes.len() as u64;
        tails += 22 + u64::from(cd_size);
    }
    (total, tails)
}

#[test]
fn export_verify_and_import_read_each_byte_once() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (r, bundle) = export(
        &connected,
        &dir.path().join("media"),
        &["--max-volume-size", "48K"],
    );
    // Export: every content byte read from the store once, no written volume read back.
    let content = r["content_bytes"].as_u64().unwrap();
    assert!(content > 0, "{r}");
    assert_eq!(r["content_bytes_read"].as_u64(), Some(content), "{r}");
    assert_eq!(r["volume_bytes_read_back"].as_u64(), Some(0), "{r}");

    let vols = volumes(&bundle);
    assert!(vols.len() >= 3, "several volumes: {r}");
    let (total, tails) = sizes_and_tails(&vols);

    let v = json(&["verify", "--json", p(&bundle)]);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["bytes_read"].as_u64(), Some(total), "one pass: {v}");
    assert_eq!(
        v["media_bytes_read"].as_u64(),
        Some(total + tails),
        "each volume once, its end records and central directory twice: {v}"
    );

    let isolated = init_store(dir.path(), "isolated");
    let i = import_json(&isolated, &bundle);
    assert_eq!(i["outcome"], "imported", "{i}");
    assert_eq!(
        i["media_bytes_read"].as_u64(),
        Some(total + tails),
        "import reads the media once: {i}"
    );
    // Imported again: nothing to stage, the bundle is still read (and checked) once.
    let again = import_json(&isolated, &bundle);
    assert_eq!(again["outcome"], "already-imported", "{again}");
    assert_eq!(again["media_bytes_read"].as_u64(), Some(total + tails));
}

/// Flips the byte at `at` of `path`.
fn flip(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0x55;
    fs::write(path, bytes).unwrap();
}

/// Where the first (`last`: the last) `content/` name of a volume is.
fn content_name_at(vol: &Path, last: bool) -> usize {
    let bytes = fs::read(vol).unwrap();
    let hits: Vec<usize> = bytes
        .windows(8)
        .enumerate()
        .filter(|(_, w)| *w == b"content/")
        .map(|(i, _)| i)
        .collect();
    if last { *hits.last().unwrap() } else { hits[0] }
}

/// Import of a damaged copy of `bundle` (`damage` changes it) into a copy of a fresh store:
/// refused with `code`, the store unchanged, nothing left in staging.
fn refused(dir: &Path, bundle: &Path, name: &str, code: i32, damage: impl FnOnce(&Path)) {
    let copy = dir.join(name);
    copy_tree(bundle, &copy);
    damage(&copy);
    let store = init_store(dir, &format!("store-{name}"));
    let before = fingerprint(&store);
    let (c, out, err) = run_any(&["import", "--store", p(&store), p(&copy)]);
    assert_eq!(c, code, "{name}: import\n{out}\n{err}");
    let (vc, _, _) = run_any(&["verify", p(&copy)]);
    assert_eq!(vc, code, "{name}: verify and import agree");
    assert_eq!(fingerprint(&store), before, "{name}: store unchanged");
    let staged: Vec<_> = fs::read_dir(store.join("staging"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(staged.is_empty(), "{name}: staging left {staged:?}");
}

#[test]
fn a_flipped_byte_is_refused_as_before_and_nothing_is_staged() {
    let dir = tempfile::tempdir().unwrap();
    let connected = synced_store(dir.path(), "connected");
    let (_, bundle) = export(&connected, &dir.path().join("media"), &[]);
    let vol = |b: &Path| volumes(b).pop().unwrap();
    // In a content entry's data (72 = the length of `content/<sha256>`): the volume's hash
    // differs from the manifest's.
    refused(dir.path(), &bundle, "content", 10, |b| {
        let v = vol(b);
        flip(&v, content_name_at(&v, false) + 72 + 3);
    });
    // The same, with a manifest that vouches for the damaged volume: the entry's own SHA-256
    // refuses it, after its bytes were staged.
    refused(dir.path(), &bundle, "content-vouched", 10, |b| {
        let v = vol(b);
        flip(&v, content_name_at(&v, false) + 72 + 3);
        revouch(b);
    });
    // In the central directory (a name's hex digit): the volume's hash differs.
    refused(dir.path(), &bundle, "directory", 10, |b| {
        let v = vol(b);
        flip(&v, content_name_at(&v, true) + 10);
    });
    // The same, vouched for: the central directory names an entry its local header does not.
    refused(dir.path(), &bundle, "directory-vouched", 15, |b| {
        let v = vol(b);
        flip(&v, content_name_at(&v, true) + 10);
        revouch(b);
    });
}
