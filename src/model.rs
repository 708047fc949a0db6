//! The data model shared by every stage: what a parsed feed item is, before and after storage.
//!
//! In: nothing (plain data). Out: [`Item`] (what `source::parse` produces from a feed entry),
//! [`StoredItem`] (an item as the store keeps it, with its story and its story's [`Regions`]),
//! and what an item carries beside its text: [`Person`], [`Category`], [`Enclosure`] and
//! [`Extras`] (everything else a reader shows: contributors, rights, source feed, comments, geo
//! point, podcast fields …), which every output writes in its own format's standard way; and
//! [`Light`], the columns of a stored item that choosing an output's entries reads first; and
//! what a feed says of its own reading times ([`Skip`]).

use chrono::{DateTime, Datelike, Timelike, Utc};
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

/// An author or contributor. Stores written before people had details hold bare names, which
/// read back as a person with only a name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "PersonRepr")]
pub struct Person {
    /// Name as plain text (may be empty when only an email or URI is known).
    pub name: String,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Home page, absolute `http(s)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

impl Person {
    /// A person known by name only.
    pub fn named(name: impl Into<String>) -> Person {
        Person {
            name: name.into(),
            ..Person::default()
        }
    }

    /// The name, else the email, else the URI: what a reader shows.
    pub fn display(&self) -> &str {
        [
            Some(self.name.as_str()),
            self.email.as_deref(),
            self.uri.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .unwrap_or("")
    }
}

impl From<&str> for Person {
    fn from(name: &str) -> Person {
        Person::named(name)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PersonRepr {
    Name(String),
    Full {
        #[serde(default)]
        name: String,
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        uri: Option<String>,
    },
}

impl From<PersonRepr> for Person {
    fn from(r: PersonRepr) -> Person {
        match r {
            PersonRepr::Name(name) => Person::named(name),
            PersonRepr::Full { name, email, uri } => Person { name, email, uri },
        }
    }
}

/// A category (Atom `category`, RSS `category` with its `domain`, `dc:subject`, JSON Feed tag).
/// Stores written before categories had details hold bare terms.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "CategoryRepr")]
pub struct Category {
    /// The term as plain text.
    pub term: String,
    /// The scheme (Atom) or domain (RSS) the term belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// A human-readable label, when it differs from the term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Category {
    /// A category with a term only.
    pub fn term(term: impl Into<String>) -> Category {
        Category {
            term: term.into(),
            ..Category::default()
        }
    }

    /// The label, else the term: what a reader shows.
    pub fn display(&self) -> &str {
        self.label
            .as_deref()
            .filter(|l| !l.is_empty())
            .unwrap_or(&self.term)
    }
}

impl From<&str> for Category {
    fn from(term: &str) -> Category {
        Category::term(term)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CategoryRepr {
    Term(String),
    Full {
        #[serde(default)]
        term: String,
        #[serde(default)]
        scheme: Option<String>,
        #[serde(default)]
        label: Option<String>,
    },
}

impl From<CategoryRepr> for Category {
    fn from(r: CategoryRepr) -> Category {
        match r {
            CategoryRepr::Term(term) => Category::term(term),
            CategoryRepr::Full { term, scheme, label } => Category { term, scheme, label },
        }
    }
}

/// A link of an item other than its own page and its enclosures (Atom `rel="related"`,
/// `"via"`, `"replies"`, `"license"` …).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Link {
    /// Absolute `http(s)` URL.
    pub href: String,
    /// Relation.
    pub rel: String,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Language of the linked resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hreflang: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// The program that made a feed (Atom `generator`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Generator {
    /// Its name.
    pub name: String,
    /// Its home page, absolute `http(s)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The feed an item was first published in (Atom `source`, RSS `source`): its metadata as
/// that feed gave it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceFeed {
    /// Its title, plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its title as sanitised HTML, when given as HTML with markup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_html: Option<String>,
    /// Its home page, absolute `http(s)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The feed's own URL (RSS `source url`, Atom source `rel="self"`), absolute `http(s)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_url: Option<String>,
    /// Its Atom id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When it was last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// Its subtitle, plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// Its subtitle as sanitised HTML, when given as HTML with markup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle_html: Option<String>,
    /// Its rights statement, plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<String>,
    /// Its rights statement as sanitised HTML, when given as HTML with markup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights_html: Option<String>,
    /// Its authors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<Person>,
    /// Its contributors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<Person>,
    /// Its categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// Its links other than the home page and its own URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// The program that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<Generator>,
    /// Its icon, absolute `http(s)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Its logo, absolute `http(s)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

/// A geographic point (GeoRSS `georss:point`, W3C `geo:lat`/`geo:long`, GML `pos`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// A Media RSS thumbnail (`media:thumbnail`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Thumbnail {
    /// Absolute `http(s)` URL of the image.
    pub url: String,
    /// Width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// An iTunes podcast episode's fields (`itunes:` namespace), so a podcast stays a podcast.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Itunes {
    /// `itunes:author`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// `itunes:duration`, as written (`1:02:03` or seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// `itunes:explicit`: `true` for yes/true/explicit, `false` for no/false/clean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit: Option<bool>,
    /// `itunes:episode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<String>,
    /// `itunes:season`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub season: Option<String>,
    /// `itunes:episodeType` (full, trailer, bonus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode_type: Option<String>,
    /// `itunes:subtitle`, plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    /// `itunes:summary`, plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// `itunes:image href`, absolute `http(s)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `itunes:keywords`, split on commas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// `itunes:block` is yes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub block: bool,
}

impl Itunes {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self == &Itunes::default()
    }
}

/// What a feed says of an item beyond its title, link, text, people, categories, dates and
/// enclosures: each is carried to every output that has a place for it. All text here is
/// plain text and every URL absolute `http(s)`; stored as one JSON column.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Extras {
    /// Contributors (Atom `contributor`, `dc:contributor`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<Person>,
    /// Rights statement (Atom `rights`, `dc:rights`, `dcterms:rights`), plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<String>,
    /// The rights statement as sanitised HTML, when the feed gave it as HTML with markup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights_html: Option<String>,
    /// License URL (`creativeCommons:license`, `cc:license`, Atom `rel="license"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Publisher (`dc:publisher`), plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// The feed the item was first published in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceFeed>,
    /// Comments page (RSS `comments`, Atom `rel="replies"` of type text/html).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// Comments feed (`wfw:commentRss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments_feed: Option<String>,
    /// Number of comments (`slash:comments`, `thr:total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_count: Option<u64>,
    /// Other links (related, via, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Geographic point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<GeoPoint>,
    /// Media RSS thumbnails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thumbnails: Vec<Thumbnail>,
    /// The item's own image (JSON Feed `image`, else `banner_image`), absolute. Outputs fall
    /// back to the iTunes image and the first thumbnail themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Podcast episode fields.
    #[serde(default, skip_serializing_if = "Itunes::is_empty")]
    pub itunes: Itunes,
}

impl Extras {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Extras::default()
    }
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
    /// Title as plain text (entities decoded; a title given as HTML has its tags removed, a
    /// title given as text is kept as written, `<` and all).
    pub title: Option<String>,
    /// The title as (unsanitised) HTML, when the feed gave it as HTML with markup in it.
    pub title_html: Option<String>,
    /// Summary / description as (unsanitised) HTML.
    pub summary: Option<String>,
    /// Full content as (unsanitised) HTML.
    pub content: Option<String>,
    /// Authors.
    pub authors: Vec<Person>,
    /// Categories.
    pub categories: Vec<Category>,
    /// Publication time.
    pub published: Option<DateTime<Utc>>,
    /// Last update time.
    pub updated: Option<DateTime<Utc>>,
    /// Attached media.
    pub enclosures: Vec<Enclosure>,
    /// Language tag of the item or its feed.
    pub language: Option<String>,
    /// Everything else the feed says of the item.
    pub extras: Extras,
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
    /// Sanitised title HTML, when the feed gave the title as HTML with markup.
    pub title_html: Option<String>,
    /// Sanitised summary HTML.
    pub summary_html: Option<String>,
    /// Sanitised content HTML.
    pub content_html: Option<String>,
    /// Authors.
    pub authors: Vec<Person>,
    /// Categories.
    pub categories: Vec<Category>,
    /// Enclosures.
    pub enclosures: Vec<Enclosure>,
    /// Language tag.
    pub language: Option<String>,
    /// Everything else the feed said of the item.
    pub extras: Extras,
    /// Publication time as given by the feed.
    pub published: Option<DateTime<Utc>>,
    /// Update time as given by the feed.
    pub updated: Option<DateTime<Utc>>,
    /// When feedfold first stored the item.
    pub first_seen: DateTime<Utc>,
    /// Exact-duplicate group: items with the same canonical URL or permalink GUID share it.
    pub exact_id: String,
    /// Story id: equal for items folded together; kept as copies join, changed only when a
    /// new copy merges the item's story into an older one or splits it off
    /// ([`crate::pipeline::fold`]).
    pub story_id: String,
    /// The story's regions, empty until region tagging fills them.
    pub regions: Regions,
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

/// How specific a region is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Province-level unit (incl. municipalities, autonomous regions, 香港, 澳门, 台湾).
    Province,
    /// Prefecture-level city, or a county-level unit directly under a province (code `xx90xx`:
    /// 济源, 仙桃, 琼海, 石河子), which the labels and users count as a city.
    City,
    /// County-level unit under a city (county, district, county-level city such as 林州) or a
    /// district of a municipality, 香港 or 澳门.
    County,
    /// A country other than China.
    Country,
}

/// A region a story is about, as
/// [`Gazetteer::classify`](crate::transform::region::Gazetteer::classify) finds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Adcode (6 digits) for China, ISO 3166-1 alpha-2 for a country.
    pub code: String,
    /// Official name.
    pub name: String,
    /// Level.
    pub level: Level,
    /// Weight of evidence (title mentions 3, lead 2, body 1, summed over copies).
    pub score: f32,
}

/// A story's regions, primary first; empty for a national story (or one not tagged yet).
///
/// Serialised (serde) as the store's `regions` column holds them: a JSON list of
/// `{"code", "name", "level", "score"}` objects, keys in that order. The outputs write each
/// region's keys in alphabetical order instead ([`Regions::output`]), as they have since
/// regions were first written out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Regions(pub Vec<Region>);

impl Regions {
    /// The regions as the store's `regions` column holds them.
    pub fn to_column(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "[]".to_string())
    }

    /// The regions of a `regions` column; a column that does not parse is no regions.
    pub fn from_column(text: &str) -> Regions {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The regions, primary first.
    pub fn iter(&self) -> std::slice::Iter<'_, Region> {
        self.0.iter()
    }

    /// The primary region, if any.
    pub fn primary(&self) -> Option<&Region> {
        self.0.first()
    }

    /// Whether there are none (a national story).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The regions as the outputs write them (JSON Feed `_feedfold.regions`, `export`'s
    /// `regions`): the same list with each region's keys in alphabetical order.
    pub fn output(&self) -> OutputRegions<'_> {
        OutputRegions(self)
    }
}

/// [`Regions`] as the outputs write them: see [`Regions::output`].
#[derive(Debug, Clone, Copy)]
pub struct OutputRegions<'a>(&'a Regions);

impl Serialize for OutputRegions<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// One region, keys in alphabetical order (as a `serde_json::Value` object wrote them).
        #[derive(Serialize)]
        struct Out<'a> {
            code: &'a str,
            level: Level,
            name: &'a str,
            score: f32,
        }
        serializer.collect_seq(self.0.iter().map(|r| Out {
            code: &r.code,
            level: r.level,
            name: &r.name,
            score: r.score,
        }))
    }
}

/// What choosing an output's entries needs to know of a stored item: everything but its HTML,
/// authors, categories and enclosures, which are read only for the entries shown (see
/// [`Selector`](crate::output::Selector)).
#[derive(Debug, Clone, PartialEq)]
pub struct Light {
    /// The store's id of the item (for [`Selector::wanted`](crate::output::Selector::wanted)).
    pub id: i64,
    /// Name of the source the item came from.
    pub source: String,
    /// Our key within the source.
    pub key: String,
    /// Absolute link, if any.
    pub link: Option<String>,
    /// Plain-text title.
    pub title: Option<String>,
    /// Publication time as given by the feed.
    pub published: Option<DateTime<Utc>>,
    /// Update time as given by the feed.
    pub updated: Option<DateTime<Utc>>,
    /// When feedfold first stored the item.
    pub first_seen: DateTime<Utc>,
    /// Exact-duplicate group.
    pub exact_id: String,
    /// Story id.
    pub story_id: String,
    /// The story's regions, primary first.
    pub regions: Regions,
    /// Length in bytes of the best body (see [`StoredItem::body_len`]).
    pub body_len: usize,
}

impl Light {
    /// The light part of a stored item, under the id `id`.
    pub fn of(id: i64, item: &StoredItem) -> Light {
        Light {
            id,
            source: item.source.clone(),
            key: item.key.clone(),
            link: item.link.clone(),
            title: item.title.clone(),
            published: item.published,
            updated: item.updated,
            first_seen: item.first_seen,
            exact_id: item.exact_id.clone(),
            story_id: item.story_id.clone(),
            regions: item.regions.clone(),
            body_len: item.body_len(),
        }
    }

    /// See [`StoredItem::date`].
    pub fn date(&self) -> DateTime<Utc> {
        self.published.or(self.updated).unwrap_or(self.first_seen)
    }
}

/// The hours (UTC) and week days (UTC) a feed asks aggregators not to read it in: RSS 2.0's
/// `<skipHours>` and `<skipDays>`. A feed that skips every hour or every day skips nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skip {
    /// Bit `h` set: skip hour `h` (0–23, UTC).
    pub hours: u32,
    /// Bit `d` set: skip week day `d` (0 Monday … 6 Sunday, UTC).
    pub days: u8,
}

impl Skip {
    const EVERY_HOUR: u32 = (1 << 24) - 1;
    const EVERY_DAY: u8 = (1 << 7) - 1;

    /// Whether nothing is skipped (or, as unusable, everything).
    pub fn is_empty(self) -> bool {
        let (hours, days) = (self.hours & Self::EVERY_HOUR, self.days & Self::EVERY_DAY);
        (hours == 0 || hours == Self::EVERY_HOUR) && (days == 0 || days == Self::EVERY_DAY)
    }

    fn skips(self, t: DateTime<Utc>) -> bool {
        let hours = self.hours & Self::EVERY_HOUR;
        let days = self.days & Self::EVERY_DAY;
        (hours != Self::EVERY_HOUR && hours & (1 << t.hour()) != 0)
            || (days != Self::EVERY_DAY && days & (1 << t.weekday().num_days_from_monday()) != 0)
    }

    /// The first time at or after `t` that is in no skipped hour or day.
    pub fn next_allowed(self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_empty() {
            return t;
        }
        let mut at = t;
        // A week of hours: some hour of it is allowed, as not every hour or day is skipped.
        for _ in 0..=7 * 24 {
            if !self.skips(at) {
                return at;
            }
            let hour_start = at
                .with_minute(0)
                .and_then(|a| a.with_second(0))
                .and_then(|a| a.with_nanosecond(0))
                .unwrap_or(at);
            at = hour_start + chrono::Duration::hours(1);
        }
        t
    }

    /// `wait` from `from`, lengthened to end outside the skipped hours and days.
    pub fn delay(self, from: DateTime<Utc>, wait: std::time::Duration) -> std::time::Duration {
        let due = from + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        (self.next_allowed(due) - from).to_std().unwrap_or(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `regions` columns as the fold pass wrote them before regions had a type of their own
    /// (`serde_json::to_string` of `Gazetteer::classify`'s list; the third made up, for scores
    /// with a fraction), and as the outputs (JSON Feed, `export`) wrote them, through a
    /// `serde_json::Value`: keys in alphabetical order.
    const STORED: [(&str, &str); 4] = [
        (
            r#"[{"code":"610113","name":"雁塔区","level":"county","score":5.0}]"#,
            r#"[{"code":"610113","level":"county","name":"雁塔区","score":5.0}]"#,
        ),
        (
            r#"[{"code":"JP","name":"日本","level":"country","score":5.0},{"code":"US","name":"美国","level":"country","score":5.0}]"#,
            r#"[{"code":"JP","level":"country","name":"日本","score":5.0},{"code":"US","level":"country","name":"美国","score":5.0}]"#,
        ),
        (
            r#"[{"code":"610000","name":"陕西省","level":"province","score":12.5},{"code":"410100","name":"郑州市","level":"city","score":0.1}]"#,
            r#"[{"code":"610000","level":"province","name":"陕西省","score":12.5},{"code":"410100","level":"city","name":"郑州市","score":0.1}]"#,
        ),
        ("[]", "[]"),
    ];

    /// A stored column reads back and is written again byte for byte, and the outputs write
    /// what they wrote when the column was read as a `serde_json::Value`.
    #[test]
    fn regions_keep_the_stored_and_the_output_json() {
        for (column, output) in STORED {
            let regions = Regions::from_column(column);
            assert_eq!(regions.is_empty(), column == "[]");
            assert_eq!(regions.to_column(), column);
            assert_eq!(serde_json::to_string(&regions).expect("json"), column);
            let json = serde_json::to_string(&regions.output()).expect("json");
            assert_eq!(json, output);
            let value: serde_json::Value = serde_json::from_str(column).expect("value");
            assert_eq!(json, value.to_string(), "as through a serde_json::Value");
        }
        let r = Regions::from_column(STORED[0].0);
        assert_eq!(
            r.primary(),
            Some(&Region {
                code: "610113".into(),
                name: "雁塔区".into(),
                level: Level::County,
                score: 5.0,
            })
        );
    }

    /// What the gazetteer finds is stored as before: the first two columns above came from
    /// `story_regions` on these stories' comparison text.
    #[test]
    fn classified_regions_are_stored_as_before() {
        let g = crate::transform::region::Gazetteer::embedded();
        let texts = [
            ("西安市雁塔区召开会议", "西安市雁塔区今日召开会议，部署工作。"),
            ("日本首相访问美国", "日本首相抵达美国华盛顿。"),
        ];
        for ((title, body), (column, _)) in texts.into_iter().zip(STORED) {
            assert_eq!(Regions(g.classify([(title, body)], None)).to_column(), column);
        }
        assert_eq!(
            Regions(g.classify([("全国两会召开", "国务院总理作报告。")], None)).to_column(),
            "[]"
        );
    }

    /// A column that does not parse as regions reads as none (as `unwrap_or_default` on a
    /// `serde_json::Value` read it as no list).
    #[test]
    fn a_malformed_column_reads_as_no_regions() {
        for column in [
            "",
            "not json",
            "null",
            "{}",
            r#"[{"code":"610113"}]"#,
            r#"[{"code":"610113","name":"雁塔区","level":"town","score":5.0}]"#,
            r#"[{"code":"610113","name":"雁塔区","level":"county","score":5.0}"#,
        ] {
            let regions = Regions::from_column(column);
            assert_eq!(regions, Regions::default(), "{column:?}");
            assert_eq!(regions.to_column(), "[]");
            assert_eq!(serde_json::to_string(&regions.output()).expect("json"), "[]");
        }
    }
}
