//! feedfold: a feed aggregator and republisher.
//!
//! Operators list sources (RSS 0.9x / 1.0 / 2.0, Atom, JSON Feed) in a TOML file; feedfold fetches
//! them, stores the items, folds duplicates across sources and republishes merged feeds as
//! RSS 2.0, Atom 1.0 and JSON Feed 1.1. The `feedfold` binary is a thin shell over this library.
//!
//! The order of work is in one place, [`pipeline`]; `feedfold fetch` ([`run`]) and
//! `feedfold serve` ([`serve`]) only schedule it. Each stage names the modules whose pure
//! transforms it calls, and the store only reads and writes rows:
//!
//! ```text
//!  config/*.toml ─► Config (every problem reported at once)                config
//!         │
//!  pipeline::fetch    leases; per source: conditional GET with caps,       source
//!         │           decode (BOM > prolog > HTTP charset > sniff), parse ─► Item
//!         │           (or a list page's links ─► Item)
//!         ▼
//!  pipeline::fulltext for sources that want it: new items' pages fetched   source::page
//!         │           (same client, guard, caps), article extracted ─► content
//!         ▼
//!  pipeline::ingest   on the fetching task, per item, once: sanitised      html, transform
//!         │           HTML, text lines, comparison text, exact keys, fold
//!         │           features, band keys, one-copy regions ─► rows
//!         ▼
//!  store              rows written (SQLite group commit, or PostgreSQL)    store
//!         │           features kept in memory for the pass (ReadyMap)
//!         ▼
//!  pipeline::fold     waiting items ─► candidates (Postings) ─► judge ─►   transform::fold,
//!         │           cluster ─► story ids ─► regions, in one store        transform::region
//!         │           transaction (store::FoldTx)
//!         ▼
//!  pipeline::publish  per output, side by side: rows ─► output::Selector   output
//!         │           (dedup, regions, keywords, limit) ─► RSS / Atom /
//!         │           JSON Feed ─► files (atomic) or the daemon's memory
//!         ▼
//!  pipeline::prune    retention: items older than their `keep` that no     store
//!                     output shows ─► deleted in bounded batches, with
//!                     their rows (tombstones keep them from coming back)
//! ```
//!
//! [`run::fetch_all`] runs one fetch cycle over every source and one folding pass;
//! [`run::publish`] writes every output that changed. [`pipeline::explain`] answers
//! `feedfold explain` from the same comparison the folding pass uses.
//! [`opml`] appends a feed reader's subscriptions to a config and exports the sources as OPML.

pub mod atomic;
pub mod config;
pub mod html;
pub mod model;
pub mod opml;
pub mod output;
pub mod pipeline;
pub mod redact;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod source;
pub mod store;
pub mod transform;

/// Installs the process-wide TLS crypto provider (rustls on ring).
///
/// reqwest is built without a provider of its own to keep one TLS stack; building a client before a
/// provider is installed panics. Calling this more than once is harmless.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
