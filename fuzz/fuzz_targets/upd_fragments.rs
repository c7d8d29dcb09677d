//! The fragment side of the `upd:Update` reader (`upd_xml::Fragments`), which the offline
//! catalog feeds with its `c\`, `x\` and `l\<lang>\` members: the input is split into
//! fragments at each `SECTION_SEP`, each is added, then the revision is assembled.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offsync::upstream::upd_xml::Fragments;

fuzz_target!(|data: &[u8]| {
    let mut f = Fragments::new();
    let sep = offsync_fuzz::SECTION_SEP;
    let mut rest = data;
    loop {
        let at = rest.windows(sep.len()).position(|w| w == sep);
        let (frag, next) = match at {
            Some(at) => (&rest[..at], Some(&rest[at + sep.len()..])),
            None => (rest, None),
        };
        if f.add(frag).is_err() {
            return;
        }
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    let _ = f.category_type();
    let _ = f.title("en");
    let _ = f.finish();
});
