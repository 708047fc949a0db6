//! Rendered feeds held in memory, ready to send: identity, gzip and brotli bytes, validators.
//!
//! In: the bytes of a rendered feed, its format and the time it changed. Out: a [`Variant`]
//! with the three encodings and a weak ETag shared by them, and, per request, which encoding
//! to send and whether a conditional request can be answered with 304.

use std::io::Write;

use axum::http::HeaderMap;
use axum::http::header;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::xxh3_64;

use crate::output::Format;

/// One rendered feed in one format.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The format.
    pub format: Format,
    /// Uncompressed bytes.
    pub identity: Bytes,
    /// gzip-compressed bytes.
    pub gzip: Bytes,
    /// brotli-compressed bytes.
    pub br: Bytes,
    /// Weak ETag (`W/"…"`), the same for every encoding.
    pub etag: String,
    /// When the content last changed (whole seconds).
    pub last_modified: DateTime<Utc>,
}

/// A content encoding the server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// gzip.
    Gzip,
    /// brotli.
    Brotli,
}

impl Variant {
    /// Compresses `bytes` both ways. `effort` trades time for size: stored feeds are rendered
    /// once per change and get the best; ad-hoc renderings get less.
    pub fn new(format: Format, bytes: Vec<u8>, changed: DateTime<Utc>, effort: Effort) -> Variant {
        let (gzip_level, br_quality) = match effort {
            Effort::Best => (9, 9),
            Effort::Fast => (5, 4),
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(gzip_level));
        let gzip = gz
            .write_all(&bytes)
            .and_then(|()| gz.finish())
            .unwrap_or_default();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, br_quality, 22);
            let _ = w.write_all(&bytes);
        }
        let etag = format!("W/\"{:016x}\"", xxh3_64(&bytes));
        let last_modified = DateTime::from_timestamp(changed.timestamp(), 0).unwrap_or(changed);
        Variant {
            format,
            identity: Bytes::from(bytes),
            gzip: Bytes::from(gzip),
            br: Bytes::from(br),
            etag,
            last_modified,
        }
    }

    /// The bytes for an encoding, and the encoding they are in (identity when compressing
    /// failed).
    pub fn body(&self, encoding: Encoding) -> (Encoding, &Bytes) {
        match encoding {
            Encoding::Gzip if !self.gzip.is_empty() => (Encoding::Gzip, &self.gzip),
            Encoding::Brotli if !self.br.is_empty() => (Encoding::Brotli, &self.br),
            _ => (Encoding::Identity, &self.identity),
        }
    }

    /// `Last-Modified` as an HTTP date.
    pub fn last_modified_header(&self) -> String {
        http_date(self.last_modified)
    }

    /// Whether the request's validators match: `If-None-Match` (weak comparison) when present,
    /// else `If-Modified-Since` no earlier than the last change.
    pub fn not_modified(&self, request: &HeaderMap) -> bool {
        if let Some(inm) = request.get(header::IF_NONE_MATCH) {
            let Ok(inm) = inm.to_str() else { return false };
            let ours = opaque(&self.etag);
            return inm
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || opaque(tag) == ours);
        }
        request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .is_some_and(|since| since.with_timezone(&Utc) >= self.last_modified)
    }
}

/// How hard to compress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Smallest output (rendered once per change).
    Best,
    /// Quick (rendered per request).
    Fast,
}

/// The opaque part of an entity tag, weak or strong, without the encoding suffix some
/// servers add in front of us (`-gzip`).
fn opaque(tag: &str) -> &str {
    let tag = tag.trim().strip_prefix("W/").unwrap_or(tag.trim());
    let tag = tag.trim_matches('"');
    tag.strip_suffix("-gzip")
        .or_else(|| tag.strip_suffix("-br"))
        .unwrap_or(tag)
}

/// The best encoding the request accepts: brotli, then gzip, else identity (`q=0` refuses).
pub fn negotiate(request: &HeaderMap) -> Encoding {
    let Some(accept) = request.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else {
        return Encoding::Identity;
    };
    let mut br = None;
    let mut gzip = None;
    let mut star = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let coding = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
            })
            .unwrap_or(1.0);
        match coding.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let br = br.or(star).unwrap_or(0.0);
    let gzip = gzip.or(star).unwrap_or(0.0);
    if br > 0.0 && br >= gzip {
        Encoding::Brotli
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// An HTTP date: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn encodings_are_negotiated_by_preference_and_q() {
        assert_eq!(negotiate(&headers(&[])), Encoding::Identity);
        let ae = |v| negotiate(&headers(&[(header::ACCEPT_ENCODING, v)]));
        assert_eq!(ae("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(ae("gzip"), Encoding::Gzip);
        assert_eq!(ae("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(ae("br;q=0.2, gzip;q=0.8"), Encoding::Gzip);
        assert_eq!(ae("identity"), Encoding::Identity);
        assert_eq!(ae("*"), Encoding::Brotli);
        assert_eq!(ae("gzip;q=0"), Encoding::Identity);
    }

    #[test]
    fn validators_match_weakly_and_by_date() {
        let changed = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.700Z")
            .expect("date")
            .with_timezone(&Utc);
        let v = Variant::new(Format::Rss, b"<rss/>".to_vec(), changed, Effort::Fast);
        assert_eq!(v.last_modified_header(), "Wed, 01 May 2024 10:00:00 GMT");
        let etag: &'static str = Box::leak(v.etag.clone().into_boxed_str());
        let strong: &'static str = Box::leak(etag.trim_start_matches("W/").to_string().into_boxed_str());
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, etag)])));
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, strong)])));
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, "\"x\", *")])));
        assert!(!v.not_modified(&headers(&[(header::IF_NONE_MATCH, "W/\"other\"")])));
        let ims = |d| v.not_modified(&headers(&[(header::IF_MODIFIED_SINCE, d)]));
        assert!(ims("Wed, 01 May 2024 10:00:00 GMT"));
        assert!(!ims("Wed, 01 May 2024 09:59:59 GMT"));
        assert!(
            !v.not_modified(&headers(&[
                (header::IF_NONE_MATCH, "W/\"other\""),
                (header::IF_MODIFIED_SINCE, "Wed, 01 May 2024 11:00:00 GMT")
            ])),
            "If-None-Match decides when present"
        );
    }

    #[test]
    fn compressed_bodies_decompress_to_the_same_bytes() {
        let text = "<rss>".to_string() + &"<item>新闻 news</item>".repeat(200) + "</rss>";
        let v = Variant::new(Format::Rss, text.clone().into_bytes(), Utc::now(), Effort::Best);
        let mut gz = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&v.gzip[..]), &mut gz)
            .expect("gunzip");
        assert_eq!(gz, text);
        let mut br = String::new();
        std::io::Read::read_to_string(&mut brotli::Decompressor::new(&v.br[..], 4096), &mut br)
            .expect("unbrotli");
        assert_eq!(br, text);
        assert!(v.br.len() < text.len() / 4 && v.gzip.len() < text.len() / 4);
    }
}
