//! How long closed matters are kept: the firm's policy, the administrators' review of the
//! matters past it, and automatic deletion after the leads were told.

use ringfence_testkit::{TestEnv, both_backends};
use serde_json::{Value, json};
use time::Duration;

use super::sign_in_harness::*;
use super::*;
use ringfence_server::jobs::Outcome;

const LEAD: &str = "lead@firm.example";
const PASSWORD: &str = "a long shared test passphrase";

/// A closed matter led by LEAD, closed now. Returns (matter id, matter number).
async fn closed_matter(h: &Harness, lead: &str, title: &str) -> (String, String) {
    let client = h
        .call(
            "POST",
            "/api/v1/clients",
            Some(lead),
            Some(json!({ "name": "Acme Holdings", "kind": "organisation" })),
        )
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    let matter = h
        .call(
            "POST",
            "/api/v1/matters",
            Some(lead),
            Some(json!({ "title": title, "client_id": client.body["id"] })),
        )
        .await;
    assert_eq!(matter.status, 201, "{}", matter.body);
    let id = matter.body["id"].as_str().unwrap().to_owned();
    let closed = h.call("POST", &format!("/api/v1/matters/{id}/close"), Some(lead), None).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    (id, matter.body["number"].as_str().unwrap().to_owned())
}

/// Runs the scheduled work due at the test clock, as a deployment's workers would, and
/// checks the retention job ran.
pub(super) async fn run_schedules(h: &Harness) {
    let state = &h.state;
    let worker = ringfence_server::jobs::Worker::new(
        state.storage.clone(),
        state.blobs.clone(),
        state.mailer.clone(),
        state.clock.clone(),
        Vec::new(),
    );
    worker.ensure_schedules().await.unwrap();
    let ran = worker.run_due().await.unwrap();
    assert!(
        ran.iter().any(|ran| ran.kind == "lifecycle.retention" && matches!(ran.outcome, Outcome::Done)),
        "the retention job ran: {:?}",
        state
            .storage
            .list_jobs(h.clock.now())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|job| job.last_error)
            .collect::<Vec<_>>()
    );
}

async fn set_policy(h: &Harness, admin: &str, policy: Value) -> Reply {
    h.call("PUT", "/api/v1/firm/retention-policy", Some(admin), Some(policy)).await
}

async fn actions(h: &Harness, admin: &str, action: &str) -> Vec<Value> {
    let log = h.call("GET", &format!("/api/v1/audit?action={action}&limit=100"), Some(admin), None).await;
    assert_eq!(log.status, 200, "{}", log.body);
    log.body["items"].as_array().unwrap().clone()
}

both_backends!(
    the_policy_is_kept_indefinitely_until_set_and_refuses_what_it_cannot_keep,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let default = h.call("GET", "/api/v1/firm/retention-policy", Some(&admin), None).await;
        assert_eq!(default.body, json!({ "window_days": null, "auto_delete": false, "notice_days": 30 }));
        for (policy, field) in [
            (json!({ "window_days": 89, "auto_delete": false }), "window_days"),
            (json!({ "window_days": 1827, "auto_delete": false }), "window_days"),
            (json!({ "window_days": null, "auto_delete": true }), "window_days"),
            (json!({ "window_days": 365, "auto_delete": true, "notice_days": 0 }), "notice_days"),
            (json!({ "window_days": 365, "auto_delete": true, "notice_days": 91 }), "notice_days"),
        ] {
            let refused = set_policy(&h, &admin, policy.clone()).await;
            assert_eq!(refused.status, 400, "{policy}: {}", refused.body);
            let message = refused.body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(&format!("{field}: ")), "{policy}: {}", refused.body);
        }
        for hostile in [
            json!({ "window_days": "365", "auto_delete": false }),
            json!({ "window_days": 365, "auto_delete": false, "extra": 1 }),
            json!({ "window_days": 365 }),
            json!({ "window_days": 1e300, "auto_delete": false }),
        ] {
            assert_eq!(set_policy(&h, &admin, hostile.clone()).await.status, 400, "{hostile}");
        }
        let set =
            set_policy(&h, &admin, json!({ "window_days": 1826, "auto_delete": true, "notice_days": 14 }))
                .await;
        assert_eq!(set.status, 200, "{}", set.body);
        let now = h.call("GET", "/api/v1/firm/retention-policy", Some(&admin), None).await;
        assert_eq!(now.body, json!({ "window_days": 1826, "auto_delete": true, "notice_days": 14 }));
        assert_eq!(actions(&h, &admin, "firm.retention_policy.changed").await.len(), 1);
        // Only administrators see or set it.
        h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
        let lead = h.sign_in(LEAD, PASSWORD).await;
        for (method, path) in [("GET", "/api/v1/firm/retention-policy"), ("GET", "/api/v1/firm/disposals")] {
            assert_eq!(h.call(method, path, Some(&lead), None).await.status, 403, "{path}");
        }
        assert_eq!(
            set_policy(&h, &lead, json!({ "window_days": null, "auto_delete": false })).await.status,
            403
        );
    }
);

both_backends!(
    administrators_review_matters_past_the_window_and_dispose_of_them,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
        let lead = h.sign_in(LEAD, PASSWORD).await;
        let (old, number) = closed_matter(&h, &lead, "Privileged strategy title").await;
        // Kept indefinitely: nothing is ever due.
        h.clock.advance(Duration::days(400));
        let (admin, lead) = (h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await, h.sign_in(LEAD, PASSWORD).await);
        let due = h.call("GET", "/api/v1/firm/disposals", Some(&admin), None).await;
        assert_eq!(due.body["items"], json!([]), "{}", due.body);
        let refused = h.call("POST", &format!("/api/v1/matters/{old}/dispose"), Some(&admin), None).await;
        assert_eq!((refused.status, refused.code()), (409, "not_due"), "{}", refused.body);
        assert_eq!(
            set_policy(&h, &admin, json!({ "window_days": 365, "auto_delete": false })).await.status,
            200
        );
        // A matter closed since is within its window; the old one is past it.
        let (recent, _) = closed_matter(&h, &lead, "Recent").await;
        let due = h.call("GET", "/api/v1/firm/disposals", Some(&admin), None).await;
        let items = due.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", due.body);
        assert_eq!(items[0]["matter_id"], old.as_str());
        assert_eq!(items[0]["number"], number.as_str());
        assert_eq!(items[0]["client_name"], "Acme Holdings");
        assert!(!due.body.to_string().contains("Privileged"), "no content in the review: {}", due.body);
        // Auto-delete is off: the daily job leaves it for the administrators.
        run_schedules(&h).await;
        assert_eq!(h.call("GET", &format!("/api/v1/matters/{old}"), Some(&lead), None).await.status, 200);
        // The lead cannot dispose of it (that is a firm administrator's review); nor can the
        // administrator dispose of a matter within its window.
        assert_eq!(
            h.call("POST", &format!("/api/v1/matters/{old}/dispose"), Some(&lead), None).await.status,
            404
        );
        let early = h.call("POST", &format!("/api/v1/matters/{recent}/dispose"), Some(&admin), None).await;
        assert_eq!((early.status, early.code()), (409, "not_due"), "{}", early.body);
        let disposed = h.call("POST", &format!("/api/v1/matters/{old}/dispose"), Some(&admin), None).await;
        assert_eq!(disposed.status, 204, "{}", disposed.body);
        assert_eq!(h.call("GET", &format!("/api/v1/matters/{old}"), Some(&lead), None).await.status, 404);
        let due = h.call("GET", "/api/v1/firm/disposals", Some(&admin), None).await;
        assert_eq!(due.body["items"], json!([]), "{}", due.body);
        let again = h.call("POST", &format!("/api/v1/matters/{old}/dispose"), Some(&admin), None).await;
        assert_eq!(again.status, 404, "a deleted matter is gone from the review: {}", again.body);
        let entries = actions(&h, &admin, "matter.disposed").await;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["matter"], old.as_str());
        // Deleted softly: its lead brings it back within the grace period.
        let restored = h.call("POST", &format!("/api/v1/matters/{old}/restore"), Some(&lead), None).await;
        assert_eq!(restored.status, 200, "{}", restored.body);
    }
);

both_backends!(
    automatic_deletion_tells_the_leads_first_and_waits_out_the_notice,
    |env: TestEnv| async move {
        let h = Harness::new(env).await;
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
        let lead = h.sign_in(LEAD, PASSWORD).await;
        let policy = json!({ "window_days": 90, "auto_delete": true, "notice_days": 30 });
        assert_eq!(set_policy(&h, &admin, policy).await.status, 200);
        let (matter, number) = closed_matter(&h, &lead, "Closed and done").await;
        run_schedules(&h).await;
        let mails_to_lead = || h.outbox().iter().filter(|m| m.contains(&number)).count();
        assert_eq!(mails_to_lead(), 0);
        // Day 59: not yet within the notice.
        h.clock.advance(Duration::days(59));
        run_schedules(&h).await;
        assert_eq!(mails_to_lead(), 0);
        // Day 61: the lead is told, once.
        h.clock.advance(Duration::days(2));
        let ran = run_schedules(&h).await;
        assert_eq!(mails_to_lead(), 1, "{ran:?}");
        assert!(h.latest_mail(LEAD).contains(&number));
        assert!(h.latest_mail(LEAD).contains("Dear "), "the lead is greeted by name");
        h.clock.advance(Duration::days(1));
        run_schedules(&h).await;
        assert_eq!(mails_to_lead(), 1, "told once");
        let lead = h.sign_in(LEAD, PASSWORD).await;
        assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.status, 200);
        // Day 91: past the window and the notice has run: deleted, softly.
        h.clock.advance(Duration::days(29));
        run_schedules(&h).await;
        let lead = h.sign_in(LEAD, PASSWORD).await;
        assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.status, 404);
        let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(actions(&h, &admin, "matter.retention_notice.sent").await.len(), 1);
        let disposed = actions(&h, &admin, "matter.disposed").await;
        assert_eq!(disposed.len(), 1);
        assert_eq!(disposed[0]["actor"]["kind"], "system", "{}", disposed[0]);
        // Restored by its lead, it is told afresh and kept for another notice period.
        let restored = h.call("POST", &format!("/api/v1/matters/{matter}/restore"), Some(&lead), None).await;
        assert_eq!(restored.status, 200, "{}", restored.body);
        h.clock.advance(Duration::days(1));
        run_schedules(&h).await;
        assert_eq!(mails_to_lead(), 2);
        let lead = h.sign_in(LEAD, PASSWORD).await;
        assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.status, 200);
        h.clock.advance(Duration::days(30));
        run_schedules(&h).await;
        let lead = h.sign_in(LEAD, PASSWORD).await;
        assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.status, 404);
    }
);

// A matter reopened after its notice is no longer closed: retention stops running on it, and
// once closed again its window starts afresh and its leads are told afresh before deletion.
both_backends!(a_reopened_matter_leaves_retention_until_it_is_closed_again, |env: TestEnv| async move {
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
    let lead = h.sign_in(LEAD, PASSWORD).await;
    let policy = json!({ "window_days": 90, "auto_delete": true, "notice_days": 30 });
    assert_eq!(set_policy(&h, &admin, policy).await.status, 200);
    let (matter, number) = closed_matter(&h, &lead, "Closed, then reopened").await;
    let mails_to_lead = || h.outbox().iter().filter(|m| m.contains(&number)).count();
    h.clock.advance(Duration::days(61));
    run_schedules(&h).await;
    assert_eq!(mails_to_lead(), 1, "told of the coming deletion");
    let lead = h.sign_in(LEAD, PASSWORD).await;
    let reopened = h.call("POST", &format!("/api/v1/matters/{matter}/reopen"), Some(&lead), None).await;
    assert_eq!(reopened.status, 200, "{}", reopened.body);
    assert_eq!(reopened.body["status"], "open");
    // Long past the old window: kept, as an open matter is.
    h.clock.advance(Duration::days(60));
    run_schedules(&h).await;
    let lead = h.sign_in(LEAD, PASSWORD).await;
    assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.status, 200);
    // Closed again: nothing before the new window's notice, then a fresh notice.
    assert_eq!(
        h.call("POST", &format!("/api/v1/matters/{matter}/close"), Some(&lead), None).await.status,
        200
    );
    h.clock.advance(Duration::days(59));
    run_schedules(&h).await;
    assert_eq!(mails_to_lead(), 1, "no notice before the new window's");
    h.clock.advance(Duration::days(2));
    run_schedules(&h).await;
    assert_eq!(mails_to_lead(), 2, "told afresh");
    let lead = h.sign_in(LEAD, PASSWORD).await;
    assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.status, 200);
});

both_backends!(administrators_set_the_policy_and_dispose_through_the_page, |env: TestEnv| async move {
    use super::pages::{browser_sign_in, encode, hidden, page};
    let h = Harness::new(env).await;
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    h.add_user(&admin, LEAD, &["attorney"], PASSWORD).await;
    let lead = h.sign_in(LEAD, PASSWORD).await;
    let (matter, number) = closed_matter(&h, &lead, "Closed long ago").await;
    h.clock.advance(Duration::days(100));
    let browser = browser_sign_in(&h, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let shown = page(&h, "GET", "/admin/retention", Some(&browser), None).await;
    assert_eq!(shown.status, 200);
    assert!(shown.html.contains("No closed matter is past the firm's window."), "{}", shown.html);
    let csrf = hidden(&shown.html, "_csrf");
    // What the policy refuses comes back on the page, naming the field.
    let bad = encode(&[("_csrf", &csrf), ("window_days", "30"), ("notice_days", "30")]);
    let refused = page(&h, "POST", "/admin/retention", Some(&browser), Some(bad)).await;
    assert_eq!(refused.status, 400, "{}", refused.html);
    assert!(refused.html.contains("window_days"), "{}", refused.html);
    let junk = encode(&[("_csrf", &csrf), ("window_days", "ninety"), ("notice_days", "30")]);
    assert_eq!(page(&h, "POST", "/admin/retention", Some(&browser), Some(junk)).await.status, 400);
    let form = encode(&[("_csrf", &csrf), ("window_days", "90"), ("notice_days", "14")]);
    let saved = page(&h, "POST", "/admin/retention", Some(&browser), Some(form)).await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let admin = h.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let policy = h.call("GET", "/api/v1/firm/retention-policy", Some(&admin), None).await;
    assert_eq!(policy.body, json!({ "window_days": 90, "auto_delete": false, "notice_days": 14 }));
    let shown = page(&h, "GET", "/admin/retention", Some(&browser), None).await;
    assert!(shown.html.contains(&number) && !shown.html.contains("Closed long ago"), "{}", shown.html);
    let disposed = page(
        &h,
        "POST",
        &format!("/matters/{matter}/dispose"),
        Some(&browser),
        Some(encode(&[("_csrf", &csrf), ("confirmed", "yes")])),
    )
    .await;
    assert_eq!(disposed.status, 303, "{}", disposed.html);
    let lead = h.sign_in(LEAD, PASSWORD).await;
    assert_eq!(h.call("GET", &format!("/api/v1/matters/{matter}"), Some(&lead), None).await.status, 404);
    let browser_lead = browser_sign_in(&h, LEAD, PASSWORD).await;
    assert_eq!(page(&h, "GET", "/admin/retention", Some(&browser_lead), None).await.status, 403);
});
