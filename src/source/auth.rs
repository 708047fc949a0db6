//! Per-source credentials kept out of the config file.
//!
//! In: a source's `username`, `password_env` / `password_file` and `headers_file` keys (files
//! relative to the config's folder). Out: [`Credentials`], read once when the config is loaded,
//! sent with each request of that source to its own origin (scheme, host and port of its URL)
//! and to no other host a redirect leads to, and never shown: their `Debug` prints no value,
//! and the headers are marked sensitive.
//!
//! A `headers_file` holds one `Name: value` per line; blank lines and lines starting with `#`
//! are skipped. A password file's trailing line break is not part of the password.

use std::fmt;
use std::path::Path;

use reqwest::RequestBuilder;
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

/// What a source sends to prove who it is, besides any `user:password@` in its URL.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    basic: Option<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Credentials")
            .field(
                "basic",
                &self.basic.as_ref().map(|(user, _)| (user, crate::redact::MASK)),
            )
            .field("headers", &names)
            .finish()
    }
}

/// The keys of a `[[source]]` that name credentials, as written.
#[derive(Debug, Clone, Default)]
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
}

/// A problem with one key: its name (`password_file` …) and what is wrong, never a secret.
pub type KeyError = (&'static str, String);

impl Credentials {
    /// Reads the credentials `keys` name, for a source whose URL is `url` (`None` for a file),
    /// with files relative to `base_dir`; every problem, one per key.
    pub fn load(keys: &Keys<'_>, url: Option<&Url>, base_dir: &Path) -> Result<Credentials, Vec<KeyError>> {
        let mut errors = Vec::new();
        let mut credentials = Credentials::default();
        let named = keys.username.is_some()
            || keys.password_env.is_some()
            || keys.password_file.is_some()
            || keys.headers_file.is_some();
        if named && url.is_none() {
            errors.push((
                "url",
                "credentials (username, password_env, password_file, headers_file) need an http(s) URL"
                    .to_string(),
            ));
            return Err(errors);
        }
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
                    url.map(|u| {
                        percent_encoding::percent_decode_str(u.username())
                            .decode_utf8_lossy()
                            .into_owned()
                    })
                    .unwrap_or_default()
                });
                credentials.basic = Some((user, password));
            }
            (None, Some(_)) => errors.push((
                "username",
                "a username needs a password: set password_env or password_file".to_string(),
            )),
            (None, None) => {}
        }
        if let Some(file) = keys.headers_file {
            match std::fs::read_to_string(base_dir.join(file)) {
                Ok(text) => match parse_headers(&text) {
                    Ok(headers) => credentials.headers = headers,
                    Err(line) => errors.push((
                        "headers_file",
                        format!("`{file}` line {line}: not a `Name: value` header"),
                    )),
                },
                Err(e) => errors.push(("headers_file", format!("cannot read `{file}`: {e}"))),
            }
        }
        if errors.is_empty() {
            Ok(credentials)
        } else {
            Err(errors)
        }
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.basic.is_none() && self.headers.is_empty()
    }

    /// Adds the credentials to a request for `hop` when it is on the origin of `own` (the
    /// source's URL); a request to any other origin goes without them.
    pub fn apply(&self, request: RequestBuilder, hop: &Url, own: &Url) -> RequestBuilder {
        if self.is_empty() || hop.origin() != own.origin() {
            return request;
        }
        let mut request = request;
        if let Some((user, password)) = &self.basic {
            request = request.basic_auth(user, Some(password));
        }
        for (name, value) in &self.headers {
            request = request.header(name, value.clone());
        }
        request
    }
}

/// The headers of a `headers_file`, or the number of the first line that is not one.
fn parse_headers(text: &str) -> Result<Vec<(HeaderName, HeaderValue)>, usize> {
    let mut headers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(n + 1)?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| n + 1)?;
        let mut value = HeaderValue::from_str(value.trim()).map_err(|_| n + 1)?;
        value.set_sensitive(true);
        headers.push((name, value));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
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
        let feed = url("https://alice@feeds.example/rss");
        let keys = Keys {
            password_file: Some("pw"),
            headers_file: Some("headers"),
            ..Keys::default()
        };
        let c = Credentials::load(&keys, Some(&feed), dir.path()).expect("loaded");
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
        let feed = url("https://feeds.example/rss");
        let keys = Keys {
            password_env: Some("FEEDFOLD_TEST_AUTH_UNSET"),
            headers_file: Some("bad"),
            ..Keys::default()
        };
        let errors = Credentials::load(&keys, Some(&feed), dir.path()).expect_err("two problems");
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
        let errors = Credentials::load(&keys, Some(&feed), dir.path()).expect_err("missing");
        assert_eq!(errors[0].0, "password_file");
        let keys = Keys {
            username: Some("u"),
            ..Keys::default()
        };
        let errors = Credentials::load(&keys, Some(&feed), dir.path()).expect_err("no password");
        assert_eq!(errors[0].0, "username");
        let errors = Credentials::load(&keys, None, dir.path()).expect_err("a file source");
        assert_eq!(errors[0].0, "url");
    }

    #[test]
    fn sent_only_to_the_sources_own_origin() {
        let c = Credentials {
            basic: Some(("u".into(), "p".into())),
            headers: vec![(
                HeaderName::from_static("x-api-key"),
                HeaderValue::from_static("k"),
            )],
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
        for other in [
            "https://cdn.example/rss",
            "http://feeds.example/rss",
            "https://feeds.example:8443/rss",
        ] {
            let request = built(other);
            assert!(!request.headers().contains_key("authorization"), "{other}");
            assert!(!request.headers().contains_key("x-api-key"), "{other}");
        }
    }
}
