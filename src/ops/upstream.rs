//! Setting the default upstream of a store.

use crate::error::{Error, Result};
use crate::store::{Store, UpstreamMode};
use crate::time::Timestamp;
use std::path::Path;

/// Checks that `source` opens as an upstream, records it, and returns its description.
pub fn set_upstream(store: &mut Store, source: &Path, now: Timestamp) -> Result<String> {
    // A catalog by URL is downloaded by each sync (only when it changed), not now.
    if let Some(url) = source.to_str().filter(|s| crate::fetch::is_url(s)) {
        let described =
            format!("offline catalog at {url} (downloaded by each sync when it changed)");
        store.set_setting("upstream", url.trim())?;
        store.log("UPSTREAM", &format!("upstream set to {described}"), now);
        return Ok(described);
    }
    // Checked now rather than at the next (perhaps scheduled) sync.
    let up = crate::upstream::open(source)?;
    // An absolute path as the operator wrote it (canonicalize would give \\?\ paths on
    // Windows and resolve links the operator may mean to keep).
    let abs = std::path::absolute(source).map_err(|e| Error::io(source, "resolve", e))?;
    store.set_setting("upstream", &abs.to_string_lossy())?;
    let described = up.describe();
    store.log("UPSTREAM", &format!("upstream set to {described}"), now);
    Ok(described)
}

/// Sets how the store treats its upstream's decisions, and logs it.
pub fn set_mode(store: &mut Store, mode: UpstreamMode, now: Timestamp) -> Result<()> {
    store.set_upstream_mode(mode)?;
    store.log(
        "UPSTREAM",
        &format!("upstream mode set to {}", mode.as_str()),
        now,
    );
    Ok(())
}
