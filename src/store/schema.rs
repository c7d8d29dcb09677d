//! The SQLite schema, as an append-only list of migrations keyed on `PRAGMA user_version`.
//! A migration once released is never edited: a change is a new entry at the end.

use crate::error::{Error, ErrorKind, Result};
use rusqlite::Connection;

/// Each entry moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the foundation: store identity, categories, updates and their relations, content,
    // criteria, and the sync history.
    r#"
    CREATE TABLE store_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE categories(
        id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        parent TEXT,
        changed_seq INTEGER NOT NULL
    );
    CREATE INDEX categories_changed ON categories(changed_seq);
    CREATE TABLE updates(
        update_id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        update_type TEXT NOT NULL,
        title TEXT NOT NULL,
        kb TEXT,
        severity TEXT,
        creation_date TEXT,
        state TEXT NOT NULL CHECK (state IN ('published', 'expired', 'removed')),
        declined INTEGER NOT NULL DEFAULT 0,
        fingerprint BLOB,
        doc BLOB NOT NULL,
        changed_seq INTEGER NOT NULL
    );
    CREATE INDEX updates_changed ON updates(changed_seq);
    CREATE INDEX updates_kb ON updates(kb);
    CREATE TABLE update_categories(
        update_id TEXT NOT NULL, category_id TEXT NOT NULL,
        PRIMARY KEY(update_id, category_id)) WITHOUT ROWID;
    CREATE INDEX update_categories_cat ON update_categories(category_id);
    CREATE TABLE supersedence(
        update_id TEXT NOT NULL, supersedes TEXT NOT NULL,
        PRIMARY KEY(update_id, supersedes)) WITHOUT ROWID;
    CREATE INDEX supersedence_rev ON supersedence(supersedes);
    CREATE TABLE bundles(
        parent TEXT NOT NULL, child TEXT NOT NULL,
        PRIMARY KEY(parent, child)) WITHOUT ROWID;
    CREATE INDEX bundles_child ON bundles(child);
    CREATE TABLE files(
        update_id TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER,
        sha1 BLOB,
        sha256 BLOB
    );
    CREATE INDEX files_update ON files(update_id);
    CREATE INDEX files_sha1 ON files(sha1);
    CREATE INDEX files_sha256 ON files(sha256);
    CREATE TABLE content(
        sha256 BLOB PRIMARY KEY,
        sha1 BLOB NOT NULL,
        size INTEGER NOT NULL,
        added TEXT NOT NULL
    );
    CREATE INDEX content_sha1 ON content(sha1);
    CREATE TABLE criteria(kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(kind, value));
    CREATE TABLE sync_runs(
        id INTEGER PRIMARY KEY,
        started TEXT NOT NULL,
        finished TEXT,
        source TEXT NOT NULL,
        outcome TEXT NOT NULL,
        new INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        expired INTEGER NOT NULL DEFAULT 0,
        removed INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        categories INTEGER NOT NULL DEFAULT 0,
        package_id TEXT,
        package_created TEXT,
        error TEXT
    );
    "#,
    // 2: carrying updates across the air gap: when content arrived (so an incremental export
    // carries content that came after its metadata), and the export and import history. The
    // import history is also the chain state: the last imported sequence per source store.
    r#"
    ALTER TABLE content ADD COLUMN added_seq INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX content_added ON content(added_seq);
    CREATE TABLE exports(
        sequence INTEGER PRIMARY KEY,
        bundle_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        base_sequence INTEGER,
        changes_from INTEGER NOT NULL,
        changes_to INTEGER NOT NULL,
        created TEXT NOT NULL,
        finished TEXT NOT NULL,
        path TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        categories INTEGER NOT NULL,
        updates INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        content_files INTEGER NOT NULL,
        content_bytes INTEGER NOT NULL,
        missing_files INTEGER NOT NULL
    );
    CREATE TABLE imports(
        id INTEGER PRIMARY KEY,
        source_store_id TEXT NOT NULL,
        source_store_name TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        bundle_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        imported TEXT NOT NULL,
        new INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        expired INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        content_files INTEGER NOT NULL,
        content_bytes INTEGER NOT NULL,
        note TEXT,
        UNIQUE(source_store_id, sequence)
    );
    "#,
    // 3: trust: the public keys whose signatures this store accepts on bundles.
    r#"
    CREATE TABLE trusted_keys(
        key_id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        comment TEXT NOT NULL,
        added TEXT NOT NULL
    );
    "#,
    // 4: whether an export carried content, so that the next one knows from where to carry it.
    r#"
    ALTER TABLE exports ADD COLUMN metadata_only INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: a source's chain can start again (`offsync chain reset`): each import belongs to a
    // numbered chain of its source, the chain state is the newest chain, and a sequence is
    // unique within a chain only. A reset is a row of kind 'chain-reset' (sequence 0) that
    // opens the next chain; the rows before it stay as history.
    r#"
    CREATE TABLE imports_v5(
        id INTEGER PRIMARY KEY,
        source_store_id TEXT NOT NULL,
        source_store_name TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        bundle_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        manifest_sha256 TEXT NOT NULL,
        imported TEXT NOT NULL,
        new INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        expired INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        content_files INTEGER NOT NULL,
        content_bytes INTEGER NOT NULL,
        note TEXT,
        chain INTEGER NOT NULL DEFAULT 0,
        UNIQUE(source_store_id, chain, sequence)
    );
    INSERT INTO imports_v5(id, source_store_id, source_store_name, sequence, bundle_id, kind,
        manifest_sha256, imported, new, updated, expired, removed, unchanged, content_files,
        content_bytes, note)
    SELECT id, source_store_id, source_store_name, sequence, bundle_id, kind, manifest_sha256,
        imported, new, updated, expired, removed, unchanged, content_files, content_bytes, note
    FROM imports;
    DROP TABLE imports;
    ALTER TABLE imports_v5 RENAME TO imports;
    "#,
    // 6: a local decision (decline, undecline) takes its own change number, apart from the
    // update's: an export then carries the decision alone, not the update and its content.
    r#"
    ALTER TABLE updates ADD COLUMN decided_seq INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX updates_decided ON updates(decided_seq);
    "#,
    // 7: the upstream's own document (upd:Update XML, deflated) of each stored update or
    // category revision, byte for byte as the upstream gave it (store/documents.rs).
    r#"
    CREATE TABLE documents(
        id TEXT PRIMARY KEY,
        revision INTEGER NOT NULL,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        doc BLOB NOT NULL
    );
    "#,
    // 8: each `publish wsus` to a folder (its canonical path), with the change sequence it
    // published up to, so that `--since-last` knows where the next one starts.
    r#"
    CREATE TABLE wsus_publishes(
        id INTEGER PRIMARY KEY,
        out_dir TEXT NOT NULL,
        change_seq INTEGER NOT NULL,
        published TEXT NOT NULL,
        packages INTEGER NOT NULL,
        records INTEGER NOT NULL
    );
    CREATE INDEX wsus_publishes_dir ON wsus_publishes(out_dir);
    "#,
    // 9: updates taken with `catalog import` (outside the criteria): a sync keeps them
    // current and never marks them absent. Apart from `updates` so that the sync's upsert of
    // a row leaves the mark alone, and so that it never takes a change number (it stays on
    // this side of the gap: docs/CATALOG-IMPORT.md).
    r#"
    CREATE TABLE catalog_imports(
        update_id TEXT PRIMARY KEY,
        imported TEXT NOT NULL,
        source TEXT NOT NULL,
        requested INTEGER NOT NULL
    );
    "#,
    // 10: one row per downstream point (a child that synced from this store, or an
    // isolated point that sent its receipt across the gap): what it last acknowledged of
    // this store, with the receipt it came in (store/downstream.rs).
    r#"
    CREATE TABLE downstream_points(
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('child', 'disconnected')),
        received TEXT NOT NULL,
        receipt_created TEXT NOT NULL,
        ack_sequence INTEGER,
        ack_bundle_id TEXT,
        ack_manifest_sha256 TEXT,
        ack_change_seq INTEGER,
        ack_time TEXT,
        change_seq INTEGER NOT NULL,
        updates INTEGER NOT NULL,
        content_missing INTEGER NOT NULL,
        last_outcome TEXT,
        last_outcome_time TEXT,
        last_error TEXT,
        signed_by TEXT,
        receipt TEXT NOT NULL
    );
    CREATE INDEX downstream_points_name ON downstream_points(name);
    "#,
    // 11: the change sequence at which each kept document arrived or changed, so
    // that `publish wsus --since-last` publishes an update whose document came after its
    // revision (0 for documents kept before: an earlier publish may have missed them only if
    // they came later, which a `--full` publish repairs).
    r#"
    ALTER TABLE documents ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX documents_changed ON documents(changed_seq);
    "#,
    // 12: the downstream point an `export --for POINT` bundle was made for (NULL: a bundle for
    // every point). The shared chain builds on the bundles for every point only, so that a
    // point's catch-up bundle never becomes another point's base.
    r#"
    ALTER TABLE exports ADD COLUMN for_point TEXT;
    "#,
];

/// The schema version this build writes.
pub const CURRENT: u32 = MIGRATIONS.len() as u32;

/// Brings the database to [`CURRENT`], each step in its own transaction.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > CURRENT {
        return Err(Error::new(
            ErrorKind::StoreDamaged,
            format!("the store's schema is version {version}, newer than this offsync understands ({CURRENT})"),
        )
        .with_hint("use the offsync release that wrote this store, or a newer one"));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    Ok(())
}
