//! The library's error type: what went wrong, where, and what to do next, plus the category
//! that decides the process exit code. Every module returns this type so that the exit code
//! table (in `--help` and the README) is decided in one place: `ErrorKind`.

use std::fmt;
use std::path::Path;

/// Declares [`ErrorKind`] from one table, so that its variants, [`ErrorKind::ALL`], the exit
/// codes, the JSON names and the meanings cannot drift apart: a kind added to the table is in
/// every list, and one left out of it does not exist.
macro_rules! error_kinds {
    ($($(#[$doc:meta])* $kind:ident = $code:literal, $name:literal, $meaning:literal;)+) => {
        /// Categories of failure, one per documented exit code. [`ErrorKind::ALL`] is the one
        /// list the exit-code table of `--help` is built from and the README's table is
        /// tested against.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ErrorKind {
            $($(#[$doc])* $kind,)+
        }

        impl ErrorKind {
            /// Every kind, in the order of the table (exit-code order; a unit test holds it).
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind,)+];

            pub fn exit_code(self) -> u8 {
                match self {
                    $(ErrorKind::$kind => $code,)+
                }
            }

            /// The name of an error category as it appears in `--json` output.
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $name,)+
                }
            }

            /// What the exit code means, as the table in `--help` and in the README says it.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $meaning,)+
                }
            }
        }
    };
}

error_kinds! {
    /// Anything not covered below (bad upstream input, a conflict, ...).
    Other = 1, "other", "other failure (bad upstream input, a conflict, ...)";
    /// The command line or a value given on it is wrong (including a folder that is not a
    /// store).
    Usage = 2, "usage", "usage error (a wrong argument, an unknown name, not a store)";
    /// The store is locked by another process.
    Busy = 3, "busy", "busy: the store is locked by another process";
    /// Disk full, read-only, permission denied, I/O error.
    Storage = 4, "storage", "storage: disk full, read-only, permission denied, I/O error";
    /// The local store failed its own checks (its database or its folders are damaged).
    StoreDamaged = 5, "store-damaged", "store damaged: the local store failed its own checks";
    /// A hash, size or structure does not match.
    Corrupt = 10, "corrupt", "corrupt: a hash, size or structure does not match";
    /// A volume or listed entry is missing, or belongs to another bundle.
    Incomplete = 11, "incomplete",
        "incomplete: a volume or listed entry is missing, or belongs to another bundle";
    /// Signature missing, invalid, or by a key not trusted here.
    Untrusted = 12, "untrusted",
        "untrusted: signature missing, invalid, or by a key not trusted here";
    /// Older bundle, conflicting bundle, gap in the chain.
    OutOfSequence = 13, "out-of-sequence",
        "out of sequence: older bundle, conflicting bundle, or a gap in the chain";
    /// Bundle past its validity, or the clock is earlier than the last import.
    Expired = 14, "expired",
        "expired: bundle past its validity, or the clock is earlier than the last import";
    /// Path traversal, absolute path, symlink, duplicate names.
    UnsafeEntry = 15, "unsafe-entry",
        "unsafe entry: path traversal, absolute path, symlink, duplicate names";
    /// An entry, a count or a decode exceeds a hard cap.
    Limit = 16, "limit", "limit: an entry, a count or a decode exceeds a hard cap";
    /// Some payload files could not be downloaded (the others were taken in).
    FetchIncomplete = 20, "fetch-incomplete",
        "fetch incomplete: some payload files could not be downloaded (the others were taken in)";
    /// `status --check` found a point in error or stale (the problems are on stdout).
    Stale = 21, "stale",
        "stale or failing: `status --check` found a point in error or stale";
    /// Stopped by SIGINT or SIGTERM at a safe point, after removing its partial files
    /// (128 + 2, the shell's code for a process ended by SIGINT).
    Interrupted = 130, "interrupted",
        "interrupted (SIGINT or SIGTERM): stopped at a safe point, partial files removed";
}

/// What exit code 0 means: the first row of the exit-code table.
pub const SUCCESS_MEANING: &str = "done (including \"already imported\": nothing to do)";

/// The exit-code table: code and meaning, success first, then every [`ErrorKind`].
pub fn exit_code_table() -> Vec<(u8, &'static str)> {
    std::iter::once((0, SUCCESS_MEANING))
        .chain(ErrorKind::ALL.iter().map(|k| (k.exit_code(), k.meaning())))
        .collect()
}

/// An error a person will read: `message` says what happened and where (one line), `details`
/// the items behind it (each finding of a refused bundle, say: one line each, so that a
/// printer can escape each value without flattening the list), `hint` what to do.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub details: Vec<String>,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            details: Vec::new(),
            hint: None,
        }
    }
    pub fn other(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Other, message)
    }
    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, message)
    }
    pub fn with_details(mut self, details: Vec<String>) -> Error {
        self.details = details;
        self
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
    /// Prefixes the message with where it happened.
    pub fn context(mut self, what: impl fmt::Display) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }
    /// `what` was stopped by the operator (SIGINT or SIGTERM) at a safe point; `undone` says
    /// what was cleaned up.
    pub fn interrupted(what: &str, undone: &str) -> Error {
        Error::new(
            ErrorKind::Interrupted,
            format!("{what} interrupted by a signal: {undone}"),
        )
        .with_hint("run it again when ready; it starts from the beginning")
    }
    /// An I/O error on `path`, classified as storage trouble.
    pub fn io(path: &Path, action: &str, e: std::io::Error) -> Error {
        Error::new(
            io_kind(&e),
            format!("cannot {action} {}: {e}", path.display()),
        )
    }
}

fn io_kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => ErrorKind::Other,
        _ => ErrorKind::Storage,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}
