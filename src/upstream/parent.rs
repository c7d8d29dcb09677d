//! Another offsync store as upstream: a child update point in a hierarchy syncing from its
//! parent. The parent is opened read-only and read through its `Store` methods; the child's
//! own criteria decide what it takes.

use super::folder::header;
use super::upd_xml::parse_with_prerequisites;
use super::{Fetched, ScanItem, ScanSummary, SourceFile, UpdateHeader, Upstream};
use crate::error::{Error, Result};
use crate::model::{Guid, PublicationState, Update};
use crate::progress::{Progress, Unit};
use crate::store::{Store, StoredState};
use std::path::{Path, PathBuf};

pub struct ParentStore {
    path: PathBuf,
    store: Store,
    /// The parent's change sequence when it was opened, before the scan.
    change_seq: u64,
}

/// The parent as a sync from it began: where it is, who it is, and its change sequence then
/// (the child holds at least that much of it after the sync: what its receipt acknowledges).
#[derive(Clone, Debug)]
pub struct ParentInfo {
    pub path: PathBuf,
    pub store_id: String,
    pub store_name: String,
    pub change_seq: u64,
}

impl ParentStore {
    pub fn open(path: &Path) -> Result<ParentStore> {
        let store = Store::open_readonly(path)
            .map_err(|e| e.context(format!("parent store {}", path.display())))?;
        let change_seq = store.change_seq()?;
        Ok(ParentStore {
            path: path.to_path_buf(),
            store,
            change_seq,
        })
    }

    /// The plain prerequisites named by the document the parent keeps of this revision (none
    /// without one): what lets the child select the detectoids its updates need, as a sync
    /// from the documents themselves does.
    fn prerequisites(&self, u: &Update) -> Result<Vec<Guid>> {
        let Some(doc) = self.store.document(u.id.as_str(), u.revision)? else {
            return Ok(Vec::new());
        };
        parse_with_prerequisites(&doc)
            .map(|(_, pre)| pre)
            .map_err(|e| {
                Error::other(format!(
                    "the document of update {} revision {}: {}",
                    u.id, u.revision, e.message
                ))
                .context(format!("parent store {}", self.path.display()))
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
    fn parent_info(&self) -> Option<ParentInfo> {
        Some(ParentInfo {
            path: self.path.clone(),
            store_id: self.store.id().to_string(),
            store_name: self.store.name().to_string(),
            change_seq: self.change_seq,
        })
    }

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
        // A malformed category is the parent's damage, not this store's.
        let categories = self.store.all_categories().map_err(|e| {
            Error::other(e.message).context(format!("parent store {}", self.path.display()))
        })?;
        for c in categories {
            let document = self.store.document(c.id.as_str(), c.revision)?;
            sink(ScanItem::Category(c, document))?;
        }
        let total = self.store.present_update_count()?;
        let detectoids = self.store.holds_detectoids()?;
        progress.start("reading the parent store", Some(total), Unit::Items);
        self.store.for_each_present_update(&mut |key, u, state| {
            let u = Self::with_state(u, state);
            let prerequisites = if detectoids {
                self.prerequisites(&u)?
            } else {
                Vec::new()
            };
            sink(ScanItem::Update(UpdateHeader {
                prerequisites,
                ..header(&u, super::fingerprint(&u)?, key)
            }))?;
            progress.advance(1);
            Ok(())
        })?;
        progress.finish();
        Ok(ScanSummary {
            complete: true,
            ..Default::default()
        })
    }

    fn fetch(
        &mut self,
        keys: &[u64],
        sink: &mut dyn FnMut(Fetched) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<()> {
        progress.start(
            "reading selected updates",
            Some(keys.len() as u64),
            Unit::Items,
        );
        for &k in keys {
            let (u, state) = self.store.update_by_key(k)?;
            let document = self.store.document(u.id.as_str(), u.revision)?;
            sink(Fetched {
                update: Self::with_state(u, state),
                document,
            })?;
            progress.advance(1);
        }
        progress.finish();
        Ok(())
    }

    fn decisions(&mut self) -> Result<Vec<(String, bool)>> {
        Ok(self
            .store
            .decisions_changed_since(0)?
            .into_iter()
            .map(|d| (d.update_id, d.declined))
            .collect())
    }

    fn content_file(
        &self,
        sha256: Option<&[u8; 32]>,
        sha1: Option<&[u8; 20]>,
    ) -> Result<Option<SourceFile>> {
        let sha256 = match (sha256, sha1) {
            (Some(h), _) => Some(*h),
            (None, Some(h1)) => self.store.content_by_sha1(h1)?,
            (None, None) => None,
        };
        let Some(h) = sha256 else { return Ok(None) };
        Ok(self.store.content_entry(&h)?.map(|(size, _)| SourceFile {
            path: self.store.content_path(&h),
            sha256: h,
            size,
        }))
    }
}
