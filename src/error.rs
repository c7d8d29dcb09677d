//! The library's error type: what went wrong, where, and what to do next, plus the category
//! that decides the process exit code. Every module returns this type so that the exit code
//! table in the README is decided in one place (`ErrorKind::exit_code`).

use std::fmt;
use std::path::Path;

/// Categories of failure, one per documented exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 1: anything not covered below (bad upstream input, a conflict, ...).
    Other,
    /// 2: the command line or a value given on it is wrong.
    Usage,
    /// 3: the store is locked by another process.
    Busy,
    /// 4: disk full, read-only, permission denied, I/O error.
    Storage,
    /// 5: the local store failed its own checks (or is not a store).
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
}

impl ErrorKind {
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
        }
    }
}

/// An error a person will read: `message` says what happened and where, `hint` what to do.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }
    pub fn other(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Other, message)
    }
    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, message)
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
