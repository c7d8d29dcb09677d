//! Everything the verbs print on stdout goes through here, so that a closed pipe or a failed
//! write reaches `main` as a value ([`CliError`]) instead of ending the process.

use super::exit::CliError;
use crate::error::{Error, ErrorKind};
use std::io::Write;

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

/// Shows, on stderr, a log line the store could not write during a verb that shows no
/// progress (logging never fails a command, but the administrator must learn of it).
pub fn warn_log_failure(store: &crate::store::Store) {
    store.report_log_failure(&StderrWarnings);
}

/// Progress for verbs without any: only warnings, as lines on stderr.
struct StderrWarnings;

impl crate::progress::Progress for StderrWarnings {
    fn start(&self, _: &str, _: Option<u64>, _: crate::progress::Unit) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}
