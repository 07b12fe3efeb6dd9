//! A file larger than the server could ever hold in memory, through the real binary over
//! HTTPS: streamed in, sealed, stored, streamed out byte-identical, while the server's
//! peak memory stays small. The bytes are generated as they are sent, never stored here.

use futures_util::StreamExt;
use ringfence_testkit::TestEnv;
use serde_json::{Value, json};

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

async fn call(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut request = client.post(server.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_two_gibibytes_streams_through_in_small_memory() {
    let env = TestEnv::new(ringfence_testkit::Backend::Sqlite).await.unwrap();
    let mut create = ringfence(&env);
    create.args(["firm", "create", "--name", "Big", "--slug", "big", "--admin-email", "a@big.example"]);
    create.arg("--admin-password-stdin");
    assert!(run(create, Some("a long enough passphrase\n")).status.success());
    let server = Server::start(&env, &["--max-upload-mib", "3072"]);
    let client = server.client();
    let login = call(
        &client,
        &server,
        "/api/v1/auth/login",
        None,
        json!({ "email": "a@big.example", "password": "a long enough passphrase" }),
    )
    .await;
    let mail = ringfence_testkit::outbox(env.data_dir()).pop().unwrap();
    let code = mail
        .lines()
        .find_map(|l| l.strip_prefix("Your Ringfence sign-in code is "))
        .unwrap()
        .trim()
        .to_owned();
    let verify = json!({ "challenge_id": login["challenge_id"], "factor": "email", "code": code });
    let session = call(&client, &server, "/api/v1/auth/verify", None, verify).await;
    let token = session["token"].as_str().unwrap().to_owned();
    // The administrator also practises, so it may open a matter.
    let me: Value =
        client.get(server.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let roles = client
        .patch(server.url(&format!("/api/v1/users/{}", me["user"]["id"].as_str().unwrap())))
        .bearer_auth(&token)
        .json(&json!({ "roles": ["admin", "attorney"] }))
        .send()
        .await
        .unwrap();
    assert!(roles.status().is_success(), "{}", roles.status());
    let client_id = call(
        &client,
        &server,
        "/api/v1/clients",
        Some(&token),
        json!({ "name": "Big Co", "kind": "organisation" }),
    )
    .await["id"]
        .clone();
    let matter = call(
        &client,
        &server,
        "/api/v1/matters",
        Some(&token),
        json!({ "title": "Big v Bigger", "client_id": client_id }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let template = std::sync::Arc::new(template());
    let boundary = "ringfence-large-file-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"disk-image.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() as u64 + SIZE + tail.len() as u64;
    let blocks_template = template.clone();
    let body = futures_util::stream::once(async move { head.into_bytes() })
        .chain(futures_util::stream::iter(0..blocks()).map(move |i| block(i, &blocks_template)))
        .chain(futures_util::stream::once(async move { tail.into_bytes() }))
        .map(Ok::<_, std::io::Error>);
    let uploaded = client
        .post(server.url(&format!("/api/v1/matters/{matter}/documents")))
        .bearer_auth(&token)
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
    let response = client
        .get(server.url(&format!("/api/v1/documents/{id}/content")))
        .bearer_auth(&token)
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

    let tail = client
        .get(server.url(&format!("/api/v1/documents/{id}/content")))
        .bearer_auth(&token)
        .header("range", format!("bytes={}-", SIZE - 100))
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 206);
    let last = block(blocks() - 1, &template);
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &last[last.len() - 100..]);
    assert_eq!(server.terminate().code(), Some(0));
}
