//! A full export from a running server, checked offline by `ringfence audit verify
//! --export`: intact as downloaded, refused once an audit entry in it is changed (even with
//! its manifest made to match), and opened with its passphrase when encrypted.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use reqwest::Method;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use sha2::Digest;

use super::api::{Api, practising_matter};
use super::*;

const PASSWORD: &str = "a long enough passphrase";

/// Asks for an export at `path` and waits (up to 60 s) for the server's worker to build it;
/// then downloads it.
async fn exported(api: &Api, path: &str, body: Value) -> Vec<u8> {
    let (status, asked) = api.post(path, body).await;
    assert_eq!(status, 202, "{asked}");
    let id = asked["id"].as_str().expect("export id");
    let deadline = Instant::now() + Duration::from_secs(60);
    let link = loop {
        let (status, seen) = api.get(&format!("{path}/{id}")).await;
        assert_eq!(status, 200, "{seen}");
        if let Some(link) = seen["download"].as_str() {
            break link.to_owned();
        }
        assert_ne!(seen["status"], "failed", "{seen}");
        assert!(Instant::now() < deadline, "the export was not built: {seen}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let response = api.request(Method::GET, &link).send().await.expect("download");
    assert_eq!(response.status().as_u16(), 200);
    response.bytes().await.expect("the ZIP").to_vec()
}

fn verify_export(env: &TestEnv, file: &Path, passphrase: Option<&str>) -> Output {
    let mut command = ringfence(env);
    command.args(["audit", "verify", "--export"]).arg(file);
    if passphrase.is_some() {
        command.arg("--passphrase-stdin");
    }
    run(command, passphrase.map(|p| format!("{p}\n")).as_deref())
}

/// The same ZIP with one audit entry's email changed, and its manifest made to match, so
/// that only the chain can tell.
fn tampered(zip: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        files.push((file.name().unwrap().into_owned(), bytes));
    }
    let log = files.iter_mut().find(|(name, _)| name == "audit/audit.jsonl").unwrap();
    let text = String::from_utf8(log.1.clone()).unwrap();
    let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    lines[1]["entry"]["actor_email"] = json!("someone@else.example");
    log.1 = lines.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes();
    let new_hash: String = sha2::Sha256::digest(&log.1).iter().map(|b| format!("{b:02x}")).collect();
    let new_len = log.1.len();
    let manifest = files.iter_mut().find(|(name, _)| name == "manifest.json").unwrap();
    let mut head: Value = serde_json::from_slice(&manifest.1).unwrap();
    for file in head["files"].as_array_mut().unwrap() {
        if file["path"] == "audit/audit.jsonl" {
            file["sha256"] = json!(new_hash);
            file["size"] = json!(new_len);
        }
    }
    manifest.1 = serde_json::to_vec(&head).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        out.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

both_backends!(audit_verify_checks_an_export_offline, |env: TestEnv| async move {
    install_crypto_provider();
    let mut create = ringfence(&env);
    create
        .args([
            "firm",
            "create",
            "--name",
            "Export & Co",
            "--slug",
            "exporting",
            "--admin-email",
            "admin@exporting.example",
        ])
        .arg("--admin-password-stdin");
    let created = run(create, Some(&format!("{PASSWORD}\n")));
    assert!(created.status.success(), "{}", stderr(&created));
    let server = Server::start(&env, &[]);
    let api = Api::sign_in(&server, &env, "admin@exporting.example", PASSWORD).await;
    let matter = practising_matter(&api).await;
    let (status, note) = api
        .post(
            &format!("/api/v1/matters/{matter}/notes"),
            json!({ "kind": "note", "body": "kept", "privileged": false }),
        )
        .await;
    assert_eq!(status, 201, "{note}");

    let dir = tempfile::tempdir().unwrap();
    let firm_zip = dir.path().join("firm.zip");
    std::fs::write(&firm_zip, exported(&api, "/api/v1/firm/exports", json!({})).await).unwrap();
    let verified = verify_export(&env, &firm_zip, None);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(stdout(&verified).contains("is intact"), "{}", stdout(&verified));

    let forged = dir.path().join("forged.zip");
    std::fs::write(&forged, tampered(&std::fs::read(&firm_zip).unwrap())).unwrap();
    let refused = verify_export(&env, &forged, None);
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    assert!(stderr(&refused).contains("entry 2 does not match its hash"), "{}", stderr(&refused));

    // A matter's export, encrypted: its own entries check against their hashes.
    let passphrase = "the matter's own passphrase";
    let matter_zip = dir.path().join("matter.zip");
    let bytes =
        exported(&api, &format!("/api/v1/matters/{matter}/exports"), json!({ "passphrase": passphrase }))
            .await;
    std::fs::write(&matter_zip, bytes).unwrap();
    let verified = verify_export(&env, &matter_zip, Some(passphrase));
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(stdout(&verified).contains("matter scope"), "{}", stdout(&verified));
    let wrong = verify_export(&env, &matter_zip, Some("not the passphrase at all"));
    assert_eq!(wrong.status.code(), Some(1), "{}", stdout(&wrong));
    server.terminate();
});
