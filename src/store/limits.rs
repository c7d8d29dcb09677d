//! What the store keeps of one update, at most. The store's own check refuses a stored
//! document over [`MAX_DOC_BYTES`] (it could exhaust memory when read); what comes in from
//! outside is held to the same limits at the door, so that an import can never leave the
//! store failing its own check, unable to export or serve a child.

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Update, encode_canonical};
use crate::text::escape_controls;

/// The most an update document may take: far above any real one (the largest real
/// documents are tens of kilobytes), low enough that a damaged row cannot exhaust memory.
pub const MAX_DOC_BYTES: usize = 64 * 1024 * 1024;

/// The most file references one update may carry; real updates carry up to a few hundred.
pub const MAX_FILE_REFS: usize = 10_000;

/// The longest title (in bytes, per language) of an update; real titles stay under 300.
pub const MAX_TITLE_BYTES: usize = 4096;

/// Refuses an update that exceeds what the store keeps (exit 16, naming the limit).
pub fn check_update(u: &Update) -> Result<()> {
    let id = escape_controls(u.id.as_str());
    let over = |what: String| {
        Error::new(ErrorKind::Limit, format!("update {id}: {what}"))
            .with_hint("nothing was changed; no real update is this large, so the source's data is damaged or forged")
    };
    if u.files.len() > MAX_FILE_REFS {
        return Err(over(format!(
            "{} file references exceed the limit of {MAX_FILE_REFS} per update",
            u.files.len()
        )));
    }
    for (lang, l) in &u.localized {
        if l.title.len() > MAX_TITLE_BYTES {
            return Err(over(format!(
                "the title in '{}' is {} bytes, more than the limit of {MAX_TITLE_BYTES}",
                escape_controls(lang),
                l.title.len()
            )));
        }
    }
    let doc = encode_canonical(u)?;
    if doc.len() > MAX_DOC_BYTES {
        return Err(over(format!(
            "its document is {} bytes, more than the limit of {MAX_DOC_BYTES} for a stored document",
            doc.len()
        )));
    }
    Ok(())
}
