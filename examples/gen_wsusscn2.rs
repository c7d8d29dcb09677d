//! Generates a synthetic Microsoft offline scan catalog (`wsusscn2.cab`) of the real size and
//! shape, for the benchmark in `bench/wsusscn2.sh`.
//!
//! ```text
//! cargo run --release --example gen_wsusscn2 -- --out FILE [--seed S] [--updates N] [--cabs K]
//!     [--languages L] [--outer stored|mszip] [--created DATE] [--drop-every D]
//! ```
//!
//! The real catalog has about 136,000 `Update` elements in a
//! `package.xml` of about 110 MB with about 97,000 `FileLocation`s, and about 75 inner CABs of
//! per-revision fragments. By default this writes the same: the Microsoft company, the
//! Windows, Office and Developer Tools families with 150 products (the real GUIDs of
//! the real ones among them) and the 10 real classifications as category entries
//! (`IsSoftware="false"`, `DeploymentAction="Evaluate"`, the parent as the only prerequisite),
//! about 4,000 detectoids, then bundles (with `Categories`, prerequisites, `SupersededBy`
//! chains) and their bundled children (`BundledBy`, one or two payload files each). Every
//! revision has the fragments `c\<RevisionId>` (identity, properties, relationships, a block
//! of applicability rules), `x\<RevisionId>` (severity, KB, files with SHA-1 and SHA-256 for
//! the children) and `l\en\<RevisionId>`, updates also `L` more languages (default 28), which
//! brings the file to about the real size (1 GB, most of it localized text).
//! Inner CABs are MSZIP-compressed, one folder each, members sorted by name as in the real
//! file; the root of `package.xml` carries the OfflineSync namespace, a PackageId and a
//! CreationDate.
//!
//! The output depends only on the arguments: CAB member timestamps are fixed.
//!
//! `gen_wsusscn2 --read FILE` instead reads a catalog through offsync's reader alone (a scan,
//! then a fetch of every update, nothing stored) and prints the time of each phase: the
//! benchmark uses it to tell the reader's share from the store's.
//! `--drop-every D` leaves out every D-th bundle (and its children), as a newer catalog
//! that expired them would.

// A command-line tool of its own: printing is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use base64::Engine as _;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    read: Option<PathBuf>,
    out: PathBuf,
    seed: u64,
    updates: usize,
    cabs: usize,
    languages: usize,
    outer_mszip: bool,
    created: String,
    drop_every: usize,
}

const USAGE: &str =
    "usage: gen_wsusscn2 --out FILE [--seed S] [--updates N] [--cabs K] [--languages L]
                    [--outer stored|mszip] [--created DATE] [--drop-every D]
       gen_wsusscn2 --read FILE

  --out FILE          the catalog to write (replaced)
  --seed S            PRNG seed (default 1); the output depends only on the arguments
  --updates N         Update elements in package.xml, categories and detectoids included
                      (default 136000)
  --cabs K            inner fragment CABs (default 75)
  --languages L       localized fragments besides English per update (default 28, at most 30)
  --outer KIND        compression of the outer CAB: stored or mszip (default mszip)
  --created DATE      the package's CreationDate (default 2026-05-12T03:00:00Z)
  --drop-every D      leave out every D-th bundle and its children (default 0: none)
  --read FILE         read FILE with offsync's reader (scan, fetch everything) and time it";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        read: None,
        out: PathBuf::new(),
        seed: 1,
        updates: 136_000,
        cabs: 75,
        languages: 28,
        outer_mszip: true,
        created: "2026-05-12T03:00:00Z".into(),
        drop_every: 0,
    };
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |s: String| {
            s.replace('_', "")
                .parse::<usize>()
                .map_err(|_| format!("'{s}' is not a number"))
        };
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value()?)),
            "--seed" => a.seed = number(value()?)? as u64,
            "--updates" => a.updates = number(value()?)?,
            "--cabs" => a.cabs = number(value()?)?.max(1),
            "--languages" => a.languages = number(value()?)?.min(LANGS.len()),
            "--outer" => {
                a.outer_mszip = match value()?.as_str() {
                    "mszip" => true,
                    "stored" => false,
                    other => return Err(format!("--outer: '{other}' is neither stored nor mszip")),
                }
            }
            "--created" => a.created = value()?,
            "--drop-every" => a.drop_every = number(value()?)?,
            "--read" => a.read = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if a.read.is_some() {
        return Ok(a);
    }
    a.out = out.ok_or("--out is required")?;
    Ok(a)
}

// ---------------------------------------------------------------------------------------------
// A tiny deterministic PRNG (SplitMix64)

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x7773_7573_7363_6e32)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn guid(&mut self) -> u128 {
        let v = ((self.next() as u128) << 64) | self.next() as u128;
        (v & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62)
    }
}

/// A generator for one item: the same item gets the same text whatever was generated before.
fn rng_for(seed: u64, what: u64, n: u64) -> Rng {
    let mut r = Rng::new(seed ^ what.wrapping_mul(0x100_0000_01b3) ^ n.wrapping_mul(0x9e37_79b9));
    r.next();
    r
}

fn guid_str(v: u128) -> String {
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn parse_guid(s: &str) -> u128 {
    u128::from_str_radix(&s.replace('-', ""), 16).expect("a GUID")
}

// ---------------------------------------------------------------------------------------------
// The catalog's content

const CLASSIFICATIONS: [(&str, &str); 10] = [
    ("Critical Updates", "e6cf1350-c01b-414d-a61f-263d14d133b4"),
    ("Security Updates", "0fa1201d-4330-4fa8-8ae9-b877473b6441"),
    ("Definition Updates", "e0789628-ce08-4437-be74-2495b842f43b"),
    ("Update Rollups", "28bc880e-0592-4cbf-8f95-c79b17911d5f"),
    ("Service Packs", "68c5b0a3-d1a6-4553-ae49-01d3a7827828"),
    ("Tools", "b4832bd8-e735-4761-8daf-37f882276dab"),
    ("Feature Packs", "b54e7d24-7add-428f-8b75-90a396fa584f"),
    ("Updates", "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83"),
    ("Drivers", "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0"),
    ("Upgrades", "3689bdc8-b205-4af4-8d4a-a63924c5e9d5"),
];
/// How often each classification is used by bundles.
const CLASS_WEIGHTS: [u64; 10] = [10, 40, 6, 4, 1, 1, 1, 35, 0, 2];
const MICROSOFT: &str = "56309036-4c77-4dd9-951a-99ee9c246a94";
const FAMILIES: [(&str, &str); 3] = [
    ("Windows", "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d"),
    ("Office", "477b856e-65c4-4473-b621-a8b230bb70d9"),
    // Invented: a family the broad criteria of the benchmark leave out.
    (
        "Developer Tools, Runtimes, and Redistributables",
        "a0a4ab0e-4b8f-4a34-8c4f-e3a1d4b2c7f1",
    ),
];
const REAL_PRODUCTS: [(&str, &str, usize); 8] = [
    ("Windows 11", "72e7624a-5b00-45d2-b92f-e561c0a6a160", 0),
    ("Windows 10", "a3c2375d-0c8a-42f9-bce0-28333e198407", 0),
    (
        "Windows Server 2016",
        "569e8e8f-c6cd-42c8-92a3-efbb20a0f6f5",
        0,
    ),
    (
        "Windows Server 2019",
        "f702a48c-919b-45d6-9aef-ca4248d50397",
        0,
    ),
    (
        "Windows Server 2012 R2",
        "d31bd4c3-d872-41c9-a2e7-231f372588cb",
        0,
    ),
    (
        "Windows Defender",
        "8c3fcc84-7410-4a95-8b89-a166a0190486",
        0,
    ),
    ("Office 2016", "25aed893-7c2d-4a31-ae22-28ff8ac150ed", 1),
    ("Office 2019", "c8c19432-f207-4d9d-ab10-764f3d29744d", 1),
];
const PRODUCTS: usize = 150;
const LANGS: [&str; 30] = [
    "de", "fr", "ja", "es", "it", "zh-cn", "ko", "pt-br", "ru", "nl", "sv", "pl", "tr", "zh-tw",
    "cs", "da", "fi", "el", "hu", "nb", "pt", "ar", "he", "th", "uk", "ro", "sk", "sl", "hr", "bg",
];
const SYLLABLES: [&str; 32] = [
    "ka", "re", "mi", "to", "su", "ne", "ra", "lo", "vi", "de", "pa", "ti", "go", "ba", "ke", "no",
    "shi", "ze", "ru", "ma", "po", "fe", "ly", "qu", "an", "ex", "in", "or", "ul", "em", "ath",
    "ion",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Company,
    Family,
    Product,
    Classification,
    Detectoid,
    Bundle,
    Child,
}

struct Entry {
    kind: Kind,
    id: u128,
    revision: u32,
    revid: u32,
    /// Categories: the parent category (entry index). Children: the bundle.
    parent: Option<usize>,
    /// Bundles: product and classification (entry indexes).
    product: usize,
    class: usize,
    kb: u32,
    /// Bundles: the bundles that supersede this one; children: none.
    superseded_by: Vec<usize>,
    /// Children: payload SHA-1 digests and sizes.
    files: Vec<([u8; 20], [u8; 32], u32)>,
    /// Bundles and children: detectoids named as prerequisites.
    prereqs: Vec<usize>,
    title: String,
}

struct Catalog {
    entries: Vec<Entry>,
    /// Bundle index → its children.
    children: Vec<Vec<usize>>,
}

fn model(a: &Args) -> Catalog {
    let mut r = Rng::new(a.seed);
    let mut entries: Vec<Entry> = Vec::new();
    let blank = |kind, id, title: &str| Entry {
        kind,
        id,
        revision: 1,
        revid: 0,
        parent: None,
        product: 0,
        class: 0,
        kb: 0,
        superseded_by: Vec::new(),
        files: Vec::new(),
        prereqs: Vec::new(),
        title: title.to_string(),
    };
    entries.push(blank(Kind::Company, parse_guid(MICROSOFT), "Microsoft"));
    for (t, id) in FAMILIES {
        let mut e = blank(Kind::Family, parse_guid(id), t);
        e.parent = Some(0);
        entries.push(e);
    }
    let mut products = Vec::new();
    for k in 0..PRODUCTS {
        let (title, id, fam) = match REAL_PRODUCTS.get(k) {
            Some((t, id, f)) => (t.to_string(), parse_guid(id), *f),
            None => {
                let fam = [0, 0, 0, 1, 2][k % 5];
                (format!("{} Product {k}", FAMILIES[fam].0), r.guid(), fam)
            }
        };
        let mut e = blank(Kind::Product, id, &title);
        e.revision = 100 + (k as u32 % 7);
        e.parent = Some(1 + fam);
        products.push(entries.len());
        entries.push(e);
    }
    let mut classes = Vec::new();
    for (t, id) in CLASSIFICATIONS {
        classes.push(entries.len());
        entries.push(blank(Kind::Classification, parse_guid(id), t));
    }
    let n_categories = entries.len();
    // About 3% of the real catalog's Update elements are categories and detectoids.
    let n_detectoids = (a.updates * 3 / 100).saturating_sub(n_categories).max(10);
    let mut detectoids = Vec::new();
    for k in 0..n_detectoids {
        let mut e = blank(Kind::Detectoid, r.guid(), &format!("Detectoid {k}"));
        e.revision = 100 + r.below(5) as u32;
        if r.chance(300) && !products.is_empty() {
            // Some detectoids sit under a product, as categories do: only their fragments
            // tell them apart.
            e.parent = Some(products[r.below(products.len() as u64) as usize]);
        }
        detectoids.push(entries.len());
        entries.push(e);
    }
    // Bundles and their children: 1-2 children per bundle on average 1.3 (the real file has
    // more children than bundles).
    let remaining = a.updates.saturating_sub(entries.len());
    let mut children: Vec<Vec<usize>> = Vec::new();
    let mut bundles: Vec<usize> = Vec::new();
    let mut made = 0;
    let mut kb = 2_000_000u32;
    while made < remaining {
        let b = entries.len();
        // Skewed towards the first products (the real ones): most updates are for a few products.
        let product = products[products.len()
            - 1
            - (r.below(products.len() as u64 * products.len() as u64) as f64).sqrt() as usize];
        let class = {
            let total: u64 = CLASS_WEIGHTS.iter().sum();
            let mut x = r.below(total);
            let mut i = 0;
            while x >= CLASS_WEIGHTS[i] {
                x -= CLASS_WEIGHTS[i];
                i += 1;
            }
            classes[i]
        };
        kb += 1 + r.below(3) as u32;
        let mut e = blank(Kind::Bundle, r.guid(), "");
        e.revision = 200 + r.below(3) as u32;
        e.product = product;
        e.class = class;
        e.kb = kb;
        e.title = format!(
            "{}-{:02} {} for {} (KB{kb})",
            2008 + made * 18 / remaining.max(1),
            1 + r.below(12),
            CLASSIFICATIONS[class - classes[0]].0.trim_end_matches('s'),
            entries[product].title
        );
        e.prereqs = (0..1 + r.below(3))
            .map(|_| detectoids[r.below(detectoids.len() as u64) as usize])
            .collect();
        entries.push(e);
        bundles.push(b);
        children.resize(entries.len(), Vec::new());
        made += 1;
        let n_children = if r.chance(700) { 1 } else { 2 };
        for _ in 0..n_children {
            if made >= remaining {
                break;
            }
            let c = entries.len();
            let mut e = blank(Kind::Child, r.guid(), "");
            e.revision = entries[b].revision;
            e.parent = Some(b);
            e.kb = kb;
            e.title = format!("{} (component)", entries[b].title);
            // About 0.75 payload files per Update element overall, as in the real file.
            let n_files = [1, 1, 1, 1, 1, 1, 1, 1, 2, 3][r.below(10) as usize];
            for _ in 0..n_files {
                let mut sha1 = [0u8; 20];
                let mut sha256 = [0u8; 32];
                for x in sha1.iter_mut().chain(sha256.iter_mut()) {
                    *x = r.next() as u8;
                }
                e.files
                    .push((sha1, sha256, 40_000 + r.below(400_000_000) as u32));
            }
            e.prereqs = (0..2 + r.below(3))
                .map(|_| detectoids[r.below(detectoids.len() as u64) as usize])
                .collect();
            entries.push(e);
            children.resize(entries.len(), Vec::new());
            children[b].push(c);
            made += 1;
        }
    }
    // Supersedence: within a product and classification, a later bundle supersedes the
    // earlier ones it replaces (the last one to three of them).
    let mut last: std::collections::HashMap<(usize, usize), Vec<usize>> = Default::default();
    for &b in &bundles {
        let key = (entries[b].product, entries[b].class);
        let chain = last.entry(key).or_default();
        let n = (1 + r.below(3) as usize).min(chain.len());
        for &old in &chain[chain.len() - n..] {
            entries[old].superseded_by.push(b);
        }
        chain.push(b);
        if chain.len() > 8 {
            chain.remove(0);
        }
    }
    // RevisionIds grow with publication: categories and detectoids first, a few of them
    // revised later (their RevisionIds fall among the updates').
    let mut order: Vec<usize> = (0..entries.len()).collect();
    let mut late: Vec<usize> = Vec::new();
    for i in 0..n_categories + n_detectoids {
        if i > 3 && r.chance(150) {
            late.push(i);
        }
    }
    let late_set: std::collections::HashSet<usize> = late.iter().copied().collect();
    order.retain(|i| !late_set.contains(i));
    for (k, &i) in late.iter().enumerate() {
        let at = n_categories
            + n_detectoids
            + (k + 1) * (order.len() - n_categories - n_detectoids) / (late.len() + 1);
        order.insert(at.min(order.len()), i);
    }
    let mut revid = 1_000_000u32;
    for &i in &order {
        revid += 1 + r.below(40) as u32;
        entries[i].revid = revid;
    }
    entries.sort_by_key(|e| e.revid);
    // Indexes changed with the sort: remap.
    let mut at = vec![0usize; order.len()];
    for (new, &old) in order.iter().enumerate() {
        at[old] = new;
    }
    for e in &mut entries {
        e.parent = e.parent.map(|p| at[p]);
        e.product = at[e.product];
        e.class = at[e.class];
        for x in e.superseded_by.iter_mut().chain(e.prereqs.iter_mut()) {
            *x = at[*x];
        }
    }
    let mut kids = vec![Vec::new(); entries.len()];
    for (old, list) in children.iter().enumerate() {
        kids[at[old]] = list.iter().map(|&c| at[c]).collect();
    }
    Catalog {
        entries,
        children: kids,
    }
}

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

/// `n` words of two to four syllables: text about as compressible as real prose (a large
/// vocabulary), so that the catalog compresses to about the real size.
fn words(r: &mut Rng, n: usize) -> String {
    let mut s = String::new();
    for k in 0..n {
        if k > 0 {
            s.push(' ');
        }
        for _ in 0..2 + r.below(3) {
            s.push_str(SYLLABLES[r.below(SYLLABLES.len() as u64) as usize]);
        }
    }
    s
}

impl Catalog {
    fn kept(&self, a: &Args, i: usize) -> bool {
        let e = &self.entries[i];
        let bundle = match e.kind {
            Kind::Bundle => i,
            Kind::Child => e.parent.expect("a child has a bundle"),
            _ => return true,
        };
        a.drop_every == 0 || !(self.entries[bundle].kb as usize).is_multiple_of(a.drop_every)
    }

    /// The `Update` element of entry `i` in package.xml.
    fn update_element(&self, a: &Args, i: usize, out: &mut String) {
        let e = &self.entries[i];
        let mut r = rng_for(a.seed, 1, i as u64);
        let day = 1 + (e.revid - 1_000_000) / 400;
        let (action, flags) = match e.kind {
            Kind::Bundle => ("Bundle", " IsBundle=\"true\""),
            Kind::Child => ("Installation", " IsLeaf=\"true\""),
            _ => ("Evaluate", " IsSoftware=\"false\""),
        };
        let _ = write!(
            out,
            "    <Update CreationDate=\"{}-{:02}-{:02}T{:02}:{:02}:{:02}Z\" DefaultLanguage=\"en\" UpdateId=\"{}\" RevisionNumber=\"{}\" RevisionId=\"{}\"{flags} DeploymentAction=\"{action}\"",
            2006 + day / 365,
            1 + (day % 365) / 31,
            1 + (day % 31).min(27),
            r.below(24),
            r.below(60),
            r.below(60),
            guid_str(e.id),
            e.revision,
            e.revid
        );
        let mut body = String::new();
        let prereq = |out: &mut String, ids: &[u128], or: &[u128]| {
            if ids.is_empty() && or.is_empty() {
                return;
            }
            out.push_str("\n      <Prerequisites>");
            for id in ids {
                let _ = write!(out, "\n        <UpdateId Id=\"{}\" />", guid_str(*id));
            }
            if !or.is_empty() {
                out.push_str("\n        <Or>");
                for id in or {
                    let _ = write!(out, "\n          <UpdateId Id=\"{}\" />", guid_str(*id));
                }
                out.push_str("\n        </Or>");
            }
            out.push_str("\n      </Prerequisites>");
        };
        let ids = |v: &[usize]| v.iter().map(|&p| self.entries[p].id).collect::<Vec<_>>();
        match e.kind {
            Kind::Company | Kind::Classification => {}
            Kind::Family | Kind::Product | Kind::Detectoid => {
                if let Some(p) = e.parent {
                    prereq(&mut body, &[self.entries[p].id], &[]);
                }
            }
            Kind::Bundle => {
                let (head, or) = e.prereqs.split_at(e.prereqs.len() / 2);
                prereq(&mut body, &ids(head), &ids(or));
                let product = &self.entries[e.product];
                let family = &self.entries[product.parent.expect("a family")];
                body.push_str("\n      <Categories>");
                for (t, id) in [
                    ("Company", MICROSOFT.to_string()),
                    ("Product", guid_str(product.id)),
                    ("ProductFamily", guid_str(family.id)),
                    ("UpdateClassification", guid_str(self.entries[e.class].id)),
                ] {
                    let _ = write!(body, "\n        <Category Type=\"{t}\" Id=\"{id}\" />");
                }
                body.push_str("\n      </Categories>");
                if r.chance(150) {
                    body.push_str(
                        "\n      <Languages>\n        <Language Name=\"en\" />\n      </Languages>",
                    );
                }
            }
            Kind::Child => {
                prereq(&mut body, &ids(&e.prereqs), &[]);
                if r.chance(100) {
                    let _ = write!(
                        body,
                        "\n      <Languages>\n        <Language Name=\"{}\" />\n      </Languages>",
                        LANGS[r.below(LANGS.len() as u64) as usize]
                    );
                }
                if !e.files.is_empty() {
                    body.push_str("\n      <PayloadFiles>");
                    for f in &e.files {
                        let _ = write!(body, "\n        <File Id=\"{}\" />", b64(&f.0));
                    }
                    body.push_str("\n      </PayloadFiles>");
                }
                let _ = write!(
                    body,
                    "\n      <BundledBy>\n        <Revision Id=\"{}\" />\n      </BundledBy>",
                    self.entries[e.parent.expect("a bundle")].revid
                );
            }
        }
        let newer: Vec<usize> = e
            .superseded_by
            .iter()
            .copied()
            .filter(|&n| self.kept(a, n))
            .collect();
        if !newer.is_empty() {
            body.push_str("\n      <SupersededBy>");
            for n in newer {
                let _ = write!(
                    body,
                    "\n        <Revision Id=\"{}\" />",
                    self.entries[n].revid
                );
            }
            body.push_str("\n      </SupersededBy>");
        }
        if body.is_empty() {
            out.push_str(" />\n");
        } else {
            // One line per update: indentation would only add size.
            out.push('>');
            let mut lines = body.split('\n');
            for line in lines.by_ref() {
                out.push_str(line.trim_start());
            }
            out.push_str("</Update>\n");
        }
    }

    fn file_name(&self, i: usize, k: usize) -> String {
        let e = &self.entries[i];
        format!(
            "windows10.0-kb{}-x64_{}.{}",
            e.kb,
            hex::encode(e.files[k].0),
            ["msu", "cab", "exe"][k % 3]
        )
    }

    fn fragment(&self, a: &Args, i: usize, kind: char, lang: &str) -> String {
        let e = &self.entries[i];
        let mut r = rng_for(a.seed, kind as u64 + 7 * lang.len() as u64, i as u64);
        let mut s = String::new();
        let category_type = match e.kind {
            Kind::Company => Some("Company"),
            Kind::Family => Some("ProductFamily"),
            Kind::Product => Some("Product"),
            Kind::Classification => Some("UpdateClassification"),
            _ => None,
        };
        match kind {
            'c' => {
                let ty = match e.kind {
                    Kind::Detectoid => "Detectoid",
                    Kind::Bundle | Kind::Child => "Software",
                    _ => "Category",
                };
                let _ = write!(
                    s,
                    "<UpdateIdentity UpdateID=\"{}\" RevisionNumber=\"{}\" /><Properties UpdateType=\"{ty}\" ExplicitlyDeployable=\"{}\" AutoSelectOnWebSites=\"true\" />",
                    guid_str(e.id),
                    e.revision,
                    e.kind == Kind::Bundle
                );
                s.push_str("<Relationships>");
                if !e.prereqs.is_empty()
                    || e.kind == Kind::Bundle
                    || e.parent.is_some() && category_type.is_some()
                {
                    s.push_str("<Prerequisites>");
                    for &p in &e.prereqs {
                        let _ = write!(
                            s,
                            "<UpdateIdentity UpdateID=\"{}\" />",
                            guid_str(self.entries[p].id)
                        );
                    }
                    let groups: Vec<usize> = match (e.kind, e.parent) {
                        (Kind::Bundle, _) => vec![e.class, e.product],
                        (_, Some(p)) if category_type.is_some() => vec![p],
                        _ => vec![],
                    };
                    for g in groups {
                        let _ = write!(
                            s,
                            "<AtLeastOne IsCategory=\"true\"><UpdateIdentity UpdateID=\"{}\" /></AtLeastOne>",
                            guid_str(self.entries[g].id)
                        );
                    }
                    s.push_str("</Prerequisites>");
                }
                if e.kind == Kind::Bundle && !self.children[i].is_empty() {
                    s.push_str("<BundledUpdates>");
                    for &c in &self.children[i] {
                        let _ = write!(
                            s,
                            "<UpdateIdentity UpdateID=\"{}\" RevisionNumber=\"{}\" />",
                            guid_str(self.entries[c].id),
                            self.entries[c].revision
                        );
                    }
                    s.push_str("</BundledUpdates>");
                }
                s.push_str("</Relationships>");
                if matches!(e.kind, Kind::Child | Kind::Detectoid) {
                    // Applicability rules: opaque to offsync, but most of a real core fragment.
                    s.push_str("<ApplicabilityRules><IsInstalled><And>");
                    for _ in 0..2 + r.below(5) {
                        let _ = write!(
                            s,
                            "<b.FileVersion Path=\"{}.dll\" Csidl=\"37\" Comparison=\"GreaterThanOrEqualTo\" Version=\"10.0.{}.{}\" />",
                            words(&mut r, 1),
                            10_000 + r.below(20_000),
                            r.below(5_000)
                        );
                    }
                    for _ in 0..1 + r.below(3) {
                        let _ = write!(
                            s,
                            "<cbs:PackageIdentity Name=\"Package_for_{}\" ProcessorArchitecture=\"amd64\" PublicKeyToken=\"{:016x}\" Version=\"10.0.{}.{}\" TransactionKey=\"{:032x}\" />",
                            words(&mut r, 1),
                            r.next(),
                            10_000 + r.below(20_000),
                            r.below(5_000),
                            ((r.next() as u128) << 64) | r.next() as u128
                        );
                    }
                    let _ = write!(
                        s,
                        "</And></IsInstalled><IsInstallable><b.WmiQuery Namespace=\"root\\cimv2\" WqlQuery=\"SELECT * FROM Win32_OperatingSystem WHERE BuildNumber = '{}' AND ProductType = '{}'\" /></IsInstallable></ApplicabilityRules>",
                        10_000 + r.below(20_000),
                        1 + r.below(3)
                    );
                }
            }
            'x' => match e.kind {
                Kind::Bundle => {
                    let sev = ["Critical", "Important", "Moderate", "Low", ""][r.below(5) as usize];
                    let sev = if sev.is_empty() {
                        String::new()
                    } else {
                        format!(" MsrcSeverity=\"{sev}\"")
                    };
                    let _ = write!(
                        s,
                        "<ExtendedProperties DefaultPropertiesLanguage=\"en\" Handler=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Cbs\" MaxDownloadSize=\"{}\" MinDownloadSize=\"0\"{sev} IsBeta=\"false\"><SupportUrl>https://support.microsoft.com/help/{}</SupportUrl><SecurityBulletinID>MS{:02}-{:03}</SecurityBulletinID><KBArticleID>{}</KBArticleID></ExtendedProperties>",
                        r.below(900_000_000),
                        e.kb,
                        r.below(20),
                        r.below(200),
                        e.kb
                    );
                }
                Kind::Child => {
                    let _ = write!(
                        s,
                        "<ExtendedProperties DefaultPropertiesLanguage=\"en\" Handler=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Cbs\" MaxDownloadSize=\"{}\" MinDownloadSize=\"0\"><InstallationBehavior RebootBehavior=\"CanRequestReboot\" /><UninstallationBehavior /></ExtendedProperties>",
                        e.files.iter().map(|f| f.2 as u64).sum::<u64>()
                    );
                    if !e.files.is_empty() {
                        s.push_str("<Files>");
                        for (k, f) in e.files.iter().enumerate() {
                            let _ = write!(
                                s,
                                "<File Digest=\"{}\" DigestAlgorithm=\"SHA1\" FileName=\"{}\" Size=\"{}\" Modified=\"2024-04-12T10:24:53.617Z\"><AdditionalDigest Algorithm=\"SHA256\">{}</AdditionalDigest></File>",
                                b64(&f.0),
                                self.file_name(i, k),
                                f.2,
                                b64(&f.1)
                            );
                        }
                        s.push_str("</Files>");
                    }
                    s.push_str("<HandlerSpecificData type=\"cbs:Cbs\"><cbs:CbsData xmlns:cbs=\"http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Cbs\" RestartRequired=\"true\" /></HandlerSpecificData>");
                }
                _ => {
                    s.push_str("<ExtendedProperties DefaultPropertiesLanguage=\"en\" MaxDownloadSize=\"0\" MinDownloadSize=\"0\" />");
                    if let Some(t) = category_type {
                        let _ = write!(
                            s,
                            "<HandlerSpecificData type=\"cat:Category\"><CategoryInformation CategoryType=\"{t}\" ProhibitsSubcategories=\"false\" ProhibitsUpdates=\"false\" DisplayOrder=\"{}\" /></HandlerSpecificData>",
                            r.below(1000)
                        );
                    }
                }
            },
            _ => {
                let title = if lang == "en" {
                    e.title.clone()
                } else {
                    format!("[{lang}] {}", e.title)
                };
                let _ = write!(
                    s,
                    "<LocalizedProperties><Language>{lang}</Language><Title>{title}</Title>"
                );
                if matches!(e.kind, Kind::Bundle | Kind::Child) {
                    let n = 30 + r.below(40) as usize;
                    let _ = write!(
                        s,
                        "<Description>{}.</Description><UninstallNotes>This software update can be removed by selecting View installed updates in the Programs and Features Control Panel.</UninstallNotes><MoreInfoUrl>https://support.microsoft.com/help/{}</MoreInfoUrl><SupportUrl>https://support.microsoft.com</SupportUrl>",
                        words(&mut r, n),
                        e.kb
                    );
                }
                s.push_str("</LocalizedProperties>");
            }
        }
        s
    }

    /// The localized fragments of entry `i`: English, and `languages` more for updates
    /// (a child has its bundle's).
    fn langs(&self, a: &Args, i: usize) -> Vec<&'static str> {
        let mut v = vec!["en"];
        let e = &self.entries[i];
        let bundle = match e.kind {
            Kind::Bundle => i,
            Kind::Child => e.parent.expect("a child has a bundle"),
            _ => return v,
        };
        let first = (bundle * 7) % LANGS.len();
        v.extend((0..a.languages).map(|k| LANGS[(first + k) % LANGS.len()]));
        v
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// CAB members carry a date; the crate stamps the current time: pin it (2026-05-12 03:00:00)
/// so that the output depends only on the arguments.
fn pin_dates<F: Read + Write + Seek>(f: &mut F) -> io::Result<()> {
    let mut head = [0u8; 36];
    f.seek(SeekFrom::Start(0))?;
    f.read_exact(&mut head)?;
    let files_at = u32::from_le_bytes(head[16..20].try_into().unwrap()) as u64;
    let n = u16::from_le_bytes([head[28], head[29]]) as usize;
    // The whole file table, at most 65535 entries of at most 272 bytes.
    let mut table = vec![0u8; n * 272];
    f.seek(SeekFrom::Start(files_at))?;
    let got = f.read(&mut table)?;
    let mut filled = got;
    while filled < table.len() {
        let k = f.read(&mut table[filled..])?;
        if k == 0 {
            break;
        }
        filled += k;
    }
    let date: u16 = ((2026 - 1980) << 9) | (5 << 5) | 12;
    let time: u16 = 3 << 11;
    let mut at = 0;
    for _ in 0..n {
        table[at + 10..at + 12].copy_from_slice(&date.to_le_bytes());
        table[at + 12..at + 14].copy_from_slice(&time.to_le_bytes());
        at += 16;
        at += table[at..].iter().position(|&b| b == 0).expect("a name") + 1;
    }
    f.seek(SeekFrom::Start(files_at))?;
    f.write_all(&table[..at])?;
    f.seek(SeekFrom::End(0))?;
    Ok(())
}

/// Writes a one-folder cabinet of `names`, asking `data` for each member's bytes in order.
fn write_cab<W: Write + Seek>(
    w: W,
    compression: cab::CompressionType,
    names: &[String],
    data: &mut dyn FnMut(usize, &mut dyn Write) -> io::Result<()>,
) -> io::Result<W> {
    let mut b = cab::CabinetBuilder::new();
    let folder = b.add_folder(compression);
    for n in names {
        folder.add_file(n.as_str());
    }
    let mut cw = b.build(w)?;
    let mut k = 0;
    while let Some(mut fw) = cw.next_file()? {
        let mut bw = BufWriter::with_capacity(1 << 16, &mut fw);
        data(k, &mut bw)?;
        bw.flush()?;
        drop(bw);
        k += 1;
    }
    cw.finish()
}

fn run(a: &Args) -> io::Result<()> {
    let t0 = Instant::now();
    let cat = model(a);
    let kept: Vec<usize> = (0..cat.entries.len()).filter(|&i| cat.kept(a, i)).collect();
    // Inner CABs: equal shares of the kept revisions, by RevisionId.
    let per = kept.len().div_ceil(a.cabs);
    let groups: Vec<&[usize]> = kept.chunks(per.max(1)).collect();
    let mut outer_names = vec!["index.xml".to_string(), "package.cab".to_string()];
    let mut index = String::from(
        "<INDEX VERSION=\"1\">\n    <CABLIST XOR=\"0\">\n        <CAB NAME=\"package.cab\" />\n",
    );
    for (k, g) in groups.iter().enumerate() {
        let name = format!("package{}.cab", k + 2);
        let start = if k == 0 { 0 } else { cat.entries[g[0]].revid };
        let _ = writeln!(
            index,
            "        <CAB NAME=\"{name}\" RANGESTART=\"{start}\" FILESDIR=\"1\" />"
        );
        outer_names.push(name);
    }
    index.push_str("    </CABLIST>\n</INDEX>\n");

    let out = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&a.out)?;
    let outer_type = if a.outer_mszip {
        cab::CompressionType::MsZip
    } else {
        cab::CompressionType::None
    };
    let (mut xml_bytes, mut locations, mut fragments, mut fragment_bytes) =
        (0u64, 0u64, 0u64, 0u64);
    let mut out = write_cab(out, outer_type, &outer_names, &mut |k, w| match k {
        0 => w.write_all(index.as_bytes()),
        1 => {
            let mut package = write_cab(
                Cursor::new(Vec::new()),
                cab::CompressionType::MsZip,
                &["package.xml".to_string()],
                &mut |_, w| {
                    let mut counted = Count { inner: w, n: 0 };
                    let _ = writeln!(
                        counted,
                        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<OfflineSyncPackage xmlns=\"http://schemas.microsoft.com/msus/2004/02/OfflineSync\" MinimumClientVersion=\"5.8.0.2678\" ProtocolVersion=\"1.0\" PackageId=\"{}\" SourceId=\"cc56ad5b-8b8c-4f5b-9f8a-0d8f7b4b6f5e\" CreationDate=\"{}\" PackageVersion=\"1.1\">\n  <Updates>",
                        guid_str(rng_for(a.seed, 99, a.drop_every as u64).guid()),
                        a.created
                    );
                    let mut s = String::new();
                    for &i in &kept {
                        s.clear();
                        cat.update_element(a, i, &mut s);
                        counted.write_all(s.as_bytes())?;
                    }
                    counted.write_all(b"  </Updates>\n  <FileLocations>\n")?;
                    for &i in &kept {
                        let e = &cat.entries[i];
                        for (k, f) in e.files.iter().enumerate() {
                            let _ = writeln!(
                                counted,
                                "    <FileLocation Id=\"{}\" Url=\"http://download.windowsupdate.com/c/msdownload/update/software/secu/{}/{:02}/{}\" />",
                                b64(&f.0),
                                2010 + e.kb % 16,
                                1 + e.kb % 12,
                                cat.file_name(i, k)
                            );
                            locations += 1;
                        }
                    }
                    counted.write_all(b"  </FileLocations>\n</OfflineSyncPackage>\n")?;
                    xml_bytes = counted.n;
                    Ok(())
                },
            )?;
            pin_dates(&mut package)?;
            eprintln!(
                "package.xml: {:.1} MB, {} Update elements, {locations} FileLocations; package.cab {:.1} MB ({:.1} s)",
                xml_bytes as f64 / 1e6,
                kept.len(),
                package.get_ref().len() as f64 / 1e6,
                t0.elapsed().as_secs_f64()
            );
            w.write_all(package.get_ref())
        }
        k => {
            let g = groups[k - 2];
            let mut names: Vec<(String, usize, char, &str)> = Vec::new();
            for &i in g {
                let revid = cat.entries[i].revid;
                names.push((format!("c\\{revid}"), i, 'c', ""));
                names.push((format!("x\\{revid}"), i, 'x', ""));
                for l in cat.langs(a, i) {
                    names.push((format!("l\\{l}\\{revid}"), i, 'l', l));
                }
            }
            names.sort();
            let list: Vec<String> = names.iter().map(|n| n.0.clone()).collect();
            let mut inner = write_cab(
                Cursor::new(Vec::new()),
                cab::CompressionType::MsZip,
                &list,
                &mut |m, w| {
                    let (_, i, kind, lang) = &names[m];
                    let text = cat.fragment(a, *i, *kind, lang);
                    fragment_bytes += text.len() as u64;
                    fragments += 1;
                    w.write_all(text.as_bytes())
                },
            )?;
            pin_dates(&mut inner)?;
            if k % 10 == 0 {
                eprintln!(
                    "  {} written ({:.1} s)",
                    outer_names[k],
                    t0.elapsed().as_secs_f64()
                );
            }
            w.write_all(inner.get_ref())
        }
    })?;
    pin_dates(&mut out)?;
    let size = out.stream_position()?;
    println!(
        "wrote {}: {:.1} MB; package.xml {:.1} MB with {} Update elements and {locations} FileLocations; {} inner CABs with {fragments} fragments ({:.1} MB uncompressed); {:.1} s",
        a.out.display(),
        size as f64 / 1e6,
        xml_bytes as f64 / 1e6,
        kept.len(),
        groups.len(),
        fragment_bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Counts what passes through.
struct Count<'a> {
    inner: &'a mut dyn Write,
    n: u64,
}

impl Write for Count<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a catalog as a sync would, without a store: scan, then fetch every update.
fn read(path: &std::path::Path) -> offsync::Result<()> {
    use offsync::upstream::ScanItem;
    let progress = offsync::progress::NoProgress;
    let t0 = Instant::now();
    let mut up = offsync::upstream::open(path)?;
    let (mut cats, mut keys) = (0u64, Vec::new());
    let summary = up.scan(
        &mut |item| {
            match item {
                ScanItem::Category(..) => cats += 1,
                // Detectoids are never selected (they have no categories).
                ScanItem::Update(h) if h.update_type != "Detectoid" => keys.push(h.key),
                ScanItem::Update(_) => {}
            }
            Ok(())
        },
        &progress,
    )?;
    let scan = t0.elapsed().as_secs_f64();
    keys.sort_unstable();
    let t1 = Instant::now();
    let (mut n, mut localized, mut files) = (0u64, 0u64, 0u64);
    up.fetch(
        &keys,
        &mut |u| {
            n += 1;
            localized += u.update.localized.len() as u64;
            files += u.update.files.len() as u64;
            Ok(())
        },
        &progress,
    )?;
    println!(
        "read {}: scan {scan:.1} s ({cats} categories, {} updates, package {} created {}); fetch of every update {:.1} s ({n} updates, {localized} localized texts, {files} files)",
        path.display(),
        keys.len(),
        summary.package_id.as_deref().unwrap_or("-"),
        summary.created.as_deref().unwrap_or("-"),
        t1.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gen_wsusscn2: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &a.read {
        return match read(path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gen_wsusscn2: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_wsusscn2: {e}");
            ExitCode::FAILURE
        }
    }
}
