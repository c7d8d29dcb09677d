//! Writes, always inside one transaction ([`Tx`]). Every row a transaction changes takes
//! the next value of the store's change sequence, so that an export can take "everything
//! changed since N"; removals become tombstones (state `removed`) and are never deleted.

use super::log::Log;
use super::queries::CriteriaKind;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Category, Update, encode_canonical};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::ops::Deref;
use std::path::Path;

/// Where an update stands in this store, as upstream left it. `declined` is kept apart: it
/// is the local administrator's decision and survives every sync and import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredState {
    Published,
    Expired,
    Removed,
}

impl StoredState {
    pub fn as_str(self) -> &'static str {
        match self {
            StoredState::Published => "published",
            StoredState::Expired => "expired",
            StoredState::Removed => "removed",
        }
    }
    /// Reads the `state` column. The schema allows only the three values, so anything else
    /// means the database was altered: an error, never a guess.
    pub(crate) fn from_column(s: &str) -> Result<StoredState> {
        Ok(match s {
            "published" => StoredState::Published,
            "expired" => StoredState::Expired,
            "removed" => StoredState::Removed,
            _ => {
                return Err(Error::new(
                    ErrorKind::StoreDamaged,
                    format!("a stored update has the unknown state '{s}'"),
                ));
            }
        })
    }
}

/// A write transaction on a store. Dropping it without [`Tx::commit`] rolls everything back.
pub struct Tx<'a> {
    tx: Transaction<'a>,
    seq: u64,
    start_seq: u64,
    root: &'a Path,
    log: &'a Log,
}

impl Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

impl<'a> Tx<'a> {
    pub(super) fn begin(conn: &'a mut Connection, root: &'a Path, log: &'a Log) -> Result<Tx<'a>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        recover(&tx, root, log)?;
        let seq: String = tx.query_row(
            "SELECT value FROM store_info WHERE key = 'change_seq'",
            [],
            |r| r.get(0),
        )?;
        let seq: u64 = seq.parse().map_err(|_| {
            Error::new(
                ErrorKind::StoreDamaged,
                format!("change_seq '{seq}' is not a number"),
            )
        })?;
        Ok(Tx {
            tx,
            seq,
            start_seq: seq,
            root,
            log,
        })
    }

    /// The store folder.
    pub fn root(&self) -> &Path {
        self.root
    }

    /// Appends a line to the store's log (see [`super::Store::log`]).
    pub fn log(&self, component: &str, message: &str, now: crate::time::Timestamp) {
        self.log.append(component, message, now);
    }

    /// Whether the content table has a row for this SHA-256.
    pub fn content_recorded(&self, sha256: &[u8; 32]) -> Result<bool> {
        content_recorded(&self.tx, sha256)
    }

    /// Every category's parent, as this transaction sees them.
    pub fn category_parents(&self) -> Result<std::collections::HashMap<String, Option<String>>> {
        super::queries::category_parents(&self.tx)
    }

    /// Takes the next change sequence value.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Makes every change of this transaction durable at once.
    pub fn commit(self) -> Result<()> {
        if self.seq != self.start_seq {
            self.tx.execute(
                "UPDATE store_info SET value = ?1 WHERE key = 'change_seq'",
                [self.seq.to_string()],
            )?;
        }
        self.tx.commit()?;
        Ok(())
    }

    /// Inserts or replaces a category; returns whether anything changed.
    pub fn put_category(&mut self, c: &Category) -> Result<bool> {
        if let Some(p) = crate::limits::category_problem(c) {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("category {} has {p}", c.id),
            ));
        }
        let existing: Option<(u32, String, String, Option<String>)> = self
            .tx
            .query_row(
                "SELECT revision, kind, title, parent FROM categories WHERE id = ?1",
                [c.id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let parent = c.parent.as_ref().map(|p| p.as_str().to_string());
        if let Some((rev, kind, title, par)) = &existing
            && (*rev > c.revision
                || (*rev == c.revision
                    && kind == c.kind.as_str()
                    && *title == c.title
                    && *par == parent))
        {
            return Ok(false);
        }
        let seq = self.next_seq();
        self.tx.execute(
            "INSERT INTO categories(id, revision, kind, title, parent, changed_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, kind = excluded.kind,
               title = excluded.title, parent = excluded.parent, changed_seq = excluded.changed_seq",
            params![c.id.as_str(), c.revision, c.kind.as_str(), c.title, parent, seq as i64],
        )?;
        Ok(true)
    }

    /// Inserts or replaces an update revision with its relations and file references, in
    /// `state`. The local `declined` flag of an existing row is kept.
    pub fn put_update(
        &mut self,
        u: &Update,
        state: StoredState,
        fingerprint: Option<&[u8; 32]>,
    ) -> Result<u64> {
        let seq = self.next_seq();
        let doc = encode_canonical(u)?;
        // The store never keeps what it could not read back (see `crate::limits`).
        if let Some(p) = crate::limits::stored_update_problem(u, &doc) {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("update {} has {p}", u.id),
            ));
        }
        let id = u.id.as_str();
        // Cached statements: a sync writes up to hundreds of thousands of updates, and
        // compiling the same SQL for each was a tenth of the work (bench/RESULTS.md).
        self.tx.prepare_cached(
            "INSERT INTO updates(update_id, revision, update_type, title, kb, severity, creation_date, state,
                                 fingerprint, doc, changed_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(update_id) DO UPDATE SET revision = excluded.revision, update_type = excluded.update_type,
               title = excluded.title, kb = excluded.kb, severity = excluded.severity,
               creation_date = excluded.creation_date, state = excluded.state,
               fingerprint = excluded.fingerprint, doc = excluded.doc, changed_seq = excluded.changed_seq",
        )?
        .execute(params![
                id,
                u.revision,
                u.update_type,
                u.title("en"),
                u.kb,
                u.severity,
                u.creation_date,
                state.as_str(),
                fingerprint.map(|f| f.as_slice()),
                doc,
                seq as i64
            ])?;
        for sql in [
            "DELETE FROM update_categories WHERE update_id = ?1",
            "DELETE FROM supersedence WHERE update_id = ?1",
            "DELETE FROM files WHERE update_id = ?1",
            "DELETE FROM bundles WHERE parent = ?1",
        ] {
            self.tx.prepare_cached(sql)?.execute([id])?;
        }
        {
            let mut st = self.tx.prepare_cached(
                "INSERT OR IGNORE INTO update_categories(update_id, category_id) VALUES (?1, ?2)",
            )?;
            for c in &u.categories {
                st.execute([id, c.as_str()])?;
            }
            let mut st = self.tx.prepare_cached(
                "INSERT OR IGNORE INTO supersedence(update_id, supersedes) VALUES (?1, ?2)",
            )?;
            for s in &u.supersedes {
                st.execute([id, s.as_str()])?;
            }
            let mut st = self
                .tx
                .prepare_cached("INSERT OR IGNORE INTO bundles(parent, child) VALUES (?1, ?2)")?;
            for b in &u.bundled {
                st.execute([id, b.id.as_str()])?;
            }
            let mut st = self
                .tx
                .prepare_cached("INSERT INTO files(update_id, name, size, sha1, sha256) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for f in &u.files {
                st.execute(params![
                    id,
                    f.name,
                    f.size.map(|s| s as i64),
                    f.sha1.as_ref().map(|h| h.as_slice()),
                    f.sha256.as_ref().map(|h| h.as_slice())
                ])?;
            }
        }
        Ok(seq)
    }

    /// Changes only the state of a stored update (a tombstone, or expiry); returns whether
    /// it changed.
    pub fn set_state(&mut self, id: &str, state: StoredState) -> Result<bool> {
        let cur: Option<String> = self
            .tx
            .query_row(
                "SELECT state FROM updates WHERE update_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        match cur {
            Some(s) if s != state.as_str() => {
                let seq = self.next_seq();
                self.tx.execute(
                    "UPDATE updates SET state = ?1, changed_seq = ?2 WHERE update_id = ?3",
                    params![state.as_str(), seq as i64, id],
                )?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Records the upstream's fingerprint of a stored revision found identical to it. The
    /// fingerprint is this store's note of how the upstream described the revision, not part
    /// of the update: it takes no change number.
    pub fn set_fingerprint(&mut self, id: &str, fingerprint: &[u8; 32]) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE updates SET fingerprint = ?1 WHERE update_id = ?2")?
            .execute(params![fingerprint.as_slice(), id])?;
        Ok(())
    }

    /// Sets the local `declined` decision; returns whether it changed.
    pub fn set_declined(&mut self, id: &str, declined: bool) -> Result<bool> {
        let current: Option<bool> = self
            .tx
            .query_row(
                "SELECT declined FROM updates WHERE update_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        if current.is_none_or(|c| c == declined) {
            return Ok(false);
        }
        // The decision's own change number: the update itself did not change, so an export
        // carries the decision and not the update again.
        let seq = self.next_seq();
        self.tx.execute(
            "UPDATE updates SET declined = ?1, decided_seq = ?2 WHERE update_id = ?3",
            params![declined as i64, seq as i64, id],
        )?;
        Ok(true)
    }

    /// Replaces the criteria of one kind, spelled as [`CriteriaKind`] spells it (`product`,
    /// `classification`, `language`); another word is an error.
    pub fn set_criteria(&mut self, kind: CriteriaKind, values: &[String]) -> Result<()> {
        let kind = kind.as_str();
        self.tx
            .execute("DELETE FROM criteria WHERE kind = ?1", [kind])?;
        for v in values {
            self.tx.execute(
                "INSERT OR IGNORE INTO criteria(kind, value) VALUES (?1, ?2)",
                [kind, v],
            )?;
        }
        Ok(())
    }

    /// Records a content file now present in the content folder.
    /// Sets a value kept in `store_info`, as part of this transaction.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO store_info(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )?;
        Ok(())
    }

    pub fn add_content(
        &mut self,
        sha256: &[u8; 32],
        sha1: &[u8; 20],
        size: u64,
        added: &str,
    ) -> Result<bool> {
        if content_recorded(&self.tx, sha256)? {
            return Ok(false);
        }
        // Content takes a change sequence value too, so that an incremental export carries
        // files that arrived after the metadata that references them was exported.
        let seq = self.next_seq();
        self.tx.execute(
            "INSERT INTO content(sha256, sha1, size, added, added_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                sha256.as_slice(),
                sha1.as_slice(),
                size as i64,
                added,
                seq as i64
            ],
        )?;
        Ok(true)
    }

    /// Records a finished sync run; returns its id.
    pub fn record_sync_run(&mut self, r: &super::SyncRunRecord) -> Result<i64> {
        self.tx.execute(
            // Under the id the run reserved for its log lines (`Store::begin_sync_run`); a new
            // one if it reserved none or the id is somehow taken.
            "INSERT INTO sync_runs(id, started, finished, source, outcome, new, updated, expired, removed, unchanged,
                                   categories, package_id, package_created, error)
             VALUES (CASE WHEN EXISTS(SELECT 1 FROM sync_runs WHERE id = ?14) THEN NULL ELSE ?14 END,
                     ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                r.started,
                r.finished,
                r.source,
                r.outcome.as_str(),
                r.changes.new as i64,
                r.changes.updated as i64,
                r.changes.expired as i64,
                r.changes.removed as i64,
                r.changes.unchanged as i64,
                r.categories as i64,
                r.package_id,
                r.package_created,
                r.error,
                self.log.run()
            ],
        )?;
        let id = self.tx.last_insert_rowid();
        if let Some(logged) = self.log.run()
            && logged != id
        {
            // Another sync recorded the id this one logged under: its lines so far say
            // `[run {logged}]`; this line, under the real id, says so.
            self.log.set_run(Some(id));
            let now =
                crate::time::Timestamp::parse_rfc3339(r.finished.as_deref().unwrap_or(&r.started))
                    .unwrap_or(crate::time::Timestamp(0));
            self.log.append(
                "SYNC",
                &format!("This run's lines above are marked run {logged}: another sync recorded that id first"),
                now,
            );
        }
        Ok(id)
    }
}

/// Decodes a stored update document within `crate::limits::MAX_DOC_CLAIM_BYTES`: far above
/// any real one, low enough that a damaged row cannot exhaust memory.
pub(crate) fn decode_doc(bytes: &[u8]) -> Result<Update> {
    let (u, n): (Update, usize) = bincode::decode_from_slice(bytes, crate::limits::doc_config())
        .map_err(|e| {
            Error::new(
                ErrorKind::StoreDamaged,
                format!("a stored update document cannot be read: {e}"),
            )
        })?;
    if n != bytes.len() {
        return Err(Error::new(
            ErrorKind::StoreDamaged,
            "a stored update document has trailing bytes",
        ));
    }
    Ok(u)
}

/// Cleans up after a writer that died: content it published under a journal but never
/// recorded, and its staged files. Runs as each write transaction starts, with the write lock
/// held: a live writer publishes only while it holds that lock, so whatever is found now
/// belongs to a writer that is gone. Cheap when there is nothing to do (one folder listing).
fn recover(tx: &Transaction<'_>, root: &Path, log: &Log) -> Result<()> {
    let dirty = std::fs::read_dir(root.join(super::STAGING_DIR))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if !dirty {
        return Ok(());
    }
    let recorded = |h: &[u8; 32]| -> bool { content_recorded(tx, h).unwrap_or(true) };
    let removed = super::content::recover_files(root, &recorded)?;
    if removed > 0 {
        // The one place the store reads the clock: a log line about cleaning up after a crash
        // has no caller-given time to carry.
        log.append(
            "RECOVER",
            &format!("removed {removed} content file(s) published by an interrupted command"),
            crate::time::Timestamp::now(),
        );
    }
    Ok(())
}

/// Whether the content table has a row for this SHA-256 (inside a transaction or not).
pub(super) fn content_recorded(conn: &Connection, sha256: &[u8; 32]) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM content WHERE sha256 = ?1)",
        [sha256.as_slice()],
        |r| r.get(0),
    )?)
}
