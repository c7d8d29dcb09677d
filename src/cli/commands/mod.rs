//! One file per verb: its clap `Args` (or `Cmd`, for a verb with sub-verbs), whose doc
//! comments are its `--help`, and its `run`: open the store, call a library operation, render
//! the result as text or JSON. No business rules live here.

pub mod catalog;
pub mod categories;
pub mod chain;
pub mod check;
pub mod content;
pub mod content_fetch;
pub mod criteria;
pub mod demo;
pub mod export;
pub mod import;
pub mod init;
pub mod key;
pub mod log;
pub mod publish;
pub mod publish_wsus;
pub mod receipt;
pub mod run;
pub mod schedule;
pub mod sign;
pub mod status;
pub mod sync;
pub mod trust;
pub mod updates;
pub mod upstream;
pub mod verify;
