use super::*;
use crate::bundle::metadata::tests::{golden_value, sample};
use crate::bundle::metadata::{decode_metadata, decode_metadata_from_reader};
use crate::bundle::records::read_metadata_stream;
use crate::model::Update;

/// The sample with a published, an expired and a removed update (tombstone) among them.
fn sample3() -> BundleMetadata {
    let mut md = sample();
    md.updates[1].state = RecordState::Expired;
    assert_eq!(md.updates[4].state, RecordState::Removed);
    md
}

fn both(bytes: &[u8]) -> [Result<BundleMetadata>; 2] {
    [
        decode_metadata(bytes),
        decode_metadata_from_reader(&mut &bytes[..]),
    ]
}

/// Both decoders refuse `bytes` with `kind` and a message containing `says`.
fn refused(bytes: &[u8], kind: ErrorKind, says: &str) {
    for r in both(bytes) {
        let e = r.unwrap_err();
        assert_eq!(e.kind, kind, "{}", e.message);
        assert!(e.message.contains(says), "{}", e.message);
    }
}

fn enc<T: bincode::Encode>(v: &T) -> Vec<u8> {
    bincode::encode_to_vec(v, bincode::config::standard()).unwrap()
}

/// A GUID holding any string, as bincode decodes one from a hostile stream.
fn raw_guid(s: &str) -> Guid {
    decode_bounded::<Guid>(&enc(&s.to_string())).unwrap().0
}

fn record(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// A stream of `records` (tag, value bytes) ended by a correct end record that `fix` may
/// then falsify: what a forger who can write any bytes would produce.
fn forge(records: &[(u8, Vec<u8>)], fix: impl FnOnce(&mut StreamEnd)) -> Vec<u8> {
    let mut out = header().to_vec();
    let mut end = StreamEnd {
        categories: 0,
        updates: 0,
        removed: 0,
        decisions: 0,
        documents: 0,
        sha256: [0; 32],
    };
    for (tag, body) in records {
        match *tag {
            TAG_CATEGORY => end.categories += 1,
            TAG_UPDATE => {
                end.updates += 1;
                let (r, _) = decode_bounded::<UpdateRecord>(body).unwrap();
                end.removed += u64::from(r.state == RecordState::Removed);
            }
            TAG_DOCUMENT => end.documents += 1,
            _ => end.decisions += 1,
        }
        out.extend(record(*tag, body));
    }
    end.sha256 = crate::hash::sha256(&out);
    fix(&mut end);
    out.extend(record(TAG_END, &enc(&end)));
    out
}

/// The sample's records, as (tag, bytes).
fn sample_records() -> Vec<(u8, Vec<u8>)> {
    let md = sample3();
    let mut v: Vec<(u8, Vec<u8>)> = Vec::new();
    v.extend(md.categories.iter().map(|c| (TAG_CATEGORY, enc(c))));
    v.extend(md.updates.iter().map(|r| (TAG_UPDATE, enc(r))));
    v.extend(md.decisions.iter().map(|d| (TAG_DECISION, enc(d))));
    v
}

#[test]
fn round_trip_through_both_decoders() {
    let md = sample3();
    let bytes = encode_stream(&md).unwrap();
    assert_eq!(bytes, forge(&sample_records(), |_| {}));
    for r in both(&bytes) {
        assert_eq!(r.unwrap(), md);
    }
    let empty = encode_stream(&BundleMetadata::default()).unwrap();
    for r in both(&empty) {
        assert_eq!(r.unwrap(), BundleMetadata::default());
    }
}

/// The golden value as a version 3 stream, byte for byte: a change here is a change of the
/// bundle format and needs a new envelope version.
const GOLDEN_STREAM: &str = concat!(
    "4f464653594e434d030000000000000000000000014f0000002430303030303030302d303030302d",
    "343030302d383030302d30303030303030303030303107020150012430303030303030302d303030",
    "302d343030302d383030302d30303030303030303030303202340100002430303030303030302d30",
    "3030302d343030302d383030302d303030303030303030303033fb2c0108536f6674776172650102",
    "656e0102656e01540101440104353030310108437269746963616c0114323032342d30312d303154",
    "30303a30303a30305a01026465012430303030303030302d303030302d343030302d383030302d30",
    "303030303030303030303101012430303030303030302d303030302d343030302d383030302d3030",
    "30303030303030303034012430303030303030302d303030302d343030302d383030302d30303030",
    "303030303030303501020105662e63616201fc701101000111111111111111111111111111111111",
    "11111111012222222222222222222222222222222222222222222222222222222222222222010e68",
    "7474703a2f2f782f662e63616202fbe80303290000002430303030303030302d303030302d343030",
    "302d383030302d30303030303030303030303601fbe903ff25000000010101010047ef803dafc67d",
    "a7fb825ef5d2a5550019b52e0e1b7e01fa35157ad3db8b6ddc",
);

#[test]
fn the_stream_encoding_is_pinned_to_golden_bytes() {
    let md = golden_value();
    let mut w = StreamWriter::new(Vec::new()).unwrap();
    for c in &md.categories {
        w.category(c.clone()).unwrap();
    }
    for r in &md.updates {
        w.update(r.clone()).unwrap();
    }
    for d in &md.decisions {
        w.decision(d.clone()).unwrap();
    }
    let (bytes, summary) = w.finish().unwrap();
    assert_eq!(hex::encode(&bytes), GOLDEN_STREAM);
    assert_eq!(bytes, encode_stream(&md).unwrap());
    assert_eq!(
        summary,
        StreamSummary {
            categories: 1,
            updates: 1,
            removed: 1,
            decisions: 1,
            documents: 0,
            bytes: bytes.len() as u64,
            sha256: crate::hash::sha256(&bytes),
            crc32: crate::bundle::zipfmt::crc32(&bytes),
        }
    );
    for r in both(&bytes) {
        assert_eq!(r.unwrap(), md);
    }
}

#[test]
fn a_stream_cut_at_any_byte_is_corrupt() {
    let bytes = encode_stream(&sample3()).unwrap();
    for n in 0..bytes.len() {
        for r in both(&bytes[..n]) {
            let e = r.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Corrupt, "cut at {n}: {}", e.message);
        }
    }
    // Cut exactly between two records, or before the end record.
    let end_at = bytes.len()
        - RECORD_HEAD_LEN
        - enc(&StreamEnd {
            categories: 3,
            updates: 5,
            removed: 1,
            decisions: 1,
            documents: 0,
            sha256: [0; 32],
        })
        .len();
    refused(
        &bytes[..end_at],
        ErrorKind::Corrupt,
        "without its end record",
    );
}

#[test]
fn a_record_over_the_cap_is_a_limit_error_before_it_is_read() {
    let mut over = header().to_vec();
    over.push(TAG_UPDATE);
    over.extend_from_slice(&(MAX_RECORD_BYTES + 1).to_le_bytes());
    refused(&over, ErrorKind::Limit, "more than the limit of 67108864");
    // At the cap the length is fine and the record missing.
    let mut at = header().to_vec();
    at.push(TAG_UPDATE);
    at.extend_from_slice(&MAX_RECORD_BYTES.to_le_bytes());
    refused(&at, ErrorKind::Corrupt, "truncated");
    // The writer refuses to write one either (an update with a 65 MiB title list).
    let mut md = sample3();
    md.updates[0].update.languages = vec!["x".repeat(1 << 20); 65];
    let e = encode_stream(&md).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit, "{}", e.message);
}

#[test]
fn a_record_claiming_more_memory_than_its_length_is_a_limit_error() {
    // A category whose id string claims 2^40 bytes, in a 9-byte record.
    let mut body = vec![0xfd];
    body.extend_from_slice(&(1u64 << 40).to_le_bytes());
    refused(
        &forge(&[(TAG_CATEGORY, body)], |_| {}),
        ErrorKind::Limit,
        "memory",
    );
}

#[test]
fn a_record_its_value_does_not_use_entirely_is_corrupt() {
    let mut recs = sample_records();
    recs[0].1.push(0);
    refused(&forge(&recs, |_| {}), ErrorKind::Corrupt, "did not use");
}

#[test]
fn ids_out_of_order_or_twice_are_corrupt() {
    let recs = sample_records();
    let mut twice = recs.clone();
    twice.insert(1, recs[0].clone());
    refused(&forge(&twice, |_| {}), ErrorKind::Corrupt, "listed twice");
    let mut swapped = recs.clone();
    swapped.swap(3, 4); // two updates
    refused(&forge(&swapped, |_| {}), ErrorKind::Corrupt, "out of order");
    let mut decided_twice = recs.clone();
    decided_twice.push(recs.last().unwrap().clone());
    refused(
        &forge(&decided_twice, |_| {}),
        ErrorKind::Corrupt,
        "listed twice",
    );
    // The writer refuses them with an internal error.
    let mut md = sample3();
    md.updates.swap(0, 1);
    let e = encode_stream(&md).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Other);
    assert!(e.message.contains("out of order"), "{}", e.message);
}

#[test]
fn a_record_of_an_earlier_section_is_corrupt() {
    let mut recs = sample_records();
    let c = recs.remove(0);
    recs.insert(4, c); // a category among the updates
    refused(
        &forge(&recs, |_| {}),
        ErrorKind::Corrupt,
        "follows the update records",
    );
    let mut recs = sample_records();
    let d = recs.pop().unwrap();
    recs.insert(3, d); // a decision before the updates
    refused(
        &forge(&recs, |_| {}),
        ErrorKind::Corrupt,
        "follows the decision records",
    );
}

#[test]
fn wrong_counts_and_digest_in_the_end_record_are_corrupt() {
    let recs = sample_records();
    refused(
        &forge(&recs, |e| e.categories += 1),
        ErrorKind::Corrupt,
        "holds 3 categories, its end record counts 4",
    );
    refused(
        &forge(&recs, |e| e.removed = 0),
        ErrorKind::Corrupt,
        "holds 1 removed updates, its end record counts 0",
    );
    refused(
        &forge(&recs, |e| e.sha256[0] ^= 1),
        ErrorKind::Corrupt,
        "SHA-256",
    );
    // A record changed in place, its end record left alone: the digest catches it.
    let mut bytes = encode_stream(&sample3()).unwrap();
    let at = bytes.windows(8).position(|w| w == b"Update 2").unwrap();
    bytes[at + 7] = b'9';
    refused(&bytes, ErrorKind::Corrupt, "SHA-256");
}

#[test]
fn trailing_bytes_reserved_field_and_unknown_tag_are_corrupt() {
    let good = encode_stream(&sample3()).unwrap();
    let mut trailing = good.clone();
    trailing.push(0);
    refused(
        &trailing,
        ErrorKind::Corrupt,
        "trailing bytes after its end record",
    );
    let mut reserved = good.clone();
    reserved[12] = 1;
    refused(&reserved, ErrorKind::Corrupt, "reserved");
    let mut recs = sample_records();
    recs.insert(2, (7, vec![0; 4]));
    refused(&forge(&recs, |_| {}), ErrorKind::Corrupt, "unknown tag 7");
}

/// Counts what it receives and keeps nothing.
#[derive(Default)]
struct Count {
    categories: u64,
    updates: u64,
    decisions: u64,
}

impl RecordSink for Count {
    fn category(&mut self, _: Category) -> Result<()> {
        self.categories += 1;
        Ok(())
    }
    fn update(&mut self, _: UpdateRecord) -> Result<()> {
        self.updates += 1;
        Ok(())
    }
    fn decision(&mut self, _: Decision) -> Result<()> {
        self.decisions += 1;
        Ok(())
    }
}

/// `bytes` (a whole envelope) read as verify and import read it, against a written bundle's
/// manifest whose counts `fix` may change.
fn read_against_manifest(bytes: &[u8], fix: impl FnOnce(&mut Manifest)) -> (MetadataCheck, Count) {
    let tmp = tempfile::tempdir().unwrap();
    let (w, _) = crate::bundle::tests::written(tmp.path(), 1 << 20);
    let mut m = w.manifest;
    fix(&mut m);
    let layout = Layout::new(&m);
    let mut sink = Count::default();
    let check = read_metadata_stream(&mut &bytes[..], &m, &layout, &mut sink);
    (check, sink)
}

#[test]
fn records_reach_the_sink_until_the_first_problem_and_the_manifest_counts_are_checked() {
    // The written bundle carries `sample()`: one removed update, no expired one.
    let md = sample();
    let (check, sink) = read_against_manifest(&encode_stream(&md).unwrap(), |_| {});
    assert!(check.findings.is_empty(), "{:?}", check.findings);
    assert_eq!(check.delivered, 9);
    assert_eq!((sink.categories, sink.updates, sink.decisions), (3, 5, 1));

    let (check, _) =
        read_against_manifest(&encode_stream(&md).unwrap(), |m| m.counts.decisions = 2);
    let messages: Vec<&str> = check.findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(messages, ["holds 1 decisions, the manifest counts 2"]);

    // An update id that is not canonical (third update): the records before it were
    // delivered, none after; every later record is still checked.
    let mut bad = md.clone();
    bad.updates[2].update.id = raw_guid("00000066-0000-4000-8000-00000000000G");
    bad.updates[3].update.files[0].size = Some(u64::MAX);
    let (check, sink) = read_against_manifest(&encode_stream(&bad).unwrap(), |_| {});
    assert_eq!((sink.categories, sink.updates, sink.decisions), (3, 2, 0));
    assert_eq!(check.delivered, 5);
    let kinds: Vec<ErrorKind> = check.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [ErrorKind::Corrupt, ErrorKind::Corrupt],
        "{:?}",
        check.findings
    );
    assert!(check.findings[1].message.contains("more than the limit"));
}

#[test]
fn findings_stop_after_fifty_of_a_kind() {
    let mut md = BundleMetadata::default();
    let mut c = sample().categories[0].clone();
    for i in 0..80 {
        c.id = raw_guid(&format!("X{i:03}"));
        md.categories.push(c.clone());
    }
    let check = read_records(
        &mut &encode_stream(&md).unwrap()[ENVELOPE_HEADER_LEN..],
        None,
        &empty_layout(),
        &mut Count::default(),
    );
    assert_eq!(check.findings.len(), MAX_LISTED + 1);
    assert!(
        check.findings[MAX_LISTED]
            .message
            .contains("stopped checking")
    );
    assert_eq!(check.findings[MAX_LISTED].kind, ErrorKind::Corrupt);
    assert_eq!(check.delivered, 0);
}

#[test]
fn two_hundred_thousand_updates_reach_the_sink_one_at_a_time() {
    const N: u32 = 200_000;
    let mut template: Update = sample().updates[0].update.clone();
    template.localized.clear();
    template.files.clear();
    template.categories.clear();
    let mut w = StreamWriter::new(Vec::new()).unwrap();
    let mut r = UpdateRecord {
        update: template,
        state: RecordState::Published,
        changed_seq: 1,
    };
    for i in 0..N {
        r.update.id = Guid::parse(&format!("{i:08x}-0000-4000-8000-000000000000")).unwrap();
        w.write_update(&r).unwrap();
    }
    let (bytes, summary) = w.finish().unwrap();
    assert_eq!(summary.updates, u64::from(N));
    let mut sink = Count::default();
    let check = read_records(
        &mut &bytes[ENVELOPE_HEADER_LEN..],
        None,
        &empty_layout(),
        &mut sink,
    );
    assert!(check.findings.is_empty(), "{:?}", check.findings);
    assert_eq!(sink.updates, u64::from(N));
    assert_eq!(check.delivered, u64::from(N));
}

/// A sink that keeps the documents it is given (the other records only counted).
#[derive(Default)]
struct Documents {
    got: Vec<DocumentRecord>,
    records: u64,
}

impl RecordSink for Documents {
    fn category(&mut self, _: Category) -> Result<()> {
        self.records += 1;
        Ok(())
    }
    fn update(&mut self, _: UpdateRecord) -> Result<()> {
        self.records += 1;
        Ok(())
    }
    fn decision(&mut self, _: Decision) -> Result<()> {
        self.records += 1;
        Ok(())
    }
    fn document(&mut self, d: DocumentRecord) -> Result<()> {
        self.got.push(d);
        Ok(())
    }
}

fn doc_of(id: &Guid, revision: u32, xml: &[u8]) -> DocumentRecord {
    DocumentRecord {
        id: id.clone(),
        revision,
        xml: xml.to_vec(),
    }
}

/// Reads `bytes` (a whole stream) into a [`Documents`] sink.
fn read_documents(bytes: &[u8]) -> (MetadataCheck, Documents) {
    let mut sink = Documents::default();
    let layout = empty_layout();
    let mut r = &bytes[ENVELOPE_HEADER_LEN..];
    let check = read_records(&mut r, None, &layout, &mut sink);
    (check, sink)
}

#[test]
fn documents_follow_their_records_and_reach_the_sink() {
    let md = sample3();
    let (cat, upd) = (&md.categories[0], &md.updates[0].update);
    // Written by the writer: after the category and after the first update.
    let mut w = StreamWriter::new(Vec::new()).unwrap();
    for c in &md.categories {
        w.write_category(c).unwrap();
        if c.id == cat.id {
            w.write_document(&doc_of(&c.id, c.revision, b"<c/>"))
                .unwrap();
        }
    }
    for r in &md.updates {
        w.write_update(r).unwrap();
        if r.update.id == upd.id {
            // UTF-16 bytes with a BOM: carried as they are.
            w.write_document(&doc_of(&upd.id, upd.revision, b"\xff\xfe<\0u\0/\0>\0"))
                .unwrap();
        }
    }
    // The writer refuses a document that does not follow its record, and a second one.
    let e = w
        .write_document(&doc_of(&upd.id, upd.revision, b"<again/>"))
        .unwrap_err();
    assert!(e.message.contains("follows the record of"), "{e}");
    let last = &md.updates.last().unwrap().update;
    let e = w
        .write_document(&doc_of(&last.id, last.revision, b"<again/>"))
        .unwrap_err();
    assert!(e.message.contains("right after"), "{e}");
    let (bytes, summary) = w.finish().unwrap();
    assert_eq!(summary.documents, 2);
    let (check, sink) = read_documents(&bytes);
    assert!(check.findings.is_empty(), "{:?}", check.findings);
    assert_eq!(
        sink.got,
        vec![
            doc_of(&cat.id, cat.revision, b"<c/>"),
            doc_of(&upd.id, upd.revision, b"\xff\xfe<\0u\0/\0>\0")
        ]
    );
    // Readers that keep no documents read the stream as before.
    for r in both(&bytes) {
        let mut want = md.clone();
        want.decisions.clear();
        assert_eq!(r.unwrap(), want);
    }
}

#[test]
fn a_misplaced_repeated_or_oversized_document_is_refused() {
    let md = sample3();
    let c = &md.categories[0];
    let u = &md.updates[0].update;
    let cat = (TAG_CATEGORY, enc(c));
    let upd = (TAG_UPDATE, enc(&md.updates[0]));
    let doc =
        |id: &Guid, rev: u32, len: usize| (TAG_DOCUMENT, enc(&doc_of(id, rev, &vec![b'x'; len])));
    type Records = Vec<(u8, Vec<u8>)>;
    let cases: Vec<(&str, Records, ErrorKind)> = vec![
        (
            "first of all",
            vec![doc(&c.id, c.revision, 3), cat.clone()],
            ErrorKind::Corrupt,
        ),
        (
            "another id",
            vec![cat.clone(), doc(&u.id, c.revision, 3)],
            ErrorKind::Corrupt,
        ),
        (
            "another revision",
            vec![cat.clone(), doc(&c.id, c.revision + 1, 3)],
            ErrorKind::Corrupt,
        ),
        (
            "twice",
            vec![
                upd.clone(),
                doc(&u.id, u.revision, 3),
                doc(&u.id, u.revision, 3),
            ],
            ErrorKind::Corrupt,
        ),
        (
            "over the limit",
            vec![upd.clone(), doc(&u.id, u.revision, MAX_DOCUMENT_BYTES + 1)],
            ErrorKind::Limit,
        ),
    ];
    for (what, records, kind) in cases {
        let bytes = forge(&records, |_| {});
        let (check, sink) = read_documents(&bytes);
        let kinds: Vec<ErrorKind> = check.findings.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![kind], "{what}: {:?}", check.findings);
        assert!(
            check.findings[0].message.contains("document"),
            "{what}: {:?}",
            check.findings
        );
        // Nothing after the problem reaches the sink.
        assert!(sink.got.len() <= 1, "{what}");
    }
    // The end record counts documents too.
    let bytes = forge(&[upd, doc(&u.id, u.revision, 3)], |e| e.documents = 0);
    let (check, _) = read_documents(&bytes);
    assert!(
        check
            .findings
            .iter()
            .any(|f| f.message.contains("documents")),
        "{:?}",
        check.findings
    );
}
