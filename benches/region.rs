//! Benchmark (iii): region tagging, items per second.
//!
//! Input: the 200 items of `benches/data/feed200.xml` (the same feed as benchmark (i)); each
//! item's title and description become comparison text once, untimed (as the Python peer strips
//! HTML once, untimed); then the whole gazetteer classification runs over all 200 items per
//! iteration: Aho-Corasick pass, context resolution, hierarchy votes and the decision.
//!
//! Run: `cargo bench --bench region` (or `bench/run_bench_iii.sh BASELINES_DIR`, which also runs
//! the Python regex peer in the same session).

use std::hint::black_box;

use chrono::FixedOffset;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedfold::source::decode::decode;
use feedfold::source::parse::parse_feed;
use feedfold::transform::normalize::{Furniture, comparison};
use feedfold::transform::region::Gazetteer;

fn texts() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/feed200.xml");
    let bytes = std::fs::read(path).expect("benches/data/feed200.xml is readable");
    let tz = FixedOffset::east_opt(8 * 3600).expect("offset");
    let feed = parse_feed(&decode(&bytes, None).text, None, tz).expect("the bench feed parses");
    feed.items
        .iter()
        .map(|i| {
            let c = comparison(i.title.as_deref(), i.summary.as_deref(), &Furniture::default());
            (c.title, c.body)
        })
        .collect()
}

fn tagging(c: &mut Criterion) {
    let texts = texts();
    let gazetteer = Gazetteer::embedded();
    let tagged = texts
        .iter()
        .filter(|(t, b)| !gazetteer.classify([(t.as_str(), b.as_str())], None).is_empty())
        .count();
    let bytes: usize = texts.iter().map(|(t, b)| t.len() + b.len()).sum();
    eprintln!(
        "{} items, {} bytes of comparison text, {tagged} tagged with a region",
        texts.len(),
        bytes
    );
    let mut group = c.benchmark_group("region");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("classify", |b| {
        b.iter(|| {
            for (title, body) in &texts {
                black_box(gazetteer.classify([(title.as_str(), body.as_str())], None));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, tagging);
criterion_main!(benches);
