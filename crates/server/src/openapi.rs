//! The OpenAPI 3.1 document of the JSON API, generated from the handlers and their types,
//! served at `GET /api/v1/openapi.json` and kept as a snapshot in `docs/openapi.json`.
//!
//! To document a route:
//! 1. annotate its handler with `#[utoipa::path(...)]`: method, path, `tag`, `security`
//!    (see [`ApiDoc`]: none for public routes; `bearer` or `session_cookie` for signed-in
//!    ones, with `csrf_token` alongside the cookie on state-changing methods, and the firm
//!    roles a role-guarded route needs as the requirement's list), `params`, `request_body`,
//!    the success response and the error responses, referring to the shared ones defined
//!    here: `crate::openapi::SignedInErrors` (401, 500, 503, 507) on every signed-in route,
//!    `crate::openapi::JsonBodyErrors` (400, 413, 415) on every route with a JSON body,
//!    and one by one the others (`(status = 403, response = crate::openapi::Forbidden)`);
//! 2. list the handler in `paths(...)` of [`ApiDoc`];
//! 3. derive `utoipa::ToSchema` on its request and response types;
//! 4. refresh the snapshot: `RINGFENCE_OPENAPI_REFRESH=1 cargo nextest run -p
//!    ringfence-server -E 'test(/openapi/)'`, and review the diff of `docs/openapi.json`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::Json;
use http::Method;
use ringfence_core::auth::SecondFactor;
use ringfence_core::matter::MatterRole;
use ringfence_core::user::FirmRole;
use utoipa::openapi::schema::{ObjectBuilder, Ref, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, HeaderBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

use crate::access::Effect;
use crate::api::{
    audit, clients, data_subjects, deletion, exports, firm_settings, invitations, legal_holds, matters, me,
    operator, passkey_sign_in, passkeys, recovery, retention, security, sign_in, users,
};
use crate::auth::cookie::{CSRF_HEADER, OPERATOR_COOKIE, SESSION_COOKIE};
use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ringfence",
        description = "The JSON API of Ringfence, case management for law firms. Every error \
                       answers with the `ErrorBody` shape; times are RFC 3339, in UTC.",
    ),
    paths(
        openapi_json,
        operator::sign_in,
        operator::sign_out,
        operator::firms,
        operator::create_firm,
        operator::suspend,
        operator::resume,
        operator::terminate,
        operator::reinstate,
        operator::request_support,
        operator::grants,
        operator::approve_emergency,
        operator::end_grant,
        operator::log,
        me::me,
        me::list_sessions,
        me::end_all_sessions,
        me::end_session,
        me::change_password,
        me::enrol_totp,
        me::confirm_totp,
        passkeys::list,
        passkeys::start_registration,
        passkeys::finish_registration,
        passkeys::remove,
        sign_in::login,
        sign_in::verify,
        sign_in::resend_code,
        invitations::accept,
        passkey_sign_in::second_factor_options,
        passkey_sign_in::start,
        passkey_sign_in::finish,
        recovery::request,
        recovery::factors,
        recovery::passkey_options,
        recovery::complete,
        sign_in::logout,
        firm_settings::get_policy,
        firm_settings::set_policy,
        firm_settings::get_retention,
        firm_settings::set_retention,
        firm_settings::get_time_zone,
        firm_settings::set_time_zone,
        retention::get_policy,
        retention::set_policy,
        retention::due,
        legal_holds::list,
        legal_holds::place_on_client,
        legal_holds::lift_on_client,
        crate::api::notes::create,
        crate::api::notes::list,
        crate::api::notes::get,
        crate::api::notes::update,
        crate::api::notes::delete,
        crate::api::search::search,
        crate::api::documents::upload,
        crate::api::documents::list,
        crate::api::documents::get,
        crate::api::documents::delete,
        crate::api::documents::content,
        crate::api::documents::preview,
        crate::api::documents::versions,
        crate::api::documents::add_version,
        matters::create,
        matters::list,
        matters::get,
        matters::update,
        matters::delete,
        matters::close,
        matters::reopen,
        matters::restore,
        retention::dispose,
        legal_holds::place_on_matter,
        legal_holds::lift_on_matter,
        matters::members,
        matters::set_member,
        matters::remove_member,
        matters::place_wall,
        matters::remove_wall,
        matters::access_history,
        matters::directory,
        users::create,
        users::list,
        users::get,
        users::update,
        users::unlock,
        users::reset_second_factor,
        users::resend_invitation,
        users::revoke_invitation,
        users::send_password_reset,
        audit::list,
        audit::export_csv,
        audit::checkpoint,
        clients::create,
        clients::list,
        clients::get,
        clients::update,
        clients::place_wall,
        clients::lift_wall,
        data_subjects::register,
        data_subjects::list,
        data_subjects::get,
        data_subjects::report,
        data_subjects::correct,
        data_subjects::erase,
        data_subjects::close,
        data_subjects::get_response_days,
        data_subjects::set_response_days,
        deletion::restore_note,
        deletion::restore_document,
        deletion::delete_version,
        deletion::restore_version,
        deletion::delete_client,
        deletion::restore_client,
        deletion::list,
        deletion::get_grace,
        deletion::set_grace,
        exports::request_matter,
        exports::list_matter,
        exports::get_matter,
        exports::download_matter,
        exports::request_firm,
        exports::list_firm,
        exports::get_firm,
        exports::download_firm,
        security::list_decoys,
        security::plant_user,
        security::plant_matter,
        security::plant_credential,
        security::list_incidents,
        security::get_incident,
        security::open_incident,
        security::record_incident,
        security::add_step,
        security::add_notification,
        security::report,
        security::alert_settings,
        security::set_alert_settings,
    ),
    components(
        schemas(ErrorBody, FirmRoleSchema, SecondFactorSchema, crate::app::users::UserView, MatterRoleSchema),
        responses(
            BadRequest,
            NotSignedIn,
            Forbidden,
            NotFound,
            Conflict,
            Gone,
            TooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Internal,
            Unavailable,
            RangeNotSatisfiable,
            SignInRefused,
            StorageFull,
            FirmTerminated
        ),
    ),
    modifiers(&SecuritySchemes, &ReadOnlyFirms),
    tags(
        (name = "account", description = "The signed-in user's own account"),
        (name = "audit", description = "The audit log, for auditors and administrators"),
        (name = "clients", description = "The firm's clients: names for everyone, details through the client access check"),
        (name = "data-subjects", description = "Data subjects' requests (POPIA ss 23-25, GDPR arts 15-17): the register, and a client subject's report, correction and erasure"),
        (name = "exports", description = "Full exports as one ZIP: a matter's by its lead, the whole firm's by an administrator; downloaded once"),
        (name = "firm", description = "Firm-wide settings"),
        (name = "matters", description = "Matters, their teams and ethical walls"),
        (name = "meta", description = "About the API itself"),
        (name = "documents", description = "Documents on a matter, sealed, scanned and versioned"),
        (name = "search", description = "Finding words in what the caller may read"),
        (name = "security", description = "Breach detection: decoys, the alerts they raise, and the register of incidents; for administrators and audit officers"),
        (name = "notes", description = "Notes on a matter, for those who may read or write its content"),
        (name = "operator", description = "The hosting provider's operators: firms' provisioning, states and health, and support access; apart from every firm's users and data"),
        (name = "users", description = "The firm's users, managed by its administrators"),
        (name = "sign-in", description = "Signing in and out"),
    ),
)]
pub struct ApiDoc;

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", body = Object),
    ),
)]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

/// How a caller proves who it is (see `auth::actor` and `auth::cookie`).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("session token")
            .description(Some(
                "The session token a completed sign-in answers with, sent as \
                 `Authorization: Bearer <token>`. No CSRF token is needed. Where a requirement \
                 lists firm roles, the caller must hold at least one of them (others get 403).",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The browser session cookie set by a completed sign-in. Requests that change \
                 state (any method but GET, HEAD and OPTIONS) must also send the session's CSRF \
                 token (`csrf_token`), or they are refused with 403 `csrf`. Where a requirement \
                 lists firm roles, the caller must hold at least one of them (others get 403).",
            ))),
        );
        let operator = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("op_ operator token")
            .description(Some(
                "An operator's session token, as `POST /api/v1/operator/sign-in` answers it (it begins \
                 `op_`), sent as `Authorization: Bearer <token>`: for the operator's routes alone.",
            ))
            .build();
        components.add_security_scheme("operator_bearer", SecurityScheme::Http(operator));
        components.add_security_scheme(
            "operator_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                OPERATOR_COOKIE,
                "The operator pages' session cookie, resolved only on the operator's paths; \
                 state-changing requests must also send its CSRF token (`csrf_token`).",
            ))),
        );
        components.add_security_scheme(
            "csrf_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                CSRF_HEADER,
                "The CSRF token of the cookie session, as the pages carry it. Required with \
                 `session_cookie` on state-changing requests; unused with `bearer`.",
            ))),
        );
    }
}

/// Adds the 423 of a terminated firm to every API route that writes, as the route table
/// declares them (`crate::access::Effect`): the refusal comes from the route guard, in front
/// of every such handler, so it is documented from the same table.
struct ReadOnlyFirms;

impl Modify for ReadOnlyFirms {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let refused = RefOr::Ref(Ref::from_response_name(<FirmTerminated as ToResponse>::response().0));
        for spec in crate::routes::route_table().specs() {
            if spec.effect != Effect::Writes || !spec.path.starts_with("/api/") {
                continue;
            }
            let Some(item) = openapi.paths.paths.get_mut(spec.path) else { continue };
            let operation = match spec.method {
                Method::POST => item.post.as_mut(),
                Method::PUT => item.put.as_mut(),
                Method::PATCH => item.patch.as_mut(),
                Method::DELETE => item.delete.as_mut(),
                _ => None,
            };
            if let Some(operation) = operation {
                operation.responses.responses.insert("423".to_owned(), refused.clone());
            }
        }
    }
}

/// The schema of [`FirmRole`], named `FirmRole`: its values are the ones the API parses.
pub(crate) struct FirmRoleSchema;

impl PartialSchema for FirmRoleSchema {
    fn schema() -> RefOr<Schema> {
        string_enum("A role within the firm", FirmRole::ALL.map(FirmRole::as_str))
    }
}

impl ToSchema for FirmRoleSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FirmRole")
    }
}

/// The schema of [`SecondFactor`], named `SecondFactor`.
pub(crate) struct SecondFactorSchema;

impl PartialSchema for SecondFactorSchema {
    fn schema() -> RefOr<Schema> {
        string_enum("A second factor of sign-in", SecondFactor::ALL.map(SecondFactor::as_str))
    }
}

impl ToSchema for SecondFactorSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SecondFactor")
    }
}

/// The schema of [`MatterRole`], named `MatterRole`.
pub(crate) struct MatterRoleSchema;

impl PartialSchema for MatterRoleSchema {
    fn schema() -> RefOr<Schema> {
        string_enum("A role on one matter", MatterRole::ALL.map(MatterRole::as_str))
    }
}

impl ToSchema for MatterRoleSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MatterRole")
    }
}

fn string_enum<const N: usize>(description: &str, values: [&str; N]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// An error answer: the `ErrorBody` shape, described for one status.
fn error_response(description: &str) -> ResponseBuilder {
    let body = Content::new(Some(Ref::from_schema_name(ErrorBody::name())));
    ResponseBuilder::new().description(description).content("application/json", body)
}

/// Declares shared error responses, each a component that paths refer to by type.
macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => $description:expr;)+) => {$(
        $(#[$doc])*
        pub(crate) struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), error_response($description).build().into())
            }
        }
    )+};
}

error_responses! {
    /// 400.
    BadRequest => "The request was not valid (`invalid_input`); the message names the field";
    /// 401.
    NotSignedIn => "No valid session came with the request (`not_signed_in`)";
    /// 403.
    Forbidden => "Refused: the caller's firm role does not allow this (`forbidden`), or a \
                  cookie session sent no or a wrong CSRF token (`csrf`)";
    /// 404: also what a caller gets for something it may not know of.
    NotFound => "Not found, or not visible to the caller (`not_found`)";
    /// 409.
    Conflict => "The request conflicts with the current state; the code says how";
    /// 410.
    Gone => "It existed but is gone for good: deleted longer ago than the firm's grace period, so it \
             cannot be restored (`grace_period_passed`), an export downloaded already or past its day \
             (`export_gone`), or one that failed to build (`export_failed`)";
    /// 413.
    TooLarge => "The request body is too large (`too_large`)";
    /// 415.
    UnsupportedMediaType => "The body was not sent as `application/json` (`unsupported_media_type`)";
    /// 416, with the file's size in `Content-Range: bytes */size`.
    RangeNotSatisfiable => "The byte range asked for is not in the file (`range_not_satisfiable`)";
    /// 503, with `Retry-After` when storage is unreachable.
    Unavailable => "A service the request needs cannot answer for now; the code says which \
                    (`storage_unavailable`, `scanner_unavailable`)";
    /// 507.
    StorageFull => "Storage is full; nothing new can be saved until the operator frees space \
                    (`storage_full`)";
    /// 401 of a sign-in step.
    SignInRefused => "The sign-in step was refused: a wrong email address or password \
                      (`invalid_credentials`), a sign-in that expired or used up its attempts \
                      (`challenge_expired`), a wrong, expired or used code (`invalid_code`, \
                      `code_expired`, `code_reused`), or a passkey that could not be verified \
                      (`passkey_refused`)";
    /// 423: the route writes, and the caller's firm was terminated.
    FirmTerminated => "The caller's firm was terminated: it is read-only, for reading and export, \
                       until it is shredded (`firm_terminated`); nothing can be changed";
    /// 500: the cause is in the server's log under the request id.
    Internal => "An internal error (`internal`); quote the `X-Request-Id` header when reporting it";
}

/// 429, with the seconds to wait in `Retry-After`.
pub(crate) struct TooManyRequests;

impl<'r> ToResponse<'r> for TooManyRequests {
    fn response() -> (&'r str, RefOr<Response>) {
        let retry_after = HeaderBuilder::new()
            .schema(i64::schema())
            .description(Some("Seconds to wait before trying again"))
            .build();
        let response =
            error_response("Too many attempts; wait and try again (`throttled`, `too_many_codes`)")
                .header("Retry-After", retry_after)
                .build();
        ("TooManyRequests", response.into())
    }
}

/// Names shared responses under their statuses, for `responses(...)` of a path.
macro_rules! response_bundles {
    ($($(#[$doc:meta])* $name:ident => [$($status:literal: $response:ident),+];)+) => {$(
        $(#[$doc])*
        pub(crate) struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$((
                    $status.to_owned(),
                    RefOr::Ref(Ref::from_response_name(<$response as ToResponse>::response().0)),
                )),+])
            }
        }
    )+};
}

response_bundles! {
    /// What any route behind a session may answer besides its own.
    SignedInErrors => ["401": NotSignedIn, "500": Internal, "503": Unavailable, "507": StorageFull];
    /// What any route reading a JSON body may answer besides its own.
    JsonBodyErrors => ["400": BadRequest, "413": TooLarge, "415": UnsupportedMediaType];
}
