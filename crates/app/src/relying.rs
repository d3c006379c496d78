//! What the phone does as a relying party's counterpart: log in to the portal, send a
//! signed online application, list and answer sign requests from private apps.

use jpki_api::{
    LoginApprovalRequest, PendingSignRequest, PhoneKind, SessionCreated, SignRequestAnswer,
    SubmissionReceipt, SubmissionRequest, SubmissionView, decode_der, encode_der,
    login_to_be_signed, verification_code,
};
use jpki_crypto::{Pin, Signer};
use jpki_reader::{CardSigner, CertificateSlot, JpkiAp, KeySlot, PinSlot};
use jpki_se::Interface;

use crate::client::PortalClient;
use crate::flows::{FlowError, sign_document};
use crate::phone::{Phone, portal_app_identity};

fn se(error: jpki_reader::ReaderError) -> FlowError {
    FlowError::Se(error.to_string())
}

/// Signs `message` with the phone's authentication key after the auth PIN; returns the
/// signature and the authentication certificate.
pub fn sign_with_auth_key(
    phone: &mut Phone,
    auth_pin: &Pin,
    message: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), FlowError> {
    let identity = portal_app_identity()?;
    let session = phone.se.open_session(Interface::Omapi(identity));
    let mut ap = JpkiAp::select(session).map_err(se)?;
    ap.verify(PinSlot::Auth, auth_pin)
        .map_err(|error| match error {
            jpki_reader::VerifyError::Wrong { tries_left } => FlowError::PhoneWrongPin {
                what: "phone auth PIN",
                tries_left,
            },
            jpki_reader::VerifyError::Blocked => FlowError::PhonePinBlocked("phone auth PIN"),
            jpki_reader::VerifyError::Reader(error) => se(error),
        })?;
    let certificate = ap.read_certificate(CertificateSlot::Auth).map_err(se)?;
    let key = jpki_pkix::JpkiCertificate::from_der(&certificate)
        .map_err(|error| {
            FlowError::Invalid(format!("the phone's authentication certificate: {error}"))
        })?
        .public_key_der()
        .to_vec();
    let signature = CardSigner::new(&mut ap, KeySlot::Auth, key)
        .sign(message)
        .map_err(|error| FlowError::Invalid(format!("signing failed: {error}")))?;
    Ok((signature, certificate))
}

/// Signs `message` with the phone's signature key after the signature password (a raw
/// RSASSA-PKCS1-v1_5 SHA-256 signature, e.g. a platform registration proof); returns the
/// signature and the signature certificate.
pub fn sign_with_sign_key(
    phone: &mut Phone,
    password: &Pin,
    message: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), FlowError> {
    let identity = portal_app_identity()?;
    let session = phone.se.open_session(Interface::Omapi(identity));
    let mut ap = JpkiAp::select(session).map_err(se)?;
    ap.verify(PinSlot::Sign, password)
        .map_err(|error| match error {
            jpki_reader::VerifyError::Wrong { tries_left } => FlowError::PhoneWrongPin {
                what: "phone signature password",
                tries_left,
            },
            jpki_reader::VerifyError::Blocked => {
                FlowError::PhonePinBlocked("phone signature password")
            }
            jpki_reader::VerifyError::Reader(error) => se(error),
        })?;
    let certificate = ap.read_certificate(CertificateSlot::Sign).map_err(se)?;
    let key = jpki_pkix::JpkiCertificate::from_der(&certificate)
        .map_err(|error| FlowError::Invalid(format!("the phone's signature certificate: {error}")))?
        .public_key_der()
        .to_vec();
    let signature = CardSigner::new(&mut ap, KeySlot::Sign, key)
        .sign(message)
        .map_err(|error| FlowError::Invalid(format!("signing failed: {error}")))?;
    Ok((signature, certificate))
}

/// How the login went.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The phone approved a login shown in a browser (cross-device); the browser
    /// collects the session.
    Approved { challenge_id: String },
    /// The CLI played the browser too and holds the session.
    Session(SessionCreated),
}

/// ログイン: with `code`, approves the login a browser shows; without, logs the CLI in.
pub async fn login(
    phone: &mut Phone,
    client: &PortalClient,
    code: Option<&str>,
    auth_pin: &Pin,
) -> Result<LoginOutcome, FlowError> {
    let (challenge_id, challenge, browser_secret) = match code {
        Some(code) => {
            let view = client.login_by_code(code).await?;
            (view.challenge_id, view.challenge, None)
        }
        None => {
            let created = client.create_login().await?;
            (
                created.challenge_id,
                created.challenge,
                Some(created.browser_secret),
            )
        }
    };
    let (signature, certificate) = sign_with_auth_key(
        phone,
        auth_pin,
        &login_to_be_signed(&challenge_id, &challenge),
    )?;
    client
        .approve_login(
            &challenge_id,
            &LoginApprovalRequest {
                certificate: encode_der(&certificate),
                signature: encode_der(&signature),
            },
        )
        .await?;
    match browser_secret {
        Some(secret) => Ok(LoginOutcome::Session(
            client.collect_session(&challenge_id, &secret).await?,
        )),
        None => Ok(LoginOutcome::Approved { challenge_id }),
    }
}

/// オンライン申請: signs a form with the phone's signature certificate and submits it.
pub async fn submit_application(
    phone: &mut Phone,
    client: &PortalClient,
    title: &str,
    content_type: &str,
    content: &[u8],
    sign_password: &Pin,
    signing_time: time::OffsetDateTime,
) -> Result<SubmissionReceipt, FlowError> {
    let signature = sign_document(phone, sign_password, content, signing_time)?;
    Ok(client
        .submit_signed(&SubmissionRequest {
            title: title.to_owned(),
            content_type: content_type.to_owned(),
            content: encode_der(content),
            signature: encode_der(&signature),
        })
        .await?)
}

fn token(phone: &Phone) -> Result<String, FlowError> {
    phone.app.device_token.clone().ok_or(FlowError::NotApplied)
}

/// The person's submitted applications, each re-checked from its kept evidence.
pub async fn applications(
    phone: &Phone,
    client: &PortalClient,
) -> Result<Vec<SubmissionView>, FlowError> {
    Ok(client
        .submissions(phone.se.serial().as_str(), &token(phone)?)
        .await?)
}

/// A pending request with the code the phone computed itself from what it was shown.
#[derive(Debug, Clone)]
pub struct CheckedRequest {
    pub request: PendingSignRequest,
    /// The code this phone derives from the request; shown to the person. It equals the
    /// relying party's only if nothing was changed on the way.
    pub local_code: String,
}

impl CheckedRequest {
    pub fn codes_match(&self) -> bool {
        self.local_code == self.request.verification_code
    }
}

/// Pending sign requests from private apps, with locally derived verification codes.
pub async fn sign_requests(
    phone: &Phone,
    client: &PortalClient,
) -> Result<Vec<CheckedRequest>, FlowError> {
    let requests = client
        .pending_sign_requests(phone.se.serial().as_str(), &token(phone)?)
        .await?;
    requests
        .into_iter()
        .map(|request| {
            let content = decode_der(&request.content)
                .map_err(|_| FlowError::Invalid("request content".into()))?;
            let local_code =
                verification_code(&request.request_id, &request.relying_party, &content);
            Ok(CheckedRequest {
                request,
                local_code,
            })
        })
        .collect()
}

/// The PIN that unlocks the key a request asks for.
#[derive(Debug)]
pub enum RequestPin<'a> {
    SignPassword(&'a Pin),
    AuthPin(&'a Pin),
}

/// Approves (signs) or declines a request.
pub async fn answer_request(
    phone: &mut Phone,
    client: &PortalClient,
    request: &CheckedRequest,
    approve: Option<RequestPin<'_>>,
    signing_time: time::OffsetDateTime,
) -> Result<(), FlowError> {
    let token = token(phone)?;
    let device = phone.se.serial().as_str().to_owned();
    let answer = match approve {
        None => SignRequestAnswer {
            approve: false,
            signature: None,
            certificate: None,
        },
        Some(pin) => {
            if !request.codes_match() {
                return Err(FlowError::Invalid(
                    "the verification code does not match the request: it was altered; not signing"
                        .into(),
                ));
            }
            let content = decode_der(&request.request.content)
                .map_err(|_| FlowError::Invalid("request content".into()))?;
            let (signature, certificate) = match (request.request.kind, pin) {
                (PhoneKind::Signature, RequestPin::SignPassword(password)) => {
                    let cms = sign_document(phone, password, &content, signing_time)?;
                    let certificate = jpki_pkix::cms::SignedDataView::from_der(&cms)
                        .ok()
                        .and_then(|view| {
                            let signer = view.signer_infos.first()?;
                            view.signer_certificate(signer)
                                .map(|certificate| certificate.der().to_vec())
                        })
                        .ok_or_else(|| {
                            FlowError::Invalid("the signature carries no signer certificate".into())
                        })?;
                    (cms, certificate)
                }
                (PhoneKind::Authentication, RequestPin::AuthPin(pin)) => {
                    sign_with_auth_key(phone, pin, &content)?
                }
                _ => {
                    return Err(FlowError::Invalid(
                        "the PIN given does not unlock the key this request asks for".into(),
                    ));
                }
            };
            SignRequestAnswer {
                approve: true,
                signature: Some(encode_der(&signature)),
                certificate: Some(encode_der(&certificate)),
            }
        }
    };
    client
        .answer_sign_request(&device, &token, &request.request.request_id, &answer)
        .await?;
    Ok(())
}
