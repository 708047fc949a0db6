//! Outputs: stored items to merged feeds.
//!
//! In: the stored items of an output's sources, its `dedup` mode and `limit`, and the feed's
//! metadata. Out: [`Entry`]s (one per story, per exact group, or per item), newest first, then
//! the bytes of that list as RSS 2.0 ([`rss`]), Atom 1.0 ([`atom`]) or JSON Feed 1.1
//! ([`json_feed`]).
//!
//! An entry's id is stable: it is derived from the story (or item) id, never from which copy is
//! shown, so readers do not show a story twice when a better copy arrives. The copy shown is the
//! most complete one (longest body), dated by the earliest publication, and every other copy is
//! listed as a member. HTML reaching this module was sanitised when it was stored.

pub mod atom;
pub mod json_feed;
pub mod rss;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use url::Url;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Dedup, OutputConfig};
use crate::html;
use crate::model::{Enclosure, StoredItem};
use crate::transform::filter::Doc;
use crate::transform::region::Gazetteer;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RSS 2.0.
    Rss,
    /// Atom 1.0.
    Atom,
    /// JSON Feed 1.1.
    JsonFeed,
}

impl Format {
    /// Every format, in the order outputs are written.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::JsonFeed];

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::JsonFeed => "json",
        }
    }

    /// HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::JsonFeed => "application/feed+json; charset=utf-8",
        }
    }
}

/// Why an output could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The XML writer failed.
    #[error("output {name}: cannot write {format:?}")]
    Write {
        /// The output's name.
        name: String,
        /// The format.
        format: Format,
        /// The writer's message.
        #[source]
        source: std::io::Error,
    },
}

/// Feed-level metadata of an output.
#[derive(Debug, Clone)]
pub struct FeedMeta {
    /// Output name (file stem).
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Home page (the publish base URL).
    pub home: Url,
}

impl FeedMeta {
    /// The URL this output is published at in `format`: `{base_url}/feeds/NAME.EXT`.
    pub fn self_url(&self, format: Format) -> String {
        let base = self.home.as_str().trim_end_matches('/');
        format!("{base}/feeds/{}.{}", self.name, format.extension())
    }
}

/// Another copy of an entry's story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Source name.
    pub source: String,
    /// Absolute link, if any.
    pub url: Option<String>,
    /// Title, if any.
    pub title: Option<String>,
}

/// One entry of a merged feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stable id: `urn:feedfold:story:…` or `urn:feedfold:item:…`.
    pub id: String,
    /// The story (or exact group) id, as in `export`'s `cluster`.
    pub story: String,
    /// Plain-text title.
    pub title: String,
    /// Absolute link of the copy shown.
    pub link: Option<String>,
    /// Earliest publication among the copies.
    pub published: DateTime<Utc>,
    /// Latest date among the copies.
    pub updated: DateTime<Utc>,
    /// Sanitised summary of the copy shown.
    pub summary_html: Option<String>,
    /// Sanitised content of the copy shown.
    pub content_html: Option<String>,
    /// Authors of the copy shown.
    pub authors: Vec<String>,
    /// Categories of the copy shown.
    pub categories: Vec<String>,
    /// Enclosures of the copy shown.
    pub enclosures: Vec<Enclosure>,
    /// Source of the copy shown.
    pub source: String,
    /// The other copies (other sources or other URLs), in source order.
    pub others: Vec<Member>,
    /// The story's regions, primary first (as stored: code, name, level, score).
    pub regions: serde_json::Value,
}

/// Groups stored items into entries according to the output's `dedup`, keeps the stories its
/// region and keyword filters accept, newest first, at most `limit`.
pub fn select(items: Vec<StoredItem>, out: &OutputConfig) -> Vec<Entry> {
    let (dedup, limit) = (out.dedup, out.limit);
    let mut groups: BTreeMap<String, Vec<StoredItem>> = BTreeMap::new();
    for item in items {
        let key = match dedup {
            Dedup::Story => item.story_id.clone(),
            Dedup::Exact => item.exact_id.clone(),
            Dedup::Off => format!("{}\u{0}{}", item.source, item.key),
        };
        groups.entry(key).or_default().push(item);
    }
    let mut entries: Vec<Entry> = groups
        .into_iter()
        .filter(|(_, members)| accepts(out, members))
        .map(|(key, members)| {
            let id = match dedup {
                Dedup::Off => format!("urn:feedfold:item:{:016x}", xxh3_64(key.as_bytes())),
                Dedup::Story | Dedup::Exact => format!("urn:feedfold:story:{key}"),
            };
            entry(id, members)
        })
        .collect();
    entries.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| a.id.cmp(&b.id)));
    entries.truncate(limit);
    entries
}

/// Whether an output's filters accept a group: one of the story's regions lies in one of
/// `regions` (when given) and none in `exclude_regions`; some copy matches `keywords`.
fn accepts(out: &OutputConfig, members: &[StoredItem]) -> bool {
    if !out.regions.is_empty() || !out.exclude_regions.is_empty() {
        let g = Gazetteer::embedded();
        let units: Vec<usize> = members
            .first()
            .and_then(|m| m.regions.as_array())
            .into_iter()
            .flatten()
            .filter_map(|r| g.by_code(r.get("code")?.as_str()?))
            .collect();
        let within = |filter: &[usize]| units.iter().any(|&u| filter.iter().any(|&f| g.contains(f, u)));
        if !out.regions.is_empty() && !within(&out.regions) {
            return false;
        }
        if within(&out.exclude_regions) {
            return false;
        }
    }
    match &out.keywords {
        None => true,
        Some(query) => members.iter().any(|m| {
            let content = html::to_text(
                m.content_html
                    .as_deref()
                    .or(m.summary_html.as_deref())
                    .unwrap_or(""),
            );
            query.matches(&Doc {
                title: m.title.as_deref().unwrap_or(""),
                content: &content,
                authors: &m.authors,
                categories: &m.categories,
                source: &m.source,
            })
        }),
    }
}

fn entry(id: String, mut members: Vec<StoredItem>) -> Entry {
    // The copy shown: the longest body; ties go to the earliest, then to the source name.
    members.sort_by(|a, b| {
        b.body_len()
            .cmp(&a.body_len())
            .then_with(|| a.date().cmp(&b.date()))
            .then_with(|| a.source.cmp(&b.source))
            .then_with(|| a.key.cmp(&b.key))
    });
    let published = members.iter().map(StoredItem::date).min().unwrap_or_default();
    let updated = members
        .iter()
        .map(|m| m.updated.unwrap_or_else(|| m.date()))
        .max()
        .unwrap_or(published)
        .max(published);
    let mut rest = members.split_off(1);
    let Some(shown) = members.pop() else {
        unreachable!("a group has at least one member")
    };
    rest.sort_by(|a, b| a.source.cmp(&b.source).then_with(|| a.key.cmp(&b.key)));
    let mut others: Vec<Member> = Vec::new();
    for m in rest {
        let member = Member {
            source: m.source,
            url: m.link,
            title: m.title,
        };
        let same_as_shown = member.source == shown.source && member.url == shown.link;
        if !same_as_shown && !others.contains(&member) {
            others.push(member);
        }
    }
    let title = shown
        .title
        .clone()
        .or_else(|| others.iter().find_map(|o| o.title.clone()))
        .unwrap_or_else(|| fallback_title(&shown));
    Entry {
        id,
        story: shown.story_id.clone(),
        title,
        link: shown.link,
        published,
        updated,
        summary_html: shown.summary_html,
        content_html: shown.content_html,
        authors: shown.authors,
        categories: shown.categories,
        enclosures: shown.enclosures,
        source: shown.source,
        others,
        regions: shown.regions,
    }
}

/// A title for an item that has none: the start of its text.
fn fallback_title(item: &StoredItem) -> String {
    let body = item
        .content_html
        .as_deref()
        .or(item.summary_html.as_deref())
        .unwrap_or("");
    let text = html::one_line(&html::to_text(body));
    let mut title: String = text.chars().take(60).collect();
    if title.len() < text.len() {
        title.push('…');
    }
    if title.is_empty() {
        "(untitled)".to_string()
    } else {
        title
    }
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An "Also reported by" paragraph listing the other copies, or nothing.
pub fn also_reported_html(others: &[Member]) -> String {
    if others.is_empty() {
        return String::new();
    }
    let links: Vec<String> = others
        .iter()
        .map(|o| match &o.url {
            Some(url) => format!(
                "<a href=\"{}\" rel=\"noopener noreferrer\"{}>{}</a>",
                escape(url),
                o.title
                    .as_deref()
                    .map(|t| format!(" title=\"{}\"", escape(t)))
                    .unwrap_or_default(),
                escape(&o.source)
            ),
            None => escape(&o.source),
        })
        .collect();
    format!("<p>Also reported by: {}</p>", links.join(", "))
}

/// Renders entries in a format.
pub fn render(
    format: Format,
    meta: &FeedMeta,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> Result<Vec<u8>, OutputError> {
    let result = match format {
        Format::Rss => rss::render(meta, entries, now),
        Format::Atom => atom::render(meta, entries, now),
        Format::JsonFeed => json_feed::render(meta, entries).map_err(std::io::Error::other),
    };
    result.map_err(|source| OutputError::Write {
        name: meta.name.clone(),
        format,
        source,
    })
}
