use super::{bytes, say};
use crate::Result;
use crate::cli::out_json;
use crate::content::import_content;
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use std::path::Path;

pub fn import(
    dir: &Path,
    from: &Path,
    json: bool,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<()> {
    let mut store = Store::open(dir)?;
    let r = import_content(&mut store, from, now, progress)?;
    if json {
        return out_json(&r);
    }
    for m in &r.matched {
        say(format!(
            "matched  {}  ->  {}{}",
            m.path,
            m.name,
            if m.added { "" } else { " (already present)" }
        ));
    }
    for u in &r.unmatched {
        say(format!("no match {u}"));
    }
    for m in &r.missing {
        say(format!(
            "missing  {} of {} ({})",
            m.name, m.title, m.update_id
        ));
    }
    say(format!(
        "{} file(s) scanned, {} matched, {} added ({}), {} unmatched, {} referenced file(s) still missing",
        r.scanned,
        r.matched.len(),
        r.added_files,
        bytes(r.added_bytes),
        r.unmatched.len(),
        r.missing.len()
    ));
    Ok(())
}
