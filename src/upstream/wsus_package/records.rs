//! The record framing of a WSUS export package's `metadata.txt`:
//! `<UpdateID>,<revision>,<length>,<XML>` then CRLF, where the UpdateID is a lowercase GUID,
//! the revision and the length are 8 lowercase hex digits, and the length counts the UTF-16
//! code units of the XML (what .NET's `String.Length` gives), not its bytes. The XML may hold
//! line breaks, so the length alone says where a record ends; the CRLF that follows it is
//! checked, never searched for.
//!
//! Records are read one at a time from a stream: memory holds one record, whatever the size
//! of the file.

use crate::error::{Error, ErrorKind, Result};
use crate::store::MAX_DOCUMENT_BYTES;
use std::io::{self, BufRead, Read};

/// `<36-character GUID>,<8 hex>,<8 hex>,`
const HEAD: usize = 36 + 1 + 8 + 1 + 8 + 1;

/// One record's framing fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// 1-based, as errors name it.
    pub number: u32,
    /// The UpdateID as 16 bytes, in the order of its text.
    pub id: [u8; 16],
    pub revision: u32,
    /// UTF-16 code units of the XML.
    pub units: u32,
}

/// Why a record cannot be read: the message names the record; the caller adds the file.
pub fn bad(number: u32, what: impl std::fmt::Display) -> Error {
    Error::other(format!("metadata.txt record {number}: {what}"))
}

/// Reads the records of `r` one after the other into `xml` (cleared first) and calls `each`
/// with the record's framing fields and its XML bytes, exactly as in the file. `io` turns a
/// read error of the underlying (decompressed) stream into the caller's error.
pub fn read_records<R: BufRead>(
    r: &mut R,
    io: &dyn Fn(io::Error) -> Error,
    each: &mut dyn FnMut(&Head, &[u8]) -> Result<()>,
) -> Result<u32> {
    let mut xml = Vec::new();
    let mut number = 0u32;
    loop {
        if r.fill_buf().map_err(io)?.is_empty() {
            return Ok(number);
        }
        number = number
            .checked_add(1)
            .ok_or_else(|| Error::new(ErrorKind::Limit, "metadata.txt: too many records"))?;
        let head = read_head(r, number, io)?;
        xml.clear();
        read_xml(r, &head, &mut xml, io)?;
        read_crlf(r, &head, &xml, io)?;
        if let Err(e) = std::str::from_utf8(&xml) {
            return Err(not_utf8(number, e.valid_up_to()));
        }
        each(&head, &xml)?;
    }
}

/// Reads as much as fits of `buf`; returns how much was read (short only at the end).
fn read_full<R: Read>(r: &mut R, buf: &mut [u8], io: &dyn Fn(io::Error) -> Error) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(got)
}

/// Text from the file as it can be shown in a message: escaped, at most 40 characters.
fn shown(bytes: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(bytes).chars().take(40).collect();
    s.escape_debug().to_string()
}

/// The field of `width` bytes at `at` in `head`, which a comma must follow; on error, what
/// the field holds up to its comma.
fn field(head: &[u8], at: usize, width: usize) -> std::result::Result<&[u8], String> {
    let rest = &head[at..];
    let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
    if end == width {
        Ok(&rest[..width])
    } else {
        Err(shown(&rest[..end]))
    }
}

fn read_head<R: BufRead>(r: &mut R, number: u32, io: &dyn Fn(io::Error) -> Error) -> Result<Head> {
    let mut head = [0u8; HEAD];
    let got = read_full(r, &mut head, io)?;
    let head = &head[..got];
    let id = field(head, 0, 36)
        .ok()
        .and_then(lowercase_guid)
        .ok_or_else(|| {
            let text = field(head, 0, 36).map_or_else(|t| t, shown);
            bad(
                number,
                format!("the UpdateID field '{text}' is not a lowercase GUID followed by ','"),
            )
        });
    let id = match id {
        Ok(id) => id,
        // A header cut short by the end of the file is truncation, not a bad field.
        Err(_) if got < HEAD => return Err(truncated_head(number, head)),
        Err(e) => return Err(e),
    };
    let hex = |at: usize, what: &str| -> Result<u32> {
        match field(head, at, 8) {
            Ok(f) if f.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
                let s = std::str::from_utf8(f).expect("hex digits are ASCII");
                Ok(u32::from_str_radix(s, 16).expect("8 hex digits fit a u32"))
            }
            _ if got < HEAD => Err(truncated_head(number, head)),
            Ok(f) => Err(not_hex(number, what, &shown(f))),
            Err(t) => Err(not_hex(number, what, &t)),
        }
    };
    let revision = hex(37, "revision")?;
    let units = hex(46, "length")?;
    Ok(Head {
        number,
        id,
        revision,
        units,
    })
}

fn not_utf8(number: u32, at: usize) -> Error {
    bad(
        number,
        format!("the XML is not UTF-8 (at byte {at} of the record's XML)"),
    )
}

fn truncated_head(number: u32, head: &[u8]) -> Error {
    bad(
        number,
        format!(
            "truncated: the file ends inside the record's header ('{}')",
            shown(head)
        ),
    )
}

fn not_hex(number: u32, what: &str, text: &str) -> Error {
    bad(
        number,
        format!("the {what} field '{text}' is not 8 lowercase hex digits followed by ','"),
    )
}

/// The 16 bytes of a lowercase GUID `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn lowercase_guid(text: &[u8]) -> Option<[u8; 16]> {
    if text.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    for (i, &c) in text.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        out[nibbles / 2] |= if nibbles.is_multiple_of(2) { v << 4 } else { v };
        nibbles += 1;
    }
    Some(out)
}

/// The GUID text of 16 bytes from [`lowercase_guid`].
pub fn guid_text(id: &[u8; 16]) -> String {
    crate::model::guid_text(id)
}

/// Reads the XML of `head.units` UTF-16 code units into `xml`: UTF-8 characters are counted
/// by their lead bytes (one unit each, two for a 4-byte character, which is a surrogate pair
/// in UTF-16). The text is checked as UTF-8 once whole.
fn read_xml<R: BufRead>(
    r: &mut R,
    head: &Head,
    xml: &mut Vec<u8>,
    io: &dyn Fn(io::Error) -> Error,
) -> Result<()> {
    let want = head.units as u64;
    let (mut units, mut pending) = (0u64, 0u8);
    while units < want || pending > 0 {
        let buf = r.fill_buf().map_err(io)?;
        if buf.is_empty() {
            return Err(bad(
                head.number,
                format!(
                    "its length ({} UTF-16 code units) runs past the end of metadata.txt ({units} read): the record is truncated or its length is wrong",
                    head.units
                ),
            ));
        }
        let mut used = 0;
        for &b in buf {
            if units >= want && pending == 0 {
                break;
            }
            used += 1;
            let is_continuation = (0x80..=0xBF).contains(&b);
            if pending > 0 && is_continuation {
                pending -= 1;
                continue;
            }
            let (more, n) = match b {
                _ if pending > 0 || is_continuation => {
                    return Err(not_utf8(head.number, xml.len() + used - 1));
                }
                0xF0..=0xF4 => (3, 2),
                0xE0..=0xEF => (2, 1),
                0xC2..=0xDF => (1, 1),
                0x00..=0x7F => (0, 1),
                _ => return Err(not_utf8(head.number, xml.len() + used - 1)),
            };
            if units + n > want {
                return Err(bad(
                    head.number,
                    format!(
                        "its length ({} UTF-16 code units) ends inside a character: it does not land on the record's end",
                        head.units
                    ),
                ));
            }
            units += n;
            pending = more;
        }
        xml.extend_from_slice(&buf[..used]);
        r.consume(used);
        if xml.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::new(
                ErrorKind::Limit,
                format!(
                    "metadata.txt record {}: the XML is larger than the limit of {MAX_DOCUMENT_BYTES} bytes",
                    head.number
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the CRLF that ends a record, telling a missing CRLF (the next record's header
/// follows at once, or the file ends) from a length that lands off the record's end.
fn read_crlf<R: BufRead>(
    r: &mut R,
    head: &Head,
    xml: &[u8],
    io: &dyn Fn(io::Error) -> Error,
) -> Result<()> {
    let mut two = [0u8; 2];
    let got = read_full(r, &mut two, io)?;
    if &two[..got] == b"\r\n" {
        return Ok(());
    }
    let n = head.number;
    let what = match got {
        0 => "the CRLF that ends it is missing at the end of the file".to_string(),
        1 if two[0] == b'\r' => "truncated: the file ends inside the CRLF that ends it".into(),
        _ => {
            let next = r.fill_buf().map_err(io)?;
            let mut peek = two[..got].to_vec();
            peek.extend_from_slice(&next[..next.len().min(HEAD)]);
            if peek.len() > 36 && peek[36] == b',' && lowercase_guid(&peek[..36]).is_some() {
                "the CRLF that ends it is missing (the next record follows at once)".into()
            } else if !xml.trim_ascii_end().ends_with(b">") {
                format!(
                    "its length ({} UTF-16 code units) does not land on the record's end: the XML would end with '{}'",
                    head.units,
                    shown(&xml[xml.len().saturating_sub(20)..])
                )
            } else {
                format!(
                    "its length ({} UTF-16 code units) does not land on the record's end: it is followed by '{}', not CRLF",
                    head.units,
                    shown(&peek)
                )
            }
        }
    };
    Err(bad(n, what))
}
