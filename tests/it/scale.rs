//! Several feedfold processes sharing one store (issue 7), on PostgreSQL: `fetch` runs at once
//! fetch each source once; fold passes at once make one story of a story's copies, and a pass
//! waits for one under way in another process.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use feedfold::config::Config;
use feedfold::run::{self, Outcome};
use feedfold::source::http::Fetcher;
use feedfold::store::Store;
use sqlx::Connection;

use crate::support::{Origin, PostgresDb, postgres_admin, sources};

/// About 200 CJK characters in sentences, a different text for every seed: copies of a story
/// share it, different stories share (almost) no character trigram.
fn story_text(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = String::new();
    for i in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(char::from_u32(0x4e00 + (x % 0x5000) as u32).unwrap_or('中'));
        if i % 40 == 39 {
            out.push('。');
        }
    }
    out
}

/// An RSS feed of `(link, seed, day)` items: each item's text is `story_text(seed)`, its title
/// the text's first characters, its date day `day` of January 2024.
fn rss(items: &[(String, u64, u32)]) -> Vec<u8> {
    let items: String = items
        .iter()
        .map(|(link, seed, day)| {
            let text = story_text(*seed);
            let title: String = text.chars().take(12).collect();
            format!(
                "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
                 <pubDate>{}, {day:02} Jan 2024 08:00:00 +0800</pubDate>\
                 <description><![CDATA[<p>{text}</p>]]></description></item>",
                ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][(*day as usize - 1) % 7]
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <link>http://news.example/</link><description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

/// Stories per round in [`scale_feed`].
const STORIES: usize = 10;

/// The feed of source `sNNN` at its `before`-th fetch: a copy of story `NNN % 10` of every round
/// up to `before`. Even sources link the story's canonical URL (exact copies), odd ones a page
/// of their own (near copies, folded by text). So every fetch brings one new item, and each
/// round's stories have copies in 30 sources.
fn scale_feed(name: &str, before: usize) -> Vec<u8> {
    let i: usize = name.trim_start_matches('s').parse().unwrap_or(0);
    let k = i % STORIES;
    let items: Vec<(String, u64, u32)> = (0..=before)
        .map(|round| {
            let link = if i.is_multiple_of(2) {
                format!("http://story.example/r{round}/k{k}")
            } else {
                format!("http://s{i}.example/r{round}/k{k}")
            };
            (link, (round * STORIES + k) as u64, round as u32 + 1)
        })
        .collect();
    rss(&items)
}

/// The round and story of an item link written by [`scale_feed`].
fn round_and_story(link: &str) -> Option<(usize, usize)> {
    let mut parts = link.rsplit('/');
    let k = parts.next()?.strip_prefix('k')?.parse().ok()?;
    let round = parts.next()?.strip_prefix('r')?.parse().ok()?;
    Some((round, k))
}

/// The items of the store at `url`: source, link, story (None while waiting to be folded).
async fn items(url: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let rows = sqlx::query_as("SELECT source, link, story_id FROM items")
        .fetch_all(&mut conn)
        .await
        .expect("items");
    conn.close().await.expect("close");
    rows
}

/// Checks the store after `rounds` rounds of [`scale_feed`] over `sources` sources, once the
/// daemons folded them: one item per source and round (none twice), the copies of each story
/// in one story and different stories apart. Items of later rounds are left out.
async fn one_story_per_story(url: &str, sources: usize, rounds: usize) {
    let earlier = |link: &Option<String>| {
        link.as_deref()
            .and_then(round_and_story)
            .is_some_and(|(round, _)| round < rounds)
    };
    wait_for("the items to be folded", Duration::from_secs(20), async || {
        items(url)
            .await
            .iter()
            .all(|(_, link, story)| story.is_some() || !earlier(link))
    })
    .await;
    let rows = items(url).await;
    let mut items: BTreeSet<(String, usize)> = BTreeSet::new();
    let mut stories: BTreeMap<(usize, usize), BTreeSet<String>> = BTreeMap::new();
    for (source, link, story) in rows {
        let Some((round, k)) = link.as_deref().and_then(round_and_story) else {
            panic!("unexpected item {link:?} of {source}");
        };
        if round >= rounds {
            continue;
        }
        assert!(
            items.insert((source.clone(), round)),
            "{source} round {round} twice"
        );
        let story = story.unwrap_or_else(|| panic!("{source} round {round} not folded"));
        stories.entry((round, k)).or_default().insert(story);
    }
    assert_eq!(items.len(), sources * rounds, "one item per source and round");
    let split: Vec<_> = stories.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(split.is_empty(), "stories split: {split:?}");
    let ids: BTreeSet<&String> = stories.values().flatten().collect();
    assert_eq!(ids.len(), stories.len(), "different stories kept apart");
}

/// A config over the store at `url` with `body` after it, written into `dir` as `name.toml`.
fn write_config(dir: &Path, name: &str, url: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("[store]\nurl = \"{url}\"\n\n{body}")).expect("write config");
    path
}

fn load(path: &Path) -> Config {
    Config::load(path).unwrap_or_else(|e| panic!("{e}"))
}

/// `[[source]]` tables `s000`… for `/generated/…` of `origin`.
fn generated_sources(origin: &Origin, n: usize) -> String {
    let list: Vec<(String, String)> = (0..n)
        .map(|i| (format!("s{i:03}"), origin.url(&format!("/generated/s{i:03}"))))
        .collect();
    let borrowed: Vec<(&str, String)> = list.iter().map(|(n, u)| (n.as_str(), u.clone())).collect();
    sources(&borrowed)
}

/// A one-shot fetch cycle of the config at `path`, as `feedfold fetch` runs it.
async fn fetch_run(path: PathBuf) -> Vec<run::SourceReport> {
    let cfg = load(&path);
    let store = Store::open(&cfg.store.url).await.expect("open store");
    let fetcher = Fetcher::new(&cfg.fetch).expect("client");
    let cycle = run::fetch_all(&cfg, &store, &fetcher, Utc::now(), &|_| {})
        .await
        .expect("fetch cycle");
    store.close().await;
    cycle.reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_runs_at_once_fetch_each_source_once() {
    let Some(admin) = postgres_admin() else { return };
    feedfold::install_tls_provider();
    let db = PostgresDb::create(&admin).await;
    let origin = Origin::start().await;
    origin.set_generator(scale_feed);
    // Every answer takes a while, so the two runs overlap whatever the machine's load.
    origin.set_delay(Duration::from_millis(300));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(
        dir.path(),
        "fetch",
        &db.url,
        &format!("[fetch]\nper_host = 8\n\n{}", generated_sources(&origin, 20)),
    );
    let (one, two) = tokio::join!(
        tokio::spawn(fetch_run(path.clone())),
        tokio::spawn(fetch_run(path))
    );
    let (one, two) = (one.expect("run"), two.expect("run"));
    for (a, b) in one.iter().zip(&two) {
        let fetched = [a, b]
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Stored { .. }))
            .count();
        let elsewhere = [a, b]
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Elsewhere { .. }))
            .count();
        assert_eq!((fetched, elsewhere), (1, 1), "{a:?} {b:?}");
    }
    for i in 0..20 {
        assert_eq!(origin.hits(&format!("/generated/s{i:03}")), 1, "s{i:03}");
    }
    one_story_per_story(&db.url, 20, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fold_passes_at_once_make_one_story() {
    let Some(admin) = postgres_admin() else { return };
    feedfold::install_tls_provider();
    let db = PostgresDb::create(&admin).await;
    let origin = Origin::start().await;
    origin.set_generator(scale_feed);
    let dir = tempfile::tempdir().expect("tempdir");
    // Two runs over different sources carrying copies of the same stories (s000 and s010 carry
    // story 0, s001 and s011 story 1, …): each run folds its own new items while the other
    // stores and folds the other copies.
    let config = |name: &str, range: std::ops::Range<usize>| {
        let all = generated_sources(&origin, 20);
        let body: String = all
            .split("[[source]]")
            .filter(|t| !t.trim().is_empty())
            .skip(range.start)
            .take(range.len())
            .map(|t| format!("[[source]]{t}"))
            .collect();
        write_config(
            dir.path(),
            name,
            &db.url,
            &format!("[fetch]\nper_host = 8\n\n{body}"),
        )
    };
    let (x, y) = (config("x", 0..10), config("y", 10..20));
    let rounds = 6;
    for _ in 0..rounds {
        let (a, b) = tokio::join!(
            tokio::spawn(fetch_run(x.clone())),
            tokio::spawn(fetch_run(y.clone()))
        );
        for r in a.expect("run").iter().chain(&b.expect("run")) {
            assert!(matches!(r.outcome, Outcome::Stored { .. }), "{r:?}");
        }
    }
    one_story_per_story(&db.url, 20, rounds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fold_pass_waits_for_one_under_way_in_another_process() {
    let Some(admin) = postgres_admin() else { return };
    let db = PostgresDb::create(&admin).await;
    let store = Store::open(&db.url).await.expect("open store");
    let now = Utc::now();
    // A first pass, so the one measured below has nothing to load.
    store
        .fold_pending(&Default::default(), &Default::default())
        .await
        .expect("fold");
    for source in ["a", "b"] {
        let item = feedfold::model::Item {
            key: format!("{source}-1"),
            link: Some(format!("http://{source}.example/1")),
            title: Some("t".to_string()),
            content: Some(story_text(7)),
            ..feedfold::model::Item::default()
        };
        store
            .ingest(source, &[item], now, &|i| run::render_item(i, None))
            .await
            .expect("ingest");
    }
    // Another process's pass, under way: it holds the folding lock in its transaction.
    let mut other = sqlx::AnyConnection::connect(&db.url).await.expect("connect");
    sqlx::query("BEGIN").execute(&mut other).await.expect("begin");
    sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS l")
        .bind(feedfold::store::FOLD_LOCK)
        .execute(&mut other)
        .await
        .expect("lock");
    let pass = {
        let store = store.clone();
        tokio::spawn(async move { store.fold_pending(&Default::default(), &Default::default()).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!pass.is_finished(), "the pass waits for the one under way");
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("rollback");
    let report = tokio::time::timeout(Duration::from_secs(10), pass)
        .await
        .expect("the pass goes on")
        .expect("task")
        .expect("fold");
    assert_eq!((report.items, report.stories), (2, 1));
    other.close().await.expect("close");
    store.close().await;
}

/// Waits up to `limit` for `check`, polling.
async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}
