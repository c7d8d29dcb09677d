//! `--prune`: removes what the current publish did not produce from the share's folders.
//! The share's subfolders belong to `publish share`: every file or link in them that this
//! run did not publish goes, then every folder left empty. At the share's root only a
//! `wsusscn2.cab` that is no longer published goes; the root itself, the indexes and any
//! other file there stay. Links are removed as links, never followed.

use crate::error::{Error, Result};
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Prunes `root` (the share); `produced` holds the published paths relative to it. Returns
/// how many files, links and folders were removed.
pub fn prune(
    root: &Path,
    temp_dir: &str,
    produced: &HashSet<PathBuf>,
    catalog_kept: bool,
) -> Result<u64> {
    // Compared without regard to case: on a file system that ignores case, a file whose
    // name changed only in case since the last run is this run's file (the placer found it
    // there and left it), not a stray.
    let produced: HashSet<String> = produced.iter().map(|p| folded(p)).collect();
    let mut removed = 0;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for e in fs::read_dir(root).map_err(|e| Error::io(root, "read", e))? {
        let e = e.map_err(|e| Error::io(root, "read", e))?;
        let name = e.file_name();
        let ty = e
            .file_type()
            .map_err(|err| Error::io(&e.path(), "examine", err))?;
        if ty.is_dir() {
            if name != temp_dir {
                stack.push(PathBuf::from(&name));
            }
        } else if ty.is_symlink() {
            // A link among the product folders could lead the next run anywhere.
            remove_file(root, Path::new(&name))?;
            removed += 1;
        } else if name == super::CATALOG_NAME && !catalog_kept {
            remove_file(root, Path::new(&name))?;
            removed += 1;
        }
    }
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for e in fs::read_dir(&dir).map_err(|e| Error::io(&dir, "read", e))? {
            let e = e.map_err(|e| Error::io(&dir, "read", e))?;
            let child = rel.join(e.file_name());
            let ty = e
                .file_type()
                .map_err(|err| Error::io(&e.path(), "examine", err))?;
            if ty.is_dir() {
                stack.push(child);
            } else if !produced.contains(&folded(&child)) {
                remove_file(root, &child)?;
                removed += 1;
            }
        }
        dirs.push(rel);
    }
    // Deepest first: a folder is looked at after everything inside it.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for rel in dirs {
        let dir = root.join(&rel);
        let empty = fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, "read", e))?
            .next()
            .is_none();
        if empty {
            fs::remove_dir(&dir).map_err(|e| Error::io(&dir, "remove", e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn folded(rel: &Path) -> String {
    crate::publish::place::fold(&rel.to_string_lossy())
}

fn remove_file(root: &Path, rel: &Path) -> Result<()> {
    let p = root.join(rel);
    fs::remove_file(&p).map_err(|e| Error::io(&p, "remove", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_renamed_only_in_case_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("Windows").join("Updates");
        fs::create_dir_all(&sub).unwrap();
        // On disk as an earlier run named it; this run produced the other case (on a file
        // system that ignores case the placer found the file there and left it).
        fs::write(sub.join("kb1-x64.CAB"), b"x").unwrap();
        fs::write(sub.join("stray.cab"), b"x").unwrap();
        let produced: HashSet<PathBuf> = [Path::new("windows/updates/KB1-x64.cab").to_path_buf()]
            .into_iter()
            .collect();
        let removed = prune(dir.path(), ".offsync-partial", &produced, false).unwrap();
        assert_eq!(removed, 1);
        assert!(sub.join("kb1-x64.CAB").exists());
        assert!(!sub.join("stray.cab").exists());
    }
}
