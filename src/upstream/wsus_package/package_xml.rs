//! A WSUS export package's `package.xml`: what offsync takes from it is the root
//! `ExportPackage`'s `ServerID` and `CreationTime`, and its `Updates` list (UpdateId and
//! RevisionNumber of each `Update`, in order), which must agree with `metadata.txt`. The
//! `Languages`, `Files`, and each update's `Files`, `Categories` and `Classifications` are
//! skipped: the documents in `metadata.txt` say all of it.

use super::records::lowercase_guid;
use crate::error::{Error, Result};
use crate::model::Guid;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use std::io::BufRead;

/// What `package.xml` says.
#[derive(Debug, Default)]
pub struct PackageXml {
    pub server_id: Option<String>,
    pub created: Option<String>,
    /// `Updates/Update` in order: UpdateId (as 16 bytes) and RevisionNumber.
    pub updates: Vec<([u8; 16], u32)>,
    /// Whether there was an `Updates` element at all.
    pub has_updates: bool,
    pub warnings: Vec<String>,
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::other(format!("package.xml: {what}"))
}

/// The attribute `name` (by local name) of `e`.
fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>> {
    let mut it = e.attributes();
    it.with_checks(false);
    for a in it {
        let a = a.map_err(|err| bad(format!("malformed attribute: {err}")))?;
        if a.key.local_name().into_inner() == name {
            let v = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| bad(format!("malformed attribute {name}: {err}")))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Reads `package.xml` from `r` in one streaming pass.
pub fn parse<R: BufRead>(r: R) -> Result<PackageXml> {
    let mut xml = Reader::from_reader(r);
    let mut buf = Vec::with_capacity(4096);
    let mut out = PackageXml::default();
    // The local names of the open elements from the root down.
    let mut path: Vec<String> = Vec::new();
    let mut seen_root = false;
    loop {
        buf.clear();
        let event = xml.read_event_into(&mut buf).map_err(|e| {
            bad(format!(
                "malformed XML at byte {}: {e}",
                xml.error_position()
            ))
        })?;
        let (e, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                path.pop();
                continue;
            }
            Event::Eof if !path.is_empty() => {
                return Err(bad(format!(
                    "truncated: the text ends inside <{}>",
                    path.join("/")
                )));
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = e.local_name().into_inner().to_string();
        if path.is_empty() {
            if seen_root || name != "ExportPackage" {
                return Err(bad(format!(
                    "the root element is <{name}>, not one ExportPackage: not a WSUS export package"
                )));
            }
            seen_root = true;
            root(&e, &mut out)?;
        } else if path.len() == 1 && name == "Updates" {
            out.has_updates = true;
        } else if path.len() == 2 && path[1] == "Updates" && name == "Update" {
            out.updates.push(update(&e, out.updates.len() + 1)?);
        }
        if !empty {
            path.push(name);
        }
    }
    if !seen_root {
        return Err(bad("no ExportPackage element: not a WSUS export package"));
    }
    Ok(out)
}

/// `ExportPackage @ServerID @CreationTime`: kept when well formed, a warning otherwise (they
/// identify the package; nothing is read by them).
fn root(e: &BytesStart<'_>, out: &mut PackageXml) -> Result<()> {
    match attr(e, "ServerID")? {
        Some(v) if Guid::parse(&v).is_some() => out.server_id = Some(v.trim().to_string()),
        Some(v) => out.warnings.push(format!(
            "package.xml: ServerID '{}' is not a GUID; ignored",
            v.escape_debug()
        )),
        None => out
            .warnings
            .push("package.xml: ExportPackage has no ServerID".into()),
    }
    match attr(e, "CreationTime")? {
        Some(v) if crate::time::Timestamp::parse_rfc3339(v.trim()).is_some() => {
            out.created = Some(v.trim().to_string())
        }
        Some(v) => out.warnings.push(format!(
            "package.xml: CreationTime '{}' is not a UTC time; the package's age could not be checked",
            v.escape_debug()
        )),
        None => out.warnings.push(
            "package.xml: ExportPackage has no CreationTime; the package's age could not be checked"
                .into(),
        ),
    }
    Ok(())
}

/// `Update @UpdateId @RevisionNumber`, the `n`th of the list.
fn update(e: &BytesStart<'_>, n: usize) -> Result<([u8; 16], u32)> {
    let id = attr(e, "UpdateId")?
        .and_then(|v| Guid::parse(&v))
        .and_then(|g| lowercase_guid(g.as_str().as_bytes()))
        .ok_or_else(|| bad(format!("Update {n} of Updates has no valid UpdateId")))?;
    let rev = attr(e, "RevisionNumber")?
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or_else(|| bad(format!("Update {n} of Updates has no valid RevisionNumber")))?;
    Ok((id, rev))
}
