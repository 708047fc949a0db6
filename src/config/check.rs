//! The checks of each config section, one function per section.
//!
//! In: a [`Collector`], one section as [`super::raw`] read it (and whatever an earlier section
//! decided that this one needs: the config file's folder, `[fetch]`'s request defaults, the
//! source names, `[publish] author`). Out: that section's typed part of [`super::Config`], with
//! paths made absolute, URLs parsed, durations and sizes converted and defaults filled in.
//! Every problem goes to the collector (key path, line, message) and checking goes on, so one
//! run reports them all; a value with a problem is replaced by its default, and a source or
//! output that cannot be used is left out.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::FixedOffset;
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use super::raw::{
    Collector, Element, Pairs, RawDuration, RawFetch, RawFold, RawOutput, RawProxy, RawPublish, RawServer,
    RawSize, RawSource, RawStore, Section,
};
use super::suggest;
use super::{
    DEFAULT_USER_AGENT, Dedup, FetchConfig, FullText, Location, MIN_KEEP, OutputConfig, PublishConfig,
    ServerConfig, SourceConfig, SourceKind, StoreConfig, parse_offset, parse_size, resolve_region, within,
};
use crate::output::query::Query;
use crate::source::page::{ListRules, Rules, Selector};
use crate::source::request::{self, Proxy, ProxyKey, RequestOptions};
use crate::transform::fold::FoldConfig;

/// `[store]`: the database URL, SQLite paths resolved against `base_dir`, and how long items are
/// kept.
pub(super) fn store(c: &mut Collector<'_>, store: &Section<'_, RawStore>, base_dir: &Path) -> StoreConfig {
    let url = match store.raw.url.as_deref() {
        None => sqlite_url(&base_dir.join("feedfold.db")),
        Some(u) => match resolve_store_url(u, base_dir) {
            Ok(u) => u,
            Err(m) => {
                c.push(store.span("url"), "store.url", m);
                String::new()
            }
        },
    };
    let keep = keep(c, store.raw.keep.as_ref(), store.span("keep"), "store.keep");
    StoreConfig { url, keep }
}

/// A `keep` duration (`[store] keep`, `[[output]] keep`) of at least [`MIN_KEEP`], or None
/// (with a problem reported at `key` when it is written but not valid).
fn keep(
    c: &mut Collector<'_>,
    raw: Option<&RawDuration>,
    span: Option<std::ops::Range<usize>>,
    key: &str,
) -> Option<Duration> {
    match raw?.get() {
        Some(d) if d >= MIN_KEEP => Some(d),
        _ => {
            c.push(span, key, "must be a duration of at least 1d, like \"30d\"");
            None
        }
    }
}

/// `[fetch]`: limits, timeouts and the daemon's pacing; the lease must outlast the timeout.
pub(super) fn fetch(c: &mut Collector<'_>, section: &Section<'_, RawFetch>) -> FetchConfig {
    let fetch = &section.raw;
    let fetch_span = |k: &str| section.span(k);
    let mut fetch_cfg = FetchConfig {
        concurrency: 8,
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(10),
        max_body: 10 << 20,
        max_compressed_body: 10 << 20,
        max_items: 1000,
        allow_private: false,
        max_redirects: 5,
        user_agent: DEFAULT_USER_AGENT.to_string(),
        headers: Vec::new(),
        proxy: None,
        default_timezone: FixedOffset::east_opt(8 * 3600)
            .unwrap_or(FixedOffset::east_opt(0).expect("zero offset")),
        interval: Duration::from_secs(15 * 60),
        per_host: 2,
        max_backoff: Duration::from_secs(6 * 3600),
        max_interval: Duration::from_secs(24 * 3600),
        startup_spread: Duration::from_secs(60),
        lease: Duration::from_secs(5 * 60),
        full_text_concurrency: 4,
        full_text_min_chars: 500,
    };
    for (raw, key, slot, most) in [
        (fetch.concurrency, "concurrency", &mut fetch_cfg.concurrency, 1024),
        (fetch.per_host, "per_host", &mut fetch_cfg.per_host, 1024),
        (fetch.max_items, "max_items", &mut fetch_cfg.max_items, 100_000),
        (
            fetch.full_text_concurrency,
            "full_text_concurrency",
            &mut fetch_cfg.full_text_concurrency,
            1024,
        ),
        (
            fetch.full_text_min_chars,
            "full_text_min_chars",
            &mut fetch_cfg.full_text_min_chars,
            1_000_000,
        ),
    ] {
        let Some(n) = raw else { continue };
        match usize::try_from(n) {
            Ok(n) if (1..=most).contains(&n) => *slot = n,
            _ => c.push(
                fetch_span(key),
                format!("fetch.{key}"),
                format!("must be between 1 and {most}"),
            ),
        }
    }
    for (raw, key, slot, least) in [
        (&fetch.timeout, "timeout", &mut fetch_cfg.timeout, 0),
        (
            &fetch.connect_timeout,
            "connect_timeout",
            &mut fetch_cfg.connect_timeout,
            0,
        ),
        (&fetch.interval, "interval", &mut fetch_cfg.interval, 10),
        (&fetch.max_backoff, "max_backoff", &mut fetch_cfg.max_backoff, 10),
        (
            &fetch.max_interval,
            "max_interval",
            &mut fetch_cfg.max_interval,
            10,
        ),
    ] {
        let Some(raw) = raw else { continue };
        let parsed = raw.get();
        match parsed {
            Some(d) if !d.is_zero() && d.as_secs() >= least => *slot = d,
            Some(_) if least > 0 => c.push(
                fetch_span(key),
                format!("fetch.{key}"),
                format!("must be at least {least}s"),
            ),
            _ => c.push(
                fetch_span(key),
                format!("fetch.{key}"),
                "must be a positive duration: seconds, or a string like \"30s\", \"2m\"",
            ),
        }
    }
    let (mut max_body, mut max_compressed_body) = (None, None);
    for (raw, key, slot) in [
        (&fetch.max_body, "max_body", &mut max_body),
        (
            &fetch.max_compressed_body,
            "max_compressed_body",
            &mut max_compressed_body,
        ),
    ] {
        let Some(raw) = raw else { continue };
        let parsed = match raw {
            RawSize::Bytes(b) => u64::try_from(*b).ok(),
            RawSize::Text(t) => parse_size(t),
        };
        match parsed {
            Some(b) if b > 0 => *slot = Some(b),
            _ => c.push(
                fetch_span(key),
                format!("fetch.{key}"),
                "must be a positive size: bytes, or a string like \"10MiB\"",
            ),
        }
    }
    fetch_cfg.max_body = max_body.unwrap_or(fetch_cfg.max_body);
    // Unset, the compressed cap is the decompressed one: a feed shrinks when compressed.
    fetch_cfg.max_compressed_body = max_compressed_body.unwrap_or(fetch_cfg.max_body);
    fetch_cfg.allow_private = fetch.allow_private.unwrap_or(false);
    if let Some(n) = fetch.max_redirects {
        match usize::try_from(n) {
            Ok(n) if n <= 20 => fetch_cfg.max_redirects = n,
            _ => c.push(
                fetch_span("max_redirects"),
                "fetch.max_redirects",
                "must be between 0 and 20",
            ),
        }
    }
    if let Some(ua) = &fetch.user_agent {
        match request::user_agent(ua) {
            Ok(_) => fetch_cfg.user_agent = ua.trim().to_string(),
            Err(m) => c.push(fetch_span("user_agent"), "fetch.user_agent", m),
        }
    }
    fetch_cfg.headers = headers(c, fetch.headers.as_ref(), "fetch.headers");
    fetch_cfg.proxy = fetch.proxy.as_deref().and_then(|text| {
        proxy(text)
            .map_err(|m| c.push(fetch_span("proxy"), "fetch.proxy", m))
            .ok()
    });
    if let Some(tz) = &fetch.default_timezone {
        match parse_offset(tz) {
            Some(o) => fetch_cfg.default_timezone = o,
            None => c.push(
                fetch_span("default_timezone"),
                "fetch.default_timezone",
                "must be a UTC offset like \"+08:00\" or \"Z\"",
            ),
        }
    }

    if let Some(raw) = &fetch.startup_spread {
        match raw.get() {
            Some(d) => fetch_cfg.startup_spread = d,
            None => c.push(
                fetch_span("startup_spread"),
                "fetch.startup_spread",
                "must be a duration: seconds, or a string like \"1m\"",
            ),
        }
    }

    if let Some(raw) = &fetch.lease {
        match raw.get() {
            Some(d) if d.as_secs() >= 2 && d > fetch_cfg.timeout => fetch_cfg.lease = d,
            Some(d) if d.as_secs() >= 2 => c.push(
                fetch_span("lease"),
                "fetch.lease",
                format!(
                    "must be longer than fetch.timeout ({}s): a lease must outlast a fetch",
                    fetch_cfg.timeout.as_secs_f64()
                ),
            ),
            _ => c.push(
                fetch_span("lease"),
                "fetch.lease",
                "must be a duration of at least 2s, like \"5m\"",
            ),
        }
    }
    fetch_cfg
}

/// `[server]`: the listen address, the ad-hoc cache and the refresh period.
pub(super) fn server(c: &mut Collector<'_>, section: &Section<'_, RawServer>) -> ServerConfig {
    let server = &section.raw;
    let server_span = |k: &str| section.span(k);
    let listen_text = server.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen = match listen_text.parse::<std::net::SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            c.push(
                server_span("listen"),
                "server.listen",
                format!("`{listen_text}` is not an address like \"127.0.0.1:8080\" or \"[::1]:8080\""),
            );
            std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
        }
    };
    let cache_entries = match server.cache_entries {
        None => 64,
        Some(n) => match usize::try_from(n) {
            Ok(n) if n <= 100_000 => n,
            _ => {
                c.push(
                    server_span("cache_entries"),
                    "server.cache_entries",
                    "must be between 0 and 100000",
                );
                64
            }
        },
    };

    let refresh = match server.refresh.as_ref().map(RawDuration::get) {
        None => Duration::from_secs(2),
        Some(Some(d)) if d >= Duration::from_millis(100) => d,
        Some(_) => {
            c.push(
                server_span("refresh"),
                "server.refresh",
                "must be a duration of at least 100ms, like \"2s\"",
            );
            Duration::from_secs(2)
        }
    };
    ServerConfig {
        listen,
        cache_entries,
        refresh,
    }
}

/// `[publish]`: the output folders (resolved against `base_dir`), base URL and default author.
pub(super) fn publish(
    c: &mut Collector<'_>,
    section: &Section<'_, RawPublish>,
    base_dir: &Path,
) -> PublishConfig {
    let publish = &section.raw;
    let dir = base_dir.join(publish.dir.as_deref().unwrap_or("public"));
    let base_url_text = publish.base_url.as_deref().unwrap_or("http://localhost:8080");
    let base_url = match Url::parse(base_url_text) {
        Ok(u) if crate::html::is_web_url(&u) => u,
        _ => {
            c.push(
                section.span("base_url"),
                "publish.base_url",
                format!("`{base_url_text}` is not an absolute http(s) URL"),
            );
            Url::parse("http://localhost:8080").expect("static URL")
        }
    };
    let author = publish.author.as_deref().and_then(|a| {
        author_name(a)
            .map_err(|m| c.push(section.span("author"), "publish.author", m))
            .ok()
    });
    let private_dir = publish.private_dir.as_deref().and_then(|p| {
        let full = base_dir.join(p.trim());
        let problem = if p.trim().is_empty() {
            Some("must be a folder path".to_string())
        } else if within(&full, &dir) {
            Some(format!(
                "`{}` is `[publish] dir` or inside it, which is served publicly: \
                 choose a folder outside it",
                full.display()
            ))
        } else {
            None
        };
        match problem {
            Some(m) => {
                c.push(section.span("private_dir"), "publish.private_dir", m);
                None
            }
            None => Some(full),
        }
    });
    PublishConfig {
        dir,
        base_url,
        author,
        private_dir,
    }
}

/// `[fold]`: the story-folding windows and thresholds.
pub(super) fn fold(c: &mut Collector<'_>, section: &Section<'_, RawFold>) -> FoldConfig {
    let fold = &section.raw;
    let fold_span = |k: &str| section.span(k);
    let mut fold_cfg = FoldConfig::default();
    for (raw, key, slot) in [
        (&fold.window, "window", &mut fold_cfg.window_hours),
        (
            &fold.title_only_window,
            "title_only_window",
            &mut fold_cfg.title_only_hours,
        ),
    ] {
        let Some(raw) = raw else { continue };
        let parsed = raw.get();
        match parsed {
            Some(d) => *slot = d.as_secs_f64() / 3600.0,
            None => c.push(
                fold_span(key),
                format!("fold.{key}"),
                "must be a duration: seconds, or a string like \"3d\", \"18h\"",
            ),
        }
    }
    for (raw, key, slot) in [
        (fold.min_jaccard, "min_jaccard", &mut fold_cfg.min_jaccard),
        (
            fold.min_containment,
            "min_containment",
            &mut fold_cfg.min_containment,
        ),
    ] {
        match raw {
            None => {}
            Some(v) if (0.0..=1.0).contains(&v) && v > 0.0 => *slot = v,
            Some(_) => c.push(
                fold_span(key),
                format!("fold.{key}"),
                "must be a number in (0, 1]",
            ),
        }
    }
    fold_cfg
}

/// `[[source]]`: the usable sources, in file order, and every non-empty name given (a source
/// whose URL is bad is left out, but outputs may still name it without a second problem);
/// `fetch` gives the request defaults (`[fetch] headers`, `proxy`); what is valid but has no
/// effect goes to `warnings`.
pub(super) fn sources(
    c: &mut Collector<'_>,
    elements: &[Element<'_, RawSource>],
    base_dir: &Path,
    fetch: &FetchConfig,
    warnings: &mut Vec<String>,
) -> (Vec<SourceConfig>, HashSet<String>) {
    let mut sources = Vec::new();
    let mut names = HashSet::new();
    for element in elements {
        let raw = &element.raw;
        let path = &element.path;
        let name = required(c, element, "name", raw.name.as_deref()).map(str::trim);
        match name {
            Some("") => c.push(element.span("name"), format!("{path}.name"), "must not be empty"),
            Some(name) if !names.insert(name.to_string()) => c.push(
                element.span("name"),
                format!("{path}.name"),
                format!("duplicate source name `{name}`"),
            ),
            _ => {}
        }
        let url = required(c, element, "url", raw.url.as_deref());
        let location = url.and_then(|url| match resolve_location(url, base_dir) {
            Ok(l) => Some(l),
            Err(m) => {
                let whose = match name {
                    Some(name) if !name.is_empty() => format!("source `{name}`"),
                    _ => element.position.clone(),
                };
                c.push(
                    element.span("url"),
                    format!("{path}.url"),
                    format!("{whose}: {m}"),
                );
                None
            }
        });
        let timezone = match raw.timezone.as_deref().map(|t| (t, parse_offset(t))) {
            None => None,
            Some((_, Some(o))) => Some(o),
            Some((t, None)) => {
                c.push(
                    element.span("timezone"),
                    format!("{path}.timezone"),
                    format!("`{t}` is not a UTC offset like \"+08:00\""),
                );
                None
            }
        };
        let region = raw.region.as_deref().and_then(|r| {
            resolve_region(r)
                .map_err(|m| c.push(element.span("region"), format!("{path}.region"), m))
                .ok()
        });
        let interval = raw.interval.as_ref().and_then(|raw| match raw.get() {
            Some(d) if d.as_secs() >= 10 => Some(d),
            _ => {
                c.push(
                    element.span("interval"),
                    format!("{path}.interval"),
                    "must be a duration of at least 10s, like \"30m\"",
                );
                None
            }
        });
        let request = request_options(c, element, location.as_ref(), base_dir, fetch);
        let (kind, full_text, page_rules) = full_text(c, element, location.as_ref(), warnings);
        if let (Some(name), Some(location)) = (name, location) {
            sources.push(SourceConfig {
                name: name.to_string(),
                location,
                timezone,
                region,
                interval,
                allow_private: raw.allow_private,
                request,
                kind,
                full_text,
                page_rules,
            });
        }
    }
    (sources, names)
}

/// `[[output]]`: the outputs, in file order; `source_names` are the names `[[source]]` gave,
/// `publish_author` the author of outputs that name none (else their title).
pub(super) fn outputs(
    c: &mut Collector<'_>,
    elements: &[Element<'_, RawOutput>],
    source_names: &HashSet<String>,
    publish_author: Option<&str>,
) -> Vec<OutputConfig> {
    let mut outputs = Vec::new();
    let mut output_names = HashSet::new();
    for element in elements {
        let raw = &element.raw;
        let path = &element.path;
        let name = required(c, element, "name", raw.name.as_deref());
        let title = required(c, element, "title", raw.title.as_deref());
        match name {
            Some(name) if !is_output_name(name) => c.push(
                element.span("name"),
                format!("{path}.name"),
                format!("`{name}` is not a valid output name: use letters, digits, `.`, `_`, `-`"),
            ),
            Some(name) if !output_names.insert(name.to_string()) => c.push(
                element.span("name"),
                format!("{path}.name"),
                format!("duplicate output name `{name}`"),
            ),
            _ => {}
        }
        let whose = match name {
            Some(name) => format!("output `{name}`"),
            None => element.position.clone(),
        };
        if let Some(list) = &raw.sources {
            let spans = element.array_spans("sources");
            for (i, s) in list.iter().enumerate() {
                if !source_names.contains(s.trim()) {
                    c.push(
                        spans.get(i).cloned(),
                        format!("{path}.sources[{i}]"),
                        format!("no source is named `{s}`"),
                    );
                }
            }
        }
        let limit = match raw.limit {
            None => 100,
            Some(n) => match usize::try_from(n) {
                Ok(n) if (1..=100_000).contains(&n) => n,
                _ => {
                    c.push(
                        element.span("limit"),
                        format!("{path}.limit"),
                        "must be between 1 and 100000",
                    );
                    100
                }
            },
        };
        let region_list = |key: &str, list: &Option<Vec<String>>, c: &mut Collector<'_>| -> Vec<usize> {
            let spans = element.array_spans(key);
            let mut units = Vec::new();
            for (i, r) in list.iter().flatten().enumerate() {
                match resolve_region(r) {
                    Ok(u) => units.push(u),
                    Err(m) => c.push(spans.get(i).cloned(), format!("{path}.{key}[{i}]"), m),
                }
            }
            units
        };
        let regions = region_list("regions", &raw.regions, c);
        let exclude_regions = region_list("exclude_regions", &raw.exclude_regions, c);
        let keywords = match raw.keywords.as_deref().map(Query::parse) {
            None => None,
            Some(Ok(q)) => Some(q),
            Some(Err(e)) => {
                c.push(
                    element.span("keywords"),
                    format!("{path}.keywords"),
                    format!("{whose}: bad query {e}"),
                );
                None
            }
        };
        let token = match &raw.token {
            Some(t) if t.len() < 16 || !t.chars().all(|ch| ch.is_ascii_graphic()) => {
                c.push(
                    element.span("token"),
                    format!("{path}.token"),
                    "must be at least 16 printable ASCII characters without spaces (e.g. `openssl rand -hex 16`)",
                );
                None
            }
            other => other.clone(),
        };
        let author = match raw.author.as_deref().map(author_name) {
            Some(Ok(a)) => Some(a),
            Some(Err(m)) => {
                c.push(element.span("author"), format!("{path}.author"), m);
                None
            }
            None => None,
        };
        let keep = keep(
            c,
            raw.keep.as_ref(),
            element.span("keep"),
            &format!("{path}.keep"),
        );
        let dedup = match raw.dedup.as_deref().map(Dedup::parse) {
            None => Dedup::Story,
            Some(Ok(dedup)) => dedup,
            Some(Err(m)) => {
                c.push(element.span("dedup"), format!("{path}.dedup"), m);
                Dedup::Story
            }
        };
        let (Some(name), Some(title)) = (name, title) else {
            continue;
        };
        let author = author
            .or_else(|| publish_author.map(str::to_string))
            .unwrap_or_else(|| match title.trim() {
                "" => "feedfold".to_string(),
                title => title.to_string(),
            });
        outputs.push(OutputConfig {
            name: name.to_string(),
            title: title.to_string(),
            description: raw.description.clone(),
            author,
            sources: raw
                .sources
                .as_ref()
                .map(|s| s.iter().map(|n| n.trim().to_string()).collect()),
            limit,
            dedup,
            regions,
            exclude_regions,
            keywords,
            token,
            keep,
        });
    }
    outputs
}

/// The request settings of a source (`headers`, `cookies`, `user_agent`, `proxy`, basic auth,
/// `headers_file`) over the `[fetch]` defaults. A file source may set none of them; an
/// http(s) source's problems are reported per key (per header and cookie for those tables).
fn request_options(
    c: &mut Collector<'_>,
    element: &Element<'_, RawSource>,
    location: Option<&Location>,
    base_dir: &Path,
    fetch: &FetchConfig,
) -> RequestOptions {
    let raw = &element.raw;
    let path = &element.path;
    let set: Vec<&str> = [
        ("username", raw.username.is_some()),
        ("password_env", raw.password_env.is_some()),
        ("password_file", raw.password_file.is_some()),
        ("headers_file", raw.headers_file.is_some()),
        ("headers", raw.headers.is_some()),
        ("cookies", raw.cookies.is_some()),
        ("user_agent", raw.user_agent.is_some()),
        ("proxy", raw.proxy.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    let url = match location {
        Some(Location::Http(url)) => url,
        Some(Location::File(_)) if !set.is_empty() => {
            let keys: Vec<String> = set.iter().map(|k| format!("`{k}`")).collect();
            c.push(
                element.span("url"),
                format!("{path}.url"),
                format!("{} need an http(s) URL: this source is a file", keys.join(", ")),
            );
            return RequestOptions::default();
        }
        // A file source without request settings, or a bad URL (reported already).
        _ => return RequestOptions::default(),
    };
    let headers = headers(c, raw.headers.as_ref(), &format!("{path}.headers"));
    let mut cookies = Vec::new();
    for (name, value) in raw.cookies.iter().flat_map(|p| &p.0) {
        match request::cookie(name.get_ref(), value.get_ref()) {
            Ok(cookie) => cookies.push(cookie),
            Err(m) => c.push(Some(name.span()), format!("{path}.cookies.{}", name.get_ref()), m),
        }
    }
    let user_agent = raw.user_agent.as_deref().and_then(|ua| {
        request::user_agent(ua)
            .map_err(|m| c.push(element.span("user_agent"), format!("{path}.user_agent"), m))
            .ok()
    });
    let proxy = match &raw.proxy {
        None => ProxyKey::Unset,
        Some(RawProxy::Flag(false)) => ProxyKey::Off,
        Some(RawProxy::Flag(true)) => {
            c.push(
                element.span("proxy"),
                format!("{path}.proxy"),
                "`true` names no proxy: give its URL, or `false` to turn [fetch] proxy off for this source",
            );
            ProxyKey::Unset
        }
        Some(RawProxy::Url(text)) => match proxy(text) {
            Ok(proxy) => ProxyKey::Via(proxy),
            Err(m) => {
                c.push(element.span("proxy"), format!("{path}.proxy"), m);
                ProxyKey::Unset
            }
        },
    };
    let keys = request::Keys {
        username: raw.username.as_deref(),
        password_env: raw.password_env.as_deref(),
        password_file: raw.password_file.as_deref(),
        headers_file: raw.headers_file.as_deref(),
        headers,
        cookies,
        user_agent,
        proxy,
    };
    let defaults = request::Defaults {
        headers: &fetch.headers,
        proxy: fetch.proxy.as_ref(),
    };
    RequestOptions::load(&keys, url, base_dir, defaults).unwrap_or_else(|problems| {
        for (key, message) in problems {
            c.push(element.span(key), format!("{path}.{key}"), message);
        }
        RequestOptions::default()
    })
}

/// A source's `kind`, `full_text` and page selectors. A list page (`kind = "page"`) needs
/// `item_selector` and an http(s) URL, and fetches every item's page unless `full_text` says
/// otherwise; the list selectors need `kind = "page"`. Every selector is parsed, and a bad one
/// reported under its key (`remove_selectors[i]` for one of those). Selectors that can have no
/// effect (`full_text = "never"`) are a warning.
fn full_text(
    c: &mut Collector<'_>,
    element: &Element<'_, RawSource>,
    location: Option<&Location>,
    warnings: &mut Vec<String>,
) -> (SourceKind, FullText, Rules) {
    let raw = &element.raw;
    let path = &element.path;
    let selector = |key: &str, text: Option<&str>, c: &mut Collector<'_>| {
        let text = text?;
        Selector::parse(text)
            .map_err(|m| c.push(element.span(key), format!("{path}.{key}"), m))
            .ok()
    };
    let list = [
        ("item_selector", raw.item_selector.as_deref()),
        ("title_selector", raw.title_selector.as_deref()),
        ("link_selector", raw.link_selector.as_deref()),
        ("date_selector", raw.date_selector.as_deref()),
    ];
    let page = match raw.kind.as_deref() {
        None | Some("feed") => false,
        Some("page") => true,
        Some(other) => {
            c.push(
                element.span("kind"),
                format!("{path}.kind"),
                format!(
                    "unknown value `{other}`{}",
                    suggest::hint(other, &["feed", "page"])
                ),
            );
            false
        }
    };
    let kind = if page {
        if matches!(location, Some(Location::File(_))) {
            c.push(
                element.span("url"),
                format!("{path}.url"),
                "a list page (kind = \"page\") needs an http(s) URL: its links are fetched",
            );
        }
        let [item, title, link, date] = list.map(|(key, text)| selector(key, text, c));
        match item {
            Some(item) => SourceKind::Page(Box::new(ListRules {
                item,
                title,
                link,
                date,
            })),
            None => {
                if raw.item_selector.is_none() {
                    c.push(
                        Some(element.table_span()),
                        format!("{path}.item_selector"),
                        format!(
                            "{} has kind = \"page\" but no `item_selector`: it is required",
                            element.position
                        ),
                    );
                }
                SourceKind::Feed
            }
        }
    } else {
        for (key, text) in list {
            if text.is_some() {
                c.push(
                    element.span(key),
                    format!("{path}.{key}"),
                    format!("`{key}` is for list pages: it needs kind = \"page\""),
                );
            }
        }
        SourceKind::Feed
    };
    let full_text = match raw.full_text.as_deref().map(FullText::parse) {
        None if page => FullText::Always,
        None => FullText::Never,
        Some(Ok(f)) => f,
        Some(Err(m)) => {
            c.push(element.span("full_text"), format!("{path}.full_text"), m);
            FullText::Never
        }
    };
    let content = selector("content_selector", raw.content_selector.as_deref(), c);
    let spans = element.array_spans("remove_selectors");
    let mut remove = Vec::new();
    for (i, text) in raw.remove_selectors.iter().flatten().enumerate() {
        match Selector::parse(text) {
            Ok(s) => remove.push(s),
            Err(m) => c.push(spans.get(i).cloned(), format!("{path}.remove_selectors[{i}]"), m),
        }
    }
    if full_text == FullText::Never && (raw.content_selector.is_some() || raw.remove_selectors.is_some()) {
        warnings.push(format!(
            "{path}: content_selector and remove_selectors have no effect with full_text = \"never\""
        ));
    }
    (kind, full_text, Rules { content, remove })
}

/// The headers of a `headers` table (`path` is its key path), each checked; a bad one is
/// reported under `path.NAME` and left out.
fn headers(c: &mut Collector<'_>, pairs: Option<&Pairs>, path: &str) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::new();
    for (name, value) in pairs.iter().flat_map(|p| &p.0) {
        match request::header(name.get_ref(), value.get_ref()) {
            Ok(header) => headers.push(header),
            Err(m) => c.push(Some(name.span()), format!("{path}.{}", name.get_ref()), m),
        }
    }
    headers
}

/// A proxy URL as written (`[fetch] proxy`, a source's `proxy`), or what is wrong with it; a
/// scheme like `http` or `https` is offered for a mistyped one.
fn proxy(text: &str) -> Result<Proxy, String> {
    let text = text.trim();
    // Not echoed: a URL that does not parse cannot have its password masked.
    let url =
        Url::parse(text).map_err(|e| format!("not a proxy URL like \"http://proxy.example:3128\": {e}"))?;
    if let Some(like) = suggest::closest(url.scheme(), &["http", "https"])
        && like != url.scheme()
    {
        return Err(format!(
            "unsupported proxy scheme `{}`: did you mean `{like}`?",
            url.scheme()
        ));
    }
    Proxy::new(url)
}

/// The value of a key an element must have; a missing one is reported with the element's
/// position (`[[source]] #3 has no `url``) and the line of its table.
fn required<'a, T>(
    c: &mut Collector<'_>,
    element: &Element<'_, T>,
    key: &str,
    value: Option<&'a str>,
) -> Option<&'a str> {
    if value.is_none() {
        c.push(
            Some(element.table_span()),
            format!("{}.{key}", element.path),
            format!("{} has no `{key}`: it is required", element.position),
        );
    }
    value
}

/// A feed author's name as configured: one line of at most 200 characters, trimmed.
fn author_name(text: &str) -> Result<String, &'static str> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        Err("must be one non-empty line of at most 200 characters")
    } else {
        Ok(name.to_string())
    }
}

/// Whether `name` can name an output: `[A-Za-z0-9][A-Za-z0-9._-]*`.
fn is_output_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Resolves `[store] url`: SQLite paths relative to the config folder; PostgreSQL URLs as given.
fn resolve_store_url(url: &str, base_dir: &Path) -> Result<String, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(url.to_string());
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(format!("`{url}` is not a sqlite:// or postgres:// URL"));
    };
    if rest == ":memory:" || rest.starts_with(":memory:") {
        return Ok(url.to_string());
    }
    let rest = rest.trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err("sqlite URL has no file path".to_string());
    }
    let full = base_dir.join(path);
    if query.is_empty() {
        Ok(sqlite_url(&full))
    } else {
        Ok(format!("sqlite://{}?{query}", full.display()))
    }
}

/// The schemes a source `url` may have.
const SCHEMES: [&str; 3] = ["http", "https", "file"];

/// Resolves a source `url`: http(s) URLs, `file://` URLs, or paths relative to the config file.
/// What looks like a URL with a mistyped scheme or separator is an error offering the URL it
/// most likely meant, not a path.
fn resolve_location(url: &str, base_dir: &Path) -> Result<Location, String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("must not be empty".to_string());
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let parsed =
            Url::parse(url).map_err(|e| format!("`{}` is not a valid URL: {e}", crate::redact::text(url)))?;
        return match parsed.scheme() {
            "http" | "https" => Ok(Location::Http(parsed)),
            "file" => parsed
                .to_file_path()
                .map(Location::File)
                .map_err(|()| format!("`{url}` is not an absolute file URL")),
            other => Err(match suggest::closest(scheme, &SCHEMES) {
                Some(like) => format!(
                    "unsupported scheme `{other}`: did you mean `{}`?",
                    crate::redact::text(&format!("{like}://{rest}"))
                ),
                None => format!("unsupported scheme `{other}`: use http, https, file or a path"),
            }),
        };
    }
    if let Some(problem) = mistyped_url(url) {
        return Err(problem);
    }
    Ok(Location::File(base_dir.join(url)))
}

/// What is wrong with a source `url` without `://` that looks like a URL rather than a path,
/// with the URL it most likely meant: a scheme followed by `:` but not `//`
/// (`htp:/host/feed.xml`, `https:/host`, `http:host`), `http` or a word like it followed by
/// `//` without the `:` (`http//host`, `htps//host`), `http/` or `https/`, or a host starting
/// with `www.`. `None` for what reads as a path.
fn mistyped_url(url: &str) -> Option<String> {
    let meant = |scheme: &str, rest: &str| {
        let rest = rest.trim_start_matches('/');
        let meant = if scheme == "file" {
            format!("file:///{rest}")
        } else {
            format!("{scheme}://{rest}")
        };
        format!(
            "a mistyped URL, not a path: did you mean `{}`?",
            crate::redact::text(&meant)
        )
    };
    let head_end = url.find(['/', ':']).unwrap_or(url.len());
    let (head, tail) = url.split_at(head_end);
    let is_scheme = head.len() >= 2
        && head.starts_with(|c: char| c.is_ascii_alphabetic())
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let lower = head.to_ascii_lowercase();
    if let Some(rest) = tail.strip_prefix(':')
        && is_scheme
    {
        // `scheme:` without `//` is a URL whatever its scheme, never a relative path.
        return Some(match suggest::closest(&lower, &SCHEMES) {
            Some(scheme) => meant(scheme, rest),
            None => format!("unsupported scheme `{lower}`: use http, https, file or a path"),
        });
    }
    if let Some(rest) = tail.strip_prefix('/')
        && is_scheme
    {
        let scheme = if rest.starts_with('/') {
            suggest::closest(&lower, &["http", "https"])
        } else {
            ["http", "https"].into_iter().find(|s| *s == lower)
        };
        if let Some(scheme) = scheme {
            return Some(meant(scheme, rest));
        }
    }
    lower.starts_with("www.").then(|| meant("https", url))
}
