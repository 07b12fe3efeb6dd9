//! Passwordless sign-ins in flight. Until the browser answers, nobody knows which firm the
//! user belongs to, so the WebAuthn challenge waits in the control store.

use ringfence_core::clock::unix_millis;
use ringfence_core::ids::{FirmId, UserId};
use sqlx::AnyConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::firm::passkeys::CEREMONY_LIFETIME;

/// Keeps a sign-in's WebAuthn state, dropping expired ones as it goes; `None` when `cap`
/// live ones are kept already.
pub(crate) async fn start(
    conn: &mut AnyConnection,
    state: &str,
    now: OffsetDateTime,
    cap: i64,
) -> Result<Option<Uuid>, StoreError> {
    sqlx::query("DELETE FROM passkey_sign_ins WHERE expires_at <= $1")
        .bind(unix_millis(now))
        .execute(&mut *conn)
        .await?;
    let id = Uuid::new_v4();
    let done = sqlx::query(
        "INSERT INTO passkey_sign_ins (id, state, expires_at)
         SELECT $1, $2, $3 WHERE (SELECT COUNT(*) FROM passkey_sign_ins) < $4",
    )
    .bind(id.to_string())
    .bind(state)
    .bind(unix_millis(now + CEREMONY_LIFETIME))
    .bind(cap)
    .execute(conn)
    .await?;
    Ok((done.rows_affected() == 1).then_some(id))
}

/// Takes a live sign-in's state: it works once, whatever the answer.
pub(crate) async fn take(
    conn: &mut AnyConnection,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("DELETE FROM passkey_sign_ins WHERE id = $1 AND expires_at > $2 RETURNING state")
        .bind(id.to_string())
        .bind(unix_millis(now))
        .fetch_optional(conn)
        .await?)
}

/// The firm a user belongs to.
pub(crate) async fn firm_of(conn: &mut AnyConnection, user: UserId) -> Result<Option<FirmId>, StoreError> {
    let firm: Option<String> = sqlx::query_scalar("SELECT firm_id FROM directory WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(firm.and_then(|f| f.parse().ok()))
}
