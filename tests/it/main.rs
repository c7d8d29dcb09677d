//! Integration tests: one binary, driving the `offsync` executable as an administrator would.

mod admin;
mod common;
#[cfg(unix)]
mod crash;
mod foundation;
mod hostile;
mod sequence;
mod signing;
mod transfer;
mod trusted_import;
mod wsusscn2;
