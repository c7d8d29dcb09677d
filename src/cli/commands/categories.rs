//! `offsync categories list`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out_json, say};
use crate::model::CategoryKind;
use crate::store::Store;
use clap::{Subcommand, ValueEnum};

/// The categories (companies, product families, products, classifications) the store knows.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List the categories.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only categories of this kind.
        #[arg(long)]
        kind: Option<KindArg>,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KindArg {
    Company,
    ProductFamily,
    Product,
    Classification,
}

impl From<KindArg> for CategoryKind {
    fn from(k: KindArg) -> CategoryKind {
        match k {
            KindArg::Company => CategoryKind::Company,
            KindArg::ProductFamily => CategoryKind::ProductFamily,
            KindArg::Product => CategoryKind::Product,
            KindArg::Classification => CategoryKind::Classification,
        }
    }
}

pub fn run(c: Cmd) -> CliResult {
    let Cmd::List { store, kind, json } = c;
    let store = Store::open_readonly(&store.store)?;
    let rows = store.categories(kind.map(CategoryKind::from))?;
    if json {
        return out_json(&rows);
    }
    if rows.is_empty() {
        return say("no categories yet: run `offsync sync` to bring them from the upstream");
    }
    for r in &rows {
        say(format!("{:<15} {}  {}", r.kind, r.id, esc(&r.title)))?;
    }
    Ok(())
}
