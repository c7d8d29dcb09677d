//! The limits on what a store keeps, in one place: the store applies them when it writes and
//! reads an update, and a bundle is held to them when it is verified and imported, so that
//! nothing can pass the door that the store would later fail to read (a store that fails its
//! own `check` cannot export or serve a child, and has no way back).
//!
//! Each limit is far above any real update (the largest real documents are tens of kilobytes,
//! with a few dozen files) and low enough that one record cannot exhaust memory.

use crate::model::{Category, Update};

/// The most memory decoding one stored update document may claim (bincode's limit: container
/// lengths times element sizes, string lengths, integer widths).
pub const MAX_DOC_CLAIM_BYTES: usize = 64 * 1024 * 1024;
/// Most file references one update may carry.
pub const MAX_FILES_PER_UPDATE: usize = 10_000;
/// Longest title (of an update, in any language, or of a category), in bytes.
pub const MAX_TITLE_BYTES: usize = 64 * 1024;
/// Longest description of an update (in any language), in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024 * 1024;

/// bincode's configuration for one stored update document, limited to [`MAX_DOC_CLAIM_BYTES`].
pub fn doc_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_DOC_CLAIM_BYTES>()
}

/// The first limit an update exceeds, named, or `None`. The last check decodes the update's
/// canonical encoding exactly as the store reads it back, so whatever passes here the store
/// can read.
pub fn update_problem(u: &Update) -> Option<String> {
    match crate::model::encode_canonical(u) {
        Ok(doc) => stored_update_problem(u, &doc),
        Err(e) => Some(e.message),
    }
}

/// [`update_problem`] for an update whose canonical encoding `doc` is at hand (the store's
/// write path has it already).
pub fn stored_update_problem(u: &Update, doc: &[u8]) -> Option<String> {
    if u.files.len() > MAX_FILES_PER_UPDATE {
        return Some(format!(
            "{} file references, more than the limit of {MAX_FILES_PER_UPDATE} file references per update",
            u.files.len()
        ));
    }
    for (lang, l) in &u.localized {
        if l.title.len() > MAX_TITLE_BYTES {
            return Some(format!(
                "a title ({lang:?}) of {} bytes, more than the limit of {MAX_TITLE_BYTES} bytes per title",
                l.title.len()
            ));
        }
        let d = l.description.as_deref().map_or(0, str::len);
        if d > MAX_DESCRIPTION_BYTES {
            return Some(format!(
                "a description ({lang:?}) of {d} bytes, more than the limit of {MAX_DESCRIPTION_BYTES} bytes per description"
            ));
        }
    }
    match bincode::decode_from_slice::<Update, _>(doc, doc_config()) {
        Ok(_) => None,
        Err(_) => Some(format!(
            "a stored document of {} bytes that would claim more than the limit of {MAX_DOC_CLAIM_BYTES} bytes of memory per stored document",
            doc.len()
        )),
    }
}

/// The first limit a category exceeds, named, or `None`.
pub fn category_problem(c: &Category) -> Option<String> {
    (c.title.len() > MAX_TITLE_BYTES).then(|| {
        format!(
            "a title of {} bytes, more than the limit of {MAX_TITLE_BYTES} bytes per title",
            c.title.len()
        )
    })
}
