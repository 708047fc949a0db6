//! Character decoding: raw feed bytes to UTF-8 text.
//!
//! In: the body bytes and the `charset` of the HTTP `Content-Type`, if any. Out: UTF-8 text with
//! any BOM and XML declaration removed (so the parser never re-decodes it), and the encoding used.
//!
//! Order of evidence: a byte-order mark; then bytes that are valid UTF-8 (clear bytes beat a
//! wrong label), or UTF-8 with a few broken sequences (read with U+FFFD in their place); then the
//! XML prolog's `encoding`; then the HTTP charset; then chardetng's guess. A label whose decoding
//! would produce malformed sequences is not trusted. Nor is one that decodes cleanly when the
//! text is far more plausible in another encoding: CJK text under windows-1252, ISO-8859-1 or
//! another single-byte label, Big5 under a GBK label, GBK under a Big5 one. There, a count of
//! frequent characters, confirmed by chardetng, picks the encoding, and the overruled label is
//! logged (see `more_plausible`). Whatever the bytes, the result is UTF-8 and decoding never
//! fails.

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
    decode_legacy(bytes, http_charset)
}

/// Bytes that are not UTF-8: the declared labels, checked against the bytes, then chardetng.
/// Kept out of line so the UTF-8 path above, which nearly every feed takes, stays small
/// (inlined, the label checks made decoding UTF-8 30 % slower in benchmark (i)'s `decode_only`).
#[inline(never)]
fn decode_legacy(bytes: &[u8], http_charset: Option<&str>) -> (&'static Encoding, String) {
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
            if let Some(plausible) = more_plausible(bytes, encoding) {
                tracing::info!(
                    declared = label.trim(),
                    chosen = plausible.encoding.name(),
                    reason = %plausible.reason,
                    "the declared charset decodes the feed to mojibake: read it as the plausible one"
                );
                return (plausible.encoding, plausible.text);
            }
            return (encoding, text.into_owned());
        }
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, Utf8Detection::Allow);
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    (encoding, text.into_owned())
}

/// A declared encoding overruled by the text: the encoding used instead, the text read with it,
/// and why.
struct Plausible {
    encoding: &'static Encoding,
    text: String,
    reason: String,
}

/// Fewest non-ASCII characters the bytes must give before their plausibility counts:
/// a short text proves nothing either way, and keeps its label.
const MIN_CHARS: usize = 8;
/// Share (in percent) of those characters that must be frequent ones in the other encoding.
const FREQUENT_PERCENT: usize = 90;
/// How many points more frequent characters the other encoding must give than the declared one.
const MARGIN_PERCENT: usize = 30;
/// How many bytes, from the first non-ASCII one, the plausibility check reads: enough text to
/// judge by, and a bound on its cost for a large body.
const SAMPLE_BYTES: usize = 64 * 1024;

/// The encoding in which `bytes`, which `declared` decodes without error, are far more
/// plausible, or `None` to keep the label. Labels that are single-byte (windows-1252, the
/// ISO-8859 family …) or one of the legacy CJK encodings are checked; others are kept.
///
/// Any byte string is "valid" windows-1252, and Big5 bytes are valid GBK, so a lying label
/// often decodes cleanly to mojibake. Text in a CJK encoding has a tell: nearly all its
/// characters are frequent ones (GB2312 level 1, the Big5 frequently-used block, JIS level 1
/// and kana, KS X 1001 Hangul), which the same bytes read another way are not. Latin text read
/// as a double-byte encoding pairs an accented letter with the ASCII letter or space after it,
/// which is never a frequent character. The label is overruled only when chardetng guesses
/// another of these encodings, that encoding gives at least [`MIN_CHARS`] characters,
/// [`FREQUENT_PERCENT`] % of them frequent, at least [`MARGIN_PERCENT`] points more than the
/// declared one (which counts as none for a single-byte label), and it decodes the bytes without
/// error. Both judge [`SAMPLE_BYTES`] from the first non-ASCII byte. The count comes first: it
/// is one cheap pass per encoding, and a true label ends the check there, without chardetng.
#[inline(never)]
fn more_plausible(bytes: &[u8], declared: &'static Encoding) -> Option<Plausible> {
    let own = Cjk::of(declared);
    if own.is_none() && !declared.is_single_byte() {
        return None;
    }
    let start = bytes.iter().position(|b| !b.is_ascii())?;
    let end = bytes.len().min(start + SAMPLE_BYTES);
    let (sample, last) = (&bytes[start..end], end == bytes.len());
    let own_percent = own.map_or(0, |cjk| cjk.tally(sample).frequent_percent());
    if own_percent + MARGIN_PERCENT > 100 {
        // No reading can beat the label by the margin: a true CJK label ends here.
        return None;
    }
    let convincing = |tally: Tally| {
        let percent = tally.frequent_percent();
        tally.chars >= MIN_CHARS && percent >= FREQUENT_PERCENT && percent >= own_percent + MARGIN_PERCENT
    };
    let others = Cjk::ALL.into_iter().filter(|cjk| Some(*cjk) != own);
    if !others.clone().any(|cjk| convincing(cjk.tally(sample))) {
        return None;
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(sample, last);
    let guess = detector.guess(None, Utf8Detection::Deny);
    let best = others.into_iter().find(|cjk| Some(*cjk) == Cjk::of(guess))?;
    let tally = best.tally(sample);
    if !convincing(tally) {
        return None;
    }
    let encoding = best.encoding();
    let text = encoding.decode_without_bom_handling_and_without_replacement(bytes)?;
    let declared_share = match own {
        Some(_) => format!("against {own_percent} % as {}", declared.name()),
        None => format!("{} reads each byte as a letter of its own", declared.name()),
    };
    Some(Plausible {
        encoding,
        text: text.into_owned(),
        reason: format!(
            "chardetng guesses {} and {} % of the {} non-ASCII characters are frequent ones in it ({declared_share})",
            guess.name(),
            tally.frequent_percent(),
            tally.chars,
        ),
    })
}

/// The legacy CJK encodings whose frequent characters can be told from their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cjk {
    /// GBK and GB18030 (simplified Chinese).
    Gbk,
    /// Big5 (traditional Chinese).
    Big5,
    ShiftJis,
    EucJp,
    EucKr,
}

/// How many non-ASCII characters a reading of the bytes gives, and how many of those are frequent
/// ones.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    chars: usize,
    frequent: usize,
}

impl Tally {
    fn frequent_percent(self) -> usize {
        (self.frequent * 100).checked_div(self.chars).unwrap_or(0)
    }
}

impl Cjk {
    const ALL: [Cjk; 5] = [Cjk::Gbk, Cjk::Big5, Cjk::ShiftJis, Cjk::EucJp, Cjk::EucKr];

    fn of(encoding: &'static Encoding) -> Option<Cjk> {
        use encoding_rs::{BIG5, EUC_JP, EUC_KR, GB18030, GBK, SHIFT_JIS};
        Some(match encoding {
            e if e == GBK || e == GB18030 => Cjk::Gbk,
            e if e == BIG5 => Cjk::Big5,
            e if e == SHIFT_JIS => Cjk::ShiftJis,
            e if e == EUC_JP => Cjk::EucJp,
            e if e == EUC_KR => Cjk::EucKr,
            _ => return None,
        })
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            Cjk::Gbk => encoding_rs::GBK,
            Cjk::Big5 => encoding_rs::BIG5,
            Cjk::ShiftJis => encoding_rs::SHIFT_JIS,
            Cjk::EucJp => encoding_rs::EUC_JP,
            Cjk::EucKr => encoding_rs::EUC_KR,
        }
    }

    /// Reads `bytes` as this encoding, by byte values alone (one pass, nothing decoded or
    /// allocated), counting the non-ASCII characters and the frequent ones among them.
    fn tally(self, bytes: &[u8]) -> Tally {
        let mut tally = Tally::default();
        let mut at = 0;
        while let Some(skip) = bytes[at..].iter().position(|b| !b.is_ascii()) {
            at += skip;
            let lead = bytes[at];
            let trail = bytes.get(at + 1).copied().unwrap_or(0);
            let (len, frequent) = self.read(lead, trail);
            tally.chars += 1;
            tally.frequent += usize::from(frequent);
            at = (at + len).min(bytes.len());
        }
        tally
    }

    /// The length of the character that starts with the non-ASCII byte `lead` (followed by
    /// `trail`), and whether it is a frequent one: common punctuation and symbols, kana and
    /// Hangul, and the first level of Han characters each standard sets apart as the common ones.
    fn read(self, lead: u8, trail: u8) -> (usize, bool) {
        let code = u16::from_be_bytes([lead, trail]);
        let high = (0xA1..=0xFE).contains(&trail);
        match self {
            // GB2312 rows 1-3 (punctuation, numerals, full-width ASCII) and level 1 (B0A1-D7FE).
            Cjk::Gbk => match lead {
                0x81..=0xFE if trail.is_ascii_digit() => (4, false),
                0x81..=0xFE => (2, high && matches!(lead, 0xA1..=0xA3 | 0xB0..=0xD7)),
                _ => (1, false),
            },
            // Symbols (A140-A3BF) and the frequently used characters (A440-C67E).
            Cjk::Big5 => match lead {
                0x81..=0xFE => {
                    let trail_ok = matches!(trail, 0x40..=0x7E | 0xA1..=0xFE);
                    (2, trail_ok && matches!(code, 0xA140..=0xA3BF | 0xA440..=0xC67E))
                }
                _ => (1, false),
            },
            // JIS X 0208 rows 1-8 (symbols, kana) and level 1 kanji (889F-9872); half-width
            // katakana are single bytes.
            Cjk::ShiftJis => match lead {
                0x81..=0x9F | 0xE0..=0xFC => {
                    let trail_ok = matches!(trail, 0x40..=0x7E | 0x80..=0xFC);
                    (2, trail_ok && matches!(code, 0x8140..=0x84BE | 0x889F..=0x9872))
                }
                _ => (1, false),
            },
            // The same JIS rows and level (B0A1-CFD3); 8E is half-width kana, 8F JIS X 0212.
            Cjk::EucJp => match lead {
                0x8E => (2, false),
                0x8F => (3, false),
                0xA1..=0xFE => (2, high && (lead <= 0xA8 || (0xB0A1..=0xCFD3).contains(&code))),
                _ => (1, false),
            },
            // KS X 1001 symbols and jamo (rows 1-12) and Hangul syllables (B0A1-C8FE).
            Cjk::EucKr => match lead {
                0x81..=0xFE => (2, high && matches!(lead, 0xA1..=0xAC | 0xB0..=0xC8)),
                _ => (1, false),
            },
        }
    }
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

    /// Simplified Chinese news, a few sentences (GBK's home ground).
    const NEWS_SIMP: &str = "北京今冬首场降雪如期而至。中央气象台预计，今天夜间到明天白天，北京城区将出现小到中雪，局地大雪。交通部门提醒市民尽量乘坐公共交通出行，驾车时注意减速慢行。";
    /// Traditional Chinese news (Big5's).
    const NEWS_TRAD: &str = "今年首波寒流來襲。中央氣象局表示，受強烈大陸冷氣團影響，北部地區今天清晨氣溫降至十度左右，高山地區可能出現降雪。氣象專家提醒民眾注意保暖，外出時多加衣物。";

    fn rss(text: &str) -> String {
        format!("<rss><channel><title>{text}</title><description>{text}</description></channel></rss>")
    }

    /// `text` as an RSS body in `encoding`, with an XML prolog naming `prolog` if any.
    fn body(text: &str, encoding: &'static Encoding, prolog: Option<&str>) -> Vec<u8> {
        let doc = match prolog {
            Some(label) => format!("<?xml version=\"1.0\" encoding=\"{label}\"?>{}", rss(text)),
            None => rss(text),
        };
        let (bytes, _, unmappable) = encoding.encode(&doc);
        assert!(!unmappable, "{} cannot encode {text}", encoding.name());
        bytes.into_owned()
    }

    /// Decodes `text` encoded in `actual` and labelled `http` / `prolog`, and checks that it was
    /// read as `expected` and came back whole.
    #[track_caller]
    fn reads_as(
        text: &str,
        actual: &'static Encoding,
        http: Option<&str>,
        prolog: Option<&str>,
        expected: &'static Encoding,
    ) {
        let d = decode(&body(text, actual, prolog), http);
        assert_eq!(
            d.encoding.name(),
            expected.name(),
            "{} labelled {http:?} / {prolog:?}",
            actual.name()
        );
        if actual == expected {
            assert_eq!(d.text, rss(text));
        }
    }

    #[test]
    fn gbk_labelled_latin1_in_the_http_charset_is_read_as_gbk() {
        for label in ["windows-1252", "iso-8859-1", "ISO-8859-1", "latin1", "us-ascii"] {
            reads_as(NEWS_SIMP, encoding_rs::GBK, Some(label), None, encoding_rs::GBK);
        }
    }

    #[test]
    fn gbk_labelled_latin1_in_the_prolog_is_read_as_gbk() {
        for label in ["windows-1252", "ISO-8859-1"] {
            reads_as(NEWS_SIMP, encoding_rs::GBK, None, Some(label), encoding_rs::GBK);
            // A true HTTP charset behind the lying prolog changes nothing.
            reads_as(
                NEWS_SIMP,
                encoding_rs::GBK,
                Some("gbk"),
                Some(label),
                encoding_rs::GBK,
            );
        }
    }

    #[test]
    fn big5_labelled_gbk_is_read_as_big5() {
        for label in ["gbk", "gb2312", "gb18030"] {
            reads_as(NEWS_TRAD, encoding_rs::BIG5, Some(label), None, encoding_rs::BIG5);
            reads_as(NEWS_TRAD, encoding_rs::BIG5, None, Some(label), encoding_rs::BIG5);
        }
    }

    #[test]
    fn gbk_labelled_big5_is_read_as_gbk() {
        // These bytes are valid Big5 (not all GBK is), so only plausibility can tell.
        let bytes = body(NEWS_SIMP, encoding_rs::GBK, None);
        assert!(
            encoding_rs::BIG5
                .decode_without_bom_handling_and_without_replacement(&bytes)
                .is_some()
        );
        reads_as(NEWS_SIMP, encoding_rs::GBK, Some("big5"), None, encoding_rs::GBK);
        reads_as(NEWS_SIMP, encoding_rs::GBK, None, Some("Big5"), encoding_rs::GBK);
    }

    #[test]
    fn japanese_and_korean_labelled_latin1_are_read_as_themselves() {
        let ja = "東京都は十一日、新型コロナウイルスの感染者が新たに確認されたと発表した。都の担当者は、引き続き感染対策の徹底を呼びかけている。";
        let ko = "서울시는 오늘 올겨울 첫 한파주의보를 발령하고 시민들에게 외출을 자제해 달라고 당부했다. 기상청은 내일 아침 최저기온이 영하 십도까지 떨어질 것으로 내다봤다.";
        let sjis = encoding_rs::SHIFT_JIS;
        reads_as(ja, sjis, Some("windows-1252"), None, sjis);
        reads_as(
            ko,
            encoding_rs::EUC_KR,
            Some("iso-8859-1"),
            None,
            encoding_rs::EUC_KR,
        );
    }

    #[test]
    fn an_overruled_label_says_why() {
        let bytes = body(NEWS_TRAD, encoding_rs::BIG5, None);
        let plausible = more_plausible(&bytes, encoding_rs::GBK).expect("overruled");
        assert_eq!(plausible.encoding, encoding_rs::BIG5);
        assert_eq!(plausible.text, rss(NEWS_TRAD));
        assert!(
            plausible
                .reason
                .starts_with("chardetng guesses Big5 and 100 % of the ")
                && plausible.reason.contains("% as GBK"),
            "{}",
            plausible.reason
        );
        let bytes = body(NEWS_SIMP, encoding_rs::GBK, None);
        let plausible = more_plausible(&bytes, encoding_rs::WINDOWS_1252).expect("overruled");
        assert!(
            plausible
                .reason
                .ends_with("(windows-1252 reads each byte as a letter of its own)"),
            "{}",
            plausible.reason
        );
    }

    #[test]
    fn true_latin_labels_are_kept() {
        let texts = [
            "Le maire a annoncé « une édition plus sobre » : moins d’éclairages, davantage d’animations pour les élèves. « Nous avons dû faire des choix », a-t-il reconnu. Coût : 2 millions d’€.",
            "À NANTES, LA FÊTE DE NOËL COÛTERA CHER — « ÉDITION SOBRE », ÉTÉ COMME HIVER",
            "Die Bürgermeisterin von München kündigte an, dass die Straßenbahn künftig häufiger fährt. „Wir müssen für die Fahrgäste attraktiver werden“, sagte sie. Öffentliche Verkehrsmittel seien günstiger.",
            "El año pasado, la compañía española aumentó sus ventas un 12 %. «Estamos muy satisfechos», afirmó el director. ¿Qué pasará mañana? ¡Nadie lo sabe! Señor Muñoz, 3 €.",
            "As informações sobre a situação das populações foram divulgadas após a reunião; a comissão não está satisfeita e pede soluções às autoridades.",
            "Þjóðhátíð í Vestmannaeyjum verður haldin í ágúst. Þúsundir gesta eru væntanlegir.",
        ];
        for text in texts {
            for label in ["windows-1252", "iso-8859-1"] {
                let w = encoding_rs::WINDOWS_1252;
                reads_as(text, w, Some(label), None, w);
                reads_as(text, w, None, Some(label), w);
            }
        }
    }

    #[test]
    fn true_labels_of_other_single_byte_scripts_are_kept() {
        let ru = "Мэр Москвы заявил, что в следующем году в городе откроются новые станции метро. Жители смогут быстрее добираться до центра, сообщает пресс-служба мэрии.";
        let cases = [
            (ru, encoding_rs::WINDOWS_1251),
            (ru, encoding_rs::KOI8_R),
            (
                "Ο δήμαρχος της Αθήνας ανακοίνωσε σήμερα ότι το μετρό θα λειτουργεί όλη τη νύχτα τα Σαββατοκύριακα.",
                encoding_rs::WINDOWS_1253,
            ),
            (
                "أعلن رئيس البلدية اليوم أن شبكة المترو الجديدة ستفتتح في نهاية العام، وأن سكان الأحياء الشرقية سيصلون إلى وسط المدينة.",
                encoding_rs::WINDOWS_1256,
            ),
            (
                "ראש העירייה הודיע היום כי קו הרכבת הקלה החדש ייפתח בסוף השנה, ותושבי השכונות יגיעו למרכז העיר מהר יותר.",
                encoding_rs::WINDOWS_1255,
            ),
            (
                "นายกเทศมนตรีประกาศวันนี้ว่ารถไฟฟ้าสายใหม่จะเปิดให้บริการภายในสิ้นปีนี้ ประชาชนจะเดินทางเข้าเมืองได้เร็วขึ้น",
                encoding_rs::WINDOWS_874,
            ),
            (
                "Prezydent miasta zapowiedział, że w przyszłym roku zostaną wybudowane nowe ścieżki rowerowe.",
                encoding_rs::WINDOWS_1250,
            ),
        ];
        for (text, encoding) in cases {
            reads_as(text, encoding, Some(encoding.name()), None, encoding);
        }
    }

    #[test]
    fn true_cjk_labels_are_kept() {
        let ja = "東京都は十一日、新型コロナウイルスの感染者が新たに確認されたと発表した。";
        let ko = "서울시는 오늘 올겨울 첫 한파주의보를 발령하고 시민들에게 외출을 자제해 달라고 당부했다.";
        let cases = [
            (NEWS_SIMP, encoding_rs::GBK, "gbk"),
            (NEWS_SIMP, encoding_rs::GBK, "gb2312"),
            (NEWS_SIMP, encoding_rs::GB18030, "gb18030"),
            (ZH, encoding_rs::GBK, "gbk"),
            (NEWS_TRAD, encoding_rs::BIG5, "big5"),
            (ja, encoding_rs::SHIFT_JIS, "shift_jis"),
            (ja, encoding_rs::EUC_JP, "euc-jp"),
            (ko, encoding_rs::EUC_KR, "euc-kr"),
        ];
        for (text, encoding, label) in cases {
            reads_as(text, encoding, Some(label), None, encoding);
            reads_as(text, encoding, None, Some(label), encoding);
        }
    }

    #[test]
    fn short_texts_keep_their_labels() {
        let w = encoding_rs::WINDOWS_1252;
        for text in ["Café", "Müller & Söhne", "Ñandú", "«»", "€"] {
            reads_as(text, w, Some("windows-1252"), None, w);
        }
        // Too few characters to prove a lie: a label that decodes cleanly is kept.
        let bytes = encoding_rs::GBK.encode("<rss><title>北京下雪</title></rss>").0;
        assert_eq!(decode(&bytes, Some("iso-8859-1")).encoding, w);
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
