//! Folder and file names of the share. Every name comes from metadata (a category title, a
//! file name in an update document), so each is made into one safe path component before it
//! touches the file system: see docs/PUBLISH.md, "Names".

use crate::hash::sha256;

/// Longest folder name, in bytes of UTF-8 (product and classification titles), clash mark
/// included.
pub const MAX_FOLDER: usize = 60;
/// Longest file name, in bytes of UTF-8, clash mark included. A UTF-8 byte count is never
/// below the UTF-16 length Windows counts, so a share path is at most 60 + 1 + 60 + 1 + 100 =
/// 222 characters below the share's root: within the 259 that Windows clients open without
/// long-path support when the root (`\\server\share\`, a drive and folder) takes at most 37.
pub const MAX_FILE: usize = 100;
/// Longest extension kept when a file name is shortened.
const MAX_EXT: usize = 16;

/// Windows device names: reserved with any extension, in any case.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Characters that could hide or reorder what a name shows (zero-width, direction marks,
/// byte-order mark): a share is read by people choosing what to install.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` as one safe path component of at most `max` bytes: separators, control and
/// Windows-forbidden characters become `_`; leading dots and spaces, trailing dots and spaces
/// go; a Windows device name gets a leading `_`; an empty result is `_`. A name that had to be
/// shortened ends in `~` and the first 8 hex digits of the SHA-256 of the original text, so
/// that two long names that share a beginning stay apart. The extension (the part after the
/// last dot, up to 16 bytes) is kept when `keep_ext`.
pub fn component(text: &str, max: usize, keep_ext: bool) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            let bad = c.is_control()
                || invisible(c)
                || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|');
            if bad { '_' } else { c }
        })
        .collect();
    let trimmed = mapped
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    let mut name = if trimmed.is_empty() {
        "_".to_string()
    } else {
        trimmed.to_string()
    };
    let stem = name.split('.').next().unwrap_or("").trim_end_matches(' ');
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        name.insert(0, '_');
    }
    if name.len() > max {
        name = shorten(&name, text, max, keep_ext);
    }
    name
}

/// Cuts `name` to `max` bytes on a character boundary, marking the cut with `~` and 8 hex
/// digits of the original's SHA-256, before the extension when it is kept.
fn shorten(name: &str, original: &str, max: usize, keep_ext: bool) -> String {
    let mark = format!("~{}", &hex::encode(sha256(original.as_bytes()))[..8]);
    marked(name, &mark, max, keep_ext)
}

/// `name` with `mark` before its extension (the part after the last dot, up to 16 bytes) when
/// `keep_ext`, at the end otherwise; the rest cut on a character boundary so that the whole
/// stays within `max` bytes.
fn marked(name: &str, mark: &str, max: usize, keep_ext: bool) -> String {
    let ext = match name.rfind('.') {
        Some(i) if keep_ext && name.len() - i <= MAX_EXT && i > 0 => &name[i..],
        _ => "",
    };
    let room = max.saturating_sub(mark.len() + ext.len());
    let mut cut = room.min(name.len() - ext.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = name[..cut].trim_end_matches(['.', ' ']);
    format!("{head}{mark}{ext}")
}

/// `name` with `~` and the first 8 hex digits of `sha256` before its extension, within
/// [`MAX_FILE`]: the name of each of two different files that would otherwise share a name
/// in one folder.
pub fn with_digest(name: &str, sha256: &[u8; 32]) -> String {
    marked(
        name,
        &format!("~{}", &hex::encode(sha256)[..8]),
        MAX_FILE,
        true,
    )
}

/// Folder `name` with `~` and `short` (8 hex digits of the category's GUID) at its end,
/// within [`MAX_FOLDER`]: each of two categories whose folder names would be one.
pub fn folder_with_mark(name: &str, short: &str) -> String {
    marked(name, &format!("~{short}"), MAX_FOLDER, false)
}

/// The key under which names clash: Windows compares names without regard to case.
pub fn fold(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_one_safe_component() {
        let c = |s: &str| component(s, MAX_FILE, true);
        assert_eq!(c("..\\evil.exe"), "_evil.exe");
        assert_eq!(c("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(c("a/b"), "a_b");
        assert_eq!(c("CON"), "_CON");
        assert_eq!(c("con.txt"), "_con.txt");
        assert_eq!(c("Lpt1 .cab"), "_Lpt1 .cab");
        assert_eq!(c("CONSOLE.cab"), "CONSOLE.cab");
        assert_eq!(c(".."), "_");
        assert_eq!(c(""), "_");
        assert_eq!(c("name. . "), "name");
        assert_eq!(c("tab\there\u{202E}gpj.exe"), "tab_here_gpj.exe");
        assert_eq!(c("x:y*z?\"<>|"), "x_y_z_____");
        for s in ["..", ".", "a/..", "\\\\server\\share", "\u{0}"] {
            let n = c(s);
            assert!(!n.contains(['/', '\\', '\0']) && n != ".." && n != "." && !n.is_empty());
        }
    }

    #[test]
    fn long_names_are_cut_on_a_boundary_keeping_the_extension() {
        let long = format!("{}.msu", "é".repeat(200));
        let n = component(&long, MAX_FILE, true);
        assert!(n.len() <= MAX_FILE, "{}", n.len());
        assert!(n.ends_with(".msu"), "{n}");
        assert!(n.contains('~'));
        let other = format!("{}x.msu", "é".repeat(200));
        assert_ne!(n, component(&other, MAX_FILE, true));
        let folder = component(&"W".repeat(300), MAX_FOLDER, false);
        assert_eq!(folder.len(), MAX_FOLDER);
    }

    #[test]
    fn clash_marks_stay_within_the_limits() {
        let h = [0xab; 32];
        let long = component(&format!("{}.msu", "x".repeat(300)), MAX_FILE, true);
        let n = with_digest(&long, &h);
        assert!(n.len() <= MAX_FILE && n.ends_with("~abababab.msu"), "{n}");
        let f = folder_with_mark(&component(&"W".repeat(300), MAX_FOLDER, false), "a3c2375d");
        assert!(f.len() <= MAX_FOLDER && f.ends_with("~a3c2375d"), "{f}");
        assert_eq!(
            folder_with_mark("Windows 10", "a3c2375d"),
            "Windows 10~a3c2375d"
        );
    }

    #[test]
    fn digest_suffix_goes_before_the_extension() {
        let h = [0xab; 32];
        assert_eq!(with_digest("a.cab", &h), "a~abababab.cab");
        assert_eq!(with_digest("README", &h), "README~abababab");
    }
}
