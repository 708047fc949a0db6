//! Legacy and irregular feed forms, rewritten into documents feed-rs reads.
//!
//! In: decoded feed text (UTF-8, the XML declaration removed by [`decode`](super::decode)).
//! Out: the same document rewritten, or `None` when there is nothing to rewrite (the text is
//! then parsed as it is). What is rewritten:
//!
//! - **entity references** other than XML's five and character references: an HTML named
//!   entity (`&nbsp;`, `&eacute;`, `&mdash;` ...) becomes its character references
//!   (`&#160;`); any other reference (`&lol9;`, `&xxe;`: DTD entities, which are never expanded,
//!   or undefined ones) is removed. CDATA sections, comments and the DTD are left as written
//!   (HTML in CDATA is HTML, decoded when it is read as HTML);
//! - **Atom 0.3** (`http://purl.org/atom/ns#`, or `version="0.3"`): the namespace becomes Atom
//!   1.0's; `issued` → `published` (`created` too when there is no `issued`), `modified` →
//!   `updated`, `tagline` → `subtitle`, `copyright` → `rights`, an author's `url` → `uri`,
//!   `info` dropped; text constructs' `mode`: `escaped` → `type="html"` (or `"text"` for a
//!   `text/plain` type), `base64` → the decoded text, `xml` (inline markup) → `type="xhtml"` in
//!   a `<div xmlns="http://www.w3.org/1999/xhtml">`, so that a publisher's own `<div>` is kept,
//!   as feedparser keeps it;
//! - **Atom text constructs** (`title`, `subtitle`, `rights`, `summary`, `content` without
//!   `src`) whose `type` is a media type or in another case (`text/plain`, `text/html`,
//!   `application/xhtml+xml`, `TEXT`, `""`): `text`, `html` or `xhtml`; a non-text media type
//!   (`application/octet-stream` ...) holds base64: decoded, and kept as HTML when it is text
//!   (it is sanitised like any HTML when stored), dropped when it is binary. A `link` with no
//!   `href` but a text gets the text as its `href`;
//! - **RSS** whose `version` is missing or unknown (`0.93`, `2.0.1`): `version="2.0"` (RSS 0.9x
//!   and 2.0 are read alike); RSS in a namespace (`<rss xmlns="http://backend.userland.com/rss2">`):
//!   the namespace dropped; an item's XHTML body (`<xhtml:body>`, `<body
//!   xmlns="http://www.w3.org/1999/xhtml">`) → `content:encoded` holding its inner markup as
//!   HTML;
//! - **RSS 0.90** (`http://my.netscape.com/rdf/simple/0.9/`) → the RSS 1.0 namespace; an RSS
//!   1.0 item with no `link` gets its `rdf:about` as its link (feed-rs drops an item without
//!   one);
//! - **CDF** (Microsoft's Channel Definition Format, `<CHANNEL><ITEM HREF=..>`): an Atom 1.0
//!   feed of its items' `TITLE`, `ABSTRACT`, `HREF` and `LASTMOD`.
//!
//! Cost: for an ordinary feed [`prepare`] scans the text for `&` and looks at the root start
//! tag; the quick-xml rewrite runs only when the root says so (Atom 0.3, RSS without a version
//! or in a namespace, an XHTML body, RSS 0.90, CDF), or, through [`rewrite`], after feed-rs
//! refused a document, read no entry from it or handed back content it could not decode
//! ([`undecoded`]). A document the rewrite cannot read (not well-formed) is left as it is, for
//! feed-rs and the repair.
//!
//! [`unread_items`] says when a document of which nothing was read is a failure rather than an
//! empty feed (see the [`parse`](super::parse) module documentation).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::LazyLock;

use feed_rs::model::Feed;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::{QName, ResolveResult};
use quick_xml::reader::NsReader;
use quick_xml::writer::Writer;
use regex::Regex;

const ATOM03_NS: &str = "http://purl.org/atom/ns#";
const ATOM10_NS: &str = "http://www.w3.org/2005/Atom";
const RSS090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS10_NS: &str = "http://purl.org/rss/1.0/";
const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";

/// The text feed-rs should read instead of `text`, when the cheap checks say it needs a
/// rewrite (see the module documentation); `None` when `text` can be read as it is.
pub(crate) fn prepare(text: &str) -> Option<String> {
    if !is_xml(text) {
        return None;
    }
    let resolved = resolve_entities(text);
    let t = resolved.as_deref().unwrap_or(text);
    match Root::of(t).and_then(|root| root.form(t, false)) {
        Some(form) => rewrite_as(t, form).or(resolved),
        None => resolved,
    }
}

/// `text` rewritten whatever its root says (for a document feed-rs refused or misread); `None`
/// when it is no XML feed form known here or is not well-formed.
pub(crate) fn rewrite(text: &str) -> Option<String> {
    if !is_xml(text) {
        return None;
    }
    let resolved = resolve_entities(text);
    let t = resolved.as_deref().unwrap_or(text);
    let form = Root::of(t)?.form(t, true)?;
    rewrite_as(t, form)
}

/// Whether feed-rs handed back an entry's content as it was written in a non-text media type
/// (base64 data, which [`rewrite`] decodes).
pub(crate) fn undecoded(feed: &Feed) -> bool {
    feed.entries.iter().any(|e| {
        e.content.as_ref().is_some_and(|c| {
            let t = &c.content_type;
            c.body.is_some()
                && c.src.is_none()
                && t.ty() != "text"
                && t.subty() != "xml"
                && t.subty() != "xhtml"
                && t.suffix().is_none_or(|s| s != "xml")
        })
    })
}

/// When a document of which no item was read is a failure: `Some` (the root element, for the
/// error) when its root is not a feed root known here, or when `original` (the document as
/// fetched) has item or entry elements of any namespace; `None` for an empty feed (a channel
/// with no items yet), and for JSON.
pub(crate) fn unread_items(parsed: &str, original: &str) -> Option<String> {
    static ITEM: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)<(?:[a-z0-9_.-]+:)?(?:item|entry)[\s/>]").expect("static regex"));
    if !is_xml(parsed) {
        return None;
    }
    let Some(root) = Root::of(parsed) else {
        return Some("not found".to_string());
    };
    let namespace = root.namespace();
    let known = match root.local() {
        "feed" | "entry" => matches!(namespace.as_deref(), None | Some(ATOM10_NS)),
        "rss" => true,
        "RDF" => parsed.contains(RSS10_NS),
        _ => false,
    };
    (!known || ITEM.is_match(original)).then(|| match namespace {
        Some(ns) => format!("<{}> in namespace {ns}", root.local()),
        None => format!("<{}>, no namespace", root.local()),
    })
}

/// Whether the text is XML (starts with `<`) rather than JSON.
fn is_xml(text: &str) -> bool {
    text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .starts_with('<')
}

/// Entity references resolved: HTML named entities as character references, every other
/// reference that is not one of XML's five removed. `None` when there is none.
pub(crate) fn resolve_entities(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    // Comments, CDATA sections and the DTD ("opaque" here) are found lazily, in order, only
    // when a reference to rewrite is seen: `scanned` is how far they were looked for.
    let mut scanned = 0;
    let mut opaque_end = 0;
    // memchr's search is several times quicker than `str::match_indices` here.
    for at in memchr::memchr_iter(b'&', text.as_bytes()) {
        let rest = &text.as_bytes()[at + 1..];
        // The common case first: XML's own references and character references.
        if at < opaque_end
            || rest.first() == Some(&b'#')
            || [&b"amp;"[..], b"lt;", b"gt;", b"quot;", b"apos;"]
                .iter()
                .any(|r| rest.starts_with(r))
        {
            continue;
        }
        let Some(name) = reference_name(&text[at + 1..]) else {
            continue;
        };
        while scanned < at {
            let Some(rel) = text[scanned..at].find("<!") else {
                scanned = at;
                break;
            };
            let start = scanned + rel;
            opaque_end = opaque_region_end(text, start);
            scanned = opaque_end;
        }
        if at < opaque_end {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..at]);
        if let Some(chars) = html_entity(name) {
            for c in chars {
                let _ = write!(out, "&#{};", u32::from(c));
            }
        }
        copied = at + 1 + name.len() + 1;
    }
    out.map(|mut out| {
        out.push_str(&text[copied..]);
        out
    })
}

/// The name of the entity reference `rest` starts with (after the `&`), when it is a named
/// reference (`name;`); `None` for a character reference or a bare `&`.
fn reference_name(rest: &str) -> Option<&str> {
    let end = rest.char_indices().take(64).find_map(|(i, c)| match c {
        ';' => Some(Some(i)),
        c if c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':') => None,
        _ => Some(None),
    })??;
    let name = &rest[..end];
    name.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':')
        .then_some(name)
}

/// The characters of an HTML named entity (`nbsp` → U+00A0), if it is one.
fn html_entity(name: &str) -> Option<Vec<char>> {
    let &(a, b) = html5ever::data::NAMED_ENTITIES.get(format!("{name};").as_str())?;
    let chars: Vec<char> = [a, b]
        .into_iter()
        .filter(|&c| c != 0)
        .filter_map(char::from_u32)
        .collect();
    (!chars.is_empty()).then_some(chars)
}

/// Where the comment, CDATA section, DTD or other `<!` construct starting at `start` ends
/// (the index after it; the text's end when it is not closed).
fn opaque_region_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let close = |open: &str, close: &str| {
        rest[open.len()..]
            .find(close)
            .map_or(text.len(), |i| start + open.len() + i + close.len())
    };
    if rest.starts_with("<![CDATA[") {
        close("<![CDATA[", "]]>")
    } else if rest.starts_with("<!--") {
        close("<!--", "-->")
    } else {
        start + declaration_len(rest).unwrap_or(rest.len())
    }
}

/// The length of a `<!DOCTYPE ...>` (or other `<!...>`) declaration at the start of `rest`,
/// internal subset included; `None` when it is not closed.
fn declaration_len(rest: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote = None;
    for (i, b) in rest.bytes().enumerate().skip(2) {
        match (quote, b) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'[') => depth += 1,
            (None, b']') => depth = depth.saturating_sub(1),
            (None, b'>') if depth == 0 => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// The document's root start tag.
struct Root<'a> {
    start: BytesStart<'a>,
}

/// What a document's root says it is, for the rewrite.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    /// Atom; `legacy` for Atom 0.3.
    Atom { legacy: bool },
    /// RSS 0.9x or 2.0.
    Rss,
    /// RSS 0.90 or 1.0 (`rdf:RDF`).
    Rdf,
    /// Microsoft's Channel Definition Format.
    Cdf,
}

impl<'a> Root<'a> {
    /// The first start tag after the prolog, comments, processing instructions and DTD.
    fn of(text: &'a str) -> Option<Root<'a>> {
        let mut at = 0;
        loop {
            at += text[at..].find('<')?;
            let rest = &text[at..];
            if rest.starts_with("<?") {
                at += rest.find("?>")? + 2;
            } else if rest.starts_with("<!--") {
                at += rest.find("-->")? + 3;
            } else if rest.starts_with("<!") {
                at += declaration_len(rest)?;
            } else {
                break;
            }
        }
        let rest = &text[at + 1..];
        let mut quote = None;
        let end = rest.bytes().position(|b| match (quote, b) {
            (Some(q), b) if b == q => {
                quote = None;
                false
            }
            (Some(_), _) => false,
            (None, b'"' | b'\'') => {
                quote = Some(b);
                false
            }
            (None, b) => b == b'>',
        })?;
        let content = rest[..end].trim_end_matches('/');
        let name_len = content
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(content.len());
        (name_len > 0).then(|| Root {
            start: BytesStart::from_content(content, name_len),
        })
    }

    fn local(&self) -> &str {
        let name = self.start.name().0;
        name.rsplit(':').next().unwrap_or(name)
    }

    fn attr(&self, name: &str) -> Option<String> {
        attr_value(&self.start, name)
    }

    /// The namespace of the root element, from the declarations on it.
    fn namespace(&self) -> Option<String> {
        let name = self.start.name().0;
        let key = match name.split_once(':') {
            Some((prefix, _)) => format!("xmlns:{prefix}"),
            None => "xmlns".to_string(),
        };
        self.attr(&key).filter(|ns| !ns.is_empty())
    }

    /// The rewrite this document needs, if any. `forced`: whatever the cheap checks say (for
    /// a document feed-rs refused or misread).
    fn form(&self, text: &str, forced: bool) -> Option<Form> {
        let xhtml_body = || text.contains(XHTML_NS) && (text.contains("<body") || text.contains(":body"));
        match self.local() {
            "feed" | "entry" => {
                let legacy = self.namespace().as_deref() == Some(ATOM03_NS)
                    || self.attr("version").is_some_and(|v| v.trim() == "0.3");
                (legacy || forced).then_some(Form::Atom { legacy })
            }
            "rss" => {
                let known = matches!(
                    self.attr("version").as_deref(),
                    Some("2.0" | "0.91" | "0.92" | "")
                );
                let namespaced = self.attr("xmlns").is_some();
                (forced || !known || namespaced || xhtml_body()).then_some(Form::Rss)
            }
            "RDF" => {
                let rss090 = self.start.attributes_raw().contains(RSS090_NS);
                (forced || rss090 || xhtml_body()).then_some(Form::Rdf)
            }
            "CHANNEL" => Some(Form::Cdf),
            _ => None,
        }
    }
}

/// An attribute's value, unescaped (as written when it cannot be unescaped).
fn attr_value(start: &BytesStart, name: &str) -> Option<String> {
    let attr = start.try_get_attribute(name).ok()??;
    Some(unescape(&attr.value))
}

fn unescape(raw: &str) -> String {
    quick_xml::escape::unescape(raw).map_or_else(|_| raw.to_string(), Cow::into_owned)
}

fn rewrite_as(text: &str, form: Form) -> Option<String> {
    if form == Form::Cdf {
        return cdf_to_atom(text);
    }
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(false);
    Rewriter {
        reader,
        out: Writer::new(Vec::with_capacity(text.len() + 256)),
        form,
        open: Vec::new(),
        issued: false,
    }
    .run()
}

/// The namespace an element is in, as far as the rewrite cares.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Space {
    /// No namespace (feed-rs reads it as the root's format's own).
    Unbound,
    Atom,
    Atom03,
    Xhtml,
    Other,
}

impl Space {
    fn of(resolved: &ResolveResult) -> Space {
        match resolved {
            ResolveResult::Unbound => Space::Unbound,
            ResolveResult::Bound(ns) => match ns.as_ref() {
                ATOM10_NS => Space::Atom,
                ATOM03_NS => Space::Atom03,
                XHTML_NS => Space::Xhtml,
                _ => Space::Other,
            },
            ResolveResult::Unknown(_) => Space::Other,
        }
    }

    fn is_atom(self) -> bool {
        matches!(self, Space::Unbound | Space::Atom | Space::Atom03)
    }
}

/// An element written and not closed yet.
struct Open {
    /// Its local name as read.
    local: String,
    /// The name to close it with when it was renamed.
    end: Option<String>,
    /// An RSS 1.0 item with no `link` (yet): its `link` element's name and its `rdf:about`,
    /// written as its link before it closes (feed-rs drops an RSS 1.0 item with no link).
    missing_link: Option<(String, String)>,
}

struct Rewriter<'i> {
    reader: NsReader<&'i [u8]>,
    out: Writer<Vec<u8>>,
    form: Form,
    open: Vec<Open>,
    /// Whether the current Atom 0.3 entry (or feed) had an `issued` date.
    issued: bool,
}

/// What becomes of an element.
enum Fate {
    Keep,
    Rename(&'static str),
    Drop,
}

impl<'i> Rewriter<'i> {
    fn run(mut self) -> Option<String> {
        loop {
            let (space, event) = {
                let (resolved, event) = self.reader.read_resolved_event().ok()?;
                (Space::of(&resolved), event)
            };
            match event {
                Event::Eof => break,
                // Its entities are never used: references to them were removed.
                Event::DocType(_) => {}
                Event::Start(e) => self.element(space, e, false)?,
                Event::Empty(e) => self.element(space, e, true)?,
                Event::End(e) => {
                    let open = self.open.pop()?;
                    if let Some((name, about)) = open.missing_link {
                        self.write(Event::Start(BytesStart::new(name.as_str())))?;
                        self.write(Event::Text(BytesText::new(&about)))?;
                        self.write(Event::End(BytesEnd::new(name)))?;
                    }
                    match open.end {
                        Some(name) => self.write(Event::End(BytesEnd::new(name)))?,
                        None => self.write(Event::End(e))?,
                    }
                }
                other => self.write(other)?,
            }
        }
        if !self.open.is_empty() {
            return None;
        }
        String::from_utf8(self.out.into_inner()).ok()
    }

    fn write(&mut self, event: Event) -> Option<()> {
        self.out.write_event(event).ok()
    }

    fn element(&mut self, space: Space, e: BytesStart<'i>, empty: bool) -> Option<()> {
        let local = e.local_name().as_ref().to_string();
        let parent = self.open.last().map(|o| o.local.clone());
        let parent = parent.as_deref();
        let root = self.open.is_empty();
        let mut fate = Fate::Keep;
        match self.form {
            Form::Atom { legacy } if space.is_atom() => {
                let in_container = matches!(parent, Some("feed" | "entry" | "source"));
                if local == "entry" {
                    self.issued = false;
                }
                if legacy {
                    fate = legacy_fate(&local, parent, &mut self.issued);
                }
                let now = match fate {
                    Fate::Rename(to) => to,
                    Fate::Drop => {
                        if !empty {
                            self.capture()?;
                        }
                        return Some(());
                    }
                    Fate::Keep => local.as_str(),
                };
                if in_container && matches!(now, "title" | "subtitle" | "rights" | "summary" | "content") {
                    let name = renamed(&e, now);
                    let inner = if empty { Vec::new() } else { self.capture()? };
                    return self.text_construct(&e, &name, &inner, legacy);
                }
                if in_container && now == "link" && !empty {
                    let inner = self.capture()?;
                    return self.link(&e, &inner);
                }
            }
            Form::Rdf if local == "link" && parent == Some("item") => {
                if let Some(item) = self.open.last_mut() {
                    item.missing_link = None;
                }
            }
            Form::Rss | Form::Rdf if space == Space::Xhtml && local == "body" && parent == Some("item") => {
                if !empty {
                    let inner = self.capture()?;
                    self.xhtml_body(&inner)?;
                }
                return Some(());
            }
            _ => {}
        }
        let name = match fate {
            Fate::Rename(to) => Some(renamed(&e, to)),
            _ => None,
        };
        let fixed = self.fixed_start(&e, name.as_deref(), root);
        let start = fixed.unwrap_or(e);
        if empty {
            return self.write(Event::Empty(start));
        }
        let missing_link = (self.form == Form::Rdf && local == "item" && parent == Some("RDF"))
            .then(|| attr_value(&start, "rdf:about"))
            .flatten()
            .filter(|about| !about.trim().is_empty())
            .map(|about| (renamed(&start, "link"), about.trim().to_string()));
        self.write(Event::Start(start))?;
        self.open.push(Open {
            local,
            end: name,
            missing_link,
        });
        Some(())
    }

    /// The start tag with its new name, legacy namespaces mapped, and the root's version fixed;
    /// `None` when it can be written as it is.
    fn fixed_start(&self, e: &BytesStart, name: Option<&str>, root: bool) -> Option<BytesStart<'static>> {
        let raw = e.attributes_raw();
        let legacy_ns = raw.contains(ATOM03_NS) || raw.contains(RSS090_NS);
        let rss_namespace = root && self.form == Form::Rss && raw.contains("xmlns=");
        let version = root
            && match self.form {
                Form::Rss => !matches!(
                    attr_value(e, "version").as_deref(),
                    Some("2.0" | "0.91" | "0.92" | "")
                ),
                Form::Atom { legacy } => legacy && raw.contains("version"),
                _ => false,
            };
        if name.is_none() && !legacy_ns && !version && !rss_namespace {
            return None;
        }
        let mut start = BytesStart::new(name.unwrap_or(e.name().0).to_string());
        for attr in e.attributes().with_checks(false) {
            let attr = attr.ok()?;
            let key = attr.key.0;
            if version && key == "version" {
                continue;
            }
            // RSS has no namespace: elements in one (`http://backend.userland.com/rss2`) are
            // nothing feed-rs reads.
            if root && self.form == Form::Rss && key == "xmlns" {
                continue;
            }
            let value = if key == "xmlns" || key.starts_with("xmlns:") {
                match unescape(&attr.value).as_str() {
                    ATOM03_NS => Cow::Borrowed(ATOM10_NS),
                    RSS090_NS => Cow::Borrowed(RSS10_NS),
                    _ => quoted(attr.value),
                }
            } else {
                quoted(attr.value)
            };
            start.push_attribute(Attribute {
                key: QName(key),
                value,
            });
        }
        if version && self.form == Form::Rss {
            start.push_attribute(("version", "2.0"));
        }
        Some(start)
    }

    /// The events inside the element just started, its end consumed.
    fn capture(&mut self) -> Option<Vec<Event<'i>>> {
        let mut depth = 0usize;
        let mut inner = Vec::new();
        loop {
            let event = self.reader.read_event().ok()?;
            match &event {
                Event::Start(_) => depth += 1,
                Event::End(_) if depth == 0 => return Some(inner),
                Event::End(_) => depth -= 1,
                Event::Eof => return None,
                _ => {}
            }
            inner.push(event);
        }
    }

    /// An Atom text construct, normalised to `type` `text`, `html` or `xhtml`.
    fn text_construct(&mut self, e: &BytesStart, name: &str, inner: &[Event], legacy: bool) -> Option<()> {
        let raw_type = attr_value(e, "type");
        let mode = attr_value(e, "mode").map(|m| m.trim().to_ascii_lowercase());
        let standard = !legacy
            && mode.is_none()
            && matches!(raw_type.as_deref(), None | Some("text" | "html" | "xhtml"));
        if standard || attr_value(e, "src").is_some() {
            self.write(Event::Start(with_type(e, name, None)?))?;
            for event in inner {
                self.write(event.borrow())?;
            }
            return self.write(Event::End(BytesEnd::new(name)));
        }
        let kind = Kind::of(raw_type.as_deref());
        let elements = inner
            .iter()
            .any(|e| matches!(e, Event::Start(_) | Event::Empty(_)));
        let (ty, body) = if mode.as_deref() == Some("base64") || (kind == Kind::Binary && !elements) {
            let data = char_data(inner);
            match base64_decode(&data) {
                Some(bytes) => match text_of_bytes(bytes) {
                    Some(text) if kind == Kind::Text => ("text", Body::Text(text)),
                    Some(text) => ("html", Body::Text(text)),
                    // Binary data: nothing to show.
                    None => return Some(()),
                },
                None => ("text", Body::Text(data)),
            }
        } else if mode.as_deref() == Some("escaped") {
            let ty = if kind == Kind::Text { "text" } else { "html" };
            (ty, Body::Text(char_data(inner)))
        } else if elements {
            ("xhtml", if legacy { Body::Wrapped } else { Body::Markup })
        } else {
            let ty = if kind == Kind::Html { "html" } else { "text" };
            (ty, Body::Text(char_data(inner)))
        };
        self.write(Event::Start(with_type(e, name, Some(ty))?))?;
        match body {
            Body::Text(text) => self.write(Event::Text(BytesText::new(&text)))?,
            Body::Markup | Body::Wrapped => {
                let wrapped = matches!(body, Body::Wrapped);
                if wrapped {
                    let mut div = BytesStart::new("div");
                    div.push_attribute(("xmlns", XHTML_NS));
                    self.write(Event::Start(div))?;
                }
                for event in inner {
                    self.write(event.borrow())?;
                }
                if wrapped {
                    self.write(Event::End(BytesEnd::new("div")))?;
                }
            }
        }
        self.write(Event::End(BytesEnd::new(name)))
    }

    /// An Atom link; one with no `href` but a text (`<link>http://...</link>`) gets the text as
    /// its `href`.
    fn link(&mut self, e: &BytesStart, inner: &[Event]) -> Option<()> {
        let text = char_data(inner);
        if attr_value(e, "href").is_none() && !text.trim().is_empty() {
            let mut start = with_type(e, e.name().0, None)?;
            start.push_attribute(("href", text.trim()));
            return self.write(Event::Empty(start));
        }
        let name = e.name().0.to_string();
        self.write(Event::Start(with_type(e, &name, None)?))?;
        for event in inner {
            self.write(event.borrow())?;
        }
        self.write(Event::End(BytesEnd::new(name)))
    }

    /// An RSS item's XHTML body as `content:encoded`: its inner markup as HTML.
    fn xhtml_body(&mut self, inner: &[Event]) -> Option<()> {
        let html = to_html(inner);
        let mut start = BytesStart::new("content:encoded");
        start.push_attribute(("xmlns:content", CONTENT_NS));
        self.write(Event::Start(start))?;
        self.write(Event::Text(BytesText::new(&html)))?;
        self.write(Event::End(BytesEnd::new("content:encoded")))
    }
}

/// An Atom 0.3 element's Atom 1.0 form (see the module documentation).
fn legacy_fate(local: &str, parent: Option<&str>, issued: &mut bool) -> Fate {
    match (parent, local) {
        (Some("feed" | "entry" | "source"), "issued") => {
            *issued = true;
            Fate::Rename("published")
        }
        (Some("feed" | "entry" | "source"), "created") if *issued => Fate::Drop,
        (Some("feed" | "entry" | "source"), "created") => Fate::Rename("published"),
        (Some("feed" | "entry" | "source"), "modified") => Fate::Rename("updated"),
        (Some("feed" | "entry" | "source"), "tagline") => Fate::Rename("subtitle"),
        (Some("feed" | "entry" | "source"), "copyright") => Fate::Rename("rights"),
        (Some("feed" | "entry" | "source"), "info") => Fate::Drop,
        (Some("author" | "contributor"), "url" | "homepage") => Fate::Rename("uri"),
        _ => Fate::Keep,
    }
}

/// `e`'s qualified name with its local part replaced (its prefix kept).
fn renamed(e: &BytesStart, local: &str) -> String {
    match e.name().0.split_once(':') {
        Some((prefix, _)) => format!("{prefix}:{local}"),
        None => local.to_string(),
    }
}

/// A copy of `e` named `name`, legacy namespaces mapped, without `mode` and with `type` set to
/// `ty` (kept as written when `ty` is `None`).
fn with_type(e: &BytesStart, name: &str, ty: Option<&str>) -> Option<BytesStart<'static>> {
    let mut start = BytesStart::new(name.to_string());
    for attr in e.attributes().with_checks(false) {
        let attr = attr.ok()?;
        let key = attr.key.0;
        if ty.is_some() && (key == "type" || key == "mode") {
            continue;
        }
        let value = match unescape(&attr.value).as_str() {
            ATOM03_NS if key == "xmlns" || key.starts_with("xmlns:") => Cow::Borrowed(ATOM10_NS),
            _ => quoted(attr.value),
        };
        start.push_attribute(Attribute {
            key: QName(key),
            value,
        });
    }
    if let Some(ty) = ty {
        start.push_attribute(("type", ty));
    }
    Some(start)
}

/// A raw attribute value made safe to write between double quotes (it may have been written
/// between single ones).
fn quoted(value: Cow<str>) -> Cow<str> {
    if value.contains('"') {
        Cow::Owned(value.replace('"', "&quot;"))
    } else {
        value
    }
}

/// What a text construct's `type` says its data is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Html,
    Xhtml,
    /// A media type that is neither text nor XML: base64 data.
    Binary,
}

impl Kind {
    /// The kind of data a `type` attribute names (absent: text, Atom 1.0's `text` and Atom
    /// 0.3's `text/plain` alike).
    fn of(ty: Option<&str>) -> Kind {
        let ty = ty.map(|t| t.trim().to_ascii_lowercase());
        match ty.as_deref() {
            None | Some("" | "text" | "text/plain") => Kind::Text,
            Some("html" | "text/html") => Kind::Html,
            Some("xhtml" | "application/xhtml+xml") => Kind::Xhtml,
            Some(t) if t.ends_with("/xml") || t.ends_with("+xml") => Kind::Xhtml,
            // Another text type, or a word that is no media type.
            Some(t) if t.starts_with("text/") || !t.contains('/') => Kind::Text,
            Some(_) => Kind::Binary,
        }
    }
}

enum Body {
    Text(String),
    /// The markup as written.
    Markup,
    /// The markup in an XHTML `div`.
    Wrapped,
}

/// The character data of a run of events (references resolved, markup ignored).
fn char_data(events: &[Event]) -> String {
    let mut out = String::new();
    for event in events {
        match event {
            Event::Text(t) => out.push_str(&t.xml10_content()),
            Event::CData(c) => out.push_str(c),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(r) {
                    out.push_str(s);
                }
            }
            _ => {}
        }
    }
    out
}

/// Standard or URL-safe base64, whitespace ignored, padding optional; `None` when `text` is not
/// base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut padded = false;
    let mut digits = 0usize;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padded = true;
                continue;
            }
            b if b.is_ascii_whitespace() => continue,
            _ => return None,
        };
        if padded {
            return None;
        }
        digits += 1;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (digits > 0 && digits % 4 != 1).then_some(out)
}

/// Decoded bytes as text: UTF-8 without control characters (other than whitespace).
fn text_of_bytes(bytes: Vec<u8>) -> Option<String> {
    String::from_utf8(bytes).ok().filter(|s| {
        !s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    })
}

/// Elements HTML writes without an end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
    "wbr",
];

/// XHTML events as HTML: prefixes and namespace declarations dropped.
fn to_html(events: &[Event]) -> String {
    let mut out = String::new();
    for event in events {
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let local = e.local_name();
                let local = local.as_ref();
                out.push('<');
                out.push_str(local);
                for attr in e.attributes().with_checks(false).flatten() {
                    let key = attr.key.0;
                    if key == "xmlns" || key.starts_with("xmlns:") || key.starts_with("xml:") {
                        continue;
                    }
                    let _ = write!(out, " {key}=\"{}\"", quoted(attr.value));
                }
                out.push('>');
                if matches!(event, Event::Empty(_)) && !VOID.contains(&local) {
                    let _ = write!(out, "</{local}>");
                }
            }
            Event::End(e) => {
                let _ = write!(out, "</{}>", e.local_name().as_ref());
            }
            Event::Text(t) => out.push_str(t),
            Event::CData(c) => out.push_str(&quick_xml::escape::escape(&**c)),
            Event::GeneralRef(r) => {
                let _ = write!(out, "&{};", &**r);
            }
            _ => {}
        }
    }
    out
}

/// A CDF document as an Atom 1.0 feed (see the module documentation).
fn cdf_to_atom(text: &str) -> Option<String> {
    #[derive(Default)]
    struct Part {
        title: Option<String>,
        summary: Option<String>,
        link: Option<String>,
        updated: Option<String>,
    }
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut channel = Part::default();
    let mut items: Vec<Part> = Vec::new();
    // Per open element: the item it is (or is in), if any.
    let mut open: Vec<Option<usize>> = Vec::new();
    loop {
        let event = reader.read_event().ok()?;
        let (e, empty) = match event {
            Event::Eof => break,
            Event::End(_) => {
                open.pop()?;
                continue;
            }
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            _ => continue,
        };
        let local = e.local_name().as_ref().to_ascii_uppercase();
        let attr = |name: &str| {
            e.attributes()
                .with_checks(false)
                .flatten()
                .find(|a| a.key.0.eq_ignore_ascii_case(name))
                .map(|a| unescape(&a.value))
        };
        let mut item = open.last().copied().flatten();
        match local.as_str() {
            "ITEM" => {
                items.push(Part {
                    link: attr("HREF"),
                    updated: attr("LASTMOD"),
                    ..Part::default()
                });
                item = Some(items.len() - 1);
            }
            "CHANNEL" if open.is_empty() => {
                channel.link = attr("HREF");
                channel.updated = attr("LASTMOD");
            }
            "TITLE" | "ABSTRACT" if !empty => {
                let raw = reader.read_text(e.name()).ok()?;
                let value = unescape(&raw).trim().to_string();
                let part = match item {
                    Some(i) => items.get_mut(i),
                    // The channel's own, not a sub-channel's.
                    None if open.len() == 1 => Some(&mut channel),
                    None => None,
                };
                if let Some(part) = part {
                    if local == "TITLE" {
                        part.title = Some(value);
                    } else {
                        part.summary = Some(value);
                    }
                }
                continue;
            }
            _ => {}
        }
        if !empty {
            open.push(item);
        }
    }
    let mut out = Writer::new(Vec::with_capacity(text.len() + 256));
    let mut feed = BytesStart::new("feed");
    feed.push_attribute(("xmlns", ATOM10_NS));
    out.write_event(Event::Start(feed)).ok()?;
    let write_part = |out: &mut Writer<Vec<u8>>, part: &Part, summary: &str| -> Option<()> {
        for (name, value) in [("title", &part.title), (summary, &part.summary)] {
            if let Some(value) = value {
                let mut start = BytesStart::new(name);
                start.push_attribute(("type", "text"));
                out.write_event(Event::Start(start)).ok()?;
                out.write_event(Event::Text(BytesText::new(value))).ok()?;
                out.write_event(Event::End(BytesEnd::new(name))).ok()?;
            }
        }
        if let Some(href) = &part.link {
            let mut link = BytesStart::new("link");
            link.push_attribute(("href", href.as_str()));
            out.write_event(Event::Empty(link)).ok()?;
        }
        if let Some(updated) = &part.updated {
            out.write_event(Event::Start(BytesStart::new("updated"))).ok()?;
            out.write_event(Event::Text(BytesText::new(updated))).ok()?;
            out.write_event(Event::End(BytesEnd::new("updated"))).ok()?;
        }
        Some(())
    };
    write_part(&mut out, &channel, "subtitle")?;
    for item in &items {
        out.write_event(Event::Start(BytesStart::new("entry"))).ok()?;
        write_part(&mut out, item, "summary")?;
        out.write_event(Event::End(BytesEnd::new("entry"))).ok()?;
    }
    out.write_event(Event::End(BytesEnd::new("feed"))).ok()?;
    String::from_utf8(out.into_inner()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_feeds_are_not_rewritten() {
        for doc in [
            "<rss version=\"2.0\"><channel><title>a &amp; b &#160; &lt;</title><item><description><![CDATA[caf&eacute; &lol;]]></description></item></channel></rss>",
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"text/plain\">t</title></feed>",
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\"/>",
            "<rss version=\"0.91\"><!-- &nbsp; --><channel/></rss>",
            "{\"title\": \"&nbsp; <rss>\", \"items\": []}",
        ] {
            assert_eq!(prepare(doc), None, "{doc}");
        }
    }

    #[test]
    fn references_are_resolved_or_removed_outside_cdata_comments_and_the_dtd() {
        let doc = "<!DOCTYPE rss [<!ENTITY x \"&y; &nbsp;\"> <!ENTITY y \"]>\">]>\
                   <rss a=\"&eacute;&bogus;\"><!-- &nbsp; --><t>&nbsp;&x;&amp;&#38;&NotAnEntity;&notin;&fjlig;</t>\
                   <![CDATA[&nbsp; &x;]]>&hellip; &é; & a;</rss>";
        assert_eq!(
            resolve_entities(doc).as_deref(),
            Some(
                "<!DOCTYPE rss [<!ENTITY x \"&y; &nbsp;\"> <!ENTITY y \"]>\">]>\
                 <rss a=\"&#233;\"><!-- &nbsp; --><t>&#160;&amp;&#38;&#8713;&#102;&#106;</t>\
                 <![CDATA[&nbsp; &x;]]>&#8230;  & a;</rss>"
            )
        );
        assert_eq!(
            resolve_entities("<a>&amp;&lt;&gt;&quot;&apos;&#1;&#x20;</a>"),
            None
        );
        // An unclosed CDATA section hides the rest.
        assert_eq!(resolve_entities("<a><![CDATA[ &x;"), None);
    }

    #[test]
    fn base64_is_decoded_strictly() {
        let decode = |s: &str| base64_decode(s).map(|b| String::from_utf8_lossy(&b).into_owned());
        assert_eq!(
            decode("RXhhbXBsZSA8Yj5BdG9tPC9iPg=="),
            Some("Example <b>Atom</b>".into())
        );
        assert_eq!(decode("  RXhh\n bXBs ZQ "), Some("Example".into()));
        assert_eq!(decode("Example Atom!"), None);
        assert_eq!(decode("QQ==QQ"), None, "data after padding");
        assert_eq!(decode("QUJDR"), None, "a lone sextet");
        assert_eq!(decode(""), None);
        assert_eq!(text_of_bytes(vec![0x89, b'P', b'N', b'G']), None);
        assert_eq!(text_of_bytes(b"a\0b".to_vec()), None);
    }

    #[test]
    fn the_root_says_what_to_rewrite() {
        let form = |doc: &str| Root::of(doc).and_then(|r| r.form(doc, false));
        assert_eq!(
            form(
                "<?xml version=\"1.0\"?><!-- c --><!DOCTYPE feed [<!ENTITY a \"<b>\">]><a:feed xmlns:a=\"http://purl.org/atom/ns#\">"
            ),
            Some(Form::Atom { legacy: true })
        );
        assert_eq!(form("<feed version='0.3'>"), Some(Form::Atom { legacy: true }));
        assert_eq!(form("<feed xmlns=\"http://www.w3.org/2005/Atom\">"), None);
        assert_eq!(form("<rss>"), Some(Form::Rss));
        assert_eq!(form("<rss version=\"2.0.1\"/>"), Some(Form::Rss));
        assert_eq!(form("<rss version=\"2.0\" a=\"x>y\">"), None);
        assert_eq!(form("<CHANNEL HREF=\"x\">"), Some(Form::Cdf));
        assert_eq!(form("<html>"), None);
        assert_eq!(form("no markup"), None);
    }

    #[test]
    fn atom_03_becomes_atom_10() {
        let doc = "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\" xml:lang=\"en\">\
                   <tagline mode=\"escaped\" type=\"text/html\">&lt;b&gt;t&lt;/b&gt;</tagline>\
                   <info><div xmlns=\"http://www.w3.org/1999/xhtml\">i</div></info>\
                   <entry><issued>1</issued><created>2</created><modified>3</modified>\
                   <author><url>u</url></author><link>http://e.example/</link>\
                   <title type='text/plain' mode=\"xml\">a &amp; b</title>\
                   <content type=\"text/html\" mode=\"xml\"><p>x</p></content></entry></feed>";
        assert_eq!(
            prepare(doc).as_deref(),
            Some(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\
                 <subtitle type=\"html\">&lt;b&gt;t&lt;/b&gt;</subtitle>\
                 <entry><published>1</published><updated>3</updated>\
                 <author><uri>u</uri></author><link href=\"http://e.example/\"/>\
                 <title type=\"text\">a &amp; b</title>\
                 <content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</p></div></content></entry></feed>"
            )
        );
    }

    #[test]
    fn what_cannot_be_rewritten_is_left_alone() {
        // Not well-formed: feed-rs (and the repair) get the text as it is.
        assert_eq!(prepare("<rss><channel><item></channel></rss>"), None);
        assert_eq!(rewrite("<html><body/></html>"), None);
        assert_eq!(
            prepare("<rss><channel><title>&nbsp;</title></rss>").as_deref(),
            Some("<rss><channel><title>&#160;</title></rss>"),
            "the references are resolved even so"
        );
    }

    #[test]
    fn no_items_is_a_failure_only_where_items_were_expected() {
        let atom = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title></feed>";
        assert_eq!(unread_items(atom, atom), None);
        let with_entry = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><x:entry xmlns:x=\"urn:x\"/></feed>";
        assert_eq!(
            unread_items(with_entry, with_entry).as_deref(),
            Some("<feed> in namespace http://www.w3.org/2005/Atom")
        );
        let other = "<x:feed xmlns:x=\"urn:other\"/>";
        assert_eq!(
            unread_items(other, other).as_deref(),
            Some("<feed> in namespace urn:other")
        );
        let foaf =
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><foaf:Person/></rdf:RDF>";
        assert!(unread_items(foaf, foaf).is_some());
        let rss = "<rss version=\"2.0\"><channel><items/></channel></rss>";
        assert_eq!(unread_items(rss, rss), None);
        assert_eq!(unread_items("{\"items\": []}", "{}"), None);
    }
}
