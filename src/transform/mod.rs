//! Transforms: pure functions over items between parsing and storage.
//!
//! In: [`Item`]s. Out: the keys and texts that decide which items are the same story.
//!
//! - here: exact keys, an item's canonical link and, when its GUID is a permalink, the
//!   canonical GUID; two items sharing any exact key are one story, whatever their sources;
//! - [`normalize`]: comparison text (script folding, page furniture removed);
//! - [`facts`]: places and figures at their place in a text's wording (what templates differ in);
//! - [`fold`]: near-duplicate detection over comparison text (MinHash-LSH candidates, exact check);
//! - [`region`]: the regions a story is about, from its comparison text.
//!
//! (The keyword query language of outputs is [`crate::output::query`].)

pub mod facts;
pub mod fold;
pub mod normalize;
pub mod region;

use url::Url;

use crate::model::Item;

/// Query parameters that only track where a click came from; they never change the page.
const TRACKING_PARAMS: &[&str] = &[
    "spm",
    "from",
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "yclid",
    "igshid",
    "mc_cid",
    "mc_eid",
    "_hsenc",
    "_hsmi",
    "ref_src",
    "share_token",
    "scene",
    "wfr",
    "isappinstalled",
    "srcid",
    "ncid",
];

fn is_tracking(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// The canonical form of a page URL, used only as a comparison key: host lower-cased, default
/// port, fragment and tracking parameters (`utm_*`, `spm`, `from`, `fbclid`, …) dropped,
/// remaining parameters sorted, trailing slash removed, and http / https treated alike (the
/// scheme is left out). Not an http(s) URL: `None`.
pub fn canonical_url(url: &str) -> Option<String> {
    let parsed = Url::parse(url.trim()).ok()?;
    if !crate::html::is_web_url(&parsed) {
        return None;
    }
    let host = parsed.host_str()?;
    let mut key = String::with_capacity(url.len());
    key.push_str("//");
    key.push_str(host);
    if let Some(port) = parsed.port() {
        // `Url` already drops the scheme's own default port; 80 on https or 443 on http stays.
        if !(port == 80 || port == 443) {
            key.push(':');
            key.push_str(&port.to_string());
        }
    }
    let path = parsed.path();
    key.push_str(if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        ""
    });
    if let Some(query) = parsed.query() {
        let mut params: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| !is_tracking(p.split('=').next().unwrap_or(p)))
            .collect();
        params.sort_unstable();
        if !params.is_empty() {
            key.push('?');
            key.push_str(&params.join("&"));
        }
    }
    Some(key)
}

/// The exact keys of an item: `url:` + its canonical link, and `url:` + its canonical GUID when
/// the GUID is an http(s) permalink. Items that share a key are the same story.
pub fn exact_keys(item: &Item) -> Vec<String> {
    let mut keys: Vec<String> = [item.link.as_deref(), item.guid.as_deref()]
        .into_iter()
        .flatten()
        .filter_map(canonical_url)
        .map(|c| format!("url:{c}"))
        .collect();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_url_ignores_what_does_not_change_the_page() {
        let a = canonical_url(
            "HTTP://WWW.Example.COM:80/a/./b/../c.html?utm_source=rss&id=7&utm_medium=feed&fbclid=1#frag",
        );
        assert_eq!(a.as_deref(), Some("//www.example.com/a/c.html?id=7"));
        assert_eq!(
            canonical_url("https://example.com/news/1/"),
            canonical_url("http://example.com/news/1")
        );
        assert_eq!(
            canonical_url("https://example.com/?b=2&a=1"),
            canonical_url("https://example.com?a=1&b=2&spm=x")
        );
        assert_ne!(
            canonical_url("https://example.com/a?id=1"),
            canonical_url("https://example.com/a?id=2")
        );
        assert_eq!(canonical_url("tag:example.com,2022:1"), None);
    }

    #[test]
    fn permalink_guids_are_keys_and_opaque_ones_are_not() {
        let item = Item {
            guid: Some("https://example.com/p/1?utm_source=x".into()),
            link: Some("https://m.example.com/p/1".into()),
            ..Item::default()
        };
        assert_eq!(
            exact_keys(&item),
            vec![
                "url://m.example.com/p/1".to_string(),
                "url://example.com/p/1".to_string()
            ]
        );
        let opaque = Item {
            guid: Some("qc-2022-00001".into()),
            ..Item::default()
        };
        assert!(exact_keys(&opaque).is_empty());
    }
}
