//! Publishing from a store to what the isolated network runs: the WSUS metadata package and
//! content folder (`wsus`), and, for networks without WSUS, the payloads as a browsable folder
//! with its indexes (`share`). Reads the store, writes plain files; prints nothing.

pub mod place;
pub mod share;
pub mod wsus;

use crate::error::{Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The output folder of a publish, as a canonical path: created when missing and its parent
/// exists; refused when it is not a folder, or when it and the store are inside one another
/// (`--prune` would remove the store's own files).
pub fn prepare_out(out: &Path, store_root: &Path) -> Result<PathBuf> {
    let resolve = |p: &Path| fs::canonicalize(p).map_err(|e| Error::io(p, "resolve", e));
    let missing = match fs::metadata(out) {
        Ok(m) if m.is_dir() => false,
        Ok(_) => return Err(Error::usage(format!("{} is not a folder", out.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(Error::io(out, "read", e)),
    };
    let abs = if missing {
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
        let name = out.file_name();
        match (parent.map_or(Ok(PathBuf::from(".")), &resolve), name) {
            (Ok(p), Some(n)) if p.is_dir() => p.join(n),
            _ => {
                return Err(Error::usage(format!(
                    "{} does not exist, and neither does the folder it would be made in",
                    out.display()
                ))
                .with_hint(
                    "create (or mount) the parent folder first; publish creates only the last one",
                ));
            }
        }
    } else {
        resolve(out)?
    };
    let store = resolve(store_root)?;
    if abs.starts_with(&store) || store.starts_with(&abs) {
        return Err(Error::usage(format!(
            "the output folder {} and the store {} are inside one another",
            abs.display(),
            store.display()
        ))
        .with_hint("publish to a folder of its own, outside the store"));
    }
    if missing {
        fs::create_dir(&abs).map_err(|e| Error::io(&abs, "create", e))?;
    }
    Ok(abs)
}
