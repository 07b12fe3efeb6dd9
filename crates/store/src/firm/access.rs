//! The ring-fence's one choke point. `check` reads the caller's standing on a matter (role,
//! wall) and applies the permission table in `ringfence_core::matter`; only it can make a
//! [`MatterAccess`], and every repository function over matter data takes one. A handler
//! that forgets the check does not compile.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use ringfence_core::ids::UserId;
use ringfence_core::matter::{self, MatterAction, MatterRole, Standing};
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
);

/// Proof that `user` may perform `A` on `matter`, checked in this transaction.
#[derive(Debug)]
pub struct MatterAccess<A: Action> {
    matter: Uuid,
    user: UserId,
    role: Option<MatterRole>,
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
    let row = sqlx::query(
        "SELECT m.deleted_at,
                (SELECT role FROM matter_members WHERE matter_id = m.id AND user_id = $2) AS role,
                (SELECT COUNT(*) FROM matter_walls WHERE matter_id = m.id AND user_id = $2) AS walls
         FROM matters m WHERE m.id = $1",
    )
    .bind(matter.to_string())
    .bind(user.to_string())
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let deleted: Option<i64> = row.try_get("deleted_at")?;
    if deleted.is_some() && !finds_deleted(A::ACTION) {
        return Ok(None);
    }
    let role: Option<String> = row.try_get("role")?;
    let role = role.and_then(|r| r.parse::<MatterRole>().ok());
    let walls: i64 = row.try_get("walls")?;
    let standing = Standing { firm_roles: firm_roles.clone(), matter_role: role, walled: walls > 0 };
    Ok(matter::allows(&standing, A::ACTION).then_some(MatterAccess {
        matter,
        user,
        role,
        action: PhantomData,
    }))
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
