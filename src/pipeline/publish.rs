//! Publishing: an output's entries, selected from the store and rendered.
//!
//! In: the store, an output's sources and [`Selection`], and what to render: pairs of feed
//! metadata (which carries the self link) and format. Out: the bytes of each pair, in the order
//! asked, or a [`RenderError`]. The selection reads the store once for all pairs; the rendering
//! runs off the async workers, so a large output does not hold up requests or fetches.
//!
//! `fetch` writes the bytes to files ([`crate::run::publish`]), the daemon keeps them in memory
//! for its feeds and renders its ad-hoc views (`?region=`, `?q=`) through the same function.

use chrono::{DateTime, Utc};

use crate::output::{self, FeedMeta, Format, OutputError, Selection};
use crate::store::{Store, StoreError};

/// Why an output could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Selecting its entries failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing a format failed, or the rendering task did not finish.
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// The entries `selection` picks from `sources`, rendered once per `(meta, format)` of `jobs`
/// (at `now`); the bytes in the order of `jobs`. `name` is the output's, for errors.
pub async fn render(
    store: &Store,
    name: &str,
    sources: &[&str],
    selection: Selection<'_>,
    jobs: Vec<(FeedMeta, Format)>,
    now: DateTime<Utc>,
) -> Result<Vec<Vec<u8>>, RenderError> {
    let entries = store.entries(sources, selection).await?;
    let rendered = tokio::task::spawn_blocking(move || {
        jobs.iter()
            .map(|(meta, format)| output::render(*format, meta, &entries, now))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|source| OutputError::Unfinished {
        name: name.to_string(),
        source,
    })??;
    Ok(rendered)
}
