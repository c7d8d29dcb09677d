//! `offsync demo`: the main job end to end on the bundled sample data, saying what each step
//! did. Each step calls the library operations the verbs call.

use crate::cli::exit::{CliError, CliResult};
use crate::cli::output::{bytes, say};
use crate::content::import_content;
use crate::error::{Error, Result};
use crate::ops::criteria::{CriteriaChange, set_criteria};
use crate::ops::sync::sync_from;
use crate::ops::updates::{ListQuery, list_updates};
use crate::progress::Progress;
use crate::store::Store;
use crate::sync::SyncReport;
use crate::time::Timestamp;
use crate::transfer::export::{ExportOptions, export};
use crate::transfer::import::{ImportOptions, ImportReport, import};
use crate::trust::{SigningKey, generate_key};
use std::path::{Path, PathBuf};

mod sample;

/// Run the whole job on the bundled sample data and say what each step did.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to create the demo stores (default: a new temporary folder, kept).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Other sample data: a folder holding `upstream/` and `content/` (default: the sample
    /// data built into offsync, written to the demo folder).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
}

/// Small volumes, so that the sample bundle spans several.
const DEMO_VOLUME_SIZE: u64 = 96 * 1024;

pub fn run(a: Args, progress: &dyn Progress) -> CliResult {
    demo(
        a.dir.as_deref(),
        a.fixtures.as_deref(),
        &Timestamp::now,
        progress,
    )
}

/// The demo with the time and the progress given: the fuzzing corpus generator runs it with a
/// fixed clock. Without `fixtures`, the built-in sample data is written to the demo folder.
pub fn demo(
    dir: Option<&Path>,
    fixtures: Option<&Path>,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
) -> CliResult {
    let demo = Demo {
        base: demo_dir(dir)?,
        clock,
        progress,
    };
    say(format!("demo folder: {}", demo.base.display()))?;
    let fixtures = match fixtures {
        Some(f) => f.to_path_buf(),
        None => {
            let f = demo.base.join("sample");
            sample::write_to(&f)?;
            f
        }
    };
    let upstream_dir = fixtures.join("upstream");
    if !upstream_dir.is_dir() {
        return Err(
            Error::usage(format!("the sample data is not at {}", fixtures.display()))
                .with_hint("give --fixtures a folder holding upstream/ and content/, or leave it out to use the built-in sample")
                .into(),
        );
    }
    let mut connected = demo.connected_store(&upstream_dir)?;
    demo.take_content(&mut connected, &fixtures.join("content"))?;
    demo.list_updates(&connected)?;
    demo.child_store(&demo.base.join("connected"))?;
    let key = demo.signing_key()?;
    let bundle = demo.export_and_verify(&connected, &key)?;
    let isolated = demo.isolated_store(&connected, &bundle, &key)?;
    next_steps(&isolated, &bundle, &key.public_key)
}

/// The last lines: commands to try next, each of which works as printed (the program as it
/// can be called from here, paths quoted for the shell).
fn next_steps(isolated: &Path, bundle: &Path, key: &Path) -> CliResult {
    let me = program();
    let (iso, b, k) = (shell_quote(isolated), shell_quote(bundle), shell_quote(key));
    say("\nlook around (each command works as printed):")?;
    say(format!("  {me} status --store {iso}"))?;
    say(format!("  {me} updates list --store {iso}"))?;
    say(format!("  {me} verify {b} --pubkey {k}"))
}

/// `offsync` when that name on the PATH is this program, else this program's full path.
fn program() -> String {
    let Ok(me) = std::env::current_exe() else {
        return "offsync".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            let c = d.join("offsync");
            c.is_file() && std::fs::canonicalize(&c).ok() == std::fs::canonicalize(&me).ok()
        })
    });
    if on_path {
        "offsync".into()
    } else {
        shell_quote(&me)
    }
}

/// A path as a POSIX shell reads it back: as is when it holds only safe characters, else in
/// single quotes.
fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=,@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The given folder, or a new temporary one that is kept.
fn demo_dir(dir: Option<&Path>) -> Result<PathBuf> {
    match dir {
        Some(d) => Ok(d.to_path_buf()),
        None => {
            let t = tempfile::Builder::new()
                .prefix("offsync-demo-")
                .tempdir()
                .map_err(|e| Error::io(&std::env::temp_dir(), "create a folder in", e))?;
            Ok(t.keep())
        }
    }
}

struct Demo<'a> {
    base: PathBuf,
    clock: &'a dyn Fn() -> Timestamp,
    progress: &'a dyn Progress,
}

impl Demo<'_> {
    fn sync(&self, store: &mut Store, from: &Path) -> Result<SyncReport> {
        sync_from(
            store,
            Some(from),
            &Default::default(),
            self.clock,
            self.progress,
        )
    }

    fn set_criteria(&self, store: &mut Store, change: &CriteriaChange<'_>) -> Result<()> {
        set_criteria(store, change, (self.clock)())
    }

    /// Steps 1 to 5: the connected update point, its criteria, and its syncs.
    fn connected_store(&self, upstream_dir: &Path) -> Result<Store, CliError> {
        let dir = self.base.join("connected");
        let mut store = Store::init(&dir, Some("connected"), (self.clock)())?;
        say(format!(
            "\n1. created the connected store '{}' in {}",
            store.name(),
            dir.display()
        ))?;
        let r = self.sync(&mut store, upstream_dir)?;
        say(format!(
            "2. first sync from {}: {} categories, no criteria yet, so no updates",
            upstream_dir.display(),
            r.categories
        ))?;
        // The administrator chooses products and classifications, as in Configuration Manager.
        let products = strings(&[
            "Windows 10",
            "Windows 11",
            "Windows Server 2019",
            "Office 2016",
        ]);
        let classes = strings(&["Security Updates", "Critical Updates", "Updates"]);
        let change = CriteriaChange {
            products: &products,
            classifications: &classes,
            languages: &strings(&["de"]),
            all_languages: false,
        };
        self.set_criteria(&mut store, &change)?;
        say(format!(
            "3. criteria: products {}; classifications {}; language de (and language-neutral updates)",
            products.join(", "),
            classes.join(", ")
        ))?;
        let r = self.sync(&mut store, upstream_dir)?;
        say(format!(
            "4. second sync: {} new, {} updated, {} expired, {} removed ({} of {} upstream updates selected)",
            r.changes.new,
            r.changes.updated,
            r.changes.expired,
            r.changes.removed,
            r.selected,
            r.upstream_updates
        ))?;
        for w in &r.warnings {
            say(format!("   warning: {w}"))?;
        }
        let r = self.sync(&mut store, upstream_dir)?;
        say(format!(
            "5. the same sync again: {} new, {} updated, {} unchanged",
            r.changes.new, r.changes.updated, r.changes.unchanged
        ))?;
        Ok(store)
    }

    /// Step 6: the payload files.
    fn take_content(&self, store: &mut Store, content_dir: &Path) -> CliResult {
        let ci = import_content(store, content_dir, (self.clock)(), self.progress)?;
        say(format!(
            "6. content import from {}: {} file(s) scanned, {} matched ({} added), {} unmatched, {} still missing",
            content_dir.display(),
            ci.scanned,
            ci.matched.len(),
            bytes(ci.added_bytes),
            ci.unmatched.len(),
            ci.missing.len()
        ))
    }

    /// Step 7.
    fn list_updates(&self, store: &Store) -> CliResult {
        say("\n7. the updates now in the connected store:")?;
        for u in list_updates(store, &ListQuery::default())? {
            say(format!(
                "   {:<10} {:<22} {}",
                super::updates::kb_label(u.kb.as_deref()),
                if u.superseded {
                    format!("{} (superseded)", u.state)
                } else {
                    u.state.clone()
                },
                u.title
            ))?;
        }
        Ok(())
    }

    /// Step 8: a child update point in the hierarchy, syncing from its parent with narrower
    /// criteria.
    fn child_store(&self, parent: &Path) -> CliResult {
        let mut child = Store::init(&self.base.join("child"), Some("child"), (self.clock)())?;
        self.sync(&mut child, parent)?;
        let change = CriteriaChange {
            products: &strings(&["Windows 10"]),
            classifications: &strings(&["Security Updates"]),
            ..Default::default()
        };
        self.set_criteria(&mut child, &change)?;
        let r = self.sync(&mut child, parent)?;
        say(format!(
            "\n8. a child update point synced from the connected store with criteria Windows 10 + Security Updates: {} new",
            r.changes.new
        ))
    }

    /// The connected side's signing key (as `offsync key generate --unencrypted` makes it):
    /// the recommended path signs every bundle.
    fn signing_key(&self) -> Result<crate::trust::KeyPaths, CliError> {
        let key = generate_key(&self.base.join("demo-key"), None)?;
        say(format!(
            "\n9. generated the signing key {} ({} and {})",
            key.key_id,
            key.secret_key.display(),
            key.public_key.display()
        ))?;
        Ok(key)
    }

    /// Steps 10 and 11, across the air gap: a signed export on the connected side, verify
    /// anywhere. Returns the bundle folder.
    fn export_and_verify(
        &self,
        store: &Store,
        key: &crate::trust::KeyPaths,
    ) -> Result<PathBuf, CliError> {
        let opts = ExportOptions {
            out: self.base.join("media"),
            full: false,
            metadata_only: false,
            max_volume_size: DEMO_VOLUME_SIZE,
            created: (self.clock)(),
            valid_until: None,
            signer: Some(SigningKey::load(&key.secret_key, None)?),
            allow_empty: true,
        };
        // The demo's own folder stands for the mounted media, which export never creates.
        std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, "create", e))?;
        let e = export(store, &opts, (self.clock)(), self.progress)?
            .ok_or_else(|| Error::other("the demo's export wrote no bundle"))?;
        say(format!(
            "10. exported {} bundle {} (sequence {}) to {}, signed: {} updates, {} content files ({}) in {} volume(s) of at most 96 KiB; {} referenced file(s) the store lacks",
            e.kind,
            e.bundle_id,
            e.sequence,
            e.bundle_dir,
            e.updates,
            e.content_files,
            bytes(e.content_bytes),
            e.volumes.len(),
            e.missing_files
        ))?;
        let bundle_dir = PathBuf::from(&e.bundle_dir);
        let v = crate::ops::verify::verify_bundle(
            std::slice::from_ref(&bundle_dir),
            Some(&key.public_key),
            (self.clock)(),
            self.progress,
        )
        .report;
        if let Some(kind) = v.first_error_kind() {
            return Err(Error::new(kind, "the demo bundle failed verification").into());
        }
        say(format!(
            "11. verified the bundle and its signature with no store (as at a guard station): {} volume(s) and {} entries match the manifest",
            e.volumes.len(),
            v.manifest.as_ref().map_or(0, |m| m.entries.len())
        ))?;
        Ok(bundle_dir)
    }

    /// Steps 12 to 16: trusting the key, a dry run, the import, and the same import again on
    /// the isolated side. Returns the isolated store's folder.
    fn isolated_store(
        &self,
        connected: &Store,
        bundle_dir: &Path,
        key: &crate::trust::KeyPaths,
    ) -> Result<PathBuf, CliError> {
        let dir = self.base.join("isolated");
        let mut iso = Store::init(&dir, Some("isolated"), (self.clock)())?;
        let t = crate::ops::trust::trust_key_file(&mut iso, &key.public_key, (self.clock)())?;
        say(format!(
            "12. the isolated store {} trusts key {} only: unsigned bundles are refused there",
            dir.display(),
            t.key_id
        ))?;
        let mut import_once = |dry_run: bool| -> Result<ImportReport> {
            let opts = ImportOptions {
                dry_run,
                ..ImportOptions::new((self.clock)())
            };
            let paths = [bundle_dir.to_path_buf()];
            import(&mut iso, &paths, &opts, self.progress)
        };
        let dry = import_once(true)?;
        say(format!(
            "13. dry run: would add {} updates and {} of content",
            dry.changes.new,
            bytes(dry.content_bytes)
        ))?;
        let r = import_once(false)?;
        say(format!(
            "14. imported ({}): {} new, {} updated, {} content files ({})",
            r.signed_by
                .as_deref()
                .map_or("no signature checked".to_string(), |k| format!(
                    "signature by key {k} checked"
                )),
            r.changes.new,
            r.changes.updated,
            r.content_files,
            bytes(r.content_bytes)
        ))?;
        let again = import_once(false)?;
        say(format!(
            "15. the same bundle again: {} (nothing written)",
            again.outcome
        ))?;
        let a = list_updates(connected, &ListQuery::default())?.len();
        let b = list_updates(&iso, &ListQuery::default())?.len();
        let c = iso.content_stats()?;
        say(format!(
            "16. the isolated store lists {b} updates (the connected one {a}), with {} of {} referenced files present",
            c.present, c.referenced
        ))?;
        Ok(dir)
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
