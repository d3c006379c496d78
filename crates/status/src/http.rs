//! The HTTP adapter (axum 0.8): OCSP over POST and GET (RFC 6960 Appendix A, RFC 5019
//! §5) and the published CRLs.
//!
//! | route | answer |
//! |---|---|
//! | `POST /ocsp` (`application/ocsp-request`) | `200 application/ocsp-response` |
//! | `GET /ocsp/{base64 of the DER request}` | the same; standard or URL-safe alphabet, with or without padding, percent-encoded or not |
//! | `GET /crl/{issuer}/{shard}.crl` | `200 application/pkix-crl`, the latest full CRL |
//! | `GET /crl/{issuer}/{shard}-delta.crl` | `200 application/pkix-crl`, the latest delta CRL |
//!
//! Cacheable OCSP responses (successful, no nonce, every certificate known) and CRLs
//! carry the RFC 5019 §6.2 headers: `Cache-Control: max-age=<until nextUpdate>, public,
//! no-transform, must-revalidate`, `Last-Modified` (producedAt / thisUpdate), `Expires`
//! (nextUpdate) and a strong `ETag`; `If-None-Match` gets `304`. Everything else carries
//! `Cache-Control: no-store`.
//!
//! Bad input never panics: a body that is not an OCSP request gets an OCSP
//! `malformedRequest` response; a GET path that is not base64, a wrong content type, a
//! body over the size limit (`413`) and unknown CRLs (`404`) get a short text.
//!
//! Access control: an [`Authorizer`] sees each request's headers; the default
//! [`OpenAccess`] lets everyone in. [`ApiKeys`] checks `Authorization: Bearer <key>`;
//! [`TrustedHeader`] checks a header set by a TLS terminator that verified a client
//! certificate.
//!
//! The decision a reviewer will question: **a refused OCSP query gets `200` with the
//! OCSP status `unauthorized`, not `401`.** RFC 6960 §2.3 defines that status for
//! exactly this ("the client is not authorized to make this query"), every OCSP client
//! reports it as such (`openssl ocsp`: "Responder Error: unauthorized (6)"), whereas an
//! HTTP error is typically reported as a transport failure and may be retried against
//! the next responder; the OCSP response is still unsigned and `no-store`. CRL
//! downloads have no such status and get `401` with `WWW-Authenticate: Bearer`.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawPathParams, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, ETAG, EXPIRES, IF_NONE_MATCH, LAST_MODIFIED,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jpki_crypto::{SecretString, sha256};
use jpki_pkix::ocsp::OcspResponseStatus;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::crl::{CrlRepository, PublishedCrl};
use crate::ocsp::{CacheHints, OcspReply};
use crate::presign::{PresigningResponder, ResponseCache};
use crate::{IssuerId, ShardId, StatusError, StatusLookup};

/// `application/ocsp-request` (RFC 6960 Appendix C.1).
pub const OCSP_REQUEST: &str = "application/ocsp-request";
/// `application/ocsp-response` (RFC 6960 Appendix C.2).
pub const OCSP_RESPONSE: &str = "application/ocsp-response";
/// `application/pkix-crl` (RFC 2585 §4.2).
pub const PKIX_CRL: &str = "application/pkix-crl";

/// Decides whether a request may use the status services.
pub trait Authorizer: Send + Sync + fmt::Debug {
    fn authorize(&self, headers: &HeaderMap) -> bool;
}

/// Everyone may query (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAccess;

impl Authorizer for OpenAccess {
    fn authorize(&self, _headers: &HeaderMap) -> bool {
        true
    }
}

/// `Authorization: Bearer <key>` with one of the configured API keys. Only SHA-256
/// digests of the keys are kept, and they are compared in constant time.
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeys([{} redacted])", self.digests.len())
    }
}

impl ApiKeys {
    /// Refuses an empty list and empty keys.
    pub fn new(keys: impl IntoIterator<Item = SecretString>) -> Result<Self, StatusError> {
        let digests: Vec<[u8; 32]> = keys
            .into_iter()
            .map(|key| {
                if key.expose().trim().is_empty() {
                    Err(StatusError::Config("an API key is empty".to_owned()))
                } else {
                    Ok(sha256(key.expose().as_bytes()))
                }
            })
            .collect::<Result<_, _>>()?;
        if digests.is_empty() {
            return Err(StatusError::Config("no API key given".to_owned()));
        }
        Ok(Self { digests })
    }
}

impl Authorizer for ApiKeys {
    fn authorize(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
        else {
            return false;
        };
        let digest = sha256(token.as_bytes());
        // Check every key, so the time does not depend on which one matched.
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, known| {
                found | known.ct_eq(&digest)
            })
            .into()
    }
}

/// A header a TLS terminator sets after verifying a client certificate (for example
/// nginx `proxy_set_header X-Client-Verify $ssl_client_verify;` → `SUCCESS`). Only
/// safe when the terminator removes any copy of that header sent by the client.
#[derive(Debug, Clone)]
pub struct TrustedHeader {
    name: HeaderName,
    accepted: Vec<HeaderValue>,
}

impl TrustedHeader {
    pub fn new(name: &str, accepted: &[&str]) -> Result<Self, StatusError> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| StatusError::Config(format!("invalid header name {name:?}")))?;
        let accepted = accepted
            .iter()
            .map(|value| {
                HeaderValue::from_str(value)
                    .map_err(|_| StatusError::Config("invalid accepted header value".to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if accepted.is_empty() {
            return Err(StatusError::Config(
                "a trusted header needs at least one accepted value".to_owned(),
            ));
        }
        Ok(Self { name, accepted })
    }
}

impl Authorizer for TrustedHeader {
    fn authorize(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(&self.name).iter();
        // Exactly one copy, with an accepted value.
        match (values.next(), values.next()) {
            (Some(value), None) => self.accepted.contains(value),
            _ => false,
        }
    }
}

/// What the router serves.
pub struct HttpState<L, C> {
    pub ocsp: Arc<PresigningResponder<L, C>>,
    pub crls: Arc<CrlRepository>,
    pub authorizer: Arc<dyn Authorizer>,
}

impl<L, C> Clone for HttpState<L, C> {
    fn clone(&self) -> Self {
        Self {
            ocsp: Arc::clone(&self.ocsp),
            crls: Arc::clone(&self.crls),
            authorizer: Arc::clone(&self.authorizer),
        }
    }
}

impl<L, C> fmt::Debug for HttpState<L, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpState")
            .field("authorizer", &self.authorizer)
            .finish_non_exhaustive()
    }
}

impl<L, C> HttpState<L, C> {
    /// Open access.
    pub fn new(ocsp: Arc<PresigningResponder<L, C>>, crls: Arc<CrlRepository>) -> Self {
        Self {
            ocsp,
            crls,
            authorizer: Arc::new(OpenAccess),
        }
    }

    pub fn with_authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }
}

/// The status services as an axum router (routes in the module docs).
pub fn router<L, C>(state: HttpState<L, C>) -> Router
where
    L: StatusLookup + 'static,
    C: ResponseCache + 'static,
{
    let limit = state.ocsp.service().config().max_request_bytes;
    Router::new()
        .route(
            "/ocsp",
            post(ocsp_post::<L, C>).layer(DefaultBodyLimit::max(limit)),
        )
        .route("/ocsp/", get(missing_request))
        .route("/ocsp/{*request}", get(ocsp_get::<L, C>))
        .route("/crl/{issuer}/{file}", get(crl_get::<L, C>))
        .with_state(state)
}

fn text(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        message,
    )
        .into_response()
}

async fn missing_request() -> Response {
    text(
        StatusCode::BAD_REQUEST,
        "missing OCSP request after /ocsp/\n",
    )
}

async fn ocsp_post<L, C>(
    State(state): State<HttpState<L, C>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response
where
    L: StatusLookup + 'static,
    C: ResponseCache + 'static,
{
    serve_ocsp_post(&state, &headers, &body).await
}

/// Serves `POST /ocsp` (content type checked, then the request answered). Public so
/// that a service can mount the routes over a responder it swaps.
pub async fn serve_ocsp_post<L, C>(
    state: &HttpState<L, C>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response
where
    L: StatusLookup + 'static,
    C: ResponseCache + 'static,
{
    if let Some(content_type) = headers.get(CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        if !essence.eq_ignore_ascii_case(OCSP_REQUEST) {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected Content-Type: application/ocsp-request\n",
            );
        }
    }
    serve_ocsp(state, headers, body).await
}

async fn ocsp_get<L, C>(
    State(state): State<HttpState<L, C>>,
    headers: HeaderMap,
    params: RawPathParams,
) -> Response
where
    L: StatusLookup + 'static,
    C: ResponseCache + 'static,
{
    let encoded = params
        .iter()
        .find(|(name, _)| *name == "request")
        .map(|(_, value)| value)
        .unwrap_or_default();
    serve_ocsp_get(&state, encoded, &headers).await
}

/// Serves `GET /ocsp/<encoded>` given the raw (still percent-encoded) path tail. Public
/// so that benchmarks can measure the whole GET path without a socket.
pub async fn serve_ocsp_get<L, C>(
    state: &HttpState<L, C>,
    encoded: &str,
    headers: &HeaderMap,
) -> Response
where
    L: StatusLookup + 'static,
    C: ResponseCache + 'static,
{
    let max = state.ocsp.service().config().max_request_bytes;
    // base64 takes 4 characters per 3 bytes and percent-encoding up to 3 per character:
    // at most 4 characters per request byte, plus padding.
    if encoded.len() > max.saturating_mul(4).saturating_add(16) {
        return text(StatusCode::URI_TOO_LONG, "OCSP request too long\n");
    }
    if !state.authorizer.authorize(headers) {
        if decode_get_request(encoded).is_none() {
            return text(
                StatusCode::BAD_REQUEST,
                "the path after /ocsp/ is not a base64 OCSP request\n",
            );
        }
        tracing::debug!(code = "OCSP0006", "OCSP query refused: not authorized");
        let reply = OcspReply::refused(OcspResponseStatus::Unauthorized);
        return ocsp_response(&reply, headers, state.ocsp.clock().now());
    }
    match state.ocsp.handle_get(encoded, decode_get_request).await {
        Some(reply) => ocsp_response(&reply, headers, state.ocsp.clock().now()),
        None => text(
            StatusCode::BAD_REQUEST,
            "the path after /ocsp/ is not a base64 OCSP request\n",
        ),
    }
}

async fn serve_ocsp<L, C>(state: &HttpState<L, C>, headers: &HeaderMap, der: &[u8]) -> Response
where
    L: StatusLookup + 'static,
    C: ResponseCache + 'static,
{
    let reply = if state.authorizer.authorize(headers) {
        state.ocsp.handle(der).await
    } else {
        tracing::debug!(code = "OCSP0006", "OCSP query refused: not authorized");
        OcspReply::refused(OcspResponseStatus::Unauthorized)
    };
    ocsp_response(&reply, headers, state.ocsp.clock().now())
}

/// The HTTP response for an OCSP reply at `now`, honouring `If-None-Match`.
pub fn ocsp_response(
    reply: &OcspReply,
    request_headers: &HeaderMap,
    now: OffsetDateTime,
) -> Response {
    cached_response(
        OCSP_RESPONSE,
        reply.der.clone(),
        reply.cache.as_ref(),
        request_headers,
        now,
    )
}

fn cached_response(
    content_type: &'static str,
    body: Bytes,
    cache: Option<&CacheHints>,
    request_headers: &HeaderMap,
    now: OffsetDateTime,
) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    let Some(hints) = cache else {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return (StatusCode::OK, headers, Body::from(body)).into_response();
    };
    let max_age = (hints.next_update - now).whole_seconds().max(0);
    if let Ok(value) = HeaderValue::from_str(&format!(
        "max-age={max_age}, public, no-transform, must-revalidate"
    )) {
        headers.insert(CACHE_CONTROL, value);
    }
    let fixed = fixed_headers(hints);
    for (name, value) in [
        (LAST_MODIFIED, &fixed.last_modified),
        (EXPIRES, &fixed.expires),
        (ETAG, &fixed.etag),
    ] {
        if let Some(value) = value {
            headers.insert(name, value.clone());
        }
    }
    let etag = fixed
        .etag
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let not_modified = request_headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| candidate == etag || candidate == "*");
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, Body::from(body)).into_response()
}

/// The headers of a cacheable response that do not depend on the time of the request.
#[derive(Clone)]
struct FixedHeaders {
    key: (OffsetDateTime, OffsetDateTime, String),
    last_modified: Option<HeaderValue>,
    expires: Option<HeaderValue>,
    etag: Option<HeaderValue>,
}

thread_local! {
    /// The last response's fixed headers, per thread: a responder answering the same
    /// hot certificates formats its dates once per response, not once per request.
    static LAST_FIXED: std::cell::RefCell<Option<FixedHeaders>> =
        const { std::cell::RefCell::new(None) };
}

fn fixed_headers(hints: &CacheHints) -> FixedHeaders {
    LAST_FIXED.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(fixed) = last.as_ref()
            && fixed.key.0 == hints.produced_at
            && fixed.key.1 == hints.next_update
            && fixed.key.2 == hints.etag
        {
            return fixed.clone();
        }
        let value = |text: Option<String>| text.and_then(|t| HeaderValue::from_str(&t).ok());
        let fixed = FixedHeaders {
            key: (hints.produced_at, hints.next_update, hints.etag.clone()),
            last_modified: value(http_date(hints.produced_at)),
            expires: value(http_date(hints.next_update)),
            etag: value(Some(format!("\"{}\"", hints.etag))),
        };
        *last = Some(fixed.clone());
        fixed
    })
}

/// IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(instant: OffsetDateTime) -> Option<String> {
    instant
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .ok()
}

/// Standard and URL-safe alphabets, padding optional (RFC 5019 §5 says base64 of the
/// DER, URL-encoded; clients differ on the alphabet and on padding).
const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The DER request of a GET path tail: percent-decoded, then base64 in either alphabet.
pub fn decode_get_request(encoded: &str) -> Option<Vec<u8>> {
    let text = percent_decode(encoded)?;
    if text.is_empty() {
        return None;
    }
    STANDARD
        .decode(&text)
        .or_else(|_| URL_SAFE.decode(&text))
        .ok()
        .filter(|der| !der.is_empty())
}

/// `%XX` → byte; everything else as is (`+` stays `+`: this is a path, not a form).
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let hex = bytes.get(index + 1..index + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    Some(out)
}

async fn crl_get<L, C>(
    State(state): State<HttpState<L, C>>,
    headers: HeaderMap,
    Path((issuer, file)): Path<(String, String)>,
) -> Response
where
    L: StatusLookup + 'static,
    C: ResponseCache + 'static,
{
    serve_crl(&state, &headers, &issuer, &file)
}

/// Serves `GET /crl/{issuer}/{file}`. Public for the same reason as
/// [`serve_ocsp_post`].
pub fn serve_crl<L, C>(
    state: &HttpState<L, C>,
    headers: &HeaderMap,
    issuer: &str,
    file: &str,
) -> Response
where
    L: StatusLookup + 'static,
    C: ResponseCache + 'static,
{
    if !state.authorizer.authorize(headers) {
        let mut response = text(StatusCode::UNAUTHORIZED, "authorization required\n");
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"jpki-status\""),
        );
        return response;
    }
    let not_found = || text(StatusCode::NOT_FOUND, "no such CRL\n");
    let Ok(issuer) = IssuerId::new(issuer.to_owned()) else {
        return not_found();
    };
    let (shard, delta) = match file.strip_suffix("-delta.crl") {
        Some(shard) => (shard, true),
        None => match file.strip_suffix(".crl") {
            Some(shard) => (shard, false),
            None => return not_found(),
        },
    };
    let Some(shard) = ShardId::parse(shard) else {
        return not_found();
    };
    let crl = if delta {
        state.crls.delta(&issuer, shard)
    } else {
        state.crls.full(&issuer, shard)
    };
    match crl {
        Some(crl) => crl_response(&crl, headers, state.ocsp.clock().now()),
        None => not_found(),
    }
}

fn crl_response(crl: &PublishedCrl, request_headers: &HeaderMap, now: OffsetDateTime) -> Response {
    let hints = CacheHints {
        produced_at: crl.this_update,
        this_update: crl.this_update,
        next_update: crl.next_update,
        etag: crl.etag.clone(),
    };
    cached_response(
        PKIX_CRL,
        crl.der.clone(),
        Some(&hints),
        request_headers,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_paths_decode_in_every_spelling() {
        let der = [0x30, 0x03, 0xfb, 0xff, 0xfe];
        let standard = base64::engine::general_purpose::STANDARD.encode(der);
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der);
        assert!(standard.contains('+') || standard.contains('/'));
        for spelling in [
            standard.clone(),
            standard.trim_end_matches('=').to_owned(),
            url_safe,
            standard
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D"),
            standard.replace('/', "%2f"),
        ] {
            assert_eq!(
                decode_get_request(&spelling),
                Some(der.to_vec()),
                "{spelling}"
            );
        }
        for bad in ["", "%", "%4", "%zz", "!!!!", "=", "%00%00", "YQ=%"] {
            assert_eq!(decode_get_request(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        let date = time::macros::datetime!(1994-11-06 08:49:37 UTC);
        assert_eq!(http_date(date).unwrap(), "Sun, 06 Nov 1994 08:49:37 GMT");
        let jst = time::macros::datetime!(2026-11-27 00:00:00 +09:00);
        assert_eq!(http_date(jst).unwrap(), "Thu, 26 Nov 2026 15:00:00 GMT");
    }

    #[test]
    fn api_keys_accept_only_their_bearer_tokens() {
        let keys =
            ApiKeys::new([SecretString::from("k3y-one"), SecretString::from("two")]).unwrap();
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(keys.authorize(&with("Bearer k3y-one")));
        assert!(keys.authorize(&with("bearer two")));
        assert!(!keys.authorize(&with("Bearer k3y-on")));
        assert!(!keys.authorize(&with("Basic k3y-one")));
        assert!(!keys.authorize(&with("k3y-one")));
        assert!(!keys.authorize(&HeaderMap::new()));
        assert!(!format!("{keys:?}").contains("k3y"));
        assert!(ApiKeys::new([]).is_err());
        assert!(ApiKeys::new([SecretString::from(" ")]).is_err());
    }

    #[test]
    fn trusted_headers_need_exactly_one_accepted_copy() {
        let trusted = TrustedHeader::new("x-client-verify", &["SUCCESS"]).unwrap();
        let mut headers = HeaderMap::new();
        assert!(!trusted.authorize(&headers));
        headers.insert("x-client-verify", HeaderValue::from_static("SUCCESS"));
        assert!(trusted.authorize(&headers));
        headers.append("x-client-verify", HeaderValue::from_static("SUCCESS"));
        assert!(!trusted.authorize(&headers));
        let mut failed = HeaderMap::new();
        failed.insert("x-client-verify", HeaderValue::from_static("FAILED:x"));
        assert!(!trusted.authorize(&failed));
    }
}
