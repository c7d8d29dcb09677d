//! The update model shared by every part of offsync: categories, updates, file references,
//! and the identifiers and digests they use.
//!
//! Pure data: nothing here touches SQLite, the file system or the terminal. Upstream readers
//! produce these types, the store persists them, and the bundle format carries them across
//! the air gap. The canonical encoding of an update, and so its fingerprint, is defined here
//! once for the store and every upstream reader; so is the count of what a sync or an import
//! changed.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A GUID as WSUS writes it (`7b6d13c6-6401-4a10-a61f-1dab8d93356e`), kept in canonical
/// lowercase form so that equality is plain string equality.
#[derive(
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct Guid(String);

impl Guid {
    /// Parses a GUID, with or without braces, in any case.
    pub fn parse(s: &str) -> Option<Guid> {
        let t = s.trim();
        let t = t
            .strip_prefix('{')
            .and_then(|x| x.strip_suffix('}'))
            .unwrap_or(t);
        let b = t.as_bytes();
        if b.len() != 36 {
            return None;
        }
        for (i, c) in b.iter().enumerate() {
            let dash = matches!(i, 8 | 13 | 18 | 23);
            if dash != (*c == b'-') || (!dash && !c.is_ascii_hexdigit()) {
                return None;
            }
        }
        Some(Guid(t.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self.0)
    }
}

impl FromStr for Guid {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Guid::parse(s).ok_or_else(|| format!("'{s}' is not a GUID"))
    }
}

/// What kind of category a category document defines (`CategoryInformation/@CategoryType`).
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    Company,
    ProductFamily,
    Product,
    Classification,
}

impl CategoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryKind::Company => "company",
            CategoryKind::ProductFamily => "product_family",
            CategoryKind::Product => "product",
            CategoryKind::Classification => "classification",
        }
    }

    /// Maps the WSUS spelling (`Company`, `ProductFamily`, `Product`, `UpdateClassification`)
    /// and our own spelling to a kind.
    pub fn parse(s: &str) -> Option<CategoryKind> {
        Some(match s {
            "Company" | "company" => CategoryKind::Company,
            "ProductFamily" | "product_family" => CategoryKind::ProductFamily,
            "Product" | "product" => CategoryKind::Product,
            "UpdateClassification" | "classification" => CategoryKind::Classification,
            _ => return None,
        })
    }
}

/// A category: company, product family, product or update classification.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct Category {
    pub id: Guid,
    pub revision: u32,
    pub kind: CategoryKind,
    /// English title (or the default-language title when there is no English one).
    pub title: String,
    /// The parent category (product -> product family -> company); None for a company or a
    /// classification.
    pub parent: Option<Guid>,
}

/// Publication state as upstream reports it. `Declined` is never upstream: it is a local
/// decision and lives beside this state in the store.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum PublicationState {
    Published,
    Expired,
}

/// A payload file referenced by an update. Digests are raw bytes; they print as lowercase hex.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct FileRef {
    pub name: String,
    pub size: Option<u64>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    /// Download address where the upstream gives one (the offline catalog's FileLocations).
    pub url: Option<String>,
}

/// Text of an update in one language.
#[derive(
    Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
pub struct Localized {
    pub title: String,
    pub description: Option<String>,
}

/// One revision of a software update, driver, or detectoid, as upstream describes it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct Update {
    pub id: Guid,
    pub revision: u32,
    /// `Software`, `Driver`, `Detectoid`, ... as upstream spells it.
    pub update_type: String,
    pub default_language: Option<String>,
    /// Title and description per language code (`en`, `de`, `pt-br`, ...), sorted.
    pub localized: BTreeMap<String, Localized>,
    /// KB article number, digits only.
    pub kb: Option<String>,
    pub severity: Option<String>,
    pub creation_date: Option<String>,
    /// Languages of the binaries; empty or `all` means language neutral.
    pub languages: Vec<String>,
    /// Members of the `AtLeastOne IsCategory="true"` prerequisite groups: products and
    /// classifications, possibly unresolved. Sorted, no duplicates.
    pub categories: Vec<Guid>,
    pub publication_state: PublicationState,
    /// Updates this revision supersedes. Sorted, no duplicates.
    pub supersedes: Vec<Guid>,
    /// Bundled children (UpdateID and revision where given). Sorted, no duplicates.
    pub bundled: Vec<BundledRef>,
    pub files: Vec<FileRef>,
}

#[derive(
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Debug,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct BundledRef {
    pub id: Guid,
    pub revision: Option<u32>,
}

impl Update {
    /// The title to show for `lang`, falling back to English, then the default language,
    /// then any language.
    pub fn title(&self, lang: &str) -> &str {
        let pick = |l: &str| self.localized.get(l).map(|x| x.title.as_str());
        pick(lang)
            .or_else(|| pick("en"))
            .or_else(|| self.default_language.as_deref().and_then(pick))
            .or_else(|| self.localized.values().next().map(|x| x.title.as_str()))
            .unwrap_or("")
    }

    pub fn description(&self, lang: &str) -> Option<&str> {
        let pick = |l: &str| self.localized.get(l).and_then(|x| x.description.as_deref());
        pick(lang).or_else(|| pick("en")).or_else(|| {
            self.localized
                .values()
                .find_map(|x| x.description.as_deref())
        })
    }

    /// Language neutral: no language listed, or `all` listed.
    pub fn is_language_neutral(&self) -> bool {
        self.languages.is_empty() || self.languages.iter().any(|l| l.eq_ignore_ascii_case("all"))
    }

    /// Puts list fields in canonical order so that equal content compares and encodes equal.
    pub fn normalize(&mut self) {
        self.categories.sort();
        self.categories.dedup();
        self.supersedes.sort();
        self.supersedes.dedup();
        self.bundled.sort();
        self.bundled.dedup();
        for l in &mut self.languages {
            *l = l.to_ascii_lowercase();
        }
        self.languages.sort();
        self.languages.dedup();
    }
}

/// The canonical encoding of an update: what the store keeps of it, and what its fingerprint
/// digests. A change here changes every fingerprint and is a migration of every store.
pub fn encode_canonical(u: &Update) -> Result<Vec<u8>> {
    bincode::encode_to_vec(u, bincode::config::standard())
        .map_err(|e| Error::other(format!("cannot encode update {}: {e}", u.id)))
}

/// The fingerprint of an update: a digest of the canonical encoding of its normalised form
/// (publication state included). Two descriptions of the same revision that differ only in
/// layout (whitespace, attribute order, encoding, which source they came from) have the same
/// fingerprint, so they are neither a conflict nor a change.
pub fn fingerprint(u: &Update) -> Result<[u8; 32]> {
    let mut n = u.clone();
    n.normalize();
    Ok(crate::hash::sha256(&encode_canonical(&n)?))
}

/// One thing a sync or an import does to a stored update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    New,
    Updated,
    Expired,
    Removed,
    Unchanged,
}

impl Change {
    /// The word of the update's log line, or `None` for an update left unchanged (which
    /// gets no line).
    pub fn log_word(self) -> Option<&'static str> {
        match self {
            Change::New => Some("added"),
            Change::Updated => Some("changed"),
            Change::Expired => Some("expired"),
            Change::Removed => Some("removed"),
            Change::Unchanged => None,
        }
    }
}

/// How a sync run ended. Serialised (and stored) as `succeeded` or `failed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncOutcome {
    Succeeded,
    /// Also the state of a run that has not finished: only a completed run succeeds.
    #[default]
    Failed,
}

impl SyncOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncOutcome::Succeeded => "succeeded",
            SyncOutcome::Failed => "failed",
        }
    }

    /// Reads the stored spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<SyncOutcome> {
        match s {
            "succeeded" => Some(SyncOutcome::Succeeded),
            "failed" => Some(SyncOutcome::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for SyncOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the JSON spelling (`outcome == "failed"`).
impl PartialEq<&str> for SyncOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// How many updates a sync or an import changed, by kind of change. The field names are the
/// JSON names of the command-line contract and the column names of the run histories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub new: u64,
    pub updated: u64,
    pub expired: u64,
    pub removed: u64,
    pub unchanged: u64,
}

impl Changes {
    /// Counts one change.
    pub fn add(&mut self, c: Change) {
        match c {
            Change::New => self.new += 1,
            Change::Updated => self.updated += 1,
            Change::Expired => self.expired += 1,
            Change::Removed => self.removed += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
}

/// Lowercase hex of a digest.
pub fn hex_lower(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The lowercase GUID text (8-4-4-4-12 hex digits) of 16 bytes in text order.
pub fn guid_text(b: &[u8; 16]) -> String {
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// Parses a lowercase or uppercase hex digest of exactly N bytes.
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let v = hex::decode(s.trim()).ok()?;
    v.try_into().ok()
}

/// The digits of a KB number given as `5034122` or `KB5034122` (any case); anything else is a
/// usage error rather than a filter that matches nothing.
pub fn kb_digits(given: &str) -> Result<String> {
    let t = given.trim();
    let digits = match t.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("kb") => &t[2..],
        _ => t,
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::usage(format!("'{given}' is not a KB number"))
            .with_hint("give digits, with or without KB: 5034122 or KB5034122"));
    }
    Ok(digits.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_parses_canonically() {
        let g = Guid::parse("{0FA1201D-4330-4FA8-8AE9-B877473B6441}").unwrap();
        assert_eq!(g.as_str(), "0fa1201d-4330-4fa8-8ae9-b877473b6441");
        assert!(Guid::parse("0fa1201d-4330-4fa8-8ae9-b877473b644").is_none());
        assert!(Guid::parse("0fa1201d-4330-4fa8-8ae9_b877473b6441").is_none());
        assert!(Guid::parse("Windows 10").is_none());
    }

    #[test]
    fn title_falls_back_to_english() {
        let mut u = Update {
            id: Guid::parse("05a7711a-079e-4fbb-8d1a-9015c92a2ae0").unwrap(),
            revision: 200,
            update_type: "Software".into(),
            default_language: Some("en".into()),
            localized: BTreeMap::new(),
            kb: None,
            severity: None,
            creation_date: None,
            languages: vec![],
            categories: vec![],
            publication_state: PublicationState::Published,
            supersedes: vec![],
            bundled: vec![],
            files: vec![],
        };
        u.localized.insert(
            "en".into(),
            Localized {
                title: "English".into(),
                description: None,
            },
        );
        u.localized.insert(
            "de".into(),
            Localized {
                title: "Deutsch".into(),
                description: None,
            },
        );
        assert_eq!(u.title("de"), "Deutsch");
        assert_eq!(u.title("fr"), "English");
        assert!(u.is_language_neutral());
    }

    #[test]
    fn a_kb_number_is_digits_with_or_without_kb_in_any_case() {
        for given in [
            "5034122",
            "KB5034122",
            "kb5034122",
            "Kb5034122",
            " KB5034122 ",
        ] {
            assert_eq!(kb_digits(given).unwrap(), "5034122", "{given}");
        }
        for bad in ["", "KB", "KBkb5034122", "KB-5034122", "english"] {
            assert!(kb_digits(bad).is_err(), "{bad}");
        }
    }
}
