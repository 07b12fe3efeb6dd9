//! Support grants and the sessions operators work under them (see the migration
//! `0011_support_grants`). A grant is live while approved, not ended, and before `ends_at`:
//! every check of it reads the clock it is given, so it ends by itself.

use std::collections::BTreeSet;

use ringfence_core::auth::SessionLimits;
use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::{FirmId, MatterId, OperatorId, SupportGrantId};
use ringfence_core::principal::SupportScope;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use crate::StoreError;

/// Where a grant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    Requested,
    Approved,
    Refused,
    Ended,
}

impl GrantState {
    fn as_str(self) -> &'static str {
        match self {
            GrantState::Requested => "requested",
            GrantState::Approved => "approved",
            GrantState::Refused => "refused",
            GrantState::Ended => "ended",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
        [GrantState::Requested, GrantState::Approved, GrantState::Refused, GrantState::Ended]
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| StoreError::Database(sqlx::Error::Decode("a grant's state is unknown".into())))
    }
}

/// A support grant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportGrant {
    pub id: SupportGrantId,
    pub firm: FirmId,
    pub operator: OperatorId,
    /// The operator's address and name, from the operator's account.
    pub operator_email: String,
    pub operator_name: String,
    pub reason: String,
    pub scope: SupportScope,
    pub minutes: i64,
    pub requested_at: OffsetDateTime,
    pub state: GrantState,
    pub decided_by: Option<String>,
    pub decided_at: Option<OffsetDateTime>,
    pub ends_at: Option<OffsetDateTime>,
    pub ended_by: Option<String>,
    pub ended_at: Option<OffsetDateTime>,
    /// Emergency access: approved by a second operator, not by the firm.
    pub emergency: bool,
    pub acknowledged_at: Option<OffsetDateTime>,
}

impl SupportGrant {
    /// Approved, not ended, and before its end at `now`.
    pub fn live_at(&self, now: OffsetDateTime) -> bool {
        self.state == GrantState::Approved && self.ends_at.is_some_and(|end| now < end)
    }
}

fn corrupt(what: &'static str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("a stored support grant's {what} is malformed").into()))
}

const COLUMNS: &str =
    "g.id, g.firm_id, g.operator_id, o.email, o.name, g.reason, g.scope, g.matters, g.minutes,
     g.requested_at, g.state, g.decided_by, g.decided_at, g.ends_at, g.ended_by, g.ended_at, g.emergency,
     g.acknowledged_at";

fn grant_from(row: &AnyRow) -> Result<SupportGrant, StoreError> {
    let matters: String = row.try_get("matters")?;
    let scope = match row.try_get::<String, _>("scope")?.as_str() {
        "settings" => SupportScope::Settings,
        "matters" => SupportScope::Matters(
            matters
                .split(',')
                .filter(|m| !m.is_empty())
                .map(|m| m.parse::<MatterId>().map_err(|_| corrupt("matters")))
                .collect::<Result<BTreeSet<_>, _>>()?,
        ),
        _ => return Err(corrupt("scope")),
    };
    let at = |name: &str| -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(name)?.map(from_unix_millis))
    };
    Ok(SupportGrant {
        id: row.try_get::<String, _>("id")?.parse().map_err(|_| corrupt("id"))?,
        firm: row.try_get::<String, _>("firm_id")?.parse().map_err(|_| corrupt("firm"))?,
        operator: row.try_get::<String, _>("operator_id")?.parse().map_err(|_| corrupt("operator"))?,
        operator_email: row.try_get("email")?,
        operator_name: row.try_get("name")?,
        reason: row.try_get("reason")?,
        scope,
        minutes: row.try_get("minutes")?,
        requested_at: from_unix_millis(row.try_get("requested_at")?),
        state: GrantState::parse(&row.try_get::<String, _>("state")?)?,
        decided_by: row.try_get("decided_by")?,
        decided_at: at("decided_at")?,
        ends_at: at("ends_at")?,
        ended_by: row.try_get("ended_by")?,
        ended_at: at("ended_at")?,
        emergency: row.try_get::<i64, _>("emergency")? != 0,
        acknowledged_at: at("acknowledged_at")?,
    })
}

/// A grant to ask for.
pub struct NewGrant<'a> {
    pub id: SupportGrantId,
    pub firm: FirmId,
    pub operator: OperatorId,
    pub reason: &'a str,
    pub scope: &'a SupportScope,
    pub minutes: i64,
    pub emergency: bool,
}

pub(crate) async fn insert(
    conn: &mut AnyConnection,
    grant: &NewGrant<'_>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let (scope, matters) = match grant.scope {
        SupportScope::Settings => ("settings", String::new()),
        SupportScope::Matters(ids) => {
            ("matters", ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
        }
    };
    sqlx::query(
        "INSERT INTO support_grants (id, firm_id, operator_id, reason, scope, matters, minutes, requested_at, state,
                                     emergency)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'requested', $9)",
    )
    .bind(grant.id.to_string())
    .bind(grant.firm.to_string())
    .bind(grant.operator.to_string())
    .bind(grant.reason)
    .bind(scope)
    .bind(matters)
    .bind(grant.minutes)
    .bind(unix_millis(now))
    .bind(i64::from(grant.emergency))
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get(
    conn: &mut AnyConnection,
    id: SupportGrantId,
) -> Result<Option<SupportGrant>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_grants g JOIN operators o ON o.id = g.operator_id WHERE g.id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(grant_from).transpose()
}

/// The firm's grants, those waiting or approved first (however many the others), then the
/// newest first, at most `limit`.
pub(crate) async fn of_firm(
    conn: &mut AnyConnection,
    firm: FirmId,
    limit: i64,
) -> Result<Vec<SupportGrant>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_grants g JOIN operators o ON o.id = g.operator_id
         WHERE g.firm_id = $1
         ORDER BY CASE WHEN g.state IN ('requested', 'approved') THEN 0 ELSE 1 END, g.requested_at DESC, g.id
         LIMIT $2"
    )))
    .bind(firm.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(grant_from).collect()
}

/// Every grant an operator asked for, newest first, at most `limit`.
pub(crate) async fn of_operator(
    conn: &mut AnyConnection,
    operator: OperatorId,
    limit: i64,
) -> Result<Vec<SupportGrant>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_grants g JOIN operators o ON o.id = g.operator_id
         WHERE g.operator_id = $1 ORDER BY g.requested_at DESC, g.id LIMIT $2"
    )))
    .bind(operator.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(grant_from).collect()
}

/// Decides a requested grant: approved from `now` for its minutes, or refused. An ordinary
/// grant is decided by the firm, an emergency one (`emergency`) by a second operator only.
/// False when it was no longer waiting (decided or ended meanwhile), or of the other kind.
pub(crate) async fn decide(
    conn: &mut AnyConnection,
    id: SupportGrantId,
    (approve, emergency): (bool, bool),
    by: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let decided = sqlx::query(
        "UPDATE support_grants SET state = $1, decided_by = $2, decided_at = $3,
                ends_at = CASE WHEN $1 = 'approved' THEN $3 + minutes * 60000 ELSE NULL END
         WHERE id = $4 AND state = 'requested' AND emergency = $5",
    )
    .bind(if approve { GrantState::Approved.as_str() } else { GrantState::Refused.as_str() })
    .bind(by)
    .bind(unix_millis(now))
    .bind(id.to_string())
    .bind(i64::from(emergency))
    .execute(conn)
    .await?;
    Ok(decided.rows_affected() == 1)
}

/// Ends a grant that is waiting or approved, with its sessions. False when it had ended.
pub(crate) async fn end(
    conn: &mut AnyConnection,
    id: SupportGrantId,
    by: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM support_sessions WHERE grant_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let ended = sqlx::query(
        "UPDATE support_grants SET state = 'ended', ended_by = $1, ended_at = $2
         WHERE id = $3 AND state IN ('requested', 'approved')",
    )
    .bind(by)
    .bind(unix_millis(now))
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(ended.rows_affected() == 1)
}

pub(crate) async fn open_session(
    conn: &mut AnyConnection,
    grant: SupportGrantId,
    token_hash: &[u8; 32],
    operator_session: &[u8; 32],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO support_sessions (token_hash, grant_id, operator_session, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash.to_vec())
    .bind(grant.to_string())
    .bind(operator_session.to_vec())
    .bind(unix_millis(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// The grant a support session's token works under, whatever its state (the caller checks
/// it is live), and the operator's session it was opened in; `None` once that session is
/// over (ended, idle or too old under `limits`).
pub(crate) async fn by_session(
    conn: &mut AnyConnection,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
    limits: SessionLimits,
) -> Result<Option<(SupportGrant, [u8; 32])>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, s.operator_session FROM support_sessions s JOIN support_grants g ON g.id = s.grant_id
         JOIN operators o ON o.id = g.operator_id
         JOIN operator_sessions os ON os.token_hash = s.operator_session AND os.operator_id = g.operator_id
         WHERE s.token_hash = $1 AND os.created_at > $2 AND os.last_seen_at > $3"
    )))
    .bind(token_hash.to_vec())
    .bind(unix_millis(now - limits.absolute))
    .bind(unix_millis(now - limits.idle))
    .fetch_optional(conn)
    .await?;
    row.as_ref()
        .map(|row| {
            let session: Vec<u8> = row.try_get("operator_session")?;
            Ok((grant_from(row)?, session.try_into().map_err(|_| corrupt("operator session"))?))
        })
        .transpose()
}

/// Ends every grant of the firm still waiting or in force, with their sessions: the firm
/// was suspended or terminated.
pub(crate) async fn end_all_of_firm(
    conn: &mut AnyConnection,
    firm: FirmId,
    by: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM support_sessions WHERE grant_id IN (SELECT id FROM support_grants WHERE firm_id = $1)",
    )
    .bind(firm.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE support_grants SET state = 'ended', ended_by = $1, ended_at = $2
         WHERE firm_id = $3 AND state IN ('requested', 'approved')",
    )
    .bind(by)
    .bind(unix_millis(now))
    .bind(firm.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// How many of the operator's requests to the firm wait for a decision.
pub(crate) async fn waiting(
    conn: &mut AnyConnection,
    firm: FirmId,
    operator: OperatorId,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM support_grants WHERE firm_id = $1 AND operator_id = $2 AND state = 'requested'",
    )
    .bind(firm.to_string())
    .bind(operator.to_string())
    .fetch_one(conn)
    .await?)
}

/// Ends every support session of the operator's (when it signs out).
pub(crate) async fn end_sessions_of(
    conn: &mut AnyConnection,
    operator: OperatorId,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM support_sessions WHERE grant_id IN (SELECT id FROM support_grants WHERE operator_id = $1)",
    )
    .bind(operator.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Pending emergency requests of every firm, newest first: for a second operator.
pub(crate) async fn waiting_emergencies(conn: &mut AnyConnection) -> Result<Vec<SupportGrant>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_grants g JOIN operators o ON o.id = g.operator_id
         WHERE g.emergency = 1 AND g.state = 'requested' ORDER BY g.requested_at DESC, g.id LIMIT 100"
    )))
    .fetch_all(conn)
    .await?;
    rows.iter().map(grant_from).collect()
}

/// The firm's emergency grants no administrator has acknowledged yet.
pub(crate) async fn unacknowledged(
    conn: &mut AnyConnection,
    firm: FirmId,
) -> Result<Vec<SupportGrant>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_grants g JOIN operators o ON o.id = g.operator_id
         WHERE g.firm_id = $1 AND g.emergency = 1 AND g.decided_at IS NOT NULL AND g.acknowledged_at IS NULL
         ORDER BY g.decided_at DESC, g.id"
    )))
    .bind(firm.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(grant_from).collect()
}

/// Records an administrator's acknowledgement of an emergency grant; false when there was
/// none to acknowledge.
pub(crate) async fn acknowledge(
    conn: &mut AnyConnection,
    id: SupportGrantId,
    by: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE support_grants SET acknowledged_by = $1, acknowledged_at = $2
         WHERE id = $3 AND emergency = 1 AND decided_at IS NOT NULL AND acknowledged_at IS NULL",
    )
    .bind(by)
    .bind(unix_millis(now))
    .bind(id.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
