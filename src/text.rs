//! Text that came from outside (a bundle, an upstream, a file name) made safe to show: on a
//! terminal a control character can move the cursor, hide or forge lines; in the log a line
//! break would forge a record. JSON output needs none of this: JSON escapes control
//! characters itself.

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every control character and every other character that prints nothing (format
/// characters such as bidirectional overrides and zero-width spaces, line and paragraph
/// separators) replaced by a visible escape: `\n`, `\r`, `\t`, or `\u{..}` with the code
/// point in hex (ESC becomes `\u{1b}`). The result is one line that shows what the text held.
/// Borrowed when nothing needed escaping (the common case). A backslash is kept as it is, so
/// that Windows paths stay readable; the escapes are for people, not for parsing back.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `c` is a control character or another character that prints nothing or changes
/// how the text around it is shown.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Unicode format characters (general category Cf) and the line and paragraph separators
/// (Zl, Zp): the ones in use today, listed rather than taken from a Unicode table (the
/// standard library has none for Cf).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD                      // soft hyphen
            | 0x0600..=0x0605       // Arabic number signs
            | 0x061C                // Arabic letter mark
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E                // Mongolian vowel separator
            | 0x200B..=0x200F       // zero-width space/joiners, LRM, RLM
            | 0x2028..=0x202E       // line/paragraph separators, bidi embeddings and overrides
            | 0x2060..=0x2064       // word joiner, invisible operators
            | 0x2066..=0x206F       // bidi isolates, deprecated format characters
            | 0xFEFF                // zero-width no-break space (BOM)
            | 0xFFF9..=0xFFFB       // interlinear annotation
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F // tag characters
    )
}

#[cfg(test)]
mod tests {
    use super::escape_controls;
    use std::borrow::Cow;

    #[test]
    fn plain_text_is_borrowed() {
        let s = "Security Update for Windows (KB5031356) – Größe, 日本語 C:\\x";
        assert!(matches!(escape_controls(s), Cow::Borrowed(x) if x == s));
    }

    #[test]
    fn controls_and_invisible_characters_are_escaped() {
        let s = "a\nOK: forged\r\x1b[8m\t\u{7f}\u{85}\u{202e}\u{200b}\u{2028}\u{feff}\u{e0041}z";
        let e = escape_controls(s);
        assert_eq!(
            e,
            "a\\nOK: forged\\r\\u{1b}[8m\\t\\u{7f}\\u{85}\\u{202e}\\u{200b}\\u{2028}\\u{feff}\\u{e0041}z"
        );
        assert!(!e.chars().any(|c| c.is_control()));
    }
}
