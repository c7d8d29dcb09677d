//! The `key` and `trust` subcommands: their clap types, their dispatch, and where a password
//! comes from on this command line (`--password-file`, `OFFSYNC_KEY_PASSWORD`, or a prompt on
//! the terminal).

use super::StoreArg;
use crate::commands;
use crate::error::{Error, Result};
use crate::time::Timestamp;
use crate::trust::{PASSWORD_ENV, PasswordSource};
use clap::Subcommand;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
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

#[derive(Subcommand, Debug)]
pub enum TrustCmd {
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

/// The `key` and `trust` commands, for one dispatch.
pub enum Keys {
    Key(KeyCmd),
    Trust(TrustCmd),
}

impl From<KeyCmd> for Keys {
    fn from(c: KeyCmd) -> Keys {
        Keys::Key(c)
    }
}

impl From<TrustCmd> for Keys {
    fn from(c: TrustCmd) -> Keys {
        Keys::Trust(c)
    }
}

/// Calls the glue function of a `key` or `trust` command.
pub fn dispatch(cmd: Keys, now: Timestamp) -> Result<()> {
    match cmd {
        Keys::Key(KeyCmd::Generate {
            out,
            unencrypted,
            password_file,
            json,
        }) => {
            let source = (!unencrypted).then(|| password_source(password_file));
            commands::key::generate(&out, source.as_ref(), json)
        }
        Keys::Trust(TrustCmd::Add { store, public_key }) => {
            commands::trust::add(&store.store, &public_key, now)
        }
        Keys::Trust(TrustCmd::List { store, json }) => commands::trust::list(&store.store, json),
        Keys::Trust(TrustCmd::Remove { store, key }) => {
            commands::trust::remove(&store.store, &key, now)
        }
    }
}

/// Where this command line's password comes from: `--password-file`, else the environment,
/// else a prompt, offered only when stdin is a terminal (a scheduled job must fail with a
/// message, never wait for input). Export's `--sign` uses the same.
pub(crate) fn password_source(password_file: Option<PathBuf>) -> PasswordSource {
    PasswordSource {
        file: password_file,
        env: std::env::var(PASSWORD_ENV).ok(),
        prompt: if std::io::stdin().is_terminal() {
            Some(prompt_password)
        } else {
            None
        },
    }
}

/// Asks for a password on the terminal without echoing it. The prompt goes to stderr, so that
/// stdout stays clean for `--json`. Echo is switched off with `stty` (the one portable way
/// without a terminal library); if that fails, the password is not asked for at all rather
/// than shown on the screen.
#[cfg(unix)]
fn prompt_password(prompt: &str) -> Result<String> {
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};
    let stty = |arg: &str| {
        Command::new("stty")
            .arg(arg)
            .stdin(Stdio::inherit())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let no_prompt = || {
        Error::usage("cannot switch off echo on this terminal to ask for the password").with_hint(
            format!("give it with --password-file FILE or the environment variable {PASSWORD_ENV}"),
        )
    };
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(prompt.as_bytes());
    let _ = err.flush();
    if !stty("-echo") {
        let _ = writeln!(err);
        return Err(no_prompt());
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    stty("echo");
    let _ = writeln!(err);
    read.map_err(|e| Error::usage(format!("cannot read the password: {e}")))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

#[cfg(not(unix))]
fn prompt_password(_prompt: &str) -> Result<String> {
    Err(
        Error::usage("asking for a password on this terminal is not supported").with_hint(format!(
            "give it with --password-file FILE or the environment variable {PASSWORD_ENV}"
        )),
    )
}
