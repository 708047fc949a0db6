//! RSS 2.0 rendering (the `rss` crate).
//!
//! In: feed metadata and entries. Out: an RSS 2.0 document with `atom:link rel="self"`, RFC 822
//! dates, non-permalink GUIDs (the stable entry ids), `dc:creator` for authors, the sanitised
//! body in `description` (and `content:encoded` when there is full content), and an "Also
//! reported by" paragraph when the story has other copies.
//!
//! RSS does not say whether titles, authors and categories are text or HTML, and many readers
//! render them as HTML. Plain text is therefore written so both readings are safe: a `<` that
//! would open a tag becomes `&lt;` (see [`text`]), so no title can open a tag in a reader that
//! renders it.

use std::collections::BTreeMap;

use ::rss::extension::atom::{AtomExtension, Link};
use ::rss::extension::dublincore::DublinCoreExtension;
use ::rss::{Category, Channel, Guid, Item};
use chrono::{DateTime, Utc};

use super::{Entry, FeedMeta, Format, also_reported_html};

/// Renders an RSS 2.0 document.
pub fn render(meta: &FeedMeta, entries: &[Entry], now: DateTime<Utc>) -> std::io::Result<Vec<u8>> {
    let items: Vec<Item> = entries.iter().map(item).collect();
    let mut namespaces = BTreeMap::new();
    namespaces.insert("atom".to_string(), "http://www.w3.org/2005/Atom".to_string());
    namespaces.insert(
        "content".to_string(),
        "http://purl.org/rss/1.0/modules/content/".to_string(),
    );
    namespaces.insert("dc".to_string(), "http://purl.org/dc/elements/1.1/".to_string());
    let last = entries.iter().map(|e| e.updated).max().unwrap_or(now);
    let channel = Channel {
        title: text(&meta.title),
        link: meta.home.to_string(),
        description: text(meta.description.as_deref().unwrap_or(&meta.title)),
        generator: Some(format!("feedfold {}", env!("CARGO_PKG_VERSION"))),
        last_build_date: Some(last.to_rfc2822()),
        items,
        namespaces,
        atom_ext: Some(AtomExtension {
            links: vec![Link {
                href: meta.self_url(Format::Rss),
                rel: "self".to_string(),
                mime_type: Some("application/rss+xml".to_string()),
                ..Link::default()
            }],
        }),
        ..Channel::default()
    };
    let mut out = Vec::with_capacity(4096 + entries.len() * 2048);
    channel
        .pretty_write_to(&mut out, b' ', 1)
        .map_err(std::io::Error::other)?;
    Ok(out)
}

/// Plain text for an RSS element that readers may render as HTML: a `<` that would open a tag,
/// an end tag, a comment or a declaration there (followed by a letter, `/`, `!` or `?`) is
/// written as `&lt;`, which such readers show as `<`. Nothing else changes, so `AT&T` or
/// `I <3 NY` read the same whether a reader takes the text as HTML or as text.
fn text(plain: &str) -> String {
    let mut out = String::with_capacity(plain.len());
    let mut chars = plain.chars().peekable();
    while let Some(c) = chars.next() {
        let opens = chars
            .peek()
            .is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?'));
        if c == '<' && opens {
            out.push_str("&lt;");
        } else {
            out.push(c);
        }
    }
    out
}

fn item(e: &Entry) -> Item {
    let also = also_reported_html(&e.others);
    let body = e
        .summary_html
        .as_deref()
        .or(e.content_html.as_deref())
        .unwrap_or("");
    let description = format!("{body}{also}");
    let content = e.content_html.as_ref().map(|c| format!("{c}{also}"));
    Item {
        title: Some(text(&e.title)),
        link: e.link.clone(),
        description: (!description.is_empty()).then_some(description),
        content,
        guid: Some(Guid {
            value: e.id.clone(),
            permalink: false,
        }),
        pub_date: Some(e.published.to_rfc2822()),
        categories: e
            .categories
            .iter()
            .map(|c| Category {
                name: text(c.display()),
                domain: None,
            })
            .collect(),
        enclosure: e.enclosures.first().map(|x| ::rss::Enclosure {
            url: x.url.clone(),
            length: x.length.unwrap_or(0).to_string(),
            mime_type: x
                .mime
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_string()),
        }),
        dublin_core_ext: (!e.authors.is_empty()).then(|| DublinCoreExtension {
            creators: e.authors.iter().map(|a| text(a.display())).collect(),
            ..DublinCoreExtension::default()
        }),
        source: None,
        ..Item::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Extras, Person};
    use chrono::TimeZone;
    use url::Url;

    #[test]
    fn plain_text_cannot_open_a_tag_when_read_as_html() {
        let t = Utc.with_ymd_and_hms(2022, 1, 3, 10, 0, 0).single().expect("date");
        let e = Entry {
            id: "urn:feedfold:story:x".into(),
            story: "x".into(),
            title: "<script>alert(1)</script> & AT&T, I <3 NY, a < b".into(),
            link: None,
            published: t,
            updated: t,
            summary_html: None,
            content_html: None,
            authors: vec![Person::named("<img src=x onerror=alert(1)>")],
            categories: vec![Category::term("<!--x--><?x><svg onload=alert(1)>")],
            language: None,
            extras: Extras::default(),
            title_html: None,
            enclosures: Vec::new(),
            source: "s".into(),
            others: Vec::new(),
            regions: serde_json::json!([]),
        };
        let meta = FeedMeta {
            name: "n".into(),
            title: "A < B".into(),
            description: None,
            home: Url::parse("https://feeds.example/").expect("url"),
        };
        let xml = String::from_utf8(render(&meta, &[e], t).expect("renders")).expect("utf-8");
        let channel = Channel::read_from(xml.as_bytes()).expect("reads back");
        assert_eq!(channel.title, "A < B");
        let item = &channel.items[0];
        // What a reader that renders the title as HTML parses: text only; what cannot start a
        // tag is left alone.
        assert_eq!(
            item.title.as_deref(),
            Some("&lt;script>alert(1)&lt;/script> & AT&T, I <3 NY, a < b")
        );
        assert_eq!(
            item.categories[0].name,
            "&lt;!--x-->&lt;?x>&lt;svg onload=alert(1)>"
        );
        let creators = &item.dublin_core_ext.as_ref().expect("dc").creators;
        assert_eq!(creators, &["&lt;img src=x onerror=alert(1)>"]);
    }
}
