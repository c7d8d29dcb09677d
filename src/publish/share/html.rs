//! `index.html`: one self-contained page (style and script inline, no address outside the
//! share, a Content-Security-Policy that forbids loading anything) with a table of the
//! updates and links to their files. The table reads as it is without script; the script
//! only adds sorting by date, KB and severity. Every piece of metadata is escaped.

pub use crate::text::html_escape as esc;

/// A file cell entry of an update's row.
pub struct FileLink<'a> {
    pub name: &'a str,
    /// From the share's root with forward slashes; `None` when the file is not in the share.
    pub path: Option<&'a str>,
    pub size: Option<u64>,
    /// Why the file is not in the share.
    pub note: &'a str,
}

/// The update facts a row shows.
pub struct RowFacts<'a> {
    pub update_id: &'a str,
    pub title: &'a str,
    pub kb: Option<&'a str>,
    pub severity: Option<&'a str>,
    pub date: Option<&'a str>,
    pub classifications: &'a [String],
    pub products: &'a [String],
    pub superseded: bool,
    pub state: &'a str,
}

/// A relative path as a link target: each byte outside the unreserved set percent-encoded
/// (so `#`, `?`, `%` and `:` in a name stay part of the name), `/` kept between components.
pub fn href(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The order of severities when sorting (higher is more severe).
fn severity_rank(s: Option<&str>) -> u8 {
    match s.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => 4,
        Some("important") => 3,
        Some("moderate") => 2,
        Some("low") => 1,
        _ => 0,
    }
}

pub fn head(title: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>{t}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #bbb; padding: 0.3em; text-align: left; vertical-align: top; }}
th button {{ font: inherit; font-weight: bold; border: none; background: none; cursor: pointer; padding: 0; }}
tr.superseded {{ color: #777; }}
.mark {{ font-size: 0.85em; border: 1px solid #999; padding: 0 0.2em; }}
ul {{ margin: 0; padding-left: 1.2em; }}
</style>
</head>
<body>
<h1>{t}</h1>
<p>Update files published by offsync. Superseded updates are marked; files not in the share say why.</p>
<table id="updates">
<thead><tr><th data-key="date">Date</th><th data-key="kb">KB</th><th>Title</th><th data-key="severity">Severity</th><th>Classification</th><th>Products</th><th>Files</th></tr></thead>
<tbody>
"#,
        t = esc(title)
    )
}

/// One update's row.
pub fn row(u: &RowFacts<'_>, files: &[FileLink<'_>]) -> String {
    let kb_num: u64 = u.kb.and_then(|k| k.parse().ok()).unwrap_or(0);
    let mut marks = String::new();
    if u.superseded {
        marks.push_str(" <span class=\"mark\">superseded</span>");
    }
    if u.state != "published" {
        marks.push_str(&format!(" <span class=\"mark\">{}</span>", esc(u.state)));
    }
    let mut cells = String::new();
    for f in files {
        let size = f.size.map(|s| format!(" ({s} bytes)")).unwrap_or_default();
        match f.path {
            Some(p) => cells.push_str(&format!(
                "<li><a href=\"{}\">{}</a>{}</li>",
                esc(&href(p)),
                esc(f.name),
                size
            )),
            None => cells.push_str(&format!(
                "<li>{}{} <em>{}</em></li>",
                esc(f.name),
                size,
                esc(f.note)
            )),
        }
    }
    format!(
        "<tr class=\"{cls}\" data-date=\"{date}\" data-kb=\"{kb_num}\" data-severity=\"{rank}\" data-update=\"{id}\"><td>{date}</td><td>{kb}</td><td>{title}{marks}</td><td>{sev}</td><td>{class}</td><td>{products}</td><td><ul>{cells}</ul></td></tr>\n",
        cls = if u.superseded {
            "superseded"
        } else {
            "current"
        },
        date = esc(u.date.map(|d| d.get(..10).unwrap_or(d)).unwrap_or("")),
        rank = severity_rank(u.severity),
        id = esc(u.update_id),
        kb = esc(&u.kb.map(|k| format!("KB{k}")).unwrap_or_default()),
        title = esc(u.title),
        sev = esc(u.severity.unwrap_or("")),
        class = esc(&u.classifications.join(", ")),
        products = esc(&u.products.join(", ")),
    )
}

/// The end of the page: the sorting script (headers become buttons only when it runs).
pub const FOOT: &str = r#"</tbody>
</table>
<script>
(function () {
  var table = document.getElementById("updates");
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  var order = {};
  function value(row, key) {
    var v = row.getAttribute("data-" + key) || "";
    return key === "date" ? v : Number(v);
  }
  function sortBy(key) {
    var dir = order[key] = -(order[key] || 1);
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, key), y = value(b, key);
      return x < y ? -dir : x > y ? dir : 0;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(heads, function (th) {
    var key = th.getAttribute("data-key");
    if (!key) { return; }
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = th.textContent + " \u21C5";
    b.title = "sort by " + th.textContent;
    b.addEventListener("click", function () { sortBy(key); });
    th.textContent = "";
    th.appendChild(b);
  });
  document.body.setAttribute("data-sortable", "yes");
})();
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_escaped_and_links_stay_relative() {
        assert_eq!(esc("<script>&\"'"), "&lt;script&gt;&amp;&quot;&#39;");
        assert_eq!(
            href("Windows 10/Sec/a#b?.cab"),
            "Windows%2010/Sec/a%23b%3F.cab"
        );
        assert_eq!(href("é"), "%C3%A9");
        let page = format!(
            "{}{}",
            head("<b>"),
            row(
                &RowFacts {
                    update_id: "x",
                    title: "<img src=x onerror=alert(1)>",
                    kb: Some("1"),
                    severity: None,
                    date: None,
                    classifications: &[],
                    products: &[],
                    superseded: true,
                    state: "published",
                },
                &[],
            )
        );
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"));
    }
}
