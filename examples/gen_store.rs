//! Builds an offsync store of N update revisions directly through the library, for the
//! metadata benchmark (`bench/metadata.sh`): a million revisions in a minute or two, where a
//! sync from a generated folder would take far longer and measure the sync instead.
//!
//! ```text
//! cargo run --release --example gen_store -- --store DIR --updates N [--seed S]
//! cargo run --release --example gen_store -- --store DIR --updates N [--seed S] --bump-percent P [--bump-round R]
//! ```
//!
//! The first form creates the store (DIR absent or empty) with the category tree (Microsoft,
//! the Windows and Office families, the products and the 10 classifications, with the real
//! GUIDs of `shared/guide/FORMATS.md` and invented ones derived from their names) and `N`
//! updates: English titles in the shape Microsoft writes them, German and French ones on
//! some, KB numbers, MSRC severity on security updates, creation dates through 2016-2026,
//! supersedence chains per product, classification and architecture, bundles with 1-3
//! children (counted in `N`), 1-3 file references each (name, size, SHA-1, SHA-256, URL),
//! about 1.6% expired. No content files: this is a metadata benchmark.
//!
//! The second form opens the store made with the same `--updates` and `--seed` and writes a
//! new revision of about P% of the updates (whole bundles at once: a bundle and its
//! children), so that an incremental export carries about P% of the store. Each
//! `--bump-round` (1, 2, ...) picks other updates and raises the revision by the round
//! number, so successive rounds always move revisions forward.
//!
//! The output depends only on the arguments (own SplitMix64 PRNG), apart from the store id.

// A command-line tool of its own: printing is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use offsync::model::{
    BundledRef, Category, CategoryKind, FileRef, Guid, Localized, PublicationState, Update,
    fingerprint,
};
use offsync::store::{Store, StoredState};
use offsync::time::Timestamp;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str =
    "usage: gen_store --store DIR --updates N [--seed S] [--bump-percent P [--bump-round R]]

  --store DIR        the store to create (absent or empty), or with --bump-percent to change
  --updates N        number of update revisions (bundled children included)
  --seed S           PRNG seed (default 1); the store's content depends only on the arguments
  --bump-percent P   write a new revision of about P% of the updates of an existing store
                     made with the same --updates and --seed
  --bump-round R     which bump this is (default 1): other updates, revision + R";

/// Updates written per transaction: big enough that commits cost little, small enough that
/// the WAL stays a few hundred MiB.
const BATCH: usize = 50_000;

struct Args {
    store: PathBuf,
    updates: u64,
    seed: u64,
    bump_percent: Option<f64>,
    bump_round: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut store = None;
    let mut a = Args {
        store: PathBuf::new(),
        updates: 0,
        seed: 1,
        bump_percent: None,
        bump_round: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{k} needs a value"));
        match k.as_str() {
            "--store" => store = Some(PathBuf::from(val()?)),
            "--updates" => a.updates = num(&k, &val()?)?,
            "--seed" => a.seed = num(&k, &val()?)?,
            "--bump-percent" => {
                let v = val()?;
                let p: f64 = v.parse().map_err(|_| format!("--bump-percent: '{v}'"))?;
                if !(p > 0.0 && p <= 100.0) {
                    return Err("--bump-percent must be in (0, 100]".into());
                }
                a.bump_percent = Some(p);
            }
            "--bump-round" => a.bump_round = num(&k, &val()?)? as u32,
            "-h" | "--help" => return Err(String::new()),
            _ => return Err(format!("unknown argument '{k}'")),
        }
    }
    a.store = store.ok_or("--store is required")?;
    if a.updates == 0 {
        return Err("--updates N (N > 0) is required".into());
    }
    if a.bump_round == 0 {
        return Err("--bump-round starts at 1".into());
    }
    Ok(a)
}

fn num(k: &str, v: &str) -> Result<u64, String> {
    v.parse().map_err(|_| format!("{k}: '{v}' is not a number"))
}

// ---------------------------------------------------------------------------------------------
// A small deterministic PRNG (SplitMix64)

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_0ff5_7012_e000)
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
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn weighted(&mut self, weights: impl Iterator<Item = u32> + Clone) -> usize {
        let total: u64 = weights.clone().map(u64::from).sum();
        let mut x = self.below(total);
        for (i, w) in weights.enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        0
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        for c in b.chunks_mut(8) {
            c.copy_from_slice(&self.next().to_le_bytes()[..c.len()]);
        }
        b
    }
    fn guid(&mut self) -> Guid {
        let mut b: [u8; 16] = self.bytes();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        guid_of(&b)
    }
}

fn guid_of(b: &[u8; 16]) -> Guid {
    let h = hex::encode(b);
    let s = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    Guid::parse(&s).expect("a formatted GUID parses")
}

/// A GUID that depends on a name only, for the invented categories.
fn name_guid(name: &str) -> Guid {
    let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
        (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
    });
    Rng::new(seed).guid()
}

fn guid(s: &str) -> Guid {
    Guid::parse(s).expect("a GUID constant parses")
}

// ---------------------------------------------------------------------------------------------
// The category tree

const MICROSOFT: &str = "56309036-4c77-4dd9-951a-99ee9c246a94";
const WINDOWS: &str = "6964aab4-c5b5-43bd-a17d-ffb4346a8e1d";
const OFFICE: &str = "477b856e-65c4-4473-b621-a8b230bb70d9";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Line {
    Client,
    Server,
    Office,
    Defender,
}

/// (title, real GUID or None for an invented product, family, line, weight, file prefix).
type Product = (
    &'static str,
    Option<&'static str>,
    &'static str,
    Line,
    u32,
    &'static str,
);

#[rustfmt::skip]
const PRODUCTS: &[Product] = &[
    ("Windows 11", Some("72e7624a-5b00-45d2-b92f-e561c0a6a160"), WINDOWS, Line::Client, 16, "windows11.0"),
    ("Windows 10", Some("a3c2375d-0c8a-42f9-bce0-28333e198407"), WINDOWS, Line::Client, 22, "windows10.0"),
    ("Windows 10, version 1903 and later", None, WINDOWS, Line::Client, 6, "windows10.0"),
    ("Windows 8.1", None, WINDOWS, Line::Client, 4, "windows8.1"),
    ("Windows Server 2022", None, WINDOWS, Line::Server, 8, "windows10.0"),
    ("Windows Server 2019", Some("f702a48c-919b-45d6-9aef-ca4248d50397"), WINDOWS, Line::Server, 9, "windows10.0"),
    ("Windows Server 2016", Some("569e8e8f-c6cd-42c8-92a3-efbb20a0f6f5"), WINDOWS, Line::Server, 8, "windows10.0"),
    ("Windows Server 2012 R2", Some("d31bd4c3-d872-41c9-a2e7-231f372588cb"), WINDOWS, Line::Server, 7, "windows8.1"),
    ("Office 2016", Some("25aed893-7c2d-4a31-ae22-28ff8ac150ed"), OFFICE, Line::Office, 10, "2016"),
    ("Office 2019", None, OFFICE, Line::Office, 4, "2019"),
    ("Office 2013", None, OFFICE, Line::Office, 6, "2013"),
    ("Windows Defender", Some("8c3fcc84-7410-4a95-8b89-a166a0190486"), WINDOWS, Line::Defender, 3, ""),
];

fn product_guid(p: &Product) -> Guid {
    p.1.map(guid).unwrap_or_else(|| name_guid(p.0))
}

/// The 10 real classifications: (title, GUID, share in %).
#[rustfmt::skip]
const CLASSES: &[(&str, &str, u32)] = &[
    ("Critical Updates", "e6cf1350-c01b-414d-a61f-263d14d133b4", 9),
    ("Security Updates", "0fa1201d-4330-4fa8-8ae9-b877473b6441", 34),
    ("Definition Updates", "e0789628-ce08-4437-be74-2495b842f43b", 8),
    ("Update Rollups", "28bc880e-0592-4cbf-8f95-c79b17911d5f", 6),
    ("Service Packs", "68c5b0a3-d1a6-4553-ae49-01d3a7827828", 1),
    ("Tools", "b4832bd8-e735-4761-8daf-37f882276dab", 2),
    ("Feature Packs", "b54e7d24-7add-428f-8b75-90a396fa584f", 2),
    ("Updates", "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83", 30),
    ("Drivers", "ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0", 4),
    ("Upgrades", "3689bdc8-b205-4af4-8d4a-a63924c5e9d5", 4),
];
const SECURITY: usize = 1;
const DEFINITION: usize = 2;
const ROLLUP: usize = 3;
const TOOLS: usize = 5;
const DRIVERS: usize = 8;
const UPGRADES: usize = 9;

fn categories() -> Vec<Category> {
    let cat = |id: Guid, kind, title: &str, parent: Option<&str>| Category {
        id,
        revision: 51,
        kind,
        title: title.to_string(),
        parent: parent.map(guid),
    };
    let mut v = vec![
        cat(guid(MICROSOFT), CategoryKind::Company, "Microsoft", None),
        cat(
            guid(WINDOWS),
            CategoryKind::ProductFamily,
            "Windows",
            Some(MICROSOFT),
        ),
        cat(
            guid(OFFICE),
            CategoryKind::ProductFamily,
            "Office",
            Some(MICROSOFT),
        ),
    ];
    for p in PRODUCTS {
        v.push(cat(product_guid(p), CategoryKind::Product, p.0, Some(p.2)));
    }
    for (title, id, _) in CLASSES {
        v.push(cat(guid(id), CategoryKind::Classification, title, None));
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Updates

const ARCHES: &[(&str, &str)] = &[("x64", "x64"), ("x86", "x86"), ("ARM64", "arm64")];
const SEVERITIES: &[&str] = &["Critical", "Important", "Important", "Moderate", "Low"];
const OFFICE_PARTS: &[&str] = &[
    "Microsoft Office",
    "Microsoft Word",
    "Microsoft Excel",
    "Microsoft Outlook",
    "Microsoft PowerPoint",
    "Skype for Business",
];
const VERSIONS: &[&str] = &["21H2", "22H2", "23H2", "24H2", "1809", "1607"];
const LANGS: &[&str] = &["de", "fr", "ja", "es", "it", "pt-br", "zh-cn", "ko", "ru"];
const EN_DESCRIPTION: &str = "Install this update to resolve issues in Windows. For a complete listing of the issues that are included in this update, see the associated Microsoft Knowledge Base article for more information. After you install this item, you may have to restart your computer.";

/// What one update is about, drawn before its fields.
struct Draw {
    product: usize,
    class: usize,
    arch: usize,
    kb: u64,
    day: i64,
}

/// English, German and French titles.
fn titles(d: &Draw, r: &mut Rng) -> [String; 3] {
    let p = PRODUCTS[d.product].0;
    let (arch, _) = ARCHES[d.arch];
    let kb = d.kb;
    let c = Timestamp(d.day * 86_400).civil();
    let ym = format!("{:04}-{:02}", c.year, c.month);
    let ver = r.pick(VERSIONS);
    match (d.class, PRODUCTS[d.product].3) {
        (DEFINITION, _) | (_, Line::Defender) => {
            let v = format!("1.{}.{}.0", r.range(300, 447), r.range(100, 2999));
            [
                format!("Security Intelligence Update for {p} - KB{kb} (Version {v})"),
                format!("Security Intelligence-Update für {p} – KB{kb} (Version {v})"),
                format!("Mise à jour de la veille de sécurité pour {p} - KB{kb} (Version {v})"),
            ]
        }
        (TOOLS, _) => {
            let v = r.range(40, 135);
            [
                format!("Windows Malicious Software Removal Tool {arch} - v5.{v} (KB{kb})"),
                format!("Tool zum Entfernen bösartiger Software {arch} – v5.{v} (KB{kb})"),
                format!("Outil de suppression de logiciels malveillants {arch} - v5.{v} (KB{kb})"),
            ]
        }
        (UPGRADES, _) => [
            format!("Feature update to {p}, version {ver}, {arch}-based systems"),
            format!("Funktionsupdate für {p}, Version {ver}, {arch}-basierte Systeme"),
            format!("Mise à jour de fonctionnalités vers {p}, version {ver}, systèmes {arch}"),
        ],
        (_, Line::Office) => {
            let part = r.pick(OFFICE_PARTS);
            let y = p.trim_start_matches("Office ");
            let bits = if d.arch == 1 { 32 } else { 64 };
            [
                format!("Security Update for {part} {y} (KB{kb}) {bits}-Bit Edition"),
                format!("Sicherheitsupdate für {part} {y} (KB{kb}), {bits}-Bit-Edition"),
                format!("Mise à jour de sécurité pour {part} {y} (KB{kb}), édition {bits} bits"),
            ]
        }
        _ => {
            let what = match d.class {
                SECURITY => "Security Update",
                ROLLUP => "Security Monthly Quality Rollup",
                DRIVERS => "Driver Update",
                _ => "Cumulative Update",
            };
            let p = if p.starts_with("Windows 1") && !p.contains(',') {
                format!("{p} Version {ver}")
            } else {
                p.to_string()
            };
            [
                format!("{ym} {what} for {p} for {arch}-based Systems (KB{kb})"),
                format!("{ym} {what} für {p} für {arch}-basierte Systeme (KB{kb})"),
                format!("{ym} {what} pour {p} pour les systèmes {arch} (KB{kb})"),
            ]
        }
    }
}

/// 1-3 file references: the package, sometimes an express file and a second package.
fn files(d: &Draw, r: &mut Rng) -> Vec<FileRef> {
    let prefix = match PRODUCTS[d.product].5 {
        "" => "mpam-fe",
        s => s,
    };
    let (_, a) = ARCHES[d.arch];
    let c = Timestamp(d.day * 86_400).civil();
    let n = 1 + r.weighted([60u32, 30, 10].into_iter());
    (0..n)
        .map(|i| {
            let sha1: [u8; 20] = r.bytes();
            let sha256: [u8; 32] = r.bytes();
            let ext = match (i, PRODUCTS[d.product].3) {
                (_, Line::Office) => "cab",
                (0, _) => "msu",
                (1, _) => "psf",
                _ => "cab",
            };
            let name = format!("{prefix}-kb{}-{a}_{}.{ext}", d.kb, hex::encode(sha1));
            let url = format!(
                "http://download.windowsupdate.com/d/msdownload/update/software/secu/{}/{:02}/{name}",
                c.year, c.month
            );
            FileRef {
                size: Some(r.range(40_000, 900_000_000)),
                sha1: Some(sha1),
                sha256: Some(sha256),
                url: Some(url),
                name,
            }
        })
        .collect()
}

/// The supersedence chains: the last few updates of each product, classification and
/// architecture.
struct Chains(Vec<Vec<Guid>>);

impl Chains {
    fn slot(&mut self, d: &Draw) -> &mut Vec<Guid> {
        &mut self.0[(d.product * CLASSES.len() + d.class) * ARCHES.len() + d.arch]
    }
}

fn draw(r: &mut Rng, kb: &mut u64, day: &mut i64) -> Draw {
    *kb += r.range(1, 4);
    // Creation dates move forward from 2016 to 2026 over the whole store.
    *day += i64::from(r.chance(30));
    Draw {
        product: r.weighted(PRODUCTS.iter().map(|p| p.4)),
        class: r.weighted(CLASSES.iter().map(|c| c.2)),
        arch: r.weighted([70u32, 20, 10].into_iter()),
        kb: *kb,
        day: *day,
    }
}

fn update(d: &Draw, r: &mut Rng, chains: &mut Chains, child: bool) -> Update {
    let [en, de, fr] = titles(d, r);
    let mut localized = BTreeMap::new();
    let description = r.chance(700).then(|| EN_DESCRIPTION.to_string());
    localized.insert(
        "en".to_string(),
        Localized {
            title: en,
            description,
        },
    );
    if r.chance(200) {
        localized.insert(
            "de".to_string(),
            Localized {
                title: de,
                description: None,
            },
        );
        localized.insert(
            "fr".to_string(),
            Localized {
                title: fr,
                description: None,
            },
        );
    }
    let office = PRODUCTS[d.product].3 == Line::Office;
    let languages = match r.below(100) {
        0..=79 => vec![],
        80..=89 => vec!["all".to_string()],
        _ if office => vec![r.pick(LANGS).to_string()],
        _ => vec!["en".to_string()],
    };
    let id = r.guid();
    let mut supersedes = Vec::new();
    let mut categories = Vec::new();
    if !child {
        categories = vec![product_guid(&PRODUCTS[d.product]), guid(CLASSES[d.class].1)];
        let slot = chains.slot(d);
        let k = slot.len().min(r.range(0, 3) as usize);
        supersedes.extend(slot.iter().rev().take(k).cloned());
        slot.push(id.clone());
        if slot.len() > 4 {
            slot.remove(0);
        }
    }
    let secs = d.day * 86_400 + 17 * 3600;
    Update {
        id,
        revision: r.range(100, 210) as u32,
        update_type: if d.class == DRIVERS {
            "Driver"
        } else {
            "Software"
        }
        .to_string(),
        default_language: Some("en".to_string()),
        localized,
        kb: Some(d.kb.to_string()),
        severity: (d.class == SECURITY).then(|| r.pick(SEVERITIES).to_string()),
        creation_date: Some(Timestamp(secs).rfc3339()),
        languages,
        categories,
        publication_state: if r.chance(16) {
            PublicationState::Expired
        } else {
            PublicationState::Published
        },
        supersedes,
        bundled: Vec::new(),
        files: files(d, r),
    }
}

/// Generates the store's updates in order, one group at a time: an update, or a bundle
/// followed by its 1-3 children.
struct Generator {
    r: Rng,
    chains: Chains,
    kb: u64,
    day: i64,
    n: u64,
    made: u64,
}

impl Generator {
    fn new(n: u64, seed: u64) -> Generator {
        Generator {
            r: Rng::new(seed),
            chains: Chains(vec![
                Vec::new();
                PRODUCTS.len() * CLASSES.len() * ARCHES.len()
            ]),
            kb: 3_000_000,
            // The day advances with a chance of 3% per update: start so that the last
            // update lands in 2026, and never before 2016.
            day: (20_550 - (n as i64 * 3 / 100)).max(16_801),
            n,
            made: 0,
        }
    }

    fn next_group(&mut self) -> Option<Vec<Update>> {
        if self.made >= self.n {
            return None;
        }
        let r = &mut self.r;
        let d = draw(r, &mut self.kb, &mut self.day);
        let mut parent = update(&d, r, &mut self.chains, false);
        let children = if d.class != DEFINITION && r.chance(120) {
            r.range(1, 3).min(self.n - self.made - 1)
        } else {
            0
        };
        let mut kids = Vec::with_capacity(children as usize);
        for _ in 0..children {
            let c = update(&d, r, &mut self.chains, true);
            parent.bundled.push(BundledRef {
                id: c.id.clone(),
                revision: Some(c.revision),
            });
            kids.push(c);
        }
        let mut g = vec![parent];
        g.append(&mut kids);
        self.made += 1 + children;
        Some(g)
    }
}

/// Whether a bump round changes group `g`: about `percent`% of the groups, others each round.
fn bumped(seed: u64, round: u32, g: u64, percent: f64) -> bool {
    let mut r = Rng::new(seed ^ (u64::from(round) << 40) ^ g.wrapping_mul(0x2545_f491_4f6c_dd1d));
    (r.below(1_000_000) as f64) < percent * 10_000.0
}

// ---------------------------------------------------------------------------------------------
// Writing

fn err(e: offsync::Error) -> String {
    e.to_string()
}

fn write_group(tx: &mut offsync::store::Tx<'_>, g: &mut [Update]) -> Result<(), String> {
    for u in g.iter_mut() {
        u.normalize();
        let state = match u.publication_state {
            PublicationState::Expired => StoredState::Expired,
            PublicationState::Published => StoredState::Published,
        };
        let fp = fingerprint(u).map_err(err)?;
        tx.put_update(u, state, Some(&fp)).map_err(err)?;
    }
    Ok(())
}

fn run(a: &Args) -> Result<String, String> {
    let t0 = Instant::now();
    let now = Timestamp::now();
    let mut store = match a.bump_percent {
        None => Store::init(&a.store, Some("bench"), now).map_err(err)?,
        Some(_) => Store::open(&a.store).map_err(err)?,
    };
    if a.bump_percent.is_none() {
        let mut tx = store.begin().map_err(err)?;
        for c in categories() {
            tx.put_category(&c).map_err(err)?;
        }
        tx.commit().map_err(err)?;
    }
    let mut source = Generator::new(a.updates, a.seed);
    let (mut written, mut expired, mut group) = (0u64, 0u64, 0u64);
    let mut more = true;
    while more {
        let mut tx = store.begin().map_err(err)?;
        let mut in_tx = 0;
        while in_tx < BATCH {
            let Some(mut g) = source.next_group() else {
                more = false;
                break;
            };
            group += 1;
            if let Some(p) = a.bump_percent {
                if !bumped(a.seed, a.bump_round, group, p) {
                    continue;
                }
                bump(&mut g, a.bump_round);
            }
            written += g.len() as u64;
            in_tx += g.len();
            expired += g
                .iter()
                .filter(|u| u.publication_state == PublicationState::Expired)
                .count() as u64;
            write_group(&mut tx, &mut g)?;
        }
        tx.commit().map_err(err)?;
    }
    let what = match a.bump_percent {
        Some(_) => format!("bumped {written} updates (round {})", a.bump_round),
        None => format!("wrote {written} updates ({expired} expired)"),
    };
    Ok(format!(
        "{what} in {}: {:.1} s",
        a.store.display(),
        t0.elapsed().as_secs_f64()
    ))
}

/// A new revision of a bundle and its children; the bundle names the children's new
/// revisions.
fn bump(group: &mut [Update], round: u32) {
    for u in group.iter_mut() {
        u.revision += round;
        u.localized.entry("en".to_string()).or_default().description =
            Some(format!("{EN_DESCRIPTION} (Revised, round {round}.)"));
    }
    for b in &mut group[0].bundled {
        b.revision = b.revision.map(|r| r + round);
    }
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gen_store: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&a) {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_store: {e}");
            ExitCode::FAILURE
        }
    }
}
