//! Opaque identifiers. Each is a UUID underneath, but the types keep a firm id from being
//! passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// 32 lowercase hex digits: safe inside file names and SQL identifiers.
            pub fn simple(&self) -> String {
                self.0.simple().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl $name {
            /// Parses an id from outside in any spelling ([`parse_id`]).
            pub fn parse(raw: &str) -> Option<Self> {
                parse_id(raw).map(Self)
            }
        }
    };
}

/// An id from outside, in any spelling a UUID may have (capitals, braces, `urn:uuid:`, no
/// hyphens), parsed once into the one value it names: whatever the request spelt, the
/// check, the data and the log all see the same id.
pub fn parse_id(raw: &str) -> Option<Uuid> {
    Uuid::try_parse(raw).ok()
}

id_type!(
    /// A firm: one tenant with its own database and keys.
    FirmId
);
id_type!(
    /// A firm user.
    UserId
);
id_type!(
    /// A matter: one piece of legal work, behind its ring-fence.
    MatterId
);
id_type!(
    /// A client of the firm.
    ClientId
);
id_type!(
    /// A data subject's request (access, correction, erasure, objection) on the firm's register.
    SubjectRequestId
);
id_type!(
    /// A note on a matter.
    NoteId
);
id_type!(
    /// A document on a matter (all its versions).
    DocumentId
);
id_type!(
    /// A signed-in session.
    SessionId
);
id_type!(
    /// A registered passkey.
    PasskeyId
);
id_type!(
    /// A support grant: one operator's time-limited, scoped access to one firm.
    SupportGrantId
);
id_type!(
    /// An operator of the deployment: the hosting provider's staff, apart from every firm.
    OperatorId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_id_names_the_same_one() {
        let id = "0b6a4f4e-8c1d-4d2e-9f3a-1b2c3d4e5f60";
        for spelling in [
            id,
            "0B6A4F4E-8C1D-4D2E-9F3A-1B2C3D4E5F60",
            "urn:uuid:0b6a4f4e-8c1d-4d2e-9f3a-1b2c3d4e5f60",
            "URN:UUID:0B6A4F4E-8C1D-4D2E-9F3A-1B2C3D4E5F60",
            "{0b6a4f4e-8c1d-4d2e-9f3a-1b2c3d4e5f60}",
            "0b6a4f4e8c1d4d2e9f3a1b2c3d4e5f60",
        ] {
            assert_eq!(parse_id(spelling).map(|u| u.to_string()).as_deref(), Some(id), "{spelling}");
        }
        for junk in [
            "0b6a4f4e-8c1d-4d2e-9f3a-1b2c3d4e5f60\0",
            "",
            "0b6a4f4e",
            "\u{202e}0b6a4f4e-8c1d-4d2e-9f3a-1b2c3d4e5f60",
        ] {
            assert_eq!(parse_id(junk), None, "{junk:?}");
        }
    }
}
