//! The store's limits (`crate::limits`) applied to a bundle's metadata at the door: `verify`
//! reports every record over a limit, and the reader refuses the first, both with exit 16 and
//! the name of the limit, so that an import never leaves the store holding what its own
//! `check` would call damaged.

use super::metadata::{BundleMetadata, UpdateRecord};
use super::names::{METADATA_ENTRY, show_name};
use super::verify::Finding;
use crate::error::ErrorKind;
use crate::model::Category;
use std::collections::HashMap;

/// Most findings listed; one more says how many were left out.
pub(super) const MAX_LISTED: usize = 50;

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
        if let Some(p) = category_limit_problem(c) {
            push(p);
        }
    }
    let parents = md
        .categories
        .iter()
        .map(|c| (c.id.to_string(), c.parent.as_ref().map(|p| p.to_string())))
        .collect();
    if let Some(p) = hierarchy_problem(&parents) {
        push(p);
    }
    for r in &md.updates {
        if let Some(p) = update_limit_problem(r) {
            push(p);
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

// Per-record checks, shared by the whole-value path above and the record stream.

/// A category over one of the store's limits.
pub(super) fn category_limit_problem(c: &Category) -> Option<String> {
    crate::limits::category_problem(c)
        .map(|p| format!("category {} has {p}", show_name(c.id.as_str().as_bytes())))
}

/// An update record over one of the store's limits.
pub(super) fn update_limit_problem(r: &UpdateRecord) -> Option<String> {
    crate::limits::update_problem(&r.update).map(|p| {
        format!(
            "update {} has {p}",
            show_name(r.update.id.as_str().as_bytes())
        )
    })
}

/// The bundle's own category tree (id -> parent), as the store will check it merged with its
/// own: a tree too deep or with a cycle is refused by verify as by import.
pub(super) fn hierarchy_problem(parents: &HashMap<String, Option<String>>) -> Option<String> {
    crate::limits::check_hierarchy(parents)
        .err()
        .map(|e| e.message)
}
