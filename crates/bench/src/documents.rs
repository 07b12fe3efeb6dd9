//! Large documents in and out through the API. The file's bytes are generated a block at
//! a time as they are sent (never held whole here) and counted as they come back.

use std::sync::Arc;
use std::time::Instant;

use futures_util::{Stream, StreamExt};
use serde_json::Value;

use crate::{BenchResult, fail};

pub const BLOCK: usize = 1 << 20;

/// A file of `size` bytes: a pattern that differs in every 1 MiB block.
#[derive(Clone)]
pub struct Generated {
    size: u64,
    template: Arc<Vec<u8>>,
}

impl Generated {
    pub fn new(size: u64) -> Self {
        Self { size, template: Arc::new((0..BLOCK).map(|i| (i % 251) as u8).collect()) }
    }

    pub fn blocks(&self) -> u64 {
        self.size.div_ceil(BLOCK as u64)
    }

    pub fn block(&self, index: u64) -> Vec<u8> {
        let start = index * BLOCK as u64;
        let len = self.size.saturating_sub(start).min(BLOCK as u64) as usize;
        let mut bytes = self.template[..len].to_vec();
        let stamp = index.to_be_bytes();
        let n = stamp.len().min(len);
        bytes[..n].copy_from_slice(&stamp[..n]);
        bytes
    }

    pub fn stream(self) -> impl Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
        futures_util::stream::iter(0..self.blocks()).map(move |i| Ok(self.block(i)))
    }
}

/// Uploads a generated file as `multipart/form-data`; returns the document's id and the
/// seconds it took.
pub async fn upload(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    file: Generated,
) -> BenchResult<(String, f64)> {
    let boundary = "ringfence-bench-boundary-7d1f0c";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() as u64 + file.size + tail.len() as u64;
    let body = futures_util::stream::once(async move { Ok(head.into_bytes()) })
        .chain(file.stream())
        .chain(futures_util::stream::once(async move { Ok(tail.into_bytes()) }));
    let started = Instant::now();
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .header("content-length", length)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    let status = response.status();
    let answer: Value = response.json().await?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.is_success() {
        return Err(fail(format!("upload: {status} {answer}")));
    }
    let id = answer["id"].as_str().ok_or_else(|| fail("upload answered no id"))?;
    Ok((id.to_owned(), seconds))
}

/// Downloads a document, counting its bytes; returns the seconds it took.
pub async fn download(client: &reqwest::Client, url: &str, token: &str, size: u64) -> BenchResult<f64> {
    let started = Instant::now();
    let response = client.get(url).bearer_auth(token).send().await?;
    if !response.status().is_success() {
        return Err(fail(format!("download: {}", response.status())));
    }
    let mut received = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        received += chunk?.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    if received != size {
        return Err(fail(format!("download: {received} bytes of {size}")));
    }
    Ok(seconds)
}
