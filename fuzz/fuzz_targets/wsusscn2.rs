//! The offline catalog reader (`src/upstream/wsusscn2/`): the outer CAB, `index.xml`, the inner
//! CABs, `package.xml` (the second XML reader) and the per-revision fragments, through the
//! public entry point a sync uses (`Wsusscn2Source::open`, `scan`, `fetch`). The CAB and
//! `package.xml` parsers are private to that module, so the input goes in as a file; see
//! `CatalogHarness::run` in src/lib.rs for the input layout (byte 0: raw file or structured).
#![no_main]

use libfuzzer_sys::fuzz_target;
use offsync_fuzz::CatalogHarness;
use std::sync::LazyLock;

static HARNESS: LazyLock<CatalogHarness> = LazyLock::new(CatalogHarness::new);

fuzz_target!(|data: &[u8]| {
    if let Some(Ok(o)) = HARNESS.run(data) {
        assert!(
            o.fetched <= o.updates,
            "fetch delivered more updates than were asked for: {o:?}"
        );
    }
});
