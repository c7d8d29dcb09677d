//! The command line: the top-level clap types, one file per verb under `commands/`, output to
//! stdout, the exit code, error printing, and the terminal progress. Nothing outside this
//! module uses clap or indicatif, prints to stdout, or ends the process.
//!
//! To add a verb: write `commands/<verb>.rs` with its clap `Args` (or `Subcommand` enum, for a
//! verb with sub-verbs; its doc comment is the verb's `--help`) and its `run`, which opens what
//! it needs, calls a library operation and renders the result; then list it in `Command` below
//! with a one-line arm in `run`.

// The one layer that talks to the terminal (Cargo.toml denies printing everywhere else).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod commands;
mod exit;
mod interrupt;
mod output;
mod password;
mod progress;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use commands::*;
use exit::{CliError, CliResult};
use std::io::Write;
use std::process::ExitCode;

use progress::TermProgress;

/// offsync: software update points for networks cut off from the internet.
///
/// Synchronise update metadata filtered by products, classifications and languages; take in
/// payload files; and carry them across an air gap as checked bundles.
#[derive(Parser, Debug)]
#[command(name = "offsync", version, after_long_help = exit::exit_codes_help())]
struct Cli {
    /// Show no progress bars and no notes or warnings on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

/// The verbs, in the order `--help` lists them; each one's help is in its own file.
#[derive(Subcommand, Debug)]
enum Command {
    Init(init::Args),
    #[command(subcommand)]
    Criteria(criteria::Cmd),
    #[command(subcommand)]
    Categories(categories::Cmd),
    #[command(subcommand)]
    Upstream(upstream::Cmd),
    Sync(sync::Args),
    #[command(subcommand)]
    Schedule(schedule::Cmd),
    Run(run::Args),
    #[command(subcommand)]
    Content(content::Cmd),
    #[command(subcommand)]
    Catalog(catalog::Cmd),
    #[command(subcommand)]
    Updates(updates::Cmd),
    Status(status::Args),
    Log(log::Args),
    Export(export::Args),
    Verify(verify::Args),
    Sign(sign::Args),
    Import(import::Args),
    #[command(subcommand)]
    Receipt(receipt::Cmd),
    #[command(subcommand)]
    Publish(publish::Cmd),
    #[command(subcommand)]
    Chain(chain::Cmd),
    Check(check::Args),
    #[command(subcommand)]
    Key(key::Cmd),
    #[command(subcommand)]
    Trust(trust::Cmd),
    Demo(demo::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, json_requested(&m))));
    let (cli, json) = match parsed {
        Ok(p) => p,
        Err(e) => return command_line_error(e),
    };
    let progress = TermProgress::new(cli.quiet);
    match run(cli.command, &progress) {
        // A reader that closed stdout (`offsync updates list | head`) has what it wanted.
        Ok(()) | Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(CliError::Failed(e)) => {
            if json {
                // A closed stdout leaves the text on stderr, which is still written.
                let _ = output::out_json(&output::error_json(&e));
            }
            print_error(&e);
            ExitCode::from(e.kind.exit_code())
        }
        Err(CliError::Reported(e)) => {
            print_error(&e);
            ExitCode::from(e.kind.exit_code())
        }
    }
}

/// A command line clap refused (or `--help`, `--version`, which clap reports the same way):
/// its text as clap prints it, and with `--json` among the arguments the error object too, so
/// that a script reading JSON sees a mistyped option as it sees any other failure.
fn command_line_error(e: clap::Error) -> ExitCode {
    let code = e.exit_code();
    if code != 0 && std::env::args_os().any(|a| a == "--json") {
        let text = e.render().to_string();
        let first = text.lines().next().unwrap_or_default();
        let message = first.strip_prefix("error: ").unwrap_or(first);
        let _ = output::out_json(&output::error_json(&crate::Error::usage(message)));
    }
    let _ = e.print();
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}

/// Whether the verb given (at any depth of sub-verbs) has `--json` set. Every verb names
/// that flag `json`, so the error path needs no list of which verbs take it.
fn json_requested(matches: &clap::ArgMatches) -> bool {
    let mut m = matches;
    loop {
        if let Ok(Some(true)) = m.try_get_one::<bool>("json") {
            return true;
        }
        match m.subcommand() {
            Some((_, sub)) => m = sub,
            None => return false,
        }
    }
}

/// Prints a failure on stderr. Its message and hint quote values from outside (a manifest's
/// store name, a path from the media), so they are escaped here, the one place every error
/// is printed.
fn print_error(e: &crate::Error) {
    let mut text = format!("error: {}\n", output::esc(&e.message));
    for d in &e.details {
        text.push_str(&format!("  {}\n", output::esc(d)));
    }
    if let Some(h) = &e.hint {
        text.push_str(&format!("  hint: {}\n", output::esc(h)));
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `offsync demo` with the time and the progress given, for a caller outside the command
/// line (the fuzzing corpus generator runs it with a fixed clock).
pub fn demo(
    dir: Option<&std::path::Path>,
    fixtures: &std::path::Path,
    clock: &dyn Fn() -> crate::time::Timestamp,
    progress: &dyn crate::progress::Progress,
) -> crate::Result<()> {
    match demo::demo(dir, Some(fixtures), clock, progress) {
        Ok(()) | Err(CliError::BrokenPipe) => Ok(()),
        Err(CliError::Failed(e) | CliError::Reported(e)) => Err(e),
    }
}

fn run(command: Command, progress: &TermProgress) -> CliResult {
    match command {
        Command::Init(a) => init::run(a, progress),
        Command::Criteria(c) => criteria::run(c, progress),
        Command::Categories(c) => categories::run(c),
        Command::Upstream(c) => upstream::run(c, progress),
        Command::Sync(a) => sync::run(a, progress),
        Command::Schedule(c) => schedule::run(c, progress),
        Command::Run(a) => run::run(a, progress),
        Command::Content(c) => content::run(c, progress),
        Command::Catalog(c) => catalog::run(c, progress),
        Command::Updates(c) => updates::run(c, progress),
        Command::Status(a) => status::run(a),
        Command::Log(a) => log::run(a),
        Command::Export(a) => export::run(a, progress),
        Command::Verify(a) => verify::run(a, progress),
        Command::Sign(a) => sign::run(a, progress),
        Command::Import(a) => import::run(a, progress),
        Command::Receipt(c) => receipt::run(c, progress),
        Command::Publish(c) => publish::run(c, progress),
        Command::Chain(c) => chain::run(c, progress),
        Command::Check(a) => check::run(a, progress),
        Command::Key(c) => key::run(c),
        Command::Trust(c) => trust::run(c, progress),
        Command::Demo(a) => demo::run(a, progress),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every verb, every option and every argument says what it is for in `--help`.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() && cmd.get_long_about().is_none() {
                missing.push(format!("{path} (the command)"));
            }
            for a in cmd.get_arguments() {
                let builtin = matches!(a.get_id().as_str(), "help" | "version");
                if !builtin && a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {}", a.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() != "help" {
                    walk(sub, &path, missing);
                }
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }
}
