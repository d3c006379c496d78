//! `/api/v1` routes. Each handler decodes, calls the phone service, encodes.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use jpki_api::{ApplicationRequest, DeviceEventView, ErrorCode, NonceRequest, RegistrationRequest};
use serde::Deserialize;

use crate::{ApiError, AppState, openapi_document};

/// Every route: (method, path). The OpenAPI document and a test keep to this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/nonces"),
    ("post", "/api/v1/applications"),
    ("get", "/api/v1/applications/{application_id}"),
    ("get", "/api/v1/applications/{application_id}/certificates"),
    ("post", "/api/v1/applications/{application_id}/registration"),
    ("get", "/api/v1/devices/{device_id}/events"),
    ("get", "/api/v1/devices/{device_id}/certificates"),
    ("get", "/api/v1/devices/{device_id}/history"),
    ("post", "/api/v1/devices/{device_id}/wiped"),
    ("post", "/api/v1/hotline/suspensions"),
    ("post", "/api/v1/hotline/lookups"),
    ("get", "/api/v1/certificates/{issuer}/{serial}/links"),
    ("post", "/api/v1/phone/lift"),
    ("post", "/api/v1/phone/revocations"),
    ("post", "/api/v1/phone/revoke-other"),
    ("post", "/api/v1/phone/pin-resets"),
    ("get", "/healthz"),
];

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/nonces", post(nonce))
        .route("/api/v1/applications", post(submit))
        .route("/api/v1/applications/{application_id}", get(application))
        .route(
            "/api/v1/applications/{application_id}/certificates",
            get(certificates),
        )
        .route(
            "/api/v1/applications/{application_id}/registration",
            post(register),
        )
        .route("/api/v1/devices/{device_id}/events", get(events))
        .route(
            "/api/v1/devices/{device_id}/certificates",
            get(device_certificates),
        )
        .route("/api/v1/devices/{device_id}/history", get(history))
        .route("/api/v1/devices/{device_id}/wiped", post(wiped))
        .route("/healthz", get(|| async { "ok" }))
        .merge(crate::relying_routes::router())
        .merge(crate::lifecycle_routes::router())
        .merge(crate::log_routes::router())
        .fallback(|| async {
            ApiError::new(ErrorCode::MalformedRequest, "no such endpoint")
                .with_status(StatusCode::NOT_FOUND)
        })
        .with_state(state)
}

impl ApiError {
    fn with_status(self, status: StatusCode) -> Response {
        let mut response = self.into_response();
        *response.status_mut() = status;
        response
    }
}

/// A JSON body whose rejections are problem documents.
pub(crate) struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(value)| Self(value))
            .map_err(|rejection| ApiError::new(ErrorCode::MalformedRequest, rejection.body_text()))
    }
}

/// `Authorization: Bearer <device token>`.
pub(crate) struct DeviceToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeviceToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::DeviceTokenInvalid,
                    "an Authorization: Bearer token is required",
                )
            })?;
        Ok(Self(value.to_owned()))
    }
}

async fn openapi() -> impl IntoResponse {
    Json(openapi_document())
}

async fn nonce(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<NonceRequest>,
) -> Result<Response, ApiError> {
    let nonce = state.phone.issue_nonce(request.purpose).await?;
    Ok((StatusCode::CREATED, Json(nonce)).into_response())
}

async fn submit(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ApplicationRequest>,
) -> Result<Response, ApiError> {
    let accepted = state.phone.submit(&request).await?;
    state.events.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(accepted)).into_response())
}

async fn application(
    State(state): State<AppState>,
    Path(application_id): Path<String>,
    DeviceToken(token): DeviceToken,
) -> Result<Response, ApiError> {
    Ok(Json(
        state
            .phone
            .application_view(&application_id, &token)
            .await?,
    )
    .into_response())
}

async fn certificates(
    State(state): State<AppState>,
    Path(application_id): Path<String>,
    DeviceToken(token): DeviceToken,
) -> Result<Response, ApiError> {
    Ok(Json(
        state
            .phone
            .issued_certificates(&application_id, &token)
            .await?,
    )
    .into_response())
}

async fn register(
    State(state): State<AppState>,
    Path(application_id): Path<String>,
    DeviceToken(token): DeviceToken,
    ApiJson(request): ApiJson<RegistrationRequest>,
) -> Result<Response, ApiError> {
    let result = state
        .phone
        .register(&application_id, &token, &request)
        .await?;
    state.events.notify_waiters();
    Ok(Json(result).into_response())
}

async fn device_certificates(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    DeviceToken(token): DeviceToken,
) -> Result<Response, ApiError> {
    Ok(Json(state.phone.device_certificates(&device_id, &token).await?).into_response())
}

async fn history(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    DeviceToken(token): DeviceToken,
) -> Result<Response, ApiError> {
    Ok(Json(state.phone.device_history(&device_id, &token).await?).into_response())
}

async fn wiped(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    DeviceToken(token): DeviceToken,
) -> Result<Response, ApiError> {
    state.phone.acknowledge_wipe(&device_id, &token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    /// Events after this sequence number.
    #[serde(default)]
    after: Option<i64>,
    /// Long poll: wait up to this many seconds (at most 30) for an event.
    #[serde(default)]
    wait: Option<u64>,
}

/// Server-Sent Events when the client accepts `text/event-stream`; otherwise a JSON
/// array, optionally long-polled.
async fn events(
    State(state): State<AppState>,
    Path(device_id): Path<String>,
    DeviceToken(token): DeviceToken,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<i64>().ok());
    let after = query.after.or(last_event_id).unwrap_or(0);
    // Authenticate before answering anything, stream or not.
    let first = state.phone.events(&device_id, &token, after, 100).await?;
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    if wants_stream {
        let stream = event_stream(state, device_id, token, after, first);
        return Ok(Sse::new(stream)
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
            .into_response());
    }
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(30));
    let deadline = tokio::time::Instant::now() + wait;
    let mut events = first;
    while events.is_empty() && tokio::time::Instant::now() < deadline {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let _ =
            tokio::time::timeout(remaining.min(state.event_poll), state.events.notified()).await;
        events = state.phone.events(&device_id, &token, after, 100).await?;
    }
    Ok(Json(events).into_response())
}

fn event_stream(
    state: AppState,
    device_id: String,
    token: String,
    after: i64,
    first: Vec<DeviceEventView>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(
        (state, device_id, token, after, first),
        |(state, device_id, token, mut after, mut pending)| async move {
            loop {
                if !pending.is_empty() {
                    let event = pending.remove(0);
                    after = event.seq;
                    let sse = Event::default()
                        .id(event.seq.to_string())
                        .event(event.kind.clone())
                        .json_data(&event)
                        .unwrap_or_else(|_| Event::default().comment("unencodable event"));
                    return Some((Ok(sse), (state, device_id, token, after, pending)));
                }
                let _ = tokio::time::timeout(state.event_poll, state.events.notified()).await;
                match state.phone.events(&device_id, &token, after, 100).await {
                    Ok(events) => pending = events,
                    // The token was revoked or the database went away: end the stream;
                    // the client reconnects with Last-Event-ID.
                    Err(_) => return None,
                }
            }
        },
    )
}
