//! The firm's preferences: its time zone.

use ringfence_core::local_time::FirmTimeZone;

use super::FirmTx;
use crate::StoreError;

/// The firm's time zone; UTC until an administrator sets one.
pub async fn time_zone(tx: &mut FirmTx) -> Result<FirmTimeZone, StoreError> {
    let name: Option<String> =
        sqlx::query_scalar("SELECT time_zone FROM firm_preferences WHERE singleton = 1")
            .fetch_optional(tx.conn())
            .await?;
    match name {
        None => Ok(FirmTimeZone::utc()),
        Some(name) => FirmTimeZone::parse(&name).map_err(|_| {
            StoreError::Database(sqlx::Error::Decode(
                "firm_preferences.time_zone holds an invalid value".into(),
            ))
        }),
    }
}

/// Whether an administrator has set the firm's time zone (UTC included).
pub async fn time_zone_chosen(tx: &mut FirmTx) -> Result<bool, StoreError> {
    let chosen: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM firm_preferences WHERE singleton = 1 AND time_zone IS NOT NULL",
    )
    .fetch_one(tx.conn())
    .await?;
    Ok(chosen > 0)
}

pub async fn set_time_zone(tx: &mut FirmTx, zone: &FirmTimeZone) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO firm_preferences (singleton, time_zone) VALUES (1, $1)
         ON CONFLICT (singleton) DO UPDATE SET time_zone = $1",
    )
    .bind(zone.name())
    .execute(tx.conn())
    .await?;
    Ok(())
}
