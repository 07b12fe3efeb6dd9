//! Bearer tokens handed to a person once (invitation links). They carry 256 bits from the
//! OS CSPRNG, so a plain SHA-256 is enough to store them: there is nothing to brute-force.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{CryptoError, SecretBytes};

pub struct InvitationToken(SecretBytes<32>);

/// What the database keeps of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl InvitationToken {
    pub fn generate() -> Result<Self, CryptoError> {
        SecretBytes::random().map(Self)
    }

    /// Parses the URL-safe form a person pastes back; `None` if it cannot be a token.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(text.trim()).ok()?);
        let array: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(Self(SecretBytes::new(array)))
    }

    /// The URL-safe text to put in a link. Handle with care: it is the credential.
    pub fn expose(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.0.expose()))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.expose()).into())
    }
}

impl fmt::Debug for InvitationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InvitationToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_parses_back_to_the_same_hash() -> Result<(), CryptoError> {
        let token = InvitationToken::generate()?;
        let parsed = InvitationToken::parse(&token.expose()).ok_or(CryptoError::Malformed)?;
        assert_eq!(parsed.hash(), token.hash());
        assert!(InvitationToken::parse("short").is_none());
        assert_eq!(format!("{token:?}"), "InvitationToken([redacted])");
        Ok(())
    }
}
