//! Reader for the WSUS update metadata document (`upd:Update`, namespace
//! `http://schemas.microsoft.com/msus/2002/12/Update`): one XML document per update revision,
//! as upstream WSUS serves it and `wsusutil export` writes it.
//!
//! The document is read in one streaming pass over the decoded text. Elements are matched by
//! their local name only: prefixes, namespace declarations (also re-declared on children) and
//! attribute order do not matter. Subtrees that the model does not use (`ApplicabilityRules`,
//! `InstallationBehavior`, driver metadata, URLs...) are skipped without being interpreted.
//!
//! Encodings: UTF-8 with or without BOM, UTF-16LE with or without BOM, UTF-16BE with BOM (and
//! without one when the text starts with `\0<`). An XML declaration naming any other encoding
//! is refused, as is text that is not valid in the sniffed encoding.

use crate::model::{
    BundledRef, Category, CategoryKind, FileRef, Guid, Localized, PublicationState, Update,
};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// What one `upd:Update` document defines.
// Returned and consumed one at a time, never kept in bulk: boxing the update would only add an
// allocation per document.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Document {
    /// `UpdateType="Category"`: a company, product family, product or classification.
    Category(Category),
    /// Anything else: software update, driver, detectoid, ...
    Update(Update),
}

/// Why a document could not be read. The message names the offending value or the byte
/// position; the caller adds which document it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocError {
    pub message: String,
}

impl DocError {
    fn new(message: impl Into<String>) -> DocError {
        DocError {
            message: message.into(),
        }
    }
}

impl fmt::Display for DocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DocError {}

/// Parses one `upd:Update` document (any supported encoding) into a category or an update.
pub fn parse_document(bytes: &[u8]) -> Result<Document, DocError> {
    parse_with_prerequisites(bytes).map(|(doc, _)| doc)
}

/// [`parse_document`], with the UpdateIDs the document names as plain prerequisites
/// (directly under `Prerequisites`, or in an `AtLeastOne` group that is not a category group):
/// detectoids or other updates, in document order, without duplicates. A sync selects the
/// detectoids a selected update needs, so that a published package holds them.
pub fn parse_with_prerequisites(bytes: &[u8]) -> Result<(Document, Vec<Guid>), DocError> {
    let (text, origin) = decode(bytes)?;
    let mut b = Parser::new(&text, origin).document()?;
    let prerequisites = std::mem::take(&mut b.prerequisites);
    Ok((b.finish()?, prerequisites))
}

/// The parts of one update revision that arrive as separate fragments, as in the offline
/// catalog (`super::wsusscn2`): the core fragment (`UpdateIdentity`, `Properties`,
/// `Relationships`), the extended one (`ExtendedProperties`, `Files`, `HandlerSpecificData`)
/// and one localized fragment per language (`LocalizedProperties`). Each fragment holds
/// `upd:Update` children without a root element and without namespaces; elements are read
/// exactly as in a whole document, so a fragment may come in any supported encoding.
#[derive(Default)]
pub struct Fragments {
    b: Builder,
}

impl Fragments {
    pub fn new() -> Fragments {
        Fragments::default()
    }

    /// Reads one fragment into the revision's parts.
    pub fn add(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        let (text, origin) = decode(bytes)?;
        Parser::new(&text, origin).fragment(&mut self.b)
    }

    /// `HandlerSpecificData/CategoryInformation/@CategoryType`, when an extended fragment of
    /// a category gave one.
    pub fn category_type(&self) -> Option<&str> {
        self.b.category_type.as_deref()
    }

    /// `Properties/@UpdateType` (`Software`, `Category`, `Detectoid`...), when a core
    /// fragment gave one.
    pub fn update_type(&self) -> Option<&str> {
        self.b.update_type.as_deref()
    }

    /// The title in `lang`, else in English, else in any language read.
    pub fn title(&self, lang: &str) -> Option<&str> {
        let l = &self.b.localized;
        l.get(lang)
            .or_else(|| l.get("en"))
            .or_else(|| l.values().next())
            .map(|x| x.title.as_str())
    }

    /// The category or update the fragments describe, as [`parse_document`] would give it
    /// for the whole document.
    pub fn finish(self) -> Result<Document, DocError> {
        self.b.finish()
    }
}

/// Sniffs the encoding and returns the text: UTF-8 with/without BOM, UTF-16LE with/without BOM
/// (detected by a `<\0` start), UTF-16BE with BOM (or a `\0<` start). An XML declaration naming
/// another encoding (e.g. ISO-8859-1, windows-1252) is an "unknown encoding" error naming it;
/// invalid UTF-8/UTF-16 is an error too. UTF-8 text is borrowed, UTF-16 text is converted.
pub fn decode_text(bytes: &[u8]) -> Result<Cow<'_, str>, DocError> {
    decode(bytes).map(|(text, _)| text)
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Where the decoded text came from, to turn parser positions into positions a person can find.
#[derive(Clone, Copy, Debug)]
enum Origin {
    /// UTF-8; the BOM length is added back so positions are file offsets.
    Utf8 { bom: usize },
    /// UTF-16; positions are in the UTF-8 text it was converted to.
    Utf16,
}

impl Origin {
    fn at(self, pos: u64) -> String {
        match self {
            Origin::Utf8 { bom } => format!("byte {}", pos + bom as u64),
            Origin::Utf16 => format!("byte {pos} of the text decoded from UTF-16"),
        }
    }
}

fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, Origin), DocError> {
    let (text, origin) = match bytes {
        [0xFF, 0xFE, 0, 0, ..] | [0, 0, 0xFE, 0xFF, ..] => {
            return Err(DocError::new(
                "unknown encoding: the document is UTF-32, only UTF-8 and UTF-16 are read",
            ));
        }
        [0xEF, 0xBB, 0xBF, rest @ ..] => (utf8(rest, 3)?, Origin::Utf8 { bom: 3 }),
        [0xFF, 0xFE, rest @ ..] => (Cow::Owned(utf16(rest, 2, true)?), Origin::Utf16),
        [0xFE, 0xFF, rest @ ..] => (Cow::Owned(utf16(rest, 2, false)?), Origin::Utf16),
        // No BOM: XML starts with an ASCII character, so a zero byte beside it gives UTF-16 away.
        [a, 0, ..] if *a != 0 => (Cow::Owned(utf16(bytes, 0, true)?), Origin::Utf16),
        [0, b, ..] if *b != 0 => (Cow::Owned(utf16(bytes, 0, false)?), Origin::Utf16),
        _ => (utf8(bytes, 0)?, Origin::Utf8 { bom: 0 }),
    };
    if let Some(name) = declared_encoding(&text) {
        // The bytes were already decoded by sniffing; a declaration of UTF-8 or UTF-16 (in
        // either form: .NET writes encoding="utf-16" on text it later saves as UTF-8) agrees
        // well enough. Anything else would need a decoder we do not have.
        let known = [
            "utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "unicode", "us-ascii", "ascii",
        ];
        if !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            return Err(DocError::new(format!(
                "unknown encoding '{name}' in the XML declaration: only UTF-8 and UTF-16 documents are read"
            )));
        }
    }
    Ok((text, origin))
}

fn utf8(bytes: &[u8], offset: usize) -> Result<Cow<'_, str>, DocError> {
    std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| {
        DocError::new(format!(
            "invalid UTF-8 at byte {}",
            e.valid_up_to() + offset
        ))
    })
}

fn utf16(bytes: &[u8], offset: usize, little_endian: bool) -> Result<String, DocError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(DocError::new(format!(
            "invalid UTF-16: odd number of bytes ({})",
            bytes.len() + offset
        )));
    }
    let units = bytes.chunks_exact(2).map(|c| {
        if little_endian {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    // Mostly ASCII: one UTF-8 byte per code unit, plus a little room for the rest.
    let mut out = String::with_capacity(bytes.len() / 2 + bytes.len() / 16);
    let mut unit = 0usize;
    for r in char::decode_utf16(units) {
        match r {
            Ok(c) => {
                unit += c.len_utf16();
                out.push(c);
            }
            Err(e) => {
                return Err(DocError::new(format!(
                    "invalid UTF-16 at byte {}: unpaired surrogate {:#06x}",
                    offset + unit * 2,
                    e.unpaired_surrogate()
                )));
            }
        }
    }
    Ok(out)
}

/// The `encoding` pseudo-attribute of a leading XML declaration, if there is one.
fn declared_encoding(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("<?xml")?;
    if !rest.starts_with([' ', '\t', '\r', '\n']) {
        return None;
    }
    let decl = &rest[..rest.find("?>")?];
    let after = &decl[decl.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].trim())
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Accepts base64 with or without padding (the real documents pad).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What the pass collects before it is turned into the model.
#[derive(Default)]
struct Builder {
    identity: Option<(Guid, u32)>,
    update_type: Option<String>,
    default_language: Option<String>,
    severity: Option<String>,
    creation_date: Option<String>,
    expired: bool,
    kb: Option<String>,
    languages: Vec<String>,
    localized: BTreeMap<String, Localized>,
    categories: Vec<Guid>,
    /// The first `IsCategory` member in document order: a category's parent.
    first_category: Option<Guid>,
    supersedes: Vec<Guid>,
    bundled: Vec<BundledRef>,
    files: Vec<FileRef>,
    category_type: Option<String>,
    /// Plain prerequisites (not category groups), without duplicates.
    prerequisites: Vec<Guid>,
}

impl Builder {
    fn finish(self) -> Result<Document, DocError> {
        let (id, revision) = self
            .identity
            .ok_or_else(|| DocError::new("document has no UpdateIdentity"))?;
        let update_type = self.update_type.ok_or_else(|| {
            DocError::new(format!(
                "update {id}: document has no Properties/@UpdateType"
            ))
        })?;
        let is_category = update_type.eq_ignore_ascii_case("Category");
        let mut update = Update {
            id,
            revision,
            update_type,
            default_language: self.default_language,
            localized: self.localized,
            kb: self.kb,
            severity: self.severity,
            creation_date: self.creation_date,
            languages: self.languages,
            categories: self.categories,
            publication_state: if self.expired {
                PublicationState::Expired
            } else {
                PublicationState::Published
            },
            supersedes: self.supersedes,
            bundled: self.bundled,
            files: self.files,
        };
        update.normalize();
        if !is_category {
            return Ok(Document::Update(update));
        }
        let id = &update.id;
        let ty = self.category_type.ok_or_else(|| {
            DocError::new(format!("category {id}: document has no HandlerSpecificData/CategoryInformation/@CategoryType"))
        })?;
        let kind = CategoryKind::parse(&ty)
            .ok_or_else(|| DocError::new(format!("category {id}: unknown CategoryType '{ty}'")))?;
        Ok(Document::Category(Category {
            title: update.title("en").to_string(),
            id: update.id,
            revision: update.revision,
            kind,
            parent: self.first_category,
        }))
    }
}

struct Parser<'a> {
    reader: Reader<&'a [u8]>,
    origin: Origin,
}

/// The local name of an element (`upd:Title` -> `Title`).
fn local<'e>(e: &'e BytesStart<'_>) -> &'e str {
    e.local_name().into_inner()
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn trim_cow(c: Cow<'_, str>) -> Cow<'_, str> {
    match c {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim_matches(is_xml_space)),
        Cow::Owned(s) => {
            let t = s.trim_matches(is_xml_space);
            if t.len() == s.len() {
                Cow::Owned(s)
            } else {
                Cow::Owned(t.to_owned())
            }
        }
    }
}

fn push_text<'a>(out: &mut Cow<'a, str>, s: Cow<'a, str>) {
    if out.is_empty() {
        *out = s;
    } else {
        out.to_mut().push_str(&s);
    }
}

/// Prerequisite lists are short (a handful of detectoids): a linear check keeps document order.
fn push_unique(list: &mut Vec<Guid>, id: Guid) {
    if !list.contains(&id) {
        list.push(id);
    }
}

fn is_true(v: &str) -> bool {
    v.trim() == "1" || v.trim().eq_ignore_ascii_case("true")
}

fn parse_guid(v: &str, what: &str) -> Result<Guid, DocError> {
    Guid::parse(v).ok_or_else(|| DocError::new(format!("{what}: '{v}' is not a GUID")))
}

fn parse_revision(v: &str, what: &str) -> Result<u32, DocError> {
    v.trim().parse::<u32>().map_err(|_| {
        DocError::new(format!(
            "{what}: RevisionNumber '{v}' is not a revision number"
        ))
    })
}

/// `KB5013943`, `5013943` -> `5013943`; anything not all digits -> None.
fn parse_kb(v: &str) -> Option<String> {
    let t = v.trim();
    let t = match t.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("KB") => t[2..].trim_start(),
        _ => t,
    };
    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.to_string())
}

/// Decodes a base64 digest of exactly N bytes: Ok(None) when it is valid base64 of another
/// length, an error naming the file when it is not base64.
fn decode_digest<const N: usize>(
    v: &str,
    file: &str,
    attr: &str,
) -> Result<Option<[u8; N]>, DocError> {
    let v = v.trim();
    let mut buf = [0u8; 64];
    match BASE64.decode_slice(v, &mut buf) {
        Ok(n) if n == N => {
            let mut out = [0u8; N];
            out.copy_from_slice(&buf[..N]);
            Ok(Some(out))
        }
        Ok(_) | Err(base64::DecodeSliceError::OutputSliceTooSmall) => Ok(None),
        Err(base64::DecodeSliceError::DecodeError(e)) => Err(DocError::new(format!(
            "File '{file}': {attr} '{v}' is not base64 ({e})"
        ))),
    }
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, origin: Origin) -> Parser<'a> {
        Parser {
            reader: Reader::from_str(text),
            origin,
        }
    }

    fn malformed_at(&self, pos: u64, e: impl fmt::Display) -> DocError {
        DocError::new(format!("malformed XML at {}: {e}", self.origin.at(pos)))
    }

    fn next(&mut self) -> Result<Event<'a>, DocError> {
        self.reader
            .read_event()
            .map_err(|e| self.malformed_at(self.reader.error_position(), e))
    }

    /// Skips the content of an element whose start tag was just read.
    fn skip(&mut self, e: &BytesStart<'_>) -> Result<(), DocError> {
        match self.reader.read_to_end(e.name()) {
            Ok(_) => Ok(()),
            Err(err) => Err(self.malformed_at(self.reader.error_position(), err)),
        }
    }

    /// Skips the element if it has content (a start tag rather than an empty-element tag).
    fn done(&mut self, e: &BytesStart<'_>, open: bool) -> Result<(), DocError> {
        if open { self.skip(e) } else { Ok(()) }
    }

    /// The next child element of the current element, with whether it has content (`Start`)
    /// or not (`Empty`); None at the current element's end tag. The caller must consume or
    /// skip the content of an open child before asking for the next one.
    fn child(&mut self) -> Result<Option<(BytesStart<'a>, bool)>, DocError> {
        loop {
            match self.next()? {
                Event::Start(e) => return Ok(Some((e, true))),
                Event::Empty(e) => return Ok(Some((e, false))),
                Event::End(_) => return Ok(None),
                Event::Eof => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "the document ends inside an element"));
                }
                _ => {}
            }
        }
    }

    /// Calls `f` with the local name and value of every attribute that is not a namespace
    /// declaration, in document order.
    fn attrs<'e>(
        &self,
        e: &'e BytesStart<'_>,
        mut f: impl FnMut(&str, Cow<'e, str>) -> Result<(), DocError>,
    ) -> Result<(), DocError> {
        let mut it = e.attributes();
        it.with_checks(false);
        for a in it {
            let a = a.map_err(|err| self.malformed_at(self.reader.buffer_position(), err))?;
            if a.key.as_namespace_binding().is_some() {
                continue;
            }
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| self.malformed_at(self.reader.buffer_position(), err))?;
            f(a.key.local_name().into_inner(), value)?;
        }
        Ok(())
    }

    /// The text content of the element whose start tag was just read, trimmed; consumes its
    /// end tag. Borrowed from the input unless it had references, CDATA or line ends to fix.
    fn text(&mut self) -> Result<Cow<'a, str>, DocError> {
        let mut out: Cow<'a, str> = Cow::Borrowed("");
        loop {
            match self.next()? {
                Event::Text(t) => push_text(&mut out, t.xml10_content()),
                Event::CData(c) => push_text(&mut out, c.xml10_content()),
                Event::GeneralRef(r) => {
                    let pos = self.reader.buffer_position();
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => out.to_mut().push(c),
                        Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r) {
                            Some(s) => push_text(&mut out, Cow::Borrowed(s)),
                            None => {
                                return Err(
                                    self.malformed_at(pos, format!("unknown entity &{};", &*r))
                                );
                            }
                        },
                        Err(e) => return Err(self.malformed_at(pos, e)),
                    }
                }
                Event::Start(e) => self.skip(&e)?,
                Event::End(_) => break,
                Event::Eof => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "the document ends inside an element"));
                }
                _ => {}
            }
        }
        Ok(trim_cow(out))
    }

    fn document(mut self) -> Result<Builder, DocError> {
        let (root, open) = loop {
            match self.next()? {
                Event::Start(e) => break (e, true),
                Event::Empty(e) => break (e, false),
                Event::Eof => return Err(DocError::new("document has no root element")),
                Event::Text(t) if !t.trim_matches(is_xml_space).is_empty() => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "text before the root element"));
                }
                Event::GeneralRef(_) | Event::CData(_) => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "text before the root element"));
                }
                _ => {}
            }
        };
        if local(&root) != "Update" {
            return Err(DocError::new(format!(
                "root element is <{}>, not an upd:Update document",
                root.name().into_inner()
            )));
        }
        // Attributes are only checked where they are read; check the root's (namespace
        // declarations) so that a broken start tag at the very top is not passed over.
        self.attrs(&root, |_, _| Ok(()))?;
        let mut b = Builder::default();
        if open {
            self.update(&mut b)?;
        }
        // Only comments, processing instructions and white space may follow the root.
        loop {
            match self.next()? {
                Event::Eof => break,
                Event::Start(_) | Event::Empty(_) | Event::CData(_) | Event::GeneralRef(_) => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "content after the root element"));
                }
                Event::Text(t) if !t.trim_matches(is_xml_space).is_empty() => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "content after the root element"));
                }
                _ => {}
            }
        }
        Ok(b)
    }

    /// Children of the root element.
    fn update(&mut self, b: &mut Builder) -> Result<(), DocError> {
        while let Some((e, open)) = self.child()? {
            self.update_child(&e, open, b)?;
        }
        Ok(())
    }

    /// One child of the root element (or one top-level element of a fragment), whose start
    /// tag was just read; consumes its content.
    fn update_child(
        &mut self,
        e: &BytesStart<'_>,
        open: bool,
        b: &mut Builder,
    ) -> Result<(), DocError> {
        match local(e) {
            "UpdateIdentity" if b.identity.is_none() => {
                let (id, rev) = self.identity(e, "UpdateIdentity")?;
                let rev = rev.ok_or_else(|| {
                    DocError::new(format!("UpdateIdentity of {id} has no RevisionNumber"))
                })?;
                b.identity = Some((id, rev));
                self.done(e, open)?;
            }
            // The offline catalog splits the properties: `Properties` in the core fragment,
            // `ExtendedProperties` (MsrcSeverity, KBArticleID, Language) in the extended one.
            "Properties" | "ExtendedProperties" => {
                self.properties_attrs(e, b)?;
                if open {
                    self.properties(b)?;
                }
            }
            "LocalizedPropertiesCollection" if open => self.localized_collection(b)?,
            // A localized fragment holds one `LocalizedProperties` without the collection.
            "LocalizedProperties" if open => self.localized(b)?,
            "Relationships" if open => self.relationships(b)?,
            "Files" if open => self.files(b)?,
            "HandlerSpecificData" if open => self.handler(b)?,
            // ApplicabilityRules and anything else: not interpreted.
            _ => self.done(e, open)?,
        }
        Ok(())
    }

    /// A fragment: a sequence of `upd:Update` children with no root element around them.
    fn fragment(mut self, b: &mut Builder) -> Result<(), DocError> {
        loop {
            match self.next()? {
                Event::Start(e) => self.update_child(&e, true, b)?,
                Event::Empty(e) => self.update_child(&e, false, b)?,
                Event::Eof => return Ok(()),
                Event::End(_) => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "an end tag without its start tag"));
                }
                Event::Text(t) if !t.trim_matches(is_xml_space).is_empty() => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "text outside an element"));
                }
                Event::GeneralRef(_) | Event::CData(_) => {
                    let pos = self.reader.buffer_position();
                    return Err(self.malformed_at(pos, "text outside an element"));
                }
                _ => {}
            }
        }
    }

    /// `UpdateIdentity @UpdateID @RevisionNumber?`; `what` names the context for errors.
    fn identity(&self, e: &BytesStart<'_>, what: &str) -> Result<(Guid, Option<u32>), DocError> {
        let mut id = None;
        let mut rev = None;
        self.attrs(e, |k, v| {
            match k {
                "UpdateID" => id = Some(parse_guid(&v, &format!("{what} UpdateID"))?),
                "RevisionNumber" => rev = Some(parse_revision(&v, what)?),
                _ => {}
            }
            Ok(())
        })?;
        let id = id.ok_or_else(|| DocError::new(format!("{what} has no UpdateID")))?;
        Ok((id, rev))
    }

    fn properties_attrs(&self, e: &BytesStart<'_>, b: &mut Builder) -> Result<(), DocError> {
        let non_empty = |v: Cow<'_, str>| {
            let t = v.trim_matches(is_xml_space);
            (!t.is_empty()).then(|| t.to_string())
        };
        self.attrs(e, |k, v| {
            match k {
                "UpdateType" => b.update_type = non_empty(v),
                "DefaultPropertiesLanguage" => {
                    b.default_language = non_empty(v).map(|l| l.to_ascii_lowercase())
                }
                "MsrcSeverity" => b.severity = non_empty(v),
                "CreationDate" => b.creation_date = non_empty(v),
                "PublicationState" => b.expired = v.trim().eq_ignore_ascii_case("Expired"),
                _ => {}
            }
            Ok(())
        })
    }

    fn properties(&mut self, b: &mut Builder) -> Result<(), DocError> {
        while let Some((e, open)) = self.child()? {
            match local(&e) {
                "KBArticleID" if open => {
                    let t = self.text()?;
                    if b.kb.is_none() {
                        b.kb = parse_kb(&t);
                    }
                }
                "Language" if open => {
                    let t = self.text()?;
                    if !t.is_empty() {
                        b.languages.push(t.to_ascii_lowercase());
                    }
                }
                _ => self.done(&e, open)?,
            }
        }
        Ok(())
    }

    fn localized_collection(&mut self, b: &mut Builder) -> Result<(), DocError> {
        while let Some((e, open)) = self.child()? {
            if local(&e) == "LocalizedProperties" && open {
                self.localized(b)?;
            } else {
                self.done(&e, open)?;
            }
        }
        Ok(())
    }

    fn localized(&mut self, b: &mut Builder) -> Result<(), DocError> {
        let mut language: Option<String> = None;
        let mut title: Option<String> = None;
        let mut description: Option<String> = None;
        while let Some((e, open)) = self.child()? {
            match local(&e) {
                "Language" if open => language = Some(self.text()?.to_ascii_lowercase()),
                "Title" if open => title = Some(self.text()?.into_owned()),
                "Description" if open => {
                    let t = self.text()?;
                    description = (!t.is_empty()).then(|| t.into_owned());
                }
                _ => self.done(&e, open)?,
            }
        }
        // An entry without a language or a title cannot be shown; the first entry of a
        // language wins.
        if let (Some(language), Some(title)) = (language, title)
            && !language.is_empty()
        {
            b.localized
                .entry(language)
                .or_insert(Localized { title, description });
        }
        Ok(())
    }

    fn relationships(&mut self, b: &mut Builder) -> Result<(), DocError> {
        while let Some((e, open)) = self.child()? {
            match local(&e) {
                "SupersededUpdates" if open => {
                    while let Some((e, open)) = self.child()? {
                        if local(&e) == "UpdateIdentity" {
                            b.supersedes
                                .push(self.identity(&e, "SupersededUpdates/UpdateIdentity")?.0);
                        }
                        self.done(&e, open)?;
                    }
                }
                "Prerequisites" if open => self.prerequisites(b)?,
                "BundledUpdates" if open => {
                    while let Some((e, open)) = self.child()? {
                        match local(&e) {
                            "UpdateIdentity" => {
                                let (id, revision) =
                                    self.identity(&e, "BundledUpdates/UpdateIdentity")?;
                                b.bundled.push(BundledRef { id, revision });
                                self.done(&e, open)?;
                            }
                            "AtLeastOne" if open => {
                                while let Some((e, open)) = self.child()? {
                                    if local(&e) == "UpdateIdentity" {
                                        let (id, revision) = self.identity(
                                            &e,
                                            "BundledUpdates/AtLeastOne/UpdateIdentity",
                                        )?;
                                        b.bundled.push(BundledRef { id, revision });
                                    }
                                    self.done(&e, open)?;
                                }
                            }
                            _ => self.done(&e, open)?,
                        }
                    }
                }
                _ => self.done(&e, open)?,
            }
        }
        Ok(())
    }

    /// The `AtLeastOne IsCategory="true"` groups are the update's categories; plain
    /// prerequisites (an `UpdateIdentity` directly under `Prerequisites`, or in another
    /// `AtLeastOne` group: detectoids, other updates) are kept apart from the model.
    fn prerequisites(&mut self, b: &mut Builder) -> Result<(), DocError> {
        const WHERE: &str = "Prerequisites/AtLeastOne/UpdateIdentity";
        while let Some((e, open)) = self.child()? {
            match local(&e) {
                "UpdateIdentity" => {
                    let (id, _) = self.identity(&e, "Prerequisites/UpdateIdentity")?;
                    push_unique(&mut b.prerequisites, id);
                    self.done(&e, open)?;
                    continue;
                }
                "AtLeastOne" if open => {}
                _ => {
                    self.done(&e, open)?;
                    continue;
                }
            }
            let mut is_category = false;
            self.attrs(&e, |k, v| {
                if k == "IsCategory" {
                    is_category = is_true(&v);
                }
                Ok(())
            })?;
            while let Some((e, open)) = self.child()? {
                if local(&e) == "UpdateIdentity" {
                    let (id, _) = self.identity(&e, WHERE)?;
                    if !is_category {
                        push_unique(&mut b.prerequisites, id);
                    } else {
                        if b.first_category.is_none() {
                            b.first_category = Some(id.clone());
                        }
                        b.categories.push(id);
                    }
                }
                self.done(&e, open)?;
            }
        }
        Ok(())
    }

    fn files(&mut self, b: &mut Builder) -> Result<(), DocError> {
        while let Some((e, open)) = self.child()? {
            if local(&e) != "File" {
                self.done(&e, open)?;
                continue;
            }
            let mut name: Option<Cow<'_, str>> = None;
            let mut size: Option<Cow<'_, str>> = None;
            let mut digest: Option<Cow<'_, str>> = None;
            let mut algorithm: Option<Cow<'_, str>> = None;
            self.attrs(&e, |k, v| {
                match k {
                    "FileName" => name = Some(v),
                    "Size" => size = Some(v),
                    "Digest" => digest = Some(v),
                    "DigestAlgorithm" => algorithm = Some(v),
                    _ => {}
                }
                Ok(())
            })?;
            let name = match name {
                Some(n) if !n.trim().is_empty() => n.trim().to_string(),
                _ => return Err(DocError::new("Files/File has no FileName")),
            };
            let size = match size {
                None => None,
                Some(s) => Some(s.trim().parse::<u64>().map_err(|_| {
                    DocError::new(format!(
                        "File '{name}': Size '{s}' is not a number of bytes"
                    ))
                })?),
            };
            let mut file = FileRef {
                name,
                size,
                sha1: None,
                sha256: None,
                url: None,
            };
            if let Some(d) = digest {
                match algorithm.as_deref().map(str::trim) {
                    None | Some("") => file.sha1 = decode_digest::<20>(&d, &file.name, "Digest")?,
                    Some(a) if a.eq_ignore_ascii_case("SHA1") => {
                        file.sha1 = decode_digest::<20>(&d, &file.name, "Digest")?
                    }
                    Some(a) if a.eq_ignore_ascii_case("SHA256") => {
                        file.sha256 = decode_digest::<32>(&d, &file.name, "Digest")?
                    }
                    Some(_) => {}
                }
            }
            if open {
                while let Some((e, open)) = self.child()? {
                    if local(&e) != "AdditionalDigest" || !open {
                        self.done(&e, open)?;
                        continue;
                    }
                    let mut sha256 = false;
                    self.attrs(&e, |k, v| {
                        if k == "Algorithm" {
                            sha256 = v.trim().eq_ignore_ascii_case("SHA256");
                        }
                        Ok(())
                    })?;
                    let t = self.text()?;
                    if sha256 && file.sha256.is_none() {
                        file.sha256 = decode_digest::<32>(&t, &file.name, "AdditionalDigest")?;
                    }
                }
            }
            b.files.push(file);
        }
        Ok(())
    }

    fn handler(&mut self, b: &mut Builder) -> Result<(), DocError> {
        while let Some((e, open)) = self.child()? {
            if local(&e) == "CategoryInformation" {
                self.attrs(&e, |k, v| {
                    if k == "CategoryType" {
                        b.category_type = Some(v.trim().to_string());
                    }
                    Ok(())
                })?;
            }
            self.done(&e, open)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
