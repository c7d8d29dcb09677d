//! One `metadata.txt` record: the stored upstream document turned into the text the record
//! holds, and the non-category prerequisites the document names.
//!
//! The record text is the document decoded (UTF-8 or UTF-16, its BOM dropped: the file is
//! UTF-8 without BOM) with a leading XML declaration and the white space right after it
//! removed (real records start at the root element, and a declaration saying `utf-16` would
//! be false in a UTF-8 file). Nothing else changes: namespace declarations, white space,
//! line breaks and every language stay as the upstream wrote them.

use crate::upstream::upd_xml::decode_text;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// The record text of a stored document, or why it has none.
pub fn record_text(doc: &[u8]) -> Result<String, String> {
    let text = decode_text(doc).map_err(|e| e.to_string())?;
    let body = match text.strip_prefix("<?xml") {
        Some(rest) if rest.starts_with([' ', '\t', '\r', '\n']) => match rest.find("?>") {
            Some(end) => rest[end + 2..].trim_start_matches([' ', '\t', '\r', '\n']),
            None => return Err("its XML declaration is not closed".into()),
        },
        _ => &text[..],
    };
    Ok(body.to_string())
}

/// The record line: `<id>,<revision>,<length>,<xml>` and CRLF, the length in UTF-16 code
/// units of the XML (what .NET's `String.Length` counts), both numbers 8 lowercase hex digits.
pub fn record_line(id: &str, revision: u32, xml: &str) -> Result<String, String> {
    let units = xml.encode_utf16().count();
    let units = u32::try_from(units).map_err(|_| {
        format!("its text has {units} UTF-16 code units, more than 8 hex digits hold")
    })?;
    Ok(format!(
        "{},{revision:08x},{units:08x},{xml}\r\n",
        id.to_ascii_lowercase()
    ))
}

/// The UpdateIDs named as plain prerequisites (directly under `Prerequisites`, or in an
/// `AtLeastOne` group that is not `IsCategory="true"`): detectoids, or other updates. The
/// category groups are the update's categories, which the store keeps already.
pub fn plain_prerequisites(xml: &str) -> Result<Vec<String>, String> {
    let mut reader = Reader::from_str(xml);
    // Local names of the open elements, and whether each open AtLeastOne is a category group.
    let mut path: Vec<String> = Vec::new();
    let mut category_group = false;
    let mut out = Vec::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        let (e, open) = match ev {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(_) => {
                if path.pop().as_deref() == Some("AtLeastOne") {
                    category_group = false;
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = e.local_name().into_inner().to_string();
        let parent = path.last().map(String::as_str);
        let grand = path.len().checked_sub(2).map(|i| path[i].as_str());
        let attr = |wanted: &str| -> Option<String> {
            e.attributes().flatten().find_map(|a| {
                (a.key.local_name().into_inner() == wanted).then(|| a.value.to_string())
            })
        };
        match (name.as_str(), parent, grand) {
            ("UpdateIdentity", Some("Prerequisites"), _) => out.extend(attr("UpdateID")),
            ("UpdateIdentity", Some("AtLeastOne"), Some("Prerequisites")) if !category_group => {
                out.extend(attr("UpdateID"))
            }
            ("AtLeastOne", Some("Prerequisites"), _) => {
                category_group =
                    attr("IsCategory").is_some_and(|v| v.trim() == "true" || v.trim() == "1");
            }
            _ => {}
        }
        if open {
            path.push(name);
        }
    }
    let mut ids: Vec<String> = out
        .into_iter()
        .filter_map(|s| crate::model::Guid::parse(&s).map(|g| g.to_string()))
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_and_bom_go_the_rest_stays() {
        let doc: Vec<u8> = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-16\"?>\r\n<a>Å\r\n</a>\n"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(record_text(&doc).unwrap(), "<a>Å\r\n</a>\n");
        assert_eq!(record_text(b"\xEF\xBB\xBF<a/>").unwrap(), "<a/>");
        assert_eq!(record_text(b"  <a/>").unwrap(), "  <a/>");
    }

    #[test]
    fn the_length_counts_utf16_code_units() {
        let line = record_line("ABC", 0x1f, "<a>é😀</a>").unwrap();
        // é is one unit, 😀 two: 7 + 1 + 2 = 10.
        assert_eq!(line, "abc,0000001f,0000000a,<a>é😀</a>\r\n");
    }

    #[test]
    fn plain_prerequisites_leave_category_groups_out() {
        let xml = r#"<u:Update xmlns:u="x"><u:Relationships><u:Prerequisites>
            <u:UpdateIdentity UpdateID="E603851B-317C-4304-8805-2CE1F4E47F0F"/>
            <u:AtLeastOne IsCategory="true"><u:UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441"/></u:AtLeastOne>
            <u:AtLeastOne><u:UpdateIdentity UpdateID="59653007-e2e9-4f71-8525-2ff588527978"/></u:AtLeastOne>
            </u:Prerequisites><u:BundledUpdates><u:UpdateIdentity UpdateID="5f82e7d6-8f63-4f0a-817f-72d40c32c46a"/></u:BundledUpdates>
            </u:Relationships></u:Update>"#;
        assert_eq!(
            plain_prerequisites(xml).unwrap(),
            [
                "59653007-e2e9-4f71-8525-2ff588527978",
                "e603851b-317c-4304-8805-2ce1f4e47f0f"
            ]
        );
    }
}
