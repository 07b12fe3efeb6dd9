//! The firm's preferences: its time zone, and who its Information Officer is.

use ringfence_core::ids::UserId;
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

/// The firm's Information Officer, when an administrator named one.
pub async fn information_officer(tx: &mut FirmTx) -> Result<Option<UserId>, StoreError> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT user_id FROM information_officer WHERE singleton = 1")
            .fetch_optional(tx.conn())
            .await?;
    id.map(|id| {
        id.parse().map_err(|_| {
            StoreError::Database(sqlx::Error::Decode("information_officer.user_id is malformed".into()))
        })
    })
    .transpose()
}

/// Names the firm's Information Officer, or no one (`None`).
pub async fn set_information_officer(tx: &mut FirmTx, user: Option<UserId>) -> Result<(), StoreError> {
    match user {
        Some(user) => {
            sqlx::query(
                "INSERT INTO information_officer (singleton, user_id) VALUES (1, $1)
                 ON CONFLICT (singleton) DO UPDATE SET user_id = $1",
            )
            .bind(user.to_string())
            .execute(tx.conn())
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM information_officer").execute(tx.conn()).await?;
        }
    }
    Ok(())
}
