use super::say;
use crate::Result;
use crate::cli::out_json;
use crate::model::CategoryKind;
use crate::store::{Store, UpdateFilter};
use crate::time::Timestamp;
use std::path::Path;

pub struct ListQuery<'a> {
    pub product: Option<&'a str>,
    pub classification: Option<&'a str>,
    pub kb: Option<&'a str>,
    pub state: Option<&'a str>,
    pub superseded: Option<bool>,
}

pub fn list(dir: &Path, q: &ListQuery<'_>, json: bool) -> Result<()> {
    let store = Store::open_readonly(dir)?;
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
        f.kb = Some(
            kb.trim()
                .trim_start_matches("KB")
                .trim_start_matches("kb")
                .to_string(),
        );
    }
    let rows = store.list_updates(&f)?;
    if json {
        return out_json(&rows);
    }
    for r in &rows {
        let kb =
            r.kb.as_deref()
                .map(|k| format!("KB{k}"))
                .unwrap_or_else(|| "-".into());
        let state = if r.superseded {
            format!("{} (superseded)", r.state)
        } else {
            r.state.clone()
        };
        say(format!(
            "{}  {:>5}  {:<11} {:<24} {}",
            r.update_id, r.revision, kb, state, r.title
        ));
    }
    say(format!("{} update(s)", rows.len()));
    Ok(())
}

pub fn show(dir: &Path, spec: &str, json: bool) -> Result<()> {
    let store = Store::open_readonly(dir)?;
    let id = store.find_update(spec)?;
    let d = store.update_detail(&id)?;
    if json {
        return out_json(&d);
    }
    let s = &d.summary;
    say(&s.title);
    say(format!(
        "  UpdateID       {} revision {}",
        s.update_id, s.revision
    ));
    say(format!(
        "  KB             {}",
        s.kb.as_deref()
            .map(|k| format!("KB{k}"))
            .unwrap_or_else(|| "-".into())
    ));
    say(format!("  type           {}", s.update_type));
    say(format!(
        "  state          {}{}",
        s.state,
        if s.superseded { ", superseded" } else { "" }
    ));
    say(format!(
        "  severity       {}",
        d.severity.as_deref().unwrap_or("-")
    ));
    say(format!(
        "  created        {}",
        d.creation_date.as_deref().unwrap_or("-")
    ));
    say(format!(
        "  classification {}",
        s.classification.as_deref().unwrap_or("-")
    ));
    say(format!(
        "  products       {}",
        if s.products.is_empty() {
            "-".into()
        } else {
            s.products.join(", ")
        }
    ));
    say(format!(
        "  languages      {}",
        if d.languages.is_empty() {
            "neutral".into()
        } else {
            d.languages.join(", ")
        }
    ));
    if let Some(desc) = &d.description {
        say(format!("  description    {desc}"));
    }
    let rel = |label: &str, v: &[crate::store::RelatedUpdate]| {
        for r in v {
            say(format!(
                "  {label:<14} {} {}",
                r.update_id,
                r.title.as_deref().unwrap_or("(not in this store)")
            ));
        }
    };
    rel("supersedes", &d.supersedes);
    rel("superseded by", &d.superseded_by);
    rel("bundles", &d.bundled);
    rel("bundled by", &d.bundled_by);
    for f in &d.files {
        say(format!(
            "  file           {} ({} bytes) {}",
            f.name,
            f.size.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
            if f.present { "present" } else { "missing" }
        ));
    }
    Ok(())
}

pub fn decline(dir: &Path, spec: &str, declined: bool, now: Timestamp) -> Result<()> {
    let mut store = Store::open(dir)?;
    let id = store.find_update(spec)?;
    let mut tx = store.begin()?;
    let changed = tx.set_declined(&id, declined)?;
    tx.commit()?;
    let word = if declined {
        "declined"
    } else {
        "no longer declined"
    };
    if changed {
        store.log("UPDATES", &format!("update {id} {word}"), now);
        say(format!("{id} {word}"));
    } else {
        say(format!("{id} was already {word}"));
    }
    Ok(())
}
