//! What feed-rs does not read: the per-entry fields of the common namespaces.
//!
//! In: the feed document as XML text (after any legacy normalisation). Out: one [`Scanned`] per
//! `<item>` / `<entry>`, in document order: its [`Extras`] (contributors, rights, license,
//! publisher, source feed, comments, other links, geo point, Media RSS thumbnails, iTunes
//! episode fields), its language (`xml:lang` in effect, `dc:language`) and its people's email
//! and home page where feed-rs loses them. URLs are as written; [`super::parse`] resolves them
//! against the entry's base and keeps only `http(s)`.
//!
//! One streaming pass with `quick-xml`, matching elements by namespace URI (not prefix), so a
//! feed that binds `media` to another prefix still reads. Entity references other than XML's
//! own and numeric ones are dropped, never expanded. A document this pass cannot read yields
//! nothing, and the entries keep what feed-rs read.

use quick_xml::XmlVersion;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::reader::NsReader;

use chrono::{DateTime, Utc};

use crate::html;
use crate::model::{Category, Extras, Generator, GeoPoint, Link, Person, SourceFeed, Thumbnail};

/// What the pass read of one entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Scanned {
    /// The fields feed-rs does not read. Text constructs given as HTML (rights, the source's
    /// title, subtitle and rights) hold unsanitised HTML here, for [`super::parse`] to
    /// sanitise against the entry's base.
    pub extras: Extras,
    /// `dc:language` / `dcterms:language`, else the `xml:lang` in effect on the entry.
    pub language: Option<String>,
    /// Authors as the entry gives them (name, email, uri), in order.
    pub authors: Vec<Person>,
    /// Categories feed-rs does not read (`dc:subject`, `media:category`).
    pub categories: Vec<Category>,
    /// Fields used only where feed-rs found none.
    pub fallback: Fallback,
}

/// What an entry says in other namespaces' words, used where its own element is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fallback {
    /// `dc:title`, `dcterms:title`, `media:title`: plain text.
    pub title: Option<String>,
    /// `dc:description`, `dcterms:description`, `media:description`: HTML.
    pub summary: Option<String>,
    /// `fullitem`: HTML.
    pub content: Option<String>,
    /// `dcterms:issued`, `dcterms:created`, `dc:date`: as written.
    pub published: Option<String>,
    /// `dcterms:modified`: as written.
    pub updated: Option<String>,
}

/// Namespaces read here, by URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    /// No namespace, RSS 0.9x/2.0, RSS 1.0.
    Rss,
    Atom,
    Dc,
    Dcterms,
    Itunes,
    Media,
    GeoRss,
    Gml,
    Geo,
    Wfw,
    Slash,
    Thread,
    CreativeCommons,
    Other,
}

fn ns_of(resolved: &ResolveResult) -> Ns {
    let uri = match resolved {
        ResolveResult::Bound(Namespace(uri)) => uri.to_ascii_lowercase(),
        ResolveResult::Unbound => return Ns::Rss,
        ResolveResult::Unknown(_) => return Ns::Other,
    };
    let uri = uri.trim_end_matches(['/', '#']);
    match uri {
        "http://purl.org/rss/1.0"
        | "http://my.netscape.com/rdf/simple/0.9"
        | "http://backend.userland.com/rss2" => Ns::Rss,
        "http://www.w3.org/2005/atom" | "http://purl.org/atom/ns" => Ns::Atom,
        "http://purl.org/dc/elements/1.1" => Ns::Dc,
        "http://purl.org/dc/terms" => Ns::Dcterms,
        "http://www.itunes.com/dtds/podcast-1.0.dtd" | "https://www.itunes.com/dtds/podcast-1.0.dtd" => {
            Ns::Itunes
        }
        "http://search.yahoo.com/mrss" | "http://video.search.yahoo.com/mrss" => Ns::Media,
        "http://www.georss.org/georss" => Ns::GeoRss,
        "http://www.opengis.net/gml" => Ns::Gml,
        "http://www.w3.org/2003/01/geo/wgs84_pos" => Ns::Geo,
        "http://wellformedweb.org/commentapi" => Ns::Wfw,
        "http://purl.org/rss/1.0/modules/slash" => Ns::Slash,
        "http://purl.org/syndication/thread/1.0" => Ns::Thread,
        "http://backend.userland.com/creativecommonsrssmodule"
        | "http://cyber.law.harvard.edu/rss/creativecommonsrssmodule.html"
        | "http://web.resource.org/cc"
        | "http://creativecommons.org/ns" => Ns::CreativeCommons,
        _ => Ns::Other,
    }
}

/// An element open inside an entry.
#[derive(Debug)]
struct Open {
    ns: Ns,
    name: String,
    /// Its `type` attribute (text constructs), lower case.
    kind: Option<String>,
    /// Where its content starts in the document.
    inner_start: usize,
}

/// Whose a person being read is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Author,
    Contributor,
    SourceAuthor,
    SourceContributor,
}

/// The entry being read.
#[derive(Debug, Default)]
struct Current {
    scanned: Scanned,
    /// Depth of the entry element in the document.
    depth: usize,
    /// The `xml:lang` in effect on the entry element.
    lang: Option<String>,
    /// Person being read (Atom `author` / `contributor`) and whose.
    person: Option<(Person, Role)>,
    /// Atom `source` being read, and the depth of its element.
    source: Option<(SourceFeed, usize)>,
    /// Text collected for the innermost element.
    text: String,
}

/// Reads the extras of every entry of `xml`, in document order. Empty when the document
/// cannot be read this way.
pub(crate) fn scan(xml: &str) -> Vec<Scanned> {
    scan_inner(xml).unwrap_or_default()
}

/// The same for a JSON Feed: each item's `language`, `image` (else `banner_image`) and
/// `external_url` (a related link), which feed-rs does not keep.
pub(crate) fn scan_json(json: &str) -> Vec<Scanned> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let text = |v: &serde_json::Value, key: &str| v.get(key).and_then(|x| x.as_str()).and_then(non_empty);
    let Some(items) = doc.get("items").and_then(|i| i.as_array()) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let mut extras = Extras {
                image: text(item, "image").or_else(|| text(item, "banner_image")),
                ..Extras::default()
            };
            if let Some(href) = text(item, "external_url") {
                extras.links.push(Link {
                    href,
                    rel: "related".to_string(),
                    ..Link::default()
                });
            }
            Scanned {
                extras,
                language: text(item, "language"),
                ..Scanned::default()
            }
        })
        .collect()
}

/// Whether an RSS document may hold anything [`scan`] reads and feed-rs does not: an
/// `xml:lang`, a start tag named like an element read here (`author`, `source`, `comments` …),
/// or a prefixed one other than the few feed-rs reads itself (`content:encoded`,
/// `dc:creator`, `atom:link`). One pass over the `<` of the text (memchr), so the many feeds
/// that carry nothing more (title, link, text, `dc:creator`, categories, enclosures) are not
/// read twice. A tag inside CDATA may ask for a scan that finds nothing, which costs time only.
pub(crate) fn worth_scanning(xml: &str) -> bool {
    const NAMES: &[&[u8]] = &[
        b"author",
        b"body",
        b"contributor",
        b"rights",
        b"source",
        b"comments",
        b"license",
        b"publisher",
        b"fullitem",
        b"copyright",
    ];
    const READ_BY_FEED_RS: &[&[u8]] = &[b"content:encoded", b"dc:creator", b"atom:link"];
    let bytes = xml.as_bytes();
    if memchr::memmem::find(bytes, b"xml:lang").is_some() {
        return true;
    }
    for at in memchr::memchr_iter(b'<', bytes) {
        let rest = &bytes[at + 1..];
        let end = rest
            .iter()
            .take(64)
            .position(|b| matches!(b, b' ' | b'>' | b'/' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(rest.len().min(64));
        let name = &rest[..end];
        let Some(&first) = name.first() else { continue };
        if !first.is_ascii_alphabetic() {
            continue; // an end tag, a comment, CDATA, a declaration
        }
        let worth = if name.contains(&b':') {
            !READ_BY_FEED_RS.contains(&name)
        } else {
            NAMES.contains(&name)
        };
        if worth {
            return true;
        }
    }
    false
}

fn scan_inner(xml: &str) -> Option<Vec<Scanned>> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().expand_empty_elements = true;
    let mut out = Vec::new();
    let mut langs: Vec<Option<String>> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut current: Option<Current> = None;
    loop {
        let (resolved, event) = reader.read_resolved_event().ok()?;
        let ns = ns_of(&resolved);
        let position = usize::try_from(reader.buffer_position()).ok()?;
        match event {
            Event::Start(e) => {
                let name = local(&e);
                let inherited = langs.last().cloned().flatten();
                let lang = attr(&e, "xml:lang").map(|l| l.trim().to_string()).or(inherited);
                langs.push(lang.clone());
                let is_entry = matches!((ns, name.as_str()), (Ns::Rss, "item") | (Ns::Atom, "entry"));
                if current.is_none() && is_entry {
                    current = Some(Current {
                        depth: langs.len(),
                        lang,
                        ..Current::default()
                    });
                    stack.clear();
                    continue;
                }
                if let Some(cur) = current.as_mut() {
                    cur.text.clear();
                    start(cur, ns, &name, &e, langs.len());
                    stack.push(Open {
                        ns,
                        name,
                        kind: attr(&e, "type").map(|t| t.trim().to_ascii_lowercase()),
                        inner_start: position,
                    });
                }
            }
            Event::End(_) => {
                let depth = langs.len();
                langs.pop();
                let Some(cur) = current.as_mut() else { continue };
                if depth == cur.depth {
                    let mut done = current.take().unwrap_or_default();
                    if done.scanned.language.is_none() {
                        done.scanned.language = done.lang.filter(|l| !l.is_empty());
                    }
                    out.push(done.scanned);
                    continue;
                }
                if let Some(open) = stack.pop() {
                    let text = std::mem::take(&mut cur.text);
                    let inner_end = xml[..position].rfind("</").unwrap_or(open.inner_start);
                    let raw = xml.get(open.inner_start..inner_end).unwrap_or("");
                    end(cur, &open, text.trim(), raw, depth);
                }
            }
            Event::Text(t) => {
                if let Some(cur) = current.as_mut() {
                    cur.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(cur) = current.as_mut() {
                    cur.text.push_str(&c);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(cur) = current.as_mut() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        cur.text.push(c);
                    } else {
                        match &*r.xml10_content() {
                            "amp" => cur.text.push('&'),
                            "lt" => cur.text.push('<'),
                            "gt" => cur.text.push('>'),
                            "quot" => cur.text.push('"'),
                            "apos" => cur.text.push('\''),
                            _ => {}
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Some(out)
}

fn local(e: &BytesStart) -> String {
    e.local_name().as_ref().to_string()
}

fn attr(e: &BytesStart, key: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key || a.key.local_name().as_ref() == key)
        .and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// An Atom text construct: its plain text, and its (unsanitised) HTML when it is HTML or
/// XHTML with markup. `text` is the element's decoded text, `raw` its content as written.
fn text_construct(kind: Option<&str>, text: &str, raw: &str) -> (Option<String>, Option<String>) {
    let html = match kind {
        Some("html" | "text/html") => Some(text.to_string()),
        Some("xhtml" | "application/xhtml+xml") => Some(unwrap_div(raw.trim()).to_string()),
        _ => None,
    };
    match html {
        Some(html) => {
            let plain = non_empty(&html::one_line(&html::to_text(&html)));
            let markup = html.contains('<').then(|| html.trim().to_string());
            (plain, markup)
        }
        None => (non_empty(&html::one_line(text)), None),
    }
}

/// XHTML content without the `<div>` that wraps it.
fn unwrap_div(raw: &str) -> &str {
    let Some(rest) = raw
        .strip_prefix("<div")
        .filter(|r| r.starts_with([' ', '>', '\n', '\t', '\r']))
    else {
        return raw;
    };
    match (rest.find('>'), rest.strip_suffix("</div>")) {
        (Some(gt), Some(_)) if gt < rest.len() - "</div>".len() => &rest[gt + 1..rest.len() - "</div>".len()],
        _ => raw,
    }
}

fn link_of(e: &BytesStart, href: String, rel: String) -> Link {
    Link {
        href,
        rel,
        mime: attr(e, "type"),
        title: attr(e, "title"),
        hreflang: attr(e, "hreflang"),
        length: attr(e, "length").and_then(|l| l.trim().parse().ok()),
    }
}

fn category_of(e: &BytesStart, term: Option<String>) -> Option<Category> {
    let term = term.or_else(|| attr(e, "term")).and_then(|t| non_empty(&t))?;
    Some(Category {
        term,
        scheme: attr(e, "scheme")
            .or_else(|| attr(e, "domain"))
            .and_then(|s| non_empty(&s)),
        label: attr(e, "label").and_then(|l| non_empty(&l)),
    })
}

/// An element opens inside the entry: what its attributes say.
fn start(cur: &mut Current, ns: Ns, name: &str, e: &BytesStart, depth: usize) {
    if let Some((src, source_depth)) = cur.source.as_mut() {
        if depth != *source_depth + 1 || ns != Ns::Atom {
            return;
        }
        match name {
            "author" | "contributor" => {
                let role = if name == "author" {
                    Role::SourceAuthor
                } else {
                    Role::SourceContributor
                };
                cur.person = Some((Person::default(), role));
            }
            "link" => {
                let Some(href) = attr(e, "href") else { return };
                let rel = attr(e, "rel").unwrap_or_else(|| "alternate".to_string());
                match rel.as_str() {
                    "self" if src.feed_url.is_none() => src.feed_url = Some(href),
                    "alternate" if src.link.is_none() => src.link = Some(href),
                    _ => src.links.push(link_of(e, href, rel)),
                }
            }
            "category" => src.categories.extend(category_of(e, None)),
            "generator" => {
                src.generator = Some(Generator {
                    uri: attr(e, "uri").or_else(|| attr(e, "url")),
                    version: attr(e, "version"),
                    ..Generator::default()
                })
            }
            _ => {}
        }
        return;
    }
    let x = &mut cur.scanned.extras;
    match (ns, name) {
        (Ns::Atom, "source") => cur.source = Some((SourceFeed::default(), depth)),
        (Ns::Atom, "author" | "contributor") => {
            let role = if name == "author" {
                Role::Author
            } else {
                Role::Contributor
            };
            cur.person = Some((Person::default(), role));
        }
        (Ns::Atom, "link") => {
            let rel = attr(e, "rel").unwrap_or_else(|| "alternate".to_string());
            let Some(href) = attr(e, "href") else { return };
            let mime = attr(e, "type");
            match rel.as_str() {
                "alternate" | "enclosure" => {}
                "license" if x.license.is_none() => x.license = Some(href),
                "replies" if x.comments.is_none() && mime.as_deref().is_none_or(|m| m.contains("html")) => {
                    x.comments = Some(href);
                    if let Some(n) = attr(e, "thr:count").and_then(|c| c.trim().parse().ok()) {
                        x.comment_count = Some(n);
                    }
                }
                _ => x.links.push(link_of(e, href, rel)),
            }
        }
        (Ns::Rss, "source") => {
            x.source = Some(SourceFeed {
                feed_url: attr(e, "url"),
                ..SourceFeed::default()
            });
        }
        (Ns::CreativeCommons, "license") => {
            if let Some(url) = attr(e, "rdf:resource") {
                x.license = Some(url);
            }
        }
        (Ns::Media, "thumbnail") => {
            if let Some(url) = attr(e, "url") {
                x.thumbnails.push(Thumbnail {
                    url,
                    width: attr(e, "width").and_then(|w| w.trim().parse().ok()),
                    height: attr(e, "height").and_then(|h| h.trim().parse().ok()),
                });
            }
        }
        (Ns::Itunes, "image") => {
            if let Some(href) = attr(e, "href") {
                x.itunes.image = Some(href);
            }
        }
        _ => {}
    }
}

/// An element closes inside the entry: what its text says. `raw` is its content as written.
fn end(cur: &mut Current, open: &Open, text: &str, raw: &str, depth: usize) {
    let value = non_empty(text);
    if let Some((person, role)) = cur.person.as_mut() {
        match (open.ns, open.name.as_str()) {
            (Ns::Atom, "name") => person.name = value.unwrap_or_default(),
            (Ns::Atom, "email") => person.email = value,
            (Ns::Atom, "uri" | "url" | "homepage") => person.uri = value,
            (Ns::Atom, "author" | "contributor") => {
                let person = std::mem::take(person);
                let role = *role;
                cur.person = None;
                if person == Person::default() {
                    return;
                }
                let list = match (role, cur.source.as_mut()) {
                    (Role::Author, _) => &mut cur.scanned.authors,
                    (Role::Contributor, _) => &mut cur.scanned.extras.contributors,
                    (Role::SourceAuthor, Some((src, _))) => &mut src.authors,
                    (Role::SourceContributor, Some((src, _))) => &mut src.contributors,
                    (_, None) => return,
                };
                list.push(person);
            }
            _ => {}
        }
        return;
    }
    if let Some((src, source_depth)) = cur.source.as_mut() {
        if depth == *source_depth {
            let done = cur.source.take().map(|(s, _)| s);
            cur.scanned.extras.source = done.filter(|s| s != &SourceFeed::default());
            return;
        }
        if depth == *source_depth + 1 && open.ns == Ns::Atom {
            let construct = || text_construct(open.kind.as_deref(), text, raw);
            match open.name.as_str() {
                "title" => (src.title, src.title_html) = construct(),
                "subtitle" | "tagline" => (src.subtitle, src.subtitle_html) = construct(),
                "rights" | "copyright" => (src.rights, src.rights_html) = construct(),
                "id" => src.id = value,
                "updated" | "modified" => {
                    src.updated = value
                        .as_deref()
                        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                        .map(|d| d.with_timezone(&Utc))
                }
                "icon" => src.icon = value,
                "logo" => src.logo = value,
                "generator" => {
                    if let Some(g) = src.generator.as_mut() {
                        g.name = value.unwrap_or_default();
                    }
                }
                _ => {}
            }
        }
        return;
    }
    let scanned = &mut cur.scanned;
    let x = &mut scanned.extras;
    if (open.ns, open.name.as_str()) == (Ns::Atom, "rights") {
        (x.rights, x.rights_html) = text_construct(open.kind.as_deref(), text, raw);
        return;
    }
    if (open.ns, open.name.as_str()) == (Ns::Rss, "body") {
        // An RSS item's `<body>` outside the XHTML namespace (in it, the legacy pass made it
        // `content:encoded`): its markup as written.
        scanned.fallback.content = non_empty(raw);
        return;
    }
    let Some(value) = value else { return };
    let fallback = &mut scanned.fallback;
    match (open.ns, open.name.as_str()) {
        (Ns::Rss, "author") | (Ns::Dc | Ns::Dcterms, "creator" | "author") => {
            scanned.authors.push(rss_person(&value))
        }
        (Ns::Dc | Ns::Dcterms, "contributor") => x.contributors.push(rss_person(&value)),
        (Ns::Dc | Ns::Dcterms, "language") => scanned.language = Some(value),
        (Ns::Dc | Ns::Dcterms, "rights") | (Ns::Rss, "copyright") => {
            x.rights = x.rights.take().or(Some(value))
        }
        (Ns::Dc | Ns::Dcterms, "publisher") => x.publisher = Some(value),
        (Ns::Dc | Ns::Dcterms, "subject") => scanned.categories.push(Category::term(value)),
        (Ns::Media, "category") => scanned.categories.push(Category {
            term: value,
            scheme: None,
            label: None,
        }),
        (Ns::Dc | Ns::Dcterms | Ns::Media, "title") => fallback.title = fallback.title.take().or(Some(value)),
        (Ns::Dc | Ns::Dcterms | Ns::Media, "description") => {
            fallback.summary = fallback.summary.take().or(Some(value))
        }
        (Ns::Rss, "fullitem") => fallback.content = Some(value),
        (Ns::Dc, "date") | (Ns::Dcterms, "issued" | "created" | "date") => {
            fallback.published = fallback.published.take().or(Some(value))
        }
        (Ns::Dcterms, "modified") => fallback.updated = Some(value),
        (Ns::Rss, "source") => {
            if let Some(src) = x.source.as_mut() {
                src.title = Some(value);
            }
        }
        (Ns::Rss, "comments") => x.comments = Some(value),
        (Ns::Wfw, name) if name.eq_ignore_ascii_case("commentrss") => x.comments_feed = Some(value),
        (Ns::Slash, "comments") | (Ns::Thread, "total") => x.comment_count = value.parse().ok(),
        (Ns::CreativeCommons, "license") => x.license = Some(value),
        (Ns::GeoRss, "point") | (Ns::Gml, "pos") => x.geo = point(&value).or(x.geo),
        (Ns::Geo, "lat") => {
            let lat = value.parse().ok();
            x.geo = lat.map(|lat| GeoPoint {
                lat,
                lon: x.geo.map_or(0.0, |g| g.lon),
            });
        }
        (Ns::Geo, "long" | "lon") => {
            if let (Some(g), Ok(lon)) = (x.geo.as_mut(), value.parse()) {
                g.lon = lon;
            }
        }
        (Ns::Itunes, field) => {
            let it = &mut x.itunes;
            match field {
                "author" => it.author = Some(value),
                "duration" => it.duration = Some(value),
                "explicit" => {
                    it.explicit = match value.to_ascii_lowercase().as_str() {
                        "yes" | "true" | "explicit" => Some(true),
                        "no" | "false" | "clean" => Some(false),
                        _ => None,
                    }
                }
                "episode" => it.episode = Some(value),
                "season" => it.season = Some(value),
                "episodeType" | "episodetype" => it.episode_type = Some(value),
                "subtitle" => it.subtitle = Some(value),
                "summary" => it.summary = Some(value),
                "keywords" => it.keywords = value.split(',').filter_map(non_empty).collect(),
                "block" => it.block = value.eq_ignore_ascii_case("yes") || value == "true",
                _ => {}
            }
        }
        _ => {}
    }
}

/// A GeoRSS / GML point: "lat lon" (spaces or commas between).
fn point(text: &str) -> Option<GeoPoint> {
    let mut parts = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .map(str::parse::<f64>);
    let lat = parts.next()?.ok()?;
    let lon = parts.next()?.ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some(GeoPoint { lat, lon })
}

/// An RSS `author` / `dc:creator`: `email (Name)`, `Name <email>`, a bare email or a name.
pub(crate) fn rss_person(text: &str) -> Person {
    let text = text.trim();
    let is_email = |s: &str| {
        let s = s.trim().trim_start_matches("mailto:");
        s.contains('@') && !s.contains(char::is_whitespace)
    };
    if let Some((email, rest)) = text.split_once('(')
        && is_email(email)
        && let Some(name) = rest.strip_suffix(')')
    {
        return Person {
            name: name.trim().to_string(),
            email: Some(email.trim().trim_start_matches("mailto:").to_string()),
            uri: None,
        };
    }
    if let Some((name, rest)) = text.split_once('<')
        && let Some(email) = rest.strip_suffix('>')
        && is_email(email)
    {
        return Person {
            name: name.trim().to_string(),
            email: Some(email.trim().to_string()),
            uri: None,
        };
    }
    if is_email(text) {
        return Person {
            name: String::new(),
            email: Some(text.trim_start_matches("mailto:").to_string()),
            uri: None,
        };
    }
    Person::named(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_opens_only_for_what_the_pass_reads() {
        let rss = |item: &str| {
            format!(
                "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>t</title>\
                 <item><title>a</title><dc:creator>x</dc:creator><category>c</category>\
                 <description><![CDATA[<p>text <a href=\"x\">y</a></p>]]></description>{item}</item></channel></rss>"
            )
        };
        assert!(!worth_scanning(&rss("")));
        assert!(!worth_scanning(&rss("<content:encoded>x</content:encoded>")));
        for more in [
            "<author>a@b.example (A)</author>",
            "<source url=\"https://s.example/\">S</source>",
            "<comments>https://e.example/c</comments>",
            "<itunes:duration>1:00</itunes:duration>",
            "<dc:subject>s</dc:subject>",
            "<title xml:lang=\"en\">t</title>",
        ] {
            assert!(worth_scanning(&rss(more)), "{more}");
        }
    }

    #[test]
    fn rss_people_in_their_common_forms() {
        let p = rss_person("me@example.com (Me Myself)");
        assert_eq!(
            (p.name.as_str(), p.email.as_deref()),
            ("Me Myself", Some("me@example.com"))
        );
        let p = rss_person("Me Myself <me@example.com>");
        assert_eq!(
            (p.name.as_str(), p.email.as_deref()),
            ("Me Myself", Some("me@example.com"))
        );
        let p = rss_person("me@example.com");
        assert_eq!(
            (p.name.as_str(), p.email.as_deref()),
            ("", Some("me@example.com"))
        );
        assert_eq!(rss_person("李明 (记者)"), Person::named("李明 (记者)"));
    }

    #[test]
    fn namespaced_fields_of_each_entry() {
        let xml = r#"<rss version="2.0" xmlns:it="http://www.itunes.com/dtds/podcast-1.0.dtd"
            xmlns:m="http://search.yahoo.com/mrss/" xmlns:georss="http://www.georss.org/georss"
            xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wfw="http://wellformedweb.org/CommentAPI/"
            xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
            xmlns:creativeCommons="http://backend.userland.com/creativeCommonsRssModule">
          <channel xml:lang="zh-CN"><title>t</title>
          <item><title>a</title><author>li@example.com (Li Ming)</author>
            <dc:language>en</dc:language><dc:rights>© 2024 E</dc:rights><dc:publisher>E Press</dc:publisher>
            <dc:contributor>Wang Fang</dc:contributor>
            <source url="https://origin.example/feed.xml">Origin &amp; Co</source>
            <comments>https://e.example/a#comments</comments><wfw:commentRss>https://e.example/a/feed</wfw:commentRss>
            <slash:comments>12</slash:comments>
            <creativeCommons:license>http://creativecommons.org/licenses/by/4.0/</creativeCommons:license>
            <georss:point>34.26 108.94</georss:point>
            <m:thumbnail url="https://e.example/a.jpg" width="120" height="90"/>
            <it:duration>1:02:03</it:duration><it:explicit>no</it:explicit><it:episode>7</it:episode>
            <it:season>2</it:season><it:episodeType>full</it:episodeType><it:subtitle>Sub</it:subtitle>
            <it:image href="https://e.example/ep.jpg"/><it:keywords>a, b ,c</it:keywords><it:block>yes</it:block>
          </item>
          <item><title>b</title></item>
          </channel></rss>"#;
        let s = scan(xml);
        assert_eq!(s.len(), 2);
        let x = &s[0].extras;
        assert_eq!(s[0].language.as_deref(), Some("en"));
        assert_eq!(s[1].language.as_deref(), Some("zh-CN"), "xml:lang inherited");
        assert_eq!(s[0].authors[0].email.as_deref(), Some("li@example.com"));
        assert_eq!(x.rights.as_deref(), Some("© 2024 E"));
        assert_eq!(x.publisher.as_deref(), Some("E Press"));
        assert_eq!(x.contributors, [Person::named("Wang Fang")]);
        let src = x.source.as_ref().expect("source");
        assert_eq!(src.title.as_deref(), Some("Origin & Co"));
        assert_eq!(src.feed_url.as_deref(), Some("https://origin.example/feed.xml"));
        assert_eq!(x.comments.as_deref(), Some("https://e.example/a#comments"));
        assert_eq!(x.comments_feed.as_deref(), Some("https://e.example/a/feed"));
        assert_eq!(x.comment_count, Some(12));
        assert_eq!(
            x.license.as_deref(),
            Some("http://creativecommons.org/licenses/by/4.0/")
        );
        assert_eq!(
            x.geo,
            Some(GeoPoint {
                lat: 34.26,
                lon: 108.94
            })
        );
        assert_eq!(x.thumbnails[0].width, Some(120));
        let it = &x.itunes;
        assert_eq!(it.duration.as_deref(), Some("1:02:03"));
        assert_eq!(it.explicit, Some(false));
        assert_eq!(
            (it.episode.as_deref(), it.season.as_deref()),
            (Some("7"), Some("2"))
        );
        assert_eq!(it.image.as_deref(), Some("https://e.example/ep.jpg"));
        assert_eq!(it.keywords, ["a", "b", "c"]);
        assert!(it.block);
        assert!(s[1].extras.is_empty());
    }

    #[test]
    fn atom_people_source_and_links() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0" xml:lang="en">
          <title>t</title>
          <entry xml:lang="fr"><id>x</id><title>a</title>
            <author><name>Ann</name><email>ann@example.com</email><uri>https://ann.example/</uri></author>
            <contributor><name>Bob</name></contributor>
            <rights>CC BY</rights>
            <link rel="related" href="https://r.example/" title="R" hreflang="de"/>
            <link rel="replies" type="text/html" href="https://e.example/x#c" thr:count="3"/>
            <link rel="license" href="https://creativecommons.org/licenses/by/4.0/"/>
            <source><id>urn:s</id><title>Origin</title><link href="https://origin.example/"/>
              <link rel="self" href="https://origin.example/feed"/><author><name>Not the entry's</name></author></source>
          </entry></feed>"#;
        let s = scan(xml);
        assert_eq!(s.len(), 1);
        let e = &s[0];
        assert_eq!(e.language.as_deref(), Some("fr"));
        assert_eq!(
            e.authors.len(),
            1,
            "the source's author is not the entry's: {:?}",
            e.authors
        );
        assert_eq!(e.authors[0].uri.as_deref(), Some("https://ann.example/"));
        assert_eq!(e.extras.contributors, [Person::named("Bob")]);
        assert_eq!(e.extras.rights.as_deref(), Some("CC BY"));
        assert_eq!(e.extras.links[0].hreflang.as_deref(), Some("de"));
        assert_eq!(e.extras.comments.as_deref(), Some("https://e.example/x#c"));
        assert_eq!(e.extras.comment_count, Some(3));
        assert_eq!(
            e.extras.license.as_deref(),
            Some("https://creativecommons.org/licenses/by/4.0/")
        );
        let src = e.extras.source.as_ref().expect("source");
        assert_eq!(src.title.as_deref(), Some("Origin"));
        assert_eq!(src.feed_url.as_deref(), Some("https://origin.example/feed"));
        assert_eq!(src.id.as_deref(), Some("urn:s"));
    }

    #[test]
    fn a_source_keeps_its_metadata_and_typed_text() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
          <entry><id>x</id><title>a</title><rights type="html">&lt;b&gt;CC&lt;/b&gt; BY</rights>
            <source><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Origin <b>Blog</b></div></title>
              <subtitle>Notes &lt;and&gt; more</subtitle><rights>All rights</rights>
              <author><name>Sam</name><email>sam@origin.example</email></author>
              <category term="c" scheme="https://s.example/"/><generator uri="https://gen.example/" version="2">Gen</generator>
              <icon>https://origin.example/i.ico</icon><logo>https://origin.example/l.png</logo>
              <link rel="related" href="https://origin.example/r" length="42"/>
              <updated>2023-11-20T00:00:00Z</updated></source>
          </entry></feed>"#;
        let e = &scan(xml)[0];
        assert_eq!(e.extras.rights.as_deref(), Some("CC BY"));
        assert_eq!(e.extras.rights_html.as_deref(), Some("<b>CC</b> BY"));
        let src = e.extras.source.as_ref().expect("source");
        assert_eq!(src.title.as_deref(), Some("Origin Blog"));
        assert!(
            src.title_html
                .as_deref()
                .is_some_and(|h| h.contains("<b>Blog</b>")),
            "{src:?}"
        );
        assert_eq!(src.subtitle.as_deref(), Some("Notes <and> more"));
        assert_eq!(src.subtitle_html, None, "text stays text");
        assert_eq!(src.rights.as_deref(), Some("All rights"));
        assert_eq!(src.authors[0].email.as_deref(), Some("sam@origin.example"));
        assert!(e.authors.is_empty(), "the source's author is not the entry's");
        assert_eq!(src.categories[0].scheme.as_deref(), Some("https://s.example/"));
        let g = src.generator.as_ref().expect("generator");
        assert_eq!((g.name.as_str(), g.version.as_deref()), ("Gen", Some("2")));
        assert_eq!(src.icon.as_deref(), Some("https://origin.example/i.ico"));
        assert_eq!(src.links[0].length, Some(42));
        assert!(src.updated.is_some());
    }

    #[test]
    fn other_vocabularies_fill_in_for_missing_fields() {
        let xml = r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"
            xmlns:dcterms="http://purl.org/dc/terms/" xmlns:media="http://search.yahoo.com/mrss/"><channel>
          <item><dc:title>Dc title</dc:title><dc:description>Dc text</dc:description>
            <dc:subject>Topic</dc:subject><media:category>Other</media:category>
            <dcterms:issued>2003-12-31T10:14:55Z</dcterms:issued><dcterms:modified>2004-01-01T00:00:00Z</dcterms:modified>
            <dc:author>Ed Itor</dc:author><fullitem>&lt;p&gt;Full&lt;/p&gt;</fullitem></item></channel></rss>"#;
        let e = &scan(xml)[0];
        assert_eq!(e.fallback.title.as_deref(), Some("Dc title"));
        assert_eq!(e.fallback.summary.as_deref(), Some("Dc text"));
        assert_eq!(e.fallback.content.as_deref(), Some("<p>Full</p>"));
        assert_eq!(e.fallback.published.as_deref(), Some("2003-12-31T10:14:55Z"));
        assert_eq!(e.fallback.updated.as_deref(), Some("2004-01-01T00:00:00Z"));
        let terms: Vec<_> = e.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(terms, ["Topic", "Other"]);
        assert_eq!(e.authors, [Person::named("Ed Itor")]);
    }

    #[test]
    fn undefined_entities_are_dropped_and_bad_documents_yield_nothing() {
        let xml = "<rss><channel><item><dc:rights xmlns:dc=\"http://purl.org/dc/elements/1.1/\">a &lol9; b &amp; &#20013;</dc:rights></item></channel></rss>";
        assert_eq!(scan(xml)[0].extras.rights.as_deref(), Some("a  b & 中"));
        assert!(scan("<rss><channel><item><title>a</b></item>").is_empty());
    }
}
