//! The lifecycle's `/api/v1` routes: the hotline and the certificate links (an account's
//! API key as `Authorization: Bearer`), and the phone app's lift, revocations and PIN
//! reset (signed with the card; the phone's device token where the phone itself asks).
//! Each handler decodes, calls the service, encodes; errors become problem documents in
//! `ApiError`.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jpki_api::{
    ErrorCode, LiftRequest, LookupRequest, PinResetRequest, RevocationRequest, RevokeOtherRequest,
    SuspensionRequest,
};

use crate::routes::{ApiJson, DeviceToken};
use crate::{ApiError, AppState};

/// The lifecycle routes, part of [`crate::ROUTES`].
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/hotline/suspensions", post(suspend))
        .route("/api/v1/hotline/lookups", post(lookup))
        .route("/api/v1/certificates/{issuer}/{serial}/links", get(links))
        .route("/api/v1/phone/lift", post(lift))
        .route("/api/v1/phone/revocations", post(revoke))
        .route("/api/v1/phone/revoke-other", post(revoke_other))
        .route("/api/v1/phone/pin-resets", post(reset_pin))
}

/// `Authorization: Bearer <API key>` of an account (operator or verifier).
struct ApiKey(String);

impl<S: Send + Sync> FromRequestParts<S> for ApiKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim())
            .filter(|key| !key.is_empty())
            .map(|key| Self(key.to_owned()))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::AccountUnauthorized,
                    "an Authorization: Bearer API key is required",
                )
            })
    }
}

fn hotline(
    state: &AppState,
) -> Result<&jpki_authority::hotline::HotlineService<jpki_store::Store>, ApiError> {
    state.hotline.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "the hotline is not enabled on this portal",
        )
    })
}

async fn suspend(
    State(state): State<AppState>,
    ApiKey(key): ApiKey,
    ApiJson(request): ApiJson<SuspensionRequest>,
) -> Result<Response, ApiError> {
    let result = hotline(&state)?.suspend(&key, &request).await?;
    state.events.notify_waiters();
    Ok(Json(result).into_response())
}

async fn lookup(
    State(state): State<AppState>,
    ApiKey(key): ApiKey,
    ApiJson(request): ApiJson<LookupRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(hotline(&state)?.lookup(&key, &request).await?).into_response())
}

async fn links(
    State(state): State<AppState>,
    ApiKey(key): ApiKey,
    Path((issuer, serial)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(Json(hotline(&state)?.links(&key, &issuer, &serial).await?).into_response())
}

async fn lift(
    State(state): State<AppState>,
    DeviceToken(token): DeviceToken,
    ApiJson(request): ApiJson<LiftRequest>,
) -> Result<Response, ApiError> {
    let result = state.phone.lift(&token, &request).await?;
    state.events.notify_waiters();
    Ok(Json(result).into_response())
}

async fn revoke(
    State(state): State<AppState>,
    DeviceToken(token): DeviceToken,
    ApiJson(request): ApiJson<RevocationRequest>,
) -> Result<Response, ApiError> {
    let result = state.phone.revoke(&token, &request).await?;
    state.events.notify_waiters();
    Ok(Json(result).into_response())
}

async fn revoke_other(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RevokeOtherRequest>,
) -> Result<Response, ApiError> {
    let result = state.phone.revoke_other(&request).await?;
    state.events.notify_waiters();
    Ok(Json(result).into_response())
}

async fn reset_pin(
    State(state): State<AppState>,
    DeviceToken(token): DeviceToken,
    ApiJson(request): ApiJson<PinResetRequest>,
) -> Result<Response, ApiError> {
    Ok(Json(state.phone.reset_pin(&token, &request).await?).into_response())
}
