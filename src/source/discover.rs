//! Feed discovery: when a source's URL gives an HTML page instead of a feed.
//!
//! In: a body's bytes ([`is_html`]), or an HTML page's text and URL ([`feed_link`]). Out:
//! whether the body is an HTML page, and the feed the page advertises with
//! `<link rel="alternate" type="application/rss+xml | atom+xml | feed+json" href="…">`, resolved
//! against the page's `<base href>` and URL. Only http(s) links are returned.

use html5ever::tokenizer::TagKind;
use url::Url;

use crate::html;

/// The media types of a feed link.
const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
];

/// Whether a body is an HTML page: after a byte-order mark, white space, an XML declaration and
/// comments, it starts with `<!DOCTYPE html` or `<html`. Feeds served as `text/html` are not
/// pages: only the bytes decide.
pub fn is_html(bytes: &[u8]) -> bool {
    let mut rest = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // Comments and declarations before the root, within the first few kilobytes.
    for _ in 0..64 {
        rest = rest.trim_ascii_start();
        let skip = if rest.starts_with(b"<?") {
            b"?>".as_slice()
        } else if rest.starts_with(b"<!--") {
            b"-->".as_slice()
        } else {
            break;
        };
        let head = &rest[..rest.len().min(4096)];
        match head.windows(skip.len()).position(|w| w == skip) {
            Some(end) => rest = &rest[end + skip.len()..],
            None => return false,
        }
    }
    let head = rest[..rest.len().min(64)].to_ascii_lowercase();
    if let Some(doctype) = head.strip_prefix(b"<!doctype") {
        return doctype.trim_ascii_start().starts_with(b"html");
    }
    head.strip_prefix(b"<html").is_some_and(|after| {
        after
            .first()
            .is_none_or(|b| b.is_ascii_whitespace() || *b == b'>')
    })
}

/// The first feed an HTML page links to, absolute.
pub fn feed_link(page_text: &str, page: &Url) -> Option<Url> {
    let mut base: Option<Url> = None;
    let mut found: Option<String> = None;
    html::for_each_tag(page_text, |tag| {
        if found.is_some() || tag.kind != TagKind::StartTag {
            return;
        }
        let attr = |name| html::attribute(tag, name);
        match &*tag.name {
            "base" if base.is_none() => base = attr("href").and_then(|h| page.join(h.trim()).ok()),
            "link" => {
                let alternate = attr("rel").is_some_and(|rel| {
                    rel.split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("alternate"))
                });
                let feed_type = attr("type").is_some_and(|t| {
                    let t = t.split(';').next().unwrap_or("").trim();
                    FEED_TYPES.iter().any(|f| t.eq_ignore_ascii_case(f))
                });
                if alternate && feed_type {
                    found = attr("href")
                        .map(|h| h.trim().to_string())
                        .filter(|h| !h.is_empty());
                }
            }
            _ => {}
        }
    });
    let href = found?;
    base.as_ref()
        .unwrap_or(page)
        .join(&href)
        .ok()
        .filter(html::is_web_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_are_told_from_feeds() {
        for page in [
            "<!DOCTYPE html><html><head>",
            "\u{feff}  <!doctype HTML>\n<html>",
            "<?xml version=\"1.0\"?>\n<!-- a page -->\n<html xmlns=\"http://www.w3.org/1999/xhtml\">",
            "<HTML>",
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\">",
        ] {
            assert!(is_html(page.as_bytes()), "{page}");
        }
        for feed in [
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><description>&lt;html&gt;</description>",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\">",
            "{\"version\": \"https://jsonfeed.org/version/1.1\"}",
            "<rdf:RDF>",
            "<htmlfeed>",
            "",
            "<!-- never closed",
        ] {
            assert!(!is_html(feed.as_bytes()), "{feed}");
        }
    }

    #[test]
    fn the_first_feed_link_is_resolved_against_base_and_page() {
        let page = Url::parse("https://news.example/section/index.html").expect("url");
        let link = |html: &str| feed_link(html, &page).map(String::from);
        assert_eq!(
            link(
                r#"<html><head><link rel="stylesheet" href="/s.css"><link rel="alternate" type="text/html" href="/m">
                <link rel="Alternate Feed" type="application/rss+xml; charset=utf-8" href="rss.xml">
                <link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>"#
            )
            .as_deref(),
            Some("https://news.example/section/rss.xml")
        );
        assert_eq!(
            link(r#"<base href="/feeds/"><link rel=alternate type=application/feed+json href=all.json>"#)
                .as_deref(),
            Some("https://news.example/feeds/all.json")
        );
        assert_eq!(
            link(r#"<link rel="alternate" type="application/atom+xml" href="//cdn.example/a.xml">"#)
                .as_deref(),
            Some("https://cdn.example/a.xml")
        );
        assert_eq!(
            link(r#"<link rel="alternate" type="application/rss+xml" href="file:///etc/passwd">"#),
            None
        );
        assert_eq!(link(r#"<link rel="alternate" type="application/rss+xml">"#), None);
        assert_eq!(
            link("<html><body><a href=\"/rss.xml\">RSS</a></body></html>"),
            None
        );
    }
}
