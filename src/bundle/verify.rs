//! Verifying a bundle without a store: finding its manifest and volumes, and checking every
//! byte against the manifest.
//!
//! Problems are data, not early returns: [`verify`] collects every finding so that an operator
//! sees all of them in one run. Each volume is read once (`pass`): its end records and central
//! directory, then one forward pass that feeds the volume's SHA-256 and the entry checks
//! together. Findings about its entries are held until the volume's size and SHA-256 are known
//! to match the manifest; when they do not, only that is reported, so a damaged volume is
//! reported as damaged, never as whatever its altered bytes happen to look like.

use super::manifest::{self, Layout, MAX_MANIFEST_BYTES, Manifest, Sha256Hex};
use super::names::{MANIFEST_FILE, METADATA_ENTRY, SUMS_FILE};
use super::pass::{self, CheckOnly, MediaCount, Pass, PassTarget};
use super::volume::{self, ReadFailure, ScannedEntry};
use crate::error::{Error, ErrorKind, Result};
use crate::progress::{Progress, Unit};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// One problem: its exit-code category, what it concerns (a file, a volume, an entry), and
/// what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: ErrorKind,
    pub subject: String,
    pub message: String,
}

impl Finding {
    pub fn new(kind: ErrorKind, subject: &str, message: String) -> Finding {
        Finding {
            kind,
            subject: subject.to_string(),
            message,
        }
    }

    /// The finding as an error (for callers that stop at the first problem).
    pub fn into_error(self) -> Error {
        Error::new(self.kind, format!("{}: {}", self.subject, self.message))
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.kind.name(),
            self.subject,
            self.message
        )
    }
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Finding", 4)?;
        st.serialize_field("kind", self.kind.name())?;
        st.serialize_field("exit_code", &self.kind.exit_code())?;
        st.serialize_field("subject", &self.subject)?;
        st.serialize_field("message", &self.message)?;
        st.end()
    }
}

/// Where a bundle's manifest is and every file found under one of its volume names.
#[derive(Clone, Debug)]
pub struct Located {
    pub manifest_path: PathBuf,
    /// The bundle folder (the manifest's folder).
    pub dir: PathBuf,
    /// (volume name, path) for every file found under a volume name, in volume order, then
    /// in the order the paths were given; a name can appear more than once (several discs).
    pub volumes: Vec<(String, PathBuf)>,
    /// Volume names found nowhere.
    pub missing: Vec<String>,
}

impl Located {
    /// Every file found for a volume name.
    pub fn candidates<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PathBuf> + 'a {
        self.volumes
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, p)| p)
    }
}

/// Resolves the first path given to verify or import: the bundle folder or its manifest.
/// Returns (manifest path, bundle folder).
pub fn find_manifest(first: &Path) -> Result<(PathBuf, PathBuf)> {
    let meta = fs::metadata(first).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            Error::usage(format!("{} does not exist", first.display()))
        } else {
            Error::io(first, "read", e)
        }
    })?;
    if meta.is_dir() {
        let m = first.join(MANIFEST_FILE);
        if !m.is_file() {
            return Err(Error::new(ErrorKind::Incomplete, format!("{} holds no {MANIFEST_FILE}", first.display()))
                .with_hint("give the bundle folder (or its manifest.json) first; folders holding only volumes go after it"));
        }
        return Ok((m, first.to_path_buf()));
    }
    if first
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        return Err(Error::usage(format!("{} is a volume, not a manifest", first.display()))
            .with_hint("give the bundle folder (or its manifest.json) first; volumes and folders holding them go after it"));
    }
    let dir = match first.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((first.to_path_buf(), dir))
}

/// Reads the manifest's bytes, refusing a file larger than the limit before reading it.
pub fn read_manifest_bytes(path: &Path) -> Result<Vec<u8>> {
    read_capped(path, MAX_MANIFEST_BYTES)
}

/// Opens a file taken from the media for reading, refusing anything but a regular file
/// (corrupt). The media can change at any moment, so the type is checked through the opened
/// handle, never by name before opening; and the open itself must not block: opening a FIFO
/// waits for a writer, so on Unix it is opened non-blocking (which changes nothing for the
/// reads of a regular file).
pub fn open_media(path: &Path) -> Result<File> {
    let f = crate::fsutil::open_read_nonblocking(path).map_err(|e| Error::io(path, "open", e))?;
    let md = f.metadata().map_err(|e| Error::io(path, "stat", e))?;
    if !md.is_file() {
        return Err(not_a_file(path));
    }
    Ok(f)
}

pub(crate) fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    // Only regular files: a FIFO never ends, nor does a device.
    let f = open_media(path)?;
    let len = f.metadata().map_err(|e| Error::io(path, "stat", e))?.len();
    if len > cap {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "{} is {len} bytes, more than the limit of {cap}",
                path.display()
            ),
        ));
    }
    let mut out = Vec::with_capacity(len as usize);
    f.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, "read", e))?;
    if out.len() as u64 > cap {
        return Err(Error::new(
            ErrorKind::Limit,
            format!(
                "{} grew beyond the limit of {cap} bytes while read",
                path.display()
            ),
        ));
    }
    Ok(out)
}

fn not_a_file(path: &Path) -> Error {
    Error::new(
        ErrorKind::Corrupt,
        format!(
            "{} is not a regular file (a bundle holds only regular files)",
            path.display()
        ),
    )
}

/// Largest `SHA256SUMS` worth reading for a manifest: a line per volume and some slack.
pub(crate) fn sums_cap(m: &Manifest) -> u64 {
    64 * 1024 + 256 * m.volumes.len() as u64
}

/// Finds the volumes the manifest lists: by name in the bundle folder, and in every further
/// path (a folder: the name inside it; a file: matched by its file name). The order of the
/// further paths does not matter.
pub fn locate(paths: &[PathBuf], manifest: &Manifest) -> Result<Located> {
    let first = paths
        .first()
        .ok_or_else(|| Error::usage("no bundle path given"))?;
    let (manifest_path, dir) = find_manifest(first)?;
    let mut places: Vec<&Path> = vec![&dir];
    for p in &paths[1..] {
        if !p.exists() {
            return Err(Error::usage(format!("{} does not exist", p.display())));
        }
        places.push(p);
    }
    let mut volumes = Vec::new();
    let mut missing = Vec::new();
    for v in &manifest.volumes {
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let mut found = false;
        for place in &places {
            let candidate = if place.is_dir() {
                let c = place.join(&v.name);
                if !c.is_file() {
                    continue;
                }
                c
            } else if place.file_name().is_some_and(|n| n == v.name.as_str()) && place.is_file() {
                place.to_path_buf()
            } else {
                continue;
            };
            // The same file reached twice (the bundle folder given again) counts once.
            let key = fs::canonicalize(&candidate).unwrap_or_else(|_| candidate.clone());
            if seen.insert(key) {
                volumes.push((v.name.clone(), candidate));
                found = true;
            }
        }
        if !found {
            missing.push(v.name.clone());
        }
    }
    Ok(Located {
        manifest_path,
        dir,
        volumes,
        missing,
    })
}

/// What one volume's check came to.
#[derive(Clone, Debug, Serialize)]
pub struct VolumeCheck {
    pub name: String,
    /// The file that was checked (the one matching the manifest when several were found).
    pub path: Option<PathBuf>,
    pub ok: bool,
}

/// A short description of the bundle, for reports.
#[derive(Clone, Debug, Serialize)]
pub struct BundleSummary {
    pub bundle_id: String,
    pub store_id: String,
    pub store_name: String,
    pub sequence: u64,
    pub kind: manifest::BundleKind,
    pub base_sequence: Option<u64>,
    pub created: crate::time::Timestamp,
    pub counts: manifest::Counts,
    pub volumes: usize,
    pub entries: usize,
}

/// The outcome of [`verify`]: every finding, in the order the checks ran.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub manifest_path: Option<PathBuf>,
    pub manifest: Option<Manifest>,
    /// SHA-256 of the manifest's bytes as read (compare with the reader's to be sure the
    /// manifest did not change between verify and import).
    pub manifest_sha256: Option<[u8; 32]>,
    pub volumes: Vec<VolumeCheck>,
    /// Entries read to their end and found equal to the manifest.
    pub entries_checked: u64,
    /// Bytes read from volumes by the pass that checks them (each byte once, unless a
    /// volume had to be read out of order or several files were found under its name).
    pub bytes_read: u64,
    /// Every byte read from volume files: `bytes_read` plus the end records and central
    /// directories, read first from the end of each volume, and the header of a volume that
    /// did not match, read to tell another bundle's from a damaged one.
    pub media_bytes_read: u64,
    pub findings: Vec<Finding>,
    /// The manifest's bytes as read (what a signature covers).
    pub manifest_bytes: Option<Vec<u8>>,
}

impl VerifyReport {
    /// No finding at all.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }

    /// The category of the first check that failed: it decides the exit code.
    pub fn first_error_kind(&self) -> Option<ErrorKind> {
        self.findings.first().map(|f| f.kind)
    }

    pub fn summary(&self) -> Option<BundleSummary> {
        self.manifest.as_ref().map(|m| BundleSummary {
            bundle_id: m.bundle_id.clone(),
            store_id: m.source.store_id.clone(),
            store_name: m.source.store_name.clone(),
            sequence: m.sequence,
            kind: m.kind,
            base_sequence: m.base_sequence,
            created: m.created,
            counts: m.counts,
            volumes: m.volumes.len(),
            entries: m.entries.len(),
        })
    }

    fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }
}

impl Serialize for VerifyReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            ok: bool,
            exit_code: u8,
            manifest_path: &'a Option<PathBuf>,
            manifest_sha256: Option<Sha256Hex>,
            bundle: Option<BundleSummary>,
            volumes: &'a [VolumeCheck],
            entries_checked: u64,
            bytes_read: u64,
            media_bytes_read: u64,
            findings: &'a [Finding],
        }
        View {
            ok: self.ok(),
            exit_code: self.first_error_kind().map_or(0, ErrorKind::exit_code),
            manifest_path: &self.manifest_path,
            manifest_sha256: self.manifest_sha256.map(Sha256Hex),
            bundle: self.summary(),
            volumes: &self.volumes,
            entries_checked: self.entries_checked,
            bytes_read: self.bytes_read,
            media_bytes_read: self.media_bytes_read,
            findings: &self.findings,
        }
        .serialize(s)
    }
}

fn error_finding(e: Error, subject: &str) -> Finding {
    Finding {
        kind: e.kind,
        subject: subject.to_string(),
        message: e.message,
    }
}

/// Checks a bundle: `paths[0]` is the bundle folder or its `manifest.json`, further paths are
/// folders or files where volumes are found. Needs no store. Never stops at the first
/// problem: the report lists every finding, in the order the checks ran.
pub fn verify(paths: &[PathBuf], progress: &dyn Progress) -> VerifyReport {
    verify_into(paths, progress, &mut CheckOnly(super::records::Discard))
}

/// [`verify`], handing what the checks read to `target` on the way (each volume is read
/// once): the caller keeps what the target received only when the report has no finding.
pub fn verify_into(
    paths: &[PathBuf],
    progress: &dyn Progress,
    target: &mut dyn PassTarget,
) -> VerifyReport {
    let mut report = VerifyReport::default();
    let Some(first) = paths.first() else {
        report.push(Finding::new(
            ErrorKind::Usage,
            "arguments",
            "no bundle path given".into(),
        ));
        return report;
    };
    let (manifest_path, dir) = match find_manifest(first) {
        Ok(x) => x,
        Err(e) => {
            report.push(error_finding(e, &first.display().to_string()));
            return report;
        }
    };
    report.manifest_path = Some(manifest_path.clone());
    let bytes = match read_manifest_bytes(&manifest_path) {
        Ok(b) => b,
        Err(e) => {
            report.push(error_finding(e, MANIFEST_FILE));
            return report;
        }
    };
    let manifest_sha256 = crate::hash::sha256(&bytes);
    report.manifest_sha256 = Some(manifest_sha256);
    let m = match Manifest::parse(&bytes) {
        Ok(m) => m,
        Err(e) => {
            report.push(error_finding(e, MANIFEST_FILE));
            return report;
        }
    };
    report.manifest_bytes = Some(bytes);
    let problems = m.problems();
    report.manifest = Some(m.clone());
    if !problems.is_empty() {
        // The volume checks are driven by the manifest's layout: with an inconsistent
        // manifest they would only add noise.
        report.findings.extend(problems);
        return report;
    }

    let sums = dir.join(SUMS_FILE);
    if sums.exists() {
        match read_capped(&sums, sums_cap(&m)) {
            Ok(text) => {
                let text = String::from_utf8_lossy(&text);
                report
                    .findings
                    .extend(manifest::check_sha256sums(&text, &manifest_sha256, &m));
            }
            Err(e) => report.push(error_finding(e, SUMS_FILE)),
        }
    }

    let located = match locate(paths, &m) {
        Ok(l) => l,
        Err(e) => {
            report.push(error_finding(e, "arguments"));
            return report;
        }
    };
    let layout = Layout::new(&m);
    // Each volume byte is read once (the volume hash and the entry checks in one pass).
    let total: u64 = m.volumes.iter().map(|v| v.size).sum::<u64>();
    progress.start("verifying", Some(total), Unit::Bytes);

    let count = MediaCount::default();
    let mut checker = Checker {
        m: &m,
        layout: &layout,
        present: HashSet::new(),
        scanned: vec![false; m.volumes.len()],
        joins: BTreeMap::new(),
        progress,
        target,
        count: &count,
    };
    if checker.volumes(&located, &mut report) {
        checker.finish(&mut report);
        progress.finish();
    }
    report.media_bytes_read = count.get();
    report
}

/// When the operator asked to stop (see [`Progress::cancelled`]): replaces what the stopped
/// hash made of the current volume, which is no finding about the bundle, with an
/// interruption, and says to stop.
fn stop_if_cancelled(
    progress: &dyn Progress,
    report: &mut VerifyReport,
    findings_before: usize,
    volume: &str,
) -> bool {
    if !progress.cancelled() {
        return false;
    }
    report.findings.truncate(findings_before);
    report.push(error_finding(
        Error::interrupted("verification", "nothing was changed"),
        volume,
    ));
    progress.finish();
    true
}

/// A content file cut into pieces, hashed as its pieces are read in order.
#[derive(Clone)]
struct Join {
    sha: Sha256,
    next: u64,
    broken: bool,
}

struct Checker<'a> {
    m: &'a Manifest,
    layout: &'a Layout,
    /// Manifest entries found in the volume the manifest names (even when they failed).
    present: HashSet<usize>,
    /// Volumes whose structure was examined.
    scanned: Vec<bool>,
    joins: BTreeMap<[u8; 32], Join>,
    progress: &'a dyn Progress,
    target: &'a mut dyn PassTarget,
    count: &'a MediaCount,
}

/// What reading the entries of one volume found, kept aside until the volume's hash is
/// known to match the manifest.
struct EntryReads {
    findings: Vec<Finding>,
    checked: u64,
    joins: BTreeMap<[u8; 32], Join>,
}

impl Checker<'_> {
    /// Checks every volume in turn; false when the operator asked to stop.
    fn volumes(&mut self, located: &Located, report: &mut VerifyReport) -> bool {
        for (i, v) in self.m.volumes.iter().enumerate() {
            let vol = i as u32 + 1;
            let at_start = report.findings.len();
            let chosen = self.check(located, vol, report);
            report.volumes.push(VolumeCheck {
                name: v.name.clone(),
                path: chosen.clone(),
                ok: chosen.is_some() && report.findings.len() == at_start,
            });
            if stop_if_cancelled(self.progress, report, at_start, &v.name) {
                return false;
            }
        }
        true
    }

    /// Checks volume `vol`: finds its file and reads it once, comparing its size and SHA-256
    /// with the manifest and checking its structure and entries on the way. Returns the file
    /// used. When its bytes differ from the manifest's, only that is reported (what the
    /// structure showed on the way is dropped: the manifest does not vouch for those bytes).
    fn check(&mut self, located: &Located, vol: u32, report: &mut VerifyReport) -> Option<PathBuf> {
        let v = &self.m.volumes[vol as usize - 1];
        let candidates: Vec<&PathBuf> = located.candidates(&v.name).collect();
        if candidates.len() != 1 {
            // None, or several discs holding one name: the one that matches is found by
            // hashing each first (a second read, in that rare case).
            let path = self.choose(located, vol, report)?;
            return self.read_checked(&path, vol, report, false).then_some(path);
        }
        let c = candidates[0];
        let mismatch = match fs::metadata(c) {
            Err(e) => {
                report.push(Finding::new(
                    ErrorKind::Corrupt,
                    &v.name,
                    format!("{}: cannot be read: {e}", c.display()),
                ));
                return None;
            }
            Ok(md) if md.len() != v.size => {
                format!(
                    "{}: {} bytes, the manifest says {}",
                    c.display(),
                    md.len(),
                    v.size
                )
            }
            Ok(_) => return self.read_checked(c, vol, report, true).then(|| c.clone()),
        };
        self.mismatch(c, vol, mismatch, report);
        None
    }

    /// Reports a file that does not match volume `vol`: a volume of another bundle is
    /// incomplete, anything else corrupt (the same finding as [`Checker::choose`]'s).
    fn mismatch(&self, c: &Path, vol: u32, why: String, report: &mut VerifyReport) {
        let v = &self.m.volumes[vol as usize - 1];
        let (kind, reason) = match self.count_header(c, vol) {
            Some(foreign) => (ErrorKind::Incomplete, format!("{}: {foreign}", c.display())),
            None => (ErrorKind::Corrupt, why),
        };
        report.push(Finding::new(kind, &v.name, reason));
    }

    /// [`volume::foreign_volume`], counting what it reads (a header entry).
    fn count_header(&self, c: &Path, vol: u32) -> Option<String> {
        let why = volume::foreign_volume(c, self.m, vol);
        self.count.add(
            fs::metadata(c)
                .map_or(0, |m| m.len())
                .min(volume::MAX_HEADER_BYTES + 1024),
        );
        why
    }

    /// Reads the volume at `path` once and, when its size and SHA-256 match the manifest,
    /// reports what its structure and entries showed. `compare`: report a difference (false
    /// when the file was already chosen by its hash). True when the volume matched.
    fn read_checked(
        &mut self,
        path: &Path,
        vol: u32,
        report: &mut VerifyReport,
        compare: bool,
    ) -> bool {
        let listed = &self.m.volumes[vol as usize - 1];
        let vname = listed.name.clone();
        let mut reads = EntryReads {
            findings: Vec::new(),
            checked: 0,
            joins: self.joins.clone(),
        };
        let (m, layout, count, progress) = (self.m, self.layout, self.count, self.progress);
        let before = count.get();
        let pass = pass::read_volume(
            path,
            listed.size,
            m,
            layout,
            vol,
            count,
            progress,
            &mut |f, se| self.read_one(f, se, &vname, &mut reads),
        );
        let (hash, scan) = match pass {
            Ok(Pass::Read { hash, scan }) => (hash, scan),
            Ok(Pass::OutOfOrder) => {
                // Out of order: the slow way, hash first, then the structure.
                report.bytes_read += count.get() - before;
                if compare && self.choose_one(path, vol, report).is_none() {
                    return false;
                }
                return self.check_volume(path, vol, report);
            }
            Err(e) => {
                report.push(error_finding(e, &vname));
                return false;
            }
        };
        report.bytes_read += match &hash {
            Ok((len, _)) => *len,
            Err(_) => count.get() - before,
        };
        let why = match hash {
            Ok((len, h)) if len == listed.size && h == listed.sha256.0 => None,
            Ok((len, _)) if len != listed.size => Some(format!(
                "{}: {len} bytes, the manifest says {}",
                path.display(),
                listed.size
            )),
            Ok((_, h)) => Some(format!(
                "{}: SHA-256 {}, the manifest says {}",
                path.display(),
                hex::encode(h),
                listed.sha256
            )),
            Err(e) => Some(format!(
                "{}: {}",
                path.display(),
                Error::io(path, "read", e)
            )),
        };
        if let Some(why) = why {
            self.mismatch(path, vol, why, report);
            return false;
        }
        let at_start = report.findings.len();
        self.commit(vol, scan, reads, report);
        report.findings.len() == at_start
    }

    /// The findings of a volume that matched the manifest, in the order of the slow way:
    /// its structure first, then its entries.
    fn commit(
        &mut self,
        vol: u32,
        scan: volume::VolumeScan,
        reads: EntryReads,
        report: &mut VerifyReport,
    ) {
        let vname = self.m.volumes[vol as usize - 1].name.clone();
        push_capped(report, scan.findings, &vname);
        if scan.foreign {
            return;
        }
        self.scanned[vol as usize - 1] = true;
        self.present.extend(scan.present.iter().copied());
        self.joins = reads.joins;
        report.entries_checked += reads.checked;
        report.findings.extend(reads.findings);
    }

    /// [`Checker::choose`] for one file: its hash against the manifest.
    fn choose_one(&mut self, path: &Path, vol: u32, report: &mut VerifyReport) -> Option<()> {
        let v = &self.m.volumes[vol as usize - 1];
        let why = match hash_with_progress(path, self.progress, self.count, &mut report.bytes_read)
        {
            Ok(h) if h == v.sha256.0 => return Some(()),
            Ok(h) => format!(
                "{}: SHA-256 {}, the manifest says {}",
                path.display(),
                hex::encode(h),
                v.sha256
            ),
            Err(e) => format!("{}: {e}", path.display()),
        };
        self.mismatch(path, vol, why, report);
        None
    }

    /// Picks the file that matches the manifest's size and SHA-256 among the candidates for
    /// a volume, reporting why when none does.
    fn choose(
        &mut self,
        located: &Located,
        vol: u32,
        report: &mut VerifyReport,
    ) -> Option<PathBuf> {
        let v = &self.m.volumes[vol as usize - 1];
        let candidates: Vec<&PathBuf> = located.candidates(&v.name).collect();
        if candidates.is_empty() {
            report.push(Finding::new(
                ErrorKind::Incomplete,
                &v.name,
                format!("volume {vol} of {} was not found", self.m.volumes.len()),
            ));
            return None;
        }
        let mut reasons = Vec::new();
        let mut all_foreign = true;
        for c in &candidates {
            let len = match fs::metadata(c) {
                Ok(md) => md.len(),
                Err(e) => {
                    reasons.push(format!("{}: cannot be read: {e}", c.display()));
                    all_foreign = false;
                    continue;
                }
            };
            let mismatch = if len != v.size {
                format!("{}: {len} bytes, the manifest says {}", c.display(), v.size)
            } else {
                match hash_with_progress(c, self.progress, self.count, &mut report.bytes_read) {
                    Ok(h) if h == v.sha256.0 => return Some((*c).clone()),
                    Ok(h) => format!(
                        "{}: SHA-256 {}, the manifest says {}",
                        c.display(),
                        hex::encode(h),
                        v.sha256
                    ),
                    Err(e) => format!("{}: {e}", c.display()),
                }
            };
            match self.count_header(c, vol) {
                Some(why) => reasons.push(format!("{}: {why}", c.display())),
                None => {
                    all_foreign = false;
                    reasons.push(mismatch);
                }
            }
        }
        let kind = if all_foreign {
            ErrorKind::Incomplete
        } else {
            ErrorKind::Corrupt
        };
        report.push(Finding::new(kind, &v.name, reasons.join("; ")));
        None
    }

    /// The slow way, for a volume whose structure asks to read it out of order (its hash
    /// already matched): the structure, then each entry where it is. True when nothing was
    /// found.
    fn check_volume(&mut self, path: &Path, vol: u32, report: &mut VerifyReport) -> bool {
        let vname = self.m.volumes[vol as usize - 1].name.clone();
        let file = match open_media(path) {
            Ok(v) => v,
            Err(e) => {
                report.push(error_finding(e, &vname));
                return false;
            }
        };
        let mut file = pass::Counted {
            file,
            count: self.count,
        };
        let len = self.m.volumes[vol as usize - 1].size;
        let scan = volume::scan_volume(&mut file, len, self.m, self.layout, vol);
        let mut reads = EntryReads {
            findings: Vec::new(),
            checked: 0,
            joins: std::mem::take(&mut self.joins),
        };
        if !scan.foreign {
            for se in &scan.entries {
                self.read_one(&mut file, se, &vname, &mut reads);
            }
        }
        let at_start = report.findings.len();
        self.commit(vol, scan, reads, report);
        report.findings.len() == at_start
    }

    /// Reads one entry that passed the structural checks to its end with every check: pieces
    /// feed the hash of their whole file, content goes to the target when it wants it, and
    /// metadata.bin's inflated bytes go through the record checks to the target's sink.
    fn read_one<R: Read + Seek>(
        &mut self,
        file: &mut R,
        se: &ScannedEntry,
        vname: &str,
        reads: &mut EntryReads,
    ) {
        let listed = &self.m.entries[se.index];
        let subject = format!("{vname}: {}", listed.path);
        if listed.path == METADATA_ENTRY {
            let (m, layout) = (self.m, self.layout);
            let sink = self.target.records();
            let mut check = None;
            let read = volume::consume_entry(file, se, listed, &subject, &mut |r| {
                check = Some(super::records::read_metadata_stream(r, m, layout, sink));
            });
            match read {
                Ok(()) => {
                    reads.checked += 1;
                    if let Some(c) = check {
                        reads.findings.extend(c.findings);
                        // A sink that failed took only part of the records: never a pass.
                        if let Some(e) = c.sink_error {
                            reads
                                .findings
                                .push(Finding::new(e.kind, &subject, e.message));
                        }
                    }
                }
                Err(ReadFailure::Entry(finding)) => reads.findings.push(finding),
                Err(ReadFailure::Sink(e)) => {
                    reads
                        .findings
                        .push(Finding::new(ErrorKind::Other, &subject, e.to_string()))
                }
            }
            return;
        }
        // Pieces also feed the hash of their whole file, when they come in order.
        let mut join = None;
        if let (Some(file), Some(offset)) = (listed.file, listed.offset) {
            let j = reads.joins.entry(file.0).or_insert(Join {
                sha: Sha256::new(),
                next: 0,
                broken: false,
            });
            if j.broken || j.next != offset {
                j.broken = true;
            } else {
                join = Some(j);
            }
        }
        let whole = listed.file.map_or(listed.sha256.0, |f| f.0);
        let size = self
            .layout
            .files
            .get(&whole)
            .map_or(listed.size, |f| f.size);
        let wanted = self
            .target
            .begin_content(&whole, listed.offset.unwrap_or(0), size);
        let mut sink = EntrySink {
            join: join.as_mut().map(|j| &mut j.sha),
            target: if wanted {
                Some(&mut *self.target)
            } else {
                None
            },
        };
        let read = volume::read_entry(file, se, listed, &subject, &mut sink, &mut |_| {});
        if wanted {
            self.target.end_content(read.is_ok());
        }
        match read {
            Ok(()) => {
                reads.checked += 1;
                if let Some(j) = join {
                    j.next += listed.size;
                }
            }
            Err(ReadFailure::Entry(finding)) => {
                reads.findings.push(finding);
                if let Some(j) = join {
                    j.broken = true;
                }
            }
            Err(ReadFailure::Sink(e)) => {
                reads
                    .findings
                    .push(Finding::new(ErrorKind::Other, &subject, e.to_string()))
            }
        }
    }

    /// Entries listed but absent from their (examined) volume, and the whole-file hashes of
    /// files cut into pieces.
    fn finish(&mut self, report: &mut VerifyReport) {
        let mut absent = Vec::new();
        for (i, e) in self.m.entries.iter().enumerate() {
            let examined = self
                .scanned
                .get(e.volume as usize - 1)
                .copied()
                .unwrap_or(false);
            if examined && !self.present.contains(&i) {
                absent.push(Finding::new(
                    ErrorKind::Incomplete,
                    &e.path,
                    format!("listed in volume {} but not found in it", e.volume),
                ));
            }
        }
        push_capped(report, absent, "the bundle");
        let joins = std::mem::take(&mut self.joins);
        for (file, j) in joins {
            let Some(layout) = self.layout.files.get(&file) else {
                continue;
            };
            if j.broken || j.next != layout.size {
                continue;
            }
            let digest: [u8; 32] = j.sha.finalize().into();
            if digest != file {
                report.push(Finding::new(
                    ErrorKind::Corrupt,
                    &format!("content/{}", hex::encode(file)),
                    format!(
                        "its pieces join into a file with SHA-256 {}",
                        hex::encode(digest)
                    ),
                ));
            }
        }
    }
}

/// Where a content entry's bytes go as they are read: into the hash of its whole file
/// (pieces) and to the target (when it wants them).
struct EntrySink<'a> {
    join: Option<&'a mut Sha256>,
    target: Option<&'a mut dyn PassTarget>,
}

impl Write for EntrySink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(h) = &mut self.join {
            h.update(buf);
        }
        if let Some(t) = &mut self.target {
            t.content_bytes(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Most findings reported for one volume (and for the entries missing from all volumes):
/// a hostile volume of 100,000 bad entries is reported with a count, not 100,000 lines.
pub const MAX_FINDINGS_PER_VOLUME: usize = 100;

/// Appends `findings`, at most [`MAX_FINDINGS_PER_VOLUME`] of them and then one that says
/// how many were left out (with the category of the first one left out).
fn push_capped(report: &mut VerifyReport, findings: Vec<Finding>, subject: &str) {
    let total = findings.len();
    let mut it = findings.into_iter();
    report
        .findings
        .extend(it.by_ref().take(MAX_FINDINGS_PER_VOLUME));
    if let Some(next) = it.next() {
        report.push(Finding::new(
            next.kind,
            subject,
            format!(
                "{} more finding(s) not listed",
                total - MAX_FINDINGS_PER_VOLUME
            ),
        ));
    }
}

fn hash_with_progress(
    path: &Path,
    progress: &dyn Progress,
    count: &MediaCount,
    bytes_read: &mut u64,
) -> Result<[u8; 32]> {
    let mut f = open_media(path)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, "read", e)),
        };
        sha.update(&buf[..n]);
        *bytes_read += n as u64;
        count.add(n as u64);
        progress.advance(n as u64);
        if progress.cancelled() {
            return Err(Error::interrupted("verification", "nothing was changed"));
        }
    }
    Ok(sha.finalize().into())
}
