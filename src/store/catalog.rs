//! Updates taken one by one with `catalog import`, outside the criteria: the mark that makes
//! a sync keep them (current when the upstream has a newer revision, never marked absent).

use super::Store;
use super::write::Tx;
use crate::error::Result;
use rusqlite::params;
use std::collections::HashSet;

impl Tx<'_> {
    /// Marks `id` as imported from the catalog (`requested`: named by the operator, else
    /// taken as a bundled child). A mark once made stays; a later import refreshes it.
    pub fn mark_catalog_import(
        &self,
        id: &str,
        imported: &str,
        source: &str,
        requested: bool,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO catalog_imports(update_id, imported, source, requested) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(update_id) DO UPDATE SET imported = excluded.imported,
                 source = excluded.source, requested = max(requested, excluded.requested)",
            params![id, imported, source, requested],
        )?;
        Ok(())
    }
}

impl Store {
    /// The UpdateIDs imported from the catalog.
    pub fn catalog_imports(&self) -> Result<HashSet<String>> {
        let mut st = self.conn.prepare("SELECT update_id FROM catalog_imports")?;
        let ids = st
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<HashSet<String>>>()?;
        Ok(ids)
    }
}
