//! Password hashing: Argon2id with at least OWASP's parameters (19 MiB, 2 passes, 1 lane),
//! stored as PHC strings. Legacy bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) from imported
//! systems still verify, and are flagged for re-hashing. Hashing is slow on purpose:
//! callers run it off the async workers, a bounded number at once.

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PasswordHashError {
    #[error("password hashing failed")]
    Hashing,
    #[error("stored password hash is not a valid PHC or bcrypt string")]
    StoredHash,
}

const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

fn argon2id() -> Result<Argon2<'static>, PasswordHashError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|_| PasswordHashError::Hashing)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes with a fresh random salt into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> Result<String, PasswordHashError> {
    Ok(argon2id()?.hash_password(password.as_bytes()).map_err(|_| PasswordHashError::Hashing)?.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    /// Matches; `rehash` when the stored form is legacy or weaker than today's parameters.
    Match {
        rehash: bool,
    },
}

/// Checks `password` against a stored Argon2id or legacy bcrypt hash.
pub fn verify(password: &str, stored: &str) -> Result<Verdict, PasswordHashError> {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        let matched = bcrypt::verify(password, stored).map_err(|_| PasswordHashError::StoredHash)?;
        return Ok(if matched { Verdict::Match { rehash: true } } else { Verdict::Mismatch });
    }
    let parsed = PasswordHash::new(stored).map_err(|_| PasswordHashError::StoredHash)?;
    if argon2id()?.verify_password(password.as_bytes(), &parsed).is_err() {
        return Ok(Verdict::Mismatch);
    }
    let current = Params::try_from(&parsed).is_ok_and(|p| {
        p.m_cost() >= MEMORY_KIB && p.t_cost() >= PASSES && parsed.algorithm.as_str() == "argon2id"
    });
    Ok(Verdict::Match { rehash: !current })
}

/// A real Argon2id hash of a random password, verified against when the account does not
/// exist, so an unknown email costs the same time as a wrong password.
static DUMMY: LazyLock<Option<String>> = LazyLock::new(|| {
    let random: [u8; 16] = crate::random_array().ok()?;
    hash(&random.iter().map(|b| format!("{b:02x}")).collect::<String>()).ok()
});

/// Spends the same work as [`verify`] on a real account, and never matches.
pub fn verify_dummy(password: &str) {
    if let Some(dummy) = DUMMY.as_deref() {
        let _ = verify(password, dummy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() -> Result<(), PasswordHashError> {
        let stored = hash("correct horse battery staple")?;
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert_eq!(verify("correct horse battery staple", &stored)?, Verdict::Match { rehash: false });
        assert_eq!(verify("correct horse battery stapler", &stored)?, Verdict::Mismatch);
        Ok(())
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() -> Result<(), PasswordHashError> {
        assert_ne!(hash("same password here")?, hash("same password here")?);
        Ok(())
    }

    #[test]
    fn legacy_bcrypt_verifies_and_asks_for_a_rehash() -> Result<(), PasswordHashError> {
        let legacy = bcrypt::hash("imported password", 12).map_err(|_| PasswordHashError::Hashing)?;
        assert!(legacy.starts_with("$2b$12$"));
        assert_eq!(verify("imported password", &legacy)?, Verdict::Match { rehash: true });
        assert_eq!(verify("imported passwort", &legacy)?, Verdict::Mismatch);
        let y_variant = legacy.replacen("$2b$", "$2y$", 1);
        assert_eq!(verify("imported password", &y_variant)?, Verdict::Match { rehash: true });
        Ok(())
    }

    #[test]
    fn weaker_argon2_parameters_ask_for_a_rehash() -> Result<(), PasswordHashError> {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).map_err(|_| PasswordHashError::Hashing)?,
        )
        .hash_password(b"an older password")
        .map_err(|_| PasswordHashError::Hashing)?
        .to_string();
        assert_eq!(verify("an older password", &weak)?, Verdict::Match { rehash: true });
        Ok(())
    }
}
