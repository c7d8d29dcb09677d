//! What `publish` reads: the updates to hand to the isolated network (not removed, not
//! declined, with at least one file), one at a time, with their categories, relations and
//! files, and where the store holds each file. Streamed: one update is in memory at a time.

use super::Store;
use crate::error::Result;
use crate::model::CategoryKind;
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

/// A category an update belongs to, as `publish` needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishCategory {
    pub id: String,
    pub kind: CategoryKind,
    pub title: String,
}

/// The stored copy of a referenced file: its SHA-256 (the content folder's key) and the
/// SHA-1 and size the store recorded when it took the file in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredContent {
    pub sha256: [u8; 32],
    pub sha1: [u8; 20],
    pub size: u64,
}

/// A file reference of a publishable update.
#[derive(Clone, Debug)]
pub struct PublishFile {
    pub name: String,
    pub size: Option<u64>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    /// The store's copy, when the content table records one.
    pub stored: Option<StoredContent>,
}

/// One publishable update.
#[derive(Clone, Debug)]
pub struct PublishUpdate {
    pub update_id: String,
    pub revision: u32,
    pub title: String,
    pub kb: Option<String>,
    pub severity: Option<String>,
    pub creation_date: Option<String>,
    /// `published` or `expired`.
    pub state: String,
    /// Superseded by an update still in the store.
    pub superseded: bool,
    /// Its own categories; for a bundled child without products or classifications of its
    /// own, those of the live (not removed, not declined) updates that bundle it.
    pub categories: Vec<PublishCategory>,
    /// Whether some update bundles this one (a child reaches the share through a parent).
    pub bundled: bool,
    pub files: Vec<PublishFile>,
}

impl Store {
    /// Calls `f` with every update that is not removed, not declined and has files, newest
    /// first (creation date, then UpdateID), each read only when its turn comes.
    pub fn for_each_publishable(
        &self,
        f: &mut dyn FnMut(PublishUpdate) -> Result<()>,
    ) -> Result<()> {
        let cats = self.category_map()?;
        let mut st = self.conn.prepare(
            "SELECT u.update_id, u.revision, u.title, u.kb, u.severity, u.creation_date, u.state,
                    EXISTS(SELECT 1 FROM supersedence s JOIN updates n ON n.update_id = s.update_id
                           WHERE s.supersedes = u.update_id AND n.state != 'removed'),
                    EXISTS(SELECT 1 FROM bundles b WHERE b.child = u.update_id)
             FROM updates u
             WHERE u.state != 'removed' AND u.declined = 0
               AND EXISTS(SELECT 1 FROM files f WHERE f.update_id = u.update_id)
             ORDER BY u.creation_date DESC, u.update_id",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let mut u = PublishUpdate {
                revision: r.get(1)?,
                title: r.get(2)?,
                kb: r.get(3)?,
                severity: r.get(4)?,
                creation_date: r.get(5)?,
                state: r.get(6)?,
                superseded: r.get(7)?,
                bundled: r.get(8)?,
                categories: Vec::new(),
                files: Vec::new(),
                update_id: id,
            };
            u.categories = self.publish_categories(&u.update_id, &cats)?;
            u.files = self.publish_files(&u.update_id)?;
            f(u)?;
        }
        Ok(())
    }

    /// Every category by id (a few hundred at most: held whole).
    fn category_map(&self) -> Result<HashMap<String, PublishCategory>> {
        let mut st = self
            .conn
            .prepare("SELECT id, kind, title FROM categories")?;
        let mut rows = st.query([])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            let (id, kind, title): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            if let Some(kind) = CategoryKind::parse(&kind) {
                out.insert(id.clone(), PublishCategory { id, kind, title });
            }
        }
        Ok(out)
    }

    fn publish_categories(
        &self,
        id: &str,
        cats: &HashMap<String, PublishCategory>,
    ) -> Result<Vec<PublishCategory>> {
        let resolve = |sql: &str| -> Result<Vec<PublishCategory>> {
            let mut st = self.conn.prepare_cached(sql)?;
            let ids = st.query_map([id], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for c in ids {
                if let Some(c) = cats.get(&c?)
                    && !out.contains(c)
                {
                    out.push(c.clone());
                }
            }
            Ok(out)
        };
        let own = resolve(
            "SELECT category_id FROM update_categories WHERE update_id = ?1 ORDER BY category_id",
        )?;
        let has = |v: &[PublishCategory], k: CategoryKind| v.iter().any(|c| c.kind == k);
        if has(&own, CategoryKind::Product) && has(&own, CategoryKind::Classification) {
            return Ok(own);
        }
        // A bundled child usually has no categories: it belongs where its parents do.
        let mut all = own;
        for c in resolve(
            "SELECT DISTINCT uc.category_id FROM bundles b
             JOIN updates p ON p.update_id = b.parent
             JOIN update_categories uc ON uc.update_id = b.parent
             WHERE b.child = ?1 AND p.state != 'removed' AND p.declined = 0
             ORDER BY uc.category_id",
        )? {
            if !all.contains(&c) {
                all.push(c);
            }
        }
        Ok(all)
    }

    fn publish_files(&self, id: &str) -> Result<Vec<PublishFile>> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, size, sha1, sha256 FROM files WHERE update_id = ?1 ORDER BY name, sha256, sha1",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(PublishFile {
                name: r.get(0)?,
                size: r.get::<_, Option<i64>>(1)?.map(|s| s as u64),
                sha1: r
                    .get::<_, Option<Vec<u8>>>(2)?
                    .and_then(|v| v.try_into().ok()),
                sha256: r
                    .get::<_, Option<Vec<u8>>>(3)?
                    .and_then(|v| v.try_into().ok()),
                stored: None,
            })
        })?;
        let mut out: Vec<PublishFile> = rows.collect::<rusqlite::Result<_>>()?;
        for f in &mut out {
            f.stored = self.stored_content(f.sha256.as_ref(), f.sha1.as_ref())?;
        }
        Ok(out)
    }

    /// The content row for a file known by its SHA-256, or else by its SHA-1.
    pub fn stored_content(
        &self,
        sha256: Option<&[u8; 32]>,
        sha1: Option<&[u8; 20]>,
    ) -> Result<Option<StoredContent>> {
        let (sql, key): (&str, &[u8]) = match (sha256, sha1) {
            (Some(h), _) => (
                "SELECT sha256, sha1, size FROM content WHERE sha256 = ?1",
                h.as_slice(),
            ),
            (None, Some(h)) => (
                "SELECT sha256, sha1, size FROM content WHERE sha1 = ?1 ORDER BY sha256 LIMIT 1",
                h.as_slice(),
            ),
            (None, None) => return Ok(None),
        };
        let mut st = self.conn.prepare_cached(sql)?;
        let row: Option<(Vec<u8>, Vec<u8>, i64)> = st
            .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        Ok(row.and_then(|(h256, h1, size)| {
            Some(StoredContent {
                sha256: h256.try_into().ok()?,
                sha1: h1.try_into().ok()?,
                size: size as u64,
            })
        }))
    }
}
