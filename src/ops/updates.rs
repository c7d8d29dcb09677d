//! Listing updates by names a person gives, and declining them.

use crate::error::Result;
use crate::model::CategoryKind;
use crate::store::{Store, UpdateFilter, UpdateSummary};
use crate::time::Timestamp;

/// Filters of `updates list`, as given on the command line; all given ones must hold.
#[derive(Clone, Debug, Default)]
pub struct ListQuery<'a> {
    /// A product or product family, by GUID or title (case and spaces do not count).
    pub product: Option<&'a str>,
    /// A classification, by GUID or title (case and spaces do not count).
    pub classification: Option<&'a str>,
    /// A KB number, with or without the `KB`.
    pub kb: Option<&'a str>,
    pub state: Option<&'a str>,
    pub superseded: Option<bool>,
    /// Only updates imported from the catalog (`Some(true)`), or only the others.
    pub catalog: Option<bool>,
}

pub fn list_updates(store: &Store, q: &ListQuery<'_>) -> Result<Vec<UpdateSummary>> {
    let mut f = UpdateFilter {
        state: q.state.map(str::to_string),
        superseded: q.superseded,
        ..Default::default()
    };
    if let Some(p) = q.product {
        f.products.push(
            store.resolve_category(p, &[CategoryKind::Product, CategoryKind::ProductFamily])?,
        );
    }
    if let Some(c) = q.classification {
        f.classifications
            .push(store.resolve_category(c, &[CategoryKind::Classification])?);
    }
    if let Some(kb) = q.kb {
        f.kb = Some(crate::model::kb_digits(kb)?);
    }
    let mut rows = store.list_updates(&f)?;
    if let Some(want) = q.catalog {
        let imported = store.catalog_imports()?;
        rows.retain(|r| imported.contains(&r.update_id) == want);
    }
    Ok(rows)
}

/// What [`set_declined`] did.
#[derive(Clone, Debug)]
pub struct Declined {
    /// The UpdateID `spec` named.
    pub update_id: String,
    /// False when the update was in that state already.
    pub changed: bool,
}

/// Declines (or, with `declined` false, takes back the decline of) the update `spec` names:
/// an UpdateID or KBnnnnnnn.
pub fn set_declined(
    store: &mut Store,
    spec: &str,
    declined: bool,
    now: Timestamp,
) -> Result<Declined> {
    let id = store.find_update(spec)?;
    let mut tx = store.begin()?;
    let changed = tx.set_declined(&id, declined)?;
    tx.commit()?;
    if changed {
        let word = if declined {
            "declined"
        } else {
            "no longer declined"
        };
        store.log("UPDATES", &format!("update {id} {word}"), now);
    }
    Ok(Declined {
        update_id: id,
        changed,
    })
}
