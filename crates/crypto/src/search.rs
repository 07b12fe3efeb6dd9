//! The blind index: search terms are stored only as keyed hashes under a firm's own search
//! key, so the index can be matched against without holding any term in the clear.

/// Bytes of each term's keyed hash that are kept: collisions stay negligible for any
/// firm's vocabulary, and the index stays small.
pub const BLIND_TERM_LEN: usize = 16;

crate::secret::sealed_key!(
    /// A firm's search key.
    SearchKey
);

impl SearchKey {
    /// The keyed hash (HMAC-SHA256, truncated) a term is indexed and searched under.
    pub fn blind(&self, term: &str) -> Vec<u8> {
        crate::otp::keyed_hash(&self.0, &[b"ringfence.search-term.v1", term.as_bytes()])[..BLIND_TERM_LEN]
            .to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CryptoError;

    #[test]
    fn terms_blind_alike_under_one_key_only() -> Result<(), CryptoError> {
        let key = SearchKey::generate()?;
        assert_eq!(key.blind("witness"), key.blind("witness"));
        assert_ne!(key.blind("witness"), key.blind("witnesses"));
        assert_ne!(key.blind("witness"), SearchKey::generate()?.blind("witness"));
        assert_eq!(key.blind("witness").len(), BLIND_TERM_LEN);
        assert_eq!(format!("{key:?}"), "SearchKey([redacted])");
        Ok(())
    }
}
