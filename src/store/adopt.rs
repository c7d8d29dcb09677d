//! Taking content files from another store's content folder (a child from its parent): each
//! file is staged by a hard link when both stores share a file system, else by a copy, and
//! hashed in one read before it is published through the store's [`super::Publisher`].

use super::STAGING_DIR;
use super::write::Tx;
use crate::error::{Error, Result};
use crate::hash::{Digests, copy_hashing, hash_reader};
use crate::model::hex_lower;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file staged from elsewhere, hashed.
pub struct Adopted {
    /// Where it is staged (publish from here).
    pub staged: PathBuf,
    pub digests: Digests,
    /// Staged as a hard link to the source (no bytes copied).
    pub linked: bool,
}

/// What [`stage_adopted`] found.
pub enum AdoptOutcome {
    Staged(Adopted),
    /// What was read does not hash to the expected SHA-256: nothing is staged.
    Mismatch {
        found: [u8; 32],
    },
    /// The source is not a regular file (a symbolic link planted in the other store's
    /// content folder, say): nothing is staged, and nothing is followed.
    NotAFile,
}

/// Stages `src` in the staging folder of the store at `root`, as a hard link when possible
/// (then read once to hash it), else as a copy hashed while copying (one read as well). A
/// link that fails for any reason (another file system, a file system without links, a
/// permission) falls back to the copy.
pub fn stage_adopted(root: &Path, src: &Path, sha256: &[u8; 32]) -> Result<AdoptOutcome> {
    let staged = root
        .join(STAGING_DIR)
        .join(format!("adopt-{}.partial", hex_lower(sha256)));
    let _ = fs::remove_file(&staged);
    // A hard link to a symbolic link is a symbolic link: what is not a regular file is left.
    if !fs::symlink_metadata(src).is_ok_and(|m| m.file_type().is_file()) {
        return Ok(AdoptOutcome::NotAFile);
    }
    let res = (|| -> Result<(Digests, bool)> {
        if fs::hard_link(src, &staged).is_ok() {
            let mut f = File::open(&staged).map_err(|e| Error::io(&staged, "read", e))?;
            let d = hash_reader(&mut f).map_err(|e| Error::io(src, "read", e))?;
            return Ok((d, true));
        }
        let mut r = File::open(src).map_err(|e| Error::io(src, "read", e))?;
        let f = crate::fsutil::open_no_follow(
            &staged,
            File::options().write(true).create(true).truncate(true),
        )
        .map_err(|e| Error::io(&staged, "create", e))?;
        let mut w = BufWriter::new(f);
        let d = copy_hashing(&mut r, &mut w).map_err(|e| Error::io(&staged, "copy to", e))?;
        w.flush().map_err(|e| Error::io(&staged, "write", e))?;
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&staged, "write", e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&staged, "write", e))?;
        Ok((d, false))
    })();
    match res {
        Ok((d, _)) if d.sha256 != *sha256 => {
            let _ = fs::remove_file(&staged);
            Ok(AdoptOutcome::Mismatch { found: d.sha256 })
        }
        Ok((digests, linked)) => Ok(AdoptOutcome::Staged(Adopted {
            staged,
            digests,
            linked,
        })),
        Err(e) => {
            let _ = fs::remove_file(&staged);
            Err(e)
        }
    }
}

/// A file reference of a stored update (not removed) whose content this store lacks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MissingRef {
    pub sha256: Option<[u8; 32]>,
    pub sha1: Option<[u8; 20]>,
}

impl Tx<'_> {
    /// Calls `f` for each file reference of stored updates (not removed) whose content is not
    /// recorded, as this transaction sees them, in SHA-256 order (references without one
    /// first), a reference repeated next to itself given once. Streamed, not collected: with
    /// an upstream of metadata only every reference is missing, and neither a list of them
    /// nor a sort (SQLite's sorter grows up to the page cache's size) may grow with the store.
    pub fn missing_references(&self, f: &mut dyn FnMut(MissingRef) -> Result<()>) -> Result<()> {
        // Ordered by `files_sha256` alone, which the index gives without a sort.
        let mut st = self.prepare(
            "SELECT f.sha256, f.sha1 FROM files f JOIN updates u ON u.update_id = f.update_id
             WHERE u.state != 'removed' AND (f.sha256 IS NOT NULL OR f.sha1 IS NOT NULL)
               AND NOT EXISTS(SELECT 1 FROM content c
                              WHERE c.sha256 = f.sha256 OR (f.sha256 IS NULL AND c.sha1 = f.sha1))
             ORDER BY f.sha256",
        )?;
        let mut rows = st.query([])?;
        let mut last: Option<MissingRef> = None;
        while let Some(r) = rows.next()? {
            let m = MissingRef {
                sha256: r
                    .get::<_, Option<Vec<u8>>>(0)?
                    .and_then(|v| v.try_into().ok()),
                sha1: r
                    .get::<_, Option<Vec<u8>>>(1)?
                    .and_then(|v| v.try_into().ok()),
            };
            if last.as_ref() != Some(&m) {
                f(m.clone())?;
                last = Some(m);
            }
        }
        Ok(())
    }
}
