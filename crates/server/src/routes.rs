//! The route table, top to bottom: every route with the access policy that guards it. A
//! route whose method is not GET changes the firm's data and is refused to the people of a
//! terminated firm, unless its policy says it only reads (`only_reads`) or only ends the
//! caller's sessions (`ends_sessions`).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use ringfence_store::firm::access::{
    AccessHistory, Dispose, Edit, Export, Hold, Lifecycle, ManageMembers, ManageWalls, ReadContent, View,
    WriteContent,
};

use crate::AppState;
use crate::access::{
    ADMIN, AUDITORS, CLIENT_KEEPERS, DATA_SUBJECT_HANDLERS, MATTER_OPENERS, Matter, OPERATOR, PUBLIC,
    RouteTable, SIGNED_IN, after_asking, ends_sessions, only_reads, takes_data_out,
};
use crate::api::{
    audit, clients, data_subjects, deletion, documents, exports, firm_settings, health, invitations,
    legal_holds, matters, me, notes, operator, passkey_sign_in, passkeys, recovery, retention, search,
    security, sign_in, users,
};
use crate::auth::authenticate;
use crate::auth::cookie::MAX_FORM_BYTES;
use crate::auth::operator::authenticate_operator;
use crate::client::find_client_address;
use crate::error::{method_not_allowed, unknown_route};
use crate::middleware::request_context::request_context;
use crate::middleware::security_headers::security_headers;
use crate::pages;

pub fn route_table() -> RouteTable<AppState> {
    RouteTable::new()
        .get("/healthz", PUBLIC, health::healthz)
        .get("/readyz", PUBLIC, health::readyz)
        // Pages for browsers, on the same policies and checks as the API
        .get("/", PUBLIC, pages::root)
        .get("/assets/app.css", PUBLIC, pages::stylesheet)
        .get("/assets/app.js", PUBLIC, pages::script)
        .get("/assets/favicon.svg", PUBLIC, pages::icon)
        .get("/favicon.ico", PUBLIC, pages::icon)
        .get("/sign-in", PUBLIC, pages::sign_in_page)
        .post("/sign-in", PUBLIC, pages::sign_in)
        .post("/sign-in/code", PUBLIC, pages::sign_in_code)
        .post("/sign-out", ends_sessions(SIGNED_IN), pages::sign_out)
        .get("/home", SIGNED_IN, pages::home)
        .post("/home", only_reads(SIGNED_IN), pages::filter_home)
        .get("/invite", PUBLIC, pages::invite_page)
        .post("/invite", PUBLIC, pages::accept_invite)
        .get("/forgot-password", PUBLIC, pages::forgot_password_page)
        .post("/forgot-password", PUBLIC, pages::forgot_password)
        .get("/reset", PUBLIC, pages::reset_page)
        .post("/reset", PUBLIC, pages::reset_password)
        // The operator's pages: only an operator's session resolves under /operator
        .get("/operator/sign-in", PUBLIC, pages::operator_sign_in_page)
        .post("/operator/sign-in", PUBLIC, pages::operator_sign_in)
        .post("/operator/sign-out", ends_sessions(OPERATOR), pages::operator_sign_out)
        .get("/operator", OPERATOR, pages::operator_firms)
        .get("/operator/log", OPERATOR, pages::operator_log)
        .post("/operator/firms", OPERATOR, pages::operator_create_firm)
        .post("/operator/firms/{id}/suspend", OPERATOR, pages::operator_suspend)
        .post("/operator/firms/{id}/resume", OPERATOR, pages::operator_resume)
        .post("/operator/firms/{id}/terminate", OPERATOR, pages::operator_terminate)
        .post("/operator/firms/{id}/reinstate", OPERATOR, pages::operator_reinstate)
        .post("/operator/firms/{id}/support", OPERATOR, pages::operator_request_support)
        .post("/operator/grants/{id}/enter", OPERATOR, pages::operator_enter_support)
        .post("/operator/grants/{id}/end", OPERATOR, pages::operator_end_support)
        .post("/operator/grants/{id}/approve-emergency", OPERATOR, pages::operator_approve_emergency)
        .post("/api/v1/operator/sign-in", PUBLIC, operator::sign_in)
        .post("/api/v1/operator/sign-out", ends_sessions(OPERATOR), operator::sign_out)
        .get("/api/v1/operator/firms", OPERATOR, operator::firms)
        .post("/api/v1/operator/firms", OPERATOR, operator::create_firm)
        .post("/api/v1/operator/firms/{id}/suspend", OPERATOR, operator::suspend)
        .post("/api/v1/operator/firms/{id}/resume", OPERATOR, operator::resume)
        .post("/api/v1/operator/firms/{id}/terminate", OPERATOR, operator::terminate)
        .post("/api/v1/operator/firms/{id}/reinstate", OPERATOR, operator::reinstate)
        .post("/api/v1/operator/firms/{id}/support", OPERATOR, operator::request_support)
        .get("/api/v1/operator/grants", OPERATOR, operator::grants)
        .post("/api/v1/operator/grants/{id}/approve-emergency", OPERATOR, operator::approve_emergency)
        .post("/api/v1/operator/grants/{id}/end", OPERATOR, operator::end_grant)
        .get("/api/v1/operator/log", OPERATOR, operator::log)
        .get("/matters/new", MATTER_OPENERS, pages::new_matter_page)
        .post("/matters", MATTER_OPENERS, pages::create_matter)
        .get("/clients", SIGNED_IN, pages::clients)
        .get("/clients/new", CLIENT_KEEPERS, pages::new_client_page)
        .get("/clients/{id}", SIGNED_IN, pages::client_page)
        .post("/clients", CLIENT_KEEPERS, pages::create_client)
        .post("/clients/{id}", CLIENT_KEEPERS, pages::update_client)
        .get("/matters/{id}", Matter(View), pages::matter)
        .post("/matters/{id}/edit", Matter(Edit), pages::edit_matter)
        .post("/matters/{id}/close", Matter(Lifecycle), pages::close_matter)
        .post("/matters/{id}/reopen", Matter(Lifecycle), pages::reopen_matter)
        .post("/matters/{id}/notes", Matter(WriteContent), pages::add_note)
        .post(
            "/documents/{id}/delete",
            after_asking(Matter(WriteContent), pages::DeleteDocument),
            pages::delete_document,
        )
        .post("/notes/{id}/delete", after_asking(Matter(WriteContent), pages::DeleteNote), pages::delete_note)
        .post("/notes/{id}/edit", Matter(WriteContent), pages::edit_note)
        .get("/deleted", SIGNED_IN, pages::deleted)
        .post("/matters/{id}/restore", Matter(Lifecycle), pages::restore_matter)
        .post("/notes/{id}/restore", Matter(WriteContent), pages::restore_note)
        .post("/documents/{id}/restore", Matter(WriteContent), pages::restore_document)
        .get("/documents/{id}/preview", Matter(ReadContent), pages::document_preview)
        .post("/documents/{id}/versions/{version}/restore", Matter(WriteContent), pages::restore_version)
        .post("/clients/{id}/restore", CLIENT_KEEPERS, pages::restore_client)
        .post("/matters/{id}/exports", takes_data_out(Matter(Export)), pages::request_matter_export)
        .post("/matters/{id}/members", Matter(ManageMembers), pages::add_member)
        .post(
            "/matters/{id}/members/{user_id}/remove",
            after_asking(Matter(ManageMembers), pages::RemoveMember),
            pages::remove_member,
        )
        .get("/search", SIGNED_IN, pages::search_page)
        .post("/search", only_reads(SIGNED_IN), pages::run_search)
        .get("/account", SIGNED_IN, pages::account)
        .get("/audit", AUDITORS, pages::audit_log)
        .get("/admin/users", ADMIN, pages::users)
        .get("/admin/matters", ADMIN, pages::directory)
        .get("/admin/exports", ADMIN, pages::firm_exports)
        .post("/admin/exports", takes_data_out(ADMIN), pages::request_firm_export)
        .get("/admin/matters/{id}", Matter(ManageWalls), pages::directory_entry)
        .post("/matters/{id}/walls", Matter(ManageWalls), pages::place_wall)
        .post(
            "/matters/{id}/walls/{user_id}/remove",
            after_asking(Matter(ManageWalls), pages::LiftWall),
            pages::lift_wall,
        )
        .post("/matters/{id}/legal-hold", Matter(Hold), pages::hold_matter)
        .post(
            "/matters/{id}/legal-hold/lift",
            after_asking(Matter(Hold), pages::LiftMatterHold),
            pages::lift_matter_hold,
        )
        .get("/admin/legal-holds", ADMIN, pages::legal_holds)
        .get("/admin/retention", ADMIN, pages::retention)
        .get("/admin/backups", ADMIN, pages::backups)
        .get("/admin/support", ADMIN, pages::support_grants)
        .get("/admin/decoys", AUDITORS, pages::decoys)
        .post("/admin/decoys/users", AUDITORS, pages::plant_decoy_user)
        .post("/admin/decoys/matters", AUDITORS, pages::plant_decoy_matter)
        .post("/admin/decoys/credentials", AUDITORS, pages::plant_decoy_credential)
        .get("/admin/incidents", AUDITORS, pages::incidents)
        .post("/admin/incidents", AUDITORS, pages::open_incident)
        .post("/admin/incidents/{id}", AUDITORS, pages::record_incident)
        .post("/admin/incidents/{id}/steps", AUDITORS, pages::add_incident_step)
        .post("/admin/incidents/{id}/notifications", AUDITORS, pages::add_incident_notification)
        .post("/admin/incidents/alert-settings", ADMIN, pages::set_alert_settings)
        .get("/admin/incidents/{id}", AUDITORS, pages::incident)
        .post("/admin/support/{id}/approve", ADMIN, pages::approve_support)
        .post("/admin/support/{id}/refuse", ADMIN, pages::refuse_support)
        .post("/admin/support/{id}/end", ADMIN, pages::end_support)
        .post("/admin/support/{id}/acknowledge", ADMIN, pages::acknowledge_support)
        .post("/admin/retention", ADMIN, pages::set_retention)
        .post("/matters/{id}/dispose", after_asking(Matter(Dispose), pages::DisposeMatter), pages::dispose)
        .post("/admin/legal-holds/clients", ADMIN, pages::hold_client)
        .post(
            "/admin/legal-holds/clients/{id}/lift",
            after_asking(ADMIN, pages::LiftClientHold),
            pages::lift_client_hold,
        )
        .post("/admin/users", ADMIN, pages::invite_user)
        .post("/admin/users/{id}", ADMIN, pages::change_user)
        .post("/admin/users/{id}/disable", after_asking(ADMIN, pages::DisableUser), pages::disable_user)
        .post("/admin/users/{id}/invitation", ADMIN, pages::resend_invitation)
        .post(
            "/admin/users/{id}/invitation/withdraw",
            after_asking(ADMIN, pages::WithdrawInvitation),
            pages::withdraw_invitation,
        )
        .post("/admin/time-zone", ADMIN, pages::set_time_zone)
        .post("/admin/information-officer", ADMIN, pages::set_information_officer)
        .post("/admin/sign-in-policy", ADMIN, pages::set_sign_in_policy)
        .post("/account/sessions/{id}/end", ends_sessions(SIGNED_IN), pages::end_session)
        .post("/account/sessions/end-all", ends_sessions(SIGNED_IN), pages::end_all_sessions)
        .get("/admin/data-subjects", DATA_SUBJECT_HANDLERS, pages::subject_register)
        .post("/admin/data-subjects", DATA_SUBJECT_HANDLERS, pages::register_subject_request)
        .post("/admin/data-subjects/response-days", DATA_SUBJECT_HANDLERS, pages::set_subject_response_days)
        .get("/admin/data-subjects/{id}", DATA_SUBJECT_HANDLERS, pages::subject_request)
        .post("/admin/data-subjects/{id}/correction", DATA_SUBJECT_HANDLERS, pages::correct_subject)
        .post(
            "/admin/data-subjects/{id}/erasure",
            after_asking(DATA_SUBJECT_HANDLERS, pages::EraseSubject),
            pages::erase_subject,
        )
        .post("/admin/data-subjects/{id}/close", DATA_SUBJECT_HANDLERS, pages::close_subject_request)
        .post("/account/password", SIGNED_IN, pages::change_password)
        .post("/account/totp", SIGNED_IN, pages::enrol_totp)
        .post("/account/totp/confirm", SIGNED_IN, pages::confirm_totp)
        .post(
            "/account/passkeys/{id}/remove",
            after_asking(SIGNED_IN, pages::RemovePasskey),
            pages::remove_passkey,
        )
        .get("/api/v1/openapi.json", PUBLIC, crate::openapi::openapi_json)
        // Signing in
        .post("/api/v1/auth/login", PUBLIC, sign_in::login)
        .post("/api/v1/auth/verify", PUBLIC, sign_in::verify)
        .post("/api/v1/auth/resend-code", PUBLIC, sign_in::resend_code)
        .post("/api/v1/auth/accept-invite", PUBLIC, invitations::accept)
        .post("/api/v1/auth/passkey-options", PUBLIC, passkey_sign_in::second_factor_options)
        .post("/api/v1/auth/passkey/start", PUBLIC, passkey_sign_in::start)
        .post("/api/v1/auth/passkey/finish", PUBLIC, passkey_sign_in::finish)
        .post("/api/v1/auth/password-reset", PUBLIC, recovery::request)
        .post("/api/v1/auth/password-reset/factors", PUBLIC, recovery::factors)
        .post("/api/v1/auth/password-reset/passkey-options", PUBLIC, recovery::passkey_options)
        .post("/api/v1/auth/password-reset/complete", PUBLIC, recovery::complete)
        .post("/api/v1/auth/logout", ends_sessions(SIGNED_IN), sign_in::logout)
        // One's own account
        .get("/api/v1/me", SIGNED_IN, me::me)
        .get("/api/v1/me/sessions", SIGNED_IN, me::list_sessions)
        .delete("/api/v1/me/sessions", ends_sessions(SIGNED_IN), me::end_all_sessions)
        .delete("/api/v1/me/sessions/{id}", ends_sessions(SIGNED_IN), me::end_session)
        .post("/api/v1/me/password", SIGNED_IN, me::change_password)
        .post("/api/v1/me/totp", SIGNED_IN, me::enrol_totp)
        .post("/api/v1/me/totp/confirm", SIGNED_IN, me::confirm_totp)
        .get("/api/v1/me/passkeys", SIGNED_IN, passkeys::list)
        .post("/api/v1/me/passkeys/options", SIGNED_IN, passkeys::start_registration)
        .post("/api/v1/me/passkeys", SIGNED_IN, passkeys::finish_registration)
        .delete("/api/v1/me/passkeys/{id}", SIGNED_IN, passkeys::remove)
        // The firm's users
        .post("/api/v1/users", ADMIN, users::create)
        .get("/api/v1/users", ADMIN, users::list)
        .get("/api/v1/users/{id}", ADMIN, users::get)
        .patch("/api/v1/users/{id}", ADMIN, users::update)
        .delete("/api/v1/users/{id}/lock", ADMIN, users::unlock)
        .delete("/api/v1/users/{id}/second-factor", ADMIN, users::reset_second_factor)
        .post("/api/v1/users/{id}/invitation", ADMIN, users::resend_invitation)
        .delete("/api/v1/users/{id}/invitation", ADMIN, users::revoke_invitation)
        .post("/api/v1/users/{id}/password-reset", ADMIN, users::send_password_reset)
        // The audit log
        .get("/api/v1/audit", AUDITORS, audit::list)
        .get("/api/v1/audit.csv", AUDITORS, audit::export_csv)
        .get("/api/v1/audit/checkpoint", AUDITORS, audit::checkpoint)
        // Clients: names for everyone; details through the client access check
        .post("/api/v1/clients", CLIENT_KEEPERS, clients::create)
        .get("/api/v1/clients", SIGNED_IN, clients::list)
        .get("/api/v1/clients/{id}", SIGNED_IN, clients::get)
        .patch("/api/v1/clients/{id}", CLIENT_KEEPERS, clients::update)
        .delete("/api/v1/clients/{id}", CLIENT_KEEPERS, deletion::delete_client)
        .post("/api/v1/clients/{id}/restore", CLIENT_KEEPERS, deletion::restore_client)
        .put("/api/v1/clients/{id}/walls/{user_id}", ADMIN, clients::place_wall)
        .delete("/api/v1/clients/{id}/walls/{user_id}", ADMIN, clients::lift_wall)
        .post("/api/v1/clients/{id}/legal-hold", ADMIN, legal_holds::place_on_client)
        .post("/api/v1/clients/{id}/legal-hold/lift", ADMIN, legal_holds::lift_on_client)
        // Data subjects' requests: the register's handlers reach a client's details through
        // a registered request only
        .post("/api/v1/data-subject-requests", DATA_SUBJECT_HANDLERS, data_subjects::register)
        .get("/api/v1/data-subject-requests", DATA_SUBJECT_HANDLERS, data_subjects::list)
        .get("/api/v1/data-subject-requests/{id}", DATA_SUBJECT_HANDLERS, data_subjects::get)
        .get("/api/v1/data-subject-requests/{id}/report", DATA_SUBJECT_HANDLERS, data_subjects::report)
        .post("/api/v1/data-subject-requests/{id}/correction", DATA_SUBJECT_HANDLERS, data_subjects::correct)
        .post("/api/v1/data-subject-requests/{id}/erasure", DATA_SUBJECT_HANDLERS, data_subjects::erase)
        .post("/api/v1/data-subject-requests/{id}/close", DATA_SUBJECT_HANDLERS, data_subjects::close)
        // Matters: every route on one matter needs the access check's proof
        .post("/api/v1/matters", MATTER_OPENERS, matters::create)
        .get("/api/v1/matters", SIGNED_IN, matters::list)
        .get("/api/v1/matters/{id}", Matter(View), matters::get)
        .patch("/api/v1/matters/{id}", Matter(Edit), matters::update)
        .delete("/api/v1/matters/{id}", Matter(Lifecycle), matters::delete)
        .post("/api/v1/matters/{id}/close", Matter(Lifecycle), matters::close)
        .post("/api/v1/matters/{id}/reopen", Matter(Lifecycle), matters::reopen)
        .post("/api/v1/matters/{id}/restore", Matter(Lifecycle), matters::restore)
        .post("/api/v1/matters/{id}/dispose", Matter(Dispose), retention::dispose)
        .post("/api/v1/matters/{id}/legal-hold", Matter(Hold), legal_holds::place_on_matter)
        .post("/api/v1/matters/{id}/legal-hold/lift", Matter(Hold), legal_holds::lift_on_matter)
        .get("/api/v1/matters/{id}/members", Matter(ManageMembers), matters::members)
        .put("/api/v1/matters/{id}/members/{user_id}", Matter(ManageMembers), matters::set_member)
        .delete("/api/v1/matters/{id}/members/{user_id}", Matter(ManageMembers), matters::remove_member)
        .put("/api/v1/matters/{id}/walls/{user_id}", Matter(ManageWalls), matters::place_wall)
        .delete("/api/v1/matters/{id}/walls/{user_id}", Matter(ManageWalls), matters::remove_wall)
        .get("/api/v1/matters/{id}/access-history", Matter(AccessHistory), matters::access_history)
        .get("/api/v1/admin/matters", ADMIN, matters::directory)
        // Notes
        .post("/api/v1/matters/{id}/notes", Matter(WriteContent), notes::create)
        .get("/api/v1/matters/{id}/notes", Matter(ReadContent), notes::list)
        .get("/api/v1/notes/{id}", Matter(ReadContent), notes::get)
        .patch("/api/v1/notes/{id}", Matter(WriteContent), notes::update)
        .delete("/api/v1/notes/{id}", Matter(WriteContent), notes::delete)
        .post("/api/v1/notes/{id}/restore", Matter(WriteContent), deletion::restore_note)
        // Documents
        .post("/api/v1/matters/{id}/documents", Matter(WriteContent), documents::upload)
        .get("/api/v1/matters/{id}/documents", Matter(ReadContent), documents::list)
        .get("/api/v1/documents/{id}", Matter(ReadContent), documents::get)
        .delete("/api/v1/documents/{id}", Matter(WriteContent), documents::delete)
        .get("/api/v1/documents/{id}/content", Matter(ReadContent), documents::content)
        .get("/api/v1/documents/{id}/preview", Matter(ReadContent), documents::preview)
        .get("/api/v1/documents/{id}/versions", Matter(ReadContent), documents::versions)
        .post("/api/v1/documents/{id}/versions", Matter(WriteContent), documents::add_version)
        .post("/api/v1/documents/{id}/restore", Matter(WriteContent), deletion::restore_document)
        .delete("/api/v1/documents/{id}/versions/{version}", Matter(WriteContent), deletion::delete_version)
        .post(
            "/api/v1/documents/{id}/versions/{version}/restore",
            Matter(WriteContent),
            deletion::restore_version,
        )
        // What was recently deleted, on the matters one leads (administrators: the firm's)
        .get("/api/v1/deleted", SIGNED_IN, deletion::list)
        // Full exports as one ZIP: a matter's by its lead, the firm's by an administrator;
        // each is its requester's alone and downloaded once
        .post("/api/v1/matters/{id}/exports", takes_data_out(Matter(Export)), exports::request_matter)
        .get("/api/v1/matters/{id}/exports", Matter(Export), exports::list_matter)
        .get("/api/v1/matters/{id}/exports/{export_id}", Matter(Export), exports::get_matter)
        .get("/api/v1/matters/{id}/exports/{export_id}/download", Matter(Export), exports::download_matter)
        .post("/api/v1/firm/exports", takes_data_out(ADMIN), exports::request_firm)
        .get("/api/v1/firm/exports", ADMIN, exports::list_firm)
        .get("/api/v1/firm/exports/{id}", ADMIN, exports::get_firm)
        .get("/api/v1/firm/exports/{id}/download", ADMIN, exports::download_firm)
        // Search: candidates from the index go through the matter check one by one
        .get("/api/v1/search", SIGNED_IN, search::search)
        // Firm settings
        .get("/api/v1/firm/sign-in-policy", ADMIN, firm_settings::get_policy)
        .put("/api/v1/firm/sign-in-policy", ADMIN, firm_settings::set_policy)
        .get("/api/v1/firm/audit-retention", ADMIN, firm_settings::get_retention)
        .put("/api/v1/firm/audit-retention", ADMIN, firm_settings::set_retention)
        .get("/api/v1/firm/time-zone", SIGNED_IN, firm_settings::get_time_zone)
        .put("/api/v1/firm/time-zone", ADMIN, firm_settings::set_time_zone)
        .get("/api/v1/firm/retention-policy", ADMIN, retention::get_policy)
        .put("/api/v1/firm/retention-policy", ADMIN, retention::set_policy)
        .get("/api/v1/firm/disposals", ADMIN, retention::due)
        .get("/api/v1/firm/legal-holds", ADMIN, legal_holds::list)
        .get("/api/v1/security/decoys", AUDITORS, security::list_decoys)
        .post("/api/v1/security/decoys/users", AUDITORS, security::plant_user)
        .post("/api/v1/security/decoys/matters", AUDITORS, security::plant_matter)
        .post("/api/v1/security/decoys/credentials", AUDITORS, security::plant_credential)
        .get("/api/v1/security/incidents", AUDITORS, security::list_incidents)
        .post("/api/v1/security/incidents", AUDITORS, security::open_incident)
        .get("/api/v1/security/incidents/{id}", AUDITORS, security::get_incident)
        .put("/api/v1/security/incidents/{id}", AUDITORS, security::record_incident)
        .post("/api/v1/security/incidents/{id}/steps", AUDITORS, security::add_step)
        .post("/api/v1/security/incidents/{id}/notifications", AUDITORS, security::add_notification)
        .get("/api/v1/security/incidents/{id}/report.md", AUDITORS, security::report)
        .get("/api/v1/security/alert-settings", AUDITORS, security::alert_settings)
        .put("/api/v1/security/alert-settings", ADMIN, security::set_alert_settings)
        .get("/api/v1/firm/deletion-grace", ADMIN, deletion::get_grace)
        .put("/api/v1/firm/deletion-grace", ADMIN, deletion::set_grace)
        .get(
            "/api/v1/firm/data-subject-response-days",
            DATA_SUBJECT_HANDLERS,
            data_subjects::get_response_days,
        )
        .put(
            "/api/v1/firm/data-subject-response-days",
            DATA_SUBJECT_HANDLERS,
            data_subjects::set_response_days,
        )
}

/// The whole HTTPS application.
pub fn app(state: AppState) -> Router {
    with_common_layers(route_table(), state)
}

/// Wraps a route table in what every response gets: JSON errors for unknown routes and
/// methods, authentication, the client's address, security headers, the request id and
/// panic containment.
pub fn with_common_layers(table: RouteTable<AppState>, state: AppState) -> Router {
    table
        .into_router()
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies read whole (JSON, forms) are bounded by the largest form: a long note
        // posted from the page. Uploads stream and have their own limit.
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(from_fn_with_state(state.clone(), authenticate))
        .layer(from_fn_with_state(state.clone(), authenticate_operator))
        .layer(from_fn_with_state(state.settings.clone(), find_client_address))
        .layer(from_fn_with_state(state.settings.clone(), security_headers))
        .layer(from_fn(request_context))
        .with_state(state)
}
