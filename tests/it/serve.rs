//! The daemon, started for real on `127.0.0.1:0` against a loopback origin: what it serves
//! (content types, validators and 304, gzip and brotli, HEAD, tokens, ad-hoc filters, the index
//! page, OPML, metrics, health), reload and shutdown.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use feedfold::config::Config;
use feedfold::serve::{self, Signal};
use feedfold::store::Store;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::support::Origin;

/// A running daemon on a config file in a temporary folder.
pub struct Daemon {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    signals: mpsc::Sender<Signal>,
    handle: JoinHandle<Result<(), serve::ServeError>>,
    client: reqwest::Client,
}

const TOKEN: &str = "s3cret-token-0123456789";

fn local_news() -> String {
    let item = |n: u32, title: &str, body: &str| {
        format!(
            "<item><title>{title}</title><link>http://news.example/{n}</link><guid>http://news.example/{n}</guid>\
             <pubDate>Mon, 0{n} Jan 2024 08:00:00 +0800</pubDate><description>{body}</description></item>"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Local</title><link>http://news.example/</link><ttl>60</ttl>{}{}</channel></rss>",
        item(
            1,
            "西安市地铁三号线延长运营时间",
            "西安市地铁运营公司宣布，三号线自下周起每晚延长运营一小时，方便市民出行。陕西省交通部门表示支持。"
        ),
        item(
            2,
            "广州市举办迎春花市",
            "广州市各区迎春花市将于春节前开幕，广东省各地游客预计超过百万人次，市民可乘地铁前往。"
        )
    )
}

fn config_text(origin: &Origin, extra: &str) -> String {
    format!(
        "[store]\nurl = \"sqlite://daemon.db\"\n\n[fetch]\nstartup_spread = 0\ninterval = \"10m\"\n\n\
         [[source]]\nname = \"rss\"\nurl = \"{}\"\n\n\
         [[source]]\nname = \"local\"\nurl = \"{}\"\n\n\
         [[source]]\nname = \"gone\"\nurl = \"{}\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All news\"\n\n\
         [[output]]\nname = \"private\"\ntitle = \"Private\"\ntoken = \"{TOKEN}\"\n\n{extra}",
        origin.url("/feeds/rss2.xml"),
        origin.url("/mutable/local.xml"),
        origin.url("/status/410"),
    )
}

impl Daemon {
    async fn start(origin: &Origin) -> Daemon {
        origin.set_mutable("local.xml", local_news().as_bytes());
        let daemon = Daemon::launch(&config_text(origin, "")).await;
        daemon
            .wait_for("the first fetches", |d| async move {
                let metrics = d.text("/metrics").await;
                metrics.contains("feedfold_fetches_total{result=\"stored\"} 2")
                    && metrics.contains("feedfold_fetches_total{result=\"failed\"} 1")
                    && d.text("/feeds/all.json").await.contains("广州市举办迎春花市")
            })
            .await;
        daemon
    }

    /// Starts a daemon on a config file with this text (relative paths are in its folder).
    /// The client it requests with does not decompress.
    pub async fn launch(config: &str) -> Daemon {
        Daemon::launch_with(config, |_| {}).await
    }

    /// [`Daemon::launch`], after `setup` has written what the config refers to into its folder.
    pub async fn launch_with(config: &str, setup: impl FnOnce(&std::path::Path)) -> Daemon {
        feedfold::install_tls_provider();
        let dir = tempfile::tempdir().expect("tempdir");
        setup(dir.path());
        let path = dir.path().join("feedfold.toml");
        std::fs::write(&path, config).expect("write config");
        let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (signals, rx) = mpsc::channel(4);
        let handle = tokio::spawn(serve::run(path, cfg, serve::Role::Both(listener), rx));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Daemon {
            dir,
            addr,
            signals,
            handle,
            client,
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("feedfold.toml")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str, headers: &[(header::HeaderName, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (k, v) in headers {
            request = request.header(k.clone(), *v);
        }
        request.send().await.expect("request")
    }

    pub async fn text(&self, path: &str) -> String {
        self.get(path, &[]).await.text().await.expect("body")
    }

    pub async fn wait_for<'a, F, Fut>(&'a self, what: &str, check: F)
    where
        F: Fn(&'a Daemon) -> Fut,
        Fut: Future<Output = bool>,
    {
        for _ in 0..200 {
            if check(self).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    pub async fn stop(self) -> tempfile::TempDir {
        self.signals.send(Signal::Shutdown).await.expect("send");
        tokio::time::timeout(Duration::from_secs(20), self.handle)
            .await
            .expect("stops in time")
            .expect("task")
            .expect("clean exit");
        self.dir
    }
}

fn header(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_are_served_with_types_validators_and_compression() {
    let origin = Origin::start().await;
    let d = Daemon::start(&origin).await;

    for (ext, ty) in [
        ("rss", "application/rss+xml; charset=utf-8"),
        ("atom", "application/atom+xml; charset=utf-8"),
        ("json", "application/feed+json; charset=utf-8"),
    ] {
        let r = d.get(&format!("/feeds/all.{ext}"), &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers().clone();
        assert_eq!(header(&h, header::CONTENT_TYPE), ty);
        assert!(header(&h, header::ETAG).starts_with("W/\""));
        assert!(header(&h, header::LAST_MODIFIED).ends_with(" GMT"));
        assert_eq!(header(&h, header::CACHE_CONTROL), "public, max-age=60");
        assert_eq!(header(&h, header::VARY), "Accept-Encoding");
        let identity = r.bytes().await.expect("body");
        assert!(String::from_utf8_lossy(&identity).contains("西安市地铁三号线延长运营时间"));

        // Conditional requests.
        let etag = header(&h, header::ETAG).to_string();
        let r = d
            .get(&format!("/feeds/all.{ext}"), &[(header::IF_NONE_MATCH, &etag)])
            .await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(r.headers(), header::ETAG), etag);
        assert!(r.bytes().await.expect("body").is_empty());
        let lm = header(&h, header::LAST_MODIFIED).to_string();
        let r = d
            .get(&format!("/feeds/all.{ext}"), &[(header::IF_MODIFIED_SINCE, &lm)])
            .await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = d
            .get(
                &format!("/feeds/all.{ext}"),
                &[(header::IF_NONE_MATCH, "W/\"stale\"")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);

        // Pre-compressed bodies.
        let r = d
            .get(&format!("/feeds/all.{ext}"), &[(header::ACCEPT_ENCODING, "gzip")])
            .await;
        assert_eq!(header(r.headers(), header::CONTENT_ENCODING), "gzip");
        let gz = r.bytes().await.expect("body");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut unzipped)
            .expect("gunzip");
        assert_eq!(unzipped, identity);
        let r = d
            .get(
                &format!("/feeds/all.{ext}"),
                &[(header::ACCEPT_ENCODING, "gzip, deflate, br")],
            )
            .await;
        assert_eq!(header(r.headers(), header::CONTENT_ENCODING), "br");
        let br = r.bytes().await.expect("body");
        let mut unbrotli = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut unbrotli)
            .expect("unbrotli");
        assert_eq!(unbrotli, identity);

        // HEAD: the same headers, no body.
        let r = d
            .client
            .head(d.url(&format!("/feeds/all.{ext}")))
            .send()
            .await
            .expect("head");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(r.headers(), header::CONTENT_TYPE), ty);
        assert_eq!(
            header(r.headers(), header::CONTENT_LENGTH),
            identity.len().to_string()
        );
        assert!(r.bytes().await.expect("body").is_empty());
    }

    for missing in ["/feeds/nope.rss", "/feeds/all.txt", "/feeds/all", "/nothing"] {
        assert_eq!(
            d.get(missing, &[]).await.status(),
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_outputs_need_their_token_and_filters_work_on_demand() {
    let origin = Origin::start().await;
    let d = Daemon::start(&origin).await;

    assert_eq!(
        d.get("/feeds/private.rss", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        d.get("/feeds/private.rss?token=wrong-token-0123456789", &[])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = d.get(&format!("/feeds/private.rss?token={TOKEN}"), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(r.headers(), header::CACHE_CONTROL), "private, max-age=60");
    let bearer = format!("Bearer {TOKEN}");
    let r = d
        .get("/feeds/private.json", &[(header::AUTHORIZATION, &bearer)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let titles = |body: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(body).expect("json feed");
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["title"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let all = titles(&d.text("/feeds/all.json").await);
    assert_eq!(all.len(), 5, "{all:?}");
    let shaanxi = titles(&d.text("/feeds/all.json?region=陕西").await);
    assert!(
        shaanxi.contains(&"西安市地铁三号线延长运营时间".to_string()),
        "{shaanxi:?}"
    );
    assert!(
        !shaanxi.iter().any(|t| t.contains("广州") || t.contains("Jerry")),
        "{shaanxi:?}"
    );
    let by_code = titles(&d.text("/feeds/all.json?region=440000").await);
    assert_eq!(by_code, vec!["广州市举办迎春花市".to_string()]);
    let q = titles(&d.text("/feeds/all.json?q=%E8%8A%B1%E5%B8%82%20OR%20jerry").await);
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(q.iter().any(|t| t.contains("Jerry")) && q.iter().any(|t| t.contains("花市")));
    let traditional = titles(&d.text("/feeds/all.json?q=花市&region=廣東").await);
    assert_eq!(traditional, vec!["广州市举办迎春花市".to_string()]);
    // An ad-hoc view is a feed of its own: its entries have ids of their own, the same for the
    // same filters however the region is written; a limit alone is the output itself.
    let ids = |body: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(body).expect("json feed");
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["id"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let whole = ids(&d.text("/feeds/all.json").await);
    let view = ids(&d.text("/feeds/all.json?region=440000").await);
    assert_eq!(view, ids(&d.text("/feeds/all.json?region=广东").await));
    assert!(view[0].starts_with("urn:feedfold:out:all:view:"), "{view:?}");
    assert!(!whole.contains(&view[0]), "{view:?} in {whole:?}");
    assert!(whole[0].starts_with("urn:feedfold:out:all:story:"), "{whole:?}");
    assert_eq!(ids(&d.text("/feeds/all.json?limit=2").await), whole[..2]);
    assert_eq!(titles(&d.text("/feeds/all.json?limit=2").await).len(), 2);
    // A filtered feed has validators too, and is served from the cache the second time.
    let r = d.get("/feeds/all.rss?limit=1", &[]).await;
    let etag = header(r.headers(), header::ETAG).to_string();
    let r = d
        .get("/feeds/all.rss?limit=1", &[(header::IF_NONE_MATCH, &etag)])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    for bad in [
        "/feeds/all.json?region=Atlantis",
        "/feeds/all.json?q=%22unclosed",
        "/feeds/all.json?limit=0",
        "/feeds/all.json?limit=many",
    ] {
        let r = d.get(bad, &[]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(!r.text().await.expect("body").is_empty());
    }
    d.stop().await;
}

/// A private feed names as its own the address the reader used: with the token when the token
/// came in the query (so a reader following self links keeps access), without it when it came
/// in a header. Each form has validators of its own; Atom's feed id never carries the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_feeds_link_to_themselves_as_the_reader_asked() {
    let origin = Origin::start().await;
    let d = Daemon::start(&origin).await;
    let base = "http://localhost:8080/feeds";
    let bearer = format!("Bearer {TOKEN}");
    let with_bearer = [(header::AUTHORIZATION, bearer.as_str())];
    let body = async |path: &str, headers: &[(header::HeaderName, &str)]| {
        let r = d.get(path, headers).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.text().await.expect("body")
    };
    let json_self = |text: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(text).expect("json feed");
        v["feed_url"].as_str().expect("feed_url").to_string()
    };

    for query in ["", "&limit=1", "&region=%E9%99%95%E8%A5%BF"] {
        let rss = body(&format!("/feeds/private.rss?token={TOKEN}{query}"), &[]).await;
        assert!(
            rss.contains(&format!(
                "<atom:link href=\"{base}/private.rss?token={TOKEN}\" rel=\"self\""
            )),
            "{query}: {rss}"
        );
        let atom = body(&format!("/feeds/private.atom?token={TOKEN}{query}"), &[]).await;
        assert!(
            atom.contains(&format!(
                "rel=\"self\" type=\"application/atom+xml\" href=\"{base}/private.atom?token={TOKEN}\""
            )),
            "{query}: {atom}"
        );
        assert!(
            atom.contains(&format!("<id>{base}/private.atom</id>")),
            "{query}: {atom}"
        );
        let json = body(&format!("/feeds/private.json?token={TOKEN}{query}"), &[]).await;
        assert_eq!(
            json_self(&json),
            format!("{base}/private.json?token={TOKEN}"),
            "{query}"
        );

        let plain = query.trim_start_matches('&');
        let plain = if plain.is_empty() {
            String::new()
        } else {
            format!("?{plain}")
        };
        for ext in ["rss", "atom", "json"] {
            let text = body(&format!("/feeds/private.{ext}{plain}"), &with_bearer).await;
            assert!(!text.contains(TOKEN), "{ext}{plain}: {text}");
            assert!(
                text.contains(&format!("{base}/private.{ext}")),
                "{ext}{plain}: {text}"
            );
        }
        let public = body(&format!("/feeds/all.json?token={TOKEN}{query}"), &[]).await;
        assert_eq!(json_self(&public), format!("{base}/all.json"), "{query}");
    }

    // Two renderings, two entity tags: each form answers 304 to its own only.
    let query = format!("/feeds/private.rss?token={TOKEN}");
    let etag = |r: &reqwest::Response| header(r.headers(), header::ETAG).to_string();
    let with_token = etag(&d.get(&query, &[]).await);
    let without = etag(&d.get("/feeds/private.rss", &with_bearer).await);
    assert_ne!(with_token, without);
    let r = d.get(&query, &[(header::IF_NONE_MATCH, &with_token)]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = d
        .get(
            "/feeds/private.rss",
            &[with_bearer[0].clone(), (header::IF_NONE_MATCH, &without)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = d
        .get(
            "/feeds/private.rss",
            &[with_bearer[0].clone(), (header::IF_NONE_MATCH, &with_token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r.text().await.expect("body").contains(TOKEN));
    d.stop().await;
}

/// A local-file source: `/opml` lists it as its absolute `file://` URL, and `?region=` takes
/// the ISO codes of 香港, 台湾 and 澳门 (HK, TW, MO) as it takes adcodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sources_in_opml_and_hk_tw_mo_region_codes() {
    let d = Daemon::launch_with(
        "[store]\nurl = \"sqlite://daemon.db\"\n\n[fetch]\nstartup_spread = 0\n\n\
         [[source]]\nname = \"gc\"\nurl = \"gc.xml\"\n\n[[output]]\nname = \"all\"\ntitle = \"All\"\n",
        |dir| std::fs::write(dir.join("gc.xml"), crate::cli::greater_china_feed()).expect("write"),
    )
    .await;
    d.wait_for("the first fetch", |d| async move {
        d.text("/feeds/all.json").await.contains("澳门举办国际美食节")
    })
    .await;
    let opml = d.text("/opml").await;
    let file = url::Url::from_file_path(d.dir.path().join("gc.xml")).expect("file url");
    assert!(
        opml.contains(&format!("text=\"gc\" type=\"rss\" xmlUrl=\"{file}\"")),
        "{opml}"
    );
    for (code, title) in [
        ("HK", "香港特区政府公布新一轮消费券计划"),
        ("TW", "台湾台北多地出现强降雨"),
        ("MO", "澳门举办国际美食节"),
    ] {
        let r = d.get(&format!("/feeds/all.json?region={code}"), &[]).await;
        assert_eq!(r.status(), StatusCode::OK, "{code}");
        let feed: serde_json::Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
        let titles: Vec<&str> = feed["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["title"].as_str())
            .collect();
        assert_eq!(titles, [title], "{code}");
    }
    d.stop().await;
}

/// The index page and `/opml` are public: they list the sources public outputs draw from, and
/// neither a source only a private output uses nor the private output's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_and_opml_leave_out_what_only_private_outputs_use() {
    let origin = Origin::start().await;
    let d = Daemon::launch(&format!(
        "[store]\nurl = \"sqlite://daemon.db\"\n\n[fetch]\nstartup_spread = 0\ninterval = \"10m\"\n\n\
         [[source]]\nname = \"open-news\"\nurl = \"{}\"\n\n\
         [[source]]\nname = \"hush-wire\"\nurl = \"{}\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All news\"\nsources = [\"open-news\"]\nregions = [\"陕西\"]\n\n\
         [[output]]\nname = \"confidential\"\ntitle = \"Board briefing\"\nsources = [\"hush-wire\", \"open-news\"]\n\
         token = \"{TOKEN}\"\n",
        origin.url("/feeds/rss2.xml"),
        origin.url("/feeds/atom.xml"),
    ))
    .await;
    let page = d.text("/").await;
    assert!(page.contains("<tr id=\"source-open-news\">"), "{page}");
    let opml = d.text("/opml").await;
    assert!(opml.contains(&origin.url("/feeds/rss2.xml")), "{opml}");
    for (what, text) in [("index", &page), ("opml", &opml)] {
        for secret in [
            "hush-wire",
            "/feeds/atom.xml",
            "confidential",
            "Board briefing",
            TOKEN,
        ] {
            assert!(!text.contains(secret), "{secret} on {what}:\n{text}");
        }
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_opml_health_and_metrics() {
    let origin = Origin::start().await;
    let d = Daemon::start(&origin).await;

    let r = d.get("/", &[]).await;
    assert_eq!(
        header(r.headers(), header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    let page = r.text().await.expect("page");
    for ext in ["rss", "atom", "json"] {
        assert!(page.contains(&format!("href=\"/feeds/all.{ext}\"")), "{page}");
    }
    assert!(page.contains("<link rel=\"alternate\" type=\"application/rss+xml\""));
    assert!(
        !page.contains("/feeds/private."),
        "private outputs are not listed"
    );
    assert!(page.contains("gone (HTTP 410)"), "{page}");
    assert!(page.contains("<tr id=\"source-local\">"));

    let r = d.get("/opml", &[]).await;
    assert!(header(r.headers(), header::CONTENT_TYPE).starts_with("text/x-opml"));
    let opml = r.text().await.expect("opml");
    assert!(
        opml.contains("<opml version=\"2.0\">") && opml.contains("xmlUrl="),
        "{opml}"
    );
    assert!(opml.contains(&origin.url("/mutable/local.xml")));

    assert_eq!(d.text("/healthz").await.trim(), "ok");
    assert_eq!(d.get("/readyz", &[]).await.status(), StatusCode::OK);

    let metrics = d.text("/metrics").await;
    for series in [
        "feedfold_fetch_duration_seconds_count 3",
        "feedfold_source_consecutive_failures{source=\"gone\"} 1",
        "feedfold_sources_dead 1",
        "feedfold_http_requests_total{route=\"/feeds/{file}\",status=\"200\"}",
        "feedfold_http_requests_total{route=\"/opml\",status=\"200\"} 1",
        "feedfold_items ",
        "feedfold_stories ",
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
    d.stop().await;
}

/// The index page for subscribers: every public output with its story count, its latest
/// stories and their sources (from the same selection as its feeds), the three addresses to
/// copy and filter examples; failing sources summarised and first; a hostile title escaped;
/// a policy that lets only the page's own script and style run, by hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_page_shows_each_output_with_its_latest_stories_for_subscribers() {
    let origin = Origin::start().await;
    let rss = |items: &[(&str, &str, &str)]| -> Vec<u8> {
        let items: String = items
            .iter()
            .map(|(n, title, body)| {
                format!(
                    "<item><title>{title}</title><link>http://news.example/{n}</link>\
                     <guid>http://news.example/{n}</guid><pubDate>0{n} Jan 2024 08:00:00 +0800</pubDate>\
                     <description>{body}</description></item>"
                )
            })
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>T</title>\
             <link>http://news.example/</link>{items}</channel></rss>"
        )
        .into_bytes()
    };
    let metro = (
        "1",
        "西安市地铁三号线延长运营时间",
        "西安市地铁运营公司宣布，三号线自下周起每晚延长运营一小时，方便市民出行。",
    );
    // Escaped once in the XML: the title is the text `<script>…` (no end tag, so not HTML).
    let hostile = ("2", "&lt;script&gt;alert(&quot;pwned&quot;) &amp; more", "正文。");
    let fair = (
        "3",
        "广州市举办迎春花市",
        "广州市各区迎春花市将于春节前开幕，市民可乘地铁前往。",
    );
    origin.set_mutable("wire.xml", &rss(&[metro, hostile]));
    origin.set_mutable("paper.xml", &rss(&[metro, fair]));
    let d = Daemon::launch(&format!(
        "[store]\nurl = \"sqlite://daemon.db\"\n\n[fetch]\nstartup_spread = 0\ninterval = \"10m\"\n\n\
         [[source]]\nname = \"wire\"\nurl = \"{}\"\n\n\
         [[source]]\nname = \"paper\"\nurl = \"{}\"\n\n\
         [[source]]\nname = \"broken\"\nurl = \"{}\"\n\n\
         [[source]]\nname = \"gone\"\nurl = \"{}\"\n\n\
         [[output]]\nname = \"all\"\ntitle = \"All news\"\n\n\
         [[output]]\nname = \"paper-only\"\ntitle = \"The paper\"\nsources = [\"paper\"]\n\n\
         [[output]]\nname = \"private\"\ntitle = \"Private\"\ntoken = \"{TOKEN}\"\n",
        origin.url("/mutable/wire.xml"),
        origin.url("/mutable/paper.xml"),
        origin.url("/status/500"),
        origin.url("/status/410"),
    ))
    .await;
    d.wait_for("the fetches, the fold and the rendering", |d| async move {
        let metrics = d.text("/metrics").await;
        let page = d.text("/").await;
        // Outputs are rendered side by side, each shown as soon as it is done.
        metrics.contains("feedfold_fetches_total{result=\"failed\"} 2")
            && page.contains("Also reported by")
            && page.contains("<p class=\"count\">2 stories</p>")
    })
    .await;

    let r = d.get("/", &[]).await;
    let csp = header(r.headers(), header::CONTENT_SECURITY_POLICY).to_string();
    assert_eq!(header(r.headers(), header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let page = r.text().await.expect("page");
    let section = |name: &str| -> &str {
        let start = page
            .find(&format!("<section class=\"output\" id=\"output-{name}\">"))
            .unwrap_or_else(|| panic!("output {name} in\n{page}"));
        let len = page[start..].find("</section>").expect("section end");
        &page[start..start + len]
    };

    // Each public output, its story count and latest stories with their sources.
    let all = section("all");
    assert!(all.contains("<p class=\"count\">3 stories</p>"), "{all}");
    let metro_line = all
        .lines()
        .find(|l| l.contains("西安市地铁三号线延长运营时间"))
        .expect("the shared story");
    assert!(metro_line.contains("· 2 sources"), "{metro_line}");
    assert!(
        metro_line.contains("Also reported by: <a href=\"http://news.example/1\"")
            && (metro_line.contains(">wire</a>") || metro_line.contains(">paper</a>")),
        "{metro_line}"
    );
    assert!(all.contains("广州市举办迎春花市"), "{all}");
    let paper = section("paper-only");
    assert!(paper.contains("<p class=\"count\">2 stories</p>"), "{paper}");
    assert!(paper.contains("西安市地铁三号线延长运营时间") && paper.contains("广州市举办迎春花市"));
    assert!(
        !paper.contains("Also reported by") && !paper.contains("pwned"),
        "only the paper's own copies: {paper}"
    );
    assert!(!page.contains("output-private") && !page.contains("/feeds/private."));
    // Stories newest first, as the feeds list them.
    let json: serde_json::Value = serde_json::from_str(&d.text("/feeds/all.json").await).expect("json");
    let titles: Vec<&str> = json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["title"].as_str().expect("title"))
        .collect();
    let order: Vec<usize> = ["广州市举办迎春花市", "pwned", "西安市地铁三号线延长运营时间"]
        .iter()
        .map(|t| all.find(t).expect("listed"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert_eq!(titles.len(), 3);
    assert!(
        titles[0].contains("花市") && titles[2].contains("地铁"),
        "{titles:?}"
    );

    // The three addresses to copy, each with its button, and filter examples that work.
    for ext in ["rss", "atom", "json"] {
        assert!(
            all.contains(&format!("value=\"http://localhost:8080/feeds/all.{ext}\"")),
            "{all}"
        );
    }
    assert_eq!(
        all.matches("<button type=\"button\" class=\"copy\" hidden>Copy</button>")
            .count(),
        3
    );
    let filters: Vec<&str> = all
        .match_indices("href=\"/feeds/all.rss?")
        .map(|(i, _)| {
            let from = i + "href=\"".len();
            &all[from..from + all[from..].find('"').expect("end")]
        })
        .collect();
    assert!(filters.iter().any(|f| f.contains("?region=")), "{filters:?}");
    assert!(filters.iter().any(|f| f.contains("?q=")), "{filters:?}");
    for f in filters {
        assert_eq!(
            d.get(&f.replace("&amp;", "&"), &[]).await.status(),
            StatusCode::OK,
            "{f}"
        );
    }

    // Failing sources summarised, and first in the table.
    assert!(page.contains("2 of 4 sources failing"), "{page}");
    let row = |name: &str| page.find(&format!("<tr id=\"source-{name}\">")).expect(name);
    assert!(row("broken") < row("wire") && row("gone") < row("wire") && row("broken") < row("paper"));
    assert!(
        page.contains("<time datetime=\"2024-01-03T00:00:00Z\">2024-01-03 00:00 UTC</time>"),
        "{page}"
    );

    // The hostile title is text; the one script is the page's own, allowed by its hash.
    assert!(
        page.contains("&lt;script&gt;alert(&quot;pwned&quot;) &amp; more"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"));
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    let script = page
        .split_once("<script>")
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(script, _)| script)
        .expect("the script");
    let style = page
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(style, _)| style)
        .expect("the style");
    let hash = |text: &str| {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()))
    };
    assert!(csp.starts_with("default-src 'none'; "), "{csp}");
    assert!(
        csp.contains(&format!("script-src 'sha256-{}';", hash(script))),
        "{csp}"
    );
    assert!(
        csp.contains(&format!("style-src 'sha256-{}';", hash(style))),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(
        !page.contains(" src=") && !page.contains("stylesheet"),
        "no external resources"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_and_removes_sources_and_refuses_a_bad_config() {
    let origin = Origin::start().await;
    let d = Daemon::start(&origin).await;

    // A bad config is refused: the running one keeps serving.
    std::fs::write(d.config_path(), "[fetch]\ninterval = \"never\"\n").expect("write");
    d.signals.send(Signal::Reload).await.expect("send");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(d.get("/feeds/all.rss", &[]).await.status(), StatusCode::OK);
    assert!(d.text("/").await.contains("source-local"));

    // A good one: `rss` removed, `atom` added, a new output.
    let text = config_text(
        &origin,
        "[[output]]\nname = \"atom-only\"\ntitle = \"Atom\"\nsources = [\"atom\"]\n",
    )
    .replace(
        &format!(
            "[[source]]\nname = \"rss\"\nurl = \"{}\"\n\n",
            origin.url("/feeds/rss2.xml")
        ),
        &format!(
            "[[source]]\nname = \"atom\"\nurl = \"{}\"\n\n",
            origin.url("/feeds/atom.xml")
        ),
    );
    std::fs::write(d.config_path(), text).expect("write");
    let rss_hits = origin.hits("/feeds/rss2.xml");
    d.signals.send(Signal::Reload).await.expect("send");
    d.wait_for("the new source and output", |d| async move {
        let r = d.get("/feeds/atom-only.atom", &[]).await;
        r.status() == StatusCode::OK && r.text().await.unwrap_or_default().contains("<entry>")
    })
    .await;
    assert_eq!(origin.hits("/feeds/atom.xml"), 1);
    let page = d.text("/").await;
    assert!(
        page.contains("source-atom") && !page.contains("source-rss\""),
        "{page}"
    );
    assert_eq!(
        origin.hits("/feeds/rss2.xml"),
        rss_hits,
        "a removed source is not fetched"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_and_leaves_a_sound_store() {
    let origin = Origin::start().await;
    let d = Daemon::start(&origin).await;
    let url = Config::load(&d.config_path()).expect("config").store.url;
    let dir = d.stop().await;
    let store = Store::open(&url).await.expect("reopens");
    let items = store.all_items().await.expect("items");
    assert_eq!(items.len(), 5);
    assert!(
        items.iter().all(|i| i.story_id.starts_with("st-")),
        "every item folded before exit"
    );
    store.close().await;
    drop(dir);
}
