//! Comparison text: what two copies of a story have in common once presentation is removed.
//!
//! In: an item's title and HTML, and the lines its source repeats (learnt per source, see
//! [`Furniture`]). Out: a [`Comparison`]: folded title and body text that is never shown to
//! readers. Folding: NFKC; traditional and variant characters to simplified (a character map
//! built from OpenCC's tables); pinyin in parentheses after a character removed (`濟(jì)` →
//! `济`); Latin text lower-cased; punctuation and whitespace dropped (Latin words keep one space
//! between them). Page furniture is removed line by line: what the source repeats across its
//! items, plus generic rules for navigation bars, "related news" blocks, copyright / ICP /
//! address lines, editor and share lines, and page meta lines.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;
use xxhash_rust::xxh3::xxh3_64;

use crate::html;

/// Character tables from OpenCC (Apache-2.0): see `data/opencc/README.md`.
const TS_CHARACTERS: &str = include_str!("../../data/opencc/TSCharacters.txt");
const HK_VARIANTS_REV: &str = include_str!("../../data/opencc/HKVariantsRev.txt");
const TW_VARIANTS_REV: &str = include_str!("../../data/opencc/TWVariantsRev.txt");

/// Traditional / variant → simplified, per character. Characters in the Basic Multilingual Plane
/// are looked up in a flat table (the hot path); the few others in a map.
struct CharMap {
    bmp: Vec<char>,
    astral: HashMap<char, char>,
}

fn parse_table(text: &str) -> impl Iterator<Item = (char, char)> + '_ {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|line| {
        let (key, values) = line.split_once('\t')?;
        let mut key_chars = key.chars();
        let k = key_chars.next()?;
        if key_chars.next().is_some() {
            return None;
        }
        let v = values.split(' ').next()?.chars().next()?;
        Some((k, v))
    })
}

impl CharMap {
    fn build() -> CharMap {
        let ts: HashMap<char, char> = parse_table(TS_CHARACTERS).collect();
        let to_simplified = |c: char| ts.get(&c).copied().unwrap_or(c);
        let mut map: HashMap<char, char> = ts.clone();
        for (variant, standard) in parse_table(HK_VARIANTS_REV).chain(parse_table(TW_VARIANTS_REV)) {
            map.insert(variant, to_simplified(standard));
        }
        // A character some other one maps to is already simplified and stays itself: OpenCC also
        // maps a few simplified characters on (`麼` → `么`, `么` → `幺`), which made folding
        // folded text change it again (found by the comparison fuzz target).
        let targets: HashSet<char> = map.values().copied().collect();
        map.retain(|k, v| k == v || !targets.contains(k));
        let mut bmp: Vec<char> = (0..=0xFFFFu32)
            .map(|u| char::from_u32(u).unwrap_or('\u{FFFD}'))
            .collect();
        let mut astral = HashMap::new();
        for (k, v) in map {
            match bmp.get_mut(k as usize) {
                Some(slot) => *slot = v,
                None => {
                    astral.insert(k, v);
                }
            }
        }
        CharMap { bmp, astral }
    }

    fn get(&self, c: char) -> char {
        match self.bmp.get(c as usize) {
            Some(&m) => m,
            None => self.astral.get(&c).copied().unwrap_or(c),
        }
    }
}

static CHAR_MAP: LazyLock<CharMap> = LazyLock::new(CharMap::build);

/// Whether a character is written without spaces between words (Han, kana, Hangul): each one
/// is a token of its own.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

fn is_pinyin_letter(c: char) -> bool {
    c.is_ascii_lowercase() || "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü".contains(c)
}

/// Whether letters read as one pinyin syllable: a tone-marked vowel, or a neutral-tone particle.
fn is_pinyin(letters: &[char]) -> bool {
    const NEUTRAL: &[&str] = &[
        "de", "le", "me", "ne", "ma", "ba", "zi", "men", "ge", "zhe", "la", "ya", "wa", "na", "a",
    ];
    letters.iter().any(|c| !c.is_ascii()) || NEUTRAL.contains(&letters.iter().collect::<String>().as_str())
}

/// NFKC, simplified, pinyin annotations removed; punctuation and case kept. Used to match
/// furniture rules in either script.
pub fn fold_light(text: &str) -> String {
    // Most text is NFKC already (CJK ideographs and plain ASCII are); checking is far cheaper
    // than normalising.
    // Full-width ASCII forms and the ideographic space are the compatibility characters
    // Chinese text is full of: map them directly, then normalise only if anything else needs it.
    if unicode_normalization::is_nfkc_quick(text.chars().map(widened))
        == unicode_normalization::IsNormalized::Yes
    {
        return fold_light_nfkc(text);
    }
    fold_light_chars(&text.nfkc().collect::<Vec<char>>())
}

/// Full-width ASCII forms and the ideographic space as their ASCII.
fn widened(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// [`fold_light`] of NFKC characters.
fn fold_light_chars(chars: &[char]) -> String {
    let map = &*CHAR_MAP;
    let mut out = String::with_capacity(chars.len() * 3);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '(' && i > 0 && is_cjk(chars[i - 1]) {
            // `濟(jì)`: a pinyin syllable in parentheses right after a character.
            let len = chars[i + 1..]
                .iter()
                .take(7)
                .take_while(|c| is_pinyin_letter(**c))
                .count();
            if (1..=6).contains(&len)
                && chars.get(i + 1 + len) == Some(&')')
                && is_pinyin(&chars[i + 1..i + 1 + len])
            {
                i += len + 2;
                continue;
            }
        }
        out.push(map.get(c));
        i += 1;
    }
    out
}

/// [`fold_light`] of text that is NFKC once `widened`: the same steps on the text as it is,
/// without collecting its characters first (most text takes this way).
fn fold_light_nfkc(text: &str) -> String {
    let map = &*CHAR_MAP;
    let mut out = String::with_capacity(text.len());
    let mut after_cjk = false;
    let mut chars = text.char_indices();
    while let Some((at, raw)) = chars.next() {
        let c = widened(raw);
        if c == '(' && after_cjk {
            // `濟(jì)`: a pinyin syllable in parentheses right after a character.
            let mut letters = ['\0'; 7];
            let mut len = 0;
            let mut next = None;
            for l in text[at + raw.len_utf8()..].chars().map(widened) {
                if len < 7 && is_pinyin_letter(l) {
                    letters[len] = l;
                    len += 1;
                } else {
                    next = Some(l);
                    break;
                }
            }
            if (1..=6).contains(&len) && next == Some(')') && is_pinyin(&letters[..len]) {
                for _ in 0..=len {
                    chars.next();
                }
                after_cjk = false;
                continue;
            }
        }
        out.push(map.get(c));
        after_cjk = is_cjk(c);
    }
    out
}

/// Full folding for comparison: [`fold_light`], then lower case, and only letters and digits
/// kept (combining marks left over from NFKC are dropped too); a single space separates Latin
/// words (nothing separates CJK characters).
pub fn fold(text: &str) -> String {
    strip(&fold_light(text))
}

/// The second half of [`fold`]: keep letters and digits of light-folded text, lower-cased.
fn strip(light: &str) -> String {
    let mut out = String::with_capacity(light.len());
    let mut gap = false;
    for c in light.chars() {
        // A combining mark that NFKC did not compose into its base goes: removing what lay
        // between it and a character would otherwise let a second fold compose or reorder it,
        // and folding must not change folded text (both found by the comparison fuzz target).
        // CJK ideographs, the common case, are never marks.
        if !matches!(c as u32, 0..=0x7F | 0x4E00..=0x9FFF)
            && unicode_normalization::char::is_combining_mark(c)
        {
            continue;
        }
        if is_cjk(c) {
            gap = false;
            out.push(c);
        } else if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                if gap && out.chars().next_back().is_some_and(|p| !is_cjk(p)) {
                    out.push(' ');
                }
                gap = false;
                out.push(c.to_ascii_lowercase());
            } else {
                gap = true;
            }
        } else if matches!(c as u32, 0x2000..=0x206F | 0x3000..=0x303F | 0xFE30..=0xFE4F | 0xFF00..=0xFF65) {
            // General and CJK punctuation: separators, and the common case after ideographs.
            gap = true;
        } else if c.is_alphanumeric() {
            let cjk = is_cjk(c);
            if gap && !cjk && out.chars().next_back().is_some_and(|p| !is_cjk(p)) {
                out.push(' ');
            }
            gap = false;
            // Only the letters of the lower case: `İ` lower-cases to `i` and a combining dot,
            // which folding the result again would drop (found by the fuzz seeds).
            out.extend(c.to_lowercase().filter(|l| l.is_alphanumeric()));
        } else {
            gap = true;
        }
    }
    out
}

/// Headers that start a block of links to other stories; the block runs to the end.
const RELATED_HEADERS: &[&str] = &[
    "相关新闻",
    "相关阅读",
    "相关报道",
    "相关链接",
    "相关文章",
    "相关推荐",
    "推荐阅读",
    "延伸阅读",
    "热门阅读",
    "热门推荐",
    "热门文章",
    "热点推荐",
    "热点新闻",
    "猜你喜欢",
    "更多新闻",
    "更多阅读",
    "精彩推荐",
    "今日推荐",
    "往期回顾",
    "图片新闻",
    "最新新闻",
    "related",
    "related news",
    "related stories",
    "related articles",
    "read more",
    "more stories",
    "recommended",
    "you may also like",
    "most read",
    "trending",
    // Readers' comments below an article.
    "网友评论",
    "网友留言",
    "发表评论",
    "comments",
];

/// Lines that end an article's text by themselves: a press release's `完`, `- END -`.
const END_MARKERS: &[&str] = &["完", "全文完", "end"];

/// Phrases that mark a legal, copyright or contact line.
const LEGAL_MARKERS: &[&str] = &[
    "icp备",
    "icp证",
    "版权所有",
    "版权归",
    "copyright",
    "©",
    "all rights reserved",
    "未经授权",
    "未经书面授权",
    "不得转载",
    "转载请注明",
    "不代表本网观点",
    "不代表本站观点",
    "仅供参考",
    "公网安备",
    "违法和不良信息",
    "举报电话",
    "举报邮箱",
];

/// Line starts of editor, source, share and contact lines.
const META_PREFIXES: &[&str] = &[
    "责任编辑",
    "责编",
    "编辑:",
    "编辑：",
    "审核:",
    "审核：",
    "校对:",
    "校对：",
    "来源:",
    "来源：",
    "出处:",
    "分享到",
    "分享:",
    "扫一扫",
    "微信扫一扫",
    "扫码",
    "打印本页",
    "关闭窗口",
    "返回顶部",
    "字号",
    "地址:",
    "地址：",
    "电话:",
    "电话：",
    "传真:",
    "邮编:",
    "邮箱:",
    "联系电话",
    "联系我们",
    "editor:",
    "source:",
    "read more:",
    "标签:",
    "标签：",
    "关键词:",
    "关键词：",
    "tags:",
    "share this",
    "follow us",
];

/// Separators of navigation bars and breadcrumbs.
const NAV_SEPARATORS: &[char] = &['|', '｜', '丨', '›', '»', '>', '/', '·', '•', '>'];

fn normalize_rule_text(line: &str) -> String {
    fold_light(line).to_lowercase().trim().to_string()
}

/// A line as the furniture rules and the comparison see it, computed once.
struct LineText {
    /// Light-folded, lower case, trimmed: what the rules match.
    rule: String,
    /// Fully folded: what is compared and hashed.
    folded: String,
}

impl LineText {
    fn new(line: &str) -> LineText {
        let rule = normalize_rule_text(line);
        let folded = strip(&rule);
        LineText { rule, folded }
    }

    fn hash(&self) -> Option<i64> {
        (!self.folded.is_empty()).then(|| xxh3_64(self.folded.as_bytes()) as i64)
    }
}

fn bare(line: &str) -> String {
    line.chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect::<String>()
        .trim()
        .to_string()
}

/// Whether a line starts a "related news" block.
pub fn is_related_header(line: &str) -> bool {
    related_header_rule(&normalize_rule_text(line))
}

fn related_header_rule(text: &str) -> bool {
    let bare = bare(text);
    END_MARKERS.contains(&bare.as_str())
        || RELATED_HEADERS
            .iter()
            .any(|h| bare == *h || (bare.starts_with(h) && bare.chars().count() <= h.chars().count() + 4))
}

/// What the generic rules make of one line of an article's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRule {
    /// Body text.
    Body,
    /// Page furniture: the line goes ([`is_generic_furniture`]).
    Furniture,
    /// The article ends before this line: a "related news" header, a comments header or an end
    /// marker such as a press release's `完` ([`is_related_header`]).
    End,
}

/// What the generic rules make of `line` (the same rules the comparison text is built under).
pub fn line_rule(line: &str) -> LineRule {
    let text = normalize_rule_text(line);
    if related_header_rule(&text) {
        LineRule::End
    } else if generic_furniture_rule(&text) {
        LineRule::Furniture
    } else {
        LineRule::Body
    }
}

/// Whether a line is page furniture by a generic rule (not learnt from the source).
pub fn is_generic_furniture(line: &str) -> bool {
    generic_furniture_rule(&normalize_rule_text(line))
}

fn generic_furniture_rule(text: &str) -> bool {
    let chars = text.chars().count();
    if chars == 0 {
        return true;
    }
    // Navigation bars and breadcrumbs: several short segments between separators.
    let separators = text.chars().filter(|c| NAV_SEPARATORS.contains(c)).count();
    if separators >= 2 {
        let segments: Vec<&str> = text
            .split(NAV_SEPARATORS)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let avg = segments.iter().map(|s| s.chars().count()).sum::<usize>() / segments.len().max(1);
        if segments.len() >= 3 && avg <= 10 {
            return true;
        }
    }
    // List markers and brackets before a label: `- 责任编辑:`, `（责编：…）`.
    let stripped = text.trim_start_matches(|c: char| !c.is_alphanumeric());
    if chars <= 160 && LEGAL_MARKERS.iter().any(|m| text.contains(m)) {
        return true;
    }
    if chars <= 100 && META_PREFIXES.iter().any(|p| stripped.starts_with(p)) {
        return true;
    }
    if chars <= 80 && (text.contains("地址:") || text.contains("地址：")) {
        return true;
    }
    // A reporter's byline: `記者陳怡君／臺中報導 2023/11/20 14:05`.
    if chars <= 40 && stripped.starts_with("记者") && (text.contains("报导") || text.contains("报道")) {
        return true;
    }
    // Page meta lines: a date with "source / views / published" and little else.
    if chars <= 60
        && ["来源", "阅读", "点击", "浏览", "发布时间", "发布日期", "日期"]
            .iter()
            .any(|m| text.contains(m))
        && text.chars().filter(char::is_ascii_digit).count() >= 6
    {
        return true;
    }
    false
}

/// Whether a line starts with a timestamp (`2022-01-07 09:34 …`), as items of a headline list do.
fn starts_with_timestamp(line: &str) -> bool {
    let t = line.trim_start().as_bytes();
    t.len() >= 10
        && t[..4].iter().all(u8::is_ascii_digit)
        && matches!(t[4], b'-' | b'/' | b'.')
        && t[5..7].iter().all(u8::is_ascii_digit)
        && matches!(t[7], b'-' | b'/' | b'.')
        && t[8..10].iter().all(u8::is_ascii_digit)
}

/// Where a headline list without a header starts: a run of short lines holding at least three
/// timestamped lines (`headline` / `2022-01-07 09:34 section`), as sidebars of other stories are
/// laid out. Returns the index of the run's first line.
pub fn headline_list_start(lines: &[String]) -> Option<usize> {
    let mut start = None;
    let mut stamps = 0;
    for (i, line) in lines.iter().enumerate() {
        let short = line.chars().count() <= 60;
        if starts_with_timestamp(line) && short {
            if start.is_none() {
                // The headline before the first timestamp belongs to the list.
                start = Some(if i > 0 && lines[i - 1].chars().count() <= 60 {
                    i - 1
                } else {
                    i
                });
            }
            stamps += 1;
            if stamps >= 3 {
                return start;
            }
        } else if !short {
            start = None;
            stamps = 0;
        }
    }
    None
}

/// Hash of a line's folded text, the unit of per-source furniture learning.
pub fn line_hash(line: &str) -> Option<i64> {
    LineText::new(line).hash()
}

/// Longest line (in characters) counted for furniture learning: navigation, footers and
/// copyright notices are short; a repeated long paragraph is more likely content.
pub const MAX_FURNITURE_LINE: usize = 200;

/// The lines of an item's HTML as plain text (one per block element).
pub fn text_lines(html_text: &str) -> Vec<String> {
    html::to_text(html_text).lines().map(str::to_string).collect()
}

/// The distinct learnable line hashes of an item (for counting how often a source repeats them).
pub fn learnable_lines(lines: &[String]) -> Vec<i64> {
    let mut hashes: Vec<i64> = lines
        .iter()
        .filter(|l| l.chars().count() <= MAX_FURNITURE_LINE)
        .filter_map(|l| line_hash(l))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// What a source repeats: line hashes seen in at least [`Furniture::MIN_ITEMS`] of its items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Furniture {
    lines: std::collections::HashSet<i64>,
}

impl Furniture {
    /// A line seen in this many items of one source is furniture.
    pub const MIN_ITEMS: i64 = 3;

    /// Furniture from `(line hash, items containing it)` counts.
    pub fn from_counts(counts: impl IntoIterator<Item = (i64, i64)>) -> Furniture {
        Furniture {
            lines: counts
                .into_iter()
                .filter(|(_, n)| *n >= Self::MIN_ITEMS)
                .map(|(h, _)| h)
                .collect(),
        }
    }

    /// The learnt lines' hashes, in no particular order.
    pub fn lines(&self) -> impl Iterator<Item = i64> + '_ {
        self.lines.iter().copied()
    }

    /// Whether a line (by its hash) is furniture of the source.
    pub fn contains(&self, hash: i64) -> bool {
        self.lines.contains(&hash)
    }

    /// Number of learnt lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether nothing was learnt.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// An item's comparison text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Folded title, site tags removed.
    pub title: String,
    /// Folded body: the kept lines joined.
    pub body: String,
    /// Lines of the body before furniture removal.
    pub lines: usize,
    /// Lines removed as furniture.
    pub removed: usize,
}

/// Removes a site tag before a title (`［西安］`, `【快讯】`, `〔防疫〕`) and a site name after it
/// (`…｜粵港快訊`, `… | Site`).
pub fn clean_title(title: &str) -> &str {
    let mut t = title.trim();
    for (open, close) in [('［', '］'), ('【', '】'), ('〔', '〕'), ('[', ']'), ('「', '」')] {
        if let Some(rest) = t.strip_prefix(open)
            && let Some(end) = rest.find(close)
            && rest[..end].chars().count() <= 10
        {
            t = rest[end + close.len_utf8()..].trim();
        }
    }
    for sep in ['｜', '|', '丨'] {
        if let Some(at) = t.rfind(sep) {
            let tail = &t[at + sep.len_utf8()..];
            if tail.trim().chars().count() <= 12 && at > 0 {
                t = t[..at].trim();
            }
        }
    }
    t
}

/// Builds an item's comparison text: the body from `html` (content, else summary) with the
/// source's furniture and generic furniture removed, and everything from a "related news"
/// header on dropped.
pub fn comparison(title: Option<&str>, html: Option<&str>, furniture: &Furniture) -> Comparison {
    comparison_of_lines(title, &html.map(text_lines).unwrap_or_default(), furniture)
}

/// [`comparison`] from the body's [`text_lines`], for a caller that has them already (the
/// store counts the same lines for furniture learning, so it converts the HTML once).
pub fn comparison_of_lines(title: Option<&str>, lines: &[String], furniture: &Furniture) -> Comparison {
    let end = headline_list_start(lines).unwrap_or(lines.len());
    let mut kept = Vec::with_capacity(lines.len());
    let mut removed = lines.len() - end;
    for (i, line) in lines[..end].iter().enumerate() {
        let text = LineText::new(line);
        if related_header_rule(&text.rule) {
            removed += end - i;
            break;
        }
        let learnt =
            line.chars().count() <= MAX_FURNITURE_LINE && text.hash().is_some_and(|h| furniture.contains(h));
        if learnt || generic_furniture_rule(&text.rule) {
            removed += 1;
            continue;
        }
        if !text.folded.is_empty() {
            kept.push(text.folded);
        }
    }
    let mut body = String::new();
    for line in kept {
        if !body.is_empty()
            && body.chars().next_back().is_some_and(|c| !is_cjk(c))
            && line.chars().next().is_some_and(|c| !is_cjk(c))
        {
            body.push(' ');
        }
        body.push_str(&line);
    }
    Comparison {
        title: fold(clean_title(title.unwrap_or(""))),
        body,
        lines: lines.len(),
        removed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_character_map_maps_to_characters_it_leaves_alone() {
        let map = &*CHAR_MAP;
        for u in 0..=0x3_134F_u32 {
            let Some(c) = char::from_u32(u) else { continue };
            let once = map.get(c);
            assert_eq!(map.get(once), once, "{c} maps to {once}, which maps on");
        }
        assert_eq!(fold("麼"), "么");
        assert_eq!(fold("么"), "么");
    }

    #[test]
    fn folding_folded_text_changes_nothing() {
        for text in [
            "İstanbul",
            "Ǆemal ß ẞ",
            "ﬁne Ａｂｃ",
            "國務院 濟(jì)源網(wǎng)",
            "ス,\u{3099}",
            "\u{5bd}\u{3099},\u{5bd}i",
        ] {
            let once = fold(text);
            assert_eq!(fold(&once), once, "{text}");
        }
        assert_eq!(fold("İstanbul"), "istanbul");
    }

    #[test]
    fn traditional_and_variants_fold_to_simplified() {
        assert_eq!(fold("濟源網"), "济源网");
        assert_eq!(fold("陝西衛健委"), "陕西卫健委");
        assert_eq!(fold("疫情防控處置工作指揮部"), "疫情防控处置工作指挥部");
        assert_eq!(fold("衞生"), fold("卫生"));
        assert_eq!(fold("隨著"), fold("随着"));
    }

    #[test]
    fn light_folding_reads_text_as_its_characters_would() {
        for text in [
            "濟(jì)源網(wǎng)訊,,示范区（jì）(de)(xyzabcde)(ab",
            "会议(video)召开（ｊì）　Ａ(le)",
            "(jì)開頭 和 結尾(",
            "plain ASCII (a) text",
        ] {
            let chars: Vec<char> = text.chars().map(widened).collect();
            assert_eq!(fold_light_nfkc(text), fold_light_chars(&chars), "{text}");
        }
    }

    #[test]
    fn pinyin_annotations_and_doubled_punctuation_vanish() {
        assert_eq!(
            fold("濟(jì)源網(wǎng)訊,,示范區(qū)黨工委書記,、市委書記"),
            fold("济源网讯，示范区党工委书记、市委书记")
        );
        // Parentheses that are not pinyin stay content (their letters are kept, the brackets go).
        assert_eq!(fold("会议(video)召开"), "会议video召开");
    }

    #[test]
    fn latin_is_lower_cased_with_single_spaces() {
        assert_eq!(
            fold("  BEIJING, Jan 6 -- The  Meeting "),
            "beijing jan 6 the meeting"
        );
        assert_eq!(fold("Ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ"), "full width abc");
    }

    #[test]
    fn navigation_copyright_editor_and_meta_lines_are_furniture() {
        for line in [
            "首页 | 时政 | 新疆 | 西藏 | 港澳台 | 财经",
            "粵港快訊 › 熱門地區：珠海 | 東莞 | 佛山 | 高雄",
            "秦川在线 地址：咸阳市秦都区人民西路 陕ICP备06000000号",
            "凡本網注明“來源：柳州資訊港”的作品，版權均屬柳州資訊港所有，未經書面授權不得轉載。",
            "（责编：李·明）",
            "责任编辑：周小航",
            "日期:2022-03-29     閱讀:",
            "Copyright © 2022 Example News. All rights reserved.",
        ] {
            assert!(is_generic_furniture(line), "{line}");
        }
        for line in [
            "1月6日，疫情防控工作视频会议在西安市疫情防控指挥部召开。",
            "陕西省长赵一德讲话，省委常委、西安市委书记方红卫出席。",
            "Officials in Xi'an called for stricter management of quarantine sites.",
        ] {
            assert!(!is_generic_furniture(line), "{line}");
        }
    }

    #[test]
    fn related_block_is_cut_to_the_end() {
        let html =
            "<p>正文第一段。</p><p>正文第二段。</p><p>热门阅读</p><p>河南新增病例</p><p>深圳发布通告</p>";
        let c = comparison(Some("标题"), Some(html), &Furniture::default());
        assert_eq!(c.body, "正文第一段正文第二段");
        assert_eq!((c.lines, c.removed), (5, 3));
    }

    #[test]
    fn a_headline_list_without_header_is_cut() {
        let html = "<p>正文第一段，内容较长的一段话，讲述会议的主要内容和要求，以及后续的工作部署和安排等等情况。</p>\
            <p>- 责任编辑: 林铃锦</p><p>世卫：北京冬奥防控措施严格有力</p><p>2022-01-07 09:34 北京冬奥会 -</p>\
            <p>河南新增56例本土确诊</p><p>2022-01-07 09:02 新冠肺炎抗疫战 -</p>\
            <p>深圳发现2例新冠阳性感染者</p><p>2022-01-07 08:27 新冠肺炎抗疫战 -</p><p>上海昨日新增3例</p>";
        let c = comparison(None, Some(html), &Furniture::default());
        assert!(c.body.starts_with("正文第一段"), "{}", c.body);
        for place in ["河南", "深圳", "上海", "林铃锦"] {
            assert!(!c.body.contains(place), "{place} left in {}", c.body);
        }
    }

    #[test]
    fn learnt_furniture_is_removed() {
        let html = "<p>新聞資訊</p><p>news information</p><p>正文。</p>";
        let furniture = Furniture::from_counts(
            ["新聞資訊", "news information"]
                .iter()
                .filter_map(|l| line_hash(l))
                .map(|h| (h, 5)),
        );
        assert_eq!(comparison(None, Some(html), &furniture).body, "正文");
        assert_eq!(
            comparison(None, Some(html), &Furniture::default()).body,
            "新闻资讯news information正文"
        );
    }

    #[test]
    fn site_tags_leave_titles() {
        assert_eq!(
            clean_title("［西安］陕西省委书记：把人民摆在心中最高位置"),
            "陕西省委书记：把人民摆在心中最高位置"
        );
        assert_eq!(
            clean_title("陝西省委書記：深刻汲取教訓、反思不足｜粵港快訊"),
            "陝西省委書記：深刻汲取教訓、反思不足"
        );
        assert_eq!(
            clean_title("〔防疫〕青海新增2例，累計15例"),
            "青海新增2例，累計15例"
        );
        assert_eq!(clean_title("A | B"), "A");
    }
}
