//! The `upd:Update` XML reader (`src/upstream/upd_xml.rs`): encoding sniffing and decoding
//! (`decode_text`) and the streaming document parser (`parse_document`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use offsync::upstream::upd_xml::{decode_text, parse_document};

fuzz_target!(|data: &[u8]| {
    let _ = decode_text(data);
    let _ = parse_document(data);
});
