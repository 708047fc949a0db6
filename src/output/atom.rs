//! Atom 1.0 rendering (`atom_syndication`).
//!
//! In: feed metadata and entries. Out: an Atom document with a self link, RFC 3339 dates, the
//! stable entry ids, `rel="alternate"` to the copy shown and `rel="related"` (titled with the
//! source) to every other copy of the story.

use atom_syndication::{Category, Content, Entry as AtomEntry, Feed, Generator, Link, Person, Text};
use chrono::{DateTime, Utc};

use super::{Entry, FeedMeta, Format};

/// Renders an Atom 1.0 document.
pub fn render(meta: &FeedMeta, entries: &[Entry], now: DateTime<Utc>) -> std::io::Result<Vec<u8>> {
    let updated = entries.iter().map(|e| e.updated).max().unwrap_or(now);
    let feed = Feed {
        title: Text::plain(meta.title.clone()),
        id: meta.self_url(Format::Atom),
        updated: updated.fixed_offset(),
        subtitle: meta.description.clone().map(Text::plain),
        generator: Some(Generator {
            value: "feedfold".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            ..Generator::default()
        }),
        links: vec![
            Link {
                href: meta.self_url(Format::Atom),
                rel: "self".to_string(),
                mime_type: Some("application/atom+xml".to_string()),
                ..Link::default()
            },
            Link {
                href: meta.home.to_string(),
                rel: "alternate".to_string(),
                ..Link::default()
            },
        ],
        entries: entries.iter().map(entry).collect(),
        ..Feed::default()
    };
    let mut out = Vec::with_capacity(4096 + entries.len() * 2048);
    feed.write_to(&mut out).map_err(std::io::Error::other)?;
    Ok(out)
}

fn entry(e: &Entry) -> AtomEntry {
    let mut links = Vec::new();
    if let Some(link) = &e.link {
        links.push(Link {
            href: link.clone(),
            rel: "alternate".to_string(),
            ..Link::default()
        });
    }
    for other in &e.others {
        if let Some(url) = &other.url {
            links.push(Link {
                href: url.clone(),
                rel: "related".to_string(),
                title: Some(match &other.title {
                    Some(t) => format!("{}: {t}", other.source),
                    None => other.source.clone(),
                }),
                ..Link::default()
            });
        }
    }
    for enc in &e.enclosures {
        links.push(Link {
            href: enc.url.clone(),
            rel: "enclosure".to_string(),
            mime_type: enc.mime.clone(),
            length: enc.length.map(|l| l.to_string()),
            ..Link::default()
        });
    }
    AtomEntry {
        title: Text::plain(e.title.clone()),
        id: e.id.clone(),
        updated: e.updated.fixed_offset(),
        published: Some(e.published.fixed_offset()),
        authors: e
            .authors
            .iter()
            .map(|a| Person {
                name: a.display().to_string(),
                ..Person::default()
            })
            .collect(),
        categories: e
            .categories
            .iter()
            .map(|c| Category {
                term: c.term.clone(),
                ..Category::default()
            })
            .collect(),
        links,
        summary: e.summary_html.clone().map(Text::html),
        content: e.content_html.clone().map(|c| Content {
            value: Some(c),
            content_type: Some("html".to_string()),
            ..Content::default()
        }),
        ..AtomEntry::default()
    }
}
