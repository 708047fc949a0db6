//! The one integration-test binary. Every test runs against a loopback origin and a store in a
//! temporary folder; nothing here reaches the network.
//!
//! - `fetch`: formats, encodings, repair, conditional GET, redirects, limits, failures, updates;
//! - `output`: merged outputs in three formats, exact dedup across sources, re-parsing;
//! - `cli`: the binary's commands, exit codes and config error reports;
//! - `hostile`: bombs, caps, entities, deep nesting, lying charsets, network faults, HTML pages,
//!   the address guard on redirects, and failures that stay local;
//! - `serve`: the daemon over HTTP: feeds, validators, compression, tokens, filters, index,
//!   metrics, reload and shutdown;
//! - `opml`: OPML import into a config file on disk;
//! - `requests`: per-source headers, cookies and user agent sent to the source's own origin
//!   only; proxies used, bypassed, and never sent a hop the address guard refuses;
//! - `scale`: several daemons and `fetch` runs sharing one store: leases, one story, outputs;
//! - `secrets`: credentials masked on every surface, and sent only to a source's own origin;
//! - `store`: opening a store: many processes creating one at once (SQLite, PostgreSQL), and
//!   a database that cannot be reached failing fast with its cause;
//! - `retention`: `keep`: old items pruned with their rows on a simulated clock, what outputs
//!   show kept, pruned items not stored again, the SQLite file shrinking; by `fetch` and the
//!   daemon (SQLite, PostgreSQL);
//! - `select`: selection on light columns gives the entries of the full one (SQLite, PostgreSQL);
//! - `fulltext`: full text on a loopback site: summary-only feeds and list pages given their
//!   articles, folded and tagged by them, unchanged pages never fetched again, hostile pages
//!   failing alone;
//! - `fuzz_seeds`: the fuzz targets' seed corpora through the fuzzers' own harness;
//! - `templated`: templated look-alikes kept apart, their copies folded, in any arrival order
//!   and by runs at once on PostgreSQL;
//! - `xss`: XSS filter-evasion vectors in every position of every input format, none surviving.

#![allow(unreachable_pub)]

// First: its macros are used by the others.
#[macro_use]
mod support;

mod cli;
mod fetch;
mod fold;
mod fulltext;
mod fuzz_seeds;
mod hostile;
mod opml;
mod output;
mod requests;
mod retention;
mod scale;
mod secrets;
mod select;
mod serve;
mod state;
mod store;
mod templated;
mod xss;
