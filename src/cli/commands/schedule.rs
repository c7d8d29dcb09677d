//! `offsync schedule set|show|clear`, and what `sync --if-due` and `run` share on this
//! command line: the current time (with its test hook) and the system's time zone.

use crate::cli::args::StoreArg;
use crate::cli::exit::CliResult;
use crate::cli::output::{esc, out_json, say};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::schedule::{self, Due, Schedule};
use crate::store::Store;

/// When the store syncs on its own (`offsync run`, or `offsync sync --if-due` from cron or a
/// systemd timer).
#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Set the schedule: a cron expression ("0 2 * * SUN": minute hour day-of-month month
    /// day-of-week) or a readable form: hourly, daily [HH:MM], weekly DAY [HH:MM],
    /// monthly [DAY] [HH:MM], every Nm, every Nh. Times are in the local time zone unless
    /// --tz names one; daylight-saving changes are followed (a time skipped in spring runs
    /// at the first valid time after; a time repeated in autumn runs once).
    Set {
        #[command(flatten)]
        store: StoreArg,
        /// The schedule (quote it: "weekly sun 02:00").
        #[arg(value_name = "SPEC")]
        spec: String,
        /// The IANA time zone of its times (Europe/Rome, America/New_York, UTC). Default:
        /// the system's (TZ, else /etc/localtime or Windows' setting; UTC when unknown).
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// Print the result as JSON (the fields of `schedule show --json`).
        #[arg(long)]
        json: bool,
    },
    /// Show the schedule, its time zone, whether a sync is due, and the next five runs in
    /// the schedule's time and UTC.
    Show {
        #[command(flatten)]
        store: StoreArg,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove the schedule (`run` and `sync --if-due` then refuse to start).
    Clear {
        #[command(flatten)]
        store: StoreArg,
    },
}

pub fn run(c: Cmd, progress: &dyn Progress) -> CliResult {
    match c {
        Cmd::Set {
            store,
            spec,
            tz,
            json,
        } => {
            let zone = match tz {
                Some(z) => z,
                None => system_zone(progress),
            };
            let s = Schedule::parse(&spec, &zone)?;
            let mut st = Store::open(&store.store)?;
            schedule::save(&mut st, &s)?;
            st.log(
                "SCHEDULE",
                &format!("Schedule set: '{}' in {}", s.spec, s.zone),
                now(),
            );
            st.report_log_failure(progress);
            show(&st, &s, json)
        }
        Cmd::Show { store, json } => {
            let st = Store::open(&store.store)?;
            match schedule::load(&st)? {
                Some(s) => show(&st, &s, json),
                None if json => out_json(&serde_json::json!({ "schedule": null })),
                None => say("no schedule set (`offsync schedule set --store S SPEC` sets one)"),
            }
        }
        Cmd::Clear { store } => {
            let mut st = Store::open(&store.store)?;
            let had = schedule::clear(&mut st)?;
            if had {
                st.log("SCHEDULE", "Schedule cleared", now());
                st.report_log_failure(progress);
            }
            say(if had {
                "schedule cleared"
            } else {
                "no schedule was set"
            })
        }
    }
}

/// The spec, its cron expression, its zone, whether due, and the next five runs.
fn show(store: &Store, s: &Schedule, json: bool) -> CliResult {
    let now = now();
    let next = s.next_runs(now, 5)?;
    let due = schedule::next_sync(store, now)?.is_some_and(|n| n.due);
    if json {
        let runs: Vec<_> = next
            .iter()
            .map(|t| serde_json::json!({ "utc": t, "local": s.local_rfc3339(*t) }))
            .collect();
        return out_json(&serde_json::json!({
            "schedule": s.spec,
            "cron": s.cron,
            "zone": s.zone,
            "due": due,
            "next_runs": runs,
        }));
    }
    say(format!("schedule: {}  (cron: {})", esc(&s.spec), s.cron))?;
    say(format!("time zone: {}", s.zone))?;
    if due {
        say("a sync is due now (`offsync sync --if-due` or `offsync run` would sync at once)")?;
    }
    say("next runs:")?;
    for t in next {
        say(format!("  {}  ({t})", s.local(t)))?;
    }
    Ok(())
}

/// Why `sync --if-due` does not sync now: the text or JSON it prints. `None` when a sync is
/// due. Without a schedule, a usage error.
pub(super) fn not_due(store: &Store, json: bool) -> Result<Option<CliResult>> {
    let Some(s) = schedule::load(store)? else {
        return Err(
            Error::usage("--if-due needs a schedule, and this store has none").with_hint(
                "set one with `offsync schedule set --store S SPEC` (e.g. \"weekly sun 02:00\"), or sync without --if-due",
            ),
        );
    };
    let until = match schedule::due(&s, &schedule::last_run(store)?, now())? {
        Due::Due => return Ok(None),
        Due::NotDue(t) => t,
    };
    Ok(Some(if json {
        out_json(&serde_json::json!({
            "outcome": "not-due",
            "due": false,
            "next_run": until,
            "next_run_local": s.local_rfc3339(until),
        }))
    } else {
        say(format!("not due until {} ({until})", s.local(until)))
    }))
}

/// The current time (the test hook `OFFSYNC_TEST_NOW` is read in `cli::args`).
pub(super) use crate::cli::args::now;

/// The system's IANA time zone: TZ when it names one, else the operating system's setting,
/// else UTC (with a note).
fn system_zone(progress: &dyn Progress) -> String {
    let valid = |z: &str| z.parse::<chrono_tz::Tz>().is_ok();
    if let Ok(tz) = std::env::var("TZ") {
        // POSIX allows a leading ':' before a zone name.
        let tz = tz.trim_start_matches(':');
        if valid(tz) {
            return tz.to_string();
        }
    }
    match iana_time_zone::get_timezone() {
        Ok(z) if valid(&z) => z,
        _ => {
            progress.note(
                "note: the system's time zone is unknown; the schedule is in UTC (--tz ZONE sets another)",
            );
            "UTC".to_string()
        }
    }
}
