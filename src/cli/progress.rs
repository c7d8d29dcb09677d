//! The terminal side of [`Progress`]: indicatif bars on a terminal, nothing otherwise.
//! Notes (warnings, notable events) always reach stderr, above any bar.

use crate::progress::{Progress, Unit};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

pub struct TermProgress {
    enabled: bool,
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl TermProgress {
    /// Bars only when stderr is a terminal and the user did not ask for quiet.
    pub fn new(quiet: bool) -> TermProgress {
        TermProgress {
            enabled: !quiet && std::io::stderr().is_terminal(),
            quiet,
            bar: Mutex::new(None),
        }
    }
}

impl Progress for TermProgress {
    fn start(&self, phase: &str, total: Option<u64>, unit: Unit) {
        if !self.enabled {
            return;
        }
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
            None => ProgressBar::new_spinner(),
        };
        let template = match unit {
            Unit::Bytes => "{msg:30} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            Unit::Items => "{msg:30} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(phase.to_string());
        if let Some(old) = self.bar.lock().expect("progress lock").replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.lock().expect("progress lock").as_ref() {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("progress lock").take() {
            b.finish_and_clear();
        }
    }

    fn note(&self, line: &str) {
        if self.quiet {
            return;
        }
        // A note quotes upstream or bundle text (a warning naming a title): one line, escaped.
        let line = crate::text::escape_controls(line);
        match self.bar.lock().expect("progress lock").as_ref() {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn cancelled(&self) -> bool {
        super::interrupt::requested()
    }
}
