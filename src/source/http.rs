//! Fetching: one source's bytes, over HTTP(S) or from a local file.
//!
//! In: a [`Location`], the validators (`ETag`, `Last-Modified`) stored from the last fetch and
//! the `[fetch]` settings. Out: [`Fetched::NotModified`] (a 304, or an unchanged file: nothing to
//! parse), or [`Fetched::Body`] with the bytes, the HTTP charset, the final URL and new
//! validators; or a [`FetchError`] naming the URL.
//!
//! Every fetch is bounded: a connect timeout, a total timeout (which also stops slow-drip
//! bodies), a body cap applied while streaming (after decompression), and a redirect cap.
//! Redirects are followed here rather than by reqwest so that a chain made only of permanent
//! redirects (301 / 308) can be reported and remembered.
//!
//! The server's hints on when to ask again travel with the result: how long the answer stays
//! fresh (`Cache-Control: max-age`, `Expires`) and, on 429 / 503, `Retry-After`.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, redirect};
use url::Url;

use crate::config::{FetchConfig, Location};

/// Cache validators from a previous fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag` (for files: modification time and size).
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// What a fetch produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per fetch; boxing the body buys nothing"
)]
pub enum Fetched {
    /// The source has not changed since the validators were issued.
    NotModified {
        /// How long the server says the answer stays fresh.
        fresh_for: Option<Duration>,
    },
    /// A body to decode and parse.
    Body {
        /// The bytes, decompressed.
        bytes: Vec<u8>,
        /// `charset` of the `Content-Type`, if any.
        charset: Option<String>,
        /// The URL the body came from, after redirects (None for files).
        final_url: Option<Url>,
        /// Set when every redirect on the way was permanent: the source's new address.
        moved_to: Option<Url>,
        /// Validators to send next time.
        validators: Validators,
        /// How long the server says the answer stays fresh.
        fresh_for: Option<Duration>,
    },
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("fetch {url}: HTTP {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Status {
        /// The URL.
        url: Url,
        /// The status.
        status: StatusCode,
        /// `Retry-After` sent with a 429 or 503.
        retry_after: Option<Duration>,
    },
    /// The body is larger than `[fetch] max_body`.
    #[error("fetch {url}: body larger than {limit} bytes")]
    TooLarge {
        /// The URL or path.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The whole fetch took longer than `[fetch] timeout`.
    #[error("fetch {url}: timed out after {}s", timeout.as_secs_f32())]
    Timeout {
        /// The URL.
        url: Url,
        /// The limit.
        timeout: Duration,
    },
    /// More redirects than `[fetch] max_redirects`.
    #[error("fetch {url}: more than {limit} redirects")]
    TooManyRedirects {
        /// The URL first asked for.
        url: Url,
        /// The cap.
        limit: usize,
    },
    /// A redirect without a usable `Location`, or to a scheme other than http(s).
    #[error("fetch {url}: bad redirect to `{location}`")]
    BadRedirect {
        /// The URL that redirected.
        url: Url,
        /// Where it pointed.
        location: String,
    },
    /// Connection, TLS or protocol failure.
    #[error("fetch {url}: request failed")]
    Request {
        /// The URL.
        url: Url,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// A local file could not be read.
    #[error("fetch {}: cannot read file", path.display())]
    File {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// The wait the server asked for with a 429 or 503.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether the server said the feed is gone for good (410).
    pub fn is_gone(&self) -> bool {
        matches!(self, FetchError::Status { status, .. } if *status == StatusCode::GONE)
    }

    /// Whether trying again later may succeed (server errors, timeouts, connection failures),
    /// as opposed to a problem that needs someone to act (404, a file that is too large).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
            }
            FetchError::Timeout { .. } | FetchError::Request { .. } => true,
            FetchError::TooLarge { .. }
            | FetchError::TooManyRedirects { .. }
            | FetchError::BadRedirect { .. }
            | FetchError::File { .. } => false,
        }
    }
}

/// A configured HTTP client plus the limits every fetch obeys.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client,
    timeout: Duration,
    max_body: u64,
    max_redirects: usize,
}

impl Fetcher {
    /// Builds the client from `[fetch]`. Requires a TLS provider
    /// ([`install_tls_provider`](crate::install_tls_provider)).
    pub fn new(cfg: &FetchConfig) -> Result<Fetcher, reqwest::Error> {
        let client = Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .redirect(redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .zstd(true)
            .build()?;
        Ok(Fetcher {
            client,
            timeout: cfg.timeout,
            max_body: cfg.max_body,
            max_redirects: cfg.max_redirects,
        })
    }

    /// Fetches a location, sending the validators so an unchanged source costs no body.
    pub async fn fetch(&self, location: &Location, validators: &Validators) -> Result<Fetched, FetchError> {
        match location {
            Location::File(path) => self.read_file(path, validators).await,
            Location::Http(url) => {
                match tokio::time::timeout(self.timeout, self.get(url, validators)).await {
                    Ok(result) => result,
                    Err(_) => Err(FetchError::Timeout {
                        url: url.clone(),
                        timeout: self.timeout,
                    }),
                }
            }
        }
    }

    async fn get(&self, start: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut url = start.clone();
        let mut all_permanent = true;
        let mut hops = 0;
        let response = loop {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_static(
                    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
                ),
            );
            if let Some(v) = validators
                .etag
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(header::IF_NONE_MATCH, v);
            }
            if let Some(v) = validators
                .last_modified
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(header::IF_MODIFIED_SINCE, v);
            }
            let response = self
                .client
                .get(url.clone())
                .headers(headers)
                .send()
                .await
                .map_err(|source| request_error(&url, source, self.timeout))?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                break response;
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let next = url
                .join(&location)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"));
            let Some(next) = next else {
                return Err(FetchError::BadRedirect { url, location });
            };
            hops += 1;
            if hops > self.max_redirects {
                return Err(FetchError::TooManyRedirects {
                    url: start.clone(),
                    limit: self.max_redirects,
                });
            }
            all_permanent &= matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            url = next;
        };
        let status = response.status();
        let headers = response.headers();
        let now = Utc::now();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified {
                fresh_for: fresh_for(headers, now),
            });
        }
        if !status.is_success() {
            let retry_after = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            )
            .then(|| headers.get(header::RETRY_AFTER)?.to_str().ok())
            .flatten()
            .and_then(|v| parse_retry_after(v, now));
            return Err(FetchError::Status {
                url,
                status,
                retry_after,
            });
        }
        let fresh = fresh_for(headers, now);
        let header_str = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let new_validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        let charset = header_str(header::CONTENT_TYPE).and_then(|ct| charset_of(&ct));
        let bytes = self.read_body(response, &url).await?;
        Ok(Fetched::Body {
            bytes,
            charset,
            moved_to: (hops > 0 && all_permanent).then(|| url.clone()),
            final_url: Some(url),
            validators: new_validators,
            fresh_for: fresh,
        })
    }

    async fn read_body(&self, mut response: reqwest::Response, url: &Url) -> Result<Vec<u8>, FetchError> {
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit: self.max_body,
        };
        // Content-Length describes the encoded body; a compressed body may still grow, which the
        // streaming check below catches.
        if response.content_length().is_some_and(|n| n > self.max_body) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| request_error(url, source, self.timeout))?
        {
            if (body.len() + chunk.len()) as u64 > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn read_file(&self, path: &Path, validators: &Validators) -> Result<Fetched, FetchError> {
        let file_error = |source| FetchError::File {
            path: path.to_path_buf(),
            source,
        };
        let meta = tokio::fs::metadata(path).await.map_err(file_error)?;
        if meta.len() > self.max_body {
            return Err(FetchError::TooLarge {
                url: path.display().to_string(),
                limit: self.max_body,
            });
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = format!("file:{modified}:{}", meta.len());
        if validators.etag.as_deref() == Some(etag.as_str()) {
            return Ok(Fetched::NotModified { fresh_for: None });
        }
        let bytes = tokio::fs::read(path).await.map_err(file_error)?;
        Ok(Fetched::Body {
            bytes,
            charset: None,
            final_url: Url::from_file_path(path).ok(),
            moved_to: None,
            validators: Validators {
                etag: Some(etag),
                last_modified: None,
            },
            fresh_for: None,
        })
    }
}

fn request_error(url: &Url, source: reqwest::Error, timeout: Duration) -> FetchError {
    if source.is_timeout() {
        FetchError::Timeout {
            url: url.clone(),
            timeout,
        }
    } else {
        FetchError::Request {
            url: url.clone(),
            source,
        }
    }
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// How long a response stays fresh: `Cache-Control: max-age`, else `Expires` minus `Date`
/// (or minus `now` without a `Date`). `no-cache` / `no-store` mean no hint.
pub fn fresh_for(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(cc) = text(header::CACHE_CONTROL) {
        let mut max_age = None;
        for directive in cc.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "no-cache" || directive == "no-store" {
                return None;
            }
            if let Some(v) = directive.strip_prefix("max-age=") {
                max_age = v.trim_matches('"').parse::<u64>().ok();
            }
        }
        if let Some(secs) = max_age {
            return Some(Duration::from_secs(secs));
        }
    }
    let expires = http_date(text(header::EXPIRES)?)?;
    let date = text(header::DATE).and_then(http_date).unwrap_or(now);
    (expires - date).to_std().ok()
}

/// A `Retry-After` value: seconds, or an HTTP date (measured from `now`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    (http_date(value)? - now).to_std().ok().or(Some(Duration::ZERO))
}

/// The `charset` parameter of a `Content-Type` value.
pub fn charset_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_comes_from_cache_control_then_expires() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        assert_eq!(fresh_for(&h, now), None);
        h.insert(
            header::EXPIRES,
            HeaderValue::from_static("Wed, 01 May 2024 10:30:00 GMT"),
        );
        assert_eq!(fresh_for(&h, now), Some(Duration::from_secs(1800)));
        h.insert(
            header::DATE,
            HeaderValue::from_static("Wed, 01 May 2024 10:20:00 GMT"),
        );
        assert_eq!(fresh_for(&h, now), Some(Duration::from_secs(600)));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
        assert_eq!(fresh_for(&h, now), Some(Duration::from_secs(3600)));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, max-age=3600"),
        );
        assert_eq!(fresh_for(&h, now), None);
        let mut past = HeaderMap::new();
        past.insert(
            header::EXPIRES,
            HeaderValue::from_static("Wed, 01 May 2024 09:00:00 GMT"),
        );
        assert_eq!(fresh_for(&past, now), None);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_retry_after("Wed, 01 May 2024 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn charset_parameter_is_found() {
        assert_eq!(charset_of("text/xml; charset=GBK").as_deref(), Some("GBK"));
        assert_eq!(
            charset_of("application/rss+xml;Charset=\"big5\"").as_deref(),
            Some("big5")
        );
        assert_eq!(charset_of("application/rss+xml"), None);
    }
}
