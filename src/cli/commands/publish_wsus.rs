//! `offsync publish wsus`: the metadata package(s) for `wsusutil import`, the `WsusContent`
//! folder, `README.txt` and `publish.json`.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{bytes, out_json, say};
use crate::progress::Progress;
use crate::publish::wsus::{
    DEFAULT_MAX_PACKAGE_BYTES, MAX_PACKAGE_BYTES, WsusOptions, WsusReport, publish_wsus,
};
use crate::store::Store;
use std::path::PathBuf;

/// Write the selected updates for a WSUS server: metadata package(s) that `wsusutil import`
/// reads, the payload files in the WsusContent layout (hard-linked or copied, each checked
/// against its SHA-1), README.txt with the steps on the server, and publish.json.
#[derive(clap::Args, Debug)]
pub struct WsusArgs {
    #[command(flatten)]
    store: StoreArg,
    /// The folder to write into (created when missing; later publishes to it add only what
    /// changed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Only what changed since the previous publish to DIR (the default when there was one).
    #[arg(long, conflicts_with = "full")]
    since_last: bool,
    /// Everything selected, even when DIR had a publish before.
    #[arg(long)]
    full: bool,
    /// Remove content files under DIR/WsusContent that no selected update references.
    #[arg(long)]
    prune: bool,
    /// Largest package, in uncompressed bytes of metadata.txt and package.xml (binary
    /// units: 512M, 1G; at most 1536M); more records go into further numbered packages.
    #[arg(long, value_name = "SIZE", default_value_t = DEFAULT_MAX_PACKAGE_BYTES, value_parser = parse_size)]
    max_package_size: u64,
    /// Print the result as JSON (the same object as publish.json; fields: see the README).
    #[arg(long)]
    json: bool,
}

pub fn run(a: WsusArgs, progress: &dyn Progress) -> CliResult {
    let created = super::export::creation_time()?;
    let store = Store::open(&a.store.store)?;
    let opts = WsusOptions {
        out: a.out,
        full: a.full,
        prune: a.prune,
        max_package_bytes: a.max_package_size,
        created,
    };
    // Ctrl-C stops the run between files and records (its temporary files are removed).
    crate::cli::interrupt::install()?;
    let r = publish_wsus(&store, &opts, progress)?;
    store.report_log_failure(progress);
    warn(&r, progress);
    if a.json {
        return out_json(&r);
    }
    summary(&r)
}

/// One warning per reason (a store synced from wsusscn2.cab leaves out every update: one
/// line, not one per update); publish.json names the first 100 of each list.
fn warn(r: &WsusReport, progress: &dyn Progress) {
    let named = |n: u64, listed: usize| {
        if n as usize > listed {
            format!(" (publish.json names {listed})")
        } else {
            String::new()
        }
    };
    for (reason, n) in &r.left_out_reasons {
        let which = match (n, r.left_out.first()) {
            (1, Some(l)) if r.left_out_count == 1 => format!(" {} ({})", l.id, l.title),
            _ => String::new(),
        };
        progress.warn(&format!(
            "left out {n} update(s){which}{}: {reason}",
            named(r.left_out_count, r.left_out.len())
        ));
    }
    for (reason, n) in &r.missing_document_reasons {
        let which = match (n, r.missing_documents.first()) {
            (1, Some(m)) if r.missing_documents_count == 1 => {
                let by = m
                    .needed_by
                    .as_deref()
                    .map(|b| format!(", needed by {b}"))
                    .unwrap_or_default();
                format!(": {} {}{by}", m.kind, m.id)
            }
            _ => String::new(),
        };
        progress.warn(&format!(
            "not in the package: {n} needed record(s){which}{}: {reason}",
            named(r.missing_documents_count, r.missing_documents.len())
        ));
    }
    let c = &r.content;
    for f in c.damaged_files.iter().chain(&c.refused_files) {
        progress.warn(&format!(
            "content {} of {} not published: {}",
            f.name, f.update_id, f.reason
        ));
    }
    if c.missing > 0 {
        progress.warn(&format!(
            "{} content file(s) of published updates are not in the store (publish.json lists them; `offsync content import` takes them in)",
            c.missing
        ));
    }
}

fn summary(r: &WsusReport) -> CliResult {
    let since = r
        .since_sequence
        .map(|s| format!(" since change {s}"))
        .unwrap_or_default();
    say(format!(
        "published {} ({}{since}) to {}: {} record(s) in {} package(s)",
        r.store_name,
        r.mode,
        r.out,
        r.records,
        r.packages.len()
    ))?;
    for p in &r.packages {
        say(format!(
            "  {}  {} record(s) ({} categories, {} detectoids, {} updates), {} uncompressed, {}",
            p.name,
            p.records,
            p.categories,
            p.detectoids,
            p.updates,
            bytes(p.uncompressed_bytes),
            bytes(p.size)
        ))?;
    }
    let c = &r.content;
    say(format!(
        "  content: {} linked, {} copied, {} unchanged, {} pruned, {} missing, {} damaged, {} refused; {} written",
        c.linked,
        c.copied,
        c.unchanged,
        c.pruned,
        c.missing,
        c.damaged,
        c.refused,
        bytes(c.bytes_written)
    ))?;
    say(format!(
        "  {} update(s) left out, {} needed record(s) missing; see publish.json and README.txt in {}",
        r.left_out_count, r.missing_documents_count, r.out
    ))
}

fn parse_size(s: &str) -> Result<u64, String> {
    let v = crate::bundle::parse_size(s).map_err(|e| e.message)?;
    if v > MAX_PACKAGE_BYTES {
        return Err(format!(
            "{s} is more than the largest package offsync writes, {} (1536M): a cabinet member stops short of 2 GiB and old WSUS versions fail on packages near 2 GB; give 1536M or less (more records go into further numbered packages)",
            MAX_PACKAGE_BYTES
        ));
    }
    Ok(v)
}
