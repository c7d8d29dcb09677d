//! The metadata envelope decoder (`decode_metadata`, and `decode_metadata_from_reader`, which
//! must agree with it), with bincode's claim limit: a length prefix asking for a terabyte must
//! be an error, never an allocation (libFuzzer's -rss_limit_mb / -malloc_limit_mb catch one).
//!
//! Input layout: byte 0 is a mode. Even: the rest is a whole `metadata.bin` (envelope and
//! payload) as it comes out of a volume. Odd: the rest is a bincode payload, wrapped in a
//! correct envelope by the harness, so that mutations reach bincode instead of mostly failing
//! the envelope's length check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offsync::bundle::metadata::{ENVELOPE_HEADER_LEN, METADATA_MAGIC, METADATA_VERSION};
use offsync::bundle::{decode_metadata, decode_metadata_from_reader, encode_metadata};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let wrapped;
    let bytes: &[u8] = if mode & 1 == 0 {
        rest
    } else {
        let mut v = Vec::with_capacity(ENVELOPE_HEADER_LEN + rest.len());
        v.extend_from_slice(&METADATA_MAGIC);
        v.extend_from_slice(&METADATA_VERSION.to_le_bytes());
        v.extend_from_slice(&(rest.len() as u64).to_le_bytes());
        v.extend_from_slice(rest);
        wrapped = v;
        &wrapped
    };
    let a = decode_metadata(bytes);
    let b = decode_metadata_from_reader(&mut &bytes[..]);
    match (&a, &b) {
        (Ok(x), Ok(y)) => assert_eq!(x, y, "the two decoders disagree on the value"),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "the two decoders disagree: in memory {:?}, streamed {:?}",
            a.as_ref().map(|_| ()).map_err(|e| &e.message),
            b.as_ref().map(|_| ()).map_err(|e| &e.message)
        ),
    }
    if let Ok(md) = a {
        // Whatever decodes must encode and decode back to itself.
        let again = encode_metadata(&md).expect("decoded metadata encodes");
        assert_eq!(
            decode_metadata(&again).expect("re-encoded metadata decodes"),
            md
        );
    }
});
