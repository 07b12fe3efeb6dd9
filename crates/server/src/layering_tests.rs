//! The layers keep to their sides: the application layer knows nothing of HTTP, and the
//! pages reach the rules through it, never through an API handler, JSON read back or a
//! transaction of their own.

use std::path::{Path, PathBuf};

fn sources(folder: &str) -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(folder);
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a source file");
            (path, text)
        })
        .collect();
    found.sort();
    assert!(found.len() > 3, "{} holds the sources", dir.display());
    found
}

fn offences(folder: &str, forbidden: &[&str]) -> Vec<String> {
    sources(folder)
        .iter()
        .flat_map(|(path, text)| {
            text.lines().enumerate().filter_map(move |(n, line)| {
                let code = line.split("//").next().unwrap_or_default();
                forbidden
                    .iter()
                    .find(|word| code.contains(*word))
                    .map(|word| format!("{}:{}: {word}", path.display(), n + 1))
            })
        })
        .collect()
}

#[test]
fn the_application_layer_knows_nothing_of_http() {
    let found = offences("app", &["axum", "http::", "crate::api", "crate::pages", "crate::edge", "ApiError"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn pages_call_use_cases_not_api_handlers() {
    let found = offences("pages", &["crate::api", "serde_json", "ApiJson", "begin(", "begin_read("]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn api_handlers_open_no_transactions_of_their_own() {
    let found = offences("api", &["begin(", "begin_read("]);
    assert!(found.is_empty(), "{found:#?}");
}
