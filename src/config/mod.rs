//! Configuration: a TOML file read into a validated [`Config`].
//!
//! In: the text of a config file and its path. Out: a [`Config`] whose paths are absolute, URLs
//! parsed and durations and sizes converted, or a [`ConfigError`] that lists **every** problem
//! found (file, line, key path, message) so an operator can fix them all in one pass. Unknown
//! keys are errors. Nothing runs until the whole file is valid.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::FixedOffset;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use url::Url;

use crate::output::query::Query;
use crate::source::auth::{self, Credentials};
use crate::transform::fold::FoldConfig;
use crate::transform::region::Gazetteer;

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file the configuration was read from.
    pub file: PathBuf,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[fetch]`.
    pub fetch: FetchConfig,
    /// `[publish]`.
    pub publish: PublishConfig,
    /// `[fold]`.
    pub fold: FoldConfig,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[[source]]`, in file order.
    pub sources: Vec<SourceConfig>,
    /// `[[output]]`, in file order.
    pub outputs: Vec<OutputConfig>,
}

/// Where items are stored.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A database URL for sqlx: `sqlite://…` (relative paths already resolved against the config
    /// file's folder) or `postgres://…`.
    pub url: String,
}

/// How sources are fetched.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Sources fetched at once.
    pub concurrency: usize,
    /// Total time allowed for one fetch (connect, headers and body).
    pub timeout: Duration,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Largest body accepted, in bytes, after decompression.
    pub max_body: u64,
    /// Largest compressed body accepted, in bytes as sent (`Content-Encoding` gzip, br, zstd or
    /// deflate); bodies sent without compression are held to `max_body` alone.
    pub max_compressed_body: u64,
    /// Most items read from one feed; the rest (the last in feed order) are dropped with a warning.
    pub max_items: usize,
    /// Whether a redirect from a public address may lead to a loopback, private, link-local or
    /// otherwise non-public address (a source's own `allow_private` overrides it).
    pub allow_private: bool,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// `User-Agent` header sent with every request.
    pub user_agent: String,
    /// Offset assumed for dates written without a time zone (`2023-11-20 10:00:00`).
    pub default_timezone: FixedOffset,
    /// How often the daemon fetches a source (a source's `interval` overrides it).
    pub interval: Duration,
    /// Fetches to one host at once (the daemon and `fetch`).
    pub per_host: usize,
    /// Longest wait the daemon takes after failures (backoff grows up to this).
    pub max_backoff: Duration,
    /// Longest wait a feed's own hints (`<ttl>`, `sy:updatePeriod`, `Cache-Control`,
    /// `Expires`, `Retry-After`) can ask for; longer hints are cut to this.
    pub max_interval: Duration,
    /// The daemon's first fetches are spread over this long so many sources do not fire at once.
    pub startup_spread: Duration,
    /// How long a daemon or `fetch` run holds a source it fetches: if it dies, other daemons
    /// sharing the store take the source over when this runs out.
    pub lease: Duration,
}

/// How the daemon serves outputs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: std::net::SocketAddr,
    /// Ad-hoc filtered renderings (`?region=…&q=…&limit=…`) kept in memory.
    pub cache_entries: usize,
    /// How often the daemon checks the store for changes other daemons or `fetch` runs made,
    /// and renders the outputs they touched.
    pub refresh: Duration,
}

/// Where and how outputs are written.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// Folder `fetch` writes outputs to (absolute).
    pub dir: PathBuf,
    /// Base URL the outputs are served under; feeds live at `{base_url}/feeds/NAME.EXT`.
    pub base_url: Url,
    /// The author of every output that names none of its own (`[publish] author`).
    pub author: Option<String>,
    /// Folder `fetch` writes token-protected outputs to (absolute), never inside `dir`; None:
    /// `fetch` does not write them (only the daemon serves them, to requests with the token).
    pub private_dir: Option<PathBuf>,
}

/// Where a source's feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An `http://` or `https://` URL.
    Http(Url),
    /// A local file (from `file://` or a path relative to the config file).
    File(PathBuf),
}

impl Location {
    /// The location as configured, credentials and all: for fetching and for telling whether
    /// the config changed it, never for showing (its `Display` is redacted).
    pub fn raw(&self) -> String {
        match self {
            Location::Http(url) => url.to_string(),
            Location::File(path) => path.display().to_string(),
        }
    }
}

/// Shows the location with its credentials masked ([`crate::redact`]).
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Http(url) => write!(f, "{}", crate::redact::Shown(url)),
            Location::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One `[[source]]`.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique name, used in summaries, exports and output filters.
    pub name: String,
    /// Where its feed is.
    pub location: Location,
    /// Offset for this source's zone-less dates, overriding `[fetch] default_timezone`.
    pub timezone: Option<FixedOffset>,
    /// The region a local outlet covers (a gazetteer unit): a prior for its items' regions.
    pub region: Option<usize>,
    /// How often the daemon fetches this source, overriding `[fetch] interval`.
    pub interval: Option<Duration>,
    /// Overrides `[fetch] allow_private` for this source.
    pub allow_private: Option<bool>,
    /// Basic-auth password and headers from the environment or files (`password_env`,
    /// `password_file`, `headers_file`), sent only to the source's own origin.
    pub credentials: Credentials,
}

/// How an output folds duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dedup {
    /// One entry per story (the default).
    Story,
    /// One entry per exact duplicate group (same canonical URL or permalink GUID).
    Exact,
    /// Every stored item is its own entry.
    Off,
}

/// One `[[output]]`: a merged feed written in every format.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// File stem and URL name: `[A-Za-z0-9][A-Za-z0-9._-]*`.
    pub name: String,
    /// Feed title.
    pub title: String,
    /// Feed description.
    pub description: Option<String>,
    /// The feed's author, as every format writes it (Atom requires one): the output's
    /// `author`, else `[publish] author`, else its title.
    pub author: String,
    /// Sources included (names); `None` means every source.
    pub sources: Option<Vec<String>>,
    /// Most entries written.
    pub limit: usize,
    /// How duplicates are folded.
    pub dedup: Dedup,
    /// Only stories about one of these regions (gazetteer units; a province includes its cities
    /// and counties). Empty: no region filter.
    pub regions: Vec<usize>,
    /// No story about one of these regions.
    pub exclude_regions: Vec<usize>,
    /// Only stories matching this query.
    pub keywords: Option<Query>,
    /// When set, the daemon serves this output only to requests that carry the token
    /// (`?token=…` or `Authorization: Bearer …`); to others it does not exist.
    pub token: Option<String>,
}

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// Key path such as `source[2].url`; empty for the whole file.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config: cannot read {}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but has problems; all of them are listed.
    #[error("{}", render_problems(file, problems))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

fn render_problems(file: &Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "config: {} has {} problem{}",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&file.display().to_string());
        if let Some(line) = p.line {
            out.push_str(&format!(":{line}"));
        }
        if !p.key.is_empty() {
            out.push_str(&format!(": {}", p.key));
        }
        out.push_str(&format!(": {}", p.message));
    }
    out
}

/// Default `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "feedfold/",
    env!("CARGO_PKG_VERSION"),
    " (+https://github.com/feedfold/feedfold)"
);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFetch {
    concurrency: Option<i64>,
    timeout: Option<RawDuration>,
    connect_timeout: Option<RawDuration>,
    max_body: Option<RawSize>,
    max_compressed_body: Option<RawSize>,
    max_items: Option<i64>,
    allow_private: Option<bool>,
    max_redirects: Option<i64>,
    user_agent: Option<String>,
    default_timezone: Option<String>,
    interval: Option<RawDuration>,
    per_host: Option<i64>,
    max_backoff: Option<RawDuration>,
    max_interval: Option<RawDuration>,
    startup_spread: Option<RawDuration>,
    lease: Option<RawDuration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    cache_entries: Option<i64>,
    refresh: Option<RawDuration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    dir: Option<String>,
    base_url: Option<String>,
    author: Option<String>,
    private_dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFold {
    window: Option<RawDuration>,
    min_jaccard: Option<f64>,
    min_containment: Option<f64>,
    title_only_window: Option<RawDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    name: String,
    url: String,
    timezone: Option<String>,
    region: Option<String>,
    interval: Option<RawDuration>,
    allow_private: Option<bool>,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    headers_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: String,
    title: String,
    description: Option<String>,
    author: Option<String>,
    sources: Option<Vec<String>>,
    limit: Option<i64>,
    dedup: Option<Dedup>,
    regions: Option<Vec<String>>,
    exclude_regions: Option<Vec<String>>,
    keywords: Option<String>,
    token: Option<String>,
}

/// A duration: seconds as an integer, or a string such as `"500ms"`, `"30s"`, `"15m"`, `"2h"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(i64),
    Text(String),
}

impl RawDuration {
    fn get(&self) -> Option<Duration> {
        match self {
            RawDuration::Seconds(s) => u64::try_from(*s).ok().map(Duration::from_secs),
            RawDuration::Text(t) => parse_duration(t),
        }
    }
}

/// A size: bytes as an integer, or a string such as `"512KiB"`, `"10MiB"`, `"1GB"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(i64),
    Text(String),
}

/// Parses a duration written as `"30s"`, `"15m"`, `"500ms"`, `"2h"` or `"1d"`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let unit_ms: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(Duration::from_millis(n.checked_mul(unit_ms)?))
}

/// Parses a size written as `"10MiB"`, `"512KiB"`, `"1GB"`, `"100kB"` or `"2048"` (bytes).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Parses a fixed UTC offset such as `"+08:00"`, `"-05:00"`, `"Z"` or `"UTC"`.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Collects problems while a file is checked, turning byte offsets into line numbers.
struct Collector<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Collector<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn push(&mut self, span: Option<Range<usize>>, key: impl Into<String>, message: impl Into<String>) {
        let line = span.map(|s| self.line(&s));
        self.problems.push(Problem {
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    /// Deserialises one section, recording its error (with the innermost key it names) on failure.
    fn section<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue<'_>>, path: &str) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span().unwrap_or_else(|| value.span());
                let key = match value.get_ref().as_table() {
                    Some(table) => {
                        key_at(table, &span).map_or_else(|| path.to_string(), |k| format!("{path}.{k}"))
                    }
                    None => path.to_string(),
                };
                let message = e.message().trim().to_string();
                self.push(Some(span), key, message);
                None
            }
        }
    }
}

/// The key of `table` whose key or value covers `span`.
fn key_at(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    table.iter().find_map(|(k, v)| {
        let covers = |s: Range<usize>| s.start <= span.start && span.start < s.end.max(s.start + 1);
        (covers(k.span()) || covers(v.span())).then(|| k.get_ref().to_string())
    })
}

fn value_span(table: Option<&DeTable<'_>>, key: &str) -> Option<Range<usize>> {
    table?
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v.span())
}

/// Spans of the elements of an array value of `table`.
fn array_spans(table: Option<&DeTable<'_>>, key: &str) -> Vec<Range<usize>> {
    table
        .and_then(|t| t.iter().find(|(k, _)| k.get_ref() == key))
        .and_then(|(_, v)| {
            v.get_ref()
                .as_array()
                .map(|a| a.iter().map(|e| e.span()).collect())
        })
        .unwrap_or_default()
}

/// A region written in the config: a name in either script, a short or English name, or a code.
pub fn resolve_region(text: &str) -> Result<usize, String> {
    let g = Gazetteer::embedded();
    match g.lookup(text).as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "no region is named `{text}`: use a name (陕西, 西安市, Shaanxi) or a code (610000, JP)"
        )),
        many => Err(format!(
            "`{text}` names {} regions ({}): use a code",
            many.len(),
            many.iter()
                .take(5)
                .map(|&u| format!("{} {}", g.unit(u).name, g.unit(u).code))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
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

fn is_output_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Validates config text as if read from `path` (relative paths resolve against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut c = Collector {
            text,
            problems: Vec::new(),
        };
        let base_dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let base_dir = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());

        let (doc, syntax) = DeTable::parse_recoverable(text);
        for e in &syntax {
            c.push(e.span(), "", e.message().trim().to_string());
        }
        if !syntax.is_empty() {
            return Err(ConfigError::Invalid {
                file: path.to_path_buf(),
                problems: c.problems,
            });
        }

        let mut store = RawStore::default();
        let mut fetch = RawFetch::default();
        let mut publish = RawPublish::default();
        let mut raw_sources: Vec<(Option<RawSource>, Spanned<DeValue<'_>>, String)> = Vec::new();
        let mut raw_outputs: Vec<(Option<RawOutput>, Spanned<DeValue<'_>>, String)> = Vec::new();
        let mut fold = RawFold::default();
        let mut server = RawServer::default();
        let mut tables: [Option<Spanned<DeValue<'_>>>; 5] = [None, None, None, None, None];

        for (key, value) in doc.get_ref().iter() {
            match key.get_ref().as_ref() {
                "store" => {
                    store = c.section(value, "store").unwrap_or_default();
                    tables[0] = Some(value.clone());
                }
                "fetch" => {
                    fetch = c.section(value, "fetch").unwrap_or_default();
                    tables[1] = Some(value.clone());
                }
                "publish" => {
                    publish = c.section(value, "publish").unwrap_or_default();
                    tables[2] = Some(value.clone());
                }
                "fold" => {
                    fold = c.section(value, "fold").unwrap_or_default();
                    tables[3] = Some(value.clone());
                }
                "server" => {
                    server = c.section(value, "server").unwrap_or_default();
                    tables[4] = Some(value.clone());
                }
                section @ ("source" | "output") => {
                    let Some(array) = value.get_ref().as_array() else {
                        c.push(
                            Some(value.span()),
                            section,
                            format!("expected an array of tables ([[{section}]])"),
                        );
                        continue;
                    };
                    for (i, element) in array.iter().enumerate() {
                        let path = format!("{section}[{i}]");
                        if section == "source" {
                            let parsed = c.section(element, &path);
                            raw_sources.push((parsed, element.clone(), path));
                        } else {
                            let parsed = c.section(element, &path);
                            raw_outputs.push((parsed, element.clone(), path));
                        }
                    }
                }
                other => c.push(
                    Some(key.span()),
                    other,
                    "unknown key, expected one of `store`, `fetch`, `publish`, `fold`, `server`, `source`, `output`",
                ),
            }
        }

        let table_of = |v: &Option<Spanned<DeValue<'_>>>, key: &str| {
            v.as_ref().and_then(|v| value_span(v.get_ref().as_table(), key))
        };

        // [store]
        let store_url = match store.url.as_deref() {
            None => sqlite_url(&base_dir.join("feedfold.db")),
            Some(u) => match resolve_store_url(u, &base_dir) {
                Ok(u) => u,
                Err(m) => {
                    c.push(table_of(&tables[0], "url"), "store.url", m);
                    String::new()
                }
            },
        };

        // [fetch]
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
            default_timezone: FixedOffset::east_opt(8 * 3600)
                .unwrap_or(FixedOffset::east_opt(0).expect("zero offset")),
            interval: Duration::from_secs(15 * 60),
            per_host: 2,
            max_backoff: Duration::from_secs(6 * 3600),
            max_interval: Duration::from_secs(24 * 3600),
            startup_spread: Duration::from_secs(60),
            lease: Duration::from_secs(5 * 60),
        };
        let fetch_span = |k: &str| table_of(&tables[1], k);
        for (raw, key, slot, most) in [
            (fetch.concurrency, "concurrency", &mut fetch_cfg.concurrency, 1024),
            (fetch.per_host, "per_host", &mut fetch_cfg.per_host, 1024),
            (fetch.max_items, "max_items", &mut fetch_cfg.max_items, 100_000),
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
        if let Some(ua) = fetch.user_agent {
            if ua.trim().is_empty() || ua.contains(['\r', '\n']) {
                c.push(
                    fetch_span("user_agent"),
                    "fetch.user_agent",
                    "must be one non-empty line",
                );
            } else {
                fetch_cfg.user_agent = ua;
            }
        }
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

        // [server]
        let server_span = |k: &str| table_of(&tables[4], k);
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

        // [publish]
        let dir = base_dir.join(publish.dir.as_deref().unwrap_or("public"));
        let base_url_text = publish.base_url.as_deref().unwrap_or("http://localhost:8080");
        let base_url = match Url::parse(base_url_text) {
            Ok(u) if crate::html::is_web_url(&u) => u,
            _ => {
                c.push(
                    table_of(&tables[2], "base_url"),
                    "publish.base_url",
                    format!("`{base_url_text}` is not an absolute http(s) URL"),
                );
                Url::parse("http://localhost:8080").expect("static URL")
            }
        };
        let publish_author = publish.author.as_deref().and_then(|a| {
            author_name(a)
                .map_err(|m| c.push(table_of(&tables[2], "author"), "publish.author", m))
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
                    c.push(table_of(&tables[2], "private_dir"), "publish.private_dir", m);
                    None
                }
                None => Some(full),
            }
        });

        // [fold]
        let mut fold_cfg = FoldConfig::default();
        let fold_span = |k: &str| table_of(&tables[3], k);
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

        // [[source]]
        let mut sources = Vec::new();
        let mut names = HashSet::new();
        for (raw, element, path) in &raw_sources {
            let Some(raw) = raw else { continue };
            let table = element.get_ref().as_table();
            let name = raw.name.trim().to_string();
            if name.is_empty() {
                c.push(
                    value_span(table, "name"),
                    format!("{path}.name"),
                    "must not be empty",
                );
            } else if !names.insert(name.clone()) {
                c.push(
                    value_span(table, "name"),
                    format!("{path}.name"),
                    format!("duplicate source name `{name}`"),
                );
            }
            let location = match resolve_location(&raw.url, &base_dir) {
                Ok(l) => Some(l),
                Err(m) => {
                    c.push(value_span(table, "url"), format!("{path}.url"), m);
                    None
                }
            };
            let timezone = match raw.timezone.as_deref().map(|t| (t, parse_offset(t))) {
                None => None,
                Some((_, Some(o))) => Some(o),
                Some((t, None)) => {
                    c.push(
                        value_span(table, "timezone"),
                        format!("{path}.timezone"),
                        format!("`{t}` is not a UTC offset like \"+08:00\""),
                    );
                    None
                }
            };
            let region = raw.region.as_deref().and_then(|r| {
                resolve_region(r)
                    .map_err(|m| c.push(value_span(table, "region"), format!("{path}.region"), m))
                    .ok()
            });
            let interval = raw.interval.as_ref().and_then(|raw| match raw.get() {
                Some(d) if d.as_secs() >= 10 => Some(d),
                _ => {
                    c.push(
                        value_span(table, "interval"),
                        format!("{path}.interval"),
                        "must be a duration of at least 10s, like \"30m\"",
                    );
                    None
                }
            });
            let keys = auth::Keys {
                username: raw.username.as_deref(),
                password_env: raw.password_env.as_deref(),
                password_file: raw.password_file.as_deref(),
                headers_file: raw.headers_file.as_deref(),
            };
            let http_url = match &location {
                Some(Location::Http(url)) => Some(url),
                _ => None,
            };
            let credentials = match Credentials::load(&keys, http_url, &base_dir) {
                Ok(credentials) => credentials,
                Err(problems) => {
                    // A file source cannot have credentials; a bad URL is reported already.
                    for (key, message) in problems {
                        if key != "url" || location.is_some() {
                            c.push(value_span(table, key), format!("{path}.{key}"), message);
                        }
                    }
                    Credentials::default()
                }
            };
            if let Some(location) = location {
                sources.push(SourceConfig {
                    name,
                    location,
                    timezone,
                    region,
                    interval,
                    allow_private: raw.allow_private,
                    credentials,
                });
            }
        }

        // [[output]]
        let mut outputs = Vec::new();
        let mut output_names = HashSet::new();
        for (raw, element, path) in raw_outputs {
            let Some(raw) = raw else { continue };
            let table = element.get_ref().as_table();
            if !is_output_name(&raw.name) {
                c.push(
                    value_span(table, "name"),
                    format!("{path}.name"),
                    format!(
                        "`{}` is not a valid output name: use letters, digits, `.`, `_`, `-`",
                        raw.name
                    ),
                );
            } else if !output_names.insert(raw.name.clone()) {
                c.push(
                    value_span(table, "name"),
                    format!("{path}.name"),
                    format!("duplicate output name `{}`", raw.name),
                );
            }
            if let Some(list) = &raw.sources {
                let spans = table
                    .and_then(|t| t.iter().find(|(k, _)| k.get_ref() == "sources"))
                    .and_then(|(_, v)| {
                        v.get_ref()
                            .as_array()
                            .map(|a| a.iter().map(|e| e.span()).collect::<Vec<_>>())
                    })
                    .unwrap_or_default();
                for (i, s) in list.iter().enumerate() {
                    if !names.contains(s.trim()) {
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
                            value_span(table, "limit"),
                            format!("{path}.limit"),
                            "must be between 1 and 100000",
                        );
                        100
                    }
                },
            };
            let region_list = |key: &str, list: &Option<Vec<String>>, c: &mut Collector<'_>| -> Vec<usize> {
                let spans = array_spans(table, key);
                let mut units = Vec::new();
                for (i, r) in list.iter().flatten().enumerate() {
                    match resolve_region(r) {
                        Ok(u) => units.push(u),
                        Err(m) => c.push(spans.get(i).cloned(), format!("{path}.{key}[{i}]"), m),
                    }
                }
                units
            };
            let regions = region_list("regions", &raw.regions, &mut c);
            let exclude_regions = region_list("exclude_regions", &raw.exclude_regions, &mut c);
            let keywords = match raw.keywords.as_deref().map(Query::parse) {
                None => None,
                Some(Ok(q)) => Some(q),
                Some(Err(e)) => {
                    c.push(
                        value_span(table, "keywords"),
                        format!("{path}.keywords"),
                        format!("output `{}`: bad query {e}", raw.name),
                    );
                    None
                }
            };
            let token = match raw.token {
                Some(t) if t.len() < 16 || !t.chars().all(|ch| ch.is_ascii_graphic()) => {
                    c.push(
                        value_span(table, "token"),
                        format!("{path}.token"),
                        "must be at least 16 printable ASCII characters without spaces (e.g. `openssl rand -hex 16`)",
                    );
                    None
                }
                other => other,
            };
            let author = match raw.author.as_deref().map(author_name) {
                Some(Ok(a)) => Some(a),
                Some(Err(m)) => {
                    c.push(value_span(table, "author"), format!("{path}.author"), m);
                    None
                }
                None => None,
            };
            let author =
                author
                    .or_else(|| publish_author.clone())
                    .unwrap_or_else(|| match raw.title.trim() {
                        "" => "feedfold".to_string(),
                        title => title.to_string(),
                    });
            outputs.push(OutputConfig {
                name: raw.name,
                title: raw.title,
                description: raw.description,
                author,
                sources: raw
                    .sources
                    .map(|s| s.into_iter().map(|n| n.trim().to_string()).collect()),
                limit,
                dedup: raw.dedup.unwrap_or(Dedup::Story),
                regions,
                exclude_regions,
                keywords,
                token,
            });
        }

        if !c.problems.is_empty() {
            c.problems.sort_by_key(|p| p.line.unwrap_or(0));
            return Err(ConfigError::Invalid {
                file: path.to_path_buf(),
                problems: c.problems,
            });
        }
        Ok(Config {
            file: path.to_path_buf(),
            store: StoreConfig { url: store_url },
            fetch: fetch_cfg,
            publish: PublishConfig {
                dir,
                base_url,
                author: publish_author,
                private_dir,
            },
            fold: fold_cfg,
            server: ServerConfig {
                listen,
                cache_entries,
                refresh,
            },
            sources,
            outputs,
        })
    }

    /// Each source's region prior, by source name.
    pub fn region_priors(&self) -> std::collections::HashMap<String, usize> {
        self.sources
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.region?)))
            .collect()
    }

    /// The interval the daemon fetches a source at.
    pub fn interval_of(&self, source: &SourceConfig) -> Duration {
        source.interval.unwrap_or(self.fetch.interval)
    }

    /// Whether a redirect from a public address to a non-public one is followed for a source:
    /// its own `allow_private`, else `[fetch] allow_private`.
    pub fn allow_private_of(&self, source: &SourceConfig) -> bool {
        source.allow_private.unwrap_or(self.fetch.allow_private)
    }

    /// The sources an output draws from.
    pub fn output_sources<'a>(&'a self, output: &'a OutputConfig) -> Vec<&'a str> {
        match &output.sources {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => self.sources.iter().map(|s| s.name.as_str()).collect(),
        }
    }
}

/// Whether `path` is `folder` or inside it, comparing the paths as written with `.` and `..`
/// resolved (neither needs to exist yet).
pub fn within(path: &Path, folder: &Path) -> bool {
    fn lexical(p: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        for part in p.components() {
            match part {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }
    lexical(path).starts_with(lexical(folder))
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

/// Resolves a source `url`: http(s) URLs, `file://` URLs, or paths relative to the config file.
fn resolve_location(url: &str, base_dir: &Path) -> Result<Location, String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("must not be empty".to_string());
    }
    if url.contains("://") {
        let parsed = Url::parse(url).map_err(|e| format!("`{url}` is not a valid URL: {e}"))?;
        return match parsed.scheme() {
            "http" | "https" => Ok(Location::Http(parsed)),
            "file" => parsed
                .to_file_path()
                .map(Location::File)
                .map_err(|()| format!("`{url}` is not an absolute file URL")),
            other => Err(format!(
                "unsupported scheme `{other}`: use http, https, file or a path"
            )),
        };
    }
    Ok(Location::File(base_dir.join(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/feedfold/test.toml"))
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = parse("[[source]]\nname = \"a\"\nurl = \"feeds/a.xml\"\n").expect("valid");
        assert_eq!(cfg.store.url, "sqlite:///etc/feedfold/feedfold.db?mode=rwc");
        assert_eq!(cfg.publish.dir, Path::new("/etc/feedfold/public"));
        assert_eq!(cfg.fetch.max_redirects, 5);
        assert_eq!(cfg.fetch.max_body, 10 << 20);
        assert_eq!(
            cfg.sources[0].location,
            Location::File("/etc/feedfold/feeds/a.xml".into())
        );
    }

    #[test]
    fn every_problem_is_reported_with_line_and_key() {
        let text = "[fetch]\ntimeout = \"soon\"\nbogus = 1\n\n[[source]]\nname = \"a\"\nurl = \"ftp://x/y\"\n\n[[source]]\nname = \"a\"\nurl = \"b.xml\"\ncolour = \"red\"\n\n[[output]]\nname = \"all\"\ntitle = \"All\"\nsources = [\"a\", \"nope\"]\ndedup = \"maybe\"\n";
        let Err(ConfigError::Invalid { problems, .. }) = parse(text) else {
            panic!("expected invalid")
        };
        let keys: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
        assert!(keys.contains(&(Some(3), "fetch.bogus")), "{problems:?}");
        assert!(keys.contains(&(Some(7), "source[0].url")), "{problems:?}");
        assert!(keys.contains(&(Some(12), "source[1].colour")), "{problems:?}");
        assert!(keys.contains(&(Some(18), "output[0].dedup")), "{problems:?}");
    }

    #[test]
    fn daemon_keys_are_read_and_checked() {
        let cfg = parse(
            "[fetch]\ninterval = \"5m\"\nper_host = 3\nstartup_spread = 0\nlease = \"40s\"\n\
             [server]\nlisten = \"[::1]:9000\"\nrefresh = \"500ms\"\n\
             [[source]]\nname = \"a\"\nurl = \"a.xml\"\ninterval = \"1h\"\n[[source]]\nname = \"b\"\nurl = \"b.xml\"\n\
             [[output]]\nname = \"p\"\ntitle = \"P\"\ntoken = \"0123456789abcdef\"\n",
        )
        .expect("valid");
        assert_eq!(cfg.server.listen.to_string(), "[::1]:9000");
        assert_eq!(cfg.fetch.per_host, 3);
        assert_eq!(cfg.fetch.startup_spread, Duration::ZERO);
        assert_eq!(cfg.fetch.lease, Duration::from_secs(40));
        assert_eq!(cfg.server.refresh, Duration::from_millis(500));
        assert_eq!(cfg.interval_of(&cfg.sources[0]), Duration::from_secs(3600));
        assert_eq!(cfg.interval_of(&cfg.sources[1]), Duration::from_secs(300));
        assert_eq!(cfg.outputs[0].token.as_deref(), Some("0123456789abcdef"));
        let defaults = parse("").expect("valid");
        assert_eq!(defaults.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(defaults.fetch.interval, Duration::from_secs(900));
        assert_eq!(defaults.fetch.lease, Duration::from_secs(300));
        assert_eq!(defaults.server.refresh, Duration::from_secs(2));

        let text = "[fetch]\ninterval = \"2s\"\nper_host = 0\n[server]\nlisten = \"localhost\"\n\
                    [[source]]\nname = \"a\"\nurl = \"a.xml\"\ninterval = \"soon\"\n\
                    [[output]]\nname = \"p\"\ntitle = \"P\"\ntoken = \"short\"\n";
        let Err(ConfigError::Invalid { problems, .. }) = parse(text) else {
            panic!("expected invalid")
        };
        let keys: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
        for want in [
            (Some(2), "fetch.interval"),
            (Some(3), "fetch.per_host"),
            (Some(5), "server.listen"),
            (Some(9), "source[0].interval"),
            (Some(13), "output[0].token"),
        ] {
            assert!(keys.contains(&want), "{want:?} in {problems:?}");
        }
    }

    #[test]
    fn private_dir_is_resolved_and_must_lie_outside_the_public_folder() {
        let cfg = parse("[publish]\nprivate_dir = \"private\"\n").expect("valid");
        assert_eq!(
            cfg.publish.private_dir.as_deref(),
            Some(Path::new("/etc/feedfold/private"))
        );
        assert_eq!(parse("").expect("valid").publish.private_dir, None);
        for (dir, private) in [
            ("public", "public"),
            ("public", "public/./p"),
            ("out", "x/../out/p"),
        ] {
            let text = format!("[publish]\ndir = \"{dir}\"\nprivate_dir = \"{private}\"\n");
            let Err(ConfigError::Invalid { problems, .. }) = parse(&text) else {
                panic!("{text} must be refused");
            };
            let keys: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
            assert_eq!(keys, [(Some(3), "publish.private_dir")], "{problems:?}");
            assert!(problems[0].message.contains("served publicly"), "{problems:?}");
        }
        assert!(parse("[publish]\ndir = \"public\"\nprivate_dir = \"public-private\"\n").is_ok());
    }

    #[test]
    fn feed_authors_come_from_the_output_then_publish_then_the_title() {
        let outputs = "[[output]]\nname = \"a\"\ntitle = \"A feed\"\nauthor = \"Desk A\"\n\
                       [[output]]\nname = \"b\"\ntitle = \"B feed\"\n";
        let cfg = parse(&format!("[publish]\nauthor = \" The Desk \"\n{outputs}")).expect("valid");
        assert_eq!(cfg.publish.author.as_deref(), Some("The Desk"));
        let authors: Vec<_> = cfg.outputs.iter().map(|o| o.author.as_str()).collect();
        assert_eq!(authors, ["Desk A", "The Desk"]);
        let cfg = parse(outputs).expect("valid");
        let authors: Vec<_> = cfg.outputs.iter().map(|o| o.author.as_str()).collect();
        assert_eq!(authors, ["Desk A", "B feed"]);

        let text =
            "[publish]\nauthor = \"  \"\n[[output]]\nname = \"a\"\ntitle = \"A\"\nauthor = \"two\\nlines\"\n";
        let Err(ConfigError::Invalid { problems, .. }) = parse(text) else {
            panic!("expected invalid")
        };
        let keys: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
        assert_eq!(keys, [(Some(2), "publish.author"), (Some(6), "output[0].author")]);
    }

    #[test]
    fn fetch_limits_and_allow_private_are_read_and_checked() {
        let cfg = parse(
            "[fetch]\nmax_body = \"2MiB\"\nmax_items = 50\nallow_private = true\n\
             [[source]]\nname = \"a\"\nurl = \"http://e.example/a\"\nallow_private = false\n\
             [[source]]\nname = \"b\"\nurl = \"http://e.example/b\"\n",
        )
        .expect("valid");
        assert_eq!(cfg.fetch.max_items, 50);
        assert_eq!(
            cfg.fetch.max_compressed_body,
            2 << 20,
            "unset, the compressed cap follows max_body"
        );
        assert!(!cfg.allow_private_of(&cfg.sources[0]));
        assert!(cfg.allow_private_of(&cfg.sources[1]));
        let defaults = parse("[[source]]\nname = \"a\"\nurl = \"http://e.example/a\"\n").expect("valid");
        assert_eq!(defaults.fetch.max_items, 1000);
        assert_eq!(defaults.fetch.max_compressed_body, 10 << 20);
        assert!(!defaults.allow_private_of(&defaults.sources[0]));

        let text = "[fetch]\nmax_items = 0\nmax_compressed_body = \"lots\"\n";
        let Err(ConfigError::Invalid { problems, .. }) = parse(text) else {
            panic!("expected invalid")
        };
        let keys: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
        assert!(keys.contains(&(Some(2), "fetch.max_items")), "{problems:?}");
        assert!(
            keys.contains(&(Some(3), "fetch.max_compressed_body")),
            "{problems:?}"
        );
        for text in [
            "[fetch]\nallow_private = \"yes\"\n",
            "[[source]]\nname = \"a\"\nurl = \"a.xml\"\n\nallow_private = 1\n",
        ] {
            let Err(ConfigError::Invalid { problems, .. }) = parse(text) else {
                panic!("expected invalid: {text}")
            };
            let want = if text.starts_with("[fetch]") {
                (Some(2), "fetch.allow_private")
            } else {
                (Some(5), "source[0].allow_private")
            };
            assert_eq!((problems[0].line, problems[0].key.as_str()), want, "{problems:?}");
        }
    }

    #[test]
    fn a_pathological_keyword_query_is_a_config_error_at_once() {
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        let nested = format!("{}a{}", "(".repeat(40), ")".repeat(40));
        let wide = vec!["a OR (b c)"; 200].join(" ");
        for (query, message) in [
            (deep, "longer than 4096 characters"),
            (nested, "nested more than 32"),
            (wide, "too many terms"),
        ] {
            let text = format!(
                "[[source]]\nname = \"a\"\nurl = \"a.xml\"\n\n[[output]]\nname = \"o\"\ntitle = \"O\"\nkeywords = '{query}'\n"
            );
            let Err(ConfigError::Invalid { problems, .. }) = parse(&text) else {
                panic!("expected invalid")
            };
            assert_eq!(problems.len(), 1, "{problems:?}");
            let p = &problems[0];
            assert_eq!((p.line, p.key.as_str()), (Some(8), "output[0].keywords"));
            assert!(p.message.contains(message), "{}", p.message);
        }
    }

    #[test]
    fn a_lease_must_outlast_a_fetch_and_refresh_is_checked() {
        let text = "[fetch]\ntimeout = \"30s\"\nlease = \"20s\"\n[server]\nrefresh = \"10ms\"\n";
        let Err(ConfigError::Invalid { problems, .. }) = parse(text) else {
            panic!("expected invalid")
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            (problems[0].line, problems[0].key.as_str()),
            (Some(3), "fetch.lease")
        );
        assert!(
            problems[0].message.contains("longer than fetch.timeout (30s)"),
            "{problems:?}"
        );
        assert_eq!(
            (problems[1].line, problems[1].key.as_str()),
            (Some(5), "server.refresh")
        );
        let Err(ConfigError::Invalid { problems, .. }) = parse("[fetch]\nlease = 1\n") else {
            panic!("expected invalid")
        };
        assert!(problems[0].message.contains("at least 2s"), "{problems:?}");
        let cfg = parse("[fetch]\ntimeout = \"2s\"\nlease = \"3s\"\n").expect("valid");
        assert_eq!(cfg.fetch.lease, Duration::from_secs(3));
    }

    #[test]
    fn durations_sizes_offsets_parse() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_size("10MiB"), Some(10 << 20));
        assert_eq!(parse_size("100kB"), Some(100_000));
        assert_eq!(parse_offset("+08:00"), FixedOffset::east_opt(8 * 3600));
        assert_eq!(parse_offset("-05:30"), FixedOffset::east_opt(-(5 * 3600 + 1800)));
        assert_eq!(parse_offset("8"), None);
    }
}
