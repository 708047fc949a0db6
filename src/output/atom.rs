//! Atom 1.0 rendering (RFC 4287, written with quick-xml: `atom_syndication` has no per-entry
//! `xml:lang` and writes an `id` and `updated` in every `source`, which feedfold may not know).
//!
//! In: feed metadata and entries. Out: an indented Atom document with a self link, the feed's
//! author (so no entry lacks one), RFC 3339 dates and the entry ids. Each entry carries, in
//! Atom's own way: `xml:lang`; its title as `type="text"`, or `type="html"` when the copy shown
//! gave it as HTML; authors and contributors with name, email and uri; categories with term,
//! scheme and label; `rel="alternate"` to the copy shown, `rel="related"` (titled with the
//! source) to every other copy; `rel="replies"` to the comments page (with `thr:count`) and
//! feed; `rel="license"`; the other links with their rel, type, title, hreflang and length;
//! every enclosure; `rights`; `source` (title, id, home page, feed); the sanitised summary and
//! content as `type="html"`, both ending with the "Also reported by" paragraph. What Atom
//! has no element for is written in the namespaces feed readers read: `thr:total`,
//! `wfw:commentRss`, `dc:language`, `dc:publisher`, `georss:point`, `media:thumbnail` and the
//! `itunes:` episode fields. An entry without content or an alternate link (RFC 4287 wants
//! one of them) gets its summary, or nothing, as content.

use std::io;

use chrono::{DateTime, SecondsFormat, Utc};

use super::xml::{Xml, tag};
use super::{
    Entry, FeedMeta, Format, also_reported_html, email, extra_image, itunes_explicit, language_tag,
    other_links, web_url,
};
use crate::model::{Link, Person, SourceFeed};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const THR: &str = "http://purl.org/syndication/thread/1.0";
const WFW: &str = "http://wellformedweb.org/CommentAPI/";
const GEORSS: &str = "http://www.georss.org/georss";
const MEDIA: &str = "http://search.yahoo.com/mrss/";
const ITUNES: &str = "http://www.itunes.com/dtds/podcast-1.0.dtd";

fn date(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Renders an Atom 1.0 document.
pub fn render(meta: &FeedMeta, entries: &[Entry], now: DateTime<Utc>) -> io::Result<Vec<u8>> {
    let updated = entries.iter().map(|e| e.updated).max().unwrap_or(now);
    let any = |f: fn(&Entry) -> bool| entries.iter().any(f).then_some(());
    let dc = any(|e| e.language.is_some() || e.extras.publisher.is_some());
    let thr = any(|e| e.extras.comment_count.is_some());
    let wfw = any(|e| e.extras.comments_feed.is_some());
    let georss = any(|e| e.extras.geo.is_some());
    let media = any(|e| !e.extras.thumbnails.is_empty() || e.extras.image.is_some());
    let itunes = any(|e| !e.extras.itunes.is_empty());
    let self_url = meta.self_url(Format::Atom);
    let mut x = Xml::new(4096 + entries.len() * 2048)?;
    x.open(tag(
        "feed",
        &[
            ("xmlns", Some(ATOM)),
            ("xmlns:dc", dc.map(|_| DC)),
            ("xmlns:thr", thr.map(|_| THR)),
            ("xmlns:wfw", wfw.map(|_| WFW)),
            ("xmlns:georss", georss.map(|_| GEORSS)),
            ("xmlns:media", media.map(|_| MEDIA)),
            ("xmlns:itunes", itunes.map(|_| ITUNES)),
        ],
    ))?;
    x.text(tag("title", &[("type", Some("text"))]), &meta.title)?;
    if let Some(description) = &meta.description {
        x.text(tag("subtitle", &[("type", Some("text"))]), description)?;
    }
    x.leaf("id", &meta.url(Format::Atom))?;
    x.leaf("updated", &date(updated))?;
    x.open(tag("author", &[]))?;
    x.leaf("name", &meta.author)?;
    x.close("author")?;
    x.empty(tag(
        "link",
        &[
            ("rel", Some("self")),
            ("type", Some("application/atom+xml")),
            ("href", Some(&self_url)),
        ],
    ))?;
    x.empty(tag(
        "link",
        &[("rel", Some("alternate")), ("href", Some(meta.home.as_str()))],
    ))?;
    x.text(
        tag("generator", &[("version", Some(env!("CARGO_PKG_VERSION")))]),
        "feedfold",
    )?;
    for e in entries {
        entry(&mut x, e)?;
    }
    x.close("feed")?;
    Ok(x.finish())
}

/// An author or contributor. Atom requires a name: a person known only by email or home page
/// is named by it; one known by nothing is left out.
fn person(x: &mut Xml, element: &str, p: &Person) -> io::Result<()> {
    let name = p.display().trim();
    if name.is_empty() {
        return Ok(());
    }
    x.open(tag(element, &[]))?;
    x.leaf("name", name)?;
    if let Some(mail) = p.email.as_deref().and_then(email) {
        x.leaf("email", mail)?;
    }
    if let Some(uri) = p.uri.as_deref().and_then(web_url) {
        x.leaf("uri", &uri)?;
    }
    x.close(element)
}

fn link(x: &mut Xml, rel: &str, href: &str, attrs: &[(&str, Option<&str>)]) -> io::Result<()> {
    let mut all = vec![("rel", Some(rel))];
    all.extend_from_slice(attrs);
    all.push(("href", Some(href)));
    x.empty(tag("link", &all))
}

/// A link with what the feed said of it (type, title, language, length), at `href` (checked).
fn described_link(x: &mut Xml, l: &Link, href: &str) -> io::Result<()> {
    let length = l.length.map(|n| n.to_string());
    let hreflang = l.hreflang.as_deref().and_then(language_tag);
    link(
        x,
        &l.rel,
        href,
        &[
            ("type", l.mime.as_deref()),
            ("title", l.title.as_deref()),
            ("hreflang", hreflang.as_deref()),
            ("length", length.as_deref()),
        ],
    )
}

fn entry(x: &mut Xml, e: &Entry) -> io::Result<()> {
    let lang = e.language.as_deref().and_then(language_tag);
    let extras = &e.extras;
    x.open(tag("entry", &[("xml:lang", lang.as_deref())]))?;
    x.leaf("id", &e.id)?;
    match &e.title_html {
        Some(html) => x.text(tag("title", &[("type", Some("html"))]), html)?,
        None => x.text(tag("title", &[("type", Some("text"))]), &e.title)?,
    }
    x.leaf("updated", &date(e.updated))?;
    x.leaf("published", &date(e.published))?;
    for p in &e.authors {
        person(x, "author", p)?;
    }
    for p in &extras.contributors {
        person(x, "contributor", p)?;
    }
    for c in e.categories.iter().filter(|c| !c.term.trim().is_empty()) {
        x.empty(tag(
            "category",
            &[
                ("term", Some(&c.term)),
                ("scheme", c.scheme.as_deref().filter(|s| !s.is_empty())),
                ("label", c.label.as_deref().filter(|l| !l.is_empty())),
            ],
        ))?;
    }
    if let Some(href) = &e.link {
        link(x, "alternate", href, &[])?;
    }
    for other in &e.others {
        if let Some(href) = &other.url {
            let title = match &other.title {
                Some(t) => format!("{}: {t}", other.source),
                None => other.source.clone(),
            };
            link(x, "related", href, &[("title", Some(&title))])?;
        }
    }
    if let Some(href) = extras.comments.as_deref().and_then(web_url) {
        let count = extras.comment_count.map(|n| n.to_string());
        link(
            x,
            "replies",
            &href,
            &[("type", Some("text/html")), ("thr:count", count.as_deref())],
        )?;
    }
    if let Some(href) = extras.comments_feed.as_deref().and_then(web_url) {
        link(x, "replies", &href, &[])?;
    }
    if let Some(href) = extras.license.as_deref().and_then(web_url) {
        link(x, "license", &href, &[])?;
    }
    for (l, href) in other_links(e) {
        described_link(x, l, &href)?;
    }
    for enc in &e.enclosures {
        let length = enc.length.map(|n| n.to_string());
        link(
            x,
            "enclosure",
            &enc.url,
            &[("type", enc.mime.as_deref()), ("length", length.as_deref())],
        )?;
    }
    if let Some(rights) = &extras.rights {
        construct(x, "rights", rights, extras.rights_html.as_deref())?;
    }
    source(x, e)?;
    let also = also_reported_html(&e.others);
    let mut summary = e.summary_html.as_deref().map(|s| format!("{s}{also}"));
    let content = match &e.content_html {
        Some(c) => Some(format!("{c}{also}")),
        None if summary.is_none() && !also.is_empty() => Some(also),
        // RFC 4287: an entry without content has an alternate link.
        None if e.link.is_none() => Some(summary.take().unwrap_or_default()),
        None => None,
    };
    if let Some(summary) = &summary {
        x.cdata(tag("summary", &[("type", Some("html"))]), summary)?;
    }
    if let Some(content) = &content {
        x.cdata(tag("content", &[("type", Some("html"))]), content)?;
    }
    if let Some(n) = extras.comment_count {
        x.leaf("thr:total", &n.to_string())?;
    }
    if let Some(feed) = extras.comments_feed.as_deref().and_then(web_url) {
        x.leaf("wfw:commentRss", &feed)?;
    }
    if let Some(lang) = &lang {
        x.leaf("dc:language", lang)?;
    }
    if let Some(publisher) = &extras.publisher {
        x.leaf("dc:publisher", publisher)?;
    }
    namespaced(x, e, &|t| t.to_string())?;
    x.close("entry")
}

/// The feed the copy shown was first published in, with what is known of it.
fn source(x: &mut Xml, e: &Entry) -> io::Result<()> {
    match &e.extras.source {
        Some(s) => source_element(x, s, None),
        None => Ok(()),
    }
}

/// An Atom `<source>`; `xmlns` declares the Atom namespace on it (inside RSS).
pub(crate) fn source_element(x: &mut Xml, s: &SourceFeed, xmlns: Option<&str>) -> io::Result<()> {
    let home = s.link.as_deref().and_then(web_url);
    let feed = s.feed_url.as_deref().and_then(web_url);
    let title = s.title.as_deref().filter(|t| !t.trim().is_empty());
    let id = s.id.as_deref().filter(|i| !i.trim().is_empty());
    if s == &SourceFeed::default() {
        return Ok(());
    }
    x.open(tag("source", &[("xmlns", xmlns)]))?;
    if let Some(id) = id {
        x.leaf("id", id)?;
    }
    if let Some(title) = title {
        construct(x, "title", title, s.title_html.as_deref())?;
    }
    if let Some(subtitle) = s.subtitle.as_deref().filter(|t| !t.trim().is_empty()) {
        construct(x, "subtitle", subtitle, s.subtitle_html.as_deref())?;
    }
    if let Some(rights) = s.rights.as_deref().filter(|t| !t.trim().is_empty()) {
        construct(x, "rights", rights, s.rights_html.as_deref())?;
    }
    if let Some(updated) = s.updated {
        x.leaf(
            "updated",
            &updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )?;
    }
    if let Some(home) = &home {
        link(x, "alternate", home, &[])?;
    }
    if let Some(feed) = &feed {
        link(x, "self", feed, &[])?;
    }
    for l in &s.links {
        if let Some(href) = web_url(&l.href) {
            described_link(x, l, &href)?;
        }
    }
    for p in &s.authors {
        person(x, "author", p)?;
    }
    for p in &s.contributors {
        person(x, "contributor", p)?;
    }
    for c in &s.categories {
        x.empty(tag(
            "category",
            &[
                ("term", Some(&c.term)),
                ("scheme", c.scheme.as_deref()),
                ("label", c.label.as_deref()),
            ],
        ))?;
    }
    if let Some(g) = s.generator.as_ref().filter(|g| !g.name.trim().is_empty()) {
        let uri = g.uri.as_deref().and_then(web_url);
        x.text(
            tag(
                "generator",
                &[("uri", uri.as_deref()), ("version", g.version.as_deref())],
            ),
            &g.name,
        )?;
    }
    if let Some(icon) = s.icon.as_deref().and_then(web_url) {
        x.leaf("icon", &icon)?;
    }
    if let Some(logo) = s.logo.as_deref().and_then(web_url) {
        x.leaf("logo", &logo)?;
    }
    x.close("source")
}

/// A text construct: `type="html"` with the sanitised HTML when there is some, else text.
fn construct(x: &mut Xml, element: &str, text: &str, html: Option<&str>) -> io::Result<()> {
    match html {
        Some(html) => x.text(tag(element, &[("type", Some("html"))]), html),
        None => x.text(tag(element, &[("type", Some("text"))]), text),
    }
}

/// GeoRSS, Media RSS and iTunes fields, written the same in Atom as in RSS; `plain` writes
/// plain text (RSS makes it safe for readers that render it as HTML).
pub(crate) fn namespaced(x: &mut Xml, e: &Entry, plain: &dyn Fn(&str) -> String) -> io::Result<()> {
    let extras = &e.extras;
    if let Some(geo) = extras.geo {
        x.leaf("georss:point", &format!("{} {}", geo.lat, geo.lon))?;
    }
    for t in &extras.thumbnails {
        if let Some(url) = web_url(&t.url) {
            let (w, h) = (t.width.map(|n| n.to_string()), t.height.map(|n| n.to_string()));
            x.empty(tag(
                "media:thumbnail",
                &[
                    ("url", Some(&url)),
                    ("width", w.as_deref()),
                    ("height", h.as_deref()),
                ],
            ))?;
        }
    }
    if let Some(image) = extra_image(e) {
        x.empty(tag("media:thumbnail", &[("url", Some(&image))]))?;
    }
    let it = &extras.itunes;
    let text = |x: &mut Xml, name: &str, value: Option<&str>| match value {
        Some(v) if !v.trim().is_empty() => x.leaf(name, &plain(v)),
        _ => Ok(()),
    };
    text(x, "itunes:author", it.author.as_deref())?;
    text(x, "itunes:subtitle", it.subtitle.as_deref())?;
    text(x, "itunes:summary", it.summary.as_deref())?;
    text(x, "itunes:duration", it.duration.as_deref())?;
    text(x, "itunes:explicit", it.explicit.map(itunes_explicit))?;
    text(x, "itunes:episode", it.episode.as_deref())?;
    text(x, "itunes:season", it.season.as_deref())?;
    text(x, "itunes:episodeType", it.episode_type.as_deref())?;
    if let Some(image) = it.image.as_deref().and_then(web_url) {
        x.empty(tag("itunes:image", &[("href", Some(&image))]))?;
    }
    let keywords = it.keywords.join(", ");
    text(x, "itunes:keywords", Some(&keywords))?;
    if it.block {
        x.leaf("itunes:block", "Yes")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::{full_entry, meta};

    #[test]
    fn every_field_reads_back() {
        let e = full_entry();
        let bytes = render(&meta(), std::slice::from_ref(&e), e.updated).expect("renders");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(text.lines().count() > 40, "indented:\n{text}");
        let feed = atom_syndication::Feed::read_from(&bytes[..]).expect("reads back");
        assert_eq!(feed.authors[0].name, "The Desk", "a feed author");
        let a = &feed.entries[0];
        assert_eq!(a.id, e.id);
        assert_eq!(a.title.value, "<b>Bold</b> move &amp; more");
        assert_eq!(a.title.r#type, atom_syndication::TextType::Html);
        let people = |p: &[atom_syndication::Person]| {
            p.iter()
                .map(|p| (p.name.clone(), p.email.clone(), p.uri.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            people(&a.authors),
            [
                (
                    "Ann Author".to_string(),
                    Some("ann@e.example".to_string()),
                    Some("https://ann.e.example/".to_string())
                ),
                (
                    "bob@e.example".to_string(),
                    Some("bob@e.example".to_string()),
                    None
                ),
            ]
        );
        assert_eq!(
            people(&a.contributors),
            [(
                "Carl".to_string(),
                None,
                Some("https://carl.e.example/".to_string())
            )]
        );
        let c = &a.categories[0];
        assert_eq!(
            (c.term.as_str(), c.scheme.as_deref(), c.label.as_deref()),
            ("web", Some("https://e.example/cats"), Some("The Web"))
        );
        let links: Vec<_> = a
            .links
            .iter()
            .map(|l| (l.rel.as_str(), l.href.as_str(), l.mime_type.as_deref()))
            .collect();
        for want in [
            ("alternate", "https://e.example/a", None),
            ("related", "https://other.example/a", None),
            ("replies", "https://e.example/a#comments", Some("text/html")),
            ("replies", "https://e.example/a/comments.xml", None),
            ("license", "https://creativecommons.org/licenses/by/4.0/", None),
            ("via", "https://via.example/", Some("text/html")),
            ("enclosure", "https://e.example/a.mp3", Some("audio/mpeg")),
            ("enclosure", "https://e.example/a.ogg", Some("audio/ogg")),
        ] {
            assert!(links.contains(&want), "{want:?} in {links:?}");
        }
        let via = a.links.iter().find(|l| l.rel == "via").expect("via");
        assert_eq!(
            (
                via.title.as_deref(),
                via.hreflang.as_deref(),
                via.length.as_deref()
            ),
            (Some("Via"), Some("en-GB"), Some("42"))
        );
        assert_eq!(a.rights.as_ref().map(|r| r.value.as_str()), Some("© 2023 E"));
        let source = a.source.as_ref().expect("source");
        assert_eq!(source.title.value, "Origin Radio");
        assert_eq!(source.id, "urn:origin");
        let source_links: Vec<_> = source
            .links
            .iter()
            .map(|l| (l.rel.as_str(), l.href.as_str()))
            .collect();
        assert_eq!(
            source_links,
            [
                ("alternate", "https://origin.example/"),
                ("self", "https://origin.example/feed.xml")
            ]
        );
        let content = a
            .content
            .as_ref()
            .and_then(|c| c.value.as_deref())
            .expect("content");
        assert!(
            content.starts_with("<p>content</p><p>Also reported by: "),
            "{content}"
        );
        let summary = a.summary.as_ref().expect("summary");
        assert!(summary.value.contains("Also reported by"), "{}", summary.value);
        let ext = |ns: &str, name: &str| {
            a.extensions[ns][name]
                .iter()
                .map(|x| x.value.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(ext("thr", "total"), ["4"]);
        assert_eq!(ext("wfw", "commentRss"), ["https://e.example/a/comments.xml"]);
        assert_eq!(ext("dc", "language"), ["fr-CA"]);
        assert_eq!(ext("dc", "publisher"), ["E Press"]);
        assert_eq!(ext("georss", "point"), ["34.2583 108.9286"]);
        assert_eq!(ext("itunes", "duration"), ["00:42:10"]);
        assert_eq!(ext("itunes", "explicit"), ["no"]);
        assert_eq!(ext("itunes", "episode"), ["7"]);
        assert_eq!(ext("itunes", "season"), ["2"]);
        assert_eq!(ext("itunes", "episodeType"), ["full"]);
        assert_eq!(ext("itunes", "subtitle"), ["The wall after dark"]);
        assert_eq!(ext("itunes", "summary"), ["A walk on the wall."]);
        assert_eq!(ext("itunes", "keywords"), ["history, night"]);
        assert_eq!(ext("itunes", "author"), ["Xi'an Evening"]);
        assert_eq!(ext("itunes", "block"), ["Yes"]);
        assert_eq!(
            a.extensions["itunes"]["image"][0]
                .attrs
                .get("href")
                .map(String::as_str),
            Some("https://e.example/ep.jpg")
        );
        let thumbs: Vec<_> = a.extensions["media"]["thumbnail"]
            .iter()
            .map(|t| t.attrs.get("url").map(String::as_str))
            .collect();
        assert_eq!(
            thumbs,
            [
                Some("https://e.example/thumb.jpg"),
                Some("https://e.example/image.jpg")
            ]
        );
        // xml:lang on the entry, which atom_syndication does not keep: read with feed-rs.
        assert!(text.contains(r#"<entry xml:lang="fr-CA">"#), "{text}");
        let parsed = feed_rs::parser::parse(&bytes[..]).expect("feed-rs reads it");
        assert_eq!(
            parsed.entries[0].content.as_ref().and_then(|c| c.body.as_deref()),
            Some(content)
        );
    }

    #[test]
    fn an_entry_without_content_or_link_gets_content() {
        let mut e = full_entry();
        e.content_html = None;
        e.link = None;
        e.others.clear();
        let bytes = render(&meta(), &[e], chrono::Utc::now()).expect("renders");
        let feed = atom_syndication::Feed::read_from(&bytes[..]).expect("reads back");
        let a = &feed.entries[0];
        assert!(a.summary.is_none());
        assert_eq!(
            a.content.as_ref().and_then(|c| c.value.as_deref()),
            Some("<p>summary</p>")
        );
    }
}
