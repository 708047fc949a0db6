//! Per-source request settings: what goes with a source's requests besides its URL.
//!
//! In: a source's request keys as the config check read them ([`Keys`]: `headers`, `cookies`,
//! `user_agent`, `proxy`, and the secrets kept out of the config: `username` with
//! `password_env` / `password_file`, `headers_file`, files relative to the config's folder)
//! and the `[fetch]` defaults ([`Defaults`]: `headers`, `proxy`). Out: [`RequestOptions`],
//! read once when the config is loaded: the headers to send and the proxy to send them
//! through, or every problem, one per key and never showing a secret.
//!
//! The headers (basic auth, `[fetch] headers`, the headers file, `headers`, `cookies` as one
//! `Cookie` header, `user_agent`) go with each request of the source to its own origin (scheme,
//! host and port of its URL) and to no other host a redirect or a page's feed link leads to:
//! there the client's defaults (`[fetch] user_agent`) are all that is sent. They are never
//! shown: `Debug` prints their names only, the values are marked sensitive, and a proxy is
//! shown with its credentials masked.
//!
//! A `headers_file` holds one `Name: value` per line; blank lines and lines starting with `#`
//! are skipped. A password file's trailing line break is not part of the password.

use std::fmt;
use std::path::Path;

use reqwest::RequestBuilder;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use url::Url;

/// What a source sends with its requests, besides any `user:password@` in its URL, and the
/// proxy it sends them through.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    basic: Option<(String, String)>,
    headers: HeaderMap,
    proxy: Option<Proxy>,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("RequestOptions")
            .field(
                "basic",
                &self.basic.as_ref().map(|(user, _)| (user, crate::redact::MASK)),
            )
            .field("headers", &names)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// A proxy a source's requests go through: an `http://` or `https://` URL with a host and no
/// path, with the proxy's own `user:password@` when it asks for them. Shown with them masked.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Proxy(Url);

impl Proxy {
    /// A proxy at `url`, or what is wrong with it.
    pub fn new(url: Url) -> Result<Proxy, String> {
        let shown = crate::redact::url(&url).into_owned();
        match url.scheme() {
            "http" | "https" => {}
            socks if socks.starts_with("socks") => {
                return Err(format!(
                    "`{shown}`: SOCKS proxies are not supported: use an http:// or https:// proxy"
                ));
            }
            other => {
                return Err(format!(
                    "`{shown}`: unsupported proxy scheme `{other}`: use http:// or https://"
                ));
            }
        }
        if !url.has_host() || url.host_str() == Some("") {
            return Err(format!("`{shown}` names no host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{shown}`: a proxy URL is a scheme, host and port only, like \"http://proxy.example:3128\""
            ));
        }
        Ok(Proxy(url))
    }

    /// The proxy's URL, credentials and all: for the HTTP client, not for showing.
    pub fn url(&self) -> &Url {
        &self.0
    }
}

/// Shows the proxy's URL with its credentials masked.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::redact::Shown(&self.0))
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proxy({self})")
    }
}

/// A source's `proxy` key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ProxyKey {
    /// Not set: `[fetch] proxy`, if any.
    #[default]
    Unset,
    /// `proxy = false`: straight to the source, whatever `[fetch] proxy` says.
    Off,
    /// `proxy = "http://…"`.
    Via(Proxy),
}

/// The request keys of a `[[source]]`, as written (`headers`, `cookies` and `user_agent`
/// already checked with [`header`], [`cookie`] and [`user_agent`]). No `Debug`: it holds
/// cookie values.
#[derive(Clone, Default)]
pub struct Keys<'a> {
    /// `username`: for basic auth with a password from `password_env` or `password_file`
    /// (default: the URL's user name).
    pub username: Option<&'a str>,
    /// `password_env`: the environment variable holding the password.
    pub password_env: Option<&'a str>,
    /// `password_file`: the file holding the password.
    pub password_file: Option<&'a str>,
    /// `headers_file`: a file of `Name: value` lines.
    pub headers_file: Option<&'a str>,
    /// `headers`: sent over `[fetch] headers` and the headers file's of the same name.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `cookies`: sent as one `Cookie` header.
    pub cookies: Vec<(String, String)>,
    /// `user_agent`: sent instead of `[fetch] user_agent`.
    pub user_agent: Option<HeaderValue>,
    /// `proxy`.
    pub proxy: ProxyKey,
}

/// What `[fetch]` gives every http(s) source.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defaults<'a> {
    /// `[fetch] headers`.
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// `[fetch] proxy`.
    pub proxy: Option<&'a Proxy>,
}

/// A problem with one key: its name (`password_file` …) and what is wrong, never a secret.
pub type KeyError = (&'static str, String);

/// A header as configured (`headers`, `[fetch] headers`, a line of a headers file), or what is
/// wrong with it. Refused besides what is not HTTP: `Host` (it comes from the URL), the headers
/// that frame a message or a connection (`Content-Length`, `Transfer-Encoding`, `Connection`
/// …), `User-Agent` (the `user_agent` key sets it) and `Proxy-Authorization` (the proxy URL's
/// `user:password@` sets it). The message names the header, never its value.
pub fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let name = name.trim();
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid HTTP header name"))?;
    let refused = match parsed.as_str() {
        "host" => Some("feedfold sends the Host of the source's URL: a `Host` header is not allowed"),
        "content-length" | "transfer-encoding" | "connection" | "keep-alive" | "te" | "trailer"
        | "upgrade" | "proxy-connection" => Some("the HTTP client sets it: not allowed"),
        "user-agent" => Some("set it with the `user_agent` key"),
        "proxy-authorization" => {
            Some("give the proxy's user and password in its URL (\"http://user:password@proxy:3128\")")
        }
        _ => None,
    };
    if let Some(why) = refused {
        return Err(format!("`{name}`: {why}"));
    }
    let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
        format!(
            "the value of `{name}` is not a valid HTTP header value: use one line without control characters"
        )
    })?;
    value.set_sensitive(true);
    Ok((parsed, value))
}

/// A cookie as configured (`cookies`), or what is wrong with it (naming the cookie, never its
/// value): its name an HTTP token, its value cookie characters (RFC 6265: printable ASCII but
/// space, `"`, `,`, `;` and `\`), optionally in double quotes.
pub fn cookie(name: &str, value: &str) -> Result<(String, String), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("`{name}` is not a valid cookie name"));
    }
    let octet = |c: char| c.is_ascii_graphic() && !matches!(c, '"' | ',' | ';' | '\\');
    let bare = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if !bare.chars().all(octet) {
        return Err(format!(
            "the value of cookie `{name}` holds a character a cookie cannot carry (space, `\"`, `,`, `;`, `\\`, or not printable ASCII)"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// A `user_agent` as configured, or what is wrong with it.
pub fn user_agent(text: &str) -> Result<HeaderValue, String> {
    match HeaderValue::from_str(text.trim()) {
        Ok(value) if !text.trim().is_empty() => Ok(value),
        _ => Err("must be one non-empty line without control characters".to_string()),
    }
}

/// Sets `layer`'s headers in `headers`, each name's values replacing those it had.
fn overlay(headers: &mut HeaderMap, layer: impl IntoIterator<Item = (HeaderName, HeaderValue)>) {
    let mut set = HeaderMap::new();
    for (name, value) in layer {
        set.append(name, value);
    }
    for name in set.keys() {
        headers.remove(name);
    }
    for (name, value) in set {
        if let Some(name) = name {
            headers.append(name, value);
        }
    }
}

impl RequestOptions {
    /// Reads the settings `keys` name for an http(s) source whose URL is `url`, over
    /// `defaults`, with files relative to `base_dir`; every problem, one per key.
    pub fn load(
        keys: &Keys<'_>,
        url: &Url,
        base_dir: &Path,
        defaults: Defaults<'_>,
    ) -> Result<RequestOptions, Vec<KeyError>> {
        let mut errors = Vec::new();
        let mut options = RequestOptions {
            proxy: match &keys.proxy {
                ProxyKey::Unset => defaults.proxy.cloned(),
                ProxyKey::Off => None,
                ProxyKey::Via(proxy) => Some(proxy.clone()),
            },
            ..RequestOptions::default()
        };
        let password = match (keys.password_env, keys.password_file) {
            (Some(_), Some(_)) => {
                errors.push((
                    "password_file",
                    "set password_env or password_file, not both".to_string(),
                ));
                None
            }
            (Some(var), None) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Some(value),
                Ok(_) => {
                    errors.push((
                        "password_env",
                        format!("the environment variable `{var}` is empty"),
                    ));
                    None
                }
                Err(_) => {
                    errors.push((
                        "password_env",
                        format!("the environment variable `{var}` is not set"),
                    ));
                    None
                }
            },
            (None, Some(file)) => match std::fs::read_to_string(base_dir.join(file)) {
                Ok(text) => Some(text.trim_end_matches(['\r', '\n']).to_string()),
                Err(e) => {
                    errors.push(("password_file", format!("cannot read `{file}`: {e}")));
                    None
                }
            },
            (None, None) => None,
        };
        match (password, keys.username) {
            (Some(password), user) => {
                let user = user.map(str::to_string).unwrap_or_else(|| {
                    percent_encoding::percent_decode_str(url.username())
                        .decode_utf8_lossy()
                        .into_owned()
                });
                options.basic = Some((user, password));
            }
            (None, Some(_)) if keys.password_env.is_none() && keys.password_file.is_none() => errors.push((
                "username",
                "a username needs a password: set password_env or password_file".to_string(),
            )),
            (None, _) => {}
        }
        overlay(&mut options.headers, defaults.headers.iter().cloned());
        if let Some(file) = keys.headers_file {
            match std::fs::read_to_string(base_dir.join(file)) {
                Ok(text) => match parse_headers(&text) {
                    Ok(headers) => overlay(&mut options.headers, headers),
                    Err((line, why)) => errors.push(("headers_file", format!("`{file}` line {line}: {why}"))),
                },
                Err(e) => errors.push(("headers_file", format!("cannot read `{file}`: {e}"))),
            }
        }
        overlay(&mut options.headers, keys.headers.iter().cloned());
        if !keys.cookies.is_empty() {
            if options.headers.contains_key(header::COOKIE) {
                errors.push((
                    "cookies",
                    "a `Cookie` header is set too (headers, headers_file or [fetch] headers): set cookies in one place"
                        .to_string(),
                ));
            }
            let joined = keys
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ");
            if let Ok(mut value) = HeaderValue::from_str(&joined) {
                value.set_sensitive(true);
                options.headers.insert(header::COOKIE, value);
            }
        }
        if let Some(agent) = &keys.user_agent {
            options.headers.insert(header::USER_AGENT, agent.clone());
        }
        if options.basic.is_some() && options.headers.contains_key(header::AUTHORIZATION) {
            errors.push((
                if keys.password_env.is_some() {
                    "password_env"
                } else {
                    "password_file"
                },
                "an `Authorization` header is set too (headers, headers_file or [fetch] headers): \
                 set a password or that header, not both"
                    .to_string(),
            ));
        }
        if errors.is_empty() {
            Ok(options)
        } else {
            Err(errors)
        }
    }

    /// The proxy the source's requests go through, if any.
    pub fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref()
    }

    /// Adds the headers to a request for `hop` when it is on the origin of `own` (the source's
    /// URL), over those the request has; a request to any other origin goes without them.
    pub fn apply(&self, request: RequestBuilder, hop: &Url, own: &Url) -> RequestBuilder {
        if hop.origin() != own.origin() {
            return request;
        }
        let mut request = request.headers(self.headers.clone());
        if let Some((user, password)) = &self.basic {
            request = request.basic_auth(user, Some(password));
        }
        request
    }
}

/// The headers of a `headers_file`, or the number of the first line that is not a header
/// feedfold sends, and why.
fn parse_headers(text: &str) -> Result<Vec<(HeaderName, HeaderValue)>, (usize, String)> {
    let mut headers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or((n + 1, "not a `Name: value` header".to_string()))?;
        headers.push(header(name, value).map_err(|why| (n + 1, why))?);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn load(keys: &Keys<'_>, dir: &Path) -> Result<RequestOptions, Vec<KeyError>> {
        RequestOptions::load(
            keys,
            &url("https://alice@feeds.example/rss"),
            dir,
            Defaults::default(),
        )
    }

    #[test]
    fn passwords_and_headers_come_from_files_and_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pw"), "s3cret\n").expect("write");
        std::fs::write(
            dir.path().join("headers"),
            "# for the feed\nX-Api-Key: K-123\n\nCookie: session=abc\n",
        )
        .expect("write");
        let keys = Keys {
            password_file: Some("pw"),
            headers_file: Some("headers"),
            ..Keys::default()
        };
        let c = load(&keys, dir.path()).expect("loaded");
        assert_eq!(c.basic, Some(("alice".to_string(), "s3cret".to_string())));
        assert_eq!(c.headers.len(), 2);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("K-123") && !shown.contains("abc"),
            "{shown}"
        );

        // `password_env` is tried end to end, where the child process's environment is set
        // (`tests/it/secrets.rs`).
    }

    #[test]
    fn every_problem_is_named_by_its_key_without_the_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("bad"), "X-Ok: 1\nno colon here secretvalue\n").expect("write");
        std::fs::write(dir.path().join("host"), "Host: evil.example\n").expect("write");
        let keys = Keys {
            password_env: Some("FEEDFOLD_TEST_AUTH_UNSET"),
            headers_file: Some("bad"),
            ..Keys::default()
        };
        let errors = load(&keys, dir.path()).expect_err("two problems");
        assert_eq!(
            errors,
            [
                (
                    "password_env",
                    "the environment variable `FEEDFOLD_TEST_AUTH_UNSET` is not set".to_string()
                ),
                (
                    "headers_file",
                    "`bad` line 2: not a `Name: value` header".to_string()
                ),
            ]
        );
        let keys = Keys {
            password_file: Some("missing"),
            username: Some("u"),
            ..Keys::default()
        };
        let errors = load(&keys, dir.path()).expect_err("missing");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "password_file");
        let keys = Keys {
            username: Some("u"),
            ..Keys::default()
        };
        let errors = load(&keys, dir.path()).expect_err("no password");
        assert_eq!(errors[0].0, "username");
        let keys = Keys {
            headers_file: Some("host"),
            ..Keys::default()
        };
        let errors = load(&keys, dir.path()).expect_err("a Host header");
        assert_eq!(errors[0].0, "headers_file");
        assert!(errors[0].1.starts_with("`host` line 1: `Host`: "), "{errors:?}");
    }

    #[test]
    fn headers_are_checked_and_never_shown() {
        let (name, value) = header(" X-Api-Key ", " k3y ").expect("a header");
        assert_eq!((name.as_str(), value.to_str().ok()), ("x-api-key", Some("k3y")));
        assert!(value.is_sensitive());
        for (name, value, message) in [
            ("Bad Name", "v", "`Bad Name` is not a valid HTTP header name"),
            ("", "v", "`` is not a valid HTTP header name"),
            (
                "X-Key",
                "two\nlines",
                "the value of `X-Key` is not a valid HTTP header value",
            ),
            (
                "X-Key",
                "nul\0",
                "the value of `X-Key` is not a valid HTTP header value",
            ),
            (
                "Host",
                "evil.example",
                "`Host`: feedfold sends the Host of the source's URL",
            ),
            ("HOST", "evil.example", "`HOST`: feedfold sends the Host"),
            ("Content-Length", "5", "`Content-Length`: the HTTP client sets it"),
            (
                "User-Agent",
                "x",
                "`User-Agent`: set it with the `user_agent` key",
            ),
            (
                "Proxy-Authorization",
                "Basic x",
                "`Proxy-Authorization`: give the proxy's user",
            ),
        ] {
            let problem = header(name, value).expect_err(name);
            assert!(problem.starts_with(message), "{name}: {problem}");
            assert!(!problem.contains(value) || value == "v", "{problem}");
        }
        assert_eq!(
            cookie("session", "abc").expect("a cookie"),
            ("session".into(), "abc".into())
        );
        assert!(cookie("quoted", "\"a=b\"").is_ok());
        assert_eq!(
            cookie("bad name", "x").expect_err("a space"),
            "`bad name` is not a valid cookie name"
        );
        for value in ["a;b", "a b", "a,b", "中"] {
            let problem = cookie("s", value).expect_err(value);
            assert!(problem.starts_with("the value of cookie `s` holds"), "{problem}");
        }
        assert!(user_agent("Reader/1.0").is_ok());
        assert!(user_agent(" ").is_err());
        assert!(user_agent("a\nb").is_err());
    }

    #[test]
    fn layers_combine_defaults_file_headers_cookies_and_user_agent() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("headers"), "X-Desk: from-file\nX-Team: file\n").expect("write");
        let defaults = [
            header("X-Desk", "default").expect("header"),
            header("Accept-Language", "zh-CN").expect("header"),
        ];
        let keys = Keys {
            headers_file: Some("headers"),
            headers: vec![header("x-team", "inline").expect("header")],
            cookies: vec![
                cookie("a", "1").expect("cookie"),
                cookie("b", "2").expect("cookie"),
            ],
            user_agent: Some(user_agent("Reader/2").expect("agent")),
            ..Keys::default()
        };
        let feed = url("https://feeds.example/rss");
        let defaults = Defaults {
            headers: &defaults,
            proxy: None,
        };
        let c = RequestOptions::load(&keys, &feed, dir.path(), defaults).expect("loaded");
        let get = |name: &str| c.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(get("x-desk"), Some("from-file"), "the file over [fetch] headers");
        assert_eq!(get("x-team"), Some("inline"), "headers over the file");
        assert_eq!(get("accept-language"), Some("zh-CN"), "[fetch] headers");
        assert_eq!(get("cookie"), Some("a=1; b=2"), "cookies in one header");
        assert_eq!(get("user-agent"), Some("Reader/2"));
        assert_eq!(c.headers.len(), 5);

        let cookie_twice = Keys {
            headers: vec![header("Cookie", "c=3").expect("header")],
            cookies: vec![cookie("a", "1").expect("cookie")],
            ..Keys::default()
        };
        let errors = RequestOptions::load(&cookie_twice, &feed, dir.path(), Defaults::default())
            .expect_err("a Cookie header and cookies");
        assert_eq!(errors[0].0, "cookies");
    }

    #[test]
    fn the_proxy_is_the_sources_else_fetchs_and_false_turns_it_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let proxy = |s: &str| Proxy::new(url(s)).expect("proxy");
        let global = proxy("http://proxy.example:3128");
        let own = proxy("http://other.example:8080");
        let feed = url("https://feeds.example/rss");
        let defaults = Defaults {
            headers: &[],
            proxy: Some(&global),
        };
        let load = |proxy: ProxyKey| {
            let keys = Keys {
                proxy,
                ..Keys::default()
            };
            RequestOptions::load(&keys, &feed, dir.path(), defaults).expect("loaded")
        };
        assert_eq!(load(ProxyKey::Unset).proxy(), Some(&global));
        assert_eq!(load(ProxyKey::Off).proxy(), None);
        assert_eq!(load(ProxyKey::Via(own.clone())).proxy(), Some(&own));

        let secret = proxy("http://user:pr0xy-pw@proxy.example:3128");
        assert_eq!(secret.to_string(), "http://***@proxy.example:3128/");
        let shown = format!("{:?}", load(ProxyKey::Via(secret)));
        assert!(
            !shown.contains("pr0xy-pw") && shown.contains("***@proxy.example"),
            "{shown}"
        );
        for (text, problem) in [
            ("socks5://proxy.example:1080", "SOCKS proxies are not supported"),
            ("ftp://proxy.example", "unsupported proxy scheme `ftp`"),
            (
                "http://proxy.example:3128/path",
                "a proxy URL is a scheme, host and port only",
            ),
            (
                "http://proxy.example:3128/?a=b",
                "a proxy URL is a scheme, host and port only",
            ),
        ] {
            let refused = Proxy::new(url(text)).expect_err(text);
            assert!(refused.contains(problem), "{text}: {refused}");
        }
    }

    #[test]
    fn sent_only_to_the_sources_own_origin() {
        let c = RequestOptions {
            basic: Some(("u".into(), "p".into())),
            headers: [
                header("x-api-key", "k").expect("header"),
                header("cookie", "a=1").expect("header"),
                (header::USER_AGENT, user_agent("Reader/2").expect("agent")),
            ]
            .into_iter()
            .collect(),
            proxy: None,
        };
        crate::install_tls_provider();
        let client = reqwest::Client::new();
        let own = url("https://feeds.example/rss");
        let built = |hop: &str| {
            c.apply(client.get(hop), &url(hop), &own)
                .build()
                .expect("request")
        };
        let same = built("https://feeds.example/moved");
        assert!(same.headers().contains_key("authorization"));
        assert_eq!(same.headers()["x-api-key"], "k");
        assert_eq!(same.headers()["cookie"], "a=1");
        assert_eq!(same.headers()["user-agent"], "Reader/2");
        for other in [
            "https://cdn.example/rss",
            "http://feeds.example/rss",
            "https://feeds.example:8443/rss",
        ] {
            let request = built(other);
            for name in ["authorization", "x-api-key", "cookie", "user-agent"] {
                assert!(!request.headers().contains_key(name), "{other}: {name}");
            }
        }
    }
}
