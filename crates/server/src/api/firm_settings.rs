//! Firm-wide settings an administrator manages: the sign-in policy, audit retention and
//! the firm's time zone.

use std::collections::BTreeSet;

use axum::Json;
use http::StatusCode;
use ringfence_core::audit::AuditAction;
use ringfence_core::auth::{FactorPolicy, SecondFactor};
use ringfence_core::local_time::FirmTimeZone;
use ringfence_core::user::FirmRole;
use ringfence_store::firm::{audit as audit_log, preferences, sign_in_policy, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Actor;
use crate::client::Client;
use crate::error::{ApiError, ApiJson};

/// Which second factors the firm accepts, and which roles must use a strong one.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SignInPolicy)]
pub struct PolicyJson {
    /// The second factors anyone may sign in with; at least one.
    #[schema(value_type = BTreeSet<crate::openapi::SecondFactorSchema>)]
    allowed_factors: BTreeSet<SecondFactor>,
    /// Roles that must sign in with TOTP or a passkey, never an emailed code.
    #[schema(value_type = BTreeSet<crate::openapi::FirmRoleSchema>)]
    strong_factor_roles: BTreeSet<FirmRole>,
}

impl From<FactorPolicy> for PolicyJson {
    fn from(policy: FactorPolicy) -> Self {
        Self { allowed_factors: policy.allowed, strong_factor_roles: policy.strong_factor_roles }
    }
}

/// The firm's sign-in policy.
#[utoipa::path(
    get,
    path = "/api/v1/firm/sign-in-policy",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The policy", body = PolicyJson),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_policy(actor: Actor) -> Result<Json<PolicyJson>, ApiError> {
    let mut tx = actor.begin().await?;
    let policy = sign_in_policy::get(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(policy.into()))
}

/// Replaces the sign-in policy.
///
/// Refuses one that would leave the acting admin unable to sign in (409 `would_lock_out`).
#[utoipa::path(
    put,
    path = "/api/v1/firm/sign-in-policy",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = PolicyJson,
    responses(
        (status = 200, description = "The policy now in force", body = PolicyJson),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_policy(
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<PolicyJson>,
) -> Result<Json<PolicyJson>, ApiError> {
    if body.allowed_factors.is_empty() {
        return Err(ApiError::invalid("allowed_factors: allow at least one second factor"));
    }
    let strong = [SecondFactor::Totp, SecondFactor::Passkey];
    if !body.strong_factor_roles.is_empty() && !strong.iter().any(|f| body.allowed_factors.contains(f)) {
        return Err(ApiError::invalid("strong_factor_roles: need totp or passkey among the allowed factors"));
    }
    let policy =
        FactorPolicy { allowed: body.allowed_factors, strong_factor_roles: body.strong_factor_roles };
    let mut tx = actor.begin().await?;
    let me = users::credentials_by_email(&mut tx, &actor.email).await?.ok_or_else(ApiError::not_found)?;
    if policy.factors_for(&me.roles, me.enrolled).is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "would_lock_out",
            "this policy would leave you no way to sign in: set up TOTP or a passkey first",
        ));
    }
    sign_in_policy::set(&mut tx, &policy).await?;
    actor
        .record(
            &mut tx,
            &client,
            AuditAction::FirmSignInPolicyChanged,
            Some(("firm", actor.firm.to_string())),
        )
        .await?;
    tx.commit().await?;
    Ok(Json(policy.into()))
}

/// How long the audit log is kept.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AuditRetention)]
pub struct RetentionJson {
    #[schema(minimum = 12, maximum = 1200)]
    months: i64,
}

/// How long the audit log is kept.
#[utoipa::path(
    get,
    path = "/api/v1/firm/audit-retention",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"])),
    responses(
        (status = 200, description = "The retention", body = RetentionJson),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_retention(actor: Actor) -> Result<Json<RetentionJson>, ApiError> {
    let mut tx = actor.begin().await?;
    let months = audit_log::retention_months(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(RetentionJson { months }))
}

/// Sets how long the audit log is kept: 12 months at least, longer if the firm wishes.
#[utoipa::path(
    put,
    path = "/api/v1/firm/audit-retention",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = RetentionJson,
    responses(
        (status = 200, description = "The retention now in force", body = RetentionJson),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_retention(
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<RetentionJson>,
) -> Result<Json<RetentionJson>, ApiError> {
    if !(audit_log::MIN_RETENTION_MONTHS..=1200).contains(&body.months) {
        return Err(ApiError::invalid("months: 12 to 1200"));
    }
    let mut tx = actor.begin().await?;
    audit_log::set_retention_months(&mut tx, body.months).await?;
    actor
        .record(
            &mut tx,
            &client,
            AuditAction::FirmAuditRetentionChanged,
            Some(("firm", actor.firm.to_string())),
        )
        .await?;
    tx.commit().await?;
    Ok(Json(body))
}

/// The time zone the firm's pages show times in.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FirmTimeZone)]
pub struct TimeZoneJson {
    /// An IANA time zone name, such as `Europe/Paris`.
    #[schema(example = "Europe/Paris")]
    pub(crate) time_zone: String,
}

/// The time zone the firm's pages show times in (the API answers in UTC regardless).
#[utoipa::path(
    get,
    path = "/api/v1/firm/time-zone",
    tag = "firm",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The firm's time zone", body = TimeZoneJson),
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn get_time_zone(actor: Actor) -> Result<Json<TimeZoneJson>, ApiError> {
    let mut tx = actor.begin().await?;
    let zone = preferences::time_zone(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(TimeZoneJson { time_zone: zone.name().to_owned() }))
}

/// Sets the time zone the firm's pages show times in.
#[utoipa::path(
    put,
    path = "/api/v1/firm/time-zone",
    tag = "firm",
    security(("bearer" = ["admin"]), ("session_cookie" = ["admin"], "csrf_token" = [])),
    request_body = TimeZoneJson,
    responses(
        (status = 200, description = "The time zone now in force", body = TimeZoneJson),
        (status = 403, response = crate::openapi::Forbidden),
        crate::openapi::JsonBodyErrors,
        crate::openapi::SignedInErrors,
    ),
)]
pub async fn set_time_zone(
    actor: Actor,
    client: Client,
    ApiJson(body): ApiJson<TimeZoneJson>,
) -> Result<Json<TimeZoneJson>, ApiError> {
    let zone =
        FirmTimeZone::parse(&body.time_zone).map_err(|e| ApiError::invalid(format!("time_zone: {e}")))?;
    let mut tx = actor.begin().await?;
    preferences::set_time_zone(&mut tx, &zone).await?;
    actor
        .record(&mut tx, &client, AuditAction::FirmTimeZoneChanged, Some(("firm", actor.firm.to_string())))
        .await?;
    tx.commit().await?;
    Ok(Json(TimeZoneJson { time_zone: zone.name().to_owned() }))
}
