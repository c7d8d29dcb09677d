//! When a store syncs on its own: a schedule (a cron expression, or a readable form that
//! translates to one) in a named time zone, the next runs after a given time, and whether a
//! sync is due. Pure: the current time is always a parameter.
//!
//! Daylight-saving changes are the cron crate's (croner) to get right, and it does: a fixed
//! time that falls into a spring-forward gap runs once at the first valid instant after the
//! gap; a fixed time inside the repeated autumn hour runs once, at its first occurrence.
//! Interval forms (`every 30m`, `every 6h`, `hourly`) run on wall-clock times, so an interval
//! slot in the gap does not exist and the repeated hour has its own slots.

use crate::error::{Error, Result};
use crate::store::Store;
use crate::time::Timestamp;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde::Serialize;

/// The store settings that hold the schedule (as the user wrote it) and its time zone.
pub const SPEC_SETTING: &str = "schedule";
pub const ZONE_SETTING: &str = "schedule_tz";

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// As given (whitespace collapsed).
    pub spec: String,
    /// The cron expression it means (the spec itself when it is one).
    pub cron: String,
    /// The IANA name of the time zone its times are in.
    pub zone: String,
    tz: Tz,
    parsed: Cron,
}

/// Whether a sync is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// A slot passed since the last run started (or nothing ever ran): run once now, however
    /// many slots were missed.
    Due,
    /// Not before this time.
    NotDue(Timestamp),
}

impl Schedule {
    /// Parses `spec` (a cron expression of five fields, or a readable form) in the IANA time
    /// zone `zone`. Errors name the spec or zone and say what is accepted.
    pub fn parse(spec: &str, zone: &str) -> Result<Schedule> {
        let spec = spec.split_whitespace().collect::<Vec<_>>().join(" ");
        let tz: Tz = zone.trim().parse().map_err(|_| {
            Error::usage(format!("'{zone}' is not an IANA time zone")).with_hint(
                "give a name from the time-zone database, such as Europe/Rome, America/New_York or UTC",
            )
        })?;
        let cron = readable_to_cron(&spec)?.unwrap_or_else(|| spec.clone());
        let parsed = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .build()
            .parse(&cron)
            .map_err(|e| {
                Error::usage(format!(
                    "schedule '{spec}' is not a valid cron expression: {e}"
                ))
                .with_hint(FORMS_HINT)
            })?;
        Ok(Schedule {
            spec,
            cron,
            zone: tz.name().to_string(),
            tz,
            parsed,
        })
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: Timestamp) -> Result<Timestamp> {
        let start = self.tz.from_utc_datetime(&utc(t)?.naive_utc());
        let next = self
            .parsed
            .find_next_occurrence(&start, false)
            .map_err(|e| {
                Error::other(format!(
                    "schedule '{}' has no run after {t}: {e}",
                    self.spec
                ))
            })?;
        Ok(Timestamp(next.timestamp()))
    }

    /// The next `n` slots after `t`.
    pub fn next_runs(&self, t: Timestamp, n: usize) -> Result<Vec<Timestamp>> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        for _ in 0..n {
            at = self.next_after(at)?;
            out.push(at);
        }
        Ok(out)
    }

    /// `t` in the schedule's time zone: `2026-03-29 03:00:00 CEST (+02:00)`.
    pub fn local(&self, t: Timestamp) -> String {
        match utc(t) {
            Ok(u) => u
                .with_timezone(&self.tz)
                .format("%Y-%m-%d %H:%M:%S %Z (%:z)")
                .to_string(),
            Err(_) => t.to_string(),
        }
    }

    /// `t` in the schedule's time zone as RFC 3339 with its offset, for JSON.
    pub fn local_rfc3339(&self, t: Timestamp) -> String {
        match utc(t) {
            Ok(u) => u
                .with_timezone(&self.tz)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            Err(_) => t.to_string(),
        }
    }
}

/// The first slot of `spec` in `zone` strictly after `t`.
pub fn next_after(spec: &str, zone: &str, t: Timestamp) -> Result<Timestamp> {
    Schedule::parse(spec, zone)?.next_after(t)
}

/// Whether a sync is due at `now`, given when the last sync run started (see [`due`]; this
/// knows nothing of failures).
pub fn is_due(
    schedule: &Schedule,
    last_run_started: Option<Timestamp>,
    now: Timestamp,
) -> Result<Due> {
    due(
        schedule,
        &LastRun {
            started: last_run_started,
            failed: None,
        },
        now,
    )
}

/// First retry delay after a failed run, and the longest.
pub const RETRY_FIRST_SECS: i64 = 60;
pub const RETRY_MAX_SECS: i64 = 3600;

/// The delay before retrying after `n` failed runs in a row: 1 minute, doubling, at most 1 hour.
pub fn backoff(n: u32) -> i64 {
    let doublings = n.saturating_sub(1).min(16);
    (RETRY_FIRST_SECS << doublings).min(RETRY_MAX_SECS)
}

/// What the rule for "due" needs to know of the past runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LastRun {
    /// When the last run started (of any outcome).
    pub started: Option<Timestamp>,
    /// When the last run failed: when it finished, and how many runs in a row failed.
    pub failed: Option<(Timestamp, u32)>,
}

/// When the next run is due after `last`, and whether that is a retry of a failed run (which
/// comes before the next slot); `None` when nothing ever ran (due at once). A failed run is
/// retried at its end plus [`backoff`] of the failures in a row, or at the next slot when that
/// comes first: one transient failure does not cost a whole period (a week, for a weekly
/// schedule), and a failing upstream is not hammered.
pub fn next_due(schedule: &Schedule, last: &LastRun) -> Result<Option<(Timestamp, bool)>> {
    let Some(started) = last.started else {
        return Ok(None);
    };
    let slot = schedule.next_after(started)?;
    Ok(Some(match last.failed {
        Some((finished, n)) => {
            let retry = Timestamp(finished.0.saturating_add(backoff(n.max(1))));
            if retry < slot {
                (retry, true)
            } else {
                (slot, false)
            }
        }
        None => (slot, false),
    }))
}

/// The one rule for "due", used by `run` and by `sync --if-due`: due when the time
/// [`next_due`] gives has come, or when nothing ever ran. A machine that was off for several
/// slots gets one run, not one per slot, because only the first slot after the last start
/// counts. A last run that started (or finished) after `now` means the clock was wrong then
/// or is now: due, rather than silent until that time comes.
pub fn due(schedule: &Schedule, last: &LastRun, now: Timestamp) -> Result<Due> {
    let in_future =
        last.started.is_some_and(|t| t > now) || last.failed.is_some_and(|(t, _)| t > now);
    if in_future {
        return Ok(Due::Due);
    }
    Ok(match next_due(schedule, last)? {
        Some((at, _)) if at > now => Due::NotDue(at),
        _ => Due::Due,
    })
}

/// What the store's sync history says of the last runs, for [`due`].
pub fn last_run(store: &Store) -> Result<LastRun> {
    let Some(l) = store.last_sync()? else {
        return Ok(LastRun::default());
    };
    let started = Timestamp::parse_rfc3339(&l.started);
    let failed = if l.outcome == crate::model::SyncOutcome::Failed {
        let finished = l
            .finished
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
            .or(started);
        match finished {
            Some(f) => Some((f, store.sync_failures_in_row()?.max(1))),
            None => None,
        }
    } else {
        None
    };
    Ok(LastRun { started, failed })
}

/// The store's schedule, if one is set.
pub fn load(store: &Store) -> Result<Option<Schedule>> {
    let Some(spec) = store.setting(SPEC_SETTING)? else {
        return Ok(None);
    };
    let zone = store
        .setting(ZONE_SETTING)?
        .unwrap_or_else(|| "UTC".to_string());
    Schedule::parse(&spec, &zone).map(Some).map_err(|e| {
        e.with_hint("set it again with `offsync schedule set`, or `offsync schedule clear`")
    })
}

/// Stores `schedule` as the store's schedule.
pub fn save(store: &mut Store, schedule: &Schedule) -> Result<()> {
    store.set_setting(SPEC_SETTING, &schedule.spec)?;
    store.set_setting(ZONE_SETTING, &schedule.zone)
}

/// Removes the store's schedule; whether there was one.
pub fn clear(store: &mut Store) -> Result<bool> {
    let had = store.setting(SPEC_SETTING)?.is_some();
    store.remove_setting(SPEC_SETTING)?;
    store.remove_setting(ZONE_SETTING)?;
    Ok(had)
}

/// When the last sync run (of any outcome) started, from the store's sync history.
pub fn last_run_started(store: &Store) -> Result<Option<Timestamp>> {
    Ok(store
        .last_sync()?
        .and_then(|r| Timestamp::parse_rfc3339(&r.started)))
}

/// The next scheduled sync of a store, for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct NextSync {
    pub spec: String,
    pub zone: String,
    /// The first slot after the last sync run's start, or the retry before it after a failed
    /// run (in the past when a run is overdue); `now` when the store never synced.
    pub at: Timestamp,
    /// `at` in the schedule's time zone (RFC 3339 with the offset).
    pub local: String,
    /// Whether a sync is due at `now` (`sync --if-due` would sync; `run` syncs at once).
    pub due: bool,
}

/// The store's next scheduled sync as seen at `now`; `None` without a schedule.
pub fn next_sync(store: &Store, now: Timestamp) -> Result<Option<NextSync>> {
    let Some(s) = load(store)? else {
        return Ok(None);
    };
    let last = last_run(store)?;
    let is_due = due(&s, &last, now)? == Due::Due;
    let mut at = next_due(&s, &last)?.map_or(now, |(t, _)| t);
    if is_due && at > now {
        // Due because the last run is recorded in the future (a wrong clock): due now.
        at = now;
    }
    Ok(Some(NextSync {
        local: s.local_rfc3339(at),
        due: is_due,
        spec: s.spec,
        zone: s.zone,
        at,
    }))
}

const FORMS_HINT: &str = "give five cron fields (minute hour day-of-month month day-of-week, e.g. '0 2 * * SUN') \
or a readable form: hourly, daily [HH:MM], weekly DAY [HH:MM], monthly [DAY-OF-MONTH] [HH:MM], every Nm, every Nh";

/// The cron expression a readable form means; `None` when `spec` does not start with one of
/// the readable words (it is then taken as a cron expression).
fn readable_to_cron(spec: &str) -> Result<Option<String>> {
    let lower = spec.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(' ').collect();
    let bad = |why: &str| Error::usage(format!("schedule '{spec}': {why}")).with_hint(FORMS_HINT);
    let cron = match words.as_slice() {
        ["hourly"] => "0 * * * *".to_string(),
        ["hourly", ..] => return Err(bad("hourly takes no time (every 30m, every 2h, or cron)")),
        ["daily" | "weekly" | "monthly", ..] if words.len() > 3 => {
            return Err(bad("too many words"));
        }
        ["daily", rest @ ..] => {
            let (h, m) = time_of_day(rest, &bad)?;
            format!("{m} {h} * * *")
        }
        ["weekly", day, rest @ ..] => {
            let d = weekday(day).ok_or_else(|| {
                bad(&format!(
                    "'{day}' is not a day of the week (sun, mon, ... sat)"
                ))
            })?;
            let (h, m) = time_of_day(rest, &bad)?;
            format!("{m} {h} * * {d}")
        }
        ["weekly"] => return Err(bad("weekly needs a day (weekly sun 02:00)")),
        ["monthly", rest @ ..] => {
            let (day, rest) = match rest.first() {
                Some(d) if !d.contains(':') => {
                    let n: u32 = d.parse().ok().filter(|n| (1..=28).contains(n)).ok_or_else(
                        || {
                            bad(&format!(
                                "'{d}' is not a day of the month from 1 to 28 (every month has it)"
                            ))
                        },
                    )?;
                    (n, &rest[1..])
                }
                _ => (1, rest),
            };
            let (h, m) = time_of_day(rest, &bad)?;
            format!("{m} {h} {day} * *")
        }
        ["every", n] => every(n, &bad)?,
        ["every", ..] => return Err(bad("every takes one interval (every 30m, every 6h)")),
        _ => return Ok(None),
    };
    Ok(Some(cron))
}

/// `HH:MM` (or nothing: midnight).
fn time_of_day(rest: &[&str], bad: &dyn Fn(&str) -> Error) -> Result<(u32, u32)> {
    match rest {
        [] => Ok((0, 0)),
        [t] => {
            let parsed = t.split_once(':').and_then(|(h, m)| {
                let ok = |s: &str| {
                    !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit())
                };
                (ok(h) && m.len() == 2 && ok(m))
                    .then(|| (h.parse::<u32>().ok(), m.parse::<u32>().ok()))
            });
            match parsed {
                Some((Some(h), Some(m))) if h < 24 && m < 60 => Ok((h, m)),
                _ => Err(bad(&format!(
                    "'{t}' is not a time of day HH:MM (00:00 to 23:59)"
                ))),
            }
        }
        _ => Err(bad("too many words")),
    }
}

/// A day of the week as cron's number (0 = Sunday).
fn weekday(day: &str) -> Option<u32> {
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    DAYS.iter()
        .position(|full| day.len() >= 3 && full.starts_with(day))
        .map(|i| i as u32)
}

/// `every Nm` / `every Nh`: the interval must divide the hour or the day, so that the slots
/// are evenly spaced (cron restarts its steps at every hour or day).
fn every(n: &str, bad: &dyn Fn(&str) -> Error) -> Result<String> {
    let (num, unit) = n.split_at(n.find(|c: char| !c.is_ascii_digit()).unwrap_or(n.len()));
    let v: u32 = num
        .parse()
        .map_err(|_| bad(&format!("'{n}' is not an interval such as 30m or 6h")))?;
    match unit {
        "m" | "min" if v > 0 && 60 % v == 0 => Ok(if v == 60 {
            "0 * * * *".to_string()
        } else {
            format!("*/{v} * * * *")
        }),
        "h" if v > 0 && 24 % v == 0 => Ok(if v == 24 {
            "0 0 * * *".to_string()
        } else {
            format!("0 */{v} * * *")
        }),
        "m" | "min" => Err(bad(&format!(
            "{v} minutes does not divide an hour (use 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)"
        ))),
        "h" => Err(bad(&format!(
            "{v} hours does not divide a day (use 1, 2, 3, 4, 6, 8, 12 or 24)"
        ))),
        _ => Err(bad(&format!("'{n}': the unit must be m or h"))),
    }
}

fn utc(t: Timestamp) -> Result<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(t.0, 0)
        .ok_or_else(|| Error::other(format!("time {} is out of range", t.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn readable_forms_translate_to_cron() {
        for (spec, cron) in [
            ("weekly sun 02:00", "0 2 * * 0"),
            ("Weekly  Saturday 23:59", "59 23 * * 6"),
            ("daily 03:30", "30 3 * * *"),
            ("daily", "0 0 * * *"),
            ("daily 7:05", "5 7 * * *"),
            ("every 6h", "0 */6 * * *"),
            ("every 24h", "0 0 * * *"),
            ("every 30m", "*/30 * * * *"),
            ("every 60m", "0 * * * *"),
            ("hourly", "0 * * * *"),
            ("monthly", "0 0 1 * *"),
            ("monthly 15 04:00", "0 4 15 * *"),
            ("monthly 04:00", "0 4 1 * *"),
            ("0 2 * * SUN", "0 2 * * SUN"),
            ("*/15  *  * * *", "*/15 * * * *"),
        ] {
            let s = Schedule::parse(spec, "UTC").unwrap_or_else(|e| panic!("{spec}: {e:?}"));
            assert_eq!(s.cron, cron, "{spec}");
        }
    }

    #[test]
    fn invalid_specs_are_refused_naming_the_spec() {
        for (spec, says) in [
            ("weekly funday 02:00", "'funday' is not a day"),
            ("weekly", "needs a day"),
            ("daily 25:00", "'25:00' is not a time of day"),
            ("daily 3:5", "'3:5' is not a time of day"),
            ("every 7h", "7 hours does not divide a day"),
            ("every 45m", "45 minutes does not divide an hour"),
            ("every 0h", "0 hours"),
            ("every 3d", "unit must be m or h"),
            ("every", ""),
            ("monthly 31", "day of the month from 1 to 28"),
            ("hourly 05", "hourly takes no time"),
            ("daily 02:00 03:00", "too many words"),
            ("0 2 * *", "not a valid cron expression"),
            ("0 0 2 * * *", "not a valid cron expression"),
            ("61 2 * * *", "not a valid cron expression"),
            ("sometimes", "not a valid cron expression"),
        ] {
            let e = Schedule::parse(spec, "UTC").expect_err(spec);
            assert_eq!(e.kind, crate::ErrorKind::Usage, "{spec}");
            assert!(
                e.message.contains(&format!("'{spec}'")) && e.message.contains(says),
                "{spec}: {}",
                e.message
            );
            assert!(
                e.hint.as_deref().unwrap_or("").contains("every Nh"),
                "{spec}"
            );
        }
        let e = Schedule::parse("daily", "Mars/Olympus").unwrap_err();
        assert!(e.message.contains("'Mars/Olympus'"), "{}", e.message);
    }

    /// Rome springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST) and falls back on
    /// 2026-10-25 (03:00 CEST -> 02:00 CET).
    #[test]
    fn daily_0230_across_both_dst_changes_in_rome() {
        let s = Schedule::parse("daily 02:30", "Europe/Rome").unwrap();
        let spring = s.next_runs(ts("2026-03-27T12:00:00Z"), 4).unwrap();
        assert_eq!(
            spring,
            [
                ts("2026-03-28T01:30:00Z"), // 02:30 CET
                // 02:30 does not exist on the 29th: once, at the first valid instant after
                // the gap (03:00 CEST).
                ts("2026-03-29T01:00:00Z"),
                ts("2026-03-30T00:30:00Z"), // 02:30 CEST
                ts("2026-03-31T00:30:00Z"),
            ]
        );
        assert_eq!(s.local(spring[1]), "2026-03-29 03:00:00 CEST (+02:00)");
        let autumn = s.next_runs(ts("2026-10-23T12:00:00Z"), 4).unwrap();
        assert_eq!(
            autumn,
            [
                ts("2026-10-24T00:30:00Z"), // 02:30 CEST
                // 02:30 happens twice on the 25th: once only, the first time.
                ts("2026-10-25T00:30:00Z"),
                ts("2026-10-26T01:30:00Z"), // 02:30 CET
                ts("2026-10-27T01:30:00Z"),
            ]
        );
        // Asked from inside the repeated hour (after the first 02:30, before the second),
        // the next run is the next day's, not the repeat.
        assert_eq!(
            s.next_after(ts("2026-10-25T00:45:00Z")).unwrap(),
            ts("2026-10-26T01:30:00Z")
        );
    }

    #[test]
    fn new_york_weekly_and_hourly_across_dst() {
        // New York springs forward on 2026-03-08 at 02:00 and falls back on 2026-11-01.
        let s = Schedule::parse("0 2 * * SUN", "America/New_York").unwrap();
        assert_eq!(
            s.next_runs(ts("2026-03-01T12:00:00Z"), 2).unwrap(),
            [ts("2026-03-08T07:00:00Z"), ts("2026-03-15T06:00:00Z")]
        );
        assert_eq!(
            s.next_runs(ts("2026-10-31T12:00:00Z"), 2).unwrap(),
            [ts("2026-11-01T07:00:00Z"), ts("2026-11-08T07:00:00Z")]
        );
        // 01:30 happens twice on 2026-11-01 (EDT, then EST): the run is the first one only.
        let s = Schedule::parse("weekly sun 01:30", "America/New_York").unwrap();
        assert_eq!(
            s.next_runs(ts("2026-10-31T12:00:00Z"), 2).unwrap(),
            [ts("2026-11-01T05:30:00Z"), ts("2026-11-08T06:30:00Z")]
        );
        // Hourly slots are wall-clock hours: both 01:00s of the repeated hour run.
        let h = Schedule::parse("hourly", "America/New_York").unwrap();
        assert_eq!(
            h.next_runs(ts("2026-11-01T04:30:00Z"), 3).unwrap(),
            [
                ts("2026-11-01T05:00:00Z"),
                ts("2026-11-01T06:00:00Z"),
                ts("2026-11-01T07:00:00Z")
            ]
        );
    }

    #[test]
    fn next_sync_of_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = ts("2026-12-06T10:00:00Z");
        let mut st = Store::init(&dir.path().join("s"), None, t0).unwrap();
        assert!(next_sync(&st, t0).unwrap().is_none());
        save(
            &mut st,
            &Schedule::parse("daily 02:30", "Europe/Rome").unwrap(),
        )
        .unwrap();
        let n = next_sync(&st, t0).unwrap().unwrap();
        assert_eq!((n.at, n.due), (t0, true), "never synced: due now");
        let mut tx = st.begin().unwrap();
        tx.record_sync_run(&crate::store::SyncRunRecord {
            started: t0.rfc3339(),
            finished: Some(t0.rfc3339()),
            source: "x".into(),
            outcome: crate::model::SyncOutcome::Succeeded,
            ..Default::default()
        })
        .unwrap();
        tx.commit().unwrap();
        let n = next_sync(&st, t0).unwrap().unwrap();
        assert_eq!(n.at, ts("2026-12-07T01:30:00Z"));
        assert_eq!(n.local, "2026-12-07T02:30:00+01:00");
        assert!(!n.due);
        assert_eq!(
            (n.spec.as_str(), n.zone.as_str()),
            ("daily 02:30", "Europe/Rome")
        );
        let later = next_sync(&st, ts("2026-12-09T00:00:00Z")).unwrap().unwrap();
        assert_eq!(
            (later.at, later.due),
            (n.at, true),
            "overdue: the missed slot"
        );
        assert!(clear(&mut st).unwrap());
        assert!(next_sync(&st, t0).unwrap().is_none());
        assert!(!clear(&mut st).unwrap());
    }

    #[test]
    fn a_failed_run_is_retried_with_back_off_capped_at_the_next_slot() {
        let s = Schedule::parse("weekly sun 02:00", "UTC").unwrap();
        let started = ts("2026-12-07T10:00:00Z");
        let failed = |finished: &str, n| LastRun {
            started: Some(started),
            failed: Some((ts(finished), n)),
        };
        let last = failed("2026-12-07T10:00:05Z", 1);
        assert_eq!(
            due(&s, &last, ts("2026-12-07T10:01:00Z")).unwrap(),
            Due::NotDue(ts("2026-12-07T10:01:05Z"))
        );
        assert_eq!(
            due(&s, &last, ts("2026-12-07T10:01:05Z")).unwrap(),
            Due::Due
        );
        assert_eq!(
            next_due(&s, &failed("2026-12-07T10:00:05Z", 3)).unwrap(),
            Some((ts("2026-12-07T10:04:05Z"), true))
        );
        // An hour at most; and never past the next slot.
        assert_eq!(
            next_due(&s, &failed("2026-12-07T10:00:05Z", 30)).unwrap(),
            Some((ts("2026-12-07T11:00:05Z"), true))
        );
        let near_slot = LastRun {
            started: Some(ts("2026-12-13T01:30:00Z")),
            failed: Some((ts("2026-12-13T01:30:00Z"), 9)),
        };
        assert_eq!(
            next_due(&s, &near_slot).unwrap(),
            Some((ts("2026-12-13T02:00:00Z"), false))
        );
        // A last run recorded in the future (a wrong clock): due now, not in 2031.
        let ahead = LastRun {
            started: Some(ts("2031-01-01T00:00:00Z")),
            failed: None,
        };
        assert_eq!(due(&s, &ahead, started).unwrap(), Due::Due);
    }

    #[test]
    fn a_missed_run_is_due_once() {
        let s = Schedule::parse("daily 03:30", "UTC").unwrap();
        let last = ts("2026-12-01T03:30:05Z");
        assert_eq!(
            is_due(&s, Some(last), ts("2026-12-02T03:29:59Z")).unwrap(),
            Due::NotDue(ts("2026-12-02T03:30:00Z"))
        );
        // Off for five days: due now, and once the run started, not due again until the
        // next slot (not once per missed day).
        let now = ts("2026-12-06T10:00:00Z");
        assert_eq!(is_due(&s, Some(last), now).unwrap(), Due::Due);
        assert_eq!(
            is_due(&s, Some(now), now).unwrap(),
            Due::NotDue(ts("2026-12-07T03:30:00Z"))
        );
        assert_eq!(is_due(&s, None, now).unwrap(), Due::Due);
        assert_eq!(
            next_after("daily 03:30", "UTC", now).unwrap(),
            ts("2026-12-07T03:30:00Z")
        );
    }
}
