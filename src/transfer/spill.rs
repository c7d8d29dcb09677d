//! The metadata records of a bundle being imported, kept from the pass over the media until
//! the merge without holding them: update records (the bulk: a million revisions encode to
//! about a gigabyte) go to an anonymous file in the store's staging folder as the pass checks
//! them, and are read back twice once every check of the bundle has passed, by the plan and
//! by the merge. Categories and decisions are few and stay in memory. An update's document
//! (the upstream's XML) is spilled with it: the record is written once its document, or the
//! next record, has come.
//!
//! Nothing may be merged or logged before the whole bundle passed (a record late in the
//! stream or a content file late in the last volume can still refuse it), and the store's log
//! is written at once, so the merge cannot run during the pass.

use crate::bundle::{Decision, DocumentRecord, RecordSink, UpdateRecord};
use crate::error::{Error, Result};
use crate::model::Category;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Largest spilled record: the bundle format's own record limit.
const MAX_SPILLED: usize = crate::bundle::stream::MAX_RECORD_BYTES as usize;

/// The sink of an import's pass. A failure to write the spill file is kept, not returned:
/// the bundle's own checks run to their end and are reported first, as with staging.
pub(super) struct Spill {
    dir: PathBuf,
    categories: Vec<Category>,
    /// Documents of the categories (few: kept in memory).
    category_documents: Vec<DocumentRecord>,
    decisions: Vec<Decision>,
    /// The last update record, not written until its document (or the next record) comes.
    pending: Option<UpdateRecord>,
    file: Option<BufWriter<File>>,
    updates: u64,
    error: Option<Error>,
    /// One record's encoding, reused.
    buf: Vec<u8>,
}

/// The records of a bundle that passed: [`Spilled::for_each_update`] reads the updates back.
pub(super) struct Spilled {
    pub categories: Vec<Category>,
    pub category_documents: Vec<DocumentRecord>,
    pub decisions: Vec<Decision>,
    file: Option<File>,
    dir: PathBuf,
    /// Update records (tombstones included).
    pub updates: u64,
}

impl Spill {
    pub fn new(dir: PathBuf) -> Spill {
        Spill {
            dir,
            categories: Vec::new(),
            category_documents: Vec::new(),
            decisions: Vec::new(),
            pending: None,
            file: None,
            updates: 0,
            error: None,
            buf: Vec::new(),
        }
    }

    /// Writes the pending update record, with its document when it has one.
    fn flush(&mut self, document: Option<Vec<u8>>) {
        let Some(r) = self.pending.take() else { return };
        if self.error.is_none()
            && let Err(e) = self.write_update(&(r, document))
        {
            self.error = Some(e);
        }
    }

    fn write_update(&mut self, r: &(UpdateRecord, Option<Vec<u8>>)) -> Result<()> {
        if self.file.is_none() {
            std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, "create", e))?;
            let f = tempfile::tempfile_in(&self.dir)
                .map_err(|e| Error::io(&self.dir, "create a file in", e))?;
            self.file = Some(BufWriter::with_capacity(1 << 20, f));
        }
        self.buf.clear();
        bincode::encode_into_std_write(r, &mut self.buf, bincode::config::standard())
            .map_err(|e| Error::other(format!("cannot encode a metadata record: {e}")))?;
        let w = self.file.as_mut().expect("created above");
        w.write_all(&(self.buf.len() as u32).to_le_bytes())
            .and_then(|()| w.write_all(&self.buf))
            .map_err(|e| Error::io(&self.dir, "write a temporary file in", e))?;
        self.updates += 1;
        Ok(())
    }

    /// The records, once the pass is over; the first error writing them, if any.
    pub fn finish(mut self) -> Result<Spilled> {
        self.flush(None);
        if let Some(e) = self.error {
            return Err(e);
        }
        let dir = self.dir;
        let file = match self.file {
            None => None,
            Some(w) => Some(
                w.into_inner()
                    .map_err(|e| Error::io(&dir, "write a temporary file in", e.into_error()))?,
            ),
        };
        Ok(Spilled {
            categories: self.categories,
            category_documents: self.category_documents,
            decisions: self.decisions,
            file,
            dir,
            updates: self.updates,
        })
    }
}

impl RecordSink for Spill {
    fn category(&mut self, c: Category) -> Result<()> {
        self.categories.push(c);
        Ok(())
    }
    fn update(&mut self, r: UpdateRecord) -> Result<()> {
        self.flush(None);
        self.pending = Some(r);
        Ok(())
    }
    fn decision(&mut self, d: Decision) -> Result<()> {
        self.flush(None);
        self.decisions.push(d);
        Ok(())
    }
    /// The reader checked that a document follows the record of its id and revision.
    fn document(&mut self, d: DocumentRecord) -> Result<()> {
        if self.pending.is_some() {
            self.flush(Some(d.xml));
        } else {
            self.category_documents.push(d);
        }
        Ok(())
    }
}

impl Spilled {
    /// Hands every update record, with its document when the bundle carries one, to `f`, in
    /// the order the bundle holds them.
    pub fn for_each_update(
        &self,
        f: &mut dyn FnMut(UpdateRecord, Option<Vec<u8>>) -> Result<()>,
    ) -> Result<()> {
        let Some(mut file) = self.file.as_ref() else {
            return Ok(());
        };
        let io_err = |e: io::Error| Error::io(&self.dir, "read a temporary file in", e);
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut buf = Vec::new();
        for _ in 0..self.updates {
            let mut len = [0u8; 4];
            r.read_exact(&mut len).map_err(io_err)?;
            let len = u32::from_le_bytes(len) as usize;
            if len > MAX_SPILLED {
                return Err(Error::other(format!(
                    "internal error: a spilled record of {len} bytes"
                )));
            }
            buf.resize(len, 0);
            r.read_exact(&mut buf).map_err(io_err)?;
            let ((rec, doc), _): ((UpdateRecord, Option<Vec<u8>>), usize) =
                bincode::decode_from_slice(&buf, bincode::config::standard()).map_err(|e| {
                    Error::other(format!(
                        "internal error: a spilled record reads back as {e}"
                    ))
                })?;
            f(rec, doc)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::metadata::tests::sample;

    #[test]
    fn records_come_back_in_order_and_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let md = sample();
        let mut s = Spill::new(tmp.path().join("staging"));
        for c in md.categories.clone() {
            let doc = DocumentRecord {
                id: c.id.clone(),
                revision: c.revision,
                xml: b"<category/>".to_vec(),
            };
            s.category(c).unwrap();
            s.document(doc).unwrap();
        }
        // The first update has a document; the others none.
        for (i, r) in md.updates.clone().into_iter().enumerate() {
            let doc = DocumentRecord {
                id: r.update.id.clone(),
                revision: r.update.revision,
                xml: b"<doc/>".to_vec(),
            };
            s.update(r).unwrap();
            if i == 0 {
                s.document(doc).unwrap();
            }
        }
        for d in md.decisions.clone() {
            s.decision(d).unwrap();
        }
        let spilled = s.finish().unwrap();
        assert_eq!(spilled.categories, md.categories);
        assert_eq!(spilled.category_documents.len(), md.categories.len());
        assert_eq!(spilled.decisions, md.decisions);
        for _ in 0..2 {
            let mut back = Vec::new();
            spilled
                .for_each_update(&mut |r, doc| {
                    back.push((r, doc));
                    Ok(())
                })
                .unwrap();
            let want: Vec<_> = md
                .updates
                .iter()
                .enumerate()
                .map(|(i, r)| (r.clone(), (i == 0).then(|| b"<doc/>".to_vec())))
                .collect();
            assert_eq!(back, want);
        }
        // Nothing named is left in staging: the file is anonymous (on Windows it has a name
        // until it is closed).
        #[cfg(unix)]
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("staging"))
            .unwrap()
            .collect();
        #[cfg(unix)]
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_write_failure_is_kept_for_after_the_checks() {
        let tmp = tempfile::tempdir().unwrap();
        // The staging folder's place is taken by a file: it cannot be created.
        let blocked = tmp.path().join("staging");
        std::fs::write(&blocked, b"x").unwrap();
        let mut s = Spill::new(blocked);
        let md = sample();
        for r in md.updates.clone() {
            // The pass goes on: the sink reports nothing.
            s.update(r).unwrap();
        }
        assert!(s.finish().is_err());
    }
}
