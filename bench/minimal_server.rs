//! Benchmark (v)'s limit: the least an axum server can do to serve one feed. It returns bytes
//! held in memory, gzip-compressed bytes when asked, and 304 on a matching `If-None-Match`;
//! nothing else (no routing by name, no metrics, no negotiation beyond `gzip`).
//!
//! Usage: cargo run --release --example bench-minimal-server -- ADDR BODY_FILE GZIP_FILE ETAG CONTENT_TYPE

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

struct Feed {
    identity: Bytes,
    gzip: Bytes,
    etag: HeaderValue,
    content_type: HeaderValue,
}

async fn feed(State(f): State<Arc<Feed>>, request: HeaderMap) -> Response {
    if request.get(header::IF_NONE_MATCH) == Some(&f.etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, f.etag.clone())]).into_response();
    }
    let gzip = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, f.content_type.clone());
    headers.insert(header::ETAG, f.etag.clone());
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (headers, f.gzip.clone()).into_response()
    } else {
        (headers, f.identity.clone()).into_response()
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, body, gzip, etag, content_type] = args.as_slice() else {
        eprintln!("usage: bench-minimal-server ADDR BODY_FILE GZIP_FILE ETAG CONTENT_TYPE");
        std::process::exit(2);
    };
    let read = |p: &String| Bytes::from(std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e}")));
    let state = Arc::new(Feed {
        identity: read(body),
        gzip: read(gzip),
        etag: HeaderValue::from_str(etag).expect("etag"),
        content_type: HeaderValue::from_str(content_type).expect("content type"),
    });
    let app = Router::new().route("/feed", get(feed)).with_state(state);
    let listener = tokio::net::TcpListener::bind(addr.as_str()).await.expect("bind");
    eprintln!(
        "minimal server on http://{}/feed",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app).await.expect("serve");
}
