//! Folding: the items waiting in the store folded into stories, and their regions tagged.
//!
//! In: the store, the config (its `[fold]` settings and the sources' region priors) and the
//! [`ReadyMap`] of what this process stored since the last pass (taken). Out: a
//! [`FoldReport`], or the store's error. The one call of the folding pass for `fetch` (after
//! every source of a cycle is stored) and for the daemon (at start, for what a killed run left
//! waiting, and after each burst of changes); [`fold_logged`] is the daemon's form, which logs
//! a failure and lets the next change try again.

use crate::config::Config;
use crate::pipeline::ingest::ReadyMap;
use crate::store::{FoldReport, Store, StoreError};

/// Folds every item waiting in the store (see [`Store::fold_pending`]), with the features
/// `ready` holds of the items this process stored.
pub async fn fold(store: &Store, cfg: &Config, ready: &ReadyMap) -> Result<FoldReport, StoreError> {
    store
        .fold_pending(&cfg.fold, &cfg.region_priors(), ready.take())
        .await
}

/// [`fold`], logging what it did (`what` names the items, in the log line) or why it failed:
/// a daemon keeps running and folds again after the next change.
pub async fn fold_logged(store: &Store, cfg: &Config, ready: &ReadyMap, what: &str) -> Option<FoldReport> {
    match fold(store, cfg, ready).await {
        Ok(report) => {
            if report.items > 0 {
                tracing::info!(
                    items = report.items,
                    joined = report.joined,
                    stories = report.stories,
                    "folded {what}"
                );
            }
            Some(report)
        }
        Err(e) => {
            tracing::error!(error = %crate::run::error_chain(&e), "folding failed; will retry after the next change");
            None
        }
    }
}
