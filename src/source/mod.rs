//! Sources: getting a feed's bytes and turning them into [`Item`](crate::model::Item)s.
//!
//! In: a [`SourceConfig`](crate::config::SourceConfig) and the validators stored from the last
//! fetch. Out: new items, or "not modified", or an error naming the source's URL.
//!
//! - [`http`]: fetching over HTTP(S) with conditional GET, timeouts, caps on the compressed and
//!   decompressed body and on redirects, or reading a local file;
//! - [`request`]: per-source headers, cookies, user agent, credentials from the environment or
//!   files (sent only to a source's own origin) and proxy;
//! - [`guard`]: which addresses a fetch may connect to (no redirects to private addresses, never
//!   metadata or link-local ones);
//! - [`discover`]: the feed an HTML page links to, when a source gives a page;
//! - [`decode`]: bytes to UTF-8 text (BOM, XML prolog, HTTP charset, then detection);
//! - [`page`]: an article page's body (readability, or the source's CSS selectors, then the
//!   generic furniture rules), and the items a list page links to;
//! - [`parse`]: text to items through feed-rs, with repair-and-retry, lenient dates and caps on
//!   items and field lengths;
//! - `legacy`: legacy and irregular forms (Atom 0.3, RSS without a version, XHTML bodies, CDF,
//!   HTML entities) rewritten into documents feed-rs reads, before [`parse`] hands them to it.

pub mod decode;
pub mod discover;
mod extras;
pub mod guard;
pub mod http;
mod legacy;
pub mod page;
pub mod parse;
pub mod request;
