//! `/api/v1` bodies of the certificate lifecycle: the hotline (operators with an API
//! key), the phone app's lift / revoke / revoke-other / PIN reset (each signed with the
//! My Number card), and the certificate links for registered verifiers.
//!
//! What the card signs for each app request is a short canonical text, like
//! [`crate::ApplicationRequest::to_be_signed`] (UTF-8, `\n` between lines, no trailing
//! newline), documented in `docs/phone-api.md`.

use std::fmt;

use jpki_crypto::sha256;
use serde::{Deserialize, Serialize};

use crate::{
    ApplicationAccepted, CertificateView, DeviceEvidence, KeyRequest, PhoneKind, decode_der,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a base64 DER value (of its text when it is not base64, so that a
/// malformed request still has a well-defined, unverifiable, canonical text).
fn digest(text: &str) -> String {
    let bytes = decode_der(text).unwrap_or_else(|_| text.as_bytes().to_vec());
    hex(&sha256(&bytes))
}

/// How the hotline identifies the caller (本人確認): the My Number, or the name and
/// date of birth (and the address when several residents share them).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PersonIdentification {
    /// 12 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl fmt::Debug for PersonIdentification {
    // Personal data: only which fields are present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonIdentification")
            .field("my_number", &self.my_number.as_ref().map(|_| "[redacted]"))
            .field("name", &self.name.as_ref().map(|_| "[redacted]"))
            .field(
                "date_of_birth",
                &self.date_of_birth.as_ref().map(|_| "[redacted]"),
            )
            .field("address", &self.address.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Which certificates a suspension covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionScope {
    /// スマホ用電子証明書の一時利用停止: the phone certificates.
    #[default]
    Phone,
    /// マイナンバーカードの一時保留: the card certificates.
    Card,
    /// Both.
    All,
}

/// `POST /api/v1/hotline/suspensions` (operator, role `hotline`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspensionRequest {
    pub person: PersonIdentification,
    #[serde(default)]
    pub scope: SuspensionScope,
    /// Free text for the audit log (never personal data, please).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a suspension did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionResult {
    pub resident_id: i64,
    /// Now on hold (certificateHold).
    pub held: Vec<CertificateView>,
    /// Issued but not yet registered phone certificates, revoked (unspecified).
    pub revoked: Vec<CertificateView>,
    /// Open phone applications that were cancelled.
    pub cancelled_applications: Vec<String>,
    pub at: String,
}

/// `POST /api/v1/hotline/lookups` (operator, role `hotline` or `auditor`). A POST so
/// that the My Number never appears in a URL or an access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub person: PersonIdentification,
}

/// A person's certificates as the hotline sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonStatus {
    pub resident_id: i64,
    pub name: String,
    pub deceased: bool,
    pub certificates: Vec<CertificateView>,
}

/// `POST /api/v1/phone/lift` (一時利用停止の解除) from the found phone: device token and
/// the card's signature over [`LiftRequest::to_be_signed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftRequest {
    /// A nonce of purpose `lift`.
    pub nonce: String,
    /// The phone (its SE serial); its device token is the bearer token.
    pub device_id: String,
    /// The card's signature certificate (base64 DER).
    pub card_certificate: String,
    /// The card's signature (base64) over [`LiftRequest::to_be_signed`].
    pub card_signature: String,
    /// The SE's evidence, needed with `signature_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceEvidence>,
    /// A new signature key, attested over the same nonce, to re-issue the signature
    /// certificate (the held one is revoked). Without it, no signature certificate is
    /// re-issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_key: Option<KeyRequest>,
}

impl LiftRequest {
    /// ```text
    /// jpki phone lift v1
    /// nonce <nonce as sent>
    /// device <device_id>
    /// key signature csr <hex SHA-256 of the CSR DER> attestation <hex SHA-256 of the attestation DER>
    /// ```
    /// The `key` line only when a new signature key is sent.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut lines = vec![
            "jpki phone lift v1".to_owned(),
            format!("nonce {}", self.nonce),
            format!("device {}", self.device_id),
        ];
        if let Some(key) = &self.signature_key {
            lines.push(format!(
                "key {} csr {} attestation {}",
                key.kind.as_str(),
                digest(&key.csr),
                digest(&key.attestation)
            ));
        }
        lines.join("\n").into_bytes()
    }
}

/// What lifting did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiftResult {
    /// Released from hold (the phone authentication certificate).
    pub released: Vec<CertificateView>,
    /// Revoked (the held phone signature certificate, superseded).
    pub revoked: Vec<CertificateView>,
    /// The re-issuance of the signature certificate, when a key was sent: follow it and
    /// register as after any application (the device token is new).
    pub application: Option<ApplicationAccepted>,
}

/// `POST /api/v1/phone/revocations`: voluntary revocation (スマホ用電子証明書の失効) from
/// the phone itself: device token and the card's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// A nonce of purpose `revocation`.
    pub nonce: String,
    pub device_id: String,
    /// Which of the phone's certificates.
    pub kinds: Vec<PhoneKind>,
    pub card_certificate: String,
    pub card_signature: String,
}

fn sorted_kinds(kinds: &[PhoneKind]) -> String {
    let mut names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

impl RevocationRequest {
    /// ```text
    /// jpki phone revocation v1
    /// nonce <nonce as sent>
    /// device <device_id>
    /// kinds <kinds, sorted, comma-separated>
    /// ```
    pub fn to_be_signed(&self) -> Vec<u8> {
        format!(
            "jpki phone revocation v1\nnonce {}\ndevice {}\nkinds {}",
            self.nonce,
            self.device_id,
            sorted_kinds(&self.kinds)
        )
        .into_bytes()
    }
}

/// `POST /api/v1/phone/revoke-other`: revoking another phone's certificates with the
/// card (別のスマホのスマホ用電子証明書の失効), e.g. from a new phone after losing the old.
/// No device token: the card's signature is the authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeOtherRequest {
    /// A nonce of purpose `revocation`.
    pub nonce: String,
    /// The other phone (its SE serial, as `jpki phone status` or the usage history shows).
    pub device_id: String,
    pub card_certificate: String,
    pub card_signature: String,
}

impl RevokeOtherRequest {
    /// ```text
    /// jpki phone revoke other v1
    /// nonce <nonce as sent>
    /// device <the other phone's device_id>
    /// ```
    pub fn to_be_signed(&self) -> Vec<u8> {
        format!(
            "jpki phone revoke other v1\nnonce {}\ndevice {}",
            self.nonce, self.device_id
        )
        .into_bytes()
    }
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationResult {
    pub device_id: String,
    pub revoked: Vec<CertificateView>,
    /// No live certificate is left on the phone: it wipes its JPKI AP.
    pub wipe: bool,
}

/// `POST /api/v1/phone/pin-resets`: a locked phone PIN is reset with the card. The
/// portal authorises and records it; the app then sets the new PIN in the SE (which
/// also unblocks it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinResetRequest {
    /// A nonce of purpose `pin_reset`.
    pub nonce: String,
    pub device_id: String,
    /// Whose PIN: the signature password or the authentication PIN.
    pub pin: PhoneKind,
    pub card_certificate: String,
    pub card_signature: String,
}

impl PinResetRequest {
    /// ```text
    /// jpki phone pin reset v1
    /// nonce <nonce as sent>
    /// device <device_id>
    /// pin <signature|authentication>
    /// ```
    pub fn to_be_signed(&self) -> Vec<u8> {
        format!(
            "jpki phone pin reset v1\nnonce {}\ndevice {}\npin {}",
            self.nonce,
            self.device_id,
            self.pin.as_str()
        )
        .into_bytes()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinResetResult {
    pub device_id: String,
    pub pin: PhoneKind,
    pub authorized_at: String,
}

/// A certificate named by issuer and serial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRef {
    pub issuer: String,
    pub serial: String,
}

/// `GET /api/v1/certificates/{issuer}/{serial}/links` (account role `verifier`,
/// `auditor` or `hotline`): the linkage information JPKI gives registered verifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateLinks {
    pub certificate: CertificateView,
    /// 新旧紐付け: the certificate this one renewed or replaced.
    pub replaces: Option<CertificateRef>,
    /// 新旧紐付け: the certificates that renewed or replaced this one, oldest first.
    pub replaced_by: Vec<CertificateView>,
    /// 紐付け: the same person's certificates of the other purpose on the same card or
    /// phone (signature ↔ authentication), live ones.
    pub counterparts: Vec<CertificateView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_der;

    #[test]
    fn canonical_texts_are_exact() {
        let mut lift = LiftRequest {
            nonce: "bm9uY2U".into(),
            device_id: "0123456789ABCDEF0123".into(),
            card_certificate: encode_der(b"card"),
            card_signature: String::new(),
            device: None,
            signature_key: None,
        };
        assert_eq!(
            String::from_utf8(lift.to_be_signed()).unwrap(),
            "jpki phone lift v1\nnonce bm9uY2U\ndevice 0123456789ABCDEF0123"
        );
        lift.signature_key = Some(KeyRequest {
            kind: PhoneKind::Signature,
            csr: encode_der(b"csr"),
            attestation: encode_der(b"att"),
        });
        let text = String::from_utf8(lift.to_be_signed()).unwrap();
        assert_eq!(
            text.lines().last().unwrap(),
            format!(
                "key signature csr {} attestation {}",
                hex(&sha256(b"csr")),
                hex(&sha256(b"att"))
            )
        );
        let revocation = RevocationRequest {
            nonce: "n".into(),
            device_id: "d".into(),
            kinds: vec![
                PhoneKind::Signature,
                PhoneKind::Authentication,
                PhoneKind::Signature,
            ],
            card_certificate: String::new(),
            card_signature: String::new(),
        };
        assert_eq!(
            String::from_utf8(revocation.to_be_signed()).unwrap(),
            "jpki phone revocation v1\nnonce n\ndevice d\nkinds authentication,signature"
        );
        let other = RevokeOtherRequest {
            nonce: "n".into(),
            device_id: "d".into(),
            card_certificate: String::new(),
            card_signature: String::new(),
        };
        assert_eq!(
            String::from_utf8(other.to_be_signed()).unwrap(),
            "jpki phone revoke other v1\nnonce n\ndevice d"
        );
        let reset = PinResetRequest {
            nonce: "n".into(),
            device_id: "d".into(),
            pin: PhoneKind::Authentication,
            card_certificate: String::new(),
            card_signature: String::new(),
        };
        assert_eq!(
            String::from_utf8(reset.to_be_signed()).unwrap(),
            "jpki phone pin reset v1\nnonce n\ndevice d\npin authentication"
        );
    }

    #[test]
    fn identification_debug_hides_personal_data_and_scope_defaults_to_phone() {
        let person = PersonIdentification {
            my_number: Some("123456789018".into()),
            name: Some("公的 太郎".into()),
            ..PersonIdentification::default()
        };
        let debug = format!("{person:?}");
        assert!(
            !debug.contains("1234") && !debug.contains("太郎"),
            "{debug}"
        );
        let request: SuspensionRequest =
            serde_json::from_str(r#"{"person":{"my_number":"123456789018"}}"#).unwrap();
        assert_eq!(request.scope, SuspensionScope::Phone);
        assert!(serde_json::from_str::<SuspensionRequest>(r#"{"person":{},"extra":1}"#).is_err());
    }
}
