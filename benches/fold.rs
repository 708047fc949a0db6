//! Benchmark (ii): folding a stream of generated near-duplicate items.
//!
//! `cargo bench --bench fold [-- DOCS [PERSISTED_DOCS]]` (defaults 1,000,000 and 100,000).
//!
//! The generator is a port of `bench_minhash.py` from the project's baselines (a synthetic CJK
//! vocabulary; 10 % of items are near-duplicates of an earlier original: a source tag added,
//! a few words swapped, the tail cut, punctuation changed), so the datasketch baseline can be
//! run on the same kind of stream. Two paths are measured:
//! - the pass's core in memory: comparison text → features → candidates through `Postings`
//!   (the folding pass's index) → each pair judged once → `cluster`, every item as one batch,
//!   one core;
//! - the persisted path: the same items through the SQLite store (`ingest` + `fold_pending`)
//!   in batches of 100, as fetches of 100-item feeds would arrive.
//!
//! Reported: items/s, postings bytes per item, peak RSS, recall of planted near-duplicates (a
//! copy ends in its original's story) and wrong merges (an item in a story whose original is
//! not its own).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use feedfold::model::Item;
use feedfold::pipeline::fold::{MAX_CANDIDATES, fold_pending};
use feedfold::pipeline::ingest::{self, ReadyMap, Render};
use feedfold::store::{Rendered, Store};
use feedfold::transform::fold::{Features, FoldConfig, Postings, Verdict, cluster, index_keys, judge};
use feedfold::transform::normalize::{Comparison, Furniture, comparison};

/// splitmix64: a small deterministic generator (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct Corpus {
    docs: Vec<(String, String)>,
    /// copy index → original index
    truth: HashMap<usize, usize>,
}

fn generate(n: usize, seed: u64) -> Corpus {
    let mut rng = Rng(seed);
    let chars: Vec<char> = (0x4E00u32..0x4E00 + 3000).filter_map(char::from_u32).collect();
    let vocab: Vec<String> = (0..5000)
        .map(|_| {
            let len = *rng.pick(&[2, 2, 2, 3, 4]);
            (0..len).map(|_| *rng.pick(&chars)).collect()
        })
        .collect();
    let tags = [
        "【新华社】",
        "（中新网）",
        "据环球时报报道，",
        "【央视新闻】",
        "本报讯 ",
        "（记者 王伟）",
    ];
    let punct = ['，', '。', '；', '：', '、'];
    let mut docs: Vec<(String, String)> = Vec::with_capacity(n);
    let mut truth = HashMap::new();
    for i in 0..n {
        if i > 100 && rng.unit() < 0.1 {
            let mut j = rng.below(i);
            while let Some(&o) = truth.get(&j) {
                j = o;
            }
            truth.insert(i, j);
            let (head, body) = &docs[j];
            let mut s: Vec<char> = format!("{head}：{body}").chars().collect();
            for _ in 0..rng.range(1, 3) {
                let at = rng.below(s.len() - 3);
                let w: Vec<char> = rng.pick(&vocab).chars().collect();
                let end = (at + w.len()).min(s.len());
                s.splice(at..end, w);
            }
            let keep = (s.len() as f64 * (0.85 + rng.unit() * 0.15)) as usize;
            s.truncate(keep);
            let mut text: String = s.into_iter().collect();
            text = text.replacen('，', &punct[rng.below(punct.len())].to_string(), 1);
            if rng.unit() < 0.7 {
                text = format!("{}{text}", rng.pick(&tags));
            }
            let (h, b) = text.split_once('：').unwrap_or((text.as_str(), ""));
            docs.push((h.to_string(), b.to_string()));
        } else {
            let head: String = (0..rng.range(5, 9)).map(|_| rng.pick(&vocab).as_str()).collect();
            let mut body = String::new();
            for _ in 0..rng.range(3, 5) {
                for _ in 0..rng.range(6, 12) {
                    body.push_str(rng.pick(&vocab).as_str());
                }
                body.push(*rng.pick(&['，', '。']));
            }
            docs.push((head, body));
        }
    }
    Corpus { docs, truth }
}

fn compare_text(doc: &(String, String)) -> Comparison {
    comparison(Some(&doc.0), Some(&doc.1), &Furniture::default())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Recall of planted copies and wrong merges, from a story per item.
fn score(corpus: &Corpus, story_of: &[usize]) -> (f64, usize) {
    let root = |i: usize| corpus.truth.get(&i).copied().unwrap_or(i);
    let found = corpus
        .truth
        .iter()
        .filter(|&(&c, &o)| story_of[c] == story_of[o])
        .count();
    // The original a story stands for: the root of its first item.
    let mut story_root: HashMap<usize, usize> = HashMap::new();
    for (i, &s) in story_of.iter().enumerate() {
        story_root.entry(s).or_insert_with(|| root(i));
    }
    let wrong = (0..story_of.len())
        .filter(|&i| story_root[&story_of[i]] != root(i))
        .count();
    (found as f64 / corpus.truth.len().max(1) as f64, wrong)
}

fn in_memory(n: usize) {
    let t0 = Instant::now();
    let corpus = generate(n, 7);
    let chars: usize = corpus
        .docs
        .iter()
        .map(|(h, b)| h.chars().count() + b.chars().count() + 1)
        .sum();
    eprintln!(
        "generated {n} items ({} chars avg) in {:.1}s",
        chars / n,
        t0.elapsed().as_secs_f64()
    );
    let rss_before = peak_rss_mb();
    let when = Utc.timestamp_opt(1_700_000_000, 0).single().expect("time");
    let cfg = FoldConfig::default();
    let start = Instant::now();
    // The folding pass's core over every item as one batch of waiting items: each item's
    // features and keys, its candidates through the postings, each pair judged once, groups.
    // What the store keeps beside the keys: each item's comparison text (features are worked
    // out again from it when a pair is judged, as for a stored candidate).
    let mut texts: Vec<Comparison> = Vec::with_capacity(n);
    let mut lookups: Vec<Vec<i64>> = Vec::with_capacity(n);
    let mut keys: Vec<Vec<i64>> = Vec::with_capacity(n);
    for doc in &corpus.docs {
        let text = compare_text(doc);
        let features = Features::new(&text, when);
        let mut lookup = features.lookup_keys();
        lookup.sort_unstable();
        lookup.dedup();
        lookups.push(lookup);
        keys.push(index_keys(features.keys()).collect());
        texts.push(text);
    }
    let queried = lookups.iter().map(Vec::len).sum();
    let mut postings = Postings::for_keys(lookups.iter().flatten(), queried);
    for (node, k) in keys.iter().enumerate() {
        postings.add(node as u32, k.iter().copied());
    }
    drop(keys);
    postings.finish();
    let index_bytes = postings.heap_bytes();
    let ids: Vec<i64> = (0..n as i64).collect();
    let mut count = vec![0u32; n];
    // Each pair once, by its lower item.
    let mut partners: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (i, lookup) in lookups.iter().enumerate() {
        for k in postings.ranked(lookup, &ids, &mut count, MAX_CANDIDATES) {
            let (a, b) = (i.min(k as usize), i.max(k as usize) as u32);
            if a != b as usize {
                partners[a].push(b);
            }
        }
    }
    drop(postings);
    drop(lookups);
    let mut checked = 0u64;
    let (mut edges, mut conflicts) = (Vec::new(), HashSet::new());
    for (a, list) in partners.iter_mut().enumerate() {
        list.sort_unstable();
        list.dedup();
        if list.is_empty() {
            continue;
        }
        let fa = Features::compared(&texts[a], when);
        for &b in list.iter() {
            let b = b as usize;
            checked += 1;
            let (sim, verdict) = judge(&fa, &Features::compared(&texts[b], when), &cfg);
            match verdict {
                Verdict::Same(_) => edges.push((a, b, sim.score())),
                Verdict::Conflict(_) => {
                    conflicts.insert((a, b));
                }
                Verdict::Apart(_) => {}
            }
        }
    }
    let stories = cluster(n, n, &[], &edges, &conflicts);
    let secs = start.elapsed().as_secs_f64();
    let (recall, wrong) = score(&corpus, &stories);
    println!(
        "fold (in memory, one core, one pass): {n} items, {} planted near-duplicates",
        corpus.truth.len()
    );
    println!("  {secs:.1}s -> {:.0} items/s", n as f64 / secs);
    println!(
        "  postings {:.0} bytes/item ({:.0} MB); peak RSS {:.0} MB (corpus generated: {rss_before:.0} MB)",
        index_bytes as f64 / n as f64,
        index_bytes as f64 / 1e6,
        peak_rss_mb()
    );
    println!(
        "  recall of planted near-duplicates {recall:.3}; wrongly merged items {wrong} ({:.3} %); \
         pairs judged {:.2} per item",
        wrong as f64 * 100.0 / n as f64,
        checked as f64 / n as f64
    );
}

fn persisted(n: usize) {
    let corpus = generate(n, 11);
    let dir = std::env::temp_dir().join(format!("feedfold-bench-fold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let when = Utc.timestamp_opt(1_700_000_000, 0).single().expect("time");
    let cfg = FoldConfig::default();
    let (secs, stories) = rt.block_on(async {
        let store = Store::open(&url).await.expect("store");
        let render: Render = Arc::new(|i: &Item| Rendered {
            title_html: None,
            summary_html: i.summary.clone(),
            content_html: None,
        });
        let ready = ReadyMap::default();
        let start = Instant::now();
        for (b, chunk) in corpus.docs.chunks(100).enumerate() {
            let items: Vec<Item> = chunk
                .iter()
                .enumerate()
                .map(|(k, (h, body))| {
                    let i = b * 100 + k;
                    Item {
                        key: format!("g:{i}"),
                        guid: Some(i.to_string()),
                        title: Some(h.clone()),
                        summary: Some(body.clone()),
                        published: Some(when),
                        ..Item::default()
                    }
                })
                .collect();
            let source = format!("feed{}", b % 50);
            ingest::items(&store, &ready, &source, &items, when, Arc::clone(&render))
                .await
                .expect("ingest");
            fold_pending(&store, &cfg, &HashMap::new(), &ready)
                .await
                .expect("fold");
        }
        let secs = start.elapsed().as_secs_f64();
        let items = store.all_items().await.expect("items");
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut story_of = vec![0; n];
        for item in items {
            let i: usize = item.guid.as_deref().and_then(|g| g.parse().ok()).expect("guid");
            let next = ids.len();
            story_of[i] = *ids.entry(item.story_id).or_insert(next);
        }
        store.close().await;
        (secs, story_of)
    });
    let (recall, wrong) = score(&corpus, &stories);
    let db_bytes: u64 = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0);
    println!(
        "fold (persisted, SQLite, batches of 100): {n} items, {} planted near-duplicates",
        corpus.truth.len()
    );
    println!(
        "  {secs:.1}s -> {:.0} items/s; database {:.0} bytes/item",
        n as f64 / secs,
        db_bytes as f64 / n as f64
    );
    println!("  recall of planted near-duplicates {recall:.3}; wrongly merged items {wrong}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    in_memory(args.first().copied().unwrap_or(1_000_000));
    persisted(args.get(1).copied().unwrap_or(100_000));
}
