//! Who is asking: the request context (language, cookies, where the page is), the
//! citizen's and the operator's sessions, and the form extractors that check the CSRF
//! token before a handler sees the form.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use jpki_crypto::{random_bytes, sha256};
use jpki_store::{
    AccountRecord, OperatorSessionRecord, OperatorStore, RegistryStore, RelyingStore, Resident,
    SessionRecord,
};
use serde::de::DeserializeOwned;

use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::security::{
    CITIZEN_COOKIE, Cookies, CsrfToken, OPERATOR_COOKIE, PRE_COOKIE, SameSite, client_ip,
    same_origin, set_cookie,
};

/// Labels of the CSRF tokens (one per kind of secret they are keyed with).
const CITIZEN_LABEL: &str = "citizen";
const OPERATOR_LABEL: &str = "operator";
const PRE_LABEL: &str = "pre-session";

/// What every page needs to know about the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub cookies: Cookies,
    /// Path and query of this page (where the language toggle returns).
    pub here: String,
    pub client_ip: String,
    pub headers: axum::http::HeaderMap,
}

impl FromRequestParts<WebState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let cookies = Cookies::from_headers(&parts.headers);
        Ok(Self {
            lang: cookies.lang(),
            here: parts
                .uri
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_else(|| "/".to_owned()),
            client_ip: client_ip(parts),
            headers: parts.headers.clone(),
            cookies,
        })
    }
}

impl Ctx {
    /// The CSRF token of the login forms, and the cookie to set when the browser has
    /// no key yet.
    pub fn pre_session_token(&self) -> Result<(CsrfToken, Option<String>), WebError> {
        if let Some(key) = self
            .cookies
            .get(PRE_COOKIE)
            .and_then(|text| jpki_api::decode_token(text).ok())
            .filter(|key| key.len() == 32)
        {
            return Ok((CsrfToken::derive(&key, PRE_LABEL), None));
        }
        let key = random_bytes(32).map_err(|error| WebError::Internal(error.to_string()))?;
        let cookie = set_cookie(
            PRE_COOKIE,
            &jpki_api::encode_token(&key),
            SameSite::Strict,
            None,
        );
        Ok((CsrfToken::derive(&key, PRE_LABEL), Some(cookie)))
    }
}

/// A session token from a cookie: its bytes (the CSRF key) and digest (the store key).
fn token_of(cookies: &Cookies, name: &str) -> Option<(Vec<u8>, [u8; 32])> {
    let bytes = jpki_api::decode_token(cookies.get(name)?).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    let digest = sha256(&bytes);
    Some((bytes, digest))
}

/// A logged-in citizen.
#[derive(Debug)]
pub struct Citizen {
    pub ctx: Ctx,
    pub resident: Resident,
    pub session: SessionRecord,
    pub csrf: CsrfToken,
    pub token_hash: [u8; 32],
}

impl FromRequestParts<WebState> for Citizen {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ctx) = Ctx::from_request_parts(parts, state).await;
        Self::load(state, ctx).await
    }
}

impl Citizen {
    /// The citizen whose live session the request's cookie names.
    pub async fn load(state: &WebState, ctx: Ctx) -> Result<Self, WebError> {
        let inner = &state.inner;
        let (token, token_hash) =
            token_of(&ctx.cookies, CITIZEN_COOKIE).ok_or(WebError::CitizenLoginRequired)?;
        let session = inner
            .store
            .session(&token_hash, inner.clock.now())
            .await?
            .ok_or(WebError::CitizenLoginRequired)?;
        let resident = inner
            .store
            .resident(session.resident_id)
            .await?
            .ok_or(WebError::CitizenLoginRequired)?;
        Ok(Self {
            csrf: CsrfToken::derive(&token, CITIZEN_LABEL),
            ctx,
            resident,
            session,
            token_hash,
        })
    }
}

/// A logged-in operator (enabled account, live session).
#[derive(Debug)]
pub struct Operator {
    pub ctx: Ctx,
    pub account: AccountRecord,
    pub session: OperatorSessionRecord,
    pub csrf: CsrfToken,
    pub token_hash: [u8; 32],
}

impl FromRequestParts<WebState> for Operator {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ctx) = Ctx::from_request_parts(parts, state).await;
        Self::load(state, ctx).await
    }
}

impl Operator {
    /// The operator whose live session the request's cookie names.
    pub async fn load(state: &WebState, ctx: Ctx) -> Result<Self, WebError> {
        let inner = &state.inner;
        let (token, token_hash) =
            token_of(&ctx.cookies, OPERATOR_COOKIE).ok_or(WebError::OperatorLoginRequired)?;
        let session = inner
            .store
            .operator_session(&token_hash, inner.clock.now())
            .await?
            .ok_or(WebError::OperatorLoginRequired)?;
        Ok(Self {
            csrf: CsrfToken::derive(&token, OPERATOR_LABEL),
            account: session.account.clone(),
            ctx,
            session,
            token_hash,
        })
    }
}

/// Reads a form body: checks the origin, the content type, and that the `csrf` field
/// passes `check`, then deserializes the whole form. A missing token fails the check
/// (403), before anything else about the form is looked at.
async fn read_form<T: DeserializeOwned>(
    parts: &Parts,
    body: Bytes,
    check: impl FnOnce(&str) -> Result<(), WebError>,
) -> Result<T, WebError> {
    same_origin(parts)?;
    let form_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(WebError::Csrf);
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| WebError::Csrf)?;
    let token = pairs
        .iter()
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.as_str())
        .unwrap_or_default();
    check(token)?;
    serde_urlencoded::from_bytes(&body)
        .map_err(|error| WebError::BadInput(format!("the form is incomplete: {error}")))
}

async fn split(request: Request, state: &WebState) -> Result<(Parts, Bytes), WebError> {
    let (parts, body) = request.into_parts();
    let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
        .await
        .map_err(|_| WebError::BadInput("the form body could not be read".into()))?;
    Ok((parts, body))
}

/// A citizen's POST: session, then CSRF token, then the form.
#[derive(Debug)]
pub struct CitizenForm<T> {
    pub citizen: Citizen,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<WebState> for CitizenForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = split(request, state).await?;
        let citizen = Citizen::from_request_parts(&mut parts, state).await?;
        let form = read_form(&parts, body, |token| citizen.csrf.verify(token)).await?;
        Ok(Self { citizen, form })
    }
}

/// An operator's POST: session, then CSRF token, then the form.
#[derive(Debug)]
pub struct OperatorForm<T> {
    pub operator: Operator,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<WebState> for OperatorForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = split(request, state).await?;
        let operator = Operator::from_request_parts(&mut parts, state).await?;
        let form = read_form(&parts, body, |token| operator.csrf.verify(token)).await?;
        Ok(Self { operator, form })
    }
}

/// A POST before any session (login forms): the token is keyed by the pre-session
/// cookie, which must be there.
#[derive(Debug)]
pub struct PreSessionForm<T> {
    pub ctx: Ctx,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<WebState> for PreSessionForm<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = split(request, state).await?;
        let Ok(ctx) = Ctx::from_request_parts(&mut parts, state).await;
        let key = ctx
            .cookies
            .get(PRE_COOKIE)
            .and_then(|text| jpki_api::decode_token(text).ok())
            .filter(|key| key.len() == 32)
            .ok_or(WebError::Csrf)?;
        let expected = CsrfToken::derive(&key, PRE_LABEL);
        let form = read_form(&parts, body, |token| expected.verify(token)).await?;
        Ok(Self { ctx, form })
    }
}

/// A form that carries nothing but its token (logout, …).
#[derive(Debug, serde::Deserialize)]
pub struct TokenOnly {
    #[serde(default)]
    #[allow(dead_code)]
    pub csrf: String,
}
