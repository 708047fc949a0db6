//! JSON Feed 1.1 rendering (own serde structs; the format is small).
//!
//! In: feed metadata and entries. Out: a JSON Feed 1.1 document. Every item has the stable id,
//! `content_html` (or the summary as HTML), a plain-text `summary`, and a `_feedfold` extension
//! object with the story id, every member copy (source, url, title) and the story's regions.

use serde::Serialize;

use super::{Entry, FeedMeta, Format};
use crate::html;

#[derive(Serialize)]
struct Feed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Attachment<'a> {
    url: &'a str,
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

#[derive(Serialize)]
struct MemberOut<'a> {
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
}

#[derive(Serialize)]
struct Extension<'a> {
    story: &'a str,
    members: Vec<MemberOut<'a>>,
    regions: &'a serde_json::Value,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
    #[serde(rename = "_feedfold")]
    feedfold: Extension<'a>,
}

/// Renders a JSON Feed 1.1 document.
pub fn render(meta: &FeedMeta, entries: &[Entry]) -> Result<Vec<u8>, serde_json::Error> {
    let feed = Feed {
        version: "https://jsonfeed.org/version/1.1",
        title: &meta.title,
        home_page_url: meta.home.as_str(),
        feed_url: meta.self_url(Format::JsonFeed),
        description: meta.description.as_deref(),
        items: entries.iter().map(item).collect(),
    };
    serde_json::to_vec_pretty(&feed)
}

fn item(e: &Entry) -> Item<'_> {
    let summary = e
        .summary_html
        .as_deref()
        .map(|s| html::one_line(&html::to_text(s)))
        .filter(|s| !s.is_empty());
    let mut members = vec![MemberOut {
        source: &e.source,
        url: e.link.as_deref(),
        title: Some(&e.title),
    }];
    members.extend(e.others.iter().map(|o| MemberOut {
        source: &o.source,
        url: o.url.as_deref(),
        title: o.title.as_deref(),
    }));
    Item {
        id: &e.id,
        url: e.link.as_deref(),
        title: &e.title,
        content_html: e
            .content_html
            .as_deref()
            .or(e.summary_html.as_deref())
            .unwrap_or(""),
        summary,
        date_published: e.published.to_rfc3339(),
        date_modified: e.updated.to_rfc3339(),
        authors: e.authors.iter().map(|a| Author { name: a.display() }).collect(),
        tags: e.categories.iter().map(|c| c.display()).collect(),
        attachments: e
            .enclosures
            .iter()
            .map(|x| Attachment {
                url: &x.url,
                mime_type: x.mime.as_deref().unwrap_or("application/octet-stream"),
                size_in_bytes: x.length,
            })
            .collect(),
        feedfold: Extension {
            story: &e.story,
            members,
            regions: &e.regions,
        },
    }
}
