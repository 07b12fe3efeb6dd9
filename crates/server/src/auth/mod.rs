//! Authentication: who is calling. A session token arrives as a bearer token (API
//! clients) or in the `__Host-` session cookie (browsers, which must then also send the
//! CSRF token on state-changing requests). Authorization — what the caller may do — is
//! the route's `AccessPolicy` and, for matter data, domain code.

mod actor;
pub(crate) mod attempts;
pub mod cookie;
pub mod operator;
pub(crate) mod passkey;
pub mod support;
pub mod totp;

pub use actor::{Actor, authenticate, not_signed_in};
