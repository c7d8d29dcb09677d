//! `offsync export`, and where its signing key, creation time and validity come from on this
//! command line.

use crate::bundle::check_out_dir;
use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{bytes, out_json, say};
use crate::cli::password::password_source;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use crate::transfer::export::{ExportOptions, export_after};
use crate::trust::{PasswordUse, SigningKey, resolve_password, secret_key_is_encrypted};
use std::path::PathBuf;

/// Write the changes since the last export (or everything) as a bundle of ZIP volumes, with
/// the content files the store has and their checksums.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// The folder in which the bundle folder is created (for example the removable media).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Everything the store holds, not only the changes since the last export.
    #[arg(long)]
    full: bool,
    /// Carry no content files.
    #[arg(long)]
    metadata_only: bool,
    /// How long the bundle stays valid (30d, 12h, 90m, 3600s); import refuses it after
    /// that (exit 14) unless --allow-expired.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    valid_for: Option<i64>,
    /// Sign manifest.json with this secret key (made by `offsync key generate`); the
    /// signature is written beside it as manifest.json.minisig.
    #[arg(long, value_name = "SECRET-KEY")]
    sign: Option<PathBuf>,
    /// The secret key's password, on the first line of this file (else the environment
    /// variable OFFSYNC_KEY_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE", requires = "sign")]
    password_file: Option<PathBuf>,
    /// Largest volume: bytes with binary units (700M, 4G; 1K = 1024) or cd, dvd, bd, fat32.
    #[arg(long, value_name = "SIZE", default_value = "fat32", value_parser = parse_size)]
    max_volume_size: u64,
    /// Write an incremental bundle even when nothing changed since the last one (by default
    /// such an export says so and writes nothing).
    #[arg(long)]
    allow_empty: bool,
    /// The bundle that takes the downstream point POINT (its store id or name, registered
    /// by `offsync receipt import`) from what it acknowledged to now: incremental from its
    /// acknowledged bundle, full when it acknowledged nothing this store still has.
    #[arg(long = "for", value_name = "POINT")]
    for_point: Option<String>,
    /// Print the result as JSON (fields: see the README).
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let now = crate::cli::args::now();
    // The key is unlocked before anything is written, so a wrong password costs nothing.
    let signer = match a.sign {
        None => None,
        Some(k) => Some(unlock(&k, a.password_file)?),
    };
    let created = creation_time()?;
    let mut opts = ExportOptions {
        out: a.out,
        full: a.full,
        metadata_only: a.metadata_only,
        max_volume_size: a.max_volume_size,
        created,
        valid_until: a
            .valid_for
            .map(|secs| Timestamp(created.0.saturating_add(secs))),
        signer,
        allow_empty: a.allow_empty,
    };
    check_out_dir(&opts.out)?;
    let store = Store::open(&a.store.store)?;
    let target = match &a.for_point {
        Some(point) => Some(crate::transfer::receipt::export_target(&store, point)?),
        None => None,
    };
    opts.full |= target.as_ref().is_some_and(|t| t.acknowledged.is_none());
    // SIGINT and SIGTERM now stop the export at a safe point instead of killing it.
    crate::cli::interrupt::install()?;
    let Some(r) = export_after(&store, &opts, target.as_ref(), now, progress)? else {
        return nothing_changed(&store, a.json);
    };
    if a.json {
        return out_json(&r);
    }
    for m in &r.missing {
        progress.note(&format!(
            "warning: the store lacks {} of update {}: not in the bundle",
            m.name, m.update_id
        ));
    }
    if r.missing_files > r.missing.len() as u64 {
        progress.note(&format!(
            "warning: {} more referenced file(s) missing (only the first {} are named)",
            r.missing_files - r.missing.len() as u64,
            r.missing.len()
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
    ))?;
    say(format!(
        "  {} categories, {} updates ({} removed), {} decision(s), {} content files ({}), {} volume(s); {} referenced file(s) missing",
        r.categories,
        r.updates,
        r.removed,
        r.decisions,
        r.content_files,
        bytes(r.content_bytes),
        r.volumes.len(),
        r.missing_files
    ))?;
    for v in &r.volumes {
        say(format!("  {}  {}", v.name, bytes(v.size)))?;
    }
    if let Some(k) = &r.signed_by {
        say(format!(
            "  manifest.json signed by key {k} (manifest.json.minisig)"
        ))?;
    }
    say(
        "check it anywhere with `offsync verify BUNDLE-FOLDER` (or `sha256sum -c SHA256SUMS` inside it)",
    )
}

/// Says that nothing changed since the last bundle, and that nothing was written.
fn nothing_changed(store: &Store, json: bool) -> CliResult {
    let last = store.last_export()?;
    let (sequence, changes_to) = last.map_or((0, 0), |l| (l.sequence, l.changes_to));
    if json {
        return out_json(&serde_json::json!({
            "outcome": "nothing-changed",
            "last_sequence": sequence,
            "changes_to": changes_to,
        }));
    }
    say(format!(
        "nothing changed since bundle sequence {sequence} (changes up to {changes_to}): no bundle written"
    ))?;
    say("  --allow-empty writes an empty incremental bundle anyway")
}

/// Loads the secret key `path`, asking for its password only when it is encrypted.
pub(super) fn unlock(path: &std::path::Path, password_file: Option<PathBuf>) -> Result<SigningKey> {
    let pw = if secret_key_is_encrypted(path)? {
        Some(resolve_password(
            &password_source(password_file),
            PasswordUse::Unlock,
        )?)
    } else {
        None
    };
    SigningKey::load(path, pw.as_ref())
}

fn parse_size(s: &str) -> Result<u64, String> {
    crate::bundle::parse_size(s).map_err(|e| e.message)
}

/// The creation time written into a bundle: `SOURCE_DATE_EPOCH` when set (reproducible
/// builds' convention), otherwise now.
pub(super) fn creation_time() -> Result<Timestamp> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse::<i64>().map(Timestamp).map_err(|_| {
            Error::usage(format!(
                "SOURCE_DATE_EPOCH is '{v}', not a number of seconds since 1970"
            ))
        }),
        Err(_) => Ok(Timestamp::now()),
    }
}

/// A duration such as `30d`, `12h`, `90m` or `3600s`, in seconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    // A bare number is seconds.
    let n = if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() {
        crate::time::parse_duration(&format!("{t}s"))
    } else {
        crate::time::parse_duration(t)
    }
    .ok_or_else(|| format!("'{s}' is not a duration such as 30d, 12h, 90m or 3600s"))?;
    if n == 0 {
        return Err("a bundle valid for no time at all would be refused at once".into());
    }
    Ok(n)
}
