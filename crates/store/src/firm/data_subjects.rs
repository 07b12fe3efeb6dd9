//! The register of data subjects' requests, and what handling one reads and changes of a
//! client: the matters held on it, and the erasure of its personal information. Free text
//! (a non-client subject's name and email address, an outcome's reason) is sealed under
//! the firm key, bound to the request. What is read or changed of a client takes the
//! [`ClientAccess`] proof that `access::check_subject` makes.

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::data_subject::{RequestKind, RequestStatus, ResponseDays, format_day, parse_day};
use ringfence_core::ids::UserId;
use ringfence_crypto::FieldRef;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::FirmTx;
use super::access::{ClientAccess, ClientDetails, Erase};
use crate::StoreError;

/// Whom a request is about, as registered.
#[derive(Debug, Clone, Copy)]
pub enum NewSubject<'a> {
    /// A client of the firm.
    Client(Uuid),
    /// Someone who is not a client, as they described themselves.
    Person { name: &'a str, email: Option<&'a str> },
}

#[derive(Debug, Clone, Copy)]
pub struct NewRequest<'a> {
    pub subject: NewSubject<'a>,
    pub kind: RequestKind,
    pub received_on: Date,
    pub due_on: Date,
}

/// Whom a request is about, as read back: a client's current name and kind (not a copy, so
/// an erased client reads as erased), or the person as described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Client { id: Uuid, name: String, kind: String },
    Person { name: String, email: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRequest {
    pub id: Uuid,
    pub subject: Subject,
    pub kind: RequestKind,
    pub received_on: Date,
    pub due_on: Date,
    pub status: RequestStatus,
    /// Why it was closed as it was.
    pub outcome: Option<String>,
    pub registered_by: UserId,
    pub registered_at: OffsetDateTime,
    /// Who closed it.
    pub handled_by: Option<UserId>,
    pub closed_at: Option<OffsetDateTime>,
}

/// Which requests a page of the register holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterFilter {
    All,
    Open,
    /// Completed or refused.
    Closed,
}

/// Where a page of the register (by due day, then id) starts: after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterAfter {
    pub due_on: Date,
    pub id: Uuid,
}

/// A matter held on a client, without its content: what a data subject is told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMatter {
    pub id: Uuid,
    pub number: String,
    pub status: String,
    pub opened_at: OffsetDateTime,
    pub closed_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
}

const TABLE: &str = "data_subject_requests";

fn field<'a>(id: &'a str, name: &'a str) -> FieldRef<'a> {
    FieldRef { table: TABLE, record: id, field: name }
}

fn decode(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("{TABLE}.{what}").into()))
}

fn open_text(tx: &FirmTx, id: &str, name: &str, sealed: &[u8]) -> Result<String, StoreError> {
    Ok(String::from_utf8_lossy(&tx.open(field(id, name), sealed)?).into_owned())
}

fn seal_text(tx: &FirmTx, id: &str, name: &str, text: &str) -> Result<Vec<u8>, StoreError> {
    tx.seal(field(id, name), text.as_bytes())
}

/// Registers a request, open; its id.
pub async fn register(
    tx: &mut FirmTx,
    new: &NewRequest<'_>,
    by: UserId,
    now: OffsetDateTime,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let key = id.to_string();
    let (client, name, email) = match new.subject {
        NewSubject::Client(client) => (Some(client.to_string()), None, None),
        NewSubject::Person { name, email } => (
            None,
            Some(seal_text(tx, &key, "subject_name", name)?),
            email.map(|email| seal_text(tx, &key, "subject_email", email)).transpose()?,
        ),
    };
    sqlx::query(
        "INSERT INTO data_subject_requests
             (id, client_id, subject_name_sealed, subject_email_sealed, kind, received_on, due_on, status,
              registered_by, registered_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9)",
    )
    .bind(&key)
    .bind(client)
    .bind(name)
    .bind(email)
    .bind(new.kind.as_str())
    .bind(format_day(new.received_on))
    .bind(format_day(new.due_on))
    .bind(by.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(id)
}

const COLUMNS: &str =
    "r.id, r.client_id, c.name AS client_name, c.kind AS client_kind, r.subject_name_sealed,
     r.subject_email_sealed, r.kind, r.received_on, r.due_on, r.status, r.outcome_sealed, r.registered_by,
     r.registered_at, r.handled_by, r.closed_at";

const FROM: &str = "data_subject_requests r LEFT JOIN clients c ON c.id = r.client_id";

fn day(row: &AnyRow, column: &str) -> Result<Date, StoreError> {
    let text: String = row.try_get(column)?;
    parse_day(&text).ok_or_else(|| decode(column))
}

fn user(text: &str, column: &str) -> Result<UserId, StoreError> {
    text.parse().map_err(|_| decode(column))
}

fn request_from(tx: &FirmTx, row: &AnyRow) -> Result<SubjectRequest, StoreError> {
    let id: String = row.try_get("id")?;
    let client: Option<String> = row.try_get("client_id")?;
    let subject = match client {
        Some(client) => Subject::Client {
            id: client.parse().map_err(|_| decode("client_id"))?,
            name: row.try_get("client_name")?,
            kind: row.try_get("client_kind")?,
        },
        None => {
            let name: Option<Vec<u8>> = row.try_get("subject_name_sealed")?;
            let email: Option<Vec<u8>> = row.try_get("subject_email_sealed")?;
            Subject::Person {
                name: open_text(
                    tx,
                    &id,
                    "subject_name",
                    &name.ok_or_else(|| decode("subject_name_sealed"))?,
                )?,
                email: email.map(|e| open_text(tx, &id, "subject_email", &e)).transpose()?,
            }
        }
    };
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let outcome: Option<Vec<u8>> = row.try_get("outcome_sealed")?;
    let registered_by: String = row.try_get("registered_by")?;
    let handled_by: Option<String> = row.try_get("handled_by")?;
    let closed_at: Option<i64> = row.try_get("closed_at")?;
    Ok(SubjectRequest {
        subject,
        kind: kind.parse().map_err(|_| decode("kind"))?,
        received_on: day(row, "received_on")?,
        due_on: day(row, "due_on")?,
        status: RequestStatus::parse(&status).ok_or_else(|| decode("status"))?,
        outcome: outcome.map(|o| open_text(tx, &id, "outcome", &o)).transpose()?,
        registered_by: user(&registered_by, "registered_by")?,
        registered_at: from_unix_millis(row.try_get("registered_at")?),
        handled_by: handled_by.map(|h| user(&h, "handled_by")).transpose()?,
        closed_at: closed_at.map(from_unix_millis),
        id: id.parse().map_err(|_| decode("id"))?,
    })
}

/// One request.
pub async fn get(tx: &mut FirmTx, id: Uuid) -> Result<Option<SubjectRequest>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1")))
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?;
    row.as_ref().map(|row| request_from(tx, row)).transpose()
}

/// Up to `limit` requests after `after`, the earliest due first.
pub async fn list(
    tx: &mut FirmTx,
    filter: RegisterFilter,
    after: Option<RegisterAfter>,
    limit: i64,
) -> Result<Vec<SubjectRequest>, StoreError> {
    let status = match filter {
        RegisterFilter::All => "",
        RegisterFilter::Open => "AND r.status = 'open'",
        RegisterFilter::Closed => "AND r.status <> 'open'",
    };
    let (due_on, id) =
        after.map_or((String::new(), String::new()), |a| (format_day(a.due_on), a.id.to_string()));
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE (r.due_on > $1 OR (r.due_on = $1 AND r.id > $2)) {status}
         ORDER BY r.due_on, r.id LIMIT $3"
    )))
    .bind(due_on)
    .bind(id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| request_from(tx, row)).collect()
}

/// Closes an open request with its outcome and the reason for it. False when it is not
/// open (closed meanwhile, or no such request).
pub async fn close(
    tx: &mut FirmTx,
    id: Uuid,
    status: RequestStatus,
    reason: &str,
    by: UserId,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let key = id.to_string();
    let sealed = seal_text(tx, &key, "outcome", reason)?;
    let done = sqlx::query(
        "UPDATE data_subject_requests SET status = $2, outcome_sealed = $3, handled_by = $4, closed_at = $5
         WHERE id = $1 AND status = 'open'",
    )
    .bind(&key)
    .bind(status.as_str())
    .bind(sealed)
    .bind(by.to_string())
    .bind(unix_millis(now))
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many days after receipt the firm answers.
pub async fn response_days(tx: &mut FirmTx) -> Result<ResponseDays, StoreError> {
    let days: Option<i64> =
        sqlx::query_scalar("SELECT response_days FROM data_subject_policy WHERE singleton = 1")
            .fetch_optional(tx.conn())
            .await?;
    match days {
        None => Ok(ResponseDays::DEFAULT),
        Some(days) => ResponseDays::new(days).map_err(|_| decode("data_subject_policy.response_days")),
    }
}

pub async fn set_response_days(tx: &mut FirmTx, days: ResponseDays) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO data_subject_policy (singleton, response_days) VALUES (1, $1)
         ON CONFLICT (singleton) DO UPDATE SET response_days = $1",
    )
    .bind(i64::from(days.get()))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Every matter held on the client, soft-deleted ones included (they are kept until
/// purged), by number: no title, description or other content.
pub async fn held_matters<A: ClientDetails>(
    tx: &mut FirmTx,
    access: &ClientAccess<A>,
) -> Result<Vec<HeldMatter>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, number, status, opened_at, closed_at, deleted_at FROM matters WHERE client_id = $1
         ORDER BY number",
    )
    .bind(access.client().to_string())
    .fetch_all(tx.conn())
    .await?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let closed: Option<i64> = row.try_get("closed_at")?;
            let deleted: Option<i64> = row.try_get("deleted_at")?;
            Ok(HeldMatter {
                id: id.parse().map_err(|_| decode("matters.id"))?,
                number: row.try_get("number")?,
                status: row.try_get("status")?,
                opened_at: from_unix_millis(row.try_get("opened_at")?),
                closed_at: closed.map(from_unix_millis),
                deleted_at: deleted.map(from_unix_millis),
            })
        })
        .collect()
}

/// Replaces the client's personal information for good: its name by `placeholder`, its
/// email address, phone number, address and sealed identity number by nothing. Its kind stays (a
/// person or an organisation says nothing of whom).
pub async fn erase(
    tx: &mut FirmTx,
    access: &ClientAccess<Erase>,
    placeholder: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE clients SET name = $2, email = NULL, phone = NULL, address = NULL, id_number_sealed = NULL
         WHERE id = $1",
    )
    .bind(access.client().to_string())
    .bind(placeholder)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
