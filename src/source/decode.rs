//! Character decoding: raw feed bytes to UTF-8 text.
//!
//! In: the body bytes and the `charset` of the HTTP `Content-Type`, if any. Out: UTF-8 text with
//! any BOM and XML declaration removed (so the parser never re-decodes it), and the encoding used.
//!
//! Order of evidence: a byte-order mark; then bytes that are valid UTF-8 (clear bytes beat a
//! wrong label), or UTF-8 with a few broken sequences (read with U+FFFD in their place); then the
//! XML prolog's `encoding`; then the HTTP charset; then chardetng's guess. A label whose decoding
//! would produce malformed sequences is not trusted. Whatever the bytes, the result is UTF-8 and
//! decoding never fails.

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, UTF_8};

/// Text decoded from feed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The text, UTF-8, with BOM and XML declaration removed.
    pub text: String,
    /// The encoding the bytes were read as.
    pub encoding: &'static Encoding,
}

/// Decodes feed bytes to UTF-8 (see the module documentation for the order of evidence).
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> Decoded {
    let (encoding, text) = decode_text(bytes, http_charset);
    Decoded {
        text: strip_declaration(text),
        encoding,
    }
}

fn decode_text(bytes: &[u8], http_charset: Option<&str>) -> (&'static Encoding, String) {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return (encoding, text.into_owned());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (UTF_8, text.to_string());
    }
    if mostly_utf8(bytes) {
        let (text, _) = UTF_8.decode_without_bom_handling(bytes);
        return (UTF_8, text.into_owned());
    }
    let declared = [prolog_encoding(bytes), http_charset.map(str::to_string)];
    for label in declared.iter().flatten() {
        let Some(encoding) = Encoding::for_label(label.trim().as_bytes()) else {
            continue;
        };
        // A UTF-16 label on bytes whose prolog we could read as ASCII is a lie.
        if encoding == UTF_8 || encoding.output_encoding() != encoding {
            continue;
        }
        if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
            return (encoding, text.into_owned());
        }
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, Utf8Detection::Allow);
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    (encoding, text.into_owned())
}

/// Whether bytes that are not valid UTF-8 are UTF-8 with a few broken sequences (a stray byte,
/// a character cut in two): well-formed multi-byte characters, at least 8 per broken sequence.
/// Text in a legacy encoding (GBK, Big5) read as UTF-8 breaks at nearly every character.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut multibyte, mut broken) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        broken += usize::from(!chunk.invalid().is_empty());
    }
    multibyte >= 8 * broken.max(1)
}

/// The `encoding` pseudo-attribute of an XML declaration at the start of `bytes`.
pub fn prolog_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(512)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    let close = value.find(quote)?;
    Some(value[..close].to_string())
}

/// Removes a leading BOM character and XML declaration: the text is UTF-8 now, whatever the
/// declaration said.
fn strip_declaration(mut text: String) -> String {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let skip = text.len() - trimmed.len();
    if let Some(end) = trimmed.strip_prefix("<?xml").and_then(|_| trimmed.find("?>")) {
        text.replace_range(..skip + end + 2, "");
        return text;
    }
    text.replace_range(..skip, "");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZH: &str = "濟源網訊：陕西省西安市召开疫情防控工作视频会议，部署下一阶段工作。";

    fn xml(decl: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"{decl}\"?><rss><channel><title>{ZH}</title></channel></rss>"
        )
    }

    #[test]
    fn gbk_with_prolog() {
        let text = xml("GBK");
        let (bytes, _, _) = encoding_rs::GBK.encode(&text);
        let d = decode(&bytes, None);
        assert_eq!(d.encoding, encoding_rs::GBK);
        assert!(d.text.starts_with("<rss>"));
        assert!(d.text.contains("陕西省西安市"));
    }

    #[test]
    fn gbk_with_http_charset_only() {
        let body = format!("<rss><channel><title>{ZH}</title></channel></rss>");
        let (bytes, _, _) = encoding_rs::GBK.encode(&body);
        assert_eq!(decode(&bytes, Some("gb2312")).text, body);
    }

    #[test]
    fn big5_detected_without_any_label() {
        let body = "<rss><channel><title>濟源網訊：陝西省西安市召開疫情防控工作視頻會議，部署下一階段工作。</title></channel></rss>";
        let (bytes, _, _) = encoding_rs::BIG5.encode(body);
        let d = decode(&bytes, None);
        assert_eq!(d.encoding, encoding_rs::BIG5);
        assert_eq!(d.text, body);
    }

    #[test]
    fn utf8_bytes_beat_a_wrong_prolog() {
        let body = xml("GBK");
        let d = decode(body.as_bytes(), Some("big5"));
        assert_eq!(d.encoding, UTF_8);
        assert!(d.text.contains(ZH));
    }

    #[test]
    fn gbk_bytes_beat_a_utf8_prolog() {
        let text = xml("utf-8");
        let (bytes, _, _) = encoding_rs::GBK.encode(&text);
        let d = decode(&bytes, None);
        assert!(d.text.contains("陕西省西安市"), "{}", d.text);
    }

    #[test]
    fn bom_wins_and_is_removed() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(xml("utf-8").as_bytes());
        let d = decode(&bytes, Some("gbk"));
        assert!(d.text.starts_with("<rss>"), "{}", d.text);
    }

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in xml("utf-16").encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let d = decode(&bytes, None);
        assert!(d.text.contains(ZH));
    }

    #[test]
    fn utf8_with_a_few_broken_bytes_stays_utf8() {
        let mut bytes = xml("utf-8").into_bytes();
        let at = bytes.windows(7).position(|w| w == b"<title>").expect("title") + 7;
        bytes.insert(at, 0xFF);
        bytes.extend_from_slice(&"陕西".as_bytes()[..4]);
        let d = decode(&bytes, Some("gbk"));
        assert_eq!(d.encoding, UTF_8);
        assert!(d.text.contains("陕西省西安市"), "{}", d.text);
        assert_eq!(d.text.matches('\u{FFFD}').count(), 2, "{}", d.text);
    }

    #[test]
    fn lying_labels_and_garbage_never_fail() {
        let text = xml("GBK");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        // The header says UTF-8, the prolog GBK, the bytes are GBK.
        let d = decode(&gbk, Some("utf-8"));
        assert!(d.text.contains("陕西省西安市"), "{}", d.text);
        // The header says UTF-16, the bytes are GBK.
        assert!(decode(&gbk, Some("utf-16")).text.contains("陕西省西安市"));
        // A GBK body with a single Chinese character is not taken for broken UTF-8.
        let (one, _, _) = encoding_rs::GBK.encode("<rss><channel><title>陕</title></channel></rss>");
        assert!(!mostly_utf8(&one));
        // Bytes that are no text at all still decode to UTF-8, with NUL and all.
        let noise: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let d = decode(&noise, Some("x-no-such-charset"));
        assert!(!d.text.is_empty());
    }

    #[test]
    fn prolog_encoding_reads_either_quote() {
        assert_eq!(
            prolog_encoding(b"<?xml version='1.0' encoding='big5'?>"),
            Some("big5".into())
        );
        assert_eq!(prolog_encoding(b"  <?xml version=\"1.0\"?>"), None);
        assert_eq!(prolog_encoding(b"{\"version\": 1}"), None);
    }
}
