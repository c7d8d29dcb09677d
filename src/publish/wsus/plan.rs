//! Which records a publish writes, in which order, and what it leaves out.
//!
//! Order (Microsoft's exporter's): categories (companies, product families, products,
//! classifications: each parent before its children), detectoids, then updates, each update
//! after its bundled children and the plain prerequisites the store holds. Every category,
//! detectoid and bundled child a published update needs is included when the store has its
//! document; what is needed and not there is listed.

use super::content::ContentJob;
use super::package::file_element;
use super::record::{plain_prerequisites, record_text};
use crate::error::Result;
use crate::model::CategoryKind;
use crate::store::{CategoryRow, PublishCandidate, Store};
use base64::Engine;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// An UpdateID held inline (16 bytes, no allocation of its own): the plan keeps one per
/// record of a publish of any size, and small allocations that live as long as the plan,
/// made between the large short-lived ones of reading documents, would fragment the heap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Key([u8; 16]);

impl Key {
    /// The key of a canonical (lowercase) GUID string; None for anything else.
    pub fn of(id: &str) -> Option<Key> {
        let g = crate::model::Guid::parse(id)?;
        let hex: String = g.as_str().chars().filter(|c| *c != '-').collect();
        crate::model::parse_hex::<16>(&hex).map(Key)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::model::guid_text(&self.0))
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A record to write: what it holds is read again from the store when it is written.
#[derive(Clone, Copy, Debug)]
pub struct Planned {
    pub id: Key,
    pub revision: u32,
    pub kind: &'static str,
}

/// What a record's `<Update>` element and the top-level `Files` need of an update.
pub struct UpdateParts {
    /// Base64 SHA-1 of each file, for the record's `<Update><Files>`.
    pub digests: Vec<String>,
    /// (SHA-1, top-level `<File>` element).
    pub files: Vec<([u8; 20], String)>,
    pub categories: Vec<String>,
    pub classifications: Vec<String>,
}

/// A selected update that is not in the package.
#[derive(Clone, Debug, Serialize)]
pub struct LeftOut {
    pub id: String,
    pub revision: u32,
    pub title: String,
    pub reason: String,
}

/// A record a published update needs that the package cannot hold.
#[derive(Clone, Debug, Serialize)]
pub struct MissingDocument {
    pub id: String,
    /// `category`, `prerequisite` or `bundled update`.
    pub kind: String,
    /// The update that needs it.
    pub needed_by: Option<String>,
    pub reason: String,
}

/// How many entries of a list the report names (all are counted): a store synced from
/// wsusscn2.cab leaves out every update, and a report naming 100,000 of them helps nobody.
pub const MAX_NAMED: usize = 100;

/// A list the report names the first [`MAX_NAMED`] entries of, counting all, with a count
/// per reason.
#[derive(Clone, Debug)]
pub struct Named<T> {
    pub named: Vec<T>,
    pub count: u64,
    pub reasons: BTreeMap<String, u64>,
}

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named {
            named: Vec::new(),
            count: 0,
            reasons: BTreeMap::new(),
        }
    }
}

/// Where reasons beyond the first [`MAX_NAMED`] distinct ones are counted.
const OTHER_REASONS: &str = "(other reasons)";

impl<T> Named<T> {
    /// Counts an entry for `reason`, and keeps it (made by `item`) while fewer than
    /// [`MAX_NAMED`] are kept.
    pub fn add(&mut self, reason: &str, item: impl FnOnce() -> T) {
        self.count += 1;
        let key = if self.reasons.len() < MAX_NAMED || self.reasons.contains_key(reason) {
            reason
        } else {
            OTHER_REASONS
        };
        *self.reasons.entry(key.to_string()).or_default() += 1;
        if self.named.len() < MAX_NAMED {
            self.named.push(item());
        }
    }
}

pub struct Plan {
    pub records: Vec<Planned>,
    pub left_out: Named<LeftOut>,
    pub missing: Named<MissingDocument>,
    /// The updates whose content is laid out: every selected update, and every bundled
    /// child and prerequisite they need that the store holds (declined ones too).
    pub content: Vec<Key>,
    /// Category id -> whether it is a classification.
    pub classifications: HashMap<String, bool>,
}

/// The reason given for an update synced from the offline catalog.
pub const NO_DOCUMENT: &str = "the store has no upstream document of this revision (updates synced from wsusscn2.cab have none: the catalog holds a transformed, partial form); its content is still laid out";

struct Planner<'a> {
    store: &'a Store,
    cats: HashMap<String, CategoryRow>,
    visited: HashSet<Key>,
    detectoids: Vec<Planned>,
    updates: Vec<Planned>,
    needed_cats: BTreeSet<String>,
    missing: Named<MissingDocument>,
    /// The ids counted in `missing` (each once).
    missing_ids: HashSet<String>,
    left_out: Named<LeftOut>,
    content: Vec<Key>,
}

/// Plans a publish of every selected update, or with `since` of those changed after it.
pub fn plan(store: &Store, since: Option<u64>) -> Result<Plan> {
    let cats: HashMap<String, CategoryRow> = store
        .categories(None)?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut p = Planner {
        store,
        cats,
        visited: HashSet::new(),
        detectoids: Vec::new(),
        updates: Vec::new(),
        needed_cats: BTreeSet::new(),
        missing: Named::default(),
        missing_ids: HashSet::new(),
        left_out: Named::default(),
        content: Vec::new(),
    };
    for c in store.publish_candidates(since)? {
        p.visit(&c.id, None)?;
    }
    let mut records = p.categories(since)?;
    records.append(&mut p.detectoids);
    records.append(&mut p.updates);
    let classifications = p
        .cats
        .iter()
        .map(|(id, c)| (id.clone(), c.kind == CategoryKind::Classification.as_str()))
        .collect();
    Ok(Plan {
        records,
        left_out: p.left_out,
        missing: Named {
            named: {
                let mut m = p.missing.named;
                m.sort_by(|a, b| a.id.cmp(&b.id));
                m
            },
            ..p.missing
        },
        content: p.content,
        classifications,
    })
}

/// The payload files of update `id` that have a SHA-1 (WSUS names files by it).
pub fn content_jobs(store: &Store, id: &str) -> Result<Vec<ContentJob>> {
    let Some((u, _, _)) = store.load_update(id)? else {
        return Ok(Vec::new());
    };
    Ok(u.files
        .iter()
        .filter_map(|f| {
            Some(ContentJob {
                update_id: id.to_string(),
                name: f.name.clone(),
                sha1: f.sha1?,
                sha256: f.sha256,
            })
        })
        .collect())
}

impl Planner<'_> {
    fn miss(&mut self, id: &str, kind: &str, needed_by: Option<&str>, reason: &str) {
        if self.missing_ids.insert(id.to_string()) {
            self.missing.add(reason, || MissingDocument {
                id: id.to_string(),
                kind: kind.to_string(),
                needed_by: needed_by.map(str::to_string),
                reason: reason.to_string(),
            });
        }
    }

    fn leave_out(&mut self, id: &str, row: &PublishCandidate, reason: String) {
        self.left_out.add(&reason.clone(), || LeftOut {
            id: id.to_string(),
            revision: row.revision,
            title: row.title.clone(),
            reason,
        });
    }

    /// Plans update `id` (a selected one when `needed_by` is None) after what it needs.
    fn visit(&mut self, id: &str, needed_by: Option<&str>) -> Result<()> {
        let Some(key) = Key::of(id) else {
            self.miss(id, "update", needed_by, "not a GUID");
            return Ok(());
        };
        if !self.visited.insert(key) {
            return Ok(());
        }
        let kind = if needed_by.is_some() {
            "bundled update or prerequisite"
        } else {
            "update"
        };
        let row = match self.store.publish_candidate(id)? {
            Some(r) if r.state != "removed" => r,
            _ => {
                self.miss(id, kind, needed_by, "the store does not hold it");
                return Ok(());
            }
        };
        let Some((u, _, _)) = self.store.load_update(id)? else {
            return Ok(());
        };
        // Declined bundled children and prerequisites go into the package with the update
        // that needs them, so their payloads are laid out too (and kept by `--prune`).
        self.content.push(key);
        let doc = self.store.document(id, row.revision)?;
        let Some(doc) = doc else {
            match needed_by {
                None => self.leave_out(id, &row, NO_DOCUMENT.into()),
                Some(_) => self.miss(id, kind, needed_by, NO_DOCUMENT),
            }
            return Ok(());
        };
        let prereqs = record_text(&doc).and_then(|t| plain_prerequisites(&t));
        let prereqs = match prereqs {
            Ok(p) => p,
            Err(why) => {
                let reason = format!("its stored document cannot be read: {why}");
                self.leave_out(id, &row, reason);
                return Ok(());
            }
        };
        drop(doc);
        for pre in &prereqs {
            if self.cats.contains_key(pre) {
                self.needed_cats.insert(pre.clone());
            } else if self.store.publish_candidate(pre)?.is_some() {
                self.visit(pre, Some(id))?;
            } else {
                self.miss(pre, "prerequisite", Some(id), "the store does not hold it (a sync keeps the detectoids a selected update needs when its upstream lists them; other prerequisite updates only when the criteria select them)");
            }
        }
        for child in &u.bundled {
            self.visit(child.id.as_str(), Some(id))?;
        }
        self.needed_cats
            .extend(u.categories.iter().map(|c| c.to_string()));
        let detectoid = row.update_type == "Detectoid";
        let planned = Planned {
            id: key,
            revision: row.revision,
            kind: if detectoid { "detectoid" } else { "update" },
        };
        if detectoid {
            self.detectoids.push(planned);
        } else {
            self.updates.push(planned);
        }
        Ok(())
    }

    /// The category records: every category of the store (a full publish) or those changed
    /// since `since`, and every category a published update needs, with their parents.
    fn categories(&mut self, since: Option<u64>) -> Result<Vec<Planned>> {
        let mut want: BTreeSet<String> = match since {
            None => self.cats.keys().cloned().collect(),
            Some(s) => self
                .store
                .categories_changed_since(s)?
                .into_iter()
                .map(|c| c.id.to_string())
                .chain(
                    // A category whose document came after its revision did.
                    self.store
                        .documents_changed_since(s)?
                        .into_iter()
                        .filter(|id| self.cats.contains_key(id)),
                )
                .collect(),
        };
        want.extend(std::mem::take(&mut self.needed_cats));
        let mut queue: Vec<String> = want.iter().cloned().collect();
        while let Some(id) = queue.pop() {
            if let Some(parent) = self.cats.get(&id).and_then(|c| c.parent.clone())
                && want.insert(parent.clone())
            {
                queue.push(parent);
            }
        }
        let rank = |k: &str| match CategoryKind::parse(k) {
            Some(CategoryKind::Company) => 0,
            Some(CategoryKind::ProductFamily) => 1,
            Some(CategoryKind::Product) => 2,
            Some(CategoryKind::Classification) => 3,
            None => 4,
        };
        let mut rows: Vec<CategoryRow> = Vec::new();
        for id in want {
            match self.cats.get(id.as_str()) {
                None => self.miss(
                    &id,
                    "category",
                    None,
                    "no category document defines it (not in the store)",
                ),
                Some(c) if !self.store.has_document(&c.id, c.revision)? => self.miss(
                    &id,
                    "category",
                    None,
                    "the store has no upstream document of this revision",
                ),
                Some(c) => rows.push(c.clone()),
            }
        }
        rows.sort_by(|a, b| (rank(&a.kind), &a.id).cmp(&(rank(&b.kind), &b.id)));
        Ok(parents_first(rows)
            .into_iter()
            .filter_map(|c| {
                Some(Planned {
                    id: Key::of(&c.id)?,
                    revision: c.revision,
                    kind: "category",
                })
            })
            .collect())
    }
}

/// `rows` (in kind order) with each category moved after its parent where the kinds alone
/// would not: a product under a product, a family under a family. The store's hierarchy is
/// checked to be finite and acyclic when it is written.
fn parents_first(rows: Vec<CategoryRow>) -> Vec<CategoryRow> {
    let at: HashMap<String, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.clone(), i))
        .collect();
    let mut done = vec![false; rows.len()];
    let mut order = Vec::with_capacity(rows.len());
    for i in 0..rows.len() {
        // The chain of ancestors among the rows not written yet, then this one.
        let mut chain = Vec::new();
        let mut j = Some(i);
        while let Some(k) = j.filter(|k| !done[*k] && !chain.contains(k)) {
            chain.push(k);
            j = rows[k].parent.as_ref().and_then(|p| at.get(p)).copied();
        }
        for k in chain.into_iter().rev() {
            done[k] = true;
            order.push(k);
        }
    }
    let mut slots: Vec<Option<CategoryRow>> = rows.into_iter().map(Some).collect();
    order.into_iter().filter_map(|k| slots[k].take()).collect()
}

/// The `<Update>` parts of update `u`: its files (with a SHA-1: WSUS names files by it), its
/// products and other non-classification categories, and its classifications, as
/// `classifications` (category id -> is a classification) knows them. Detectoids have none.
pub fn update_parts(
    u: &crate::model::Update,
    detectoid: bool,
    classifications: &HashMap<String, bool>,
) -> UpdateParts {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut p = UpdateParts {
        digests: Vec::new(),
        files: Vec::new(),
        categories: Vec::new(),
        classifications: Vec::new(),
    };
    for f in &u.files {
        let Some(sha1) = f.sha1 else { continue };
        let d = b64.encode(sha1);
        p.files
            .push((sha1, file_element(&d, f.url.as_deref(), &f.name)));
        if !detectoid {
            p.digests.push(d);
        }
    }
    if detectoid {
        return p;
    }
    for c in &u.categories {
        match classifications.get(c.as_str()) {
            Some(true) => p.classifications.push(c.to_string()),
            Some(false) => p.categories.push(c.to_string()),
            None => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, kind: &str, parent: Option<&str>) -> CategoryRow {
        CategoryRow {
            id: id.into(),
            revision: 1,
            kind: kind.into(),
            title: id.into(),
            parent: parent.map(str::to_string),
        }
    }

    #[test]
    fn a_nested_product_comes_after_its_parent() {
        let rows = vec![
            row("a", "Company", None),
            row("b-child", "Product", Some("c-parent")),
            row("c-parent", "Product", Some("a")),
            row("d", "UpdateClassification", None),
        ];
        let ids: Vec<String> = parents_first(rows).into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["a", "c-parent", "b-child", "d"]);
    }
}
