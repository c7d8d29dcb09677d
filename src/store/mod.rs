//! The update point's store: a folder holding the SQLite database (`offsync.db`, WAL mode),
//! the content folder addressed by SHA-256 (`content/ab/<sha256>`), a staging folder for
//! files being taken in, and the log (`offsync.log`, see [`log`]).
//!
//! Both sides of the air gap run this same code. It owns the schema and every SQL statement;
//! it knows nothing of upstream formats, the bundle format or the terminal.

mod adopt;
mod catalog;
mod check;
mod content;
mod decisions;
mod documents;
mod downstream;
pub use downstream::{
    DownstreamPoint, DownstreamRecord, ImportedBundle, ImportedSource, KIND_CHILD,
    KIND_DISCONNECTED, PreviousReceipt, RecentRun,
};
mod exchange;
mod feed;
mod hierarchy;
mod log;
pub use log::update_line;
mod logread;
pub use logread::{LogFilter, LogLine, LogReader, parse_since, read_log};
mod monitor;
pub use monitor::{FailedRun, RefusedImport, SyncRunRow};
mod publishable;
pub use publishable::{PublishCategory, PublishFile, PublishUpdate, StoredContent};
mod publish;
pub use publish::{PublishCandidate, WsusPublishRecord};
mod queries;
mod scan;
pub use scan::{ScanAdd, ScanCandidate};
mod schema;
mod sqlite_error;
mod write;

/// The encoding of the `doc` column: the model's canonical encoding.
pub use crate::model::encode_canonical as encode_doc;
pub use adopt::{AdoptOutcome, Adopted, MissingRef, stage_adopted};
pub use check::{CheckReport, ContentUse, Problem};
pub use content::{ContentStats, Publisher, ReferencedFile, stored_copy_intact};
pub use decisions::{DecisionReport, StoredDecision, UpstreamDecision, UpstreamMode};
/// The store setting naming (hex SHA-256) the content file that is Microsoft's offline
/// catalog, kept so that `publish share` can hand it to clients and bundles can carry it.
pub const CATALOG_SETTING: &str = "catalog_sha256";
pub use documents::MAX_DOCUMENT_BYTES;
pub use exchange::{ChainState, ExportRecord, ImportRecord, StoredDoc, TrustedKey, WriteLock};
pub use hierarchy::{MAX_CATEGORY_DEPTH, check_hierarchy, with_descendants};
pub use queries::{
    CategoryRow, Criteria, CriteriaKind, FileRow, LastSync, RelatedUpdate, StoreTotals,
    StoredHeader, SyncRunRecord, UpdateDetail, UpdateFilter, UpdateSummary,
};
pub use write::{StoredState, Tx};

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
        refuse_linked_database(dir)?;
        let path = dir.join(DB_FILE);
        let mut conn = if readonly {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_NOFOLLOW,
            )?
        } else {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_NOFOLLOW,
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
        refuse_linked_database(&self.root)?;
        let fresh = Connection::open_with_flags(
            self.root.join(DB_FILE),
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_NOFOLLOW,
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

    /// Runs `f` inside one read transaction, so that every query it makes sees the store as
    /// it was at its first read, whatever a concurrent sync or import commits meanwhile (a
    /// publish reads the store in several passes). It also spares each statement its own
    /// shared lock. `f` must not write to the store.
    pub fn read_consistent<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN DEFERRED")?;
        let out = f();
        // Nothing was written: ending the transaction only releases the snapshot.
        let end = self.conn.execute_batch("COMMIT");
        let out = out?;
        end?;
        Ok(out)
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

    /// The content file that is the Microsoft offline catalog this store last synced from (or
    /// received in a bundle): its SHA-256 and size, when the store holds it.
    pub fn catalog(&self) -> Result<Option<([u8; 32], u64)>> {
        let Some(hex) = self.setting(CATALOG_SETTING)? else {
            return Ok(None);
        };
        let mut h = [0u8; 32];
        if hex::decode_to_slice(hex.trim(), &mut h).is_err() {
            return Ok(None);
        }
        Ok(self.content_entry(&h)?.map(|(size, _)| (h, size)))
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

    /// Removes a value from `store_info` (nothing when it is not there).
    pub fn remove_setting(&mut self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM store_info WHERE key = ?1", [key])?;
        Ok(())
    }
}

/// The files of the store that SQLite opens itself (the database and its side files): a
/// symbolic link at any of them would make SQLite write outside the store.
const DB_FILES: [&str; 4] = [
    DB_FILE,
    "offsync.db-wal",
    "offsync.db-shm",
    "offsync.db-journal",
];

/// The store's own files (database and side files, log, publish journal, staged files) that
/// are symbolic links, by their name inside the store.
pub(crate) fn linked_own_files(root: &Path) -> Vec<String> {
    let is_link = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    let mut out: Vec<String> = DB_FILES
        .iter()
        .chain([&log::LOG_FILE])
        .filter(|n| is_link(&root.join(n)))
        .map(|n| n.to_string())
        .collect();
    let staging = root.join(STAGING_DIR);
    if !is_link(&staging)
        && let Ok(entries) = fs::read_dir(&staging)
    {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_symlink()) {
                out.push(format!("{STAGING_DIR}/{}", e.file_name().to_string_lossy()));
            }
        }
    }
    out.sort();
    out
}

/// Refuses to open a store whose database or database side file is a symbolic link (SQLite
/// would follow it): exit 5, naming the link. Checked before SQLite opens anything.
fn refuse_linked_database(dir: &Path) -> Result<()> {
    let linked: Vec<&str> = DB_FILES
        .iter()
        .copied()
        .filter(|n| fs::symlink_metadata(dir.join(n)).is_ok_and(|m| m.file_type().is_symlink()))
        .collect();
    if linked.is_empty() {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::StoreDamaged,
        format!(
            "the store {} is not sound: {} is a symbolic link; the store must not write through it",
            dir.display(),
            linked.join(", ")
        ),
    )
    .with_hint(
        "replace the link by the store's own file (from a backup), then run `offsync check`",
    ))
}

/// The last export or import that the operator interrupted (SIGINT or SIGTERM): what `status`
/// shows. Kept as one `store_info` value: an interrupted run changes nothing else.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct InterruptedRun {
    /// `export` or `import`.
    pub operation: String,
    pub at: String,
    pub message: String,
}

const INTERRUPTED_KEY: &str = "last_interrupted";

impl Store {
    /// Records an interrupted run (replacing the one before).
    pub fn record_interrupted(&self, operation: &str, message: &str, now: Timestamp) -> Result<()> {
        let run = InterruptedRun {
            operation: operation.to_string(),
            at: now.rfc3339(),
            message: message.to_string(),
        };
        let value = serde_json::to_string(&run)
            .map_err(|e| Error::other(format!("cannot encode the interrupted run: {e}")))?;
        self.conn.execute(
            "INSERT INTO store_info(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (INTERRUPTED_KEY, value),
        )?;
        Ok(())
    }

    /// The last interrupted run, if any (an unreadable record reads as none).
    pub fn last_interrupted(&self) -> Result<Option<InterruptedRun>> {
        Ok(self
            .setting(INTERRUPTED_KEY)?
            .and_then(|v| serde_json::from_str(&v).ok()))
    }
}

/// The setting holding the languages the last sync saw upstream (space separated).
pub const UPSTREAM_LANGUAGES: &str = "upstream_languages";

pub(crate) fn content_path(root: &Path, sha256: &[u8; 32]) -> PathBuf {
    let hex = hex::encode(sha256);
    root.join(CONTENT_DIR).join(&hex[..2]).join(hex)
}

/// The page cache of a store connection, in KiB.
const STORE_CACHE_KIB: u32 = 64 * 1024;

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers (status, a child syncing from this store) run beside a writer.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A page cache of at most 64 MiB (SQLite's default is 2 MiB): a large merge inserts into
    // indexes keyed on random digests (files by SHA-1 and SHA-256), which thrash a small cache;
    // the cap keeps memory bounded whatever the store's size.
    conn.pragma_update(None, "cache_size", -(STORE_CACHE_KIB as i64))?;
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
