//! RSS 2.0 rendering (written with quick-xml: the `rss` crate cannot put `xml:lang` on an
//! item).
//!
//! In: feed metadata and entries. Out: an indented RSS 2.0 document with `atom:link
//! rel="self"`, RFC 822 dates and non-permalink GUIDs (the entry ids). Each item carries, in
//! RSS's own way or in the namespaces feed readers read: `xml:lang` and `dc:language`; the
//! sanitised body in `description` (and `content:encoded` when there is full content), both
//! ending with the "Also reported by" paragraph, and an `atom:link rel="related"` to every
//! other copy; `author` (`email (name)`) for the first author with an email and `dc:creator`
//! for the others; `dc:contributor`; `category` with its scheme as `domain`; `comments`,
//! `wfw:commentRss`, `slash:comments`; `source` (its feed URL and title, or an Atom `<source>` when the source feed says more); `dc:rights`,
//! `dc:publisher`, `creativeCommons:license`; other links as `atom:link`; the first enclosure
//! as `enclosure` (RSS allows one) and the others as `media:content`; `georss:point`,
//! `media:thumbnail` and every `itunes:` episode field, so a podcast stays a podcast.
//!
//! RSS does not say whether titles, authors and categories are text or HTML, and many readers
//! render them as HTML. Plain text is therefore written so both readings are safe: a `<` that
//! would open a tag becomes `&lt;` (see [`text`]), so no title can open a tag in a reader that
//! renders it. A title the source gave as HTML is written as its sanitised HTML, which
//! feedparser and readers that render titles take as HTML.

use std::io;

use chrono::{DateTime, Utc};

use super::xml::{Xml, tag};
use super::{Entry, FeedMeta, Format, also_reported_html, email, language_tag, other_links, web_url};
use crate::model::SourceFeed;

const ATOM: &str = "http://www.w3.org/2005/Atom";
const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const CC: &str = "http://backend.userland.com/creativeCommonsRssModule";
const WFW: &str = "http://wellformedweb.org/CommentAPI/";
const SLASH: &str = "http://purl.org/rss/1.0/modules/slash/";
const GEORSS: &str = "http://www.georss.org/georss";
const MEDIA: &str = "http://search.yahoo.com/mrss/";
const ITUNES: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";

/// Renders an RSS 2.0 document.
pub fn render(meta: &FeedMeta, entries: &[Entry], now: DateTime<Utc>) -> io::Result<Vec<u8>> {
    let any = |f: fn(&Entry) -> bool| entries.iter().any(f).then_some(());
    let content = any(|e| e.content_html.is_some());
    let dc = any(|e| {
        let x = &e.extras;
        !e.authors.is_empty()
            || !x.contributors.is_empty()
            || e.language.is_some()
            || x.rights.is_some()
            || x.publisher.is_some()
    });
    let cc = any(|e| e.extras.license.is_some());
    let wfw = any(|e| e.extras.comments_feed.is_some());
    let slash = any(|e| e.extras.comment_count.is_some());
    let georss = any(|e| e.extras.geo.is_some());
    let media = any(|e| {
        let x = &e.extras;
        !x.thumbnails.is_empty() || x.image.is_some() || e.enclosures.len() > 1
    });
    let itunes = any(|e| !e.extras.itunes.is_empty());
    let last = entries.iter().map(|e| e.updated).max().unwrap_or(now);
    let mut x = Xml::new(4096 + entries.len() * 2048)?;
    x.open(tag(
        "rss",
        &[
            ("version", Some("2.0")),
            ("xmlns:atom", Some(ATOM)),
            ("xmlns:content", content.map(|_| CONTENT)),
            ("xmlns:dc", dc.map(|_| DC)),
            ("xmlns:creativeCommons", cc.map(|_| CC)),
            ("xmlns:wfw", wfw.map(|_| WFW)),
            ("xmlns:slash", slash.map(|_| SLASH)),
            ("xmlns:georss", georss.map(|_| GEORSS)),
            ("xmlns:media", media.map(|_| MEDIA)),
            ("xmlns:itunes", itunes.map(|_| ITUNES)),
        ],
    ))?;
    x.open(tag("channel", &[]))?;
    x.leaf("title", &text(&meta.title))?;
    x.leaf("link", meta.home.as_str())?;
    x.leaf(
        "description",
        &text(meta.description.as_deref().unwrap_or(&meta.title)),
    )?;
    x.leaf("generator", &format!("feedfold {}", env!("CARGO_PKG_VERSION")))?;
    x.leaf("lastBuildDate", &last.to_rfc2822())?;
    x.empty(tag(
        "atom:link",
        &[
            ("href", Some(&meta.self_url(Format::Rss))),
            ("rel", Some("self")),
            ("type", Some("application/rss+xml")),
        ],
    ))?;
    for e in entries {
        item(&mut x, e)?;
    }
    x.close("channel")?;
    x.close("rss")?;
    Ok(x.finish())
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

/// An element holding plain text (see [`text`]), left out when the text is blank.
fn plain(x: &mut Xml, name: &str, value: Option<&str>) -> io::Result<()> {
    match value {
        Some(v) if !v.trim().is_empty() => x.leaf(name, &text(v)),
        _ => Ok(()),
    }
}

fn item(x: &mut Xml, e: &Entry) -> io::Result<()> {
    let extras = &e.extras;
    let lang = e.language.as_deref().and_then(language_tag);
    x.open(tag("item", &[("xml:lang", lang.as_deref())]))?;
    match &e.title_html {
        Some(html) => x.leaf("title", html)?,
        None => x.leaf("title", &text(&e.title))?,
    }
    if let Some(link) = &e.link {
        x.leaf("link", link)?;
    }
    let also = also_reported_html(&e.others);
    let body = e
        .summary_html
        .as_deref()
        .or(e.content_html.as_deref())
        .unwrap_or("");
    let description = format!("{body}{also}");
    if !description.is_empty() {
        x.cdata(tag("description", &[]), &description)?;
    }
    if let Some(content) = &e.content_html {
        x.cdata(tag("content:encoded", &[]), &format!("{content}{also}"))?;
    }
    // RSS's own `author` is an email address: the first author with one. Everyone else by name.
    let mut with_email = None;
    let mut creators = Vec::new();
    for p in &e.authors {
        match p.email.as_deref().and_then(email) {
            Some(mail) if with_email.is_none() => with_email = Some((mail, p.name.trim())),
            _ => creators.push(p.display()),
        }
    }
    if let Some((mail, name)) = with_email {
        let author = if name.is_empty() {
            mail.to_string()
        } else {
            format!("{mail} ({name})")
        };
        x.leaf("author", &text(&author))?;
    }
    for c in e.categories.iter().filter(|c| !c.term.trim().is_empty()) {
        x.text(
            tag(
                "category",
                &[("domain", c.scheme.as_deref().filter(|s| !s.is_empty()))],
            ),
            &text(&c.term),
        )?;
    }
    if let Some(comments) = extras.comments.as_deref().and_then(web_url) {
        x.leaf("comments", &comments)?;
    }
    if let Some(first) = e.enclosures.first() {
        let length = first.length.unwrap_or(0).to_string();
        x.empty(tag(
            "enclosure",
            &[
                ("url", Some(&first.url)),
                ("length", Some(&length)),
                (
                    "type",
                    Some(first.mime.as_deref().unwrap_or("application/octet-stream")),
                ),
            ],
        ))?;
    }
    x.text(tag("guid", &[("isPermaLink", Some("false"))]), &e.id)?;
    x.leaf("pubDate", &e.published.to_rfc2822())?;
    if let Some(s) = &extras.source {
        // RSS's own `<source url>` holds a feed URL and a title; a source that says more
        // (an Atom source's id, authors, links, rights …) is written as an Atom `<source>`.
        let feed_url = s.feed_url.as_deref().and_then(web_url);
        let rss_only = SourceFeed {
            title: s.title.clone(),
            feed_url: s.feed_url.clone(),
            ..SourceFeed::default()
        };
        match feed_url {
            Some(url) if *s == rss_only => x.text(
                tag("source", &[("url", Some(&url))]),
                &text(s.title.as_deref().unwrap_or("")),
            )?,
            _ => super::atom::source_element(x, s, Some(ATOM))?,
        }
    }
    for other in &e.others {
        if let Some(href) = &other.url {
            let title = match &other.title {
                Some(t) => format!("{}: {t}", other.source),
                None => other.source.clone(),
            };
            x.empty(tag(
                "atom:link",
                &[
                    ("rel", Some("related")),
                    ("href", Some(href)),
                    ("title", Some(&title)),
                ],
            ))?;
        }
    }
    for (l, href) in other_links(e) {
        let length = l.length.map(|n| n.to_string());
        x.empty(tag(
            "atom:link",
            &[
                ("rel", Some(&l.rel)),
                ("href", Some(&href)),
                ("type", l.mime.as_deref()),
                ("title", l.title.as_deref()),
                (
                    "hreflang",
                    l.hreflang.as_deref().and_then(language_tag).as_deref(),
                ),
                ("length", length.as_deref()),
            ],
        ))?;
    }
    for name in creators {
        plain(x, "dc:creator", Some(name))?;
    }
    for p in &extras.contributors {
        plain(x, "dc:contributor", Some(p.display()))?;
    }
    if let Some(lang) = &lang {
        x.leaf("dc:language", lang)?;
    }
    plain(x, "dc:rights", extras.rights.as_deref())?;
    plain(x, "dc:publisher", extras.publisher.as_deref())?;
    if let Some(license) = extras.license.as_deref().and_then(web_url) {
        x.leaf("creativeCommons:license", &license)?;
    }
    if let Some(feed) = extras.comments_feed.as_deref().and_then(web_url) {
        x.leaf("wfw:commentRss", &feed)?;
    }
    if let Some(n) = extras.comment_count {
        x.leaf("slash:comments", &n.to_string())?;
    }
    for enc in e.enclosures.iter().skip(1) {
        let length = enc.length.map(|n| n.to_string());
        x.empty(tag(
            "media:content",
            &[
                ("url", Some(&enc.url)),
                ("type", enc.mime.as_deref()),
                ("fileSize", length.as_deref()),
            ],
        ))?;
    }
    super::atom::namespaced(x, e, &text)?;
    x.close("item")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Extras, Person, Regions};
    use crate::output::tests::{full_entry, meta};
    use ::rss::Channel;
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
            regions: Regions::default(),
        };
        let meta = FeedMeta {
            name: "n".into(),
            title: "A < B".into(),
            description: None,
            home: Url::parse("https://feeds.example/").expect("url"),
            author: "n".into(),
            self_token: None,
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

    #[test]
    fn every_field_reads_back() {
        let e = full_entry();
        let bytes = render(&meta(), std::slice::from_ref(&e), e.updated).expect("renders");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(text.lines().count() > 40, "indented:\n{text}");
        let channel = Channel::read_from(&bytes[..]).expect("reads back");
        let item = &channel.items[0];
        assert_eq!(item.title.as_deref(), Some("<b>Bold</b> move &amp; more"));
        assert_eq!(item.guid.as_ref().map(|g| g.value.as_str()), Some(e.id.as_str()));
        assert_eq!(item.author.as_deref(), Some("ann@e.example (Ann Author)"));
        let dc = item.dublin_core_ext.as_ref().expect("dc");
        assert_eq!(dc.creators, ["bob@e.example"]);
        assert_eq!(dc.contributors, ["Carl"]);
        assert_eq!(dc.languages, ["fr-CA"]);
        assert_eq!(dc.rights, ["© 2023 E"]);
        assert_eq!(dc.publishers, ["E Press"]);
        let c = &item.categories[0];
        assert_eq!(
            (c.name.as_str(), c.domain.as_deref()),
            ("web", Some("https://e.example/cats"))
        );
        assert_eq!(item.comments.as_deref(), Some("https://e.example/a#comments"));
        // A source with an id and a home page is an Atom source.
        assert!(
            text.contains("<source xmlns=\"http://www.w3.org/2005/Atom\">")
                && text.contains("<id>urn:origin</id>")
                && text.contains("href=\"https://origin.example/feed.xml\""),
            "{text}"
        );
        // One with a feed URL and a title only is RSS's own.
        let mut plain = e.clone();
        plain.extras.source = Some(SourceFeed {
            title: Some("Origin Radio".into()),
            feed_url: Some("https://origin.example/feed.xml".into()),
            ..SourceFeed::default()
        });
        let bytes = render(&meta(), &[plain], e.updated).expect("renders");
        let channel = Channel::read_from(&bytes[..]).expect("reads back");
        let source = channel.items[0].source.as_ref().expect("source");
        assert_eq!(
            (source.url.as_str(), source.title.as_deref()),
            ("https://origin.example/feed.xml", Some("Origin Radio"))
        );
        let enclosure = item.enclosure.as_ref().expect("enclosure");
        assert_eq!(
            (
                enclosure.url.as_str(),
                enclosure.length.as_str(),
                enclosure.mime_type.as_str()
            ),
            ("https://e.example/a.mp3", "1000", "audio/mpeg")
        );
        let description = item.description.as_deref().expect("description");
        assert!(
            description.starts_with("<p>summary</p><p>Also reported by: "),
            "{description}"
        );
        let content = item.content.as_deref().expect("content");
        assert!(
            content.starts_with("<p>content</p><p>Also reported by: "),
            "{content}"
        );
        let ext = |ns: &str, name: &str| {
            item.extensions[ns][name]
                .iter()
                .map(|x| x.value.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        let attr = |ns: &str, name: &str, key: &str| {
            item.extensions[ns][name]
                .iter()
                .map(|x| x.attrs.get(key).cloned().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ext("creativeCommons", "license"),
            ["https://creativecommons.org/licenses/by/4.0/"]
        );
        assert_eq!(ext("wfw", "commentRss"), ["https://e.example/a/comments.xml"]);
        assert_eq!(ext("slash", "comments"), ["4"]);
        assert_eq!(ext("georss", "point"), ["34.2583 108.9286"]);
        assert_eq!(attr("media", "content", "url"), ["https://e.example/a.ogg"]);
        assert_eq!(
            attr("media", "thumbnail", "url"),
            ["https://e.example/thumb.jpg", "https://e.example/image.jpg"]
        );
        let links: Vec<_> = item
            .atom_ext
            .as_ref()
            .expect("atom links")
            .links
            .iter()
            .map(|l| (l.rel.as_str(), l.href.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("related", "https://other.example/a"),
                ("via", "https://via.example/")
            ]
        );
        let it = item.itunes_ext.as_ref().expect("itunes");
        assert_eq!(it.author.as_deref(), Some("Xi'an Evening"));
        assert_eq!(it.duration.as_deref(), Some("00:42:10"));
        assert_eq!(it.explicit.as_deref(), Some("no"));
        assert_eq!(it.episode.as_deref(), Some("7"));
        assert_eq!(it.season.as_deref(), Some("2"));
        assert_eq!(it.episode_type.as_deref(), Some("full"));
        assert_eq!(it.subtitle.as_deref(), Some("The wall after dark"));
        assert_eq!(it.summary.as_deref(), Some("A walk on the wall."));
        assert_eq!(it.image.as_deref(), Some("https://e.example/ep.jpg"));
        assert_eq!(it.keywords.as_deref(), Some("history, night"));
        assert_eq!(it.block.as_deref(), Some("Yes"));
        // xml:lang on the item, which the rss crate does not keep.
        assert!(text.contains(r#"<item xml:lang="fr-CA">"#), "{text}");
    }
}
