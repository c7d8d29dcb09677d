//! The store's door for one incoming update: the limits themselves live in [`crate::limits`],
//! shared with bundle verification, so that verify, import and the store's own check agree.

use crate::error::{Error, ErrorKind, Result};
use crate::model::Update;
use crate::text::escape_controls;

/// Refuses an update that exceeds what the store keeps (exit 16, naming the limit).
pub fn check_update(u: &Update) -> Result<()> {
    match crate::limits::update_problem(u) {
        None => Ok(()),
        Some(what) => Err(Error::new(
            ErrorKind::Limit,
            format!("update {}: {what}", escape_controls(u.id.as_str())),
        )
        .with_hint("nothing was changed; no real update is this large, so the source's data is damaged or forged")),
    }
}
