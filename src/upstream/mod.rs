//! Upstream sources: where a sync takes its metadata from. One reader per kind of source;
//! each turns its format into the shared model and knows nothing of the store's tables or of
//! the criteria.
//!
//! A sync is two passes so that a source can be large and still be read cheaply:
//! [`Upstream::scan`] streams every category in full and a small [`UpdateHeader`] per update
//! (enough to apply the criteria and to see what is unchanged); [`Upstream::fetch`] then
//! reads the full metadata of only the updates that the sync selected and that changed.
//! The offline catalog (wsusscn2.cab) fits the same shape: `package.xml` gives the headers,
//! the per-revision fragments give the rest.

pub mod folder;
pub mod parent;
pub mod upd_xml;
pub mod wsus_package;
pub mod wsusscn2;

use crate::error::Result;
/// Readers compare what they scan with what the store holds by this fingerprint.
pub use crate::model::fingerprint;
use crate::model::{Category, Guid, PublicationState, Update};
use crate::progress::Progress;
use std::path::{Path, PathBuf};

/// What a sync needs to know of an update before reading it in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateHeader {
    pub id: Guid,
    pub revision: u32,
    pub update_type: String,
    /// Members of the `IsCategory` prerequisite groups (products and classifications).
    pub categories: Vec<Guid>,
    /// Languages of the binaries (lowercase); empty or `all` = language neutral.
    pub languages: Vec<String>,
    /// Children this update bundles.
    pub bundled: Vec<Guid>,
    /// Parents that bundle this update, when the source records it on the child.
    pub bundled_by: Vec<Guid>,
    /// Plain prerequisites (detectoids, other updates), when the source's documents name
    /// them: a sync selects the detectoids among them along with the update.
    pub prerequisites: Vec<Guid>,
    pub publication_state: PublicationState,
    /// A digest of the source's description of this revision: equal fingerprints mean the
    /// stored copy is current and need not be fetched again.
    pub fingerprint: [u8; 32],
    /// The source's own locator for [`Upstream::fetch`].
    pub key: u64,
}

/// One item of a scan.
pub enum ScanItem {
    /// A category, with the upstream's own document of it when the source has one (a folder
    /// of documents, a WSUS package, a parent store that kept it): the store keeps that
    /// document byte for byte, to publish it.
    Category(Category, Option<Vec<u8>>),
    Update(UpdateHeader),
}

/// An update read in full by [`Upstream::fetch`], with the upstream's own document of it when
/// the source has one (as for categories in [`ScanItem::Category`]).
pub struct Fetched {
    pub update: Update,
    pub document: Option<Vec<u8>>,
}

/// Facts about the source that the sync records with its run.
#[derive(Clone, Debug, Default)]
pub struct ScanSummary {
    /// Identity of this snapshot of the source, when it has one (a catalog's PackageId).
    pub package_id: Option<String>,
    /// When the source snapshot was made, when known.
    pub created: Option<String>,
    /// Non-fatal findings to show the operator and write to the log.
    pub warnings: Vec<String>,
    /// Whether the source lists everything it has (so absence means something).
    pub complete: bool,
    /// What absence from a complete source means: the offline catalog drops expired updates
    /// rather than flagging them, so there absence means expired; elsewhere it means removed.
    pub absent_means_expired: bool,
}

/// A content file a source holds (a parent store's content folder).
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The SHA-256 the source records for it: what is read must hash to this.
    pub sha256: [u8; 32],
    pub size: u64,
}

/// A source of update metadata.
pub trait Upstream {
    /// A one-line description for logs and the sync history (`folder /path/to/docs`).
    fn describe(&self) -> String;

    /// Streams every category and one header per update revision, in any order.
    fn scan(
        &mut self,
        sink: &mut dyn FnMut(ScanItem) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<ScanSummary>;

    /// Where the item with this key comes from (a file name, a row), for error messages.
    fn locate(&self, key: u64) -> String;

    /// Reads the full metadata of the updates whose keys (from the scan) are given.
    fn fetch(
        &mut self,
        keys: &[u64],
        sink: &mut dyn FnMut(Fetched) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<()>;

    /// The file of Microsoft's offline catalog, when this source is one: the store keeps it
    /// after a sync, for clients that scan offline against it.
    fn catalog_file(&self) -> Option<&Path> {
        None
    }

    /// The parent store this source is, when it is one (a child leaves its receipt there).
    fn parent_info(&self) -> Option<parent::ParentInfo> {
        None
    }

    /// The source's local decisions (UpdateID, declined): a parent store's declines and
    /// undeclines. Sources that make no decisions have none.
    fn decisions(&mut self) -> Result<Vec<(String, bool)>> {
        Ok(Vec::new())
    }

    /// The content file the source holds with this SHA-256 (or, for a reference without one,
    /// this SHA-1), if any. Sources without content hold none.
    fn content_file(
        &self,
        _sha256: Option<&[u8; 32]>,
        _sha1: Option<&[u8; 20]>,
    ) -> Result<Option<SourceFile>> {
        Ok(None)
    }
}

/// Opens the source named by `spec`: a cabinet (a file whose name ends in `.cab`, or that
/// starts with `MSCF`), which is a WSUS export package when it holds `package.xml` and
/// `metadata.txt` and Microsoft's offline scan catalog otherwise; an offsync store folder
/// (it has `offsync.db`); or a folder of `upd:Update` documents. A gzip file (the `.xml.gz`
/// form of a WSUS export) is refused.
pub fn open(spec: &Path) -> Result<Box<dyn Upstream>> {
    let is_cab_name = spec
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("cab"));
    if is_cab_name || spec.is_file() {
        match wsus_package::judge(spec)? {
            wsus_package::FileKind::Package => {
                return Ok(Box::new(wsus_package::WsusPackageSource::open(spec)?));
            }
            wsus_package::FileKind::Catalog => {
                return Ok(Box::new(wsusscn2::Wsusscn2Source::open(spec)?));
            }
            wsus_package::FileKind::NotCabinet => {}
        }
    }
    if crate::store::Store::is_store(spec) {
        return Ok(Box::new(parent::ParentStore::open(spec)?));
    }
    Ok(Box::new(folder::FolderSource::open(spec)?))
}
