//! The demo's sample data (the project's `fixtures/upstream` and `fixtures/content`), built
//! into the binary so that an installed `offsync demo` runs from any folder: it is written to
//! the demo folder, never looked for in the source tree at run time.

use crate::error::{Error, Result};
use std::fs;
use std::path::Path;

/// `(path below fixtures/, bytes)` of every sample file.
macro_rules! sample {
    ($($path:literal,)*) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $path)) as &[u8]),)*]
    };
}

pub(super) const FILES: &[(&str, &[u8])] = sample![
    "upstream/category-class-critical-updates.xml",
    "upstream/category-class-definition-updates.xml",
    "upstream/category-class-security-updates.xml",
    "upstream/category-class-updates.xml",
    "upstream/category-company-microsoft.xml",
    "upstream/category-family-office.xml",
    "upstream/category-family-windows.xml",
    "upstream/category-product-office-2016.xml",
    "upstream/category-product-windows-10.xml",
    "upstream/category-product-windows-11.xml",
    "upstream/category-product-windows-server-2012-r2.xml",
    "upstream/category-product-windows-server-2019.xml",
    "upstream/detectoid-i-win11-23h2-x64.xml",
    "upstream/update-a1-win10-2024-01-kb5034122.xml",
    "upstream/update-a2-win10-2024-02-kb5034763.xml",
    "upstream/update-a3-win10-2024-03-kb5035845.xml",
    "upstream/update-b0-win11-bundle-kb5034765.xml",
    "upstream/update-b1-win11-bundle-child-lcu-utf8bom.xml",
    "upstream/update-b2-win11-bundle-child-ssu.xml",
    "upstream/update-c-office2016-expired-kb4011035.xml",
    "upstream/update-d-ws2019-utf16le-bom-kb5034614.xml",
    "upstream/update-e-win10-utf16le-nobom-kb5034203.xml",
    "upstream/update-f1-win10-langpack-de.xml",
    "upstream/update-f2-win10-langpack-fr.xml",
    "upstream/update-g1-ws2012r2-kb4577066.xml",
    "upstream/update-g2-ws2012r2-kb3019978.xml",
    "upstream/update-h-defender-definition-kb2267602.xml",
    "content/am_delta_patch_1.403.3093.0.exe",
    "content/microsoft-windows-client-language-pack_x64_de-de_ebfe7b5cc9879356dc56d9bcffe9270343b37ede.cab",
    "content/microsoft-windows-client-language-pack_x64_fr-fr_fb6ad5f87116afc162a72efacb8aa7666258dbc0.cab",
    "content/mso2016-kb4011035-fullfile-x86-glb.exe",
    "content/ssu-22621.3140-x64_c0c763bca8e9a2994fbedc7db391619919a7675e.cab",
    "content/unrelated-driver.cab",
    "content/windows10.0-kb5034122-x64_1340b2a8faf7aa1e57607d41af0436dbe3d3d943.msu",
    "content/windows10.0-kb5034203-x64_c4ccda6dbf887d19a0ac2b1385c1298c5ccf2ed8.cab",
    "content/windows10.0-kb5034614-x64_9adecb4041f3b4edf762e173a141a568448fe527.cab",
    "content/windows10.0-kb5034763-x64_2a83d5bf55b2a127afa427b2df37b701bc65d8fc.msu",
    "content/windows11.0-kb5034765-x64_86343e77d1ed7165a16263b602549197ab9f94a8.cab",
];

/// Writes the sample data below `dir` (`dir/upstream`, `dir/content`).
pub(super) fn write_to(dir: &Path) -> Result<()> {
    for (rel, bytes) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create", e))?;
        }
        fs::write(&path, bytes).map_err(|e| Error::io(&path, "write", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::FILES;

    /// A fixture added to `upstream/` or `content/` must be added here too, or the demo and
    /// the tests would run on different data.
    #[test]
    fn every_fixture_is_built_in() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut on_disk = Vec::new();
        for sub in ["upstream", "content"] {
            for e in std::fs::read_dir(root.join(sub)).unwrap() {
                on_disk.push(format!(
                    "{sub}/{}",
                    e.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        on_disk.sort();
        let mut built_in: Vec<String> = FILES.iter().map(|f| f.0.to_string()).collect();
        built_in.sort();
        assert_eq!(on_disk, built_in);
    }
}
