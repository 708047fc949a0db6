//! Parsing: decoded feed text to [`Item`]s.
//!
//! In: UTF-8 text (from [`decode`](super::decode)), the URL the feed was fetched from and the
//! offset to assume for dates without a zone. Out: a [`ParsedFeed`] whose items carry our own
//! keys (never feed-rs's generated ids), absolute `http(s)` links and enclosures (others are
//! dropped) and plain-text titles. HTML is kept as the publisher wrote it; it is sanitised when
//! stored.
//!
//! feed-rs is strict XML; on an XML error the text is repaired (invalid characters dropped, bare
//! `&` escaped, a truncated tail cut after the last complete item and closed) and parsed again.
//! Forms feed-rs misreads or refuses (Atom 0.3, RSS without a version, Atom content in media
//! types and base64, XHTML bodies in RSS items, CDF) are first rewritten into ones it reads, by
//! `legacy` (see there); only documents that need it are rewritten.
//!
//! DTD entities are never expanded and external ones never fetched or read: a reference to an
//! entity that is not one of XML's five is removed (`a &lol9; b` → `a b`), except HTML's named
//! entities (`&nbsp;`, `&eacute;` ...), which feeds use as if they were XML's and which are read
//! as their characters.
//!
//! A document that yields no item is an error ([`ParseError::NoItems`]), never an empty feed,
//! when its root element is not a feed root read here (Atom `<feed>` or `<entry>` in the Atom
//! namespace or none, `<rss>`, RSS 1.0's `<rdf:RDF>`) or when it has `item` or `entry` elements
//! (of any namespace) of which none was read. A feed root with no item or entry element at all
//! (an RSS channel with no `<item>` yet, an Atom feed with no `<entry>`, a JSON Feed with empty
//! `items`) is an empty feed, fetched successfully.
//!
//! What a hostile feed can make of an item is bounded: at most `max_items` items per feed (the
//! rest are dropped and counted), and every field capped ([`MAX_TITLE_BYTES`],
//! [`MAX_NAME_BYTES`], [`MAX_URL_BYTES`], [`MAX_HTML_BYTES`], [`MAX_LIST`]) on a character
//! boundary, with NUL and the other characters XML forbids removed. HTML nested deeper than
//! [`MAX_HTML_DEPTH`] (which would make sanitising it slow) is kept as its text.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use feed_rs::model::{Entry, Feed, FeedType, Text};
use feed_rs::parser::{Builder, ParseFeedError};
use regex::Regex;
use url::Url;
use xxhash_rust::xxh3::xxh3_64;

use super::extras::{self, Scanned};
use super::legacy;
use crate::html;
use crate::model::{Category, Enclosure, Extras, Item, Link, Person, Skip};
use crate::transform::canonical_url;

/// The most items read from one feed, unless `[fetch] max_items` says otherwise.
pub const DEFAULT_MAX_ITEMS: usize = 1000;

/// Longest title (of an item or the feed), in bytes; longer ones are cut.
pub const MAX_TITLE_BYTES: usize = 4 << 10;

/// Longest author name, category or language tag, in bytes; longer ones are cut.
pub const MAX_NAME_BYTES: usize = 512;

/// Longest link, GUID, `xml:base` or enclosure URL, in bytes; longer ones are dropped (a cut
/// URL would point elsewhere).
pub const MAX_URL_BYTES: usize = 4 << 10;

/// Longest summary or content, in bytes; longer ones are cut (the sanitiser closes what the
/// cut leaves open).
pub const MAX_HTML_BYTES: usize = 1 << 20;

/// Deepest nesting of elements kept in a summary or content; deeper HTML is kept as text.
pub const MAX_HTML_DEPTH: usize = 256;

/// Most authors, categories and enclosures kept per item.
pub const MAX_LIST: usize = 64;

/// A parsed feed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    /// Feed title, plain text.
    pub title: Option<String>,
    /// The feed's home page, absolute `http(s)`.
    pub link: Option<String>,
    /// Entries in feed order.
    pub items: Vec<Item>,
    /// Whether the text had to be repaired before it parsed.
    pub repaired: bool,
    /// Items beyond the `max_items` cap, dropped (the last ones in feed order).
    pub dropped: usize,
    /// How often the feed says it changes: RSS `<ttl>`, else `sy:updatePeriod` /
    /// `sy:updateFrequency`.
    pub update_interval: Option<std::time::Duration>,
    /// The hours and days the feed asks not to be read in: RSS `<skipHours>`, `<skipDays>`.
    pub skip: Skip,
}

/// Why a feed could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not a feed feedfold can read, even after repair.
    #[error("parse: not a readable RSS, Atom or JSON feed")]
    Feed(#[source] ParseFeedError),
    /// The parser panicked on this input (a bug in the parser, contained here).
    #[error("parse: the feed parser failed on this input")]
    Panicked,
    /// The document was read but gave no items, and is no empty feed: it has item or entry
    /// elements that could not be read, or its root is no feed root (see the module
    /// documentation).
    #[error("parse: the document has no items feedfold can read (root element {root})")]
    NoItems {
        /// The root element and its namespace, as in `<feed> in namespace urn:x`.
        root: String,
    },
}

/// Parses feed text into items, at most [`DEFAULT_MAX_ITEMS`] (see [`parse_feed_with`]).
pub fn parse_feed(text: &str, base: Option<&Url>, tz: FixedOffset) -> Result<ParsedFeed, ParseError> {
    parse_feed_with(text, base, tz, DEFAULT_MAX_ITEMS)
}

/// Parses feed text into at most `max_items` items. `base` is the URL the feed was fetched from
/// (relative links are resolved against the entry's xml:base, then the feed's link, then
/// `base`); `tz` is the offset assumed for dates written without one.
pub fn parse_feed_with(
    text: &str,
    base: Option<&Url>,
    tz: FixedOffset,
    max_items: usize,
) -> Result<ParsedFeed, ParseError> {
    // `read` is the text feed-rs read (rewritten by `legacy` or not), `original` the one it
    // was read from (the text, or its repair).
    let finish = |(feed, read): (Feed, Option<String>), original: &str, repaired| {
        let read = read.as_deref().unwrap_or(original);
        if feed.entries.is_empty()
            && let Some(root) = legacy::unread_items(read, original)
        {
            return Err(ParseError::NoItems { root });
        }
        Ok(map_feed(feed, read, base, repaired, max_items))
    };
    let first = match parse_once(text, tz) {
        Ok(read) => return finish(read, text, false),
        Err(e) => e,
    };
    if text.trim_start().starts_with('{') {
        return Err(first);
    }
    let mut repaired = String::new();
    for stage in [drop_invalid_chars, escape_bare_ampersands, close_truncated] {
        let input = if repaired.is_empty() {
            text
        } else {
            repaired.as_str()
        };
        let Some(next) = stage(input) else { continue };
        repaired = next;
        if let Ok(read) = parse_once(&repaired, tz) {
            return finish(read, &repaired, true);
        }
    }
    Err(first)
}

/// One read of `text`: rewritten first when [`legacy::prepare`] says so, and again
/// ([`legacy::rewrite`]) when feed-rs refuses the document, reads no entry from it, or hands
/// back content it could not decode. Gives the feed and the text feed-rs read, when that is not
/// `text`.
///
/// Each feed-rs parse uses a fresh parser: a feed-rs parser that failed half-way through an
/// entry keeps state that makes its next parse panic, so parsers are never reused. A panic
/// inside feed-rs is turned into an error so one hostile feed cannot stop a fetch cycle.
fn parse_once(text: &str, tz: FixedOffset) -> Result<(Feed, Option<String>), ParseError> {
    let feed_rs = |text: &str| {
        let parser = Builder::new()
            .id_generator(|_, _, _| String::new())
            .timestamp_parser(move |s| parse_date(s, tz))
            .build();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(text.as_bytes()))) {
            Ok(Ok(feed)) => Ok(feed),
            Ok(Err(e)) => Err(ParseError::Feed(e)),
            Err(_) => Err(ParseError::Panicked),
        }
    };
    let prepared = legacy::prepare(text);
    let input = prepared.as_deref().unwrap_or(text);
    let result = feed_rs(input);
    let retry = match &result {
        Ok(feed) => feed.entries.is_empty() || legacy::undecoded(feed),
        Err(ParseError::Feed(ParseFeedError::ParseError(_))) => true,
        Err(_) => false,
    };
    if retry
        && let Some(rewritten) = legacy::rewrite(input)
        && let Ok(feed) = feed_rs(&rewritten)
    {
        return Ok((feed, Some(rewritten)));
    }
    result.map(|feed| (feed, prepared))
}

fn map_feed(feed: Feed, text: &str, base: Option<&Url>, repaired: bool, max_items: usize) -> ParsedFeed {
    let feed_link = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| web_link(&l.href, base));
    let feed_base = feed_link.as_ref().or(base).cloned();
    let root_base = root_xml_base(text).and_then(|b| resolve(&b, base));
    let language = feed.language.clone();
    let update_interval = feed
        .ttl
        .filter(|&m| m > 0)
        .map(|m| std::time::Duration::from_secs(u64::from(m) * 60))
        .or_else(|| syndication_interval(text));
    let skip = skip_times(text);
    let mut entries = feed.entries;
    if feed.feed_type == FeedType::RSS1 {
        // feed-rs does not keep `rdf:about`, the RSS 1.0 item's identity: read it here.
        let abouts = rdf_abouts(text);
        if abouts.len() == entries.len() {
            for (entry, about) in entries.iter_mut().zip(abouts) {
                if entry.id.is_empty() {
                    entry.id = about;
                }
            }
        }
    }
    // What feed-rs does not read, entry by entry; used only when the two passes agree on
    // how many entries there are.
    let mut scanned = match feed.feed_type {
        FeedType::JSON => extras::scan_json(text),
        FeedType::Atom => extras::scan(text),
        _ if extras::worth_scanning(text) => extras::scan(text),
        _ => Vec::new(),
    };
    if scanned.len() != entries.len() {
        scanned.clear();
    }
    scanned.truncate(max_items);
    let mut scanned = scanned.into_iter();
    let dropped = entries.len().saturating_sub(max_items);
    entries.truncate(max_items);
    let kind = TextKind::of(feed.feed_type);
    let items = entries
        .into_iter()
        .map(|e| {
            map_entry(
                e,
                scanned.next().unwrap_or_default(),
                root_base.as_ref(),
                feed_base.as_ref(),
                base,
                kind,
                language.as_deref(),
            )
        })
        .collect();
    ParsedFeed {
        title: feed
            .title
            .map(|t| capped(&text_of(&t), MAX_TITLE_BYTES))
            .and_then(non_empty),
        link: feed_link.map(String::from).and_then(url_field),
        items,
        repaired,
        dropped,
        update_interval,
        skip,
    }
}

/// RSS 2.0's `<skipHours>` (hours 0–23 GMT; 24 read as 0) and `<skipDays>` (English day names),
/// from the channel's head (feed-rs does not read them).
fn skip_times(text: &str) -> Skip {
    static HOURS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)<skipHours\b[^>]*>(.*?)</skipHours>").expect("static regex"));
    static DAYS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)<skipDays\b[^>]*>(.*?)</skipDays>").expect("static regex"));
    static HOUR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<hour\b[^>]*>\s*(\d{1,2})\s*</hour>").expect("static regex"));
    static DAY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<day\b[^>]*>\s*([A-Za-z]+)\s*</day>").expect("static regex"));
    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let end = text.find("<item").unwrap_or(text.len()).min(16384);
    let head = &text[..text.floor_char_boundary(end)];
    let mut skip = Skip::default();
    if let Some(list) = HOURS.captures(head) {
        for c in HOUR.captures_iter(&list[1]) {
            if let Ok(h @ 0..=24) = c[1].parse::<u32>() {
                skip.hours |= 1 << (h % 24);
            }
        }
    }
    if let Some(list) = DAYS.captures(head) {
        for c in DAY.captures_iter(&list[1]) {
            let name = c[1].to_ascii_lowercase();
            if let Some(d) = NAMES.iter().position(|n| *n == name) {
                skip.days |= 1 << d;
            }
        }
    }
    skip
}

/// The RSS 1.0 syndication module's interval: `sy:updatePeriod` (hourly, daily, weekly,
/// monthly, yearly; hourly when absent) divided by `sy:updateFrequency` (1 when absent).
fn syndication_interval(text: &str) -> Option<std::time::Duration> {
    static PERIOD: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<(?:\w+:)?updatePeriod>\s*(\w+)\s*<").expect("static regex"));
    static FREQUENCY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<(?:\w+:)?updateFrequency>\s*(\d+)\s*<").expect("static regex"));
    // Only the channel's head: the module is a channel-level element.
    let end = text.find("<item").unwrap_or(text.len()).min(8192);
    let head = &text[..text.floor_char_boundary(end)];
    let period = PERIOD.captures(head).map(|c| c[1].to_ascii_lowercase());
    let frequency: Option<u64> = FREQUENCY.captures(head).and_then(|c| c[1].parse().ok());
    if period.is_none() && frequency.is_none() {
        return None;
    }
    let seconds: u64 = match period.as_deref().unwrap_or("hourly") {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(
        seconds / frequency.unwrap_or(1).max(1),
    ))
}

fn resolve(href: &str, base: Option<&Url>) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    match Url::parse(href) {
        Ok(u) => Some(u),
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(href).ok(),
        Err(_) => None,
    }
}

/// A link that may be republished: `href` resolved against `base`, kept only when it is `http`
/// or `https`. A `javascript:`, `data:` or `file:` link (written so, or a relative link in a
/// feed read from a file) is dropped.
fn web_link(href: &str, base: Option<&Url>) -> Option<Url> {
    resolve(href, base).filter(html::is_web_url)
}

/// Plain text of a feed-rs text construct: markup removed, entities decoded, one line.
fn text_of(t: &Text) -> String {
    html::one_line(&html::to_text(&t.content))
}

/// How a feed's text constructs say whether they are text or HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    /// Atom: `type="text"` is text, `html` / `xhtml` are markup.
    Typed,
    /// RSS: untyped; a title is HTML only when it looks like HTML (an end tag or an entity
    /// reference left after XML decoding), as feedparser and most readers take it.
    Sniffed,
    /// JSON Feed: titles are plain text.
    Plain,
}

impl TextKind {
    fn of(feed_type: FeedType) -> TextKind {
        match feed_type {
            FeedType::Atom => TextKind::Typed,
            FeedType::JSON => TextKind::Plain,
            FeedType::RSS0 | FeedType::RSS1 | FeedType::RSS2 => TextKind::Sniffed,
        }
    }
}

/// A title as plain text, and as HTML when it is HTML with markup in it. A title given as
/// text keeps what looks like a tag (`History of the <blink> tag`); one given as HTML loses
/// its tags in the plain text and keeps them, to be sanitised, in the HTML.
fn title_of(t: &Text, kind: TextKind) -> (String, Option<String>) {
    let is_html = match kind {
        TextKind::Typed => t.content_type.subty() != "plain",
        TextKind::Sniffed => looks_like_html(&t.content),
        TextKind::Plain => false,
    };
    if !is_html {
        return (html::one_line(&t.content), None);
    }
    let plain = text_of(t);
    let markup = t.content.contains('<').then(|| t.content.trim().to_string());
    (plain, markup)
}

/// Whether untyped text is HTML: it has an end tag or a character or entity reference (what
/// is left after XML decoding: `&amp;amp;` in the XML, `&lt;b&gt;x&lt;/b&gt;`).
fn looks_like_html(text: &str) -> bool {
    static HTML: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)</[a-z][a-z0-9]*\s*>|&(?:#[0-9]+|#x[0-9a-f]+|[a-z][a-z0-9]{1,31});")
            .expect("static regex")
    });
    HTML.is_match(text)
}

/// HTML of a feed-rs text construct: plain text is escaped so it stays text.
fn html_of(t: &Text) -> String {
    if t.content_type.subty() == "plain" {
        escape_text(&t.content)
    } else {
        t.content.clone()
    }
}

fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn non_empty(s: String) -> Option<String> {
    (!s.trim().is_empty()).then_some(s)
}

fn map_entry(
    e: Entry,
    scanned: Scanned,
    root_base: Option<&Url>,
    feed_base: Option<&Url>,
    fetch_base: Option<&Url>,
    kind: TextKind,
    language: Option<&str>,
) -> Item {
    let is_json = kind == TextKind::Plain;
    let entry_base = e
        .base
        .as_deref()
        .and_then(|b| resolve(b, root_base.or(fetch_base)))
        .or_else(|| root_base.cloned());
    let base = entry_base.as_ref().or(feed_base).or(fetch_base);
    let mut url = None;
    let mut enclosures = Vec::new();
    for link in &e.links {
        let rel = link.rel.as_deref();
        if rel == Some("enclosure") || (is_json && link.media_type.is_some()) {
            if let Some(u) = web_link(&link.href, base) {
                enclosures.push(Enclosure {
                    url: u.into(),
                    mime: link.media_type.clone(),
                    length: link.length,
                });
            }
        } else if url.is_none() && rel.is_none_or(|r| r == "alternate") && !link.href.trim().is_empty() {
            url = Some(link.href.trim().to_string());
        }
    }
    for media in &e.media {
        for content in &media.content {
            if let Some(u) = content
                .url
                .as_ref()
                .filter(|u| html::is_web_url(u) && !enclosures.iter().any(|x| x.url == u.as_str()))
            {
                enclosures.push(Enclosure {
                    url: u.to_string(),
                    mime: content.content_type.as_ref().map(|m| m.to_string()),
                    length: content.size,
                });
            }
        }
    }
    let link = url.as_deref().and_then(|u| web_link(u, base)).map(String::from);
    let guid = non_empty(e.id.trim().to_string());
    let (title, title_html) = match e.title.as_ref().map(|t| title_of(t, kind)) {
        Some((plain, markup)) => (non_empty(plain), markup),
        None => (None, None),
    };
    let fallback = scanned.fallback;
    let (title, title_html) = match title {
        None if title_html.is_none() => (
            fallback.title.map(|t| html::one_line(&t)).and_then(non_empty),
            None,
        ),
        some => (some, title_html),
    };
    let summary = e
        .summary
        .as_ref()
        .map(html_of)
        .and_then(non_empty)
        .or(fallback.summary);
    let content = e.content.as_ref().and_then(|c| {
        let body = c.body.clone()?;
        let html = if c.content_type.subty() == "plain" {
            escape_text(&body)
        } else {
            body
        };
        non_empty(html)
    });
    let content = content.or(fallback.content);
    let fallback_date = |d: Option<String>| d.and_then(|d| parse_date(&d, FixedOffset::east_opt(0)?));
    let published = e.published.or_else(|| fallback_date(fallback.published));
    let updated = e.updated.or_else(|| fallback_date(fallback.updated));
    let web = |href: Option<String>| href.as_deref().and_then(|h| web_link(h, base)).map(String::from);
    let person = |p: Person| Person {
        name: html::one_line(&html::to_text(&p.name)),
        email: p.email.map(|e| html::one_line(&e)).and_then(non_empty),
        uri: web(p.uri),
    };
    // The scan reads RSS `email (name)` and Atom's email / uri; feed-rs the rest (JSON).
    // Authors left with nothing to show are dropped by `cap_fields`.
    let authors = if scanned.authors.is_empty() {
        e.authors
            .iter()
            .map(|p| Person {
                name: p.name.clone().unwrap_or_default(),
                email: p.email.clone(),
                uri: p.uri.clone(),
            })
            .map(person)
            .collect()
    } else {
        scanned.authors.into_iter().map(person).collect()
    };
    let categories = e
        .categories
        .iter()
        .map(|c| Category {
            term: html::one_line(&c.term),
            scheme: c.scheme.as_deref().map(html::one_line).and_then(non_empty),
            label: c
                .label
                .as_deref()
                .map(html::one_line)
                .filter(|l| !l.is_empty() && l != c.term.trim()),
        })
        .chain(scanned.categories)
        .filter(|c| !c.term.is_empty())
        .fold(Vec::new(), |mut all: Vec<Category>, c| {
            if !all.iter().any(|a| a.term == c.term && a.scheme == c.scheme) {
                all.push(c);
            }
            all
        });
    let sanitize = |h: Option<String>| h.map(|h| html::sanitize(&h, base)).and_then(non_empty);
    let extras = resolve_extras(scanned.extras, &person, &web, &sanitize);
    let mut item = Item {
        key: String::new(),
        guid,
        url,
        link,
        base: entry_base.map(String::from),
        title,
        title_html,
        summary,
        content,
        authors,
        categories,
        published,
        updated,
        enclosures,
        language: scanned
            .language
            .or(e.language)
            .or_else(|| language.map(str::to_string)),
        extras,
    };
    cap_fields(&mut item);
    item.key = item_key(&item);
    item
}

/// Extras with every URL resolved (only `http(s)` kept) and every person cleaned like authors.
fn resolve_extras(
    mut x: Extras,
    person: &dyn Fn(Person) -> Person,
    web: &dyn Fn(Option<String>) -> Option<String>,
    sanitize: &dyn Fn(Option<String>) -> Option<String>,
) -> Extras {
    // The few short text constructs given as HTML are sanitised here, against the entry's
    // base: they are stored inside the extras, not beside the bodies.
    // People with no name, email or home page left are dropped by `cap_fields`.
    let people = |list: &mut Vec<Person>| *list = std::mem::take(list).into_iter().map(person).collect();
    let links = |list: &mut Vec<Link>| {
        list.retain_mut(|l| match web(Some(std::mem::take(&mut l.href))) {
            Some(href) => {
                l.href = href;
                true
            }
            None => false,
        });
    };
    x.rights_html = sanitize(x.rights_html.take());
    people(&mut x.contributors);
    links(&mut x.links);
    x.license = web(x.license);
    x.comments = web(x.comments);
    x.comments_feed = web(x.comments_feed);
    x.image = web(x.image.take());
    x.itunes.image = web(x.itunes.image.take());
    x.thumbnails
        .retain_mut(|t| match web(Some(std::mem::take(&mut t.url))) {
            Some(url) => {
                t.url = url;
                true
            }
            None => false,
        });
    if let Some(src) = x.source.as_mut() {
        src.title_html = sanitize(src.title_html.take());
        src.subtitle_html = sanitize(src.subtitle_html.take());
        src.rights_html = sanitize(src.rights_html.take());
        people(&mut src.authors);
        people(&mut src.contributors);
        links(&mut src.links);
        for url in [&mut src.link, &mut src.feed_url, &mut src.icon, &mut src.logo] {
            *url = web(url.take());
        }
        if let Some(g) = src.generator.as_mut() {
            g.uri = web(g.uri.take());
        }
    }
    x
}

/// `text` without the characters XML forbids (NUL, other controls, U+FFFE / U+FFFF), cut to
/// `max` bytes on a character boundary.
fn capped(text: &str, max: usize) -> String {
    text[..text.floor_char_boundary(max)]
        .chars()
        .filter(|&c| is_xml_char(c))
        .collect()
}

/// A URL-like field: dropped when longer than [`MAX_URL_BYTES`].
fn url_field(text: String) -> Option<String> {
    (text.len() <= MAX_URL_BYTES)
        .then(|| capped(&text, MAX_URL_BYTES))
        .and_then(non_empty)
}

/// An HTML field: cut to [`MAX_HTML_BYTES`]; nested deeper than [`MAX_HTML_DEPTH`], its text.
fn html_field(html: String) -> Option<String> {
    let html = capped(&html, MAX_HTML_BYTES);
    // Fewer tags than the depth cap cannot nest deeper than it: skip the count.
    let tags = html.bytes().filter(|&b| b == b'<').count();
    if tags <= MAX_HTML_DEPTH || html::nesting_depth(&html) <= MAX_HTML_DEPTH {
        return non_empty(html);
    }
    let text: String = html::to_text(&html)
        .lines()
        .map(|line| format!("<p>{}</p>", escape_text(line)))
        .collect();
    non_empty(text)
}

/// Holds every field of an item to its cap (see the module documentation).
fn cap_fields(item: &mut Item) {
    for url in [&mut item.guid, &mut item.url, &mut item.link, &mut item.base] {
        *url = url.take().and_then(url_field);
    }
    item.title = item
        .title
        .take()
        .map(|t| capped(&t, MAX_TITLE_BYTES))
        .and_then(non_empty);
    item.title_html = item.title_html.take().and_then(|t| {
        (t.len() <= MAX_TITLE_BYTES)
            .then(|| capped(&t, MAX_TITLE_BYTES))
            .and_then(non_empty)
    });
    item.summary = item.summary.take().and_then(html_field);
    item.content = item.content.take().and_then(html_field);
    cap_people(&mut item.authors);
    item.categories.truncate(MAX_LIST);
    for c in &mut item.categories {
        c.term = capped(&c.term, MAX_NAME_BYTES);
        cap_name(&mut c.scheme);
        cap_name(&mut c.label);
    }
    item.categories.retain(|c| !c.term.is_empty());
    cap_extras(&mut item.extras);
    item.enclosures.truncate(MAX_LIST);
    item.enclosures.retain(|e| e.url.len() <= MAX_URL_BYTES);
    for e in &mut item.enclosures {
        e.mime = e.mime.take().map(|m| capped(&m, MAX_NAME_BYTES));
    }
    item.language = item
        .language
        .take()
        .map(|l| capped(&l, MAX_NAME_BYTES))
        .and_then(non_empty);
}

/// A short text field (a name, a label): cut to [`MAX_NAME_BYTES`].
fn cap_name(field: &mut Option<String>) {
    *field = field
        .take()
        .map(|s| capped(&s, MAX_NAME_BYTES))
        .and_then(non_empty);
}

/// A URL field: dropped when over [`MAX_URL_BYTES`].
fn cap_url(field: &mut Option<String>) {
    *field = field.take().and_then(url_field);
}

fn cap_people(people: &mut Vec<Person>) {
    people.truncate(MAX_LIST);
    for p in people.iter_mut() {
        p.name = capped(&p.name, MAX_NAME_BYTES);
        cap_name(&mut p.email);
        cap_url(&mut p.uri);
    }
    people.retain(|p| !p.display().is_empty());
}

/// Holds the extras to the same caps: lists to [`MAX_LIST`], names to [`MAX_NAME_BYTES`],
/// URLs to [`MAX_URL_BYTES`], longer texts (rights, podcast summary) to [`MAX_TITLE_BYTES`].
fn cap_extras(x: &mut Extras) {
    let text = |field: &mut Option<String>| {
        *field = field
            .take()
            .map(|s| capped(&s, MAX_TITLE_BYTES))
            .and_then(non_empty);
    };
    cap_people(&mut x.contributors);
    text(&mut x.rights);
    cap_name(&mut x.publisher);
    for url in [
        &mut x.license,
        &mut x.comments,
        &mut x.comments_feed,
        &mut x.image,
    ] {
        cap_url(url);
    }
    text(&mut x.rights_html);
    if let Some(src) = x.source.as_mut() {
        for field in [
            &mut src.title,
            &mut src.title_html,
            &mut src.subtitle,
            &mut src.subtitle_html,
            &mut src.rights,
            &mut src.rights_html,
        ] {
            text(field);
        }
        for url in [
            &mut src.link,
            &mut src.feed_url,
            &mut src.id,
            &mut src.icon,
            &mut src.logo,
        ] {
            cap_url(url);
        }
        cap_people(&mut src.authors);
        cap_people(&mut src.contributors);
        src.categories.truncate(MAX_LIST);
        src.links.truncate(MAX_LIST);
        src.links.retain(|l| l.href.len() <= MAX_URL_BYTES);
        if let Some(g) = src.generator.as_mut() {
            g.name = capped(&g.name, MAX_NAME_BYTES);
            cap_url(&mut g.uri);
            cap_name(&mut g.version);
        }
    }
    x.links.truncate(MAX_LIST);
    x.links.retain(|l| l.href.len() <= MAX_URL_BYTES);
    for l in &mut x.links {
        l.rel = capped(&l.rel, MAX_NAME_BYTES);
        cap_name(&mut l.mime);
        cap_name(&mut l.title);
        cap_name(&mut l.hreflang);
    }
    x.thumbnails.truncate(MAX_LIST);
    x.thumbnails.retain(|t| t.url.len() <= MAX_URL_BYTES);
    let it = &mut x.itunes;
    for name in [
        &mut it.author,
        &mut it.duration,
        &mut it.episode,
        &mut it.season,
        &mut it.episode_type,
    ] {
        cap_name(name);
    }
    text(&mut it.subtitle);
    text(&mut it.summary);
    cap_url(&mut it.image);
    it.keywords.truncate(MAX_LIST);
    for k in &mut it.keywords {
        *k = capped(k, MAX_NAME_BYTES);
    }
}

/// The `rdf:about` of every `<item>` of an RSS 1.0 document, in document order.
fn rdf_abouts(text: &str) -> Vec<String> {
    static ABOUT: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"<(?:rss:)?item\b[^>]*?\brdf:about\s*=\s*(?:"([^"]*)"|'([^']*)')"#).ok()
    });
    let Some(re) = ABOUT.as_ref() else {
        return Vec::new();
    };
    re.captures_iter(text)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| html::to_text(m.as_str()))
        .collect()
}

/// The `xml:base` attribute of the document's root element, if any.
fn root_xml_base(text: &str) -> Option<String> {
    let mut rest = text;
    // Skip comments, processing instructions and the doctype before the root start tag.
    let tag = loop {
        let at = rest.find('<')?;
        rest = &rest[at..];
        if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = &rest[rest.find('>')? + 1..];
            continue;
        }
        break &rest[..rest.find('>')?];
    };
    let at = tag.find("xml:base")?;
    let value = tag[at + "xml:base".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &value[1..];
    Some(value[..value.find(quote)?].to_string())
}

/// Our key for an item: the GUID, else the canonical link, else a hash of title, date and text.
pub fn item_key(item: &Item) -> String {
    if let Some(guid) = &item.guid {
        return format!("g:{guid}");
    }
    if let Some(canon) = item.link.as_deref().and_then(canonical_url) {
        return format!("u:{canon}");
    }
    let mut h = String::new();
    for part in [
        item.title.as_deref(),
        item.content.as_deref().or(item.summary.as_deref()),
    ] {
        h.push_str(part.unwrap_or(""));
        h.push('\u{0}');
    }
    if let Some(d) = item.published.or(item.updated) {
        h.push_str(&d.timestamp().to_string());
    }
    format!("h:{:016x}", xxh3_64(h.as_bytes()))
}

/// Parses a feed date: RFC 3339, RFC 2822 (with common deviations), then zone-less and Chinese
/// forms (`2023-11-20 10:00:00`, `2023/11/20 10:00`, `2023年11月20日 10:00`, `2023-11-20`),
/// which are read in `tz`.
pub fn parse_date(text: &str, tz: FixedOffset) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(t) {
        return Some(d.with_timezone(&Utc));
    }
    // RFC 2822 with a zone name chrono does not know, or no zone at all.
    for fmt in [
        "%a, %d %b %Y %H:%M:%S %z",
        "%d %b %Y %H:%M:%S %z",
        "%a, %d %b %Y %H:%M %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(t, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let t = t.replace(['年', '月', '/'], "-").replace(['日', 'T'], " ");
    let t = t.trim();
    // With an explicit offset but a space instead of `T`: `2023-11-20 10:00:00+08:00`.
    for fmt in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S %z",
        "%Y-%m-%d %H:%M%:z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(t, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let naive = ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .or_else(|| {
            ["%a, %d %b %Y %H:%M:%S", "%d %b %Y %H:%M:%S"]
                .iter()
                .find_map(|f| {
                    NaiveDateTime::parse_from_str(
                        text.trim()
                            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
                            .trim(),
                        f,
                    )
                    .ok()
                })
        })
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    tz.from_local_datetime(&naive)
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// [`parse_date`], and the year-less forms of news lists (`11-20 10:00`, `11月20日 10:00`,
/// `11/20`), read in `tz` in the year of `now`, or the year before when that would put them
/// more than a day after `now`.
pub fn parse_date_near(text: &str, tz: FixedOffset, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if let Some(d) = parse_date(text, tz) {
        return Some(d);
    }
    let t = text.trim().replace(['月', '/'], "-").replace('日', " ");
    let t = t.trim();
    let (date, time) = t.split_once(' ').unwrap_or((t, ""));
    let (month, day) = date.split_once('-')?;
    let (month, day): (u32, u32) = (month.trim().parse().ok()?, day.trim().parse().ok()?);
    let time = time.trim();
    let time = if time.is_empty() {
        chrono::NaiveTime::MIN
    } else {
        ["%H:%M:%S", "%H:%M"]
            .iter()
            .find_map(|f| chrono::NaiveTime::parse_from_str(time, f).ok())?
    };
    let year = chrono::Datelike::year(&now.with_timezone(&tz));
    let at = |year| {
        NaiveDate::from_ymd_opt(year, month, day)
            .map(|d| d.and_time(time))
            .and_then(|naive| tz.from_local_datetime(&naive).single())
            .map(|d| d.with_timezone(&Utc))
    };
    match at(year)? {
        d if d > now + chrono::Duration::days(1) => at(year - 1),
        d => Some(d),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Removes characters XML 1.0 forbids (control characters, NUL, U+FFFE/FFFF).
fn drop_invalid_chars(text: &str) -> Option<String> {
    text.contains(|c| !is_xml_char(c))
        .then(|| text.chars().filter(|&c| is_xml_char(c)).collect())
}

/// Escapes `&` that does not start a character or entity reference.
fn escape_bare_ampersands(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changed = false;
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let reference = after
            .find(';')
            .filter(|&end| end > 0 && end <= 32)
            .map(|end| &after[..end])
            .is_some_and(|name| {
                if let Some(num) = name.strip_prefix('#') {
                    num.strip_prefix(['x', 'X']).map_or_else(
                        || !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()),
                        |hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                    )
                } else {
                    name.bytes().all(|b| b.is_ascii_alphanumeric())
                }
            });
        if reference {
            out.push('&');
        } else {
            out.push_str("&amp;");
            changed = true;
        }
        rest = after;
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Cuts a truncated document after its last complete item or entry and closes the root.
fn close_truncated(text: &str) -> Option<String> {
    let (cut, closing) = if let Some(at) = text.rfind("</item>") {
        let closing = if text.contains("<rdf:RDF") {
            "</rdf:RDF>"
        } else if text.contains("<channel") && !text[at..].contains("</channel>") {
            "</channel></rss>"
        } else {
            return None;
        };
        (at + "</item>".len(), closing)
    } else if let Some(at) = text.rfind("</entry>") {
        (at + "</entry>".len(), "</feed>")
    } else {
        return None;
    };
    let mut out = text[..cut].to_string();
    out.push_str(closing);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(people: &[Person]) -> Vec<&str> {
        people.iter().map(Person::display).collect()
    }

    fn cst() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).expect("offset")
    }

    #[test]
    fn update_interval_from_ttl_or_syndication_module() {
        let rss = |extra: &str| {
            format!(
                "<rss version=\"2.0\" xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\"><channel><title>t</title>{extra}<item><title>a</title><link>http://e.com/a</link></item></channel></rss>"
            )
        };
        let interval = |extra: &str| {
            parse_feed(&rss(extra), None, cst())
                .expect("parses")
                .update_interval
                .map(|d| d.as_secs())
        };
        assert_eq!(interval(""), None);
        assert_eq!(interval("<ttl>90</ttl>"), Some(5400));
        assert_eq!(
            interval("<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"),
            Some(21_600)
        );
        assert_eq!(interval("<sy:updateFrequency>2</sy:updateFrequency>"), Some(1800));
        assert_eq!(
            interval("<ttl>60</ttl><sy:updatePeriod>weekly</sy:updatePeriod>"),
            Some(3600),
            "ttl wins"
        );
    }

    #[test]
    fn skip_hours_and_days_from_the_channel() {
        let rss = |extra: &str| {
            format!(
                "<rss version=\"2.0\"><channel><title>t</title>{extra}<item><title>a</title><link>http://e.com/a</link><description>&lt;hour&gt;3&lt;/hour&gt;</description></item></channel></rss>"
            )
        };
        let skip = |extra: &str| parse_feed(&rss(extra), None, cst()).expect("parses").skip;
        assert_eq!(skip(""), Skip::default());
        assert_eq!(
            skip("<skipHours><hour>0</hour>\n <hour> 23 </hour><hour>24</hour><hour>99</hour></skipHours>"),
            Skip {
                hours: 1 | (1 << 23),
                days: 0
            },
            "24 is midnight, 99 is no hour"
        );
        assert_eq!(
            skip("<skipDays><day>Saturday</day><day>sunday</day><day>Caturday</day></skipDays>"),
            Skip {
                hours: 0,
                days: (1 << 5) | (1 << 6)
            }
        );
    }

    #[test]
    fn dates_in_common_forms() {
        let want = Utc.with_ymd_and_hms(2023, 11, 20, 2, 0, 0).single();
        for s in [
            "2023-11-20T10:00:00+08:00",
            "Mon, 20 Nov 2023 02:00:00 GMT",
            "Mon, 20 Nov 2023 10:00:00 +0800",
            "2023-11-20 10:00:00",
            "2023-11-20 10:00",
            "2023/11/20 10:00:00",
            "2023年11月20日 10:00",
            "2023-11-20 10:00:00+08:00",
            "2023-11-20T10:00:00",
        ] {
            assert_eq!(parse_date(s, cst()), want, "{s}");
        }
        assert_eq!(
            parse_date("2023年11月20日", cst()),
            Utc.with_ymd_and_hms(2023, 11, 19, 16, 0, 0).single()
        );
        assert_eq!(parse_date("yesterday", cst()), None);
    }

    #[test]
    fn year_less_dates_take_the_year_of_the_fetch() {
        let now = Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).single().expect("now");
        let want = Utc.with_ymd_and_hms(2023, 11, 20, 2, 0, 0).single();
        for s in [
            "11-20 10:00",
            "11月20日 10:00",
            "11/20 10:00:00",
            "2023年11月20日 10:00",
        ] {
            assert_eq!(parse_date_near(s, cst(), now), want, "{s}");
        }
        assert_eq!(
            parse_date_near("11-20", cst(), now),
            Utc.with_ymd_and_hms(2023, 11, 19, 16, 0, 0).single()
        );
        // Late December seen in January is last year's.
        let january = Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).single().expect("now");
        assert_eq!(
            parse_date_near("12-31 10:00", cst(), january),
            Utc.with_ymd_and_hms(2023, 12, 31, 2, 0, 0).single()
        );
        for s in ["13-40 10:00", "阅读 100", "11-20 25:00", ""] {
            assert_eq!(parse_date_near(s, cst(), now), None, "{s}");
        }
    }

    #[test]
    fn bare_ampersands_are_escaped_but_references_kept() {
        assert_eq!(
            escape_bare_ampersands("a & b &amp; &#20013; &#x4e2d; &nbsp;").as_deref(),
            Some("a &amp; b &amp; &#20013; &#x4e2d; &nbsp;")
        );
        assert_eq!(escape_bare_ampersands("a &amp; b"), None);
    }

    #[test]
    fn truncated_rss_is_closed_after_last_item() {
        let t = "<rss><channel><title>t</title><item><title>a</title></item><item><title>b";
        assert_eq!(
            close_truncated(t).as_deref(),
            Some("<rss><channel><title>t</title><item><title>a</title></item></channel></rss>")
        );
    }

    fn rss_items(items: &str) -> String {
        format!(
            "<rss version=\"2.0\"><channel><title>t</title><link>https://e.example/</link>{items}</channel></rss>"
        )
    }

    /// Runs `f` on a thread with a 2 MiB stack, the size of a tokio worker's.
    fn on_worker_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic, no overflow");
    }

    #[test]
    fn items_beyond_the_cap_are_dropped_and_counted() {
        let items: String = (0..30)
            .map(|i| format!("<item><title>n{i}</title><link>https://e.example/{i}</link></item>"))
            .collect();
        let feed = parse_feed_with(&rss_items(&items), None, cst(), 25).expect("parses");
        assert_eq!(feed.items.len(), 25);
        assert_eq!(feed.dropped, 5);
        assert_eq!(
            feed.items[24].title.as_deref(),
            Some("n24"),
            "the first ones are kept"
        );
        let feed = parse_feed(&rss_items(&items), None, cst()).expect("parses");
        assert_eq!((feed.items.len(), feed.dropped), (30, 0));
    }

    #[test]
    fn fields_are_capped_on_character_boundaries() {
        let long_title = "陕".repeat(MAX_TITLE_BYTES); // three bytes each
        let long_link = format!("https://e.example/{}", "a".repeat(MAX_URL_BYTES));
        let long_body = format!("<p>{}</p>", "文".repeat(MAX_HTML_BYTES));
        let authors: String = (0..100)
            .map(|i| format!("<category>{i}{}</category>", "c".repeat(2 * MAX_NAME_BYTES)))
            .collect();
        let item = format!(
            "<item><title>{long_title}</title><link>{long_link}</link><guid>g-1</guid>\
             <description><![CDATA[{long_body}]]></description>{authors}</item>"
        );
        let feed = parse_feed(&rss_items(&item), None, cst()).expect("parses");
        let i = &feed.items[0];
        let title = i.title.as_deref().expect("title");
        assert!(title.len() <= MAX_TITLE_BYTES && title.len() > MAX_TITLE_BYTES - 3);
        assert!(title.chars().all(|c| c == '陕'));
        assert_eq!(i.link, None, "an over-long link is dropped, not cut");
        assert_eq!(i.url, None);
        assert_eq!(i.key, "g:g-1");
        let summary = i.summary.as_deref().expect("summary");
        assert!(summary.len() <= MAX_HTML_BYTES && summary.starts_with("<p>文文"));
        assert_eq!(i.categories.len(), MAX_LIST);
        assert!(i.categories.iter().all(|c| c.term.len() == MAX_NAME_BYTES));
    }

    #[test]
    fn nul_and_control_characters_never_reach_an_item() {
        // Valid XML 1.1 escapes and raw controls, which feed-rs accepts or the repair removes.
        let item = "<item><title>a\u{0}b\u{1}c&#1;</title><link>https://e.example/x\u{0}y</link>\
                    <description>d\u{0}e\u{b}</description><author>x\u{0}y</author></item>";
        let feed = parse_feed(&rss_items(item), None, cst()).expect("parses");
        let i = &feed.items[0];
        for field in [&i.title, &i.link, &i.url, &i.summary] {
            let text = field.as_deref().expect("field kept");
            assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        }
        assert_eq!(i.title.as_deref(), Some("abc"));
    }

    #[test]
    fn entities_are_never_expanded_nor_fetched() {
        let secret = std::env::temp_dir().join(format!("feedfold-xxe-{}.txt", std::process::id()));
        std::fs::write(&secret, "TOP-SECRET-MARKER").expect("write");
        let mut dtd = String::from("<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", i - 1)
            };
            dtd.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        dtd.push_str(&format!(
            "<!ENTITY xxe SYSTEM \"file://{}\">\n<!ENTITY remote SYSTEM \"http://127.0.0.1:9/x\">\n]>\n",
            secret.display()
        ));
        let doc = format!(
            "{dtd}{}",
            rss_items(
                "<item><title>a &lol9; b &xxe;</title><link>https://e.example/1</link>\
                 <description>&lol9; &xxe; &remote;</description></item>"
            )
        );
        let feed = parse_feed(&doc, None, cst()).expect("parses");
        let i = &feed.items[0];
        let all = format!("{:?}", i);
        assert!(!all.contains("TOP-SECRET"), "{all}");
        assert!(!all.contains("lollol"), "{all}");
        assert!(all.len() < 2000, "nothing was expanded: {all}");
        // The references are removed, never left for a reader to expand.
        assert_eq!(i.title.as_deref(), Some("a b"));
        assert!(!all.contains("&lol") && !all.contains("&xxe"), "{all}");
        std::fs::remove_file(&secret).expect("remove");
    }

    #[test]
    fn a_billion_laughs_leaves_no_reference_in_any_field() {
        let mut dtd = String::from("<!DOCTYPE feed [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", i - 1)
            };
            dtd.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        dtd.push_str("]>\n");
        let rss = format!(
            "{dtd}<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>&lol9; feed</title>\
             <link>https://e.example/&lol9;</link><item><title>&lol9;t</title><link>https://e.example/1?a=&lol9;</link>\
             <guid>g&lol9;</guid><dc:creator>&lol9;Ann</dc:creator><category>&lol9;c</category>\
             <description>&lol9;d</description><enclosure url=\"https://e.example/&lol9;.mp3\" type=\"audio/mpeg\"/></item></channel></rss>"
        );
        let atom = format!(
            "{dtd}<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>&lol9;</title><entry><id>&lol9;x</id>\
             <title type=\"html\">&lol9;t</title><link href=\"https://e.example/&lol9;\"/>\
             <author><name>&lol9;A</name></author><summary>&lol9;s</summary><content type=\"html\">&lol9;c</content></entry></feed>"
        );
        for doc in [rss, atom] {
            let feed = parse_feed(&doc, None, cst()).expect("parses");
            let all = format!("{feed:?}");
            assert_eq!(feed.items.len(), 1, "{all}");
            assert!(!all.contains("&lol") && !all.contains("lollol"), "{all}");
        }
    }

    #[test]
    fn html_named_entities_are_decoded_in_rss_text() {
        let item = "<item><title>Caf&eacute;&nbsp;society &mdash; &ldquo;news&rdquo; &amp; more</title>\
                    <link>https://e.example/1</link><author>Ren&eacute;e</author>\
                    <description>&lt;p&gt;caf&eacute;&lt;/p&gt;</description></item>";
        let feed = parse_feed(&rss_items(item), None, cst()).expect("parses");
        let i = &feed.items[0];
        // A title is one line of text: the no-break space is a space there.
        assert_eq!(
            i.title.as_deref(),
            Some("Caf\u{e9} society \u{2014} \u{201c}news\u{201d} & more")
        );
        assert_eq!(i.summary.as_deref(), Some("<p>caf\u{e9}</p>"));
        // In CDATA, HTML is HTML: its entities are the HTML reader's.
        let cdata = "<item><title><![CDATA[Fish &amp; chips&nbsp;&copy;]]></title><link>https://e.example/2</link></item>";
        let feed = parse_feed(&rss_items(cdata), None, cst()).expect("parses");
        assert_eq!(feed.items[0].title.as_deref(), Some("Fish & chips \u{a9}"));
    }

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/formats")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Option<DateTime<Utc>> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single()
    }

    #[test]
    fn atom_03_is_read_as_atom_10() {
        let base = Url::parse("http://legacy.example/feed.atom").ok();
        let feed = parse_feed(&fixture("atom03.xml"), base.as_ref(), cst()).expect("parses");
        assert_eq!(feed.title.as_deref(), Some("Legacy <Atom> blog"));
        assert_eq!(feed.link.as_deref(), Some("http://legacy.example/blog/"));
        assert_eq!(feed.items.len(), 3);

        let first = &feed.items[0];
        assert_eq!(first.title.as_deref(), Some("First & escaped"));
        assert_eq!(
            first.link.as_deref(),
            Some("http://legacy.example/blog/posts/1.html")
        );
        assert_eq!(first.guid.as_deref(), Some("tag:legacy.example,2004:1"));
        assert_eq!(first.published, utc(2004, 4, 30, 12, 0), "issued, not created");
        assert_eq!(first.updated, utc(2004, 5, 1, 10, 0));
        assert_eq!(names(&first.authors), ["Ann Author"]);
        assert_eq!(first.summary.as_deref(), Some("A plain summary"));
        assert_eq!(first.content.as_deref(), Some("<p>Escaped <b>HTML</b> body</p>"));

        let second = &feed.items[1];
        assert_eq!(second.title.as_deref(), Some("Second, base64"));
        assert_eq!(
            second.link.as_deref(),
            Some("http://legacy.example/blog/posts/2.html")
        );
        assert_eq!(
            second.published,
            utc(2004, 4, 20, 9, 30),
            "created, with no issued"
        );
        assert_eq!(second.updated, utc(2004, 4, 21, 9, 30));
        assert_eq!(names(&second.authors), ["Bob Base"]);
        assert_eq!(
            second.content.as_deref(),
            Some("<p>Decoded <em>base64</em> body</p>")
        );

        let third = &feed.items[2];
        assert_eq!(third.title.as_deref(), Some("Third, inline XHTML"));
        assert_eq!(
            third.link.as_deref(),
            Some("http://legacy.example/blog/posts/3.html")
        );
        assert_eq!(third.published, utc(2004, 4, 10, 0, 0));
        assert_eq!(names(&third.authors), ["Xena Xhtml"]);
        assert_eq!(third.summary.as_deref(), Some("Summary with <b>naked</b> markup"));
        let content = third.content.as_deref().expect("content");
        assert!(
            content.starts_with("<p")
                && content.contains("Inline <a href=\"../other.html\">XHTML</a> paragraph</p>"),
            "{content}"
        );
    }

    #[test]
    fn atom_10_media_types_and_odd_cases_are_read() {
        let feed = parse_feed(&fixture("atom10_types.xml"), None, cst()).expect("parses");
        let titles: Vec<_> = feed.items.iter().map(|i| i.title.as_deref()).collect();
        assert_eq!(
            titles,
            [
                Some("XHTML media type"),
                Some("Upper-case type"),
                Some("Empty type"),
                Some("Binary attachment")
            ]
        );
        let links: Vec<_> = feed.items.iter().map(|i| i.link.as_deref()).collect();
        assert_eq!(
            links,
            ["1", "2", "3", "4"]
                .map(|n| Some(format!("https://typed.example/{n}")))
                .iter()
                .map(|l| l.as_deref())
                .collect::<Vec<_>>()
        );
        let [xhtml, octets, plain, binary] = &feed.items[..] else {
            panic!("four items")
        };
        assert_eq!(xhtml.updated, utc(2024, 3, 1, 10, 0));
        assert_eq!(names(&xhtml.authors), ["Mia Media"]);
        assert_eq!(xhtml.summary.as_deref(), Some("<p>HTML <i>media</i> type</p>"));
        assert_eq!(xhtml.content.as_deref(), Some("<p>XHTML content</p>"));
        assert_eq!(names(&octets.authors), ["Oscar Octet"]);
        assert_eq!(octets.summary.as_deref(), Some("<p>Summary in <b>base64</b></p>"));
        assert_eq!(octets.content.as_deref(), Some("<p>Content in <b>base64</b></p>"));
        assert_eq!(plain.summary.as_deref(), Some("Plain &lt;not markup&gt;"));
        assert_eq!(plain.content.as_deref(), Some("Plain content &lt;kept&gt;"));
        assert_eq!(binary.content, None, "binary data is no text to show");
    }

    #[test]
    fn every_rss_version_is_read() {
        let item = "<item><title>One</title><link>https://v.example/1</link><description>Body one</description>\
                    <pubDate>Mon, 04 Mar 2024 10:00:00 GMT</pubDate><author>ann@v.example (Ann)</author></item>";
        let channel = format!(
            "<channel><title>V</title><link>https://v.example/</link><description>d</description>{item}</channel>"
        );
        let rdf_item = "<item rdf:about=\"https://v.example/1\"><title>One</title><link>https://v.example/1</link>\
                        <description>Body one</description><dc:date>2024-03-04T10:00:00Z</dc:date><dc:creator>Ann</dc:creator></item>";
        let rdf = |ns: &str| {
            format!(
                "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns=\"{ns}\">\
                 <channel><title>V</title><link>https://v.example/</link><description>d</description></channel>{rdf_item}</rdf:RDF>"
            )
        };
        let docs = [
            ("0.90", rdf("http://my.netscape.com/rdf/simple/0.9/")),
            (
                "0.91",
                format!(
                    "<!DOCTYPE rss PUBLIC \"-//Netscape Communications//DTD RSS 0.91//EN\" \"http://my.netscape.com/publish/formats/rss-0.91.dtd\"><rss version=\"0.91\">{channel}</rss>"
                ),
            ),
            ("0.92", format!("<rss version=\"0.92\">{channel}</rss>")),
            ("0.94", format!("<rss version=\"0.94\">{channel}</rss>")),
            ("2.0", format!("<rss version=\"2.0\">{channel}</rss>")),
            ("none", format!("<rss>{channel}</rss>")),
            (
                "2.0 in a namespace",
                format!("<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\">{channel}</rss>"),
            ),
            ("1.0", rdf("http://purl.org/rss/1.0/")),
        ];
        for (version, doc) in docs {
            let feed = parse_feed(&doc, None, cst()).unwrap_or_else(|e| panic!("{version}: {e}"));
            assert_eq!(feed.title.as_deref(), Some("V"), "{version}");
            let [i] = &feed.items[..] else {
                panic!("{version}: {:?}", feed.items)
            };
            assert_eq!(i.title.as_deref(), Some("One"), "{version}");
            assert_eq!(i.link.as_deref(), Some("https://v.example/1"), "{version}");
            assert_eq!(i.summary.as_deref(), Some("Body one"), "{version}");
            assert_eq!(i.published, utc(2024, 3, 4, 10, 0), "{version}");
            assert!(
                !i.authors.is_empty() && i.authors[0].display().contains("Ann"),
                "{version}: {:?}",
                i.authors
            );
        }
    }

    #[test]
    fn an_rss_10_item_without_a_link_is_kept_by_its_rdf_about() {
        let doc = "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\">\
                   <channel rdf:about=\"https://r.example/\"><title>R</title><link>https://r.example/</link></channel>\
                   <item rdf:about=\"https://r.example/1\"><title>No link</title></item></rdf:RDF>";
        let feed = parse_feed(doc, None, cst()).expect("parses");
        let [i] = &feed.items[..] else {
            panic!("{:?}", feed.items)
        };
        assert_eq!(i.title.as_deref(), Some("No link"));
        assert_eq!(i.guid.as_deref(), Some("https://r.example/1"));
        assert_eq!(i.link.as_deref(), Some("https://r.example/1"));
    }

    #[test]
    fn an_rss_items_xhtml_body_is_its_content() {
        let feed = parse_feed(&fixture("rss_xhtml_body.xml"), None, cst()).expect("parses");
        let [prefixed, default] = &feed.items[..] else {
            panic!("{:?}", feed.items)
        };
        assert_eq!(prefixed.title.as_deref(), Some("Prefixed body"));
        assert_eq!(prefixed.link.as_deref(), Some("https://bodies.example/1"));
        assert_eq!(prefixed.published, utc(2024, 3, 5, 8, 0));
        assert_eq!(names(&prefixed.authors), ["Pat Prefix"]);
        assert_eq!(prefixed.summary.as_deref(), Some("Short one"));
        assert_eq!(
            prefixed.content.as_deref(),
            Some("<p>Prefixed <b>XHTML</b> body<br>with a break &amp; an ampersand</p>")
        );
        assert_eq!(default.title.as_deref(), Some("Default-namespace body"));
        assert_eq!(default.link.as_deref(), Some("https://bodies.example/2"));
        assert_eq!(default.published, utc(2024, 3, 6, 8, 0));
        assert!(
            default.authors[0].display().contains("Dee Default"),
            "{:?}",
            default.authors
        );
        assert_eq!(
            default.content.as_deref(),
            Some("<p>Default <a href=\"/x\" title=\"say &quot;hi&quot;\">namespace</a></p><div></div>")
        );
    }

    #[test]
    fn cdf_channels_are_read() {
        let feed = parse_feed(&fixture("cdf.xml"), None, cst()).expect("parses");
        assert_eq!(feed.title.as_deref(), Some("CDF channel"));
        assert_eq!(feed.link.as_deref(), Some("http://cdf.example/"));
        let [first, nested] = &feed.items[..] else {
            panic!("{:?}", feed.items)
        };
        assert_eq!(first.title.as_deref(), Some("First CDF item"));
        assert_eq!(first.link.as_deref(), Some("http://cdf.example/1.html"));
        assert_eq!(
            first.updated,
            utc(2004, 4, 7, 4, 5).map(|d| d + chrono::Duration::seconds(43))
        );
        assert_eq!(first.summary.as_deref(), Some("First abstract &amp; more"));
        assert_eq!(nested.title.as_deref(), Some("Nested item"));
        assert_eq!(nested.link.as_deref(), Some("http://cdf.example/sub/2.html"));
    }

    #[test]
    fn a_document_with_items_it_cannot_read_is_an_error_and_an_empty_channel_is_not() {
        let no_items = |doc: &str| match parse_feed(doc, None, cst()) {
            Err(ParseError::NoItems { root }) => root,
            other => panic!("{doc}: {other:?}"),
        };
        let unknown = "<feed xmlns=\"http://example.com/not-atom\"><title>t</title>\
                       <entry><title>a</title><id>1</id></entry></feed>";
        assert_eq!(
            no_items(unknown),
            "<feed> in namespace http://example.com/not-atom"
        );
        let unknown_empty = "<feed xmlns=\"http://example.com/not-atom\"><title>t</title></feed>";
        assert_eq!(
            no_items(unknown_empty),
            "<feed> in namespace http://example.com/not-atom"
        );
        // Items where RSS has none: outside the channel.
        assert_eq!(
            no_items(
                "<rss version=\"2.0\"><channel><title>t</title></channel><item><title>a</title></item></rss>"
            ),
            "<rss>, no namespace"
        );
        let message = ParseError::NoItems {
            root: no_items(unknown),
        }
        .to_string();
        assert!(
            message.starts_with("parse: the document has no items"),
            "{message}"
        );
        assert!(message.contains("not-atom"), "{message}");
        // An HTML page is no feed at all.
        let page = "<html><head><title>Home</title></head><body><p>Hello</p></body></html>";
        assert!(parse_feed(page, None, cst()).is_err());
        // An Atom 0.3 feed with entries is no longer read as empty.
        let atom03 = "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title>t</title>\
                      <entry><title>a</title><id>x</id><issued>2004-01-01T00:00:00Z</issued></entry></feed>";
        assert_eq!(parse_feed(atom03, None, cst()).expect("parses").items.len(), 1);
        // Empty feeds: new blogs, quiet channels.
        for empty in [
            "<rss version=\"2.0\"><channel><title>t</title><link>https://e.example/</link></channel></rss>",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed>",
            "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title>t</title></feed>",
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"><channel><title>t</title></channel></rdf:RDF>",
            "{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"t\",\"items\":[]}",
        ] {
            let feed = parse_feed(empty, None, cst()).unwrap_or_else(|e| panic!("{empty}: {e}"));
            assert!(feed.items.is_empty(), "{empty}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        on_worker_stack(|| {
            for n in [1_000, 10_000, 100_000] {
                let open = "<x>".repeat(n);
                let close = "</x>".repeat(n);
                let xml = rss_items(&format!(
                    "<item><title>a</title><link>https://e.example/1</link>{open}{close}</item>"
                ));
                // An error or the item, but an answer.
                if let Ok(feed) = parse_feed(&xml, None, cst()) {
                    assert!(feed.items.len() <= 1);
                }
                let unclosed = rss_items(&format!("<item><title>a</title>{open}"));
                let _ = parse_feed(&unclosed, None, cst());
                let atom = format!(
                    "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><entry><id>x</id><title>a</title>\
                     <content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{}{}</div></content></entry></feed>",
                    "<div>".repeat(n),
                    "</div>".repeat(n)
                );
                let _ = parse_feed(&atom, None, cst());
                let json = format!(
                    "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"t\",\"items\":[{{\"id\":\"1\",\"x\":{}{}}}]}}",
                    "[".repeat(n),
                    "]".repeat(n)
                );
                let _ = parse_feed(&json, None, cst());
            }
        });
    }

    #[test]
    fn deeply_nested_html_is_kept_as_text() {
        on_worker_stack(|| {
            let n = 100_000;
            let html = format!("{}deep text{}", "<div>".repeat(n), "</div>".repeat(n));
            let xml = rss_items(&format!(
                "<item><title>a</title><link>https://e.example/1</link><description><![CDATA[{html}]]></description>\
                 <content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><![CDATA[<p>shallow <b>bold</b></p>]]></content:encoded></item>"
            ));
            let started = std::time::Instant::now();
            let feed = parse_feed(&xml, None, cst()).expect("parses");
            let i = &feed.items[0];
            assert_eq!(i.summary.as_deref(), Some("<p>deep text</p>"));
            assert_eq!(i.content.as_deref(), Some("<p>shallow <b>bold</b></p>"));
            // What is stored is sanitised: that must be quick now.
            let clean = html::sanitize(i.summary.as_deref().unwrap_or(""), None);
            assert_eq!(clean, "<p>deep text</p>");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{:?}",
                started.elapsed()
            );
        });
    }

    #[test]
    fn only_http_links_and_enclosures_are_kept() {
        let rss = "<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><title>t</title>\
            <link>javascript:alert(1)</link>\
            <item><title>a</title><link> JaVaScRiPt:alert(1)</link>\
              <enclosure url=\"data:audio/mpeg;base64,AAAA\" length=\"4\" type=\"audio/mpeg\"/></item>\
            <item><title>b</title><link>story.html</link>\
              <media:content url=\"file:///etc/passwd\" type=\"text/plain\"/></item>\
            <item><title>c</title><link>https://e.example/c</link>\
              <enclosure url=\"https://e.example/c.mp3\" length=\"4\" type=\"audio/mpeg\"/></item>\
            </channel></rss>";
        let file = Url::parse("file:///srv/feeds/x.xml").ok();
        let feed = parse_feed(rss, file.as_ref(), cst()).expect("parses");
        assert_eq!(feed.link, None, "a javascript: home page is no base either");
        let links: Vec<_> = feed.items.iter().map(|i| i.link.as_deref()).collect();
        assert_eq!(links, [None, None, Some("https://e.example/c")]);
        // The link as written (as feed-rs gives it) is kept for `export`, but is no link.
        assert_eq!(feed.items[0].url.as_deref(), Some("javascript:alert(1)"));
        let enclosures: Vec<_> = feed.items.iter().map(|i| i.enclosures.len()).collect();
        assert_eq!(enclosures, [0, 0, 1]);
    }

    #[test]
    fn titles_given_as_text_keep_what_looks_like_a_tag() {
        let atom = |title: &str| {
            format!(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><entry><id>x</id>{title}</entry></feed>"
            )
        };
        let read = |doc: &str| {
            let i = parse_feed(doc, None, cst()).expect("parses").items.remove(0);
            (i.title, i.title_html)
        };
        assert_eq!(
            read(&atom(
                "<title type=\"text\">History of the &lt;blink&gt; tag</title>"
            )),
            (Some("History of the <blink> tag".into()), None)
        );
        assert_eq!(
            read(&atom(
                "<title type=\"html\">&lt;b&gt;Bold&lt;/b&gt; move &amp;amp; more</title>"
            )),
            (
                Some("Bold move & more".into()),
                Some("<b>Bold</b> move &amp; more".into())
            )
        );
        assert_eq!(
            read(&rss_items(
                "<item><title>AT&amp;amp;T &lt;b&gt;wins&lt;/b&gt;</title><link>https://e.example/1</link></item>"
            )),
            (Some("AT&T wins".into()), Some("AT&amp;T <b>wins</b>".into())),
            "RSS text that looks like HTML is HTML"
        );
        assert_eq!(
            read(&rss_items(
                "<item><title>I &lt;3 NY, a &lt; b</title><link>https://e.example/1</link></item>"
            )),
            (Some("I <3 NY, a < b".into()), None),
            "and text that does not is text"
        );
    }

    #[test]
    fn people_categories_and_extras_reach_the_item() {
        let rss = "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel><title>t</title>\
            <link>https://e.example/</link><language>zh-cn</language>\
            <item><title>a</title><link>https://e.example/a</link><author>li@example.com (Li Ming)</author>\
            <category domain=\"https://e.example/tags\">Local</category><comments>/a#c</comments>\
            <itunes:duration>12:00</itunes:duration><itunes:image href=\"javascript:alert(1)\"/></item></channel></rss>";
        let i = parse_feed(rss, None, cst()).expect("parses").items.remove(0);
        assert_eq!(
            i.authors,
            [Person {
                name: "Li Ming".into(),
                email: Some("li@example.com".into()),
                uri: None
            }]
        );
        assert_eq!(i.categories[0].scheme.as_deref(), Some("https://e.example/tags"));
        assert_eq!(i.language.as_deref(), Some("zh-cn"));
        assert_eq!(
            i.extras.comments.as_deref(),
            Some("https://e.example/a#c"),
            "resolved"
        );
        assert_eq!(i.extras.itunes.duration.as_deref(), Some("12:00"));
        assert_eq!(i.extras.itunes.image, None, "only http(s) URLs are kept");
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[
            {"id":"1","url":"https://e.example/1","title":"a","content_text":"x","language":"en-GB",
             "image":"https://e.example/1.jpg","authors":[{"name":"Ann","url":"https://ann.example/"}]}]}"#;
        let i = parse_feed(json, None, cst()).expect("parses").items.remove(0);
        assert_eq!(i.language.as_deref(), Some("en-GB"));
        assert_eq!(i.extras.image.as_deref(), Some("https://e.example/1.jpg"));
        assert_eq!(i.authors[0].uri.as_deref(), Some("https://ann.example/"));
    }

    #[test]
    fn item_without_guid_or_link_gets_a_stable_hash_key() {
        let item = Item {
            title: Some("t".into()),
            ..Item::default()
        };
        let k = item_key(&item);
        assert!(k.starts_with("h:"));
        assert_eq!(k, item_key(&item.clone()));
    }
}
