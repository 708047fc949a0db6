//! The daemon's Prometheus metrics, every series named `feedfold_…`.
//!
//! In: events from the scheduler (fetch results and durations, failures in a row, dead
//! sources), the store's totals, and HTTP requests by route and status. Out: the OpenMetrics
//! text served at `/metrics`.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The label of a fetch result.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// The label of one source.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

/// The labels of one source's failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    source: String,
    reason: &'static str,
}

/// The labels of an HTTP request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

/// Every metric the daemon keeps.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    fetches: Family<ResultLabel, Counter>,
    fetch_seconds: Histogram,
    items: Gauge,
    stories: Gauge,
    source_failures: Family<SourceLabel, Gauge>,
    source_failed: Family<FailureLabels, Counter>,
    /// The label sets of `source_failed`, so a removed source's can be dropped.
    failed_labels: Mutex<HashSet<FailureLabels>>,
    sources_dead: Gauge,
    requests: Family<RequestLabels, Counter>,
    renders: Counter,
    pages: Family<ResultLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every series.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("feedfold");
        let fetches = Family::<ResultLabel, Counter>::default();
        registry.register(
            "fetches",
            "Source fetches by result (stored, not_modified, failed)",
            fetches.clone(),
        );
        let fetch_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register(
            "fetch_duration_seconds",
            "Time to fetch, parse and store one source",
            fetch_seconds.clone(),
        );
        let items = Gauge::default();
        registry.register("items", "Items in the store", items.clone());
        let stories = Gauge::default();
        registry.register("stories", "Stories (folded groups) in the store", stories.clone());
        let source_failures = Family::<SourceLabel, Gauge>::default();
        registry.register(
            "source_consecutive_failures",
            "Failed fetches in a row, per source (0 once it succeeds)",
            source_failures.clone(),
        );
        let source_failed = Family::<FailureLabels, Counter>::default();
        registry.register(
            "source_failures",
            "Failed fetches per source, by kind of failure (timeout, http_status, too_large, tls, private_address, html_page, parse, …)",
            source_failed.clone(),
        );
        let sources_dead = Gauge::default();
        registry.register(
            "sources_dead",
            "Sources the server said are gone (HTTP 410), no longer fetched",
            sources_dead.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by route and status",
            requests.clone(),
        );
        let renders = Counter::default();
        registry.register(
            "output_renders",
            "Outputs rendered after their stories changed",
            renders.clone(),
        );
        let pages = Family::<ResultLabel, Counter>::default();
        registry.register(
            "full_text_fetches",
            "Item pages fetched for full text, by result (ok, not_modified, timeout, too_large, private_address, http_status, no_article, …)",
            pages.clone(),
        );
        Metrics {
            registry,
            pages,
            fetches,
            fetch_seconds,
            items,
            stories,
            source_failures,
            source_failed,
            failed_labels: Mutex::default(),
            sources_dead,
            requests,
            renders,
        }
    }

    /// Counts a fetch.
    pub fn fetched(&self, result: &'static str, elapsed: Duration) {
        self.fetches.get_or_create(&ResultLabel { result }).inc();
        self.fetch_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts a source's page fetches (full text), by result.
    pub fn pages_fetched(&self, counts: &crate::pipeline::fulltext::PageCounts) {
        for (&result, &n) in counts {
            self.pages
                .get_or_create(&ResultLabel { result })
                .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
        }
    }

    /// Sets a source's failures in a row.
    pub fn source_failures(&self, source: &str, failures: u32) {
        self.source_failures
            .get_or_create(&SourceLabel {
                source: source.to_string(),
            })
            .set(i64::from(failures));
    }

    /// Counts a failed fetch of a source, by its kind of failure.
    pub fn source_failed(&self, source: &str, reason: &'static str) {
        let labels = FailureLabels {
            source: source.to_string(),
            reason,
        };
        self.source_failed.get_or_create(&labels).inc();
        self.failed_labels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(labels);
    }

    /// Forgets a removed source.
    pub fn forget_source(&self, source: &str) {
        self.source_failures.remove(&SourceLabel {
            source: source.to_string(),
        });
        self.failed_labels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|labels| {
                let keep = labels.source != source;
                if !keep {
                    self.source_failed.remove(labels);
                }
                keep
            });
    }

    /// Sets the number of dead sources.
    pub fn dead(&self, count: usize) {
        self.sources_dead.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Sets the store totals.
    pub fn totals(&self, items: i64, stories: i64) {
        self.items.set(items);
        self.stories.set(stories);
    }

    /// Counts an output rendering.
    pub fn rendered(&self) {
        self.renders.inc();
    }

    /// Counts an HTTP request.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// The OpenMetrics text of every series.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_named_feedfold() {
        let m = Metrics::new();
        m.fetched("stored", Duration::from_millis(30));
        m.source_failures("a", 3);
        m.source_failed("a", "timeout");
        m.source_failed("a", "timeout");
        m.source_failed("b", "tls");
        m.request("/feeds/{file}", 200);
        m.totals(10, 7);
        let text = m.encode();
        assert!(
            text.contains("feedfold_fetches_total{result=\"stored\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("feedfold_source_consecutive_failures{source=\"a\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("feedfold_http_requests_total{route=\"/feeds/{file}\",status=\"200\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("feedfold_source_failures_total{source=\"a\",reason=\"timeout\"} 2"),
            "{text}"
        );
        m.forget_source("a");
        let text = m.encode();
        assert!(!text.contains("source=\"a\""), "{text}");
        assert!(
            text.contains("feedfold_source_failures_total{source=\"b\",reason=\"tls\"} 1"),
            "{text}"
        );
        assert!(text.contains("feedfold_items 10") && text.contains("feedfold_stories 7"));
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            assert!(line.starts_with("feedfold_"), "{line}");
        }
    }
}
