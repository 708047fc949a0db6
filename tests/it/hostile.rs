//! Hostile sources, end to end through fetch, decode, parse and store: decompression bombs and
//! body caps, item caps, entity expansion, deep nesting, NUL bytes and lying charsets; network
//! faults (resets, TLS, redirect loops and chains, other schemes); HTML pages instead of feeds;
//! the address guard on redirects; and that one failing source neither delays nor hides the
//! others, in `fetch`'s summary, on the daemon's index page and in its metrics.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use feedfold::run::{self, Outcome, SourceReport};
use feedfold::source::guard::Policy;
use feedfold::source::http::Fetcher;
use feedfold::store::Taking;

use crate::cli::{run_command, write_config};
use crate::serve::Daemon;
use crate::support::{End, Env, Origin, failure, fixture, isolated_network, raw_server, sources, stored};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

/// A URL of `origin` that redirects (302) to `to`.
fn redirect(origin: &Origin, to: &str) -> String {
    let to: String = url::form_urlencoded::byte_serialize(to.as_bytes()).collect();
    origin.url(&format!("/redirect?to={to}"))
}

fn rss(items: &str) -> String {
    format!(
        "<rss version=\"2.0\"><channel><title>t</title><link>https://e.example/</link>{items}</channel></rss>"
    )
}

fn titles(items: &[feedfold::model::StoredItem], source: &str) -> Vec<String> {
    let mut t: Vec<String> = items
        .iter()
        .filter(|i| i.source == source)
        .filter_map(|i| i.title.clone())
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn decompression_bombs_stop_at_the_decompressed_cap() {
    let origin = Origin::start().await;
    let codings = ["gzip", "br", "zstd", "deflate"];
    let list = codings.map(|c| (c, origin.url(&format!("/bomb/{c}"))));
    let env = Env::new(&format!(
        "[fetch]\ntimeout = \"30s\"\nmax_body = \"1MiB\"\nmax_compressed_body = \"8MiB\"\nper_host = 4\n\n{}",
        sources(&list)
    ))
    .await;
    // Each one the cap's error, not the 30 s timeout's: stopped while streaming.
    let reports = env.fetch().await;
    for (coding, url) in &list {
        let error = failure(&reports, coding);
        assert_eq!(
            error,
            format!("fetch {url}: body larger than 1048576 bytes ([fetch] max_body)")
        );
    }
}

#[tokio::test]
async fn every_content_coding_is_read_and_an_unknown_one_is_named() {
    let origin = Origin::start().await;
    let list = ["gzip", "br", "zstd", "deflate", "compress"]
        .map(|c| (c, origin.url(&format!("/encoded/{c}/rss2.xml"))));
    let env = Env::new(&sources(&list)).await;
    let reports = env.fetch().await;
    for coding in ["gzip", "br", "zstd", "deflate"] {
        assert_eq!(stored(&reports, coding).new, 3, "{coding}");
    }
    let error = failure(&reports, "compress");
    assert!(
        error.starts_with(&format!("fetch {}: cannot decode the `compress` body", list[4].1)),
        "{error}"
    );
}

#[tokio::test]
async fn compressed_bodies_are_capped_as_they_arrive() {
    let origin = Origin::start().await;
    let env = Env::new(&format!(
        "[fetch]\ntimeout = \"20s\"\nmax_compressed_body = \"64KiB\"\n\n{}",
        sources(&[("empty", origin.url("/empty-members"))])
    ))
    .await;
    // The cap's error, not the 20 s timeout's: the body was stopped as it arrived.
    let reports = env.fetch().await;
    assert_eq!(
        failure(&reports, "empty"),
        format!(
            "fetch {}: compressed body larger than 65536 bytes ([fetch] max_compressed_body)",
            origin.url("/empty-members")
        )
    );

    // A Content-Length over the cap fails at once; the cap is not applied to plain bodies.
    let env = Env::new(&format!(
        "[fetch]\nmax_compressed_body = 100\n\n{}",
        sources(&[
            ("packed", origin.url("/encoded/gzip/rss2.xml")),
            ("plain", origin.url("/feeds/rss2.xml")),
        ])
    ))
    .await;
    let reports = env.fetch().await;
    assert!(
        failure(&reports, "packed").contains("compressed body larger than 100 bytes"),
        "{reports:?}"
    );
    assert_eq!(stored(&reports, "plain").new, 3);
}

#[tokio::test]
async fn items_beyond_max_items_are_dropped_not_failed() {
    let origin = Origin::start().await;
    let items: String = (0..30)
        .map(|i| format!("<item><title>n{i:02}</title><guid>m-{i}</guid></item>"))
        .collect();
    origin.set_mutable("many.xml", rss(&items).as_bytes());
    let env = Env::new(&format!(
        "[fetch]\nmax_items = 10\n\n{}",
        sources(&[("many", origin.url("/mutable/many.xml"))])
    ))
    .await;
    let reports = env.fetch().await;
    let Outcome::Stored { counts, dropped, .. } = &env.report(&reports, "many").outcome else {
        panic!("{reports:?}")
    };
    assert_eq!((counts.new, *dropped), (10, 20));
    let items = env.store.all_items().await.expect("items");
    assert_eq!(
        titles(&items, "many"),
        (0..10).map(|i| format!("n{i:02}")).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn entities_deep_nesting_and_nul_bytes_are_harmless() {
    let origin = Origin::start().await;
    let secret_dir = tempfile::tempdir().expect("tempdir");
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-MARKER").expect("write");
    let mut dtd = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY lol0 \"lol\">\n");
    for i in 1..10 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY lol{i} \"{refs}\">\n"));
    }
    dtd.push_str(&format!(
        "<!ENTITY xxe SYSTEM \"file://{}\">\n<!ENTITY passwd SYSTEM \"file:///etc/passwd\">\n]>\n",
        secret.display()
    ));
    let laughs = format!(
        "{dtd}{}",
        rss("<item><title>a &lol9; b &xxe; &passwd;</title><guid>l-1</guid>\
             <description>&lol9; &xxe; &passwd;</description></item>")
    );
    origin.set_mutable("laughs.xml", laughs.as_bytes());
    let n = 100_000;
    let deep = rss(&format!(
        "<item><title>deep</title><guid>d-1</guid>{}{}</item>",
        "<x>".repeat(n),
        "</x>".repeat(n)
    ));
    origin.set_mutable("deep.xml", deep.as_bytes());
    let deep_html = rss(&format!(
        "<item><title>deep html</title><guid>h-1</guid><description><![CDATA[{}deep text{}]]></description></item>",
        "<div>".repeat(n),
        "</div>".repeat(n)
    ));
    origin.set_mutable("deephtml.xml", deep_html.as_bytes());
    let nul = rss(
        "<item><title>a\u{0}b\u{0}c</title><guid>n\u{0}-1</guid><description>x\u{0}y</description></item>",
    );
    origin.set_mutable("nul.xml", nul.as_bytes());

    let env = Env::new(&sources(&[
        ("laughs", origin.url("/mutable/laughs.xml")),
        ("deep", origin.url("/mutable/deep.xml")),
        ("deephtml", origin.url("/mutable/deephtml.xml")),
        ("nul", origin.url("/mutable/nul.xml")),
    ]))
    .await;
    let reports = env.fetch().await;
    assert_eq!(stored(&reports, "laughs").new, 1);
    assert_eq!(stored(&reports, "deephtml").new, 1);
    assert_eq!(stored(&reports, "nul").new, 1);
    // 100 000 nested elements: an answer (here a parse error naming the source), no overflow.
    match &env.report(&reports, "deep").outcome {
        Outcome::Failed { error, .. } => assert!(error.starts_with("source deep: parse:"), "{error}"),
        Outcome::Stored { counts, .. } => assert_eq!(counts.new, 1),
        other => panic!("{other:?}"),
    }

    let items = env.store.all_items().await.expect("items");
    let dump = format!("{items:?}");
    assert!(!dump.contains("TOP-SECRET"), "an external entity was read");
    assert!(!dump.contains("root:"), "/etc/passwd was read");
    assert!(!dump.contains("lollol"), "an entity was expanded");
    assert!(!dump.contains('\u{0}'), "a NUL byte was stored");
    // References to DTD entities are removed, never stored for a reader to expand.
    assert_eq!(titles(&items, "laughs"), ["a b"]);
    for reference in ["&lol9;", "&xxe;", "&passwd;", "&amp;lol9;"] {
        assert!(!dump.contains(reference), "{reference} was stored");
    }
    assert_eq!(titles(&items, "nul"), ["abc"]);
    let html = items
        .iter()
        .find(|i| i.source == "deephtml")
        .and_then(|i| i.summary_html.as_deref());
    assert_eq!(html, Some("<p>deep text</p>"));
}

#[tokio::test]
async fn lying_charsets_are_read_best_effort_and_garbage_is_a_parse_error() {
    let origin = Origin::start().await;
    let zh = "<item><title>陕西省委书记：把人民摆在心中最高位置</title><guid>z-1</guid>\
              <description>陕西省西安市召开疫情防控工作视频会议，部署下一阶段工作。</description></item>";
    let utf8_doc = |decl: &str| format!("<?xml version=\"1.0\" encoding=\"{decl}\"?>{}", rss(zh));
    // The header says UTF-8, the bytes are GBK (no prolog).
    let plain = rss(zh);
    let (gbk, _, _) = encoding_rs::GBK.encode(&plain);
    origin.set_mutable("a.utf-8.charset", &gbk);
    // The prolog says GBK, the bytes are UTF-8.
    origin.set_mutable("b.xml", utf8_doc("GBK").as_bytes());
    // The header says GBK, the bytes are UTF-8 with a stray byte and a cut character.
    let mut broken = utf8_doc("utf-8").into_bytes();
    let at = broken.windows(7).position(|w| w == b"<title>").expect("title") + 7;
    broken.insert(at, 0xFF);
    let at = broken
        .windows(14)
        .position(|w| w == b"</description>")
        .expect("description");
    broken.splice(at..at, "陕".as_bytes()[..2].iter().copied());
    origin.set_mutable("c.gbk.charset", &broken);
    // The header says UTF-16, the bytes are UTF-8.
    origin.set_mutable("d.utf-16.charset", utf8_doc("utf-8").as_bytes());
    // No text at all.
    let noise: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    origin.set_mutable("e.xml", &noise);
    let env = Env::new(&sources(&[
        ("a", origin.url("/mutable/a.utf-8.charset")),
        ("b", origin.url("/mutable/b.xml")),
        ("c", origin.url("/mutable/c.gbk.charset")),
        ("d", origin.url("/mutable/d.utf-16.charset")),
        ("e", origin.url("/mutable/e.xml")),
    ]))
    .await;
    let reports = env.fetch().await;
    let items = env.store.all_items().await.expect("items");
    for name in ["a", "b", "d"] {
        assert_eq!(stored(&reports, name).new, 1, "{name}");
        assert_eq!(
            titles(&items, name),
            ["陕西省委书记：把人民摆在心中最高位置"],
            "{name}"
        );
    }
    assert_eq!(stored(&reports, "c").new, 1);
    // The broken bytes become U+FFFD (or vanish); the text around them is intact.
    let c = titles(&items, "c");
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].trim_start_matches('\u{FFFD}'),
        "陕西省委书记：把人民摆在心中最高位置"
    );
    let error = failure(&reports, "e");
    assert!(error.starts_with("source e: parse: not a readable"), "{error}");
}

#[tokio::test]
async fn lying_charsets_that_decode_cleanly_give_way_to_the_plausible_encoding() {
    let origin = Origin::start().await;
    // GBK bytes sent as Latin-1 (any bytes are "valid" windows-1252), Big5 bytes sent as GBK
    // (Big5 bytes are valid GBK): the lie is in the HTTP charset, or in the XML prolog.
    let gbk = fixture("gbk_as_latin1_noprolog.xml");
    let big5 = fixture("big5_as_gbk_noprolog.xml");
    origin.set_mutable("gbk.windows-1252.charset", &gbk);
    origin.set_mutable("gbk.iso-8859-1.charset", &gbk);
    origin.set_mutable("big5.gbk.charset", &big5);
    let env = Env::new(&sources(&[
        ("gbk-1252", origin.url("/mutable/gbk.windows-1252.charset")),
        ("gbk-latin1", origin.url("/mutable/gbk.iso-8859-1.charset")),
        ("gbk-prolog", origin.url("/feeds/gbk_as_latin1.xml")),
        ("big5-gbk", origin.url("/mutable/big5.gbk.charset")),
        ("big5-prolog", origin.url("/feeds/big5_as_gbk.xml")),
        ("latin1", origin.url("/feeds/latin1.xml")),
    ]))
    .await;
    let reports = env.fetch().await;
    let items = env.store.all_items().await.expect("items");
    for name in ["gbk-1252", "gbk-latin1", "gbk-prolog"] {
        assert_eq!(stored(&reports, name).new, 2, "{name}");
        assert_eq!(
            titles(&items, name),
            ["上海地铁新线路年底开通运营", "北京今冬首场降雪如期而至"],
            "{name}"
        );
        let summary = items
            .iter()
            .find(|i| i.source == name && i.title.as_deref() == Some("北京今冬首场降雪如期而至"))
            .and_then(|i| i.summary_html.as_deref());
        assert!(
            summary.is_some_and(|s| s.contains("中央气象台预计，今天夜间到明天白天")),
            "{name}: {summary:?}"
        );
    }
    for name in ["big5-gbk", "big5-prolog"] {
        assert_eq!(stored(&reports, name).new, 2, "{name}");
        assert_eq!(
            titles(&items, name),
            ["今年首波寒流來襲 北部氣溫探十度", "高雄捷運新路線年底通車"],
            "{name}"
        );
    }
    // A true Latin-1 label is still believed (the title's no-break space is stored as a space).
    assert_eq!(
        titles(&items, "latin1"),
        ["À Nantes, la fête de Noël coûtera 2 millions d’€"]
    );
}

#[tokio::test]
async fn resets_tls_failures_and_other_schemes_are_clear_errors() {
    let origin = Origin::start().await;
    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 100000\r\n\r\n<rss version=\"2.0\"><channel><title>cut</title>";
    let cut = raw_server(HEAD, End::Close).await;
    let reset = raw_server(HEAD, End::Reset).await;
    let silent = raw_server(b"", End::Close).await;
    let plain_https = format!("https://{}/feeds/rss2.xml", origin.addr);
    let mut list = vec![
        ("cut", format!("http://{cut}/feed.xml")),
        ("reset", format!("http://{reset}/feed.xml")),
        ("tls-plain", plain_https.clone()),
        ("tls-closed", format!("https://{silent}/feed.xml")),
    ];
    let schemes = [
        "file:///etc/passwd",
        "ftp://127.0.0.1/feed.xml",
        "gopher://127.0.0.1:70/1",
        "data:text/xml,<rss/>",
        "javascript:alert(1)",
    ];
    let names = ["file", "ftp", "gopher", "data", "javascript"];
    for (name, to) in names.iter().zip(schemes) {
        list.push((name, redirect(&origin, to)));
    }
    let env = Env::new(&format!("[fetch]\ntimeout = \"10s\"\n\n{}", sources(&list))).await;
    let reports = env.fetch().await;
    for name in ["cut", "reset"] {
        let error = failure(&reports, name);
        let url = &list.iter().find(|(n, _)| *n == name).expect("listed").1;
        assert!(
            error.starts_with(&format!(
                "fetch {url}: the connection failed while reading the body"
            )),
            "{name}: {error}"
        );
    }
    let error = failure(&reports, "tls-plain");
    assert!(
        error.starts_with(&format!("fetch {plain_https}: TLS handshake failed")),
        "{error}"
    );
    let error = failure(&reports, "tls-closed");
    assert!(
        error.starts_with(&format!("fetch https://{silent}/feed.xml: TLS handshake failed")),
        "{error}"
    );
    for (name, to) in names.iter().zip(schemes) {
        let error = failure(&reports, name);
        assert!(
            error.ends_with(&format!(
                ": bad redirect to `{to}`: only http and https URLs are followed"
            )),
            "{name}: {error}"
        );
    }
}

#[tokio::test]
async fn redirect_chains_through_many_hosts_are_capped() {
    let mut origins = Vec::new();
    for i in 1..=6 {
        origins.push(Origin::start_on(ip(&format!("127.0.0.{i}"))).await);
    }
    // Each origin redirects to the next; the last one serves the feed.
    let chain = |hops: usize| {
        let mut url = origins[hops].url("/feeds/rss2.xml");
        for origin in origins[..hops].iter().rev() {
            url = redirect(origin, &url);
        }
        url
    };
    let env = Env::new(&format!(
        "[fetch]\nmax_redirects = 4\nallow_private = true\n\n{}",
        sources(&[("four", chain(4)), ("five", chain(5))])
    ))
    .await;
    let reports = env.fetch().await;
    assert_eq!(stored(&reports, "four").new, 3);
    assert_eq!(
        failure(&reports, "five"),
        format!("fetch {}: more than 4 redirects", chain(5))
    );
    assert_eq!(
        origins[5].hits("/feeds/rss2.xml"),
        0,
        "the fifth hop is never taken"
    );
}

#[tokio::test]
async fn an_html_page_is_followed_once_to_the_feed_it_links_to() {
    let origin = Origin::start().await;
    let page = |href: &str| {
        format!(
            "<!DOCTYPE html>\n<html><head><title>News</title>\
             <link rel=\"alternate\" type=\"application/rss+xml\" title=\"RSS\" href=\"{href}\"></head>\
             <body><p>news</p></body></html>"
        )
    };
    origin.set_mutable("page.html", page("../feeds/rss2.xml").as_bytes());
    origin.set_mutable(
        "bare.html",
        b"<!doctype html><html><body>no feed here</body></html>",
    );
    origin.set_mutable("loop.html", page("bare.html").as_bytes());
    // A feed served as text/html is still a feed: the bytes decide.
    origin.set_mutable("feed-as.html", &fixture("atom.xml"));
    // The origin is on loopback: its feed links need allow_private.
    let env = Env::new(&format!(
        "[fetch]\nallow_private = true\n\n{}",
        sources(&[
            ("page", origin.url("/mutable/page.html")),
            ("bare", origin.url("/mutable/bare.html")),
            ("loop", origin.url("/mutable/loop.html")),
            ("mislabelled", origin.url("/mutable/feed-as.html")),
        ])
    ))
    .await;
    let reports = env.fetch().await;
    assert_eq!(stored(&reports, "page").new, 3);
    assert_eq!(stored(&reports, "mislabelled").new, 2);
    assert_eq!(
        failure(&reports, "bare"),
        format!(
            "fetch {}: is an HTML page, not a feed, and it links to no RSS, Atom or JSON feed",
            origin.url("/mutable/bare.html")
        )
    );
    assert_eq!(
        failure(&reports, "loop"),
        format!(
            "fetch {}: is an HTML page, not a feed, and the feed it links to, {}, is an HTML page too",
            origin.url("/mutable/loop.html"),
            origin.url("/mutable/bare.html")
        )
    );
    assert_eq!(
        origin.hits("/mutable/bare.html"),
        2,
        "once as a source, once as a link"
    );

    // Next time the page is read again and the feed asked for conditionally.
    let again = env.fetch().await;
    assert_eq!(env.report(&again, "page").outcome, Outcome::NotModified);
    assert_eq!(origin.conditional_hits("/feeds/rss2.xml"), 1);
}

/// How `fetch` reports a redirect from `from` to `to` refused because `why` (a part of the
/// reason), ending with `end`.
fn refusal(from: &str, to: &str, why: &str, end: &'static str) -> (String, String, &'static str) {
    let to = url::Url::parse(to).expect("url");
    (
        format!("fetch {from}: redirect to {to} refused: `"),
        why.to_string(),
        end,
    )
}

const ASK_ALLOW: &str = "; set allow_private = true to allow it";
const NEVER: &str = ", which is never fetched unless the source's URL names that exact address";

#[tokio::test]
async fn redirects_to_private_addresses_are_refused_from_any_host() {
    if !isolated_network("hostile::redirects_to_private_addresses_are_refused_from_any_host") {
        return;
    }
    // 127.0.0.2 stands in for a public host; `inside` (127.0.0.1) is a private host that
    // redirects; `target` (127.0.0.1, another port) is where refused hops would land: it must
    // see no connection at all.
    let inside = Origin::start().await;
    let target = Origin::start().await;
    let public = Origin::start_on(ip("127.0.0.2")).await;
    let port = target.addr.port();
    let feed = target.url("/feeds/rss2.xml");
    serve_page_linking(&public, &feed);
    serve_page_linking(&inside, &feed);
    let classes = [
        (
            "loopback",
            feed.clone(),
            "`127.0.0.1` is 127.0.0.1, a loopback address",
        ),
        (
            "by-name",
            format!("http://localhost:{port}/feeds/rss2.xml"),
            "a loopback address",
        ),
        (
            "v6",
            format!("http://[::1]:{port}/feeds/rss2.xml"),
            "`[::1]` is ::1, a loopback address",
        ),
        (
            "mapped",
            format!("http://[::ffff:7f00:1]:{port}/feeds/rss2.xml"),
            "a loopback address",
        ),
        (
            "intranet",
            "http://10.0.0.1/feed.xml".into(),
            "`10.0.0.1` is 10.0.0.1, a private address",
        ),
        (
            "intranet-172",
            "http://172.16.5.4/feed.xml".into(),
            "a private address",
        ),
        (
            "intranet-192",
            "http://192.168.1.1/feed.xml".into(),
            "a private address",
        ),
        (
            "intranet-hex",
            "http://0x0a000001/feed.xml".into(),
            "`10.0.0.1` is 10.0.0.1, a private address",
        ),
        (
            "cgnat",
            "http://100.64.0.1/feed.xml".into(),
            "a shared (CGNAT) address",
        ),
        (
            "ula",
            "http://[fd12:3456::1]/feed.xml".into(),
            "a unique local (fc00::/7) address",
        ),
    ];
    let never = [
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "a cloud metadata address",
        ),
        (
            "metadata-decimal",
            "http://2852039166/latest/".into(),
            "`169.254.169.254` is 169.254.169.254, a cloud metadata address",
        ),
        (
            "metadata-v6",
            "http://[::ffff:a9fe:a9fe]/latest/".into(),
            "a cloud metadata address",
        ),
        (
            "metadata-nat64",
            "http://[64:ff9b::a9fe:a9fe]/latest/".into(),
            "a cloud metadata address",
        ),
        (
            "link-local",
            "http://169.254.10.1/feed.xml".into(),
            "a link-local address",
        ),
        (
            "link-local-v6",
            "http://[fe80::1]/feed.xml".into(),
            "a link-local address",
        ),
        (
            "nowhere",
            format!("http://0.0.0.0:{port}/feeds/rss2.xml"),
            "an unspecified address",
        ),
        (
            "nowhere-short",
            format!("http://0:{port}/feeds/rss2.xml"),
            "an unspecified address",
        ),
    ];
    let mut config = String::new();
    let mut expected = Vec::new();
    for (origin, tag) in [(&public, "public"), (&inside, "inside")] {
        for (name, to, why) in &classes {
            let name = format!("{tag}-{name}");
            config.push_str(&format!(
                "[[source]]\nname = \"{name}\"\nurl = \"{}\"\n\n",
                redirect(origin, to)
            ));
            expected.push((name, refusal(&redirect(origin, to), to, why, ASK_ALLOW)));
        }
        for (name, to, why) in &never {
            // Never fetched, allow_private or not.
            let name = format!("{tag}-{name}");
            config.push_str(&format!(
                "[[source]]\nname = \"{name}\"\nurl = \"{}\"\nallow_private = true\n\n",
                redirect(origin, to)
            ));
            expected.push((name, refusal(&redirect(origin, to), to, why, NEVER)));
        }
        // A page's feed link is held to the same rule.
        let page = origin.url("/mutable/page.html");
        config.push_str(&format!(
            "[[source]]\nname = \"{tag}-page\"\nurl = \"{page}\"\n\n"
        ));
        expected.push((
            format!("{tag}-page"),
            refusal(
                &page,
                &feed,
                "`127.0.0.1` is 127.0.0.1, a loopback address",
                ASK_ALLOW,
            ),
        ));
    }
    // A source's own URL may name any address as a literal (the operator named it), so it is
    // not tried here: a name resolving to a never-fetched address is refused by the resolver
    // (`guard::tests::resolved_addresses_are_filtered_and_a_name_with_none_left_is_refused`).
    config.push_str(&format!(
        "[[source]]\nname = \"allowed\"\nurl = \"{}\"\nallow_private = true\n\n",
        redirect(&inside, &format!("http://localhost:{port}/feeds/rss1.rdf"))
    ));
    config.push_str(&format!(
        "[[source]]\nname = \"allowed-from-public\"\nurl = \"{}\"\nallow_private = true\n\n",
        redirect(&public, &target.url("/feeds/atom.xml"))
    ));
    config.push_str(&sources(&[
        (
            "public-to-public",
            redirect(&public, &public.url("/feeds/atom.xml")),
        ),
        (
            "inside-to-public",
            redirect(&inside, &public.url("/feeds/rss2.xml")),
        ),
        ("direct", inside.url("/feeds/big5.xml")),
    ]));
    let mut env = Env::new(&config).await;
    env.fetcher = Fetcher::with_policy(&env.config.fetch, Policy::with_stand_ins(vec![ip("127.0.0.2")]))
        .expect("client");
    let reports = env.fetch().await;
    for (name, (starts, why, ends)) in &expected {
        let error = failure(&reports, name);
        assert!(
            error.starts_with(starts.as_str()),
            "{name}: {error}\n  expected: {starts}"
        );
        assert!(error.contains(why.as_str()), "{name}: {error}\n  expected: {why}");
        assert!(error.ends_with(ends), "{name}: {error}");
    }
    assert_eq!(
        target.hits("/feeds/rss2.xml"),
        0,
        "no refused hop was connected to"
    );
    assert_eq!(stored(&reports, "allowed").new, 2);
    assert_eq!(stored(&reports, "allowed-from-public").new, 2);
    assert_eq!(stored(&reports, "public-to-public").new, 2);
    assert_eq!(stored(&reports, "inside-to-public").new, 3);
    assert_eq!(
        stored(&reports, "direct").new,
        1,
        "a private source URL is the operator's choice"
    );

    // `[fetch] allow_private` allows it for every source, but for what is never fetched.
    let metadata = "http://169.254.169.254/latest/";
    let mut env = Env::new(&format!(
        "[fetch]\nallow_private = true\n\n{}",
        sources(&[
            ("loopback", redirect(&inside, &feed)),
            ("metadata", redirect(&inside, metadata)),
        ])
    ))
    .await;
    env.fetcher = Fetcher::with_policy(&env.config.fetch, Policy::with_stand_ins(vec![ip("127.0.0.2")]))
        .expect("client");
    let reports = env.fetch().await;
    assert_eq!(stored(&reports, "loopback").new, 3);
    assert!(failure(&reports, "metadata").ends_with(NEVER));
}

/// Serves, at `/mutable/page.html` of `origin`, an HTML page whose feed link is `feed`.
fn serve_page_linking(origin: &Origin, feed: &str) {
    let page = format!(
        "<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"{feed}\"></head></html>"
    );
    origin.set_mutable("page.html", page.as_bytes());
}

#[tokio::test]
async fn a_hanging_source_delays_no_other() {
    let hanging = Origin::start().await;
    let other = Origin::start_on(ip("127.0.0.3")).await;
    let env = Env::new(&format!(
        "[fetch]\ntimeout = \"3s\"\n\n{}",
        sources(&[
            ("hang", hanging.url("/hang")),
            ("a", other.url("/feeds/rss2.xml")),
            ("b", other.url("/feeds/atom.xml")),
            (
                "c",
                format!("http://localhost:{}/feeds/rss1.rdf", hanging.addr.port())
            ),
        ])
    ))
    .await;
    let started = Instant::now();
    let done: Mutex<Vec<(String, Duration)>> = Mutex::default();
    let on_done = |r: &SourceReport| {
        done.lock()
            .expect("lock")
            .push((r.name.clone(), started.elapsed()));
    };
    let cycle = run::fetch_all(
        &env.config,
        &env.store,
        &env.fetcher,
        chrono::Utc::now(),
        Taking::Any,
        &on_done,
    )
    .await
    .expect("cycle");
    let done = done.into_inner().expect("lock");
    for (name, at) in &done {
        if name != "hang" {
            assert!(*at < Duration::from_millis(1500), "{name} waited {at:?}");
        }
    }
    assert_eq!(done.last().map(|(n, _)| n.as_str()), Some("hang"));
    assert_eq!(
        failure(&cycle.reports, "hang"),
        format!("fetch {}: timed out after 3s", hanging.url("/hang"))
    );
    assert_eq!(stored(&cycle.reports, "a").new, 3);
    assert_eq!(stored(&cycle.reports, "b").new, 2);
    assert_eq!(stored(&cycle.reports, "c").new, 2);
    assert_eq!(env.store.all_items().await.expect("items").len(), 7);
}

/// The failing sources shared by the summary and daemon tests: name, URL, the start of its error
/// (after `fetch URL: ` or as a whole), its reason in metrics.
fn failing(origin: &Origin) -> Vec<(&'static str, String, String, &'static str)> {
    origin.set_mutable("page.html", b"<!DOCTYPE html><html><body>a page</body></html>");
    origin.set_mutable("junk.xml", b"<catalog><book id=\"1\"/></catalog>");
    let url = |path: &str| origin.url(path);
    vec![
        ("hang", url("/hang"), "timed out after 2s".into(), "timeout"),
        (
            "huge",
            url("/huge"),
            "body larger than 1048576 bytes".into(),
            "too_large",
        ),
        (
            "page",
            url("/mutable/page.html"),
            "is an HTML page, not a feed".into(),
            "html_page",
        ),
        (
            "broken",
            url("/mutable/junk.xml"),
            "source broken: parse: not a readable RSS, Atom or JSON feed".into(),
            "parse",
        ),
        (
            "tls",
            format!("https://{}/feeds/rss2.xml", origin.addr),
            "TLS handshake failed".into(),
            "tls",
        ),
        (
            "e500",
            url("/status/500"),
            "HTTP 500 Internal Server Error".into(),
            "http_status",
        ),
        (
            "ftp",
            url("/to-ftp"),
            "bad redirect to `ftp://127.0.0.1/feed.xml`".into(),
            "bad_redirect",
        ),
        (
            "loop",
            url("/loop"),
            "more than 2 redirects".into(),
            "too_many_redirects",
        ),
        (
            "refused",
            "http://127.0.0.1:9/feed.xml".into(),
            "request failed".into(),
            "connection",
        ),
        ("nofile", "missing.xml".into(), "cannot read file".into(), "file"),
    ]
}

const FAILING_FETCH: &str = "[fetch]\ntimeout = \"2s\"\nmax_body = \"1MiB\"\nmax_redirects = 2\nstartup_spread = 0\nallow_private = true\n\n";

#[tokio::test]
async fn the_fetch_summary_names_every_failing_source_and_why() {
    let origin = Origin::start().await;
    let failing = failing(&origin);
    let mut list: Vec<(&str, String)> = failing.iter().map(|(n, u, _, _)| (*n, u.clone())).collect();
    list.push(("fine", origin.url("/feeds/rss2.xml")));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(dir.path(), &format!("{FAILING_FETCH}{}", sources(&list)));
    let out = run_command("fetch", &path, &[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = |name: &str| {
        err.lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name} in\n{err}"))
            .to_string()
    };
    assert!(line("fine").contains("ok         3 new"), "{err}");
    for (name, _, why, _) in &failing {
        let l = line(name);
        assert!(l.contains("FAILED") && l.contains(why.as_str()), "{name}: {l}");
    }
    assert!(err.contains("11 sources: 1 ok, 10 failed"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_shows_on_the_index_page_and_in_the_metrics() {
    let origin = Origin::start().await;
    let failing = failing(&origin);
    let mut list: Vec<(&str, String)> = failing.iter().map(|(n, u, _, _)| (*n, u.clone())).collect();
    list.push(("fine", origin.url("/feeds/rss2.xml")));
    let d = Daemon::launch(&format!(
        "[store]\nurl = \"sqlite://daemon.db\"\n\n{FAILING_FETCH}{}\
         [[output]]\nname = \"all\"\ntitle = \"All\"\n",
        sources(&list)
    ))
    .await;
    d.wait_for("every first fetch", |d| async move {
        d.text("/metrics")
            .await
            .contains("feedfold_fetches_total{result=\"failed\"} 10")
    })
    .await;
    let page = d.text("/").await;
    let metrics = d.text("/metrics").await;
    for (name, _, why, reason) in &failing {
        let row = page
            .lines()
            .find(|l| l.starts_with(&format!("<tr id=\"source-{name}\">")))
            .unwrap_or_else(|| panic!("no row for {name} in\n{page}"));
        let why = feedfold::html::escape(why);
        assert!(row.contains("failed") && row.contains(&why), "{name}: {row}");
        let series = format!("feedfold_source_failures_total{{source=\"{name}\",reason=\"{reason}\"}} 1");
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    assert!(page.contains("<tr id=\"source-fine\">"));
    assert!(!metrics.contains("source=\"fine\",reason"), "{metrics}");
    d.stop().await;
}
