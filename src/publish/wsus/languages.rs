//! The `Languages` element of `package.xml`: the first entry `Id="0" ShortName="all"`, then
//! the store's criteria languages with their Windows LCIDs.
//!
//! The table holds the languages WSUS offers most often; a criteria language it does not
//! hold is left out of the element and named in the report (WSUS's own language settings,
//! which the README asks to match, are what decides what it downloads).

use super::xml::attr;

/// (short name as WSUS spells it, LCID, English name).
const LANGUAGES: &[(&str, u32, &str)] = &[
    ("ar", 1025, "Arabic"),
    ("bg", 1026, "Bulgarian"),
    ("zh-tw", 1028, "Chinese (Traditional)"),
    ("cs", 1029, "Czech"),
    ("da", 1030, "Danish"),
    ("de", 1031, "German"),
    ("el", 1032, "Greek"),
    ("en", 1033, "English"),
    ("fi", 1035, "Finnish"),
    ("fr", 1036, "French"),
    ("he", 1037, "Hebrew"),
    ("hu", 1038, "Hungarian"),
    ("it", 1040, "Italian"),
    ("ja", 1041, "Japanese"),
    ("ko", 1042, "Korean"),
    ("nl", 1043, "Dutch"),
    ("no", 1044, "Norwegian"),
    ("pl", 1045, "Polish"),
    ("pt-br", 1046, "Portuguese (Brazil)"),
    ("ro", 1048, "Romanian"),
    ("ru", 1049, "Russian"),
    ("hr", 1050, "Croatian"),
    ("sk", 1051, "Slovak"),
    ("sv", 1053, "Swedish"),
    ("th", 1054, "Thai"),
    ("tr", 1055, "Turkish"),
    ("uk", 1058, "Ukrainian"),
    ("sl", 1060, "Slovenian"),
    ("et", 1061, "Estonian"),
    ("lv", 1062, "Latvian"),
    ("lt", 1063, "Lithuanian"),
    ("zh-cn", 2052, "Chinese (Simplified)"),
    ("pt", 2070, "Portuguese (Portugal)"),
    ("sr", 2074, "Serbian (Latin)"),
    ("zh-hk", 3076, "Chinese (Hong Kong)"),
    ("es", 3082, "Spanish"),
];

/// The `Languages` element for the criteria languages `codes` (none: every language, so the
/// `all` entry is enabled), and the codes the table does not know.
pub fn languages_element(codes: &[String]) -> (String, Vec<String>) {
    let all_enabled = if codes.is_empty() { "1" } else { "0" };
    let mut xml = format!(
        r#"<Languages><Language Id="0" ShortName="all" LongName="all" Enabled="{all_enabled}" />"#
    );
    let mut unknown = Vec::new();
    for code in codes {
        let lower = code.to_ascii_lowercase();
        match LANGUAGES.iter().find(|(s, _, _)| *s == lower) {
            Some((short, lcid, long)) => xml.push_str(&format!(
                r#"<Language Id="{lcid}" ShortName="{}" LongName="{}" Enabled="1" />"#,
                attr(short),
                attr(long)
            )),
            None => unknown.push(code.clone()),
        }
    }
    xml.push_str("</Languages>");
    (xml, unknown)
}
