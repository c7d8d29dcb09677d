//! Another offsync store as upstream: a child update point in a hierarchy syncing from its
//! parent. The parent is opened read-only; the child's own criteria decide what it takes.

use super::folder::header;
use super::{ScanItem, ScanSummary, Upstream};
use crate::error::{Error, Result};
use crate::model::{Category, CategoryKind, Guid, PublicationState, Update};
use crate::progress::{Progress, Unit};
use crate::store::{Store, StoredState};
use std::path::{Path, PathBuf};

pub struct ParentStore {
    path: PathBuf,
    store: Store,
}

impl ParentStore {
    pub fn open(path: &Path) -> Result<ParentStore> {
        let store = Store::open_readonly(path)
            .map_err(|e| e.context(format!("parent store {}", path.display())))?;
        Ok(ParentStore {
            path: path.to_path_buf(),
            store,
        })
    }

    fn with_state(mut u: Update, state: StoredState) -> Update {
        if state == StoredState::Expired {
            u.publication_state = PublicationState::Expired;
        }
        u
    }
}

impl Upstream for ParentStore {
    fn describe(&self) -> String {
        format!("store {} ({})", self.store.name(), self.path.display())
    }

    fn locate(&self, key: u64) -> String {
        format!("{} row {key}", self.describe())
    }

    fn scan(
        &mut self,
        sink: &mut dyn FnMut(ScanItem) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<ScanSummary> {
        for row in self.store.categories(None)? {
            let bad = || {
                Error::other(format!(
                    "parent store {}: category {} is malformed",
                    self.path.display(),
                    row.id
                ))
            };
            sink(ScanItem::Category(Category {
                id: Guid::parse(&row.id).ok_or_else(bad)?,
                revision: row.revision,
                kind: CategoryKind::parse(&row.kind).ok_or_else(bad)?,
                title: row.title.clone(),
                parent: row.parent.as_deref().and_then(Guid::parse),
            }))?;
        }
        let conn = self.store.conn();
        let total: i64 = conn.query_row(
            "SELECT COUNT(*) FROM updates WHERE state != 'removed'",
            [],
            |r| r.get(0),
        )?;
        progress.start("reading the parent store", Some(total as u64), Unit::Items);
        let mut st = conn.prepare(
            "SELECT rowid, doc, state FROM updates WHERE state != 'removed' ORDER BY rowid",
        )?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let key: i64 = r.get(0)?;
            let doc: Vec<u8> = r.get(1)?;
            let state: String = r.get(2)?;
            let state = StoredState::parse(&state).unwrap_or(StoredState::Published);
            let u = Self::with_state(crate::store::decode_update_doc(&doc)?, state);
            sink(ScanItem::Update(header(
                &u,
                super::fingerprint(&u)?,
                key as u64,
            )))?;
            progress.advance(1);
        }
        progress.finish();
        Ok(ScanSummary {
            complete: true,
            ..Default::default()
        })
    }

    fn fetch(
        &mut self,
        keys: &[u64],
        sink: &mut dyn FnMut(Update) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<()> {
        progress.start(
            "reading selected updates",
            Some(keys.len() as u64),
            Unit::Items,
        );
        let conn = self.store.conn();
        let mut st = conn.prepare_cached("SELECT doc, state FROM updates WHERE rowid = ?1")?;
        for &k in keys {
            let (doc, state): (Vec<u8>, String) =
                st.query_row([k as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let state = StoredState::parse(&state).unwrap_or(StoredState::Published);
            sink(Self::with_state(
                crate::store::decode_update_doc(&doc)?,
                state,
            ))?;
            progress.advance(1);
        }
        progress.finish();
        Ok(())
    }
}
