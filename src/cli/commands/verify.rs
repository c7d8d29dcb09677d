//! `offsync verify`.

use crate::cli::exit::{CliResult, exit_codes_help};
use crate::cli::output::{out_json, say};
use crate::error::Error;
use crate::ops::verify::verify_bundle;
use crate::progress::Progress;
use std::path::PathBuf;

/// Check a bundle against its manifest; needs no store (a guard station can run it).
///
/// PATH is the bundle folder or its manifest.json; further paths are folders or files
/// where volumes are found (a bundle spread over several discs).
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit_codes_help())]
pub struct Args {
    /// The bundle folder or its manifest.json, then any folders or files holding volumes.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Also check manifest.json.minisig against this public key (exit 12 if it fails).
    #[arg(long, value_name = "PUBLIC-KEY")]
    pubkey: Option<PathBuf>,
    /// Print the result as JSON (fields: see the README).
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let (report, signed_by) = verify_bundle(&a.paths, a.pubkey.as_deref(), progress);
    if a.json {
        out_json(&report)?;
    } else {
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
        if let Some(k) = &signed_by {
            say(format!("signature: good, by key {k}"))?;
        }
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
