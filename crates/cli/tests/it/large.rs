//! A file larger than the server could ever hold in memory, through the real binary over
//! HTTPS: streamed in, sealed, stored, streamed out byte-identical, while the server's
//! peak memory stays small. The bytes are generated as they are sent, never stored here.

use futures_util::StreamExt;
use reqwest::Method;
use ringfence_testkit::TestEnv;
use serde_json::Value;

use super::api::{Api, file_part_head, practising_matter};
use super::*;

const SIZE: u64 = (2 << 30) + 12_345;
const BLOCK: usize = 1 << 20;
/// The server's peak resident memory may not exceed this, whatever the file's size.
const MAX_PEAK_RSS_KIB: u64 = 300 * 1024;

/// The file's bytes, one block at a time: a pattern that differs in every block, so a
/// block served twice or out of order would not pass.
fn block(index: u64, template: &[u8]) -> Vec<u8> {
    let start = index * BLOCK as u64;
    let len = (SIZE - start).min(BLOCK as u64) as usize;
    let mut bytes = template[..len].to_vec();
    bytes[..8].copy_from_slice(&index.to_be_bytes());
    bytes
}

fn blocks() -> u64 {
    SIZE.div_ceil(BLOCK as u64)
}

fn template() -> Vec<u8> {
    (0..BLOCK).map(|i| (i % 251) as u8).collect()
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_two_gibibytes_streams_through_in_small_memory() {
    let env = TestEnv::new(ringfence_testkit::Backend::Sqlite).await.unwrap();
    let mut create = ringfence(&env);
    create.args(["firm", "create", "--name", "Big", "--slug", "big", "--admin-email", "a@big.example"]);
    create.arg("--admin-password-stdin");
    assert!(run(create, Some("a long enough passphrase\n")).status.success());
    let server = Server::start(&env, &["--max-upload-mib", "3072"]);
    let api = Api::sign_in(&server, &env, "a@big.example", "a long enough passphrase").await;
    let matter = practising_matter(&api).await;

    let template = std::sync::Arc::new(template());
    let boundary = "ringfence-large-file-boundary";
    let head = file_part_head(boundary, "disk-image.bin");
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() as u64 + SIZE + tail.len() as u64;
    let blocks_template = template.clone();
    let body = futures_util::stream::once(async move { head.into_bytes() })
        .chain(futures_util::stream::iter(0..blocks()).map(move |i| block(i, &blocks_template)))
        .chain(futures_util::stream::once(async move { tail.into_bytes() }))
        .map(Ok::<_, std::io::Error>);
    let uploaded = api
        .request(Method::POST, &format!("/api/v1/matters/{matter}/documents"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .header("content-length", length)
        .body(reqwest::Body::wrap_stream(body))
        .timeout(std::time::Duration::from_secs(600))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let document: Value = uploaded.json().await.unwrap();
    assert_eq!(document["size"], SIZE);
    let mut expected = ring::digest::Context::new(&ring::digest::SHA256);
    for i in 0..blocks() {
        expected.update(&block(i, &template));
    }
    let expected: String = expected.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(document["sha256"], expected.as_str());
    let after_upload = peak_rss_kib(server.pid());
    assert!(after_upload < MAX_PEAK_RSS_KIB, "peak RSS {after_upload} KiB while receiving {SIZE} bytes");
    let id = document["id"].as_str().unwrap();
    let response = api
        .request(Method::GET, &format!("/api/v1/documents/{id}/content"))
        .timeout(std::time::Duration::from_secs(600))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(SIZE));
    let mut received = ring::digest::Context::new(&ring::digest::SHA256);
    let mut length = 0u64;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        length += chunk.len() as u64;
        received.update(&chunk);
    }
    assert_eq!(length, SIZE);
    let received: String = received.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(received, expected, "the download is byte-identical");
    let after_download = peak_rss_kib(server.pid());
    assert!(after_download < MAX_PEAK_RSS_KIB, "peak RSS {after_download} KiB while sending {SIZE} bytes");

    let tail = api
        .request(Method::GET, &format!("/api/v1/documents/{id}/content"))
        .header("range", format!("bytes={}-", SIZE - 100))
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    let last = block(blocks() - 1, &template);
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &last[last.len() - 100..]);
    assert_eq!(server.terminate().code(), Some(0));
}
