//! Full text on a loopback site of our own: a summary-only feed whose items link to article
//! pages (simplified and traditional Chinese, English; each wrapped in navigation, a sidebar of
//! other places' headlines and a footer naming another province), a full-text feed of the same
//! stories from another site, a list page without a feed, and pages that hang, are huge, or
//! redirect to private addresses.

use std::collections::HashMap;
use std::net::IpAddr;

use feedfold::model::StoredItem;
use feedfold::pipeline::explain::{Compared, explain};
use feedfold::source::guard::Policy;
use feedfold::source::http::Fetcher;
use feedfold::store::PageStatus;

use crate::support::{Backend, Env, Origin, fixtures, isolated_network, stored};

/// The article fixtures the feeds link to: (page, the feed's summary, the region the story is
/// about: an adcode prefix, and the prefixes of places only the page's furniture names).
const STORIES: [(&str, &str, &str, &[&str]); 3] = [
    (
        "zh-hans-1-shaanxi-energy",
        "陕西安排今冬明春天然气、电力和煤炭保障。",
        "61",
        &["44", "35", "45", "43", "36"],
    ),
    (
        "zh-hant-3-hualien-tourism",
        "花蓮觀光回溫，縣府公布最新統計。",
        "71",
        &["44", "81", "82"],
    ),
    (
        "en-1-guangdong-port",
        "Shenzhen's port keeps growing.",
        "44",
        &["46", "35"],
    ),
];

const DATE: &str = "Mon, 20 Nov 2023 02:00:00 GMT";

fn rss(items: &str) -> String {
    format!(
        "<rss version=\"2.0\"><channel><title>t</title><link>https://e.example/</link>{items}</channel></rss>"
    )
}

fn item(guid: &str, title: &str, link: &str, description: &str) -> String {
    format!(
        "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>{link}</link>\
         <pubDate>{DATE}</pubDate><description><![CDATA[{description}]]></description></item>"
    )
}

/// The hand-marked body of a fixture page.
fn body(page: &str) -> String {
    std::fs::read_to_string(fixtures().join("pages").join(format!("{page}.body.txt"))).expect("body")
}

/// The `<title>` of a fixture page's article: its `<h1>`.
fn headline(page: &str) -> String {
    let html = std::fs::read(fixtures().join("pages").join(format!("{page}.html"))).expect("page");
    let html = String::from_utf8_lossy(&html);
    let start = html
        .find("<h1")
        .and_then(|at| html[at..].find('>').map(|gt| at + gt + 1));
    let start = start.expect("h1");
    html[start..start + html[start..].find("</h1>").expect("h1 end")].to_string()
}

/// The items of the summary-only feed: the stories' summaries (the first one's replaced by
/// `first`), linking to the origin's pages.
fn feed_items(origin: &Origin, first: Option<&str>) -> String {
    let mut items = String::new();
    for (i, (page, summary, _, _)) in STORIES.iter().enumerate() {
        let summary = first.filter(|_| i == 0).unwrap_or(summary);
        let link = origin.url(&format!("/news/{page}.html"));
        items.push_str(&item(&format!("s-{page}"), &headline(page), &link, summary));
    }
    items
}

/// A summary-only feed of the stories (links to the origin's pages), and a full-text feed of
/// the same stories as another site prints them.
fn feeds(origin: &Origin) {
    let mut full = String::new();
    for (page, _, _, _) in STORIES {
        let paragraphs: String = body(page).lines().map(|l| format!("<p>{l}</p>")).collect();
        let other = format!("https://other.example/{page}.html");
        full.push_str(&item(&format!("f-{page}"), &headline(page), &other, &paragraphs));
    }
    origin.set_mutable("summaries.xml", rss(&feed_items(origin, None)).as_bytes());
    origin.set_mutable("full.xml", rss(&full).as_bytes());
}

fn config(origin: &Origin, extra: &str) -> String {
    format!(
        "[fetch]\ntimeout = \"5s\"\n{extra}\n\
         [[source]]\nname = \"summaries\"\nurl = \"{}\"\nfull_text = \"always\"\n\n\
         [[source]]\nname = \"full\"\nurl = \"{}\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All\"\n",
        origin.url("/mutable/summaries.xml"),
        origin.url("/mutable/full.xml"),
    )
}

async fn items_by_guid(env: &Env) -> HashMap<String, StoredItem> {
    env.store
        .all_items()
        .await
        .expect("items")
        .into_iter()
        .map(|i| (i.guid.clone().unwrap_or_default(), i))
        .collect()
}

async fn summary_only_items_get_their_articles_fold_and_are_tagged_by_them(backend: Backend) {
    let origin = Origin::start().await;
    feeds(&origin);
    let Some(env) = Env::on(backend, &config(&origin, "")).await else {
        return;
    };
    let reports = env.fetch().await;
    assert_eq!(stored(&reports, "summaries").new, 3);
    assert_eq!(
        env.report(&reports, "summaries").pages,
        [("ok", 3)].into_iter().collect(),
        "{reports:?}"
    );
    let items = items_by_guid(&env).await;
    for (page, summary, region, elsewhere) in STORIES {
        let mine = &items[&format!("s-{page}")];
        let theirs = &items[&format!("f-{page}")];
        // The feed's summary stays; the article is the content, without the page's furniture.
        assert_eq!(mine.summary_html.as_deref(), Some(summary), "{page}");
        let content = mine.content_html.as_deref().expect("the article");
        let text = feedfold::html::to_text(content);
        let scores = feedfold::source::page::token_scores(&text, &body(page));
        assert!(
            scores.precision >= 0.95 && scores.recall >= 0.95,
            "{page}: {scores:?}\n{text}"
        );
        // Folded with the full copy of another site, and tagged by the article.
        assert_eq!(mine.story_id, theirs.story_id, "{page} folds with its full copy");
        let codes: Vec<&str> = mine.regions.0.iter().map(|r| r.code.as_str()).collect();
        assert!(
            codes.first().is_some_and(|c| c.starts_with(region)),
            "{page}: {codes:?}"
        );
        for other in elsewhere {
            assert!(
                !codes.iter().any(|c| c.starts_with(other)),
                "{page}: furniture's {other} in {codes:?}"
            );
        }
    }
    // `explain` says which text was compared.
    let (page, _, _, _) = STORIES[0];
    let mine = explain(&env.store, &format!("s-{page}"), &env.config.fold)
        .await
        .expect("explain")
        .expect("item");
    assert_eq!(
        mine.compared,
        Compared::Page {
            url: origin.url(&format!("/news/{page}.html"))
        }
    );
    assert_eq!(mine.members.len(), 1, "{mine:?}");
    let theirs = explain(&env.store, &format!("f-{page}"), &env.config.fold)
        .await
        .expect("explain")
        .expect("item");
    assert_eq!(theirs.compared, Compared::Feed);
    // Three stories, each carried by both sources.
    let stories: std::collections::BTreeSet<_> = items.values().map(|i| i.story_id.clone()).collect();
    assert_eq!(stories.len(), 3, "{items:#?}");
}

async fn an_unchanged_page_is_never_fetched_again(backend: Backend) {
    let origin = Origin::start().await;
    feeds(&origin);
    let Some(env) = Env::on(backend, &config(&origin, "")).await else {
        return;
    };
    let page = format!("/news/{}.html", STORIES[0].0);
    env.fetch().await;
    assert_eq!(origin.hits(&page), 1);
    let before = items_by_guid(&env).await;

    // The feed changes, but not its items: nothing new, no page asked for.
    let feed = rss(&feed_items(&origin, None)).replace("<title>t</title>", "<title>t, later</title>");
    origin.set_mutable("summaries.xml", feed.as_bytes());
    let reports = env.fetch().await;
    let counts = stored(&reports, "summaries");
    assert_eq!((counts.new, counts.updated, counts.unchanged), (0, 0, 3));
    assert!(env.report(&reports, "summaries").pages.is_empty());
    assert_eq!(origin.hits(&page), 1, "never refetched");

    // The feed changes one item: its page is asked for with its validators (304), and the
    // item keeps its article.
    let summaries = feed_items(&origin, Some("陕西：能源保供推进会召开。"));
    origin.set_mutable("summaries.xml", rss(&summaries).as_bytes());
    let reports = env.fetch().await;
    assert_eq!(stored(&reports, "summaries").updated, 1);
    assert_eq!(
        env.report(&reports, "summaries").pages,
        [("not_modified", 1)].into_iter().collect()
    );
    assert_eq!((origin.hits(&page), origin.conditional_hits(&page)), (2, 1));
    let after = items_by_guid(&env).await;
    let key = format!("s-{}", STORIES[0].0);
    assert_eq!(after[&key].content_html, before[&key].content_html);
    assert_eq!(
        after[&key].summary_html.as_deref(),
        Some("陕西：能源保供推进会召开。")
    );
}

on_both_backends!(
    summary_only_items_get_their_articles_fold_and_are_tagged_by_them,
    an_unchanged_page_is_never_fetched_again,
);

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

/// Hostile pages: one hangs, one is huge, two redirect to private addresses; each fails alone,
/// leaves its item with the feed's text, is tried again later, and no refused hop is
/// connected to. The feed and its pages are on 127.0.0.2, which stands in for a public host;
/// `target` (127.0.0.1) is where a refused redirect would land.
#[tokio::test]
async fn hostile_pages_fail_alone() {
    if !isolated_network("fulltext::hostile_pages_fail_alone") {
        return;
    }
    let site = Origin::start_on(ip("127.0.0.2")).await;
    let target = Origin::start().await;
    let good = STORIES[0].0;
    let pages = [
        ("good", site.url(&format!("/news/{good}.html"))),
        ("hang", site.url("/hang")),
        ("huge", site.url("/huge")),
        (
            "loopback",
            site.redirect_to(&target.url(&format!("/news/{good}.html"))),
        ),
        ("intranet", site.redirect_to("http://10.0.0.1/news/a.html")),
        (
            "metadata",
            site.redirect_to("http://169.254.169.254/latest/meta-data/"),
        ),
    ];
    let items: String = pages
        .iter()
        .map(|(guid, link)| {
            item(
                guid,
                &format!("title {guid}"),
                link,
                &format!("feed text of {guid}"),
            )
        })
        .collect();
    site.set_mutable("hostile.xml", rss(&items).as_bytes());
    let mut env = Env::new(&format!(
        "[fetch]\ntimeout = \"2s\"\nmax_body = \"1MiB\"\n\n\
         [[source]]\nname = \"hostile\"\nurl = \"{}\"\nfull_text = \"always\"\n",
        site.url("/mutable/hostile.xml")
    ))
    .await;
    env.fetcher = Fetcher::with_policy(&env.config.fetch, Policy::with_stand_ins(vec![ip("127.0.0.2")]))
        .expect("client");
    let now = chrono::Utc::now();
    let reports = env.fetch_at(now, feedfold::store::Taking::Any).await;
    // The source is stored; each page failed for its own reason.
    assert_eq!(stored(&reports, "hostile").new, 6);
    assert_eq!(
        env.report(&reports, "hostile").pages,
        [
            ("ok", 1),
            ("private_address", 3),
            ("timeout", 1),
            ("too_large", 1)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        target.hits(&format!("/news/{good}.html")),
        0,
        "no refused hop connected to"
    );
    let items = items_by_guid(&env).await;
    assert!(items["good"].content_html.is_some());
    for (guid, _) in &pages[1..] {
        let item = &items[*guid];
        assert_eq!(item.content_html, None, "{guid} keeps its feed text");
        assert_eq!(
            item.summary_html.as_deref(),
            Some(format!("feed text of {guid}").as_str())
        );
    }
    let rows = env.store.source_pages("hostile").await.expect("pages");
    let failed: HashMap<String, _> = rows
        .iter()
        .filter(|p| p.status == PageStatus::Failed)
        .map(|p| (p.url.clone(), p.clone()))
        .collect();
    assert_eq!(failed.len(), 5);
    for (guid, link) in &pages[1..] {
        let row = &failed[link.as_str()];
        assert_eq!(row.failures, 1, "{guid}");
        let next = row.next_try.expect("a retry");
        assert!(
            next > now && next <= now + chrono::Duration::seconds(30),
            "{guid}: {next}"
        );
        let error = row.error.as_deref().unwrap_or("");
        let why = match *guid {
            "hang" => "timed out",
            "huge" => "larger than",
            "loopback" => "a loopback address",
            "intranet" => "a private address",
            _ => "a cloud metadata address",
        };
        assert!(error.contains(why), "{guid}: {error}");
    }

    // Before their retry, nothing is asked again; after it, only the failed pages are.
    let good_hits = site.hits(&format!("/news/{good}.html"));
    let reports = env
        .fetch_at(now + chrono::Duration::seconds(5), feedfold::store::Taking::Any)
        .await;
    assert!(env.report(&reports, "hostile").pages.is_empty(), "{reports:?}");
    let reports = env
        .fetch_at(now + chrono::Duration::minutes(5), feedfold::store::Taking::Any)
        .await;
    assert_eq!(
        env.report(&reports, "hostile").pages.values().sum::<usize>(),
        5,
        "{reports:?}"
    );
    assert_eq!(site.hits(&format!("/news/{good}.html")), good_hits);
    let rows = env.store.source_pages("hostile").await.expect("pages");
    assert!(
        rows.iter()
            .filter(|p| p.status == PageStatus::Failed)
            .all(|p| p.failures == 2),
        "{rows:#?}"
    );
    assert_eq!(target.hits(&format!("/news/{good}.html")), 0);
}

/// A page that fails is read once it works, and its item is updated with the article.
#[tokio::test]
async fn a_failed_page_is_read_on_a_later_try() {
    let origin = Origin::start().await;
    let page = origin.url("/mutable/late.html");
    origin.set_mutable(
        "late.xml",
        rss(&item("late", "陕西部署今冬明春能源保供工作", &page, "摘要")).as_bytes(),
    );
    let env = Env::new(&format!(
        "[[source]]\nname = \"late\"\nurl = \"{}\"\nfull_text = \"auto\"\n",
        origin.url("/mutable/late.xml")
    ))
    .await;
    let now = chrono::Utc::now();
    let reports = env.fetch_at(now, feedfold::store::Taking::Any).await;
    assert_eq!(
        env.report(&reports, "late").pages,
        [("http_status", 1)].into_iter().collect()
    );
    let explained = explain(&env.store, "late", &env.config.fold)
        .await
        .expect("explain")
        .expect("the item");
    assert!(
        matches!(&explained.compared, Compared::PageFailed { url, error, next_try: Some(_) }
            if *url == page && error.contains("HTTP 404")),
        "{:?}",
        explained.compared
    );
    let html = std::fs::read(fixtures().join("pages/zh-hans-1-shaanxi-energy.html")).expect("page");
    origin.set_mutable("late.html", &html);
    let reports = env
        .fetch_at(now + chrono::Duration::minutes(2), feedfold::store::Taking::Any)
        .await;
    assert_eq!(
        env.report(&reports, "late").pages,
        [("ok", 1)].into_iter().collect()
    );
    assert_eq!(stored(&reports, "late").updated, 1);
    let items = items_by_guid(&env).await;
    let content = items["late"].content_html.as_deref().unwrap_or("");
    assert!(content.contains("能源保供工作推进会"), "{content}");
    assert_eq!(items["late"].summary_html.as_deref(), Some("摘要"));
    let explained = explain(&env.store, "late", &env.config.fold)
        .await
        .expect("explain")
        .expect("the item");
    assert_eq!(explained.compared, Compared::Page { url: page });
    assert!(explained.lines >= 5, "the article's lines: {explained:?}");
}

/// A site without a feed: its list pages' links become items, each with its article; dates in
/// Chinese forms (`2023年11月20日`, year-less `11-20 10:00`) are read.
#[tokio::test]
async fn list_pages_become_items_with_their_articles() {
    let origin = Origin::start().await;
    let env = Env::new(&format!(
        "[[source]]\nname = \"sw\"\nurl = \"{}\"\nkind = \"page\"\n\
         item_selector = \"ul.news-list > li\"\ndate_selector = \".date\"\n\n\
         [[source]]\nname = \"gundong\"\nurl = \"{}\"\nkind = \"page\"\n\
         item_selector = \"div.list-box > div.item\"\ntitle_selector = \"h3\"\ndate_selector = \"span.time\"\n\n\
         [[source]]\nname = \"empty\"\nurl = \"{}\"\nkind = \"page\"\nitem_selector = \"ul.nothing > li\"\n",
        origin.url("/news/list-1-sw.html"),
        origin.url("/news/list-2-gundong.html"),
        origin.url("/news/list-1-sw.html"),
    ))
    .await;
    let now = chrono::Utc::now();
    let reports = env.fetch_at(now, feedfold::store::Taking::Any).await;
    assert_eq!(stored(&reports, "sw").new, 4);
    assert_eq!(
        stored(&reports, "gundong").new,
        5,
        "the advert, without a title, is no item"
    );
    assert!(
        crate::support::failure(&reports, "empty").contains("no item `ul.nothing > li` finds"),
        "{reports:?}"
    );
    let items = env.store.all_items().await.expect("items");
    let of = |source: &str| -> Vec<&StoredItem> { items.iter().filter(|i| i.source == source).collect() };
    for item in of("sw").into_iter().chain(of("gundong")) {
        let link = item.link.as_deref().expect("link");
        let page = link
            .rsplit('/')
            .next()
            .and_then(|p| p.strip_suffix(".html"))
            .expect("page");
        assert!(link.starts_with(&origin.url("/news/")), "{link}");
        let text = feedfold::html::to_text(item.content_html.as_deref().expect("article"));
        let scores = feedfold::source::page::token_scores(&text, &body(page));
        assert!(
            scores.precision >= 0.95 && scores.recall >= 0.95,
            "{page}: {scores:?}"
        );
        assert!(item.published.is_some(), "{page}");
    }
    // Each article page was fetched once, though both lists link to some of them.
    assert_eq!(
        origin.hits("/news/zh-hans-1-shaanxi-energy.html"),
        2,
        "once per source"
    );
    let shaanxi = of("sw")
        .into_iter()
        .find(|i| i.title.as_deref() == Some("陕西部署今冬明春能源保供工作"))
        .expect("item");
    let cst = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    assert_eq!(
        shaanxi
            .published
            .map(|d| d.with_timezone(&cst).format("%Y-%m-%d").to_string()),
        Some("2023-11-20".to_string())
    );
    let hualien = of("gundong")
        .into_iter()
        .find(|i| i.link.as_deref().is_some_and(|l| l.contains("hualien")))
        .expect("item");
    let local = hualien.published.expect("date").with_timezone(&cst);
    assert_eq!(local.format("%m-%d %H:%M").to_string(), "11-20 10:00");
    assert!(
        hualien.published.expect("date") <= now + chrono::Duration::days(1),
        "a year-less date is not in the future"
    );
    // Both lists link to the same page: one story across the sources.
    let story = |source: &str| {
        of(source)
            .into_iter()
            .find(|i| i.title.as_deref() == Some("成自高铁全线完成联调联试"))
            .map(|i| i.story_id.clone())
    };
    assert_eq!(story("sw"), story("gundong"));
}

/// The daemon counts page fetches by result in `/metrics` and shows each source's pages read
/// and failed on its index page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_counts_page_fetches_by_result() {
    let origin = Origin::start().await;
    let good = origin.url(&format!("/news/{}.html", STORIES[0].0));
    let missing = origin.url("/news/no-such-page.html");
    let items = [
        item("good", "陕西部署今冬明春能源保供工作", &good, "摘要"),
        item("missing", "不在了", &missing, "摘要"),
    ];
    origin.set_mutable("daemon.xml", rss(&items.concat()).as_bytes());
    let d = crate::serve::Daemon::launch(&format!(
        "[store]\nurl = \"sqlite://daemon.db\"\n\n[fetch]\nstartup_spread = 0\n\n\
         [[source]]\nname = \"summaries\"\nurl = \"{}\"\nfull_text = \"always\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All\"\n",
        origin.url("/mutable/daemon.xml")
    ))
    .await;
    d.wait_for("the pages", |d| async move {
        let metrics = d.text("/metrics").await;
        metrics.contains("feedfold_full_text_fetches_total{result=\"ok\"} 1")
            && metrics.contains("feedfold_full_text_fetches_total{result=\"http_status\"} 1")
            // The article is republished.
            && d.text("/feeds/all.json").await.contains("能源保供工作推进会")
    })
    .await;
    let index = d.text("/").await;
    assert!(index.contains("full text: 1 pages read, 1 failed"), "{index}");
    let feed = d.text("/feeds/all.json").await;
    assert!(
        feed.contains("能源保供工作推进会"),
        "the article is republished: {feed}"
    );
    d.stop().await;
}
