//! Documents through the HTTP API, on SQLite with a local blob directory and on PostgreSQL
//! with S3-compatible storage: sealed streaming uploads, downloads and ranges, versions,
//! and refusal of any blob that was altered, cut short or swapped.

use std::sync::Arc;

use axum::body::Body;
use futures_util::StreamExt;
use ringfence_crypto::blob::CHUNK_LEN;
use ringfence_server::HttpSettings;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::json;

use super::extraction::pdf_sharing_one_stream;
use super::pages::{browser_sign_in, page};
use super::sign_in_harness::*;

/// A firm with an attorney leading one matter, and another attorney with no role on it.
struct Desk {
    h: Harness,
    lead: String,
    other: String,
    matter: String,
}

async fn desk(env: TestEnv) -> Desk {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, "lead@firm.example", &["attorney"]).await;
    let other = h.signed_in_user(&admin, "other@firm.example", &["attorney"]).await;
    let client = json!({ "name": "Acme", "kind": "organisation" });
    let matter = h.open_matter(&lead, client, json!({ "title": "Acme v Widget" })).await;
    Desk { h, lead, other, matter }
}

impl Desk {
    async fn upload(&self, name: &str, bytes: &[u8]) -> Reply {
        self.h
            .upload(&format!("/api/v1/matters/{}/documents", self.matter), &self.lead, name, bytes, &[])
            .await
    }

    /// Downloads a document's content (optionally a version or a range): status, headers, bytes.
    async fn download(&self, path: &str, range: Option<&str>) -> (u16, http::HeaderMap, Vec<u8>) {
        let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
        let response = self.h.respond("GET", path, Some(&self.lead), Body::empty(), &headers).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, bytes.to_vec())
    }

    async fn blobs(&self) -> Vec<uuid::Uuid> {
        self.h.state.blobs.list(self.h.firm).await.unwrap()
    }
}

fn sample(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    ringfence_crypto::sha256(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

both_backends!(files_of_every_awkward_size_round_trip, |env: TestEnv| async move {
    let d = desk(env).await;
    for len in [0, 1, CHUNK_LEN - 1, CHUNK_LEN, CHUNK_LEN + 1, 3 * CHUNK_LEN + 7, (1 << 20) + CHUNK_LEN + 3] {
        let bytes = sample(len, 7);
        let up = d.upload("evidence.bin", &bytes).await;
        assert_eq!(up.status, 201, "{len}: {}", up.body);
        assert_eq!(up.body["size"], len as u64);
        assert_eq!(up.body["sha256"], sha256_hex(&bytes));
        assert_eq!(up.body["version"], 1);
        let id = up.body["id"].as_str().unwrap();
        let (status, headers, got) = d.download(&format!("/api/v1/documents/{id}/content"), None).await;
        assert_eq!(status, 200);
        assert_eq!(got.len(), len, "length {len}");
        assert!(got == bytes, "bytes differ at length {len}");
        assert_eq!(headers["content-length"], len.to_string().as_str());
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["accept-ranges"], "bytes");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"evidence.bin\"")
        );
    }
});

both_backends!(names_are_sanitized_and_types_sniffed_from_the_bytes, |env: TestEnv| async move {
    let d = desk(env).await;
    // The client says text/html and names a path with a display trick: neither is kept.
    let up = d.upload("../../etc/report\u{202E}fdp.exe", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj").await;
    assert_eq!(up.status, 201, "{}", up.body);
    assert_eq!(up.body["name"], "reportfdp.exe");
    assert_eq!(up.body["title"], "reportfdp.exe");
    assert_eq!(up.body["content_type"], "application/pdf");
    let id = up.body["id"].as_str().unwrap();
    let (_, headers, _) = d.download(&format!("/api/v1/documents/{id}/content"), None).await;
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"reportfdp.exe\"; filename*=UTF-8''reportfdp.exe"
    );

    let titled =
        d.h.upload(
            &format!("/api/v1/matters/{}/documents", d.matter),
            &d.lead,
            "note.txt",
            "plain words".as_bytes(),
            &[("title", "Witness statement"), ("privileged", "true")],
        )
        .await;
    assert_eq!(titled.status, 201, "{}", titled.body);
    assert_eq!(titled.body["title"], "Witness statement");
    assert_eq!(titled.body["privileged"], true);
    assert_eq!(titled.body["content_type"], "text/plain; charset=utf-8");

    let path = format!("/api/v1/matters/{}/documents", d.matter);
    let no_file = d.h.upload(&path, &d.lead, "x", b"", &[]).await;
    assert_eq!(no_file.status, 201, "an empty file is a file");
    let bad_flag = d.h.upload(&path, &d.lead, "x", b"x", &[("privileged", "perhaps")]).await;
    assert_eq!((bad_flag.status, bad_flag.code()), (400, "invalid_input"));
    let stray = d.h.upload(&path, &d.lead, "x", b"x", &[("owner", "me")]).await;
    assert_eq!(stray.status, 400);
    let not_multipart = d.h.call("POST", &path, Some(&d.lead), Some(json!({ "file": "x" }))).await;
    assert_eq!(not_multipart.status, 400);
});

// A raster image is shown inline under a policy of its own (a sandbox, nothing loaded but
// itself); text, an SVG, HTML — and a PDF that cannot be drawn — are refused a preview and
// stay downloads. A preview is on the record as such (a PDF's once read to be drawn), and
// an outsider gets the matter's not-found.
both_backends!(only_images_and_drawable_pdfs_are_previewed_and_in_a_sandbox, |env: TestEnv| async move {
    let d = desk(env).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let image = d.upload("scan.png", png).await;
    assert_eq!(image.body["content_type"], "image/png", "{}", image.body);
    let image = image.body["id"].as_str().unwrap().to_owned();
    let (status, headers, bytes) = d.download(&format!("/api/v1/documents/{image}/preview"), None).await;
    assert_eq!((status, bytes.as_slice()), (200, png.as_slice()));
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["content-disposition"], "inline");
    let policy = headers["content-security-policy"].to_str().unwrap();
    for part in ["default-src 'none'", "sandbox", "frame-ancestors 'none'"] {
        assert!(policy.contains(part), "{part}: {policy}");
    }
    assert!(!policy.contains("script-src"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");

    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    for (name, bytes) in [
        ("drawing.svg", svg.as_slice()),
        ("note.txt", b"plain words".as_slice()),
        ("brief.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj".as_slice()),
        ("page.html", b"<html><script>alert(1)</script></html>".as_slice()),
    ] {
        let up = d.upload(name, bytes).await;
        let id = up.body["id"].as_str().unwrap().to_owned();
        let refused = d.h.call("GET", &format!("/api/v1/documents/{id}/preview"), Some(&d.lead), None).await;
        assert_eq!((refused.status, refused.code()), (409, "not_previewable"), "{name}: {}", refused.body);
    }
    let outsider = d.h.call("GET", &format!("/api/v1/documents/{image}/preview"), Some(&d.other), None).await;
    assert_eq!(outsider.status, 404);
    let admin = d.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let log = d.h.call("GET", "/api/v1/audit?action=document.previewed", Some(&admin), None).await;
    let previews = log.body["items"].as_array().unwrap();
    assert_eq!(previews.len(), 2, "the image shown and the PDF read, the refused ones not: {}", log.body);
    assert_eq!(previews[1]["resource"]["id"], image.as_str());
    // An image has no pages, and a preview takes no other parameter.
    for query in ["page=1", "page=0", "size=big"] {
        let refused =
            d.h.call("GET", &format!("/api/v1/documents/{image}/preview?{query}"), Some(&d.lead), None).await;
        assert_eq!(refused.status, 400, "{query}: {}", refused.body);
    }
    // The pages keep their own policy.
    let page = d.h.respond("GET", "/sign-in", None, Body::empty(), &[]).await;
    assert!(!page.headers()["content-security-policy"].to_str().unwrap().contains("sandbox"));
});

both_backends!(ranges_are_served_from_the_sealed_chunks, |env: TestEnv| async move {
    let d = desk(env).await;
    let bytes = sample(3 * CHUNK_LEN + 100, 3);
    let up = d.upload("big.bin", &bytes).await;
    let path = format!("/api/v1/documents/{}/content", up.body["id"].as_str().unwrap());
    let len = bytes.len();
    for (range, want) in [
        ("bytes=0-0".to_owned(), 0..1),
        (format!("bytes={}-{}", CHUNK_LEN - 2, CHUNK_LEN + 1), CHUNK_LEN - 2..CHUNK_LEN + 2),
        ("bytes=-10".to_owned(), len - 10..len),
        (format!("bytes={}-", 2 * CHUNK_LEN), 2 * CHUNK_LEN..len),
    ] {
        let (status, headers, got) = d.download(&path, Some(&range)).await;
        assert_eq!(status, 206, "{range}");
        assert_eq!(got, bytes[want.clone()], "{range}");
        assert_eq!(
            headers["content-range"],
            format!("bytes {}-{}/{len}", want.start, want.end - 1).as_str(),
            "{range}"
        );
        assert_eq!(headers["content-length"], (want.end - want.start).to_string().as_str());
    }
    let (status, headers, _) = d.download(&path, Some(&format!("bytes={len}-"))).await;
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], format!("bytes */{len}").as_str());
});

both_backends!(versions_keep_the_old_and_a_deleted_document_is_gone, |env: TestEnv| async move {
    let d = desk(env).await;
    let first = d.upload("draft.txt", b"first draft").await;
    let id = first.body["id"].as_str().unwrap().to_owned();
    let (content_type, body) = multipart("draft-v2.txt", b"second draft", &[]);
    let second = Harness::reply(
        d.h.respond(
            "POST",
            &format!("/api/v1/documents/{id}/versions"),
            Some(&d.lead),
            Body::from(body),
            &[("content-type", content_type.as_str())],
        )
        .await,
    )
    .await;
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(second.body["version"], 2);
    assert_eq!(second.body["id"], id.as_str());
    assert_eq!(second.body["name"], "draft-v2.txt");

    let versions = d.h.call("GET", &format!("/api/v1/documents/{id}/versions"), Some(&d.lead), None).await;
    let items = versions.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["version"].clone(), items[0]["name"].clone()), (json!(1), json!("draft.txt")));
    let content = format!("/api/v1/documents/{id}/content");
    assert_eq!(d.download(&content, None).await.2, b"second draft");
    assert_eq!(d.download(&format!("{content}?version=1"), None).await.2, b"first draft");
    assert_eq!(d.download(&format!("{content}?version=3"), None).await.0, 404);

    let listed =
        d.h.call("GET", &format!("/api/v1/matters/{}/documents", d.matter), Some(&d.lead), None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // Someone without a role on the matter learns nothing, not even that the document exists.
    let missing =
        d.h.call("GET", &format!("/api/v1/documents/{}", uuid::Uuid::new_v4()), Some(&d.other), None).await;
    for path in
        [format!("/api/v1/documents/{id}"), content.clone(), format!("/api/v1/documents/{id}/versions")]
    {
        let reply = d.h.call("GET", &path, Some(&d.other), None).await;
        assert_eq!((reply.status, &reply.body), (404, &missing.body), "{path}");
    }

    let deleted = d.h.call("DELETE", &format!("/api/v1/documents/{id}"), Some(&d.lead), None).await;
    assert_eq!(deleted.status, 204);
    for path in [format!("/api/v1/documents/{id}"), content, format!("/api/v1/documents/{id}/versions")] {
        assert_eq!(d.h.call("GET", &path, Some(&d.lead), None).await.status, 404, "{path}");
    }
    let listed =
        d.h.call("GET", &format!("/api/v1/matters/{}/documents", d.matter), Some(&d.lead), None).await;
    assert!(listed.body["items"].as_array().unwrap().is_empty());
    // Soft delete keeps the bytes for the grace period.
    assert_eq!(d.blobs().await.len(), 2);
});

/// Replaces a stored blob's bytes, as someone with write access to the blob store could.
async fn overwrite(d: &Desk, blob: uuid::Uuid, bytes: Vec<u8>) {
    let mut writer = d.h.state.blobs.writer(d.h.firm, blob);
    writer.write(bytes).await.unwrap();
    writer.finish().await.unwrap();
}

async fn stored(d: &Desk, blob: uuid::Uuid) -> Vec<u8> {
    let blobs = &d.h.state.blobs;
    let size = blobs.size(d.h.firm, blob).await.unwrap();
    blobs.read(d.h.firm, blob, 0..size).await.unwrap().to_vec()
}

async fn integrity_failures(d: &Desk) -> usize {
    let admin = d.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let log = d.h.call("GET", "/api/v1/audit?action=document.integrity_failed", Some(&admin), None).await;
    log.body["items"].as_array().unwrap().len()
}

both_backends!(altered_cut_or_swapped_blobs_are_refused_and_audited, |env: TestEnv| async move {
    let d = desk(env).await;
    let one = d.upload("one.bin", &sample(3 * CHUNK_LEN, 1)).await.body["id"].as_str().unwrap().to_owned();
    let [blob_one] = d.blobs().await[..] else { panic!("one blob") };
    let two = d.upload("two.bin", &sample(3 * CHUNK_LEN, 2)).await.body["id"].as_str().unwrap().to_owned();
    let blob_two = *d.blobs().await.iter().find(|b| **b != blob_one).unwrap();
    let original_one = stored(&d, blob_one).await;
    let original_two = stored(&d, blob_two).await;
    let content = |id: &str| format!("/api/v1/documents/{id}/content");

    let mut flipped = original_one.clone();
    flipped[CHUNK_LEN + 100] ^= 0x01;
    overwrite(&d, blob_one, flipped).await;
    let (status, _, body) = d.download(&content(&one), None).await;
    assert_eq!(status, 500);
    assert!(String::from_utf8_lossy(&body).contains("integrity_failure"));

    overwrite(&d, blob_one, original_one[..original_one.len() - CHUNK_LEN - 16].to_vec()).await;
    assert_eq!(d.download(&content(&one), None).await.0, 500, "cut short");

    overwrite(&d, blob_one, original_two.clone()).await;
    overwrite(&d, blob_two, original_one.clone()).await;
    assert_eq!(d.download(&content(&one), None).await.0, 500, "swapped");
    assert_eq!(d.download(&content(&two), Some("bytes=5-10")).await.0, 500, "swapped, ranged");
    assert_eq!(integrity_failures(&d).await, 4);

    overwrite(&d, blob_one, original_one.clone()).await;
    let (status, _, body) = d.download(&content(&one), None).await;
    assert_eq!((status, body), (200, sample(3 * CHUNK_LEN, 1)), "restored bytes open again");
});

both_backends!(damage_past_the_first_megabyte_cuts_the_download_off, |env: TestEnv| async move {
    let d = desk(env).await;
    let bytes = sample(3 << 20, 9);
    let id = d.upload("long.bin", &bytes).await.body["id"].as_str().unwrap().to_owned();
    let [blob] = d.blobs().await[..] else { panic!("one blob") };
    let mut damaged = stored(&d, blob).await;
    let at = damaged.len() - 1000;
    damaged[at] ^= 0x80;
    overwrite(&d, blob, damaged).await;
    let response =
        d.h.respond("GET", &format!("/api/v1/documents/{id}/content"), Some(&d.lead), Body::empty(), &[])
            .await;
    assert_eq!(response.status(), 200, "the damage lies beyond what is checked up front");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    assert!(body.is_err(), "the body must end in an error, not in unauthenticated bytes");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(integrity_failures(&d).await, 1);
});

both_backends!(oversized_or_interrupted_uploads_leave_nothing_behind, |env: TestEnv| async move {
    let mut d = desk(env).await;
    let settings = HttpSettings { max_upload_bytes: 10 << 20, ..(*d.h.state.settings).clone() };
    d.h.state.settings = Arc::new(settings);
    let path = format!("/api/v1/matters/{}/documents", d.matter);

    let (content_type, body) = multipart("big.bin", &sample((10 << 20) + 1, 0), &[]);
    let headers = [("content-type", content_type.as_str())];
    let over =
        Harness::reply(d.h.respond("POST", &path, Some(&d.lead), arriving(body, None), &headers).await).await;
    assert_eq!((over.status, over.code()), (413, "too_large"));
    let declared =
        d.h.respond(
            "POST",
            &path,
            Some(&d.lead),
            Body::empty(),
            &[("content-type", "multipart/form-data; boundary=x"), ("content-length", "99999999999")],
        )
        .await;
    assert_eq!(declared.status(), 413, "refused from the declared length alone");

    // A client that goes away mid-upload, after more than one part has been written.
    let (content_type, body) = multipart("cut.bin", &sample(9 << 20, 1), &[]);
    let cut = Some(body.len() - 1000);
    let headers = [("content-type", content_type.as_str())];
    let reply =
        Harness::reply(d.h.respond("POST", &path, Some(&d.lead), arriving(body, cut), &headers).await).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(d.blobs().await.is_empty(), "no blob is left from refused or cut-off uploads");
    let listed = d.h.call("GET", &path, Some(&d.lead), None).await;
    assert!(listed.body["items"].as_array().unwrap().is_empty());
    let leftovers: Vec<_> =
        walk(&d.h.env.data_dir().join("blobs")).into_iter().filter(|p| p.is_file()).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
});

/// A request body that arrives in network-sized pieces, with pauses between them, and that
/// fails with a reset connection at `cut`, if given.
fn arriving(body: Vec<u8>, cut: Option<usize>) -> Body {
    let end = cut.unwrap_or(body.len());
    let mut pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        body[..end].chunks(1 << 16).map(|c| Ok(c.to_vec())).collect();
    if cut.is_some() {
        pieces.push(Err(std::io::Error::other("connection reset")));
    }
    let stream = futures_util::stream::iter(pieces).then(|piece| async move {
        tokio::task::yield_now().await;
        piece
    });
    Body::from_stream(stream)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            }
            found.push(path);
        }
    }
    found
}

both_backends!(no_plaintext_of_a_document_reaches_the_disk_or_the_blob_store, |env: TestEnv| async move {
    let d = desk(env).await;
    let marker = "PLAINTEXT-MARKER-7f3a";
    let body = format!("{marker} the witness saw the red car. ").repeat(5000);
    let up =
        d.h.upload(
            &format!("/api/v1/matters/{}/documents", d.matter),
            &d.lead,
            &format!("{marker}.txt"),
            body.as_bytes(),
            &[("title", &format!("{marker} statement"))],
        )
        .await;
    assert_eq!(up.status, 201);
    for blob in d.blobs().await {
        let bytes = stored(&d, blob).await;
        assert!(!bytes.windows(marker.len()).any(|w| w == marker.as_bytes()), "the blob holds plaintext");
    }
    for file in walk(d.h.env.data_dir()).into_iter().filter(|p| p.is_file()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{} holds plaintext",
            file.display()
        );
    }
    if let Some(db) = &d.h.env.database {
        let mut conn = db.connect().await;
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables WHERE table_schema LIKE 'firm\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(tables.iter().any(|(_, t)| t == "document_versions"));
        for (schema, table) in tables {
            let dump: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                r#"SELECT string_agg(t::text, ' ') FROM "{schema}"."{table}" t"#
            )))
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert!(!dump.unwrap_or_default().contains(marker), "{schema}.{table} holds plaintext");
        }
    }
});

both_backends!(
    with_a_scanner_infected_files_are_quarantined_and_clean_ones_served,
    |env: TestEnv| async move {
        let Some(clamd) = ringfence_testkit::clamav_address() else { return };
        let mut d = desk(env).await;
        let base = (*d.h.state.settings).clone();
        let scanning = |address: &str| {
            let scanner = Some(ringfence_server::malware::Scanner::new(address));
            Arc::new(HttpSettings { malware_scanner: scanner, ..base.clone() })
        };
        d.h.state.settings = scanning(&clamd);

        let clean = d.upload("letter.txt", b"Dear Sir, please find enclosed").await;
        assert_eq!((clean.status, clean.body["scan"].clone()), (201, json!("clean")), "{}", clean.body);
        let clean_id = clean.body["id"].as_str().unwrap().to_owned();
        let content = |id: &str| format!("/api/v1/documents/{id}/content");
        assert_eq!(d.download(&content(&clean_id), None).await.2, b"Dear Sir, please find enclosed");

        let payload = format!("harmless looking {} text", ringfence_testkit::MALWARE_MARKER);
        let infected = d.upload("invoice.txt", payload.as_bytes()).await;
        assert_eq!(
            (infected.status, infected.body["scan"].clone()),
            (201, json!("infected")),
            "{}",
            infected.body
        );
        let (status, _, body) = d.download(&content(infected.body["id"].as_str().unwrap()), None).await;
        assert_eq!(status, 409);
        assert!(String::from_utf8_lossy(&body).contains("quarantined"));

        // An infected new version quarantines that version only.
        let (content_type, body) = multipart("letter-v2.txt", payload.as_bytes(), &[]);
        let second = Harness::reply(
            d.h.respond(
                "POST",
                &format!("/api/v1/documents/{clean_id}/versions"),
                Some(&d.lead),
                Body::from(body),
                &[("content-type", content_type.as_str())],
            )
            .await,
        )
        .await;
        assert_eq!((second.status, second.body["scan"].clone()), (201, json!("infected")));
        assert_eq!(d.download(&content(&clean_id), None).await.0, 409);
        assert_eq!(d.download(&format!("{}?version=1", content(&clean_id)), None).await.0, 200);

        let admin = d.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let log = d.h.call("GET", "/api/v1/audit?action=document.quarantined", Some(&admin), None).await;
        let entries = log.body["items"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{}", log.body);
        assert!(entries.iter().all(|e| e["outcome"] == "failure" && e["matter"] == d.matter.as_str()));

        // No scanner, no upload: nothing unscanned slips through.
        let blobs_before = d.blobs().await.len();
        d.h.state.settings = scanning("127.0.0.1:1");
        let refused = d.upload("later.txt", b"anything").await;
        assert_eq!((refused.status, refused.code()), (503, "scanner_unavailable"));
        assert_eq!(d.blobs().await.len(), blobs_before, "the refused upload left nothing behind");
    }
);

/// A multipart body of the parts given, each a `Content-Disposition` (its parameters)
/// and a value, all as raw bytes.
fn raw_form(parts: &[(&[u8], &[u8])]) -> (String, Vec<u8>) {
    let boundary = "ringfence-raw-form";
    let mut body = Vec::new();
    for (disposition, value) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; ").as_bytes());
        body.extend_from_slice(disposition);
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// One part of a [`raw_form`]: its disposition parameters and its value.
fn part(disposition: &'static [u8], value: impl Into<Vec<u8>>) -> (&'static [u8], Vec<u8>) {
    (disposition, value.into())
}

both_backends!(form_fields_are_small_sent_once_and_utf8, |env: TestEnv| async move {
    let d = desk(env).await;
    let path = format!("/api/v1/matters/{}/documents", d.matter);
    let send = |parts: Vec<(&'static [u8], Vec<u8>)>| {
        let (h, lead, path) = (&d.h, &d.lead, &path);
        async move {
            let parts: Vec<(&[u8], &[u8])> = parts.iter().map(|(d, v)| (*d, v.as_slice())).collect();
            let (content_type, body) = raw_form(&parts);
            let headers = [("content-type", content_type.as_str())];
            Harness::reply(h.respond("POST", path, Some(lead), Body::from(body), &headers).await).await
        }
    };
    let file = || part(b"name=\"file\"; filename=\"a.txt\"", "some words");

    // A title or flag of megabytes is refused as that field, not as a large document.
    for (field, disposition) in
        [("title", b"name=\"title\"" as &[u8]), ("privileged", b"name=\"privileged\"")]
    {
        for field_first in [true, false] {
            let mut parts = vec![part(disposition, vec![b'x'; 2 << 20]), file()];
            if !field_first {
                parts.reverse();
            }
            let reply = send(parts).await;
            assert_eq!(reply.status, 413, "{field}: {}", reply.body);
            assert_eq!(reply.body["error"]["message"], format!("`{field}` may be at most 16384 bytes"));
        }
    }
    let long_title = send(vec![part(b"name=\"title\"", vec![b'x'; 5000]), file()]).await;
    assert_eq!(long_title.status, 400, "{}", long_title.body);
    assert!(long_title.body["error"]["message"].as_str().unwrap().starts_with("title: at most 500"));

    let twice = |name: &str| format!("`{name}` was sent twice; each part may be sent once");
    let not_utf8 = "a part's name and file name must be UTF-8".to_owned();
    for (parts, message) in [
        (vec![part(b"name=\"title\"", "One"), part(b"name=\"title\"", "Two"), file()], twice("title")),
        (vec![file(), file()], twice("file")),
        (
            vec![part(b"name=\"privileged\"", "true"), file(), part(b"name=\"privileged\"", "false")],
            twice("privileged"),
        ),
        (vec![part(b"name=\"ti\xfftle\"", "x"), file()], not_utf8.clone()),
        (vec![part(b"name=\"file\"; filename=\"r\xe9sum\xe9.txt\"", "some words")], not_utf8),
        (vec![part(b"name=\"title\"", b"caf\xe9".to_vec()), file()], "`title` must be UTF-8 text".to_owned()),
        (
            vec![part(b"name=\"notes\"", "some words"), file()],
            "unknown part `notes`: only `file`, `title` and `privileged` may be sent".to_owned(),
        ),
    ] {
        let reply = send(parts).await;
        assert_eq!(
            (reply.status, reply.body["error"]["message"].as_str()),
            (400, Some(message.as_str())),
            "{}",
            reply.body
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(d.blobs().await.is_empty(), "nothing refused is kept");

    // A well-formed form with UTF-8 names is taken as before.
    let fine = send(vec![
        part(b"name=\"title\"", "Résumé"),
        part("name=\"file\"; filename=\"résumé.txt\"".as_bytes(), "some words"),
    ])
    .await;
    assert_eq!(fine.status, 201, "{}", fine.body);
    assert_eq!(
        (fine.body["title"].as_str(), fine.body["name"].as_str()),
        (Some("Résumé"), Some("résumé.txt"))
    );
});

both_backends!(
    the_sweep_removes_a_cancelled_uploads_blob_after_the_grace_period,
    |env: TestEnv| async move {
        use ringfence_core::audit::AuditActor;
        use ringfence_core::clock::Clock;
        use ringfence_store::blob_sweep::SWEEP_GRACE;

        let d = desk(env).await;
        let kept = d.upload("kept.bin", &sample(3000, 1)).await;
        assert_eq!(kept.status, 201);
        let recorded = d.blobs().await;

        // The client sends the whole file, then neither ends the form nor hangs up until the
        // server gives up on it: the file is stored, and never recorded.
        let (content_type, body) = multipart("cancelled.bin", &sample(5000, 2), &[]);
        let cut = body.len() - "--\r\n".len();
        let first = axum::body::Bytes::copy_from_slice(&body[..cut]);
        let stalled = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) })
            .chain(futures_util::stream::pending());
        let path = format!("/api/v1/matters/{}/documents", d.matter);
        let headers = [("content-type", content_type.as_str())];
        let cancelled = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            d.h.respond("POST", &path, Some(&d.lead), Body::from_stream(stalled), &headers),
        )
        .await;
        assert!(cancelled.is_err(), "the upload never finishes");
        assert_eq!(d.blobs().await.len(), 2, "the cancelled upload left its blob behind");

        // A crash mid-write leaves a local store's staged file, which listings do not show.
        let staged = match d.h.env.blob_location() {
            ringfence_store::blobs::BlobLocation::Local(dir) => {
                let dir = dir.join("firms").join(d.h.firm.to_string()).join("blobs");
                let path = dir.join(format!("{}#3", uuid::Uuid::now_v7()));
                std::fs::write(&path, b"half a blob").unwrap();
                Some(path)
            }
            ringfence_store::blobs::BlobLocation::S3(_) => None,
        };

        let sweep = |at| {
            d.h.state.storage.sweep_blobs(&d.h.state.blobs, d.h.firm, at, SWEEP_GRACE, AuditActor::System)
        };
        let fresh = sweep(d.h.clock.now()).await.unwrap();
        assert_eq!((fresh.orphans, fresh.staged), (0, 0), "nothing younger than the grace period goes");
        assert_eq!(fresh.fresh, 2 + usize::from(staged.is_some()));
        assert_eq!(d.blobs().await.len(), 2);

        d.h.clock.advance(SWEEP_GRACE + time::Duration::hours(1));
        let swept = sweep(d.h.clock.now()).await.unwrap();
        assert_eq!((swept.orphans, swept.staged), (1, usize::from(staged.is_some())));
        assert_eq!(d.blobs().await, recorded, "the recorded blob stays");
        if let Some(path) = staged {
            assert!(!path.exists(), "the staged file is gone");
        }

        let admin = d.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let log = d.h.call("GET", "/api/v1/audit?action=blobs.", Some(&admin), None).await;
        let entries = log.body["items"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{}", log.body);
        assert!(entries.iter().all(|e| e["action"] == "blobs.swept" && e["matter_id"].is_null()));
    }
);

both_backends!(
    malformed_ids_of_notes_documents_and_matters_are_not_found_before_any_check,
    |env: TestEnv| async move {
        let d = desk(env).await;
        let note = json!({ "kind": "note", "body": "text", "privileged": false });
        let routes: [(&str, &str, Option<serde_json::Value>); 12] = [
            ("POST", "/api/v1/matters/not-an-id/notes", Some(note.clone())),
            ("GET", "/api/v1/matters/not-an-id/notes", None),
            ("GET", "/api/v1/notes/12345", None),
            ("PATCH", "/api/v1/notes/12345", Some(json!({ "body": "changed" }))),
            ("DELETE", "/api/v1/notes/12345", None),
            ("POST", "/api/v1/matters/not-an-id/documents", None),
            ("GET", "/api/v1/matters/not-an-id/documents", None),
            ("GET", "/api/v1/documents/12345", None),
            ("DELETE", "/api/v1/documents/12345", None),
            ("GET", "/api/v1/documents/12345/content", None),
            ("GET", "/api/v1/documents/12345/versions", None),
            ("POST", "/api/v1/documents/12345/versions", None),
        ];
        for (method, path, body) in &routes {
            let reply = d.h.call(method, path, Some(&d.other), body.clone()).await;
            assert_eq!((reply.status, reply.code()), (404, "not_found"), "{method} {path}: {}", reply.body);
        }
        // No access check ran (it records a refusal of its own): only the route's guard
        // recorded each refusal.
        let admin = d.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let logged = async |action: &str| {
            let found =
                d.h.call("GET", &format!("/api/v1/audit?action={action}&limit=500"), Some(&admin), None)
                    .await;
            assert_eq!(found.status, 200, "{}", found.body);
            found.body["items"].as_array().unwrap().len()
        };
        assert_eq!(logged("matter.access.denied").await, 0);
        assert_eq!(logged("request.refused").await, routes.len());
    }
);

both_backends!(an_unknown_note_kind_is_refused_naming_the_field, |env: TestEnv| async move {
    let d = desk(env).await;
    let path = format!("/api/v1/matters/{}/notes", d.matter);
    let memo = json!({ "kind": "memo", "body": "text", "privileged": false });
    let refused = d.h.call("POST", &path, Some(&d.lead), Some(memo)).await;
    assert_eq!((refused.status, refused.code()), (400, "invalid_input"), "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().starts_with("kind: "), "{}", refused.body);
    let written =
        d.h.call(
            "POST",
            &path,
            Some(&d.lead),
            Some(json!({ "kind": "strategy", "body": "text", "privileged": true })),
        )
        .await;
    assert_eq!(written.status, 201, "{}", written.body);
    assert_eq!(written.body["kind"], "strategy");
});

// A PDF is previewed a page at a time, each page drawn as a PNG by the extractor's child
// (never handed to the browser's PDF viewer): on the API under the preview's own policy,
// and on a page of its own with the way to the pages before and after.
both_backends!(a_pdf_is_previewed_as_its_pages_drawn_on_the_server, |env: TestEnv| async move {
    let d = desk(env).await;
    let pdf = pdf_sharing_one_stream(3, "", 0);
    let up = d.upload("brief.pdf", &pdf).await;
    assert_eq!(up.body["content_type"], "application/pdf", "{}", up.body);
    let id = up.body["id"].as_str().unwrap().to_owned();

    let (status, headers, png) = d.download(&format!("/api/v1/documents/{id}/preview?page=2"), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&png));
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-page-count"], "3");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("sandbox") && !policy.contains("script-src"), "{policy}");
    let (_, _, first) = d.download(&format!("/api/v1/documents/{id}/preview"), None).await;
    assert!(first.starts_with(b"\x89PNG"), "the first page when none is named");

    for (asked, why) in [("4", "the document has 3 page(s)"), ("0", "numbered from 1"), ("x", ""), ("-1", "")]
    {
        let refused =
            d.h.call("GET", &format!("/api/v1/documents/{id}/preview?page={asked}"), Some(&d.lead), None)
                .await;
        assert_eq!(refused.status, 400, "{asked}: {}", refused.body);
        assert!(refused.body.to_string().contains(why), "{asked}: {}", refused.body);
    }
    let outsider = d.h.call("GET", &format!("/api/v1/documents/{id}/preview"), Some(&d.other), None).await;
    assert_eq!(outsider.status, 404);
    let junk = d.h.call("GET", &format!("/api/v1/documents/{id}/preview?zoom=9"), Some(&d.lead), None).await;
    assert_eq!(junk.status, 400, "{}", junk.body);

    // While every drawing slot is taken (by uploads' text extraction, say), a preview waits a
    // few seconds, holding no plaintext, then is told to come back.
    let extractor = &d.h.state.settings.extractor;
    let mut held = Vec::new();
    while let Ok(Ok(slot)) =
        tokio::time::timeout(std::time::Duration::from_millis(200), extractor.slot()).await
    {
        held.push(slot);
    }
    let busy = d.h.call("GET", &format!("/api/v1/documents/{id}/preview"), Some(&d.lead), None).await;
    assert_eq!((busy.status, busy.code()), (429, "previews_busy"), "{}", busy.body);
    assert!(busy.headers.contains_key("retry-after"));
    drop(held);

    let cookie = browser_sign_in(&d.h, "lead@firm.example", "a long shared test passphrase").await;
    let matter = page(&d.h, "GET", &format!("/matters/{}", d.matter), Some(&cookie), None).await;
    assert!(matter.html.contains(&format!("href=\"/documents/{id}/preview\"")), "{}", matter.html);
    let shown = page(&d.h, "GET", &format!("/documents/{id}/preview?page=2"), Some(&cookie), None).await;
    assert_eq!(shown.status, 200, "{}", shown.html);
    for part in [
        "Page 2 of 3",
        "data:image/png;base64,",
        "?page=1\" rel=\"prev\"",
        "?page=3\" rel=\"next\"",
        "alt=\"Page 2 of brief.pdf\"",
    ] {
        assert!(shown.html.contains(part), "{part}: {}", shown.html);
    }
    let last = page(&d.h, "GET", &format!("/documents/{id}/preview?page=3"), Some(&cookie), None).await;
    assert!(!last.html.contains("rel=\"next\""), "no page after the last");
    let past = page(&d.h, "GET", &format!("/documents/{id}/preview?page=9"), Some(&cookie), None).await;
    assert_eq!(past.status, 400);
    assert!(past.html.contains("the document has 3 page(s)"), "{}", past.html);
});
