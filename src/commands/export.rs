use super::{bytes, say};
use crate::Result;
use crate::cli::out_json;
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use crate::transfer::export::{ExportOptions, check_out_dir, export};
use std::path::Path;

pub fn run(
    dir: &Path,
    opts: &ExportOptions,
    json: bool,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<()> {
    check_out_dir(&opts.out)?;
    let store = Store::open(dir)?;
    let r = export(&store, opts, now, progress)?;
    if json {
        return out_json(&r);
    }
    for m in &r.missing {
        progress.note(&format!(
            "warning: the store lacks {} of update {}: not in the bundle",
            m.name, m.update_id
        ));
    }
    say(format!(
        "exported {} bundle {} (sequence {}{}) to {}",
        r.kind,
        r.bundle_id,
        r.sequence,
        r.base_sequence
            .map(|b| format!(", builds on {b}"))
            .unwrap_or_default(),
        r.bundle_dir
    ));
    say(format!(
        "  {} categories, {} updates ({} removed), {} content files ({}), {} volume(s); {} referenced file(s) missing",
        r.categories,
        r.updates,
        r.removed,
        r.content_files,
        bytes(r.content_bytes),
        r.volumes.len(),
        r.missing.len()
    ));
    for v in &r.volumes {
        say(format!("  {}  {}", v.name, bytes(v.size)));
    }
    if let Some(k) = &r.signed_by {
        say(format!(
            "  manifest.json signed by key {k} (manifest.json.minisig)"
        ));
    }
    say(
        "check it anywhere with `offsync verify BUNDLE-FOLDER` (or `sha256sum -c SHA256SUMS` inside it)",
    );
    Ok(())
}
