use super::{bytes, say};
use crate::cli::out_json;
use crate::progress::Progress;
use crate::store::Store;
use crate::{Error, ErrorKind, Result};
use std::path::Path;

pub fn run(dir: &Path, read_data: bool, json: bool, progress: &dyn Progress) -> Result<()> {
    let store = Store::open_readonly(dir)?;
    let r = store.check(read_data, progress)?;
    if json {
        out_json(&r)?;
    } else {
        for p in &r.problems {
            say(format!("DAMAGED {} {}: {}", p.area, p.subject, p.message));
        }
        for f in &r.unrecorded_files {
            say(format!(
                "note: {f} is in the content folder but not recorded (harmless)"
            ));
        }
        say(format!(
            "checked {} updates and {} content files{}",
            r.updates,
            r.content_files,
            if read_data {
                format!(" ({} read)", bytes(r.bytes_read))
            } else {
                " (sizes only; --read-data compares digests)".into()
            }
        ));
    }
    if r.ok {
        if !json {
            say("OK: the store is sound");
        }
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::StoreDamaged,
            format!("the store has {} problem(s)", r.problems.len()),
        ))
    }
}
