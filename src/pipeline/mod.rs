//! The pipeline: the stages of work that `fetch` and the daemon share, each written once.
//!
//! - [`publish`]: an output's entries selected from the store and rendered, the one render path
//!   of output files, the daemon's rendered outputs and its ad-hoc views.
//!
//! (Fetching, ingesting and folding are still driven from [`crate::run`] and
//! [`crate::serve`]; issue 16 moves them here.)

pub mod publish;
