//! What monitoring reads of a store beyond the last run: the sync history, the last
//! successful and failed syncs, the last refused import, and the id a sync run takes before it
//! starts (so that its log lines can carry it; see [`Store::begin_sync_run`]).

use super::Store;
use crate::error::Result;
use crate::model::Changes;
use crate::time::Timestamp;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

/// One row of the sync history (`sync_runs`), with its id: the `N` of `offsync log --run N`.
#[derive(Clone, Debug, Serialize)]
pub struct SyncRunRow {
    pub id: i64,
    pub started: String,
    pub finished: Option<String>,
    pub source: String,
    /// `succeeded` or `failed`.
    pub outcome: String,
    #[serde(flatten)]
    pub changes: Changes,
    pub error: Option<String>,
}

/// A failed operation as `status` shows it: which, when, and its error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRun {
    /// `sync` or `import`.
    pub operation: String,
    pub at: String,
    pub message: String,
}

/// A refused import as its log line tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedImport {
    pub at: String,
    /// `bundle ID (sequence N)`, when the bundle's manifest was read before the refusal.
    pub bundle: Option<String>,
    pub message: String,
}

/// The refusal a log line records (`Import of [bundle ID (sequence N) ]refused: why`).
fn refused_import(l: &super::LogLine) -> Option<RefusedImport> {
    if l.component != "IMPORT" {
        return None;
    }
    let rest = l.message.strip_prefix("Import of ")?;
    let (which, message) = rest.split_once("refused: ")?;
    let which = which.trim();
    // Not a message that merely contains the word (an interrupted import's, say).
    if !which.is_empty() && !which.ends_with(')') {
        return None;
    }
    Some(RefusedImport {
        at: l.time.clone().unwrap_or_default(),
        bundle: (!which.is_empty()).then(|| which.to_string()),
        message: message.to_string(),
    })
}

impl Store {
    /// The last `limit` sync runs, oldest first.
    pub fn sync_history(&self, limit: u32) -> Result<Vec<SyncRunRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, started, finished, source, outcome, new, updated, expired, removed, unchanged, error
             FROM (SELECT * FROM sync_runs ORDER BY id DESC LIMIT ?1) ORDER BY id",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(SyncRunRow {
                id: r.get(0)?,
                started: r.get(1)?,
                finished: r.get(2)?,
                source: r.get(3)?,
                outcome: r.get(4)?,
                changes: super::queries::changes_at(r, 5)?,
                error: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// When the last successful sync finished (or started, for a row without an end), and its
    /// source.
    pub fn last_successful_sync_at(&self) -> Result<Option<(String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT COALESCE(finished, started), source FROM sync_runs
                 WHERE outcome = 'succeeded' ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The last failed sync, as a [`FailedRun`].
    pub fn last_failed_sync(&self) -> Result<Option<FailedRun>> {
        Ok(self
            .conn
            .query_row(
                "SELECT COALESCE(finished, started), COALESCE(error, 'failed') FROM sync_runs
                 WHERE outcome = 'failed' ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(FailedRun {
                        operation: "sync".into(),
                        at: r.get(0)?,
                        message: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// How many sync runs in a row failed, counting back from the last one.
    pub fn sync_failures_in_row(&self) -> Result<u32> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM sync_runs WHERE outcome = 'failed' AND id >
               COALESCE((SELECT MAX(id) FROM sync_runs WHERE outcome != 'failed'), 0)",
            [],
            |r| r.get::<_, i64>(0),
        )? as u32)
    }

    /// The last refused import, read from the log (an import refused changes nothing in the
    /// database, by design: its refusal is written to the log only).
    pub fn last_import_refusal(&self) -> Result<Option<FailedRun>> {
        Ok(self.last_refused_import(None)?.map(|r| FailedRun {
            operation: "import".into(),
            at: r.at,
            message: r.message,
        }))
    }

    /// The last refused import with the bundle the log names, read from the log backwards
    /// (the newest file first, stopping at the first refusal, or at the first line older than
    /// `since`: a refusal before then does not matter to the caller).
    pub fn last_refused_import(&self, since: Option<Timestamp>) -> Result<Option<RefusedImport>> {
        let line = super::logread::find_last(&self.root, b"refused: ", since, &|l| {
            refused_import(l).is_some()
        })?;
        Ok(line.as_ref().and_then(refused_import))
    }

    /// Takes the id the sync starting now will be recorded under in `sync_runs` (the next
    /// one), and makes every log line written until [`Store::end_sync_run`] carry it
    /// (`[run N]`), so that `offsync log --run N` finds them. Nothing is written to the
    /// database for it (a failed sync changes nothing but its `sync_runs` row); when another
    /// sync records that id first, the record says so in the log
    /// ([`super::Tx::record_sync_run`]). `None` when it cannot be read: logging never fails
    /// a command.
    pub fn begin_sync_run(&mut self) -> Option<i64> {
        let id = self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM sync_runs", [], |r| {
                r.get::<_, i64>(0)
            })
            .ok()?;
        self.log.set_run(Some(id));
        Some(id)
    }

    /// Ends what [`Store::begin_sync_run`] began: later lines carry no run.
    pub fn end_sync_run(&self) {
        self.log.set_run(None);
    }
}
