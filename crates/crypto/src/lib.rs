//! Ringfence's cryptography: the master key, per-firm keys wrapped by it (envelope
//! encryption), each matter's own key wrapped by its firm's, sealed fields bound to their
//! record, and password hashing.
//!
//! The primitives come from RustCrypto and `ring` (AES-GCM and Ed25519); this crate only
//! fixes how they are combined.
//! Key material lives in types that zeroize on drop and print as `[redacted]`.

mod aad;
pub mod audit_chain;
pub mod blob;
pub mod firm_key;
mod gcm;
pub mod master;
pub mod matter_key;
pub mod otp;
pub mod password;
pub mod search;
pub mod secret;
pub mod token;

pub use blob::DataKey;
pub use firm_key::{FieldRef, FirmKey, FirmKeyring, KeyVersion};
pub use master::{MasterKey, WrappedFirmKey};
pub use matter_key::MatterKey;
pub use secret::{SecretBytes, SecretText};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("the operating system's random number generator failed")]
    Randomness,
    #[error("ciphertext failed authentication: wrong key, or moved or altered data")]
    Unauthentic,
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("no firm key of version {0} is loaded")]
    UnknownKeyVersion(u32),
    #[error("invalid master key: {0}")]
    InvalidMasterKey(&'static str),
}

/// Fills an array from the operating system's CSPRNG.
pub fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| CryptoError::Randomness)?;
    Ok(bytes)
}

/// SHA-256, for identifiers that should not be kept in the clear (throttling keys).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
