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
        .expect("publish")
        .written;
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
        // A title given as HTML is HTML in RSS and Atom, plain text in JSON Feed.
        let text: Vec<_> = titles(&atom)
            .into_iter()
            .map(|t| t.map(|t| feedfold::html::to_text(&t)))
            .collect();
        assert_eq!(text, titles(&json), "{name}");
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
    let publish = || async {
        run::publish(&env.config, &env.store, &out, now)
            .await
            .map(|p| p.written)
    };
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
    let ready = feedfold::pipeline::ingest::ReadyMap::default();
    let render = std::sync::Arc::new(|i: &feedfold::model::Item| feedfold::pipeline::ingest::render(i, None));
    let counts = feedfold::pipeline::ingest::items(&env.store, &ready, "rss2", &[item], now, render)
        .await
        .expect("ingest");
    assert_eq!(counts.new, 1);
    feedfold::pipeline::fold::fold_pending(&env.store, &env.config.fold, &env.config.region_priors(), &ready)
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

/// What each source said reaches every format, in that format's own way: an RSS podcast with
/// every common namespace, an Atom feed with every field, a JSON Feed 1.1 item; read back with
/// the `rss` and `atom_syndication` crates and serde_json. Each output names its entries with
/// ids of its own, and every Atom output has a feed author.
#[tokio::test]
async fn every_field_of_every_source_reaches_every_format() {
    let feeds = crate::support::fixtures().join("feeds");
    let src = |n: &str| feeds.join(n).display().to_string();
    let body = format!(
        "[publish]\nbase_url = \"https://feeds.example/\"\nauthor = \"The Desk\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All\"\n\n\
         [[output]]\nname = \"pods\"\ntitle = \"Podcasts\"\nsources = [\"podcast\"]\nauthor = \"Pod Desk\"\n\n{}",
        sources(&[
            ("podcast", src("republish-podcast.xml")),
            ("atom", src("republish-atom.xml")),
            ("json", src("republish.json")),
        ])
    );
    let env = Env::new(&body).await;
    let reports = env.fetch().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    let out = env.publish().await;
    let read = |name: &str| std::fs::read(out.join(name)).expect("output");

    // RSS.
    let channel = ::rss::Channel::read_from(&read("all.rss")[..]).expect("RSS reads back");
    let item = |title: &str| {
        channel
            .items
            .iter()
            .find(|i| i.title.as_deref() == Some(title))
            .unwrap_or_else(|| panic!("{title} in {:#?}", channel.items))
    };
    let pod = item("Episode 7: The city wall at night");
    assert_eq!(pod.author.as_deref(), Some("host@podcast.example (Wang Fang)"));
    let dc = pod.dublin_core_ext.as_ref().expect("dc");
    assert_eq!(dc.contributors, ["Li Ming"]);
    assert_eq!(dc.rights, ["© 2023 Xi'an Evening"]);
    assert_eq!(dc.languages, ["en-us"]);
    assert_eq!(
        (
            pod.categories[0].name.as_str(),
            pod.categories[0].domain.as_deref()
        ),
        ("Culture", Some("https://podcast.example/topics"))
    );
    assert_eq!(
        pod.comments.as_deref(),
        Some("https://podcast.example/ep7#comments")
    );
    let source = pod.source.as_ref().expect("source");
    assert_eq!(
        (source.url.as_str(), source.title.as_deref()),
        ("https://origin.example/feed.xml", Some("Origin Radio"))
    );
    let enclosure = pod.enclosure.as_ref().expect("enclosure");
    assert_eq!(
        (
            enclosure.url.as_str(),
            enclosure.length.as_str(),
            enclosure.mime_type.as_str()
        ),
        ("https://podcast.example/ep7.mp3", "12345678", "audio/mpeg")
    );
    let ext = |i: &::rss::Item, ns: &str, name: &str| {
        i.extensions
            .get(ns)
            .and_then(|m| m.get(name))
            .map(|v| {
                v.iter()
                    .map(|x| x.value.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        ext(pod, "wfw", "commentRss"),
        ["https://podcast.example/ep7/comments.xml"]
    );
    assert_eq!(ext(pod, "slash", "comments"), ["4"]);
    assert_eq!(
        ext(pod, "creativeCommons", "license"),
        ["http://creativecommons.org/licenses/by-nc/4.0/"]
    );
    assert_eq!(ext(pod, "georss", "point"), ["34.2583 108.9286"]);
    let thumb = &pod.extensions["media"]["thumbnail"][0].attrs;
    assert_eq!(
        thumb.get("url").map(String::as_str),
        Some("https://podcast.example/ep7-thumb.jpg")
    );
    assert_eq!(thumb.get("width").map(String::as_str), Some("320"));
    let it = pod.itunes_ext.as_ref().expect("itunes");
    assert_eq!(it.duration.as_deref(), Some("00:42:10"));
    assert_eq!(it.explicit.as_deref(), Some("no"));
    assert_eq!(it.episode.as_deref(), Some("7"));
    assert_eq!(it.season.as_deref(), Some("2"));
    assert_eq!(it.episode_type.as_deref(), Some("full"));
    assert_eq!(it.subtitle.as_deref(), Some("The wall after dark"));
    assert_eq!(it.summary.as_deref(), Some("A walk on the Ming city wall."));
    assert_eq!(it.image.as_deref(), Some("https://podcast.example/ep7.jpg"));
    assert_eq!(it.keywords.as_deref(), Some("history, night, walls"));
    // A title given as HTML is HTML; one given as text stays text, safe in a reader that
    // renders it (its `<` cannot open a tag).
    let bold = item("<b>Bold</b> move &amp; more");
    let blink = item("History of the &lt;blink> tag");
    let xml_lang = std::str::from_utf8(&read("all.rss"))
        .expect("utf-8")
        .contains("<item xml:lang=\"fr\">");
    assert!(xml_lang, "the Atom entry's xml:lang");
    assert_eq!(
        blink.dublin_core_ext.as_ref().map(|d| d.languages.clone()),
        Some(vec!["fr".to_string()])
    );
    assert!(bold.link.is_some());

    // Atom.
    let feed = atom_syndication::Feed::read_from(&read("all.atom")[..]).expect("Atom reads back");
    assert_eq!(feed.authors[0].name, "The Desk");
    let entry = |title: &str| {
        feed.entries
            .iter()
            .find(|e| e.title.value == title)
            .unwrap_or_else(|| panic!("{title} in {:#?}", feed.entries))
    };
    let blink = entry("History of the <blink> tag");
    assert_eq!(blink.title.r#type, atom_syndication::TextType::Text);
    let author = &blink.authors[0];
    assert_eq!(
        (
            author.name.as_str(),
            author.email.as_deref(),
            author.uri.as_deref()
        ),
        (
            "Ann Author",
            Some("ann@atom.example"),
            Some("https://ann.atom.example/")
        )
    );
    let contributor = &blink.contributors[0];
    assert_eq!(
        (contributor.name.as_str(), contributor.uri.as_deref()),
        ("Carl Contributor", Some("https://carl.atom.example/"))
    );
    let category = &blink.categories[0];
    assert_eq!(
        (
            category.term.as_str(),
            category.scheme.as_deref(),
            category.label.as_deref()
        ),
        ("web", Some("https://atom.example/cats"), Some("The Web"))
    );
    let links: Vec<_> = blink
        .links
        .iter()
        .map(|l| (l.rel.as_str(), l.href.as_str()))
        .collect();
    for want in [
        ("alternate", "https://atom.example/blink"),
        ("related", "https://related.example/blink"),
        ("replies", "https://atom.example/blink#comments"),
        ("license", "https://creativecommons.org/licenses/by/4.0/"),
        ("enclosure", "https://atom.example/blink.mp3"),
        ("enclosure", "https://atom.example/blink.ogg"),
    ] {
        assert!(links.contains(&want), "{want:?} in {links:?}");
    }
    let related = blink.links.iter().find(|l| l.rel == "related").expect("related");
    assert_eq!(
        (related.title.as_deref(), related.hreflang.as_deref()),
        (Some("Background"), Some("en"))
    );
    assert_eq!(
        blink.rights.as_ref().map(|r| r.value.as_str()),
        Some("Copyright 2023 Atom Source")
    );
    let source = blink.source.as_ref().expect("source");
    assert_eq!(
        (source.id.as_str(), source.title.value.as_str()),
        ("urn:origin", "Origin Blog")
    );
    let atom = String::from_utf8(read("all.atom")).expect("utf-8");
    assert!(atom.contains("<entry xml:lang=\"fr\">"), "{atom}");
    assert!(atom.lines().count() > 50, "line-broken:\n{atom}");
    let bold = entry("<b>Bold</b> move &amp; more");
    assert_eq!(bold.title.r#type, atom_syndication::TextType::Html);
    let pod = entry("Episode 7: The city wall at night");
    assert_eq!(
        pod.extensions["itunes"]["duration"][0].value.as_deref(),
        Some("00:42:10")
    );
    let pods = atom_syndication::Feed::read_from(&read("pods.atom")[..]).expect("Atom reads back");
    assert_eq!(pods.authors[0].name, "Pod Desk");
    assert_ne!(
        pods.entries[0].id, pod.id,
        "one story in two outputs is two entries"
    );
    assert_eq!(
        pods.entries[0].id,
        format!(
            "urn:feedfold:out:pods:{}",
            &pod.id["urn:feedfold:out:all:".len()..]
        )
    );

    // JSON Feed.
    let json: serde_json::Value = serde_json::from_slice(&read("all.json")).expect("JSON");
    assert_eq!(json["authors"], serde_json::json!([{"name": "The Desk"}]));
    let items = json["items"].as_array().expect("items");
    let item = |title: &str| {
        items
            .iter()
            .find(|i| i["title"] == title)
            .unwrap_or_else(|| panic!("{title} in {items:#?}"))
    };
    let bridges = item("Ein Artikel über Brücken");
    assert_eq!(
        bridges["authors"],
        serde_json::json!([{"name": "Bea Brück", "url": "https://bea.json.example/"}])
    );
    assert_eq!(bridges["tags"], serde_json::json!(["Bauwerke", "Städte"]));
    assert_eq!(bridges["language"], "de-AT");
    assert_eq!(bridges["image"], "https://json.example/1.jpg");
    assert_eq!(
        bridges["attachments"],
        serde_json::json!([{"url": "https://json.example/1.pdf", "mime_type": "application/pdf", "size_in_bytes": 2048}])
    );
    let pod = item("Episode 7: The city wall at night");
    assert_eq!(
        pod["authors"],
        serde_json::json!([{"name": "Wang Fang", "url": "mailto:host@podcast.example"}])
    );
    assert_eq!(pod["_feedfold"]["itunes"]["episode"], "7");
    assert_eq!(pod["_feedfold"]["comment_count"], 4);
    assert_eq!(
        item("Bold move & more")["title"],
        "Bold move & more",
        "plain text"
    );
    assert_eq!(item("History of the <blink> tag")["language"], "fr");
}

/// `fetch --out` can name a folder the config did not: a `[publish] private_dir` inside it would
/// publish the private outputs, so nothing is written and the private folder is not created.
#[tokio::test]
async fn publishing_into_a_folder_that_holds_the_private_dir_is_refused() {
    let env = Env::new(
        "[publish]\nprivate_dir = \"site/private\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All\"\n\n\
         [[output]]\nname = \"secret\"\ntitle = \"Secret\"\ntoken = \"0123456789abcdef0123\"\n",
    )
    .await;
    let site = env.dir.path().join("site");
    let refused = run::publish(&env.config, &env.store, &site, chrono::Utc::now()).await;
    assert!(
        matches!(refused, Err(run::RunError::PrivateInPublic { .. })),
        "{refused:?}"
    );
    assert!(!site.join("private").exists() && !site.join("all.rss").exists());
}
