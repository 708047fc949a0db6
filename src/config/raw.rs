//! Reading a config document into raw sections, and collecting the problems found on the way.
//!
//! In: the parsed TOML document (already free of syntax errors) and a [`Collector`] holding the
//! file's text. Out: [`Sections`], every top-level section deserialised into its `Raw*` struct
//! (as written: nothing converted or checked beyond types and unknown keys) with its place in
//! the file, so the checks in [`super::check`] can point at a key's line. Problems (wrong types,
//! unknown keys, a `source` or `output` that is not an array of tables) go to the collector;
//! a section that does not deserialise reads as its defaults, an array element as `None`.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{Dedup, Problem, parse_duration};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) url: Option<String>,
    pub(super) keep: Option<RawDuration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFetch {
    pub(super) concurrency: Option<i64>,
    pub(super) timeout: Option<RawDuration>,
    pub(super) connect_timeout: Option<RawDuration>,
    pub(super) max_body: Option<RawSize>,
    pub(super) max_compressed_body: Option<RawSize>,
    pub(super) max_items: Option<i64>,
    pub(super) allow_private: Option<bool>,
    pub(super) max_redirects: Option<i64>,
    pub(super) user_agent: Option<String>,
    pub(super) default_timezone: Option<String>,
    pub(super) interval: Option<RawDuration>,
    pub(super) per_host: Option<i64>,
    pub(super) max_backoff: Option<RawDuration>,
    pub(super) max_interval: Option<RawDuration>,
    pub(super) startup_spread: Option<RawDuration>,
    pub(super) lease: Option<RawDuration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) listen: Option<String>,
    pub(super) cache_entries: Option<i64>,
    pub(super) refresh: Option<RawDuration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPublish {
    pub(super) dir: Option<String>,
    pub(super) base_url: Option<String>,
    pub(super) author: Option<String>,
    pub(super) private_dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFold {
    pub(super) window: Option<RawDuration>,
    pub(super) min_jaccard: Option<f64>,
    pub(super) min_containment: Option<f64>,
    pub(super) title_only_window: Option<RawDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) name: String,
    pub(super) url: String,
    pub(super) timezone: Option<String>,
    pub(super) region: Option<String>,
    pub(super) interval: Option<RawDuration>,
    pub(super) allow_private: Option<bool>,
    pub(super) username: Option<String>,
    pub(super) password_env: Option<String>,
    pub(super) password_file: Option<String>,
    pub(super) headers_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) description: Option<String>,
    pub(super) author: Option<String>,
    pub(super) sources: Option<Vec<String>>,
    pub(super) limit: Option<i64>,
    pub(super) dedup: Option<Dedup>,
    pub(super) regions: Option<Vec<String>>,
    pub(super) exclude_regions: Option<Vec<String>>,
    pub(super) keywords: Option<String>,
    pub(super) token: Option<String>,
    pub(super) keep: Option<RawDuration>,
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

    /// Deserialises one section, recording its error (with the innermost key it names) on failure.
    fn section<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue<'_>>, path: &str) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span().unwrap_or_else(|| value.span());
                let key = match value.get_ref().as_table() {
                    Some(table) => {
                        key_at(table, &span).map_or_else(|| path.to_string(), |k| format!("{path}.{k}"))
                    }
                    None => path.to_string(),
                };
                let message = e.message().trim().to_string();
                self.push(Some(span), key, message);
                None
            }
        }
    }
}

/// The key of `table` whose key or value covers `span`.
fn key_at(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    table.iter().find_map(|(k, v)| {
        let covers = |s: Range<usize>| s.start <= span.start && span.start < s.end.max(s.start + 1);
        (covers(k.span()) || covers(v.span())).then(|| k.get_ref().to_string())
    })
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
    /// Its keys; `None` when it did not deserialise (the problem is reported already).
    pub(super) raw: Option<T>,
    /// The element's table in the file.
    value: Spanned<DeValue<'a>>,
    /// Its key path, such as `source[2]`.
    pub(super) path: String,
}

impl<T> Element<'_, T> {
    /// The span of the value of `key` in the element's table.
    pub(super) fn span(&self, key: &str) -> Option<Range<usize>> {
        value_span(self.value.get_ref().as_table(), key)
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

/// Reads the top-level keys of `doc` into their sections, reporting unknown keys and every
/// section that does not deserialise.
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
                    let path = format!("{section}[{i}]");
                    if section == "source" {
                        sections.sources.push(c.element(element, path));
                    } else {
                        sections.outputs.push(c.element(element, path));
                    }
                }
            }
            other => c.push(
                Some(key.span()),
                other,
                "unknown key, expected one of `store`, `fetch`, `publish`, `fold`, `server`, `source`, `output`",
            ),
        }
    }
    sections
}

impl Collector<'_> {
    /// Reads a table section, its defaults when it does not deserialise.
    fn table<'a, T: DeserializeOwned + Default>(
        &mut self,
        value: &Spanned<DeValue<'a>>,
        path: &str,
    ) -> Section<'a, T> {
        Section {
            raw: self.section(value, path).unwrap_or_default(),
            value: Some(value.clone()),
        }
    }

    /// Reads one element of an array of tables.
    fn element<'a, T: DeserializeOwned>(
        &mut self,
        value: &Spanned<DeValue<'a>>,
        path: String,
    ) -> Element<'a, T> {
        Element {
            raw: self.section(value, &path),
            value: value.clone(),
            path,
        }
    }
}
