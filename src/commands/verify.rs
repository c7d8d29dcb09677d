use super::say;
use crate::bundle::Finding;
use crate::cli::out_json;
use crate::progress::Progress;
use crate::{Error, ErrorKind, Result};
use std::path::{Path, PathBuf};

pub fn run(
    paths: &[PathBuf],
    pubkey: Option<&Path>,
    json: bool,
    progress: &dyn Progress,
) -> Result<()> {
    let mut report = crate::bundle::verify(paths, progress);
    let mut signed_by = None;
    if let Some(pk) = pubkey {
        match check_signature(&report, pk) {
            Ok(k) => signed_by = Some(k),
            Err(e) => report.findings.push(Finding {
                kind: ErrorKind::Untrusted,
                subject: "manifest.json.minisig".into(),
                message: e.message,
            }),
        }
    }
    if json {
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
            ));
        }
        for f in &report.findings {
            say(format!("FAIL {}: {}", f.subject, f.message));
        }
        if let Some(k) = &signed_by {
            say(format!("signature: good, by key {k}"));
        }
    }
    match report.first_error_kind() {
        None => {
            if !json {
                say("OK: every volume and entry matches the manifest");
            }
            Ok(())
        }
        Some(kind) => Err(Error::new(
            kind,
            format!(
                "the bundle failed verification with {} finding(s)",
                report.findings.len()
            ),
        )),
    }
}

/// Checks manifest.json.minisig against `pubkey`, on the manifest bytes verify read (their
/// SHA-256 must match what verify saw).
fn check_signature(report: &crate::bundle::VerifyReport, pubkey: &Path) -> Result<String> {
    let key = crate::trust::load_public_key(pubkey)?;
    let (Some(path), Some(sha)) = (&report.manifest_path, report.manifest_sha256) else {
        return Err(Error::new(
            ErrorKind::Untrusted,
            "no manifest was read, so no signature could be checked",
        ));
    };
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    if crate::hash::sha256(&bytes) != sha {
        return Err(Error::new(
            ErrorKind::Untrusted,
            "manifest.json changed while it was being verified",
        ));
    }
    let sig = crate::trust::read_signature(path)?;
    let by = crate::trust::verify_manifest(&[key], &bytes, sig.as_deref())?;
    Ok(by.key_id)
}
