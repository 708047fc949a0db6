//! Merged outputs: exact dedup across sources, the three formats, and re-parsing them.

use std::collections::BTreeSet;

use feedfold::run;

use crate::support::{Backend, Env, Origin, sources};

fn outputs() -> &'static str {
    "[publish]\nbase_url = \"https://feeds.example/ff\"\n\n\
     [[output]]\nname = \"stories\"\ntitle = \"Stories\"\ndescription = \"One entry per story\"\n\n\
     [[output]]\nname = \"everything\"\ntitle = \"Everything\"\ndedup = \"off\"\nlimit = 1000\n\n\
     [[output]]\nname = \"two\"\ntitle = \"Two newest\"\nlimit = 2\n\n\
     [[output]]\nname = \"atom-only\"\ntitle = \"Only the Atom source\"\nsources = [\"atom\"]\n\n"
}

async fn env_with_outputs(origin: &Origin) -> Env {
    env_with_outputs_on(Backend::Sqlite, origin)
        .await
        .expect("SQLite is always there")
}

/// [`env_with_outputs`] on `backend`: None when the PostgreSQL test is skipped.
async fn env_with_outputs_on(backend: Backend, origin: &Origin) -> Option<Env> {
    let body = format!(
        "{}{}",
        outputs(),
        sources(&[
            ("rss2", origin.url("/feeds/rss2.xml")),
            ("gbk", origin.url("/feeds/gbk.xml")),
            ("atom", origin.url("/feeds/atom.xml")),
            ("json", origin.url("/feeds/feed.json")),
        ])
    );
    let env = Env::on(backend, &body).await?;
    let reports = env.fetch().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    Some(env)
}

async fn same_canonical_url_across_sources_is_one_story(backend: Backend) {
    let origin = Origin::start().await;
    let Some(env) = env_with_outputs_on(backend, &origin).await else {
        return;
    };
    let items = env.store.all_items().await.expect("items");
    // rss2 links `http://shaanxi-news.example/…/meeting.html`; gbk links the https form with
    // utm parameters and a fragment: the same page.
    let meeting: Vec<_> = items
        .iter()
        .filter(|i| {
            i.link
                .as_deref()
                .is_some_and(|l| l.contains("shaanxi-news.example"))
        })
        .collect();
    assert_eq!(meeting.len(), 2);
    assert_eq!(meeting[0].story_id, meeting[1].story_id);
    assert_ne!(meeting[0].source, meeting[1].source);
    let stories: BTreeSet<_> = items.iter().map(|i| i.story_id.as_str()).collect();
    assert_eq!(stories.len(), items.len() - 1);
}

fn parse(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes).expect("our output parses")
}

#[tokio::test]
async fn outputs_are_written_in_three_formats_and_reparse_with_the_same_entries() {
    let origin = Origin::start().await;
    let env = env_with_outputs(&origin).await;
    let out = env.dir.path().join("public");
    let written = run::publish(&env.config, &env.store, &out, chrono::Utc::now())
        .await
        .expect("publish");
    assert_eq!(written.len(), 12);
    let total = env.store.all_items().await.expect("items").len();

    for (name, expected) in [
        ("stories", total - 1),
        ("everything", total),
        ("two", 2),
        ("atom-only", 2),
    ] {
        let rss = parse(&std::fs::read(out.join(format!("{name}.rss"))).expect("rss"));
        let atom = parse(&std::fs::read(out.join(format!("{name}.atom"))).expect("atom"));
        let json = parse(&std::fs::read(out.join(format!("{name}.json"))).expect("json"));
        let ids = |f: &feed_rs::model::Feed| f.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        let titles = |f: &feed_rs::model::Feed| {
            f.entries
                .iter()
                .map(|e| e.title.as_ref().map(|t| t.content.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(rss.entries.len(), expected, "{name}");
        assert_eq!(ids(&rss), ids(&atom), "{name}");
        assert_eq!(ids(&rss), ids(&json), "{name}");
        assert_eq!(titles(&rss), titles(&atom), "{name}");
        assert_eq!(titles(&rss), titles(&json), "{name}");
        let unique: BTreeSet<_> = ids(&rss).into_iter().collect();
        assert_eq!(unique.len(), expected, "{name}: ids are unique");
        // Newest first.
        let dates: Vec<_> = atom
            .entries
            .iter()
            .map(|e| e.published.expect("published"))
            .collect();
        assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{name}: {dates:?}");
    }

    let rss = std::fs::read_to_string(out.join("stories.rss")).expect("rss");
    assert!(
        rss.contains(r#"<atom:link href="https://feeds.example/ff/feeds/stories.rss" rel="self""#),
        "{rss}"
    );
    assert!(
        rss.contains("Also reported by"),
        "folded story lists its other source"
    );
    assert!(!rss.contains("<script"), "sanitised");
    let atom = std::fs::read_to_string(out.join("stories.atom")).expect("atom");
    assert!(atom.contains(r#"rel="related""#), "{atom}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("stories.json")).expect("json")).expect("json");
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(json["feed_url"], "https://feeds.example/ff/feeds/stories.json");
    let folded = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["_feedfold"]["members"].as_array().is_some_and(|m| m.len() == 2))
        .expect("a folded story");
    let sources: BTreeSet<_> = folded["_feedfold"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["source"].as_str())
        .collect();
    assert_eq!(sources, BTreeSet::from([Some("gbk"), Some("rss2")]));
}

#[tokio::test]
async fn entry_ids_are_stable_across_runs() {
    let origin = Origin::start().await;
    let env = env_with_outputs(&origin).await;
    let out = env.publish().await;
    let first = std::fs::read(out.join("stories.atom")).expect("atom");
    env.fetch().await;
    env.publish().await;
    let second = std::fs::read(out.join("stories.atom")).expect("atom");
    let ids = |b: &[u8]| parse(b).entries.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(&first), ids(&second));
}

#[tokio::test]
async fn outputs_filter_by_region_and_keywords() {
    let fold = crate::support::fixtures().join("fold");
    let src = |n: &str| fold.join(n).display().to_string();
    let body = format!(
        "[[output]]\nname = \"shaanxi\"\ntitle = \"Shaanxi\"\nregions = [\"陝西\"]\n\n\
         [[output]]\nname = \"not-shaanxi\"\ntitle = \"Elsewhere\"\nexclude_regions = [\"Shaanxi\"]\n\n\
         [[output]]\nname = \"henan\"\ntitle = \"Henan\"\nregions = [\"410000\"]\n\n\
         [[output]]\nname = \"epidemic\"\ntitle = \"Daily reports\"\nkeywords = 'title:衛生健康委 -source:nhc-copy'\n\n{}",
        sources(&[
            ("qutoutiao", src("qutoutiao.xml")),
            ("tianning", src("tianning.xml")),
            ("jiyuan", src("jiyuan-simp.xml")),
            ("nhc", src("nhc.xml")),
            ("nhc-copy", src("nhc-copy.xml")),
        ])
    );
    let env = Env::new(&body).await;
    env.fetch().await;
    let out = env.publish().await;
    let titles = |name: &str| -> Vec<String> {
        let feed = parse(&std::fs::read(out.join(format!("{name}.atom"))).expect("atom"));
        let mut t: Vec<String> = feed
            .entries
            .into_iter()
            .filter_map(|e| e.title.map(|t| t.content))
            .collect();
        t.sort();
        t
    };
    // Both Xi'an meetings (seed 000 and 004) and nothing else.
    assert_eq!(
        titles("shaanxi"),
        [
            "劉國中在西安市疫情防控調(diào)度會(huì)上強(qiáng)調(diào)",
            "陕西省委书记：深刻汲取教训、反思不足"
        ]
    );
    assert_eq!(titles("not-shaanxi").len(), 3, "{:?}", titles("not-shaanxi"));
    assert_eq!(titles("henan"), ["济源示范区召开疫情防控工作专题会议"]);
    // A traditional query matches simplified titles; the copy from nhc-copy is excluded, so only
    // the two reports of nhc remain (the copy folded into the first one, which still matches).
    assert_eq!(
        titles("epidemic"),
        ["国家卫生健康委通报最新疫情", "国家卫生健康委通报最新疫情"]
    );

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("shaanxi.json")).expect("json")).expect("json");
    let regions = &json["items"][0]["_feedfold"]["regions"];
    assert_eq!(
        regions[0]["code"].as_str().map(|c| &c[..2]),
        Some("61"),
        "{regions}"
    );
}

async fn publish_writes_only_outputs_whose_inputs_changed_or_whose_files_are_missing(backend: Backend) {
    let origin = Origin::start().await;
    let Some(env) = env_with_outputs_on(backend, &origin).await else {
        return;
    };
    let out = env.dir.path().join("public");
    let now = chrono::Utc::now();
    let publish = || run::publish(&env.config, &env.store, &out, now);
    let names = |paths: Vec<std::path::PathBuf>| -> BTreeSet<String> {
        paths
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(String::from))
            .collect()
    };
    assert_eq!(publish().await.expect("publish").len(), 12);

    // Nothing changed: nothing is written.
    assert!(publish().await.expect("publish").is_empty());

    // A file gone: its output is written again, in every format.
    std::fs::remove_file(out.join("two.json")).expect("remove");
    assert_eq!(
        names(publish().await.expect("publish")),
        BTreeSet::from(["two.rss".into(), "two.atom".into(), "two.json".into()])
    );

    // A new item in one source: every output drawing from it is written, the others are not.
    let item = feedfold::model::Item {
        key: "late-item".into(),
        title: Some("A late story 迟到的新闻".into()),
        link: Some("https://late.example/story.html".into()),
        ..feedfold::model::Item::default()
    };
    let counts = env
        .store
        .ingest("rss2", &[item], now, &|i| run::render_item(i, None))
        .await
        .expect("ingest");
    assert_eq!(counts.new, 1);
    env.store
        .fold_pending(&env.config.fold, &env.config.region_priors())
        .await
        .expect("fold");
    let written = names(publish().await.expect("publish"));
    assert_eq!(written.len(), 9, "{written:?}");
    assert!(
        written.iter().all(|n| !n.starts_with("atom-only.")),
        "{written:?}"
    );
    let everything = std::fs::read_to_string(out.join("everything.json")).expect("json");
    assert!(everything.contains("A late story"), "{everything}");
    assert!(publish().await.expect("publish").is_empty());
}

on_both_backends!(
    same_canonical_url_across_sources_is_one_story,
    publish_writes_only_outputs_whose_inputs_changed_or_whose_files_are_missing,
);
