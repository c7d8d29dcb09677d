//! How SQLite's errors become the library's error: a busy store, storage trouble and a
//! damaged database each get their kind (and so their exit code) and a hint. It lives with the
//! store, the one module that talks to SQLite, so that nothing else compiles against it.

use crate::error::{Error, ErrorKind};

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        use rusqlite::ErrorCode as C;
        let kind = match e.sqlite_error_code() {
            Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => ErrorKind::Busy,
            Some(C::DiskFull)
            | Some(C::ReadOnly)
            | Some(C::SystemIoFailure)
            | Some(C::CannotOpen)
            | Some(C::PermissionDenied) => ErrorKind::Storage,
            Some(C::DatabaseCorrupt) | Some(C::NotADatabase) => ErrorKind::StoreDamaged,
            _ => ErrorKind::Other,
        };
        match kind {
            ErrorKind::Busy => Error::new(
                kind,
                format!("the store is busy: another process holds its write lock ({e})"),
            )
            .with_hint(
                "wait for the other command (or program) using this store to finish, then try again",
            ),
            ErrorKind::Storage => Error::new(kind, format!("database: {e}")).with_hint(
                "check that the store folder and offsync.db are writable and that the disk has room",
            ),
            _ => Error::new(kind, format!("database: {e}")),
        }
    }
}
