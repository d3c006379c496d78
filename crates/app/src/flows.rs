//! What the citizen does in the app (guide sections 2-C to 2-E), as functions over a
//! [`Phone`], a [`PortalClient`] and a card transport.

use std::time::Duration;

use jpki_api::{
    ApplicationAccepted, ApplicationRequest, DeviceCertificates, DeviceEvidence, KeyRequest,
    NoncePurpose, PhoneKind, RegistrationRequest, RegistrationResult, UsageHistory, decode_der,
    decode_token, encode_der, registration_to_be_signed,
};
use jpki_crypto::{CryptoError, Pin, Signer};
use jpki_reader::{
    CardSigner, CertificateSlot, JpkiAp, KeySlot, PinSlot, ReaderError, Transport, VerifyError,
};
use jpki_se::{Interface, SlotUsage};

use crate::client::{ClientError, PortalClient};
use crate::phone::{Phone, portal_app_identity};

mod lifecycle;
pub use lifecycle::{lift, reset_pin, revoke, revoke_other};

/// Why a flow stopped.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("portal: {0}")]
    Portal(#[from] ClientError),
    #[error("My Number card: {0}")]
    Card(ReaderError),
    #[error("My Number card: wrong signature password ({tries_left} tries left before it locks)")]
    CardWrongPassword { tries_left: u8 },
    #[error(
        "My Number card: the signature password is locked; it can only be reset at the municipal office"
    )]
    CardPasswordBlocked,
    #[error("phone secure element: {0}")]
    Se(String),
    #[error("phone: wrong {what} ({tries_left} tries left before it locks)")]
    PhoneWrongPin { what: &'static str, tries_left: u8 },
    #[error("phone: the {0} is locked")]
    PhonePinBlocked(&'static str),
    #[error("this phone has not applied yet (run `jpki phone apply`)")]
    NotApplied,
    #[error("no notification within {0:?}")]
    Timeout(Duration),
    #[error("the portal told this phone to wipe its certificates ({0}); they were erased")]
    Wiped(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<jpki_se::SeError> for FlowError {
    fn from(error: jpki_se::SeError) -> Self {
        Self::Se(error.to_string())
    }
}

fn card_verify(error: VerifyError) -> FlowError {
    match error {
        VerifyError::Wrong { tries_left } => FlowError::CardWrongPassword { tries_left },
        VerifyError::Blocked => FlowError::CardPasswordBlocked,
        VerifyError::Reader(error) => FlowError::Card(error),
    }
}

fn phone_verify(what: &'static str) -> impl Fn(VerifyError) -> FlowError {
    move |error| match error {
        VerifyError::Wrong { tries_left } => FlowError::PhoneWrongPin { what, tries_left },
        VerifyError::Blocked => FlowError::PhonePinBlocked(what),
        VerifyError::Reader(error) => FlowError::Se(error.to_string()),
    }
}

fn se_error(error: ReaderError) -> FlowError {
    FlowError::Se(error.to_string())
}

fn signing(error: CryptoError) -> FlowError {
    FlowError::Invalid(format!("signing failed: {error}"))
}

/// The PINs the citizen sets for the phone (separate from the card's).
#[derive(Debug)]
pub struct PhonePins {
    /// スマホ用署名用電子証明書のパスワード; required when applying for the signature certificate.
    pub sign_password: Option<Pin>,
    /// スマホ用利用者証明用電子証明書の暗証番号; required when applying for the authentication one.
    pub auth_pin: Option<Pin>,
}

fn key_slot(
    kind: PhoneKind,
) -> (
    KeySlot,
    PinSlot,
    SlotUsage,
    CertificateSlot,
    CertificateSlot,
) {
    match kind {
        PhoneKind::Signature => (
            KeySlot::Sign,
            PinSlot::Sign,
            SlotUsage::Signature,
            CertificateSlot::Sign,
            CertificateSlot::SignCa,
        ),
        PhoneKind::Authentication => (
            KeySlot::Auth,
            PinSlot::Auth,
            SlotUsage::Authentication,
            CertificateSlot::Auth,
            CertificateSlot::AuthCa,
        ),
    }
}

/// 2-C/2-D: applies for phone certificates of `kinds`. On the phone: a key pair per kind
/// is generated in the SE, its PIN set, the key attested over the server's nonce, and a
/// CSR signed with it. On the card: the signature password is verified and the card signs
/// the application. The accepted application is remembered in `phone.app`.
pub async fn apply<T: Transport + Send>(
    phone: &mut Phone,
    client: &PortalClient,
    card: T,
    card_sign_password: &Pin,
    kinds: &[PhoneKind],
    pins: &PhonePins,
) -> Result<ApplicationAccepted, FlowError> {
    if kinds.is_empty() {
        return Err(FlowError::Invalid(
            "choose at least one certificate to apply for".into(),
        ));
    }
    let nonce = client.nonce(NoncePurpose::Application).await?;
    let (device, keys) = prepare_keys(phone, &nonce.nonce, kinds, pins)?;
    let request = sign_application(card, card_sign_password, nonce.nonce, kinds, device, keys)?;
    submit(phone, client, &request).await
}

/// Sends a signed application and remembers it in the phone.
pub async fn submit(
    phone: &mut Phone,
    client: &PortalClient,
    request: &ApplicationRequest,
) -> Result<ApplicationAccepted, FlowError> {
    let accepted = client.submit(request).await?;
    phone.app.portal_url = Some(client.base_url().to_owned());
    phone.app.device_token = Some(accepted.device_token.clone());
    phone.app.application_id = Some(accepted.application_id.clone());
    phone.app.applied_kinds = request.kinds.clone();
    phone.app.registered = false;
    Ok(accepted)
}

/// The phone's half of an application: for each kind, a key generated in the SE, its
/// PIN set, an attestation over `nonce` (base64url, as the portal gave it) and a CSR.
pub fn prepare_keys(
    phone: &mut Phone,
    nonce: &str,
    kinds: &[PhoneKind],
    pins: &PhonePins,
) -> Result<(DeviceEvidence, Vec<KeyRequest>), FlowError> {
    let nonce_bytes =
        decode_token(nonce).map_err(|_| FlowError::Invalid("the portal's nonce".into()))?;
    let identity = portal_app_identity()?;
    let se_serial = phone.se.serial().as_str().to_owned();
    let device = DeviceEvidence {
        se_serial: se_serial.clone(),
        device_certificate: encode_der(phone.se.device_certificate()),
        vendor_chain: phone
            .se
            .vendor_chain()
            .iter()
            .map(|der| encode_der(der))
            .collect(),
    };
    let mut keys = Vec::new();
    let session = phone.se.open_session(Interface::Omapi(identity));
    let mut ap = JpkiAp::select(session).map_err(se_error)?;
    for &kind in kinds {
        let (key, pin_slot, usage, _, _) = key_slot(kind);
        let pin = match kind {
            PhoneKind::Signature => pins.sign_password.as_ref(),
            PhoneKind::Authentication => pins.auth_pin.as_ref(),
        }
        .ok_or_else(|| {
            FlowError::Invalid(format!(
                "a PIN for the phone {} certificate is needed",
                kind.as_str()
            ))
        })?;
        let public_key = ap.generate_key(key).map_err(se_error)?;
        ap.set_initial_pin(pin_slot, pin).map_err(se_error)?;
        let attestation = jpki_se::host::attest_key(&mut ap, usage, &nonce_bytes)?;
        ap.verify(pin_slot, pin)
            .map_err(phone_verify("phone PIN"))?;
        let signer = CardSigner::new(&mut ap, key, public_key);
        let csr = jpki_pkix::build_csr(&format!("PHONE{se_serial}"), &signer)
            .map_err(|error| FlowError::Invalid(format!("building the CSR: {error}")))?;
        keys.push(KeyRequest {
            kind,
            csr: encode_der(&csr),
            attestation: encode_der(attestation.statement()),
        });
    }
    Ok((device, keys))
}

/// The card's half: verifies the signature password, reads the signature certificate,
/// and signs the application's canonical text.
pub fn sign_application<T: Transport + Send>(
    card: T,
    card_sign_password: &Pin,
    nonce: String,
    kinds: &[PhoneKind],
    device: DeviceEvidence,
    keys: Vec<KeyRequest>,
) -> Result<ApplicationRequest, FlowError> {
    let mut card = JpkiAp::select(card).map_err(FlowError::Card)?;
    card.verify(PinSlot::Sign, card_sign_password)
        .map_err(card_verify)?;
    let card_certificate = card
        .read_certificate(CertificateSlot::Sign)
        .map_err(FlowError::Card)?;
    let card_key = jpki_pkix::JpkiCertificate::from_der(&card_certificate)
        .map_err(|error| FlowError::Invalid(format!("the card's certificate: {error}")))?
        .public_key_der()
        .to_vec();
    let mut request = ApplicationRequest {
        nonce,
        kinds: kinds.to_vec(),
        card_certificate: encode_der(&card_certificate),
        card_signature: String::new(),
        device,
        keys,
    };
    let signature = CardSigner::new(&mut card, KeySlot::Sign, card_key)
        .sign(&request.to_be_signed())
        .map_err(signing)?;
    request.card_signature = encode_der(&signature);
    Ok(request)
}

fn token(phone: &Phone) -> Result<(String, String), FlowError> {
    match (&phone.app.device_token, &phone.app.application_id) {
        (Some(token), Some(application)) => Ok((token.clone(), application.clone())),
        _ => Err(FlowError::NotApplied),
    }
}

/// A notification the app acted on.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// プッシュ通知: the certificates are issued and can be registered.
    ReadyToRegister { application_id: String },
    /// Another phone registered: this one's certificates were revoked and are now erased.
    Wiped { reason: String },
}

/// 2-E (first half): waits for the notification that the certificates are ready,
/// following the event stream (or long-polling when `long_poll`). A `wipe` event is
/// carried out at once.
pub async fn wait(
    phone: &mut Phone,
    client: &PortalClient,
    timeout: Duration,
    long_poll: bool,
    mut on_event: impl FnMut(&jpki_api::DeviceEventView),
) -> Result<Notification, FlowError> {
    let (token, application_id) = token(phone)?;
    let device = phone.se.serial().as_str().to_owned();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut found: Option<Notification> = None;
    let mut after = phone.app.last_event;
    while found.is_none() {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return Err(FlowError::Timeout(timeout));
        }
        let start = after;
        let mut handle = |event: &jpki_api::DeviceEventView| -> bool {
            on_event(event);
            after = event.seq;
            match event.kind.as_str() {
                "ready_to_register"
                    if event.payload["application_id"] == application_id.as_str() =>
                {
                    found = Some(Notification::ReadyToRegister {
                        application_id: application_id.clone(),
                    });
                    false
                }
                "wipe" => {
                    let reason = event.payload["reason"]
                        .as_str()
                        .unwrap_or("unspecified")
                        .to_owned();
                    found = Some(Notification::Wiped { reason });
                    false
                }
                _ => true,
            }
        };
        if long_poll {
            let events = client
                .poll_events(
                    &device,
                    &token,
                    start,
                    remaining.min(Duration::from_secs(25)),
                )
                .await?;
            for event in &events {
                if !handle(event) {
                    break;
                }
            }
        } else {
            let streamed = tokio::time::timeout(
                remaining,
                client.follow_events(&device, &token, start, &mut handle),
            )
            .await;
            match streamed {
                Err(_) => return Err(FlowError::Timeout(timeout)),
                Ok(Ok(_)) | Ok(Err(ClientError::StreamEnded)) => {}
                Ok(Err(error)) => return Err(error.into()),
            }
        }
    }
    phone.app.last_event = after;
    match found {
        Some(Notification::Wiped { reason }) => {
            wipe(phone, client).await?;
            Err(FlowError::Wiped(reason))
        }
        Some(notification) => Ok(notification),
        None => Err(FlowError::Timeout(timeout)),
    }
}

/// How the phone proves possession of the authentication key at registration.
#[derive(Debug)]
pub enum AuthUnlock<'a> {
    Pin(&'a Pin),
}

/// 2-E: fetches the issued certificates, writes them into the SE, and confirms with a
/// signature by the phone's authentication key over a registration nonce.
pub async fn register(
    phone: &mut Phone,
    client: &PortalClient,
    unlock: AuthUnlock<'_>,
) -> Result<RegistrationResult, FlowError> {
    let (token, application_id) = token(phone)?;
    let issued = client.certificates(&application_id, &token).await?;
    let nonce = client.nonce(NoncePurpose::Registration).await?;
    let identity = portal_app_identity()?;
    let session = phone.se.open_session(Interface::Omapi(identity));
    let mut ap = JpkiAp::select(session).map_err(se_error)?;
    for certificate in &issued.certificates {
        let (_, _, _, slot, ca_slot) = key_slot(certificate.kind);
        let der = decode_der(&certificate.certificate)
            .map_err(|_| FlowError::Invalid("certificate encoding".into()))?;
        let ca = decode_der(&certificate.ca_certificate)
            .map_err(|_| FlowError::Invalid("CA certificate encoding".into()))?;
        ap.write_certificate(slot, &der).map_err(se_error)?;
        ap.write_certificate(ca_slot, &ca).map_err(se_error)?;
    }
    let AuthUnlock::Pin(pin) = unlock;
    ap.verify(PinSlot::Auth, pin)
        .map_err(phone_verify("phone auth PIN"))?;
    let auth_certificate = ap
        .read_certificate(CertificateSlot::Auth)
        .map_err(se_error)?;
    let auth_key = jpki_pkix::JpkiCertificate::from_der(&auth_certificate)
        .map_err(|error| {
            FlowError::Invalid(format!("the phone's authentication certificate: {error}"))
        })?
        .public_key_der()
        .to_vec();
    let text = registration_to_be_signed(&application_id, &nonce.nonce);
    let signature = CardSigner::new(&mut ap, KeySlot::Auth, auth_key)
        .sign(&text)
        .map_err(signing)?;
    drop(ap);
    let result = client
        .register(
            &application_id,
            &token,
            &RegistrationRequest {
                nonce: nonce.nonce,
                signature: encode_der(&signature),
            },
        )
        .await?;
    phone.app.registered = true;
    Ok(result)
}

/// Erases the phone's JPKI keys and certificates and tells the portal.
pub async fn wipe(phone: &mut Phone, client: &PortalClient) -> Result<(), FlowError> {
    let identity = portal_app_identity()?;
    {
        let session = phone.se.open_session(Interface::Omapi(identity));
        let mut ap = JpkiAp::select(session).map_err(se_error)?;
        jpki_se::host::wipe(&mut ap)?;
    }
    phone.app.registered = false;
    if let Some(token) = &phone.app.device_token {
        client.wiped(phone.se.serial().as_str(), token).await?;
    }
    Ok(())
}

/// スマホ電子証明書の確認: the phone's certificates as the portal sees them.
pub async fn status(phone: &Phone, client: &PortalClient) -> Result<DeviceCertificates, FlowError> {
    let (token, _) = token(phone)?;
    Ok(client
        .device_certificates(phone.se.serial().as_str(), &token)
        .await?)
}

/// 利用履歴.
pub async fn history(phone: &Phone, client: &PortalClient) -> Result<UsageHistory, FlowError> {
    let (token, _) = token(phone)?;
    Ok(client.history(phone.se.serial().as_str(), &token).await?)
}

/// Signs `content` with the phone's signature key (after the phone signature password),
/// as a detached CMS SignedData carrying the phone signature certificate: what an
/// online application (オンライン申請) is sent with.
pub fn sign_document(
    phone: &mut Phone,
    sign_password: &Pin,
    content: &[u8],
    signing_time: time::OffsetDateTime,
) -> Result<Vec<u8>, FlowError> {
    let identity = portal_app_identity()?;
    let session = phone.se.open_session(Interface::Omapi(identity));
    let mut ap = JpkiAp::select(session).map_err(se_error)?;
    ap.verify(PinSlot::Sign, sign_password)
        .map_err(phone_verify("phone signature password"))?;
    let certificate = ap
        .read_certificate(CertificateSlot::Sign)
        .map_err(se_error)?;
    let ca = ap
        .read_certificate(CertificateSlot::SignCa)
        .map_err(se_error)?;
    let key = jpki_pkix::JpkiCertificate::from_der(&certificate)
        .map_err(|error| FlowError::Invalid(format!("the phone's signature certificate: {error}")))?
        .public_key_der()
        .to_vec();
    let signer = CardSigner::new(&mut ap, KeySlot::Sign, key);
    jpki_pkix::cms::sign_detached(
        content,
        &signer,
        &certificate,
        &[ca.as_slice()],
        signing_time,
    )
    .map_err(|error| FlowError::Invalid(format!("making the signature: {error}")))
}
