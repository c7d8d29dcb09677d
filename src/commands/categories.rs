use super::say;
use crate::Result;
use crate::cli::out_json;
use crate::model::CategoryKind;
use crate::store::Store;
use std::path::Path;

pub fn list(dir: &Path, kind: Option<CategoryKind>, json: bool) -> Result<()> {
    let store = Store::open_readonly(dir)?;
    let rows = store.categories(kind)?;
    if json {
        return out_json(&rows);
    }
    if rows.is_empty() {
        say("no categories yet: run `offsync sync` to bring them from the upstream");
        return Ok(());
    }
    for r in &rows {
        say(format!("{:<15} {}  {}", r.kind, r.id, r.title));
    }
    Ok(())
}
