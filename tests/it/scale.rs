//! Several feedfold processes sharing one store (issue 7), on PostgreSQL: `fetch` runs at once
//! fetch each source once; fold passes at once make one story of a story's copies; three daemons
//! over 300 sources fetch each source exactly once per cycle, make one story per story, show
//! every change in every daemon's outputs (and a web-only daemon's) within seconds, and take
//! over the sources of a daemon killed mid-cycle within one lease period. A web-only daemon
//! follows what a worker stores on SQLite too.
//!
//! The daemons run in this process, each on a tokio runtime of its own, so one can be killed
//! where it stands (its runtime dropped: no graceful path, its leases not given back).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use feedfold::config::Config;
use feedfold::run::{self, Outcome};
use feedfold::serve::{self, Role, ServeError, Signal};
use feedfold::source::http::Fetcher;
use feedfold::store::{Store, Taking};
use sqlx::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::support::{Backend, Origin, PostgresDb, postgres_admin, sources};

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

/// What most tests here start from.
struct Setup {
    /// A fresh PostgreSQL database.
    db: PostgresDb,
    /// An origin serving [`scale_feed`] at `/generated/sNNN`.
    origin: Origin,
    /// A folder for configs.
    dir: tempfile::TempDir,
}

impl Setup {
    /// None when the PostgreSQL tests are skipped.
    async fn new() -> Option<Setup> {
        let admin = postgres_admin()?;
        feedfold::install_tls_provider();
        let origin = Origin::start().await;
        origin.set_generator(scale_feed);
        Some(Setup {
            db: PostgresDb::create(&admin).await,
            origin,
            dir: tempfile::tempdir().expect("tempdir"),
        })
    }
}

/// A one-shot fetch cycle of the config at `path`, as `feedfold fetch` runs it.
async fn fetch_run(path: PathBuf) -> Vec<run::SourceReport> {
    let cfg = load(&path);
    let store = Store::open(&cfg.store.url).await.expect("open store");
    let fetcher = Fetcher::new(&cfg.fetch).expect("client");
    let cycle = run::fetch_all(&cfg, &store, &fetcher, Utc::now(), Taking::Any, &|_| {})
        .await
        .expect("fetch cycle");
    store.close().await;
    cycle.reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_runs_at_once_fetch_each_source_once() {
    let Some(Setup { db, origin, dir }) = Setup::new().await else {
        return;
    };
    // Every answer takes a while, so the two runs overlap whatever the machine's load.
    origin.set_delay(Duration::from_millis(300));
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
    let served = origin.served();
    assert_eq!(served.len(), 20);
    assert!(served.values().all(|s| s.len() == 1), "{served:?}");
    one_story_per_story(&db.url, 20, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fold_passes_at_once_make_one_story() {
    let Some(Setup { db, origin, dir }) = Setup::new().await else {
        return;
    };
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
    feedfold::pipeline::fold::fold_pending(
        &store,
        &Default::default(),
        &Default::default(),
        &Default::default(),
    )
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
        let render =
            std::sync::Arc::new(|i: &feedfold::model::Item| feedfold::pipeline::ingest::render(i, None));
        feedfold::pipeline::ingest::items(&store, &Default::default(), source, &[item], now, render)
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
        tokio::spawn(async move {
            feedfold::pipeline::fold::fold_pending(
                &store,
                &Default::default(),
                &Default::default(),
                &Default::default(),
            )
            .await
        })
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

/// What a test daemon does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Both,
    Web,
    Worker,
}

/// A daemon on a tokio runtime of its own. Dropping it kills it.
struct Daemon {
    runtime: Option<tokio::runtime::Runtime>,
    signals: mpsc::Sender<Signal>,
    handle: tokio::task::JoinHandle<Result<(), ServeError>>,
    addr: Option<SocketAddr>,
}

impl Daemon {
    async fn start(path: PathBuf, kind: Kind) -> Daemon {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let cfg = load(&path);
        let (signals, rx) = mpsc::channel(4);
        let (bound, addr) = oneshot::channel();
        let handle = runtime.spawn(async move {
            let listener = match kind {
                Kind::Both | Kind::Web => {
                    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                    let _ = bound.send(l.local_addr().ok());
                    Some(l)
                }
                Kind::Worker => {
                    let _ = bound.send(None);
                    None
                }
            };
            let role = match (kind, listener) {
                (Kind::Both, Some(l)) => Role::Both(l),
                (Kind::Web, Some(l)) => Role::Web(l),
                _ => Role::Worker,
            };
            serve::run(path, cfg, role, rx).await
        });
        let addr = addr.await.expect("daemon starts");
        Daemon {
            runtime: Some(runtime),
            signals,
            handle,
            addr,
        }
    }

    /// The entries of an output as JSON Feed items.
    async fn entries(&self, output: &str) -> Vec<serde_json::Value> {
        let addr = self.addr.expect("an HTTP daemon");
        let Ok(response) = reqwest::get(format!("http://{addr}/feeds/{output}.json")).await else {
            return Vec::new();
        };
        let body = response.bytes().await.unwrap_or_default();
        let feed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        feed["items"].as_array().cloned().unwrap_or_default()
    }

    /// Stops it as SIGTERM does: fetches under way finish, leases are given back.
    async fn stop(mut self) {
        self.signals.send(Signal::Shutdown).await.expect("send");
        tokio::time::timeout(Duration::from_secs(30), &mut self.handle)
            .await
            .expect("stops in time")
            .expect("task")
            .expect("clean exit");
    }

    /// Kills it: every task dropped where it stands, nothing given back.
    fn kill(self) {}
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Not a plain drop: a runtime cannot be dropped where the test's runtime blocks.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
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

/// Entries of rounds before `rounds` among JSON Feed items of [`scale_feed`] stories.
fn entries_before(items: &[serde_json::Value], rounds: usize) -> usize {
    items
        .iter()
        .filter_map(|i| round_and_story(i["url"].as_str()?))
        .filter(|(round, _)| *round < rounds)
        .count()
}

const SOURCES: usize = 300;
const INTERVAL: Duration = Duration::from_secs(10);
const LEASE: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_fetch_each_source_once_per_cycle_and_take_over_a_killed_one() {
    let Some(Setup { db, origin, dir }) = Setup::new().await else {
        return;
    };
    let config = |name: &str| {
        let body = format!(
            "[fetch]\ninterval = \"{}s\"\nlease = \"{}s\"\ntimeout = \"3s\"\nstartup_spread = \"1s\"\n\
             concurrency = 8\nper_host = 8\nuser_agent = \"feedfold-test-{name}\"\n\n\
             [server]\nrefresh = \"500ms\"\n\n\
             [[output]]\nname = \"all\"\ntitle = \"All\"\nlimit = 1000\n\n{}",
            INTERVAL.as_secs(),
            LEASE.as_secs(),
            generated_sources(&origin, SOURCES)
        );
        write_config(dir.path(), name, &db.url, &body)
    };
    let started = Instant::now();
    let a = Daemon::start(config("a"), Kind::Both).await;
    let b = Daemon::start(config("b"), Kind::Both).await;
    let c = Daemon::start(config("c"), Kind::Worker).await;
    let web = Daemon::start(config("web"), Kind::Web).await;
    let agents = ["feedfold-test-a", "feedfold-test-b", "feedfold-test-c"];

    let served_at_least = |n: usize| {
        let origin = &origin;
        async move || {
            let served = origin.served();
            served.len() == SOURCES && served.values().all(|s| s.len() >= n)
        }
    };
    // Every source fetched exactly once per cycle, cycles an interval apart.
    let cycles_ok = |cycles: usize| {
        let served = origin.served();
        for (path, log) in &served {
            assert_eq!(log.len(), cycles, "{path} fetched {} times: {log:?}", log.len());
            for pair in log.windows(2) {
                let gap = pair[1].at - pair[0].at;
                assert!(
                    gap >= INTERVAL - Duration::from_secs(1),
                    "{path} fetched twice {gap:?} apart: {log:?}"
                );
            }
        }
        served
    };
    // Every daemon serving HTTP shows the stories of the first `rounds` rounds, each once,
    // soon after the last fetch.
    let shown = async |rounds: usize, last: Instant| {
        for (name, d) in [("a", &a), ("b", &b), ("web", &web)] {
            wait_for(
                &format!("{name} to show rounds < {rounds}"),
                Duration::from_secs(20),
                async || entries_before(&d.entries("all").await, rounds) == rounds * STORIES,
            )
            .await;
            let late = last.elapsed();
            assert!(
                late < Duration::from_secs(6),
                "{name} showed the change {late:?} after the last fetch"
            );
        }
    };

    // Cycles 1 and 2.
    wait_for("two cycles", Duration::from_secs(60), served_at_least(2)).await;
    let served = cycles_ok(2);
    let last = served.values().flatten().map(|s| s.at).max().expect("served");
    for agent in agents {
        assert!(
            served.values().flatten().any(|s| s.agent == agent),
            "{agent} fetched nothing"
        );
    }
    shown(2, last).await;
    one_story_per_story(&db.url, SOURCES, 2).await;

    // Cycle 3: c's fetches hang; it is killed holding their leases.
    origin.stall("feedfold-test-c");
    wait_for(
        "c to take a source in cycle 3",
        Duration::from_secs(30),
        async || !origin.stalls().is_empty(),
    )
    .await;
    // Let it take a few more (up to its `concurrency`).
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.kill();
    let killed = Instant::now();
    let held: BTreeSet<String> = origin.stalls().into_iter().map(|(path, _)| path).collect();
    wait_for(
        "a and b to take over c's sources",
        LEASE + Duration::from_secs(3),
        served_at_least(3),
    )
    .await;
    let served = cycles_ok(3);
    for path in &held {
        let third = &served[path][2];
        assert_ne!(third.agent, "feedfold-test-c");
        assert!(
            third.at - killed <= LEASE + Duration::from_secs(1),
            "{path} taken over {:?} after the kill",
            third.at - killed
        );
    }
    let last = served.values().flatten().map(|s| s.at).max().expect("served");
    shown(3, last).await;
    one_story_per_story(&db.url, SOURCES, 3).await;

    for d in [a, b, web] {
        d.stop().await;
    }
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.expect("connect");
    let holders: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT holder FROM leases WHERE holder IS NOT NULL")
            .fetch_all(&mut conn)
            .await
            .expect("leases");
    assert!(
        holders.is_empty(),
        "stopped daemons gave their leases back, the killed one's were taken over: {holders:?}"
    );
    conn.close().await.expect("close");
    eprintln!(
        "3 daemons, {SOURCES} sources, 3 cycles, {} sources taken over: {:?}",
        held.len(),
        started.elapsed()
    );
}

/// A web-only daemon (`--no-fetch`) shows within `[server] refresh` what a worker
/// (`--no-http`) sharing its store fetched, on SQLite as on PostgreSQL.
async fn a_web_only_daemon_shows_what_a_worker_stores(backend: Backend) {
    let db = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => match postgres_admin() {
            Some(admin) => Some(PostgresDb::create(&admin).await),
            None => return,
        },
    };
    feedfold::install_tls_provider();
    let origin = Origin::start().await;
    origin.set_generator(scale_feed);
    let dir = tempfile::tempdir().expect("tempdir");
    let url = db
        .as_ref()
        .map_or("sqlite://shared.db".to_string(), |db| db.url.clone());
    let body = format!(
        "[fetch]\nstartup_spread = 0\ninterval = \"10s\"\n\n[server]\nrefresh = \"300ms\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All\"\n\n{}",
        generated_sources(&origin, 2)
    );
    let web = Daemon::start(write_config(dir.path(), "web", &url, &body), Kind::Web).await;
    assert!(web.entries("all").await.is_empty());
    let worker = Daemon::start(write_config(dir.path(), "worker", &url, &body), Kind::Worker).await;
    for round in 1..=2 {
        wait_for(
            &format!("the worker's fetch {round}"),
            Duration::from_secs(30),
            async || origin.served().values().all(|s| s.len() == round) && origin.served().len() == 2,
        )
        .await;
        let fetched = Instant::now();
        wait_for("the web daemon to show it", Duration::from_secs(10), async || {
            entries_before(&web.entries("all").await, round) == round * 2
        })
        .await;
        assert!(
            fetched.elapsed() < Duration::from_secs(5),
            "{:?}",
            fetched.elapsed()
        );
    }
    worker.stop().await;
    web.stop().await;
    assert!(
        origin.served().values().all(|s| s.len() == 2),
        "only the worker fetched: {:?}",
        origin.served()
    );
}

on_both_backends!(a_web_only_daemon_shows_what_a_worker_stores);
