use super::say;
use crate::store::Store;
use crate::time::Timestamp;
use crate::{Error, Result};
use std::path::Path;

pub fn set(dir: &Path, source: &Path, now: Timestamp) -> Result<()> {
    let mut store = Store::open(dir)?;
    // Check now that it can be opened, rather than at the next (perhaps scheduled) sync.
    let up = crate::upstream::open(source)?;
    // An absolute path as the operator wrote it (canonicalize would give \\?\ paths on
    // Windows and resolve links the operator may mean to keep).
    let abs = std::path::absolute(source).map_err(|e| Error::io(source, "resolve", e))?;
    store.set_setting("upstream", &abs.to_string_lossy())?;
    store.log(
        "UPSTREAM",
        &format!("upstream set to {}", up.describe()),
        now,
    );
    say(format!("upstream: {}", up.describe()));
    Ok(())
}

pub fn show(dir: &Path) -> Result<()> {
    let store = Store::open_readonly(dir)?;
    match store.setting("upstream")? {
        Some(u) => say(u),
        None => say("no upstream set (use `offsync upstream set SOURCE`)"),
    }
    Ok(())
}
