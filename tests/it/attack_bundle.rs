//! Issue 10, bundle side: what an outside attack found, as cases of the hostile-input suite
//! (this module is a child of `hostile`, so each case runs with its world, its memory and time
//! limits and its checks: the exit codes of `verify` and `import`, an unchanged store where
//! the bundle is refused, nothing written anywhere else, no staging left behind).
//!
//! - 10.2 verify and import agree: every refusal of the bundle's own content has the same exit
//!   code in both; `verify` without `--pubkey` says that a signature file was not checked.
//! - 10.3 one set of limits at the door: the store's limits (`src/limits.rs`) on what it keeps
//!   are checked by verify and import (exit 16, naming the limit); the metadata's declared size
//!   is capped so that a small volume cannot inflate into a gigabyte.
//! - 10.5 media that change while read: a FIFO where a volume was is refused, never waited on.
//! - 10.7 the ZIP subset of docs/BUNDLE-FORMAT.md, enforced.

use super::*;
use offsync::model::Localized;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// 10.3: the store's limits at the door

/// Gives update `i` (one the isolated store lacks) `n` more file references, none of them
/// carried by the bundle (so only the count is wrong).
fn more_files(n: usize) -> impl Fn(&World, &Path) {
    md_edit(false, move |md, w, _| {
        let i = new_update(md, w);
        let files = &mut md.updates[i].update.files;
        let template = FileRef {
            name: "f".into(),
            size: None,
            sha1: None,
            sha256: None,
            url: None,
        };
        files.extend(std::iter::repeat_n(template, n));
    })
}

/// Sets the English title and description of an update the store lacks.
fn text_of(title: usize, description: usize) -> impl Fn(&World, &Path) {
    md_edit(false, move |md, w, _| {
        let i = new_update(md, w);
        md.updates[i].update.localized.insert(
            "en".into(),
            Localized {
                title: "t".repeat(title),
                description: Some("d".repeat(description)),
            },
        );
    })
}

#[test]
fn the_stores_limits_are_checked_at_the_door() {
    let w = world();
    let files = offsync::limits::MAX_FILES_PER_UPDATE;
    let title = offsync::limits::MAX_TITLE_BYTES;
    let description = offsync::limits::MAX_DESCRIPTION_BYTES;
    let cases = vec![
        case(
            "l1",
            "an update with 600,000 file references (the store could not read it back)",
            Some(16),
            16,
            more_files(600_000),
        )
        .says(&["file references per update"]),
        case(
            "l2",
            "an update one file reference over the limit",
            Some(16),
            16,
            more_files(files + 1),
        )
        .says(&["10000 file references per update"]),
        case(
            "l3",
            "a title one byte over the limit",
            Some(16),
            16,
            text_of(title + 1, 0),
        )
        .says(&["bytes per title"]),
        case(
            "l4",
            "a description one byte over the limit",
            Some(16),
            16,
            text_of(1, description + 1),
        )
        .says(&["bytes per description"]),
        case(
            "l5",
            "a category title one byte over the limit",
            Some(16),
            16,
            md_edit(false, move |md, _, _| md.categories[0].title = "c".repeat(title + 1)),
        )
        .says(&["category", "bytes per title"]),
        case(
            "l6",
            "a document within the counts that the store could not decode (9,000 files of 8 KiB names)",
            Some(16),
            16,
            md_edit(false, |md, w, _| {
                let i = new_update(md, w);
                let name = "n".repeat(8192);
                md.updates[i]
                    .update
                    .files
                    .extend((0..9000).map(|_| FileRef {
                        name: name.clone(),
                        size: None,
                        sha1: None,
                        sha256: None,
                        url: None,
                    }));
            }),
        )
        .says(&["per stored document"]),
        case(
            "l7",
            "at the limits (files, title, description): imported",
            Some(0),
            0,
            md_edit(false, move |md, w, _| {
                let i = new_update(md, w);
                let u = &mut md.updates[i].update;
                let have = u.files.len();
                u.files.extend((have..files).map(|k| FileRef {
                    name: format!("f{k}"),
                    size: None,
                    sha1: None,
                    sha256: None,
                    url: None,
                }));
                u.localized.insert(
                    "en".into(),
                    Localized {
                        title: "t".repeat(title),
                        description: Some("d".repeat(description)),
                    },
                );
            }),
        ),
    ];
    check_all(&w, cases);
}

/// A raw deflate stream (one block of fixed Huffman codes) that inflates to `1 + 258 * n`
/// bytes of `A`: a literal, then `n` copies of the longest match at distance 1. About 158:1,
/// built in a moment without deflating a gigabyte.
fn a_deflate_bomb(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, v: u64, n: u32) {
            self.acc |= v << self.len;
            self.len += n;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// Huffman codes go most significant bit first.
        fn code(&mut self, code: u32, n: u32) {
            let rev = (0..n).fold(0u64, |r, i| (r << 1) | u64::from((code >> i) & 1));
            self.put(rev, n);
        }
    }
    let mut b = Bits {
        out: Vec::with_capacity(n * 13 / 8 + 16),
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // the final block
    b.put(1, 2); // fixed Huffman codes
    b.code(0x30 + u32::from(b'A'), 8);
    for _ in 0..n {
        b.code(0xC0 + 5, 8); // length 258 (symbol 285)
        b.code(0, 5); // distance 1
    }
    b.code(0, 7); // end of block
    b.put(0, 7);
    b.out
}

/// Copies of the longest match in the bombs below: 1 + 258 × this = 1,000,000,003 bytes.
const GIGABYTE_MATCHES: usize = 3_875_969;

/// metadata.bin replaced by a deflate stream of about 0.8 MiB that inflates to 128 MB of
/// junk, declared (and vouched for) at that size: legal in size for format 3, so it is read
/// (a debug build inflates a gigabyte too slowly for the default suite).
fn metadata_of_junk(w: &World, b: &Path) {
    let n = GIGABYTE_MATCHES / 8;
    metadata_bomb(w, b, n, 1 + 258 * n as u64);
}

/// A deflate stream of about 6 MiB that inflates to 1,000,000,003 bytes, declared at one byte
/// over the cap of a streamed `metadata.bin` (16 GiB).
fn metadata_over_the_cap(w: &World, b: &Path) {
    metadata_bomb(w, b, GIGABYTE_MATCHES, (16 << 30) + 1);
}

/// metadata.bin replaced by a deflate stream that inflates to `1 + 258 * n` bytes of `A`,
/// declared (and vouched for) at `said` bytes.
fn metadata_bomb(_: &World, b: &Path, n: usize, said: u64) {
    let z = a_deflate_bomb(n);
    edit_volume(&vol(b, 1), |ents| {
        let e = named(ents, "metadata.bin");
        e.crc = 0;
        e.size = said;
        e.csize = z.len() as u64;
        e.data = z;
    });
    edit_manifest(b, |m| {
        let e = entry(m, "metadata.bin");
        e["size"] = Value::from(said);
        e["sha256"] = Value::from(sha_hex(b"a hash the inflated bytes will not have"));
    });
}

#[test]
fn a_metadata_volume_that_inflates_to_a_gigabyte_is_a_limit() {
    let w = world();
    check_all(
        &w,
        vec![
            // Format 3 reads metadata one record at a time, so a gigabyte is a legal size
            // (a million revisions take 0.94 GB): such bytes are refused for what they are.
            case(
                "l8",
                "metadata.bin of 0.8 MiB that inflates to 128 MB of junk",
                Some(10),
                10,
                metadata_of_junk,
            )
            .says(&["metadata.bin"]),
            case(
                "l8b",
                "metadata.bin of 6 MiB that inflates to 1 GB, declared at 16 GiB + 1 (the cap)",
                Some(16),
                16,
                metadata_over_the_cap,
            )
            .says(&["metadata.bin"]),
        ],
    );
    // Declared over the cap, under 256 MiB of address space: refused before a byte is
    // inflated.
    let b = w.root.join("bomb").join(w.good.file_name().unwrap());
    copy_tree(&w.good, &b);
    metadata_over_the_cap(&w, &b);
    let fp = fingerprint(&w.store);
    for verb in [vec!["verify"], vec!["import", "--store", p(&w.store)]] {
        let started = Instant::now();
        let (code, out, err) =
            run_limited(&w.cwd, &os(&verb, std::slice::from_ref(&b)), 256 * 1024);
        assert_eq!(code, 16, "{verb:?} under 256 MiB:\n{out}{err}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{verb:?} took long"
        );
    }
    assert_eq!(fingerprint(&w.store), fp, "the store changed");
}

// ---------------------------------------------------------------------------------------------
// 10.2: verify and import agree

/// Sets a manifest field to a JSON value (and vouches for the volumes again).
fn manifest_field(field: &'static str, value: &'static str) -> impl Fn(&World, &Path) {
    move |_, b| edit_manifest(b, |m| m[field] = Value::from(value))
}

#[test]
fn verify_and_import_agree_on_the_bundles_own_content() {
    let w = world();
    let cases = vec![
        case(
            "a1",
            "valid_until that is not a time",
            Some(10),
            10,
            manifest_field("valid_until", "next tuesday"),
        )
        .says(&["not an RFC 3339 time"]),
        case(
            "a2",
            "created that is not a time",
            Some(10),
            10,
            manifest_field("created", "2026-13-01T00:00:00Z"),
        ),
        case(
            "a3",
            "a year out of range (five digits)",
            Some(10),
            10,
            manifest_field("valid_until", "10000-01-01T00:00:00Z"),
        ),
        case(
            "a4",
            "a year out of range (negative)",
            Some(10),
            10,
            manifest_field("created", "-001-01-01T00:00:00Z"),
        ),
        // A metadata payload over a limit: the same 16 from both (more in the limit cases).
        case(
            "a5",
            "a title over the limit",
            Some(16),
            16,
            text_of(offsync::limits::MAX_TITLE_BYTES + 1, 0),
        ),
    ];
    check_all(&w, cases);
}

#[test]
fn verify_says_when_a_signature_was_not_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let store = synced_store(tmp.path(), "connected");
    let (_, b) = export(&store, &tmp.path().join("media"), &[]);
    // No signature file: said to be absent, and nothing said of checking one.
    let out = run(&["verify", p(&b)], 0);
    assert!(out.contains("signature: absent"), "{out}");
    assert!(!out.contains("not checked"), "{out}");
    assert_eq!(
        json(&["verify", p(&b), "--json"])["signature"]["state"],
        "absent"
    );
    // A signature file and no key: said in the text and in the JSON, still exit 0.
    fs::write(
        b.join("manifest.json.minisig"),
        "untrusted comment: x\nnot checked\n",
    )
    .unwrap();
    let out = run(&["verify", p(&b)], 0);
    assert!(out.contains("signature: present, not checked"), "{out}");
    assert_eq!(
        json(&["verify", p(&b), "--json"])["signature"]["state"],
        "not-checked"
    );
}

// ---------------------------------------------------------------------------------------------
// 10.5: media that change while read

#[test]
fn a_fifo_in_place_of_a_volume_is_refused_without_waiting() {
    let w = world();
    let cases = vec![
        case(
            "f1",
            "volume 3 is a FIFO at import start",
            Some(11),
            11,
            |_, b| {
                let v = vol(b, 3);
                fs::remove_file(&v).unwrap();
                mkfifo(&v);
            },
        ),
        case_paths(
            "f2",
            "volume 3 given as a FIFO path on a further disc",
            Some(11),
            11,
            |w, b| {
                let v = vol(b, 3);
                fs::remove_file(&v).unwrap();
                let disc = w.root.join("cases").join("f2-disc");
                fs::create_dir_all(&disc).unwrap();
                let f = disc.join(v.file_name().unwrap());
                let _ = fs::remove_file(&f);
                mkfifo(&f);
                vec![b.to_path_buf(), f]
            },
        ),
    ];
    check_all(&w, cases);
}

/// The library's own open of a path from the media: a FIFO is refused at once as corrupt
/// (it is what every read of the media goes through, so a FIFO swapped in after the checks by
/// name is refused where it is opened, instead of blocking the open).
#[test]
fn opening_a_fifo_from_the_media_does_not_block() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("v.zip");
    mkfifo(&f);
    let (tx, rx) = std::sync::mpsc::channel();
    let path = f.clone();
    std::thread::spawn(move || {
        let _ = tx.send(offsync::bundle::verify::open_media(&path).map(|_| ()));
    });
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("opening a FIFO blocked");
    let err = got.expect_err("a FIFO is not a volume");
    assert_eq!(err.kind, offsync::ErrorKind::Corrupt, "{err}");
    assert!(err.message.contains("not a regular file"), "{err}");
}

/// A volume swapped for a FIFO while import runs (at a few moments): import always ends, by
/// itself, refusing the bundle or having read the volume before the swap.
#[test]
fn a_volume_swapped_for_a_fifo_during_import_never_blocks() {
    let w = world();
    for (n, delay_ms) in [0u64, 20, 60, 150].into_iter().enumerate() {
        let dir = w.root.join("swap").join(n.to_string());
        let b = dir.join(w.good.file_name().unwrap());
        copy_tree(&w.good, &b);
        let store = dir.join("store");
        copy_tree(&w.store, &store);
        let v = vol(&b, 4);
        let fifo = dir.join("fifo");
        mkfifo(&fifo);
        let swapper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(delay_ms));
            fs::rename(&fifo, &v).unwrap();
        });
        let started = Instant::now();
        let (code, out, err) = run_in(&w.cwd, &os(&["import", "--store", p(&store)], &[b]));
        swapper.join().unwrap();
        assert!(
            [0, 10, 11].contains(&code),
            "swap after {delay_ms} ms: import exited {code}\n{out}{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "swap after {delay_ms} ms: import took {:?}",
            started.elapsed()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 10.7: the ZIP subset

/// Edits metadata.bin's entry in volume 1 and vouches for the volume.
fn edit_metadata_entry(f: fn(&mut Ent)) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_volume(&vol(b, 1), |ents| f(named(ents, "metadata.bin")));
        revouch(b);
    }
}

/// Edits volume 2's header entry (its JSON) and vouches for the volume.
fn edit_header(f: fn(&mut Value)) -> impl Fn(&World, &Path) {
    move |_, b| {
        edit_volume(&vol(b, 2), |ents| {
            let e = named(ents, "offsync-volume.json");
            let mut v: Value = serde_json::from_slice(&e.data).unwrap();
            f(&mut v);
            let data = serde_json::to_vec(&v).unwrap();
            *e = Ent::stored(b"offsync-volume.json", &data);
        });
        revouch(b);
    }
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn the_zip_subset_is_enforced() {
    let w = world();
    let cases = vec![
        case(
            "z1",
            "a ZIP64 extra field on small sizes (central record)",
            Some(15),
            15,
            edit_content(|e| e.central_extra = z64(&[e.size])),
        )
        .says(&["ZIP64 extra field"]),
        case(
            "z2",
            "a ZIP64 extra field on small sizes (local header)",
            Some(15),
            15,
            edit_content(|e| e.local_extra = z64(&[e.size, e.csize])),
        )
        .says(&["ZIP64 extra field"]),
        case(
            "z3",
            "made by MS-DOS (a plain file)",
            Some(15),
            15,
            edit_content(|e| {
                e.made_by = 0x0014;
                e.attrs = 0x20;
            }),
        )
        .says(&["made by system 0"]),
        case(
            "z4",
            "made by NTFS, Unix mode bits as ours",
            Some(15),
            15,
            edit_content(|e| e.made_by = 0x0A14),
        ),
        case(
            "z5",
            "a setuid file",
            Some(15),
            15,
            edit_content(|e| e.attrs = 0o104_644 << 16),
        )
        .says(&["file mode 104644"]),
        case(
            "z6",
            "an executable file",
            Some(15),
            15,
            edit_content(|e| e.attrs = 0o100_755 << 16),
        ),
        case(
            "z7",
            "the volume header's mode is executable",
            Some(15),
            15,
            |_, b| {
                edit_volume(&vol(b, 2), |ents| {
                    named(ents, "offsync-volume.json").attrs = 0o100_755 << 16
                });
                revouch(b);
            },
        ),
        case(
            "z8",
            "an unknown field in the volume header",
            Some(10),
            10,
            edit_header(|v| v["extract_to"] = Value::from("/etc")),
        )
        .says(&["unknown field"]),
        case(
            "z9",
            "metadata.bin stored instead of deflated",
            Some(10),
            10,
            edit_metadata_entry(|e| {
                let raw = inflate(&e.data);
                *e = Ent::stored(b"metadata.bin", &raw);
            }),
        )
        .says(&["stored where the format has it deflated"]),
        case(
            "z10",
            "a content file deflated instead of stored",
            Some(10),
            10,
            edit_content(|e| {
                e.data = deflate(&e.data);
                e.csize = e.data.len() as u64;
                e.method = 8;
            }),
        )
        .says(&["deflated where the format has it stored"]),
        case(
            "z11",
            "bytes hidden after the final deflate block",
            Some(10),
            10,
            edit_metadata_entry(|e| {
                e.data
                    .extend_from_slice(b"hidden from a reader that stops at the final block");
                e.csize = e.data.len() as u64;
            }),
        )
        .says(&["deflate stream ends after"]),
        case(
            "z12",
            "version needed 6.3 (central record)",
            Some(10),
            10,
            edit_content(|e| e.version = 63),
        )
        .says(&["needs ZIP version 6.3"]),
        case(
            "z13",
            "version needed 5.1 (local header only)",
            Some(10),
            10,
            local_differs(|e| e.version = 51),
        ),
        // Timestamps are not enforced (docs/BUNDLE-FORMAT.md, "The ZIP subset"): every volume
        // these cases rebuild carries 1980-01-01, not the bundle's creation time, and is
        // imported when nothing else is wrong with it.
        case(
            "z14",
            "a volume rebuilt with other timestamps: imported",
            Some(0),
            0,
            edit_content(|_| {}),
        ),
    ];
    check_all(&w, cases);
}
