//! Starting a source's chain again (`offsync chain reset`): for a source whose chain was
//! poisoned (a forged bundle with a sequence far ahead, imported while no key was trusted) or
//! that was rebuilt from scratch and numbers its bundles from 1 again.

use crate::error::{Error, Result};
use crate::store::{ChainState, Store};
use crate::text::escape_controls;
use crate::time::Timestamp;

/// Starts the chain of `source_store_id` again, under the store's write lock (so never in the
/// middle of an import: a running import holds that lock, and this waits for it, then fails
/// as busy). Recorded in the import history and the log. Returns the state that was closed.
pub fn reset_chain(store: &mut Store, source_store_id: &str, now: Timestamp) -> Result<ChainState> {
    let mut tx = store.begin()?;
    let current = tx
        .imports_from(source_store_id)?
        .into_iter()
        .max_by_key(|r| r.sequence);
    let note = match &current {
        Some(r) => format!(
            "chain reset by the administrator; it had reached sequence {} (bundle {}, imported {})",
            r.sequence, r.bundle_id, r.imported
        ),
        None => "chain reset by the administrator; nothing was imported since the last reset"
            .to_string(),
    };
    let Some(closed) = tx.reset_chain(source_store_id, &now.rfc3339(), &note)? else {
        return Err(Error::usage(format!(
            "this store has imported nothing from source store {}",
            escape_controls(source_store_id)
        ))
        .with_hint("`offsync chain show` lists the sources this store imported from"));
    };
    tx.commit()?;
    store.log(
        "CHAIN",
        &format!(
            "Chain of source store {} ('{}') reset: the next bundle from it is taken as a first one; {note}",
            source_store_id, closed.source_store_name
        ),
        now,
    );
    Ok(closed)
}
