//! `offsync criteria set` and `offsync criteria show`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out_json, say};
use crate::ops::criteria::{CriteriaChange, Named, named_criteria, set_criteria};
use crate::progress::Progress;
use crate::store::Store;
use crate::time::Timestamp;
use clap::Subcommand;

/// Choose what to synchronise: products, classifications, languages.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Set the criteria. Kinds given replace what was set for that kind; others stay.
    Set {
        #[command(flatten)]
        store: StoreArg,
        /// A product, product family or company, by GUID or title; case and spaces do not
        /// count, and a near miss gets suggestions (repeat for several).
        #[arg(long = "product", value_name = "X")]
        products: Vec<String>,
        /// An update classification, by GUID or title; case and spaces do not count (repeat for
        /// several).
        #[arg(long = "classification", value_name = "Y")]
        classifications: Vec<String>,
        /// A language code such as en or de (repeat for several).
        #[arg(long = "language", value_name = "L")]
        languages: Vec<String>,
        /// Take every language (clears the language criteria).
        #[arg(long, conflicts_with = "languages")]
        all_languages: bool,
    },
    /// Show the criteria.
    Show {
        #[command(flatten)]
        store: StoreArg,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::Set {
            store,
            products,
            classifications,
            languages,
            all_languages,
        } => {
            let change = CriteriaChange {
                products: &products,
                classifications: &classifications,
                languages: &languages,
                all_languages,
            };
            // "Nothing to set" is refused before the store is opened.
            if change.is_empty() {
                return Err(CriteriaChange::nothing_to_set().into());
            }
            let mut store = Store::open(&store.store)?;
            set_criteria(&mut store, &change, Timestamp::now())?;
            store.report_log_failure(progress);
            print(&store, false)?;
            say("the next `offsync sync` applies them")
        }
        Cmd::Show { store, json } => print(&Store::open_readonly(&store.store)?, json),
    }
}

fn print(store: &Store, json: bool) -> CliResult {
    let o = named_criteria(store)?;
    if json {
        return out_json(&o);
    }
    let show = |v: &[Named]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.iter()
                .map(|n| {
                    let title = esc(n.title.as_deref().unwrap_or("unknown yet"));
                    format!("{title} ({})", n.id)
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    say(format!("products:        {}", show(&o.products)))?;
    say(format!("classifications: {}", show(&o.classifications)))?;
    say(format!(
        "languages:       {}",
        if o.languages.is_empty() {
            "all".to_string()
        } else {
            esc(&o.languages.join(", ")).into_owned()
        }
    ))
}
