//! feedfold: a feed aggregator and republisher.
//!
//! Operators list sources (RSS 0.9x / 1.0 / 2.0, Atom, JSON Feed) in a TOML file; feedfold fetches
//! them, stores the items, folds duplicates across sources and republishes merged feeds as
//! RSS 2.0, Atom 1.0 and JSON Feed 1.1. The `feedfold` binary is a thin shell over this library.
//!
//! ```text
//!  config/*.toml ──► Config (validated)                                   config
//!                         │
//!  source: fetch (conditional GET, caps) ─► decode (BOM > prolog > HTTP charset > sniff)
//!                         ─► parse (feed-rs) ─► Item                        source
//!                         │
//!  transform: canonical URLs, exact story keys                              transform
//!                         │
//!                      store (SQLite, or PostgreSQL for several daemons)    store
//!                         │
//!  output: select per output (sources, dedup, limit) ─► RSS / Atom / JSON Feed   output
//! ```
//!
//! [`run::fetch_all`] drives one fetch cycle over every source; [`run::publish`] renders every output.
//! [`pipeline`] holds the stages `fetch` and the daemon share, each written once (so far:
//! [`pipeline::publish`], the one path from the store to rendered outputs).
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
