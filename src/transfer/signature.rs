//! Authenticity at import: once a store trusts any key, a bundle passes only with a
//! `manifest.json.minisig` made by one of those keys. The manifest lists every volume's and
//! every entry's digest, so the one signature covers every byte of the bundle.

use crate::bundle::BundleReader;
use crate::error::Result;
use crate::store::Store;
use crate::trust::{self, SignatureCheck};

/// Checks the signature of the manifest bytes the reader parsed (never re-read from the
/// media) against the keys the store trusts.
pub fn check(store: &Store, reader: &BundleReader) -> Result<SignatureCheck> {
    let trusted = trust::trusted_public_keys(&store.trusted_keys()?)?;
    let sig = trust::read_signature(reader.manifest_path())?;
    trust::check_signature(&trusted, reader.manifest_bytes(), sig.as_deref())
}
