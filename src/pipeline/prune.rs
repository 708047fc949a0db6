//! Retention: the items older than their `keep` pruned from the store, with everything stored
//! of them, in bounded batches.
//!
//! In: the config (`[store] keep`; each `[[output]]`'s `keep`, `sources`, filters and `limit`),
//! the store, and the time `now`, passed in (nothing here reads the clock). Out: a
//! [`PruneReport`] (items pruned, stories left with no copy), or the store's error. `fetch` runs
//! it after writing the outputs; the daemon after a folding pass, at most once per [`EVERY`].
//!
//! **How long an item is kept.** An output keeps the items of its sources for its own `keep`,
//! else for `[store] keep`, else forever (the default: nothing is pruned). An item goes only
//! once every output drawing from its source has let it go: a source's keep is the longest
//! among those outputs ([`Keeps`]). A source no output draws from, and one no longer in the
//! config whose items are still stored, keep theirs for `[store] keep`.
//!
//! **Old means first stored long ago.** An item's age is counted from when this store first
//! saw it (`first_seen`), not from the date its feed gives: that date may be missing, in the
//! future, or years back for an item that is new here (a source added today with an archive in
//! its feed), and a feed can change it at will; the time of first storing is the store's own,
//! always there, and only moves forward. So an item is kept at least `keep` after it arrived,
//! whatever it says of itself.
//!
//! **Nothing an output shows is pruned.** Each output's entries are selected as it publishes
//! them (sources, `dedup`, regions, keywords, `limit`: [`publish::shown`]), and every copy of an
//! entry shown (the copy shown and the "also reported by" ones) is kept however old: an output
//! whose sources went quiet still shows its latest `limit` entries. (The daemon's ad-hoc views
//! may ask for more entries than `limit`; beyond it they show what is left.)
//!
//! **Batches.** At most [`BATCH`] items are deleted per store transaction ([`Store::prune`]),
//! which holds the store's single writer (and on PostgreSQL the folding pass's lock) only for
//! that long: between batches the daemon goes on storing, folding and serving. On SQLite each
//! batch is followed by giving up to [`RECLAIM_PAGES`] free pages back to the file system
//! ([`Store::reclaim`]), and the rest once the last batch is done.
//!
//! **Stories.** A story keeps its id while any of its copies is left: the folding pass names a
//! stored story after its first copy among those left ([`crate::pipeline::fold`]), so a story
//! whose oldest copy was pruned keeps the id, and later copies join it. A story all of whose
//! copies were pruned is gone with them.
//!
//! **A feed that still carries a pruned item** does not bring it back: the store keeps a
//! tombstone of the item's key while its feed carries it, and storing the feed leaves it out
//! (see [`crate::store`]). Without it, an old item a feed keeps serving would come back as a
//! new entry in every output and be pruned again a `keep` later, forever.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::output::Selection;
use crate::pipeline::publish;
use crate::store::{Expired, Store, StoreError, par_map, ts};
use crate::transform::normalize;

/// Most items deleted in one store transaction.
pub const BATCH: usize = 500;

/// The daemon prunes at most this often.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Most free pages given back to the file system in one step (8 MiB of 4 KiB pages), each
/// step a write of its own.
pub const RECLAIM_PAGES: i64 = 2048;

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Items pruned.
    pub items: usize,
    /// Stories none of whose copies is left.
    pub stories: usize,
}

/// How long each source's items are kept (see the module documentation): the longest keep of
/// the outputs drawing from it, None for forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keeps {
    /// Every configured source's keep.
    sources: HashMap<String, Option<Duration>>,
    /// The keep of sources not in the config: `[store] keep`.
    others: Option<Duration>,
}

impl Keeps {
    /// The keeps `cfg` gives.
    pub fn of(cfg: &Config) -> Keeps {
        let mut drawn: HashMap<&str, Option<Duration>> = HashMap::new();
        for out in &cfg.outputs {
            let keep = out.keep.or(cfg.store.keep);
            for source in cfg.output_sources(out) {
                drawn
                    .entry(source)
                    .and_modify(|k| *k = longest(*k, keep))
                    .or_insert(keep);
            }
        }
        let sources = cfg
            .sources
            .iter()
            .map(|s| {
                let keep = drawn.get(s.name.as_str()).copied().unwrap_or(cfg.store.keep);
                (s.name.clone(), keep)
            })
            .collect();
        Keeps {
            sources,
            others: cfg.store.keep,
        }
    }

    /// How long the items of `source` are kept (None: forever).
    pub fn of_source(&self, source: &str) -> Option<Duration> {
        self.sources.get(source).copied().unwrap_or(self.others)
    }

    /// Whether any items are ever pruned.
    pub fn any(&self) -> bool {
        self.others.is_some() || self.sources.values().any(Option::is_some)
    }
}

/// The longer of two keeps, None being forever.
fn longest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    Some(a?.max(b?))
}

/// Prunes every item older than its source's keep at `now` that no output shows (see the
/// module documentation), [`BATCH`] items per store transaction. With no `keep` in the config
/// it does nothing and reads nothing.
pub async fn prune(store: &Store, cfg: &Config, now: DateTime<Utc>) -> Result<PruneReport, StoreError> {
    let keeps = Keeps::of(cfg);
    if !keeps.any() {
        return Ok(PruneReport::default());
    }
    let mut expired: Vec<i64> = Vec::new();
    let mut touched: HashSet<String> = HashSet::new();
    for source in store.stored_sources().await? {
        let Some(keep) = keeps.of_source(&source) else {
            continue;
        };
        let before = ts(now).saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX));
        let ids = store.first_seen_before(&source, before).await?;
        if !ids.is_empty() {
            expired.extend(ids);
            touched.insert(source);
        }
    }
    if expired.is_empty() {
        return Ok(PruneReport::default());
    }
    // What the outputs drawing from those sources show stays.
    let mut shown: HashSet<i64> = HashSet::new();
    for out in &cfg.outputs {
        let sources = cfg.output_sources(out);
        if sources.iter().any(|s| touched.contains(*s)) {
            shown.extend(publish::shown(store, &sources, Selection::of(out)).await?);
        }
    }
    expired.retain(|id| !shown.contains(id));
    expired.sort_unstable();
    let mut report = PruneReport::default();
    for batch in expired.chunks(BATCH) {
        let bodies = store.bodies(batch).await?;
        // The lines each item was counted under in its source's furniture, as it was stored.
        let items: Vec<Expired> = par_map(&bodies, |body| Expired {
            id: body.id,
            lines: body
                .html
                .as_deref()
                .map(|html| normalize::learnable_lines(&normalize::text_lines(html)))
                .unwrap_or_default(),
        });
        drop(bodies);
        let pruned = store.prune(&items).await?;
        report.items += pruned.items;
        report.stories += pruned.stories;
        store.reclaim(RECLAIM_PAGES).await?;
    }
    // What the batches freed beyond a step each.
    let mut left = store.reclaim(RECLAIM_PAGES).await?;
    while left > 0 {
        let now_left = store.reclaim(RECLAIM_PAGES).await?;
        if now_left >= left {
            break;
        }
        left = now_left;
    }
    Ok(report)
}

/// [`prune`], logging what it did or why it failed: the daemon keeps running and prunes again
/// after the next interval.
pub async fn prune_logged(store: &Store, cfg: &Config, now: DateTime<Utc>) -> Option<PruneReport> {
    match prune(store, cfg, now).await {
        Ok(report) => {
            if report.items > 0 {
                tracing::info!(
                    items = report.items,
                    stories = report.stories,
                    "pruned items older than their keep"
                );
            }
            Some(report)
        }
        Err(e) => {
            tracing::error!(error = %crate::run::error_chain(&e), "pruning failed; will retry");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    use chrono::TimeZone;
    use sqlx::Row;

    use crate::model::Item;
    use crate::pipeline::ingest::{self, ReadyMap};
    use crate::store::Rendered;

    const DAY: i64 = 86_400;
    /// Day 0 of the tests' clock.
    const T0: i64 = 1_700_000_000;

    fn day(d: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(T0 + d * DAY, 0).single().expect("time")
    }

    fn config(text: &str) -> Config {
        let sources = "[[source]]\nname = \"a\"\nurl = \"http://a.example/feed\"\n\
                       [[source]]\nname = \"b\"\nurl = \"http://b.example/feed\"\n";
        Config::parse(
            &format!("{text}\n{sources}"),
            Path::new("/tmp/feedfold-prune.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// An item with a body of its own (`n` tells bodies apart), published on day `published`.
    fn item(key: &str, n: usize, published: i64) -> Item {
        let words = [
            "经济", "发展", "政策", "北京", "会议", "交通", "天气", "教育", "医疗", "能源",
        ];
        let text: String = (0..120)
            .map(|i| words[(i * 7 + n * 3 + i / 9) % words.len()])
            .collect();
        Item {
            key: key.to_string(),
            guid: Some(key.to_string()),
            url: Some(format!("https://news.example/{key}")),
            link: Some(format!("https://news.example/{key}")),
            title: Some(format!("第{n}条 {key}")),
            content: Some(format!(
                "<p>{text}{n}</p><p>本报讯 {key}</p><p>责任编辑：王伟</p>"
            )),
            published: Utc.timestamp_opt(T0 + published * DAY, 0).single(),
            ..Item::default()
        }
    }

    fn render(i: &Item) -> Rendered {
        Rendered {
            title_html: None,
            summary_html: None,
            content_html: i.content.clone(),
        }
    }

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        Store::open(&url).await.expect("open")
    }

    /// Stores `items` of `source` as fetched on day `d`, and folds them.
    async fn fetch(
        store: &Store,
        cfg: &Config,
        source: &str,
        items: &[Item],
        d: i64,
    ) -> crate::store::IngestCounts {
        let ready = ReadyMap::default();
        let counts = ingest::items(store, &ready, source, items, day(d), Arc::new(render))
            .await
            .expect("ingest");
        crate::pipeline::fold::fold(store, cfg, &ready)
            .await
            .expect("fold");
        counts
    }

    async fn keys(store: &Store) -> Vec<String> {
        let mut keys: Vec<String> = store
            .all_items()
            .await
            .expect("items")
            .into_iter()
            .map(|i| i.key)
            .collect();
        keys.sort();
        keys
    }

    async fn count(store: &Store, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&store.pool_for_tests())
            .await
            .expect(sql)
    }

    #[test]
    fn a_source_keeps_its_items_as_long_as_the_longest_output_drawing_from_it() {
        let cfg = config(
            "[store]\nkeep = \"30d\"\n\
             [[output]]\nname = \"short\"\ntitle = \"S\"\nkeep = \"7d\"\nsources = [\"a\"]\n\
             [[output]]\nname = \"long\"\ntitle = \"L\"\nkeep = \"90d\"\nsources = [\"a\"]\n\
             [[output]]\nname = \"b\"\ntitle = \"B\"\nkeep = \"2d\"\nsources = [\"b\"]\n",
        );
        let keeps = Keeps::of(&cfg);
        let days = |d: u64| Some(Duration::from_secs(d * 86_400));
        assert_eq!(keeps.of_source("a"), days(90), "the longer output protects");
        assert_eq!(keeps.of_source("b"), days(2));
        assert_eq!(keeps.of_source("gone"), days(30), "a source no longer configured");

        let cfg = config(
            "[[output]]\nname = \"short\"\ntitle = \"S\"\nkeep = \"7d\"\nsources = [\"a\"]\n\
             [[output]]\nname = \"all\"\ntitle = \"A\"\n",
        );
        let keeps = Keeps::of(&cfg);
        assert_eq!(
            keeps.of_source("a"),
            None,
            "`all` keeps forever without [store] keep"
        );
        assert!(!keeps.any(), "every source is in `all`: nothing is ever pruned");
        let cfg = config(
            "[[output]]\nname = \"short\"\ntitle = \"S\"\nkeep = \"7d\"\nsources = [\"a\"]\n\
             [[output]]\nname = \"b\"\ntitle = \"B\"\nsources = [\"b\"]\n",
        );
        let keeps = Keeps::of(&cfg);
        assert_eq!((keeps.of_source("a"), keeps.of_source("b")), (days(7), None));
        assert!(keeps.any(), "an output's keep alone prunes");
        assert!(!Keeps::of(&config("[[output]]\nname = \"all\"\ntitle = \"A\"\n")).any());
    }

    /// An item first stored more than `keep` ago goes with every row stored of it (body, band
    /// keys, pairs, exact keys, its furniture line counts) and leaves a tombstone; a newer one,
    /// and one an output shows, stay. Without a keep nothing goes, however old.
    #[tokio::test]
    async fn items_older_than_keep_are_pruned_with_all_their_rows() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let cfg = config("[store]\nkeep = \"30d\"\n[[output]]\nname = \"all\"\ntitle = \"A\"\nlimit = 1\n");
        // a1 and its copy b1 (one story, one exact group: the same link), a2 alone: all on day 0.
        let mut b1 = item("a1", 1, 0);
        b1.key = "b1".into();
        b1.guid = Some("b1".into());
        fetch(&store, &cfg, "a", &[item("a1", 1, 0), item("a2", 2, 0)], 0).await;
        fetch(&store, &cfg, "b", &[b1], 0).await;
        assert!(
            count(&store, "SELECT COUNT(*) FROM item_pairs").await > 0,
            "a1 and b1 are paired"
        );
        let lines_before = count(
            &store,
            "SELECT COALESCE(SUM(items), 0) FROM source_lines WHERE source = 'a'",
        )
        .await;
        // a3 on day 20: the newest, the one entry `all` shows.
        fetch(
            &store,
            &cfg,
            "a",
            &[item("a1", 1, 0), item("a2", 2, 0), item("a3", 3, 20)],
            20,
        )
        .await;

        let nothing = config("[[output]]\nname = \"all\"\ntitle = \"A\"\nlimit = 1\n");
        assert_eq!(
            prune(&store, &nothing, day(400)).await.expect("prune"),
            PruneReport::default()
        );
        assert_eq!(
            keys(&store).await,
            ["a1", "a2", "a3", "b1"],
            "no keep, nothing pruned"
        );
        assert_eq!(
            prune(&store, &cfg, day(30)).await.expect("prune").items,
            0,
            "exactly 30 days is not older than 30 days"
        );

        // Each item's page, as full text keeps it.
        sqlx::query(
            "INSERT INTO item_pages (item_id, source, url, status, fetched_at) \
             SELECT id, source, 'http://pages.example/', 'ok', 0 FROM items",
        )
        .execute(&store.pool_for_tests())
        .await
        .expect("pages");
        let report = prune(&store, &cfg, day(31)).await.expect("prune");
        assert_eq!(report, PruneReport { items: 3, stories: 2 });
        assert_eq!(keys(&store).await, ["a3"]);
        for (table, left) in [
            ("items", 1),
            ("item_bodies", 1),
            ("item_pages", 1),
            ("item_keys", 1),
            ("item_pairs", 0),
            ("exact_keys", 1),
            ("item_tombstones", 3),
        ] {
            let n = count(&store, &format!("SELECT COUNT(*) FROM {table}")).await;
            assert_eq!(n, left, "{table}");
        }
        let lines_after = count(
            &store,
            "SELECT COALESCE(SUM(items), 0) FROM source_lines WHERE source = 'a'",
        )
        .await;
        assert!(
            lines_after < lines_before,
            "a1 and a2 no longer count in a's furniture: {lines_before} -> {lines_after}"
        );
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM source_lines WHERE items <= 0").await,
            0,
            "a line no item is left in goes"
        );
        store.close().await;
    }

    /// An output with a longer keep protects the items of its sources; a source only a
    /// shorter output draws from loses them.
    #[tokio::test]
    async fn an_output_with_a_longer_keep_protects_its_sources_items() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let cfg = config(
            "[store]\nkeep = \"7d\"\n\
             [[output]]\nname = \"short\"\ntitle = \"S\"\nlimit = 1\n\
             [[output]]\nname = \"long\"\ntitle = \"L\"\nkeep = \"60d\"\nsources = [\"a\"]\nlimit = 1\n",
        );
        fetch(&store, &cfg, "a", &[item("a1", 1, 0), item("a2", 2, 1)], 0).await;
        fetch(&store, &cfg, "b", &[item("b1", 3, 0), item("b2", 4, 1)], 0).await;
        fetch(&store, &cfg, "a", &[item("a9", 9, 50)], 50).await;
        fetch(&store, &cfg, "b", &[item("b9", 10, 50)], 50).await;
        let report = prune(&store, &cfg, day(50)).await.expect("prune");
        assert_eq!(report.items, 2);
        assert_eq!(
            keys(&store).await,
            ["a1", "a2", "a9", "b9"],
            "`long` keeps a's items 60 days"
        );
        prune(&store, &cfg, day(61)).await.expect("prune");
        assert_eq!(
            keys(&store).await,
            ["a9"],
            "a's items are 61 days old; b9 is past `short`'s 7 days, and both outputs show a9"
        );
        store.close().await;
    }

    /// An output's latest `limit` entries are never pruned, however old: a source that went
    /// quiet keeps what its output shows (with each entry's other copies), and only what is
    /// beyond the limit goes.
    #[tokio::test]
    async fn an_outputs_latest_entries_are_never_pruned() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let cfg = config(
            "[store]\nkeep = \"30d\"\n\
             [[output]]\nname = \"a\"\ntitle = \"A\"\nsources = [\"a\", \"b\"]\nlimit = 2\n",
        );
        // Published on days 1…5, the newest last; a5 has a copy in b.
        let items: Vec<Item> = (1..=5).map(|n| item(&format!("a{n}"), n, n as i64)).collect();
        fetch(&store, &cfg, "a", &items, 5).await;
        let mut copy = item("a5", 5, 5);
        copy.key = "b5".into();
        copy.guid = Some("b5".into());
        fetch(&store, &cfg, "b", &[copy], 5).await;
        let report = prune(&store, &cfg, day(400)).await.expect("prune");
        assert_eq!(report.items, 3);
        assert_eq!(
            keys(&store).await,
            ["a4", "a5", "b5"],
            "the two entries shown, with a5's copy"
        );
        store.close().await;
    }

    /// A story whose oldest copy is pruned keeps its id with the copy left, and a later copy
    /// joins it under that id; a story with no copy left is gone.
    #[tokio::test]
    async fn a_story_keeps_its_id_when_one_copy_is_pruned_and_another_remains() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let cfg = config("[store]\nkeep = \"30d\"\n[[output]]\nname = \"all\"\ntitle = \"A\"\nlimit = 1\n");
        let copy = |key: &str, title: &str| {
            let mut i = item("x", 7, 10);
            i.key = key.into();
            i.guid = Some(key.into());
            i.url = Some(format!("https://other.example/{key}"));
            i.link = i.url.clone();
            i.title = Some(title.into());
            i
        };
        fetch(&store, &cfg, "a", &[copy("a1", "第七条 北京会议")], 0).await;
        fetch(&store, &cfg, "b", &[copy("b1", "北京会议 第七条")], 20).await;
        let story = |items: &[crate::model::StoredItem], key: &str| {
            items.iter().find(|i| i.key == key).map(|i| i.story_id.clone())
        };
        let before = store.all_items().await.expect("items");
        let id = story(&before, "a1").expect("a1");
        assert_eq!(story(&before, "b1").as_ref(), Some(&id), "one story");
        // Something newer fills `all`, so the story is not shown.
        fetch(
            &store,
            &cfg,
            "b",
            &[copy("b1", "北京会议 第七条"), item("b2", 2, 30)],
            30,
        )
        .await;

        let report = prune(&store, &cfg, day(35)).await.expect("prune");
        assert_eq!(
            report,
            PruneReport { items: 1, stories: 0 },
            "a1 goes, its story stays"
        );
        let after = store.all_items().await.expect("items");
        assert_eq!(story(&after, "b1").as_ref(), Some(&id), "b1 keeps the story's id");
        fetch(&store, &cfg, "a", &[copy("a2", "北京会议 第七条 ")], 36).await;
        let joined = store.all_items().await.expect("items");
        assert_eq!(story(&joined, "a2").as_ref(), Some(&id), "a later copy joins it");

        let report = prune(&store, &cfg, day(80)).await.expect("prune");
        assert_eq!(
            report,
            PruneReport { items: 2, stories: 1 },
            "its last copies go: it is gone"
        );
        store.close().await;
    }

    /// A pruned item its feed still serves is not stored again (it counts as unchanged), on
    /// every later fetch; once the feed has dropped it, its tombstone goes.
    #[tokio::test]
    async fn an_old_item_the_feed_still_serves_is_not_stored_again() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let cfg = config("[store]\nkeep = \"30d\"\n[[output]]\nname = \"all\"\ntitle = \"A\"\nlimit = 1\n");
        let old = item("a1", 1, 0);
        fetch(&store, &cfg, "a", std::slice::from_ref(&old), 0).await;
        fetch(&store, &cfg, "a", &[old.clone(), item("a2", 2, 40)], 40).await;
        assert_eq!(prune(&store, &cfg, day(40)).await.expect("prune").items, 1);
        for d in [41, 80, 200] {
            let counts = fetch(&store, &cfg, "a", &[old.clone(), item("a2", 2, 40)], d).await;
            assert_eq!(
                (counts.new, counts.updated, counts.unchanged),
                (0, 0, 2),
                "day {d}"
            );
            assert_eq!(keys(&store).await, ["a2"], "day {d}");
            prune(&store, &cfg, day(d)).await.expect("prune");
        }
        // Changed, it stays out too.
        let mut edited = old.clone();
        edited.title = Some("更正".into());
        let counts = fetch(&store, &cfg, "a", &[edited, item("a2", 2, 40)], 201).await;
        assert_eq!(counts.new + counts.updated, 0);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM item_tombstones").await, 1);
        fetch(&store, &cfg, "a", &[item("a2", 2, 40)], 202).await;
        assert_eq!(
            count(&store, "SELECT COUNT(*) FROM item_tombstones").await,
            0,
            "the feed dropped it"
        );
        store.close().await;
    }

    /// On SQLite, the pages pruning frees go back to the file system: the database has fewer
    /// pages and no free ones left.
    #[tokio::test]
    async fn the_sqlite_file_gives_the_space_back() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let cfg = config("[store]\nkeep = \"30d\"\n[[output]]\nname = \"all\"\ntitle = \"A\"\nlimit = 1\n");
        let items: Vec<Item> = (0..300)
            .map(|n| {
                let mut i = item(&format!("a{n}"), n, 0);
                i.content = Some(format!("<p>{}</p>", format!("{n} 长文 ").repeat(400)));
                i
            })
            .collect();
        fetch(&store, &cfg, "a", &items, 0).await;
        fetch(&store, &cfg, "b", &[item("b1", 1, 40)], 40).await;
        let pages = |store: &Store| {
            let pool = store.pool_for_tests();
            async move {
                let mut conn = pool.acquire().await.expect("conn");
                let row = sqlx::query("SELECT * FROM pragma_page_count(), pragma_freelist_count()")
                    .fetch_one(&mut *conn)
                    .await
                    .expect("pages");
                (row.get::<i64, _>(0), row.get::<i64, _>(1))
            }
        };
        let (before, _) = pages(&store).await;
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&store.pool_for_tests())
            .await
            .expect("mode");
        assert_eq!(mode, 2, "a new store is created with incremental vacuum");
        assert_eq!(prune(&store, &cfg, day(40)).await.expect("prune").items, 300);
        let (after, free) = pages(&store).await;
        assert_eq!(free, 0, "no free page left");
        assert!(after * 4 < before, "{before} pages -> {after}");
        store.close().await;
    }
}
