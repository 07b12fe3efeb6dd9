//! Password work off the async workers: Argon2id runs on the blocking pool, at most one
//! hash per core at once (see `AppState::hashing`), and strength checks with zxcvbn.

use ringfence_core::user::Password;
use ringfence_crypto::password::{self, PasswordHashError, Verdict};

use crate::AppState;
use crate::error::ApiError;

/// Runs password hashing work under the hashing permit.
async fn bounded<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = state.hashing.acquire().await.map_err(|e| ApiError::internal(&e))?;
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::internal(&e))
}

pub async fn hash(state: &AppState, password: &Password) -> Result<String, ApiError> {
    hash_raw(state, password.expose()).await
}

/// Hashes a password as given, even one below today's rules: for re-hashing a legacy hash
/// at sign-in, where refusing the user's existing password would lock them out.
pub async fn hash_raw(state: &AppState, plain: &str) -> Result<String, ApiError> {
    let plain = zeroize::Zeroizing::new(plain.to_owned());
    bounded(state, move || password::hash(&plain)).await?.map_err(|e| ApiError::internal(&e))
}

/// Verifies against the stored hash, or spends the same work on a dummy when there is none.
pub async fn verify(state: &AppState, plain: &str, stored: Option<String>) -> Result<Verdict, ApiError> {
    let plain = zeroize::Zeroizing::new(plain.to_owned());
    let outcome: Result<Verdict, PasswordHashError> = bounded(state, move || match stored {
        Some(stored) => password::verify(&plain, &stored),
        None => {
            password::verify_dummy(&plain);
            Ok(Verdict::Mismatch)
        }
    })
    .await?;
    outcome.map_err(|e| ApiError::internal(&e))
}

/// A password a person chose: 12 to 256 characters, and not guessable (zxcvbn score of at
/// least 3, counting the user's own details and the product's name as known words).
pub fn strong(raw: &str, user_inputs: &[&str]) -> Result<Password, ApiError> {
    let password = Password::parse(raw).map_err(|e| ApiError::invalid(format!("password: {e}")))?;
    let mut inputs = vec!["ringfence"];
    inputs.extend_from_slice(user_inputs);
    let estimate = zxcvbn::zxcvbn(raw, &inputs);
    if (estimate.score() as u8) < 3 {
        let mut reason = String::from("password: too easy to guess");
        if let Some(feedback) = estimate.feedback() {
            if let Some(warning) = feedback.warning() {
                reason.push_str(&format!(" ({warning})"));
            }
            if let Some(tip) = feedback.suggestions().first() {
                reason.push_str(&format!("; {tip}"));
            }
        }
        return Err(ApiError::invalid(reason));
    }
    Ok(password)
}
