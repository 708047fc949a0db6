//! The data model shared by every stage: what a parsed feed item is, before and after storage.
//!
//! In: nothing (plain data). Out: [`Item`] (what `source::parse` produces from a feed entry),
//! [`StoredItem`] (an item as the store keeps it, with its story) and [`Enclosure`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A media file attached to an item (RSS `<enclosure>`, Atom `rel="enclosure"`, JSON Feed attachment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    /// Absolute URL of the file.
    pub url: String,
    /// MIME type, when the feed gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Size in bytes, when the feed gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// One entry of a feed, in feedfold's own terms (feed-rs types stop at `source::parse`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item {
    /// Our key for the item within its source: the GUID, else the canonical link, else a hash of
    /// title, date and text. Deterministic, so refetching a feed finds the same item again.
    pub key: String,
    /// The GUID / Atom id / JSON Feed id / `rdf:about` exactly as written, if the feed had one.
    pub guid: Option<String>,
    /// The item link exactly as written in the feed.
    pub url: Option<String>,
    /// The item link resolved to an absolute URL (xml:base, feed link, fetch URL).
    pub link: Option<String>,
    /// The `xml:base` in effect for the entry (its own, else the feed's), absolute: what
    /// relative URLs in its HTML are relative to.
    pub base: Option<String>,
    /// Title as plain text (entities decoded, tags removed).
    pub title: Option<String>,
    /// Summary / description as (unsanitised) HTML.
    pub summary: Option<String>,
    /// Full content as (unsanitised) HTML.
    pub content: Option<String>,
    /// Author names as plain text.
    pub authors: Vec<String>,
    /// Category terms / labels.
    pub categories: Vec<String>,
    /// Publication time.
    pub published: Option<DateTime<Utc>>,
    /// Last update time.
    pub updated: Option<DateTime<Utc>>,
    /// Attached media.
    pub enclosures: Vec<Enclosure>,
    /// Language tag of the item or its feed.
    pub language: Option<String>,
}

/// An item as stored: its display fields (HTML already sanitised) plus where it came from and
/// which story it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// Name of the source the item came from.
    pub source: String,
    /// Our key within the source (see [`Item::key`]).
    pub key: String,
    /// GUID as written, if any.
    pub guid: Option<String>,
    /// Link as written, if any.
    pub url: Option<String>,
    /// Absolute link, if any.
    pub link: Option<String>,
    /// Plain-text title.
    pub title: Option<String>,
    /// Sanitised summary HTML.
    pub summary_html: Option<String>,
    /// Sanitised content HTML.
    pub content_html: Option<String>,
    /// Author names.
    pub authors: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Enclosures.
    pub enclosures: Vec<Enclosure>,
    /// Language tag.
    pub language: Option<String>,
    /// Publication time as given by the feed.
    pub published: Option<DateTime<Utc>>,
    /// Update time as given by the feed.
    pub updated: Option<DateTime<Utc>>,
    /// When feedfold first stored the item.
    pub first_seen: DateTime<Utc>,
    /// Exact-duplicate group: items with the same canonical URL or permalink GUID share it.
    pub exact_id: String,
    /// Story id: equal for items folded together; kept as copies join, changed only when a
    /// new copy merges the item's story into an older one or splits it off (`store::fold`).
    pub story_id: String,
    /// Regions (JSON list), empty until region tagging fills it.
    pub regions: serde_json::Value,
}

impl StoredItem {
    /// The time used to order and date the item: its publication time, else its update time,
    /// else when it was first seen.
    pub fn date(&self) -> DateTime<Utc> {
        self.published.or(self.updated).unwrap_or(self.first_seen)
    }

    /// Length of the item's best body (content, else summary), used to pick a story's
    /// most complete copy.
    pub fn body_len(&self) -> usize {
        self.content_html
            .as_deref()
            .or(self.summary_html.as_deref())
            .map_or(0, str::len)
    }
}
