//! Firm-wide settings an administrator manages: the sign-in policy, audit retention and
//! the firm's time zone.

use std::collections::BTreeSet;

use ringfence_core::audit::AuditAction;
use ringfence_core::auth::{FactorPolicy, SecondFactor};
use ringfence_core::local_time::FirmTimeZone;
use ringfence_core::user::FirmRole;
use ringfence_store::firm::{audit as audit_log, preferences, sign_in_policy, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AppError, Ctx};

/// Which second factors the firm accepts, and which roles must use a strong one.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInPolicy {
    /// The second factors anyone may sign in with; at least one.
    #[schema(value_type = BTreeSet<crate::openapi::SecondFactorSchema>)]
    pub allowed_factors: BTreeSet<SecondFactor>,
    /// Roles that must sign in with TOTP or a passkey, never an emailed code.
    #[schema(value_type = BTreeSet<crate::openapi::FirmRoleSchema>)]
    pub strong_factor_roles: BTreeSet<FirmRole>,
}

impl From<FactorPolicy> for SignInPolicy {
    fn from(policy: FactorPolicy) -> Self {
        Self { allowed_factors: policy.allowed, strong_factor_roles: policy.strong_factor_roles }
    }
}

/// How long the audit log is kept.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRetention {
    #[schema(minimum = 12, maximum = 1200)]
    months: i64,
}

/// The time zone the firm's pages show times in.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FirmTimeZone)]
pub struct TimeZoneSetting {
    /// An IANA time zone name, such as `Europe/Paris`.
    #[schema(example = "Europe/Paris")]
    pub time_zone: String,
}

/// The firm's sign-in policy.
pub async fn policy(ctx: &Ctx) -> Result<SignInPolicy, AppError> {
    let mut tx = ctx.actor.begin().await?;
    let policy = sign_in_policy::get(&mut tx).await?;
    tx.commit().await?;
    Ok(policy.into())
}

/// Replaces the sign-in policy, unless it would leave the acting admin unable to sign in.
pub async fn set_policy(ctx: &Ctx, asked: SignInPolicy) -> Result<SignInPolicy, AppError> {
    if asked.allowed_factors.is_empty() {
        return Err(AppError::invalid("allowed_factors", "allow at least one second factor"));
    }
    let strong = [SecondFactor::Totp, SecondFactor::Passkey];
    if !asked.strong_factor_roles.is_empty() && !strong.iter().any(|f| asked.allowed_factors.contains(f)) {
        return Err(AppError::invalid(
            "strong_factor_roles",
            "need totp or passkey among the allowed factors",
        ));
    }
    let policy =
        FactorPolicy { allowed: asked.allowed_factors, strong_factor_roles: asked.strong_factor_roles };
    let mut tx = ctx.actor.begin().await?;
    let me = users::credentials_by_email(&mut tx, &ctx.actor.email).await?.ok_or(AppError::NotFound)?;
    if policy.factors_for(&me.roles, me.enrolled).is_empty() {
        return Err(AppError::conflict(
            "would_lock_out",
            "this policy would leave you no way to sign in: set up TOTP or a passkey first",
        ));
    }
    sign_in_policy::set(&mut tx, &policy).await?;
    ctx.record(&mut tx, AuditAction::FirmSignInPolicyChanged, Some(("firm", ctx.actor.firm.to_string())))
        .await?;
    tx.commit().await?;
    Ok(policy.into())
}

/// How long the audit log is kept.
pub async fn retention(ctx: &Ctx) -> Result<AuditRetention, AppError> {
    let mut tx = ctx.actor.begin().await?;
    let months = audit_log::retention_months(&mut tx).await?;
    tx.commit().await?;
    Ok(AuditRetention { months })
}

/// Sets how long the audit log is kept: 12 months at least, longer if the firm wishes.
pub async fn set_retention(ctx: &Ctx, asked: AuditRetention) -> Result<AuditRetention, AppError> {
    if !(audit_log::MIN_RETENTION_MONTHS..=1200).contains(&asked.months) {
        return Err(AppError::invalid("months", "12 to 1200"));
    }
    let mut tx = ctx.actor.begin().await?;
    audit_log::set_retention_months(&mut tx, asked.months).await?;
    ctx.record(&mut tx, AuditAction::FirmAuditRetentionChanged, Some(("firm", ctx.actor.firm.to_string())))
        .await?;
    tx.commit().await?;
    Ok(asked)
}

/// The time zone the firm's pages show times in.
pub async fn time_zone(ctx: &Ctx) -> Result<TimeZoneSetting, AppError> {
    Ok(TimeZoneSetting { time_zone: local_zone(ctx).await?.name().to_owned() })
}

/// The firm's time zone itself, for showing times in it.
pub async fn local_zone(ctx: &Ctx) -> Result<FirmTimeZone, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let zone = preferences::time_zone(&mut tx).await?;
    tx.commit().await?;
    Ok(zone)
}

/// Sets the time zone the firm's pages show times in.
pub async fn set_time_zone(ctx: &Ctx, asked: TimeZoneSetting) -> Result<TimeZoneSetting, AppError> {
    let zone =
        FirmTimeZone::parse(&asked.time_zone).map_err(|e| AppError::invalid("time_zone", e.to_string()))?;
    let mut tx = ctx.actor.begin().await?;
    preferences::set_time_zone(&mut tx, &zone).await?;
    ctx.record(&mut tx, AuditAction::FirmTimeZoneChanged, Some(("firm", ctx.actor.firm.to_string()))).await?;
    tx.commit().await?;
    Ok(TimeZoneSetting { time_zone: zone.name().to_owned() })
}

/// Names the firm's Information Officer (an active user of the firm), or no one when
/// `user` is blank.
pub async fn set_information_officer(ctx: &Ctx, user: &str) -> Result<(), AppError> {
    let chosen = match user.trim() {
        "" => None,
        raw => Some(
            raw.parse::<ringfence_core::ids::UserId>()
                .map_err(|_| AppError::invalid("user_id", "no such user"))?,
        ),
    };
    let mut tx = ctx.actor.begin().await?;
    if let Some(id) = chosen {
        let active = ringfence_store::firm::users::get(&mut tx, id)
            .await?
            .is_some_and(|u| u.status == ringfence_store::firm::users::UserStatus::Active);
        if !active {
            return Err(AppError::invalid("user_id", "name one of the firm's active people"));
        }
    }
    preferences::set_information_officer(&mut tx, chosen).await?;
    let about = chosen.map(|id| ("user", id.to_string()));
    ctx.record(&mut tx, AuditAction::FirmInformationOfficerNamed, about).await?;
    tx.commit().await?;
    Ok(())
}

/// The firm's Information Officer, if one is named.
pub async fn information_officer(ctx: &Ctx) -> Result<Option<ringfence_core::ids::UserId>, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let officer = preferences::information_officer(&mut tx).await?;
    tx.commit().await?;
    Ok(officer)
}
