//! Which entry goes into which volume: the plan is made before a byte is written, with the
//! ZIP overhead of every entry counted at its maximum, so that no volume can exceed its size.

use super::ContentFile;
use crate::bundle::manifest::MAX_VOLUMES;
use crate::bundle::names::{self, HEADER_ENTRY, MAX_PIECES, METADATA_ENTRY};
use crate::bundle::zipfmt::{END_OVERHEAD_MAX, entry_overhead_max};
use crate::error::{Error, Result};

/// Smallest piece a file is cut into when it must be split: below this a new volume is
/// started instead, so that no piece is absurdly small.
const MIN_PIECE: u64 = 4096;

/// One stretch of a content file placed in a volume.
#[derive(Clone, Debug)]
pub(super) struct Part {
    /// Index into the content files, in the order given to [`plan`].
    pub file: usize,
    pub offset: u64,
    pub len: u64,
    pub piece: Option<u32>,
}

/// Assigns entries to volumes so that no volume can exceed `cap`, with the ZIP overhead of
/// each entry and the end records counted at their maximum. Content files are taken in
/// SHA-256 order; a file that does not fit in what is left of a volume is cut, filling the
/// volume, unless less than [`MIN_PIECE`] is left.
pub(super) fn plan(
    cap: u64,
    header_len: u64,
    metadata_len: u64,
    files: &[&ContentFile],
) -> Result<Vec<Vec<Part>>> {
    let base = entry_overhead_max(HEADER_ENTRY.len()) + header_len + END_OVERHEAD_MAX;
    let first = base + entry_overhead_max(METADATA_ENTRY.len()) + metadata_len;
    if first > cap {
        return Err(Error::usage(format!(
            "a volume size of {cap} bytes is too small: volume 1 needs {first} bytes for its header and the metadata"
        ))
        .with_hint(format!("give --max-volume-size {first} or more")));
    }
    let whole_oh = entry_overhead_max(names::CONTENT_PREFIX.len() + 64);
    let piece_oh = entry_overhead_max(names::MAX_ENTRY_NAME);
    let room = |used: u64| cap.saturating_sub(used);
    let mut vols: Vec<Vec<Part>> = vec![Vec::new()];
    let mut used = first;
    for (i, f) in files.iter().enumerate() {
        let fits = |used: u64| f.size.saturating_add(whole_oh) <= room(used);
        // Too little left even for a piece: the file starts a new volume, whole if it fits.
        if !fits(used) && room(used) < piece_oh + MIN_PIECE {
            vols.push(Vec::new());
            used = base;
        }
        if fits(used) {
            vols.last_mut().expect("a volume").push(Part {
                file: i,
                offset: 0,
                len: f.size,
                piece: None,
            });
            used += whole_oh + f.size;
            continue;
        }
        if base + piece_oh + MIN_PIECE > cap {
            return Err(Error::usage(format!(
                "a volume size of {cap} bytes is too small to carry content: a volume needs {} bytes to hold a piece of a file",
                base + piece_oh + MIN_PIECE
            )));
        }
        let mut offset = 0;
        let mut piece = 0u32;
        while offset < f.size {
            let r = room(used).saturating_sub(piece_oh);
            if r < MIN_PIECE.min(f.size - offset) {
                vols.push(Vec::new());
                used = base;
                continue;
            }
            let len = r.min(f.size - offset);
            piece += 1;
            if piece > MAX_PIECES {
                return Err(Error::usage(format!(
                    "a volume size of {cap} bytes is too small: a content file of {} bytes would need more than {MAX_PIECES} pieces",
                    f.size
                )));
            }
            vols.last_mut().expect("a volume").push(Part {
                file: i,
                offset,
                len,
                piece: Some(piece),
            });
            used += piece_oh + len;
            offset += len;
        }
    }
    if vols.len() > MAX_VOLUMES {
        return Err(Error::usage(format!(
            "a volume size of {cap} bytes is too small: the bundle would need {} volumes, at most {} are allowed",
            vols.len(),
            MAX_VOLUMES
        )));
    }
    Ok(vols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn cf(size: u64, tag: u8) -> ContentFile {
        ContentFile {
            sha256: [tag; 32],
            size,
            path: PathBuf::new(),
        }
    }

    #[test]
    fn plan_fills_volumes_and_cuts_large_files() {
        let files = [cf(10_000, 1), cf(100_000, 2), cf(0, 3), cf(30_000, 4)];
        let refs: Vec<&ContentFile> = files.iter().collect();
        let cap = 40_000;
        let vols = plan(cap, 150, 500, &refs).unwrap();
        assert!(vols.len() >= 4, "{vols:?}");
        // Every byte of every file is placed once, in order.
        for (i, f) in files.iter().enumerate() {
            let parts: Vec<&Part> = vols.iter().flatten().filter(|p| p.file == i).collect();
            let mut off = 0;
            for p in &parts {
                assert_eq!(p.offset, off);
                off += p.len;
            }
            assert_eq!(off, f.size);
            assert_eq!(parts.len() > 1, parts.iter().all(|p| p.piece.is_some()));
        }
        assert!(
            plan(1000, 150, 500, &refs)
                .unwrap_err()
                .message
                .contains("too small")
        );
    }
}
