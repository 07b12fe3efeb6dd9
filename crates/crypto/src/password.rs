//! Password hashing: Argon2id with at least OWASP's parameters (19 MiB, 2 passes, 1 lane),
//! stored as PHC strings. Hashing is slow on purpose: callers run it off the async workers.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PasswordHashError {
    #[error("password hashing failed")]
    Hashing,
    #[error("stored password hash is not a valid PHC string")]
    StoredHash,
}

fn argon2id() -> Result<Argon2<'static>, PasswordHashError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|_| PasswordHashError::Hashing)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes with a fresh random salt into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> Result<String, PasswordHashError> {
    Ok(argon2id()?
        .hash_password(password.as_bytes())
        .map_err(|_| PasswordHashError::Hashing)?
        .to_string())
}

/// True when `password` matches the stored PHC string.
pub fn verify(password: &str, stored: &str) -> Result<bool, PasswordHashError> {
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordHashError::StoredHash)?;
    Ok(argon2id()?
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() -> Result<(), PasswordHashError> {
        let stored = hash("correct horse battery staple")?;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery staple", &stored)?);
        assert!(!verify("correct horse battery stapler", &stored)?);
        Ok(())
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() -> Result<(), PasswordHashError> {
        assert_ne!(hash("same password here")?, hash("same password here")?);
        Ok(())
    }
}
