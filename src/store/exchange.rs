//! What the store keeps about bundles: the changes an export takes, the export history, and
//! the import history, which is also the chain state (the sequences imported per source).

use super::Store;
use super::queries::categories_where;
use super::write::{StoredState, Tx, decode_doc};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Category, Changes, Update};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A finished export.
#[derive(Clone, Debug, Serialize)]
pub struct ExportRecord {
    pub sequence: u64,
    pub bundle_id: String,
    pub kind: String,
    pub base_sequence: Option<u64>,
    pub changes_from: u64,
    pub changes_to: u64,
    pub created: String,
    pub finished: String,
    pub path: String,
    pub manifest_sha256: String,
    pub categories: u64,
    pub updates: u64,
    pub removed: u64,
    pub content_files: u64,
    pub content_bytes: u64,
    pub missing_files: u64,
    pub metadata_only: bool,
    /// The downstream point an `export --for` bundle was made for; none for the bundles of
    /// the shared chain.
    pub for_point: Option<String>,
}

/// The columns [`export_row`] reads, in its order.
pub(super) const EXPORT_COLUMNS: &str = "sequence, bundle_id, kind, base_sequence, changes_from,
    changes_to, created, finished, path, manifest_sha256, categories, updates, removed,
    content_files, content_bytes, missing_files, metadata_only, for_point";

/// One `exports` row selected with [`EXPORT_COLUMNS`].
pub(super) fn export_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExportRecord> {
    let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
    Ok(ExportRecord {
        sequence: n(0)?,
        bundle_id: r.get(1)?,
        kind: r.get(2)?,
        base_sequence: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
        changes_from: n(4)?,
        changes_to: n(5)?,
        created: r.get(6)?,
        finished: r.get(7)?,
        path: r.get(8)?,
        manifest_sha256: r.get(9)?,
        categories: n(10)?,
        updates: n(11)?,
        removed: n(12)?,
        content_files: n(13)?,
        content_bytes: n(14)?,
        missing_files: n(15)?,
        metadata_only: r.get(16)?,
        for_point: r.get(17)?,
    })
}

/// A finished import (only successful imports are recorded: a refused bundle leaves the
/// store exactly as it was, and is written to the log instead).
#[derive(Clone, Debug, Serialize)]
pub struct ImportRecord {
    pub source_store_id: String,
    pub source_store_name: String,
    pub sequence: u64,
    pub bundle_id: String,
    pub kind: String,
    pub manifest_sha256: String,
    pub imported: String,
    /// New, updated, expired, removed and unchanged updates (flattened: the JSON keeps its
    /// field names).
    #[serde(flatten)]
    pub changes: Changes,
    pub content_files: u64,
    pub content_bytes: u64,
    pub note: Option<String>,
}

impl Store {
    pub fn last_export(&self) -> Result<Option<ExportRecord>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {EXPORT_COLUMNS} FROM exports ORDER BY sequence DESC LIMIT 1"),
                [],
                export_row,
            )
            .optional()?)
    }

    /// The last export of the shared chain (not made `--for` one point): what the next plain
    /// export builds on.
    pub fn last_shared_export(&self) -> Result<Option<ExportRecord>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {EXPORT_COLUMNS} FROM exports WHERE for_point IS NULL
                     ORDER BY sequence DESC LIMIT 1"
                ),
                [],
                export_row,
            )
            .optional()?)
    }

    /// The most recent import, from any source.
    pub fn last_import(&self) -> Result<Option<ImportRecord>> {
        Ok(imports_where(
            &self.conn,
            "kind != 'chain-reset' ORDER BY id DESC LIMIT 1",
            params![],
        )?
        .into_iter()
        .next())
    }

    /// Categories changed after change sequence `from`, by id.
    pub fn categories_changed_since(&self, from: u64) -> Result<Vec<Category>> {
        // With those whose document arrived or changed since (the same revision: a sync from
        // documents after one from the offline catalog), so that it crosses too.
        categories_where(
            &self.conn,
            "changed_seq > ?1 OR id IN (SELECT id FROM documents WHERE changed_seq > ?1)
             ORDER BY id",
            params![from as i64],
        )
    }

    /// Streams the updates changed after change sequence `from`, by UpdateID, with their
    /// state and change sequence; and those whose document changed after `from` (their change
    /// sequence is then `from` or lower).
    pub fn for_each_update_changed_since(
        &self,
        from: u64,
        f: &mut dyn FnMut(Update, StoredState, u64) -> Result<()>,
    ) -> Result<()> {
        // SQLite would walk the UpdateID index and look up every row to test its change
        // sequence: 1,000,000 lookups for an incremental export of 10,000 changes (7 s). An
        // incremental export takes the changed rows by the change index and sorts them (in
        // SQLite's sorter, which spills to disk beyond its cache); a full one walks the table
        // in UpdateID order and sorts nothing.
        // An incremental export also takes the unchanged rows whose document arrived or
        // changed since (the same revision, first synced from the offline catalog, then from
        // documents): they come with their old change sequence, which tells the caller that
        // only the document is new.
        let sql = if from == 0 {
            "SELECT doc, state, changed_seq, update_id FROM updates WHERE changed_seq > ?1
             ORDER BY update_id"
        } else {
            "SELECT doc, state, changed_seq, update_id FROM updates INDEXED BY updates_changed
             WHERE changed_seq > ?1
             UNION ALL
             SELECT u.doc, u.state, u.changed_seq, u.update_id
             FROM documents d INDEXED BY documents_changed
             JOIN updates u ON u.update_id = d.id
             WHERE d.changed_seq > ?1 AND u.changed_seq <= ?1 AND d.revision = u.revision
             ORDER BY 4"
        };
        let mut st = self.conn.prepare(sql)?;
        let mut rows = st.query([from as i64])?;
        while let Some(r) = rows.next()? {
            let doc: Vec<u8> = r.get(0)?;
            let state: String = r.get(1)?;
            let seq: i64 = r.get(2)?;
            f(
                decode_doc(&doc)?,
                StoredState::from_column(&state)?,
                seq as u64,
            )?;
        }
        Ok(())
    }

    /// Content files that arrived after change sequence `from` and that an update in the
    /// store (not removed) references: (sha256, size).
    pub fn referenced_content_added_since(&self, from: u64) -> Result<Vec<([u8; 32], u64)>> {
        let mut st = self.conn.prepare(
            "SELECT c.sha256, c.size FROM content c WHERE c.added_seq > ?1 AND EXISTS(
                SELECT 1 FROM files f JOIN updates u ON u.update_id = f.update_id
                WHERE u.state != 'removed' AND (f.sha256 = c.sha256 OR (f.sha256 IS NULL AND f.sha1 = c.sha1)))
             ORDER BY c.sha256",
        )?;
        let rows = st.query_map([from as i64], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (h, size) = row?;
            if let Ok(h) = <[u8; 32]>::try_from(h.as_slice()) {
                out.push((h, size as u64));
            }
        }
        Ok(out)
    }
}

/// What the store holds of one update, for a merge deciding what a record changes.
pub struct StoredDoc {
    pub revision: u32,
    pub doc: Vec<u8>,
    pub state: StoredState,
}

impl Tx<'_> {
    pub fn record_import(&mut self, r: &ImportRecord) -> Result<()> {
        self.execute(
            "INSERT INTO imports(source_store_id, source_store_name, sequence, bundle_id, kind, manifest_sha256, imported,
                                 new, updated, expired, removed, unchanged, content_files, content_bytes, note, chain)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                     (SELECT COALESCE(MAX(chain), 0) FROM imports WHERE source_store_id = ?1))",
            params![
                r.source_store_id,
                r.source_store_name,
                r.sequence as i64,
                r.bundle_id,
                r.kind,
                r.manifest_sha256,
                r.imported,
                r.changes.new as i64,
                r.changes.updated as i64,
                r.changes.expired as i64,
                r.changes.removed as i64,
                r.changes.unchanged as i64,
                r.content_files as i64,
                r.content_bytes as i64,
                r.note
            ],
        )?;
        Ok(())
    }

    /// Every import from one source store since its chain last started (see
    /// [`Tx::reset_chain`]), by sequence: the chain a new bundle must fit.
    pub fn imports_from(&self, source_store_id: &str) -> Result<Vec<ImportRecord>> {
        imports_where(
            self,
            "source_store_id = ?1 AND kind != 'chain-reset'
               AND chain = (SELECT MAX(chain) FROM imports WHERE source_store_id = ?1)
             ORDER BY sequence",
            params![source_store_id],
        )
    }

    /// The latest time recorded for any import: the clock must not be earlier than this.
    pub fn last_import_time(&self) -> Result<Option<crate::time::Timestamp>> {
        let last: Option<String> = self.query_row(
            "SELECT MAX(imported) FROM imports WHERE kind != 'chain-reset'",
            [],
            |r| r.get(0),
        )?;
        last.map(|s| {
            crate::time::Timestamp::parse_rfc3339(&s).ok_or_else(|| {
                Error::new(
                    ErrorKind::StoreDamaged,
                    format!("the import history holds '{s}', which is not a time"),
                )
            })
        })
        .transpose()
    }

    /// Starts the chain of `source_store_id` again: the imports from it so far stay in the
    /// history but no longer decide what comes next, so the next bundle from it is taken as
    /// a first one. Recorded as an import-history row of kind `chain-reset`. Returns the
    /// state that was closed, or None when nothing was ever imported from that source.
    pub fn reset_chain(
        &mut self,
        source_store_id: &str,
        now: &str,
        note: &str,
    ) -> Result<Option<ChainState>> {
        let Some(closed) = chain_state(self, source_store_id)? else {
            return Ok(None);
        };
        self.execute(
            "INSERT INTO imports(source_store_id, source_store_name, sequence, bundle_id, kind, manifest_sha256, imported,
                                 new, updated, expired, removed, unchanged, content_files, content_bytes, note, chain)
             VALUES (?1, ?2, 0, '', 'chain-reset', '', ?3, 0, 0, 0, 0, 0, 0, 0, ?4, ?5)",
            params![
                source_store_id,
                closed.source_store_name,
                now,
                note,
                (closed.chain + 1) as i64
            ],
        )?;
        Ok(Some(closed))
    }

    /// The stored revision, encoded document and state of an update.
    pub fn stored_doc(&self, id: &str) -> Result<Option<StoredDoc>> {
        let row: Option<(u32, Vec<u8>, String)> = self
            .query_row(
                "SELECT revision, doc, state FROM updates WHERE update_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(revision, doc, state)| {
            Ok(StoredDoc {
                revision,
                doc,
                state: StoredState::from_column(&state)?,
            })
        })
        .transpose()
    }
}

/// A public key this store trusts to sign bundles.
#[derive(Clone, Debug, Serialize)]
pub struct TrustedKey {
    /// minisign key id, 16 uppercase hex digits.
    pub key_id: String,
    /// The public key file's text (minisign format).
    pub public_key: String,
    pub comment: String,
    pub added: String,
}

impl Store {
    pub fn trusted_keys(&self) -> Result<Vec<TrustedKey>> {
        let mut st = self.conn.prepare(
            "SELECT key_id, public_key, comment, added FROM trusted_keys ORDER BY key_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(TrustedKey {
                key_id: r.get(0)?,
                public_key: r.get(1)?,
                comment: r.get(2)?,
                added: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Tx<'_> {
    /// Adds a trusted key; returns false if it was trusted already.
    pub fn add_trusted_key(&mut self, k: &TrustedKey) -> Result<bool> {
        let n = self.execute(
            "INSERT OR IGNORE INTO trusted_keys(key_id, public_key, comment, added) VALUES (?1, ?2, ?3, ?4)",
            params![k.key_id, k.public_key, k.comment, k.added],
        )?;
        Ok(n > 0)
    }

    /// Removes a trusted key by id; returns false if it was not trusted.
    pub fn remove_trusted_key(&mut self, key_id: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM trusted_keys WHERE key_id = ?1", [key_id])? > 0)
    }
}

/// Where the chain of one source stands: what `offsync chain show` lists.
#[derive(Clone, Debug, Serialize)]
pub struct ChainState {
    pub source_store_id: String,
    /// The name the source gave itself in its latest bundle.
    pub source_store_name: String,
    /// The last sequence imported since the chain last started; None right after a reset.
    pub last_sequence: Option<u64>,
    /// When that bundle was imported.
    pub last_imported: Option<String>,
    /// How many times the chain was started again (`offsync chain reset`).
    pub resets: u64,
    /// When it was last started again.
    pub last_reset: Option<String>,
    #[serde(skip)]
    chain: u64,
}

impl Store {
    /// The chain state of every source this store imported from, by source store id.
    pub fn chains(&self) -> Result<Vec<ChainState>> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT source_store_id FROM imports ORDER BY source_store_id")?;
        let ids: Vec<String> = st
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut out = Vec::new();
        for id in ids {
            out.extend(chain_state(&self.conn, &id)?);
        }
        Ok(out)
    }
}

fn chain_state(conn: &Connection, source_store_id: &str) -> Result<Option<ChainState>> {
    let row: Option<(String, i64)> = conn
        .query_row(
            "SELECT source_store_name, chain FROM imports WHERE source_store_id = ?1
             ORDER BY id DESC LIMIT 1",
            [source_store_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((name, chain)) = row else {
        return Ok(None);
    };
    // The latest row of a chain holds its highest sequence (a chain only moves forward);
    // SQL's MAX would not, for sequences stored as negative 64-bit integers (2^63 and up).
    let (last_sequence, last_imported): (Option<i64>, Option<String>) = conn
        .query_row(
            "SELECT sequence, imported FROM imports
             WHERE source_store_id = ?1 AND chain = ?2 AND kind != 'chain-reset'
             ORDER BY id DESC LIMIT 1",
            params![source_store_id, chain],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .map_or((None, None), |(s, t)| (Some(s), Some(t)));
    let (resets, last_reset): (i64, Option<String>) = conn.query_row(
        "SELECT COUNT(*), MAX(imported) FROM imports WHERE source_store_id = ?1 AND kind = 'chain-reset'",
        [source_store_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Some(ChainState {
        source_store_id: source_store_id.to_string(),
        source_store_name: name,
        last_sequence: last_sequence.map(|s| s as u64),
        last_imported,
        resets: resets as u64,
        last_reset,
        chain: chain as u64,
    }))
}

fn imports_where(
    conn: &Connection,
    clause: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ImportRecord>> {
    let mut st = conn.prepare(&format!(
        "SELECT source_store_id, source_store_name, sequence, bundle_id, kind, manifest_sha256, imported,
                new, updated, expired, removed, unchanged, content_files, content_bytes, note
         FROM imports WHERE {clause}"
    ))?;
    let rows = st.query_map(p, |r| {
        Ok(ImportRecord {
            source_store_id: r.get(0)?,
            source_store_name: r.get(1)?,
            sequence: r.get::<_, i64>(2)? as u64,
            bundle_id: r.get(3)?,
            kind: r.get(4)?,
            manifest_sha256: r.get(5)?,
            imported: r.get(6)?,
            changes: super::queries::changes_at(r, 7)?,
            content_files: r.get::<_, i64>(12)? as u64,
            content_bytes: r.get::<_, i64>(13)? as u64,
            note: r.get(14)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The store's write lock held across reads made through `&Store` (an export reads with the
/// ordinary query methods and must see one state, and must be the only one choosing the next
/// sequence number). Released (rolled back) when dropped without [`WriteLock::commit`].
pub struct WriteLock<'a> {
    conn: &'a Connection,
    open: bool,
}

impl Store {
    /// Takes the write lock (BEGIN IMMEDIATE; waits for the busy timeout, then fails as busy).
    pub fn write_lock(&self) -> Result<WriteLock<'_>> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(WriteLock {
            conn: &self.conn,
            open: true,
        })
    }

    /// The store's change sequence: the value the last change took.
    pub fn change_seq(&self) -> Result<u64> {
        let v: String = self.conn.query_row(
            "SELECT value FROM store_info WHERE key = 'change_seq'",
            [],
            |r| r.get(0),
        )?;
        v.parse().map_err(|_| {
            Error::new(
                ErrorKind::StoreDamaged,
                format!("change_seq '{v}' is not a number"),
            )
        })
    }

    /// The change sequence up to which the last export of the shared chain that carried
    /// content carried it (0 when none did).
    pub fn last_content_export_seq(&self) -> Result<u64> {
        self.content_export_seq_upto(i64::MAX as u64, None)
    }
}

impl WriteLock<'_> {
    pub fn record_export(&self, r: &ExportRecord) -> Result<()> {
        self.conn.execute(
            "INSERT INTO exports(sequence, bundle_id, kind, base_sequence, changes_from, changes_to, created, finished,
                                 path, manifest_sha256, categories, updates, removed, content_files, content_bytes,
                                 missing_files, metadata_only, for_point)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                r.sequence as i64,
                r.bundle_id,
                r.kind,
                r.base_sequence.map(|v| v as i64),
                r.changes_from as i64,
                r.changes_to as i64,
                r.created,
                r.finished,
                r.path,
                r.manifest_sha256,
                r.categories as i64,
                r.updates as i64,
                r.removed as i64,
                r.content_files as i64,
                r.content_bytes as i64,
                r.missing_files as i64,
                r.metadata_only,
                r.for_point
            ],
        )?;
        Ok(())
    }

    pub fn commit(mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriteLock<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
