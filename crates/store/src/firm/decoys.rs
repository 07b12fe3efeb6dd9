//! Decoys (honeytokens): records planted to look like the firm's own that nobody has a
//! reason to touch — a user, a client with a matter and its notes and documents, a session
//! token left where an attacker looks. Which records they are is sealed under the firm key
//! and bound to the decoy, so neither a copy of the database nor any answer tells them from
//! real ones; only administrators and audit officers, through the application, read the
//! list. A token is known by its SHA-256 when it is presented.

use std::collections::BTreeSet;

use ringfence_core::clock::{from_unix_millis, unix_millis};
use ringfence_core::ids::UserId;
use ringfence_crypto::FieldRef;
use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use super::FirmTx;
use crate::StoreError;

/// What a decoy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoyKind {
    /// A user account nobody signs in with: any attempt to is a touch.
    User,
    /// A client and a matter (led by a decoy user) with notes and documents.
    Matter,
    /// A session token nobody was given: any use of it is a touch.
    Credential,
}

impl DecoyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DecoyKind::User => "user",
            DecoyKind::Matter => "matter",
            DecoyKind::Credential => "credential",
        }
    }

    fn parse(raw: &str) -> Result<Self, StoreError> {
        match raw {
            "user" => Ok(DecoyKind::User),
            "matter" => Ok(DecoyKind::Matter),
            "credential" => Ok(DecoyKind::Credential),
            _ => Err(corrupt("kind")),
        }
    }
}

/// A planted decoy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoy {
    pub id: Uuid,
    pub kind: DecoyKind,
    /// The records it is: a user's id; a matter's and its client's; none for a credential.
    pub targets: Vec<Uuid>,
    /// What its planter wrote of it.
    pub label: String,
    /// What was planted, in words.
    pub summary: String,
    pub planted_by: UserId,
    pub planted_at: OffsetDateTime,
}

/// A decoy about to be planted.
pub struct Planting<'a> {
    pub id: Uuid,
    pub kind: DecoyKind,
    pub targets: &'a [Uuid],
    pub label: &'a str,
    pub summary: &'a str,
    /// The SHA-256 of a credential's token.
    pub credential_hash: Option<&'a [u8; 32]>,
    pub by: UserId,
    pub at: OffsetDateTime,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("decoys.{what} holds an invalid value").into()))
}

fn field<'a>(id: &'a str, field: &'static str) -> FieldRef<'a> {
    FieldRef { table: "decoys", record: id, field }
}

pub async fn plant(tx: &mut FirmTx, planting: &Planting<'_>) -> Result<(), StoreError> {
    let id = planting.id.to_string();
    let targets = planting.targets.iter().map(Uuid::to_string).collect::<Vec<_>>().join(",");
    let targets_sealed = tx.seal(field(&id, "targets"), targets.as_bytes())?;
    let label_sealed = tx.seal(field(&id, "label"), planting.label.as_bytes())?;
    let summary_sealed = tx.seal(field(&id, "summary"), planting.summary.as_bytes())?;
    sqlx::query(
        "INSERT INTO decoys (id, kind, targets_sealed, label_sealed, summary_sealed, credential_hash, planted_by, planted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(planting.kind.as_str())
    .bind(targets_sealed)
    .bind(label_sealed)
    .bind(summary_sealed)
    .bind(planting.credential_hash.map(|hash| hash.to_vec()))
    .bind(planting.by.to_string())
    .bind(unix_millis(planting.at))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Every decoy, the newest first.
pub async fn list(tx: &mut FirmTx) -> Result<Vec<Decoy>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, kind, targets_sealed, label_sealed, summary_sealed, planted_by, planted_at
         FROM decoys ORDER BY planted_at DESC, id",
    )
    .fetch_all(tx.conn())
    .await?;
    let mut decoys = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("id")?;
        let open = |name: &'static str, column: &str| -> Result<String, StoreError> {
            let sealed: Vec<u8> = row.try_get(column)?;
            Ok(String::from_utf8_lossy(&tx.open(field(&id, name), &sealed)?).into_owned())
        };
        let targets = targets_of(open("targets", "targets_sealed")?.as_bytes())?;
        let (label, summary) = (open("label", "label_sealed")?, open("summary", "summary_sealed")?);
        let planted_by: String = row.try_get("planted_by")?;
        decoys.push(Decoy {
            id: id.parse().map_err(|_| corrupt("id"))?,
            kind: DecoyKind::parse(&row.try_get::<String, _>("kind")?)?,
            targets,
            label,
            summary,
            planted_by: planted_by.parse().map_err(|_| corrupt("planted_by"))?,
            planted_at: from_unix_millis(row.try_get("planted_at")?),
        });
    }
    Ok(decoys)
}

/// [`tripwires`] of every decoy, opening no more than the records each is.
pub async fn tripwire_set(tx: &mut FirmTx) -> Result<BTreeSet<String>, StoreError> {
    let rows = sqlx::query("SELECT id, kind, targets_sealed FROM decoys").fetch_all(tx.conn()).await?;
    let mut wires = BTreeSet::new();
    for row in rows {
        let id: String = row.try_get("id")?;
        let sealed: Vec<u8> = row.try_get("targets_sealed")?;
        let targets = targets_of(&tx.open(field(&id, "targets"), &sealed)?)?;
        let kind = DecoyKind::parse(&row.try_get::<String, _>("kind")?)?;
        let id = id.parse().map_err(|_| corrupt("id"))?;
        wires.extend(wires_of(kind, id, &targets).map(|wire| wire.to_string()));
    }
    Ok(wires)
}

/// The ids whose mention names a decoy: the records it is, and a credential's own id (its
/// use is recorded under it).
fn wires_of(kind: DecoyKind, id: Uuid, targets: &[Uuid]) -> impl Iterator<Item = Uuid> + '_ {
    targets.iter().copied().chain((kind == DecoyKind::Credential).then_some(id))
}

fn targets_of(opened: &[u8]) -> Result<Vec<Uuid>, StoreError> {
    String::from_utf8_lossy(opened)
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().map_err(|_| corrupt("targets")))
        .collect()
}

impl Decoy {
    /// The ids whose mention names this decoy (see [`tripwires`]).
    pub fn wires(&self) -> impl Iterator<Item = Uuid> + '_ {
        wires_of(self.kind, self.id, &self.targets)
    }
}

/// The ids that name a decoy: every record a decoy is, and each credential's own id (its
/// use is recorded under it).
pub fn tripwires(decoys: &[Decoy]) -> BTreeSet<String> {
    decoys.iter().flat_map(Decoy::wires).map(|id| id.to_string()).collect()
}

/// The decoy credential whose token hashes to `hash`, if one does.
pub async fn credential(tx: &mut FirmTx, hash: &[u8; 32]) -> Result<Option<Uuid>, StoreError> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM decoys WHERE credential_hash = $1")
        .bind(hash.to_vec())
        .fetch_optional(tx.conn())
        .await?;
    id.map(|id| id.parse().map_err(|_| corrupt("id"))).transpose()
}

/// A decoy user, as the list of decoys names it: the only user a matter can be planted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoyUser(UserId);

impl DecoyUser {
    /// `user`, if it is one of `decoys`' users.
    pub fn among(decoys: &[Decoy], user: UserId) -> Option<Self> {
        decoys
            .iter()
            .any(|d| d.kind == DecoyKind::User && d.targets.contains(&user.as_uuid()))
            .then_some(Self(user))
    }

    pub fn id(self) -> UserId {
        self.0
    }
}
