//! `offsync import`, and how many threads it hashes content with on this machine.

use crate::cli::args::StoreArg;
use crate::cli::exit::{CliResult, exit_codes_help};
use crate::cli::output::{bytes, esc, out_json, report_json, say};
use crate::error::Error;
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use crate::transfer::import::{
    DEFAULT_MAX_JUMP, ImportOptions, ImportOutcome, ImportReport, import,
};
use crate::transfer::media::{MediaSet, find_bundles, import_media};
use crate::transfer::repair::{RepairReport, repair};
use std::path::{Path, PathBuf};

/// Verify a bundle, check it against what this store imported before, and merge it.
///
/// PATH is as for verify. Given the media root (a folder holding several bundle folders),
/// imports them in sequence order, each in its own transaction, stopping at the first
/// refusal. Exit 0 also when the bundle was already imported. SIGINT or SIGTERM stops it at
/// a safe point with its staged files removed (exit 130).
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
    let set = find_bundles(&a.paths)?;
    if a.repair && set.root.is_some() {
        return Err(Error::usage(format!(
            "{} holds several bundle folders: --repair reads one bundle",
            a.paths[0].display()
        ))
        .with_hint("give one bundle folder that carried the files")
        .into());
    }
    let mut store = Store::open(&a.store.store)?;
    if a.repair {
        return render_repair(repair(&mut store, &a.paths, &opts, progress)?, a.json);
    }
    // SIGINT and SIGTERM now stop the import at a safe point instead of killing it.
    crate::cli::interrupt::install()?;
    if let Some(root) = &set.root {
        return import_root(&mut store, root, &set, &opts, a.json, progress);
    }
    let r = import(&mut store, &a.paths, &opts, progress)?;
    if a.json {
        return out_json(&r);
    }
    render(&r)
}

/// A media root: every bundle in sequence order, each reported as it is applied; the first
/// refusal ends the run with its own exit code and names what was applied before it.
fn import_root(
    store: &mut Store,
    root: &Path,
    set: &MediaSet,
    opts: &ImportOptions,
    json: bool,
    progress: &dyn Progress,
) -> CliResult {
    let result = import_media(store, set, opts, progress);
    if !json {
        say(format!(
            "{}: {} bundle folder(s), in sequence order",
            root.display(),
            set.bundles.len()
        ))?;
        for r in &result.imported {
            render(r)?;
        }
        let left = set.bundles.len() - result.imported.len();
        if opts.dry_run && result.refused.is_none() && left > 0 {
            say(format!(
                "  {left} later bundle folder(s) not tried: each builds on the one before"
            ))?;
        }
    }
    let failure = result.refused.map(|(dir, e)| {
        let applied: Vec<String> = result
            .imported
            .iter()
            .map(|r| format!("sequence {} ({})", r.sequence, r.outcome))
            .collect();
        let before = if applied.is_empty() {
            "none".to_string()
        } else {
            applied.join(", ")
        };
        let left = set.bundles.len() - result.imported.len() - 1;
        let mut details = e.details;
        details.push(format!(
            "applied before it: {before}; {left} later bundle folder(s) not tried"
        ));
        Error {
            kind: e.kind,
            message: format!(
                "bundle folder {} was not imported: {}",
                dir.display(),
                e.message
            ),
            details,
            hint: e.hint,
        }
    });
    if json {
        // What was applied stays in the one JSON object, with the refusal as its `error`.
        let value = serde_json::json!({
            "media_root": root,
            "bundles": result.imported,
        });
        return report_json(&value, failure);
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The lines of one import's report.
fn render(r: &ImportReport) -> CliResult {
    let what = match r.outcome {
        ImportOutcome::AlreadyImported => {
            return say(format!(
                "bundle {} (sequence {}) is already imported: nothing to do",
                esc(&r.bundle_id),
                r.sequence
            ));
        }
        ImportOutcome::DryRun => "would import",
        ImportOutcome::Imported => "imported",
    };
    say(format!(
        "{what} {} bundle {} (sequence {}) from store '{}'",
        r.kind,
        esc(&r.bundle_id),
        r.sequence,
        esc(&r.source_store_name)
    ))?;
    say(format!(
        "  {} new, {} updated, {} expired, {} removed, {} unchanged; {} content file(s) to add ({})",
        r.changes.new,
        r.changes.updated,
        r.changes.expired,
        r.changes.removed,
        r.changes.unchanged,
        r.content_files,
        bytes(r.content_bytes)
    ))?;
    crate::cli::commands::upstream::say_decisions(&r.decisions)?;
    for n in &r.notes {
        say(format!("  note: {}", esc(n)))?;
    }
    if r.outcome == ImportOutcome::DryRun {
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
        esc(&r.source_store_name),
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
