//! Access policies: every HTTP route declares one, and the server enforces it before the
//! handler runs. There is no "unspecified" policy, so a route cannot exist unguarded.

use serde::Serialize;

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
}

/// Firm administrators only.
pub const ADMIN: AccessPolicy = AccessPolicy::FirmRole(&[FirmRole::Admin]);
/// Those who read the audit log: audit officers and administrators.
pub const AUDITORS: AccessPolicy = AccessPolicy::FirmRole(&[FirmRole::Auditor, FirmRole::Admin]);

impl AccessPolicy {
    pub fn describe(&self) -> String {
        match self {
            AccessPolicy::Public => "public".to_owned(),
            AccessPolicy::SignedIn => "signed in".to_owned(),
            AccessPolicy::FirmRole(roles) => {
                let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
                format!("firm role: {}", names.join(" or "))
            }
        }
    }
}
