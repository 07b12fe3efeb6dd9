//! Bearer secrets: invitation links and session tokens. They carry 256 bits from the OS
//! CSPRNG, so a plain SHA-256 is enough to store them: there is nothing to brute-force.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{CryptoError, SecretBytes};

pub struct SecretToken(SecretBytes<32>);

/// What the database keeps of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl SecretToken {
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

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_parses_back_to_the_same_hash() -> Result<(), CryptoError> {
        let token = SecretToken::generate()?;
        let parsed = SecretToken::parse(&token.expose()).ok_or(CryptoError::Malformed)?;
        assert_eq!(parsed.hash(), token.hash());
        assert!(SecretToken::parse("short").is_none());
        assert_eq!(format!("{token:?}"), "SecretToken([redacted])");
        Ok(())
    }
}

/// A token scoped to one firm, as handed out: `<firm id as 32 hex digits>.<token>`. The
/// scope tells the server which firm's store to look the token up in; it is not secret.
pub fn scoped(firm_hex: &str, token: &SecretToken) -> Zeroizing<String> {
    Zeroizing::new(format!("{firm_hex}.{}", token.expose().as_str()))
}

/// Splits a scoped token into its firm (32 lowercase hex digits) and token.
pub fn parse_scoped(text: &str) -> Option<(&str, SecretToken)> {
    let (firm, token) = text.trim().split_once('.')?;
    let hex = firm.len() == 32 && firm.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        return None;
    }
    Some((firm, SecretToken::parse(token)?))
}

#[cfg(test)]
mod scoped_tests {
    use super::*;

    #[test]
    fn scoped_tokens_round_trip_and_reject_junk() -> Result<(), CryptoError> {
        let token = SecretToken::generate()?;
        let firm = "0123456789abcdef0123456789abcdef";
        let text = scoped(firm, &token);
        let (parsed_firm, parsed) = parse_scoped(&text).ok_or(CryptoError::Malformed)?;
        assert_eq!(parsed_firm, firm);
        assert_eq!(parsed.hash(), token.hash());
        for junk in
            ["", "abc", "0123456789ABCDEF0123456789abcdef.x", "../etc.passwd", &format!("{firm}.short")]
        {
            assert!(parse_scoped(junk).is_none(), "{junk}");
        }
        Ok(())
    }
}
