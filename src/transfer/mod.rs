//! Carrying updates across the air gap: the only module that knows both the store and the
//! bundle format. `export` turns store changes into a bundle; `import` verifies a bundle,
//! checks it against the store's chain of imports, and merges it.
//!
//! The chain: each source store numbers its bundles 1, 2, 3, ...; an incremental bundle names
//! the sequence it builds on (`base_sequence`), a full bundle builds on nothing and therefore
//! applies over any older state, closing any gap (the rules: `chain`). Both sides read and
//! write the store only through `Store` and `Tx`: no SQL here.

mod chain;
pub mod export;
pub mod import;
pub mod media;
pub mod receipt;
pub mod repair;
pub mod signature;
mod spill;
mod stage;

use crate::bundle::RecordState;
use crate::store::StoredState;

pub(crate) fn record_state(s: StoredState) -> RecordState {
    match s {
        StoredState::Published => RecordState::Published,
        StoredState::Expired => RecordState::Expired,
        StoredState::Removed => RecordState::Removed,
    }
}

pub(crate) fn stored_state(s: RecordState) -> StoredState {
    match s {
        RecordState::Published => StoredState::Published,
        RecordState::Expired => StoredState::Expired,
        RecordState::Removed => StoredState::Removed,
    }
}
