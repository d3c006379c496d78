//! Phone certificates (スマホ用電子証明書): the RA's checks on an application, issuance
//! inside the service hours, registration, and the phone's notifications and history.
//!
//! The RA checks, in this order, each with its own [`ErrorCode`]:
//! 1. the nonce is known, fresh and unused (`NONCE_*`); it is consumed, accepted or
//!    refused, by the write that records the outcome (a replay racing this request
//!    loses there and writes nothing);
//! 2. the card signature certificate chains to our signature CA, is within its validity,
//!    signed the application's canonical text, and is neither held nor revoked
//!    (`CARD_*`);
//! 3. the resident exists and is alive, and is 15 or older for a signature certificate;
//! 4. each key's attestation is valid under a trusted SE-vendor root, for the same SE, and
//!    bound to the same nonce (`ATTESTATION_*`);
//! 5. each CSR verifies and holds the attested key (`CSR_*`);
//! 6. the kinds are a non-empty subset of {signature, authentication}, one key each.
//!
//! Nothing is issued unless all pass. Inside the service hours an accepted application
//! is issued at once: both certificates signed in memory, then everything it writes
//! (nonce, phone, application, certificates, event, usage lines) committed in one
//! transaction (`PhoneStore::accept_application`), and the status services told after
//! the commit. Outside the service hours it waits in the queue;
//! [`PhoneService::process_queue`] issues it once the window opens.

use std::fmt;
use std::sync::Arc;

use jpki_api::{
    ApplicationAccepted, ApplicationRequest, ApplicationState as WireState, ApplicationView,
    CertificateView, DeviceCertificates, DeviceEventView, ErrorCode, IssuedCertificate,
    IssuedCertificates, NoncePurpose, NonceResponse, PhoneKind, RegistrationRequest,
    RegistrationResult, UsageHistory, UsageView, decode_der, decode_token, encode_der,
    encode_token, registration_to_be_signed,
};
use jpki_crypto::{Clock, SignatureAlgorithm, random_bytes, sha256, verify_signature};
use jpki_model::time::{JST, jst_date};
use jpki_model::{CertificateKind, CertificateStatus, Purpose};
use jpki_pkix::{JpkiCertificate, VerifiedCsr};
use jpki_store::{
    AcceptedApplication, AcceptedOutcome, ApplicationRecord, ApplicationState, CaStore,
    CertificateRecord, CertificateStore, Holder, NewApplication, NewNonce, NonceError, NonceStore,
    PhoneStore, RegistryStore, Resident, ResidentId, StoreError, UsageEntry, UsageOutcome,
};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, Time};

use crate::ca::CertificateAuthority;
use crate::hierarchy::issuer_name;
use crate::ra::{AuthorizedIssuance, SIGNATURE_MINIMUM_AGE};

mod lifecycle;

/// How many times an accepted application is signed again after its random serial
/// collided with a recorded one (127 random bits: a second collision in a row means
/// something is badly wrong, not bad luck).
const SERIAL_ATTEMPTS: u32 = 3;

/// A refusal or failure, as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaError {
    pub code: ErrorCode,
    pub detail: String,
}

impl RaError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for RaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for RaError {}

impl From<StoreError> for RaError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store error in the phone service");
        Self::new(
            ErrorCode::ServiceUnavailable,
            "the database is unavailable; try again",
        )
    }
}

/// What the RA learns from a valid key attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedKey {
    pub se_serial: String,
    pub purpose: Purpose,
    pub public_key_der: Vec<u8>,
}

/// Why an attestation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationFailure {
    /// The device certificate does not chain to a configured vendor root.
    UntrustedVendor(String),
    /// Forged, malformed, expired, or for another key.
    Invalid(String),
    /// Bound to another nonce.
    NonceMismatch,
}

/// Checks SE key attestations against the configured vendor roots (implemented over
/// `jpki-se` by the composition root; a seam so the RA does not depend on the SE).
pub trait KeyAttestationVerifier: Send + Sync + fmt::Debug {
    fn verify(
        &self,
        attestation_der: &[u8],
        device_certificate_der: &[u8],
        vendor_chain: &[Vec<u8>],
        expected_nonce: &[u8],
        now: OffsetDateTime,
    ) -> Result<AttestedKey, AttestationFailure>;

    /// [`KeyAttestationVerifier::verify`] for each of one application's statements (one
    /// SE, one device certificate), each result in order. An implementation may check
    /// the shared device certificate once for all of them.
    fn verify_all(
        &self,
        attestations_der: &[Vec<u8>],
        device_certificate_der: &[u8],
        vendor_chain: &[Vec<u8>],
        expected_nonce: &[u8],
        now: OffsetDateTime,
    ) -> Vec<Result<AttestedKey, AttestationFailure>> {
        attestations_der
            .iter()
            .map(|statement| {
                self.verify(
                    statement,
                    device_certificate_der,
                    vendor_chain,
                    expected_nonce,
                    now,
                )
            })
            .collect()
    }
}

/// The daily window in which the CA issues phone certificates (JST). Applications
/// outside it are accepted and queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceHours {
    pub open: Time,
    pub close: Time,
}

impl ServiceHours {
    /// 08:00–19:30 JST: our default; the real service's hours for issuance are not
    /// published (docs/divergences.md).
    pub const DEFAULT: Self = Self {
        open: Self::hm(8, 0),
        close: Self::hm(19, 30),
    };

    /// Every hour of the day.
    pub const ALWAYS: Self = Self {
        open: Time::MIDNIGHT,
        close: Time::MIDNIGHT,
    };

    const fn hm(hour: u8, minute: u8) -> Time {
        match Time::from_hms(hour, minute, 0) {
            Ok(time) => time,
            Err(_) => Time::MIDNIGHT,
        }
    }

    /// Parses `HH:MM-HH:MM` (or `always`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("always") {
            return Ok(Self::ALWAYS);
        }
        let parse_time = |part: &str| -> Result<Time, String> {
            let (hour, minute) = part
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("{part:?} is not HH:MM"))?;
            let hour: u8 = hour.parse().map_err(|_| format!("{part:?} is not HH:MM"))?;
            let minute: u8 = minute
                .parse()
                .map_err(|_| format!("{part:?} is not HH:MM"))?;
            Time::from_hms(hour, minute, 0).map_err(|_| format!("{part:?} is not a time of day"))
        };
        let (open, close) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not HH:MM-HH:MM"))?;
        let hours = Self {
            open: parse_time(open)?,
            close: parse_time(close)?,
        };
        if hours.open >= hours.close {
            return Err(format!(
                "{text:?}: the window must open before it closes (or be \"always\")"
            ));
        }
        Ok(hours)
    }

    pub fn is_always(self) -> bool {
        self == Self::ALWAYS
    }

    /// Whether `instant` falls in the window (JST).
    pub fn contains(self, instant: OffsetDateTime) -> bool {
        if self.is_always() {
            return true;
        }
        let time = instant.to_offset(JST).time();
        self.open <= time && time < self.close
    }

    /// The next opening at or after `instant`.
    pub fn next_open(self, instant: OffsetDateTime) -> OffsetDateTime {
        if self.contains(instant) {
            return instant;
        }
        let local = instant.to_offset(JST);
        let today = jst_date(instant);
        let day = if local.time() < self.open {
            today
        } else {
            today.next_day().unwrap_or(today)
        };
        day.with_time(self.open).assume_offset(JST)
    }
}

/// Settings of the phone flow.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    pub service_hours: ServiceHours,
    /// Delay between registration and the certificates becoming active. The real
    /// service asks people to wait about 15 minutes; our default is none.
    pub propagation_delay: Duration,
    pub nonce_lifetime: Duration,
}

impl Default for PhoneConfig {
    fn default() -> Self {
        Self {
            service_hours: ServiceHours::DEFAULT,
            propagation_delay: Duration::ZERO,
            nonce_lifetime: Duration::minutes(10),
        }
    }
}

/// What the RA keeps of a verified application, to issue it later.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredRequest {
    keys: Vec<StoredKey>,
    /// The card signature certificate's notAfter: phone certificates never outlive it.
    card_not_after: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    kind: PhoneKind,
    public_key: String,
}

/// The phone flow over the store, the CA and an attestation verifier.
#[derive(Debug)]
pub struct PhoneService<S> {
    store: S,
    ca: Arc<CertificateAuthority<S>>,
    clock: Arc<dyn Clock>,
    attestation: Arc<dyn KeyAttestationVerifier>,
    config: PhoneConfig,
}

/// RFC 3339 in UTC, as every time on the API is written.
fn rfc3339(instant: OffsetDateTime) -> String {
    instant
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn wire_state(state: ApplicationState) -> WireState {
    match state {
        ApplicationState::Queued => WireState::Queued,
        ApplicationState::Issued => WireState::Issued,
        ApplicationState::Registered => WireState::Registered,
        ApplicationState::Superseded => WireState::Superseded,
        ApplicationState::Failed => WireState::Failed,
    }
}

/// The API's view of a certificate record.
pub fn certificate_view(record: &CertificateRecord) -> CertificateView {
    let (device_id, card_id) = match &record.holder {
        Holder::Device(device) => (Some(device.clone()), None),
        Holder::Card(card) => (None, Some(card.clone())),
    };
    CertificateView {
        kind: record.kind.as_str().to_owned(),
        issuer: record.issuer_name.clone(),
        serial: record.serial.to_hex(),
        status: record.status.label().to_owned(),
        revocation_reason: match &record.status {
            CertificateStatus::Revoked { reason, .. } => Some(reason.as_str().to_owned()),
            CertificateStatus::Held { .. } => Some("certificateHold".to_owned()),
            _ => None,
        },
        not_before: rfc3339(record.not_before),
        not_after: rfc3339(record.not_after),
        device_id,
        card_id,
    }
}

fn nonce_error(error: StoreError) -> RaError {
    match error {
        StoreError::Nonce(NonceError::Unknown) => {
            RaError::new(ErrorCode::NonceUnknown, "no such nonce was issued")
        }
        StoreError::Nonce(NonceError::AlreadyUsed) => {
            RaError::new(ErrorCode::NonceReused, "this nonce was already used")
        }
        StoreError::Nonce(NonceError::Expired) => {
            RaError::new(ErrorCode::NonceExpired, "this nonce has expired")
        }
        StoreError::Nonce(NonceError::WrongPurpose) => RaError::new(
            ErrorCode::NonceWrongPurpose,
            "this nonce was issued for another purpose",
        ),
        other => other.into(),
    }
}

/// A CA failure, as the API reports it: the store's as unavailability, the rest as an
/// internal error.
fn authority_error(error: crate::AuthorityError) -> RaError {
    match error {
        crate::AuthorityError::Store(store) => RaError::from(store),
        other => RaError::new(ErrorCode::Internal, other.to_string()),
    }
}

fn decode(field: &str, text: &str) -> Result<Vec<u8>, RaError> {
    decode_der(text).map_err(|_| {
        RaError::new(
            ErrorCode::MalformedRequest,
            format!("{field} is not base64"),
        )
    })
}

impl<S> PhoneService<S>
where
    S: CaStore + CertificateStore + NonceStore + PhoneStore + RegistryStore + Clone + 'static,
{
    pub fn new(
        store: S,
        ca: Arc<CertificateAuthority<S>>,
        clock: Arc<dyn Clock>,
        attestation: Arc<dyn KeyAttestationVerifier>,
        config: PhoneConfig,
    ) -> Self {
        Self {
            store,
            ca,
            clock,
            attestation,
            config,
        }
    }

    pub fn config(&self) -> &PhoneConfig {
        &self.config
    }

    /// A fresh single-use nonce.
    pub async fn issue_nonce(&self, purpose: NoncePurpose) -> Result<NonceResponse, RaError> {
        let now = self.clock.now();
        let value = random_bytes(32)
            .map_err(|_| RaError::new(ErrorCode::Internal, "random number generator failed"))?;
        let expires_at = now + self.config.nonce_lifetime;
        self.store
            .issue_nonce(&NewNonce {
                value: value.clone(),
                purpose: purpose.as_str().to_owned(),
                subject: None,
                issued_at: now,
                expires_at,
            })
            .await?;
        Ok(NonceResponse {
            nonce: encode_token(&value),
            purpose,
            expires_at: rfc3339(expires_at),
        })
    }

    /// Checks an application (see the module docs for the order) and accepts it:
    /// issued at once inside the service hours, queued otherwise.
    pub async fn submit(
        &self,
        request: &ApplicationRequest,
    ) -> Result<ApplicationAccepted, RaError> {
        let now = self.clock.now();
        let purpose = NoncePurpose::Application.as_str();
        // Step 1: the nonce. Only read here, so that a replay is refused before any
        // signature is checked; it is consumed by the write that records the outcome,
        // accepted or refused.
        let nonce = decode_token(&request.nonce)
            .map_err(|_| RaError::new(ErrorCode::MalformedRequest, "nonce is not base64url"))?;
        self.store
            .check_nonce(&nonce, purpose, now)
            .await
            .map_err(nonce_error)?;
        match self.check_application(request, &nonce, now).await {
            Ok((resident, card, keys)) => {
                self.accept(
                    &resident,
                    &card,
                    Some(&nonce),
                    request.device.se_serial.clone(),
                    keys,
                    now,
                )
                .await
            }
            Err((resident, error)) => {
                // Refused: the nonce is used up all the same (a second try needs a new
                // one), and once the person is known their history says so.
                self.store
                    .consume_nonce(&nonce, purpose, now)
                    .await
                    .map_err(nonce_error)?;
                if let Some(resident) = resident {
                    self.history(
                        &resident,
                        now,
                        Some(&request.device.se_serial),
                        "applied",
                        UsageOutcome::Refused,
                        serde_json::json!({ "code": error.code.as_str(), "detail": error.detail }),
                    )
                    .await?;
                }
                Err(error)
            }
        }
    }

    /// Steps 2 to 6; on refusal, the error and the person if known by then.
    async fn check_application(
        &self,
        request: &ApplicationRequest,
        nonce: &[u8],
        now: OffsetDateTime,
    ) -> Result<(Resident, JpkiCertificate, Vec<StoredKey>), (Option<Resident>, RaError)> {
        // Step 2: the card's signature certificate, its signature and its status.
        let (card, card_record) = self
            .verified_card(
                &request.card_certificate,
                &request.card_signature,
                &request.to_be_signed(),
                "the application",
                now,
            )
            .await
            .map_err(|error| (None, error))?;
        // Step 3: the resident.
        let resident = self
            .resident(card_record.resident_id)
            .await
            .map_err(|error| (None, error))?;
        match self.check_rest(request, nonce, &resident, now).await {
            Ok(keys) => Ok((resident, card, keys)),
            Err(error) => Err((Some(resident), error)),
        }
    }

    /// Step 2 of every request signed with the card: the card's signature certificate
    /// chains to our signature CA, is a card signature certificate within its validity
    /// and recorded; its signature over `text` verifies; and it is active (neither held
    /// nor revoked).
    async fn verified_card(
        &self,
        card_certificate: &str,
        card_signature: &str,
        text: &[u8],
        what: &str,
        now: OffsetDateTime,
    ) -> Result<(JpkiCertificate, CertificateRecord), RaError> {
        let card_der = decode("card_certificate", card_certificate)?;
        let card_signature = decode("card_signature", card_signature)?;
        let (card, card_record) = self.check_card_certificate(&card_der, now).await?;
        verify_signature(
            SignatureAlgorithm::RsaPkcs1Sha256,
            card.public_key_der(),
            text,
            &card_signature,
        )
        .map_err(|_| {
            RaError::new(
                ErrorCode::CardSignatureInvalid,
                format!("the card's signature does not verify over {what}"),
            )
        })?;
        match card_record.status {
            CertificateStatus::Active => {}
            CertificateStatus::Held { .. } => {
                return Err(RaError::new(
                    ErrorCode::CardCertificateHeld,
                    "the card's signature certificate is on hold",
                ));
            }
            CertificateStatus::Revoked { reason, .. } => {
                return Err(RaError::new(
                    ErrorCode::CardCertificateRevoked,
                    format!(
                        "the card's signature certificate is revoked ({})",
                        reason.as_str()
                    ),
                ));
            }
            CertificateStatus::Pending => {
                return Err(RaError::new(
                    ErrorCode::CardCertificateUnknown,
                    "the card's certificate is not active",
                ));
            }
        }
        Ok((card, card_record))
    }

    /// Records an accepted application in one transaction (`PhoneStore::accept_application`),
    /// consuming its nonce (`None`: the caller consumed its own): inside the service
    /// hours with its certificates, signed first in memory; outside them queued.
    async fn accept(
        &self,
        resident: &Resident,
        card: &JpkiCertificate,
        nonce: Option<&[u8]>,
        device_id: String,
        keys: Vec<StoredKey>,
        now: OffsetDateTime,
    ) -> Result<ApplicationAccepted, RaError> {
        let rng = || RaError::new(ErrorCode::Internal, "random number generator failed");
        let token = random_bytes(32).map_err(|_| rng())?;
        let public_id = encode_token(&random_bytes(16).map_err(|_| rng())?);
        let mut kinds: Vec<PhoneKind> = keys.iter().map(|key| key.kind).collect();
        kinds.sort_by_key(|kind| kind.as_str());
        let stored = StoredRequest {
            keys,
            card_not_after: rfc3339(card.not_after()),
        };
        let application = NewApplication {
            public_id: public_id.clone(),
            resident_id: resident.id,
            device_id: device_id.clone(),
            kinds: kinds.iter().map(|kind| kind.certificate_kind()).collect(),
            card_certificate: (
                issuer_name(Purpose::Signature).to_owned(),
                card.serial().clone(),
            ),
            request: serde_json::to_value(&stored)
                .map_err(|_| RaError::new(ErrorCode::Internal, "encoding"))?,
            submitted_at: now,
        };
        let line = |action: &str, outcome: UsageOutcome, detail: serde_json::Value| UsageEntry {
            resident_id: resident.id,
            at: now,
            device_id: Some(device_id.clone()),
            action: action.into(),
            outcome,
            detail,
        };
        let mut accepted = AcceptedApplication {
            nonce: nonce.map(|nonce| {
                (
                    nonce.to_vec(),
                    NoncePurpose::Application.as_str().to_owned(),
                )
            }),
            at: now,
            token_hash: sha256(&token).to_vec(),
            application,
            outcome: AcceptedOutcome::Queued,
            history: vec![line(
                "applied",
                UsageOutcome::Ok,
                serde_json::json!({ "application": public_id, "kinds": kinds }),
            )],
        };
        let mut authorizations = Vec::new();
        let open = self.config.service_hours.contains(now);
        if open {
            let detail = serde_json::json!({ "application": public_id });
            match self.sign_application(resident, &device_id, &stored).await {
                Ok(signed) => {
                    let certificates;
                    (authorizations, certificates) = signed.into_iter().unzip();
                    accepted.outcome = AcceptedOutcome::Issued {
                        at: now,
                        certificates,
                        event: (
                            "ready_to_register".to_owned(),
                            serde_json::json!({ "application_id": public_id }),
                        ),
                    };
                    accepted
                        .history
                        .push(line("issued", UsageOutcome::Ok, detail.clone()));
                    accepted
                        .history
                        .push(line("notified", UsageOutcome::Ok, detail));
                }
                Err(error) if error.code == ErrorCode::ServiceUnavailable => return Err(error),
                Err(error) => {
                    tracing::warn!(application = %public_id, %error, "issuance failed");
                    accepted.outcome = AcceptedOutcome::Failed {
                        reason: error.to_string(),
                    };
                    accepted.history.push(line(
                        "issued",
                        UsageOutcome::Failed,
                        serde_json::json!({ "application": public_id, "code": error.code.as_str() }),
                    ));
                }
            }
        }
        let record = self.write_accepted(&mut accepted, &authorizations).await?;
        // The status services answer the new certificates (on hold until registration)
        // from now on: after the commit, never before.
        if let AcceptedOutcome::Issued { certificates, .. } = &accepted.outcome {
            let issued: Vec<_> = certificates.iter().map(crate::ca::recorded).collect();
            self.ca.certificates_issued(&issued).await;
            tracing::info!(application = %public_id, "phone certificates issued; phone notified");
        }
        let mut expected_issuance = None;
        if !open {
            expected_issuance = Some(rfc3339(self.config.service_hours.next_open(now)));
            tracing::info!(application = %public_id, "application queued outside service hours");
        }
        Ok(ApplicationAccepted {
            application_id: public_id,
            state: wire_state(record.state),
            device_token: encode_token(&token),
            device_id,
            expected_issuance,
        })
    }

    /// Writes the accepted application; a certificate whose serial another one took
    /// (random serials colliding) is signed again under a new serial, and the write
    /// retried. A nonce consumed meanwhile (a replay racing this request) writes
    /// nothing and is refused as such.
    async fn write_accepted(
        &self,
        accepted: &mut AcceptedApplication,
        authorizations: &[AuthorizedIssuance],
    ) -> Result<ApplicationRecord, RaError> {
        for _ in 0..SERIAL_ATTEMPTS {
            match self.store.accept_application(accepted).await {
                Ok(record) => return Ok(record),
                Err(StoreError::SerialInUse { issuer, serial }) => {
                    tracing::warn!(
                        issuer = %issuer,
                        "random serial collided; signing again under another"
                    );
                    let AcceptedOutcome::Issued { certificates, .. } = &mut accepted.outcome else {
                        return Err(RaError::new(
                            ErrorCode::Internal,
                            "a serial conflict without certificates",
                        ));
                    };
                    let index = certificates
                        .iter()
                        .position(|c| c.issuer_name == issuer && c.serial == serial)
                        .ok_or_else(|| {
                            RaError::new(ErrorCode::Internal, "a serial conflict on no certificate")
                        })?;
                    let authorization = authorizations.get(index).ok_or_else(|| {
                        RaError::new(ErrorCode::Internal, "a certificate without authorization")
                    })?;
                    certificates[index] = self
                        .ca
                        .sign_unrecorded(authorization)
                        .map_err(authority_error)?;
                }
                Err(error @ StoreError::Nonce(_)) => return Err(nonce_error(error)),
                Err(other) => return Err(other.into()),
            }
        }
        Err(RaError::new(
            ErrorCode::Internal,
            format!("{SERIAL_ATTEMPTS} random serials in a row were taken"),
        ))
    }

    /// The authorization for each key of a new application, and its certificate signed
    /// in memory (not recorded: the store links it as it records the application).
    async fn sign_application(
        &self,
        resident: &Resident,
        device_id: &str,
        stored: &StoredRequest,
    ) -> Result<Vec<(AuthorizedIssuance, jpki_store::NewCertificate)>, RaError> {
        let authorizations = self
            .authorizations(resident, device_id, stored, None)
            .await?;
        // Two RSA signatures are most of a request's CPU time (about 0.5 ms with
        // RSA-2048 keys). They run here, on the runtime worker, as a TLS server signs its
        // handshakes: handing them to the blocking pool cost two thread switches per
        // application and kept a dozen signing threads runnable against the store's
        // writer, the serial stage every application waits for; signing here gave 5-18 %
        // more applications per second in alternating runs (docs/benchmarks.md).
        authorizations
            .into_iter()
            .map(|authorization| {
                let certificate = self.ca.sign_unrecorded(&authorization)?;
                Ok((authorization, certificate))
            })
            .collect::<Result<Vec<_>, crate::AuthorityError>>()
            .map_err(authority_error)
    }

    /// What the RA authorizes the CA to sign for an application's keys: kinds already
    /// issued for `application` (crash recovery in the queue) are skipped.
    async fn authorizations(
        &self,
        resident: &Resident,
        device_id: &str,
        stored: &StoredRequest,
        application: Option<(&ApplicationRecord, &[CertificateRecord])>,
    ) -> Result<Vec<AuthorizedIssuance>, RaError> {
        let cap = OffsetDateTime::parse(&stored.card_not_after, &Rfc3339).map_err(|_| {
            RaError::new(
                ErrorCode::Internal,
                "the stored card expiry does not decode",
            )
        })?;
        let existing = application.map_or(&[][..], |(_, existing)| existing);
        let kinds: Vec<CertificateKind> = stored
            .keys
            .iter()
            .map(|key| key.kind.certificate_kind())
            .filter(|kind| !existing.iter().any(|record| record.kind == *kind))
            .collect();
        // 新旧紐付け: each new certificate names the person's previous phone certificate
        // of its kind (renewal, device change, re-issuance after lifting or an 異動). The
        // kinds this application already has are left out, so the latest of a kind is
        // never one of its own.
        let previous = self
            .store
            .latest_certificates_of_kinds(resident.id, &kinds)
            .await?;
        let mut authorizations = Vec::new();
        for key in &stored.keys {
            let kind = key.kind.certificate_kind();
            if !kinds.contains(&kind) {
                continue;
            }
            let previous = previous.iter().find(|record| record.kind == kind);
            let public_key_der = decode_der(&key.public_key).map_err(|_| {
                RaError::new(ErrorCode::Internal, "the stored public key does not decode")
            })?;
            authorizations.push(AuthorizedIssuance {
                kind,
                resident_id: resident.id,
                holder: Holder::Device(device_id.to_owned()),
                public_key_der,
                basic_info: (kind.purpose == Purpose::Signature)
                    .then(|| resident.basic_info.clone()),
                date_of_birth: resident.basic_info.date_of_birth(),
                renewal_of: previous.map(|record| crate::ra::Renewal {
                    issuer_name: record.issuer_name.clone(),
                    serial: record.serial.clone(),
                    not_after: record.not_after,
                }),
                cap: Some(cap),
                awaiting_registration: true,
                application: application.map(|(record, _)| record.id),
            });
        }
        Ok(authorizations)
    }

    /// Steps 2a: the card certificate is ours, in validity, and recorded.
    async fn check_card_certificate(
        &self,
        card_der: &[u8],
        now: OffsetDateTime,
    ) -> Result<(JpkiCertificate, CertificateRecord), RaError> {
        let untrusted =
            |detail: &str| RaError::new(ErrorCode::CardCertificateUntrusted, detail.to_owned());
        let card = JpkiCertificate::from_der(card_der)
            .map_err(|_| untrusted("not a certificate we can read"))?;
        card.verify_issued_by(self.ca.ca(Purpose::Signature).certificate())
            .map_err(|_| untrusted("not issued by our signature CA"))?;
        if card.kind() != Some(CertificateKind::CARD_SIGNATURE) {
            return Err(untrusted("not a card signature certificate"));
        }
        if now < card.not_before() || now > card.not_after() {
            return Err(RaError::new(
                ErrorCode::CardCertificateExpired,
                format!("valid until {}", rfc3339(card.not_after())),
            ));
        }
        let record = self
            .store
            .certificate(issuer_name(Purpose::Signature), card.serial())
            .await?
            .ok_or_else(|| {
                RaError::new(
                    ErrorCode::CardCertificateUnknown,
                    "no issuance record for this serial",
                )
            })?;
        Ok((card, record))
    }

    async fn resident(&self, id: ResidentId) -> Result<Resident, RaError> {
        let resident =
            self.store.resident(id).await?.ok_or_else(|| {
                RaError::new(ErrorCode::ResidentUnknown, format!("no resident {id}"))
            })?;
        if resident.is_deceased() {
            return Err(RaError::new(
                ErrorCode::ResidentDeceased,
                "the resident is deceased",
            ));
        }
        Ok(resident)
    }

    /// Steps 3 (age) to 6.
    async fn check_rest(
        &self,
        request: &ApplicationRequest,
        nonce: &[u8],
        resident: &Resident,
        now: OffsetDateTime,
    ) -> Result<Vec<StoredKey>, RaError> {
        if request.kinds.contains(&PhoneKind::Signature) {
            let age = resident.basic_info.date_of_birth().age_on(jst_date(now));
            if age < SIGNATURE_MINIMUM_AGE {
                return Err(RaError::new(
                    ErrorCode::SignatureUnderAge,
                    format!("the applicant is {age}"),
                ));
            }
        }
        let device_certificate = decode(
            "device.device_certificate",
            &request.device.device_certificate,
        )?;
        let vendor_chain = request
            .device
            .vendor_chain
            .iter()
            .map(|text| decode("device.vendor_chain", text))
            .collect::<Result<Vec<_>, _>>()?;
        let mut attested = Vec::new();
        // Step 4: attestations, key by key; the statements decoded up to the first that
        // does not, verified together (one device certificate for all of them).
        let mut statements = Vec::new();
        let mut undecodable = None;
        for key in &request.keys {
            match decode("keys.attestation", &key.attestation) {
                Ok(statement) => statements.push(statement),
                Err(error) => {
                    undecodable = Some(error);
                    break;
                }
            }
        }
        let verified = self.attestation.verify_all(
            &statements,
            &device_certificate,
            &vendor_chain,
            nonce,
            now,
        );
        for (key, result) in request.keys.iter().zip(verified) {
            let key_attested = result.map_err(|failure| match failure {
                AttestationFailure::UntrustedVendor(detail) => {
                    RaError::new(ErrorCode::AttestationUntrusted, detail)
                }
                AttestationFailure::Invalid(detail) => {
                    RaError::new(ErrorCode::AttestationInvalid, detail)
                }
                AttestationFailure::NonceMismatch => RaError::new(
                    ErrorCode::AttestationNonceMismatch,
                    "the attestation names another nonce",
                ),
            })?;
            if key_attested.se_serial != request.device.se_serial {
                return Err(RaError::new(
                    ErrorCode::AttestationInvalid,
                    "the attestation is from another secure element",
                ));
            }
            if key_attested.purpose != key.kind.purpose() {
                return Err(RaError::new(
                    ErrorCode::AttestationInvalid,
                    "the attestation is for a key of another kind",
                ));
            }
            attested.push((key, key_attested));
        }
        if let Some(error) = undecodable {
            return Err(error);
        }
        // Step 5: CSRs.
        let mut keys = Vec::new();
        for (key, key_attested) in attested {
            let csr_der = decode("keys.csr", &key.csr)?;
            let csr = VerifiedCsr::from_der(&csr_der)
                .map_err(|error| RaError::new(ErrorCode::CsrInvalid, error.to_string()))?;
            if csr.public_key_der() != key_attested.public_key_der.as_slice() {
                return Err(RaError::new(
                    ErrorCode::CsrKeyMismatch,
                    format!("the {} CSR", key.kind.as_str()),
                ));
            }
            keys.push(StoredKey {
                kind: key.kind,
                public_key: encode_der(csr.public_key_der()),
            });
        }
        // Step 6: kinds.
        let mut kinds = request.kinds.clone();
        kinds.sort_by_key(|kind| kind.as_str());
        kinds.dedup();
        let mut key_kinds: Vec<PhoneKind> = request.keys.iter().map(|key| key.kind).collect();
        key_kinds.sort_by_key(|kind| kind.as_str());
        if kinds.is_empty() || kinds.len() != request.kinds.len() || key_kinds != kinds {
            return Err(RaError::new(
                ErrorCode::KindsInvalid,
                "kinds must be distinct, non-empty, and match the keys one to one",
            ));
        }
        Ok(keys)
    }

    /// Issues the certificates of a queued application; returns its new state.
    async fn issue(&self, application: &ApplicationRecord) -> Result<ApplicationState, RaError> {
        let now = self.clock.now();
        match self.try_issue(application, now).await {
            Ok(()) => Ok(ApplicationState::Issued),
            Err(error) if error.code == ErrorCode::ServiceUnavailable => Err(error),
            Err(error) => {
                tracing::warn!(application = %application.public_id, %error, "issuance failed");
                self.store
                    .fail_application(application.id, &error.to_string(), now)
                    .await?;
                self.store
                    .append_usage(&UsageEntry {
                        resident_id: application.resident_id,
                        at: now,
                        device_id: Some(application.device_id.clone()),
                        action: "issued".into(),
                        outcome: UsageOutcome::Failed,
                        detail: serde_json::json!({ "application": application.public_id, "code": error.code.as_str() }),
                    })
                    .await?;
                Ok(ApplicationState::Failed)
            }
        }
    }

    async fn try_issue(
        &self,
        application: &ApplicationRecord,
        now: OffsetDateTime,
    ) -> Result<(), RaError> {
        let stored: StoredRequest =
            serde_json::from_value(application.request.clone()).map_err(|_| {
                RaError::new(
                    ErrorCode::Internal,
                    "the stored application does not decode",
                )
            })?;
        // The card certificate and the resident are checked again: the application may
        // have waited in the queue while the person moved or the card was suspended.
        let (issuer, serial) = &application.card_certificate;
        let card = self
            .store
            .certificate(issuer, serial)
            .await?
            .ok_or_else(|| {
                RaError::new(
                    ErrorCode::CardCertificateUnknown,
                    "the card certificate disappeared",
                )
            })?;
        if card.status != CertificateStatus::Active {
            return Err(RaError::new(
                ErrorCode::CardCertificateRevoked,
                "the card certificate is no longer active",
            ));
        }
        let resident = self.resident(application.resident_id).await?;
        // Crash-safe: kinds already issued for this application are not issued twice.
        let existing = self.store.application_certificates(application.id).await?;
        let authorizations = self
            .authorizations(
                &resident,
                &application.device_id,
                &stored,
                Some((application, &existing)),
            )
            .await?;
        for authorization in &authorizations {
            self.ca
                .issue(authorization)
                .await
                .map_err(authority_error)?;
        }
        let detail = serde_json::json!({ "application": application.public_id });
        let entry = |action: &str| UsageEntry {
            resident_id: resident.id,
            at: now,
            device_id: Some(application.device_id.clone()),
            action: action.into(),
            outcome: UsageOutcome::Ok,
            detail: detail.clone(),
        };
        self.store
            .complete_issuance(
                application.id,
                now,
                (
                    "ready_to_register",
                    &serde_json::json!({ "application_id": application.public_id }),
                ),
                &[entry("issued"), entry("notified")],
            )
            .await?;
        tracing::info!(application = %application.public_id, "phone certificates issued; phone notified");
        Ok(())
    }

    /// Issues queued applications if the service hours are open; returns how many.
    pub async fn process_queue(&self) -> Result<usize, RaError> {
        let now = self.clock.now();
        if !self.config.service_hours.contains(now) {
            return Ok(0);
        }
        let mut processed = 0;
        for application in self.store.queued_applications(100).await? {
            self.issue(&application).await?;
            processed += 1;
        }
        Ok(processed)
    }

    /// Registrations whose activation delay has passed become active; returns how many
    /// certificates.
    pub async fn activate_due(&self) -> Result<usize, RaError> {
        let activated = self.store.activate_due(self.clock.now()).await?;
        let changed: Vec<(String, jpki_model::SerialNumber)> = activated
            .iter()
            .map(|c| (c.issuer_name.clone(), c.serial.clone()))
            .collect();
        self.ca.notify(&changed).await;
        Ok(activated.len())
    }

    /// The phone a bearer token authenticates (for other services acting for a phone).
    pub async fn device_by_token(
        &self,
        device_id: &str,
        token: &str,
    ) -> Result<jpki_store::DeviceRecord, RaError> {
        self.authenticate(device_id, token).await
    }

    /// The phone's bearer token must match; returns the device's record.
    async fn authenticate(
        &self,
        device_id: &str,
        token: &str,
    ) -> Result<jpki_store::DeviceRecord, RaError> {
        let invalid = || {
            RaError::new(
                ErrorCode::DeviceTokenInvalid,
                "missing or wrong device token",
            )
        };
        let token = decode_token(token).map_err(|_| invalid())?;
        let device = self.store.device(device_id).await?.ok_or_else(invalid)?;
        let presented = jpki_crypto::SecretBytes::new(sha256(&token).to_vec());
        if !presented.ct_eq(&device.token_hash) {
            return Err(invalid());
        }
        Ok(device)
    }

    async fn owned_application(
        &self,
        application_id: &str,
        token: &str,
    ) -> Result<ApplicationRecord, RaError> {
        let not_found = || RaError::new(ErrorCode::ApplicationNotFound, "no such application");
        let application = self
            .store
            .application(application_id)
            .await?
            .ok_or_else(not_found)?;
        self.authenticate(&application.device_id, token).await?;
        Ok(application)
    }

    pub async fn application_view(
        &self,
        application_id: &str,
        token: &str,
    ) -> Result<ApplicationView, RaError> {
        let application = self.owned_application(application_id, token).await?;
        Ok(ApplicationView {
            application_id: application.public_id.clone(),
            state: wire_state(application.state),
            kinds: application
                .kinds
                .iter()
                .filter_map(|kind| PhoneKind::from_certificate_kind(*kind))
                .collect(),
            device_id: application.device_id.clone(),
            submitted_at: rfc3339(application.submitted_at),
            issued_at: application.issued_at.map(rfc3339),
            registered_at: application.registered_at.map(rfc3339),
            active_from: application.activate_at.map(rfc3339),
            failure: application.failure.clone(),
        })
    }

    pub async fn issued_certificates(
        &self,
        application_id: &str,
        token: &str,
    ) -> Result<IssuedCertificates, RaError> {
        let application = self.owned_application(application_id, token).await?;
        match application.state {
            ApplicationState::Issued | ApplicationState::Registered => {}
            ApplicationState::Superseded => {
                return Err(RaError::new(
                    ErrorCode::ApplicationSuperseded,
                    "another application was registered",
                ));
            }
            ApplicationState::Queued | ApplicationState::Failed => {
                return Err(RaError::new(
                    ErrorCode::ApplicationNotIssued,
                    "not issued yet",
                ));
            }
        }
        let certificates = self
            .store
            .application_certificates(application.id)
            .await?
            .into_iter()
            .filter_map(|record| {
                let kind = PhoneKind::from_certificate_kind(record.kind)?;
                Some(IssuedCertificate {
                    kind,
                    certificate: encode_der(&record.der),
                    ca_certificate: encode_der(self.ca.ca(kind.purpose()).certificate_der()),
                })
            })
            .collect();
        Ok(IssuedCertificates {
            application_id: application.public_id,
            certificates,
        })
    }

    /// Confirms registration: the signature by the phone's authentication key over a
    /// registration nonce proves the phone holds the certified key.
    pub async fn register(
        &self,
        application_id: &str,
        token: &str,
        request: &RegistrationRequest,
    ) -> Result<RegistrationResult, RaError> {
        let now = self.clock.now();
        let application = self.owned_application(application_id, token).await?;
        match application.state {
            ApplicationState::Issued => {}
            ApplicationState::Registered => {
                return Err(RaError::new(
                    ErrorCode::ApplicationAlreadyRegistered,
                    "already registered",
                ));
            }
            ApplicationState::Superseded => {
                return Err(RaError::new(
                    ErrorCode::ApplicationSuperseded,
                    "another application was registered",
                ));
            }
            ApplicationState::Queued | ApplicationState::Failed => {
                return Err(RaError::new(
                    ErrorCode::ApplicationNotIssued,
                    "not issued yet",
                ));
            }
        }
        let nonce = decode_token(&request.nonce)
            .map_err(|_| RaError::new(ErrorCode::MalformedRequest, "nonce is not base64url"))?;
        self.store
            .consume_nonce(&nonce, NoncePurpose::Registration.as_str(), now)
            .await
            .map_err(nonce_error)?;
        let signature = decode("signature", &request.signature)?;
        // The key that proves possession: this application's authentication key, or
        // (for a signature-only application) the phone's live authentication key.
        let mut candidates = self.store.application_certificates(application.id).await?;
        candidates.extend(
            self.store
                .certificates_of_holder(&Holder::Device(application.device_id.clone()))
                .await?
                .into_iter()
                .filter(|record| matches!(record.status, CertificateStatus::Active)),
        );
        let prover = candidates
            .iter()
            .find(|record| record.kind == CertificateKind::PHONE_AUTHENTICATION)
            .ok_or_else(|| {
                RaError::new(
                    ErrorCode::RegistrationSignatureInvalid,
                    "no authentication key to check",
                )
            })?;
        let certificate = JpkiCertificate::from_der(&prover.der).map_err(|_| {
            RaError::new(ErrorCode::Internal, "a recorded certificate does not parse")
        })?;
        verify_signature(
            SignatureAlgorithm::RsaPkcs1Sha256,
            certificate.public_key_der(),
            &registration_to_be_signed(&application.public_id, &request.nonce),
            &signature,
        )
        .map_err(|_| {
            RaError::new(
                ErrorCode::RegistrationSignatureInvalid,
                "the signature does not verify with the authentication key",
            )
        })?;
        let activate_at = now + self.config.propagation_delay;
        let outcome = self
            .store
            .register_application(application.id, now, activate_at)
            .await
            .map_err(|error| match error {
                StoreError::Conflict { what } => {
                    RaError::new(ErrorCode::ApplicationSuperseded, what)
                }
                other => other.into(),
            })?;
        // The status services answer the registered certificates and the replaced
        // phone's revocations before the phone hears back.
        let changed: Vec<(String, jpki_model::SerialNumber)> = outcome
            .certificates
            .iter()
            .chain(&outcome.superseded)
            .map(|c| (c.issuer_name.clone(), c.serial.clone()))
            .collect();
        self.ca.notify(&changed).await;
        Ok(RegistrationResult {
            application_id: outcome.application.public_id.clone(),
            state: wire_state(outcome.application.state),
            active_from: rfc3339(activate_at),
            certificates: outcome.certificates.iter().map(certificate_view).collect(),
            superseded_certificates: outcome.superseded.len(),
        })
    }

    pub async fn events(
        &self,
        device_id: &str,
        token: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<DeviceEventView>, RaError> {
        self.authenticate(device_id, token).await?;
        Ok(self
            .store
            .events_after(device_id, after, limit)
            .await?
            .into_iter()
            .map(|event| DeviceEventView {
                seq: event.seq,
                kind: event.kind,
                payload: event.payload,
                created_at: rfc3339(event.created_at),
            })
            .collect())
    }

    pub async fn device_certificates(
        &self,
        device_id: &str,
        token: &str,
    ) -> Result<DeviceCertificates, RaError> {
        let device = self.authenticate(device_id, token).await?;
        let records = self
            .store
            .certificates_of_holder(&Holder::Device(device_id.to_owned()))
            .await?;
        Ok(DeviceCertificates {
            device_id: device.device_id,
            device_state: device.state.as_str().to_owned(),
            certificates: records.iter().map(certificate_view).collect(),
        })
    }

    /// The usage history of the person this phone belongs to.
    pub async fn device_history(
        &self,
        device_id: &str,
        token: &str,
    ) -> Result<UsageHistory, RaError> {
        let device = self.authenticate(device_id, token).await?;
        let Some(resident) = device.resident_id else {
            return Ok(UsageHistory {
                entries: Vec::new(),
            });
        };
        let entries = self
            .store
            .usage_of_resident(resident)
            .await?
            .into_iter()
            .map(|record| UsageView {
                at: rfc3339(record.entry.at),
                action: record.entry.action,
                outcome: record.entry.outcome.as_str().to_owned(),
                device_id: record.entry.device_id,
                detail: record.entry.detail,
            })
            .collect();
        Ok(UsageHistory { entries })
    }

    /// The phone reports that it wiped its certificates (after a `wipe` event).
    pub async fn acknowledge_wipe(&self, device_id: &str, token: &str) -> Result<(), RaError> {
        let device = self.authenticate(device_id, token).await?;
        let now = self.clock.now();
        self.store.mark_device_wiped(device_id, now).await?;
        if let Some(resident) = device.resident_id {
            self.store
                .append_usage(&UsageEntry {
                    resident_id: resident,
                    at: now,
                    device_id: Some(device_id.to_owned()),
                    action: "wiped".into(),
                    outcome: UsageOutcome::Ok,
                    detail: serde_json::json!({}),
                })
                .await?;
        }
        Ok(())
    }

    async fn history(
        &self,
        resident: &Resident,
        at: OffsetDateTime,
        device_id: Option<&str>,
        action: &str,
        outcome: UsageOutcome,
        detail: serde_json::Value,
    ) -> Result<(), RaError> {
        self.store
            .append_usage(&UsageEntry {
                resident_id: resident.id,
                at,
                device_id: device_id.map(str::to_owned),
                action: action.into(),
                outcome,
                detail,
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn service_hours_window_and_next_opening() {
        let hours = ServiceHours::DEFAULT;
        assert!(hours.contains(datetime!(2026-11-26 08:00 +09:00)));
        assert!(hours.contains(datetime!(2026-11-26 19:29:59 +09:00)));
        assert!(!hours.contains(datetime!(2026-11-26 19:30 +09:00)));
        assert!(!hours.contains(datetime!(2026-11-26 07:59:59 +09:00)));
        assert_eq!(
            hours.next_open(datetime!(2026-11-26 22:00 +09:00)),
            datetime!(2026-11-27 08:00 +09:00)
        );
        assert_eq!(
            hours.next_open(datetime!(2026-11-27 03:00 +09:00)),
            datetime!(2026-11-27 08:00 +09:00)
        );
        assert_eq!(
            hours.next_open(datetime!(2026-11-27 10:00 +09:00)),
            datetime!(2026-11-27 10:00 +09:00)
        );
        assert!(ServiceHours::ALWAYS.contains(datetime!(2026-11-27 03:00 +09:00)));
        assert_eq!(
            ServiceHours::parse("09:15-17:00").unwrap().open,
            Time::from_hms(9, 15, 0).unwrap()
        );
        assert!(ServiceHours::parse("17:00-09:00").is_err());
        assert!(ServiceHours::parse("9-17").is_err());
        assert!(ServiceHours::parse("always").unwrap().is_always());
    }
}
