//! Reading the audit log: auditors and admins only. Filters by user, matter, action prefix,
//! outcome and time; newest first with a cursor; CSV streamed page by page, so memory stays
//! flat whatever the log's size; and the latest signed checkpoint with its public key.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header;
use ringfence_core::audit::{AuditAction, Outcome, StoredAuditEntry, words_for};
use ringfence_core::ids::parse_id;
use ringfence_store::firm::audit::{self as audit_log, AuditFilter};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::auth::Actor;
use crate::client::Client;
use crate::error::{ApiError, ApiQuery};

/// Rows read per page of a CSV export.
const EXPORT_PAGE: i64 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub(crate) user: Option<String>,
    pub(crate) matter: Option<String>,
    pub(crate) action: Option<String>,
    pub(crate) outcome: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) to: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) cursor: Option<String>,
}

fn time_param(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                ApiError::invalid(format!("{name}: expected an RFC 3339 time such as 2026-11-23T09:00:00Z"))
            })
        })
        .transpose()
}

/// The filter as `actor` may apply it: entries on matters and clients a wall screens the
/// reader from are left out, and asking for such a matter (or one that does not exist) by
/// name answers 404, as the matter itself does.
async fn screened_filter(actor: &Actor, query: &AuditQuery) -> Result<AuditFilter, ApiError> {
    let mut filter = filter(query)?;
    filter.screened = Some(actor.store.screens_of(actor.user).await?);
    if let Some(matter) = filter.matter.as_deref() {
        let mut tx = actor.begin_read().await?;
        let reviewable = audit_log::reviewable_matter(&mut tx, actor.user, matter).await?;
        tx.commit().await?;
        if !reviewable {
            return Err(ApiError::not_found());
        }
    }
    Ok(filter)
}

fn filter(query: &AuditQuery) -> Result<AuditFilter, ApiError> {
    if let Some(outcome) = &query.outcome
        && Outcome::parse(outcome).is_none()
    {
        return Err(ApiError::invalid("outcome: one of success, denied, failure"));
    }
    let id = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| {
                parse_id(v).map(|id| id.to_string()).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "{name}: expected an id such as 0b6a4f4e-8c1d-4d2e-9f3a-1b2c3d4e5f60"
                    ))
                })
            })
            .transpose()
    };
    // A value no recorded action's name begins with would match nothing, silently.
    if let Some(action) = &query.action
        && !AuditAction::is_name_prefix(action)
    {
        return Err(ApiError::invalid(
            "action: the name of an action, or its beginning, such as auth. or document.downloaded",
        ));
    }
    Ok(AuditFilter {
        user: id("user", &query.user)?,
        matter: id("matter", &query.matter)?,
        action_prefix: query.action.clone().filter(|a| !a.is_empty()),
        outcome: query.outcome.clone(),
        from: time_param("from", query.from.as_deref())?,
        to: time_param("to", query.to.as_deref())?,
        screened: None,
    })
}

fn entry_json(entry: &StoredAuditEntry) -> Value {
    json!({
        "id": entry.seq.to_string(),
        "seq": entry.seq,
        "at": entry.at.format(&Rfc3339).unwrap_or_default(),
        "actor": { "kind": entry.actor_kind, "id": entry.actor_id, "email": entry.actor_email },
        "action": entry.action,
        "resource": { "type": entry.resource_type, "id": entry.resource_id },
        "matter": entry.matter_id,
        "outcome": entry.outcome,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "request_id": entry.request_id,
    })
}

pub async fn list(
    actor: Actor,
    client: Client,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = screened_filter(&actor, &query).await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit: 1 to 500"));
    }
    let before = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>().map_err(|_| ApiError::invalid("cursor: use next_cursor from the previous page"))
        })
        .transpose()?;
    // Entries queued for writing (a failed sign-in's) are in what is read.
    actor.store.flush_audit().await?;
    let mut tx = actor.begin_read().await?;
    let entries = audit_log::list(&mut tx, &filter, before, limit).await?;
    // Reading the log is itself on the record: who looked, at whose entries, on which
    // matter (as the entry's matter, so walls screen it like any other).
    let looked_at = filter.user.clone().unwrap_or_default();
    let mut entry = crate::audit::record(
        actor.audit_actor(),
        AuditAction::AuditViewed,
        Some(("audit_log", looked_at)),
        Outcome::Success,
        &client,
        actor.at,
    );
    entry.matter_id = filter.matter.clone();
    actor.end_read(tx, entry).await?;
    let next = (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.seq.to_string())).flatten();
    let items: Vec<Value> = entries.iter().map(entry_json).collect();
    Ok(Json(json!({ "items": items, "next_cursor": next })))
}

/// Makes a cell safe to open in a spreadsheet: text that would start a formula is
/// prefixed with an apostrophe (OWASP's CSV injection advice).
fn safe_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}").into() } else { text.into() }
}

/// The stored columns in their place, then the action as a person reads it: its words (the
/// stored name when no table describes it), category and severity (blank when unknown).
const CSV_HEADER: [&str; 16] = [
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "actor_email",
    "action",
    "resource_type",
    "resource_id",
    "matter",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "words",
    "category",
    "severity",
];

fn csv_page(entries: &[StoredAuditEntry], header: bool) -> Result<Bytes, csv::Error> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    if header {
        writer.write_record(CSV_HEADER)?;
    }
    for e in entries {
        let seq = e.seq.to_string();
        let at = e.at.format(&Rfc3339).unwrap_or_default();
        let optional = |v: &Option<String>| v.clone().unwrap_or_default();
        let action = AuditAction::from_name(&e.action);
        let cells = [
            seq,
            at,
            e.actor_kind.clone(),
            optional(&e.actor_id),
            optional(&e.actor_email),
            e.action.clone(),
            optional(&e.resource_type),
            optional(&e.resource_id),
            optional(&e.matter_id),
            e.outcome.clone(),
            optional(&e.ip),
            optional(&e.user_agent),
            optional(&e.request_id),
            words_for(&e.action).to_owned(),
            action.map(|a| a.category().as_str().to_owned()).unwrap_or_default(),
            action.map(|a| a.severity().as_str().to_owned()).unwrap_or_default(),
        ];
        writer.write_record(cells.iter().map(|c| safe_cell(c).into_owned()))?;
    }
    writer.into_inner().map(Bytes::from).map_err(|e| e.into_error().into())
}

/// The filtered log as CSV (RFC 4180), newest first, streamed a page at a time.
pub async fn export_csv(
    actor: Actor,
    client: Client,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let filter = screened_filter(&actor, &query).await?;
    actor.store.flush_audit().await?;
    let mut tx = actor.begin().await?;
    actor.record(&mut tx, &client, AuditAction::AuditExported, Some(("audit_log", "csv".to_owned()))).await?;
    tx.commit().await?;

    // Each page is read on the reader's behalf, so row security fences it as well.
    let reader = actor.clone();
    // (cursor, first page?, finished?)
    let pages = futures_util::stream::try_unfold((None::<i64>, true, false), move |(before, first, done)| {
        let (reader, filter) = (reader.clone(), filter.clone());
        async move {
            if done {
                return Ok::<_, std::io::Error>(None);
            }
            let mut tx = reader.begin_read().await.map_err(std::io::Error::other)?;
            let entries = audit_log::list(&mut tx, &filter, before, EXPORT_PAGE)
                .await
                .map_err(std::io::Error::other)?;
            tx.commit().await.map_err(std::io::Error::other)?;
            let bytes = csv_page(&entries, first).map_err(std::io::Error::other)?;
            let finished = (entries.len() as i64) < EXPORT_PAGE;
            Ok(Some((bytes, (entries.last().map(|e| e.seq), false, finished))))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit-log.csv\""),
        ],
        Body::from_stream(pages),
    )
        .into_response())
}

/// The latest signed checkpoint (signing one for the current head if needed), with the
/// public key that checks it: what a firm keeps to prove later that the log only grew.
pub async fn checkpoint(State(state): State<AppState>, actor: Actor) -> Result<Json<Value>, ApiError> {
    actor.store.flush_audit().await?;
    let mut tx = actor.begin().await?;
    let latest = audit_log::checkpoint_now(&mut tx, state.clock.now()).await?;
    tx.commit().await?;
    let Some(checkpoint) = latest else { return Err(ApiError::not_found()) };
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok(Json(json!({
        "firm": actor.firm,
        "seq": checkpoint.seq,
        "at": checkpoint.at.format(&Rfc3339).map_err(|e| ApiError::internal(&e))?,
        "at_millis": ringfence_core::clock::unix_millis(checkpoint.at),
        "hash": hex(&checkpoint.hash),
        "signature": STANDARD.encode(&checkpoint.signature),
        "key_id": checkpoint.key_id,
        "public_key": STANDARD.encode(&checkpoint.public_key),
        "algorithm": "ed25519",
    })))
}
