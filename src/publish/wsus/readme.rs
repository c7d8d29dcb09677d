//! `README.txt`: what to do with the folder on the WSUS server.

/// A package file in the output folder: its name, and whether this publish wrote it.
pub struct Listed {
    pub name: String,
    pub this_run: bool,
}

/// Every package `<base>-<sequence>-<n>.cab` in `dir`, in import order: by sequence, then by
/// n, as numbers (`-9-` before `-10-`). Earlier publishes' packages stay in the folder on
/// purpose (one not imported yet must still be imported, first); `this_run` names this
/// publish's.
pub fn packages_in(
    dir: &std::path::Path,
    base: &str,
    this_run: &[String],
) -> std::io::Result<Vec<Listed>> {
    let mut found: Vec<((u64, u64), String)> = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let numbers = name
            .strip_prefix(base)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_suffix(".cab"))
            .and_then(|r| r.split_once('-'))
            .and_then(|(seq, n)| Some((seq.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
        if let Some(k) = numbers
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            found.push((k, name));
        }
    }
    found.sort();
    Ok(found
        .into_iter()
        .map(|(_, name)| Listed {
            this_run: this_run.contains(&name),
            name,
        })
        .collect())
}

/// The text of `README.txt` for the packages `packages` (every package in the folder, in
/// import order).
pub fn readme(
    store_name: &str,
    created: &str,
    packages: &[Listed],
    languages: &[String],
) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "WSUS metadata and content published by offsync from the store '{}' at {created}.\r\n\r\n",
        crate::text::escape_controls(store_name)
    ));
    s.push_str(
        "The package format follows Microsoft's published facts about `wsusutil export`\r\n\
         packages; it has not been tried against every WSUS version. Keep this folder until the\r\n\
         import has succeeded.\r\n\r\n\
         On the WSUS server, as a local administrator (a replica server cannot import):\r\n\r\n\
         1. Copy the folder WsusContent first, into the server's content folder (the folder that\r\n\
         \x20  holds WsusContent, for example D:\\WSUS\\WsusContent), keeping its structure. Files\r\n\
         \x20  that are missing there show as failed downloads after the import.\r\n\r\n\
         2. Import the metadata. Do not stop any service by hand: wsusutil stops and starts what\r\n\
         \x20  it needs itself. In an elevated command prompt:\r\n\r\n\
         \x20  cd \"%ProgramFiles%\\Update Services\\Tools\"\r\n",
    );
    if !packages.iter().any(|p| p.this_run) {
        s.push_str(
            "   (nothing new to import this time: no metadata changed since the last publish)\r\n",
        );
    }
    if packages.iter().any(|p| !p.this_run) {
        s.push_str(
            "\r\n   The folder also holds the packages of earlier publishes (marked below). Import\r\n\
             \x20  any you have not imported yet, older packages first, in this order:\r\n\r\n",
        );
    }
    for p in packages {
        let log = p.name.strip_suffix(".cab").unwrap_or(&p.name);
        if !p.this_run {
            s.push_str("   (from an earlier publish:)\r\n");
        }
        s.push_str(&format!(
            "   wsusutil.exe import <this folder>\\{} <this folder>\\{log}-import.log\r\n",
            p.name
        ));
    }
    if packages.len() > 1 {
        s.push_str(
            "\r\n   Import the packages in this order, each after the one before has finished.\r\n",
        );
    }
    s.push_str(
        "\r\n   Validation after an import can take hours.\r\n\r\n\
         3. If the console shows files as missing after the content is in place, run\r\n\
         \x20  wsusutil.exe reset\r\n\
         \x20  so that WSUS checks its content folder again.\r\n\r\n\
         4. The server's language settings (Options > Update Files and Languages) and its\r\n\
         \x20  express-files setting must match what was published. ",
    );
    if languages.is_empty() {
        s.push_str("This store selects every language.\r\n");
    } else {
        s.push_str(&format!(
            "This store selects the languages: {}.\r\n",
            languages.join(", ")
        ));
    }
    s.push_str(
        "\r\npublish.json in this folder lists what was written, and the updates that were left out\r\n\
         (with the reason: an update synced from wsusscn2.cab has no WSUS document) or that are\r\n\
         missing documents or content.\r\n",
    );
    s
}
