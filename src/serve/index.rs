//! The daemon's index page, for the people who subscribe to its feeds and for its operator.
//!
//! In: the config, each public output's [`Digest`] (made from the entries its feeds were last
//! rendered from, by the same selection: [`crate::pipeline::publish::entries`]), each source's
//! stored status and its schedule. Out: one HTML page with, per public output, how many stories
//! its feeds carry, its latest stories with their sources ("also reported by", as the feeds
//! write it), each format's address with a copy button, and filter examples; then the health of
//! the sources those outputs draw from (a source only private outputs use is not listed:
//! [`public_sources`]), failing ones summarised and first, with the pages its items' full text
//! was read from and those that failed. [`CSP`] is the page's
//! `Content-Security-Policy`: no external resource, and no script or style but the page's own,
//! by hash.
//!
//! Every text from the config, the store or a feed is escaped. The page works without
//! JavaScript: times are written in UTC and the addresses stand in read-only fields; the one
//! inline script ([`SCRIPT`]) rewrites the times in the reader's languages and time zone and shows
//! the copy buttons (the clipboard API, else the selected field and `execCommand`).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::LazyLock;

use base64::Engine;
use chrono::{DateTime, Utc};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest as _, Sha256};

use super::{Schedule, public_outputs, public_sources};
use crate::config::{Config, Dedup, Location, OutputConfig};
use crate::html::escape;
use crate::output::{self, Entry, FeedMeta, Format, SelfLink};
use crate::store::{FetchStatus, SourceStatus};

/// Stories listed per output.
pub const LATEST: usize = 5;

/// What the index page shows of one output, taken from the entries its feeds were rendered from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Digest {
    /// Entries its feeds carry (at most the output's `limit`): stories, or items with
    /// `dedup = "off"`.
    pub stories: usize,
    /// The newest [`LATEST`] of them.
    pub latest: Vec<Story>,
    /// The region named most often as primary among its stories, for a filter example.
    pub region: Option<String>,
}

/// One story as the index page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// Plain-text title (untrusted: escaped when written).
    pub title: String,
    /// The `http(s)` link of the copy shown.
    pub link: Option<String>,
    /// Earliest publication among its copies.
    pub published: DateTime<Utc>,
    /// Source of the copy shown.
    pub source: String,
    /// "Also reported by" with the other copies, as the feeds write it
    /// ([`output::also_reported_html`]: escaped, empty when there are none).
    pub also: String,
    /// Copies of the story.
    pub copies: usize,
    /// The primary region's name.
    pub region: Option<String>,
    /// The language of the copy shown, when it is a well-formed tag.
    pub language: Option<String>,
}

impl Digest {
    /// The digest of an output's entries, newest first as selected.
    pub fn of(entries: &[Entry]) -> Digest {
        let latest = entries
            .iter()
            .take(LATEST)
            .map(|e| Story {
                title: e.title.clone(),
                link: e.link.clone(),
                published: e.published,
                source: e.source.clone(),
                also: output::also_reported_html(&e.others),
                copies: 1 + e.others.len(),
                region: e.regions.primary().map(|r| r.name.clone()),
                language: e.language.as_deref().and_then(output::language_tag),
            })
            .collect();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for e in entries {
            if let Some(r) = e.regions.primary() {
                *counts.entry(r.name.as_str()).or_default() += 1;
            }
        }
        // The most frequent; ties to the name, so the page is the same on every rendering.
        let region = counts
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(name, _)| name.to_string());
        Digest {
            stories: entries.len(),
            latest,
            region,
        }
    }
}

fn format_label(format: Format) -> &'static str {
    match format {
        Format::Rss => "RSS",
        Format::Atom => "Atom",
        Format::JsonFeed => "JSON Feed",
    }
}

fn mime(format: Format) -> &'static str {
    format.content_type().split(';').next().unwrap_or("")
}

/// A time as `<time>`: UTC text, which [`SCRIPT`] rewrites in the reader's locale.
fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "–".to_string(),
        |t| {
            format!(
                "<time datetime=\"{}\">{}</time>",
                t.format("%Y-%m-%dT%H:%M:%SZ"),
                t.format("%Y-%m-%d %H:%M UTC")
            )
        },
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The page's style sheet. A font stack with CJK faces, so Chinese titles render wherever one
/// is installed.
pub const STYLE: &str = "\
body{font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"Noto Sans CJK SC\",\
\"Noto Sans SC\",\"Source Han Sans SC\",\"PingFang SC\",\"Hiragino Sans GB\",\"Microsoft YaHei\",\
\"WenQuanYi Zen Hei\",sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.6rem;margin-bottom:0}h2{font-size:1.3rem;margin-top:2.5rem}h3{font-size:1.1rem;margin:0}\
.lead{color:#555;margin-top:.2rem}\
section.output{border-top:1px solid #ddd;padding:1rem 0}\
.count{color:#555;margin:.2rem 0 .6rem}\
ul.subscribe{list-style:none;padding:0;margin:.4rem 0}\
ul.subscribe li{display:flex;gap:.5rem;align-items:center;margin:.25rem 0}\
ul.subscribe .fmt{width:5.5rem;font-weight:600}\
input.url{flex:1;max-width:34rem;font:13px ui-monospace,monospace;padding:.2rem .3rem;border:1px solid #ccc;background:#fafafa}\
button.copy{font:inherit;padding:.1rem .7rem;cursor:pointer}\
.filters{font-size:.9rem;color:#555}.filters a{margin-right:.8rem}\
ol.stories{padding-left:1.4rem}ol.stories li{margin:.5rem 0}\
.meta,ol.stories p{display:block;color:#666;font-size:.85rem;margin:0}\
table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
td.err{color:#a00;max-width:30rem;overflow-wrap:anywhere}.ok{color:#060}.bad{color:#a00;font-weight:600}\
.failing{background:#fff3f3;border:1px solid #e8b4b4;padding:.5rem 1rem}\
code{background:#f4f4f4;padding:0 .2rem}";

/// The page's one script: times in the reader's time zone and languages (the browser's
/// preferred languages, as it sends them in `Accept-Language`), and the copy buttons.
pub const SCRIPT: &str = r#"
"use strict";
for (const t of document.querySelectorAll("time[datetime]")) {
  const d = new Date(t.getAttribute("datetime"));
  if (!isNaN(d)) {
    const style = { dateStyle: "medium", timeStyle: "short" };
    let text;
    try {
      text = d.toLocaleString(navigator.languages, style);
    } catch (e) {
      text = d.toLocaleString(undefined, style);
    }
    t.title = t.textContent;
    t.textContent = text;
  }
}
for (const button of document.querySelectorAll("button.copy")) {
  const field = button.parentElement.querySelector("input.url");
  button.hidden = false;
  button.addEventListener("click", async () => {
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(field.value);
        copied = true;
      } catch (e) {}
    }
    if (!copied) {
      field.focus();
      field.select();
      try {
        copied = document.execCommand("copy");
      } catch (e) {}
    }
    button.textContent = copied ? "Copied" : "Press Ctrl+C";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
}
"#;

fn sha256(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

/// The page's `Content-Security-Policy`: nothing loads but the page, its own style and script
/// (by hash) and the empty icon; no frames, forms or base URL.
pub static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; img-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        sha256(SCRIPT),
        sha256(STYLE)
    )
});

/// Whether a source is failing: gone, or its last fetch failed.
fn failing(status: Option<&SourceStatus>, schedule: Option<&Schedule>) -> bool {
    schedule.is_some_and(|s| s.dead) || status.and_then(|s| s.last_status) == Some(FetchStatus::Failed)
}

/// The index page.
pub fn page(
    cfg: &Config,
    digests: &HashMap<String, std::sync::Arc<Digest>>,
    statuses: &HashMap<String, SourceStatus>,
    schedules: &HashMap<String, Schedule>,
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>feedfold</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{STYLE}</style>\n"
    );
    for out in public_outputs(cfg) {
        for format in Format::ALL {
            let _ = writeln!(
                h,
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"/feeds/{}.{}\">",
                mime(format),
                escape(&out.title),
                format_label(format),
                escape(&out.name),
                format.extension()
            );
        }
    }
    let sources: Vec<_> = public_sources(cfg).collect();
    let failing_sources: Vec<_> = sources
        .iter()
        .filter(|s| failing(statuses.get(&s.name), schedules.get(&s.name)))
        .collect();
    let outputs: Vec<_> = public_outputs(cfg).collect();
    let _ = writeln!(
        h,
        "</head>\n<body>\n<h1>feedfold</h1>\n<p class=\"lead\">{} merged from {}{}. \
         Subscribe in any feed reader: copy an address below.</p>",
        plural(outputs.len(), "feed", "feeds"),
        plural(sources.len(), "source", "sources"),
        if failing_sources.is_empty() {
            String::new()
        } else {
            format!(" (<a href=\"#sources\">{} failing</a>)", failing_sources.len())
        }
    );
    h.push_str("<h2>Feeds</h2>\n");
    for out in &outputs {
        output_section(&mut h, cfg, out, digests.get(&out.name).map(|d| &**d));
    }
    let _ = writeln!(
        h,
        "<p>Any feed takes filters, which make a feed of their own: <code>region</code> (a \
         region's name in either script, in English, or its code; several with <code>,</code>), \
         <code>q</code> (a keyword query: <code>卫健委 OR 疫情</code>, <code>\"supply chain\"</code>, \
         <code>title:(地震)</code>, <code>疫情 -演练</code>) and <code>limit</code>. \
         <a href=\"/opml\">All sources as OPML</a>.</p>"
    );

    h.push_str("<h2 id=\"sources\">Sources</h2>\n");
    if !failing_sources.is_empty() {
        let _ = write!(
            h,
            "<div class=\"failing\"><p><strong>{} of {} failing:</strong></p>\n<ul>\n",
            failing_sources.len(),
            plural(sources.len(), "source", "sources")
        );
        for s in &failing_sources {
            let status = statuses.get(&s.name);
            let (result, _) = result(status, schedules.get(&s.name));
            let since = status.and_then(|st| st.last_success).map_or_else(
                || "never succeeded".to_string(),
                |t| format!("last success {}", when(Some(t))),
            );
            let _ = writeln!(
                h,
                "<li><a href=\"#source-{}\">{}</a>: {}, {since}</li>",
                escape(&s.name),
                escape(&s.name),
                escape(&result)
            );
        }
        h.push_str("</ul></div>\n");
    }
    h.push_str(
        "<table>\n<thead><tr><th>Source</th><th>Last fetch</th><th>Result</th>\
         <th>Error</th><th>Items</th><th>Next fetch</th></tr></thead>\n<tbody>\n",
    );
    // Failing sources first, each group in config order.
    let mut ordered = sources.clone();
    ordered.sort_by_key(|s| !failing(statuses.get(&s.name), schedules.get(&s.name)));
    for s in ordered {
        let status = statuses.get(&s.name);
        let schedule = schedules.get(&s.name);
        let name = match &s.location {
            Location::Http(url) => format!(
                "<a href=\"{}\">{}</a>",
                escape(&crate::redact::url(url)),
                escape(&s.name)
            ),
            Location::File(_) => escape(&s.name),
        };
        let (result, class) = result(status, schedule);
        let error = status
            .filter(|st| st.last_status == Some(FetchStatus::Failed))
            .and_then(|st| st.last_error.as_deref())
            .unwrap_or("");
        let next = match schedule {
            Some(sc) if sc.dead => "never".to_string(),
            Some(sc) => when(sc.next),
            None => "–".to_string(),
        };
        let _ = writeln!(
            h,
            "<tr id=\"source-{}\"><td>{name}</td><td>{}</td><td class=\"{class}\">{}</td><td class=\"err\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.name),
            when(status.and_then(|st| st.last_fetch)),
            escape(&result),
            escape(error),
            status.map_or(0, |st| st.items),
            next
        );
        if let Some(pages) = status.map(|st| st.pages).filter(|p| p.read + p.failed > 0) {
            let _ = writeln!(
                h,
                "<tr class=\"pages\"><td></td><td colspan=\"5\">full text: {} pages read, {} failed (tried again later)</td></tr>",
                pages.read, pages.failed
            );
        }
    }
    let _ = write!(
        h,
        "</tbody>\n</table>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    h
}

/// A source's result as the table says it, and its class.
fn result(status: Option<&SourceStatus>, schedule: Option<&Schedule>) -> (String, &'static str) {
    match (schedule, status.and_then(|st| st.last_status)) {
        (Some(sc), _) if sc.dead => ("gone (HTTP 410): no longer fetched".to_string(), "bad"),
        (Some(sc), Some(FetchStatus::Failed)) if sc.failures > 1 => {
            (format!("failed ({} in a row)", sc.failures), "bad")
        }
        (_, Some(FetchStatus::Failed)) => ("failed".to_string(), "bad"),
        (_, Some(FetchStatus::Stored)) => ("ok".to_string(), "ok"),
        (_, Some(FetchStatus::NotModified)) => ("not modified".to_string(), "ok"),
        (_, None) => ("not fetched yet".to_string(), ""),
    }
}

/// One output: title, story count, each format's address with a copy button, filter examples
/// and its latest stories.
fn output_section(h: &mut String, cfg: &Config, out: &OutputConfig, digest: Option<&Digest>) {
    let name = escape(&out.name);
    let _ = write!(
        h,
        "<section class=\"output\" id=\"output-{name}\">\n<h3>{}</h3>\n",
        escape(&out.title)
    );
    if let Some(d) = &out.description {
        let _ = writeln!(h, "<p class=\"lead\">{}</p>", escape(d));
    }
    let _ = writeln!(
        h,
        "<p class=\"count\">{}</p>",
        digest.map_or_else(
            || "not rendered yet".to_string(),
            |d| match out.dedup {
                Dedup::Off => plural(d.stories, "item", "items"),
                Dedup::Story | Dedup::Exact => plural(d.stories, "story", "stories"),
            }
        )
    );
    h.push_str("<ul class=\"subscribe\">\n");
    let meta = FeedMeta::of(out, &cfg.publish.base_url, SelfLink::Plain);
    for format in Format::ALL {
        let label = format_label(format);
        let _ = writeln!(
            h,
            "<li><span class=\"fmt\">{label}</span>\
             <input class=\"url\" type=\"text\" readonly value=\"{}\" aria-label=\"{label} address of {}\">\
             <button type=\"button\" class=\"copy\" hidden>Copy</button>\
             <a class=\"sub\" rel=\"alternate\" type=\"{}\" href=\"/feeds/{name}.{}\">open</a></li>",
            escape(&meta.url(format)),
            escape(&out.title),
            mime(format),
            format.extension()
        );
    }
    h.push_str("</ul>\n");
    let region = digest.and_then(|d| d.region.as_deref()).unwrap_or("陕西");
    let examples = [
        format!("region={}", utf8_percent_encode(region, NON_ALPHANUMERIC)),
        format!("q={}", utf8_percent_encode("疫情 OR epidemic", NON_ALPHANUMERIC)),
        "limit=10".to_string(),
    ];
    let shown = [
        format!("region={region}"),
        "q=疫情 OR epidemic".to_string(),
        "limit=10".to_string(),
    ];
    h.push_str("<p class=\"filters\">Filtered: ");
    for (query, text) in examples.iter().zip(&shown) {
        let _ = write!(
            h,
            "<a href=\"/feeds/{name}.rss?{}\"><code>{name}.rss?{}</code></a>",
            escape(query),
            escape(text)
        );
    }
    h.push_str("</p>\n");
    if let Some(d) = digest
        && !d.latest.is_empty()
    {
        h.push_str("<ol class=\"stories\">\n");
        for s in &d.latest {
            story(h, s);
        }
        h.push_str("</ol>\n");
    }
    h.push_str("</section>\n");
}

fn story(h: &mut String, s: &Story) {
    let lang = s
        .language
        .as_deref()
        .map(|l| format!(" lang=\"{}\"", escape(l)))
        .unwrap_or_default();
    let title = match &s.link {
        Some(link) => format!(
            "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
            escape(link),
            escape(&s.title)
        ),
        None => escape(&s.title),
    };
    let region = s
        .region
        .as_deref()
        .map(|r| format!(" · {}", escape(r)))
        .unwrap_or_default();
    let copies = if s.copies > 1 {
        format!(" · {} sources", s.copies)
    } else {
        String::new()
    };
    let _ = writeln!(
        h,
        "<li{lang}>{title}<span class=\"meta\">{} · {}{region}{copies}</span>{}</li>",
        when(Some(s.published)),
        escape(&s.source),
        s.also
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    #[test]
    fn page_lists_public_outputs_and_source_health() {
        let cfg = Config::parse(
            "[[source]]\nname = \"a<b>\"\nurl = \"http://example.com/a.xml\"\n\
             [[source]]\nname = \"gone\"\nurl = \"http://example.com/g.xml\"\n\
             [[source]]\nname = \"fine\"\nurl = \"http://example.com/f.xml\"\n\
             [[source]]\nname = \"hidden\"\nurl = \"http://hidden.example/h.xml\"\n\
             [[output]]\nname = \"all\"\ntitle = \"All & more\"\nsources = [\"fine\", \"a<b>\", \"gone\"]\n\
             [[output]]\nname = \"secret\"\ntitle = \"Secret\"\ntoken = \"0123456789abcdef0123\"\n",
            Path::new("/tmp/x.toml"),
        )
        .expect("valid");
        let mut statuses = HashMap::new();
        statuses.insert(
            "a<b>".to_string(),
            SourceStatus {
                last_fetch: None,
                last_status: Some(FetchStatus::Failed),
                last_error: Some("fetch http://example.com/a.xml: HTTP 500".into()),
                last_success: None,
                title: None,
                items: 12,
                pages: crate::store::PageTally { read: 3, failed: 1 },
            },
        );
        statuses.insert(
            "fine".to_string(),
            SourceStatus {
                last_fetch: DateTime::from_timestamp(1_704_700_800, 0),
                last_status: Some(FetchStatus::Stored),
                last_error: None,
                last_success: DateTime::from_timestamp(1_704_700_800, 0),
                title: None,
                items: 3,
                pages: crate::store::PageTally::default(),
            },
        );
        let mut schedules = HashMap::new();
        schedules.insert(
            "gone".to_string(),
            Schedule {
                next: None,
                failures: 1,
                dead: true,
            },
        );
        let page = page(&cfg, &HashMap::new(), &statuses, &schedules);
        assert!(page.contains("<link rel=\"alternate\" type=\"application/atom+xml\" title=\"All &amp; more (Atom)\" href=\"/feeds/all.atom\">"));
        assert!(page.contains("href=\"/feeds/all.json\""));
        assert!(!page.contains("secret"), "private outputs are not listed");
        assert!(
            !page.contains("hidden.example") && !page.contains("source-hidden"),
            "nor sources only they use"
        );
        assert!(page.contains("a&lt;b&gt;") && !page.contains("a<b>"));
        assert!(page.contains("HTTP 500") && page.contains("<td>12</td>"));
        assert!(page.contains("full text: 3 pages read, 1 failed"), "{page}");
        assert!(page.contains("gone (HTTP 410)"));
        assert!(page.contains("2 of 3 sources failing"), "{page}");
        assert!(page.contains("<time datetime=\"2024-01-08T08:00:00Z\">2024-01-08 08:00 UTC</time>"));
        let row = |name: &str| page.find(&format!("<tr id=\"source-{name}\">")).expect(name);
        assert!(
            row("a&lt;b&gt;") < row("gone") && row("gone") < row("fine"),
            "failing first, then config order"
        );
        assert!(page.contains("not rendered yet"));
        assert_eq!(page.matches("<script").count(), 1, "one script: the page's own");
    }

    #[test]
    fn the_policy_allows_the_page_style_and_script_by_hash_only() {
        let csp = CSP.as_str();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
        assert_eq!(sha256(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        assert!(csp.contains(&format!("'sha256-{}'", sha256(SCRIPT))));
        assert!(csp.contains(&format!("'sha256-{}'", sha256(STYLE))));
    }

    #[test]
    fn a_digest_keeps_the_newest_stories_and_the_commonest_region() {
        use crate::model::{Level, Region, Regions};
        use crate::output::Member;
        let region = |name: &str| {
            Regions(vec![Region {
                code: "000000".into(),
                name: name.into(),
                level: Level::Province,
                score: 3.0,
            }])
        };
        let mut entries: Vec<Entry> = (0..10)
            .map(|n| {
                let mut e = crate::output::tests::full_entry();
                e.title = format!("story {n}");
                e.regions = region(if n < 7 { "陕西省" } else { "广东省" });
                e
            })
            .collect();
        entries[0].title = "<script>alert(1)</script> & co".into();
        entries[0].others = vec![Member {
            source: "w<ire>".into(),
            url: Some("https://wire.example/a?x=1&y=2".into()),
            title: None,
        }];
        let digest = Digest::of(&entries);
        assert_eq!(digest.stories, 10);
        assert_eq!(digest.latest.len(), LATEST);
        assert_eq!(digest.latest[1].title, "story 1");
        assert_eq!(digest.region.as_deref(), Some("陕西省"));
        assert_eq!(digest.latest[0].copies, 2);
        assert_eq!(digest.latest[0].language.as_deref(), Some("fr-CA"));

        let cfg = Config::parse(
            "[[source]]\nname = \"s\"\nurl = \"http://example.com/s.xml\"\n\
             [[output]]\nname = \"all\"\ntitle = \"All\"\n",
            Path::new("/tmp/x.toml"),
        )
        .expect("valid");
        let page = page(
            &cfg,
            &HashMap::from([("all".to_string(), Arc::new(digest))]),
            &HashMap::new(),
            &HashMap::new(),
        );
        assert!(page.contains("<p class=\"count\">10 stories</p>"), "{page}");
        assert_eq!(page.matches("<li lang=\"fr-CA\">").count(), LATEST);
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
            "{page}"
        );
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(page.contains("Also reported by: <a href=\"https://wire.example/a?x=1&amp;y=2\""));
        assert!(page.contains(">w&lt;ire&gt;</a>") && page.contains("· 2 sources"));
        assert!(
            page.contains("href=\"/feeds/all.rss?region=%E9%99%95%E8%A5%BF%E7%9C%81\""),
            "{page}"
        );
        for ext in ["rss", "atom", "json"] {
            assert!(
                page.contains(&format!("value=\"http://localhost:8080/feeds/all.{ext}\"")),
                "{page}"
            );
        }
        assert_eq!(
            page.matches("<button type=\"button\" class=\"copy\" hidden>")
                .count(),
            3
        );
    }
}
