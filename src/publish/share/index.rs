//! The share's indexes, written row by row as the files are placed: `index.json` and
//! `index.csv` (one row per published path) and `index.html` (one row per update). Their
//! fields are in the README ("publish share"); the page is self-contained (docs/PUBLISH.md).

use crate::error::{Error, Result};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// One row of `index.json` and `index.csv`: a published path of one file of one update.
#[derive(Clone, Debug, Serialize)]
pub struct IndexRow<'a> {
    pub update_id: &'a str,
    pub revision: u32,
    pub kb: Option<&'a str>,
    pub title: &'a str,
    /// The classification of this path's folder.
    pub classification: &'a str,
    /// The product of this path's folder.
    pub product: &'a str,
    /// Every product of the update.
    pub products: &'a [String],
    pub severity: Option<&'a str>,
    pub creation_date: Option<&'a str>,
    pub superseded: bool,
    /// The file's name in the update (as the upstream gave it).
    pub file_name: &'a str,
    pub size: u64,
    pub sha1: String,
    pub sha256: String,
    /// From the share's root, with forward slashes.
    pub path: String,
}

const CSV_HEADER: &str = "update_id,revision,kb,title,classification,product,products,severity,creation_date,superseded,file_name,size,sha1,sha256,path\r\n";

/// A file of the share written under a temporary name; see [`finish`].
struct Pending {
    tmp: PathBuf,
    w: BufWriter<File>,
}

impl Pending {
    fn create(tmp: PathBuf) -> Result<Pending> {
        let f = File::create(&tmp).map_err(|e| Error::io(&tmp, "create", e))?;
        Ok(Pending {
            tmp,
            w: BufWriter::new(f),
        })
    }

    fn put(&mut self, s: &str) -> Result<()> {
        self.w
            .write_all(s.as_bytes())
            .map_err(|e| Error::io(&self.tmp, "write", e))
    }
}

/// The three index writers.
pub struct Indexes {
    json: Pending,
    csv: Pending,
    html: Pending,
    json_rows: u64,
}

impl Indexes {
    pub fn create(temp: &Path, title: &str) -> Result<Indexes> {
        let mut ix = Indexes {
            json: Pending::create(temp.join("index.json"))?,
            csv: Pending::create(temp.join("index.csv"))?,
            html: Pending::create(temp.join("index.html"))?,
            json_rows: 0,
        };
        ix.json.put(&format!(
            "{{\n\"format\": \"{}\",\n\"version\": 1,\n\"files\": [\n",
            super::INDEX_FORMAT
        ))?;
        ix.csv.put(CSV_HEADER)?;
        ix.html.put(&super::html::head(title))?;
        Ok(ix)
    }

    pub fn row(&mut self, r: &IndexRow<'_>) -> Result<()> {
        let line = serde_json::to_string(r)
            .map_err(|e| Error::other(format!("cannot encode an index row: {e}")))?;
        let sep = if self.json_rows == 0 { "" } else { ",\n" };
        self.json.put(&format!("{sep}{line}"))?;
        self.json_rows += 1;
        let cells = [
            csv_cell(r.update_id),
            r.revision.to_string(),
            csv_cell(r.kb.unwrap_or("")),
            csv_cell(r.title),
            csv_cell(r.classification),
            csv_cell(r.product),
            csv_cell(&r.products.join("; ")),
            csv_cell(r.severity.unwrap_or("")),
            csv_cell(r.creation_date.unwrap_or("")),
            r.superseded.to_string(),
            csv_cell(r.file_name),
            r.size.to_string(),
            r.sha1.clone(),
            r.sha256.clone(),
            csv_cell(&r.path),
        ];
        self.csv.put(&format!("{}\r\n", cells.join(",")))
    }

    pub fn html(&mut self, text: &str) -> Result<()> {
        self.html.put(text)
    }

    /// Closes the indexes with the summary fields and puts each at `root`, replacing the one
    /// there only when it differs (a publish that changed nothing leaves them untouched).
    /// Returns how many were written.
    pub fn finish(mut self, root: &Path, summary: &serde_json::Value) -> Result<u64> {
        let mut tail = String::from("\n]");
        if let Some(m) = summary.as_object() {
            for (k, v) in m {
                tail.push_str(&format!(",\n{}: {v}", serde_json::Value::from(k.as_str())));
            }
        }
        tail.push_str("\n}\n");
        self.json.put(&tail)?;
        self.html.put(super::html::FOOT)?;
        let mut written = 0;
        for (p, name) in [
            (self.json, "index.json"),
            (self.csv, "index.csv"),
            (self.html, "index.html"),
        ] {
            let Pending { tmp, w } = p;
            w.into_inner()
                .map_err(|e| Error::io(&tmp, "write", e.into_error()))?;
            let dest = root.join(name);
            if same_bytes(&tmp, &dest) {
                let _ = std::fs::remove_file(&tmp);
            } else {
                std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, "write", e))?;
                written += 1;
            }
        }
        Ok(written)
    }
}

/// Whether two files hold the same bytes (`b` a regular file, not a link), compared by
/// digest so that neither is held in memory.
fn same_bytes(a: &Path, b: &Path) -> bool {
    if !std::fs::symlink_metadata(b).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let digest = |p: &Path| {
        File::open(p)
            .and_then(|mut f| crate::hash::copy_sha256(&mut f, &mut std::io::sink()))
            .ok()
    };
    matches!((digest(a), digest(b)), (Some(x), Some(y)) if x == y)
}

/// A CSV field as RFC 4180 has it: quoted when it holds a comma, a quote or a line break,
/// with quotes doubled.
pub fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_as_rfc_4180() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    }
}
