//! The daemon's index page: plain HTML that works without JavaScript.
//!
//! In: the config, each source's stored status and its schedule. Out: one HTML page listing
//! every public output with subscribe links per format (and `<link rel="alternate">` tags so
//! readers and browsers discover them), and a health table of the sources those outputs draw
//! from (a source only private outputs use is not listed: [`public_sources`]), with the pages
//! its items' full text was read from and those that failed.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{Schedule, public_outputs, public_sources};
use crate::config::{Config, Location};
use crate::html::escape;
use crate::output::Format;
use crate::store::{FetchStatus, SourceStatus};

fn format_label(format: Format) -> &'static str {
    match format {
        Format::Rss => "RSS",
        Format::Atom => "Atom",
        Format::JsonFeed => "JSON Feed",
    }
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "–".to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
td.err{color:#a00;max-width:30rem;overflow-wrap:anywhere}.ok{color:#060}.bad{color:#a00;font-weight:600}\
ul.outputs li{margin:.4rem 0}a.sub{margin-right:.6rem}code{background:#f4f4f4;padding:0 .2rem}";

/// The index page.
pub fn page(
    cfg: &Config,
    statuses: &HashMap<String, SourceStatus>,
    schedules: &HashMap<String, Schedule>,
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>feedfold</title>\n<style>{STYLE}</style>\n"
    );
    for out in public_outputs(cfg) {
        for format in Format::ALL {
            let _ = writeln!(
                h,
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"/feeds/{}.{}\">",
                format.content_type().split(';').next().unwrap_or(""),
                escape(&out.title),
                format_label(format),
                escape(&out.name),
                format.extension()
            );
        }
    }
    let _ = write!(
        h,
        "</head>\n<body>\n<h1>feedfold</h1>\n<h2>Feeds</h2>\n<ul class=\"outputs\">\n"
    );
    for out in public_outputs(cfg) {
        let _ = write!(
            h,
            "<li id=\"output-{}\"><strong>{}</strong>",
            escape(&out.name),
            escape(&out.title)
        );
        if let Some(d) = &out.description {
            let _ = write!(h, " — {}", escape(d));
        }
        h.push_str("<br>");
        for format in Format::ALL {
            let _ = write!(
                h,
                "<a class=\"sub\" rel=\"alternate\" type=\"{}\" href=\"/feeds/{}.{}\">{}</a>",
                format.content_type().split(';').next().unwrap_or(""),
                escape(&out.name),
                format.extension(),
                format_label(format)
            );
        }
        h.push_str("</li>\n");
    }
    h.push_str(
        "</ul>\n<p>Any feed takes filters: <code>?region=陕西</code>, <code>?q=地震 OR earthquake</code>, \
         <code>?limit=20</code>. <a href=\"/opml\">All sources as OPML</a>.</p>\n",
    );
    let _ = write!(
        h,
        "<h2>Sources</h2>\n<table>\n<thead><tr><th>Source</th><th>Last fetch</th><th>Result</th>\
         <th>Error</th><th>Items</th><th>Next fetch</th></tr></thead>\n<tbody>\n"
    );
    for s in public_sources(cfg) {
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
        let (class, result) = match (schedule, status.and_then(|st| st.last_status)) {
            (Some(sc), _) if sc.dead => ("bad", "gone (HTTP 410): no longer fetched".to_string()),
            (Some(sc), Some(FetchStatus::Failed)) if sc.failures > 1 => {
                ("bad", format!("failed ({} in a row)", sc.failures))
            }
            (_, Some(FetchStatus::Failed)) => ("bad", "failed".to_string()),
            (_, Some(FetchStatus::Stored)) => ("ok", "ok".to_string()),
            (_, Some(FetchStatus::NotModified)) => ("ok", "not modified".to_string()),
            (_, None) => ("", "not fetched yet".to_string()),
        };
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
    h.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn page_lists_public_outputs_and_source_health() {
        let cfg = Config::parse(
            "[[source]]\nname = \"a<b>\"\nurl = \"http://example.com/a.xml\"\n\
             [[source]]\nname = \"gone\"\nurl = \"http://example.com/g.xml\"\n\
             [[source]]\nname = \"hidden\"\nurl = \"http://hidden.example/h.xml\"\n\
             [[output]]\nname = \"all\"\ntitle = \"All & more\"\nsources = [\"a<b>\", \"gone\"]\n\
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
        let mut schedules = HashMap::new();
        schedules.insert(
            "gone".to_string(),
            Schedule {
                next: None,
                failures: 1,
                dead: true,
            },
        );
        let page = page(&cfg, &statuses, &schedules);
        assert!(page.contains("<link rel=\"alternate\" type=\"application/atom+xml\" title=\"All &amp; more (Atom)\" href=\"/feeds/all.atom\">"));
        assert!(page.contains("href=\"/feeds/all.json\""));
        assert!(!page.contains("secret"), "private outputs are not listed");
        assert!(!page.contains("hidden"), "nor sources only they use");
        assert!(page.contains("a&lt;b&gt;") && !page.contains("a<b>"));
        assert!(page.contains("HTTP 500") && page.contains("<td>12</td>"));
        assert!(page.contains("full text: 3 pages read, 1 failed"), "{page}");
        assert!(page.contains("gone (HTTP 410)"));
        assert!(!page.contains("<script"));
    }
}
