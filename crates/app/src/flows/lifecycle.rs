//! The lifecycle in the app (guide 2-F to 2-H): lifting a suspension on the found phone,
//! revoking the phone's certificates, revoking another phone's, and resetting a locked
//! phone PIN — each with the My Number card, whose signature password the citizen
//! enters and whose signature key signs the request's canonical text.

use jpki_api::{
    LiftRequest, LiftResult, NoncePurpose, PhoneKind, PinResetRequest, PinResetResult,
    RevocationRequest, RevocationResult, RevokeOtherRequest, encode_der,
};
use jpki_crypto::{Pin, Signer};
use jpki_reader::{CardSigner, CertificateSlot, JpkiAp, KeySlot, PinSlot, Transport};
use jpki_se::Interface;

use super::{
    FlowError, PhonePins, card_verify, key_slot, prepare_keys, se_error, signing, token, wipe,
};
use crate::client::PortalClient;
use crate::phone::{Phone, portal_app_identity};

/// Verifies the card's signature password, reads its signature certificate and signs
/// `text`: (certificate, signature), both base64.
fn card_signature<T: Transport + Send>(
    card: T,
    card_sign_password: &Pin,
    text: &[u8],
) -> Result<(String, String), FlowError> {
    let mut card = JpkiAp::select(card).map_err(FlowError::Card)?;
    card.verify(PinSlot::Sign, card_sign_password)
        .map_err(card_verify)?;
    let certificate = card
        .read_certificate(CertificateSlot::Sign)
        .map_err(FlowError::Card)?;
    let key = jpki_pkix::JpkiCertificate::from_der(&certificate)
        .map_err(|error| FlowError::Invalid(format!("the card's certificate: {error}")))?
        .public_key_der()
        .to_vec();
    let signature = CardSigner::new(&mut card, KeySlot::Sign, key)
        .sign(text)
        .map_err(signing)?;
    Ok((encode_der(&certificate), encode_der(&signature)))
}

/// 一時利用停止の解除 on the found phone. With `new_sign_password`, a new signature key
/// is generated in the SE (its PIN set to it), attested over the nonce, and sent for
/// re-issuance: the returned application is then followed and registered as after any
/// application (the phone's state points at it).
pub async fn lift<T: Transport + Send>(
    phone: &mut Phone,
    client: &PortalClient,
    card: T,
    card_sign_password: &Pin,
    new_sign_password: Option<&Pin>,
) -> Result<LiftResult, FlowError> {
    let (device_token, _) = token(phone)?;
    let nonce = client.nonce(NoncePurpose::Lift).await?;
    let (device, signature_key) = match new_sign_password {
        Some(password) => {
            let pins = PhonePins {
                sign_password: Some(password.clone()),
                auth_pin: None,
            };
            let (device, mut keys) =
                prepare_keys(phone, &nonce.nonce, &[PhoneKind::Signature], &pins)?;
            (Some(device), keys.pop())
        }
        None => (None, None),
    };
    let mut request = LiftRequest {
        nonce: nonce.nonce,
        device_id: phone.se.serial().as_str().to_owned(),
        card_certificate: String::new(),
        card_signature: String::new(),
        device,
        signature_key,
    };
    let (certificate, signature) =
        card_signature(card, card_sign_password, &request.to_be_signed())?;
    request.card_certificate = certificate;
    request.card_signature = signature;
    let result = client.lift(&device_token, &request).await?;
    if let Some(accepted) = &result.application {
        phone.app.device_token = Some(accepted.device_token.clone());
        phone.app.application_id = Some(accepted.application_id.clone());
        phone.app.applied_kinds = vec![PhoneKind::Signature];
        phone.app.registered = false;
    }
    Ok(result)
}

/// スマホ用電子証明書の失効: revokes this phone's certificates of `kinds`, then erases
/// them from the SE: everything (WIPE) when nothing live is left, else each revoked
/// key is destroyed by generating a replacement in its slot (which erases the slot's
/// certificate).
pub async fn revoke<T: Transport + Send>(
    phone: &mut Phone,
    client: &PortalClient,
    card: T,
    card_sign_password: &Pin,
    kinds: &[PhoneKind],
) -> Result<RevocationResult, FlowError> {
    let (device_token, _) = token(phone)?;
    let nonce = client.nonce(NoncePurpose::Revocation).await?;
    let mut request = RevocationRequest {
        nonce: nonce.nonce,
        device_id: phone.se.serial().as_str().to_owned(),
        kinds: kinds.to_vec(),
        card_certificate: String::new(),
        card_signature: String::new(),
    };
    let (certificate, signature) =
        card_signature(card, card_sign_password, &request.to_be_signed())?;
    request.card_certificate = certificate;
    request.card_signature = signature;
    let result = client.revoke(&device_token, &request).await?;
    if result.wipe {
        wipe(phone, client).await?;
    } else {
        let identity = portal_app_identity()?;
        let session = phone.se.open_session(Interface::Omapi(identity));
        let mut ap = JpkiAp::select(session).map_err(se_error)?;
        for kind in kinds {
            let (key, _, _, _, _) = key_slot(*kind);
            ap.generate_key(key).map_err(se_error)?;
        }
    }
    Ok(result)
}

/// 別のスマホのスマホ用電子証明書の失効: revokes every certificate of the phone
/// `device_id` (the person's other phone), with the card, from any phone or none.
pub async fn revoke_other<T: Transport + Send>(
    client: &PortalClient,
    card: T,
    card_sign_password: &Pin,
    device_id: &str,
) -> Result<RevocationResult, FlowError> {
    let nonce = client.nonce(NoncePurpose::Revocation).await?;
    let mut request = RevokeOtherRequest {
        nonce: nonce.nonce,
        device_id: device_id.to_owned(),
        card_certificate: String::new(),
        card_signature: String::new(),
    };
    let (certificate, signature) =
        card_signature(card, card_sign_password, &request.to_be_signed())?;
    request.card_certificate = certificate;
    request.card_signature = signature;
    Ok(client.revoke_other(&request).await?)
}

/// Resets a (locked) phone PIN with the card: the portal authorises and records it,
/// then the new PIN is set in the SE, which also unblocks it.
pub async fn reset_pin<T: Transport + Send>(
    phone: &mut Phone,
    client: &PortalClient,
    card: T,
    card_sign_password: &Pin,
    which: PhoneKind,
    new_pin: &Pin,
) -> Result<PinResetResult, FlowError> {
    let (device_token, _) = token(phone)?;
    let nonce = client.nonce(NoncePurpose::PinReset).await?;
    let mut request = PinResetRequest {
        nonce: nonce.nonce,
        device_id: phone.se.serial().as_str().to_owned(),
        pin: which,
        card_certificate: String::new(),
        card_signature: String::new(),
    };
    let (certificate, signature) =
        card_signature(card, card_sign_password, &request.to_be_signed())?;
    request.card_certificate = certificate;
    request.card_signature = signature;
    let result = client.reset_pin(&device_token, &request).await?;
    let identity = portal_app_identity()?;
    let session = phone.se.open_session(Interface::Omapi(identity));
    let mut ap = JpkiAp::select(session).map_err(se_error)?;
    let (_, pin_slot, _, _, _) = key_slot(which);
    ap.set_initial_pin(pin_slot, new_pin).map_err(se_error)?;
    Ok(result)
}
