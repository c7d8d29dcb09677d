//! Integration tests: one binary, driving the `offsync` executable as an administrator would.

// Tests print what they skip and why.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod admin;
mod attack_store;
mod attack_terminal;
mod bench_publish;
mod bench_smoke;
mod catalog_import;
mod common;
#[cfg(unix)]
mod crash;
mod documents;
mod fetch;
mod fixes13;
mod foundation;
mod hostile;
mod http_server;
mod media;
mod monitoring;
mod one_read;
mod publish_fixes;
mod publish_round_trip;
mod publish_share;
mod publish_wsus;
mod receipts;
mod round_trip;
mod schedule;
mod scripts;
mod sequence;
mod signing;
mod store_perf;
mod sync_memory;
mod transfer;
mod trusted_import;
mod wsus_package;
mod wsusscn2;
