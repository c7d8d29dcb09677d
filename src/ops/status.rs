//! The state of an update point in one value: what `status` shows and monitoring reads.
//!
//! Beyond the store's own records (last sync, totals, content, exchanges), a status says the
//! point's role in the hierarchy, its last error, the points downstream of it, and the
//! warnings that the staleness thresholds give. What comes from elsewhere (the current time,
//! the next scheduled sync, the downstream points registered from receipts) is passed in
//! [`StatusInputs`], so that the judgement ([`own_warnings`], [`downstream_status`]) is a pure
//! function of plain values.

use crate::error::{Error, Result};
use crate::store::{
    ContentStats, ExportRecord, FailedRun, ImportRecord, InterruptedRun, LastSync, Store,
    StoreTotals,
};
use crate::time::Timestamp;
use serde::Serialize;

const DAY: i64 = 86_400;

/// How far after the current time a recorded time may be before it counts as a wrong clock
/// (a day: clocks set by hand on isolated machines drift, time zones get mixed up).
pub const CLOCK_SKEW_SECS: i64 = DAY;

/// Files and bytes still to download (`status --json` `to_fetch`).
#[derive(Clone, Debug, Serialize)]
pub struct ToFetch {
    pub files: u64,
    pub bytes: u64,
}

/// `status --json`.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub store_id: String,
    pub store_name: String,
    pub upstream: Option<String>,
    pub last_sync: Option<LastSync>,
    pub totals: StoreTotals,
    pub content: ContentStats,
    /// What `content fetch` would download: the missing files of the updates that are not
    /// declined (each file once).
    pub to_fetch: ToFetch,
    pub last_export: Option<ExportRecord>,
    pub last_import: Option<ImportRecord>,
    /// The last export or import stopped by SIGINT or SIGTERM.
    pub last_interrupted: Option<InterruptedRun>,
    /// The time this status was taken at.
    pub checked_at: Timestamp,
    pub role: Role,
    /// What the upstream is: `store` (a parent store), `file` (a catalog or WSUS package) or
    /// `folder` (of update documents); none without an upstream.
    pub upstream_kind: Option<&'static str>,
    /// The id of the last sync run (`offsync log --run N`).
    pub last_sync_run: Option<i64>,
    /// How long the last sync took, in seconds.
    pub last_sync_seconds: Option<i64>,
    /// When the last successful sync finished.
    pub last_successful_sync: Option<String>,
    /// The most recent failure of a sync or an import (refused bundle), whether or not a
    /// later run succeeded.
    pub last_error: Option<FailedRun>,
    /// When the next scheduled sync is due; none without a schedule.
    pub next_sync: Option<Timestamp>,
    /// The same in the schedule's time zone (RFC 3339 with its offset).
    pub next_sync_local: Option<String>,
    pub thresholds: Thresholds,
    /// The points downstream of this one: children that synced from it, isolated points
    /// that sent receipts.
    pub downstream: Vec<DownstreamStatus>,
    /// Every problem of this point and of its downstream points.
    pub warnings: Vec<Warning>,
    /// No warnings: what `status --check` reports as OK.
    pub ok: bool,
}

/// A point's place in the hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Syncs from a folder, a catalog or a WSUS package: the top of a hierarchy.
    TopLevel,
    /// Syncs from a parent store.
    Child,
    /// No upstream: takes bundles across an air gap (or is not yet set up).
    Disconnected,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::TopLevel => "top-level",
            Role::Child => "child",
            Role::Disconnected => "disconnected",
        }
    }
}

/// When a point counts as stale. Kept per store (`offsync status thresholds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    /// A point with an upstream: no successful sync in this many days.
    pub sync_days: u32,
    /// A disconnected point: no import in this many days (bundles cross the gap by hand,
    /// monthly at most sites: a week would flag every one of them).
    pub import_days: u32,
    /// A downstream point this many bundles behind.
    pub downstream_bundles: u64,
    /// A downstream point behind for this many days.
    pub downstream_days: u32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            sync_days: 8,
            import_days: 35,
            downstream_bundles: 3,
            downstream_days: 35,
        }
    }
}

/// The `store_info` keys of the thresholds, in [`Thresholds`] field order.
const THRESHOLD_KEYS: [&str; 4] = [
    "stale_sync_days",
    "stale_import_days",
    "stale_downstream_bundles",
    "stale_downstream_days",
];

impl Thresholds {
    /// The store's thresholds: the defaults where it sets none.
    pub fn load(store: &Store) -> Result<Thresholds> {
        let d = Thresholds::default();
        let get = |i: usize, default: u64| -> Result<u64> {
            Ok(store
                .setting(THRESHOLD_KEYS[i])?
                .and_then(|v| v.parse().ok())
                .unwrap_or(default))
        };
        Ok(Thresholds {
            sync_days: get(0, d.sync_days.into())? as u32,
            import_days: get(1, d.import_days.into())? as u32,
            downstream_bundles: get(2, d.downstream_bundles)?,
            downstream_days: get(3, d.downstream_days.into())? as u32,
        })
    }

    /// Keeps `t` as the store's thresholds, and logs the change.
    pub fn save(store: &mut Store, t: &Thresholds, now: Timestamp) -> Result<()> {
        if t.sync_days == 0
            || t.import_days == 0
            || t.downstream_bundles == 0
            || t.downstream_days == 0
        {
            return Err(
                Error::usage("a staleness threshold of 0 would make every point stale")
                    .with_hint("give 1 or more"),
            );
        }
        let values = [
            u64::from(t.sync_days),
            u64::from(t.import_days),
            t.downstream_bundles,
            u64::from(t.downstream_days),
        ];
        for (k, v) in THRESHOLD_KEYS.iter().zip(values) {
            store.set_setting(k, &v.to_string())?;
        }
        store.log(
            "STATUS",
            &format!(
                "staleness thresholds set: no sync in {} days, no import in {} days, downstream {} bundles or {} days behind",
                t.sync_days, t.import_days, t.downstream_bundles, t.downstream_days
            ),
            now,
        );
        Ok(())
    }
}

/// One problem `status` warns of and `status --check` fails on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The point's store name.
    pub point: String,
    pub point_id: String,
    /// `sync-failed`, `sync-stale`, `sync-in-future`, `import-failed`, `import-stale`,
    /// `import-in-future`, `downstream-failed`, `downstream-bundles-behind` or
    /// `downstream-days-behind`.
    pub problem: &'static str,
    /// The problem in a sentence.
    pub message: String,
}

/// A downstream point as the caller knows it (from the receipts it sent, or from a child's
/// syncs): plain values, so that what registers points and what judges them stay apart.
#[derive(Clone, Debug)]
pub struct DownstreamInput {
    pub id: String,
    pub name: String,
    /// `child` (syncs from this store) or `disconnected` (sends receipts across the gap).
    pub kind: String,
    /// The last change sequence (or bundle sequence) of this store it acknowledged.
    pub acknowledged_sequence: Option<u64>,
    /// Bundles of this store it has not acknowledged.
    pub bundles_behind: u64,
    /// Changes of this store it has not acknowledged (how a child that syncs is behind: it
    /// takes no bundles).
    pub changes_behind: u64,
    /// When what it acknowledged was made here (the export's time); none when it
    /// acknowledged nothing.
    pub acknowledged_at: Option<Timestamp>,
    /// When its last receipt (or sync) reached this store.
    pub received: Timestamp,
    /// Its last import's outcome as it reported it (`imported`, `refused`...).
    pub last_import_outcome: Option<String>,
    /// Its last import's error, when that import failed.
    pub last_error: Option<String>,
}

/// A downstream point in `status`.
#[derive(Clone, Debug, Serialize)]
pub struct DownstreamStatus {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub acknowledged_sequence: Option<u64>,
    pub bundles_behind: u64,
    /// Days since what it acknowledged was made, when it is behind (0 when level); none
    /// when it is behind but acknowledged nothing.
    pub days_behind: Option<u64>,
    pub last_import_outcome: Option<String>,
    pub last_error: Option<String>,
    pub received: Timestamp,
    pub warnings: Vec<Warning>,
}

/// What `status` takes from outside the store.
#[derive(Clone, Debug)]
pub struct StatusInputs {
    pub now: Timestamp,
    pub thresholds: Thresholds,
    pub next_sync: Option<Timestamp>,
    /// `next_sync` in the schedule's time zone.
    pub next_sync_local: Option<String>,
    pub downstream: Vec<DownstreamInput>,
}

/// The facts about a point's own syncs and imports that its warnings depend on.
#[derive(Clone, Debug)]
pub struct OwnFacts {
    pub name: String,
    pub id: String,
    pub role: Role,
    pub last_success: Option<Timestamp>,
    /// The last sync run, when it failed.
    pub sync_failed: Option<FailedRun>,
    pub last_import: Option<Timestamp>,
    /// The last refused import, when no import succeeded after it.
    pub import_refused: Option<FailedRun>,
}

pub fn status(store: &Store, inputs: &StatusInputs) -> Result<Status> {
    let now = inputs.now;
    let th = inputs.thresholds;
    let upstream = store.setting("upstream")?;
    let last_sync = store.last_sync()?;
    let last_import = store.last_import()?;
    let last_run = store.sync_history(1)?.pop();
    let success = store.last_successful_sync_at()?;
    let (role, upstream_kind) = role_of(upstream.as_deref(), success.as_ref().map(|s| &s.1));
    let failed_sync = store.last_failed_sync()?;
    let imported_at = last_import
        .as_ref()
        .and_then(|i| Timestamp::parse_rfc3339(&i.imported));
    let refused = last_refusal(store, failed_sync.as_ref(), imported_at)?;
    let own = OwnFacts {
        name: store.name().to_string(),
        id: store.id().to_string(),
        role,
        last_success: success
            .as_ref()
            .and_then(|s| Timestamp::parse_rfc3339(&s.0)),
        sync_failed: failed_sync
            .clone()
            .filter(|_| last_run.as_ref().is_some_and(|r| r.outcome == "failed")),
        last_import: imported_at,
        import_refused: refused.clone().filter(|f| {
            Timestamp::parse_rfc3339(&f.at).is_some_and(|at| imported_at.is_none_or(|i| at >= i))
        }),
    };
    let mut warnings = own_warnings(&own, now, &th);
    let downstream: Vec<DownstreamStatus> = inputs
        .downstream
        .iter()
        .map(|d| downstream_status(d, now, &th))
        .collect();
    warnings.extend(downstream.iter().flat_map(|d| d.warnings.iter().cloned()));
    Ok(Status {
        store_id: own.id,
        store_name: own.name,
        upstream,
        last_sync_seconds: last_sync.as_ref().and_then(duration_of),
        last_sync,
        totals: store.totals()?,
        content: store.content_stats()?,
        to_fetch: {
            let (files, bytes) = crate::fetch::content::to_fetch(store)?;
            ToFetch { files, bytes }
        },
        last_export: store.last_export()?,
        last_import,
        last_interrupted: store.last_interrupted()?,
        checked_at: now,
        role,
        upstream_kind,
        last_sync_run: last_run.map(|r| r.id),
        last_successful_sync: success.map(|s| s.0),
        last_error: latest(failed_sync, refused),
        next_sync: inputs.next_sync,
        next_sync_local: inputs.next_sync_local.clone(),
        thresholds: th,
        downstream,
        ok: warnings.is_empty(),
        warnings,
    })
}

/// The last refused import that matters to a status: one after the last failed sync (else the
/// failed sync is the last error) or after the last import (else no warning). Without either,
/// the whole log may be read (backwards, to the first refusal).
fn last_refusal(
    store: &Store,
    failed_sync: Option<&FailedRun>,
    imported_at: Option<Timestamp>,
) -> Result<Option<FailedRun>> {
    let failed_at = failed_sync.and_then(|f| Timestamp::parse_rfc3339(&f.at));
    let since = match (failed_at, imported_at) {
        (Some(f), Some(i)) => Some(f.min(i)),
        _ => None,
    };
    Ok(store.last_refused_import(since)?.map(|r| FailedRun {
        operation: "import".into(),
        at: r.at,
        message: r.message,
    }))
}

/// The role from the upstream set (a store folder makes a child) or, without one, from the
/// source of the last successful sync (`sync --from`; a parent store describes itself as
/// `store NAME (PATH)`); neither makes a disconnected point.
fn role_of(upstream: Option<&str>, synced_from: Option<&String>) -> (Role, Option<&'static str>) {
    // An upstream that cannot be read now (a share offline) says nothing of the role: the
    // last successful sync's source does.
    let readable = |u: &str| crate::fetch::is_url(u) || std::path::Path::new(u).exists();
    if let Some(u) = upstream.filter(|u| readable(u) || synced_from.is_none()) {
        let path = std::path::Path::new(u);
        if Store::is_store(path) {
            return (Role::Child, Some("store"));
        }
        let kind = if path.is_file() { "file" } else { "folder" };
        return (Role::TopLevel, Some(kind));
    }
    match synced_from {
        Some(s) if s.starts_with("store ") => (Role::Child, None),
        Some(_) => (Role::TopLevel, None),
        None => (Role::Disconnected, None),
    }
}

fn duration_of(l: &LastSync) -> Option<i64> {
    let start = Timestamp::parse_rfc3339(&l.started)?;
    let end = Timestamp::parse_rfc3339(l.finished.as_deref()?)?;
    Some((end.0 - start.0).max(0))
}

/// The later of two failures.
fn latest(a: Option<FailedRun>, b: Option<FailedRun>) -> Option<FailedRun> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let t = |f: &FailedRun| Timestamp::parse_rfc3339(&f.at);
            Some(if t(&b) > t(&a) { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

/// Whole days from `then` to `now` (0 for a time in the future).
fn days_between(then: Timestamp, now: Timestamp) -> u64 {
    ((now.0 - then.0).max(0) / DAY) as u64
}

/// A point's own warnings: a failed last sync, a refused last import, and staleness (no
/// successful sync in `sync_days` for a point with an upstream; no import in `import_days`
/// for a disconnected one).
pub fn own_warnings(own: &OwnFacts, now: Timestamp, th: &Thresholds) -> Vec<Warning> {
    let warn = |problem, message: String| Warning {
        point: own.name.clone(),
        point_id: own.id.clone(),
        problem,
        message,
    };
    let mut out = Vec::new();
    if let Some(f) = &own.sync_failed {
        out.push(warn(
            "sync-failed",
            format!("the last sync failed at {}: {}", f.at, f.message),
        ));
    }
    if let Some(f) = &own.import_refused {
        out.push(warn(
            "import-failed",
            format!("the last import was refused at {}: {}", f.at, f.message),
        ));
    }
    let stale = |last: Option<Timestamp>, days: u32, what: &str, problem| match last {
        None => Some(warn(problem, format!("no successful {what} yet"))),
        Some(t) if now.0 - t.0 >= i64::from(days) * DAY => Some(warn(
            problem,
            format!(
                "no successful {what} for {} days (since {t}; threshold {days} days)",
                days_between(t, now)
            ),
        )),
        Some(_) => None,
    };
    // A time after now: the clock was wrong when it was recorded, or is wrong now. Either
    // way the point is never "stale" by it, so say so rather than stay silent.
    let future = |last: Option<Timestamp>, what: &str, problem| {
        last.filter(|t| t.0 > now.0.saturating_add(CLOCK_SKEW_SECS))
            .map(|t| {
                warn(
                    problem,
                    format!(
                        "the last successful {what} is recorded at {t}, after the current time {now}: the clock was wrong then or is wrong now"
                    ),
                )
            })
    };
    out.extend(future(own.last_success, "sync", "sync-in-future"));
    out.extend(future(own.last_import, "import", "import-in-future"));
    let staleness = match own.role {
        Role::TopLevel | Role::Child => stale(own.last_success, th.sync_days, "sync", "sync-stale"),
        Role::Disconnected => stale(own.last_import, th.import_days, "import", "import-stale"),
    };
    out.extend(staleness);
    out
}

/// A downstream point judged against the thresholds: in error when its last import failed,
/// stale when it is `downstream_bundles` bundles or `downstream_days` days behind.
pub fn downstream_status(d: &DownstreamInput, now: Timestamp, th: &Thresholds) -> DownstreamStatus {
    let days_behind = if d.bundles_behind == 0 && d.changes_behind == 0 {
        Some(0)
    } else {
        d.acknowledged_at.map(|t| days_between(t, now))
    };
    let warn = |problem, message: String| Warning {
        point: d.name.clone(),
        point_id: d.id.clone(),
        problem,
        message,
    };
    let mut warnings = Vec::new();
    if let Some(e) = &d.last_error {
        warnings.push(warn(
            "downstream-failed",
            format!("its last import failed: {e}"),
        ));
    }
    if d.bundles_behind >= th.downstream_bundles {
        warnings.push(warn(
            "downstream-bundles-behind",
            format!(
                "{} bundle(s) behind (threshold {})",
                d.bundles_behind, th.downstream_bundles
            ),
        ));
    }
    if let Some(days) = days_behind
        && days >= u64::from(th.downstream_days)
    {
        warnings.push(warn(
            "downstream-days-behind",
            format!("{days} days behind (threshold {} days)", th.downstream_days),
        ));
    }
    DownstreamStatus {
        id: d.id.clone(),
        name: d.name.clone(),
        kind: d.kind.clone(),
        acknowledged_sequence: d.acknowledged_sequence,
        bundles_behind: d.bundles_behind,
        days_behind,
        last_import_outcome: d.last_import_outcome.clone(),
        last_error: d.last_error.clone(),
        received: d.received,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn point(bundles_behind: u64, acknowledged_at: Option<&str>) -> DownstreamInput {
        DownstreamInput {
            id: "id-b".into(),
            name: "branch".into(),
            kind: "isolated".into(),
            acknowledged_sequence: Some(4),
            bundles_behind,
            changes_behind: 0,
            acknowledged_at: acknowledged_at.map(t),
            received: t("2026-11-20T00:00:00Z"),
            last_import_outcome: Some("imported".into()),
            last_error: None,
        }
    }

    fn problems(d: &DownstreamStatus) -> Vec<&'static str> {
        d.warnings.iter().map(|w| w.problem).collect()
    }

    #[test]
    fn a_downstream_point_is_stale_at_three_bundles_or_35_days_behind() {
        let now = t("2026-12-01T00:00:00Z");
        let th = Thresholds::default();
        let level = downstream_status(&point(0, Some("2026-01-01T00:00:00Z")), now, &th);
        assert_eq!((level.days_behind, problems(&level)), (Some(0), vec![]));
        let two = downstream_status(&point(2, Some("2026-11-01T00:00:00Z")), now, &th);
        assert_eq!((two.days_behind, problems(&two)), (Some(30), vec![]));
        let three = downstream_status(&point(3, Some("2026-11-01T00:00:00Z")), now, &th);
        assert_eq!(problems(&three), vec!["downstream-bundles-behind"]);
        let old = downstream_status(&point(1, Some("2026-10-27T00:00:00Z")), now, &th);
        assert_eq!(
            (old.days_behind, problems(&old)),
            (Some(35), vec!["downstream-days-behind"])
        );
        // Behind without having acknowledged anything: days unknown, bundles count.
        let none = downstream_status(&point(1, None), now, &th);
        assert_eq!((none.days_behind, problems(&none)), (None, vec![]));
        // Thresholds of the store's own.
        let strict = Thresholds {
            downstream_bundles: 1,
            downstream_days: 10,
            ..th
        };
        let two = downstream_status(&point(2, Some("2026-11-01T00:00:00Z")), now, &strict);
        assert_eq!(
            problems(&two),
            vec!["downstream-bundles-behind", "downstream-days-behind"]
        );
    }

    #[test]
    fn a_downstream_point_whose_import_failed_is_in_error() {
        let now = t("2026-12-01T00:00:00Z");
        let mut d = point(0, None);
        d.last_import_outcome = Some("refused".into());
        d.last_error = Some("bundle out of sequence".into());
        let s = downstream_status(&d, now, &Thresholds::default());
        assert_eq!(problems(&s), vec!["downstream-failed"]);
        assert!(s.warnings[0].message.contains("out of sequence"));
        assert_eq!(s.warnings[0].point, "branch");
    }

    fn own(role: Role, last_success: Option<&str>, last_import: Option<&str>) -> OwnFacts {
        OwnFacts {
            name: "hq".into(),
            id: "id-hq".into(),
            role,
            last_success: last_success.map(t),
            sync_failed: None,
            last_import: last_import.map(t),
            import_refused: None,
        }
    }

    fn own_problems(o: &OwnFacts, now: &str) -> Vec<&'static str> {
        own_warnings(o, t(now), &Thresholds::default())
            .iter()
            .map(|w| w.problem)
            .collect()
    }

    #[test]
    fn a_point_is_stale_after_8_days_without_a_sync_or_35_without_an_import() {
        let synced = own(Role::TopLevel, Some("2026-11-01T00:00:00Z"), None);
        assert!(own_problems(&synced, "2026-11-08T23:59:59Z").is_empty());
        assert_eq!(
            own_problems(&synced, "2026-11-09T00:00:00Z"),
            ["sync-stale"]
        );
        let never = own(Role::Child, None, None);
        assert_eq!(own_problems(&never, "2026-11-01T00:00:00Z"), ["sync-stale"]);
        // A disconnected point is judged by its imports, not its (absent) syncs.
        let isolated = own(Role::Disconnected, None, Some("2026-11-01T00:00:00Z"));
        assert!(own_problems(&isolated, "2026-12-05T23:59:59Z").is_empty());
        assert_eq!(
            own_problems(&isolated, "2026-12-06T00:00:00Z"),
            ["import-stale"]
        );
    }

    #[test]
    fn a_failed_sync_or_refused_import_is_an_error() {
        let mut o = own(Role::TopLevel, Some("2026-11-01T00:00:00Z"), None);
        o.sync_failed = Some(FailedRun {
            operation: "sync".into(),
            at: "2026-11-02T00:00:00Z".into(),
            message: "upstream unreadable".into(),
        });
        o.import_refused = Some(FailedRun {
            operation: "import".into(),
            at: "2026-11-02T00:00:00Z".into(),
            message: "bad signature".into(),
        });
        assert_eq!(
            own_problems(&o, "2026-11-03T00:00:00Z"),
            ["sync-failed", "import-failed"]
        );
    }

    #[test]
    fn roles_follow_the_upstream() {
        assert_eq!(role_of(None, None), (Role::Disconnected, None));
        let from_store = "store hq (/srv/hq)".to_string();
        assert_eq!(role_of(None, Some(&from_store)).0, Role::Child);
        let from_folder = "folder /srv/updates".to_string();
        assert_eq!(role_of(None, Some(&from_folder)).0, Role::TopLevel);
        let dir = tempfile::tempdir().unwrap();
        let up = dir.path().to_str().unwrap();
        assert_eq!(role_of(Some(up), None), (Role::TopLevel, Some("folder")));
    }
}
