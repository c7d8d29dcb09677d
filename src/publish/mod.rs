//! Publishing: turns the store into what the isolated network runs. `share` lays out the
//! payload files as a browsable folder with its indexes, for networks without WSUS.

pub mod share;
