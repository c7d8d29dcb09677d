//! A sync from the upstream given, or else from the one set for the store.

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::store::Store;
use crate::sync::{SyncOptions, SyncReport, sync};
use crate::time::Timestamp;
use std::path::{Path, PathBuf};

/// Opens the upstream (`from`, else the store's `upstream` setting) and syncs from it.
pub fn sync_from(
    store: &mut Store,
    from: Option<&Path>,
    opts: &SyncOptions,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
) -> Result<SyncReport> {
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
    if crate::fetch::is_url(&source.to_string_lossy()) {
        // The command line downloads it first (crate::fetch::catalog::prepare).
        return Err(Error::usage(format!(
            "{} is an address: download the catalog before syncing from it",
            source.display()
        ))
        .with_hint("use `offsync sync`, which downloads a catalog given by URL"));
    }
    let mut up = match crate::upstream::open(&source) {
        Ok(up) => up,
        Err(e) => {
            // The store's own upstream unreachable (a share offline, the parent store moved):
            // a failed sync as much as one that fails later. A `--from` that names no upstream
            // is the command line's mistake, refused with nothing recorded.
            if from.is_none() {
                let now = clock();
                let shown = source.display().to_string();
                crate::sync::record_failed_sync(store, &shown, now, now, &e);
            }
            return Err(e);
        }
    };
    let mut report = sync(store, up.as_mut(), opts, clock, progress)?;
    // A child tells its parent how far it is (receipts/<child id>.json in the parent's folder).
    if let Some(parent) = up.parent_info()
        && let Err(e) = crate::transfer::receipt::leave_for_parent(store, &parent, clock())
    {
        report.warnings.push(format!(
            "no receipt left for the parent store {}: {}",
            parent.path.display(),
            e.message
        ));
    }
    // The sync succeeded and is committed: a catalog that cannot be kept is a warning, not a
    // failed sync.
    if let Some(cab) = up.catalog_file() {
        progress.start(
            "keeping the offline catalog",
            None,
            crate::progress::Unit::Bytes,
        );
        let kept = crate::content::keep_catalog(store, cab, clock());
        progress.finish();
        if let Err(e) = kept {
            report.warnings.push(format!(
                "the offline catalog is not kept for offline scans and bundles: {}",
                e.message
            ));
        }
    }
    Ok(report)
}
