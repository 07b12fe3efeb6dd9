//! Access policies: every HTTP route declares one, and the server enforces it before the
//! handler runs. There is no "unspecified" policy, so a route cannot exist unguarded.

use serde::Serialize;

use crate::matter::MatterAction;
use crate::user::FirmRole;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "roles")]
pub enum AccessPolicy {
    /// Anyone may call it, signed in or not: health probes and the sign-in steps.
    Public,
    /// Any signed-in user, for their own account.
    SignedIn,
    /// A signed-in user holding at least one of these firm roles (others get 403).
    FirmRole(&'static [FirmRole]),
    /// A signed-in user allowed this action on the matter the route names. The handler
    /// cannot reach the matter's data without the proof the access check makes; a caller
    /// without it gets 404, as for a matter that does not exist.
    Matter(MatterAction),
    /// A signed-in operator of the deployment: the operator pages and API. No firm user
    /// passes, and an operator passes no other policy.
    Operator,
}

/// Firm administrators only.
pub const ADMIN: AccessPolicy = AccessPolicy::FirmRole(&[FirmRole::Admin]);
/// Those who keep client records (contact details, identity numbers).
pub const CLIENT_KEEPERS: AccessPolicy =
    AccessPolicy::FirmRole(&[FirmRole::Admin, FirmRole::Attorney, FirmRole::Paralegal, FirmRole::Secretary]);
/// Those who open matters (and become their lead).
pub const MATTER_OPENERS: AccessPolicy = AccessPolicy::FirmRole(&[FirmRole::Attorney, FirmRole::Paralegal]);
/// Those who read the audit log: audit officers and administrators.
pub const AUDITORS: AccessPolicy = AccessPolicy::FirmRole(&[FirmRole::Auditor, FirmRole::Admin]);
/// Those who keep the register of data-subject requests and handle them: the roles
/// `matter::firm_role_allows_on_subject` allows (administrators; the firm has no
/// information-officer role).
pub const DATA_SUBJECT_HANDLERS: AccessPolicy = AccessPolicy::FirmRole(&[FirmRole::Admin]);

/// What a firm role lets its holder do across the firm, in a sentence for whoever hands
/// roles out. Put together from the policies above and the matter rules, so it says what the
/// server enforces.
pub fn firm_role_in_words(role: FirmRole) -> String {
    use crate::matter::{MatterAction as A, firm_role_allows};
    use crate::words::capitalised;
    let holds = |policy: AccessPolicy| policy.firm_roles().contains(&role);
    let on_every_matter = |action| firm_role_allows(role, action);
    let powers: Vec<&str> = [
        (holds(ADMIN), "manages the firm's users and settings"),
        (on_every_matter(A::ManageWalls), "walls people off matters"),
        (holds(MATTER_OPENERS), "opens matters, leading them"),
        (holds(CLIENT_KEEPERS), "keeps client records"),
        (holds(DATA_SUBJECT_HANDLERS), "handles data-subject requests"),
        (holds(AUDITORS), "reads the audit log"),
        (on_every_matter(A::AccessHistory), "reviews who opened each matter"),
    ]
    .into_iter()
    .filter_map(|(held, power)| held.then_some(power))
    .collect();
    let powers = match powers.as_slice() {
        [] => "No firm-wide powers".to_owned(),
        [only] => capitalised(only),
        [first @ .., last] => format!("{}, and {last}", capitalised(&first.join(", "))),
    };
    let content = if on_every_matter(A::ReadContent) {
        "reads every matter's documents and notes"
    } else {
        "reads a matter's documents and notes only with a role on that matter"
    };
    format!("{powers}; {content}.")
}

impl AccessPolicy {
    /// The firm roles a `FirmRole` policy admits (none for the others).
    pub fn firm_roles(&self) -> &'static [FirmRole] {
        match self {
            AccessPolicy::FirmRole(roles) => roles,
            AccessPolicy::Public
            | AccessPolicy::SignedIn
            | AccessPolicy::Matter(_)
            | AccessPolicy::Operator => &[],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            AccessPolicy::Public => "public".to_owned(),
            AccessPolicy::SignedIn => "signed in".to_owned(),
            AccessPolicy::FirmRole(roles) => {
                let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
                format!("firm role: {}", names.join(" or "))
            }
            AccessPolicy::Matter(action) => format!("matter: {action:?}"),
            AccessPolicy::Operator => "operator".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matter::{ClientAction, firm_role_allows_on_subject};

    #[test]
    fn each_role_is_explained_by_what_the_policies_let_it_do() {
        let words = |role| firm_role_in_words(role);
        assert_eq!(
            words(FirmRole::Admin),
            "Manages the firm's users and settings, walls people off matters, keeps client records, \
             handles data-subject requests, reads the audit log, and reviews who opened each matter; \
             reads a matter's documents and notes only with a role on that matter."
        );
        assert_eq!(
            words(FirmRole::Attorney),
            "Opens matters, leading them, and keeps client records; reads a matter's documents and \
             notes only with a role on that matter."
        );
        assert_eq!(words(FirmRole::Attorney), words(FirmRole::Paralegal));
        assert_eq!(
            words(FirmRole::Secretary),
            "Keeps client records; reads a matter's documents and notes only with a role on that matter."
        );
        assert_eq!(
            words(FirmRole::Billing),
            "No firm-wide powers; reads a matter's documents and notes only with a role on that matter."
        );
        assert_eq!(
            words(FirmRole::Auditor),
            "Reads the audit log, and reviews who opened each matter; reads a matter's documents and \
             notes only with a role on that matter."
        );
    }

    #[test]
    fn the_register_admits_exactly_the_roles_that_handle_subject_requests() {
        for role in FirmRole::ALL {
            let handles =
                ClientAction::ALL.into_iter().any(|action| firm_role_allows_on_subject(role, action));
            assert_eq!(DATA_SUBJECT_HANDLERS.firm_roles().contains(&role), handles, "{role:?}");
        }
    }
}
