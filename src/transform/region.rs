//! Regions: which Chinese province / city / county, or which country, a story is about.
//!
//! In: comparison text (simplified, folded, page furniture removed; see
//! [`normalize`](super::normalize)) of each copy of a story, and an optional prior from the
//! source (`[[source]] region`). Out: a list of [`Region`]s, primary first, each with its code
//! (adcode for China, ISO 3166 alpha-2 for countries), name, level and score; empty for a
//! national story.
//!
//! Names come from the gazetteer in `data/regions/` (see its README) and are found with one
//! leftmost-longest Aho-Corasick pass. How news is written decides what a mention is worth:
//! - the title counts three times, the lead twice, the rest once;
//! - a county or city votes for its city and province; a county-level city directly under a
//!   province (济源, 仙桃) is a city, one under a prefecture (林州) a county of that city;
//! - a short county name (`长安`), a name several units share (`鼓楼`, `朝阳`) or a city name
//!   that is an everyday word (`安康`, `白银`, `大同`) counts only when its province or city is
//!   named too; a name shared by a unit and one inside it is the larger unit (`长沙` is
//!   长沙市, `吉林` the province); words that contain a place name but are not places
//!   (`孙中山`, `中山路`, `新华社`, `长安街`) are matched first and ignored; Latin names need
//!   word boundaries; a name that needs context gives way to an official name starting inside
//!   it (`其中西安市` is 西安市, not 中西区; `延长春节` stays no 长春);
//! - a geographic feature is not the place in its name: a name right before a kind of feature
//!   (`四川盆地`, `华北平原`, `长江流域`, `河西走廊`, `红旗渠`) does not count, and region words
//!   that look like a unit's short name (`江南`, `江汉`, `中原`, `三峡`) are ignored;
//! - an event named after its host (`北京冬奥会`, `杭州亚运会`, `成都大运会`) or known without it
//!   (`进博会` → 上海) is evidence for the host only when the text names no Chinese place outside
//!   it: `北京冬奥会张家口赛区` is 张家口;
//! - a dateline (`人民网北京1月6日电`, `BEIJING, Jan 6`) names where the reporter filed, not
//!   what the story is about, and a venue of a national meeting (`在京召开`, `在北京举行`) is not
//!   the story's place;
//! - a story with national markers (`全国`, `国务院`, `中共中央`…) and no province named in its
//!   title or lead is national: no region;
//! - a story whose countries outweigh its provinces is foreign: its countries;
//! - the primary region is the most specific unit that dominates: one city of a province (or a
//!   city clearly ahead of the others) rather than the province, one county of a city likewise;
//!   a city that only a county name supported by its province points to (`浙江…普陀` → 舟山)
//!   is no rival to a city named outright;
//! - a local reference (`我市`, `本市`, `全市`; `我省`, `本省`, `全省`) means the place of that
//!   kind the text names (the one that dominates, a county-level city before its city); when
//!   the text names none, the source's prior if it is of that kind (a district outlet's `我市`
//!   is its city, a city outlet's `我省` its province) and lies in the provinces the text names,
//!   if any; otherwise nothing: a province prior fills in no `我市`;
//! - the source's prior is not a mention: besides filling in local references it only breaks
//!   ties (between same-named places the text supports alike, between provinces or countries of
//!   equal score), so a story a local outlet carries about another city is that city.

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};

use super::normalize::{fold, is_cjk};
pub use crate::model::{Level, Region};

const DIVISIONS: &str = include_str!("../../data/regions/divisions.tsv");
const COUNTRIES: &str = include_str!("../../data/regions/countries.tsv");

/// One unit of the gazetteer.
#[derive(Debug, Clone)]
pub struct Unit {
    /// Adcode or ISO code.
    pub code: String,
    /// Official name.
    pub name: String,
    /// Level.
    pub level: Level,
    /// Index of its province (itself for provinces and countries).
    pub province: usize,
    /// Index of its city (itself for cities; None for provinces, countries and districts of
    /// a municipality, 香港 or 澳门).
    pub city: Option<usize>,
}

/// How a name may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Counts on its own.
    Direct,
    /// Counts only when its province or city is named too.
    Context,
}

#[derive(Debug, Clone)]
enum Target {
    /// Candidate units with how each may be used.
    Units(Vec<(usize, Use)>),
    /// A word that contains a place name but is not a place.
    Blocker,
    /// A word that marks a national story.
    National,
    /// A reference to the text's own place without its name (`我市`, `全省`).
    Local(Local),
    /// An event held in one place without its name (`进博会`): that unit, as an event's host.
    Event(usize),
}

/// Words that, right after a place name, make it part of an event's name (`北京冬奥会`,
/// `杭州亚运会`, `成都大运会`): the host is evidence only when the text names no place outside
/// it, since an event's venues and relay stops lie elsewhere (`北京冬奥会张家口赛区`). Only whole
/// event names: a place before `冬奥村` or `冬奥城市景观` is where that is.
const EVENT_WORDS: &[&str] = &[
    "冬奥会",
    "冬残奥会",
    "奥运会",
    "残奥会",
    "亚运会",
    "亚残运会",
    "大运会",
    "全运会",
    "世博会",
    "博览会",
    "进博会",
];

/// Events known by a name without their host, and the host's code: like a host city in an
/// event's name, evidence only when the text names no place outside the host.
const EVENT_HOSTS: &[(&str, &str)] = &[
    ("进博会", "310000"),
    ("广交会", "440100"),
    ("服贸会", "110000"),
    ("高交会", "440300"),
    ("消博会", "460100"),
    ("东博会", "450100"),
];

fn followed_by_event(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    EVENT_WORDS.iter().any(|w| rest.starts_with(w))
}

/// What a local reference (`我市`, `本省`) refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    /// 我市 / 本市 / 全市: a city (a municipality, a prefecture-level or a county-level city).
    City,
    /// 我省 / 本省 / 全省: a province.
    Province,
}

/// Local references: the place the text is about, named elsewhere in it or (failing that) the
/// source's prior.
const LOCAL_REFERENCES: &[(&str, Local)] = &[
    ("我市", Local::City),
    ("本市", Local::City),
    ("全市", Local::City),
    ("我省", Local::Province),
    ("本省", Local::Province),
    ("全省", Local::Province),
];

/// Words containing a place name that are not places.
const BLOCKERS: &[&str] = &[
    "孙中山",
    "中山大学",
    "中山路",
    "中山公园",
    "中山装",
    "中山陵",
    "中山舰",
    "新华社",
    "新华网",
    "新华视点",
    "新华书店",
    "长安街",
    "长安汽车",
    "长安剑",
    "朝阳产业",
    "朝阳群众",
    "北海公园",
    "江南style",
    "人民大会堂",
    "中华人民共和国",
    "东方明珠",
    "东方卫视",
    "和平发展",
    "和平共处",
    "世界和平",
    "安康码",
    "白银价格",
    "大同小异",
    "长治久安",
    "来宾们",
    "嘉宾",
    "普洱茶",
    "上海合作组织",
    "天津条约",
    "北京时间",
    "钟南山",
    // Regions and features named like a unit but not it: 江南 (not 南宁's 江南区), 江汉 (not
    // 武汉's 江汉区), 中原 (not 郑州's 中原区), 三峡 (not 新北's 三峡区), 鄱阳湖 (not 鄱阳县).
    "江南",
    "江汉",
    "中原",
    "三峡",
    "鄱阳湖",
    // Zones whose names hold a county's short name: 莅临高新区 is no 临高.
    "高新区",
    "开发区",
    // Not local references: 资本市场, 全市场.
    "本市场",
    "全市场",
];

/// Words that mark a national (country-wide) story.
const NATIONAL: &[&str] = &[
    "全国",
    "国务院",
    "中共中央",
    "党中央",
    "中央政治局",
    "全国人大",
    "全国政协",
    "国家卫生健康委",
    "国家卫健委",
    "国家发展改革委",
    "中央军委",
    "我国",
    "各省",
    "31个省",
];

/// City short names that are everyday words, or that other common words contain (`三明治`,
/// `确保山区`, `平安顺利`, `美丽水乡`, `决定西部`): they count only with their province named or
/// before an institution word. A city name that is no such word (金华, 临沂, 乐山) counts on its
/// own like any other. Cities directly under a province are cities here too (新星, 白杨, 白沙).
const EVERYDAY_CITY_NAMES: &[&str] = &[
    "安康", "白银", "大同", "中山", "朝阳", "普洱", "来宾", "长治", "东方", "和田", "黄山", "三明", "海东",
    "海北", "海南", "玉树", "阿里", "白山", "四平", "黑河", "丽水", "保山", "安顺", "定西", "广安", "内江",
    "通化", "新星", "白杨", "白沙", "临高", "定安", "文昌", "双河",
];

/// Full names of districts that are generic words: never counted.
const GENERIC_DISTRICTS: &[&str] = &[
    "城区",
    "郊区",
    "矿区",
    "新区",
    "东区",
    "西区",
    "南区",
    "北区",
    "中区",
    "市中区",
    "市辖区",
    "开发区",
    "高新区",
    "城中区",
    "城东区",
    "城西区",
    "城南区",
    "城北区",
    "城关区",
    "河东区",
    "河西区",
    "江北区",
    "江南区",
    "南山区",
    "北山区",
    "新城区",
    "老城区",
    "市区",
    "县城",
];

/// The gazetteer and its automaton, built once from `data/regions/`.
#[derive(Debug)]
pub struct Gazetteer {
    units: Vec<Unit>,
    by_code: HashMap<String, usize>,
    /// Folded names, short names and lower-case English names → units.
    by_name: HashMap<String, Vec<usize>>,
    targets: Vec<Target>,
    /// Whether a pattern is Latin (needs word boundaries).
    latin: Vec<bool>,
    /// Whether a pattern is a unit's official name (`西安市`, with its suffix).
    official: Vec<bool>,
    automaton: AhoCorasick,
}

static EMBEDDED: LazyLock<Gazetteer> = LazyLock::new(|| Gazetteer::build(DIVISIONS, COUNTRIES));

fn is_municipality(code: &str) -> bool {
    matches!(code, "110000" | "120000" | "310000" | "500000")
}

/// A province-level unit whose districts hang directly off it: the four municipalities, 香港
/// and 澳门. It is its own city.
fn has_districts(code: &str) -> bool {
    is_municipality(code) || matches!(code, "810000" | "820000")
}

/// The adcode of the province-level unit an ISO 3166 alpha-2 code stands for in this gazetteer:
/// `HK` 香港 (810000), `MO` 澳门 (820000), `TW` 台湾 (710000). Other codes are countries.
fn province_of_iso(iso: &str) -> Option<&'static str> {
    match iso {
        "HK" => Some("810000"),
        "MO" => Some("820000"),
        "TW" => Some("710000"),
        _ => None,
    }
}

/// A county-level unit directly under a province (GB/T 2260 `xx90xx`: 济源 419001, 仙桃 429004,
/// Hainan's 4690xx, the Xinjiang corps cities 6590xx, Taiwan's 7190xx) counts as a city.
fn is_city_under_province(code: &str) -> bool {
    code.len() == 6 && &code[2..4] == "90"
}

impl Gazetteer {
    /// The gazetteer shipped in `data/regions/` (built on first use, about 30 ms).
    pub fn embedded() -> &'static Gazetteer {
        &EMBEDDED
    }

    fn build(divisions: &str, countries: &str) -> Gazetteer {
        let mut units: Vec<Unit> = Vec::new();
        let mut by_code: HashMap<String, usize> = HashMap::new();
        let mut names: Vec<(usize, String, String, String)> = Vec::new(); // (unit, name, shorts, english)
        let mut parents: Vec<String> = Vec::new();
        for line in divisions.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 6 {
                continue;
            }
            let level = match f[1] {
                "province" => Level::Province,
                "prefecture" => Level::City,
                _ if is_city_under_province(f[0]) => Level::City,
                _ => Level::County,
            };
            let i = units.len();
            units.push(Unit {
                code: f[0].to_string(),
                name: f[3].to_string(),
                level,
                province: i,
                city: None,
            });
            by_code.insert(f[0].to_string(), i);
            parents.push(f[2].to_string());
            names.push((i, f[3].to_string(), f[4].to_string(), f[5].to_string()));
        }
        // Resolve provinces and cities.
        for i in 0..units.len() {
            let mut province = i;
            let mut city = None;
            let mut cur = i;
            for _ in 0..4 {
                match units[cur].level {
                    Level::Province => {
                        province = cur;
                        break;
                    }
                    Level::City => city = city.or(Some(cur)),
                    Level::County | Level::Country => {}
                }
                match by_code.get(&parents[cur]) {
                    Some(&p) => cur = p,
                    None => break,
                }
            }
            units[i].province = province;
            units[i].city = if units[i].level == Level::City {
                Some(i)
            } else {
                city
            };
        }
        // 香港, 澳门 and 台湾 are province-level units of the divisions, not countries: their
        // ISO codes name those units.
        for iso in ["HK", "MO", "TW"] {
            if let Some(&unit) = province_of_iso(iso).and_then(|adcode| by_code.get(adcode)) {
                by_code.insert(iso.to_string(), unit);
            }
        }
        let mut country_names: Vec<(usize, Vec<String>)> = Vec::new();
        for line in countries.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 5 || matches!(f[0], "CN" | "HK" | "MO" | "TW") || f[0].is_empty() {
                continue;
            }
            let i = units.len();
            units.push(Unit {
                code: f[0].to_string(),
                name: f[3].to_string(),
                level: Level::Country,
                province: i,
                city: None,
            });
            by_code.insert(f[0].to_string(), i);
            let mut all = vec![f[3].to_string(), f[4].to_string()];
            if let Some(aliases) = f.get(5) {
                all.extend(aliases.split('|').filter(|a| !a.is_empty()).map(str::to_string));
            }
            country_names.push((i, all));
        }

        // Patterns: text → candidates.
        let mut pattern_index: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut targets: Vec<Target> = Vec::new();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut add =
            |text: String, target: Target, patterns: &mut Vec<String>, targets: &mut Vec<Target>| {
                if text.chars().count() < 2 {
                    return;
                }
                match pattern_index.get(&text) {
                    Some(&k) => {
                        if let (Target::Units(existing), Target::Units(new)) = (&mut targets[k], target) {
                            for n in new {
                                if !existing.iter().any(|(u, _)| *u == n.0) {
                                    existing.push(n);
                                }
                            }
                        }
                    }
                    None => {
                        pattern_index.insert(text.clone(), patterns.len());
                        patterns.push(text);
                        targets.push(target);
                    }
                }
            };
        for b in BLOCKERS {
            add(fold(b), Target::Blocker, &mut patterns, &mut targets);
        }
        for n in NATIONAL {
            add(fold(n), Target::National, &mut patterns, &mut targets);
        }
        for (word, kind) in LOCAL_REFERENCES {
            add(fold(word), Target::Local(*kind), &mut patterns, &mut targets);
        }
        for (word, code) in EVENT_HOSTS {
            if let Some(&u) = by_code.get(*code) {
                add(fold(word), Target::Event(u), &mut patterns, &mut targets);
            }
        }
        for (i, name, shorts, english) in &names {
            let unit = &units[*i];
            let folded = fold(name);
            by_name.entry(folded.clone()).or_default().push(*i);
            if !GENERIC_DISTRICTS.contains(&name.as_str()) {
                add(
                    folded,
                    Target::Units(vec![(*i, Use::Direct)]),
                    &mut patterns,
                    &mut targets,
                );
            }
            for short in shorts.split('|').filter(|s| !s.is_empty()) {
                let folded = fold(short);
                by_name.entry(folded.clone()).or_default().push(*i);
                let how = match unit.level {
                    Level::Province => Use::Direct,
                    Level::City if EVERYDAY_CITY_NAMES.contains(&short) => Use::Context,
                    Level::City => Use::Direct,
                    Level::County | Level::Country => Use::Context,
                };
                add(
                    folded,
                    Target::Units(vec![(*i, how)]),
                    &mut patterns,
                    &mut targets,
                );
            }
            for en in english.split('|').filter(|s| !s.is_empty()) {
                // `Xi'an` is also written `Xian`.
                for form in [fold(en), fold(&en.replace('\'', ""))] {
                    let list = by_name.entry(form.clone()).or_default();
                    if !list.contains(i) {
                        list.push(*i);
                    }
                    add(
                        form,
                        Target::Units(vec![(*i, Use::Direct)]),
                        &mut patterns,
                        &mut targets,
                    );
                }
            }
        }
        for (i, all) in &country_names {
            for name in all.iter().filter(|n| !n.is_empty()) {
                let folded = fold(name);
                by_name.entry(folded.clone()).or_default().push(*i);
                add(
                    folded,
                    Target::Units(vec![(*i, Use::Direct)]),
                    &mut patterns,
                    &mut targets,
                );
            }
        }
        // A name shared by a unit and one inside it is the larger unit: 吉林 is the province, not
        // 吉林市; 长沙 is 长沙市, not 长沙县 (whose full name still names it).
        for target in &mut targets {
            if let Target::Units(list) = target
                && list.len() > 1
            {
                let all: Vec<usize> = list.iter().map(|(u, _)| *u).collect();
                list.retain(|(u, _)| !all.iter().any(|&o| o != *u && unit_contains(&units, o, *u)));
            }
        }
        let latin = patterns.iter().map(|p| !p.chars().any(is_cjk)).collect();
        let mut official = vec![false; patterns.len()];
        for (_, name, _, _) in &names {
            if let Some(&k) = pattern_index.get(&fold(name)) {
                official[k] = true;
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .unwrap_or_else(|_| AhoCorasick::new(Vec::<String>::new()).expect("an empty automaton builds"));
        Gazetteer {
            units,
            by_code,
            by_name,
            targets,
            latin,
            official,
            automaton,
        }
    }

    /// A unit by its code (adcode or ISO alpha-2).
    pub fn by_code(&self, code: &str) -> Option<usize> {
        self.by_code.get(code).copied()
    }

    /// The region a unit stands for, with a score.
    fn region(&self, i: usize, score: f32) -> Region {
        let u = &self.units[i];
        Region {
            code: u.code.clone(),
            name: u.name.clone(),
            level: u.level,
            score,
        }
    }

    /// A unit by index.
    pub fn unit(&self, i: usize) -> &Unit {
        &self.units[i]
    }

    /// Units a user-written region refers to: an adcode, an ISO code, or a name in either script
    /// (full, short or English: `陕西`, `陝西省`, `610000`, `Shaanxi`).
    pub fn lookup(&self, text: &str) -> Vec<usize> {
        let t = text.trim();
        if let Some(&i) = self
            .by_code
            .get(t)
            .or_else(|| self.by_code.get(&t.to_ascii_uppercase()))
        {
            return vec![i];
        }
        let mut found = self.by_name.get(&fold(t)).cloned().unwrap_or_default();
        // Prefer the highest level: `吉林` is the province before the city.
        if let Some(best) = found.iter().map(|&i| level_rank(self.units[i].level)).min() {
            found.retain(|&i| level_rank(self.units[i].level) == best);
        }
        found
    }

    /// Every place name in a folded text, left to right: `(start, end, unit)` byte spans, the
    /// unit being the highest-level one a name shared by several stands for. Words that contain
    /// a place name but are not places (`孙中山`) and national markers are left out.
    pub fn place_spans(&self, text: &str) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for m in self.automaton.find_iter(text) {
            let p = m.pattern().as_usize();
            if self.latin[p] && !word_bounded(text, m.start(), m.end()) {
                continue;
            }
            if let Target::Units(candidates) = &self.targets[p]
                && let Some(&(unit, _)) = candidates
                    .iter()
                    .min_by_key(|(u, _)| (level_rank(self.units[*u].level), *u))
            {
                out.push((m.start(), m.end(), unit));
            }
        }
        out
    }

    /// Whether unit `inner` lies in (or is) unit `outer`.
    pub fn contains(&self, outer: usize, inner: usize) -> bool {
        unit_contains(&self.units, outer, inner)
    }

    /// The regions of a story, from the comparison text of each of its copies and an optional
    /// prior unit (a local outlet's region). The prior is no mention: it breaks ties (between
    /// same-named places the text supports alike, between equal provinces or countries) and
    /// fills in a local reference (`我市`, `全省`) when the text names no place of that kind.
    pub fn classify<'a>(
        &self,
        copies: impl IntoIterator<Item = (&'a str, &'a str)>,
        prior: Option<usize>,
    ) -> Vec<Region> {
        let mut votes = Votes::default();
        for (title, body) in copies {
            self.collect(title, body, prior, &mut votes);
        }
        // An event's host counts only when no Chinese place outside it is named.
        let events = std::mem::take(&mut votes.events);
        for (u, weight, in_title, in_lead) in events {
            let elsewhere = votes.totals.iter().any(|&(o, _)| {
                self.units[o].level != Level::Country && !self.contains(u, o) && !self.contains(o, u)
            });
            if !elsewhere {
                votes.mention(self, u, weight, in_title, in_lead, true);
            }
        }
        self.resolve_locals(&mut votes, prior);
        self.decide(&votes, prior)
    }

    /// Where a longer word starts inside a name that needs context (`其中西安市`: 西安市 inside
    /// 中西; `莅临高新区`: 高新区 inside 临高), if it is an official name or a word that is no
    /// place: the scan resumes there. A leftmost match would otherwise swallow it. A short
    /// name inside does not win (`延长春节` is no 长春).
    fn gives_way(&self, text: &str, p: usize, start: usize, end: usize) -> Option<usize> {
        let Target::Units(candidates) = &self.targets[p] else {
            return None;
        };
        if self.latin[p] || candidates.iter().any(|(_, how)| *how == Use::Direct) {
            return None;
        }
        let mut inner = start;
        for _ in text[start..end].chars().skip(1) {
            inner += text[inner..].chars().next().map_or(0, char::len_utf8);
            let window = (end + OVERLAP_WINDOW).min(text.len());
            let Some(m) = self.automaton.find(Input::new(text).span(inner..window)) else {
                continue;
            };
            let q = m.pattern().as_usize();
            let stands = match &self.targets[q] {
                Target::Units(_) => self.official[q],
                Target::Blocker => true,
                _ => false,
            };
            if m.start() == inner && m.end() > end && stands {
                return Some(inner);
            }
        }
        None
    }

    fn collect(&self, title: &str, body: &str, prior: Option<usize>, votes: &mut Votes) {
        // Names that need context: (pattern, weight, in the title, in the lead, followed by an
        // institution word).
        let mut pending: Vec<(usize, f32, bool, bool, bool)> = Vec::new();
        let dateline = dateline_end(body);
        for (text, section) in [(title, Section::Title), (body, Section::Body)] {
            let mut at = 0;
            while let Some(m) = self.automaton.find(Input::new(text).span(at..text.len())) {
                let p = m.pattern().as_usize();
                let (start, end) = (m.start(), m.end());
                at = end;
                if self.latin[p] && !word_bounded(text, start, end) {
                    continue;
                }
                if let Some(inner) = self.gives_way(text, p, start, end) {
                    at = inner;
                    continue;
                }
                let weight = match section {
                    Section::Title => TITLE_WEIGHT,
                    Section::Body if start < LEAD_BYTES => LEAD_WEIGHT,
                    Section::Body => BODY_WEIGHT,
                };
                match &self.targets[p] {
                    Target::Blocker => {}
                    Target::National => {
                        if section == Section::Title || start < LEAD_BYTES {
                            votes.national += weight;
                            votes.national_title |= section == Section::Title;
                        }
                    }
                    Target::Event(u) => {
                        if section == Section::Body && end <= dateline {
                            continue;
                        }
                        let in_title = section == Section::Title;
                        let in_lead = section == Section::Body && start < LEAD_BYTES;
                        votes.events.push((*u, weight, in_title, in_lead));
                    }
                    Target::Local(kind) => {
                        if section == Section::Body && end <= dateline {
                            continue;
                        }
                        let in_title = section == Section::Title;
                        let in_lead = section == Section::Body && start < LEAD_BYTES;
                        votes.locals.push((*kind, weight, in_title, in_lead));
                    }
                    Target::Units(candidates) => {
                        if section == Section::Body && end <= dateline {
                            continue;
                        }
                        if !self.latin[p] && followed_by_feature(text, end) {
                            continue;
                        }
                        if !self.latin[p] && followed_by_event(text, end) {
                            // The host in an event's name: kept aside (a name that needs context
                            // is not one).
                            if let [(u, Use::Direct)] = candidates.as_slice() {
                                let in_title = section == Section::Title;
                                let in_lead = section == Section::Body && start < LEAD_BYTES;
                                votes.events.push((*u, weight, in_title, in_lead));
                            }
                            continue;
                        }
                        if text[..start].ends_with("全国") {
                            // `全国台湾同胞代表会议`: part of a national body's name.
                            votes.national += weight;
                            continue;
                        }
                        let venue = is_venue(text, start, end);
                        let weight = if venue { weight * VENUE_FACTOR } else { weight };
                        let in_title = section == Section::Title && !venue;
                        let in_lead = section == Section::Body && start < LEAD_BYTES && !venue;
                        let institution = followed_by_institution(text, end);
                        match candidates.as_slice() {
                            [(u, Use::Direct)] => votes.mention(self, *u, weight, in_title, in_lead, true),
                            [(u, Use::Context)] if institution => {
                                votes.mention(self, *u, weight, in_title, in_lead, true)
                            }
                            _ => pending.push((p, weight, in_title, in_lead, institution)),
                        }
                    }
                }
            }
        }
        // Names that need context: keep the candidates whose province or city is named.
        for (p, weight, in_title, in_lead, institution) in pending {
            let Target::Units(candidates) = &self.targets[p] else {
                continue;
            };
            // Named in the text, or as an event's host (`北京冬奥会延庆赛区`, `…延庆冬奥村`).
            let named = |u: usize| votes.total(u) > 0.0 || votes.events.iter().any(|e| e.0 == u);
            let by_city = |u: usize| self.units[u].city.is_some_and(|c| c != u && named(c));
            // Its city has evidence of its own (not just this name's earlier weak mentions).
            let city_named = |u: usize| {
                self.units[u]
                    .city
                    .is_some_and(|c| c != u && votes.strong_cities.contains(&c))
            };
            let by_province = |u: usize| {
                let province = self.units[u].province;
                province != u && named(province)
            };
            let in_prior = |u: usize| prior.is_some_and(|p| self.contains(p, u));
            let supported: Vec<usize> = candidates
                .iter()
                .map(|(u, _)| *u)
                .filter(|&u| by_city(u) || by_province(u))
                .collect();
            let chosen = match supported.as_slice() {
                [one] => Some(*one),
                [] => {
                    // A province and a unit elsewhere sharing a name (`河南`): the province. A name
                    // before an institution word (`武昌医院`) stands on its own.
                    let direct: Vec<usize> = candidates
                        .iter()
                        .filter(|(_, how)| *how == Use::Direct || institution)
                        .map(|(u, _)| *u)
                        .collect();
                    match direct.as_slice() {
                        [one] => Some(*one),
                        _ => candidates
                            .iter()
                            .map(|(u, _)| *u)
                            .find(|&u| self.units[u].level == Level::Province)
                            .or_else(|| {
                                let mut inside = direct.iter().copied().filter(|&u| in_prior(u));
                                inside.next().filter(|_| inside.next().is_none())
                            }),
                    }
                }
                // Several: the one whose city is named, then the one whose province has more,
                // then the one in the prior.
                many => many.iter().copied().max_by(|&a, &b| {
                    city_named(a)
                        .cmp(&city_named(b))
                        .then(
                            votes
                                .total(self.units[a].province)
                                .total_cmp(&votes.total(self.units[b].province)),
                        )
                        .then(in_prior(a).cmp(&in_prior(b)))
                }),
            };
            if let Some(u) = chosen {
                // A county name only its province supports is weak evidence for its city.
                let unit = &self.units[u];
                let strong =
                    unit.level != Level::County || unit.city.is_none() || institution || city_named(u);
                votes.mention(self, u, weight, in_title, in_lead, strong);
            }
        }
    }

    /// Local references vote for the place of their kind that the text names (the one that
    /// dominates the others); when the text names none, for the prior if it is of that kind
    /// (for `我省`, the prior's province) and lies in a province the text names, if any; else
    /// they count for nothing.
    fn resolve_locals(&self, votes: &mut Votes, prior: Option<usize>) {
        if votes.locals.is_empty() {
            return;
        }
        let city = self.local_place(votes, prior, Local::City);
        let province = self.local_place(votes, prior, Local::Province);
        for (kind, weight, in_title, in_lead) in std::mem::take(&mut votes.locals) {
            let target = match kind {
                Local::City => city,
                Local::Province => province,
            };
            if let Some(u) = target {
                votes.mention(self, u, weight, in_title, in_lead, true);
            }
        }
    }

    /// Whether a unit is a place a local reference of that kind can mean.
    fn is_local(&self, u: usize, kind: Local) -> bool {
        let unit = &self.units[u];
        match kind {
            Local::City => {
                unit.level == Level::City
                    || (unit.level == Level::Province && is_municipality(&unit.code))
                    || (unit.level == Level::County && unit.name.ends_with('市'))
            }
            Local::Province => unit.level == Level::Province,
        }
    }

    fn local_place(&self, votes: &Votes, prior: Option<usize>, kind: Local) -> Option<usize> {
        // Named places of that kind, most specific first among equals (a county-level city's
        // votes also go to its city).
        let mut named: Vec<(usize, f32)> = votes
            .totals
            .iter()
            .filter(|(u, s)| *s > 0.0 && self.is_local(*u, kind))
            .map(|(u, s)| (*u, *s))
            .collect();
        if !named.is_empty() {
            named.sort_by(|a, b| {
                b.1.total_cmp(&a.1)
                    .then(level_rank(self.units[b.0].level).cmp(&level_rank(self.units[a.0].level)))
            });
            // A county-level city as strong as its city is the more specific place.
            let rivals = |u: usize| {
                named
                    .iter()
                    .filter(move |(o, _)| *o != u && !self.contains(*o, u) && !self.contains(u, *o))
            };
            let (top, score) = named[0];
            if rivals(top).all(|(_, s)| score >= s * DOMINANCE) {
                return Some(top);
            }
            // Several as strong: the prior's, if it is one of them.
            return prior.and_then(|p| {
                named
                    .iter()
                    .find(|(u, s)| *s >= score && self.contains(*u, p) && self.is_local(*u, kind))
                    .map(|(u, _)| *u)
            });
        }
        let p = prior?;
        let unit = &self.units[p];
        if unit.level == Level::Country {
            return None;
        }
        let named_provinces: Vec<usize> = votes
            .totals
            .iter()
            .filter(|(u, s)| *s > 0.0 && self.units[*u].level == Level::Province)
            .map(|(u, _)| *u)
            .collect();
        if !named_provinces.is_empty() && !named_provinces.contains(&unit.province) {
            return None;
        }
        match kind {
            Local::Province => Some(unit.province),
            Local::City if self.is_local(p, kind) => Some(p),
            // A district outlet's 我市 is its city.
            Local::City => unit
                .city
                .or(Some(unit.province).filter(|&q| is_municipality(&self.units[q].code)))
                .filter(|_| unit.level == Level::County),
        }
    }

    fn decide(&self, votes: &Votes, prior: Option<usize>) -> Vec<Region> {
        let region = |i: usize, score: f32| self.region(i, score);
        let mut provinces: Vec<(usize, f32)> = votes
            .totals
            .iter()
            .filter(|(u, _)| self.units[*u].level == Level::Province)
            .map(|(u, s)| (*u, *s))
            .collect();
        // Equal scores: the prior's first.
        let prior_first = |a: usize, b: usize| {
            let is = |u: usize| prior.is_some_and(|p| self.contains(u, p));
            is(b).cmp(&is(a)).then(a.cmp(&b))
        };
        provinces.sort_by(|a, b| b.1.total_cmp(&a.1).then(prior_first(a.0, b.0)));
        let mut countries: Vec<(usize, f32)> = votes
            .totals
            .iter()
            .filter(|(u, _)| self.units[*u].level == Level::Country)
            .map(|(u, s)| (*u, *s))
            .collect();
        countries.sort_by(|a, b| b.1.total_cmp(&a.1).then(prior_first(a.0, b.0)));
        let top_province = provinces.first().map_or(0.0, |p| p.1);
        let top_country = countries.first().map_or(0.0, |c| c.1);
        // A Chinese place in the title makes a Chinese story, whatever countries it deals with.
        if top_country > top_province && votes.title_provinces.is_empty() {
            return countries
                .iter()
                .filter(|(_, s)| *s >= top_country * SECONDARY_SHARE)
                .take(MAX_REGIONS)
                .map(|&(u, s)| region(u, s))
                .collect();
        }
        let Some(&(top, top_score)) = provinces.first() else {
            return Vec::new();
        };
        let in_title = votes.title_provinces.contains(&top);
        let up_front = in_title || votes.lead_provinces.contains(&top);
        // A national marker in the title with no province there, or in the lead with no
        // province up front: a national story.
        if (votes.national_title && votes.title_provinces.is_empty()) || (votes.national > 0.0 && !up_front) {
            return Vec::new();
        }
        // One passing mention deep in the text is not what a story is about.
        if !up_front && top_score < MIN_BODY_EVIDENCE {
            return Vec::new();
        }
        let mut out = vec![self.primary(votes, top, top_score)];
        for &(p, s) in provinces.iter().skip(1) {
            if s >= top_score * SECONDARY_SHARE && out.len() < MAX_REGIONS {
                out.push(region(p, s));
            }
        }
        out
    }

    /// The most specific unit that dominates within a province.
    fn primary(&self, votes: &Votes, province: usize, score: f32) -> Region {
        let region = |i: usize, score: f32| self.region(i, score);
        let municipality = has_districts(&self.units[province].code);
        // Cities of the province (a municipality is its own city).
        let mut cities: Vec<(usize, f32)> = votes
            .totals
            .iter()
            .filter(|(u, _)| {
                let unit = &self.units[*u];
                unit.province == province
                    && *u != province
                    && (unit.level == Level::City
                        || (unit.level == Level::County && unit.city.is_none() && !municipality))
            })
            .map(|(u, s)| (*u, *s))
            .collect();
        // Cities named outright outrank cities only a weak county name points to.
        if cities.iter().any(|(c, _)| votes.strong_cities.contains(c)) {
            cities.retain(|(c, _)| votes.strong_cities.contains(c));
        }
        cities.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (city, city_score) = if municipality {
            (province, score)
        } else {
            match cities.as_slice() {
                [] => return region(province, score),
                [(c, s)] => (*c, *s),
                [(c, s), (_, s2), ..] if *s >= *s2 * DOMINANCE => (*c, *s),
                _ => return region(province, score),
            }
        };
        // Counties of that city.
        let mut counties: Vec<(usize, f32)> = votes
            .totals
            .iter()
            .filter(|(u, _)| {
                let unit = &self.units[*u];
                unit.level == Level::County
                    && *u != city
                    && if municipality {
                        unit.province == province
                    } else {
                        unit.city == Some(city)
                    }
            })
            .map(|(u, s)| (*u, *s))
            .collect();
        counties.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        match counties.as_slice() {
            [(c, s)] if *s >= city_score * COUNTY_SHARE => region(*c, *s),
            [(c, s), (_, s2), ..] if *s >= city_score * COUNTY_SHARE && *s >= *s2 * DOMINANCE => {
                region(*c, *s)
            }
            _ => region(city, city_score),
        }
    }
}

/// Whether unit `inner` lies in (or is) unit `outer`.
fn unit_contains(units: &[Unit], outer: usize, inner: usize) -> bool {
    let u = &units[inner];
    outer == inner
        || (units[outer].level == Level::Province && u.province == outer)
        || (units[outer].level == Level::City && u.city == Some(outer))
}

fn level_rank(level: Level) -> u8 {
    match level {
        Level::Province => 0,
        Level::City => 1,
        Level::County => 2,
        Level::Country => 3,
    }
}

/// Weight of a mention in the title.
const TITLE_WEIGHT: f32 = 3.0;
/// Weight of a mention in the lead.
const LEAD_WEIGHT: f32 = 2.0;
/// Weight of a mention further on.
const BODY_WEIGHT: f32 = 1.0;
/// A venue of a meeting counts this much of a mention.
const VENUE_FACTOR: f32 = 0.25;
/// Bytes of comparison text that make the lead (about 50 CJK characters).
const LEAD_BYTES: usize = 150;
/// A second province (or country) is listed when it has this share of the first's score.
const SECONDARY_SHARE: f32 = 0.5;
/// A city (or county) is primary over the others when its score is this many times theirs.
const DOMINANCE: f32 = 2.5;
/// A county is primary when it carries this share of its city's score.
const COUNTY_SHARE: f32 = 0.5;
/// Evidence a region needs when it is named neither in a title nor in a lead.
const MIN_BODY_EVIDENCE: f32 = 2.0;
/// Bytes past a name's end searched for a longer word starting inside it.
const OVERLAP_WINDOW: usize = 48;
/// Regions listed at most.
const MAX_REGIONS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Title,
    Body,
}

/// Scores per unit (own mentions plus those of the units inside it).
#[derive(Debug, Default)]
struct Votes {
    totals: Vec<(usize, f32)>,
    /// Weight of national markers in titles and leads.
    national: f32,
    /// Whether a national marker is in a title.
    national_title: bool,
    /// Provinces named in a title.
    title_provinces: Vec<usize>,
    /// Provinces named in a lead.
    lead_provinces: Vec<usize>,
    /// Cities with evidence of their own: named, or a county of theirs named with its city, on
    /// its own or before an institution word. A county name that only its province supports
    /// (`浙江…普陀`) is weak: it does not make its city a rival of a city named outright.
    strong_cities: Vec<usize>,
    /// Event hosts (`北京冬奥会`, `进博会`): unit, weight, in a title, in a lead.
    events: Vec<(usize, f32, bool, bool)>,
    /// Local references (`我市`): kind, weight, in a title, in a lead.
    locals: Vec<(Local, f32, bool, bool)>,
}

impl Votes {
    fn total(&self, unit: usize) -> f32 {
        self.totals
            .iter()
            .find(|(u, _)| *u == unit)
            .map_or(0.0, |(_, s)| *s)
    }

    fn bump(&mut self, unit: usize, weight: f32) {
        match self.totals.iter_mut().find(|(u, _)| *u == unit) {
            Some((_, s)) => *s += weight,
            None => self.totals.push((unit, weight)),
        }
    }

    /// A mention in a title or lead also records the province as named up front; a `strong`
    /// one records its city as having evidence of its own.
    fn mention(
        &mut self,
        gazetteer: &Gazetteer,
        unit: usize,
        weight: f32,
        in_title: bool,
        in_lead: bool,
        strong: bool,
    ) {
        self.add(gazetteer, unit, weight);
        if gazetteer.units[unit].level == Level::Country {
            return;
        }
        if strong
            && let Some(city) = gazetteer.units[unit].city
            && !self.strong_cities.contains(&city)
        {
            self.strong_cities.push(city);
        }
        let province = gazetteer.units[unit].province;
        if in_title {
            self.title_provinces.push(province);
        }
        if in_lead {
            self.lead_provinces.push(province);
        }
    }

    /// A mention of `unit` votes for it, its city and its province.
    fn add(&mut self, gazetteer: &Gazetteer, unit: usize, weight: f32) {
        let u = &gazetteer.units[unit];
        self.bump(unit, weight);
        if let Some(c) = u.city.filter(|&c| c != unit) {
            self.bump(c, weight);
        }
        if u.province != unit {
            self.bump(u.province, weight);
        }
    }
}

fn word_bounded(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    before.is_none_or(|c| !c.is_alphanumeric() || is_cjk(c))
        && after.is_none_or(|c| !c.is_alphanumeric() || is_cjk(c))
}

/// Words that, right after a short place name, make it a place reference on its own:
/// `武昌医院`, `济源示范区`, `延庆赛区`.
const INSTITUTIONS: &[&str] = &[
    "医院",
    "大学",
    "学院",
    "中学",
    "小学",
    "机场",
    "车站",
    "火车站",
    "高铁站",
    "景区",
    "公园",
    "广场",
    "法院",
    "检察院",
    "公安",
    "政府",
    "街道",
    "镇",
    "乡",
    "村",
    "赛区",
    "气象台",
    "气象局",
    "卫健委",
    "疾控",
    "示范区",
    "开发区",
    "新区",
    "港",
    "站",
];

/// Kinds of geographic feature: a place name right before one is part of the feature's name
/// (`四川盆地`, `华北平原`, `长江流域`, `河西走廊`, `红旗渠`), which spans other places or lies in
/// another one, and is not evidence for the place.
const FEATURES: &[&str] = &[
    "盆地", "平原", "高原", "流域", "丘陵", "山脉", "走廊", "水系", "渠",
];

fn followed_by_feature(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    FEATURES.iter().any(|w| rest.starts_with(w)) && !rest.starts_with("渠道")
}

fn followed_by_institution(text: &str, end: usize) -> bool {
    let rest = &text[end..];
    INSTITUTIONS.iter().any(|w| rest.starts_with(w))
}

/// `在北京举行`, `在京召开`: the place is a meeting's venue.
fn is_venue(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after: String = text[end..].chars().take(2).collect();
    before == Some('在') && ["举行", "召开", "闭幕", "开幕", "落幕", "举办"].contains(&after.as_str())
}

/// Where a dateline at the start of a body ends (0 when there is none): `人民网北京1月6日电`,
/// `新华社上海1月6日电`, `beijing jan 6` (English: a place then a month and a day).
pub(crate) fn dateline_end(body: &str) -> usize {
    let head: String = body.chars().take(30).collect();
    if let Some(at) = head.find("日电") {
        return at + "日电".len();
    }
    let words: Vec<&str> = body.splitn(6, ' ').collect();
    const MONTHS: &[&str] = &[
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    for k in 1..words.len().min(4) {
        if MONTHS.contains(&words[k])
            && words
                .get(k + 1)
                .is_some_and(|d| d.len() <= 2 && d.bytes().all(|b| b.is_ascii_digit()))
        {
            return words[..k]
                .iter()
                .map(|w| w.len() + 1)
                .sum::<usize>()
                .saturating_sub(1);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::normalize::{Furniture, comparison};

    fn regions(title: &str, html: &str) -> Vec<Region> {
        let c = comparison(Some(title), Some(html), &Furniture::default());
        Gazetteer::embedded().classify([(c.title.as_str(), c.body.as_str())], None)
    }

    fn primary(title: &str, html: &str) -> Option<(String, Level)> {
        regions(title, html).first().map(|r| (r.name.clone(), r.level))
    }

    /// The primary region's name for a story from a source whose `[[source]] region` is `prior`.
    fn primary_with(title: &str, html: &str, prior: Option<&str>) -> Option<String> {
        let g = Gazetteer::embedded();
        let c = comparison(Some(title), Some(html), &Furniture::default());
        let prior = prior.map(|p| g.lookup(p)[0]);
        g.classify([(c.title.as_str(), c.body.as_str())], prior)
            .first()
            .map(|r| r.name.clone())
    }

    #[test]
    fn shaanxi_is_not_shanxi() {
        let r = primary(
            "Shaanxi holds epidemic meeting",
            "<p>Officials in Shaanxi province said on Monday that quarantine sites would be inspected.</p>",
        );
        assert_eq!(r.map(|r| r.0).as_deref(), Some("陕西省"));
        let r = primary(
            "Shanxi coal output rises",
            "<p>Coal mines in Shanxi province raised output in December.</p>",
        );
        assert_eq!(r.map(|r| r.0).as_deref(), Some("山西省"));
    }

    #[test]
    fn changchun_inside_a_longer_word_is_not_a_place() {
        assert_eq!(
            primary("延长春节假期", "<p>多家企业宣布延长春节假期，员工居家办公。</p>"),
            None
        );
        assert_eq!(
            primary("孙中山诞辰纪念", "<p>纪念孙中山先生诞辰，各界人士参加。</p>"),
            None
        );
        assert_eq!(
            primary("长春发布通告", "<p>长春市疫情防控指挥部发布通告。</p>")
                .map(|r| r.0)
                .as_deref(),
            Some("长春市")
        );
    }

    #[test]
    fn a_sidebar_is_not_the_story() {
        // Seed 001: a Shaanxi story whose page ends in a sidebar naming 河南, 深圳, 上海.
        let html = "<p>1月6日，疫情防控工作视频会议在西安市疫情防控指挥部召开。陕西省委书记主持会议并讲话。</p><p>陕西省长讲话，西安市委书记出席。</p>\
            <p>世卫：北京冬奥防控措施严格有力</p><p>2022-01-07 09:34 北京冬奥会 -</p><p>河南新增56例本土确诊</p><p>2022-01-07 09:02 新冠肺炎抗疫战 -</p>\
            <p>深圳发现2例新冠阳性感染者</p><p>2022-01-07 08:27 新冠肺炎抗疫战 -</p><p>上海昨日新增本土无症状感染者3例</p>";
        let r = regions("陕西省委书记：各级干部要在政治上格外清醒", html);
        assert_eq!(r[0].name, "西安市", "{r:?}");
        assert!(
            r.iter()
                .all(|x| !["河南省", "上海市", "广东省"].contains(&x.name.as_str())),
            "{r:?}"
        );
    }

    #[test]
    fn a_footer_of_another_province_is_not_the_story() {
        // Seed 002: about 西宁, 青海; its copyright footer names 黔东南 (Guizhou).
        let html = "<p>11月2日，据青海省西宁市城西区纪委监委消息，为进一步严明疫情防控工作纪律，现将2起问题通报如下。</p>\
            <p>西宁市新增3名新冠肺炎病毒核酸检测阳性人员。</p>\
            <p>凡本网注明“来源：黔东南信息港”的所有作品，均为黔东南信息港合法拥有版权或有权使用的作品，未经本网授权不得转载。</p>";
        let r = regions("西宁通报2起疫情防控履职不力问题", html);
        assert_eq!(r[0].name, "西宁市", "{r:?}");
        assert!(r.iter().all(|x| x.name != "贵州省"), "{r:?}");
    }

    #[test]
    fn a_dateline_is_not_the_place() {
        let r = regions(
            "北京冬奥会延庆赛区举行消防安保演练",
            "<p>人民网上海1月13日电 今天，北京冬奥会延庆赛区进行了消防安保演练。</p>",
        );
        assert_eq!(r[0].name, "延庆区", "{r:?}");
        assert!(r.iter().all(|x| x.name != "上海市"), "{r:?}");
        let r = regions(
            "Flood defences tested",
            "<p>SHANGHAI, Jan 6 (Xinhua) -- Emergency crews in Guangdong province tested flood defences on Thursday.</p>",
        );
        assert_eq!(r[0].name, "广东省", "{r:?}");
    }

    #[test]
    fn a_national_meeting_in_beijing_is_national() {
        assert!(
            regions(
                "全国政协主席会议在京召开",
                "<p>全国政协主席会议在北京举行，会议审议了有关文件。</p>"
            )
            .is_empty()
        );
    }

    #[test]
    fn a_foreign_story_names_its_country() {
        let r = regions(
            "日本新冠肺炎感染者945人",
            "<p>截至当地时间29日下午，日本新冠肺炎感染者共计945人，其中包括中国游客等226人。</p>",
        );
        assert_eq!(r[0].code, "JP", "{r:?}");
        assert_eq!(r[0].level, Level::Country);
    }

    #[test]
    fn a_multi_province_roundup_lists_each_province() {
        let r = regions(
            "多地发布疫情防控最新措施",
            "<p>河南郑州、天津、上海、陕西西安等地发布疫情防控最新措施。河南要求各地加强排查，天津开展全员核酸检测，上海加强入境人员管理，陕西继续严格社区管控。</p>",
        );
        let g = Gazetteer::embedded();
        let provinces: Vec<&str> = r
            .iter()
            .filter_map(|x| g.by_code(&x.code))
            .map(|u| g.unit(g.unit(u).province).name.as_str())
            .collect();
        for p in ["河南省", "天津市", "上海市", "陕西省"] {
            assert!(provinces.contains(&p), "{p} missing from {r:?}");
        }
        assert_eq!(r.len(), 4, "{r:?}");
    }

    #[test]
    fn county_names_count_with_their_city_and_the_company_footer_does_not_lead() {
        // Seed 004: a Xi'an meeting; its footer is a company address in 榆林 (removed as an address line).
        let html = "<p>省委书记10日晚出席西安市疫情防控调度会。他强调，要坚决贯彻各项部署。</p><p>省长讲话，西安市委书记主持，西安市市长参加。</p>\
            <p>地址：陕西省榆林市绥德县天宁路</p>";
        let r = regions("刘国中在西安市疫情防控调度会上强调", html);
        assert_eq!(r[0].name, "西安市", "{r:?}");
        // A short county name alone is not enough; with its city it is.
        assert_eq!(primary("长安举办灯会", "<p>长安举办灯会，游客众多。</p>"), None);
        assert_eq!(
            primary("西安长安区举办灯会", "<p>西安市长安区举办灯会。</p>")
                .map(|r| r.0)
                .as_deref(),
            Some("长安区")
        );
    }

    #[test]
    fn a_place_inside_a_national_body_s_name_is_national() {
        assert!(
            regions(
                "第十一次全国台湾同胞代表会议在京闭幕",
                "<p>第十一次全国台湾同胞代表会议在北京闭幕。</p>"
            )
            .is_empty()
        );
    }

    #[test]
    fn a_national_title_is_national_even_when_the_lead_names_a_province() {
        let html = "<p>国家卫健委通报，2月12日全国新增确诊病例3399例，其中湖北新增确诊病例3260例。</p>";
        assert!(regions("全国累计确诊新冠肺炎31774例", html).is_empty());
    }

    #[test]
    fn a_chinese_place_in_the_title_beats_a_foreign_partner() {
        let html = "<p>我国出口巴基斯坦的铁路宽轨客车在天津港装船启运，这批客车将交付巴基斯坦铁路公司。巴基斯坦方面表示感谢。</p>";
        assert_eq!(
            regions("我国出口巴基斯坦铁路宽轨客车在天津港启运", html)[0].name,
            "天津市"
        );
    }

    #[test]
    fn a_short_name_before_an_institution_word_counts() {
        let r = regions(
            "武昌医院两名重症患者出院",
            "<p>武昌医院重症医学科两名患者康复出院。</p>",
        );
        assert_eq!(r[0].name, "武昌区", "{r:?}");
    }

    #[test]
    fn a_county_level_city_under_its_province_counts_alone() {
        let r = regions(
            "济源示范区王屋山景区调整开放时间",
            "<p>济源示范区王屋山景区自即日起调整冬季开放时间。</p>",
        );
        assert_eq!(r[0].name, "济源市", "{r:?}");
    }

    #[test]
    fn one_passing_mention_deep_in_the_text_is_not_the_place() {
        let html = "<p>中国疾控中心专家表示，新型冠状病毒与SARS冠状病毒同属一个大家族，但并非其进化版本，两者的基因序列差异明显，相关研究仍在进行中。研究人员比较了多个样本，其中包括在舟山采集的蝙蝠样本。</p>";
        assert!(regions("新型肺炎不是SARS进化版", html).is_empty());
    }

    #[test]
    fn traditional_text_matches() {
        let r = regions(
            "陝西省衛健委通報",
            "<p>陝西省衛健委通報，西安市新增確診病例。</p>",
        );
        assert_eq!(r[0].name, "西安市", "{r:?}");
    }

    #[test]
    fn a_name_shared_by_a_unit_and_one_inside_it_is_the_larger_unit() {
        // 长沙 is 长沙市 and 长沙县 (inside it); 吉林 is the province and 吉林市 (inside it).
        let r = regions(
            "2022世界计算大会在湖南长沙开幕",
            "<p>2022世界计算大会在湖南长沙开幕。</p>",
        );
        assert_eq!((r[0].name.as_str(), r[0].level), ("长沙市", Level::City), "{r:?}");
        let r = regions(
            "吉林启动一级应急响应",
            "<p>吉林省决定启动一级应急响应，吉林各地加强排查。</p>",
        );
        assert_eq!(r[0].name, "吉林省", "{r:?}");
    }

    #[test]
    fn a_county_name_only_its_province_supports_does_not_split_a_city() {
        // 普陀 is a district of 舟山 (and of 上海): named with 浙江 only, it must not make 舟山 a
        // second city of a 宁波 story.
        let r = regions(
            "宁波新增1例本土确诊病例",
            "<p>浙江省卫健委通报，宁波市新增1例本土确诊病例，该病例近日曾到访普陀。</p>\
             <p>流调显示，病例在普陀停留约两小时，普陀相关场所已完成消杀。</p>",
        );
        assert_eq!(r[0].name, "宁波市", "{r:?}");
    }

    #[test]
    fn a_name_that_needs_context_gives_way_to_a_longer_one_inside_it() {
        // 其中西安市: 西安市, not 香港's 中西区 (which swallowed 西安 and left 咸阳 the only city).
        let r = regions(
            "陕西省新增本土确诊病例5例",
            "<p>1月5日0-24时，全省新增本土确诊病例5例，其中西安市3例、咸阳市2例。</p>",
        );
        assert_eq!(r[0].name, "陕西省", "{r:?}");
        // 莅临高新区: a zone, not 临高.
        assert_eq!(
            primary("领导莅临高新区调研", "<p>领导莅临高新区调研指导工作。</p>"),
            None
        );
    }

    #[test]
    fn a_city_name_that_is_no_everyday_word_counts_on_its_own() {
        for (title, city) in [
            ("金华发布暴雨橙色预警", "金华市"),
            ("临沂新增2例无症状感染者", "临沂市"),
            ("乐山大佛景区恢复开放", "乐山市"),
            ("宁德气象台发布台风预警", "宁德市"),
        ] {
            assert_eq!(primary_with(title, "", None).as_deref(), Some(city), "{title}");
        }
        // Everyday words and words that contain one still need context.
        assert_eq!(
            primary("确保山区群众温暖过冬", "<p>各地确保山区群众温暖过冬。</p>"),
            None
        );
        assert_eq!(primary("祝大家平安顺利", "<p>祝大家新春平安顺利。</p>"), None);
    }

    #[test]
    fn a_local_reference_is_the_named_city_then_the_prior() {
        let html = "<p>我市新增1例确诊病例，全市各区加强排查。</p>";
        // Nothing named: the prior fills in when it is a city.
        assert_eq!(
            primary_with("我市新增1例确诊病例", html, Some("广州")).as_deref(),
            Some("广州市")
        );
        // A province is no city: nothing.
        assert_eq!(primary_with("我市新增1例确诊病例", html, None), None);
        assert_eq!(primary_with("我市新增1例确诊病例", html, Some("广东")), None);
        // The text names its city: that city, not the prior.
        let html = "<p>佛山市卫健局通报，我市新增1例确诊病例。</p>";
        assert_eq!(
            primary_with("我市新增1例确诊病例", html, Some("广州")).as_deref(),
            Some("佛山市")
        );
        // 我省 is the province of a city prior.
        assert_eq!(
            primary_with(
                "我省新增1例确诊病例",
                "<p>我省新增1例确诊病例。</p>",
                Some("广州")
            )
            .as_deref(),
            Some("广东省")
        );
        // 资本市场 and 全市场 are markets.
        assert_eq!(
            primary_with("资本市场平稳运行", "<p>全市场成交额超万亿元。</p>", Some("广州")),
            None
        );
    }

    #[test]
    fn a_source_prior_only_breaks_ties() {
        // A 广州 outlet's copy of a 佛山 notice: 佛山, not 广东.
        for (title, city) in [
            ("佛山市气象台发布暴雨黄色预警信号", "佛山市"),
            ("深圳市气象台发布暴雨黄色预警信号", "深圳市"),
            ("广州市气象台发布暴雨黄色预警信号", "广州市"),
        ] {
            assert_eq!(
                primary_with(title, "", Some("广州")).as_deref(),
                Some(city),
                "{title}"
            );
            assert_eq!(
                primary_with(title, "", Some("广东")).as_deref(),
                Some(city),
                "{title}"
            );
        }
        // A province the text names is not made a city by the prior.
        assert_eq!(
            primary_with(
                "广东发布暴雨预警",
                "<p>广东省气象台发布暴雨预警。</p>",
                Some("广州")
            )
            .as_deref(),
            Some("广东省")
        );
        // Two provinces as strong as each other: the prior's first, the other still listed.
        let g = Gazetteer::embedded();
        let c = comparison(
            Some("川渝联合开展防汛演练"),
            Some("<p>重庆、四川联合开展防汛演练。</p>"),
            &Furniture::default(),
        );
        let r = g.classify([(c.title.as_str(), c.body.as_str())], Some(g.lookup("成都")[0]));
        assert_eq!(r[0].name, "四川省", "{r:?}");
        assert_eq!(r[1].name, "重庆市", "{r:?}");
    }

    #[test]
    fn templated_notices_take_their_own_place() {
        // One template, one place changed: each copy is its own place, whatever the outlet's
        // prior, in full text and as a title-only flash item.
        let warning = |city: &str| {
            format!(
                "<p>{city}市气象台2022年6月13日10时发布暴雨黄色预警信号：预计未来6小时将出现50毫米以上降水，请注意防范。</p>"
            )
        };
        for city in ["广州", "佛山", "深圳"] {
            let title = format!("{city}发布暴雨黄色预警信号");
            let want = format!("{city}市");
            for html in [warning(city), String::new()] {
                let got = primary_with(&title, &html, Some("广州"));
                assert_eq!(got.as_deref(), Some(want.as_str()), "{title} / {html}");
            }
        }
        let notice = |district: &str| {
            format!("<p>因供水管网维修，{district}部分区域将于1月8日停水12小时，请居民提前储水。</p>")
        };
        for district in ["雁塔区", "碑林区", "未央区"] {
            let title = format!("西安市{district}部分区域停水通知");
            for prior in ["西安", "雁塔"] {
                for html in [notice(district), String::new()] {
                    let got = primary_with(&title, &html, Some(prior));
                    assert_eq!(got.as_deref(), Some(district), "{title} / {prior} / {html}");
                }
            }
        }
    }

    #[test]
    fn a_geographic_feature_is_not_the_place_in_its_name() {
        let r = regions(
            "四川盆地等地将有强降雨",
            "<p>中央气象台预计，未来三天四川盆地东部、江汉、江南、黄淮及华北平原将有大到暴雨，青藏高原东部有雨雪。</p>",
        );
        assert!(r.is_empty(), "{r:?}");
        // 中原 is the Central Plains, not 郑州's 中原区.
        let r = regions(
            "河南：奋勇争先 让新时代中原更加出彩",
            "<p>河南省全力以赴稳经济，让新时代中原更加出彩。</p>",
        );
        assert_eq!(r[0].name, "河南省", "{r:?}");
        // 红旗渠 is a canal, not 新乡's 红旗区.
        let r = regions("红旗渠精神代代传", "<p>河南省举办红旗渠精神报告会。</p>");
        assert_eq!(r[0].name, "河南省", "{r:?}");
        // A real place before a feature still counts elsewhere in the text.
        let r = regions(
            "四川遂宁发布暴雨预警",
            "<p>四川盆地东部有强降雨，遂宁市气象台发布暴雨橙色预警。</p>",
        );
        assert_eq!(r[0].name, "遂宁市", "{r:?}");
    }

    #[test]
    fn an_event_named_after_a_host_city_is_not_that_city() {
        let r = regions(
            "北京冬奥会张家口赛区举行消防演练",
            "<p>北京冬奥会张家口赛区举行消防安保演练。</p>",
        );
        assert_eq!(r[0].name, "张家口市", "{r:?}");
        assert!(r.iter().all(|x| x.name != "北京市"), "{r:?}");
        let r = regions(
            "杭州亚运会绍兴赛区完成测试赛",
            "<p>杭州亚运会绍兴赛区完成首场测试赛。</p>",
        );
        assert_eq!(r[0].name, "绍兴市", "{r:?}");
        let r = regions(
            "成都大运会火炬传递活动走进宜宾",
            "<p>成都大运会火炬传递活动今天走进宜宾，100名火炬手参加传递。</p>",
        );
        assert_eq!(r[0].name, "宜宾市", "{r:?}");
        // With no other place, the event names its host.
        let r = regions(
            "北京冬奥会开幕式彩排顺利",
            "<p>北京冬奥会开幕式进行了第三次彩排。</p>",
        );
        assert_eq!(r[0].name, "北京市", "{r:?}");
        let r = regions(
            "第五届进博会今晚开幕",
            "<p>第五届进博会今晚开幕，新品精品集中亮相。</p>",
        );
        assert_eq!(r[0].name, "上海市", "{r:?}");
        // A place inside the host does not silence it; it still needs it as context.
        let r = regions(
            "进博会展品通关基本完成",
            "<p>带动我国消费升级。截至11月3日，上海海关共已验放进博会展品总额达3亿美元。</p>",
        );
        assert_eq!(r[0].name, "上海市", "{r:?}");
        let r = regions(
            "延庆冬奥村进入闭环管理",
            "<p>今天，延庆冬奥村进入闭环管理。目前，北京冬奥会三个冬奥村已全部进入闭环管理。</p>",
        );
        assert_eq!(r[0].name, "延庆区", "{r:?}");
        // Only a whole event name: 冬奥城市景观 is in 北京.
        let r = regions(
            "冬奥主题花坛完工亮灯",
            "<p>北京市冬奥城市景观布置工作已基本完成，主题花坛迎接冬奥会和春节的到来。</p>",
        );
        assert_eq!(r[0].name, "北京市", "{r:?}");
    }

    #[test]
    fn a_county_level_city_is_below_its_province() {
        // 林州 (under 安阳); 红旗渠 is a canal in 林州, not 新乡's 红旗区.
        let r = regions(
            "河南林州：红旗渠景区恢复开放",
            "<p>林州红旗渠景区自即日起恢复开放，游客需预约入园。</p>",
        );
        assert_eq!(r[0].name, "林州市", "{r:?}");
        // 济源 (directly under 河南) is a city, as the labels count it, also from a 焦作 outlet.
        let r = regions(
            "济源发现1例阳性感染者",
            "<p>河南省济源示范区发现1例阳性感染者。</p>",
        );
        assert_eq!((r[0].name.as_str(), r[0].level), ("济源市", Level::City), "{r:?}");
        assert_eq!(
            primary_with("济源发现1例阳性感染者", "", Some("焦作")).as_deref(),
            Some("济源市")
        );
        // Units directly under a province whose short name is a word need context like others.
        assert_eq!(
            primary("中西医结合治疗效果好", "<p>专家介绍中西医结合治疗经验。</p>"),
            None
        );
        assert_eq!(primary("白杨树成林", "<p>戈壁上的白杨树成林。</p>"), None);
    }

    #[test]
    fn a_part_of_a_country_is_that_country() {
        // 北爱尔兰 contains 爱尔兰 (Ireland) but is part of the United Kingdom; a templated
        // "first case" notice is each country's own.
        for (country, code) in [
            ("荷兰", "NL"),
            ("北爱尔兰", "GB"),
            ("爱尔兰", "IE"),
            ("英国", "GB"),
        ] {
            let r = regions(
                &format!("{country}确诊首例新冠肺炎病例"),
                &format!("<p>{country}卫生部门宣布确诊首例新冠肺炎病例。</p>"),
            );
            assert_eq!(r[0].code, code, "{country}: {r:?}");
        }
        let r = regions(
            "Northern Ireland confirms first case",
            "<p>Health officials in Northern Ireland confirmed the first case on Friday.</p>",
        );
        assert_eq!(r[0].code, "GB", "{r:?}");
    }

    #[test]
    fn lookup_accepts_names_codes_and_english() {
        let g = Gazetteer::embedded();
        for q in ["陕西", "陝西", "陕西省", "610000", "Shaanxi", "shaanxi"] {
            let found = g.lookup(q);
            assert_eq!(found.len(), 1, "{q}");
            assert_eq!(g.unit(found[0]).code, "610000", "{q}");
        }
        assert_eq!(g.unit(g.lookup("Shanxi")[0]).code, "140000");
        assert_eq!(g.unit(g.lookup("吉林")[0]).level, Level::Province);
        assert!(g.lookup("Atlantis").is_empty());
    }

    #[test]
    fn iso_codes_of_hong_kong_macao_and_taiwan_name_their_provinces() {
        let g = Gazetteer::embedded();
        for (iso, adcode, name) in [
            ("HK", "810000", "香港特别行政区"),
            ("hk", "810000", "香港特别行政区"),
            ("MO", "820000", "澳门特别行政区"),
            ("TW", "710000", "台湾省"),
        ] {
            let found = g.lookup(iso);
            assert_eq!(found.len(), 1, "{iso}");
            let unit = g.unit(found[0]);
            assert_eq!((unit.code.as_str(), unit.name.as_str()), (adcode, name), "{iso}");
            assert_eq!(unit.level, Level::Province, "{iso}");
            assert_eq!(g.lookup(adcode), found, "{iso} and {adcode} are one unit");
        }
        assert_eq!(g.unit(g.lookup("JP")[0]).level, Level::Country);
        assert!(
            g.lookup("CN").is_empty(),
            "China is no region: a national story has none"
        );
    }
}
