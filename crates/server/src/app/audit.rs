//! Reading the audit log: auditors and admins only. Filters by user, matter, action prefix,
//! outcome and time; newest first with a cursor; an export read page by page, so memory
//! stays flat whatever the log's size; and the latest signed checkpoint with its public key.
//! The reader's walls bind its reading of the log, and every reading is on the record.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::Stream;
use ringfence_core::audit::{AuditAction, Outcome, StoredAuditEntry, words_for};
use ringfence_core::ids::{FirmId, parse_id};
use ringfence_store::firm::audit::{self as audit_log, AuditFilter};
use ringfence_store::firm::{clients, users};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AppError, Ctx};

/// Rows read per page of an export.
const EXPORT_PAGE: i64 = 1000;

/// The log's filters as asked; every one optional.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries by this user (an id).
    pub user: Option<String>,
    /// Entries about this matter (an id): 404 if the reader may not review it.
    pub matter: Option<String>,
    /// A prefix of the dotted action name: `auth.` matches every sign-in event.
    pub action: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: Option<String>,
    /// Entries at or after this RFC 3339 time.
    pub from: Option<String>,
    /// Entries at or before this RFC 3339 time.
    pub to: Option<String>,
    /// 1 to 500; 50 when not given (not used by the export).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (not used by the export).
    pub cursor: Option<String>,
}

fn time_param(name: &'static str, value: Option<&str>) -> Result<Option<OffsetDateTime>, AppError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
                AppError::invalid(name, "expected an RFC 3339 time such as 2026-11-23T09:00:00Z")
            })
        })
        .transpose()
}

/// The filter as the caller may apply it: entries on matters and clients a wall screens
/// the reader from are left out, and asking for such a matter (or one that does not
/// exist) by name answers not found, as the matter itself does.
async fn screened_filter(ctx: &Ctx, query: &AuditQuery) -> Result<AuditFilter, AppError> {
    let mut filter = filter(query)?;
    filter.screened = Some(ctx.actor.store.screens_of(ctx.actor.user).await?);
    if let Some(matter) = filter.matter.as_deref() {
        let mut tx = ctx.actor.begin_read().await?;
        let reviewable = audit_log::reviewable_matter(&mut tx, ctx.actor.user, matter).await?;
        tx.commit().await?;
        if !reviewable {
            return Err(AppError::NotFound);
        }
    }
    Ok(filter)
}

fn filter(query: &AuditQuery) -> Result<AuditFilter, AppError> {
    if let Some(outcome) = &query.outcome
        && Outcome::parse(outcome).is_none()
    {
        return Err(AppError::invalid("outcome", "one of success, denied, failure"));
    }
    let id = |name: &'static str, value: &Option<String>| {
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| {
                parse_id(v).map(|id| id.to_string()).ok_or_else(|| {
                    AppError::invalid(name, "expected an id such as 0b6a4f4e-8c1d-4d2e-9f3a-1b2c3d4e5f60")
                })
            })
            .transpose()
    };
    // A value no recorded action's name begins with would match nothing, silently.
    if let Some(action) = &query.action
        && !AuditAction::is_name_prefix(action)
    {
        return Err(AppError::invalid(
            "action",
            "the name of an action, or its beginning, such as auth. or document.downloaded",
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

/// Who did it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AuditActor)]
pub struct AuditActorView {
    /// `user`, `anonymous` or `system`.
    pub kind: String,
    pub id: Option<String>,
    pub email: Option<String>,
}

/// What it was done to.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AuditResource)]
pub struct AuditResourceView {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
}

/// One entry of the log.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub struct AuditEntryView {
    /// The entry's sequence number, as a string.
    pub id: String,
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: AuditActorView,
    /// The dotted action name, such as `matter.viewed`.
    pub action: String,
    pub resource: AuditResourceView,
    /// The matter the entry is about.
    pub matter: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl From<StoredAuditEntry> for AuditEntryView {
    fn from(entry: StoredAuditEntry) -> Self {
        Self {
            id: entry.seq.to_string(),
            seq: entry.seq,
            at: entry.at,
            actor: AuditActorView { kind: entry.actor_kind, id: entry.actor_id, email: entry.actor_email },
            action: entry.action,
            resource: AuditResourceView { kind: entry.resource_type, id: entry.resource_id },
            matter: entry.matter_id,
            outcome: entry.outcome,
            ip: entry.ip,
            user_agent: entry.user_agent,
            request_id: entry.request_id,
        }
    }
}

/// Whom and what the log's entries name, as its reader may see them: the firm's people by
/// name, the matters no wall screens the reader from by number, and clients by name
/// (which every signed-in user sees). Titles and document names are matter content, which
/// the log's readers see only through a matter role, so entries never name them.
pub struct LogNames {
    /// (id, name, email), by name.
    pub people: Vec<(String, String, String)>,
    /// (id, number), by number.
    pub matters: Vec<(String, String)>,
    /// id → name.
    pub clients: std::collections::HashMap<String, String>,
}

pub async fn names(ctx: &Ctx) -> Result<LogNames, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let mut people: Vec<(String, String, String)> = users::list(&mut tx)
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.display_name(), u.email.to_string()))
        .collect();
    people.sort_by_key(|(_, name, _)| name.to_lowercase());
    let matters = audit_log::reviewable_matters(&mut tx, ctx.actor.user).await?;
    let clients = clients::list(&mut tx).await?.into_iter().map(|c| (c.id.to_string(), c.name)).collect();
    tx.commit().await?;
    Ok(LogNames { people, matters, clients })
}

/// A page of the log, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEntries {
    pub items: Vec<AuditEntryView>,
    /// The cursor for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A page of the filtered log, newest first. The reading is itself on the record: who
/// looked, at whose entries, on which matter.
pub async fn list(ctx: &Ctx, query: &AuditQuery) -> Result<AuditEntries, AppError> {
    let filter = screened_filter(ctx, query).await?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid("limit", "1 to 500"));
    }
    let before = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| AppError::invalid("cursor", "use next_cursor from the previous page"))
        })
        .transpose()?;
    // Entries queued for writing (a failed sign-in's) are in what is read.
    ctx.actor.store.flush_audit().await?;
    let mut tx = ctx.actor.begin_read().await?;
    let entries = audit_log::list(&mut tx, &filter, before, limit).await?;
    // The entry's matter is the one looked at, so walls screen it like any other.
    let looked_at = filter.user.clone().unwrap_or_default();
    let mut entry = crate::audit::record(
        ctx.actor.audit_actor(),
        AuditAction::AuditViewed,
        Some(("audit_log", looked_at)),
        Outcome::Success,
        &ctx.client,
        ctx.now(),
    );
    entry.matter_id = filter.matter.clone();
    tx.commit().await?;
    ctx.actor.store.append_audit(entry).await?;
    let next_cursor =
        (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.seq.to_string())).flatten();
    Ok(AuditEntries { items: entries.into_iter().map(Into::into).collect(), next_cursor })
}

/// The filtered log, newest first, as a stream of pages read one at a time, each on the
/// reader's behalf so row security fences it as well. The export is recorded before the
/// first page is read.
pub async fn export(
    ctx: &Ctx,
    query: &AuditQuery,
) -> Result<impl Stream<Item = Result<Vec<StoredAuditEntry>, AppError>> + Send + 'static, AppError> {
    let filter = screened_filter(ctx, query).await?;
    ctx.actor.store.flush_audit().await?;
    let mut tx = ctx.actor.begin().await?;
    ctx.record(&mut tx, AuditAction::AuditExported, Some(("audit_log", "csv".to_owned()))).await?;
    tx.commit().await?;
    let reader = ctx.actor.clone();
    // (cursor, finished?)
    Ok(futures_util::stream::try_unfold((None::<i64>, false), move |(before, done)| {
        let (reader, filter) = (reader.clone(), filter.clone());
        async move {
            if done {
                return Ok(None);
            }
            let mut tx = reader.begin_read().await?;
            let entries = audit_log::list(&mut tx, &filter, before, EXPORT_PAGE).await?;
            tx.commit().await?;
            let finished = (entries.len() as i64) < EXPORT_PAGE;
            let next = (entries.last().map(|e| e.seq), finished);
            Ok(Some((entries, next)))
        }
    }))
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

/// A page of entries as CSV rows (RFC 4180), after the header row when `header`: what the
/// CSV export streams, and what a full export holds.
pub fn csv_page(entries: &[StoredAuditEntry], header: bool) -> Result<Vec<u8>, csv::Error> {
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
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// A signed checkpoint of the log, with the public key that checks it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AuditCheckpoint)]
pub struct CheckpointView {
    #[schema(value_type = String, format = Uuid)]
    pub firm: FirmId,
    /// The sequence number of the last entry it covers.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub at_millis: i64,
    /// The chain's hash at `seq`, in hex.
    pub hash: String,
    /// The signature, in base64.
    pub signature: String,
    pub key_id: String,
    /// The public key, in base64.
    pub public_key: String,
    /// Always `ed25519`.
    pub algorithm: &'static str,
}

/// The latest signed checkpoint (signing one for the current head if needed), with the
/// public key that checks it: what a firm keeps to prove later that the log only grew.
pub async fn checkpoint(ctx: &Ctx) -> Result<CheckpointView, AppError> {
    ctx.actor.store.flush_audit().await?;
    let mut tx = ctx.actor.begin().await?;
    let latest = audit_log::checkpoint_now(&mut tx, ctx.now()).await?;
    tx.commit().await?;
    let checkpoint = latest.ok_or(AppError::NotFound)?;
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Ok(CheckpointView {
        // The id the chain and its signatures are bound to (a copy's original's).
        firm: ctx.actor.store.sealed_as(),
        seq: checkpoint.seq,
        at: checkpoint.at,
        at_millis: ringfence_core::clock::unix_millis(checkpoint.at),
        hash: hex(&checkpoint.hash),
        signature: STANDARD.encode(&checkpoint.signature),
        key_id: checkpoint.key_id,
        public_key: STANDARD.encode(&checkpoint.public_key),
        algorithm: "ed25519",
    })
}
