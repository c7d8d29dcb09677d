use super::say;
use crate::Result;
use crate::cli::out_json;
use crate::trust::{self, PasswordSource, PasswordUse};
use std::path::Path;

/// `offsync key generate`: `password` None makes an unencrypted key (`--unencrypted`).
pub fn generate(out: &Path, password: Option<&PasswordSource>, json: bool) -> Result<()> {
    let pw = match password {
        Some(source) => Some(trust::resolve_password(source, PasswordUse::NewKey)?),
        None => None,
    };
    let paths = trust::generate_key(out, pw.as_ref().map(|p| p.secret.as_str()))?;
    if json {
        return out_json(&paths);
    }
    say(format!("key id:     {}", paths.key_id));
    say(format!(
        "secret key: {} ({})",
        paths.secret_key.display(),
        if paths.encrypted {
            "encrypted with the password"
        } else {
            "NOT encrypted: anyone who can read it can sign bundles"
        }
    ));
    say(format!("public key: {}", paths.public_key.display()));
    say("next:");
    say(format!(
        "  1. copy {} to the isolated side and run `offsync trust add --store STORE {}` there",
        paths.public_key.display(),
        paths
            .public_key
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    say(format!(
        "  2. sign exports with `offsync export --sign {}`; the secret key never crosses the gap",
        paths.secret_key.display()
    ));
    Ok(())
}
