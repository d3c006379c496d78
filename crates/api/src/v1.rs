//! `/api/v1` request and response bodies. Binary values are base64: standard alphabet
//! with padding for DER, URL-safe without padding for nonces and tokens (they appear in
//! URLs and headers).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jpki_crypto::sha256;
use jpki_model::{CertificateKind, Purpose};
use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// Media type of error bodies (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Base64 of DER (standard alphabet, padded).
pub fn encode_der(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn decode_der(text: &str) -> Result<Vec<u8>, WireError> {
    STANDARD
        .decode(text.trim())
        .map_err(|_| WireError::Base64("DER value"))
}

/// Base64url without padding (nonces, tokens).
pub fn encode_token(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode_token(text: &str) -> Result<Vec<u8>, WireError> {
    URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|_| WireError::Base64("token"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("{0} is not valid base64")]
    Base64(&'static str),
}

/// What a nonce will be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoncePurpose {
    /// Binds a phone application: the card's signature and the SE's attestations.
    Application,
    /// Binds a registration: the new authentication key's signature.
    Registration,
    /// Binds a lift of a suspension (一時利用停止の解除), signed with the card.
    Lift,
    /// Binds a revocation (of this phone's or another phone's certificates).
    Revocation,
    /// Binds a phone PIN reset.
    PinReset,
}

impl NoncePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Registration => "registration",
            Self::Lift => "lift",
            Self::Revocation => "revocation",
            Self::PinReset => "pin_reset",
        }
    }
}

/// `POST /api/v1/nonces`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NonceRequest {
    pub purpose: NoncePurpose,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceResponse {
    /// base64url, 32 random bytes.
    pub nonce: String,
    pub purpose: NoncePurpose,
    /// RFC 3339.
    pub expires_at: String,
}

/// Which phone certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    Signature,
    Authentication,
}

impl PhoneKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Authentication => "authentication",
        }
    }

    pub fn certificate_kind(self) -> CertificateKind {
        match self {
            Self::Signature => CertificateKind::PHONE_SIGNATURE,
            Self::Authentication => CertificateKind::PHONE_AUTHENTICATION,
        }
    }

    pub fn purpose(self) -> Purpose {
        match self {
            Self::Signature => Purpose::Signature,
            Self::Authentication => Purpose::Authentication,
        }
    }

    pub fn from_certificate_kind(kind: CertificateKind) -> Option<Self> {
        match kind {
            CertificateKind::PHONE_SIGNATURE => Some(Self::Signature),
            CertificateKind::PHONE_AUTHENTICATION => Some(Self::Authentication),
            _ => None,
        }
    }
}

/// The secure element, as its vendor certified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEvidence {
    /// The SE serial, as in the device certificate and the attestations.
    pub se_serial: String,
    /// The device certificate (base64 DER), issued by the SE vendor.
    pub device_certificate: String,
    /// Further vendor certificates between the device certificate and a vendor root.
    #[serde(default)]
    pub vendor_chain: Vec<String>,
}

/// One key to certify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    pub kind: PhoneKind,
    /// PKCS#10 signed by the new key (base64 DER).
    pub csr: String,
    /// The SE's attestation of the key, bound to the application nonce (base64 DER).
    pub attestation: String,
}

/// `POST /api/v1/applications`: a phone application, signed with the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    /// An application nonce (base64url).
    pub nonce: String,
    pub kinds: Vec<PhoneKind>,
    /// The card's signature certificate (base64 DER), read from the card after the
    /// signature password.
    pub card_certificate: String,
    /// The card's signature (base64) over [`ApplicationRequest::to_be_signed`]:
    /// RSASSA-PKCS1-v1_5 with SHA-256, made by the card's COMPUTE DIGITAL SIGNATURE.
    pub card_signature: String,
    pub device: DeviceEvidence,
    pub keys: Vec<KeyRequest>,
}

impl ApplicationRequest {
    /// The canonical text the card signs (UTF-8, `\n` line ends, no trailing newline):
    ///
    /// ```text
    /// jpki phone application v1
    /// nonce <nonce as sent>
    /// kinds <kinds, sorted, comma-separated: authentication,signature>
    /// device <se_serial>
    /// key <kind> csr <hex SHA-256 of the CSR DER> attestation <hex SHA-256 of the attestation DER>
    /// …one key line per key, sorted by kind
    /// ```
    /// Values that do not decode as base64 are hashed as their text, so a malformed
    /// request still has a well-defined (and then unverifiable) canonical form.
    pub fn to_be_signed(&self) -> Vec<u8> {
        let mut kinds: Vec<&str> = self.kinds.iter().map(|kind| kind.as_str()).collect();
        kinds.sort_unstable();
        let mut keys: Vec<&KeyRequest> = self.keys.iter().collect();
        keys.sort_by_key(|key| key.kind.as_str());
        let digest = |text: &str| {
            let bytes = decode_der(text).unwrap_or_else(|_| text.as_bytes().to_vec());
            hex(&sha256(&bytes))
        };
        let mut lines = vec![
            "jpki phone application v1".to_owned(),
            format!("nonce {}", self.nonce),
            format!("kinds {}", kinds.join(",")),
            format!("device {}", self.device.se_serial),
        ];
        for key in keys {
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

/// The canonical text the new phone authentication key signs to confirm registration:
///
/// ```text
/// jpki phone registration v1
/// application <application id>
/// nonce <registration nonce as sent>
/// ```
pub fn registration_to_be_signed(application_id: &str, nonce: &str) -> Vec<u8> {
    format!("jpki phone registration v1\napplication {application_id}\nnonce {nonce}").into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    Queued,
    Issued,
    Registered,
    Superseded,
    Failed,
}

/// `202 Accepted` for an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationAccepted {
    pub application_id: String,
    pub state: ApplicationState,
    /// The phone's bearer token for its events and certificates (base64url). Keep it in
    /// the app's private storage; the portal keeps only its hash.
    pub device_token: String,
    pub device_id: String,
    /// When queued outside service hours: when issuance is expected (RFC 3339).
    pub expected_issuance: Option<String>,
}

/// A certificate as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateView {
    pub kind: String,
    pub issuer: String,
    pub serial: String,
    /// `pending`, `active`, `held` or `revoked`.
    pub status: String,
    pub revocation_reason: Option<String>,
    pub not_before: String,
    pub not_after: String,
    pub device_id: Option<String>,
    pub card_id: Option<String>,
}

/// `GET /api/v1/applications/{id}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationView {
    pub application_id: String,
    pub state: ApplicationState,
    pub kinds: Vec<PhoneKind>,
    pub device_id: String,
    pub submitted_at: String,
    pub issued_at: Option<String>,
    pub registered_at: Option<String>,
    pub active_from: Option<String>,
    pub failure: Option<String>,
}

/// `GET /api/v1/applications/{id}/certificates`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCertificates {
    pub application_id: String,
    pub certificates: Vec<IssuedCertificate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCertificate {
    pub kind: PhoneKind,
    /// The certificate (base64 DER).
    pub certificate: String,
    /// The issuing CA's certificate (base64 DER), for the SE's CA EF.
    pub ca_certificate: String,
}

/// `POST /api/v1/applications/{id}/registration`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationRequest {
    /// A registration nonce (base64url).
    pub nonce: String,
    /// The new phone authentication key's signature (base64) over
    /// [`registration_to_be_signed`].
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationResult {
    pub application_id: String,
    pub state: ApplicationState,
    /// When relying parties see the certificates as valid (RFC 3339).
    pub active_from: String,
    pub certificates: Vec<CertificateView>,
    /// How many certificates of other phones were revoked (superseded).
    pub superseded_certificates: usize,
}

/// One notification for a phone (`ready_to_register`, `wipe`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceEventView {
    pub seq: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: String,
}

/// `GET /api/v1/devices/{id}/certificates`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertificates {
    pub device_id: String,
    pub device_state: String,
    pub certificates: Vec<CertificateView>,
}

/// One line of the usage history (利用履歴).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageView {
    pub at: String,
    pub action: String,
    pub outcome: String,
    pub device_id: Option<String>,
    pub detail: serde_json::Value,
}

/// `GET /api/v1/devices/{id}/history`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageHistory {
    pub entries: Vec<UsageView>,
}

/// An error body (RFC 9457 problem details) with a stable code and messages in
/// Japanese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `urn:jpki:error:<CODE>`
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub code: ErrorCode,
    pub detail: String,
    pub title_ja: String,
    pub detail_ja: Option<String>,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("urn:jpki:error:{}", code.as_str()),
            title: code.title_en().to_owned(),
            status: code.http_status(),
            code,
            detail: detail.into(),
            title_ja: code.title_ja().to_owned(),
            detail_ja: None,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {} — {}",
            self.title_ja,
            self.code.as_str(),
            self.title,
            self.detail
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ApplicationRequest {
        ApplicationRequest {
            nonce: "bm9uY2U".into(),
            kinds: vec![PhoneKind::Signature, PhoneKind::Authentication],
            card_certificate: encode_der(b"card"),
            card_signature: encode_der(b"sig"),
            device: DeviceEvidence {
                se_serial: "SE-0001".into(),
                device_certificate: encode_der(b"dev"),
                vendor_chain: vec![],
            },
            keys: vec![
                KeyRequest {
                    kind: PhoneKind::Signature,
                    csr: encode_der(b"csr-s"),
                    attestation: encode_der(b"att-s"),
                },
                KeyRequest {
                    kind: PhoneKind::Authentication,
                    csr: encode_der(b"csr-a"),
                    attestation: encode_der(b"att-a"),
                },
            ],
        }
    }

    #[test]
    fn to_be_signed_is_canonical() {
        let text = String::from_utf8(request().to_be_signed()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "jpki phone application v1");
        assert_eq!(lines[1], "nonce bm9uY2U");
        assert_eq!(lines[2], "kinds authentication,signature");
        assert_eq!(lines[3], "device SE-0001");
        assert!(lines[4].starts_with("key authentication csr "));
        assert!(lines[5].starts_with("key signature csr "));
        assert_eq!(
            lines[4].len(),
            "key authentication csr ".len() + 64 + " attestation ".len() + 64
        );
        // Order in the JSON does not matter; content does.
        let mut reordered = request();
        reordered.kinds.reverse();
        reordered.keys.reverse();
        assert_eq!(reordered.to_be_signed(), request().to_be_signed());
        let mut changed = request();
        changed.keys[0].csr = encode_der(b"other");
        assert_ne!(changed.to_be_signed(), request().to_be_signed());
    }

    #[test]
    fn json_round_trip_and_unknown_fields_refused() {
        let json = serde_json::to_string(&request()).unwrap();
        assert_eq!(
            serde_json::from_str::<ApplicationRequest>(&json).unwrap(),
            request()
        );
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ApplicationRequest>(value).is_err());
    }

    #[test]
    fn problems_carry_code_and_both_languages() {
        let problem = Problem::new(ErrorCode::NonceReused, "nonce used at 10:00");
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["code"], "NONCE_REUSED");
        assert_eq!(json["type"], "urn:jpki:error:NONCE_REUSED");
        assert_eq!(json["status"], 409);
        assert!(json["title_ja"].as_str().unwrap().contains("ナンス"));
    }
}

// ---------------------------------------------------------------------------------------
// Login (portal), signed submissions, platform operator, sign requests
// ---------------------------------------------------------------------------------------

/// The canonical text an authentication key signs to log in:
///
/// ```text
/// jpki login v1
/// challenge <challenge id>
/// nonce <challenge bytes, base64url, as given>
/// ```
pub fn login_to_be_signed(challenge_id: &str, challenge: &str) -> Vec<u8> {
    format!("jpki login v1\nchallenge {challenge_id}\nnonce {challenge}").into_bytes()
}

/// `POST /api/v1/login/challenges` (the browser, or the CLI acting as one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginChallengeCreated {
    pub challenge_id: String,
    /// base64url; what the phone signs (within [`login_to_be_signed`]).
    pub challenge: String,
    /// Short code shown on the page (and in a QR) that the person types in the app.
    pub code: String,
    /// Only the browser holds this: it collects the session once the phone approved.
    pub browser_secret: String,
    pub expires_at: String,
}

/// `GET /api/v1/login/codes/{code}` (the phone looks the challenge up by its code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginChallengeView {
    pub challenge_id: String,
    pub challenge: String,
    pub expires_at: String,
    pub approved: bool,
}

/// `POST /api/v1/login/challenges/{id}/approval`: the phone's (or card's) answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginApprovalRequest {
    /// The user-authentication certificate (base64 DER).
    pub certificate: String,
    /// Its key's signature (base64) over [`login_to_be_signed`].
    pub signature: String,
}

/// `POST /api/v1/login/challenges/{id}/session`: the browser collects its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub browser_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCreated {
    /// Bearer token for the portal (or a cookie set by the web pages).
    pub session_token: String,
    pub expires_at: String,
    pub name: String,
}

/// `GET /api/v1/session`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub name: String,
    pub expires_at: String,
}

/// `POST /api/v1/submissions`: a signed online application (オンライン申請).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionRequest {
    pub title: String,
    /// e.g. `application/json`, `application/pdf`.
    pub content_type: String,
    /// The form (base64).
    pub content: String,
    /// Detached CMS SignedData over `content` by a signature certificate (base64 DER).
    pub signature: String,
}

/// The portal's receipt (受付票).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionReceipt {
    pub receipt_id: String,
    pub title: String,
    pub received_at: String,
    /// SHA-256 of the content, hex.
    pub content_sha256: String,
    pub signer_name: String,
    pub certificate_kind: String,
    pub certificate_serial: String,
    /// How the signature was found valid at submission time: `ocsp` or `crl`.
    pub evidence: String,
}

/// A kept submission, re-checked now from its stored evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionView {
    pub receipt: SubmissionReceipt,
    /// The verification report made at submission (jpki-verify's JSON, evidence included).
    pub report: serde_json::Value,
    /// Whether re-checking the kept signature with the kept evidence still says valid.
    pub recheck_valid: bool,
}

/// The canonical text a platform user's key signs (registration: signature key; login:
/// authentication key):
///
/// ```text
/// jpki platform v1
/// <register|login>
/// nonce <nonce as given>
/// ```
pub fn platform_to_be_signed(action: &str, nonce: &str) -> Vec<u8> {
    format!("jpki platform v1\n{action}\nnonce {nonce}").into_bytes()
}

/// `POST /api/v1/platform/users` and `/platform/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformProof {
    pub certificate: String,
    pub nonce: String,
    pub signature: String,
}

/// `POST /api/v1/platform/replacement`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformReplacement {
    /// The new signature certificate (base64 DER).
    pub certificate: String,
}

/// The basic 4 information on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicInfoView {
    pub name: String,
    pub name_substitute: String,
    pub address: String,
    pub address_substitute: String,
    pub date_of_birth: String,
    pub sex: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformUserView {
    /// Stable per relying party and person, across renewals and moves.
    pub user_id: String,
    /// Present when a signature certificate was presented.
    pub basic_info: Option<BasicInfoView>,
    pub certificate_serial: String,
    /// For a replacement: the certificate it replaced.
    pub replaces_serial: Option<String>,
}

/// `POST /api/v1/platform/sign-requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequestCreate {
    pub user_id: String,
    /// What the person sees: why this is to be signed.
    pub purpose: String,
    pub kind: PhoneKind,
    /// What is to be signed (base64).
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequestCreated {
    pub request_id: String,
    /// Shown by the relying party and by the phone; the person checks they match.
    pub verification_code: String,
    pub expires_at: String,
}

/// The relying party's view of its request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequestResult {
    pub request_id: String,
    /// `pending`, `approved`, `declined` or `expired`.
    pub state: String,
    /// For `signature`: detached CMS over the content; for `authentication`: RSASSA-PKCS1-v1_5
    /// SHA-256 over the content (base64).
    pub signature: Option<String>,
    pub certificate: Option<String>,
}

/// A pending request as the phone app lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignRequest {
    pub request_id: String,
    pub relying_party: String,
    pub purpose: String,
    pub kind: PhoneKind,
    pub content: String,
    pub verification_code: String,
    pub expires_at: String,
}

/// `POST /api/v1/devices/{id}/sign-requests/{request}/answer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequestAnswer {
    pub approve: bool,
    pub signature: Option<String>,
    pub certificate: Option<String>,
}

/// The verification code of a sign request: 6 digits from SHA-256 over the request id,
/// the relying party's registered name and the content's SHA-256, so a phishing page that
/// changes any of them shows a different code than the phone does.
pub fn verification_code(request_id: &str, relying_party: &str, content: &[u8]) -> String {
    let mut input = b"jpki sign request v1\n".to_vec();
    input.extend_from_slice(request_id.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(relying_party.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(&sha256(content));
    let digest = sha256(&input);
    let number = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 1_000_000;
    format!("{number:06}")
}

#[cfg(test)]
mod relying_tests {
    use super::*;

    #[test]
    fn verification_codes_change_with_every_input() {
        let base = verification_code("r1", "Example Bank", b"content");
        assert_eq!(base.len(), 6);
        assert_eq!(base, verification_code("r1", "Example Bank", b"content"));
        assert_ne!(base, verification_code("r2", "Example Bank", b"content"));
        assert_ne!(base, verification_code("r1", "Examp1e Bank", b"content"));
        assert_ne!(base, verification_code("r1", "Example Bank", b"c0ntent"));
    }
}
