//! Benchmark (i): decode + parse + map to our `Item`, against feed-rs on its own; the same plus
//! sanitising (like for like with feedparser's defaults); and the sanitiser measured on its own. See BENCHMARKS.md for how the figures are recorded.
//!
//! Input: `benches/data/feed200.xml`, a deterministic synthetic RSS 2.0 feed of 200 items
//! (~600 KB; English and Chinese text, entity-escaped HTML descriptions, CDATA content).
//!
//! Run: `cargo bench --bench pipeline` (or `bench/run_bench_i.sh BASELINES_DIR`, which also runs
//! the Python feedparser peer in the same session and prints ratios).

use std::hint::black_box;
use std::time::Duration;

use chrono::FixedOffset;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedfold::source::decode::decode;
use feedfold::source::parse::parse_feed;
use url::Url;

/// Items in `benches/data/feed200.xml`.
const ITEMS: u64 = 200;
/// The URL the feed is pretended to be fetched from.
const FEED_URL: &str = "https://news0.example.com/rss.xml";

fn feed_bytes() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/feed200.xml");
    std::fs::read(path).expect("benches/data/feed200.xml is readable")
}

fn base_url() -> Url {
    Url::parse(FEED_URL).expect("FEED_URL is a valid URL")
}

fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The three ways of reading the feed, all reporting items/s for the same 200 items.
fn decode_parse_map(c: &mut Criterion) {
    let bytes = feed_bytes();
    let base = base_url();
    let tz = cst();

    // Sanity checks so the benchmark cannot silently measure a failing parse.
    let text = decode(&bytes, None).text;
    let parsed = parse_feed(&text, Some(&base), tz).expect("feedfold parses the bench feed");
    assert_eq!(parsed.items.len() as u64, ITEMS, "feedfold item count");
    assert!(!parsed.repaired, "the bench feed must parse without repair");
    let bare = feed_rs::parser::parse(bytes.as_slice()).expect("feed-rs parses the bench feed");
    assert_eq!(bare.entries.len() as u64, ITEMS, "feed-rs item count");

    let mut group = c.benchmark_group("decode_parse_map");
    group.throughput(Throughput::Elements(ITEMS));

    // Ours, end to end: bytes -> UTF-8 text -> feed-rs (our id/date hooks) -> Item.
    group.bench_function("feedfold_decode_parse_map", |b| {
        b.iter(|| {
            let decoded = decode(black_box(&bytes), None);
            let feed = parse_feed(&decoded.text, Some(&base), tz).expect("parse");
            black_box(feed)
        });
    });

    // The peer: feed-rs with its default configuration, straight from bytes, no mapping.
    group.bench_function("feed_rs_bare", |b| {
        b.iter(|| black_box(feed_rs::parser::parse(black_box(bytes.as_slice())).expect("parse")));
    });

    // Sub-step: parse + map only, on text decoded beforehand (isolates the decode cost).
    group.bench_function("feedfold_parse_map_only", |b| {
        b.iter(|| black_box(parse_feed(black_box(&text), Some(&base), tz).expect("parse")));
    });
    group.finish();

    // Sub-step: decode only (bytes -> UTF-8 text with the declaration stripped).
    let mut group = c.benchmark_group("steps");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("decode_only", |b| {
        b.iter(|| black_box(decode(black_box(&bytes), None)));
    });
    group.finish();

    // Decoding a legacy encoding: the same feed in GBK, served with its true charset, and with a
    // lying one (`windows-1252`, which decodes any bytes cleanly): what checking a clean label
    // against the bytes costs, and what overruling it costs.
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable, "the bench feed is GBK-encodable");
    // (`text` begins with the line break after the stripped declaration; decoding trims it.)
    let text = text.trim_start();
    assert_eq!(decode(&gbk, Some("gbk")).text, text, "GBK read as GBK");
    let lie = decode(&gbk, Some("windows-1252")).text;
    assert_eq!(lie, text, "the lie is overruled");
    let mut group = c.benchmark_group("steps");
    group.throughput(Throughput::Bytes(gbk.len() as u64));
    group.bench_function("decode_gbk_labelled_gbk", |b| {
        b.iter(|| black_box(decode(black_box(&gbk), Some("gbk"))));
    });
    group.bench_function("decode_gbk_labelled_windows_1252", |b| {
        b.iter(|| black_box(decode(black_box(&gbk), Some("windows-1252"))));
    });
    group.finish();
}

/// Like for like with feedparser's defaults (which sanitise HTML and resolve relative URLs while
/// parsing): decode + parse + map, then sanitise every item's summary and content exactly as the
/// store does before keeping an item (`pipeline::ingest::render`).
fn decode_parse_map_sanitize(c: &mut Criterion) {
    let bytes = feed_bytes();
    let base = base_url();
    let tz = cst();
    let mut group = c.benchmark_group("decode_parse_map_sanitize");
    group.throughput(Throughput::Elements(ITEMS));
    group.bench_function("feedfold_decode_parse_map_render", |b| {
        b.iter(|| {
            let decoded = decode(black_box(&bytes), None);
            let feed = parse_feed(&decoded.text, Some(&base), tz).expect("parse");
            let rendered: Vec<_> = feed
                .items
                .iter()
                .map(|item| feedfold::pipeline::ingest::render(item, Some(&base)))
                .collect();
            black_box((feed, rendered))
        });
    });
    group.finish();
}

/// The sanitiser on its own, over the content of every item: in one call, then one call per item.
fn sanitize(c: &mut Criterion) {
    let bytes = feed_bytes();
    let base = base_url();
    let text = decode(&bytes, None).text;
    let parsed = parse_feed(&text, Some(&base), cst()).expect("feedfold parses the bench feed");
    let html: String = parsed
        .items
        .iter()
        .filter_map(|i| i.content.as_deref())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        html.len() > 100_000,
        "expected the items' content to be substantial"
    );

    let mut group = c.benchmark_group("sanitize");
    group.throughput(Throughput::Bytes(html.len() as u64));
    group.bench_function("ammonia_all_item_content", |b| {
        b.iter(|| black_box(feedfold::html::sanitize(black_box(&html), Some(&base))));
    });
    // Same bytes, one call per item as the store does: adds the per-call cost (ammonia's policy
    // builder is constructed on every `sanitize` call, plus html5ever's per-document setup).
    let parts: Vec<&str> = parsed.items.iter().filter_map(|i| i.content.as_deref()).collect();
    group.throughput(Throughput::Bytes(parts.iter().map(|p| p.len() as u64).sum()));
    group.bench_function("ammonia_per_item_content", |b| {
        b.iter(|| {
            for part in &parts {
                black_box(feedfold::html::sanitize(black_box(part), Some(&base)));
            }
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(20))
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode_parse_map, decode_parse_map_sanitize, sanitize
}
criterion_main!(benches);
