//! Integration tests: one binary, driving the `offsync` executable as an administrator would.

mod common;
mod crash;
mod foundation;
mod sequence;
mod signing;
mod transfer;
mod trusted_import;
