//! Reading the store's log back (`offsync log`): the lines of `offsync.log` and its rotated
//! predecessors (`offsync.log.3`, the oldest, to `offsync.log`), parsed into time, component,
//! run and message, filtered by time and by sync run; and a reader that follows the log as it
//! grows (and as it is rotated).

use super::log::{LOG_FILE, LOG_KEEP};
use crate::error::{Error, Result};
use crate::time::Timestamp;
use serde::Serialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One line of the log. A line that does not have the log's form (a torn last line, say) is
/// kept whole as the message, with no time and no component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub time: Option<String>,
    pub component: String,
    /// The sync run (`sync_runs` id; `offsync log --run N`) the line belongs to.
    pub run: Option<i64>,
    pub message: String,
}

impl LogLine {
    /// Parses `2026-11-26T13:45:00Z  SYNC     [run 3] message` (the run is optional).
    pub fn parse(line: &str) -> LogLine {
        let whole = || LogLine {
            time: None,
            component: String::new(),
            run: None,
            message: line.to_string(),
        };
        let Some((time, rest)) = line.split_once("  ") else {
            return whole();
        };
        if Timestamp::parse_rfc3339(time).is_none() {
            return whole();
        }
        let (component, message) = rest.split_once(' ').unwrap_or((rest, ""));
        let message = message.trim_start_matches(' ');
        let (run, message) = split_run(message);
        LogLine {
            time: Some(time.to_string()),
            component: component.to_string(),
            run,
            message: message.to_string(),
        }
    }

    pub fn timestamp(&self) -> Option<Timestamp> {
        self.time.as_deref().and_then(Timestamp::parse_rfc3339)
    }
}

/// `[run N] rest` into `(Some(N), rest)`.
fn split_run(message: &str) -> (Option<i64>, &str) {
    let parsed = message.strip_prefix("[run ").and_then(|r| {
        let (n, rest) = r.split_once("] ")?;
        Some((n.parse::<i64>().ok()?, rest))
    });
    match parsed {
        Some((n, rest)) => (Some(n), rest),
        None => (None, message),
    }
}

/// Which lines `offsync log` shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogFilter {
    /// Lines at or after this time (lines without a time are left out).
    pub since: Option<Timestamp>,
    /// Lines of this sync run only.
    pub run: Option<i64>,
}

impl LogFilter {
    pub fn keeps(&self, l: &LogLine) -> bool {
        if let Some(run) = self.run
            && l.run != Some(run)
        {
            return false;
        }
        match self.since {
            Some(since) => l.timestamp().is_some_and(|t| t >= since),
            None => true,
        }
    }
}

/// The log files of the store in `root`, oldest first (rotated ones that exist, then
/// `offsync.log`).
fn log_files(root: &Path) -> Vec<PathBuf> {
    let current = root.join(LOG_FILE);
    let mut files: Vec<PathBuf> = (1..=LOG_KEEP)
        .rev()
        .map(|n| {
            let mut s = current.as_os_str().to_owned();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        })
        .filter(|p| p.is_file())
        .collect();
    files.push(current);
    files
}

/// Every line of the store's log in `root` that `filter` keeps, oldest first, and a reader
/// that follows `offsync.log` from the end of what was read (nothing lost or shown twice in
/// between). A store that has logged nothing has no log: no lines.
pub fn read_log(root: &Path, filter: &LogFilter) -> Result<(Vec<LogLine>, LogReader)> {
    let mut out = Vec::new();
    let mut follow = LogReader {
        path: root.join(LOG_FILE),
        offset: 0,
        partial: Vec::new(),
    };
    for path in log_files(root) {
        let mut bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, "read", e)),
        };
        if path == follow.path {
            // A line being written stays for the reader.
            let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            bytes.truncate(end);
            follow.offset = end as u64;
        }
        out.extend(
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.is_empty())
                .map(LogLine::parse)
                .filter(|l| filter.keeps(l)),
        );
    }
    Ok((out, follow))
}

/// The time a log line starts with, read without parsing the rest of it.
fn line_time(line: &[u8]) -> Option<Timestamp> {
    let end = line.windows(2).position(|w| w == b"  ")?;
    Timestamp::parse_rfc3339(std::str::from_utf8(&line[..end]).ok()?)
}

/// How much of a log file [`find_last`] reads at a time, from the end.
const BACK_CHUNK: u64 = 64 * 1024;

/// The newest line of the store's log in `root` that `pick` takes, reading backwards from the
/// end of `offsync.log` (then the rotated files, newest first) and stopping at the first line
/// taken, or at the first line older than `stop_before` (lines are written in time order):
/// monitoring asks for the last line of a kind on every `status`, and a log is up to
/// 4 × 10 MiB. `prefilter` is a byte string the line must contain, checked before the line is
/// parsed. A line being written (no line break yet) is left out, as [`read_log`] does.
pub fn find_last(
    root: &Path,
    prefilter: &[u8],
    stop_before: Option<Timestamp>,
    pick: &dyn Fn(&LogLine) -> bool,
) -> Result<Option<LogLine>> {
    for path in log_files(root).iter().rev() {
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(path, "read", e)),
        };
        let len = f.metadata().map_err(|e| Error::io(path, "read", e))?.len();
        let mut pos = len;
        // The bytes after the last line break seen so far (the start of a line cut by a chunk
        // boundary); at the very end of the file, a line being written.
        let mut carry: Vec<u8> = Vec::new();
        let mut at_end = true;
        while pos > 0 {
            let n = BACK_CHUNK.min(pos);
            pos -= n;
            let mut buf = vec![0u8; n as usize];
            f.seek(SeekFrom::Start(pos))
                .and_then(|_| f.read_exact(&mut buf))
                .map_err(|e| Error::io(path, "read", e))?;
            buf.extend_from_slice(&carry);
            let start = if pos > 0 {
                match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => i + 1,
                    None => {
                        carry = buf;
                        continue;
                    }
                }
            } else {
                0
            };
            let mut segments: Vec<&[u8]> = buf[start..].split(|b| *b == b'\n').collect();
            if at_end {
                // After the last line break: a line not yet complete (or nothing).
                segments.pop();
                at_end = false;
            }
            for seg in segments.iter().rev().filter(|s| !s.is_empty()) {
                if let Some(stop) = stop_before
                    && line_time(seg).is_some_and(|t| t < stop)
                {
                    return Ok(None);
                }
                let candidate =
                    prefilter.is_empty() || seg.windows(prefilter.len()).any(|w| w == prefilter);
                if !candidate {
                    continue;
                }
                let line = LogLine::parse(&String::from_utf8_lossy(seg));
                if pick(&line) {
                    return Ok(Some(line));
                }
            }
            carry = buf[..start.saturating_sub(1)].to_vec();
        }
    }
    Ok(None)
}

/// Follows `offsync.log` from where [`read_log`] left it: each [`LogReader::poll`] returns
/// the complete lines written since. When the log was rotated (the file at the path is
/// shorter than what was read), the new file is read from its start.
pub struct LogReader {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogReader {
    /// The complete lines added since the last poll.
    pub fn poll(&mut self) -> Result<Vec<LogLine>> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.path, "read", e)),
        };
        let len = f
            .metadata()
            .map_err(|e| Error::io(&self.path, "read", e))?
            .len();
        if len < self.offset {
            // Rotated: a new, shorter file.
            self.offset = 0;
            self.partial.clear();
        }
        f.seek(SeekFrom::Start(self.offset))
            .map_err(|e| Error::io(&self.path, "read", e))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)
            .map_err(|e| Error::io(&self.path, "read", e))?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        // Only complete lines: the writer may be half-way through one.
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        Ok(String::from_utf8_lossy(&complete)
            .lines()
            .filter(|l| !l.is_empty())
            .map(LogLine::parse)
            .collect())
    }
}

/// A time given on the command line: RFC 3339 (`2026-11-26T13:45:00Z`), a date
/// (`2026-11-26`, midnight UTC), or an age before `now`: a number and a unit, `s`, `m`, `h`,
/// `d` or `w` (`30m`, `2h`, `3d`).
pub fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp> {
    let t = text.trim();
    if let Some(ts) = Timestamp::parse_rfc3339(t) {
        return Ok(ts);
    }
    if t.len() == 10
        && let Some(ts) = Timestamp::parse_rfc3339(&format!("{t}T00:00:00Z"))
    {
        return Ok(ts);
    }
    match crate::time::parse_duration(t) {
        Some(age) => Ok(Timestamp(now.0.saturating_sub(age))),
        _ => Err(Error::usage(format!("'{t}' is not a time")).with_hint(
            "give an RFC 3339 time (2026-11-26T13:45:00Z), a date (2026-11-26), or an age such as 30m, 2h, 3d, 1w",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_with_and_without_a_run() {
        let l = LogLine::parse("2026-11-26T13:45:00Z  SYNC     [run 12] Synchronization started");
        assert_eq!(l.time.as_deref(), Some("2026-11-26T13:45:00Z"));
        assert_eq!((l.component.as_str(), l.run), ("SYNC", Some(12)));
        assert_eq!(l.message, "Synchronization started");
        let l = LogLine::parse("2026-11-26T13:45:00Z  UPSTREAM upstream set to folder /x");
        assert_eq!((l.component.as_str(), l.run), ("UPSTREAM", None));
        assert_eq!(l.message, "upstream set to folder /x");
        let l = LogLine::parse("garbage [run 3] x");
        assert_eq!((l.time, l.run), (None, None));
        assert_eq!(l.message, "garbage [run 3] x");
        // A message that merely mentions a run later on is not one.
        let l = LogLine::parse("2026-11-26T13:45:00Z  IMPORT   Import of [run 4] x");
        assert_eq!(l.run, None);
    }

    /// The newest line taken, across chunk boundaries and rotated files; a torn last line
    /// left out; the search stops at a line older than the bound.
    #[test]
    fn find_last_reads_backwards_across_chunks_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let line = |i: u64, what: &str| {
            format!(
                "{}  IMPORT   {what} {i} {}\n",
                Timestamp(1_800_000_000 + i as i64).rfc3339(),
                "x".repeat(100)
            )
        };
        let mut old = String::new();
        old.push_str(&line(0, "refused"));
        (1..2000).for_each(|i| old.push_str(&line(i, "ok")));
        std::fs::write(dir.path().join("offsync.log.1"), &old).unwrap();
        let mut cur = String::new();
        (2000..3000).for_each(|i| cur.push_str(&line(i, "ok")));
        cur.push_str(&line(3000, "refused"));
        (3001..5000).for_each(|i| cur.push_str(&line(i, "ok")));
        // A line being written: not taken.
        cur.push_str("2027-01-15T08:00:00Z  IMPORT   refused 9999 (half writ");
        std::fs::write(dir.path().join(LOG_FILE), &cur).unwrap();
        let refused = |l: &LogLine| l.message.starts_with("refused ");
        let found = find_last(dir.path(), b"refused", None, &refused)
            .unwrap()
            .unwrap();
        assert!(found.message.starts_with("refused 3000 "), "{found:?}");
        std::fs::write(
            dir.path().join(LOG_FILE),
            cur.replace("refused 3000", "ok 3000"),
        )
        .unwrap();
        let found = find_last(dir.path(), b"refused", None, &refused)
            .unwrap()
            .unwrap();
        assert!(found.message.starts_with("refused 0 "), "{found:?}");
        let bound = Some(Timestamp(1_800_000_000 + 10));
        assert_eq!(
            find_last(dir.path(), b"refused", bound, &refused).unwrap(),
            None
        );
        assert_eq!(
            find_last(&dir.path().join("none"), b"", None, &refused).unwrap(),
            None
        );
    }

    #[test]
    fn since_takes_rfc3339_dates_and_ages() {
        let now = Timestamp::parse_rfc3339("2026-11-26T12:00:00Z").unwrap();
        let at = |s: &str| parse_since(s, now).unwrap().rfc3339();
        assert_eq!(at("2026-11-20T01:02:03Z"), "2026-11-20T01:02:03Z");
        assert_eq!(at("2026-11-20"), "2026-11-20T00:00:00Z");
        assert_eq!(at("2h"), "2026-11-26T10:00:00Z");
        assert_eq!(at("3d"), "2026-11-23T12:00:00Z");
        assert_eq!(at("30m"), "2026-11-26T11:30:00Z");
        assert_eq!(at("1w"), "2026-11-19T12:00:00Z");
        for bad in ["", "h", "-2h", "2y", "yesterday"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
