//! Keyword filters: a small query language over an item's text (being written).
