//! The store's limits (`crate::limits`) applied to a bundle's metadata at the door: `verify`
//! reports every record over a limit, and the reader refuses the first, both with exit 16 and
//! the name of the limit, so that an import never leaves the store holding what its own
//! `check` would call damaged.

use super::metadata::BundleMetadata;
use super::names::{METADATA_ENTRY, show_name};
use super::verify::Finding;
use crate::error::ErrorKind;

/// Most findings listed; one more says how many were left out.
const MAX_LISTED: usize = 50;

/// Every category and update record of `md` over one of the store's limits.
pub(crate) fn limit_problems(md: &BundleMetadata) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut left_out = 0usize;
    let mut push = |message: String| {
        if out.len() < MAX_LISTED {
            out.push(Finding::new(ErrorKind::Limit, METADATA_ENTRY, message));
        } else {
            left_out += 1;
        }
    };
    for c in &md.categories {
        if let Some(p) = crate::limits::category_problem(c) {
            push(format!(
                "category {} has {p}",
                show_name(c.id.as_str().as_bytes())
            ));
        }
    }
    // The bundle's own tree, as the store will check it merged with its own: a tree too
    // deep or with a cycle is refused by verify as by import.
    let parents = md
        .categories
        .iter()
        .map(|c| (c.id.to_string(), c.parent.as_ref().map(|p| p.to_string())))
        .collect();
    if let Err(e) = crate::limits::check_hierarchy(&parents) {
        push(e.message);
    }
    for r in &md.updates {
        if let Some(p) = crate::limits::update_problem(&r.update) {
            push(format!(
                "update {} has {p}",
                show_name(r.update.id.as_str().as_bytes())
            ));
        }
    }
    if left_out > 0 {
        out.push(Finding::new(
            ErrorKind::Limit,
            METADATA_ENTRY,
            format!("and {left_out} more record(s) over a limit"),
        ));
    }
    out
}
