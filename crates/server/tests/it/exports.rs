//! Full exports: a matter's by its lead, the firm's by an administrator; built by a job,
//! sealed at rest, downloaded once within a day, and holding every byte of the live data.

use std::collections::HashMap;
use std::io::Read;

use axum::body::Body;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::sign_in_harness::*;
use super::*;

const LEAD: &str = "lead@firm.example";
const MEMBER: &str = "member@firm.example";
const MARKER: &[u8] = b"PLAINTEXT-MARKER-OF-A-PRIVILEGED-FILE";

/// The whole body of a download.
async fn download(h: &Harness, path: &str, token: &str) -> (u16, Vec<u8>) {
    let response = h.respond("GET", path, Some(token), Body::empty(), &[]).await;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 256 << 20).await.unwrap();
    (status, bytes.to_vec())
}

/// The ZIP's files by path, opened with `passphrase` when given.
fn unzip(bytes: &[u8], passphrase: Option<&str>) -> HashMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    let names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    let mut files = HashMap::new();
    for name in names {
        let mut file = match passphrase {
            Some(p) => archive.by_name_decrypt(&name, p.as_bytes()).expect("opens with the passphrase"),
            None => archive.by_name(&name).expect("a file"),
        };
        assert_eq!(file.encrypted(), passphrase.is_some(), "{name}");
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        files.insert(name, content);
    }
    files
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file the manifest lists is there with its size and hash, and nothing else.
fn check_manifest(files: &HashMap<String, Vec<u8>>) -> Value {
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len() + 1, files.len(), "every file but the manifest is listed once");
    for file in listed {
        let bytes = &files[file["path"].as_str().unwrap()];
        assert_eq!(file["size"], json!(bytes.len()), "{file}");
        assert_eq!(file["sha256"], json!(sha256_hex(bytes)), "{file}");
    }
    manifest
}

async fn actions(h: &Harness, admin: &str, prefix: &str) -> Vec<Value> {
    let log = h.call("GET", &format!("/api/v1/audit?action={prefix}&limit=100"), Some(admin), None).await;
    assert_eq!(log.status, 200, "{}", log.body);
    log.body["items"].as_array().unwrap().clone()
}

/// Runs the due jobs and checks that one build ran.
async fn build_exports(h: &Harness) {
    let ran = run_due_jobs(&h.state).await;
    assert!(ran.iter().any(|r| r.kind == "export.build"), "{ran:?}");
}

/// Whether any stored blob of the firm holds `needle` in the clear.
async fn blobs_hold(h: &Harness, needle: &[u8]) -> bool {
    for blob in h.state.blobs.list(h.firm).await.unwrap() {
        let size = h.state.blobs.size(h.firm, blob).await.unwrap();
        let bytes = h.state.blobs.read(h.firm, blob, 0..size).await.unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
    }
    false
}

both_backends!(a_matter_export_holds_every_byte_and_is_downloaded_once, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, LEAD, &["attorney"]).await;
    let member = h.signed_in_user(&admin, MEMBER, &["attorney"]).await;
    let matter = h
        .open_matter(
            &lead,
            json!({ "name": "Acme Holdings", "kind": "organisation" }),
            json!({ "title": "Acme v Beta", "description": "A dispute" }),
        )
        .await;
    let member_id = h.call("GET", "/api/v1/users", Some(&admin), None).await.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == MEMBER)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let added = h
        .call(
            "PUT",
            &format!("/api/v1/matters/{matter}/members/{member_id}"),
            Some(&lead),
            Some(json!({ "role": "member" })),
        )
        .await;
    assert!(added.status < 300, "{}", added.body);

    // Notes, one of them edited twice: three versions.
    let note = h
        .call(
            "POST",
            &format!("/api/v1/matters/{matter}/notes"),
            Some(&lead),
            Some(json!({ "kind": "note", "body": "first words", "privileged": true })),
        )
        .await;
    assert_eq!(note.status, 201, "{}", note.body);
    let note_id = note.body["id"].as_str().unwrap().to_owned();
    for body in ["second words", "third and last words"] {
        let edited = h
            .call("PATCH", &format!("/api/v1/notes/{note_id}"), Some(&lead), Some(json!({ "body": body })))
            .await;
        assert_eq!(edited.status, 200, "{}", edited.body);
    }
    let other = h
        .call(
            "POST",
            &format!("/api/v1/matters/{matter}/notes"),
            Some(&member),
            Some(json!({ "kind": "strategy", "body": "another note", "privileged": false })),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.body);

    // Documents: one over a read span, with a second version; another of the same name; a
    // name that is no safe path.
    let mut big: Vec<u8> = (0..1_600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    big[1000..1000 + MARKER.len()].copy_from_slice(MARKER);
    let documents = format!("/api/v1/matters/{matter}/documents");
    let first = h.upload(&documents, &lead, "brief.bin", &big, &[]).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let first_id = first.body["id"].as_str().unwrap().to_owned();
    let added = h
        .upload(
            &format!("/api/v1/documents/{first_id}/versions"),
            &lead,
            "brief.bin",
            b"the second version",
            &[],
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let twin = h.upload(&documents, &member, "Brief.bin", b"another brief, same name", &[]).await;
    assert_eq!(twin.status, 201, "{}", twin.body);
    let odd = h.upload(&documents, &lead, "../../etc/con.txt", b"an odd name", &[]).await;
    assert_eq!(odd.status, 201, "{}", odd.body);

    // Only the lead may ask; a bad passphrase is refused with its field.
    let path = format!("/api/v1/matters/{matter}/exports");
    for token in [&member, &admin] {
        assert_eq!(h.call("POST", &path, Some(token), Some(json!({}))).await.status, 404);
        assert_eq!(h.call("GET", &path, Some(token), None).await.status, 404);
    }
    for passphrase in ["too short", &"x".repeat(129), "twelve chars\u{7}!"] {
        let refused = h.call("POST", &path, Some(&lead), Some(json!({ "passphrase": passphrase }))).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(
            refused.body["error"]["message"].as_str().unwrap().starts_with("passphrase: "),
            "{}",
            refused.body
        );
    }
    let asked = h.call("POST", &path, Some(&lead), Some(json!({}))).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    assert_eq!(asked.body["status"], "queued");
    let export = asked.body["id"].as_str().unwrap().to_owned();
    // The matter page offers the export to its leads alone, and lists theirs.
    let page = |token: String| {
        let path = format!("/matters/{matter}");
        let h = &h;
        async move { h.call("GET", &path, Some(&token), None).await.body.as_str().unwrap_or_default().to_owned() }
    };
    let shown = page(lead.clone()).await;
    assert!(shown.contains("Export the matter") && shown.contains("being built"), "{shown}");
    assert!(!page(member.clone()).await.contains("Export the matter"));
    let early = h.call("GET", &format!("{path}/{export}/download"), Some(&lead), None).await;
    assert_eq!(early.status, 409, "{}", early.body);

    build_exports(&h).await;
    let seen = h.call("GET", &format!("{path}/{export}"), Some(&lead), None).await;
    assert_eq!(seen.body["status"], "ready", "{}", seen.body);
    let link = seen.body["download"].as_str().unwrap().to_owned();
    let told = h.latest_mail(ADMIN_EMAIL);
    assert!(told.contains("A full export of matter"), "the administrators are told: {told}");
    assert!(told.contains("Dear Ada Admin,") && !told.contains("asked for by user "), "by name: {told}");
    // Stored sealed: no blob holds the document's bytes in the clear (the ZIP stores
    // documents uncompressed, so a plaintext ZIP would).
    assert!(!blobs_hold(&h, MARKER).await, "no plaintext at rest");
    // Someone else's export is not found, even by another lead of the matter.
    let added = h
        .call(
            "PUT",
            &format!("/api/v1/matters/{matter}/members/{member_id}"),
            Some(&lead),
            Some(json!({ "role": "lead" })),
        )
        .await;
    assert!(added.status < 300, "{}", added.body);
    for other in [format!("{path}/{export}"), link.clone()] {
        assert_eq!(h.call("GET", &other, Some(&member), None).await.status, 404, "{other}");
    }
    assert!(h.call("GET", &path, Some(&member), None).await.body["items"].as_array().unwrap().is_empty());

    let (status, zip) = download(&h, &link, &lead).await;
    assert_eq!(status, 200);
    let again = h.call("GET", &link, Some(&lead), None).await;
    assert_eq!(again.status, 410, "{}", again.body);
    assert_eq!(again.code(), "export_gone");

    let files = unzip(&zip, None);
    let manifest = check_manifest(&files);
    assert_eq!(manifest["scope"], "matter");
    assert_eq!(manifest["counts"]["documents"], 3);
    assert_eq!(manifest["counts"]["document_versions"], 4);
    assert_eq!(manifest["counts"]["notes"], 2);
    assert_eq!(manifest["counts"]["note_versions"], 4);

    // Every document version, byte for byte, under a unique, safe name.
    let number = h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.body["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = lines(&files[&format!("matters/{number}/documents.jsonl")]);
    assert_eq!(listed.len(), 4);
    let mut paths = std::collections::HashSet::new();
    for version in &listed {
        let path = version["path"].as_str().unwrap();
        assert!(paths.insert(path.to_lowercase()), "{path} is unique");
        let name = path.rsplit('/').next().unwrap();
        assert!(
            !name.starts_with('.')
                && !name.contains('\\')
                && path.starts_with(&format!("matters/{number}/documents/")),
            "{path}"
        );
        let live = download(
            &h,
            &format!(
                "/api/v1/documents/{}/content?version={}",
                version["document_id"].as_str().unwrap(),
                version["version"]
            ),
            &lead,
        )
        .await;
        assert_eq!(live.0, 200);
        assert_eq!(files[path], live.1, "{path}");
        assert_eq!(version["sha256"], json!(sha256_hex(&live.1)));
    }
    assert!(
        paths.contains(&format!("matters/{number}/documents/brief (v1).bin").to_lowercase()),
        "{paths:?}"
    );

    // Every note version, the current ones as the API reads them.
    let notes = lines(&files[&format!("matters/{number}/notes.jsonl")]);
    let history: Vec<&str> = notes
        .iter()
        .filter(|n| n["note_id"] == note_id.as_str())
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["first words", "second words", "third and last words"]);
    let live = h.call("GET", &format!("/api/v1/matters/{matter}/notes"), Some(&lead), None).await;
    for note in live.body["items"].as_array().unwrap() {
        let exported = notes.iter().find(|n| n["note_id"] == note["id"] && n["current"] == true).unwrap();
        assert_eq!(exported["body"], note["body"]);
    }
    let matters = lines(&files["matters.jsonl"]);
    assert_eq!(matters.len(), 1);
    assert_eq!(matters[0]["title"], "Acme v Beta");
    assert_eq!(lines(&files["clients.jsonl"])[0]["name"], "Acme Holdings");
    assert_eq!(lines(&files["memberships.jsonl"]).len(), 2);
    // The matter's own audit trail, each entry with its hash.
    let trail = lines(&files["audit/audit.jsonl"]);
    assert!(trail.iter().all(|e| e["entry"]["matter_id"] == matter.as_str()));
    assert!(trail.iter().any(|e| e["entry"]["action"] == "export.requested"));
    assert!(String::from_utf8_lossy(&files["audit/audit.csv"]).starts_with("seq,at,"));

    // Requested, built, downloaded: on the record.
    let recorded: Vec<String> = actions(&h, &admin, "export.")
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for action in ["export.requested", "export.built", "export.downloaded"] {
        assert!(recorded.contains(&action.to_owned()), "{action}: {recorded:?}");
    }
    // The downloaded ZIP is gone from the blob store: only the document versions are left.
    assert_eq!(h.state.blobs.list(h.firm).await.unwrap().len(), 4);

    // One not downloaded within its day expires, and its file goes.
    let unread =
        h.call("POST", &path, Some(&lead), Some(json!({}))).await.body["id"].as_str().unwrap().to_owned();
    build_exports(&h).await;
    assert_eq!(h.state.blobs.list(h.firm).await.unwrap().len(), 5);
    h.clock.advance(Duration::hours(25));
    let worker = ringfence_server::jobs::Worker::new(
        h.state.storage.clone(),
        h.state.blobs.clone(),
        h.state.mailer.clone(),
        h.clock.clone(),
        Vec::new(),
    );
    worker.ensure_schedules().await.unwrap();
    worker.run_due().await.unwrap();
    let lead = h.sign_in(LEAD, "a long shared test passphrase").await;
    let expired = h.call("GET", &format!("{path}/{unread}"), Some(&lead), None).await;
    assert_eq!(expired.body["status"], "expired", "{}", expired.body);
    assert_eq!(h.call("GET", &format!("{path}/{unread}/download"), Some(&lead), None).await.status, 410);
    assert_eq!(h.state.blobs.list(h.firm).await.unwrap().len(), 4);
});

/// 7-Zip, where it is installed; under CI it must be.
fn seven_zip() -> Option<&'static str> {
    let found = std::process::Command::new("7z").arg("i").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var("CI").is_err(), "7z (p7zip-full) must be installed under CI");
        eprintln!("skipping the 7-Zip check: 7z is not installed (scripts/test installs p7zip-full)");
        return None;
    }
    Some("7z")
}

both_backends!(
    a_firm_export_is_the_administrators_and_opens_with_its_passphrase,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let lead = h.signed_in_user(&admin, LEAD, &["attorney"]).await;
        let matter = h
            .open_matter(
                &lead,
                json!({ "name": "Gamma Ltd", "kind": "organisation" }),
                json!({ "title": "Gamma" }),
            )
            .await;
        let note = h
            .call(
                "POST",
                &format!("/api/v1/matters/{matter}/notes"),
                Some(&lead),
                Some(json!({ "kind": "note", "body": "a note the firm keeps", "privileged": false })),
            )
            .await;
        assert_eq!(note.status, 201);
        assert_eq!(
            h.upload(&format!("/api/v1/matters/{matter}/documents"), &lead, "deed.txt", b"the deed", &[])
                .await
                .status,
            201
        );

        assert_eq!(h.call("POST", "/api/v1/firm/exports", Some(&lead), Some(json!({}))).await.status, 403);
        let passphrase = "correct horse battery staple export";
        let asked = h
            .call("POST", "/api/v1/firm/exports", Some(&admin), Some(json!({ "passphrase": passphrase })))
            .await;
        assert_eq!(asked.status, 202, "{}", asked.body);
        assert_eq!(asked.body["encrypted"], true);
        let export = asked.body["id"].as_str().unwrap().to_owned();
        build_exports(&h).await;
        let seen = h.call("GET", &format!("/api/v1/firm/exports/{export}"), Some(&admin), None).await;
        assert_eq!(seen.body["status"], "ready", "{}", seen.body);
        // A matter route does not reach the firm's export.
        assert_eq!(
            h.call("GET", &format!("/api/v1/matters/{matter}/exports/{export}"), Some(&lead), None)
                .await
                .status,
            404
        );
        let page = h.call("GET", "/admin/exports", Some(&admin), None).await;
        let shown = page.body.as_str().unwrap_or_default();
        assert!(shown.contains("Export the firm") && shown.contains("ready to download, once"), "{shown}");
        assert_eq!(h.call("GET", "/admin/exports", Some(&lead), None).await.status, 403);
        let (status, zip) = download(&h, seen.body["download"].as_str().unwrap(), &admin).await;
        assert_eq!(status, 200);
        assert!(
            zip::ZipArchive::new(std::io::Cursor::new(&zip))
                .unwrap()
                .by_name_decrypt("manifest.json", b"a wrong passphrase!")
                .is_err(),
            "a wrong passphrase opens nothing"
        );
        let files = unzip(&zip, Some(passphrase));
        let manifest = check_manifest(&files);
        assert_eq!(manifest["scope"], "firm");
        assert_eq!(manifest["encrypted"], true);
        let number = lines(&files["matters.jsonl"])[0]["number"].as_str().unwrap().to_owned();
        assert_eq!(files[&format!("matters/{number}/documents/deed.txt")], b"the deed");
        // The whole log, entry after entry.
        let log = lines(&files["audit/audit.jsonl"]);
        let seqs: Vec<i64> = log.iter().map(|e| e["entry"]["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
        assert!(!lines(&files["audit/checkpoints.jsonl"]).is_empty());

        if let Some(seven) = seven_zip() {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("export.zip");
            std::fs::write(&file, &zip).unwrap();
            let tested = std::process::Command::new(seven)
                .arg("t")
                .arg(format!("-p{passphrase}"))
                .arg(&file)
                .output()
                .unwrap();
            assert!(tested.status.success(), "{}", String::from_utf8_lossy(&tested.stdout));
            let out = dir.path().join("out");
            let extracted = std::process::Command::new(seven)
                .arg("x")
                .arg(format!("-p{passphrase}"))
                .arg(format!("-o{}", out.display()))
                .arg(&file)
                .output()
                .unwrap();
            assert!(extracted.status.success(), "{}", String::from_utf8_lossy(&extracted.stdout));
            assert_eq!(
                std::fs::read(out.join(format!("matters/{number}/documents/deed.txt"))).unwrap(),
                b"the deed"
            );
            let wrong = std::process::Command::new(seven)
                .arg("t")
                .arg("-pthe-wrong-passphrase")
                .arg(&file)
                .output()
                .unwrap();
            assert!(!wrong.status.success(), "7-Zip refuses a wrong passphrase");
        }
    }
);

both_backends!(a_wall_binds_an_administrators_firm_export, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lead = h.signed_in_user(&admin, LEAD, &["attorney"]).await;
    let open = h
        .open_matter(&lead, json!({ "name": "Open Co", "kind": "organisation" }), json!({ "title": "Open" }))
        .await;
    let screened = h
        .open_matter(
            &lead,
            json!({ "name": "Screened Co", "kind": "organisation", "email": "x@screened.example" }),
            json!({ "title": "Screened" }),
        )
        .await;
    let second = h.signed_in_user(&admin, "second@firm.example", &["admin"]).await;
    let second_id = h.call("GET", "/api/v1/me", Some(&second), None).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let walled =
        h.call("PUT", &format!("/api/v1/matters/{screened}/walls/{second_id}"), Some(&admin), None).await;
    assert_eq!(walled.status, 204, "{}", walled.body);
    let secret = b"the screened matter's privileged memo";
    let up = h.upload(&format!("/api/v1/matters/{screened}/documents"), &lead, "memo.txt", secret, &[]).await;
    assert_eq!(up.status, 201, "{}", up.body);

    let asked = h.call("POST", "/api/v1/firm/exports", Some(&second), Some(json!({}))).await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    build_exports(&h).await;
    let export = asked.body["id"].as_str().unwrap();
    let seen = h.call("GET", &format!("/api/v1/firm/exports/{export}"), Some(&second), None).await;
    let (status, zip) = download(&h, seen.body["download"].as_str().unwrap(), &second).await;
    assert_eq!(status, 200);
    let files = unzip(&zip, None);
    let manifest = check_manifest(&files);
    assert_eq!(manifest["counts"]["matters"], 1, "{manifest}");
    assert_eq!(manifest["counts"]["withheld_matters"], 1, "{manifest}");
    let matters = lines(&files["matters.jsonl"]);
    assert_eq!(matters[0]["id"], open.as_str());
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains("the screened matter's privileged memo"),
            "{name} holds the screened document"
        );
        assert!(!text.contains("\"Screened\""), "{name} holds the screened matter's title");
    }
});
