//! Outputs: stored items to merged feeds.
//!
//! In: the stored items of an output's sources, its `dedup` mode and `limit`, and the feed's
//! metadata. Out: [`Entry`]s (one per story, per exact group, or per item), newest first, then
//! the bytes of that list as RSS 2.0 ([`rss`]), Atom 1.0 ([`atom`]) or JSON Feed 1.1
//! ([`json_feed`]). An output's `keywords` (and a daemon request's `?q=`) are written in the
//! query language of [`query`].
//!
//! Selection takes two steps so memory follows the entries shown, not the items stored: a
//! [`Selector`] groups, filters by region and sorts [`Light`] items (no HTML), then asks for the
//! full items of the copies it shows (and of every copy when keywords must be matched), a batch
//! at a time. [`crate::pipeline::publish::entries`] drives it from the store; [`select`] from items in memory.
//!
//! The copy shown is the most complete one (longest body), dated by the earliest publication,
//! and every other copy is listed as a member ("Also reported by", in the readable content of
//! every format, and as links for programs). HTML reaching this module was sanitised when it
//! was stored; links and enclosures that are not absolute `http(s)` are left out of entries,
//! and the formats check every other URL and email they write again (stored data is not
//! trusted blindly: [`web_url`], [`email`]).
//!
//! # Entry ids
//!
//! An entry's id is derived from the story (or exact group, or item) id, never from which copy
//! is shown, so readers do not show a story twice when a better copy arrives; it is the same in
//! the three formats of an output and stable across runs and restarts. It is also **unique per
//! output**: readers such as newsboat keep one copy of an id across all their subscriptions, so
//! a story in two outputs with one id (`all.rss` and `shaanxi.rss`) would vanish from one of
//! them. An output's ids are `urn:feedfold:out:NAME:story:KEY` (`…:item:HASH` with
//! `dedup = "off"`); a daemon's ad-hoc view (`?region=`, `?q=`) is a feed of its own and gets
//! `urn:feedfold:out:NAME:view:HASH:…`, HASH derived from its filters ([`view_name`]).
//!
//! Before per-output ids, every output used `urn:feedfold:story:KEY` (`urn:feedfold:item:HASH`).
//! A reader subscribed then already holds those ids, and a new id for a story it has read
//! would show that story again as new. So a story whose earliest copy (in the output) was first
//! stored before the store was upgraded keeps that old id in every output and view; only
//! stories first seen after it get per-output ids. The cutoff is recorded once, by the
//! migration that brought per-output ids (`store_meta.legacy_ids_before`: one second after the
//! newest item then stored; 0 for a new store), so it is the same on every run, restart and
//! daemon sharing the store. Old stories thus keep the old weakness (one copy in a reader
//! across outputs) until they leave the outputs; nothing a reader already has reappears.

pub mod atom;
pub mod json_feed;
pub mod query;
pub mod rss;

mod xml;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use url::Url;
use xxhash_rust::xxh3::xxh3_64;

use crate::config::{Dedup, OutputConfig};
use crate::html;
use crate::model::{Category, Enclosure, Extras, Light, Link, Person, Regions, StoredItem};
use crate::output::query::{Doc, Query};
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
    /// The task rendering it off the async workers did not finish (it panicked, or the runtime
    /// is shutting down).
    #[error("output {name}: rendering did not finish")]
    Unfinished {
        /// The output's name.
        name: String,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Which address a feed names as its own (RSS `atom:link rel="self"`, Atom `link rel="self"`,
/// JSON Feed `feed_url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfLink {
    /// `{base_url}/feeds/NAME.EXT`.
    Plain,
    /// `{base_url}/feeds/NAME.EXT?token=…` for an output with a `token` (the plain address for
    /// one without): the address a reader who gives the token in the query subscribed to. A
    /// reader (or its subscription sync) that follows the self link then keeps working; one
    /// that sends `Authorization: Bearer` gets [`SelfLink::Plain`], so the token is not
    /// written where the reader did not put it.
    WithToken,
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
    /// The feed's author (Atom `author`, JSON Feed `authors`): the output's `author`, else
    /// `[publish] author`, else its title.
    pub author: String,
    /// The token the self link carries as `?token=…` (see [`SelfLink::WithToken`]).
    pub self_token: Option<String>,
}

impl FeedMeta {
    /// The metadata of an output published under `home` (`[publish] base_url`), naming itself
    /// as `link` says.
    pub fn of(out: &OutputConfig, home: &Url, link: SelfLink) -> FeedMeta {
        FeedMeta {
            name: out.name.clone(),
            title: out.title.clone(),
            description: out.description.clone(),
            home: home.clone(),
            author: out.author.clone(),
            self_token: match link {
                SelfLink::Plain => None,
                SelfLink::WithToken => out.token.clone(),
            },
        }
    }

    /// The URL this output is published at in `format`: `{base_url}/feeds/NAME.EXT`, never
    /// with a token. Atom's feed `id` is this, so the id is the same however the feed is read.
    pub fn url(&self, format: Format) -> String {
        let base = self.home.as_str().trim_end_matches('/');
        format!("{base}/feeds/{}.{}", self.name, format.extension())
    }

    /// The feed's self link in `format`: [`FeedMeta::url`], with `?token=…` (URL-encoded) when
    /// the metadata carries the token.
    pub fn self_url(&self, format: Format) -> String {
        let mut url = self.url(format);
        if let Some(token) = &self.self_token {
            url.push_str("?token=");
            url.extend(url::form_urlencoded::byte_serialize(token.as_bytes()));
        }
        url
    }
}

/// Another copy of an entry's story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Source name.
    pub source: String,
    /// Absolute `http(s)` link, if any.
    pub url: Option<String>,
    /// Title, if any.
    pub title: Option<String>,
}

/// One entry of a merged feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stable id, unique to the output (see the module doc, "Entry ids").
    pub id: String,
    /// The story (or exact group) id, as in `export`'s `cluster`.
    pub story: String,
    /// Plain-text title.
    pub title: String,
    /// The title as sanitised HTML, when the copy shown gave it as HTML with markup.
    pub title_html: Option<String>,
    /// Absolute `http(s)` link of the copy shown.
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
    pub authors: Vec<Person>,
    /// Categories of the copy shown.
    pub categories: Vec<Category>,
    /// Enclosures of the copy shown (`http(s)` only).
    pub enclosures: Vec<Enclosure>,
    /// Language of the copy shown.
    pub language: Option<String>,
    /// Everything else the copy shown carries.
    pub extras: Extras,
    /// Source of the copy shown.
    pub source: String,
    /// The other copies (other sources or other URLs), in source order.
    pub others: Vec<Member>,
    /// The story's regions, primary first.
    pub regions: Regions,
}

/// What to select: an output's entries, optionally narrowed further by a request's regions and
/// query (the daemon's `?region=` and `?q=`) and limit.
#[derive(Debug, Clone, Copy)]
pub struct Selection<'a> {
    /// The output: its sources' items, `dedup`, region and keyword filters.
    pub output: &'a OutputConfig,
    /// Only stories about one of these regions too (empty: no further region filter).
    pub regions: &'a [usize],
    /// Only entries matching this query too: it sees the entry (title, copy shown), not each
    /// copy as `keywords` does.
    pub query: Option<&'a Query>,
    /// Most entries.
    pub limit: usize,
    /// The name of the ad-hoc view these filters make ([`view_name`]), which gives its entries
    /// ids of their own; None for the output itself.
    pub view: Option<&'a str>,
}

impl<'a> Selection<'a> {
    /// An output as configured.
    pub fn of(output: &'a OutputConfig) -> Selection<'a> {
        Selection {
            output,
            regions: &[],
            query: None,
            limit: output.limit,
            view: None,
        }
    }
}

/// The name of an ad-hoc view of an output narrowed to `regions` (gazetteer codes, any order)
/// and `query` (as written): a hash of both, so the same filters always name the same view.
/// None without filters: the output itself (a `limit` alone does not make another feed).
pub fn view_name(regions: &[&str], query: Option<&str>) -> Option<String> {
    let query = query.map(str::trim).filter(|q| !q.is_empty());
    if regions.is_empty() && query.is_none() {
        return None;
    }
    let mut regions = regions.to_vec();
    regions.sort_unstable();
    regions.dedup();
    let text = format!("regions={}\u{0}q={}", regions.join(","), query.unwrap_or(""));
    Some(format!("{:016x}", xxh3_64(text.as_bytes())))
}

/// The id of the entry for the group `key` (a story id, an exact group id, or an item's
/// `source \0 key` with `dedup = "off"`) in `output`, or in its ad-hoc `view`. `legacy`: the
/// group's earliest copy was stored before per-output ids, so it keeps the id every output
/// gave it then (see the module doc, "Entry ids").
pub fn entry_id(dedup: Dedup, key: &str, output: &str, view: Option<&str>, legacy: bool) -> String {
    let tail = match dedup {
        Dedup::Off => format!("item:{:016x}", item_hash(key)),
        Dedup::Story | Dedup::Exact => format!("story:{key}"),
    };
    match (legacy, view) {
        (true, _) => format!("urn:feedfold:{tail}"),
        (false, None) => format!("urn:feedfold:out:{output}:{tail}"),
        (false, Some(view)) => format!("urn:feedfold:out:{output}:view:{view}:{tail}"),
    }
}

/// The group key of an item with `dedup = "off"`: its source and its key within the source.
pub fn item_group_key(source: &str, key: &str) -> String {
    format!("{source}\u{0}{key}")
}

/// What an entry id names ([`parse_entry_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryRef<'a> {
    /// A story id or an exact group id (`…:story:KEY`).
    Group(&'a str),
    /// With `dedup = "off"`, the hash of an item's [`item_group_key`] (`…:item:HASH`).
    Item(u64),
}

/// What the entry id `id` names, in any of the forms [`entry_id`] writes (an output's, an
/// ad-hoc view's or a legacy id): the inverse of [`entry_id`], for `explain`. None for text that
/// is no entry id.
pub fn parse_entry_id(id: &str) -> Option<EntryRef<'_>> {
    let rest = id.trim().strip_prefix("urn:feedfold:")?;
    let tail = match rest.strip_prefix("out:") {
        // Output names have no colon: the name ends at the first one.
        Some(out) => {
            let (_name, tail) = out.split_once(':')?;
            match tail.strip_prefix("view:") {
                Some(view) => view.split_once(':')?.1,
                None => tail,
            }
        }
        None => rest,
    };
    if let Some(key) = tail.strip_prefix("story:") {
        return (!key.is_empty()).then_some(EntryRef::Group(key));
    }
    let hash = tail.strip_prefix("item:")?;
    if hash.len() != 16 {
        return None;
    }
    u64::from_str_radix(hash, 16).ok().map(EntryRef::Item)
}

/// The hash an `…:item:HASH` entry id carries for the group key `key` ([`item_group_key`]).
pub fn item_hash(key: &str) -> u64 {
    xxh3_64(key.as_bytes())
}

/// A URL fit to republish: absolute `http(s)`; as stored when it holds nothing a serialiser
/// would escape, else as the URL parser writes it. None for anything else.
pub fn web_url(text: &str) -> Option<Cow<'_, str>> {
    let url = Url::parse(text).ok().filter(html::is_web_url)?;
    let clean = !text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>\"`{}|\\^".contains(c));
    Some(if clean {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(url.to_string())
    })
}

/// An email address fit to republish (`local@domain`, nothing that could break out of an
/// RSS `author`, a `mailto:` URL or an attribute), trimmed. None for anything else.
pub fn email(text: &str) -> Option<&str> {
    let text = text.trim();
    let (local, domain) = text.split_once('@')?;
    let fine = |c: char| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"'`@".contains(c);
    let ok = !local.is_empty()
        && !domain.is_empty()
        && local.chars().all(fine)
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    ok.then_some(text)
}

/// A language tag fit for `xml:lang` and the formats' language fields: letters, digits and
/// hyphens (an underscore, as in `en_US`, becomes a hyphen), at most 35 characters.
pub fn language_tag(text: &str) -> Option<String> {
    let text = text.trim();
    let ok = !text.is_empty()
        && text.len() <= 35
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| text.replace('_', "-"))
}

/// A group of copies that passed the region filters, the copy shown first and the others by
/// source and key.
#[derive(Debug)]
struct Group {
    id: String,
    published: DateTime<Utc>,
    members: Vec<Light>,
}

/// Selects entries in two steps, so only the copies shown are held with their HTML: it groups,
/// filters by region and sorts [`Light`] items, then asks for the full items of the next few
/// groups ([`Selector::wanted`]), is given them ([`Selector::give`]) and keeps those the keyword
/// filters accept, until it has `limit` entries. The entries are those [`select`] gives for the
/// same items.
#[derive(Debug)]
pub struct Selector<'a> {
    selection: Selection<'a>,
    groups: std::vec::IntoIter<Group>,
    batch: Vec<Group>,
    entries: Vec<Entry>,
    /// The ids of every copy of the entries selected so far (see [`Selector::shown`]).
    shown: Vec<i64>,
}

impl<'a> Selector<'a> {
    /// Groups `items` by the output's `dedup`, keeps the stories its region filters (and the
    /// selection's) accept, newest first. A group whose earliest copy was first stored before
    /// `legacy_before` (unix seconds; the store's `legacy_ids_before`) keeps its legacy id.
    pub fn new(items: Vec<Light>, selection: Selection<'a>, legacy_before: i64) -> Selector<'a> {
        let out = selection.output;
        let mut grouped: BTreeMap<String, Vec<Light>> = BTreeMap::new();
        for item in items {
            let key = match out.dedup {
                Dedup::Story => item.story_id.clone(),
                Dedup::Exact => item.exact_id.clone(),
                Dedup::Off => item_group_key(&item.source, &item.key),
            };
            grouped.entry(key).or_default().push(item);
        }
        let filtered =
            !out.regions.is_empty() || !out.exclude_regions.is_empty() || !selection.regions.is_empty();
        let mut groups: Vec<Group> = grouped
            .into_iter()
            .filter_map(|(key, mut members)| {
                // The copy shown: the longest body; ties go to the earliest, then to the source name.
                members.sort_by(|a, b| {
                    b.body_len
                        .cmp(&a.body_len)
                        .then_with(|| a.date().cmp(&b.date()))
                        .then_with(|| a.source.cmp(&b.source))
                        .then_with(|| a.key.cmp(&b.key))
                });
                members[1..].sort_by(|a, b| a.source.cmp(&b.source).then_with(|| a.key.cmp(&b.key)));
                if filtered {
                    let include = [out.regions.as_slice(), selection.regions];
                    if !regions_accept(&members[0].regions, &include, &out.exclude_regions) {
                        return None;
                    }
                }
                let earliest = members.iter().map(|m| m.first_seen.timestamp()).min();
                let legacy = earliest.is_some_and(|t| t < legacy_before);
                let id = entry_id(out.dedup, &key, &out.name, selection.view, legacy);
                let published = members.iter().map(Light::date).min().unwrap_or_default();
                Some(Group {
                    id,
                    published,
                    members,
                })
            })
            .collect();
        groups.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| a.id.cmp(&b.id)));
        Selector {
            selection,
            groups: groups.into_iter(),
            batch: Vec::new(),
            entries: Vec::new(),
            shown: Vec::new(),
        }
    }

    /// The ids of the items to read in full next (the copies shown of the next groups, and every
    /// copy of them when the output has `keywords`), or None when selection is done.
    pub fn wanted(&mut self) -> Option<Vec<i64>> {
        let Selection {
            output, query, limit, ..
        } = self.selection;
        let need = limit.saturating_sub(self.entries.len());
        if need == 0 {
            return None;
        }
        // Without keyword filters every group is kept: read exactly those shown. With them,
        // read a bounded batch at a time.
        let batch = if output.keywords.is_some() || query.is_some() {
            need.clamp(64, 1000)
        } else {
            need.min(1000)
        };
        self.batch = self.groups.by_ref().take(batch).collect();
        if self.batch.is_empty() {
            return None;
        }
        let every_copy = output.keywords.is_some();
        Some(
            self.batch
                .iter()
                .flat_map(|g| &g.members[..if every_copy { g.members.len() } else { 1 }])
                .map(|m| m.id)
                .collect(),
        )
    }

    /// The full items asked for by the last [`Selector::wanted`], by id (a missing one drops
    /// its group).
    pub fn give(&mut self, items: Vec<(i64, StoredItem)>) {
        let Selection {
            output, query, limit, ..
        } = self.selection;
        let mut items: HashMap<i64, StoredItem> = items.into_iter().collect();
        for group in std::mem::take(&mut self.batch) {
            if self.entries.len() >= limit {
                break;
            }
            if let Some(keywords) = &output.keywords
                && !group
                    .members
                    .iter()
                    .any(|m| items.get(&m.id).is_some_and(|item| item_matches(keywords, item)))
            {
                continue;
            }
            let Some(shown) = items.remove(&group.members[0].id) else {
                continue;
            };
            let copies: Vec<i64> = group.members.iter().map(|m| m.id).collect();
            let entry = entry(group, shown);
            if query.is_none_or(|q| entry_matches(q, &entry)) {
                self.entries.push(entry);
                self.shown.extend(copies);
            }
        }
    }

    /// The ids of every copy (the one shown and the "also reported by" ones) of every entry
    /// selected so far: what retention keeps of an output ([`crate::pipeline::prune`]).
    pub fn shown(&self) -> &[i64] {
        &self.shown
    }

    /// The entries selected.
    pub fn finish(self) -> Vec<Entry> {
        self.entries
    }
}

/// Groups stored items into entries according to the output's `dedup`, keeps the stories its
/// region and keyword filters accept, newest first, at most `limit`, every one with a
/// per-output id (as in a store created with per-output ids). For items already in memory;
/// [`crate::pipeline::publish::entries`] selects from the store reading HTML only for the entries shown.
pub fn select(items: Vec<StoredItem>, out: &OutputConfig) -> Vec<Entry> {
    let light = items
        .iter()
        .enumerate()
        .map(|(i, item)| Light::of(i as i64, item))
        .collect();
    let mut selector = Selector::new(light, Selection::of(out), 0);
    let mut items: Vec<Option<StoredItem>> = items.into_iter().map(Some).collect();
    while let Some(ids) = selector.wanted() {
        let batch = ids
            .into_iter()
            .filter_map(|id| Some((id, items.get_mut(usize::try_from(id).ok()?)?.take()?)))
            .collect();
        selector.give(batch);
    }
    selector.finish()
}

/// Whether a story whose regions are `regions` lies in one of the regions of each non-empty
/// list of `include` and in none of `exclude` (gazetteer units; a province includes its cities
/// and counties). A region whose code the gazetteer does not know is in none.
pub fn regions_accept(regions: &Regions, include: &[&[usize]], exclude: &[usize]) -> bool {
    let g = Gazetteer::embedded();
    let units: Vec<usize> = regions.iter().filter_map(|r| g.by_code(&r.code)).collect();
    let within = |filter: &[usize]| units.iter().any(|&u| filter.iter().any(|&f| g.contains(f, u)));
    include.iter().all(|filter| filter.is_empty() || within(filter)) && !within(exclude)
}

/// Whether a query matches a document: its title, the plain text of its content (else its
/// summary), authors, categories and source.
fn query_matches(
    query: &Query,
    title: &str,
    html: [Option<&str>; 2],
    authors: &[Person],
    categories: &[Category],
    source: &str,
) -> bool {
    let content = html::to_text(html[0].or(html[1]).unwrap_or(""));
    let authors: Vec<String> = authors.iter().map(|a| a.display().to_string()).collect();
    let categories: Vec<String> = categories.iter().map(|c| c.display().to_string()).collect();
    query.matches(&Doc {
        title,
        content: &content,
        authors: &authors,
        categories: &categories,
        source,
    })
}

/// Whether a copy matches an output's `keywords`.
fn item_matches(query: &Query, m: &StoredItem) -> bool {
    let html = [m.content_html.as_deref(), m.summary_html.as_deref()];
    query_matches(
        query,
        m.title.as_deref().unwrap_or(""),
        html,
        &m.authors,
        &m.categories,
        &m.source,
    )
}

/// Whether an entry (its title and the copy shown) matches a request's query.
fn entry_matches(query: &Query, e: &Entry) -> bool {
    let html = [e.content_html.as_deref(), e.summary_html.as_deref()];
    query_matches(query, &e.title, html, &e.authors, &e.categories, &e.source)
}

/// The entry of a group, given the copy shown in full.
fn entry(group: Group, shown: StoredItem) -> Entry {
    let Group {
        id,
        published,
        members,
    } = group;
    let updated = members
        .iter()
        .map(|m| m.updated.unwrap_or_else(|| m.date()))
        .max()
        .unwrap_or(published)
        .max(published);
    // Parsing keeps only http(s) links; items stored before it did may hold others.
    let web = |link: Option<String>| link.and_then(|l| web_url(&l).map(Cow::into_owned));
    let link = web(shown.link.clone());
    let mut others: Vec<Member> = Vec::new();
    for m in members.into_iter().skip(1) {
        let member = Member {
            source: m.source,
            url: web(m.link),
            title: m.title,
        };
        let same_as_shown = member.source == shown.source && member.url == link;
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
        title_html: shown.title_html,
        link,
        published,
        updated,
        summary_html: shown.summary_html,
        content_html: shown.content_html,
        authors: shown.authors,
        categories: shown.categories,
        language: shown.language,
        extras: shown.extras,
        enclosures: shown
            .enclosures
            .into_iter()
            .filter_map(|x| {
                let url = web_url(&x.url)?.into_owned();
                Some(Enclosure { url, ..x })
            })
            .collect(),
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
                html::escape(url),
                o.title
                    .as_deref()
                    // A title is text; in an attribute, `&{` would be a Netscape script entity.
                    .filter(|t| !t.contains("&{"))
                    .map(|t| format!(" title=\"{}\"", html::escape(t)))
                    .unwrap_or_default(),
                html::escape(&o.source)
            ),
            None => html::escape(&o.source),
        })
        .collect();
    format!("<p>Also reported by: {}</p>", links.join(", "))
}

/// The other links of an entry to write, with their URL fit to republish: not the alternate
/// link, enclosures, license or comments (written in their own places), only `http(s)`.
pub(crate) fn other_links(e: &Entry) -> impl Iterator<Item = (&Link, Cow<'_, str>)> {
    let x = &e.extras;
    e.extras.links.iter().filter_map(move |l| {
        let href = web_url(&l.href)?;
        let same = |other: Option<&str>| other == Some(href.as_ref());
        let elsewhere = match l.rel.as_str() {
            "" | "enclosure" => true,
            "alternate" => same(e.link.as_deref()),
            "license" => same(x.license.as_deref()),
            "replies" => same(x.comments.as_deref()) || same(x.comments_feed.as_deref()),
            _ => false,
        };
        (!elsewhere).then_some((l, href))
    })
}

/// The entry's image when no thumbnail or iTunes image already shows it (RSS and Atom write it
/// as one more `media:thumbnail`).
pub(crate) fn extra_image(e: &Entry) -> Option<Cow<'_, str>> {
    let x = &e.extras;
    let image = web_url(x.image.as_deref()?)?;
    let shown = x.thumbnails.iter().any(|t| t.url == image) || x.itunes.image.as_deref() == Some(&image);
    (!shown).then_some(image)
}

/// `itunes:explicit` as the values every podcast client reads (`yes` / `no`).
pub(crate) fn itunes_explicit(explicit: bool) -> &'static str {
    if explicit { "yes" } else { "no" }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{GeoPoint, Itunes, SourceFeed, Thumbnail};
    use chrono::TimeZone;

    /// Feed metadata for the format tests.
    pub(crate) fn meta() -> FeedMeta {
        FeedMeta {
            name: "all".into(),
            title: "All".into(),
            description: Some("Every story".into()),
            home: Url::parse("https://feeds.example/").expect("url"),
            author: "The Desk".into(),
            self_token: None,
        }
    }

    /// An entry with every field set (and a few that must not come out).
    pub(crate) fn full_entry() -> Entry {
        let t = Utc
            .with_ymd_and_hms(2023, 11, 20, 2, 0, 0)
            .single()
            .expect("date");
        let link = |rel: &str, href: &str| Link {
            href: href.into(),
            rel: rel.into(),
            ..Link::default()
        };
        Entry {
            id: "urn:feedfold:out:all:story:x".into(),
            story: "x".into(),
            title: "Bold move & more".into(),
            title_html: Some("<b>Bold</b> move &amp; more".into()),
            link: Some("https://e.example/a".into()),
            published: t,
            updated: t,
            summary_html: Some("<p>summary</p>".into()),
            content_html: Some("<p>content</p>".into()),
            authors: vec![
                Person {
                    name: "Ann Author".into(),
                    email: Some("ann@e.example".into()),
                    uri: Some("https://ann.e.example/".into()),
                },
                Person {
                    name: String::new(),
                    email: Some("bob@e.example".into()),
                    uri: Some("javascript:alert(1)".into()),
                },
                Person::default(),
            ],
            categories: vec![Category {
                term: "web".into(),
                scheme: Some("https://e.example/cats".into()),
                label: Some("The Web".into()),
            }],
            enclosures: vec![
                Enclosure {
                    url: "https://e.example/a.mp3".into(),
                    mime: Some("audio/mpeg".into()),
                    length: Some(1000),
                },
                Enclosure {
                    url: "https://e.example/a.ogg".into(),
                    mime: Some("audio/ogg".into()),
                    length: None,
                },
            ],
            language: Some("fr_CA".into()),
            extras: Extras {
                contributors: vec![Person {
                    name: "Carl".into(),
                    email: Some("not an email".into()),
                    uri: Some("https://carl.e.example/".into()),
                }],
                rights: Some("© 2023 E".into()),
                rights_html: None,
                license: Some("https://creativecommons.org/licenses/by/4.0/".into()),
                publisher: Some("E Press".into()),
                source: Some(SourceFeed {
                    title: Some("Origin Radio".into()),
                    link: Some("https://origin.example/".into()),
                    feed_url: Some("https://origin.example/feed.xml".into()),
                    id: Some("urn:origin".into()),
                    ..SourceFeed::default()
                }),
                comments: Some("https://e.example/a#comments".into()),
                comments_feed: Some("https://e.example/a/comments.xml".into()),
                comment_count: Some(4),
                links: vec![
                    Link {
                        mime: Some("text/html".into()),
                        title: Some("Via".into()),
                        hreflang: Some("en_GB".into()),
                        length: Some(42),
                        ..link("via", "https://via.example/")
                    },
                    link("license", "https://creativecommons.org/licenses/by/4.0/"),
                    link("related", "javascript:alert(1)"),
                ],
                geo: Some(GeoPoint {
                    lat: 34.2583,
                    lon: 108.9286,
                }),
                thumbnails: vec![Thumbnail {
                    url: "https://e.example/thumb.jpg".into(),
                    width: Some(320),
                    height: Some(180),
                }],
                image: Some("https://e.example/image.jpg".into()),
                itunes: Itunes {
                    author: Some("Xi'an Evening".into()),
                    duration: Some("00:42:10".into()),
                    explicit: Some(false),
                    episode: Some("7".into()),
                    season: Some("2".into()),
                    episode_type: Some("full".into()),
                    subtitle: Some("The wall after dark".into()),
                    summary: Some("A walk on the wall.".into()),
                    image: Some("https://e.example/ep.jpg".into()),
                    keywords: vec!["history".into(), "night".into()],
                    block: true,
                },
            },
            source: "src".into(),
            others: vec![Member {
                source: "other".into(),
                url: Some("https://other.example/a".into()),
                title: Some("Other title".into()),
            }],
            regions: Regions::default(),
        }
    }

    #[test]
    fn a_self_link_carries_the_token_only_when_asked_and_the_atom_id_never() {
        let mut out = output("secret", Dedup::Story);
        out.token = Some("a&b+c#d/0123456789".into());
        let home = Url::parse("https://feeds.example/ff/").expect("url");
        let plain = FeedMeta::of(&out, &home, SelfLink::Plain);
        let token = FeedMeta::of(&out, &home, SelfLink::WithToken);
        assert_eq!(
            plain.self_url(Format::Rss),
            "https://feeds.example/ff/feeds/secret.rss"
        );
        assert_eq!(
            token.self_url(Format::JsonFeed),
            "https://feeds.example/ff/feeds/secret.json?token=a%26b%2Bc%23d%2F0123456789"
        );
        assert_eq!(token.url(Format::Atom), plain.self_url(Format::Atom));
        let atom =
            String::from_utf8(render(Format::Atom, &token, &[], Utc::now()).expect("atom")).expect("utf-8");
        assert!(
            atom.contains("<id>https://feeds.example/ff/feeds/secret.atom</id>"),
            "{atom}"
        );
        assert!(atom.contains("secret.atom?token=a%26b"), "{atom}");
        let public = output("all", Dedup::Story);
        assert_eq!(
            FeedMeta::of(&public, &home, SelfLink::WithToken).self_url(Format::Rss),
            "https://feeds.example/ff/feeds/all.rss"
        );
    }

    #[test]
    fn stored_urls_and_emails_are_checked_again_before_they_are_written() {
        let mut e = full_entry();
        let bad = "javascript:alert(1)";
        e.extras.comments = Some(bad.into());
        e.extras.comments_feed = Some(" JaVaScRiPt:alert(1)".into());
        e.extras.license = Some("data:text/html,x".into());
        e.extras.image = Some(bad.into());
        e.extras.itunes.image = Some(bad.into());
        e.extras.thumbnails[0].url = "vbscript:x".into();
        e.extras.source = Some(SourceFeed {
            title: Some("Origin".into()),
            link: Some(bad.into()),
            feed_url: Some("file:///etc/passwd".into()),
            id: None,
            ..SourceFeed::default()
        });
        e.authors[0].email = Some("a@b.example\"><script>".into());
        e.authors[0].uri = Some(bad.into());
        for format in Format::ALL {
            let bytes = render(format, &meta(), std::slice::from_ref(&e), e.updated).expect("renders");
            let text = String::from_utf8(bytes).expect("utf-8").to_ascii_lowercase();
            for word in [
                "javascript",
                "vbscript",
                "data:",
                "file:",
                "<script",
                "etc/passwd",
            ] {
                assert!(!text.contains(word), "{format:?}: {word} in\n{text}");
            }
        }
        assert_eq!(email(" a.b+c@d-e.example "), Some("a.b+c@d-e.example"));
        assert_eq!(email("a b@c"), None);
        assert_eq!(email("@c"), None);
        assert_eq!(
            web_url("https://e.example/a b").as_deref(),
            Some("https://e.example/a%20b")
        );
        assert_eq!(
            web_url("https://e.example/a").as_deref(),
            Some("https://e.example/a")
        );
    }

    fn light(source: &str, key: &str, story: &str, first_seen: i64) -> Light {
        Light {
            id: 0,
            source: source.into(),
            key: key.into(),
            link: None,
            title: None,
            published: None,
            updated: None,
            first_seen: DateTime::from_timestamp(first_seen, 0).expect("time"),
            exact_id: format!("e-{key}"),
            story_id: story.into(),
            regions: Regions::default(),
            body_len: 0,
        }
    }

    fn ids(out: &OutputConfig, view: Option<&str>, legacy_before: i64) -> Vec<String> {
        let items = vec![
            light("a", "1", "st-old", 100),
            light("b", "2", "st-old", 300),
            light("a", "3", "st-new", 200),
        ];
        let selection = Selection {
            view,
            ..Selection::of(out)
        };
        let mut ids: Vec<String> = Selector::new(items, selection, legacy_before)
            .groups
            .map(|g| g.id)
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn ids_are_per_output_and_view_and_old_stories_keep_theirs() {
        let all = output("all", Dedup::Story);
        let local = output("local", Dedup::Story);
        // A store upgraded when its newest item was first seen at 150: the story whose earliest
        // copy is older keeps the id every output gave it before, in every output and view.
        assert_eq!(
            ids(&all, None, 151),
            ["urn:feedfold:out:all:story:st-new", "urn:feedfold:story:st-old"]
        );
        assert_eq!(
            ids(&local, None, 151),
            ["urn:feedfold:out:local:story:st-new", "urn:feedfold:story:st-old"]
        );
        let view = view_name(&["610000"], Some(" 疫情 ")).expect("a view");
        assert_eq!(
            Some(&view),
            view_name(&["610000", "610000"], Some("疫情")).as_ref()
        );
        assert_ne!(Some(&view), view_name(&["610000"], None).as_ref());
        assert_eq!(view_name(&[], Some(" ")), None);
        assert_eq!(
            ids(&all, Some(&view), 151),
            [
                format!("urn:feedfold:out:all:view:{view}:story:st-new"),
                "urn:feedfold:story:st-old".to_string()
            ]
        );
        // A new store: every story gets per-output ids.
        assert_eq!(
            ids(&all, None, 0),
            [
                "urn:feedfold:out:all:story:st-new",
                "urn:feedfold:out:all:story:st-old"
            ]
        );
        // The legacy forms, as before the upgrade.
        let off = output("all", Dedup::Off);
        let legacy = format!("urn:feedfold:item:{:016x}", xxh3_64(b"a\x001"));
        assert!(
            ids(&off, None, 151).contains(&legacy),
            "{:?}",
            ids(&off, None, 151)
        );
        assert!(
            ids(&off, None, 0).contains(&format!("urn:feedfold:out:all:item:{:016x}", xxh3_64(b"a\x001")))
        );
        let exact = output("all", Dedup::Exact);
        assert!(ids(&exact, None, 151).contains(&"urn:feedfold:story:e-1".to_string()));
    }

    #[test]
    fn every_entry_id_form_parses_back_to_its_group() {
        let view = view_name(&["610000"], Some("疫情")).expect("a view");
        for dedup in [Dedup::Story, Dedup::Exact] {
            for (view, legacy) in [(None, false), (Some(view.as_str()), false), (None, true)] {
                let id = entry_id(dedup, "st-00ab", "all.v2", view, legacy);
                assert_eq!(parse_entry_id(&id), Some(EntryRef::Group("st-00ab")), "{id}");
            }
        }
        let key = item_group_key("sxdaily", "https://e.example/1");
        for (view, legacy) in [(None, false), (Some(view.as_str()), false), (None, true)] {
            let id = entry_id(Dedup::Off, &key, "all", view, legacy);
            assert_eq!(parse_entry_id(&id), Some(EntryRef::Item(item_hash(&key))), "{id}");
        }
        for not_an_id in [
            "st-00ab",
            "https://e.example/1",
            "urn:feedfold:out:all",
            "urn:feedfold:out:all:story:",
            "urn:feedfold:item:12",
            "urn:feedfold:out:all:view:abc",
            "urn:other:story:x",
        ] {
            assert_eq!(parse_entry_id(not_an_id), None, "{not_an_id}");
        }
    }

    fn output(name: &str, dedup: Dedup) -> OutputConfig {
        OutputConfig {
            name: name.into(),
            title: "O".into(),
            description: None,
            author: "O".into(),
            sources: None,
            limit: 10,
            dedup,
            regions: Vec::new(),
            exclude_regions: Vec::new(),
            keywords: None,
            token: None,
            keep: None,
        }
    }

    fn stored(source: &str, link: &str, enclosure: &str) -> StoredItem {
        StoredItem {
            source: source.into(),
            key: format!("g:{source}"),
            guid: None,
            url: Some(link.into()),
            link: Some(link.into()),
            title: Some(format!("{source} title")),
            title_html: None,
            summary_html: None,
            content_html: Some("<p>text</p>".into()),
            authors: Vec::new(),
            categories: Vec::new(),
            enclosures: vec![Enclosure {
                url: enclosure.into(),
                mime: None,
                length: None,
            }],
            language: None,
            extras: Extras::default(),
            published: None,
            updated: None,
            first_seen: DateTime::UNIX_EPOCH,
            exact_id: "e".into(),
            story_id: "s".into(),
            regions: Regions::default(),
        }
    }

    #[test]
    fn entries_carry_only_http_links_and_enclosures() {
        let out = output("o", Dedup::Story);
        // As a store written before parsing dropped such links may hold them.
        let items = vec![
            stored("a", "javascript:alert(1)", "data:audio/mpeg;base64,AAAA"),
            stored("b", "file:///etc/passwd", "https://e.example/b.mp3"),
            stored("c", "https://e.example/c", "vbscript:x"),
        ];
        let entries = select(items, &out);
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.link, None);
        assert!(e.enclosures.is_empty(), "{:?}", e.enclosures);
        let urls: Vec<_> = e.others.iter().map(|o| o.url.as_deref()).collect();
        assert_eq!(urls, [None, Some("https://e.example/c")]);
    }
}
