//! Secret bytes that zeroize on drop and never print.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct SecretBytes<const N: usize>([u8; N]);

impl<const N: usize> SecretBytes<N> {
    pub fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    pub fn random() -> Result<Self, crate::CryptoError> {
        crate::random_array().map(Self)
    }

    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Secret text shown once to its owner (a TOTP secret, a provisioning URI holding it):
/// zeroized on drop, redacted when printed; only [`SecretText::expose`] reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(zeroize::Zeroizing<String>);

impl SecretText {
    pub fn new(text: zeroize::Zeroizing<String>) -> Self {
        Self(text)
    }

    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A 256-bit key of one purpose, kept only sealed under the firm key: random when made,
/// rebuilt from its unsealed bytes, redacted when printed.
macro_rules! sealed_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name($crate::SecretBytes<32>);

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl $name {
            pub fn generate() -> Result<Self, $crate::CryptoError> {
                $crate::SecretBytes::random().map(Self)
            }

            /// The key as unsealed from its field.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, $crate::CryptoError> {
                let bytes: [u8; 32] = bytes.try_into().map_err(|_| $crate::CryptoError::Malformed)?;
                Ok(Self($crate::SecretBytes::new(bytes)))
            }

            /// The raw key, to be sealed under the firm key and nowhere else.
            pub fn expose(&self) -> &[u8; 32] {
                self.0.expose()
            }
        }
    };
}
pub(crate) use sealed_key;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let secret = SecretBytes::new([0x41u8; 32]);
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }

    #[test]
    fn secret_text_does_not_print() {
        let secret = SecretText::new(zeroize::Zeroizing::new("JBSWY3DPEHPK3PXP".to_owned()));
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.expose(), "JBSWY3DPEHPK3PXP");
    }
}
