//! HTML helpers: turning markup into plain text, and sanitising what is republished.
//!
//! In: HTML fragments from feeds (titles, summaries, content). Out: plain text
//! ([`to_text`]) or sanitised HTML ([`sanitize`]). Both are pure functions.
//!
//! # The sanitising policy
//!
//! [`sanitize`] keeps what Python feedparser 6's sanitiser keeps (`feedparser/sanitizer.py`,
//! class `HTMLSanitizer`), less what could submit, run, fetch from a script scheme, open a
//! window or reach into the page around the article. Every list is one const of this module:
//!
//! | const | what it holds | feedparser's list |
//! |---|---|---|
//! | [`ALLOWED_TAGS`] | elements kept (others removed, their text kept) | `acceptable_elements`, less [`LEFT_OUT_TAGS`], plus a few HTML5 ones |
//! | [`LEFT_OUT_TAGS`] | feedparser's elements removed here: form controls, `noscript` | |
//! | [`DROPPED_WITH_CONTENT`] | elements removed with everything inside: script, style, frames, embeds, SVG, MathML | `unacceptable_elements_with_end_tag`, and more; `svg_*` and `mathml_*` are not kept |
//! | [`ALLOWED_ATTRIBUTES`] | attributes kept on any kept element | `acceptable_attributes`, less [`LEFT_OUT_ATTRIBUTES`] |
//! | [`LEFT_OUT_ATTRIBUTES`] | feedparser's attributes removed here: `rel`, `target`, `xml:lang` | |
//! | [`URL_ATTRIBUTES`], [`URL_SCHEMES`] | attributes holding a URL, and the schemes they may have; relative URLs resolved against the base | feedparser checks `href` only |
//! | [`ID_ATTRIBUTES`], [`ID_REFERENCE_ATTRIBUTES`], [`ID_PREFIX`] | names and references to them, prefixed | kept as written there |
//! | [`CSS_PROPERTIES`] | properties kept in `style` | `acceptable_css_properties` |
//! | [`CSS_SHORTHANDS`], [`CSS_KEYWORDS`], [`CSS_VALUE`] | property families kept when every word of the value is a safe keyword or value | `background border margin padding`, `acceptable_css_keywords`, `valid_css_values` |
//! | [`CSS_URL_CALL`] | `url(…)` calls, removed from a `style` first | the same removal |
//! | [`CSS_REJECTED`], [`CSS_GAUNTLET`] | what then drops a whole `style`: `url(` left over, `expression`, `\`, `/*`, anything but plain declarations | `sanitize_style`'s checks, case-insensitive here |
//!
//! No event handler (`on…`), `srcdoc`, `srcset`, `formaction` or namespaced attribute is ever
//! allowed, every link gets `rel="noopener noreferrer"`, and comments are stripped (IE
//! conditional comments with them). A `style` is rewritten as feedparser writes it
//! (`prop: value;` joined by spaces). The tests below hold the lists to these promises.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use regex::Regex;
use url::Url;

/// Tags whose start or end separates blocks of text.
pub(crate) const BLOCK_TAGS: &[&str] = &[
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

/// Elements kept: feedparser's `acceptable_elements` less [`LEFT_OUT_TAGS`], plus `bdi`, `bdo`,
/// `mark`, `picture`, `rp`, `rt`, `ruby`, `summary` and `wbr` (text-level HTML5 that feedparser
/// predates). Any other element is removed and its text kept, except those of
/// [`DROPPED_WITH_CONTENT`].
const ALLOWED_TAGS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "area",
    "article",
    "aside",
    "audio",
    "b",
    "bdi",
    "bdo",
    "big",
    "blockquote",
    "br",
    "canvas",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "command",
    "datagrid",
    "datalist",
    "dd",
    "del",
    "details",
    "dfn",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "em",
    "event-source",
    "fieldset",
    "figcaption",
    "figure",
    "font",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "label",
    "legend",
    "li",
    "m",
    "map",
    "mark",
    "menu",
    "meter",
    "multicol",
    "nav",
    "nextid",
    "ol",
    "output",
    "p",
    "picture",
    "pre",
    "progress",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "section",
    "small",
    "sound",
    "source",
    "spacer",
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
    "video",
    "wbr",
];

/// Elements of feedparser's `acceptable_elements` that feedfold removes (their text kept, or with
/// their content where [`DROPPED_WITH_CONTENT`] says so):
/// - form controls (`form`, `input`, `button`, `select`, `option`, `optgroup`, `textarea`,
///   `keygen`): a form submits to its `action` or, with none, to the page that shows it (the
///   reader's own, with the reader's cookies), controls can join a form of that page by its
///   `form` attribute, and a password field in an article is phishing;
/// - `noscript`: read as text or as markup depending on whether script runs, the shape of
///   mutation-XSS (`<noscript><p title="</noscript><img onerror=…>">`).
const LEFT_OUT_TAGS: &[&str] = &[
    "button", "form", "input", "keygen", "noscript", "optgroup", "option", "select", "textarea",
];

/// Elements removed together with everything inside them: script and style (feedparser's
/// `unacceptable_elements_with_end_tag`: `script`, `style`, `applet`), templates, embedded and
/// framed documents (an `iframe`'s content is raw text no browser shows), form fields whose
/// text is not prose, and SVG and MathML. An `object` is removed and its children kept, as
/// feedparser keeps them: they are the fallback a browser shows when the object does not load,
/// which, the object being gone, is always (its `param` and `embed` children go as any other).
///
/// SVG and MathML stay out although feedparser keeps a subset (`svg_elements`,
/// `mathml_elements`): that subset includes `animate` and `set` (which rewrite another
/// element's `href` to a `javascript:` URL at run time, past any check of attribute values),
/// `use` (which fetches and renders an external document) and `foreignObject` (HTML inside
/// SVG), its attributes are namespaced (`xlink:href`), and foreign content is where the HTML
/// parser's namespace switches make mutation-XSS (`<math><mtext><table><mglyph><style>`).
/// The formulas and drawings lost are rare in feeds; the text of their elements goes too.
/// Other elements outside [`ALLOWED_TAGS`] are removed and their text kept.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script", "style", "template", "noscript", "noembed", "noframes", "iframe", "frameset", "embed",
    "applet", "svg", "math", "textarea", "select", "xmp",
];

/// Attributes kept on any element of [`ALLOWED_TAGS`]: feedparser's `acceptable_attributes`
/// less [`LEFT_OUT_ATTRIBUTES`]. No event handler (`on…`), `srcdoc`, `srcset`, `formaction` or
/// namespaced attribute is among them. Some are checked or rewritten on the way
/// ([`filter_attribute`]): `style` ([`clean_style`]), [`URL_ATTRIBUTES`], [`ID_ATTRIBUTES`]
/// and [`ID_REFERENCE_ATTRIBUTES`]; and a value with a Netscape script entity (`&{…}`) goes.
const ALLOWED_ATTRIBUTES: &[&str] = &[
    "abbr",
    "accept",
    "accept-charset",
    "accesskey",
    "action",
    "align",
    "alt",
    "autocomplete",
    "autofocus",
    "axis",
    "background",
    "balance",
    "bgcolor",
    "bgproperties",
    "border",
    "bordercolor",
    "bordercolordark",
    "bordercolorlight",
    "bottompadding",
    "cellpadding",
    "cellspacing",
    "ch",
    "challenge",
    "char",
    "charoff",
    "charset",
    "checked",
    "choff",
    "cite",
    "class",
    "clear",
    "color",
    "cols",
    "colspan",
    "compact",
    "contenteditable",
    "controls",
    "coords",
    "data",
    "datafld",
    "datapagesize",
    "datasrc",
    "datetime",
    "default",
    "delay",
    "dir",
    "disabled",
    "draggable",
    "dynsrc",
    "enctype",
    "end",
    "face",
    "for",
    "form",
    "frame",
    "galleryimg",
    "gutter",
    "headers",
    "height",
    "hidden",
    "hidefocus",
    "high",
    "href",
    "hreflang",
    "hspace",
    "icon",
    "id",
    "inputmode",
    "ismap",
    "keytype",
    "label",
    "lang",
    "leftspacing",
    "list",
    "longdesc",
    "loop",
    "loopcount",
    "loopend",
    "loopstart",
    "low",
    "lowsrc",
    "max",
    "maxlength",
    "media",
    "method",
    "min",
    "multiple",
    "name",
    "nohref",
    "noshade",
    "nowrap",
    "open",
    "optimum",
    "pattern",
    "ping",
    "point-size",
    "poster",
    "pqg",
    "preload",
    "prompt",
    "radiogroup",
    "readonly",
    "repeat-max",
    "repeat-min",
    "replace",
    "required",
    "rev",
    "rightspacing",
    "rows",
    "rowspan",
    "rules",
    "scope",
    "selected",
    "shape",
    "size",
    "span",
    "src",
    "start",
    "step",
    "style",
    "summary",
    "suppress",
    "tabindex",
    "template",
    "title",
    "toppadding",
    "type",
    "unselectable",
    "urn",
    "usemap",
    "valign",
    "value",
    "variable",
    "volume",
    "vrml",
    "vspace",
    "width",
    "wrap",
];

/// Attributes of feedparser's `acceptable_attributes` that feedfold removes: `rel` and
/// `target` (every link gets `rel="noopener noreferrer"` and nothing of its own, so no link
/// opens a window that can reach back to the reader), and `xml:lang` (namespaced; `lang` says
/// the same).
const LEFT_OUT_ATTRIBUTES: &[&str] = &["rel", "target", "xml:lang"];

/// Allowed attributes whose value is a URL that is fetched or followed. Each must be absolute
/// with a scheme of [`URL_SCHEMES`] (read as a browser reads it: leading controls and spaces,
/// embedded tabs and newlines ignored), or relative and then resolved against the base (or
/// removed when there is none). `usemap="#name"` names a map of the same fragment and is
/// prefixed instead (see [`ID_PREFIX`]).
const URL_ATTRIBUTES: &[&str] = &[
    "action",
    "background",
    "cite",
    "data",
    "datasrc",
    "dynsrc",
    "href",
    "icon",
    "longdesc",
    "lowsrc",
    "ping",
    "poster",
    "src",
    "usemap",
    "vrml",
];

/// URL schemes allowed in [`URL_ATTRIBUTES`].
const URL_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// Attributes that name an element (`id`, `name`). A non-empty value is given [`ID_PREFIX`] so
/// that no article can clobber a name of the page that shows it (`<img name="cookie">` is
/// `document.cookie` to script, `<span id="config">` is `window.config`).
const ID_ATTRIBUTES: &[&str] = &["id", "name"];

/// Attributes that refer to an element by its id (`headers` to several, space-separated): the
/// ids are prefixed as [`ID_ATTRIBUTES`] are, so they still meet inside the article and never
/// reach an element of the page around it (`<label for>` would click it).
const ID_REFERENCE_ATTRIBUTES: &[&str] = &["for", "form", "headers", "list"];

/// The prefix of every name of [`ID_ATTRIBUTES`] and reference of [`ID_REFERENCE_ATTRIBUTES`].
const ID_PREFIX: &str = "feedfold-";

/// CSS properties kept in a `style` attribute: feedparser's `acceptable_css_properties`.
/// Nothing that positions an element (`position`, `top`, `z-index`) or loads anything.
const CSS_PROPERTIES: &[&str] = &[
    "azimuth",
    "background-color",
    "border-bottom-color",
    "border-collapse",
    "border-color",
    "border-left-color",
    "border-right-color",
    "border-top-color",
    "clear",
    "color",
    "cursor",
    "direction",
    "display",
    "elevation",
    "float",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-variant",
    "font-weight",
    "height",
    "letter-spacing",
    "line-height",
    "overflow",
    "pause",
    "pause-after",
    "pause-before",
    "pitch",
    "pitch-range",
    "richness",
    "speak",
    "speak-header",
    "speak-numeral",
    "speak-punctuation",
    "speech-rate",
    "stress",
    "text-align",
    "text-decoration",
    "text-indent",
    "unicode-bidi",
    "vertical-align",
    "voice-family",
    "volume",
    "white-space",
    "width",
];

/// Property families (the name before the first `-`) kept in a `style` attribute when every
/// word of the value is one of [`CSS_KEYWORDS`] or matches [`CSS_VALUE`]: feedparser's
/// shorthands (`margin: 0px !important`, `border-bottom: 1px dotted`).
const CSS_SHORTHANDS: &[&str] = &["background", "border", "margin", "padding"];

/// Words allowed in the value of a [`CSS_SHORTHANDS`] property: feedparser's
/// `acceptable_css_keywords` (case-sensitive, as there).
const CSS_KEYWORDS: &[&str] = &[
    "!important",
    "aqua",
    "auto",
    "black",
    "block",
    "blue",
    "bold",
    "both",
    "bottom",
    "brown",
    "center",
    "collapse",
    "dashed",
    "dotted",
    "fuchsia",
    "gray",
    "green",
    "italic",
    "left",
    "lime",
    "maroon",
    "medium",
    "navy",
    "none",
    "normal",
    "nowrap",
    "olive",
    "pointer",
    "purple",
    "red",
    "right",
    "silver",
    "solid",
    "teal",
    "top",
    "transparent",
    "underline",
    "white",
    "yellow",
];

/// Other words allowed in the value of a [`CSS_SHORTHANDS`] property: feedparser's
/// `valid_css_values` (hex colours, `rgb(…)`, short lengths).
const CSS_VALUE: &str =
    r"^(#[0-9a-f]+|rgb\(\d+%?,\d*%?,?\d*%?\)?|\d{0,2}\.?\d{0,2}(cm|em|ex|in|mm|pc|pt|px|%|,|\))?)$";

/// A `url(…)` call, removed from a `style` before it is checked (as feedparser does): the
/// declarations around it are kept, the fetch is not.
const CSS_URL_CALL: &str = r"(?i)url\s*\(\s*[^\s)]+?\s*\)\s*";

/// A `style` attribute matching this once its `url(…)` calls are removed is dropped whole:
/// `url(` left over (a fetch spelt oddly), `expression` (script in old IE), a backslash (a CSS
/// escape can spell either) and a comment (which can split either). Stricter than feedparser,
/// whose case-sensitive pattern lets `cursor: URL(1), auto`, `cursor: url( ), auto` and
/// `width: EXPRESSION(1)` through.
const CSS_REJECTED: &str = r"(?i)url\s*\(|expression|\\|/\*";

/// feedparser's gauntlet: a `style` attribute made of anything but these pieces (plain
/// characters, hyphenated words, quoted words, parenthesised numbers) is dropped whole.
const CSS_GAUNTLET: &str = r#"^([:,;#%.\sa-zA-Z0-9!]|\w-\w|'[\s\w]+'|"[\s\w]+"|\([\d,\s]+\))*$"#;

/// One `property: value` declaration with its `;`, as feedparser removes them to see whether
/// anything else is left.
const CSS_DECLARATION: &str = r"\s*[-\w]+\s*:\s*[^:;]*;?";

/// One `property: value` declaration, the two captured, as feedparser reads them.
const CSS_PROPERTY_VALUE: &str = r"([-\w]+)\s*:\s*([^:;]*)";

/// The compiled patterns of [`clean_style`].
struct CssPatterns {
    url_call: Regex,
    rejected: Regex,
    gauntlet: Regex,
    declaration: Regex,
    property_value: Regex,
    value: Regex,
}

static CSS: LazyLock<CssPatterns> = LazyLock::new(|| {
    let re = |pattern: &str| Regex::new(pattern).expect("a valid pattern");
    CssPatterns {
        url_call: re(CSS_URL_CALL),
        rejected: re(CSS_REJECTED),
        gauntlet: re(CSS_GAUNTLET),
        declaration: re(CSS_DECLARATION),
        property_value: re(CSS_PROPERTY_VALUE),
        value: re(CSS_VALUE),
    }
});

/// A `style` attribute's value as feedparser's `sanitize_style` writes it (`prop: value;`
/// joined by spaces, each as written), keeping only declarations of [`CSS_PROPERTIES`] and of
/// [`CSS_SHORTHANDS`] whose words are all safe; `None` when nothing is kept, or when the value
/// matches [`CSS_REJECTED`], fails [`CSS_GAUNTLET`] or is more than declarations.
fn clean_style(style: &str) -> Option<String> {
    let css = &*CSS;
    let style = &*css.url_call.replace_all(style, "");
    if css.rejected.is_match(style)
        || !css.gauntlet.is_match(style)
        || !css.declaration.replace_all(style, "").trim().is_empty()
    {
        return None;
    }
    let mut clean = Vec::new();
    for c in css.property_value.captures_iter(style) {
        let (property, value) = (&c[1], &c[2]);
        if value.is_empty() {
            continue;
        }
        let lower = property.to_lowercase();
        let family = lower.split('-').next().unwrap_or_default();
        let keep = CSS_PROPERTIES.contains(&lower.as_str())
            || (CSS_SHORTHANDS.contains(&family)
                && value
                    .split_whitespace()
                    .all(|word| CSS_KEYWORDS.contains(&word) || css.value.is_match(word)));
        if keep {
            clean.push(format!("{property}: {value};"));
        }
    }
    (!clean.is_empty()).then(|| clean.join(" "))
}

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

/// Sanitises HTML that will be republished to feed readers, under the policy of the consts
/// above (summed up in the [module documentation](self)): feedparser's allow-lists of elements,
/// attributes and CSS, less what can submit, run, open a window or reach into the page around
/// the article; URLs of [`URL_SCHEMES`] only, relative ones resolved against `base` (or
/// dropped when there is none); names prefixed; comments stripped; `rel="noopener noreferrer"`
/// on every link. SECURITY.md describes it for operators.
pub fn sanitize(html: &str, base: Option<&Url>) -> String {
    match base {
        // The policy with a base is built once; the base in effect is handed to its URL
        // rewriters through a thread-local, so the result is what a policy built for `base`
        // gives.
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
            filter_attribute(attribute, value, |url| {
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

/// An empty URL (`href=""`, the document itself) is kept as written when there is no base to
/// resolve it against: it points nowhere else, and feedparser keeps it too.
fn keep_empty(url: &str) -> Option<Cow<'_, str>> {
    url.trim().is_empty().then_some(Cow::Borrowed(""))
}

/// The sanitising policy for HTML without a base URL: relative URLs are dropped, but for the
/// empty one (see [`keep_empty`]).
static WITHOUT_BASE: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut builder = policy();
    builder
        .url_relative(UrlRelative::Custom(Box::new(keep_empty)))
        .attribute_filter(|_, attribute, value| {
            filter_attribute(attribute, value, |url| url.trim().is_empty().then(String::new))
        });
    builder
});

/// What is kept of an allowed attribute's value (`None`: the attribute goes). `resolve` makes
/// an absolute URL of a relative one (`None`: it goes). ammonia checks the scheme of `href`,
/// `src` and a few others itself, and resolves them after this; every attribute of
/// [`URL_ATTRIBUTES`] is checked and resolved here, so none depends on ammonia's own list.
fn filter_attribute<'u>(
    attribute: &str,
    value: &'u str,
    resolve: impl Fn(&str) -> Option<String>,
) -> Option<Cow<'u, str>> {
    // Netscape 4 ran `&{…};` in any attribute value as script.
    if value.contains("&{") {
        return None;
    }
    match attribute {
        "style" => clean_style(value).map(Cow::Owned),
        "usemap" if value.starts_with('#') => Some(Cow::Owned(format!("#{}", prefixed(&value[1..])))),
        _ if URL_ATTRIBUTES.contains(&attribute) => check_url(value, resolve),
        _ if ID_ATTRIBUTES.contains(&attribute) || ID_REFERENCE_ATTRIBUTES.contains(&attribute) => {
            Some(prefixed(value))
        }
        _ => Some(Cow::Borrowed(value)),
    }
}

/// Names or id references with [`ID_PREFIX`], each of the space-separated words of `value`
/// (`headers` and `output`'s `for` list several; an id with a space in it is prefixed word by
/// word wherever it appears, so it still matches). An empty value names nothing and stays
/// empty; a word that has the prefix already keeps it, so sanitising twice changes nothing.
fn prefixed(value: &str) -> Cow<'_, str> {
    let words: Vec<Cow<'_, str>> = value
        .split_ascii_whitespace()
        .map(|word| {
            if word.starts_with(ID_PREFIX) {
                Cow::Borrowed(word)
            } else {
                Cow::Owned(format!("{ID_PREFIX}{word}"))
            }
        })
        .collect();
    let joined = words.join(" ");
    if joined == value {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(joined)
    }
}

/// A URL attribute's value: an absolute URL is kept when its scheme is one of [`URL_SCHEMES`],
/// a relative one is replaced by what `resolve` makes of it, anything else is dropped.
fn check_url<'u>(value: &'u str, resolve: impl Fn(&str) -> Option<String>) -> Option<Cow<'u, str>> {
    match Url::parse(value) {
        Ok(url) => URL_SCHEMES
            .contains(&url.scheme())
            .then_some(Cow::Borrowed(value)),
        Err(url::ParseError::RelativeUrlWithoutBase) => resolve(value).map(Cow::Owned),
        Err(_) => None,
    }
}

/// Everything of the policy but relative URLs and the attribute filter (see [`sanitize`]).
/// Built once per process: building it (hash sets of tags and attributes) costs about as much
/// as sanitising a short item.
fn policy() -> Builder<'static> {
    let mut builder = Builder::empty();
    builder
        .tags(ALLOWED_TAGS.iter().copied().collect())
        .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(ALLOWED_ATTRIBUTES.iter().copied().collect())
        // Out whatever the allow-lists say.
        .rm_tags(LEFT_OUT_TAGS)
        .rm_generic_attributes(LEFT_OUT_ATTRIBUTES)
        .url_schemes(URL_SCHEMES.iter().copied().collect())
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true);
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
            r#"<img src="../img/1.jpg" alt="x" longdesc="d.html"><video src="v.mp4" poster="p.jpg" controls></video>"#,
            r#"<a href="https://other.example/x">abs</a><a href="mailto:a@b.c">m</a><a href="javascript:x()">j</a>"#,
            r#"<blockquote cite="q.html"><q cite="?a=b">quote</q></blockquote><a href="">empty</a>"#,
            r#"<table background="bg.png"><tr><td background="javascript:x()">c</td></tr></table>"#,
            r#"<span action="go" data="d" icon="i.png" style="color: red">s</span><a href="a" ping="p">p</a>"#,
            r##"<img src="m.png" usemap="#m" dynsrc="v.avi" lowsrc="l.png"><map name="m"><area href="x.html"></map>"##,
            "<p>中文 &amp; <em>text</em><!-- comment --><script>x()</script></p>",
        ];
        for base in ["https://example.org/news/1.html", "http://example.com:8080/a/b/"] {
            let base = Url::parse(base).expect("url");
            let mut per_call = policy();
            let own = base.clone();
            per_call
                .url_relative(UrlRelative::RewriteWithBase(base.clone()))
                .attribute_filter(move |_, attribute, value| {
                    filter_attribute(attribute, value, |url| own.join(url).ok().map(String::from))
                });
            for html in snippets {
                assert_eq!(
                    sanitize(html, Some(&base)),
                    per_call.clean(html).to_string(),
                    "{html}"
                );
            }
        }
        // Without a base, relative URLs go but for the empty one, which is the document itself.
        let mut deny = policy();
        deny.url_relative(UrlRelative::Custom(Box::new(keep_empty)))
            .attribute_filter(|_, attribute, value| {
                filter_attribute(attribute, value, |url| url.is_empty().then(String::new))
            });
        for html in snippets {
            assert_eq!(sanitize(html, None), deny.clean(html).to_string(), "{html}");
        }
        assert_eq!(
            sanitize(
                r#"<a href="">e</a><a href="x.html">r</a><span src="">s</span>"#,
                None
            ),
            r#"<a href="" rel="noopener noreferrer">e</a><a rel="noopener noreferrer">r</a><span src="">s</span>"#
        );
    }

    #[test]
    fn sanitize_keeps_no_script_url_form_or_svg() {
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
                r#"<object data="https://x.example/x.swf" classid="clsid:0"><param name="movie" value="x.swf"><embed src="x.swf">shown</object>"#,
                "shown",
            ),
            (
                r#"<object type="text/html">fallback <b>text</b></object>"#,
                "fallback <b>text</b>",
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
    fn the_lists_allow_no_active_content() {
        for tag in [
            "script",
            "style",
            "iframe",
            "frame",
            "frameset",
            "object",
            "embed",
            "applet",
            "param",
            "meta",
            "link",
            "base",
            "form",
            "input",
            "button",
            "select",
            "option",
            "textarea",
            "keygen",
            "svg",
            "math",
            "template",
            "noscript",
            "noembed",
            "xmp",
            "plaintext",
            "title",
            "body",
            "html",
        ] {
            assert!(!ALLOWED_TAGS.contains(&tag), "{tag}");
        }
        for tag in DROPPED_WITH_CONTENT.iter().chain(LEFT_OUT_TAGS) {
            assert!(!ALLOWED_TAGS.contains(tag), "{tag}");
        }
        for attribute in ALLOWED_ATTRIBUTES {
            assert!(!attribute.starts_with("on"), "{attribute}");
            assert!(!attribute.contains(':'), "{attribute}");
            assert!(!LEFT_OUT_ATTRIBUTES.contains(attribute), "{attribute}");
        }
        for attribute in [
            "srcdoc",
            "srcset",
            "formaction",
            "rel",
            "target",
            "xmlns",
            "is",
            "slot",
            "nonce",
        ] {
            assert!(!ALLOWED_ATTRIBUTES.contains(&attribute), "{attribute}");
        }
        // Every allowed attribute that HTML (old or new) reads as a URL is checked as one.
        for attribute in [
            "action",
            "archive",
            "background",
            "cite",
            "classid",
            "codebase",
            "data",
            "datasrc",
            "dynsrc",
            "formaction",
            "href",
            "icon",
            "longdesc",
            "lowsrc",
            "manifest",
            "ping",
            "poster",
            "profile",
            "src",
            "srcset",
            "usemap",
            "vrml",
        ] {
            assert!(
                !ALLOWED_ATTRIBUTES.contains(&attribute) || URL_ATTRIBUTES.contains(&attribute),
                "{attribute}"
            );
        }
        for attribute in URL_ATTRIBUTES
            .iter()
            .chain(ID_ATTRIBUTES)
            .chain(ID_REFERENCE_ATTRIBUTES)
        {
            assert!(ALLOWED_ATTRIBUTES.contains(attribute), "{attribute}");
        }
    }

    #[test]
    fn sanitize_keeps_feedparsers_elements() {
        for tag in [
            "address", "article", "aside", "big", "center", "dialog", "dir", "fieldset", "font", "footer",
            "header", "label", "legend", "map", "menu", "meter", "nav", "output", "progress", "section",
        ] {
            let html = format!("<{tag}>x</{tag}>");
            assert_eq!(sanitize(&html, None), html);
        }
        let table = "<table><caption>c</caption><colgroup><col></colgroup><thead><tr><th>h</th></tr></thead>\
                     <tbody><tr><td>b</td></tr></tbody><tfoot><tr><td>f</td></tr></tfoot></table>";
        assert_eq!(sanitize(table, None), table);
        assert_eq!(sanitize("<map><area></map>", None), "<map><area></map>");
        // Left out: form controls lose their markup, their text stays.
        assert_eq!(
            sanitize(
                "<form><fieldset><label>Name <input name=n></label><button>Go</button></fieldset></form>",
                None
            ),
            "<fieldset><label>Name </label>Go</fieldset>"
        );
    }

    #[test]
    fn sanitize_keeps_feedparsers_attributes() {
        let html = r#"<span abbr="a" accept="text/plain" accesskey="k" align="left" autocomplete="off" bgcolor="red" border="1" class="c" color="blue" contenteditable="true" dir="rtl" disabled="" face="serif" hidden="" lang="fr" size="2" tabindex="0" title="t" valign="top" width="3">x</span>"#;
        assert_eq!(sanitize(html, None), html);
        let cells = r#"<table border="1" cellpadding="2" cellspacing="0" rules="all" summary="s" frame="box"><tbody><tr><td abbr="a" axis="x" char="." charoff="1" colspan="2" nowrap="" rowspan="3" scope="row" valign="top">c</td></tr></tbody></table>"#;
        assert_eq!(sanitize(cells, None), cells);
        let media = r#"<video controls="" loop="" preload="none" width="4" height="5"><source type="video/mp4" media="all"></video><meter min="0" max="9" low="1" high="8" optimum="5" value="3">3</meter><details open=""><summary>s</summary>d</details>"#;
        assert_eq!(sanitize(media, None), media);
    }

    #[test]
    fn sanitize_keeps_and_resolves_web_urls_in_every_url_attribute() {
        let base = Url::parse("https://example.org/news/1.html").expect("url");
        for attribute in URL_ATTRIBUTES {
            let absolute = format!(r#"<span {attribute}="https://cdn.example.net/x">t</span>"#);
            assert_eq!(sanitize(&absolute, Some(&base)), absolute);
            assert_eq!(sanitize(&absolute, None), absolute);
            assert_eq!(
                sanitize(&format!(r#"<span {attribute}="x/y.png">t</span>"#), Some(&base)),
                format!(r#"<span {attribute}="https://example.org/news/x/y.png">t</span>"#)
            );
            assert_eq!(
                sanitize(&format!(r#"<span {attribute}="x/y.png">t</span>"#), None),
                "<span>t</span>"
            );
        }
    }

    #[test]
    fn sanitize_removes_script_urls_and_handlers_from_every_url_attribute() {
        let base = Url::parse("https://example.org/news/1.html").expect("url");
        let urls = [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " \u{1}javascript:alert(1)",
            "jav&#x09;ascript:alert(1)",
            "&#106;avascript:alert(1)",
            "javascript&colon;alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "livescript:x",
            "file:///etc/passwd",
        ];
        for attribute in URL_ATTRIBUTES {
            for element in ["span", "a", "img", "td", "video", "area", "blockquote"] {
                for url in urls {
                    let html = format!(
                        r#"<table><tr><{element} {attribute}="{url}" onclick="x()" onmouseover="x()" onerror="x()">t</{element}></tr></table>"#
                    );
                    for out in [sanitize(&html, Some(&base)), sanitize(&html, None)] {
                        let lower = out.to_ascii_lowercase();
                        for bad in ["script", "data:", "file:", "onclick", "onmouseover", "onerror"] {
                            assert!(!lower.contains(bad), "{html}\n→ {out}");
                        }
                        assert!(!lower.contains(&format!(" {attribute}=")), "{html}\n→ {out}");
                    }
                }
            }
        }
    }

    #[test]
    fn sanitize_filters_styles_as_feedparser_does() {
        for (style, want) in [
            ("border: 3px solid #ccc", "border: 3px solid #ccc;"),
            ("font-family: 'Lucida Console'", "font-family: 'Lucida Console';"),
            ("font-family: arial,sans-serif", "font-family: arial,sans-serif;"),
            ("margin: 0px !important", "margin: 0px !important;"),
            ("border: medium none ;", "border: medium none ;"),
            (
                "color:red;background-color:#fff",
                "color: red; background-color: #fff;",
            ),
            ("COLOR: Red", "COLOR: Red;"),
            (
                "border-bottom: 1px dotted; padding-left: 0",
                "border-bottom: 1px dotted; padding-left: 0;",
            ),
            ("color: rgb(255,0,0)", "color: rgb(255,0,0);"),
            // Unknown properties go, the rest stays.
            (
                "color: red; position: absolute; top: 0; z-index: 9",
                "color: red;",
            ),
            // A shorthand with one unsafe word goes.
            ("display: block; border: 1px solid javascript", "display: block;"),
            ("padding: 5px; margin: 1000px", "padding: 5px; margin: 1000px;"),
            ("padding: 5px; margin: 10000px", "padding: 5px;"),
            // `url(…)` goes, the declarations around it stay.
            (
                "color: red; background-image: url(https://t.example/a.png); width: 1px",
                "color: red; width: 1px;",
            ),
            ("cursor: URL(1), auto", "cursor: , auto;"),
            ("cursor: url (1), auto", "cursor: , auto;"),
        ] {
            let html = format!(r#"<span style="{style}">x</span>"#);
            assert_eq!(
                sanitize(&html, None),
                format!(r#"<span style="{want}">x</span>"#),
                "{style}"
            );
        }
        for style in [
            "background: url(https://tracker.example/a.png)",
            "background: red url(javascript:alert(1))",
            "background-image: URL(1)",
            // feedparser keeps these three (its `url(` pattern is case-sensitive and needs a
            // character inside; its gauntlet lets numbers in parentheses through).
            "cursor: url( ), auto",
            "width: EXPRESSION(1)",
            "width: expression(alert(1))",
            "xss: expr/*x*/ession(alert(1))",
            "color: \\72 ed",
            "behavior: url(x.htc)",
            "-moz-binding: url(https://x.example/x.xml#x)",
            "color: red } body { color: blue",
            "color: red; @import 'x.css'",
            "color: red <script>",
            "font-family: \"a\\\"b\"",
            "position: absolute",
            "border: 1px solid javascript",
            "margin",
            "",
        ] {
            let html = format!(r#"<span style="{}">x</span>"#, escape(style));
            assert_eq!(sanitize(&html, None), "<span>x</span>", "{style}");
        }
    }

    #[test]
    fn sanitize_prefixes_names_and_their_references() {
        assert_eq!(
            sanitize(
                r#"<img name="cookie" id="config" src="https://x.example/a.png">"#,
                None
            ),
            r#"<img name="feedfold-cookie" id="feedfold-config" src="https://x.example/a.png">"#
        );
        let html = r##"<label for="q">Q</label><output for="a b" name="o">o</output><table><tbody><tr><th id="h1">h</th><td headers="h1  h2">c</td></tr></tbody></table><img usemap="#m"><map name="m"><area shape="rect" coords="0,0,1,1"></map>"##;
        let want = r##"<label for="feedfold-q">Q</label><output for="feedfold-a feedfold-b" name="feedfold-o">o</output><table><tbody><tr><th id="feedfold-h1">h</th><td headers="feedfold-h1 feedfold-h2">c</td></tr></tbody></table><img usemap="#feedfold-m"><map name="feedfold-m"><area shape="rect" coords="0,0,1,1"></map>"##;
        assert_eq!(sanitize(html, None), want);
        assert_eq!(sanitize(want, None), want, "sanitising twice changes nothing");
        assert_eq!(
            sanitize(r#"<span id="" name="">x</span>"#, None),
            r#"<span id="" name="">x</span>"#
        );
    }

    #[test]
    fn sanitize_gives_links_no_target_or_rel_of_their_own() {
        assert_eq!(
            sanitize(
                r#"<a href="https://x.example/" target="_blank" rel="opener" rev="made">x</a>"#,
                None
            ),
            r#"<a href="https://x.example/" rev="made" rel="noopener noreferrer">x</a>"#
        );
        assert_eq!(
            sanitize(r#"<span xml:lang="fr" lang="fr">x</span>"#, None),
            r#"<span lang="fr">x</span>"#
        );
        assert_eq!(
            sanitize(r#"<br size="&{alert('XSS')};"><p title="a&{x}">p</p>"#, None),
            "<br><p>p</p>"
        );
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
