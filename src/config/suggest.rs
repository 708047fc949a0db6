//! "Did you mean …?": the closest of the words a config allows to a word it does not.
//!
//! In: a word as written (an unknown key, section, value or URL scheme) and the words allowed in
//! its place. Out: the allowed word most like it, when one is like it enough
//! ([`closest`]), and the end of a message that offers it or lists them all ([`hint`]).
//!
//! Likeness is Jaro–Winkler similarity (strsim), which weighs a shared beginning, so plurals,
//! dropped letters and swapped letters (`region` / `regions`, `timout`, `fecth`) score high and
//! unrelated short words (`ftp` / `http`, `tz` / `timezone`) low; `-` and `_` count as the same.

/// Similarity at or above which a word is offered.
const LIKE_ENOUGH: f64 = 0.8;

/// The word of `allowed` most like `word`, when one is like it enough.
pub(super) fn closest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let fold = |w: &str| w.trim().to_ascii_lowercase().replace('-', "_");
    most_alike(word, allowed.iter().copied(), fold, LIKE_ENOUGH)
}

/// The candidate most like `word` by Jaro–Winkler similarity of the two as `fold` writes them,
/// when it is at least `at_least`: the one measure of likeness for keys, values and names.
pub(crate) fn most_alike<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    fold: impl Fn(&str) -> String,
    at_least: f64,
) -> Option<&'a str> {
    let word = fold(word);
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(&word, &fold(candidate)), candidate))
        .filter(|&(score, _)| score >= at_least)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// The end of a message about `word`, which `allowed` does not hold: `: did you mean `x`?` when
/// one is like it, else `, expected one of `a`, `b`, …`.
pub(super) fn hint(word: &str, allowed: &[&str]) -> String {
    match closest(word, allowed) {
        Some(like) => format!(": did you mean `{like}`?"),
        None => format!(
            ", expected one of {}",
            allowed
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likely_typos_are_offered_and_other_words_are_not() {
        let output = [
            "name",
            "title",
            "limit",
            "dedup",
            "regions",
            "exclude_regions",
            "keywords",
        ];
        assert_eq!(closest("region", &output), Some("regions"));
        assert_eq!(closest("regoins", &output), Some("regions"));
        assert_eq!(closest("dedupe", &output), Some("dedup"));
        assert_eq!(closest("Exclude-Region", &output), Some("exclude_regions"));
        assert_eq!(closest("colour", &output), None);
        let schemes = ["http", "https", "file"];
        assert_eq!(closest("htp", &schemes), Some("http"));
        assert_eq!(closest("htps", &schemes), Some("https"));
        assert_eq!(closest("ftp", &schemes), None);
        assert_eq!(closest("stories", &["story", "exact", "off"]), Some("story"));
        assert_eq!(closest("fuzzy", &["story", "exact", "off"]), None);
        assert_eq!(
            hint("exat", &["story", "exact", "off"]),
            ": did you mean `exact`?"
        );
        assert_eq!(
            hint("fuzzy", &["story", "exact", "off"]),
            ", expected one of `story`, `exact`, `off`"
        );
    }
}
