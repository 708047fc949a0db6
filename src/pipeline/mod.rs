//! The pipeline: the stages of work that `fetch` and the daemon share, each written once.
//!
//! - [`explain`]: why an item is in its story, compared from the rows the store reads;
//! - [`fetch`]: the leases of the sources a process fetches, taken and given back, the one lease
//!   path of `fetch` and the daemon's schedule;
//! - [`fold`]: the folding pass over the items waiting in the store, for `fetch` and the daemon;
//! - [`publish`]: an output's entries selected from the store and rendered, the one render path
//!   of output files, the daemon's rendered outputs and its ad-hoc views.
//!
//! (Fetching and ingesting a source are still driven from [`crate::run`] and [`crate::serve`];
//! issue 16 moves them here.)

pub mod explain;
pub mod fetch;
pub mod fold;
pub mod publish;
