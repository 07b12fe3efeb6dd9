//! Words for the search index, and the snippet shown around a hit.
//!
//! A term is a run of letters and digits, lower-cased, 2 to 64 characters long. Search
//! matches whole terms: "settle" finds "Settle," but not "settlement".

use std::collections::{BTreeSet, HashSet};

const MIN_TERM_CHARS: usize = 2;
const MAX_TERM_CHARS: usize = 64;
/// Terms a query may hold: every term must match.
pub const MAX_QUERY_TERMS: usize = 8;
const SNIPPET_CHARS: usize = 160;
/// Distinct terms indexed for one record (matter, note or document) at most: a text of
/// hundreds of thousands of distinct words must not hold the firm's writer while its
/// index is written. Terms past the cap, in order of first appearance, are not indexed.
pub const MAX_RECORD_TERMS: usize = 20_000;

fn raw_terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| (MIN_TERM_CHARS..=MAX_TERM_CHARS).contains(&word.chars().count()))
        .map(str::to_lowercase)
}

/// The distinct terms of a text, for indexing it.
pub fn terms(text: &str) -> BTreeSet<String> {
    raw_terms(text).collect()
}

/// The distinct terms of a text for the index, in order of first appearance, at most
/// `cap` of them.
pub fn index_terms(text: &str, cap: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for term in raw_terms(text) {
        if out.len() >= cap {
            break;
        }
        if seen.insert(term.clone()) {
            out.push(term);
        }
    }
    out
}

/// The terms of a search query; an error names what is wrong with it.
pub fn query_terms(query: &str) -> Result<Vec<String>, &'static str> {
    let terms: Vec<String> = terms(query).into_iter().collect();
    if terms.is_empty() {
        return Err("q: at least one word of two or more letters or digits");
    }
    if terms.len() > MAX_QUERY_TERMS {
        return Err("q: at most 8 words");
    }
    Ok(terms)
}

/// A short extract of `text` around the first of `terms` it contains (or its start),
/// on whitespace-collapsed text.
pub fn snippet(text: &str, terms: &[String]) -> String {
    let flat: Vec<char> = text.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect();
    let lower: String = flat.iter().flat_map(|c| c.to_lowercase()).collect();
    // Lower-casing can change lengths (rare): then the hit's position is approximate.
    let hit = terms
        .iter()
        .filter_map(|t| lower.find(t.as_str()).map(|byte| lower[..byte].chars().count()))
        .min()
        .unwrap_or(0);
    let start = hit.saturating_sub(SNIPPET_CHARS / 3).min(flat.len());
    let end = (start + SNIPPET_CHARS).min(flat.len());
    let mut out: String = flat[start..end].iter().collect();
    if start > 0 {
        out.insert(0, '…');
    }
    if end < flat.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercased_words_of_letters_and_digits() {
        let found = terms("Settle, SETTLE! the R2-D2 case; a Müller-Lüdenscheidt x");
        let want: BTreeSet<String> = ["settle", "the", "r2", "d2", "case", "müller", "lüdenscheidt"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(found, want);
    }

    #[test]
    fn index_terms_are_distinct_capped_and_in_order_of_appearance() {
        assert_eq!(index_terms("bb aa BB cc aa dd", 3), ["bb", "aa", "cc"]);
        let many: String = (0..50).map(|i| format!("w{i} ")).collect();
        assert_eq!(index_terms(&many, 10).len(), 10);
        assert_eq!(index_terms(&many, 10)[9], "w9");
    }

    #[test]
    fn queries_need_one_to_eight_terms() {
        assert_eq!(query_terms("Red  car"), Ok(vec!["car".to_owned(), "red".to_owned()]));
        assert!(query_terms("a ! ?").is_err());
        assert!(query_terms("one two three four five six seven eight nine").is_err());
    }

    #[test]
    fn snippets_surround_the_first_hit() {
        let text = format!("{} the witness saw the red car {}", "lorem ".repeat(50), "ipsum ".repeat(50));
        let cut = snippet(&text, &["witness".to_owned()]);
        assert!(cut.starts_with('…') && cut.ends_with('…'));
        assert!(cut.contains("the witness saw the red car"));
        assert!(cut.chars().count() <= SNIPPET_CHARS + 2);
        assert_eq!(snippet("short\n\ntext", &["none".to_owned()]), "short text");
    }
}
