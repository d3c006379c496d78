//! OCSP for the status checker: request, transport (POST, or RFC 5019 GET), and the
//! relying party's checks on the response, on top of jpki-pkix's OCSP types
//! ([`jpki_pkix::ocsp`]).
//!
//! ```text
//! OCSPRequest  ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
//! TBSRequest   ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT GeneralName OPTIONAL,
//!                             requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
//! CertID       ::= SEQUENCE { hashAlgorithm, issuerNameHash OCTET STRING, issuerKeyHash OCTET STRING, serialNumber }
//! -- RFC 6960 §4.1.1; the CertID uses SHA-1, which every responder must accept (RFC 5019 §2.1.1)
//! ```

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::Encode;
use jpki_crypto::{DigestAlgorithm, random_bytes};
use jpki_pkix::ocsp::{
    CertId, OcspCertStatus, OcspRequest, OcspResponseStatus, OcspResponseView, ResponseSigner,
};
use time::OffsetDateTime;

use super::{OcspMethod, SourceAnswer, StatusChecker, StatusOptions};
use crate::path::ParsedCertificate;
use crate::verdict::{Base64Bytes, CertificateState, Evidence, StatusEvidence};

/// Nonce length sent (RFC 8954 recommends 32 octets at most; 16 is what OpenSSL sends).
const NONCE_LEN: usize = 16;
/// RFC 5019 §5: GET only when the encoded request is under 255 bytes.
const MAX_GET_REQUEST: usize = 255;

/// A checked OCSP answer kept until its nextUpdate.
#[derive(Debug, Clone)]
pub(crate) struct CachedOcsp {
    response_der: Arc<Vec<u8>>,
    url: Option<String>,
    responder: String,
    produced_at: OffsetDateTime,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    answer: SourceAnswer,
}

impl CachedOcsp {
    fn fresh(&self, at: OffsetDateTime, options: &StatusOptions) -> bool {
        self.this_update <= at + options.clock_skew
            && match self.next_update {
                Some(next_update) => at <= next_update,
                None => at - self.this_update <= options.max_age_without_next_update,
            }
    }

    fn record(&self, serial: &jpki_model::SerialNumber, cached: bool, evidence: &mut Evidence) {
        evidence.status.push((
            serial.clone(),
            StatusEvidence::Ocsp {
                url: self.url.clone(),
                response_der: Base64Bytes(self.response_der.as_ref().clone()),
                responder: self.responder.clone(),
                produced_at: self.produced_at,
                this_update: self.this_update,
                next_update: self.next_update,
                state: state_of(&self.answer),
                cached,
            },
        ));
    }
}

pub(crate) fn state_of(answer: &SourceAnswer) -> CertificateState {
    match answer {
        SourceAnswer::Good => CertificateState::Good,
        SourceAnswer::Revoked { time, reason } => CertificateState::Revoked {
            time: *time,
            reason: *reason,
        },
        SourceAnswer::Unknown => CertificateState::Unknown,
    }
}

impl StatusChecker {
    /// A fresh cached answer, or a supplied response about this certificate that checks.
    pub(crate) fn ocsp_from_store(
        &self,
        end_entity: &ParsedCertificate,
        issuer: &ParsedCertificate,
        at: OffsetDateTime,
        evidence: &mut Evidence,
    ) -> Option<SourceAnswer> {
        let serial = end_entity.certificate().serial();
        let key = (issuer.certificate().fingerprint_sha256(), serial.clone());
        let supplied = {
            let mut cache = self.cache();
            if let Some(cached) = cache.ocsp.get(&key) {
                if cached.fresh(at, self.options()) {
                    cached.record(serial, true, evidence);
                    return Some(cached.answer.clone());
                }
                cache.ocsp.remove(&key);
            }
            cache.supplied_ocsp.clone()
        };
        for der in supplied {
            let Ok(view) = OcspResponseView::from_der(&der) else {
                continue;
            };
            if view.find(issuer.certificate(), serial).is_none() {
                continue; // about other certificates: not a failure for this one
            }
            match check_response(
                &view,
                Arc::clone(&der),
                None,
                None,
                end_entity,
                issuer,
                at,
                self.options(),
            ) {
                Ok(checked) => {
                    checked.record(serial, false, evidence);
                    let answer = checked.answer.clone();
                    let mut cache = self.cache();
                    cache
                        .supplied_ocsp
                        .retain(|other| !Arc::ptr_eq(other, &der));
                    cache.ocsp.insert(key, checked);
                    return Some(answer);
                }
                Err(failure) => evidence
                    .failures
                    .push(format!("supplied OCSP response: {failure}")),
            }
        }
        None
    }

    /// Asks the responder at `url`.
    pub(crate) fn ocsp_fetch(
        &self,
        url: &str,
        end_entity: &ParsedCertificate,
        issuer: &ParsedCertificate,
        at: OffsetDateTime,
        evidence: &mut Evidence,
    ) -> Result<SourceAnswer, String> {
        let serial = end_entity.certificate().serial();
        let cert_id = CertId::for_issuer(issuer.certificate(), serial, DigestAlgorithm::Sha1)
            .map_err(|e| format!("CertID: {e}"))?;
        let nonce = if self.options().send_nonce {
            Some(random_bytes(NONCE_LEN).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let request = OcspRequest::new(vec![cert_id], nonce.as_deref())
            .and_then(|request| Ok(request.to_der()?))
            .map_err(|e| format!("request: {e}"))?;
        let response = match self.options().ocsp_method {
            OcspMethod::Get if request.len() < MAX_GET_REQUEST => {
                self.transport.get(&get_url(url, &request))
            }
            _ => self
                .transport
                .post(url, "application/ocsp-request", &request),
        }
        .map_err(|e| e.to_string())?;
        let body = response.into_ok_body(url).map_err(|e| e.to_string())?;
        let body = Arc::new(body);
        let view = OcspResponseView::from_der(&body).map_err(|e| format!("response: {e}"))?;
        let checked = check_response(
            &view,
            Arc::clone(&body),
            Some(url),
            nonce.as_deref(),
            end_entity,
            issuer,
            at,
            self.options(),
        )?;
        checked.record(serial, false, evidence);
        let answer = checked.answer.clone();
        if checked.next_update.is_some() {
            let key = (issuer.certificate().fingerprint_sha256(), serial.clone());
            self.cache().ocsp.insert(key, checked);
        }
        Ok(answer)
    }
}

/// RFC 5019 §5: `url/` + URL-encoded base64 of the DER request.
pub(crate) fn get_url(url: &str, request_der: &[u8]) -> String {
    let encoded: String = STANDARD
        .encode(request_der)
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            other => other.to_string(),
        })
        .collect();
    if url.ends_with('/') {
        format!("{url}{encoded}")
    } else {
        format!("{url}/{encoded}")
    }
}

/// The relying party's checks on a parsed response (see [`super`]).
#[allow(clippy::too_many_arguments)]
fn check_response(
    view: &OcspResponseView,
    der: Arc<Vec<u8>>,
    url: Option<&str>,
    sent_nonce: Option<&[u8]>,
    end_entity: &ParsedCertificate,
    issuer: &ParsedCertificate,
    at: OffsetDateTime,
    options: &StatusOptions,
) -> Result<CachedOcsp, String> {
    if view.response_status() != OcspResponseStatus::Successful {
        return Err(format!(
            "the responder answered {}",
            view.response_status().as_str()
        ));
    }
    let signer = view
        .verify_for_issuer(issuer.certificate(), at)
        .map_err(|e| format!("response signature: {e}"))?;
    let single = view
        .find(issuer.certificate(), end_entity.certificate().serial())
        .ok_or_else(|| "the response is not about this certificate".to_owned())?;
    match (sent_nonce, view.nonce()) {
        (Some(sent), Some(echoed)) if sent != echoed => {
            return Err("the response nonce is not the one sent".to_owned());
        }
        (Some(_), None) if options.require_nonce => {
            return Err("the response does not echo the nonce".to_owned());
        }
        _ => {}
    }
    let produced_at = view
        .produced_at()
        .ok_or_else(|| "no producedAt".to_owned())?;
    let answer = match single.status {
        OcspCertStatus::Good => SourceAnswer::Good,
        OcspCertStatus::Revoked { at, reason } => SourceAnswer::Revoked { time: at, reason },
        OcspCertStatus::Unknown => SourceAnswer::Unknown,
    };
    let responder = match signer {
        ResponseSigner::Issuer => issuer.certificate().subject().to_rfc4514(),
        ResponseSigner::Delegated(certificate) => certificate.subject().to_rfc4514(),
    };
    let checked = CachedOcsp {
        response_der: der,
        url: url.map(str::to_owned),
        responder,
        produced_at,
        this_update: single.this_update,
        next_update: single.next_update,
        answer,
    };
    if single.this_update > at + options.clock_skew {
        return Err(format!(
            "thisUpdate {} is in the future",
            single.this_update
        ));
    }
    if !checked.fresh(at, options) {
        return Err(match single.next_update {
            Some(next_update) => format!("stale response: nextUpdate {next_update} has passed"),
            None => format!(
                "stale response: thisUpdate {} without nextUpdate is too old",
                single.this_update
            ),
        });
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_urls_percent_encode_base64() {
        assert_eq!(
            get_url("http://h/ocsp", &[0xfb, 0xff]),
            "http://h/ocsp/%2B%2F8%3D"
        );
        assert_eq!(get_url("http://h/", &[0x00]), "http://h/AA%3D%3D");
    }
}
