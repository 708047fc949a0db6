//! RSS 2.0 rendering (the `rss` crate).
//!
//! In: feed metadata and entries. Out: an RSS 2.0 document with `atom:link rel="self"`, RFC 822
//! dates, non-permalink GUIDs (the stable entry ids), `dc:creator` for authors, the sanitised
//! body in `description` (and `content:encoded` when there is full content), and an "Also
//! reported by" paragraph when the story has other copies.

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
        title: meta.title.clone(),
        link: meta.home.to_string(),
        description: meta.description.clone().unwrap_or_else(|| meta.title.clone()),
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
        title: Some(e.title.clone()),
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
                name: c.clone(),
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
            creators: e.authors.clone(),
            ..DublinCoreExtension::default()
        }),
        source: None,
        ..Item::default()
    }
}
