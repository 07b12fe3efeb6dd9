//! Matters: opening, reading, changing and closing them, their members and walls. Every use
//! case on one matter takes the [`On`] its route was declared for.

use std::collections::BTreeSet;

use ringfence_core::audit::AuditAction;
use ringfence_core::audit::{Outcome, StoredAuditEntry};
use ringfence_core::ids::{ClientId, MatterId, UserId};
use ringfence_core::local_time::FirmTimeZone;
use ringfence_core::matter::MatterRole;
use ringfence_mail::{Mail, Mailer};
use ringfence_store::firm::access::{
    AccessHistory, Capabilities, Edit, Export, Lifecycle, ManageMembers, ManageWalls, MatterAccess,
    ReadContent, SeesMatter, View,
};
use ringfence_store::firm::documents::{self, Document, Version};
use ringfence_store::firm::exports::{self, ExportScope};
use ringfence_store::firm::legal_holds::{self, StandingHold};
use ringfence_store::firm::matters::{self, Matter};
use ringfence_store::firm::notes::{self, Note};
use ringfence_store::firm::{audit as audit_log, clients, decoys, preferences, users};
use ringfence_store::{FirmTx, Storage};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::{self, On};
use super::legal_holds::refuse_if_held;
use super::{AppError, Ctx};
use crate::audit;

/// A matter as its readers see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MatterView {
    pub id: Uuid,
    /// The firm's number for it, such as `ACME-2026-0001`.
    pub number: String,
    pub title: String,
    pub client_id: Uuid,
    pub description: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    /// Since when a legal hold keeps the matter from deletion, its own or its client's;
    /// `null` when none does.
    #[serde(with = "time::serde::rfc3339::option")]
    pub held_since: Option<OffsetDateTime>,
}

impl From<Matter> for MatterView {
    fn from(matter: Matter) -> Self {
        Self {
            id: matter.id,
            number: matter.number,
            title: matter.title,
            client_id: matter.client_id,
            description: matter.description,
            status: matter.status,
            opened_at: matter.opened_at,
            closed_at: matter.closed_at,
            held_since: matter.held_since,
        }
    }
}

/// The caller's matters.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MatterList {
    pub items: Vec<MatterView>,
    /// Always null: the list is whole.
    pub next_cursor: Option<String>,
}

/// One member of a matter's team.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberView {
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
    #[schema(value_type = crate::openapi::MatterRoleSchema)]
    pub role: MatterRole,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

/// A matter's team.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberView>,
    /// Always null: the list is whole.
    pub next_cursor: Option<String>,
}

/// One matter of the administrators' directory.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DirectoryEntryView {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    pub status: String,
    /// The lead's user id, when the matter has one.
    #[schema(value_type = Option<Uuid>)]
    pub lead: Option<UserId>,
}

/// Every matter an administrator manages memberships on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Directory {
    pub items: Vec<DirectoryEntryView>,
    /// Always null: the list is whole.
    pub next_cursor: Option<String>,
}

/// Who could read a matter at a moment, and who granted it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AccessHistoryView {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub items: Vec<ReaderView>,
}

/// One reader of a matter at a moment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReaderView {
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
    pub email: Option<String>,
    #[schema(value_type = crate::openapi::MatterRoleSchema)]
    pub role: MatterRole,
    #[schema(value_type = Uuid)]
    pub granted_by: UserId,
    pub granted_by_email: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub granted_at: OffsetDateTime,
}

/// A matter to open.
#[derive(Debug, Clone)]
pub struct NewMatter {
    pub title: String,
    pub client: ClientId,
    pub description: Option<String>,
}

/// Changes to a matter's details; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct MatterChanges {
    pub title: Option<String>,
    pub description: Option<String>,
}

fn title(raw: &str) -> Result<String, AppError> {
    let title = raw.trim();
    if title.is_empty() || title.chars().count() > 300 || title.chars().any(char::is_control) {
        return Err(AppError::invalid("title", "1 to 300 characters, no control characters"));
    }
    Ok(title.to_owned())
}

fn description(raw: &str) -> Result<String, AppError> {
    if raw.chars().count() > 20_000 {
        return Err(AppError::invalid("description", "at most 20000 characters"));
    }
    Ok(raw.to_owned())
}

/// A matter role as sent.
pub fn role(raw: &str) -> Result<MatterRole, AppError> {
    raw.parse().map_err(|e: ringfence_core::matter::MatterRoleError| AppError::invalid("role", e.to_string()))
}

/// Opens a matter for a client, numbered with the firm's prefix; its opener leads it.
pub async fn create(ctx: &Ctx, storage: &Storage, input: NewMatter) -> Result<MatterView, AppError> {
    let title = title(&input.title)?;
    let description = input.description.as_deref().map(description).transpose()?;
    let client = input.client.as_uuid();
    let firm = storage.firm_by_id(ctx.actor.firm).await?;
    let prefix = firm.slug.as_str().to_uppercase();
    let now = ctx.now();
    let mut tx = ctx.actor.begin().await?;
    // A client the opener is walled from is not one it can open a matter for.
    let no_such_client = || AppError::invalid("client_id", "no such client");
    if clients::summary_held(&mut tx, client).await?.is_none() {
        return Err(no_such_client());
    }
    if clients::walled_from(&mut tx, client, ctx.actor.user).await? {
        // On the record as a refused access to that client, once this transaction is over.
        drop(tx);
        super::clients::refuse(ctx, ClientId::from(client)).await?;
        return Err(AppError::RefusedInput { field: "client_id", reason: "no such client".to_owned() });
    }
    let (id, number) =
        matters::create(&mut tx, &prefix, &title, client, description.as_deref(), ctx.actor.user, now)
            .await?;
    let mut entry = audit::record(
        ctx.actor.audit_actor(),
        AuditAction::MatterCreated,
        Some(("matter", id.to_string())),
        Outcome::Success,
        &ctx.client,
        now,
    );
    entry.matter_id = Some(id.to_string());
    audit_log::append(&mut tx, &entry).await?;
    // A hold on the client holds every matter opened for it from then on.
    let held_since = legal_holds::standing_on_matter(&mut tx, id).await?.map(|hold| hold.placed_at);
    tx.commit().await?;
    Ok(MatterView {
        id,
        number,
        title,
        client_id: client,
        description,
        status: "open".to_owned(),
        opened_at: now,
        closed_at: None,
        held_since,
    })
}

/// The matters the caller holds a role on and no wall screens it from.
pub async fn list(ctx: &Ctx) -> Result<MatterList, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let mine = matters::list_mine(&mut tx, ctx.actor.user).await?;
    tx.commit().await?;
    Ok(MatterList { items: mine.into_iter().map(MatterView::from).collect(), next_cursor: None })
}

/// One matter, its reading on the record.
pub async fn view(ctx: &Ctx, on: On<View, MatterId>) -> Result<MatterView, AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin_read().await?, on).await?;
    let matter = matters::get(&mut tx, &access).await?;
    access::note_read(tx, ctx, &access, AuditAction::MatterViewed, ("matter", on.id().to_string())).await?;
    Ok(matter.into())
}

/// A document on the matter page, with its earlier versions (newest first).
#[derive(Debug, Clone)]
pub struct PageDocument {
    pub document: Document,
    pub earlier: Vec<Version>,
}

/// A note on the matter page, with its earlier versions (newest first).
#[derive(Debug, Clone)]
pub struct PageNote {
    pub note: Note,
    pub earlier: Vec<notes::EarlierVersion>,
}

/// A member on the matter page, with its address.
#[derive(Debug, Clone)]
pub struct PageMember {
    pub user_id: UserId,
    pub name: Option<String>,
    pub email: String,
    pub role: MatterRole,
}

/// The team, for those who manage it: members, and the addresses of those walled off
/// (by a wall on the matter, then by one on its client).
#[derive(Debug, Clone)]
pub struct PageTeam {
    pub members: Vec<PageMember>,
    pub walled: Vec<String>,
}

/// Everything the matter page shows to its caller, and what the caller may do there.
#[derive(Debug, Clone)]
pub struct MatterPageView {
    pub matter: Matter,
    pub may: Capabilities,
    /// Documents and notes, for those who may read them.
    pub content: Option<(Vec<PageDocument>, Vec<PageNote>)>,
    pub team: Option<PageTeam>,
    /// The matter's own audit trail (latest first), for those who may read its access history.
    pub trail: Option<Vec<StoredAuditEntry>>,
    /// The firm's time zone, which the page shows times in.
    pub time_zone: FirmTimeZone,
    /// The caller's own exports of the matter, for those who may export it.
    pub exports: Option<Vec<super::exports::ExportView>>,
    /// The firm's people by id, as the page names them (in its trail).
    pub names: std::collections::HashMap<String, String>,
}

/// The matter page: the caller's standing is read once, and every part of the page the
/// standing allows is read with the proof it gives.
pub async fn page(ctx: &Ctx, on: On<View, MatterId>) -> Result<MatterPageView, AppError> {
    let (mut tx, view, standing) = access::standing(ctx, ctx.actor.begin_read().await?, on).await?;
    let matter = matters::get(&mut tx, &view).await?;
    let time_zone = preferences::time_zone(&mut tx).await?;
    // Content only for those who may read it: billing sees the matter, not its papers.
    let content = match standing.proof::<ReadContent>() {
        Some(read) => {
            let mut listed = Vec::new();
            for document in documents::list(&mut tx, &read).await? {
                let mut earlier: Vec<_> = documents::versions(&mut tx, &read, document.id)
                    .await?
                    .into_iter()
                    .filter(|v| v.version != document.current.version)
                    .collect();
                earlier.reverse();
                listed.push(PageDocument { document, earlier });
            }
            let mut written = Vec::new();
            for note in notes::list(&mut tx, &read).await? {
                let earlier = if note.version > 1 {
                    notes::history(&mut tx, &read, note.id).await?
                } else {
                    Vec::new()
                };
                written.push(PageNote { note, earlier });
            }
            Some((listed, written))
        }
        None => None,
    };
    let team = match standing.proof::<ManageMembers>() {
        Some(manage) => Some(team(&mut tx, &manage).await?),
        None => None,
    };
    let trail = match standing.proof::<AccessHistory>() {
        Some(history) => Some(audit_log::matter_trail(&mut tx, &history, 50).await?),
        None => None,
    };
    let exports = match standing.proof::<Export>() {
        Some(export) => Some(
            exports::list(&mut tx, ctx.actor.user, ExportScope::Matter(export.matter()))
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        ),
        None => None,
    };
    // People by name: the trail's, the documents' uploaders and the notes' authors.
    let names =
        if trail.is_some() || content.is_some() { users::names(&mut tx).await? } else { Default::default() };
    access::note_read(tx, ctx, &view, AuditAction::MatterViewed, ("matter", on.id().to_string())).await?;
    Ok(MatterPageView {
        matter,
        may: standing.capabilities(),
        content,
        team,
        trail,
        time_zone,
        exports,
        names,
    })
}

async fn email_of(tx: &mut FirmTx, user: UserId) -> Result<Option<String>, AppError> {
    Ok(users::get(tx, user).await?.map(|u| u.email.to_string()))
}

async fn team(tx: &mut FirmTx, manage: &MatterAccess<ManageMembers>) -> Result<PageTeam, AppError> {
    let mut members = Vec::new();
    for member in matters::members(tx, manage).await? {
        let user = users::get(tx, member.user_id).await?;
        let (name, email) = user.map(|u| (u.name, u.email.to_string())).unwrap_or_default();
        members.push(PageMember { user_id: member.user_id, name, email, role: member.role });
    }
    let mut walled = Vec::new();
    for user in matters::walled(tx, manage).await? {
        walled.push(email_of(tx, user).await?.unwrap_or_default());
    }
    for user in matters::walled_by_client(tx, manage).await? {
        walled.push(email_of(tx, user).await?.unwrap_or_default());
    }
    Ok(PageTeam { members, walled })
}

/// Changes a matter's title or description.
pub async fn update(
    ctx: &Ctx,
    on: On<Edit, MatterId>,
    changes: MatterChanges,
) -> Result<MatterView, AppError> {
    let title = changes.title.as_deref().map(title).transpose()?;
    let description = changes.description.as_deref().map(description).transpose()?;
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    matters::update(&mut tx, &access, title.as_deref(), description.as_deref()).await?;
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterChanged, ("matter", on.id().to_string()))
        .await?;
    after_change(tx, &access).await
}

/// Reads the matter back in the transaction that changed it, and commits.
async fn after_change<A: SeesMatter>(
    mut tx: FirmTx,
    access: &MatterAccess<A>,
) -> Result<MatterView, AppError> {
    let matter = matters::get(&mut tx, access).await?;
    tx.commit().await?;
    Ok(matter.into())
}

/// Closes an open matter.
pub async fn close(ctx: &Ctx, on: On<Lifecycle, MatterId>) -> Result<MatterView, AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    if !matters::close(&mut tx, &access, ctx.now()).await? {
        return Err(AppError::conflict("conflict", "the matter is already closed or deleted"));
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterClosed, ("matter", on.id().to_string()))
        .await?;
    after_change(tx, &access).await
}

/// Opens a closed matter again; retention stops running on it.
pub async fn reopen(ctx: &Ctx, on: On<Lifecycle, MatterId>) -> Result<MatterView, AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    if !matters::reopen(&mut tx, &access).await? {
        return Err(AppError::conflict("conflict", "the matter is open already, or deleted"));
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterReopened, ("matter", on.id().to_string()))
        .await?;
    after_change(tx, &access).await
}

/// Deletes a matter softly: it can be restored for the firm's grace period (30 days unless
/// set longer), then it is purged. Not while a legal hold keeps it.
pub async fn delete(ctx: &Ctx, on: On<Lifecycle, MatterId>) -> Result<(), AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    refuse_if_held(&mut tx, access.matter()).await?;
    if !matters::soft_delete(&mut tx, &access, ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterDeleted, ("matter", on.id().to_string()))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Brings a deleted matter back within its grace period.
pub async fn restore(ctx: &Ctx, on: On<Lifecycle, MatterId>) -> Result<MatterView, AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    super::deletion::restored(Some(matters::restore(&mut tx, &access, ctx.now()).await?))?;
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterRestored, ("matter", on.id().to_string()))
        .await?;
    after_change(tx, &access).await
}

/// The matter's team.
pub async fn members(ctx: &Ctx, on: On<ManageMembers, MatterId>) -> Result<MemberList, AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin_read().await?, on).await?;
    let list = matters::members(&mut tx, &access).await?;
    tx.commit().await?;
    let items = list
        .into_iter()
        .map(|m| MemberView { user_id: m.user_id, role: m.role, granted_at: m.granted_at })
        .collect();
    Ok(MemberList { items, next_cursor: None })
}

/// A user of the firm, checked after the matter's access check so that an unknown user
/// tells nothing to someone who may not manage the matter.
async fn firm_user(tx: &mut FirmTx, user: UserId) -> Result<users::User, AppError> {
    users::get(tx, user).await?.ok_or_else(|| AppError::invalid("user_id", "no such user in this firm"))
}

/// Gives `user` `role` on the matter (or changes the role it has). A matter keeps at least
/// one lead; an administrator giving itself a role is told to the matter's leads.
pub async fn set_member(
    ctx: &Ctx,
    mailer: &Mailer,
    on: On<ManageMembers, MatterId>,
    user: UserId,
    role: MatterRole,
) -> Result<(), AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    let user = firm_user(&mut tx, user).await?;
    let previous = matters::unscreened_members(&mut tx, &access).await?;
    matters::set_member(&mut tx, &access, user.id, role, ctx.now()).await?;
    if matters::count_leads(&mut tx, &access).await? == 0 {
        return Err(AppError::conflict("last_lead", "a matter keeps at least one lead"));
    }
    // Only a lead manages members through its matter role; anyone else changing its own
    // role (adding one, or billing or viewer becoming lead) does so through the firm's
    // administrator role, and that is a self-grant whatever it held before.
    let self_grant = user.id == ctx.actor.user && access.role() != Some(MatterRole::Lead);
    let action = if self_grant { AuditAction::MatterRoleSelfGranted } else { AuditAction::MatterRoleGranted };
    access::note_done(&mut tx, ctx, &access, action, ("user", format!("{}#{role}", user.id))).await?;
    tx.commit().await?;
    if self_grant {
        notify_leads(ctx, mailer, &previous, on.id()).await?;
    }
    Ok(())
}

/// Tells a matter's leads (those no wall screens from it) that an administrator gave
/// itself a role on it.
async fn notify_leads(
    ctx: &Ctx,
    mailer: &Mailer,
    members: &[matters::Member],
    matter: MatterId,
) -> Result<(), AppError> {
    let mut tx = ctx.actor.begin().await?;
    // A decoy leads a decoy matter, and is never mailed: nobody reads its mail.
    let decoys = decoys::tripwire_set(&mut tx).await?;
    let mut leads = Vec::new();
    for member in members.iter().filter(|m| m.role == MatterRole::Lead && m.user_id != ctx.actor.user) {
        if decoys.contains(&member.user_id.to_string()) {
            continue;
        }
        if let Some(lead) = users::get(&mut tx, member.user_id).await? {
            leads.push(lead);
        }
    }
    tx.commit().await?;
    for lead in leads {
        let body = format!(
            "Dear {},\n\nThe firm administrator {} ({}) gave themselves a role on a matter you lead \
             (id {matter}).\nThis is recorded in the matter's audit trail.\n",
            lead.display_name(),
            ctx.actor.display_name(),
            ctx.actor.email
        );
        mailer
            .send(Mail {
                to: lead.email.as_str(),
                to_name: lead.name.as_deref(),
                subject: "Ringfence: an administrator joined your matter",
                body,
            })
            .await?;
    }
    Ok(())
}

/// Takes `user` off the matter's team; a matter keeps at least one lead.
pub async fn remove_member(ctx: &Ctx, on: On<ManageMembers, MatterId>, user: UserId) -> Result<(), AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    let user = firm_user(&mut tx, user).await?;
    if !matters::remove_member(&mut tx, &access, user.id, ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    if matters::count_leads(&mut tx, &access).await? == 0 {
        return Err(AppError::conflict("last_lead", "a matter keeps at least one lead"));
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterRoleRevoked, ("user", user.id.to_string()))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Screens `user` from the matter by an ethical wall, and tells the team and the user.
pub async fn place_wall(
    ctx: &Ctx,
    mailer: &Mailer,
    on: On<ManageWalls, MatterId>,
    user: UserId,
) -> Result<(), AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    let user = firm_user(&mut tx, user).await?;
    // Whom to tell, read before the wall stands: only members no wall screens (a screened
    // member must not learn the matter's number from a notice), and not the user walled.
    let mut team = Vec::new();
    for member in matters::unscreened_members(&mut tx, &access).await?.iter().filter(|m| m.user_id != user.id)
    {
        if let Some(colleague) = users::get(&mut tx, member.user_id).await? {
            team.push(colleague);
        }
    }
    let number = matters::number(&mut tx, &access).await?;
    if !matters::place_wall(&mut tx, &access, user.id, ctx.now()).await? {
        // Already walled: nothing changes, and no one is told again.
        tx.commit().await?;
        return Ok(());
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterWallPlaced, ("user", user.id.to_string()))
        .await?;
    let decoys = decoys::tripwire_set(&mut tx).await?;
    tx.commit().await?;
    let notices: Vec<(users::User, String)> =
        team.into_iter().map(|colleague| (colleague, number.clone())).collect();
    tell_of_wall(mailer, &notices, &user, Screened::Matter, &decoys).await
}

/// What a new wall screens someone from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Screened {
    Matter,
    Client,
}

/// Tells each matter's team (colleague, matter number) who is now screened, so that no one
/// discusses the matter with them, and the screened user only that a wall exists, never
/// on what. A decoy (among `decoys`) is told nothing: nobody reads its mail.
pub(crate) async fn tell_of_wall(
    mailer: &Mailer,
    notices: &[(users::User, String)],
    screened: &users::User,
    from: Screened,
    decoys: &BTreeSet<String>,
) -> Result<(), AppError> {
    let real = |user: &users::User| !decoys.contains(&user.id.to_string());
    let (reach, told) = match from {
        Screened::Matter => {
            ("", "a matter in your firm's Ringfence. You will not see it, and should not discuss it")
        }
        Screened::Client => (
            " (and every matter of its client)",
            "a client of your firm and all its matters. You will not see them, and should not discuss them",
        ),
    };
    let who = match &screened.name {
        Some(name) => format!("{name} ({})", screened.email),
        None => screened.email.to_string(),
    };
    for (colleague, number) in notices.iter().filter(|(colleague, _)| real(colleague)) {
        let body = format!(
            "Dear {},\n\n{who} is now screened from matter {number}{reach} by an ethical wall. Do not \
             discuss the matter with them or share its documents.\n",
            colleague.display_name()
        );
        mailer
            .send(Mail {
                to: colleague.email.as_str(),
                to_name: colleague.name.as_deref(),
                subject: "Ringfence: an ethical wall on your matter",
                body,
            })
            .await?;
    }
    if !real(screened) {
        return Ok(());
    }
    let body = format!("Dear {},\n\nAn ethical wall now screens you from {told}.\n", screened.display_name());
    mailer
        .send(Mail {
            to: screened.email.as_str(),
            to_name: screened.name.as_deref(),
            subject: "Ringfence: an ethical wall applies to you",
            body,
        })
        .await?;
    Ok(())
}

/// Lifts the wall screening `user` from the matter.
pub async fn remove_wall(ctx: &Ctx, on: On<ManageWalls, MatterId>, user: UserId) -> Result<(), AppError> {
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin().await?, on).await?;
    let user = firm_user(&mut tx, user).await?;
    if !matters::remove_wall(&mut tx, &access, user.id, ctx.now()).await? {
        return Err(AppError::NotFound);
    }
    access::note_done(&mut tx, ctx, &access, AuditAction::MatterWallRemoved, ("user", user.id.to_string()))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A directory entry with its lead's address, for the administrators' pages.
#[derive(Debug, Clone)]
pub struct DirectoryRow {
    pub entry: DirectoryEntryView,
    pub lead_email: Option<String>,
}

/// Every matter's number, title, status and lead, for administrators managing memberships,
/// leaving out any matter a wall screens the administrator from. The read is recorded.
pub async fn directory(ctx: &Ctx) -> Result<Vec<DirectoryRow>, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let entries = matters::directory(&mut tx, ctx.actor.user).await?;
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let lead_email = match entry.lead {
            Some(lead) => email_of(&mut tx, lead).await?,
            None => None,
        };
        let entry = DirectoryEntryView {
            id: entry.id,
            number: entry.number,
            title: entry.title,
            status: entry.status,
            lead: entry.lead,
        };
        rows.push(DirectoryRow { entry, lead_email });
    }
    tx.commit().await?;
    let entry = audit::record(
        ctx.actor.audit_actor(),
        AuditAction::MatterDirectoryViewed,
        None,
        Outcome::Success,
        &ctx.client,
        ctx.now(),
    );
    ctx.actor.store.append_audit(entry).await?;
    Ok(rows)
}

/// One matter for an administrator: who holds which role, who is walled off (user id and
/// address), and the legal hold standing on it. No content.
#[derive(Debug, Clone)]
pub struct DirectoryEntryPage {
    pub id: Uuid,
    pub number: String,
    pub title: String,
    /// (address, role)
    pub members: Vec<(String, MatterRole)>,
    /// (user, address)
    pub walled: Vec<(UserId, String)>,
    pub legal_hold: Option<StandingHold>,
}

/// One matter of the directory, for those who manage its walls.
pub async fn directory_entry(
    ctx: &Ctx,
    on: On<ManageWalls, MatterId>,
) -> Result<DirectoryEntryPage, AppError> {
    let (mut tx, walls) = access::matter(ctx, ctx.actor.begin_read().await?, on).await?;
    let entry = matters::directory_entry(&mut tx, &walls).await?;
    let mut members = Vec::new();
    for member in matters::members(&mut tx, &walls).await? {
        members.push((email_of(&mut tx, member.user_id).await?.unwrap_or_default(), member.role));
    }
    let mut walled = Vec::new();
    for user in matters::walled(&mut tx, &walls).await? {
        walled.push((user, email_of(&mut tx, user).await?.unwrap_or_default()));
    }
    let legal_hold = legal_holds::standing_on_matter(&mut tx, walls.matter()).await?;
    tx.commit().await?;
    Ok(DirectoryEntryPage {
        id: entry.id,
        number: entry.number,
        title: entry.title,
        members,
        walled,
        legal_hold,
    })
}

/// Who could read the matter at `at` (now by default), and who granted it: the report
/// firms hand to clients and regulators.
pub async fn access_history(
    ctx: &Ctx,
    on: On<AccessHistory, MatterId>,
    at: Option<OffsetDateTime>,
) -> Result<AccessHistoryView, AppError> {
    let at = at.unwrap_or_else(|| ctx.now());
    let (mut tx, access) = access::matter(ctx, ctx.actor.begin_read().await?, on).await?;
    let readers = matters::readers_at(&mut tx, &access, at).await?;
    let mut items = Vec::with_capacity(readers.len());
    for reader in readers {
        items.push(ReaderView {
            user_id: reader.user_id,
            email: email_of(&mut tx, reader.user_id).await?,
            role: reader.role,
            granted_by: reader.granted_by,
            granted_by_email: email_of(&mut tx, reader.granted_by).await?,
            granted_at: reader.granted_at,
        });
    }
    access::note_read(
        tx,
        ctx,
        &access,
        AuditAction::MatterAccessHistoryViewed,
        ("matter", on.id().to_string()),
    )
    .await?;
    Ok(AccessHistoryView { at, items })
}
