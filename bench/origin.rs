//! Benchmark (iv) origin: a loopback HTTP server of many RSS feeds with strong validators.
//!
//! ```text
//! cargo run --release --example bench-origin -- --port 8766 --dir ORIGIN_DIR
//! cargo run --release --example bench-origin -- --port 8766 --feeds 1000 --items 30
//! ```
//!
//! With `--dir`, it serves the `feed-NNNN.xml` files in that folder (as written by the peer's
//! `e2e_cycle.py --make-origin DIR`, so both sides fetch the same bytes); otherwise it makes
//! `--feeds` feeds of `--items` items itself, deterministically, in the same style (mixed
//! Chinese and English titles, entity-escaped HTML summaries, CDATA HTML content, GUIDs, dates,
//! categories, enclosures).
//!
//! - `GET /feed-NNNN.xml`: the feed, with a strong `ETag` and a `Last-Modified`; `304 Not
//!   Modified` when `If-None-Match` matches (or, without `If-None-Match`, when
//!   `If-Modified-Since` is not older than `Last-Modified`).
//! - `POST /mutate?percent=P&items=K`: changes P % of the feeds (a different slice each call):
//!   each gets K new items at its top (default 3), loses as many from its tail, and gets new
//!   validators. Answers with the numbers of the feeds changed.
//! - `GET /stats`: requests served so far, as `200 N / 304 N`.
//!
//! Binds 127.0.0.1 only.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use tokio::sync::RwLock;

const ZH_WORDS: &[&str] = &[
    "国务院",
    "发布",
    "关于",
    "进一步",
    "加强",
    "经济",
    "发展",
    "政策",
    "措施",
    "北京",
    "上海",
    "广州",
    "深圳",
    "香港",
    "台湾",
    "新华社",
    "记者",
    "报道",
    "市场",
    "监管",
    "总局",
    "科技",
    "创新",
    "人工智能",
    "芯片",
    "产业",
    "投资",
    "增长",
    "同比",
    "环比",
    "消费者",
    "价格",
    "指数",
    "央行",
    "利率",
    "汇率",
    "人民币",
    "美元",
    "出口",
    "进口",
    "贸易",
    "谈判",
    "会议",
    "举行",
    "表示",
    "预计",
    "今年",
    "第一季度",
    "地区",
    "城市",
    "交通",
    "地铁",
    "高铁",
    "天气",
    "暴雨",
    "台风",
    "预警",
    "教育",
    "学校",
    "学生",
    "考试",
    "医院",
    "医疗",
    "能源",
    "电力",
    "新能源",
    "汽车",
    "电池",
    "企业",
    "公司",
    "股票",
    "上涨",
    "下跌",
    "收盘",
    "专家",
    "认为",
    "政府",
    "部门",
    "数据",
    "显示",
    "全国",
];
const EN_WORDS: &[&str] = &[
    "the",
    "government",
    "announced",
    "new",
    "measures",
    "to",
    "support",
    "economic",
    "growth",
    "in",
    "region",
    "markets",
    "rallied",
    "after",
    "central",
    "bank",
    "decision",
    "on",
    "interest",
    "rates",
    "technology",
    "companies",
    "reported",
    "strong",
    "earnings",
    "while",
    "energy",
    "prices",
    "fell",
    "amid",
    "concerns",
    "over",
    "demand",
    "officials",
    "said",
    "plan",
    "would",
    "be",
    "implemented",
    "next",
    "year",
    "according",
    "a",
    "statement",
];
const PLACES: &[&str] = &[
    "北京",
    "上海",
    "广东",
    "香港",
    "台湾",
    "新加坡",
    "Tokyo",
    "London",
    "New York",
    "Berlin",
];
const CATS: &[&str] = &[
    "World",
    "China",
    "Business",
    "Technology",
    "Science",
    "Sports",
    "财经",
    "科技",
    "国际",
    "社会",
];
const AUTHORS: &[&str] = &["新华社记者", "Reuters", "AP", "本报记者 王伟"];

/// splitmix64: small, deterministic, good enough for text.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
}

/// Between `lo` and `hi` Chinese words (no spaces between them).
fn zh(rng: &mut Rng, lo: usize, hi: usize) -> String {
    let n = rng.range(lo, hi);
    (0..n).map(|_| rng.pick(ZH_WORDS)).collect()
}

/// Between `lo` and `hi` English words.
fn en(rng: &mut Rng, lo: usize, hi: usize) -> String {
    let n = rng.range(lo, hi);
    (0..n).map(|_| rng.pick(EN_WORDS)).collect::<Vec<_>>().join(" ")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn html_body(rng: &mut Rng, chinese: bool) -> String {
    let mut paras = Vec::new();
    for _ in 0..rng.range(3, 6) {
        let text = if chinese {
            zh(rng, 25, 60) + "。"
        } else {
            let mut s = en(rng, 30, 70);
            s[..1].make_ascii_uppercase();
            s + "."
        };
        paras.push(format!(
            "<p>{text} <a href=\"https://example.com/r/{}\">{}</a> &amp; <em>{}</em></p>",
            rng.range(1, 1_000_000),
            if chinese { "更多" } else { "more" },
            rng.pick(PLACES)
        ));
    }
    paras.insert(
        1,
        format!(
            "<figure><img src=\"https://img.example.com/{}.jpg\" alt=\"photo\" width=\"640\" height=\"360\"/>\
             <figcaption>{}</figcaption></figure>",
            rng.range(1, 1_000_000),
            rng.pick(PLACES)
        ),
    );
    paras.join("\n")
}

/// One `<item>` of site `site`, unique by `tag`.
fn item_xml(rng: &mut Rng, site: usize, tag: &str, when: DateTime<Utc>) -> String {
    let chinese = rng.below(10) < 6;
    let title = if chinese { zh(rng, 5, 10) } else { en(rng, 6, 12) };
    let summary: String = html_body(rng, chinese).chars().take(400).collect();
    let body = html_body(rng, chinese);
    let mut out = String::new();
    let _ = write!(
        out,
        "<item>\n<title>{}</title>\n<link>https://news{site}.example.com/{}/{tag}.html</link>\n\
         <guid isPermaLink=\"false\">news{site}-{tag}</guid>\n<pubDate>{}</pubDate>\n\
         <dc:creator>{}</dc:creator>\n<category>{}</category>\n<category>{}</category>\n\
         <description>{}</description>\n<content:encoded><![CDATA[{body}]]></content:encoded>\n\
         <enclosure url=\"https://img.example.com/{site}-{tag}.jpg\" length=\"{}\" type=\"image/jpeg\"/>\n</item>",
        escape(&title),
        when.format("%Y/%m/%d"),
        when.format("%a, %d %b %Y %H:%M:%S +0000"),
        escape(rng.pick(AUTHORS)),
        escape(rng.pick(CATS)),
        escape(rng.pick(CATS)),
        escape(&summary),
        rng.range(10_000, 1_000_000),
    );
    out
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn make_feed(site: usize, items: usize) -> String {
    let mut rng = Rng::new(1000 + site as u64);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n<title>Example News {site} 示例新闻</title>\n\
         <link>https://news{site}.example.com/</link>\n<description>Synthetic benchmark feed 合成基准测试源</description>\n\
         <language>zh-cn</language>\n<ttl>30</ttl>\n"
    );
    for i in 0..items {
        let when = base_time() + Duration::minutes(7 * (items - i) as i64 + rng.range(0, 6) as i64);
        out.push_str(&item_xml(&mut rng, site, &format!("{i:05}"), when));
        out.push('\n');
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

struct Feed {
    body: Bytes,
    etag: String,
    last_modified: DateTime<Utc>,
}

impl Feed {
    fn new(body: String, version: u64) -> Feed {
        let etag = format!(
            "\"{:016x}-{version}\"",
            xxhash_rust::xxh3::xxh3_64(body.as_bytes())
        );
        Feed {
            body: Bytes::from(body),
            etag,
            last_modified: base_time() + Duration::hours(version as i64),
        }
    }

    /// `k` new items at the top, `k` fewer at the tail, new validators.
    fn mutate(&mut self, site: usize, generation: u64, k: usize) {
        let text = String::from_utf8_lossy(&self.body).into_owned();
        let Some(first) = text.find("<item>") else {
            return;
        };
        let mut rng = Rng::new(((site as u64) << 20) ^ generation);
        let when = base_time() + Duration::days(60) + Duration::hours(generation as i64);
        let mut fresh = String::new();
        for j in 0..k {
            fresh.push_str(&item_xml(&mut rng, site, &format!("g{generation}-{j}"), when));
            fresh.push('\n');
        }
        let mut kept = text[first..].to_string();
        for _ in 0..k {
            if let Some(last) = kept.rfind("<item>") {
                let end = kept[last..]
                    .find("</item>")
                    .map_or(kept.len(), |e| last + e + "</item>\n".len());
                kept.replace_range(last..end.min(kept.len()), "");
            }
        }
        let body = format!("{}{fresh}{kept}", &text[..first]);
        *self = Feed::new(body, generation);
    }
}

struct Origin {
    feeds: RwLock<Vec<Feed>>,
    generation: AtomicU64,
    ok: AtomicU64,
    not_modified: AtomicU64,
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn not_modified(headers: &HeaderMap, feed: &Feed) -> bool {
    let get = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(tags) = get(header::IF_NONE_MATCH) {
        return tags.split(',').any(|t| t.trim() == feed.etag || t.trim() == "*");
    }
    match get(header::IF_MODIFIED_SINCE).and_then(|d| DateTime::parse_from_rfc2822(d).ok()) {
        Some(since) => since.with_timezone(&Utc) >= feed.last_modified,
        None => false,
    }
}

fn query_value(query: &str, key: &str) -> Option<u64> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

async fn handle(State(origin): State<Arc<Origin>>, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    if request.method() == Method::POST && path == "/mutate" {
        let percent = query_value(&query, "percent").unwrap_or(10).min(100);
        let k = query_value(&query, "items").unwrap_or(3) as usize;
        let generation = origin.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let mut feeds = origin.feeds.write().await;
        let n = feeds.len();
        let count = (n as u64 * percent / 100) as usize;
        // A different slice each time: start where the previous call would have ended.
        let start = (generation as usize - 1) * count;
        let mut changed = Vec::with_capacity(count);
        for j in 0..count {
            let site = (start + j) % n;
            feeds[site].mutate(site, generation, k);
            changed.push(site.to_string());
        }
        return (StatusCode::OK, format!("{}\n", changed.join(" "))).into_response();
    }
    if path == "/stats" {
        let text = format!(
            "200 {} / 304 {}\n",
            origin.ok.load(Ordering::Relaxed),
            origin.not_modified.load(Ordering::Relaxed)
        );
        return (StatusCode::OK, text).into_response();
    }
    let index = path
        .strip_prefix("/feed-")
        .and_then(|p| p.strip_suffix(".xml"))
        .and_then(|n| n.parse::<usize>().ok());
    let feeds = origin.feeds.read().await;
    let Some(feed) = index.and_then(|i| feeds.get(i)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = if not_modified(request.headers(), feed) {
        origin.not_modified.fetch_add(1, Ordering::Relaxed);
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        origin.ok.fetch_add(1, Ordering::Relaxed);
        let mut r = Response::new(Body::from(feed.body.clone()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/rss+xml; charset=utf-8"),
        );
        r
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&feed.etag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(feed.last_modified)) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    response
}

fn usage() -> ! {
    eprintln!("usage: bench-origin [--port 8766] (--dir DIR | [--feeds 1000] [--items 30])");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut port: u16 = 8766;
    let mut dir: Option<String> = None;
    let (mut n, mut m) = (1000usize, 30usize);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            "--dir" => dir = Some(value),
            "--feeds" => n = value.parse().unwrap_or_else(|_| usage()),
            "--items" => m = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let feeds: Vec<Feed> = match &dir {
        Some(dir) => {
            let mut names: Vec<_> = std::fs::read_dir(dir)
                .unwrap_or_else(|e| {
                    eprintln!("bench-origin: cannot read {dir}: {e}");
                    std::process::exit(2)
                })
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|name| name.starts_with("feed-") && name.ends_with(".xml"))
                .collect();
            names.sort();
            names
                .iter()
                .map(|name| {
                    let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_default();
                    Feed::new(text, 0)
                })
                .collect()
        }
        None => (0..n).map(|site| Feed::new(make_feed(site, m), 0)).collect(),
    };
    let bytes: usize = feeds.iter().map(|f| f.body.len()).sum();
    let count = feeds.len();
    let origin = Arc::new(Origin {
        feeds: RwLock::new(feeds),
        generation: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        not_modified: AtomicU64::new(0),
    });
    let app = axum::Router::new().fallback(handle).with_state(origin);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| {
        eprintln!("bench-origin: cannot bind {addr}: {e}");
        std::process::exit(1)
    });
    eprintln!(
        "bench-origin: {count} feeds, {:.1} MB, on http://{addr}/feed-NNNN.xml",
        bytes as f64 / 1e6
    );
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("bench-origin: {e}");
        std::process::exit(1);
    }
}
