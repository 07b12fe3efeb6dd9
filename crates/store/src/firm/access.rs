//! The ring-fence's one choke point. `check` reads the caller's standing on a matter (role,
//! wall) and applies the permission table in `ringfence_core::matter`; only it can make a
//! [`MatterAccess`], and every repository function over matter data takes one. A handler
//! that forgets the check does not compile.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use ringfence_core::ids::UserId;
use ringfence_core::matter::{
    self, ClientAction, ClientStanding, MatterAction, MatterRole, Standing, SubjectStanding,
};
use ringfence_core::user::FirmRole;
use sqlx::Row;
use uuid::Uuid;

use super::FirmTx;
use crate::StoreError;

/// A kind of matter access, as a type.
pub trait Action: Send + Sync + 'static {
    const ACTION: MatterAction;
}

macro_rules! actions {
    ($($name:ident => $action:ident),* $(,)?) => {
        $(
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl Action for $name {
                const ACTION: MatterAction = MatterAction::$action;
            }
        )*
    };
}

actions!(
    View => View,
    Edit => Edit,
    Lifecycle => Lifecycle,
    ManageMembers => ManageMembers,
    ManageWalls => ManageWalls,
    ReadContent => ReadContent,
    WriteContent => WriteContent,
    AccessHistory => AccessHistory,
    Dispose => Dispose,
    Hold => Hold,
    Export => Export,
);

/// Proof that `user` may perform `A` on `matter`, checked in this transaction.
#[derive(Debug)]
pub struct MatterAccess<A: Action> {
    matter: Uuid,
    user: UserId,
    role: Option<MatterRole>,
    reads_content: bool,
    action: PhantomData<A>,
}

impl<A: Action> MatterAccess<A> {
    pub fn matter(&self) -> Uuid {
        self.matter
    }

    pub fn user(&self) -> UserId {
        self.user
    }

    /// The caller's own role on the matter, if any (an admin managing members may have none).
    pub fn role(&self) -> Option<MatterRole> {
        self.role
    }

    /// Whether the caller may also read the matter's content (its description among it),
    /// decided by the same table in the same check.
    pub fn reads_content(&self) -> bool {
        self.reads_content
    }
}

/// SQL that is true when the user bound at `user` is screened from the matter named by
/// `matter` (both SQL expressions): by a wall on the matter, or a standing wall on its
/// client. Every query that lists matters for a user leaves these out.
pub(crate) fn screened(matter: &str, user: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM matter_walls sw WHERE sw.matter_id = {matter} AND sw.user_id = {user})
          OR EXISTS (SELECT 1 FROM client_walls scw JOIN matters sm ON sm.client_id = scw.client_id
                     WHERE sm.id = {matter} AND scw.user_id = {user} AND scw.lifted_at IS NULL))"
    )
}

/// Which matters a check may find: soft-deleted ones only when restoring.
fn finds_deleted(action: MatterAction) -> bool {
    action == MatterAction::Lifecycle
}

/// Checks `user`'s standing on `matter` for `A`. `None` both when the matter does not exist
/// and when the user may not do this: callers answer 404 either way.
pub async fn check<A: Action>(
    tx: &mut FirmTx,
    user: UserId,
    firm_roles: &BTreeSet<FirmRole>,
    matter: Uuid,
) -> Result<Option<MatterAccess<A>>, StoreError> {
    Ok(standing(tx, user, firm_roles, matter).await?.and_then(|standing| standing.proof::<A>()))
}

/// The caller's standing on one matter as one read found it: what the permission table
/// allows it, and the proof for any of that, without asking the store again. It is not
/// `Clone`: the proofs it makes belong to the transaction that read it.
#[derive(Debug)]
pub struct MatterStanding {
    matter: Uuid,
    user: UserId,
    standing: Standing,
    deleted: bool,
}

impl MatterStanding {
    pub fn matter(&self) -> Uuid {
        self.matter
    }

    /// Whether the table allows `action` (a deleted matter allows only restoring it).
    pub fn may(&self, action: MatterAction) -> bool {
        (!self.deleted || finds_deleted(action)) && matter::allows(&self.standing, action)
    }

    /// Every action allowed, decided at once.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities { allowed: MatterAction::ALL.into_iter().filter(|action| self.may(*action)).collect() }
    }

    /// The proof for `A`, when the standing allows it.
    pub fn proof<A: Action>(&self) -> Option<MatterAccess<A>> {
        self.may(A::ACTION).then(|| MatterAccess {
            matter: self.matter,
            user: self.user,
            role: self.standing.matter_role,
            reads_content: self.may(MatterAction::ReadContent),
            action: PhantomData,
        })
    }
}

/// What a caller may do on one matter, from its standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    allowed: Vec<MatterAction>,
}

impl Capabilities {
    pub fn may(&self, action: MatterAction) -> bool {
        self.allowed.contains(&action)
    }
}

/// Reads `user`'s standing on `matter` (its matter role, any wall on the matter or its
/// client) once. `None` when there is no such matter.
pub async fn standing(
    tx: &mut FirmTx,
    user: UserId,
    firm_roles: &BTreeSet<FirmRole>,
    matter: Uuid,
) -> Result<Option<MatterStanding>, StoreError> {
    let row = sqlx::query(
        "SELECT m.deleted_at,
                (SELECT role FROM matter_members WHERE matter_id = m.id AND user_id = $2) AS role,
                (SELECT COUNT(*) FROM matter_walls WHERE matter_id = m.id AND user_id = $2)
                + (SELECT COUNT(*) FROM client_walls
                   WHERE client_id = m.client_id AND user_id = $2 AND lifted_at IS NULL) AS walls
         FROM matters m WHERE m.id = $1",
    )
    .bind(matter.to_string())
    .bind(user.to_string())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let deleted: Option<i64> = row.try_get("deleted_at")?;
    let role: Option<String> = row.try_get("role")?;
    let role = role.and_then(|r| r.parse::<MatterRole>().ok());
    let walls: i64 = row.try_get("walls")?;
    let standing = Standing { firm_roles: firm_roles.clone(), matter_role: role, walled: walls > 0 };
    Ok(Some(MatterStanding { matter, user, standing, deleted: deleted.is_some() }))
}

/// An operator's standing on `matter` under a support grant that names it: a viewer's,
/// reading only, whatever walls screen the firm's people (the approver was told of them).
/// `None` when there is no such matter.
pub async fn support_standing(
    tx: &mut FirmTx,
    operator: UserId,
    matter: Uuid,
) -> Result<Option<MatterStanding>, StoreError> {
    let deleted: Option<Option<i64>> = sqlx::query_scalar("SELECT deleted_at FROM matters WHERE id = $1")
        .bind(matter.to_string())
        .fetch_optional(tx.conn())
        .await?;
    Ok(deleted.map(|deleted| MatterStanding {
        matter,
        user: operator,
        standing: Standing {
            firm_roles: BTreeSet::new(),
            matter_role: Some(MatterRole::Viewer),
            walled: false,
        },
        deleted: deleted.is_some(),
    }))
}

/// What an administrator must be told before letting an operator read a matter: how many
/// people walls screen from it (on the matter or its client), and whether a legal hold
/// stands on it or its client.
pub(crate) async fn support_warnings(tx: &mut FirmTx, matter: Uuid) -> Result<(i64, bool), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM matter_walls WHERE matter_id = m.id)
                + (SELECT COUNT(*) FROM client_walls WHERE client_id = m.client_id AND lifted_at IS NULL) AS walls,
                (SELECT COUNT(*) FROM legal_holds h
                 WHERE (h.matter_id = m.id OR h.client_id = m.client_id) AND h.lifted_at IS NULL) AS holds
         FROM matters m WHERE m.id = $1",
    )
    .bind(matter.to_string())
    .fetch_optional(tx.conn())
    .await?;
    Ok(match row {
        Some(row) => (row.try_get("walls")?, row.try_get::<i64, _>("holds")? > 0),
        None => (0, false),
    })
}

/// Accesses that manage a matter's team: they may see its members and its number.
pub trait ManagesTeam: Action {}
impl ManagesTeam for ManageMembers {}
impl ManagesTeam for ManageWalls {}

/// Accesses that may see the matter itself (its title, client and status).
pub trait SeesMatter: Action {}
impl SeesMatter for View {}
impl SeesMatter for Edit {}
impl SeesMatter for Lifecycle {}

/// Accesses that may read the matter's notes.
pub trait ReadsContent: Action {}
impl ReadsContent for ReadContent {}
impl ReadsContent for WriteContent {}

/// The matters and clients a wall screens one user from: ids only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Screens {
    /// Walled off directly, or through a standing wall on the matter's client.
    pub matters: Vec<String>,
    pub clients: Vec<String>,
}

/// What screens `user`. Read past row security (see `FirmStore::screens_of`), which hides
/// a user's own walls from it: a reader's walls are needed to leave out what they cover.
pub(crate) async fn screens(tx: &mut FirmTx, user: UserId) -> Result<Screens, StoreError> {
    let matters: Vec<String> = sqlx::query_scalar(
        "SELECT matter_id FROM matter_walls WHERE user_id = $1
         UNION SELECT m.id FROM matters m JOIN client_walls cw ON cw.client_id = m.client_id
               WHERE cw.user_id = $1 AND cw.lifted_at IS NULL",
    )
    .bind(user.to_string())
    .fetch_all(tx.conn())
    .await?;
    let clients: Vec<String> =
        sqlx::query_scalar("SELECT client_id FROM client_walls WHERE user_id = $1 AND lifted_at IS NULL")
            .bind(user.to_string())
            .fetch_all(tx.conn())
            .await?;
    Ok(Screens { matters, clients })
}

/// A kind of access to a client's details, as a type.
pub trait ClientDetails: Send + Sync + 'static {
    const ACTION: ClientAction;
}

#[derive(Debug, Clone, Copy)]
pub struct ReadDetails;
impl ClientDetails for ReadDetails {
    const ACTION: ClientAction = ClientAction::ReadDetails;
}

#[derive(Debug, Clone, Copy)]
pub struct EditDetails;
impl ClientDetails for EditDetails {
    const ACTION: ClientAction = ClientAction::EditDetails;
}

/// Erasing the client's personal information: only through a data-subject request
/// ([`check_subject`]); the client access check never allows it.
#[derive(Debug, Clone, Copy)]
pub struct Erase;
impl ClientDetails for Erase {
    const ACTION: ClientAction = ClientAction::Erase;
}

/// Proof that `user` may perform `A` on the client's details, checked in this transaction.
#[derive(Debug)]
pub struct ClientAccess<A: ClientDetails> {
    client: Uuid,
    user: UserId,
    action: PhantomData<A>,
}

impl<A: ClientDetails> ClientAccess<A> {
    pub fn client(&self) -> Uuid {
        self.client
    }

    pub fn user(&self) -> UserId {
        self.user
    }
}

/// What the client record says of `user`: whether it took the client in and no matter was
/// opened for it yet, and whether a standing wall screens it. `None` when there is no such
/// client (or, with `live_only`, no such client that is not deleted).
struct IntakeAndWalls {
    intake: bool,
    walled: bool,
}

async fn intake_and_walls(
    tx: &mut FirmTx,
    user: UserId,
    client: Uuid,
    live_only: bool,
) -> Result<Option<IntakeAndWalls>, StoreError> {
    let row = sqlx::query(
        "SELECT c.created_by, c.first_matter_at,
                (SELECT COUNT(*) FROM client_walls
                 WHERE client_id = c.id AND user_id = $2 AND lifted_at IS NULL) AS walls
         FROM clients c WHERE c.id = $1 AND ($3 = 0 OR c.deleted_at IS NULL)",
    )
    .bind(client.to_string())
    .bind(user.to_string())
    .bind(i64::from(live_only))
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let created_by: String = row.try_get("created_by")?;
    let first_matter: Option<i64> = row.try_get("first_matter_at")?;
    let walls: i64 = row.try_get("walls")?;
    Ok(Some(IntakeAndWalls {
        intake: first_matter.is_none() && created_by == user.to_string(),
        walled: walls > 0,
    }))
}

/// Checks `user`'s standing on `client` for `A`: its roles on the client's live matters
/// that no wall screens, whether it took the client in before any matter was opened, and
/// any wall on the client. `None` both for an unknown client and a refusal.
pub async fn check_client<A: ClientDetails>(
    tx: &mut FirmTx,
    user: UserId,
    client: Uuid,
) -> Result<Option<ClientAccess<A>>, StoreError> {
    let Some(IntakeAndWalls { intake, walled }) = intake_and_walls(tx, user, client, true).await? else {
        return Ok(None);
    };
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT mm.role FROM matter_members mm JOIN matters m ON m.id = mm.matter_id
         WHERE m.client_id = $1 AND mm.user_id = $2 AND m.deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM matter_walls w WHERE w.matter_id = m.id AND w.user_id = $2)",
    )
    .bind(client.to_string())
    .bind(user.to_string())
    .fetch_all(tx.conn())
    .await?;
    let standing = ClientStanding {
        matter_roles: roles.iter().filter_map(|r| r.parse().ok()).collect(),
        intake,
        walled,
    };
    Ok(matter::client_allows(&standing, A::ACTION).then_some(ClientAccess {
        client,
        user,
        action: PhantomData,
    }))
}

/// Proof that `user` may delete the client record, or restore it, checked in this
/// transaction (see `ringfence_core::matter::client_lifecycle_allows`).
#[derive(Debug)]
pub struct ClientKeeping {
    client: Uuid,
    user: UserId,
}

impl ClientKeeping {
    pub fn client(&self) -> Uuid {
        self.client
    }

    pub fn user(&self) -> UserId {
        self.user
    }
}

/// Checks `user`'s standing on `client`, deleted or not, for deleting or restoring it:
/// whoever took it in (while no matter was opened for it) or an administrator, unless a
/// wall on the client screens them. `None` both for an unknown client and a refusal.
pub async fn check_client_keeping(
    tx: &mut FirmTx,
    user: UserId,
    firm_roles: &BTreeSet<FirmRole>,
    client: Uuid,
) -> Result<Option<ClientKeeping>, StoreError> {
    let Some(IntakeAndWalls { intake, walled }) = intake_and_walls(tx, user, client, false).await? else {
        return Ok(None);
    };
    Ok(matter::client_lifecycle_allows(firm_roles, intake, walled).then_some(ClientKeeping { client, user }))
}

/// Checks the handler of data-subject request `request` on the client it is about, for
/// `A`: a firm role that handles such requests, and no wall screening the handler from the
/// client or from any of its matters (the report names every matter, and erasure weighs
/// them all). On PostgreSQL row security hides a matter the handler is walled from, and
/// the handler's own wall with it: the matters it sees are compared with how many the
/// client has (`client_matter_totals`), so a hidden one screens it too. A check for a
/// change first locks the client's row, so that no matter is opened for the client between
/// the check and the change. `None` for an unknown request, one about someone who is not a
/// client, and a refusal alike.
pub async fn check_subject<A: ClientDetails>(
    tx: &mut FirmTx,
    user: UserId,
    firm_roles: &BTreeSet<FirmRole>,
    request: Uuid,
) -> Result<Option<ClientAccess<A>>, StoreError> {
    let client: Option<String> = sqlx::query_scalar(
        "SELECT client_id FROM data_subject_requests WHERE id = $1 AND client_id IS NOT NULL",
    )
    .bind(request.to_string())
    .fetch_optional(tx.conn())
    .await?;
    let Some(client) = client else { return Ok(None) };
    if A::ACTION != ClientAction::ReadDetails {
        let lock = crate::backend::rows_held(tx.conn());
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT id FROM clients WHERE id = $1 {lock}")))
            .bind(&client)
            .fetch_one(tx.conn())
            .await?;
    }
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM client_walls
                 WHERE client_id = $1 AND user_id = $2 AND lifted_at IS NULL) AS client_walls,
                (SELECT COUNT(*) FROM matter_walls w JOIN matters m ON m.id = w.matter_id
                 WHERE m.client_id = $1 AND w.user_id = $2) AS matter_walls,
                (SELECT COUNT(*) FROM matters WHERE client_id = $1) AS seen,
                (SELECT matters FROM client_matter_totals WHERE client_id = $1) AS held",
    )
    .bind(&client)
    .bind(user.to_string())
    .fetch_one(tx.conn())
    .await?;
    let walls: i64 = row.try_get::<i64, _>("client_walls")? + row.try_get::<i64, _>("matter_walls")?;
    let seen: i64 = row.try_get("seen")?;
    let held: Option<i64> = row.try_get("held")?;
    let standing =
        SubjectStanding { firm_roles: firm_roles.clone(), screened: walls > 0 || held.unwrap_or(0) != seen };
    let client = client
        .parse()
        .map_err(|_| StoreError::Database(sqlx::Error::Decode("data_subject_requests.client_id".into())))?;
    Ok(matter::subject_request_allows(&standing, A::ACTION).then_some(ClientAccess {
        client,
        user,
        action: PhantomData,
    }))
}
