//! Verifying a bundle with no store, and optionally its signature against one public key (as
//! at a guard station).

use crate::bundle::{Finding, SignatureCheck, VerifyReport};
use crate::error::{Error, ErrorKind, Result};
use crate::progress::Progress;
use std::path::{Path, PathBuf};

/// Verifies the bundle at `paths`; with `pubkey`, also its manifest's signature, a failure of
/// which is one more finding. Returns the report and the id of the key that signed.
pub fn verify_bundle(
    paths: &[PathBuf],
    pubkey: Option<&Path>,
    progress: &dyn Progress,
) -> (VerifyReport, Option<String>) {
    let mut report = crate::bundle::verify(paths, progress);
    let mut signed_by = None;
    if let Some(pk) = pubkey {
        match check_signature(&report, pk) {
            Ok(k) => {
                signed_by = Some(k);
                report.signature = SignatureCheck::Good;
            }
            Err(e) => {
                report.signature = SignatureCheck::Failed;
                report.findings.push(Finding {
                    kind: ErrorKind::Untrusted,
                    subject: "manifest.json.minisig".into(),
                    message: e.message,
                });
            }
        }
    } else if let Some(m) = &report.manifest_path
        && std::fs::symlink_metadata(crate::trust::signature_path(m)).is_ok()
    {
        report.signature = SignatureCheck::NotChecked;
    }
    (report, signed_by)
}

/// Checks manifest.json.minisig against `pubkey`, on the manifest bytes verify read (their
/// SHA-256 must match what verify saw).
fn check_signature(report: &VerifyReport, pubkey: &Path) -> Result<String> {
    let key = crate::trust::load_public_key(pubkey)?;
    let (Some(path), Some(sha)) = (&report.manifest_path, report.manifest_sha256) else {
        return Err(Error::new(
            ErrorKind::Untrusted,
            "no manifest was read, so no signature could be checked",
        ));
    };
    let bytes = crate::bundle::verify::read_manifest_bytes(path)?;
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
