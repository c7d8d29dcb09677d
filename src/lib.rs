//! offsync: software update points for networks that are cut off from the internet.
//!
//! # Layout
//!
//! - `model`: categories, updates, file references, GUIDs; pure data.
//! - `error`: the error type and the exit-code category of every failure.
//! - `hash`: hashing while copying (SHA-1 and SHA-256 in one pass).
//! - `fsutil`: atomic writes and folder syncs.
//! - `progress`: the progress trait; the terminal implementation lives in `cli`.
//! - `time`: timestamps; the current time is always passed in, never read inside.
//! - `store`: the update point's store: SQLite schema and migrations, content folder, log,
//!   queries and merges. Both sides of the air gap run the same store code.
//! - `upstream`: one reader per source kind (folder of `upd:Update` documents, the offline
//!   catalog `wsusscn2.cab`, parent store).
//! - `sync`: applies the criteria to an upstream and merges the result into a store.
//! - `content`: takes downloaded payload files into a store's content folder.
//! - `bundle`: THE format that crosses the air gap; knows nothing of SQLite or the terminal.
//! - `transfer`: export and import: the only module that knows both the store and `bundle`.
//! - `trust`: signing keys and minisign signatures of a bundle's manifest; what a store trusts.
//! - `cli`: clap types, output, exit codes, the indicatif progress; `commands`: glue per verb.

pub mod bundle;
pub mod cli;
pub mod content;
pub mod error;
pub mod fsutil;
pub mod hash;
pub mod model;
pub mod ops;
pub mod progress;
pub mod store;
pub mod sync;
pub mod time;
pub mod transfer;
pub mod trust;
pub mod upstream;

pub use error::{Error, ErrorKind, Result};
