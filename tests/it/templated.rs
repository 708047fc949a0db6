//! Templated look-alikes (tests/fixtures/templated/README.md): notices that share one template and
//! differ only in a city, a day, a figure or a country must stay apart, their genuine copies
//! (other titles and scripts, summaries, datelines, stamp lines, site furniture) must fold, and
//! the stories must not depend on the order in which items arrive.
//!
//! - `templated_families_fold_exactly_their_copies` (SQLite and PostgreSQL): pairwise precision
//!   1.0, recall ≥ 0.95 and city accuracy ≥ 0.95 against `labels.json`;
//! - `partitions_do_not_depend_on_arrival_order`: the items revealed a few at a time, in random
//!   order and batches, give the stories of one fetch of everything;
//! - `concurrent_fetches_on_postgres_agree`: three fetch runs at once into one PostgreSQL
//!   database give the stories of one SQLite fetch of everything.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use feedfold::config::Config;
use feedfold::model::StoredItem;
use feedfold::pipeline::explain::explain;
use feedfold::run;
use feedfold::source::http::Fetcher;
use feedfold::store::{Store, Taking};

use crate::support::{Backend, Env, FOLD_FIXTURES, Origin, PostgresDb, fixtures, postgres_admin, sources};

/// The templated sources: (source name, file in tests/fixtures/templated/).
const TEMPLATED: [(&str, &str); 3] = [
    ("tmpl-a", "a-rss.xml"),
    ("tmpl-b", "b-atom.xml"),
    ("tmpl-c", "c-feed.json"),
];

/// Pairwise precision required: no two different stories folded, ever.
const MIN_PRECISION: f64 = 1.0;
/// Pairwise recall required.
const MIN_RECALL: f64 = 0.95;
/// Share of items whose primary region is right.
const MIN_CITY_ACCURACY: f64 = 0.95;

fn templated(file: &str) -> PathBuf {
    fixtures().join("templated").join(file)
}

/// Every feed of these tests: (source name, path): the templated ones, then the fold fixtures.
fn all_feeds() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = TEMPLATED
        .iter()
        .map(|(name, file)| (name.to_string(), templated(file)))
        .collect();
    out.extend(FOLD_FIXTURES.iter().map(|file| {
        (
            format!("fold-{}", file.trim_end_matches(".xml")),
            fixtures().join("fold").join(file),
        )
    }));
    out
}

fn file_sources(feeds: &[(String, PathBuf)]) -> String {
    let list: Vec<(&str, String)> = feeds
        .iter()
        .map(|(name, path)| (name.as_str(), path.display().to_string()))
        .collect();
    sources(&list)
}

/// What `labels.json` says of one item.
#[derive(Debug, Clone)]
struct Label {
    story: String,
    city: Option<String>,
    code: String,
}

fn labels() -> BTreeMap<String, Label> {
    let text = std::fs::read_to_string(templated("labels.json")).expect("labels.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("labels.json is JSON");
    let field = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    json.as_object()
        .expect("labels.json is an object")
        .iter()
        .map(|(id, v)| {
            let label = Label {
                story: field(v, "story").expect("story"),
                city: field(v, "city"),
                code: field(v, "code").expect("code"),
            };
            (id.clone(), label)
        })
        .collect()
}

/// From data/regions/divisions.tsv: the county-level codes, and the adcode of every
/// prefecture-level name.
fn divisions() -> (BTreeSet<String>, HashMap<String, String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/regions/divisions.tsv");
    let text = std::fs::read_to_string(path).expect("divisions.tsv");
    let mut counties = BTreeSet::new();
    let mut cities = HashMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        match cols.get(1) {
            Some(&"county") => {
                counties.insert(cols[0].to_string());
            }
            Some(&"prefecture") => {
                cities.insert(cols[3].to_string(), cols[0].to_string());
            }
            _ => {}
        }
    }
    (counties, cities)
}

/// An item's name in a partition: its GUID as written, else its source and key.
fn item_name(i: &StoredItem) -> String {
    i.guid
        .clone()
        .unwrap_or_else(|| format!("{}/{}", i.source, i.key))
}

/// The stories as sets of item names (not story ids, which differ from run to run).
type Partition = BTreeSet<BTreeSet<String>>;

fn partition(items: &[StoredItem]) -> Partition {
    let mut by_story: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for i in items {
        by_story.entry(&i.story_id).or_default().insert(item_name(i));
    }
    by_story.into_values().collect()
}

/// What differs between two partitions, for a failure message: the groups only one of them has.
fn partition_diff(want: &Partition, got: &Partition) -> String {
    let show = |p: &BTreeSet<String>| p.iter().cloned().collect::<Vec<_>>().join(", ");
    let mut out = String::new();
    for g in want.difference(got) {
        out.push_str(&format!("\n  expected: {{{}}}", show(g)));
    }
    for g in got.difference(want) {
        out.push_str(&format!("\n  got:      {{{}}}", show(g)));
    }
    out
}

/// Pairwise scores of stored items against the labels, and the primary-region check.
struct Score {
    precision: f64,
    recall: f64,
    city_accuracy: f64,
    /// Pairs in one story whose labels name different stories: "story: title + story: title".
    wrongly_merged: Vec<String>,
    /// Labelled stories split over several stored stories.
    split: Vec<String>,
    /// Items whose primary region is wrong: "id (label code): got code".
    region_misses: Vec<String>,
}

fn primary_code(i: &StoredItem) -> Option<String> {
    i.regions.primary().map(|r| r.code.clone())
}

/// Right when the primary region's code is the label's code (an adcode, or an ISO code abroad),
/// or, when the label's code is a county (a district, or the county of a town), its city's adcode.
fn region_right(
    got: Option<&str>,
    label: &Label,
    counties: &BTreeSet<String>,
    cities: &HashMap<String, String>,
) -> bool {
    let Some(got) = got else {
        return false;
    };
    if got == label.code {
        return true;
    }
    counties.contains(&label.code)
        && label
            .city
            .as_ref()
            .and_then(|c| cities.get(c))
            .is_some_and(|city| city == got)
}

fn score(items: &[StoredItem], labels: &BTreeMap<String, Label>) -> Score {
    let (counties, cities) = divisions();
    let labelled: Vec<(&StoredItem, &Label)> = items
        .iter()
        .filter_map(|i| labels.get(i.guid.as_deref()?).map(|l| (i, l)))
        .collect();
    let found: BTreeSet<&str> = labelled.iter().filter_map(|(i, _)| i.guid.as_deref()).collect();
    let missing: Vec<&String> = labels.keys().filter(|k| !found.contains(k.as_str())).collect();
    assert!(missing.is_empty(), "labelled items not stored: {missing:?}");

    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let mut wrongly_merged = Vec::new();
    for (n, (a, la)) in labelled.iter().enumerate() {
        for (b, lb) in &labelled[n + 1..] {
            let folded = a.story_id == b.story_id;
            let same = la.story == lb.story;
            match (folded, same) {
                (true, true) => tp += 1,
                (true, false) => {
                    fp += 1;
                    wrongly_merged.push(format!(
                        "{}: {} + {}: {}",
                        la.story,
                        a.title.as_deref().unwrap_or(""),
                        lb.story,
                        b.title.as_deref().unwrap_or("")
                    ));
                }
                (false, true) => fn_ += 1,
                (false, false) => {}
            }
        }
    }
    let mut stories: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (i, l) in &labelled {
        stories.entry(&l.story).or_default().insert(&i.story_id);
    }
    let split = stories
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(s, ids)| format!("{s} in {} stories", ids.len()))
        .collect();
    let region_misses: Vec<String> = labelled
        .iter()
        .filter_map(|(i, l)| {
            let got = primary_code(i);
            (!region_right(got.as_deref(), l, &counties, &cities)).then(|| {
                format!(
                    "{} ({} {}): got {}",
                    i.guid.as_deref().unwrap_or(""),
                    l.city.as_deref().unwrap_or(""),
                    l.code,
                    got.as_deref().unwrap_or("none")
                )
            })
        })
        .collect();
    let ratio = |num: usize, den: usize| if den == 0 { 1.0 } else { num as f64 / den as f64 };
    Score {
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        city_accuracy: ratio(labelled.len() - region_misses.len(), labelled.len()),
        wrongly_merged,
        split,
        region_misses,
    }
}

async fn templated_families_fold_exactly_their_copies(backend: Backend) {
    let feeds: Vec<(String, PathBuf)> = TEMPLATED
        .iter()
        .map(|(name, file)| (name.to_string(), templated(file)))
        .collect();
    let Some(env) = Env::on(backend, &file_sources(&feeds)).await else {
        return;
    };
    let reports = env.fetch().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    let items = env.store.all_items().await.expect("items");
    let s = score(&items, &labels());

    let mut failures = Vec::new();
    if s.precision < MIN_PRECISION {
        failures.push(format!(
            "precision {:.4} < {MIN_PRECISION}: {} pairs of different stories folded:\n    {}",
            s.precision,
            s.wrongly_merged.len(),
            s.wrongly_merged.join("\n    ")
        ));
    }
    if s.recall < MIN_RECALL {
        failures.push(format!(
            "recall {:.4} < {MIN_RECALL}: stories split: {}",
            s.recall,
            s.split.join(", ")
        ));
    }
    if s.city_accuracy < MIN_CITY_ACCURACY {
        failures.push(format!(
            "city accuracy {:.4} < {MIN_CITY_ACCURACY}: {} misses:\n    {}",
            s.city_accuracy,
            s.region_misses.len(),
            s.region_misses.join("\n    ")
        ));
    }
    assert!(
        failures.is_empty(),
        "{backend:?}: precision {:.4}, recall {:.4}, city accuracy {:.4}\n  {}",
        s.precision,
        s.recall,
        s.city_accuracy,
        failures.join("\n  ")
    );
}

on_both_backends!(templated_families_fold_exactly_their_copies);

/// A small deterministic PRNG (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// A feed cut into the text around its items and the items themselves, to be served with any
/// subset of its items in any order.
enum Split {
    /// RSS or Atom: the text before the first item, each `<item>…</item>` / `<entry>…</entry>`,
    /// the text after the last.
    Xml {
        head: String,
        items: Vec<String>,
        tail: String,
    },
    /// JSON Feed: the feed object and its items.
    Json {
        feed: serde_json::Value,
        items: Vec<serde_json::Value>,
    },
}

impl Split {
    fn of(path: &Path) -> Split {
        let text = std::fs::read_to_string(path).expect("fixture");
        if path.extension().is_some_and(|e| e == "json") {
            let mut feed: serde_json::Value = serde_json::from_str(&text).expect("JSON Feed");
            let items = feed["items"].as_array().cloned().expect("items");
            feed["items"] = serde_json::Value::Array(Vec::new());
            return Split::Json { feed, items };
        }
        let (open, close) = if text.contains("<entry>") {
            ("<entry>", "</entry>")
        } else {
            ("<item>", "</item>")
        };
        let first = text.find(open).expect("an item");
        let last = text.rfind(close).expect("an item end") + close.len();
        let items = text[first..last]
            .split_inclusive(close)
            .map(|chunk| chunk[chunk.find(open).expect("item start")..].to_string())
            .collect();
        Split::Xml {
            head: text[..first].to_string(),
            items,
            tail: text[last..].to_string(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Split::Xml { items, .. } => items.len(),
            Split::Json { items, .. } => items.len(),
        }
    }

    /// The feed with the items at `shown`, in that order.
    fn with(&self, shown: &[usize]) -> Vec<u8> {
        match self {
            Split::Xml { head, items, tail } => {
                let mut out = head.clone();
                for &i in shown {
                    out.push_str(&items[i]);
                    out.push('\n');
                }
                out.push_str(tail);
                out.into_bytes()
            }
            Split::Json { feed, items } => {
                let mut feed = feed.clone();
                feed["items"] = shown.iter().map(|&i| items[i].clone()).collect();
                serde_json::to_vec(&feed).expect("JSON")
            }
        }
    }
}

/// `explain` names the fact that kept a look-alike apart: the 佛山 warning's nearest candidates
/// outside its story (other cities' warnings) were refused for a place.
#[tokio::test]
async fn explain_names_the_differing_fact() {
    let feeds: Vec<(String, PathBuf)> = TEMPLATED
        .iter()
        .map(|(name, file)| (name.to_string(), templated(file)))
        .collect();
    let env = Env::new(&file_sources(&feeds)).await;
    env.fetch().await;
    let e = explain(&env.store, "a-alert-fs-0509", &env.config.fold)
        .await
        .expect("explain")
        .expect("found");
    let reasons: Vec<String> = e.nearest.iter().map(|n| n.verdict.reason().to_string()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("differ at the same place in their wording: place ")),
        "{reasons:#?}"
    );
}

/// The stories of one fetch of every feed at once, on SQLite.
async fn all_at_once(feeds: &[(String, PathBuf)]) -> (Partition, usize) {
    let env = Env::new(&file_sources(feeds)).await;
    let reports = env.fetch().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    let items = env.store.all_items().await.expect("items");
    (partition(&items), items.len())
}

/// Seeds of the arrival-order property; each one is a dozen or so fetch cycles.
const ORDER_SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 0x5eed];

#[tokio::test]
async fn partitions_do_not_depend_on_arrival_order() {
    let feeds = all_feeds();
    let (want, count) = all_at_once(&feeds).await;
    let splits: Vec<Split> = feeds.iter().map(|(_, path)| Split::of(path)).collect();

    let mut failures = Vec::new();
    for seed in ORDER_SEEDS {
        let mut rng = Rng::new(seed);
        let origin = Origin::start().await;
        // Sources listed in a random order; every feed starts empty.
        let mut order: Vec<usize> = (0..feeds.len()).collect();
        rng.shuffle(&mut order);
        let mut list = Vec::new();
        for &f in &order {
            let (name, path) = &feeds[f];
            let file = path.file_name().expect("file name").to_string_lossy().to_string();
            origin.set_mutable(&file, &splits[f].with(&[]));
            list.push((name.as_str(), origin.url(&format!("/mutable/{file}"))));
        }
        let env = Env::new(&sources(&list)).await;

        // Each feed reveals its items in an order of its own, a random number per cycle (none
        // for some feeds in some cycles); what it shows is listed in a random order.
        let mut reveal: Vec<Vec<usize>> = splits
            .iter()
            .map(|s| {
                let mut v: Vec<usize> = (0..s.len()).collect();
                rng.shuffle(&mut v);
                v
            })
            .collect();
        let mut shown: Vec<Vec<usize>> = vec![Vec::new(); feeds.len()];
        let mut cycles = 0;
        while reveal.iter().any(|r| !r.is_empty()) {
            cycles += 1;
            for (f, (_, path)) in feeds.iter().enumerate() {
                if reveal[f].is_empty() || rng.below(3) == 0 {
                    continue;
                }
                let n = 1 + rng.below(reveal[f].len().min(8));
                shown[f].extend(reveal[f].drain(..n));
                rng.shuffle(&mut shown[f]);
                let file = path.file_name().expect("file name").to_string_lossy().to_string();
                origin.set_mutable(&file, &splits[f].with(&shown[f]));
            }
            let reports = env.fetch().await;
            assert!(
                reports.iter().all(|r| !r.failed()),
                "seed {seed}, cycle {cycles}: {reports:?}"
            );
        }
        let items = env.store.all_items().await.expect("items");
        assert_eq!(items.len(), count, "seed {seed}: every item stored");
        let got = partition(&items);
        if got != want {
            failures.push(format!(
                "seed {seed} ({cycles} cycles):{}",
                partition_diff(&want, &got)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} seeds give other stories than one fetch of everything:\n{}",
        failures.len(),
        ORDER_SEEDS.len(),
        failures.join("\n")
    );
}

/// A config for the store at `url` listing `feeds`, loaded with its store and fetcher.
async fn open_run(
    dir: &Path,
    name: &str,
    url: &str,
    feeds: &[(String, PathBuf)],
) -> (Config, Store, Fetcher) {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!("[store]\nurl = \"{url}\"\n\n{}", file_sources(feeds)),
    )
    .expect("write config");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(&config.store.url).await.expect("open store");
    let fetcher = Fetcher::new(&config.fetch).expect("client");
    (config, store, fetcher)
}

async fn fetch_run(run: &(Config, Store, Fetcher)) -> Vec<run::SourceReport> {
    let (config, store, fetcher) = run;
    run::fetch_all(config, store, fetcher, chrono::Utc::now(), Taking::Any, &|_| {})
        .await
        .expect("fetch cycle")
        .reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_fetches_on_postgres_agree() {
    let Some(admin) = postgres_admin() else {
        return;
    };
    feedfold::install_tls_provider();
    let feeds = all_feeds();
    let (want, count) = all_at_once(&feeds).await;

    let db = PostgresDb::create(&admin).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Three runs over overlapping subsets in different orders: every feed is in at least one,
    // most in two, so runs also meet on a source's lease.
    let pick = |idx: &[usize]| -> Vec<(String, PathBuf)> { idx.iter().map(|&i| feeds[i].clone()).collect() };
    let n = feeds.len();
    let first: Vec<usize> = [0, 2].into_iter().chain((3..n).step_by(2)).collect();
    let second: Vec<usize> = [1, 0].into_iter().chain((4..n).step_by(2)).collect();
    let third: Vec<usize> = [2, 1].into_iter().chain((3..n).rev()).collect();
    let runs = [
        open_run(dir.path(), "one", &db.url, &pick(&first)).await,
        open_run(dir.path(), "two", &db.url, &pick(&second)).await,
        open_run(dir.path(), "three", &db.url, &pick(&third)).await,
    ];
    let (a, b, c) = tokio::join!(fetch_run(&runs[0]), fetch_run(&runs[1]), fetch_run(&runs[2]));
    for r in a.iter().chain(&b).chain(&c) {
        assert!(!r.failed(), "{r:?}");
    }
    let items = runs[0].1.all_items().await.expect("items");
    for (_, store, _) in &runs {
        store.close().await;
    }
    assert_eq!(items.len(), count, "every item stored once");
    let got = partition(&items);
    assert!(
        got == want,
        "three runs at once on PostgreSQL differ from one SQLite fetch:{}",
        partition_diff(&want, &got)
    );
}
