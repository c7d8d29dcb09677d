//! The manifest parser: `Manifest::parse` on arbitrary bytes, then everything a reader does
//! with a parsed manifest before it opens a volume (the consistency checks, the
//! `SHA256SUMS` check with the input as the sums text), and a round trip through the
//! writer's serialisation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offsync::bundle::Manifest;
use offsync::bundle::manifest::check_sha256sums;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::parse(data) else { return };
    let problems = m.problems();
    // `check` is `problems` cut to the first one: both must agree.
    assert_eq!(m.check().is_ok(), problems.is_empty());
    let _ = m.bundle_name();
    let sha = offsync::hash::sha256(data);
    let _ = check_sha256sums(&String::from_utf8_lossy(data), &sha, &m);
    // What the exporter writes must read back as the same manifest.
    let again = Manifest::parse(&m.to_json_bytes()).expect("a written manifest parses");
    assert_eq!(again, m);
});
