//! `offsync verify`.

use crate::cli::exit::{CliResult, exit_codes_help};
use crate::cli::output::{bytes, esc, report_json, say};
use crate::error::Error;
use crate::ops::verify::{
    BundleListing, GuardReport, SignatureState, Validity, list_bundle, verify_bundle,
};
use crate::progress::Progress;
use crate::time::Timestamp;
use crate::transfer::media::{MediaSet, find_bundles};
use std::path::{Path, PathBuf};

/// Check a bundle against its manifest; needs no store (a guard station can run it).
///
/// PATH is the bundle folder or its manifest.json; further paths are folders or files
/// where volumes are found (a bundle spread over several discs). Reports the signature
/// (absent, present and not checked, or checked with --pubkey) and the validity; an expired
/// bundle fails (exit 14), as import would refuse it. Given the media root (a folder holding
/// several bundle folders), checks each bundle and reports on each.
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit_codes_help())]
pub struct Args {
    /// The bundle folder or its manifest.json, then any folders or files holding volumes.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also check manifest.json.minisig against this public key (exit 12 if it fails).
    #[arg(long, value_name = "PUBLIC-KEY")]
    pubkey: Option<PathBuf>,
    /// Also list what crosses: each update (KB, title, classification, revision, state) and
    /// each content file (name, size, SHA-256), from the verified metadata.
    #[arg(long)]
    list: bool,
    /// Print the report as one JSON object (a failure as its `error` member).
    #[arg(long)]
    json: bool,
}

/// The report as JSON: the verification, and with `--list` the listing.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    guard: &'a GuardReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<&'a BundleListing>,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let set = find_bundles(&a.paths)?;
    if let Some(root) = &set.root {
        if a.list {
            return Err(Error::usage(format!(
                "{} holds several bundle folders: --list lists one bundle",
                root.display()
            ))
            .with_hint("give one bundle folder with --list")
            .into());
        }
        return verify_root(root, &set, a.pubkey.as_deref(), a.json, progress);
    }
    let g = verify_bundle(&a.paths, a.pubkey.as_deref(), Timestamp::now(), progress);
    let r = &g.report;
    let mut failure = r.first_error_kind().map(|kind| {
        Error::new(
            kind,
            format!(
                "the bundle failed verification with {} finding(s)",
                r.findings.len()
            ),
        )
    });
    // Only a bundle that passed is listed: what a failed one claims to carry means nothing.
    let mut listing = None;
    if a.list
        && failure.is_none()
        && let Some(sha) = r.manifest_sha256
    {
        match list_bundle(&a.paths, sha) {
            Ok(l) => listing = Some(l),
            Err(e) => failure = Some(e),
        }
    }
    if a.json {
        let report = JsonReport {
            guard: &g,
            list: listing.as_ref(),
        };
        return report_json(&report, failure);
    }
    print_text(&g)?;
    if let Some(l) = &listing {
        print_listing(l)?;
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    say("OK: every volume and entry matches the manifest")
}

/// One bundle's result in the JSON of a media root.
#[derive(serde::Serialize)]
struct RootEntry<'a> {
    path: &'a Path,
    #[serde(flatten)]
    guard: GuardReport,
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
        let guard = verify_bundle(paths, pubkey, Timestamp::now(), progress);
        if !json {
            say(format!("== {}", esc(&paths[0].display().to_string())))?;
            print_text(&guard)?;
            if guard.report.ok() {
                say("OK: every volume and entry matches the manifest")?;
            }
        }
        entries.push(RootEntry {
            path: &paths[0],
            guard,
        });
    }
    let failed: Vec<&RootEntry> = entries.iter().filter(|e| !e.guard.report.ok()).collect();
    let failure = failed
        .first()
        .and_then(|e| e.guard.report.first_error_kind())
        .map(|kind| {
            let names: Vec<String> = failed
                .iter()
                .map(|e| e.path.display().to_string())
                .collect();
            Error::new(
                kind,
                format!(
                    "{} of {} bundle folder(s) failed verification: {}",
                    failed.len(),
                    entries.len(),
                    names.join(", ")
                ),
            )
        });
    if json {
        // One object on stdout, the failure (if any) as its `error` member.
        let value = serde_json::json!({
            "media_root": root,
            "ok": failed.is_empty(),
            "bundles": entries,
        });
        return report_json(&value, failure);
    }
    say(format!(
        "{}: {} bundle folder(s), {} failed",
        esc(&root.display().to_string()),
        entries.len(),
        failed.len()
    ))?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The summary, the signature, the validity and every finding. Every value from the bundle
/// or the media is escaped: a store name must not be able to forge or hide a line.
fn print_text(g: &GuardReport) -> CliResult {
    let r = &g.report;
    if let Some(m) = &r.manifest {
        say(format!(
            "bundle {} from store '{}', sequence {} ({}), {} volume(s), {} entries",
            esc(&m.bundle_id),
            esc(&m.source.store_name),
            m.sequence,
            m.kind.as_str(),
            m.volumes.len(),
            m.entries.len()
        ))?;
    }
    if let Some(s) = &g.signature {
        let key = s.key_id.as_deref().map(esc).unwrap_or_default();
        say(match s.state {
            SignatureState::Absent => "signature: absent (the bundle is not signed)".to_string(),
            SignatureState::NotChecked if key.is_empty() => {
                "signature: present, not checked (give --pubkey to check it)".to_string()
            }
            SignatureState::NotChecked => format!(
                "signature: present (names key {key}), not checked (give --pubkey to check it)"
            ),
            SignatureState::Good => format!("signature: good, by key {key}"),
            SignatureState::Bad => "signature: BAD (see the finding below)".to_string(),
        })?;
    }
    if let Some(v) = &g.validity {
        say(validity_line(v))?;
    }
    for f in &r.findings {
        say(format!("FAIL {}: {}", esc(&f.subject), esc(&f.message)))?;
    }
    Ok(())
}

fn validity_line(v: &Validity) -> String {
    match v.valid_until {
        None => "validity: no expiry (the bundle has no valid_until)".to_string(),
        Some(until) if v.expired => format!(
            "validity: EXPIRED at {until} (now {})",
            v.checked_at.rfc3339()
        ),
        Some(until) => format!("validity: valid until {until}"),
    }
}

fn print_listing(l: &BundleListing) -> CliResult {
    say(format!("updates ({}):", l.updates.len()))?;
    for u in &l.updates {
        say(format!(
            "  {:<11} rev {:<5} {:<9} {:<24} {}",
            u.kb.as_deref()
                .map(|k| format!("KB{}", esc(k)))
                .unwrap_or_else(|| "-".into()),
            u.revision,
            u.state,
            esc(u.classification.as_deref().unwrap_or("-")),
            esc(&u.title)
        ))?;
    }
    say(format!("content files ({}):", l.content_files.len()))?;
    for f in &l.content_files {
        say(format!(
            "  {}  {} ({})  {}",
            f.sha256,
            f.size,
            bytes(f.size),
            esc(f.name.as_deref().unwrap_or("(no name in the metadata)"))
        ))?;
    }
    Ok(())
}
