//! Names: of the bundle folder, of its volumes, and of the entries inside a volume.
//!
//! Entry names come from untrusted ZIP files and manifests, so they are never used as paths.
//! They are matched against the only four forms the format has, and anything else is refused
//! with a reason that names what was wrong (traversal, absolute, backslash, ...).

use crate::hash::sha256;

/// The header entry that opens every volume.
pub const HEADER_ENTRY: &str = "offsync-volume.json";
/// The metadata entry (volume 1 only).
pub const METADATA_ENTRY: &str = "metadata.bin";
/// The folder of content entries inside a volume.
pub const CONTENT_PREFIX: &str = "content/";
/// The manifest file in the bundle folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The checksum file in the bundle folder (`sha256sum -c SHA256SUMS`).
pub const SUMS_FILE: &str = "SHA256SUMS";
/// Highest piece number: pieces are `.p0001` to `.p9999`.
pub const MAX_PIECES: u32 = 9999;
/// Longest entry name the format produces (`content/<64 hex>.pNNNN`).
pub const MAX_ENTRY_NAME: usize = CONTENT_PREFIX.len() + 64 + 6;

/// What an entry name denotes, once it has been recognised as one of the format's forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryName {
    /// `offsync-volume.json`
    Header,
    /// `metadata.bin`
    Metadata,
    /// `content/<sha256 hex>`: a whole content file.
    Content([u8; 32]),
    /// `content/<sha256 hex>.pNNNN`: piece NNNN (from 1) of a content file.
    Piece([u8; 32], u32),
}

impl EntryName {
    /// The entry name as it is written into a volume.
    pub fn render(&self) -> String {
        match self {
            EntryName::Header => HEADER_ENTRY.to_string(),
            EntryName::Metadata => METADATA_ENTRY.to_string(),
            EntryName::Content(h) => format!("{CONTENT_PREFIX}{}", hex::encode(h)),
            EntryName::Piece(h, n) => format!("{CONTENT_PREFIX}{}.p{n:04}", hex::encode(h)),
        }
    }
}

/// Recognises an entry name, or says why it is unsafe or unknown. The checks for the classic
/// attacks come first so that the reason names the attack rather than "unknown form".
pub fn parse_entry_name(raw: &[u8]) -> std::result::Result<EntryName, String> {
    let shown = show_name(raw);
    if raw.is_empty() {
        return Err("empty entry name".into());
    }
    if raw.len() > 255 {
        return Err(format!(
            "entry name of {} bytes is too long: {shown}",
            raw.len()
        ));
    }
    if raw.contains(&0) {
        return Err(format!("entry name contains a NUL byte: {shown}"));
    }
    let Ok(name) = std::str::from_utf8(raw) else {
        return Err(format!("entry name is not UTF-8: {shown}"));
    };
    if name.contains('\\') {
        return Err(format!("entry name contains a backslash: {shown}"));
    }
    if name.starts_with('/') {
        return Err(format!("absolute entry name: {shown}"));
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Err(format!("entry name with a drive letter: {shown}"));
    }
    if name.split('/').any(|c| c == "..") {
        return Err(format!("path traversal in entry name: {shown}"));
    }
    if name.split('/').any(|c| c == "." || c.is_empty()) {
        return Err(format!(
            "entry name with an empty or '.' component: {shown}"
        ));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err(format!("entry name contains a control character: {shown}"));
    }
    match name {
        HEADER_ENTRY => return Ok(EntryName::Header),
        METADATA_ENTRY => return Ok(EntryName::Metadata),
        _ => {}
    }
    let unknown = || format!("entry name is not one of the bundle format's forms: {shown}");
    let rest = name.strip_prefix(CONTENT_PREFIX).ok_or_else(unknown)?;
    let (hex_part, piece) = match rest.len() {
        64 => (rest, None),
        70 => (&rest[..64], Some(&rest[64..])),
        _ => return Err(unknown()),
    };
    let hash = parse_lower_hex64(hex_part).ok_or_else(unknown)?;
    match piece {
        None => Ok(EntryName::Content(hash)),
        Some(p) => {
            let digits = p.strip_prefix(".p").ok_or_else(unknown)?;
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(unknown());
            }
            let n: u32 = digits.parse().map_err(|_| unknown())?;
            if n == 0 {
                return Err(unknown());
            }
            Ok(EntryName::Piece(hash, n))
        }
    }
}

/// Parses exactly 64 lowercase hex digits (the only spelling the format writes).
pub fn parse_lower_hex64(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// An untrusted name made printable for a message: escaped, and cut when long.
pub fn show_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    let mut out = format!("{s:?}");
    if out.len() > 120 {
        let mut cut = 100;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...\"");
    }
    out
}

/// The store name as it appears in file names: every character outside `[A-Za-z0-9_-]`
/// becomes `_`, at most 64 characters, `store` when nothing is left.
fn sanitize_store_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "store".to_string() } else { s }
}

/// The bundle's folder name: `offsync-<store>-s<sequence, 6 digits or more>`.
pub fn bundle_name(store_name: &str, sequence: u64) -> String {
    format!("offsync-{}-s{sequence:06}", sanitize_store_name(store_name))
}

/// A volume's file name: `<bundle name>-v<index from 1, 3 digits or more>.zip`.
pub fn volume_name(bundle_name: &str, index: u32) -> String {
    format!("{bundle_name}-v{index:03}.zip")
}

/// The bundle id: hex SHA-256 of the source store id and the sequence, so that the same
/// store and sequence always give the same id (no randomness, see determinism).
pub fn bundle_id(store_id: &str, sequence: u64) -> String {
    let mut input = Vec::with_capacity(store_id.len() + 40);
    input.extend_from_slice(b"offsync-bundle-v1\0");
    input.extend_from_slice(store_id.as_bytes());
    input.push(0);
    input.extend_from_slice(sequence.to_string().as_bytes());
    hex::encode(sha256(&input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_forms_are_recognised() {
        let h = [0xabu8; 32];
        for e in [
            EntryName::Header,
            EntryName::Metadata,
            EntryName::Content(h),
            EntryName::Piece(h, 12),
        ] {
            assert_eq!(parse_entry_name(e.render().as_bytes()), Ok(e));
        }
        assert_eq!(EntryName::Piece(h, 12).render().len(), MAX_ENTRY_NAME);
    }

    #[test]
    fn hostile_names_are_refused_with_a_reason() {
        let hex = "ab".repeat(32);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"../x".to_vec(), "traversal"),
            (b"a/../../x".to_vec(), "traversal"),
            (b"..\\..\\x".to_vec(), "backslash"),
            (b"/etc/x".to_vec(), "absolute"),
            (b"C:\\x".to_vec(), "backslash"),
            (b"C:x".to_vec(), "drive"),
            (b"".to_vec(), "empty"),
            (b".".to_vec(), "'.'"),
            (b"content/\0x".to_vec(), "NUL"),
            (vec![b'a'; 300], "too long"),
            (b"../store_evil/x".to_vec(), "traversal"),
            (b"content/".to_vec(), "'.'"),
            (
                format!("content/{}", hex.to_uppercase()).into_bytes(),
                "forms",
            ),
            (format!("content/{hex}.p0000").into_bytes(), "forms"),
            (format!("content/{hex}.p12345").into_bytes(), "forms"),
            (format!("content/{hex}.q0001").into_bytes(), "forms"),
            (format!("content/{hex}/").into_bytes(), "'.'"),
            (b"Metadata.bin".to_vec(), "forms"),
            (vec![0xff, 0xfe], "UTF-8"),
        ];
        for (name, why) in cases {
            let err = parse_entry_name(&name).unwrap_err();
            assert!(err.contains(why), "{name:?}: {err}");
        }
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(
            bundle_name("Main Store/ü", 42),
            "offsync-Main_Store__-s000042"
        );
        assert_eq!(bundle_name("", 1_234_567), "offsync-store-s1234567");
        assert_eq!(
            volume_name("offsync-a-s000001", 7),
            "offsync-a-s000001-v007.zip"
        );
        assert_eq!(bundle_id("x", 1), bundle_id("x", 1));
        assert_ne!(bundle_id("x", 1), bundle_id("x", 2));
        assert_eq!(bundle_id("x", 1).len(), 64);
    }
}
