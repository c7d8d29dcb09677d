use super::*;
use std::path::{Path, PathBuf};

const NS: &str = r#"xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update""#;

fn g(s: &str) -> Guid {
    Guid::parse(s).unwrap()
}

fn update(xml: &str) -> Update {
    match parse_document(xml.as_bytes()) {
        Ok(Document::Update(u)) => u,
        Ok(Document::Category(c)) => panic!("expected an update, got category {c:?}"),
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn category(xml: &str) -> Category {
    match parse_document(xml.as_bytes()) {
        Ok(Document::Category(c)) => c,
        Ok(Document::Update(u)) => panic!("expected a category, got update {}", u.id),
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn error(bytes: &[u8]) -> String {
    match parse_document(bytes) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.message,
    }
}

/// A document around `body` (children of the root, after the identity and properties).
fn doc(props: &str, body: &str) -> String {
    format!(
        r#"<upd:Update {NS}>
  <upd:UpdateIdentity UpdateID="05a7711a-079e-4fbb-8d1a-9015c92a2ae0" RevisionNumber="200" />
  <upd:Properties UpdateType="Software" DefaultPropertiesLanguage="en" {props}></upd:Properties>
  {body}
</upd:Update>"#
    )
}

const FULL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<upd:Update xmlns:pub="http://schemas.microsoft.com/msus/2002/12/Publishing" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update">
  <upd:UpdateIdentity UpdateID="7B6D13C6-6401-4A10-A61F-1DAB8D93356E" RevisionNumber="200" />
  <upd:Properties DefaultPropertiesLanguage="EN" UpdateType="Software" MsrcSeverity="Critical" PublicationState="Published" CreationDate="2022-05-10T17:00:06.000Z">
    <upd:InstallationBehavior RebootBehavior="CanRequestReboot" />
    <upd:SupportUrl>https://support.microsoft.com/help/5013943</upd:SupportUrl>
    <upd:KBArticleID>KB5013943</upd:KBArticleID>
    <upd:Language>DE</upd:Language>
    <upd:Language>pt-BR</upd:Language>
  </upd:Properties>
  <upd:LocalizedPropertiesCollection>
    <upd:LocalizedProperties>
      <upd:Language>en</upd:Language>
      <upd:Title>2022-05 Cumulative Update (KB5013943)</upd:Title>
      <upd:Description>Install this update.</upd:Description>
      <upd:MoreInfoUrl>https://support.microsoft.com/help/5013943</upd:MoreInfoUrl>
    </upd:LocalizedProperties>
    <upd:LocalizedProperties>
      <upd:Language>PT-BR</upd:Language>
      <upd:Title>Atualização Cumulativa (KB5013943)</upd:Title>
    </upd:LocalizedProperties>
  </upd:LocalizedPropertiesCollection>
  <upd:Relationships>
    <upd:SupersededUpdates>
      <upd:UpdateIdentity UpdateID="e2ad983b-4ada-44ed-a1fd-748fbf935fb0" />
      <upd:UpdateIdentity UpdateID="8cf5c03f-1b45-4d8f-a6d6-9fc9a927f92a" />
    </upd:SupersededUpdates>
    <upd:Prerequisites>
      <upd:UpdateIdentity UpdateID="c57b3cff-f20d-4841-9970-cfc10d156057" />
      <upd:AtLeastOne>
        <upd:UpdateIdentity UpdateID="e5555fe7-924e-4ba0-9039-62ffcd16cf1a" />
      </upd:AtLeastOne>
      <upd:AtLeastOne IsCategory="true">
        <upd:UpdateIdentity UpdateID="72e7624a-5b00-45d2-b92f-e561c0a6a160" />
      </upd:AtLeastOne>
      <upd:AtLeastOne IsCategory="true">
        <upd:UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441" />
      </upd:AtLeastOne>
    </upd:Prerequisites>
    <upd:BundledUpdates>
      <upd:UpdateIdentity UpdateID="ad1a3f81-2318-4a4d-8a86-3915edc389ae" RevisionNumber="200" />
      <upd:AtLeastOne>
        <upd:UpdateIdentity RevisionNumber="100" UpdateID="6609771a-1e19-4e99-bc29-38ef76331070" />
        <upd:UpdateIdentity UpdateID="0a51549b-4e86-4a26-97d4-9e3567f24ea1" />
      </upd:AtLeastOne>
    </upd:BundledUpdates>
  </upd:Relationships>
  <upd:ApplicabilityRules>
    <upd:IsInstalled><upd:UpdateIdentity UpdateID="not-a-guid" /></upd:IsInstalled>
    <upd:Files><upd:File FileName="rule.cab" Digest="!!" /></upd:Files>
  </upd:ApplicabilityRules>
  <upd:Files>
    <upd:File Digest="mTQZsbAqDuTchNIJkUhQX3op3X4=" DigestAlgorithm="SHA1" FileName="10931cb1-d155-4e89-8878-e6193071edb3.cab" Size="531141" Modified="2022-06-14T14:20:15Z">
      <upd:AdditionalDigest Algorithm="SHA256">wHzlAUgPsCnT+FZUdyB8a1oVicnO5zXVoXeebQMTras=</upd:AdditionalDigest>
    </upd:File>
    <upd:File FileName="nodigest.cab" />
  </upd:Files>
  <upd:HandlerSpecificData xsi:type="cbs:Cbs" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><cbs:CbsData xmlns:cbs="urn:x" /></upd:HandlerSpecificData>
</upd:Update>
"#;

fn driver_sha1() -> [u8; 20] {
    BASE64
        .decode("mTQZsbAqDuTchNIJkUhQX3op3X4=")
        .unwrap()
        .try_into()
        .unwrap()
}

fn driver_sha256() -> [u8; 32] {
    BASE64
        .decode("wHzlAUgPsCnT+FZUdyB8a1oVicnO5zXVoXeebQMTras=")
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn maps_every_field_of_a_software_update() {
    let u = update(FULL);
    assert_eq!(u.id, g("7b6d13c6-6401-4a10-a61f-1dab8d93356e"));
    assert_eq!(u.revision, 200);
    assert_eq!(u.update_type, "Software");
    assert_eq!(u.default_language.as_deref(), Some("en"));
    assert_eq!(u.severity.as_deref(), Some("Critical"));
    assert_eq!(u.creation_date.as_deref(), Some("2022-05-10T17:00:06.000Z"));
    assert_eq!(u.publication_state, PublicationState::Published);
    assert_eq!(u.kb.as_deref(), Some("5013943"));
    assert_eq!(u.languages, ["de", "pt-br"]);
    assert!(!u.is_language_neutral());
    assert_eq!(u.localized.keys().collect::<Vec<_>>(), ["en", "pt-br"]);
    assert_eq!(
        u.localized["en"].title,
        "2022-05 Cumulative Update (KB5013943)"
    );
    assert_eq!(
        u.localized["en"].description.as_deref(),
        Some("Install this update.")
    );
    assert_eq!(
        u.localized["pt-br"].title,
        "Atualização Cumulativa (KB5013943)"
    );
    assert_eq!(u.localized["pt-br"].description, None);
    assert_eq!(u.title("pt-br"), "Atualização Cumulativa (KB5013943)");
    // Only the IsCategory groups, sorted.
    assert_eq!(
        u.categories,
        [
            g("0fa1201d-4330-4fa8-8ae9-b877473b6441"),
            g("72e7624a-5b00-45d2-b92f-e561c0a6a160")
        ]
    );
    assert_eq!(
        u.supersedes,
        [
            g("8cf5c03f-1b45-4d8f-a6d6-9fc9a927f92a"),
            g("e2ad983b-4ada-44ed-a1fd-748fbf935fb0")
        ]
    );
    assert_eq!(
        u.bundled,
        [
            BundledRef {
                id: g("0a51549b-4e86-4a26-97d4-9e3567f24ea1"),
                revision: None
            },
            BundledRef {
                id: g("6609771a-1e19-4e99-bc29-38ef76331070"),
                revision: Some(100)
            },
            BundledRef {
                id: g("ad1a3f81-2318-4a4d-8a86-3915edc389ae"),
                revision: Some(200)
            },
        ]
    );
    assert_eq!(
        u.files.len(),
        2,
        "files inside ApplicabilityRules are not payload files"
    );
    let f = &u.files[0];
    assert_eq!(f.name, "10931cb1-d155-4e89-8878-e6193071edb3.cab");
    assert_eq!(f.size, Some(531141));
    assert_eq!(f.sha1, Some(driver_sha1()));
    assert_eq!(f.sha256, Some(driver_sha256()));
    assert_eq!(f.url, None);
    assert_eq!(
        u.files[1],
        FileRef {
            name: "nodigest.cab".into(),
            size: None,
            sha1: None,
            sha256: None,
            url: None
        }
    );
}

#[test]
fn expired_and_absent_properties() {
    let u = update(&doc(r#"PublicationState="Expired""#, ""));
    assert_eq!(u.publication_state, PublicationState::Expired);
    assert_eq!(u.severity, None);
    assert_eq!(u.kb, None);
    assert_eq!(u.creation_date, None);
    assert!(u.languages.is_empty() && u.is_language_neutral());
    assert!(u.localized.is_empty() && u.categories.is_empty() && u.files.is_empty());
    let u = update(&doc(r#"PublicationState="Published""#, ""));
    assert_eq!(u.publication_state, PublicationState::Published);
}

#[test]
fn kb_numbers() {
    let kb = |text: &str| {
        let xml = format!(
            r#"<upd:Update {NS}><upd:UpdateIdentity UpdateID="05a7711a-079e-4fbb-8d1a-9015c92a2ae0" RevisionNumber="1"/>
                <upd:Properties UpdateType="Software"><upd:KBArticleID>{text}</upd:KBArticleID></upd:Properties></upd:Update>"#
        );
        update(&xml).kb
    };
    assert_eq!(kb("4577066").as_deref(), Some("4577066"));
    assert_eq!(kb(" KB3019978 ").as_deref(), Some("3019978"));
    assert_eq!(kb("kb123").as_deref(), Some("123"));
    assert_eq!(kb("MS15-004"), None);
    assert_eq!(kb(""), None);
    assert_eq!(kb("KB"), None);
}

#[test]
fn language_all_is_neutral() {
    let u = update(&doc("", "").replace(
        "></upd:Properties>",
        "><upd:Language>all</upd:Language></upd:Properties>",
    ));
    assert_eq!(u.languages, ["all"]);
    assert!(u.is_language_neutral());
}

#[test]
fn identity_is_the_first_one_directly_under_the_root() {
    let xml = format!(
        r#"<Update {NS}>
  <upd:Relationships><upd:SupersededUpdates><upd:UpdateIdentity UpdateID="e2ad983b-4ada-44ed-a1fd-748fbf935fb0" RevisionNumber="7"/></upd:SupersededUpdates></upd:Relationships>
  <upd:UpdateIdentity UpdateID="05a7711a-079e-4fbb-8d1a-9015c92a2ae0" RevisionNumber="201"></upd:UpdateIdentity>
  <upd:UpdateIdentity UpdateID="0a51549b-4e86-4a26-97d4-9e3567f24ea1" RevisionNumber="5"/>
  <upd:Properties UpdateType="Software"/>
</Update>"#
    );
    let u = update(&xml);
    assert_eq!(u.id, g("05a7711a-079e-4fbb-8d1a-9015c92a2ae0"));
    assert_eq!(u.revision, 201);
    assert_eq!(u.supersedes, [g("e2ad983b-4ada-44ed-a1fd-748fbf935fb0")]);
}

#[test]
fn redeclared_prefixes_default_namespace_and_attribute_order() {
    let xml = r#"<u:Update xmlns:u="http://schemas.microsoft.com/msus/2002/12/Update">
  <upd:UpdateIdentity RevisionNumber="100" UpdateID="ea038468-1bdf-4862-bb27-99f17046d686" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update" />
  <Properties xmlns="http://schemas.microsoft.com/msus/2002/12/Update" MsrcSeverity="Important" UpdateType="Software" PublicationState="Expired"><Language>all</Language><KBArticleID>5083769</KBArticleID></Properties>
  <x:LocalizedPropertiesCollection xmlns:x="http://schemas.microsoft.com/msus/2002/12/Update">
    <y:LocalizedProperties xmlns:y="http://schemas.microsoft.com/msus/2002/12/Update"><y:Title>Title first</y:Title><x:Language>en</x:Language></y:LocalizedProperties>
  </x:LocalizedPropertiesCollection>
  <upd:Relationships xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update">
    <upd:Prerequisites><upd:AtLeastOne IsCategory="1"><upd:UpdateIdentity UpdateID="72e7624a-5b00-45d2-b92f-e561c0a6a160"/></upd:AtLeastOne></upd:Prerequisites>
    <upd:BundledUpdates><upd:AtLeastOne><upd:UpdateIdentity RevisionNumber="100" UpdateID="6609771a-1e19-4e99-bc29-38ef76331070"/></upd:AtLeastOne></upd:BundledUpdates>
  </upd:Relationships>
</u:Update>"#;
    let u = update(xml);
    assert_eq!(u.id, g("ea038468-1bdf-4862-bb27-99f17046d686"));
    assert_eq!(u.revision, 100);
    assert_eq!(u.severity.as_deref(), Some("Important"));
    assert_eq!(u.publication_state, PublicationState::Expired);
    assert_eq!(u.kb.as_deref(), Some("5083769"));
    assert_eq!(u.languages, ["all"]);
    assert_eq!(u.title("en"), "Title first");
    assert_eq!(u.categories, [g("72e7624a-5b00-45d2-b92f-e561c0a6a160")]);
    assert_eq!(
        u.bundled,
        [BundledRef {
            id: g("6609771a-1e19-4e99-bc29-38ef76331070"),
            revision: Some(100)
        }]
    );
}

#[test]
fn text_with_references_cdata_and_line_ends() {
    let body = "<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language>\
            <upd:Title> Tools &amp; Fixes &#x263A; &lt;x&gt; <![CDATA[<raw>]]></upd:Title>\
            <upd:Description>line one\r\nline two</upd:Description></upd:LocalizedProperties></upd:LocalizedPropertiesCollection>";
    let u = update(&doc("", body));
    assert_eq!(u.localized["en"].title, "Tools & Fixes \u{263A} <x> <raw>");
    assert_eq!(
        u.localized["en"].description.as_deref(),
        Some("line one\nline two")
    );
    let bad = doc(
        "",
        "<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language><upd:Title>&nbsp;</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection>",
    );
    assert!(error(bad.as_bytes()).contains("unknown entity &nbsp;"));
}

#[test]
fn localized_entries_without_title_or_language_are_dropped_first_wins() {
    let body = "<upd:LocalizedPropertiesCollection>\
            <upd:LocalizedProperties><upd:Language>de</upd:Language><upd:Description>nur Text</upd:Description></upd:LocalizedProperties>\
            <upd:LocalizedProperties><upd:Title>no language</upd:Title></upd:LocalizedProperties>\
            <upd:LocalizedProperties><upd:Language>fr</upd:Language><upd:Title>Premier</upd:Title><upd:Description> </upd:Description></upd:LocalizedProperties>\
            <upd:LocalizedProperties><upd:Language>FR</upd:Language><upd:Title>Second</upd:Title></upd:LocalizedProperties>\
            </upd:LocalizedPropertiesCollection>";
    let u = update(&doc("", body));
    assert_eq!(u.localized.len(), 1);
    assert_eq!(
        u.localized["fr"],
        Localized {
            title: "Premier".into(),
            description: None
        }
    );
}

#[test]
fn digests() {
    let files = |attrs: &str, inner: &str| {
        let u = update(&doc(
            "",
            &format!(
                "<upd:Files><upd:File FileName=\"a.cab\" {attrs}>{inner}</upd:File></upd:Files>"
            ),
        ));
        u.files.into_iter().next().unwrap()
    };
    // SHA-1 with no DigestAlgorithm, unpadded base64 accepted.
    let f = files(r#"Digest="mTQZsbAqDuTchNIJkUhQX3op3X4""#, "");
    assert_eq!(f.sha1, Some(driver_sha1()));
    // A Digest of the wrong length is not a SHA-1 (and not an error).
    let f = files(r#"Digest="AAAA" DigestAlgorithm="SHA1""#, "");
    assert_eq!(f.sha1, None);
    // A Digest declared SHA256 lands in sha256.
    let f = files(
        r#"Digest="wHzlAUgPsCnT+FZUdyB8a1oVicnO5zXVoXeebQMTras=" DigestAlgorithm="SHA256""#,
        "",
    );
    assert_eq!((f.sha1, f.sha256), (None, Some(driver_sha256())));
    // Unknown algorithms are ignored, in the attribute and in AdditionalDigest.
    let f = files(
        r#"Digest="mTQZsbAqDuTchNIJkUhQX3op3X4=" DigestAlgorithm="MD5""#,
        r#"<upd:AdditionalDigest Algorithm="SHA512">AAAA</upd:AdditionalDigest><upd:AdditionalDigest Algorithm="sha256">
                wHzlAUgPsCnT+FZUdyB8a1oVicnO5zXVoXeebQMTras=
            </upd:AdditionalDigest>"#,
    );
    assert_eq!((f.sha1, f.sha256), (None, Some(driver_sha256())));
    // Bad base64 names the file.
    let e = error(
        doc(
            "",
            r#"<upd:Files><upd:File FileName="bad.cab" Digest="not base64!" /></upd:Files>"#,
        )
        .as_bytes(),
    );
    assert!(e.contains("bad.cab") && e.contains("not base64!"), "{e}");
    let e = error(
            doc("", r#"<upd:Files><upd:File FileName="bad2.cab"><upd:AdditionalDigest Algorithm="SHA256">%%%</upd:AdditionalDigest></upd:File></upd:Files>"#)
                .as_bytes(),
        );
    assert!(
        e.contains("bad2.cab") && e.contains("AdditionalDigest"),
        "{e}"
    );
    let e = error(
        doc(
            "",
            r#"<upd:Files><upd:File FileName="big.cab" Size="-1" /></upd:Files>"#,
        )
        .as_bytes(),
    );
    assert!(e.contains("big.cab") && e.contains("'-1'"), "{e}");
    let e = error(doc("", r#"<upd:Files><upd:File Size="1" /></upd:Files>"#).as_bytes());
    assert!(e.contains("no FileName"), "{e}");
}

const CATEGORY: &str = r#"<upd:Update xmlns:cat="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update">
  <upd:UpdateIdentity UpdateID="a3c2375d-0c8a-42f9-bce0-28333e198407" RevisionNumber="12" />
  <upd:Properties DefaultPropertiesLanguage="DEFLANG" UpdateType="Category" PublicationState="Published" />
  <upd:LocalizedPropertiesCollection>LOCALIZED</upd:LocalizedPropertiesCollection>
  <upd:Relationships><upd:Prerequisites>
    <upd:UpdateIdentity UpdateID="59653007-e2e9-4f71-8525-2ff588527978" />
    <upd:AtLeastOne IsCategory="true"><upd:UpdateIdentity UpdateID="6964aab4-c5b5-43bd-a17d-ffb4346a8e1d" /><upd:UpdateIdentity UpdateID="477b856e-65c4-4473-b621-a8b230bb70d9" /></upd:AtLeastOne>
  </upd:Prerequisites></upd:Relationships>
  <upd:HandlerSpecificData xsi:type="cat:Category" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">HANDLER</upd:HandlerSpecificData>
</upd:Update>"#;

fn lp(lang: &str, title: &str) -> String {
    format!(
        "<upd:LocalizedProperties><upd:Language>{lang}</upd:Language><upd:Title>{title}</upd:Title></upd:LocalizedProperties>"
    )
}

fn cat_doc(deflang: &str, localized: &str, handler: &str) -> String {
    CATEGORY
        .replace("DEFLANG", deflang)
        .replace("LOCALIZED", localized)
        .replace("HANDLER", handler)
}

const PRODUCT: &str =
    r#"<cat:CategoryInformation CategoryType="Product" ProhibitsSubcategories="true" />"#;

#[test]
fn category_documents() {
    let c = category(&cat_doc(
        "en",
        &(lp("de", "Windows 10 (de)") + &lp("en", "Windows 10")),
        PRODUCT,
    ));
    assert_eq!(c.id, g("a3c2375d-0c8a-42f9-bce0-28333e198407"));
    assert_eq!(c.revision, 12);
    assert_eq!(c.kind, CategoryKind::Product);
    assert_eq!(c.title, "Windows 10");
    // The first member of the first IsCategory group, in document order.
    assert_eq!(c.parent, Some(g("6964aab4-c5b5-43bd-a17d-ffb4346a8e1d")));
    // No English title: the default language's, else the first.
    let c = category(&cat_doc(
        "fr",
        &(lp("de", "Deutsch") + &lp("fr", "Français")),
        PRODUCT,
    ));
    assert_eq!(c.title, "Français");
    let c = category(&cat_doc(
        "ja",
        &(lp("fr", "Français") + &lp("de", "Deutsch")),
        PRODUCT,
    ));
    assert_eq!(c.title, "Deutsch");
    for (ty, kind) in [
        ("Company", CategoryKind::Company),
        ("ProductFamily", CategoryKind::ProductFamily),
        ("UpdateClassification", CategoryKind::Classification),
    ] {
        let h = format!(r#"<cat:CategoryInformation CategoryType="{ty}" />"#);
        assert_eq!(category(&cat_doc("en", &lp("en", "x"), &h)).kind, kind);
    }
    // No parent group: no parent.
    let xml = cat_doc(
        "en",
        &lp("en", "Security Updates"),
        r#"<cat:CategoryInformation CategoryType="UpdateClassification"/>"#,
    );
    let start = xml.find("<upd:Relationships>").unwrap();
    let end = xml.find("</upd:Relationships>").unwrap() + "</upd:Relationships>".len();
    let xml = format!("{}{}", &xml[..start], &xml[end..]);
    assert_eq!(category(&xml).parent, None);
}

#[test]
fn category_errors() {
    let e = error(
        cat_doc(
            "en",
            "",
            r#"<cat:CategoryInformation CategoryType="Vendor" />"#,
        )
        .as_bytes(),
    );
    assert!(e.contains("unknown CategoryType 'Vendor'"), "{e}");
    let e = error(cat_doc("en", "", "").as_bytes());
    assert!(
        e.contains("CategoryType") && e.contains("a3c2375d-0c8a-42f9-bce0-28333e198407"),
        "{e}"
    );
}

#[test]
fn structural_errors() {
    let no_identity =
        format!(r#"<upd:Update {NS}><upd:Properties UpdateType="Software"/></upd:Update>"#);
    assert_eq!(
        error(no_identity.as_bytes()),
        "document has no UpdateIdentity"
    );
    let e = error(
        doc("", "")
            .replace("05a7711a-079e-4fbb-8d1a-9015c92a2ae0", "05a7711a-nope")
            .as_bytes(),
    );
    assert!(e.contains("'05a7711a-nope' is not a GUID"), "{e}");
    let e = error(
        doc("", "")
            .replace(r#"RevisionNumber="200""#, r#"RevisionNumber="2x""#)
            .as_bytes(),
    );
    assert!(e.contains("'2x'"), "{e}");
    let e = error(
        doc("", "")
            .replace(r#" RevisionNumber="200""#, "")
            .as_bytes(),
    );
    assert!(e.contains("no RevisionNumber"), "{e}");
    let e = error(
        doc("", "")
            .replace(r#"UpdateID="05a7711a-079e-4fbb-8d1a-9015c92a2ae0" "#, "")
            .as_bytes(),
    );
    assert!(e.contains("UpdateIdentity has no UpdateID"), "{e}");
    let e = error(
        doc("", "")
            .replace(r#"UpdateType="Software""#, "")
            .as_bytes(),
    );
    assert!(
        e.contains("UpdateType") && e.contains("05a7711a-079e-4fbb-8d1a-9015c92a2ae0"),
        "{e}"
    );
    let e = error(
            doc("", r#"<upd:Relationships><upd:SupersededUpdates><upd:UpdateIdentity UpdateID="{bogus}"/></upd:SupersededUpdates></upd:Relationships>"#)
                .as_bytes(),
        );
    assert!(e.contains("'{bogus}'"), "{e}");
    let e = error(
            doc("", r#"<upd:Relationships><upd:BundledUpdates><upd:UpdateIdentity UpdateID="6609771a-1e19-4e99-bc29-38ef76331070" RevisionNumber="-3"/></upd:BundledUpdates></upd:Relationships>"#)
                .as_bytes(),
        );
    assert!(e.contains("'-3'"), "{e}");
    let e = error(format!(r#"<upd:OfflineSyncPackage {NS}/>"#).as_bytes());
    assert!(e.contains("<upd:OfflineSyncPackage>"), "{e}");
    assert_eq!(error(b"  "), "document has no root element");
    let e = error(format!("{}<upd:Update {NS}/>", doc("", "")).as_bytes());
    assert!(e.contains("after the root element"), "{e}");
}

#[test]
fn malformed_xml_gives_the_byte_position() {
    let xml = doc("", "<upd:Files><upd:File FileName=\"a.cab\"></upd:Files>");
    let e = error(xml.as_bytes());
    assert!(e.starts_with("malformed XML at byte "), "{e}");
    let pos: usize = e["malformed XML at byte ".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        pos > xml.find("<upd:Files>").unwrap() && pos <= xml.len(),
        "{e}"
    );
    // With a BOM, positions still count from the start of the file.
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(xml.as_bytes());
    let e2 = error(&with_bom);
    let pos2: usize = e2["malformed XML at byte ".len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(pos2, pos + 3);
    let e = error(doc("", "").trim_end_matches("</upd:Update>").as_bytes());
    assert!(e.starts_with("malformed XML at byte "), "{e}");
    let e = error(b"<upd:Update attr=noquotes></upd:Update>");
    assert!(e.starts_with("malformed XML"), "{e}");
}

fn utf16le(s: &str, bom: bool) -> Vec<u8> {
    let mut v = if bom { vec![0xFF, 0xFE] } else { vec![] };
    v.extend(s.encode_utf16().flat_map(|u| u.to_le_bytes()));
    v
}

#[test]
fn encodings() {
    let xml = FULL.replace(r#"encoding="utf-8""#, r#"encoding="utf-16""#);
    let expected = update(FULL);
    for bytes in [utf16le(&xml, true), utf16le(&xml, false)] {
        assert_eq!(
            parse_document(&bytes).unwrap(),
            Document::Update(expected.clone())
        );
        assert_eq!(decode_text(&bytes).unwrap(), xml);
    }
    // UTF-16 without any declaration.
    let bare = FULL.trim_start_matches(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    assert_eq!(
        parse_document(&utf16le(bare, false)).unwrap(),
        Document::Update(expected.clone())
    );
    // UTF-16BE with BOM.
    let mut be = vec![0xFE, 0xFF];
    be.extend(xml.encode_utf16().flat_map(|u| u.to_be_bytes()));
    assert_eq!(
        parse_document(&be).unwrap(),
        Document::Update(expected.clone())
    );
    // UTF-8 with BOM; decode_text borrows UTF-8.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(FULL.as_bytes());
    assert_eq!(
        parse_document(&bom).unwrap(),
        Document::Update(expected.clone())
    );
    assert!(matches!(decode_text(&bom).unwrap(), Cow::Borrowed(s) if s == FULL));
    // UTF-8 declared as utf-16 (what .NET writes after saving a string) is accepted.
    assert_eq!(
        parse_document(xml.as_bytes()).unwrap(),
        Document::Update(expected)
    );
}

#[test]
fn encoding_errors() {
    for name in ["ISO-8859-1", "windows-1252"] {
        let xml = FULL.replace("utf-8", name);
        let e = error(xml.as_bytes());
        assert!(e.contains("unknown encoding") && e.contains(name), "{e}");
        let e = decode_text(&utf16le(&xml, true)).unwrap_err().message;
        assert!(e.contains("unknown encoding") && e.contains(name), "{e}");
    }
    let e = error(b"<upd:Update>\xC3\x28</upd:Update>");
    assert_eq!(e, "invalid UTF-8 at byte 12");
    let e = error(b"\xEF\xBB\xBF<a>\xFF</a>");
    assert_eq!(e, "invalid UTF-8 at byte 6");
    let mut v = utf16le("<upd:Update>", true);
    v.extend_from_slice(&0xD800u16.to_le_bytes());
    v.extend(utf16le("</upd:Update>", false));
    let e = error(&v);
    assert!(
        e.starts_with("invalid UTF-16 at byte 26") && e.contains("0xd800"),
        "{e}"
    );
    let mut v = utf16le("<upd:Update/>", false);
    v.push(b'x');
    assert!(error(&v).contains("odd number of bytes"));
    assert!(error(b"\xFF\xFE\x00\x00<\x00\x00\x00").contains("UTF-32"));
}

// -----------------------------------------------------------------------------------------
// Real documents from Microsoft, kept beside the repository rather than in it.

/// The path of `rel` in the real data beside the repository (`../shared/real-data`), which
/// tests read but the project never copies. When it is absent the test is skipped (`None`),
/// unless `OFFSYNC_REQUIRE_REAL_DATA=1` is set: then the test fails, so that a run meant to
/// cover the real data cannot pass without it.
pub(crate) fn real_data(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/real-data")
        .join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("OFFSYNC_REQUIRE_REAL_DATA").is_some_and(|v| v == "1") {
        panic!(
            "{} is absent, and OFFSYNC_REQUIRE_REAL_DATA=1 requires it",
            path.display()
        );
    }
    println!("skipped: {} absent", path.display());
    None
}

fn real(dir: &Path, name: &str) -> Document {
    let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    parse_document(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn real_update(dir: &Path, name: &str) -> Update {
    match real(dir, name) {
        Document::Update(u) => u,
        other => panic!("{name}: expected an update, got {other:?}"),
    }
}

#[test]
fn real_documents() {
    let Some(dir) = real_data("upd-update-xml") else {
        return;
    };

    let u = real_update(&dir, "sample_update_2_KB5013943.xml");
    assert_eq!(u.id, g("7b6d13c6-6401-4a10-a61f-1dab8d93356e"));
    assert_eq!(u.revision, 200);
    assert_eq!(u.update_type, "Software");
    assert_eq!(u.severity.as_deref(), Some("Critical"));
    assert_eq!(u.kb.as_deref(), Some("5013943"));
    assert_eq!(u.supersedes.len(), 14);
    assert_eq!(
        u.bundled,
        [BundledRef {
            id: g("ad1a3f81-2318-4a4d-8a86-3915edc389ae"),
            revision: Some(200)
        }]
    );
    assert!(
        u.categories
            .contains(&g("0fa1201d-4330-4fa8-8ae9-b877473b6441"))
    );
    assert!(
        u.categories
            .contains(&g("72e7624a-5b00-45d2-b92f-e561c0a6a160"))
    );
    assert_eq!(u.categories.len(), 2);
    // 29 LocalizedProperties, each with a distinct Language and a Title.
    assert_eq!(u.localized.len(), 29);
    assert_eq!(
        u.localized.values().filter(|l| !l.title.is_empty()).count(),
        29
    );
    assert!(u.title("en").contains("KB5013943"));
    assert_eq!(
        u.title("en"),
        "2022-05 Cumulative Update for Windows 11 for x64-based Systems (KB5013943)"
    );
    assert!(u.languages.is_empty() && u.is_language_neutral());
    assert!(u.files.is_empty());
    assert_eq!(u.publication_state, PublicationState::Published);

    let u = real_update(&dir, "sample_update_3_KB5083769.xml");
    assert_eq!(u.id, g("ea038468-1bdf-4862-bb27-99f17046d686"));
    assert_eq!(u.revision, 100);
    assert_eq!(u.kb.as_deref(), Some("5083769"));
    assert_eq!(
        u.bundled,
        [BundledRef {
            id: g("6609771a-1e19-4e99-bc29-38ef76331070"),
            revision: Some(100)
        }]
    );
    assert_eq!(u.languages, ["all"]);
    assert!(u.is_language_neutral());
    assert_eq!(u.severity.as_deref(), Some("Critical"));
    assert_eq!(
        u.categories,
        [
            g("0fa1201d-4330-4fa8-8ae9-b877473b6441"),
            g("72e7624a-5b00-45d2-b92f-e561c0a6a160")
        ]
    );
    assert_eq!(u.supersedes.len(), 75);
    assert_eq!(u.localized.len(), 37);
    assert!(u.title("en").contains("KB5083769"));

    let u = real_update(&dir, "sample_driver_1.xml");
    assert_eq!(u.id, g("9089c22f-99c1-4ef7-8c20-be8895d5a38d"));
    assert_eq!(u.revision, 200);
    assert_eq!(u.update_type, "Driver");
    assert_eq!(u.title("en"), "Intel Corporation - Bluetooth - 22.150.0.6");
    assert_eq!(u.files.len(), 1);
    let f = &u.files[0];
    assert_eq!(f.name, "10931cb1-d155-4e89-8878-e6193071edb3.cab");
    assert_eq!(f.size, Some(531141));
    assert_eq!(f.sha1, Some(driver_sha1()));
    assert_eq!(f.sha256, Some(driver_sha256()));
    // Drivers category: one classification plus four products; the plain AtLeastOne of
    // 36 hardware detectoids is not a category group.
    assert_eq!(u.categories.len(), 5);
    assert!(
        u.categories
            .contains(&g("ebfc1fc5-71a4-4f7b-9aca-3b9a503104a0"))
    );
    assert_eq!(u.languages.len(), 36);

    match real(&dir, "sample_category_1.xml") {
        Document::Category(c) => {
            assert_eq!(c.id, g("83a83e29-7d55-44a0-afed-aea164bc35e6"));
            assert_eq!(c.revision, 51);
            assert_eq!(c.kind, CategoryKind::Product);
            assert_eq!(c.title, "Exchange 2000 Server");
            assert_eq!(c.parent, Some(g("352f9494-d516-4b40-a21a-cd2416098982")));
        }
        other => panic!("sample_category_1.xml: expected a category, got {other:?}"),
    }

    let u = real_update(&dir, "sample_detectoid_1.xml");
    assert_eq!(u.update_type, "Detectoid");
    assert_eq!(u.id, g("3a8f327a-48da-4804-817c-85a7159893ae"));
    assert_eq!(u.title("en"), "Exchange Core CHS Lang");
    assert!(u.categories.is_empty());
}

// -----------------------------------------------------------------------------------------
// The project's own fixtures (fixtures/README.md describes every document).

const A1: &str = "1d956cd9-8a3f-44d7-8ccb-031ebc0ba36b";
const A2: &str = "e407d852-ae7d-4e0c-bb94-1180bc5b90e7";
const A3: &str = "0d77d490-70ab-455d-ac1c-75887e0993ff";
const B0: &str = "4a6dff80-2d3b-4448-9355-3850db95cf32";
const B1: &str = "5f82e7d6-8f63-4f0a-817f-72d40c32c46a";
const B2: &str = "b2e9d8c4-517d-4a80-808e-4f3f12079f01";
const C: &str = "2d58bf99-25e6-4b12-9f18-a8340b2bd58f";
const D: &str = "2845bbc6-2c9e-41fd-ae6e-15d1f8a41e09";
const E: &str = "60321414-f7bf-4478-9135-752ef34e8aa5";
const F1: &str = "3bf548c3-cc55-436f-ab65-7f04163afaa5";
const F2: &str = "969895d2-6749-418c-87c9-c9d377004357";
const G1: &str = "05a7711a-079e-4fbb-8d1a-9015c92a2ae0";
const G2: &str = "0a51549b-4e86-4a26-97d4-9e3567f24ea1";
const H: &str = "5b9fcb9e-0108-48d1-801e-ba5c252faa38";
const I: &str = "e603851b-317c-4304-8805-2ce1f4e47f0f";
const DEFENDER: &str = "8c3fcc84-7410-4a95-8b89-a166a0190486";

#[test]
fn project_fixtures() {
    use sha1::Digest as _;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut cats: BTreeMap<Guid, Category> = BTreeMap::new();
    let mut upds: BTreeMap<Guid, Update> = BTreeMap::new();
    let mut docs = 0;
    for entry in std::fs::read_dir(root.join("upstream")).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            path.extension().and_then(|e| e.to_str()),
            Some("xml"),
            "{}",
            path.display()
        );
        docs += 1;
        let bytes = std::fs::read(&path).unwrap();
        match parse_document(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            Document::Category(c) => assert!(cats.insert(c.id.clone(), c).is_none()),
            Document::Update(u) => assert!(upds.insert(u.id.clone(), u).is_none()),
        }
    }
    assert_eq!(docs, 27);
    assert_eq!(cats.len(), 12);
    assert_eq!(upds.len(), 15);
    let u = |id: &str| &upds[&g(id)];

    // Categories: kinds and parents.
    let count = |k: CategoryKind| cats.values().filter(|c| c.kind == k).count();
    assert_eq!(
        [
            CategoryKind::Company,
            CategoryKind::ProductFamily,
            CategoryKind::Product,
            CategoryKind::Classification
        ]
        .map(count),
        [1, 2, 5, 4]
    );
    for c in cats.values() {
        match c.kind {
            CategoryKind::Company | CategoryKind::Classification => {
                assert_eq!(c.parent, None, "{}", c.title)
            }
            CategoryKind::ProductFamily => {
                assert_eq!(cats[c.parent.as_ref().unwrap()].kind, CategoryKind::Company)
            }
            CategoryKind::Product => {
                assert_eq!(
                    cats[c.parent.as_ref().unwrap()].kind,
                    CategoryKind::ProductFamily
                )
            }
        }
    }
    assert_eq!(
        cats[&g("25aed893-7c2d-4a31-ae22-28ff8ac150ed")].title,
        "Office 2016"
    );
    assert_eq!(
        cats[&g("0fa1201d-4330-4fa8-8ae9-b877473b6441")].title,
        "Security Updates"
    );

    // Every category reference resolves, except the Defender product of update h.
    let unresolved: Vec<(&Guid, &Guid)> = upds
        .values()
        .flat_map(|u| u.categories.iter().map(move |c| (&u.id, c)))
        .filter(|(_, c)| !cats.contains_key(*c))
        .collect();
    assert_eq!(unresolved, [(&g(H), &g(DEFENDER))]);

    // a: the superseded chain.
    assert_eq!(
        (u(A1).revision, u(A2).revision, u(A3).revision),
        (200, 200, 201)
    );
    assert!(u(A1).supersedes.is_empty());
    assert_eq!(u(A2).supersedes, [g(A1)]);
    assert_eq!(u(A3).supersedes, [g(A1), g(A2)]);
    assert_eq!(u(A3).severity.as_deref(), Some("Critical"));
    assert_eq!(u(A1).kb.as_deref(), Some("5034122"));
    // b: the bundle.
    assert!(u(B0).files.is_empty());
    assert_eq!(
        u(B0).bundled,
        [
            BundledRef {
                id: g(B1),
                revision: Some(200)
            },
            BundledRef {
                id: g(B2),
                revision: Some(101)
            }
        ]
    );
    assert!(u(B1).categories.is_empty() && u(B2).categories.is_empty());
    assert_eq!(u(B2).revision, 101);
    // c: expired; d, e: UTF-16; f: languages; g: real identities; i: detectoid.
    assert_eq!(u(C).publication_state, PublicationState::Expired);
    assert_eq!(
        upds.values()
            .filter(|u| u.publication_state == PublicationState::Expired)
            .count(),
        1
    );
    assert_eq!(
        u(D).localized["de"].title,
        "2024-01 Update für Windows Server 2019 für x64-basierte Systeme (KB5034614)"
    );
    assert_eq!((u(E).revision, u(E).kb.as_deref()), (100, Some("5034203")));
    assert_eq!(u(F1).languages, ["de"]);
    assert_eq!(u(F1).localized.keys().collect::<Vec<_>>(), ["de", "en"]);
    assert_eq!(u(F2).languages, ["fr"]);
    assert!(!u(F1).is_language_neutral());
    assert_eq!(
        (u(G1).revision, u(G1).kb.as_deref(), u(G1).title("en")),
        (
            200,
            Some("4577066"),
            "2020-09 Security Monthly Quality Rollup for Windows Server 2012 R2 for x64-based Systems"
        )
    );
    assert_eq!(
        (u(G2).revision, u(G2).kb.as_deref(), u(G2).title("en")),
        (
            201,
            Some("3019978"),
            "Security Update for Windows Server 2012 R2"
        )
    );
    assert_eq!(u(G1).languages, ["all"]);
    assert_eq!(u(I).update_type, "Detectoid");
    assert_eq!(
        upds.values()
            .filter(|u| u.update_type == "Detectoid")
            .count(),
        1
    );

    // Payload files: every present one matches its digests and size; exactly one is missing;
    // exactly one content file is referenced by no document.
    let content = root.join("content");
    let mut missing = Vec::new();
    let mut referenced = std::collections::BTreeSet::new();
    for u in upds.values() {
        for f in &u.files {
            let (size, sha1, sha256) = (f.size.unwrap(), f.sha1.unwrap(), f.sha256.unwrap());
            assert!((2048..=65536).contains(&size), "{}", f.name);
            referenced.insert(f.name.clone());
            let Ok(bytes) = std::fs::read(content.join(&f.name)) else {
                missing.push((u.id.to_string(), f.name.clone()));
                continue;
            };
            assert_eq!(bytes.len() as u64, size, "{}", f.name);
            assert_eq!(sha1::Sha1::digest(&bytes)[..], sha1[..], "{}", f.name);
            assert_eq!(sha2::Sha256::digest(&bytes)[..], sha256[..], "{}", f.name);
            if let Some((stem, _)) = f.name.rsplit_once('.')
                && let Some((_, hex)) = stem.rsplit_once('_')
                && hex.len() == 40
            {
                assert_eq!(
                    hex,
                    crate::model::hex_lower(&sha1),
                    "{}: name carries the SHA-1",
                    f.name
                );
            }
        }
    }
    assert_eq!(referenced.len(), 11);
    assert_eq!(
        missing,
        [(
            A3.to_string(),
            "windows10.0-kb5035845-x64_19ecf7a1440c3bf7c2786edae61ccb19fe8c60c6.msu".to_string()
        )]
    );
    let mut unreferenced: Vec<String> = std::fs::read_dir(&content)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !referenced.contains(n))
        .collect();
    unreferenced.sort();
    assert_eq!(unreferenced, ["unrelated-driver.cab"]);
    let with_files = upds.values().filter(|u| !u.files.is_empty()).count();
    assert_eq!(with_files, 11);
}

// -----------------------------------------------------------------------------------------
// Fragments (the offline catalog's c/, x/ and l/<lang>/ members).

#[test]
fn fragments_make_one_update() {
    let core = r#"<UpdateIdentity UpdateID="0A51549B-4E86-4A26-97D4-9E3567F24EA1" RevisionNumber="201" /><Properties UpdateType="Software" ExplicitlyDeployable="true" /><Relationships><SupersededUpdates><UpdateIdentity UpdateID="022f39ad-6b5c-4f5a-8667-b25f2f3f0069" /></SupersededUpdates><Prerequisites><UpdateIdentity UpdateID="04437cf2-2157-44c9-96df-6cd88b0dc541" /><AtLeastOne IsCategory="true"><UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441" /></AtLeastOne></Prerequisites><BundledUpdates><UpdateIdentity UpdateID="daad7390-d95c-4fd5-99a0-790dc6a2dc2a" RevisionNumber="201" /></BundledUpdates></Relationships>"#;
    let extended = r#"<ExtendedProperties DefaultPropertiesLanguage="en" MsrcSeverity="Important" IsBeta="false"><SupportUrl>http://support.microsoft.com</SupportUrl><KBArticleID>3019978</KBArticleID><Language>zh-CN</Language></ExtendedProperties><Files><File Digest="mTQZsbAqDuTchNIJkUhQX3op3X4=" DigestAlgorithm="SHA1" FileName="a.cab" Size="531141"><AdditionalDigest Algorithm="SHA256">wHzlAUgPsCnT+FZUdyB8a1oVicnO5zXVoXeebQMTras=</AdditionalDigest></File></Files><HandlerSpecificData type="cbs:Cbs"><CbsData /></HandlerSpecificData>"#;
    let en = "<LocalizedProperties><Language>en</Language><Title>Security Update (KB3019978)</Title><Description>Install it.</Description></LocalizedProperties>";
    let de = "\u{feff}<LocalizedProperties><Language>de</Language><Title>Sicherheitsupdate</Title></LocalizedProperties>";
    let mut f = Fragments::new();
    for part in [core, extended, en, de] {
        f.add(part.as_bytes()).unwrap();
    }
    assert_eq!(f.title("fr"), Some("Security Update (KB3019978)"));
    assert_eq!(f.category_type(), None);
    let Document::Update(u) = f.finish().unwrap() else {
        panic!("expected an update")
    };
    assert_eq!(
        (u.id, u.revision),
        (g("0a51549b-4e86-4a26-97d4-9e3567f24ea1"), 201)
    );
    assert_eq!(u.kb.as_deref(), Some("3019978"));
    assert_eq!(u.severity.as_deref(), Some("Important"));
    assert_eq!(u.languages, ["zh-cn"]);
    assert_eq!(u.categories, [g("0fa1201d-4330-4fa8-8ae9-b877473b6441")]);
    assert_eq!(u.supersedes, [g("022f39ad-6b5c-4f5a-8667-b25f2f3f0069")]);
    assert_eq!(u.bundled.len(), 1);
    assert_eq!(u.localized.len(), 2);
    assert_eq!(u.localized["de"].title, "Sicherheitsupdate");
    assert_eq!(u.files.len(), 1);
    assert_eq!(u.files[0].size, Some(531141));
    assert_eq!(u.files[0].sha1, Some(driver_sha1()));
    assert_eq!(u.files[0].sha256, Some(driver_sha256()));
}

#[test]
fn fragments_of_a_category_and_bad_fragments() {
    let mut f = Fragments::new();
    f.add(br#"<ExtendedProperties DefaultPropertiesLanguage="en" /><HandlerSpecificData type="cat:Category"><CategoryInformation CategoryType="Product" ProhibitsSubcategories="true" /></HandlerSpecificData>"#).unwrap();
    f.add(b"<LocalizedProperties><Language>en</Language><Title>Windows 11</Title></LocalizedProperties>").unwrap();
    assert_eq!(f.category_type(), Some("Product"));
    assert_eq!(f.title("en"), Some("Windows 11"));
    // Without the core fragment there is no identity.
    assert!(
        f.finish()
            .unwrap_err()
            .message
            .contains("no UpdateIdentity")
    );

    let bad: [&[u8]; 4] = [
        b"<Properties>",
        b"</Properties>",
        b"text<Properties/>",
        b"<Properties a=\"1/>",
    ];
    for b in bad {
        let e = Fragments::new().add(b).unwrap_err();
        assert!(
            e.message.starts_with("malformed XML"),
            "{}: {e}",
            String::from_utf8_lossy(b)
        );
    }
    // Empty fragments are allowed (they hold nothing).
    Fragments::new().add(b"").unwrap();
}

#[test]
fn plain_prerequisites_are_kept_apart_from_the_category_groups() {
    let xml = doc(
        "",
        r#"<upd:Relationships><upd:Prerequisites>
             <upd:UpdateIdentity UpdateID="E603851B-317C-4304-8805-2CE1F4E47F0F" />
             <upd:AtLeastOne IsCategory="true"><upd:UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441" /></upd:AtLeastOne>
             <upd:AtLeastOne><upd:UpdateIdentity UpdateID="59653007-e2e9-4f71-8525-2ff588527978" /><upd:UpdateIdentity UpdateID="e603851b-317c-4304-8805-2ce1f4e47f0f" /></upd:AtLeastOne>
           </upd:Prerequisites></upd:Relationships>"#,
    );
    let (d, pre) = parse_with_prerequisites(xml.as_bytes()).unwrap();
    let Document::Update(u) = d else {
        panic!("not an update")
    };
    // Category groups are the categories; the rest are prerequisites, once each, in order.
    assert_eq!(u.categories, [g("0fa1201d-4330-4fa8-8ae9-b877473b6441")]);
    assert_eq!(
        pre,
        [
            g("e603851b-317c-4304-8805-2ce1f4e47f0f"),
            g("59653007-e2e9-4f71-8525-2ff588527978")
        ]
    );
    // A prerequisite without an UpdateID is a malformed document, as a category's is.
    let bad = doc(
        "",
        r#"<upd:Relationships><upd:Prerequisites><upd:UpdateIdentity /></upd:Prerequisites></upd:Relationships>"#,
    );
    let e = parse_with_prerequisites(bad.as_bytes()).unwrap_err();
    assert!(e.message.contains("has no UpdateID"), "{e}");
}
