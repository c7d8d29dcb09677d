//! `offsync trust add|list|remove`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out_json, say};
use crate::ops::trust::{trust_key_file, untrust};
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use crate::trust::Trusted;
use clap::Subcommand;
use std::path::PathBuf;

/// The public keys whose signatures this store accepts on bundles.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Trust a public key (NAME.pub): from now on, import accepts only bundles it signed
    /// (or another trusted key signed).
    Add {
        #[command(flatten)]
        store: StoreArg,
        /// The public key file (minisign format).
        #[arg(value_name = "PUBLIC-KEY-FILE")]
        public_key: PathBuf,
    },
    /// List the trusted keys.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Print the keys (id, public key text, comment, when added) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting a key. When no key is left, import accepts unsigned bundles again.
    Remove {
        #[command(flatten)]
        store: StoreArg,
        /// The key id (16 hex digits, see `trust list`) or the public key file.
        #[arg(value_name = "KEY-ID-OR-PUBLIC-KEY-FILE")]
        key: String,
    },
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::Add { store, public_key } => {
            let mut store = Store::open(&store.store)?;
            let t = trust_key_file(&mut store, &public_key, Timestamp::now())?;
            store.report_log_failure(progress);
            if t.outcome == Trusted::AlreadyTrusted {
                return say(format!("key {} is already trusted", t.key_id));
            }
            say(format!("trusted key {} ({})", t.key_id, esc(&t.comment)))?;
            if t.first {
                say(
                    "from now on, import refuses bundles that are unsigned or signed by a key not trusted here",
                )?;
            }
            Ok(())
        }
        Cmd::List { store, json } => {
            let keys = Store::open_readonly(&store.store)?.trusted_keys()?;
            if json {
                return out_json(&keys);
            }
            if keys.is_empty() {
                say("no key is trusted: import accepts unsigned bundles and checks no signature")?;
                say("trust a key with `offsync trust add --store STORE NAME.pub`")?;
            }
            for k in &keys {
                say(format!(
                    "{}  added {}  {}",
                    k.key_id,
                    k.added,
                    esc(&k.comment)
                ))?;
            }
            Ok(())
        }
        Cmd::Remove { store, key } => {
            let mut store = Store::open(&store.store)?;
            let r = untrust(&mut store, &key, Timestamp::now())?;
            store.report_log_failure(progress);
            say(format!("key {} is no longer trusted", r.removed.key_id))?;
            if r.none_left {
                say("no key is trusted now: import accepts unsigned bundles again")?;
            }
            Ok(())
        }
    }
}
