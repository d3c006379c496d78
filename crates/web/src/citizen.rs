//! The citizen's pages: home, cross-device login, dashboard (certificates, revocation),
//! usage history with its exports, and signed applications with their receipts.
//!
//! The login, step by step:
//! 1. `POST /login/start` (rate-limited per client address) asks `RelyingService` for a
//!    login challenge and keeps its id and browser secret in the `__Host-jpki-login`
//!    cookie, for as long as the code lives.
//! 2. `GET /login` shows the code, its QR code and how to approve it
//!    (`jpki phone login --code`, or the app, with the authentication PIN).
//! 3. The page's script polls `GET /login/status`; without scripts, a `<noscript>`
//!    refresh and the "Check" button do the same.
//! 4. Once approved, `POST /login/complete` collects the session with the browser
//!    secret (once only: `RelyingService::collect_session`) and sets the session cookie.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jpki_authority::lifecycle::{Lifecycle, Plan, Transition, is_live};
use jpki_model::{CertificateStatus, Medium, RevocationReason, SerialNumber};
use jpki_store::{
    CertificateRecord, CertificateStore, DeviceState, Holder, NewDeviceEvent, RelyingStore,
    UsageKind, UsageStore,
};
use maud::{Markup, html};
use serde::Deserialize;

use crate::WebState;
use crate::error::WebError;
use crate::history::{self, HistoryParams, HistoryQuery, Line, kind_label};
use crate::i18n::{
    Lang, M, jst, jst_date, medium_label, purpose_label, reason_label, status_label,
};
use crate::layout::{CitizenPage, Head, Nav, badge, column_heads, page, page_with};
use crate::qr;
use crate::security::{
    CITIZEN_COOKIE, LANG_COOKIE, LOGIN_COOKIE, SameSite, clear_cookie, request_origin, set_cookie,
};
use crate::session::{Citizen, CitizenForm, Ctx, PreSessionForm, TokenOnly};

/// Most lines an export holds.
const EXPORT_MAX_LINES: usize = 100_000;

/// A page, with cookies to set.
pub(crate) fn html_page(markup: Markup, cookies: &[String]) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response();
    append_cookies(&mut response, cookies);
    response
}

pub(crate) fn append_cookies(response: &mut Response, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

/// `303 See Other` to a path of ours, with cookies to set.
pub(crate) fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    append_cookies(&mut response, cookies);
    response
}

/// A query string parsed leniently into `T` (a bad one is [`WebError::BadInput`]).
pub(crate) fn parse_query<T: serde::de::DeserializeOwned + Default>(
    query: Option<String>,
) -> Result<T, WebError> {
    match query {
        None => Ok(T::default()),
        Some(text) => serde_urlencoded::from_str(&text)
            .map_err(|error| WebError::BadInput(format!("query: {error}"))),
    }
}

/// Whether `next` is a path on this site (not `//host`, not a scheme, no backslash).
fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    ok.then_some(next)
}

/// A page of the logged-in citizen: their navigation with `here` marked.
fn citizen_page(citizen: &Citizen, title: &str, here: CitizenPage, body: Markup) -> Markup {
    let nav = Nav::Citizen {
        name: citizen.resident.basic_info.name(),
        csrf: citizen.csrf.as_str(),
        here,
    };
    page(citizen.ctx.lang, title, &nav, Some(&citizen.ctx.here), body)
}

fn flag(query: &Option<String>, name: &str) -> bool {
    query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == name || pair.starts_with(&format!("{name}=")))
}

// ------------------------------------------------------------------ home and language

pub async fn home(
    State(state): State<WebState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    if ctx.cookies.get(CITIZEN_COOKIE).is_some() && Citizen::load(&state, ctx.clone()).await.is_ok()
    {
        return Ok(see_other("/dashboard", &[]));
    }
    let lang = ctx.lang;
    let (token, cookie) = ctx.pre_session_token()?;
    let body = html! {
        h1 { (lang.t(M::HomeTitle)) }
        @if flag(&query, "logged_out") {
            div.notice.success role="status" { p { (lang.t(M::LoggedOut)) } }
        }
        p { (lang.t(M::HomeIntro)) }
        form method="post" action="/login/start" {
            input type="hidden" name="csrf" value=(token.as_str());
            button type="submit" { (lang.t(M::LoginStart)) }
        }
        p.hint { (lang.t(M::LoginStartHint)) }
        h2 { (lang.t(M::GuideTitle)) }
        p { (lang.t(M::GuideLost)) }
        p { (lang.t(M::GuideFound)) }
        p { a href="/operator" { (lang.t(M::OperatorLink)) } }
    };
    let markup = page(
        lang,
        lang.t(M::HomeTitle),
        &Nav::Public,
        Some(&ctx.here),
        body,
    );
    Ok(html_page(markup, &cookie.into_iter().collect::<Vec<_>>()))
}

#[derive(Debug, Default, Deserialize)]
pub struct LanguageParams {
    #[serde(default)]
    next: String,
}

/// `GET /lang/{ja|en}?next=/path`: remembers the language, back to the page.
pub async fn set_language(
    Path(lang): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let lang = Lang::parse(&lang).ok_or(WebError::NotFound)?;
    let params: LanguageParams = parse_query(query)?;
    let next = local_path(&params.next).unwrap_or("/");
    Ok(see_other(
        next,
        &[set_cookie(
            LANG_COOKIE,
            lang.code(),
            SameSite::Lax,
            Some(365 * 24 * 3600),
        )],
    ))
}

// ------------------------------------------------------------------ login

/// Where a pending login stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginState {
    None,
    Pending,
    Approved,
    Expired,
}

impl LoginState {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Expired => "expired",
        }
    }
}

/// The pending login of this browser: (challenge id, browser secret) from its cookie.
fn pending_login(ctx: &Ctx) -> Option<(String, String)> {
    let value = ctx.cookies.get(LOGIN_COOKIE)?;
    let (id, secret) = value.split_once('.')?;
    let token = |text: &str| {
        !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (token(id) && token(secret)).then(|| (id.to_owned(), secret.to_owned()))
}

async fn login_state(
    state: &WebState,
    ctx: &Ctx,
) -> Result<(LoginState, Option<jpki_store::LoginChallengeRecord>), WebError> {
    let Some((id, _)) = pending_login(ctx) else {
        return Ok((LoginState::None, None));
    };
    let Some(record) = state.inner.store.login_challenge(&id).await? else {
        return Ok((LoginState::None, None));
    };
    let now = state.inner.clock.now();
    let login = if record.collected_at.is_some() {
        LoginState::None
    } else if record.approval.is_some() {
        LoginState::Approved
    } else if record.expires_at <= now {
        LoginState::Expired
    } else {
        LoginState::Pending
    };
    Ok((login, Some(record)))
}

pub async fn login_page(
    State(state): State<WebState>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let lang = ctx.lang;
    let (token, cookie) = ctx.pre_session_token()?;
    let (login, record) = login_state(&state, &ctx).await?;
    let waiting = flag(&query, "waiting");
    let start_form = html! {
        form method="post" action="/login/start" {
            input type="hidden" name="csrf" value=(token.as_str());
            button type="submit" { (lang.t(M::LoginStart)) }
        }
    };
    let body = html! {
        h1 { (lang.t(M::LoginTitle)) }
        @match (login, &record) {
            (LoginState::Pending | LoginState::Approved, Some(record)) => {
                div.login-grid {
                    div {
                        h2 { (lang.t(M::LoginSteps)) }
                        ol {
                            li { (lang.t(M::LoginStep1)) }
                            li { (lang.t(M::LoginStep2)) }
                            li { (lang.t(M::LoginStep3)) }
                        }
                        p { (lang.t(M::LoginCode)) }
                        p.login-code id="login-code" { (record.code) }
                        p.hint { (lang.t(M::LoginExpiresAt)) ": " (jst(record.expires_at)) }
                        p.hint { (lang.t(M::LoginCliHint)) }
                        pre.cli { code { "jpki phone login phone.json --code " (record.code) } }
                    }
                    div {
                        img.qr src="/login/qr.svg" width="240" height="240"
                            alt=(format!("{} ({})", lang.t(M::LoginQrAlt), record.code));
                    }
                }
                @let approved = login == LoginState::Approved;
                div.notice role="status" aria-live="polite" id="login-status"
                    data-approved=(lang.t(M::LoginApproved)) data-expired=(lang.t(M::LoginExpired)) {
                    @if approved {
                        p { (lang.t(M::LoginApproved)) }
                    } @else if waiting {
                        p { (lang.t(M::LoginNotYet)) }
                    } @else {
                        p { (lang.t(M::LoginWaiting)) }
                    }
                }
                form id="complete-form" method="post" action="/login/complete"
                    data-state=(login.as_str()) {
                    input type="hidden" name="csrf" value=(token.as_str());
                    button type="submit" {
                        (lang.t(if approved { M::LoginContinue } else { M::LoginCheck }))
                    }
                }
            }
            (LoginState::Expired, _) => {
                div.notice.warning role="status" { p { (lang.t(M::LoginExpired)) } }
                (start_form)
            }
            _ => {
                p { (lang.t(M::LoginStartHint)) }
                (start_form)
            }
        }
    };
    let head = Head {
        script: Some("/static/login.js"),
        refresh_without_script: (login == LoginState::Pending).then_some(10),
    };
    let markup = page_with(
        lang,
        lang.t(M::LoginTitle),
        &Nav::Public,
        Some(&ctx.here),
        &head,
        body,
    );
    Ok(html_page(markup, &cookie.into_iter().collect::<Vec<_>>()))
}

/// `POST /login/start`: a new login challenge for this browser.
pub async fn login_start(
    State(state): State<WebState>,
    PreSessionForm { ctx, .. }: PreSessionForm<TokenOnly>,
) -> Result<Response, WebError> {
    let inner = &state.inner;
    let now = inner.clock.now();
    inner
        .citizen_login
        .take(&format!("ip:{}", ctx.client_ip), now)
        .map_err(|retry_after| WebError::RateLimited { retry_after })?;
    let created = inner.relying.create_login().await?;
    let expires_at = time::OffsetDateTime::parse(
        &created.expires_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|error| WebError::Internal(format!("challenge expiry: {error}")))?;
    let cookie = set_cookie(
        LOGIN_COOKIE,
        &format!("{}.{}", created.challenge_id, created.browser_secret),
        SameSite::Lax,
        Some((expires_at - now).whole_seconds()),
    );
    Ok(see_other("/login", &[cookie]))
}

/// `GET /login/status`: `{"state": "none" | "pending" | "approved" | "expired"}` for
/// the login page's script.
pub async fn login_status(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let (login, _) = login_state(&state, &ctx).await?;
    Ok(axum::Json(serde_json::json!({ "state": login.as_str() })).into_response())
}

/// `GET /login/qr.svg`: the QR code of this browser's pending login code.
pub async fn login_qr(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let (login, record) = login_state(&state, &ctx).await?;
    let record = match (login, record) {
        (LoginState::Pending | LoginState::Approved, Some(record)) => record,
        _ => return Err(WebError::NotFound),
    };
    let origin = state
        .inner
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| request_origin(&ctx.headers));
    let image = qr::svg(&qr::login_url(&origin, &record.code))?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        image,
    )
        .into_response())
}

/// `POST /login/complete`: the session of an approved login.
pub async fn login_complete(
    State(state): State<WebState>,
    PreSessionForm { ctx, .. }: PreSessionForm<TokenOnly>,
) -> Result<Response, WebError> {
    let inner = &state.inner;
    let Some((id, secret)) = pending_login(&ctx) else {
        return Ok(see_other("/login", &[]));
    };
    let (login, _) = login_state(&state, &ctx).await?;
    match login {
        LoginState::Approved => {}
        LoginState::Pending => return Ok(see_other("/login?waiting=1", &[])),
        LoginState::None | LoginState::Expired => {
            return Ok(see_other("/login", &[clear_cookie(LOGIN_COOKIE)]));
        }
    }
    let session = inner.relying.collect_session(&id, &secret).await?;
    let now = inner.clock.now();
    // Logging in again (to revoke, say) ends the session this browser had.
    if let Some(old) = ctx
        .cookies
        .get(CITIZEN_COOKIE)
        .and_then(|text| jpki_api::decode_token(text).ok())
    {
        inner
            .store
            .revoke_session(&jpki_crypto::sha256(&old), now)
            .await?;
    }
    let expires_at = time::OffsetDateTime::parse(
        &session.expires_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|error| WebError::Internal(format!("session expiry: {error}")))?;
    Ok(see_other(
        "/dashboard",
        &[
            set_cookie(
                CITIZEN_COOKIE,
                &session.session_token,
                SameSite::Lax,
                Some((expires_at - now).whole_seconds()),
            ),
            clear_cookie(LOGIN_COOKIE),
        ],
    ))
}

/// `POST /logout`: ends the session.
pub async fn logout(
    State(state): State<WebState>,
    CitizenForm { citizen, .. }: CitizenForm<TokenOnly>,
) -> Result<Response, WebError> {
    state
        .inner
        .store
        .revoke_session(&citizen.token_hash, state.inner.clock.now())
        .await?;
    Ok(see_other("/?logged_out=1", &[clear_cookie(CITIZEN_COOKIE)]))
}

// ------------------------------------------------------------------ dashboard

/// A certificate's status as a badge (shape and text), as both the citizen's and the
/// operator's certificate tables show it.
pub(crate) fn certificate_badge(
    lang: Lang,
    certificate: &CertificateRecord,
    now: time::OffsetDateTime,
) -> Markup {
    let expired = certificate.not_after <= now;
    let text = status_label(lang, &certificate.status, expired);
    let (class, symbol) = match &certificate.status {
        CertificateStatus::Revoked { .. } => ("revoked", "&#x2716;"),
        _ if expired => ("expired", "&#x2716;"),
        CertificateStatus::Active => ("active", "&#x25CF;"),
        CertificateStatus::Held { .. } => ("held", "&#x25B2;"),
        CertificateStatus::Pending => ("pending", "&#x25CB;"),
    };
    badge(class, symbol, text)
}

/// The badge, with when (and why) the certificate was revoked or held.
fn status_badge(lang: Lang, certificate: &CertificateRecord, now: time::OffsetDateTime) -> Markup {
    html! {
        (certificate_badge(lang, certificate, now))
        @match &certificate.status {
            CertificateStatus::Revoked { at, reason } => {
                br; span.hint { (jst(*at)) " — " (reason_label(lang, *reason)) }
            }
            CertificateStatus::Held { since } => {
                br; span.hint { (jst(*since)) }
            }
            _ => {}
        }
    }
}

pub(crate) fn holder_text(certificate: &CertificateRecord) -> &str {
    match &certificate.holder {
        Holder::Card(card) => card,
        Holder::Device(device) => device,
    }
}

/// Whether the citizen may revoke this certificate here: a phone certificate of theirs
/// that is not revoked yet.
fn revocable(citizen: &Citizen, certificate: &CertificateRecord) -> bool {
    certificate.resident_id == citizen.resident.id
        && certificate.kind.medium == Medium::Phone
        && is_live(&certificate.status)
}

fn revoke_path(certificate: &CertificateRecord) -> String {
    format!(
        "/certificates/{}/{}/revoke",
        crate::layout::encode_component(&certificate.issuer_name),
        certificate.serial.to_hex()
    )
}

pub async fn dashboard(
    State(state): State<WebState>,
    citizen: Citizen,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let inner = &state.inner;
    let lang = citizen.ctx.lang;
    let now = inner.clock.now();
    let mut certificates = inner
        .store
        .certificates_of_resident(citizen.resident.id)
        .await?;
    // Newest first; the live ones before the revoked.
    certificates.sort_by(|a, b| {
        (!is_live(&a.status), b.issued_at).cmp(&(!is_live(&b.status), a.issued_at))
    });
    let body = html! {
        h1 { (lang.t(M::CertificatesTitle)) }
        @if flag(&query, "revoked") {
            div.notice.success role="status" { p { (lang.t(M::RevokeDone)) } }
        }
        p.hint { (lang.t(M::SessionUntil)) ": " (jst(citizen.session.expires_at)) }
        @if certificates.is_empty() {
            p { (lang.t(M::NoCertificates)) }
        } @else {
            table id="certificates" {
                caption { (lang.t(M::CertificatesCaption)) }
                (column_heads(lang, &[M::ColumnKind, M::ColumnMedium, M::ColumnStatus, M::ColumnExpiry, M::ColumnDevice, M::ColumnSerial, M::ColumnActions]))
                tbody {
                    @for certificate in &certificates {
                        tr data-kind=(certificate.kind.as_str()) data-status=(certificate.status.label()) {
                            th scope="row" { (purpose_label(lang, certificate.kind)) }
                            td { (medium_label(lang, certificate.kind)) }
                            td { (status_badge(lang, certificate, now)) }
                            td { (jst(certificate.not_after)) }
                            td.mono { (holder_text(certificate)) }
                            td.serial { (certificate.serial.to_hex()) }
                            td {
                                @if revocable(&citizen, certificate) {
                                    a href=(revoke_path(certificate)) {
                                        (lang.t(M::Revoke))
                                        span.visually-hidden { " " (purpose_label(lang, certificate.kind)) " " (certificate.serial.to_hex()) }
                                    }
                                    @if matches!(certificate.status, CertificateStatus::Held { .. }) {
                                        p.hint { (lang.t(M::LiftOnPhone)) }
                                    }
                                } @else if certificate.kind.medium == Medium::Card && is_live(&certificate.status) {
                                    span.hint { (lang.t(M::CardAtCounter)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (lang.t(M::GuideTitle)) }
        p { (lang.t(M::GuideLost)) }
        p { (lang.t(M::GuideFound)) }
        p {
            a href="/history" { (lang.t(M::History)) }
            " · "
            a href="/applications" { (lang.t(M::Applications)) }
        }
    };
    let markup = citizen_page(
        &citizen,
        lang.t(M::CertificatesTitle),
        CitizenPage::Dashboard,
        body,
    );
    Ok(html_page(markup, &[]))
}

// ------------------------------------------------------------------ revocation

/// The certificate named in the path, if it is the citizen's.
async fn own_certificate(
    state: &WebState,
    citizen: &Citizen,
    issuer: &str,
    serial: &str,
) -> Result<CertificateRecord, WebError> {
    let serial = SerialNumber::from_hex(serial).map_err(|_| WebError::NotFound)?;
    state
        .inner
        .store
        .certificate(issuer, &serial)
        .await?
        .filter(|certificate| certificate.resident_id == citizen.resident.id)
        .ok_or(WebError::NotFound)
}

/// What a revocation with `lost` would change: the certificate, or (lost or stolen)
/// every live certificate on the same phone.
async fn revocation_targets(
    state: &WebState,
    certificate: &CertificateRecord,
    lost: bool,
) -> Result<Vec<CertificateRecord>, WebError> {
    if !lost {
        return Ok(vec![certificate.clone()]);
    }
    Ok(state
        .inner
        .store
        .certificates_of_holder(&certificate.holder)
        .await?
        .into_iter()
        .filter(|other| other.resident_id == certificate.resident_id && is_live(&other.status))
        .collect())
}

fn recent_login(state: &WebState, citizen: &Citizen) -> bool {
    citizen.session.created_at + state.inner.config.reauthentication > state.inner.clock.now()
}

pub async fn revoke_page(
    State(state): State<WebState>,
    citizen: Citizen,
    Path((issuer, serial)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let lang = citizen.ctx.lang;
    let certificate = own_certificate(&state, &citizen, &issuer, &serial).await?;
    let now = state.inner.clock.now();
    let (token, cookie) = citizen.ctx.pre_session_token()?;
    let body = html! {
        h1 { (lang.t(M::RevokeTitle)) }
        dl.facts {
            dt { (lang.t(M::ColumnKind)) }
            dd { (purpose_label(lang, certificate.kind)) " (" (medium_label(lang, certificate.kind)) ")" }
            dt { (lang.t(M::ColumnStatus)) }
            dd { (status_badge(lang, &certificate, now)) }
            dt { (lang.t(M::ColumnDevice)) }
            dd.mono { (holder_text(&certificate)) }
            dt { (lang.t(M::ColumnSerial)) }
            dd.mono { (certificate.serial.to_hex()) }
            dt { (lang.t(M::ColumnExpiry)) }
            dd { (jst(certificate.not_after)) }
        }
        @if !revocable(&citizen, &certificate) {
            div.notice.warning role="status" { p { (lang.t(M::RevokeNotPossible)) } }
            p { a href="/dashboard" { (lang.t(M::Dashboard)) } }
        } @else if !recent_login(&state, &citizen) {
            div.notice.warning role="status" { p { (lang.t(M::RevokeReauth)) } }
            form method="post" action="/login/start" {
                input type="hidden" name="csrf" value=(token.as_str());
                button type="submit" { (lang.t(M::LoginAgain)) }
            }
        } @else {
            div.notice.warning role="note" { p { (lang.t(M::RevokeWarning)) } }
            form method="post" action=(revoke_path(&certificate)) {
                input type="hidden" name="csrf" value=(citizen.csrf.as_str());
                fieldset {
                    legend { (lang.t(M::RevokeReason)) }
                    div.check {
                        input type="radio" name="reason" value="unneeded" id="reason-unneeded" checked;
                        " "
                        label for="reason-unneeded" { (lang.t(M::RevokeReasonUnneeded)) }
                    }
                    div.check {
                        input type="radio" name="reason" value="lost" id="reason-lost";
                        " "
                        label for="reason-lost" { (lang.t(M::RevokeReasonLost)) }
                    }
                }
                div.check {
                    input type="checkbox" name="confirm" value="yes" id="confirm" required;
                    " "
                    label for="confirm" { (lang.t(M::RevokeConfirm)) }
                }
                div.actions {
                    button.danger type="submit" { (lang.t(M::RevokeSubmit)) }
                    a.button.secondary href="/dashboard" { (lang.t(M::RevokeCancel)) }
                }
            }
        }
    };
    let markup = citizen_page(&citizen, lang.t(M::RevokeTitle), CitizenPage::Other, body);
    Ok(html_page(markup, &cookie.into_iter().collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /certificates/{issuer}/{serial}/revoke`: revokes through the lifecycle (the
/// state machine, one transaction with the history and audit, OCSP told at once).
pub async fn revoke(
    State(state): State<WebState>,
    Path((issuer, serial)): Path<(String, String)>,
    CitizenForm { citizen, form }: CitizenForm<RevokeForm>,
) -> Result<Response, WebError> {
    let inner = &state.inner;
    let certificate = own_certificate(&state, &citizen, &issuer, &serial).await?;
    if !revocable(&citizen, &certificate) {
        return Err(WebError::BadInput(
            "only a phone certificate that is not revoked can be revoked here".into(),
        ));
    }
    if form.confirm != "yes" {
        return Err(WebError::BadInput(
            "the confirmation box was not ticked".into(),
        ));
    }
    let lost = match form.reason.as_str() {
        "unneeded" => false,
        "lost" => true,
        other => return Err(WebError::BadInput(format!("reason: unknown {other:?}"))),
    };
    if !recent_login(&state, &citizen) {
        return Ok(see_other(&revoke_path(&certificate), &[]));
    }
    let Holder::Device(device) = certificate.holder.clone() else {
        return Err(WebError::BadInput("not a phone certificate".into()));
    };
    let reason = if lost {
        RevocationReason::KeyCompromise
    } else {
        RevocationReason::CessationOfOperation
    };
    let mut plan = Plan::new(
        citizen.resident.id,
        format!("citizen:{}", citizen.resident.id.0),
        "portal.revoke",
        "revoked",
    );
    plan.device = Some(device.clone());
    plan.detail = serde_json::json!({
        "via": "portal",
        "reason": reason.as_str(),
    });
    let targets = revocation_targets(&state, &certificate, lost).await?;
    let labels: Vec<String> = targets
        .iter()
        .map(jpki_authority::lifecycle::certificate_label)
        .collect();
    for target in targets {
        plan = plan.change(target, Transition::Revoke(reason));
    }
    if lost {
        // The key is on a phone out of the person's hands: the phone is told to wipe.
        plan.device_states
            .push((device.clone(), DeviceState::Superseded));
        plan.events.push(NewDeviceEvent {
            device_id: device,
            kind: "wipe".into(),
            payload: serde_json::json!({
                "reason": "revoked_by_owner",
                "replaced_by_device": serde_json::Value::Null,
                "certificates": labels,
            }),
        });
    }
    Lifecycle::new(
        inner.store.clone(),
        inner.clock.clone(),
        inner.notifier.clone(),
    )
    .apply(plan)
    .await
    .map_err(|error| WebError::Service(error.into()))?;
    Ok(see_other("/dashboard?revoked=1", &[]))
}

// ------------------------------------------------------------------ history

pub(crate) fn history_lines(lang: Lang, records: &[jpki_store::UsageRecord]) -> Vec<Line> {
    records
        .iter()
        .map(|record| Line::new(lang, record))
        .collect()
}

pub async fn history_page(
    State(state): State<WebState>,
    citizen: Citizen,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let inner = &state.inner;
    let lang = citizen.ctx.lang;
    let params: HistoryParams = parse_query(query)?;
    let filter = HistoryQuery::parse(&params)?;
    let limit = u32::try_from(inner.config.page_size).unwrap_or(50);
    let page_of = inner
        .store
        .usage_page(citizen.resident.id, &filter.store_query(limit))
        .await?;
    let lines = history_lines(lang, &page_of.records);
    let body = html! {
        h1 { (lang.t(M::HistoryTitle)) }
        p { (lang.t(M::HistoryIntro)) }
        form method="get" action="/history" {
            fieldset {
                legend { (lang.t(M::FilterTitle)) }
                div.filters {
                    div {
                        label for="from" { (lang.t(M::FilterFrom)) }
                        input type="date" id="from" name="from" aria-describedby="date-hint"
                            value=[filter.from.map(|day| day.to_string())];
                    }
                    div {
                        label for="to" { (lang.t(M::FilterTo)) }
                        input type="date" id="to" name="to" aria-describedby="date-hint"
                            value=[filter.to.map(|day| day.to_string())];
                    }
                    div {
                        label for="kind" { (lang.t(M::FilterKind)) }
                        select id="kind" name="kind" {
                            option value="" selected[filter.kind.is_none()] { (lang.t(M::KindAll)) }
                            @for kind in UsageKind::ALL {
                                option value=(kind.as_str()) selected[filter.kind == Some(kind)] {
                                    (kind_label(lang, Some(kind)))
                                }
                            }
                        }
                    }
                    div.actions {
                        button type="submit" { (lang.t(M::FilterApply)) }
                        a href="/history" { (lang.t(M::FilterReset)) }
                    }
                }
                p.hint id="date-hint" { (lang.t(M::FilterDateHint)) }
            }
        }
        p.actions {
            (lang.t(M::Export)) ": "
            a id="export-csv" href=(filter.link("/history.csv", None)) download { (lang.t(M::ExportCsv)) }
            a id="export-json" href=(filter.link("/history.json", None)) download { (lang.t(M::ExportJson)) }
            @if inner.log.is_some() {
                a id="export-bundle" href="/history/bundle.json" download { (lang.t(M::VerifiableBundle)) }
            }
        }
        @if inner.log.is_some() {
            p.hint { (lang.t(M::VerifiableBundleHint)) }
        }
        @if lines.is_empty() {
            p { (lang.t(M::HistoryEmpty)) }
        } @else {
            (history::table(lang, lang.t(M::HistoryCaption), &lines))
        }
        nav.pager aria-label=(lang.t(M::Pagination)) {
            @if filter.before.is_some() {
                a href=(filter.link("/history", None)) { (lang.t(M::PagePrevious)) }
            }
            @if let Some(next) = page_of.next_before_id {
                a href=(filter.link("/history", Some(next))) rel="next" { (lang.t(M::PageNext)) }
            }
        }
    };
    let markup = citizen_page(
        &citizen,
        lang.t(M::HistoryTitle),
        CitizenPage::History,
        body,
    );
    Ok(html_page(markup, &[]))
}

/// Every line matching the filter (not just a page), newest first.
async fn all_lines(
    state: &WebState,
    citizen: &Citizen,
    filter: &HistoryQuery,
) -> Result<Vec<Line>, WebError> {
    let mut query = filter.store_query(jpki_store::MAX_USAGE_PAGE);
    query.before_id = None;
    let mut lines = Vec::new();
    loop {
        let page_of = state
            .inner
            .store
            .usage_page(citizen.resident.id, &query)
            .await?;
        lines.extend(history_lines(citizen.ctx.lang, &page_of.records));
        match page_of.next_before_id {
            Some(next) if lines.len() < EXPORT_MAX_LINES => query.before_id = Some(next),
            _ => break,
        }
    }
    lines.truncate(EXPORT_MAX_LINES);
    Ok(lines)
}

fn download(content_type: &'static str, name: String, body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn export_name(state: &WebState, extension: &str) -> String {
    format!(
        "jpki-history-{}.{extension}",
        jst_date(state.inner.clock.now()).replace('-', "")
    )
}

pub async fn history_csv(
    State(state): State<WebState>,
    citizen: Citizen,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let params: HistoryParams = parse_query(query)?;
    let filter = HistoryQuery::parse(&params)?;
    let lines = all_lines(&state, &citizen, &filter).await?;
    Ok(download(
        "text/csv; charset=utf-8",
        export_name(&state, "csv"),
        history::csv(citizen.ctx.lang, &lines),
    ))
}

pub async fn history_json(
    State(state): State<WebState>,
    citizen: Citizen,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let params: HistoryParams = parse_query(query)?;
    let filter = HistoryQuery::parse(&params)?;
    let lines = all_lines(&state, &citizen, &filter).await?;
    let document = history::json(&filter, state.inner.clock.now(), &lines);
    let body = serde_json::to_vec_pretty(&document)
        .map_err(|error| WebError::Internal(format!("JSON export: {error}")))?;
    Ok(download(
        "application/json",
        export_name(&state, "json"),
        body,
    ))
}

/// `GET /history/bundle.json`: the person's whole history with the log's proofs
/// (`UsageLog::history_bundle`), to check offline with `jpki log verify`.
pub async fn history_bundle(
    State(state): State<WebState>,
    citizen: Citizen,
) -> Result<Response, WebError> {
    let log = state.inner.log.clone().ok_or(WebError::NotFound)?;
    let bundle = log
        .history_bundle(citizen.resident.id, None)
        .await
        .map_err(|error| match error {
            jpki_authority::usage_log::UsageLogError::Store(store) => WebError::Store(store),
            other => WebError::Internal(format!("history bundle: {other}")),
        })?;
    let body = serde_json::to_vec_pretty(&bundle)
        .map_err(|error| WebError::Internal(format!("history bundle: {error}")))?;
    Ok(download(
        "application/json",
        format!(
            "jpki-history-bundle-{}.json",
            jst_date(state.inner.clock.now()).replace('-', "")
        ),
        body,
    ))
}

// ------------------------------------------------------------------ applications

fn received(text: &str) -> String {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(jst)
        .unwrap_or_else(|_| text.to_owned())
}

fn kind_text(lang: Lang, kind: &str) -> String {
    kind.parse::<jpki_model::CertificateKind>()
        .map(|kind| lang.pick(kind.label_ja(), kind.label_en()).to_owned())
        .unwrap_or_else(|_| kind.to_owned())
}

fn recheck(lang: Lang, valid: bool) -> Markup {
    if valid {
        badge("active", "&#x25CF;", lang.t(M::RecheckValid))
    } else {
        badge("revoked", "&#x2716;", lang.t(M::RecheckInvalid))
    }
}

pub async fn applications(
    State(state): State<WebState>,
    citizen: Citizen,
) -> Result<Response, WebError> {
    let lang = citizen.ctx.lang;
    let submissions = state
        .inner
        .relying
        .submissions_of(citizen.resident.id)
        .await?;
    let body = html! {
        h1 { (lang.t(M::ApplicationsTitle)) }
        @if submissions.is_empty() {
            p { (lang.t(M::ApplicationsEmpty)) }
        } @else {
            table id="applications" {
                caption { (lang.t(M::ApplicationsCaption)) }
                (column_heads(lang, &[M::ColumnReceipt, M::ColumnTitle, M::ColumnReceived, M::ColumnCertificate, M::ColumnCheck]))
                tbody {
                    @for submission in submissions.iter().rev() {
                        tr {
                            th scope="row" {
                                a href=(format!("/applications/{}", crate::layout::encode_component(&submission.receipt.receipt_id))) {
                                    code { (submission.receipt.receipt_id) }
                                }
                            }
                            td { (submission.receipt.title) }
                            td { (received(&submission.receipt.received_at)) }
                            td { (kind_text(lang, &submission.receipt.certificate_kind)) }
                            td { (recheck(lang, submission.recheck_valid)) }
                        }
                    }
                }
            }
        }
    };
    let markup = citizen_page(
        &citizen,
        lang.t(M::ApplicationsTitle),
        CitizenPage::Applications,
        body,
    );
    Ok(html_page(markup, &[]))
}

pub async fn application(
    State(state): State<WebState>,
    citizen: Citizen,
    Path(receipt): Path<String>,
) -> Result<Response, WebError> {
    let lang = citizen.ctx.lang;
    let view = state
        .inner
        .relying
        .submission(citizen.resident.id, &receipt)
        .await
        .map_err(|error| match error.code {
            jpki_api::ErrorCode::SubmissionNotFound => WebError::NotFound,
            _ => WebError::Service(error),
        })?;
    let receipt = &view.receipt;
    let body = html! {
        h1 { (lang.t(M::ReceiptTitle)) }
        dl.facts {
            dt { (lang.t(M::ColumnReceipt)) } dd.mono { (receipt.receipt_id) }
            dt { (lang.t(M::ColumnTitle)) } dd { (receipt.title) }
            dt { (lang.t(M::ColumnReceived)) } dd { (received(&receipt.received_at)) }
            dt { (lang.t(M::ColumnSigner)) } dd { (receipt.signer_name) }
            dt { (lang.t(M::ColumnCertificate)) } dd { (kind_text(lang, &receipt.certificate_kind)) " " code { (receipt.certificate_serial) } }
            dt { (lang.t(M::ColumnContentDigest)) } dd.mono { (receipt.content_sha256) }
            dt { (lang.t(M::ColumnEvidence)) } dd { (receipt.evidence.to_uppercase()) }
            dt { (lang.t(M::ColumnCheck)) } dd { (recheck(lang, view.recheck_valid)) }
        }
        p { a href="/applications" { (lang.t(M::BackToApplications)) } }
    };
    let markup = citizen_page(
        &citizen,
        lang.t(M::ReceiptTitle),
        CitizenPage::Applications,
        body,
    );
    Ok(html_page(markup, &[]))
}
