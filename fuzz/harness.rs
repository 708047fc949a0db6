//! Fuzz harness bodies, shared by the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and the
//! seed-corpus test (`tests/it/fuzz_seeds.rs`, which runs every file of `fuzz/seeds/TARGET/`
//! through the same body on every `cargo test`).
//!
//! In: arbitrary bytes. Out: nothing; each body panics when feedfold breaks a promise on that
//! input (beyond not panicking, not hanging and not exhausting memory, which the fuzzer
//! watches itself).

use std::path::Path;

use chrono::FixedOffset;
use feedfold::config::Config;
use feedfold::html;
use feedfold::output::query::{Doc, Query};
use feedfold::source::decode::decode;
use feedfold::source::parse::parse_feed;
use feedfold::transform::normalize::{self, Furniture};
use url::Url;

/// For the fuzzer's `init`: libFuzzer aborts on any panic, even one that is caught. feedfold
/// contains panics of the feed parser it depends on (`ParseError::Panicked`, a source reported
/// as failed), so a panic raised inside a dependency is let unwind to that containment; a
/// panic in feedfold's own code, or a dependency's that nothing catches, still aborts.
pub fn contain_dependency_panics() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_dependency = info
            .location()
            .is_some_and(|l| l.file().contains("/registry/src/"));
        if !in_dependency {
            abort(info);
        }
    }));
}

/// Decode + parse: any bytes decode to UTF-8 text, and a feed that parses gives items with a
/// key, plain-text titles and links that are absolute; its HTML sanitises to markup with no
/// script.
pub fn feed(data: &[u8]) {
    let decoded = decode(data, None);
    let base = Url::parse("https://fuzz.example/feed.xml").expect("a valid URL");
    let utc = FixedOffset::east_opt(0).expect("zero offset");
    let Ok(parsed) = parse_feed(&decoded.text, Some(&base), utc) else {
        return;
    };
    for item in &parsed.items {
        assert!(!item.key.is_empty(), "an item without a key");
        if let Some(link) = &item.link {
            assert!(Url::parse(link).is_ok(), "a link that is not absolute: {link:?}");
        }
        for html_text in item.summary.iter().chain(&item.content) {
            let clean = html::sanitize(html_text, Some(&base)).to_ascii_lowercase();
            assert!(
                !clean.contains("<script"),
                "script survived sanitising: {clean:?}"
            );
        }
    }
}

/// Comparison-text normalisation: any text gives a comparison text, the same each time, and
/// folding is stable (folding folded text changes nothing).
pub fn comparison(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (title, body) = text.split_once('\n').unwrap_or((&text, ""));
    let furniture = Furniture::default();
    let once = normalize::comparison(Some(title), Some(body), &furniture);
    let again = normalize::comparison(Some(title), Some(body), &furniture);
    assert_eq!(once.title, again.title);
    assert_eq!(once.body, again.body);
    let folded = normalize::fold(&text);
    assert_eq!(normalize::fold(&folded), folded, "folding is not stable");
}

/// The keyword filter parser: any expression parses or gives an error inside the expression,
/// and a parsed query matches a document without trouble.
pub fn filter(data: &[u8]) {
    let expr = String::from_utf8_lossy(data);
    match Query::parse(&expr) {
        Ok(query) => {
            let authors = ["Reporter".to_string()];
            let categories = ["World".to_string(), "国际".to_string()];
            let doc = Doc {
                title: "卫健委通报 supply chain news",
                content: "疫情防控 covid-19 vaccine 新闻",
                authors: &authors,
                categories: &categories,
                source: "Example Daily",
            };
            let _ = query.matches(&doc);
        }
        Err(e) => {
            assert!(
                e.position <= expr.chars().count(),
                "an error position beyond the expression: {e}"
            );
        }
    }
}

/// The config loader: any text loads or is refused with messages that name the file.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("fuzz.toml");
    if let Err(e) = Config::parse(&text, path) {
        let message = e.to_string();
        assert!(
            message.contains("fuzz.toml"),
            "an error that does not name the file: {message}"
        );
    }
}
