//! The OCSP responder core (RFC 6960, with the RFC 5019 lightweight profile): request
//! DER and a time in, response DER out. No sockets, no clock, no storage.
//!
//! - [`Responder`]: one CA, with its delegated responder certificate and key.
//! - [`OcspService`]: the responders of every CA served at one URL, and the rules:
//!   [`OcspService::parse`] turns request bytes into an [`OcspQuery`] (or the error
//!   that becomes a non-successful response), [`OcspService::answer`] signs the
//!   answer given the statuses, [`OcspService::respond`] does both with a
//!   [`StatusLookup`].
//!
//! What a request gets:
//!
//! | request | answer |
//! |---|---|
//! | not DER, truncated, empty, larger than `max_request_bytes`, no or more than `max_requests` CertIDs, a nonce of 0 or more than 128 octets, an unknown critical extension | `malformedRequest` |
//! | no CertID names a CA served here | `unauthorized` (RFC 5019 §2.2.3, RFC 6960 §2.3) |
//! | CertIDs of a served CA | `successful`, one SingleResponse per CertID, in request order |
//! | … plus CertIDs of another CA, an unknown hash, or an impossible serial | those get `unknown` |
//! | a serial the CA never issued | `unknown` |
//! | a certificate on hold | `revoked`, reason `certificateHold`, time = start of the hold (RFC 6960 §2.2) |
//! | the status backend fails | `tryLater` |
//! | signing fails, the responder certificate has expired | `internalError` |
//!
//! Every successful response is signed by the delegated responder key, names it by key
//! hash (`ResponderID byKey`), carries the responder certificate in `certs`, and has
//! `producedAt = thisUpdate = now` and `nextUpdate = now + validity` (default 1 h,
//! never past the responder certificate's notAfter). A request nonce is echoed.
//!
//! Not here: the pre-signed cache (`presign`), HTTP (`http`), the data (`lookup`).
//!
//! The decisions a reviewer will question:
//! - **Foreign issuers: `unauthorized` for a message, `unknown` inside one.** A
//!   message that names no CA of ours cannot be answered authoritatively, which is
//!   what `unauthorized` means (and what RFC 5019 asks for). Inside a message that also
//!   asks about our certificates, a message-level error would withhold good answers,
//!   so the foreign CertIDs are answered `unknown` ("usually because the request
//!   indicates an unrecognized issuer", RFC 6960 §2.2).
//! - **One responder signs a message.** A delegated responder speaks only for the CA
//!   that certified it (RFC 6960 §4.2.2.2, and OpenSSL rejects a response whose
//!   CertIDs name several issuers when the signer is delegated), so the CA of the first
//!   CertID we serve answers the message and CertIDs of our other CA get `unknown`.
//!   Clients send one CertID per message in practice.
//! - **nextUpdate = thisUpdate + 1 h by default.** Status changes reach the
//!   pre-signed cache at once (`on_status_change`), so the validity bounds how long a
//!   *cached copy elsewhere* (an HTTP cache, a relying party) may lag behind a
//!   revocation. One hour matches the delta-CRL period and keeps a re-signing of
//!   every cached response within the signing budget (STACK-NOTES §3: ~1,600 RSA
//!   signatures per second and core).
//! - **Signed requests are accepted but their signature is not checked**: access
//!   control is the HTTP layer's (`http::Authorizer`), as RFC 6960 §4.1.2 leaves it.

use std::fmt;
use std::sync::Arc;

use axum::body::Bytes;
use der::{Decode, Encode};
use jpki_crypto::{DigestAlgorithm, Signer, sha256};
use jpki_model::{RevocationReason, SerialNumber};
use jpki_pkix::ocsp::{
    BasicOcspResponse, CertId, CertStatus, ID_PKIX_OCSP_NONCE, MAX_NONCE_LEN, OcspRequest,
    OcspResponse, OcspResponseStatus, ResponderId, ResponseData, SingleResponse, Version,
    generalized_time, has_ocsp_signing, hash_algorithm_identifier, nonce_value, responder_key_hash,
    serial_integer,
};
use jpki_pkix::{JpkiCertificate, SignerAdapter};
use time::{Duration, OffsetDateTime};
use x509_cert::Certificate;
use x509_cert::ext::Extension;

use crate::{IssuerId, KnownStatus, StatusError, StatusLookup};

/// Default response validity: nextUpdate = thisUpdate + 1 h.
pub const DEFAULT_VALIDITY: Duration = Duration::hours(1);
/// Default cap on CertIDs per request.
pub const DEFAULT_MAX_REQUESTS: usize = 16;
/// Default cap on the size of a request (a signed request with a certificate chain
/// fits easily).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 16 * 1024;

/// How the responder behaves. [`OcspConfig::default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspConfig {
    /// nextUpdate − thisUpdate of every response.
    pub validity: Duration,
    /// Most CertIDs accepted in one request.
    pub max_requests: usize,
    /// Largest request accepted, in bytes.
    pub max_request_bytes: usize,
    /// The CertID hashes pre-signed responses are kept for (RFC 5019 clients use SHA-1;
    /// OpenSSL's `-sha256` and newer clients SHA-256). Other hashes are signed on demand.
    pub presign_hashes: Vec<DigestAlgorithm>,
    /// A pre-signed response is re-signed when its nextUpdate is closer than this.
    pub refresh_margin: Duration,
    /// Most certificates re-signed by one `refresh` call.
    pub refresh_batch: usize,
}

impl Default for OcspConfig {
    fn default() -> Self {
        Self {
            validity: DEFAULT_VALIDITY,
            max_requests: DEFAULT_MAX_REQUESTS,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            presign_hashes: vec![DigestAlgorithm::Sha1, DigestAlgorithm::Sha256],
            refresh_margin: Duration::minutes(30),
            refresh_batch: 1000,
        }
    }
}

impl OcspConfig {
    fn check(&self) -> Result<(), StatusError> {
        if self.validity <= Duration::ZERO {
            return Err(StatusError::Config(
                "OCSP validity must be positive".to_owned(),
            ));
        }
        if self.refresh_margin <= Duration::ZERO || self.refresh_margin >= self.validity {
            return Err(StatusError::Config(
                "the refresh margin must be positive and shorter than the validity".to_owned(),
            ));
        }
        if self.max_requests == 0 || self.max_request_bytes == 0 || self.refresh_batch == 0 {
            return Err(StatusError::Config(
                "max_requests, max_request_bytes and refresh_batch must be positive".to_owned(),
            ));
        }
        Ok(())
    }
}

/// One CA's responder: the CA certificate (to recognise CertIDs), the delegated
/// responder certificate and the key that signs.
pub struct Responder {
    issuer: IssuerId,
    ca: JpkiCertificate,
    responder: JpkiCertificate,
    responder_certificate: Certificate,
    signer: Arc<dyn Signer>,
    responder_id: ResponderId,
    /// (hash, issuerNameHash, issuerKeyHash) for every hash a CertID may use.
    issuer_hashes: Vec<(DigestAlgorithm, Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder")
            .field("issuer", &self.issuer)
            .field("ca", &self.ca.subject().to_rfc4514())
            .field("responder", &self.responder.subject().to_rfc4514())
            .field("responder_not_after", &self.responder.not_after())
            .finish_non_exhaustive()
    }
}

impl Responder {
    /// Checks the delegation before accepting it: the responder certificate is issued
    /// by the CA (signature and name), carries id-kp-OCSPSigning, and `signer` holds
    /// its key.
    pub fn new(
        issuer: IssuerId,
        ca_certificate_der: &[u8],
        responder_certificate_der: &[u8],
        signer: Arc<dyn Signer>,
    ) -> Result<Self, StatusError> {
        let ca = JpkiCertificate::from_der(ca_certificate_der)?;
        if !ca.is_ca() {
            return Err(StatusError::Config(format!(
                "the CA certificate of {issuer} is not a CA certificate"
            )));
        }
        let responder = JpkiCertificate::from_der(responder_certificate_der)?;
        responder.verify_issued_by(&ca).map_err(|e| {
            StatusError::Config(format!(
                "the OCSP responder certificate of {issuer} is not issued by its CA: {e}"
            ))
        })?;
        if !has_ocsp_signing(responder_certificate_der)? {
            return Err(StatusError::Config(format!(
                "the OCSP responder certificate of {issuer} lacks id-kp-OCSPSigning"
            )));
        }
        if signer.public_key_der() != responder.public_key_der() {
            return Err(StatusError::Config(format!(
                "the OCSP signing key of {issuer} is not the responder certificate's key"
            )));
        }
        SignerAdapter::new(signer.as_ref())?;
        let responder_certificate = Certificate::from_der(responder_certificate_der)?;
        if responder_certificate.to_der()? != responder_certificate_der {
            return Err(StatusError::Config(format!(
                "the OCSP responder certificate of {issuer} does not re-encode identically"
            )));
        }
        let issuer_hashes = DigestAlgorithm::ALL
            .into_iter()
            .map(|hash| {
                (
                    hash,
                    hash.hash(ca.subject().der()),
                    hash.hash(ca.public_key_bits()),
                )
            })
            .collect();
        let responder_id = ResponderId::ByKey(der::asn1::OctetString::new(responder_key_hash(
            responder.public_key_bits(),
        ))?);
        Ok(Self {
            issuer,
            ca,
            responder,
            responder_certificate,
            signer,
            responder_id,
            issuer_hashes,
        })
    }

    /// The CA this responder answers for.
    pub fn issuer(&self) -> &IssuerId {
        &self.issuer
    }

    pub fn ca_certificate(&self) -> &JpkiCertificate {
        &self.ca
    }

    pub fn responder_certificate(&self) -> &JpkiCertificate {
        &self.responder
    }

    /// True when `cert_id` names this responder's CA (both hashes, any known hash).
    pub fn serves(&self, cert_id: &CertId) -> bool {
        let Some(hash) = cert_id.digest_algorithm() else {
            return false;
        };
        self.issuer_hashes
            .iter()
            .any(|(known, name_hash, key_hash)| {
                *known == hash
                    && cert_id.issuer_name_hash.as_bytes() == name_hash.as_slice()
                    && cert_id.issuer_key_hash.as_bytes() == key_hash.as_slice()
            })
    }

    /// The canonical CertID of `serial` with `hash` (NULL hash parameters, as OpenSSL),
    /// from the issuer hashes computed once in [`Responder::new`].
    pub fn cert_id(
        &self,
        serial: &SerialNumber,
        hash: DigestAlgorithm,
    ) -> Result<CertId, StatusError> {
        match self
            .issuer_hashes
            .iter()
            .find(|(known, _, _)| *known == hash)
        {
            Some((_, name_hash, key_hash)) => Ok(CertId {
                hash_algorithm: hash_algorithm_identifier(hash),
                issuer_name_hash: der::asn1::OctetString::new(name_hash.clone())?,
                issuer_key_hash: der::asn1::OctetString::new(key_hash.clone())?,
                serial_number: serial_integer(serial)?,
            }),
            None => Ok(CertId::for_issuer(&self.ca, serial, hash)?),
        }
    }

    /// nextUpdate for a response made at `now`.
    fn next_update(&self, now: OffsetDateTime, validity: Duration) -> OffsetDateTime {
        (now + validity).min(self.responder.not_after())
    }

    /// Signs a response made of `responses` at `now`, echoing `nonce`.
    fn sign(
        &self,
        responses: Vec<SingleResponse>,
        nonce: Option<Extension>,
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, StatusError> {
        if now < self.responder.not_before() || now >= self.responder.not_after() {
            return Err(StatusError::ResponderCertificateExpired {
                issuer: self.issuer.to_string(),
                not_after: self.responder.not_after(),
            });
        }
        let data = ResponseData {
            version: Version::V1,
            responder_id: self.responder_id.clone(),
            produced_at: generalized_time(now)?,
            responses,
            response_extensions: nonce.map(|extension| vec![extension]),
        };
        let basic = BasicOcspResponse::sign(
            data,
            Some(vec![self.responder_certificate.clone()]),
            self.signer.as_ref(),
        )?;
        Ok(OcspResponse::successful(&basic)?.to_der()?)
    }
}

/// The wire status of a known status (`None`: never issued by this CA).
fn cert_status(status: Option<&KnownStatus>) -> Result<CertStatus, StatusError> {
    Ok(match status {
        None => CertStatus::unknown(),
        Some(KnownStatus::Good) => CertStatus::good(),
        Some(KnownStatus::Held { since }) => {
            CertStatus::revoked(*since, Some(RevocationReason::CertificateHold))?
        }
        Some(KnownStatus::Revoked { at, reason }) => {
            // removeFromCRL is not a revocation reason (RFC 5280 §5.3.1); a record
            // holding it is still revoked, without a reason.
            let reason = (*reason != RevocationReason::RemoveFromCrl).then_some(*reason);
            CertStatus::revoked(*at, reason)?
        }
    })
}

/// Where a reply came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplySource {
    /// Served from the pre-signed cache: no signature was made.
    Presigned,
    /// Signed for this request.
    SignedNow,
    /// A non-successful response (unsigned, as RFC 6960 §4.2.1 prescribes).
    Refused,
}

/// What HTTP caches may do with a response (RFC 5019 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHints {
    pub produced_at: OffsetDateTime,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    /// Strong validator: hex of the first 16 bytes of SHA-256 of the response.
    pub etag: String,
}

/// A response ready to send.
#[derive(Debug, Clone)]
pub struct OcspReply {
    /// The DER `OCSPResponse`.
    pub der: Bytes,
    pub status: OcspResponseStatus,
    /// `Some` when the response may be cached until nextUpdate: successful, no nonce,
    /// every certificate known.
    pub cache: Option<CacheHints>,
    pub source: ReplySource,
}

impl OcspReply {
    /// The unsigned response for a refused request.
    pub fn refused(status: OcspResponseStatus) -> Self {
        // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } — five fixed octets.
        let der = vec![0x30, 0x03, 0x0a, 0x01, status as u8];
        Self {
            der: Bytes::from(der),
            status,
            cache: None,
            source: ReplySource::Refused,
        }
    }

    /// The response for an error, logged here (the one place request failures are).
    pub fn for_error(error: &StatusError) -> Self {
        let status = error.ocsp_status();
        match status {
            OcspResponseStatus::InternalError | OcspResponseStatus::TryLater => {
                tracing::error!(code = "OCSP0001", %error, "OCSP request failed");
            }
            _ => tracing::debug!(code = "OCSP0002", %error, "OCSP request refused"),
        }
        Self::refused(status)
    }
}

/// A strong ETag value for response bytes.
pub fn etag_of(der: &[u8]) -> String {
    hex::encode(&sha256(der)[..16])
}

/// One CertID of a parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
struct QueryItem {
    cert_id: CertId,
    cert_id_der: Vec<u8>,
    /// The serial to look up, when the CertID names the answering CA and carries a
    /// valid serial; `None` is answered `unknown`.
    serial: Option<SerialNumber>,
}

/// A request that passed [`OcspService::parse`]: which CA answers, which serials to
/// look up, and the nonce to echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspQuery {
    responder: usize,
    issuer: IssuerId,
    items: Vec<QueryItem>,
    nonce: Option<Extension>,
}

impl OcspQuery {
    /// The CA that answers.
    pub fn issuer(&self) -> &IssuerId {
        &self.issuer
    }

    /// Number of CertIDs.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// For each CertID in order, the serial to look up (of [`OcspQuery::issuer`]), or
    /// `None` when it will be answered `unknown` whatever the status.
    pub fn serials(&self) -> impl Iterator<Item = Option<&SerialNumber>> {
        self.items.iter().map(|item| item.serial.as_ref())
    }

    /// The nonce to echo, if the request has one.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_ref().map(nonce_value)
    }
}

/// The responders of every CA served at one OCSP URL.
#[derive(Debug)]
pub struct OcspService {
    responders: Vec<Responder>,
    config: OcspConfig,
}

impl OcspService {
    pub fn new(responders: Vec<Responder>, config: OcspConfig) -> Result<Self, StatusError> {
        config.check()?;
        if responders.is_empty() {
            return Err(StatusError::Config(
                "an OCSP service needs at least one responder".to_owned(),
            ));
        }
        // Two responders for one CA certificate: the second could never answer.
        for (index, responder) in responders.iter().enumerate() {
            if responders[..index]
                .iter()
                .any(|earlier| earlier.ca.der() == responder.ca.der())
            {
                return Err(StatusError::Config(format!(
                    "two OCSP responders for the same CA certificate of {}",
                    responder.issuer
                )));
            }
        }
        Ok(Self { responders, config })
    }

    pub fn config(&self) -> &OcspConfig {
        &self.config
    }

    pub fn responders(&self) -> &[Responder] {
        &self.responders
    }

    /// The responders of one CA (several during a CA key rollover).
    pub fn responders_for<'a>(
        &'a self,
        issuer: &'a IssuerId,
    ) -> impl Iterator<Item = &'a Responder> + 'a {
        self.responders
            .iter()
            .filter(move |responder| responder.issuer() == issuer)
    }

    /// Checks a request and finds what to look up. The errors are the requests that get
    /// a non-successful response (see the module table).
    pub fn parse(&self, request_der: &[u8]) -> Result<OcspQuery, StatusError> {
        let malformed = |reason: String| StatusError::MalformedRequest(reason);
        if request_der.is_empty() {
            return Err(malformed("empty request".to_owned()));
        }
        if request_der.len() > self.config.max_request_bytes {
            return Err(malformed(format!(
                "request of {} bytes is larger than {}",
                request_der.len(),
                self.config.max_request_bytes
            )));
        }
        let request = OcspRequest::from_der(request_der)
            .map_err(|e| malformed(format!("not a DER OCSPRequest: {e}")))?;
        let tbs = request.tbs_request;
        let count = tbs.request_list.len();
        if count == 0 {
            return Err(malformed("the request list is empty".to_owned()));
        }
        if count > self.config.max_requests {
            return Err(malformed(format!(
                "{count} certificates in one request; at most {}",
                self.config.max_requests
            )));
        }

        // Request extensions: the nonce is echoed; other critical ones are refused.
        let mut nonce = None;
        for extension in tbs.request_extensions.iter().flatten() {
            if extension.extn_id == ID_PKIX_OCSP_NONCE {
                let value = nonce_value(extension);
                if value.is_empty() || value.len() > MAX_NONCE_LEN {
                    return Err(malformed(format!(
                        "nonce of {} octets (RFC 8954: 1 to {MAX_NONCE_LEN})",
                        value.len()
                    )));
                }
                if nonce.replace(extension.clone()).is_some() {
                    return Err(malformed("two nonce extensions".to_owned()));
                }
            } else if extension.critical {
                return Err(malformed(format!(
                    "unsupported critical request extension {}",
                    extension.extn_id
                )));
            }
        }

        // Which responder answers: the one of the first CertID we serve.
        let mut owners = Vec::with_capacity(count);
        for request in &tbs.request_list {
            if let Some(extension) = request
                .single_request_extensions
                .iter()
                .flatten()
                .find(|extension| extension.critical)
            {
                return Err(malformed(format!(
                    "unsupported critical single-request extension {}",
                    extension.extn_id
                )));
            }
            owners.push(
                self.responders
                    .iter()
                    .position(|responder| responder.serves(&request.req_cert)),
            );
        }
        let responder = owners
            .iter()
            .flatten()
            .next()
            .copied()
            .ok_or(StatusError::UnknownIssuer)?;
        let items = tbs
            .request_list
            .into_iter()
            .zip(owners)
            .map(|(request, owner)| {
                let cert_id_der = request.req_cert.to_der()?;
                let serial = if owner == Some(responder) {
                    request.req_cert.serial()
                } else {
                    None
                };
                Ok(QueryItem {
                    cert_id: request.req_cert,
                    cert_id_der,
                    serial,
                })
            })
            .collect::<Result<Vec<_>, StatusError>>()?;
        let issuer = self
            .responders
            .get(responder)
            .map(|r| r.issuer().clone())
            .ok_or(StatusError::UnknownIssuer)?;
        Ok(OcspQuery {
            responder,
            issuer,
            items,
            nonce,
        })
    }

    /// The pre-signed cache key of a query, when its answer may come from (and go to)
    /// the cache: one CertID, no nonce, a valid serial of the answering CA, a hash in
    /// `presign_hashes`, encoded exactly as the canonical CertID (so that a status
    /// change, which re-signs the canonical CertIDs, reaches every cached entry).
    pub fn cache_key(&self, query: &OcspQuery) -> Option<PresignedKey> {
        let [item] = query.items.as_slice() else {
            return None;
        };
        if query.nonce.is_some() {
            return None;
        }
        let serial = item.serial.as_ref()?;
        let hash = item.cert_id.digest_algorithm()?;
        if !self.config.presign_hashes.contains(&hash) {
            return None;
        }
        let responder = self.responders.get(query.responder)?;
        let canonical = responder.cert_id(serial, hash).ok()?.to_der().ok()?;
        (canonical == item.cert_id_der).then_some(PresignedKey(canonical))
    }

    /// Signs the answer to `query` at `now`. `statuses[i]` is the status of the i-th
    /// serial of [`OcspQuery::serials`] (`None`: unknown; ignored where the serial is
    /// `None`). Never fails: a signing failure becomes an `internalError` reply.
    pub fn answer(
        &self,
        query: &OcspQuery,
        statuses: &[Option<KnownStatus>],
        now: OffsetDateTime,
    ) -> OcspReply {
        match self.try_answer(query, statuses, now) {
            Ok(reply) => reply,
            Err(error) => OcspReply::for_error(&error),
        }
    }

    fn try_answer(
        &self,
        query: &OcspQuery,
        statuses: &[Option<KnownStatus>],
        now: OffsetDateTime,
    ) -> Result<OcspReply, StatusError> {
        let responder = self
            .responders
            .get(query.responder)
            .ok_or(StatusError::UnknownIssuer)?;
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let next_update = responder.next_update(now, self.config.validity);
        let this_update_time = generalized_time(now)?;
        let next_update_time = generalized_time(next_update)?;
        let mut all_known = true;
        let responses = query
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let status = item
                    .serial
                    .as_ref()
                    .and(statuses.get(index).and_then(Option::as_ref));
                all_known &= status.is_some();
                Ok(SingleResponse {
                    cert_id: item.cert_id.clone(),
                    cert_status: cert_status(status)?,
                    this_update: this_update_time,
                    next_update: Some(next_update_time),
                    single_extensions: None,
                })
            })
            .collect::<Result<Vec<_>, StatusError>>()?;
        let der = responder.sign(responses, query.nonce.clone(), now)?;
        let cache = (query.nonce.is_none() && all_known).then(|| CacheHints {
            produced_at: now,
            this_update: now,
            next_update,
            etag: etag_of(&der),
        });
        Ok(OcspReply {
            der: Bytes::from(der),
            status: OcspResponseStatus::Successful,
            cache,
            source: ReplySource::SignedNow,
        })
    }

    /// Parses, looks every serial up and answers: the whole protocol without a cache.
    pub async fn respond(
        &self,
        request_der: &[u8],
        now: OffsetDateTime,
        lookup: &impl StatusLookup,
    ) -> OcspReply {
        match self.parse(request_der) {
            Ok(query) => self.respond_query(&query, now, lookup).await,
            Err(error) => OcspReply::for_error(&error),
        }
    }

    /// Looks every serial of `query` up and answers it.
    pub async fn respond_query(
        &self,
        query: &OcspQuery,
        now: OffsetDateTime,
        lookup: &impl StatusLookup,
    ) -> OcspReply {
        let mut statuses = Vec::with_capacity(query.len());
        for serial in query.serials() {
            let status = match serial {
                Some(serial) => match lookup.status(query.issuer(), serial).await {
                    Ok(status) => status,
                    Err(error) => return OcspReply::for_error(&error),
                },
                None => None,
            };
            statuses.push(status);
        }
        self.answer(query, &statuses, now)
    }

    /// Signs the single response for (`responder`, `serial`, `hash`) with `status`,
    /// without a nonce: a pre-signed response.
    pub(crate) fn presign(
        &self,
        responder: &Responder,
        serial: &SerialNumber,
        hash: DigestAlgorithm,
        status: &KnownStatus,
        now: OffsetDateTime,
    ) -> Result<(PresignedKey, PresignedResponse), StatusError> {
        let cert_id = responder.cert_id(serial, hash)?;
        let key = PresignedKey(cert_id.to_der()?);
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let next_update = responder.next_update(now, self.config.validity);
        let single = SingleResponse {
            cert_id,
            cert_status: cert_status(Some(status))?,
            this_update: generalized_time(now)?,
            next_update: Some(generalized_time(next_update)?),
            single_extensions: None,
        };
        let der = responder.sign(vec![single], None, now)?;
        let etag = etag_of(&der);
        Ok((
            key,
            PresignedResponse {
                issuer: responder.issuer().clone(),
                serial: serial.clone(),
                der: Bytes::from(der),
                produced_at: now,
                this_update: now,
                next_update,
                etag,
            },
        ))
    }
}

/// The key of a pre-signed response: the DER of its canonical CertID (hash algorithm,
/// issuer name and key hashes, serial). A database keeps it as a BLOB.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PresignedKey(pub(crate) Vec<u8>);

impl PresignedKey {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// From bytes read back from storage.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for PresignedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresignedKey({})", hex::encode(&self.0))
    }
}

/// A signed response kept for requests without a nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedResponse {
    pub issuer: IssuerId,
    pub serial: SerialNumber,
    /// The DER `OCSPResponse`.
    pub der: Bytes,
    pub produced_at: OffsetDateTime,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub etag: String,
}

impl PresignedResponse {
    /// The reply that serves it.
    pub fn reply(&self) -> OcspReply {
        OcspReply {
            der: self.der.clone(),
            status: OcspResponseStatus::Successful,
            cache: Some(CacheHints {
                produced_at: self.produced_at,
                this_update: self.this_update,
                next_update: self.next_update,
                etag: self.etag.clone(),
            }),
            source: ReplySource::Presigned,
        }
    }
}
