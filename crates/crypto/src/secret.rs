//! Secrets as types: zeroized on drop, `[redacted]` when printed, read through `expose`.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret text (passphrase, password). Never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Default)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself. Name every use: it is the only way in.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

/// Secret bytes (private key DER, symmetric keys, PIN reference data). Never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Default)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(value: Vec<u8>) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.len() == other.len() && bool::from(self.0.as_slice().ct_eq(other))
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(value: Vec<u8>) -> Self {
        Self(value)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([redacted; {} bytes])", self.0.len())
    }
}

/// The rules a JPKI PIN or password follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinPolicy {
    /// 4 digits: the user-authentication PIN (利用者証明用電子証明書暗証番号), the
    /// 券面事項入力補助用 PIN and the 住民基本台帳用 PIN.
    FourDigits,
    /// The signature password (署名用電子証明書パスワード): 6 to 16 characters, upper-case
    /// letters A–Z and digits 0–9 only.
    SignPassword,
}

impl PinPolicy {
    pub fn describe(self) -> &'static str {
        match self {
            PinPolicy::FourDigits => "exactly 4 digits (0-9)",
            PinPolicy::SignPassword => {
                "6 to 16 characters of upper-case A-Z and digits 0-9 (lower-case letters are not allowed)"
            }
        }
    }

    pub fn describe_ja(self) -> &'static str {
        match self {
            PinPolicy::FourDigits => "数字4桁",
            PinPolicy::SignPassword => {
                "英大文字(A-Z)と数字(0-9)で6文字以上16文字以内(小文字は使えません)"
            }
        }
    }

    fn accepts(self, value: &str) -> bool {
        match self {
            PinPolicy::FourDigits => value.len() == 4 && value.bytes().all(|b| b.is_ascii_digit()),
            PinPolicy::SignPassword => {
                (6..=16).contains(&value.len())
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            }
        }
    }
}

/// A PIN or password that follows its policy. Zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pin {
    #[zeroize(skip)]
    policy: PinPolicy,
    value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {what} must be {rule}")]
pub struct PinError {
    pub what: &'static str,
    pub rule: &'static str,
}

impl Pin {
    /// Checks `value` against `policy`. The error names the rule, never the value.
    pub fn new(policy: PinPolicy, value: &str) -> Result<Self, PinError> {
        if policy.accepts(value) {
            Ok(Self {
                policy,
                value: value.to_owned(),
            })
        } else {
            let what = match policy {
                PinPolicy::FourDigits => "PIN",
                PinPolicy::SignPassword => "signature password",
            };
            Err(PinError {
                what,
                rule: policy.describe(),
            })
        }
    }

    pub fn policy(&self) -> PinPolicy {
        self.policy
    }

    /// The ASCII bytes a VERIFY command carries.
    pub fn expose(&self) -> &[u8] {
        self.value.as_bytes()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pin({:?}, [redacted])", self.policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let text = SecretString::from("hunter2");
        let bytes = SecretBytes::from(b"key".to_vec());
        let pin = Pin::new(PinPolicy::FourDigits, "1234").unwrap();
        for printed in [
            format!("{text:?}"),
            format!("{bytes:?}"),
            format!("{pin:?}"),
        ] {
            assert!(
                !printed.contains("hunter2")
                    && !printed.contains("key\"")
                    && !printed.contains("1234")
            );
            assert!(printed.contains("redacted"));
        }
    }

    #[test]
    fn four_digit_pins() {
        assert!(Pin::new(PinPolicy::FourDigits, "0000").is_ok());
        for bad in ["123", "12345", "12a4", "１２３４", ""] {
            assert!(Pin::new(PinPolicy::FourDigits, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signature_passwords() {
        for good in ["ABC123", "A1B2C3D4E5F6G7H8", "123456", "ABCDEF"] {
            assert!(Pin::new(PinPolicy::SignPassword, good).is_ok(), "{good}");
        }
        for bad in [
            "abc123",
            "ABC12",
            "A1B2C3D4E5F6G7H8I",
            "ABC 123",
            "ABC-123",
            "ＡＢＣ１２３",
        ] {
            let err = Pin::new(PinPolicy::SignPassword, bad).unwrap_err();
            assert!(err.to_string().contains("lower-case"), "{err}");
        }
    }

    #[test]
    fn secret_bytes_compare_in_constant_time() {
        let secret = SecretBytes::from(vec![1, 2, 3]);
        assert!(secret.ct_eq(&[1, 2, 3]));
        assert!(!secret.ct_eq(&[1, 2, 4]));
        assert!(!secret.ct_eq(&[1, 2]));
    }
}
