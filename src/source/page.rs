//! Web pages: an article page's body, and a list page's items.
//!
//! In: a page's bytes, the `charset` of its HTTP `Content-Type`, its URL and the source's rules
//! (CSS selectors from the config, parsed once: [`Selector`]). Out: an [`Article`] (the body as
//! HTML, and as text, one line per block), the [`Item`]s a list page links to, or a
//! [`PageError`].
//!
//! An article is read in four steps. The bytes are decoded as feeds are (HTTP charset, else a
//! `<meta charset>`, then detection: [`decode`]). The elements the source's `remove_selectors`
//! match are taken out. The body is the elements its `content_selector` matches, or else what
//! readability finds ([`dom_smoothie`], a port of Mozilla's readability.js on html5ever, the
//! parser feedfold already has), which leaves out navigation, sidebars, related stories and
//! footers. Last, the generic line rules of the comparison text
//! ([`normalize::line_rule`]) tidy what the container still holds: a leading line repeating the
//! title, date / source / byline / editor / tag / share lines and "Read more:" links go, and the
//! text ends at a "related news" or comments header, a headline list or a press release's `完`.
//! The HTML loses the same lines as the text, so what is republished is what is compared.
//!
//! A list page (`[[source]] kind = "page"`) becomes one [`Item`] per element its
//! `item_selector` matches: the title, link and date from the optional selectors within it
//! (else its first link and that link's text), the link resolved against the page's URL, the
//! date read by [`parse_date_near`] (year-less `11-20 10:00` in the year of the fetch).
//!
//! [`token_scores`] measures an extracted text against a hand-marked body (tests, benchmarks).

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, Utc};
use dom_query::{Document, Matcher, NodeRef};
use url::Url;

use super::decode::decode;
use super::parse::{item_key, parse_date_near};
use crate::html;
use crate::model::Item;
use crate::transform::normalize::{self, LineRule};

/// A CSS selector from the config, parsed: `div.article-body`, `ul.news > li`.
#[derive(Clone)]
pub struct Selector {
    text: String,
    matcher: Matcher,
}

impl std::fmt::Debug for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Selector({:?})", self.text)
    }
}

impl Selector {
    /// Parses a CSS selector; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must be a CSS selector, like \"div.article\"".to_string());
        }
        Matcher::new(text)
            .map(|matcher| Selector {
                text: text.to_string(),
                matcher,
            })
            .map_err(|_| format!("`{text}` is not a valid CSS selector"))
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// How a source's article pages are read: `content_selector` and `remove_selectors`.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The article body: every element it matches, in page order; None: readability finds it.
    pub content: Option<Selector>,
    /// Elements removed before anything else (ads, share bars, embedded lists).
    pub remove: Vec<Selector>,
}

/// How a list page becomes items: `item_selector` and the selectors within each item.
#[derive(Debug, Clone)]
pub struct ListRules {
    /// One item per element it matches.
    pub item: Selector,
    /// The title within an item (default: the link's text).
    pub title: Option<Selector>,
    /// The link within an item (default: its first `a[href]`, or the item itself).
    pub link: Option<Selector>,
    /// The date within an item (default: none).
    pub date: Option<Selector>,
}

/// An article's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The body as HTML (not sanitised: it is sanitised when stored, as a feed's content is).
    pub html: String,
    /// The body as text, one line per block.
    pub text: String,
}

/// Why a page gave no article.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// `content_selector` matched nothing on the page.
    #[error("the page has nothing `{0}` matches (content_selector)")]
    NoMatch(String),
    /// Readability found no body.
    #[error("no article found on the page")]
    NoArticle,
}

/// The charset a page's `<meta>` declares in its first 1024 bytes, if any.
fn meta_charset(bytes: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let label: String = head[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        .collect();
    (!label.is_empty()).then_some(label)
}

/// A page's text: decoded as a feed is, the HTTP charset first, else the `<meta>` one.
fn page_text(bytes: &[u8], charset: Option<&str>) -> String {
    let declared = charset.map(str::to_string).or_else(|| meta_charset(bytes));
    decode(bytes, declared.as_deref()).text
}

/// Reads the article of a page (see the module documentation); `url` makes its links absolute
/// and `title` (the item's, when known) is dropped from the start of the body.
pub fn extract(
    bytes: &[u8],
    charset: Option<&str>,
    url: Option<&Url>,
    title: Option<&str>,
    rules: &Rules,
) -> Result<Article, PageError> {
    let doc = Document::from(page_text(bytes, charset));
    for selector in &rules.remove {
        doc.select_matcher(&selector.matcher).remove();
    }
    let (body, page_title) = match &rules.content {
        Some(selector) => {
            let found = doc.select_matcher(&selector.matcher);
            if found.is_empty() {
                return Err(PageError::NoMatch(selector.text.clone()));
            }
            let html: String = found.nodes().iter().map(|n| n.html().to_string()).collect();
            let page_title = doc.select("title").text().to_string();
            (html, page_title)
        }
        None => {
            let cfg = dom_smoothie::Config {
                text_mode: dom_smoothie::TextMode::Raw,
                ..Default::default()
            };
            let mut readability =
                dom_smoothie::Readability::with_document(doc, url.map(Url::as_str), Some(cfg))
                    .map_err(|_| PageError::NoArticle)?;
            let article = readability.parse().map_err(|_| PageError::NoArticle)?;
            (article.content.to_string(), article.title)
        }
    };
    let article = tidy(&body, [title.unwrap_or(""), page_title.as_str()]);
    if article.text.is_empty() {
        return Err(PageError::NoArticle);
    }
    Ok(article)
}

/// Tags whose content is never text.
const HIDDEN: &[&str] = &["script", "style", "template", "noscript", "head", "title"];

/// Elements kept when they hold no text: media and line structure.
const KEEP_EMPTY: &[&str] = &[
    "img", "picture", "source", "video", "audio", "iframe", "embed", "object", "svg", "br", "hr", "td", "th",
    "tr",
];

/// One line of a body: its text nodes, as [`html::to_text`] would put them on one line.
struct Line<'a> {
    text: String,
    nodes: Vec<NodeRef<'a>>,
}

/// Splits the content under `node` into lines at block elements and `<br>`.
fn lines_of<'a>(node: &NodeRef<'a>, out: &mut Vec<Line<'a>>) {
    let new_line = |out: &mut Vec<Line<'a>>| {
        if out.last().is_none_or(|l| !l.nodes.is_empty()) {
            out.push(Line {
                text: String::new(),
                nodes: Vec::new(),
            });
        }
    };
    for child in node.children() {
        if child.is_text() {
            if out.is_empty() {
                new_line(out);
            }
            if let Some(line) = out.last_mut() {
                line.text.push_str(&child.text());
                line.nodes.push(child);
            }
        } else if child.is_element() {
            let name = child
                .node_name()
                .map(|n| n.to_ascii_lowercase())
                .unwrap_or_default();
            if HIDDEN.contains(&name.as_str()) {
                continue;
            }
            let block = html::BLOCK_TAGS.contains(&name.as_str());
            if block {
                new_line(out);
            }
            lines_of(&child, out);
            if block {
                new_line(out);
            }
        }
    }
}

/// Removes every node after `node` in document order, under `root`.
fn cut_after(node: &NodeRef<'_>, root: &NodeRef<'_>) {
    let mut at = *node;
    while at.id != root.id {
        while let Some(next) = at.next_sibling() {
            next.remove_from_parent();
        }
        match at.parent() {
            Some(parent) => at = parent,
            None => break,
        }
    }
}

/// Removes the elements under `node` left without text or media.
fn drop_empty(node: &NodeRef<'_>) {
    for child in node.children() {
        if !child.is_element() {
            continue;
        }
        drop_empty(&child);
        let name = child
            .node_name()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        let keep = KEEP_EMPTY.contains(&name.as_str())
            || child.children().iter().any(|c| c.is_element())
            || !child.text().trim().is_empty();
        if !keep {
            child.remove_from_parent();
        }
    }
}

/// The body in `content` with the generic line rules applied (see the module documentation);
/// a first line repeating one of `titles` goes too.
fn tidy(content: &str, titles: [&str; 2]) -> Article {
    let doc = Document::fragment(content);
    let root = doc.root();
    let mut lines = Vec::new();
    lines_of(&root, &mut lines);
    lines.retain(|l| !l.text.trim().is_empty());
    let texts: Vec<String> = lines.iter().map(|l| html::one_line(&l.text)).collect();
    let titles: Vec<String> = titles
        .iter()
        .flat_map(|t| [normalize::fold(t), normalize::fold(normalize::clean_title(t))])
        .filter(|t| !t.is_empty())
        .collect();
    let mut end = normalize::headline_list_start(&texts).unwrap_or(texts.len());
    let mut dropped = Vec::new();
    for (i, text) in texts.iter().enumerate().take(end) {
        if i < 2 && titles.contains(&normalize::fold(text)) {
            dropped.push(i);
            continue;
        }
        match normalize::line_rule(text) {
            LineRule::Body => {}
            LineRule::Furniture => dropped.push(i),
            LineRule::End => {
                end = i;
                break;
            }
        }
    }
    if let Some(first) = lines.get(end).and_then(|l| l.nodes.first()) {
        cut_after(first, &root);
        for node in &lines[end].nodes {
            node.remove_from_parent();
        }
    }
    for &i in &dropped {
        for node in &lines[i].nodes {
            node.remove_from_parent();
        }
    }
    drop_empty(&root);
    let html = root.inner_html().to_string();
    let html = html
        .strip_prefix("<html>")
        .and_then(|h| h.strip_suffix("</html>"))
        .unwrap_or(&html)
        .trim()
        .to_string();
    let text = html::to_text(&html);
    Article { html, text }
}

/// The items a list page links to (see the module documentation), in page order; a link
/// listed twice is one item. `tz` reads dates without a zone, `now` gives year-less dates a
/// year.
pub fn list_items(
    bytes: &[u8],
    charset: Option<&str>,
    page: &Url,
    rules: &ListRules,
    tz: FixedOffset,
    now: DateTime<Utc>,
) -> Vec<Item> {
    let doc = Document::from(page_text(bytes, charset));
    let base = doc
        .select("base[href]")
        .attr("href")
        .and_then(|b| page.join(b.trim()).ok())
        .unwrap_or_else(|| page.clone());
    let mut items: Vec<Item> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in doc.select_matcher(&rules.item.matcher).iter() {
        let link_el = match &rules.link {
            Some(s) => entry.select_matcher(&s.matcher).first(),
            None if entry.is("a[href]") => entry.clone(),
            None => entry.select("a[href]").first(),
        };
        let Some(href) = link_el.attr("href").map(|h| h.trim().to_string()) else {
            continue;
        };
        let Some(link) = base.join(&href).ok().filter(html::is_web_url) else {
            continue;
        };
        let title = match &rules.title {
            Some(s) => entry.select_matcher(&s.matcher).first().text(),
            None => link_el.text(),
        };
        let title = html::one_line(&title);
        if title.is_empty() {
            continue;
        }
        let published = rules.date.as_ref().and_then(|s| {
            let text = html::one_line(&entry.select_matcher(&s.matcher).first().text());
            parse_date_near(&text, tz, now)
        });
        let mut item = Item {
            url: Some(href),
            link: Some(link.to_string()),
            title: Some(title),
            published,
            ..Item::default()
        };
        item.key = item_key(&item);
        match seen.get(&item.key) {
            Some(_) => {}
            None => {
                seen.insert(item.key.clone(), items.len());
                items.push(item);
            }
        }
    }
    items
}

/// Token-level precision and recall of an extracted text against a hand-marked body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Share of the extracted tokens that are in the marked body.
    pub precision: f64,
    /// Share of the marked body's tokens that were extracted.
    pub recall: f64,
}

/// The tokens of a text: each Han character is one, every other run of letters and digits one
/// lower-cased word; punctuation is not counted.
fn tokens(text: &str) -> HashMap<String, usize> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut word = String::new();
    let flush = |word: &mut String, counts: &mut HashMap<String, usize>| {
        if !word.is_empty() {
            *counts.entry(std::mem::take(word)).or_default() += 1;
        }
    };
    for c in text.chars() {
        if normalize::is_cjk(c) || c == '〇' {
            flush(&mut word, &mut counts);
            *counts.entry(c.to_string()).or_default() += 1;
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else {
            flush(&mut word, &mut counts);
        }
    }
    flush(&mut word, &mut counts);
    counts
}

/// Scores `extracted` against `marked` on the multiset of their tokens.
pub fn token_scores(extracted: &str, marked: &str) -> Scores {
    let (got, want) = (tokens(extracted), tokens(marked));
    let overlap: usize = got
        .iter()
        .map(|(t, n)| (*n).min(want.get(t).copied().unwrap_or(0)))
        .sum();
    let ratio = |part: usize, whole: HashMap<String, usize>| {
        let whole: usize = whole.values().sum();
        if whole == 0 {
            1.0
        } else {
            part as f64 / whole as f64
        }
    };
    Scores {
        precision: ratio(overlap, got),
        recall: ratio(overlap, want),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::path::{Path, PathBuf};

    fn pages() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pages")
    }

    fn article_pages() -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(pages())
            .expect("fixtures")
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".body.txt").map(str::to_string)
            })
            .collect();
        names.sort();
        names
    }

    fn page_url(name: &str) -> Url {
        Url::parse(&format!("http://127.0.0.1/news/{name}.html")).expect("url")
    }

    #[test]
    fn every_fixture_article_is_extracted_with_precision_and_recall_of_095() {
        let names = article_pages();
        assert!(names.len() >= 13, "{names:?}");
        for name in &names {
            let bytes = std::fs::read(pages().join(format!("{name}.html"))).expect("page");
            let marked = std::fs::read_to_string(pages().join(format!("{name}.body.txt"))).expect("body");
            let article =
                extract(&bytes, None, Some(&page_url(name)), None, &Rules::default()).expect("article");
            let s = token_scores(&article.text, &marked);
            assert!(
                s.precision >= 0.95 && s.recall >= 0.95,
                "{name}: P {:.3} R {:.3}\n{}",
                s.precision,
                s.recall,
                article.text
            );
            // What is republished says what is compared.
            assert_eq!(html::to_text(&article.html), article.text, "{name}");
        }
    }

    #[test]
    fn furniture_never_reaches_the_body() {
        // Each page's sidebar, related list and footer name other places.
        for (name, absent) in [
            (
                "zh-hans-1-shaanxi-energy",
                &["广州", "责任编辑", "相关新闻", "厦门"][..],
            ),
            (
                "zh-hant-2-hongkong-traffic-short",
                &["澳門", "完", "香港時間", "分享"][..],
            ),
            (
                "en-3-heilongjiang-ice",
                &["Read more", "Editor", "Nanjing", "Jilin"][..],
            ),
            ("zh-hans-5-hubei-renewal", &["郑州", "IP属地", "网友评论"][..]),
        ] {
            let bytes = std::fs::read(pages().join(format!("{name}.html"))).expect("page");
            let article = extract(&bytes, None, None, None, &Rules::default()).expect("article");
            for word in absent {
                assert!(
                    !article.text.contains(word),
                    "{name}: `{word}` in\n{}",
                    article.text
                );
                assert!(
                    !article.html.contains(word),
                    "{name}: `{word}` in\n{}",
                    article.html
                );
            }
        }
    }

    #[test]
    fn a_gbk_page_is_read_through_its_meta_charset() {
        let bytes = std::fs::read(pages().join("zh-hans-4-shandong-vegetables-gbk.html")).expect("page");
        assert!(std::str::from_utf8(&bytes).is_err(), "the fixture is GBK");
        assert_eq!(meta_charset(&bytes).as_deref(), Some("gb2312"));
        let article = extract(&bytes, None, None, None, &Rules::default()).expect("article");
        assert!(article.text.contains("寿光"), "{}", article.text);
    }

    #[test]
    fn selectors_from_the_config_choose_and_remove() {
        let bytes = std::fs::read(pages().join("en-3-heilongjiang-ice.html")).expect("page");
        let rules = Rules {
            content: Some(Selector::parse("div.article-content").expect("selector")),
            remove: vec![Selector::parse("p.read-more, .editor").expect("selector")],
        };
        let article = extract(&bytes, None, None, None, &rules).expect("article");
        assert!(article.text.starts_with("Workers in Harbin"), "{}", article.text);
        assert!(!article.html.contains("read-more"), "{}", article.html);
        let rules = Rules {
            content: Some(Selector::parse("#nothing-here").expect("selector")),
            remove: Vec::new(),
        };
        assert!(matches!(
            extract(&bytes, None, None, None, &rules),
            Err(PageError::NoMatch(s)) if s == "#nothing-here"
        ));
        assert!(Selector::parse("div[").is_err());
        assert!(Selector::parse("  ").is_err());
        assert!(Selector::parse("ul.news-list > li:not(.ad)").is_ok());
    }

    #[test]
    fn a_page_without_an_article_is_an_error() {
        let err = extract(
            b"<html><body><nav>Home | News | Sport</nav><p>Copyright 2023 Example</p></body></html>",
            None,
            None,
            None,
            &Rules::default(),
        );
        assert!(matches!(err, Err(PageError::NoArticle)), "{err:?}");
    }

    /// The expected items of a list fixture: its page URL, selector and rows.
    fn expected(name: &str) -> (Url, String, Vec<Vec<String>>) {
        let text = std::fs::read_to_string(pages().join(format!("{name}.expected.tsv"))).expect("tsv");
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().expect("head").split('\t').collect();
        let rows = lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        (Url::parse(head[1]).expect("url"), head[3].to_string(), rows)
    }

    #[test]
    fn list_pages_become_items_with_links_and_dates() {
        let cst = FixedOffset::east_opt(8 * 3600).expect("offset");
        let now = Utc.with_ymd_and_hms(2023, 11, 21, 0, 0, 0).single().expect("now");
        for (name, date) in [("list-1-sw", ".date"), ("list-2-gundong", ".time")] {
            let (page, selector, rows) = expected(name);
            let rules = ListRules {
                item: Selector::parse(&selector).expect("selector"),
                title: None,
                link: None,
                date: Some(Selector::parse(date).expect("selector")),
            };
            let bytes = std::fs::read(pages().join(format!("{name}.html"))).expect("page");
            let items = list_items(&bytes, None, &page, &rules, cst, now);
            let got: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    vec![
                        i.title.clone().unwrap_or_default(),
                        i.url.clone().unwrap_or_default(),
                        i.link.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            let want: Vec<Vec<String>> = rows.iter().map(|r| r[..3].to_vec()).collect();
            assert_eq!(got, want, "{name}");
            for (item, row) in items.iter().zip(&rows) {
                assert_eq!(
                    item.published,
                    parse_date_near(&row[3], cst, now),
                    "{name}: {}",
                    row[3]
                );
                assert!(item.published.is_some(), "{name}: {}", row[3]);
                assert!(item.key.starts_with("u:"), "{}", item.key);
            }
        }
        // Without `:not(.ad)` the advert, which has no title, is still no item.
        let (page, _, rows) = expected("list-2-gundong");
        let rules = ListRules {
            item: Selector::parse("div.list-box > div.item").expect("selector"),
            title: Some(Selector::parse("h3").expect("selector")),
            link: Some(Selector::parse("h3 a").expect("selector")),
            date: None,
        };
        let bytes = std::fs::read(pages().join("list-2-gundong.html")).expect("page");
        assert_eq!(
            list_items(&bytes, None, &page, &rules, cst, now).len(),
            rows.len()
        );
    }

    #[test]
    fn tokens_are_han_characters_and_words() {
        let s = token_scores("陕西 Energy, energy!", "陕西省 energy");
        assert_eq!(s.recall, 3.0 / 4.0);
        assert_eq!(s.precision, 3.0 / 4.0);
        assert_eq!(token_scores("", "").recall, 1.0);
    }
}
