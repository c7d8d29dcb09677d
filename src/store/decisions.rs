//! Local decisions (decline, undecline) between stores: what an export carries of them, and
//! how a store treats the decisions of its upstream (a parent store, or the source of an
//! imported bundle), as a WSUS downstream server is a replica or autonomous.

use super::Store;
use super::write::Tx;
use crate::error::{Error, Result};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// The `store_info` key of the mode.
const MODE_KEY: &str = "upstream_mode";

/// How a store treats its upstream's decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamMode {
    /// Applies the upstream's declines and undeclines (each takes a change number here).
    Replica,
    /// Keeps its own decisions and reports where the upstream decided otherwise.
    #[default]
    Autonomous,
}

impl UpstreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamMode::Replica => "replica",
            UpstreamMode::Autonomous => "autonomous",
        }
    }

    pub fn parse(s: &str) -> Option<UpstreamMode> {
        match s {
            "replica" => Some(UpstreamMode::Replica),
            "autonomous" => Some(UpstreamMode::Autonomous),
            _ => None,
        }
    }
}

/// One decision of the upstream that differed from this store's.
#[derive(Clone, Debug, Serialize)]
pub struct UpstreamDecision {
    pub update_id: String,
    pub kb: Option<String>,
    pub title: String,
    /// What the upstream decided: true for a decline, false for an undecline.
    pub declined: bool,
}

/// What a sync or an import did with the upstream's decisions.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DecisionReport {
    pub mode: UpstreamMode,
    /// Decisions applied here (replica).
    pub applied: Vec<UpstreamDecision>,
    /// Decisions of the upstream that this store did not take (autonomous): it keeps its own.
    pub kept_local: Vec<UpstreamDecision>,
}

/// A decision as a store records it: the update, declined or not, and its change number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDecision {
    pub update_id: String,
    pub declined: bool,
    pub decided_seq: u64,
}

impl Store {
    /// How this store treats its upstream's decisions (autonomous unless set).
    pub fn upstream_mode(&self) -> Result<UpstreamMode> {
        match self.setting(MODE_KEY)? {
            None => Ok(UpstreamMode::Autonomous),
            Some(v) => UpstreamMode::parse(&v).ok_or_else(|| {
                Error::new(
                    crate::error::ErrorKind::StoreDamaged,
                    format!("store_info has the unknown upstream mode '{v}'"),
                )
                .with_hint("set it again with `offsync upstream mode`")
            }),
        }
    }

    /// Sets how this store treats its upstream's decisions.
    pub fn set_upstream_mode(&mut self, mode: UpstreamMode) -> Result<()> {
        self.set_setting(MODE_KEY, mode.as_str())
    }

    /// The decisions made after change sequence `from`, by UpdateID (an undecline too: the
    /// other side may hold the decline it takes back). From 0, also the declines made before
    /// decisions had their own change numbers.
    pub fn decisions_changed_since(&self, from: u64) -> Result<Vec<StoredDecision>> {
        // Two statements, not one with an OR: with it SQLite walked every update by UpdateID
        // (seconds at a million), where an incremental export needs the few decided since.
        let sql = if from == 0 {
            "SELECT update_id, declined, decided_seq FROM updates
             WHERE decided_seq > ?1 OR declined = 1 ORDER BY update_id"
        } else {
            "SELECT update_id, declined, decided_seq FROM updates INDEXED BY updates_decided
             WHERE decided_seq > ?1 ORDER BY update_id"
        };
        let mut st = self.conn.prepare(sql)?;
        let rows = st.query_map([from as i64], |r| {
            Ok(StoredDecision {
                update_id: r.get(0)?,
                declined: r.get(1)?,
                decided_seq: r.get::<_, i64>(2)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Tx<'_> {
    /// Takes the upstream's decisions (UpdateID, declined) into this store as `mode` says.
    /// Only decisions about updates this store holds (not removed) and that differ from its
    /// own are reported; with `apply` false (a dry run) nothing is written.
    pub fn take_upstream_decisions(
        &mut self,
        decisions: &[(String, bool)],
        mode: UpstreamMode,
        apply: bool,
    ) -> Result<DecisionReport> {
        let mut report = DecisionReport {
            mode,
            ..Default::default()
        };
        for (id, declined) in decisions {
            let row: Option<(bool, Option<String>, String)> = self
                .query_row(
                    "SELECT declined, kb, title FROM updates WHERE update_id = ?1 AND state != 'removed'",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((local, kb, title)) = row else {
                continue;
            };
            if local == *declined {
                continue;
            }
            let d = UpstreamDecision {
                update_id: id.clone(),
                kb,
                title,
                declined: *declined,
            };
            match mode {
                UpstreamMode::Replica => {
                    if apply {
                        self.set_declined(id, *declined)?;
                    }
                    report.applied.push(d);
                }
                UpstreamMode::Autonomous => report.kept_local.push(d),
            }
        }
        Ok(report)
    }
}
