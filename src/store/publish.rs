//! What `publish wsus` reads from the store beyond the update model: which updates a publish
//! selects (all, or those changed since the previous publish to the same folder), the stored
//! rows of related updates, and the record of each publish (schema 8, `wsus_publishes`).

use super::Store;
use crate::error::Result;
use rusqlite::{OptionalExtension, params};

/// A stored update a publish may take: its row, without the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishCandidate {
    pub id: String,
    pub revision: u32,
    /// `Software`, `Driver`, `Detectoid`, ... as the upstream spells it.
    pub update_type: String,
    pub title: String,
    /// `published`, `expired` or `removed`.
    pub state: String,
    pub declined: bool,
}

/// One publish to a folder, as the store records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsusPublishRecord {
    /// The folder's canonical path.
    pub out_dir: String,
    /// The store's change sequence when it was published: the next `--since-last` takes
    /// what changed after it.
    pub change_seq: u64,
    /// RFC 3339.
    pub published: String,
    pub packages: u64,
    pub records: u64,
}

const CANDIDATE_COLUMNS: &str = "update_id, revision, update_type, title, state, declined";

fn candidate(r: &rusqlite::Row<'_>) -> rusqlite::Result<PublishCandidate> {
    Ok(PublishCandidate {
        id: r.get(0)?,
        revision: r.get(1)?,
        update_type: r.get(2)?,
        title: r.get(3)?,
        state: r.get(4)?,
        declined: r.get(5)?,
    })
}

impl Store {
    /// The updates a publish selects, by id: every update that is neither removed nor
    /// declined, or with `since` only those whose revision or local decision changed after
    /// that change sequence (an update declined again drops out; one undeclined comes in), or
    /// whose upstream document arrived or changed after it.
    pub fn publish_candidates(&self, since: Option<u64>) -> Result<Vec<PublishCandidate>> {
        let since = since.map_or(-1, |s| s as i64);
        let mut st = self.conn.prepare(&format!(
            "SELECT {CANDIDATE_COLUMNS} FROM updates
             WHERE state != 'removed' AND declined = 0
               AND (changed_seq > ?1 OR decided_seq > ?1
                    OR update_id IN (SELECT id FROM documents WHERE changed_seq > ?1))
             ORDER BY update_id"
        ))?;
        let rows = st.query_map([since], candidate)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The ids whose kept upstream document arrived or changed after change sequence `since`
    /// (categories among them are published again by `publish wsus --since-last`).
    pub fn documents_changed_since(&self, since: u64) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT id FROM documents WHERE changed_seq > ?1 ORDER BY id")?;
        let rows = st.query_map([since as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The stored row of one update (any state), or `None` when the store does not hold it.
    pub fn publish_candidate(&self, id: &str) -> Result<Option<PublishCandidate>> {
        // Cached: a publish asks once per update and per prerequisite.
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {CANDIDATE_COLUMNS} FROM updates WHERE update_id = ?1"
            ))?
            .query_row([id], candidate)
            .optional()?)
    }

    /// Whether the store keeps the upstream's document of revision `revision` of `id`
    /// (without reading it).
    pub fn has_document(&self, id: &str, revision: u32) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM documents WHERE id = ?1 AND revision = ?2")?
            .query_row(params![id, revision], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The newest publish to the folder whose canonical path is `out_dir`.
    pub fn last_wsus_publish(&self, out_dir: &str) -> Result<Option<WsusPublishRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT out_dir, change_seq, published, packages, records FROM wsus_publishes
                 WHERE out_dir = ?1 ORDER BY id DESC LIMIT 1",
                [out_dir],
                |r| {
                    Ok(WsusPublishRecord {
                        out_dir: r.get(0)?,
                        change_seq: r.get::<_, i64>(1)? as u64,
                        published: r.get(2)?,
                        packages: r.get::<_, i64>(3)? as u64,
                        records: r.get::<_, i64>(4)? as u64,
                    })
                },
            )
            .optional()?)
    }

    /// Records a finished publish.
    pub fn record_wsus_publish(&self, rec: &WsusPublishRecord) -> Result<()> {
        self.conn.execute(
            "INSERT INTO wsus_publishes(out_dir, change_seq, published, packages, records)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                rec.out_dir,
                rec.change_seq as i64,
                rec.published,
                rec.packages as i64,
                rec.records as i64
            ],
        )?;
        Ok(())
    }
}
