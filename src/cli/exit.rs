//! How a command ends, as a value that `main` turns into the exit code (no verb ends the
//! process itself), and the exit-code table `--help` shows, built from `ErrorKind`.

use crate::error::{Error, exit_code_table};

/// Why a command did not run to its end.
#[derive(Debug)]
pub enum CliError {
    /// Stdout was closed by its reader: success, with nothing more to write.
    BrokenPipe,
    /// A failure: printed on stderr, its kind decides the exit code. With `--json`, also
    /// printed on stdout as a JSON object.
    Failed(Error),
    /// A failure the command already wrote into its JSON report on stdout: printed on stderr
    /// only, so that stdout holds one JSON object.
    Reported(Error),
}

pub type CliResult = Result<(), CliError>;

impl From<Error> for CliError {
    fn from(e: Error) -> CliError {
        CliError::Failed(e)
    }
}

/// The exit-code table of `--help`, the same rows as the README's.
pub fn exit_codes_help() -> String {
    let rows: Vec<String> = exit_code_table()
        .into_iter()
        .map(|(code, meaning)| format!("{code:>4}  {meaning}"))
        .collect();
    format!("Exit codes:\n{}", rows.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, SUCCESS_MEANING};

    #[test]
    fn every_kind_is_listed_once_in_exit_code_order() {
        // The kinds come from one table (error.rs); what can still go wrong is its order,
        // a repeated code, or a repeated JSON name.
        let mut names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            ErrorKind::ALL.len(),
            "a JSON name is used twice"
        );
        let codes: Vec<u8> = exit_code_table().iter().map(|r| r.0).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "in exit-code order, without repeats");
        assert_eq!(codes[0], 0);
    }

    #[test]
    fn help_lists_every_exit_code() {
        let help = exit_codes_help();
        assert!(help.starts_with("Exit codes:\n   0  done"));
        assert!(help.contains(SUCCESS_MEANING));
        for k in ErrorKind::ALL {
            let row = format!("{:>4}  {}", k.exit_code(), k.meaning());
            assert!(
                help.lines().any(|l| l == row),
                "{row:?} missing from --help"
            );
        }
    }

    #[test]
    fn readme_exit_code_table_matches_error_kind() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n## Exit codes\n")
            .nth(1)
            .expect("README has an '## Exit codes' section");
        let rows: Vec<(u8, String)> = section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2) // the header and its |---| line
            .map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                assert_eq!(cells.len(), 2, "README exit-code row {l:?}");
                (
                    cells[0].parse().expect("an exit code"),
                    cells[1].to_string(),
                )
            })
            .collect();
        let expected: Vec<(u8, String)> = exit_code_table()
            .into_iter()
            .map(|(c, m)| (c, m.to_string()))
            .collect();
        assert_eq!(rows, expected);
    }
}
