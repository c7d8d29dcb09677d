//! The little XML `package.xml` needs: attribute values escaped.

/// `s` as an attribute value between double quotes: markup characters and the white space
/// an attribute would normalise away are written as references.
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            // Other control characters cannot appear in XML 1.0 at all.
            c if (c as u32) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn attribute_values_are_escaped() {
        assert_eq!(
            super::attr("a&b<c>\"d'\te\u{1}"),
            "a&amp;b&lt;c&gt;&quot;d&apos;&#9;e\u{fffd}"
        );
    }
}
