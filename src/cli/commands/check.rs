//! `offsync check`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{bytes, esc, report_json, say};
use crate::progress::Progress;
use crate::store::Store;
use crate::{Error, ErrorKind};

/// Check the store: database integrity, folder layout, every recorded content file present
/// with its size (and with --read-data, its digests). Exit 5 when damaged.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Read every content file and compare its SHA-256 and SHA-1.
    #[arg(long)]
    read_data: bool,
    /// Print the result as JSON (fields: see the README).
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    let store = Store::open_readonly(&a.store.store)?;
    let r = store.check(a.read_data, progress)?;
    let failure = (!r.ok).then(|| {
        Error::new(
            ErrorKind::StoreDamaged,
            format!("the store has {} problem(s)", r.problems.len()),
        )
    });
    if a.json {
        return report_json(&r, failure);
    }
    for p in &r.problems {
        say(format!(
            "DAMAGED {} {}: {}",
            p.area,
            esc(&p.subject),
            esc(&p.message)
        ))?;
        for u in &p.used_by {
            say(format!(
                "  file {} of {}{} ({})",
                esc(&u.name),
                u.kb.as_ref()
                    .map(|k| format!("KB{} ", esc(k)))
                    .unwrap_or_default(),
                esc(&u.title),
                u.update_id
            ))?;
        }
    }
    for f in &r.unrecorded_files {
        say(format!(
            "note: {} is in the content folder but not recorded (harmless)",
            esc(f)
        ))?;
    }
    if r.problems.iter().any(|p| !p.used_by.is_empty()) {
        say(format!(
            "repair: `offsync content import --store {0} DIR` with good copies of these files, or `offsync import --store {0} --repair BUNDLE` with a bundle that carried them",
            a.store.store.display()
        ))?;
    }
    say(format!(
        "checked {} updates and {} content files{}",
        r.updates,
        r.content_files,
        if a.read_data {
            format!(" ({} read)", bytes(r.bytes_read))
        } else {
            " (sizes only; --read-data compares digests)".into()
        }
    ))?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    say("OK: the store is sound")
}
