//! Publishing from a store to what the isolated network runs: the WSUS metadata package and
//! content folder (`wsus`). Reads the store, writes plain files; prints nothing.

pub mod wsus;
