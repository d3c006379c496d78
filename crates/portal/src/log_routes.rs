//! `/api/v1/log/…`: the verifiable usage log (`docs/verifiable-log.md`). The latest
//! signed tree head, the log's public key and consistency proofs between published heads
//! are public; a history bundle is the caller's own, authenticated by a portal session
//! (the cross-device login) or by the phone's device token. Each handler decodes, calls
//! [`UsageLog`], encodes; errors become problem documents in [`ApiError`].

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jpki_api::{ConsistencyQuery, ErrorCode, LogHistoryQuery, LogKeyView};
use jpki_authority::usage_log::{UsageLog, UsageLogError};
use jpki_crypto::SignatureAlgorithm;
use jpki_store::{ResidentId, Store};
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// The log routes: (method, path), kept in the OpenAPI document.
pub const LOG_ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/log/sth"),
    ("get", "/api/v1/log/key"),
    ("get", "/api/v1/log/consistency"),
    ("get", "/api/v1/log/history"),
];

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/log/sth", get(sth))
        .route("/api/v1/log/key", get(key))
        .route("/api/v1/log/consistency", get(consistency))
        .route("/api/v1/log/history", get(history))
}

/// The one mapping of the log service's errors to the API's codes.
impl From<UsageLogError> for ApiError {
    fn from(error: UsageLogError) -> Self {
        match error {
            UsageLogError::Inconsistent(reason) => {
                tracing::error!(%reason, "the usage log is inconsistent");
                ApiError::new(
                    ErrorCode::LogInconsistent,
                    "the usage log is being audited by its operator",
                )
            }
            UsageLogError::UnknownTreeHead(size) => ApiError::new(
                ErrorCode::TreeHeadUnknown,
                format!("no tree head of {size} leaves was published"),
            ),
            UsageLogError::SizesOutOfOrder { first, second } => ApiError::new(
                ErrorCode::MalformedRequest,
                format!("tree size {first} is larger than {second}"),
            ),
            UsageLogError::Store(store) => jpki_authority::phone::RaError::from(store).into(),
            other => {
                tracing::error!(error = %other, "the usage log failed");
                ApiError::new(ErrorCode::Internal, "the usage log failed")
            }
        }
    }
}

fn usage_log(state: &AppState) -> Result<Arc<UsageLog<Store>>, ApiError> {
    state.log.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::LogUnavailable,
            "the verifiable usage log is not configured on this portal",
        )
    })
}

/// A query string whose rejections are problem documents.
struct ApiQuery<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| {
                ApiError::new(ErrorCode::MalformedRequest, rejection.body_text())
            })
    }
}

async fn sth(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(usage_log(&state)?.current_tree_head().await?).into_response())
}

async fn key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let log = usage_log(&state)?;
    let public = log.public_key();
    Ok(Json(LogKeyView {
        log_id: public.log_id().to_hex(),
        algorithm: match public.algorithm() {
            SignatureAlgorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            SignatureAlgorithm::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
        }
        .to_owned(),
        public_key_pem: public
            .to_pem()
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the log key does not encode"))?,
        public_key_der: jpki_api::encode_der(public.spki_der()),
    })
    .into_response())
}

async fn consistency(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let proof = usage_log(&state)?
        .consistency(query.first, query.second)
        .await?;
    Ok(Json(proof).into_response())
}

fn bearer(headers: &HeaderMap, missing: ErrorCode) -> Result<String, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::new(missing, "an Authorization: Bearer token is required"))
}

/// The person the request is authenticated as: the phone's owner (device token and
/// `device_id`), else the portal session's person. Nobody else's history is reachable:
/// the resident comes from the credential, never from the request.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    device_id: Option<&str>,
) -> Result<ResidentId, ApiError> {
    match device_id {
        Some(device_id) => {
            let token = bearer(headers, ErrorCode::DeviceTokenInvalid)?;
            let device = state.phone.device_by_token(device_id, &token).await?;
            device.resident_id.ok_or_else(|| {
                ApiError::new(ErrorCode::DeviceMismatch, "this phone has no owner yet")
            })
        }
        None => {
            let token = bearer(headers, ErrorCode::SessionInvalid)?;
            let relying = state.relying.as_ref().ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ServiceUnavailable,
                    "portal login is not configured",
                )
            })?;
            Ok(relying.session(&token).await?.resident_id)
        }
    }
}

async fn history(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<LogHistoryQuery>,
) -> Result<Response, ApiError> {
    let log = usage_log(&state)?;
    let resident = caller(&state, &headers, query.device_id.as_deref()).await?;
    Ok(Json(log.history_bundle(resident, query.since).await?).into_response())
}

/// Adds these routes and their schemas to the OpenAPI document.
pub fn extend_openapi(document: &mut serde_json::Value) {
    use crate::openapi::{add_members, json_body as body, problem, schema_ref as reference};
    use serde_json::json;
    let query = |name: &str, required: bool, description: &str| json!({ "name": name, "in": "query", "required": required, "description": description, "schema": { "type": if name == "device_id" { "string" } else { "integer" } } });
    let hash = json!({ "type": "string", "pattern": "^[0-9a-fA-F]{64}$" });
    let schemas = json!({
        "SignedTreeHead": { "type": "object", "additionalProperties": false,
            "required": ["log_id", "tree_size", "timestamp", "root_hash", "signature"],
            "description": "docs/verifiable-log.md §5.2: the signature covers \"jpki-log tree head v1\" || log_id || u64 tree_size || u64 timestamp || root_hash",
            "properties": { "log_id": hash, "tree_size": { "type": "integer" },
                "timestamp": { "type": "integer", "description": "milliseconds since 1970-01-01T00:00:00Z" },
                "root_hash": hash, "signature": { "type": "string", "contentEncoding": "base64" } } },
        "LogKeyView": { "type": "object", "additionalProperties": false,
            "required": ["log_id", "algorithm", "public_key_pem", "public_key_der"],
            "properties": { "log_id": hash, "algorithm": { "type": "string", "enum": ["ecdsa-p256-sha256", "rsa-pkcs1-sha256"] },
                "public_key_pem": { "type": "string" }, "public_key_der": { "type": "string", "contentEncoding": "base64" } } },
        "ConsistencyProofDocument": { "type": "object", "additionalProperties": false,
            "required": ["format", "from", "to", "proof"],
            "properties": { "format": { "const": "jpki-log/consistency-proof/v1" }, "from": reference("SignedTreeHead"),
                "to": reference("SignedTreeHead"), "proof": { "type": "array", "items": hash } } },
        "HistoryBundle": { "type": "object", "additionalProperties": false,
            "required": ["format", "person_log_id", "tree_head", "previous", "entries"],
            "description": "docs/verifiable-log.md §6.1; verify offline with `jpki log verify FILE --key KEY`",
            "properties": { "format": { "const": "jpki-log/history-bundle/v1" }, "person_log_id": { "type": "string" },
                "tree_head": reference("SignedTreeHead"),
                "previous": { "type": ["object", "null"], "properties": { "tree_head": reference("SignedTreeHead"),
                    "consistency_proof": { "type": "array", "items": hash } } },
                "entries": { "type": "array", "items": { "type": "object", "properties": {
                    "seq": { "type": "integer" }, "leaf_index": { "type": "integer" }, "entry_hash": hash, "chain": hash,
                    "event": { "type": ["object", "null"], "properties": {
                        "at": { "type": "string", "description": "RFC 3339 UTC, six fractional digits" },
                        "device_id": { "type": ["string", "null"] }, "action": { "type": "string" },
                        "outcome": { "type": "string" }, "detail": {} } },
                    "inclusion_proof": { "type": "array", "items": hash } } } } } }
    });
    let paths = json!({
        "/api/v1/log/sth": { "get": { "summary": "The latest signed tree head of the usage log (signed on demand when the log grew, at most once a second)",
            "responses": { "200": body("SignedTreeHead"), "503": problem("No log (LOG_UNAVAILABLE), or the log does not match its published heads (LOG_INCONSISTENT)") } } },
        "/api/v1/log/key": { "get": { "summary": "The public key the tree heads verify with",
            "responses": { "200": body("LogKeyView"), "503": problem("No log") } } },
        "/api/v1/log/consistency": { "get": { "summary": "The proof that the published head of `second` leaves extends the one of `first` (RFC 9162 §2.1.4)",
            "parameters": [query("first", true, "Size of the earlier published tree head"), query("second", true, "Size of the later published tree head")],
            "responses": { "200": body("ConsistencyProofDocument"), "400": problem("first > second"), "404": problem("No head of that size (TREE_HEAD_UNKNOWN)") } } },
        "/api/v1/log/history": { "get": { "summary": "The caller's own usage history with an inclusion proof per entry, verifiable offline",
            "security": [{ "session": [] }, { "deviceToken": [] }],
            "parameters": [query("since", false, "Size of a published tree head the caller holds: adds the consistency proof from it"),
                query("device_id", false, "With a device token: the phone's secure element serial")],
            "responses": { "200": body("HistoryBundle"), "401": problem("No valid session or device token"),
                "403": problem("The phone has no owner yet"), "404": problem("No head of size `since`") } } }
    });
    add_members(&mut document["paths"], &paths);
    add_members(&mut document["components"]["schemas"], &schemas);
}
