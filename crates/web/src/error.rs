//! [`WebError`]: every way a page request can fail, mapped to a page in exactly one place.
//!
//! A handler returns `Err(WebError)`; its `IntoResponse` makes a bare response carrying
//! an [`ErrorPage`] extension, and the security middleware (which knows the reader's
//! language from the cookie) renders it with the layout. A login that is missing or
//! expired is not an error page but a redirect to the login page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jpki_api::ErrorCode;
use jpki_authority::phone::RaError;
use jpki_store::StoreError;
use maud::html;

use crate::i18n::{Lang, M};
use crate::layout::{Nav, page};
use crate::security::{CITIZEN_COOKIE, OPERATOR_COOKIE, clear_cookie};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not logged in, or the session has expired")]
    CitizenLoginRequired,
    #[error("no operator is logged in, or the session has expired")]
    OperatorLoginRequired,
    #[error("the CSRF token is missing or wrong, or the form came from another site")]
    Csrf,
    #[error("too many attempts; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("no such page")]
    NotFound,
    #[error("bad input: {0}")]
    BadInput(String),
    #[error("the role {role} may not {action}")]
    Forbidden { role: String, action: &'static str },
    #[error("unknown operator, disabled account or wrong password")]
    OperatorCredentials,
    #[error("{0}")]
    Service(RaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RaError> for WebError {
    fn from(error: RaError) -> Self {
        Self::Service(error)
    }
}

impl WebError {
    /// The stable code shown on the page and written to the log.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::CitizenLoginRequired | Self::OperatorLoginRequired => ErrorCode::SessionInvalid,
            Self::Csrf => ErrorCode::CsrfTokenInvalid,
            Self::RateLimited { .. } => ErrorCode::TooManyRequests,
            Self::NotFound => ErrorCode::PageNotFound,
            Self::BadInput(_) => ErrorCode::MalformedRequest,
            Self::Forbidden { .. } => ErrorCode::RoleForbidden,
            Self::OperatorCredentials => ErrorCode::OperatorLoginFailed,
            Self::Service(error) => error.code,
            Self::Store(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// What the middleware renders (see the module docs).
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub code: ErrorCode,
    /// An explanation in both languages, beyond the code's title.
    pub explanation: Option<M>,
    /// English detail from the service that refused (shown on English pages).
    pub detail: Option<String>,
    pub retry_after: Option<u64>,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let redirect = |to: &'static str, cookie: &str| {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response
                .headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static(to));
            if let Ok(value) = HeaderValue::from_str(&clear_cookie(cookie)) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        };
        match &self {
            Self::CitizenLoginRequired => return redirect("/login", CITIZEN_COOKIE),
            Self::OperatorLoginRequired => return redirect("/operator", OPERATOR_COOKIE),
            Self::Store(error) => {
                tracing::error!(code = "WEB0001", %error, "store error on a page")
            }
            Self::Internal(error) => tracing::error!(code = "WEB0002", %error, "page failed"),
            Self::Csrf => tracing::warn!(code = "WEB0003", "form refused: CSRF token"),
            other => tracing::debug!(error = %other, "page refused"),
        }
        let code = self.code();
        let (explanation, detail, retry_after) = match self {
            Self::Csrf => (Some(M::ErrorCsrf), None, None),
            Self::RateLimited { retry_after } => {
                (Some(M::ErrorRateLimited), None, Some(retry_after))
            }
            Self::NotFound => (Some(M::ErrorNotFound), None, None),
            Self::BadInput(detail) => (Some(M::ErrorBadInput), Some(detail), None),
            Self::Forbidden { .. } => (Some(M::ErrorForbidden), None, None),
            Self::OperatorCredentials => (Some(M::OperatorLoginFailed), None, None),
            Self::Service(error) => (None, Some(error.detail), None),
            Self::Store(_) | Self::Internal(_) => (Some(M::ErrorInternal), None, None),
            Self::CitizenLoginRequired | Self::OperatorLoginRequired => (None, None, None),
        };
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response.extensions_mut().insert(ErrorPage {
            code,
            explanation,
            detail,
            retry_after,
        });
        response
    }
}

/// The error page, keeping the status and headers (Retry-After, Set-Cookie) of
/// `response`.
pub fn render_error(lang: Lang, error: ErrorPage, response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    let title = lang.pick(error.code.title_ja(), error.code.title_en());
    let markup = page(
        lang,
        lang.t(M::ErrorTitle),
        &Nav::Public,
        None,
        html! {
            h1 { (lang.t(M::ErrorTitle)) }
            div.notice.error role="alert" {
                p { strong { (title) } }
                @if let Some(explanation) = error.explanation {
                    p { (lang.t(explanation)) }
                }
                @if let (Lang::En, Some(detail)) = (lang, &error.detail) {
                    p { (detail) }
                }
                @if let Some(seconds) = error.retry_after {
                    p { (lang.t(M::ErrorRetryAfter)) ": " (seconds) }
                }
                p.code { (lang.t(M::ErrorCode)) ": " code { (error.code.as_str()) } }
            }
            p { a href="/" { (lang.t(M::ErrorBack)) } }
        },
    );
    let body = markup.into_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}
