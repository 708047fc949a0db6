//! Facts a text states, each at its place in the wording: what tells two notices written from
//! one template apart.
//!
//! In: a folded comparison text (title or body, see [`super::normalize`]). Out: [`Facts`]: every
//! place (a gazetteer unit, or a town named before `镇` / `乡` / `街道` / `社区`) and every
//! figure (a number with the character after it: `9日`, `12例`, `10时`; digits or Chinese
//! numerals) with a hash of the three tokens before it and of the three after it, other facts
//! in those tokens standing as placeholders. Then [`Facts::differing`] finds what differs
//! between two texts at the same place in their wording: a fact of one text and a fact of the
//! other with the same tokens on one side but another value (`广州市气象台发布` /
//! `佛山市气象台发布`, `武汉11日无新增` / `武汉12日无新增`). That is the slot a template fills in,
//! and a different value there means a different notice, however alike the rest.
//!
//! A genuine copy does not differ that way: furniture, datelines and publication stamps are not
//! slots (a dateline's place and day are skipped; a run of numbers starting with a year, as a
//! `2023-05-09 10:23` stamp folds to, is one placeholder), punctuation and script are folded
//! away, a truncated copy only lacks facts, and a reworded sentence rarely keeps three tokens on
//! either side of a changed fact. To tolerate reordered lists, a difference only counts when
//! neither value appears anywhere in the other text, and places count as different only when
//! neither contains the other (`广东` and `佛山` may both name one story's place).

use xxhash_rust::xxh3::xxh3_64;

use super::normalize::is_cjk;
use super::region::Gazetteer;

/// Tokens of context on each side of a fact.
const CONTEXT: usize = 3;
/// Facts kept per text: enough for any notice; a statistics table beyond it adds nothing.
const MAX_FACTS: usize = 400;
/// Token codes: a CJK character is its code point; these sit below any CJK character.
const START: u32 = 1;
const END: u32 = 2;
const PLACE: u32 = 3;
const NUMBER: u32 = 4;
const STAMP: u32 = 5;
/// Marks a town (not in the gazetteer) in a place value.
const TOWN: u32 = 0x8000_0000;
/// Characters after a number that make it a figure worth comparing written in Chinese numerals
/// (digits are compared whatever follows them).
const NUMERAL_UNITS: &[char] = &[
    '日', '月', '号', '时', '点', '例', '人', '名', '天', '岁', '年', '起',
];
/// Suffixes after a town's name.
const TOWN_SUFFIXES: &[&str] = &["街道", "社区", "镇", "乡"];

/// What a fact is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A place: a gazetteer unit index, or [`TOWN`] with a hash of a town's name.
    Place,
    /// A figure, day or time: the number, and the token after it (its unit).
    Number,
}

/// One fact at its place in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    /// Hash of the channel, the kind and the tokens before.
    left: u32,
    /// Hash of the channel, the kind and the tokens after.
    right: u32,
    kind: Kind,
    /// The place's unit, or the number.
    value: u32,
    /// For a number, the token after it (its unit); 0 for a place.
    unit: u32,
}

/// The facts of an item's title and body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Sorted by `left`.
    facts: Vec<Fact>,
    /// Indexes into `facts`, sorted by their `right`.
    by_right: Vec<u16>,
}

/// Where a text comes from: title slots are compared with title slots only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    /// The title.
    Title,
    /// The body.
    Body,
}

/// Two facts at the same place in two texts' wording, with different values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    /// The fact of the first text.
    pub a: Fact,
    /// The fact of the second text.
    pub b: Fact,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.a.kind {
            Kind::Place => "place",
            Kind::Number => "figure",
        };
        write!(f, "{what} {} vs {}", self.a, self.b)
    }
}

impl std::fmt::Display for Fact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Kind::Place if self.value & TOWN != 0 => write!(f, "a town (#{:x})", self.value & !TOWN),
            Kind::Place => write!(f, "{}", Gazetteer::embedded().unit(self.value as usize).name),
            Kind::Number => {
                write!(f, "{}", self.value)?;
                match char::from_u32(self.unit).filter(|c| is_cjk(*c)) {
                    Some(c) => write!(f, "{c}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// One token of a text: its code, and the fact it stands for, if any.
struct Token {
    code: u32,
    fact: Option<(Kind, u32, u32)>,
}

fn chinese_digit(c: char) -> Option<u32> {
    Some(match c {
        '〇' | '零' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

fn chinese_multiplier(c: char) -> Option<u32> {
    Some(match c {
        '十' => 10,
        '百' => 100,
        '千' => 1000,
        '万' => 10_000,
        _ => return None,
    })
}

/// The value of Chinese numerals: `十一` 11, `二十三` 23, `二〇二三` 2023, `三万` 30000.
fn chinese_number(run: &str) -> u32 {
    if !run.chars().any(|c| chinese_multiplier(c).is_some()) {
        return run.chars().fold(0u32, |n, c| {
            n.saturating_mul(10).saturating_add(chinese_digit(c).unwrap_or(0))
        });
    }
    let (mut total, mut section, mut digit) = (0u32, 0u32, None::<u32>);
    for c in run.chars() {
        if let Some(d) = chinese_digit(c) {
            digit = Some(d);
        } else if let Some(m) = chinese_multiplier(c) {
            if m == 10_000 {
                total = total.saturating_add(section.saturating_add(digit.unwrap_or(0)).saturating_mul(m));
                section = 0;
            } else {
                section = section.saturating_add(digit.unwrap_or(1).saturating_mul(m));
            }
            digit = None;
        }
    }
    total.saturating_add(section).saturating_add(digit.unwrap_or(0))
}

fn is_numeral(c: char) -> bool {
    chinese_digit(c).is_some() || chinese_multiplier(c).is_some()
}

/// A token code for a Latin word (above every CJK code point).
fn word_code(word: &str) -> u32 {
    (xxh3_64(word.as_bytes()) as u32) | 0x0100_0000
}

/// The character at byte `at` of `text`, if any.
fn char_at(text: &str, at: usize) -> Option<char> {
    text.get(at..).and_then(|t| t.chars().next())
}

/// The tokens of `text` from byte `from` on: CJK characters, Latin words, and facts.
fn tokenize(text: &str, from: usize) -> Vec<Token> {
    let places = Gazetteer::embedded().place_spans(text);
    let mut places = places.iter().filter(|p| p.0 >= from).peekable();
    let bytes = text.as_bytes();
    let mut out: Vec<Token> = Vec::with_capacity((text.len() - from) / 3 + 1);
    let mut pos = from;
    // Tokens when the last place ended: a town named right after it.
    let mut after_place: Option<usize> = None;
    while let Some(c) = char_at(text, pos) {
        while places.peek().is_some_and(|p| p.0 < pos) {
            places.next();
        }
        if let Some(&&(start, end, unit)) = places.peek()
            && start == pos
        {
            places.next();
            out.push(Token {
                code: PLACE,
                fact: Some((Kind::Place, unit as u32, 0)),
            });
            pos = end;
            after_place = Some(out.len());
            continue;
        }
        if c == ' ' {
            pos += 1;
            continue;
        }
        if c.is_ascii_digit() {
            let end = pos + bytes[pos..].iter().take_while(|b| b.is_ascii_digit()).count();
            let digits = &bytes[pos..end];
            // `2023 05 09 10 23`: a numeric date and time, as a publication stamp folds to.
            let year = digits.len() == 4 && (digits.starts_with(b"19") || digits.starts_with(b"20"));
            if year && bytes.get(end) == Some(&b' ') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
                pos = end
                    + bytes[end..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit() || **b == b' ')
                        .count();
                out.push(Token {
                    code: STAMP,
                    fact: None,
                });
                continue;
            }
            let n = digits.iter().fold(0u32, |n, d| {
                n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
            });
            out.push(Token {
                code: NUMBER,
                fact: Some((Kind::Number, n, unit_after(text, end))),
            });
            pos = end;
            continue;
        }
        if is_numeral(c) {
            let end = pos
                + text[pos..]
                    .chars()
                    .take_while(|c| is_numeral(*c))
                    .map(char::len_utf8)
                    .sum::<usize>();
            if char_at(text, end).is_some_and(|u| NUMERAL_UNITS.contains(&u)) {
                out.push(Token {
                    code: NUMBER,
                    fact: Some((
                        Kind::Number,
                        chinese_number(&text[pos..end]),
                        unit_after(text, end),
                    )),
                });
                pos = end;
                continue;
            }
        }
        if is_cjk(c) {
            // A town: two or three characters after a place or the start, then a town suffix.
            if (after_place == Some(out.len()) || out.is_empty())
                && let Some(len) = town_name(&text[pos..])
            {
                let name = &text[pos..pos + len];
                out.push(Token {
                    code: PLACE,
                    fact: Some((Kind::Place, TOWN | (xxh3_64(name.as_bytes()) as u32 & !TOWN), 0)),
                });
                pos += len;
                continue;
            }
            out.push(Token {
                code: c as u32,
                fact: None,
            });
            pos += c.len_utf8();
            continue;
        }
        // A Latin word.
        let end = pos
            + text[pos..]
                .chars()
                .take_while(|c| !is_cjk(*c) && *c != ' ')
                .map(char::len_utf8)
                .sum::<usize>();
        out.push(Token {
            code: word_code(&text[pos..end]),
            fact: None,
        });
        pos = end;
    }
    midnight(&mut out);
    out
}

/// `24日24时` is `25日0时`: figures "as of" midnight are written either way.
fn midnight(tokens: &mut [Token]) {
    // The unit is a token of its own: `24` `日` `24` `时`.
    for k in 2..tokens.len() {
        if let (Some((Kind::Number, 24, hour)), Some((Kind::Number, day, day_unit))) =
            (tokens[k].fact, tokens[k - 2].fact)
            && hour == '时' as u32
            && day_unit == '日' as u32
        {
            tokens[k].fact = Some((Kind::Number, 0, hour));
            tokens[k - 2].fact = Some((Kind::Number, day + 1, day_unit));
        }
    }
}

/// The token after a number ending at byte `end`: its unit (a CJK character or a word).
fn unit_after(text: &str, end: usize) -> u32 {
    match char_at(text, end) {
        Some(c) if is_cjk(c) => c as u32,
        Some(' ') => {
            let word: &str = text[end + 1..]
                .split(|c: char| c == ' ' || is_cjk(c))
                .next()
                .unwrap_or("");
            if word.starts_with(|c: char| c.is_alphabetic()) {
                word_code(word)
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// The byte length of a town's name at the start of `text` (2 or 3 CJK characters followed by
/// a town suffix), if there is one.
fn town_name(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let mut len = 0;
    for k in 1..=3 {
        let (_, c) = chars.next()?;
        if !is_cjk(c) || is_numeral(c) {
            return None;
        }
        len += c.len_utf8();
        if k >= 2 && TOWN_SUFFIXES.iter().any(|s| text[len..].starts_with(s)) {
            return Some(len);
        }
    }
    None
}

/// Hash of the channel, the kind, the side and up to [`CONTEXT`] tokens: a multiply-rotate mix
/// (token codes are characters or hashes already).
fn context_hash(channel: Channel, kind: Kind, side: u8, tokens: impl Iterator<Item = u32>) -> u32 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15
        ^ (u64::from(channel as u8) << 16 | u64::from(kind as u8) << 8 | u64::from(side));
    for t in tokens.take(CONTEXT) {
        h = (h ^ u64::from(t))
            .wrapping_mul(0xFF51_AFD7_ED55_8CCD)
            .rotate_left(29);
    }
    h = (h ^ (h >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    (h >> 32) as u32
}

impl Facts {
    /// The facts of a title and a body; `body_from` is where the body's text starts once a
    /// dateline is skipped (a byte offset).
    pub fn new(title: &str, body: &str, body_from: usize) -> Facts {
        let mut facts = Vec::new();
        for (channel, text, from) in [(Channel::Title, title, 0), (Channel::Body, body, body_from)] {
            let tokens = tokenize(text, from.min(text.len()));
            let code = |k: isize| -> u32 {
                if k < 0 {
                    START
                } else {
                    tokens.get(k as usize).map_or(END, |t| t.code)
                }
            };
            for (p, t) in tokens.iter().enumerate() {
                let Some((kind, value, unit)) = t.fact else {
                    continue;
                };
                if facts.len() >= MAX_FACTS {
                    break;
                }
                let p = p as isize;
                facts.push(Fact {
                    left: context_hash(channel, kind, 0, (1..=CONTEXT as isize).map(|k| code(p - k))),
                    right: context_hash(channel, kind, 1, (1..=CONTEXT as isize).map(|k| code(p + k))),
                    kind,
                    value,
                    unit,
                });
            }
        }
        facts.sort_unstable_by_key(|f| (f.left, f.right, f.value));
        facts.dedup();
        facts.shrink_to_fit();
        let mut by_right: Vec<u16> = (0..facts.len() as u16).collect();
        by_right.sort_unstable_by_key(|&i| facts[usize::from(i)].right);
        by_right.shrink_to_fit();
        Facts { facts, by_right }
    }

    /// Whether this text states `f`'s value anywhere (a place by its unit, a number with its
    /// unit).
    fn states(&self, f: &Fact) -> bool {
        self.facts
            .iter()
            .any(|g| g.kind == f.kind && g.value == f.value && (f.kind == Kind::Place || g.unit == f.unit))
    }

    /// The first fact of `self` and one of `other` at the same place in their wording (the same
    /// tokens before, or after) whose values differ, where neither value appears anywhere in
    /// the other text and, for places, neither contains the other.
    pub fn differing(&self, other: &Facts) -> Option<Difference> {
        let mut found = None;
        let mut check = |a: &Fact, b: &Fact| {
            if found.is_some() || a.kind != b.kind || a.value == b.value {
                return;
            }
            if a.kind == Kind::Number && a.unit != b.unit && a.right != b.right {
                return;
            }
            if a.kind == Kind::Place && related(a.value, b.value) {
                return;
            }
            if other.states(a) || self.states(b) {
                return;
            }
            found = Some(Difference { a: *a, b: *b });
        };
        // Same tokens before: a merge over both lists sorted by `left`.
        let (x, y) = (&self.facts, &other.facts);
        let (mut i, mut j) = (0, 0);
        while i < x.len() && j < y.len() {
            match x[i].left.cmp(&y[j].left) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    let key = x[i].left;
                    let i_end = i + x[i..].iter().take_while(|f| f.left == key).count();
                    let j_end = j + y[j..].iter().take_while(|f| f.left == key).count();
                    for a in &x[i..i_end] {
                        for b in &y[j..j_end] {
                            check(a, b);
                        }
                    }
                    i = i_end;
                    j = j_end;
                }
            }
        }
        // Same tokens after.
        let (xr, yr) = (&self.by_right, &other.by_right);
        let right_x = |k: usize| &x[usize::from(xr[k])];
        let right_y = |k: usize| &y[usize::from(yr[k])];
        let (mut i, mut j) = (0, 0);
        while i < xr.len() && j < yr.len() {
            match right_x(i).right.cmp(&right_y(j).right) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    let key = right_x(i).right;
                    let i_end = i + (i..xr.len()).take_while(|&k| right_x(k).right == key).count();
                    let j_end = j + (j..yr.len()).take_while(|&k| right_y(k).right == key).count();
                    for a in i..i_end {
                        for b in j..j_end {
                            check(right_x(a), right_y(b));
                        }
                    }
                    i = i_end;
                    j = j_end;
                }
            }
        }
        found
    }
}

/// Whether two place values may name one story's place: the same, or one inside the other.
fn related(a: u32, b: u32) -> bool {
    if a == b {
        return true;
    }
    if a & TOWN != 0 || b & TOWN != 0 {
        return false;
    }
    let g = Gazetteer::embedded();
    let (a, b) = (a as usize, b as usize);
    g.contains(a, b) || g.contains(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::normalize::fold;

    fn facts(title: &str, body: &str) -> Facts {
        Facts::new(&fold(title), &fold(body), 0)
    }

    fn differ(a: (&str, &str), b: (&str, &str)) -> Option<String> {
        facts(a.0, a.1).differing(&facts(b.0, b.1)).map(|d| d.to_string())
    }

    #[test]
    fn chinese_numerals_read_as_numbers() {
        for (text, n) in [
            ("十一", 11),
            ("二十三", 23),
            ("二〇二三", 2023),
            ("三万", 30_000),
            ("十", 10),
            ("一百零五", 105),
        ] {
            assert_eq!(chinese_number(text), n, "{text}");
        }
    }

    #[test]
    fn another_city_in_the_same_slot_differs() {
        let warning = |city: &str| {
            (
                format!("{city}发布暴雨黄色预警信号"),
                format!(
                    "{city}市气象台5月9日10时发布暴雨黄色预警信号，预计未来6小时内全市将出现50毫米以上降水。"
                ),
            )
        };
        let (a, b) = (warning("广州"), warning("佛山"));
        let d = differ((&a.0, &a.1), (&b.0, &b.1)).expect("differs");
        assert_eq!(d, "place 广州市 vs 佛山市");
        // The same warning in traditional script, with other punctuation: no difference.
        assert_eq!(
            differ(
                (&a.0, &a.1),
                (
                    "廣州發布暴雨黃色預警信號",
                    "廣州市氣象台5月9日10時發布暴雨黃色預警信號，，預計未來6小時內全市將出現50毫米以上降水。"
                )
            ),
            None
        );
    }

    #[test]
    fn another_day_or_figure_in_the_same_slot_differs() {
        assert_eq!(
            differ(("武汉11日无新增确诊病例", ""), ("武汉12日无新增确诊病例", "")).as_deref(),
            Some("figure 11日 vs 12日")
        );
        assert_eq!(
            differ(
                ("", "5月10日0时至24时，全省新增本土确诊病例5例。"),
                ("", "5月10日0时至24时，全省新增本土确诊病例7例。")
            )
            .as_deref(),
            Some("figure 5例 vs 7例")
        );
        assert_eq!(
            differ(("", "十一日全省新增病例三例"), ("", "十二日全省新增病例三例")).as_deref(),
            Some("figure 11日 vs 12日")
        );
    }

    #[test]
    fn another_time_in_the_same_slot_differs() {
        let notice = |hour: u32| format!("深圳市气象台5月11日{hour}时30分发布暴雨橙色预警信号，请注意防范。");
        assert_eq!(
            differ(("", &notice(10)), ("", &notice(16))).as_deref(),
            Some("figure 10时 vs 16时")
        );
    }

    #[test]
    fn a_country_inside_another_name_differs() {
        assert!(
            differ(
                ("荷兰确诊首例新冠肺炎病例", ""),
                ("比利时确诊首例新冠肺炎病例", "")
            )
            .is_some()
        );
    }

    #[test]
    fn towns_and_districts_differ() {
        assert!(differ(("", "雁塔区5月9日停水通知"), ("", "碑林区5月9日停水通知")).is_some());
        assert!(
            differ(
                ("", "番禺区大岗镇5月9日停电检修"),
                ("", "番禺区榄核镇5月9日停电检修")
            )
            .is_some(),
            "towns not in the gazetteer"
        );
    }

    #[test]
    fn genuine_copies_do_not_differ() {
        let full = "广州市气象台5月9日10时发布暴雨黄色预警信号，预计未来6小时内全市将出现50毫米以上降水，请注意防范。";
        // A truncated copy, a copy with a stamp, a province named instead of the city, a list
        // in another order.
        assert_eq!(
            differ(("", full), ("", "广州市气象台5月9日10时发布暴雨黄色预警信号")),
            None
        );
        assert_eq!(
            differ(("", full), ("", &format!("2023-05-09 10:23:45 {full}"))),
            None
        );
        assert_eq!(
            differ(
                (&format!("2023-05-09 11:00 {full}"), ""),
                (&format!("2023-05-09 10:23:45 {full}"), "")
            ),
            None
        );
        assert_eq!(differ(("广州发布暴雨预警", ""), ("广东发布暴雨预警", "")), None);
        assert_eq!(
            differ(
                ("", "截至1月24日24时，甘肃累计确诊4例"),
                ("", "截至1月25日0时，甘肃累计确诊4例")
            ),
            None,
            "midnight written two ways"
        );
        assert_eq!(
            differ(("", "广州、佛山、深圳发布预警"), ("", "广州、深圳、佛山发布预警")),
            None
        );
    }
}
