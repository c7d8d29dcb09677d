use super::say;
use crate::cli::out_json;
use crate::progress::Progress;
use crate::store::Store;
use crate::sync::{SyncOptions, SyncReport, sync};
use crate::time::Timestamp;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

pub fn run(
    dir: &Path,
    from: Option<&Path>,
    opts: &SyncOptions,
    json: bool,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
) -> Result<()> {
    let mut store = Store::open(dir)?;
    let source: PathBuf = match from {
        Some(f) => f.to_path_buf(),
        None => store
            .setting("upstream")?
            .map(PathBuf::from)
            .ok_or_else(|| {
                Error::usage("no upstream given and none set for this store").with_hint(
                    "use `offsync sync --from SOURCE`, or `offsync upstream set SOURCE` once",
                )
            })?,
    };
    let mut up = crate::upstream::open(&source)?;
    let report = sync(&mut store, up.as_mut(), opts, clock, progress)?;
    if json {
        return out_json(&report);
    }
    print(&report, progress);
    Ok(())
}

pub(crate) fn print(r: &SyncReport, progress: &dyn Progress) {
    for w in &r.warnings {
        progress.note(&format!("warning: {w}"));
    }
    say(format!(
        "sync from {} succeeded: {} new, {} updated, {} expired, {} removed, {} unchanged; {} categories changed ({} updates upstream, {} selected)",
        r.source,
        r.new,
        r.updated,
        r.expired,
        r.removed,
        r.unchanged,
        r.categories,
        r.upstream_updates,
        r.selected
    ));
}
