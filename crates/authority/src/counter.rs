//! Card issuance at the municipal counter (交付窓口).
//!
//! The counter terminal drives a blank card through its APDUs (the same typed
//! operations any client uses, over any [`Transport`]) and the RA/CA in process:
//!
//! 1. keys are generated on the card (GENERATE ASYMMETRIC KEY PAIR); they never leave it;
//! 2. the citizen's PINs are set (CHANGE REFERENCE DATA during personalization);
//! 3. the card signs a CSR for each key (VERIFY, then COMPUTE DIGITAL SIGNATURE);
//! 4. the RA checks the resident and the CSRs; the card is recorded; the CA issues;
//! 5. certificates, CA certificates and the 券面事項 data are written to the card;
//! 6. the card is activated, ending personalization.
//!
//! 7. the issuance is written to the person's usage history (`card_issued`), then the
//!    person's previous card (if any) is replaced: its live certificates are revoked
//!    (`superseded`, usage line `card_replaced`), and each new certificate names its
//!    predecessor (新旧紐付け).
//!
//! If anything fails after step 4, the certificates already issued are revoked with
//! reason `unspecified` — the J-LIS rules' reason for a certificate destroyed before
//! delivery (JPKI-FACTS §3.2) — so no certificate exists for a card nobody holds. Both
//! go through the lifecycle (`crate::lifecycle`).

use jpki_crypto::Pin;
use jpki_model::{Medium, Purpose, RevocationReason};
use jpki_pkix::{VerifiedCsr, build_csr};
use jpki_reader::{CardSigner, CertificateSlot, JpkiAp, KeySlot, SupportAp, Transport};
use jpki_store::{
    CaStore, CardRecord, CardStore, CertificateRecord, CertificateStore, LifecycleStore, Resident,
};

use crate::AuthorityError;
use crate::ca::{CertificateAuthority, IssuedCertificate};
use crate::lifecycle::{Lifecycle, Plan, Transition, is_live};
use crate::ra::{
    CardIssuanceRequest, CardKeyRequest, Renewal, authorize_card_issuance, check_signature_age,
};

/// The PINs the citizen chose at the counter.
#[derive(Debug)]
pub struct CounterPins {
    /// `None`: no signature certificate (under 15, or declined).
    pub sign_password: Option<Pin>,
    pub auth_pin: Pin,
    /// The 券面事項入力補助AP PIN.
    pub support_pin: Pin,
}

/// What the counter handed over.
#[derive(Debug)]
pub struct IssuedCard {
    pub card_id: String,
    pub certificates: Vec<IssuedCertificate>,
}

/// Issues a card to `resident`. `card` is a transport to a blank card whose id is
/// `card_id`.
pub async fn issue_card<S, T>(
    ca: &CertificateAuthority<S>,
    store: &S,
    resident: &Resident,
    card: T,
    card_id: &str,
    pins: &CounterPins,
) -> Result<IssuedCard, AuthorityError>
where
    S: CaStore + CardStore + CertificateStore + LifecycleStore + Clone,
    T: Transport + Send,
{
    let now = ca.now();
    if resident.is_deceased() {
        return Err(AuthorityError::ResidentDeceased(resident.id));
    }
    if pins.sign_password.is_some() {
        check_signature_age(resident, now)?;
    }

    // Steps 1–3 on the card: keys, PINs, CSRs.
    let mut ap = JpkiAp::select(card)?;
    let authentication = personalize_key(&mut ap, KeySlot::Auth, &pins.auth_pin, card_id)?;
    let signature = match &pins.sign_password {
        Some(password) => Some(personalize_key(&mut ap, KeySlot::Sign, password, card_id)?),
        None => None,
    };

    // Step 4: RA, record, CA.
    let request = CardIssuanceRequest {
        resident: resident.clone(),
        card_id: card_id.to_owned(),
        authentication,
        signature,
    };
    let mut approved = authorize_card_issuance(&request, now)?;
    // 新旧紐付け: a new card's certificates name the person's previous card certificate of
    // the same kind (a replacement card, or a new signature certificate after an 異動);
    // the previous card's live certificates are revoked once the new card is handed over.
    let previous: Vec<CertificateRecord> = store
        .certificates_of_resident(resident.id)
        .await?
        .into_iter()
        .filter(|certificate| certificate.kind.medium == Medium::Card)
        .collect();
    for authorization in &mut approved {
        authorization.renewal_of = previous
            .iter()
            .filter(|certificate| certificate.kind == authorization.kind)
            .max_by_key(|certificate| certificate.issued_at)
            .map(|certificate| Renewal {
                issuer_name: certificate.issuer_name.clone(),
                serial: certificate.serial.clone(),
                not_after: certificate.not_after,
            });
    }
    store
        .record_card(&CardRecord {
            card_id: card_id.to_owned(),
            resident_id: resident.id,
            issued_at: now,
        })
        .await?;
    let mut issued = Vec::with_capacity(approved.len());
    for authorization in &approved {
        match ca.issue(authorization).await {
            Ok(certificate) => issued.push(certificate),
            Err(error) => return Err(abandon(store, &issued, error, ca).await),
        }
    }

    // Steps 5–6 on the card.
    if let Err(error) = write_and_activate(ap, ca, resident, &issued, &pins.support_pin) {
        return Err(abandon(store, &issued, error, ca).await);
    }

    // The person's usage history (and the audit log) record the new card.
    let mut plan = Plan::new(resident.id, "counter", "card.issue", "card_issued");
    plan.detail = serde_json::json!({
        "card": card_id,
        "certificates": issued
            .iter()
            .map(|certificate| serde_json::json!({
                "certificate": format!("{}:{}", certificate.issuer_name, certificate.serial),
                "kind": certificate.kind.as_str(),
            }))
            .collect::<Vec<_>>(),
    });
    lifecycle(store, ca)
        .apply(plan)
        .await
        .map_err(|error| AuthorityError::Status(error.to_string()))?;

    // Step 7: the previous card is replaced.
    let mut plan = Plan::new(resident.id, "counter", "card.replace", "card_replaced");
    plan.detail = serde_json::json!({ "card": card_id });
    for certificate in previous {
        if is_live(&certificate.status) {
            plan = plan.change(
                certificate,
                Transition::Revoke(RevocationReason::Superseded),
            );
        }
    }
    if !plan.changes.is_empty() {
        lifecycle(store, ca)
            .apply(plan)
            .await
            .map_err(|error| AuthorityError::Status(error.to_string()))?;
    }
    Ok(IssuedCard {
        card_id: card_id.to_owned(),
        certificates: issued,
    })
}

fn lifecycle<S>(store: &S, ca: &CertificateAuthority<S>) -> Lifecycle<S>
where
    S: CaStore + CertificateStore + LifecycleStore + Clone,
{
    Lifecycle::new(store.clone(), ca.clock(), ca.notifier().cloned())
}

/// Generates a key on the card, sets its PIN, and has the card sign a CSR for it.
fn personalize_key<T: Transport + Send>(
    ap: &mut JpkiAp<T>,
    key: KeySlot,
    pin: &Pin,
    card_id: &str,
) -> Result<CardKeyRequest, AuthorityError> {
    let generated_public_key_der =
        ap.generate_key(key)
            .map_err(|error| match error.status_word() {
                Some(jpki_apdu::StatusWord::ConditionsNotSatisfied) => {
                    AuthorityError::CardNotBlank("it was already activated".to_owned())
                }
                _ => AuthorityError::Card(error),
            })?;
    ap.set_initial_pin(key.pin(), pin)?;
    ap.verify(key.pin(), pin)
        .map_err(jpki_reader::ReaderError::from)?;
    let signer = CardSigner::new(ap, key, generated_public_key_der.clone());
    let csr_der = build_csr(&format!("CARD{card_id}"), &signer).map_err(AuthorityError::Csr)?;
    let csr = VerifiedCsr::from_der(&csr_der).map_err(AuthorityError::Csr)?;
    Ok(CardKeyRequest {
        csr,
        generated_public_key_der,
    })
}

fn write_and_activate<S, T: Transport>(
    mut ap: JpkiAp<T>,
    ca: &CertificateAuthority<S>,
    resident: &Resident,
    issued: &[IssuedCertificate],
    support_pin: &Pin,
) -> Result<(), AuthorityError>
where
    S: CaStore,
{
    for certificate in issued {
        let (slot, ca_slot) = match certificate.kind.purpose {
            Purpose::Authentication => (CertificateSlot::Auth, CertificateSlot::AuthCa),
            Purpose::Signature => (CertificateSlot::Sign, CertificateSlot::SignCa),
        };
        ap.write_certificate(slot, &certificate.der)?;
        ap.write_certificate(ca_slot, ca.ca(certificate.kind.purpose).certificate_der())?;
    }
    let mut support = SupportAp::select(ap.into_transport())?;
    support.set_initial_pin(support_pin)?;
    support.write_support_data(&resident.my_number, &resident.basic_info)?;
    support.activate()?;
    Ok(())
}

/// Revokes what was issued for a card that will not be handed over; returns `error`.
async fn abandon<S>(
    store: &S,
    issued: &[IssuedCertificate],
    error: AuthorityError,
    ca: &CertificateAuthority<S>,
) -> AuthorityError
where
    S: CaStore + CertificateStore + LifecycleStore + Clone,
{
    let mut certificates = Vec::with_capacity(issued.len());
    for certificate in issued {
        match store
            .certificate(certificate.issuer_name, &certificate.serial)
            .await
        {
            Ok(Some(record)) => certificates.push(record),
            Ok(None) => {}
            Err(read_error) => {
                tracing::error!(serial = %certificate.serial, %read_error, "could not read an undelivered certificate");
            }
        }
    }
    let Some(first) = certificates.first() else {
        return error;
    };
    let mut plan = Plan::new(
        first.resident_id,
        "counter",
        "card.abandon",
        "card_abandoned",
    );
    for certificate in certificates {
        plan = plan.change(
            certificate,
            Transition::Revoke(RevocationReason::Unspecified),
        );
    }
    match lifecycle(store, ca).apply(plan).await {
        Ok(_) => tracing::warn!("undelivered certificates revoked (unspecified)"),
        Err(revoke_error) => {
            tracing::error!(%revoke_error, "could not revoke the undelivered certificates");
        }
    }
    error
}
