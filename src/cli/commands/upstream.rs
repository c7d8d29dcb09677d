//! `offsync upstream set` and `offsync upstream show`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, say};
use crate::ops::upstream::{set_mode, set_upstream};
use crate::progress::Progress;
use crate::store::{DecisionReport, Store, UpstreamMode};
use crate::time::Timestamp;
use clap::{Subcommand, ValueEnum};
use std::path::PathBuf;

/// The default upstream of `offsync sync`.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Set the upstream: a folder of upd:Update documents, wsusscn2.cab, or a parent store.
    Set {
        #[command(flatten)]
        store: StoreArg,
        /// The folder of documents, the path of a `.cab` catalog, or the parent store's folder.
        #[arg(value_name = "SOURCE")]
        source: PathBuf,
    },
    /// Show the upstream.
    Show {
        #[command(flatten)]
        store: StoreArg,
    },
    /// How this store treats its upstream's declines and undeclines (a parent store's, or
    /// those an imported bundle carries): `replica` applies them; `autonomous` (the default)
    /// keeps this store's own decisions and reports where the upstream decided otherwise.
    Mode {
        #[command(flatten)]
        store: StoreArg,
        /// How this store treats its upstream's declines and undeclines; without it, the
        /// current mode is shown.
        mode: Option<ModeArg>,
    },
}

/// The modes of `upstream mode`, as the command line names them.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    /// Apply the upstream's declines and undeclines.
    Replica,
    /// Keep this store's own decisions and report the upstream's (the default).
    Autonomous,
}

impl From<ModeArg> for UpstreamMode {
    fn from(m: ModeArg) -> UpstreamMode {
        match m {
            ModeArg::Replica => UpstreamMode::Replica,
            ModeArg::Autonomous => UpstreamMode::Autonomous,
        }
    }
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::Set { store, source } => {
            let mut store = Store::open(&store.store)?;
            let described = set_upstream(&mut store, &source, Timestamp::now())?;
            store.report_log_failure(progress);
            say(format!("upstream: {}", esc(&described)))
        }
        Cmd::Show { store } => {
            let store = Store::open_readonly(&store.store)?;
            match store.setting("upstream")? {
                Some(u) => say(esc(&u))?,
                None => say("no upstream set (use `offsync upstream set SOURCE`)")?,
            }
            say(format!("mode: {}", store.upstream_mode()?.as_str()))
        }
        Cmd::Mode { store, mode } => {
            let mut store = Store::open(&store.store)?;
            if let Some(m) = mode {
                set_mode(&mut store, m.into(), Timestamp::now())?;
                store.report_log_failure(progress);
            }
            say(format!("mode: {}", store.upstream_mode()?.as_str()))
        }
    }
}

/// Prints what a sync or an import did with the upstream's decisions.
pub(crate) fn say_decisions(d: &DecisionReport) -> CliResult {
    let word = |declined: bool| if declined { "declined" } else { "undeclined" };
    for x in &d.applied {
        say(format!(
            "  upstream {} {} {} (applied: this store is a replica)",
            word(x.declined),
            x.kb.as_deref()
                .map(|k| format!("KB{}", esc(k)))
                .unwrap_or_else(|| x.update_id.clone()),
            esc(&x.title)
        ))?;
    }
    for x in &d.kept_local {
        say(format!(
            "  upstream {} {} {} (not applied: this store is autonomous; `offsync updates {}` to follow it)",
            word(x.declined),
            x.kb.as_deref()
                .map(|k| format!("KB{}", esc(k)))
                .unwrap_or_else(|| x.update_id.clone()),
            esc(&x.title),
            if x.declined { "decline" } else { "undecline" }
        ))?;
    }
    Ok(())
}
