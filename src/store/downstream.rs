//! What a store keeps about the points below it (children that synced from it, isolated
//! points that sent a receipt back across the gap), and the facts a receipt of this store
//! reports about the sources above it. The receipt format itself lives in
//! `transfer::receipt`; this module only keeps and queries rows.

use super::exchange::{EXPORT_COLUMNS, ExportRecord, export_row};
use super::{Store, Tx};
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A point that synced from this store directly (its receipt arrived in this store's
/// `receipts` folder).
pub const KIND_CHILD: &str = "child";
/// A point that sent its receipt across the gap as a file.
pub const KIND_DISCONNECTED: &str = "disconnected";

/// One receipt as this store keeps it (the row replaced by each newer receipt of the point).
#[derive(Clone, Debug)]
pub struct DownstreamRecord {
    /// The point's store id.
    pub id: String,
    pub name: String,
    /// [`KIND_CHILD`] or [`KIND_DISCONNECTED`].
    pub kind: String,
    /// When this store registered the receipt.
    pub received: String,
    /// When the point wrote the receipt.
    pub receipt_created: String,
    /// The last bundle of this store the point imported (in its current chain).
    pub ack_sequence: Option<u64>,
    pub ack_bundle_id: Option<String>,
    pub ack_manifest_sha256: Option<String>,
    /// This store's change sequence the point synced up to (a child).
    pub ack_change_seq: Option<u64>,
    /// When the point imported that bundle or made that sync.
    pub ack_time: Option<String>,
    /// The point's own change sequence, updates (not removed) and referenced files missing.
    pub change_seq: u64,
    pub updates: u64,
    pub content_missing: u64,
    /// The point's most recent import or sync: outcome, time, error.
    pub last_outcome: Option<String>,
    pub last_outcome_time: Option<String>,
    pub last_error: Option<String>,
    /// The key that signed the receipt, when it was checked.
    pub signed_by: Option<String>,
    /// The receipt's JSON as received.
    pub receipt: String,
}

/// A downstream point as `status` and `receipt list` show it: what it acknowledged of this
/// store, and how far behind this store's exports and changes that leaves it.
#[derive(Clone, Debug, Serialize)]
pub struct DownstreamPoint {
    /// The point's store id.
    pub id: String,
    pub name: String,
    /// `child` or `disconnected`.
    pub kind: String,
    /// When this store registered its latest receipt, and when the point wrote it.
    pub received: String,
    pub receipt_created: String,
    /// The sequence of this store's last bundle the point imported, as its receipt says.
    pub acknowledged_sequence: Option<u64>,
    pub acknowledged_bundle_id: Option<String>,
    /// Whether that bundle is one this store exported (same sequence and manifest digest):
    /// when not, the point acknowledged nothing this store still has, and `export --for`
    /// writes a full bundle.
    pub acknowledged_known: bool,
    /// This store's change sequence the point holds: the acknowledged export's end, or for
    /// a child the change sequence of the parent it synced.
    pub acknowledged_change_seq: Option<u64>,
    /// When this store made the acknowledged export (a child: when it synced); how many days
    /// behind it is counts from there when `bundles_behind` or `changes_behind` is not 0.
    pub acknowledged_time: Option<String>,
    /// This store's exports after the acknowledged one (all of them when it acknowledged
    /// nothing known), counting the shared chain's and the point's own, not other points'
    /// own (`export --for`); 0 for a point that acknowledges by sync only.
    pub bundles_behind: u64,
    /// This store's changes after what the point acknowledged.
    pub changes_behind: u64,
    /// The point's own change sequence, updates and referenced files it lacks.
    pub change_seq: u64,
    pub updates: u64,
    pub content_missing: u64,
    pub last_outcome: Option<String>,
    pub last_outcome_time: Option<String>,
    pub last_error: Option<String>,
    pub signed_by: Option<String>,
}

/// The point's previous receipt, to judge a new one against.
#[derive(Clone, Debug)]
pub struct PreviousReceipt {
    pub name: String,
    /// [`KIND_CHILD`] or [`KIND_DISCONNECTED`], as first registered.
    pub kind: String,
    pub receipt_created: String,
    pub ack_sequence: Option<u64>,
    pub ack_change_seq: Option<u64>,
    pub receipt: String,
}

/// The chain of one source this store imported bundles from: its latest chain and, unless
/// the chain was just reset, the last bundle imported in it.
#[derive(Clone, Debug)]
pub struct ImportedSource {
    pub store_id: String,
    pub store_name: String,
    pub chain: u64,
    pub last: Option<ImportedBundle>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportedBundle {
    pub bundle_id: String,
    pub sequence: u64,
    pub kind: String,
    pub manifest_sha256: String,
    pub imported: String,
}

/// One import or sync of this store, for a receipt's recent history.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecentRun {
    /// `import` or `sync`.
    pub operation: String,
    pub at: String,
    /// `imported`, or a sync outcome (`succeeded`, `failed`, ...).
    pub outcome: String,
    /// The source: a store name (import) or the upstream's description (sync).
    pub source: String,
    pub error: Option<String>,
}

const POINT_COLUMNS: &str = "id, name, kind, received, receipt_created, ack_sequence, ack_bundle_id,
    ack_manifest_sha256, ack_change_seq, ack_time, change_seq, updates, content_missing, last_outcome,
    last_outcome_time, last_error, signed_by";

fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.map(|v| v as u64)
}

impl Store {
    /// Every downstream point this store registered, by name then id.
    pub fn downstream_points(&self) -> Result<Vec<DownstreamPoint>> {
        points_where(&self.conn, "1 ORDER BY name, id", params![])
    }

    /// The downstream point `spec` names: its store id, or its name. A name that several
    /// points have (registered before names were checked) is a usage error listing their ids.
    pub fn downstream_point(&self, spec: &str) -> Result<Option<DownstreamPoint>> {
        let by_id = points_where(&self.conn, "lower(id) = lower(?1)", params![spec])?;
        if let Some(p) = by_id.into_iter().next() {
            return Ok(Some(p));
        }
        let mut named = points_where(&self.conn, "name = ?1 ORDER BY id", params![spec])?;
        if named.len() > 1 {
            let ids: Vec<String> = named.iter().map(|p| p.id.clone()).collect();
            return Err(crate::error::Error::usage(format!(
                "{} downstream points are named '{spec}': {}",
                named.len(),
                ids.join(", ")
            ))
            .with_hint("name the point by its store id"));
        }
        Ok(named.pop())
    }

    /// Drops the downstream point with this store id (`receipt forget`); whether it was there.
    /// Its next receipt registers it anew.
    pub fn forget_downstream(&mut self, id: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM downstream_points WHERE id = ?1", [id])?
            > 0)
    }

    /// This store's export with this sequence number, if it made one.
    pub fn export_at(&self, sequence: u64) -> Result<Option<ExportRecord>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE sequence = ?1"),
                [sequence as i64],
                export_row,
            )
            .optional()?)
    }

    /// The change sequence up to which the exports up to `sequence` that carried content
    /// carried it: where content starts for a bundle that builds on export `sequence`. Those
    /// of the shared chain, and with `point` its own (`export --for`), not other points' own.
    pub fn content_export_seq_upto(&self, sequence: u64, point: Option<&str>) -> Result<u64> {
        // `for_point = NULL` is never true: without a point, the shared chain only.
        let v: Option<i64> = self.conn.query_row(
            "SELECT MAX(changes_to) FROM exports WHERE metadata_only = 0 AND sequence <= ?1
             AND (for_point IS NULL OR for_point = ?2)",
            params![sequence as i64, point],
            |r| r.get(0),
        )?;
        Ok(v.unwrap_or(0) as u64)
    }

    /// Every source this store imported bundles from, with its latest chain and last bundle.
    pub fn imported_sources(&self) -> Result<Vec<ImportedSource>> {
        let mut out = Vec::new();
        for c in self.chains()? {
            let chain: i64 = self.conn.query_row(
                "SELECT chain FROM imports WHERE source_store_id = ?1 ORDER BY id DESC LIMIT 1",
                [&c.source_store_id],
                |r| r.get(0),
            )?;
            let last = self
                .conn
                .query_row(
                    "SELECT bundle_id, sequence, kind, manifest_sha256, imported FROM imports
                     WHERE source_store_id = ?1 AND chain = ?2 AND kind != 'chain-reset'
                     ORDER BY id DESC LIMIT 1",
                    params![c.source_store_id, chain],
                    |r| {
                        Ok(ImportedBundle {
                            bundle_id: r.get(0)?,
                            sequence: r.get::<_, i64>(1)? as u64,
                            kind: r.get(2)?,
                            manifest_sha256: r.get(3)?,
                            imported: r.get(4)?,
                        })
                    },
                )
                .optional()?;
            out.push(ImportedSource {
                store_id: c.source_store_id,
                store_name: c.source_store_name,
                chain: chain as u64,
                last,
            });
        }
        Ok(out)
    }

    /// The `limit` most recent imports and syncs, newest first.
    pub fn recent_runs(&self, limit: usize) -> Result<Vec<RecentRun>> {
        let mut st = self.conn.prepare(
            "SELECT 'import', imported, 'imported', source_store_name, NULL FROM imports
               WHERE kind != 'chain-reset'
             UNION ALL
             SELECT 'sync', COALESCE(finished, started), outcome, source, error FROM sync_runs
             ORDER BY 2 DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(RecentRun {
                operation: r.get(0)?,
                at: r.get(1)?,
                outcome: r.get(2)?,
                source: r.get(3)?,
                error: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Judging a receipt and registering it happen in one write transaction (BEGIN IMMEDIATE), so
/// that two imports at once cannot let an older receipt replace a newer one.
impl Tx<'_> {
    /// The latest receipt registered for the point with this store id.
    pub fn previous_receipt(&self, id: &str) -> Result<Option<PreviousReceipt>> {
        let conn: &Connection = self;
        Ok(conn
            .query_row(
                "SELECT name, kind, receipt_created, ack_sequence, ack_change_seq, receipt
                 FROM downstream_points WHERE id = ?1",
                [id],
                |r| {
                    Ok(PreviousReceipt {
                        name: r.get(0)?,
                        kind: r.get(1)?,
                        receipt_created: r.get(2)?,
                        ack_sequence: opt_u64(r.get(3)?),
                        ack_change_seq: opt_u64(r.get(4)?),
                        receipt: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// The id of another point registered under `name`, if any.
    pub fn downstream_id_named(&self, name: &str, except_id: &str) -> Result<Option<String>> {
        let conn: &Connection = self;
        Ok(conn
            .query_row(
                "SELECT id FROM downstream_points WHERE name = ?1 AND id != ?2 ORDER BY id LIMIT 1",
                [name, except_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Registers a point's receipt, replacing the one before.
    pub fn put_downstream(&self, r: &DownstreamRecord) -> Result<()> {
        let conn: &Connection = self;
        conn.execute(
            "INSERT OR REPLACE INTO downstream_points(id, name, kind, received, receipt_created, ack_sequence,
                 ack_bundle_id, ack_manifest_sha256, ack_change_seq, ack_time, change_seq, updates,
                 content_missing, last_outcome, last_outcome_time, last_error, signed_by, receipt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                r.id,
                r.name,
                r.kind,
                r.received,
                r.receipt_created,
                r.ack_sequence.map(|v| v as i64),
                r.ack_bundle_id,
                r.ack_manifest_sha256,
                r.ack_change_seq.map(|v| v as i64),
                r.ack_time,
                r.change_seq as i64,
                r.updates as i64,
                r.content_missing as i64,
                r.last_outcome,
                r.last_outcome_time,
                r.last_error,
                r.signed_by,
                r.receipt
            ],
        )?;
        Ok(())
    }
}

fn points_where(
    conn: &Connection,
    clause: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<Vec<DownstreamPoint>> {
    let change_seq: u64 = conn
        .query_row(
            "SELECT value FROM store_info WHERE key = 'change_seq'",
            [],
            |r| r.get::<_, String>(0),
        )?
        .parse()
        .unwrap_or(0);
    let mut st = conn.prepare(&format!(
        "SELECT {POINT_COLUMNS} FROM downstream_points WHERE {clause}"
    ))?;
    let rows = st.query_map(p, |r| {
        let ack_manifest: Option<String> = r.get(7)?;
        Ok((
            DownstreamPoint {
                id: r.get(0)?,
                name: r.get(1)?,
                kind: r.get(2)?,
                received: r.get(3)?,
                receipt_created: r.get(4)?,
                acknowledged_sequence: opt_u64(r.get(5)?),
                acknowledged_bundle_id: r.get(6)?,
                acknowledged_known: false,
                acknowledged_change_seq: opt_u64(r.get(8)?),
                acknowledged_time: r.get(9)?,
                bundles_behind: 0,
                changes_behind: 0,
                change_seq: r.get::<_, i64>(10)? as u64,
                updates: r.get::<_, i64>(11)? as u64,
                content_missing: r.get::<_, i64>(12)? as u64,
                last_outcome: r.get(13)?,
                last_outcome_time: r.get(14)?,
                last_error: r.get(15)?,
                signed_by: r.get(16)?,
            },
            ack_manifest,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (mut point, ack_manifest) = row?;
        measure_behind(conn, &mut point, ack_manifest.as_deref(), change_seq)?;
        out.push(point);
    }
    Ok(out)
}

/// Fills in how far behind this store the point is, from this store's exports: a bundle
/// acknowledgement counts only when this store made that very bundle (same sequence and
/// manifest digest; a store rebuilt or restored numbers other bundles the same).
fn measure_behind(
    conn: &Connection,
    point: &mut DownstreamPoint,
    ack_manifest: Option<&str>,
    change_seq: u64,
) -> Result<()> {
    let known: Option<(i64, String)> = match (point.acknowledged_sequence, ack_manifest) {
        (Some(seq), Some(sha)) => conn
            .query_row(
                "SELECT changes_to, created FROM exports WHERE sequence = ?1 AND manifest_sha256 = ?2",
                params![seq as i64, sha],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
        _ => None,
    };
    // The bundles meant for it: the shared chain's and its own, not other points' own.
    let id = point.id.clone();
    let exports_after = |seq: i64| -> Result<u64> {
        Ok(conn.query_row(
            "SELECT COUNT(*) FROM exports WHERE sequence > ?1
             AND (for_point IS NULL OR for_point = ?2)",
            params![seq, id],
            |r| r.get::<_, i64>(0),
        )? as u64)
    };
    if let Some((changes_to, created)) = known {
        point.acknowledged_known = true;
        point.acknowledged_change_seq = Some(changes_to as u64);
        point.acknowledged_time = Some(created);
        point.bundles_behind = exports_after(point.acknowledged_sequence.unwrap_or(0) as i64)?;
    } else if point.acknowledged_change_seq.is_none() {
        // Acknowledged nothing this store still has (never, or a bundle of another chain):
        // everything is ahead of it.
        point.acknowledged_change_seq = None;
        point.acknowledged_time = None;
        point.bundles_behind = exports_after(0)?;
    }
    point.changes_behind = change_seq.saturating_sub(point.acknowledged_change_seq.unwrap_or(0));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn record(id: &str, name: &str) -> DownstreamRecord {
        DownstreamRecord {
            id: id.into(),
            name: name.into(),
            kind: KIND_DISCONNECTED.into(),
            received: "2026-12-06T00:00:00Z".into(),
            receipt_created: "2026-12-06T00:00:00Z".into(),
            ack_sequence: None,
            ack_bundle_id: None,
            ack_manifest_sha256: None,
            ack_change_seq: None,
            ack_time: None,
            change_seq: 0,
            updates: 0,
            content_missing: 0,
            last_outcome: None,
            last_outcome_time: None,
            last_error: None,
            signed_by: None,
            receipt: "{}".into(),
        }
    }

    /// Two points with one name (registered before names were checked for known points):
    /// the name names neither; the error lists both ids.
    #[test]
    fn a_name_that_several_points_have_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = Store::init(&dir.path().join("s"), None, Timestamp(1_796_464_800)).unwrap();
        let tx = st.begin().unwrap();
        tx.put_downstream(&record("00000000-0000-0000-0000-000000000001", "site"))
            .unwrap();
        tx.put_downstream(&record("00000000-0000-0000-0000-000000000002", "site"))
            .unwrap();
        tx.commit().unwrap();
        let e = st.downstream_point("site").unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Usage);
        assert!(
            e.message.contains("-000000000001, 00000000"),
            "{}",
            e.message
        );
        let by_id = st
            .downstream_point("00000000-0000-0000-0000-000000000002")
            .unwrap();
        assert_eq!(by_id.map(|p| p.name).as_deref(), Some("site"));
        assert!(
            st.forget_downstream("00000000-0000-0000-0000-000000000001")
                .unwrap()
        );
        assert!(st.downstream_point("site").unwrap().is_some());
    }
}
