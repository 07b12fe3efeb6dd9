//! The ring-fence's rules: which matter role may do what, as one table a reviewer can read
//! against DESIGN.md. Pure: the store supplies the caller's standing on the matter, this
//! module decides. A refusal is always "not found", so the caller cannot tell a matter it
//! may not see from one that does not exist.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::user::FirmRole;

/// A user's role on one matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatterRole {
    /// Runs the matter: everything, including its members and its audit trail.
    Lead,
    /// Reads and writes the matter's content.
    Member,
    /// Reads the matter's content.
    Viewer,
    /// Time and billing only: sees the matter, never its documents or notes.
    Billing,
}

impl MatterRole {
    pub const ALL: [MatterRole; 4] =
        [MatterRole::Lead, MatterRole::Member, MatterRole::Viewer, MatterRole::Billing];

    pub fn as_str(self) -> &'static str {
        match self {
            MatterRole::Lead => "lead",
            MatterRole::Member => "member",
            MatterRole::Viewer => "viewer",
            MatterRole::Billing => "billing",
        }
    }
}

impl fmt::Display for MatterRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown matter role; the roles are lead, member, viewer and billing")]
pub struct MatterRoleError;

impl FromStr for MatterRole {
    type Err = MatterRoleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MatterRole::ALL.into_iter().find(|r| r.as_str() == s).ok_or(MatterRoleError)
    }
}

/// What a caller wants to do with a matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatterAction {
    /// See that the matter exists: its number, title, client and status.
    View,
    /// Change its title, client or description.
    Edit,
    /// Close, soft-delete or restore it.
    Lifecycle,
    /// Add, change or remove members.
    ManageMembers,
    /// Place or lift ethical walls: administrators only, so a matter's own team cannot lift
    /// the screen compliance put up.
    ManageWalls,
    /// Read its notes (and, later, documents).
    ReadContent,
    /// Write its notes (and, later, documents).
    WriteContent,
    /// See who could reach it, when, and who granted it.
    AccessHistory,
    /// Delete a closed matter past the firm's retention window: administrators only, who
    /// review the matters due for disposal without reading them.
    Dispose,
    /// Place or lift a legal hold: administrators only, who answer for what the firm must
    /// keep, whatever the matter's team would delete.
    Hold,
    /// Take everything of the matter away as one ZIP (documents, notes with their history,
    /// its client, team, walls and audit trail): its leads only.
    Export,
}

impl MatterAction {
    pub const ALL: [MatterAction; 11] = [
        MatterAction::View,
        MatterAction::Edit,
        MatterAction::Lifecycle,
        MatterAction::ManageMembers,
        MatterAction::ManageWalls,
        MatterAction::ReadContent,
        MatterAction::WriteContent,
        MatterAction::AccessHistory,
        MatterAction::Dispose,
        MatterAction::Hold,
        MatterAction::Export,
    ];
}

/// The caller's standing on one matter, as the store found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub firm_roles: BTreeSet<FirmRole>,
    pub matter_role: Option<MatterRole>,
    /// An ethical wall, on the matter or on its client, screens the user from the matter
    /// whatever roles it holds, firm roles included.
    pub walled: bool,
}

/// The permission table. Every (role, action) pair is spelled out: there is no default.
pub fn role_allows(role: MatterRole, action: MatterAction) -> bool {
    use MatterAction as A;
    use MatterRole as R;
    match (role, action) {
        (R::Lead, A::View | A::Edit | A::Lifecycle | A::ManageMembers) => true,
        (R::Lead, A::ReadContent | A::WriteContent | A::AccessHistory | A::Export) => true,
        (R::Member, A::View | A::Edit | A::ReadContent | A::WriteContent) => true,
        (R::Member, A::Lifecycle | A::ManageMembers | A::AccessHistory | A::Export) => false,
        (R::Viewer, A::View | A::ReadContent) => true,
        (R::Viewer, A::Edit | A::Lifecycle | A::ManageMembers | A::WriteContent | A::AccessHistory) => false,
        (R::Viewer, A::Export) => false,
        (R::Billing, A::View) => true,
        (R::Billing, A::Edit | A::Lifecycle | A::ManageMembers | A::ReadContent | A::WriteContent) => false,
        (R::Billing, A::AccessHistory | A::Export) => false,
        (R::Lead | R::Member | R::Viewer | R::Billing, A::ManageWalls | A::Dispose | A::Hold) => false,
    }
}

/// What a firm role allows on every matter, whatever the matter roles: administrators
/// manage members and walls and review access; audit officers review access. Neither reads
/// content without a matter role.
pub fn firm_role_allows(role: FirmRole, action: MatterAction) -> bool {
    use MatterAction as A;
    match (role, action) {
        (FirmRole::Admin, A::ManageMembers | A::ManageWalls | A::AccessHistory | A::Dispose | A::Hold) => {
            true
        }
        (FirmRole::Auditor, A::AccessHistory) => true,
        (
            FirmRole::Admin,
            A::View | A::Edit | A::Lifecycle | A::ReadContent | A::WriteContent | A::Export,
        ) => false,
        (
            FirmRole::Auditor,
            A::View
            | A::Edit
            | A::Lifecycle
            | A::ManageMembers
            | A::ManageWalls
            | A::ReadContent
            | A::WriteContent
            | A::Dispose
            | A::Hold
            | A::Export,
        ) => false,
        (FirmRole::Attorney | FirmRole::Paralegal | FirmRole::Secretary | FirmRole::Billing, _) => false,
    }
}

/// Decides an action: a wall overrides everything; otherwise the matter role or a firm
/// role may allow it.
pub fn allows(standing: &Standing, action: MatterAction) -> bool {
    if standing.walled {
        return false;
    }
    standing.firm_roles.iter().any(|role| firm_role_allows(*role, action))
        || standing.matter_role.is_some_and(|role| role_allows(role, action))
}

/// What a caller wants to do with a client's personal details: its identity number and
/// contact details. A client's name and kind are not fenced: conflict checks across the
/// firm need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAction {
    /// Read the identity number, email address and phone number.
    ReadDetails,
    /// Change any of the client's fields.
    EditDetails,
    /// Erase the client's personal information for good: the outcome of a data subject's
    /// erasure request, never a day's work on a file.
    Erase,
}

impl ClientAction {
    pub const ALL: [ClientAction; 3] =
        [ClientAction::ReadDetails, ClientAction::EditDetails, ClientAction::Erase];
}

/// The caller's standing on one client, as the store found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientStanding {
    /// The roles the user holds on the client's live matters, leaving out any matter it is
    /// walled from.
    pub matter_roles: BTreeSet<MatterRole>,
    /// The user took the client in and no matter has been opened for it yet.
    pub intake: bool,
    /// A wall on the client screens the user from it and from every one of its matters.
    pub walled: bool,
}

/// What a role on one of a client's matters allows on the client's details. No firm role
/// reaches them by itself: administrators, like everyone else, through a matter role.
pub fn role_allows_on_client(role: MatterRole, action: ClientAction) -> bool {
    use ClientAction as A;
    use MatterRole as R;
    match (role, action) {
        (R::Lead | R::Member, A::ReadDetails | A::EditDetails) => true,
        // Viewers read the file; billing sends the invoices.
        (R::Viewer | R::Billing, A::ReadDetails) => true,
        (R::Viewer | R::Billing, A::EditDetails) => false,
        // Only a data-subject request erases a client (see `firm_role_allows_on_subject`).
        (R::Lead | R::Member | R::Viewer | R::Billing, A::Erase) => false,
    }
}

/// Decides an action on a client's details: a wall on the client overrides everything;
/// otherwise whoever took the client in (until its first matter is opened) or a role on
/// one of its matters may allow it. Erasure is never allowed this way.
pub fn client_allows(standing: &ClientStanding, action: ClientAction) -> bool {
    if standing.walled {
        return false;
    }
    match action {
        ClientAction::ReadDetails | ClientAction::EditDetails => {
            standing.intake || standing.matter_roles.iter().any(|role| role_allows_on_client(*role, action))
        }
        ClientAction::Erase => false,
    }
}

/// What a firm role allows on a client's details through a data-subject request registered
/// about the client (POPIA ss 23-25, GDPR arts 15-17): the report of what is held (read),
/// its correction (edit) and its erasure. The firm has no information-officer role, so
/// administrators handle the requests; every other role handles none.
pub fn firm_role_allows_on_subject(role: FirmRole, action: ClientAction) -> bool {
    use ClientAction as A;
    match (role, action) {
        (FirmRole::Admin, A::ReadDetails | A::EditDetails | A::Erase) => true,
        (
            FirmRole::Attorney
            | FirmRole::Paralegal
            | FirmRole::Secretary
            | FirmRole::Billing
            | FirmRole::Auditor,
            A::ReadDetails | A::EditDetails | A::Erase,
        ) => false,
    }
}

/// Whether a firm role may delete a client record, or restore a deleted one, by itself. A
/// client with a matter (deleted or not, until purged) or on the register of data
/// subjects' requests is never deleted (the store refuses it), so this is about records
/// nothing else refers to: administrators keep the firm's records.
pub fn firm_role_deletes_clients(role: FirmRole) -> bool {
    match role {
        FirmRole::Admin => true,
        FirmRole::Attorney
        | FirmRole::Paralegal
        | FirmRole::Secretary
        | FirmRole::Billing
        | FirmRole::Auditor => false,
    }
}

/// Decides deleting or restoring a client record: a wall on the client overrides
/// everything; otherwise whoever took it in (while no matter was opened for it) or a firm
/// role that keeps the firm's records.
pub fn client_lifecycle_allows(firm_roles: &BTreeSet<FirmRole>, intake: bool, walled: bool) -> bool {
    !walled && (intake || firm_roles.iter().any(|role| firm_role_deletes_clients(*role)))
}

/// The handler's standing on a data subject who is a client, as the store found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectStanding {
    pub firm_roles: BTreeSet<FirmRole>,
    /// A wall screens the handler from the client or from any of its matters. The report
    /// names every matter and erasure weighs them all, so a handler who may not see one of
    /// them leaves the request to another.
    pub screened: bool,
}

/// Decides an action on a client's details through a data-subject request.
pub fn subject_request_allows(standing: &SubjectStanding, action: ClientAction) -> bool {
    !standing.screened && standing.firm_roles.iter().any(|role| firm_role_allows_on_subject(*role, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(firm: &[FirmRole], role: Option<MatterRole>, walled: bool) -> Standing {
        Standing { firm_roles: firm.iter().copied().collect(), matter_role: role, walled }
    }

    #[test]
    fn the_table_matches_the_design() {
        use MatterAction as A;
        let expect = |role, allowed: &[MatterAction]| {
            for action in MatterAction::ALL {
                assert_eq!(role_allows(role, action), allowed.contains(&action), "{role} {action:?}");
            }
        };
        expect(
            MatterRole::Lead,
            &[
                A::View,
                A::Edit,
                A::Lifecycle,
                A::ManageMembers,
                A::ReadContent,
                A::WriteContent,
                A::AccessHistory,
                A::Export,
            ],
        );
        for role in FirmRole::ALL {
            assert!(!firm_role_allows(role, A::Export), "{role:?} exports no matter by its firm role");
        }
        assert!(firm_role_allows(FirmRole::Admin, A::ManageWalls));
        assert!(firm_role_allows(FirmRole::Admin, A::Dispose));
        assert!(!firm_role_allows(FirmRole::Auditor, A::Dispose));
        assert!(firm_role_allows(FirmRole::Admin, A::Hold));
        assert!(!firm_role_allows(FirmRole::Auditor, A::Hold));
        assert!(firm_role_allows(FirmRole::Auditor, A::AccessHistory));
        assert!(!firm_role_allows(FirmRole::Auditor, A::View));
        expect(MatterRole::Member, &[A::View, A::Edit, A::ReadContent, A::WriteContent]);
        expect(MatterRole::Viewer, &[A::View, A::ReadContent]);
        expect(MatterRole::Billing, &[A::View]);
    }

    #[test]
    fn no_role_means_nothing_and_a_wall_beats_every_role() {
        for action in MatterAction::ALL {
            assert!(!allows(&standing(&[FirmRole::Attorney], None, false), action));
            assert!(!allows(&standing(&[FirmRole::Attorney], Some(MatterRole::Lead), true), action));
            assert!(!allows(&standing(&[FirmRole::Admin], Some(MatterRole::Lead), true), action));
        }
    }

    #[test]
    fn client_details_follow_the_matters_and_a_client_wall_beats_them() {
        let on = |roles: &[MatterRole], intake, walled| ClientStanding {
            matter_roles: roles.iter().copied().collect(),
            intake,
            walled,
        };
        for action in [ClientAction::ReadDetails, ClientAction::EditDetails] {
            assert!(!client_allows(&on(&[], false, false), action), "no role, no details");
            assert!(client_allows(&on(&[MatterRole::Member], false, false), action));
            assert!(client_allows(&on(&[], true, false), action), "intake");
            assert!(!client_allows(&on(&[MatterRole::Lead], true, true), action), "walled");
        }
        assert!(client_allows(&on(&[MatterRole::Billing], false, false), ClientAction::ReadDetails));
        assert!(!client_allows(&on(&[MatterRole::Viewer], false, false), ClientAction::EditDetails));
    }

    #[test]
    fn no_matter_role_erases_a_client_and_only_administrators_handle_subject_requests() {
        let every_role = MatterRole::ALL.to_vec();
        assert!(!client_allows(
            &ClientStanding { matter_roles: every_role.into_iter().collect(), intake: true, walled: false },
            ClientAction::Erase
        ));
        let handler = |roles: &[FirmRole], screened| SubjectStanding {
            firm_roles: roles.iter().copied().collect(),
            screened,
        };
        for action in ClientAction::ALL {
            assert!(subject_request_allows(&handler(&[FirmRole::Admin], false), action));
            assert!(!subject_request_allows(&handler(&[FirmRole::Admin], true), action), "screened");
            let others = [
                FirmRole::Attorney,
                FirmRole::Paralegal,
                FirmRole::Secretary,
                FirmRole::Billing,
                FirmRole::Auditor,
            ];
            assert!(!subject_request_allows(&handler(&others, false), action));
        }
    }

    #[test]
    fn administrators_and_whoever_took_it_in_delete_a_client_unless_walled() {
        let roles = |r: &[FirmRole]| r.iter().copied().collect::<BTreeSet<_>>();
        assert!(client_lifecycle_allows(&roles(&[FirmRole::Admin]), false, false));
        assert!(client_lifecycle_allows(&roles(&[FirmRole::Paralegal]), true, false));
        assert!(!client_lifecycle_allows(&roles(&[FirmRole::Attorney, FirmRole::Auditor]), false, false));
        assert!(!client_lifecycle_allows(&roles(&[FirmRole::Admin]), true, true), "walled");
    }

    #[test]
    fn admins_manage_members_but_read_only_through_a_role() {
        let admin = standing(&[FirmRole::Admin], None, false);
        assert!(allows(&admin, MatterAction::ManageMembers));
        for action in
            [MatterAction::View, MatterAction::ReadContent, MatterAction::WriteContent, MatterAction::Edit]
        {
            assert!(!allows(&admin, action), "{action:?}");
        }
        assert!(allows(
            &standing(&[FirmRole::Admin], Some(MatterRole::Viewer), false),
            MatterAction::ReadContent
        ));
    }
}
