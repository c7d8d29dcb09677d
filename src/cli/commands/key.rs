//! `offsync key generate`.

use crate::cli::exit::CliResult;
use crate::cli::output::{out_json, say};
use crate::cli::password::password_source;
use crate::trust::{self, PasswordUse};
use clap::Subcommand;
use std::path::PathBuf;

/// Signing keys: make the key pair that signs bundles.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Make a signing key pair: NAME.key (secret) and NAME.pub (public), in minisign's formats.
    ///
    /// The secret key is encrypted with a password, read from --password-file (its first
    /// line), else from the environment variable OFFSYNC_KEY_PASSWORD, else asked for on the
    /// terminal. Existing files are never overwritten.
    Generate {
        /// The key pair's name, with a folder if wanted: writes NAME.key and NAME.pub.
        #[arg(long, value_name = "NAME")]
        out: PathBuf,
        /// Do not encrypt the secret key (anyone who can read NAME.key can sign bundles).
        #[arg(long)]
        unencrypted: bool,
        /// A file whose first line is the password.
        #[arg(long, value_name = "FILE", conflicts_with = "unencrypted")]
        password_file: Option<PathBuf>,
        /// Print the key id and the two paths as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(c: Cmd) -> CliResult {
    let Cmd::Generate {
        out,
        unencrypted,
        password_file,
        json,
    } = c;
    let pw = if unencrypted {
        None
    } else {
        let source = password_source(password_file);
        Some(trust::resolve_password(&source, PasswordUse::NewKey)?)
    };
    let paths = trust::generate_key(&out, pw.as_ref().map(|p| p.secret.as_str()))?;
    if json {
        return out_json(&paths);
    }
    say(format!("key id:     {}", paths.key_id))?;
    say(format!(
        "secret key: {} ({})",
        paths.secret_key.display(),
        if paths.encrypted {
            "encrypted with the password"
        } else {
            "NOT encrypted: anyone who can read it can sign bundles"
        }
    ))?;
    say(format!("public key: {}", paths.public_key.display()))?;
    say("next:")?;
    say(format!(
        "  1. copy {} to the isolated side and run `offsync trust add --store STORE {}` there",
        paths.public_key.display(),
        paths
            .public_key
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ))?;
    say(format!(
        "  2. sign exports with `offsync export --sign {}`; the secret key never crosses the gap",
        paths.secret_key.display()
    ))
}
