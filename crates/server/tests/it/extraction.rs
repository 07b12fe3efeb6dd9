//! Text extraction happens in a child process with limits: a hostile file costs at most
//! that child, never the server, and the upload is kept either way.

use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use lopdf::{Document, Object, Stream, dictionary};
use ringfence_core::extract::MAX_TEXT_CHARS;
use ringfence_server::HttpSettings;
use ringfence_server::extractor::{ExtractError, Extractor, Limits};
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::json;

use super::extractor;
use super::sign_in_harness::*;

/// An extractor that is this shell script instead of the real child.
fn script(script: &str) -> Extractor {
    Extractor::new("/bin/sh", ["-c", script])
}

#[tokio::test]
async fn the_child_runs_with_limits_and_without_the_servers_environment() {
    let limits = Limits { memory_bytes: 300 << 20, cpu_seconds: 7, ..Limits::default() };
    // Only builtins: the child may not start a process.
    let report =
        "read -r _ || :; ulimit -v; ulimit -t; ulimit -c; ulimit -f; ulimit -p; echo \"${HOME:-none}\"; pwd";
    let text = script(report).with_limits(limits).run("text/plain", b"input").await.unwrap().unwrap();
    // Address space in KiB, CPU seconds, no core file, no file written, no process, no
    // environment.
    assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["307200", "7", "0", "0", "0", "none", "/"]);
}

#[tokio::test]
async fn a_child_cannot_start_a_process() {
    // Root is exempt from `RLIMIT_NPROC`, and the server runs as an ordinary user: as root,
    // this test runs itself again as `nobody`.
    if rustix::process::geteuid().is_root() {
        let name = "extraction::a_child_cannot_start_a_process";
        let run = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .current_dir("/")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&run.stdout);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success() && out.contains("1 passed"), "{out}\n{err}");
        return;
    }
    let outcome = script("read -r _ || :; sleep 0 && echo started").run("text/plain", b"input").await;
    // The shell cannot fork and gives up.
    assert!(matches!(outcome, Err(ExtractError::Failed(_))), "{outcome:?}");
}

/// Live (not zombie) processes whose command line is exactly `args`.
fn live_processes(args: &[&str]) -> Vec<String> {
    let wanted: Vec<u8> = args.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let cmdline = std::fs::read(path.join("cmdline")).ok()?;
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            let state = stat.rsplit_once(')')?.1.split_whitespace().next()?.to_owned();
            (cmdline == wanted && state != "Z").then(|| path.display().to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_child_past_its_time_is_killed_with_all_it_started() {
    // A marker no other test uses; the child is let fork to start it in the background.
    let marker = ["sleep", "97.531"];
    let limits = Limits { wall: Duration::from_millis(500), may_fork: true, ..Limits::default() };
    let outcome = script("sleep 97.531 & exec sleep 30").with_limits(limits).run("text/plain", b"").await;
    assert!(matches!(outcome, Err(ExtractError::TimedOut(_))), "{outcome:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !live_processes(&marker).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live_processes(&marker), Vec::<String>::new(), "the background process outlived its parent");
}

#[tokio::test]
async fn a_child_past_its_time_is_killed() {
    let limits = Limits { wall: Duration::from_millis(300), ..Limits::default() };
    let started = Instant::now();
    let outcome = script("exec sleep 30").with_limits(limits).run("application/pdf", b"%PDF-1.7").await;
    assert!(matches!(outcome, Err(ExtractError::TimedOut(_))), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn output_past_the_text_cap_is_not_read() {
    let outcome = script("exec yes extracted").run("application/pdf", b"%PDF-1.7").await;
    assert!(matches!(outcome, Err(ExtractError::TooMuchOutput)), "{outcome:?}");
}

#[tokio::test]
async fn a_child_over_its_memory_limit_fails_alone() {
    // 40 MB of text: read whole, it needs more than 48 MiB of address space.
    let text = vec![b'a'; 40_000_000];
    let tight = Limits { memory_bytes: 48 << 20, ..Limits::default() };
    let outcome = extractor().with_limits(tight).run("text/plain", &text).await;
    assert!(matches!(outcome, Err(ExtractError::Failed(_))), "{outcome:?}");
    // With the usual limits the same file gives its text, cut at the cap.
    let read = extractor().run("text/plain", &text).await.unwrap().unwrap();
    assert_eq!(read.len(), MAX_TEXT_CHARS);
}

/// A PDF of `pages` pages that all show one compressed content stream: "Shared exhibit"
/// in Helvetica, then `filler` repeated `times` over.
pub fn pdf_sharing_one_stream(pages: usize, filler: &str, times: usize) -> Vec<u8> {
    let mut document = Document::with_version("1.5");
    let pages_id = document.new_object_id();
    let font = document.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let mut content = b"BT /F1 12 Tf 72 720 Td (Shared exhibit) Tj ET\n".to_vec();
    content.extend_from_slice(filler.repeat(times).as_bytes());
    let mut stream = Stream::new(lopdf::Dictionary::new(), content);
    stream.compress().unwrap();
    let shared = document.add_object(stream);
    let kids: Vec<Object> = (0..pages)
        .map(|_| {
            document
                .add_object(dictionary! {
                    "Type" => "Page", "Parent" => pages_id, "Contents" => shared,
                    "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
                    "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
                })
                .into()
        })
        .collect();
    let count = i64::try_from(kids.len()).unwrap();
    document
        .objects
        .insert(pages_id, dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }.into());
    let catalog = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    document.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    document.save_to(&mut bytes).unwrap();
    bytes
}

/// A Word document whose body, deflated, is `paragraphs` paragraphs of `text`.
fn docx_bomb(text: &str, paragraphs: usize) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("word/document.xml", options).unwrap();
    zip.write_all(b"<w:document><w:body>").unwrap();
    let paragraph = format!("<w:p><w:r><w:t>{text}</w:t></w:r></w:p>");
    let block = paragraph.repeat(1000);
    for _ in 0..paragraphs / 1000 {
        zip.write_all(block.as_bytes()).unwrap();
    }
    zip.write_all(b"</w:body></w:document>").unwrap();
    zip.finish().unwrap().into_inner()
}

struct Desk {
    h: Harness,
    lead: String,
    matter: String,
}

async fn desk(env: TestEnv) -> Desk {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let client = json!({ "name": "Acme", "kind": "organisation" });
    let matter = h.open_matter(&lead, client, json!({ "title": "Acme v Widget" })).await;
    Desk { h, lead, matter }
}

impl Desk {
    async fn upload(&self, name: &str, bytes: &[u8]) -> Reply {
        self.h
            .upload(&format!("/api/v1/matters/{}/documents", self.matter), &self.lead, name, bytes, &[])
            .await
    }

    async fn download(&self, id: &str) -> Vec<u8> {
        let path = format!("/api/v1/documents/{id}/content");
        let response = self.h.respond("GET", &path, Some(&self.lead), Body::empty(), &[]).await;
        assert_eq!(response.status(), 200);
        axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()
    }

    async fn found(&self, word: &str) -> Vec<String> {
        let reply = self.h.call("GET", &format!("/api/v1/search?q={word}"), Some(&self.lead), None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hit| hit["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

both_backends!(a_pdf_whose_pages_share_a_huge_stream_is_kept_and_read_once, |env: TestEnv| async move {
    let d = desk(env).await;
    // 1,000 pages share one stream of 8 MiB of drawing, 15 KiB compressed: read per
    // page, 8 GiB to inflate and parse.
    let pdf = pdf_sharing_one_stream(1_000, "0 0 m 1 1 l S\n", 600_000);
    assert!(pdf.len() < 200 * 1024, "{}", pdf.len());
    let started = Instant::now();
    let up = d.upload("bundle.pdf", &pdf).await;
    assert_eq!(up.status, 201, "{}", up.body);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    let id = up.body["id"].as_str().unwrap().to_owned();
    assert!(d.download(&id).await == pdf, "the file is kept as sent");
    assert_eq!(d.found("exhibit").await, [id]);
});

both_backends!(a_docx_bomb_is_kept_and_its_text_capped, |env: TestEnv| async move {
    let d = desk(env).await;
    // 100 MB of body deflated to a few hundred KiB; its text is 40 times the cap.
    let docx = docx_bomb(&"lorem ".repeat(160), 100_000);
    assert!(docx.len() < 1024 * 1024, "{}", docx.len());
    let started = Instant::now();
    let up = d.upload("memo.docx", &docx).await;
    assert_eq!(up.status, 201, "{}", up.body);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    let id = up.body["id"].as_str().unwrap().to_owned();
    assert_eq!(d.found("lorem").await, [id]);
});

both_backends!(an_upload_whose_extraction_fails_is_kept_without_text, |env: TestEnv| async move {
    let mut d = desk(env).await;
    let stuck =
        script("exec sleep 30").with_limits(Limits { wall: Duration::from_millis(300), ..Limits::default() });
    d.h.state.settings = Arc::new(HttpSettings { extractor: stuck, ..(*d.h.state.settings).clone() });
    let up = d.upload("statement.txt", b"the marmalade ledger").await;
    assert_eq!(up.status, 201, "{}", up.body);
    let id = up.body["id"].as_str().unwrap().to_owned();
    assert_eq!(d.download(&id).await, b"the marmalade ledger");
    assert!(d.found("marmalade").await.is_empty(), "nothing was indexed");
    // The file name and title are indexed as ever.
    assert_eq!(d.found("statement").await, [id]);
});
