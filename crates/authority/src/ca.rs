//! The certificate authority service: signs what the RA authorized, never anything else.

use std::fmt;
use std::sync::Arc;

use jpki_crypto::{Clock, random_bytes};
use jpki_model::{CertificateKind, Purpose, SerialNumber};
use jpki_pkix::EndEntityTemplate;
use jpki_pkix::validity::{ValidityInput, end_entity_validity};
use jpki_status::{IssuerId, RecordedCertificate, ShardId, StatusNotifier, crl_url};
use jpki_store::{CaStore, NewCertificate, StoreError};
use time::OffsetDateTime;

use crate::AuthorityError;
use crate::hierarchy::{LoadedCa, issuer_name};
use crate::ra::AuthorizedIssuance;

/// How many fresh serials to try before giving up (a collision of 127-bit random
/// serials means something is badly wrong, not bad luck).
const SERIAL_ATTEMPTS: u32 = 3;

/// Length of the opaque subject CN (the real authentication certificates show a
/// 21-character value; JPKI-FACTS §2.2).
const SUBJECT_CN_LEN: usize = 21;

/// Where relying parties find status information, written into every certificate.
///
/// Each certificate goes to one CRL shard of its CA, chosen once from its serial
/// ([`ShardId::for_serial`]) and stored with it; its cRLDistributionPoints is that shard's
/// URL ([`jpki_status::crl_url`], the same function the publisher uses for the CRL's
/// issuingDistributionPoint) and its AIA names the OCSP responder at `<base>/ocsp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEndpoints {
    /// The status service's base URL; `None` writes no pointers (the shard is still
    /// chosen and stored).
    pub base_url: Option<String>,
    /// CRL shards per CA for new certificates (at least 1).
    pub crl_shards: u32,
}

impl Default for StatusEndpoints {
    fn default() -> Self {
        Self {
            base_url: None,
            crl_shards: 1,
        }
    }
}

impl StatusEndpoints {
    pub fn new(base_url: impl Into<String>, crl_shards: u32) -> Self {
        Self {
            base_url: Some(base_url.into()),
            crl_shards: crl_shards.max(1),
        }
    }
}

/// A certificate the CA issued and recorded.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    pub kind: CertificateKind,
    pub issuer_name: &'static str,
    pub serial: SerialNumber,
    pub subject_cn: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub der: Vec<u8>,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("kind", &self.kind)
            .field("issuer_name", &self.issuer_name)
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// Where the CA draws certificate serials. Production always uses [`RandomSerials`]; the
/// trait exists so a test can make two certificates collide on purpose and exercise the
/// redraw that random 127-bit serials make practically unreachable.
pub trait SerialSource: Send + Sync + fmt::Debug {
    fn next_serial(&self) -> Result<SerialNumber, AuthorityError>;
}

/// [`random_serial`] every time.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomSerials;

impl SerialSource for RandomSerials {
    fn next_serial(&self) -> Result<SerialNumber, AuthorityError> {
        random_serial()
    }
}

/// The two CAs and where they record what they issue.
#[derive(Debug)]
pub struct CertificateAuthority<S> {
    store: S,
    sign: LoadedCa,
    auth: LoadedCa,
    clock: Arc<dyn Clock>,
    endpoints: StatusEndpoints,
    notifier: Option<Arc<dyn StatusNotifier>>,
    serials: Arc<dyn SerialSource>,
}

impl<S: CaStore> CertificateAuthority<S> {
    pub fn new(
        store: S,
        sign: LoadedCa,
        auth: LoadedCa,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AuthorityError> {
        if sign.purpose() != Purpose::Signature {
            return Err(AuthorityError::WrongCaCertificate("sign"));
        }
        if auth.purpose() != Purpose::Authentication {
            return Err(AuthorityError::WrongCaCertificate("auth"));
        }
        Ok(Self {
            store,
            sign,
            auth,
            clock,
            endpoints: StatusEndpoints::default(),
            notifier: None,
            serials: Arc::new(RandomSerials),
        })
    }

    /// Draws serials from `serials` instead of [`RandomSerials`] (tests).
    pub fn with_serial_source(mut self, serials: Arc<dyn SerialSource>) -> Self {
        self.serials = serials;
        self
    }

    pub fn with_endpoints(mut self, endpoints: StatusEndpoints) -> Self {
        self.endpoints = endpoints;
        self
    }

    /// Tells `notifier` about every certificate issued, so that the status services
    /// answer it at once.
    pub fn with_notifier(mut self, notifier: Arc<dyn StatusNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    pub fn endpoints(&self) -> &StatusEndpoints {
        &self.endpoints
    }

    /// The status notifier, if any (the lifecycle and the phone RA use the same one).
    pub fn notifier(&self) -> Option<&Arc<dyn StatusNotifier>> {
        self.notifier.as_ref()
    }

    /// Tells the notifier (if any) that these certificates changed.
    pub async fn notify(&self, certificates: &[(String, SerialNumber)]) {
        if let Some(notifier) = &self.notifier
            && !certificates.is_empty()
        {
            notifier.certificates_changed(certificates).await;
        }
    }

    /// The CA's clock reading.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The CA's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    pub fn ca(&self, purpose: Purpose) -> &LoadedCa {
        match purpose {
            Purpose::Signature => &self.sign,
            Purpose::Authentication => &self.auth,
        }
    }

    /// Issues one authorized certificate: reserves a serial (committed before anything
    /// is signed), signs, records the certificate, and tells the status services.
    pub async fn issue(
        &self,
        authorization: &AuthorizedIssuance,
    ) -> Result<IssuedCertificate, AuthorityError> {
        let now = self.clock.now();
        let issuer_name = issuer_name(authorization.kind.purpose);
        // Step 1: the validity first, so nothing is reserved for a refused issuance.
        let validity = self.validity(authorization, now)?;
        // Step 2: persist a fresh serial before signing, so no serial is ever used twice,
        // even if this process dies between signing and recording.
        let serial = self.reserve_serial(issuer_name, now).await?;
        // Step 3: sign.
        let certificate = self.sign(authorization, serial, validity, now)?;
        // Step 4: record it.
        self.store.record_certificate(&certificate).await?;
        tracing::info!(kind = %authorization.kind, issuer = issuer_name, serial = %certificate.serial, "certificate issued");
        // Step 5: the status services answer it from now on (good, or on hold while it
        // waits for registration).
        self.certificates_issued(&[recorded(&certificate)]).await;
        Ok(IssuedCertificate {
            kind: certificate.kind,
            issuer_name,
            serial: certificate.serial,
            subject_cn: certificate.subject_cn,
            not_before: certificate.not_before,
            not_after: certificate.not_after,
            der: certificate.der,
        })
    }

    /// Signs one authorized certificate under a fresh random serial and returns it
    /// unrecorded, for a caller that records it in its own transaction
    /// ([`jpki_store::PhoneStore::accept_application`]) and then calls
    /// [`CertificateAuthority::certificates_issued`].
    ///
    /// No serial is reserved first: until that transaction commits the certificate
    /// exists only in this process's memory, so a crash or a refused write loses
    /// nothing anyone has seen, and the write itself takes the serial (the `serials`
    /// key refuses one already used: [`jpki_store::StoreError::SerialInUse`], upon
    /// which the caller signs again, which draws another serial).
    pub fn sign_unrecorded(
        &self,
        authorization: &AuthorizedIssuance,
    ) -> Result<NewCertificate, AuthorityError> {
        let now = self.clock.now();
        let validity = self.validity(authorization, now)?;
        self.sign(authorization, self.serials.next_serial()?, validity, now)
    }

    /// Tells the status services (if any) about certificates just recorded.
    pub async fn certificates_issued(&self, certificates: &[RecordedCertificate]) {
        if let Some(notifier) = &self.notifier
            && !certificates.is_empty()
        {
            notifier.certificates_issued(certificates).await;
        }
    }

    /// The validity the rule gives, inside the issuing CA's own.
    fn validity(
        &self,
        authorization: &AuthorizedIssuance,
        now: OffsetDateTime,
    ) -> Result<jpki_pkix::validity::EndEntityValidity, AuthorityError> {
        end_entity_validity(&ValidityInput {
            issued_at: now,
            date_of_birth: authorization.date_of_birth,
            renews_not_after: authorization
                .renewal_of
                .as_ref()
                .map(|renewal| renewal.not_after),
            issuer_not_after: self.ca(authorization.kind.purpose).issuer().not_after(),
            cap: authorization.cap,
        })
        .map_err(AuthorityError::Issuance)
    }

    /// Signs under `serial`; the builder re-checks the invariants (key, validity,
    /// data). The CRL shard is chosen here, once, and written into the certificate.
    fn sign(
        &self,
        authorization: &AuthorizedIssuance,
        serial: SerialNumber,
        validity: jpki_pkix::validity::EndEntityValidity,
        now: OffsetDateTime,
    ) -> Result<NewCertificate, AuthorityError> {
        let purpose = authorization.kind.purpose;
        let ca = self.ca(purpose);
        let issuer_name = issuer_name(purpose);
        let subject_cn = random_subject_cn()?;
        let shard = ShardId::for_serial(&serial, self.endpoints.crl_shards.max(1));
        let (crl_distribution_point, ocsp_url) = match &self.endpoints.base_url {
            Some(base) => {
                let issuer = IssuerId::new(issuer_name)
                    .map_err(|error| AuthorityError::Status(error.to_string()))?;
                (
                    Some(crl_url(base, &issuer, shard)),
                    Some(format!("{}/ocsp", base.trim_end_matches('/'))),
                )
            }
            None => (None, None),
        };
        let template = EndEntityTemplate {
            kind: authorization.kind,
            serial: serial.clone(),
            subject_cn: subject_cn.clone(),
            subject_public_key_der: authorization.public_key_der.clone(),
            basic_info: authorization.basic_info.clone(),
            not_before: validity.not_before,
            not_after: validity.not_after,
            crl_distribution_point,
            ocsp_url,
        };
        let der = ca
            .issuer()
            .issue(&template, ca.signer())
            .map_err(AuthorityError::Issuance)?;
        Ok(NewCertificate {
            issuer_name: issuer_name.to_owned(),
            serial,
            kind: authorization.kind,
            resident_id: authorization.resident_id,
            holder: authorization.holder.clone(),
            subject_cn,
            not_before: validity.not_before,
            not_after: validity.not_after,
            der,
            issued_at: now,
            renewal_of: authorization
                .renewal_of
                .as_ref()
                .map(|r| (r.issuer_name.clone(), r.serial.clone())),
            awaiting_registration: authorization.awaiting_registration,
            application: authorization.application,
            crl_shard: shard.get(),
        })
    }

    async fn reserve_serial(
        &self,
        issuer_name: &str,
        now: OffsetDateTime,
    ) -> Result<SerialNumber, AuthorityError> {
        for _ in 0..SERIAL_ATTEMPTS {
            let serial = self.serials.next_serial()?;
            match self.store.reserve_serial(issuer_name, &serial, now).await {
                Ok(()) => return Ok(serial),
                Err(StoreError::Conflict { .. }) => {
                    tracing::warn!(
                        issuer = issuer_name,
                        "random serial collided; drawing another"
                    );
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(AuthorityError::SerialExhausted(SERIAL_ATTEMPTS))
    }
}

/// A random positive 16-byte serial (RFC 5280 allows 20 octets; CA/B asks for ≥ 64
/// bits of randomness — we use 127).
pub fn random_serial() -> Result<SerialNumber, AuthorityError> {
    let mut bytes = random_bytes(16)?;
    bytes[0] = (bytes[0] & 0x7F) | 0x01;
    SerialNumber::from_bytes(&bytes).map_err(|_| AuthorityError::SerialExhausted(1))
}

/// A random opaque subject CN of upper-case letters and digits.
pub fn random_subject_cn() -> Result<String, AuthorityError> {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = String::with_capacity(SUBJECT_CN_LEN);
    while out.len() < SUBJECT_CN_LEN {
        for byte in random_bytes(32)? {
            // Rejection sampling keeps every character equally likely.
            if byte < 252 && out.len() < SUBJECT_CN_LEN {
                out.push(char::from(ALPHABET[usize::from(byte % 36)]));
            }
        }
    }
    Ok(out)
}

/// What the status services are told about a certificate just recorded.
pub fn recorded(certificate: &NewCertificate) -> RecordedCertificate {
    RecordedCertificate {
        issuer_name: certificate.issuer_name.clone(),
        serial: certificate.serial.clone(),
        crl_shard: certificate.crl_shard,
        recorded_at: certificate.issued_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_positive_sixteen_bytes() {
        for _ in 0..100 {
            let serial = random_serial().unwrap();
            assert_eq!(serial.as_bytes().len(), 16);
            assert!(serial.as_bytes()[0] < 0x80 && serial.as_bytes()[0] > 0);
        }
    }

    #[test]
    fn subject_cns_are_opaque_and_printable() {
        let a = random_subject_cn().unwrap();
        let b = random_subject_cn().unwrap();
        assert_eq!(a.len(), SUBJECT_CN_LEN);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
