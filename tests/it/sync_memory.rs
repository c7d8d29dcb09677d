//! Sync of a generated folder of a few thousand documents through the binary: the path whose
//! memory no longer grows with the number of documents (the scan index in temporary tables,
//! folder keys per folder) keeps its outcome counts. Memory itself is measured by
//! bench/sync.sh, never asserted here.

use crate::common::*;
use std::fs;
use std::path::Path;

const GENERATED: usize = 2000;

/// `GENERATED` Windows 10 security updates in 16 subfolders (and a nested one, named to sort
/// among its parent's documents, so that the parent's documents come in two runs around it),
/// written next to the fixtures.
fn generate(dir: &Path) -> Vec<std::path::PathBuf> {
    copy_tree(&upstream_fixtures(), dir);
    let mut paths = Vec::new();
    for n in 0..GENERATED {
        let id = format!("5e1ec7ed-0000-4000-8000-{n:012x}");
        let sub = dir.join(format!("g{:02}", n % 16));
        let sub = if n % 16 == 3 && n % 32 == 19 {
            // Between the parent's documents 5e1ec7ed-...-0000000003f3 and ...-000000000403.
            sub.join("5e1ec7ed-0000-4000-8000-000000000400-nested")
        } else {
            sub
        };
        fs::create_dir_all(&sub).unwrap();
        let xml = update_with_file_xml(
            &id,
            5_000_000 + n as u64,
            &format!("Generated update {n}"),
            &format!("gen-{n}.msu"),
            &[n as u8; 20],
            &[n as u8; 32],
            1000 + n as u64,
        );
        let path = sub.join(format!("{id}.xml"));
        fs::write(&path, xml).unwrap();
        paths.push(path);
    }
    paths
}

fn count(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"))
}

#[test]
fn sync_of_a_generated_folder_counts_every_outcome() {
    let t = tempfile::tempdir().unwrap();
    let criteria = [
        "--product",
        "Windows",
        "--classification",
        "Security Updates",
    ];
    // What the fixtures alone give, to add the generated documents to.
    let base = synced_from(t.path(), "base", &upstream_fixtures(), &criteria);
    let b = sync_json(&base, &upstream_fixtures(), &[]);
    let (base_updates, base_selected) = (count(&b, "upstream_updates"), count(&b, "selected"));

    let up = t.path().join("up");
    let generated = generate(&up);
    let store = synced_from(t.path(), "s", &up, &criteria);
    let log = fs::read_to_string(store.join("offsync.log")).unwrap();
    assert!(log.contains("new or changed to read"), "{log}");

    let again = sync_json(&store, &up, &[]);
    assert_eq!(
        count(&again, "upstream_updates"),
        base_updates + GENERATED as u64
    );
    assert_eq!(count(&again, "selected"), base_selected + GENERATED as u64);
    assert_eq!(count(&again, "unchanged"), base_selected + GENERATED as u64);
    assert_eq!(
        count(&again, "new") + count(&again, "updated"),
        0,
        "{again}"
    );
    let first = run(&["updates", "list", "--store", p(&store), "--json"], 0);
    assert!(
        first.contains("Generated update 1999"),
        "the last one is stored"
    );

    // Every 7th revision bumped: read again and counted as updated; the rest unchanged.
    let mut bumped = 0;
    for path in generated.iter().step_by(7) {
        let xml = fs::read_to_string(path).unwrap();
        fs::write(
            path,
            xml.replace("RevisionNumber=\"100\"", "RevisionNumber=\"101\""),
        )
        .unwrap();
        bumped += 1;
    }
    let bump = sync_json(&store, &up, &[]);
    assert_eq!(count(&bump, "updated"), bumped, "{bump}");
    assert_eq!(
        count(&bump, "unchanged"),
        base_selected + GENERATED as u64 - bumped
    );

    // Gone from the complete folder: tombstones, counted as removed.
    for path in generated.iter().skip(1).step_by(100) {
        fs::remove_file(path).unwrap();
    }
    let gone = sync_json(&store, &up, &[]);
    assert_eq!(count(&gone, "removed"), 20, "{gone}");
    assert_eq!(
        count(&gone, "upstream_updates"),
        base_updates + GENERATED as u64 - 20
    );

    // The store holds none of the generated payloads: an export names the first 1,000 it
    // lacks and counts them all (each generated update that is still published has one), and
    // the bundle imports.
    let (e, bundle) = export(&store, &t.path().join("media"), &[]);
    assert_eq!(e["missing"].as_array().unwrap().len(), 1000, "{e}");
    let missing = count(&e, "missing_files");
    assert!(missing >= GENERATED as u64 - 20, "{missing}");
    assert!(missing > 1000);
    let isolated = init_store(t.path(), "isolated");
    let r = import_json(&isolated, &bundle);
    assert_eq!(
        count(&r, "new"),
        base_selected + GENERATED as u64 - 20,
        "{r}"
    );
}
