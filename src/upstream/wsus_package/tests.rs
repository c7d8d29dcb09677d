use super::records::{Head, guid_text, lowercase_guid, read_records};
use crate::error::Result;
use std::io::Cursor;

const ID: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";

fn record(id: &str, rev: u32, xml: &str) -> String {
    format!(
        "{id},{rev:08x},{:08x},{xml}\r\n",
        xml.encode_utf16().count()
    )
}

fn read(text: &[u8]) -> Result<Vec<(Head, Vec<u8>)>> {
    let mut out = Vec::new();
    let io = |e: std::io::Error| crate::error::Error::other(e.to_string());
    read_records(&mut Cursor::new(text), &io, &mut |h, x| {
        out.push((*h, x.to_vec()));
        Ok(())
    })?;
    Ok(out)
}

#[test]
fn lengths_count_utf16_code_units_and_line_breaks_are_text() {
    // é is 2 bytes and 1 unit; 😀 is 4 bytes and 2 units; a CRLF inside the XML is text.
    let xml1 = "<a t=\"é😀\">\r\nx</a>";
    let xml2 = "<b/>";
    let text = record(ID, 0x1ff, xml1) + &record(ID, 0x200, xml2);
    let got = read(text.as_bytes()).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, xml1.as_bytes());
    assert_eq!((got[0].0.number, got[0].0.revision), (1, 0x1ff));
    assert_eq!(got[0].0.units, 18);
    assert_eq!(got[1].1, xml2.as_bytes());
    assert_eq!(guid_text(&got[1].0.id), ID);
    assert!(read(b"").unwrap().is_empty());
}

#[test]
fn malformed_records_are_refused_naming_the_record() {
    let good = record(ID, 1, "<a/>");
    let cases: Vec<(String, &str)> = vec![
        (good.clone() + &good[..20], "record 2: truncated"),
        (
            good.clone() + &format!("{ID},00000001,00000009,<a/>\r\n"),
            "record 2: its length (9 UTF-16 code units) runs past the end",
        ),
        (
            format!("{ID},00000001,00000003,<a/>\r\n"),
            "record 1: its length (3 UTF-16 code units) does not land",
        ),
        (format!("{ID},00000001,00000004,<a/>"), "record 1: the CRLF"),
        (
            format!("{ID},00000001,00000004,<a/>") + &good,
            "record 1: the CRLF that ends it is missing (the next",
        ),
        (
            good.clone() + &format!("{ID},0000001,00000004,<a/>\r\n"),
            "record 2: the revision field '0000001'",
        ),
        (
            format!("{ID},00000001,0000000A,<a/>\r\n"),
            "record 1: the length field '0000000A'",
        ),
        (
            format!("{},00000001,00000004,<a/>\r\n", ID.to_uppercase()),
            "record 1: the UpdateID field",
        ),
        (
            format!("{ID},00000001,00000001,\u{1F600}\r\n"),
            "ends inside a character",
        ),
    ];
    for (text, want) in cases {
        let e = read(text.as_bytes()).unwrap_err();
        assert!(e.message.contains(want), "{want}: {}", e.message);
    }
    let bad_utf8 = [format!("{ID},00000001,00000002,").as_bytes(), b"\xff>\r\n"].concat();
    let e = read(&bad_utf8).unwrap_err();
    assert!(e.message.contains("record 1: the XML is not UTF-8"), "{e}");
}

#[test]
fn guids_are_lowercase_only() {
    assert!(lowercase_guid(ID.as_bytes()).is_some());
    assert!(lowercase_guid(ID.to_uppercase().as_bytes()).is_none());
    assert!(lowercase_guid(&ID.as_bytes()[1..]).is_none());
    assert!(lowercase_guid(ID.replace('-', "x").as_bytes()).is_none());
}
