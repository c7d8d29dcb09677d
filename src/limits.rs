//! The limits on what a store keeps, in one place: the store applies them when it writes and
//! reads an update, and a bundle is held to them when it is verified and imported, so that
//! nothing can pass the door that the store would later fail to read (a store that fails its
//! own `check` cannot export or serve a child, and has no way back).
//!
//! Each limit is far above any real update (the largest real documents are tens of kilobytes,
//! with a few dozen files) and low enough that one record cannot exhaust memory.

use crate::error::{Error, ErrorKind, Result};
use crate::model::{Category, Update};
use crate::text::escape_controls;
use std::collections::{HashMap, HashSet};

/// The most memory decoding one stored update document may claim (bincode's limit: container
/// lengths times element sizes, string lengths, integer widths).
pub const MAX_DOC_CLAIM_BYTES: usize = 64 * 1024 * 1024;
/// Most file references one update may carry.
pub const MAX_FILES_PER_UPDATE: usize = 10_000;
/// Longest title (of an update, in any language, or of a category), in bytes.
pub const MAX_TITLE_BYTES: usize = 64 * 1024;
/// Longest description of an update (in any language), in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024 * 1024;
/// Largest upstream document (`upd:Update` XML) of one update or category that a store keeps
/// and a bundle carries (16 MiB; the largest real documents are tens of kilobytes).
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;

/// bincode's configuration for one stored update document, limited to [`MAX_DOC_CLAIM_BYTES`].
pub fn doc_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_DOC_CLAIM_BYTES>()
}

/// The first limit an update exceeds, named, or `None`. The last check decodes the update's
/// canonical encoding exactly as the store reads it back, so whatever passes here the store
/// can read; it runs only after the cheap checks, so that a record refused for its size is
/// never encoded.
pub fn update_problem(u: &Update) -> Option<String> {
    field_problem(u).or_else(|| match crate::model::encode_canonical(u) {
        Ok(doc) => doc_problem(&doc),
        Err(e) => Some(e.message),
    })
}

/// [`update_problem`] for an update whose canonical encoding `doc` is at hand (the store's
/// write path has it already).
pub fn stored_update_problem(u: &Update, doc: &[u8]) -> Option<String> {
    field_problem(u).or_else(|| doc_problem(doc))
}

/// The counts and lengths of an update against their limits.
fn field_problem(u: &Update) -> Option<String> {
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
    None
}

/// An encoded update that would claim more memory to decode than the store allows.
fn doc_problem(doc: &[u8]) -> Option<String> {
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

/// The deepest category tree the store keeps, counting the top category as level 1. Real
/// trees have three or four levels (company, product family, product, sometimes a
/// sub-product); a deeper one is refused (exit 16) by sync and import.
pub const MAX_CATEGORY_DEPTH: usize = 32;

/// Refuses a tree deeper than [`MAX_CATEGORY_DEPTH`] or with a cycle (a category that is its
/// own ancestor), with exit 16 naming the limit. Each category's depth is computed once (a
/// walk up stops at the first category whose depth is known), so the work is linear.
/// A parent that is not in the tree ends the walk: that category counts as a top one.
pub fn check_hierarchy(parents: &HashMap<String, Option<String>>) -> Result<()> {
    let mut depth: HashMap<&str, usize> = HashMap::with_capacity(parents.len());
    let mut path: Vec<&str> = Vec::new();
    let mut on_path: HashSet<&str> = HashSet::new();
    for start in parents.keys() {
        let mut cur = start.as_str();
        let base = loop {
            if let Some(&d) = depth.get(cur) {
                break d;
            }
            if !on_path.insert(cur) {
                return Err(Error::new(
                    ErrorKind::Limit,
                    format!(
                        "the category tree has a cycle: category {} is its own ancestor (limit: a tree at most {MAX_CATEGORY_DEPTH} levels deep)",
                        escape_controls(cur)
                    ),
                )
                .with_hint("nothing was changed; the source's category data is damaged or forged"));
            }
            path.push(cur);
            match parents.get(cur) {
                Some(Some(p)) if parents.contains_key(p.as_str()) => cur = p.as_str(),
                _ => break 0,
            }
        };
        let mut d = base;
        while let Some(c) = path.pop() {
            d += 1;
            if d > MAX_CATEGORY_DEPTH {
                return Err(Error::new(
                    ErrorKind::Limit,
                    format!(
                        "the category tree is deeper than the limit of {MAX_CATEGORY_DEPTH} levels (category {} is at level {d} or deeper)",
                        escape_controls(c)
                    ),
                )
                .with_hint("nothing was changed; real category trees have a few levels, so the source's category data is damaged or forged"));
            }
            depth.insert(c, d);
        }
        on_path.clear();
    }
    Ok(())
}
