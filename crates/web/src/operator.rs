//! The operator console (`/operator`): password login, finding a person, their
//! certificates and history, and suspension.
//!
//! Every decision is `HotlineService`'s (`jpki-authority`): the password check
//! (argon2id, audited), the roles of each action (audited when refused), the search and
//! look-up (audited with the operator's name), and the suspension (the lifecycle's plan:
//! state machine, OCSP/CRLs, usage history and audit entry in one transaction). This
//! module adds the console's own session (`__Host-jpki-operator`, SameSite=Strict,
//! separate from the citizens') and the login rate limits.
//!
//! | action | roles |
//! |---|---|
//! | log in to the console | `hotline`, `counter`, `admin`, `auditor` |
//! | search, open a person (certificates, history) | the same |
//! | suspend phone or card certificates | `hotline`, `admin` |

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jpki_api::SuspensionScope;
use jpki_authority::hotline::{LOOKUP_ROLES, PersonQuery, SUSPEND_ROLES};
use jpki_crypto::{SecretString, random_bytes, sha256};
use jpki_model::BirthDate;
use jpki_store::{
    CertificateStore, NewOperatorSession, OperatorStore, ResidentId, UsageQuery, UsageStore,
};
use maud::{Markup, html};
use serde::Deserialize;

use crate::WebState;
use crate::citizen::{
    certificate_badge, history_lines, holder_text, html_page, parse_query, see_other,
};
use crate::error::WebError;
use crate::i18n::{Lang, M, jst, medium_label, purpose_label};
use crate::layout::{Nav, column_heads, page, role_label};
use crate::security::{OPERATOR_COOKIE, SameSite, clear_cookie, set_cookie};
use crate::session::{Ctx, Operator, OperatorForm, PreSessionForm, TokenOnly};

/// History lines shown on a person's page.
const PERSON_HISTORY_LINES: u32 = 50;

/// A page of the logged-in operator's console: their navigation.
fn operator_page(operator: &Operator, title: &str, body: Markup) -> Markup {
    let nav = Nav::Operator {
        name: &operator.account.name,
        role: operator.account.role,
        csrf: operator.csrf.as_str(),
    };
    page(
        operator.ctx.lang,
        title,
        &nav,
        Some(&operator.ctx.here),
        body,
    )
}

fn may_suspend(operator: &Operator) -> bool {
    SUSPEND_ROLES.contains(&operator.account.role)
}

// ------------------------------------------------------------------ login

fn login_form(ctx: &Ctx, failed: bool) -> Result<Response, WebError> {
    let lang = ctx.lang;
    let (token, cookie) = ctx.pre_session_token()?;
    let body = html! {
        h1 { (lang.t(M::OperatorLoginTitle)) }
        @if failed {
            div.notice.error role="alert" { p { (lang.t(M::OperatorLoginFailed)) } }
        }
        form method="post" action="/operator/login" {
            input type="hidden" name="csrf" value=(token.as_str());
            label for="name" { (lang.t(M::OperatorName)) }
            input type="text" id="name" name="name" autocomplete="username" required
                autocapitalize="none" spellcheck="false";
            label for="password" { (lang.t(M::OperatorPassword)) }
            input type="password" id="password" name="password" autocomplete="current-password" required;
            div.actions { button type="submit" { (lang.t(M::Login)) } }
        }
    };
    let markup = page(
        lang,
        lang.t(M::OperatorLoginTitle),
        &Nav::OperatorLogin,
        Some("/operator"),
        body,
    );
    let mut response = html_page(markup, &cookie.into_iter().collect::<Vec<_>>());
    if failed {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    }
    Ok(response)
}

fn search_form(lang: Lang) -> Markup {
    html! {
        h1 { (lang.t(M::SearchTitle)) }
        form method="get" action="/operator/search" {
            fieldset {
                legend { (lang.t(M::SearchByResident)) }
                label for="resident_id" { (lang.t(M::ResidentNumber)) }
                input type="number" id="resident_id" name="resident_id" min="1";
                div.actions { button type="submit" { (lang.t(M::Search)) } }
            }
        }
        form method="get" action="/operator/search" {
            fieldset {
                legend { (lang.t(M::SearchByName)) }
                label for="person-name" { (lang.t(M::PersonName)) }
                p.hint id="name-hint" { (lang.t(M::SearchHint)) }
                input type="text" id="person-name" name="name" aria-describedby="name-hint" required;
                label for="birth_date" { (lang.t(M::BirthDate)) }
                input type="date" id="birth_date" name="birth_date" required;
                div.actions { button type="submit" { (lang.t(M::Search)) } }
            }
        }
    }
}

/// `GET /operator`: the search page, or the login form.
pub async fn console(State(state): State<WebState>, ctx: Ctx) -> Result<Response, WebError> {
    let operator = match Operator::load(&state, ctx.clone()).await {
        Ok(operator) => operator,
        Err(WebError::OperatorLoginRequired) => return login_form(&ctx, false),
        Err(other) => return Err(other),
    };
    let lang = operator.ctx.lang;
    let markup = operator_page(&operator, lang.t(M::SearchTitle), search_form(lang));
    Ok(html_page(markup, &[]))
}

/// The login form's fields; the password never reaches `Debug`.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// `POST /operator/login`: rate-limited per client address (every attempt) and per
/// account name (failures), then the password check.
pub async fn login(
    State(state): State<WebState>,
    PreSessionForm { ctx, form }: PreSessionForm<LoginForm>,
) -> Result<Response, WebError> {
    let inner = &state.inner;
    let now = inner.clock.now();
    let name = form.name.trim().to_owned();
    let account_key = format!("account:{}", name.to_ascii_lowercase());
    let limited = |retry_after| WebError::RateLimited { retry_after };
    inner
        .operator_ip
        .take(&format!("ip:{}", ctx.client_ip), now)
        .map_err(limited)?;
    inner
        .operator_account
        .check(&account_key, now)
        .map_err(limited)?;
    let password = SecretString::from(form.password);
    let account = match inner.hotline.authenticate_password(&name, password).await {
        Ok(account) => account,
        Err(error) if error.code == jpki_api::ErrorCode::OperatorLoginFailed => {
            let _ = inner.operator_account.take(&account_key, now);
            return login_form(&ctx, true);
        }
        Err(error) => return Err(error.into()),
    };
    if !LOOKUP_ROLES.contains(&account.role) {
        return Err(WebError::Forbidden {
            role: account.role.as_str().to_owned(),
            action: "use the operator console",
        });
    }
    let token = random_bytes(32).map_err(|error| WebError::Internal(error.to_string()))?;
    let lifetime = inner.config.operator_session_lifetime;
    inner
        .store
        .create_operator_session(&NewOperatorSession {
            token_hash: sha256(&token),
            account_name: account.name.clone(),
            created_at: now,
            expires_at: now + lifetime,
        })
        .await?;
    Ok(see_other(
        "/operator",
        &[set_cookie(
            OPERATOR_COOKIE,
            &jpki_api::encode_token(&token),
            SameSite::Strict,
            Some(lifetime.whole_seconds()),
        )],
    ))
}

/// `POST /operator/logout`.
pub async fn logout(
    State(state): State<WebState>,
    OperatorForm { operator, .. }: OperatorForm<TokenOnly>,
) -> Result<Response, WebError> {
    state
        .inner
        .store
        .revoke_operator_session(&operator.token_hash, state.inner.clock.now())
        .await?;
    Ok(see_other("/operator", &[clear_cookie(OPERATOR_COOKIE)]))
}

// ------------------------------------------------------------------ search

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    resident_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birth_date: String,
}

fn person_query(params: &SearchParams) -> Result<PersonQuery, WebError> {
    let id = params.resident_id.trim();
    if !id.is_empty() {
        return id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(|id| PersonQuery::Resident(ResidentId(id)))
            .ok_or_else(|| WebError::BadInput("resident number: a positive number".into()));
    }
    let name = params.name.trim();
    if name.is_empty() || params.birth_date.trim().is_empty() {
        return Err(WebError::BadInput(
            "give a resident number, or a name and a date of birth".into(),
        ));
    }
    let date_of_birth = BirthDate::parse(params.birth_date.trim())
        .map_err(|error| WebError::BadInput(format!("date of birth: {error}")))?;
    Ok(PersonQuery::NameAndBirthDate {
        name: name.to_owned(),
        date_of_birth,
    })
}

/// `GET /operator/search`: every matching person (audited).
pub async fn search(
    State(state): State<WebState>,
    operator: Operator,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let lang = operator.ctx.lang;
    let params: SearchParams = parse_query(query)?;
    let query = person_query(&params)?;
    let found = state
        .inner
        .hotline
        .search_as(&operator.account, &query)
        .await?;
    let body = html! {
        (search_form(lang))
        h2 { (lang.t(M::SearchResults)) }
        @if found.is_empty() {
            p role="status" { (lang.t(M::SearchNone)) }
        } @else {
            table id="results" {
                caption { (lang.t(M::SearchResults)) }
                (column_heads(lang, &[M::ResidentNumber, M::PersonName, M::BirthDate, M::Address, M::ColumnActions]))
                tbody {
                    @for resident in &found {
                        tr {
                            th scope="row" { (resident.id.0) }
                            td {
                                (resident.basic_info.name())
                                @if resident.is_deceased() { " (" (lang.t(M::Deceased)) ")" }
                            }
                            td { (resident.basic_info.date_of_birth().to_string()) }
                            td { (resident.basic_info.address()) }
                            td {
                                a href=(format!("/operator/residents/{}", resident.id.0)) {
                                    (lang.t(M::Open))
                                    span.visually-hidden { " " (resident.basic_info.name()) }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.hint { (lang.t(M::AuditNotice)) }
    };
    let markup = operator_page(&operator, lang.t(M::SearchResults), body);
    Ok(html_page(markup, &[]))
}

// ------------------------------------------------------------------ a person

fn resident_path(id: &str) -> Result<ResidentId, WebError> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(ResidentId)
        .ok_or(WebError::NotFound)
}

/// `GET /operator/residents/{id}`: the person, their certificates and recent history
/// (audited as a look-up).
pub async fn person(
    State(state): State<WebState>,
    operator: Operator,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let inner = &state.inner;
    let lang = operator.ctx.lang;
    let resident_id = resident_path(&id)?;
    let (resident, _) = inner
        .hotline
        .lookup_as(&operator.account, resident_id)
        .await
        .map_err(|error| match error.code {
            jpki_api::ErrorCode::PersonNotFound => WebError::NotFound,
            _ => WebError::Service(error),
        })?;
    let now = inner.clock.now();
    let mut certificates = inner.store.certificates_of_resident(resident.id).await?;
    certificates.sort_by_key(|certificate| std::cmp::Reverse(certificate.issued_at));
    let history = inner
        .store
        .usage_page(
            resident.id,
            &UsageQuery {
                limit: PERSON_HISTORY_LINES,
                ..UsageQuery::default()
            },
        )
        .await?;
    let lines = history_lines(lang, &history.records);
    let suspended = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == "suspended=1");
    let body = html! {
        h1 { (lang.t(M::PersonTitle)) }
        @if suspended {
            div.notice.success role="status" { p { (lang.t(M::SuspendDone)) } }
        }
        dl.facts {
            dt { (lang.t(M::ResidentNumber)) } dd { (resident.id.0) }
            dt { (lang.t(M::PersonName)) } dd {
                (resident.basic_info.name())
                @if resident.is_deceased() { " (" (lang.t(M::Deceased)) ")" }
            }
            dt { (lang.t(M::BirthDate)) } dd { (resident.basic_info.date_of_birth().to_string()) }
            dt { (lang.t(M::Address)) } dd { (resident.basic_info.address()) }
        }
        h2 { (lang.t(M::Certificates)) }
        table id="certificates" {
            caption { (lang.t(M::Certificates)) }
            (column_heads(lang, &[M::ColumnKind, M::ColumnMedium, M::ColumnStatus, M::ColumnExpiry, M::ColumnDevice, M::ColumnSerial]))
            tbody {
                @for certificate in &certificates {
                    tr data-kind=(certificate.kind.as_str()) data-status=(certificate.status.label()) {
                        th scope="row" { (purpose_label(lang, certificate.kind)) }
                        td { (medium_label(lang, certificate.kind)) }
                        td { (certificate_badge(lang, certificate, now)) }
                        td { (jst(certificate.not_after)) }
                        td.mono { (holder_text(certificate)) }
                        td.serial { (certificate.serial.to_hex()) }
                    }
                }
            }
        }
        h2 { (lang.t(M::SuspendTitle)) }
        @if may_suspend(&operator) {
            p { (lang.t(M::SuspendIntro)) }
            form method="post" action=(format!("/operator/residents/{}/suspend", resident.id.0)) {
                input type="hidden" name="csrf" value=(operator.csrf.as_str());
                fieldset {
                    legend { (lang.t(M::SuspendScope)) }
                    div.check {
                        input type="radio" name="scope" value="phone" id="scope-phone" checked;
                        " " label for="scope-phone" { (lang.t(M::ScopePhone)) }
                    }
                    div.check {
                        input type="radio" name="scope" value="card" id="scope-card";
                        " " label for="scope-card" { (lang.t(M::ScopeCard)) }
                    }
                    div.check {
                        input type="radio" name="scope" value="all" id="scope-all";
                        " " label for="scope-all" { (lang.t(M::ScopeAll)) }
                    }
                }
                label for="note" { (lang.t(M::SuspendNote)) }
                input type="text" id="note" name="note" maxlength="200";
                div.actions { button.danger type="submit" id="suspend" { (lang.t(M::SuspendSubmit)) } }
            }
        } @else {
            div.notice.warning role="note" {
                p { (lang.t(M::SuspendNotAllowed)) }
                p { (lang.t(M::OperatorRole)) ": " (role_label(lang, operator.account.role)) }
            }
        }
        h2 { (lang.t(M::RecentHistory)) }
        @if lines.is_empty() {
            p { (lang.t(M::HistoryEmpty)) }
        } @else {
            (crate::history::table(lang, lang.t(M::RecentHistory), &lines))
        }
        p.hint { (lang.t(M::AuditNotice)) }
    };
    let markup = operator_page(&operator, lang.t(M::PersonTitle), body);
    Ok(html_page(markup, &[]))
}

#[derive(Debug, Deserialize)]
pub struct SuspendForm {
    #[serde(default)]
    scope: String,
    #[serde(default)]
    note: String,
}

/// `POST /operator/residents/{id}/suspend`: the hotline's suspension, by this operator.
pub async fn suspend(
    State(state): State<WebState>,
    Path(id): Path<String>,
    OperatorForm { operator, form }: OperatorForm<SuspendForm>,
) -> Result<Response, WebError> {
    let resident = resident_path(&id)?;
    let scope = match form.scope.as_str() {
        "phone" => SuspensionScope::Phone,
        "card" => SuspensionScope::Card,
        "all" => SuspensionScope::All,
        other => return Err(WebError::BadInput(format!("scope: unknown {other:?}"))),
    };
    let note = form.note.trim();
    if note.chars().count() > 200 {
        return Err(WebError::BadInput("note: at most 200 characters".into()));
    }
    state
        .inner
        .hotline
        .suspend_as(
            &operator.account,
            resident,
            scope,
            (!note.is_empty()).then_some(note),
        )
        .await?;
    Ok(see_other(
        &format!("/operator/residents/{}?suspended=1", resident.0),
        &[],
    )
    .into_response())
}
