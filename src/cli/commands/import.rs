//! `offsync import`, and how many threads it hashes content with on this machine.

use crate::cli::args::StoreArg;
use crate::cli::exit::{CliResult, exit_codes_help};
use crate::cli::output::{bytes, out_json, say};
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use crate::transfer::import::{DEFAULT_MAX_JUMP, ImportOptions, import};
use crate::transfer::repair::{RepairReport, repair};
use std::path::PathBuf;

/// Verify a bundle, check it against what this store imported before, and merge it.
///
/// PATH is as for verify. Exit 0 also when the bundle was already imported.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit_codes_help())]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// The bundle folder or its manifest.json, then any folders or files holding volumes.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Say what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import a bundle past its validity, or while the clock is earlier than the last
    /// import. Recorded in the import history.
    #[arg(long)]
    allow_expired: bool,
    /// Refuse a bundle more than this many sequence numbers ahead of the last one imported
    /// from its source.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_JUMP)]
    max_jump: u64,
    /// Change no metadata: restore from this bundle every content file that the store records
    /// and whose stored copy is missing or damaged (each checked against the store's digests).
    #[arg(long, conflicts_with_all = ["allow_expired"])]
    repair: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let opts = ImportOptions {
        dry_run: a.dry_run,
        allow_expired: a.allow_expired,
        max_jump: a.max_jump,
        now: Timestamp::now(),
        threads: worker_threads(),
    };
    let mut store = Store::open(&a.store.store)?;
    if a.repair {
        return render_repair(repair(&mut store, &a.paths, &opts, progress)?, a.json);
    }
    let r = import(&mut store, &a.paths, &opts, progress)?;
    if a.json {
        return out_json(&r);
    }
    let what = match r.outcome.as_str() {
        "already-imported" => {
            return say(format!(
                "bundle {} (sequence {}) is already imported: nothing to do",
                r.bundle_id, r.sequence
            ));
        }
        "dry-run" => "would import",
        _ => "imported",
    };
    say(format!(
        "{what} {} bundle {} (sequence {}) from store '{}'",
        r.kind, r.bundle_id, r.sequence, r.source_store_name
    ))?;
    say(format!(
        "  {} new, {} updated, {} expired, {} removed, {} unchanged; {} content file(s) to add ({})",
        r.new,
        r.updated,
        r.expired,
        r.removed,
        r.unchanged,
        r.content_files,
        bytes(r.content_bytes)
    ))?;
    for n in &r.notes {
        say(format!("  note: {n}"))?;
    }
    if r.outcome == "dry-run" {
        say("  dry run: nothing was changed")?;
    }
    Ok(())
}

fn render_repair(r: RepairReport, json: bool) -> CliResult {
    if json {
        return out_json(&r);
    }
    let verb = if r.dry_run {
        "would restore"
    } else {
        "restored"
    };
    for h in &r.restored {
        say(format!("{verb} content/{}/{h}", &h[..2]))?;
    }
    say(format!(
        "repair from bundle {} (sequence {}) of store '{}': {} recorded content file(s) checked, {} {verb} ({}); no metadata changed",
        r.bundle_id,
        r.sequence,
        r.source_store_name,
        r.checked,
        r.restored.len(),
        bytes(r.restored_bytes)
    ))
}

/// Worker threads for hashing content: `OFFSYNC_THREADS` when set, else the machine's cores,
/// at most 2 (past two, the media, not the CPU, sets the pace).
fn worker_threads() -> usize {
    std::env::var("OFFSYNC_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(2)
        })
}
