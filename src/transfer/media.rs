//! The media as a carrier hands it over: the paths given to `verify` and `import` name either
//! one bundle (its folder or `manifest.json`, then further folders or files holding volumes
//! from other discs), or the media root, a folder holding several bundle folders. This module
//! tells the two apart and, for a media root, finds the bundles and puts them in sequence
//! order; `import_media` applies them one after the other.

use super::import::{ImportOptions, ImportOutcome, ImportReport, import};
use crate::bundle::Manifest;
use crate::bundle::names::MANIFEST_FILE;
use crate::bundle::verify::read_manifest_bytes;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::store::Store;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The bundles the paths name.
#[derive(Clone, Debug)]
pub struct MediaSet {
    /// The media root, when the first path was a folder holding bundle folders.
    pub root: Option<PathBuf>,
    /// Each bundle's paths as `verify` and `import` take them (its folder first, then the
    /// further paths given), in sequence order.
    pub bundles: Vec<Vec<PathBuf>>,
}

const WHAT_TO_GIVE: &str = "give a bundle folder (the one holding manifest.json), its manifest.json, or the media root holding bundle folders";

/// Resolves the paths given to `verify` or `import`. The first path must exist (exit 2
/// naming it otherwise), and a plain file there must be a `manifest.json`; a folder with no
/// `manifest.json` of its own is a media root when bundle folders lie directly inside it.
/// Further paths are kept for every bundle: they are where volumes from other discs are
/// found, and each volume's name says which bundle it belongs to.
pub fn find_bundles(paths: &[PathBuf]) -> Result<MediaSet> {
    let first = paths
        .first()
        .ok_or_else(|| Error::usage("no bundle path given").with_hint(WHAT_TO_GIVE))?;
    let single = || MediaSet {
        root: None,
        bundles: vec![paths.to_vec()],
    };
    let meta = fs::metadata(first).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            Error::usage(format!("{} does not exist", first.display())).with_hint(WHAT_TO_GIVE)
        }
        _ => Error::io(first, "read", e),
    })?;
    if !meta.is_dir() {
        let named_manifest = first.file_name().is_some_and(|n| n == MANIFEST_FILE);
        let is_volume = first
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        // A volume given first gets the bundle reader's own, more precise refusal.
        if named_manifest || is_volume {
            return Ok(single());
        }
        return Err(Error::usage(format!(
            "{} is a file, not a bundle folder",
            first.display()
        ))
        .with_hint(WHAT_TO_GIVE));
    }
    if fs::symlink_metadata(first.join(MANIFEST_FILE)).is_ok() {
        return Ok(single());
    }
    let found = bundle_folders(first)?;
    if found.is_empty() {
        // Left to the bundle reader, which says the folder holds no manifest.json.
        return Ok(single());
    }
    Ok(MediaSet {
        root: Some(first.clone()),
        bundles: found
            .into_iter()
            .map(|dir| {
                let mut p = vec![dir];
                p.extend_from_slice(&paths[1..]);
                p
            })
            .collect(),
    })
}

/// The folders directly inside `root` that hold a `manifest.json`, in sequence order (the
/// manifest's; a manifest that cannot be read sorts last, by folder name, and fails when
/// that bundle is verified). Symbolic links are not followed: a bundle holds only real files.
fn bundle_folders(root: &Path) -> Result<Vec<PathBuf>> {
    let list = fs::read_dir(root).map_err(|e| Error::io(root, "list", e))?;
    let mut found: Vec<(u64, String, PathBuf)> = Vec::new();
    for entry in list {
        let entry = entry.map_err(|e| Error::io(root, "list", e))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let manifest = entry.path().join(MANIFEST_FILE);
        if !is_dir || !manifest.is_file() {
            continue;
        }
        let sequence = read_manifest_bytes(&manifest)
            .and_then(|b| Manifest::parse(&b))
            .map_or(u64::MAX, |m| m.sequence);
        let name = entry.file_name().to_string_lossy().into_owned();
        found.push((sequence, name, entry.path()));
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// What importing a media root came to: the bundles applied (or found already imported), in
/// order, and the first refusal, which stopped the rest.
pub struct MediaImport {
    pub imported: Vec<ImportReport>,
    /// The bundle folder refused and why.
    pub refused: Option<(PathBuf, Error)>,
}

/// Imports every bundle of `set` in order, each in its own transaction (a refusal leaves the
/// ones before it applied), and stops at the first refusal. A dry run stops after the first
/// bundle it would import: the next one builds on it, and would only be refused as a gap.
pub fn import_media(
    store: &mut Store,
    set: &MediaSet,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> MediaImport {
    let mut out = MediaImport {
        imported: Vec::new(),
        refused: None,
    };
    for paths in &set.bundles {
        match import(store, paths, opts, progress) {
            Ok(r) => {
                let dry = r.outcome == ImportOutcome::DryRun;
                out.imported.push(r);
                if dry {
                    break;
                }
            }
            Err(e) => {
                out.refused = Some((paths[0].clone(), e));
                break;
            }
        }
    }
    out
}
