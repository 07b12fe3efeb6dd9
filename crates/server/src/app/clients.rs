//! Clients: persons and organisations. Every signed-in user sees a client's name and kind
//! (conflict checks need them); its identity number (sealed at rest) and contact details
//! are read and changed only through the access check in `ringfence_store::firm::access`:
//! a role on one of the client's matters, or having taken the client in before its first
//! matter. A wall on the client overrides both. Refusals are concealed, as for matters,
//! and every read of a client record is recorded.

use std::collections::BTreeSet;

use ringfence_core::audit::AuditAction;
use ringfence_core::audit::Outcome;
use ringfence_core::ids::{ClientId, UserId};
use ringfence_core::user::{Email, FirmRole};
use ringfence_mail::Mailer;
use ringfence_store::FirmTx;
use ringfence_store::firm::access::{self, ClientDetails, EditDetails, ManageWalls, ReadDetails};
use ringfence_store::firm::clients::{self, Client as ClientRecord, ClientFields, ClientSummary};
use ringfence_store::firm::{decoys, matters, users};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::matters::{Screened, tell_of_wall};
use super::{AppError, Ctx};
use crate::audit;

/// A client's particulars as sent to take it in or to change them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    /// 1 to 200 characters.
    pub name: String,
    /// `person` or `organisation`.
    pub kind: String,
    pub email: Option<String>,
    /// Digits, spaces and `+ - ( )`, 6 to 32 characters.
    pub phone: Option<String>,
    /// A postal or street address: up to 10 lines, 500 characters in all. Left out of a
    /// change, the stored one stays; empty, it is removed.
    pub address: Option<String>,
    /// The identity or registration number, sealed at rest; 1 to 64 characters.
    pub id_number: Option<String>,
}

/// [`ClientInput`] once every field is checked.
struct Valid {
    name: String,
    kind: String,
    email: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    id_number: Option<String>,
}

impl Valid {
    fn fields(&self) -> ClientFields<'_> {
        ClientFields {
            kind: &self.kind,
            name: &self.name,
            email: self.email.as_deref(),
            phone: self.phone.as_deref(),
            address: self.address.as_deref(),
            id_number: self.id_number.as_deref(),
        }
    }
}

/// A line of text: trimmed, 1 to `max` characters, no control characters.
pub(super) fn text(field: &'static str, value: &str, max: usize) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(AppError::invalid(field, format!("1 to {max} characters, no control characters")));
    }
    Ok(value.to_owned())
}

/// A client's name, as every form and request takes it.
pub(super) fn client_name(raw: &str) -> Result<String, AppError> {
    text("name", raw, 200)
}

/// An email address, in the form it is kept.
pub(super) fn email(field: &'static str, raw: &str) -> Result<String, AppError> {
    Email::parse(raw).map(|e| e.to_string()).map_err(|e| AppError::invalid(field, e.to_string()))
}

/// A phone number: digits, spaces and `+ - ( )`.
pub(super) fn phone(raw: String) -> Result<String, AppError> {
    let ok = raw.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) && (6..=32).contains(&raw.len());
    if ok {
        Ok(raw)
    } else {
        Err(AppError::invalid("phone", "digits, spaces and + - ( ), 6 to 32 characters"))
    }
}

/// A postal or street address: lines of text (line breaks kept as `\n`, blank lines and
/// the spaces around each line dropped), no other control characters.
pub(super) fn address(raw: String) -> Result<String, AppError> {
    let lines: Vec<&str> = raw.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let address = lines.join("\n");
    let clean = !address.chars().any(|c| c.is_control() && c != '\n');
    if clean && (1..=10).contains(&lines.len()) && address.chars().count() <= 500 {
        Ok(address)
    } else {
        Err(AppError::invalid("address", "1 to 10 lines, 500 characters in all, no control characters"))
    }
}

/// An identity or registration number.
pub(super) fn id_number(raw: &str) -> Result<String, AppError> {
    text("id_number", raw, 64)
}

fn validate(input: ClientInput) -> Result<Valid, AppError> {
    if !matches!(input.kind.as_str(), "person" | "organisation") {
        return Err(AppError::invalid("kind", "person or organisation"));
    }
    let email = input.email.map(|e| email("email", &e)).transpose()?;
    let phone = input.phone.map(phone).transpose()?;
    Ok(Valid {
        name: client_name(&input.name)?,
        kind: input.kind,
        email,
        phone,
        address: input.address.filter(|a| !a.trim().is_empty()).map(address).transpose()?,
        id_number: input.id_number.map(|n| id_number(&n)).transpose()?,
    })
}

/// A client as everyone sees it: name and kind.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ClientSummary)]
pub struct ClientSummaryView {
    pub id: Uuid,
    pub name: String,
    /// `person` or `organisation`.
    pub kind: String,
}

impl From<ClientSummary> for ClientSummaryView {
    fn from(client: ClientSummary) -> Self {
        Self { id: client.id, name: client.name, kind: client.kind }
    }
}

/// A client with its details, for those the client access check allows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Client)]
pub struct ClientView {
    pub id: Uuid,
    pub name: String,
    /// `person` or `organisation`.
    pub kind: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Lines separated by `\n`.
    pub address: Option<String>,
    pub id_number: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<ClientRecord> for ClientView {
    fn from(client: ClientRecord) -> Self {
        Self {
            id: client.id,
            name: client.name,
            kind: client.kind,
            email: client.email,
            phone: client.phone,
            address: client.address,
            id_number: client.id_number,
            created_at: client.created_at,
        }
    }
}

/// What the caller may see of one client.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ClientShown {
    /// The access check allows its details.
    Details(ClientView),
    /// Its name and kind only.
    Summary(ClientSummaryView),
}

/// Every client, by name and kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientList {
    pub items: Vec<ClientSummaryView>,
    /// Always null: the whole list comes at once.
    pub next_cursor: Option<String>,
}

/// Takes a client in. The one who took it in keeps its details until a matter is opened
/// for it.
pub async fn create(ctx: &Ctx, input: ClientInput) -> Result<ClientView, AppError> {
    let valid = validate(input)?;
    let mut tx = ctx.actor.begin().await?;
    let id = clients::create(&mut tx, &valid.fields(), ctx.actor.user, ctx.now()).await?;
    ctx.record(&mut tx, AuditAction::ClientCreated, Some(("client", id.to_string()))).await?;
    let access =
        access::check_client::<ReadDetails>(&mut tx, ctx.actor.user, id).await?.ok_or(AppError::NotFound)?;
    let created = clients::details(&mut tx, &access).await?;
    tx.commit().await?;
    Ok(created.into())
}

/// Every client's name and kind: no personal details in a list. A decoy's client shows only
/// to administrators (in their directory, where it looks like any other): everyone else's
/// list is of the clients they might work for.
pub async fn list(ctx: &Ctx) -> Result<ClientList, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let all = clients::list(&mut tx).await?;
    let hidden = if ctx.actor.roles.contains(&FirmRole::Admin) {
        BTreeSet::new()
    } else {
        decoys::tripwire_set(&mut tx).await?
    };
    tx.commit().await?;
    let items = all.into_iter().filter(|c| !hidden.contains(&c.id.to_string())).map(Into::into).collect();
    Ok(ClientList { items, next_cursor: None })
}

/// Records a refused use of a client's record, once the request holds no transaction (the
/// log's writer must not wait for one), and gives the concealed answer. Opening a matter
/// for a client the opener is walled from is refused this way too.
pub async fn refuse(ctx: &Ctx, client: ClientId) -> Result<AppError, AppError> {
    let entry = audit::record(
        ctx.actor.audit_actor(),
        AuditAction::ClientAccessDenied,
        Some(("client", client.to_string())),
        Outcome::Denied,
        &ctx.client,
        ctx.now(),
    );
    ctx.actor.store.append_audit(entry).await?;
    Ok(AppError::Concealed)
}

/// One client: its details when the access check allows, its name and kind otherwise.
/// The read is recorded (ids only).
pub async fn view(ctx: &Ctx, id: ClientId) -> Result<ClientShown, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let Some(summary) = clients::summary(&mut tx, id.as_uuid()).await? else {
        tx.commit().await?;
        return Err(refuse(ctx, id).await?);
    };
    let details = match access::check_client::<ReadDetails>(&mut tx, ctx.actor.user, id.as_uuid()).await? {
        Some(access) => Some(clients::details(&mut tx, &access).await?),
        None => None,
    };
    ctx.record_read(tx, AuditAction::ClientViewed, Some(("client", id.to_string()))).await?;
    Ok(match details {
        Some(details) => ClientShown::Details(details.into()),
        None => ClientShown::Summary(summary.into()),
    })
}

/// Whether the caller may change the client's details (for the page's form).
pub async fn may_edit(ctx: &Ctx, id: ClientId) -> Result<bool, AppError> {
    allowed::<EditDetails>(ctx, id).await
}

async fn allowed<A: ClientDetails>(ctx: &Ctx, id: ClientId) -> Result<bool, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let allowed = access::check_client::<A>(&mut tx, ctx.actor.user, id.as_uuid()).await?.is_some();
    tx.commit().await?;
    Ok(allowed)
}

/// Changes a client's details; blank optional fields are cleared, and an address left out
/// (a caller that predates it) is kept.
pub async fn update(ctx: &Ctx, id: ClientId, input: ClientInput) -> Result<ClientView, AppError> {
    let keep_address = input.address.is_none();
    let mut valid = validate(input)?;
    let mut tx = ctx.actor.begin().await?;
    let Some(access) = access::check_client::<EditDetails>(&mut tx, ctx.actor.user, id.as_uuid()).await?
    else {
        tx.commit().await?;
        return Err(refuse(ctx, id).await?);
    };
    if keep_address {
        valid.address = clients::details(&mut tx, &access).await?.address;
    }
    if !clients::update(&mut tx, &access, &valid.fields()).await? {
        return Err(AppError::NotFound);
    }
    ctx.record(&mut tx, AuditAction::ClientChanged, Some(("client", id.to_string()))).await?;
    let updated = clients::details(&mut tx, &access).await?;
    tx.commit().await?;
    Ok(updated.into())
}

/// The client an administrator's route names (its walls, its legal hold), for an
/// administrator no wall screens from it: one walled off a client cannot see or change
/// either. The refusal is recorded once `tx` has ended: the log's writer must not wait for it.
pub(super) async fn admin_target(
    ctx: &Ctx,
    mut tx: FirmTx,
    id: ClientId,
) -> Result<(FirmTx, ClientSummary), AppError> {
    let summary = if clients::walled_from(&mut tx, id.as_uuid(), ctx.actor.user).await? {
        None
    } else {
        clients::summary(&mut tx, id.as_uuid()).await?
    };
    let Some(summary) = summary else {
        drop(tx);
        return Err(refuse(ctx, id).await?);
    };
    Ok((tx, summary))
}

/// The client and user named in a wall route (see [`admin_target`]).
async fn wall_target(
    ctx: &Ctx,
    tx: FirmTx,
    id: ClientId,
    user: UserId,
) -> Result<(FirmTx, ClientSummary, users::User), AppError> {
    let (mut tx, summary) = admin_target(ctx, tx, id).await?;
    let user = users::get(&mut tx, user)
        .await?
        .ok_or_else(|| AppError::invalid("user_id", "no such user in this firm"))?;
    Ok((tx, summary, user))
}

/// Screens a user from a client and every one of its matters, those opened later
/// included. When the wall is new, the teams of its matters are told who is screened, the
/// user only that a wall exists.
pub async fn place_wall(ctx: &Ctx, mailer: &Mailer, id: ClientId, user: UserId) -> Result<(), AppError> {
    let (mut tx, summary, user) = wall_target(ctx, ctx.actor.begin().await?, id, user).await?;
    // Whom to tell, read before the wall stands: the unscreened members of each matter.
    let mut colleagues: Vec<(users::User, String)> = Vec::new();
    for matter in clients::matters_of(&mut tx, summary.id, ctx.actor.user).await? {
        let Some(team) =
            access::check::<ManageWalls>(&mut tx, ctx.actor.user, &ctx.actor.roles, matter).await?
        else {
            continue;
        };
        let number = matters::number(&mut tx, &team).await?;
        for member in matters::unscreened_members(&mut tx, &team).await? {
            if member.user_id == user.id {
                continue;
            }
            if let Some(colleague) = users::get(&mut tx, member.user_id).await? {
                colleagues.push((colleague, number.clone()));
            }
        }
    }
    if !clients::place_wall(&mut tx, summary.id, user.id, ctx.actor.user, ctx.now()).await? {
        tx.commit().await?;
        return Ok(());
    }
    ctx.record(
        &mut tx,
        AuditAction::ClientWallPlaced,
        Some(("client_wall", format!("{}#{}", summary.id, user.id))),
    )
    .await?;
    let decoys = decoys::tripwire_set(&mut tx).await?;
    tx.commit().await?;
    tell_of_wall(mailer, &colleagues, &user, Screened::Client, &decoys).await
}

/// Lifts a wall on a client; it stays on record for access history.
pub async fn lift_wall(ctx: &Ctx, id: ClientId, user: UserId) -> Result<(), AppError> {
    let (mut tx, summary, user) = wall_target(ctx, ctx.actor.begin().await?, id, user).await?;
    if !clients::lift_wall(&mut tx, summary.id, user.id, ctx.actor.user, ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    ctx.record(
        &mut tx,
        AuditAction::ClientWallRemoved,
        Some(("client_wall", format!("{}#{}", summary.id, user.id))),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::address;

    #[test]
    fn an_address_keeps_its_lines_and_refuses_control_characters() {
        assert_eq!(
            address(" 1 Dock Road \r\n\r\n Cape Town 8001 ".to_owned()).unwrap(),
            "1 Dock Road\nCape Town 8001"
        );
        let too_long = "x".repeat(501);
        let too_many_lines = "line\n".repeat(11);
        for bad in ["", " \n ", "a\u{0}b", "a\u{1b}[31mb", too_long.as_str(), too_many_lines.as_str()] {
            assert!(address(bad.to_owned()).is_err(), "{bad:?}");
        }
    }
}
