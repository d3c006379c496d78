//! Detached CMS SignedData verification, the message half (RFC 5652 §5.4, §5.6, §11).
//!
//! The steps, each failing with its own [`InvalidReason`]:
//! 1. parse (DER only) — `Malformed`;
//! 2. exactly one SignerInfo — `SignerCount` (a JPKI signature has one signer; a
//!    countersigned or multi-signer document is not accepted rather than half-checked);
//! 3. detached (no eContent) — `Malformed`;
//! 4. the SignerInfo's digest algorithm is SHA-256 and listed in digestAlgorithms —
//!    `UnsupportedAlgorithm` / `Malformed`;
//! 5. signed attributes present, with contentType equal to eContentType and a
//!    messageDigest — `MissingSignedAttributes` / `ContentTypeMismatch`;
//! 6. messageDigest equals SHA-256 of the content — `DigestMismatch`;
//! 7. the signer certificate found among the included ones by issuerAndSerialNumber or
//!    subjectKeyIdentifier — `SignerCertificateNotFound`;
//! 8. the signature over the DER SET OF signed attributes verifies with its key —
//!    `BadSignature { target: Cms }`.
//!
//! The certificate path and status come after, in [`crate::Verifier`].

use jpki_crypto::DigestAlgorithm;
use jpki_pkix::cms::{CmsError, SignedDataView};
use time::OffsetDateTime;

use crate::path::ParsedCertificate;
use crate::verdict::{InvalidReason, SignatureTarget};

/// What a checked message yields for path validation.
#[derive(Debug)]
pub(crate) struct CheckedMessage {
    pub signer: ParsedCertificate,
    /// The other included certificates that parse (candidate intermediates).
    pub pool: Vec<ParsedCertificate>,
    pub claimed_signing_time: Option<OffsetDateTime>,
}

/// The message checks; on failure, the reason and the signer certificate if it was found.
pub(crate) fn check_detached(
    cms_der: &[u8],
    content: &[u8],
    parse: &dyn Fn(&[u8]) -> Option<ParsedCertificate>,
) -> Result<CheckedMessage, (InvalidReason, Option<Box<ParsedCertificate>>)> {
    let malformed = |detail: String| (InvalidReason::Malformed { detail }, None);
    // Step 1.
    let view = SignedDataView::from_der(cms_der).map_err(|e| malformed(e.to_string()))?;
    // Step 2.
    let [signer] = view.signer_infos.as_slice() else {
        return Err((
            InvalidReason::SignerCount {
                found: view.signer_infos.len(),
            },
            None,
        ));
    };
    // Step 3.
    if !view.is_detached() {
        return Err(malformed(
            "the signature is not detached (eContent is present)".to_owned(),
        ));
    }
    // Step 4.
    let digest = signer.digest().map_err(|e| {
        (
            InvalidReason::UnsupportedAlgorithm {
                detail: e.to_string(),
            },
            None,
        )
    })?;
    if digest != DigestAlgorithm::Sha256 {
        return Err((
            InvalidReason::UnsupportedAlgorithm {
                detail: format!("digest algorithm {digest:?} (SHA-256 only)"),
            },
            None,
        ));
    }
    if !view
        .digest_algorithms
        .iter()
        .any(|listed| listed.oid == signer.digest_algorithm.oid)
    {
        return Err(malformed(
            "the signer's digest algorithm is not listed in digestAlgorithms".to_owned(),
        ));
    }
    // Step 5.
    if signer.signed_attributes_der.is_none() {
        return Err((
            InvalidReason::MissingSignedAttributes {
                detail: "the SignerInfo has no signed attributes".to_owned(),
            },
            None,
        ));
    }
    let attribute_error = |e: CmsError| malformed(format!("signed attributes: {e}"));
    match signer.content_type().map_err(attribute_error)? {
        None => {
            return Err((
                InvalidReason::MissingSignedAttributes {
                    detail: "contentType".to_owned(),
                },
                None,
            ));
        }
        Some(content_type) if content_type != view.content_type => {
            return Err((
                InvalidReason::ContentTypeMismatch {
                    detail: format!(
                        "signed contentType {content_type}, eContentType {}",
                        view.content_type
                    ),
                },
                None,
            ));
        }
        Some(_) => {}
    }
    let message_digest = signer
        .message_digest()
        .map_err(attribute_error)?
        .ok_or_else(|| {
            (
                InvalidReason::MissingSignedAttributes {
                    detail: "messageDigest".to_owned(),
                },
                None,
            )
        })?;
    let claimed_signing_time = signer.signing_time().map_err(attribute_error)?;
    // Step 6.
    if message_digest != digest.hash(content) {
        return Err((InvalidReason::DigestMismatch, None));
    }
    // Step 7.
    let mut parsed: Vec<ParsedCertificate> = view
        .certificates
        .iter()
        .filter_map(|der| parse(der))
        .collect();
    let position = parsed
        .iter()
        .position(|candidate| signer.signer_id.matches(candidate.certificate()))
        .ok_or((InvalidReason::SignerCertificateNotFound, None))?;
    let signer_certificate = parsed.remove(position);
    // Step 8.
    if let Err(error) = signer.verify_signature(signer_certificate.certificate().public_key_der()) {
        let reason = match error {
            CmsError::UnsupportedAlgorithm(detail) => {
                InvalidReason::UnsupportedAlgorithm { detail }
            }
            _ => InvalidReason::BadSignature {
                target: SignatureTarget::Cms,
            },
        };
        return Err((reason, Some(Box::new(signer_certificate))));
    }
    Ok(CheckedMessage {
        signer: signer_certificate,
        pool: parsed,
        claimed_signing_time,
    })
}
