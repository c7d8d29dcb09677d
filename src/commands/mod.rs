//! Glue, one file per verb: open the store, call the library, render the result as text or
//! JSON. No business rules live here.

pub mod categories;
pub mod check;
pub mod content;
pub mod criteria;
pub mod demo;
pub mod export;
pub mod import;
pub mod init;
pub mod key;
pub mod status;
pub mod sync;
pub mod trust;
pub mod updates;
pub mod upstream;
pub mod verify;

use crate::cli::out;

/// Prints a line to stdout.
pub(crate) fn say(line: impl AsRef<str>) {
    out(line.as_ref());
    out("\n");
}

/// Human-readable byte count (binary units).
pub(crate) fn bytes(n: u64) -> String {
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
