//! The one place where errors become HTTP responses: RFC 9457 problem documents with a
//! stable code and messages in Japanese and English.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jpki_api::{ErrorCode, PROBLEM_JSON, Problem};
use jpki_authority::phone::RaError;

/// An error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub RaError);

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self(RaError::new(code, detail))
    }
}

impl From<RaError> for ApiError {
    fn from(error: RaError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.0.code;
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = %code.as_str(), detail = %self.0.detail, "request failed");
        } else {
            tracing::info!(code = %code.as_str(), detail = %self.0.detail, "request refused");
        }
        let mut response = (status, Json(Problem::new(code, self.0.detail))).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}
