//! Generates a synthetic folder of WSUS `upd:Update` XML documents for benchmarks.
//!
//! ```text
//! cargo run --release --example gen_updates -- --out DIR --count N [--seed S] [--revision-bump K]
//! cargo run --release --example gen_updates -- --list-categories
//! ```
//!
//! Writes the category documents of a realistic tree (the Microsoft company, the Windows and
//! Office product families, 20 products: the real GUIDs Microsoft publishes plus invented
//! ones, and the 10 real update classifications), a few detectoids that updates name as
//! prerequisites, then `N` update documents spread over products and classifications, in the
//! shape of the real documents in `shared/real-data/upd-update-xml/`: 1-3 localized titles
//! (en, sometimes de and fr), KB numbers, MsrcSeverity, CreationDate, supersedence chains,
//! bundles with children (children have no `IsCategory` group), 0-3 files with a base64 SHA-1
//! `Digest` and a SHA-256 `AdditionalDigest`, a small `ApplicabilityRules` block,
//! `Properties/Language` mostly absent or `all`, some language-specific, about 2% expired.
//! About 10% of the documents use the layout of the newer real sample (tabs, `xmlns:upd`
//! declared again on child elements, RevisionNumber before UpdateID), 2% start with a UTF-8
//! BOM and 1% are UTF-16LE with a BOM.
//!
//! Files are `DIR/<first two hex digits>/<guid>.xml`, like real stores. The output depends
//! only on the arguments. `--revision-bump K` writes the same documents with every K-th
//! update document at RevisionNumber + 1 (a bundle whose child is bumped is bumped too, and
//! names the child's new revision), to measure a resync with changes: run it again over the
//! same `--out`.
//!
//! `--payloads DIR` also writes payload files for about `--payload-percent` % of the updates
//! with files (1 KiB to `--payload-max-size` bytes each) and gives those updates' documents
//! the files' real sizes and digests, so that `content import` takes them and `publish` has
//! something to lay out (bench/publish.sh). The documents of the other updates are the same
//! with or without it.

// A command-line tool of its own: printing is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// Arguments

struct Args {
    out: Option<PathBuf>,
    count: u64,
    seed: u64,
    revision_bump: u64,
    list_categories: bool,
    payloads: Option<PathBuf>,
    payload_percent: u64,
    payload_max_size: u64,
}

const USAGE: &str = "usage: gen_updates --out DIR --count N [--seed S] [--revision-bump K]
                   [--payloads DIR [--payload-percent P] [--payload-max-size BYTES]]
       gen_updates --list-categories

  --out DIR           folder to write into (created; files of the same names are replaced)
  --count N           number of update documents (categories and detectoids come on top)
  --seed S            PRNG seed (default 1); the output depends only on the arguments
  --revision-bump K   every K-th update document gets RevisionNumber + 1 (0 = none)
  --payloads DIR      also write payload files, for about P% of the updates with files
                      (chosen by update id, so a --revision-bump run picks the same ones),
                      whose bytes match the Size, SHA-1 and SHA-256 their documents give;
                      DIR/<xx>/<sha1 hex>.bin (a content import matches them by digest)
  --payload-percent P share of the updates with files that get payloads (default 20)
  --payload-max-size B payload sizes are uniform in 1 KiB..B bytes (default 16384)
  --list-categories   print the category tree (kind, GUID, title) as TSV and exit";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        out: None,
        count: 0,
        seed: 1,
        revision_bump: 0,
        list_categories: false,
        payloads: None,
        payload_percent: 20,
        payload_max_size: 16384,
    };
    let mut it = std::env::args().skip(1);
    let mut count = None;
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{what} needs a value"))
        };
        let number = |s: String, what: &str| -> Result<u64, String> {
            s.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("{what}: '{s}' is not a number"))
        };
        match name.as_str() {
            "--out" => a.out = Some(PathBuf::from(value("--out")?)),
            "--count" => count = Some(number(value("--count")?, "--count")?),
            "--seed" => a.seed = number(value("--seed")?, "--seed")?,
            "--revision-bump" => {
                a.revision_bump = number(value("--revision-bump")?, "--revision-bump")?
            }
            "--list-categories" => a.list_categories = true,
            "--payloads" => a.payloads = Some(PathBuf::from(value("--payloads")?)),
            "--payload-percent" => {
                a.payload_percent = number(value("--payload-percent")?, "--payload-percent")?
            }
            "--payload-max-size" => {
                a.payload_max_size =
                    number(value("--payload-max-size")?, "--payload-max-size")?.max(1024)
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if !a.list_categories {
        if a.out.is_none() {
            return Err("--out is required".into());
        }
        a.count = count.ok_or("--count is required")?;
    }
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// A tiny deterministic PRNG (SplitMix64)

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut r = Rng(seed ^ 0x6f66_6673_796e_6321);
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// An index into `weights`, chosen in proportion to them.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| w as u64).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w as u64 {
                return i;
            }
            x -= w as u64;
        }
        weights.len() - 1
    }
    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    /// A random (version 4) GUID in WSUS's lowercase form.
    fn guid(&mut self) -> String {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        format_guid(&b)
    }
}

fn format_guid(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A GUID derived from a name only (not from the seed), so that invented categories keep
/// their GUIDs across seeds.
fn name_guid(name: &str) -> String {
    let mut r = Rng::new(name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
        (h ^ c as u64).wrapping_mul(0x100_0000_01b3)
    }));
    r.guid()
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        s.push(A[(n >> 18) as usize & 63] as char);
        s.push(A[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

/// Escapes text and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

// ---------------------------------------------------------------------------------------------
// Dates (days since 1970-01-01, proleptic Gregorian)

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// 2016-01-01 and 2026-04-14 as days since the epoch.
const FIRST_DAY: i64 = 16_801;
const LAST_DAY: i64 = 20_557;

// ---------------------------------------------------------------------------------------------
// The category tree

const NS_UPD: &str = "http://schemas.microsoft.com/msus/2002/12/Update";
const NS_PUB: &str = "http://schemas.microsoft.com/msus/2002/12/Publishing";
const NS_CAT: &str = "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category";
const NS_LAR: &str = "http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules";
const NS_BAR: &str = "http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const NS_CMD: &str =
    "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CommandLineInstallation";
const NS_CBS: &str = "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Cbs";
const NS_DRV: &str = "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver";
const PUBLISHER: &str = "395392a0-19c0-48b7-a927-f7c15066d905";

const MICROSOFT: &str = "56309036-4c77-4dd9-951a-99ee9c246a94";
const WINDOWS: &str = "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d";
const OFFICE: &str = "477b856e-65c4-4473-b621-a8b230bb70d9";

#[derive(Clone, Copy, PartialEq, Eq)]
enum PKind {
    Client,
    Server,
    Office,
    Defender,
    Drivers,
}

struct Product {
    title: &'static str,
    /// Real GUID (as Microsoft publishes it), or None for an invented product.
    real: Option<&'static str>,
    family: &'static str,
    kind: PKind,
    /// Share of the updates of its kind.
    weight: u32,
    /// Windows build or Office version, for titles.
    short: &'static str,
}

#[rustfmt::skip]
const PRODUCTS: &[Product] = &[
    Product { title: "Windows 11", real: Some("72e7624a-5b00-45d2-b92f-e561c0a6a160"), family: WINDOWS, kind: PKind::Client, weight: 16, short: "windows11.0" },
    Product { title: "Windows 10", real: Some("a3c2375d-0c8a-42f9-bce0-28333e198407"), family: WINDOWS, kind: PKind::Client, weight: 22, short: "windows10.0" },
    Product { title: "Windows 10, version 1903 and later", real: None, family: WINDOWS, kind: PKind::Client, weight: 6, short: "windows10.0" },
    Product { title: "Windows 10 LTSB", real: None, family: WINDOWS, kind: PKind::Client, weight: 4, short: "windows10.0" },
    Product { title: "Windows 8.1", real: None, family: WINDOWS, kind: PKind::Client, weight: 4, short: "windows8.1" },
    Product { title: "Windows 7", real: None, family: WINDOWS, kind: PKind::Client, weight: 5, short: "windows6.1" },
    Product { title: "Windows Server 2025", real: None, family: WINDOWS, kind: PKind::Server, weight: 3, short: "windows10.0" },
    Product { title: "Windows Server 2022", real: None, family: WINDOWS, kind: PKind::Server, weight: 8, short: "windows10.0" },
    Product { title: "Windows Server 2019", real: Some("f702a48c-919b-45d6-9aef-ca4248d50397"), family: WINDOWS, kind: PKind::Server, weight: 9, short: "windows10.0" },
    Product { title: "Windows Server 2016", real: Some("569e8e8f-c6cd-42c8-92a3-efbb20a0f6f5"), family: WINDOWS, kind: PKind::Server, weight: 8, short: "windows10.0" },
    Product { title: "Windows Server 2012 R2", real: Some("d31bd4c3-d872-41c9-a2e7-231f372588cb"), family: WINDOWS, kind: PKind::Server, weight: 7, short: "windows8.1" },
    Product { title: "Windows Server 2012", real: None, family: WINDOWS, kind: PKind::Server, weight: 4, short: "windows8" },
    Product { title: "Windows Server 2008 R2", real: None, family: WINDOWS, kind: PKind::Server, weight: 3, short: "windows6.1" },
    Product { title: "Office 2016", real: Some("25aed893-7c2d-4a31-ae22-28ff8ac150ed"), family: OFFICE, kind: PKind::Office, weight: 10, short: "2016" },
    Product { title: "Office 2019", real: None, family: OFFICE, kind: PKind::Office, weight: 4, short: "2019" },
    Product { title: "Office 2013", real: None, family: OFFICE, kind: PKind::Office, weight: 6, short: "2013" },
    Product { title: "Microsoft 365 Apps/Office 2019/Office LTSC", real: None, family: OFFICE, kind: PKind::Office, weight: 3, short: "365" },
    Product { title: "Windows Defender", real: Some("8c3fcc84-7410-4a95-8b89-a166a0190486"), family: WINDOWS, kind: PKind::Defender, weight: 2, short: "" },
    Product { title: "Microsoft Defender Antivirus", real: None, family: WINDOWS, kind: PKind::Defender, weight: 3, short: "" },
    Product { title: "Windows 10 and later drivers", real: None, family: WINDOWS, kind: PKind::Drivers, weight: 1, short: "" },
];

impl Product {
    fn guid(&self) -> String {
        self.real
            .map(str::to_string)
            .unwrap_or_else(|| name_guid(self.title))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Critical,
    Security,
    Definition,
    Rollup,
    ServicePack,
    Tools,
    FeaturePack,
    Updates,
    Drivers,
    Upgrades,
}

/// The 10 real classifications: (class, title, GUID, share of the updates in %).
#[rustfmt::skip]
const CLASSES: &[(Class, &str, &str, u32)] = &[
    (Class::Critical, "Critical Updates", "e6cf1350-c01b-414d-a61f-263d14d133b4", 9),
    (Class::Security, "Security Updates", "0fa1201d-4330-4fa8-8ae9-b877473b6441", 32),
    (Class::Definition, "Definition Updates", "e0789628-ce08-4437-be74-2495b842f43b", 8),
    (Class::Rollup, "Update Rollups", "28bc880e-0592-4cbf-8f95-c79b17911d5f", 5),
    (Class::ServicePack, "Service Packs", "68c5b0a3-d1a6-4553-ae49-01d3a7827828", 1),
    (Class::Tools, "Tools", "b4832bd8-e735-4761-8daf-37f882276dab", 2),
    (Class::FeaturePack, "Feature Packs", "b54e7d24-7add-428f-8b75-90a396fa584f", 2),
    (Class::Updates, "Updates", "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83", 28),
    (Class::Drivers, "Drivers", "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0", 9),
    (Class::Upgrades, "Upgrades", "3689bdc8-b205-4af4-8d4a-a63924c5e9d5", 4),
];

/// Detectoids that updates name as plain prerequisites (invented GUIDs, stable).
const DETECTOIDS: &[&str] = &[
    "Windows 10 x64 Detectoid",
    "Windows 11 x64 Detectoid",
    "Windows Server x64 Detectoid",
    "Servicing Stack Detectoid",
    "Office 2016 Detectoid",
    "Office 64-Bit Detectoid",
    "Defender Platform Detectoid",
    "ARM64 Processor Detectoid",
];

// ---------------------------------------------------------------------------------------------
// Document writer

/// Layout of a document: the older one (two-space indent, namespaces on the root) or the
/// newer one (tabs, `xmlns:upd` declared again on each child of the root, RevisionNumber
/// before UpdateID).
#[derive(Clone, Copy)]
struct Style {
    tabs: bool,
}

impl Style {
    fn ind(self, level: usize) -> &'static str {
        const SP: &str = "                                ";
        const TB: &str = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
        if self.tabs {
            &TB[..level]
        } else {
            &SP[..level * 2]
        }
    }
    /// Re-declaration of `upd` on a child of the root (newer layout only).
    fn ns(self) -> &'static str {
        if self.tabs {
            concat!(
                " xmlns:upd=\"",
                "http://schemas.microsoft.com/msus/2002/12/Update",
                "\""
            )
        } else {
            ""
        }
    }
    fn identity(self, id: &str, rev: Option<u32>) -> String {
        match (rev, self.tabs) {
            (None, _) => format!("<upd:UpdateIdentity UpdateID=\"{id}\" />"),
            (Some(r), false) => {
                format!("<upd:UpdateIdentity UpdateID=\"{id}\" RevisionNumber=\"{r}\" />")
            }
            (Some(r), true) => {
                format!("<upd:UpdateIdentity RevisionNumber=\"{r}\" UpdateID=\"{id}\" />")
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
}

struct Writer {
    out: PathBuf,
    buf: String,
    bytes: Vec<u8>,
    written_files: u64,
    written_bytes: u64,
}

impl Writer {
    fn write(&mut self, guid: &str, enc: Encoding) -> Result<(), String> {
        self.bytes.clear();
        match enc {
            Encoding::Utf8 => self.bytes.extend_from_slice(self.buf.as_bytes()),
            Encoding::Utf8Bom => {
                self.bytes.extend_from_slice(&[0xef, 0xbb, 0xbf]);
                self.bytes.extend_from_slice(self.buf.as_bytes());
            }
            Encoding::Utf16LeBom => {
                self.bytes.extend_from_slice(&[0xff, 0xfe]);
                for u in self.buf.encode_utf16() {
                    self.bytes.extend_from_slice(&u.to_le_bytes());
                }
            }
        }
        let path = self.out.join(&guid[..2]).join(format!("{guid}.xml"));
        fs::write(&path, &self.bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        self.written_files += 1;
        self.written_bytes += self.bytes.len() as u64;
        Ok(())
    }
}

fn root_open(b: &mut String, extra_ns: &[(&str, &str)]) {
    b.push_str("<upd:Update");
    let _ = write!(b, " xmlns:pub=\"{NS_PUB}\"");
    for (p, ns) in extra_ns {
        let _ = write!(b, " xmlns:{p}=\"{ns}\"");
    }
    let _ = writeln!(b, " xmlns:upd=\"{NS_UPD}\">");
}

/// A category document, in the shape of the real `sample_category_1.xml`.
#[allow(clippy::too_many_arguments)]
fn category_doc(
    b: &mut String,
    id: &str,
    rev: u32,
    title: &str,
    description: &str,
    kind: &str,
    parent: Option<&str>,
    created: &str,
) {
    b.clear();
    root_open(b, &[("lar", NS_LAR), ("cat", NS_CAT), ("bar", NS_BAR)]);
    let _ = write!(
        b,
        "  <upd:UpdateIdentity UpdateID=\"{id}\" RevisionNumber=\"{rev}\" />
  <upd:Properties DefaultPropertiesLanguage=\"en\" UpdateType=\"Category\" ExplicitlyDeployable=\"false\" IsPublic=\"false\" Handler=\"{NS_CAT}\" PublicationState=\"Published\" CreationDate=\"{created}\" PublisherID=\"df1d1c6e-04c7-4008-8ef0-68425f93d12a\"></upd:Properties>
  <upd:LocalizedPropertiesCollection>
    <upd:LocalizedProperties>
      <upd:Language>en</upd:Language>
      <upd:Title>{}</upd:Title>
      <upd:Description>{}</upd:Description>
    </upd:LocalizedProperties>
  </upd:LocalizedPropertiesCollection>
",
        esc(title),
        esc(description)
    );
    if let Some(p) = parent {
        let _ = write!(
            b,
            "  <upd:Relationships>
    <upd:Prerequisites>
      <upd:AtLeastOne IsCategory=\"true\">
        <upd:UpdateIdentity UpdateID=\"{p}\" />
      </upd:AtLeastOne>
    </upd:Prerequisites>
  </upd:Relationships>
"
        );
    }
    if kind == "Product" {
        let _ = write!(
            b,
            "  <upd:ApplicabilityRules>
    <upd:IsInstalled>
      <bar:RegKeyExists Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"SOFTWARE\\Microsoft\\{}\" xmlns:bar=\"{NS_BAR}\" />
    </upd:IsInstalled>
  </upd:ApplicabilityRules>
",
            esc(title)
        );
    }
    let _ = write!(
        b,
        "  <upd:HandlerSpecificData xsi:type=\"cat:Category\" xmlns:xsi=\"{NS_XSI}\" xmlns:pub=\"{NS_PUB}\">
    <cat:CategoryInformation CategoryType=\"{kind}\" ProhibitsSubcategories=\"{}\" xmlns:cat=\"{NS_CAT}\" />
  </upd:HandlerSpecificData>
</upd:Update>
",
        kind == "Product"
    );
}

fn detectoid_doc(b: &mut String, id: &str, title: &str) {
    b.clear();
    root_open(b, &[("lar", NS_LAR), ("bar", NS_BAR)]);
    let _ = write!(
        b,
        "  <upd:UpdateIdentity UpdateID=\"{id}\" RevisionNumber=\"51\" />
  <upd:Properties DefaultPropertiesLanguage=\"en\" UpdateType=\"Detectoid\" ExplicitlyDeployable=\"false\" IsPublic=\"false\" PublicationState=\"Published\" CreationDate=\"2015-07-29T17:00:00.000Z\" PublisherID=\"{PUBLISHER}\"></upd:Properties>
  <upd:LocalizedPropertiesCollection>
    <upd:LocalizedProperties>
      <upd:Language>en</upd:Language>
      <upd:Title>{}</upd:Title>
    </upd:LocalizedProperties>
  </upd:LocalizedPropertiesCollection>
  <upd:ApplicabilityRules>
    <upd:IsInstalled>
      <lar:And xmlns:lar=\"{NS_LAR}\">
        <bar:WindowsVersion Comparison=\"GreaterThanOrEqualTo\" MajorVersion=\"10\" MinorVersion=\"0\" xmlns:bar=\"{NS_BAR}\" />
        <bar:Processor Architecture=\"9\" xmlns:bar=\"{NS_BAR}\" />
      </lar:And>
    </upd:IsInstalled>
  </upd:ApplicabilityRules>
</upd:Update>
",
        esc(title)
    );
}

/// Everything an update document says.
struct Spec {
    id: String,
    revision: u32,
    update_type: &'static str,
    explicitly_deployable: bool,
    severity: Option<&'static str>,
    expired: bool,
    created: String,
    kb: Option<u64>,
    legacy_name: String,
    languages: Vec<&'static str>,
    /// (language, title, description)
    localized: Vec<(&'static str, String, String)>,
    supersedes: Vec<String>,
    prereqs: Vec<String>,
    /// IsCategory groups: classification first, then products (as in the real sample).
    category_groups: Vec<Vec<String>>,
    bundled: Vec<(String, u32)>,
    rules: Rules,
    files: Vec<File>,
    handler: Handler,
    max_size: u64,
}

#[derive(Clone, Copy)]
enum Rules {
    Cbs { build: u32 },
    Msi,
    Driver,
    Definition,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Handler {
    None,
    CommandLine,
    Cbs,
}

struct File {
    name: String,
    sha1: [u8; 20],
    sha256: [u8; 32],
    size: u64,
    modified: String,
}

fn update_doc(b: &mut String, s: &Spec, st: Style) {
    b.clear();
    let i1 = st.ind(1);
    let i2 = st.ind(2);
    let i3 = st.ind(3);
    let i4 = st.ind(4);
    let i5 = st.ind(5);
    let ns = st.ns();
    root_open(b, &[]);
    let _ = writeln!(
        b,
        "{i1}{}",
        st.identity(&s.id, Some(s.revision))
            .replace(" />", &format!("{ns} />"))
    );

    // Properties
    let _ = write!(
        b,
        "{i1}<upd:Properties DefaultPropertiesLanguage=\"en\" UpdateType=\"{}\" ExplicitlyDeployable=\"{}\" AutoSelectOnWebSites=\"{}\"",
        s.update_type,
        s.explicitly_deployable,
        s.severity.is_some()
    );
    if let Some(sev) = s.severity {
        let _ = write!(b, " MsrcSeverity=\"{sev}\"");
    }
    if s.max_size > 0 {
        let _ = write!(
            b,
            " MaxDownloadSize=\"{}\" MinDownloadSize=\"0\"",
            s.max_size
        );
    }
    let _ = writeln!(
        b,
        " IsPublic=\"false\" IsBeta=\"false\" PublicationState=\"{}\" CreationDate=\"{}\" PublisherID=\"{PUBLISHER}\" LegacyName=\"{}\"{ns}>",
        if s.expired { "Expired" } else { "Published" },
        s.created,
        esc(&s.legacy_name)
    );
    let _ = writeln!(
        b,
        "{i2}<upd:InstallationBehavior Impact=\"Normal\" RebootBehavior=\"{}\" RequiresNetworkConnectivity=\"false\" CanRequestUserInput=\"false\" />",
        if s.update_type == "Driver" {
            "CanRequestReboot"
        } else {
            "AlwaysRequiresReboot"
        }
    );
    if let Some(kb) = s.kb {
        let _ = writeln!(
            b,
            "{i2}<upd:SupportUrl>https://support.microsoft.com/help/{kb}</upd:SupportUrl>"
        );
    }
    for l in &s.languages {
        let _ = writeln!(b, "{i2}<upd:Language>{l}</upd:Language>");
    }
    if let Some(kb) = s.kb {
        let _ = writeln!(b, "{i2}<upd:KBArticleID>{kb}</upd:KBArticleID>");
    }
    let _ = writeln!(b, "{i1}</upd:Properties>");

    // Localized properties
    let _ = writeln!(b, "{i1}<upd:LocalizedPropertiesCollection{ns}>");
    for (lang, title, desc) in &s.localized {
        let _ = writeln!(
            b,
            "{i2}<upd:LocalizedProperties>\n{i3}<upd:Language>{lang}</upd:Language>\n{i3}<upd:Title>{}</upd:Title>\n{i3}<upd:Description>{}</upd:Description>",
            esc(title),
            esc(desc)
        );
        if s.update_type != "Driver" {
            let notes = match *lang {
                "de" => {
                    "Dieses Softwareupdate kann über die Option \"Installierte Updates anzeigen\" in der Systemsteuerung unter \"Programme und Features\" entfernt werden."
                }
                "fr" => {
                    "Cette mise à jour logicielle peut être supprimée en sélectionnant Afficher les mises à jour installées dans le Panneau de configuration Programmes et fonctionnalités."
                }
                _ => {
                    "This software update can be removed by selecting View installed updates in the Programs and Features Control Panel."
                }
            };
            let _ = writeln!(
                b,
                "{i3}<upd:UninstallNotes>{}</upd:UninstallNotes>",
                esc(notes)
            );
        }
        match s.kb {
            Some(kb) => {
                let _ = writeln!(
                    b,
                    "{i3}<upd:MoreInfoUrl>https://support.microsoft.com/help/{kb}</upd:MoreInfoUrl>\n{i3}<upd:SupportUrl>https://support.microsoft.com/help/{kb}</upd:SupportUrl>"
                );
            }
            None => {
                let _ = writeln!(
                    b,
                    "{i3}<upd:MoreInfoUrl>http://sysdev.microsoft.com/support/default.aspx</upd:MoreInfoUrl>"
                );
            }
        }
        let _ = writeln!(b, "{i2}</upd:LocalizedProperties>");
    }
    let _ = writeln!(b, "{i1}</upd:LocalizedPropertiesCollection>");

    // Relationships
    let _ = writeln!(b, "{i1}<upd:Relationships{ns}>");
    if !s.supersedes.is_empty() {
        let _ = writeln!(b, "{i2}<upd:SupersededUpdates>");
        for g in &s.supersedes {
            let _ = writeln!(b, "{i3}{}", st.identity(g, None));
        }
        let _ = writeln!(b, "{i2}</upd:SupersededUpdates>");
    }
    let _ = writeln!(b, "{i2}<upd:Prerequisites>");
    for g in &s.prereqs {
        let _ = writeln!(b, "{i3}{}", st.identity(g, None));
    }
    for group in &s.category_groups {
        let _ = writeln!(b, "{i3}<upd:AtLeastOne IsCategory=\"true\">");
        for g in group {
            let _ = writeln!(b, "{i4}{}", st.identity(g, None));
        }
        let _ = writeln!(b, "{i3}</upd:AtLeastOne>");
    }
    let _ = writeln!(b, "{i2}</upd:Prerequisites>");
    if !s.bundled.is_empty() {
        let _ = writeln!(b, "{i2}<upd:BundledUpdates>");
        if st.tabs {
            // The newer sample puts the children in an AtLeastOne group.
            let _ = writeln!(b, "{i3}<upd:AtLeastOne>");
            for (g, r) in &s.bundled {
                let _ = writeln!(b, "{i4}{}", st.identity(g, Some(*r)));
            }
            let _ = writeln!(b, "{i3}</upd:AtLeastOne>");
        } else {
            for (g, r) in &s.bundled {
                let _ = writeln!(b, "{i3}{}", st.identity(g, Some(*r)));
            }
        }
        let _ = writeln!(b, "{i2}</upd:BundledUpdates>");
    }
    let _ = writeln!(b, "{i1}</upd:Relationships>");

    // ApplicabilityRules (opaque to offsync)
    let _ = writeln!(b, "{i1}<upd:ApplicabilityRules{ns}>");
    match s.rules {
        Rules::Cbs { build } => {
            let _ = writeln!(
                b,
                "{i2}<upd:IsInstalled>\n{i3}<cbsar:CbsPackageInstalledByIdentity PackageIdentity=\"Package_for_RollupFix~31bf3856ad364e35~amd64~~{build}.1.7\" xmlns:cbsar=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CbsApplicabilityRules\" />\n{i2}</upd:IsInstalled>\n{i2}<upd:IsInstallable>\n{i3}<lar:And xmlns:lar=\"{NS_LAR}\">\n{i4}<bar:Processor Architecture=\"9\" xmlns:bar=\"{NS_BAR}\" />\n{i4}<bar:WindowsVersion Comparison=\"GreaterThanOrEqualTo\" MajorVersion=\"10\" MinorVersion=\"0\" BuildNumber=\"{build}\" xmlns:bar=\"{NS_BAR}\" />\n{i3}</lar:And>\n{i2}</upd:IsInstallable>"
            );
        }
        Rules::Msi => {
            let _ = writeln!(
                b,
                "{i2}<upd:IsInstalled>\n{i3}<msiar:MsiPatchInstalledForProduct PatchCode=\"{{{}}}\" ProductCode=\"{{90160000-0011-0000-1000-0000000FF1CE}}\" xmlns:msiar=\"http://schemas.microsoft.com/msus/2002/12/MsiApplicabilityRules\" />\n{i2}</upd:IsInstalled>\n{i2}<upd:IsInstallable>\n{i3}<bar:RegSzToVersion Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"SOFTWARE\\Microsoft\\Office\\16.0\\Common\\ProductVersion\" Value=\"LastProduct\" Comparison=\"GreaterThanOrEqualTo\" Data=\"16.0.4266.1001\" xmlns:bar=\"{NS_BAR}\" />\n{i2}</upd:IsInstallable>",
                s.id.to_uppercase()
            );
        }
        Rules::Driver => {
            let _ = writeln!(
                b,
                "{i2}<upd:IsInstalled>\n{i3}<drv:WindowsDriverInstalled xmlns:drv=\"{NS_DRV}\" />\n{i2}</upd:IsInstalled>\n{i2}<upd:IsInstallable>\n{i3}<drv:WindowsDriverInstallable xmlns:drv=\"{NS_DRV}\" />\n{i2}</upd:IsInstallable>\n{i2}<upd:Metadata>\n{i3}<drv:WindowsDriverMetaData HardwareID=\"USB\\VID_{:04X}&amp;PID_{:04X}\" DriverVerDate=\"{}\" Class=\"Other Hardware\" xmlns:drv=\"{NS_DRV}\" />\n{i2}</upd:Metadata>",
                [0x8087, 0x10ec, 0x1022, 0x06cb, 0x17ef][s.id.as_bytes()[0] as usize % 5],
                u32::from_str_radix(&s.id[..4], 16).unwrap_or(0),
                &s.created[..10]
            );
        }
        Rules::Definition => {
            let _ = writeln!(
                b,
                "{i2}<upd:IsInstallable>\n{i3}<lar:Or xmlns:lar=\"{NS_LAR}\">\n{i4}<bar:RegDword Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"SOFTWARE\\Microsoft\\Windows Defender\" Value=\"IsServiceRunning\" Comparison=\"EqualTo\" Data=\"1\" xmlns:bar=\"{NS_BAR}\" />\n{i4}<lar:Not>\n{i5}<bar:RegKeyExists Key=\"HKEY_LOCAL_MACHINE\" Subkey=\"SOFTWARE\\Policies\\Microsoft\\Windows Defender\" xmlns:bar=\"{NS_BAR}\" />\n{i4}</lar:Not>\n{i3}</lar:Or>\n{i2}</upd:IsInstallable>"
            );
        }
    }
    let _ = writeln!(b, "{i1}</upd:ApplicabilityRules>");

    // Files
    if !s.files.is_empty() {
        let _ = writeln!(b, "{i1}<upd:Files{ns}>");
        for f in &s.files {
            let _ = writeln!(
                b,
                "{i2}<upd:File Digest=\"{}\" DigestAlgorithm=\"SHA1\" FileName=\"{}\" Size=\"{}\" Modified=\"{}\">\n{i3}<upd:AdditionalDigest Algorithm=\"SHA256\">{}</upd:AdditionalDigest>\n{i2}</upd:File>",
                base64(&f.sha1),
                esc(&f.name),
                f.size,
                f.modified,
                base64(&f.sha256)
            );
        }
        let _ = writeln!(b, "{i1}</upd:Files>");
    }

    // HandlerSpecificData
    match s.handler {
        Handler::None => {}
        Handler::CommandLine => {
            let program = s
                .files
                .first()
                .map(|f| f.name.as_str())
                .unwrap_or("setup.exe");
            let _ = writeln!(
                b,
                "{i1}<upd:HandlerSpecificData xsi:type=\"cmd:CommandLineInstallation\" xmlns:xsi=\"{NS_XSI}\" xmlns:cmd=\"{NS_CMD}\"{ns}>\n{i2}<cmd:InstallCommand Arguments=\"/q /norestart\" Program=\"{}\" RebootByDefault=\"false\" DefaultResult=\"Failed\">\n{i3}<cmd:ReturnCode Reboot=\"false\" Result=\"Succeeded\" Code=\"0\" />\n{i3}<cmd:ReturnCode Reboot=\"true\" Result=\"Succeeded\" Code=\"3010\" />\n{i2}</cmd:InstallCommand>\n{i1}</upd:HandlerSpecificData>",
                esc(program)
            );
        }
        Handler::Cbs => {
            let _ = writeln!(
                b,
                "{i1}<upd:HandlerSpecificData xsi:type=\"cbs:Cbs\" xmlns:xsi=\"{NS_XSI}\" xmlns:cbs=\"{NS_CBS}\"{ns} />"
            );
        }
    }
    b.push_str("</upd:Update>\n");
}

// ---------------------------------------------------------------------------------------------
// What the updates say

const ARCHES: &[(&str, &str, &str)] = &[
    ("x64", "x64", "amd64"),
    ("x86", "x86", "x86"),
    ("ARM64", "arm64", "arm64"),
];
const LANG_SPECIFIC: &[&str] = &[
    "en", "de", "fr", "ja", "es", "it", "pt-br", "zh-cn", "ko", "ru", "nl", "sv",
];
const DRIVER_VENDORS: &[&str] = &[
    "Intel Corporation",
    "Realtek Semiconductor Corp.",
    "Advanced Micro Devices, Inc.",
    "Synaptics",
    "HP Inc.",
    "Lenovo",
    "Dell Inc.",
    "Qualcomm Atheros",
    "NVIDIA",
    "Broadcom",
];
const DRIVER_CLASSES: &[&str] = &[
    "Bluetooth",
    "Net",
    "MEDIA",
    "System",
    "Display",
    "Firmware",
    "HIDClass",
    "Extension",
    "SoftwareComponent",
    "Camera",
];

struct Titles {
    en: String,
    de: String,
    fr: String,
}

fn titles(class: Class, p: &Product, arch: &str, ym: &str, kb: u64, r: &mut Rng) -> Titles {
    let prod = p.title;
    let bits = if arch == "x86" { "32" } else { "64" };
    match (class, p.kind) {
        (Class::Definition, _) => {
            let v = format!("1.{}.{}.0", r.range(300, 447), r.range(100, 2999));
            Titles {
                en: format!("Security Intelligence Update for {prod} - KB{kb} (Version {v})"),
                de: format!("Security Intelligence-Update für {prod} – KB{kb} (Version {v})"),
                fr: format!(
                    "Mise à jour de la veille de sécurité pour {prod} - KB{kb} (Version {v})"
                ),
            }
        }
        (Class::Tools, _) => {
            let v = format!("5.{}", r.range(40, 135));
            Titles {
                en: format!("Windows Malicious Software Removal Tool {arch} - v{v} (KB{kb})"),
                de: format!(
                    "Tool zum Entfernen bösartiger Software von Microsoft Windows {arch} – v{v} (KB{kb})"
                ),
                fr: format!(
                    "Outil de suppression de logiciels malveillants Windows {arch} - v{v} (KB{kb})"
                ),
            }
        }
        (Class::Upgrades, _) => {
            let v = r.pick(&["21H2", "22H2", "23H2", "24H2", "1909", "2004", "20H2"]);
            Titles {
                en: format!("Feature update to {prod}, version {v}, {arch}-based systems"),
                de: format!("Funktionsupdate für {prod}, Version {v}, {arch}-basierte Systeme"),
                fr: format!(
                    "Mise à jour de fonctionnalités vers {prod}, version {v}, systèmes {arch}"
                ),
            }
        }
        (_, PKind::Office) => {
            let component = r.pick(&[
                "Microsoft Office",
                "Microsoft Word",
                "Microsoft Excel",
                "Microsoft Outlook",
                "Microsoft PowerPoint",
                "Skype for Business",
            ]);
            let (en, de, fr) = match class {
                Class::Security => (
                    "Security Update for",
                    "Sicherheitsupdate für",
                    "Mise à jour de sécurité pour",
                ),
                Class::ServicePack => (
                    "Service Pack 1 for",
                    "Service Pack 1 für",
                    "Service Pack 1 pour",
                ),
                Class::Critical => (
                    "Critical Update for",
                    "Kritisches Update für",
                    "Mise à jour critique pour",
                ),
                _ => ("Update for", "Update für", "Mise à jour pour"),
            };
            let ver = p.title.trim_start_matches("Office ");
            let ver = if ver.len() == 4 { ver } else { "2019" };
            Titles {
                en: format!("{en} {component} {ver} (KB{kb}) {bits}-Bit Edition"),
                de: format!("{de} {component} {ver} (KB{kb}), {bits}-Bit-Edition"),
                fr: format!("{fr} {component} {ver} (KB{kb}), édition {bits} bits"),
            }
        }
        _ => {
            let (en, de, fr) = match class {
                Class::Security => (
                    "Security Update",
                    "Sicherheitsupdate",
                    "Mise à jour de sécurité",
                ),
                Class::Rollup => (
                    "Security Monthly Quality Rollup",
                    "Monatliches Sicherheitsqualitätsrollup",
                    "Correctif cumulatif mensuel de qualité de la sécurité",
                ),
                Class::Critical => (
                    "Dynamic Update",
                    "Dynamisches Update",
                    "Mise à jour dynamique",
                ),
                Class::ServicePack => ("Service Pack 1", "Service Pack 1", "Service Pack 1"),
                Class::FeaturePack => (
                    "Cumulative Update for .NET Framework 3.5 and 4.8.1",
                    "Kumulatives Update für .NET Framework 3.5 und 4.8.1",
                    "Mise à jour cumulative pour .NET Framework 3.5 et 4.8.1",
                ),
                _ => (
                    "Cumulative Update",
                    "Kumulatives Update",
                    "Mise à jour cumulative",
                ),
            };
            Titles {
                en: format!("{ym} {en} for {prod} for {arch}-based Systems (KB{kb})"),
                de: format!("{ym} {de} für {prod} für {arch}-basierte Systeme (KB{kb})"),
                fr: format!("{ym} {fr} pour {prod} pour les systèmes {arch} (KB{kb})"),
            }
        }
    }
}

fn description(lang: &str, office: bool) -> &'static str {
    match (lang, office) {
        ("de", false) => {
            "Installieren Sie dieses Update, um Probleme in Windows zu beheben. Eine vollständige Liste der Problembehebungen in diesem Update finden Sie in dem entsprechenden Microsoft Knowledge Base-Artikel. Nach der Installation dieser Komponente müssen Sie den Computer möglicherweise neu starten."
        }
        ("fr", false) => {
            "Installez cette mise à jour pour résoudre les problèmes rencontrés dans Windows. Pour obtenir la liste complète des problèmes inclus dans cette mise à jour, consultez l'article correspondant de la Base de connaissances Microsoft. Après avoir installé cet élément, vous devrez peut-être redémarrer votre ordinateur."
        }
        (_, false) => {
            "Install this update to resolve issues in Windows. For a complete listing of the issues that are included in this update, see the associated Microsoft Knowledge Base article for more information. After you install this item, you may have to restart your computer."
        }
        ("de", true) => {
            "Microsoft hat ein Update für Microsoft Office veröffentlicht. Dieses Update bietet die neuesten Fixes. Darüber hinaus enthält dieses Update Stabilitäts- und Leistungsverbesserungen."
        }
        ("fr", true) => {
            "Microsoft a publié une mise à jour pour Microsoft Office. Cette mise à jour fournit les derniers correctifs ainsi que des améliorations de stabilité et de performances."
        }
        (_, true) => {
            "Microsoft has released an update for Microsoft Office. This update provides the latest fixes. Additionally, this update contains stability and performance improvements."
        }
    }
}

/// Supersedence chains: the last few updates of each (product, classification, arch) line.
struct Series {
    last: Vec<Vec<String>>,
}

impl Series {
    fn slot(&mut self, p: usize, c: usize, a: usize) -> &mut Vec<String> {
        &mut self.last[(p * CLASSES.len() + c) * ARCHES.len() + a]
    }
}

struct Counts {
    updates: u64,
    bundles: u64,
    children: u64,
    expired: u64,
    bumped: u64,
    files: u64,
    with_supersedes: u64,
    language_specific: u64,
}

fn run(a: &Args) -> Result<(), String> {
    let out = a.out.clone().unwrap();
    let t0 = Instant::now();
    for i in 0..256u32 {
        let d = out.join(format!("{i:02x}"));
        fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let mut w = Writer {
        out: out.clone(),
        buf: String::with_capacity(16 * 1024),
        bytes: Vec::with_capacity(32 * 1024),
        written_files: 0,
        written_bytes: 0,
    };
    let mut payloads = Payloads::new(a)?;

    // Categories and detectoids.
    let mut cats = 0u64;
    category_doc(
        &mut w.buf,
        MICROSOFT,
        51,
        "Microsoft",
        "Microsoft Corporation",
        "Company",
        None,
        "2005-05-31T17:36:29.940Z",
    );
    w.write(MICROSOFT, Encoding::Utf8)?;
    category_doc(
        &mut w.buf,
        WINDOWS,
        51,
        "Windows",
        "Windows",
        "ProductFamily",
        Some(MICROSOFT),
        "2005-05-31T17:36:30.000Z",
    );
    w.write(WINDOWS, Encoding::Utf8)?;
    category_doc(
        &mut w.buf,
        OFFICE,
        51,
        "Office",
        "Office",
        "ProductFamily",
        Some(MICROSOFT),
        "2005-05-31T17:36:31.000Z",
    );
    w.write(OFFICE, Encoding::Utf8)?;
    cats += 3;
    for p in PRODUCTS {
        let g = p.guid();
        category_doc(
            &mut w.buf,
            &g,
            51,
            p.title,
            &format!("{} updates", p.title),
            "Product",
            Some(p.family),
            "2015-07-29T17:00:00.000Z",
        );
        w.write(&g, Encoding::Utf8)?;
        cats += 1;
    }
    for (_, title, g, _) in CLASSES {
        category_doc(
            &mut w.buf,
            g,
            51,
            title,
            &format!("{title}: a classification of software updates"),
            "UpdateClassification",
            None,
            "2005-05-31T17:36:29.940Z",
        );
        w.write(g, Encoding::Utf8)?;
        cats += 1;
    }
    let detectoids: Vec<String> = DETECTOIDS.iter().map(|t| name_guid(t)).collect();
    for (g, t) in detectoids.iter().zip(DETECTOIDS) {
        detectoid_doc(&mut w.buf, g, t);
        w.write(g, Encoding::Utf8)?;
    }

    // Updates.
    let mut r = Rng::new(a.seed);
    let mut series = Series {
        last: vec![Vec::new(); PRODUCTS.len() * CLASSES.len() * ARCHES.len()],
    };
    let mut n = Counts {
        updates: 0,
        bundles: 0,
        children: 0,
        expired: 0,
        bumped: 0,
        files: 0,
        with_supersedes: 0,
        language_specific: 0,
    };
    let class_weights: Vec<u32> = CLASSES.iter().map(|c| c.3).collect();
    let product_guids: Vec<String> = PRODUCTS.iter().map(Product::guid).collect();
    let mut kb_next = 3_000_000u64;
    let bump = |index: u64| a.revision_bump > 0 && (index + 1).is_multiple_of(a.revision_bump);
    let span = (LAST_DAY - FIRST_DAY) as u64;

    while n.updates < a.count {
        let index = n.updates;
        let ci = r.weighted(&class_weights);
        let class = CLASSES[ci].0;
        // The product: within the kinds that this classification goes with.
        let kinds: &[PKind] = match class {
            Class::Definition => &[PKind::Defender],
            Class::Drivers => &[PKind::Drivers],
            Class::Upgrades => &[PKind::Client],
            Class::ServicePack => &[PKind::Office, PKind::Server],
            Class::Tools => &[PKind::Client, PKind::Server],
            _ => &[PKind::Client, PKind::Server, PKind::Office],
        };
        let candidates: Vec<usize> = (0..PRODUCTS.len())
            .filter(|&i| kinds.contains(&PRODUCTS[i].kind))
            .collect();
        let weights: Vec<u32> = candidates.iter().map(|&i| PRODUCTS[i].weight).collect();
        let pi = candidates[r.weighted(&weights)];
        let p = &PRODUCTS[pi];
        let mut products = vec![product_guids[pi].clone()];
        if class == Class::Drivers {
            // Drivers name the driver product and the Windows versions they fit.
            products.push(product_guids[0].clone());
            products.push(product_guids[1].clone());
        } else if r.chance(150) {
            let other = candidates[r.weighted(&weights)];
            if other != pi {
                products.push(product_guids[other].clone());
            }
        }
        let ai = match p.kind {
            PKind::Office => r.weighted(&[60, 40, 0]),
            PKind::Defender | PKind::Drivers => 0,
            _ => r.weighted(&[70, 20, 10]),
        };
        let (arch, arch_l, arch_c) = ARCHES[ai];

        // Time moves forward through the catalog, with some jitter.
        let day = FIRST_DAY
            + (index as u128 * span as u128 / a.count.max(1) as u128) as i64
            + r.range(0, 40) as i64
            - 20;
        let day = day.clamp(FIRST_DAY, LAST_DAY);
        let (y, m, d) = civil(day);
        let (hh, mi, ss) = (r.range(0, 23), r.range(0, 59), r.range(0, 59));
        let created = format!(
            "{y:04}-{m:02}-{d:02}T{hh:02}:{mi:02}:{ss:02}.{:03}Z",
            r.below(1000)
        );
        let ym = format!("{y:04}-{m:02}");

        let kb = match class {
            Class::Definition => Some(2267602),
            Class::Tools => Some(890830),
            Class::Drivers => None,
            _ => {
                kb_next += r.range(1, 25);
                Some(kb_next % 2_100_000 + 3_000_000)
            }
        };
        let t = titles(class, p, arch, &ym, kb.unwrap_or(0), &mut r);
        let (en_title, legacy) = if class == Class::Drivers {
            let vendor = r.pick(DRIVER_VENDORS);
            let dc = r.pick(DRIVER_CLASSES);
            let v = format!(
                "{}.{}.{}.{}",
                r.range(1, 31),
                r.range(0, 200),
                r.range(0, 9999),
                r.range(0, 999)
            );
            (
                format!("{vendor} - {dc} - {v}"),
                format!("{vendor} {dc} {v} {arch_c}"),
            )
        } else {
            (
                t.en.clone(),
                format!(
                    "KB{}-{}-{}-{}",
                    kb.unwrap_or(0),
                    p.short,
                    class_legacy(class),
                    arch_c.to_uppercase()
                ),
            )
        };
        let office = p.kind == PKind::Office;
        let mut localized = vec![(
            "en",
            en_title.clone(),
            description("en", office).to_string(),
        )];
        if class != Class::Drivers {
            if r.chance(300) {
                localized.push(("de", t.de.clone(), description("de", office).to_string()));
            }
            if r.chance(250) {
                localized.push(("fr", t.fr.clone(), description("fr", office).to_string()));
            }
        }

        // Binary languages: mostly absent or `all`; Office updates often language-specific.
        let languages: Vec<&'static str> = {
            let x = r.below(1000);
            let specific = if office { 350 } else { 40 };
            if x < specific {
                n.language_specific += 1;
                let mut l = vec![*r.pick(LANG_SPECIFIC)];
                if r.chance(200) {
                    let second = *r.pick(LANG_SPECIFIC);
                    if second != l[0] {
                        l.push(second);
                    }
                }
                l
            } else if x < specific + 220 {
                vec!["all"]
            } else {
                Vec::new()
            }
        };

        let severity = match class {
            Class::Security => {
                Some(["Critical", "Important", "Important", "Moderate", "Low"][r.below(5) as usize])
            }
            Class::Critical if r.chance(200) => Some("Critical"),
            _ => None,
        };
        let expired = r.chance(20);

        // Supersedence: the newest updates of the same line.
        let chained = matches!(
            class,
            Class::Security
                | Class::Updates
                | Class::Critical
                | Class::Rollup
                | Class::Definition
                | Class::Tools
        );
        let mut supersedes = Vec::new();
        if chained {
            let slot = series.slot(pi, ci, ai);
            if !slot.is_empty() && r.chance(750) {
                let k = (r.range(1, 3) as usize).min(slot.len());
                supersedes.extend(slot.iter().rev().take(k).cloned());
            }
            if r.chance(50) {
                // Superseded updates that are not in this folder (as in the real samples).
                supersedes.push(r.guid());
            }
        }
        if !supersedes.is_empty() {
            n.with_supersedes += 1;
        }

        // Bundles: Windows and Office updates in the big classifications.
        let remaining = a.count - index - 1;
        let bundle_children = if matches!(p.kind, PKind::Client | PKind::Server | PKind::Office)
            && matches!(
                class,
                Class::Security
                    | Class::Updates
                    | Class::Critical
                    | Class::Rollup
                    | Class::FeaturePack
                    | Class::ServicePack
            )
            && r.chance(250)
        {
            (r.weighted(&[70, 20, 10]) as u64 + 1).min(remaining)
        } else {
            0
        };

        let id = r.guid();
        let base_revision = *r.pick(&[100u32, 101, 200, 200, 201, 202]);
        let children: Vec<(String, u32)> = (0..bundle_children)
            .map(|k| {
                (
                    r.guid(),
                    *r.pick(&[100u32, 200, 201]) + u32::from(bump(index + 1 + k)),
                )
            })
            .collect();
        // A new revision of a child comes with a new revision of its bundle (the bundle
        // names the child's revision).
        let parent_bumped = bump(index) || (0..bundle_children).any(|k| bump(index + 1 + k));
        let revision = base_revision + u32::from(parent_bumped);

        let rules = match (class, p.kind) {
            (Class::Drivers, _) => Rules::Driver,
            (Class::Definition, _) => Rules::Definition,
            (_, PKind::Office) => Rules::Msi,
            _ => Rules::Cbs {
                build: *r.pick(&[14393, 17763, 19041, 19045, 20348, 22000, 22621, 26100]),
            },
        };
        let prereqs = {
            let mut v = vec![detectoids[r.below(detectoids.len() as u64) as usize].clone()];
            if r.chance(300) {
                v.push(detectoids[3].clone());
            }
            v.dedup();
            v
        };

        // Files: a bundle's files are in its children.
        let mut files = Vec::new();
        if children.is_empty() {
            let k = if class == Class::Drivers {
                1
            } else {
                r.weighted(&[10, 60, 20, 10])
            };
            for j in 0..k {
                files.push(make_file(&mut r, class, p, kb, arch_l, &id, j, &created));
            }
            payloads.attach(&mut files, &id)?;
        }
        let handler = match (class, p.kind) {
            (Class::Drivers, _) => Handler::None,
            (_, PKind::Office) | (Class::Definition | Class::Tools, _) => Handler::CommandLine,
            _ if files.is_empty() => Handler::None,
            _ => Handler::Cbs,
        };
        let max_size = files.iter().map(|f| f.size).max().unwrap_or(0);
        let mut category_groups = vec![vec![CLASSES[ci].2.to_string()], products];
        if r.chance(100) {
            category_groups.swap(0, 1);
        }
        let spec = Spec {
            id: id.clone(),
            revision,
            update_type: if class == Class::Drivers {
                "Driver"
            } else {
                "Software"
            },
            explicitly_deployable: true,
            severity,
            expired,
            created: created.clone(),
            kb,
            legacy_name: legacy.clone(),
            languages: languages.clone(),
            localized: localized.clone(),
            supersedes,
            prereqs: prereqs.clone(),
            category_groups,
            bundled: children.clone(),
            rules,
            files,
            handler,
            max_size,
        };
        let (style, enc) = doc_style(&mut r);
        update_doc(&mut w.buf, &spec, style);
        w.write(&id, enc)?;
        n.files += spec.files.len() as u64;
        n.updates += 1;
        n.expired += u64::from(expired);
        n.bumped += u64::from(parent_bumped);
        if !children.is_empty() {
            n.bundles += 1;
        }

        // The bundle's children: no IsCategory group, not deployable on their own.
        for (k, (cid, crev)) in children.iter().enumerate() {
            let cindex = n.updates;
            let nfiles = r.weighted(&[0, 50, 30, 20]);
            let mut files: Vec<File> = (0..nfiles)
                .map(|j| make_file(&mut r, class, p, kb, arch_l, cid, j, &created))
                .collect();
            payloads.attach(&mut files, cid)?;
            let child = Spec {
                id: cid.clone(),
                revision: *crev,
                update_type: "Software",
                explicitly_deployable: false,
                severity,
                expired: false,
                created: created.clone(),
                kb,
                legacy_name: format!("{legacy}-Child{}", k + 1),
                languages: languages.clone(),
                localized: localized.clone(),
                supersedes: Vec::new(),
                prereqs: prereqs.clone(),
                category_groups: Vec::new(),
                bundled: Vec::new(),
                rules,
                max_size: files.iter().map(|f| f.size).max().unwrap_or(0),
                handler: if matches!(rules, Rules::Msi) {
                    Handler::CommandLine
                } else {
                    Handler::Cbs
                },
                files,
            };
            let (style, enc) = doc_style(&mut r);
            update_doc(&mut w.buf, &child, style);
            w.write(cid, enc)?;
            n.files += child.files.len() as u64;
            n.updates += 1;
            n.children += 1;
            n.bumped += u64::from(bump(cindex));
        }

        if chained {
            let slot = series.slot(pi, ci, ai);
            slot.push(id);
            if slot.len() > 3 {
                slot.remove(0);
            }
        }
    }

    let secs = t0.elapsed().as_secs_f64();
    println!(
        "wrote {} documents ({} MiB) to {} in {secs:.1} s: {} updates ({} bundles with {} children, {} expired, {} language-specific, {} supersede others, {} files, {} at a bumped revision), {cats} categories, {} detectoids",
        w.written_files,
        w.written_bytes / (1024 * 1024),
        out.display(),
        n.updates,
        n.bundles,
        n.children,
        n.expired,
        n.language_specific,
        n.with_supersedes,
        n.files,
        n.bumped,
        detectoids.len()
    );
    if let Some(dir) = &payloads.dir {
        println!(
            "wrote {} payload files ({} bytes) of {} updates to {}",
            payloads.files,
            payloads.bytes,
            payloads.updates,
            dir.display()
        );
    }
    Ok(())
}

/// The optional payload files (`--payloads`): real bytes whose digests the documents give, so
/// that a store can take them in and publish them. They come from their own PRNG seeded by
/// the update id and the file's place, never from the main one, so the documents of the other
/// updates are the same with or without `--payloads`, and a `--revision-bump` run gives the
/// same updates the same files.
struct Payloads {
    dir: Option<PathBuf>,
    percent: u64,
    max_size: u64,
    buf: Vec<u8>,
    updates: u64,
    files: u64,
    bytes: u64,
}

impl Payloads {
    fn new(a: &Args) -> Result<Payloads, String> {
        if let Some(dir) = &a.payloads {
            for i in 0..256u32 {
                let d = dir.join(format!("{i:02x}"));
                fs::create_dir_all(&d)
                    .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
            }
        }
        Ok(Payloads {
            dir: a.payloads.clone(),
            percent: a.payload_percent,
            max_size: a.payload_max_size,
            buf: Vec::new(),
            updates: 0,
            files: 0,
            bytes: 0,
        })
    }

    /// Gives the files of update `id` real contents when it is one of the chosen ones.
    fn attach(&mut self, files: &mut [File], id: &str) -> Result<(), String> {
        use sha1::Digest as _;
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let key = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
            (h ^ c as u64).wrapping_mul(0x100_0000_01b3)
        });
        if files.is_empty() || key % 100 >= self.percent {
            return Ok(());
        }
        self.updates += 1;
        for (j, f) in files.iter_mut().enumerate() {
            let mut r = Rng::new(key ^ (j as u64 + 1).wrapping_mul(0x9e37_79b9));
            let size = r.range(1024, self.max_size) as usize;
            self.buf.resize(size, 0);
            r.fill(&mut self.buf);
            f.sha1 = sha1::Sha1::digest(&self.buf).into();
            f.sha256 = sha2::Sha256::digest(&self.buf).into();
            f.size = size as u64;
            let h = hex(&f.sha1);
            let path = dir.join(&h[..2]).join(format!("{h}.bin"));
            fs::write(&path, &self.buf)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            self.files += 1;
            self.bytes += size as u64;
        }
        Ok(())
    }
}

fn class_legacy(c: Class) -> &'static str {
    match c {
        Class::Critical => "Critical",
        Class::Security => "Security",
        Class::Definition => "Definition",
        Class::Rollup => "MonthlyRollup",
        Class::ServicePack => "ServicePack",
        Class::Tools => "MSRT",
        Class::FeaturePack => "NetFx",
        Class::Updates => "UnifiedCumulative",
        Class::Drivers => "Driver",
        Class::Upgrades => "FeatureUpdate",
    }
}

/// Most documents use the older layout in UTF-8; some the newer one; a few have a BOM or
/// are UTF-16LE.
fn doc_style(r: &mut Rng) -> (Style, Encoding) {
    let style = Style {
        tabs: r.chance(100),
    };
    let enc = match r.below(1000) {
        0..10 => Encoding::Utf16LeBom,
        10..30 => Encoding::Utf8Bom,
        _ => Encoding::Utf8,
    };
    (style, enc)
}

#[allow(clippy::too_many_arguments)]
fn make_file(
    r: &mut Rng,
    class: Class,
    p: &Product,
    kb: Option<u64>,
    arch: &str,
    id: &str,
    j: usize,
    created: &str,
) -> File {
    let mut sha1 = [0u8; 20];
    let mut sha256 = [0u8; 32];
    r.fill(&mut sha1);
    r.fill(&mut sha256);
    let kb = kb.unwrap_or(0);
    let name = match (class, p.kind) {
        (Class::Drivers, _) => format!("{id}.cab"),
        (Class::Definition, _) => {
            if j == 0 {
                "mpam-fe.exe".to_string()
            } else {
                format!(
                    "am_delta_patch_1.{}.{}.0_{}.exe",
                    r.range(400, 447),
                    r.range(0, 2999),
                    hex(&sha1[..4])
                )
            }
        }
        (_, PKind::Office) => {
            let app = r.pick(&[
                "word",
                "excel",
                "outlook",
                "mso",
                "msodll20",
                "vbe7",
                "powerpoint",
            ]);
            let ver = p.title.trim_start_matches("Office ");
            format!(
                "{app}{}-kb{kb}-fullfile-{arch}-glb.exe",
                if ver.len() == 4 { ver } else { "2019" }
            )
        }
        (Class::Tools, _) => format!(
            "windows-kb{kb}-{arch}-v5.{}_{}.exe",
            r.range(40, 135),
            hex(&sha1)
        ),
        _ => {
            let ext = if j == 0 {
                "cab"
            } else {
                r.pick(&["cab", "msu", "psf", "wim"])
            };
            format!("{}-kb{kb}-{arch}_{}.{ext}", p.short, hex(&sha1))
        }
    };
    // Sizes spread from kilobytes to gigabytes, most in between.
    let exp = r.range(14, 30);
    let size = (1u64 << exp) + r.below(1u64 << exp);
    File {
        name,
        sha1,
        sha256,
        size,
        modified: format!("{}Z", &created[..19]),
    }
}

fn list_categories() {
    println!("kind\tguid\ttitle\tparent");
    println!("Company\t{MICROSOFT}\tMicrosoft\t");
    println!("ProductFamily\t{WINDOWS}\tWindows\t{MICROSOFT}");
    println!("ProductFamily\t{OFFICE}\tOffice\t{MICROSOFT}");
    for p in PRODUCTS {
        println!("Product\t{}\t{}\t{}", p.guid(), p.title, p.family);
    }
    for (_, title, g, _) in CLASSES {
        println!("UpdateClassification\t{g}\t{title}\t");
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gen_updates: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.list_categories {
        list_categories();
        return ExitCode::SUCCESS;
    }
    if let Err(e) = run(&args) {
        eprintln!("gen_updates: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
