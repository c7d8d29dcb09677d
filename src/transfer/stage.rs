//! Staging an import's content: each new file copied from the volumes into the staging
//! folder, its SHA-1 computed on the way (the reader checks the SHA-256), ready to publish.

use crate::bundle::BundleReader;
use crate::error::{Error, Result};
use crate::hash::Digests;
use crate::model::hex_lower;
use crate::progress::Progress;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

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
