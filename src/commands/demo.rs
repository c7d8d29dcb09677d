//! `offsync demo`: the main job end to end on the bundled sample data, saying what each step
//! did. It drives the same library calls as the individual commands.

use super::{bytes, say};
use crate::model::CategoryKind;
use crate::progress::Progress;
use crate::store::{Store, UpdateFilter};
use crate::time::Timestamp;
use crate::transfer::export::{ExportOptions, export};
use crate::transfer::import::{ImportOptions, import};
use crate::{Error, Result};
use std::path::{Path, PathBuf};

pub fn run(
    dir: Option<&Path>,
    fixtures: &Path,
    clock: &dyn Fn() -> Timestamp,
    progress: &dyn Progress,
) -> Result<()> {
    let upstream_dir = fixtures.join("upstream");
    let content_dir = fixtures.join("content");
    if !upstream_dir.is_dir() {
        return Err(
            Error::usage(format!("the sample data is not at {}", fixtures.display()))
                .with_hint("run the demo from the source tree, or give --fixtures DIR"),
        );
    }
    let base: PathBuf = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let t = tempfile::Builder::new()
                .prefix("offsync-demo-")
                .tempdir()
                .map_err(|e| Error::io(&std::env::temp_dir(), "create a folder in", e))?;
            t.keep()
        }
    };
    say(format!("demo folder: {}", base.display()));

    // 1. The connected update point.
    let connected = base.join("connected");
    let mut store = Store::init(&connected, Some("connected"), clock())?;
    say(format!(
        "\n1. created the connected store '{}' in {}",
        store.name(),
        connected.display()
    ));
    let mut up = crate::upstream::open(&upstream_dir)?;
    let r = crate::sync::sync(
        &mut store,
        up.as_mut(),
        &Default::default(),
        clock,
        progress,
    )?;
    say(format!(
        "2. first sync from {}: {} categories, no criteria yet, so no updates",
        upstream_dir.display(),
        r.categories
    ));

    // 2. The administrator chooses products and classifications, as in Configuration Manager.
    let products = [
        "Windows 10",
        "Windows 11",
        "Windows Server 2019",
        "Office 2016",
    ];
    let classes = ["Security Updates", "Critical Updates", "Updates"];
    let p = products
        .iter()
        .map(|t| {
            store
                .resolve_category(t, &[CategoryKind::Product])
                .map(|g| g.to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let c = classes
        .iter()
        .map(|t| {
            store
                .resolve_category(t, &[CategoryKind::Classification])
                .map(|g| g.to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let mut tx = store.begin()?;
    tx.set_criteria("product", &p)?;
    tx.set_criteria("classification", &c)?;
    tx.set_criteria("language", &["en".to_string(), "de".to_string()])?;
    tx.commit()?;
    say(format!(
        "3. criteria: products {}; classifications {}; languages en, de",
        products.join(", "),
        classes.join(", ")
    ));
    let r = crate::sync::sync(
        &mut store,
        up.as_mut(),
        &Default::default(),
        clock,
        progress,
    )?;
    say(format!(
        "4. second sync: {} new, {} updated, {} expired, {} removed ({} of {} upstream updates selected)",
        r.new, r.updated, r.expired, r.removed, r.selected, r.upstream_updates
    ));
    for w in &r.warnings {
        say(format!("   warning: {w}"));
    }
    let r = crate::sync::sync(
        &mut store,
        up.as_mut(),
        &Default::default(),
        clock,
        progress,
    )?;
    say(format!(
        "5. the same sync again: {} new, {} updated, {} unchanged",
        r.new, r.updated, r.unchanged
    ));

    let ci = crate::content::import_content(&mut store, &content_dir, clock(), progress)?;
    say(format!(
        "6. content import from {}: {} file(s) scanned, {} matched ({} added), {} unmatched, {} still missing",
        content_dir.display(),
        ci.scanned,
        ci.matched.len(),
        bytes(ci.added_bytes),
        ci.unmatched.len(),
        ci.missing.len()
    ));

    say("\n7. the updates now in the connected store:");
    for u in store.list_updates(&UpdateFilter::default())? {
        say(format!(
            "   {:<10} {:<22} {}",
            u.kb.as_deref()
                .map(|k| format!("KB{k}"))
                .unwrap_or_else(|| "-".into()),
            if u.superseded {
                format!("{} (superseded)", u.state)
            } else {
                u.state.clone()
            },
            u.title
        ));
    }

    // 3. A child update point in the hierarchy, syncing from its parent with narrower criteria.
    let child_dir = base.join("child");
    let mut child = Store::init(&child_dir, Some("child"), clock())?;
    let mut parent = crate::upstream::open(&connected)?;
    crate::sync::sync(
        &mut child,
        parent.as_mut(),
        &Default::default(),
        clock,
        progress,
    )?;
    let win10 = child
        .resolve_category("Windows 10", &[CategoryKind::Product])?
        .to_string();
    let sec = child
        .resolve_category("Security Updates", &[CategoryKind::Classification])?
        .to_string();
    let mut tx = child.begin()?;
    tx.set_criteria("product", &[win10])?;
    tx.set_criteria("classification", &[sec])?;
    tx.commit()?;
    let r = crate::sync::sync(
        &mut child,
        parent.as_mut(),
        &Default::default(),
        clock,
        progress,
    )?;
    say(format!(
        "\n8. a child update point synced from the connected store with criteria Windows 10 + Security Updates: {} new",
        r.new
    ));

    // 4. Across the air gap: export on the connected side, verify anywhere, import on the
    // isolated side.
    let media = base.join("media");
    let opts = ExportOptions {
        out: media.clone(),
        full: false,
        metadata_only: false,
        max_volume_size: 96 * 1024,
        created: clock(),
        valid_until: None,
        signer: None,
    };
    let e = export(&store, &opts, clock(), progress)?;
    say(format!(
        "\n9. exported {} bundle {} (sequence {}) to {}: {} updates, {} content files ({}) in {} volume(s) of at most 96 KiB; {} referenced file(s) the store lacks",
        e.kind,
        e.bundle_id,
        e.sequence,
        e.bundle_dir,
        e.updates,
        e.content_files,
        bytes(e.content_bytes),
        e.volumes.len(),
        e.missing.len()
    ));
    let bundle_dir = PathBuf::from(&e.bundle_dir);
    let v = crate::bundle::verify(std::slice::from_ref(&bundle_dir), progress);
    if let Some(kind) = v.first_error_kind() {
        return Err(Error::new(kind, "the demo bundle failed verification"));
    }
    say(format!(
        "10. verified the bundle with no store (as at a guard station): {} volume(s) and {} entries match the manifest",
        e.volumes.len(),
        v.manifest.as_ref().map_or(0, |m| m.entries.len())
    ));
    let isolated = base.join("isolated");
    let mut iso = Store::init(&isolated, Some("isolated"), clock())?;
    let dry = import(
        &mut iso,
        std::slice::from_ref(&bundle_dir),
        &ImportOptions {
            dry_run: true,
            ..ImportOptions::new(clock())
        },
        progress,
    )?;
    say(format!(
        "11. dry run on the isolated store {}: would add {} updates and {} of content",
        isolated.display(),
        dry.new,
        bytes(dry.content_bytes)
    ));
    let r = import(
        &mut iso,
        std::slice::from_ref(&bundle_dir),
        &ImportOptions::new(clock()),
        progress,
    )?;
    say(format!(
        "12. imported: {} new, {} updated, {} content files ({})",
        r.new,
        r.updated,
        r.content_files,
        bytes(r.content_bytes)
    ));
    let again = import(
        &mut iso,
        std::slice::from_ref(&bundle_dir),
        &ImportOptions::new(clock()),
        progress,
    )?;
    say(format!(
        "13. the same bundle again: {} (nothing written)",
        again.outcome
    ));
    let a = store.list_updates(&UpdateFilter::default())?.len();
    let b = iso.list_updates(&UpdateFilter::default())?.len();
    let c = iso.content_stats()?;
    say(format!(
        "14. the isolated store lists {b} updates (the connected one {a}), with {} of {} referenced files present",
        c.present, c.referenced
    ));

    say(format!(
        "\nlook around: offsync status --store {}   |   offsync updates list --store {}",
        isolated.display(),
        isolated.display()
    ));
    Ok(())
}
