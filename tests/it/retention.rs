//! Retention (`[store] keep`, `[[output]] keep`): fetch cycles on a simulated clock against the
//! loopback origin, then pruning as `fetch` and the daemon run it. On SQLite, and on PostgreSQL
//! when `FEEDFOLD_TEST_POSTGRES` names a server.

use chrono::{DateTime, Duration, TimeZone, Utc};
use feedfold::output::Selection;
use feedfold::pipeline::prune::{self, PruneReport};
use feedfold::pipeline::publish;
use feedfold::run;
use feedfold::store::Taking;
use sqlx::Row;

use crate::support::{Backend, Env, Origin, sources, stored};

/// Day 0 of the simulated clock.
fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 8, 0, 0).single().expect("time") + Duration::days(d)
}

/// One item of a generated feed: its key (GUID and link), the text its body is made from (one
/// text, one story), and the day it says it was published.
struct Post<'a> {
    key: &'a str,
    text: &'a str,
    published: DateTime<Utc>,
}

/// The body of a story: 400 characters drawn from `text` (the same text, the same body), so
/// that two bodies of different texts share next to nothing and never fold.
fn body(text: &str) -> String {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let filler: String = (0..400)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from_u32(0x4e00 + (state % 3000) as u32).unwrap_or('字')
        })
        .collect();
    format!("{text}。{filler}。")
}

fn rss(posts: &[Post]) -> Vec<u8> {
    let items: String = posts
        .iter()
        .map(|p| {
            format!(
                "<item><title>{text}</title><link>https://news.example/{key}</link><guid>https://news.example/{key}</guid>\
                 <pubDate>{date}</pubDate><description>&lt;p&gt;{body}&lt;/p&gt;</description></item>",
                text = p.text,
                key = p.key,
                date = p.published.to_rfc2822(),
                body = body(p.text),
            )
        })
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>")
        .into_bytes()
}

/// A fetch cycle at `now`, as `feedfold fetch` runs it: fetch and fold, write the outputs,
/// prune.
async fn cycle(env: &Env, now: DateTime<Utc>) -> (Vec<run::SourceReport>, PruneReport) {
    let reports = run::fetch_all(&env.config, &env.store, &env.fetcher, now, Taking::Any, &|_| {})
        .await
        .expect("fetch cycle")
        .reports;
    run::publish(&env.config, &env.store, &env.dir.path().join("public"), now)
        .await
        .expect("publish");
    let pruned = prune::prune(&env.store, &env.config, now).await.expect("prune");
    (reports, pruned)
}

/// The entries (id, title) an output shows.
async fn shown(env: &Env, output: &str) -> Vec<(String, String)> {
    let out = env
        .config
        .outputs
        .iter()
        .find(|o| o.name == output)
        .expect("output");
    let sources = env.config.output_sources(out);
    publish::entries(&env.store, &sources, Selection::of(out))
        .await
        .expect("entries")
        .into_iter()
        .map(|e| (e.id, e.title))
        .collect()
}

async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .expect(sql)
}

/// Each stored item's story, by [`Post::key`] (the end of its GUID).
async fn stories(env: &Env) -> std::collections::BTreeMap<String, String> {
    env.store
        .all_items()
        .await
        .expect("items")
        .into_iter()
        .map(|i| {
            let key = i.key.rsplit('/').next().unwrap_or_default().to_string();
            (key, i.story_id)
        })
        .collect()
}

/// Items first stored more than 30 days before are pruned with every row of theirs, except
/// what an output shows and what a longer-keeping output draws from; the outputs show the same
/// entries after as before; a story whose older copy went keeps its id with the copy left; an
/// old item its feed keeps serving is not stored again on later cycles, and its tombstone goes
/// when the feed drops it.
async fn pruning_takes_old_items_with_their_rows_and_nothing_shown(backend: Backend) {
    let origin = Origin::start().await;
    let feeds = sources(&[
        ("a", origin.url("/mutable/a.xml")),
        ("b", origin.url("/mutable/b.xml")),
    ]);
    let Some(env) = Env::on(
        backend,
        &format!(
            "keep = \"30d\"\n\n{feeds}\
             [[output]]\nname = \"all\"\ntitle = \"All\"\nlimit = 2\n\n\
             [[output]]\nname = \"b-archive\"\ntitle = \"B\"\nsources = [\"b\"]\nkeep = \"90d\"\nlimit = 1\n"
        ),
    )
    .await
    else {
        return;
    };
    let post = |key, text, d| Post {
        key,
        text,
        published: day(d),
    };
    let mut a = vec![
        post("a1", "西安召开疫情防控工作会议", 0),
        post("a2", "陕西发布暴雨黄色预警", 1),
        post("a3", "宝鸡新建高铁站投入使用", 2),
    ];
    // b1 is a1's story from another site; b2 is b's newest.
    let b = vec![
        post("b1", "西安召开疫情防控工作会议", 0),
        post("b2", "延安苹果丰收上市", 3),
    ];
    origin.set_mutable("a.xml", &rss(&a));
    origin.set_mutable("b.xml", &rss(&b));
    let (reports, pruned) = cycle(&env, day(0)).await;
    assert_eq!((stored(&reports, "a").new, stored(&reports, "b").new), (3, 2));
    assert_eq!(pruned, PruneReport::default());
    let before = stories(&env).await;
    assert_eq!(before["a1"], before["b1"], "a1 and b1 are one story");

    a.insert(0, post("a4", "汉中举办油菜花节", 40));
    origin.set_mutable("a.xml", &rss(&a));
    let (_, pruned) = cycle(&env, day(29)).await;
    assert_eq!(pruned, PruneReport::default(), "29 days: nothing is old yet");
    let pruned = run_and_keep_entries(&env, day(40)).await;
    assert_eq!(
        pruned,
        PruneReport { items: 3, stories: 2 },
        "a1's story has b1 left"
    );
    let after = stories(&env).await;
    assert_eq!(
        after.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a4", "b1", "b2"],
        "a1-a3 were first stored 40 days ago and `all` shows a4 and b2; b keeps 90 days for b-archive"
    );
    assert_eq!(
        after["b1"], before["b1"],
        "the story keeps its id with the copy left"
    );

    let pool = sqlx::AnyPool::connect(&env.config.store.url).await.expect("pool");
    for (what, sql, want) in [
        ("items", "SELECT COUNT(*) FROM items", 3),
        ("bodies", "SELECT COUNT(*) FROM item_bodies", 3),
        ("band keys", "SELECT COUNT(*) FROM item_keys", 3),
        (
            "pairs of pruned items",
            "SELECT COUNT(*) FROM item_pairs WHERE a NOT IN (SELECT id FROM items) OR b NOT IN (SELECT id FROM items)",
            0,
        ),
        (
            "exact keys of emptied groups",
            "SELECT COUNT(*) FROM exact_keys WHERE exact_id NOT IN (SELECT exact_id FROM items)",
            0,
        ),
        ("tombstones", "SELECT COUNT(*) FROM item_tombstones", 3),
    ] {
        assert_eq!(count(&pool, sql).await, want, "{what}");
    }

    // a keeps serving a1-a3 while new items come: they stay out, cycle after cycle.
    for (d, key, text) in [(41, "a5", "咸阳机场新航站楼启用"), (42, "a6", "渭南启动春耕生产")]
    {
        a.insert(0, post(key, text, d));
        origin.set_mutable("a.xml", &rss(&a));
        let (reports, _) = cycle(&env, day(d)).await;
        let counts = stored(&reports, "a");
        assert_eq!((counts.new, counts.unchanged), (1, a.len() - 1), "day {d}");
        let keys = stories(&env).await;
        assert!(
            !keys.contains_key("a1") && !keys.contains_key("a3"),
            "day {d}: {keys:?}"
        );
    }
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM item_tombstones").await, 3);
    a.retain(|p| p.key != "a1");
    origin.set_mutable("a.xml", &rss(&a));
    cycle(&env, day(43)).await;
    assert_eq!(
        count(&pool, "SELECT COUNT(*) FROM item_tombstones").await,
        2,
        "a1's tombstone goes once its feed no longer lists it"
    );
    pool.close().await;
}

/// A cycle at `now` whose pruning must leave every output's entries as they were.
async fn run_and_keep_entries(env: &Env, now: DateTime<Utc>) -> PruneReport {
    run::fetch_all(&env.config, &env.store, &env.fetcher, now, Taking::Any, &|_| {})
        .await
        .expect("fetch cycle");
    let mut before = Vec::new();
    for out in &env.config.outputs {
        before.push(shown(env, &out.name).await);
    }
    let pruned = prune::prune(&env.store, &env.config, now).await.expect("prune");
    assert!(pruned.items > 0, "something was old");
    for (out, before) in env.config.outputs.iter().zip(before) {
        assert_eq!(
            shown(env, &out.name).await,
            before,
            "output {} shows what it showed",
            out.name
        );
    }
    pruned
}

on_both_backends!(pruning_takes_old_items_with_their_rows_and_nothing_shown);

/// The SQLite file gives the space of pruned items back: after a checkpoint it is smaller, and
/// it has no free pages left.
#[tokio::test]
async fn the_sqlite_file_shrinks_after_pruning() {
    let origin = Origin::start().await;
    let feeds = sources(&[("a", origin.url("/mutable/a.xml"))]);
    let env = Env::new(&format!(
        "keep = \"30d\"\n\n{feeds}[[output]]\nname = \"all\"\ntitle = \"All\"\nlimit = 1\n"
    ))
    .await;
    let texts: Vec<String> = (0..400)
        .map(|n| format!("第{n}号通知 关于做好相关工作的通知"))
        .collect();
    let keys: Vec<String> = (0..400).map(|n| format!("n{n}")).collect();
    let posts: Vec<Post> = keys
        .iter()
        .zip(&texts)
        .map(|(key, text)| Post {
            key,
            text,
            published: day(0),
        })
        .collect();
    origin.set_mutable("a.xml", &rss(&posts));
    cycle(&env, day(0)).await;
    let file = env.dir.path().join("test.db");
    let checkpointed_size = || async {
        let pool = sqlx::AnyPool::connect(&env.config.store.url).await.expect("pool");
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&pool)
            .await
            .expect("checkpoint");
        assert_eq!(row.get::<i64, _>(0), 0, "checkpoint not blocked");
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&pool)
            .await
            .expect("freelist");
        pool.close().await;
        (std::fs::metadata(&file).expect("file").len(), free)
    };
    let (before, _) = checkpointed_size().await;
    origin.set_mutable("a.xml", &rss(&posts[..1]));
    let (_, pruned) = cycle(&env, day(31)).await;
    assert_eq!(pruned.items, 399, "all but the one entry `all` shows");
    let (after, free) = checkpointed_size().await;
    assert_eq!(free, 0, "no free page left in the file");
    assert!(after * 3 < before, "{before} bytes -> {after}");
}

/// A fetch cycle over the config at `path`, as if run `days` days ago.
async fn fetch_days_ago(path: &std::path::Path, days: i64) {
    feedfold::install_tls_provider();
    let cfg = feedfold::config::Config::load(path).expect("config");
    let store = feedfold::store::Store::open(&cfg.store.url).await.expect("store");
    let fetcher = feedfold::source::http::Fetcher::new(&cfg.fetch).expect("fetcher");
    run::fetch_all(
        &cfg,
        &store,
        &fetcher,
        Utc::now() - Duration::days(days),
        Taking::Any,
        &|_| {},
    )
    .await
    .expect("fetch");
    store.close().await;
}

/// `feedfold fetch` prunes after writing the outputs and says so; the outputs it wrote still
/// show what they showed.
#[tokio::test]
async fn fetch_prunes_after_writing_the_outputs() {
    let origin = Origin::start().await;
    let feeds = sources(&[("a", origin.url("/mutable/a.xml"))]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = crate::cli::write_config(
        dir.path(),
        &format!("{feeds}[[output]]\nname = \"all\"\ntitle = \"All\"\nlimit = 1\n"),
    );
    // Stored 40 days ago, by a run on the same store.
    let old = [
        Post {
            key: "o1",
            text: "西安召开疫情防控工作会议",
            published: Utc::now() - Duration::days(41),
        },
        Post {
            key: "o2",
            text: "陕西发布暴雨黄色预警",
            published: Utc::now() - Duration::days(40),
        },
    ];
    origin.set_mutable("a.xml", &rss(&old));
    fetch_days_ago(&path, 40).await;
    let text = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        text.replace(
            "url = \"sqlite://cli.db\"",
            "url = \"sqlite://cli.db\"\nkeep = \"30d\"",
        ),
    )
    .expect("write");
    let out = crate::cli::run_command("fetch", &path, &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("pruned 1 items older than their keep (1 stories gone)"),
        "{err}"
    );
    let written = std::fs::read_to_string(dir.path().join("public/all.json")).expect("all.json");
    assert!(
        written.contains("陕西发布暴雨黄色预警"),
        "the entry shown stays: {written}"
    );
    let export = crate::cli::run_command("export", &path, &[]).await;
    let lines = String::from_utf8_lossy(&export.stdout);
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(lines.contains("\"url\":\"https://news.example/o2\""), "{lines}");
}

/// The daemon prunes soon after it starts (then at most hourly): old items no output shows go.
#[tokio::test]
async fn the_daemon_prunes_what_is_older_than_keep() {
    let origin = Origin::start().await;
    let store_dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", store_dir.path().join("daemon.db").display());
    let text = format!(
        "[store]\nurl = \"{url}\"\nkeep = \"30d\"\n\n[fetch]\nstartup_spread = 0\ninterval = \"10m\"\n\n{}\
         [[output]]\nname = \"all\"\ntitle = \"All\"\nlimit = 1\n",
        sources(&[("a", origin.url("/mutable/a.xml"))])
    );
    let posts: Vec<Post> = [
        "西安召开疫情防控工作会议",
        "陕西发布暴雨黄色预警",
        "宝鸡新建高铁站投入使用",
    ]
    .iter()
    .zip(["d1", "d2", "d3"])
    .enumerate()
    .map(|(n, (text, key))| Post {
        key,
        text,
        published: Utc::now() - Duration::days(45 - n as i64),
    })
    .collect();
    origin.set_mutable("a.xml", &rss(&posts));
    let path = store_dir.path().join("feedfold.toml");
    std::fs::write(&path, &text).expect("config");
    fetch_days_ago(&path, 40).await;
    let daemon = crate::serve::Daemon::launch(&text).await;
    let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
    let mut left = 0;
    for _ in 0..200 {
        left = count(&pool, "SELECT COUNT(*) FROM items").await;
        if left == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 1, "the two items `all` does not show were pruned");
    assert!(
        daemon
            .text("/feeds/all.json")
            .await
            .contains("宝鸡新建高铁站投入使用")
    );
    pool.close().await;
    daemon.stop().await;
}
