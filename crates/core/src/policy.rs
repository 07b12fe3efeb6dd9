//! Access policies: every HTTP route declares one, and the server enforces it before the
//! handler runs. There is no "unspecified" policy, so a route cannot exist unguarded.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AccessPolicy {
    /// Anyone may call it, signed in or not: health probes and the sign-in steps.
    Public,
}

impl AccessPolicy {
    pub fn describe(&self) -> &'static str {
        match self {
            AccessPolicy::Public => "public",
        }
    }
}
