//! Setting the criteria (what a sync selects) from names given by a person, and showing them
//! with the categories' titles.

use crate::error::{Error, Result};
use crate::model::{CategoryKind, Guid};
use crate::store::Store;
use crate::time::Timestamp;
use serde::Serialize;

/// A change of the criteria: each kind given replaces what was set for that kind, the others
/// stay. Products and classifications are GUIDs or titles (case and spaces do not count).
#[derive(Clone, Debug, Default)]
pub struct CriteriaChange<'a> {
    pub products: &'a [String],
    pub classifications: &'a [String],
    pub languages: &'a [String],
    /// Clear the language criteria: every language.
    pub all_languages: bool,
}

impl CriteriaChange<'_> {
    /// Nothing given at all.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
            && self.classifications.is_empty()
            && self.languages.is_empty()
            && !self.all_languages
    }

    pub fn nothing_to_set() -> Error {
        Error::usage("nothing to set")
            .with_hint("give --product, --classification, --language or --all-languages")
    }
}

/// What a product criterion may name: a product, or everything below a family or a company.
const PRODUCT_KINDS: [CategoryKind; 3] = [
    CategoryKind::Product,
    CategoryKind::ProductFamily,
    CategoryKind::Company,
];

/// Resolves the names, checks the language codes, and records the change in one transaction.
pub fn set_criteria(store: &mut Store, change: &CriteriaChange<'_>, now: Timestamp) -> Result<()> {
    let c = change;
    if c.is_empty() {
        return Err(CriteriaChange::nothing_to_set());
    }
    let resolve = |names: &[String], kinds: &[CategoryKind]| {
        names
            .iter()
            .map(|x| store.resolve_category(x, kinds).map(|g| g.to_string()))
            .collect::<Result<Vec<_>>>()
    };
    let products = resolve(c.products, &PRODUCT_KINDS)?;
    let classifications = resolve(c.classifications, &[CategoryKind::Classification])?;
    let known = known_languages(store)?;
    let languages = c
        .languages
        .iter()
        .map(|l| language_code(l, &known))
        .collect::<Result<Vec<_>>>()?;
    let mut tx = store.begin()?;
    if !products.is_empty() {
        tx.set_criteria(crate::store::CriteriaKind::Product, &products)?;
    }
    if !classifications.is_empty() {
        tx.set_criteria(crate::store::CriteriaKind::Classification, &classifications)?;
    }
    if !languages.is_empty() || c.all_languages {
        tx.set_criteria(crate::store::CriteriaKind::Language, &languages)?;
    }
    tx.commit()?;
    let crit = store.criteria()?;
    let ids = |v: &[Guid]| v.iter().map(|g| g.to_string()).collect::<Vec<_>>();
    store.log(
        "CRITERIA",
        &format!(
            "criteria set: products {:?}, classifications {:?}, languages {:?}",
            ids(&crit.products),
            ids(&crit.classifications),
            crit.languages
        ),
        now,
    );
    Ok(())
}

/// The languages the last sync saw upstream; empty before any sync (or when the upstream's
/// updates name none).
fn known_languages(store: &Store) -> Result<Vec<String>> {
    Ok(store
        .setting(crate::store::UPSTREAM_LANGUAGES)?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// A language code as stored: lower case, in the shape of a language tag (two or three
/// letters, then subtags such as `-br` or `-hans`), and one the upstream offers when the store
/// knows what it offers. A language that would select nothing is refused: accepting it would
/// silently drop every update in another language.
fn language_code(given: &str, known: &[String]) -> Result<String> {
    let lang = given.trim().to_ascii_lowercase();
    let mut parts = lang.split('-');
    let primary = parts.next().unwrap_or("");
    let shaped = (2..=3).contains(&primary.len())
        && primary.chars().all(|ch| ch.is_ascii_lowercase())
        && parts
            .all(|p| (1..=8).contains(&p.len()) && p.chars().all(|ch| ch.is_ascii_alphanumeric()));
    let candidates = || {
        if known.is_empty() {
            "language codes such as en, de, fr, pt-br, zh-cn".to_string()
        } else {
            format!("the upstream offers: {}", known.join(", "))
        }
    };
    if !shaped {
        return Err(
            Error::usage(format!("'{}' is not a language code", given.trim()))
                .with_hint(candidates()),
        );
    }
    if !known.is_empty() && !known.contains(&lang) {
        return Err(
            Error::usage(format!("the upstream's updates name no language '{lang}'"))
                .with_hint(candidates()),
        );
    }
    Ok(lang)
}

/// A chosen category with its title, when the store knows it yet.
#[derive(Clone, Debug, Serialize)]
pub struct Named {
    pub id: String,
    pub title: Option<String>,
}

/// The criteria as `criteria show` gives them.
#[derive(Clone, Debug, Serialize)]
pub struct NamedCriteria {
    pub products: Vec<Named>,
    pub classifications: Vec<Named>,
    /// Empty: every language.
    pub languages: Vec<String>,
}

pub fn named_criteria(store: &Store) -> Result<NamedCriteria> {
    let crit = store.criteria()?;
    let cats = store.categories(None)?;
    let name = |g: &Guid| Named {
        id: g.to_string(),
        title: cats
            .iter()
            .find(|c| c.id == g.as_str())
            .map(|c| c.title.clone()),
    };
    Ok(NamedCriteria {
        products: crit.products.iter().map(name).collect(),
        classifications: crit.classifications.iter().map(name).collect(),
        languages: crit.languages,
    })
}
