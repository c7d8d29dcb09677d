//! `offsync receipt export|import|forget|list`: the way back across the gap.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out_json, report_json, say};
use crate::error::{Error, ErrorKind};
use crate::progress::Progress;
use crate::store::{KIND_DISCONNECTED, Store};
use crate::transfer::receipt::{self, FileOutcome};
use clap::Subcommand;
use serde::Serialize;
use std::path::PathBuf;

/// Receipts: what a downstream point holds, for the store above it.
///
/// A downstream point says what it holds, so that the store above it knows how far
/// behind it is and can export exactly what it lacks (`export --for POINT`). Format and
/// checks: docs/RECEIPTS.md.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Write this store's receipt (a small JSON file): its id and name, for each source store
    /// the last bundle imported and the last sync, its counts, the content it lacks and its
    /// recent imports and syncs. Carry it to the store above (with FILE.minisig if signed).
    Export {
        #[command(flatten)]
        store: StoreArg,
        /// The receipt file to write (replaced atomically).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Sign the receipt with this secret key (made by `offsync key generate`); the
        /// signature is written beside it as FILE.minisig.
        #[arg(long, value_name = "SECRET-KEY")]
        sign: Option<PathBuf>,
        /// The secret key's password, on the first line of this file (else the environment
        /// variable OFFSYNC_KEY_PASSWORD, else a prompt).
        #[arg(long, value_name = "FILE", requires = "sign")]
        password_file: Option<PathBuf>,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
    /// Register downstream points from their receipts. Each FILE is judged alone (malformed,
    /// unsigned when this store trusts keys, an unknown store claiming a registered name, or
    /// older than the point's last receipt: refused, the store unchanged). Without FILE, the
    /// receipts children left in this store's `receipts` folder are registered.
    Import {
        #[command(flatten)]
        store: StoreArg,
        /// Receipt files carried across the gap (the points are registered as disconnected).
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the result as JSON (fields: see the README).
        #[arg(long)]
        json: bool,
    },
    /// Drop a registered downstream point (by store id or name): for a point registered from
    /// a receipt written while its clock was wrong (every later receipt would look older), or
    /// one that is gone. Its next receipt registers it anew.
    Forget {
        #[command(flatten)]
        store: StoreArg,
        /// The point's store id, or its name.
        #[arg(value_name = "POINT")]
        point: String,
        /// Print the point dropped as JSON (the fields of `receipt list --json`).
        #[arg(long)]
        json: bool,
    },
    /// List the downstream points this store knows: what each acknowledged, and how many
    /// bundles and changes it is behind.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::Export {
            store,
            out,
            sign,
            password_file,
            json,
        } => {
            let signer = match sign {
                Some(k) => Some(super::export::unlock(&k, password_file)?),
                None => None,
            };
            let created = super::export::creation_time()?;
            let store = Store::open(&store.store)?;
            let w = receipt::write(&store, &out, signer.as_ref(), created)?;
            store.report_log_failure(progress);
            if json {
                return out_json(&w);
            }
            say(format!(
                "receipt of store '{}' written to {}{}",
                esc(&w.receipt.store_name),
                w.file.display(),
                w.signed_by
                    .as_deref()
                    .map(|k| format!(", signed by key {k} (beside it: FILE.minisig)"))
                    .unwrap_or_default()
            ))
        }
        Cmd::Import { store, files, json } => {
            let mut store = Store::open(&store.store)?;
            let now = crate::cli::args::now();
            let (folder, outcomes) = if files.is_empty() {
                let (dir, o) = receipt::import_folder(&mut store, now)?;
                (Some(dir), o)
            } else {
                (
                    None,
                    receipt::import_files(&mut store, &files, KIND_DISCONNECTED, now),
                )
            };
            store.report_log_failure(progress);
            render_import(folder, outcomes, json)
        }
        Cmd::Forget { store, point, json } => {
            let mut store = Store::open(&store.store)?;
            let p = receipt::forget(&mut store, &point, crate::cli::args::now())?;
            store.report_log_failure(progress);
            if json {
                return out_json(&p);
            }
            say(format!(
                "point '{}' ({}) forgotten; its next receipt registers it anew",
                esc(&p.name),
                p.id
            ))
        }
        Cmd::List { store, json } => {
            let points = Store::open_readonly(&store.store)?.downstream_points()?;
            if json {
                return out_json(&points);
            }
            if points.is_empty() {
                return say("no downstream point is registered in this store");
            }
            for p in &points {
                let ack = match (p.acknowledged_sequence, p.acknowledged_known) {
                    (Some(s), true) => format!("acknowledges bundle {s}"),
                    (Some(s), false) => format!("acknowledges bundle {s}, not one of this store's"),
                    (None, _) => match p.acknowledged_change_seq {
                        Some(c) => format!("synced up to change {c}"),
                        None => "acknowledges nothing of this store".into(),
                    },
                };
                say(format!(
                    "{}  '{}'  {}: {ack}; {} bundle(s), {} change(s) behind; receipt of {}",
                    p.id,
                    esc(&p.name),
                    p.kind,
                    p.bundles_behind,
                    p.changes_behind,
                    p.receipt_created
                ))?;
            }
            Ok(())
        }
    }
}

/// One file of `receipt import --json`.
#[derive(Serialize)]
struct FileOut<'a> {
    #[serde(flatten)]
    outcome: &'a FileOutcome,
    /// `accepted` or `refused`.
    result: &'static str,
    error: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct ImportOut<'a> {
    /// The receipts folder read, when no file was given.
    folder: Option<PathBuf>,
    files: Vec<FileOut<'a>>,
    accepted: usize,
    refused: usize,
}

fn render_import(folder: Option<PathBuf>, outcomes: Vec<FileOutcome>, json: bool) -> CliResult {
    let refused: Vec<&FileOutcome> = outcomes.iter().filter(|o| o.error.is_some()).collect();
    // The command fails as its first refusal does; each refusal is named in the details.
    let failure = refused.first().and_then(|first| {
        let e = first.error.as_ref()?;
        let details = refused
            .iter()
            .filter_map(|o| {
                o.error
                    .as_ref()
                    .map(|e| format!("{}: {}", o.file.display(), e.message))
            })
            .collect();
        let hint = e.hint.clone().unwrap_or_default();
        Some(
            Error::new(
                first.error.as_ref().map_or(ErrorKind::Other, |e| e.kind),
                format!(
                    "{} of {} receipt(s) refused; the store is unchanged by them",
                    refused.len(),
                    outcomes.len()
                ),
            )
            .with_details(details)
            .with_hint(hint),
        )
    });
    if json {
        let files = outcomes
            .iter()
            .map(|o| FileOut {
                outcome: o,
                result: if o.error.is_some() {
                    "refused"
                } else {
                    "accepted"
                },
                error: o.error.as_ref().map(|e| {
                    serde_json::json!({
                        "kind": e.kind.name(),
                        "exit_code": e.kind.exit_code(),
                        "message": e.message,
                        "details": e.details,
                        "hint": e.hint,
                    })
                }),
            })
            .collect();
        let report = ImportOut {
            folder,
            accepted: outcomes.len() - refused.len(),
            refused: refused.len(),
            files,
        };
        return report_json(&report, failure);
    }
    if outcomes.is_empty() {
        say(match &folder {
            Some(d) => format!("no receipt in {}", d.display()),
            None => "no receipt given".into(),
        })?;
    }
    for o in outcomes.iter().filter(|o| o.error.is_none()) {
        say(format!(
            "accepted {}: {} point '{}' ({}) {}",
            o.file.display(),
            o.kind,
            esc(o.point_name.as_deref().unwrap_or_default()),
            esc(o.point_id.as_deref().unwrap_or_default()),
            match o.registered {
                Some(receipt::Registered::New) => "registered",
                Some(receipt::Registered::Updated) => "updated",
                _ => "unchanged (this receipt was registered already)",
            }
        ))?;
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
