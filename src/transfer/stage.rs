//! Staging an import's content: each new file copied from the volumes into the staging
//! folder, its SHA-1 computed on the way (the reader checks the SHA-256), ready to publish.

use crate::bundle::BundleReader;
use crate::error::{Error, Result};
use crate::hash::Digests;
use crate::model::hex_lower;
use crate::progress::Progress;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub(super) fn staged_name(h: &[u8; 32]) -> String {
    format!("import-{}.partial", hex_lower(h))
}

/// Stages every file, `threads` at a time when there are several (hashing is the cost):
/// each worker takes the next file from a shared counter. The
/// result keeps the order of `files`, so what is published and recorded does not depend on
/// which worker finished first. The first error stops the rest.
pub(super) fn stage_all(
    reader: &BundleReader,
    staging: &Path,
    files: &[([u8; 32], u64)],
    threads: usize,
    progress: &dyn Progress,
) -> Result<Vec<Digests>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let workers = threads.max(1);
    if workers == 1 || files.len() < 2 {
        // No thread at all: one file, or one worker asked for.
        let mut out = Vec::with_capacity(files.len());
        for (h, _) in files {
            match stage_one(reader, staging, h, progress) {
                Ok(d) => out.push(d),
                Err(e) => {
                    for d in &out {
                        let _ = fs::remove_file(staging.join(staged_name(&d.sha256)));
                    }
                    return Err(e);
                }
            }
        }
        return Ok(out);
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<Digests>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(files.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= files.len() || failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let r = stage_one(reader, staging, &files[i].0, progress);
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    results.lock().expect("staging results")[i] = Some(r);
                }
            });
        }
    });
    let results = results.into_inner().expect("staging results");
    let mut out = Vec::with_capacity(files.len());
    let mut first_err = None;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Some(Ok(d)) => out.push(d),
            Some(Err(e)) => {
                first_err.get_or_insert(e);
            }
            None => {}
        }
        if first_err.is_some() {
            // Staged copies of the others are removed; nothing was published yet.
            let _ = fs::remove_file(staging.join(staged_name(&files[i].0)));
        }
    }
    match first_err {
        Some(e) => {
            for d in &out {
                let _ = fs::remove_file(staging.join(staged_name(&d.sha256)));
            }
            Err(e)
        }
        None => Ok(out),
    }
}

/// Copies one content file from the volumes into staging, hashing on the way.
fn stage_one(
    reader: &BundleReader,
    staging: &Path,
    h: &[u8; 32],
    progress: &dyn Progress,
) -> Result<Digests> {
    let path = staging.join(staged_name(h));
    let res = (|| -> Result<Digests> {
        let f = crate::fsutil::open_no_follow(
            &path,
            File::options().write(true).create(true).truncate(true),
        )
        .map_err(|e| Error::io(&path, "create", e))?;
        let mut w = Sha1Writer::new(BufWriter::new(f), progress);
        // The reader checks every piece's and the whole file's SHA-256 as it copies, and
        // fails before the end on any difference; only the SHA-1 (which the store records and
        // the manifest does not carry) is computed here.
        let size = reader.copy_content(h, &mut w)?;
        let (inner, sha1) = w.finish();
        let f = inner
            .into_inner()
            .map_err(|e| Error::io(&path, "write", e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&path, "write", e))?;
        Ok(Digests {
            size,
            sha1,
            sha256: *h,
        })
    })();
    if res.is_err() {
        let _ = fs::remove_file(&path);
    }
    if res.is_err() && progress.cancelled() {
        // The copy failed because it was asked to stop, not because of the media.
        return Err(interrupted());
    }
    res
}

/// The error of an import stopped while staging: every staged copy is removed by the caller.
pub(super) fn interrupted() -> Error {
    Error::interrupted(
        "the import",
        "its staged files were removed and the store is unchanged",
    )
}

/// A writer that computes the SHA-1 of what passes through and reports progress.
struct Sha1Writer<'a, W: Write> {
    inner: W,
    sha1: sha1::Sha1,
    progress: &'a dyn Progress,
}

impl<'a, W: Write> Sha1Writer<'a, W> {
    fn new(inner: W, progress: &'a dyn Progress) -> Self {
        use sha1::Digest;
        Sha1Writer {
            inner,
            sha1: sha1::Sha1::new(),
            progress,
        }
    }
    fn finish(self) -> (W, [u8; 20]) {
        use sha1::Digest;
        (self.inner, self.sha1.finalize().into())
    }
}

impl<W: Write> Write for Sha1Writer<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha1::Digest;
        if self.progress.cancelled() {
            return Err(std::io::Error::other("stopped by a signal"));
        }
        let n = self.inner.write(buf)?;
        self.sha1.update(&buf[..n]);
        self.progress.advance(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What the single pass of an import does with the bundle's bytes: copies each content file
/// the store does not hold yet into staging (pieces appended in order), computing the SHA-1
/// the store records (the pass checks every SHA-256), and spills the metadata records.
/// Nothing it staged counts until the whole bundle passed; [`PassStager::discard`] removes it.
pub(super) struct PassStager<'a> {
    staging: PathBuf,
    /// Whether the store lacks a content file (asked at its first byte).
    wants: Wants<'a>,
    pub records: super::spill::Spill,
    open: HashMap<[u8; 32], Open>,
    current: Option<[u8; 32]>,
    /// Files staged whole, in the order they were completed.
    pub done: Vec<Digests>,
    /// The SHA-256 of each file in `done` (a bundle of many small files asks once per file).
    done_set: HashSet<[u8; 32]>,
    /// The first error writing to staging: reported where staging is reported today, after
    /// the bundle's own checks.
    pub error: Option<Error>,
}

/// Whether the store lacks a content file, by its SHA-256.
pub(super) type Wants<'a> = Box<dyn FnMut(&[u8; 32]) -> bool + 'a>;

/// A content file being staged.
struct Open {
    w: Option<BufWriter<File>>,
    sha1: sha1::Sha1,
    next: u64,
    size: u64,
}

impl<'a> PassStager<'a> {
    pub fn new(staging: PathBuf, wants: Wants<'a>) -> Self {
        PassStager {
            records: super::spill::Spill::new(staging.clone()),
            staging,
            wants,
            open: HashMap::new(),
            current: None,
            done: Vec::new(),
            done_set: HashSet::new(),
            error: None,
        }
    }

    fn path(&self, h: &[u8; 32]) -> PathBuf {
        self.staging.join(staged_name(h))
    }

    fn fail(&mut self, e: Error) {
        self.error.get_or_insert(e);
        if let Some(h) = self.current.take() {
            self.open.remove(&h);
            let _ = fs::remove_file(self.path(&h));
        }
    }

    /// Removes every file staged or begun.
    pub fn discard(&mut self) {
        let names: Vec<[u8; 32]> = self
            .open
            .keys()
            .copied()
            .chain(self.done.iter().map(|d| d.sha256))
            .collect();
        self.open.clear();
        self.done.clear();
        self.done_set.clear();
        for h in names {
            let _ = fs::remove_file(self.path(&h));
        }
    }

    /// Removes the files begun and not finished (only a damaged bundle leaves any).
    pub fn close_unfinished(&mut self) {
        let names: Vec<[u8; 32]> = self.open.keys().copied().collect();
        self.open.clear();
        for h in names {
            let _ = fs::remove_file(self.path(&h));
        }
    }

    /// The file `h` is whole: written out and synced, then listed as done.
    fn complete(&mut self, h: [u8; 32]) {
        use sha1::Digest;
        let Some(o) = self.open.remove(&h) else {
            return;
        };
        let path = self.path(&h);
        let synced =
            o.w.expect("an open staged file")
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all());
        match synced {
            Ok(()) => {
                self.done_set.insert(h);
                self.done.push(Digests {
                    size: o.size,
                    sha1: o.sha1.finalize().into(),
                    sha256: h,
                });
            }
            Err(e) => {
                let _ = fs::remove_file(&path);
                self.error.get_or_insert(Error::io(&path, "write", e));
            }
        }
    }
}

impl crate::bundle::PassTarget for PassStager<'_> {
    fn records(&mut self) -> &mut dyn crate::bundle::RecordSink {
        &mut self.records
    }

    fn begin_content(&mut self, file: &[u8; 32], offset: u64, size: u64) -> bool {
        use sha1::Digest;
        self.current = None;
        if self.error.is_some() {
            return false;
        }
        if offset > 0 {
            // A later piece: wanted only when it continues what was staged.
            let fits = self.open.get(file).is_some_and(|o| o.next == offset);
            if fits {
                self.current = Some(*file);
            }
            return fits;
        }
        if self.done_set.contains(file) || !(self.wants)(file) {
            return false;
        }
        let path = self.path(file);
        let created = fs::create_dir_all(&self.staging)
            .and_then(|_| {
                crate::fsutil::open_no_follow(
                    &path,
                    File::options().write(true).create(true).truncate(true),
                )
            })
            .map_err(|e| Error::io(&path, "create", e));
        match created {
            Ok(f) => {
                self.open.insert(
                    *file,
                    Open {
                        w: Some(BufWriter::with_capacity(1 << 20, f)),
                        sha1: sha1::Sha1::new(),
                        next: 0,
                        size,
                    },
                );
                self.current = Some(*file);
                true
            }
            Err(e) => {
                self.error.get_or_insert(e);
                false
            }
        }
    }

    fn content_bytes(&mut self, buf: &[u8]) {
        use sha1::Digest;
        let Some(h) = self.current else { return };
        let o = self.open.get_mut(&h).expect("the file being staged");
        o.sha1.update(buf);
        o.next += buf.len() as u64;
        if let Err(e) = o.w.as_mut().expect("an open staged file").write_all(buf) {
            let path = self.path(&h);
            self.fail(Error::io(&path, "write", e));
        }
    }

    fn end_content(&mut self, ok: bool) {
        let Some(h) = self.current.take() else { return };
        if !ok {
            // A damaged entry: the bundle is refused; the copy goes now.
            self.open.remove(&h);
            let _ = fs::remove_file(self.path(&h));
            return;
        }
        if self.open.get(&h).is_some_and(|o| o.next == o.size) {
            self.complete(h);
        }
    }
}
