//! The phone app's lifecycle requests (guide 2-F to 2-H), each authorised by the My
//! Number card's signature over a canonical text (`jpki_api::*::to_be_signed`):
//!
//! | request | checks, in order | then |
//! |---|---|---|
//! | lift (一時利用停止の解除) | device token; nonce `lift`; card; resident alive; the phone is the card holder's; the phone's authentication certificate is not revoked; something is held; the new signature key's attestation and CSR | auth released, held signature certificate revoked (`superseded`), a signature-only application for the new key |
//! | revoke (voluntary) | device token; nonce `revocation`; card; resident; owner; live certificates of the chosen kinds | revoked (`cessationOfOperation`); the app wipes |
//! | revoke another phone | nonce `revocation`; card; resident; the phone exists and is the card holder's; live certificates | revoked (`keyCompromise`), the phone told to wipe |
//! | PIN reset | device token; nonce `pin_reset`; card; resident; owner; a live certificate of that kind | recorded; the app sets the new PIN in the SE |
//!
//! Every refusal after the card check is written to the person's usage history; no
//! refusal changes a certificate.

use jpki_api::{
    ApplicationRequest, ErrorCode, LiftRequest, LiftResult, NoncePurpose, PhoneKind,
    PinResetRequest, PinResetResult, RevocationRequest, RevocationResult, RevokeOtherRequest,
    decode_token,
};
use jpki_model::{CertificateKind, CertificateStatus, Purpose, RevocationReason};
use jpki_store::{
    CaStore, CertificateRecord, CertificateStore, DeviceRecord, DeviceState, Holder,
    LifecycleStore, NewDeviceEvent, NonceStore, PhoneStore, RegistryStore, Resident, UsageOutcome,
};
use time::OffsetDateTime;

use super::{PhoneService, RaError, certificate_view, nonce_error, rfc3339};
use crate::lifecycle::{Lifecycle, Plan, Transition, is_live};

fn newest(certificates: &[CertificateRecord], kind: CertificateKind) -> Option<&CertificateRecord> {
    certificates
        .iter()
        .filter(|certificate| certificate.kind == kind)
        .max_by_key(|certificate| certificate.issued_at)
}

impl<S> PhoneService<S>
where
    S: CaStore
        + CertificateStore
        + NonceStore
        + PhoneStore
        + RegistryStore
        + LifecycleStore
        + Clone
        + 'static,
{
    fn lifecycle(&self) -> Lifecycle<S> {
        Lifecycle::new(
            self.store.clone(),
            self.clock.clone(),
            self.ca.notifier().cloned(),
        )
    }

    async fn consume(
        &self,
        nonce: &str,
        purpose: NoncePurpose,
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, RaError> {
        let value = decode_token(nonce)
            .map_err(|_| RaError::new(ErrorCode::MalformedRequest, "nonce is not base64url"))?;
        self.store
            .consume_nonce(&value, purpose.as_str(), now)
            .await
            .map_err(nonce_error)?;
        Ok(value)
    }

    /// Steps every card-signed request here shares: the nonce consumed (whatever happens
    /// next), the card's signature certificate and its signature over `text` checked, and
    /// the person the card was issued to.
    async fn card_signed(
        &self,
        nonce: &str,
        purpose: NoncePurpose,
        (card_certificate, card_signature): (&str, &str),
        text: &[u8],
        what: &str,
        now: OffsetDateTime,
    ) -> Result<CardSigned, RaError> {
        let nonce = self.consume(nonce, purpose, now).await?;
        let (card, card_record) = self
            .verified_card(card_certificate, card_signature, text, what, now)
            .await?;
        let resident = self.resident(card_record.resident_id).await?;
        Ok(CardSigned {
            nonce,
            card,
            resident,
        })
    }

    /// Writes a refusal to the person's usage history and returns it.
    async fn refused(
        &self,
        resident: &Resident,
        device: &str,
        action: &str,
        error: RaError,
        now: OffsetDateTime,
    ) -> RaError {
        let detail = serde_json::json!({ "code": error.code.as_str(), "detail": error.detail });
        if let Err(history) = self
            .history(
                resident,
                now,
                Some(device),
                action,
                UsageOutcome::Refused,
                detail,
            )
            .await
        {
            return history;
        }
        error
    }

    /// The phone is known and belongs to the card holder.
    async fn owned_device(
        &self,
        device_id: &str,
        resident: &Resident,
    ) -> Result<DeviceRecord, RaError> {
        let device = self.store.device(device_id).await?.ok_or_else(|| {
            RaError::new(ErrorCode::DeviceUnknown, format!("no phone {device_id}"))
        })?;
        if device.resident_id != Some(resident.id) {
            return Err(RaError::new(
                ErrorCode::DeviceNotOwned,
                "the phone's certificates were not issued to the holder of this card",
            ));
        }
        Ok(device)
    }

    /// 一時利用停止の解除 on the found phone (see the module docs).
    pub async fn lift(&self, token: &str, request: &LiftRequest) -> Result<LiftResult, RaError> {
        let now = self.clock.now();
        // Steps 1-4: the phone, the nonce, the card, the person.
        self.authenticate(&request.device_id, token).await?;
        let CardSigned {
            nonce,
            card,
            resident,
        } = self
            .card_signed(
                &request.nonce,
                NoncePurpose::Lift,
                (&request.card_certificate, &request.card_signature),
                &request.to_be_signed(),
                "the lift request",
                now,
            )
            .await?;
        let checked = self.check_lift(request, &nonce, &resident, now).await;
        let (plan, keys) = match checked {
            Ok(checked) => checked,
            Err(error) => {
                return Err(self
                    .refused(&resident, &request.device_id, "lift", error, now)
                    .await);
            }
        };
        // Step 8: release and revoke, in one transaction.
        let outcome = self.lifecycle().apply(plan).await?;
        let (released, revoked): (Vec<_>, Vec<_>) = outcome
            .certificates
            .iter()
            .partition(|certificate| certificate.status == CertificateStatus::Active);
        // Step 9: the new signature certificate, as any application.
        let application = match keys {
            Some(keys) => Some(
                self.accept(&resident, &card, None, request.device_id.clone(), keys, now)
                    .await?,
            ),
            None => None,
        };
        Ok(LiftResult {
            released: released.into_iter().map(certificate_view).collect(),
            revoked: revoked.into_iter().map(certificate_view).collect(),
            application,
        })
    }

    /// Steps 5-7 of a lift: what to change, and the new key, checked before anything
    /// changes.
    async fn check_lift(
        &self,
        request: &LiftRequest,
        nonce: &[u8],
        resident: &Resident,
        now: OffsetDateTime,
    ) -> Result<(Plan, Option<Vec<super::StoredKey>>), RaError> {
        // Step 5: the phone is the card holder's.
        self.owned_device(&request.device_id, resident).await?;
        // Step 6: the phone's newest certificate of each kind.
        let certificates = self
            .store
            .certificates_of_holder(&Holder::Device(request.device_id.clone()))
            .await?;
        let mut plan = Plan::new(
            resident.id,
            format!("citizen:{}", resident.id.0),
            "phone.lift",
            "lifted",
        );
        plan.device = Some(request.device_id.clone());
        if let Some(auth) = newest(&certificates, CertificateKind::PHONE_AUTHENTICATION) {
            match &auth.status {
                CertificateStatus::Revoked { reason, .. } => {
                    return Err(RaError::new(
                        ErrorCode::CertificateAlreadyRevoked,
                        format!(
                            "the phone's authentication certificate {} is revoked ({}); a revoked certificate cannot be lifted — apply again",
                            auth.serial,
                            reason.as_str()
                        ),
                    ));
                }
                CertificateStatus::Held { .. } => {
                    plan = plan.change(auth.clone(), Transition::Release);
                }
                CertificateStatus::Active | CertificateStatus::Pending => {}
            }
        }
        if let Some(sign) = newest(&certificates, CertificateKind::PHONE_SIGNATURE)
            && matches!(sign.status, CertificateStatus::Held { .. })
        {
            // The guide's rule: the signature certificate of a found phone is not
            // released but re-issued.
            plan = plan.change(
                sign.clone(),
                Transition::Revoke(RevocationReason::Superseded),
            );
        }
        if plan.changes.is_empty() {
            return Err(RaError::new(
                ErrorCode::CertificateNotHeld,
                "no certificate of this phone is on hold",
            ));
        }
        // Step 7: the new signature key, if any, attested over this nonce.
        let keys = match &request.signature_key {
            None => None,
            Some(key) => {
                if key.kind != PhoneKind::Signature {
                    return Err(RaError::new(
                        ErrorCode::KindsInvalid,
                        "only a signature key is re-issued when lifting",
                    ));
                }
                let device = request.device.clone().ok_or_else(|| {
                    RaError::new(
                        ErrorCode::MalformedRequest,
                        "a new signature key needs the phone's device evidence",
                    )
                })?;
                if device.se_serial != request.device_id {
                    return Err(RaError::new(
                        ErrorCode::AttestationInvalid,
                        "the device evidence is from another secure element",
                    ));
                }
                let application = ApplicationRequest {
                    nonce: request.nonce.clone(),
                    kinds: vec![PhoneKind::Signature],
                    card_certificate: request.card_certificate.clone(),
                    card_signature: request.card_signature.clone(),
                    device,
                    keys: vec![key.clone()],
                };
                Some(self.check_rest(&application, nonce, resident, now).await?)
            }
        };
        plan.detail = serde_json::json!({ "reissue_signature": keys.is_some() });
        Ok((plan, keys))
    }

    /// スマホ用電子証明書の失効 from the phone itself (see the module docs).
    pub async fn revoke(
        &self,
        token: &str,
        request: &RevocationRequest,
    ) -> Result<RevocationResult, RaError> {
        let now = self.clock.now();
        self.authenticate(&request.device_id, token).await?;
        let resident = self
            .card_signed(
                &request.nonce,
                NoncePurpose::Revocation,
                (&request.card_certificate, &request.card_signature),
                &request.to_be_signed(),
                "the revocation request",
                now,
            )
            .await?
            .resident;
        let plan = match self.plan_revocation(request, &resident).await {
            Ok(plan) => plan,
            Err(error) => {
                return Err(self
                    .refused(&resident, &request.device_id, "revoked", error, now)
                    .await);
            }
        };
        let outcome = self.lifecycle().apply(plan).await?;
        let remaining = self
            .store
            .certificates_of_holder(&Holder::Device(request.device_id.clone()))
            .await?
            .iter()
            .filter(|certificate| is_live(&certificate.status))
            .count();
        Ok(RevocationResult {
            device_id: request.device_id.clone(),
            revoked: outcome.certificates.iter().map(certificate_view).collect(),
            wipe: remaining == 0,
        })
    }

    async fn plan_revocation(
        &self,
        request: &RevocationRequest,
        resident: &Resident,
    ) -> Result<Plan, RaError> {
        if request.kinds.is_empty() {
            return Err(RaError::new(
                ErrorCode::KindsInvalid,
                "choose at least one certificate to revoke",
            ));
        }
        self.owned_device(&request.device_id, resident).await?;
        let kinds: Vec<CertificateKind> = request
            .kinds
            .iter()
            .map(|kind| kind.certificate_kind())
            .collect();
        let mut plan = Plan::new(
            resident.id,
            format!("citizen:{}", resident.id.0),
            "phone.revoke",
            "revoked",
        );
        plan.device = Some(request.device_id.clone());
        for certificate in self
            .store
            .certificates_of_holder(&Holder::Device(request.device_id.clone()))
            .await?
        {
            if kinds.contains(&certificate.kind) && is_live(&certificate.status) {
                plan = plan.change(
                    certificate,
                    Transition::Revoke(RevocationReason::CessationOfOperation),
                );
            }
        }
        if plan.changes.is_empty() {
            return Err(RaError::new(
                ErrorCode::NothingToRevoke,
                "no live certificate of the chosen kinds on this phone",
            ));
        }
        Ok(plan)
    }

    /// 別のスマホのスマホ用電子証明書の失効, with the card, from any phone (see the module
    /// docs).
    pub async fn revoke_other(
        &self,
        request: &RevokeOtherRequest,
    ) -> Result<RevocationResult, RaError> {
        let now = self.clock.now();
        let resident = self
            .card_signed(
                &request.nonce,
                NoncePurpose::Revocation,
                (&request.card_certificate, &request.card_signature),
                &request.to_be_signed(),
                "the revocation request",
                now,
            )
            .await?
            .resident;
        let plan = match self.plan_revoke_other(request, &resident).await {
            Ok(plan) => plan,
            Err(error) => {
                return Err(self
                    .refused(&resident, &request.device_id, "revoked_other", error, now)
                    .await);
            }
        };
        let outcome = self.lifecycle().apply(plan).await?;
        Ok(RevocationResult {
            device_id: request.device_id.clone(),
            revoked: outcome.certificates.iter().map(certificate_view).collect(),
            wipe: true,
        })
    }

    async fn plan_revoke_other(
        &self,
        request: &RevokeOtherRequest,
        resident: &Resident,
    ) -> Result<Plan, RaError> {
        self.owned_device(&request.device_id, resident).await?;
        let mut plan = Plan::new(
            resident.id,
            format!("citizen:{}", resident.id.0),
            "phone.revoke_other",
            "revoked_other",
        );
        plan.device = Some(request.device_id.clone());
        let mut labels = Vec::new();
        for certificate in self
            .store
            .certificates_of_holder(&Holder::Device(request.device_id.clone()))
            .await?
        {
            if is_live(&certificate.status) {
                labels.push(crate::lifecycle::certificate_label(&certificate));
                // The key is on a phone out of the person's hands (lost, sold).
                plan = plan.change(
                    certificate,
                    Transition::Revoke(RevocationReason::KeyCompromise),
                );
            }
        }
        if plan.changes.is_empty() {
            return Err(RaError::new(
                ErrorCode::NothingToRevoke,
                "the other phone has no live certificate",
            ));
        }
        plan.device_states
            .push((request.device_id.clone(), DeviceState::Superseded));
        plan.events.push(NewDeviceEvent {
            device_id: request.device_id.clone(),
            kind: "wipe".into(),
            payload: serde_json::json!({
                "reason": "revoked_by_owner",
                "replaced_by_device": serde_json::Value::Null,
                "certificates": labels,
            }),
        });
        Ok(plan)
    }

    /// A locked phone PIN is reset with the card: authorised and recorded here; the app
    /// then sets the new PIN in the SE (see the module docs).
    pub async fn reset_pin(
        &self,
        token: &str,
        request: &PinResetRequest,
    ) -> Result<PinResetResult, RaError> {
        let now = self.clock.now();
        self.authenticate(&request.device_id, token).await?;
        let resident = self
            .card_signed(
                &request.nonce,
                NoncePurpose::PinReset,
                (&request.card_certificate, &request.card_signature),
                &request.to_be_signed(),
                "the PIN reset request",
                now,
            )
            .await?
            .resident;
        let checked = async {
            self.owned_device(&request.device_id, &resident).await?;
            let kind = request.pin.certificate_kind();
            let live = self
                .store
                .certificates_of_holder(&Holder::Device(request.device_id.clone()))
                .await?
                .iter()
                .any(|certificate| certificate.kind == kind && is_live(&certificate.status));
            if !live {
                return Err(RaError::new(
                    ErrorCode::CertificateNotFound,
                    format!("no live {} on this phone", kind.label_en()),
                ));
            }
            Ok(())
        };
        if let Err(error) = checked.await {
            return Err(self
                .refused(&resident, &request.device_id, "pin_reset", error, now)
                .await);
        }
        let mut plan = Plan::new(
            resident.id,
            format!("citizen:{}", resident.id.0),
            "phone.pin_reset",
            "pin_reset",
        );
        plan.device = Some(request.device_id.clone());
        plan.detail = serde_json::json!({
            "pin": match request.pin.purpose() {
                Purpose::Signature => "signature password",
                Purpose::Authentication => "authentication PIN",
            }
        });
        self.lifecycle().apply(plan).await?;
        Ok(PinResetResult {
            device_id: request.device_id.clone(),
            pin: request.pin,
            authorized_at: rfc3339(now),
        })
    }
}

/// What [`PhoneService::card_signed`] checked: the consumed nonce, the card's signature
/// certificate, its holder.
struct CardSigned {
    nonce: Vec<u8>,
    card: jpki_pkix::JpkiCertificate,
    resident: Resident,
}
