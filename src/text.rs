//! Text from outside (a bundle, an upstream, the media) made safe to show on a terminal.
//!
//! A store name, a title or a path from the media can hold control characters: a line break
//! that forges an "OK" line, `ESC[8m` that hides the lines after it, `ESC[2J` that clears the
//! screen, a bidi override that shows a name backwards. Everything the command line prints as
//! text goes through [`escape_controls`]; JSON output is left exact (JSON escapes by itself).

use std::borrow::Cow;

/// Outside text as HTML content or a quoted attribute value: markup characters as references,
/// control characters (which HTML does not allow) as U+FFFD. Shared by every page offsync
/// writes (the share's index, the status page).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `s` with every character a terminal would act on or not show written as `\u{XXXX}` (hex),
/// so that it prints as visible text on the line it belongs to. Borrowed when there is nothing
/// to escape (the usual case). A backslash is kept as it is: the output is for people to read,
/// not to be parsed back.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// C0 controls (tab and line breaks included), DEL, C1 controls, the bidi embeddings,
/// overrides and isolates, and the invisible zero-width and format characters.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{200b}'..='\u{200f}' // zero-width space, joiners, LRM, RLM
        | '\u{2028}' | '\u{2029}' // line and paragraph separators
        | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{feff}' // zero-width no-break space (BOM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "2024-01 Cumulative Update für Windows (KB5034122) C:\\path";
        assert!(matches!(escape_controls(s), Cow::Borrowed(x) if x == s));
    }

    #[test]
    fn controls_and_invisible_characters_are_escaped() {
        assert_eq!(
            escape_controls("a\nb\x1b[8m\r\t\u{7f}\u{85}"),
            "a\\u{000a}b\\u{001b}[8m\\u{000d}\\u{0009}\\u{007f}\\u{0085}"
        );
        assert_eq!(
            escape_controls("\u{202e}x\u{2066}\u{200b}\u{feff}"),
            "\\u{202e}x\\u{2066}\\u{200b}\\u{feff}"
        );
        let escaped = escape_controls("x\u{1b}\u{9b}\u{2069}");
        assert!(!escaped.chars().any(needs_escape));
    }
}
