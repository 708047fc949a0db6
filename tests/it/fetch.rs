//! Fetching real bytes from a loopback origin, through decode, parse and store.

use chrono::{TimeZone, Utc};
use feedfold::model::{Category, Person, StoredItem};
use feedfold::run::Outcome;
use feedfold::store::FetchStatus;

use crate::support::{Backend, Env, Origin, failure, sources, stored};

fn by_source<'a>(items: &'a [StoredItem], source: &str) -> Vec<&'a StoredItem> {
    let mut v: Vec<_> = items.iter().filter(|i| i.source == source).collect();
    v.sort_by(|a, b| a.key.cmp(&b.key));
    v
}

fn title_of<'a>(items: &'a [StoredItem], source: &str) -> Vec<&'a str> {
    let mut t: Vec<_> = by_source(items, source)
        .iter()
        .filter_map(|i| i.title.as_deref())
        .collect();
    t.sort_unstable();
    t
}

const ALL: &[&str] = &[
    "rss2.xml",
    "rss1.rdf",
    "atom.xml",
    "feed.json",
    "gbk.xml",
    "gbk_noprolog.xml",
    "big5.xml",
    "bom.xml",
    "repairable.xml",
];

#[tokio::test]
async fn every_format_and_encoding_is_read() {
    let origin = Origin::start().await;
    let list: Vec<(&str, String)> = ALL
        .iter()
        .map(|n| (*n, origin.url(&format!("/feeds/{n}"))))
        .collect();
    let env = Env::new(&sources(&list)).await;
    let reports = env.fetch().await;
    for r in &reports {
        assert!(!r.failed(), "{r:?}");
    }
    let items = env.store.all_items().await.expect("items");

    assert_eq!(
        title_of(&items, "rss2.xml"),
        [
            "1月6日，疫情防控工作视",
            "No guid here",
            "Tom & Jerry <3 the city"
        ]
    );
    assert_eq!(title_of(&items, "rss1.rdf"), ["RDF item A", "RDF item B"]);
    assert_eq!(title_of(&items, "atom.xml"), ["Atom one", "Atom two"]);
    assert_eq!(title_of(&items, "feed.json"), ["JSON one", "JSON two"]);
    assert_eq!(
        title_of(&items, "gbk.xml"),
        ["西安城墙景区恢复夜游", "陕西省委书记：把人民摆在心中最高位置"]
    );
    assert_eq!(title_of(&items, "gbk_noprolog.xml"), title_of(&items, "gbk.xml"));
    assert_eq!(
        title_of(&items, "big5.xml"),
        ["陝西省委書記：把人民擺在心中最高位置"]
    );
    assert_eq!(title_of(&items, "bom.xml"), ["人民网 中国 BOM item"]);
    assert_eq!(title_of(&items, "repairable.xml"), ["Fish & chips", "Second"]);
    let repaired = reports
        .iter()
        .find(|r| r.name == "repairable.xml")
        .expect("report");
    assert!(
        matches!(repaired.outcome, Outcome::Stored { repaired: true, .. }),
        "{repaired:?}"
    );

    // GUIDs as written, or none; links as written and resolved.
    let rss2 = by_source(&items, "rss2.xml");
    let tom = rss2
        .iter()
        .find(|i| i.guid.as_deref() == Some("xd-0001"))
        .expect("xd-0001");
    assert_eq!(
        tom.url.as_deref(),
        Some("https://xian-daily.example/news/1.html?utm_source=rss")
    );
    assert_eq!(tom.authors, [Person::named("Li Ming")]);
    assert_eq!(
        tom.categories,
        [Category::term("Local"), Category::term("Health")]
    );
    assert_eq!(tom.enclosures[0].url, "https://xian-daily.example/a.mp3");
    assert_eq!(tom.published, Utc.with_ymd_and_hms(2022, 1, 6, 12, 0, 0).single());
    let content = tom.content_html.as_deref().expect("content");
    assert!(
        content.contains(
            r#"<a href="https://xian-daily.example/news/2.html" rel="noopener noreferrer">relative link</a>"#
        ),
        "{content}"
    );
    for bad in ["script", "onclick", "javascript"] {
        assert!(!content.contains(bad), "{bad} survived: {content}");
    }
    assert_eq!(
        tom.summary_html.as_deref(),
        Some("Short <b>summary</b> with \u{201c}quotes\u{201d}")
    );
    let no_guid = rss2
        .iter()
        .find(|i| i.title.as_deref() == Some("No guid here"))
        .expect("item");
    assert_eq!(no_guid.guid, None);
    assert_eq!(no_guid.url.as_deref(), Some("news/3.html"));
    assert_eq!(
        no_guid.link.as_deref(),
        Some("https://xian-daily.example/news/3.html")
    );
    // `2022-01-07 09:30:00` has no zone: read as the default +08:00.
    assert_eq!(
        no_guid.published,
        Utc.with_ymd_and_hms(2022, 1, 7, 1, 30, 0).single()
    );

    let atom = by_source(&items, "atom.xml");
    assert_eq!(atom[0].link.as_deref(), Some("https://atom.example/blog/posts/1"));
    let c = atom[0].content_html.as_deref().expect("content");
    assert!(c.contains("https://atom.example/blog/posts/2"), "{c}");
    assert_eq!(
        atom[1].summary_html.as_deref(),
        Some("Plain &lt;summary&gt; text")
    );

    let rdf = by_source(&items, "rss1.rdf");
    assert_eq!(rdf[0].guid.as_deref(), Some("https://rdf.example/a"));
    assert_eq!(
        rdf[0].date(),
        Utc.with_ymd_and_hms(2022, 1, 5, 0, 0, 0).single().expect("date")
    );

    let json = by_source(&items, "feed.json");
    assert_eq!(json[0].enclosures[0].url, "https://json.example/1.jpg");
    assert_eq!(
        json[1].content_html.as_deref(),
        Some("Plain text &lt;not markup&gt;")
    );

    let gbk = by_source(&items, "gbk.xml");
    // `2022年01月06日 22:10`, zone-less, +08:00.
    assert_eq!(
        gbk[0].published,
        Utc.with_ymd_and_hms(2022, 1, 6, 14, 10, 0).single()
    );
}

#[tokio::test]
async fn gzip_bodies_are_decompressed() {
    let origin = Origin::start().await;
    let env = Env::new(&sources(&[("z", origin.url("/encoded/gzip/big5.xml"))])).await;
    let reports = env.fetch().await;
    assert_eq!(stored(&reports, "z").new, 1);
}

async fn second_fetch_is_conditional_and_stores_nothing_new(backend: Backend) {
    let origin = Origin::start().await;
    let body = sources(&[
        ("a", origin.url("/feeds/rss2.xml")),
        ("b", origin.url("/feeds/atom.xml")),
    ]);
    let Some(env) = Env::on(backend, &body).await else {
        return;
    };
    let first = env.fetch().await;
    assert_eq!(stored(&first, "a").new, 3);
    let before = env.store.all_items().await.expect("items");

    let second = env.fetch().await;
    for r in &second {
        assert_eq!(r.outcome, Outcome::NotModified, "{r:?}");
    }
    assert_eq!(origin.conditional_hits("/feeds/rss2.xml"), 1);
    assert_eq!(env.store.all_items().await.expect("items"), before);
}

async fn refetching_without_validators_adds_no_duplicates(backend: Backend) {
    let origin = Origin::start().await;
    let Some(env) = Env::on(backend, &sources(&[("a", origin.url("/nocache/rss2.xml"))])).await else {
        return;
    };
    env.fetch().await;
    let second = env.fetch().await;
    let counts = stored(&second, "a");
    assert_eq!((counts.new, counts.updated, counts.unchanged), (0, 0, 3));
    assert_eq!(env.store.all_items().await.expect("items").len(), 3);
}

async fn a_changed_item_is_updated_in_place_and_keeps_its_story(backend: Backend) {
    let origin = Origin::start().await;
    let feed = |title: &str| {
        format!(
            "<rss version=\"2.0\"><channel><title>m</title><link>https://m.example/</link><description>d</description>\
             <item><title>{title}</title><link>https://m.example/1</link><guid>m-1</guid><description>x</description></item>\
             <item><title>stays</title><link>https://m.example/2</link><guid>m-2</guid><description>y</description></item>\
             </channel></rss>"
        )
    };
    origin.set_mutable("m.xml", feed("first title").as_bytes());
    let Some(env) = Env::on(backend, &sources(&[("m", origin.url("/mutable/m.xml"))])).await else {
        return;
    };
    env.fetch().await;
    let story = |items: &[StoredItem]| {
        items
            .iter()
            .find(|i| i.guid.as_deref() == Some("m-1"))
            .map(|i| i.story_id.clone())
    };
    let before = story(&env.store.all_items().await.expect("items"));

    origin.set_mutable("m.xml", feed("corrected title").as_bytes());
    let reports = env.fetch().await;
    let counts = stored(&reports, "m");
    assert_eq!((counts.new, counts.updated, counts.unchanged), (0, 1, 1));
    let items = env.store.all_items().await.expect("items");
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .any(|i| i.title.as_deref() == Some("corrected title"))
    );
    assert_eq!(story(&items), before);
}

#[tokio::test]
async fn permanent_redirects_move_the_source_and_temporary_ones_do_not() {
    let origin = Origin::start().await;
    // The origin is on loopback: its redirects need allow_private.
    let env = Env::new(&format!(
        "[fetch]\nallow_private = true\n\n{}",
        sources(&[
            ("p", origin.url("/moved/rss1.rdf")),
            ("t", origin.url("/found/atom.xml")),
        ])
    ))
    .await;
    let first = env.fetch().await;
    let Outcome::Stored { moved_to, .. } = &env.report(&first, "p").outcome else {
        panic!("{first:?}")
    };
    assert_eq!(moved_to.as_deref(), Some(origin.url("/feeds/rss1.rdf").as_str()));
    let Outcome::Stored { moved_to, .. } = &env.report(&first, "t").outcome else {
        panic!("{first:?}")
    };
    assert_eq!(moved_to, &None);

    let second = env.fetch().await;
    assert_eq!(env.report(&second, "p").outcome, Outcome::NotModified);
    assert_eq!(
        origin.hits("/moved/rss1.rdf"),
        1,
        "the moved source is fetched at its new address"
    );
    assert_eq!(
        origin.hits("/found/atom.xml"),
        2,
        "a temporary redirect keeps the old address"
    );
}

#[tokio::test]
async fn failures_are_reported_per_source_and_do_not_stop_the_others() {
    let origin = Origin::start().await;
    let body = format!(
        "[fetch]\ntimeout = \"1s\"\nmax_body = \"1MiB\"\nmax_redirects = 3\nallow_private = true\n\n{}",
        sources(&[
            ("ok", origin.url("/feeds/rss2.xml")),
            ("e500", origin.url("/status/500")),
            ("e404", origin.url("/status/404")),
            ("loop", origin.url("/loop")),
            ("ftp", origin.url("/to-ftp")),
            ("slow", origin.url("/slow")),
            ("huge", origin.url("/huge")),
            ("notfeed", origin.url("/feeds/broken.xml")),
            ("refused", "http://127.0.0.1:9/feed.xml".to_string()),
            ("nofile", "missing/feed.xml".to_string()),
        ])
    );
    let env = Env::new(&body).await;
    let started = std::time::Instant::now();
    let reports = env.fetch().await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "fetch must be bounded"
    );
    assert_eq!(stored(&reports, "ok").new, 3);
    assert!(failure(&reports, "e500").contains("HTTP 500"));
    assert!(failure(&reports, "e404").contains("HTTP 404"));
    assert!(failure(&reports, "loop").contains("more than 3 redirects"));
    assert!(failure(&reports, "ftp").contains("bad redirect"));
    assert!(
        failure(&reports, "slow").contains("timed out"),
        "{}",
        failure(&reports, "slow")
    );
    assert!(failure(&reports, "huge").contains("larger than 1048576 bytes"));
    assert!(failure(&reports, "notfeed").contains("is an HTML page, not a feed"));
    assert!(failure(&reports, "refused").contains("request failed"));
    assert!(failure(&reports, "nofile").contains("cannot read file"));
    for name in ["e500", "slow", "huge"] {
        assert!(
            failure(&reports, name).contains(&origin.addr.to_string()),
            "names the URL: {name}"
        );
    }
}

#[tokio::test]
async fn local_files_are_read_and_unchanged_files_skipped() {
    let env = Env::new(&sources(&[("rel", "local.xml".to_string())])).await;
    std::fs::write(
        env.dir.path().join("local.xml"),
        crate::support::fixture("rss1.rdf"),
    )
    .expect("write");
    let first = env.fetch().await;
    assert_eq!(stored(&first, "rel").new, 2);
    let second = env.fetch().await;
    assert_eq!(env.report(&second, "rel").outcome, Outcome::NotModified);
}

#[tokio::test]
async fn fetches_to_one_host_are_limited_by_per_host() {
    let origin = Origin::start().await;
    let port = origin.addr.port();
    let list: Vec<(String, String)> = (0..6)
        .map(|i| {
            let host = if i % 2 == 0 { "127.0.0.1" } else { "localhost" };
            (format!("s{i}"), format!("http://{host}:{port}/held/rss2.xml"))
        })
        .collect();
    let named: Vec<(&str, String)> = list.iter().map(|(n, u)| (n.as_str(), u.clone())).collect();
    let env = Env::new(&format!(
        "[fetch]\nconcurrency = 8\nper_host = 2\n\n{}",
        sources(&named)
    ))
    .await;
    let reports = env.fetch().await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    assert_eq!(origin.most_held(), 4, "two hosts, two fetches each at most");
}

on_both_backends!(
    second_fetch_is_conditional_and_stores_nothing_new,
    refetching_without_validators_adds_no_duplicates,
    a_changed_item_is_updated_in_place_and_keeps_its_story,
);

#[tokio::test]
async fn a_document_that_yields_no_items_is_a_failed_fetch_not_an_empty_one() {
    let origin = Origin::start().await;
    origin.set_mutable(
        "unknown.xml",
        b"<feed xmlns=\"http://example.com/not-atom\"><title>t</title>\
          <entry><id>1</id><title>one</title></entry><entry><id>2</id><title>two</title></entry></feed>",
    );
    origin.set_mutable(
        "stray.xml",
        b"<rss version=\"2.0\"><channel><title>t</title></channel>\
          <item><title>outside the channel</title><link>https://e.example/1</link></item></rss>",
    );
    origin.set_mutable(
        "quiet.xml",
        b"<rss version=\"2.0\"><channel><title>Quiet</title><link>https://quiet.example/</link></channel></rss>",
    );
    origin.set_mutable(
        "atom03.xml",
        b"<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title>Old</title>\
          <entry><title>Legacy one</title><id>tag:old,1</id><issued>2004-01-01T00:00:00Z</issued></entry>\
          <entry><title>Legacy two</title><id>tag:old,2</id><issued>2004-01-02T00:00:00Z</issued></entry></feed>",
    );
    let env = Env::new(&sources(&[
        ("unknown", origin.url("/mutable/unknown.xml")),
        ("stray", origin.url("/mutable/stray.xml")),
        ("quiet", origin.url("/mutable/quiet.xml")),
        ("atom03", origin.url("/mutable/atom03.xml")),
    ]))
    .await;
    let reports = env.fetch().await;
    let unknown = failure(&reports, "unknown");
    assert!(
        unknown.starts_with("source unknown: parse: the document has no items")
            && unknown.contains("<feed> in namespace http://example.com/not-atom"),
        "{unknown}"
    );
    assert!(failure(&reports, "stray").contains("the document has no items"));
    // A channel with no items yet is an empty feed, fetched successfully.
    assert_eq!(stored(&reports, "quiet").new, 0);
    // Atom 0.3 was once read as an empty feed: its entries are read now.
    assert_eq!(stored(&reports, "atom03").new, 2);
    let statuses = env.store.source_statuses().await.expect("statuses");
    for (name, status) in [
        ("unknown", FetchStatus::Failed),
        ("stray", FetchStatus::Failed),
        ("quiet", FetchStatus::Stored),
        ("atom03", FetchStatus::Stored),
    ] {
        assert_eq!(statuses[name].last_status, Some(status), "{name}");
    }
    assert!(
        statuses["unknown"]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("has no items")),
        "{:?}",
        statuses["unknown"]
    );
    let items = env.store.all_items().await.expect("items");
    assert_eq!(title_of(&items, "atom03"), ["Legacy one", "Legacy two"]);
}

/// Relative URLs resolve against the document's own address when the server gives one
/// (`Content-Location`), as feed readers do, else against where it was fetched from.
#[tokio::test]
async fn relative_urls_resolve_against_content_location() {
    let origin = Origin::start().await;
    let env = Env::new(&sources(&[
        ("located", origin.url("/located/relative.xml")),
        ("plain", origin.url("/feeds/relative.xml")),
    ]))
    .await;
    let reports = env.fetch().await;
    assert_eq!(stored(&reports, "located").new, 1);
    let items = env.store.all_items().await.expect("items");
    let item = |source: &str| {
        items
            .iter()
            .find(|i| i.source == source)
            .unwrap_or_else(|| panic!("{source}"))
    };
    let located = item("located");
    assert_eq!(
        located.link.as_deref(),
        Some("https://located.example/news/story.html")
    );
    assert!(
        located
            .summary_html
            .as_deref()
            .is_some_and(|s| s.contains("href=\"https://located.example/news/more.html\"")),
        "{:?}",
        located.summary_html
    );
    let plain = item("plain");
    assert_eq!(
        plain.link.as_deref(),
        Some(origin.url("/feeds/story.html").as_str())
    );
}
