use super::{bytes, say};
use crate::Result;
use crate::cli::out_json;
use crate::progress::Progress;
use crate::store::Store;
use crate::transfer::import::{ImportOptions, import};
use std::path::{Path, PathBuf};

pub fn run(
    dir: &Path,
    paths: &[PathBuf],
    opts: &ImportOptions,
    json: bool,
    progress: &dyn Progress,
) -> Result<()> {
    let mut store = Store::open(dir)?;
    let r = import(&mut store, paths, opts, progress)?;
    if json {
        return out_json(&r);
    }
    let what = match r.outcome.as_str() {
        "already-imported" => {
            say(format!(
                "bundle {} (sequence {}) is already imported: nothing to do",
                r.bundle_id, r.sequence
            ));
            return Ok(());
        }
        "dry-run" => "would import",
        _ => "imported",
    };
    say(format!(
        "{what} {} bundle {} (sequence {}) from store '{}'",
        r.kind, r.bundle_id, r.sequence, r.source_store_name
    ));
    say(format!(
        "  {} new, {} updated, {} expired, {} removed, {} unchanged; {} content file(s) to add ({})",
        r.new,
        r.updated,
        r.expired,
        r.removed,
        r.unchanged,
        r.content_files,
        bytes(r.content_bytes)
    ));
    for n in &r.notes {
        say(format!("  note: {n}"));
    }
    if r.outcome == "dry-run" {
        say("  dry run: nothing was changed");
    }
    Ok(())
}
