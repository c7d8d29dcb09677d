//! The upstream's own document of each stored update and category revision: the `upd:Update`
//! XML exactly as the upstream gave it (a folder of documents, a WSUS export package, a parent
//! store that kept it), deflated. Publishing to a WSUS server hands these documents over
//! byte for byte (the package's length field counts their characters); the model the store
//! keeps in `updates.doc` is what offsync itself works from.
//!
//! A document is kept per id with its revision: it is only handed out for the revision asked
//! for, so that a newer revision read from a source without documents (the offline catalog)
//! never publishes the older revision's text.

use super::Store;
use super::write::Tx;
use crate::error::{Error, ErrorKind, Result};
use crate::model::Guid;
use rusqlite::{Connection, OptionalExtension, params};
use std::io::{Read, Write};

pub use crate::limits::MAX_DOCUMENT_BYTES;

impl Tx<'_> {
    /// Keeps `xml` as the upstream's document of revision `revision` of `id`, replacing the
    /// one kept for an older revision (never a newer one: a source that is behind cannot take
    /// a newer revision's document away). A document that is new or different takes the next
    /// change sequence (`documents.changed_seq`): `publish wsus --since-last` publishes an
    /// update whose document arrived after its revision did.
    pub fn put_document(&mut self, id: &Guid, revision: u32, xml: &[u8]) -> Result<()> {
        if xml.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "the document of {id} revision {revision} has {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}",
                    xml.len()
                ),
            ));
        }
        let sha256 = crate::hash::sha256(xml);
        let kept: Option<(u32, Vec<u8>)> = self
            .prepare_cached("SELECT revision, sha256 FROM documents WHERE id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((rev, h)) = &kept
            && (*rev > revision || (*rev == revision && h[..] == sha256[..]))
        {
            return Ok(());
        }
        let mut enc = flate2::write::DeflateEncoder::new(
            Vec::with_capacity(xml.len() / 3 + 64),
            flate2::Compression::new(6),
        );
        enc.write_all(xml)
            .map_err(|e| Error::other(format!("cannot compress a document: {e}")))?;
        let packed = enc
            .finish()
            .map_err(|e| Error::other(format!("cannot compress a document: {e}")))?;
        let seq = self.next_seq();
        self.prepare_cached(
            "INSERT INTO documents(id, revision, size, sha256, doc, changed_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, size = excluded.size,
                 sha256 = excluded.sha256, doc = excluded.doc, changed_seq = excluded.changed_seq",
        )?
        .execute(params![
            id.as_str(),
            revision,
            xml.len() as i64,
            &sha256[..],
            packed,
            seq as i64
        ])?;
        Ok(())
    }

    /// The document kept for revision `revision` of `id` (see [`Store::document`]).
    pub fn document(&self, id: &str, revision: u32) -> Result<Option<Vec<u8>>> {
        read_document(self, id, revision)
    }
}

impl Store {
    /// The upstream's document of revision `revision` of `id`, byte for byte, or `None` when
    /// the store has none for that revision. Checked against the size and SHA-256 recorded
    /// with it: a difference is damage to the store (exit 5).
    pub fn document(&self, id: &str, revision: u32) -> Result<Option<Vec<u8>>> {
        read_document(&self.conn, id, revision)
    }

    /// How many documents the store keeps.
    pub fn document_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM documents", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

fn read_document(conn: &Connection, id: &str, revision: u32) -> Result<Option<Vec<u8>>> {
    let row: Option<(i64, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached("SELECT size, sha256, doc FROM documents WHERE id = ?1 AND revision = ?2")?
        .query_row(params![id, revision], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((size, sha256, packed)) = row else {
        return Ok(None);
    };
    let damaged = |what: String| {
        Error::new(
            ErrorKind::StoreDamaged,
            format!("the stored document of {id} revision {revision} {what}"),
        )
        .with_hint("sync again from an upstream that has the document, or restore the store")
    };
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s <= MAX_DOCUMENT_BYTES)
        .ok_or_else(|| damaged(format!("claims {size} bytes")))?;
    let mut xml = Vec::with_capacity(size);
    flate2::read::DeflateDecoder::new(&packed[..])
        .take(size as u64 + 1)
        .read_to_end(&mut xml)
        .map_err(|e| damaged(format!("cannot be inflated: {e}")))?;
    if xml.len() != size || crate::hash::sha256(&xml)[..] != sha256[..] {
        return Err(damaged(
            "does not match its recorded size and SHA-256".into(),
        ));
    }
    Ok(Some(xml))
}

#[cfg(test)]
mod tests {
    use crate::model::Guid;
    use crate::store::Store;
    use crate::time::Timestamp;

    #[test]
    fn a_document_comes_back_byte_for_byte_for_its_revision_only() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::init(&tmp.path().join("s"), Some("s"), Timestamp::now()).unwrap();
        let id = Guid::parse("00000000-0000-4000-8000-000000000001").unwrap();
        // UTF-16 with a BOM and a line break: kept as given, not re-encoded.
        let xml: Vec<u8> = "\u{feff}<upd:Update>Åå\r\n</upd:Update>"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let mut tx = store.begin().unwrap();
        tx.put_document(&id, 7, &xml).unwrap();
        tx.commit().unwrap();
        assert_eq!(store.document(id.as_str(), 7).unwrap(), Some(xml.clone()));
        assert_eq!(store.document(id.as_str(), 8).unwrap(), None);
        // A newer revision replaces it; an older one then does not.
        let mut tx = store.begin().unwrap();
        tx.put_document(&id, 8, b"<x/>").unwrap();
        tx.put_document(&id, 7, &xml).unwrap();
        tx.commit().unwrap();
        assert_eq!(store.document(id.as_str(), 7).unwrap(), None);
        assert_eq!(
            store.document(id.as_str(), 8).unwrap(),
            Some(b"<x/>".to_vec())
        );
        assert_eq!(store.document_count().unwrap(), 1);
    }

    #[test]
    fn a_consistent_read_does_not_see_what_another_writer_commits_meanwhile() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("s");
        let reader = Store::init(&dir, Some("s"), Timestamp::now()).unwrap();
        let mut writer = Store::open(&dir).unwrap();
        let id = Guid::parse("00000000-0000-4000-8000-000000000002").unwrap();
        let put = |w: &mut Store, rev: u32| {
            let mut tx = w.begin().unwrap();
            tx.put_document(&id, rev, b"<x/>").unwrap();
            tx.commit().unwrap();
        };
        put(&mut writer, 1);
        let seen = reader
            .read_consistent(|| {
                let before = reader.document(id.as_str(), 1)?;
                // Committed by another connection while the snapshot is open.
                put(&mut writer, 2);
                Ok((before, reader.document(id.as_str(), 1)?))
            })
            .unwrap();
        assert_eq!(seen, (Some(b"<x/>".to_vec()), Some(b"<x/>".to_vec())));
        // After it, the newer revision shows.
        assert_eq!(reader.document(id.as_str(), 1).unwrap(), None);
        assert!(reader.document(id.as_str(), 2).unwrap().is_some());
    }
}
