//! Hostile feeds: every XSS filter-evasion vector of `tests/fixtures/xss/vectors.txt` (and of
//! [`ALLOW_LIST_VECTORS`]) in every position of every input format, through fetch, store and
//! publish, and none may survive into any output.
//!
//! In: the corpus. The generator writes, for each vector and each input carrier (RSS 2.0,
//! RSS 0.91, RSS 1.0 and Atom, each with XML-escaped text and with CDATA, and JSON Feed), one
//! feed whose title and home link are the vector and which has one item per item position
//! (title, summary, content, author, category, link, enclosure URL) carrying the vector there.
//! Out: the outputs (RSS, Atom, JSON Feed; one entry per item and one per story) and the daemon's
//! index page, each checked by [`inert`](crate::support::inert); and proof that the vectors did
//! reach the parser and that the checker finds every one of them when nothing sanitises it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use feedfold::model::{Enclosure, Regions};
use feedfold::output::{Entry, FeedMeta, Format, Selection};
use feedfold::serve::index::Digest;
use serde_json::json;
use url::Url;

use crate::support::inert::{html_findings, output_findings};
use crate::support::{Env, fixtures, sources};

/// What a vector attacks (its section in the corpus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    Html,
    Url,
    Text,
}

#[derive(Debug, Clone)]
struct Vector {
    attack: Attack,
    text: String,
}

/// `[html]` vectors aimed at what the sanitiser keeps from feedparser's allow-lists: the
/// URL-valued attributes beyond `href` and `src`, filtered `style`, attributes that can carry a
/// Netscape script entity, and handlers on the newly kept elements.
const ALLOW_LIST_VECTORS: &[&str] = &[
    r#"<form action="javascript:alert(1)"><input type="submit" value="go"></form>"#,
    r#"<table><tr><td background="javascript:alert(1)">cell</td></tr></table>"#,
    r#"<video poster="javascript:alert(1)" controls></video>"#,
    r#"<span style="background: url(javascript:alert(1))">styled</span>"#,
    r#"<span style="width: expression(alert(1))">styled</span>"#,
    r#"<p style="color: red; -moz-binding: url(https://xss.example/x.xml#x)">bound</p>"#,
    r#"<img src="https://ok.example/a.png" dynsrc="javascript:alert(1)" lowsrc="vbscript:msgbox(1)" longdesc="javascript:alert(1)" usemap="javascript:alert(1)">"#,
    r#"<a href="https://ok.example/p" ping="javascript:alert(1)">pinged</a>"#,
    r#"<span data="data:text/html,<script>alert(1)</script>" icon="javascript:alert(1)" cite="javascript:alert(1)" action="javascript:alert(1)" datasrc="javascript:alert(1)">attrs</span>"#,
    r#"<font color="red" size="&{alert('XSS')};">font</font>"#,
    r#"<dialog open onclose="alert(1)"><label for="x" onclick="alert(1)">label</label></dialog>"#,
];

/// The corpus, control characters spelt out.
fn corpus() -> Vec<Vector> {
    let text =
        std::fs::read_to_string(fixtures().join("xss/vectors.txt")).expect("tests/fixtures/xss/vectors.txt");
    let mut attack = None;
    let mut vectors = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        match line {
            "[html]" => attack = Some(Attack::Html),
            "[url]" => attack = Some(Attack::Url),
            "[text]" => attack = Some(Attack::Text),
            _ => {
                let text = [
                    ("{TAB}", "\t"),
                    ("{LF}", "\n"),
                    ("{CR}", "\r"),
                    ("{FF}", "\u{c}"),
                    ("{SOH}", "\u{1}"),
                    ("{NUL}", "\u{0}"),
                ]
                .iter()
                .fold(line.to_string(), |s, (name, c)| s.replace(name, c));
                vectors.push(Vector {
                    attack: attack.expect("a section before the first vector"),
                    text,
                });
            }
        }
    }
    vectors.extend(ALLOW_LIST_VECTORS.iter().map(|v| Vector {
        attack: Attack::Html,
        text: v.to_string(),
    }));
    vectors
}

/// An input format and how text is carried in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Rss2,
    Rss091,
    Rss1,
    Atom,
    Json,
}

/// How element text is written in an XML input (attribute values are always escaped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    Escaped,
    Cdata,
}

const INPUTS: [(Input, Carrier); 9] = [
    (Input::Rss2, Carrier::Escaped),
    (Input::Rss2, Carrier::Cdata),
    (Input::Rss091, Carrier::Escaped),
    (Input::Rss091, Carrier::Cdata),
    (Input::Rss1, Carrier::Escaped),
    (Input::Rss1, Carrier::Cdata),
    (Input::Atom, Carrier::Escaped),
    (Input::Atom, Carrier::Cdata),
    (Input::Json, Carrier::Escaped),
];

fn input_name(input: Input, carrier: Carrier) -> String {
    let format = match input {
        Input::Rss2 => "rss2",
        Input::Rss091 => "rss091",
        Input::Rss1 => "rss1",
        Input::Atom => "atom",
        Input::Json => return "json".to_string(),
    };
    match carrier {
        Carrier::Escaped => format!("{format}-escaped"),
        Carrier::Cdata => format!("{format}-cdata"),
    }
}

/// Where in an item a vector is put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Title,
    Summary,
    Content,
    Author,
    Category,
    Link,
    Enclosure,
}

const POSITIONS: [Position; 7] = [
    Position::Title,
    Position::Summary,
    Position::Content,
    Position::Author,
    Position::Category,
    Position::Link,
    Position::Enclosure,
];

/// Whether an input format has a place for `position` (RSS 1.0 has no categories or
/// enclosures).
fn has(input: Input, position: Position) -> bool {
    input != Input::Rss1 || !matches!(position, Position::Category | Position::Enclosure)
}

fn position_name(position: Position) -> &'static str {
    match position {
        Position::Title => "title",
        Position::Summary => "summary",
        Position::Content => "content",
        Position::Author => "author",
        Position::Category => "category",
        Position::Link => "link",
        Position::Enclosure => "enclosure",
    }
}

/// What XML 1.0 can carry of a string: characters it forbids even as references are dropped.
fn xml_chars(s: &str) -> String {
    s.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect()
}

/// Element text in an XML input.
fn xml_text(carrier: Carrier, s: &str) -> String {
    let s = xml_chars(s);
    match carrier {
        Carrier::Escaped => s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"),
        Carrier::Cdata => format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>")),
    }
}

/// An attribute value in an XML input (quoted with `"`; whitespace kept as references, since a
/// parser turns literal tabs and newlines into spaces).
fn xml_attr(s: &str) -> String {
    let mut out = String::new();
    for c in xml_chars(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// One item of a generated feed: the vector in one position, benign values elsewhere.
struct ItemSpec<'a> {
    id: String,
    title: String,
    link: String,
    position: Position,
    vector: &'a str,
}

/// A word that differs per item, so benign titles never look alike to the folding pass.
fn word(seed: &str) -> String {
    let mut h = xxhash_rust::xxh3::xxh3_64(seed.as_bytes());
    (0..12)
        .map(|_| {
            let c = char::from(b'a' + (h % 26) as u8);
            h /= 26;
            c
        })
        .collect()
}

fn items(n: usize, input: Input, vector: &str) -> Vec<ItemSpec<'_>> {
    POSITIONS
        .iter()
        .filter(|&&p| has(input, p))
        .map(|&position| {
            let name = position_name(position);
            ItemSpec {
                id: format!("urn:xss:{n}:{name}"),
                title: if position == Position::Title {
                    vector.to_string()
                } else {
                    format!("Benign {}", word(&format!("{n}/{name}")))
                },
                link: if position == Position::Link {
                    vector.to_string()
                } else {
                    format!("https://benign.example/{n}/{name}")
                },
                position,
                vector,
            }
        })
        .collect()
}

/// The element carrying `vector` at an item `position` of an XML input (nothing for the title
/// and link, which every item has).
fn xml_field(input: Input, carrier: Carrier, position: Position, vector: &str) -> String {
    let v = xml_text(carrier, vector);
    let a = xml_attr(vector);
    match (input, position) {
        (_, Position::Title | Position::Link) => String::new(),
        (Input::Atom, Position::Summary) => format!("<summary type=\"html\">{v}</summary>"),
        (Input::Atom, Position::Content) => format!("<content type=\"html\">{v}</content>"),
        (Input::Atom, Position::Author) => format!("<author><name>{v}</name></author>"),
        (Input::Atom, Position::Category) => format!("<category term=\"{a}\" label=\"{a}\"/>"),
        (Input::Atom, Position::Enclosure) => {
            format!("<link rel=\"enclosure\" type=\"audio/mpeg\" length=\"1\" href=\"{a}\"/>")
        }
        (_, Position::Summary) => format!("<description>{v}</description>"),
        (_, Position::Content) => format!("<content:encoded>{v}</content:encoded>"),
        (Input::Rss091, Position::Author) => format!("<author>{v}</author>"),
        (_, Position::Author) => format!("<dc:creator>{v}</dc:creator>"),
        (_, Position::Category) => format!("<category>{v}</category>"),
        (_, Position::Enclosure) => format!("<enclosure url=\"{a}\" length=\"1\" type=\"audio/mpeg\"/>"),
    }
}

/// The feed carrying vector `n` in `input`.
fn feed(input: Input, carrier: Carrier, n: usize, vector: &str) -> String {
    let items = items(n, input, vector);
    if input == Input::Json {
        return json_feed(n, vector, &items);
    }
    let t = |s: &str| xml_text(carrier, s);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str(&match input {
        Input::Rss1 => {
            let seq: String = items
                .iter()
                .map(|i| format!("<rdf:li rdf:resource=\"{}\"/>", i.id))
                .collect();
            format!(
                "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
                 xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
                 xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n\
                 <channel rdf:about=\"https://benign.example/rss1/{n}\"><title>{}</title><link>{}</link>\
                 <description>vector {n}</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>\n",
                t(vector),
                t(vector)
            )
        }
        Input::Atom => format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"html\">{}</title>\
             <link rel=\"alternate\" href=\"{}\"/><id>urn:xss:feed:{n}</id>\
             <updated>2022-01-03T10:00:00Z</updated>\n",
            t(vector),
            xml_attr(vector)
        ),
        _ => format!(
            "<rss version=\"{}\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
             xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n<channel>\
             <title>{}</title><link>{}</link><description>vector {n}</description>\n",
            if input == Input::Rss2 { "2.0" } else { "0.91" },
            t(vector),
            t(vector)
        ),
    });
    for i in &items {
        x.push_str(&xml_item(input, carrier, i));
    }
    x.push_str(match input {
        Input::Rss1 => "</rdf:RDF>\n",
        Input::Atom => "</feed>\n",
        _ => "</channel></rss>\n",
    });
    x
}

/// One item (entry) of an XML input.
fn xml_item(input: Input, carrier: Carrier, i: &ItemSpec<'_>) -> String {
    let t = |s: &str| xml_text(carrier, s);
    let (open, close) = match input {
        Input::Rss1 => (
            format!(
                "<item rdf:about=\"{}\"><title>{}</title><link>{}</link><dc:date>2022-01-03T10:00:00Z</dc:date>",
                i.id,
                t(&i.title),
                t(&i.link)
            ),
            "</item>",
        ),
        Input::Atom => (
            format!(
                "<entry><id>{}</id><title type=\"html\">{}</title><link rel=\"alternate\" href=\"{}\"/>\
                 <updated>2022-01-03T10:00:00Z</updated>",
                i.id,
                t(&i.title),
                xml_attr(&i.link)
            ),
            "</entry>",
        ),
        _ => (
            format!(
                "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid>\
                 <pubDate>Mon, 03 Jan 2022 10:00:00 +0000</pubDate>",
                t(&i.title),
                t(&i.link),
                i.id
            ),
            "</item>",
        ),
    };
    format!(
        "{open}{}{close}\n",
        xml_field(input, carrier, i.position, i.vector)
    )
}

fn json_feed(n: usize, vector: &str, items: &[ItemSpec<'_>]) -> String {
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            let mut item = json!({
                "id": i.id,
                "url": i.link,
                "title": i.title,
                "date_published": "2022-01-03T10:00:00Z",
            });
            let (key, value) = match i.position {
                Position::Summary => ("summary", json!(i.vector)),
                Position::Content => ("content_html", json!(i.vector)),
                Position::Author => ("authors", json!([{ "name": i.vector }])),
                Position::Category => ("tags", json!([i.vector])),
                Position::Link => ("external_url", json!(i.vector)),
                Position::Enclosure => (
                    "attachments",
                    json!([{ "url": i.vector, "mime_type": "audio/mpeg", "size_in_bytes": 1 }]),
                ),
                Position::Title => return item,
            };
            item[key] = value;
            item
        })
        .collect();
    json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": vector,
        "home_page_url": vector,
        "feed_url": format!("https://benign.example/json/{n}.json"),
        "items": items,
    })
    .to_string()
}

/// Whitespace and controls removed, lower case: how a carried value is compared with its vector
/// (parsers trim, URL parsers lower the scheme, and XML cannot carry some controls).
fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_lowercase()
}

/// Whether feed-rs found `vector` at `position` of entry `e`: the carrier works.
fn carried(e: &feed_rs::model::Entry, position: Position, vector: &str) -> bool {
    let want = squeeze(vector);
    let text = |t: &Option<feed_rs::model::Text>| t.as_ref().is_some_and(|t| squeeze(&t.content) == want);
    match position {
        Position::Title => text(&e.title),
        Position::Summary => text(&e.summary),
        Position::Content => e
            .content
            .as_ref()
            .and_then(|c| c.body.as_deref())
            .is_some_and(|b| squeeze(b) == want),
        Position::Author => e
            .authors
            .iter()
            .any(|p| p.name.as_deref().is_some_and(|n| squeeze(n) == want)),
        Position::Category => e
            .categories
            .iter()
            .any(|c| squeeze(&c.term) == want || c.label.as_deref().is_some_and(|l| squeeze(l) == want)),
        Position::Link => e.links.iter().any(|l| squeeze(&l.href) == want),
        // Enclosure URLs are parsed as URLs by feed-rs: what is not one never arrives.
        Position::Enclosure => {
            e.links.iter().any(|l| squeeze(&l.href) == want)
                || e.media
                    .iter()
                    .flat_map(|m| &m.content)
                    .filter_map(|c| c.url.as_ref())
                    .any(|u| u.as_str() == Url::parse(vector).map(String::from).unwrap_or_default())
        }
    }
}

#[test]
fn the_corpus_covers_every_family() {
    let vectors = corpus();
    assert!(vectors.len() >= 40, "{} vectors", vectors.len());
    let any = |attack: Attack, needle: &str| {
        vectors
            .iter()
            .any(|v| v.attack == attack && v.text.to_ascii_lowercase().contains(needle))
    };
    for needle in [
        "<script",
        "<svg",
        "<math",
        "onerror",
        "&#x6a",
        "&#0000106",
        "\t",
        "\0",
        "data:",
        "vbscript:",
        "expression(",
        "@import",
        "<iframe",
        "<object",
        "<embed",
        "<form",
        "<meta",
        "<base",
        "style=",
        "srcset",
        "formaction",
        "xlink:href",
        "<!--[if",
        "background=",
        "poster=",
        "dynsrc=",
        "ping=",
        "style=\"background: url(",
        "expression(alert",
    ] {
        assert!(any(Attack::Html, needle), "no [html] vector with {needle:?}");
    }
    for needle in [
        "javascript:",
        "java\tscript:",
        " javascript:",
        "\u{1}",
        "vbscript:",
        "data:",
    ] {
        assert!(any(Attack::Url, needle), "no [url] vector with {needle:?}");
    }
    assert!(vectors.iter().any(|v| v.attack == Attack::Text));
}

#[test]
fn every_vector_reaches_the_parser_in_every_position() {
    for (n, v) in corpus().iter().enumerate() {
        for (input, carrier) in INPUTS {
            let text = feed(input, carrier, n, &v.text);
            let name = input_name(input, carrier);
            let parsed = feed_rs::parser::parse(text.as_bytes())
                .unwrap_or_else(|e| panic!("{name} #{n}: {e}\n{text}"));
            let want = squeeze(&xml_chars(&v.text));
            assert!(
                parsed.title.as_ref().is_some_and(|t| squeeze(&t.content) == want),
                "{name} #{n}: feed title {:?}",
                parsed.title
            );
            let items = items(n, input, &v.text);
            assert_eq!(parsed.entries.len(), items.len(), "{name} #{n}\n{text}");
            // feed-rs keeps no RSS 1.0 id: entries are matched by order.
            for (i, e) in items.iter().zip(&parsed.entries) {
                let vector = if input == Input::Json {
                    v.text.clone()
                } else {
                    xml_chars(&v.text)
                };
                // Only URLs survive feed-rs's own parsing of enclosures.
                let must = i.position != Position::Enclosure || v.attack == Attack::Url;
                assert!(
                    !must || carried(e, i.position, &vector),
                    "{name} #{n} {:?} not carried: {:?}\n{text}",
                    i.position,
                    v.text
                );
            }
        }
    }
}

/// An entry with every field set and `edit` applied.
fn entry(edit: impl FnOnce(&mut Entry)) -> Entry {
    let t = Utc.with_ymd_and_hms(2022, 1, 3, 10, 0, 0).single().expect("date");
    let mut e = Entry {
        id: "urn:feedfold:story:x".into(),
        story: "x".into(),
        title: "A title".into(),
        link: Some("https://benign.example/a".into()),
        published: t,
        updated: t,
        summary_html: Some("<p>summary</p>".into()),
        content_html: Some("<p>content</p>".into()),
        authors: vec!["An author".into()],
        categories: vec!["A category".into()],
        language: Some("en".into()),
        extras: Default::default(),
        title_html: None,
        enclosures: vec![Enclosure {
            url: "https://benign.example/a.mp3".into(),
            mime: Some("audio/mpeg".into()),
            length: Some(1),
        }],
        source: "src".into(),
        others: Vec::new(),
        regions: Regions::default(),
    };
    edit(&mut e);
    e
}

fn meta() -> FeedMeta {
    FeedMeta {
        name: "x".into(),
        title: "X".into(),
        description: None,
        home: Url::parse("https://feeds.example/").expect("url"),
        author: "X".into(),
        self_token: None,
    }
}

fn render(format: Format, e: Entry) -> Vec<u8> {
    feedfold::output::render(format, &meta(), &[e], Utc::now()).expect("renders")
}

#[test]
fn the_checker_passes_a_clean_output_and_finds_every_vector_left_unsanitised() {
    for format in Format::ALL {
        let clean = render(format, entry(|_| {}));
        assert_eq!(
            output_findings(format, &clean),
            Vec::<String>::new(),
            "{format:?}"
        );
    }
    for v in corpus() {
        match v.attack {
            Attack::Html => {
                for format in Format::ALL {
                    let bytes = render(format, entry(|e| e.content_html = Some(v.text.clone())));
                    assert!(
                        !output_findings(format, &bytes).is_empty(),
                        "{format:?}: {:?} unsanitised in content is not found",
                        v.text
                    );
                }
            }
            Attack::Url => {
                for format in Format::ALL {
                    let link = render(format, entry(|e| e.link = Some(v.text.clone())));
                    let enclosure = render(format, entry(|e| e.enclosures[0].url = v.text.clone()));
                    for bytes in [link, enclosure] {
                        assert!(
                            !output_findings(format, &bytes).is_empty(),
                            "{format:?}: {:?} as a link or enclosure is not found",
                            v.text
                        );
                    }
                }
            }
            // Markup once its entities are decoded, as a reader that decodes a plain-text
            // field and renders the result would.
            Attack::Text => {
                let decoded = feedfold::html::to_text(&v.text);
                assert!(!html_findings("text", &decoded, None).is_empty(), "{decoded:?}");
            }
        }
    }
}

#[test]
fn the_checker_finds_known_bad_outputs() {
    let rss = |item: &str| {
        format!("<rss version=\"2.0\"><channel><title>t</title><item>{item}</item></channel></rss>")
    };
    let rss_items = [
        "<description>&lt;script&gt;x()&lt;/script&gt;</description>",
        "<link>javascript:alert(1)</link>",
        "<link> JaVa&#9;Script:alert(1)</link>",
        "<link>file:///etc/passwd</link>",
        "<description><![CDATA[<a href=\"&#106;avascript:x()\" rel=\"noopener noreferrer\">x</a>]]></description>",
        "<description><![CDATA[<p style=\"color:red\">x</p>]]></description>",
        "<description><![CDATA[<a href=\"https://x.example/\">no rel</a>]]></description>",
        "<description><![CDATA[<!--[if IE]><p>x</p><![endif]-->]]></description>",
        "<title>&lt;img src=x onerror=alert(1)&gt;</title>",
        "<enclosure url=\"data:text/html,x\" length=\"1\" type=\"text/html\"/>",
        "<description>x</description></item></channel>",
    ];
    let atom =
        |entry: &str| format!("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry>{entry}</entry></feed>");
    let atom_entries = [
        "<title type=\"html\">&lt;svg onload=x()&gt;</title>",
        "<link href=\"vbscript:x\"/>",
        "<content type=\"html\">&lt;img src=\"x.png\" srcset=\"javascript:x() 1x\"&gt;</content>",
        "<summary type=\"html\">&lt;iframe src=https://x.example/&gt;</summary>",
        "<content type=\"html\">&lt;img src=\"/relative.png\"&gt;</content>",
    ];
    let json_items = [
        json!({"url": "javascript:alert(1)"}),
        json!({"external_url": "\u{1}javascript:alert(1)"}),
        json!({"content_html": "<object data=\"https://x.example/x.swf\"></object>"}),
        json!({"content_html": "<a href=\"https://x.example/\" rel=\"noopener noreferrer\" onclick=\"x()\">x</a>"}),
        json!({"attachments": [{"url": "data:audio/mpeg;base64,AAAA"}]}),
        json!({"_feedfold": {"members": [{"url": "javascript:x()"}]}}),
    ];
    let bad = (rss_items.iter().map(|i| (Format::Rss, rss(i))))
        .chain(atom_entries.iter().map(|e| (Format::Atom, atom(e))))
        .chain(
            json_items
                .iter()
                .map(|i| (Format::JsonFeed, json!({ "items": [i] }).to_string())),
        );
    for (format, doc) in bad {
        assert!(!output_findings(format, doc.as_bytes()).is_empty(), "{doc}");
    }
    // Plain text stays plain where the format says so.
    let plain_atom = atom("<title type=\"text\">&lt;script&gt;</title>");
    assert_eq!(
        output_findings(Format::Atom, plain_atom.as_bytes()),
        Vec::<String>::new()
    );
    let plain_json = json!({"items": [{"title": "<script>alert(1)</script>", "summary": "javascript:x()"}]});
    assert_eq!(
        output_findings(Format::JsonFeed, plain_json.to_string().as_bytes()),
        Vec::<String>::new()
    );
}

/// Writes every feed of the corpus into `dir`; returns the `(name, path)` of each source.
fn write_feeds(dir: &Path, vectors: &[Vector]) -> Vec<(String, String)> {
    let mut list = Vec::new();
    for (n, v) in vectors.iter().enumerate() {
        for (input, carrier) in INPUTS {
            let name = format!("{}-{n:03}", input_name(input, carrier));
            let ext = if input == Input::Json { "json" } else { "xml" };
            let path = dir.join(format!("{name}.{ext}"));
            std::fs::write(&path, feed(input, carrier, n, &v.text)).expect("write feed");
            list.push((name, path.display().to_string()));
        }
    }
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_vector_survives_into_any_output() {
    let vectors = corpus();
    let feeds = tempfile::tempdir().expect("tempdir");
    let list = write_feeds(feeds.path(), &vectors);
    let list: Vec<(&str, String)> = list.iter().map(|(n, p)| (n.as_str(), p.clone())).collect();
    let body = format!(
        "[publish]\nbase_url = \"https://feeds.example/ff\"\n\n\
         [[output]]\nname = \"every\"\ntitle = \"Every copy\"\ndedup = \"off\"\nlimit = 100000\n\n\
         [[output]]\nname = \"stories\"\ntitle = \"One per story\"\nlimit = 100000\n\n{}",
        sources(&list)
    );
    let env = Env::new(&body).await;
    let reports = env.fetch().await;
    let failed: Vec<_> = reports.iter().filter(|r| r.failed()).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let items = env.store.all_items().await.expect("items");
    let per_vector: usize = INPUTS
        .iter()
        .map(|&(input, _)| POSITIONS.iter().filter(|&&p| has(input, p)).count())
        .sum();
    assert_eq!(items.len(), vectors.len() * per_vector, "every item is stored");

    let out = env.publish().await;
    let mut found = Vec::new();
    for name in ["every", "stories"] {
        for format in Format::ALL {
            let file = format!("{name}.{}", format.extension());
            let bytes = std::fs::read(out.join(&file)).expect("output written");
            found.extend(
                output_findings(format, &bytes)
                    .into_iter()
                    .map(|f| format!("{file}: {f}")),
            );
        }
    }
    let every: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("every.json")).expect("json")).expect("json");
    let entries = every["items"].as_array().expect("items");
    assert_eq!(entries.len(), items.len(), "every item is published");
    // Titles stay text: a vector hidden behind one level of escaping is shown, not run.
    assert!(
        entries
            .iter()
            .any(|e| e["title"].as_str() == Some("<script>alert(1)</script>")),
        "the escaped script vector is a plain-text title"
    );

    // Sanitised, not emptied: the handler is gone from the good link, which is still there.
    assert!(
        entries.iter().any(|e| e["content_html"]
            .as_str()
            .is_some_and(|h| h.contains("<a href=\"https://ok.example/\" rel=\"noopener noreferrer\">"))),
        "the good link of a vector survives its handler"
    );
    // Copies of one item in several formats are one story: its other copies are listed too.
    let stories: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("stories.json")).expect("json")).expect("json");
    assert!(
        stories["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["_feedfold"]["members"]
                .as_array()
                .is_some_and(|m| m.len() == INPUTS.len())),
        "a story with a copy from every input"
    );

    let statuses = env.store.source_statuses().await.expect("statuses");
    assert!(
        statuses
            .values()
            .any(|s| s.title.as_deref() == Some("<script>alert(1)</script>")),
        "feed titles are stored as plain text"
    );
    // The index page lists each output's latest stories, selected as its feeds are.
    let mut digests = HashMap::new();
    for out in &env.config.outputs {
        let sources = env.config.output_sources(out);
        let entries = feedfold::pipeline::publish::entries(&env.store, &sources, Selection::of(out))
            .await
            .expect("entries");
        digests.insert(out.name.clone(), Arc::new(Digest::of(&entries)));
    }
    let page = feedfold::serve::index::page(&env.config, &digests, &statuses, &HashMap::new());
    assert!(
        page.matches("<ol class=\"stories\">").count() == env.config.outputs.len(),
        "every output lists stories"
    );
    let body = page
        .split_once("<body>")
        .and_then(|(_, rest)| rest.split_once("</body>"))
        .map(|(body, _)| body)
        .expect("a body");
    // The page's own controls and script are not from the feeds: what the feeds gave is checked.
    let script = format!("<script>{}</script>", feedfold::serve::index::SCRIPT);
    let body = body.replace(&script, "");
    let body = strip_between(&body, "<ul class=\"subscribe\">", "</ul>");
    let base = Url::parse("https://feeds.example/").expect("url");
    found.extend(html_findings("index page", &body, Some(&base)));

    let shown = found.len().min(40);
    assert!(
        found.is_empty(),
        "{} findings; the first {shown}:\n{}",
        found.len(),
        found[..shown].join("\n")
    );
}

/// `text` without every run from `start` to the next `end` (both included).
fn strip_between(text: &str, start: &str, end: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(start) {
        out.push_str(&rest[..i]);
        rest = rest[i..].find(end).map_or("", |j| &rest[i + j + end.len()..]);
    }
    out.push_str(rest);
    out
}
