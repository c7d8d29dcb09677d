//! The sequence and time rules an import applies before anything is decided: where a bundle
//! fits in the chain of what this store imported from the same source, and whether it (or the
//! clock) is past its time.

use super::import::ImportOptions;
use crate::bundle::{BundleKind, Manifest};
use crate::error::{Error, ErrorKind, Result};
use crate::store::ImportRecord;
use crate::time::Timestamp;

/// What the chain says about a bundle.
#[derive(Debug, PartialEq, Eq)]
pub enum ChainDecision {
    Apply,
    AlreadyImported,
}

/// Applies the sequence rules against `history`, what this store imported from the same
/// source: the same bundle again is a no-op; a different bundle with a sequence already
/// imported (equivocation), an older one (rollback), one too far ahead (of the last one, or of
/// sequence 1 for the first bundle from a source), or an incremental
/// bundle whose base is after the last one imported (a gap) is refused, each with its own
/// message (exit 13). A full bundle newer than everything applies over any gap.
pub fn check_chain(
    history: &[ImportRecord],
    m: &Manifest,
    manifest_sha256: &str,
    max_jump: u64,
) -> Result<ChainDecision> {
    let seq_err =
        |msg: String, hint: &str| Error::new(ErrorKind::OutOfSequence, msg).with_hint(hint);
    if let Some(same) = history.iter().find(|r| r.sequence == m.sequence) {
        if same.manifest_sha256 == manifest_sha256 {
            return Ok(ChainDecision::AlreadyImported);
        }
        return Err(seq_err(
            format!(
                "conflicting bundle: sequence {} from store '{}' was imported on {} with a different manifest",
                m.sequence, m.source.store_name, same.imported
            ),
            "two different bundles carry the same sequence number; ask the connected side which one is genuine",
        ));
    }
    if m.sequence == 0 {
        return Err(seq_err(
            format!(
                "sequence 0 from store '{}': a source numbers its bundles from 1",
                m.source.store_name
            ),
            "the bundle's manifest is damaged or forged; ask the connected side for a new export",
        ));
    }
    let last = history.iter().map(|r| r.sequence).max();
    if last.is_none() && m.sequence - 1 > max_jump {
        // The first bundle from a source is held to the limit too, counted from 1: otherwise
        // a forged first bundle with a huge sequence would make every genuine one look old.
        return Err(seq_err(
            format!(
                "implausible first bundle: sequence {} from store '{}' is the first imported from that source, {} past sequence 1, more than the {max_jump} allowed",
                m.sequence,
                m.source.store_name,
                m.sequence - 1
            ),
            "check where this bundle comes from; if it is genuine, import it with --max-jump set above the distance",
        ));
    }
    if let Some(last) = last {
        if m.sequence < last {
            return Err(seq_err(
                format!(
                    "older bundle: sequence {} from store '{}', but sequence {last} is already imported",
                    m.sequence, m.source.store_name
                ),
                "an older bundle would roll the store back; import the newest bundle instead",
            ));
        }
        if m.sequence - last > max_jump {
            return Err(seq_err(
                format!(
                    "implausible jump: sequence {} from store '{}' is {} ahead of the last imported ({last}), more than the {max_jump} allowed",
                    m.sequence,
                    m.source.store_name,
                    m.sequence - last
                ),
                "check where this bundle comes from; if it is genuine, import it with --max-jump set above the distance",
            ));
        }
    }
    match m.kind {
        BundleKind::Full => Ok(ChainDecision::Apply),
        BundleKind::Incremental => check_base(last, m),
    }
}

/// An incremental bundle applies when its base is the last bundle imported or one before it;
/// else it is a gap.
fn check_base(last: Option<u64>, m: &Manifest) -> Result<ChainDecision> {
    let seq_err =
        |msg: String, hint: &str| Error::new(ErrorKind::OutOfSequence, msg).with_hint(hint);
    let base = m.base_sequence.ok_or_else(|| {
        Error::new(
            ErrorKind::Corrupt,
            "the manifest is incremental but names no base sequence",
        )
    })?;
    // A base at or before the last imported bundle applies: the bundle holds every
    // change since its base, so what this store lacks is in it, and what it holds
    // already comes again unchanged (a revision never goes back). That is how a point
    // that took a bundle made `--for` it rejoins the shared chain, whose next bundle
    // builds on the shared one before.
    if last.is_some_and(|l| base <= l) {
        return Ok(ChainDecision::Apply);
    }
    let first_missing = last.map_or(1, |l| l + 1);
    let missing: Vec<String> = (first_missing..m.sequence).map(|s| s.to_string()).collect();
    let what = if missing.is_empty() {
        format!("it builds on sequence {base}, which this store has not imported")
    } else {
        format!("missing sequence(s) {}", missing.join(", "))
    };
    Err(seq_err(
        format!(
            "gap in the chain from store '{}': bundle {} is incremental and {what}",
            m.source.store_name, m.sequence
        ),
        "import the missing bundles first, or ask for a full bundle (`offsync export --full`)",
    ))
}

/// Refuses a bundle past its validity, and a clock earlier than `last_import` (a clock set
/// back would let an expired bundle in), unless the operator allows it; returns the note to
/// record when allowed.
pub(super) fn check_time(
    last_import: Option<Timestamp>,
    m: &Manifest,
    opts: &ImportOptions,
) -> Result<Option<String>> {
    let now = opts.now;
    let mut problems = Vec::new();
    if let Some(until) = m.valid_until
        && now > until
    {
        problems.push(format!(
            "the bundle expired at {until} (now {})",
            now.rfc3339()
        ));
    }
    if let Some(last) = last_import
        && now < last
    {
        problems.push(format!(
            "the system clock ({}) is earlier than the last import ({last})",
            now.rfc3339()
        ));
    }
    if problems.is_empty() {
        return Ok(None);
    }
    if opts.allow_expired {
        return Ok(Some(format!(
            "imported with --allow-expired: {}",
            problems.join("; ")
        )));
    }
    Err(Error::new(ErrorKind::Expired, problems.join("; "))
        .with_hint("get a fresh bundle, or correct the clock; --allow-expired overrides this and is recorded"))
}
