//! Trusting and untrusting public keys, with the store's log.

use crate::error::Result;
use crate::store::{Store, TrustedKey};
use crate::time::Timestamp;
use crate::trust::{self, Trusted};
use std::path::Path;

/// The outcome of [`trust_key_file`].
#[derive(Clone, Debug)]
pub struct KeyTrusted {
    pub key_id: String,
    pub comment: String,
    pub outcome: Trusted,
    /// No key was trusted before: from now on, unsigned bundles are refused.
    pub first: bool,
}

/// Makes `store` trust the public key in the file `public_key`.
pub fn trust_key_file(store: &mut Store, public_key: &Path, now: Timestamp) -> Result<KeyTrusted> {
    let pk = trust::load_public_key(public_key)?;
    let first = store.trusted_keys()?.is_empty();
    let outcome = trust::trust_key(store, &pk, now)?;
    if outcome == Trusted::Added {
        store.log(
            "TRUST",
            &format!(
                "key {} trusted ({}) from {}",
                pk.key_id(),
                pk.comment(),
                public_key.display()
            ),
            now,
        );
    }
    Ok(KeyTrusted {
        key_id: pk.key_id().to_string(),
        comment: pk.comment().to_string(),
        outcome,
        first,
    })
}

/// The outcome of [`untrust`].
#[derive(Clone, Debug)]
pub struct KeyUntrusted {
    pub removed: TrustedKey,
    /// No key is trusted now: unsigned bundles are accepted again.
    pub none_left: bool,
}

/// Makes `store` stop trusting the key `spec` names (a key id or a public key file).
pub fn untrust(store: &mut Store, spec: &str, now: Timestamp) -> Result<KeyUntrusted> {
    let removed = trust::untrust_key(store, spec)?;
    store.log(
        "TRUST",
        &format!(
            "key {} no longer trusted ({})",
            removed.key_id, removed.comment
        ),
        now,
    );
    Ok(KeyUntrusted {
        none_left: store.trusted_keys()?.is_empty(),
        removed,
    })
}
