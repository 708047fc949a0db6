//! Where a cold cycle's CPU goes, per item stage, on one thread: decode + parse, sanitise,
//! text lines + comparison text, fold features, regions of a one-copy story, and a stored
//! item's JSON columns. Reads every `*.xml` in a folder (benchmark (iv)'s origin), runs each
//! stage over all of it in turn and prints CPU seconds per stage.
//!
//! Run: `cargo run --release --example bench-stages -- DIR`.

use std::time::Instant;

use chrono::{FixedOffset, Utc};
use feedfold::pipeline::ingest;
use feedfold::source::decode::decode;
use feedfold::source::parse::parse_feed;
use feedfold::transform::fold::Features;
use feedfold::transform::normalize::{Furniture, comparison_of_lines, text_lines};
use feedfold::transform::region::Gazetteer;
use url::Url;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: bench-stages DIR");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    let bodies: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).expect("file")).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let base = Url::parse("http://127.0.0.1/feed.xml").expect("url");
    let tz = FixedOffset::east_opt(0).expect("tz");
    let time = |label: &str, started: Instant, n: usize| {
        println!(
            "{label:<28} {:>7.3} s  ({n} items)",
            started.elapsed().as_secs_f64()
        );
    };

    let t = Instant::now();
    let feeds: Vec<_> = bodies
        .iter()
        .map(|b| parse_feed(&decode(b, None).text, Some(&base), tz).expect("parses"))
        .collect();
    let items: Vec<_> = feeds.iter().flat_map(|f| f.items.iter()).collect();
    println!("{} feeds, {:.1} MB", bodies.len(), bytes as f64 / 1e6);
    time("decode + parse", t, items.len());

    let t = Instant::now();
    let rendered: Vec<_> = items.iter().map(|i| ingest::render(i, Some(&base))).collect();
    time("sanitise", t, rendered.len());

    let t = Instant::now();
    let lines: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            i.content
                .as_deref()
                .or(i.summary.as_deref())
                .map(text_lines)
                .unwrap_or_default()
        })
        .collect();
    time("text lines", t, lines.len());

    let furniture = Furniture::default();
    let t = Instant::now();
    let cmp: Vec<_> = items
        .iter()
        .zip(&lines)
        .map(|(i, l)| comparison_of_lines(i.title.as_deref(), l, &furniture))
        .collect();
    time("comparison text", t, cmp.len());

    let t = Instant::now();
    let features: Vec<_> = cmp.iter().map(|c| Features::new(c, Utc::now())).collect();
    time("fold features", t, features.len());

    let gazetteer = Gazetteer::embedded();
    let t = Instant::now();
    let regions: Vec<_> = cmp
        .iter()
        .map(|c| gazetteer.classify([(c.title.as_str(), c.body.as_str())], None))
        .collect();
    time("regions (one copy)", t, regions.len());

    let html: usize = rendered
        .iter()
        .map(|r| {
            r.summary_html.as_ref().map_or(0, String::len) + r.content_html.as_ref().map_or(0, String::len)
        })
        .sum();
    let text: usize = cmp.iter().map(|c| c.title.len() + c.body.len()).sum();
    println!(
        "sanitised HTML {:.1} MB, comparison text {:.1} MB",
        html as f64 / 1e6,
        text as f64 / 1e6
    );
}
