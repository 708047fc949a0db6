//! Story folding: deciding whether two items are copies of one story.
//!
//! In: [`Comparison`] text and publication times. Out: [`Features`] (shingle sets, numbers,
//! days named in the lead), LSH band keys to find candidates, and a [`Verdict`] with its
//! reasons for a pair; and [`Postings`], the candidate index of the folding pass (band keys →
//! items, ranked by keys shared).
//!
//! Shingles are 3 consecutive tokens for CJK text (each character a token) and 2 for Latin
//! text (each word a token). Candidates come from MinHash-LSH band keys over three channels:
//! the body (copies that share most of their text), the lead (a summary-only copy shares the
//! full text's opening) and the title (title-only items). Candidates are then checked exactly:
//! Jaccard of the body shingles, or containment of the smaller in the larger, within a
//! publication-time window; facts that disagree keep look-alike reports apart: a place, day,
//! time or figure at the same place in their wording ([`Facts`]), days in the lead (datelines
//! skipped), as-of days, reporting periods, provinces in titles, quantities of the lead.
//! [`judge`] checks facts only for a pair that would otherwise be one story; [`compare`] and
//! [`judge_all`] for every pair. The same code serves the folding pass and `explain`.

use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::facts::Facts;
use super::normalize::{Comparison, is_cjk};
use super::region::dateline_end;

/// Folding thresholds (`[fold]` in the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldConfig {
    /// Copies of one story are published within this many hours of each other; beyond it only
    /// a near-verbatim republication folds.
    pub window_hours: f64,
    /// Body Jaccard at or above which two items are one story.
    pub min_jaccard: f64,
    /// Containment of the shorter body in the longer at or above which they are one story (a
    /// summary-only copy folds into its full text).
    pub min_containment: f64,
    /// Title-only items fold only with a near-identical title published this close.
    pub title_only_hours: f64,
}

impl Default for FoldConfig {
    fn default() -> Self {
        FoldConfig {
            window_hours: 72.0,
            min_jaccard: 0.5,
            min_containment: 0.7,
            title_only_hours: 18.0,
        }
    }
}

/// Tokens of the lead used for the lead channel and for days named in the lead.
const LEAD_TOKENS: usize = 60;
/// Fewer body shingles than this: the item is treated as title-only.
const MIN_BODY_SHINGLES: usize = 5;
/// Jaccard beyond the window at which a copy still folds (a republication).
const REPUBLICATION_JACCARD: f64 = 0.8;
/// Title Jaccard (or containment of the shorter title) for title-only items.
const TITLE_ONLY_JACCARD: f64 = 0.8;
/// Shingles a title needs before its containment in another title counts.
const MIN_TITLE_SHINGLES: usize = 6;

/// (bins, rows per band) per channel: body, lead, title.
const BODY: (usize, usize) = (128, 4);
const LEAD: (usize, usize) = (32, 4);
const TITLE: (usize, usize) = (24, 3);

/// What is compared of an item.
///
/// Shingle sets are kept as the high 32 bits of their 64-bit hashes: a waiting item's features
/// are held for the whole folding pass, and half the bytes per shingle is most of its memory
/// (30,000 items took about 240 MB at 64 bits). Two distinct shingles of a pair collide in 32
/// bits with probability about `|a|·|b| / 2³²` (about 2·10⁻⁴ for two 1,000-shingle bodies),
/// which moves a Jaccard estimate by one shingle in a thousand. The band keys, which the store
/// keeps and which must not change, are computed at construction from the full 64-bit hashes.
/// The lead's shingles serve only its band keys, so they are not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Features {
    /// Sorted distinct shingle hashes of the body (high 32 bits).
    pub body: Vec<u32>,
    /// Sorted distinct shingle hashes of the title (high 32 bits).
    pub title: Vec<u32>,
    /// LSH band keys: the body and lead channels' (`text_keys` of them), then the title's.
    keys: Box<[i64]>,
    /// How many of `keys` are body and lead keys.
    text_keys: u8,
    /// Whether the body has fewer than [`MIN_BODY_SHINGLES`] distinct 64-bit shingles.
    title_only: bool,
    /// Sorted distinct quantities written in the body (numbers that are not dates or times).
    pub numbers: Vec<u32>,
    /// Sorted distinct quantities written in the lead.
    pub lead_numbers: Vec<u32>,
    /// Reporting periods in the lead (`0时至12时`).
    pub lead_periods: Vec<(u32, u32)>,
    /// Days the body's figures are "as of" (`截至2月20日24时`).
    pub as_of: Vec<u8>,
    /// Province-level places named in the title, sorted.
    pub title_places: Vec<u8>,
    /// Days of the month named in the lead (`6日`), sorted.
    pub lead_days: Vec<u8>,
    /// Places and figures at their place in the wording (see [`Facts`]).
    pub facts: Facts,
    /// Publication time, unix seconds.
    pub published: i64,
}

/// The high 32 bits of sorted distinct 64-bit hashes: sorted already (the order of the high
/// bits is the order of the values), distinct once equal neighbours are dropped.
fn short_hashes(set: &[u64]) -> Vec<u32> {
    let mut out: Vec<u32> = set.iter().map(|&x| (x >> 32) as u32).collect();
    out.dedup();
    out.shrink_to_fit();
    out
}

/// Token hashes: each CJK character, each run of other letters and digits.
fn tokens(text: &str) -> Vec<u64> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut word_start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if is_cjk(c) || c == ' ' {
            if let Some(s) = word_start.take() {
                out.push(xxh3_64(&text.as_bytes()[s..i]));
            }
            if c != ' ' {
                out.push(u64::from(c as u32).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            }
        } else if word_start.is_none() {
            word_start = Some(i);
        }
    }
    if let Some(s) = word_start {
        out.push(xxh3_64(&text.as_bytes()[s..]));
    }
    out
}

fn cjk_dominant(text: &str) -> bool {
    let (mut cjk, mut other) = (0usize, 0usize);
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
        } else if c == ' ' {
            other += 1;
        }
    }
    cjk >= other * 3
}

/// Sorted distinct hashes of `k` consecutive tokens (one shingle of all tokens if fewer).
fn shingles(tokens: &[u64], k: usize) -> Vec<u64> {
    let mix = |w: &[u64]| {
        w.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, t| {
            (h.rotate_left(23) ^ t).wrapping_mul(0x100_0000_01b3)
        })
    };
    let mut out: Vec<u64> = if tokens.len() <= k {
        if tokens.is_empty() {
            Vec::new()
        } else {
            vec![mix(tokens)]
        }
    } else {
        tokens.windows(k).map(mix).collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// Characters after a number that make it a date or a time of day rather than a quantity.
const TIME_UNITS: &[char] = &['年', '月', '日', '号', '时', '点', '分', '秒'];

/// Digit runs with the character that follows each.
fn digit_runs(text: &str) -> Vec<(u32, Option<char>)> {
    let mut out = Vec::new();
    let mut current: Option<u64> = None;
    for c in text.chars().map(Some).chain(std::iter::once(None)) {
        match c.filter(char::is_ascii_digit).and_then(|c| c.to_digit(10)) {
            Some(d) => {
                current = Some(
                    current
                        .unwrap_or(0)
                        .saturating_mul(10)
                        .saturating_add(u64::from(d)),
                )
            }
            None => {
                if let Some(n) = current.take() {
                    out.push((u32::try_from(n).unwrap_or(u32::MAX), c));
                }
            }
        }
    }
    out
}

/// Sorted distinct quantities written in a text: numbers that are not dates or times of day.
fn quantities(text: &str) -> Vec<u32> {
    let mut out: Vec<u32> = digit_runs(text)
        .into_iter()
        .filter(|(_, next)| next.is_none_or(|c| !TIME_UNITS.contains(&c)))
        .map(|(n, _)| n)
        .collect();
    out.sort_unstable();
    out.dedup();
    out.truncate(256);
    out.shrink_to_fit();
    out
}

/// Days a report is "as of" (`截至2月20日24时` → 21: 24时 is the next day's 0时).
fn as_of_days(text: &str) -> Vec<u8> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    for i in 0..chars.len().saturating_sub(1) {
        if chars[i] != '截' || !matches!(chars[i + 1], '至' | '止') {
            continue;
        }
        // Up to 12 characters: optional `YYYY年`, optional `M月`, then `D日`, optional `H时`.
        let window: String = chars[i + 2..chars.len().min(i + 16)].iter().collect();
        let runs = digit_runs(&window);
        let Some(pos) = runs.iter().position(|(_, next)| *next == Some('日')) else {
            continue;
        };
        let day = runs[pos].0;
        let hour = runs
            .get(pos + 1)
            .filter(|(_, next)| matches!(next, Some('时' | '点')))
            .map(|(h, _)| *h);
        let day = if hour == Some(24) { day + 1 } else { day };
        if let Ok(d) = u8::try_from(day) {
            out.push(d);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Reporting periods named in a text: `0时至12时` → (0, 12).
fn periods(text: &str) -> Vec<(u32, u32)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let number_before = |end: usize| -> Option<(u32, usize)> {
        let start = chars[..end]
            .iter()
            .rposition(|c| !c.is_ascii_digit())
            .map_or(0, |p| p + 1);
        let digits: String = chars[start..end].iter().collect();
        digits
            .parse()
            .ok()
            .filter(|_| end - start <= 2)
            .map(|n| (n, start))
    };
    for i in 0..chars.len() {
        if chars[i] != '至' || i == 0 || !matches!(chars[i - 1], '时' | '点') {
            continue;
        }
        let Some((from, _)) = number_before(i - 1) else {
            continue;
        };
        let tail_len = chars[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if tail_len == 0 || !matches!(chars.get(i + 1 + tail_len), Some('时' | '点')) {
            continue;
        }
        let to: String = chars[i + 1..i + 1 + tail_len].iter().collect();
        if let Ok(to) = to.parse() {
            out.push((from, to));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Province-level units by the short names news titles use (simplified; comparison text is
/// simplified already). Two reports from the same template about different provinces
/// (“广东启动一级响应” / “湖南启动一级响应”) are different stories.
const PROVINCES: &[&str] = &[
    "北京",
    "天津",
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林",
    "黑龙江",
    "上海",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "广西",
    "海南",
    "重庆",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
    "台湾",
    "香港",
    "澳门",
];

fn title_places(title: &str) -> Vec<u8> {
    let mut out: Vec<u8> = PROVINCES
        .iter()
        .enumerate()
        .filter(|(_, p)| title.contains(*p))
        .map(|(i, _)| i as u8)
        .collect();
    out.dedup();
    out
}

fn lead_days(lead: &str) -> Vec<u8> {
    let chars: Vec<char> = lead.chars().collect();
    let mut days = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if *c != '日' {
            continue;
        }
        let digits: String = chars[..i]
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if let Ok(d) = digits.parse::<u8>()
            && (1..=31).contains(&d)
            && digits.len() <= 2
        {
            days.push(d);
        }
    }
    days.sort_unstable();
    days.dedup();
    days
}

impl Features {
    /// Features of a comparison text published at `published`.
    pub fn new(c: &Comparison, published: DateTime<Utc>) -> Features {
        Features::build(c, published, true)
    }

    /// [`Features::new`] without the LSH band keys: what comparing needs of a stored
    /// candidate, whose keys the store keeps (the band keys are a third of the cost).
    pub fn compared(c: &Comparison, published: DateTime<Utc>) -> Features {
        Features::build(c, published, false)
    }

    fn build(c: &Comparison, published: DateTime<Utc>, with_keys: bool) -> Features {
        let body_tokens = tokens(&c.body);
        let k = if cjk_dominant(&c.body) { 3 } else { 2 };
        let lead_end = body_tokens.len().min(LEAD_TOKENS);
        // A dateline (`人民网北京1月9日电`) names the day the agency filed, not the event's: the
        // facts and the lead's days and figures start after it.
        let from = dateline_end(&c.body);
        // The lead as text: the first LEAD_TOKENS characters, extended to the end of a number
        // it would otherwise cut.
        let lead_text: String = {
            let mut chars = c.body[from..].chars();
            let mut lead: String = chars.by_ref().take(LEAD_TOKENS).collect();
            if lead.ends_with(|c: char| c.is_ascii_digit()) {
                // Keep the whole number and the character after it (its unit).
                for c in chars.by_ref() {
                    lead.push(c);
                    if !c.is_ascii_digit() {
                        break;
                    }
                }
            }
            lead
        };
        let title_tokens = tokens(&c.title);
        let tk = if cjk_dominant(&c.title) { 2 } else { 1 };
        let body = shingles(&body_tokens, k);
        let title = shingles(&title_tokens, tk);
        let title_only = body.len() < MIN_BODY_SHINGLES;
        let mut keys = Vec::with_capacity(if with_keys { 48 } else { 0 });
        if with_keys && !title_only {
            band_keys(0, &body, BODY, &mut keys);
            band_keys(1, &shingles(&body_tokens[..lead_end], k), LEAD, &mut keys);
        }
        let text_keys = keys.len() as u8;
        if with_keys && title.len() >= 3 {
            band_keys(2, &title, TITLE, &mut keys);
        }
        Features {
            body: short_hashes(&body),
            title: short_hashes(&title),
            keys: keys.into_boxed_slice(),
            text_keys,
            title_only,
            numbers: quantities(&c.body),
            lead_numbers: quantities(&lead_text),
            lead_periods: periods(&lead_text),
            as_of: as_of_days(&c.body),
            title_places: title_places(&c.title),
            lead_days: lead_days(&lead_text),
            facts: Facts::new(&c.title, &c.body, from),
            published: published.timestamp(),
        }
    }

    /// Whether the item has no usable body (title-only, or nearly).
    pub fn title_only(&self) -> bool {
        self.title_only
    }

    /// LSH band keys of every channel. Items sharing a key are candidates.
    pub fn band_keys(&self) -> Vec<i64> {
        self.keys.to_vec()
    }

    /// [`band_keys`](Self::band_keys), borrowed.
    pub fn keys(&self) -> &[i64] {
        &self.keys
    }

    /// The band keys to look candidates up by: an item with a body is found through its body
    /// and lead (a title match alone never folds two such items), a title-only item through
    /// its title. Every item is indexed under all its [`band_keys`](Self::band_keys), so a
    /// title-only item still finds full copies by their titles.
    pub fn query_keys(&self) -> Vec<i64> {
        self.query_key_slice().to_vec()
    }

    /// [`query_keys`](Self::query_keys), borrowed.
    pub fn query_key_slice(&self) -> &[i64] {
        let (text, title) = self.keys.split_at(usize::from(self.text_keys));
        if self.title_only { title } else { text }
    }

    /// [`band_keys`](Self::band_keys) and [`query_keys`](Self::query_keys) at once.
    pub fn band_and_query_keys(&self) -> (Vec<i64>, Vec<i64>) {
        (self.band_keys(), self.query_keys())
    }

    /// The keys to look candidates up by in an index built with [`index_keys`]: its
    /// [`query_keys`](Self::query_keys), plus the title keys an item of the other kind is indexed
    /// under (a full item's title keys as they are, a title-only item's tagged). So a title-only
    /// item and a full copy find each other whichever of them is looked up, while two full
    /// items still never become candidates through their titles alone.
    pub fn lookup_keys(&self) -> Vec<i64> {
        let (text, title) = self.keys.split_at(usize::from(self.text_keys));
        if self.title_only {
            title
                .iter()
                .copied()
                .chain(title.iter().map(|&k| k ^ FULL_TITLE_TAG))
                .collect()
        } else {
            text.iter().chain(title).copied().collect()
        }
    }
}

/// Marks a full item's title key in an index built with [`index_keys`].
const FULL_TITLE_TAG: i64 = 0x5bd1_e995_7f4a_7c15;

/// Band keys of an item with text: its body and lead channels' keys (always these many), then
/// its title's.
const TEXT_KEYS: usize = BODY.0 / BODY.1 + LEAD.0 / LEAD.1;

/// The keys an item with band keys `keys` (as [`Features::band_keys`] lists them, or as the
/// store keeps them) is indexed under for [`Features::lookup_keys`]: its keys, a full item's
/// title keys tagged.
pub fn index_keys(keys: &[i64]) -> impl Iterator<Item = i64> + '_ {
    let full = keys.len() >= TEXT_KEYS;
    keys.iter().enumerate().map(move |(i, &k)| {
        if full && i >= TEXT_KEYS {
            k ^ FULL_TITLE_TAG
        } else {
            k
        }
    })
}

/// A MinHash signature by one-permutation hashing: each shingle hash falls in one of `bins`
/// bins by its high bits and the bin keeps the smallest low bits; an empty bin borrows the value
/// of the next non-empty bin, tagged with the distance (rotation densification, Shrivastava & Li
/// 2014). One pass over the shingles instead of one per hash function, with the same
/// collision probability per bin (the Jaccard similarity).
fn minhash(set: &[u64], bins: usize) -> Vec<u32> {
    const EMPTY: u32 = u32::MAX;
    let mut sig = vec![EMPTY; bins];
    for &x in set {
        let bin = (((x >> 32) * bins as u64) >> 32) as usize;
        let v = (x as u32) >> 1;
        if v < sig[bin] {
            sig[bin] = v;
        }
    }
    let Some(first_full) = sig.iter().position(|&v| v != EMPTY) else {
        return sig;
    };
    // Walk right to left, carrying the nearest full bin to the right (circularly).
    let mut next = (sig[first_full], first_full + bins);
    let mut out = sig.clone();
    for i in (0..bins).rev() {
        if sig[i] == EMPTY {
            let distance = (next.1 - i) as u32;
            // Borrowed values have the top bit set, so they never equal a value of a full bin.
            out[i] = (next.0 ^ distance.wrapping_mul(0x9E37_79B9)) | 0x8000_0000;
        } else {
            next = (sig[i], i);
        }
    }
    out
}

fn band_keys(channel: u8, set: &[u64], (perms, rows): (usize, usize), out: &mut Vec<i64>) {
    if set.is_empty() {
        return;
    }
    let sig = minhash(set, perms);
    for (band, chunk) in sig.chunks(rows).enumerate() {
        let mut bytes = Vec::with_capacity(2 + rows * 4);
        bytes.push(channel);
        bytes.push(band as u8);
        for v in chunk {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        out.push(xxh3_64_with_seed(&bytes, 0xF01D) as i64);
    }
}

fn intersection(a: &[u32], b: &[u32]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let i = intersection(a, b);
    i as f64 / (a.len() + b.len() - i) as f64
}

/// How alike two items are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// Jaccard of the body shingles.
    pub jaccard: f64,
    /// Share of the smaller body's shingles found in the larger.
    pub containment: f64,
    /// Jaccard of the title shingles.
    pub title: f64,
    /// Hours between the publications.
    pub hours_apart: f64,
}

impl Similarity {
    /// One number to rank candidates by.
    pub fn score(&self) -> f64 {
        self.jaccard.max(self.containment * 0.95).max(self.title * 0.5)
    }
}

/// Whether two items are one story, and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// One story.
    Same(String),
    /// Not shown to be one story (too little in common).
    Apart(String),
    /// Shown to be different stories (their facts disagree): they must not end up in one story
    /// even through a third item alike to both.
    Conflict(String),
}

impl Verdict {
    /// Whether the verdict is [`Verdict::Same`].
    pub fn is_same(&self) -> bool {
        matches!(self, Verdict::Same(_))
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        match self {
            Verdict::Same(r) | Verdict::Apart(r) | Verdict::Conflict(r) => r,
        }
    }
}

/// Compares two items, with the reason (facts are checked whatever the similarity).
pub fn compare(a: &Features, b: &Features, cfg: &FoldConfig) -> (Similarity, Verdict) {
    compare_with(a, b, cfg, true, true)
}

/// [`compare`] without the reason (the verdict's text is empty), and with facts checked only
/// for a pair alike enough to be one story otherwise: a pair judged apart may still be in
/// conflict. What the folding pass calls for each new item's candidates, up to 64 times per
/// item: writing every reason out made that step take 0.64 s instead of 0.38 s in benchmark
/// (iv)'s cold cycle, and checking facts of pairs that are not alike took as long again.
pub fn judge(a: &Features, b: &Features, cfg: &FoldConfig) -> (Similarity, Verdict) {
    compare_with(a, b, cfg, false, false)
}

/// [`judge`] with facts checked for every pair, so a conflict is always found: for the pairs
/// of items that end up tied through others.
pub fn judge_all(a: &Features, b: &Features, cfg: &FoldConfig) -> (Similarity, Verdict) {
    compare_with(a, b, cfg, false, true)
}

fn compare_with(
    a: &Features,
    b: &Features,
    cfg: &FoldConfig,
    explain: bool,
    every_conflict: bool,
) -> (Similarity, Verdict) {
    let (small, large) = if a.body.len() <= b.body.len() {
        (a, b)
    } else {
        (b, a)
    };
    let shared = intersection(&small.body, &large.body);
    let sim = Similarity {
        jaccard: if small.body.is_empty() {
            0.0
        } else {
            shared as f64 / (a.body.len() + b.body.len() - shared) as f64
        },
        containment: if small.body.is_empty() {
            0.0
        } else {
            shared as f64 / small.body.len() as f64
        },
        title: jaccard(&a.title, &b.title),
        hours_apart: (a.published - b.published).unsigned_abs() as f64 / 3600.0,
    };
    (sim, decide(a, b, &sim, cfg, explain, every_conflict))
}

/// A verdict's reason: written out only when `explain` is set.
fn reason(explain: bool, text: std::fmt::Arguments<'_>) -> String {
    if explain { text.to_string() } else { String::new() }
}

/// The verdict on a pair: a conflict when their facts disagree (checked for every pair when
/// `every_conflict` is set, else only for a pair that would otherwise be one story), else what
/// their similarity says.
fn decide(
    a: &Features,
    b: &Features,
    sim: &Similarity,
    cfg: &FoldConfig,
    explain: bool,
    every_conflict: bool,
) -> Verdict {
    let verdict = alike(a, b, sim, cfg, explain);
    if !verdict.is_same() && !every_conflict {
        return verdict;
    }
    conflict(a, b, explain).unwrap_or(verdict)
}

/// Facts that disagree between two items, if any: what makes look-alikes different stories.
fn conflict(a: &Features, b: &Features, explain: bool) -> Option<Verdict> {
    if !a.lead_days.is_empty()
        && !b.lead_days.is_empty()
        && !a.lead_days.iter().any(|d| b.lead_days.contains(d))
    {
        return Some(Verdict::Conflict(reason(
            explain,
            format_args!(
                "the leads name different days ({:?} vs {:?})",
                a.lead_days, b.lead_days
            ),
        )));
    }
    if !a.as_of.is_empty() && !b.as_of.is_empty() && !a.as_of.iter().any(|d| b.as_of.contains(d)) {
        return Some(Verdict::Conflict(reason(
            explain,
            format_args!(
                "the figures are as of different days ({:?} vs {:?})",
                a.as_of, b.as_of
            ),
        )));
    }
    if !a.lead_periods.is_empty()
        && !b.lead_periods.is_empty()
        && !a.lead_periods.iter().any(|p| b.lead_periods.contains(p))
    {
        return Some(Verdict::Conflict(reason(
            explain,
            format_args!(
                "the leads report different periods ({:?} vs {:?})",
                a.lead_periods, b.lead_periods
            ),
        )));
    }
    if !a.title_places.is_empty()
        && !b.title_places.is_empty()
        && !a.title_places.iter().any(|p| b.title_places.contains(p))
    {
        let names = |f: &Features| {
            f.title_places
                .iter()
                .map(|&i| PROVINCES[i as usize])
                .collect::<Vec<_>>()
                .join("、")
        };
        return Some(Verdict::Conflict(reason(
            explain,
            format_args!(
                "the titles name different provinces ({} vs {})",
                names(a),
                names(b)
            ),
        )));
    }
    if let Some(d) = a.facts.differing(&b.facts) {
        return Some(Verdict::Conflict(reason(
            explain,
            format_args!("the texts differ at the same place in their wording: {d}"),
        )));
    }
    // A copy, a summary or a rewrite repeats the facts of its lead: every number in the shorter
    // text's lead appears in the longer text. Templated reports differ exactly there.
    let (short, long) = if a.body.len() <= b.body.len() {
        (a, b)
    } else {
        (b, a)
    };
    if short.lead_numbers.len() >= 2 && long.numbers.len() >= 2 {
        let absent = |n: &&u32| long.numbers.binary_search(n).is_err();
        if short.lead_numbers.iter().any(|n| absent(&n)) {
            let missing: Vec<u32> = short.lead_numbers.iter().filter(absent).copied().collect();
            return Some(Verdict::Conflict(reason(
                explain,
                format_args!("quantities in the lead are not in the other text ({missing:?})"),
            )));
        }
    }
    None
}

/// What the similarity of two items says: one story, or not shown to be.
fn alike(a: &Features, b: &Features, sim: &Similarity, cfg: &FoldConfig, explain: bool) -> Verdict {
    if a.title_only() || b.title_only() {
        let (st, lt) = if a.title.len() <= b.title.len() {
            (&a.title, &b.title)
        } else {
            (&b.title, &a.title)
        };
        let title_containment = if st.len() >= MIN_TITLE_SHINGLES {
            intersection(st, lt) as f64 / st.len() as f64
        } else {
            0.0
        };
        let close = sim.hours_apart <= cfg.title_only_hours;
        return if close && sim.title >= TITLE_ONLY_JACCARD {
            Verdict::Same(reason(
                explain,
                format_args!(
                    "title-only: titles match (jaccard {:.2}) {:.0}h apart",
                    sim.title, sim.hours_apart
                ),
            ))
        } else if close && title_containment >= TITLE_ONLY_JACCARD {
            Verdict::Same(reason(
                explain,
                format_args!(
                    "title-only: the shorter title is {:.0}% contained in the other, {:.0}h apart",
                    title_containment * 100.0,
                    sim.hours_apart
                ),
            ))
        } else {
            Verdict::Apart(reason(
                explain,
                format_args!(
                    "title-only: needs title jaccard ≥ {TITLE_ONLY_JACCARD} within {}h (has {:.2}, {:.0}h apart)",
                    cfg.title_only_hours, sim.title, sim.hours_apart
                ),
            ))
        };
    }
    if sim.hours_apart > cfg.window_hours {
        return if sim.jaccard >= REPUBLICATION_JACCARD {
            Verdict::Same(reason(
                explain,
                format_args!(
                    "republished {:.0}h later with near-identical text (jaccard {:.2})",
                    sim.hours_apart, sim.jaccard
                ),
            ))
        } else {
            Verdict::Apart(reason(
                explain,
                format_args!(
                    "{:.0}h apart, beyond the {}h window, and text jaccard {:.2} < {REPUBLICATION_JACCARD}",
                    sim.hours_apart, cfg.window_hours, sim.jaccard
                ),
            ))
        };
    }
    if sim.jaccard >= cfg.min_jaccard {
        return Verdict::Same(reason(
            explain,
            format_args!("text jaccard {:.2} ≥ {}", sim.jaccard, cfg.min_jaccard),
        ));
    }
    if sim.containment >= cfg.min_containment {
        return Verdict::Same(reason(
            explain,
            format_args!(
                "the shorter text is {:.0}% contained in the longer (≥ {:.0}%)",
                sim.containment * 100.0,
                cfg.min_containment * 100.0
            ),
        ));
    }
    Verdict::Apart(reason(
        explain,
        format_args!(
            "text jaccard {:.2} < {} and containment {:.2} < {}",
            sim.jaccard, cfg.min_jaccard, sim.containment, cfg.min_containment
        ),
    ))
}

/// Groups a batch of new items into stories, given the pairs judged so far.
///
/// Nodes `0..pending` are new items; nodes from `pending` on are stored stories (one node per
/// story). `links` are pairs that must be together whatever else is known (same canonical URL);
/// `edges` are pairs judged the same story, with a score; `conflicts` are pairs shown to be
/// different stories. Edges are taken best first and join two groups unless that would put two
/// stored stories together or a conflicting pair in one group, so the result does not depend on
/// the order items arrived in. Returns a group number per node.
pub fn cluster(
    nodes: usize,
    pending: usize,
    links: &[(usize, usize)],
    edges: &[(usize, usize, f64)],
    conflicts: &std::collections::HashSet<(usize, usize)>,
) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..nodes).collect();
    let mut members: Vec<Vec<usize>> = (0..nodes).map(|i| vec![i]).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let stored = |m: &[usize]| m.iter().filter(|&&x| x >= pending).count();
    let union =
        |a: usize, b: usize, checked: bool, parent: &mut Vec<usize>, members: &mut Vec<Vec<usize>>| {
            let (ra, rb) = (find(parent, a), find(parent, b));
            if ra == rb {
                return;
            }
            if stored(&members[ra]) + stored(&members[rb]) > 1 {
                return;
            }
            if checked
                && members[ra].iter().any(|&x| {
                    members[rb]
                        .iter()
                        .any(|&y| conflicts.contains(&(x.min(y), x.max(y))))
                })
            {
                return;
            }
            let moved = std::mem::take(&mut members[rb]);
            members[ra].extend(moved);
            parent[rb] = ra;
        };
    for &(a, b) in links {
        union(a, b, false, &mut parent, &mut members);
    }
    let mut sorted: Vec<&(usize, usize, f64)> = edges.iter().collect();
    sorted.sort_by(|x, y| y.2.total_cmp(&x.2).then_with(|| (x.0, x.1).cmp(&(y.0, y.1))));
    for &&(a, b, _) in &sorted {
        union(a, b, true, &mut parent, &mut members);
    }
    (0..nodes).map(|x| find(&mut parent, x)).collect()
}

/// Buckets of [`Postings::starts`]: one per value of a key's top 16 bits.
const PREFIXES: usize = 1 << 16;

fn prefix(key: u64) -> usize {
    (key >> 48) as usize
}

/// An inverted index from band keys to items, built for a set of query keys: the candidate
/// index of the folding pass (see `pipeline::fold`), and of benchmarks and tests.
///
/// Made in three steps: [`Postings::for_keys`] with every key that will be looked up,
/// [`Postings::add`] for each item (a node number and its [`index_keys`]), [`Postings::finish`];
/// then [`Postings::ranked`] gives a query's nodes, most shared keys first.
#[derive(Debug, Default)]
pub struct Postings {
    /// The query keys (as unsigned), sorted and distinct: a key's slot is its position. A hash
    /// map sized for benchmark (iv)'s 1.2 million keys (about 35 MB by its layout) sat at the
    /// peak of the folding pass; this list takes about 10 MB.
    slots: Vec<u64>,
    /// Where the keys with each value of the top 16 bits start in `slots` (and, last, its
    /// length): band keys are hashes, so a lookup searches a few dozen keys at most.
    starts: Vec<u32>,
    /// Per slot, the range of `nodes` holding the items with that key (an item once per copy of
    /// the key in its list, as the old one-row-per-key table counted).
    offsets: Vec<u32>,
    nodes: Vec<u32>,
    /// (slot, node) pairs, before [`Postings::finish`].
    pairs: Vec<(u32, u32)>,
}

impl Postings {
    /// An index that records the items having any of `keys` (`capacity` of them, counting
    /// repeats: the list is sized once).
    pub fn for_keys<'a>(keys: impl IntoIterator<Item = &'a i64>, capacity: usize) -> Postings {
        let mut slots: Vec<u64> = Vec::with_capacity(capacity);
        slots.extend(keys.into_iter().map(|&k| k as u64));
        slots.sort_unstable();
        slots.dedup();
        slots.shrink_to_fit();
        let mut starts = vec![0u32; PREFIXES + 1];
        for &k in &slots {
            starts[prefix(k) + 1] += 1;
        }
        for p in 1..starts.len() {
            starts[p] += starts[p - 1];
        }
        Postings {
            slots,
            starts,
            ..Postings::default()
        }
    }

    /// The slot of a query key.
    fn slot(&self, key: i64) -> Option<u32> {
        let key = key as u64;
        let p = prefix(key);
        let (start, end) = (self.starts[p] as usize, self.starts[p + 1] as usize);
        self.slots[start..end]
            .binary_search(&key)
            .ok()
            .map(|s| (start + s) as u32)
    }

    /// Records that `node` has `keys`; whether any of them is a query key.
    pub fn add(&mut self, node: u32, keys: impl IntoIterator<Item = i64>) -> bool {
        let before = self.pairs.len();
        for k in keys {
            if let Some(slot) = self.slot(k) {
                self.pairs.push((slot, node));
            }
        }
        self.pairs.len() > before
    }

    /// Groups the recorded pairs by key.
    pub fn finish(&mut self) {
        let mut counts = vec![0u32; self.slots.len() + 1];
        for &(slot, _) in &self.pairs {
            counts[slot as usize + 1] += 1;
        }
        for s in 1..counts.len() {
            counts[s] += counts[s - 1];
        }
        let mut fill = counts.clone();
        let mut nodes = vec![0u32; self.pairs.len()];
        for &(slot, node) in &self.pairs {
            nodes[fill[slot as usize] as usize] = node;
            fill[slot as usize] += 1;
        }
        self.offsets = counts;
        self.nodes = nodes;
        self.pairs = Vec::new();
    }

    /// The nodes sharing the most of `keys` (distinct), at most `limit`, most shared first and
    /// then by lowest `ids[node]`. `count` is scratch space of one counter per node, all zero,
    /// and left so.
    pub fn ranked(&self, keys: &[i64], ids: &[i64], count: &mut [u32], limit: usize) -> Vec<u32> {
        let mut touched: Vec<u32> = Vec::new();
        for k in keys {
            let Some(slot) = self.slot(*k) else { continue };
            let range = self.offsets[slot as usize] as usize..self.offsets[slot as usize + 1] as usize;
            for &node in &self.nodes[range] {
                let c = &mut count[node as usize];
                if *c == 0 {
                    touched.push(node);
                }
                *c += 1;
            }
        }
        let mut found: Vec<(std::cmp::Reverse<u32>, i64, u32)> = touched
            .iter()
            .map(|&node| (std::cmp::Reverse(count[node as usize]), ids[node as usize], node))
            .collect();
        for node in touched {
            count[node as usize] = 0;
        }
        if found.len() > limit {
            found.select_nth_unstable(limit - 1);
            found.truncate(limit);
        }
        found.sort_unstable();
        found.into_iter().map(|(_, _, node)| node).collect()
    }

    /// Approximate heap bytes used by the index.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
            + (self.starts.capacity() + self.offsets.capacity() + self.nodes.capacity()) * 4
            + self.pairs.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::normalize::{Furniture, comparison};
    use chrono::TimeZone;

    fn features(title: &str, body: &str, hour: i64) -> Features {
        let c = comparison(Some(title), Some(body), &Furniture::default());
        Features::new(
            &c,
            Utc.timestamp_opt(1_641_000_000 + hour * 3600, 0)
                .single()
                .expect("time"),
        )
    }

    const FULL: &str = "<p>1月6日，疫情防控工作视频会议在西安市疫情防控指挥部召开。省委书记主持会议并讲话。他强调，要从讲政治的高度，紧紧围绕守护人民群众生命安全和身体健康抓好疫情防控。</p><p>省长讲话，省委常委、西安市委书记，副省长，西安市市长出席。</p><p>会议要求，工作上不能有丝毫放松，核酸检测、转运管控、隔离救治、生活保障等任何一项工作都必须坚决做到位。</p>";

    #[test]
    fn a_copy_with_another_title_and_script_folds() {
        let a = features("陕西省委书记：深刻汲取教训", FULL, 0);
        let trad = "<p>1月6日，疫情防控工作視頻會議在西安市疫情防控指揮部召開。省委書記主持會議並講話。他強調，要從講政治的高度，緊緊圍繞守護人民群眾生命安全和身體健康抓好疫情防控。</p><p>省長講話，省委常委、西安市委書記，副省長，西安市市長出席。</p><p>會議要求，工作上不能有絲毫放鬆，核酸檢測、轉運管控、隔離救治、生活保障等任何一項工作都必須堅決做到位。</p>";
        let b = features("陝西省委書記：各級幹部要格外清醒", trad, 5);
        let (sim, verdict) = compare(&a, &b, &FoldConfig::default());
        assert!(verdict.is_same(), "{verdict:?} {sim:?}");
        assert!(sim.jaccard > 0.95, "{sim:?}");
    }

    #[test]
    fn a_summary_folds_into_its_full_text() {
        let a = features("t", FULL, 0);
        let b = features(
            "t2",
            "<p>1月6日，疫情防控工作视频会议在西安市疫情防控指挥部召开。省委书记主持会议并讲话。</p>",
            1,
        );
        let (sim, verdict) = compare(&a, &b, &FoldConfig::default());
        assert!(sim.jaccard < 0.5, "{sim:?}");
        assert!(verdict.is_same(), "{verdict:?}");
        let keys_a = a.band_keys();
        assert!(
            b.band_keys().iter().any(|k| keys_a.contains(k)),
            "the lead channel makes them candidates"
        );
    }

    #[test]
    fn different_days_in_the_lead_keep_look_alikes_apart() {
        let a = features("t", FULL, 0);
        let b = features("t", &FULL.replace("1月6日", "1月10日"), 2);
        assert_eq!(
            compare(&a, &b, &FoldConfig::default()).1,
            Verdict::Conflict("the leads name different days ([6] vs [10])".into())
        );
    }

    /// A dateline names the day an agency filed, not the event's: two copies filed on other
    /// days (or one with a dateline, one without) are one story.
    #[test]
    fn datelines_are_not_the_events_day() {
        let text = "国家卫生健康委员会今天通报，各地继续做好疫情防控工作，全国疫情形势总体平稳，多地已连续多日无新增本土病例，各地要继续落实常态化防控措施，加强重点人群健康监测。";
        let a = features("t", &format!("<p>人民网北京1月9日电 {text}</p>"), 0);
        let b = features("t", &format!("<p>新华社北京1月10日电 {text}</p>"), 20);
        let c = features("t", &format!("<p>{text}</p>"), 2);
        for (x, y) in [(&a, &b), (&a, &c), (&b, &c)] {
            let (sim, verdict) = compare(x, y, &FoldConfig::default());
            assert!(verdict.is_same(), "{verdict:?} {sim:?}");
        }
    }

    #[test]
    fn templated_reports_with_other_numbers_stay_apart() {
        let report = |n: [u32; 4]| {
            format!(
                "<p>截至1月{}日24时，全省累计报告确诊病例{}例，新增{}例，治愈出院{}例，其余患者病情稳定，密切接触者均已集中隔离医学观察。</p>",
                n[0], n[1], n[2], n[3]
            )
        };
        let a = features("全省疫情通报", &report([24, 56, 10, 3]), 0);
        let b = features("全省疫情通报", &report([24, 61, 5, 4]), 1);
        let (sim, verdict) = compare(&a, &b, &FoldConfig::default());
        assert!(sim.jaccard > 0.5, "{sim:?}");
        assert!(!verdict.is_same(), "{verdict:?}");
    }

    #[test]
    fn facts_as_of_different_days_or_periods_conflict() {
        assert_eq!(as_of_days("截至2月20日24时西藏现有确诊病例0例"), [21]);
        assert_eq!(
            as_of_days("截至1月25日0时甘肃累计确诊4例"),
            as_of_days("截至1月24日24时甘肃省累计确诊4例")
        );
        assert_eq!(periods("2月23日0时至12时无新增确诊病例"), [(0, 12)]);
        let report = |asof: &str, n: u32| {
            features(
                "西藏通报",
                &format!(
                    "<p>{asof}，西藏现有确诊病例0例，重症病例0例，治愈出院病例1例，已连续{n}天无新增确诊或疑似病例，全区各地继续做好防控工作。</p>"
                ),
                0,
            )
        };
        let (_, v) = compare(
            &report("截至2月20日24时", 22),
            &report("截止2月21日24时", 23),
            &FoldConfig::default(),
        );
        assert!(matches!(v, Verdict::Conflict(_)), "{v:?}");
        let am = features(
            "云南通报",
            "<p>2月23日0时至12时，云南省无新增确诊病例，全省累计确诊病例174例，治愈出院115例，现有确诊病例57例。</p>",
            0,
        );
        let pm = features(
            "云南通报",
            "<p>2月23日12时至24时，云南省无新增确诊病例，全省累计确诊病例174例，治愈出院115例，现有确诊病例57例。</p>",
            12,
        );
        assert!(matches!(
            compare(&am, &pm, &FoldConfig::default()).1,
            Verdict::Conflict(_)
        ));
    }

    #[test]
    fn identical_titles_days_apart_are_different_stories() {
        let a = features("国家卫生健康委通报最新疫情", "", 0);
        let b = features("国家卫生健康委通报最新疫情", "", 24);
        assert!(!compare(&a, &b, &FoldConfig::default()).1.is_same());
        let c = features("国家卫生健康委通报最新疫情", "", 2);
        assert!(compare(&a, &c, &FoldConfig::default()).1.is_same());
    }

    #[test]
    fn beyond_the_window_only_a_republication_folds() {
        let a = features("t", FULL, 0);
        let late = features("t", FULL, 24 * 80);
        assert!(compare(&a, &late, &FoldConfig::default()).1.is_same());
        let summary = features(
            "t",
            "<p>1月6日，疫情防控工作视频会议在西安市疫情防控指挥部召开。省委书记主持会议并讲话。</p>",
            24 * 80,
        );
        assert!(!compare(&a, &summary, &FoldConfig::default()).1.is_same());
    }

    #[test]
    fn english_text_uses_word_shingles() {
        let a = features(
            "Volcano erupts",
            "<p>An undersea volcano erupted near Tonga on Saturday, cutting the islands' only internet cable and sending waves across the Pacific.</p>",
            0,
        );
        let b = features(
            "Tonga volcano",
            "<p>An undersea volcano erupted near Tonga on Saturday, cutting the islands' only internet cable and sending tsunami waves across the Pacific Ocean.</p>",
            3,
        );
        let c = features(
            "Markets",
            "<p>Stocks rallied on Saturday after the central bank left interest rates unchanged and signalled patience.</p>",
            1,
        );
        assert!(compare(&a, &b, &FoldConfig::default()).1.is_same());
        assert!(!compare(&a, &c, &FoldConfig::default()).1.is_same());
    }

    #[test]
    fn clustering_respects_conflicts_and_keeps_stored_stories_apart() {
        use std::collections::HashSet;
        // 0, 1, 2 new; 3 and 4 stored stories. 0~1 strongly, 1~2 weakly but 0 conflicts with 2.
        let edges = [(0, 1, 0.9), (1, 2, 0.6), (0, 3, 0.8), (2, 4, 0.7), (1, 4, 0.5)];
        let conflicts: HashSet<_> = [(0, 2)].into_iter().collect();
        let groups = cluster(5, 3, &[], &edges, &conflicts);
        assert_eq!(groups[0], groups[1]);
        assert_eq!(groups[0], groups[3]);
        assert_eq!(groups[2], groups[4]);
        assert_ne!(groups[0], groups[2]);
        // Order of the edges does not matter.
        let mut reversed = edges;
        reversed.reverse();
        assert_eq!(cluster(5, 3, &[], &reversed, &conflicts), groups);
        // A link holds even against a conflict.
        let linked = cluster(5, 3, &[(0, 2)], &edges, &conflicts);
        assert_eq!(linked[0], linked[2]);
    }

    /// Band keys are what the store keeps, and must not change: these are the keys an item of
    /// the development corpus was stored with before shingle sets were kept in 32 bits.
    #[test]
    fn band_keys_are_those_stored_before() {
        let c = Comparison {
            title: "柳州市举办冬季长跑公益活动".into(),
            body: "近日柳州市在柳江沿岸举办冬季长跑公益活动来自各城区的两千余名市民参加".into(),
            lines: 0,
            removed: 0,
        };
        let f = Features::new(&c, DateTime::<Utc>::UNIX_EPOCH);
        let hex: String = f
            .keys()
            .iter()
            .flat_map(|k| k.to_le_bytes())
            .map(|b| format!("{b:02X}"))
            .collect();
        let stored = [
            "C3E542E5CE4D7B00E650436B8CB7BDBE1D2782357CB08F3B27498BDBF775AD76EAC1FCA1EBB1EB9F2F1161F765963EC9",
            "B4B6A7D5194D9B989022859714E2F149859CF9FBB086D16E6BCEC6316D14BF80FF2B30527D4A2F85DF217A169C92CDFC",
            "C420E4D6DAD169435E09689A1E010C70DAB00BADAB2BA2BAB075EE6844199A3B4F4545C106F3E1C31B790B7FA10F5501",
            "8F17F2B7BA4E848B751C88FF308329BE1AD19DB55EFE381CA441A43BB3090C67D5CE06D4224DE3DC689BC782FE9C0B90",
            "938C66DD48A7C75082574963E850BAF6D960F1482CB3A55BBCC35516941DE2F4E865D6A00006505BFA6A1D366F45FE3F",
            "011C4407597EB37C48EDF0AE6A23D42ACD926F9A4F81AF0AB3F16E00FF765F8DBDC95CA38821B19C44C3A8259AC40010",
            "409C4F41AB78B9B86F16BADD33B60B9E76BDA2215BA4FB5A74DEB65F38FD0FDDAEF3B568563D75E1FF78A2B01D57BDAF",
            "09893984C749F0584F7E6836DAEF0D7C2797A144FFE7BC2D0FB7A3AFE16B221155C593677CAB93B922BCD3100E66DA6E",
        ]
        .concat();
        assert_eq!(hex, stored);
        assert_eq!(f.band_keys().len(), 48);
        assert_eq!(f.query_keys(), f.keys()[..40]);
        assert!(f.body.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    }

    /// Copies found through [`Postings`] and judged are grouped into one story by [`cluster`],
    /// an unrelated item stays apart: the folding pass's core, in memory.
    #[test]
    fn postings_and_cluster_put_copies_in_one_story() {
        let docs = [
            features("a", FULL, 0),
            features(
                "b",
                "<p>Unrelated English text about markets and interest rates and the weather today.</p>",
                1,
            ),
            features("c", &FULL.replace("省长讲话", "省长赵一德讲话"), 2),
        ];
        let lookups: Vec<Vec<i64>> = docs.iter().map(Features::lookup_keys).collect();
        let mut postings = Postings::for_keys(lookups.iter().flatten(), 0);
        for (node, d) in docs.iter().enumerate() {
            postings.add(node as u32, index_keys(d.keys()));
        }
        postings.finish();
        let ids: Vec<i64> = (0..docs.len() as i64).collect();
        let mut count = vec![0u32; docs.len()];
        let cfg = FoldConfig::default();
        let mut edges = Vec::new();
        for (i, query) in lookups.iter().enumerate() {
            let mut query = query.clone();
            query.sort_unstable();
            query.dedup();
            let ranked = postings.ranked(&query, &ids, &mut count, 64);
            assert_eq!(
                ranked.first(),
                Some(&(i as u32)),
                "an item is its own first candidate"
            );
            for &k in &ranked[1..] {
                let (sim, verdict) = judge(&docs[i], &docs[k as usize], &cfg);
                if verdict.is_same() {
                    edges.push((i.min(k as usize), i.max(k as usize), sim.score()));
                }
            }
        }
        let groups = cluster(
            docs.len(),
            docs.len(),
            &[],
            &edges,
            &std::collections::HashSet::new(),
        );
        assert_eq!(groups[0], groups[2]);
        assert_ne!(groups[0], groups[1]);
    }

    /// The inverted index ranks what a scan of every item's keys would: items by how many of
    /// the query's distinct keys they have (counting a key as often as the item lists it), then
    /// by id, at most `limit`; keys of either sign, and many keys under one 16-bit prefix.
    #[test]
    fn postings_rank_as_a_scan_would() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // A small key space so items share keys; half the keys under one prefix.
        let pool: Vec<i64> = (0..400)
            .map(|i| {
                let r = next();
                if i % 2 == 0 {
                    (r & 0xffff_ffff) as i64 | (0x7ab3 << 48)
                } else {
                    r as i64
                }
            })
            .collect();
        let items: Vec<Vec<i64>> = (0..300)
            .map(|_| (0..12).map(|_| pool[(next() % 400) as usize]).collect())
            .collect();
        let ids: Vec<i64> = (0..300).map(|i| 1_000 - i as i64 * 3).collect();
        let queries: Vec<Vec<i64>> = (0..40)
            .map(|_| {
                let mut q: Vec<i64> = (0..10).map(|_| pool[(next() % 400) as usize]).collect();
                q.push(next() as i64); // a key no item has
                q.sort_unstable();
                q.dedup();
                q
            })
            .collect();
        let mut postings = Postings::for_keys(queries.iter().flatten(), 440);
        for (node, keys) in items.iter().enumerate() {
            postings.add(node as u32, keys.iter().copied());
        }
        postings.finish();
        let mut count = vec![0u32; items.len()];
        for q in &queries {
            let mut expected: Vec<(std::cmp::Reverse<u32>, i64, u32)> = items
                .iter()
                .enumerate()
                .filter_map(|(node, keys)| {
                    let shared = keys.iter().filter(|k| q.contains(k)).count() as u32;
                    (shared > 0).then_some((std::cmp::Reverse(shared), ids[node], node as u32))
                })
                .collect();
            expected.sort_unstable();
            expected.truncate(7);
            let expected: Vec<u32> = expected.into_iter().map(|(_, _, node)| node).collect();
            assert_eq!(postings.ranked(q, &ids, &mut count, 7), expected);
            assert!(count.iter().all(|&c| c == 0));
        }
    }
}
