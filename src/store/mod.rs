//! The update point's store: a folder holding the SQLite database (`offsync.db`, WAL mode),
//! the content folder addressed by SHA-256 (`content/ab/<sha256>`), a staging folder for
//! files being taken in, and the log (`offsync.log`, see [`log`]).
//!
//! Both sides of the air gap run this same code. It owns the schema and every SQL statement;
//! it knows nothing of upstream formats, the bundle format or the terminal.

mod check;
mod content;
mod exchange;
mod feed;
mod log;
pub use log::update_line;
mod queries;
mod schema;
mod sqlite_error;
mod write;

/// The encoding of the `doc` column: the model's canonical encoding.
pub use crate::model::encode_canonical as encode_doc;
pub use check::{CheckReport, ContentUse, Problem};
pub use content::{ContentStats, Publisher, ReferencedFile, stored_copy_intact};
pub use exchange::{ExportRecord, ImportRecord, StoredDoc, TrustedKey, WriteLock};
pub use queries::{
    CategoryRow, Criteria, CriteriaKind, FileRow, LastSync, RelatedUpdate, StoreTotals,
    StoredHeader, SyncRunRecord, UpdateDetail, UpdateFilter, UpdateSummary, with_descendants,
};
pub use write::{StoredState, Tx, content_recorded};

use crate::error::{Error, ErrorKind, Result};
use crate::progress::Progress;
use crate::time::Timestamp;
use log::Log;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DB_FILE: &str = "offsync.db";
const CONTENT_DIR: &str = "content";
const STAGING_DIR: &str = "staging";

/// How long a command waits for another process that holds the store's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open store.
pub struct Store {
    root: PathBuf,
    conn: Connection,
    id: String,
    name: String,
    log: Log,
}

impl Store {
    /// Whether `dir` holds a store (has the database file).
    pub fn is_store(dir: &Path) -> bool {
        dir.join(DB_FILE).is_file()
    }

    /// Creates a new store in `dir` (created if missing; it must be empty or absent).
    pub fn init(dir: &Path, name: Option<&str>, now: Timestamp) -> Result<Store> {
        if Store::is_store(dir) {
            return Err(
                Error::usage(format!("{} is already an offsync store", dir.display()))
                    .with_hint("use it as it is, or choose another folder"),
            );
        }
        if dir.exists() {
            let mut entries = fs::read_dir(dir).map_err(|e| Error::io(dir, "read", e))?;
            if !dir.is_dir() || entries.next().is_some() {
                return Err(Error::usage(format!(
                    "{} exists and is not an empty folder; a store needs a folder of its own",
                    dir.display()
                )));
            }
        }
        fs::create_dir_all(dir.join(CONTENT_DIR)).map_err(|e| Error::io(dir, "create", e))?;
        fs::create_dir_all(dir.join(STAGING_DIR)).map_err(|e| Error::io(dir, "create", e))?;
        let name = match name {
            Some(n) => n.to_string(),
            None => dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "offsync".into()),
        };
        let id = new_store_id(dir, now);
        let mut conn = Connection::open(dir.join(DB_FILE))?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let tx = conn.transaction()?;
        for (k, v) in [
            ("id", id.as_str()),
            ("name", name.as_str()),
            ("created", &now.rfc3339()),
            ("change_seq", "0"),
        ] {
            tx.execute("INSERT INTO store_info(key, value) VALUES (?1, ?2)", (k, v))?;
        }
        tx.commit()?;
        let store = Store {
            root: dir.to_path_buf(),
            conn,
            id,
            name,
            log: Log::new(dir),
        };
        store.log(
            "INIT",
            &format!("store '{}' created with id {}", store.name, store.id),
            now,
        );
        Ok(store)
    }

    /// Opens an existing store for reading and writing.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, false)
    }

    /// Opens an existing store without writing to it (a parent store read by a child).
    pub fn open_readonly(dir: &Path) -> Result<Store> {
        Store::open_with(dir, true)
    }

    fn open_with(dir: &Path, readonly: bool) -> Result<Store> {
        if !Store::is_store(dir) {
            let what = if dir.exists() {
                "is not an offsync store"
            } else {
                "does not exist"
            };
            return Err(Error::usage(format!("{} {what}", dir.display())).with_hint(format!(
                "create a store with `offsync init --store {}`, or point --store (or OFFSYNC_STORE) at an existing one",
                dir.display()
            )));
        }
        let path = dir.join(DB_FILE);
        let mut conn = if readonly {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?
        } else {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        if !readonly {
            configure(&conn)?;
            schema::migrate(&mut conn)?;
        } else {
            let v: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if v != schema::CURRENT {
                return Err(Error::new(
                    ErrorKind::StoreDamaged,
                    format!(
                        "{} has schema version {v}; this offsync reads version {}",
                        dir.display(),
                        schema::CURRENT
                    ),
                )
                .with_hint("run any offsync command on that store once to upgrade it"));
            }
        }
        let info = |k: &str| -> Result<String> {
            conn.query_row("SELECT value FROM store_info WHERE key = ?1", [k], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::StoreDamaged,
                    format!("{}: store_info has no '{k}'", dir.display()),
                )
            })
        };
        let id = info("id")?;
        let name = info("name")?;
        Ok(Store {
            root: dir.to_path_buf(),
            conn,
            id,
            name,
            log: Log::new(dir),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// After a failed write: closes the connection (so that SQLite settles its log) and opens
    /// it again, then lets recovery remove published files that no committed row records.
    /// Returns whether a journal's files turned out to be recorded (the failed commit was
    /// applied after all).
    pub fn settle(&mut self) -> Result<bool> {
        let journal = self.root.join(STAGING_DIR).join(content::JOURNAL);
        let listed: Vec<[u8; 32]> = fs::read_to_string(&journal)
            .map(|t| {
                t.lines()
                    .filter_map(crate::model::parse_hex::<32>)
                    .collect()
            })
            .unwrap_or_default();
        let fresh = Connection::open_with_flags(
            self.root.join(DB_FILE),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Dropping the old connection closes it.
        self.conn = fresh;
        configure(&self.conn)?;
        let tx = self.begin()?; // runs recovery
        drop(tx);
        let mut recorded = false;
        for h in &listed {
            recorded |= self.content_entry(h)?.is_some();
        }
        Ok(recorded)
    }

    /// Starts a write transaction. It takes the write lock at once (BEGIN IMMEDIATE), so two
    /// writers never interleave and a second one waits, then fails as busy.
    pub fn begin(&mut self) -> Result<Tx<'_>> {
        Tx::begin(&mut self.conn, &self.root, &self.log)
    }

    /// Appends a line to the store's log. Logging never fails a command: a line that cannot
    /// be written is kept for [`Store::report_log_failure`].
    pub fn log(&self, component: &str, message: &str, now: Timestamp) {
        self.log.append(component, message, now);
    }

    /// Reports, as a warning through `progress`, the first log line that could not be written
    /// since the last report. Operations call it when they are done with the store.
    pub fn report_log_failure(&self, progress: &dyn Progress) {
        if let Some(w) = self.log.take_failure() {
            progress.warn(&w);
        }
    }

    /// The file holding the content whose SHA-256 is `sha256`; derived from the digest only.
    pub fn content_path(&self, sha256: &[u8; 32]) -> PathBuf {
        content_path(&self.root, sha256)
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.root.join(STAGING_DIR)
    }

    /// A value kept in `store_info` (the upstream, for instance).
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM store_info WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a value in `store_info`.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO store_info(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )?;
        Ok(())
    }
}

/// The setting holding the languages the last sync saw upstream (space separated).
pub const UPSTREAM_LANGUAGES: &str = "upstream_languages";

pub(crate) fn content_path(root: &Path, sha256: &[u8; 32]) -> PathBuf {
    let hex = hex::encode(sha256);
    root.join(CONTENT_DIR).join(&hex[..2]).join(hex)
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers (status, a child syncing from this store) run beside a writer.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// A store id unique in practice: a hash of where and when the store was made and of the
/// process, shaped as a GUID. (Store ids name bundle chains; they need not be secret.)
fn new_store_id(dir: &Path, now: Timestamp) -> String {
    let abs = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!(
        "{}|{}|{}|{}",
        abs.display(),
        now.0,
        nanos,
        std::process::id()
    );
    let h = hex::encode(crate::hash::sha256(seed.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Decodes an update document as stored in the `doc` column.
pub fn decode_update_doc(bytes: &[u8]) -> Result<crate::model::Update> {
    write::decode_doc(bytes)
}

/// Every category's parent, read inside a transaction (after its category changes); the
/// same as [`Tx::category_parents`].
pub fn category_parents_of(
    conn: &Connection,
) -> Result<std::collections::HashMap<String, Option<String>>> {
    queries::category_parents(conn)
}

/// Appends a line to the log of the store in `root`, for a writer that holds only the
/// folder. A failure here is not reported: [`Tx::log`] is the way to log during a transaction.
pub fn append_log(root: &Path, component: &str, message: &str, now: Timestamp) {
    let _ = log::append_line(&root.join(log::LOG_FILE), component, message, now);
}
