//! The daemon's HTTP routes (axum).
//!
//! In: requests. Out:
//! - `GET`/`HEAD /feeds/NAME.rss|.atom|.json`: an output, from the bytes rendered when its
//!   stories last changed, with `ETag` / `Last-Modified` (304 on a match), gzip or brotli from
//!   pre-compressed bytes, `Cache-Control`. `?region=…&q=…&limit=…` filter it on demand (through
//!   a bounded cache). An output with a `token` needs `?token=…` or `Authorization: Bearer …`;
//!   without it the output does not exist (404). Its self link is the address the reader used:
//!   with `?token=…` when the token came in the query, plain when it came in the header.
//! - `/` the index page (with its `Content-Security-Policy`), `/opml` the sources public outputs draw from, `/healthz`, `/readyz`,
//!   `/metrics`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::published::{Encoding, Variant, negotiate};
use super::{Shared, index, public_outputs, public_sources};
use crate::config::{Config, OutputConfig, resolve_region};
use crate::output::query::Query as Filter;
use crate::output::{self, FeedMeta, Format, Selection, SelfLink};
use crate::pipeline::publish;

/// Most entries an ad-hoc `limit` may ask for (or the output's own limit, if larger).
pub const MAX_ADHOC_LIMIT: usize = 1000;

/// The router over the shared daemon state.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index_page))
        .route("/feeds/{file}", get(feed))
        .route("/opml", get(opml))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(shared.clone(), track))
        .fallback(not_found)
        .with_state(shared)
}

/// Counts each routed request by route and status.
async fn track(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = next.run(request).await;
    shared.metrics().request(&route, response.status().as_u16());
    response
}

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    shared.metrics().request("unmatched", 404);
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut body = message.into();
    body.push('\n');
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn healthz() -> Response {
    text(StatusCode::OK, "ok")
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.is_ready() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: outputs not rendered yet",
        );
    }
    match shared.store().ping().await {
        Ok(()) => text(StatusCode::OK, "ready"),
        Err(e) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {}", crate::run::error_chain(&e)),
        ),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics().encode(),
    )
        .into_response()
}

async fn opml(State(shared): State<Arc<Shared>>) -> Response {
    let cfg = shared.config();
    let public = Config {
        sources: public_sources(&cfg).cloned().collect(),
        outputs: public_outputs(&cfg).cloned().collect(),
        ..Config::clone(&cfg)
    };
    (
        [(header::CONTENT_TYPE, "text/x-opml; charset=utf-8")],
        crate::opml::export(&public, "feedfold sources"),
    )
        .into_response()
}

async fn index_page(State(shared): State<Arc<Shared>>) -> Response {
    let cfg = shared.config();
    let statuses = shared.store().source_statuses().await.unwrap_or_default();
    let page = index::page(&cfg, &shared.digests(), &statuses, &shared.schedules());
    (
        [
            (header::CONTENT_SECURITY_POLICY, index::CSP.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
        .into_response()
}

/// Whether two secrets are equal, taking the same time wherever they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a request may read an output, and if so which self link its feed carries: with the
/// token when the request gave it in the query (the address the reader uses), plain for a
/// public output or a token given only in the header. None: not authorised.
fn authorised(out: &OutputConfig, params: &HashMap<String, String>, headers: &HeaderMap) -> Option<SelfLink> {
    let Some(token) = &out.token else {
        return Some(SelfLink::Plain);
    };
    let matches = |given: Option<&str>| given.is_some_and(|given| same_secret(given, token));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if matches(params.get("token").map(String::as_str)) {
        Some(SelfLink::WithToken)
    } else if matches(bearer) {
        Some(SelfLink::Plain)
    } else {
        None
    }
}

async fn feed(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some((name, format)) = file.rsplit_once('.').and_then(|(name, ext)| {
        let format = Format::ALL.into_iter().find(|f| f.extension() == ext)?;
        Some((name, format))
    }) else {
        return text(
            StatusCode::NOT_FOUND,
            "no such feed: use NAME.rss, NAME.atom or NAME.json",
        );
    };
    let cfg = shared.config();
    let Some(out) = cfg.outputs.iter().find(|o| o.name == name) else {
        return text(StatusCode::NOT_FOUND, format!("no output is named `{name}`"));
    };
    let Some(link) = authorised(out, &params, &headers) else {
        return text(StatusCode::NOT_FOUND, format!("no output is named `{name}`"));
    };
    let private = out.token.is_some();
    let adhoc = ["region", "q", "limit"]
        .iter()
        .any(|k| params.get(*k).is_some_and(|v| !v.is_empty()));
    if !adhoc {
        return match shared.rendered(name, format, link) {
            Some(v) => send(&v, &headers, private),
            None => text(StatusCode::SERVICE_UNAVAILABLE, "not rendered yet"),
        };
    }
    let filters = match Filters::parse(&params, out) {
        Ok(f) => f,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let key = format!(
        "{}\0{}\0{:?}\0{}\0{}\0{}",
        out.name,
        format.extension(),
        link,
        params.get("region").map_or("", String::as_str),
        params.get("q").map_or("", String::as_str),
        filters.limit
    );
    let rendered = shared
        .adhoc(key, format, async || {
            let sources = cfg.output_sources(out);
            let meta = FeedMeta::of(out, &cfg.publish.base_url, link);
            let selection = filters.selection(out);
            let now = chrono::Utc::now();
            publish::render(
                shared.store(),
                &out.name,
                &sources,
                selection,
                vec![(meta, format)],
                now,
            )
            .await
            .map(|mut bytes| bytes.remove(0))
            .map_err(|e| crate::run::error_chain(&e))
        })
        .await;
    match rendered {
        Ok(v) => send(&v, &headers, private),
        Err(message) => {
            tracing::error!(%message, "ad-hoc rendering failed");
            text(StatusCode::INTERNAL_SERVER_ERROR, "rendering failed")
        }
    }
}

/// The ad-hoc filters of a request.
struct Filters {
    regions: Vec<usize>,
    query: Option<Filter>,
    limit: usize,
    /// The view these filters make, which names its entries' ids (`output::view_name`).
    view: Option<String>,
}

impl Filters {
    fn parse(params: &HashMap<String, String>, out: &OutputConfig) -> Result<Filters, String> {
        let mut regions = Vec::new();
        for name in params
            .get("region")
            .into_iter()
            .flat_map(|r| r.split(','))
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            regions.push(resolve_region(name).map_err(|m| format!("region: {m}"))?);
        }
        let query = match params.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()) {
            None => None,
            Some(q) => Some(Filter::parse(q).map_err(|e| format!("q: bad query {e}"))?),
        };
        let most = out.limit.max(MAX_ADHOC_LIMIT);
        let limit = match params.get("limit").map(|l| l.trim()).filter(|l| !l.is_empty()) {
            None => out.limit,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=most).contains(&n) => n,
                _ => return Err(format!("limit: must be a number from 1 to {most}")),
            },
        };
        let g = crate::transform::region::Gazetteer::embedded();
        let codes: Vec<&str> = regions.iter().map(|&u| g.unit(u).code.as_str()).collect();
        let view = output::view_name(&codes, params.get("q").map(String::as_str));
        Ok(Filters {
            regions,
            query,
            limit,
            view,
        })
    }

    /// The output's selection narrowed by these filters.
    fn selection<'a>(&'a self, out: &'a OutputConfig) -> Selection<'a> {
        Selection {
            output: out,
            regions: &self.regions,
            query: self.query.as_ref(),
            limit: self.limit,
            view: self.view.as_deref(),
        }
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Sends a rendered feed: 304 when the request's validators match, else the best encoding.
fn send(v: &Variant, request: &HeaderMap, private: bool) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(v.format.content_type()),
    );
    headers.insert(header::ETAG, header_value(&v.etag));
    headers.insert(header::LAST_MODIFIED, header_value(&v.last_modified_header()));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if private {
            "private, max-age=60"
        } else {
            "public, max-age=60"
        }),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if v.not_modified(request) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let (encoding, body) = v.body(negotiate(request));
    match encoding {
        Encoding::Identity => {}
        Encoding::Gzip => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Encoding::Brotli => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        }
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    (headers, body.clone()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("0123456789abcdef", "0123456789abcdef"));
        assert!(!same_secret("0123456789abcdef", "0123456789abcdeX"));
        assert!(!same_secret("0123456789abcdef", "0123456789abcde"));
    }
}
