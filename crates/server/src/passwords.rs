//! Password work off the async workers: Argon2id runs on the blocking pool, at most one
//! hash per core at once (see `AppState::hashing`), and strength checks with zxcvbn.

use ringfence_core::firm::Firm;
use ringfence_core::user::{Email, Password};
use ringfence_crypto::password::{self, PasswordHashError, Verdict};

use crate::AppState;
use crate::app::AppError;

/// Runs password hashing work under the hashing permit.
async fn bounded<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = state.hashing.acquire().await.map_err(AppError::internal)?;
    tokio::task::spawn_blocking(work).await.map_err(AppError::internal)
}

pub async fn hash(state: &AppState, password: &Password) -> Result<String, AppError> {
    hash_raw(state, password.expose()).await
}

/// Hashes a password as given, even one below today's rules: for re-hashing a legacy hash
/// at sign-in, where refusing the user's existing password would lock them out.
pub async fn hash_raw(state: &AppState, plain: &str) -> Result<String, AppError> {
    let plain = zeroize::Zeroizing::new(plain.to_owned());
    bounded(state, move || password::hash(&plain)).await?.map_err(AppError::internal)
}

/// Verifies against the stored hash, or spends the same work on a dummy when there is none.
pub async fn verify(state: &AppState, plain: &str, stored: Option<String>) -> Result<Verdict, AppError> {
    let plain = zeroize::Zeroizing::new(plain.to_owned());
    let outcome: Result<Verdict, PasswordHashError> = bounded(state, move || match stored {
        Some(stored) => password::verify(&plain, &stored),
        None => {
            password::verify_dummy(&plain);
            Ok(Verdict::Mismatch)
        }
    })
    .await?;
    outcome.map_err(AppError::internal)
}

/// What a password must not be built from: the person's and the firm's own words.
pub struct KnownWords<'a> {
    pub email: &'a Email,
    pub name: Option<&'a str>,
    pub firm: &'a Firm,
}

impl KnownWords<'_> {
    /// The words zxcvbn is told the person is likely to use: the whole address, each part of
    /// the name, of the address's local part and domain, of the firm's name and of its slug,
    /// and each of those run together ("smithjones", "samsecretary"), all in lower case.
    pub fn words(&self) -> Vec<String> {
        let (local, domain) = self.email.as_str().split_once('@').unwrap_or((self.email.as_str(), ""));
        let mut words = vec!["ringfence".to_owned(), self.email.as_str().to_lowercase()];
        for text in
            [self.name.unwrap_or_default(), local, domain, self.firm.name.as_str(), self.firm.slug.as_str()]
        {
            let parts: Vec<String> = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|part| !part.is_empty())
                .map(str::to_lowercase)
                .collect();
            if parts.len() > 1 {
                words.push(parts.concat());
            }
            words.extend(parts);
        }
        words.sort();
        words.dedup();
        words
    }
}

/// `text` as a sentence: ending with a full stop.
fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?']) { text.to_owned() } else { format!("{text}.") }
}

/// A password a person chose: 12 to 256 characters, and not guessable (zxcvbn score of at
/// least 3, counting the person's and the firm's own words and the product's name as known).
pub fn strong(raw: &str, known: &KnownWords<'_>) -> Result<Password, AppError> {
    let password = Password::parse(raw).map_err(|e| AppError::invalid("password", e.to_string()))?;
    let words = known.words();
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(raw, &inputs);
    if (estimate.score() as u8) < 3 {
        // zxcvbn's warning and tip are sentences of their own: "too easy to guess. This is
        // a very common password. Add another word or two."
        let mut reason = String::from("too easy to guess.");
        if let Some(feedback) = estimate.feedback() {
            if let Some(warning) = feedback.warning() {
                reason.push_str(&format!(" {}", sentence(&warning.to_string())));
            }
            if let Some(tip) = feedback.suggestions().first() {
                reason.push_str(&format!(" {}", sentence(&tip.to_string())));
            }
        }
        return Err(AppError::invalid("password", reason));
    }
    Ok(password)
}
