//! Reading a config document into raw sections, and collecting the problems found on the way.
//!
//! In: the parsed TOML document (already free of syntax errors) and a [`Collector`] holding the
//! file's text. Out: [`Sections`], every top-level section read into its `Raw*` struct (as
//! written: nothing converted or checked beyond types and unknown keys) with its place in the
//! file, so the checks in [`super::check`] can point at a key's line. Each table is read key by
//! key, so every problem of every table is found in one pass: wrong types, unknown keys and
//! sections (each with the allowed name most like it, [`super::suggest`]), a `source` or
//! `output` that is not an array of tables. A key that does not read is left unset.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{Problem, parse_duration, suggest};

/// A config table whose keys are read one at a time, so that a bad value of one key hides no
/// problem of another.
pub(super) trait Table: Default {
    /// The keys the table allows.
    const KEYS: &'static [&'static str];
    /// Reads `value` into the field of `key`; `Ok(false)` when the table has no such key.
    fn set(&mut self, key: &str, value: Spanned<DeValue<'_>>) -> Result<bool, toml::de::Error>;
}

/// A table struct of `Option` fields, one per key, and its [`Table`] impl.
macro_rules! table {
    ($name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Default)]
        pub(super) struct $name {
            $(pub(super) $field: Option<$ty>,)*
        }

        impl Table for $name {
            const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn set(&mut self, key: &str, value: Spanned<DeValue<'_>>) -> Result<bool, toml::de::Error> {
                match key {
                    $(stringify!($field) => {
                        self.$field = Some(<$ty>::deserialize(ValueDeserializer::from(value))?);
                    })*
                    _ => return Ok(false),
                }
                Ok(true)
            }
        }
    };
}

table!(RawStore {
    url: String,
    keep: RawDuration
});

table!(RawFetch {
    concurrency: i64,
    timeout: RawDuration,
    connect_timeout: RawDuration,
    max_body: RawSize,
    max_compressed_body: RawSize,
    max_items: i64,
    allow_private: bool,
    max_redirects: i64,
    user_agent: String,
    headers: Pairs,
    proxy: String,
    default_timezone: String,
    interval: RawDuration,
    per_host: i64,
    max_backoff: RawDuration,
    max_interval: RawDuration,
    startup_spread: RawDuration,
    lease: RawDuration,
    full_text_concurrency: i64,
    full_text_min_chars: i64,
});

table!(RawServer {
    listen: String,
    cache_entries: i64,
    refresh: RawDuration,
});

table!(RawPublish {
    dir: String,
    base_url: String,
    author: String,
    private_dir: String,
});

table!(RawFold {
    window: RawDuration,
    min_jaccard: f64,
    min_containment: f64,
    title_only_window: RawDuration,
});

table!(RawSource {
    name: String,
    url: String,
    timezone: String,
    region: String,
    interval: RawDuration,
    allow_private: bool,
    username: String,
    password_env: String,
    password_file: String,
    headers_file: String,
    headers: Pairs,
    cookies: Pairs,
    user_agent: String,
    proxy: RawProxy,
    kind: String,
    full_text: String,
    content_selector: String,
    remove_selectors: Vec<String>,
    item_selector: String,
    title_selector: String,
    link_selector: String,
    date_selector: String,
});

table!(RawOutput {
    name: String,
    title: String,
    description: String,
    author: String,
    sources: Vec<String>,
    limit: i64,
    dedup: String,
    regions: Vec<String>,
    exclude_regions: Vec<String>,
    keywords: String,
    token: String,
    keep: RawDuration,
});

/// A table of strings (`headers`, `cookies`): each key and value with its place in the file.
pub(super) struct Pairs(pub(super) Vec<(Spanned<String>, Spanned<String>)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Pairs, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table of strings, like { \"X-Api-Key\" = \"…\" }")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// A source's `proxy` as written: a proxy URL, or a boolean (only `false`, no proxy, is valid).
pub(super) enum RawProxy {
    Url(String),
    Flag(bool),
}

impl<'de> Deserialize<'de> for RawProxy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RawProxy, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = RawProxy;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a proxy URL like \"http://proxy.example:3128\", or false")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawProxy, E> {
                Ok(RawProxy::Url(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawProxy, E> {
                Ok(RawProxy::Flag(v))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// A duration: seconds as an integer, or a string such as `"500ms"`, `"30s"`, `"15m"`, `"2h"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawDuration {
    Seconds(i64),
    Text(String),
}

impl RawDuration {
    pub(super) fn get(&self) -> Option<Duration> {
        match self {
            RawDuration::Seconds(s) => u64::try_from(*s).ok().map(Duration::from_secs),
            RawDuration::Text(t) => parse_duration(t),
        }
    }
}

/// A size: bytes as an integer, or a string such as `"512KiB"`, `"10MiB"`, `"1GB"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawSize {
    Bytes(i64),
    Text(String),
}

/// Collects problems while a file is checked, turning byte offsets into line numbers.
pub(super) struct Collector<'a> {
    text: &'a str,
    pub(super) problems: Vec<Problem>,
}

impl<'a> Collector<'a> {
    /// A collector for the problems of `text`, with none yet.
    pub(super) fn new(text: &'a str) -> Self {
        Collector {
            text,
            problems: Vec::new(),
        }
    }

    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(super) fn push(
        &mut self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) {
        let line = span.map(|s| self.line(&s));
        self.problems.push(Problem {
            line,
            key: key.into(),
            message: message.into(),
        });
    }

    /// Reads a table key by key into `T`: an unknown key (with the allowed key most like it)
    /// and every value that does not deserialise are reported, each under `path.key`, and
    /// leave their field unset; the other keys are read all the same.
    fn fields<T: Table>(&mut self, value: &Spanned<DeValue<'_>>, path: &str) -> T {
        let mut raw = T::default();
        let Some(table) = value.get_ref().as_table() else {
            self.push(Some(value.span()), path, "expected a table");
            return raw;
        };
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            match raw.set(name, value.clone()) {
                Ok(true) => {}
                Ok(false) => self.push(
                    Some(key.span()),
                    format!("{path}.{name}"),
                    format!("unknown field `{name}`{}", suggest::hint(name, T::KEYS)),
                ),
                Err(e) => self.push(
                    Some(e.span().unwrap_or_else(|| value.span())),
                    format!("{path}.{name}"),
                    e.message().trim().to_string(),
                ),
            }
        }
        raw
    }
}

/// The span of the value of `key` in `table`.
pub(super) fn value_span(table: Option<&DeTable<'_>>, key: &str) -> Option<Range<usize>> {
    table?
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(_, v)| v.span())
}

/// Spans of the elements of an array value of `table`.
pub(super) fn array_spans(table: Option<&DeTable<'_>>, key: &str) -> Vec<Range<usize>> {
    table
        .and_then(|t| t.iter().find(|(k, _)| k.get_ref() == key))
        .and_then(|(_, v)| {
            v.get_ref()
                .as_array()
                .map(|a| a.iter().map(|e| e.span()).collect())
        })
        .unwrap_or_default()
}

/// One table section (`[fetch]`, …) as written: its defaults when absent or mistyped.
pub(super) struct Section<'a, T> {
    /// The section's keys.
    pub(super) raw: T,
    /// The table in the file, when there is one.
    value: Option<Spanned<DeValue<'a>>>,
}

impl<T: Default> Default for Section<'_, T> {
    fn default() -> Self {
        Section {
            raw: T::default(),
            value: None,
        }
    }
}

impl<T> Section<'_, T> {
    /// The span of the value of `key` in the section's table.
    pub(super) fn span(&self, key: &str) -> Option<Range<usize>> {
        self.value
            .as_ref()
            .and_then(|v| value_span(v.get_ref().as_table(), key))
    }
}

/// One element of an array of tables (`[[source]]`, `[[output]]`) as written.
pub(super) struct Element<'a, T> {
    /// Its keys.
    pub(super) raw: T,
    /// The element's table in the file.
    value: Spanned<DeValue<'a>>,
    /// Its key path, such as `source[2]`.
    pub(super) path: String,
    /// Where it is, for a person: `[[source]] #3`.
    pub(super) position: String,
}

impl<T> Element<'_, T> {
    /// The span of the value of `key` in the element's table.
    pub(super) fn span(&self, key: &str) -> Option<Range<usize>> {
        value_span(self.value.get_ref().as_table(), key)
    }

    /// The span of the element's table.
    pub(super) fn table_span(&self) -> Range<usize> {
        self.value.span()
    }

    /// The spans of the elements of the array value of `key`.
    pub(super) fn array_spans(&self, key: &str) -> Vec<Range<usize>> {
        array_spans(self.value.get_ref().as_table(), key)
    }
}

/// Every top-level section of a config file, as written.
#[derive(Default)]
pub(super) struct Sections<'a> {
    pub(super) store: Section<'a, RawStore>,
    pub(super) fetch: Section<'a, RawFetch>,
    pub(super) publish: Section<'a, RawPublish>,
    pub(super) fold: Section<'a, RawFold>,
    pub(super) server: Section<'a, RawServer>,
    pub(super) sources: Vec<Element<'a, RawSource>>,
    pub(super) outputs: Vec<Element<'a, RawOutput>>,
}

/// The top-level sections a config may have.
const SECTIONS: [&str; 7] = ["store", "fetch", "publish", "fold", "server", "source", "output"];

/// Reads the top-level keys of `doc` into their sections, reporting unknown sections (with the
/// one most like each) and every key of every section that does not read.
pub(super) fn read<'a>(c: &mut Collector<'_>, doc: &DeTable<'a>) -> Sections<'a> {
    let mut sections = Sections::default();
    for (key, value) in doc.iter() {
        match key.get_ref().as_ref() {
            "store" => sections.store = c.table(value, "store"),
            "fetch" => sections.fetch = c.table(value, "fetch"),
            "publish" => sections.publish = c.table(value, "publish"),
            "fold" => sections.fold = c.table(value, "fold"),
            "server" => sections.server = c.table(value, "server"),
            section @ ("source" | "output") => {
                let Some(array) = value.get_ref().as_array() else {
                    c.push(
                        Some(value.span()),
                        section,
                        format!("expected an array of tables ([[{section}]])"),
                    );
                    continue;
                };
                for (i, element) in array.iter().enumerate() {
                    if section == "source" {
                        sections.sources.push(c.element(element, section, i));
                    } else {
                        sections.outputs.push(c.element(element, section, i));
                    }
                }
            }
            other => c.push(
                Some(key.span()),
                other,
                format!("unknown section `{other}`{}", suggest::hint(other, &SECTIONS)),
            ),
        }
    }
    sections
}

impl Collector<'_> {
    /// Reads a table section; keys that do not read keep their defaults.
    fn table<'a, T: Table>(&mut self, value: &Spanned<DeValue<'a>>, path: &str) -> Section<'a, T> {
        Section {
            raw: self.fields(value, path),
            value: Some(value.clone()),
        }
    }

    /// Reads element `index` of the array of tables `section`.
    fn element<'a, T: Table>(
        &mut self,
        value: &Spanned<DeValue<'a>>,
        section: &str,
        index: usize,
    ) -> Element<'a, T> {
        let path = format!("{section}[{index}]");
        Element {
            raw: self.fields(value, &path),
            value: value.clone(),
            path,
            position: format!("[[{section}]] #{}", index + 1),
        }
    }
}
