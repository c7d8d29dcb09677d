//! offsync: software update points for networks that are cut off from the internet.
//!
//! # Layout
//!
//! - `model`: categories, updates, file references, GUIDs; pure data.
//! - `error`: the error type and the exit-code category of every failure.
//! - `hash`: hashing while copying (SHA-1 and SHA-256 in one pass).
//! - `fsutil`: atomic writes and folder syncs.
//! - `progress`: the progress trait; the terminal implementation lives in `cli`.
//! - `limits`: the limits on what a store keeps, shared by the store and the bundle checks.
//! - `time`: timestamps; the current time is always passed in, never read inside.
//! - `text`: outside text made safe to show on a terminal or write to the log (escaped
//!   control characters).
//! - `store`: the update point's store: SQLite schema and migrations, content folder, log,
//!   queries and merges. Both sides of the air gap run the same store code.
//! - `upstream`: one reader per source kind (folder of `upd:Update` documents, the offline
//!   catalog `wsusscn2.cab`, parent store).
//! - `sync`: applies the criteria to an upstream and merges the result into a store.
//! - `schedule`: when a store syncs on its own (cron or readable forms in a time zone), the
//!   next runs and whether a sync is due; the `run` loop is `ops::run`.
//! - `content`: takes downloaded payload files into a store's content folder.
//! - `fetch`: downloads over HTTP(S): the missing payload files (`content fetch`) and the
//!   offline catalog given by URL; resumable, digest-checked, retried, rate-limited.
//! - `ops`: the operations behind the verbs that are more than one library call (criteria
//!   from names, update lists and declines, status, upstream, a sync from the set upstream,
//!   single updates imported from the catalog,
//!   trusting keys, verify with a public key); they print nothing and know nothing of clap.
//! - `bundle`: THE format that crosses the air gap; knows nothing of SQLite or the terminal.
//! - `transfer`: export and import: the only module that knows both the store and `bundle`;
//!   also the receipts a downstream point sends back (`transfer/receipt`).
//! - `publish`: what the isolated network runs, written from a store: `publish/wsus` writes
//!   the WSUS metadata package(s) for `wsusutil import` (cabinets of `package.xml` and
//!   `metadata.txt`, from the upstream documents the store keeps), the `WsusContent` folder,
//!   `README.txt` and `publish.json`; `publish/share` the payloads as a folder per product and
//!   classification with its indexes, for networks without WSUS.
//! - `trust`: signing keys and minisign signatures of a bundle's manifest; what a store trusts.
//! - `cli`: the command line, the only module that prints to stdout, uses clap or indicatif,
//!   or decides the exit code. `cli/commands/<verb>.rs` is one verb: its clap `Args` (or `Cmd`
//!   for a verb with sub-verbs) and its `run`, which opens the store, calls the library and
//!   renders the result; `cli/mod.rs` lists the verbs and its `main` turns the outcome into
//!   the exit code; `cli/output.rs` writes stdout (escaping text from outside); `cli/exit.rs`
//!   holds the outcome type and the exit-code help. To add a verb, add its file there and
//!   its line in `cli::Command`; what it does beyond rendering goes into the library (`ops`
//!   or the module that owns it).

pub mod bundle;
pub mod cli;
pub mod content;
pub mod error;
pub mod fetch;
pub mod fsutil;
pub mod hash;
pub mod limits;
pub mod model;
pub mod ops;
pub mod progress;
pub mod publish;
pub mod schedule;
pub mod store;
pub mod sync;
pub mod text;
pub mod time;
pub mod transfer;
pub mod trust;
pub mod upstream;

pub use error::{Error, ErrorKind, Result};
