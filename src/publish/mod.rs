//! Publishing from a store to what the isolated network runs: the WSUS metadata package and
//! content folder (`wsus`), and, for networks without WSUS, the payloads as a browsable folder
//! with its indexes (`share`). Reads the store, writes plain files; prints nothing.

pub mod place;
pub mod share;
pub mod wsus;
