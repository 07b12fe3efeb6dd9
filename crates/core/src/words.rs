//! Small helpers for text people read.

/// The text with its first letter in upper case: "opens matters" → "Opens matters".
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
