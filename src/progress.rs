//! A small progress interface so that long work can report how far it is without knowing
//! about the terminal. The CLI implements it with indicatif; tests and library callers use
//! [`NoProgress`].

/// Receives progress of long-running work. Implementations must be cheap to call often.
pub trait Progress: Sync {
    /// A new phase starts; `total` is the amount of work in `unit`s when known.
    fn start(&self, phase: &str, total: Option<u64>, unit: Unit);
    /// `n` more units of the current phase are done.
    fn advance(&self, n: u64);
    /// The current phase is finished.
    fn finish(&self);
    /// A line for the operator (a warning or a notable event), shown above any bar.
    fn note(&self, line: &str);
    /// Something went wrong that does not fail the work (a log line that could not be
    /// written, say). Shown as a note unless the implementation does more.
    fn warn(&self, message: &str) {
        self.note(&format!("warning: {message}"));
    }
    /// Whether the operator asked the work to stop (SIGINT or SIGTERM, caught by the command
    /// line). Long work asks between chunks and stops at its next safe point with
    /// [`crate::ErrorKind::Interrupted`]; the library never handles signals itself.
    fn cancelled(&self) -> bool {
        false
    }
}

/// What a phase counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Items,
    Bytes,
}

/// Progress that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>, _: Unit) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
    fn note(&self, _: &str) {}
}
