//! The operations behind the verbs that are more than one library call: the rules that sit
//! between a command line and the store (how a name on the command line is resolved, what is
//! validated, what is logged). Each takes the store and the time as parameters, returns data
//! and prints nothing; the verbs in `cli` and the demo call the same ones.

pub mod catalog;
pub mod chain;
pub mod criteria;
pub mod run;
pub mod status;
pub mod status_page;
pub mod sync;
pub mod trust;
pub mod updates;
pub mod upstream;
pub mod verify;
