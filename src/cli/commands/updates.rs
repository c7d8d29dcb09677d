//! `offsync updates list|show|decline|undecline`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out_json, say};
use crate::ops::updates::{ListQuery, list_updates, set_declined};
use crate::progress::Progress;
use crate::store::{RelatedUpdate, Store};
use crate::time::Timestamp;
use clap::{Subcommand, ValueEnum};
use std::path::Path;

/// List and show updates; record local decisions.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List updates.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only updates of this product or product family (GUID or title; case and spaces do
        /// not count).
        #[arg(long)]
        product: Option<String>,
        /// Only updates of this classification (GUID or title; case and spaces do not count).
        #[arg(long)]
        classification: Option<String>,
        /// Only updates with this KB number (5034122 or KB5034122).
        #[arg(long)]
        kb: Option<String>,
        /// Only updates in this state.
        #[arg(long)]
        state: Option<StateArg>,
        /// Only updates superseded by another update in the store.
        #[arg(long, conflicts_with = "not_superseded")]
        superseded: bool,
        /// Only updates no update in the store supersedes.
        #[arg(long)]
        not_superseded: bool,
        /// Only updates imported with `offsync catalog import` (catalog), or only the others
        /// (other).
        #[arg(long)]
        source: Option<SourceArg>,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
    /// Show one update by UpdateID or KBnnnnnnn.
    Show {
        #[command(flatten)]
        store: StoreArg,
        /// The update: its UpdateID (a GUID) or its KB number (KBnnnnnnn).
        #[arg(value_name = "UPDATE")]
        update: String,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
    /// Decline an update (a local decision that syncs and imports keep).
    Decline {
        #[command(flatten)]
        store: StoreArg,
        /// The update: its UpdateID (a GUID) or its KB number (KBnnnnnnn).
        #[arg(value_name = "UPDATE")]
        update: String,
    },
    /// Take back a decline.
    Undecline {
        #[command(flatten)]
        store: StoreArg,
        /// The update: its UpdateID (a GUID) or its KB number (KBnnnnnnn).
        #[arg(value_name = "UPDATE")]
        update: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StateArg {
    Published,
    Expired,
    Removed,
    Declined,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SourceArg {
    /// Imported with `offsync catalog import`.
    Catalog,
    /// Synced or imported from a bundle.
    Other,
}

impl StateArg {
    fn as_str(self) -> &'static str {
        match self {
            StateArg::Published => "published",
            StateArg::Expired => "expired",
            StateArg::Removed => "removed",
            StateArg::Declined => "declined",
        }
    }
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::List {
            store,
            product,
            classification,
            kb,
            state,
            superseded,
            not_superseded,
            source,
            json,
        } => {
            let q = ListQuery {
                product: product.as_deref(),
                classification: classification.as_deref(),
                kb: kb.as_deref(),
                state: state.map(StateArg::as_str),
                superseded: (superseded || not_superseded).then_some(superseded),
                catalog: source.map(|s| matches!(s, SourceArg::Catalog)),
            };
            list(&store.store, &q, json)
        }
        Cmd::Show {
            store,
            update,
            json,
        } => show(&store.store, &update, json),
        Cmd::Decline { store, update } => decline(&store.store, &update, true, progress),
        Cmd::Undecline { store, update } => decline(&store.store, &update, false, progress),
    }
}

fn list(dir: &Path, q: &ListQuery<'_>, json: bool) -> CliResult {
    let store = Store::open_readonly(dir)?;
    let rows = list_updates(&store, q)?;
    if json {
        return out_json(&rows);
    }
    for r in &rows {
        let state = if r.superseded {
            format!("{} (superseded)", r.state)
        } else {
            r.state.clone()
        };
        say(format!(
            "{}  {:>5}  {:<11} {:<24} {}",
            r.update_id,
            r.revision,
            kb_label(r.kb.as_deref()),
            state,
            esc(&r.title)
        ))?;
    }
    say(format!("{} update(s)", rows.len()))
}

/// `KBnnnnnnn`, or `-` for an update without a KB number (escaped: it comes from upstream).
pub(super) fn kb_label(kb: Option<&str>) -> String {
    kb.map(|k| format!("KB{}", esc(k)))
        .unwrap_or_else(|| "-".into())
}

fn show(dir: &Path, spec: &str, json: bool) -> CliResult {
    let store = Store::open_readonly(dir)?;
    let id = store.find_update(spec)?;
    let d = store.update_detail(&id)?;
    if json {
        return out_json(&d);
    }
    let s = &d.summary;
    // Every value shown comes from upstream or a bundle: escaped as it is formatted.
    let or_dash = |v: Option<&str>| esc(v.unwrap_or("-")).into_owned();
    let list_or = |v: &[String], none: &str| {
        if v.is_empty() {
            none.to_string()
        } else {
            esc(&v.join(", ")).into_owned()
        }
    };
    say(esc(&s.title))?;
    say(format!(
        "  UpdateID       {} revision {}",
        s.update_id, s.revision
    ))?;
    say(format!("  KB             {}", kb_label(s.kb.as_deref())))?;
    say(format!("  type           {}", esc(&s.update_type)))?;
    say(format!(
        "  state          {}{}",
        s.state,
        if s.superseded { ", superseded" } else { "" }
    ))?;
    say(format!(
        "  severity       {}",
        or_dash(d.severity.as_deref())
    ))?;
    say(format!(
        "  created        {}",
        or_dash(d.creation_date.as_deref())
    ))?;
    say(format!(
        "  classification {}",
        or_dash(s.classification.as_deref())
    ))?;
    say(format!("  products       {}", list_or(&s.products, "-")))?;
    say(format!(
        "  languages      {}",
        list_or(&d.languages, "neutral")
    ))?;
    if let Some(desc) = &d.description {
        say(format!("  description    {}", esc(desc)))?;
    }
    let related = |label: &str, v: &[RelatedUpdate]| -> CliResult {
        for r in v {
            say(format!(
                "  {label:<14} {} {}",
                r.update_id,
                esc(r.title.as_deref().unwrap_or("(not in this store)"))
            ))?;
        }
        Ok(())
    };
    related("supersedes", &d.supersedes)?;
    related("superseded by", &d.superseded_by)?;
    related("bundles", &d.bundled)?;
    related("bundled by", &d.bundled_by)?;
    for f in &d.files {
        say(format!(
            "  file           {} ({} bytes) {}",
            esc(&f.name),
            f.size.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
            if f.present { "present" } else { "missing" }
        ))?;
    }
    Ok(())
}

fn decline(dir: &Path, spec: &str, declined: bool, progress: &dyn Progress) -> CliResult {
    let mut store = Store::open(dir)?;
    let r = set_declined(&mut store, spec, declined, Timestamp::now())?;
    store.report_log_failure(progress);
    let word = if declined {
        "declined"
    } else {
        "no longer declined"
    };
    if r.changed {
        say(format!("{} {word}", r.update_id))
    } else {
        say(format!("{} was already {word}", r.update_id))
    }
}
