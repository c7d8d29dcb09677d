//! The command line: clap types (their doc comments are the `--help`), the exit code table,
//! error printing, and the terminal progress. Nothing outside this module uses clap or
//! indicatif.

mod keys;
mod progress;

use crate::commands;
use crate::error::{Error, ErrorKind};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub use progress::TermProgress;

/// The exit codes, as documented in the README and shown by `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
   0  done (including \"already imported\": nothing to do)
   1  other failure (bad upstream input, a conflict, ...)
   2  usage error (a wrong argument, an unknown name, not a store)
   3  busy: the store is locked by another process
   4  storage: disk full, read-only, permission denied, I/O error
   5  store damaged: the local store failed its own checks
  10  corrupt: a hash, size or structure does not match
  11  incomplete: a volume or listed entry is missing, or belongs to another bundle
  12  untrusted: signature missing, invalid, or by a key not trusted here
  13  out of sequence: older bundle, conflicting bundle, or a gap in the chain
  14  expired: bundle past its validity, or the clock is earlier than the last import
  15  unsafe entry: path traversal, absolute path, symlink, duplicate names
  16  limit: an entry, a count or a decode exceeds a hard cap";

/// offsync: software update points for networks cut off from the internet.
///
/// Synchronise update metadata filtered by products, classifications and languages; take in
/// payload files; and carry them across an air gap as checked bundles.
#[derive(Parser, Debug)]
#[command(name = "offsync", version, after_long_help = EXIT_CODES)]
pub struct Cli {
    /// Show no progress bars and no notes or warnings on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The store a command works on.
#[derive(Args, Debug, Clone)]
pub struct StoreArg {
    /// The store folder (created by `offsync init`).
    #[arg(long, env = "OFFSYNC_STORE", value_name = "DIR")]
    pub store: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a store: a folder with the database, the content folder and the log.
    Init {
        #[command(flatten)]
        store: StoreArg,
        /// A name for this update point (default: the folder's name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Choose what to synchronise: products, classifications, languages.
    #[command(subcommand)]
    Criteria(CriteriaCmd),
    /// The categories (companies, product families, products, classifications) the store knows.
    #[command(subcommand)]
    Categories(CategoriesCmd),
    /// The default upstream of `offsync sync`.
    #[command(subcommand)]
    Upstream(UpstreamCmd),
    /// Synchronise update metadata from the upstream, filtered by the criteria.
    Sync {
        #[command(flatten)]
        store: StoreArg,
        /// A folder of upd:Update XML documents, Microsoft's offline scan catalog (a .cab file:
        /// wsusscn2.cab), or another offsync store (a parent update point). Default: the
        /// upstream set with `offsync upstream set`.
        #[arg(long, value_name = "SOURCE")]
        from: Option<PathBuf>,
        /// Accept an upstream snapshot (an offline catalog) older than the last one synced.
        #[arg(long)]
        allow_older: bool,
        /// Accept an upstream that would remove (or expire) more than half of the stored
        /// updates, or all of them (otherwise refused: an empty or partly copied folder looks
        /// like that).
        #[arg(long)]
        allow_mass_removal: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Payload files of the updates.
    #[command(subcommand)]
    Content(ContentCmd),
    /// List and show updates; record local decisions.
    #[command(subcommand)]
    Updates(UpdatesCmd),
    /// The state of the update point: last sync, totals, content present and missing.
    Status {
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        json: bool,
    },
    /// Write the changes since the last export (or everything) as a bundle of ZIP volumes,
    /// with the content files the store has and their checksums.
    Export {
        #[command(flatten)]
        store: StoreArg,
        /// The folder in which the bundle folder is created (for example the removable media).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Everything the store holds, not only the changes since the last export.
        #[arg(long)]
        full: bool,
        /// Carry no content files.
        #[arg(long)]
        metadata_only: bool,
        /// How long the bundle stays valid (30d, 12h, 90m, 3600s); import refuses it after
        /// that (exit 14) unless --allow-expired.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        valid_for: Option<i64>,
        /// Sign manifest.json with this secret key (made by `offsync key generate`); the
        /// signature is written beside it as manifest.json.minisig.
        #[arg(long, value_name = "SECRET-KEY")]
        sign: Option<PathBuf>,
        /// The secret key's password, on the first line of this file (else the environment
        /// variable OFFSYNC_KEY_PASSWORD, else a prompt).
        #[arg(long, value_name = "FILE", requires = "sign")]
        password_file: Option<PathBuf>,
        /// Largest volume: bytes with binary units (700M, 4G; 1K = 1024) or cd, dvd, bd, fat32.
        #[arg(long, value_name = "SIZE", default_value = "fat32", value_parser = parse_size)]
        max_volume_size: u64,
        #[arg(long)]
        json: bool,
    },
    /// Check a bundle against its manifest; needs no store (a guard station can run it).
    ///
    /// PATH is the bundle folder or its manifest.json; further paths are folders or files
    /// where volumes are found (a bundle spread over several discs).
    #[command(after_long_help = EXIT_CODES)]
    Verify {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Also check manifest.json.minisig against this public key (exit 12 if it fails).
        #[arg(long, value_name = "PUBLIC-KEY")]
        pubkey: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Verify a bundle, check it against what this store imported before, and merge it.
    ///
    /// PATH is as for verify. Exit 0 also when the bundle was already imported.
    #[command(after_long_help = EXIT_CODES)]
    Import {
        #[command(flatten)]
        store: StoreArg,
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Say what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import a bundle past its validity, or while the clock is earlier than the last
        /// import. Recorded in the import history.
        #[arg(long)]
        allow_expired: bool,
        /// Refuse a bundle more than this many sequence numbers ahead of the last one imported
        /// from its source.
        #[arg(long, value_name = "N", default_value_t = crate::transfer::import::DEFAULT_MAX_JUMP)]
        max_jump: u64,
        #[arg(long)]
        json: bool,
    },
    /// Check the store: database integrity, folder layout, every recorded content file present
    /// with its size (and with --read-data, its digests). Exit 5 when damaged.
    Check {
        #[command(flatten)]
        store: StoreArg,
        /// Read every content file and compare its SHA-256 and SHA-1.
        #[arg(long)]
        read_data: bool,
        #[arg(long)]
        json: bool,
    },
    /// Signing keys: make the key pair that signs bundles.
    #[command(subcommand)]
    Key(keys::KeyCmd),
    /// The public keys whose signatures this store accepts on bundles.
    #[command(subcommand)]
    Trust(keys::TrustCmd),
    /// Run the whole job on the bundled sample data and say what each step did.
    Demo {
        /// Where to create the demo stores (default: a new temporary folder, kept).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The sample data (default: the fixtures folder of the source tree).
        #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))]
        fixtures: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum CriteriaCmd {
    /// Set the criteria. Kinds given replace what was set for that kind; others stay.
    Set {
        #[command(flatten)]
        store: StoreArg,
        /// A product or product family, by GUID or exact title (repeat for several).
        #[arg(long = "product", value_name = "X")]
        products: Vec<String>,
        /// An update classification, by GUID or exact title (repeat for several).
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

#[derive(Subcommand, Debug)]
pub enum CategoriesCmd {
    /// List the categories.
    List {
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        kind: Option<KindArg>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UpstreamCmd {
    /// Set the upstream: a folder of upd:Update documents, wsusscn2.cab, or a parent store.
    Set {
        #[command(flatten)]
        store: StoreArg,
        source: PathBuf,
    },
    /// Show the upstream.
    Show {
        #[command(flatten)]
        store: StoreArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum ContentCmd {
    /// Take in downloaded payload files whose digests match a file of a stored update.
    Import {
        #[command(flatten)]
        store: StoreArg,
        /// The folder to walk (for example a WSUSContent folder).
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StateArg {
    Published,
    Expired,
    Removed,
    Declined,
}

#[derive(Subcommand, Debug)]
pub enum UpdatesCmd {
    /// List updates.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only updates of this product (GUID or exact title).
        #[arg(long)]
        product: Option<String>,
        /// Only updates of this classification (GUID or exact title).
        #[arg(long)]
        classification: Option<String>,
        /// Only updates with this KB number (5034122 or KB5034122).
        #[arg(long)]
        kb: Option<String>,
        #[arg(long)]
        state: Option<StateArg>,
        /// Only updates superseded by another update in the store.
        #[arg(long, conflicts_with = "not_superseded")]
        superseded: bool,
        /// Only updates no update in the store supersedes.
        #[arg(long)]
        not_superseded: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show one update by UpdateID or KBnnnnnnn.
    Show {
        #[command(flatten)]
        store: StoreArg,
        update: String,
        #[arg(long)]
        json: bool,
    },
    /// Decline an update (a local decision that syncs and imports keep).
    Decline {
        #[command(flatten)]
        store: StoreArg,
        update: String,
    },
    /// Take back a decline.
    Undecline {
        #[command(flatten)]
        store: StoreArg,
        update: String,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = TermProgress::new(cli.quiet);
    match dispatch(cli, &progress) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report_error(&e);
            ExitCode::from(e.kind.exit_code())
        }
    }
}

fn report_error(e: &Error) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "error: {e}");
}

/// Writes to stdout; a closed pipe (`offsync updates list | head`) ends the process quietly
/// with success, as the reader has what it wanted.
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // Output that did not arrive is a failure a script must see (a full disk, say).
        let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
        std::process::exit(ErrorKind::Storage.exit_code().into());
    }
}

/// Prints a value as pretty JSON followed by a newline.
pub fn out_json<T: serde::Serialize>(value: &T) -> crate::Result<()> {
    let s = serde_json::to_string_pretty(value)
        .map_err(|e| Error::other(format!("cannot write JSON: {e}")))?;
    out(&s);
    out("\n");
    Ok(())
}

fn kind_of(k: KindArg) -> crate::model::CategoryKind {
    use crate::model::CategoryKind as K;
    match k {
        KindArg::Company => K::Company,
        KindArg::ProductFamily => K::ProductFamily,
        KindArg::Product => K::Product,
        KindArg::Classification => K::Classification,
    }
}

/// Turns the parsed command line into a call of the command's glue function.
fn dispatch(cli: Cli, progress: &TermProgress) -> crate::Result<()> {
    let now = crate::time::Timestamp::now;
    match cli.command {
        Command::Init { store, name } => commands::init::run(&store.store, name.as_deref(), now()),
        Command::Criteria(CriteriaCmd::Set {
            store,
            products,
            classifications,
            languages,
            all_languages,
        }) => commands::criteria::set(
            &store.store,
            &products,
            &classifications,
            &languages,
            all_languages,
            now(),
        ),
        Command::Criteria(CriteriaCmd::Show { store, json }) => {
            commands::criteria::show(&store.store, json)
        }
        Command::Categories(CategoriesCmd::List { store, kind, json }) => {
            commands::categories::list(&store.store, kind.map(kind_of), json)
        }
        Command::Upstream(UpstreamCmd::Set { store, source }) => {
            commands::upstream::set(&store.store, &source, now())
        }
        Command::Upstream(UpstreamCmd::Show { store }) => commands::upstream::show(&store.store),
        Command::Sync {
            store,
            from,
            allow_older,
            allow_mass_removal,
            json,
        } => {
            let opts = crate::sync::SyncOptions {
                allow_older,
                allow_mass_removal,
            };
            commands::sync::run(&store.store, from.as_deref(), &opts, json, &now, progress)
        }
        Command::Content(ContentCmd::Import { store, dir, json }) => {
            commands::content::import(&store.store, &dir, json, now(), progress)
        }
        Command::Updates(UpdatesCmd::List {
            store,
            product,
            classification,
            kb,
            state,
            superseded,
            not_superseded,
            json,
        }) => {
            let state = state.map(|s| match s {
                StateArg::Published => "published",
                StateArg::Expired => "expired",
                StateArg::Removed => "removed",
                StateArg::Declined => "declined",
            });
            let sup = if superseded {
                Some(true)
            } else if not_superseded {
                Some(false)
            } else {
                None
            };
            let q = commands::updates::ListQuery {
                product: product.as_deref(),
                classification: classification.as_deref(),
                kb: kb.as_deref(),
                state,
                superseded: sup,
            };
            commands::updates::list(&store.store, &q, json)
        }
        Command::Updates(UpdatesCmd::Show {
            store,
            update,
            json,
        }) => commands::updates::show(&store.store, &update, json),
        Command::Updates(UpdatesCmd::Decline { store, update }) => {
            commands::updates::decline(&store.store, &update, true, now())
        }
        Command::Updates(UpdatesCmd::Undecline { store, update }) => {
            commands::updates::decline(&store.store, &update, false, now())
        }
        Command::Status { store, json } => commands::status::run(&store.store, json),
        Command::Export {
            store,
            out,
            full,
            metadata_only,
            valid_for,
            max_volume_size,
            sign,
            password_file,
            json,
        } => {
            // The key is unlocked before anything is written, so a wrong password costs nothing.
            let signer = match sign {
                None => None,
                Some(k) => {
                    let pw = if crate::trust::secret_key_is_encrypted(&k)? {
                        Some(crate::trust::resolve_password(
                            &keys::password_source(password_file),
                            crate::trust::PasswordUse::Unlock,
                        )?)
                    } else {
                        None
                    };
                    Some(crate::trust::SigningKey::load(&k, pw.as_ref())?)
                }
            };
            let created = creation_time()?;
            let opts = crate::transfer::export::ExportOptions {
                out,
                full,
                metadata_only,
                max_volume_size,
                created,
                valid_until: valid_for
                    .map(|secs| crate::time::Timestamp(created.0.saturating_add(secs))),
                signer,
            };
            commands::export::run(&store.store, &opts, json, now(), progress)
        }
        Command::Check {
            store,
            read_data,
            json,
        } => commands::check::run(&store.store, read_data, json, progress),
        Command::Verify {
            paths,
            pubkey,
            json,
        } => commands::verify::run(&paths, pubkey.as_deref(), json, progress),
        Command::Import {
            store,
            paths,
            dry_run,
            allow_expired,
            max_jump,
            json,
        } => {
            let opts = crate::transfer::import::ImportOptions {
                dry_run,
                allow_expired,
                max_jump,
                now: now(),
                threads: worker_threads(),
            };
            commands::import::run(&store.store, &paths, &opts, json, progress)
        }
        Command::Key(c) => keys::dispatch(c.into(), now()),
        Command::Trust(c) => keys::dispatch(c.into(), now()),
        Command::Demo { dir, fixtures } => {
            commands::demo::run(dir.as_deref(), &fixtures, &now, progress)
        }
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    crate::bundle::parse_size(s).map_err(|e| e.message)
}

/// The creation time written into a bundle: `SOURCE_DATE_EPOCH` when set (reproducible
/// builds' convention), otherwise now.
fn creation_time() -> crate::Result<crate::time::Timestamp> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .map(crate::time::Timestamp)
            .map_err(|_| {
                Error::usage(format!(
                    "SOURCE_DATE_EPOCH is '{v}', not a number of seconds since 1970"
                ))
            }),
        Err(_) => Ok(crate::time::Timestamp::now()),
    }
}

/// A duration such as `30d`, `12h`, `90m` or `3600s`, in seconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 30d, 12h, 90m or 3600s"))?;
    let mult = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" | "" => 1,
        _ => return Err(format!("'{s}': the unit must be d, h, m or s")),
    };
    if n == 0 {
        return Err("a bundle valid for no time at all would be refused at once".into());
    }
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too long"))
}

/// Worker threads for hashing content: `OFFSYNC_THREADS` when set, else the machine's cores,
/// at most 2 (past two, the media, not the CPU, sets the pace).
fn worker_threads() -> usize {
    std::env::var("OFFSYNC_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(2)
        })
}
