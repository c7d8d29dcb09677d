//! `metadata.bin` written as the exporter reads the store: each record goes through the
//! stream encoder (envelope version 3) and the deflater into an anonymous temporary file, so
//! that neither the records nor their encoding are ever held whole. The volume writer then
//! copies the deflated bytes into volume 1 in blocks.

use super::super::metadata::{BundleMetadata, Decision, DocumentRecord, UpdateRecord};
use super::super::stream::{StreamSummary, StreamWriter};
use super::super::zipfmt::DEFLATE_LEVEL;
use crate::error::{Error, Result};
use crate::model::Category;
use flate2::write::DeflateEncoder;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A `metadata.bin` being written. Records must come as the format orders them: categories,
/// then updates, then decisions, each by increasing id (the encoder refuses anything else).
pub struct MetadataSpool {
    w: StreamWriter<DeflateEncoder<BufWriter<File>>>,
    dir: PathBuf,
}

/// A finished `metadata.bin`: its deflated bytes in a temporary file (gone when this is
/// dropped), with the size, CRC and SHA-256 of the inflated bytes and the record counts.
#[derive(Debug)]
pub struct EncodedMetadata {
    file: File,
    dir: PathBuf,
    /// Bytes of the deflated form (what volume 1 stores).
    pub stored_len: u64,
    /// Counts, size, CRC-32 and SHA-256 of the inflated stream.
    pub summary: StreamSummary,
}

impl MetadataSpool {
    /// Starts a `metadata.bin` in an anonymous file in `dir` (created when missing): a
    /// folder on the same disk as the source of the records, not the media.
    pub fn new(dir: &Path) -> Result<MetadataSpool> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, "create a file in", e))?;
        let deflate = DeflateEncoder::new(
            BufWriter::with_capacity(256 << 10, file),
            flate2::Compression::new(DEFLATE_LEVEL),
        );
        Ok(MetadataSpool {
            w: StreamWriter::new(deflate)?,
            dir: dir.to_path_buf(),
        })
    }

    pub fn category(&mut self, c: &Category) -> Result<()> {
        self.w.write_category(c)
    }

    pub fn update(&mut self, r: &UpdateRecord) -> Result<()> {
        self.w.write_update(r)
    }

    pub fn decision(&mut self, d: &Decision) -> Result<()> {
        self.w.write_decision(d)
    }

    /// The upstream's document of the category or update just written.
    pub fn document(&mut self, d: &DocumentRecord) -> Result<()> {
        self.w.write_document(d)
    }

    /// Writes the end record and flushes the deflated bytes to the file.
    pub fn finish(self) -> Result<EncodedMetadata> {
        let dir = self.dir;
        let io_err = |e: io::Error| Error::io(&dir, "write a temporary file in", e);
        let (deflate, summary) = self.w.finish()?;
        let mut file = deflate
            .finish()
            .map_err(io_err)?
            .into_inner()
            .map_err(|e| io_err(e.into_error()))?;
        let stored_len = file.seek(SeekFrom::End(0)).map_err(io_err)?;
        Ok(EncodedMetadata {
            file,
            stored_len,
            summary,
            dir,
        })
    }
}

impl EncodedMetadata {
    /// Encodes metadata held whole (tests and small tools), sorting each section by id as the
    /// format requires.
    pub fn from_metadata(md: &BundleMetadata, dir: &Path) -> Result<EncodedMetadata> {
        let mut spool = MetadataSpool::new(dir)?;
        let mut categories: Vec<&Category> = md.categories.iter().collect();
        categories.sort_by(|a, b| a.id.cmp(&b.id));
        for c in categories {
            spool.category(c)?;
        }
        let mut updates: Vec<&UpdateRecord> = md.updates.iter().collect();
        updates.sort_by(|a, b| a.update.id.cmp(&b.update.id));
        for r in updates {
            spool.update(r)?;
        }
        let mut decisions: Vec<&Decision> = md.decisions.iter().collect();
        decisions.sort_by(|a, b| a.update.cmp(&b.update));
        for d in decisions {
            spool.decision(d)?;
        }
        spool.finish()
    }

    /// A `metadata.bin` of any bytes (an older envelope, a damaged stream), with the counts
    /// of `counted` for the manifest: for tests of what readers refuse.
    #[cfg(test)]
    pub fn from_envelope(
        bytes: &[u8],
        counted: &BundleMetadata,
        dir: &Path,
    ) -> Result<EncodedMetadata> {
        use std::io::Write;
        let mut file = tempfile::tempfile_in(dir).map_err(|e| Error::io(dir, "create", e))?;
        let stored = super::super::zipfmt::deflate(bytes).unwrap();
        file.write_all(&stored).unwrap();
        Ok(EncodedMetadata {
            file,
            dir: dir.to_path_buf(),
            stored_len: stored.len() as u64,
            summary: StreamSummary {
                categories: counted.categories.len() as u64,
                updates: counted.updates.len() as u64,
                removed: counted.removed_count(),
                decisions: counted.decisions.len() as u64,
                documents: 0,
                bytes: bytes.len() as u64,
                sha256: crate::hash::sha256(bytes),
                crc32: super::super::zipfmt::crc32(bytes),
            },
        })
    }

    /// Hands the deflated bytes to `f` in blocks of at most `block` bytes, from the start.
    pub(super) fn copy_stored(
        &self,
        block: usize,
        f: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let dir = self.dir.clone();
        let io_err = |e: io::Error| Error::io(&dir, "read a temporary file in", e);
        let mut file = &self.file;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut buf = vec![0u8; block];
        let mut left = self.stored_len;
        while left > 0 {
            let want = block.min(usize::try_from(left).unwrap_or(block));
            file.read_exact(&mut buf[..want]).map_err(io_err)?;
            f(&buf[..want])?;
            left -= want as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::metadata::tests::golden_value;
    use crate::bundle::stream::encode_stream;
    use crate::bundle::zipfmt;

    /// The golden value's `metadata.bin` as volume 1 stores it.
    const GOLDEN_SPOOLED: &str = concat!(
        "f277730b8ef473f665664000467f060606150328d005132620c202c68502437626c6004662541a31",
        "99301267a6f16f1d468ee0fcb492f2c4a25446a6d43c300e61647461643135303064e4702eca2cc9",
        "4c4ecc611431323032d13530d435300c3130b002a32846a69454a29c64c848943213a25499323231",
        "b2a6e925272631fe291064646014c4021895080046be8c9292022b7dfd0a7db0594cbf5f30336b12",
        "1919668cbf5f32ff5705c51f23232383fbfb06dbf5c76a97ff6e8afb7a69692883e4563d3ee93ac6",
        "5fa6a255976f77e7de01000000ffff0300",
    );

    #[test]
    fn the_spool_holds_the_stream_deflated_deterministically() {
        let tmp = tempfile::tempdir().unwrap();
        let md = golden_value();
        let stream = encode_stream(&md).unwrap();
        let enc = EncodedMetadata::from_metadata(&md, tmp.path()).unwrap();
        let s = &enc.summary;
        assert_eq!(s.bytes, stream.len() as u64);
        assert_eq!(s.sha256, crate::hash::sha256(&stream));
        assert_eq!(s.crc32, zipfmt::crc32(&stream));
        assert_eq!((s.categories, s.updates, s.decisions), (1, 1, 1));
        let mut stored = Vec::new();
        enc.copy_stored(7, &mut |b| {
            assert!(b.len() <= 7);
            stored.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(stored.len() as u64, enc.stored_len);
        // Deflated as it came, record by record (the stream's flush at its end leaves an empty
        // stored block before the final one), and the same bytes every time: equal stores give
        // equal bundles.
        let again = EncodedMetadata::from_metadata(&md, tmp.path()).unwrap();
        let mut stored_again = Vec::new();
        again
            .copy_stored(1 << 20, &mut |b| {
                stored_again.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
        assert_eq!(stored, stored_again);
        // And pinned: a flate2 or zlib-rs update that changes these bytes makes equal stores
        // give different bundles (docs/BUNDLE-FORMAT.md section 7).
        assert_eq!(hex::encode(&stored), GOLDEN_SPOOLED);
        let mut back = Vec::new();
        zipfmt::inflate(&stored[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, stream);
    }

    #[test]
    fn records_out_of_order_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let md = golden_value();
        let mut spool = MetadataSpool::new(tmp.path()).unwrap();
        spool.update(&md.updates[0]).unwrap();
        let err = spool.category(&md.categories[0]).unwrap_err();
        assert!(err.message.contains("out of order"), "{err}");
    }
}
