//! HTML helpers: turning markup into plain text, and sanitising what is republished.
//!
//! In: HTML fragments from feeds (titles, summaries, content). Out: plain text
//! ([`to_text`]) or sanitised HTML ([`sanitize`]). Both are pure functions; the sanitiser's
//! policy is explicit here so it can be reviewed in one place.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

/// Tags whose start or end separates blocks of text.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "ul",
    "ol",
    "tr",
    "td",
    "th",
    "table",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "aside",
    "hr",
    "figure",
    "figcaption",
    "dd",
    "dt",
    "dl",
    "title",
];

/// Tags whose text is never shown.
const HIDDEN_TAGS: &[&str] = &["script", "style", "template", "noscript", "head"];

struct TextSink {
    out: RefCell<String>,
    hidden: RefCell<u32>,
}

impl TextSink {
    fn newline(&self) {
        let mut out = self.out.borrow_mut();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    }

    fn tag(&self, tag: &Tag) {
        let name: &str = &tag.name;
        if HIDDEN_TAGS.contains(&name) {
            let mut hidden = self.hidden.borrow_mut();
            match tag.kind {
                TagKind::StartTag if !tag.self_closing => *hidden += 1,
                TagKind::EndTag => *hidden = hidden.saturating_sub(1),
                TagKind::StartTag => {}
            }
        } else if BLOCK_TAGS.contains(&name) {
            self.newline();
        }
    }
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::CharacterTokens(text) if *self.hidden.borrow() == 0 => {
                self.out.borrow_mut().push_str(&text);
            }
            Token::TagToken(tag) => self.tag(&tag),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Converts an HTML fragment to plain text: tags removed, entities decoded, script and style
/// dropped, block elements on their own lines, runs of spaces folded, lines trimmed.
///
/// Text without markup passes through with its entities decoded (`A &amp; B` → `A & B`).
pub fn to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return fold_whitespace(html);
    }
    let sink = tokenize(
        html,
        TextSink {
            out: RefCell::new(String::with_capacity(html.len())),
            hidden: RefCell::new(0),
        },
    );
    fold_whitespace(&sink.out.take())
}

/// Runs the HTML tokenizer (no tree is built) over `html`, feeding `sink`; gives the sink back.
fn tokenize<S: TokenSink>(html: &str, sink: S) -> S {
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&queue);
    tokenizer.end();
    tokenizer.sink
}

/// Hands every tag to a closure.
struct TagSink<F>(RefCell<F>);

impl<F: FnMut(&Tag)> TokenSink for TagSink<F> {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        if let Token::TagToken(tag) = token {
            (self.0.borrow_mut())(&tag);
        }
        TokenSinkResult::Continue
    }
}

/// Calls `f` with every start and end tag of `html`, in document order.
pub fn for_each_tag(html: &str, f: impl FnMut(&Tag)) {
    tokenize(html, TagSink(RefCell::new(f)));
}

/// The value of a tag's attribute.
pub fn attribute<'t>(tag: &'t Tag, name: &str) -> Option<&'t str> {
    tag.attrs
        .iter()
        .find(|a| &*a.name.local == name)
        .map(|a| &*a.value)
}

/// Start tags that open no element for others to nest in: void elements, and elements that the
/// next one of their kind closes (`<p><p>` are siblings).
const FLAT_TAGS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
    "wbr", "p", "li", "dt", "dd", "option", "tr", "td", "th",
];

/// How deeply the elements of `html` nest, counted from its tags as a browser would build them
/// (an upper bound: a self-closing `<div/>` counts as open, as HTML parsers read it).
pub fn nesting_depth(html: &str) -> usize {
    if !html.contains('<') {
        return 0;
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    for_each_tag(html, |tag| {
        if FLAT_TAGS.contains(&&*tag.name) {
            return;
        }
        match tag.kind {
            TagKind::StartTag => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            TagKind::EndTag => depth = depth.saturating_sub(1),
        }
    });
    deepest
}

/// Folds runs of whitespace inside lines to one space, trims lines and drops empty ones.
fn fold_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut first = true;
        for word in line.split_whitespace() {
            if first {
                if !out.is_empty() {
                    out.push('\n');
                }
                first = false;
            } else {
                out.push(' ');
            }
            out.push_str(word);
        }
    }
    out
}

/// Collapses plain text to a single line (for titles and author names).
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Tags allowed in republished HTML. Everything else is removed (its text kept), and
/// `script`, `style` and similar lose their content too.
const ALLOWED_TAGS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
    "audio",
    "video",
    "source",
    "picture",
];

/// Tags removed together with everything inside them: script and style, templates, embedded
/// and framed documents and their fallbacks, form fields whose text is not prose, and SVG and
/// MathML (foreign content, whose children include script, style and links of their own).
/// Other tags outside [`ALLOWED_TAGS`] are removed and their text kept.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "template", "noscript", "noembed", "noframes", "iframe", "frameset", "object",
    "embed", "applet", "svg", "math", "textarea", "select", "xmp",
];

/// URL schemes allowed in links and media.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// Whether a URL may be republished as an item or feed link, a member link or an enclosure:
/// absolute `http` or `https`. (`javascript:`, `vbscript:`, `data:`, `file:`, relative and
/// unparsable URLs may not.)
pub fn is_web_url(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// [`is_web_url`] of a URL as text.
pub fn is_web_link(text: &str) -> bool {
    Url::parse(text).is_ok_and(|u| is_web_url(&u))
}

/// Escapes text for HTML content and (double- or single-quoted) attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Sanitises HTML that will be republished to feed readers.
///
/// Policy: an allow-list of presentational tags ([`ALLOWED_TAGS`]; script, style, frames,
/// objects, SVG and MathML go with their content, [`DROPPED_WITH_CONTENT`]), a small set of attributes
/// per tag (no event handlers, no `style`, no `srcset`), URL schemes `http`, `https` and
/// `mailto` only in every URL attribute (`href`, `src`, `poster`, `cite`), relative URLs
/// resolved against `base` (or dropped when there is none), comments stripped, and
/// `rel="noopener noreferrer"` on every link. SECURITY.md describes it for operators.
pub fn sanitize(html: &str, base: Option<&Url>) -> String {
    match base {
        // The policy with a base is built once; the base in effect is handed to its URL
        // rewriter through a thread-local, so the result is what `RewriteWithBase(base)` gives.
        Some(base) => {
            SANITIZE_BASE.with(|b| *b.borrow_mut() = Some(base.clone()));
            let out = WITH_BASE.clean(html).to_string();
            SANITIZE_BASE.with(|b| *b.borrow_mut() = None);
            out
        }
        None => WITHOUT_BASE.clean(html).to_string(),
    }
}

thread_local! {
    /// The base URL of the [`sanitize`] call running on this thread.
    static SANITIZE_BASE: RefCell<Option<Url>> = const { RefCell::new(None) };
}

/// The sanitising policy for HTML with a base URL: relative URLs are resolved against it.
static WITH_BASE: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = policy();
    builder
        .url_relative(UrlRelative::Custom(Box::new(resolve_against_base)))
        .attribute_filter(|_, attribute, value| {
            check_cite(attribute, value, |url| {
                resolve_against_base(url).map(Cow::into_owned)
            })
        });
    builder
});

/// A relative URL resolved against the base of the running [`sanitize`] call; `None` drops it.
fn resolve_against_base(url: &str) -> Option<Cow<'_, str>> {
    SANITIZE_BASE.with(|b| {
        b.borrow()
            .as_ref()
            .and_then(|base| base.join(url).ok())
            .map(|u| Cow::Owned(u.to_string()))
    })
}

/// The sanitising policy for HTML without a base URL: relative URLs are dropped.
static WITHOUT_BASE: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = policy();
    builder
        .url_relative(UrlRelative::Deny)
        .attribute_filter(|_, attribute, value| check_cite(attribute, value, |_| None));
    builder
});

/// The URL check ammonia does not do for `cite` (it checks `href`, `src` and `poster` only): an
/// absolute `cite` is kept when its scheme is allowed, a relative one is replaced by what
/// `resolve` makes of it, anything else is dropped. Other attributes pass unchanged.
fn check_cite<'u>(
    attribute: &str,
    value: &'u str,
    resolve: impl Fn(&str) -> Option<String>,
) -> Option<Cow<'u, str>> {
    if attribute != "cite" {
        return Some(Cow::Borrowed(value));
    }
    match Url::parse(value) {
        Ok(url) => URL_SCHEMES
            .contains(&url.scheme())
            .then_some(Cow::Borrowed(value)),
        Err(url::ParseError::RelativeUrlWithoutBase) => resolve(value).map(Cow::Owned),
        Err(_) => None,
    }
}

/// Everything of the policy but relative URLs (see [`sanitize`]). Built once per process:
/// building it (hash sets of tags and attributes) costs about as much as sanitising a short item.
fn policy() -> Builder<'static> {
    let tags: HashSet<&str> = ALLOWED_TAGS.iter().copied().collect();
    let mut builder = Builder::empty();
    builder
        .tags(tags)
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true)
        .generic_attributes(["lang", "dir", "title"].into_iter().collect())
        .add_tag_attributes("a", ["href", "hreflang"])
        .add_tag_attributes("img", ["src", "alt", "width", "height"])
        .add_tag_attributes("audio", ["src", "controls"])
        .add_tag_attributes("video", ["src", "controls", "poster", "width", "height"])
        .add_tag_attributes("source", ["src", "type"])
        .add_tag_attributes("td", ["colspan", "rowspan"])
        .add_tag_attributes("th", ["colspan", "rowspan", "scope"])
        .add_tag_attributes("ol", ["start"])
        .add_tag_attributes("time", ["datetime"])
        .add_tag_attributes("blockquote", ["cite"])
        .add_tag_attributes("q", ["cite"])
        .add_tag_attributes("del", ["cite", "datetime"])
        .add_tag_attributes("ins", ["cite", "datetime"])
        .add_tag_attributes("abbr", ["title"]);
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_text_decodes_entities_and_drops_tags() {
        assert_eq!(to_text("A &amp; B <b>bold</b>"), "A & B bold");
        assert_eq!(to_text("<p>one</p><p>two<script>x()</script></p>"), "one\ntwo");
        assert_eq!(to_text("&ldquo;引号&rdquo;&nbsp;x"), "\u{201c}引号\u{201d} x");
        assert_eq!(to_text("plain   text\n\n  here "), "plain text\nhere");
    }

    #[test]
    fn sanitize_removes_script_and_handlers_and_resolves_links() {
        let base = Url::parse("https://example.org/news/1.html").ok();
        let out = sanitize(
            r#"<p onclick="x()">hi<script>alert(1)</script><a href="2.html">next</a><img src="javascript:alert(1)"></p>"#,
            base.as_ref(),
        );
        assert!(!out.contains("script"), "{out}");
        assert!(!out.contains("onclick"), "{out}");
        assert!(!out.contains("javascript"), "{out}");
        assert!(out.contains(r#"href="https://example.org/news/2.html""#), "{out}");
        assert!(out.contains(r#"rel="noopener noreferrer""#), "{out}");
    }

    #[test]
    fn the_built_once_policy_resolves_urls_as_a_per_call_one_would() {
        let snippets = [
            r#"<p><a href="2.html">a</a> <a href="/root?x=1#f">b</a> <a href="//cdn.example.net/x">c</a></p>"#,
            r#"<img src="../img/1.jpg" alt="x"><video src="v.mp4" poster="p.jpg" controls></video>"#,
            r#"<a href="https://other.example/x">abs</a><a href="mailto:a@b.c">m</a><a href="javascript:x()">j</a>"#,
            r#"<blockquote cite="q.html"><q cite="?a=b">quote</q></blockquote><a href="">empty</a>"#,
            "<p>中文 &amp; <em>text</em><!-- comment --><script>x()</script></p>",
        ];
        for base in ["https://example.org/news/1.html", "http://example.com:8080/a/b/"] {
            let base = Url::parse(base).expect("url");
            let mut per_call = policy();
            let cite_base = base.clone();
            per_call
                .url_relative(UrlRelative::RewriteWithBase(base.clone()))
                .attribute_filter(move |_, attribute, value| {
                    check_cite(attribute, value, |url| cite_base.join(url).ok().map(String::from))
                });
            for html in snippets {
                assert_eq!(
                    sanitize(html, Some(&base)),
                    per_call.clean(html).to_string(),
                    "{html}"
                );
            }
        }
        let mut deny = policy();
        deny.url_relative(UrlRelative::Deny)
            .attribute_filter(|_, attribute, value| check_cite(attribute, value, |_| None));
        for html in snippets {
            assert_eq!(sanitize(html, None), deny.clean(html).to_string(), "{html}");
        }
    }

    #[test]
    fn sanitize_keeps_no_script_url_style_or_svg() {
        let base = Url::parse("https://example.org/news/1.html").ok();
        for (html, want) in [
            (
                r#"<blockquote cite="javascript:alert(1)">q</blockquote>"#,
                "<blockquote>q</blockquote>",
            ),
            (r#"<q cite="data:text/html,x">q</q>"#, "<q>q</q>"),
            (
                r#"<q cite="other.html">q</q>"#,
                r#"<q cite="https://example.org/news/other.html">q</q>"#,
            ),
            (
                r#"<img src="data:image/png;base64,AA" srcset="x.png 2x" style="x:expression(1)" onerror="x()">"#,
                "<img>",
            ),
            (
                r#"<video poster="vbscript:x" src="&#106;avascript:x()"></video>"#,
                "<video></video>",
            ),
            (
                "<a href=\"jav&#x09;ascript:alert(1)\">x</a><a href=\"\u{1} javascript:x()\">y</a>",
                r#"<a rel="noopener noreferrer">x</a><a rel="noopener noreferrer">y</a>"#,
            ),
            (
                r#"<svg><text>drawn</text><script>x()</script></svg>after"#,
                "after",
            ),
            (r#"<math><mi>x</mi><mo>=</mo><mn>2</mn></math>after"#, "after"),
            (
                r#"<iframe src="https://x.example/">fallback</iframe><form action="https://x.example/"><button formaction="javascript:x()">b</button></form>"#,
                "b",
            ),
            (
                r#"<meta http-equiv="refresh" content="0;url=javascript:x()"><base href="https://x.example/"><link rel="stylesheet" href="https://x.example/x.css"><style>@import 'x.css';</style>ok"#,
                "ok",
            ),
        ] {
            assert_eq!(sanitize(html, base.as_ref()), want, "{html}");
        }
        assert_eq!(sanitize(r#"<q cite="other.html">q</q>"#, None), "<q>q</q>");
    }

    #[test]
    fn only_http_and_https_are_web_links() {
        for ok in ["https://example.org/a", "http://example.org:8080/b?c#d"] {
            assert!(is_web_link(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,x",
            "vbscript:x",
            "file:///etc/passwd",
            "mailto:a@example.org",
            "/relative",
            "",
        ] {
            assert!(!is_web_link(bad), "{bad:?}");
        }
    }

    #[test]
    fn sanitize_without_base_drops_relative_urls() {
        let out = sanitize(r#"<a href="/x">x</a>"#, None);
        assert!(!out.contains("href"), "{out}");
    }

    #[test]
    fn nesting_depth_counts_open_elements() {
        assert_eq!(nesting_depth("plain text"), 0);
        assert_eq!(nesting_depth("<p>a</p><p>b <b>c</b></p>"), 1);
        assert_eq!(nesting_depth("<div><div><span>x</span></div></div>"), 3);
        assert_eq!(nesting_depth("<ul><li>a<li>b<ul><li>c</ul></ul>"), 2);
        assert_eq!(nesting_depth("<p><p><p><br><img src=x><hr>"), 0);
        assert_eq!(nesting_depth(&"<div/>".repeat(10)), 10, "as a browser reads it");
        assert_eq!(nesting_depth(&"<b>".repeat(300)), 300);
    }
}
