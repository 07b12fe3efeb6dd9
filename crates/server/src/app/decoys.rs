//! Decoys (honeytokens), planted by administrators and audit officers: a user account, a
//! client with a matter whose notes and documents read like real work, and a session token
//! to leave where an attacker looks. They look like the firm's own data to anyone browsing
//! beyond their rights (the admin directory, an operator's counts, a copy of the database),
//! never show in anyone's own lists, and nobody has a reason to touch them: the watcher
//! (`super::incidents`) raises an alert and an incident when anyone does.
//!
//! Planting is recorded as the planting of a decoy, naming the decoy and never the records
//! it made: the log does not tell an attacker which records they are either.

use std::collections::BTreeSet;

use ringfence_core::audit::{AuditAction, Outcome};
use ringfence_core::document::Scan;
use ringfence_core::ids::UserId;
use ringfence_core::user::{Email, FirmRole};
use ringfence_crypto::token::{self, SecretToken, TokenHash};
use ringfence_store::firm::access::{self as store_access, WriteContent};
use ringfence_store::firm::audit as audit_log;
use ringfence_store::firm::decoys::{self, Decoy, DecoyKind, DecoyUser, Planting};
use ringfence_store::firm::documents::{self, Upload};
use ringfence_store::firm::users::{self, NewUser, UserStatus};
use ringfence_store::firm::{clients, matters, notes};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AppError, Ctx};
use crate::AppState;
use crate::{audit, passwords};

/// A decoy, as its planters review it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecoyView {
    pub id: Uuid,
    /// `user`, `matter` or `credential`.
    pub kind: &'static str,
    /// What its planter wrote of it.
    pub label: String,
    /// What was planted, in words.
    pub summary: String,
    /// The records it is: the user's id; the matter's and its client's; none for a token.
    pub targets: Vec<Uuid>,
    #[schema(value_type = Uuid)]
    pub planted_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    pub planted_at: OffsetDateTime,
}

impl From<Decoy> for DecoyView {
    fn from(decoy: Decoy) -> Self {
        Self {
            id: decoy.id,
            kind: decoy.kind.as_str(),
            label: decoy.label,
            summary: decoy.summary,
            targets: decoy.targets,
            planted_by: decoy.planted_by,
            planted_at: decoy.planted_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecoyList {
    pub items: Vec<DecoyView>,
}

/// A decoy user account to plant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecoyUser {
    /// The name the account shows, as a colleague's would.
    pub name: String,
    /// An address of the firm's domain that nobody reads, or one whose mail the planter
    /// watches: the account is never mailed by Ringfence.
    pub email: String,
    /// `attorney` (when not given), `paralegal`, `secretary` or `billing`: a decoy is no
    /// administrator or audit officer, whom the firm's notices and alerts go to.
    #[serde(default)]
    pub role: Option<String>,
    /// Where it is meant to be found, for the planters: 1 to 500 characters.
    pub label: String,
}

/// A decoy matter to plant, led by a decoy user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecoyMatter {
    /// The decoy user who leads it.
    #[schema(value_type = Uuid)]
    pub lead_id: UserId,
    /// 1 to 500 characters.
    pub label: String,
}

/// A decoy session token to plant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecoyCredential {
    /// Where it will be left: 1 to 500 characters.
    pub label: String,
}

/// A planted token: the token itself is shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlantedCredential {
    pub decoy: DecoyView,
    /// Leave it where an attacker looks (a script, a shared drive): presented as a bearer
    /// token or a session cookie, it is refused like any unknown token, and trips.
    pub credential: String,
}

const DECOY_ROLES: [FirmRole; 4] =
    [FirmRole::Attorney, FirmRole::Paralegal, FirmRole::Secretary, FirmRole::Billing];
const MAX_LABEL: usize = 500;

fn label(raw: &str) -> Result<String, AppError> {
    let label = raw.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(AppError::invalid("label", format!("1 to {MAX_LABEL} characters")));
    }
    if label.chars().any(char::is_control) {
        return Err(AppError::invalid("label", "no control characters"));
    }
    Ok(label.to_owned())
}

/// Every decoy; the reading is recorded.
pub async fn list(ctx: &Ctx) -> Result<DecoyList, AppError> {
    let mut tx = ctx.actor.begin_read().await?;
    let items = decoys::list(&mut tx).await?.into_iter().map(DecoyView::from).collect();
    ctx.record_read(tx, AuditAction::DecoysViewed, Some(("firm", ctx.actor.firm.to_string()))).await?;
    Ok(DecoyList { items })
}

/// The decoy planted as `id`, read back in the transaction that planted it.
async fn planted(tx: &mut ringfence_store::FirmTx, id: Uuid) -> Result<DecoyView, AppError> {
    let decoy = decoys::list(tx).await?.into_iter().find(|d| d.id == id).ok_or(AppError::NotFound)?;
    Ok(decoy.into())
}

/// Plants a decoy user: an active account with a password nobody knows and no second
/// factor, so that nobody can sign in with it and every attempt is a failure on the record.
pub async fn plant_user(ctx: &Ctx, state: &AppState, input: NewDecoyUser) -> Result<DecoyView, AppError> {
    let email = Email::parse(&input.email).map_err(|e| AppError::invalid("email", e.to_string()))?;
    let name = super::users::parse_name(&input.name)?;
    let role = match input.role.as_deref() {
        None => FirmRole::Attorney,
        Some(raw) => raw
            .parse::<FirmRole>()
            .ok()
            .filter(|role| DECOY_ROLES.contains(role))
            .ok_or_else(|| AppError::invalid("role", "attorney, paralegal, secretary or billing"))?,
    };
    let label = label(&input.label)?;
    let unknowable = SecretToken::generate().map_err(AppError::internal)?;
    let hash = passwords::hash_raw(state, unknowable.expose().as_str()).await?;
    let roles = BTreeSet::from([role]);
    let (now, id) = (ctx.now(), Uuid::now_v7());
    // Not made on the day it is planted, as far as its record says: see the matter's.
    // Never before the firm itself was.
    let firm = state.storage.firm_by_id(ctx.actor.firm).await?;
    let joined = (now - time::Duration::days(i64::from(content::joined_days_ago()?))).max(firm.created_at);
    let summary = format!("User {name} <{email}>, {}", role.as_str());
    let view = state
        .storage
        .create_user(ctx.actor.firm, &ctx.actor.principal(), &email, async |user, tx| {
            let new = NewUser {
                id: user,
                email: &email,
                name: Some(&name),
                roles: &roles,
                status: UserStatus::Active,
                password_hash: Some(&hash),
                created_at: joined,
            };
            users::insert(tx, new).await?;
            let targets = [user.as_uuid()];
            let planting = Planting {
                id,
                kind: DecoyKind::User,
                targets: &targets,
                label: &label,
                summary: &summary,
                credential_hash: None,
                by: ctx.actor.user,
                at: now,
            };
            decoys::plant(tx, &planting).await?;
            let entry = audit::record(
                ctx.actor.audit_actor(),
                AuditAction::DecoyPlanted,
                Some(("decoy", id.to_string())),
                Outcome::Success,
                &ctx.client,
                now,
            );
            audit_log::append(tx, &entry).await?;
            Ok(decoys::list(tx).await?.into_iter().find(|d| d.id == id))
        })
        .await?;
    view.map(DecoyView::from).ok_or(AppError::NotFound)
}

/// Plants a decoy session token, for this firm's sessions: the token is shown once.
pub async fn plant_credential(ctx: &Ctx, input: NewDecoyCredential) -> Result<PlantedCredential, AppError> {
    let label = label(&input.label)?;
    let token = SecretToken::generate().map_err(AppError::internal)?;
    let TokenHash(hash) = token.hash();
    let (now, id) = (ctx.now(), Uuid::now_v7());
    let mut tx = ctx.actor.begin().await?;
    let planting = Planting {
        id,
        kind: DecoyKind::Credential,
        targets: &[],
        label: &label,
        summary: "A session token",
        credential_hash: Some(&hash),
        by: ctx.actor.user,
        at: now,
    };
    decoys::plant(&mut tx, &planting).await?;
    ctx.record(&mut tx, AuditAction::DecoyPlanted, Some(("decoy", id.to_string()))).await?;
    let decoy = planted(&mut tx, id).await?;
    tx.commit().await?;
    let credential = token::scoped(&ctx.actor.firm.simple(), &token).to_string();
    Ok(PlantedCredential { decoy, credential })
}

/// Plants a decoy matter led by a decoy user: a client, the matter, notes and documents
/// that read like real work, made as the lead's own (so a copy of the database holds them
/// as it holds any matter's), and indexed for search like any other.
pub async fn plant_matter(ctx: &Ctx, state: &AppState, input: NewDecoyMatter) -> Result<DecoyView, AppError> {
    let label = label(&input.label)?;
    let mut tx = ctx.actor.begin_read().await?;
    let known = decoys::list(&mut tx).await?;
    let lead = users::get(&mut tx, input.lead_id).await?;
    tx.commit().await?;
    let (Some(decoy_lead), Some(lead)) = (DecoyUser::among(&known, input.lead_id), lead) else {
        return Err(AppError::invalid("lead_id", "not a decoy user: plant one first"));
    };
    let firm = state.storage.firm_by_id(ctx.actor.firm).await?;
    let prefix = firm.slug.as_str().to_uppercase();
    let story = content::Story::invent()?;
    let store = ctx.actor.store.clone();
    let mut uploads = Vec::with_capacity(story.documents.len());
    for (title, file, text) in &story.documents {
        let mut upload = Upload::start(&state.blobs, &store)?;
        upload.push(text.as_bytes()).await?;
        let mut uploaded = upload.finish(file.clone()).await?;
        uploaded.set_text(text);
        uploaded.blind_terms(&store).await?;
        uploads.push((title, uploaded));
    }
    let scan = if state.settings.malware_scanner.is_some() { Scan::Clean } else { Scan::Unscanned };
    let (now, id) = (ctx.now(), Uuid::now_v7());
    // Never before its lead joined, nor its firm was.
    let earliest = (lead.created_at + time::Duration::days(7)).max(firm.created_at).min(now);
    let opened = (now - time::Duration::days(i64::from(story.opened_days_ago))).max(earliest);
    let mut written =
        story.written_days_after.iter().map(|days| opened + time::Duration::days(i64::from(*days)));
    let mut tx = store.begin_as_decoy(decoy_lead).await?;
    let client = clients::create(&mut tx, &story.client_fields(), lead.id, opened).await?;
    let (matter, number) =
        matters::create(&mut tx, &prefix, &story.title, client, Some(&story.description), lead.id, opened)
            .await?;
    let access = store_access::standing(&mut tx, lead.id, &lead.roles, matter)
        .await?
        .and_then(|standing| standing.proof::<WriteContent>())
        .ok_or_else(|| {
            AppError::internal(std::io::Error::other("a decoy matter's lead cannot write to it"))
        })?;
    for (kind, privileged, body) in &story.notes {
        notes::create(&mut tx, &access, kind, *privileged, body, written.next().unwrap_or(opened)).await?;
    }
    for (title, uploaded) in &uploads {
        let at = written.next().unwrap_or(opened);
        documents::create(&mut tx, &access, title, true, uploaded, scan, at).await?;
    }
    let summary = format!(
        "Matter {number} \u{201c}{}\u{201d} for the client {}, led by {}: {}, {}",
        story.title,
        story.client,
        lead.display_name(),
        counted(story.notes.len(), "note"),
        counted(story.documents.len(), "document")
    );
    let targets = [matter, client];
    let planting = Planting {
        id,
        kind: DecoyKind::Matter,
        targets: &targets,
        label: &label,
        summary: &summary,
        credential_hash: None,
        by: ctx.actor.user,
        at: now,
    };
    decoys::plant(&mut tx, &planting).await?;
    ctx.record(&mut tx, AuditAction::DecoyPlanted, Some(("decoy", id.to_string()))).await?;
    let view = planted(&mut tx, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// "1 note", "3 notes".
fn counted(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// The decoy users, as (id, name) for the form that plants a matter.
pub fn users_of(list: &DecoyList) -> Vec<(Uuid, String)> {
    list.items
        .iter()
        .filter(|d| d.kind == DecoyKind::User.as_str())
        .filter_map(|d| d.targets.first().map(|id| (*id, d.summary.clone())))
        .collect()
}

mod content;
