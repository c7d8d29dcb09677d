//! Hashing while copying: every content byte is read once, and its digests are computed on
//! the way through, so that a file is never read twice to be checked.

use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

/// Digests and length of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    pub sha1: [u8; 20],
    pub sha256: [u8; 32],
}

const BUF: usize = 256 * 1024;

/// Copies `r` into `w` to its end, handing every chunk to `seen` on the way; returns the
/// number of bytes copied. The one copy loop behind the hashing copies below.
fn copy_seeing<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    w: &mut W,
    mut seen: impl FnMut(&[u8]),
) -> io::Result<u64> {
    let mut buf = vec![0u8; BUF];
    let mut size = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        seen(&buf[..n]);
        w.write_all(&buf[..n])?;
        size += n as u64;
    }
}

/// Copies `r` into `w` to its end, computing SHA-1 and SHA-256 of what passed.
pub fn copy_hashing<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    w: &mut W,
) -> io::Result<Digests> {
    let mut s1 = Sha1::new();
    let mut s256 = Sha256::new();
    let size = copy_seeing(r, w, |b| {
        s1.update(b);
        s256.update(b);
    })?;
    Ok(Digests {
        size,
        sha1: s1.finalize().into(),
        sha256: s256.finalize().into(),
    })
}

/// Reads `r` to its end and returns its digests.
pub fn hash_reader<R: Read + ?Sized>(r: &mut R) -> io::Result<Digests> {
    copy_hashing(r, &mut io::sink())
}

/// SHA-256 of a byte slice.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Copies `r` into `w`, computing only SHA-256 (the cheaper path used by bundles).
pub fn copy_sha256<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    w: &mut W,
) -> io::Result<(u64, [u8; 32])> {
    let mut s = Sha256::new();
    let size = copy_seeing(r, w, |b| s.update(b))?;
    Ok((size, s.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let d = hash_reader(&mut &b"abc"[..]).unwrap();
        assert_eq!(d.size, 3);
        assert_eq!(
            hex::encode(d.sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex::encode(d.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut out = Vec::new();
        let (n, h) = copy_sha256(&mut &b"abc"[..], &mut out).unwrap();
        assert_eq!((n, h, out.as_slice()), (3, d.sha256, &b"abc"[..]));
    }
}
