//! Everything the verbs print on stdout goes through here, so that a closed pipe or a failed
//! write reaches `main` as a value ([`CliError`]) instead of ending the process.
//!
//! Text output passes every value that came from outside (a bundle, an upstream, the media,
//! the store's rows) through [`esc`] where it is formatted, so that no control character
//! reaches the terminal; JSON output keeps every string exact.

use super::exit::CliError;
use crate::error::{Error, ErrorKind};
use std::io::Write;

/// A value from outside, made safe to print as text (see [`crate::text`]).
pub use crate::text::escape_controls as esc;

/// Writes to stdout. A closed pipe is [`CliError::BrokenPipe`]; any other failure is a
/// storage error, as output that did not arrive is a failure a script must see (a full disk,
/// say).
pub fn out(text: &str) -> Result<(), CliError> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .and_then(|_| o.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::BrokenPipe,
            _ => Error::new(ErrorKind::Storage, format!("cannot write the output: {e}")).into(),
        })
}

/// Prints a line to stdout.
pub fn say(line: impl AsRef<str>) -> Result<(), CliError> {
    out(line.as_ref())?;
    out("\n")
}

/// Prints a value as pretty JSON followed by a newline.
pub fn out_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::other(format!("cannot write JSON: {e}")))?;
    out(&s)?;
    out("\n")
}

/// Prints a command's JSON report with the failure `failure`, if any, as its `error` member
/// (the same object [`error_json`] prints alone), so that stdout holds one JSON object either
/// way. Returns the outcome: a failure is [`CliError::Reported`], its text still for stderr.
pub fn report_json<T: serde::Serialize>(
    report: &T,
    failure: Option<Error>,
) -> Result<(), CliError> {
    let mut value = serde_json::to_value(report)
        .map_err(|e| Error::other(format!("cannot write JSON: {e}")))?;
    if let (Some(e), Some(obj)) = (&failure, value.as_object_mut()) {
        // A report's own verdict must not say success beside its error (a verify that
        // passed and then could not list, say).
        if obj.contains_key("ok") {
            obj.insert("ok".into(), false.into());
        }
        if obj.contains_key("exit_code") {
            obj.insert("exit_code".into(), e.kind.exit_code().into());
        }
        obj.insert("error".into(), error_fields(e));
    }
    out_json(&value)?;
    match failure {
        Some(e) => Err(CliError::Reported(e)),
        None => Ok(()),
    }
}

/// `{"error": {"kind", "exit_code", "message", "hint"}}`: what a failed command prints on
/// stdout when `--json` was given (its text goes to stderr as always).
pub fn error_json(e: &Error) -> serde_json::Value {
    serde_json::json!({ "error": error_fields(e) })
}

fn error_fields(e: &Error) -> serde_json::Value {
    serde_json::json!({
        "kind": e.kind.name(),
        "exit_code": e.kind.exit_code(),
        "message": e.message,
        "details": e.details,
        "hint": e.hint,
    })
}

/// Human-readable byte count (binary units).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
