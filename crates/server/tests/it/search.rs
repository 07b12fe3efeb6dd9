//! Search over sealed content: matter titles, notes, and the text of documents (plain
//! text, PDF, DOCX) the test builds, only ever from matters the caller may read.

use std::io::Write;

use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};

use super::sign_in_harness::*;

const PASSWORD: &str = "a long shared test passphrase";

/// A one-page PDF whose page shows `text` (uncompressed content, Helvetica), with a
/// correct cross-reference table.
fn pdf_with(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1)
            .as_bytes(),
    );
    pdf
}

/// A minimal Word document whose body is the paragraphs given.
fn docx_with(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs.iter().map(|p| format!("<w:p><w:r><w:t>{p}</w:t></w:r></w:p>")).collect();
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#.to_owned(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#.to_owned(),
        ),
        (
            "word/document.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
            ),
        ),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, text) in parts {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

struct Scene {
    h: Harness,
    lead: String,
    billing: String,
    walled: String,
    no_role: String,
    matter: String,
}

async fn scene(env: TestEnv) -> Scene {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for (email, role) in [
        ("lead@firm.example", "attorney"),
        ("billing@firm.example", "billing"),
        ("walled@firm.example", "attorney"),
        ("norole@firm.example", "attorney"),
    ] {
        h.add_user(&admin, email, &[role], PASSWORD).await;
        let token = h.sign_in(email, PASSWORD).await;
        let me = h.call("GET", "/api/v1/me", Some(&token), None).await;
        ids.push(me.body["user"]["id"].as_str().unwrap().to_owned());
        tokens.push(token);
    }
    let [lead, billing, walled, no_role] = <[String; 4]>::try_from(tokens).unwrap();
    let client = h
        .call("POST", "/api/v1/clients", Some(&lead), Some(json!({ "name": "Acme", "kind": "organisation" })))
        .await;
    let matter = h
        .call(
            "POST",
            "/api/v1/matters",
            Some(&lead),
            Some(json!({
                "title": "Walrus Shipping v Harbour Board",
                "client_id": client.body["id"],
                "description": "Demurrage claim over the quay collapse",
            })),
        )
        .await;
    let matter = matter.body["id"].as_str().unwrap().to_owned();
    for (id, role) in [(&ids[1], "billing"), (&ids[2], "member")] {
        let set = h
            .call(
                "PUT",
                &format!("/api/v1/matters/{matter}/members/{id}"),
                Some(&lead),
                Some(json!({ "role": role })),
            )
            .await;
        assert_eq!(set.status, 204);
    }
    let wall = h.call("PUT", &format!("/api/v1/matters/{matter}/walls/{}", ids[2]), Some(&admin), None).await;
    assert_eq!(wall.status, 204);
    Scene { h, lead, billing, walled, no_role, matter }
}

impl Scene {
    async fn search(&self, token: &str, q: &str) -> Vec<Value> {
        let reply = self.h.call("GET", &format!("/api/v1/search?q={q}"), Some(token), None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["items"].as_array().unwrap().clone()
    }

    async fn upload(&self, name: &str, bytes: &[u8]) -> Value {
        let up = self
            .h
            .upload(&format!("/api/v1/matters/{}/documents", self.matter), &self.lead, name, bytes, &[])
            .await;
        assert_eq!(up.status, 201, "{}", up.body);
        up.body
    }
}

both_backends!(
    search_finds_words_in_titles_notes_pdf_and_docx_only_where_one_may_read,
    |env: TestEnv| async move {
        let s = scene(env).await;
        let pdf = s.upload("exhibit.pdf", &pdf_with("The witness saw a crimson tractor near the quay")).await;
        assert_eq!(pdf["content_type"], "application/pdf");
        let docx = s
            .upload("memo.docx", &docx_with(&["Privileged memo", "The azure bicycle was never insured"]))
            .await;
        assert_eq!(
            docx["content_type"],
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        let text = s.upload("notes.txt", b"Call the harbourmaster about the mooring logs").await;
        let note = s
        .h
        .call(
            "POST",
            &format!("/api/v1/matters/{}/notes", s.matter),
            Some(&s.lead),
            Some(json!({ "kind": "strategy", "body": "Offer a settlement in purple ink, not a cent above 2m", "privileged": true })),
        )
        .await;
        assert_eq!(note.status, 201);

        let hit = |items: &[Value], kind: &str, id: &Value| {
            items.iter().find(|i| i["kind"] == kind && &i["id"] == id).cloned()
        };
        let found = s.search(&s.lead, "crimson%20TRACTOR").await;
        let pdf_hit = hit(&found, "document", &pdf["id"]).expect("the PDF's words are found");
        assert!(pdf_hit["snippet"].as_str().unwrap().contains("crimson tractor"), "{pdf_hit}");
        assert_eq!(pdf_hit["matter_id"], s.matter.as_str());
        assert_eq!(pdf_hit["matter_title"], "Walrus Shipping v Harbour Board");
        let found = s.search(&s.lead, "azure").await;
        assert!(
            hit(&found, "document", &docx["id"]).unwrap()["snippet"]
                .as_str()
                .unwrap()
                .contains("azure bicycle")
        );
        assert!(hit(&s.search(&s.lead, "mooring").await, "document", &text["id"]).is_some());
        let found = s.search(&s.lead, "purple").await;
        let note_hit = hit(&found, "note", &note.body["id"]).unwrap();
        assert!(note_hit["snippet"].as_str().unwrap().contains("settlement in purple ink"));
        assert_eq!(note_hit["privileged"], true);
        let matter_id = json!(s.matter);
        assert!(hit(&s.search(&s.lead, "walrus").await, "matter", &matter_id).is_some());
        assert!(hit(&s.search(&s.lead, "demurrage").await, "matter", &matter_id).is_some());
        assert!(s.search(&s.lead, "crimson%20bicycle").await.is_empty(), "every word must match");
        assert!(s.search(&s.lead, "tract").await.is_empty(), "whole words only");

        // Nobody else learns anything of the matter's content; billing sees the matter only.
        for (who, token) in [("no role", &s.no_role), ("walled", &s.walled), ("billing", &s.billing)] {
            for q in ["crimson", "azure", "mooring", "purple", "exhibit"] {
                assert!(s.search(token, q).await.is_empty(), "{who} found something for {q}");
            }
        }
        for token in [&s.no_role, &s.walled] {
            assert!(s.search(token, "walrus").await.is_empty());
        }
        assert_eq!(s.search(&s.billing, "walrus").await.len(), 1);

        // Edits and deletions reach the index at once.
        let note_path = format!("/api/v1/notes/{}", note.body["id"].as_str().unwrap());
        let edited =
            s.h.call("PATCH", &note_path, Some(&s.lead), Some(json!({ "body": "Offer in green ink" }))).await;
        assert_eq!(edited.status, 200);
        assert!(s.search(&s.lead, "purple").await.is_empty());
        assert_eq!(s.search(&s.lead, "green").await.len(), 1);
        assert_eq!(s.h.call("DELETE", &note_path, Some(&s.lead), None).await.status, 204);
        assert!(s.search(&s.lead, "green").await.is_empty());
        let doc_path = format!("/api/v1/documents/{}", pdf["id"].as_str().unwrap());
        assert_eq!(s.h.call("DELETE", &doc_path, Some(&s.lead), None).await.status, 204);
        assert!(s.search(&s.lead, "crimson").await.is_empty());
        assert_eq!(
            s.h.call("DELETE", &format!("/api/v1/matters/{}", s.matter), Some(&s.lead), None).await.status,
            204
        );
        assert!(s.search(&s.lead, "azure").await.is_empty(), "a deleted matter's documents are not found");
    }
);

both_backends!(
    bad_queries_are_refused_and_searches_are_audited_without_their_words,
    |env: TestEnv| async move {
        let s = scene(env).await;
        for q in ["", "%20%21", "a", "one%20two%20three%20four%20five%20six%20seven%20eight%20nine"] {
            let reply = s.h.call("GET", &format!("/api/v1/search?q={q}"), Some(&s.lead), None).await;
            assert_eq!((reply.status, reply.code()), (400, "invalid_input"), "{q}");
        }
        assert_eq!(s.h.call("GET", "/api/v1/search?q=walrus", None, None).await.status, 401);
        s.search(&s.lead, "walrus").await;
        let admin = s.h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let log = s.h.call("GET", "/api/v1/audit?action=search.performed", Some(&admin), None).await;
        let entries = log.body["items"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        assert!(!entries[0].to_string().to_lowercase().contains("walrus"), "{}", entries[0]);
    }
);

both_backends!(the_candidate_cap_is_spent_only_on_matters_the_reader_holds, |env: TestEnv| async move {
    let s = scene(env).await;
    let other = |title: &str| json!({ "title": title, "client_id": null });
    let client = s
        .h
        .call("POST", "/api/v1/clients", Some(&s.no_role), Some(json!({ "name": "Busy", "kind": "person" })))
        .await;
    // A matter of someone else's that sorts before the reader's, full of the same word.
    let busy = loop {
        let mut matter = other("Busy docket");
        matter["client_id"] = client.body["id"].clone();
        let opened = s.h.call("POST", "/api/v1/matters", Some(&s.no_role), Some(matter)).await;
        let id = opened.body["id"].as_str().unwrap().to_owned();
        if id < s.matter {
            break id;
        }
    };
    for n in 0..510 {
        let note = json!({ "kind": "note", "body": format!("quay inspection {n}"), "privileged": false });
        let made =
            s.h.call("POST", &format!("/api/v1/matters/{busy}/notes"), Some(&s.no_role), Some(note)).await;
        assert_eq!(made.status, 201);
    }
    let hits = s.search(&s.lead, "quay").await;
    assert_eq!(hits.len(), 1, "the lead's own matter is found: {hits:?}");
    assert_eq!(hits[0]["matter_id"], s.matter.as_str());
});

both_backends!(one_search_opens_a_bounded_amount_of_document_text, |env: TestEnv| async move {
    let s = scene(env).await;
    // Three texts of 1.6 MiB each, the word sought at the end: the search's 4 MiB of text
    // covers two of them; the third is answered from its title alone.
    let filler = "lorem ".repeat(1_600 * 1024 / 6);
    for n in 0..3 {
        let text = format!("{filler} the porpoise clause {n}");
        s.upload(&format!("bulk-{n}.txt"), text.as_bytes()).await;
    }
    let items = s.search(&s.lead, "porpoise").await;
    assert_eq!(items.len(), 3, "every hit is listed: {items:?}");
    let with_text =
        items.iter().filter(|i| i["snippet"].as_str().unwrap().contains("the porpoise clause")).count();
    assert_eq!(with_text, 2, "only 4 MiB of text is opened per search: {items:?}");
    let without = items.iter().find(|i| !i["snippet"].as_str().unwrap().contains("porpoise")).unwrap();
    assert_eq!(without["snippet"], without["title"], "its title stands in for its text");
});

both_backends!(a_document_indexes_at_most_the_term_cap, |env: TestEnv| async move {
    let s = scene(env).await;
    let cap = ringfence_core::search::MAX_RECORD_TERMS;
    let words: String = (0..cap + 100).map(|i| format!("w{i} ")).collect();
    s.upload("lexicon.txt", words.as_bytes()).await;
    assert_eq!(s.search(&s.lead, "w5").await.len(), 1, "early words are indexed");
    assert_eq!(s.search(&s.lead, "lexicon").await.len(), 1, "the name is indexed first");
    let last = format!("w{}", cap + 99);
    assert!(s.search(&s.lead, &last).await.is_empty(), "words past the cap are not indexed");
});

both_backends!(a_search_before_anything_is_indexed_finds_nothing, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let found = h.call("GET", "/api/v1/search?q=settlement", Some(&admin), None).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["items"], json!([]), "{}", found.body);
});
