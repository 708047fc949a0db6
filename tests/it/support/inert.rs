//! A strict checker of published outputs: does anything in them run, fetch or navigate when a
//! feed reader shows it?
//!
//! In: the bytes of an RSS, Atom or JSON Feed output, or an HTML fragment or page. Out: a list
//! of findings (empty when the document is inert), each naming the field and what is wrong.
//!
//! XML outputs are read with a real XML parser (entities and character references resolved,
//! attribute values normalised) and JSON with serde_json; every field that a reader may render
//! as HTML is then tokenised with html5ever (character references in attributes decoded), and
//! every field that a reader may follow or load is parsed as a URL the way a browser does
//! (leading and trailing C0 controls and spaces removed, tabs and newlines dropped). RSS gives
//! no type to its text, and many readers render any of it as HTML, so every RSS text is checked
//! as HTML; Atom text is checked as HTML when its `type` says `html`; JSON Feed's `content_html`
//! is HTML and its other strings are plain text by the specification.
//!
//! What counts as executable or fetching: a tag that runs script, embeds a document, submits,
//! redirects or restyles (`script`, `style`, `iframe`, `object`, `embed`, `form`, `meta`,
//! `base`, `link`, `svg`, `math` and their relatives); an event handler (`on*`); a `style`,
//! `srcset`, `formaction`, `action`, `background`, `srcdoc` or namespaced attribute; a tag name
//! that is not letters, digits and hyphens (what is left of a split `<scr<script>ipt>`); a URL
//! attribute or field whose scheme is not `http` / `https` (`mailto` too for an HTML `href` and
//! a JSON Feed author's `url`),
//! or that is not absolute; a Netscape `&{…}` script entity; a comment (IE conditional
//! comments run); a doctype or processing instruction inside a document; and a link without
//! `rel="noopener noreferrer"`.

use std::cell::RefCell;

use feedfold::output::Format;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use url::Url;

/// Elements that run script, embed or frame documents, submit, redirect, restyle or switch the
/// parser into another language.
const FORBIDDEN_TAGS: &str = "\
    script style iframe frame frameset object embed applet param form input button textarea \
    select option keygen meta base link svg math template noscript noembed noframes xml xmp \
    plaintext isindex bgsound layer ilayer import portal title head html body animate set use \
    image foreignobject handler listener";

/// Attributes that carry script, CSS or a URL list a simple URL check cannot vouch for.
const FORBIDDEN_ATTRIBUTES: &str =
    "style srcset formaction action background dynsrc lowsrc datasrc srcdoc xmlns behavior";

/// Attributes whose value is fetched or followed.
const URL_ATTRIBUTES: &str =
    "href src poster cite data codebase longdesc usemap ping manifest icon profile classid archive";

/// JSON Feed keys whose value is a URL.
const JSON_URL_KEYS: &str =
    "url external_url home_page_url feed_url next_url icon favicon image banner_image avatar";

/// Whether `word` is one of the space-separated words of `list`.
fn listed(list: &str, word: &str) -> bool {
    list.split_ascii_whitespace().any(|w| w == word)
}

/// Everything in an output of `format` that could run, fetch or navigate.
pub fn output_findings(format: Format, bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(text) = std::str::from_utf8(bytes) else {
        return vec!["output: not UTF-8".to_string()];
    };
    match format {
        Format::Rss | Format::Atom => xml_findings(format, text, &mut found),
        Format::JsonFeed => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => json_findings("$", None, &value, &mut found),
            Err(e) => found.push(format!("output: not JSON: {e}")),
        },
    }
    found
}

/// Everything in an HTML fragment (or page) that could run, fetch or navigate. With a `base`,
/// relative URLs are resolved against it (a page served from that address) and links to it
/// need no `rel`; without one, every URL must be absolute.
pub fn html_findings(place: &str, html: &str, base: Option<&Url>) -> Vec<String> {
    let sink = Sink {
        place,
        base,
        found: RefCell::new(Vec::new()),
    };
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&queue);
    tokenizer.end();
    tokenizer.sink.found.take()
}

/// How a field's text is read by a feed reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Html,
    Url,
    Plain,
}

struct Open {
    name: String,
    reading: Reading,
    text: String,
}

fn xml_findings(format: Format, text: &str, found: &mut Vec<String>) {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut open: Vec<Open> = Vec::new();
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                found.push(format!(
                    "output: not well-formed XML at {}: {e}",
                    reader.buffer_position()
                ));
                return;
            }
        };
        match event {
            Event::Start(e) => {
                let name = attributes(&e, &open, found);
                let reading = reading(format, &name, &e);
                open.push(Open {
                    name,
                    reading,
                    text: String::new(),
                });
            }
            Event::Empty(e) => {
                let name = attributes(&e, &open, found);
                let reading = reading(format, &name, &e);
                field(&path(&open, &name), reading, "", found);
            }
            Event::Text(t) => push_text(&mut open, &t.xml10_content(), found),
            Event::CData(t) => push_text(&mut open, &t.xml10_content(), found),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    Ok(None) => resolve_predefined_entity(&r).map(str::to_string),
                    Err(_) => None,
                };
                match resolved {
                    Some(s) => push_text(&mut open, &s, found),
                    None => found.push(format!("output: unknown reference &{};", &*r)),
                }
            }
            Event::End(_) => {
                if let Some(done) = open.pop() {
                    field(&path(&open, &done.name), done.reading, &done.text, found);
                }
            }
            Event::DocType(_) => found.push("output: a doctype".to_string()),
            Event::PI(_) => found.push("output: a processing instruction".to_string()),
            Event::Comment(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if !open.is_empty() {
        found.push("output: unclosed elements at the end".to_string());
    }
}

fn push_text(open: &mut [Open], text: &str, found: &mut Vec<String>) {
    match open.last_mut() {
        Some(top) => top.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => found.push("output: text outside the root element".to_string()),
    }
}

fn path(open: &[Open], name: &str) -> String {
    let mut p: Vec<&str> = open.iter().map(|o| o.name.as_str()).collect();
    p.push(name);
    p.join("/")
}

/// Checks an element's attributes; returns its name.
fn attributes(e: &BytesStart<'_>, open: &[Open], found: &mut Vec<String>) -> String {
    let name = e.name().as_ref().to_string();
    for attr in e.attributes() {
        let attr = match attr {
            Ok(a) => a,
            Err(err) => {
                found.push(format!("{}: bad attribute: {err}", path(open, &name)));
                continue;
            }
        };
        let key = attr.key.as_ref().to_string();
        let value = match attr.normalized_value(XmlVersion::Implicit1_0) {
            Ok(v) => v.into_owned(),
            Err(err) => {
                found.push(format!("{}@{key}: bad value: {err}", path(open, &name)));
                continue;
            }
        };
        let local = key.rsplit(':').next().unwrap_or(&key);
        if ["href", "url", "src", "uri", "resource"].contains(&local) || key == "xml:base" {
            url_field(
                &format!("{}@{key}", path(open, &name)),
                &value,
                false,
                None,
                found,
            );
        } else if local.starts_with("on") {
            found.push(format!("{}@{key}: an event handler", path(open, &name)));
        }
    }
    name
}

/// How a reader reads an element's text.
fn reading(format: Format, name: &str, e: &BytesStart<'_>) -> Reading {
    let attr = |wanted: &str| {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == wanted)
            .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok())
            .map(|v| v.into_owned())
    };
    match format {
        Format::Rss => match name {
            "link" | "comments" | "docs" | "url" | "wfw:commentRss" => Reading::Url,
            "guid" if attr("isPermaLink").as_deref() != Some("false") => Reading::Url,
            _ => Reading::Html,
        },
        _ => match name {
            "uri" | "icon" | "logo" => Reading::Url,
            "title" | "subtitle" | "summary" | "content" | "rights" => match attr("type").as_deref() {
                Some("html") => Reading::Html,
                // Markup as XML children: never written by feedfold, so any is a finding.
                Some("xhtml") => Reading::Html,
                _ => Reading::Plain,
            },
            _ => Reading::Plain,
        },
    }
}

fn field(place: &str, reading: Reading, text: &str, found: &mut Vec<String>) {
    match reading {
        Reading::Html => found.extend(html_findings(place, text, None)),
        Reading::Url if text.trim().is_empty() => {}
        Reading::Url => url_field(place, text, false, None, found),
        Reading::Plain => {}
    }
}

fn json_findings(place: &str, key: Option<&str>, value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                json_findings(&format!("{place}.{k}"), Some(k), v, found);
            }
        }
        serde_json::Value::Array(list) => {
            for (i, v) in list.iter().enumerate() {
                json_findings(&format!("{place}[{i}]"), key, v, found);
            }
        }
        serde_json::Value::String(s) => match key {
            Some("content_html") => found.extend(html_findings(place, s, None)),
            // JSON Feed 1.1: an author's `url` may be a `mailto:` link.
            Some(k) if listed(JSON_URL_KEYS, k) => {
                let mailto = k == "url" && place.contains(".authors[");
                url_field(place, s, mailto, None, found)
            }
            _ => {}
        },
        _ => {}
    }
}

/// Checks a URL a reader may load or follow: absolute `http` / `https` (or `mailto` where
/// `mailto` is allowed), with no script scheme however it is spelt. With a `base`, relative
/// URLs are resolved against it.
fn url_field(place: &str, value: &str, mailto: bool, base: Option<&Url>, found: &mut Vec<String>) {
    let squeezed: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    for scheme in ["javascript:", "vbscript:", "livescript:", "data:"] {
        if squeezed.starts_with(scheme) {
            found.push(format!("{place}: a {scheme} URL: {value:?}"));
            return;
        }
    }
    if value
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "<>\"`".contains(c))
    {
        found.push(format!(
            "{place}: a URL with characters a serialiser would escape: {value:?}"
        ));
        return;
    }
    let parsed = match base {
        Some(base) => base.join(value),
        None => Url::parse(value),
    };
    match parsed {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        Ok(u) if mailto && u.scheme() == "mailto" => {}
        Ok(u) => found.push(format!("{place}: a {}: URL: {value:?}", u.scheme())),
        Err(e) => found.push(format!("{place}: not an absolute URL ({e}): {value:?}")),
    }
}

struct Sink<'a> {
    place: &'a str,
    base: Option<&'a Url>,
    found: RefCell<Vec<String>>,
}

impl Sink<'_> {
    fn push(&self, what: String) {
        self.found.borrow_mut().push(format!("{}: {what}", self.place));
    }

    fn tag(&self, tag: &Tag) {
        let name: &str = &tag.name;
        if listed(FORBIDDEN_TAGS, name) {
            self.push(format!("a <{name}> element"));
        }
        let plain_name = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !plain_name {
            self.push(format!("a malformed tag <{name}>"));
        }
        let mut rel = None;
        let mut href = None;
        for attr in &tag.attrs {
            let key: &str = &attr.name.local;
            let value: &str = &attr.value;
            let place = format!("{}: <{name} {key}>", self.place);
            if key.starts_with("on") {
                self.push(format!("an event handler <{name} {key}={value:?}>"));
            } else if listed(FORBIDDEN_ATTRIBUTES, key) || key.contains(':') {
                self.push(format!("a forbidden attribute <{name} {key}={value:?}>"));
            } else if listed(URL_ATTRIBUTES, key) {
                let mut found = Vec::new();
                url_field(&place, value, key == "href", self.base, &mut found);
                self.found.borrow_mut().extend(found);
            }
            if value.contains("&{") {
                self.push(format!("a script entity in <{name} {key}={value:?}>"));
            }
            match key {
                "rel" => rel = Some(value.to_ascii_lowercase()),
                "href" => href = Some(value),
                _ => {}
            }
        }
        let same_site = |href: &str| self.base.is_some() && Url::parse(href).is_err();
        if name == "a"
            && let Some(href) = href
            && !same_site(href)
        {
            let rel = rel.unwrap_or_default();
            let words: Vec<&str> = rel.split_ascii_whitespace().collect();
            if !words.contains(&"noopener") || !words.contains(&"noreferrer") {
                self.push(format!("a link without rel=\"noopener noreferrer\": {href:?}"));
            }
        }
    }
}

impl TokenSink for Sink<'_> {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => self.tag(&tag),
            Token::CommentToken(c) => self.push(format!("a comment <!--{c}-->")),
            Token::DoctypeToken(_) => self.push("a doctype".to_string()),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}
