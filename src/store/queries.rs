//! Reads: criteria, categories, updates as the commands show them, and status. The JSON
//! shape of these types is part of the command-line contract (see README, "JSON output"):
//! fields may be added, never renamed or removed.

use super::Store;
use super::hierarchy::with_descendants;
use super::write::{StoredState, decode_doc};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Category, CategoryKind, Guid, Update, hex_lower};
use crate::model::{Changes, SyncOutcome};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The kinds of criteria, as the `kind` column of the criteria table spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CriteriaKind {
    Product,
    Classification,
    Language,
}

impl CriteriaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CriteriaKind::Product => "product",
            CriteriaKind::Classification => "classification",
            CriteriaKind::Language => "language",
        }
    }

    pub fn parse(s: &str) -> Option<CriteriaKind> {
        Some(match s {
            "product" => CriteriaKind::Product,
            "classification" => CriteriaKind::Classification,
            "language" => CriteriaKind::Language,
            _ => return None,
        })
    }
}

/// The administrator's choice of what to synchronise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Criteria {
    pub products: Vec<Guid>,
    pub classifications: Vec<Guid>,
    pub languages: Vec<String>,
}

impl Criteria {
    pub fn is_empty(&self) -> bool {
        self.products.is_empty() && self.classifications.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CategoryRow {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub parent: Option<String>,
    pub revision: u32,
}

/// What the store holds of an update, for a sync deciding what changed.
#[derive(Clone, Debug)]
pub struct StoredHeader {
    pub revision: u32,
    pub state: StoredState,
    pub fingerprint: Option<[u8; 32]>,
}

/// A line of `updates list`.
#[derive(Clone, Debug, Serialize)]
pub struct UpdateSummary {
    pub update_id: String,
    pub revision: u32,
    pub title: String,
    /// KB number, digits only.
    pub kb: Option<String>,
    /// Title of the update's classification (the first, if several).
    pub classification: Option<String>,
    /// Titles of the update's products.
    pub products: Vec<String>,
    /// published, expired, removed (upstream), or declined (local decision).
    pub state: String,
    pub superseded: bool,
    pub update_type: String,
    pub changed_seq: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct FileRow {
    pub name: String,
    pub size: Option<u64>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub present: bool,
    /// Download address, where the upstream gives one (the offline catalog does).
    pub url: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RelatedUpdate {
    pub update_id: String,
    pub title: Option<String>,
    pub kb: Option<String>,
}

/// `updates show`.
#[derive(Clone, Debug, Serialize)]
pub struct UpdateDetail {
    #[serde(flatten)]
    pub summary: UpdateSummary,
    pub description: Option<String>,
    pub severity: Option<String>,
    pub creation_date: Option<String>,
    pub languages: Vec<String>,
    pub titles: BTreeMap<String, String>,
    pub categories: Vec<CategoryRefOut>,
    pub supersedes: Vec<RelatedUpdate>,
    pub superseded_by: Vec<RelatedUpdate>,
    pub bundled: Vec<RelatedUpdate>,
    pub bundled_by: Vec<RelatedUpdate>,
    pub files: Vec<FileRow>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CategoryRefOut {
    pub id: String,
    pub kind: Option<String>,
    pub title: Option<String>,
}

/// Filters of `updates list`; all given ones must hold.
#[derive(Clone, Debug, Default)]
pub struct UpdateFilter {
    pub products: Vec<Guid>,
    pub classifications: Vec<Guid>,
    pub kb: Option<String>,
    pub state: Option<String>,
    pub superseded: Option<bool>,
}

/// A sync run as recorded.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncRunRecord {
    pub started: String,
    pub finished: Option<String>,
    pub source: String,
    pub outcome: SyncOutcome,
    /// New, updated, expired, removed and unchanged updates (flattened: the JSON keeps its
    /// field names).
    #[serde(flatten)]
    pub changes: Changes,
    pub categories: u64,
    pub package_id: Option<String>,
    pub package_created: Option<String>,
    pub error: Option<String>,
}

pub type LastSync = SyncRunRecord;

#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreTotals {
    pub categories: u64,
    pub updates: u64,
    pub published: u64,
    pub expired: u64,
    pub removed: u64,
    pub declined: u64,
    pub superseded: u64,
    pub change_seq: u64,
}

impl Store {
    pub fn criteria(&self) -> Result<Criteria> {
        criteria(&self.conn)
    }

    pub fn categories(&self, kind: Option<CategoryKind>) -> Result<Vec<CategoryRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, kind, title, parent, revision FROM categories ORDER BY kind, title, id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(CategoryRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                title: r.get(2)?,
                parent: r.get(3)?,
                revision: r.get(4)?,
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            let row = row?;
            if kind.is_none_or(|k| k.as_str() == row.kind) {
                out.push(row);
            }
        }
        Ok(out)
    }

    /// Resolves a GUID or a category title to a category of one of `kinds`: the exact title
    /// first, else the title ignoring case and spaces. An unknown or ambiguous name is an
    /// error that lists the candidates (near misses for an unknown one).
    pub fn resolve_category(&self, spec: &str, kinds: &[CategoryKind]) -> Result<Guid> {
        let all = self.categories(None)?;
        let wanted = |r: &CategoryRow| kinds.iter().any(|k| k.as_str() == r.kind);
        let kind_names = kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" or ");
        if let Some(g) = Guid::parse(spec) {
            if let Some(row) = all.iter().find(|r| r.id == g.as_str())
                && !wanted(row)
            {
                return Err(Error::usage(format!(
                    "{g} is the {} '{}', not a {kind_names}",
                    row.kind, row.title
                )));
            }
            // A GUID not (yet) known is accepted: criteria may be set before the first sync.
            return Ok(g);
        }
        let mut exact: Vec<&CategoryRow> = all
            .iter()
            .filter(|r| wanted(r) && r.title == spec)
            .collect();
        if exact.is_empty() {
            // A person types "windows 10" or "SecurityUpdates": case and spaces do not count.
            let key = squeeze(spec);
            exact = all
                .iter()
                .filter(|r| wanted(r) && squeeze(&r.title) == key)
                .collect();
        }
        match exact.len() {
            1 => Ok(Guid::parse(&exact[0].id).expect("stored ids are GUIDs")),
            0 => {
                let needle = squeeze(spec);
                let mut near: Vec<String> = all
                    .iter()
                    .filter(|r| wanted(r) && near_miss(&needle, &squeeze(&r.title)))
                    .map(|r| format!("{} ({})", r.title, r.id))
                    .collect();
                near.truncate(20);
                let mut e = Error::usage(format!("no {kind_names} is called '{spec}'"));
                e = if near.is_empty() {
                    if all.is_empty() {
                        e.with_hint("the store knows no categories yet: run `offsync sync` once to bring them")
                    } else {
                        e.with_hint(format!(
                            "see `offsync categories list --kind {}`",
                            kinds[0].as_str()
                        ))
                    }
                } else {
                    e.with_hint(format!("did you mean one of: {}", near.join("; ")))
                };
                Err(e)
            }
            _ => Err(Error::usage(format!(
                "'{spec}' names {} categories: {}",
                exact.len(),
                exact
                    .iter()
                    .map(|r| format!("{} {} ({})", r.kind, r.title, r.id))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
            .with_hint("give the GUID instead")),
        }
    }

    /// The full document of a stored update.
    pub fn load_update(&self, id: &str) -> Result<Option<(Update, StoredState, bool)>> {
        load_update(&self.conn, id)
    }

    pub fn list_updates(&self, f: &UpdateFilter) -> Result<Vec<UpdateSummary>> {
        let cats = category_titles(&self.conn)?;
        let ucats = update_categories(&self.conn)?;
        let superseded = superseded_set(&self.conn)?;
        // A product family filters by its products too, as in the criteria.
        let parents = category_parents(&self.conn)?;
        let expand = |v: &[Guid]| (!v.is_empty()).then(|| with_descendants(v, &parents));
        let (products, classes) = (expand(&f.products), expand(&f.classifications));
        let mut st = self.conn.prepare(
            "SELECT update_id, revision, title, kb, state, declined, update_type, changed_seq FROM updates
             ORDER BY title, update_id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?;
        let empty = Vec::new();
        let mut out = Vec::new();
        for row in rows {
            let (id, revision, title, kb, state, declined, update_type, seq) = row?;
            let my = ucats.get(&id).unwrap_or(&empty);
            let has = |want: &Option<HashSet<String>>| {
                want.as_ref()
                    .is_none_or(|w| my.iter().any(|c| w.contains(c)))
            };
            if !has(&products) || !has(&classes) {
                continue;
            }
            if f.kb
                .as_ref()
                .is_some_and(|want| kb.as_deref() != Some(want.as_str()))
            {
                continue;
            }
            let shown_state = shown_state(StoredState::from_column(&state)?, declined);
            if f.state.as_ref().is_some_and(|s| *s != shown_state) {
                continue;
            }
            let is_sup = superseded.contains(&id);
            if f.superseded.is_some_and(|want| want != is_sup) {
                continue;
            }
            out.push(summary(
                &cats,
                my,
                id,
                revision,
                title,
                kb,
                shown_state,
                is_sup,
                update_type,
                seq,
            ));
        }
        Ok(out)
    }

    /// Finds an update by UpdateID or by `KBnnnnnnn` (the newest-titled match wins when
    /// several updates share a KB; all are listed in the error if ambiguous).
    pub fn find_update(&self, spec: &str) -> Result<String> {
        if let Some(g) = Guid::parse(spec) {
            let found: Option<String> = self
                .conn
                .query_row(
                    "SELECT update_id FROM updates WHERE update_id = ?1",
                    [g.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            return found.ok_or_else(|| {
                Error::usage(format!("no update {g} in this store"))
                    .with_hint("see `offsync updates list`")
            });
        }
        let digits = crate::model::kb_digits(spec).map_err(|_| {
            Error::usage(format!(
                "'{spec}' is neither an UpdateID nor a KB number (KBnnnnnnn)"
            ))
        })?;
        let digits = digits.as_str();
        let mut st = self
            .conn
            .prepare("SELECT update_id, title FROM updates WHERE kb = ?1 ORDER BY update_id")?;
        let rows: Vec<(String, String)> = st
            .query_map([digits], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        match rows.len() {
            0 => Err(
                Error::usage(format!("no update with KB{digits} in this store"))
                    .with_hint("see `offsync updates list`"),
            ),
            1 => Ok(rows[0].0.clone()),
            _ => Err(Error::usage(format!(
                "KB{digits} names {} updates: {}",
                rows.len(),
                rows.iter()
                    .map(|(i, t)| format!("{i} ({t})"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
            .with_hint("give the UpdateID instead")),
        }
    }

    pub fn update_detail(&self, id: &str) -> Result<UpdateDetail> {
        let Some((u, state, declined)) = self.load_update(id)? else {
            return Err(Error::other(format!("no update {id} in this store")));
        };
        let cats = category_titles(&self.conn)?;
        let seq: i64 = self.conn.query_row(
            "SELECT changed_seq FROM updates WHERE update_id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let my: Vec<String> = u
            .categories
            .iter()
            .map(|g| g.as_str().to_string())
            .collect();
        let superseded: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM supersedence s JOIN updates n ON n.update_id = s.update_id
             WHERE s.supersedes = ?1 AND n.state != 'removed')",
            [id],
            |r| r.get(0),
        )?;
        let summary = summary(
            &cats,
            &my,
            u.id.to_string(),
            u.revision,
            u.title("en").to_string(),
            u.kb.clone(),
            shown_state(state, declined),
            superseded,
            u.update_type.clone(),
            seq,
        );
        Ok(UpdateDetail {
            summary,
            description: u.description("en").map(str::to_string),
            severity: u.severity.clone(),
            creation_date: u.creation_date.clone(),
            languages: u.languages.clone(),
            titles: u
                .localized
                .iter()
                .map(|(l, x)| (l.clone(), x.title.clone()))
                .collect(),
            categories: u
                .categories
                .iter()
                .map(|g| {
                    let c = cats.get(g.as_str());
                    CategoryRefOut {
                        id: g.to_string(),
                        kind: c.map(|c| c.0.clone()),
                        title: c.map(|c| c.1.clone()),
                    }
                })
                .collect(),
            supersedes: self.related_updates(u.supersedes.iter())?,
            superseded_by: related(
                &self.conn,
                "SELECT s.update_id, u.title, u.kb FROM supersedence s LEFT JOIN updates u ON u.update_id = s.update_id
                 WHERE s.supersedes = ?1 ORDER BY s.update_id",
                id,
            )?,
            bundled: self.related_updates(u.bundled.iter().map(|b| &b.id))?,
            bundled_by: related(
                &self.conn,
                "SELECT b.parent, u.title, u.kb FROM bundles b LEFT JOIN updates u ON u.update_id = b.parent
                 WHERE b.child = ?1 ORDER BY b.parent",
                id,
            )?,
            files: self.file_rows(&u)?,
        })
    }

    /// The updates named, with their title and KB where the store has them.
    fn related_updates<'g>(
        &self,
        ids: impl Iterator<Item = &'g Guid>,
    ) -> Result<Vec<RelatedUpdate>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT title, kb FROM updates WHERE update_id = ?1")?;
        ids.map(|g| {
            let row: Option<(String, Option<String>)> = st
                .query_row([g.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(RelatedUpdate {
                update_id: g.to_string(),
                title: row.as_ref().map(|r| r.0.clone()),
                kb: row.and_then(|r| r.1),
            })
        })
        .collect()
    }

    /// The files of an update, with whether the store has each.
    fn file_rows(&self, u: &Update) -> Result<Vec<FileRow>> {
        u.files
            .iter()
            .map(|f| {
                Ok(FileRow {
                    name: f.name.clone(),
                    size: f.size,
                    sha1: f.sha1.map(|h| hex_lower(&h)),
                    sha256: f.sha256.map(|h| hex_lower(&h)),
                    present: content_present(&self.conn, f.sha256.as_ref(), f.sha1.as_ref())?,
                    url: f.url.clone(),
                })
            })
            .collect()
    }

    pub fn last_sync(&self) -> Result<Option<LastSync>> {
        Ok(self
            .conn
            .query_row(
                "SELECT started, finished, source, outcome, new, updated, expired, removed, unchanged, categories,
                        package_id, package_created, error
                 FROM sync_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(SyncRunRecord {
                        started: r.get(0)?,
                        finished: r.get(1)?,
                        source: r.get(2)?,
                        outcome: {
                            let o: String = r.get(3)?;
                            SyncOutcome::parse(&o).ok_or_else(|| {
                                rusqlite::Error::FromSqlConversionFailure(
                                    3,
                                    rusqlite::types::Type::Text,
                                    format!("a sync run has the unknown outcome '{o}'").into(),
                                )
                            })?
                        },
                        changes: changes_at(r, 4)?,
                        categories: r.get::<_, i64>(9)? as u64,
                        package_id: r.get(10)?,
                        package_created: r.get(11)?,
                        error: r.get(12)?,
                    })
                },
            )
            .optional()?)
    }

    /// The last successful sync's package facts (for catalog age checks).
    pub fn last_successful_sync(&self) -> Result<Option<(Option<String>, Option<String>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT package_id, package_created FROM sync_runs WHERE outcome = 'succeeded' ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn totals(&self) -> Result<StoreTotals> {
        let c = &self.conn;
        let count =
            |sql: &str| -> Result<u64> { Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
        let seq: String = c.query_row(
            "SELECT value FROM store_info WHERE key = 'change_seq'",
            [],
            |r| r.get(0),
        )?;
        Ok(StoreTotals {
            categories: count("SELECT COUNT(*) FROM categories")?,
            updates: count("SELECT COUNT(*) FROM updates WHERE state != 'removed'")?,
            published: count("SELECT COUNT(*) FROM updates WHERE state = 'published' AND declined = 0")?,
            expired: count("SELECT COUNT(*) FROM updates WHERE state = 'expired' AND declined = 0")?,
            removed: count("SELECT COUNT(*) FROM updates WHERE state = 'removed'")?,
            declined: count("SELECT COUNT(*) FROM updates WHERE declined = 1 AND state != 'removed'")?,
            superseded: count(
                "SELECT COUNT(DISTINCT s.supersedes) FROM supersedence s JOIN updates u ON u.update_id = s.supersedes
                 JOIN updates n ON n.update_id = s.update_id WHERE u.state != 'removed' AND n.state != 'removed'",
            )?,
            change_seq: seq.parse().unwrap_or(0),
        })
    }
}

/// The categories that `clause` (a WHERE condition and an ORDER BY) selects. A value that
/// does not parse means the row was altered.
pub(super) fn categories_where(
    conn: &Connection,
    clause: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Category>> {
    let mut st = conn.prepare(&format!(
        "SELECT id, revision, kind, title, parent FROM categories WHERE {clause}"
    ))?;
    let rows = st.query_map(p, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, revision, kind, title, parent) = row?;
        let bad = || {
            Error::new(
                ErrorKind::StoreDamaged,
                format!("category {id} is malformed in the store"),
            )
        };
        out.push(Category {
            id: Guid::parse(&id).ok_or_else(bad)?,
            revision,
            kind: CategoryKind::parse(&kind).ok_or_else(bad)?,
            title,
            parent: parent.as_deref().and_then(Guid::parse),
        });
    }
    Ok(out)
}

pub(crate) fn criteria(conn: &Connection) -> Result<Criteria> {
    let mut st = conn.prepare("SELECT kind, value FROM criteria ORDER BY kind, value")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut c = Criteria::default();
    for row in rows {
        let (k, v) = row?;
        let kind = CriteriaKind::parse(&k).ok_or_else(|| {
            Error::new(
                ErrorKind::StoreDamaged,
                format!("the criteria table has the unknown kind '{k}'"),
            )
        })?;
        match kind {
            CriteriaKind::Product => c.products.extend(Guid::parse(&v)),
            CriteriaKind::Classification => c.classifications.extend(Guid::parse(&v)),
            CriteriaKind::Language => c.languages.push(v),
        }
    }
    Ok(c)
}

pub(crate) fn load_update(
    conn: &Connection,
    id: &str,
) -> Result<Option<(Update, StoredState, bool)>> {
    let row: Option<(Vec<u8>, String, bool)> = conn
        .prepare_cached("SELECT doc, state, declined FROM updates WHERE update_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match row {
        None => Ok(None),
        Some((doc, state, declined)) => {
            let u = decode_doc(&doc).map_err(|e| e.context(format!("update {id}")))?;
            Ok(Some((u, StoredState::from_column(&state)?, declined)))
        }
    }
}

pub(crate) fn category_parents(conn: &Connection) -> Result<HashMap<String, Option<String>>> {
    let mut st = conn.prepare("SELECT id, parent FROM categories")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// id -> (kind, title)
fn category_titles(conn: &Connection) -> Result<HashMap<String, (String, String)>> {
    let mut st = conn.prepare("SELECT id, kind, title FROM categories")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?))))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn update_categories(conn: &Connection) -> Result<HashMap<String, Vec<String>>> {
    let mut st = conn.prepare(
        "SELECT update_id, category_id FROM update_categories ORDER BY update_id, category_id",
    )?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        let (u, c) = row?;
        out.entry(u).or_default().push(c);
    }
    Ok(out)
}

/// Updates superseded by another update that is still in the store (not a tombstone).
fn superseded_set(conn: &Connection) -> Result<HashSet<String>> {
    let mut st = conn.prepare(
        "SELECT DISTINCT s.supersedes FROM supersedence s JOIN updates n ON n.update_id = s.update_id
         WHERE n.state != 'removed'",
    )?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn related(conn: &Connection, sql: &str, id: &str) -> Result<Vec<RelatedUpdate>> {
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map([id], |r| {
        Ok(RelatedUpdate {
            update_id: r.get(0)?,
            title: r.get(1)?,
            kb: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn content_present(
    conn: &Connection,
    sha256: Option<&[u8; 32]>,
    sha1: Option<&[u8; 20]>,
) -> Result<bool> {
    if let Some(h) = sha256 {
        let n: i64 = conn.query_row(
            "SELECT COUNT(*) FROM content WHERE sha256 = ?1",
            params![h.as_slice()],
            |r| r.get(0),
        )?;
        return Ok(n > 0);
    }
    if let Some(h) = sha1 {
        let n: i64 = conn.query_row(
            "SELECT COUNT(*) FROM content WHERE sha1 = ?1",
            params![h.as_slice()],
            |r| r.get(0),
        )?;
        return Ok(n > 0);
    }
    Ok(false)
}

/// The state `updates` shows: the local decision `declined` hides the upstream state, except
/// for an update upstream removed.
fn shown_state(state: StoredState, declined: bool) -> String {
    if declined && state != StoredState::Removed {
        "declined".to_string()
    } else {
        state.as_str().to_string()
    }
}

#[allow(clippy::too_many_arguments)]
fn summary(
    cats: &HashMap<String, (String, String)>,
    my: &[String],
    update_id: String,
    revision: u32,
    title: String,
    kb: Option<String>,
    state: String,
    superseded: bool,
    update_type: String,
    seq: i64,
) -> UpdateSummary {
    let of_kind = |k: CategoryKind| -> Vec<String> {
        my.iter()
            .filter_map(|c| cats.get(c))
            .filter(|(kind, _)| kind == k.as_str())
            .map(|(_, t)| t.clone())
            .collect()
    };
    UpdateSummary {
        update_id,
        revision,
        title,
        kb,
        classification: of_kind(CategoryKind::Classification).into_iter().next(),
        products: of_kind(CategoryKind::Product),
        state,
        superseded,
        update_type,
        changed_seq: seq as u64,
    }
}
/// The five change counts stored side by side (`new, updated, expired, removed, unchanged`)
/// from column `first` on, as the sync and import histories keep them.
pub(crate) fn changes_at(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Changes> {
    let n = |i: usize| r.get::<_, i64>(first + i).map(|v| v as u64);
    Ok(Changes {
        new: n(0)?,
        updated: n(1)?,
        expired: n(2)?,
        removed: n(3)?,
        unchanged: n(4)?,
    })
}

/// A title as a person may type it: lower case, without white space.
fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `typed` is close to `title` (both squeezed): one contains the other, or they are a
/// few typing mistakes apart (about one in four characters).
fn near_miss(typed: &str, title: &str) -> bool {
    if typed.is_empty() {
        return false;
    }
    if title.contains(typed) || (typed.len() >= 4 && typed.contains(title)) {
        return true;
    }
    let limit = (typed.chars().count().max(title.chars().count()) / 4).max(1);
    edit_distance(typed, title) <= limit
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn near_misses() {
        assert_eq!(squeeze("Windows  10"), "windows10");
        assert!(near_miss("securityupdate", "securityupdates"));
        assert!(near_miss("windwos10", "windows10"));
        assert!(!near_miss("office", "windows10"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
