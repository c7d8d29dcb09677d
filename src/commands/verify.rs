use super::say;
use crate::cli::out_json;
use crate::progress::Progress;
use crate::{Error, Result};
use std::path::PathBuf;

pub fn run(paths: &[PathBuf], json: bool, progress: &dyn Progress) -> Result<()> {
    let report = crate::bundle::verify(paths, progress);
    if json {
        out_json(&report)?;
    } else {
        if let Some(m) = &report.manifest {
            say(format!(
                "bundle {} from store '{}', sequence {} ({}), {} volume(s), {} entries",
                m.bundle_id,
                m.source.store_name,
                m.sequence,
                crate::transfer::export::kind_name(m.kind),
                m.volumes.len(),
                m.entries.len()
            ));
        }
        for f in &report.findings {
            say(format!("FAIL {}: {}", f.subject, f.message));
        }
    }
    match report.first_error_kind() {
        None => {
            if !json {
                say("OK: every volume and entry matches the manifest");
            }
            Ok(())
        }
        Some(kind) => Err(Error::new(
            kind,
            format!(
                "the bundle failed verification with {} finding(s)",
                report.findings.len()
            ),
        )),
    }
}
