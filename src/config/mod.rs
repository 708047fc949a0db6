//! Configuration: a TOML file read into a validated [`Config`].
//!
//! In: the text of a config file and its path. Out: a [`Config`] whose paths are absolute, URLs
//! parsed and durations and sizes converted, or a [`ConfigError`] that lists **every** problem
//! found (file, line, key path, message) so an operator can fix them all in one pass. Unknown
//! keys are errors. Nothing runs until the whole file is valid.
//!
//! [`Config::parse`] checks the syntax, has `raw` read the document into its sections as
//! written (key by key, so one bad key hides nothing else), then has `check` check each section
//! in turn (one function per section), all reporting into one collector, and assembles the
//! result. Unknown keys, sections and values come with the allowed one most like them
//! (`suggest`); what is valid but likely a mistake is a warning ([`Config::warnings`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::FixedOffset;
use toml::de::DeTable;
use url::Url;

use crate::output::query::Query;
use crate::source::page::{ListRules, Rules};
use crate::source::request::{Proxy, RequestOptions};
use crate::transform::fold::FoldConfig;
use crate::transform::region::Gazetteer;

mod check;
pub mod edit;
mod raw;
mod suggest;

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
    /// What is allowed but likely not meant, each with its consequence (`no [[output]]: …`);
    /// `feedfold check` prints them.
    pub warnings: Vec<String>,
}

/// Where items are stored.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A database URL for sqlx: `sqlite://…` (relative paths already resolved against the config
    /// file's folder) or `postgres://…`.
    pub url: String,
    /// How long an item is kept after it was first stored, for outputs that set no `keep` of
    /// their own (`[store] keep`); None: forever. See [`crate::pipeline::prune`].
    pub keep: Option<Duration>,
}

impl StoreConfig {
    /// The database file of a SQLite store (absolute), to tell whether it exists yet; None for
    /// PostgreSQL and an in-memory database.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let rest = self.url.strip_prefix("sqlite:")?;
        if rest.starts_with(":memory:") {
            return None;
        }
        let rest = rest.trim_start_matches("//");
        let path = rest.split_once('?').map_or(rest, |(path, _)| path);
        Some(PathBuf::from(path))
    }
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
    /// `User-Agent` header sent with every request (a source's `user_agent` replaces it on
    /// that source's own origin).
    pub user_agent: String,
    /// Headers every http(s) source sends to its own origin (its `headers` override them).
    pub headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// The proxy every http(s) source's requests go through, unless the source names its own
    /// or sets `proxy = false`.
    pub proxy: Option<Proxy>,
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
    /// Article pages fetched at once for full text, in all (each host's pages also count
    /// against `per_host`).
    pub full_text_concurrency: usize,
    /// With `full_text = "auto"`, an item whose text is shorter than this many characters gets
    /// its page's article.
    pub full_text_min_chars: usize,
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
    /// The location as the store and the scheduler know it, to tell whether the config changed
    /// it: the URL without its userinfo (no password is kept), or the path. Not for showing
    /// (its query may hold secrets; `Display` masks them).
    pub fn key(&self) -> String {
        match self {
            Location::Http(url) => crate::redact::without_userinfo(url).to_string(),
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
    /// What goes with its requests (headers, cookies, user agent, basic auth; `[fetch] headers`
    /// included), sent only to the source's own origin, and the proxy they go through (`[fetch]
    /// proxy` unless the source says otherwise).
    pub request: RequestOptions,
    /// A feed, or a list page whose links are its items.
    pub kind: SourceKind,
    /// When its items' pages are fetched for their article.
    pub full_text: FullText,
    /// How its article pages are read (`content_selector`, `remove_selectors`).
    pub page_rules: Rules,
}

/// What a source's URL gives.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// A feed (RSS, Atom, JSON Feed), or an HTML page linking to one.
    Feed,
    /// A list page: one item per element `item_selector` matches (`kind = "page"`).
    Page(Box<ListRules>),
}

/// When an item's page is fetched for its article (`full_text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullText {
    /// For every new item.
    Always,
    /// For a new item whose text is shorter than `[fetch] full_text_min_chars`.
    Auto,
    /// Never: the feed's text is all there is.
    Never,
}

impl FullText {
    /// The values `full_text` takes, as written in a config.
    const VALUES: [(&str, FullText); 3] = [
        ("always", FullText::Always),
        ("auto", FullText::Auto),
        ("never", FullText::Never),
    ];

    /// Reads `full_text` as written; an unknown value's problem offers the one most like it.
    fn parse(text: &str) -> Result<FullText, String> {
        one_of(text, &FullText::VALUES)
    }
}

/// The value of `values` written `text`; an unknown one's problem offers the one most like it.
fn one_of<T: Copy>(text: &str, values: &[(&str, T)]) -> Result<T, String> {
    match values.iter().find(|(name, _)| *name == text) {
        Some(&(_, value)) => Ok(value),
        None => {
            let names: Vec<&str> = values.iter().map(|(name, _)| *name).collect();
            Err(format!("unknown value `{text}`{}", suggest::hint(text, &names)))
        }
    }
}

/// How an output folds duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// One entry per story (the default).
    Story,
    /// One entry per exact duplicate group (same canonical URL or permalink GUID).
    Exact,
    /// Every stored item is its own entry.
    Off,
}

impl Dedup {
    /// The values `dedup` takes, as written in a config.
    const VALUES: [(&str, Dedup); 3] = [
        ("story", Dedup::Story),
        ("exact", Dedup::Exact),
        ("off", Dedup::Off),
    ];

    /// Reads `dedup` as written; an unknown value's problem offers the one most like it.
    fn parse(text: &str) -> Result<Dedup, String> {
        one_of(text, &Dedup::VALUES)
    }
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
    /// How long the items of its sources are kept for it, instead of `[store] keep` (None:
    /// `[store] keep` decides). See [`crate::pipeline::prune`].
    pub keep: Option<Duration>,
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

/// The shortest `keep` accepted (`[store] keep`, `[[output]] keep`): one day.
pub const MIN_KEEP: Duration = Duration::from_secs(24 * 3600);

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
        let mut c = raw::Collector::new(text);
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

        let raw = raw::read(&mut c, doc.get_ref());
        let store = check::store(&mut c, &raw.store, &base_dir);
        let fetch = check::fetch(&mut c, &raw.fetch);
        let server = check::server(&mut c, &raw.server);
        let publish = check::publish(&mut c, &raw.publish, &base_dir);
        let fold = check::fold(&mut c, &raw.fold);
        let mut warnings = Vec::new();
        let (sources, source_names) = check::sources(&mut c, &raw.sources, &base_dir, &fetch, &mut warnings);
        let outputs = check::outputs(&mut c, &raw.outputs, &source_names, publish.author.as_deref());
        if raw.outputs.is_empty() {
            warnings.push("no [[output]]: fetch stores items but writes no feed files".to_string());
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
            store,
            fetch,
            publish,
            fold,
            server,
            sources,
            outputs,
            warnings,
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
        assert_eq!(
            cfg.store.sqlite_file().as_deref(),
            Some(Path::new("/etc/feedfold/feedfold.db"))
        );
        let pg = parse("[store]\nurl = \"postgres://u@db.example/feeds\"\n").expect("valid");
        assert_eq!(pg.store.sqlite_file(), None);
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

    /// The problems of a config that must not load.
    fn problems(text: &str) -> Vec<Problem> {
        match parse(text) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected problems, got {other:?}\n{text}"),
        }
    }

    /// The problem reported under `key`.
    fn problem<'a>(problems: &'a [Problem], key: &str) -> &'a Problem {
        problems
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("no problem for `{key}` in {problems:#?}"))
    }

    #[test]
    fn one_bad_key_hides_no_other_problem_of_its_table() {
        let problems = problems(
            "[fetch]\nconcurrency = \"many\"\nmax_items = 0\ntimeout = \"soon\"\n\
             [[source]]\nname = \"a\"\nurl = \"a.xml\"\ntimezone = 8\ninterval = \"1s\"\n\
             [[output]]\nname = \"all\"\ntitle = \"All\"\ndedup = \"fuzzy\"\nlimit = 0\n\
             regions = [\"陕西\", 3]\ncolour = \"red\"\n",
        );
        let keys: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
        assert_eq!(
            keys,
            [
                (Some(2), "fetch.concurrency"),
                (Some(3), "fetch.max_items"),
                (Some(4), "fetch.timeout"),
                (Some(8), "source[0].timezone"),
                (Some(9), "source[0].interval"),
                (Some(13), "output[0].dedup"),
                (Some(14), "output[0].limit"),
                (Some(15), "output[0].regions"),
                (Some(16), "output[0].colour"),
            ],
            "{problems:#?}"
        );
        assert_eq!(
            problem(&problems, "output[0].dedup").message,
            "unknown value `fuzzy`, expected one of `story`, `exact`, `off`"
        );
    }

    #[test]
    fn mistyped_schemes_are_errors_offering_the_url_meant() {
        for (url, meant) in [
            ("htp:/host/feed.xml", "http://host/feed.xml"),
            ("http//host/feed.xml", "http://host/feed.xml"),
            ("https:/host", "https://host"),
            ("http:host/feed.xml", "http://host/feed.xml"),
            ("htps//host/feed.xml", "https://host/feed.xml"),
            ("http/host/feed.xml", "http://host/feed.xml"),
            ("htps://host/feed.xml", "https://host/feed.xml"),
            ("HTTP:/host/feed.xml", "http://host/feed.xml"),
            ("www.example.org/feed.xml", "https://www.example.org/feed.xml"),
            ("file:/srv/feed.xml", "file:///srv/feed.xml"),
            ("htp:/alice:s3cret@host/feed.xml", "http://***@host/feed.xml"),
        ] {
            let text = format!("[[source]]\nname = \"xian\"\nurl = \"{url}\"\n");
            let problems = problems(&text);
            assert_eq!(problems.len(), 1, "{url}: {problems:#?}");
            let p = &problems[0];
            assert_eq!((p.line, p.key.as_str()), (Some(3), "source[0].url"), "{url}");
            assert!(p.message.starts_with("source `xian`: "), "{url}: {}", p.message);
            assert!(
                p.message.ends_with(&format!("did you mean `{meant}`?")),
                "{url}: {}",
                p.message
            );
            assert!(!p.message.contains("s3cret"), "{}", p.message);
        }
        for url in ["ftp:/host/feed.xml", "gopher://host/feed"] {
            let text = format!("[[source]]\nname = \"xian\"\nurl = \"{url}\"\n");
            let message = &problems(&text)[0].message;
            assert!(
                message.contains("unsupported scheme") && message.contains("use http, https, file or a path"),
                "{url}: {message}"
            );
        }
        // Paths stay paths.
        for path in [
            "feeds/a.xml",
            "http-feeds/a.xml",
            "./http/a.xml",
            "www/a.xml",
            "/srv/a.xml",
        ] {
            let text = format!("[[source]]\nname = \"a\"\nurl = \"{path}\"\n");
            let cfg = parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(matches!(cfg.sources[0].location, Location::File(_)), "{path}");
        }
    }

    #[test]
    fn unknown_keys_sections_and_values_offer_the_one_most_like_them() {
        let problems = problems(
            "[fecth]\ntimeout = \"5s\"\n\n[[sources]]\nname = \"a\"\n\n\
             [[source]]\nname = \"a\"\nurl = \"a.xml\"\nregions = \"陕西\"\ncolour = \"red\"\nuser-agent = \"x\"\n\n\
             [[output]]\nname = \"all\"\ntitle = \"All\"\nregion = [\"陕西\"]\ndedup = \"exat\"\ncolour = \"red\"\n",
        );
        for (key, line, message) in [
            ("fecth", 1, "unknown section `fecth`: did you mean `fetch`?"),
            ("sources", 4, "unknown section `sources`: did you mean `source`?"),
            (
                "source[0].regions",
                10,
                "unknown field `regions`: did you mean `region`?",
            ),
            (
                "source[0].colour",
                11,
                "unknown field `colour`, expected one of `name`, `url`, `timezone`, `region`, \
                 `interval`, `allow_private`, `username`, `password_env`, `password_file`, `headers_file`, \
                 `headers`, `cookies`, `user_agent`, `proxy`, `kind`, `full_text`, `content_selector`, \
                 `remove_selectors`, `item_selector`, `title_selector`, `link_selector`, `date_selector`",
            ),
            (
                "source[0].user-agent",
                12,
                "unknown field `user-agent`: did you mean `user_agent`?",
            ),
            (
                "output[0].region",
                17,
                "unknown field `region`: did you mean `regions`?",
            ),
            (
                "output[0].dedup",
                18,
                "unknown value `exat`: did you mean `exact`?",
            ),
        ] {
            let p = problem(&problems, key);
            assert_eq!((p.line, p.message.as_str()), (Some(line), message), "{key}");
        }
        assert!(
            problem(&problems, "output[0].colour")
                .message
                .starts_with("unknown field `colour`, expected one of `name`, `title`"),
            "{problems:#?}"
        );
    }

    #[test]
    fn missing_names_urls_and_titles_are_reported_with_the_tables_position() {
        let problems = problems(
            "[[source]]\nname = \"a\"\nurl = \"a.xml\"\n\n\
             [[source]]\nname = \"b\"\n\n\
             [[source]]\nurl = \"c.xml\"\ntimezone = \"soon\"\n\n\
             [[output]]\nname = \"all\"\n\n\
             [[output]]\ntitle = \"Other\"\nsources = [\"nope\"]\n",
        );
        let found: Vec<_> = problems
            .iter()
            .map(|p| (p.line, p.key.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some(5),
                    "source[1].url",
                    "[[source]] #2 has no `url`: it is required"
                ),
                (
                    Some(8),
                    "source[2].name",
                    "[[source]] #3 has no `name`: it is required"
                ),
                (
                    Some(10),
                    "source[2].timezone",
                    "`soon` is not a UTC offset like \"+08:00\""
                ),
                (
                    Some(12),
                    "output[0].title",
                    "[[output]] #1 has no `title`: it is required"
                ),
                (
                    Some(15),
                    "output[1].name",
                    "[[output]] #2 has no `name`: it is required"
                ),
                (Some(17), "output[1].sources[0]", "no source is named `nope`"),
            ],
            "{problems:#?}"
        );
    }

    #[test]
    fn a_config_without_outputs_warns_what_that_means() {
        let cfg = parse("[[source]]\nname = \"a\"\nurl = \"a.xml\"\n").expect("valid");
        assert_eq!(
            cfg.warnings,
            ["no [[output]]: fetch stores items but writes no feed files"]
        );
        let cfg =
            parse("[[source]]\nname = \"a\"\nurl = \"a.xml\"\n[[output]]\nname = \"o\"\ntitle = \"O\"\n")
                .expect("valid");
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn request_settings_are_read_with_fetch_defaults() {
        let cfg = parse(
            "[fetch]\nproxy = \"http://proxy.example:3128\"\nheaders = { \"Accept-Language\" = \"zh-CN\" }\n\
             [[source]]\nname = \"a\"\nurl = \"https://a.example/rss\"\n\
             headers = { \"X-Api-Key\" = \"k\" }\ncookies = { session = \"abc\" }\nuser_agent = \"Reader/2\"\n\
             [[source]]\nname = \"b\"\nurl = \"https://b.example/rss\"\nproxy = false\n\
             [[source]]\nname = \"c\"\nurl = \"https://c.example/rss\"\nproxy = \"https://user:pw@other.example:8443\"\n\
             [[source]]\nname = \"d\"\nurl = \"d.xml\"\n",
        )
        .expect("valid");
        let proxies: Vec<_> = cfg
            .sources
            .iter()
            .map(|s| s.request.proxy().map(ToString::to_string))
            .collect();
        assert_eq!(
            proxies,
            [
                Some("http://proxy.example:3128/".to_string()),
                None,
                Some("https://***@other.example:8443/".to_string()),
                None
            ]
        );
        let shown = format!("{:?}", cfg.sources[0].request);
        assert!(
            shown.contains("\"accept-language\", \"x-api-key\", \"cookie\", \"user-agent\""),
            "{shown}"
        );
        assert!(!shown.contains("abc") && !shown.contains("Reader/2"), "{shown}");
        assert_eq!(cfg.fetch.headers.len(), 1);
    }

    #[test]
    fn bad_headers_cookies_and_proxies_are_named_by_key_and_line() {
        let problems = problems(
            "[fetch]\nproxy = \"socks5://proxy.example:1080\"\n\
             [fetch.headers]\n\"Bad Name\" = \"x\"\nHost = \"evil.example\"\n\
             [[source]]\nname = \"a\"\nurl = \"https://a.example/rss\"\nproxy = true\nuser_agent = \"two\\nlines\"\n\
             [source.headers]\n\"X-Key\" = \"line\\nbreak\"\nhost = \"a.example\"\n\"User-Agent\" = \"x\"\n\
             [source.cookies]\n\"bad name\" = \"1\"\nok = \"a;b\"\n\
             [[source]]\nname = \"b\"\nurl = \"https://b.example/rss\"\nproxy = \"htp://proxy.example:3128\"\n\
             [[source]]\nname = \"c\"\nurl = \"c.xml\"\nheaders = { \"X-Key\" = \"k\" }\nproxy = false\n",
        );
        let found: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
        assert_eq!(
            found,
            [
                (Some(2), "fetch.proxy"),
                (Some(4), "fetch.headers.Bad Name"),
                (Some(5), "fetch.headers.Host"),
                (Some(9), "source[0].proxy"),
                (Some(10), "source[0].user_agent"),
                (Some(12), "source[0].headers.X-Key"),
                (Some(13), "source[0].headers.host"),
                (Some(14), "source[0].headers.User-Agent"),
                (Some(16), "source[0].cookies.bad name"),
                (Some(17), "source[0].cookies.ok"),
                (Some(21), "source[1].proxy"),
                (Some(24), "source[2].url"),
            ],
            "{problems:#?}"
        );
        for (key, message) in [
            ("fetch.proxy", "SOCKS proxies are not supported"),
            (
                "fetch.headers.Bad Name",
                "`Bad Name` is not a valid HTTP header name",
            ),
            ("fetch.headers.Host", "a `Host` header is not allowed"),
            ("source[0].proxy", "`true` names no proxy"),
            ("source[0].headers.X-Key", "not a valid HTTP header value"),
            (
                "source[1].proxy",
                "unsupported proxy scheme `htp`: did you mean `http`?",
            ),
            (
                "source[2].url",
                "`headers`, `proxy` need an http(s) URL: this source is a file",
            ),
        ] {
            assert!(
                problem(&problems, key).message.contains(message),
                "{key}: {problems:#?}"
            );
        }
    }

    #[test]
    fn keep_is_read_per_store_and_per_output_and_checked() {
        let cfg = parse(
            "[store]\nkeep = \"30d\"\n[[source]]\nname = \"a\"\nurl = \"a.xml\"\n\
             [[output]]\nname = \"long\"\ntitle = \"L\"\nkeep = \"90d\"\n\
             [[output]]\nname = \"plain\"\ntitle = \"P\"\n",
        )
        .expect("valid");
        assert_eq!(cfg.store.keep, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(cfg.outputs[0].keep, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(cfg.outputs[1].keep, None, "[store] keep applies to it");
        assert_eq!(
            parse("").expect("valid").store.keep,
            None,
            "default: keep everything"
        );

        let text = "[store]\nkeep = \"1h\"\n[[output]]\nname = \"o\"\ntitle = \"O\"\nkeep = \"soon\"\n";
        let Err(ConfigError::Invalid { problems, .. }) = parse(text) else {
            panic!("expected invalid")
        };
        let keys: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
        assert_eq!(keys, [(Some(2), "store.keep"), (Some(6), "output[0].keep")]);
        assert!(problems[0].message.contains("at least 1d"), "{problems:?}");
    }

    #[test]
    fn full_text_keys_are_read_with_their_defaults() {
        let cfg = parse(
            "[fetch]\nfull_text_concurrency = 2\nfull_text_min_chars = 300\n\
             [[source]]\nname = \"feed\"\nurl = \"https://a.example/rss\"\n\
             [[source]]\nname = \"summaries\"\nurl = \"https://b.example/rss\"\nfull_text = \"auto\"\n\
             content_selector = \"div.article\"\nremove_selectors = [\".share\", \"aside\"]\n\
             [[source]]\nname = \"list\"\nurl = \"https://c.example/news/\"\nkind = \"page\"\n\
             item_selector = \"ul.news > li\"\ndate_selector = \"span.date\"\n\
             [[output]]\nname = \"o\"\ntitle = \"O\"\n",
        )
        .expect("valid");
        assert_eq!(
            (cfg.fetch.full_text_concurrency, cfg.fetch.full_text_min_chars),
            (2, 300)
        );
        let [feed, summaries, list] = &cfg.sources[..] else {
            panic!("three sources")
        };
        assert_eq!(feed.full_text, FullText::Never);
        assert!(matches!(feed.kind, SourceKind::Feed));
        assert_eq!(summaries.full_text, FullText::Auto);
        assert_eq!(
            summaries.page_rules.content.as_ref().map(|s| s.as_str()),
            Some("div.article")
        );
        assert_eq!(summaries.page_rules.remove.len(), 2);
        assert_eq!(
            list.full_text,
            FullText::Always,
            "a list page fetches its items' pages"
        );
        let SourceKind::Page(rules) = &list.kind else {
            panic!("a list page")
        };
        assert_eq!(rules.item.as_str(), "ul.news > li");
        assert!(rules.title.is_none() && rules.date.is_some());
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        let defaults = parse("").expect("valid");
        assert_eq!(
            (
                defaults.fetch.full_text_concurrency,
                defaults.fetch.full_text_min_chars
            ),
            (4, 500)
        );
    }

    #[test]
    fn bad_full_text_keys_and_selectors_are_named_by_key_and_line() {
        let problems = problems(
            "[fetch]\nfull_text_concurrency = 0\n\
             [[source]]\nname = \"a\"\nurl = \"https://a.example/rss\"\nfull_text = \"alway\"\n\
             content_selector = \"div[\"\nremove_selectors = [\"p\", \"..x\"]\nitem_selector = \"li\"\n\
             [[source]]\nname = \"b\"\nurl = \"https://b.example/\"\nkind = \"pages\"\n\
             [[source]]\nname = \"c\"\nurl = \"c.html\"\nkind = \"page\"\n\
             [[source]]\nname = \"d\"\nurl = \"https://d.example/\"\nkind = \"page\"\nitem_selector = \"li >\"\n",
        );
        let found: Vec<_> = problems.iter().map(|p| (p.line, p.key.as_str())).collect();
        assert_eq!(
            found,
            [
                (Some(2), "fetch.full_text_concurrency"),
                (Some(6), "source[0].full_text"),
                (Some(7), "source[0].content_selector"),
                (Some(8), "source[0].remove_selectors[1]"),
                (Some(9), "source[0].item_selector"),
                (Some(13), "source[1].kind"),
                (Some(14), "source[2].item_selector"),
                (Some(16), "source[2].url"),
                (Some(22), "source[3].item_selector"),
            ],
            "{problems:#?}"
        );
        for (key, message) in [
            (
                "source[0].full_text",
                "unknown value `alway`: did you mean `always`?",
            ),
            ("source[0].content_selector", "`div[` is not a valid CSS selector"),
            ("source[0].item_selector", "it needs kind = \"page\""),
            ("source[1].kind", "did you mean `page`?"),
            ("source[2].url", "needs an http(s) URL"),
            (
                "source[2].item_selector",
                "[[source]] #3 has kind = \"page\" but no `item_selector`",
            ),
        ] {
            assert!(
                problem(&problems, key).message.contains(message),
                "{key}: {problems:#?}"
            );
        }
        let cfg = parse(
            "[[source]]\nname = \"a\"\nurl = \"https://a.example/rss\"\ncontent_selector = \"div\"\n\
             [[output]]\nname = \"o\"\ntitle = \"O\"\n",
        )
        .expect("valid");
        assert_eq!(
            cfg.warnings,
            ["source[0]: content_selector and remove_selectors have no effect with full_text = \"never\""]
        );
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
