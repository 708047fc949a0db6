//! Full text (issue 18): extraction quality, extraction throughput, and what full text does to
//! folding and regions for a summary-only source. Reads the fixture pages of
//! `tests/fixtures/pages/` (each `NAME.html` with its hand-marked `NAME.body.txt`).
//!
//! Run: `cargo run --release --example bench-fulltext -- MODE [ARG]`, MODE one of
//!
//! - `quality`: token precision and recall of each page's extracted text against its marked
//!   body (the scorer of `source::page::token_scores`): feedfold's extraction, dom_smoothie
//!   bare (its content HTML as text), and the whole page as text;
//! - `throughput [SECONDS]` (default 3): pages per second, the pages extracted in turn on one
//!   thread for at least SECONDS, three rounds alternating, median: feedfold's `extract`
//!   (decode, readability, tidy) against dom_smoothie bare (`Readability::new` + `parse` on the
//!   decoded text). Pin it to one core with `taskset -c N`;
//! - `folds`: a loopback site (this process) serving the pages and two feeds: `summaries`,
//!   each story's first sentence cut to 40 characters (12 words in English) and a link to its
//!   page, and `wire`, the full text of the same stories under reworded titles from another
//!   site. Fetched into a new SQLite store with `summaries` set to `full_text = "never"`, then
//!   `"always"`, then `"always"` with `content_selector = "body"` (the whole page through
//!   feedfold's line rules, no readability). Prints, as the development corpus's score does,
//!   pairwise precision / recall / F1 of the stories against the labels (one story per page),
//!   and the province accuracy of the `summaries` items fetched alone (each a story of one
//!   copy, tagged from its own text).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use feedfold::config::Config;
use feedfold::source::decode::decode;
use feedfold::source::http::Fetcher;
use feedfold::source::page::{Rules, extract, token_scores};
use feedfold::store::{Store, Taking};

/// The pages, and the province each story is about (adcode prefix), from the fixtures' README.
const PAGES: [(&str, &str); 13] = [
    ("en-1-guangdong-port", "44"),
    ("en-2-yunnan-flowers", "53"),
    ("en-3-heilongjiang-ice", "23"),
    ("en-4-anhui-ev", "34"),
    ("zh-hans-1-shaanxi-energy", "61"),
    ("zh-hans-2-sichuan-railway", "51"),
    ("zh-hans-3-gansu-computing", "62"),
    ("zh-hans-4-shandong-vegetables-gbk", "37"),
    ("zh-hans-5-hubei-renewal", "42"),
    ("zh-hant-1-taichung-metro", "71"),
    ("zh-hant-2-hongkong-traffic-short", "81"),
    ("zh-hant-3-hualien-tourism", "71"),
    ("zh-hant-4-macau-visitors-short", "82"),
];

fn pages_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pages")
}

fn read(name: &str, ext: &str) -> Vec<u8> {
    std::fs::read(pages_dir().join(format!("{name}.{ext}"))).expect("fixture")
}

fn marked(name: &str) -> String {
    String::from_utf8(read(name, "body.txt")).expect("utf-8")
}

/// dom_smoothie as a user of the crate alone would call it, on decoded text.
fn bare(text: &str) -> String {
    dom_smoothie::Readability::new(text, Some("http://127.0.0.1/news/page.html"), None)
        .and_then(|mut r| r.parse())
        .map(|a| a.content.to_string())
        .unwrap_or_default()
}

fn quality() {
    println!("| page | feedfold P | R | dom_smoothie bare P | R | whole page P | R |");
    println!("|---|---|---|---|---|---|---|");
    let mut sums = [0.0f64; 6];
    for (name, _) in PAGES {
        let bytes = read(name, "html");
        let body = marked(name);
        let ours = extract(&bytes, None, None, None, &Rules::default())
            .map(|a| a.text)
            .unwrap_or_default();
        let text = decode(&bytes, Some("gbk").filter(|_| name.ends_with("gbk"))).text;
        let theirs = feedfold::html::to_text(&bare(&text));
        let whole = feedfold::html::to_text(&text);
        let scores = [ours, theirs, whole].map(|t| token_scores(&t, &body));
        print!("| {name} ");
        for (i, s) in scores.iter().enumerate() {
            print!("| {:.3} | {:.3} ", s.precision, s.recall);
            sums[2 * i] += s.precision;
            sums[2 * i + 1] += s.recall;
        }
        println!("|");
    }
    let n = PAGES.len() as f64;
    print!("| **mean** ");
    for s in sums {
        print!("| **{:.3}** ", s / n);
    }
    println!("|");
}

fn throughput(seconds: f64) {
    let pages: Vec<(Vec<u8>, String)> = PAGES
        .iter()
        .map(|(name, _)| {
            let bytes = read(name, "html");
            let text = decode(&bytes, None).text;
            (bytes, text)
        })
        .collect();
    let rules = Rules::default();
    let run = |ours: bool| {
        let started = Instant::now();
        let mut n = 0usize;
        while started.elapsed().as_secs_f64() < seconds {
            for (bytes, text) in &pages {
                let len = if ours {
                    extract(bytes, None, None, None, &rules).map_or(0, |a| a.html.len())
                } else {
                    bare(text).len()
                };
                std::hint::black_box(len);
                n += 1;
            }
        }
        n as f64 / started.elapsed().as_secs_f64()
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ours.push(run(true));
        theirs.push(run(false));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let bytes: usize = pages.iter().map(|(b, _)| b.len()).sum();
    println!(
        "{} pages, {:.1} KB on average, {seconds} s per round, 3 rounds, median",
        pages.len(),
        bytes as f64 / pages.len() as f64 / 1000.0
    );
    let (o, t) = (median(&mut ours), median(&mut theirs));
    println!("feedfold extract (decode + readability + tidy): {o:.0} pages/s");
    println!("dom_smoothie bare (parse + readability):        {t:.0} pages/s");
    println!("feedfold / bare: {:.2}", o / t);
}

/// The first sentence of a body, cut to 40 characters (12 words for English): a summary.
fn summary(body: &str) -> String {
    let first = body.lines().next().unwrap_or("");
    let sentence = first.split_inclusive(['。', '.']).next().unwrap_or(first).trim();
    if sentence.is_ascii() {
        let words: Vec<&str> = sentence.split_whitespace().take(12).collect();
        format!("{} …", words.join(" "))
    } else {
        let cut: String = sentence.chars().take(40).collect();
        if cut.chars().count() < sentence.chars().count() {
            format!("{cut}…")
        } else {
            cut
        }
    }
}

fn headline(name: &str) -> String {
    let html = String::from_utf8_lossy(&read(name, "html")).into_owned();
    let html = if name.ends_with("gbk") {
        decode(&read(name, "html"), Some("gbk")).text
    } else {
        html
    };
    let start = html
        .find("<h1")
        .and_then(|at| html[at..].find('>').map(|gt| at + gt + 1));
    let start = start.unwrap_or(0);
    let end = html[start..].find("</h1>").map_or(start, |e| start + e);
    feedfold::html::to_text(&html[start..end])
}

fn rss(items: &[String]) -> String {
    format!(
        "<rss version=\"2.0\"><channel><title>t</title><link>https://e.example/</link>{}</channel></rss>",
        items.concat()
    )
}

fn item(guid: &str, title: &str, link: &str, description: &str) -> String {
    format!(
        "<item><guid isPermaLink=\"false\">{guid}</guid><title><![CDATA[{title}]]></title><link>{link}</link>\
         <pubDate>Mon, 20 Nov 2023 02:00:00 GMT</pubDate><description><![CDATA[{description}]]></description></item>"
    )
}

/// The feeds the loopback site serves, by file name.
type Feeds = std::sync::Arc<std::sync::Mutex<HashMap<String, String>>>;

/// Serves the pages at `/news/NAME.html` and `feeds` at `/NAME.xml`; returns the origin.
async fn serve(feeds: Feeds) -> String {
    let app = Router::new()
        .route(
            "/news/{name}",
            get(|UrlPath(name): UrlPath<String>| async move {
                match std::fs::read(pages_dir().join(name)) {
                    Ok(body) => ([(header::CONTENT_TYPE, "text/html")], body).into_response(),
                    Err(_) => StatusCode::NOT_FOUND.into_response(),
                }
            }),
        )
        .route(
            "/{feed}",
            get(move |UrlPath(feed): UrlPath<String>| {
                let body = feeds.lock().expect("lock").get(&feed).cloned();
                async move {
                    match body {
                        Some(body) => ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response(),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });
    format!("http://{addr}")
}

/// An item as the scores read it: (source, guid, story, primary region code).
type Scored = (String, String, String, String);

/// Fetches `sources` (TOML) into a new store; returns every item, and how many pages the
/// `summaries` source read.
async fn fetch(sources: &str) -> (Vec<Scored>, usize) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, format!("[store]\nurl = \"sqlite://s.db\"\n\n{sources}")).expect("config");
    let cfg = Config::load(&path).expect("config");
    let store = Store::open(&cfg.store.url).await.expect("store");
    let fetcher = Fetcher::new(&cfg.fetch).expect("client");
    feedfold::run::fetch_all(&cfg, &store, &fetcher, chrono::Utc::now(), Taking::Any, &|_| {})
        .await
        .expect("cycle");
    let items = store.all_items().await.expect("items");
    let pages = store.source_pages("summaries").await.expect("pages");
    store.close().await;
    let read = pages
        .iter()
        .filter(|p| p.status == feedfold::store::PageStatus::Read)
        .count();
    let items = items
        .into_iter()
        .map(|i| {
            let region = i.regions.0.first().map(|r| r.code.clone()).unwrap_or_default();
            (i.source, i.guid.unwrap_or_default(), i.story_id, region)
        })
        .collect();
    (items, read)
}

/// Pairwise precision, recall and F1 of the stories against one story per page (the guid
/// after its `s-` / `w-` prefix).
fn pairwise(items: &[Scored]) -> (f64, f64, f64) {
    let label = |guid: &str| guid[2..].to_string();
    let (mut predicted, mut truth, mut both) = (0usize, 0usize, 0usize);
    for (i, a) in items.iter().enumerate() {
        for b in &items[i + 1..] {
            let same_story = a.2 == b.2;
            let same_label = label(&a.1) == label(&b.1);
            predicted += usize::from(same_story);
            truth += usize::from(same_label);
            both += usize::from(same_story && same_label);
        }
    }
    let p = if predicted == 0 {
        1.0
    } else {
        both as f64 / predicted as f64
    };
    let r = if truth == 0 {
        1.0
    } else {
        both as f64 / truth as f64
    };
    (p, r, if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) })
}

async fn folds() {
    let feeds = Feeds::default();
    let origin = serve(feeds.clone()).await;
    let (mut summaries, mut wire) = (Vec::new(), Vec::new());
    for (name, _) in PAGES {
        let body = marked(name);
        let title = headline(name);
        let link = format!("{origin}/news/{name}.html");
        summaries.push(item(&format!("s-{name}"), &title, &link, &summary(&body)));
        let paragraphs: String = body.lines().map(|l| format!("<p>{l}</p>")).collect();
        wire.push(item(
            &format!("w-{name}"),
            &format!("【快讯】{title}"),
            &format!("https://wire.example/{name}"),
            &paragraphs,
        ));
    }
    feeds.lock().expect("lock").extend([
        ("summaries.xml".to_string(), rss(&summaries)),
        ("wire.xml".to_string(), rss(&wire)),
    ]);
    println!(
        "| summaries source | pairwise P / R / F1 (with wire) | province accuracy (alone) | pages read |"
    );
    println!("|---|---|---|---|");
    for (label, extra) in [
        (
            "feed text only (`full_text = \"never\"`)",
            "full_text = \"never\"",
        ),
        ("full text (`\"always\"`)", "full_text = \"always\""),
        (
            "whole page, no readability (`content_selector = \"body\"`)",
            "full_text = \"always\"\ncontent_selector = \"body\"",
        ),
    ] {
        let summaries_source =
            format!("[[source]]\nname = \"summaries\"\nurl = \"{origin}/summaries.xml\"\n{extra}\n\n");
        let wire_source = format!("[[source]]\nname = \"wire\"\nurl = \"{origin}/wire.xml\"\n\n");
        let (together, read) = fetch(&format!("{summaries_source}{wire_source}")).await;
        let (p, r, f1) = pairwise(&together);
        let (alone, _) = fetch(&summaries_source).await;
        let expected: HashMap<&str, &str> = PAGES.iter().copied().collect();
        let right = alone
            .iter()
            .filter(|(_, guid, _, region)| region.starts_with(expected[&guid[2..]]))
            .count();
        let stories: BTreeSet<&String> = together.iter().map(|i| &i.2).collect();
        println!(
            "| {label} | {p:.3} / {r:.3} / {f1:.3} ({} stories) | {right} / {} ({:.3}) | {read} / {} |",
            stories.len(),
            alone.len(),
            right as f64 / alone.len() as f64,
            PAGES.len()
        );
        for (_, guid, _, region) in &alone {
            if !region.starts_with(expected[&guid[2..]]) {
                println!("|   missed: {} → `{region}` | | | |", &guid[2..]);
            }
        }
    }
}

#[tokio::main]
async fn main() {
    feedfold::install_tls_provider();
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("quality") => quality(),
        Some("throughput") => throughput(args.next().and_then(|s| s.parse().ok()).unwrap_or(3.0)),
        Some("folds") => folds().await,
        _ => {
            eprintln!("usage: bench-fulltext quality | throughput [SECONDS] | folds");
            std::process::exit(2);
        }
    }
}
