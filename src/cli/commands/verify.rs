//! `offsync verify`.

use crate::bundle::VerifyReport;
use crate::cli::exit::{CliResult, exit_codes_help};
use crate::cli::output::{out_json, say};
use crate::error::Error;
use crate::ops::verify::verify_bundle;
use crate::progress::Progress;
use crate::transfer::media::{MediaSet, find_bundles};
use std::path::{Path, PathBuf};

/// Check a bundle against its manifest; needs no store (a guard station can run it).
///
/// PATH is the bundle folder or its manifest.json; further paths are folders or files
/// where volumes are found (a bundle spread over several discs). Given the media root (a
/// folder holding several bundle folders), checks each bundle and reports on each.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit_codes_help())]
pub struct Args {
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also check manifest.json.minisig against this public key (exit 12 if it fails).
    #[arg(long, value_name = "PUBLIC-KEY")]
    pubkey: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let set = find_bundles(&a.paths)?;
    if let Some(root) = &set.root {
        return verify_root(root, &set, a.pubkey.as_deref(), a.json, progress);
    }
    let (report, signed_by) = verify_bundle(&a.paths, a.pubkey.as_deref(), progress);
    if a.json {
        out_json(&report)?;
    } else {
        render(&report, signed_by.as_deref())?;
    }
    if let Some(kind) = report.first_error_kind() {
        return Err(Error::new(
            kind,
            format!(
                "the bundle failed verification with {} finding(s)",
                report.findings.len()
            ),
        )
        .into());
    }
    if !a.json {
        say("OK: every volume and entry matches the manifest")?;
    }
    Ok(())
}

/// One bundle's result as per-bundle JSON of a media root.
#[derive(serde::Serialize)]
struct RootEntry<'a> {
    path: &'a Path,
    signed_by: Option<String>,
    #[serde(flatten)]
    report: VerifyReport,
}

/// A media root: each bundle folder verified and reported on its own; the exit code is the
/// first failing bundle's.
fn verify_root(
    root: &Path,
    set: &MediaSet,
    pubkey: Option<&Path>,
    json: bool,
    progress: &dyn Progress,
) -> CliResult {
    let mut entries = Vec::new();
    for paths in &set.bundles {
        let (report, signed_by) = verify_bundle(paths, pubkey, progress);
        if !json {
            say(format!("== {}", paths[0].display()))?;
            render(&report, signed_by.as_deref())?;
            if report.ok() {
                say("OK: every volume and entry matches the manifest")?;
            }
        }
        entries.push(RootEntry {
            path: &paths[0],
            signed_by,
            report,
        });
    }
    let failed: Vec<&RootEntry> = entries.iter().filter(|e| !e.report.ok()).collect();
    let first_kind = failed.first().and_then(|e| e.report.first_error_kind());
    if json {
        out_json(&serde_json::json!({
            "media_root": root,
            "ok": failed.is_empty(),
            "bundles": entries,
        }))?;
    } else {
        say(format!(
            "{}: {} bundle folder(s), {} failed",
            root.display(),
            entries.len(),
            failed.len()
        ))?;
    }
    if let Some(kind) = first_kind {
        let names: Vec<String> = failed
            .iter()
            .map(|e| e.path.display().to_string())
            .collect();
        return Err(Error::new(
            kind,
            format!(
                "{} of {} bundle folder(s) failed verification: {}",
                failed.len(),
                entries.len(),
                names.join(", ")
            ),
        )
        .into());
    }
    Ok(())
}

/// The text lines of one bundle's verification (its success line excepted).
fn render(report: &VerifyReport, signed_by: Option<&str>) -> CliResult {
    if let Some(m) = &report.manifest {
        say(format!(
            "bundle {} from store '{}', sequence {} ({}), {} volume(s), {} entries",
            m.bundle_id,
            m.source.store_name,
            m.sequence,
            crate::transfer::export::kind_name(m.kind),
            m.volumes.len(),
            m.entries.len()
        ))?;
    }
    for f in &report.findings {
        say(format!("FAIL {}: {}", f.subject, f.message))?;
    }
    if let Some(k) = signed_by {
        say(format!("signature: good, by key {k}"))?;
    }
    Ok(())
}
