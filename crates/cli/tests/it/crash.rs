//! Proof under failure: the server is killed with SIGKILL while several writers add notes
//! and a large upload is mid-stream. Restarted on the same database, blob store and master
//! key, it still has every note it answered for, byte for byte; the audit chain verifies;
//! and the cut-off upload left neither a document nor a blob. A kill in the one gap where
//! an upload's bytes are stored and not yet recorded leaves nothing but a blob no version
//! names, which the blob sweep removes.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};
use reqwest::{Method, RequestBuilder};
use ringfence_core::ids::FirmId;
use ringfence_store::blobs::{BlobLocation, BlobStore};
use ringfence_store::firm::audit::CHECKPOINT_EVERY;
use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use super::api::{Api, file_part_head, practising_matter, printed_invitation};
use super::blobs::{age_local_blob, sweep};
use super::*;

const EMAIL: &str = "lead@crash.example";
const PASSWORD: &str = "the tide comes in twice a day";
const WRITERS: usize = 4;
/// A writer stops after this many notes even if the server somehow outlives the test's wait.
const NOTES_PER_WRITER: usize = 400;
/// Notes answered (over all writers) before the kill, so it hits a running workload: each
/// has its audit entry, so the log has signed a checkpoint before the kill too.
const NOTES_BEFORE_KILL: usize = CHECKPOINT_EVERY as usize;
const BOUNDARY: &str = "ringfence-cut-off-upload";
/// What the cut-off upload sends at full speed: several of the blob store's 8 MiB parts,
/// more than loopback socket buffers hold, so the server has begun storing them.
const FAST_CHUNKS: usize = 32;
const FAST_CHUNK_LEN: usize = 1 << 20;
/// Then it trickles, so it is still mid-flight whenever the kill comes; this many chunks at
/// most, after which it ends without its closing boundary, which the server refuses.
const SLOW_CHUNKS: usize = 3_000;
const SLOW_CHUNK_LEN: usize = 64 * 1024;
const SLOW_PAUSE: Duration = Duration::from_millis(100);
/// How long the workload may take to reach the state the kill needs.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// A note the server answered with success for: its id when the answer arrived whole.
struct Answered {
    id: Option<String>,
    body: String,
}

/// A note body no other note has: random, with text beyond ASCII, of varying length.
fn note_body(writer: usize, n: usize) -> String {
    format!("writer {writer}, note {n}: {} — «privileged» žćš 🦀 {}", Uuid::new_v4(), "·".repeat(n % 37))
}

/// Adds notes until the server stops answering (or the cap): every body sent, and the
/// notes answered with success.
async fn write_notes(
    api: Arc<Api>,
    matter: String,
    writer: usize,
    answered_count: Arc<AtomicUsize>,
) -> (Vec<String>, Vec<Answered>) {
    let (mut sent, mut answered) = (Vec::new(), Vec::new());
    for n in 0..NOTES_PER_WRITER {
        let body = note_body(writer, n);
        sent.push(body.clone());
        let note = json!({ "kind": "note", "body": body, "privileged": writer.is_multiple_of(2) });
        let request = api.request(Method::POST, &format!("/api/v1/matters/{matter}/notes")).json(&note);
        let Ok(response) = request.send().await else { break };
        assert!(response.status().is_success(), "a note was refused before the kill: {}", response.status());
        let id = match response.json::<Value>().await {
            Ok(note) => Some(note["id"].as_str().expect("note id").to_owned()),
            Err(_) => None,
        };
        let whole = id.is_some();
        answered.push(Answered { id, body });
        answered_count.fetch_add(1, Ordering::SeqCst);
        if !whole {
            break;
        }
    }
    (sent, answered)
}

/// An upload's body that streams a file and never ends its form: `sent` counts the bytes
/// handed to the connection.
fn cut_off_upload(sent: Arc<AtomicU64>) -> impl Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let head = futures_util::stream::once(async { file_part_head(BOUNDARY, "interrupted.bin").into_bytes() });
    let fast = futures_util::stream::iter((0..FAST_CHUNKS).map(|i| vec![i as u8; FAST_CHUNK_LEN]));
    let slow = futures_util::stream::iter(0..SLOW_CHUNKS).then(|i| async move {
        tokio::time::sleep(SLOW_PAUSE).await;
        vec![(i % 251) as u8; SLOW_CHUNK_LEN]
    });
    head.chain(fast).chain(slow).map(move |chunk| {
        sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Ok(chunk)
    })
}

/// Polls `ready` until it holds; fails the test once `READY_WITHIN` has passed.
async fn wait_until(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + READY_WITHIN;
    while !ready().await {
        assert!(Instant::now() < deadline, "not ready within {READY_WITHIN:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn audit_verify(env: &TestEnv) -> Output {
    let mut command = ringfence(env);
    command.args(["audit", "verify", "--firm", "crash"]);
    run(command, None)
}

/// The ids a query of the firm's tables answers, read directly.
async fn ids_on_record(env: &TestEnv, firm: &str, query: &'static str) -> BTreeSet<String> {
    let mut conn = raw_firm_connection(env, firm).await;
    sqlx::query_scalar(query).fetch_all(&mut conn).await.unwrap().into_iter().collect()
}

/// The matter's notes, every page: id → body.
async fn listed_notes(api: &Api, matter: &str) -> Vec<(String, String)> {
    let mut notes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor.as_deref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, page) = api.get(&format!("/api/v1/matters/{matter}/notes?limit=500{after}")).await;
        assert_eq!(status, 200, "{page}");
        for note in page["items"].as_array().expect("items") {
            notes.push((note["id"].as_str().unwrap().to_owned(), note["body"].as_str().unwrap().to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return notes,
        }
    }
}

/// The firm `crash` served over the environment's blob store, its administrator signed in
/// and practising on one matter.
struct Scene {
    server: Server,
    api: Arc<Api>,
    matter: String,
    firm: String,
    location: BlobLocation,
    blobs: BlobStore,
}

impl Scene {
    async fn start(env: &TestEnv, extra: &[&str]) -> Scene {
        let created = create_firm(env, "crash", EMAIL, &[]);
        assert!(created.status.success(), "{}", stderr(&created));
        let location = env.blob_location();
        let blobs = BlobStore::open(&location).unwrap();
        let server = Scene::serve(env, &location, extra);
        let accept = json!({ "token": printed_invitation(&stdout(&created)), "password": PASSWORD });
        let (status, body) = Api::new(&server).post("/api/v1/auth/accept-invite", accept).await;
        assert_eq!(status, 204, "{body}");
        let api = Arc::new(Api::sign_in(&server, env, EMAIL, PASSWORD).await);
        let matter = practising_matter(&api).await;
        Scene { server, api, matter, firm: firm_id(env, "crash"), location, blobs }
    }

    fn serve(env: &TestEnv, location: &BlobLocation, extra: &[&str]) -> Server {
        let setting = blob_store_setting(location);
        Server::start(env, &[&["--blob-store", setting.as_str()], extra].concat())
    }

    fn firm_id(&self) -> FirmId {
        self.firm.parse().unwrap()
    }

    fn upload(&self, body: impl Into<reqwest::Body>) -> RequestBuilder {
        self.api
            .request(Method::POST, &format!("/api/v1/matters/{}/documents", self.matter))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(body)
    }
}

/// Once the audit chain as a kill left it verifies, starts the server again on the same
/// storage and keys, and signs in anew.
async fn restart_after_kill(env: &TestEnv, location: &BlobLocation) -> (Server, Api) {
    let verified = audit_verify(env);
    assert!(
        verified.status.success(),
        "the chain as the kill left it: {}{}",
        stdout(&verified),
        stderr(&verified)
    );
    let server = Scene::serve(env, location, &[]);
    let api = Api::sign_in(&server, env, EMAIL, PASSWORD).await;
    (server, api)
}

/// A whole upload form of one file.
fn upload_form(file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut form = file_part_head(BOUNDARY, file_name).into_bytes();
    form.extend_from_slice(bytes);
    form.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    form
}

both_backends!(a_killed_server_keeps_what_it_answered_and_leaves_no_blob_behind, |env: TestEnv| async move {
    let scene = Scene::start(&env, &[]).await;
    let (api, matter, firm) = (scene.api.clone(), scene.matter.clone(), scene.firm.clone());

    // One document completes before the crash: its blob must survive it, named by its version.
    let kept_bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let kept = scene.upload(upload_form("kept.bin", &kept_bytes)).send().await.unwrap();
    assert_eq!(kept.status(), 201);
    let kept: Value = kept.json().await.unwrap();

    let answered_count = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| tokio::spawn(write_notes(api.clone(), matter.clone(), writer, answered_count.clone())))
        .collect();
    let upload_sent = Arc::new(AtomicU64::new(0));
    let upload_finished = Arc::new(AtomicBool::new(false));
    let upload = {
        let request = scene
            .upload(reqwest::Body::wrap_stream(cut_off_upload(upload_sent.clone())))
            .timeout(READY_WITHIN + SLOW_PAUSE * SLOW_CHUNKS as u32);
        let finished = upload_finished.clone();
        tokio::spawn(async move {
            let answer = request.send().await;
            finished.store(true, Ordering::SeqCst);
            answer.map(|response| response.status())
        })
    };

    let (blobs, firm_uuid) = (scene.blobs.clone(), scene.firm_id());
    let local = matches!(scene.location, BlobLocation::Local(_));
    let fast_bytes = (FAST_CHUNKS * FAST_CHUNK_LEN) as u64;
    wait_until("notes answered and the upload trickling", async || {
        answered_count.load(Ordering::SeqCst) >= NOTES_BEFORE_KILL
            && upload_sent.load(Ordering::SeqCst) >= fast_bytes + SLOW_CHUNK_LEN as u64
    })
    .await;
    if local {
        // A local store stages a blob's parts in a file of its own: the upload is storing.
        wait_until("the upload's staged file", async || {
            !blobs.list_staged(firm_uuid).await.unwrap().is_empty()
        })
        .await;
    }
    assert!(!upload_finished.load(Ordering::SeqCst), "the upload was still in flight at the kill");
    scene.server.kill();

    let outcome =
        tokio::time::timeout(READY_WITHIN, upload).await.expect("the upload ends with the server").unwrap();
    assert!(outcome.is_err(), "the cut-off upload got no answer, yet: {outcome:?}");
    let (mut sent, mut answered) = (HashSet::new(), Vec::new());
    for writer in writers {
        let (bodies, notes) =
            tokio::time::timeout(READY_WITHIN, writer).await.expect("writers stop").unwrap();
        sent.extend(bodies);
        answered.extend(notes);
    }
    let (server, api) = restart_after_kill(&env, &scene.location).await;
    let listed = listed_notes(&api, &matter).await;
    let listed_bodies: HashSet<&str> = listed.iter().map(|(_, body)| body.as_str()).collect();
    for note in &answered {
        match &note.id {
            Some(id) => {
                let (status, read) = api.get(&format!("/api/v1/notes/{id}")).await;
                assert_eq!(status, 200, "answered note {id} after the restart: {read}");
                assert_eq!(
                    read["body"].as_str(),
                    Some(note.body.as_str()),
                    "note {id} reads back as written"
                );
            }
            None => assert!(listed_bodies.contains(note.body.as_str()), "a note answered 201 is listed"),
        }
    }
    for (id, body) in &listed {
        assert!(sent.contains(body), "note {id} holds a body that was sent: {body:?}");
    }
    let (status, documents) = api.get(&format!("/api/v1/matters/{matter}/documents")).await;
    assert_eq!(status, 200, "{documents}");
    let names: Vec<&str> =
        documents["items"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kept.bin"], "the cut-off upload is no document");
    let content =
        api.request(Method::GET, &format!("/api/v1/documents/{}/content", kept["id"].as_str().unwrap()));
    assert_eq!(
        content.send().await.unwrap().bytes().await.unwrap().as_ref(),
        kept_bytes,
        "the kept document"
    );
    assert_eq!(server.terminate().code(), Some(0));

    let verified = audit_verify(&env);
    assert!(verified.status.success(), "after the restart: {}{}", stdout(&verified), stderr(&verified));
    // A note and its audit entry commit together, whenever the kill came.
    let audited =
        ids_on_record(&env, &firm, "SELECT resource_id FROM audit_log WHERE action = 'note.created'").await;
    let on_record: BTreeSet<String> = listed.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(audited, on_record, "every note has its audit entry, and every entry its note");
    let uploads =
        ids_on_record(&env, &firm, "SELECT resource_id FROM audit_log WHERE action = 'document.uploaded'")
            .await;
    assert_eq!(
        uploads,
        BTreeSet::from([kept["id"].as_str().unwrap().to_owned()]),
        "only the kept upload is audited"
    );
    // What the store lists is exactly the recorded versions: the kept document's one.
    let recorded = ids_on_record(&env, &firm, "SELECT id FROM document_versions").await;
    assert_eq!(recorded.len(), 1, "one version recorded: the kept document's");
    let stored: BTreeSet<String> = blobs.list(firm_uuid).await.unwrap().iter().map(Uuid::to_string).collect();
    assert_eq!(stored, recorded, "every stored blob is a recorded version");
    // The cut-off upload's bytes are, in a local store, the staged file seen before the kill
    // (`<blob>#<n>`, which listings do not show and a sweep removes once a day old); in S3
    // an unfinished multipart upload, which is no object at all.
    let staged = blobs.list_staged(firm_uuid).await.unwrap();
    assert_eq!(staged.len(), usize::from(local), "only the cut-off upload is staged: {staged:?}");
    for file in &staged {
        let name = file.path.file_name().unwrap().to_str().unwrap();
        let blob = name.split_once('#').unwrap().0;
        assert!(!recorded.contains(blob), "the staged file is no recorded version's");
    }
});

// An upload's bytes are stored before they are recorded (its scan and text extraction read
// them back first), so a kill between the two leaves a stored blob no version names. That
// is the one orphan a crash can leave, and what the blob sweep removes once past its grace
// period: no document, no version and no audit entry claim it meanwhile.
both_backends!(
    a_kill_between_storing_and_recording_an_upload_leaves_only_a_blob_for_the_sweep,
    |env: TestEnv| async move {
        // A scanner that takes files and never answers holds the upload in that gap.
        let scanner = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = scanner.local_addr().unwrap().to_string();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = scanner.accept().await {
                held.push(connection);
            }
        });
        let scene = Scene::start(&env, &["--clamav", &address]).await;
        let upload = tokio::spawn(scene.upload(upload_form("unrecorded.bin", &[7; 100_000])).send());
        let (blobs, firm) = (scene.blobs.clone(), scene.firm_id());
        wait_until("the upload stored, its scan waiting", async || {
            !blobs.list(firm).await.unwrap().is_empty()
        })
        .await;
        scene.server.kill();
        silent.abort();
        assert!(upload.await.unwrap().is_err(), "the upload got no answer");

        let (server, api) = restart_after_kill(&env, &scene.location).await;
        let (status, documents) = api.get(&format!("/api/v1/matters/{}/documents", scene.matter)).await;
        assert_eq!(status, 200, "{documents}");
        assert_eq!(documents["items"], json!([]), "the upload is no document");
        assert_eq!(server.terminate().code(), Some(0));
        assert!(ids_on_record(&env, &scene.firm, "SELECT id FROM document_versions").await.is_empty());
        let uploads = "SELECT resource_id FROM audit_log WHERE action = 'document.uploaded'";
        assert!(
            ids_on_record(&env, &scene.firm, uploads).await.is_empty(),
            "no audit entry claims the upload"
        );
        let stored = blobs.list(firm).await.unwrap();
        assert_eq!(stored.len(), 1, "the stored, unrecorded upload");

        let setting = blob_store_setting(&scene.location);
        let fresh = sweep(&env, "crash", &setting);
        assert!(stdout(&fresh).contains("crash: removed 0 unrecorded blobs"), "{}", stdout(&fresh));
        // A local blob's age is its file's time; an S3 object's cannot be set back by a test.
        if let BlobLocation::Local(dir) = &scene.location {
            age_local_blob(dir, firm, stored[0]);
            let swept = sweep(&env, "crash", &setting);
            assert!(stdout(&swept).contains("crash: removed 1 unrecorded blobs"), "{}", stdout(&swept));
            assert!(blobs.list(firm).await.unwrap().is_empty(), "nothing is left once swept");
        }
    }
);
