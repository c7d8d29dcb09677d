//! Verifying a bundle with no store, as at a guard station: every byte against the manifest,
//! the signature (checked against one public key, or reported as present and not checked),
//! the validity against the time given, and on request a listing of what crosses.

use crate::bundle::{
    BundleReader, Decision, Finding, RecordSink, RecordState, UpdateRecord, VerifyReport,
};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Category, CategoryKind};
use crate::progress::Progress;
use crate::time::Timestamp;
use crate::trust::SignatureCheck;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What a guard station learns about a bundle: the byte-level report with every finding
/// (the signature's and the validity's among them), and what the signature and the validity
/// came to. Serialised as the report's fields plus `signature` and `validity`.
#[derive(Debug, Serialize)]
pub struct GuardReport {
    #[serde(flatten)]
    pub report: VerifyReport,
    /// Null when no manifest was found (nothing to look for a signature beside).
    pub signature: Option<SignatureReport>,
    /// Null when no manifest could be read.
    pub validity: Option<Validity>,
}

/// The signature file beside the manifest, and what was done with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureReport {
    pub state: SignatureState,
    /// `good`: the key that signed; `not-checked` and `bad`: the key the signature names,
    /// when it names one.
    pub key_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureState {
    /// No `manifest.json.minisig`.
    Absent,
    /// A signature file is present and no public key was given to check it against.
    NotChecked,
    /// Checked against the public key given: valid.
    Good,
    /// Checked against the public key given: missing, invalid or by another key (a finding).
    Bad,
}

/// The manifest's `valid_until` against the time of the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Validity {
    /// Null: the bundle does not expire.
    pub valid_until: Option<Timestamp>,
    pub expired: bool,
    /// The time the validity was judged at.
    pub checked_at: Timestamp,
}

/// Verifies the bundle at `paths` at time `now`; with `pubkey`, also its manifest's
/// signature. A bad signature (exit 12) and an expired bundle (exit 14, as import refuses it)
/// are findings like any other.
pub fn verify_bundle(
    paths: &[PathBuf],
    pubkey: Option<&Path>,
    now: Timestamp,
    progress: &dyn Progress,
) -> GuardReport {
    let mut report = crate::bundle::verify(paths, progress);
    let signature = report
        .manifest_path
        .is_some()
        .then(|| signature_report(&mut report, pubkey));
    let validity = report.manifest.as_ref().map(|m| Validity {
        valid_until: m.valid_until,
        expired: m.valid_until.is_some_and(|until| now > until),
        checked_at: now,
    });
    if let Some(v) = validity
        && v.expired
        && let Some(until) = v.valid_until
    {
        report.findings.push(Finding::new(
            ErrorKind::Expired,
            "manifest.json",
            format!(
                "the bundle expired at {until} (now {}); import refuses it",
                now.rfc3339()
            ),
        ));
    }
    GuardReport {
        report,
        signature,
        validity,
    }
}

/// Looks at the signature file; with `pubkey`, checks it, a failure of which is a finding.
fn signature_report(report: &mut VerifyReport, pubkey: Option<&Path>) -> SignatureReport {
    let Some(pk) = pubkey else {
        return unchecked_signature(report);
    };
    match check_signature(report, pk) {
        Ok(key_id) => SignatureReport {
            state: SignatureState::Good,
            key_id: Some(key_id),
        },
        Err(e) => {
            let mut seen = unchecked_signature(report);
            report.findings.push(Finding {
                kind: ErrorKind::Untrusted,
                subject: "manifest.json.minisig".into(),
                message: e.message,
            });
            if seen.state != SignatureState::Absent {
                seen.state = SignatureState::Bad;
            }
            seen
        }
    }
}

/// Whether a signature file is there, and the key it names, without checking it.
fn unchecked_signature(report: &VerifyReport) -> SignatureReport {
    let Some(path) = &report.manifest_path else {
        return SignatureReport {
            state: SignatureState::Absent,
            key_id: None,
        };
    };
    match crate::trust::read_signature(path) {
        Ok(None) => SignatureReport {
            state: SignatureState::Absent,
            key_id: None,
        },
        // Checking against no key only reads which key the signature names.
        Ok(Some(sig)) => {
            let key_id = match crate::trust::check_signature(&[], &[], Some(&sig)) {
                Ok(SignatureCheck::NotChecked { claimed_key_id }) => claimed_key_id,
                _ => None,
            };
            SignatureReport {
                state: SignatureState::NotChecked,
                key_id,
            }
        }
        // Present but unreadable (not a regular file, too large): present, and not checked.
        Err(_) => SignatureReport {
            state: SignatureState::NotChecked,
            key_id: None,
        },
    }
}

/// Checks manifest.json.minisig against `pubkey`, on the manifest bytes verify read (their
/// SHA-256 must match what verify saw).
fn check_signature(report: &VerifyReport, pubkey: &Path) -> Result<String> {
    let key = crate::trust::load_public_key(pubkey)?;
    let (Some(path), Some(sha)) = (&report.manifest_path, report.manifest_sha256) else {
        return Err(Error::new(
            ErrorKind::Untrusted,
            "no manifest was read, so no signature could be checked",
        ));
    };
    let bytes = crate::bundle::verify::read_manifest_bytes(path)?;
    if crate::hash::sha256(&bytes) != sha {
        return Err(Error::new(
            ErrorKind::Untrusted,
            "manifest.json changed while it was being verified",
        ));
    }
    let sig = crate::trust::read_signature(path)?;
    let by = crate::trust::verify_manifest(&[key], &bytes, sig.as_deref())?;
    Ok(by.key_id)
}

/// What crosses in a bundle: its updates and its content files, from its metadata.
#[derive(Clone, Debug, Serialize)]
pub struct BundleListing {
    pub updates: Vec<ListedUpdate>,
    pub content_files: Vec<ListedFile>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ListedUpdate {
    pub update_id: String,
    /// Digits, or null.
    pub kb: Option<String>,
    pub title: String,
    /// The classification's title, or null when none of the update's categories is a
    /// classification the bundle carries.
    pub classification: Option<String>,
    pub revision: u32,
    /// `published`, `expired` or `removed`.
    pub state: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct ListedFile {
    /// The file name an update of the bundle gives it (the first in name order when several
    /// do), or null when none does.
    pub name: Option<String>,
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// Lists the bundle at `paths` from its metadata, read again with every check, from the
/// manifest whose SHA-256 verify saw (`manifest_sha256`): a manifest changed since is refused
/// rather than listed.
pub fn list_bundle(paths: &[PathBuf], manifest_sha256: [u8; 32]) -> Result<BundleListing> {
    let reader = BundleReader::open(paths)?;
    if reader.manifest_sha256() != manifest_sha256 {
        return Err(Error::new(
            ErrorKind::Corrupt,
            "manifest.json changed between the verification and the listing",
        )
        .with_hint("make sure nothing writes to the media, and verify again"));
    }
    let mut lister = Lister::default();
    reader.read_records(&mut lister)?;
    let Lister { updates, names, .. } = lister;
    let content_files = reader
        .content_files()
        .into_iter()
        .map(|(sha, size)| ListedFile {
            name: names.get(&sha).cloned(),
            size,
            sha256: hex::encode(sha),
        })
        .collect();
    Ok(BundleListing {
        updates,
        content_files,
    })
}

/// Builds the listing one record at a time (a bundle of a million revisions is never held):
/// categories come first in every format, so the classifications are known when the updates
/// arrive.
#[derive(Default)]
struct Lister {
    /// Classification id → title.
    classes: HashMap<String, String>,
    /// A file's name (the first in name order of those the updates give it).
    names: BTreeMap<[u8; 32], String>,
    updates: Vec<ListedUpdate>,
}

impl RecordSink for Lister {
    fn category(&mut self, c: Category) -> Result<()> {
        if c.kind == CategoryKind::Classification {
            self.classes.insert(c.id.as_str().to_string(), c.title);
        }
        Ok(())
    }

    fn update(&mut self, r: UpdateRecord) -> Result<()> {
        let u = &r.update;
        for f in &u.files {
            if let Some(sha) = f.sha256 {
                match self.names.get_mut(&sha) {
                    Some(name) if f.name < *name => *name = f.name.clone(),
                    Some(_) => {}
                    None => {
                        self.names.insert(sha, f.name.clone());
                    }
                }
            }
        }
        let classification = u
            .categories
            .iter()
            .find_map(|c| self.classes.get(c.as_str()));
        self.updates.push(ListedUpdate {
            update_id: u.id.to_string(),
            kb: u.kb.clone(),
            title: u.title("en").to_string(),
            classification: classification.cloned(),
            revision: u.revision,
            state: record_state_name(r.state),
        });
        Ok(())
    }

    fn decision(&mut self, _: Decision) -> Result<()> {
        Ok(())
    }
}

fn record_state_name(s: RecordState) -> &'static str {
    match s {
        RecordState::Published => "published",
        RecordState::Expired => "expired",
        RecordState::Removed => "removed",
    }
}
