//! The offline catalog over HTTP (`upstream set URL`, `sync --from URL`): downloaded into the
//! store's staging folder (resumable, as payloads are), asked for only when it changed
//! (`If-None-Match`/`If-Modified-Since` from the last download's `ETag`/`Last-Modified`, kept
//! in the store's settings), checked to open as a catalog, and then handed to the sync as a
//! local file. A 304 hands over the catalog the store kept from the last sync. Nothing in the
//! store changes until the sync itself runs: an incomplete download or a file that is not a
//! catalog leaves the store as it was.

use super::DOWNLOADS_DIR;
use super::Net;
use super::download::{Ask, Expect, Got, Validators, fetch_file};
use super::retry::Failure;
use crate::error::{Error, ErrorKind, Result};
use crate::model::hex_lower;
use crate::ops::sync::sync_from;
use crate::progress::{Progress, Unit};
use crate::store::Store;
use crate::sync::{SyncOptions, SyncReport};
use crate::time::Timestamp;
use std::fs;
use std::path::{Path, PathBuf};

/// Settings: the URL of the last catalog downloaded and its validators.
const URL_SETTING: &str = "catalog_http_url";
const ETAG_SETTING: &str = "catalog_http_etag";
const MODIFIED_SETTING: &str = "catalog_http_last_modified";
/// The SHA-256 (hex) of the catalog those validators describe: they stand for the kept
/// catalog only while it is that file (a `sync --from local.cab` replaces it).
const SHA256_SETTING: &str = "catalog_http_sha256";

/// The partial download, the finished one, and the sidecar that ties the partial to one URL
/// and one version of it (so that a restart resumes only the same file).
const PART: &str = "catalog.part";
const SIDECAR: &str = "catalog.part.json";
const DONE: &str = "wsusscn2.cab";

/// A catalog ready to sync from.
#[derive(Debug)]
pub struct PreparedCatalog {
    pub url: String,
    path: PathBuf,
    /// Downloaded by this run (else: unchanged, the store's kept copy).
    pub downloaded: bool,
    validators: Validators,
    /// SHA-256 (hex) of the downloaded file.
    sha256: String,
    /// The partial and the finished download are this run's until it ends.
    _lock: super::DownloadLock,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sidecar {
    url: String,
    validators: Validators,
}

impl PreparedCatalog {
    /// The local file to sync from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// After a successful sync (which kept the catalog in the content folder): remembers the
    /// version for the next conditional request and removes the download.
    pub fn finish(self, store: &mut Store) -> Result<()> {
        if self.downloaded {
            // Only when the sync kept this very file: validators for another catalog would
            // make the next sync accept a 304 for a catalog it does not have.
            let kept = store
                .catalog()?
                .is_some_and(|(h, _)| hex_lower(&h) == self.sha256);
            let v = &self.validators;
            let (url, etag, modified, sha) = match kept {
                true => (
                    self.url.as_str(),
                    v.etag.as_deref().unwrap_or(""),
                    v.last_modified.as_deref().unwrap_or(""),
                    self.sha256.as_str(),
                ),
                false => ("", "", "", ""),
            };
            store.set_setting(URL_SETTING, url)?;
            store.set_setting(ETAG_SETTING, etag)?;
            store.set_setting(MODIFIED_SETTING, modified)?;
            store.set_setting(SHA256_SETTING, sha)?;
            let _ = fs::remove_file(&self.path);
        }
        Ok(())
    }

    /// After a failed sync: the downloaded file is removed (the next sync asks again).
    pub fn discard(self) {
        if self.downloaded {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// What became of a catalog given by URL.
#[derive(Clone, Debug)]
pub struct CatalogFetch {
    pub url: String,
    /// False: the server said the kept copy is current (304), and the sync read that.
    pub downloaded: bool,
}

/// [`crate::ops::sync::sync_from`] for an upstream (`from`, else the store's) that may be an
/// HTTP(S) address: the catalog is downloaded (or found unchanged) first and the sync reads
/// the local file; the download is remembered only when the sync succeeded.
pub fn sync_from_source(
    store: &mut Store,
    from: Option<&Path>,
    opts: &SyncOptions,
    clock: &dyn Fn() -> Timestamp,
    net: &Net,
    progress: &dyn Progress,
) -> Result<(SyncReport, Option<CatalogFetch>)> {
    let started = clock();
    let prepared = prepare(store, from, net, progress).inspect_err(|e| {
        // A catalog that cannot be downloaded is a failed sync (status, log --run).
        let source = match from {
            Some(f) => Some(f.to_string_lossy().into_owned()),
            None => store.setting("upstream").ok().flatten(),
        };
        if let Some(source) = source {
            crate::sync::record_failed_sync(store, &source, started, clock(), e);
        }
    })?;
    let Some(c) = prepared else {
        return Ok((sync_from(store, from, opts, clock, progress)?, None));
    };
    match sync_from(store, Some(c.path()), opts, clock, progress) {
        Ok(r) => {
            let info = CatalogFetch {
                url: c.url.clone(),
                downloaded: c.downloaded,
            };
            c.finish(store)?;
            Ok((r, Some(info)))
        }
        Err(e) => {
            c.discard();
            Err(e)
        }
    }
}

/// When the upstream (`from`, else the store's setting) is an HTTP(S) address: downloads the
/// catalog unless the server says the kept one is current, and returns the local file to sync
/// from. `None` when the upstream is a local path.
pub fn prepare(
    store: &Store,
    from: Option<&Path>,
    net: &Net,
    progress: &dyn Progress,
) -> Result<Option<PreparedCatalog>> {
    let spec = match from {
        Some(f) => f.to_string_lossy().into_owned(),
        None => match store.setting("upstream")? {
            Some(s) => s,
            None => return Ok(None),
        },
    };
    if !super::is_url(&spec) {
        return Ok(None);
    }
    let url = spec.trim().to_string();
    let lock = super::lock_downloads(store)?;
    let dir = store.staging_dir().join(DOWNLOADS_DIR);
    let (kept, unless) = conditional(store, &url)?;
    let part = dir.join(PART);
    let sidecar_path = dir.join(SIDECAR);
    let sidecar: Option<Sidecar> = fs::read(&sidecar_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if sidecar.is_none_or(|s| s.url != url) {
        // A partial of another URL (or of unknown origin) cannot be resumed.
        let _ = fs::remove_file(&part);
    }
    // Read at each try: a try that started the file afresh wrote the new version's.
    let resume_of = || {
        fs::read(&sidecar_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok())
            .map(|s| s.validators)
    };
    let on_fresh = |v: &Validators| {
        let s = Sidecar {
            url: url.clone(),
            validators: v.clone(),
        };
        if let Ok(b) = serde_json::to_vec(&s) {
            let _ = crate::fsutil::atomic_write(&sidecar_path, &b);
        }
    };
    let ask = Ask {
        unless: unless.as_ref(),
        resume_of: Some(&resume_of),
        on_fresh: Some(&on_fresh),
    };
    progress.start("downloading the offline catalog", None, Unit::Bytes);
    let got = fetch_file(
        net,
        &net.address(&url),
        &part,
        &Expect::default(),
        &ask,
        progress,
    );
    progress.finish();
    match got {
        Ok(Got::NotModified) => {
            // What a partial holds is of a version the server no longer offers.
            let _ = fs::remove_file(&part);
            let _ = fs::remove_file(&sidecar_path);
            Ok(kept.map(|path| PreparedCatalog {
                url,
                path,
                downloaded: false,
                validators: Validators::default(),
                sha256: String::new(),
                _lock: lock,
            }))
        }
        Ok(Got::Body(v, d)) => {
            let _ = fs::remove_file(&sidecar_path);
            let done = dir.join(DONE);
            checked(&url, &part, &done)?;
            Ok(Some(PreparedCatalog {
                url,
                path: done,
                downloaded: true,
                validators: v,
                sha256: hex_lower(&d.sha256),
                _lock: lock,
            }))
        }
        Err(f) => Err(download_error(&url, f)),
    }
}

/// The error a failed catalog download ends the sync with.
fn download_error(url: &str, f: Failure) -> Error {
    match f {
        Failure::Local(why) => Failure::local_error(&why),
        Failure::Cancelled => Error::interrupted(
            "the catalog download",
            "what arrived is kept and resumed by the next sync",
        ),
        f => Error::new(
            ErrorKind::Other,
            format!(
                "cannot download the offline catalog from {url}: {}",
                f.reason()
            ),
        )
        .with_hint("the store is unchanged; what arrived is kept and the next sync resumes it"),
    }
}

/// The kept catalog that can stand for the server's, and the validators to ask "only if
/// changed" with: only when the store keeps the catalog from this URL and it is still the
/// file downloaded from it.
fn conditional(store: &Store, url: &str) -> Result<(Option<PathBuf>, Option<Validators>)> {
    let same = |key: &str, want: &str| store.setting(key).ok().flatten().as_deref() == Some(want);
    let kept = kept_catalog(store)?
        .filter(|(_, h)| same(URL_SETTING, url) && same(SHA256_SETTING, h))
        .map(|(p, _)| p);
    let unless = match &kept {
        Some(_) => Some(Validators {
            etag: store.setting(ETAG_SETTING)?.filter(|s| !s.is_empty()),
            last_modified: store.setting(MODIFIED_SETTING)?.filter(|s| !s.is_empty()),
        }),
        None => None,
    }
    .filter(|v| v.etag.is_some() || v.last_modified.is_some());
    Ok((kept, unless))
}

/// The finished download, moved beside the partial and checked to open as a catalog before
/// anything is synced: a page of HTML or a cut file changes nothing.
fn checked(url: &str, part: &Path, done: &Path) -> Result<()> {
    fs::rename(part, done).map_err(|e| Error::io(done, "rename", e))?;
    if let Err(e) = crate::upstream::open(done) {
        let _ = fs::remove_file(done);
        return Err(Error::new(
            e.kind,
            format!("{url} did not give an offline catalog: {}", e.message),
        )
        .with_hint("the store is unchanged; check the address (or the --mirror)"));
    }
    Ok(())
}

/// The store's kept catalog file and its SHA-256 (hex), when it is in place.
fn kept_catalog(store: &Store) -> Result<Option<(PathBuf, String)>> {
    Ok(store.catalog()?.and_then(|(h, size)| {
        let p = store.content_path(&h);
        fs::symlink_metadata(&p)
            .is_ok_and(|m| m.is_file() && m.len() == size)
            .then_some((p, hex_lower(&h)))
    }))
}
