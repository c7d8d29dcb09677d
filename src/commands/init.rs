use super::say;
use crate::Result;
use crate::store::Store;
use crate::time::Timestamp;
use std::path::Path;

pub fn run(dir: &Path, name: Option<&str>, now: Timestamp) -> Result<()> {
    let store = Store::init(dir, name, now)?;
    say(format!(
        "created store '{}' (id {}) in {}",
        store.name(),
        store.id(),
        dir.display()
    ));
    say(
        "next: `offsync sync --from SOURCE` brings the categories; then `offsync criteria set`, and sync again",
    );
    Ok(())
}
