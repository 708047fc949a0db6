//! Test support: a loopback origin serving the fixtures, and helpers to build a config,
//! a store and a fetcher in a temporary folder; [`inert`], a checker of published outputs.

pub mod inert;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use feedfold::config::Config;
use feedfold::run::{self, Outcome, SourceReport};
use feedfold::source::http::Fetcher;
use feedfold::store::{Store, Taking};

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads a fixture feed.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("feeds").join(name)).expect("fixture exists")
}

/// Makes the body of `/generated/{name}` from the name and how many times that path was served
/// before.
pub type Generator = Arc<dyn Fn(&str, usize) -> Vec<u8> + Send + Sync>;

/// One answer of `/generated/…`: when, and to which User-Agent.
#[derive(Debug, Clone)]
pub struct Served {
    pub at: std::time::Instant,
    pub agent: String,
}

#[derive(Default)]
pub struct OriginState {
    /// Requests seen per path.
    pub hits: Mutex<HashMap<String, usize>>,
    /// Requests per path that carried `If-None-Match`.
    pub conditional: Mutex<HashMap<String, usize>>,
    /// Bodies set by a test, served at `/mutable/{name}`.
    pub mutable: Mutex<HashMap<String, Vec<u8>>>,
    /// Requests to `/held/…` under way now, and the most seen at once.
    pub held: Mutex<(usize, usize)>,
    /// The bodies of `/generated/{name}`.
    pub generator: Mutex<Option<Generator>>,
    /// How long `/generated/…` waits before answering.
    pub delay: Mutex<Duration>,
    /// Every answer of `/generated/…`, per path, in order.
    pub served: Mutex<HashMap<String, Vec<Served>>>,
    /// User-Agents whose requests to `/generated/…` are never answered.
    pub stalled_agents: Mutex<std::collections::HashSet<String>>,
    /// The requests left unanswered so far: (path, User-Agent).
    pub stalls: Mutex<Vec<(String, String)>>,
    /// Every request to `/auth/…` and `/redirect`: (path, the `Authorization` and `X-Api-Key`
    /// headers it carried, joined by a space; empty when none).
    pub credentials: Mutex<Vec<(String, String)>>,
    /// Every request to `/headers/…` and `/redirect`: its path and query, and its headers.
    pub requests: Mutex<Vec<Seen>>,
}

/// A request as the origin or the [`LoopbackProxy`] saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request target: the path and query at the origin, the absolute URL at the proxy.
    pub target: String,
    /// Its headers, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// The values of header `name` (lower case), joined by `, `; None when it was not sent.
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// The `Authorization` header `/auth/…` accepts: user `alice`, password `pw-in-a-file`.
pub const AUTH_BASIC: &str = "Basic YWxpY2U6cHctaW4tYS1maWxl";
/// The `X-Api-Key` header `/auth/…` accepts.
pub const AUTH_KEY: &str = "k3y-in-a-headers-file";

/// A loopback HTTP origin. Routes:
/// - `/feeds/{name}`: a fixture with ETag / Last-Modified, 304 on a match; `gbk_noprolog.xml`
///   is sent with `charset=gbk` in its Content-Type (its only encoding hint);
/// - `/nocache/{name}`: a fixture with no validators (always 200);
/// - `/encoded/{coding}/{name}`: a fixture compressed with `gzip`, `br`, `zstd` or `deflate`
///   (any other coding is named in the header and the body sent as is);
/// - `/bomb/{coding}`: zeros compressed without end (a decompression bomb);
/// - `/empty-members`: gzip members without content, without end (no output, endless input);
/// - `/mutable/{name}`: a body the test sets, with an ETag of its content; a name such as
///   `a.gbk.charset` is sent with that charset (`gbk`, `big5`, `windows-1252`, `iso-8859-1`,
///   `utf-8`; any other is sent as `utf-16`), whatever the bytes are;
/// - `/status/{code}`: that status;
/// - `/moved/{name}` (301), `/found/{name}` (302) to `/feeds/{name}`; `/loop` redirects to itself;
///   `/to-ftp` redirects to an ftp URL;
/// - `/slow`: headers, then a body that drips for longer than any test timeout;
/// - `/huge`: 2 MiB streamed without Content-Length;
/// - `/held/{name}`: a fixture after 200 ms, counting how many such requests run at once;
/// - `/hang`: never answers;
/// - `/redirect?to=URL`: a 302 to any URL.
/// - `/auth/{name}`: a fixture for a request with [`AUTH_BASIC`] or [`AUTH_KEY`], else 401;
///   the credentials of each request to it and to `/redirect` are logged
///   ([`Origin::credentials`]).
/// - `/headers/{name}`: a fixture, with each request's headers logged ([`Origin::requests`],
///   which logs `/redirect`'s too);
/// - `/news/{name}`: a web page of `tests/fixtures/pages/` (article pages wrapped in navigation,
///   sidebars of other places' headlines and footers; list pages), as `text/html` without a
///   charset (the GBK page says its own), with an ETag (304 on a match), counted;
/// - `/generated/{name}`: what [`Origin::set_generator`]'s function makes of the name and of how
///   many times the path was served before (so every fetch can bring something new), after
///   [`Origin::set_delay`]; each answer is logged with its time and User-Agent
///   ([`Origin::served`]); a request from a User-Agent given to [`Origin::stall`] is never
///   answered (and is not logged as served).
pub struct Origin {
    pub addr: SocketAddr,
    pub state: Arc<OriginState>,
}

impl Origin {
    pub async fn start() -> Origin {
        Origin::start_on([127, 0, 0, 1].into()).await
    }

    /// An origin on another loopback address (127.0.0.2 …), which counts as another host.
    pub async fn start_on(ip: std::net::IpAddr) -> Origin {
        let state = Arc::new(OriginState::default());
        let app = Router::new()
            .route("/feeds/{name}", get(feed))
            .route("/nocache/{name}", get(nocache))
            .route("/located/{name}", get(located))
            .route("/encoded/{coding}/{name}", get(encoded))
            .route("/bomb/{coding}", get(bomb))
            .route("/empty-members", get(empty_members))
            .route("/hang", get(std::future::pending::<Response>))
            .route("/redirect", get(redirect_to))
            .route("/auth/{name}", get(authenticated))
            .route("/headers/{name}", get(echo_headers))
            .route("/mutable/{name}", get(mutable))
            .route("/status/{code}", get(status))
            .route("/gone/{name}", get(gone))
            .route("/busy/{secs}", get(busy))
            .route("/moved/{name}", get(moved))
            .route("/found/{name}", get(found))
            .route("/loop", get(|| async { redirect(StatusCode::FOUND, "/loop") }))
            .route(
                "/to-ftp",
                get(|| async { redirect(StatusCode::FOUND, "ftp://127.0.0.1/feed.xml") }),
            )
            .route("/slow", get(slow))
            .route("/huge", get(huge))
            .route("/held/{name}", get(held))
            .route("/generated/{name}", get(generated))
            .route("/news/{name}", get(news_page))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind((ip, 0))
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("origin serves");
        });
        Origin { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A URL of this origin that redirects (302) to `to`.
    pub fn redirect_to(&self, to: &str) -> String {
        let to: String = url::form_urlencoded::byte_serialize(to.as_bytes()).collect();
        self.url(&format!("/redirect?to={to}"))
    }

    pub fn hits(&self, path: &str) -> usize {
        self.state
            .hits
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn conditional_hits(&self, path: &str) -> usize {
        self.state
            .conditional
            .lock()
            .expect("lock")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// The most `/held/…` requests that were under way at once.
    pub fn most_held(&self) -> usize {
        self.state.held.lock().expect("lock").1
    }

    pub fn set_generator(&self, generator: impl Fn(&str, usize) -> Vec<u8> + Send + Sync + 'static) {
        *self.state.generator.lock().expect("lock") = Some(Arc::new(generator));
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().expect("lock") = delay;
    }

    /// Leaves every later request from `agent` to `/generated/…` unanswered.
    pub fn stall(&self, agent: &str) {
        self.state
            .stalled_agents
            .lock()
            .expect("lock")
            .insert(agent.to_string());
    }

    /// The answers of `/generated/…` so far, per path.
    pub fn served(&self) -> HashMap<String, Vec<Served>> {
        self.state.served.lock().expect("lock").clone()
    }

    /// The requests to `/generated/…` left unanswered so far: (path, User-Agent).
    pub fn stalls(&self) -> Vec<(String, String)> {
        self.state.stalls.lock().expect("lock").clone()
    }

    /// Each request to `/headers/…` and `/redirect`, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// The credentials each request to `/auth/…` and `/redirect` carried, in order.
    pub fn credentials(&self) -> Vec<(String, String)> {
        self.state.credentials.lock().expect("lock").clone()
    }

    pub fn set_mutable(&self, name: &str, body: &[u8]) {
        self.state
            .mutable
            .lock()
            .expect("lock")
            .insert(name.to_string(), body.to_vec());
    }
}

fn count(state: &OriginState, path: String, headers: &HeaderMap) {
    if headers.contains_key(header::IF_NONE_MATCH) {
        *state
            .conditional
            .lock()
            .expect("lock")
            .entry(path.clone())
            .or_default() += 1;
    }
    *state.hits.lock().expect("lock").entry(path).or_default() += 1;
}

fn content_type(name: &str) -> &'static str {
    if name == "gbk_noprolog.xml" {
        "text/xml; charset=gbk"
    } else if name.ends_with(".html") {
        "text/html; charset=utf-8"
    } else if let Some(charset) = name.split('.').nth(1).filter(|_| name.ends_with(".charset")) {
        // `name.gbk.charset`: a Content-Type naming that charset, whatever the bytes are.
        match charset {
            "gbk" => "application/xml; charset=gbk",
            "big5" => "application/xml; charset=big5",
            "windows-1252" => "application/xml; charset=windows-1252",
            "iso-8859-1" => "application/xml; charset=ISO-8859-1",
            "utf-8" => "application/xml; charset=utf-8",
            _ => "application/xml; charset=utf-16",
        }
    } else if name.ends_with(".json") {
        "application/feed+json"
    } else {
        "application/xml"
    }
}

fn with_etag(body: Vec<u8>, name: &str, headers: &HeaderMap) -> Response {
    typed_with_etag(body, content_type(name), headers)
}

/// `body` as `content_type`, with an ETag of its content (304 on a match) and a Last-Modified.
fn typed_with_etag(body: Vec<u8>, content_type: &str, headers: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", xxhash(&body));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::ETAG, etag),
            (header::LAST_MODIFIED, "Thu, 06 Jan 2022 12:00:00 GMT".to_string()),
        ],
        body,
    )
        .into_response()
}

fn xxhash(bytes: &[u8]) -> u64 {
    // FNV-1a: enough for an ETag in tests, and no extra dependency.
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

async fn feed(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count(&s, format!("/feeds/{name}"), &headers);
    with_etag(fixture(&name), &name, &headers)
}

/// A fixture served with `Content-Location: https://located.example/news/NAME`: the document
/// says it lives elsewhere.
async fn located(UrlPath(name): UrlPath<String>) -> Response {
    let location = format!("https://located.example/news/{name}");
    ([(axum::http::header::CONTENT_LOCATION, location)], fixture(&name)).into_response()
}

async fn news_page(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count(&s, format!("/news/{name}"), &headers);
    match std::fs::read(fixtures().join("pages").join(&name)) {
        Ok(body) => typed_with_etag(body, "text/html", &headers),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn nocache(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count(&s, format!("/nocache/{name}"), &headers);
    ([(header::CONTENT_TYPE, content_type(&name))], fixture(&name)).into_response()
}

/// `bytes` compressed with an HTTP content coding, or `None` for a coding not known here.
pub async fn compress(coding: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
    use tokio::io::AsyncReadExt;
    let mut reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send + '_>> = match coding {
        "gzip" => Box::pin(GzipEncoder::new(bytes)),
        "br" => Box::pin(BrotliEncoder::new(bytes)),
        "zstd" => Box::pin(ZstdEncoder::new(bytes)),
        "deflate" => Box::pin(ZlibEncoder::new(bytes)),
        _ => return None,
    };
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.expect("compress");
    Some(out)
}

async fn encoded(UrlPath((coding, name)): UrlPath<(String, String)>) -> Response {
    let body = fixture(&name);
    let body = compress(&coding, &body).await.unwrap_or(body);
    (
        [
            (header::CONTENT_TYPE, content_type(&name).to_string()),
            (header::CONTENT_ENCODING, coding),
        ],
        body,
    )
        .into_response()
}

async fn bomb(UrlPath(coding): UrlPath<String>) -> Response {
    use async_compression::tokio::bufread::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
    let zeros = tokio::io::BufReader::new(tokio::io::repeat(0));
    let body = match coding.as_str() {
        "gzip" => Body::from_stream(tokio_util::io::ReaderStream::new(GzipEncoder::new(zeros))),
        "br" => Body::from_stream(tokio_util::io::ReaderStream::new(BrotliEncoder::new(zeros))),
        "zstd" => Body::from_stream(tokio_util::io::ReaderStream::new(ZstdEncoder::new(zeros))),
        _ => Body::from_stream(tokio_util::io::ReaderStream::new(ZlibEncoder::new(zeros))),
    };
    (
        [
            (header::CONTENT_TYPE, "application/xml".to_string()),
            (header::CONTENT_ENCODING, coding),
        ],
        body,
    )
        .into_response()
}

async fn empty_members() -> Response {
    let member = compress("gzip", b"").await.expect("gzip");
    let chunk = member.repeat(1000);
    (
        [
            (header::CONTENT_TYPE, "application/xml"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        Body::from_stream(async_stream(usize::MAX, Duration::ZERO, chunk)),
    )
        .into_response()
}

async fn redirect_to(
    State(s): State<Arc<OriginState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    log_credentials(&s, "/redirect".into(), &headers);
    log_request(&s, &uri, &headers);
    redirect(StatusCode::FOUND, q.get("to").map_or("/", String::as_str))
}

/// Logs a request's target and headers ([`Origin::requests`]).
fn log_request(state: &OriginState, uri: &axum::http::Uri, headers: &HeaderMap) {
    state.requests.lock().expect("lock").push(Seen {
        target: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_string(), ToString::to_string),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    });
}

async fn echo_headers(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    log_request(&s, &uri, &headers);
    ([(header::CONTENT_TYPE, content_type(&name))], fixture(&name)).into_response()
}

/// Logs the credentials a request carried; returns whether they are the ones `/auth/…` takes.
fn log_credentials(state: &OriginState, path: String, headers: &HeaderMap) -> bool {
    let get = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let (basic, key) = (get(header::AUTHORIZATION.as_str()), get("x-api-key"));
    let seen = [basic, key]
        .iter()
        .filter(|v| !v.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    state.credentials.lock().expect("lock").push((path, seen));
    basic == AUTH_BASIC || key == AUTH_KEY
}

async fn authenticated(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if !log_credentials(&s, format!("/auth/{name}"), &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ([(header::CONTENT_TYPE, content_type(&name))], fixture(&name)).into_response()
}

async fn mutable(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count(&s, format!("/mutable/{name}"), &headers);
    let body = s.mutable.lock().expect("lock").get(&name).cloned();
    match body {
        Some(body) => with_etag(body, &name, &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn status(UrlPath(code): UrlPath<u16>) -> Response {
    StatusCode::from_u16(code)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response()
}

/// 410 Gone, counted.
async fn gone(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count(&s, format!("/gone/{name}"), &headers);
    StatusCode::GONE.into_response()
}

/// 429 Too Many Requests with `Retry-After: secs`, counted.
async fn busy(
    State(s): State<Arc<OriginState>>,
    UrlPath(secs): UrlPath<u64>,
    headers: HeaderMap,
) -> Response {
    count(&s, format!("/busy/{secs}"), &headers);
    let mut r = StatusCode::TOO_MANY_REQUESTS.into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

fn redirect(status: StatusCode, to: &str) -> Response {
    let mut r = status.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(to).expect("location"));
    r
}

async fn moved(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count(&s, format!("/moved/{name}"), &headers);
    redirect(StatusCode::MOVED_PERMANENTLY, &format!("/feeds/{name}"))
}

async fn found(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count(&s, format!("/found/{name}"), &headers);
    redirect(StatusCode::FOUND, &format!("/feeds/{name}"))
}

async fn slow() -> Response {
    let stream = async_stream(30, Duration::from_millis(200), b"<rss>".to_vec());
    (
        [(header::CONTENT_TYPE, "application/xml")],
        Body::from_stream(stream),
    )
        .into_response()
}

async fn held(State(s): State<Arc<OriginState>>, UrlPath(name): UrlPath<String>) -> Response {
    {
        let mut held = s.held.lock().expect("lock");
        held.0 += 1;
        held.1 = held.1.max(held.0);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.held.lock().expect("lock").0 -= 1;
    ([(header::CONTENT_TYPE, content_type(&name))], fixture(&name)).into_response()
}

async fn generated(
    State(s): State<Arc<OriginState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/generated/{name}");
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if s.stalled_agents.lock().expect("lock").contains(&agent) {
        s.stalls.lock().expect("lock").push((path, agent));
        return std::future::pending().await;
    }
    let delay = *s.delay.lock().expect("lock");
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(generator) = s.generator.lock().expect("lock").clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let before = {
        let mut served = s.served.lock().expect("lock");
        let log = served.entry(path).or_default();
        log.push(Served {
            at: std::time::Instant::now(),
            agent,
        });
        log.len() - 1
    };
    (
        [(header::CONTENT_TYPE, "application/xml")],
        generator(&name, before),
    )
        .into_response()
}

async fn huge() -> Response {
    let chunk = vec![b' '; 64 * 1024];
    let stream = async_stream(32, Duration::ZERO, chunk);
    (
        [(header::CONTENT_TYPE, "application/xml")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `n` copies of `chunk`, `delay` apart.
fn async_stream(
    n: usize,
    delay: Duration,
    chunk: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    futures_util::stream::unfold(0, move |i| {
        let chunk = chunk.clone();
        async move {
            if i == n {
                return None;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Some((Ok(bytes::Bytes::from(chunk)), i + 1))
        }
    })
}

/// Runs each scenario `async fn NAME(backend: Backend)` listed as two tests: `sqlite::NAME`
/// and `postgres::NAME`.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::support::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario($crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// The database a test's store is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's temporary folder.
    Sqlite,
    /// A fresh database on the server `FEEDFOLD_TEST_POSTGRES` names ([`postgres_admin`]).
    Postgres,
}

/// The admin URL of the PostgreSQL server for tests, from `FEEDFOLD_TEST_POSTGRES`. Without it a
/// PostgreSQL test is skipped (it says so on stderr), except under CI (`CI` set), where that is
/// a failure: CI must not pass PostgreSQL tests it did not run.
pub fn postgres_admin() -> Option<String> {
    match std::env::var("FEEDFOLD_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("FEEDFOLD_TEST_POSTGRES is not set under CI: the PostgreSQL tests cannot run")
        }
        _ => {
            eprintln!("FEEDFOLD_TEST_POSTGRES is not set: PostgreSQL test skipped");
            None
        }
    }
}

/// A temporary folder with a config file, and everything needed to run fetch cycles on it.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub store: Store,
    pub fetcher: Fetcher,
    /// The PostgreSQL database of the store, dropped with the Env.
    _db: Option<PostgresDb>,
}

impl Env {
    /// Writes `body` (the TOML after a generated `[store]` section) and opens everything, with a
    /// SQLite store.
    pub async fn new(body: &str) -> Env {
        Env::with_store("sqlite://test.db", body, None).await
    }

    /// [`Env::new`] with the store on `backend`; None when the PostgreSQL test is skipped.
    pub async fn on(backend: Backend, body: &str) -> Option<Env> {
        match backend {
            Backend::Sqlite => Some(Env::new(body).await),
            Backend::Postgres => {
                let db = PostgresDb::create(&postgres_admin()?).await;
                let url = db.url.clone();
                Some(Env::with_store(&url, body, Some(db)).await)
            }
        }
    }

    async fn with_store(url: &str, body: &str, db: Option<PostgresDb>) -> Env {
        feedfold::install_tls_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("feedfold.toml");
        let text = format!("[store]\nurl = \"{url}\"\n\n{body}");
        std::fs::write(&path, text).expect("write config");
        let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(&config.store.url).await.expect("open store");
        let fetcher = Fetcher::new(&config.fetch).expect("client");
        Env {
            dir,
            config,
            store,
            fetcher,
            _db: db,
        }
    }

    /// One fetch cycle over every source, due or not (`fetch --force`).
    pub async fn fetch(&self) -> Vec<SourceReport> {
        self.fetch_at(chrono::Utc::now(), Taking::Any).await
    }

    /// One fetch cycle at `now`, over the sources `taking` allows.
    pub async fn fetch_at(&self, now: chrono::DateTime<chrono::Utc>, taking: Taking) -> Vec<SourceReport> {
        run::fetch_all(&self.config, &self.store, &self.fetcher, now, taking, &|_| {})
            .await
            .expect("fetch cycle")
            .reports
    }

    /// Writes every output into `public/` in the temporary folder and returns that folder.
    pub async fn publish(&self) -> PathBuf {
        let out = self.dir.path().join("public");
        run::publish(&self.config, &self.store, &out, chrono::Utc::now())
            .await
            .expect("publish");
        out
    }

    pub fn report<'a>(&self, reports: &'a [SourceReport], name: &str) -> &'a SourceReport {
        reports
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no report for {name}"))
    }
}

/// The counts of a source that was stored (panics on any other outcome).
pub fn stored(reports: &[SourceReport], name: &str) -> feedfold::store::IngestCounts {
    match &reports.iter().find(|r| r.name == name).expect("report").outcome {
        Outcome::Stored { counts, .. } => *counts,
        other => panic!("{name}: expected stored, got {other:?}"),
    }
}

/// The error of a source that failed (panics on any other outcome).
pub fn failure(reports: &[SourceReport], name: &str) -> String {
    match &reports.iter().find(|r| r.name == name).expect("report").outcome {
        Outcome::Failed { error, .. } => error.clone(),
        other => panic!("{name}: expected failure, got {other:?}"),
    }
}

/// The fold fixtures (`tests/fixtures/fold/`): the seed stories, their copies and look-alikes.
pub const FOLD_FIXTURES: [&str; 8] = [
    "qutoutiao.xml",
    "sxdaily.xml",
    "summary.xml",
    "tianning.xml",
    "jiyuan-trad.xml",
    "jiyuan-simp.xml",
    "nhc.xml",
    "nhc-copy.xml",
];

/// `[[source]]` tables for `(name, url)` pairs.
pub fn sources(list: &[(&str, String)]) -> String {
    list.iter()
        .map(|(n, u)| format!("[[source]]\nname = \"{n}\"\nurl = \"{u}\"\n\n"))
        .collect()
}

/// A PostgreSQL database of its own for one test, on the server of an admin URL (such as
/// `FEEDFOLD_TEST_POSTGRES`): created empty, dropped (with any connections left open to it)
/// when the value is dropped, also when the test fails.
pub struct PostgresDb {
    admin: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl PostgresDb {
    pub async fn create(admin: &str) -> PostgresDb {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("feedfold_test_{}_{nanos}", std::process::id());
        let mut conn = sqlx::AnyConnection::connect(admin)
            .await
            .expect("connect to postgres");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        conn.close().await.expect("close");
        let base = admin.split('?').next().unwrap_or(admin);
        let url = format!(
            "{}/{name}",
            base.rsplit_once('/').map_or(base, |(server, _)| server)
        );
        PostgresDb {
            admin: admin.to_string(),
            name,
            url,
        }
    }
}

impl Drop for PostgresDb {
    /// Drops the database from a thread of its own (a `Drop` cannot wait on the test's runtime).
    fn drop(&mut self) {
        use sqlx::Connection;
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut conn = sqlx::AnyConnection::connect(&admin).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map(|_| ())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("cannot drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// How a [`raw_server`] ends each connection after its reply.
#[derive(Clone, Copy)]
pub enum End {
    /// An orderly close (FIN).
    Close,
    /// A reset (RST).
    Reset,
}

/// A loopback server that reads each request, writes `reply` as is and ends the connection:
/// for bodies cut short and handshakes that never happen.
pub async fn raw_server(reply: &'static [u8], end: End) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream.write_all(reply).await;
            let _ = stream.flush().await;
            // Let the client read what was sent before the connection ends.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let End::Reset = end {
                let _ = stream.set_zero_linger();
            }
            drop(stream);
        }
    });
    addr
}

/// A loopback HTTP forward proxy: it logs every request it gets (its target as sent, the
/// absolute URL, and its headers) and forwards plain-HTTP requests to loopback addresses only,
/// with `Connection: close` and without `Proxy-Authorization`; any other target (another
/// address, a `CONNECT` tunnel) gets a 502 and is never connected to.
pub struct LoopbackProxy {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl LoopbackProxy {
    pub async fn start() -> LoopbackProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(forward(stream, shared.clone()));
            }
        });
        LoopbackProxy { addr, log }
    }

    /// `http://127.0.0.1:PORT`, with `userinfo` (`user:password@`) before the address.
    pub fn url(&self, userinfo: &str) -> String {
        format!("http://{userinfo}{}", self.addr)
    }

    /// Every request the proxy got, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().expect("lock").clone()
    }
}

/// Serves one connection of a [`LoopbackProxy`]: one request, then the connection closes.
async fn forward(mut client: tokio::net::TcpStream, log: Arc<Mutex<Vec<Seen>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let end = loop {
        let mut chunk = [0u8; 4096];
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("").to_string();
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    log.lock().expect("lock").push(Seen {
        target: target.to_string(),
        headers: headers.clone(),
    });
    let refuse = b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let url = url::Url::parse(target).ok();
    let loopback = url.as_ref().and_then(|u| match u.host()? {
        url::Host::Ipv4(ip) if ip.is_loopback() => {
            Some((std::net::IpAddr::V4(ip), u.port_or_known_default()?))
        }
        _ => None,
    });
    let (Some(url), Some(to), "GET") = (url, loopback, method) else {
        let _ = client.write_all(refuse).await;
        return;
    };
    let Ok(mut upstream) = tokio::net::TcpStream::connect(to).await else {
        let _ = client.write_all(refuse).await;
        return;
    };
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    let mut out = format!("GET {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "proxy-authorization" | "proxy-connection" | "connection"
        ) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str("connection: close\r\n\r\n");
    if upstream.write_all(out.as_bytes()).await.is_err() {
        return;
    }
    let _ = tokio::io::copy(&mut upstream, &mut client).await;
    let _ = client.shutdown().await;
}

/// Runs the test named `path` (`module::test`) again in a network namespace of its own, where
/// only loopback is up and nothing can leave the machine, and returns `true` when the caller
/// is that run and should go on; `false` (after asserting the isolated run passed) when it is
/// the outer run, which should return at once. For tests that point feedfold at addresses a
/// guard must refuse (metadata, private networks): were the guard broken, the connection
/// would find no route instead of a real service.
///
/// Needs `unshare` (util-linux) with unprivileged user namespaces, and `ip` (iproute2).
pub fn isolated_network(path: &str) -> bool {
    const INSIDE: &str = "FEEDFOLD_TEST_ISOLATED";
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let output = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--", "sh", "-c"])
        .arg("ip link set lo up && exec \"$0\" \"$@\"")
        .arg(&exe)
        .args([path, "--exact", "--test-threads", "1", "--nocapture"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare (util-linux) runs: the test needs a network namespace of its own");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the isolated run failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the isolated run did not run `{path}`:\n{text}"
    );
    false
}
