//! Names for certificates: kind (medium × purpose), serial number, status and the
//! RFC 5280 revocation reasons.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where the certificate's private key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    /// The My Number card (マイナンバーカード).
    Card,
    /// A smartphone's secure element (スマホ用電子証明書, 移動端末設備用電子証明書).
    Phone,
}

/// What the certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// 署名用電子証明書: signs documents; carries the basic 4 information.
    Signature,
    /// 利用者証明用電子証明書: proves who is logging in; carries no personal data.
    Authentication,
}

/// A certificate kind: one of card signature, card authentication, phone signature,
/// phone authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CertificateKind {
    pub medium: Medium,
    pub purpose: Purpose,
}

impl CertificateKind {
    pub const CARD_SIGNATURE: Self = Self {
        medium: Medium::Card,
        purpose: Purpose::Signature,
    };
    pub const CARD_AUTHENTICATION: Self = Self {
        medium: Medium::Card,
        purpose: Purpose::Authentication,
    };
    pub const PHONE_SIGNATURE: Self = Self {
        medium: Medium::Phone,
        purpose: Purpose::Signature,
    };
    pub const PHONE_AUTHENTICATION: Self = Self {
        medium: Medium::Phone,
        purpose: Purpose::Authentication,
    };
    pub const ALL: [Self; 4] = [
        Self::CARD_SIGNATURE,
        Self::CARD_AUTHENTICATION,
        Self::PHONE_SIGNATURE,
        Self::PHONE_AUTHENTICATION,
    ];

    /// Stable machine name, as stored and as used on the wire: `card_sign`, `card_auth`,
    /// `phone_sign`, `phone_auth`.
    pub fn as_str(self) -> &'static str {
        match (self.medium, self.purpose) {
            (Medium::Card, Purpose::Signature) => "card_sign",
            (Medium::Card, Purpose::Authentication) => "card_auth",
            (Medium::Phone, Purpose::Signature) => "phone_sign",
            (Medium::Phone, Purpose::Authentication) => "phone_auth",
        }
    }

    /// The Japanese name the guide uses.
    pub fn label_ja(self) -> &'static str {
        match (self.medium, self.purpose) {
            (Medium::Card, Purpose::Signature) => "署名用電子証明書",
            (Medium::Card, Purpose::Authentication) => "利用者証明用電子証明書",
            (Medium::Phone, Purpose::Signature) => "スマホ用署名用電子証明書",
            (Medium::Phone, Purpose::Authentication) => "スマホ用利用者証明用電子証明書",
        }
    }

    pub fn label_en(self) -> &'static str {
        match (self.medium, self.purpose) {
            (Medium::Card, Purpose::Signature) => "card signature certificate",
            (Medium::Card, Purpose::Authentication) => "card user-authentication certificate",
            (Medium::Phone, Purpose::Signature) => "phone signature certificate",
            (Medium::Phone, Purpose::Authentication) => "phone user-authentication certificate",
        }
    }
}

impl fmt::Display for CertificateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown certificate kind {0:?} (expected card_sign, card_auth, phone_sign or phone_auth)")]
pub struct UnknownKind(pub String);

impl FromStr for CertificateKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// A certificate serial number: a positive integer, kept as its minimal big-endian
/// bytes (as in DER, without the sign byte). Displayed as upper-case hex.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialNumber(Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerialError {
    #[error("serial number must be 1 to 20 bytes")]
    Length,
    #[error("serial number must be hexadecimal")]
    Hex,
    #[error("serial number must be positive")]
    Zero,
}

impl SerialNumber {
    /// From big-endian magnitude bytes; leading zero bytes are dropped.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SerialError> {
        let start = bytes
            .iter()
            .position(|&b| b != 0)
            .ok_or(SerialError::Zero)?;
        let bytes = &bytes[start..];
        if bytes.len() > 20 {
            return Err(SerialError::Length);
        }
        Ok(Self(bytes.to_vec()))
    }

    pub fn from_hex(text: &str) -> Result<Self, SerialError> {
        let text = text.trim().trim_start_matches("0x").replace(':', "");
        let text = if text.len() % 2 == 1 {
            format!("0{text}")
        } else {
            text
        };
        let bytes = hex::decode(&text).map_err(|_| SerialError::Hex)?;
        Self::from_bytes(&bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode_upper(&self.0)
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerialNumber({})", self.to_hex())
    }
}

impl TryFrom<String> for SerialNumber {
    type Error = SerialError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_hex(&value)
    }
}

impl From<SerialNumber> for String {
    fn from(value: SerialNumber) -> Self {
        value.to_hex()
    }
}

impl FromStr for SerialNumber {
    type Err = SerialError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

/// RFC 5280 §5.3.1 CRLReason. The J-LIS rules map their causes onto these (see
/// JPKI-FACTS §3.2): 異動 → `AffiliationChanged`, renewal / device change →
/// `Superseded`, no longer needed or death → `CessationOfOperation`, temporary
/// suspension → `CertificateHold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    RemoveFromCrl,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    /// The CRLReason enumerated value.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::RemoveFromCrl => 8,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            2 => Self::CaCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            6 => Self::CertificateHold,
            8 => Self::RemoveFromCrl,
            9 => Self::PrivilegeWithdrawn,
            10 => Self::AaCompromise,
            _ => return None,
        })
    }

    /// The RFC 5280 name in camelCase, as OpenSSL's `-crl_reason` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::RemoveFromCrl => "removeFromCRL",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }
}

impl FromStr for RevocationReason {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        (0..=10)
            .filter_map(Self::from_code)
            .find(|reason| reason.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// Where a certificate is in its life.
///
/// ```text
/// Pending ──register──▶ Active ──hold──▶ Held ──release──▶ Active
///    │                    │                │
///    └──revoke──▶ Revoked ◀──revoke────────┘
/// ```
/// `Pending` is a phone certificate that was issued but not yet registered on the phone
/// (or whose activation delay has not passed); status services answer it as on hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CertificateStatus {
    Pending,
    Active,
    Held {
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    Revoked {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        reason: RevocationReason,
    },
}

impl CertificateStatus {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Held { .. } => "held",
            Self::Revoked { .. } => "revoked",
        }
    }

    pub fn label_ja(&self) -> &'static str {
        match self {
            Self::Pending => "登録待ち",
            Self::Active => "有効",
            Self::Held { .. } => "一時停止中",
            Self::Revoked { .. } => "失効",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in CertificateKind::ALL {
            assert_eq!(kind.as_str().parse::<CertificateKind>().unwrap(), kind);
        }
        assert!("card_signature".parse::<CertificateKind>().is_err());
    }

    #[test]
    fn serial_numbers_are_minimal_positive() {
        let serial = SerialNumber::from_bytes(&[0, 0, 0x81, 0x02]).unwrap();
        assert_eq!(serial.as_bytes(), &[0x81, 0x02]);
        assert_eq!(serial.to_hex(), "8102");
        assert_eq!(SerialNumber::from_hex("0x8102").unwrap(), serial);
        assert_eq!(SerialNumber::from_hex("81:02").unwrap(), serial);
        assert_eq!(SerialNumber::from_bytes(&[0, 0]), Err(SerialError::Zero));
        assert_eq!(SerialNumber::from_bytes(&[1; 21]), Err(SerialError::Length));
        assert_eq!(SerialNumber::from_hex("zz"), Err(SerialError::Hex));
    }

    #[test]
    fn reasons_round_trip_through_codes_and_names() {
        for code in 0..=10 {
            if let Some(reason) = RevocationReason::from_code(code) {
                assert_eq!(reason.code(), code);
                assert_eq!(reason.as_str().parse::<RevocationReason>().unwrap(), reason);
            }
        }
        assert_eq!(RevocationReason::from_code(7), None);
    }
}
