//! One-time codes: emailed codes (random digits, kept only as a keyed hash) and TOTP
//! (RFC 6238) with the matched time step returned, so a used step can be refused.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

use crate::{CryptoError, SecretBytes};

/// Digits in an emailed code.
pub const EMAIL_CODE_DIGITS: u32 = 6;

/// An emailed sign-in code. Never logged; printed only into the mail.
pub struct EmailCode(Zeroizing<String>);

impl EmailCode {
    /// Uniform over 000000–999999 (rejection sampling, so no digit is more likely).
    pub fn generate() -> Result<Self, CryptoError> {
        let modulus = 10u32.pow(EMAIL_CODE_DIGITS);
        let limit = u32::MAX - u32::MAX % modulus;
        loop {
            let value = u32::from_be_bytes(crate::random_array()?);
            if value < limit {
                let width = EMAIL_CODE_DIGITS as usize;
                return Ok(Self(Zeroizing::new(format!("{:0width$}", value % modulus))));
            }
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailCode([redacted])")
    }
}

/// HMAC-SHA256 of `parts` under `key`: a keyed hash, so a stolen database alone does not
/// let anyone test the million possible codes.
pub fn keyed_hash(key: &SecretBytes<32>, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(&crate::aad::encode(parts));
    mac.finalize().into_bytes().into()
}

/// Constant-time equality of two hashes.
pub fn hashes_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A TOTP secret: 160 bits, as RFC 4226 recommends.
pub struct TotpSecret(SecretBytes<20>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// Codes are 6 digits for 30-second steps, accepted one step either side.
const TOTP_STEP_SECONDS: u64 = 30;

impl TotpSecret {
    pub fn generate() -> Result<Self, CryptoError> {
        SecretBytes::random().map(Self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(SecretBytes::new(bytes.try_into().ok()?)))
    }

    /// Parses the base32 form shown to the user at enrolment.
    pub fn from_base32(text: &str) -> Option<Self> {
        Self::from_bytes(Secret::try_from_base32(text).ok()?.as_ref())
    }

    pub fn expose(&self) -> &[u8; 20] {
        self.0.expose()
    }

    fn totp(&self, issuer: &str, account: &str) -> Result<Totp, CryptoError> {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(TOTP_STEP_SECONDS)
            .with_secret(self.0.expose().to_vec())
            .with_account_name(account)
            .with_issuer(Some(issuer))
            .build()
            .map_err(|_| CryptoError::Malformed)
    }

    /// The base32 secret and the `otpauth://` URI for authenticator apps.
    pub fn provisioning(
        &self,
        issuer: &str,
        account: &str,
    ) -> Result<(Zeroizing<String>, Zeroizing<String>), CryptoError> {
        let url = self.totp(issuer, account)?.to_url().map_err(|_| CryptoError::Malformed)?;
        let base32 = Secret::from(self.0.expose().to_vec()).to_base32();
        Ok((Zeroizing::new(base32), Zeroizing::new(url)))
    }

    /// The time step whose code matches, checking the current step and one either side.
    pub fn matching_step(&self, code: &str, unix_seconds: u64) -> Result<Option<u64>, CryptoError> {
        let totp = self.totp("ringfence", "user")?;
        let current = unix_seconds / TOTP_STEP_SECONDS;
        let candidates = [current.saturating_sub(1), current, current + 1];
        let mut matched = None;
        for step in candidates {
            let expected = totp.generate(step * TOTP_STEP_SECONDS).to_string();
            // Compare every candidate, without stopping early, in constant time per candidate.
            let equal = expected.len() == code.len()
                && expected.bytes().zip(code.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if equal && matched.is_none() {
                matched = Some(step);
            }
        }
        Ok(matched)
    }

    /// The code for a given time, for tests and for the enrolment check.
    pub fn code_at(&self, unix_seconds: u64) -> Result<String, CryptoError> {
        Ok(self.totp("ringfence", "user")?.generate(unix_seconds).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_codes_are_six_digits() -> Result<(), CryptoError> {
        for _ in 0..200 {
            let code = EmailCode::generate()?;
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(format!("{:?}", EmailCode::generate()?), "EmailCode([redacted])");
        Ok(())
    }

    #[test]
    fn totp_matches_rfc_6238_and_reports_the_step() -> Result<(), CryptoError> {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s -> 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let secret = TotpSecret::from_bytes(b"12345678901234567890").ok_or(CryptoError::Malformed)?;
        assert_eq!(secret.code_at(59)?, "287082");
        assert_eq!(secret.matching_step("287082", 59)?, Some(1));
        assert_eq!(secret.matching_step("287082", 59 + 30)?, Some(1), "one step late still matches");
        assert_eq!(secret.matching_step("287082", 59 + 90)?, None, "three steps late does not");
        assert_eq!(secret.matching_step("000000", 59)?, None);
        Ok(())
    }

    #[test]
    fn keyed_hashes_depend_on_key_and_every_part() -> Result<(), CryptoError> {
        let key = SecretBytes::random()?;
        let other = SecretBytes::random()?;
        let base = keyed_hash(&key, &[b"challenge-1", b"123456"]);
        assert!(hashes_equal(&base, &keyed_hash(&key, &[b"challenge-1", b"123456"])));
        assert!(!hashes_equal(&base, &keyed_hash(&key, &[b"challenge-2", b"123456"])));
        assert!(!hashes_equal(&base, &keyed_hash(&other, &[b"challenge-1", b"123456"])));
        Ok(())
    }
}
