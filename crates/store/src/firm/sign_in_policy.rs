//! The firm's sign-in policy: which second factors are allowed, and which roles need more
//! than an emailed code.

use std::collections::BTreeSet;

use ringfence_core::auth::{FactorPolicy, SecondFactor};
use ringfence_core::user::FirmRole;
use sqlx::Row;

use super::FirmTx;
use crate::StoreError;

fn join<T>(items: &BTreeSet<T>, name: impl Fn(&T) -> &'static str) -> String {
    items.iter().map(name).collect::<Vec<_>>().join(",")
}

pub async fn get(tx: &mut FirmTx) -> Result<FactorPolicy, StoreError> {
    let row =
        sqlx::query("SELECT allowed_factors, strong_factor_roles FROM sign_in_policy WHERE singleton = 1")
            .fetch_optional(tx.conn())
            .await?;
    let Some(row) = row else { return Ok(FactorPolicy::default()) };
    let corrupt =
        || StoreError::Database(sqlx::Error::Decode("sign_in_policy holds an invalid value".into()));
    let factors: String = row.try_get("allowed_factors")?;
    let roles: String = row.try_get("strong_factor_roles")?;
    let split = |text: &str| text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
    Ok(FactorPolicy {
        allowed: split(&factors)
            .iter()
            .map(|f| SecondFactor::parse(f).ok_or_else(corrupt))
            .collect::<Result<_, _>>()?,
        strong_factor_roles: split(&roles)
            .iter()
            .map(|r| r.parse::<FirmRole>().map_err(|_| corrupt()))
            .collect::<Result<_, _>>()?,
    })
}

/// Whether an administrator has set the policy (rather than the firm running on the default).
pub async fn chosen(tx: &mut FirmTx) -> Result<bool, StoreError> {
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_policy").fetch_one(tx.conn()).await?;
    Ok(rows > 0)
}

pub async fn set(tx: &mut FirmTx, policy: &FactorPolicy) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sign_in_policy (singleton, allowed_factors, strong_factor_roles) VALUES (1, $1, $2)
         ON CONFLICT (singleton) DO UPDATE SET allowed_factors = $1, strong_factor_roles = $2",
    )
    .bind(join(&policy.allowed, |f| f.as_str()))
    .bind(join(&policy.strong_factor_roles, |r| r.as_str()))
    .execute(tx.conn())
    .await?;
    Ok(())
}
