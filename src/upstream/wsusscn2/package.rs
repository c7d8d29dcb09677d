//! `package.xml` (the catalog's `OfflineSyncPackage`), read in one streaming pass: the text is
//! never held whole. Each `Update` element becomes a compact [`Entry`] (GUIDs as integers,
//! category and language references interned) and a digest of its canonical content;
//! `FileLocations` becomes a map from payload SHA-1 to download address.
//!
//! Elements and attributes are matched by local name only, so the root may carry the
//! OfflineSync namespace or none (the structure sample has none), and attribute order does
//! not matter. Unknown elements are skipped, but they count in the digest.

use crate::error::{Error, Result};
use crate::model::{CategoryKind, Guid};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::BufRead;

const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `IsSoftware="false"`.
pub const NOT_SOFTWARE: u8 = 1;
/// `DeploymentAction="Evaluate"`.
pub const EVALUATE: u8 = 2;

/// One `Update` element. Its lists live in arenas of [`Package`] (one allocation each for
/// all 136,000 entries rather than several per entry): read them with the methods there.
pub struct Entry {
    pub id: u128,
    pub revision: u32,
    pub revid: u32,
    /// The only `Prerequisites/UpdateId` (index into [`Package::guids`]), when there is
    /// exactly one and no `Or` group: a category's parent.
    pub sole_prereq: Option<u32>,
    /// Start of categories, languages, bundled-by and superseded-by in [`Package::lists`].
    lists: u32,
    /// Their lengths, in that order.
    counts: [u16; 4],
    /// Start of the payload digests in [`Package::payloads`], and how many.
    payload: u32,
    n_payload: u16,
    /// Start of CreationDate in [`Package::text`], and its length (0 = none).
    creation: u32,
    creation_len: u8,
    /// Index into [`Package::langs`] plus one; 0 = none.
    pub default_language: u16,
    pub flags: u8,
}

/// What `package.xml` says.
#[derive(Default)]
pub struct Package {
    pub package_id: Option<String>,
    pub created: Option<String>,
    pub entries: Vec<Entry>,
    /// SHA-256 of each `Update` element's canonical content, by entry; dropped once the
    /// fingerprints are made ([`Package::forget_scan_only`]).
    digests: Vec<[u8; 32]>,
    lists: Vec<u32>,
    payloads: Vec<[u8; 20]>,
    text: String,
    /// Interned GUIDs (category ids and prerequisites).
    pub guids: Vec<u128>,
    guid_index: HashMap<u128, u32>,
    /// The kind with which updates cite a category (by index into `guids`).
    pub cited: HashMap<u32, CategoryKind>,
    pub langs: Vec<String>,
    lang_index: HashMap<String, u16>,
    /// Download address (start and length in `text`) by payload SHA-1.
    urls: HashMap<[u8; 20], (u32, u16)>,
    /// Payload or location ids that are not base64 SHA-1 digests.
    pub bad_ids: u64,
}

impl Package {
    fn list(&self, i: usize, which: usize) -> &[u32] {
        let e = &self.entries[i];
        let start = e.lists as usize + e.counts[..which].iter().map(|&n| n as usize).sum::<usize>();
        &self.lists[start..start + e.counts[which] as usize]
    }

    /// Indexes into [`Package::guids`]: the `Categories/Category` ids kept as categories.
    pub fn categories(&self, i: usize) -> &[u32] {
        self.list(i, 0)
    }

    /// Indexes into [`Package::langs`].
    pub fn languages(&self, i: usize) -> &[u32] {
        self.list(i, 1)
    }

    /// RevisionIds of the bundles that hold entry `i`.
    pub fn bundled_by(&self, i: usize) -> &[u32] {
        self.list(i, 2)
    }

    /// RevisionIds of the revisions that supersede entry `i`.
    pub fn superseded_by(&self, i: usize) -> &[u32] {
        self.list(i, 3)
    }

    /// `PayloadFiles/File/@Id`: SHA-1 digests.
    pub fn payload(&self, i: usize) -> &[[u8; 20]] {
        let e = &self.entries[i];
        &self.payloads[e.payload as usize..e.payload as usize + e.n_payload as usize]
    }

    pub fn creation(&self, i: usize) -> Option<&str> {
        let e = &self.entries[i];
        (e.creation_len > 0)
            .then(|| &self.text[e.creation as usize..e.creation as usize + e.creation_len as usize])
    }

    /// The digest of entry `i`'s element (before [`Package::forget_scan_only`]).
    pub fn digest(&self, i: usize) -> [u8; 32] {
        self.digests[i]
    }

    /// The download address of a payload file.
    pub fn url(&self, sha1: &[u8; 20]) -> Option<&str> {
        self.urls
            .get(sha1)
            .map(|&(at, len)| &self.text[at as usize..at as usize + len as usize])
    }

    /// Drops what only the scan needs (digests, payload ids, relation lists are kept: the
    /// fetch needs the categories and languages; the rest is small).
    pub fn forget_scan_only(&mut self) {
        self.digests = Vec::new();
        self.payloads = Vec::new();
        for e in &mut self.entries {
            e.n_payload = 0;
        }
    }

    fn push_text(&mut self, t: &str) -> (u32, usize) {
        let at = self.text.len() as u32;
        self.text.push_str(t);
        (at, t.len())
    }
}

impl Package {
    fn guid(&mut self, bits: u128) -> u32 {
        let next = self.guids.len() as u32;
        *self.guid_index.entry(bits).or_insert_with(|| {
            self.guids.push(bits);
            next
        })
    }

    /// The index of an interned GUID.
    pub fn guid_lookup(&self, bits: u128) -> Option<u32> {
        self.guid_index.get(&bits).copied()
    }

    fn lang(&mut self, l: &str) -> u16 {
        let l = l.trim().to_ascii_lowercase();
        if let Some(&i) = self.lang_index.get(&l) {
            return i;
        }
        let i = self.langs.len() as u16;
        self.langs.push(l.clone());
        self.lang_index.insert(l, i);
        i
    }
}

/// A GUID as a 128-bit integer (its 32 hex digits), to keep 136,000 of them small.
pub fn guid_bits(s: &str) -> Option<u128> {
    let g = Guid::parse(s)?;
    let mut v = 0u128;
    for b in g.as_str().bytes().filter(|b| *b != b'-') {
        v = (v << 4) | (b as char).to_digit(16)? as u128;
    }
    Some(v)
}

/// The GUID of [`guid_bits`].
pub fn bits_guid(v: u128) -> Guid {
    let h = format!("{v:032x}");
    Guid::parse(&format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
    .expect("32 hex digits make a GUID")
}

/// A base64 SHA-1 digest.
pub fn sha1_id(s: &str) -> Option<[u8; 20]> {
    let mut buf = [0u8; 32];
    match BASE64.decode_slice(s.trim(), &mut buf) {
        Ok(20) => Some(buf[..20].try_into().expect("20 bytes")),
        _ => None,
    }
}

/// Reads `package.xml` from `r`; `part` names it in errors.
pub fn parse<R: BufRead>(r: R, part: &str) -> Result<Package> {
    let mut p = Parser {
        xml: Reader::from_reader(r),
        buf: Vec::with_capacity(4096),
        part,
        attrs: Vec::new(),
    };
    p.package()
}

struct Parser<'p, R> {
    xml: Reader<R>,
    buf: Vec<u8>,
    part: &'p str,
    /// Attributes of the element just read: (local name, value).
    attrs: Vec<(String, String)>,
}

/// What an `Update` element gives while it is read.
#[derive(Default)]
struct Acc {
    categories: Vec<(u32, Option<CategoryKind>)>,
    languages: Vec<u16>,
    payload: Vec<[u8; 20]>,
    bundled_by: Vec<u32>,
    superseded_by: Vec<u32>,
    prereqs: Vec<u32>,
    has_or: bool,
}

fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

impl<R: BufRead> Parser<'_, R> {
    fn malformed(&self, e: impl std::fmt::Display) -> Error {
        super::cab::corrupt(
            self.part,
            format!("malformed XML at byte {}: {e}", self.xml.error_position()),
        )
    }

    fn invalid(&self, e: impl std::fmt::Display) -> Error {
        super::cab::corrupt(
            self.part,
            format!("{e} (near byte {})", self.xml.buffer_position()),
        )
    }

    fn truncated(&self, inside: &str) -> Error {
        super::cab::corrupt(
            self.part,
            format!("truncated: the text ends inside {inside}"),
        )
    }

    /// Reads the next event into `self.buf`.
    fn next(&mut self) -> Result<Event<'_>> {
        self.buf.clear();
        match self.xml.read_event_into(&mut self.buf) {
            Ok(e) => Ok(e),
            Err(e) => {
                let pos = self.xml.error_position();
                Err(super::cab::corrupt(
                    self.part,
                    format!("malformed XML at byte {pos}: {e}"),
                ))
            }
        }
    }

    /// Collects the element's attributes (namespace declarations left out) into `self.attrs`.
    fn read_attrs(&mut self, e: &BytesStart<'_>) -> Result<()> {
        self.attrs.clear();
        let mut it = e.attributes();
        it.with_checks(false);
        for a in it {
            let a = a.map_err(|err| self.malformed(err))?;
            if a.key.as_namespace_binding().is_some() {
                continue;
            }
            let v = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| self.malformed(err))?;
            let k = a.key.local_name().into_inner().to_string();
            self.attrs.push((k, v.into_owned()));
        }
        Ok(())
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn skip(&mut self, name: &str) -> Result<()> {
        let name = name.to_string();
        let mut buf = Vec::new();
        self.xml
            .read_to_end_into(quick_xml::name::QName(&name), &mut buf)
            .map_err(|e| self.malformed(e))?;
        Ok(())
    }

    fn package(&mut self) -> Result<Package> {
        let mut pkg = Package::default();
        // The root element.
        let open = loop {
            match self.next()? {
                Event::Start(e) | Event::Empty(e)
                    if e.local_name().into_inner() != "OfflineSyncPackage" =>
                {
                    let name = e.name().into_inner().to_string();
                    return Err(self.invalid(format!(
                        "the root element is <{name}>, not OfflineSyncPackage"
                    )));
                }
                Event::Start(e) => {
                    let e = e.into_owned();
                    self.read_attrs(&e)?;
                    break true;
                }
                Event::Empty(e) => {
                    let e = e.into_owned();
                    self.read_attrs(&e)?;
                    break false;
                }
                Event::Eof => return Err(self.invalid("no root element (the text is empty)")),
                Event::Text(t) if trim(&t).is_empty() => {}
                Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) | Event::End(_) => {
                    return Err(self.invalid("text before the root element"));
                }
                _ => {}
            }
        };
        let non_empty = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        pkg.package_id = non_empty(self.attr("PackageId"));
        pkg.created = non_empty(self.attr("CreationDate"));
        if open {
            loop {
                match self.next()? {
                    Event::Start(e) => {
                        let name = e.local_name().into_inner().to_string();
                        let full = e.name().into_inner().to_string();
                        match name.as_str() {
                            "Updates" => self.updates(&mut pkg)?,
                            "FileLocations" => self.locations(&mut pkg)?,
                            _ => self.skip(&full)?,
                        }
                    }
                    Event::End(_) => break,
                    Event::Eof => return Err(self.truncated("OfflineSyncPackage")),
                    _ => {}
                }
            }
        }
        loop {
            match self.next()? {
                Event::Eof => break,
                Event::Text(t) if trim(&t).is_empty() => {}
                Event::Comment(_) | Event::PI(_) => {}
                _ => return Err(self.invalid("content after the root element")),
            }
        }
        pkg.entries.shrink_to_fit();
        pkg.lists.shrink_to_fit();
        pkg.text.shrink_to_fit();
        if pkg.entries.is_empty() {
            // A catalog without updates would expire everything: refuse it as damaged.
            return Err(super::cab::corrupt(self.part, "lists no Update elements"));
        }
        Ok(pkg)
    }

    fn updates(&mut self, pkg: &mut Package) -> Result<()> {
        loop {
            match self.next()? {
                Event::Start(e) if e.local_name().into_inner() == "Update" => {
                    let e = e.into_owned();
                    self.update(pkg, &e, true)?
                }
                Event::Empty(e) if e.local_name().into_inner() == "Update" => {
                    let e = e.into_owned();
                    self.update(pkg, &e, false)?
                }
                Event::Start(e) => {
                    let full = e.name().into_inner().to_string();
                    self.skip(&full)?
                }
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(self.truncated("Updates")),
                _ => {}
            }
        }
    }

    fn hash_start(&self, h: &mut Sha256, name: &str) {
        let mut sorted: Vec<&(String, String)> = self.attrs.iter().collect();
        sorted.sort();
        h.update(b"<");
        h.update(name.as_bytes());
        for (k, v) in sorted {
            h.update(b"\x1f");
            h.update(k.as_bytes());
            h.update(b"\x1e");
            h.update(v.as_bytes());
        }
        h.update(b">");
    }

    fn update(&mut self, pkg: &mut Package, start: &BytesStart<'_>, open: bool) -> Result<()> {
        self.read_attrs(start)?;
        let mut h = Sha256::new();
        self.hash_start(&mut h, "Update");
        let id = self
            .attr("UpdateId")
            .ok_or_else(|| self.invalid("an Update element has no UpdateId"))?;
        let id =
            guid_bits(id).ok_or_else(|| self.invalid(format!("UpdateId '{id}' is not a GUID")))?;
        let number = |p: &Self, name: &str| -> Result<u32> {
            let v = p.attr(name).ok_or_else(|| {
                p.invalid(format!(
                    "the Update element of {} has no {name}",
                    bits_guid(id)
                ))
            })?;
            v.trim().parse::<u32>().map_err(|_| {
                p.invalid(format!("{name} '{v}' of {} is not a number", bits_guid(id)))
            })
        };
        let revision = number(self, "RevisionNumber")?;
        let revid = number(self, "RevisionId")?;
        let mut flags = 0;
        if self
            .attr("IsSoftware")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false") || v.trim() == "0")
        {
            flags |= NOT_SOFTWARE;
        }
        if self
            .attr("DeploymentAction")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("Evaluate"))
        {
            flags |= EVALUATE;
        }
        let creation = self
            .attr("CreationDate")
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() < 256)
            .map(str::to_string);
        let default_language = match self
            .attr("DefaultLanguage")
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            Some(l) => {
                let l = l.to_string();
                pkg.lang(&l) + 1
            }
            None => 0,
        };
        let mut acc = Acc::default();
        if open {
            self.update_body(pkg, &mut acc, &mut h, id)?;
        }
        h.update(b"</>");
        let sole_prereq = (acc.prereqs.len() == 1 && !acc.has_or).then(|| acc.prereqs[0]);
        let (lists, counts, payload, n_payload) = self.store_lists(pkg, &acc, id)?;
        let (creation, creation_len) = match creation {
            Some(c) => {
                let (at, len) = pkg.push_text(&c);
                (at, len as u8)
            }
            None => (0, 0),
        };
        pkg.digests.push(h.finalize().into());
        pkg.entries.push(Entry {
            id,
            revision,
            revid,
            sole_prereq,
            lists,
            counts,
            payload,
            n_payload,
            creation,
            creation_len,
            default_language,
            flags,
        });
        Ok(())
    }

    /// Puts the lists of an `Update` element in the package's arenas: returns where its
    /// lists start and their lengths, and where its payload digests start and how many.
    fn store_lists(
        &self,
        pkg: &mut Package,
        acc: &Acc,
        id: u128,
    ) -> Result<(u32, [u16; 4], u32, u16)> {
        // Products and classifications are the update's categories, as in upd:Update. The
        // company and family are kept only when no product is named.
        let has_product = acc
            .categories
            .iter()
            .any(|(_, k)| *k == Some(CategoryKind::Product));
        let categories: Vec<u32> = acc
            .categories
            .iter()
            .filter(|(_, k)| {
                !has_product
                    || !matches!(k, Some(CategoryKind::Company | CategoryKind::ProductFamily))
            })
            .map(|(g, _)| *g)
            .collect();
        let too_many = |n: usize, what: &str| {
            u16::try_from(n)
                .map_err(|_| self.invalid(format!("update {}: {n} {what}", bits_guid(id))))
        };
        let counts = [
            too_many(categories.len(), "categories")?,
            too_many(acc.languages.len(), "languages")?,
            too_many(acc.bundled_by.len(), "BundledBy revisions")?,
            too_many(acc.superseded_by.len(), "SupersededBy revisions")?,
        ];
        let n_payload = too_many(acc.payload.len(), "payload files")?;
        let lists = pkg.lists.len() as u32;
        pkg.lists.extend(categories);
        pkg.lists.extend(acc.languages.iter().map(|&l| l as u32));
        pkg.lists.extend(&acc.bundled_by);
        pkg.lists.extend(&acc.superseded_by);
        let payload = pkg.payloads.len() as u32;
        pkg.payloads.extend(&acc.payload);
        Ok((lists, counts, payload, n_payload))
    }

    fn update_body(
        &mut self,
        pkg: &mut Package,
        acc: &mut Acc,
        h: &mut Sha256,
        id: u128,
    ) -> Result<()> {
        // Local names of the open elements below the Update element.
        let mut stack: Vec<String> = Vec::new();
        loop {
            let (name, open) = match self.next()? {
                Event::Start(e) => (
                    e.local_name().into_inner().to_string(),
                    Some(e.into_owned()),
                ),
                Event::Empty(e) => {
                    let e = e.into_owned();
                    let name = e.local_name().into_inner().to_string();
                    self.read_attrs(&e)?;
                    self.hash_start(h, &name);
                    h.update(b"</>");
                    if stack.len() == 1 {
                        self.relation(pkg, acc, &stack[0], &name, id)?;
                    }
                    continue;
                }
                Event::End(_) => {
                    if stack.pop().is_none() {
                        return Ok(());
                    }
                    h.update(b"</>");
                    continue;
                }
                Event::Text(t) => {
                    let t = trim(&t);
                    if !t.is_empty() {
                        h.update(b"\x02");
                        h.update(t.as_bytes());
                        h.update(b"\x03");
                    }
                    continue;
                }
                Event::CData(t) => {
                    h.update(b"\x02");
                    h.update(t.as_bytes());
                    h.update(b"\x03");
                    continue;
                }
                Event::GeneralRef(r) => {
                    h.update(b"&");
                    h.update(r.as_bytes());
                    continue;
                }
                Event::Eof => return Err(self.truncated("an Update element")),
                _ => continue,
            };
            let e = open.expect("a start tag");
            self.read_attrs(&e)?;
            self.hash_start(h, &name);
            if stack.len() == 1 {
                self.relation(pkg, acc, &stack[0], &name, id)?;
            }
            stack.push(name);
        }
    }

    /// An element two levels below `Update` (`Categories/Category`, `BundledBy/Revision`...),
    /// whose attributes are in `self.attrs`.
    fn relation(
        &mut self,
        pkg: &mut Package,
        acc: &mut Acc,
        parent: &str,
        name: &str,
        id: u128,
    ) -> Result<()> {
        let revision_id = |p: &Self| -> Result<Option<u32>> {
            match p.attr("Id") {
                None => Ok(None),
                Some(v) => v.trim().parse::<u32>().map(Some).map_err(|_| {
                    p.invalid(format!(
                        "update {}: Revision Id '{v}' is not a RevisionId",
                        bits_guid(id)
                    ))
                }),
            }
        };
        let guid = |p: &Self, what: &str| -> Result<Option<u128>> {
            match p.attr("Id") {
                None => Ok(None),
                Some(v) => guid_bits(v).map(Some).ok_or_else(|| {
                    p.invalid(format!(
                        "update {}: {what} Id '{v}' is not a GUID",
                        bits_guid(id)
                    ))
                }),
            }
        };
        match (parent, name) {
            ("Categories", "Category") => {
                if let Some(g) = guid(self, "Category")? {
                    let kind = self
                        .attr("Type")
                        .and_then(|t| CategoryKind::parse(t.trim()));
                    let i = pkg.guid(g);
                    if let Some(k) = kind {
                        pkg.cited.entry(i).or_insert(k);
                    }
                    acc.categories.push((i, kind));
                }
            }
            ("Prerequisites", "UpdateId") => {
                if let Some(g) = guid(self, "Prerequisites/UpdateId")? {
                    acc.prereqs.push(pkg.guid(g));
                }
            }
            ("Prerequisites", "Or") => acc.has_or = true,
            ("Languages", "Language") => {
                if let Some(l) = self.attr("Name").map(str::trim).filter(|l| !l.is_empty()) {
                    let l = l.to_string();
                    acc.languages.push(pkg.lang(&l));
                }
            }
            ("PayloadFiles", "File") => {
                if let Some(v) = self.attr("Id") {
                    match sha1_id(v) {
                        Some(d) => acc.payload.push(d),
                        None => pkg.bad_ids += 1,
                    }
                }
            }
            ("BundledBy", "Revision") => acc.bundled_by.extend(revision_id(self)?),
            ("SupersededBy", "Revision") => acc.superseded_by.extend(revision_id(self)?),
            _ => {}
        }
        Ok(())
    }

    fn locations(&mut self, pkg: &mut Package) -> Result<()> {
        loop {
            match self.next()? {
                Event::Start(e) if e.local_name().into_inner() == "FileLocation" => {
                    let e = e.into_owned();
                    self.location(pkg, &e)?;
                    self.skip(e.name().into_inner())?;
                }
                Event::Empty(e) if e.local_name().into_inner() == "FileLocation" => {
                    let e = e.into_owned();
                    self.location(pkg, &e)?;
                }
                Event::Start(e) => {
                    let full = e.name().into_inner().to_string();
                    self.skip(&full)?
                }
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(self.truncated("FileLocations")),
                _ => {}
            }
        }
    }

    fn location(&mut self, pkg: &mut Package, e: &BytesStart<'_>) -> Result<()> {
        self.read_attrs(e)?;
        let id = self.attr("Id").map(sha1_id);
        let url = self.attr("Url").map(str::trim).filter(|u| !u.is_empty());
        match (id, url) {
            (Some(Some(d)), Some(u)) if u.len() <= u16::MAX as usize => {
                let u = u.to_string();
                let (at, len) = pkg.push_text(&u);
                pkg.urls.insert(d, (at, len as u16));
            }
            (Some(None), _) => pkg.bad_ids += 1,
            _ => {}
        }
        Ok(())
    }
}
