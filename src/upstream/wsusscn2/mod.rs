//! The Microsoft offline scan catalog, `wsusscn2.cab`, as an upstream.
//!
//! A CAB of CABs: `index.xml` says which inner CAB holds which RevisionIds (RANGESTART);
//! `package.cab` holds `package.xml`, one `Update` element per revision with its categories,
//! languages, relations (by RevisionId) and payload file ids, and the download address of
//! every payload file; `packageN.cab` hold the per-revision fragments `c\<RevisionId>` (core),
//! `x\<RevisionId>` (extended) and `l\<lang>\<RevisionId>` (localized), the parts of an
//! `upd:Update` document without its root (read by [`super::upd_xml::Fragments`]).
//!
//! - [`Upstream::scan`] streams `package.xml` once (never holding its text), resolves the
//!   RevisionId cross-references to UpdateIDs, inverts them (an old update's `SupersededBy`
//!   is the newer update's `supersedes`; a child's `BundledBy` is its parent's `bundled`),
//!   and reads only the fragments that categories need: the core fragments of the entries
//!   that may be categories (detectoids look alike in `package.xml`), and the titles (and,
//!   where no update's citation gives it, the kind) of the categories.
//!   Fingerprints cover each `Update` element's canonical content, the inverted relations
//!   and the payload download addresses, so an unchanged catalog needs no fetch at all.
//! - [`Upstream::fetch`] reads only the fragments of the selected revisions, opening each
//!   inner CAB that holds some of them once and decompressing each of its folders once, on
//!   worker threads while the caller stores what came before (results in catalog order).
//!
//! Nothing taken from inside the catalog becomes a file name: inner CABs are held in memory,
//! or in an anonymous temporary file when large. Errors name the part (`c\123 in package3.cab
//! in wsusscn2.cab`). Exit codes: a damaged, truncated or incomplete catalog is "other
//! failure" (1, bad upstream input); a member name that would be unsafe as a path is "unsafe
//! entry" (15).
//!
//! Expired updates are dropped from the catalog rather than flagged, so the scan reports the
//! catalog as complete with absence meaning expired; the catalog's PackageId and CreationDate
//! go into the summary for the sync's age check.

pub(super) mod cab;
mod package;
mod pipeline;

use self::cab::{CabDir, corrupt, read_error, stream_members};
use self::package::{EVALUATE, Entry, NOT_SOFTWARE, Package, bits_guid};
use self::pipeline::{Pool, Spool};
use super::upd_xml::{Document, Fragments, decode_text};
use super::{Fetched, ScanItem, ScanSummary, UpdateHeader, Upstream};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{BundledRef, Category, CategoryKind, Guid, PublicationState, Update};
use crate::progress::{Progress, Unit};
use crate::time::Timestamp;
use quick_xml::events::Event;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// A fragment is a few KB; one larger than this is not a fragment.
const MAX_FRAGMENT: u32 = 64 << 20;
/// index.xml is a few hundred bytes.
const MAX_INDEX: u32 = 16 << 20;

/// The offline scan catalog at a path.
pub struct Wsusscn2Source {
    path: PathBuf,
    /// The file name, for messages.
    name: String,
    scanned: Option<Scanned>,
}

/// One fragment CAB of `index.xml`.
struct InnerCab {
    name: String,
    /// RANGESTART: the first RevisionId it holds.
    start: u32,
    /// Its index among the outer CAB's members.
    member: usize,
}

/// What a scan learnt, for the fetch that follows it.
struct Scanned {
    /// Size and modification time of the catalog when scanned: a fetch refuses a file that
    /// changed since.
    stamp: (u64, Option<std::time::SystemTime>),
    outer: CabDir,
    /// Sorted by `start`.
    cabs: Vec<InnerCab>,
    pkg: Package,
    rev_index: HashMap<u32, u32>,
    is_category: Vec<bool>,
    /// Newer entry → the entries it supersedes.
    supersedes: Csr,
    /// Bundle entry → its children.
    bundled: Csr,
}

/// Lists per entry, in one allocation (compressed sparse rows).
struct Csr {
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Csr {
    fn build(n: usize, mut pairs: Vec<(u32, u32)>) -> Csr {
        pairs.sort_unstable();
        pairs.dedup();
        let mut start = vec![0u32; n + 1];
        for &(a, _) in &pairs {
            start[a as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        Csr {
            start,
            items: pairs.into_iter().map(|(_, b)| b).collect(),
        }
    }

    fn get(&self, i: usize) -> &[u32] {
        &self.items[self.start[i] as usize..self.start[i + 1] as usize]
    }
}

/// Which fragments of a revision to read.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Want {
    /// `c\<RevisionId>`: identity, UpdateType, relationships.
    core: bool,
    /// `x\<RevisionId>`: severity, KB, files, CategoryInformation.
    extended: bool,
    /// `l\<lang>\<RevisionId>`.
    titles: Titles,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Titles {
    None,
    /// English, or any language there is.
    One,
    All,
}

/// Where the fragments of one entry are among the members of an inner CAB.
#[derive(Clone, Default)]
struct Found<'a> {
    core: Option<usize>,
    extended: Option<usize>,
    /// (language, member).
    localized: Vec<(&'a str, usize)>,
}

impl Found<'_> {
    /// Adds the members of the fragments that `w` asks for to `wanted`. A selected update
    /// needs every part; a category does with what there is.
    fn select(&mut self, w: Want, e: &Entry, part: &str, wanted: &mut Vec<usize>) -> Result<()> {
        let absent = |name: String| {
            missing(&format!(
                "{part} has no fragment {name} for revision {} (update {} revision {})",
                e.revid,
                bits_guid(e.id),
                e.revision
            ))
        };
        self.localized.sort();
        let update = w == WANT_UPDATE;
        if w.core {
            match self.core {
                Some(c) => wanted.push(c),
                None if update => return Err(absent(format!("c\\{}", e.revid))),
                None => {}
            }
        }
        if w.extended {
            match self.extended {
                Some(x) => wanted.push(x),
                None if update => return Err(absent(format!("x\\{}", e.revid))),
                None => {}
            }
        }
        let ls = &self.localized;
        match w.titles {
            Titles::All if update && ls.is_empty() => {
                return Err(absent(format!("l\\en\\{}", e.revid)));
            }
            Titles::All => wanted.extend(ls.iter().map(|(_, mi)| *mi)),
            Titles::One => {
                let en = ls
                    .iter()
                    .find(|(l, _)| l.eq_ignore_ascii_case("en"))
                    .or(ls.first());
                wanted.extend(en.map(|l| l.1));
            }
            Titles::None => {}
        }
        Ok(())
    }
}

/// Per entry of `entries`, where its fragments are among the members of `dir`.
fn find_fragments<'d>(dir: &'d CabDir, s: &Scanned, entries: &[u32]) -> Vec<Found<'d>> {
    // RevisionId → position in `entries`.
    let pos: HashMap<u32, usize> = entries
        .iter()
        .enumerate()
        .map(|(k, &i)| (s.pkg.entries[i as usize].revid, k))
        .collect();
    let mut found: Vec<Found<'_>> = vec![Found::default(); entries.len()];
    for (mi, m) in dir.members.iter().enumerate() {
        let Some((kind, lang, revid)) = fragment_name(&m.name) else {
            continue;
        };
        let Some(&k) = pos.get(&revid) else { continue };
        match (kind, lang) {
            (b'c', _) => found[k].core = Some(mi),
            (b'x', _) => found[k].extended = Some(mi),
            (_, Some(l)) => found[k].localized.push((l, mi)),
            _ => {}
        }
    }
    found
}

/// A selected update: everything.
const WANT_UPDATE: Want = Want {
    core: true,
    extended: true,
    titles: Titles::All,
};

fn storage(what: &str, e: io::Error) -> Error {
    Error::new(ErrorKind::Storage, format!("cannot {what}: {e}"))
}

impl Wsusscn2Source {
    pub fn open(path: &Path) -> Result<Wsusscn2Source> {
        if !path.is_file() {
            let what = if path.exists() {
                "is not a file"
            } else {
                "does not exist"
            };
            return Err(Error::usage(format!("upstream {} {what}", path.display()))
                .with_hint("give the path of wsusscn2.cab, Microsoft's offline scan catalog"));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(Wsusscn2Source {
            path: path.to_path_buf(),
            name,
            scanned: None,
        })
    }

    fn open_file(&self) -> Result<(File, (u64, Option<std::time::SystemTime>))> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, "open", e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(&self.path, "read", e))?;
        Ok((file, (meta.len(), meta.modified().ok())))
    }

    fn inner_part(&self, inner: &str) -> String {
        format!("{inner} in {}", self.name)
    }

    /// Streams the outer members `wanted` and calls `f` with each one's index and its bytes,
    /// held in memory or in an anonymous temporary file, positioned at the start.
    fn with_members(
        &self,
        file: &mut File,
        outer: &CabDir,
        wanted: &[usize],
        f: &mut dyn FnMut(usize, &mut Spool) -> Result<()>,
    ) -> Result<()> {
        stream_members(file, outer, wanted, &mut |i, r| {
            let mut spool = Spool::fill(r, outer.members[i].size, None)?;
            f(i, &mut spool)
        })
    }

    /// Reads `index.xml` and `package.xml`.
    fn read_catalog(
        &self,
        file: &mut File,
        outer: &CabDir,
        progress: &dyn Progress,
    ) -> Result<(Vec<InnerCab>, Package)> {
        let index_at = outer
            .find("index.xml")
            .ok_or_else(|| missing(&format!("index.xml is missing from {}", self.name)))?;
        let mut pkg: Option<Package> = None;
        // In one pass when the metadata CAB has its usual name.
        let guess = outer.find("package.cab");
        let mut wanted = vec![index_at];
        wanted.extend(guess);
        let mut index_bytes = Vec::new();
        stream_members(file, outer, &wanted, &mut |i, r| {
            if i == index_at {
                let size = outer.members[i].size;
                if size > MAX_INDEX {
                    return Err(corrupt(
                        &self.inner_part("index.xml"),
                        format!("{size} bytes is too large for an index"),
                    ));
                }
                r.read_to_end(&mut index_bytes)
                    .map_err(|e| storage("read index.xml", e))?;
                return Ok(());
            }
            let mut spool = Spool::fill(r, outer.members[i].size, None)?;
            pkg = Some(self.read_package(&mut spool, &outer.members[i].name, progress)?);
            Ok(())
        })?;
        let (cabs, meta) = self.parse_index(&index_bytes, outer)?;
        if guess != Some(meta) {
            pkg = None;
            self.with_members(file, outer, &[meta], &mut |i, spool| {
                pkg = Some(self.read_package(spool, &outer.members[i].name, progress)?);
                Ok(())
            })?;
        }
        let pkg = pkg.ok_or_else(|| Error::other("internal: package.xml was not read"))?;
        Ok((cabs, pkg))
    }

    /// Parses `package.xml` out of the metadata CAB (`package.cab`).
    fn read_package(
        &self,
        spool: &mut Spool,
        cab_name: &str,
        progress: &dyn Progress,
    ) -> Result<Package> {
        let part = self.inner_part(cab_name);
        let len = spool
            .seek(SeekFrom::End(0))
            .map_err(|e| storage("read a temporary file", e))?;
        let dir = CabDir::read(spool, len, &part)?;
        let at = dir
            .find("package.xml")
            .ok_or_else(|| missing(&format!("package.xml is missing from {part}")))?;
        let xml_part = format!("package.xml in {part}");
        let mut out = None;
        progress.start(
            "reading package.xml",
            Some(dir.members[at].size as u64),
            Unit::Bytes,
        );
        stream_members(spool, &dir, &[at], &mut |_, r| {
            let counted = Counting { inner: r, progress };
            let mut br = BufReader::with_capacity(256 * 1024, counted);
            let head = br.fill_buf().map_err(|e| read_error(&xml_part, e))?;
            match head {
                [0xEF, 0xBB, 0xBF, ..] => br.consume(3),
                [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] | [_, 0, ..] | [0, _, ..] => {
                    return Err(corrupt(&xml_part, "the text is UTF-16; only UTF-8 is read"));
                }
                _ => {}
            }
            out = Some(package::parse(br, &xml_part)?);
            Ok(())
        })?;
        progress.finish();
        out.ok_or_else(|| Error::other("internal: package.xml was not read"))
    }

    /// The fragment CABs of `index.xml` (sorted by RANGESTART) and the outer member index of
    /// the metadata CAB (the one without RANGESTART).
    fn parse_index(&self, bytes: &[u8], outer: &CabDir) -> Result<(Vec<InnerCab>, usize)> {
        let part = self.inner_part("index.xml");
        let listed = index_listing(bytes, &part)?;
        let mut meta = None;
        let mut cabs = Vec::new();
        for (name, start) in listed {
            let member = outer.find(&name).ok_or_else(|| {
                missing(&format!(
                    "{name}, listed in index.xml, is missing from {}",
                    self.name
                ))
            })?;
            match start {
                None if meta.is_some() => {
                    return Err(corrupt(
                        &part,
                        format!(
                            "{name} has no RANGESTART, and the metadata CAB was named before it"
                        ),
                    ));
                }
                None => meta = Some(member),
                Some(start) => cabs.push(InnerCab {
                    name,
                    start,
                    member,
                }),
            }
        }
        let meta = meta.ok_or_else(|| {
            corrupt(
                &part,
                "no CAB without RANGESTART (the metadata CAB, package.cab) is listed",
            )
        })?;
        if cabs.is_empty() {
            return Err(corrupt(
                &part,
                "no fragment CAB (one with RANGESTART) is listed",
            ));
        }
        cabs.sort_by_key(|c| c.start);
        for w in cabs.windows(2) {
            if w[0].start == w[1].start {
                return Err(corrupt(
                    &part,
                    format!(
                        "{} and {} have the same RANGESTART {}",
                        w[0].name, w[1].name, w[0].start
                    ),
                ));
            }
        }
        Ok((cabs, meta))
    }
}

fn missing(message: &str) -> Error {
    Error::other(message.to_string())
        .with_hint("the catalog is incomplete: download wsusscn2.cab again")
}

/// Counts bytes into a progress bar.
struct Counting<'a, R: ?Sized> {
    inner: &'a mut R,
    progress: &'a dyn Progress,
}

impl<R: Read + ?Sized> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

/// The `CAB` elements of `index.xml`: (NAME, RANGESTART), in the order listed.
fn index_listing(bytes: &[u8], part: &str) -> Result<Vec<(String, Option<u32>)>> {
    let text = decode_text(bytes).map_err(|e| corrupt(part, e.message))?;
    let mut xml = quick_xml::Reader::from_str(&text);
    let mut listed: Vec<(String, Option<u32>)> = Vec::new();
    let mut root_seen = false;
    loop {
        let ev = xml.read_event().map_err(|e| {
            corrupt(
                part,
                format!("malformed XML at byte {}: {e}", xml.error_position()),
            )
        })?;
        let e = match ev {
            Event::Start(e) | Event::Empty(e) => e,
            Event::Eof => break,
            _ => continue,
        };
        let local = e.local_name().into_inner().to_string();
        if !root_seen {
            root_seen = true;
            if !local.eq_ignore_ascii_case("INDEX") {
                return Err(corrupt(
                    part,
                    format!("the root element is <{local}>, not INDEX"),
                ));
            }
            continue;
        }
        if !local.eq_ignore_ascii_case("CAB") {
            continue;
        }
        listed.push(cab_element(&e, part)?);
    }
    if !root_seen {
        return Err(corrupt(part, "no root element"));
    }
    Ok(listed)
}

/// The NAME and RANGESTART of a `CAB` element of `index.xml`; a NAME that is not a plain,
/// safe file name is refused.
fn cab_element(e: &quick_xml::events::BytesStart<'_>, part: &str) -> Result<(String, Option<u32>)> {
    let (mut name, mut start) = (None, None);
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| corrupt(part, format!("malformed XML: {err}")))?;
        let v = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| corrupt(part, format!("malformed XML: {err}")))?
            .trim()
            .to_string();
        let k = a.key.local_name().into_inner();
        if k.eq_ignore_ascii_case("NAME") {
            name = Some(v);
        } else if k.eq_ignore_ascii_case("RANGESTART") {
            let n = v
                .parse::<u32>()
                .map_err(|_| corrupt(part, format!("RANGESTART '{v}' is not a RevisionId")))?;
            start = Some(n);
        }
    }
    let name = name.ok_or_else(|| corrupt(part, "a CAB element has no NAME"))?;
    if let Err(why) = cab::check_name(&name).and_then(|_| {
        if name.contains(['\\', '/']) {
            Err("a path, not a CAB name")
        } else {
            Ok(())
        }
    }) {
        return Err(Error::new(
            ErrorKind::UnsafeEntry,
            format!("{part}: unsafe CAB name '{}': {why}", cab::shown(&name)),
        ));
    }
    Ok((name, start))
}

/// `c\123`, `x\000123`, `l\en\123` → (kind letter, language, RevisionId).
fn fragment_name(name: &str) -> Option<(u8, Option<&str>, u32)> {
    let mut parts = name.split(['\\', '/']);
    let kind = parts.next()?;
    let (kind, lang) = match kind {
        "c" | "C" => (b'c', None),
        "x" | "X" => (b'x', None),
        "l" | "L" => (b'l', Some(parts.next()?)),
        _ => return None,
    };
    let rev = parts.next()?;
    if parts.next().is_some() || rev.is_empty() || !rev.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, lang, rev.parse().ok()?))
}

/// The catalog's CreationDate as RFC 3339: ISO 8601 forms (with or without fraction and zone;
/// no zone = UTC) and .NET's invariant `M/d/yyyy h:mm:ss [AM|PM]`.
fn rfc3339_of(raw: &str) -> Option<String> {
    if let Some(t) = Timestamp::parse_rfc3339(raw) {
        return Some(t.rfc3339());
    }
    let mut words = raw.split_whitespace();
    let (date, time, ampm) = (words.next()?, words.next()?, words.next());
    if words.next().is_some() {
        return None;
    }
    let d: Vec<u32> = date
        .split('/')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let t: Vec<u32> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (&[m, d, y], &[mut h, mi, s]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    match ampm.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some("AM") if (1..=12).contains(&h) => h %= 12,
        Some("PM") if (1..=12).contains(&h) => h = h % 12 + 12,
        Some(_) => return None,
    }
    Timestamp::parse_rfc3339(&format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"))
        .map(|t| t.rfc3339())
}

/// What the catalog says of itself: a complete listing in which absence means expired, its
/// PackageId and CreationDate, and warnings when they are missing or unreadable.
fn catalog_summary(pkg: &Package) -> ScanSummary {
    let mut summary = ScanSummary {
        complete: true,
        absent_means_expired: true,
        ..Default::default()
    };
    summary.package_id = pkg.package_id.clone();
    if let Some(raw) = &pkg.created {
        match rfc3339_of(raw) {
            Some(t) => summary.created = Some(t),
            None => summary.warnings.push(format!(
                "the catalog's CreationDate '{raw}' is not a date this reader knows: its age could not be checked against earlier syncs"
            )),
        }
    }
    if pkg.package_id.is_none() || pkg.created.is_none() {
        let what = match (&pkg.package_id, &pkg.created) {
            (None, None) => "no PackageId and no CreationDate",
            (None, Some(_)) => "no PackageId",
            _ => "no CreationDate",
        };
        summary.warnings.push(format!(
            "the catalog carries {what}: its age could not be checked against earlier syncs"
        ));
    }
    summary
}

impl Scanned {
    /// Indexes the entries by RevisionId and inverts the relations that `package.xml` states
    /// on the other side (SupersededBy, BundledBy); `name` is the catalog's, for messages.
    fn new(
        stamp: (u64, Option<std::time::SystemTime>),
        outer: CabDir,
        cabs: Vec<InnerCab>,
        pkg: Package,
        name: &str,
        summary: &mut ScanSummary,
    ) -> Result<Scanned> {
        let n = pkg.entries.len();
        let mut rev_index = HashMap::with_capacity(n);
        for (i, e) in pkg.entries.iter().enumerate() {
            if rev_index.insert(e.revid, i as u32).is_some() {
                return Err(corrupt(
                    &format!("package.xml in {name}"),
                    format!("RevisionId {} appears twice", e.revid),
                ));
            }
        }
        let (mut sup, mut bun, mut dangling) = (Vec::new(), Vec::new(), 0u64);
        for i in 0..pkg.entries.len() {
            for (list, pairs) in [
                (pkg.superseded_by(i), &mut sup),
                (pkg.bundled_by(i), &mut bun),
            ] {
                for r in list.iter() {
                    match rev_index.get(r) {
                        Some(&j) if j as usize != i => pairs.push((j, i as u32)),
                        _ => dangling += 1,
                    }
                }
            }
        }
        if dangling > 0 {
            summary.warnings.push(format!(
                "{dangling} SupersededBy/BundledBy reference(s) name revisions that are not in the catalog; ignored"
            ));
        }
        if pkg.bad_ids > 0 {
            summary.warnings.push(format!(
                "{} payload file id(s) are not base64 SHA-1 digests; ignored",
                pkg.bad_ids
            ));
        }
        Ok(Scanned {
            stamp,
            outer,
            cabs,
            is_category: vec![false; n],
            rev_index,
            supersedes: Csr::build(n, sup),
            bundled: Csr::build(n, bun),
            pkg,
        })
    }

    fn guid(&self, entry: u32) -> Guid {
        bits_guid(self.pkg.entries[entry as usize].id)
    }

    /// Which inner CAB holds `revid`.
    fn cab_of(&self, revid: u32) -> Option<usize> {
        self.cabs
            .partition_point(|c| c.start <= revid)
            .checked_sub(1)
    }

    fn fingerprint(&self, i: usize) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"wsusscn2 1\0");
        h.update(self.pkg.digest(i));
        // Relations that other elements state about this one, and download addresses: they
        // change without a new revision, and the fetched update shows them.
        for (tag, list) in [(b'S', self.supersedes.get(i)), (b'B', self.bundled.get(i))] {
            let mut revs: Vec<u32> = list
                .iter()
                .map(|&j| self.pkg.entries[j as usize].revid)
                .collect();
            revs.sort_unstable();
            h.update([tag]);
            for r in revs {
                h.update(r.to_le_bytes());
            }
        }
        h.update(b"U");
        for p in self.pkg.payload(i) {
            h.update(p);
            h.update(self.pkg.url(p).map_or(&b"-"[..], |u| u.as_bytes()));
            h.update([0]);
        }
        h.finalize().into()
    }

    fn header(&self, i: usize) -> UpdateHeader {
        let e = &self.pkg.entries[i];
        UpdateHeader {
            id: bits_guid(e.id),
            revision: e.revision,
            update_type: if e.flags & NOT_SOFTWARE != 0 {
                "Detectoid"
            } else {
                "Software"
            }
            .to_string(),
            categories: self
                .pkg
                .categories(i)
                .iter()
                .map(|&g| bits_guid(self.pkg.guids[g as usize]))
                .collect(),
            languages: self
                .pkg
                .languages(i)
                .iter()
                .map(|&l| self.pkg.langs[l as usize].clone())
                .collect(),
            bundled: self.bundled.get(i).iter().map(|&c| self.guid(c)).collect(),
            // The offline catalog carries no documents to publish: its detectoids are not
            // selected with the updates that need them.
            prerequisites: Vec::new(),
            bundled_by: self
                .pkg
                .bundled_by(i)
                .iter()
                .filter_map(|r| self.rev_index.get(r))
                .map(|&j| self.guid(j))
                .collect(),
            publication_state: PublicationState::Published,
            fingerprint: self.fingerprint(i),
            key: i as u64,
        }
    }

    /// The update of entry `i` from its fragments and what `package.xml` says of it.
    fn assemble(&self, i: u32, frags: Fragments, part: &str) -> Result<Update> {
        let e = &self.pkg.entries[i as usize];
        let id = bits_guid(e.id);
        let mut u = match frags
            .finish()
            .map_err(|err| corrupt(part, format!("revision {}: {}", e.revid, err.message)))?
        {
            Document::Update(u) => u,
            Document::Category(c) => {
                return Err(corrupt(
                    part,
                    format!(
                        "revision {} is the category '{}', not an update",
                        e.revid, c.title
                    ),
                ));
            }
        };
        if u.id != id || u.revision != e.revision {
            return Err(corrupt(
                part,
                format!(
                    "fragment c\\{} describes {} revision {}, package.xml says {id} revision {}",
                    e.revid, u.id, u.revision, e.revision
                ),
            ));
        }
        u.supersedes.extend(
            self.supersedes
                .get(i as usize)
                .iter()
                .map(|&j| self.guid(j)),
        );
        for &c in self.bundled.get(i as usize) {
            let child = bits_guid(self.pkg.entries[c as usize].id);
            if !u.bundled.iter().any(|b| b.id == child) {
                u.bundled.push(BundledRef {
                    id: child,
                    revision: Some(self.pkg.entries[c as usize].revision),
                });
            }
        }
        u.categories.extend(
            self.pkg
                .categories(i as usize)
                .iter()
                .map(|&g| bits_guid(self.pkg.guids[g as usize])),
        );
        u.languages.extend(
            self.pkg
                .languages(i as usize)
                .iter()
                .map(|&l| self.pkg.langs[l as usize].clone()),
        );
        if u.creation_date.is_none() {
            u.creation_date = self.pkg.creation(i as usize).map(str::to_string);
        }
        if u.default_language.is_none() && e.default_language > 0 {
            u.default_language = Some(self.pkg.langs[e.default_language as usize - 1].clone());
        }
        for f in &mut u.files {
            if let Some(sha1) = &f.sha1 {
                f.url = self.pkg.url(sha1).map(str::to_string);
            }
        }
        u.publication_state = PublicationState::Published;
        u.normalize();
        Ok(u)
    }
}

/// What the fragments of one inner CAB gave.
enum Batch {
    /// Per entry (index), its fragments (categories).
    Fragments(Vec<(u32, Fragments)>),
    /// The updates, assembled (a fetch).
    Updates(Vec<Update>),
}

impl Wsusscn2Source {
    /// Reads the fragments of the entries `idx` (`want` says which) and calls `on_batch` once
    /// per inner CAB, in the order of the inner CABs in the catalog, so that the result does
    /// not depend on timing.
    ///
    /// Three kinds of work overlap: one thread reads the outer CAB in one pass and hands each
    /// wanted inner CAB on (in memory, or in an anonymous temporary file when large); workers
    /// decompress the inner CABs and parse their fragments; the calling thread takes the
    /// results in order (a sync writes them to the store meanwhile). At most a few inner CABs
    /// are in flight, so memory stays bounded however slow the caller is.
    fn read_fragments(
        &self,
        s: &Scanned,
        idx: &[u32],
        want: &(dyn Fn(u32) -> Want + Sync),
        on_batch: &mut dyn FnMut(Batch) -> Result<()>,
    ) -> Result<()> {
        let mut by_cab: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for &i in idx {
            let revid = s.pkg.entries[i as usize].revid;
            let c = s.cab_of(revid).ok_or_else(|| {
                missing(&format!(
                    "no fragment CAB holds revision {revid} (update {}): index.xml's first RANGESTART is {}",
                    s.guid(i),
                    s.cabs[0].start
                ))
            })?;
            by_cab.entry(s.cabs[c].member).or_default().push(i);
        }
        let (mut file, stamp) = self.open_file()?;
        if stamp != s.stamp {
            return Err(Error::other(format!(
                "{} changed while the sync was reading it",
                self.path.display()
            ))
            .with_hint("run the sync again once the catalog is in place"));
        }
        let members: Vec<usize> = by_cab.keys().copied().collect();
        // One core is left to the caller (a sync writes to the store meanwhile, and that is
        // the larger part of its work); each inner CAB in flight holds the parsed fragments
        // of its updates (tens of MB with every language), so few are.
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .saturating_sub(1)
            .clamp(1, 3)
            .min(members.len().max(1));
        let pool = Pool::default();
        let outer = &s.outer;
        let delivered = pipeline::ordered(
            workers,
            |feed| {
                stream_members(&mut file, outer, &members, &mut |m, r| {
                    feed.push(|| Ok((m, Spool::fill(r, outer.members[m].size, Some(&pool))?)))
                })
            },
            |(m, mut spool)| {
                let batch = self.cab_batch(s, m, &mut spool, &by_cab[&m], want);
                pool.put(spool);
                batch
            },
            on_batch,
        )?;
        if delivered != members.len() {
            return Err(Error::other("internal: the catalog reader stopped early"));
        }
        Ok(())
    }

    /// The fragments of the entries `entries` in the inner CAB `m` (spooled).
    fn cab_batch(
        &self,
        s: &Scanned,
        m: usize,
        spool: &mut Spool,
        entries: &[u32],
        want: &(dyn Fn(u32) -> Want + Sync),
    ) -> Result<Batch> {
        let part = self.inner_part(&s.outer.members[m].name);
        let len = spool
            .seek(SeekFrom::End(0))
            .map_err(|e| storage("read a temporary file", e))?;
        let dir = CabDir::read(spool, len, &part)?;
        let mut wanted = Vec::new();
        let mut owner: HashMap<usize, usize> = HashMap::new();
        for (k, found) in find_fragments(&dir, s, entries).iter_mut().enumerate() {
            let first = wanted.len();
            let e = &s.pkg.entries[entries[k] as usize];
            found.select(want(entries[k]), e, &part, &mut wanted)?;
            for &mi in &wanted[first..] {
                owner.insert(mi, k);
            }
        }
        let mut frags: Vec<Fragments> = (0..entries.len()).map(|_| Fragments::new()).collect();
        let mut bytes = Vec::new();
        stream_members(spool, &dir, &wanted, &mut |mi, r| {
            let m = &dir.members[mi];
            if m.size > MAX_FRAGMENT {
                return Err(Error::new(
                    ErrorKind::Limit,
                    format!(
                        "{} in {part}: {} bytes is too large for a fragment",
                        m.name, m.size
                    ),
                ));
            }
            bytes.clear();
            r.read_to_end(&mut bytes)
                .map_err(|e| storage("read a fragment", e))?;
            frags[owner[&mi]]
                .add(&bytes)
                .map_err(|e| corrupt(&format!("{} in {part}", m.name), e.message))
        })?;
        let pairs = entries.iter().copied().zip(frags);
        if entries.iter().all(|&i| want(i) == WANT_UPDATE) {
            Ok(Batch::Updates(
                pairs
                    .map(|(i, f)| s.assemble(i, f, &part))
                    .collect::<Result<_>>()?,
            ))
        } else {
            Ok(Batch::Fragments(pairs.collect()))
        }
    }

    fn scan_catalog(
        &mut self,
        sink: &mut dyn FnMut(ScanItem) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<ScanSummary> {
        let (mut file, stamp) = self.open_file()?;
        let outer = CabDir::read(&mut file, stamp.0, &self.name)?;
        let (cabs, pkg) = self.read_catalog(&mut file, &outer, progress)?;
        drop(file);
        let mut summary = catalog_summary(&pkg);
        let mut s = Scanned::new(stamp, outer, cabs, pkg, &self.name, &mut summary)?;
        let n = s.pkg.entries.len();

        progress.start("reading category fragments", None, Unit::Items);
        let (cats, cat_entries) = self.categories(&s, &mut summary)?;
        progress.finish();
        for (c, i) in cats.into_iter().zip(cat_entries) {
            s.is_category[i as usize] = true;
            // The catalog's fragments are a transformed, partial form: no document to keep.
            sink(ScanItem::Category(c, None))?;
        }
        progress.start("listing updates", Some(n as u64), Unit::Items);
        for i in 0..n {
            if !s.is_category[i] {
                sink(ScanItem::Update(s.header(i)))?;
            }
            progress.advance(1);
        }
        progress.finish();
        // The fetch needs neither the digests nor the payload ids nor the RevisionId index.
        s.pkg.forget_scan_only();
        s.rev_index = HashMap::new();
        self.scanned = Some(s);
        Ok(summary)
    }

    /// Finds the category entries, reads their fragments and returns them as categories,
    /// with their entry indexes, sorted by GUID.
    ///
    /// Categories are `Update` elements too. Certain ones: those that updates cite in
    /// `Categories` (the citation gives the kind) and their parents (the single
    /// prerequisite). Possible ones: any other entry that is not software and is evaluated
    /// (detectoids look the same); the core fragment's UpdateType decides, and only for the
    /// categories found that way, and for parents that no update cites, is the extended
    /// fragment read for the kind. The core fragments come first in an inner CAB and the
    /// extended ones last, so this keeps the scan from decompressing whole inner CABs.
    fn categories(
        &self,
        s: &Scanned,
        summary: &mut ScanSummary,
    ) -> Result<(Vec<Category>, Vec<u32>)> {
        let pkg = &s.pkg;
        let tree = Tree::new(pkg);
        let (idx, frags) = self.category_fragments(s, &tree, &tree.candidates())?;
        let kinds = tree.kinds(&idx, &frags);
        let mut out = Vec::with_capacity(idx.len());
        let mut untitled = 0;
        for &i in &idx {
            let e = &pkg.entries[i as usize];
            let id = bits_guid(e.id);
            let title = match frags[&i].title("en") {
                Some(t) if !t.is_empty() => t.to_string(),
                _ => {
                    untitled += 1;
                    id.to_string()
                }
            };
            out.push(Category {
                id,
                revision: e.revision,
                kind: kinds[&i],
                title,
                parent: e.sole_prereq.map(|p| bits_guid(pkg.guids[p as usize])),
            });
        }
        if untitled > 0 {
            summary.warnings.push(format!(
                "{untitled} categor(y/ies) have no title in their localized fragment; shown by GUID"
            ));
        }
        Ok((out, idx))
    }

    /// Reads what the categories need of their fragments: first the titles of the certain
    /// ones (and the extended fragment where no citation gives the kind) and the core
    /// fragments of the possible ones, then the titles and extended fragments of the possible
    /// ones that turned out to be categories. Returns the category entries, sorted by
    /// (GUID, entry), and their fragments.
    fn category_fragments(
        &self,
        s: &Scanned,
        tree: &Tree<'_>,
        candidates: &[Candidate],
    ) -> Result<(Vec<u32>, HashMap<u32, Fragments>)> {
        let idx: Vec<u32> = (0..candidates.len() as u32)
            .filter(|&i| candidates[i as usize] != Candidate::No)
            .collect();
        if idx.is_empty() {
            return Ok((Vec::new(), HashMap::new()));
        }
        let mut frags: HashMap<u32, Fragments> = HashMap::with_capacity(idx.len());
        fn collect(frags: &mut HashMap<u32, Fragments>) -> impl FnMut(Batch) -> Result<()> + '_ {
            |batch| {
                if let Batch::Fragments(v) = batch {
                    frags.extend(v);
                }
                Ok(())
            }
        }
        let first = |i: u32| match candidates[i as usize] {
            Candidate::Certain => Want {
                core: false,
                extended: tree.cited_kind(i).is_none(),
                titles: Titles::One,
            },
            _ => Want {
                core: true,
                extended: false,
                titles: Titles::None,
            },
        };
        self.read_fragments(s, &idx, &first, &mut collect(&mut frags))?;
        let found: Vec<u32> = idx
            .iter()
            .copied()
            .filter(|i| {
                candidates[*i as usize] == Candidate::Possible
                    && frags[i]
                        .update_type()
                        .is_some_and(|t| t.eq_ignore_ascii_case("Category"))
            })
            .collect();
        if !found.is_empty() {
            let second = |_| Want {
                core: false,
                extended: true,
                titles: Titles::One,
            };
            self.read_fragments(s, &found, &second, &mut collect(&mut frags))?;
        }
        let mut idx: Vec<u32> = idx
            .into_iter()
            .filter(|i| candidates[*i as usize] == Candidate::Certain)
            .chain(found)
            .collect();
        idx.sort_by_key(|&i| (tree.pkg.entries[i as usize].id, i));
        Ok((idx, frags))
    }
}

/// Whether an entry of `package.xml` is a category, as far as `package.xml` tells.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Candidate {
    No,
    /// Cited by an update as a category, or the parent of one.
    Certain,
    /// Not software and evaluated: a category or a detectoid; its core fragment tells.
    Possible,
}

/// The family tree of the categories as `package.xml` gives it.
struct Tree<'a> {
    pkg: &'a Package,
    /// The entry of each GUID's newest revision.
    by_guid: HashMap<u128, u32>,
}

impl<'a> Tree<'a> {
    fn new(pkg: &'a Package) -> Tree<'a> {
        let mut by_guid: HashMap<u128, u32> = HashMap::new();
        for (i, e) in pkg.entries.iter().enumerate() {
            let slot = by_guid.entry(e.id).or_insert(i as u32);
            if pkg.entries[*slot as usize].revision < e.revision {
                *slot = i as u32;
            }
        }
        Tree { pkg, by_guid }
    }

    /// The kind with which updates cite entry `i` as a category, when one does.
    fn cited_kind(&self, i: u32) -> Option<CategoryKind> {
        let g = self.pkg.guid_lookup(self.pkg.entries[i as usize].id)?;
        self.pkg.cited.get(&g).copied()
    }

    /// The entry of `i`'s parent (its only prerequisite).
    fn parent_of(&self, i: u32) -> Option<u32> {
        let p = self.pkg.entries[i as usize].sole_prereq?;
        self.by_guid.get(&self.pkg.guids[p as usize]).copied()
    }

    /// Per entry, whether it is a category.
    fn candidates(&self) -> Vec<Candidate> {
        let pkg = self.pkg;
        let mut out = vec![Candidate::No; pkg.entries.len()];
        let mut queue: Vec<u32> = pkg
            .cited
            .keys()
            .filter_map(|&g| self.by_guid.get(&pkg.guids[g as usize]).copied())
            .collect();
        while let Some(i) = queue.pop() {
            if out[i as usize] == Candidate::Certain {
                continue;
            }
            out[i as usize] = Candidate::Certain;
            queue.extend(self.parent_of(i));
        }
        for (c, e) in out.iter_mut().zip(&pkg.entries) {
            if *c == Candidate::No && e.flags & (NOT_SOFTWARE | EVALUATE) == NOT_SOFTWARE | EVALUATE
            {
                *c = Candidate::Possible;
            }
        }
        out
    }

    /// The kind of each category entry in `idx`: its CategoryInformation, else the citation,
    /// else where it stands in the family tree.
    fn kinds(&self, idx: &[u32], frags: &HashMap<u32, Fragments>) -> HashMap<u32, CategoryKind> {
        let mut kinds: HashMap<u32, CategoryKind> = HashMap::new();
        for &i in idx {
            let from_fragment = frags[&i]
                .category_type()
                .and_then(|t| CategoryKind::parse(t.trim()));
            if let Some(k) = from_fragment.or_else(|| self.cited_kind(i)) {
                kinds.insert(i, k);
            }
        }
        for &i in idx {
            if kinds.contains_key(&i) {
                continue;
            }
            let child = idx
                .iter()
                .find(|&&c| self.parent_of(c) == Some(i))
                .and_then(|c| kinds.get(c));
            let kind = match (child, self.parent_of(i).and_then(|p| kinds.get(&p))) {
                (Some(CategoryKind::Product), _) => CategoryKind::ProductFamily,
                (Some(_), _) => CategoryKind::Company,
                (None, Some(CategoryKind::Company)) => CategoryKind::ProductFamily,
                (None, Some(_)) => CategoryKind::Product,
                (None, None) => CategoryKind::Classification,
            };
            kinds.insert(i, kind);
        }
        kinds
    }
}

impl Upstream for Wsusscn2Source {
    fn describe(&self) -> String {
        format!("wsusscn2 {}", self.path.display())
    }

    fn catalog_file(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn locate(&self, key: u64) -> String {
        match &self.scanned {
            Some(s) if (key as usize) < s.pkg.entries.len() => {
                let e = &s.pkg.entries[key as usize];
                let cab = s
                    .cab_of(e.revid)
                    .map(|c| s.cabs[c].name.as_str())
                    .unwrap_or("no fragment CAB");
                format!(
                    "revision {} (update {} revision {}, {cab}) in {}",
                    e.revid,
                    bits_guid(e.id),
                    e.revision,
                    self.name
                )
            }
            _ => format!("entry {key} of {}", self.name),
        }
    }

    fn scan(
        &mut self,
        sink: &mut dyn FnMut(ScanItem) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<ScanSummary> {
        self.scanned = None;
        self.scan_catalog(sink, progress)
    }

    fn fetch(
        &mut self,
        keys: &[u64],
        sink: &mut dyn FnMut(Fetched) -> Result<()>,
        progress: &dyn Progress,
    ) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let s = self
            .scanned
            .as_ref()
            .ok_or_else(|| Error::other("internal: fetch before scan"))?;
        let mut idx = Vec::with_capacity(keys.len());
        for &k in keys {
            if k as usize >= s.pkg.entries.len() || s.is_category[k as usize] {
                return Err(Error::other(format!("internal: no update with key {k}")));
            }
            idx.push(k as u32);
        }
        progress.start(
            "reading selected updates",
            Some(idx.len() as u64),
            Unit::Items,
        );
        self.read_fragments(s, &idx, &|_| WANT_UPDATE, &mut |batch| {
            if let Batch::Updates(v) = batch {
                for update in v {
                    sink(Fetched {
                        update,
                        document: None,
                    })?;
                    progress.advance(1);
                }
            }
            Ok(())
        })?;
        progress.finish();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
