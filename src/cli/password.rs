//! Where a password comes from on this command line (`--password-file`,
//! `OFFSYNC_KEY_PASSWORD`, or a prompt on the terminal), for `key generate` and `export --sign`.

use crate::error::{Error, Result};
use crate::trust::{PASSWORD_ENV, PasswordSource};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Where this command line's password comes from: `--password-file`, else the environment,
/// else a prompt, offered only when stdin is a terminal (a scheduled job must fail with a
/// message, never wait for input).
pub fn password_source(password_file: Option<PathBuf>) -> PasswordSource {
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
