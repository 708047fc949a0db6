//! The pipeline: the stages of work that `fetch` and the daemon share, each written once.
//!
//! - [`fold`]: the folding pass over the items waiting in the store, for `fetch` and the daemon;
//! - [`publish`]: an output's entries selected from the store and rendered, the one render path
//!   of output files, the daemon's rendered outputs and its ad-hoc views.
//!
//! (Fetching and ingesting are still driven from [`crate::run`] and [`crate::serve`]; issue 16
//! moves them here.)

pub mod fold;
pub mod publish;
