//! Per-source request settings end to end: `headers`, `cookies` and `user_agent` (and
//! `[fetch] headers`) reach the source's own origin and no host it redirects to; a configured
//! proxy carries a source's requests, `proxy = false` bypasses it, and a hop the address guard
//! refuses never reaches the proxy.

use feedfold::config::DEFAULT_USER_AGENT;

use crate::support::{Env, LoopbackProxy, Origin, Seen, failure, isolated_network, stored};

/// The settings every test source below sends.
const SETTINGS: &str = "headers = { \"X-Api-Key\" = \"k3y-inline\", \"Accept-Language\" = \"zh-CN\" }\n\
                        cookies = { session = \"s3ssion\", desk = \"sx\" }\n\
                        user_agent = \"Reader/2 (+ops@example.org)\"\n";

/// The request to `target` an origin or proxy saw.
fn seen<'a>(requests: &'a [Seen], target: &str) -> &'a Seen {
    requests
        .iter()
        .find(|r| r.target == target)
        .unwrap_or_else(|| panic!("no request for {target} in {requests:#?}"))
}

/// The cookies of a request, sorted.
fn cookies(request: &Seen) -> Vec<String> {
    let mut cookies: Vec<String> = request
        .header("cookie")
        .unwrap_or_default()
        .split("; ")
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    cookies.sort();
    cookies
}

#[tokio::test]
async fn headers_cookies_and_user_agent_reach_the_origin_and_no_host_it_redirects_to() {
    let origin = Origin::start().await;
    // Another host: 127.0.0.2 (a redirect there needs allow_private, as it is loopback).
    let other = Origin::start_on([127, 0, 0, 2].into()).await;
    let elsewhere = other.url("/headers/atom.xml");
    let env = Env::new(&format!(
        "[fetch]\nallow_private = true\nheaders = {{ \"X-Desk\" = \"every-source\" }}\n\n\
         [[source]]\nname = \"own\"\nurl = \"{}\"\n{SETTINGS}\n\
         [[source]]\nname = \"redirected\"\nurl = \"{}\"\n{SETTINGS}\n\
         [[source]]\nname = \"plain\"\nurl = \"{}\"\n",
        origin.url("/headers/rss2.xml"),
        origin.redirect_to(&elsewhere),
        origin.url("/headers/feed.json"),
    ))
    .await;
    let reports = env.fetch().await;
    for name in ["own", "redirected", "plain"] {
        assert!(stored(&reports, name).new > 0, "{name}");
    }
    let at_origin = origin.requests();
    let redirect = format!(
        "/redirect?to={}",
        &origin.redirect_to(&elsewhere)[origin.url("/redirect?to=").len()..]
    );
    for target in ["/headers/rss2.xml", redirect.as_str()] {
        let request = seen(&at_origin, target);
        assert_eq!(
            request.header("x-api-key").as_deref(),
            Some("k3y-inline"),
            "{target}"
        );
        assert_eq!(
            request.header("accept-language").as_deref(),
            Some("zh-CN"),
            "{target}"
        );
        assert_eq!(
            request.header("x-desk").as_deref(),
            Some("every-source"),
            "{target}"
        );
        assert_eq!(
            cookies(request),
            ["desk=sx", "session=s3ssion"],
            "one Cookie header: {target}"
        );
        assert_eq!(
            request.header("user-agent").as_deref(),
            Some("Reader/2 (+ops@example.org)"),
            "{target}"
        );
    }
    let plain = seen(&at_origin, "/headers/feed.json");
    assert_eq!(plain.header("x-desk").as_deref(), Some("every-source"));
    assert_eq!(plain.header("user-agent").as_deref(), Some(DEFAULT_USER_AGENT));
    for name in ["x-api-key", "cookie", "accept-language"] {
        assert_eq!(plain.header(name), None, "another source's {name}");
    }

    // The host the redirect led to got none of them: [fetch] user_agent only.
    let there = other.requests();
    let redirected = seen(&there, "/headers/atom.xml");
    for name in ["x-api-key", "cookie", "x-desk", "accept-language"] {
        assert_eq!(redirected.header(name), None, "{name} went to another host");
    }
    assert_eq!(
        redirected.header("user-agent").as_deref(),
        Some(DEFAULT_USER_AGENT)
    );
}

#[tokio::test]
async fn a_configured_proxy_carries_the_requests_and_proxy_false_bypasses_it() {
    let origin = Origin::start().await;
    let proxy = LoopbackProxy::start().await;
    let second = LoopbackProxy::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let env = Env::new(&format!(
        "[fetch]\nproxy = \"{}\"\n\n\
         [[source]]\nname = \"proxied\"\nurl = \"{}\"\n{SETTINGS}\n\
         [[source]]\nname = \"direct\"\nurl = \"{}\"\nproxy = false\n\n\
         [[source]]\nname = \"own-proxy\"\nurl = \"{}\"\nproxy = \"{}\"\n\n\
         [[source]]\nname = \"dead-proxy\"\nurl = \"{}\"\nproxy = \"http://ops:pr0xy-secret@127.0.0.1:{closed}\"\n",
        proxy.url("ops:pr0xy-pw@"),
        origin.url("/headers/rss2.xml"),
        origin.url("/headers/atom.xml"),
        origin.url("/headers/feed.json"),
        second.url(""),
        origin.url("/headers/rss1.rdf"),
    ))
    .await;
    let reports = env.fetch().await;
    for name in ["proxied", "direct", "own-proxy"] {
        assert!(stored(&reports, name).new > 0, "{name}");
    }
    let dead = failure(&reports, "dead-proxy");
    assert!(
        dead.contains(&format!(
            "through proxy http://***@127.0.0.1:{closed}/: connection failed"
        )),
        "{dead}"
    );
    assert!(!dead.contains("pr0xy-secret"), "{dead}");

    let via = proxy.requests();
    let targets: Vec<&str> = via.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets,
        [origin.url("/headers/rss2.xml")],
        "only the proxied source"
    );
    let request = &via[0];
    assert_eq!(
        request.header("proxy-authorization").as_deref(),
        Some("Basic b3BzOnByMHh5LXB3"),
        "the proxy URL's user and password, for the proxy"
    );
    assert_eq!(request.header("x-api-key").as_deref(), Some("k3y-inline"));
    let targets: Vec<String> = second.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [origin.url("/headers/feed.json")],
        "a source's own proxy"
    );

    // Every source reached the origin, the proxied ones through their proxy (which closes each
    // connection) with their settings, and none with the proxy's credentials.
    let at_origin = origin.requests();
    let through = seen(&at_origin, "/headers/rss2.xml");
    assert_eq!(through.header("x-api-key").as_deref(), Some("k3y-inline"));
    assert_eq!(through.header("proxy-authorization"), None);
    assert_eq!(through.header("connection").as_deref(), Some("close"));
    assert_eq!(
        seen(&at_origin, "/headers/atom.xml").header("connection"),
        None,
        "straight"
    );
    assert!(!at_origin.iter().any(|r| r.target == "/headers/rss1.rdf"));
}

#[tokio::test]
async fn the_proxy_never_gets_a_request_for_a_refused_address() {
    if !isolated_network("requests::the_proxy_never_gets_a_request_for_a_refused_address") {
        return;
    }
    let origin = Origin::start().await;
    // Where a refused loopback hop would land: it must see nothing.
    let target = Origin::start().await;
    let port = target.addr.port();
    let proxy = LoopbackProxy::start().await;
    let refused = [
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data/".to_string(),
            true,
        ),
        ("metadata-decimal", "http://2852039166/latest/".into(), true),
        ("metadata-v6", "http://[::ffff:a9fe:a9fe]/latest/".into(), true),
        ("intranet", "http://10.0.0.1/feed.xml".into(), false),
        (
            "loopback",
            format!("http://127.0.0.1:{port}/headers/rss2.xml"),
            false,
        ),
        (
            "localhost",
            format!("http://localhost:{port}/headers/rss2.xml"),
            false,
        ),
    ];
    let mut config = format!("[fetch]\nproxy = \"{}\"\n\n", proxy.url(""));
    for (name, to, never) in &refused {
        config.push_str(&format!(
            "[[source]]\nname = \"{name}\"\nurl = \"{}\"\n{}\n",
            origin.redirect_to(to),
            if *never { "allow_private = true\n" } else { "" }
        ));
    }
    let env = Env::new(&config).await;
    let reports = env.fetch().await;
    for (name, _, never) in &refused {
        let error = failure(&reports, name);
        assert!(error.contains("refused: `"), "{name}: {error}");
        let why = if *never {
            "which is never fetched"
        } else {
            "set allow_private = true to allow it"
        };
        assert!(error.contains(why), "{name}: {error}");
    }
    // The proxy saw the sources' own URLs, and nothing else.
    let redirects = origin.url("/redirect?to=");
    let via = proxy.requests();
    assert_eq!(via.len(), refused.len(), "{via:#?}");
    for request in &via {
        assert!(request.target.starts_with(&redirects), "{request:#?}");
    }
    assert!(target.requests().is_empty());
}
