//! The pipeline: the stages of work that `fetch` and the daemon share, each written once.
//!
//! One source, in order, on the task that fetched it:
//!
//! - [`fetch`]: the leases of the sources a process fetches, taken and given back (the one lease
//!   path of `fetch` and the daemon's schedule); then one source fetched, decoded and parsed,
//!   handed to [`ingest`], and its outcome recorded in the store ([`fetch::source`]);
//! - [`fulltext`]: for sources that want full text, each new item's page fetched and its
//!   article made the item's content, before [`ingest`];
//! - [`ingest`]: a fetch's items worked out into the rows the store writes (sanitised HTML,
//!   text lines, comparison text, exact keys, fold features, band keys, one-copy regions), the
//!   rows written, and what the folding pass needs of them kept in a [`ingest::ReadyMap`].
//!
//! Then, over every source:
//!
//! - [`fold`]: the folding pass over the items waiting in the store, with the features the
//!   [`ingest::ReadyMap`] holds, for `fetch` and the daemon;
//! - [`explain`]: why an item is in its story, compared from the rows the store reads
//!   (`feedfold explain`);
//! - [`publish`]: an output's entries selected from the store and rendered, the one render path
//!   of output files, the daemon's rendered outputs and its ad-hoc views.
//! - [`prune`]: retention: the items older than their `keep` that no output shows, deleted
//!   from the store in bounded batches (`fetch` after writing the outputs, the daemon after a
//!   folding pass, at most hourly).
//!
//! [`crate::run`] (the `fetch` job) and [`crate::serve`] (the daemon) only schedule these.

pub mod explain;
pub mod fetch;
pub mod fold;
pub mod fulltext;
pub mod ingest;
pub mod prune;
pub mod publish;
