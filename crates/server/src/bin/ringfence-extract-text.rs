//! The text extractor's child side on its own, exactly what `ringfence extract-text` runs:
//! a program of this crate so that its tests can start it (`CARGO_BIN_EXE_*` names only a
//! package's own programs). Deployments use `ringfence` itself.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, content_type] if flag == "--content-type" => {
            ringfence_server::extractor::child(content_type, None)
        }
        [flag, content_type, page_flag, page] if flag == "--content-type" && page_flag == "--page" => {
            match page.parse() {
                Ok(page) => ringfence_server::extractor::child(content_type, Some(page)),
                Err(_) => ExitCode::from(2),
            }
        }
        _ => {
            eprintln!("usage: ringfence-extract-text --content-type TYPE [--page N] < FILE > TEXT or PNG");
            ExitCode::from(2)
        }
    }
}
