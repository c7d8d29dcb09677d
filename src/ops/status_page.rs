//! `status --html`: one self-contained page (styles and the chart inline, no script, nothing
//! fetched) with the hierarchy's table, the warnings, and a chart of the sync history. Every
//! value from outside (store names, paths, errors) is escaped.

use crate::ops::status::Status;
use crate::store::SyncRunRow;
use crate::text::html_escape as esc;
use std::fmt::Write;

/// How many sync runs the chart shows (the most recent).
pub const CHART_RUNS: u32 = 60;

/// The page for `s`, with `history` (oldest first) as its chart.
pub fn status_page(s: &Status, history: &[SyncRunRow]) -> String {
    let mut h = String::new();
    let title = format!("offsync status: {}", esc(&s.store_name));
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n\
         <p class=\"when\">Taken at {} · {}</p>\n",
        s.checked_at,
        if s.ok {
            "<span class=\"ok\">OK</span>".to_string()
        } else {
            format!("<span class=\"bad\">{} problem(s)</span>", s.warnings.len())
        }
    );
    hierarchy(&mut h, s);
    warnings(&mut h, s);
    h.push_str("<h2>Sync history</h2>\n");
    chart(&mut h, history);
    h.push_str("</body></html>\n");
    h
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left}\
th{background:#eee}.ok{color:#176b2c;font-weight:bold}.bad{color:#a4161a;font-weight:bold}\
.when{color:#555}svg{border:1px solid #ccc;background:#fcfcfc}\
.new{fill:#2a6fdb}.updated{fill:#e09b1a}.expired{fill:#8c8c8c}.failed{fill:#a4161a}";

fn hierarchy(h: &mut String, s: &Status) {
    h.push_str(
        "<h2>Hierarchy</h2>\n<table><thead><tr><th>Point</th><th>Role</th><th>Upstream</th>\
         <th>Last sync</th><th>Acknowledged / change sequence</th><th>Behind</th>\
         <th>Last import</th><th>Content missing</th><th>State</th></tr></thead><tbody>\n",
    );
    let last_sync = s.last_sync.as_ref().map_or("never".to_string(), |l| {
        format!(
            "{} at {}: {} new, {} updated, {} expired",
            l.outcome,
            l.finished.as_deref().unwrap_or(&l.started),
            l.changes.new,
            l.changes.updated,
            l.changes.expired
        )
    });
    let last_import = s.last_import.as_ref().map_or("never".to_string(), |i| {
        format!(
            "sequence {} from {} at {}",
            i.sequence, i.source_store_name, i.imported
        )
    });
    let own_problems = s
        .warnings
        .iter()
        .filter(|w| w.point_id == s.store_id)
        .count();
    row(
        h,
        &[
            &s.store_name,
            s.role.as_str(),
            s.upstream.as_deref().unwrap_or("(none)"),
            &last_sync,
            &s.totals.change_seq.to_string(),
            "",
            &last_import,
            &s.content.missing.to_string(),
        ],
        own_problems,
    );
    for d in &s.downstream {
        let behind = format!(
            "{} bundle(s), {} day(s)",
            d.bundles_behind,
            d.days_behind.map_or("?".to_string(), |n| n.to_string())
        );
        let import = format!(
            "{}{}",
            d.last_import_outcome.as_deref().unwrap_or("unknown"),
            d.last_error
                .as_deref()
                .map_or(String::new(), |e| format!(": {e}"))
        );
        row(
            h,
            &[
                &d.name,
                &format!("downstream ({})", d.kind),
                &s.store_name,
                &format!("receipt received {}", d.received),
                &d.acknowledged_sequence
                    .map_or("nothing".to_string(), |n| n.to_string()),
                &behind,
                &import,
                "",
            ],
            d.warnings.len(),
        );
    }
    h.push_str("</tbody></table>\n");
}

fn row(h: &mut String, cells: &[&str], problems: usize) {
    h.push_str("<tr>");
    for c in cells {
        let _ = write!(h, "<td>{}</td>", esc(c));
    }
    let state = if problems == 0 {
        "<td class=\"ok\">OK</td>".to_string()
    } else {
        format!("<td class=\"bad\">{problems} problem(s)</td>")
    };
    h.push_str(&state);
    h.push_str("</tr>\n");
}

fn warnings(h: &mut String, s: &Status) {
    h.push_str("<h2>Warnings</h2>\n");
    if s.warnings.is_empty() {
        h.push_str("<p class=\"ok\">None.</p>\n");
        return;
    }
    h.push_str("<ul>\n");
    for w in &s.warnings {
        let _ = writeln!(
            h,
            "<li><span class=\"bad\">{}</span> {}: {}</li>",
            esc(w.problem),
            esc(&w.point),
            esc(&w.message)
        );
    }
    h.push_str("</ul>\n");
}

/// Grouped bars per run: new, updated, expired; a failed run is a red mark at the base.
fn chart(h: &mut String, runs: &[SyncRunRow]) {
    if runs.is_empty() {
        h.push_str("<p>No sync yet.</p>\n");
        return;
    }
    const PLOT_H: f64 = 160.0;
    const BAR: f64 = 4.0;
    const GROUP: f64 = 3.0 * BAR + 4.0;
    let (left, top) = (40.0, 10.0);
    let max = runs
        .iter()
        .map(|r| r.changes.new.max(r.changes.updated).max(r.changes.expired))
        .max()
        .unwrap_or(0)
        .max(1);
    let width = left + GROUP * runs.len() as f64 + 10.0;
    let height = top + PLOT_H + 40.0;
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"sync history\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n\
         <text x=\"2\" y=\"{}\" font-size=\"10\">{max}</text>\
         <text x=\"2\" y=\"{}\" font-size=\"10\">0</text>\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>\n",
        top + 8.0,
        top + PLOT_H,
        top + PLOT_H,
        width - 5.0,
        top + PLOT_H
    );
    for (i, r) in runs.iter().enumerate() {
        let x0 = left + GROUP * i as f64 + 2.0;
        for (j, (class, n)) in [
            ("new", r.changes.new),
            ("updated", r.changes.updated),
            ("expired", r.changes.expired),
        ]
        .into_iter()
        .enumerate()
        {
            let bh = PLOT_H * n as f64 / max as f64;
            let _ = writeln!(
                h,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{BAR}\" height=\"{bh:.1}\">\
                 <title>run {} ({}): {n} {class}</title></rect>",
                x0 + BAR * j as f64,
                top + PLOT_H - bh,
                r.id,
                esc(&r.started)
            );
        }
        if r.outcome != "succeeded" {
            let _ = writeln!(
                h,
                "<rect class=\"failed\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"4\">\
                 <title>run {} failed: {}</title></rect>",
                top + PLOT_H + 2.0,
                3.0 * BAR,
                r.id,
                esc(r.error.as_deref().unwrap_or(""))
            );
        }
    }
    let first = &runs[0];
    let last = &runs[runs.len() - 1];
    let _ = write!(
        h,
        "<text x=\"{left}\" y=\"{}\" font-size=\"10\">run {} ({})</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">run {}</text>\n</svg>\n",
        top + PLOT_H + 20.0,
        first.id,
        esc(&first.started),
        width - 5.0,
        top + PLOT_H + 34.0,
        last.id
    );
    h.push_str(
        "<p><svg width=\"10\" height=\"10\"><rect class=\"new\" width=\"10\" height=\"10\"/></svg> new \
         <svg width=\"10\" height=\"10\"><rect class=\"updated\" width=\"10\" height=\"10\"/></svg> updated \
         <svg width=\"10\" height=\"10\"><rect class=\"expired\" width=\"10\" height=\"10\"/></svg> expired \
         <svg width=\"10\" height=\"10\"><rect class=\"failed\" width=\"10\" height=\"10\"/></svg> failed run</p>\n",
    );
    let _ = writeln!(
        h,
        "<p>{} run(s) shown, the last {CHART_RUNS} at most.</p>",
        runs.len()
    );
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<b a=\"x\">'&'</b>"),
            "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
    }
}
