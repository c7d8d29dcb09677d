//! The scan index of a sync: one row per update an upstream lists, kept in temporary tables
//! of the store's own connection rather than in memory, so that a sync's memory does not grow
//! with the size of the upstream. Temporary tables live in a file of their own (never the
//! store's database) with SQLite's bounded page cache, and can be joined with `updates`: the
//! selection against the criteria and the comparison with the store run in SQL over them.
//!
//! The tables: `scan_update` (the newest revision's header per update), `scan_bundle` (bundle
//! edges, each tagged with the update that named it, so that a newer revision replaces them),
//! `scan_sel` (what the criteria select) and `scan_fetch` (what the sync is to read in full).

use super::{Store, StoredHeader, StoredState, Tx};
use crate::error::Result;
use crate::model::PublicationState;
use crate::upstream::UpdateHeader;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeSet, HashSet};

const CREATE: &str = "
    DROP TABLE IF EXISTS temp.scan_update;
    DROP TABLE IF EXISTS temp.scan_bundle;
    DROP TABLE IF EXISTS temp.scan_prereq;
    DROP TABLE IF EXISTS temp.scan_sel;
    DROP TABLE IF EXISTS temp.scan_fetch;
    CREATE TABLE temp.scan_update(
        id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        expired INTEGER NOT NULL,
        fingerprint BLOB NOT NULL,
        key INTEGER NOT NULL,
        categories TEXT NOT NULL,
        languages TEXT NOT NULL,
        lang_ok INTEGER NOT NULL,
        detectoid INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE temp.scan_bundle(
        via TEXT NOT NULL,
        parent TEXT NOT NULL,
        child TEXT NOT NULL,
        PRIMARY KEY (via, parent, child)
    ) WITHOUT ROWID;
    CREATE TABLE temp.scan_prereq(
        parent TEXT NOT NULL,
        child TEXT NOT NULL,
        PRIMARY KEY (parent, child)
    ) WITHOUT ROWID;
    CREATE TABLE temp.scan_sel(id TEXT PRIMARY KEY) WITHOUT ROWID;
    CREATE TABLE temp.scan_fetch(
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        change INTEGER NOT NULL
    );
";

/// What adding a header to the scan index found.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanAdd {
    /// Kept: the first revision of its update.
    New,
    /// Kept: a newer revision than the one kept so far, which it replaces.
    Replaced,
    /// An older (or the same) revision than the one kept: ignored.
    Ignored,
    /// The same revision as the one kept, with a different fingerprint: the kept one's key.
    Conflict(u64),
}

/// An update of the upstream to compare with the store.
pub struct ScanCandidate {
    pub id: String,
    pub revision: u32,
    pub expired: bool,
    pub fingerprint: [u8; 32],
    pub key: u64,
    /// The store's header of the same update, if it holds one.
    pub stored: Option<StoredHeader>,
}

impl Store {
    /// Creates the (empty) scan index and opens the transaction that fills it: call
    /// [`Store::scan_index_add`] for each header, then [`Store::scan_index_close`] whatever
    /// happened. Writes only temporary tables: the store itself is not locked.
    pub fn scan_index_open(&self) -> Result<()> {
        // The bundled SQLite keeps temporary tables in memory by default; on disk they cost a
        // bounded page cache instead of memory that grows with the upstream.
        self.conn.pragma_update(None, "temp_store", "FILE")?;
        self.conn.execute_batch(CREATE)?;
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }

    /// Adds the header of one revision, keeping the newest revision per update. `lang_ok`:
    /// whether its languages fit the criteria.
    pub fn scan_index_add(&self, h: &UpdateHeader, lang_ok: bool) -> Result<ScanAdd> {
        let c = &self.conn;
        let id = h.id.as_str();
        let insert = |c: &Connection| -> Result<()> {
            let cats: Vec<&str> = h.categories.iter().map(|g| g.as_str()).collect();
            c.prepare_cached(
                "INSERT INTO temp.scan_update(id, revision, expired, fingerprint, key, categories, languages, lang_ok, detectoid)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                id,
                h.revision,
                h.publication_state == PublicationState::Expired,
                &h.fingerprint[..],
                h.key as i64,
                cats.join(" "),
                h.languages.join(" "),
                lang_ok,
                h.update_type.eq_ignore_ascii_case("Detectoid")
            ])?;
            let mut edge = c.prepare_cached(
                "INSERT OR IGNORE INTO temp.scan_bundle(via, parent, child) VALUES (?1, ?2, ?3)",
            )?;
            for child in &h.bundled {
                edge.execute(params![id, id, child.as_str()])?;
            }
            for parent in &h.bundled_by {
                edge.execute(params![id, parent.as_str(), id])?;
            }
            let mut pre = c.prepare_cached(
                "INSERT OR IGNORE INTO temp.scan_prereq(parent, child) VALUES (?1, ?2)",
            )?;
            for child in &h.prerequisites {
                pre.execute(params![id, child.as_str()])?;
            }
            Ok(())
        };
        let old: Option<(u32, Vec<u8>, i64)> = c
            .prepare_cached(
                "SELECT revision, fingerprint, key FROM temp.scan_update WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let added = match old {
            None => ScanAdd::New,
            Some((rev, fp, key)) if rev == h.revision && fp[..] != h.fingerprint[..] => {
                return Ok(ScanAdd::Conflict(key as u64));
            }
            Some((rev, _, _)) if rev >= h.revision => return Ok(ScanAdd::Ignored),
            Some(_) => {
                c.prepare_cached("DELETE FROM temp.scan_update WHERE id = ?1")?
                    .execute([id])?;
                c.prepare_cached("DELETE FROM temp.scan_bundle WHERE via = ?1")?
                    .execute([id])?;
                c.prepare_cached("DELETE FROM temp.scan_prereq WHERE parent = ?1")?
                    .execute([id])?;
                ScanAdd::Replaced
            }
        };
        insert(c)?;
        Ok(added)
    }

    /// Ends the transaction that filled the scan index: kept if `ok`, else rolled back.
    pub fn scan_index_close(&self, ok: bool) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.conn
            .execute_batch(if ok { "COMMIT" } else { "ROLLBACK" })?;
        Ok(())
    }

    /// Drops the scan index (its temporary file goes with it).
    pub fn scan_index_drop(&self) -> Result<()> {
        self.scan_index_close(false)?;
        self.conn.execute_batch(
            "DROP TABLE IF EXISTS temp.scan_update; DROP TABLE IF EXISTS temp.scan_bundle;
             DROP TABLE IF EXISTS temp.scan_prereq; DROP TABLE IF EXISTS temp.scan_sel; DROP TABLE IF EXISTS temp.scan_fetch;",
        )?;
        Ok(())
    }
}

impl Tx<'_> {
    /// The category GUIDs and the languages the updates of the scan index name (each set is
    /// as small as the upstream's list of categories and of languages).
    pub fn scan_cited(&self) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
        let (mut cats, mut langs) = (BTreeSet::new(), BTreeSet::new());
        let mut st = self.prepare("SELECT categories, languages FROM temp.scan_update")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            for (i, set) in [(0, &mut cats), (1, &mut langs)] {
                for v in text(r, i)?.split(' ').filter(|v| !v.is_empty()) {
                    if !set.contains(v) {
                        set.insert(v.to_string());
                    }
                }
            }
        }
        Ok((cats, langs))
    }

    /// Selects the updates with a category in `products` and one in `classes` whose
    /// languages fit, then the bundled children and the prerequisite detectoids of what is
    /// selected (repeated for bundles within bundles and detectoids that need detectoids;
    /// those the upstream lists only). Returns how many are selected.
    pub fn scan_select(
        &self,
        products: &HashSet<String>,
        classes: &HashSet<String>,
    ) -> Result<u64> {
        let mut add = self.prepare_cached("INSERT OR IGNORE INTO temp.scan_sel(id) VALUES (?1)")?;
        let mut st = self.prepare("SELECT id, categories FROM temp.scan_update WHERE lang_ok")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let cats = text(r, 1)?;
            if cats.split(' ').any(|c| products.contains(c))
                && cats.split(' ').any(|c| classes.contains(c))
            {
                add.execute([text(r, 0)?])?;
            }
        }
        // Children named by their parent (upd:Update) or parents named by their child (the
        // offline catalog's BundledBy), and the detectoids a selected update or detectoid
        // names as prerequisites (a published package must hold them): one level per round.
        loop {
            let children = self.execute(
                "INSERT OR IGNORE INTO temp.scan_sel(id)
                 SELECT DISTINCT b.child FROM temp.scan_bundle b
                 JOIN temp.scan_sel p ON p.id = b.parent
                 JOIN temp.scan_update u ON u.id = b.child
                 WHERE b.child NOT IN (SELECT id FROM temp.scan_sel)",
                [],
            )?;
            let detectoids = self.execute(
                "INSERT OR IGNORE INTO temp.scan_sel(id)
                 SELECT DISTINCT q.child FROM temp.scan_prereq q
                 JOIN temp.scan_sel p ON p.id = q.parent
                 JOIN temp.scan_update u ON u.id = q.child AND u.detectoid
                 WHERE q.child NOT IN (SELECT id FROM temp.scan_sel)",
                [],
            )?;
            if children + detectoids == 0 {
                break;
            }
        }
        Ok(
            self.query_row("SELECT count(*) FROM temp.scan_sel", [], |r| {
                r.get::<_, i64>(0)
            })? as u64,
        )
    }

    /// Calls `f` for each update to compare with the store, in GUID order: the selected ones
    /// (`selected`), or those not selected that the store holds and has not removed.
    pub fn scan_candidates(
        &self,
        selected: bool,
        f: &mut dyn FnMut(ScanCandidate) -> Result<()>,
    ) -> Result<()> {
        let sql = if selected {
            "SELECT s.id, s.revision, s.expired, s.fingerprint, s.key, u.revision, u.state, u.fingerprint
             FROM temp.scan_sel x JOIN temp.scan_update s ON s.id = x.id
             LEFT JOIN updates u ON u.update_id = x.id ORDER BY x.id"
        } else {
            "SELECT s.id, s.revision, s.expired, s.fingerprint, s.key, u.revision, u.state, u.fingerprint
             FROM temp.scan_update s JOIN updates u ON u.update_id = s.id
             WHERE u.state != 'removed' AND s.id NOT IN (SELECT id FROM temp.scan_sel)
             ORDER BY s.id"
        };
        let mut st = self.prepare(sql)?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let stored = match r.get::<_, Option<u32>>(5)? {
                None => None,
                Some(revision) => Some(StoredHeader {
                    revision,
                    state: StoredState::from_column(text(r, 6)?)?,
                    fingerprint: r
                        .get::<_, Option<Vec<u8>>>(7)?
                        .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()),
                }),
            };
            f(ScanCandidate {
                id: r.get(0)?,
                revision: r.get(1)?,
                expired: r.get(2)?,
                fingerprint: fingerprint(blob(r, 3)?),
                key: r.get::<_, i64>(4)? as u64,
                stored,
            })?;
        }
        Ok(())
    }

    /// Plans to read the update with this key in full; `change` is the caller's code for
    /// what it is (new, updated, expired).
    pub fn scan_plan_fetch(&self, key: u64, id: &str, change: u8) -> Result<()> {
        self.prepare_cached("INSERT INTO temp.scan_fetch(key, id, change) VALUES (?1, ?2, ?3)")?
            .execute(params![key as i64, id, change])?;
        Ok(())
    }

    /// How many updates are planned to be read.
    pub fn scan_fetch_count(&self) -> Result<u64> {
        Ok(
            self.query_row("SELECT count(*) FROM temp.scan_fetch", [], |r| {
                r.get::<_, i64>(0)
            })? as u64,
        )
    }

    /// Up to `limit` planned keys after `after`, ascending.
    pub fn scan_fetch_keys(&self, after: Option<u64>, limit: usize) -> Result<Vec<u64>> {
        let mut st = self.prepare_cached(
            "SELECT key FROM temp.scan_fetch WHERE key > ?1 ORDER BY key LIMIT ?2",
        )?;
        let after = after.map_or(-1, |k| k as i64);
        let keys = st
            .query_map(params![after, limit as i64], |r| r.get::<_, i64>(0))?
            .map(|k| k.map(|k| k as u64))
            .collect::<rusqlite::Result<Vec<u64>>>()?;
        Ok(keys)
    }

    /// The plan for the update `id`: its change code and the upstream's fingerprint; `None`
    /// when it was not planned to be read.
    pub fn scan_planned(&self, id: &str) -> Result<Option<(u8, [u8; 32])>> {
        Ok(self
            .prepare_cached(
                "SELECT f.change, s.fingerprint FROM temp.scan_fetch f
                 JOIN temp.scan_update s ON s.id = f.id WHERE f.id = ?1",
            )?
            .query_row([id], |r| Ok((r.get::<_, u8>(0)?, fingerprint(blob(r, 1)?))))
            .optional()?)
    }

    /// Stored updates not removed, and how many of them the upstream does not list (updates
    /// imported from the catalog left out: absence never marks them).
    pub fn scan_absent_counts(&self) -> Result<(u64, u64)> {
        let (live, going): (i64, i64) = self.query_row(
            "SELECT count(*), coalesce(sum(update_id NOT IN (SELECT id FROM temp.scan_update)), 0)
             FROM updates WHERE state != 'removed'
               AND update_id NOT IN (SELECT update_id FROM catalog_imports)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((live as u64, going as u64))
    }

    /// Up to `limit` stored updates after `after` (in GUID order) that the upstream does not
    /// list, published ones and, with `expired`, expired ones; never one imported from the
    /// catalog (taken outside the criteria and perhaps from another source).
    pub fn scan_absent(&self, expired: bool, after: &str, limit: usize) -> Result<Vec<String>> {
        let mut st = self.prepare_cached(
            "SELECT update_id FROM updates
             WHERE (state = 'published' OR (?1 AND state = 'expired')) AND update_id > ?2
               AND update_id NOT IN (SELECT id FROM temp.scan_update)
               AND update_id NOT IN (SELECT update_id FROM catalog_imports)
             ORDER BY update_id LIMIT ?3",
        )?;
        let ids = st
            .query_map(params![expired, after, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }
}

fn fingerprint(b: &[u8]) -> [u8; 32] {
    <[u8; 32]>::try_from(b).unwrap_or([0; 32])
}

fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    Ok(r.get_ref(i)?.as_str()?)
}

fn blob<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r [u8]> {
    Ok(r.get_ref(i)?.as_blob()?)
}
