use super::say;
use crate::Result;
use crate::cli::out_json;
use crate::store::Store;
use crate::time::Timestamp;
use crate::trust::{self, Trusted};
use std::path::Path;

/// `offsync trust add`.
pub fn add(dir: &Path, public_key: &Path, now: Timestamp) -> Result<()> {
    let mut store = Store::open(dir)?;
    let pk = trust::load_public_key(public_key)?;
    let first = store.trusted_keys()?.is_empty();
    match trust::trust_key(&mut store, &pk, now)? {
        Trusted::AlreadyTrusted => {
            say(format!("key {} is already trusted", pk.key_id()));
        }
        Trusted::Added => {
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
            say(format!("trusted key {} ({})", pk.key_id(), pk.comment()));
            if first {
                say(
                    "from now on, import refuses bundles that are unsigned or signed by a key not trusted here",
                );
            }
        }
    }
    Ok(())
}

/// `offsync trust list`.
pub fn list(dir: &Path, json: bool) -> Result<()> {
    let store = Store::open_readonly(dir)?;
    let keys = store.trusted_keys()?;
    if json {
        return out_json(&keys);
    }
    if keys.is_empty() {
        say("no key is trusted: import accepts unsigned bundles and checks no signature");
        say("trust a key with `offsync trust add --store STORE NAME.pub`");
    }
    for k in &keys {
        say(format!("{}  added {}  {}", k.key_id, k.added, k.comment));
    }
    Ok(())
}

/// `offsync trust remove`.
pub fn remove(dir: &Path, key: &str, now: Timestamp) -> Result<()> {
    let mut store = Store::open(dir)?;
    let removed = trust::untrust_key(&mut store, key)?;
    store.log(
        "TRUST",
        &format!(
            "key {} no longer trusted ({})",
            removed.key_id, removed.comment
        ),
        now,
    );
    say(format!("key {} is no longer trusted", removed.key_id));
    if store.trusted_keys()?.is_empty() {
        say("no key is trusted now: import accepts unsigned bundles again");
    }
    Ok(())
}
