//! The volume reader: the input becomes one volume of a real exported bundle whose manifest
//! vouches for it (its size and SHA-256), so `verify` gets past the hash check into the ZIP
//! subset parser, the entry checks and the entry reads; then the importer's `BundleReader`
//! opens the same bundle (the other volumes unchanged) and reads the metadata and every
//! content file. See `VolumeHarness` in src/lib.rs for the input layout (byte 0 picks the
//! template bundle and volume).
#![no_main]

use libfuzzer_sys::fuzz_target;
use offsync_fuzz::VolumeHarness;
use std::sync::LazyLock;

static HARNESS: LazyLock<VolumeHarness> = LazyLock::new(VolumeHarness::new);

fuzz_target!(|data: &[u8]| {
    let Some(out) = HARNESS.run(data) else { return };
    assert!(
        out.manifest_consistent,
        "harness bug: the adjusted manifest is inconsistent"
    );
    // Verify and import must agree: when the verifier passed the fuzzed volume (every entry's
    // CRC, size and SHA-256 equal to the manifest), the reader, given the exporter's own
    // other volumes, must read the metadata and every content file.
    if out.verify.volumes[out.volume_index].ok
        && let Err(e) = &out.reader
    {
        panic!(
            "verify passed volume {} but the reader fails: {e}",
            out.volume_index + 1
        );
    }
});
