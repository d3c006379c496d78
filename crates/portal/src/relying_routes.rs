//! `/api/v1` routes of the relying-party side: portal login (cross-device), signed
//! online applications, the platform-operator API (Bearer relying-party key), and sign
//! requests that private apps send to a person's phone.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jpki_api::{
    ErrorCode, LoginApprovalRequest, PlatformProof, PlatformReplacement, SessionRequest,
    SignRequestAnswer, SignRequestCreate, SubmissionRequest,
};
use jpki_authority::relying::RelyingService;
use jpki_store::Store;

use crate::routes::ApiJson;
use crate::{ApiError, AppState};

/// The relying-party routes: (method, path), kept in the OpenAPI document.
pub const RELYING_ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/login/challenges"),
    ("get", "/api/v1/login/challenges/{challenge_id}"),
    ("post", "/api/v1/login/challenges/{challenge_id}/approval"),
    ("post", "/api/v1/login/challenges/{challenge_id}/session"),
    ("get", "/api/v1/login/codes/{code}"),
    ("get", "/api/v1/session"),
    ("delete", "/api/v1/session"),
    ("post", "/api/v1/submissions"),
    ("get", "/api/v1/devices/{device_id}/submissions"),
    ("get", "/api/v1/devices/{device_id}/sign-requests"),
    (
        "post",
        "/api/v1/devices/{device_id}/sign-requests/{request_id}/answer",
    ),
    ("post", "/api/v1/platform/nonces"),
    ("post", "/api/v1/platform/users"),
    ("post", "/api/v1/platform/login"),
    ("post", "/api/v1/platform/replacement"),
    ("post", "/api/v1/platform/sign-requests"),
    ("get", "/api/v1/platform/sign-requests/{request_id}"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/login/challenges", post(create_login))
        .route("/api/v1/login/challenges/{challenge_id}", get(login_view))
        .route(
            "/api/v1/login/challenges/{challenge_id}/approval",
            post(approve_login),
        )
        .route(
            "/api/v1/login/challenges/{challenge_id}/session",
            post(collect_session),
        )
        .route("/api/v1/login/codes/{code}", get(login_by_code))
        .route("/api/v1/session", get(session).delete(logout))
        .route("/api/v1/submissions", post(submit))
        .route("/api/v1/devices/{device_id}/submissions", get(submissions))
        .route(
            "/api/v1/devices/{device_id}/sign-requests",
            get(pending_requests),
        )
        .route(
            "/api/v1/devices/{device_id}/sign-requests/{request_id}/answer",
            post(answer_request),
        )
        .route("/api/v1/platform/nonces", post(platform_nonce))
        .route("/api/v1/platform/users", post(platform_register))
        .route("/api/v1/platform/login", post(platform_login))
        .route("/api/v1/platform/replacement", post(platform_replacement))
        .route("/api/v1/platform/sign-requests", post(create_sign_request))
        .route(
            "/api/v1/platform/sign-requests/{request_id}",
            get(sign_request_result),
        )
}

fn relying(state: &AppState) -> Result<Arc<RelyingService<Store>>, ApiError> {
    state.relying.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "the relying-party services are not configured",
        )
    })
}

/// `Authorization: Bearer <token>` (a session, a device or a relying-party key).
pub(crate) struct Bearer(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::SessionInvalid,
                    "an Authorization: Bearer token is required",
                )
            })?;
        Ok(Self(token.to_owned()))
    }
}

async fn create_login(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(relying(&state)?.create_login().await?),
    )
        .into_response())
}

async fn login_view(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(relying(&state)?.login_view(&id).await?).into_response())
}

async fn login_by_code(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(relying(&state)?.login_by_code(&code).await?).into_response())
}

async fn approve_login(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(answer): ApiJson<LoginApprovalRequest>,
) -> Result<Response, ApiError> {
    relying(&state)?.approve_login(&id, &answer).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn collect_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<SessionRequest>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            relying(&state)?
                .collect_session(&id, &request.browser_secret)
                .await?,
        ),
    )
        .into_response())
}

async fn session(
    State(state): State<AppState>,
    Bearer(token): Bearer,
) -> Result<Response, ApiError> {
    Ok(Json(relying(&state)?.session_view(&token).await?).into_response())
}

async fn logout(
    State(state): State<AppState>,
    Bearer(token): Bearer,
) -> Result<Response, ApiError> {
    relying(&state)?.logout(&token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn submit(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SubmissionRequest>,
) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(relying(&state)?.submit(&request).await?),
    )
        .into_response())
}

async fn submissions(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    Bearer(token): Bearer,
) -> Result<Response, ApiError> {
    let device = state.phone.device_by_token(&device_id, &token).await?;
    let resident = device
        .resident_id
        .ok_or_else(|| ApiError::new(ErrorCode::DeviceMismatch, "this phone has no owner yet"))?;
    Ok(Json(relying(&state)?.submissions_of(resident).await?).into_response())
}

async fn pending_requests(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    Bearer(token): Bearer,
) -> Result<Response, ApiError> {
    let device = state.phone.device_by_token(&device_id, &token).await?;
    let resident = device
        .resident_id
        .ok_or_else(|| ApiError::new(ErrorCode::DeviceMismatch, "this phone has no owner yet"))?;
    Ok(Json(relying(&state)?.pending_requests(resident).await?).into_response())
}

async fn answer_request(
    State(state): State<AppState>,
    Path((device_id, request_id)): Path<(String, String)>,
    Bearer(token): Bearer,
    ApiJson(answer): ApiJson<SignRequestAnswer>,
) -> Result<Response, ApiError> {
    let device = state.phone.device_by_token(&device_id, &token).await?;
    relying(&state)?
        .answer_request(&device, &request_id, &answer)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn party(
    state: &AppState,
    token: &str,
) -> Result<(Arc<RelyingService<Store>>, jpki_store::RelyingPartyRecord), ApiError> {
    let service = relying(state)?;
    let party = service.relying_party(token).await?;
    Ok((service, party))
}

async fn platform_nonce(
    State(state): State<AppState>,
    Bearer(token): Bearer,
) -> Result<Response, ApiError> {
    let (service, _) = party(&state, &token).await?;
    Ok((StatusCode::CREATED, Json(service.platform_nonce().await?)).into_response())
}

async fn platform_register(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    ApiJson(proof): ApiJson<PlatformProof>,
) -> Result<Response, ApiError> {
    let (service, party) = party(&state, &token).await?;
    Ok((
        StatusCode::CREATED,
        Json(service.platform_register(&party, &proof).await?),
    )
        .into_response())
}

async fn platform_login(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    ApiJson(proof): ApiJson<PlatformProof>,
) -> Result<Response, ApiError> {
    let (service, party) = party(&state, &token).await?;
    Ok(Json(service.platform_login(&party, &proof).await?).into_response())
}

async fn platform_replacement(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    ApiJson(replacement): ApiJson<PlatformReplacement>,
) -> Result<Response, ApiError> {
    let (service, party) = party(&state, &token).await?;
    Ok(Json(service.platform_replacement(&party, &replacement).await?).into_response())
}

async fn create_sign_request(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    ApiJson(request): ApiJson<SignRequestCreate>,
) -> Result<Response, ApiError> {
    let (service, party) = party(&state, &token).await?;
    let created = service.create_sign_request(&party, &request).await?;
    state.events.notify_waiters();
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn sign_request_result(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
    Bearer(token): Bearer,
) -> Result<Response, ApiError> {
    let (service, party) = party(&state, &token).await?;
    Ok(Json(service.sign_request_result(&party, &request_id).await?).into_response())
}

/// Adds these routes and their schemas to the OpenAPI document.
pub fn extend_openapi(document: &mut serde_json::Value) {
    use crate::openapi::{
        add_members, json_body as body, path_parameter as parameter, problem,
        schema_ref as reference,
    };
    use serde_json::json;
    let bearer = |scheme: &str| json!([{ scheme: [] }]);
    let string = json!({ "type": "string" });
    let schemas = json!({
        "LoginChallengeCreated": { "type": "object", "properties": {
            "challenge_id": string, "challenge": string, "code": string, "browser_secret": string,
            "expires_at": { "type": "string", "format": "date-time" } } },
        "LoginChallengeView": { "type": "object", "properties": {
            "challenge_id": string, "challenge": string, "expires_at": { "type": "string", "format": "date-time" },
            "approved": { "type": "boolean" } } },
        "LoginApprovalRequest": { "type": "object", "additionalProperties": false, "required": ["certificate", "signature"],
            "properties": { "certificate": { "type": "string", "contentEncoding": "base64" },
                "signature": { "type": "string", "contentEncoding": "base64", "description": "Over the canonical login text (docs/phone-api.md)" } } },
        "SessionRequest": { "type": "object", "additionalProperties": false, "required": ["browser_secret"],
            "properties": { "browser_secret": string } },
        "SessionCreated": { "type": "object", "properties": { "session_token": string,
            "expires_at": { "type": "string", "format": "date-time" }, "name": string } },
        "SessionView": { "type": "object", "properties": { "name": string, "expires_at": { "type": "string", "format": "date-time" } } },
        "SubmissionRequest": { "type": "object", "additionalProperties": false,
            "required": ["title", "content_type", "content", "signature"],
            "properties": { "title": string, "content_type": string,
                "content": { "type": "string", "contentEncoding": "base64" },
                "signature": { "type": "string", "contentEncoding": "base64", "description": "Detached CMS SignedData" } } },
        "SubmissionReceipt": { "type": "object", "properties": { "receipt_id": string, "title": string,
            "received_at": { "type": "string", "format": "date-time" }, "content_sha256": string, "signer_name": string,
            "certificate_kind": string, "certificate_serial": string, "evidence": { "type": "string", "enum": ["ocsp", "crl", "none"] } } },
        "SubmissionView": { "type": "object", "properties": { "receipt": reference("SubmissionReceipt"),
            "report": { "type": "object", "description": "jpki-verify's report at submission, with the evidence" },
            "recheck_valid": { "type": "boolean" } } },
        "PlatformProof": { "type": "object", "additionalProperties": false, "required": ["certificate", "nonce", "signature"],
            "properties": { "certificate": { "type": "string", "contentEncoding": "base64" }, "nonce": string,
                "signature": { "type": "string", "contentEncoding": "base64", "description": "Over the canonical platform text" } } },
        "PlatformReplacement": { "type": "object", "additionalProperties": false, "required": ["certificate"],
            "properties": { "certificate": { "type": "string", "contentEncoding": "base64" } } },
        "PlatformUser": { "type": "object", "properties": { "user_id": string,
            "basic_info": { "type": ["object", "null"] }, "certificate_serial": string,
            "replaces_serial": { "type": ["string", "null"] } } },
        "SignRequestCreate": { "type": "object", "additionalProperties": false, "required": ["user_id", "purpose", "kind", "content"],
            "properties": { "user_id": string, "purpose": string, "kind": reference("PhoneKind"),
                "content": { "type": "string", "contentEncoding": "base64" } } },
        "SignRequestCreated": { "type": "object", "properties": { "request_id": string,
            "verification_code": { "type": "string", "pattern": "^[0-9]{6}$" }, "expires_at": { "type": "string", "format": "date-time" } } },
        "SignRequestResult": { "type": "object", "properties": { "request_id": string,
            "state": { "type": "string", "enum": ["pending", "approved", "declined", "expired"] },
            "signature": { "type": ["string", "null"] }, "certificate": { "type": ["string", "null"] } } },
        "PendingSignRequest": { "type": "object", "properties": { "request_id": string, "relying_party": string,
            "purpose": string, "kind": reference("PhoneKind"), "content": string, "verification_code": string,
            "expires_at": { "type": "string", "format": "date-time" } } },
        "SignRequestAnswer": { "type": "object", "additionalProperties": false, "required": ["approve"],
            "properties": { "approve": { "type": "boolean" }, "signature": { "type": ["string", "null"] },
                "certificate": { "type": ["string", "null"] } } }
    });
    let challenge_id = parameter("challenge_id", "The login challenge id");
    let device_id = parameter("device_id", "The phone's secure element serial");
    let request_id = parameter("request_id", "The sign request id");
    let paths = json!({
        "/api/v1/login/challenges": { "post": { "summary": "Start a login (the page shows the code; the browser keeps the secret)",
            "responses": { "201": body("LoginChallengeCreated") } } },
        "/api/v1/login/challenges/{challenge_id}": { "get": { "summary": "A login challenge (has it been approved?)",
            "parameters": [challenge_id.clone()], "responses": { "200": body("LoginChallengeView"), "404": problem("Unknown") } } },
        "/api/v1/login/challenges/{challenge_id}/approval": { "post": {
            "summary": "The phone (or card) signs the challenge with its user-authentication key",
            "parameters": [challenge_id.clone()], "requestBody": body("LoginApprovalRequest"),
            "responses": { "204": { "description": "Approved" }, "401": problem("The response does not verify"),
                "403": problem("Revoked or held certificate"), "409": problem("Already approved"), "410": problem("Expired") } } },
        "/api/v1/login/challenges/{challenge_id}/session": { "post": { "summary": "The browser collects its session, once",
            "parameters": [challenge_id], "requestBody": body("SessionRequest"),
            "responses": { "201": body("SessionCreated"), "401": problem("Not approved, collected, or wrong secret") } } },
        "/api/v1/login/codes/{code}": { "get": { "summary": "The phone looks a login up by the code the page shows",
            "parameters": [parameter("code", "e.g. K7QF-92MA")], "responses": { "200": body("LoginChallengeView"), "404": problem("Unknown"), "410": problem("Expired") } } },
        "/api/v1/session": {
            "get": { "summary": "Who the session is for", "security": bearer("session"), "responses": { "200": body("SessionView"), "401": problem("No session") } },
            "delete": { "summary": "Log out", "security": bearer("session"), "responses": { "204": { "description": "Logged out" } } } },
        "/api/v1/submissions": { "post": { "summary": "A signed online application (オンライン申請); verified, kept with its evidence",
            "requestBody": body("SubmissionRequest"), "responses": { "201": body("SubmissionReceipt"),
                "422": problem("The signature does not verify"), "403": problem("Revoked or held certificate"), "503": problem("Status unavailable") } } },
        "/api/v1/devices/{device_id}/submissions": { "get": { "summary": "The phone owner's submissions, re-checked from their kept evidence",
            "security": bearer("deviceToken"), "parameters": [device_id.clone()],
            "responses": { "200": { "description": "Submissions", "content": { "application/json": { "schema": { "type": "array", "items": reference("SubmissionView") } } } } } } },
        "/api/v1/devices/{device_id}/sign-requests": { "get": { "summary": "Pending sign requests from private apps for the phone's owner",
            "security": bearer("deviceToken"), "parameters": [device_id.clone()],
            "responses": { "200": { "description": "Requests", "content": { "application/json": { "schema": { "type": "array", "items": reference("PendingSignRequest") } } } } } } },
        "/api/v1/devices/{device_id}/sign-requests/{request_id}/answer": { "post": { "summary": "Approve (with the signature) or decline",
            "security": bearer("deviceToken"), "parameters": [device_id, request_id.clone()], "requestBody": body("SignRequestAnswer"),
            "responses": { "204": { "description": "Answered" }, "403": problem("Not the person's registered phone"),
                "409": problem("Already answered"), "410": problem("Expired") } } },
        "/api/v1/platform/nonces": { "post": { "summary": "A nonce for a platform proof", "security": bearer("relyingParty"),
            "responses": { "201": body("NonceResponse"), "401": problem("Unknown relying party") } } },
        "/api/v1/platform/users": { "post": { "summary": "Register a user with a signature certificate: stable user id + basic 4 information",
            "security": bearer("relyingParty"), "requestBody": body("PlatformProof"),
            "responses": { "201": body("PlatformUser"), "403": problem("Revoked (CERTIFICATE_REVOKED) or held (CERTIFICATE_HELD)") } } },
        "/api/v1/platform/login": { "post": { "summary": "Log a user in with a user-authentication certificate: the same user id",
            "security": bearer("relyingParty"), "requestBody": body("PlatformProof"),
            "responses": { "200": body("PlatformUser"), "404": problem("Not registered"), "403": problem("Revoked or held") } } },
        "/api/v1/platform/replacement": { "post": { "summary": "A new signature certificate linked (新旧紐付け) to the one it replaced keeps the user id",
            "security": bearer("relyingParty"), "requestBody": body("PlatformReplacement"),
            "responses": { "200": body("PlatformUser"), "404": problem("No predecessor") } } },
        "/api/v1/platform/sign-requests": { "post": { "summary": "Ask a user's phone to sign (the phone shows the same verification code)",
            "security": bearer("relyingParty"), "requestBody": body("SignRequestCreate"), "responses": { "201": body("SignRequestCreated") } } },
        "/api/v1/platform/sign-requests/{request_id}": { "get": { "summary": "The request's state, signature and certificate",
            "security": bearer("relyingParty"), "parameters": [request_id], "responses": { "200": body("SignRequestResult"), "404": problem("Unknown") } } }
    });
    add_members(&mut document["paths"], &paths);
    add_members(&mut document["components"]["schemas"], &schemas);
    if let Some(map) = document["components"]["securitySchemes"].as_object_mut() {
        map.insert(
            "session".into(),
            json!({ "type": "http", "scheme": "bearer", "description": "A portal session token" }),
        );
        map.insert(
            "relyingParty".into(),
            json!({ "type": "http", "scheme": "bearer", "description": "A relying party's API key (jpki rp add)" }),
        );
    }
}
