//! `offsync catalog import`.

use crate::cli::args::StoreArg;
use crate::cli::commands::updates::kb_label;
use crate::cli::exit::CliResult;
use crate::cli::output::{bytes, esc, out_json, say};
use crate::ops::catalog::{CatalogImport, catalog_import};
use crate::progress::Progress;
use crate::store::Store;
use clap::Subcommand;
use std::path::PathBuf;

/// Single updates from the catalog, outside the criteria.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Import updates the criteria do not select, with their bundled children, the categories
    /// they need and (checked against their digests) their payload files. Later syncs keep
    /// them current and never remove them for not matching the criteria.
    Import {
        #[command(flatten)]
        store: StoreArg,
        /// An update: its upd:Update document file, its UpdateID (a GUID) or its KB number
        /// (KBnnnnnnn), looked up in the source.
        #[arg(value_name = "ITEM", required = true)]
        items: Vec<String>,
        /// Where to look up UpdateIDs, KB numbers, bundled children and categories: a folder
        /// of upd:Update documents, an offline catalog or WSUS export package (.cab), or an
        /// offsync store. Default: the upstream set with `offsync upstream set`.
        #[arg(long, value_name = "SOURCE")]
        from: Option<PathBuf>,
        /// A payload file of the imported updates (repeatable). Each must match a file of the
        /// updates by SHA-1, SHA-256 and size, or nothing is imported.
        #[arg(long = "file", value_name = "PAYLOAD")]
        files: Vec<PathBuf>,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    let Cmd::Import {
        store,
        items,
        from,
        files,
        json,
    } = c;
    let mut store = Store::open(&store.store)?;
    let req = CatalogImport {
        items: &items,
        from: from.as_deref(),
        files: &files,
    };
    let r = catalog_import(&mut store, &req, crate::cli::args::now(), progress)?;
    store.report_log_failure(progress);
    if json {
        return out_json(&r);
    }
    for w in &r.warnings {
        progress.note(&format!("warning: {w}"));
    }
    for u in &r.updates {
        say(format!(
            "{:<9} {}  {:>5}  {:<11} {}{}",
            u.change,
            u.update_id,
            u.revision,
            kb_label(u.kb.as_deref()),
            esc(&u.title),
            if u.requested { "" } else { " (bundled)" }
        ))?;
    }
    for f in &r.files {
        say(format!(
            "file      {}  ->  {} ({}){}",
            esc(&f.path),
            esc(&f.name),
            bytes(f.size),
            if f.added { "" } else { ", already present" }
        ))?;
    }
    let new = r.updates.iter().filter(|u| u.change == "new").count();
    say(format!(
        "imported {} update(s) from the catalog ({new} new), {} categor{} changed, {} payload file(s)",
        r.updates.len(),
        r.categories,
        if r.categories == 1 { "y" } else { "ies" },
        r.files.len()
    ))
}
