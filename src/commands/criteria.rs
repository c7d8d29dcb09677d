use super::say;
use crate::cli::out_json;
use crate::model::CategoryKind;
use crate::store::Store;
use crate::time::Timestamp;
use crate::{Error, Result};
use std::path::Path;

pub fn set(
    dir: &Path,
    products: &[String],
    classifications: &[String],
    languages: &[String],
    all_languages: bool,
    now: Timestamp,
) -> Result<()> {
    if products.is_empty() && classifications.is_empty() && languages.is_empty() && !all_languages {
        return Err(Error::usage("nothing to set")
            .with_hint("give --product, --classification, --language or --all-languages"));
    }
    let mut store = Store::open(dir)?;
    let product_kinds = [
        CategoryKind::Product,
        CategoryKind::ProductFamily,
        CategoryKind::Company,
    ];
    let p = products
        .iter()
        .map(|x| {
            store
                .resolve_category(x, &product_kinds)
                .map(|g| g.to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let c = classifications
        .iter()
        .map(|x| {
            store
                .resolve_category(x, &[CategoryKind::Classification])
                .map(|g| g.to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let mut l = Vec::new();
    for lang in languages {
        let lang = lang.trim().to_ascii_lowercase();
        if lang.is_empty()
            || lang.len() > 16
            || !lang
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        {
            return Err(Error::usage(format!(
                "'{lang}' is not a language code (such as en, de, pt-br)"
            )));
        }
        l.push(lang);
    }
    let mut tx = store.begin()?;
    if !p.is_empty() {
        tx.set_criteria("product", &p)?;
    }
    if !c.is_empty() {
        tx.set_criteria("classification", &c)?;
    }
    if !l.is_empty() || all_languages {
        tx.set_criteria("language", &l)?;
    }
    tx.commit()?;
    let crit = store.criteria()?;
    store.log(
        "CRITERIA",
        &format!(
            "criteria set: products {:?}, classifications {:?}, languages {:?}",
            crit.products
                .iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>(),
            crit.classifications
                .iter()
                .map(|g| g.to_string())
                .collect::<Vec<_>>(),
            crit.languages
        ),
        now,
    );
    print(&store, false)?;
    say("the next `offsync sync` applies them");
    Ok(())
}

pub fn show(dir: &Path, json: bool) -> Result<()> {
    let store = Store::open_readonly(dir)?;
    print(&store, json)
}

#[derive(serde::Serialize)]
struct Named {
    id: String,
    title: Option<String>,
}

#[derive(serde::Serialize)]
struct CriteriaOut {
    products: Vec<Named>,
    classifications: Vec<Named>,
    languages: Vec<String>,
}

fn print(store: &Store, json: bool) -> Result<()> {
    let crit = store.criteria()?;
    let cats = store.categories(None)?;
    let name = |g: &crate::model::Guid| Named {
        id: g.to_string(),
        title: cats
            .iter()
            .find(|c| c.id == g.as_str())
            .map(|c| c.title.clone()),
    };
    let o = CriteriaOut {
        products: crit.products.iter().map(name).collect(),
        classifications: crit.classifications.iter().map(name).collect(),
        languages: crit.languages.clone(),
    };
    if json {
        return out_json(&o);
    }
    let show = |v: &[Named]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.iter()
                .map(|n| format!("{} ({})", n.title.as_deref().unwrap_or("unknown yet"), n.id))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    say(format!("products:        {}", show(&o.products)));
    say(format!("classifications: {}", show(&o.classifications)));
    say(format!(
        "languages:       {}",
        if o.languages.is_empty() {
            "all".to_string()
        } else {
            o.languages.join(", ")
        }
    ));
    Ok(())
}
