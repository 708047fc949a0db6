//! Publishing: an output's entries, selected from the store and rendered.
//!
//! In: the store, an output's sources and [`Selection`], and what to render: pairs of feed
//! metadata (which carries the self link) and format. Out: the bytes of each pair, in the order
//! asked, or a [`RenderError`]. The selection reads the store once for all pairs ([`entries`]:
//! the light rows of the sources' items, then in full only the items the
//! [`Selector`] asks for); the rendering runs off the async workers, so a large output does not
//! hold up requests or fetches.
//!
//! `fetch` writes the bytes to files ([`crate::run::publish`]), the daemon keeps them in memory
//! for its feeds and renders its ad-hoc views (`?region=`, `?q=`) through the same function.
//! The daemon selects its outputs' entries with [`entries`] and renders them with
//! [`render_entries`], so its index page lists the stories the feeds carry.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::output::{self, Entry, FeedMeta, Format, OutputError, Selection, Selector};
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
    let entries = Arc::new(entries(store, sources, selection).await?);
    render_entries(name, &entries, jobs, now).await
}

/// Entries [`entries`] selected, rendered once per `(meta, format)` of `jobs` (at `now`); the
/// bytes in the order of `jobs`. For a caller that shows the entries too (the daemon's index
/// page lists each output's latest stories from the same selection).
pub async fn render_entries(
    name: &str,
    entries: &Arc<Vec<Entry>>,
    jobs: Vec<(FeedMeta, Format)>,
    now: DateTime<Utc>,
) -> Result<Vec<Vec<u8>>, RenderError> {
    // Each format on a blocking thread of its own: the formats of an output render side by side.
    let tasks: Vec<_> = jobs
        .into_iter()
        .map(|(meta, format)| {
            let entries = Arc::clone(entries);
            tokio::task::spawn_blocking(move || output::render(format, &meta, &entries, now))
        })
        .collect();
    let mut rendered = Vec::with_capacity(tasks.len());
    for task in tasks {
        let bytes = task.await.map_err(|source| OutputError::Unfinished {
            name: name.to_string(),
            source,
        })??;
        rendered.push(bytes);
    }
    Ok(rendered)
}

/// The entries of a selection over the items of `sources`: the same as
/// [`output::select`] over [`Store::items_of`], reading HTML only for the entries considered,
/// except that stories first stored before per-output ids keep their legacy ids
/// ([`Store::legacy_ids_before`]).
pub async fn entries(
    store: &Store,
    sources: &[&str],
    selection: Selection<'_>,
) -> Result<Vec<Entry>, StoreError> {
    Ok(selected(store, sources, selection).await?.finish())
}

/// The ids of every copy of every entry [`entries`] selects (the copy shown and those it lists
/// as "also reported by"): what an output shows, which retention keeps
/// ([`crate::pipeline::prune`]).
pub async fn shown(
    store: &Store,
    sources: &[&str],
    selection: Selection<'_>,
) -> Result<Vec<i64>, StoreError> {
    Ok(selected(store, sources, selection).await?.shown().to_vec())
}

/// A [`Selector`] run to its end over the items of `sources`.
async fn selected<'a>(
    store: &Store,
    sources: &[&str],
    selection: Selection<'a>,
) -> Result<Selector<'a>, StoreError> {
    let mut reads = store.selecting().await?;
    let items = reads.light(sources).await?;
    let mut selector = Selector::new(items, selection, store.legacy_ids_before());
    while let Some(ids) = selector.wanted() {
        selector.give(reads.full(&ids).await?);
    }
    Ok(selector)
}
