//! `offsync publish`: write from the store what the isolated network runs.

use super::publish_wsus;
use crate::cli::exit::CliResult;
use crate::progress::Progress;

/// Write from the store what the isolated network runs: a WSUS metadata package and
/// content folder (`publish wsus`).
#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    Wsus(publish_wsus::WsusArgs),
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::Wsus(a) => publish_wsus::run(a, progress),
    }
}
