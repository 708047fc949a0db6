//! Fetching: one source's bytes, over HTTP(S) or from a local file.
//!
//! In: a [`Location`], the validators (`ETag`, `Last-Modified`) stored from the last fetch,
//! whether the source allows private addresses, and the `[fetch]` settings. Out:
//! [`Fetched::NotModified`] (a 304, or an unchanged file: nothing to parse), or
//! [`Fetched::Body`] with the bytes, the HTTP charset, the final URL and new validators; or a
//! [`FetchError`] naming the URL.
//!
//! Every fetch is bounded: a connect timeout, a total timeout (which also stops slow-drip
//! bodies), a cap on the compressed bytes received and one on the decompressed body, both
//! applied while streaming (a decompression bomb stops at the cap), and a redirect cap.
//! Redirects are followed here rather than by reqwest: only to http(s), only to a public address
//! when the redirect comes from one (see [`guard`](super::guard)), and so that a chain made only
//! of permanent redirects (301 / 308) can be reported and remembered. An HTML page instead of a
//! feed is read for its `<link rel="alternate">` feed, which is fetched once in its place.
//! A source's request settings ([`RequestOptions`]) go with each request to its own origin, and
//! every request through its proxy, if it has one; through a proxy, which resolves host names,
//! only address literals (and `localhost`) can be checked before a hop.
//!
//! The server's hints on when to ask again travel with the result: how long the answer stays
//! fresh (`Cache-Control: max-age`, `Expires`) and, on 429 / 503, `Retry-After`.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, redirect};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;
use url::Url;

use super::decode::decode;
use super::discover;
use super::guard::{self, Guarded, Policy, Refused, Rule};
use super::request::{Proxy, RequestOptions};
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
        /// The response's `Content-Location`, resolved against `final_url` (`http(s)` only):
        /// the document's own address, which relative URLs in it are resolved against.
        content_location: Option<Url>,
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
    #[error("fetch {shown}: HTTP {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default(), shown = crate::redact::Shown(url))]
    Status {
        /// The URL.
        url: Url,
        /// The status.
        status: StatusCode,
        /// `Retry-After` sent with a 429 or 503.
        retry_after: Option<Duration>,
    },
    /// The body, as sent or after decompression, is larger than its cap.
    #[error("fetch {shown}: {} larger than {limit} bytes ([fetch] {key})", if *key == "max_compressed_body" { "compressed body" } else { "body" }, shown = crate::redact::text(url))]
    TooLarge {
        /// The URL or path.
        url: String,
        /// The cap.
        limit: u64,
        /// The `[fetch]` key that sets it: `max_body` or `max_compressed_body`.
        key: &'static str,
    },
    /// The whole fetch took longer than `[fetch] timeout`.
    #[error("fetch {shown}: timed out after {}s", timeout.as_secs_f32(), shown = crate::redact::Shown(url))]
    Timeout {
        /// The URL.
        url: Url,
        /// The limit.
        timeout: Duration,
    },
    /// More redirects than `[fetch] max_redirects`.
    #[error("fetch {shown}: more than {limit} redirects", shown = crate::redact::Shown(url))]
    TooManyRedirects {
        /// The URL first asked for.
        url: Url,
        /// The cap.
        limit: usize,
    },
    /// A redirect without a usable `Location`, or to a scheme other than http(s).
    #[error("fetch {shown}: bad redirect to `{}`: only http and https URLs are followed", crate::redact::text(location), shown = crate::redact::Shown(url))]
    BadRedirect {
        /// The URL that redirected.
        url: Url,
        /// Where it pointed.
        location: String,
    },
    /// An address the guard refuses (see [`guard`](super::guard)): one never fetched, or a
    /// redirect (or a page's feed link) to a non-public address without `allow_private`.
    #[error("fetch {shown}: {}refused: {refused}{}", to.as_ref().map(|to| format!("redirect to {} ", crate::redact::Shown(to))).unwrap_or_default(), if refused.never { "" } else { "; set allow_private = true to allow it" }, shown = crate::redact::Shown(url))]
    Refused {
        /// The URL that redirected (or linked), or the source's own URL.
        url: Url,
        /// Where it pointed, or `None` when the source's own URL was refused.
        to: Option<Url>,
        /// The address refused.
        refused: Refused,
    },
    /// The TLS handshake failed (no TLS on that port, a bad certificate, a closed connection).
    #[error("fetch {shown}: TLS handshake failed", shown = crate::redact::Shown(url))]
    Tls {
        /// The URL.
        url: Url,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The source's proxy could not be used: no connection to it, or it refused the tunnel.
    #[error("fetch {shown}: through proxy {proxy}: connection failed", shown = crate::redact::Shown(url))]
    Proxy {
        /// The URL.
        url: Url,
        /// The proxy (shown masked).
        proxy: Proxy,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// Connection or protocol failure before the response.
    #[error("fetch {shown}: request failed", shown = crate::redact::Shown(url))]
    Request {
        /// The URL.
        url: Url,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The connection failed while the body was being read (reset, closed early).
    #[error("fetch {shown}: the connection failed while reading the body", shown = crate::redact::Shown(url))]
    Body {
        /// The URL.
        url: Url,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The body could not be decompressed, or its `Content-Encoding` is not one feedfold reads.
    #[error("fetch {shown}: cannot decode the `{coding}` body", shown = crate::redact::Shown(url))]
    Encoding {
        /// The URL.
        url: Url,
        /// The `Content-Encoding`.
        coding: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// An HTML page, not a feed, and it links to no feed (or to another HTML page).
    #[error("fetch {shown}: is an HTML page, not a feed, {}", match linked {
        None => "and it links to no RSS, Atom or JSON feed".to_string(),
        Some(feed) => format!("and the feed it links to, {}, is an HTML page too", crate::redact::Shown(feed)),
    }, shown = crate::redact::Shown(url))]
    HtmlPage {
        /// The page.
        url: Url,
        /// The feed link it had, if any.
        linked: Option<Url>,
    },
    /// A local file could not be read.
    #[error("fetch {}: cannot read file", path.display())]
    File {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
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

    /// A short name for the kind of failure, for metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Status { .. } => "http_status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Timeout { .. } => "timeout",
            FetchError::TooManyRedirects { .. } => "too_many_redirects",
            FetchError::BadRedirect { .. } => "bad_redirect",
            FetchError::Refused { .. } => "private_address",
            FetchError::Tls { .. } => "tls",
            FetchError::Proxy { .. } => "proxy",
            FetchError::Request { .. } => "connection",
            FetchError::Body { .. } => "body",
            FetchError::Encoding { .. } => "encoding",
            FetchError::HtmlPage { .. } => "html_page",
            FetchError::File { .. } => "file",
        }
    }
}

/// A response at the end of a redirect chain.
struct Arrived {
    response: reqwest::Response,
    url: Url,
    hops: usize,
    all_permanent: bool,
}

/// A `Content-Encoding` feedfold decompresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    /// The coding of a response, or the header's text if it is one feedfold does not read.
    fn of(headers: &HeaderMap) -> Result<Coding, String> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else {
            return Ok(Coding::Identity);
        };
        let text = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
        match text.as_str() {
            "" | "identity" => Ok(Coding::Identity),
            "gzip" | "x-gzip" => Ok(Coding::Gzip),
            "deflate" => Ok(Coding::Deflate),
            "br" => Ok(Coding::Brotli),
            "zstd" => Ok(Coding::Zstd),
            _ => Err(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }
}

/// Raised inside the body stream when more compressed bytes arrive than the cap allows.
#[derive(Debug, thiserror::Error)]
#[error("over the cap")]
struct OverCap;

/// An error and its causes, looking inside I/O errors (whose `source` skips what they wrap).
fn chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(error), |e| {
        match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        }
    })
}

/// The first cause of type `T` in an error's chain.
fn cause<'a, T: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    chain(error).find_map(|e| e.downcast_ref::<T>())
}

/// A configured HTTP client plus the limits every fetch obeys.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// For a source's own URL, and for redirects of a source with `allow_private`: its
    /// resolver gives no address that is never fetched.
    open: Client,
    /// For redirects that must stay on public addresses: its resolver gives no other.
    guarded: Client,
    /// A client per proxy sources use, made when first needed.
    proxied: Arc<Mutex<HashMap<Proxy, Client>>>,
    /// What every client is built with.
    settings: Settings,
    policy: Policy,
    timeout: Duration,
    max_body: u64,
    max_compressed_body: u64,
    max_redirects: usize,
}

/// The `[fetch]` settings every client is built with.
#[derive(Debug, Clone)]
struct Settings {
    user_agent: String,
    connect_timeout: Duration,
    timeout: Duration,
}

impl Settings {
    /// A client builder: no redirects followed (the fetcher follows them), no proxy.
    fn builder(&self) -> reqwest::ClientBuilder {
        Client::builder()
            .user_agent(self.user_agent.clone())
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .redirect(redirect::Policy::none())
            .no_proxy()
    }
}

impl Fetcher {
    /// Builds the client from `[fetch]`. Requires a TLS provider
    /// ([`install_tls_provider`](crate::install_tls_provider)).
    pub fn new(cfg: &FetchConfig) -> Result<Fetcher, reqwest::Error> {
        Fetcher::with_policy(cfg, Policy::default())
    }

    /// Builds the client with an address policy of its own (see [`Policy::with_stand_ins`]).
    ///
    /// Proxies from the environment (`HTTP_PROXY`, …) are never used; a source's configured
    /// proxy ([`RequestOptions::proxy`]) is, through a client of its own made when first
    /// needed.
    pub fn with_policy(cfg: &FetchConfig, policy: Policy) -> Result<Fetcher, reqwest::Error> {
        let settings = Settings {
            user_agent: cfg.user_agent.clone(),
            connect_timeout: cfg.connect_timeout,
            timeout: cfg.timeout,
        };
        let resolver = |private| {
            Arc::new(Guarded {
                policy: policy.clone(),
                private,
            })
        };
        let open = settings.builder().dns_resolver(resolver(true)).build()?;
        let guarded = settings.builder().dns_resolver(resolver(false)).build()?;
        Ok(Fetcher {
            open,
            guarded,
            proxied: Arc::default(),
            settings,
            policy,
            timeout: cfg.timeout,
            max_body: cfg.max_body,
            max_compressed_body: cfg.max_compressed_body,
            max_redirects: cfg.max_redirects,
        })
    }

    /// The client for requests through `proxy`. The proxy resolves each hop's host name, so
    /// the client's resolver only ever resolves the proxy's own name, which the operator named
    /// like a source's URL (so it may not be a never-fetched address).
    fn proxied(&self, proxy: &Proxy) -> Result<Client, reqwest::Error> {
        let mut proxied = self
            .proxied
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = proxied.get(proxy) {
            return Ok(client.clone());
        }
        let resolver = Guarded {
            policy: self.policy.clone(),
            private: true,
        };
        let client = self
            .settings
            .builder()
            .proxy(reqwest::Proxy::all(proxy.url().as_str())?)
            .dns_resolver(Arc::new(resolver))
            .build()?;
        proxied.insert(proxy.clone(), client.clone());
        Ok(client)
    }

    /// Fetches a location, sending the validators so an unchanged source costs no body.
    /// `allow_private` lets redirects (and a page's feed link) lead to non-public addresses;
    /// `request`'s headers go with every request to the location's own origin, and every
    /// request goes through its proxy, if any.
    pub async fn fetch(
        &self,
        location: &Location,
        validators: &Validators,
        allow_private: bool,
        request: &RequestOptions,
    ) -> Result<Fetched, FetchError> {
        match location {
            Location::File(path) => self.read_file(path, validators).await,
            Location::Http(url) => {
                let get = self.get(url, validators, allow_private, request);
                match tokio::time::timeout(self.timeout, get).await {
                    Ok(result) => result,
                    Err(_) => Err(FetchError::Timeout {
                        url: url.clone(),
                        timeout: self.timeout,
                    }),
                }
            }
        }
    }

    /// Fetches a web page as it is (an item's page for its article, or a list page), never
    /// looking in it for a feed. `source` is the URL of the source that led to it (None for a
    /// file): a page on that URL's host is the operator's choice, like the source's own URL; a
    /// page elsewhere comes from what the source wrote, so it is held to the rule of a
    /// redirect (no private address without `allow_private`), and so is every redirect. The
    /// same timeout and caps as a feed; `request`'s headers go to the source's own origin only.
    pub async fn fetch_page(
        &self,
        page: &Url,
        source: Option<&Url>,
        validators: &Validators,
        allow_private: bool,
        request: &RequestOptions,
    ) -> Result<Fetched, FetchError> {
        let own = source.unwrap_or(page);
        let redirect = Rule::redirect(own, allow_private);
        let first = match (source, page.host_str()) {
            (Some(source), Some(host)) if source.host_str() == Some(host) => Rule::own(source),
            _ => redirect,
        };
        let get = async {
            let arrived = self
                .follow(page, (page.clone(), first), redirect, (validators, request, own))
                .await?;
            self.finish(arrived).await
        };
        match tokio::time::timeout(self.timeout, get).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                url: page.clone(),
                timeout: self.timeout,
            }),
        }
    }

    async fn get(
        &self,
        start: &Url,
        validators: &Validators,
        allow_private: bool,
        request: &RequestOptions,
    ) -> Result<Fetched, FetchError> {
        let redirect = Rule::redirect(start, allow_private);
        let own = (start.clone(), Rule::own(start));
        let send = (validators, request, start);
        let arrived = self.follow(start, own, redirect, send).await?;
        let page = arrived.url.clone();
        let fetched = self.finish(arrived).await?;
        let Fetched::Body { bytes, charset, .. } = &fetched else {
            return Ok(fetched);
        };
        if !discover::is_html(bytes) {
            return Ok(fetched);
        }
        // An HTML page: follow its feed link once, as if the page had redirected there.
        let text = decode(bytes, charset.as_deref()).text;
        let Some(feed) = discover::feed_link(&text, &page) else {
            return Err(FetchError::HtmlPage {
                url: page,
                linked: None,
            });
        };
        tracing::info!(page = %crate::redact::Shown(&page), feed = %crate::redact::Shown(&feed), "an HTML page: fetching the feed it links to");
        let arrived = self
            .follow(&feed, (page.clone(), redirect), redirect, send)
            .await?;
        match self.finish(arrived).await? {
            Fetched::Body { bytes, .. } if discover::is_html(&bytes) => Err(FetchError::HtmlPage {
                url: page,
                linked: Some(feed),
            }),
            Fetched::Body {
                bytes,
                charset,
                final_url,
                content_location,
                validators,
                fresh_for,
                ..
            } => Ok(Fetched::Body {
                bytes,
                charset,
                final_url,
                content_location,
                moved_to: None,
                validators,
                fresh_for,
            }),
            not_modified => Ok(not_modified),
        }
    }

    /// Requests `start` and follows its redirects. `first` is the URL that led to `start` (the
    /// source's own URL, or the page that linked to it) and the rule for `start`'s hop; every
    /// redirect after it is held to `redirect_rule`. `send` is what goes with each request: the
    /// validators, and the request options (headers for hops on the origin of the source's
    /// URL, the proxy for every hop).
    async fn follow(
        &self,
        start: &Url,
        first: (Url, Rule),
        redirect_rule: Rule,
        send: (&Validators, &RequestOptions, &Url),
    ) -> Result<Arrived, FetchError> {
        let (validators, options, own) = send;
        let proxy = options.proxy();
        let (mut from, mut rule) = first;
        let mut url = start.clone();
        let mut all_permanent = true;
        let mut hops = 0;
        loop {
            // The source's own URL is refused as itself; any other hop as where `from` led.
            let own_url = hops == 0 && from == url;
            let refused = |refused: Refused, from: &Url, to: &Url| FetchError::Refused {
                url: from.clone(),
                to: (!own_url).then(|| to.clone()),
                refused,
            };
            // A literal is connected to without resolving: it is checked here, before any
            // connection. A name is checked by the client's resolver; through a proxy, which
            // resolves it, only a `localhost` name can be checked here.
            let at = guard::literal_ip(&url).or_else(|| proxy.and_then(|_| guard::localhost(&url)));
            if let Some(ip) = at {
                self.policy
                    .check(url.host_str().unwrap_or(""), ip, rule)
                    .map_err(|r| refused(r, &from, &url))?;
            }
            let client = match proxy {
                None if rule.private => self.open.clone(),
                None => self.guarded.clone(),
                Some(proxy) => self.proxied(proxy).map_err(|source| FetchError::Proxy {
                    url: url.clone(),
                    proxy: proxy.clone(),
                    source: source.without_url(),
                })?,
            };
            let request = client.get(url.clone()).headers(request_headers(validators));
            let response = options.apply(request, &url, own).send().await.map_err(|source| {
                match cause::<Refused>(&source) {
                    Some(r) => refused(r.clone(), &from, &url),
                    None => request_error(&url, source, self.timeout, proxy),
                }
            })?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                return Ok(Arrived {
                    response,
                    url,
                    hops,
                    all_permanent,
                });
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let next = url.join(&location).ok().filter(crate::html::is_web_url);
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
            from = url;
            url = next;
            rule = redirect_rule;
        }
    }

    /// Turns the response at the end of a redirect chain into a result.
    async fn finish(&self, arrived: Arrived) -> Result<Fetched, FetchError> {
        let Arrived {
            response,
            url,
            hops,
            all_permanent,
        } = arrived;
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
        let content_location = header_str(header::CONTENT_LOCATION)
            .and_then(|l| url.join(l.trim()).ok())
            .filter(crate::html::is_web_url);
        let bytes = self.read_body(response, &url).await?;
        Ok(Fetched::Body {
            bytes,
            charset,
            content_location,
            moved_to: (hops > 0 && all_permanent).then(|| url.clone()),
            final_url: Some(url),
            validators: new_validators,
            fresh_for: fresh,
        })
    }

    /// Reads and decompresses a body, holding the bytes received to `max_compressed_body` (to
    /// `max_body` when not compressed) and the decompressed bytes to `max_body`, as they stream.
    async fn read_body(&self, response: reqwest::Response, url: &Url) -> Result<Vec<u8>, FetchError> {
        let too_large = |limit, key| FetchError::TooLarge {
            url: url.to_string(),
            limit,
            key,
        };
        let coding = Coding::of(response.headers()).map_err(|coding| FetchError::Encoding {
            url: url.clone(),
            coding,
            source: io::Error::new(io::ErrorKind::Unsupported, "use gzip, br, zstd or deflate"),
        })?;
        let (sent_limit, sent_key) = match coding {
            Coding::Identity => (self.max_body, "max_body"),
            _ => (self.max_compressed_body, "max_compressed_body"),
        };
        if response.content_length().is_some_and(|n| n > sent_limit) {
            return Err(too_large(sent_limit, sent_key));
        }
        let mut sent = 0u64;
        let stream = response.bytes_stream().map(move |chunk| {
            let chunk = chunk.map_err(io::Error::other)?;
            sent += chunk.len() as u64;
            if sent > sent_limit {
                return Err(io::Error::other(OverCap));
            }
            Ok(chunk)
        });
        let raw = StreamReader::new(stream);
        let reader: Pin<Box<dyn AsyncRead + Send>> = match coding {
            Coding::Identity => Box::pin(raw),
            Coding::Gzip => {
                let mut d = GzipDecoder::new(raw);
                d.multiple_members(true);
                Box::pin(d)
            }
            Coding::Deflate => Box::pin(ZlibDecoder::new(raw)),
            Coding::Brotli => Box::pin(BrotliDecoder::new(raw)),
            Coding::Zstd => {
                let mut d = ZstdDecoder::new(raw);
                d.multiple_members(true);
                Box::pin(d)
            }
        };
        let mut body = Vec::new();
        // One byte past the cap tells a body at the cap from one over it.
        let read = reader.take(self.max_body + 1).read_to_end(&mut body).await;
        if let Err(e) = read {
            if cause::<OverCap>(&e).is_some() {
                return Err(too_large(sent_limit, sent_key));
            }
            return Err(
                match e.into_inner().map(|inner| inner.downcast::<reqwest::Error>()) {
                    Some(Ok(source)) if source.is_timeout() => FetchError::Timeout {
                        url: url.clone(),
                        timeout: self.timeout,
                    },
                    Some(Ok(source)) => FetchError::Body {
                        url: url.clone(),
                        source: source.without_url(),
                    },
                    Some(Err(inner)) => FetchError::Encoding {
                        url: url.clone(),
                        coding: coding.name().to_string(),
                        source: io::Error::other(inner),
                    },
                    None => FetchError::Encoding {
                        url: url.clone(),
                        coding: coding.name().to_string(),
                        source: io::Error::other("the stream failed"),
                    },
                },
            );
        }
        if body.len() as u64 > self.max_body {
            return Err(too_large(self.max_body, "max_body"));
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
                key: "max_body",
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
            content_location: None,
            moved_to: None,
            validators: Validators {
                etag: Some(etag),
                last_modified: None,
            },
            fresh_for: None,
        })
    }
}

/// The headers of every request: what is accepted, and the validators.
fn request_headers(validators: &Validators) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(
            "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
        ),
    );
    headers.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("gzip, br, zstd, deflate"),
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
    headers
}

fn request_error(url: &Url, source: reqwest::Error, timeout: Duration, proxy: Option<&Proxy>) -> FetchError {
    // The error names the URL itself, credentials and all; ours names it redacted.
    let source = source.without_url();
    if source.is_timeout() {
        FetchError::Timeout {
            url: url.clone(),
            timeout,
        }
    } else if let Some(proxy) = proxy.filter(|_| source.is_connect()) {
        FetchError::Proxy {
            url: url.clone(),
            proxy: proxy.clone(),
            source,
        }
    } else if url.scheme() == "https" && source.is_connect() && is_tls_failure(&source) {
        FetchError::Tls {
            url: url.clone(),
            source,
        }
    } else {
        FetchError::Request {
            url: url.clone(),
            source,
        }
    }
}

/// Whether a connect error happened in the TLS handshake: rustls refused what it got, or the
/// server closed the connection before the handshake ended.
fn is_tls_failure(error: &reqwest::Error) -> bool {
    chain(error).any(|e| {
        e.is::<rustls::Error>()
            || e.downcast_ref::<io::Error>()
                .is_some_and(|io| io.kind() == io::ErrorKind::UnexpectedEof)
    })
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
