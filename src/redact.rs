//! Secrets out of what feedfold shows.
//!
//! In: a URL, or text that may be one. Out: the same URL for showing, with its userinfo
//! (`user:password@`) and the value of every credential-like query parameter (`apikey`,
//! `token`, `access_token`, `password`, `sig` …) replaced by `***`.
//!
//! Everything that shows a source or a URL it led to goes through here: fetch errors and
//! logs, the daemon's index page, `/opml`, `feedfold sources import`'s report, `explain`,
//! `export` and the store's connection errors. What is fetched, and what is written back into a
//! config, keep the URL as it is.

use std::borrow::Cow;
use std::fmt;

use url::Url;

/// What stands in for a secret.
pub const MASK: &str = "***";

/// Whether a query parameter's name says its value is a credential: an exact name such as
/// `auth`, `sig`, `pwd`, `sid`, `code`, or one ending in `key`, `token`, `secret`, `password`,
/// `passwd`, `signature`, `session`, `sessionid`, `sessid` or `credential(s)`, compared without case, `-` or `_`
/// (`api_key`, `X-Api-Key`, `access_token`, `client_secret`, `passkey` …).
pub fn is_secret_param(name: &str) -> bool {
    let name: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    const EXACT: [&str; 10] = [
        "auth",
        "sig",
        "pwd",
        "pass",
        "sid",
        "code",
        "hash",
        "jwt",
        "otp",
        "authorization",
    ];
    const ENDINGS: [&str; 11] = [
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "signature",
        "session",
        "sessionid",
        "sessid",
        "credential",
        "credentials",
    ];
    EXACT.contains(&name.as_str()) || ENDINGS.iter().any(|e| name.ends_with(e))
}

/// A URL for showing: userinfo and credential-like query values masked. A URL without either is
/// returned as the URL serialises.
pub fn url(url: &Url) -> Cow<'_, str> {
    mask(url, false)
}

/// A database URL for messages: its password and credential-like query values (`password`,
/// `sslpassword` …) masked, the user name kept (it says which role was refused). Text that does
/// not parse as a URL loses everything between the scheme and its last `@`.
pub fn database_url(text: &str) -> String {
    match Url::parse(text) {
        Ok(parsed) => mask(&parsed, true).into_owned(),
        Err(_) => match (text.split_once("://"), text.rfind('@')) {
            (Some((scheme, _)), Some(at)) => format!("{scheme}://{MASK}{}", &text[at..]),
            _ => text.to_string(),
        },
    }
}

fn mask(url: &Url, keep_user: bool) -> Cow<'_, str> {
    let secret_query = url
        .query_pairs()
        .any(|(name, value)| !value.is_empty() && is_secret_param(&name));
    let userinfo = if keep_user {
        url.password().is_some()
    } else {
        !url.username().is_empty() || url.password().is_some()
    };
    if !secret_query && !userinfo {
        return Cow::Borrowed(url.as_str());
    }
    let mut shown = url.clone();
    if userinfo && keep_user {
        let _ = shown.set_password(Some(MASK));
    } else if userinfo {
        let _ = shown.set_password(None);
        let _ = shown.set_username(MASK);
    }
    if secret_query {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if !value.is_empty() && is_secret_param(&name) {
                    MASK.to_string()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Cow::Owned(shown.to_string())
}

/// Text for showing: if it is an absolute URL, the URL as [`url`] shows it; otherwise the text
/// as it is.
pub fn text(text: &str) -> Cow<'_, str> {
    match Url::parse(text.trim()) {
        Ok(parsed) if parsed.has_host() => match url(&parsed) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(shown) => Cow::Owned(shown),
        },
        _ => Cow::Borrowed(text),
    }
}

/// A URL that displays as [`url`] shows it: for `format!` and error messages.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a Url);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url(self.0))
    }
}

/// The same URL without userinfo: a base to resolve a document's relative links against, so no
/// link in it inherits the source's credentials.
pub fn without_userinfo(url: &Url) -> Cow<'_, Url> {
    if url.username().is_empty() && url.password().is_none() {
        return Cow::Borrowed(url);
    }
    let mut bare = url.clone();
    let _ = bare.set_password(None);
    let _ = bare.set_username("");
    Cow::Owned(bare)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        url(&Url::parse(text).expect("url")).into_owned()
    }

    #[test]
    fn userinfo_and_secret_parameters_are_masked() {
        assert_eq!(
            shown("https://alice:s3cret@feeds.example/rss?apikey=K123&lang=zh"),
            "https://***@feeds.example/rss?apikey=***&lang=zh"
        );
        assert_eq!(
            shown("https://tok3n@feeds.example/rss"),
            "https://***@feeds.example/rss"
        );
        for name in [
            "api_key",
            "X-Api-Key",
            "access_token",
            "token",
            "client_secret",
            "password",
            "passkey",
            "sig",
            "Signature",
            "auth",
            "sessionid",
        ] {
            let text = shown(&format!("http://e.example/f?{name}=VALUE&page=2"));
            assert!(!text.contains("VALUE"), "{name}: {text}");
            assert!(text.contains("page=2"), "{name}: {text}");
        }
        for name in ["keywords", "monkey_business", "q", "page", "format", "category"] {
            let text = shown(&format!("http://e.example/f?{name}=VALUE"));
            assert!(text.contains("VALUE"), "{name}: {text}");
        }
        assert_eq!(
            shown("https://feeds.example/rss?id=7"),
            "https://feeds.example/rss?id=7"
        );
    }

    #[test]
    fn text_masks_urls_and_leaves_other_text() {
        assert_eq!(text("https://u:p@e.example/"), "https://***@e.example/");
        assert_eq!(text("feeds/local.xml"), "feeds/local.xml");
        assert_eq!(text("not a url"), "not a url");
        assert_eq!(
            Shown(&Url::parse("http://e.example/?token=abc").expect("url")).to_string(),
            "http://e.example/?token=***"
        );
    }

    #[test]
    fn a_base_loses_its_userinfo() {
        let base = Url::parse("https://u:p@e.example/feed.xml").expect("url");
        let bare = without_userinfo(&base);
        assert_eq!(bare.as_str(), "https://e.example/feed.xml");
        assert_eq!(
            bare.join("/item/1").expect("join").as_str(),
            "https://e.example/item/1"
        );
    }

    #[test]
    fn a_database_url_keeps_its_user_and_hides_its_password() {
        assert_eq!(
            database_url("postgres://feeds:secret@db.example:5432/feeds"),
            "postgres://feeds:***@db.example:5432/feeds"
        );
        assert_eq!(
            database_url("postgres://feeds@db.example/feeds?sslmode=require&password=secret&sslpassword=key"),
            "postgres://feeds@db.example/feeds?sslmode=require&password=***&sslpassword=***"
        );
        // Not a URL the parser takes (the port): everything that could be a user and password goes.
        assert_eq!(
            database_url("postgres://feeds:secret@db.example:port/feeds"),
            "postgres://***@db.example:port/feeds"
        );
        assert_eq!(
            database_url("postgres://feeds@db.example/feeds"),
            "postgres://feeds@db.example/feeds"
        );
        assert_eq!(
            database_url("sqlite:///var/lib/feedfold/x.db?mode=rwc"),
            "sqlite:///var/lib/feedfold/x.db?mode=rwc"
        );
    }
}
