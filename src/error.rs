//! The library's error type: what went wrong, where, and what to do next, plus the category
//! that decides the process exit code. Every module returns this type so that the exit code
//! table (in `--help` and the README) is decided in one place: `ErrorKind`.

use std::fmt;
use std::path::Path;

/// Categories of failure, one per documented exit code. [`ErrorKind::ALL`] is the one list the
/// exit-code table of `--help` is built from and the README's table is tested against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 1: anything not covered below (bad upstream input, a conflict, ...).
    Other,
    /// 2: the command line or a value given on it is wrong (including a folder that is not a
    /// store).
    Usage,
    /// 3: the store is locked by another process.
    Busy,
    /// 4: disk full, read-only, permission denied, I/O error.
    Storage,
    /// 5: the local store failed its own checks (its database or its folders are damaged).
    StoreDamaged,
    /// 10: a hash, size or structure does not match.
    Corrupt,
    /// 11: a volume or listed entry is missing, or belongs to another bundle.
    Incomplete,
    /// 12: signature missing, invalid, or by a key not trusted here.
    Untrusted,
    /// 13: out of sequence: older bundle, conflicting bundle, gap in the chain.
    OutOfSequence,
    /// 14: bundle past its validity, or the clock is earlier than the last trusted time.
    Expired,
    /// 15: unsafe entry: path traversal, absolute path, symlink, duplicate names.
    UnsafeEntry,
    /// 16: an entry, a count or a decode exceeds a hard cap.
    Limit,
    /// 130: stopped by SIGINT or SIGTERM at a safe point, after removing its partial files
    /// (128 + 2, the shell's code for a process ended by SIGINT).
    Interrupted,
}

/// What exit code 0 means: the first row of the exit-code table.
pub const SUCCESS_MEANING: &str = "done (including \"already imported\": nothing to do)";

impl ErrorKind {
    /// Every kind, in the order of its exit code.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Other,
        ErrorKind::Usage,
        ErrorKind::Busy,
        ErrorKind::Storage,
        ErrorKind::StoreDamaged,
        ErrorKind::Corrupt,
        ErrorKind::Incomplete,
        ErrorKind::Untrusted,
        ErrorKind::OutOfSequence,
        ErrorKind::Expired,
        ErrorKind::UnsafeEntry,
        ErrorKind::Limit,
        ErrorKind::Interrupted,
    ];

    /// The name of an error category as it appears in `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Other => "other",
            ErrorKind::Usage => "usage",
            ErrorKind::Busy => "busy",
            ErrorKind::Storage => "storage",
            ErrorKind::StoreDamaged => "store-damaged",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::Untrusted => "untrusted",
            ErrorKind::OutOfSequence => "out-of-sequence",
            ErrorKind::Expired => "expired",
            ErrorKind::UnsafeEntry => "unsafe-entry",
            ErrorKind::Limit => "limit",
            ErrorKind::Interrupted => "interrupted",
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Other => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Busy => 3,
            ErrorKind::Storage => 4,
            ErrorKind::StoreDamaged => 5,
            ErrorKind::Corrupt => 10,
            ErrorKind::Incomplete => 11,
            ErrorKind::Untrusted => 12,
            ErrorKind::OutOfSequence => 13,
            ErrorKind::Expired => 14,
            ErrorKind::UnsafeEntry => 15,
            ErrorKind::Limit => 16,
            ErrorKind::Interrupted => 130,
        }
    }

    /// What the exit code means, as the table in `--help` and in the README says it.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorKind::Other => "other failure (bad upstream input, a conflict, ...)",
            ErrorKind::Usage => "usage error (a wrong argument, an unknown name, not a store)",
            ErrorKind::Busy => "busy: the store is locked by another process",
            ErrorKind::Storage => "storage: disk full, read-only, permission denied, I/O error",
            ErrorKind::StoreDamaged => "store damaged: the local store failed its own checks",
            ErrorKind::Corrupt => "corrupt: a hash, size or structure does not match",
            ErrorKind::Incomplete => {
                "incomplete: a volume or listed entry is missing, or belongs to another bundle"
            }
            ErrorKind::Untrusted => {
                "untrusted: signature missing, invalid, or by a key not trusted here"
            }
            ErrorKind::OutOfSequence => {
                "out of sequence: older bundle, conflicting bundle, or a gap in the chain"
            }
            ErrorKind::Expired => {
                "expired: bundle past its validity, or the clock is earlier than the last import"
            }
            ErrorKind::UnsafeEntry => {
                "unsafe entry: path traversal, absolute path, symlink, duplicate names"
            }
            ErrorKind::Limit => "limit: an entry, a count or a decode exceeds a hard cap",
            ErrorKind::Interrupted => {
                "interrupted (SIGINT or SIGTERM): stopped at a safe point, partial files removed"
            }
        }
    }
}

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
