//! Ringfence's domain: identifiers, parsed values, roles and access policies.
//!
//! Everything here is pure: no I/O, no wall clock, no randomness except through the
//! [`clock::Clock`] handed in by the caller.

pub mod audit;
pub mod auth;
pub mod clock;
pub mod data_subject;
pub mod deletion;
pub mod document;
pub mod extract;
pub mod firm;
pub mod ids;
pub mod local_time;
pub mod matter;
pub mod policy;
pub mod principal;
pub mod reason;
pub mod retention;
pub mod search;
pub mod throttle;
pub mod user;
pub mod words;
