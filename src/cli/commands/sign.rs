//! `offsync sign`: sign a bundle that was exported without `--sign`.

use crate::cli::exit::{CliResult, exit_codes_help};
use crate::cli::output::{esc, out_json, say};
use crate::progress::Progress;
use crate::transfer::signature::sign_bundle;
use std::path::PathBuf;

/// Sign an existing bundle: verify it in full, then write manifest.json.minisig beside its
/// manifest, as `export --sign` does. A store that trusts the key's public half then imports
/// it.
///
/// PATH is the bundle folder or its manifest.json; further paths are folders or files where
/// volumes are found (a bundle spread over several discs).
#[derive(clap::Args, Debug)]
#[command(after_long_help = exit_codes_help())]
pub struct Args {
    /// The bundle folder or its manifest.json, then any folders or files holding volumes.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The secret key (NAME.key, made by `offsync key generate`).
    #[arg(long, value_name = "SECRET-KEY")]
    key: PathBuf,
    /// The secret key's password, on the first line of this file (else the environment
    /// variable OFFSYNC_KEY_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Replace a signature the bundle already has (refused otherwise).
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    // Unlocked first: a wrong password costs no verification.
    let signer = super::export::unlock(&a.key, a.password_file)?;
    let r = sign_bundle(&a.paths, &signer, a.force, progress)?;
    if a.json {
        return out_json(&r);
    }
    say(format!(
        "signed bundle {} (sequence {} from store '{}') with key {}{}",
        esc(&r.bundle_id),
        r.sequence,
        esc(&r.store_name),
        r.key_id,
        if r.replaced {
            ", replacing its signature"
        } else {
            ""
        }
    ))?;
    say(format!("  {}", r.signature.display()))?;
    say("check it with `offsync verify --pubkey NAME.pub BUNDLE-FOLDER`")
}
