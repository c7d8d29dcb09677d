//! Authenticity at import: once a store trusts any key, a bundle passes only with a
//! `manifest.json.minisig` made by one of those keys. The manifest lists every volume's and
//! every entry's digest, so the one signature covers every byte of the bundle.

use crate::bundle::{BundleReader, Manifest};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::store::Store;
use crate::trust::{self, SignatureCheck, SigningKey};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Checks the signature of the manifest bytes the reader parsed (never re-read from the
/// media) against the keys the store trusts.
pub fn check(store: &Store, reader: &BundleReader) -> Result<SignatureCheck> {
    let trusted = trust::trusted_public_keys(&store.trusted_keys()?)?;
    let sig = trust::read_signature(reader.manifest_path())?;
    trust::check_signature(&trusted, reader.manifest_bytes(), sig.as_deref())
}

/// Signs a bundle's `manifest.json` at `manifest_path` with `signer`, writing
/// `manifest.json.minisig` beside it; `manifest_sha256` is the digest of the manifest that was
/// written or verified, and the file must still hold exactly those bytes. Returns the key id.
pub(crate) fn sign_manifest_file(
    signer: &SigningKey,
    manifest_path: &Path,
    manifest_sha256: &[u8; 32],
    m: &Manifest,
) -> Result<String> {
    // The manifest may be on the media (`offsync sign`): read as every media file is, capped
    // and never waiting on a FIFO.
    let bytes = crate::bundle::verify::read_manifest_bytes(manifest_path)?;
    if crate::hash::sha256(&bytes) != *manifest_sha256 {
        return Err(Error::other(
            "manifest.json changed while the bundle was being signed",
        ));
    }
    let comment = format!(
        "offsync bundle {} store {} sequence {}",
        m.bundle_id, m.source.store_name, m.sequence
    );
    let sig = signer.sign(&bytes, &comment)?;
    crate::fsutil::atomic_write(&trust::signature_path(manifest_path), &sig)?;
    Ok(signer.key_id().to_string())
}

/// What `sign` did.
#[derive(Clone, Debug, Serialize)]
pub struct SignReport {
    pub bundle_id: String,
    pub sequence: u64,
    pub store_name: String,
    /// The key that signed.
    pub key_id: String,
    /// The signature file written.
    pub signature: PathBuf,
    /// Whether a signature that was there before was replaced.
    pub replaced: bool,
}

/// Signs an existing bundle (an export made without `--sign`): verifies it in full first, so
/// that only a bundle whose every byte matches its manifest is vouched for, then signs its
/// manifest as `export --sign` does. A bundle that already has a signature is refused unless
/// `replace` (its signature may be by a key the receiving side trusts).
pub fn sign_bundle(
    paths: &[PathBuf],
    signer: &SigningKey,
    replace: bool,
    progress: &dyn Progress,
) -> Result<SignReport> {
    let set = super::media::find_bundles(paths)?;
    if let Some(root) = &set.root {
        return Err(Error::usage(format!(
            "{} holds {} bundle folders, not one bundle",
            root.display(),
            set.bundles.len()
        ))
        .with_hint("give the one bundle folder to sign"));
    }
    let first = &paths[0];
    let (manifest_path, _) = crate::bundle::find_manifest(first)?;
    let sig_path = trust::signature_path(&manifest_path);
    let existed = std::fs::symlink_metadata(&sig_path).is_ok();
    if existed && !replace {
        return Err(Error::usage(format!(
            "{} is already signed ({} exists)",
            first.display(),
            sig_path.display()
        ))
        .with_hint("`offsync verify --pubkey NAME.pub` checks it; --force replaces it"));
    }
    let report = crate::bundle::verify(paths, progress);
    if let Some(kind) = report.first_error_kind() {
        let first_finding = &report.findings[0];
        return Err(Error::new(
            kind,
            format!(
                "the bundle failed verification ({} finding(s), first: {}: {}); it was not signed",
                report.findings.len(),
                first_finding.subject,
                first_finding.message
            ),
        )
        .with_hint("`offsync verify` lists every finding; sign only an intact bundle"));
    }
    let (Some(m), Some(sha)) = (&report.manifest, report.manifest_sha256) else {
        return Err(Error::other("verification read no manifest"));
    };
    let key_id = sign_manifest_file(signer, &manifest_path, &sha, m)?;
    Ok(SignReport {
        bundle_id: m.bundle_id.clone(),
        sequence: m.sequence,
        store_name: m.source.store_name.clone(),
        key_id,
        signature: sig_path,
        replaced: existed,
    })
}
