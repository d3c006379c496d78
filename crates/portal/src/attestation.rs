//! The RA's attestation seam, implemented over `jpki-se`'s verifier with the configured
//! SE-vendor roots.

use jpki_authority::phone::{AttestationFailure, AttestedKey, KeyAttestationVerifier};
use jpki_model::Purpose;
use jpki_se::{AttestationError, AttestationPolicy, SlotUsage};
use time::OffsetDateTime;

/// Trusts exactly the vendor root certificates it is given (DER).
#[derive(Debug, Clone)]
pub struct SeAttestationVerifier {
    roots: Vec<Vec<u8>>,
}

impl SeAttestationVerifier {
    pub fn new(roots: Vec<Vec<u8>>) -> Self {
        Self { roots }
    }
}

impl KeyAttestationVerifier for SeAttestationVerifier {
    fn verify(
        &self,
        attestation_der: &[u8],
        device_certificate_der: &[u8],
        _vendor_chain: &[Vec<u8>],
        expected_nonce: &[u8],
        now: OffsetDateTime,
    ) -> Result<AttestedKey, AttestationFailure> {
        let attested = jpki_se::verify_attestation(
            attestation_der,
            device_certificate_der,
            &self.roots,
            expected_nonce,
            now,
        );
        outcome(attested)
    }

    /// The device certificate and its vendor root are checked once for all statements.
    fn verify_all(
        &self,
        attestations_der: &[Vec<u8>],
        device_certificate_der: &[u8],
        _vendor_chain: &[Vec<u8>],
        expected_nonce: &[u8],
        now: OffsetDateTime,
    ) -> Vec<Result<AttestedKey, AttestationFailure>> {
        jpki_se::verify_attestations_with(
            &AttestationPolicy::default(),
            attestations_der,
            device_certificate_der,
            &self.roots,
            expected_nonce,
            now,
        )
        .into_iter()
        .map(outcome)
        .collect()
    }
}

/// The SE verifier's answer as the RA's seam states it.
fn outcome(
    attested: Result<jpki_se::AttestedKey, AttestationError>,
) -> Result<AttestedKey, AttestationFailure> {
    let attested = attested.map_err(|error| match error {
        AttestationError::UntrustedVendor { .. } | AttestationError::VendorRootExpired { .. } => {
            AttestationFailure::UntrustedVendor(error.to_string())
        }
        AttestationError::WrongNonce => AttestationFailure::NonceMismatch,
        other => AttestationFailure::Invalid(other.to_string()),
    })?;
    let purpose = match attested.usage() {
        SlotUsage::Signature => Purpose::Signature,
        SlotUsage::Authentication => Purpose::Authentication,
    };
    Ok(AttestedKey {
        se_serial: attested.se_serial().as_str().to_owned(),
        purpose,
        public_key_der: attested.public_key_der().to_vec(),
    })
}
