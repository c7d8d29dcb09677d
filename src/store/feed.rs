//! What a child store reads of this one when it syncs from it as its upstream: every category,
//! and every update that is not removed, each under a row key for fetching it again.

use super::Store;
use super::queries::categories_where;
use super::write::{StoredState, decode_doc};
use crate::error::Result;
use crate::model::{Category, Update};
use rusqlite::params;

impl Store {
    /// Every category, by kind, title and id.
    pub fn all_categories(&self) -> Result<Vec<Category>> {
        categories_where(&self.conn, "1 = 1 ORDER BY kind, title, id", params![])
    }

    /// How many updates the store holds that are not removed.
    pub fn present_update_count(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM updates WHERE state != 'removed'",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Whether the store holds a detectoid that is not removed: only then can a child that
    /// syncs from it select detectoids, so only then need their prerequisites be read.
    pub fn holds_detectoids(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM updates WHERE update_type = 'Detectoid' AND state != 'removed')",
            [],
            |r| r.get(0),
        )?)
    }

    /// Streams every update that is not removed, in the order the rows were made, with its
    /// state and the row key that [`Store::update_by_key`] takes.
    pub fn for_each_present_update(
        &self,
        f: &mut dyn FnMut(u64, Update, StoredState) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.conn.prepare(
            "SELECT rowid, doc, state FROM updates WHERE state != 'removed' ORDER BY rowid",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let key: i64 = r.get(0)?;
            let doc: Vec<u8> = r.get(1)?;
            let state: String = r.get(2)?;
            f(
                key as u64,
                decode_doc(&doc)?,
                StoredState::from_column(&state)?,
            )?;
        }
        Ok(())
    }

    /// The update stored under a row key from [`Store::for_each_present_update`].
    pub fn update_by_key(&self, key: u64) -> Result<(Update, StoredState)> {
        let mut st = self
            .conn
            .prepare_cached("SELECT doc, state FROM updates WHERE rowid = ?1")?;
        let (doc, state): (Vec<u8>, String) =
            st.query_row([key as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((decode_doc(&doc)?, StoredState::from_column(&state)?))
    }
}
