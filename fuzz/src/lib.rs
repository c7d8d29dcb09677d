//! Shared harness code for the fuzz targets in `fuzz_targets/` (see docs/FUZZING.md).
//!
//! Most targets are one call on the input bytes. The volume target needs more: a volume is
//! only parsed once a manifest vouches for its size and SHA-256, so [`VolumeHarness`] turns
//! each input into a bundle folder whose manifest (taken from a real export, made by
//! `gen-corpus`) lists the input as one of its volumes, and then runs the verifier and the
//! importer's reader over it.

use offsync::bundle::names::{self, EntryName};
use offsync::bundle::{BundleReader, Manifest, VerifyReport, verify};
use offsync::progress::NoProgress;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where `gen-corpus` writes the template bundles for the volume target, unless
/// `OFFSYNC_FUZZ_TEMPLATES` says otherwise.
pub fn default_templates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

/// A scratch folder in memory-backed storage (`/dev/shm` when there is one), named after this
/// process. A fuzzer that crashes never drops its harness, so scratch folders of processes
/// that no longer run are removed first.
pub fn scratch_dir() -> tempfile::TempDir {
    const PREFIX: &str = "offsync-fuzz-";
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    if let Ok(list) = fs::read_dir(&base) {
        for e in list.flatten() {
            let name = e.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
                continue;
            };
            let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    tempfile::Builder::new()
        .prefix(&format!("{PREFIX}{}-", std::process::id()))
        .tempdir_in(&base)
        .expect("a temporary folder")
}

/// One bundle written by the real exporter: its manifest and its volumes' bytes.
pub struct Template {
    pub manifest: Manifest,
    pub volumes: Vec<Vec<u8>>,
}

impl Template {
    /// Loads a bundle folder (manifest.json and every volume it lists).
    pub fn load(dir: &Path) -> io::Result<Template> {
        let bytes = fs::read(dir.join(names::MANIFEST_FILE))?;
        let manifest = Manifest::parse(&bytes)
            .map_err(|e| io::Error::other(format!("{}: {}", dir.display(), e.message)))?;
        let mut volumes = Vec::new();
        for v in &manifest.volumes {
            volumes.push(fs::read(dir.join(&v.name))?);
        }
        Ok(Template { manifest, volumes })
    }

    /// Every template bundle under `root` (one sub-folder each), sorted by folder name so
    /// that the selector byte of an input means the same thing on every run.
    pub fn load_all(root: &Path) -> io::Result<Vec<Template>> {
        let mut dirs: Vec<PathBuf> = fs::read_dir(root)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(names::MANIFEST_FILE).is_file())
            .collect();
        dirs.sort();
        dirs.iter().map(|d| Template::load(d)).collect()
    }
}

/// The manifest of `template` with volume `idx` (0-based) replaced by `volume`: its size
/// and SHA-256 are the input's, so the verifier gets past the hash check and into the ZIP
/// parser.
///
/// When the input is too short to hold the stored entries the template puts in that volume,
/// the manifest would be inconsistent and verify would stop before opening any volume; then
/// every content file with a part in that volume is dropped (all its parts, in every volume)
/// and the counts are recomputed, so the manifest stays consistent and the volume is still
/// parsed (its entries are then "not listed", an unsafe-entry finding).
pub fn manifest_for(template: &Manifest, idx: usize, volume: &[u8]) -> Manifest {
    let mut m = template.clone();
    let len = volume.len() as u64;
    m.volumes[idx].size = len;
    m.volumes[idx].sha256.0 = offsync::hash::sha256(volume);
    let vol = idx as u32 + 1;
    let stored: u64 = m
        .entries
        .iter()
        .filter(|e| e.volume == vol && e.path != names::METADATA_ENTRY)
        .map(|e| e.size)
        .sum();
    if stored > len {
        let drop: BTreeSet<[u8; 32]> = m
            .entries
            .iter()
            .filter(|e| e.volume == vol)
            .filter_map(|e| content_file_of(&e.path))
            .collect();
        m.entries
            .retain(|e| content_file_of(&e.path).is_none_or(|h| !drop.contains(&h)));
        let mut files: BTreeMap<[u8; 32], u64> = BTreeMap::new();
        for e in &m.entries {
            if let Some(h) = content_file_of(&e.path) {
                *files.entry(h).or_default() += e.size;
            }
        }
        m.counts.content_files = files.len() as u64;
        m.counts.content_bytes = files.values().sum();
    }
    m
}

fn content_file_of(path: &str) -> Option<[u8; 32]> {
    match names::parse_entry_name(path.as_bytes()) {
        Ok(EntryName::Content(h)) | Ok(EntryName::Piece(h, _)) => Some(h),
        _ => None,
    }
}

/// The volume target's state: the templates, and two folders in memory-backed storage
/// (`/dev/shm` when there is one) that are rewritten for every input.
pub struct VolumeHarness {
    templates: Vec<Template>,
    /// (template, volume index) for every volume of every template: the input's first byte
    /// picks one of these.
    slots: Vec<(usize, usize)>,
    _tmp: tempfile::TempDir,
    /// The bundle folder: manifest.json and the input under the chosen volume's name.
    bundle: PathBuf,
    /// Per slot, a folder holding the template's other volumes, unchanged (for the reader,
    /// which needs every volume), written once.
    others: Vec<PathBuf>,
}

/// What one input came to (for the harness's own checks and for `gen-corpus`).
pub struct VolumeOutcome {
    /// Which volume of the template the input stood in for (0-based).
    pub volume_index: usize,
    pub manifest_consistent: bool,
    pub verify: VerifyReport,
    /// The reader's result: Ok(content files copied) or the first error's message.
    pub reader: Result<usize, String>,
}

impl VolumeHarness {
    pub fn new() -> VolumeHarness {
        let root = std::env::var_os("OFFSYNC_FUZZ_TEMPLATES")
            .map(PathBuf::from)
            .unwrap_or_else(default_templates_dir);
        let templates = Template::load_all(&root).unwrap_or_else(|e| {
            panic!(
                "cannot load the volume target's templates from {}: {e}\n\
                 run `cargo run --release --example gen-corpus` in fuzz/ first",
                root.display()
            )
        });
        assert!(
            !templates.is_empty(),
            "no template bundle in {}: run `cargo run --release --example gen-corpus` in fuzz/ first",
            root.display()
        );
        VolumeHarness::with_templates(templates)
    }

    pub fn with_templates(templates: Vec<Template>) -> VolumeHarness {
        let slots: Vec<(usize, usize)> = templates
            .iter()
            .enumerate()
            .flat_map(|(t, tpl)| (0..tpl.volumes.len()).map(move |v| (t, v)))
            .collect();
        let tmp = scratch_dir();
        let bundle = tmp.path().join("bundle");
        let mut others = Vec::new();
        for (slot, &(t, idx)) in slots.iter().enumerate() {
            let d = tmp.path().join(format!("others-{slot}"));
            fs::create_dir_all(&d).expect("create a folder of volumes");
            let tpl: &Template = &templates[t];
            for (i, v) in tpl.manifest.volumes.iter().enumerate() {
                if i != idx {
                    fs::write(d.join(&v.name), &tpl.volumes[i]).expect("write a volume");
                }
            }
            others.push(d);
        }
        VolumeHarness {
            templates,
            slots,
            _tmp: tmp,
            bundle,
            others,
        }
    }

    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Input layout: byte 0 picks (template, volume) modulo the number of volumes of all
    /// templates; the rest is the volume's bytes.
    pub fn run(&self, data: &[u8]) -> Option<VolumeOutcome> {
        let (&sel, volume) = data.split_first()?;
        let slot = sel as usize % self.slots.len();
        let (t, idx) = self.slots[slot];
        let tpl = &self.templates[t];
        let m = manifest_for(&tpl.manifest, idx, volume);
        let manifest_consistent = m.problems().is_empty();

        // A fresh bundle folder each time: nothing from an earlier input may be found.
        let _ = fs::remove_dir_all(&self.bundle);
        fs::create_dir_all(&self.bundle).expect("create the bundle folder");
        fs::write(self.bundle.join(names::MANIFEST_FILE), m.to_json_bytes())
            .expect("write manifest.json");
        fs::write(self.bundle.join(&m.volumes[idx].name), volume).expect("write the volume");
        let others = &self.others[slot];

        // The guard station's check: only the fuzzed volume is given, so the others are
        // reported missing without being hashed on every run.
        let report = verify(std::slice::from_ref(&self.bundle), &NoProgress);

        // The importer's reader, given every volume: it re-checks what it reads.
        let reader = (|| {
            let r = BundleReader::open(&[self.bundle.clone(), others.clone()])
                .map_err(|e| e.message)?;
            r.read_metadata().map_err(|e| e.message)?;
            let files = r.content_files();
            for (sha, _) in &files {
                r.copy_content(sha, &mut io::sink())
                    .map_err(|e| e.message)?;
            }
            Ok(files.len())
        })();
        Some(VolumeOutcome {
            volume_index: idx,
            manifest_consistent,
            verify: report,
            reader,
        })
    }
}

impl Default for VolumeHarness {
    fn default() -> Self {
        VolumeHarness::new()
    }
}

// ---------------------------------------------------------------------------------------------
// The offline catalog (wsusscn2.cab)

/// Separates the sections of a structured catalog input (see [`CatalogHarness::run`]).
pub const SECTION_SEP: &[u8] = b"\n\0--\0\n";

/// Writes a cabinet holding `files` in one folder, stored or MSZIP-compressed.
pub fn build_cab(files: &[(String, Vec<u8>)], compress: bool) -> io::Result<Vec<u8>> {
    let mut b = cab::CabinetBuilder::new();
    let ct = if compress {
        cab::CompressionType::MsZip
    } else {
        cab::CompressionType::None
    };
    // No folder at all for no files: the cab crate's builder panics on an empty folder.
    if !files.is_empty() {
        let f = b.add_folder(ct);
        // A fixed date instead of the builder's default (now), so seeds are reproducible.
        let when = time::PrimitiveDateTime::new(
            time::Date::from_calendar_date(2026, time::Month::January, 1).expect("a date"),
            time::Time::MIDNIGHT,
        );
        for (name, _) in files {
            f.add_file(name.as_str()).set_datetime(when);
        }
    }
    let mut w = b.build(io::Cursor::new(Vec::new()))?;
    let mut i = 0;
    while let Some(mut fw) = w.next_file()? {
        io::Write::write_all(&mut fw, &files[i].1)?;
        i += 1;
    }
    Ok(w.finish()?.into_inner())
}

/// A whole catalog in the real nesting: outer CAB (stored) → `index.xml`, `package.cab`
/// (→ `package.xml`) and `package2.cab` (→ the fragments, RANGESTART 0, so every RevisionId
/// is looked up there).
pub fn build_catalog(
    package_xml: &[u8],
    fragments: &[(String, Vec<u8>)],
    compress: bool,
) -> io::Result<Vec<u8>> {
    let index = b"<INDEX><CABLIST><CAB NAME=\"package.cab\"/><CAB NAME=\"package2.cab\" RANGESTART=\"0\"/></CABLIST></INDEX>";
    let package = build_cab(&[("package.xml".into(), package_xml.to_vec())], compress)?;
    let frags = build_cab(fragments, compress)?;
    build_cab(
        &[
            ("index.xml".into(), index.to_vec()),
            ("package.cab".into(), package),
            ("package2.cab".into(), frags),
        ],
        false,
    )
}

/// The structured input for a catalog: `package.xml`, then for each fragment [`SECTION_SEP`],
/// its member name, a NUL and its bytes.
pub fn catalog_sections(package_xml: &[u8], fragments: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = package_xml.to_vec();
    for (name, bytes) in fragments {
        out.extend_from_slice(SECTION_SEP);
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(bytes);
    }
    out
}

fn split_sections(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest
        .windows(SECTION_SEP.len())
        .position(|w| w == SECTION_SEP)
    {
        out.push(&rest[..at]);
        rest = &rest[at + SECTION_SEP.len()..];
    }
    out.push(rest);
    out
}

/// The catalog target's state: a file in memory-backed storage rewritten for every input.
pub struct CatalogHarness {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

/// What the catalog reader made of one input.
#[derive(Debug)]
pub struct CatalogOutcome {
    pub categories: usize,
    pub updates: usize,
    /// Updates the fetch delivered (of those the scan listed).
    pub fetched: usize,
}

impl Default for CatalogHarness {
    fn default() -> Self {
        CatalogHarness::new()
    }
}

impl CatalogHarness {
    pub fn new() -> CatalogHarness {
        let tmp = scratch_dir();
        let path = tmp.path().join("wsusscn2.cab");
        CatalogHarness { _tmp: tmp, path }
    }

    /// Input layout: byte 0 is a mode. Even: the rest is the catalog file as it is. Odd: the
    /// rest is `package.xml` and fragments as [`catalog_sections`] writes them (a fragment
    /// section without a NUL is skipped), which the harness packs into a catalog (MSZIP inside
    /// when bit 1 of the mode is set, stored otherwise), so that mutations reach the XML
    /// readers instead of the CAB checksums.
    ///
    /// Runs what a sync does: open, scan (categories and update headers), then fetch every
    /// update the scan listed. Returns None for an input that is not a catalog-building
    /// input, Some(Err) when the reader refused it.
    pub fn run(&self, data: &[u8]) -> Option<Result<CatalogOutcome, String>> {
        use offsync::upstream::wsusscn2::Wsusscn2Source;
        use offsync::upstream::{ScanItem, Upstream};
        let (&mode, rest) = data.split_first()?;
        if mode & 1 == 0 {
            fs::write(&self.path, rest).expect("write the catalog");
        } else {
            let sections = split_sections(rest);
            let mut frags = Vec::new();
            for s in &sections[1..] {
                let Some(nul) = s.iter().position(|&b| b == 0) else {
                    continue;
                };
                // The builder takes any name; the reader must refuse unsafe ones.
                let name = String::from_utf8_lossy(&s[..nul]).into_owned();
                frags.push((name, s[nul + 1..].to_vec()));
            }
            let bytes = build_catalog(sections[0], &frags, mode & 2 != 0).ok()?;
            fs::write(&self.path, bytes).expect("write the catalog");
        }
        let run = || -> offsync::Result<CatalogOutcome> {
            let mut src = Wsusscn2Source::open(&self.path)?;
            let _ = src.describe();
            let (mut categories, mut keys) = (0usize, Vec::new());
            src.scan(
                &mut |item| {
                    match item {
                        ScanItem::Category(_) => categories += 1,
                        ScanItem::Update(h) => keys.push(h.key),
                    }
                    Ok(())
                },
                &NoProgress,
            )?;
            for k in &keys {
                let _ = src.locate(*k);
            }
            let mut fetched = 0;
            src.fetch(
                &keys,
                &mut |_| {
                    fetched += 1;
                    Ok(())
                },
                &NoProgress,
            )?;
            Ok(CatalogOutcome {
                categories,
                updates: keys.len(),
                fetched,
            })
        };
        Some(run().map_err(|e| e.message))
    }
}
