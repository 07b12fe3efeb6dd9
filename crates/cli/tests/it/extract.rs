//! `ringfence extract-text`, the child the server starts for each new document's text.

use ringfence_server::extractor::{Extractor, SUBCOMMAND};

use super::*;

#[tokio::test]
async fn the_binary_is_its_own_text_extractor() {
    let extractor = Extractor::new(BIN, [SUBCOMMAND]);
    let text = extractor.run("text/plain; charset=utf-8", "Witness statement, page one".as_bytes()).await;
    assert_eq!(text.unwrap().as_deref(), Some("Witness statement, page one"));
    // A file without readable text is not a failure, just no text.
    assert_eq!(extractor.run("application/pdf", b"%PDF-1.7 torn").await.unwrap(), None);

    // Run by hand it needs no settings, data directory or database.
    let mut command = Command::new(BIN);
    command.env_clear().args([SUBCOMMAND, "--content-type", "text/plain"]);
    let output = run(command, Some("plain words"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "plain words");
}
